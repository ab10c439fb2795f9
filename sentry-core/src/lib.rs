//! The core of a Sentry-compatible SDK (being assembled).

pub mod dsn;
pub mod envelope;
pub mod protocol;
pub mod scrub;
