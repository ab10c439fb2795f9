//! The check that an attached stack trace ends in the application.

use sentry_core::protocol::Event;

/// Asserts that the stack trace attached to `event` (its first thread's)
/// ends in a function whose name ends with `function`: the SDK's and the
/// logging crates' own frames were trimmed.
pub fn assert_ends_in(event: &Event, function: &str) {
    let frames = &event.threads.values[0]
        .stacktrace
        .as_ref()
        .expect("a stack trace")
        .frames;
    let last = frames.last().and_then(|f| f.function.as_deref());
    assert!(
        last.is_some_and(|f| f.ends_with(function)),
        "last frames: {:?}",
        frames
            .iter()
            .rev()
            .take(4)
            .map(|f| &f.function)
            .collect::<Vec<_>>()
    );
}
