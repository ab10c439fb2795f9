//! Metric samples as the SDK sends them: batched into `trace_metric` items
//! with the client's attributes and the scope's trace, shaped by
//! `before_send_metric`, and sent when a batch is full and on flush.

use std::sync::Arc;

use sentry_core::envelope::Envelope;
use sentry_core::performance::TransactionContext;
use sentry_core::protocol::{DataCategory, DiscardReason, Metric, MetricType};
use sentry_core::test::{with_captured_envelopes_options, TestTransport};
use sentry_core::{metrics, Client, ClientOptions, Hub, Scope};
use serde_json::{json, Value};

fn samples(envelopes: &[Envelope]) -> Vec<Value> {
    sentry_core::test::metrics_of(envelopes)
}

fn options() -> ClientOptions {
    ClientOptions {
        release: Some("app@3.0.0".into()),
        environment: Some("staging".into()),
        traces_sample_rate: 1.0,
        ..Default::default()
    }
}

/// A client sending into a test transport, and a hub bound to it.
fn client(options: ClientOptions) -> (Arc<TestTransport>, Arc<Client>, Arc<Hub>) {
    let transport = TestTransport::new();
    let client = Arc::new(Client::with_options(ClientOptions {
        transport: Some(Arc::new(transport.clone())),
        ..options
    }));
    let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));
    (transport, client, hub)
}

#[test]
fn samples_go_in_one_item_with_the_clients_attributes_and_the_trace() {
    let mut trace_and_span = (String::new(), String::new());
    let envelopes = with_captured_envelopes_options(
        || {
            metrics::count("jobs.done", 1.0);
            let transaction =
                sentry_core::start_transaction(TransactionContext::new("job", "task"));
            trace_and_span = (
                transaction.trace_id().to_string(),
                transaction.span_id().to_string(),
            );
            sentry_core::configure_scope(|s| s.set_span(Some(transaction.clone().into())));
            metrics::capture_metric(
                Metric::new(MetricType::Distribution, "db.query", 12.5)
                    .with_unit("millisecond")
                    .with_attribute("db.table", "orders")
                    .with_attribute("password", "hunter2"),
            );
            metrics::gauge("queue.depth", 17.0);
            transaction.finish();
        },
        options(),
    );
    let items: Vec<_> = envelopes
        .iter()
        .flat_map(|e| e.items().iter())
        .filter(|i| i.headers.ty.as_str() == "trace_metric")
        .collect();
    assert_eq!(items.len(), 1, "one batch");
    assert_eq!(items[0].headers.item_count, Some(3));
    assert_eq!(
        items[0].headers.content_type.as_deref(),
        Some("application/vnd.sentry.items.trace-metric+json")
    );
    let sent = samples(&envelopes);
    let kinds: Vec<(&str, &str, f64)> = sent
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default(),
                m["type"].as_str().unwrap_or_default(),
                m["value"].as_f64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("jobs.done", "counter", 1.0),
            ("db.query", "distribution", 12.5),
            ("queue.depth", "gauge", 17.0)
        ]
    );
    let query = &sent[1];
    assert_eq!(query["unit"], "millisecond");
    assert_eq!(query["trace_id"], trace_and_span.0.as_str());
    assert_eq!(query["span_id"], trace_and_span.1.as_str());
    let attributes = &query["attributes"];
    assert_eq!(
        attributes["sentry.release"],
        json!({"type": "string", "value": "app@3.0.0"})
    );
    assert_eq!(attributes["sentry.environment"]["value"], "staging");
    assert_eq!(attributes["sentry.sdk.name"]["value"], "sentry.rust.lite");
    assert_eq!(attributes["db.table"]["value"], "orders");
    assert_eq!(
        attributes["password"]["value"], "[Filtered]",
        "deny-listed keys are scrubbed"
    );
    assert!(
        sent[0].get("span_id").is_none(),
        "outside any span: {}",
        sent[0]
    );
    assert!(sent[0]["trace_id"].as_str().is_some_and(|t| t.len() == 32));
}

#[test]
fn metrics_can_be_turned_off() {
    let envelopes = with_captured_envelopes_options(
        || metrics::count("jobs.done", 1.0),
        ClientOptions {
            enable_metrics: false,
            ..options()
        },
    );
    assert!(samples(&envelopes).is_empty());
}

