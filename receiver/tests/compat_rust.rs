//! Compatibility with the official Rust SDK (the `sentry` crate 0.49.5,
//! ureq transport).
//!
//! `compat/rust` (a workspace of its own: the official crates are named
//! like ours) drives the real SDK against a [`TestServer`] and prints the
//! ids it sent; this test checks what the receiver stored and how it
//! grouped it. The Rust SDK frames requests unlike the Python and Node ones
//! (PROTOCOL.md §0): `X-Sentry-Auth` with `sentry_timestamp`, no
//! Content-Type, no compression, a `log` container without `length`.
//!
//! The program is `$COMPAT_RUST_BIN` when set (CI builds it first), else it
//! is built here with `cargo build` into `target/compat-rust` (debug).
//! Failing to build it is a failure, never a skip.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use receiver::store::quotas::NewQuota;
use receiver::testing::TestServer;
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

#[path = "support/compat.rs"]
mod compat;
use compat::{count, event_row, exceptions, ids, open, run, run_sdk_script, workspace_root};

const SDK_VERSION: &str = "0.49.5";
const BUILD_TIMEOUT: Duration = Duration::from_secs(1200);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
const STORE_TIMEOUT: Duration = Duration::from_secs(30);

/// The compat program, built once for all the tests of this file.
fn compat_binary() -> PathBuf {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(build_binary).clone()
}

fn build_binary() -> PathBuf {
    if let Some(binary) = std::env::var_os("COMPAT_RUST_BIN") {
        let binary = PathBuf::from(binary);
        assert!(
            binary.is_file(),
            "COMPAT_RUST_BIN={} is not a file; build it with `cargo build --locked \
             --manifest-path compat/rust/Cargo.toml --target-dir target/compat-rust` or unset COMPAT_RUST_BIN",
            binary.display()
        );
        return binary;
    }
    let root = workspace_root();
    let target = root.join("target").join("compat-rust");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = run(
        Command::new(cargo)
            .arg("build")
            .arg("--locked")
            .arg("--quiet")
            .arg("--manifest-path")
            .arg(root.join("compat").join("rust").join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target),
        BUILD_TIMEOUT,
    );
    match built {
        Ok(out) if out.success => {}
        Ok(out) => panic!(
            "cannot build compat/rust (cargo exited {}): {}",
            out.status,
            out.stderr.trim()
        ),
        Err(e) => panic!("cannot build compat/rust: {e}"),
    }
    let binary = target.join("debug").join("sentry-compat-rust");
    assert!(binary.is_file(), "{} was not built", binary.display());
    binary
}

/// Runs the compat program's `scenario` against `server`.
fn run_scenario(server: &TestServer, scenario: &str) -> Value {
    let binary = compat_binary();
    let mut command = Command::new(&binary);
    command.arg(scenario).env_remove("RUST_BACKTRACE");
    run_sdk_script(command, &binary, server, SCRIPT_TIMEOUT)
}

