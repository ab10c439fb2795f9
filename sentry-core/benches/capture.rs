//! Hot paths of the top-level API, with and without a client bound.
//!
//! Run with `cargo bench -p sentry-core --bench capture`. Once a client has
//! been bound the "no client" fast path is gone for the rest of the process,
//! so the `no_client` group runs first and the `bound` group initialises the
//! client itself. The comparison with the official crate lives in
//! `benches/compare`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use sentry_core::envelope::Envelope;
use sentry_core::protocol::{Breadcrumb, Level};
use sentry_core::transport::Transport;
use sentry_core::{add_breadcrumb, capture_message, configure_scope, init, ClientOptions};

/// Drops every envelope.
struct DiscardTransport;

impl Transport for DiscardTransport {
    fn send_envelope(&self, envelope: Envelope) {
        black_box(envelope);
    }
}

fn breadcrumb() -> Breadcrumb {
    Breadcrumb {
        category: Some("bench".into()),
        message: Some("a breadcrumb message".into()),
        ..Default::default()
    }
}

/// The four operations, measured against whatever is bound right now.
fn operations(c: &mut Criterion, group: &str) {
    let values: Vec<String> = (0..8).map(|i| format!("value-{i}")).collect();
    let mut g = c.benchmark_group(group);
    g.bench_function("capture_message", |b| {
        b.iter(|| capture_message(black_box("something happened"), Level::Info))
    });
    g.bench_function("add_breadcrumb", |b| b.iter(|| add_breadcrumb(breadcrumb)));
    g.bench_function("set_tag_same_value", |b| {
        b.iter(|| configure_scope(|s| s.set_tag("key", "value")))
    });
    let mut i = 0usize;
    g.bench_function("set_tag_changing_value", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            configure_scope(|s| s.set_tag("rotating", values[i & 7].as_str()))
        })
    });
    g.finish();
}

fn no_client(c: &mut Criterion) {
    operations(c, "no_client");
}

fn bound(c: &mut Criterion) {
    let guard = init(ClientOptions {
        dsn: "https://0123456789abcdef0123456789abcdef@127.0.0.1:8000/1"
            .parse()
            .ok(),
        transport: Some(Arc::new(Arc::new(DiscardTransport))),
        ..Default::default()
    });
    assert!(guard.is_enabled());
    operations(c, "bound");
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = no_client_group;
    config = config();
    targets = no_client
}
criterion_group! {
    name = bound_group;
    config = config();
    targets = bound
}
// Order matters: binding a client is permanent for the process.
criterion_main!(no_client_group, bound_group);
