//! The core of a Sentry-compatible SDK: protocol types, envelopes, DSN, and
//! the Hub/Scope/Client model with its capture API.
//!
//! ```
//! use sentry_core::{capture_message, protocol::Level, test::with_captured_events};
//!
//! // Without `init`, every call is a no-op. In tests, capture in memory:
//! let events = with_captured_events(|| {
//!     sentry_core::add_breadcrumb(sentry_core::protocol::Breadcrumb {
//!         message: Some("loaded config".into()),
//!         ..Default::default()
//!     });
//!     capture_message("something happened", Level::Warning);
//! });
//! assert_eq!(events[0].breadcrumbs.values[0].message.as_deref(), Some("loaded config"));
//! ```
//!
//! Applications call [`init`] with [`ClientOptions`] whose `transport` is the
//! HTTP transport of the `sentry-transport` crate (or use the one-line `init`
//! of `sentry-integrations`).

#![warn(missing_docs)]

mod api;
mod batcher;
mod capture;
mod client;
mod clock;
pub mod dsn;
pub mod envelope;
mod future;
mod hub;
mod integration;
pub mod log_macros;
pub mod logs;
pub mod metrics;
pub mod monitor;
mod official_names;
mod option_setters;
mod options;
pub mod performance;
mod pii;
pub mod propagation;
pub mod protocol;
mod scope;
pub mod scrub;
pub mod session;
pub mod test;
mod trail;
pub mod transport;
pub mod types;
mod unique_arc;

pub use api::{
    add_breadcrumb, capture_error, capture_event, capture_message, configure_scope, flush, init,
    is_enabled, last_event_id, try_init, with_scope, ClientInitGuard,
};
pub use capture::{
    event_from_error, event_from_message, exceptions_from_error, parse_type_from_debug,
};
pub use client::{in_callback, Client};
pub use future::{SentryFuture, SentryFutureExt};
pub use hub::{Hub, HubSwitchGuard, IntoBreadcrumbs, ScopeGuard, CONFIGURE_WAIT};
pub use integration::Integration;
pub use option_setters::IntoDsn;
pub use options::{
    BeforeBreadcrumb, BeforeSend, BeforeSendLog, BeforeSendMetric, BeforeSendTransaction,
    ClientOptions, OptionsError, DEFAULT_ENVIRONMENT, MAX_BREADCRUMBS_LIMIT,
};
pub use performance::{
    start_transaction, start_transaction_with_timestamp, TransactionContext, TransactionOrSpan,
};
pub use scope::{ErrorObserver, EventProcessor, Scope, ScopeSnapshot};
pub use session::{end_session, end_session_with_status, start_session, SessionMode};
pub use transport::{Transport, TransportFactory};
pub use uuid::Uuid;

pub use envelope::Envelope;
/// The protocol types used most, where the official `sentry-core` has them
/// too (`sentry_core::Level` is `sentry_core::protocol::Level`).
pub use protocol::{Breadcrumb, Level, User};
