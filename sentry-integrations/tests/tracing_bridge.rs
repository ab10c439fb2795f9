//! The `tracing` bridge: events become breadcrumbs or events, spans become
//! Sentry spans inside an active transaction.

#![cfg(feature = "tracing")]

use std::fmt;

use sentry_core::performance::{start_transaction, TransactionContext};
use sentry_core::protocol::Level;
use sentry_core::test::{
    events_of, transactions_of, with_captured_envelopes_options, with_captured_events,
};
use sentry_core::{ClientOptions, Hub};
use sentry_integrations::tracing::{layer, EventFilter};
use tracing_subscriber::prelude::*;

fn with_layer<R>(f: impl FnOnce() -> R) -> R {
    let subscriber = tracing_subscriber::registry().with(layer());
    tracing::subscriber::with_default(subscriber, f)
}

#[derive(Debug)]
struct StoreError(std::io::Error);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot save the order")
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn info_and_warn_are_breadcrumbs_error_is_an_event() {
    let events = with_captured_events(|| {
        with_layer(|| {
            tracing::debug!("not recorded");
            tracing::info!(target: "app::http", method = "GET", status = 200u64, "request done");
            tracing::warn!(target: "app::cache", hit = false, "cache miss");
            tracing::error!(target: "app::orders", order_id = 77, "order failed");
        })
    });
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.level, Level::Error);
    assert_eq!(event.logger.as_deref(), Some("app::orders"));
    assert_eq!(event.title(), "order failed");
    // Where the official `sentry-tracing` puts them.
    let context = |name: &str| match event.contexts.get(name) {
        Some(sentry_core::protocol::Context::Other(map)) => map.clone(),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(context("Rust Tracing Fields")["order_id"], 77);
    let location = context("Rust Tracing Location");
    assert!(location["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("tracing_bridge.rs")));
    assert_eq!(location["module_path"], "tracing_bridge");
    assert!(location["line"].as_u64().is_some_and(|l| l > 0));
    assert!(event.extra.get("fields").is_none(), "{:?}", event.extra);

    let crumbs = &event.breadcrumbs.values;
    assert_eq!(crumbs.len(), 2);
    assert_eq!(crumbs[0].category.as_deref(), Some("app::http"));
    assert_eq!(crumbs[0].ty, "log", "typed as the log bridge types them");
    assert_eq!(crumbs[0].level, Level::Info);
    assert_eq!(crumbs[0].message.as_deref(), Some("request done"));
    assert_eq!(crumbs[0].data["method"], "GET");
    assert_eq!(crumbs[0].data["status"], 200);
    assert_eq!(crumbs[1].level, Level::Warning);
    assert_eq!(crumbs[1].data["hit"], false);
}

#[test]
fn an_error_field_becomes_the_exception_chain() {
    let events = with_captured_events(|| {
        with_layer(|| {
            let err = StoreError(std::io::Error::other("disk full"));
            tracing::error!(error = &err as &dyn std::error::Error, "saving failed");
        })
    });
    let chain = &events[0].exception.values;
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[0].value.as_deref(), Some("disk full"));
    assert_eq!(chain[1].ty, "StoreError");
    assert_eq!(chain[1].value.as_deref(), Some("cannot save the order"));
    assert_eq!(
        events[0]
            .logentry
            .as_ref()
            .and_then(|l| l.formatted.as_deref()),
        Some("saving failed")
    );
}

#[test]
fn events_inside_spans_name_their_spans() {
    let events = with_captured_events(|| {
        with_layer(|| {
            let _outer = tracing::info_span!("checkout").entered();
            let _inner = tracing::info_span!("charge_card").entered();
            tracing::error!("declined");
        })
    });
    assert_eq!(
        events[0].extra["spans"],
        serde_json::json!(["checkout", "charge_card"])
    );
}

/// Only the SDK's own crates are its targets: an application crate whose
/// name merely starts with "sentry" is reported like any other.
#[test]
fn app_targets_starting_with_sentry_are_reported_the_sdk_own_are_not() {
    let events = with_captured_events(|| {
        with_layer(|| {
            tracing::error!(target: "sentry_core::client", "the SDK itself");
            tracing::error!(target: "sentry_integrations", "the SDK itself");
            tracing::error!(target: "sentry", "the SDK itself");
            tracing::error!(target: "sentryflow::billing", "payment failed");
            tracing::error!(target: "sentry_app", "an app named sentry_app");
        })
    });
    let titles: Vec<_> = events.iter().map(|e| e.title()).collect();
    assert_eq!(titles, ["payment failed", "an app named sentry_app"]);
}

#[test]
fn a_custom_event_filter_is_used() {
    let events = with_captured_events(|| {
        let subscriber = tracing_subscriber::registry().with(layer().event_filter(|md| {
            if *md.level() == tracing::Level::WARN {
                EventFilter::Event
            } else {
                EventFilter::Ignore
            }
        }));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("ignored");
            tracing::warn!("now an event");
            tracing::error!("ignored too");
        })
    });
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].level, Level::Warning);
    assert!(events[0].breadcrumbs.values.is_empty());
}

