//! Batteries for the Sentry-compatible SDK: panics, stack traces, contexts,
//! `log` and `tracing` bridges, `anyhow` errors, and a one-line [`init`].
//!
//! # One line
//!
//! ```no_run
//! let _guard = sentry_integrations::init("https://public@o1.ingest.example.com/42");
//! // From here on panics are reported as fatal events with stack traces,
//! // every event carries OS, Rust, device and app contexts, and
//! // `sentry_core::capture_*` calls are sent over HTTP.
//! ```
//!
//! [`init`] installs the default integrations, each of which can be turned
//! off through [`InitOptions`]:
//!
//! | integration | feature | what it does |
//! |---|---|---|
//! | [`panic::PanicIntegration`] | `panic` | a panic hook (chaining the previous one) that reports panics as fatal events and flushes before returning (not for panics that a `tokio` runtime or the HTTP server layer catches) |
//! | [`contexts::ContextsIntegration`] | `contexts` | `os`, `rust`, `device` and `app` contexts; `server_name` from the host name |
//! | [`backtrace::StacktraceIntegration`] | `backtrace` | in-app rules on every stack trace; source lines around in-app frames; `attach_stacktrace` for messages |
//!
//! and the HTTP transport of `sentry-transport` (feature `http-transport`).
//! These features are on by default. The bridges are opt-in features:
//!
//! | module | feature | what it does |
//! |---|---|---|
//! | `log` | `log` | a `log::Log` that turns records into breadcrumbs and events, in front of another logger |
//! | `tracing` | `tracing` | a `tracing-subscriber` layer: events → breadcrumbs/events, spans → Sentry spans |
//! | `anyhow` | `anyhow` | capture an `anyhow::Error` with its chain and backtrace |
//! | `http_server` | `tower` (+ `axum` for `MatchedPath` route names) | a `tower` layer for hyper/axum: a transaction and an isolated hub per request, trace continuation, request data, 5xx responses and panics as events, request-mode sessions |
//! | `http_client` | `reqwest` | `http.client` spans for `reqwest` requests, with `sentry-trace` and `baggage` propagated |
//!
//! # Code written for the official `sentry` crate
//!
//! Named `sentry` in Cargo.toml (`sentry = { package = "sentry-integrations", .. }`),
//! this crate answers to the official crate's paths: `sentry::init`,
//! `sentry::capture_message`, `sentry::Level`, `sentry::integrations::tracing::layer()`
//! and the rest. What differs is in docs/porting.md.
//!
//! ```
//! use sentry_integrations as sentry;
//!
//! let events = sentry::test::with_captured_events(|| {
//!     sentry::configure_scope(|scope| scope.set_tag("attempt", 2));
//!     sentry::capture_message("retrying", sentry::Level::Warning);
//! });
//! assert_eq!(events[0].tags["attempt"], "2");
//! ```
//!
//! # Stack traces
//!
//! Frames are ordered oldest first, with demangled function names (no hash
//! suffix), file, line, column, module and package; frames of the panic
//! machinery and of the SDK are trimmed from the top, and `in_app` follows
//! [`backtrace::InAppRules`] (standard library, `backtrace`, `tokio`,
//! `futures`, this SDK and registry crates are not in-app; configurable with
//! `in_app_include`/`in_app_exclude`). Line numbers need debug info: keep at
//! least `debug = "line-tables-only"` in release profiles you want readable
//! reports from. Such debug info names inlined functions without their
//! module path (`parse_port`); those frames are in-app when their source
//! file is the application's (not the registry's, the toolchain's or the
//! SDK's), and SDK frames among them are trimmed by their file.
//!
//! # In tests
//!
//! Every integration works with the in-memory capture of
//! [`sentry_core::test`]:
//!
//! ```
//! use std::sync::Arc;
//! use sentry_core::{test::with_captured_events_options, ClientOptions};
//!
//! let events = with_captured_events_options(|| {
//!     let _ = std::panic::catch_unwind(|| panic!("boom"));
//! }, ClientOptions { integrations: sentry_integrations::default_integrations(), ..Default::default() });
//! assert_eq!(events[0].title(), "panic: boom");
//! assert!(events[0].contexts.contains_key("os"));
//! ```

