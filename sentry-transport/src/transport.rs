//! [`HttpTransport`], its builder and its factory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sentry_core::dsn::{Dsn, Scheme};
use sentry_core::envelope::Envelope;
use sentry_core::protocol::{ClientSdkInfo, DataCategory, DiscardReason};
use sentry_core::transport::{Transport, TransportFactory};
use sentry_core::ClientOptions;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::oneshot;

use crate::http::Endpoint;
use crate::network::{Network, Proxy};
use crate::retry::RetryPolicy;
use crate::spool::Spool;
use crate::worker::{self, is_batchable, Config, Control, Queued, Shared};
use crate::TransportError;

/// How much longer than its timeout [`Transport::shutdown`] waits for the
/// worker to finish writing the spool.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Far enough in the future to mean "no deadline".
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

/// The largest queue a transport keeps ([`HttpTransportBuilder::queue_size`]):
/// far above any useful burst, well below what the channel can count (a
/// larger request panicked building it).
pub const MAX_QUEUE_SIZE: usize = 1 << 20;

/// The most requests a transport sends at once
/// ([`HttpTransportBuilder::max_in_flight`]; a larger request made the
/// worker thread panic after `build` succeeded).
pub const MAX_IN_FLIGHT: usize = 1024;

/// Configures an [`HttpTransport`]. Every setting has a documented default.
///
/// | setting | default |
/// |---|---|
/// | [`queue_size`](Self::queue_size) | `ClientOptions::max_queue_size` (100) |
/// | [`gzip_threshold`](Self::gzip_threshold) | 1024 bytes ([`gzip`](Self::gzip) on) |
/// | [`connect_timeout`](Self::connect_timeout) | 5 s |
/// | [`request_timeout`](Self::request_timeout) | 30 s |
/// | [`max_retries`](Self::max_retries) | 3 |
/// | [`retry_backoff`](Self::retry_backoff) | 1 s doubling up to 30 s, with jitter |
/// | [`max_in_flight`](Self::max_in_flight) | 4 requests |
/// | [`batch_interval`](Self::batch_interval) | 10 s |
/// | [`client_reports`](Self::client_reports) | on |
/// | [`spool_dir`](Self::spool_dir) | none (no spool) |
/// | [`spool_max_bytes`](Self::spool_max_bytes) | 16 MiB |
/// | [`proxy`](Self::proxy) / [`no_proxy`](Self::no_proxy) | `ClientOptions::http_proxy` / `https_proxy`, else the `*_PROXY` environment variables |
/// | [`accept_invalid_certs`](Self::accept_invalid_certs) | `ClientOptions::accept_invalid_certs` (off) |
/// | [`add_root_certificates_pem`](Self::add_root_certificates_pem) | `ClientOptions::ca_certs` (a PEM file), else the file `SSL_CERT_FILE` or `REQUESTS_CA_BUNDLE` names, besides the built-in (Mozilla) roots |
/// | [`spool_retry_interval`](Self::spool_retry_interval) | 30 s |
/// | [`shutdown_timeout`](Self::shutdown_timeout) | `ClientOptions::shutdown_timeout` (2 s) |
/// | [`debug`](Self::debug) | `ClientOptions::debug` (off) |
///
/// ```
/// use std::time::Duration;
/// use sentry_transport::HttpTransportBuilder;
///
/// let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
/// let transport = HttpTransportBuilder::new(dsn)
///     .request_timeout(Duration::from_secs(5))
///     .gzip(false)
///     .build()?;
/// # Ok::<(), sentry_transport::TransportError>(())
/// ```
#[derive(Clone)]
pub struct HttpTransportBuilder {
    dsn: Option<Dsn>,
    queue_size: usize,
    gzip_threshold: Option<usize>,
    connect_timeout: Duration,
    request_timeout: Duration,
    max_retries: u32,
    retry_initial: Duration,
    retry_max: Duration,
    max_in_flight: usize,
    batch_interval: Duration,
    client_reports: bool,
    spool_dir: Option<PathBuf>,
    spool_max_bytes: u64,
    spool_retry_interval: Duration,
    shutdown_timeout: Duration,
    debug: bool,
    client_name: String,
    network: Network,
}

