//! `GET /api/0/local/logs/`: structured log lines from `log` items, newest
//! first, with filters and cursor pages.

mod api_support;

use api_support::{get, now, send};
use receiver::api::types::LogsPage;
use receiver::TestServer;
use serde_json::{json, Value};

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

/// One log line as the SDKs send it (PROTOCOL.md §A.2).
fn line(ts: f64, level: &str, body: &str, env: &str) -> Value {
    json!({
        "timestamp": ts, "level": level, "body": body, "trace_id": TRACE,
        "span_id": "B0E5FCC5F8512414",
        "severity_number": 9,
        "attributes": {
            "sentry.release": {"type": "string", "value": "app@1"},
            "sentry.environment": {"type": "string", "value": env},
            "attempt": {"type": "integer", "value": 3}
        }
    })
}

/// Sends one `log` container holding `lines`.
fn send_logs(server: &TestServer, lines: Vec<Value>) {
    let payload = json!({"version": 2, "items": lines}).to_string();
    let body = format!(
        "{{}}\n{{\"type\":\"log\",\"item_count\":{},\"content_type\":\"application/vnd.sentry.items.log+json\"}}\n{payload}\n",
        lines.len()
    );
    send(server, body.as_bytes());
}

fn page(server: &TestServer, query: &str) -> LogsPage {
    server
        .api_json(&format!("/api/0/local/logs/?{query}"))
        .unwrap_or_else(|e| panic!("logs?{query}: {e}"))
}

fn bodies(p: &LogsPage) -> Vec<&str> {
    p.logs.iter().filter_map(|l| l.body.as_deref()).collect()
}

#[test]
fn log_lines_newest_first_with_filters() {
    let server = TestServer::start();
    let t = now() - 60.0;
    send_logs(
        &server,
        vec![
            line(t, "info", "worker started", "prod"),
            line(t + 1.0, "warn", "Queue is slow", "prod"),
        ],
    );
    send_logs(
        &server,
        vec![
            line(t + 2.0, "error", "payment failed", "staging"),
            line(t + 3.0, "info", "queue drained", "prod"),
        ],
    );

    let all = page(&server, "");
    assert_eq!(
        bodies(&all),
        [
            "queue drained",
            "payment failed",
            "Queue is slow",
            "worker started"
        ]
    );
    assert_eq!(all.cursor, None, "nothing is left");
    let first = &all.logs[0];
    assert_eq!(first.level.as_deref(), Some("info"));
    assert_eq!(first.trace_id.as_deref(), Some(TRACE));
    assert_eq!(first.span_id.as_deref(), Some("b0e5fcc5f8512414"));
    assert_eq!(first.release.as_deref(), Some("app@1"));
    assert_eq!(first.environment.as_deref(), Some("prod"));
    assert_eq!(first.project_id, "1");
    assert_eq!(first.attributes["attempt"], 3);
    assert!(first.timestamp.is_some());

    assert_eq!(
        bodies(&page(&server, "level=error&level=WARN")),
        ["payment failed", "Queue is slow"]
    );
    // `warning` is `warn`, as for issues; a level that is none is a 400.
    assert_eq!(bodies(&page(&server, "level=warning")), ["Queue is slow"]);
    let (status, body) = get(&server, "/api/0/local/logs/?level=bogus");
    assert_eq!(status, 400, "{body}");
    // sentry-python's level below its lowest mapped one.
    let (status, body) = get(&server, "/api/0/local/logs/?level=default");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        bodies(&page(&server, "query=queue")),
        ["queue drained", "Queue is slow"],
        "a case-insensitive substring of the body"
    );
    assert_eq!(
        bodies(&page(&server, "environment=staging")),
        ["payment failed"]
    );
    assert_eq!(bodies(&page(&server, "release=app@2")), Vec::<&str>::new());
    assert_eq!(page(&server, &format!("trace={TRACE}")).logs.len(), 4);
    let other = "1".repeat(32);
    assert!(page(&server, &format!("trace={other}")).logs.is_empty());
    let start = sentry_core::protocol::Timestamp::from_secs_f64(t + 1.5).to_rfc3339();
    assert_eq!(
        bodies(&page(&server, &format!("start={start}"))),
        ["queue drained", "payment failed"]
    );
}

