//! `Hub::run` installs a hub for the duration of a closure and always puts
//! the previous one back: when runs nest, when the closure panics, and
//! across threads (each thread has its own hub).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use sentry_core::{Hub, Scope};

fn new_hub() -> Arc<Hub> {
    Arc::new(Hub::new(None, Scope::default()))
}

#[test]
fn nested_runs_restore_the_outer_hub() {
    let own = Hub::current();
    // The thread's own hub is the same object every time it is asked for.
    assert!(Arc::ptr_eq(&own, &Hub::current()));

    let (a, b) = (new_hub(), new_hub());
    Hub::run(a.clone(), || {
        assert!(Arc::ptr_eq(&Hub::current(), &a));
        Hub::run(b.clone(), || {
            assert!(Arc::ptr_eq(&Hub::current(), &b));
            Hub::with_current(|h| assert!(Arc::ptr_eq(h, &b)));
        });
        assert!(Arc::ptr_eq(&Hub::current(), &a));
    });
    assert!(Arc::ptr_eq(&Hub::current(), &own));
}

#[test]
fn a_panic_inside_run_restores_the_previous_hub() {
    let own = Hub::current();
    let (a, b) = (new_hub(), new_hub());
    Hub::run(a.clone(), || {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            Hub::run(b.clone(), || panic!("inside the inner run"));
        }));
        assert!(caught.is_err());
        assert!(Arc::ptr_eq(&Hub::current(), &a));
    });
    assert!(Arc::ptr_eq(&Hub::current(), &own));
}

#[test]
fn with_current_can_run_another_hub_inside() {
    let a = new_hub();
    let seen = Hub::with_current(|outer| {
        let outer = outer.clone();
        Hub::run(a.clone(), || Arc::ptr_eq(&Hub::current(), &a))
            && Arc::ptr_eq(&outer, &Hub::current())
    });
    assert!(seen);
}

#[test]
fn threads_have_their_own_hubs() {
    let here = Hub::current();
    let there = std::thread::spawn(Hub::current).join().expect("thread");
    assert!(!Arc::ptr_eq(&here, &there));
}

#[test]
fn two_threads_configuring_one_hub_keep_both_changes() {
    use std::sync::mpsc;
    use std::time::Duration;
    let hub = new_hub();
    hub.configure_scope(|s| s.set_tag("request", "important"));
    let (inside_tx, inside_rx) = mpsc::channel();
    let a = {
        let hub = hub.clone();
        std::thread::spawn(move || {
            hub.configure_scope(|s| {
                inside_tx.send(()).expect("send");
                // Long enough for the other thread to try its change now.
                std::thread::sleep(Duration::from_millis(100));
                s.set_tag("a", "1");
            })
        })
    };
    inside_rx.recv().expect("a is inside");
    let b = {
        let hub = hub.clone();
        std::thread::spawn(move || hub.configure_scope(|s| s.set_tag("b", "1")))
    };
    a.join().expect("a");
    b.join().expect("b");
    let mut tags = Vec::new();
    hub.configure_scope(|s| {
        tags = ["request", "a", "b"]
            .iter()
            .map(|k| s.tags().get(*k).cloned())
            .collect();
    });
    assert_eq!(
        tags,
        [
            Some("important".to_owned()),
            Some("1".to_owned()),
            Some("1".to_owned())
        ]
    );
}
