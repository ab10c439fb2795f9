//! The one-line setup: options, default integrations and the HTTP transport.

use std::fmt;
use std::sync::Arc;

use sentry_core::dsn::Dsn;
use sentry_core::{ClientOptions, Integration, OptionsError};

/// What [`crate::init`] sets up: the client options plus which default
/// integrations to add.
///
/// Built from a DSN string, from [`ClientOptions`], or from both:
///
/// ```
/// use sentry_core::ClientOptions;
/// use sentry_integrations::InitOptions;
///
/// let a = InitOptions::from("https://public@o1.ingest.example.com/42");
/// let b = InitOptions::from(ClientOptions { release: Some("my-app@1.0.0".into()), ..Default::default() });
/// let c = InitOptions::from(("https://public@o1.ingest.example.com/42", ClientOptions {
///     environment: Some("staging".into()),
///     ..Default::default()
/// }))
/// .panic(false); // no panic hook
/// let options = c.into_client_options().unwrap();
/// let names: Vec<_> = options.integrations.iter().map(|i| i.name()).collect();
/// assert_eq!(names, ["contexts", "stacktrace"]);
/// ```
///
/// An empty DSN string means "no DSN here": `SENTRY_DSN` is used when set,
/// otherwise the SDK stays disabled. An invalid DSN string is reported by
/// [`crate::try_init`] (and printed by [`crate::init`]).
pub struct InitOptions {
    client: ClientOptions,
    dsn_error: Option<OptionsError>,
    panic: bool,
    contexts: bool,
    stacktrace: bool,
}

impl fmt::Debug for InitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitOptions")
            .field("client", &self.client)
            .field("dsn_error", &self.dsn_error)
            .field("panic", &self.panic)
            .field("contexts", &self.contexts)
            .field("stacktrace", &self.stacktrace)
            .finish()
    }
}

impl Default for InitOptions {
    /// Default client options (DSN, release and environment from
    /// `SENTRY_DSN`, `SENTRY_RELEASE`, `SENTRY_ENVIRONMENT`) and every
    /// default integration.
    fn default() -> Self {
        InitOptions::new(ClientOptions::default())
    }
}

impl InitOptions {
    /// From client options, with every default integration.
    pub fn new(client: ClientOptions) -> Self {
        InitOptions {
            client,
            dsn_error: None,
            panic: true,
            contexts: true,
            stacktrace: true,
        }
    }

    /// Whether to install the panic hook ([`crate::panic::PanicIntegration`];
    /// needs the `panic` feature). Default on.
    pub fn panic(mut self, on: bool) -> Self {
        self.panic = on;
        self
    }

    /// Whether to add the OS, Rust, device and app contexts and the default
    /// `server_name` ([`crate::contexts::ContextsIntegration`]; needs the
    /// `contexts` feature). Default on.
    pub fn contexts(mut self, on: bool) -> Self {
        self.contexts = on;
        self
    }

    /// Whether to process stack traces (in-app rules, `attach_stacktrace`;
    /// [`crate::backtrace::StacktraceIntegration`]; needs the `backtrace`
    /// feature). Default on.
    pub fn stacktrace(mut self, on: bool) -> Self {
        self.stacktrace = on;
        self
    }

    /// The client options, to change them in place.
    ///
    /// ```
    /// let mut o = sentry_integrations::InitOptions::from("https://public@example.com/1");
    /// o.client_options_mut().attach_stacktrace = true;
    /// ```
    pub fn client_options_mut(&mut self) -> &mut ClientOptions {
        &mut self.client
    }

    /// The client options with the chosen default integrations added in
    /// front of the configured ones (an integration of the same name already
    /// configured wins). Fails when the DSN string did not parse.
    pub fn into_client_options(self) -> Result<ClientOptions, OptionsError> {
        if let Some(e) = self.dsn_error {
            return Err(e);
        }
        let mut client = self.client;
        let mut defaults: Vec<Arc<dyn Integration>> = Vec::new();
        let all = client.default_integrations;
        let wanted = |name: &str, on: bool, list: &[Arc<dyn Integration>]| {
            all && on && !list.iter().any(|i| i.name() == name)
        };
        #[cfg(feature = "contexts")]
        if wanted("contexts", self.contexts, &client.integrations) {
            defaults.push(Arc::new(crate::contexts::ContextsIntegration::new()));
        }
        #[cfg(feature = "backtrace")]
        if wanted("stacktrace", self.stacktrace, &client.integrations) {
            defaults.push(Arc::new(crate::backtrace::StacktraceIntegration::new()));
        }
        #[cfg(feature = "panic")]
        if wanted("panic", self.panic, &client.integrations) {
            defaults.push(Arc::new(crate::panic::PanicIntegration::new()));
        }
        let _ = wanted;
        defaults.append(&mut client.integrations);
        client.integrations = defaults;
        Ok(client)
    }
}

