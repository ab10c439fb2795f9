//! Transactions, spans, sampling and propagation (issue: tracing and release
//! health in the SDK).

use std::sync::{Arc, Mutex};

use sentry_core::envelope::{Envelope, ItemPayload};
use sentry_core::performance::{start_transaction, TransactionContext};
use sentry_core::propagation::{Dsc, IncomingTrace};
use sentry_core::protocol::{DataCategory, DiscardReason, Level, SpanStatus, Transaction};
use sentry_core::test::{events_of, transactions_of, TestTransport};
use sentry_core::{capture_message, configure_scope, Client, ClientOptions, Hub, Scope};

const DSN: &str = "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1";

fn hub_with(options: ClientOptions) -> (Arc<Hub>, Arc<TestTransport>) {
    let transport = TestTransport::new();
    let client = Client::with_options(ClientOptions {
        dsn: DSN.parse().ok(),
        release: Some("app@1.0.0".into()),
        transport: Some(Arc::new(transport.clone())),
        ..options
    });
    (
        Arc::new(Hub::new(Some(Arc::new(client)), Scope::default())),
        transport,
    )
}

fn sampled() -> ClientOptions {
    ClientOptions {
        traces_sample_rate: 1.0,
        ..Default::default()
    }
}

#[test]
fn sampled_transaction_with_children_is_sent_with_its_dsc() {
    let (hub, transport) = hub_with(sampled());
    let (trace_id, root) = Hub::run(hub, || {
        let tx = start_transaction(TransactionContext::new("GET /users", "http.server"));
        let mut parents = vec![];
        for i in 0..10 {
            let span = tx.start_child("db.query", format!("q{i}"));
            span.set_data("rows", serde_json::json!(i));
            parents.push(span.span_id());
            span.finish();
        }
        tx.set_status(SpanStatus::NotFound);
        let ids = (tx.trace_id(), tx.span_id());
        tx.finish();
        ids
    });
    let envelopes = transport.fetch_and_clear_envelopes();
    assert_eq!(envelopes.len(), 1);
    let trace = envelopes[0]
        .headers
        .trace
        .as_ref()
        .expect("dsc header")
        .to_json();
    assert_eq!(trace["trace_id"], trace_id.to_string());
    assert_eq!(trace["public_key"], "0123456789abcdef0123456789abcdef");
    assert_eq!(trace["sample_rate"], "1");
    assert_eq!(trace["sampled"], "true");
    assert_eq!(trace["release"], "app@1.0.0");
    assert_eq!(trace["transaction"], "GET /users");
    let rand: f64 = trace["sample_rand"]
        .as_str()
        .expect("rand")
        .parse()
        .expect("float");
    assert!((0.0..1.0).contains(&rand));
    let txs = transactions_of(&envelopes);
    let tx = &txs[0];
    assert_eq!(tx.spans.len(), 10);
    assert!(tx
        .spans
        .iter()
        .all(|s| s.parent_span_id == Some(root) && s.trace_id == trace_id));
    assert!(tx
        .spans
        .iter()
        .all(|s| s.timestamp.is_some_and(|t| t >= s.start_timestamp)));
    assert_eq!(tx.spans[3].data["rows"], 3);
    let value = serde_json::to_value(tx).expect("json");
    assert_eq!(value["contexts"]["trace"]["status"], "not_found");
    assert_eq!(value["contexts"]["trace"]["op"], "http.server");
    assert_eq!(value["contexts"]["trace"]["span_id"], root.to_string());
    assert!(value["timestamp"].as_f64() >= value["start_timestamp"].as_f64());
}

#[test]
fn unsampled_transaction_sends_nothing_and_counts_it() {
    let (hub, transport) = hub_with(ClientOptions {
        traces_sampler: Some(Arc::new(|_| 0.0)),
        ..Default::default()
    });
    Hub::run(hub, || {
        let tx = start_transaction(TransactionContext::new("job", "task"));
        assert!(!tx.is_sampled());
        let child = tx.start_child("a", "b");
        assert!(!child.is_sampled());
        // Still propagates the trace and the negative decision.
        let [(_, trace), (_, baggage)] = child.trace_headers();
        assert!(trace.ends_with("-0"), "{trace}");
        assert!(baggage.contains("sentry-sampled=false"), "{baggage}");
        child.finish();
        tx.finish();
    });
    assert!(transport.fetch_and_clear_envelopes().is_empty());
    assert_eq!(
        transport.discards()[&(DiscardReason::SampleRate, DataCategory::Transaction)],
        1
    );
    // And its root span, as dropping a sampled one by a hook counts spans.
    assert_eq!(
        transport.discards()[&(DiscardReason::SampleRate, DataCategory::Span)],
        1
    );
}

#[test]
fn with_tracing_off_transactions_are_not_counted_as_dropped() {
    // No rate, no sampler: nothing was going to be sent, and the server
    // middleware starts a transaction on every request.
    let (hub, transport) = hub_with(ClientOptions::default());
    Hub::run(hub, || {
        for _ in 0..10 {
            let tx = start_transaction(TransactionContext::new("GET /", "http.server"));
            assert!(!tx.is_sampled());
            tx.finish();
        }
        // An upstream decision does not turn tracing on: "not sampled" or
        // "sampled", nothing was going to be sent.
        for flag in ["0", "1"] {
            let header = format!("771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-{flag}");
            let ctx = TransactionContext::continue_from_headers(
                "GET /",
                "http.server",
                [("sentry-trace", header.as_str())],
            );
            start_transaction(ctx).finish();
        }
    });
    assert!(transport.fetch_and_clear_envelopes().is_empty());
    assert!(
        transport.discards().is_empty(),
        "{:?}",
        transport.discards()
    );
}