/// Waits (bounded) until `sql` counts at least `n` rows.
fn wait_for(conn: &rusqlite::Connection, sql: &str, n: i64) {
    let deadline = Instant::now() + STORE_TIMEOUT;
    loop {
        let have = count(conn, sql);
        if have >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sql}: {have} after {STORE_TIMEOUT:?}, expected {n}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_official_rust_sdk_is_stored_and_grouped() {
    let server = TestServer::start();
    let sent = run_scenario(&server, "scenarios");
    let conn = open(server.db_path());

    let scenarios = [
        "handled",
        "unhandled",
        "message",
        "group_a",
        "group_b",
        "attachment",
    ];
    let expected_events: i64 = scenarios.iter().map(|s| ids(&sent, s).len() as i64).sum();
    wait_for(&conn, "SELECT COUNT(*) FROM events", expected_events);
    for table in ["transactions", "sessions", "logs"] {
        wait_for(&conn, &format!("SELECT COUNT(*) FROM {table}"), 1);
    }
    assert_eq!(expected_events, 8, "{sent}");
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM events"),
        expected_events,
        "exactly the events the SDK sent"
    );
    let mut issue_of = BTreeMap::new();

    // An error with a `source`: the SDK sends the source first, and the
    // title comes from the outer error's type name and message.
    let handled = &ids(&sent, "handled")[0];
    let (issue, kind, level, title) = event_row(&conn, handled);
    assert_eq!(title, "ConfigError: config load failed: bad port");
    assert_eq!((kind.as_str(), level.as_str()), ("error", "error"));
    let chain = exceptions(&server, handled);
    let types: Vec<&str> = chain.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types, ["ParsePortError", "ConfigError"], "chain: {chain:?}");
    assert_eq!(chain[0]["value"], "invalid port: not-a-number");
    issue_of.insert("handled", issue);

    // A panic, through the panic integration: level fatal, unhandled.
    let unhandled = &ids(&sent, "unhandled")[0];
    let (issue, _, level, title) = event_row(&conn, unhandled);
    assert_eq!(title, "panic: unhandled failure 42");
    assert_eq!(level, "fatal");
    let chain = exceptions(&server, unhandled);
    let last = chain.last().unwrap_or_else(|| panic!("no exception"));
    assert_eq!(last["mechanism"]["type"], "panic", "{last}");
    assert_eq!(last["mechanism"]["handled"], false, "{last}");
    let frames = last["stacktrace"]["frames"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        frames.iter().any(|f| f["function"]
            .as_str()
            .is_some_and(|f| f.starts_with("sentry_compat_rust::"))),
        "the panic's stack holds the program's frames: {frames:?}"
    );
    issue_of.insert("unhandled", issue);

    let message = &ids(&sent, "message")[0];
    let (issue, kind, level, title) = event_row(&conn, message);
    assert_eq!(
        (kind.as_str(), level.as_str(), title.as_str()),
        ("default", "warning", "compat message")
    );
    let stored = server
        .event_json(message)
        .unwrap_or_else(|| panic!("no payload for {message}"));
    assert_eq!(stored["sdk"]["name"], "sentry.rust");
    assert_eq!(stored["sdk"]["version"], SDK_VERSION);
    assert_eq!(stored["release"], "compat-rust@1.0.0");
    assert_eq!(stored["environment"], "ci");
    assert!(
        stored["contexts"]["os"].is_object() && stored["contexts"]["rust"].is_object(),
        "the contexts integration's os and rust contexts are kept: {}",
        stored["contexts"]
    );
    issue_of.insert("message", issue);

    // Three errors of one type whose messages differ only by a number, with
    // no stack trace (the Rust SDK attaches none by default): grouped by
    // type and parameterised value, one issue.
    let group_a = ids(&sent, "group_a");
    assert_eq!(group_a.len(), 3);
    let a_issues: BTreeSet<i64> = group_a.iter().map(|id| event_row(&conn, id).0).collect();
    assert_eq!(a_issues.len(), 1, "group_a split over issues {a_issues:?}");
    let a_issue = *a_issues.iter().next().unwrap_or(&0);
    let (times_seen, a_title): (i64, String) = conn
        .query_row(
            "SELECT times_seen, title FROM issues WHERE id = ?1",
            [a_issue],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or_else(|e| panic!("group_a issue: {e}"));
    assert_eq!(times_seen, 3);
    assert!(a_title.starts_with("UserNotFound: user "), "{a_title}");
    issue_of.insert("group_a", a_issue);

    let group_b = &ids(&sent, "group_b")[0];
    let (b_issue, _, _, b_title) = event_row(&conn, group_b);
    assert_eq!(b_title, "ChargeError: cannot split 999 cents by zero");
    assert_ne!(b_issue, a_issue, "group_b joined group_a's issue");
    issue_of.insert("group_b", b_issue);

    let with_attachment = &ids(&sent, "attachment")[0];
    let (issue, _, _, title) = event_row(&conn, with_attachment);
    assert_eq!(title, "with attachment");
    issue_of.insert("attachment", issue);
    let (filename, size, data): (String, i64, Vec<u8>) = conn
        .query_row(
            "SELECT filename, size, data FROM attachments WHERE event_id = ?1",
            [with_attachment],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .unwrap_or_else(|e| panic!("attachment: {e}"))
        .unwrap_or_else(|| panic!("no attachment stored for event {with_attachment}"));
    assert_eq!(filename, "compat.txt");
    assert_eq!(data, b"attached by compat test\n");
    assert_eq!(size, data.len() as i64);

    let distinct: BTreeSet<i64> = issue_of.values().copied().collect();
    assert_eq!(distinct.len(), issue_of.len(), "issues: {issue_of:?}");
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM issues"),
        issue_of.len() as i64
    );

    // The transaction and its spans.
    let trace_id = sent["transaction_trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no transaction_trace_id in {sent}"))
        .to_owned();
    let root_span = sent["transaction_span_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no transaction_span_id in {sent}"))
        .to_owned();
    let (tx_id, name, op, span_id): (i64, String, String, String) = conn
        .query_row(
            "SELECT id, name, op, span_id FROM transactions WHERE trace_id = ?1",
            [&trace_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .unwrap_or_else(|e| panic!("transaction: {e}"))
        .unwrap_or_else(|| panic!("no transaction with trace {trace_id}"));
    assert_eq!((name.as_str(), op.as_str()), ("compat-transaction", "task"));
    assert_eq!(span_id, root_span);
    let mut stmt = conn
        .prepare(
            "SELECT op, span_id, parent_span_id, description, trace_id FROM spans
             WHERE transaction_id = ?1 AND is_segment = 0",
        )
        .unwrap_or_else(|e| panic!("spans: {e}"));
    let spans: BTreeMap<String, (String, Option<String>, Option<String>, String)> = stmt
        .query_map(params![tx_id], |r| {
            Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        })
        .and_then(|rows| rows.collect())
        .unwrap_or_else(|e| panic!("spans: {e}"));
    let ops: Vec<&str> = spans.keys().map(String::as_str).collect();
    assert_eq!(ops, ["cache.get", "db.query", "http.client"]);
    let span = |op: &str| &spans[op];
    assert_eq!(span("db.query").1.as_deref(), Some(root_span.as_str()));
    assert_eq!(span("http.client").1.as_deref(), Some(root_span.as_str()));
    assert_eq!(
        span("cache.get").1.as_deref(),
        Some(span("db.query").0.as_str()),
        "cache.get is a child of db.query"
    );
    assert_eq!(span("db.query").2.as_deref(), Some("SELECT 1"));
    assert!(spans.values().all(|s| s.3 == trace_id));

    // Release health: the SDK sent the session's `init` update (one error
    // so far) and then, on the panic, `crashed` with two. Through the API
    // that is one session, crashed: crash-free 0.
    let updates: Vec<(bool, String, i64, String)> = conn
        .prepare("SELECT init, status, errors, release FROM sessions ORDER BY seq")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .and_then(|rows| rows.collect())
        })
        .unwrap_or_else(|e| panic!("sessions: {e}"));
    let release = "compat-rust@1.0.0".to_owned();
    assert_eq!(
        updates,
        [
            (true, "ok".to_owned(), 1, release.clone()),
            (false, "crashed".to_owned(), 2, release)
        ]
    );
    let health: Value = server
        .api_json("/api/0/local/health/?project=1")
        .unwrap_or_else(|e| panic!("health: {e}"));
    let totals = &health["totals"];
    assert_eq!(totals["sessions"], 1, "{health}");
    assert_eq!(totals["sessionsCrashed"], 1, "{health}");
    assert_eq!(totals["crashFreeSessions"], 0.0, "{health}");

    // The log line: a `log` container of one item.
    let logs: Vec<(i64, String)> = conn
        .prepare("SELECT item_count, content_type FROM logs")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|rows| rows.collect())
        })
        .unwrap_or_else(|e| panic!("logs: {e}"));
    assert_eq!(
        logs,
        [(1, "application/vnd.sentry.items.log+json".to_owned())]
    );
    let page: receiver::api::types::LogsPage = server
        .api_json("/api/0/local/logs/")
        .unwrap_or_else(|e| panic!("logs: {e}"));
    assert_eq!(page.logs.len(), 1, "{page:?}");
    let log = &page.logs[0];
    assert_eq!(
        (log.level.as_deref(), log.body.as_deref()),
        (Some("info"), Some("compat log line"))
    );
    assert_eq!(log.release.as_deref(), Some("compat-rust@1.0.0"));
    assert_eq!(log.attributes["attempt"], 3, "{log:?}");

    let outcomes = server.outcomes();
    assert!(outcomes.is_empty(), "outcomes: {outcomes:?}");
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM raw_items"), 0);
}

/// The official Rust SDK obeys the receiver's quota (PROTOCOL.md §4.2):
/// after the `200` that uses the error quota up, it holds the next errors
/// back and reports them in client reports; a transaction still arrives.
#[test]
fn the_official_rust_sdk_obeys_a_receiver_quota() {
    let server = TestServer::start();
    server
        .add_quota(NewQuota::project(server.project_id(), &["error"], 1, 3600))
        .expect("quota");
    let sent = run_scenario(&server, "rate-limits");
    let messages = ids(&sent, "messages");
    assert_eq!(messages.len(), 3, "{sent}");

    let conn = open(server.db_path());
    wait_for(&conn, "SELECT COUNT(*) FROM transactions", 1);
    let stored: Vec<String> = server.events().into_iter().map(|e| e.event_id).collect();
    assert_eq!(
        stored,
        [messages[0].clone()],
        "only the first message is stored"
    );
    assert_eq!(
        server.outcomes(),
        [(
            "discarded".to_owned(),
            "ratelimit_backoff".to_owned(),
            "error".to_owned(),
            2
        )]
    );
}
