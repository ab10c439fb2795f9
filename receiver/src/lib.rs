//! The receiver: accepts envelopes from any Sentry SDK, groups errors into
//! issues and stores them in SQLite.

pub mod grouping;
