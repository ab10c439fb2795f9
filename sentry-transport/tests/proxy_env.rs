//! The `*_PROXY` environment variables: followed by default, ignored on
//! request. One test in its own binary: it sets the process environment.

mod common;

use std::time::Duration;

use common::TestServer;
use sentry_core::envelope::{Envelope, EnvelopeItem};
use sentry_core::protocol::Event;
use sentry_core::transport::Transport;
use sentry_core::ClientOptions;
use sentry_transport::{HttpTransport, HttpTransportBuilder};

fn deliver(builder: HttpTransportBuilder) -> bool {
    let transport = builder
        .max_retries(0)
        .client_reports(false)
        .build()
        .expect("transport");
    let mut envelope = Envelope::new();
    envelope.add_item(EnvelopeItem::event(Event::default()));
    transport.send_envelope(envelope);
    transport.flush(Duration::from_secs(5))
}

#[test]
fn the_environment_proxy_is_followed_unless_the_options_say_otherwise() {
    let receiver = TestServer::start();
    let proxy = TestServer::start();
    for name in [
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
        "http_proxy",
    ] {
        std::env::remove_var(name);
    }
    std::env::set_var("HTTP_PROXY", format!("http://127.0.0.1:{}", proxy.port()));

    assert!(deliver(HttpTransport::builder(receiver.dsn())));
    assert_eq!(proxy.requests().len(), 1, "the environment's proxy");
    assert!(receiver.requests().is_empty());

    assert!(deliver(HttpTransport::builder(receiver.dsn()).no_proxy()));
    let options = ClientOptions {
        dsn: Some(receiver.dsn()),
        http_proxy: Some("".into()),
        ..Default::default()
    };
    assert!(deliver(HttpTransportBuilder::from_options(&options)));
    assert_eq!(receiver.requests().len(), 2, "straight to the receiver");
    assert_eq!(proxy.requests().len(), 1);
}
