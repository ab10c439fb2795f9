//! Names the official `sentry` crates use for things this crate has under
//! other names, so that code written for them compiles here unchanged:
//! `iter_headers`, `get_trace_context` and `get_status` on transactions and
//! spans, [`Hub::with_active`] and [`Hub::with`], and the [`release_name!`](crate::release_name)
//! macro.
//!
//! ```
//! use sentry_core::{start_transaction, ClientOptions, TransactionContext};
//!
//! sentry_core::test::with_captured_envelopes_options(|| {
//!     let tx = start_transaction(TransactionContext::new("checkout", "task"));
//!     let span = tx.start_child("http.client", "GET /prices");
//!     let headers: Vec<_> = span.iter_headers().collect();
//!     assert_eq!(headers[0].0, "sentry-trace");
//!     assert_eq!(span.get_trace_context().trace_id, tx.get_trace_context().trace_id);
//!     span.finish();
//!     tx.finish();
//! }, ClientOptions { traces_sample_rate: 1.0, ..Default::default() });
//! ```

use std::sync::Arc;

use crate::hub::Hub;
use crate::performance::{Span, Transaction, TransactionOrSpan};
use crate::protocol::{SpanStatus, TraceContext};

/// The release name `package@version` of the crate that calls it, from
/// Cargo's `CARGO_PKG_NAME` and `CARGO_PKG_VERSION`, as an
/// `Option<Cow<'static, str>>` for [`ClientOptions::release`](crate::ClientOptions).
///
/// ```
/// let release = sentry_core::release_name!();
/// assert_eq!(release.as_deref(), Some(concat!("sentry-core@", env!("CARGO_PKG_VERSION"))));
/// ```
#[macro_export]
macro_rules! release_name {
    () => {
        ::core::option::Option::Some(::std::borrow::Cow::Borrowed(::core::concat!(
            ::core::env!("CARGO_PKG_NAME"),
            "@",
            ::core::env!("CARGO_PKG_VERSION")
        )))
    };
}

macro_rules! span_names {
    ($($ty:ty),*) => {$(
        impl $ty {
            /// [`Self::trace_headers`] as an iterator (the official crate's name).
            pub fn iter_headers(&self) -> impl Iterator<Item = (&'static str, String)> {
                self.trace_headers().into_iter()
            }

            /// [`Self::trace_context`] (the official crate's name).
            pub fn get_trace_context(&self) -> TraceContext {
                self.trace_context()
            }

            /// [`Self::status`] (the official crate's name).
            pub fn get_status(&self) -> Option<SpanStatus> {
                self.status()
            }
        }
    )*};
}

span_names!(Transaction, Span, TransactionOrSpan);

impl Hub {
    /// Calls `f` with the current hub: the one [`Hub::run`] installed, else
    /// the thread's. The official crate's name for [`Hub::with_current`].
    ///
    /// ```
    /// let id = sentry_core::Hub::with_active(|hub| hub.last_event_id());
    /// assert_eq!(id, None);
    /// ```
    pub fn with_active<R>(f: impl FnOnce(&Arc<Hub>) -> R) -> R {
        Hub::with_current(f)
    }

    /// [`Hub::with_current`] under the official crate's older name.
    pub fn with<R>(f: impl FnOnce(&Arc<Hub>) -> R) -> R {
        Hub::with_current(f)
    }
}