/// With tracing off (no `traces_sample_rate`, no `traces_sampler`) no
/// transaction is sampled, whatever the caller decided (as the Python SDK
/// does), and the trace goes on without a decision of this service: the
/// caller's flag and sampling context when continued, none when heading
/// the trace. A downstream service that traces then decides itself instead
/// of dropping its transactions on a "not sampled" this one never took.
#[test]
fn with_tracing_off_no_decision_is_taken_or_propagated() {
    let (hub, transport) = hub_with(ClientOptions::default());
    Hub::run(hub, || {
        let head = start_transaction(TransactionContext::new("GET /", "http.server"));
        assert!(!head.is_sampled());
        let trace_id = head.trace_id().to_string();
        let span = head.start_child("http.client", "GET http://next/");
        let [(_, sentry_trace), (_, baggage)] = span.trace_headers();
        assert_eq!(sentry_trace, format!("{trace_id}-{}", span.span_id()));
        assert!(baggage.contains(&format!("sentry-trace_id={trace_id}")));
        assert!(baggage.contains("sentry-release=app%401.0.0"));
        for key in ["sentry-sampled", "sentry-sample_rate", "sentry-sample_rand"] {
            assert!(!baggage.contains(key), "{baggage}");
        }
        span.finish();
        head.finish();

        let incoming = TransactionContext::continue_from_headers(
            "GET /",
            "http.server",
            [
                (
                    "sentry-trace",
                    "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
                ),
                (
                    "baggage",
                    "sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-sampled=true,sentry-sample_rate=1,sentry-sample_rand=0.5",
                ),
            ],
        );
        let continued = start_transaction(incoming);
        assert!(!continued.is_sampled());
        // The caller's decision and context go on unchanged.
        assert_eq!(continued.sentry_trace().sampled, Some(true));
        assert_eq!(continued.dsc().get("sampled"), Some("true"));
        continued.finish();

        // A caller's context without a sample_rand goes on without one:
        // nothing was decided here.
        let incoming = TransactionContext::continue_from_headers(
            "GET /",
            "http.server",
            [
                (
                    "sentry-trace",
                    "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-0",
                ),
                (
                    "baggage",
                    "sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-sampled=false,sentry-sample_rate=0.25",
                ),
            ],
        );
        let continued = start_transaction(incoming);
        assert_eq!(continued.dsc().get("sample_rand"), None);
        assert_eq!(continued.dsc().get("sample_rate"), Some("0.25"));
        continued.finish();

        // A flag forced with `set_sampled` decides nothing with tracing
        // off, and is not passed on as if a caller had sent it.
        for forced in [true, false] {
            let mut ctx = TransactionContext::new("job", "task");
            ctx.set_sampled(Some(forced));
            let head = start_transaction(ctx);
            assert!(!head.is_sampled());
            assert_eq!(head.sentry_trace().sampled, None, "forced {forced}");
            head.finish();
        }
    });
    assert!(transport.fetch_and_clear_envelopes().is_empty());
}

#[test]
fn sample_rate_holds_over_ten_thousand_decisions() {
    let (hub, transport) = hub_with(ClientOptions {
        traces_sample_rate: 0.3,
        ..Default::default()
    });
    let sampled = Hub::run(hub, || {
        (0..10_000)
            .filter(|_| start_transaction(TransactionContext::new("t", "op")).is_sampled())
            .count()
    });
    // mean 3000, sd ~45.8: allow 5 sd
    assert!((2771..=3229).contains(&sampled), "sampled {sampled}");
    let dropped = transport.discards()[&(DiscardReason::SampleRate, DataCategory::Transaction)];
    assert_eq!(sampled as u64 + dropped, 10_000);
}

#[test]
fn sampler_sees_context_parent_decision_and_custom_data() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let (hub, _t) = hub_with(ClientOptions {
        traces_sampler: Some(Arc::new(
            move |ctx: &sentry_core::performance::SamplingContext<'_>| {
                seen2.lock().expect("lock").push((
                    ctx.transaction_context.name().to_owned(),
                    ctx.parent_sampled,
                    ctx.custom.get("tier").cloned(),
                ));
                if ctx.parent_sampled == Some(true) {
                    1.0
                } else {
                    0.0
                }
            },
        )),
        ..Default::default()
    });
    Hub::run(hub, || {
        let mut ctx = TransactionContext::continue_from_headers(
            "child",
            "http.server",
            [(
                "sentry-trace",
                "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
            )],
        );
        ctx.set_custom("tier", serde_json::json!("gold"));
        assert!(start_transaction(ctx).is_sampled());
        assert!(!start_transaction(TransactionContext::new("root", "op")).is_sampled());
    });
    let seen = seen.lock().expect("lock");
    assert_eq!(
        seen[0],
        ("child".into(), Some(true), Some(serde_json::json!("gold")))
    );
    assert_eq!(seen[1], ("root".into(), None, None));
}

#[test]
fn parent_decision_is_honoured_without_a_sampler() {
    // Tracing on, at a rate that alone would sample almost nothing.
    let (hub, _t) = hub_with(ClientOptions {
        traces_sample_rate: 1e-9,
        ..Default::default()
    });
    Hub::run(hub.clone(), || {
        let yes = TransactionContext::continue_from_headers(
            "a",
            "op",
            [(
                "sentry-trace",
                "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
            )],
        );
        assert!(start_transaction(yes).is_sampled());
    });
    let (hub, _t) = hub_with(ClientOptions {
        traces_sample_rate: 1.0,
        ..Default::default()
    });
    Hub::run(hub, || {
        // A `traceparent` alone often comes from a load balancer or gateway,
        // not a Sentry SDK: its flag does not decide, the trace id is kept,
        // and this SDK heads the trace's sampling context.
        let unsampled = TransactionContext::continue_from_headers(
            "a",
            "op",
            [(
                "traceparent",
                "00-771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-00",
            )],
        );
        let tx = start_transaction(unsampled);
        assert!(tx.is_sampled(), "traces_sample_rate 1.0 decides");
        let dsc = tx.dsc();
        assert_eq!(
            dsc.get("trace_id"),
            Some("771a43a4192642f0b136d5159a501700")
        );
        assert_eq!(dsc.get("sampled"), Some("true"));
    });
    let (hub, _t) = hub_with(ClientOptions {
        traces_sample_rate: 1e-9,
        ..Default::default()
    });
    Hub::run(hub, || {
        let sampled = TransactionContext::continue_from_headers(
            "a",
            "op",
            [(
                "traceparent",
                "00-771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-01",
            )],
        );
        assert!(!start_transaction(sampled).is_sampled());
        // With Sentry baggage it is a Sentry SDK propagating the W3C way:
        // its decision holds and its sampling context is kept.
        let upstream = TransactionContext::continue_from_headers(
            "a",
            "op",
            [
                (
                    "traceparent",
                    "00-771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-01",
                ),
                ("baggage", "sentry-sample_rand=0.5,sentry-public_key=up"),
            ],
        );
        let tx = start_transaction(upstream);
        assert!(tx.is_sampled());
        assert_eq!(tx.dsc().get("public_key"), Some("up"));
    });
}