#[test]
fn spans_become_children_of_the_active_transaction_with_their_fields() {
    let envelopes = with_captured_envelopes_options(
        || {
            with_layer(|| {
                let tx = start_transaction(TransactionContext::new("POST /orders", "http.server"));
                Hub::current().configure_scope(|s| s.set_span(Some(tx.clone().into())));
                {
                    let load = tracing::info_span!("load_cart", cart_id = 7, user = "u1");
                    let _entered = load.enter();
                    {
                        let query = tracing::info_span!(
                            "db.query",
                            "sentry.op" = "db",
                            rows = tracing::field::Empty
                        );
                        let _q = query.enter();
                        query.record("rows", 3);
                        tracing::error!("inside the query");
                    }
                    // Below the span filter: not a Sentry span.
                    let _ignored = tracing::debug_span!("parse_row").entered();
                }
                Hub::current().configure_scope(|s| s.set_span(None));
                tx.finish();
            })
        },
        ClientOptions {
            traces_sample_rate: 1.0,
            ..Default::default()
        },
    );
    let txs = transactions_of(&envelopes);
    assert_eq!(txs.len(), 1);
    let spans = &txs[0].spans;
    assert_eq!(spans.len(), 2, "{spans:#?}");
    // `target::name`, as the official crate names a span's op.
    let load = spans
        .iter()
        .find(|s| s.op.as_deref() == Some("tracing_bridge::load_cart"))
        .expect("load_cart span");
    let query = spans
        .iter()
        .find(|s| s.op.as_deref() == Some("db"))
        .expect("db span");
    assert_eq!(load.description.as_deref(), Some("load_cart"));
    assert_eq!(load.data["cart_id"], 7);
    assert_eq!(load.data["user"], "u1");
    assert!(load.data["code.file.path"]
        .as_str()
        .is_some_and(|f| f.ends_with("tracing_bridge.rs")));
    assert_eq!(load.data["code.module.name"], "tracing_bridge");
    assert_eq!(load.data["sentry.tracing.target"], "tracing_bridge");
    assert!(load.data["code.line.number"].is_u64());
    assert!(!query.data.contains_key("sentry.op"));
    assert_eq!(query.description.as_deref(), Some("db.query"));
    assert_eq!(query.data["rows"], 3);
    assert_eq!(query.parent_span_id, Some(load.span_id));
    assert!(load.timestamp.is_some() && query.timestamp.is_some());
    assert_eq!(load.origin.as_deref(), Some("auto.tracing"));

    // The event inside the query span carries its trace context.
    let events = events_of(&envelopes);
    let sentry_core::protocol::Context::Trace(trace) = &events[0].contexts["trace"] else {
        panic!("a trace context");
    };
    assert_eq!(trace.span_id, query.span_id);
    assert_eq!(trace.trace_id, txs[0].contexts_trace_id());
}