#[test]
fn cursor_pages_hold_every_line_once() {
    let server = TestServer::start();
    let t = now() - 600.0;
    let mut sent = Vec::new();
    for batch in 0..4 {
        let lines: Vec<Value> = (0..5)
            .map(|i| {
                let n = batch * 5 + i;
                sent.push(format!("line {n}"));
                line(t + n as f64, "info", &format!("line {n}"), "prod")
            })
            .collect();
        send_logs(&server, lines);
    }
    sent.reverse();
    for limit in [1, 3, 5, 7, 20] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let mut q = format!("limit={limit}");
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={c}"));
            }
            let p = page(&server, &q);
            assert!(p.logs.len() <= limit);
            seen.extend(p.logs.iter().filter_map(|l| l.body.clone()));
            cursor = p.cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(seen, sent, "limit {limit}");
    }
}

/// A trace given by its first 8 digits, as tables print it: the one trace
/// whose transactions, spans or errors start so; a trace known only by
/// its log lines needs all 32 digits, and the 404 says so.
#[test]
fn a_trace_filter_takes_the_first_digits_of_a_known_trace() {
    let server = TestServer::start();
    let t = now() - 60.0;
    send_logs(&server, vec![line(t, "info", "worker started", "prod")]);
    let (status, body) = get(
        &server,
        &format!("/api/0/local/logs/?trace={}", &TRACE[..8]),
    );
    assert_eq!(status, 404, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("give all 32 digits")),
        "{body}"
    );
    api_support::event(
        &server,
        json!({"message": "boom", "contexts": {"trace": {"trace_id": TRACE,
                                                          "span_id": "b0e5fcc5f8512414"}}}),
    );
    server.wait_for_events(1, std::time::Duration::from_secs(5));
    assert_eq!(
        bodies(&page(&server, &format!("trace={}", &TRACE[..8]))),
        ["worker started"]
    );
    let metrics = get(
        &server,
        &format!("/api/0/local/metrics/?trace={}", &TRACE[..10]),
    )
    .0;
    assert_eq!(metrics, 200);
}

#[test]
fn bad_parameters_are_400_and_other_methods_405() {
    let server = TestServer::start();
    for q in [
        "cursor=x",
        "cursor=3",
        "cursor=3:y",
        "cursor=-1:0",
        "cursor=-9223372036854775808:-",
        "trace=abc",
        "limit=0",
    ] {
        let (status, body) = get(&server, &format!("/api/0/local/logs/?{q}"));
        assert_eq!(status, 400, "{q}: {body}");
    }
    let r = receiver::testing::request(
        "POST",
        &server.api_url("/api/0/local/logs/"),
        &[("Authorization", &format!("Bearer {}", server.token()))],
        b"{}",
    )
    .expect("post");
    assert_eq!(r.status, 405);
    // Without a token.
    let r = receiver::testing::request("GET", &server.api_url("/api/0/local/logs/"), &[], b"")
        .expect("get");
    assert_eq!(r.status, 401);
}

/// A request reads a bounded number of stored `log` items: past it, the
/// page is shorter (here empty) and its cursor goes on where it stopped.
#[test]
fn a_long_scan_ends_with_a_cursor_that_goes_on() {
    let server = TestServer::start();
    let rows = receiver::api::LOGS_MAX_ROWS_READ + 100;
    {
        let mut conn = rusqlite::Connection::open(server.db_path()).expect("open");
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .expect("busy");
        let tx = conn.transaction().expect("begin");
        for n in 0..rows {
            let body = if n == 0 { "the needle" } else { "hay" };
            let payload = json!({"items": [line(now(), "info", body, "prod")]}).to_string();
            let blob = receiver::store::compress(payload.as_bytes(), 3).expect("compress");
            tx.execute(
                "INSERT INTO logs (project_id, item_count, content_type, received, payload)
                 VALUES (1, 1, 'application/vnd.sentry.items.log+json', 0, ?1)",
                [blob],
            )
            .expect("insert");
        }
        tx.commit().expect("commit");
    }
    let first = page(&server, "query=needle");
    assert!(first.logs.is_empty(), "{:?}", first.logs);
    let cursor = first.cursor.expect("a cursor to go on");
    let second = page(&server, &format!("query=needle&cursor={cursor}"));
    assert_eq!(bodies(&second), ["the needle"]);
    assert_eq!(second.cursor, None);
}

