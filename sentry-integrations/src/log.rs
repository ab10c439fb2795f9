//! The `log` bridge: log records become breadcrumbs and events.
//!
//! [`SentryLogger`] is a [`log::Log`] that hands each record to Sentry and
//! then to another logger (its *destination*, e.g. `env_logger`), so the
//! application keeps its console output. What Sentry does with a record is
//! decided by a filter on its metadata; the default ([`default_filter`]):
//!
//! | level | becomes |
//! |---|---|
//! | `error` | an event (level `error`, `logger` = target, the message, the key-values as the `Rust Log Attributes` context) |
//! | `warn`, `info` | a breadcrumb (type `log`, category = target, level mapped, the key-values as `data`) |
//! | `debug`, `trace` | nothing |
//!
//! With the client's `enable_logs`, records from `info` up (see
//! [`SentryLogger::logs_level`]) are also sent as Sentry logs
//! ([`sentry_core::logs`]): the level as is, the message as the body, the
//! key-values as attributes, with `logger.name` (the target),
//! `code.namespace`, `code.file.path`, `code.line.number` and
//! `sentry.origin` (`auto.log.log`).
//!
//! Levels map as `error → error`, `warn → warning`, `info → info`,
//! `debug`/`trace` → `debug`. A record's key-values (`log::info!(user = 5;
//! "logged in")`) keep their type when they are a string, an integer, a
//! float or a boolean, and become their text otherwise, as in the official
//! `sentry-log`. Breadcrumbs are attached to the next event
//! captured on the same hub (any event: an error record, a panic, ...).
//! Records logged by the SDK's own threads (named `sentry-*`) or with a
//! target in one of its crates (`sentry`, `sentry_core`,
//! `sentry_integrations`, `sentry_transport` and their modules; an
//! application crate such as `sentryflow` is reported as usual) only go to
//! the destination, so the SDK never reports about itself in a loop.
//!
//! ```
//! use log::{Level, LevelFilter};
//! use sentry_integrations::log::{LogFilter, SentryLogger};
//!
//! // Beside env_logger (any `log::Log` works as the destination):
//! # struct Console;
//! # impl log::Log for Console {
//! #     fn enabled(&self, _: &log::Metadata) -> bool { true }
//! #     fn log(&self, _: &log::Record) {}
//! #     fn flush(&self) {}
//! # }
//! let logger = SentryLogger::with_dest(Console).filter(|md| match md.level() {
//!     Level::Error | Level::Warn => LogFilter::Event,
//!     Level::Info => LogFilter::Breadcrumb,
//!     _ => LogFilter::Ignore,
//! });
//! log::set_boxed_logger(Box::new(logger)).unwrap();
//! log::set_max_level(LevelFilter::Info);
//! ```

use std::fmt;

use log::kv::{Error as KvError, Key, Value as KvValue, VisitSource};
use log::{Level as LogLevel, Log, Metadata, Record};
use sentry_core::protocol::{Breadcrumb, Context, Contexts, Event, Level, LogEntry, Map};
use serde_json::Value;

/// What Sentry does with a log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFilter {
    /// Nothing.
    Ignore,
    /// Adds a breadcrumb.
    Breadcrumb,
    /// Captures an event.
    Event,
}

/// The default filter: `error` → event, `warn`/`info` → breadcrumb,
/// `debug`/`trace` → ignored.
///
/// ```
/// use sentry_integrations::log::{default_filter, LogFilter};
/// let md = log::Metadata::builder().level(log::Level::Warn).build();
/// assert_eq!(default_filter(&md), LogFilter::Breadcrumb);
/// ```
pub fn default_filter(metadata: &Metadata<'_>) -> LogFilter {
    match metadata.level() {
        LogLevel::Error => LogFilter::Event,
        LogLevel::Warn | LogLevel::Info => LogFilter::Breadcrumb,
        LogLevel::Debug | LogLevel::Trace => LogFilter::Ignore,
    }
}

/// Maps a `log` level to a Sentry level.
///
/// ```
/// use sentry_core::protocol::Level;
/// assert_eq!(sentry_integrations::log::convert_level(log::Level::Warn), Level::Warning);
/// ```
pub fn convert_level(level: LogLevel) -> Level {
    match level {
        LogLevel::Error => Level::Error,
        LogLevel::Warn => Level::Warning,
        LogLevel::Info => Level::Info,
        LogLevel::Debug | LogLevel::Trace => Level::Debug,
    }
}

/// Where the record was logged: module path, file and line, as JSON data.
fn location_data(record: &Record<'_>) -> Map {
    let mut data = Map::new();
    if let Some(m) = record.module_path() {
        data.insert("module_path".to_owned(), Value::from(m));
    }
    if let Some(f) = record.file() {
        data.insert("file".to_owned(), Value::from(f));
    }
    if let Some(l) = record.line() {
        data.insert("line".to_owned(), Value::from(l));
    }
    data
}