#[test]
fn without_a_sampled_transaction_spans_record_nothing() {
    let envelopes = with_captured_envelopes_options(
        || {
            with_layer(|| {
                let tx = start_transaction(TransactionContext::new("GET /", "http.server"));
                Hub::current().configure_scope(|s| s.set_span(Some(tx.clone().into())));
                let _s = tracing::info_span!("work").entered();
                tracing::info!("inside");
                drop(_s);
                tx.finish();
            })
        },
        ClientOptions {
            traces_sample_rate: 0.0,
            ..Default::default()
        },
    );
    assert!(transactions_of(&envelopes).is_empty());
}

trait TraceId {
    fn contexts_trace_id(&self) -> sentry_core::protocol::TraceId;
}

impl TraceId for sentry_core::protocol::Transaction {
    fn contexts_trace_id(&self) -> sentry_core::protocol::TraceId {
        match self.contexts.get("trace") {
            Some(sentry_core::protocol::Context::Trace(t)) => t.trace_id,
            _ => panic!("a transaction has a trace context"),
        }
    }
}

/// One `tracing` span entered on two threads at once (each with its own
/// hub), exited in the order the threads entered it: on each thread the
/// span's hub (a fork of the hub it was created in) is current while the
/// thread is inside, the thread's own hub is left alone, and the other
/// thread keeps the span until it exits too. Barriers fix the interleaving.
#[test]
fn a_span_entered_on_two_threads_is_restored_per_thread() {
    use std::sync::{Arc, Barrier};

    use sentry_core::test::TestTransport;
    use sentry_core::{Client, Scope};

    let transport = TestTransport::new();
    let client = Arc::new(Client::with_options(ClientOptions {
        traces_sample_rate: 1.0,
        transport: Some(Arc::new(transport.clone())),
        dsn: Some(
            "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1"
                .parse()
                .expect("valid DSN"),
        ),
        ..Default::default()
    }));
    let hub = || Arc::new(Hub::new(Some(client.clone()), Scope::default()));
    let (main, hub_a, hub_b) = (hub(), hub(), hub());
    let tx = main.start_transaction(TransactionContext::new("job", "task"));
    main.configure_scope(|s| s.set_span(Some(tx.clone().into())));
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer()));
    let shared = tracing::dispatcher::with_default(&dispatch, || {
        Hub::run(main.clone(), || tracing::info_span!("shared"))
    });
    let shared_id = tracing::dispatcher::with_default(&dispatch, || {
        Hub::run(main.clone(), || {
            let _in = shared.enter();
            main.active_span()
                .expect("the span is active")
                .trace_context()
                .span_id
        })
    });
    let is_shared =
        move |hub: &Hub| hub.active_span().map(|s| s.trace_context().span_id) == Some(shared_id);

    let a_entered = Arc::new(Barrier::new(2));
    let b_entered = Arc::new(Barrier::new(2));
    let a_exited = Arc::new(Barrier::new(2));
    let a = {
        let (span, dispatch, hub) = (shared.clone(), dispatch.clone(), hub_a.clone());
        let (a_entered, b_entered, a_exited) =
            (a_entered.clone(), b_entered.clone(), a_exited.clone());
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                Hub::run(hub.clone(), || {
                    let guard = span.enter();
                    let inside = is_shared(&Hub::current()) && !is_shared(&hub);
                    a_entered.wait();
                    b_entered.wait();
                    drop(guard);
                    let after = hub.active_span().is_some();
                    a_exited.wait();
                    (inside, after)
                })
            })
        })
    };
    let b = {
        let (span, dispatch, hub) = (shared.clone(), dispatch.clone(), hub_b.clone());
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                Hub::run(hub.clone(), || {
                    a_entered.wait();
                    let guard = span.enter();
                    b_entered.wait();
                    a_exited.wait();
                    // A exited first: B is still inside, its hub keeps the span.
                    let inside_after_a = is_shared(&Hub::current()) && !is_shared(&hub);
                    drop(guard);
                    (inside_after_a, hub.active_span().is_some())
                })
            })
        })
    };
    let (a_inside, a_after) = a.join().expect("thread A");
    let (b_inside_after_a, b_after) = b.join().expect("thread B");
    assert!(a_inside, "the span's hub has it while A is inside");
    assert!(!a_after, "A's hub is restored when A exits");
    assert!(b_inside_after_a, "B keeps the span after A exits");
    assert!(!b_after, "B's hub is restored when B exits");
    let main_span = main.active_span().map(|s| s.trace_context().span_id);
    assert_eq!(main_span, Some(tx.span_id()), "the main hub is untouched");
    drop(shared);
    tx.finish();
}

