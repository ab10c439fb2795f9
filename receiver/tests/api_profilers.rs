//! Continuous profiling as the official Node SDK sends it (captured
//! envelopes under `tests/data/node_continuous`): the profiler's sessions,
//! a session's summary, and a transaction's profile taken from the chunks
//! that cover it.

mod api_support;

use api_support::{get, get_ok, send, server_at};
use receiver::api::types::{ProfileDetail, ProfilerDetail, ProfilersPage};
use serde_json::Value;

const PROFILER: &str = "73c53d24d38b46b1945cc4f1d678fe0e";
const CPU_WORK: &str = "964510414ee549a88e7f9ff351a6f31e";
const SECOND_TX: &str = "28eb7211a68b47f5acf340a16fe85578";
/// Just after the SDK sent them (the fixtures' `sent_at`).
const CAPTURED_AT: f64 = 1_795_974_025.0;

fn fixture(n: u32) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/node_continuous/0{n}.envelope",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn streamed(n: u32) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/node_streamed/0{n}.envelope",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"))
}

#[test]
fn a_transaction_profiled_continuously_is_summarised_from_its_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server_at(&dir.path().join("db.sqlite"), CAPTURED_AT);
    for n in 1..=4 {
        send(&server, &fixture(n));
    }
    // A retried chunk is stored once.
    send(&server, &fixture(2));

    let page: ProfilersPage = parse(get_ok(&server, "/api/0/local/profilers/"));
    assert_eq!(page.profilers.len(), 1, "{page:?}");
    let session = &page.profilers[0];
    assert_eq!(session.profiler_id, PROFILER);
    assert_eq!((session.chunks, session.samples), (2, 136 + 46));
    assert_eq!(session.platform.as_deref(), Some("node"));
    assert_eq!(session.release.as_deref(), Some("demo@1.0.0"));

    let cpu: ProfileDetail = parse(get_ok(
        &server,
        &format!("/api/0/local/profiles/{}/", &CPU_WORK[..8]),
    ));
    assert_eq!(cpu.profile.profiler_id.as_deref(), Some(PROFILER));
    // One chunk covers it, and it was read.
    assert_eq!((cpu.chunks, cpu.chunks_read), (Some(1), Some(1)));
    assert_eq!(cpu.profile.transaction.as_deref(), Some("cpu-work"));
    assert_eq!(cpu.thread_id.as_deref(), Some("0"));
    assert_eq!(cpu.threads[0].name.as_deref(), Some("main"));
    let first = &cpu.functions[0];
    assert_eq!(first.function, "fib", "{:?}", cpu.functions);
    assert!(first.self_ms > 500.0, "{first:?}");
    // Node puts `(root)` under every stack: on the stack all the time.
    let root = cpu
        .functions
        .iter()
        .find(|f| f.function == "(root)")
        .expect("(root)");
    assert_eq!(root.total_ms, cpu.sampled_ms);
    let duration = cpu.profile.duration_ms.expect("duration");
    assert!(
        cpu.sampled_ms <= duration + 20.0,
        "{} > {duration}",
        cpu.sampled_ms
    );

    // The second transaction has the same profiler and its own window:
    // the second chunk's samples, not the first's `fib`.
    let second: ProfileDetail = parse(get_ok(
        &server,
        &format!("/api/0/local/profiles/{SECOND_TX}/"),
    ));
    assert!(second.sampled_ms < 600.0, "{}", second.sampled_ms);
    let fib = second.functions.iter().find(|f| f.function == "fib");
    assert!(
        fib.map_or(0.0, |f| f.self_ms) < first.self_ms,
        "{:?}",
        second.functions
    );

    // The trace's span route says which root has a profile, and whose.
    let root = get_ok(
        &server,
        "/api/0/local/traces/51e79b3c/spans/be9f4d0cb59b45f3/",
    );
    assert_eq!(root["profile"], "continuous", "{root}");
    assert_eq!(root["profilerID"], PROFILER, "{root}");
    let child = get_ok(
        &server,
        "/api/0/local/traces/51e79b3c/spans/9882f6e426a01b93/",
    );
    assert!(child.get("profile").is_none(), "{child}");

    let whole: ProfilerDetail = parse(get_ok(
        &server,
        &format!("/api/0/local/profilers/{}/", &PROFILER[..8]),
    ));
    assert_eq!(whole.chunks_read, 2);
    assert!(whole.sampled_ms > cpu.sampled_ms + second.sampled_ms - 1.0);

    let (status, body) = get(
        &server,
        &format!("/api/0/local/profilers/{PROFILER}/?thread=7"),
    );
    assert_eq!(status, 404, "{body}");
    let (status, body) = get(&server, "/api/0/local/profilers/ffffffff/");
    assert_eq!(status, 404, "{body}");
}

