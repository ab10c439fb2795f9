//! Structured logs as the SDK sends them: off by default, batched into
//! `log` items with the client's attributes and the scope's trace, shaped
//! by `before_send_log`, and sent when a batch is full, every few seconds,
//! and on flush.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sentry_core::envelope::Envelope;
use sentry_core::performance::TransactionContext;
use sentry_core::protocol::{DataCategory, DiscardReason, Log, LogLevel};
use sentry_core::test::{with_captured_envelopes, with_captured_envelopes_options, TestTransport};
use sentry_core::{logs, Client, ClientOptions, Hub, Scope};
use serde_json::{json, Value};

/// The log lines of every `log` item, as JSON.
fn lines(envelopes: &[Envelope]) -> Vec<Value> {
    sentry_core::test::logs_of(envelopes)
}

fn enabled() -> ClientOptions {
    ClientOptions {
        enable_logs: true,
        release: Some("app@3.0.0".into()),
        environment: Some("staging".into()),
        traces_sample_rate: 1.0,
        ..Default::default()
    }
}

#[test]
fn logs_are_off_unless_enabled() {
    let envelopes = with_captured_envelopes(|| logs::error("nobody hears this"));
    assert!(lines(&envelopes).is_empty());
}

#[test]
fn a_batch_is_one_log_item_with_the_clients_attributes_and_the_trace() {
    let mut trace_and_span = (String::new(), String::new());
    let envelopes = with_captured_envelopes_options(
        || {
            logs::info("outside any span");
            let transaction =
                sentry_core::start_transaction(TransactionContext::new("job", "task"));
            trace_and_span = (
                transaction.trace_id().to_string(),
                transaction.span_id().to_string(),
            );
            sentry_core::configure_scope(|s| s.set_span(Some(transaction.clone().into())));
            logs::capture_log(
                Log::new(LogLevel::Warn, "slow query")
                    .with_attribute("db.duration_ms", 812)
                    .with_attribute("db.cached", false)
                    .with_attribute("ratio", 0.5),
            );
            transaction.finish();
        },
        enabled(),
    );
    let items: Vec<_> = envelopes
        .iter()
        .flat_map(|e| e.items().iter())
        .filter(|i| i.headers.ty.as_str() == "log")
        .collect();
    assert_eq!(items.len(), 1, "one batch");
    assert_eq!(items[0].headers.item_count, Some(2));
    assert_eq!(
        items[0].headers.content_type.as_deref(),
        Some("application/vnd.sentry.items.log+json")
    );
    let sent = lines(&envelopes);
    let (outside, slow) = (&sent[0], &sent[1]);
    assert_eq!(
        (
            &outside["level"],
            &outside["body"],
            &outside["severity_number"]
        ),
        (&json!("info"), &json!("outside any span"), &json!(9))
    );
    assert!(outside.get("span_id").is_none(), "{outside}");
    let attributes = &slow["attributes"];
    assert_eq!(
        attributes["sentry.release"],
        json!({"type": "string", "value": "app@3.0.0"})
    );
    assert_eq!(attributes["sentry.environment"]["value"], "staging");
    assert_eq!(attributes["sentry.severity_text"]["value"], "warn");
    assert!(
        attributes["sentry.sdk.name"]["value"].is_string(),
        "{attributes}"
    );
    assert_eq!(
        attributes["db.duration_ms"],
        json!({"type": "integer", "value": 812})
    );
    assert_eq!(
        attributes["db.cached"],
        json!({"type": "boolean", "value": false})
    );
    assert_eq!(attributes["ratio"], json!({"type": "double", "value": 0.5}));
    assert_eq!(slow["trace_id"], trace_and_span.0.as_str());
    assert_eq!(slow["span_id"], trace_and_span.1.as_str());
    assert!(slow["timestamp"].as_f64().is_some(), "{slow}");
}

#[test]
fn before_send_log_changes_or_drops_a_line_and_drops_are_counted() {
    let transport = TestTransport::new();
    let client = Arc::new(Client::with_options(ClientOptions {
        before_send_log: Some(Arc::new(|mut log: Log| {
            if log.body.contains("secret") {
                return None;
            }
            log.body = log.body.to_uppercase();
            Some(log)
        })),
        transport: Some(Arc::new(transport.clone())),
        ..enabled()
    }));
    let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));
    Hub::run(hub, || {
        logs::info("hello");
        logs::info("the secret is 42");
    });
    assert!(client.flush(None));
    let sent = lines(&transport.fetch_and_clear_envelopes());
    let bodies: Vec<&str> = sent.iter().filter_map(|l| l["body"].as_str()).collect();
    assert_eq!(bodies, ["HELLO"]);
    let discards = transport.discards();
    assert_eq!(
        discards.get(&(DiscardReason::BeforeSend, DataCategory::LogItem)),
        Some(&1)
    );
    assert!(
        discards
            .get(&(DiscardReason::BeforeSend, DataCategory::LogByte))
            .is_some_and(|b| *b > 50),
        "{discards:?}"
    );
}

