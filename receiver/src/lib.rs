//! The receiver: accepts envelopes from any Sentry SDK, groups errors into
//! issues and stores them in SQLite.
//!
//! Modules, in the order a request meets them:
//!
//! * [`server`] — hyper on tokio: routing, CORS, connection limits and
//!   timeouts, streamed body reading.
//! * [`ingest`] — authentication, decoding, limits, envelope framing,
//!   normalisation, grouping.
//! * [`grouping`] — issue fingerprints.
//! * [`ids`] — event, trace and span ids normalised the one way ingestion
//!   and the API both use.
//! * [`store`] — SQLite (WAL) with one writer thread and pooled readers.
//! * [`api`] — the JSON API under `/api/0/` (bearer tokens).
//! * [`web`] — the web page under `/ui/` (a client of the API).
//! * [`cli`] and [`config`] — the `receiver` binary's commands and options.
//! * [`testing`] — an embeddable [`testing::TestServer`] for tests.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = receiver::testing::TestServer::start();
//! println!("send events to {}", server.dsn());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod api;
pub mod cli;
pub mod config;
pub mod connection_slots;
// Grouping has its own owner; its lints are its own.
#[allow(missing_docs)]
pub mod grouping;
pub mod ids;
pub mod ingest;
pub mod server;
pub mod store;
pub mod testing;
pub mod web;

pub use testing::TestServer;
