//! `Hub::run` installs a hub for the duration of a closure and always puts
//! the previous one back: when runs nest, when the closure panics, and
//! across threads (each thread has its own hub). Also how a hub's scope
//! reads while a `configure_scope` closure runs.

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

/// A hub with a client that keeps what it sends.
fn recording_hub() -> (Arc<Hub>, Arc<sentry_core::test::TestTransport>) {
    use sentry_core::{Client, ClientOptions};
    let transport = sentry_core::test::TestTransport::new();
    let client = Client::with_options(ClientOptions {
        dsn: "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1"
            .parse()
            .ok(),
        transport: Some(Arc::new(transport.clone())),
        ..Default::default()
    });
    let hub = Arc::new(Hub::new(Some(Arc::new(client)), Scope::default()));
    (hub, transport)
}

#[test]
fn an_event_captured_while_another_thread_configures_keeps_the_scope() {
    use sentry_core::protocol::Level;
    use std::sync::Barrier;
    let (hub, transport) = recording_hub();
    hub.configure_scope(|s| s.set_tag("tenant", "acme"));
    let (inside, done) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let configuring = {
        let (hub, inside, done) = (hub.clone(), inside.clone(), done.clone());
        std::thread::spawn(move || {
            hub.configure_scope(|s| {
                inside.wait();
                done.wait();
                s.set_tag("other", "x");
            })
        })
    };
    inside.wait();
    hub.capture_message("meanwhile", Level::Error);
    hub.add_breadcrumb(sentry_core::protocol::Breadcrumb {
        message: Some("added meanwhile".into()),
        ..Default::default()
    });
    done.wait();
    configuring.join().expect("configuring thread");
    let events = sentry_core::test::events_of(&transport.fetch_and_clear_envelopes());
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].tags.get("tenant").map(String::as_str),
        Some("acme")
    );
    // Both the closure's change and the breadcrumb added meanwhile stay.
    let scope = hub.top_scope();
    assert_eq!(scope.tags()["other"], "x");
    assert_eq!(scope.tags()["tenant"], "acme");
    let crumbs: Vec<_> = scope
        .breadcrumbs()
        .map(|b| b.message.clone().unwrap_or_default())
        .collect();
    assert_eq!(crumbs, ["added meanwhile"]);
}

#[test]
fn an_event_captured_inside_configure_scope_keeps_the_scope() {
    use sentry_core::protocol::{Breadcrumb, Level, User};
    let (hub, transport) = recording_hub();
    hub.configure_scope(|s| {
        s.set_user(Some(User {
            id: Some("42".into()),
            ..Default::default()
        }))
    });
    hub.add_breadcrumb(Breadcrumb {
        message: Some("before".into()),
        ..Default::default()
    });
    Hub::run(hub.clone(), || {
        hub.configure_scope(|s| {
            s.set_tag("k", "v");
            // As a `log::error!` bridged to events would.
            sentry_core::capture_message("inside", Level::Error);
            sentry_core::add_breadcrumb(Breadcrumb {
                message: Some("inside".into()),
                ..Default::default()
            });
        });
    });
    let events = sentry_core::test::events_of(&transport.fetch_and_clear_envelopes());
    assert_eq!(events.len(), 1);
    assert!(events[0].user.is_some(), "the user set before was lost");
    let scope = hub.top_scope();
    let crumbs: Vec<_> = scope
        .breadcrumbs()
        .map(|b| b.message.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        crumbs,
        ["before", "inside"],
        "each breadcrumb once, in order"
    );
    assert_eq!(scope.tags()["k"], "v");
}

#[test]
fn a_closure_waiting_for_a_thread_that_configures_the_same_hub_does_not_hang() {
    use std::sync::mpsc;
    let hub = new_hub();
    let (tx, rx) = mpsc::channel();
    let outer = hub.clone();
    std::thread::spawn(move || {
        outer.configure_scope(|s| {
            s.set_tag("outer", "1");
            let inner = outer.clone();
            std::thread::spawn(move || inner.configure_scope(|s| s.set_tag("inner", "1")))
                .join()
                .expect("inner thread");
        });
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(sentry_core::CONFIGURE_WAIT * 5).is_ok(),
        "configure_scope hung waiting for the other thread"
    );
    assert_eq!(
        hub.top_scope().tags().get("outer").map(String::as_str),
        Some("1")
    );
}

/// Held by an event processor; reads the hub when it is dropped (as a
/// guard that logs, or a tracing span that finishes a transaction, does).
struct ReadsHubOnDrop(Arc<Hub>);

impl Drop for ReadsHubOnDrop {
    fn drop(&mut self) {
        let _ = self.0.top_scope();
    }
}

/// Runs `f` on a thread; fails if it does not finish within 5 s.
fn finishes(f: impl FnOnce() + Send + 'static) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(std::time::Duration::from_secs(5)).is_ok()
}

#[test]
fn what_a_scope_held_is_dropped_with_the_hub_unlocked() {
    // Replaced by configure_scope.
    assert!(
        finishes(|| {
            let hub = new_hub();
            let guard = ReadsHubOnDrop(hub.clone());
            hub.configure_scope(move |s| {
                s.add_event_processor(move |e| {
                    let _ = &guard;
                    Some(e)
                })
            });
            hub.configure_scope(|s| s.clear());
        }),
        "configure_scope hung dropping the replaced scope"
    );
    // Popped with its layer.
    assert!(
        finishes(|| {
            let hub = new_hub();
            let layer = hub.push_scope();
            let guard = ReadsHubOnDrop(hub.clone());
            hub.configure_scope(move |s| {
                s.add_event_processor(move |e| {
                    let _ = &guard;
                    Some(e)
                })
            });
            drop(layer);
        }),
        "popping a scope hung dropping its layer"
    );
}

/// `Hub::switch` guards may be dropped in any order, each removing only its
/// own hub; a switch left in place inside `Hub::run` ends with the run; a
/// guard dropped on another thread changes nothing there.
#[test]
fn switch_guards_drop_in_any_order() {
    let own = Hub::current();
    let (a, b) = (new_hub(), new_hub());
    let guard_a = Hub::switch(a.clone());
    let guard_b = Hub::switch(b.clone());
    assert!(Arc::ptr_eq(&Hub::current(), &b));
    drop(guard_a);
    assert!(
        Arc::ptr_eq(&Hub::current(), &b),
        "A's exit leaves B current"
    );
    Hub::run(a.clone(), || {
        std::mem::forget(Hub::switch(b.clone()));
        assert!(Arc::ptr_eq(&Hub::current(), &b));
    });
    assert!(
        Arc::ptr_eq(&Hub::current(), &b),
        "the run's switch ended with it"
    );
    let elsewhere = std::thread::spawn(move || {
        let before = Hub::current();
        drop(guard_b);
        Arc::ptr_eq(&before, &Hub::current())
    });
    assert!(
        elsewhere.join().expect("the other thread"),
        "no effect there"
    );
    // Its guard was dropped elsewhere: B stays current here.
    assert!(Arc::ptr_eq(&Hub::current(), &b));
    assert!(!Arc::ptr_eq(&own, &b));
}
