//! Compatibility with the official Python SDK (`sentry-sdk` 2.75.0).
//!
//! `compat/python/scenarios.py` drives the real SDK against a
//! [`TestServer`] and prints the event ids it sent; this test then checks
//! what the receiver stored and how it grouped it, straight from the
//! database.
//!
//! The interpreter is `$COMPAT_PYTHON` when set (CI sets it), else the venv
//! `target/compat-venv` of the workspace, created with `python3 -m venv` and
//! given `sentry-sdk==2.75.0` with pip when missing. Not being able to get
//! the SDK is a failure, never a skip: the point of the test is that it
//! runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use receiver::testing::TestServer;
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

#[path = "support/compat.rs"]
mod compat;
use compat::{count, event_row, exceptions, ids, open, run, run_sdk_script, workspace_root};

const SDK_VERSION: &str = "2.75.0";
const VENV_TIMEOUT: Duration = Duration::from_secs(180);
const PIP_TIMEOUT: Duration = Duration::from_secs(600);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
const STORE_TIMEOUT: Duration = Duration::from_secs(30);

/// The `sentry_sdk.VERSION` that `python` imports, if any.
fn sdk_version(python: &Path) -> Option<String> {
    let out = run(
        Command::new(python).args(["-c", "import sentry_sdk; print(sentry_sdk.VERSION)"]),
        Duration::from_secs(60),
    )
    .ok()?;
    out.success.then(|| out.stdout.trim().to_owned())
}

/// An interpreter with `sentry-sdk==2.75.0`, made once for all the tests
/// of this file (they run in parallel); panics with what went wrong.
fn python_with_sdk() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(install_python_with_sdk).clone()
}

fn install_python_with_sdk() -> PathBuf {
    if let Some(python) = std::env::var_os("COMPAT_PYTHON") {
        let python = PathBuf::from(python);
        match sdk_version(&python) {
            Some(v) if v == SDK_VERSION => return python,
            found => panic!(
                "COMPAT_PYTHON={} does not provide sentry-sdk {SDK_VERSION} (found {found:?}); \
                 run `{} -m pip install sentry-sdk=={SDK_VERSION}` or unset COMPAT_PYTHON",
                python.display(),
                python.display()
            ),
        }
    }
    let venv = workspace_root().join("target").join("compat-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let made = run(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            VENV_TIMEOUT,
        );
        match made {
            Ok(out) if out.success => {}
            Ok(out) => panic!(
                "cannot create the Python venv {} for the SDK compatibility test \
                 (`python3 -m venv` exited {}): {}\nInstall python3 with its venv module, or set \
                 COMPAT_PYTHON to an interpreter that has sentry-sdk {SDK_VERSION}",
                venv.display(),
                out.status,
                out.stderr.trim()
            ),
            Err(e) => panic!(
                "cannot create the Python venv {} for the SDK compatibility test: {e}\nInstall \
                 python3 with its venv module, or set COMPAT_PYTHON to an interpreter that has \
                 sentry-sdk {SDK_VERSION}",
                venv.display()
            ),
        }
    }
    if sdk_version(&python).as_deref() != Some(SDK_VERSION) {
        let installed = run(
            Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("sentry-sdk=={SDK_VERSION}"),
            ]),
            PIP_TIMEOUT,
        );
        let failure = match installed {
            Ok(out) if out.success => None,
            Ok(out) => Some(format!("pip exited {}: {}", out.status, out.stderr.trim())),
            Err(e) => Some(e),
        };
        if let Some(failure) = failure {
            panic!(
                "cannot install sentry-sdk {SDK_VERSION} into {}: {failure}\nThe SDK \
                 compatibility test needs PyPI once (or COMPAT_PYTHON set to an interpreter that \
                 has the SDK)",
                venv.display()
            );
        }
        let found = sdk_version(&python);
        assert_eq!(
            found.as_deref(),
            Some(SDK_VERSION),
            "sentry-sdk {SDK_VERSION} was installed into {} but does not import",
            venv.display()
        );
    }
    python
}