#[test]
fn before_send_metric_changes_or_drops_a_sample_and_drops_are_counted() {
    let (transport, client, hub) = client(ClientOptions {
        before_send_metric: Some(Arc::new(|mut m: Metric| {
            if m.name.starts_with("internal.") {
                return None;
            }
            assert!(m.name != "explode", "a hook that panics");
            m.value *= 1000.0;
            m.unit = Some("millisecond".into());
            Some(m)
        })),
        ..options()
    });
    Hub::run(hub, || {
        metrics::distribution("latency", 0.25);
        metrics::count("internal.ticks", 1.0);
        metrics::gauge("broken", f64::NAN);
        metrics::count("explode", 1.0);
    });
    assert!(client.flush(None));
    let sent = samples(&transport.fetch_and_clear_envelopes());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0]["value"].as_f64(), sent[0]["unit"].as_str()),
        (Some(250.0), Some("millisecond"))
    );
    let discards = transport.discards();
    assert_eq!(
        discards.get(&(DiscardReason::BeforeSend, DataCategory::TraceMetric)),
        Some(&1)
    );
    assert_eq!(
        discards.get(&(DiscardReason::InternalSdkError, DataCategory::TraceMetric)),
        Some(&1),
        "NaN has no JSON: dropped and counted"
    );
    assert_eq!(
        discards.get(&(DiscardReason::CallbackError, DataCategory::TraceMetric)),
        Some(&1),
        "as the Python SDK counts a hook that raised"
    );
    // A drop counts its bytes too, as the Python SDK does.
    let bytes = discards
        .get(&(DiscardReason::BeforeSend, DataCategory::TraceMetricByte))
        .copied()
        .unwrap_or(0);
    assert!(bytes > 100, "{bytes}");
}

#[test]
fn a_thousand_samples_go_at_once_and_the_rest_on_drop() {
    let (transport, client, hub) = client(options());
    Hub::run(hub, || {
        for i in 0..1001 {
            metrics::count("requests", f64::from(i));
        }
    });
    let first = samples(&transport.fetch_and_clear_envelopes());
    assert_eq!(first.len(), 1000, "a full batch went without waiting");
    // The client goes without close: what waited is handed over.
    drop(client);
    let rest = samples(&transport.fetch_and_clear_envelopes());
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["value"], 1000.0);
}

#[test]
fn the_scopes_user_is_attached_only_with_send_default_pii() {
    let user = sentry_core::protocol::User {
        id: Some("42".into()),
        username: Some("ann".into()),
        email: Some("ann@example.com".into()),
        ip_address: Some("10.0.0.1".into()),
        ..Default::default()
    };
    for pii in [false, true] {
        let user = user.clone();
        let envelopes = with_captured_envelopes_options(
            move || {
                sentry_core::configure_scope(|s| s.set_user(Some(user)));
                metrics::count("logins", 1.0);
                sentry_core::logs::info("logged in");
            },
            ClientOptions {
                send_default_pii: pii,
                enable_logs: true,
                ..options()
            },
        );
        let sample = &samples(&envelopes)[0]["attributes"];
        let line = &sentry_core::test::logs_of(&envelopes)[0]["attributes"];
        for attributes in [sample, line] {
            let seen: Vec<Option<&str>> = ["user.id", "user.name", "user.email", "user.ip_address"]
                .iter()
                .map(|k| attributes[*k]["value"].as_str())
                .collect();
            let expected = if pii {
                vec![
                    Some("42"),
                    Some("ann"),
                    Some("ann@example.com"),
                    Some("10.0.0.1"),
                ]
            } else {
                vec![None, None, None, None]
            };
            assert_eq!(seen, expected, "send_default_pii {pii}: {attributes}");
        }
    }
}

/// A sample builder records once, by `capture()` or when dropped, and not
/// when a panic in the middle of its chain unwinds through it.
#[test]
fn a_sample_is_recorded_once_and_never_half_built() {
    fn failing_attribute() -> &'static str {
        panic!("no attribute");
    }
    let envelopes = with_captured_envelopes_options(
        || {
            metrics::counter("jobs.done", 1).capture();
            metrics::gauge("queue.depth", 17.0);
            let kept = metrics::distribution("job.time", 3).unit("ms");
            drop(kept);
            let unwound = std::panic::catch_unwind(|| {
                metrics::distribution("half.built", 12.0)
                    .attribute("job", failing_attribute())
                    .capture();
            });
            assert!(unwound.is_err());
        },
        options(),
    );
    let names: Vec<(String, Option<String>)> = samples(&envelopes)
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_owned(),
                s["unit"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("jobs.done".to_owned(), None),
            ("queue.depth".to_owned(), None),
            ("job.time".to_owned(), Some("millisecond".to_owned())),
        ]
    );
}