impl fmt::Debug for HttpTransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransportBuilder")
            .field("dsn", &self.dsn.as_ref().map(|d| d.envelope_url()))
            .field("queue_size", &self.queue_size)
            .field("gzip_threshold", &self.gzip_threshold)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_initial", &self.retry_initial)
            .field("retry_max", &self.retry_max)
            .field("max_in_flight", &self.max_in_flight)
            .field("batch_interval", &self.batch_interval)
            .field("client_reports", &self.client_reports)
            .field("spool_dir", &self.spool_dir)
            .field("spool_max_bytes", &self.spool_max_bytes)
            .field("spool_retry_interval", &self.spool_retry_interval)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("debug", &self.debug)
            .field("client_name", &self.client_name)
            .field(
                "proxy",
                &match &self.network.proxy {
                    Proxy::Environment => "from the environment",
                    Proxy::Direct => "none",
                    Proxy::Url(_) => "set",
                },
            )
            .field("accept_invalid_certs", &self.network.accept_invalid_certs)
            .field("root_certificates", &self.network.root_certificates.len())
            .field(
                "root_certificate_files",
                &self.network.root_certificate_files,
            )
            .finish()
    }
}

impl HttpTransportBuilder {
    /// The default gzip threshold: bodies of at least 1 KiB are compressed.
    ///
    /// ```
    /// assert_eq!(sentry_transport::HttpTransportBuilder::DEFAULT_GZIP_THRESHOLD, 1024);
    /// ```
    pub const DEFAULT_GZIP_THRESHOLD: usize = 1024;

    /// A builder for `dsn` with every default.
    ///
    /// ```
    /// let dsn = "https://public@o1.ingest.example.com/42".parse().unwrap();
    /// let builder = sentry_transport::HttpTransportBuilder::new(dsn);
    /// ```
    pub fn new(dsn: Dsn) -> Self {
        Self::with_defaults(Some(dsn))
    }

    fn with_defaults(dsn: Option<Dsn>) -> Self {
        let defaults = ClientOptions::default();
        HttpTransportBuilder {
            dsn,
            queue_size: defaults.max_queue_size.min(MAX_QUEUE_SIZE),
            gzip_threshold: Some(Self::DEFAULT_GZIP_THRESHOLD),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_retries: 3,
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            max_in_flight: 4,
            batch_interval: Duration::from_secs(10),
            client_reports: true,
            spool_dir: None,
            spool_max_bytes: 16 * 1024 * 1024,
            spool_retry_interval: Duration::from_secs(30),
            shutdown_timeout: defaults.shutdown_timeout,
            debug: defaults.debug,
            client_name: ClientSdkInfo::this_sdk().client_name(),
            network: Network {
                environment_certificates: Network::certificates_from_environment(),
                ..Network::default()
            },
        }
    }

    /// A builder taking the DSN, `max_queue_size`, `shutdown_timeout`,
    /// `debug`, the proxy (`https_proxy` or else `http_proxy` for an
    /// `https://` DSN, `http_proxy` for an `http://` one),
    /// `accept_invalid_certs`, `ca_certs` and `user_agent` (as the client
    /// name) from client options. Without a DSN,
    /// [`build`](Self::build) fails with [`TransportError::MissingDsn`].
    ///
    /// ```
    /// use sentry_core::ClientOptions;
    /// let options = ClientOptions::with_dsn("http://public@127.0.0.1:9/1").unwrap();
    /// let transport = sentry_transport::HttpTransportBuilder::from_options(&options).build()?;
    /// # Ok::<(), sentry_transport::TransportError>(())
    /// ```
    pub fn from_options(options: &ClientOptions) -> Self {
        let mut builder = Self::with_defaults(options.dsn.clone());
        builder.queue_size = options.max_queue_size;
        builder.shutdown_timeout = options.shutdown_timeout;
        builder.debug = options.debug;
        let proxy = match options.dsn.as_ref().map(Dsn::scheme) {
            Some(Scheme::Https) => options.https_proxy.as_ref().or(options.http_proxy.as_ref()),
            _ => options.http_proxy.as_ref(),
        };
        builder.network.proxy = Proxy::from_option(proxy.map(|p| p.as_ref()));
        builder.network.accept_invalid_certs = options.accept_invalid_certs;
        if !options.user_agent.trim().is_empty() {
            builder.client_name = options.user_agent.to_string();
        }
        // The option comes first, as in the Python SDK: the environment's
        // file only when it is not set.
        if let Some(file) = &options.ca_certs {
            builder.network.root_certificate_files.push(file.clone());
            builder.network.environment_certificates = None;
        }
        builder
    }

