//! Compatibility with the official JavaScript SDK for Node
//! (`@sentry/node` 11.12.0).
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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use receiver::testing::TestServer;
use rusqlite::OptionalExtension;
use serde_json::Value;

#[path = "support/compat.rs"]
mod compat;
use compat::*;

const SDK_VERSION: &str = "11.12.0";
const NPM_TIMEOUT: Duration = Duration::from_secs(600);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The version of `@sentry/node` installed in `modules`, if any.
fn installed_version(modules: &Path) -> Option<String> {
    let manifest = modules.join("@sentry").join("node").join("package.json");
    let text = std::fs::read_to_string(manifest).ok()?;
    let json: Value = serde_json::from_str(&text).ok()?;
    json["version"].as_str().map(str::to_owned)
}

/// A `node_modules` directory with `@sentry/node` 11.12.0, made once for
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

#[test]
fn the_official_node_sdk_is_stored_and_grouped() {
    let server = TestServer::start();
    let sent = run_script(&server, "scenarios.js");
    let conn = open(server.db_path());

    wait_for_scenarios(
        &conn,
        &sent,
        &["transactions", "sessions", "feedback", "check_ins", "logs"],
    );
    let mut issue_of = BTreeMap::new();

    // An error with a `cause`: the linked-errors integration sends the
    // cause first; the title comes from the outermost error.
    let (issue, chain) = handled_chain(
        &conn,
        &server,
        &sent,
        "Error: config load failed: bad port",
        &["TypeError", "Error"],
    );
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

    let (issue, _) = unhandled_error(
        &conn,
        &server,
        &sent,
        (
            "Error: unhandled failure 42",
            "error",
            "onuncaughtexception",
        ),
    );
    issue_of.insert("unhandled", issue);

    // Since version 11 the SDK attaches a stack trace to messages by
    // default, as a synthetic exception: an error event that Sentry titles
    // by the function the message was captured in, without a culprit.
    let message = ids(&sent, "message")[0].clone();
    let (issue, stored) = synthetic_message(&conn, &server, &message, "compat message");
    assert_eq!(event_row(&conn, &message).2, "warning");
    assert_eq!(stored["platform"], "node");
    assert_eq!(stored["sdk"]["name"], "sentry.javascript.node");
    assert_eq!(stored["sdk"]["version"], SDK_VERSION);
    assert_eq!(stored["release"], "compat-node@1.0.0");
    issue_of.insert("message", issue);

    // Three RangeErrors thrown by one line: one issue with three events,
    // although each message names another user id.
    let a_issue = one_issue_of(&conn, &ids(&sent, "group_a"), "RangeError: user ");
    issue_of.insert("group_a", a_issue);

    let group_b = &ids(&sent, "group_b")[0];
    let (b_issue, _, _, b_title) = event_row(&conn, group_b);
    assert_eq!(b_title, "SyntaxError: cannot split 999 cents by zero");
    assert_ne!(b_issue, a_issue, "group_b joined group_a's issue");
    issue_of.insert("group_b", b_issue);

    let with_attachment = &ids(&sent, "attachment")[0];
    let (issue, _) = synthetic_message(&conn, &server, with_attachment, "with attachment");
    issue_of.insert("attachment", issue);
    assert_compat_attachment(&conn, with_attachment);
    assert_issue_per_scenario(&conn, &issue_of);
    let trace_id = assert_compat_transaction(&conn, &sent);
    let release: Option<String> = conn
        .query_row(
            "SELECT release FROM transactions WHERE trace_id = ?1",
            [&trace_id],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("transaction release: {e}"));
    assert_eq!(release.as_deref(), Some("compat-node@1.0.0"));

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
            Some(message),
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

    // The monitored job: one run, the monitor's config kept.
    assert_compat_cron(&server, "compat-node@1.0.0");

    // The structured log line (a `log` container of one item).
    assert_compat_log(&conn, &server, "compat-node@1.0.0");

    // The metrics recorded in the transaction (`trace_metric`).
    assert_compat_metrics(&server, &sent, "compat-node@1.0.0");

    assert_nothing_refused(&server, &conn);
}

