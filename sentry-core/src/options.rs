//! Client configuration.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::dsn::{Dsn, DsnError};
use crate::integration::Integration;
use crate::performance::TracesSampler;
use crate::protocol::{Breadcrumb, Event, Log, Metric, Transaction};
use crate::session::SessionMode;
use crate::transport::TransportFactory;

/// A callback that may change or drop an event.
pub type BeforeSend = Arc<dyn Fn(Event) -> Option<Event> + Send + Sync>;
/// A callback that may change or drop a transaction.
pub type BeforeSendTransaction = Arc<dyn Fn(Transaction) -> Option<Transaction> + Send + Sync>;
/// A callback that may change or drop a breadcrumb.
pub type BeforeBreadcrumb = Arc<dyn Fn(Breadcrumb) -> Option<Breadcrumb> + Send + Sync>;
/// A callback that may change or drop a log line.
pub type BeforeSendLog = Arc<dyn Fn(Log) -> Option<Log> + Send + Sync>;
/// A callback that may change or drop a metric sample.
pub type BeforeSendMetric = Arc<dyn Fn(Metric) -> Option<Metric> + Send + Sync>;

/// Why a set of options cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionsError {
    /// The DSN (from code or `SENTRY_DSN`) does not parse.
    #[error("invalid DSN from {origin}: {source}")]
    InvalidDsn {
        /// `SENTRY_DSN` or `options`.
        origin: &'static str,
        /// What is wrong with it.
        source: DsnError,
    },
    /// A rate is outside 0.0..=1.0 or not a number.
    #[error("{name} must be between 0.0 and 1.0, got {value}")]
    InvalidRate {
        /// The option name.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A size option is out of range.
    #[error("{name} must be between {min} and {max}, got {value}")]
    OutOfRange {
        /// The option name.
        name: &'static str,
        /// The value given.
        value: usize,
        /// Smallest allowed.
        min: usize,
        /// Largest allowed.
        max: usize,
    },
    /// A release, environment or dist the receiver would reject.
    #[error("invalid {name} {value:?}: {reason}")]
    InvalidName {
        /// The option name.
        name: &'static str,
        /// The value given.
        value: String,
        /// Why it is rejected.
        reason: &'static str,
    },
}

/// The environment of events when none is set: `development` when the SDK
/// is built with debug assertions (the `dev` and `test` profiles),
/// `production` otherwise (the `release` profile).
///
/// ```
/// let expected = if cfg!(debug_assertions) { "development" } else { "production" };
/// assert_eq!(sentry_core::DEFAULT_ENVIRONMENT, expected);
/// ```
pub const DEFAULT_ENVIRONMENT: &str = if cfg!(debug_assertions) {
    "development"
} else {
    "production"
};

