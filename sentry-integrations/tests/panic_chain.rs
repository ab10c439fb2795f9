//! The panic hook chains the hook installed before it (own test binary: the
//! panic hook is process-global).

#![cfg(feature = "panic")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sentry_core::test::with_captured_events_options;
use sentry_core::ClientOptions;
use sentry_integrations::panic::PanicIntegration;

static PREVIOUS_HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn the_previous_hook_still_runs_after_the_event_is_captured() {
    std::panic::set_hook(Box::new(|_| {
        PREVIOUS_HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
    }));
    let events = with_captured_events_options(
        || {
            assert!(std::panic::catch_unwind(|| panic!("chained")).is_err());
        },
        ClientOptions {
            integrations: vec![Arc::new(PanicIntegration::new())],
            ..Default::default()
        },
    );
    assert_eq!(events.len(), 1);
    assert_eq!(PREVIOUS_HOOK_CALLS.load(Ordering::SeqCst), 1);

    // Installing again (a second client) does not stack a second hook.
    let events = with_captured_events_options(
        || {
            assert!(std::panic::catch_unwind(|| panic!("once")).is_err());
        },
        ClientOptions {
            integrations: vec![Arc::new(PanicIntegration::new())],
            ..Default::default()
        },
    );
    assert_eq!(events.len(), 1);
    assert_eq!(PREVIOUS_HOOK_CALLS.load(Ordering::SeqCst), 2);
}
