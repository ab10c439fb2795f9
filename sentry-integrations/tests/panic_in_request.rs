//! The panic hook inside a request handler run by the HTTP server layer:
//! the panic is captured, but the hook does not flush, because the handler's
//! thread is a runtime worker that the flush would block (up to the flush
//! timeout, with every task on that worker) while the panic does not end the
//! process. The same for a panic in a task the handler spawns (any `tokio`
//! task: the runtime catches its panic). Elsewhere, also in the future given
//! to `block_on` (an async `main`), the hook still flushes. Own test binary:
//! the panic hook is process-global.

#![cfg(all(feature = "panic", feature = "tower"))]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sentry_core::envelope::Envelope;
use sentry_core::test::{events_of, TestTransport};
use sentry_core::transport::Transport;
use sentry_core::{Client, ClientOptions, Hub, Scope, SentryFutureExt};
use sentry_integrations::http_server::SentryHttpLayer;
use sentry_integrations::panic::PanicIntegration;
use tower::{Layer, Service, ServiceExt};

/// Keeps envelopes in memory and counts the flushes asked of it.
struct CountingTransport {
    inner: Arc<TestTransport>,
    flushes: AtomicUsize,
}

impl Transport for CountingTransport {
    fn send_envelope(&self, envelope: Envelope) {
        self.inner.send_envelope(envelope);
    }

    fn flush(&self, _timeout: Duration) -> bool {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        true
    }
}

fn sentry() -> (Arc<Hub>, Arc<CountingTransport>) {
    let transport = Arc::new(CountingTransport {
        inner: TestTransport::new(),
        flushes: AtomicUsize::new(0),
    });
    let factory = transport.clone();
    let client = Client::with_options(ClientOptions {
        dsn: Some(
            "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1"
                .parse()
                .expect("valid DSN"),
        ),
        traces_sample_rate: 1.0,
        // A long timeout: a flush would be the runtime worker's whole stall.
        integrations: vec![Arc::new(
            PanicIntegration::new().flush_timeout(Some(Duration::from_secs(30))),
        )],
        transport: Some(Arc::new(move |_: &ClientOptions| {
            factory.clone() as Arc<dyn Transport>
        })),
        ..Default::default()
    });
    (
        Arc::new(Hub::new(Some(Arc::new(client)), Scope::default())),
        transport,
    )
}

/// A handler whose future panics when polled.
async fn panics_when_polled(_request: http::Request<()>) -> Result<http::Response<()>, Infallible> {
    panic!("bad input")
}

/// A service whose `call` itself panics (before returning a future).
#[derive(Clone)]
struct PanicsInCall;

impl Service<http::Request<()>> for PanicsInCall {
    type Response = http::Response<()>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<http::Response<()>, Infallible>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: http::Request<()>) -> Self::Future {
        panic!("bad call")
    }
}

fn values(transport: &CountingTransport) -> Vec<Option<String>> {
    events_of(&transport.inner.fetch_and_clear_envelopes())
        .iter()
        .map(|e| e.exception.values[0].value.clone())
        .collect()
}

#[test]
fn a_handler_panic_is_captured_without_a_flush_a_panic_elsewhere_is_flushed() {
    let (hub, transport) = sentry();
    // The handlers run on this thread (a current-thread runtime), like on a
    // runtime worker.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let layer = SentryHttpLayer::new().with_hub(hub.clone());
        let polled = layer.layer(tower::service_fn(panics_when_polled));
        let joined = tokio::spawn(polled.oneshot(http::Request::new(()))).await;
        assert!(joined.expect_err("the panic is resumed").is_panic());
        let called = layer.layer(PanicsInCall);
        let joined = tokio::spawn(called.oneshot(http::Request::new(()))).await;
        assert!(joined.expect_err("the panic is resumed").is_panic());
    });
    assert_eq!(
        values(&transport),
        [Some("bad input".to_owned()), Some("bad call".to_owned())]
    );
    assert_eq!(
        transport.flushes.load(Ordering::SeqCst),
        0,
        "no flush in a request"
    );

    // Outside a request, on the same thread, the hook flushes again.
    let outside = Hub::run(hub, || std::panic::catch_unwind(|| panic!("in main")));
    assert!(outside.is_err());
    assert_eq!(values(&transport), [Some("in main".to_owned())]);
    assert_eq!(transport.flushes.load(Ordering::SeqCst), 1);
}

/// A handler that spawns a task which panics, and answers 500 when it did.
async fn spawns_a_panicking_task(
    _request: http::Request<()>,
) -> Result<http::Response<()>, Infallible> {
    let task = tokio::spawn(async { panic!("in a spawned task") }.bind_hub(Hub::current()));
    let failed = task.await.is_err();
    let mut response = http::Response::new(());
    if failed {
        *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    }
    Ok(response)
}

#[test]
fn a_panic_in_a_task_is_queued_without_a_flush_a_panic_in_block_on_is_flushed() {
    let (hub, transport) = sentry();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let layer = SentryHttpLayer::new().with_hub(hub.clone());
    let service = layer.layer(tower::service_fn(spawns_a_panicking_task));
    let response = runtime.block_on(async {
        // The request on a runtime worker, as a server runs it.
        tokio::spawn(service.oneshot(http::Request::new(())))
            .await
            .expect("the handler itself does not panic")
    });
    assert_eq!(
        response.expect("infallible").status(),
        http::StatusCode::INTERNAL_SERVER_ERROR
    );
    // Queued to the transport, not flushed: the worker was not blocked.
    assert_eq!(values(&transport), [Some("in a spawned task".to_owned())]);
    assert_eq!(
        transport.flushes.load(Ordering::SeqCst),
        0,
        "no flush in a task"
    );

    // A plain spawned task, outside any request, and a blocking task.
    runtime.block_on(async {
        let task = tokio::spawn(async { panic!("in a task") }.bind_hub(hub.clone()));
        assert!(task.await.expect_err("panicked").is_panic());
        let hub = hub.clone();
        let blocking = tokio::task::spawn_blocking(move || Hub::run(hub, || panic!("blocking")));
        assert!(blocking.await.expect_err("panicked").is_panic());
    });
    assert_eq!(
        values(&transport),
        [Some("in a task".to_owned()), Some("blocking".to_owned())]
    );
    assert_eq!(transport.flushes.load(Ordering::SeqCst), 0);

    // The future given to `block_on` (an async `main`) runs in the runtime
    // but is not a task: its panic ends the process, so it is flushed.
    let caught = runtime.block_on(async {
        Hub::run(hub.clone(), || {
            std::panic::catch_unwind(|| panic!("in block_on"))
        })
    });
    assert!(caught.is_err());
    assert_eq!(values(&transport), [Some("in block_on".to_owned())]);
    assert_eq!(transport.flushes.load(Ordering::SeqCst), 1);
}