/// Configuration of a [`crate::Client`].
///
/// Build it with struct-update syntax; unset values come from the
/// environment (`SENTRY_DSN`, `SENTRY_RELEASE`, `SENTRY_ENVIRONMENT`) when the
/// client is created, then from the defaults documented on each field.
///
/// ```
/// use sentry_core::ClientOptions;
/// let options = ClientOptions {
///     dsn: "https://0123456789abcdef0123456789abcdef@127.0.0.1:8000/1".parse().ok(),
///     release: Some("my-app@1.0.0".into()),
///     sample_rate: 0.5,
///     ..Default::default()
/// };
/// assert!(options.validate().is_ok());
/// ```
#[derive(Clone)]
pub struct ClientOptions {
    /// Where to send events. Without one (and without `SENTRY_DSN`) the client
    /// is disabled and every capture is a no-op.
    pub dsn: Option<Dsn>,
    /// The release, e.g. `my-app@1.0.0`.
    pub release: Option<Cow<'static, str>>,
    /// The environment. Unset, `SENTRY_ENVIRONMENT`, else
    /// [`DEFAULT_ENVIRONMENT`]: `development` in a build with debug
    /// assertions (`cargo build`, `cargo test`), `production` in a release
    /// build, as the official Rust SDK does.
    pub environment: Option<Cow<'static, str>>,
    /// The distribution of the release.
    pub dist: Option<Cow<'static, str>>,
    /// The host name reported on events.
    pub server_name: Option<Cow<'static, str>>,
    /// Fraction of error events sent, 0.0..=1.0. Default 1.0.
    pub sample_rate: f32,
    /// Fraction of transactions sent, 0.0..=1.0. Default 0.0: tracing is
    /// off (see [`ClientOptions::tracing_enabled`]), no transaction is sent
    /// whatever an incoming `sentry-trace` header says, and outgoing
    /// requests carry the trace without a sampling decision of this
    /// service. Above 0, an upstream sampling decision (from `sentry-trace`)
    /// is honoured instead of the rate.
    pub traces_sample_rate: f32,
    /// Decides each transaction's sample rate from its context (name, op,
    /// parent decision, custom data); takes precedence over
    /// `traces_sample_rate`.
    pub traces_sampler: Option<TracesSampler>,
    /// Child spans kept per transaction; the excess is counted as dropped.
    /// Default 1000.
    pub max_spans: usize,
    /// Which outgoing requests get the `sentry-trace` and `baggage` headers:
    /// `None` (the default) means every request; `Some(list)` only those
    /// to a listed host, `host:port` or URL prefix (an empty list: none).
    /// The `http.client` span is recorded either way. See
    /// [`ClientOptions::propagates_to`].
    pub trace_propagation_targets: Option<Vec<Cow<'static, str>>>,
    /// Start an application-mode session at `init` and end it when the guard
    /// drops (needs a `release`). Default false in `sentry-core`.
    pub auto_session_tracking: bool,
    /// Application (one session per run) or request (per-request outcomes
    /// aggregated per minute). Default application.
    pub session_mode: SessionMode,
    /// How often request-mode aggregates are sent. Default 60 s.
    pub session_flush_interval: Duration,
    /// Breadcrumbs kept on a scope. Default 100.
    pub max_breadcrumbs: usize,
    /// Attach the capture site's stack trace to messages (needs the
    /// stack-trace integration). Default false.
    pub attach_stacktrace: bool,
    /// Send personal data: user IP and email, cookies and auth headers.
    /// Default false: they are removed before sending.
    pub send_default_pii: bool,
    /// Module prefixes that are always in-app.
    pub in_app_include: Vec<Cow<'static, str>>,
    /// Module prefixes that are never in-app.
    pub in_app_exclude: Vec<Cow<'static, str>>,
    /// Keys whose values are replaced with `[Filtered]` anywhere in extra,
    /// contexts, request data, breadcrumb data and frame vars. Default:
    /// [`crate::scrub::Scrubber::default_deny_list`].
    pub deny_keys: Vec<Cow<'static, str>>,
    /// Last chance to change or drop an error event.
    pub before_send: Option<BeforeSend>,
    /// Last chance to change or drop a transaction.
    pub before_send_transaction: Option<BeforeSendTransaction>,
    /// Change or drop a breadcrumb as it is added.
    pub before_breadcrumb: Option<BeforeBreadcrumb>,
    /// Send structured logs ([`crate::logs`]): lines are batched and sent
    /// every 5 s or at 100 lines, and on flush and close. Default false:
    /// the log API does nothing.
    pub enable_logs: bool,
    /// Change or drop a log line before it is batched.
    pub before_send_log: Option<BeforeSendLog>,
    /// Send metric samples ([`crate::metrics`]): they are batched and sent
    /// every 5 s or at 1000 samples, and on flush and close. Default true,
    /// as in the official Python SDK: nothing is sent until the metrics API
    /// is called.
    pub enable_metrics: bool,
    /// Change or drop a metric sample before it is batched.
    pub before_send_metric: Option<BeforeSendMetric>,
    /// How long the guard's drop waits for queued events. Default 2 s.
    pub shutdown_timeout: Duration,
    /// Print SDK diagnostics to stderr. Default false.
    pub debug: bool,
    /// Envelopes the transport may queue. Default 100.
    pub max_queue_size: usize,
    /// The proxy the HTTP transport sends through when the DSN is
    /// `http://`, e.g. `http://proxy.internal:3128` (with credentials:
    /// `http://user:password@proxy.internal:3128`). An empty string sends
    /// directly, whatever the environment says. Unset: the `HTTP_PROXY`,
    /// `ALL_PROXY` and `NO_PROXY` environment variables decide.
    ///
    /// ```
    /// let options = sentry_core::ClientOptions {
    ///     http_proxy: Some("http://proxy.internal:3128".into()),
    ///     ..Default::default()
    /// };
    /// // Credentials never show in debug output.
    /// let options = sentry_core::ClientOptions {
    ///     https_proxy: Some("http://me:secret@proxy.internal:3128".into()),
    ///     ..Default::default()
    /// };
    /// assert!(!format!("{options:?}").contains("secret"));
    /// ```
    pub http_proxy: Option<Cow<'static, str>>,
    /// The proxy for an `https://` DSN, as [`http_proxy`](Self::http_proxy).
    /// Unset: `http_proxy` when that is set, else the `HTTPS_PROXY`,
    /// `ALL_PROXY` and `NO_PROXY` environment variables.
    pub https_proxy: Option<Cow<'static, str>>,
    /// Accept the receiver's TLS certificate even when it does not verify
    /// (self-signed, expired, another host's). Default false. Anyone on the
    /// path can then read and change what is sent: for a receiver with its
    /// own CA, give the HTTP transport that CA instead
    /// (`HttpTransportBuilder::add_root_certificates_pem`).
    pub accept_invalid_certs: bool,
    /// A PEM file of certificates the HTTP transport trusts besides the
    /// built-in roots (the Python SDK's `ca_certs`): a self-hosted
    /// receiver's private CA, or a company proxy's that intercepts TLS. A
    /// file that cannot be read or holds no certificate disables the
    /// transport with an error on stderr.
    ///
    /// ```
    /// let options = sentry_core::ClientOptions {
    ///     ca_certs: Some("/etc/ssl/company-ca.pem".into()),
    ///     ..Default::default()
    /// };
    /// ```
    pub ca_certs: Option<std::path::PathBuf>,
    /// What the HTTP transport says it is, in `User-Agent` and as
    /// `sentry_client` in `X-Sentry-Auth`. Default this SDK's
    /// `name/version`; a wrapper SDK sets its own.
    pub user_agent: Cow<'static, str>,
    /// Creates the transport. Without one, the client has nowhere to send
    /// and drops events (`sentry-transport` installs the HTTP one).
    pub transport: Option<Arc<dyn TransportFactory>>,
    /// Integrations.
    pub integrations: Vec<Arc<dyn Integration>>,
    /// Whether `sentry_integrations::init` adds its default integrations
    /// (panic hook, contexts, stack traces) in front of `integrations`.
    /// Default true; the official crate's option of the same name.
    pub default_integrations: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            dsn: None,
            release: None,
            environment: None,
            dist: None,
            server_name: None,
            sample_rate: 1.0,
            traces_sample_rate: 0.0,
            traces_sampler: None,
            max_spans: 1000,
            trace_propagation_targets: None,
            auto_session_tracking: false,
            session_mode: SessionMode::Application,
            session_flush_interval: Duration::from_secs(60),
            max_breadcrumbs: 100,
            attach_stacktrace: false,
            send_default_pii: false,
            in_app_include: Vec::new(),
            in_app_exclude: Vec::new(),
            deny_keys: crate::scrub::Scrubber::default_deny_list()
                .iter()
                .map(|s| Cow::Borrowed(*s))
                .collect(),
            before_send: None,
            before_send_transaction: None,
            before_breadcrumb: None,
            enable_logs: false,
            before_send_log: None,
            enable_metrics: true,
            before_send_metric: None,
            shutdown_timeout: Duration::from_secs(2),
            debug: false,
            max_queue_size: 100,
            http_proxy: None,
            https_proxy: None,
            accept_invalid_certs: false,
            ca_certs: None,
            user_agent: Cow::Owned(crate::protocol::ClientSdkInfo::this_sdk().client_name()),
            transport: None,
            integrations: Vec::new(),
            default_integrations: true,
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("dsn", &self.dsn)
            .field("release", &self.release)
            .field("environment", &self.environment)
            .field("dist", &self.dist)
            .field("server_name", &self.server_name)
            .field("sample_rate", &self.sample_rate)
            .field("traces_sample_rate", &self.traces_sample_rate)
            .field("traces_sampler", &self.traces_sampler.is_some())
            .field("max_spans", &self.max_spans)
            .field("trace_propagation_targets", &self.trace_propagation_targets)
            .field("auto_session_tracking", &self.auto_session_tracking)
            .field("session_mode", &self.session_mode)
            .field("max_breadcrumbs", &self.max_breadcrumbs)
            .field("attach_stacktrace", &self.attach_stacktrace)
            .field("send_default_pii", &self.send_default_pii)
            .field("before_send", &self.before_send.is_some())
            .field(
                "before_send_transaction",
                &self.before_send_transaction.is_some(),
            )
            .field("before_breadcrumb", &self.before_breadcrumb.is_some())
            .field("enable_logs", &self.enable_logs)
            .field("before_send_log", &self.before_send_log.is_some())
            .field("enable_metrics", &self.enable_metrics)
            .field("before_send_metric", &self.before_send_metric.is_some())
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("debug", &self.debug)
            .field("max_queue_size", &self.max_queue_size)
            .field(
                "http_proxy",
                &self.http_proxy.as_deref().map(redact_userinfo),
            )
            .field(
                "https_proxy",
                &self.https_proxy.as_deref().map(redact_userinfo),
            )
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("ca_certs", &self.ca_certs)
            .field("user_agent", &self.user_agent)
            .field("transport", &self.transport.is_some())
            .field("default_integrations", &self.default_integrations)
            .field(
                "integrations",
                &self
                    .integrations
                    .iter()
                    .map(|i| i.name())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// `url` (a proxy's) with its user name and password replaced by `***`, so
/// that debug output shows where requests go but not the credentials.
/// Everything up to the last `@` is taken as credentials: a password may
/// hold an unescaped `/`, `?` or `#`, and a proxy URL has no path worth
/// showing.
fn redact_userinfo(url: &str) -> Cow<'_, str> {
    let (prefix, after) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    match after.rsplit_once('@') {
        Some((_, rest)) => Cow::Owned(format!("{prefix}***@{rest}")),
        None => Cow::Borrowed(url),
    }
}

/// `(scheme, authority without credentials, the rest)` of an absolute URL.
fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, after) = url.split_once("://")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    Some((scheme, authority, rest))
}

