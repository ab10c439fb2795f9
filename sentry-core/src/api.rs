//! The top-level API: what applications call.
//!
//! Every function here first checks whether any client was ever bound; until
//! one is, each call returns immediately and costs a few nanoseconds.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::client::Client;
use crate::hub::{self, Hub, IntoBreadcrumbs};
use crate::options::{ClientOptions, OptionsError};
use crate::protocol::{Event, Level};
use crate::scope::Scope;

/// Flushes and closes the client when dropped. Keep it alive for as long as
/// the program should report (`let _guard = init(...)`).
#[must_use = "when the guard is dropped the client is closed"]
pub struct ClientInitGuard(Option<Arc<Client>>);

impl std::fmt::Debug for ClientInitGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientInitGuard")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

impl ClientInitGuard {
    /// A guard with no client: what `init` returns when the options are
    /// invalid. Dropping it does nothing.
    pub fn disabled() -> Self {
        ClientInitGuard(None)
    }

    /// Whether the client will send anything.
    pub fn is_enabled(&self) -> bool {
        self.0.as_ref().is_some_and(|c| c.is_enabled())
    }

    /// The installed client.
    pub fn client(&self) -> Option<&Arc<Client>> {
        self.0.as_ref()
    }
}

impl Drop for ClientInitGuard {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            client.close(None);
            hub::unset_global_client(&client);
        }
    }
}

/// Creates a client from `options` (after filling unset values from the
/// environment) and installs it for every thread, including threads and tasks
/// that started earlier.
///
/// Invalid options are an error: see [`init`] for the variant that reports
/// and carries on disabled.
///
/// ```
/// let guard = sentry_core::try_init(sentry_core::ClientOptions::default()).unwrap();
/// assert!(!guard.is_enabled()); // no transport configured
/// ```
pub fn try_init(mut options: ClientOptions) -> Result<ClientInitGuard, OptionsError> {
    options.apply_env()?;
    options.validate()?;
    let auto_session = options.auto_session_tracking
        && options.session_mode == crate::session::SessionMode::Application;
    let client = Arc::new(Client::with_options(options));
    hub::set_global_client(Some(client.clone()));
    if auto_session {
        crate::session::start_session();
    }
    Ok(ClientInitGuard(Some(client)))
}

/// Like [`try_init`], but invalid options are printed to stderr and the SDK
/// stays disabled instead of failing the program.
pub fn init(options: ClientOptions) -> ClientInitGuard {
    match try_init(options) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("[sentry] not enabled: {e}");
            ClientInitGuard(None)
        }
    }
}

/// Whether the current hub has a client that sends. Costs one atomic load
/// when no client was ever bound.
pub fn is_enabled() -> bool {
    hub::any_client() && Hub::with_current(|hub| hub.client().is_some_and(|c| c.is_enabled()))
}

/// Captures an event; returns its id, or the nil id when the SDK did not
/// hand it to the transport (no client, sampled out, dropped by a hook).
/// An event the transport drops later (a full queue, a rate limit, the
/// network) keeps its id: it is counted in a client report instead.
#[inline]
pub fn capture_event(event: Event) -> Uuid {
    if !hub::any_client() {
        return Uuid::nil();
    }
    Hub::with_current(|hub| hub.capture_event(event))
}

/// Captures a message at `level`.
///
/// ```
/// use sentry_core::{capture_message, protocol::Level, test::with_captured_events};
/// let events = with_captured_events(|| { capture_message("hello", Level::Info); });
/// assert_eq!(events[0].title(), "hello");
/// ```
// The check is inlined into the caller (a call costs more than it); the
// capture itself is not.
#[inline]
pub fn capture_message(message: &str, level: Level) -> Uuid {
    if !hub::any_client() {
        return Uuid::nil();
    }
    capture_message_bound(message, level)
}

#[inline(never)]
fn capture_message_bound(message: &str, level: Level) -> Uuid {
    Hub::with_current(|hub| hub.capture_message(message, level))
}

/// Captures an error; its `source()` chain becomes chained exceptions.
#[inline]
pub fn capture_error(error: &(dyn std::error::Error + 'static)) -> Uuid {
    if !hub::any_client() {
        return Uuid::nil();
    }
    capture_error_bound(error)
}

#[inline(never)]
fn capture_error_bound(error: &(dyn std::error::Error + 'static)) -> Uuid {
    Hub::with_current(|hub| hub.capture_error(error))
}

/// Adds a breadcrumb. Pass a closure to build it only when a client is bound.
///
/// ```
/// use sentry_core::{add_breadcrumb, protocol::Breadcrumb};
/// add_breadcrumb(|| Breadcrumb { message: Some("expensive".into()), ..Default::default() });
/// ```
pub fn add_breadcrumb<B: IntoBreadcrumbs>(breadcrumb: B) {
    if !hub::any_client() {
        return;
    }
    Hub::with_current(|hub| hub.add_breadcrumb(breadcrumb))
}

/// Changes the current scope. Without a client the closure is not called and
/// `R::default()` is returned.
pub fn configure_scope<F, R>(f: F) -> R
where
    F: FnOnce(&mut Scope) -> R,
    R: Default,
{
    if !hub::any_client() {
        return R::default();
    }
    Hub::with_current(|hub| hub.configure_scope(f))
}

/// Runs `callback` with a temporary scope configured by `configure`.
///
/// ```
/// use sentry_core::{with_scope, capture_message, protocol::Level, test::with_captured_events};
/// let events = with_captured_events(|| {
///     with_scope(|s| s.set_tag("inner", "yes"), || capture_message("in", Level::Info));
///     capture_message("out", Level::Info);
/// });
/// assert_eq!(events[0].tags["inner"], "yes");
/// assert!(!events[1].tags.contains_key("inner"));
/// ```
pub fn with_scope<C, F, R>(configure: C, callback: F) -> R
where
    C: FnOnce(&mut Scope),
    F: FnOnce() -> R,
{
    if !hub::any_client() {
        return callback();
    }
    Hub::with_current(|hub| hub.with_scope(configure, callback))
}

/// The id of the last event sent from the current hub.
pub fn last_event_id() -> Option<Uuid> {
    if !hub::any_client() {
        return None;
    }
    Hub::with_current(|hub| hub.last_event_id())
}

/// Waits up to `timeout` for the current client's queued events; `true` when
/// everything was sent (or there is nothing to send).
pub fn flush(timeout: Duration) -> bool {
    if !hub::any_client() {
        return true;
    }
    match Hub::with_current(|hub| hub.client()) {
        Some(client) => client.flush(Some(timeout)),
        None => true,
    }
}
