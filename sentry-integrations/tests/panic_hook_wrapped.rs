//! An application hook installed after the SDK's that calls it (logging
//! setups do: `let prev = take_hook(); set_hook(move |i| { log(i);
//! prev(i) })`): the stack trace still ends in the code that panicked, not
//! in the application's hook. Own test binary: the panic hook is
//! process-global.

#![cfg(feature = "panic")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sentry_core::test::with_captured_events_options;
use sentry_core::ClientOptions;
use sentry_integrations::panic::PanicIntegration;

static APP_HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);

#[inline(never)]
fn parse_port() -> u16 {
    std::hint::black_box("80a").parse().unwrap()
}

#[test]
fn a_wrapping_app_hook_is_not_the_crash_frame() {
    let events = with_captured_events_options(
        || {
            // Installed after the client (which installed the SDK's hook),
            // wrapping it.
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                APP_HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
                previous(info);
            }));
            assert!(std::panic::catch_unwind(parse_port).is_err());
        },
        ClientOptions {
            integrations: vec![Arc::new(PanicIntegration::new())],
            ..Default::default()
        },
    );
    assert_eq!(APP_HOOK_CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(events.len(), 1);
    let frames = &events[0].exception.values[0]
        .stacktrace
        .as_ref()
        .expect("a stack trace")
        .frames;
    let last = frames.last().expect("frames");
    assert_eq!(
        last.function.as_deref(),
        Some("panic_hook_wrapped::parse_port"),
        "last frames: {:?}",
        frames
            .iter()
            .rev()
            .take(6)
            .map(|f| &f.function)
            .collect::<Vec<_>>()
    );
    assert_eq!(last.in_app, Some(true));
    assert!(!frames.iter().any(|f| f
        .function
        .as_deref()
        .unwrap_or("")
        .contains("a_wrapping_app_hook_is_not_the_crash_frame::{{closure}}::{{closure}}")));
}
