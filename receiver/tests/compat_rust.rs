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

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use receiver::store::quotas::NewQuota;
use receiver::testing::TestServer;
use serde_json::Value;

#[path = "support/compat.rs"]
mod compat;
use compat::{
    assert_compat_attachment, assert_compat_log, assert_compat_transaction,
    assert_errors_held_back, assert_issue_per_scenario, count, event_row, exceptions, ids,
    one_issue_of, open, run, run_sdk_script, wait_for_scenarios, workspace_root,
};

const SDK_VERSION: &str = "0.49.5";
const BUILD_TIMEOUT: Duration = Duration::from_secs(1200);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

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

#[test]
fn the_official_rust_sdk_is_stored_and_grouped() {
    let server = TestServer::start();
    let sent = run_scenario(&server, "scenarios");
    let conn = open(server.db_path());

    wait_for_scenarios(&conn, &sent, &["transactions", "sessions", "logs"]);
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
    let a_issue = one_issue_of(&conn, &ids(&sent, "group_a"), "UserNotFound: user ");
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
    assert_compat_attachment(&conn, with_attachment);
    assert_issue_per_scenario(&conn, &issue_of);
    assert_compat_transaction(&conn, &sent);

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
    assert_compat_log(&conn, &server, "compat-rust@1.0.0");

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
    assert_errors_held_back(&server, &sent);
}
