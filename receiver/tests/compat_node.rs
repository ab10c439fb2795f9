//! Compatibility with the official JavaScript SDK for Node
//! (`@sentry/node` 10.78.0).
//!
//! `compat/node/scenarios.js` drives the real SDK against a [`TestServer`]
//! and prints the ids it sent; this test checks what the receiver stored
//! and how it grouped it, straight from the database. The Node SDK differs
//! from the Python one on the wire (PROTOCOL.md §0): the key in the query
//! string and no auth header, no Content-Type, a chunked body, JSON items
//! without `length`, no newline after the last payload, float timestamps.
//!
//! The SDK comes from `$COMPAT_NODE_MODULES` (a `node_modules` directory;
//! CI sets it), else `target/compat-node/node_modules` of the workspace,
//! filled with `npm install` when it lacks that version. Not being able to
//! get the SDK (or Node) is a failure, never a skip.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use receiver::store::quotas::NewQuota;
use receiver::testing::TestServer;
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

#[path = "support/compat.rs"]
mod compat;
use compat::{count, event_row, exceptions, ids, open, run, run_sdk_script, workspace_root};

const SDK_VERSION: &str = "10.78.0";
const NPM_TIMEOUT: Duration = Duration::from_secs(600);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
const STORE_TIMEOUT: Duration = Duration::from_secs(30);

/// The version of `@sentry/node` installed in `modules`, if any.
fn installed_version(modules: &Path) -> Option<String> {
    let manifest = modules.join("@sentry").join("node").join("package.json");
    let text = std::fs::read_to_string(manifest).ok()?;
    let json: Value = serde_json::from_str(&text).ok()?;
    json["version"].as_str().map(str::to_owned)
}

/// A `node_modules` directory with `@sentry/node` 10.78.0, made once for
/// all the tests of this file (they run in parallel); panics with what went
/// wrong.
fn node_modules_with_sdk() -> PathBuf {
    static MODULES: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    MODULES.get_or_init(install_sdk).clone()
}

fn install_sdk() -> PathBuf {
    if let Some(modules) = std::env::var_os("COMPAT_NODE_MODULES") {
        let modules = PathBuf::from(modules);
        match installed_version(&modules) {
            Some(v) if v == SDK_VERSION => return modules,
            found => panic!(
                "COMPAT_NODE_MODULES={} does not hold @sentry/node {SDK_VERSION} (found \
                 {found:?}); run `npm install --prefix <dir> @sentry/node@{SDK_VERSION}` or unset \
                 COMPAT_NODE_MODULES",
                modules.display()
            ),
        }
    }
    let prefix = workspace_root().join("target").join("compat-node");
    let modules = prefix.join("node_modules");
    if installed_version(&modules).as_deref() == Some(SDK_VERSION) {
        return modules;
    }
    if let Err(e) = std::fs::create_dir_all(&prefix) {
        panic!("cannot create {}: {e}", prefix.display());
    }
    let installed = run(
        Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&prefix)
            .args([
                "--no-audit",
                "--no-fund",
                "--no-package-lock",
                "--loglevel=error",
                &format!("@sentry/node@{SDK_VERSION}"),
            ]),
        NPM_TIMEOUT,
    );
    let failure = match installed {
        Ok(out) if out.success => None,
        Ok(out) => Some(format!("npm exited {}: {}", out.status, out.stderr.trim())),
        Err(e) => Some(e),
    };
    if let Some(failure) = failure {
        panic!(
            "cannot install @sentry/node {SDK_VERSION} into {}: {failure}\nThe SDK compatibility \
             test needs Node 18 or later with npm, and the npm registry once (or \
             COMPAT_NODE_MODULES set to a node_modules directory that has the SDK)",
            prefix.display()
        );
    }
    assert_eq!(
        installed_version(&modules).as_deref(),
        Some(SDK_VERSION),
        "@sentry/node {SDK_VERSION} was installed into {} but is not there",
        prefix.display()
    );
    modules
}

