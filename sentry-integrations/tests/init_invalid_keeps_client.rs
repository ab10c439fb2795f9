//! A second `init` with an invalid DSN leaves the client of the first one in
//! place (own binary: `init` installs a process-wide client).

#![cfg(feature = "http-transport")]

use std::sync::Arc;

use sentry_core::protocol::Level;
use sentry_core::test::{events_of, TestTransport};
use sentry_integrations::InitOptions;

#[test]
fn an_invalid_second_init_keeps_the_working_client() {
    let transport = TestTransport::new();
    let mut options =
        InitOptions::from("http://0123456789abcdef0123456789abcdef@127.0.0.1:9/5").panic(false);
    options.client_options_mut().transport = Some(Arc::new(transport.clone()));
    let guard = sentry_integrations::init(options);
    assert!(guard.is_enabled());

    let second = sentry_integrations::init("not a dsn");
    assert!(!second.is_enabled());
    drop(second);

    sentry_core::capture_message("still reported", Level::Error);
    drop(guard);
    let events = events_of(&transport.fetch_and_clear_envelopes());
    assert_eq!(events.len(), 1, "the first client was replaced");
}