/// Parses a DSN string; empty means none.
fn with_dsn(dsn: &str, client: ClientOptions) -> InitOptions {
    let mut options = InitOptions::new(client);
    let dsn = dsn.trim();
    if !dsn.is_empty() {
        match dsn.parse() {
            Ok(d) => options.client.dsn = Some(d),
            Err(source) => {
                options.dsn_error = Some(OptionsError::InvalidDsn {
                    origin: "options",
                    source,
                })
            }
        }
    }
    options
}

impl From<ClientOptions> for InitOptions {
    fn from(client: ClientOptions) -> Self {
        InitOptions::new(client)
    }
}

/// No options: the DSN, release and environment from the environment
/// (`sentry::init(())` in code written for the official crate).
impl From<()> for InitOptions {
    fn from(_: ()) -> Self {
        InitOptions::new(ClientOptions::default())
    }
}

impl From<&str> for InitOptions {
    fn from(dsn: &str) -> Self {
        with_dsn(dsn, ClientOptions::default())
    }
}

impl From<String> for InitOptions {
    fn from(dsn: String) -> Self {
        with_dsn(&dsn, ClientOptions::default())
    }
}

impl From<&String> for InitOptions {
    fn from(dsn: &String) -> Self {
        with_dsn(dsn, ClientOptions::default())
    }
}

impl From<(&str, ClientOptions)> for InitOptions {
    fn from((dsn, client): (&str, ClientOptions)) -> Self {
        with_dsn(dsn, client)
    }
}

impl From<(String, ClientOptions)> for InitOptions {
    fn from((dsn, client): (String, ClientOptions)) -> Self {
        with_dsn(&dsn, client)
    }
}

impl From<(&String, ClientOptions)> for InitOptions {
    fn from((dsn, client): (&String, ClientOptions)) -> Self {
        with_dsn(dsn, client)
    }
}

/// A parsed DSN, or none (then `SENTRY_DSN`, if set), alone or with the
/// other options, as the official crate's `init` takes them.
///
/// ```
/// use sentry_core::{dsn::Dsn, ClientOptions};
/// use sentry_integrations::InitOptions;
///
/// let dsn: Dsn = "https://public@o1.example/7".parse().unwrap();
/// let forms = [
///     InitOptions::from(dsn.clone()),
///     InitOptions::from(Some(dsn.clone())),
///     InitOptions::from((dsn.clone(), ClientOptions::default())),
///     InitOptions::from((Some(dsn.clone()), ClientOptions::default())),
///     InitOptions::from((&dsn.to_string(), ClientOptions::default())),
/// ];
/// for form in forms {
///     assert_eq!(form.into_client_options().unwrap().dsn.as_ref(), Some(&dsn));
/// }
/// ```
impl From<Dsn> for InitOptions {
    fn from(dsn: Dsn) -> Self {
        with_parsed(Some(dsn), ClientOptions::default())
    }
}

impl From<Option<Dsn>> for InitOptions {
    fn from(dsn: Option<Dsn>) -> Self {
        with_parsed(dsn, ClientOptions::default())
    }
}

impl From<(Dsn, ClientOptions)> for InitOptions {
    fn from((dsn, client): (Dsn, ClientOptions)) -> Self {
        with_parsed(Some(dsn), client)
    }
}

impl From<(Option<Dsn>, ClientOptions)> for InitOptions {
    fn from((dsn, client): (Option<Dsn>, ClientOptions)) -> Self {
        with_parsed(dsn, client)
    }
}

/// `client` with `dsn` when there is one (none keeps the options' own).
fn with_parsed(dsn: Option<Dsn>, mut client: ClientOptions) -> InitOptions {
    if dsn.is_some() {
        client.dsn = dsn;
    }
    InitOptions::new(client)
}

/// The default integrations [`crate::init`] adds (those whose cargo feature
/// is on): contexts, stack-trace processing and the panic hook.
///
/// ```
/// let names: Vec<_> = sentry_integrations::default_integrations().iter().map(|i| i.name()).collect();
/// assert_eq!(names, ["contexts", "stacktrace", "panic"]);
/// ```
pub fn default_integrations() -> Vec<Arc<dyn Integration>> {
    InitOptions::default()
        .into_client_options()
        .map(|o| o.integrations)
        .unwrap_or_default()
}