/// A message the SDK sent with its default synthetic stack trace: stored
/// as an error event that keeps the message, titled by the function of its
/// last in-app frame (Sentry's title for a synthetic exception), with no
/// culprit. Returns its issue and the stored event.
fn synthetic_message(
    conn: &rusqlite::Connection,
    server: &TestServer,
    event_id: &str,
    text: &str,
) -> (i64, Value) {
    let (issue, kind, _, title) = event_row(conn, event_id);
    let stored = server
        .event_json(event_id)
        .unwrap_or_else(|| panic!("no payload for {event_id}"));
    assert_eq!(kind, "error", "{stored}");
    assert_eq!(stored["message"], text, "{stored}");
    let exception = &stored["exception"]["values"][0];
    assert_eq!(exception["mechanism"]["synthetic"], true, "{exception}");
    assert_eq!(exception["value"], text, "{exception}");
    let crash_function = exception["stacktrace"]["frames"]
        .as_array()
        .and_then(|frames| frames.iter().rev().find(|f| f["in_app"] == true))
        .and_then(|f| f["function"].as_str())
        .unwrap_or_else(|| panic!("no in-app frame with a function: {exception}"))
        .to_owned();
    assert_eq!(title, crash_function, "{stored}");
    let culprit: Option<String> = conn
        .query_row("SELECT culprit FROM issues WHERE id = ?1", [issue], |r| {
            r.get(0)
        })
        .unwrap_or_else(|e| panic!("culprit of issue {issue}: {e}"));
    assert_eq!(culprit.as_deref().unwrap_or(""), "", "issue {issue}");
    // The issue's metadata names the message and the function, as its
    // event's does, not a made-up `{function}: ""` type.
    let shown: Value = server
        .api_json(&format!("/api/0/issues/{issue}/"))
        .unwrap_or_else(|e| panic!("issue {issue}: {e}"));
    assert_eq!(
        shown["metadata"],
        serde_json::json!({"value": text, "function": crash_function}),
        "{shown}"
    );
    (issue, stored)
}

/// The official Node SDK obeys the receiver's quota (PROTOCOL.md §4.2):
/// the `200` that uses the error quota up carries `X-Sentry-Rate-Limits`,
/// the SDK holds the next errors back itself and reports them in client
/// reports, and a transaction (not covered) still arrives.
#[test]
fn the_official_node_sdk_obeys_a_receiver_quota() {
    let server = with_error_quota_of_one();
    let sent = run_script(&server, "rate_limits.js");
    assert_errors_held_back(&server, &sent);
}

/// Span streaming (`traceLifecycle: "stream"`): the Node SDK sends v2 span
/// containers instead of a transaction. The trace view nests every
/// streamed span under the segment.
#[test]
fn the_official_node_sdk_streams_spans_into_the_trace_view() {
    use receiver::api::types::Trace;

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

    let trace: Trace = server
        .api_json(&format!("/api/0/local/traces/{trace_id}/"))
        .unwrap_or_else(|e| panic!("trace: {e}"));
    assert_eq!((trace.transactions, trace.spans), (0, 3), "{trace:?}");
    assert_eq!(trace.roots.len(), 1, "{trace:?}");
    let root = &trace.roots[0];
    assert!(root.is_segment);
    assert_eq!(root.span_id, segment);
    assert_eq!(
        (
            root.op.as_deref(),
            root.description.as_deref(),
            root.status.as_deref()
        ),
        (Some("task"), Some("streamed-segment"), Some("ok"))
    );
    let query = &root.children[0];
    assert_eq!(
        (query.op.as_deref(), query.description.as_deref()),
        (Some("db.query"), Some("SELECT 2"))
    );
    assert_eq!(query.children[0].op.as_deref(), Some("cache.get"));
    // Each streamed span names its segment, as a transaction's spans name
    // their transaction, so the spans list finds them by that name.
    let named: Vec<receiver::api::types::SpanRow> = server
        .api_json("/api/0/local/spans/?transaction=streamed-segment")
        .unwrap_or_else(|e| panic!("spans: {e}"));
    assert_eq!(named.len(), 3, "{named:?}");
    assert!(
        named
            .iter()
            .all(|s| s.transaction.as_deref() == Some("streamed-segment")),
        "{named:?}"
    );
    // What `receiver wait --segments` counts: the segment, with the
    // release and environment the SDK set as its attributes.
    let stats: Value = server
        .api_json(
            "/api/0/local/stats/?fields=segments,transactions&release=compat-node@1.0.0\
             &environment=ci&transaction=streamed",
        )
        .unwrap_or_else(|e| panic!("stats: {e}"));
    assert_eq!(stats["segments"], 1, "{stats}");
    assert_eq!(stats["transactions"], 0, "{stats}");
    let outcomes = server.outcomes();
    assert!(outcomes.is_empty(), "outcomes: {outcomes:?}");
}
