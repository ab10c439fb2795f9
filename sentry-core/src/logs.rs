//! Structured logs (Sentry Logs): lines with a level, a body and
//! attributes, linked to the trace they were logged in.
//!
//! Off unless [`ClientOptions::enable_logs`](crate::ClientOptions) is set.
//! Each line gets the client's release, environment and SDK as attributes
//! and the scope's trace (and span, inside one); `before_send_log` may
//! change or drop it. Lines are batched: sent when 100 are waiting (or
//! about 1 MiB of them), every 5 s, and on flush and close, one `log`
//! envelope item per batch.
//!
//! ```
//! use sentry_core::{logs, ClientOptions};
//! use sentry_core::test::with_captured_envelopes_options;
//!
//! let envelopes = with_captured_envelopes_options(
//!     || {
//!         logs::info("cache warmed");
//!         logs::capture_log(
//!             sentry_core::protocol::Log::new(sentry_core::protocol::LogLevel::Warn, "slow query")
//!                 .with_attribute("db.duration_ms", 812),
//!         );
//!     },
//!     ClientOptions { enable_logs: true, ..Default::default() },
//! );
//! let item = &envelopes[0].items()[0];
//! assert_eq!((item.headers.ty.as_str(), item.headers.item_count), ("log", Some(2)));
//! ```

use crate::batcher::{attributes_size, Batchable, Batcher};
use crate::envelope::{EnvelopeError, EnvelopeItem};
use crate::hub::Hub;
use crate::protocol::{DataCategory, Log, LogLevel};

/// Logs `log` through the current hub's client (see the module
/// documentation). Without a client, or with logs off, nothing happens.
pub fn capture_log(log: Log) {
    if !crate::hub::any_client() {
        return;
    }
    Hub::with_current(|hub| hub.capture_log(log));
}

/// Whether the current hub's client sends logs: a bridge asks before it
/// builds a line.
///
/// ```
/// assert!(!sentry_core::logs::enabled());
/// ```
pub fn enabled() -> bool {
    crate::hub::any_client()
        && Hub::with_current(|hub| hub.client().is_some_and(|c| c.options().enable_logs))
}

macro_rules! level_fns {
    ($($(#[$doc:meta])* $name:ident => $level:ident,)*) => {$(
        $(#[$doc])*
        pub fn $name(body: impl Into<String>) {
            capture_log(Log::new(LogLevel::$level, body));
        }
    )*};
}

level_fns! {
    /// Logs `body` at `trace`.
    trace => Trace,
    /// Logs `body` at `debug`.
    debug => Debug,
    /// Logs `body` at `info`.
    info => Info,
    /// Logs `body` at `warn`.
    warn => Warn,
    /// Logs `body` at `error`.
    error => Error,
    /// Logs `body` at `fatal`.
    fatal => Fatal,
}

impl Hub {
    /// Logs `log` through this hub's client, with its top scope's trace.
    pub fn capture_log(&self, log: Log) {
        self.with_client_and_scope(|client, scope| client.capture_log(log, Some(scope)));
    }
}

/// The lines waiting to be sent (`enable_logs`).
pub(crate) type LogBatcher = Batcher<Log>;

impl Batchable for Log {
    const MAX_BATCH: usize = 100;
    const THREAD: &'static str = "sentry-log-batch";
    const CATEGORY: DataCategory = DataCategory::LogItem;

    /// The body, the attributes and a fixed part for the rest (timestamp,
    /// level, ids, field names).
    fn estimated_size(&self) -> usize {
        const FIXED: usize = 160;
        FIXED + self.body.len() + attributes_size(&self.attributes)
    }

    fn item(batch: &[Self]) -> Result<EnvelopeItem, EnvelopeError> {
        EnvelopeItem::logs(batch)
    }
}
