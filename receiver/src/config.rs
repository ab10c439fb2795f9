//! Receiver configuration: where to listen, where the database lives, and the
//! limits and timeouts that protect the server.
//!
//! Every field has a documented default chosen so that `receiver` with no
//! arguments is useful (PROTOCOL.md §3 and §11 give the reference values):
//!
//! ```
//! use receiver::config::Config;
//! let config = Config::default();
//! assert_eq!(config.addr.to_string(), "127.0.0.1:8000");
//! assert_eq!(config.db_path.to_str(), Some("receiver.sqlite"));
//! assert_eq!(config.path_prefix, "/");
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sentry_core::protocol::Timestamp;

use crate::ingest::limits::Limits;

/// The default database file (relative to the working directory).
pub const DEFAULT_DB: &str = "receiver.sqlite";

/// Everything the server needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address (default `127.0.0.1:8000`; port 0 picks a free port).
    pub addr: SocketAddr,
    /// SQLite database file (default `./receiver.sqlite`), created if missing.
    pub db_path: PathBuf,
    /// Path prefix in front of `api/…` (default `/`). A DSN like
    /// `http://key@host/sentry/7` makes SDKs post to `/sentry/api/7/envelope/`,
    /// which needs the prefix `/sentry/`. Always starts and ends with `/`.
    pub path_prefix: String,
    /// Request size limits.
    pub limits: Limits,
    /// Connection and read timeouts.
    pub timeouts: Timeouts,
    /// Maximum simultaneously open connections (default 512). Further
    /// connections wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Storage tuning.
    pub store: StoreConfig,
    /// The clock used to stamp and normalise incoming data.
    pub clock: Clock,
    /// Whether `X-Forwarded-For` names the client, for a receiver behind a
    /// reverse proxy: its left-most address then replaces the TCP peer's
    /// for `{{auto}}` (default off: any client can send the header).
    pub trust_forwarded_for: bool,
    /// How often the server looks for cron monitor failures that no
    /// check-in reports (missed runs, runs that never finish), which open
    /// issues (`store::monitor_incidents`; default a minute, as Sentry's
    /// clock ticks).
    pub monitor_clock_interval: Duration,
    /// How far behind now the monitor clock counts (default 10 s): a
    /// check-in is stamped when its request is read and may wait for the
    /// writer up to `timeouts.queue_wait`, so a run that started just
    /// before its margin must not be counted as missed before it is
    /// stored.
    pub monitor_clock_lag: Duration,
    /// How long stored data is kept (default 90 days, as Sentry keeps
    /// events; `None` keeps everything): what was received longer ago is
    /// deleted at start and then every `retention_interval`
    /// (`store::retention`).
    pub retention: Option<Duration>,
    /// How often retention runs while the server runs (default an hour).
    pub retention_interval: Duration,
}

/// How long data is kept unless configured otherwise: 90 days, Sentry's
/// default event retention.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 86_400);

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
            db_path: PathBuf::from(DEFAULT_DB),
            path_prefix: "/".to_owned(),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            max_connections: 512,
            store: StoreConfig::default(),
            clock: Clock::System,
            trust_forwarded_for: false,
            monitor_clock_interval: Duration::from_secs(60),
            monitor_clock_lag: Duration::from_secs(10),
            retention: Some(DEFAULT_RETENTION),
            retention_interval: Duration::from_secs(3600),
        }
    }
}

impl Config {
    /// Sets the path prefix, normalising it to start and end with `/`
    /// (`sentry` → `/sentry/`, empty → `/`).
    pub fn with_path_prefix(mut self, prefix: &str) -> Self {
        self.path_prefix = normalize_prefix(prefix);
        self
    }
}