#[test]
fn a_transaction_whose_chunks_have_not_arrived_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server_at(&dir.path().join("db.sqlite"), CAPTURED_AT);
    send(&server, &fixture(1));
    let (status, body) = get(&server, &format!("/api/0/local/profiles/{CPU_WORK}/"));
    assert_eq!(status, 404, "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(PROFILER), "{detail}");
    assert!(detail.contains("covering transaction"), "{detail}");
    let page: ProfilersPage = parse(get_ok(&server, "/api/0/local/profilers/"));
    assert!(page.profilers.is_empty());
}

#[test]
fn a_chunk_without_its_ids_is_kept_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server_at(&dir.path().join("db.sqlite"), CAPTURED_AT);
    let body = b"{}\n{\"type\":\"profile_chunk\",\"platform\":\"node\"}\n{\"version\":\"2\",\"profile\":{\"samples\":[]}}\n";
    send(&server, body);
    let db = rusqlite::Connection::open(dir.path().join("db.sqlite")).expect("open");
    let error: Option<String> = db
        .query_row(
            "SELECT error FROM raw_items WHERE item_type = 'profile_chunk'",
            [],
            |r| r.get(0),
        )
        .expect("kept");
    assert!(
        error.as_deref().is_some_and(|e| e.contains("profiler_id")),
        "{error:?}"
    );
    let page: ProfilersPage = parse(get_ok(&server, "/api/0/local/profilers/"));
    assert!(page.profilers.is_empty());
}

#[test]
fn the_cli_lists_sessions_and_shows_a_session_or_a_transaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server_at(&dir.path().join("db.sqlite"), CAPTURED_AT);
    let run = |args: &[&str]| {
        let o = api_support::receiver_command(&server)
            .args(args)
            .output()
            .expect("run receiver");
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{args:?}: {out}{err}");
        out + &err
    };
    assert!(run(&["profiles", "--continuous"]).contains("no continuous profiles"));
    for n in 1..=4 {
        send(&server, &fixture(n));
    }
    let listed = run(&["profiles", "--continuous"]);
    let row = listed
        .lines()
        .find(|l| l.starts_with(&PROFILER[..8]))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        row.contains(" 2 ") && row.contains(" 182 ") && row.contains("node"),
        "{row}"
    );

    let session = run(&["profile", "--profiler", &PROFILER[..8]]);
    assert!(
        session.starts_with(&format!("continuous profiler {PROFILER}")),
        "{session}"
    );
    assert!(
        session.contains("0 main: 182 samples  (shown)"),
        "{session}"
    );
    assert!(session.contains("fib"), "{session}");

    let tx = run(&["profile", &CPU_WORK[..8], "--limit", "1"]);
    assert!(
        tx.contains(&format!("continuous profiler {}", &PROFILER[..8])),
        "{tx}"
    );
    let functions: Vec<&str> = tx.lines().skip_while(|l| !l.starts_with("SELF")).collect();
    assert_eq!(functions.len(), 2, "{tx}");
    assert!(functions[1].contains("fib"), "{tx}");

    assert!(run(&["event", CPU_WORK]).contains("Profiled: `receiver profile"));
}

/// Node's default span streaming sends no transaction: a segment's root
/// span names the profiler, and its profile is the profiler's samples over
/// the segment's time (`start`/`end`).
#[test]
fn a_streamed_segment_is_summarised_from_its_profilers_window() {
    const STREAMED: &str = "98864f664da44c7a8d9a074c7d202be5";
    // cpu-work's start and end as its root span gives them.
    let (start, end) = ("1795974005.901448", "1795974007.444227");
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server_at(&dir.path().join("db.sqlite"), CAPTURED_AT);
    for n in 1..=4 {
        send(&server, &streamed(n));
    }
    let whole: ProfilerDetail = parse(get_ok(
        &server,
        &format!("/api/0/local/profilers/{STREAMED}/"),
    ));
    assert_eq!(whole.chunks_read, 2);
    assert!(whole.window_start.is_none());
    // The segment's root span names the profiler, whose chunks cover it.
    let segment_root = get_ok(
        &server,
        "/api/0/local/traces/f2040230/spans/9452033af7378bf1/",
    );
    assert_eq!(segment_root["profile"], "continuous", "{segment_root}");
    assert_eq!(segment_root["profilerID"], STREAMED, "{segment_root}");
    let segment: ProfilerDetail = parse(get_ok(
        &server,
        &format!("/api/0/local/profilers/{STREAMED}/?start={start}&end={end}"),
    ));
    assert_eq!(segment.chunks_read, 1, "the second chunk starts after it");
    assert!(segment.window_start.is_some() && segment.window_end.is_some());
    assert_eq!(
        segment.functions[0].function, "fib",
        "{:?}",
        segment.functions
    );
    assert!(
        segment.sampled_ms <= 1543.0 + 20.0,
        "{}",
        segment.sampled_ms
    );
    assert!(segment.sampled_ms < whole.sampled_ms);
    // ISO times work as well; a window the wrong way round is a 400.
    let iso: ProfilerDetail = parse(get_ok(
        &server,
        &format!(
            "/api/0/local/profilers/{}/?start=2026-11-29T17:40:05.901Z&end=2026-11-29T17:40:07.444Z",
            &STREAMED[..8]
        ),
    ));
    assert_eq!(iso.functions[0].function, "fib");
    let (status, body) = get(
        &server,
        &format!("/api/0/local/profilers/{STREAMED}/?start={end}&end={start}"),
    );
    assert_eq!(status, 400, "{body}");

    let out = api_support::receiver_command(&server)
        .args([
            "profile",
            "--profiler",
            &STREAMED[..8],
            "--start",
            start,
            "--end",
            end,
        ])
        .output()
        .expect("run receiver");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("only the samples from"), "{text}");
    assert!(text.contains("fib"), "{text}");
}