#[test]
fn a_full_batch_goes_at_once_and_the_rest_within_seconds() {
    let transport = TestTransport::new();
    let client = Arc::new(Client::with_options(ClientOptions {
        transport: Some(Arc::new(transport.clone())),
        ..enabled()
    }));
    let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));
    Hub::run(hub, || {
        for i in 0..101 {
            logs::debug(format!("line {i}"));
        }
    });
    // A hundred lines went without waiting.
    let first = lines(&transport.fetch_and_clear_envelopes());
    assert_eq!(first.len(), 100);
    // The last one goes with the next batch, a few seconds on, without a
    // flush (bounded wait: the batch thread sends every 5 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut rest = Vec::new();
    while rest.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        rest = lines(&transport.fetch_and_clear_envelopes());
    }
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["body"], "line 100");
    assert!(client.close(None));
}

#[test]
fn long_lines_go_in_batches_of_about_a_megabyte() {
    let transport = TestTransport::new();
    let client = Arc::new(Client::with_options(ClientOptions {
        transport: Some(Arc::new(transport.clone())),
        ..enabled()
    }));
    let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));
    let body = "x".repeat(100_000);
    Hub::run(hub, || {
        for _ in 0..30 {
            logs::capture_log(
                Log::new(LogLevel::Info, body.clone()).with_attribute("tags", vec!["a", "b"]),
            );
        }
    });
    // Three lines of 100 KB held no batch back; thirty make no item of 3 MB.
    let sizes: Vec<(Option<u64>, usize)> = transport
        .fetch_and_clear_envelopes()
        .iter()
        .flat_map(|e| e.items().iter())
        .filter(|i| i.headers.ty.as_str() == "log")
        .map(|i| {
            let mut bytes = Vec::new();
            i.payload.write_payload(&mut bytes).expect("payload");
            (i.headers.item_count, bytes.len())
        })
        .collect();
    assert!(!sizes.is_empty(), "a full batch went at once");
    for (count, bytes) in &sizes {
        assert!(*bytes < 1_200_000, "{count:?} lines in {bytes} bytes");
        assert!(*count < Some(30));
    }
    assert!(client.close(Some(Duration::from_secs(5))));
    let sent: u64 = sizes.iter().filter_map(|(n, _)| *n).sum::<u64>()
        + lines(&transport.fetch_and_clear_envelopes()).len() as u64;
    assert_eq!(sent, 30, "every line went");
}

/// A client sending logs into a test transport, with `before_send_log`.
fn client_with_hook(
    hook: impl Fn(Log) -> Option<Log> + Send + Sync + 'static,
    options: ClientOptions,
) -> (Arc<TestTransport>, Arc<Client>) {
    let transport = TestTransport::new();
    let client = Arc::new(Client::with_options(ClientOptions {
        before_send_log: Some(Arc::new(hook)),
        transport: Some(Arc::new(transport.clone())),
        ..options
    }));
    (transport, client)
}

#[test]
fn a_line_logged_inside_before_send_log_does_not_recurse_forever() {
    let (transport, client) = client_with_hook(
        |log| {
            logs::warn(format!("audit: {}", log.body));
            Some(log)
        },
        enabled(),
    );
    let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));
    Hub::run(hub, || logs::info("hello"));
    assert!(client.flush(None));
    let sent = lines(&transport.fetch_and_clear_envelopes());
    let bodies: Vec<&str> = sent.iter().filter_map(|l| l["body"].as_str()).collect();
    assert!(bodies.contains(&"hello"), "{bodies:?}");
    assert!(
        transport
            .discards()
            .get(&(DiscardReason::InternalSdkError, DataCategory::LogItem))
            .is_some_and(|n| *n >= 1),
        "the line too deep is dropped and counted"
    );
}