/// Normalises a path prefix so it starts and ends with `/`, with runs of `/`
/// collapsed.
///
/// ```
/// use receiver::config::normalize_prefix;
/// assert_eq!(normalize_prefix(""), "/");
/// assert_eq!(normalize_prefix("sentry"), "/sentry/");
/// assert_eq!(normalize_prefix("//a//b/"), "/a/b/");
/// ```
pub fn normalize_prefix(prefix: &str) -> String {
    let mut out = String::from("/");
    for segment in prefix.split('/').filter(|s| !s.is_empty()) {
        out.push_str(segment);
        out.push('/');
    }
    out
}

/// Timeouts that bound how long a client may hold resources.
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// Time allowed to send a complete request head, also the idle timeout
    /// of a kept-alive connection (default 10 s).
    pub header_read: Duration,
    /// Longest pause between two body chunks (default 10 s).
    pub body_idle: Duration,
    /// Time allowed to send a whole body (default 60 s).
    pub body_total: Duration,
    /// Once `body_idle` has passed, the body must keep arriving at this
    /// many bytes a second on average, counted from its start (default
    /// 500): a client that sends a byte now and then, just often enough
    /// for `body_idle`, is cut off after `body_idle` plus a second per 500
    /// bytes sent, not after `body_total`. At the connection limit, a body
    /// this slow for a second may make room for a new client. 0 turns
    /// both off.
    pub body_min_rate: u64,
    /// How long a response may stay unsent because the client does not
    /// read it before the connection is closed (default 30 s).
    pub write_stalled: Duration,
    /// How long a request waits for a full write queue before 503 (default 5 s).
    pub queue_wait: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(10),
            body_idle: Duration::from_secs(10),
            body_total: Duration::from_secs(60),
            body_min_rate: 500,
            write_stalled: Duration::from_secs(30),
            queue_wait: Duration::from_secs(5),
        }
    }
}

/// How the store writes.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Most jobs committed in one transaction (default 256).
    pub batch_max: usize,
    /// Capacity of the writer's queue in jobs (default 1024).
    pub queue_capacity: usize,
    /// How long the writer may hold a batch open for requests that are
    /// still being prepared, when its previous batch showed 16 or more
    /// clients in flight together (default 1 ms; zero never waits; a
    /// `batch_max` under 16 never gathers). Under load a batch then holds tens
    /// of jobs instead of one to three, and the writer spends 5–8 % less
    /// CPU per event (measured as its share of the receiver's CPU in the
    /// load benchmark); with few clients, or a lone request, nothing waits.
    /// See [`crate::store::writer`].
    pub gather_window: Duration,
    /// `true` selects `synchronous=FULL`: every commit is fsynced and
    /// survives power loss. `false` (default) selects `NORMAL`: in WAL mode
    /// a commit survives a crash or kill of the process (the SIGKILL test),
    /// and only an OS crash or power loss can lose the last commits (never
    /// corrupting the database); about 10–15 % more events per second.
    pub fsync_every_commit: bool,
    /// zstd level for stored payloads (default 3). Once the database has a
    /// dictionary ([`crate::store::dictionary`]), level 3 compresses the
    /// load benchmark's ~10 KB events both better and faster than level 1
    /// (19:1 in 6.5 µs against 17:1 in 7.9 µs); before that, for the first
    /// few hundred events, it costs ~2 µs more per event than level 1 for
    /// the same 6:1.
    pub compression_level: i32,
    /// How many accepted events and transactions to train the database's
    /// zstd dictionary from (default 300; 0 never trains one). See
    /// [`crate::store::dictionary`].
    pub dictionary_samples: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            batch_max: 256,
            queue_capacity: 1024,
            gather_window: Duration::from_millis(1),
            fsync_every_commit: false,
            compression_level: 3,
            dictionary_samples: 300,
        }
    }
}

/// The time source for `received` stamps and timestamp normalisation.
///
/// Tests replaying recorded fixtures pin the clock to the recording time so
/// that time-window rules (sessions older than 5 days are dropped) give the
/// same result whenever the test runs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// Always this instant.
    Fixed(Timestamp),
}

impl Clock {
    /// The current time according to this clock.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Fixed(t) => *t,
        }
    }
}