/// Runs the scenario script against `server`; returns its JSON of ids.
fn run_scenarios(python: &Path, server: &TestServer) -> Value {
    run_script(python, server, "scenarios.py")
}

/// Runs `compat/python/{name}` against `server`; returns the JSON it prints.
fn run_script(python: &Path, server: &TestServer, name: &str) -> Value {
    let script = workspace_root().join("compat").join("python").join(name);
    let mut command = Command::new(python);
    command.arg(&script);
    run_sdk_script(command, &script, server, SCRIPT_TIMEOUT)
}

#[test]
fn the_official_python_sdk_is_stored_and_grouped() {
    let python = python_with_sdk();
    let server = TestServer::start();
    let sent = run_scenarios(&python, &server);
    let conn = open(server.db_path());

    // The SDK flushes before the script prints; the receiver answers after
    // commit. Still, wait (bounded) for everything to be visible.
    let expected_events = [
        "handled",
        "unhandled",
        "message",
        "group_a",
        "group_b",
        "attachment",
    ]
    .iter()
    .map(|s| ids(&sent, s).len() as i64)
    .sum::<i64>();
    let deadline = Instant::now() + STORE_TIMEOUT;
    loop {
        let have = (
            count(&conn, "SELECT COUNT(*) FROM events"),
            count(&conn, "SELECT COUNT(*) FROM transactions"),
            count(&conn, "SELECT COUNT(*) FROM sessions"),
            count(&conn, "SELECT COUNT(*) FROM attachments"),
        );
        if have.0 >= expected_events && have.1 >= 1 && have.2 >= 1 && have.3 >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not everything arrived within {STORE_TIMEOUT:?}: (events, transactions, sessions, \
             attachments) = {have:?}, expected {expected_events} events; script reported {sent}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM events"),
        expected_events,
        "exactly the events the SDK sent"
    );
    let mut issue_of = BTreeMap::new();

    // A handled, chained exception: root cause first, the title from the
    // outermost exception.
    let handled = &ids(&sent, "handled")[0];
    let (issue, kind, level, title) = event_row(&conn, handled);
    assert_eq!(title, "RuntimeError: config load failed: bad port");
    assert_eq!((kind.as_str(), level.as_str()), ("error", "error"));
    let chain = exceptions(&server, handled);
    let types: Vec<&str> = chain.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types, ["ValueError", "RuntimeError"], "chain: {chain:?}");
    assert_eq!(chain[1]["value"], "config load failed: bad port");
    assert!(
        chain[0]["value"]
            .as_str()
            .is_some_and(|v| v.contains("not-a-number")),
        "cause: {}",
        chain[0]
    );
    assert_eq!(chain[1]["mechanism"]["handled"], true);
    let frames = chain[1]["stacktrace"]["frames"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(frames >= 1, "the handled exception has a stack trace");
    issue_of.insert("handled", issue);

    // What the excepthook integration sends for an uncaught exception.
    let unhandled = &ids(&sent, "unhandled")[0];
    let (issue, _, level, title) = event_row(&conn, unhandled);
    assert_eq!(title, "ValueError: unhandled failure 42");
    assert_eq!(level, "error");
    let chain = exceptions(&server, unhandled);
    let last = chain.last().unwrap_or_else(|| panic!("no exception"));
    assert_eq!(last["mechanism"]["handled"], false, "{last}");
    assert_eq!(last["mechanism"]["type"], "excepthook");
    issue_of.insert("unhandled", issue);

    // A message at level warning.
    let message = &ids(&sent, "message")[0];
    let (issue, kind, level, title) = event_row(&conn, message);
    assert_eq!(
        (kind.as_str(), level.as_str(), title.as_str()),
        ("default", "warning", "compat message")
    );
    let issue_level: String = conn
        .query_row("SELECT level FROM issues WHERE id = ?1", [issue], |r| {
            r.get(0)
        })
        .unwrap_or_else(|e| panic!("issue level: {e}"));
    assert_eq!(issue_level, "warning");
    issue_of.insert("message", issue);

    // Three KeyErrors from one code line: one issue with three events.
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
    assert!(a_title.starts_with("KeyError"), "{a_title}");
    let a_events: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE issue_id = ?1",
            [a_issue],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("group_a events: {e}"));
    assert_eq!(a_events, 3);
    issue_of.insert("group_a", a_issue);

    // A different type and line: its own issue.
    let group_b = &ids(&sent, "group_b")[0];
    let (b_issue, _, _, b_title) = event_row(&conn, group_b);
    assert!(b_title.starts_with("ZeroDivisionError"), "{b_title}");
    assert_ne!(b_issue, a_issue, "group_b joined group_a's issue");
    issue_of.insert("group_b", b_issue);

    // The attachment is stored with its bytes, next to its event.
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

    // Every scenario is an issue of its own.
    let distinct: BTreeSet<i64> = issue_of.values().copied().collect();
    assert_eq!(distinct.len(), issue_of.len(), "issues: {issue_of:?}");
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM issues"),
        issue_of.len() as i64
    );

    // The transaction and its three spans: db.query and http.client under
    // the root span, cache.get under db.query.
    let trace_id = sent["transaction_trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no transaction_trace_id in {sent}"))
        .to_owned();
    let (tx_id, name, op, root_span): (i64, String, String, String) = conn
        .query_row(
            "SELECT id, name, op, span_id FROM transactions WHERE trace_id = ?1",
            [&trace_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .unwrap_or_else(|e| panic!("transaction: {e}"))
        .unwrap_or_else(|| panic!("no transaction with trace {trace_id}"));
    assert_eq!((name.as_str(), op.as_str()), ("compat-transaction", "task"));
    if let Some(span_id) = sent["transaction_span_id"].as_str() {
        assert_eq!(root_span, span_id);
    }
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

    // Release health: the session(s) carry the SDK's release and environment.
    let mut stmt = conn
        .prepare("SELECT release, environment, errors, status FROM sessions")
        .unwrap_or_else(|e| panic!("sessions: {e}"));
    let sessions: Vec<(String, Option<String>, i64, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .and_then(|rows| rows.collect())
        .unwrap_or_else(|e| panic!("sessions: {e}"));
    assert!(!sessions.is_empty());
    for (release, environment, errors, status) in &sessions {
        assert_eq!(release, "compat-app@1.0.0");
        assert_eq!(environment.as_deref(), Some("ci"));
        assert!(*errors >= 1, "the session counted the errors: {sessions:?}");
        assert!(
            ["ok", "exited", "crashed", "abnormal", "errored"].contains(&status.as_str()),
            "{status}"
        );
    }
}

/// The official SDK obeys the receiver's quota (PROTOCOL.md §4.2): the
/// `200` that uses an error quota up carries `X-Sentry-Rate-Limits`, and
/// the SDK holds the next errors back itself and says so in a client
/// report, while a transaction (not covered) still arrives.
#[test]
fn the_official_python_sdk_obeys_a_receiver_quota() {
    use receiver::store::quotas::NewQuota;

    let python = python_with_sdk();
    let server = TestServer::start();
    server
        .add_quota(NewQuota::project(server.project_id(), &["error"], 1, 3600))
        .expect("quota");
    let sent = run_script(&python, &server, "rate_limits.py");
    let messages = ids(&sent, "messages");
    assert_eq!(messages.len(), 3, "{sent}");

    let conn = open(server.db_path());
    let stored: Vec<String> = server.events().into_iter().map(|e| e.event_id).collect();
    assert_eq!(
        stored,
        [messages[0].clone()],
        "only the first message is stored"
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM transactions"), 1);
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