/// Runs `compat/node/{name}` against `server`; returns the JSON it prints.
fn run_script(server: &TestServer, name: &str) -> Value {
    let modules = node_modules_with_sdk();
    let script = workspace_root().join("compat").join("node").join(name);
    let mut command = Command::new("node");
    command
        .arg(&script)
        .env("NODE_PATH", &modules)
        .env_remove("NODE_OPTIONS");
    run_sdk_script(command, &script, server, SCRIPT_TIMEOUT)
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
fn the_official_node_sdk_is_stored_and_grouped() {
    let server = TestServer::start();
    let sent = run_script(&server, "scenarios.js");
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
    // `close` resolves once the SDK's requests are answered, and the
    // receiver answers after its commit; the wait only bounds a surprise.
    wait_for(&conn, "SELECT COUNT(*) FROM events", expected_events);
    for table in ["transactions", "sessions", "feedback", "check_ins", "logs"] {
        wait_for(&conn, &format!("SELECT COUNT(*) FROM {table}"), 1);
    }
    assert_eq!(expected_events, 8, "{sent}");
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM events"),
        expected_events,
        "exactly the events the SDK sent"
    );
    let mut issue_of = BTreeMap::new();

    // An error with a `cause`: the linked-errors integration sends the
    // cause first; the title comes from the outermost error.
    let handled = &ids(&sent, "handled")[0];
    let (issue, kind, level, title) = event_row(&conn, handled);
    assert_eq!(title, "Error: config load failed: bad port");
    assert_eq!((kind.as_str(), level.as_str()), ("error", "error"));
    let chain = exceptions(&server, handled);
    let types: Vec<&str> = chain.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types, ["TypeError", "Error"], "chain: {chain:?}");
    assert_eq!(chain[0]["value"], "invalid port: not-a-number");
    assert_eq!(chain[1]["mechanism"]["handled"], true);
    let frames = chain[1]["stacktrace"]["frames"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        frames
            .iter()
            .any(|f| f["function"] == "loadConfig" && f["in_app"] == true),
        "the handled error's stack names loadConfig as in-app: {frames:?}"
    );
    issue_of.insert("handled", issue);

    let unhandled = &ids(&sent, "unhandled")[0];
    let (issue, _, level, title) = event_row(&conn, unhandled);
    assert_eq!(title, "Error: unhandled failure 42");
    assert_eq!(level, "error");
    let chain = exceptions(&server, unhandled);
    let last = chain.last().unwrap_or_else(|| panic!("no exception"));
    assert_eq!(last["mechanism"]["handled"], false, "{last}");
    assert_eq!(last["mechanism"]["type"], "onuncaughtexception");
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
    assert_eq!(stored["platform"], "node");
    assert_eq!(stored["sdk"]["name"], "sentry.javascript.node");
    assert_eq!(stored["sdk"]["version"], SDK_VERSION);
    assert_eq!(stored["release"], "compat-node@1.0.0");
    issue_of.insert("message", issue);

    // Three RangeErrors thrown by one line: one issue with three events,
    // although each message names another user id.
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
    assert!(a_title.starts_with("RangeError: user "), "{a_title}");
    issue_of.insert("group_a", a_issue);

    let group_b = &ids(&sent, "group_b")[0];
    let (b_issue, _, _, b_title) = event_row(&conn, group_b);
    assert_eq!(b_title, "SyntaxError: cannot split 999 cents by zero");
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

    // The transaction and its spans: db.query and http.client under the
    // root span, cache.get under db.query.
    let trace_id = sent["transaction_trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no transaction_trace_id in {sent}"))
        .to_owned();
    let root_span = sent["transaction_span_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no transaction_span_id in {sent}"))
        .to_owned();
    let (tx_id, name, op, span_id, release): (i64, String, String, String, Option<String>) = conn
        .query_row(
            "SELECT id, name, op, span_id, release FROM transactions WHERE trace_id = ?1",
            [&trace_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()
        .unwrap_or_else(|e| panic!("transaction: {e}"))
        .unwrap_or_else(|| panic!("no transaction with trace {trace_id}"));
    assert_eq!((name.as_str(), op.as_str()), ("compat-transaction", "task"));
    assert_eq!(span_id, root_span);
    assert_eq!(release.as_deref(), Some("compat-node@1.0.0"));
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

    // The session the script started and ended: one update, `init` and
    // `exited` at once, with the SDK's release and environment (the Node
    // SDK counts errors into a session only from request isolation scopes,
    // so `errors` is what it sent: 0).
    let sessions: Vec<(bool, String, i64, String, Option<String>)> = conn
        .prepare("SELECT init, status, errors, release, environment FROM sessions")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .and_then(|rows| rows.collect())
        })
        .unwrap_or_else(|e| panic!("sessions: {e}"));
    assert_eq!(
        sessions,
        [(
            true,
            "exited".to_owned(),
            0,
            "compat-node@1.0.0".to_owned(),
            Some("ci".to_owned())
        )]
    );

    // User feedback (the `feedback` item), tied to the message it is about.
    let feedback_id = &ids(&sent, "feedback")[0];
    let feedback: (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    ) = conn
        .query_row(
            "SELECT kind, associated_event_id, name, email, message FROM feedback
             WHERE event_id = ?1",
            [feedback_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()
        .unwrap_or_else(|e| panic!("feedback: {e}"))
        .unwrap_or_else(|| panic!("no feedback {feedback_id}"));
    assert_eq!(
        feedback,
        (
            "feedback".to_owned(),
            Some(message.clone()),
            Some("Compat Tester".to_owned()),
            Some("tester@example.com".to_owned()),
            "the compat page is slow".to_owned()
        )
    );

    // The check-in, with the id the SDK returned.
    let check_in_id = &ids(&sent, "check_in")[0];
    let check_in: (String, String, Option<f64>, Option<String>) = conn
        .query_row(
            "SELECT monitor_slug, status, duration, environment FROM check_ins
             WHERE check_in_id = ?1",
            [check_in_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .unwrap_or_else(|e| panic!("check-in: {e}"))
        .unwrap_or_else(|| panic!("no check-in {check_in_id}"));
    assert_eq!(
        check_in,
        (
            "compat-job".to_owned(),
            "ok".to_owned(),
            Some(1.5),
            Some("ci".to_owned())
        )
    );

    // The structured log line (a `log` container of one item).
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
    assert_eq!(log.release.as_deref(), Some("compat-node@1.0.0"));
    assert_eq!(log.attributes["attempt"], 3, "{log:?}");

    // Nothing was refused or left unread.
    let outcomes = server.outcomes();
    assert!(outcomes.is_empty(), "outcomes: {outcomes:?}");
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM raw_items"), 0);
}

/// The official Node SDK obeys the receiver's quota (PROTOCOL.md §4.2):
/// the `200` that uses the error quota up carries `X-Sentry-Rate-Limits`,
/// the SDK holds the next errors back itself and reports them in client
/// reports, and a transaction (not covered) still arrives.
#[test]
fn the_official_node_sdk_obeys_a_receiver_quota() {
    let server = TestServer::start();
    server
        .add_quota(NewQuota::project(server.project_id(), &["error"], 1, 3600))
        .expect("quota");
    let sent = run_script(&server, "rate_limits.js");
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
    // Held back by the SDK, not refused by the receiver (that would be
    // `rate_limited` rows).
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

/// Span streaming (`traceLifecycle: "stream"`): the Node SDK sends v2 span
/// containers instead of a transaction. The segment is listed as a
/// transaction and the trace view holds every span under it.
#[test]
fn the_official_node_sdk_streams_spans_into_transactions_and_traces() {
    use receiver::api::types::{Trace, Transaction};

    let server = TestServer::start();
    let sent = run_script(&server, "streaming.js");
    let trace_id = sent["trace_id"].as_str().unwrap_or_default().to_owned();
    let segment = sent["segment_span_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!((trace_id.len(), segment.len()), (32, 16), "{sent}");
    let conn = open(server.db_path());
    wait_for(&conn, "SELECT COUNT(*) FROM span_items", 1);

    let listed: Vec<Transaction> = server
        .api_json("/api/0/local/transactions/")
        .unwrap_or_else(|e| panic!("transactions: {e}"));
    assert_eq!(listed.len(), 1, "{listed:?}");
    let tx = &listed[0];
    assert_eq!(tx.transaction.as_deref(), Some("streamed-segment"));
    assert_eq!(tx.op.as_deref(), Some("task"));
    assert_eq!(tx.status.as_deref(), Some("ok"));
    assert_eq!(tx.trace_id.as_deref(), Some(trace_id.as_str()));
    assert_eq!(tx.span_id.as_deref(), Some(segment.as_str()));
    assert_eq!(tx.release.as_deref(), Some("compat-node@1.0.0"));
    assert_eq!(tx.environment.as_deref(), Some("ci"));

    let trace: Trace = server
        .api_json(&format!("/api/0/local/traces/{trace_id}/"))
        .unwrap_or_else(|e| panic!("trace: {e}"));
    assert_eq!((trace.transactions, trace.spans), (1, 3), "{trace:?}");
    assert_eq!(trace.roots.len(), 1, "{trace:?}");
    let root = &trace.roots[0];
    assert!(root.is_segment);
    assert_eq!(root.span_id, segment);
    let query = &root.children[0];
    assert_eq!(
        (query.op.as_deref(), query.description.as_deref()),
        (Some("db.query"), Some("SELECT 2"))
    );
    assert_eq!(query.children[0].op.as_deref(), Some("cache.get"));
    let outcomes = server.outcomes();
    assert!(outcomes.is_empty(), "outcomes: {outcomes:?}");
}