/// The event context holding a record's key-values (named as the official
/// `sentry-log` names it).
pub const ATTRIBUTES_CONTEXT: &str = "Rust Log Attributes";

/// Collects a record's key-values as JSON.
#[derive(Default)]
struct KeyValues(Map);

impl<'kvs> VisitSource<'kvs> for KeyValues {
    fn visit_pair(&mut self, key: Key<'kvs>, value: KvValue<'kvs>) -> Result<(), KvError> {
        self.0.insert(key.as_str().to_owned(), kv_to_json(&value));
        Ok(())
    }
}

/// A key-value's value as JSON: strings, integers, floats and booleans as
/// themselves, anything else as its text.
fn kv_to_json(value: &KvValue<'_>) -> Value {
    if let Some(s) = value.to_borrowed_str() {
        Value::from(s)
    } else if let Some(n) = value.to_i64() {
        Value::from(n)
    } else if let Some(n) = value.to_u64() {
        Value::from(n)
    } else if let Some(b) = value.to_bool() {
        Value::from(b)
    } else if let Some(f) = value.to_f64().filter(|f| f.is_finite()) {
        Value::from(f)
    } else {
        Value::from(value.to_string())
    }
}

/// The key-values of a record, as JSON (empty without any). A source that
/// fails part-way keeps the pairs visited before.
///
/// ```
/// let kvs = [("user", 5)];
/// let record = log::Record::builder()
///     .args(format_args!("logged in"))
///     .key_values(&kvs)
///     .build();
/// let data = sentry_integrations::log::key_values(&record);
/// assert_eq!(data["user"], 5);
/// ```
pub fn key_values(record: &Record<'_>) -> Map {
    let mut visitor = KeyValues::default();
    // An error only stops the visit; what was collected is kept.
    let _ = record.key_values().visit(&mut visitor);
    visitor.0
}

/// The Sentry log line for a record (see the [module docs](self)).
///
/// ```
/// let record = log::Record::builder()
///     .args(format_args!("charged {}", 12))
///     .level(log::Level::Warn)
///     .target("app::billing")
///     .build();
/// let line = sentry_integrations::log::sentry_log_from_record(&record);
/// assert_eq!(line.body, "charged 12");
/// assert_eq!(line.level, sentry_core::protocol::LogLevel::Warn);
/// ```
pub fn sentry_log_from_record(record: &Record<'_>) -> sentry_core::protocol::Log {
    use sentry_core::protocol::LogLevel as SentryLogLevel;
    let level = match record.level() {
        LogLevel::Error => SentryLogLevel::Error,
        LogLevel::Warn => SentryLogLevel::Warn,
        LogLevel::Info => SentryLogLevel::Info,
        LogLevel::Debug => SentryLogLevel::Debug,
        LogLevel::Trace => SentryLogLevel::Trace,
    };
    let site = crate::LogSite {
        origin: "auto.log.log",
        target: record.target(),
        module: record.module_path(),
        file: record.file(),
        line: record.line(),
    };
    site.log_line(level, record.args().to_string(), key_values(record))
}

/// The breadcrumb for a record: type `log`, category = target, the message,
/// the mapped level and the key-values as `data`.
///
/// ```
/// let record = log::Record::builder()
///     .args(format_args!("cache miss for {}", "user:1"))
///     .level(log::Level::Info)
///     .target("app::cache")
///     .build();
/// let crumb = sentry_integrations::log::breadcrumb_from_record(&record);
/// assert_eq!(crumb.category.as_deref(), Some("app::cache"));
/// assert_eq!(crumb.message.as_deref(), Some("cache miss for user:1"));
/// ```
pub fn breadcrumb_from_record(record: &Record<'_>) -> Breadcrumb {
    Breadcrumb {
        ty: "log".into(),
        category: Some(record.target().to_owned().into()),
        level: convert_level(record.level()),
        // A message without arguments is a `&'static str`: kept as is.
        message: Some(match record.args().as_str() {
            Some(s) => s.into(),
            None => record.args().to_string().into(),
        }),
        data: key_values(record).into(),
        ..Default::default()
    }
}