/// Whether `url` matches one trace propagation target (see
/// [`ClientOptions::propagates_to`]).
fn target_matches(target: &str, url: &str) -> bool {
    let Some((scheme, authority, rest)) = split_url(url) else {
        return false;
    };
    if let Some((t_scheme, t_authority, t_rest)) = split_url(target) {
        // A URL prefix: the same scheme and the same authority (a plain
        // prefix would match `https://api.example.com.evil.example` or
        // `https://api.example.com@evil.example`), then a path prefix.
        return scheme.eq_ignore_ascii_case(t_scheme)
            && authority.eq_ignore_ascii_case(t_authority)
            && rest.starts_with(t_rest);
    }
    if authority.eq_ignore_ascii_case(target) {
        return true;
    }
    let host = match authority.rfind([':', ']']) {
        Some(i) if authority.as_bytes()[i] == b':' => &authority[..i],
        _ => authority,
    };
    let n = target.len();
    host.eq_ignore_ascii_case(target)
        || (host.len() > n
            && host.as_bytes()[host.len() - n - 1] == b'.'
            && host[host.len() - n..].eq_ignore_ascii_case(target))
}

/// The largest breadcrumb buffer allowed.
pub const MAX_BREADCRUMBS_LIMIT: usize = 1000;

impl ClientOptions {
    /// Whether tracing is on: a `traces_sample_rate` above 0 or a
    /// `traces_sampler` (the Python SDK's `has_tracing_enabled`). When it is
    /// off, no transaction is sampled, even one continuing a trace whose
    /// caller sampled it: a service that never enabled tracing sends none.
    /// Its outgoing requests still carry the trace (its id, and the
    /// caller's decision and sampling context when it continues one, but
    /// no decision of its own), so a service downstream that traces decides
    /// for itself instead of dropping its transactions.
    ///
    /// To take part only in traces that a caller sampled, use a
    /// `traces_sampler` that returns the caller's decision
    /// (`ctx.parent_sampled`).
    ///
    /// ```
    /// use sentry_core::ClientOptions;
    /// assert!(!ClientOptions::default().tracing_enabled());
    /// assert!(ClientOptions { traces_sample_rate: 0.1, ..Default::default() }.tracing_enabled());
    /// ```
    pub fn tracing_enabled(&self) -> bool {
        self.traces_sampler.is_some() || self.traces_sample_rate > 0.0
    }