#[test]
fn entering_a_span_while_another_thread_configures_the_hub_does_not_deadlock() {
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::Duration;

    use sentry_core::test::TestTransport;
    use sentry_core::{Client, Scope};

    let transport = TestTransport::new();
    let client = Arc::new(Client::with_options(ClientOptions {
        traces_sample_rate: 1.0,
        transport: Some(Arc::new(transport.clone())),
        ..Default::default()
    }));
    // One hub for both threads, as a request's tasks share it (`bind_hub`).
    let hub = Arc::new(Hub::new(Some(client), Scope::default()));
    let tx = hub.start_transaction(TransactionContext::new("job", "task"));
    hub.configure_scope(|s| s.set_span(Some(tx.clone().into())));
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer()));
    let span = tracing::dispatcher::with_default(&dispatch, || {
        Hub::run(hub.clone(), || tracing::info_span!("shared"))
    });

    let (inside_tx, inside_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    // B configures the hub and, inside, makes a child of the span (which
    // reads the span's extensions).
    let b = {
        let (span, dispatch, hub, done) =
            (span.clone(), dispatch.clone(), hub.clone(), done_tx.clone());
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                Hub::run(hub.clone(), || {
                    hub.configure_scope(|_| {
                        inside_tx.send(()).expect("signal");
                        // Long enough for A to be entering the span now.
                        std::thread::sleep(Duration::from_millis(100));
                        drop(tracing::info_span!(parent: &span, "child"));
                    });
                })
            });
            done.send("b").expect("done");
        })
    };
    // A enters the span meanwhile, which configures the same hub.
    let a = {
        let (span, dispatch, hub) = (span.clone(), dispatch.clone(), hub.clone());
        std::thread::spawn(move || {
            inside_rx.recv().expect("B is configuring");
            tracing::dispatcher::with_default(&dispatch, || {
                Hub::run(hub, || drop(span.enter()));
            });
            done_tx.send("a").expect("done");
        })
    };
    for _ in 0..2 {
        done_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the two threads deadlocked");
    }
    a.join().expect("thread A");
    b.join().expect("thread B");
    drop(span);
    tx.finish();
}

/// A hub with a sampled transaction as its active span, and a dispatch with
/// the layer, for the tests of spans entered and exited on a shared hub.
fn shared_hub() -> (
    std::sync::Arc<Hub>,
    sentry_core::performance::Transaction,
    tracing::Dispatch,
) {
    use std::sync::Arc;

    use sentry_core::test::TestTransport;
    use sentry_core::{Client, Scope};

    let client = Arc::new(Client::with_options(ClientOptions {
        traces_sample_rate: 1.0,
        transport: Some(Arc::new(TestTransport::new())),
        dsn: Some(
            "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1"
                .parse()
                .expect("valid DSN"),
        ),
        ..Default::default()
    }));
    let hub = Arc::new(Hub::new(Some(client), Scope::default()));
    let tx = hub.start_transaction(TransactionContext::new("job", "task"));
    hub.configure_scope(|s| s.set_span(Some(tx.clone().into())));
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer()));
    (hub, tx, dispatch)
}

