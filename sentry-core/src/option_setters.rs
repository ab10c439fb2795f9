//! Builder-style setters for [`ClientOptions`], as the official `sentry`
//! crate has them since 0.48.4 (and requires since 0.49, whose options can
//! no longer be built with struct-literal syntax): code written for it
//! ports unchanged. Struct-literal syntax keeps working here.
//!
//! ```
//! use sentry_core::ClientOptions;
//!
//! let options = ClientOptions::new()
//!     .dsn("https://0123456789abcdef0123456789abcdef@127.0.0.1:8000/1")
//!     .release("my-app@1.0.0")
//!     .environment("staging")
//!     .traces_sample_rate(0.2)
//!     .before_send(|event| (event.level != sentry_core::protocol::Level::Debug).then_some(event));
//! assert_eq!(options.release.as_deref(), Some("my-app@1.0.0"));
//! assert!(options.dsn.is_some() && options.before_send.is_some());
//! ```

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::dsn::Dsn;
use crate::integration::Integration;
use crate::performance::SamplingContext;
use crate::protocol::{Breadcrumb, Event, Log, Metric, Transaction};
use crate::session::SessionMode;
use crate::transport::TransportFactory;
use crate::ClientOptions;

/// What [`ClientOptions::dsn`] takes: a DSN, its text, or none.
pub trait IntoDsn {
    /// The DSN, `None` for none; an error says why the text is not one.
    fn into_dsn(self) -> Result<Option<Dsn>, crate::dsn::DsnError>;
}

impl IntoDsn for Dsn {
    fn into_dsn(self) -> Result<Option<Dsn>, crate::dsn::DsnError> {
        Ok(Some(self))
    }
}

impl IntoDsn for Option<Dsn> {
    fn into_dsn(self) -> Result<Option<Dsn>, crate::dsn::DsnError> {
        Ok(self)
    }
}

impl IntoDsn for &str {
    /// An empty string is no DSN (the SDK stays disabled), as in the
    /// official SDKs.
    fn into_dsn(self) -> Result<Option<Dsn>, crate::dsn::DsnError> {
        match self.trim() {
            "" => Ok(None),
            text => text.parse().map(Some),
        }
    }
}

impl IntoDsn for String {
    fn into_dsn(self) -> Result<Option<Dsn>, crate::dsn::DsnError> {
        self.as_str().into_dsn()
    }
}

impl IntoDsn for &String {
    fn into_dsn(self) -> Result<Option<Dsn>, crate::dsn::DsnError> {
        self.as_str().into_dsn()
    }
}

/// Setters of plain fields: `name(value)` sets `field`.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(mut self, value: $ty) -> Self {
                self.$name = value;
                self
            }
        )*
    };
}

/// Setters of optional text fields: `name(text)` sets `Some(text)`.
macro_rules! text_setters {
    ($($(#[$doc:meta])* $name:ident;)*) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(mut self, value: impl Into<Cow<'static, str>>) -> Self {
                self.$name = Some(value.into());
                self
            }
        )*
    };
}

/// Setters of callbacks: `name(f)` sets `Some(Arc::new(f))`.
macro_rules! callback_setters {
    ($($(#[$doc:meta])* $name:ident: $item:ty;)*) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(
                mut self,
                callback: impl Fn($item) -> Option<$item> + Send + Sync + 'static,
            ) -> Self {
                self.$name = Some(Arc::new(callback));
                self
            }
        )*
    };
}

/// A DSN as options, as the official crate converts them
/// (`Client::from_config("https://key@host/1")`); text that is not a DSN
/// leaves the client disabled and says so on stderr (see
/// [`ClientOptions::dsn`]).
impl<T: IntoDsn> From<T> for ClientOptions {
    fn from(dsn: T) -> Self {
        ClientOptions::new().dsn(dsn)
    }
}

/// A DSN and the other options (`Client::from_config((dsn, options))`).
///
/// ```
/// use sentry_core::{Client, ClientOptions};
/// let client = Client::from_config(("https://public@o1.example/7", ClientOptions::new().release("app@1")));
/// assert_eq!(client.options().dsn.as_ref().map(|d| d.project_id()), Some("7"));
/// assert!(Client::from_config(()).options().dsn.is_none());
/// ```
impl<T: IntoDsn> From<(T, ClientOptions)> for ClientOptions {
    fn from((dsn, options): (T, ClientOptions)) -> Self {
        options.dsn(dsn)
    }
}

