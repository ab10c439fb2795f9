//! An application that replaces the panic hook after `init` (with
//! `std::panic::set_hook`, `color-eyre`, `human-panic`) removes the SDK's
//! hook; the HTTP server layer then captures a handler's panic itself. Own
//! test binary: the panic hook is process-global.

#![cfg(all(feature = "panic", feature = "tower"))]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sentry_core::protocol::Level;
use sentry_core::test::{events_of, TestTransport};
use sentry_core::{Client, ClientOptions, Hub, Scope};
use sentry_integrations::http_server::SentryHttpLayer;
use sentry_integrations::panic::PanicIntegration;
use tower::{Layer, ServiceExt};

static APP_HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);

async fn panics(_request: http::Request<()>) -> Result<http::Response<()>, Infallible> {
    panic!("bad input")
}

#[test]
fn a_handler_panic_is_reported_once_when_the_app_replaced_the_hook() {
    let transport = TestTransport::new();
    // Creating the client installs the SDK's hook...
    let client = Client::with_options(ClientOptions {
        dsn: Some(
            "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1"
                .parse()
                .expect("valid DSN"),
        ),
        traces_sample_rate: 1.0,
        integrations: vec![Arc::new(
            PanicIntegration::new().flush_timeout(Some(Duration::ZERO)),
        )],
        transport: Some(Arc::new(transport.clone())),
        ..Default::default()
    });
    let hub = Arc::new(Hub::new(Some(Arc::new(client)), Scope::default()));
    // ...which the application then replaces.
    std::panic::set_hook(Box::new(|info| {
        APP_HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
        eprintln!("app hook: {info}");
    }));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let layer = SentryHttpLayer::new().with_hub(hub.clone());
        let service = layer.layer(tower::service_fn(panics));
        let joined = tokio::spawn(service.oneshot(http::Request::new(()))).await;
        assert!(joined.expect_err("the panic is resumed").is_panic());

        // Two layers, one inside the other: the inner one reports the panic,
        // the outer one sees it resumed and does not report it again.
        let nested = layer.layer(layer.layer(tower::service_fn(panics)));
        let joined = tokio::spawn(nested.oneshot(http::Request::new(()))).await;
        assert!(joined.expect_err("the panic is resumed").is_panic());
    });
    assert_eq!(
        APP_HOOK_CALLS.load(Ordering::SeqCst),
        2,
        "the app's hook ran"
    );

    let events = events_of(&transport.fetch_and_clear_envelopes());
    assert_eq!(events.len(), 2, "{events:#?}");
    for event in &events {
        assert_eq!(event.level, Level::Fatal);
        let exception = &event.exception.values[0];
        assert_eq!(exception.ty, "panic");
        assert_eq!(exception.value.as_deref(), Some("bad input"));
        let handled = exception.mechanism.as_ref().and_then(|m| m.handled);
        assert_eq!(handled, Some(false));
    }
}