fn active_span_id(hub: &Hub) -> Option<sentry_core::protocol::SpanId> {
    hub.active_span().map(|s| s.trace_context().span_id)
}

/// Two tasks bound to one request's hub (as `bind_hub` does) each enter
/// their own span on their own thread: A enters, B enters, A exits, B exits.
/// A's exit leaves B active; after both exited the hub is back on the
/// transaction, not on A's finished span. Barriers fix the interleaving.
#[test]
fn spans_of_tasks_sharing_a_hub_exited_out_of_order_restore_the_transaction() {
    use std::sync::{Arc, Barrier};

    let (hub, tx, dispatch) = shared_hub();
    let (a, b) = tracing::dispatcher::with_default(&dispatch, || {
        Hub::run(hub.clone(), || {
            (tracing::info_span!("a"), tracing::info_span!("b"))
        })
    });
    let a_entered = Arc::new(Barrier::new(2));
    let b_entered = Arc::new(Barrier::new(2));
    let a_exited = Arc::new(Barrier::new(2));
    let thread_a = {
        let (span, dispatch, hub) = (a.clone(), dispatch.clone(), hub.clone());
        let (a_entered, b_entered, a_exited) =
            (a_entered.clone(), b_entered.clone(), a_exited.clone());
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                Hub::run(hub, || {
                    let guard = span.enter();
                    a_entered.wait();
                    b_entered.wait();
                    drop(guard);
                    a_exited.wait();
                })
            })
        })
    };
    let thread_b = {
        let (span, dispatch, hub) = (b.clone(), dispatch.clone(), hub.clone());
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                Hub::run(hub.clone(), || {
                    a_entered.wait();
                    let guard = span.enter();
                    let b_id = active_span_id(&hub);
                    b_entered.wait();
                    a_exited.wait();
                    let after_a = active_span_id(&hub);
                    drop(guard);
                    (b_id, after_a)
                })
            })
        })
    };
    thread_a.join().expect("thread A");
    let (b_id, after_a) = thread_b.join().expect("thread B");
    assert_ne!(b_id, Some(tx.span_id()), "B is active while entered");
    assert_eq!(after_a, b_id, "A's exit leaves B active");
    assert_eq!(
        active_span_id(&hub),
        Some(tx.span_id()),
        "a finished span stays active on the hub"
    );
    drop((a, b));
    tx.finish();
}

/// `tracing` allows guards to be dropped in any order: enter A, enter B,
/// exit A, exit B on one thread ends with the transaction active again.
#[test]
fn spans_exited_out_of_order_on_one_thread_restore_the_transaction() {
    let (hub, tx, dispatch) = shared_hub();
    let (b_id, after_a) = tracing::dispatcher::with_default(&dispatch, || {
        Hub::run(hub.clone(), || {
            let a = tracing::info_span!("a");
            let b = tracing::info_span!("b");
            let ga = a.enter();
            let gb = b.enter();
            let b_id = active_span_id(&hub);
            drop(ga);
            let after_a = active_span_id(&hub);
            drop(gb);
            drop((a, b));
            (b_id, after_a)
        })
    });
    assert_eq!(after_a, b_id, "A's exit leaves B active");
    assert_eq!(
        active_span_id(&hub),
        Some(tx.span_id()),
        "a closed span stays active on the hub"
    );
    tx.finish();
}

#[derive(Debug)]
struct LoadError;

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("config file missing")
    }
}

impl std::error::Error for LoadError {}

#[tracing::instrument(err)]
fn load_config() -> Result<(), LoadError> {
    Err(LoadError)
}

#[tracing::instrument(err(level = "warn"))]
fn load_cache() -> Result<(), LoadError> {
    Err(LoadError)
}

