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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use receiver::testing::TestServer;
use serde_json::Value;

#[path = "support/compat.rs"]
mod compat;
use compat::*;

const SDK_VERSION: &str = "2.75.0";
const VENV_TIMEOUT: Duration = Duration::from_secs(180);
const PIP_TIMEOUT: Duration = Duration::from_secs(600);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

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

    wait_for_scenarios(
        &conn,
        &sent,
        &["transactions", "sessions", "attachments", "check_ins"],
    );
    let mut issue_of = BTreeMap::new();

    // A handled, chained exception: root cause first, the title from the
    // outermost exception.
    let (issue, chain) = handled_chain(
        &conn,
        &server,
        &sent,
        "RuntimeError: config load failed: bad port",
        &["ValueError", "RuntimeError"],
    );
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
    let (issue, _) = unhandled_error(
        &conn,
        &server,
        &sent,
        ("ValueError: unhandled failure 42", "error", "excepthook"),
    );
    issue_of.insert("unhandled", issue);

    // A message at level warning.
    let (issue, _) = warning_message(&conn, &sent);
    let issue_level: String = conn
        .query_row("SELECT level FROM issues WHERE id = ?1", [issue], |r| {
            r.get(0)
        })
        .unwrap_or_else(|e| panic!("issue level: {e}"));
    assert_eq!(issue_level, "warning");
    issue_of.insert("message", issue);

    // Three KeyErrors from one code line: one issue with three events.
    let a_issue = one_issue_of(&conn, &ids(&sent, "group_a"), "KeyError");
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
    assert_compat_attachment(&conn, with_attachment);

    // The failing monitored job opened a monitor issue: one event, which
    // says what failed.
    let (monitor_issue, message): (i64, String) = conn
        .query_row(
            "SELECT i.id, e.title FROM issues i JOIN events e ON e.issue_id = i.id
             WHERE i.title = 'Monitor failure: compat-cron-failing' AND e.kind = 'generic'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or_else(|e| panic!("the monitor issue: {e}"));
    assert_eq!(message, "Monitor failure: compat-cron-failing");
    let occurrence: Value = server
        .api_json(&format!("/api/0/issues/{monitor_issue}/events/latest/"))
        .unwrap_or_else(|e| panic!("the occurrence: {e}"));
    assert_eq!(
        (&occurrence["message"], &occurrence["release"]["version"]),
        (
            &Value::from("An error check-in was detected"),
            &Value::from("compat-app@1.0.0")
        ),
        "{occurrence}"
    );
    issue_of.insert("failing cron", monitor_issue);

    // Every scenario is an issue of its own.
    assert_issue_per_scenario(&conn, &issue_of);

    // The transaction and its three spans.
    assert_compat_transaction(&conn, &sent);

    // The monitored job: one run, the monitor's config kept.
    assert_compat_cron(&server, "compat-app@1.0.0");

    // The metrics recorded in the transaction (`trace_metric`).
    assert_compat_metrics(&server, &sent, "compat-app@1.0.0");

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

/// An exception nobody catches: the SDK's excepthook integration reports
/// it, unhandled, and its atexit integration sends it before the
/// interpreter exits with the exception's status.
#[test]
fn the_official_python_sdk_reports_an_uncaught_exception() {
    let python = python_with_sdk();
    let server = TestServer::start();
    let script = workspace_root()
        .join("compat")
        .join("python")
        .join("uncaught.py");
    let mut command = Command::new(&python);
    command.arg(&script);
    let out = run_sdk_command(command, &server, SCRIPT_TIMEOUT);
    assert!(!out.success, "the script should die of its exception");
    assert!(
        out.stderr.contains("ValueError: uncaught failure 7"),
        "{}",
        out.stderr
    );
    let sent = last_json_line(&script, &out.stdout);
    let conn = open(server.db_path());
    wait_for(&conn, "SELECT COUNT(*) FROM events", 1);
    unhandled_error(
        &conn,
        &server,
        &sent,
        ("ValueError: uncaught failure 7", "error", "excepthook"),
    );
}

/// The official SDK obeys the receiver's quota (PROTOCOL.md §4.2): the
/// `200` that uses an error quota up carries `X-Sentry-Rate-Limits`, and
/// the SDK holds the next errors back itself and says so in a client
/// report, while a transaction (not covered) still arrives.
#[test]
fn the_official_python_sdk_obeys_a_receiver_quota() {
    let python = python_with_sdk();
    let server = with_error_quota_of_one();
    let sent = run_script(&python, &server, "rate_limits.py");
    assert_errors_held_back(&server, &sent);
}

/// The Python SDK's continuous profiler (trace lifecycle: chunks, no
/// `profile` item): the transaction's profile comes from the chunks that
/// cover it, its own thread between its start and end; the profiler's
/// session is listed and summarised over every thread.
#[test]
fn the_official_python_sdks_continuous_profile_says_where_the_time_went() {
    use receiver::api::types::{ProfileDetail, ProfilerDetail, ProfilersPage};

    let python = python_with_sdk();
    let server = TestServer::start();
    let sent = run_script(&python, &server, "continuous_profiling.py");
    let conn = open(server.db_path());
    wait_for(&conn, "SELECT COUNT(*) FROM profile_chunks", 1);
    wait_for(
        &conn,
        "SELECT COUNT(*) FROM transactions WHERE name = 'continuously-profiled'",
        1,
    );
    let (event_id, trace_id): (String, String) = conn
        .query_row(
            "SELECT event_id, trace_id FROM transactions WHERE name = 'continuously-profiled'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("the transaction");
    assert_eq!(sent["trace_id"].as_str(), Some(trace_id.as_str()));
    let profiles: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM raw_items WHERE item_type = 'profile'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(profiles, 0, "the trace lifecycle sends chunks only");

    let page: ProfilersPage = server
        .api_json("/api/0/local/profilers/")
        .unwrap_or_else(|e| panic!("profilers: {e}"));
    assert_eq!(page.profilers.len(), 1, "{page:?}");
    let session = &page.profilers[0];
    assert_eq!(session.platform.as_deref(), Some("python"), "{session:?}");
    assert_eq!(session.release.as_deref(), Some("compat-continuous@1.0.0"));
    assert!(session.chunks >= 1 && session.samples > 0, "{session:?}");

    let detail: ProfileDetail = server
        .api_json(&format!("/api/0/local/profiles/{}/", &event_id[..8]))
        .unwrap_or_else(|e| panic!("profile: {e}"));
    assert_eq!(
        detail.profile.profiler_id.as_deref(),
        Some(session.profiler_id.as_str())
    );
    assert_eq!(
        detail.profile.transaction.as_deref(),
        Some("continuously-profiled")
    );
    let shown = detail
        .threads
        .iter()
        .find(|t| Some(t.id.as_str()) == detail.thread_id.as_deref())
        .unwrap_or_else(|| panic!("no shown thread in {detail:?}"));
    assert_eq!(
        shown.name.as_deref(),
        Some("MainThread"),
        "{:?}",
        detail.threads
    );
    let names: Vec<&str> = detail
        .functions
        .iter()
        .map(|f| f.function.as_str())
        .collect();
    assert_eq!(names.first(), Some(&"busy"), "{names:?}");
    assert!(
        detail.functions[0].self_ms > 150.0,
        "{:?}",
        detail.functions[0]
    );
    assert!(names.contains(&"wait"), "{names:?}");
    assert!(
        !names.contains(&"spin"),
        "another thread's function: {names:?}"
    );
    // Only samples within the transaction: at most its duration (and one
    // sample's time) however long the chunk.
    let duration = detail.profile.duration_ms.expect("a duration");
    assert!(
        detail.sampled_ms <= duration + 50.0,
        "{} > {duration}",
        detail.sampled_ms
    );

    let spinner = detail
        .threads
        .iter()
        .find(|t| t.name.as_deref() == Some("spinner"))
        .unwrap_or_else(|| panic!("no spinner thread in {:?}", detail.threads));
    let whole: ProfilerDetail = server
        .api_json(&format!(
            "/api/0/local/profilers/{}/?thread={}",
            session.profiler_id, spinner.id
        ))
        .unwrap_or_else(|e| panic!("profiler: {e}"));
    assert_eq!(whole.chunks_read, session.chunks);
    assert_eq!(whole.thread_id.as_deref(), Some(spinner.id.as_str()));
    let spin = whole
        .functions
        .iter()
        .find(|f| f.function == "spin")
        .unwrap_or_else(|| panic!("no spin in {:?}", whole.functions));
    assert!(spin.total_ms > 150.0, "{spin:?}");
}

/// The Python SDK's transaction profiler: `receiver profiles` lists the
/// profile with its transaction, and `profiles/{id}/` says where the main
/// thread's time went: most of it in `busy`, the rest in `wait`.
#[test]
fn the_official_python_sdks_profile_says_where_the_time_went() {
    use receiver::api::types::{ProfileDetail, ProfilesPage};

    let python = python_with_sdk();
    let server = TestServer::start();
    let sent = run_script(&python, &server, "profiling.py");
    let trace_id = sent["trace_id"].as_str().unwrap_or_default().to_owned();
    let conn = open(server.db_path());
    wait_for(
        &conn,
        "SELECT COUNT(*) FROM raw_items WHERE item_type = 'profile'",
        1,
    );
    let page: ProfilesPage = server
        .api_json("/api/0/local/profiles/")
        .unwrap_or_else(|e| panic!("profiles: {e}"));
    assert_eq!(page.profiles.len(), 1, "{page:?}");
    let row = &page.profiles[0];
    assert_eq!(row.transaction.as_deref(), Some("profiled-task"), "{row:?}");
    assert_eq!(row.trace_id.as_deref(), Some(trace_id.as_str()), "{row:?}");
    assert_eq!(row.platform.as_deref(), Some("python"));
    assert!(row.samples > 0, "{row:?}");

    // By the first eight digits, as the CLI's table shows the id.
    let short = &row.transaction_id[..8];
    let detail: ProfileDetail = server
        .api_json(&format!("/api/0/local/profiles/{short}/"))
        .unwrap_or_else(|e| panic!("profile: {e}"));
    let main = detail
        .threads
        .iter()
        .find(|t| t.name.as_deref() == Some("MainThread"))
        .unwrap_or_else(|| panic!("no main thread in {:?}", detail.threads));
    assert_eq!(detail.thread_id.as_deref(), Some(main.id.as_str()));
    let names: Vec<&str> = detail
        .functions
        .iter()
        .map(|f| f.function.as_str())
        .collect();
    assert_eq!(names.first(), Some(&"busy"), "{names:?}");
    let busy = &detail.functions[0];
    assert!(busy.self_ms > 150.0, "{busy:?}");
    let wait = detail
        .functions
        .iter()
        .find(|f| f.function == "wait")
        .unwrap_or_else(|| panic!("no wait in {names:?}"));
    assert!(wait.self_ms > 50.0, "{wait:?}");
    let root = detail
        .functions
        .iter()
        .find(|f| f.function == "main")
        .unwrap_or_else(|| panic!("no main in {names:?}"));
    // Each time is rounded to the microsecond: a sum may pass by that.
    assert!(
        root.total_ms + 0.01 >= busy.self_ms + wait.self_ms,
        "{root:?} {busy:?} {wait:?}"
    );
}