#[test]
fn lines_are_scrubbed_take_the_hooks_level_and_the_default_environment() {
    let (transport, client) = client_with_hook(
        |mut log| {
            log.level = LogLevel::Warn;
            Some(log)
        },
        ClientOptions {
            enable_logs: true,
            ..Default::default()
        },
    );
    let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));
    Hub::run(hub, || {
        logs::capture_log(
            Log::new(LogLevel::Error, "login")
                .with_attribute("password", "hunter2")
                .with_attribute("user.id", 7),
        );
    });
    assert!(client.flush(None));
    let sent = lines(&transport.fetch_and_clear_envelopes());
    let line = &sent[0];
    assert_eq!(line["attributes"]["password"]["value"], "[Filtered]");
    assert_eq!(line["attributes"]["user.id"]["value"], 7);
    assert_eq!(
        (&line["level"], &line["severity_number"]),
        (&json!("warn"), &json!(13))
    );
    assert_eq!(line["attributes"]["sentry.severity_text"]["value"], "warn");
    assert_eq!(
        line["attributes"]["sentry.environment"]["value"],
        sentry_core::DEFAULT_ENVIRONMENT
    );
    assert_eq!(line["trace_id"].as_str().map(str::len), Some(32));
}

#[test]
fn lines_waiting_when_the_client_is_dropped_are_sent() {
    let transport = TestTransport::new();
    {
        let client = Arc::new(Client::with_options(ClientOptions {
            transport: Some(Arc::new(transport.clone())),
            ..enabled()
        }));
        let hub = Arc::new(Hub::new(Some(client), Scope::default()));
        Hub::run(hub, || logs::info("last words"));
    }
    let sent = lines(&transport.fetch_and_clear_envelopes());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["body"], "last words");
}

/// What each kind of `logger_*!` argument becomes: values and references to
/// them keep their JSON type, `None`/NaN their `Debug` text, a `u64` past
/// `i64::MAX` its digits, an error its text; each is evaluated once.
#[test]
fn macro_parameters_keep_their_types_and_are_evaluated_once() {
    let calls = std::cell::Cell::new(0);
    let next = || {
        calls.set(calls.get() + 1);
        calls.get()
    };
    let envelopes = sentry_core::test::with_captured_envelopes_options(
        || {
            let count = 5;
            let name = String::from("ada");
            let error = std::io::Error::other("disk full");
            sentry_core::logger_info!(
                "{} {} {} {:?} {} {} {} {}",
                &count,
                &name,
                f64::NAN,
                None::<i32>,
                u64::MAX,
                error,
                next(),
                true
            );
            for step in &[7, 8] {
                sentry_core::logger_debug!(step.kind = "loop", "step {}", step);
            }
        },
        ClientOptions {
            enable_logs: true,
            ..Default::default()
        },
    );
    assert_eq!(calls.get(), 1, "each argument is evaluated once");
    let sent = lines(&envelopes);
    let param = |line: &Value, i: usize| {
        line["attributes"][format!("sentry.message.parameter.{i}")].clone()
    };
    let first = &sent[0];
    assert_eq!(
        first["body"],
        "5 ada NaN None 18446744073709551615 disk full 1 true"
    );
    let expected = [
        json!({"type": "integer", "value": 5}),
        json!({"type": "string", "value": "ada"}),
        json!({"type": "string", "value": "NaN"}),
        json!({"type": "string", "value": "None"}),
        json!({"type": "string", "value": "18446744073709551615"}),
        json!({"type": "string", "value": "disk full"}),
        json!({"type": "integer", "value": 1}),
        json!({"type": "boolean", "value": true}),
    ];
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(&param(first, i), want, "parameter {i}");
    }
    assert_eq!(param(&sent[1], 0), json!({"type": "integer", "value": 7}));
    assert_eq!(
        sent[2]["attributes"]["step.kind"],
        json!({"type": "string", "value": "loop"})
    );
}

/// With logs off (or no client) a `logger_*!` call formats nothing and
/// does not evaluate its arguments.
#[test]
fn macro_arguments_are_not_evaluated_while_logs_are_off() {
    let calls = std::cell::Cell::new(0);
    let costly = || {
        calls.set(calls.get() + 1);
        "value"
    };
    sentry_core::logger_info!("no client {}", costly());
    let envelopes = sentry_core::test::with_captured_envelopes(|| {
        sentry_core::logger_warn!(key = costly(), "logs off {}", costly());
    });
    assert_eq!(calls.get(), 0);
    assert!(lines(&envelopes).is_empty());
}