/// `#[tracing::instrument(err)]` records `error = %e` and no message: the
/// error's text is the message (the event's title), as the official
/// `sentry-tracing` reads it, and not a field as well.
#[test]
fn an_instrument_err_event_is_titled_by_its_error() {
    let events = with_captured_events(|| {
        with_layer(|| {
            let _ = load_cache();
            let _ = load_config();
        })
    });
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.title(), "config file missing");
    assert!(
        !event.contexts.contains_key("Rust Tracing Fields"),
        "{:?}",
        event.contexts
    );
    let crumb = &event.breadcrumbs.values[0];
    assert_eq!(crumb.message.as_deref(), Some("config file missing"));
    assert!(!crumb.data.contains_key("error"));
}

/// A `message` still wins over an `error` field, which stays a field.
#[test]
fn a_message_wins_over_the_error_field() {
    let events = with_captured_events(|| {
        with_layer(|| {
            tracing::error!(error = %LoadError, "startup failed");
        })
    });
    assert_eq!(events[0].title(), "startup failed");
    let Some(sentry_core::protocol::Context::Other(fields)) =
        events[0].contexts.get("Rust Tracing Fields")
    else {
        panic!("{:?}", events[0].contexts);
    };
    assert_eq!(fields["error"], "config file missing");
}

/// `tags.<name>` fields of an event become its tags (as the official
/// `sentry-tracing` reads them), and leave the other fields; breadcrumbs
/// have no tags and keep them as data.
#[test]
fn tags_prefixed_fields_become_tags() {
    let events = with_captured_events(|| {
        with_layer(|| {
            tracing::warn!(tags.tenant = "acme", "quota near");
            tracing::error!(
                tags.tenant = "acme",
                tags.shard = 7,
                tags.retried = true,
                order_id = 77,
                "quota exceeded"
            );
        })
    });
    let event = &events[0];
    let tags: Vec<_> = event
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        tags,
        [("retried", "true"), ("shard", "7"), ("tenant", "acme")]
    );
    let Some(sentry_core::protocol::Context::Other(fields)) =
        event.contexts.get("Rust Tracing Fields")
    else {
        panic!("{:?}", event.contexts);
    };
    assert_eq!(fields.keys().collect::<Vec<_>>(), ["order_id"]);
    assert_eq!(event.breadcrumbs.values[0].data["tags.tenant"], "acme");
}

#[tracing::instrument]
fn handle_order() {
    load_order();
}

#[tracing::instrument]
fn load_order() {}

fn trace_context(tx: &sentry_core::protocol::Transaction) -> &sentry_core::protocol::TraceContext {
    match tx.contexts.get("trace") {
        Some(sentry_core::protocol::Context::Trace(t)) => t,
        _ => panic!("a transaction has a trace context"),
    }
}

/// As the official `sentry-tracing`: a root span with no active
/// transaction starts one, named after the span, its children its spans.
#[test]
fn a_root_span_without_a_transaction_starts_one() {
    let envelopes = with_captured_envelopes_options(
        || with_layer(handle_order),
        ClientOptions {
            traces_sample_rate: 1.0,
            ..Default::default()
        },
    );
    let txs = transactions_of(&envelopes);
    assert_eq!(txs.len(), 1, "{envelopes:#?}");
    assert_eq!(txs[0].name.as_deref(), Some("handle_order"));
    let trace = trace_context(&txs[0]);
    assert_eq!(trace.op.as_deref(), Some("tracing_bridge::handle_order"));
    assert_eq!(trace.origin.as_deref(), Some("auto.tracing"));
    assert_eq!(txs[0].spans.len(), 1, "{:#?}", txs[0].spans);
    assert_eq!(
        txs[0].spans[0].op.as_deref(),
        Some("tracing_bridge::load_order")
    );
    assert_eq!(txs[0].spans[0].description.as_deref(), Some("load_order"));
    assert_eq!(txs[0].spans[0].parent_span_id, Some(trace.span_id));
}

