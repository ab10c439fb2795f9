//! A replaced global client is seen at once by threads that already used
//! the old one (each thread caches the global client), and a callback that
//! captures from inside the global client's pipeline is served. One test
//! per file: it uses process-global state.

use std::sync::mpsc;
use std::sync::Arc;

use sentry_core::protocol::Level;
use sentry_core::test::{events_of, TestTransport};
use sentry_core::{capture_message, ClientOptions};

fn titles(transport: &TestTransport) -> Vec<String> {
    events_of(&transport.fetch_and_clear_envelopes())
        .iter()
        .map(|e| e.title().to_owned())
        .collect()
}

#[test]
fn a_replaced_global_client_takes_over_on_every_thread_and_reentry_works() {
    let (go_tx, go_rx) = mpsc::channel::<&'static str>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        // Each message is captured when the main thread says so.
        while let Ok(message) = go_rx.recv() {
            capture_message(message, Level::Info);
            done_tx.send(()).expect("done");
        }
    });
    let on_worker = |message: &'static str| {
        go_tx.send(message).expect("go");
        done_rx.recv().expect("done");
    };

    let first = TestTransport::new();
    let guard_a = sentry_core::init(ClientOptions {
        transport: Some(Arc::new(first.clone())),
        ..Default::default()
    });
    capture_message("main to first", Level::Info);
    on_worker("worker to first");
    assert_eq!(titles(&first), ["main to first", "worker to first"]);

    // A second init replaces the global client: both threads switch, though
    // both have the first one cached.
    let second = TestTransport::new();
    let guard_b = sentry_core::init(ClientOptions {
        transport: Some(Arc::new(second.clone())),
        // Re-entry: the hook captures while the global client is in use on
        // this thread; that capture is served (not deadlocked, not lost).
        before_send: Some(Arc::new(|event| {
            if event.title() == "outer" {
                capture_message("from inside before_send", Level::Warning);
            }
            Some(event)
        })),
        ..Default::default()
    });
    capture_message("main to second", Level::Info);
    on_worker("worker to second");
    capture_message("outer", Level::Info);
    let mut got = titles(&second);
    got.sort();
    assert_eq!(
        got,
        [
            "from inside before_send",
            "main to second",
            "outer",
            "worker to second"
        ]
    );
    assert!(
        titles(&first).is_empty(),
        "the first client got more events"
    );

    // Closing the current client leaves none: captures are dropped.
    drop(guard_b);
    drop(guard_a);
    assert!(capture_message("after both guards", Level::Info).is_nil());
    on_worker("worker after both guards");
    assert!(titles(&second).is_empty());
    assert!(titles(&first).is_empty());

    drop(go_tx);
    worker.join().expect("worker");
}
