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

use receiver::testing::TestServer;
use serde_json::Value;

#[path = "support/compat.rs"]
mod compat;
use compat::*;

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
    let (issue, chain) = handled_chain(
        &conn,
        &server,
        &sent,
        "ConfigError: config load failed: bad port",
        &["ParsePortError", "ConfigError"],
    );
    assert_eq!(chain[0]["value"], "invalid port: not-a-number");
    issue_of.insert("handled", issue);

    // A panic, through the panic integration: level fatal, unhandled.
    let (issue, last) = unhandled_error(
        &conn,
        &server,
        &sent,
        ("panic: unhandled failure 42", "fatal", "panic"),
    );
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

    let (issue, message) = warning_message(&conn, &sent);
    let stored = server
        .event_json(&message)
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

    assert_nothing_refused(&server, &conn);
}

/// The official Rust SDK obeys the receiver's quota (PROTOCOL.md §4.2):
/// after the `200` that uses the error quota up, it holds the next errors
/// back and reports them in client reports; a transaction still arrives.
#[test]
fn the_official_rust_sdk_obeys_a_receiver_quota() {
    let server = with_error_quota_of_one();
    let sent = run_scenario(&server, "rate-limits");
    assert_errors_held_back(&server, &sent);
}
