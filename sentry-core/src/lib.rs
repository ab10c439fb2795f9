//! The core of a Sentry-compatible SDK: protocol types, envelopes, DSN, and
//! the Hub/Scope/Client model with its capture API.
//!
//! Work in progress.

pub mod dsn;
pub mod envelope;
pub mod protocol;
pub mod scrub;
