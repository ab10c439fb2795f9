//! Two measurements of the HTTP transport (run with `cargo bench -p sentry-transport`):
//!
//! 1. throughput: envelopes per second from one application thread through
//!    the transport to a local HTTP server that accepts and discards;
//! 2. capture cost while the receiver is down: p50/p99/max of
//!    `capture_message` (the whole client pipeline plus `send_envelope`)
//!    when nothing listens on the DSN's port.
//!
//! Both are bounded in count (no time-based loops).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sentry_core::envelope::{Envelope, EnvelopeItem};
use sentry_core::protocol::{Event, Level};
use sentry_core::transport::Transport;
use sentry_core::{ClientOptions, Uuid};
use sentry_transport::{HttpTransport, HttpTransportFactory};

const THROUGHPUT_ENVELOPES: usize = 20_000;
const CAPTURES: usize = 20_000;

/// An HTTP server on 127.0.0.1 that reads each body and answers 200.
fn discard_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let _ = req.into_body().collect().await;
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    addr
}

fn event_envelope(i: usize) -> Envelope {
    let mut envelope = Envelope::with_event_id(Uuid::new_v4());
    envelope.add_item(EnvelopeItem::event(Event {
        message: Some(format!("benchmark message {i}")),
        ..Default::default()
    }));
    envelope
}

fn throughput(addr: SocketAddr, max_in_flight: usize) {
    let dsn = format!("http://0123456789abcdef0123456789abcdef@{addr}/1")
        .parse()
        .expect("dsn");
    let transport = HttpTransport::builder(dsn)
        .queue_size(1000)
        .max_in_flight(max_in_flight)
        .client_reports(false)
        .build()
        .expect("transport");
    // Warm up the connections.
    for i in 0..200 {
        transport.send_envelope(event_envelope(i));
    }
    assert!(transport.flush(Duration::from_secs(30)));

    let start = Instant::now();
    let mut sent = 0usize;
    let mut i = 0usize;
    while sent < THROUGHPUT_ENVELOPES {
        // Keep the queue from overflowing: the application thread waits
        // for room only here, to measure delivered throughput.
        if transport.pending() >= 900 {
            std::thread::yield_now();
            continue;
        }
        transport.send_envelope(event_envelope(i));
        sent += 1;
        i += 1;
    }
    let all = transport.flush(Duration::from_secs(60));
    let elapsed = start.elapsed();
    println!(
        "throughput (max_in_flight {max_in_flight}): {THROUGHPUT_ENVELOPES} envelopes delivered in {:.3} s = {:.0} envelopes/s (all delivered: {all})",
        elapsed.as_secs_f64(),
        THROUGHPUT_ENVELOPES as f64 / elapsed.as_secs_f64()
    );
    transport.shutdown(Duration::from_secs(5));
}

fn capture_while_down() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let options = ClientOptions {
        dsn: format!("http://0123456789abcdef0123456789abcdef@127.0.0.1:{port}/1")
            .parse()
            .ok(),
        transport: Some(Arc::new(HttpTransportFactory::new(|b| {
            b.retry_backoff(Duration::from_millis(100), Duration::from_secs(1))
                .debug(std::env::var_os("BENCH_DEBUG").is_some())
        }))),
        shutdown_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let guard = sentry_core::init(options);
    assert!(guard.is_enabled(), "the client must reach the transport");
    // Warm up (thread locals, allocator).
    for _ in 0..1000 {
        sentry_core::capture_message("warm up", Level::Error);
    }
    let mut samples = Vec::with_capacity(CAPTURES);
    for _ in 0..CAPTURES {
        let start = Instant::now();
        sentry_core::capture_message("receiver is down", Level::Error);
        samples.push(start.elapsed());
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "capture_message while the receiver is down ({CAPTURES} captures): p50 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs, max {:.2} µs",
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        pct(0.999).as_secs_f64() * 1e6,
        samples[samples.len() - 1].as_secs_f64() * 1e6,
    );
    drop(guard);
}

fn main() {
    // `cargo test --benches` runs bench targets with `--test`: stay quick then.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let addr = discard_server();
    throughput(addr, 4); // the default
    throughput(addr, 8);
    capture_while_down();
}
