//! The panic hook, in process: payloads, thread, stack trace, and which
//! clients report.

#![cfg(feature = "panic")]

use std::sync::Arc;

use sentry_core::protocol::{Event, Level};
use sentry_core::test::with_captured_events_options;
use sentry_core::{ClientOptions, Hub};
use sentry_integrations::panic::PanicIntegration;

fn options() -> ClientOptions {
    ClientOptions {
        integrations: vec![Arc::new(PanicIntegration::new())],
        ..Default::default()
    }
}

fn capture_panic(f: impl FnOnce() + std::panic::UnwindSafe) -> Vec<Event> {
    with_captured_events_options(
        || {
            assert!(std::panic::catch_unwind(f).is_err());
        },
        options(),
    )
}

fn panic_value(events: &[Event]) -> Option<&str> {
    events[0].exception.values[0].value.as_deref()
}

#[test]
fn str_and_string_payloads_are_the_exception_value() {
    let events = capture_panic(|| panic!("a static message"));
    assert_eq!(panic_value(&events), Some("a static message"));

    let events = capture_panic(|| panic!("formatted {}", 42));
    assert_eq!(panic_value(&events), Some("formatted 42"));

    let events = capture_panic(|| std::panic::panic_any(String::from("an owned String")));
    assert_eq!(panic_value(&events), Some("an owned String"));

    let events = capture_panic(|| std::panic::panic_any(7u32));
    assert_eq!(panic_value(&events), Some("Box<dyn Any>"));
}

#[inline(never)]
fn unwrap_none() {
    let nothing: Option<u8> = std::hint::black_box(None);
    let _ = nothing.unwrap();
}

#[test]
fn the_event_is_a_fatal_unhandled_panic_ending_in_the_panicking_function() {
    let events = capture_panic(unwrap_none);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.level, Level::Fatal);
    assert_eq!(
        event.title(),
        "panic: called `Option::unwrap()` on a `None` value"
    );
    let exc = &event.exception.values[0];
    let mechanism = exc.mechanism.as_ref().expect("mechanism");
    assert_eq!(
        (mechanism.ty.as_str(), mechanism.handled),
        ("panic", Some(false))
    );

    let frames = &exc.stacktrace.as_ref().expect("stack trace").frames;
    let last = frames.last().expect("frames");
    assert_eq!(last.function.as_deref(), Some("panic_hook::unwrap_none"));
    assert_eq!(last.in_app, Some(true));
    assert!(last
        .filename
        .as_deref()
        .is_some_and(|f| f.ends_with("tests/panic_hook.rs")));
    // The line of the `unwrap()` call.
    let source = include_str!("panic_hook.rs");
    let line = source
        .lines()
        .position(|l| l.contains("nothing.unwrap()"))
        .map(|i| i as u64 + 1);
    assert_eq!(last.lineno, line);
    assert!(frames
        .iter()
        .all(|f| f.package.as_deref() != Some("sentry_integrations")));
}

/// An extension trait of the application implemented for a std type.
pub trait OptionExt {
    fn or_boom(self) -> u32;
}

impl OptionExt for Option<u32> {
    #[inline(never)]
    fn or_boom(self) -> u32 {
        match std::hint::black_box(self) {
            Some(v) => v,
            None => panic!("boom in an extension trait"),
        }
    }
}

#[inline(never)]
fn calls_extension_trait() {
    let _ = std::hint::black_box(None::<u32>).or_boom();
}

/// `<Option<u32> as panic_hook::OptionExt>::or_boom` is application code
/// (the orphan rule puts the impl in the trait's crate): it is not trimmed
/// as std and is in-app.
#[test]
fn a_panic_in_an_app_trait_impl_for_a_std_type_ends_in_that_impl() {
    let events = capture_panic(calls_extension_trait);
    let st = events[0].exception.values[0]
        .stacktrace
        .as_ref()
        .expect("a stack trace");
    let last = st.frames.last().expect("frames");
    assert!(
        last.function.as_deref().unwrap_or("").contains("or_boom"),
        "last frame is {:?} (in_app {:?})",
        last.function,
        last.in_app
    );
    assert_eq!(last.in_app, Some(true));
}

#[test]
fn the_thread_name_is_reported() {
    let hub = Arc::new(Hub::new_from_top(Hub::current()));
    let events = with_captured_events_options(
        || {
            let hub = Hub::current();
            let _ = std::thread::Builder::new()
                .name("order-worker".into())
                .spawn(move || {
                    Hub::run(hub, || panic!("worker died"));
                })
                .expect("spawn")
                .join();
        },
        options(),
    );
    drop(hub);
    let thread = &events[0].threads.values[0];
    assert_eq!(thread.name.as_deref(), Some("order-worker"));
    assert!(thread.crashed && thread.current && !thread.main);
    assert_eq!(events[0].exception.values[0].thread_id, thread.id);
}

#[test]
fn a_client_without_the_integration_does_not_report_panics() {
    // Install the hook through another client first.
    let _ = capture_panic(|| panic!("installs the hook"));
    let events = with_captured_events_options(
        || {
            assert!(std::panic::catch_unwind(|| panic!("not reported")).is_err());
        },
        ClientOptions::default(),
    );
    assert!(events.is_empty());
}

#[test]
fn in_app_rules_of_the_client_apply_to_panic_frames() {
    let events = with_captured_events_options(
        || {
            assert!(std::panic::catch_unwind(unwrap_none).is_err());
        },
        ClientOptions {
            in_app_exclude: vec!["panic_hook".into()],
            ..options()
        },
    );
    let frames = &events[0].exception.values[0]
        .stacktrace
        .as_ref()
        .expect("st")
        .frames;
    assert!(frames.iter().all(|f| f.in_app == Some(false)));
}

#[test]
fn a_panicking_before_send_is_caught_once_not_reported_by_the_hook() {
    let mut options = options();
    options.before_send = Some(Arc::new(|_: Event| -> Option<Event> {
        panic!("before_send fails on every event")
    }));
    // Before the fix the hook captured the panic, which ran before_send
    // again inside the hook: a panic while panicking aborts the process.
    let events = with_captured_events_options(
        || {
            sentry_core::capture_message("dropped by its hook", Level::Error);
            sentry_core::capture_message("this one too", Level::Info);
        },
        options,
    );
    assert!(events.is_empty(), "{events:?}");
}
