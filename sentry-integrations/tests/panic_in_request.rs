//! The panic hook inside a request handler run by the HTTP server layer:
//! the panic is captured, but the hook does not flush, because the handler's
//! thread is a runtime worker that the flush would block (up to the flush
//! timeout, with every task on that worker) while the panic does not end the
//! process. Elsewhere the hook still flushes. Own test binary: the panic hook
//! is process-global.

#![cfg(all(feature = "panic", feature = "tower"))]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sentry_core::envelope::Envelope;
use sentry_core::test::{events_of, TestTransport};
use sentry_core::transport::Transport;
use sentry_core::{Client, ClientOptions, Hub, Scope};
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
