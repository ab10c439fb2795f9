//! `sentry_transport::init` installs the HTTP transport and the guard flushes
//! on drop. (Its own test binary: it installs the global client.)

mod common;

use std::time::Duration;

use common::TestServer;
use sentry_core::protocol::Level;

#[test]
fn init_installs_the_http_transport_and_the_guard_flushes_on_drop() {
    let server = TestServer::start();
    let guard = sentry_transport::init(sentry_core::ClientOptions {
        dsn: Some(server.dsn()),
        shutdown_timeout: Duration::from_secs(5),
        ..Default::default()
    });
    assert!(guard.is_enabled());
    let id = sentry_core::capture_message("through init", Level::Warning);
    assert!(!id.is_nil());
    drop(guard);

    let requests = server.requests();
    let events: Vec<_> = requests
        .iter()
        .filter_map(|r| r.envelope.as_ref())
        .filter(|e| e.event_id() == Some(id))
        .collect();
    assert_eq!(
        events.len(),
        1,
        "the event was sent before the guard returned"
    );
}