    /// How many envelopes may wait for the worker (default 100). When the
    /// queue is full, the **new** envelope is dropped and counted as
    /// `queue_overflow`: the first errors of a burst usually carry the root
    /// cause while later ones are its echoes, and rejecting at the door keeps
    /// capturing a single non-blocking `try_send` (evicting the oldest would
    /// need a lock shared with the worker).
    ///
    /// At most [`MAX_QUEUE_SIZE`]: a larger value (`usize::MAX` for "no
    /// limit") is taken as that.
    ///
    /// ```
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).queue_size(1000);
    /// ```
    pub fn queue_size(mut self, envelopes: usize) -> Self {
        self.queue_size = envelopes.min(MAX_QUEUE_SIZE);
        self
    }

    /// Turns gzip compression of request bodies on (with the current or
    /// default threshold) or off. Default: on.
    ///
    /// ```
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).gzip(false);
    /// ```
    pub fn gzip(mut self, enabled: bool) -> Self {
        self.gzip_threshold =
            enabled.then_some(self.gzip_threshold.unwrap_or(Self::DEFAULT_GZIP_THRESHOLD));
        self
    }

    /// Bodies of at least this many bytes are sent with
    /// `Content-Encoding: gzip` (and turns gzip on). Default 1024. A body
    /// that does not shrink is sent uncompressed.
    ///
    /// ```
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).gzip_threshold(0); // always
    /// ```
    pub fn gzip_threshold(mut self, bytes: usize) -> Self {
        self.gzip_threshold = Some(bytes);
        self
    }

    /// Time allowed to open a connection (TCP and TLS). Default 5 s.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).connect_timeout(Duration::from_secs(2));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for a whole request, from connecting to reading the
    /// response. Default 30 s. A receiver that hangs fails the attempt, which
    /// is then retried like a network error.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).request_timeout(Duration::from_secs(10));
    /// ```
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Retries after a network error or a `5xx`/`408` answer. Default 3;
    /// 0 disables retries. Other `4xx` answers are never retried.
    ///
    /// ```
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).max_retries(5);
    /// ```
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The backoff before retry `n` is `initial * 2^(n-1)` capped at `max`,
    /// then jittered to between half and all of that; a `Retry-After` sent
    /// with a `5xx` replaces it (still capped at `max`). Default 1 s, 30 s.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn)
    ///     .retry_backoff(Duration::from_millis(200), Duration::from_secs(5));
    /// ```
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry_initial = initial;
        self.retry_max = max.max(initial);
        self
    }

    /// How many requests may be in flight at once (over keep-alive
    /// connections). Default 4; at most [`MAX_IN_FLIGHT`] (a larger value is
    /// taken as that).
    ///
    /// ```
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).max_in_flight(8);
    /// ```
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests.min(MAX_IN_FLIGHT);
        self
    }

    /// How often session updates and client reports are sent, together in
    /// one envelope. Default 10 s. They also go out on every flush, at
    /// shutdown, and as soon as 100 session items are waiting.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).batch_interval(Duration::from_secs(30));
    /// ```
    pub fn batch_interval(mut self, interval: Duration) -> Self {
        self.batch_interval = interval;
        self
    }

    /// Whether discard counts are sent as `client_report` items. Default on.
    ///
    /// ```
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).client_reports(false);
    /// ```
    pub fn client_reports(mut self, enabled: bool) -> Self {
        self.client_reports = enabled;
        self
    }

    /// Enables the disk spool in `dir` (created if missing): envelopes that
    /// cannot be delivered (retries exhausted, or still queued or in flight
    /// when shutdown times out) are written there and sent on the next start
    /// or as soon as the receiver answers again. Default: no spool. Spooled
    /// files are their owner's alone (0600, and 0700 for a directory the
    /// spool creates, on Unix): they hold event data. Each DSN spools into a
    /// subdirectory of its own (`dsn-` and a hash of where the DSN sends, and
    /// with which key), so that an application whose DSN changes (from a
    /// local receiver to production, say) never sends envelopes spooled for
    /// the old one to the new; they wait there for their DSN. Files that
    /// versions before this one spooled directly in `dir` are not sent.
    ///
    /// ```
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let dir = std::env::temp_dir().join("my-app-sentry-spool");
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).spool_dir(dir);
    /// ```
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
        self
    }

    /// The spool's size budget in bytes, for the DSN's own subdirectory (see
    /// [`spool_dir`](Self::spool_dir)). An envelope that does not fit is
    /// dropped (counted as `cache_overflow`); files already spooled are kept.
    /// Default 16 MiB.
    ///
    /// The budget is what the directory holds, whoever wrote or sent its
    /// files: processes sharing a spool directory share one budget, and room
    /// that another process made by sending files is used. Each transport
    /// counts its own writes and measures the directory again when its
    /// count is half a second old (only while it spools; less often for a
    /// spool so large that measuring it takes over 25 ms), so processes
    /// spooling at the same moment may overshoot by what they wrote within
    /// that time.
    ///
    /// ```
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).spool_max_bytes(64 << 20);
    /// ```
    pub fn spool_max_bytes(mut self, bytes: u64) -> Self {
        self.spool_max_bytes = bytes;
        self
    }

    /// How often the worker tries to send spooled envelopes while the
    /// receiver is unreachable. Default 30 s (a successful request also
    /// starts a drain at once).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).spool_retry_interval(Duration::from_secs(60));
    /// ```
    pub fn spool_retry_interval(mut self, interval: Duration) -> Self {
        self.spool_retry_interval = interval;
        self
    }

    /// How long dropping the transport without an explicit shutdown waits
    /// for queued envelopes. Default `ClientOptions::shutdown_timeout` (2 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).shutdown_timeout(Duration::from_secs(1));
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Print diagnostics (failed requests, rejections, rate limits) to
    /// stderr. Default `ClientOptions::debug` (off).
    ///
    /// ```
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).debug(true);
    /// ```
    pub fn debug(mut self, enabled: bool) -> Self {
        self.debug = enabled;
        self
    }

    /// The `sentry_client` of `X-Sentry-Auth` and the `User-Agent`.
    /// Default: this SDK's `name/version`.
    ///
    /// ```
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).client_name("my-sdk/1.2.3");
    /// ```
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = name.into();
        self
    }

    /// Sends every request through the proxy at `url` (`http://` or
    /// `https://`; `host:port` alone means `http://`; credentials as
    /// `http://user:password@host:port`), whatever the `*_PROXY`
    /// environment variables say. An empty `url` sends directly, as
    /// [`no_proxy`](Self::no_proxy) (and as an empty `http_proxy` option).
    /// A URL that does not parse fails [`build`](Self::build) with
    /// [`TransportError::InvalidProxy`].
    ///
    /// ```
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).proxy("http://proxy.internal:3128");
    /// ```
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.network.proxy = Proxy::from_option(Some(&url));
        self
    }

    /// Connects straight to the receiver, ignoring the `HTTP_PROXY`,
    /// `HTTPS_PROXY` and `ALL_PROXY` environment variables (which are
    /// followed by default).
    ///
    /// ```
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).no_proxy();
    /// ```
    pub fn no_proxy(mut self) -> Self {
        self.network.proxy = Proxy::Direct;
        self
    }

    /// Accepts the receiver's TLS certificate even when it does not verify
    /// (self-signed, expired, issued for another host). Default
    /// `ClientOptions::accept_invalid_certs` (off). Anyone on the path can
    /// then read and change what is sent; for a receiver whose certificate
    /// comes from a private CA, [trust that CA](Self::add_root_certificates_pem)
    /// instead.
    ///
    /// ```
    /// # let dsn = "https://public@127.0.0.1:9/1".parse().unwrap();
    /// let b = sentry_transport::HttpTransportBuilder::new(dsn).accept_invalid_certs(true);
    /// ```
    pub fn accept_invalid_certs(mut self, accept: bool) -> Self {
        self.network.accept_invalid_certs = accept;
        self
    }

    /// Trusts the certificates in `pem` (one or more `-----BEGIN
    /// CERTIFICATE-----` blocks, e.g. a company CA's file) besides the
    /// built-in roots: what a self-hosted receiver behind a private CA
    /// needs. May be called more than once. Text that holds no certificate
    /// fails [`build`](Self::build) with
    /// [`TransportError::InvalidCertificate`].
    ///
    /// ```no_run
    /// # let dsn = "https://public@sentry.internal/1".parse().unwrap();
    /// let ca = std::fs::read("/etc/ssl/company-ca.pem")?;
    /// let transport = sentry_transport::HttpTransportBuilder::new(dsn)
    ///     .add_root_certificates_pem(ca)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.network.root_certificates.push(pem.into());
        self
    }

    /// Checks the settings, opens the spool and starts the worker thread.
    ///
    /// A spool directory that cannot be created or written (permission
    /// denied, a path that is a file) does not fail the build: it is
    /// reported once on stderr ([`TransportError::Spool`]'s message) and the
    /// transport runs without a spool ([`HttpTransport::spool_dir`] is
    /// `None`).
    ///
    /// ```
    /// # let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let err = sentry_transport::HttpTransportBuilder::new(dsn).queue_size(0).build().unwrap_err();
    /// assert!(err.to_string().contains("queue_size"));
    /// ```
    pub fn build(self) -> Result<HttpTransport, TransportError> {
        let dsn = self.dsn.ok_or(TransportError::MissingDsn)?;
        let invalid = |name, reason| Err(TransportError::InvalidOption { name, reason });
        if self.queue_size == 0 {
            return invalid("queue_size", "must be at least 1");
        }
        // It goes into `User-Agent` and `X-Sentry-Auth`: a name no header
        // can hold would fail every request, each then retried as if the
        // network were down.
        if reqwest::header::HeaderValue::from_str(&self.client_name).is_err() {
            return invalid(
                "client_name",
                "must hold no control characters (it is sent in HTTP headers)",
            );
        }
        if self.max_in_flight == 0 {
            return invalid("max_in_flight", "must be at least 1");
        }
        if self.batch_interval.is_zero() {
            return invalid("batch_interval", "must be longer than zero");
        }
        if self.spool_retry_interval.is_zero() {
            return invalid("spool_retry_interval", "must be longer than zero");
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return invalid("request_timeout", "timeouts must be longer than zero");
        }
        // Timer arithmetic must not overflow: a year is "never" enough.
        let year = Duration::from_secs(365 * 24 * 3600);
        // Built before the spool is opened: a setting it refuses leaves no
        // directory behind.
        let client = reqwest::Client::builder();
        let client = self
            .network
            .apply(client)?
            // A redirect is the receiver's answer, not a place to send to:
            // followed, a 302 turns the POST into a body-less GET that
            // "succeeds" (the envelope lost, uncounted), and a 307 to
            // another host takes the body and `X-Sentry-Auth` with it.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(self.max_in_flight)
            .build()
            .map_err(|e| TransportError::HttpClient {
                source: Box::new(e),
            })?;
        // A spool that cannot be used costs the spool, not the transport:
        // envelopes still go over HTTP, and what cannot be delivered is
        // counted as `network_error` as without a spool.
        let spool = self.spool_dir.as_ref().and_then(|dir| {
            let dir = dir.join(spool_subdir(&dsn));
            Spool::open(&dir, self.spool_max_bytes)
                .map_err(|source| {
                    let e = TransportError::Spool { dir, source };
                    eprintln!("[sentry-transport] warning: {e}; running without a spool");
                })
                .ok()
        });
        let config = Config {
            endpoint: Endpoint::new(dsn, self.client_name),
            gzip_threshold: self.gzip_threshold,
            retry: RetryPolicy {
                max_retries: self.max_retries,
                initial: self.retry_initial.min(year),
                max: self.retry_max.min(year),
            },
            max_in_flight: self.max_in_flight,
            batch_interval: self.batch_interval.min(year),
            client_reports: self.client_reports,
            spool_retry_interval: self.spool_retry_interval.min(year),
            debug: self.debug,
        };
        let shared = Arc::new(Shared::new(config, spool));
        let (queue_tx, queue_rx) = mpsc::channel(self.queue_size);
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        worker::spawn(shared.clone(), client, queue_rx, control_rx)
            .map_err(TransportError::Worker)?;
        Ok(HttpTransport {
            shared,
            queue: queue_tx,
            control: control_tx,
            shut_down: AtomicBool::new(false),
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}

/// Sends envelopes to a Sentry-compatible receiver over HTTP(S) from a
/// background worker thread.
///
/// * [`send_envelope`](Transport::send_envelope) never waits on the
///   network: it drops rate-limited items, then either adds session and
///   client-report items to the periodic batch or puts the envelope in a
///   bounded queue (a full queue drops the new envelope, counted as
///   `queue_overflow`).
/// * [`flush`](Transport::flush) sends the pending session/client-report
///   batch and waits until everything queued before the call is finished
///   (envelopes sent while it waits are not waited for, so steady traffic
///   cannot hold it to its timeout). It returns `true`
///   when all of it finished in time and nothing failed to be delivered
///   since the previous flush (an envelope that ran out of retries, even if
///   it was spooled, makes it `false`; an envelope the receiver rejected with
///   a `4xx` or `429` counts as finished). It blocks the calling thread, which
///   is safe inside an async runtime: the worker never needs the caller's
///   threads. [`flush_async`](Self::flush_async) waits without blocking a
///   thread.
/// * [`shutdown`](Transport::shutdown) sends what it can until the timeout
///   and spools the rest when a spool is configured. Dropping the transport
///   shuts it down with the builder's `shutdown_timeout`.
///
/// ```
/// use std::time::Duration;
/// use sentry_core::{envelope::{Envelope, EnvelopeItem}, protocol::Event, transport::Transport};
/// use sentry_transport::HttpTransport;
///
/// let options = sentry_core::ClientOptions::with_dsn("http://public@127.0.0.1:9/1").unwrap();
/// let transport = HttpTransport::new(&options)?;
/// assert!(transport.flush(Duration::from_millis(10))); // nothing queued
/// let mut envelope = Envelope::new();
/// envelope.add_item(EnvelopeItem::event(Event::default()));
/// transport.send_envelope(envelope); // returns at once
/// transport.shutdown(Duration::from_millis(50));
/// # Ok::<(), sentry_transport::TransportError>(())
/// ```
pub struct HttpTransport {
    shared: Arc<Shared>,
    queue: mpsc::Sender<Queued>,
    control: mpsc::UnboundedSender<Control>,
    shut_down: AtomicBool,
    shutdown_timeout: Duration,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("url", &self.shared.config.endpoint.url())
            .field("pending", &self.shared.pending.get())
            .field("shut_down", &self.shut_down.load(Ordering::Relaxed))
            .finish()
    }
}

impl HttpTransport {
    /// A transport for `options.dsn` with the builder's defaults (see
    /// [`HttpTransportBuilder::from_options`]).
    ///
    /// ```
    /// let options = sentry_core::ClientOptions::default(); // no DSN
    /// let err = sentry_transport::HttpTransport::new(&options).unwrap_err();
    /// assert!(matches!(err, sentry_transport::TransportError::MissingDsn));
    /// ```
    pub fn new(options: &ClientOptions) -> Result<HttpTransport, TransportError> {
        HttpTransportBuilder::from_options(options).build()
    }

    /// A builder for `dsn` (same as [`HttpTransportBuilder::new`]).
    ///
    /// ```
    /// let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let transport = sentry_transport::HttpTransport::builder(dsn).max_retries(0).build()?;
    /// # Ok::<(), sentry_transport::TransportError>(())
    /// ```
    pub fn builder(dsn: Dsn) -> HttpTransportBuilder {
        HttpTransportBuilder::new(dsn)
    }

    /// Like [`Transport::flush`], but waits without blocking a thread: use
    /// it from async code. Works on any executor (the timer runs on the
    /// transport's own worker).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sentry_transport::TransportError> {
    /// let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let transport = sentry_transport::HttpTransport::builder(dsn).build()?;
    /// assert!(transport.flush_async(std::time::Duration::from_millis(100)).await);
    /// # Ok(()) }
    /// ```
    pub async fn flush_async(&self, timeout: Duration) -> bool {
        let deadline = deadline_after(timeout);
        let (reply, answer) = oneshot::channel();
        let generation = self.shared.pending.close_generation();
        let message = Control::Flush {
            generation,
            reply: Some(reply),
            deadline,
        };
        if self.control.send(message).is_err() {
            self.shared.pending.sub(generation, 1);
            return self.shared.pending.get() == 0;
        }
        answer.await.unwrap_or(false)
    }

    /// Envelopes and batched items not yet finished (queued, in flight or
    /// waiting for a retry).
    ///
    /// ```
    /// let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let transport = sentry_transport::HttpTransport::builder(dsn).build()?;
    /// assert_eq!(transport.pending(), 0);
    /// # Ok::<(), sentry_transport::TransportError>(())
    /// ```
    pub fn pending(&self) -> u64 {
        self.shared.pending.get()
    }

    /// The directory this transport spools into: the DSN's subdirectory of
    /// [`HttpTransportBuilder::spool_dir`]. `None` without a spool, or when
    /// that directory could not be created or written when the transport was
    /// built (reported on stderr then; the transport sends without a spool).
    ///
    /// ```
    /// let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let dir = tempfile::tempdir()?;
    /// let transport = sentry_transport::HttpTransport::builder(dsn).spool_dir(dir.path()).build()?;
    /// assert!(transport.spool_dir().is_some_and(|d| d.starts_with(dir.path())));
    ///
    /// let file = dir.path().join("a-file");
    /// std::fs::write(&file, b"not a directory")?;
    /// let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let transport = sentry_transport::HttpTransport::builder(dsn).spool_dir(&file).build()?;
    /// assert_eq!(transport.spool_dir(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spool_dir(&self) -> Option<&Path> {
        self.shared.spool.as_ref().map(Spool::dir)
    }

    /// How much longer items of data category `category` (`"error"`,
    /// `"transaction"`, `"session"`, ...) are rate limited, if they are.
    ///
    /// ```
    /// let dsn = "http://public@127.0.0.1:9/1".parse().unwrap();
    /// let transport = sentry_transport::HttpTransport::builder(dsn).build()?;
    /// assert_eq!(transport.rate_limited_for("error"), None);
    /// # Ok::<(), sentry_transport::TransportError>(())
    /// ```
    pub fn rate_limited_for(&self, category: &str) -> Option<Duration> {
        self.shared
            .limiter
            .read()
            .limited_for(category, Instant::now())
    }
}

