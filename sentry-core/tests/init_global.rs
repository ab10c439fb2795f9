//! `init` reaches threads that started before it (the official Rust SDK loses
//! their events). One test per file: it uses process-global state.

use std::sync::mpsc;
use std::sync::Arc;

use sentry_core::protocol::Level;
use sentry_core::test::{events_of, TestTransport};
use sentry_core::{capture_message, ClientOptions};

#[test]
fn thread_started_before_init_reports_after_init() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let worker = std::thread::Builder::new()
        .name("early-worker".into())
        .spawn(move || {
            // Create this thread's hub before any client exists.
            sentry_core::Hub::current().configure_scope(|s| s.set_tag("early", "yes"));
            capture_message("before init: dropped", Level::Info);
            ready_tx.send(()).expect("ready");
            go_rx.recv().expect("go");
            let id = capture_message("from early thread", Level::Error);
            done_tx.send(id).expect("done");
        })
        .expect("spawn");

    ready_rx.recv().expect("ready");
    let transport = TestTransport::new();
    let guard = sentry_core::init(ClientOptions {
        transport: Some(Arc::new(transport.clone())),
        ..Default::default()
    });
    assert!(guard.is_enabled());
    go_tx.send(()).expect("go");
    let id = done_rx.recv().expect("id");
    worker.join().expect("join");
    assert!(!id.is_nil(), "the early thread's capture was lost");

    let events = events_of(&transport.fetch_and_clear_envelopes());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].title(), "from early thread");
    assert_eq!(events[0].event_id, id);
    assert_eq!(events[0].tags["early"], "yes");

    // Invalid options are reported and leave the SDK disabled.
    let bad = sentry_core::try_init(ClientOptions {
        sample_rate: 2.0,
        ..Default::default()
    });
    assert!(bad.is_err());

    drop(guard);
    assert!(capture_message("after guard dropped", Level::Error).is_nil());
}