/// The event for a record: the message (and its template when the record
/// has no arguments), `logger` = target, the mapped level, the location in
/// `extra.log` (`module_path`, `file`, `line`), and the key-values, if any,
/// as the [`ATTRIBUTES_CONTEXT`] context.
///
/// ```
/// use sentry_core::protocol::Level;
/// let record = log::Record::builder()
///     .args(format_args!("payment failed"))
///     .level(log::Level::Error)
///     .target("app::billing")
///     .build();
/// let event = sentry_integrations::log::event_from_record(&record);
/// assert_eq!(event.level, Level::Error);
/// assert_eq!(event.logger.as_deref(), Some("app::billing"));
/// assert_eq!(event.title(), "payment failed");
/// ```
pub fn event_from_record(record: &Record<'_>) -> Event {
    let mut extra = Map::new();
    let location = location_data(record);
    if !location.is_empty() {
        extra.insert("log".to_owned(), Value::Object(location));
    }
    let mut contexts = Contexts::default();
    let attributes = key_values(record);
    if !attributes.is_empty() {
        contexts.insert(ATTRIBUTES_CONTEXT.to_owned(), Context::Other(attributes));
    }
    Event {
        level: convert_level(record.level()),
        logger: Some(record.target().to_owned()),
        logentry: Some(LogEntry {
            formatted: Some(record.args().to_string()),
            message: record.args().as_str().map(str::to_owned),
            ..Default::default()
        }),
        extra,
        contexts,
        ..Default::default()
    }
}

/// A destination that drops every record, for using [`SentryLogger`] alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopLogger;

impl Log for NoopLogger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        false
    }

    fn log(&self, _: &Record<'_>) {}

    fn flush(&self) {}
}

type Filter = dyn Fn(&Metadata<'_>) -> LogFilter + Send + Sync;

/// A `log::Log` that reports records to Sentry and passes them on to a
/// destination logger (see the [module docs](self)).
pub struct SentryLogger<L: Log = NoopLogger> {
    dest: L,
    filter: Box<Filter>,
    logs_level: log::LevelFilter,
}

impl<L: Log> fmt::Debug for SentryLogger<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryLogger").finish_non_exhaustive()
    }
}

impl Default for SentryLogger<NoopLogger> {
    fn default() -> Self {
        Self::new()
    }
}

impl SentryLogger<NoopLogger> {
    /// A logger that only reports to Sentry.
    pub fn new() -> Self {
        Self::with_dest(NoopLogger)
    }
}

impl<L: Log> SentryLogger<L> {
    /// A logger that reports to Sentry and then passes every record to
    /// `dest` (which applies its own level filter).
    pub fn with_dest(dest: L) -> Self {
        SentryLogger {
            dest,
            filter: Box::new(default_filter),
            logs_level: log::LevelFilter::Info,
        }
    }

    /// The least severe records also sent as Sentry logs when the client
    /// has `enable_logs` (default `Info`; `Off` sends none).
    pub fn logs_level(mut self, level: log::LevelFilter) -> Self {
        self.logs_level = level;
        self
    }

    /// Replaces the filter deciding what becomes a breadcrumb or an event.
    pub fn filter<F>(mut self, filter: F) -> Self
    where
        F: Fn(&Metadata<'_>) -> LogFilter + Send + Sync + 'static,
    {
        self.filter = Box::new(filter);
        self
    }

    /// The destination logger.
    pub fn dest(&self) -> &L {
        &self.dest
    }

    /// What Sentry does with a record of this metadata (the filter, except
    /// for the SDK's own records, which are ignored).
    fn sentry_action(&self, metadata: &Metadata<'_>) -> LogFilter {
        let action = (self.filter)(metadata);
        if action == LogFilter::Ignore || is_sdk_record(metadata) {
            LogFilter::Ignore
        } else {
            action
        }
    }
}

/// Records of the SDK itself: targets in the SDK's crates (`sentry_core::...`,
/// `sentry_transport::...`; not an application crate that merely starts with
/// "sentry"), or any record logged on an SDK thread (the transport worker is
/// `sentry-transport`).
fn is_sdk_record(metadata: &Metadata<'_>) -> bool {
    crate::is_sdk_target(metadata.target())
        || std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("sentry-"))
}

impl<L: Log> Log for SentryLogger<L> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.dest.enabled(metadata)
            || (self.filter)(metadata) != LogFilter::Ignore
            || (metadata.level() <= self.logs_level && sentry_core::logs::enabled())
    }

    fn log(&self, record: &Record<'_>) {
        if record.level() <= self.logs_level
            && !is_sdk_record(record.metadata())
            && sentry_core::logs::enabled()
        {
            sentry_core::logs::capture_log(sentry_log_from_record(record));
        }
        match self.sentry_action(record.metadata()) {
            LogFilter::Ignore => {}
            LogFilter::Breadcrumb => sentry_core::add_breadcrumb(|| breadcrumb_from_record(record)),
            LogFilter::Event => {
                sentry_core::capture_event(event_from_record(record));
            }
        }
        if self.dest.enabled(record.metadata()) {
            self.dest.log(record);
        }
    }

    fn flush(&self) {
        self.dest.flush();
    }
}
