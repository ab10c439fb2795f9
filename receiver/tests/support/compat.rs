//! What the compatibility tests with the official SDKs share
//! (`#[path = "support/compat.rs"] mod compat;`): running the SDK's script
//! with a deadline, reading the ids it printed, and looking at what the
//! receiver stored, straight from its database.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use receiver::testing::TestServer;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::Value;

/// The workspace's root directory (where `compat/` and `target/` are).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_owned()
}

/// What a finished command printed.
pub struct Finished {
    pub success: bool,
    pub status: String,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` to completion, killing it after `timeout`.
pub fn run(command: &mut Command, timeout: Duration) -> Result<Finished, String> {
    let shown = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{shown} did not finish within {timeout:?}"));
            }
            Err(e) => return Err(format!("waiting for {shown}: {e}")),
        }
    };
    Ok(Finished {
        success: status.success(),
        status: status.to_string(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Runs an SDK's scenario `script` (through `command`, which names the
/// interpreter and the script) against `server` with `SENTRY_DSN` set and
/// no proxy or ambient SDK settings; asserts it succeeded and returns the
/// JSON object it printed last.
pub fn run_sdk_script(
    command: Command,
    script: &Path,
    server: &TestServer,
    timeout: Duration,
) -> Value {
    let out = run_sdk_command(command, server, timeout);
    assert!(
        out.success,
        "{} exited {}\nstdout:\n{}\nstderr:\n{}",
        script.display(),
        out.status,
        out.stdout,
        out.stderr
    );
    last_json_line(script, &out.stdout)
}

/// Runs an SDK `command` against `server` (its DSN in `SENTRY_DSN`, no
/// proxy or ambient SDK settings) to its end, whatever its exit status.
pub fn run_sdk_command(mut command: Command, server: &TestServer, timeout: Duration) -> Finished {
    command.env("SENTRY_DSN", server.dsn());
    // Nothing between the SDK and the receiver, and no ambient SDK settings.
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "SENTRY_RELEASE",
        "SENTRY_ENVIRONMENT",
        "SENTRY_DEBUG",
        "SENTRY_TRACES_SAMPLE_RATE",
    ] {
        command.env_remove(var);
    }
    command.env("NO_PROXY", "127.0.0.1,localhost");
    match run(&mut command, timeout) {
        Ok(out) => out,
        Err(e) => panic!("the scenario script failed to run: {e}"),
    }
}

/// The last line of `stdout` that holds a JSON object, parsed; panics,
/// naming `script`, when there is none.
pub fn last_json_line(script: &Path, stdout: &str) -> Value {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "no JSON line in the output of {}:\n{stdout}",
                script.display()
            )
        });
    match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => panic!("{} printed invalid JSON ({e}): {line}", script.display()),
    }
}

/// The ids the script reported for `scenario`, as stored (32 lowercase hex).
pub fn ids(all: &Value, scenario: &str) -> Vec<String> {
    let list = all[scenario]
        .as_array()
        .unwrap_or_else(|| panic!("the script reported no ids for {scenario:?}: {all}"));
    list.iter()
        .map(|v| {
            let id = v
                .as_str()
                .unwrap_or_else(|| panic!("{scenario}: the SDK returned no event id ({all})"));
            id.replace('-', "").to_ascii_lowercase()
        })
        .collect()
}

/// The receiver's database, read-only.
pub fn open(db: &Path) -> Connection {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    conn.busy_timeout(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("busy timeout: {e}"));
    conn
}

/// The single integer `sql` selects.
pub fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A stored event: `(issue_id, kind, level, title)`.
pub fn event_row(conn: &Connection, event_id: &str) -> (i64, String, String, String) {
    conn.query_row(
        "SELECT issue_id, kind, level, title FROM events WHERE event_id = ?1",
        [event_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()
    .unwrap_or_else(|e| panic!("query event {event_id}: {e}"))
    .unwrap_or_else(|| panic!("event {event_id} was not stored"))
}

/// The stored event's exception values, oldest cause first.
pub fn exceptions(server: &TestServer, event_id: &str) -> Vec<Value> {
    let json = server
        .event_json(event_id)
        .unwrap_or_else(|| panic!("no stored payload for event {event_id}"));
    json["exception"]["values"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("event {event_id} has no exception values: {json}"))
}

/// Waits (bounded, 30 s) until `sql` counts at least `n` rows.
pub fn wait_for(conn: &Connection, sql: &str, n: i64) {
    let timeout = Duration::from_secs(30);
    let deadline = Instant::now() + timeout;
    loop {
        let have = count(conn, sql);
        if have >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sql}: {have} after {timeout:?}, expected {n}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The issue of the events `ids` (the scenarios' `group_a`: three errors
/// from one code line), asserted to be one issue that counts all three and
/// holds them, its title starting with `title_prefix`.
pub fn one_issue_of(conn: &Connection, ids: &[String], title_prefix: &str) -> i64 {
    assert_eq!(ids.len(), 3, "{ids:?}");
    let issues: std::collections::BTreeSet<i64> =
        ids.iter().map(|id| event_row(conn, id).0).collect();
    assert_eq!(issues.len(), 1, "group_a split over issues {issues:?}");
    let issue = *issues.iter().next().unwrap_or(&0);
    let (times_seen, title): (i64, String) = conn
        .query_row(
            "SELECT times_seen, title FROM issues WHERE id = ?1",
            [issue],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or_else(|e| panic!("group_a issue: {e}"));
    assert_eq!(times_seen, 3);
    assert!(title.starts_with(title_prefix), "{title}");
    let events: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE issue_id = ?1",
            [issue],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("group_a events: {e}"));
    assert_eq!(events, 3);
    issue
}

/// The scenarios' attachment (`compat.txt`) is stored with its bytes next
/// to event `event_id`.
pub fn assert_compat_attachment(conn: &Connection, event_id: &str) {
    let (filename, size, data): (String, i64, Vec<u8>) = conn
        .query_row(
            "SELECT filename, size, data FROM attachments WHERE event_id = ?1",
            [event_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .unwrap_or_else(|e| panic!("attachment: {e}"))
        .unwrap_or_else(|| panic!("no attachment stored for event {event_id}"));
    assert_eq!(filename, "compat.txt");
    assert_eq!(data, b"attached by compat test\n");
    assert_eq!(size, data.len() as i64);
}

/// Every scenario is an issue of its own, and there are no others.
pub fn assert_issue_per_scenario(conn: &Connection, issue_of: &BTreeMap<&str, i64>) {
    let distinct: std::collections::BTreeSet<i64> = issue_of.values().copied().collect();
    assert_eq!(distinct.len(), issue_of.len(), "issues: {issue_of:?}");
    assert_eq!(
        count(conn, "SELECT COUNT(*) FROM issues"),
        issue_of.len() as i64
    );
}

/// The scenarios' transaction (`compat-transaction`, op `task`, of the
/// trace the script reported as `transaction_trace_id`, its root span the
/// `transaction_span_id` when reported) and its three spans: db.query and
/// http.client under the root span, cache.get under db.query. Returns the
/// trace id.
pub fn assert_compat_transaction(conn: &Connection, sent: &Value) -> String {
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
    type Span = (String, Option<String>, Option<String>, String);
    let spans: BTreeMap<String, Span> = conn
        .prepare(
            "SELECT op, span_id, parent_span_id, description, trace_id FROM spans
             WHERE transaction_id = ?1 AND is_segment = 0",
        )
        .and_then(|mut stmt| {
            stmt.query_map([tx_id], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            })
            .and_then(|rows| rows.collect())
        })
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
    trace_id
}

/// The scenarios' log line (`compat log line`, attribute `attempt` 3) is
/// stored as one `log` container and read back through the API with the
/// SDK's `release`.
pub fn assert_compat_log(conn: &Connection, server: &TestServer, release: &str) {
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
    assert_eq!(log.release.as_deref(), Some(release));
    assert_eq!(log.attributes["attempt"], 3, "{log:?}");
}

/// The scenarios' metrics, recorded inside their transaction: a counter
/// `compat.jobs` of 2 with a `queue` attribute and a distribution
/// `compat.latency` of 12.5 ms, each with the SDK's release and the
/// transaction's trace id.
pub fn assert_compat_metrics(server: &TestServer, sent: &Value, release: &str) {
    let trace = sent["transaction_trace_id"].as_str().unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(30);
    let page = loop {
        let page: receiver::api::types::MetricsPage = server
            .api_json("/api/0/local/metrics/?query=compat.")
            .unwrap_or_else(|e| panic!("metrics: {e}"));
        if page.metrics.len() >= 2 || Instant::now() > deadline {
            break page;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut seen: Vec<(String, String, Option<f64>, Option<String>)> = page
        .metrics
        .iter()
        .map(|m| {
            assert_eq!(m.release.as_deref(), Some(release), "{m:?}");
            assert_eq!(m.trace_id.as_deref(), Some(trace), "{m:?}");
            (
                m.name.clone().unwrap_or_default(),
                m.metric_type.clone().unwrap_or_default(),
                m.value,
                m.unit.clone(),
            )
        })
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        [
            (
                "compat.jobs".to_owned(),
                "counter".to_owned(),
                Some(2.0),
                None
            ),
            (
                "compat.latency".to_owned(),
                "distribution".to_owned(),
                Some(12.5),
                Some("millisecond".to_owned())
            ),
        ],
        "{page:?}"
    );
    let jobs = page
        .metrics
        .iter()
        .find(|m| m.name.as_deref() == Some("compat.jobs"));
    assert_eq!(
        jobs.map(|m| m.attributes["queue"].clone()),
        Some(Value::from("default")),
        "{page:?}"
    );
}

/// What the quota scenarios check: of the three messages the script
/// reported (one request at a time, an error quota of one), only the first
/// is stored; the SDK held the other two back itself and said so in client
/// reports (`rate_limited` rows would mean the receiver refused them), and
/// the transaction it sent after them (not covered) arrived.
pub fn assert_errors_held_back(server: &TestServer, sent: &Value) {
    let messages = ids(sent, "messages");
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

/// Waits (bounded) until the events of the scenarios the script reported
/// (handled, unhandled, message, the three of group_a, group_b,
/// attachment: eight) are stored, and a row of each of `tables`; then
/// asserts that exactly those events are stored.
pub fn wait_for_scenarios(conn: &Connection, sent: &Value, tables: &[&str]) {
    let scenarios = [
        "handled",
        "unhandled",
        "message",
        "group_a",
        "group_b",
        "attachment",
    ];
    let expected: i64 = scenarios.iter().map(|s| ids(sent, s).len() as i64).sum();
    assert_eq!(expected, 8, "{sent}");
    // The SDK flushes before the script prints, and the receiver answers
    // after its commit: the wait only bounds a surprise.
    // (Not the receiver's own: the occurrences of failing monitors.)
    let sent_events = "SELECT COUNT(*) FROM events WHERE kind <> 'generic'";
    wait_for(conn, sent_events, expected);
    for table in tables {
        wait_for(conn, &format!("SELECT COUNT(*) FROM {table}"), 1);
    }
    assert_eq!(
        count(conn, sent_events),
        expected,
        "exactly the events the SDK sent"
    );
}

/// The scenarios' handled error (`handled`): its event is an `error` at
/// level `error` titled `title`, its exceptions of `types`, cause first.
/// Returns its issue and the exceptions, for the SDK's own checks.
pub fn handled_chain(
    conn: &Connection,
    server: &TestServer,
    sent: &Value,
    title: &str,
    types: &[&str],
) -> (i64, Vec<Value>) {
    let handled = &ids(sent, "handled")[0];
    let (issue, kind, level, stored_title) = event_row(conn, handled);
    assert_eq!(stored_title, title);
    assert_eq!((kind.as_str(), level.as_str()), ("error", "error"));
    let chain = exceptions(server, handled);
    let stored_types: Vec<&str> = chain.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(stored_types, types, "chain: {chain:?}");
    (issue, chain)
}

/// The scenarios' unhandled error (`unhandled`): titled `title` at
/// `level`, its last exception unhandled with mechanism `mechanism`.
/// Returns its issue and that exception.
pub fn unhandled_error(
    conn: &Connection,
    server: &TestServer,
    sent: &Value,
    (title, level, mechanism): (&str, &str, &str),
) -> (i64, Value) {
    let unhandled = &ids(sent, "unhandled")[0];
    let (issue, _, stored_level, stored_title) = event_row(conn, unhandled);
    assert_eq!(stored_title, title);
    assert_eq!(stored_level, level);
    let chain = exceptions(server, unhandled);
    let last = chain
        .last()
        .cloned()
        .unwrap_or_else(|| panic!("no exception"));
    assert_eq!(last["mechanism"]["handled"], false, "{last}");
    assert_eq!(last["mechanism"]["type"], mechanism, "{last}");
    (issue, last)
}

/// The scenarios' message (`message`): a `default` event at level
/// `warning` titled `compat message`. Returns its issue and event id.
pub fn warning_message(conn: &Connection, sent: &Value) -> (i64, String) {
    let message = ids(sent, "message")[0].clone();
    let (issue, kind, level, title) = event_row(conn, &message);
    assert_eq!(
        (kind.as_str(), level.as_str(), title.as_str()),
        ("default", "warning", "compat message")
    );
    (issue, message)
}

/// A test server whose default project takes one error per hour (the
/// quota scenarios).
pub fn with_error_quota_of_one() -> TestServer {
    use receiver::store::quotas::NewQuota;
    let server = TestServer::start();
    server
        .add_quota(NewQuota::project(server.project_id(), &["error"], 1, 3600))
        .expect("quota");
    server
}

/// Nothing the SDK sent was refused (no outcome) or kept unread (no raw
/// item).
pub fn assert_nothing_refused(server: &TestServer, conn: &Connection) {
    let outcomes = server.outcomes();
    assert!(outcomes.is_empty(), "outcomes: {outcomes:?}");
    assert_eq!(count(conn, "SELECT COUNT(*) FROM raw_items"), 0);
}

/// The scenarios' monitored job (`compat-cron`, run under the SDK's cron
/// helper: `monitor` in Python, `withMonitor` in JavaScript): its
/// `in_progress` and `ok` check-ins are one run with the SDK's duration,
/// and the config they carried is the monitor's, read through the API.
pub fn assert_compat_cron(server: &TestServer, release: &str) {
    let runs: Value = server
        .api_json("/api/0/local/check-ins/?monitor=compat-cron")
        .unwrap_or_else(|e| panic!("check-ins: {e}"));
    let runs = runs.as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len(), 1, "one run: {runs:?}");
    let run = &runs[0];
    assert_eq!(
        (&run["status"], &run["environment"], &run["release"]),
        (
            &Value::from("ok"),
            &Value::from("ci"),
            &Value::from(release)
        ),
        "{run}"
    );
    let duration = run["duration"].as_f64().unwrap_or(-1.0);
    assert!(
        (0.04..60.0).contains(&duration),
        "the SDK's duration: {run}"
    );
    let monitors: Value = server
        .api_json("/api/0/local/monitors/")
        .unwrap_or_else(|e| panic!("monitors: {e}"));
    let cron = monitors
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["monitorSlug"] == "compat-cron")
        .unwrap_or_else(|| panic!("no compat-cron in {monitors}"));
    let config = &cron["config"];
    let expected = serde_json::json!({
        "schedule": {"type": "crontab", "value": "*/10 * * * *"},
        "timezone": "Europe/Vienna", "checkinMargin": 5, "maxRuntime": 15,
        "failureIssueThreshold": 2, "recoveryThreshold": 3, "owner": null,
        "updated": config["updated"],
    });
    assert_eq!(config, &expected, "{cron}");
    assert_eq!(cron["configProblems"], serde_json::json!([]), "{cron}");
    assert_eq!(
        (&cron["lastStatus"], &cron["checkIns"]),
        (&Value::from("ok"), &Value::from(1)),
        "{cron}"
    );
}
