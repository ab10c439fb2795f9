//! Code written the way the official `sentry` crate is used, compiled
//! against this SDK under the same name (`use sentry_integrations as
//! sentry;`, what `sentry = { package = "sentry-integrations", ... }` in a
//! Cargo.toml does), sent to a real receiver: docs/porting.md.

use std::sync::Arc;
use std::time::Duration;

use receiver::testing::TestServer;
use sentry_integrations as sentry;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

/// What `f` sends with every transaction sampled, captured in memory.
fn traced(f: impl FnOnce()) -> Vec<sentry::envelope::Envelope> {
    sentry::test::with_captured_envelopes_options(
        f,
        sentry::ClientOptions {
            traces_sample_rate: 1.0,
            ..Default::default()
        },
    )
}

#[test]
fn code_written_for_the_official_crate_reports_to_a_receiver() {
    let server = TestServer::start();
    let guard = sentry::init((
        server.dsn(),
        sentry::ClientOptions {
            release: sentry::release_name!(),
            traces_sample_rate: 1.0,
            enable_logs: true,
            ..Default::default()
        },
    ));
    sentry::configure_scope(|scope| {
        scope.set_user(Some(sentry::User {
            id: Some("42".into()),
            ..Default::default()
        }));
        scope.set_tag("status", 200);
    });
    sentry::add_breadcrumb(sentry::Breadcrumb {
        category: Some("auth".into()),
        message: Some("signed in".into()),
        level: sentry::Level::Info,
        ..Default::default()
    });

    let tx = sentry::start_transaction(sentry::TransactionContext::new(
        "GET /report",
        "http.server",
    ));
    sentry::configure_scope(|scope| scope.set_span(Some(tx.clone().into())));
    let span = tx.start_child("db.query", "SELECT * FROM reports");
    span.set_tag("rows", 3);
    let headers: Vec<(&str, String)> = span.iter_headers().collect();
    span.finish();

    // A job on another thread continues the request's trace.
    let parent = sentry::configure_scope(|scope| scope.get_span());
    let hub = Arc::new(sentry::Hub::new_from_top(sentry::Hub::current()));
    std::thread::spawn(move || {
        sentry::Hub::run(hub, || {
            let ctx =
                sentry::TransactionContext::continue_from_span("render report", "task", parent);
            sentry::start_transaction(ctx).finish();
        })
    })
    .join()
    .expect("job thread");

    let event_id = sentry::capture_message("report failed", sentry::Level::Error);
    sentry::logger_warn!(report.id = 7, "report {} took {} ms", "weekly", 812);
    sentry::metrics::distribution("report.time", 812)
        .unit(sentry::protocol::Unit::Millisecond)
        .attribute("report", "weekly")
        .capture();
    let trace_id = tx.get_trace_context().trace_id.to_string();
    tx.finish();
    drop(guard);

    server.wait_for_events(1, WAIT);
    let event = server
        .event_json(&event_id.simple().to_string())
        .expect("event stored");
    let release = concat!("sentry-integrations@", env!("CARGO_PKG_VERSION"));
    let environment = if cfg!(debug_assertions) {
        "development"
    } else {
        "production"
    };
    assert_eq!(event["release"], release);
    assert_eq!(
        event["environment"], environment,
        "the official crate's default"
    );
    assert_eq!(event["tags"]["status"], "200", "a tag set from a number");
    assert_eq!(event["user"]["id"], "42");
    assert_eq!(event["breadcrumbs"]["values"][0]["message"], "signed in");
    assert_eq!(event["contexts"]["trace"]["trace_id"], trace_id.as_str());

    // The request's transaction, its span and the job's transaction are one trace.
    let trace: Value = server
        .api_json(&format!("/api/0/local/traces/{trace_id}/"))
        .expect("trace");
    assert_eq!(trace["transactions"], 2, "{trace:#}");
    let root = &trace["roots"][0];
    assert_eq!(root["description"], "GET /report");
    let children: Vec<(&str, &str)> = root["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|c| {
            (
                c["op"].as_str().unwrap_or(""),
                c["description"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        children.contains(&("db.query", "SELECT * FROM reports")),
        "{children:?}"
    );
    assert!(
        children.contains(&("task", "render report")),
        "{children:?}"
    );
    assert_eq!(root["errors"][0]["title"], "report failed");
    let span_id = root["children"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["op"] == "db.query"))
        .and_then(|c| c["spanID"].as_str())
        .expect("db span");
    assert_eq!(
        headers[0],
        ("sentry-trace", format!("{trace_id}-{span_id}-1"))
    );

    let logs: Value = server.api_json("/api/0/local/logs/").expect("logs");
    let line = &logs["logs"][0];
    assert_eq!(line["body"], "report weekly took 812 ms");
    assert_eq!(line["attributes"]["report.id"], 7);
    assert_eq!(
        line["attributes"]["sentry.message.template"],
        "report {} took {} ms"
    );
    assert_eq!(line["traceID"], trace_id.as_str());

    let metrics: Value = server.api_json("/api/0/local/metrics/").expect("metrics");
    let sample = &metrics["metrics"][0];
    assert_eq!(
        (
            &sample["name"],
            &sample["type"],
            &sample["unit"],
            &sample["value"]
        ),
        (
            &Value::from("report.time"),
            &Value::from("distribution"),
            &Value::from("millisecond"),
            &Value::from(812.0)
        )
    );
    assert_eq!(sample["attributes"]["report"], "weekly");
}

/// The official crate's server stack: `NewSentryLayer` (a hub per request)
/// outside `SentryHttpLayer::new().enable_transaction()`; here the inner
/// layer forks its own hub too, and the request is still one transaction
/// whose scope changes stay with it.
#[test]
fn the_official_tower_stack_makes_one_transaction_per_request() {
    use sentry::integrations::tower::{NewSentryLayer, SentryHttpLayer};
    use tower::{service_fn, ServiceBuilder, ServiceExt};

    let envelopes = traced(|| {
        let service = ServiceBuilder::new()
            .layer(NewSentryLayer::<http::Request<()>>::new_from_top())
            .layer(SentryHttpLayer::new().enable_transaction())
            .service(service_fn(|_request: http::Request<()>| async {
                sentry::configure_scope(|scope| scope.set_tag("handler", "reports"));
                Ok::<_, std::convert::Infallible>(http::Response::new(()))
            }));
        let request = http::Request::get("/reports/7").body(()).expect("request");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime
            .block_on(service.oneshot(request))
            .expect("response");
        assert!(
            sentry::configure_scope(|scope| scope.tags().get("handler").cloned()).is_none(),
            "the request's tag stayed on its hub"
        );
    });
    let transactions = sentry::test::transactions_of(&envelopes);
    assert_eq!(transactions.len(), 1);
    assert_eq!(transactions[0].name.as_deref(), Some("GET /reports/7"));
    assert_eq!(
        transactions[0].tags.get("handler").map(String::as_str),
        Some("reports")
    );
}

/// The official crate's other spellings: `maybe_release`, a `Client` made
/// with `into()`, an integration without a name of its own, `Values`
/// indexed as a slice, `fetch_and_clear_events`, `bind_hub` given a `Hub`.
#[test]
fn the_official_crates_other_spellings_build_the_same_things() {
    struct Tagger;
    impl sentry::Integration for Tagger {
        fn process_event(
            &self,
            mut event: sentry::protocol::Event,
            _: &sentry::ClientOptions,
        ) -> Option<sentry::protocol::Event> {
            event.tags.insert("via".into(), "tagger".into());
            Some(event)
        }
    }
    let transport = sentry::test::TestTransport::new();
    let options = sentry::ClientOptions::new()
        .maybe_release(sentry::release_name!())
        .maybe_release(None)
        .transport(transport.clone())
        .add_integration(Tagger);
    let client: Arc<sentry::Client> = Arc::new(options.into());
    let hub = sentry::Hub::new(Some(client), Default::default());
    let task = async {
        sentry::add_breadcrumb(sentry::Breadcrumb {
            message: Some("first".into()),
            ..Default::default()
        });
        sentry::capture_message("from a task", sentry::Level::Warning)
    };
    use sentry::SentryFutureExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let id = runtime.block_on(task.bind_hub(hub));
    assert!(!id.is_nil());

    let events = transport.fetch_and_clear_events();
    let event = &events[0];
    assert_eq!(
        event.release.as_deref(),
        Some(concat!("sentry-integrations@", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(event.tags["via"], "tagger");
    let names = &event.sdk.as_ref().expect("sdk").integrations;
    assert!(
        names.iter().any(|n| n.ends_with("Tagger")),
        "the type's name: {names:?}"
    );
    assert_eq!(event.breadcrumbs[0].message.as_deref(), Some("first"));
    assert_eq!((&event.breadcrumbs).into_iter().count(), 1);
}

/// The official crate's split `tracing` layers, each with its own level
/// filter: spans become a transaction, `INFO` events log lines, `WARN`
/// breadcrumbs and `ERROR` error events, and no layer does another's job.
#[test]
fn the_split_tracing_layers_each_do_their_own_job() {
    use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer, LogLayer, SpanLayer};
    use tracing_subscriber::{filter::LevelFilter, prelude::*};

    let envelopes = sentry::test::with_captured_envelopes_options(
        || {
            let subscriber = tracing_subscriber::registry()
                .with(SpanLayer::new().with_filter(LevelFilter::INFO))
                .with(LogLayer::new().with_filter(LevelFilter::INFO))
                .with(BreadcrumbLayer::new().with_filter(LevelFilter::WARN))
                .with(ErrorLayer::new().with_filter(LevelFilter::ERROR));
            tracing::subscriber::with_default(subscriber, || {
                let span = tracing::info_span!("import_orders", batch = 7);
                let _entered = span.enter();
                tracing::debug!("not sent anywhere");
                tracing::info!(rows = 120, "rows read");
                tracing::warn!("slow disk");
                tracing::error!("import failed");
            });
        },
        sentry::ClientOptions {
            traces_sample_rate: 1.0,
            enable_logs: true,
            ..Default::default()
        },
    );
    let transactions = sentry::test::transactions_of(&envelopes);
    assert_eq!(transactions.len(), 1);
    assert_eq!(transactions[0].name.as_deref(), Some("import_orders"));
    let trace_id = transactions[0]
        .contexts
        .get("trace")
        .and_then(|c| match c {
            sentry::protocol::Context::Trace(t) => Some(t.trace_id),
            _ => None,
        })
        .expect("trace context");

    let lines = sentry::test::logs_of(&envelopes);
    let bodies: Vec<&str> = lines.iter().filter_map(|l| l["body"].as_str()).collect();
    assert_eq!(bodies, ["rows read", "slow disk", "import failed"]);

    let events = sentry::test::events_of(&envelopes);
    assert_eq!(events.len(), 1, "only the error is an event");
    let event = &events[0];
    assert_eq!(event.title(), "import failed");
    let crumbs: Vec<_> = event
        .breadcrumbs
        .iter()
        .filter_map(|b| b.message.as_deref())
        .collect();
    // The breadcrumb layer sees WARN and up: the error too, before the
    // error layer (after it in the stack) captures it.
    assert_eq!(crumbs, ["slow disk", "import failed"]);
    match event.contexts.get("trace") {
        Some(sentry::protocol::Context::Trace(t)) => assert_eq!(t.trace_id, trace_id),
        other => panic!("no trace context: {other:?}"),
    }
}

/// Two span-making layers stacked (the combined layer and a span layer, as
/// code moving to the split layers may leave them): the first makes the
/// Sentry span, the second leaves it alone; one transaction, one child,
/// nothing entered twice.
#[test]
fn two_span_making_layers_make_each_span_once() {
    use sentry::integrations::tracing::{layer, SpanLayer};
    use tracing_subscriber::{filter::LevelFilter, prelude::*};

    let envelopes = traced(|| {
        let subscriber = tracing_subscriber::registry()
            .with(layer())
            .with(SpanLayer::new().with_filter(LevelFilter::INFO));
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("outer");
            let _outer = outer.enter();
            tracing::info_span!("inner").in_scope(|| {
                sentry::capture_message("inside", sentry::Level::Info);
            });
        });
        assert!(
            sentry::configure_scope(|scope| scope.get_span()).is_none(),
            "no span stays active"
        );
    });
    let transactions = sentry::test::transactions_of(&envelopes);
    assert_eq!(transactions.len(), 1);
    assert_eq!(transactions[0].name.as_deref(), Some("outer"));
    assert_eq!(transactions[0].spans.len(), 1);
    let inner = transactions[0].spans[0].span_id;
    let events = sentry::test::events_of(&envelopes);
    match events[0].contexts.get("trace") {
        Some(sentry::protocol::Context::Trace(t)) => assert_eq!(t.span_id, inner),
        other => panic!("no trace context: {other:?}"),
    }
}

/// `enable_span_attributes` on the split layers: an error, a breadcrumb and
/// a log line inside nested spans carry each span's fields as
/// `span:field`, outermost first; without it they carry none.
#[test]
fn span_attributes_reach_events_breadcrumbs_and_log_lines() {
    use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer, LogLayer, SpanLayer};
    use tracing_subscriber::filter::{filter_fn, FilterExt, LevelFilter};
    use tracing_subscriber::prelude::*;

    let run = |attributes: bool| {
        sentry::test::with_captured_envelopes_options(
            || {
                fn with<S>(
                    layer: sentry::integrations::tracing::SentryLayer<S>,
                    on: bool,
                ) -> sentry::integrations::tracing::SentryLayer<S> {
                    if on {
                        layer.enable_span_attributes()
                    } else {
                        layer
                    }
                }
                let subscriber = tracing_subscriber::registry()
                    .with(SpanLayer::new().with_filter(LevelFilter::INFO))
                    .with(with(LogLayer::new(), attributes).with_filter(LevelFilter::INFO))
                    // A layer's filter also decides which spans it sees: these
                    // two take every span, to give events their spans' fields.
                    .with(
                        with(BreadcrumbLayer::new(), attributes)
                            .with_filter(LevelFilter::WARN.or(filter_fn(|m| m.is_span()))),
                    )
                    .with(
                        with(ErrorLayer::new(), attributes)
                            .with_filter(LevelFilter::ERROR.or(filter_fn(|m| m.is_span()))),
                    );
                tracing::subscriber::with_default(subscriber, || {
                    let _request = tracing::info_span!("request", id = 42).entered();
                    let _query = tracing::info_span!("query", table = "orders").entered();
                    tracing::warn!("slow");
                    tracing::error!("failed");
                });
            },
            sentry::ClientOptions {
                traces_sample_rate: 1.0,
                enable_logs: true,
                ..Default::default()
            },
        )
    };

    let envelopes = run(true);
    let events = sentry::test::events_of(&envelopes);
    let sentry::protocol::Context::Other(fields) = &events[0].contexts["Rust Tracing Fields"]
    else {
        panic!("no fields context: {:?}", events[0].contexts);
    };
    assert_eq!(fields["request:id"], 42);
    assert_eq!(fields["query:table"], "orders");
    assert!(!fields.keys().any(|k| k.contains("code.")), "{fields:?}");
    let slow = &events[0].breadcrumbs[0];
    assert_eq!(slow.message.as_deref(), Some("slow"));
    assert_eq!(slow.data["request:id"], 42);
    let lines = sentry::test::logs_of(&envelopes);
    assert_eq!(lines[0]["attributes"]["query:table"]["value"], "orders");

    let envelopes = run(false);
    let events = sentry::test::events_of(&envelopes);
    assert!(!events[0].contexts.contains_key("Rust Tracing Fields"));
    assert!(sentry::test::logs_of(&envelopes)[0]["attributes"]
        .get("query:table")
        .is_none());
}