#[test]
fn continued_trace_keeps_ids_and_the_frozen_baggage() {
    let (hub, transport) = hub_with(sampled());
    let baggage = "vendor=1,sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-public_key=49d0f7386ad645858ae85020e393bef3,sentry-sample_rate=0.5,sentry-sample_rand=0.250000,sentry-sampled=true,sentry-release=up%402.0,sentry-environment=prod,sentry-transaction=GET%20%2F";
    Hub::run(hub, || {
        let ctx = TransactionContext::continue_from_headers(
            "downstream",
            "http.server",
            [
                (
                    "sentry-trace",
                    "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
                ),
                ("baggage", baggage),
            ],
        );
        let tx = start_transaction(ctx);
        let child = tx.start_child("http.client", "GET /next");
        let outgoing = child.trace_headers();
        assert!(outgoing[0]
            .1
            .starts_with("771a43a4192642f0b136d5159a501700-"));
        assert_eq!(
            Dsc::from_baggage(&outgoing[1].1),
            Dsc::from_baggage(baggage)
        );
        child.finish();
        tx.finish();
    });
    let envelopes = transport.fetch_and_clear_envelopes();
    let trace = envelopes[0].headers.trace.as_ref().expect("dsc").to_json();
    assert_eq!(trace["release"], "up@2.0");
    assert_eq!(trace["sample_rand"], "0.250000");
    let tx = &transactions_of(&envelopes)[0];
    let v = serde_json::to_value(tx).expect("json");
    assert_eq!(
        v["contexts"]["trace"]["trace_id"],
        "771a43a4192642f0b136d5159a501700"
    );
    assert_eq!(v["contexts"]["trace"]["parent_span_id"], "b0e6f15b45c36b12");
}

#[test]
fn incoming_sample_rand_decides_consistently() {
    let (hub, _t) = hub_with(ClientOptions {
        traces_sample_rate: 0.5,
        ..Default::default()
    });
    Hub::run(hub, || {
        for (rand, expect) in [("0.100000", true), ("0.900000", false)] {
            let trace = IncomingTrace::from_headers([
                (
                    "sentry-trace",
                    "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12",
                ),
                ("baggage", &*format!("sentry-sample_rand={rand}")),
            ]);
            let tx = start_transaction(TransactionContext::continue_from("t", "op", trace));
            assert_eq!(tx.is_sampled(), expect, "rand {rand}");
        }
    });
}

#[test]
fn errors_inside_a_transaction_carry_its_trace_context() {
    let (hub, transport) = hub_with(sampled());
    let (trace_id, span_id) = Hub::run(hub, || {
        let tx = start_transaction(TransactionContext::new("job", "task"));
        let span = tx.start_child("step", "");
        configure_scope(|s| s.set_span(Some(span.clone().into())));
        capture_message("failed inside", Level::Error);
        let ids = (span.trace_id(), span.span_id());
        span.finish();
        tx.finish();
        ids
    });
    let envelopes = transport.fetch_and_clear_envelopes();
    let events = events_of(&envelopes);
    let v = serde_json::to_value(&events[0]).expect("json");
    assert_eq!(v["contexts"]["trace"]["trace_id"], trace_id.to_string());
    assert_eq!(v["contexts"]["trace"]["span_id"], span_id.to_string());
    assert_eq!(v["contexts"]["trace"]["op"], "step");
    let header = envelopes[0]
        .headers
        .trace
        .as_ref()
        .expect("dsc on the error envelope");
    assert_eq!(header.get("trace_id"), Some(trace_id.to_string().as_str()));
}

/// The `contexts.trace` of the last event captured, as JSON.
fn last_trace_context(transport: &TestTransport) -> serde_json::Value {
    let events = events_of(&transport.fetch_and_clear_envelopes());
    let event = events.last().expect("an event");
    serde_json::to_value(event).expect("json")["contexts"]["trace"].clone()
}

#[test]
fn a_finished_span_still_set_on_the_scope_names_itself_in_events() {
    let (hub, transport) = hub_with(sampled());
    let transport = &transport;
    Hub::run(hub, || {
        let tx = start_transaction(TransactionContext::new("job", "task"));
        let span = tx.start_child("db.query", "SELECT 1");
        configure_scope(|s| s.set_span(Some(span.clone().into())));
        let (trace_id, span_id) = (span.trace_id(), span.span_id());
        let expect = |what: &str, trace: serde_json::Value| {
            assert_eq!(trace["trace_id"], trace_id.to_string(), "{what}");
            assert_eq!(trace["span_id"], span_id.to_string(), "{what}");
            assert_eq!(trace["parent_span_id"], tx.span_id().to_string(), "{what}");
            assert_eq!(trace["op"], "db.query", "{what}");
        };

        capture_message("running", Level::Error);
        expect("running", last_trace_context(transport));

        span.finish();
        capture_message("after the span finished", Level::Error);
        expect("finished", last_trace_context(transport));

        tx.clone().finish();
        capture_message("after the transaction was sent", Level::Error);
        expect("sent", last_trace_context(transport));
        configure_scope(|s| s.set_span(None));
    });
}