#![warn(missing_docs)]

#[cfg(feature = "anyhow")]
pub mod anyhow;
#[cfg(feature = "backtrace")]
pub mod backtrace;
#[cfg(feature = "contexts")]
pub mod contexts;
#[cfg(feature = "reqwest")]
pub mod http_client;
#[cfg(feature = "tower")]
pub mod http_server;
#[cfg(feature = "tower")]
mod hub_per_request;
mod init;
#[cfg(feature = "log")]
pub mod log;
#[cfg(feature = "panic")]
pub mod panic;
pub mod source_context;
#[cfg(feature = "tracing")]
pub mod tracing;

/// The integrations under the paths the official `sentry` crate gives them
/// (`sentry::integrations::tracing::layer()` ...), for code ported from it.
pub mod integrations {
    #[cfg(feature = "anyhow")]
    pub use crate::anyhow;
    #[cfg(feature = "backtrace")]
    pub use crate::backtrace;
    #[cfg(feature = "contexts")]
    pub use crate::contexts;
    #[cfg(feature = "reqwest")]
    pub use crate::http_client as reqwest;
    #[cfg(feature = "tower")]
    pub use crate::http_server as tower;
    #[cfg(feature = "log")]
    pub use crate::log;
    #[cfg(feature = "panic")]
    pub use crate::panic;
    #[cfg(feature = "tracing")]
    pub use crate::tracing;
}

// Everything of `sentry-core` at this crate's root, as the official `sentry`
// crate has it, so that code written for that crate compiles against this one
// renamed to `sentry` in Cargo.toml. This crate's own `init` and `try_init`
// (which install the HTTP transport) take the place of sentry-core's.
pub use sentry_core::*;

pub use init::{apply_defaults, default_integrations, InitOptions};
#[cfg(feature = "http-transport")]
pub use init::{init, try_init};

/// The crates of the SDK itself, as they appear in `log` and `tracing`
/// targets (module paths).
#[cfg(any(feature = "log", feature = "tracing"))]
const SDK_CRATES: &[&str] = &[
    "sentry",
    "sentry_core",
    "sentry_integrations",
    "sentry_transport",
];

/// A bridge's log line for a record: its fields (`attributes`) and then the
/// bridge's own attributes, which win: `sentry.origin`, `logger.name` (the
/// target) and where it was logged (`code.namespace`, `code.file.path`,
/// `code.line.number`).
#[cfg(any(feature = "log", feature = "tracing"))]
pub(crate) struct LogSite<'a> {
    pub(crate) origin: &'static str,
    pub(crate) target: &'a str,
    pub(crate) module: Option<&'a str>,
    pub(crate) file: Option<&'a str>,
    pub(crate) line: Option<u32>,
}

#[cfg(any(feature = "log", feature = "tracing"))]
impl LogSite<'_> {
    pub(crate) fn log_line(
        &self,
        level: sentry_core::protocol::LogLevel,
        body: String,
        attributes: sentry_core::protocol::Map,
    ) -> sentry_core::protocol::Log {
        let mut line = sentry_core::protocol::Log::new(level, body);
        for (key, value) in attributes {
            line = line.with_attribute(key, value);
        }
        line = line
            .with_attribute("sentry.origin", self.origin)
            .with_attribute("logger.name", self.target);
        if let Some(module) = self.module {
            line = line.with_attribute("code.namespace", module);
        }
        if let Some(file) = self.file {
            line = line.with_attribute("code.file.path", file);
        }
        if let Some(number) = self.line {
            line = line.with_attribute("code.line.number", number);
        }
        line
    }
}

/// Whether a `log` or `tracing` target is one of the SDK's own crates or a
/// module of one: `sentry_core` and `sentry_core::client` are, an
/// application crate whose name starts with "sentry" (`sentryflow::billing`,
/// `sentry_app`) is not.
#[cfg(any(feature = "log", feature = "tracing"))]
pub(crate) fn is_sdk_target(target: &str) -> bool {
    SDK_CRATES.iter().any(|krate| {
        target
            .strip_prefix(krate)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}
