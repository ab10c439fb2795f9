//! End to end: this crate's integrations → the HTTP transport → a real
//! receiver on 127.0.0.1 with a real SQLite file → grouped issues.
//!
//! Two tests: a child process that panics (the `panic` example) three
//! times, and, in this process, `log`, `tracing` and `anyhow` errors after
//! the one-line `init`. They share nothing: each starts its own receiver.

#[path = "support/panic_line.rs"]
mod panic_line;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use receiver::testing::TestServer;
use sentry_core::ClientOptions;
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

const WAIT: Duration = Duration::from_secs(20);

/// Runs the panic example with `arg` against `dsn` and waits for it to exit.
fn run_panic_demo(dsn: &str, arg: &str) -> Option<i32> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_panic-demo"))
        .arg(arg)
        .env("SENTRY_DSN", dsn)
        .env("SENTRY_RELEASE", "panic-demo@2.0.0")
        .env_remove("SENTRY_ENVIRONMENT")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start panic-demo");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if start.elapsed() > WAIT {
            let _ = child.kill();
            panic!("panic-demo did not exit within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn frames(event: &Value) -> Vec<Value> {
    event["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn panics_of_a_child_process_become_one_fatal_issue_with_in_app_frames() {
    let server = TestServer::start();
    // Three runs, two different bad ports: the stack (not the message)
    // decides the group, so all three are one issue.
    for arg in ["80a", "80a", "x9"] {
        assert_eq!(run_panic_demo(&server.dsn(), arg), Some(101));
    }
    let events = server.wait_for_events(3, WAIT);
    assert_eq!(events.len(), 3);
    let issues = server.issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    let issue = &issues[0];
    assert_eq!(issue.times_seen, 3);
    assert_eq!(issue.level, "fatal");
    assert!(issue.title.starts_with("panic"), "{}", issue.title);

    let event = server
        .event_json(&events[0].event_id)
        .expect("stored event");
    assert_eq!(event["release"], "panic-demo@2.0.0");
    let exception = &event["exception"]["values"][0];
    assert_eq!(exception["type"], "panic");
    assert_eq!(exception["mechanism"]["handled"], false);
    let frames = frames(&event);
    let top = frames
        .iter()
        .rev()
        .find(|f| f["in_app"] == true)
        .expect("an in-app frame");
    assert!(
        top["function"]
            .as_str()
            .is_some_and(|f| f.ends_with("parse_port")),
        "{top}"
    );
    assert!(
        top["filename"]
            .as_str()
            .is_some_and(|f| f.ends_with("examples/panic.rs")),
        "{top}"
    );
    assert_eq!(top["lineno"].as_u64(), Some(panic_line::panic_line()));
    // Contexts and the breadcrumb left before the panic came along.
    assert!(event["contexts"]["os"]["name"].is_string(), "{event}");
    assert!(event["contexts"]["rust"].is_object(), "{event}");
    assert_eq!(
        event["breadcrumbs"]["values"][0]["category"], "config",
        "{event}"
    );
}

#[derive(Debug)]
struct ConfigError;

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("config file is missing")
    }
}

impl std::error::Error for ConfigError {}

#[test]
fn log_tracing_and_anyhow_errors_arrive_grouped_after_a_one_line_init() {
    let server = TestServer::start();
    let guard = sentry_integrations::init((
        server.dsn().as_str(),
        ClientOptions {
            release: Some("e2e-integrations@1.0.0".into()),
            environment: Some("ci".into()),
            ..Default::default()
        },
    ));
    log::set_boxed_logger(Box::new(sentry_integrations::log::SentryLogger::new()))
        .expect("no other logger in this test binary");
    log::set_max_level(log::LevelFilter::Info);

    // `log`: an info record is a breadcrumb, error records are events; two
    // errors from the same place with different numbers group together.
    log::info!("starting the job");
    for order in [17, 42] {
        log::error!("order {order} could not be charged");
    }
    // `tracing`: an error event becomes an event too.
    let subscriber = tracing_subscriber::registry().with(sentry_integrations::tracing::layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!(queue = "mail", "queue is stuck");
    });
    // `anyhow`: the context chain becomes chained exceptions.
    let error = anyhow::Error::new(ConfigError).context("could not start the worker");
    let anyhow_id = sentry_integrations::anyhow::capture_anyhow(&error);
    assert!(!anyhow_id.is_nil());
    drop(guard); // flushes

    let events = server.wait_for_events(4, WAIT);
    assert_eq!(events.len(), 4);
    let issues = server.issues();
    assert_eq!(issues.len(), 3, "{issues:#?}");
    let charged = issues
        .iter()
        .find(|i| i.title.contains("could not be charged"))
        .expect("the log issue");
    assert_eq!(charged.times_seen, 2, "{issues:#?}");
    assert!(
        issues.iter().any(|i| i.title.contains("queue is stuck")),
        "{issues:#?}"
    );

    let anyhow_event = server
        .event_json(&anyhow_id.simple().to_string())
        .expect("the anyhow event");
    assert_eq!(anyhow_event["environment"], "ci");
    let values = anyhow_event["exception"]["values"]
        .as_array()
        .expect("exception values");
    assert_eq!(values.len(), 2, "{anyhow_event}");
    // Innermost cause first, the outermost context last.
    assert_eq!(values[0]["value"], "config file is missing");
    assert_eq!(values[1]["value"], "could not start the worker");

    // The info record went along as a breadcrumb of the log events.
    let charged_events = server.issue_events(charged.id);
    let first = server
        .event_json(&charged_events[0].event_id)
        .expect("a log event");
    let crumbs = first["breadcrumbs"]["values"]
        .as_array()
        .expect("breadcrumbs");
    assert!(
        crumbs.iter().any(|c| c["message"] == "starting the job"),
        "{first}"
    );
}
