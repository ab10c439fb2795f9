//! The `receiver` binary's API commands against a running TestServer:
//! output formats, exit codes of `wait` and `check`, `tail`, `tokens`, and
//! the admin token of the first start.

mod api_support;
#[path = "support/spans.rs"]
mod spans_support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use api_support::{event, message};
use receiver::api::types::Issue;
use receiver::TestServer;
use serde_json::{json, Value};

fn receiver(server: &TestServer) -> Command {
    api_support::receiver_command(server)
}

fn run(server: &TestServer, args: &[&str]) -> Output {
    receiver(server).args(args).output().expect("run receiver")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn seeded() -> TestServer {
    let server = TestServer::start();
    event(
        &server,
        json!({"exception": {"values": [{"type": "KeyError", "value": "no such user",
                "stacktrace": {"frames": [{"function": "lookup", "filename": "users.py",
                    "lineno": 42, "in_app": true}]}}]},
               "environment": "prod", "release": "app@1.0.0", "tags": {"region": "eu"}}),
    );
    event(
        &server,
        message("disk almost full", "warning", "prod", "app@1.0.0"),
    );
    server.wait_for_events(2, Duration::from_secs(5));
    server
}

#[test]
fn event_text_cannot_forge_lines_of_the_views() {
    let server = TestServer::start();
    let id = event(
        &server,
        json!({"exception": {"values": [{"type": "ValueError",
                "value": "bad input\nEvent 00000000\n  forged  yes"}]},
               "transaction": "app\nstatus resolved"}),
    );
    server.wait_for_events(1, Duration::from_secs(5));
    let o = run(&server, &["event", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // The value keeps its lines, each indented under the exception.
    assert!(
        out.contains("  ValueError: bad input\n    Event 00000000\n      forged  yes\n"),
        "{out}"
    );
    // (The view's own first line is `Event <id>`: an id starting with 0
    // must not count.)
    assert!(
        !out.lines().any(|l| l.trim_end() == "Event 00000000"),
        "{out}"
    );
    let issue = server.issues()[0].id.to_string();
    let o = run(&server, &["issue", &issue]);
    let out = stdout(&o);
    // The culprit (the event's transaction) stays on its line.
    assert!(out.contains("  culprit app\\nstatus resolved\n"), "{out}");
    assert!(!out.lines().any(|l| l.trim() == "status resolved"), "{out}");
}

#[test]
fn issues_issue_and_event_output() {
    let server = seeded();
    let o = run(&server, &["issues"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("ID  SHORT ID   STATUS      LEVEL    EVENTS  USERS  LAST SEEN"),
        "{out}"
    );
    assert!(out.contains("KeyError: no such user"), "{out}");
    assert!(out.contains("DEFAULT-"), "{out}");

    let o = run(&server, &["issues", "--level", "warning", "--json"]);
    let issues: Vec<Issue> = serde_json::from_slice(&o.stdout).expect("json issues");
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].title, "disk almost full");

    let key_error = server
        .issues()
        .into_iter()
        .find(|i| i.title.starts_with("KeyError"))
        .expect("issue");
    let o = run(&server, &["issue", &key_error.id.to_string()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("KeyError: no such user"), "{out}");
    assert!(
        out.contains("Tags:") && out.contains("region") && out.contains("eu (1)"),
        "{out}"
    );
    assert!(out.contains("Grouping:"), "{out}");
    assert!(out.contains("Latest event"), "{out}");

    let o = run(&server, &["issue", &key_error.id.to_string(), "--resolve"]);
    assert!(stdout(&o).contains("status resolved"), "{}", stdout(&o));
    let o = run(&server, &["issues"]);
    assert_eq!(
        stdout(&o).lines().count(),
        2,
        "resolved issues leave the default list"
    );
    let o = run(&server, &["issues", "--status", "all"]);
    assert_eq!(stdout(&o).lines().count(), 3);
    // An `is:` search decides the statuses itself: the default
    // `unresolved` does not hide what it asks for.
    let o = run(&server, &["issues", "-q", "is:resolved"]);
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 2, "{out}{}", stderr(&o));
    assert!(out.contains("KeyError"), "{out}");
    let o = run(
        &server,
        &["issues", "-q", "is:resolved", "--status", "unresolved"],
    );
    assert_eq!(
        stdout(&o).lines().count(),
        0,
        "an explicit status still applies"
    );

    let event_id = server.issue_events(key_error.id)[0].event_id.clone();
    let o = run(&server, &["event", &event_id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Exception:"), "{out}");
    assert!(out.contains("at lookup (users.py:42)"), "{out}");
    assert!(out.contains("release app@1.0.0"), "{out}");
    let o = run(
        &server,
        &["event", &event_id, "--json", "--project", "default"],
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("event json");
    assert_eq!(v["eventID"], json!(event_id));
    assert_eq!(v["attachments"], json!([]));
    // A project that does not exist is said so, not "event not found".
    let o = run(&server, &["event", &event_id, "--project", "nosuch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("project \"nosuch\" does not exist"),
        "{}",
        stderr(&o)
    );

    let o = run(&server, &["issue", "424242"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
}

#[test]
fn check_and_wait_exit_codes() {
    let server = seeded();
    let o = run(
        &server,
        &[
            "check",
            "--events",
            "1",
            "--level",
            "error",
            "--max-events",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("ok   events >= 1"), "{}", stdout(&o));

    let o = run(&server, &["check", "--max-issues", "0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("FAIL issues <= 0 (actual: 2)"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("check failed"), "{}", stderr(&o));

    let o = run(
        &server,
        &[
            "check",
            "--issue-title",
            "disk",
            "--min-issues",
            "1",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["ok"], true);
    assert_eq!(v["stats"]["issues"], 1);

    let o = run(&server, &["check", "--crash-free-sessions", "99%"]);
    assert_eq!(o.status.code(), Some(1), "no sessions: the rate is unknown");
    let o = run(&server, &["check"]);
    assert_eq!(o.status.code(), Some(2), "no condition is a usage error");

    // wait: already true → 0 at once; never true → 1 after the timeout.
    // "At once" is checked against a timeout far longer than any stall of
    // a loaded CI machine, so only waiting for the timeout can fail it.
    let started = Instant::now();
    let o = run(&server, &["wait", "--events", "2", "--timeout", "120s"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    let o = run(&server, &["wait", "--events", "50", "--timeout", "300ms"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains('\r'),
        "no progress line when stderr is not a terminal"
    );

    // wait while events arrive.
    let child = receiver(&server)
        .args([
            "wait",
            "--events",
            "4",
            "--level",
            "error",
            "--timeout",
            "10s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wait");
    std::thread::sleep(Duration::from_millis(300));
    event(&server, message("late one", "error", "prod", "app@1.0.0"));
    event(&server, message("late two", "error", "prod", "app@1.0.0"));
    event(&server, message("late three", "error", "prod", "app@1.0.0"));
    let o = child.wait_with_output().expect("wait output");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // A receiver that is not there: wait keeps trying until the timeout.
    let o = Command::new(env!("CARGO_BIN_EXE_receiver"))
        .args([
            "wait",
            "--events",
            "1",
            "--timeout",
            "300ms",
            "--url",
            "http://127.0.0.1:9",
            "--token",
            "x",
        ])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
    // A receiver that accepts and never answers: --timeout still holds
    // (each request used to wait its own 30 s).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", silent.local_addr().expect("addr"));
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_receiver"))
        .args(["wait", "--events", "1", "--timeout", "1s", "--url", &url])
        .args(["--token", "x"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "took {:?}",
        started.elapsed()
    );
    assert!(stderr(&o).contains("in time"), "{}", stderr(&o));
    drop(silent);

    // --timeout 0s still asks once.
    let o = run(&server, &["wait", "--events", "0", "--timeout", "0s"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_receiver"))
        .args([
            "check",
            "--events",
            "1",
            "--url",
            "http://127.0.0.1:9",
            "--token",
            "x",
        ])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    let o = receiver(&server)
        .env_remove("RECEIVER_TOKEN")
        .args(["issues"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no API token"), "{}", stderr(&o));
    let o = run(&server, &["issues", "--token", "wrong-wrong-wrong-wrong"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Invalid token"), "{}", stderr(&o));
}

#[test]
fn tail_prints_new_events() {
    let server = seeded();
    let mut child = receiver(&server)
        .args([
            "tail",
            "-n",
            "1",
            "--count",
            "2",
            "--timeout",
            "10s",
            "--interval",
            "50ms",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tail");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    out.read_line(&mut first).expect("backlog line");
    assert!(first.contains("disk almost full"), "{first}");
    event(
        &server,
        message("tailed alpha", "error", "prod", "app@1.0.0"),
    );
    event(
        &server,
        message("tailed beta", "error", "staging", "app@1.0.0"),
    );
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("rest");
    let status = child.wait().expect("tail exit");
    assert!(status.success());
    let lines: Vec<&str> = rest.lines().collect();
    assert_eq!(lines.len(), 2, "{rest}");
    assert!(
        lines[0].contains("tailed alpha") && lines[0].contains("[prod]"),
        "{rest}"
    );
    assert!(lines[1].contains("tailed beta"), "{rest}");

    // A timed tail ends quietly at its deadline, whatever the interval.
    let o = run(&server, &["tail", "--timeout", "1s", "--interval", "700ms"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));

    let o = run(&server, &["tail", "-n", "2", "--json", "--timeout", "0s"]);
    let events: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson"))
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["title"], "tailed beta");
}

#[test]
fn tokens_are_managed_on_the_database_file() {
    let server = TestServer::start();
    let db = server.db_path().to_str().expect("path").to_owned();
    let o = run(
        &server,
        &[
            "tokens", "create", "--scope", "read", "--label", "ci", "--db", &db,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_owned();
    assert_eq!(token.len(), 64);
    // The new read token works against the running server; it cannot write.
    let o = run(&server, &["issues", "--token", &token]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = api_support::call(
        &server,
        "PUT",
        "/api/0/issues/1/",
        Some(&token),
        Some(&json!({})),
    );
    assert_eq!(r.status, 403);
    let o = run(&server, &["tokens", "--db", &db]);
    let out = stdout(&o);
    assert!(out.starts_with("ID  SCOPE"), "{out}");
    assert!(out.contains("read") && out.contains("ci"), "{out}");
    let id = out
        .lines()
        .find(|l| l.ends_with("ci"))
        .and_then(|l| l.split_whitespace().next())
        .expect("row")
        .to_owned();
    let o = run(&server, &["tokens", "revoke", &id, "--db", &db]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&server, &["tokens", "list", "--json", "--db", &db]);
    let list: Vec<Value> = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(list.len(), 1, "only the test server's own token is left");
    let o = run(&server, &["tokens", "revoke", "999", "--db", &db]);
    assert_eq!(o.status.code(), Some(2));

    // projects and keys print JSON on request.
    let o = run(&server, &["projects", "--json", "--db", &db]);
    let projects: Value = serde_json::from_slice(&o.stdout).expect("projects json");
    assert_eq!(
        projects,
        json!([{"id": 1, "name": "default", "enabled": true}])
    );
    let o = run(&server, &["keys", "list", "--json", "--db", &db]);
    let keys: Value = serde_json::from_slice(&o.stdout).expect("keys json");
    assert_eq!(keys[0]["publicKey"], json!(server.public_key()));
}

#[test]
fn first_start_prints_an_admin_token_after_the_dsn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("r.sqlite");
    let spawn = |token: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_receiver"));
        c.args(["serve", "--addr", "127.0.0.1:0", "--db"])
            .arg(&db)
            .env_remove("RECEIVER_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(t) = token {
            c.env("RECEIVER_TOKEN", t);
        }
        c.spawn().expect("spawn")
    };
    let mut child = spawn(None);
    let mut dsn = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut dsn)
        .expect("dsn");
    assert!(dsn.starts_with("http://"), "{dsn}");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut token = None;
    let mut line = String::new();
    while err.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(t) = line.trim().strip_prefix("RECEIVER_TOKEN=") {
            token = Some(t.to_owned());
        }
        if line.contains("listening") {
            break;
        }
        line.clear();
    }
    let _ = child.kill();
    let _ = child.wait();
    let token = token.expect("an admin token on stderr");
    assert_eq!(token.len(), 64);

    // A second start prints none; a preset RECEIVER_TOKEN is registered.
    let mut child = spawn(Some("my-ci-token-0123456789"));
    let mut dsn = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut dsn)
        .expect("dsn");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut text = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap_or(0) > 0 {
        text.push_str(&line);
        if line.contains("listening") {
            break;
        }
        line.clear();
    }
    assert!(!text.contains("RECEIVER_TOKEN="), "{text}");
    let host = dsn
        .trim()
        .split('@')
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("host")
        .to_owned();
    let check = |t: &str| {
        receiver::testing::request(
            "GET",
            &format!("http://{host}/api/0/projects/"),
            &[("Authorization", &format!("Bearer {t}"))],
            b"",
        )
        .expect("request")
        .status
    };
    assert_eq!(check("my-ci-token-0123456789"), 200);
    assert_eq!(check(&token), 200);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn event_data_cannot_send_escape_sequences_to_the_terminal() {
    let server = TestServer::start();
    let hostile = "\u{1b}]0;PWNED\u{7}\u{1b}[2J\u{1b}[31mred\r\u{9b}31m\u{202e}";
    event(
        &server,
        json!({"exception": {"values": [{"type": "Boom\u{1b}[1m", "value": hostile}]},
               "environment": "prod\u{1b}[0m"}),
    );
    server.wait_for_events(1, Duration::from_secs(5));
    let id = server.issues()[0].id.to_string();
    for args in [vec!["issues"], vec!["issue", id.as_str()]] {
        let o = run(&server, &args);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        for c in ['\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{202e}'] {
            assert!(!out.contains(c), "{args:?} printed {c:?}: {out:?}");
        }
        assert!(out.contains("\\u{1b}]0;PWNED"), "{args:?}: {out}");
    }
    // JSON output keeps the data, escaped the JSON way: no raw C1 or bidi
    // control either.
    let o = run(&server, &["issues", "--json"]);
    let out = stdout(&o);
    for c in ['\u{1b}', '\u{9b}', '\u{202e}'] {
        assert!(!out.contains(c), "--json printed {c:?}: {out:?}");
    }
    let issues: Vec<Issue> = serde_json::from_slice(&o.stdout).expect("json issues");
    assert!(issues[0].title.contains('\u{9b}'), "{:?}", issues[0].title);
    assert!(
        issues[0].title.contains("\u{1b}]0;PWNED"),
        "{:?}",
        issues[0].title
    );
}

#[test]
fn logs_lists_log_lines_newest_first() {
    let server = TestServer::start();
    let t = api_support::now() - 30.0;
    let line = |dt: f64, level: &str, body: &str| {
        json!({"timestamp": t + dt, "level": level, "body": body,
               "trace_id": "0af7651916cd43dd8448eb211c80319c",
               "attributes": {"sentry.environment": {"type": "string", "value": "prod"}}})
    };
    let items = json!({"items": [
        line(0.0, "info", "cache warmed"),
        line(1.0, "warn", "slow query"),
        line(2.0, "error", "payment failed \u{1b}[2J"),
    ]});
    let body = format!(
        "{{}}\n{{\"type\":\"log\",\"item_count\":3,\"content_type\":\"application/vnd.sentry.items.log+json\"}}\n{items}\n"
    );
    api_support::send(&server, body.as_bytes());

    let o = run(&server, &["logs", "--level", "error,warn"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("TIME"), "{out}");
    assert!(
        lines[1].contains("error") && lines[1].contains("payment failed"),
        "{out}"
    );
    assert!(
        lines[1].contains("0af76519") && lines[1].contains("prod"),
        "{out}"
    );
    assert!(
        !out.contains('\u{1b}'),
        "the escape is shown escaped: {out:?}"
    );
    assert!(
        lines[2].contains("warn") && lines[2].contains("slow query"),
        "{out}"
    );

    let o = run(
        &server,
        &["logs", "--json", "--query", "CACHE", "--since", "1h"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v[0]["body"], "cache warmed");
    assert_eq!(v[0]["environment"], "prod");

    let o = run(&server, &["logs", "--trace", "nope"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("invalid trace"), "{}", stderr(&o));
}

#[test]
fn monitors_lists_monitors_their_runs_and_deletes_one() {
    let server = TestServer::start();
    let sent = |id: &str, slug: &str, status: &str, env: &str, duration: f64| {
        api_support::item(
            &server,
            "check_in",
            json!({"check_in_id": id, "monitor_slug": slug, "status": status,
                   "environment": env, "duration": duration,
                   "monitor_config": {"schedule": {"type": "interval", "value": 2, "unit": "hour"}}}),
        );
    };
    sent(
        "a1c2e3f4a5b6c7d8e9f0a1b2c3d4e5f6",
        "nightly-backup",
        "ok",
        "prod",
        12.0,
    );
    sent(
        "b1c2e3f4a5b6c7d8e9f0a1b2c3d4e5f6",
        "nightly-backup",
        "error",
        "prod",
        200.0,
    );
    sent(
        "c1c2e3f4a5b6c7d8e9f0a1b2c3d4e5f6",
        "nightly-backup",
        "ok",
        "staging",
        0.25,
    );
    sent(
        "d1c2e3f4a5b6c7d8e9f0a1b2c3d4e5f6",
        "Hourly Sync",
        "ok",
        "prod",
        1.0,
    );

    let o = run(&server, &["monitors"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("MONITOR"), "{out}");
    let backup = lines
        .iter()
        .find(|l| l.starts_with("nightly-backup"))
        .unwrap_or_else(|| panic!("no nightly-backup row: {out}"));
    assert!(backup.contains("every 2 hours"), "{out}");
    // Three runs, one of them failed.
    let cells: Vec<&str> = backup.split_whitespace().collect();
    assert!(cells.windows(2).any(|w| w == ["3", "1"]), "{out}");
    assert!(
        lines.iter().any(|l| l.starts_with("hourly-sync")),
        "the slug as Sentry makes it: {out}"
    );

    let o = run(&server, &["monitors", "nightly-backup", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let statuses: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|k| k["status"].as_str())
        .collect();
    assert_eq!(statuses, ["ok", "error", "ok"], "newest first: {v}");

    let o = run(
        &server,
        &["monitors", "nightly-backup", "--status", "error"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("3m 20s") && out.contains("b1c2e3f4"), "{out}");

    // The name as sent finds the monitor too.
    let o = run(&server, &["monitors", "Hourly Sync", "--limit", "5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("d1c2e3f4"), "{}", stdout(&o));

    // Deleting one environment's runs leaves the others.
    let o = run(
        &server,
        &[
            "monitors",
            "nightly-backup",
            "--delete",
            "--environment",
            "staging",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("staging"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    let o = run(&server, &["monitors", "nightly-backup", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");

    let o = run(
        &server,
        &["monitors", "nightly-backup", "--delete", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v, serde_json::json!({"deleted": "nightly-backup"}));
    let o = run(&server, &["monitors", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let slugs: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|m| m["monitorSlug"].as_str())
        .collect();
    assert_eq!(slugs, ["hourly-sync"], "{v}");

    // A monitor that is not there is an error (exit 2) that says so.
    let o = run(&server, &["monitors", "nightly-backup", "--delete"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    let o = run(&server, &["monitors", "--status", "ok"]);
    assert_eq!(o.status.code(), Some(2), "--status needs a slug");
}

#[test]
fn transactions_and_trace_show_what_a_request_did() {
    let server = TestServer::start();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    // On a whole second: times are stored to the microsecond, and from an
    // arbitrary `now` the query's start could land 9.999 ms after the
    // root's (rounded apart), a cell early in the bars checked below.
    let t = (api_support::now() - 60.0).floor();
    api_support::item(
        &server,
        "transaction",
        json!({"type": "transaction", "transaction": "GET /users/{id}",
               "start_timestamp": t, "timestamp": t + 0.120,
               "contexts": {"trace": {"trace_id": trace, "span_id": "a000000000000001",
                                      "op": "http.server", "status": "ok"}},
               "spans": [{"span_id": "b000000000000002", "parent_span_id": "a000000000000001",
                          "trace_id": trace, "op": "db.query", "description": "SELECT * FROM users",
                          "data": {"db.system": "postgresql"},
                          "start_timestamp": t + 0.010, "timestamp": t + 0.070}]}),
    );
    api_support::item(
        &server,
        "transaction",
        json!({"type": "transaction", "transaction": "send-welcome-mail",
               "start_timestamp": t + 0.080, "timestamp": t + 0.100,
               "contexts": {"trace": {"trace_id": trace, "span_id": "c000000000000003",
                                      "parent_span_id": "a000000000000001",
                                      "op": "queue.task", "status": "internal_error"}}}),
    );
    event(
        &server,
        json!({"message": "user has no mail address", "level": "error",
               "contexts": {"trace": {"trace_id": trace, "span_id": "b000000000000002"}}}),
    );
    server.wait_for_events(1, Duration::from_secs(5));

    let o = run(&server, &["transactions", "--sort", "-duration"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("STARTED"), "{out}");
    assert!(
        lines[1].contains("GET /users/{id}") && lines[1].contains("120.0 ms"),
        "slowest first: {out}"
    );
    assert!(lines[1].contains("4bf92f35"), "{out}");
    assert!(
        lines[2].contains("send-welcome-mail") && lines[2].contains("internal_error"),
        "{out}"
    );
    let o = run(&server, &["transactions", "-q", "mail", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v[0]["op"], "queue.task");

    // A transaction shown as an event says what it did.
    let o = run(&server, &["transactions", "-q", "users", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let id = v[0]["eventID"].as_str().expect("event id").to_owned();
    let o = run(&server, &["event", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("Transaction:\n  op http.server · status ok · duration 120.0 ms · 1 span\n"),
        "{out}"
    );
    assert!(out.contains("`receiver trace 4bf92f35`"), "{out}");

    let o = run(&server, &["trace", trace, "--width", "12"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!(
            "trace {trace}: 1 service, 2 transactions, 3 spans, 1 error\n"
        )),
        "{out}"
    );
    let position = |needle: &str| {
        out.lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {out}"))
    };
    // The tree: the request, its query with the error it reported, and
    // the task it queued, each indented under its parent.
    let root = position("http.server - GET /users/{id}");
    let query = position("  db.query - SELECT * FROM users");
    let error = position("! user has no mail address [error]");
    let task = position("  queue.task - send-welcome-mail [internal_error]");
    assert!(root < query && query < error && error < task, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[root].contains("████████████"),
        "the whole trace: {out}"
    );
    assert!(lines[query].contains("·█"), "starts after the root: {out}");
    assert!(lines[query].starts_with("b0000000 "), "its id: {out}");

    // One span whole, by the id the tree shows.
    let o = run(&server, &["trace", trace, "--span", "b0000000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!(
            "span b000000000000002 of trace {trace} (project 1, transaction "
        )),
        "{out}"
    );
    assert!(out.contains("SELECT * FROM users"), "{out}");
    assert!(out.contains("60.0 ms"), "{out}");
    assert!(
        out.contains("data:\n")
            && out
                .lines()
                .any(|l| l.starts_with("  db.system") && l.ends_with("postgresql")),
        "{out}"
    );
    let o = run(&server, &["trace", trace, "--span", "0"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no span of trace"), "{}", stderr(&o));

    let o = run(&server, &["trace", "not-a-trace"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("32 hex digits"), "{}", stderr(&o));
}

#[test]
fn health_shows_crash_free_rates_per_release() {
    let server = TestServer::start();
    let started = api_support::now_iso(-60.0);
    let session = |n: u8, release: &str, status: &str| {
        json!({"sid": format!("{n:032x}"), "did": format!("user-{n}"), "seq": 0, "init": true,
               "started": started, "status": status, "errors": u32::from(status == "crashed"),
               "attrs": {"release": release, "environment": "prod"}})
    };
    for n in 1..=4 {
        api_support::item(&server, "session", session(n, "app@1.0.0", "exited"));
    }
    api_support::item(&server, "session", session(5, "app@1.1.0", "exited"));
    api_support::item(&server, "session", session(6, "app@1.1.0", "crashed"));

    let o = run(&server, &["health"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "two releases and the total: {out}");
    assert!(
        lines[0].starts_with("RELEASE") && lines[0].contains("CRASH-FREE SESSIONS"),
        "a column per dimension grouped by: {out}"
    );
    let row = |release: &str| {
        lines
            .iter()
            .find(|l| l.contains(release))
            .unwrap_or_else(|| panic!("no {release} row: {out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(row("app@1.0.0"), "app@1.0.0 prod 4 0 0 0 100 % 4 100 %");
    assert_eq!(row("app@1.1.0"), "app@1.1.0 prod 2 1 0 0 50.0 % 2 50.0 %");
    assert_eq!(row("(all)"), "(all) 6 1 0 0 83.3 % 6 83.3 %");

    let o = run(
        &server,
        &[
            "health",
            "--release",
            "app@1.1.0",
            "--group-by",
            "release",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["totals"]["crashFreeSessions"], 0.5, "{v}");

    let o = run(&server, &["health", "--group-by", "planet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("invalid groupBy"), "{}", stderr(&o));
}

/// Sends an error event with this id, in trace `trace` when given.
fn event_with_id(server: &TestServer, id: &str, text: &str, trace: Option<&str>) {
    let mut payload = json!({"message": text, "level": "error"});
    if let Some(trace) = trace {
        payload["contexts"] = json!({"trace": {"trace_id": trace, "span_id": "a000000000000001"}});
    }
    let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{payload}\n");
    api_support::send(server, body.as_bytes());
}

#[test]
fn ids_cut_to_eight_digits_as_tables_print_them_are_taken_back() {
    let server = TestServer::start();
    let t = (api_support::now() - 60.0).floor();
    // Two traces that share their first eight digits, one known by a
    // transaction, one only by an error event.
    let with_tx = "4bf92f3577b34da6a3ce929d0e0e4736";
    let errors_only = "4bf92f35aaaaaaaaaaaaaaaaaaaaaaaa";
    api_support::item(
        &server,
        "transaction",
        json!({"type": "transaction", "transaction": "GET /users/{id}",
               "start_timestamp": t, "timestamp": t + 0.120,
               "contexts": {"trace": {"trace_id": with_tx, "span_id": "a000000000000001",
                                      "op": "http.server", "status": "ok"}}}),
    );
    api_support::item(
        &server,
        "transaction",
        json!({"type": "transaction", "transaction": "GET /other",
               "start_timestamp": t, "timestamp": t + 0.050,
               "contexts": {"trace": {"trace_id": "77777777777777777777777777777777",
                                      "span_id": "a000000000000001", "op": "http.server"}}}),
    );
    event_with_id(
        &server,
        "e1e1e1e1000000000000000000000001",
        "first",
        Some(errors_only),
    );
    event_with_id(&server, "e1e1e1e1100000000000000000000002", "second", None);
    event_with_id(&server, "f0f0f0f0000000000000000000000003", "third", None);
    server.wait_for_events(3, Duration::from_secs(5));

    // Trace ids: the digits that tell them apart find each; the shared
    // eight are ambiguous and say which ids start with them.
    let o = run(&server, &["trace", "4bf92f3577"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with(&format!("trace {with_tx}:")),
        "{}",
        stdout(&o)
    );
    let o = run(&server, &["trace", "4BF92F35AA"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with(&format!("trace {errors_only}:")),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("first"), "{}", stdout(&o));
    // The shared eight find the trace with spans: error events are looked
    // up only when no transaction or span starts so.
    let o = run(&server, &["trace", "4bf92f35"]);
    assert!(
        stdout(&o).starts_with(&format!("trace {with_tx}:")),
        "{}",
        stdout(&o)
    );
    // Two traces with spans that share them are ambiguous, and the error
    // says which ids start with them.
    let other_tx = "4bf92f35bbbbbbbbbbbbbbbbbbbbbbbb";
    api_support::item(
        &server,
        "transaction",
        json!({"type": "transaction", "transaction": "GET /another",
               "start_timestamp": t, "timestamp": t + 0.010,
               "contexts": {"trace": {"trace_id": other_tx, "span_id": "a000000000000001"}}}),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        let o = run(&server, &["trace", "4bf92f35"]);
        if !o.status.success() || Instant::now() > deadline {
            break stderr(&o);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        err.contains("ambiguous") && err.contains(with_tx) && err.contains(other_tx),
        "{err}"
    );
    let o = run(&server, &["trace", "12345678"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no trace id starts with 12345678"),
        "{}",
        stderr(&o)
    );
    let o = run(&server, &["trace", "4bf92f3"]);
    assert!(
        stderr(&o).contains("at least the first 8"),
        "{}",
        stderr(&o)
    );

    // A list's --trace takes the short id too, and keeps to that trace.
    let o = run(
        &server,
        &["transactions", "--trace", "4bf92f3577", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v[0]["traceID"], with_tx, "{v}");
    let o = run(&server, &["logs", "--trace", "12345678"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("all 32 digits"), "{}", stderr(&o));

    // Event ids, the same way; a transaction is found by its id as well.
    let o = run(&server, &["event", "f0f0f0f0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("third"), "{}", stdout(&o));
    let o = run(&server, &["event", "e1e1e1e1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("ambiguous"), "{}", stderr(&o));
    let o = run(&server, &["event", "e1e1e1e11", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["eventID"], "e1e1e1e1100000000000000000000002", "{v}");
}

#[test]
fn spans_lists_what_an_sdk_that_streams_its_spans_sent() {
    let server = TestServer::start();
    let o = run(&server, &["transactions"]);
    assert!(
        stderr(&o).contains("receiver spans --segments"),
        "{}",
        stderr(&o)
    );

    let t = (api_support::now() - 60.0).floor();
    let trace = "5bf92f3577b34da6a3ce929d0e0e4736";
    let attrs = |op: &str| {
        json!({"sentry.op": {"type": "string", "value": op},
               "sentry.segment.name": {"type": "string", "value": "GET /work"}})
    };
    let container = json!({"version": 2, "items": [
        {"trace_id": trace, "span_id": "c000000000000001", "name": "GET /work",
         "start_timestamp": t, "end_timestamp": t + 0.5, "is_segment": true,
         "status": "ok", "attributes": attrs("http.server")},
        {"trace_id": trace, "span_id": "c000000000000002", "parent_span_id": "c000000000000001",
         "name": "SELECT 1", "start_timestamp": t + 0.1, "end_timestamp": t + 0.2,
         "status": "ok", "attributes": attrs("db.query")}]});
    let body = format!(
        "{{}}\n{{\"type\":\"span\",\"item_count\":2,\
         \"content_type\":\"application/vnd.sentry.items.span.v2+json\"}}\n{container}\n"
    );
    api_support::send(&server, body.as_bytes());
    let deadline = Instant::now() + Duration::from_secs(5);
    let listed = loop {
        let o = run(&server, &["spans", "--segments"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        if out.contains("GET /work") || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "the segment only: {listed}");
    assert!(lines[0].starts_with("STARTED"), "{listed}");
    assert!(
        lines[1].contains("500.0 ms")
            && lines[1].contains("http.server")
            && lines[1].contains("5bf92f35"),
        "{listed}"
    );

    let o = run(
        &server,
        &["spans", "--transaction", "GET /work", "--sort", "duration"],
    );
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].contains("db.query") && lines[1].contains("SELECT 1"),
        "shortest first: {out}"
    );
    let o = run(&server, &["spans", "--trace", "5bf92f35", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(v[0]["transaction"], "GET /work", "{v}");
}

#[test]
fn a_users_feedback_is_shown_with_its_message_and_sender() {
    let server = TestServer::start();
    let id = api_support::new_id();
    let feedback = json!({"event_id": id, "contexts": {"feedback": {
        "message": "The checkout button\ndoes nothing", "name": "Ada",
        "contact_email": "ada@example.com", "url": "https://shop.example/cart"}}});
    let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"feedback\"}}\n{feedback}\n");
    api_support::send(&server, body.as_bytes());
    let deadline = Instant::now() + Duration::from_secs(5);
    let out = loop {
        // By its first eight digits, as other ids.
        let o = run(&server, &["event", &id[..8]]);
        if o.status.success() || Instant::now() > deadline {
            break stdout(&o);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        out.contains("Feedback:\n  The checkout button\n  does nothing\n  from Ada\n  email ada@example.com\n  page https://shop.example/cart\n"),
        "{out}"
    );
}

#[test]
fn profiles_and_profile_show_where_a_transactions_time_went() {
    let server = TestServer::start();
    let o = run(&server, &["profiles"]);
    assert!(stderr(&o).contains("no profiles"), "{}", stderr(&o));

    let tx = "abcdef0123456789abcdef0123456789";
    let ms = |n: u64| (n * 1_000_000).to_string();
    let samples: Vec<Value> = (0..10)
        .map(|i| {
            json!({"stack_id": if i < 7 { 0 } else { 1 }, "thread_id": "7",
                        "elapsed_since_start_ns": ms(i * 10)})
        })
        .collect();
    let profile = json!({
        "event_id": "11111111111111111111111111111111", "platform": "python", "version": "1",
        "transactions": [{"id": tx, "name": "nightly-report", "trace_id": "6bf92f3577b34da6a3ce929d0e0e4736",
                          "active_thread_id": "7", "relative_start_ns": "0",
                          "relative_end_ns": ms(100)}],
        "profile": {
            "frames": [{"function": "render", "module": "report", "in_app": true},
                       {"function": "main", "module": "report", "in_app": true},
                       {"function": "query", "module": "db"}],
            "stacks": [[0, 1], [2, 1]],
            "thread_metadata": {"7": {"name": "MainThread"}},
            "samples": samples}});
    let body = format!("{{\"event_id\":\"{tx}\"}}\n{{\"type\":\"profile\"}}\n{profile}\n");
    api_support::send(&server, body.as_bytes());
    // A retried envelope sends it again: it is stored once. (The writer
    // applies in order: once the event after it is stored, so is it.)
    api_support::send(&server, body.as_bytes());
    event(&server, json!({"message": "after the profiles"}));
    server.wait_for_events(1, Duration::from_secs(5));
    let listed = stdout(&run(&server, &["profiles"]));
    // A profile stored before its head was kept (migration 49) is read
    // whole, and listed the same.
    let conn = rusqlite::Connection::open(server.db_path()).expect("open");
    let heads: i64 = conn
        .query_row(
            "SELECT count(*) FROM raw_items WHERE summary IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(heads, 1, "its head was kept on arrival");
    conn.execute("UPDATE raw_items SET summary = NULL", [])
        .expect("forget the head");
    assert_eq!(stdout(&run(&server, &["profiles"])), listed);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(
        lines[1].starts_with("abcdef01 ")
            && lines[1].contains("100.0 ms")
            && lines[1].contains("6bf92f35"),
        "{listed}"
    );

    let o = run(&server, &["profile", "abcdef01"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("7 MainThread: 10 samples  (shown)"), "{out}");
    let render = out.lines().position(|l| l.contains("render report  (app)"));
    let query = out.lines().position(|l| l.contains("query db"));
    assert!(render.is_some() && render < query, "render first: {out}");
    let render_line = out
        .lines()
        .find(|l| l.contains("render report"))
        .unwrap_or("");
    assert_eq!(
        render_line.split_whitespace().take(6).collect::<Vec<_>>(),
        ["70.0", "ms", "70.0%", "70.0", "ms", "70.0%"],
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("100.0%") && l.contains("main report")),
        "{out}"
    );
    // The transaction it profiles points to it.
    api_support::item(
        &server,
        "transaction",
        json!({"type": "transaction", "event_id": tx, "transaction": "nightly-report",
               "start_timestamp": api_support::now() - 1.0, "timestamp": api_support::now(),
               "contexts": {"trace": {"trace_id": "6bf92f3577b34da6a3ce929d0e0e4736",
                                      "span_id": "a000000000000001", "op": "task"}}}),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let shown = loop {
        let o = run(&server, &["event", tx]);
        if o.status.success() || Instant::now() > deadline {
            break stdout(&o);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(shown.contains("`receiver profile abcdef01`"), "{shown}");

    // An envelope without an event id: the profile is its transaction's.
    let mut unheaded = profile.clone();
    unheaded["transactions"][0]["id"] = json!("bcdef0123456789abcdef0123456789a");
    api_support::send(
        &server,
        format!("{{}}\n{{\"type\":\"profile\"}}\n{unheaded}\n").as_bytes(),
    );
    let o = run(&server, &["profile", "bcdef012"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = run(&server, &["profile", "abcdef01", "--thread", "8"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("thread 8"), "{}", stderr(&o));
}

/// `--span` with a whole span id reaches a span past the trace view's
/// first 10 000 through the span route.
#[test]
fn a_span_past_the_trace_views_ten_thousand_is_shown_by_its_id() {
    let server = TestServer::start();
    let trace = "cd".repeat(16);
    spans_support::write_spans(server.db_path(), &trace, 10_001);
    // Span 10 000 (the 10 001st by start time) is not in the view.
    let o = run(&server, &["trace", &trace, "--span", "0000000000002710"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!("span 0000000000002710 of trace {trace}")),
        "{out}"
    );
    // By its first digits it is still looked for in the view only.
    let o = run(&server, &["trace", &trace, "--span", "000000000000271"]);
    assert!(!o.status.success());
}