impl Transport for HttpTransport {
    fn send_envelope(&self, mut envelope: Envelope) {
        let shared = &self.shared;
        if self.shut_down.load(Ordering::Relaxed) {
            return;
        }
        shared.drop_limited(&mut envelope);
        if envelope.items.is_empty() {
            return;
        }
        if envelope.items.iter().all(|i| is_batchable(&i.headers.ty)) {
            shared.add_to_batch(envelope.items);
            return;
        }
        let generation = shared.pending.add(1);
        match self.queue.try_send(Queued {
            envelope,
            generation,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(Queued { envelope, .. })) => {
                shared.pending.sub(generation, 1);
                shared.count_items(DiscardReason::QueueOverflow, &envelope.items);
                if shared.config.debug {
                    eprintln!("[sentry-transport] queue full: envelope dropped");
                }
            }
            Err(TrySendError::Closed(_)) => shared.pending.sub(generation, 1),
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        let deadline = deadline_after(timeout);
        let shared = &self.shared;
        let generation = shared.pending.close_generation();
        let message = Control::Flush {
            generation,
            reply: None,
            deadline,
        };
        if self.control.send(message).is_err() {
            shared.pending.sub(generation, 1);
            return shared.pending.get() == 0;
        }
        // Only a flush that saw its work finish takes the failures: one that
        // timed out leaves them for the next.
        shared.pending.wait_blocking(generation, deadline)
            && shared.failures.swap(0, Ordering::SeqCst) == 0
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        if self.shut_down.swap(true, Ordering::SeqCst) {
            return self.shared.pending.get() == 0;
        }
        let deadline = deadline_after(timeout);
        let (reply, answer) = std::sync::mpsc::channel();
        if self
            .control
            .send(Control::Shutdown { deadline, reply })
            .is_err()
        {
            return self.shared.pending.get() == 0;
        }
        answer
            .recv_timeout(timeout.saturating_add(SHUTDOWN_GRACE))
            .unwrap_or(false)
    }

    fn record_discard(&self, reason: DiscardReason, category: DataCategory, quantity: u64) {
        self.shared.discards.record(reason, category, quantity);
    }
}

impl Drop for HttpTransport {
    fn drop(&mut self) {
        if !self.shut_down.load(Ordering::SeqCst) {
            self.shutdown(self.shutdown_timeout);
        }
    }
}

/// A transport that drops everything: used when the HTTP transport cannot be
/// created (no DSN, or a configuration error that was reported).
struct DisabledTransport;

impl Transport for DisabledTransport {
    fn send_envelope(&self, _envelope: Envelope) {}
}

type Configure = dyn Fn(HttpTransportBuilder) -> HttpTransportBuilder + Send + Sync;

/// Creates an [`HttpTransport`] for each client, from the client's options
/// and an optional customisation of the builder.
///
/// Without a DSN the client gets a transport that drops everything; a
/// configuration error is printed to stderr and has the same effect (the
/// application keeps running).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use sentry_core::ClientOptions;
/// use sentry_transport::HttpTransportFactory;
///
/// let options = ClientOptions {
///     dsn: "http://public@127.0.0.1:9/1".parse().ok(),
///     transport: Some(Arc::new(HttpTransportFactory::new(|b| {
///         b.request_timeout(Duration::from_secs(5)).max_retries(5)
///     }))),
///     ..Default::default()
/// };
/// # drop(options);
/// // Or with every default:
/// let options = ClientOptions {
///     transport: Some(Arc::new(HttpTransportFactory::default())),
///     ..Default::default()
/// };
/// ```
#[derive(Clone, Default)]
pub struct HttpTransportFactory {
    configure: Option<Arc<Configure>>,
}

impl fmt::Debug for HttpTransportFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransportFactory")
            .field("configure", &self.configure.is_some())
            .finish()
    }
}