    /// Whether a request to `url` gets the trace headers, by
    /// [`ClientOptions::trace_propagation_targets`]: every URL without a
    /// list, else a URL matching one of its targets. A target with `://` is
    /// a URL prefix (`https://api.example.com/v2/`): the same scheme and
    /// host (and port, credentials aside), then the path's start; any other
    /// is a host,
    /// matching that host and its subdomains (`api.internal`), or a
    /// `host:port` (`127.0.0.1:3001`). Hosts compare without regard to case.
    /// Unlike the JavaScript SDK's plain substrings, a target never matches
    /// in a query string or inside another host name.
    ///
    /// ```
    /// use sentry_core::ClientOptions;
    /// let all = ClientOptions::default();
    /// assert!(all.propagates_to("https://payments.example.com/charge"));
    /// let ours = ClientOptions {
    ///     trace_propagation_targets: Some(vec![
    ///         "api.internal".into(),
    ///         "127.0.0.1:3001".into(),
    ///         "https://partner.example/v2/".into(),
    ///     ]),
    ///     ..Default::default()
    /// };
    /// assert!(ours.propagates_to("http://api.internal/users"));
    /// assert!(ours.propagates_to("http://EU.api.internal:8080/users"));
    /// assert!(ours.propagates_to("http://127.0.0.1:3001/"));
    /// assert!(ours.propagates_to("https://partner.example/v2/orders"));
    /// assert!(!ours.propagates_to("http://127.0.0.1:3002/"));
    /// assert!(!ours.propagates_to("https://api.internal.evil.example/"));
    /// assert!(!ours.propagates_to("https://pay.example/?next=api.internal"));
    /// assert!(!ours.propagates_to("https://partner.example/v1/orders"));
    /// ```
    pub fn propagates_to(&self, url: &str) -> bool {
        match &self.trace_propagation_targets {
            None => true,
            Some(targets) => targets.iter().any(|t| target_matches(t, url)),
        }
    }

