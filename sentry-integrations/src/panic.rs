//! Panics as fatal events.
//!
//! [`PanicIntegration`] installs a panic hook (once per process, when the
//! first client with the integration is created). On a panic the hook:
//!
//! 1. builds an event: level `fatal`, one exception of type `panic` whose
//!    value is the panic message (`&str` and `String` payloads; other payloads
//!    read `Box<dyn Any>`), mechanism `{type: "panic", handled: false}`, the
//!    stack trace of the panicking thread (panic machinery and SDK frames
//!    trimmed, so the last frame is the code that panicked, also when a
//!    hook the application installed later wraps this one and calls it:
//!    see [`crate::backtrace::trim_sdk_frames`]), and the thread (id, name,
//!    `crashed: true`);
//! 2. captures it on the current hub and **flushes** the client (up to
//!    [`PanicIntegration::flush_timeout`], default the client's
//!    `shutdown_timeout`), so the event is on its way before the hook returns
//!    and a panic in `main` is not lost. A panic inside a `tokio` task (one
//!    spawned with `tokio::spawn`, `spawn_local` or `spawn_blocking`, such as
//!    a task a request handler spawns) or in a request handler run by the
//!    HTTP server layer (`http_server::SentryHttpLayer`, feature `tower`) is
//!    captured and queued to the transport without the flush: the runtime
//!    or the layer catches it, so it does not end the process, and the
//!    thread is a runtime worker that a flush would block (up to the timeout
//!    per panic, if the Sentry endpoint hangs), with every other task on it.
//!    The transport sends the event in the background. A panic in the future
//!    given to `block_on` (the body of `#[tokio::main]`) is not inside a task
//!    and is flushed. With `panic = "abort"` every panic ends the process,
//!    and the hook flushes as everywhere else;
//! 3. calls the hook that was installed before (by default the one printing
//!    `thread 'main' panicked at ...`).
//!
//! # `panic = "abort"`
//!
//! With `panic = "abort"` in the profile the hook still runs before the
//! process aborts, so the panic event is captured and flushed as above.
//! What does not happen is unwinding: destructors do not run, so the
//! `ClientInitGuard` is never dropped. Events queued before the panic are
//! still sent, because the hook's flush waits for the whole queue; session
//! updates or transactions that would only be finished by a destructor are
//! lost. Keep the flush timeout long enough for your network.
//!
//! A panic raised while the hook itself runs (for example inside a
//! `before_send` callback) makes Rust abort the process at once; keep
//! callbacks free of panics.
//!
//! ```
//! use std::sync::Arc;
//! use sentry_core::{test::with_captured_events_options, ClientOptions, protocol::Level};
//! use sentry_integrations::panic::PanicIntegration;
//!
//! let events = with_captured_events_options(|| {
//!     let _ = std::panic::catch_unwind(|| panic!("invalid state: {}", 42));
//! }, ClientOptions {
//!     integrations: vec![Arc::new(PanicIntegration::new())],
//!     ..Default::default()
//! });
//! let exc = &events[0].exception.values[0];
//! assert_eq!(events[0].level, Level::Fatal);
//! assert_eq!(exc.ty, "panic");
//! assert_eq!(exc.value.as_deref(), Some("invalid state: 42"));
//! assert_eq!(exc.mechanism.as_ref().unwrap().handled, Some(false));
//! ```

use std::any::Any;
use std::cell::Cell;
use std::panic::Location;
use std::sync::Once;
use std::time::Duration;

use sentry_core::protocol::{Event, Exception, Frame, Level, Mechanism, Stacktrace};
use sentry_core::{ClientOptions, Hub, Integration};

use crate::backtrace::{current_stacktrace, current_thread, InAppRules};

/// Reports panics as fatal events (see the [module docs](self)).
#[derive(Debug, Clone, Default)]
pub struct PanicIntegration {
    flush_timeout: Option<Duration>,
    no_flush: bool,
}

impl PanicIntegration {
    /// The integration with the default flush timeout (the client's
    /// `shutdown_timeout`).
    pub fn new() -> Self {
        Self::default()
    }

    /// How long the hook waits for the event to be sent. `None` uses the
    /// client's `shutdown_timeout`; `Some(Duration::ZERO)` does not wait
    /// (the event may then be lost if the process ends).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = sentry_integrations::panic::PanicIntegration::new()
    ///     .flush_timeout(Some(Duration::from_millis(500)));
    /// ```
    pub fn flush_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.no_flush = timeout == Some(Duration::ZERO);
        self.flush_timeout = timeout;
        self
    }
}

impl Integration for PanicIntegration {
    fn name(&self) -> &'static str {
        "panic"
    }

    fn setup(&self, _options: &mut ClientOptions) {
        install_hook();
    }
}

/// Installs the panic hook, chaining the hook installed before. Called by
/// [`PanicIntegration`]'s setup; calling it again does nothing. The hook only
/// reports when the current hub's client has a [`PanicIntegration`].
pub fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            report_panic(info.payload(), info.location());
            previous(info);
        }));
    });
}

