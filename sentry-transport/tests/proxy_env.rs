//! The `*_PROXY` environment variables: followed by default, ignored on
//! request. One test in its own binary: it sets the process environment.

mod common;

use common::{deliver_one, TestServer};
use sentry_core::ClientOptions;
use sentry_transport::{HttpTransport, HttpTransportBuilder};

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

    assert!(deliver_one(HttpTransport::builder(receiver.dsn())));
    assert_eq!(proxy.requests().len(), 1, "the environment's proxy");
    assert!(receiver.requests().is_empty());

    assert!(deliver_one(
        HttpTransport::builder(receiver.dsn()).no_proxy()
    ));
    let options = ClientOptions {
        dsn: Some(receiver.dsn()),
        http_proxy: Some("".into()),
        ..Default::default()
    };
    assert!(deliver_one(HttpTransportBuilder::from_options(&options)));
    assert_eq!(receiver.requests().len(), 2, "straight to the receiver");
    assert_eq!(proxy.requests().len(), 1);
}
