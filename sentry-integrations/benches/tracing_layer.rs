//! The cost of the `tracing` layer on spans and events.
//!
//! Run with `cargo bench -p sentry-integrations --bench tracing_layer`.
//! Each case enters and exits one INFO span (or emits one event) under a
//! subscriber made of the registry alone (the baseline) or the registry plus
//! the Sentry layer, with no client, with a client but no transaction, with
//! an unsampled transaction and with a sampled one. The layer's promise is
//! that the first three cost close to the baseline.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use sentry_core::envelope::Envelope;
use sentry_core::performance::{start_transaction, TransactionContext};
use sentry_core::transport::Transport;
use sentry_core::{Client, ClientOptions, Hub, Scope};
use tracing::dispatcher::{self, Dispatch};
use tracing_subscriber::prelude::*;

/// Drops every envelope.
struct DiscardTransport;

impl Transport for DiscardTransport {
    fn send_envelope(&self, envelope: Envelope) {
        black_box(envelope);
    }
}

fn hub(traces_sample_rate: f32) -> Arc<Hub> {
    let client = Client::with_options(ClientOptions {
        transport: Some(Arc::new(Arc::new(DiscardTransport))),
        traces_sample_rate,
        ..Default::default()
    });
    Arc::new(Hub::new(Some(Arc::new(client)), Scope::default()))
}

fn span_once() {
    let span = tracing::info_span!("work", item = 7);
    let _entered = span.enter();
    black_box(&span);
}

fn spans(c: &mut Criterion) {
    let mut g = c.benchmark_group("span_enter_exit");
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(500));

    let baseline = Dispatch::new(tracing_subscriber::registry());
    let with_layer =
        Dispatch::new(tracing_subscriber::registry().with(sentry_integrations::tracing::layer()));

    // Grow each registry's span slab before measuring.
    for dispatch in [&baseline, &with_layer] {
        dispatcher::with_default(dispatch, || (0..100_000).for_each(|_| span_once()));
    }
    dispatcher::with_default(&baseline, || {
        g.bench_function("registry only", |b| b.iter(span_once));
    });
    dispatcher::with_default(&with_layer, || {
        g.bench_function("layer, no client", |b| b.iter(span_once));
        Hub::run(hub(0.0), || {
            g.bench_function("layer, client, no transaction", |b| b.iter(span_once));
            let tx = start_transaction(TransactionContext::new("bench", "task"));
            assert!(!tx.is_sampled());
            Hub::current().configure_scope(|s| s.set_span(Some(tx.clone().into())));
            g.bench_function("layer, unsampled transaction", |b| b.iter(span_once));
        });
        Hub::run(hub(1.0), || {
            let tx = start_transaction(TransactionContext::new("bench", "task"));
            assert!(tx.is_sampled());
            Hub::current().configure_scope(|s| s.set_span(Some(tx.clone().into())));
            g.bench_function("layer, sampled transaction", |b| b.iter(span_once));
        });
    });
    g.finish();
}

fn events(c: &mut Criterion) {
    let mut g = c.benchmark_group("event");
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(500));
    let baseline = Dispatch::new(tracing_subscriber::registry());
    let with_layer =
        Dispatch::new(tracing_subscriber::registry().with(sentry_integrations::tracing::layer()));
    dispatcher::with_default(&baseline, || {
        g.bench_function("debug, registry only", |b| {
            b.iter(|| tracing::debug!(n = 1, "ignored"))
        });
    });
    dispatcher::with_default(&with_layer, || {
        g.bench_function("debug, layer (ignored)", |b| {
            b.iter(|| tracing::debug!(n = 1, "ignored"))
        });
        Hub::run(hub(0.0), || {
            g.bench_function("info, layer (breadcrumb)", |b| {
                b.iter(|| tracing::info!(n = 1, "a breadcrumb"))
            });
        });
    });
    g.finish();
}

criterion_group!(benches, spans, events);
criterion_main!(benches);
