//! With `debug: true`, the SDK says on stderr what it is set up to do and
//! why it drops what it drops (as the official SDKs do). The scenario runs
//! in a child process (this same test binary), whose stderr the test reads.

use std::process::Command;
use std::sync::Arc;

use sentry_core::protocol::{Event, Level};
use sentry_core::test::TestTransport;
use sentry_core::{capture_message, ClientOptions};

const CHILD: &str = "SENTRY_CORE_DEBUG_OUTPUT_CHILD";

#[test]
fn debug_says_what_the_sdk_drops_and_why() {
    if std::env::var_os(CHILD).is_some() {
        let _guard = sentry_core::init(ClientOptions {
            dsn: "http://abcdef0123456789abcdef0123456789@127.0.0.1:9/42"
                .parse()
                .ok(),
            transport: Some(Arc::new(TestTransport::new())),
            debug: true,
            auto_session_tracking: true,
            before_send: Some(Arc::new(|e: Event| (e.level != Level::Debug).then_some(e))),
            ..Default::default()
        });
        capture_message("dropped by before_send", Level::Debug);
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([
            "--exact",
            "debug_says_what_the_sdk_drops_and_why",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .expect("run the child");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[sentry] enabled: sending to http://127.0.0.1:9/api/42/envelope/"),
        "{stderr}"
    );
    assert!(!stderr.contains("abcdef0123456789"), "no key: {stderr}");
    assert!(stderr.contains("there is no release"), "{stderr}");
    assert!(
        stderr.contains("dropped an item of category error (before_send)"),
        "{stderr}"
    );
}

const NO_TRANSPORT_CHILD: &str = "SENTRY_CORE_NO_TRANSPORT_CHILD";

/// `sentry_core::init` installs no transport: a DSN given to it alone
/// sends nothing, and the SDK says so even without `debug` (a user who
/// set a DSN meant to send). Without a DSN it stays quiet.
#[test]
fn a_dsn_without_a_transport_is_said_without_debug() {
    if let Some(mode) = std::env::var_os(NO_TRANSPORT_CHILD) {
        let dsn = (mode == "dsn").then(|| {
            "http://abcdef0123456789abcdef0123456789@127.0.0.1:9/42"
                .parse()
                .ok()
        });
        let _guard = sentry_core::init(ClientOptions {
            dsn: dsn.flatten(),
            ..Default::default()
        });
        return;
    }
    let run = |mode: &str| {
        let out = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "a_dsn_without_a_transport_is_said_without_debug",
                "--nocapture",
            ])
            .env(NO_TRANSPORT_CHILD, mode)
            .output()
            .expect("run the child");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let with_dsn = run("dsn");
    assert!(
        with_dsn.contains("[sentry] a DSN is set but no transport")
            && with_dsn.contains("sentry_integrations::init"),
        "{with_dsn}"
    );
    assert!(!run("none").contains("[sentry]"), "quiet without a DSN");
}