/// The sampling options decide about a root span's transaction; an
/// unsampled one makes its children no transactions of their own.
#[test]
fn a_root_span_transaction_follows_sampling_and_the_span_filter() {
    let sampled_out = with_captured_envelopes_options(
        || with_layer(handle_order),
        ClientOptions {
            traces_sampler: Some(std::sync::Arc::new(|_: &_| 0.0)),
            ..Default::default()
        },
    );
    assert!(transactions_of(&sampled_out).is_empty(), "{sampled_out:#?}");
    let tracing_off =
        with_captured_envelopes_options(|| with_layer(handle_order), ClientOptions::default());
    assert!(transactions_of(&tracing_off).is_empty());
    let filtered = with_captured_envelopes_options(
        || {
            let layer = layer().span_filter(|md| md.name() != "handle_order");
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::with_default(subscriber, handle_order)
        },
        ClientOptions {
            traces_sample_rate: 1.0,
            ..Default::default()
        },
    );
    let txs = transactions_of(&filtered);
    assert_eq!(txs.len(), 1, "the child is the root Sentry span");
    assert_eq!(txs[0].name.as_deref(), Some("load_order"));
}

/// A span created in a request's hub and entered on another thread (a
/// spawned task) reports with the request's scope: its tags, and the
/// request's error observers (its "errored" state), as the official
/// `sentry-tracing` does by remembering the span's hub.
#[test]
fn a_span_entered_on_another_thread_keeps_the_request_scope() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let errored = Arc::new(AtomicBool::new(false));
    let flag = errored.clone();
    let envelopes = with_captured_envelopes_options(
        || {
            let request = Arc::new(Hub::new_from_top(Hub::current()));
            request.configure_scope(|s| {
                s.set_tag("tenant", "acme");
                s.add_error_observer(move |_crashed| flag.store(true, Ordering::Relaxed));
            });
            let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer()));
            let tx = request.start_transaction(TransactionContext::new("GET /", "http.server"));
            request.configure_scope(|s| s.set_span(Some(tx.clone().into())));
            let span = tracing::dispatcher::with_default(&dispatch, || {
                Hub::run(request.clone(), || tracing::info_span!("work"))
            });
            let worker = Arc::new(Hub::new_from_top(Hub::current()));
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    Hub::run(worker, || {
                        let _in = span.enter();
                        sentry_core::capture_message("task failed", Level::Error);
                    })
                })
            })
            .join()
            .expect("the task thread");
            request.configure_scope(|s| {
                assert_eq!(
                    s.get_span().map(|s| s.trace_context().span_id),
                    Some(tx.span_id()),
                    "the request's hub keeps its transaction active"
                );
            });
            tx.finish();
        },
        ClientOptions {
            traces_sample_rate: 1.0,
            ..Default::default()
        },
    );
    let events = events_of(&envelopes);
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].tags.get("tenant").map(String::as_str),
        Some("acme"),
        "{:#?}",
        events[0]
    );
    assert!(
        errored.load(Ordering::Relaxed),
        "the request counts as errored"
    );
    assert!(events[0].contexts.contains_key("trace"));
}