/// What [`init`] adds to `options`, for code that builds its client
/// itself (the official crate's `apply_defaults`): the default
/// integrations (unless `default_integrations` is off), the DSN, release
/// and environment from `SENTRY_DSN`, `SENTRY_RELEASE` and
/// `SENTRY_ENVIRONMENT` where unset (an invalid `SENTRY_DSN` is left out and
/// reported when the client is made), and the HTTP transport when there is
/// a DSN and no transport.
///
/// ```
/// use sentry_core::ClientOptions;
///
/// let options = sentry_integrations::apply_defaults(ClientOptions::new().release("app@1"));
/// assert_eq!(options.integrations.len(), 3);
/// let bare = sentry_integrations::apply_defaults(ClientOptions::new().default_integrations(false));
/// assert!(bare.integrations.is_empty());
/// ```
pub fn apply_defaults(options: ClientOptions) -> ClientOptions {
    // Cannot fail: only a DSN string given to `InitOptions` can be invalid.
    let mut options = InitOptions::new(options)
        .into_client_options()
        .unwrap_or_default();
    let _ = options.apply_env();
    #[cfg(feature = "http-transport")]
    add_http_transport(&mut options);
    options
}

/// The HTTP transport, when the options have a DSN and no transport of
/// their own: without a DSN there is nowhere to send, so there is no
/// transport and the client stays disabled (every capture a no-op).
#[cfg(feature = "http-transport")]
fn add_http_transport(options: &mut ClientOptions) {
    if options.transport.is_none() && options.dsn.is_some() {
        options.transport = Some(Arc::new(sentry_transport::HttpTransportFactory::default()));
    }
}

/// Like [`init`], but an invalid DSN or invalid options are returned as an
/// error instead of being printed.
///
/// ```
/// let Err(err) = sentry_integrations::try_init("not a dsn") else { panic!("must fail") };
/// assert!(err.to_string().starts_with("invalid DSN"));
/// ```
#[cfg(feature = "http-transport")]
pub fn try_init(
    options: impl Into<InitOptions>,
) -> Result<sentry_core::ClientInitGuard, OptionsError> {
    let mut client = options.into().into_client_options()?;
    client.apply_env()?;
    add_http_transport(&mut client);
    sentry_core::try_init(client)
}

/// Sets up the SDK in one line: the default integrations (panic hook,
/// contexts, stack traces; each can be turned off through [`InitOptions`])
/// and the HTTP transport of `sentry-transport` (unless the options bring
/// their own transport). Keep the returned guard alive for as long as the
/// program should report: dropping it flushes queued events and shuts the
/// transport down.
///
/// Accepts a DSN string, [`ClientOptions`], a `(dsn, ClientOptions)` pair or
/// [`InitOptions`]. Unset DSN, release and environment come from
/// `SENTRY_DSN`, `SENTRY_RELEASE` and `SENTRY_ENVIRONMENT`. Without any DSN
/// the SDK stays disabled and every call is a cheap no-op; an invalid DSN or
/// invalid options are printed to stderr and also leave it disabled (see
/// [`try_init`] to handle the error instead).
///
/// ```
/// // No DSN here and none in SENTRY_DSN: nothing is set up.
/// # std::env::remove_var("SENTRY_DSN");
/// let guard = sentry_integrations::init(sentry_core::ClientOptions::default());
/// assert!(!guard.is_enabled() && !sentry_core::is_enabled());
/// assert!(sentry_core::capture_message("lost", sentry_core::Level::Info).is_nil());
/// ```
///
/// ```no_run
/// let _guard = sentry_integrations::init("https://public@o1.ingest.example.com/42");
/// // Panics, `capture_*` calls and (with the bridges) logs are reported from here on.
/// sentry_core::capture_message("started", sentry_core::protocol::Level::Info);
/// ```
///
/// With options and without the panic hook:
///
/// ```no_run
/// use sentry_core::ClientOptions;
/// use sentry_integrations::InitOptions;
///
/// let _guard = sentry_integrations::init(
///     InitOptions::from(("https://public@o1.ingest.example.com/42", ClientOptions {
///         release: Some("my-app@1.2.0".into()),
///         attach_stacktrace: true,
///         in_app_include: vec!["my_company_common".into()],
///         ..Default::default()
///     }))
///     .panic(false),
/// );
/// ```
#[cfg(feature = "http-transport")]
pub fn init(options: impl Into<InitOptions>) -> sentry_core::ClientInitGuard {
    match try_init(options) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("[sentry] not enabled: {e}");
            // Nothing is installed: a client bound before (an earlier
            // `init`) stays, and without one every capture is a no-op.
            sentry_core::ClientInitGuard::disabled()
        }
    }
}