/// A prefix that names one transaction with a profile item stays
/// unambiguous when other transactions (without one) share it.
#[test]
fn a_profiled_transactions_prefix_is_not_made_ambiguous_by_others() {
    let server = receiver::TestServer::start();
    let profiled = "abcdef01aaaaaaaaaaaaaaaaaaaaaaaa";
    let other = "abcdef01bbbbbbbbbbbbbbbbbbbbbbbb";
    let now = api_support::now() - 10.0;
    let tx = |id: &str| {
        serde_json::json!({"event_id": id, "type": "transaction", "transaction": "job",
            "start_timestamp": now, "timestamp": now + 0.1,
            "contexts": {"trace": {"trace_id": "0af7651916cd43dd8448eb211c80319c",
                                   "span_id": &id[..16], "op": "task"}}})
    };
    let profile = serde_json::json!({"platform": "python", "version": "1",
        "transactions": [{"id": profiled, "name": "job", "active_thread_id": "1",
                          "relative_start_ns": "0", "relative_end_ns": "100000000"}],
        "profile": {"frames": [{"function": "work"}], "stacks": [[0]],
            "samples": [{"stack_id": 0, "thread_id": "1", "elapsed_since_start_ns": "0"},
                        {"stack_id": 0, "thread_id": "1", "elapsed_since_start_ns": "10000000"}]}});
    send(
        &server,
        format!(
            "{{\"event_id\":\"{profiled}\"}}\n{{\"type\":\"transaction\"}}\n{}\n{{\"type\":\"profile\"}}\n{profile}\n",
            tx(profiled)
        )
        .as_bytes(),
    );
    send(
        &server,
        format!(
            "{{\"event_id\":\"{other}\"}}\n{{\"type\":\"transaction\"}}\n{}\n",
            tx(other)
        )
        .as_bytes(),
    );
    let detail: ProfileDetail = parse(get_ok(&server, "/api/0/local/profiles/abcdef01/"));
    assert_eq!(detail.profile.transaction_id, profiled);
    // The other one, by more digits, has no profile: a 404 that says so.
    let (status, body) = get(&server, "/api/0/local/profiles/abcdef01bb/");
    assert_eq!(status, 404, "{body}");
    // `receiver event` points to the profile of the one that has one.
    let event = |id: &str| {
        let o = api_support::receiver_command(&server)
            .args(["event", id])
            .output()
            .expect("run receiver");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(event(profiled).contains("Profiled: `receiver profile"));
    assert!(!event(other).contains("Profiled"));
}

/// A client whose clock is an hour behind: its transactions' stored
/// times are corrected (by `sent_at`, from 55 minutes of drift), its
/// chunks' are not; the profile is found on the client's own clock, as
/// both were sent.
#[test]
fn a_client_whose_clock_is_off_still_finds_its_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server_at(&dir.path().join("db.sqlite"), CAPTURED_AT + 3600.0);
    for n in 1..=4 {
        send(&server, &fixture(n));
    }
    let cpu: ProfileDetail = parse(get_ok(
        &server,
        &format!("/api/0/local/profiles/{CPU_WORK}/"),
    ));
    assert_eq!(cpu.functions[0].function, "fib", "{:?}", cpu.functions);
    assert!(cpu.functions[0].self_ms > 500.0);
    // The trace's root span says so too.
    let root = get_ok(
        &server,
        "/api/0/local/traces/51e79b3c/spans/be9f4d0cb59b45f3/",
    );
    assert_eq!(root["profile"], "continuous", "{root}");
}