/// `sentry.name`, `sentry.op` and `sentry.trace` name the Sentry span and
/// are not data; recorded later, the first two rename it (as the official
/// `sentry-tracing` reads them).
#[test]
fn sentry_fields_name_the_span_and_continue_a_trace() {
    let caller = "771a43a4192642f0b136d5159a501700-b3b5a1b7b1a5b1a5-1";
    let envelopes = with_captured_envelopes_options(
        || {
            with_layer(|| {
                let root = tracing::info_span!(
                    "consume",
                    "sentry.name" = "orders queue",
                    "sentry.op" = "queue.process",
                    "sentry.trace" = caller,
                );
                let _root = root.enter();
                let child = tracing::info_span!(
                    "step",
                    "sentry.name" = tracing::field::Empty,
                    "sentry.op" = tracing::field::Empty,
                );
                let _child = child.enter();
                child.record("sentry.name", "charge card");
                child.record("sentry.op", "payment");
            })
        },
        ClientOptions {
            traces_sample_rate: 1.0,
            ..Default::default()
        },
    );
    let txs = transactions_of(&envelopes);
    assert_eq!(txs.len(), 1, "{envelopes:#?}");
    assert_eq!(txs[0].name.as_deref(), Some("orders queue"));
    let trace = trace_context(&txs[0]);
    assert_eq!(trace.op.as_deref(), Some("queue.process"));
    assert_eq!(
        trace.trace_id.to_string(),
        "771a43a4192642f0b136d5159a501700",
        "continued"
    );
    assert_eq!(
        trace.parent_span_id.map(|s| s.to_string()).as_deref(),
        Some("b3b5a1b7b1a5b1a5")
    );
    assert!(!trace.data.contains_key("sentry.trace"), "{:?}", trace.data);
    let step = &txs[0].spans[0];
    assert_eq!(step.description.as_deref(), Some("charge card"));
    assert_eq!(step.op.as_deref(), Some("payment"));
    assert!(
        !step.data.contains_key("sentry.name") && !step.data.contains_key("sentry.op"),
        "{:?}",
        step.data
    );
}

/// An error recorded as `&dyn Error` is the exception chain, marked as
/// coming from `tracing`, and not a field as well.
#[test]
fn an_error_field_is_the_exception_with_the_tracing_mechanism() {
    let events = with_captured_events(|| {
        with_layer(|| {
            let err = LoadError;
            tracing::error!(
                error = &err as &dyn std::error::Error,
                attempt = 2,
                "load failed"
            );
        })
    });
    let event = &events[0];
    let exception = event.exception.values.last().expect("exception");
    assert_eq!(exception.value.as_deref(), Some("config file missing"));
    assert_eq!(
        exception.mechanism.as_ref().map(|m| m.ty.as_ref()),
        Some("tracing")
    );
    let Some(sentry_core::protocol::Context::Other(fields)) =
        event.contexts.get("Rust Tracing Fields")
    else {
        panic!("{:?}", event.contexts);
    };
    assert_eq!(fields.keys().collect::<Vec<_>>(), ["attempt"]);
}

#[test]
fn with_enable_logs_events_from_info_up_are_also_sentry_logs_in_their_span() {
    let options = ClientOptions {
        enable_logs: true,
        traces_sample_rate: 1.0,
        ..Default::default()
    };
    let mut span_id = String::new();
    let envelopes = with_captured_envelopes_options(
        || {
            with_layer(|| {
                let transaction = start_transaction(TransactionContext::new("job", "task"));
                span_id = transaction.span_id().to_string();
                sentry_core::configure_scope(|s| s.set_span(Some(transaction.clone().into())));
                tracing::debug!(target: "app::orders", "too fine");
                tracing::info!(target: "app::orders", order = 7, "order placed");
                tracing::error!(target: "app::orders", "payment failed");
                transaction.finish();
            });
        },
        options,
    );
    let lines = sentry_core::test::logs_of(&envelopes);
    let bodies: Vec<&str> = lines.iter().filter_map(|l| l["body"].as_str()).collect();
    assert_eq!(bodies, ["order placed", "payment failed"]);
    let placed = &lines[0];
    assert_eq!(placed["attributes"]["order"]["value"], 7);
    assert_eq!(placed["attributes"]["logger.name"]["value"], "app::orders");
    assert_eq!(
        placed["attributes"]["sentry.origin"]["value"],
        "auto.tracing"
    );
    assert_eq!(placed["span_id"], span_id.as_str());
    // The error is still an event.
    assert_eq!(events_of(&envelopes).len(), 1);
}
