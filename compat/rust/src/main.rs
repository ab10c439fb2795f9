//! Drives the official Rust SDK (`sentry` 0.49.5, ureq transport)
//! against a receiver.
//!
//! Usage: `SENTRY_DSN=... sentry-compat-rust [scenarios|rate-limits]`.
//! Prints one JSON object on stdout: the ids sent per scenario, so that
//! `receiver/tests/compat_rust.rs` can assert what the receiver stored and
//! how it grouped it.
//!
//! `scenarios` (the default) sends errors with a source, a caught panic,
//! messages, errors that must group together and one that must not, a
//! transaction with spans, a session, an attachment and a log line.
//! `rate-limits` sends three messages, one request at a time, then a
//! transaction, for a project whose error quota the test set to one.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use sentry::protocol::{Attachment, Level};
use serde_json::{json, Value};

/// The cause of the handled error.
#[derive(Debug)]
struct ParsePortError(String);

impl fmt::Display for ParsePortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid port: {}", self.0)
    }
}

impl std::error::Error for ParsePortError {}

#[derive(Debug)]
struct ConfigError(ParsePortError);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("config load failed: bad port")
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[derive(Debug)]
struct UserNotFound(u32);

impl fmt::Display for UserNotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user {} not found", self.0)
    }
}

impl std::error::Error for UserNotFound {}

#[derive(Debug)]
struct ChargeError;

impl fmt::Display for ChargeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot split 999 cents by zero")
    }
}

impl std::error::Error for ChargeError {}

fn load_config(value: &str) -> Result<u16, ConfigError> {
    value
        .parse()
        .map_err(|_| ConfigError(ParsePortError(value.to_owned())))
}

fn hex(id: sentry::types::Uuid) -> Value {
    Value::String(id.simple().to_string())
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        None | Some("scenarios") => scenarios(),
        Some("rate-limits") => rate_limits(),
        Some(other) => {
            eprintln!("unknown scenario {other:?}: scenarios or rate-limits");
            std::process::exit(2);
        }
    }
}

/// Flushes the current client, or exits: the test must not read the
/// database before the SDK has sent everything.
fn flush() {
    if !sentry::Hub::current()
        .client()
        .is_some_and(|c| c.flush(Some(Duration::from_secs(10))))
    {
        eprintln!("the SDK did not flush within 10 s");
        std::process::exit(4);
    }
}

fn rate_limits() {
    let dsn = std::env::var("SENTRY_DSN").unwrap_or_default();
    let guard = sentry::init((
        dsn,
        sentry::ClientOptions::new()
            .traces_sample_rate(1.0)
            .shutdown_timeout(Duration::from_secs(10)),
    ));
    if !guard.is_enabled() {
        eprintln!("SENTRY_DSN is missing or invalid");
        std::process::exit(2);
    }
    let mut messages = Vec::new();
    for i in 0..3 {
        let id = sentry::capture_message(&format!("limited message {i}"), Level::Info);
        messages.push(hex(id));
        // One request at a time, so the limit the first answer carries is
        // known before the next message is sent.
        flush();
    }
    sentry::start_transaction(sentry::TransactionContext::new("after the limit", "task")).finish();
    flush();
    drop(guard);
    println!("{}", json!({ "messages": messages }));
}

fn scenarios() {
    let dsn = std::env::var("SENTRY_DSN").unwrap_or_default();
    let guard = sentry::init((
        dsn,
        sentry::ClientOptions::new()
            .release("compat-rust@1.0.0")
            .environment("ci")
            .traces_sample_rate(1.0)
            .shutdown_timeout(Duration::from_secs(10)),
    ));
    if !guard.is_enabled() {
        eprintln!("SENTRY_DSN is missing or invalid");
        std::process::exit(2);
    }
    let mut ids: BTreeMap<&str, Value> = BTreeMap::new();
    let mut remember =
        |name: &'static str, id: Value| match ids.entry(name).or_insert_with(|| json!([])) {
            Value::Array(list) => list.push(id),
            _ => unreachable!("every scenario's entry is a list"),
        };

    sentry::start_session();

    if let Err(e) = load_config("not-a-number") {
        remember("handled", hex(sentry::capture_error(&e)));
    }

    // A panic, caught here so the script goes on: the panic integration
    // reports it as unhandled.
    let before = sentry::last_event_id();
    let caught = std::panic::catch_unwind(|| panic!("unhandled failure 42"));
    assert!(caught.is_err());
    match sentry::last_event_id() {
        Some(id) if Some(id) != before => remember("unhandled", hex(id)),
        _ => {
            eprintln!("the panic integration captured nothing");
            std::process::exit(3);
        }
    }

    remember(
        "message",
        hex(sentry::capture_message("compat message", Level::Warning)),
    );

    for user in [101, 202, 303] {
        remember("group_a", hex(sentry::capture_error(&UserNotFound(user))));
    }
    remember("group_b", hex(sentry::capture_error(&ChargeError)));

    // Three spans: db.query and http.client under the transaction,
    // cache.get under db.query.
    let tx = sentry::start_transaction(sentry::TransactionContext::new(
        "compat-transaction",
        "task",
    ));
    let query = tx.start_child("db.query", "SELECT 1");
    query.start_child("cache.get", "user:1").finish();
    query.finish();
    tx.start_child("http.client", "GET /next").finish();
    let trace = tx.get_trace_context();
    tx.finish();

    sentry::with_scope(
        |scope| {
            scope.add_attachment(Attachment {
                buffer: b"attached by compat test\n".to_vec(),
                filename: "compat.txt".into(),
                ..Default::default()
            })
        },
        || {
            remember(
                "attachment",
                hex(sentry::capture_message("with attachment", Level::Info)),
            )
        },
    );

    sentry::logger_info!(attempt = 3, "compat log line");

    sentry::end_session();
    flush();
    drop(guard);

    let mut out: serde_json::Map<String, Value> =
        ids.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    out.insert(
        "transaction_trace_id".into(),
        Value::String(trace.trace_id.to_string()),
    );
    out.insert(
        "transaction_span_id".into(),
        Value::String(trace.span_id.to_string()),
    );
    println!("{}", Value::Object(out));
}
