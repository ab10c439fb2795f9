//! The HTTP transport of the SDK: gets envelopes from `sentry-core` to a
//! Sentry-compatible receiver without ever blocking the application, and
//! loses nothing it can keep.
//!
//! # How it works
//!
//! Capturing hands an [`Envelope`](sentry_core::envelope::Envelope) to
//! [`HttpTransport`], which does three cheap things on the calling thread:
//! drops the items of categories the receiver has rate limited (counted as
//! `ratelimit_backoff`), puts session updates and client reports into a
//! batch, and puts everything else into a bounded queue (a full queue drops
//! the new envelope, counted as `queue_overflow`). A background thread with
//! its own single-threaded tokio runtime does the rest:
//!
//! * **requests**: `POST` to the DSN's envelope endpoint with `X-Sentry-Auth`,
//!   `Content-Type: application/x-sentry-envelope` and a `User-Agent`, gzip
//!   above a size threshold, several requests in flight over keep-alive
//!   connections (reqwest with rustls: no OpenSSL);
//! * **batching**: session updates and client reports go out together, every
//!   batch interval, on flush and at shutdown;
//! * **rate limits**: `X-Sentry-Rate-Limits` is read on every response, else
//!   `Retry-After` (seconds or HTTP date) on a `429`, else 60 s
//!   ([`ratelimit`]); limited categories are dropped, others keep flowing;
//! * **failures**: connect and request timeouts; network errors and `5xx`
//!   are retried with capped exponential backoff and jitter; other `4xx` are
//!   final (counted as `send_error`, logged with `debug`);
//! * **client reports**: every drop (the client's own, through
//!   [`Transport::record_discard`](sentry_core::transport::Transport::record_discard),
//!   and the transport's) is counted and sent as a `client_report` item
//!   periodically and at shutdown; a report that is not delivered (the
//!   request fails, a `429`, a rate limit) gives its counts back to go out
//!   with the next one;
//! * **spool** (opt-in): what cannot be delivered is written to a directory
//!   and sent on the next start or when the receiver is back (shutdown
//!   waits for that drain, up to its deadline, so that a short-lived
//!   program empties the spool too). A directory
//!   that cannot be created or written is reported once on stderr and the
//!   transport sends without a spool; a spool that fails later is reported
//!   once too, not for every envelope.
//!
//! # Use
//!
//! ```no_run
//! // One line: installs the HTTP transport and the client.
//! let _guard = sentry_transport::init(sentry_core::ClientOptions {
//!     dsn: "https://public@o1.ingest.example.com/42".parse().ok(),
//!     ..Default::default()
//! });
//! sentry_core::capture_message("hello", sentry_core::protocol::Level::Info);
//! // Dropping the guard flushes (up to `shutdown_timeout`).
//! ```
//!
//! With explicit settings:
//!
//! ```no_run
//! use std::{sync::Arc, time::Duration};
//! use sentry_core::ClientOptions;
//! use sentry_transport::HttpTransportFactory;
//!
//! let _guard = sentry_core::init(ClientOptions {
//!     dsn: "https://public@o1.ingest.example.com/42".parse().ok(),
//!     transport: Some(Arc::new(HttpTransportFactory::new(|b| {
//!         b.spool_dir("/var/lib/my-app/sentry").request_timeout(Duration::from_secs(10))
//!     }))),
//!     ..Default::default()
//! });
//! ```

#![warn(missing_docs)]

mod client_report;
mod http;
mod network;
pub mod ratelimit;
mod retry;
mod spool;
mod transport;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;

pub use transport::{
    HttpTransport, HttpTransportBuilder, HttpTransportFactory, MAX_IN_FLIGHT, MAX_QUEUE_SIZE,
};

/// Why an [`HttpTransport`] could not be created.
///
/// ```
/// let err = sentry_transport::HttpTransport::new(&sentry_core::ClientOptions::default()).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "no DSN configured: set ClientOptions::dsn or the SENTRY_DSN environment variable"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The options have no DSN.
    #[error("no DSN configured: set ClientOptions::dsn or the SENTRY_DSN environment variable")]
    MissingDsn,
    /// A builder setting is out of range.
    #[error("invalid transport setting {name}: {reason}")]
    InvalidOption {
        /// The builder method.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The proxy URL does not parse, or is not `http://` or `https://`.
    /// The message never repeats the URL, which may hold a password.
    #[error("invalid proxy URL: {reason}")]
    InvalidProxy {
        /// What is wrong.
        reason: String,
    },
    /// A root certificate given to
    /// [`HttpTransportBuilder::add_root_certificates_pem`] is not PEM.
    #[error("invalid root certificate: {reason}")]
    InvalidCertificate {
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be built (e.g. no TLS roots).
    #[error("cannot build the HTTP client: {source}")]
    HttpClient {
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The spool directory cannot be created or written. Not returned by
    /// [`HttpTransportBuilder::build`], which reports it on stderr and runs
    /// without a spool; this is the message it prints.
    #[error("cannot open the spool directory {}: {source}; check that it is writable or choose another with spool_dir()", dir.display())]
    Spool {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The worker thread could not be started.
    #[error("cannot start the transport worker thread: {0}")]
    Worker(#[source] std::io::Error),
}

/// Initialises the SDK like [`sentry_core::init`], installing
/// [`HttpTransportFactory`] (with every default) when `options.transport` is
/// not set and there is a DSN (from the options or `SENTRY_DSN`). Keep the
/// returned guard alive: dropping it flushes and shuts the transport down.
///
/// ```
/// // Without a DSN (and without SENTRY_DSN) the SDK stays disabled.
/// # std::env::remove_var("SENTRY_DSN");
/// let guard = sentry_transport::init(sentry_core::ClientOptions::default());
/// assert!(!guard.is_enabled());
/// ```
pub fn init(mut options: sentry_core::ClientOptions) -> sentry_core::ClientInitGuard {
    // `sentry_core::init` reads the environment too (and reports errors);
    // reading it here only decides whether there is anywhere to send.
    let _ = options.apply_env();
    if options.transport.is_none() && options.dsn.is_some() {
        options.transport = Some(Arc::new(HttpTransportFactory::default()));
    }
    sentry_core::init(options)
}