#[test]
fn unrecorded_spans_and_transactions_still_name_themselves_in_events() {
    // Not sampled: neither the transaction nor its span records anything.
    let (hub, transport) = hub_with(ClientOptions::default());
    let transport = &transport;
    Hub::run(hub, || {
        let tx = start_transaction(TransactionContext::new("job", "task"));
        assert!(!tx.is_sampled());
        configure_scope(|s| s.set_span(Some(tx.clone().into())));
        capture_message("in the transaction", Level::Error);
        let trace = last_trace_context(transport);
        assert_eq!(trace["span_id"], tx.span_id().to_string());
        assert_eq!(trace["op"], "task");

        let span = tx.start_child("step", "");
        configure_scope(|s| s.set_span(Some(span.clone().into())));
        capture_message("in the span", Level::Error);
        let trace = last_trace_context(transport);
        assert_eq!(trace["span_id"], span.span_id().to_string());
        assert_eq!(trace["parent_span_id"], tx.span_id().to_string());
        assert_eq!(trace["op"], "step");
        configure_scope(|s| s.set_span(None));
    });

    // Sampled, but the span is over `max_spans` and not recorded.
    let (hub, transport) = hub_with(ClientOptions {
        max_spans: 0,
        ..sampled()
    });
    let transport = &transport;
    Hub::run(hub, || {
        let tx = start_transaction(TransactionContext::new("job", "task"));
        let span = tx.start_child("step", "");
        configure_scope(|s| s.set_span(Some(span.clone().into())));
        capture_message("in the dropped span", Level::Error);
        let trace = last_trace_context(transport);
        assert_eq!(trace["span_id"], span.span_id().to_string());
        assert_eq!(trace["parent_span_id"], tx.span_id().to_string());
        assert_eq!(trace["op"], "step");
        configure_scope(|s| s.set_span(None));
    });
}

#[test]
fn before_send_transaction_changes_or_drops() {
    let (hub, transport) = hub_with(ClientOptions {
        traces_sample_rate: 1.0,
        before_send_transaction: Some(Arc::new(|mut t: Transaction| {
            if t.name.as_deref() == Some("/health") {
                return None;
            }
            t.tags.insert("seen".into(), "yes".into());
            Some(t)
        })),
        ..Default::default()
    });
    Hub::run(hub, || {
        let health = start_transaction(TransactionContext::new("/health", "http.server"));
        health.start_child("db", "ping").finish();
        health.start_child("cache", "ping").finish();
        health.finish();
        start_transaction(TransactionContext::new("/users", "http.server")).finish();
    });
    let txs = transactions_of(&transport.fetch_and_clear_envelopes());
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].tags["seen"], "yes");
    assert_eq!(
        transport.discards()[&(DiscardReason::BeforeSend, DataCategory::Transaction)],
        1
    );
    // Its two spans and itself.
    assert_eq!(
        transport.discards()[&(DiscardReason::BeforeSend, DataCategory::Span)],
        3
    );
}

#[test]
fn span_cap_drops_and_counts_the_excess() {
    let (hub, transport) = hub_with(ClientOptions {
        traces_sample_rate: 1.0,
        max_spans: 5,
        ..Default::default()
    });
    Hub::run(hub, || {
        let tx = start_transaction(TransactionContext::new("big", "op"));
        for _ in 0..8 {
            tx.start_child("s", "").finish();
        }
        tx.finish();
    });
    let txs = transactions_of(&transport.fetch_and_clear_envelopes());
    assert_eq!(txs[0].spans.len(), 5);
    assert_eq!(
        transport.discards()[&(DiscardReason::BufferOverflow, DataCategory::Span)],
        3
    );
}

#[test]
fn finishing_twice_sends_once() {
    let (hub, transport) = hub_with(sampled());
    Hub::run(hub, || {
        let tx = start_transaction(TransactionContext::new("t", "op"));
        tx.clone().finish();
        tx.finish();
    });
    assert_eq!(transport.fetch_and_clear_envelopes().len(), 1);
}

fn session_items(envelopes: &[Envelope]) -> Vec<serde_json::Value> {
    envelopes
        .iter()
        .flat_map(|e| e.items.iter())
        .filter_map(|i| match &i.payload {
            ItemPayload::Session(s) => Some(serde_json::to_value(s).expect("json")),
            ItemPayload::Sessions(s) => Some(serde_json::to_value(s).expect("json")),
            _ => None,
        })
        .collect()
}

#[test]
fn application_session_counts_errors_and_crashes() {
    let (hub, transport) = hub_with(ClientOptions::default());
    Hub::run(hub.clone(), || {
        sentry_core::session::start_session();
        capture_message("first error", Level::Error);
        capture_message("second error", Level::Error);
        let mut panic = sentry_core::protocol::Event::default();
        panic
            .exception
            .values
            .push(sentry_core::protocol::Exception {
                ty: "panic".into(),
                mechanism: Some(sentry_core::protocol::Mechanism {
                    ty: "panic".into(),
                    handled: Some(false),
                    ..Default::default()
                }),
                ..Default::default()
            });
        sentry_core::capture_event(panic);
    });
    let sessions = session_items(&transport.fetch_and_clear_envelopes());
    assert_eq!(sessions.len(), 3, "{sessions:#?}");
    let (init, errored, crashed) = (&sessions[0], &sessions[1], &sessions[2]);
    assert_eq!(init["init"], true);
    assert_eq!(init["status"], "ok");
    assert_eq!(init["errors"], 0);
    assert_eq!(init["attrs"]["release"], "app@1.0.0");
    assert_eq!(
        init["attrs"]["environment"],
        sentry_core::DEFAULT_ENVIRONMENT
    );
    assert_eq!(errored["init"], false);
    assert_eq!(errored["status"], "ok");
    assert_eq!(errored["errors"], 1);
    assert_eq!(errored["sid"], init["sid"]);
    assert_eq!(crashed["status"], "crashed");
    assert_eq!(crashed["errors"], 3);
    assert!(crashed["seq"].as_u64() > errored["seq"].as_u64());
    // A crashed session is over: closing sends nothing more for it.
    hub.client().expect("client").close(None);
    assert!(session_items(&transport.fetch_and_clear_envelopes()).is_empty());
}