/// No options: every default (`Client::from_config(())`).
impl From<()> for ClientOptions {
    fn from(_: ()) -> Self {
        ClientOptions::default()
    }
}

impl ClientOptions {
    /// Options with every default, to be set by the methods below.
    ///
    /// ```
    /// let options = sentry_core::ClientOptions::new().debug(true);
    /// assert!(options.debug);
    /// ```
    pub fn new() -> ClientOptions {
        ClientOptions::default()
    }

    /// Where to send events: a [`Dsn`], its text or `None`. Text that is no
    /// DSN leaves the SDK without one (disabled) and says so on stderr:
    /// a builder cannot fail halfway; [`ClientOptions::with_dsn`] returns
    /// the error instead.
    ///
    /// ```
    /// let options = sentry_core::ClientOptions::new().dsn("http://public@127.0.0.1:9/1");
    /// assert_eq!(options.dsn.map(|d| d.project_id().to_string()).as_deref(), Some("1"));
    /// assert!(sentry_core::ClientOptions::new().dsn("").dsn.is_none());
    /// ```
    #[must_use]
    pub fn dsn(mut self, dsn: impl IntoDsn) -> Self {
        self.dsn = match dsn.into_dsn() {
            Ok(dsn) => dsn,
            Err(e) => {
                eprintln!("[sentry] the DSN given to ClientOptions::dsn is invalid ({e}): nothing will be sent");
                None
            }
        };
        self
    }

    /// Sets the release when `release` is `Some`, as
    /// `.maybe_release(sentry_core::release_name!())` does (the official
    /// crate's setter).
    ///
    /// ```
    /// let options = sentry_core::ClientOptions::new().maybe_release(sentry_core::release_name!());
    /// assert!(options.release.unwrap().starts_with("sentry-core@"));
    /// ```
    pub fn maybe_release(mut self, release: Option<Cow<'static, str>>) -> Self {
        if release.is_some() {
            self.release = release;
        }
        self
    }

    text_setters! {
        /// The release, e.g. `my-app@1.0.0`.
        release;
        /// The environment (default [`DEFAULT_ENVIRONMENT`](crate::DEFAULT_ENVIRONMENT)).
        environment;
        /// The distribution of the release.
        dist;
        /// The host name reported on events.
        server_name;
        /// The proxy for an `http://` DSN (see the field).
        http_proxy;
        /// The proxy for an `https://` DSN (see the field).
        https_proxy;
    }

    setters! {
        /// Print SDK diagnostics to stderr.
        debug: bool;
        /// Fraction of error events sent, 0.0..=1.0.
        sample_rate: f32;
        /// Fraction of transactions sent, 0.0..=1.0.
        traces_sample_rate: f32;
        /// Child spans kept per transaction.
        max_spans: usize;
        /// Breadcrumbs kept on the scope.
        max_breadcrumbs: usize;
        /// Attach a stack trace to messages.
        attach_stacktrace: bool;
        /// Send personal data (IP addresses, cookies, user names).
        send_default_pii: bool;
        /// Start a session at `init` (needs a release).
        auto_session_tracking: bool;
        /// Let `sentry_integrations::init` add its default integrations.
        default_integrations: bool;
        /// One session per run, or per request.
        session_mode: SessionMode;
        /// Send structured logs.
        enable_logs: bool;
        /// Send metric samples.
        enable_metrics: bool;
        /// How long the guard's drop waits for queued events.
        shutdown_timeout: Duration;
        /// Envelopes the transport may queue.
        max_queue_size: usize;
        /// Accept a receiver's certificate that does not verify.
        accept_invalid_certs: bool;
    }

    callback_setters! {
        /// Change or drop an event before it is sent.
        before_send: Event;
        /// Change or drop a transaction before it is sent.
        before_send_transaction: Transaction;
        /// Change or drop a breadcrumb before it is recorded.
        before_breadcrumb: Breadcrumb;
        /// Change or drop a log line before it is batched.
        before_send_log: Log;
        /// Change or drop a metric sample before it is batched.
        before_send_metric: Metric;
    }

