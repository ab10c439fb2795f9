//! Capturing `anyhow::Error`: the whole chain, and the backtrace anyhow
//! captured where the error was created.
//!
//! Each layer of the chain (every `.context(...)` and the root cause) becomes
//! one exception, root cause first and the outermost context last, as
//! [`sentry_core::exceptions_from_error`] does for any error. When anyhow
//! captured a backtrace (it does when `RUST_BACKTRACE=1` or
//! `RUST_LIB_BACKTRACE=1` is set), it becomes the stack trace of the
//! outermost exception, trimmed of anyhow's and the standard library's
//! frames so that the last frame is where the error was created or converted
//! (`?`). Without one, the stack-trace integration's `attach_stacktrace` can
//! still add the capture site's stack.
//!
//! ```
//! use anyhow::Context;
//! use sentry_core::test::with_captured_events;
//! use sentry_integrations::anyhow::capture_anyhow;
//!
//! fn load() -> anyhow::Result<u16> {
//!     let port: u16 = "80a".parse().context("reading the port")?;
//!     Ok(port)
//! }
//! let events = with_captured_events(|| {
//!     if let Err(err) = load() {
//!         capture_anyhow(&err);
//!     }
//! });
//! let chain = &events[0].exception.values;
//! assert_eq!(chain.len(), 2);
//! assert_eq!(chain[0].ty, "ParseIntError");
//! assert_eq!(chain[1].value.as_deref(), Some("reading the port"));
//! ```

use sentry_core::protocol::Event;
use sentry_core::{Hub, Uuid};

use crate::backtrace::{is_third_party_path, stacktrace_from_std, trim_sdk_frames, InAppRules};

/// The event for an anyhow error: its chain and, when captured, its
/// backtrace (on the outermost exception). `in_app` is left for the client's
/// rules.
pub fn event_from_anyhow(error: &anyhow::Error) -> Event {
    let mut event = sentry_core::event_from_error(error.as_ref());
    if let Some(mut st) = stacktrace_from_std(error.backtrace()) {
        // anyhow's constructors, told apart from an application crate that is
        // also called `anyhow` by their registry path.
        trim_sdk_frames(&mut st, |f| {
            f.package.as_deref() == Some("anyhow")
                && f.abs_path.as_deref().map_or(true, is_third_party_path)
        });
        if let Some(last) = event.exception.values.last_mut() {
            last.stacktrace = Some(st);
        }
    }
    event
}

/// Captures an anyhow error on the current hub; returns the event id (nil
/// when not sent).
pub fn capture_anyhow(error: &anyhow::Error) -> Uuid {
    Hub::with_current(|hub| hub.capture_anyhow(error))
}

/// [`capture_anyhow`] on a specific hub.
pub trait AnyhowHubExt {
    /// Captures an anyhow error with its chain and backtrace.
    ///
    /// ```
    /// use sentry_integrations::anyhow::AnyhowHubExt;
    /// let id = sentry_core::Hub::current().capture_anyhow(&anyhow::anyhow!("no client, no event"));
    /// assert!(id.is_nil());
    /// ```
    fn capture_anyhow(&self, error: &anyhow::Error) -> Uuid;
}

impl AnyhowHubExt for Hub {
    fn capture_anyhow(&self, error: &anyhow::Error) -> Uuid {
        let Some(client) = self.client() else {
            return Uuid::nil();
        };
        let mut event = event_from_anyhow(error);
        InAppRules::from_options(client.options()).apply_to_event(&mut event);
        self.capture_event(event)
    }
}