impl HttpTransportFactory {
    /// A factory that applies `configure` to each builder (which starts
    /// from [`HttpTransportBuilder::from_options`]).
    ///
    /// ```
    /// let factory = sentry_transport::HttpTransportFactory::new(|b| b.gzip(false));
    /// ```
    pub fn new(
        configure: impl Fn(HttpTransportBuilder) -> HttpTransportBuilder + Send + Sync + 'static,
    ) -> Self {
        HttpTransportFactory {
            configure: Some(Arc::new(configure)),
        }
    }

    /// Builds the transport for `options`, reporting errors instead of
    /// swallowing them.
    ///
    /// ```
    /// let options = sentry_core::ClientOptions::with_dsn("http://public@127.0.0.1:9/1").unwrap();
    /// let transport = sentry_transport::HttpTransportFactory::default().try_create(&options)?;
    /// # Ok::<(), sentry_transport::TransportError>(())
    /// ```
    pub fn try_create(&self, options: &ClientOptions) -> Result<HttpTransport, TransportError> {
        let builder = HttpTransportBuilder::from_options(options);
        let builder = match &self.configure {
            Some(configure) => configure(builder),
            None => builder,
        };
        builder.build()
    }
}

impl TransportFactory for HttpTransportFactory {
    fn create_transport(&self, options: &ClientOptions) -> Arc<dyn Transport> {
        if options.dsn.is_none() {
            return Arc::new(DisabledTransport);
        }
        match self.try_create(options) {
            Ok(transport) => Arc::new(transport),
            Err(e) => {
                eprintln!("[sentry-transport] the HTTP transport is disabled: {e}");
                Arc::new(DisabledTransport)
            }
        }
    }
}