/// An unhandled panic event as the panic integration builds it.
fn panic_event() -> sentry_core::protocol::Event {
    let mut panic = sentry_core::protocol::Event {
        level: Level::Fatal,
        ..Default::default()
    };
    panic
        .exception
        .values
        .push(sentry_core::protocol::Exception {
            ty: "panic".into(),
            value: Some("boom".into()),
            mechanism: Some(sentry_core::protocol::Mechanism {
                ty: "panic".into(),
                handled: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        });
    panic
}

/// The session counts errors that `sample_rate` drops (the official SDKs
/// update the session before sampling): a sampled-out panic still crashes
/// it, and a sampled-out error still marks it errored.
#[test]
fn sampled_out_errors_still_count_in_the_session() {
    let unsampled = || ClientOptions {
        sample_rate: 0.0,
        ..Default::default()
    };
    let (hub, transport) = hub_with(unsampled());
    Hub::run(hub.clone(), || {
        sentry_core::session::start_session();
        sentry_core::capture_event(panic_event());
        sentry_core::session::end_session();
    });
    let envelopes = transport.fetch_and_clear_envelopes();
    assert!(events_of(&envelopes).is_empty());
    let sessions = session_items(&envelopes);
    assert_eq!(sessions.len(), 2, "{sessions:#?}");
    assert_eq!(sessions[1]["status"], "crashed");
    assert_eq!(sessions[1]["errors"], 1);

    let (hub, transport) = hub_with(unsampled());
    Hub::run(hub.clone(), || {
        sentry_core::session::start_session();
        capture_message("db down", Level::Error);
        // The scope's level counts as it would once applied.
        sentry_core::with_scope(
            |scope| scope.set_level(Some(Level::Error)),
            || capture_message("escalated", Level::Info),
        );
        sentry_core::session::end_session();
    });
    let sessions = session_items(&transport.fetch_and_clear_envelopes());
    assert_eq!(sessions.len(), 3, "{sessions:#?}");
    assert_eq!(sessions[1]["status"], "ok");
    assert_eq!(sessions[1]["errors"], 1);
    assert_eq!(sessions[2]["status"], "exited");
    assert_eq!(sessions[2]["errors"], 2);
}

#[test]
fn ending_a_session_sends_a_final_status_the_protocol_allows() {
    use sentry_core::protocol::SessionStatus;
    let (hub, transport) = hub_with(ClientOptions::default());
    // Crashed without an error captured: a crashed session has errors >= 1.
    Hub::run(hub.clone(), || {
        sentry_core::session::start_session();
        sentry_core::session::end_session_with_status(SessionStatus::Crashed);
    });
    let sessions = session_items(&transport.fetch_and_clear_envelopes());
    assert_eq!(sessions.len(), 2, "{sessions:#?}");
    assert_eq!(sessions[1]["status"], "crashed");
    assert_eq!(sessions[1]["errors"], 1);
    // `ok` is not a final status: the session ends as exited.
    Hub::run(hub.clone(), || {
        sentry_core::session::start_session();
        sentry_core::session::end_session_with_status(SessionStatus::Ok);
    });
    let sessions = session_items(&transport.fetch_and_clear_envelopes());
    assert_eq!(sessions.len(), 2, "{sessions:#?}");
    assert_eq!(sessions[1]["status"], "exited");
    assert_eq!(sessions[1]["errors"], 0);
}

#[test]
fn application_session_ends_exited_on_close() {
    let (hub, transport) = hub_with(ClientOptions::default());
    Hub::run(hub.clone(), sentry_core::session::start_session);
    hub.client().expect("client").close(None);
    let sessions = session_items(&transport.fetch_and_clear_envelopes());
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[1]["status"], "exited");
    assert_eq!(sessions[1]["errors"], 0);
    assert!(sessions[1]["duration"].as_f64().is_some());
    // Relay reads a session's times as RFC 3339 strings only.
    for key in ["started", "timestamp"] {
        let value = sessions[1][key].as_str().unwrap_or_default();
        assert!(
            sentry_core::protocol::Timestamp::parse_rfc3339(value).is_some(),
            "{key} = {}",
            sessions[1][key]
        );
    }
}

#[test]
fn a_user_known_by_email_or_name_is_the_sessions_distinct_id() {
    use sentry_core::protocol::User;
    for (user, did) in [
        (
            User {
                email: Some("jane@example.org".into()),
                username: Some("jane".into()),
                ..Default::default()
            },
            "jane@example.org",
        ),
        (
            User {
                username: Some("jane".into()),
                ..Default::default()
            },
            "jane",
        ),
        (
            User {
                id: Some("42".into()),
                email: Some("jane@example.org".into()),
                ..Default::default()
            },
            "42",
        ),
    ] {
        let (hub, transport) = hub_with(ClientOptions::default());
        hub.configure_scope(|s| s.set_user(Some(user)));
        Hub::run(hub.clone(), sentry_core::session::start_session);
        let sessions = session_items(&transport.fetch_and_clear_envelopes());
        assert_eq!(sessions[0]["did"], did);
    }
}

#[test]
fn request_sessions_aggregate_per_minute() {
    let (hub, transport) = hub_with(ClientOptions {
        session_mode: sentry_core::session::SessionMode::Request,
        ..Default::default()
    });
    let request = |outcome: u8| {
        let req_hub = Arc::new(Hub::new_from_top(&hub));
        Hub::run(req_hub.clone(), || {
            req_hub.start_request_session();
            if outcome >= 1 {
                capture_message("handled", Level::Error);
            }
            if outcome == 2 {
                let mut e = sentry_core::protocol::Event::default();
                e.exception.values.push(sentry_core::protocol::Exception {
                    ty: "panic".into(),
                    mechanism: Some(sentry_core::protocol::Mechanism {
                        handled: Some(false),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                sentry_core::capture_event(e);
            }
            req_hub.end_request_session();
        });
    };
    for outcome in [0, 0, 0, 1, 1, 2] {
        request(outcome);
    }
    transport.fetch_and_clear_envelopes();
    hub.client().expect("client").close(None);
    let sessions = session_items(&transport.fetch_and_clear_envelopes());
    assert_eq!(sessions.len(), 1, "one sessions item, not one per request");
    let agg = &sessions[0];
    assert_eq!(agg["attrs"]["release"], "app@1.0.0");
    let bucket = &agg["aggregates"][0];
    let total: u64 = ["exited", "errored", "crashed"]
        .iter()
        .map(|k| bucket[k].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(total, 6);
    assert_eq!(bucket["exited"], 3);
    assert_eq!(bucket["errored"], 2);
    assert_eq!(bucket["crashed"], 1);
    // RFC 3339, as Relay reads a session's times (no number form there).
    let started = bucket["started"].as_str().expect("started as a string");
    assert!(
        started.ends_with(":00.000000Z"),
        "bucket starts on a minute: {started}"
    );
}

#[test]
fn spans_still_running_at_finish_are_left_out() {
    let (hub, transport) = hub_with(sampled());
    Hub::run(hub, || {
        let tx = start_transaction(TransactionContext::new("t", "op"));
        let done = tx.start_child("done", "");
        let _running = tx.start_child("running", "");
        done.finish();
        tx.finish();
    });
    let txs = transactions_of(&transport.fetch_and_clear_envelopes());
    let ops: Vec<_> = txs[0]
        .spans
        .iter()
        .filter_map(|s| s.op.as_deref())
        .collect();
    assert_eq!(ops, ["done"]);
    assert_eq!(txs[0].spans[0].status, Some(SpanStatus::Ok));
}

#[test]
fn an_end_before_the_start_is_recorded_as_the_start() {
    let (hub, transport) = hub_with(sampled());
    Hub::run(hub, || {
        let tx = start_transaction(TransactionContext::new("early end", "task"));
        let span = tx.start_child("work", "");
        span.finish_with_timestamp(sentry_core::protocol::Timestamp::from_secs_f64(1.0));
        tx.finish_with_timestamp(sentry_core::protocol::Timestamp::from_secs_f64(1.0));
    });
    let sent = transactions_of(&transport.fetch_and_clear_envelopes());
    assert_eq!(sent.len(), 1);
    let tx = &sent[0];
    assert_eq!(tx.timestamp, Some(tx.start_timestamp));
    assert_eq!(tx.spans.len(), 1);
    assert_eq!(tx.spans[0].timestamp, Some(tx.spans[0].start_timestamp));
    assert!(tx.start_timestamp.as_secs_f64() > 1.0);
}

#[test]
fn a_sample_rand_made_for_an_upstream_decision_is_propagated() {
    let (hub, _transport) = hub_with(sampled());
    for (baggage, below) in [
        // Sampled upstream at 0.25 without a sample_rand: one below 0.25.
        ("sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-sample_rate=0.25,sentry-sampled=true", 0.25),
        // Out of range: replaced by one of our own.
        ("sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-sample_rand=1.5", 1.0),
    ] {
        let ctx = TransactionContext::continue_from_headers(
            "GET /",
            "http.server",
            [
                (
                    "sentry-trace",
                    "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
                ),
                ("baggage", baggage),
            ],
        );
        let tx = hub.start_transaction(ctx);
        let rand: f64 = tx
            .dsc()
            .get("sample_rand")
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("no sample_rand propagated for {baggage}"));
        assert!((0.0..below).contains(&rand), "{rand} for {baggage}");
        let [_, (_, outgoing)] = tx.trace_headers();
        assert!(outgoing.contains("sentry-sample_rand=0."), "{outgoing}");
    }
}

#[test]
fn a_transaction_renamed_before_anything_propagated_sends_its_new_name() {
    let (hub, transport) = hub_with(sampled());
    let tx = hub.start_transaction(TransactionContext::new("initial", "http.server"));
    tx.set_name("GET /users/{id}");
    Hub::run(hub.clone(), || tx.finish());
    let envelopes = transport.fetch_and_clear_envelopes();
    let trace = envelopes[0].headers.trace.clone().expect("trace header");
    assert_eq!(trace.get("transaction"), Some("GET /users/{id}"));

    // Once propagated, the DSC is frozen: a later rename does not change it.
    let tx = hub.start_transaction(TransactionContext::new("first", "http.server"));
    let [_, (_, baggage)] = tx.trace_headers();
    assert!(baggage.contains("sentry-transaction=first"), "{baggage}");
    tx.set_name("second");
    assert_eq!(tx.dsc().get("transaction"), Some("first"));
}

#[test]
fn a_nil_incoming_trace_is_not_continued() {
    let (hub, transport) = hub_with(sampled());
    let ctx = TransactionContext::continue_from_headers(
        "GET /x",
        "http.server",
        [(
            "sentry-trace",
            "00000000000000000000000000000000-0000000000000000-1",
        )],
    );
    hub.start_transaction(ctx).finish();
    let envelopes = transport.fetch_and_clear_envelopes();
    let txs = sentry_core::test::transactions_of(&envelopes);
    let Some(sentry_core::protocol::Context::Trace(trace)) = txs[0].contexts.get("trace") else {
        panic!("no trace context");
    };
    assert!(
        !trace.trace_id.is_nil(),
        "a new trace, as without the header"
    );
    assert_eq!(trace.parent_span_id, None);
}

#[test]
fn a_trace_continued_without_baggage_keeps_an_empty_dsc() {
    let (hub, _transport) = hub_with(sampled());
    let ctx = TransactionContext::continue_from_headers(
        "GET /x",
        "http.server",
        [(
            "sentry-trace",
            "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
        )],
    );
    let tx = hub.start_transaction(ctx);
    assert_eq!(tx.dsc().get("sample_rand"), None, "{:?}", tx.dsc());
}

/// The envelope header `trace` of the only envelope, as JSON.
fn only_trace_header(envelopes: &[Envelope]) -> Option<serde_json::Map<String, serde_json::Value>> {
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    envelopes[0].headers.trace.as_ref().map(Dsc::to_json)
}

#[test]
fn errors_outside_any_span_carry_a_dsc_of_the_scopes_trace() {
    let (hub, transport) = hub_with(sampled());
    let own = hub.top_scope().propagation_trace();
    Hub::run(hub, || capture_message("job failed", Level::Error));
    let envelopes = transport.fetch_and_clear_envelopes();
    let trace = only_trace_header(&envelopes).expect("a trace header");
    assert_eq!(
        serde_json::Value::Object(trace),
        serde_json::json!({
            "environment": sentry_core::DEFAULT_ENVIRONMENT,
            "public_key": "0123456789abcdef0123456789abcdef",
            "release": "app@1.0.0",
            "sample_rate": "1",
            "trace_id": own.trace_id.to_string(),
        })
    );
    let event = serde_json::to_value(&events_of(&envelopes)[0]).expect("json");
    assert_eq!(
        event["contexts"]["trace"]["trace_id"],
        own.trace_id.to_string()
    );
}

#[test]
fn the_scopes_dsc_names_a_sample_rate_only_when_one_rate_samples_every_transaction() {
    for (what, options) in [
        ("tracing off", ClientOptions::default()),
        (
            "a traces_sampler decides per transaction",
            ClientOptions {
                traces_sampler: Some(Arc::new(|_| 0.5)),
                ..sampled()
            },
        ),
    ] {
        let (hub, transport) = hub_with(options);
        Hub::run(hub, || capture_message("job failed", Level::Error));
        let trace = only_trace_header(&transport.fetch_and_clear_envelopes()).expect(what);
        assert!(!trace.contains_key("sample_rate"), "{what}: {trace:?}");
        assert!(trace.contains_key("trace_id"), "{what}: {trace:?}");
    }
    let (hub, transport) = hub_with(ClientOptions {
        traces_sample_rate: 0.25,
        ..Default::default()
    });
    Hub::run(hub, || capture_message("job failed", Level::Error));
    let trace = only_trace_header(&transport.fetch_and_clear_envelopes()).expect("header");
    assert_eq!(trace["sample_rate"], "0.25");
}

#[test]
fn an_error_in_a_trace_of_its_own_gets_no_dsc_of_the_scopes_trace() {
    let (hub, transport) = hub_with(sampled());
    Hub::run(hub, || {
        let mut event = sentry_core::protocol::Event::default();
        let trace = sentry_core::protocol::TraceContext {
            trace_id: "771a43a4192642f0b136d5159a501700".parse().expect("id"),
            span_id: "b0e6f15b45c36b12".parse().expect("id"),
            ..Default::default()
        };
        event.contexts.insert("trace".into(), trace.into());
        sentry_core::capture_event(event);
    });
    let envelopes = transport.fetch_and_clear_envelopes();
    assert_eq!(only_trace_header(&envelopes), None);
}

#[test]
fn errors_inside_a_span_keep_the_transactions_dsc() {
    let (hub, transport) = hub_with(sampled());
    let dsc = Hub::run(hub, || {
        let tx = start_transaction(TransactionContext::new("job", "task"));
        configure_scope(|s| s.set_span(Some(tx.clone().into())));
        capture_message("failed inside", Level::Error);
        configure_scope(|s| s.set_span(None));
        tx.dsc()
    });
    let trace = only_trace_header(&transport.fetch_and_clear_envelopes()).expect("header");
    assert_eq!(trace, dsc.to_json());
    assert_eq!(trace["transaction"], "job");
    assert_eq!(trace["sampled"], "true");
}

#[test]
fn errors_outside_any_span_send_the_dsc_entries_the_python_sdk_sends() {
    // An error the official Python SDK captured outside any transaction, with
    // environment "ci", release "conformance@1.0.0" and traces_sample_rate 1.0.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/python/001-event.jsonl"
    );
    let body = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let python = Envelope::parse(&body).expect("fixture parses");
    let python_trace = python
        .headers
        .trace
        .as_ref()
        .expect("python's DSC")
        .to_json();
    let python_event = &events_of(&[python])[0];
    let python_event = serde_json::to_value(python_event).expect("json");
    assert_eq!(
        python_trace["trace_id"],
        python_event["contexts"]["trace"]["trace_id"]
    );

    let transport = TestTransport::new();
    let client = Client::with_options(ClientOptions {
        dsn: DSN.parse().ok(),
        environment: Some("ci".into()),
        release: Some("conformance@1.0.0".into()),
        transport: Some(Arc::new(transport.clone())),
        ..sampled()
    });
    let hub = Arc::new(Hub::new(Some(Arc::new(client)), Scope::default()));
    Hub::run(hub, || capture_message("handled", Level::Error));
    let ours = only_trace_header(&transport.fetch_and_clear_envelopes()).expect("our DSC");
    let keys = |m: &serde_json::Map<String, serde_json::Value>| {
        m.keys().cloned().collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(keys(&ours), keys(&python_trace));
    for key in ["environment", "release", "public_key"] {
        assert_eq!(ours[key], python_trace[key], "{key}");
    }
    let rate = |m: &serde_json::Map<String, serde_json::Value>| -> f64 {
        m["sample_rate"]
            .as_str()
            .expect("string")
            .parse()
            .expect("number")
    };
    assert_eq!(rate(&ours), rate(&python_trace));
}

const INCOMING_BAGGAGE: &str = "vendor=1,sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-public_key=49d0f7386ad645858ae85020e393bef3,sentry-sample_rate=0.5,sentry-sample_rand=0.250000,sentry-sampled=true,sentry-release=up%402.0,sentry-environment=prod,sentry-transaction=GET%20%2F";

/// The scope's trace before and after continuing `headers`, the
/// `contexts.trace` of an error then captured without a span, and its
/// envelope's `trace` header.
type Continued = (
    sentry_core::propagation::SentryTrace,
    sentry_core::propagation::SentryTrace,
    serde_json::Value,
    Option<serde_json::Map<String, serde_json::Value>>,
);

fn error_in_continued_trace(headers: &[(&str, &str)]) -> Continued {
    let (hub, transport) = hub_with(sampled());
    let before = hub.top_scope().propagation_trace();
    let own = Hub::run(hub, || {
        configure_scope(|s| {
            s.continue_trace(&IncomingTrace::from_headers(headers.iter().copied()))
        });
        capture_message("consumer failed", Level::Error);
        Hub::with_current(|hub| hub.top_scope().propagation_trace())
    });
    let envelopes = transport.fetch_and_clear_envelopes();
    let event = serde_json::to_value(&events_of(&envelopes)[0]).expect("json");
    (
        before,
        own,
        event["contexts"]["trace"].clone(),
        only_trace_header(&envelopes),
    )
}

#[test]
fn a_scope_that_continues_a_trace_sends_its_errors_with_the_callers_frozen_dsc() {
    let (_, own, trace, header) = error_in_continued_trace(&[
        (
            "sentry-trace",
            "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
        ),
        ("baggage", INCOMING_BAGGAGE),
    ]);
    assert_eq!(trace["trace_id"], "771a43a4192642f0b136d5159a501700");
    assert_eq!(trace["parent_span_id"], "b0e6f15b45c36b12");
    assert_eq!(trace["span_id"], own.span_id.to_string());
    assert_ne!(own.span_id.to_string(), "b0e6f15b45c36b12");
    assert_eq!(own.sampled, Some(true), "the caller's decision goes on");
    assert_eq!(
        header.expect("the frozen DSC"),
        Dsc::from_baggage(INCOMING_BAGGAGE).to_json()
    );
}

#[test]
fn a_scope_that_continues_a_trace_without_baggage_sends_no_dsc() {
    // The caller sent no sampling context: it is frozen empty, as for a
    // transaction continued the same way, and an empty header says nothing.
    let (_, _, trace, header) = error_in_continued_trace(&[(
        "sentry-trace",
        "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12",
    )]);
    assert_eq!(trace["trace_id"], "771a43a4192642f0b136d5159a501700");
    assert_eq!(header, None);
}

#[test]
fn a_scope_that_continues_a_bare_traceparent_heads_the_traces_dsc() {
    let (_, _, trace, header) = error_in_continued_trace(&[(
        "traceparent",
        "00-771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-01",
    )]);
    assert_eq!(trace["parent_span_id"], "b0e6f15b45c36b12");
    let header = header.expect("our DSC");
    assert_eq!(header["trace_id"], "771a43a4192642f0b136d5159a501700");
    assert_eq!(header["public_key"], "0123456789abcdef0123456789abcdef");
    assert!(!header.contains_key("sampled"), "{header:?}");
}

#[test]
fn a_scope_given_malformed_trace_headers_starts_a_new_trace() {
    for sentry_trace in [
        "771a43a4-1926-42f0-b136-d5159a501700-b0e6f15b45c36b12-1",
        "771a43a4192642f0b136d5159a501700-b0e6-f15b45c36b12-1",
        "771a43a4192642f0b136d5159a50170-0b0e6f15b45c36b12-1",
    ] {
        let (before, own, trace, header) = error_in_continued_trace(&[
            ("sentry-trace", sentry_trace),
            ("baggage", INCOMING_BAGGAGE),
        ]);
        assert_ne!(
            own.trace_id.to_string(),
            "771a43a4192642f0b136d5159a501700",
            "{sentry_trace}"
        );
        assert_ne!(own.trace_id, before.trace_id, "a new trace: {sentry_trace}");
        assert_eq!(trace["trace_id"], own.trace_id.to_string());
        assert!(trace.get("parent_span_id").is_none(), "{trace}");
        assert_eq!(own.sampled, None);
        let header = header.expect("a DSC of the new trace");
        assert_eq!(header["trace_id"], own.trace_id.to_string());
        assert_eq!(header["public_key"], "0123456789abcdef0123456789abcdef");
    }
}

/// An op set after the start is the one sent and the one events name, on
/// every handle of a span and also when the transaction is not sampled.
#[test]
fn an_op_set_later_is_seen_by_every_handle_and_sent() {
    let (hub, transport) = hub_with(sampled());
    Hub::run(hub, || {
        let tx = start_transaction(TransactionContext::new("job", "task"));
        let span = tx.start_child("step", "one");
        let other = span.clone();
        span.set_op("db.query");
        assert_eq!(other.trace_context().op.as_deref(), Some("db.query"));
        tx.set_op("queue.process");
        let kept = tx.clone();
        span.finish();
        // A handle of a span that ended: its own copy.
        other.set_op("db.write");
        assert_eq!(other.trace_context().op.as_deref(), Some("db.write"));
        tx.finish();
        assert_eq!(
            kept.trace_context().op.as_deref(),
            Some("queue.process"),
            "still after the finish"
        );
    });
    let txs: Vec<Transaction> = transactions_of(&transport.fetch_and_clear_envelopes());
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].spans[0].op.as_deref(), Some("db.query"));
    let Some(sentry_core::protocol::Context::Trace(trace)) = txs[0].contexts.get("trace") else {
        panic!("{:?}", txs[0].contexts);
    };
    assert_eq!(trace.op.as_deref(), Some("queue.process"));

    let (hub, _) = hub_with(ClientOptions {
        traces_sampler: Some(Arc::new(|_: &_| 0.0)),
        ..Default::default()
    });
    Hub::run(hub, || {
        let tx = start_transaction(TransactionContext::new("job", "task"));
        assert!(!tx.is_sampled());
        tx.set_op("queue.process");
        assert_eq!(tx.trace_context().op.as_deref(), Some("queue.process"));
    });
}