    /// Decides each transaction's sample rate from its context.
    ///
    /// ```
    /// let options = sentry_core::ClientOptions::new()
    ///     .traces_sampler(|ctx| if ctx.transaction_context.name() == "health" { 0.0 } else { 1.0 });
    /// assert!(options.traces_sampler.is_some());
    /// ```
    #[must_use]
    pub fn traces_sampler(
        mut self,
        sampler: impl Fn(&SamplingContext<'_>) -> f32 + Send + Sync + 'static,
    ) -> Self {
        self.traces_sampler = Some(Arc::new(sampler));
        self
    }

    /// Which outgoing requests carry the trace headers (hosts, `host:port`
    /// or URL prefixes).
    #[must_use]
    pub fn trace_propagation_targets<S: Into<Cow<'static, str>>>(
        mut self,
        targets: impl IntoIterator<Item = S>,
    ) -> Self {
        self.trace_propagation_targets = Some(targets.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a module prefix whose frames are the application's.
    #[must_use]
    pub fn add_in_app_include(mut self, prefix: impl Into<Cow<'static, str>>) -> Self {
        self.in_app_include.push(prefix.into());
        self
    }

    /// Adds a module prefix whose frames are not the application's.
    #[must_use]
    pub fn add_in_app_exclude(mut self, prefix: impl Into<Cow<'static, str>>) -> Self {
        self.in_app_exclude.push(prefix.into());
        self
    }

    /// What the HTTP transport says it is (`User-Agent`, `sentry_client`).
    #[must_use]
    pub fn user_agent(mut self, agent: impl Into<Cow<'static, str>>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// A PEM file of certificates the HTTP transport trusts besides the
    /// built-in roots.
    #[must_use]
    pub fn ca_certs(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_certs = Some(path.into());
        self
    }

    /// Creates the transport.
    #[must_use]
    pub fn transport(mut self, factory: impl TransportFactory + 'static) -> Self {
        self.transport = Some(Arc::new(factory));
        self
    }

    /// Adds an integration.
    #[must_use]
    pub fn add_integration(mut self, integration: impl Integration + 'static) -> Self {
        self.integrations.push(Arc::new(integration));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The setters and struct-literal syntax build the same options.
    #[test]
    fn setters_build_what_a_struct_literal_does() {
        let dsn = "https://0123456789abcdef0123456789abcdef@127.0.0.1:8000/1";
        let built = ClientOptions::new()
            .dsn(dsn)
            .release("app@2")
            .environment("staging")
            .dist("7")
            .server_name("web-1")
            .sample_rate(0.5)
            .traces_sample_rate(0.25)
            .max_breadcrumbs(20)
            .attach_stacktrace(true)
            .send_default_pii(true)
            .enable_logs(true)
            .shutdown_timeout(Duration::from_secs(5))
            .https_proxy("http://proxy:3128")
            .trace_propagation_targets(["api.example.com"])
            .add_in_app_include("my_app")
            .default_integrations(false)
            .before_breadcrumb(Some);
        let literal = ClientOptions {
            dsn: dsn.parse().ok(),
            release: Some("app@2".into()),
            environment: Some("staging".into()),
            dist: Some("7".into()),
            server_name: Some("web-1".into()),
            sample_rate: 0.5,
            traces_sample_rate: 0.25,
            max_breadcrumbs: 20,
            attach_stacktrace: true,
            send_default_pii: true,
            enable_logs: true,
            shutdown_timeout: Duration::from_secs(5),
            https_proxy: Some("http://proxy:3128".into()),
            trace_propagation_targets: Some(vec!["api.example.com".into()]),
            in_app_include: vec!["my_app".into()],
            default_integrations: false,
            before_breadcrumb: Some(Arc::new(Some)),
            ..Default::default()
        };
        assert_eq!(format!("{built:?}"), format!("{literal:?}"));
        assert!(built.validate().is_ok());
    }

    #[test]
    fn a_dsn_that_does_not_parse_leaves_none() {
        assert!(ClientOptions::new().dsn("not a dsn").dsn.is_none());
        let dsn: Dsn = "http://public@127.0.0.1:9/1".parse().expect("dsn");
        assert_eq!(ClientOptions::new().dsn(dsn.clone()).dsn, Some(dsn));
        assert!(ClientOptions::new().dsn(None).dsn.is_none());
    }
}