/// The spool subdirectory of `dsn`: `dsn-` and a CRC-32 of where its
/// envelopes go and with which key (scheme, host in lower case, the
/// effective port, path, project id, public key), stable across runs and
/// versions. The deprecated secret and whether the port is written out
/// change nothing: such DSNs send to the same place.
fn spool_subdir(dsn: &Dsn) -> String {
    let identity = format!(
        "{}://{}@{}:{}{}{}",
        dsn.scheme(),
        dsn.public_key(),
        dsn.host().to_ascii_lowercase(),
        dsn.port(),
        dsn.path(),
        dsn.project_id()
    );
    format!("dsn-{:08x}", crc32fast::hash(identity.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spool_subdirectory_follows_where_a_dsn_sends() {
        let of = |s: &str| spool_subdir(&s.parse::<Dsn>().expect("dsn"));
        let base = of("https://abc@sentry.example.com/42");
        for same in [
            "https://abc:deadbeef@sentry.example.com/42",
            "https://abc@sentry.example.com:443/42",
            "https://abc@Sentry.Example.com/42",
        ] {
            assert_eq!(of(same), base, "{same}");
        }
        for other in [
            "http://abc@sentry.example.com/42",
            "https://abd@sentry.example.com/42",
            "https://abc@sentry.example.com/43",
            "https://abc@sentry.example.com:8443/42",
            "https://abc@sentry.example.com/prefix/42",
            "https://abc@other.example.com/42",
        ] {
            assert_ne!(of(other), base, "{other}");
        }
        assert!(base.starts_with("dsn-") && base.len() == 12, "{base}");
    }
}