    /// Options with a DSN, parsed from a string.
    ///
    /// ```
    /// let o = sentry_core::ClientOptions::with_dsn("http://0123456789abcdef0123456789abcdef@127.0.0.1:8000/1").unwrap();
    /// assert_eq!(o.dsn.unwrap().project_id(), "1");
    /// ```
    pub fn with_dsn(dsn: &str) -> Result<Self, OptionsError> {
        let dsn = dsn.parse().map_err(|source| OptionsError::InvalidDsn {
            origin: "options",
            source,
        })?;
        Ok(ClientOptions {
            dsn: Some(dsn),
            ..Default::default()
        })
    }

    /// Fills unset DSN, release and environment from `SENTRY_DSN`,
    /// `SENTRY_RELEASE` and `SENTRY_ENVIRONMENT`. An invalid `SENTRY_DSN` is an
    /// error, not silently ignored.
    pub fn apply_env(&mut self) -> Result<(), OptionsError> {
        self.apply_env_from(|k| std::env::var(k).ok())
    }

    /// [`ClientOptions::apply_env`] with a custom variable source (for tests).
    pub fn apply_env_from(
        &mut self,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<(), OptionsError> {
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        if self.dsn.is_none() {
            if let Some(raw) = non_empty("SENTRY_DSN") {
                let dsn = raw.parse().map_err(|source| OptionsError::InvalidDsn {
                    origin: "SENTRY_DSN",
                    source,
                })?;
                self.dsn = Some(dsn);
            }
        }
        if self.release.is_none() {
            self.release = non_empty("SENTRY_RELEASE").map(Cow::Owned);
        }
        if self.environment.is_none() {
            self.environment = non_empty("SENTRY_ENVIRONMENT").map(Cow::Owned);
        }
        Ok(())
    }

    /// Checks every value; the first problem found is returned.
    pub fn validate(&self) -> Result<(), OptionsError> {
        for (name, value) in [
            ("sample_rate", self.sample_rate),
            ("traces_sample_rate", self.traces_sample_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(OptionsError::InvalidRate {
                    name,
                    value: f64::from(value),
                });
            }
        }
        if self.max_breadcrumbs > MAX_BREADCRUMBS_LIMIT {
            return Err(OptionsError::OutOfRange {
                name: "max_breadcrumbs",
                value: self.max_breadcrumbs,
                min: 0,
                max: MAX_BREADCRUMBS_LIMIT,
            });
        }
        if self.max_queue_size == 0 || self.max_queue_size > 1_000_000 {
            return Err(OptionsError::OutOfRange {
                name: "max_queue_size",
                value: self.max_queue_size,
                min: 1,
                max: 1_000_000,
            });
        }
        if let Some(r) = &self.release {
            check_name("release", r, &["", ".", "..", "latest"])?;
        }
        if let Some(e) = &self.environment {
            check_name("environment", e, &["", ".", "..", "none"])?;
            if e.len() > 64 {
                return Err(OptionsError::InvalidName {
                    name: "environment",
                    value: e.to_string(),
                    reason: "longer than 64 characters",
                });
            }
        }
        if let Some(d) = &self.dist {
            if d.is_empty()
                || !d
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            {
                return Err(OptionsError::InvalidName {
                    name: "dist",
                    value: d.to_string(),
                    reason: "only letters, digits, '_', '.' and '-' are allowed",
                });
            }
        }
        Ok(())
    }
}

fn check_name(name: &'static str, value: &str, reserved: &[&str]) -> Result<(), OptionsError> {
    let invalid = |reason| OptionsError::InvalidName {
        name,
        value: value.to_owned(),
        reason,
    };
    if value.trim() != value {
        return Err(invalid("has leading or trailing white space"));
    }
    if reserved.contains(&value) {
        return Err(invalid("is empty or a reserved name"));
    }
    if value.len() > 200 {
        return Err(invalid("longer than 200 characters"));
    }
    if value.contains(['/', '\r', '\n', '\t', '\x0c']) {
        return Err(invalid("contains '/' or a control character"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::target_matches;

    #[test]
    fn a_url_prefix_target_never_matches_another_host() {
        let t = "https://api.example.com";
        assert!(target_matches(t, "https://api.example.com"));
        assert!(target_matches(t, "https://api.example.com/v1/x?y=1"));
        assert!(target_matches(t, "https://API.example.com/"));
        assert!(target_matches(t, "https://user:pw@api.example.com/"));
        assert!(!target_matches(t, "https://api.example.com.evil.net/hook"));
        assert!(!target_matches(t, "https://api.example.com@evil.net/hook"));
        assert!(!target_matches(t, "https://api.example.com:8443/"));
        assert!(!target_matches(t, "http://api.example.com/"));
        let t = "https://partner.example/v2/";
        assert!(target_matches(t, "https://partner.example/v2/orders"));
        assert!(!target_matches(t, "https://partner.example/v3/orders"));
        assert!(!target_matches(t, "https://partner.example/?x=/v2/"));
        assert!(!target_matches(t, "not a url"));
    }

    use super::*;

    #[test]
    fn proxy_credentials_are_redacted_and_nothing_else_is() {
        let cases = [
            ("http://me:pw@proxy:3128", "http://***@proxy:3128"),
            ("http://me@proxy:3128/", "http://***@proxy:3128/"),
            ("me:p@ss@proxy:3128", "***@proxy:3128"),
            ("https://proxy.internal:3128", "https://proxy.internal:3128"),
            ("http://me:pa/secret@proxy:3128", "http://***@proxy:3128"),
            ("http://me:pa#secret@proxy:3128", "http://***@proxy:3128"),
            ("http://me:pa?s@proxy:3128", "http://***@proxy:3128"),
            ("", ""),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_userinfo(url), shown, "{url}");
        }
    }

    #[test]
    fn env_fills_only_unset_values() {
        let mut o = ClientOptions {
            release: Some("code@1".into()),
            ..Default::default()
        };
        o.apply_env_from(|k| match k {
            "SENTRY_DSN" => Some("https://abc@example.invalid/7".into()),
            "SENTRY_RELEASE" => Some("env@2".into()),
            "SENTRY_ENVIRONMENT" => Some("staging".into()),
            _ => None,
        })
        .expect("valid env");
        assert_eq!(o.dsn.expect("dsn").project_id(), "7");
        assert_eq!(o.release.as_deref(), Some("code@1"));
        assert_eq!(o.environment.as_deref(), Some("staging"));
    }

    #[test]
    fn invalid_env_dsn_is_reported() {
        let mut o = ClientOptions::default();
        let err = o
            .apply_env_from(|k| (k == "SENTRY_DSN").then(|| "ftp://x@y/1".to_owned()))
            .expect_err("must fail");
        assert!(matches!(
            err,
            OptionsError::InvalidDsn {
                origin: "SENTRY_DSN",
                ..
            }
        ));
    }

    #[test]
    fn invalid_values_are_reported() {
        let bad = [
            ClientOptions {
                sample_rate: 1.5,
                ..Default::default()
            },
            ClientOptions {
                traces_sample_rate: f32::NAN,
                ..Default::default()
            },
            ClientOptions {
                max_breadcrumbs: 5000,
                ..Default::default()
            },
            ClientOptions {
                max_queue_size: 0,
                ..Default::default()
            },
            ClientOptions {
                release: Some("a/b".into()),
                ..Default::default()
            },
            ClientOptions {
                release: Some("latest".into()),
                ..Default::default()
            },
            ClientOptions {
                environment: Some("none".into()),
                ..Default::default()
            },
            ClientOptions {
                dist: Some("a b".into()),
                ..Default::default()
            },
        ];
        for o in bad {
            assert!(o.validate().is_err(), "{o:?} should be invalid");
        }
        assert!(ClientOptions::default().validate().is_ok());
    }
}