/// Ingestion stores what a `log` item's lines hold (their time span and
/// trace ids), so a page filtered by trace or time passes over the rows
/// none of whose lines match without reading them, past the budget of
/// rows read; rows stored without that summary (as before migration 25)
/// are still read.
#[test]
fn rows_whose_summary_rules_them_out_are_passed_over_unread() {
    let server = TestServer::start();
    let t = now() - 3600.0;
    let mut other = line(t + 100.0, "info", "another trace", "prod");
    other["trace_id"] = json!("1".repeat(32));
    // Sent: summarised at ingestion.
    send_logs(
        &server,
        vec![line(t, "info", "sent early", "prod"), other.clone()],
    );
    let conn = rusqlite::Connection::open(server.db_path()).expect("open");
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy");
    let (from, to, traces): (Option<f64>, Option<f64>, Option<Vec<u8>>) = conn
        .query_row(
            "SELECT entries_from, entries_to, entry_traces FROM log_summaries
             WHERE id = (SELECT MAX(id) FROM logs)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("summary");
    // serde_json reads floats fast, not always to the last bit (it has no
    // `float_roundtrip` here): a microsecond is the precision that counts.
    let near = |got: Option<f64>, want: f64| got.is_some_and(|got| (got - want).abs() < 1e-6);
    assert!(
        near(from, t) && near(to, t + 100.0),
        "{from:?} {to:?} for {t}"
    );
    let traces = receiver::store::container_entries::TraceFilter::from_bytes(
        traces.expect("the lines' traces"),
    );
    assert!(traces.may_contain(TRACE) && traces.may_contain(&"1".repeat(32)));
    assert!(!traces.may_contain(&"2".repeat(32)));

    // A row without a summary that matches, then more summarised rows of
    // another trace and a later time than the budget of rows read.
    insert_log_row(
        &conn,
        json!({"items": [line(t + 1.0, "info", "stored unsummarised", "prod")]})
            .to_string()
            .as_bytes(),
    );
    let payload = json!({"items": [other]}).to_string();
    let summary = receiver::store::container_entries::summarise(payload.as_bytes(), 0.0);
    let blob = receiver::store::compress(payload.as_bytes(), 1).expect("compress");
    conn.execute_batch("BEGIN").expect("begin");
    for _ in 0..receiver::api::LOGS_MAX_ROWS_READ + 100 {
        insert_summarised_row(&conn, &blob, &summary);
    }
    conn.execute_batch("COMMIT").expect("commit");

    let by_trace = page(&server, &format!("trace={TRACE}"));
    assert_eq!(bodies(&by_trace), ["stored unsummarised", "sent early"]);
    assert_eq!(by_trace.cursor, None, "every row was looked at");
    let iso = |secs: f64| sentry_core::protocol::Timestamp::from_secs_f64(secs).to_rfc3339();
    let early = page(
        &server,
        &format!("start={}&end={}", iso(t - 10.0), iso(t + 50.0)),
    );
    assert_eq!(bodies(&early), ["stored unsummarised", "sent early"]);
    assert_eq!(early.cursor, None);
    // The other trace's rows hold its lines: they are read.
    let other_trace = page(&server, &format!("trace={}", "1".repeat(32)));
    assert_eq!(
        other_trace.logs.len(),
        100,
        "a full default page of the other trace"
    );
}

/// A row that takes the id of a deleted one (SQLite reuses the largest
/// id) gets its own summary, not the deleted row's.
#[test]
fn a_reused_row_id_takes_a_new_summary() {
    let server = TestServer::start();
    let t = now() - 60.0;
    let mut first = line(t, "info", "deleted", "prod");
    first["trace_id"] = json!("1".repeat(32));
    send_logs(&server, vec![first]);
    let conn = rusqlite::Connection::open(server.db_path()).expect("open");
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy");
    conn.execute("DELETE FROM logs", []).expect("delete");
    send_logs(&server, vec![line(t, "info", "sent after", "prod")]);
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM logs UNION ALL SELECT id FROM log_summaries")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("ids");
    assert_eq!(ids, [1, 1], "the id was reused and its summary replaced");
    assert_eq!(
        bodies(&page(&server, &format!("trace={TRACE}"))),
        ["sent after"]
    );
}

/// A summary stored in a format this build does not know is not trusted:
/// its row is read whole, whatever the summary says.
#[test]
fn a_summary_of_another_format_is_not_trusted() {
    let server = TestServer::start();
    let t = now() - 60.0;
    send_logs(&server, vec![line(t, "info", "the needle", "prod")]);
    let conn = rusqlite::Connection::open(server.db_path()).expect("open");
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy");
    let format: i64 = conn
        .query_row("SELECT format FROM log_summaries", [], |r| r.get(0))
        .expect("format");
    assert_eq!(format, receiver::store::container_entries::SUMMARY_FORMAT);
    // A summary that says the row holds no trace and nothing recent.
    conn.execute(
        "UPDATE log_summaries SET entry_traces = zeroblob(8), entries_from = 0, entries_to = 1",
        [],
    )
    .expect("update");
    let recent = format!("statsPeriod=1h&trace={TRACE}");
    assert!(
        page(&server, &recent).logs.is_empty(),
        "in this build's format, the summary rules the row out"
    );
    conn.execute("UPDATE log_summaries SET format = format + 1", [])
        .expect("update");
    assert_eq!(bodies(&page(&server, &recent)), ["the needle"]);
}

/// Rows passed over unread still count, against a larger budget: a trace
/// no row holds ends a page at it, with a cursor that goes on.
#[test]
fn passing_over_rows_has_a_budget_too() {
    let server = TestServer::start();
    let t = now() - 60.0;
    send_logs(&server, vec![line(t, "info", "the needle", "prod")]);
    let mut conn = rusqlite::Connection::open(server.db_path()).expect("open");
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy");
    let tx = conn.transaction().expect("begin");
    for _ in 0..receiver::api::LOGS_MAX_ROWS_EXAMINED {
        let summary = receiver::store::container_entries::Summary {
            earliest: Some(t),
            latest: Some(t),
            traces: receiver::store::container_entries::TraceFilter::from_bytes(Vec::new()),
        };
        insert_summarised_row(&tx, &[0], &summary);
    }
    tx.commit().expect("commit");
    let first = page(&server, &format!("trace={TRACE}"));
    assert!(first.logs.is_empty(), "{:?}", first.logs);
    let cursor = first.cursor.expect("a cursor to go on");
    let second = page(&server, &format!("trace={TRACE}&cursor={cursor}"));
    assert_eq!(bodies(&second), ["the needle"]);
    assert_eq!(second.cursor, None);
}

/// Inserts a stored `log` row holding the compressed `blob` with its
/// summary straight into the database, as ingestion stores them.
fn insert_summarised_row(
    conn: &rusqlite::Connection,
    blob: &[u8],
    summary: &receiver::store::container_entries::Summary,
) {
    conn.execute(
        "INSERT INTO logs (project_id, item_count, content_type, received, payload)
         VALUES (1, 1, 'application/vnd.sentry.items.log+json', 0, ?1)",
        [blob],
    )
    .expect("insert");
    conn.execute(
        "INSERT INTO log_summaries (id, entries_from, entries_to, entry_traces)
         VALUES (last_insert_rowid(), ?1, ?2, ?3)",
        rusqlite::params![summary.earliest, summary.latest, summary.traces.as_bytes()],
    )
    .expect("insert summary");
}

/// Inserts a stored `log` row holding `payload` straight into the
/// database, as many as no test could send quickly.
fn insert_log_row(conn: &rusqlite::Connection, payload: &[u8]) {
    let blob = receiver::store::compress(payload, 1).expect("compress");
    conn.execute(
        "INSERT INTO logs (project_id, item_count, content_type, received, payload)
         VALUES (1, 1, 'application/vnd.sentry.items.log+json', 0, ?1)",
        [blob],
    )
    .expect("insert");
}

/// A line a `Value` cannot hold (nested past serde_json's limit) hides
/// only itself, not the lines sent with it.
#[test]
fn a_bad_line_hides_only_itself() {
    let server = TestServer::start();
    let deep = format!("{}1{}", "[".repeat(140), "]".repeat(140));
    let payload = format!(
        "{{\"items\":[{},{{\"body\":{deep}}},5,{}]}}",
        line(now(), "info", "sibling before", "prod"),
        line(now(), "info", "sibling after", "prod")
    );
    let conn = rusqlite::Connection::open(server.db_path()).expect("open");
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy");
    insert_log_row(&conn, payload.as_bytes());
    assert_eq!(
        bodies(&page(&server, "query=sibling")),
        ["sibling after", "sibling before"]
    );
}

/// Stored items that are large count against a request's byte budget, so
/// a scan over them ends early with a cursor rather than holding them all.
#[test]
fn large_stored_items_end_a_scan_by_their_size() {
    let server = TestServer::start();
    let conn = rusqlite::Connection::open(server.db_path()).expect("open");
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy");
    // Twelve items of 6 MiB that do not compress: past the 64 MiB budget.
    let mut rng = fastrand::Rng::with_seed(7);
    for n in 0..12 {
        let noise: String = (0..6 << 20).map(|_| rng.alphanumeric()).collect();
        let body = if n == 0 { "the needle" } else { "hay" };
        let payload = format!(
            "{{\"items\":[{},{{\"body\":\"{noise}\"}}]}}",
            line(now(), "info", body, "prod")
        );
        insert_log_row(&conn, payload.as_bytes());
    }
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    let mut found = Vec::new();
    loop {
        pages += 1;
        let mut q = "query=needle".to_owned();
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let p = page(&server, &q);
        found.extend(p.logs.iter().filter_map(|l| l.body.clone()));
        cursor = p.cursor;
        if cursor.is_none() || pages > 10 {
            break;
        }
    }
    assert_eq!(found, ["the needle"]);
    assert!(pages >= 2, "one request read every item ({pages} page)");
}

/// A line dated with an RFC 3339 string shows its time and is filtered by
/// it, as one dated in seconds.
#[test]
fn a_line_dated_as_text_keeps_its_time() {
    let server = TestServer::start();
    let dated = sentry_core::protocol::Timestamp::from_secs_f64(now() - 30.0).to_rfc3339();
    let mut text_line = line(0.0, "info", "dated as text", "prod");
    text_line["timestamp"] = json!(dated);
    let mut number_line = line(0.0, "info", "dated as a number in text", "prod");
    number_line["timestamp"] = json!(format!("{}", now() - 20.0));
    send_logs(&server, vec![text_line, number_line]);
    let p = page(&server, "statsPeriod=1h");
    assert_eq!(bodies(&p), ["dated as a number in text", "dated as text"]);
    assert!(p.logs.iter().all(|l| l.timestamp.is_some()));
}

/// Sends one `log` container with the envelope header `sent_at` at `sent_at`.
fn send_logs_sent_at(server: &TestServer, lines: Vec<Value>, sent_at: f64) {
    let sent_at = sentry_core::protocol::Timestamp::from_secs_f64(sent_at).to_rfc3339();
    let payload = json!({"version": 2, "items": lines}).to_string();
    let body = format!(
        "{{\"sent_at\":\"{sent_at}\"}}\n{{\"type\":\"log\",\"item_count\":{}}}\n{payload}\n",
        lines.len()
    );
    send(server, body.as_bytes());
}

fn seconds(iso: Option<&str>) -> f64 {
    iso.and_then(sentry_core::protocol::Timestamp::parse_rfc3339)
        .map(|t| t.as_secs_f64())
        .expect("a timestamp")
}

/// As Relay: the lines of a client whose clock is off by two hours show
/// the server's time (and a time filter finds them there); ten minutes
/// off is below the threshold and stays as sent.
#[test]
fn log_times_are_corrected_for_client_clock_drift() {
    let server = TestServer::start();
    let behind = 7_200.0;
    let sent = now() - behind;
    send_logs_sent_at(
        &server,
        vec![line(sent - 30.0, "info", "two hours behind", "prod")],
        sent,
    );
    send_logs_sent_at(
        &server,
        vec![line(
            now() - 600.0 - 30.0,
            "info",
            "ten minutes behind",
            "prod",
        )],
        now() - 600.0,
    );
    let p = page(&server, "statsPeriod=1h");
    assert_eq!(bodies(&p), ["ten minutes behind", "two hours behind"]);
    let corrected = seconds(p.logs[1].timestamp.as_deref());
    assert!((corrected - (now() - 30.0)).abs() < 10.0, "{corrected}");
    let kept = seconds(p.logs[0].timestamp.as_deref());
    assert!((kept - (now() - 630.0)).abs() < 10.0, "{kept}");
    // A window around the sent (wrong) time finds nothing. (That the row
    // summary holds the corrected times is what the `statsPeriod=1h` page
    // above shows: an uncorrected summary would pass the row over.)
    let start = sentry_core::protocol::Timestamp::from_secs_f64(sent - 60.0).to_rfc3339();
    let end = sentry_core::protocol::Timestamp::from_secs_f64(sent).to_rfc3339();
    let p = page(&server, &format!("start={start}&end={end}"));
    assert!(p.logs.is_empty(), "{:?}", bodies(&p));
}

/// The JavaScript SDK names a line's span in the
/// `sentry.trace.parent_span_id` attribute, not in `span_id`.
#[test]
fn a_line_names_its_span_either_way() {
    let server = TestServer::start();
    let mut js = line(now() - 5.0, "info", "from javascript", "prod");
    // A `span_id` that is no span id does not hide the attribute.
    js["span_id"] = json!("");
    js["attributes"]["sentry.trace.parent_span_id"] =
        json!({"type": "string", "value": "8C69068C9DEAF028"});
    send_logs(&server, vec![js]);
    let p = page(&server, "");
    assert_eq!(p.logs[0].span_id.as_deref(), Some("8c69068c9deaf028"));
}