/// Whether this thread is running a request handler for the HTTP server
/// layer, and whether the hook reported a panic there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    /// Not inside a request handler.
    Outside,
    /// Inside; no panic reported yet.
    // Only the server layer (feature `tower`) marks a thread as inside.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    Running,
    /// Inside; the hook captured a panic.
    Reported,
}

thread_local! {
    static REQUEST: Cell<Request> = const { Cell::new(Request::Outside) };
}

fn request_mark() -> Request {
    REQUEST.try_with(Cell::get).unwrap_or(Request::Outside)
}

/// Runs `f` (a request handler's `call` or `poll`) marked as inside a
/// request, catching a panic. `Err((payload, reported))` for a panic,
/// `reported` when this hook captured it already (false when another hook
/// replaced this one, or the client has no [`PanicIntegration`]).
///
/// A panic caught here is reported by the time this returns (by the hook or
/// by the caller), so an enclosing call of this function that catches it
/// again, resumed, sees it as reported.
#[cfg(feature = "tower")]
pub(crate) fn catch_in_request<R>(f: impl FnOnce() -> R) -> Result<R, (Box<dyn Any + Send>, bool)> {
    let outer = REQUEST.with(|m| m.replace(Request::Running));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let inner = REQUEST.with(|m| m.get());
    match result {
        Ok(value) => {
            REQUEST.with(|m| m.set(outer));
            Ok(value)
        }
        Err(payload) => {
            let restored = match outer {
                Request::Outside => Request::Outside,
                Request::Running | Request::Reported => Request::Reported,
            };
            REQUEST.with(|m| m.set(restored));
            Err((payload, inner == Request::Reported))
        }
    }
}

/// Captures and flushes the panic event when the current client wants it.
fn report_panic(payload: &(dyn Any + Send), location: Option<&Location<'_>>) {
    // A callback of the pipeline panicked: the client catches and counts
    // it, and capturing here would run that callback again, whose second
    // panic would abort the process.
    if sentry_core::in_callback() {
        return;
    }
    let Some(client) = Hub::with_current(|hub| hub.client()) else {
        return;
    };
    let Some(integration) = client.get_integration::<PanicIntegration>() else {
        return;
    };
    let mut event = event_from_panic(panic_message(payload), location);
    InAppRules::from_options(client.options()).apply_to_event(&mut event);
    let id = Hub::with_current(|hub| hub.capture_event(event));
    // Inside a request handler the server layer catches the panic: tell it
    // the panic is reported (even when the event was sampled out or
    // dropped by `before_send`, so it is not captured a second time).
    let in_request = request_mark() != Request::Outside;
    if in_request {
        let _ = REQUEST.try_with(|m| m.set(Request::Reported));
    }
    // A panicking SDK thread (the transport worker) cannot flush itself. A
    // request handler's panic, or one in a runtime task (such as a task the
    // handler spawned), does not end the process (unless panics abort): the
    // layer or the runtime catches it, and the thread is a runtime worker
    // that must not block. The event is queued; the transport sends it in
    // the background. `block_on`'s own future is not a task: a panic there
    // (an async `main`) is flushed.
    let sdk_thread = std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("sentry-"));
    let in_task = tokio::task::try_id().is_some();
    let survives = (in_request || in_task) && cfg!(panic = "unwind");
    if !id.is_nil() && !integration.no_flush && !sdk_thread && !survives {
        client.flush(integration.flush_timeout);
    }
}

/// The message of a panic payload: `&str` and `String` payloads, else
/// `Box<dyn Any>` (the text Rust itself prints).
///
/// ```
/// use sentry_integrations::panic::panic_message;
/// assert_eq!(panic_message(&"static"), "static");
/// assert_eq!(panic_message(&String::from("owned")), "owned");
/// assert_eq!(panic_message(&42u8), "Box<dyn Any>");
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>")
}

/// The event for a panic with `message` at `location`, with the current
/// thread's stack trace (trimmed of the panic machinery and the SDK). When no
/// stack can be captured (a binary without symbols), a single frame from
/// `location` stands in. `in_app` is left for the client's rules.
///
/// ```
/// let event = sentry_integrations::panic::event_from_panic("boom", None);
/// assert_eq!(event.title(), "panic: boom");
/// assert!(event.threads.values[0].crashed);
/// ```
pub fn event_from_panic(message: &str, location: Option<&Location<'_>>) -> Event {
    let stacktrace = current_stacktrace().or_else(|| {
        location.map(|loc| Stacktrace {
            frames: vec![Frame {
                filename: Some(loc.file().to_owned()),
                abs_path: Some(loc.file().to_owned()),
                lineno: Some(u64::from(loc.line())),
                colno: Some(u64::from(loc.column())),
                ..Default::default()
            }],
            ..Default::default()
        })
    });
    let mut thread = current_thread(None);
    thread.crashed = true;
    let exception = Exception {
        ty: "panic".to_owned(),
        value: Some(message.to_owned()),
        stacktrace,
        thread_id: thread.id.clone(),
        mechanism: Some(Mechanism {
            ty: "panic".to_owned(),
            handled: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    Event {
        level: Level::Fatal,
        exception: vec![exception].into(),
        threads: vec![thread].into(),
        ..Default::default()
    }
}
