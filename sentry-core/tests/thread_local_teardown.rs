//! The SDK called from a thread-local destructor, after the SDK's own
//! per-thread storage is gone, still works instead of panicking: a panic
//! inside a destructor aborts the whole process. One test per file: it
//! binds the global client.

use std::sync::Arc;

use sentry_core::protocol::Level;
use sentry_core::test::{events_of, TestTransport};
use sentry_core::{capture_message, configure_scope, ClientOptions};

struct OnExit;

impl Drop for OnExit {
    fn drop(&mut self) {
        capture_message("from a thread-local destructor", Level::Error);
    }
}

thread_local! { static LATE: OnExit = const { OnExit }; }

#[test]
fn a_thread_local_destructor_can_capture() {
    let transport = TestTransport::new();
    let _guard = sentry_core::init(ClientOptions {
        transport: Some(Arc::new(transport.clone())),
        ..Default::default()
    });
    let joined = std::thread::spawn(|| {
        // `LATE` is used first, the SDK's storage after it: destructors
        // run in the reverse order, so the SDK's is gone when `LATE`'s runs.
        LATE.with(|_| {});
        configure_scope(|s| s.set_tag("thread", "worker"));
        // A capture here sets up the SDK's other per-thread caches (the
        // trace context of errors): they too are gone before `LATE`'s turn.
        capture_message("from the thread", Level::Error);
    })
    .join();
    assert!(joined.is_ok(), "the thread ended without a panic");
    let events = events_of(&transport.fetch_and_clear_envelopes());
    let titles: Vec<String> = events.iter().map(|e| e.title()).collect();
    assert_eq!(
        titles,
        ["from the thread", "from a thread-local destructor"],
        "both captures were sent"
    );
}
