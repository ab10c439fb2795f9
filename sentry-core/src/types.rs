//! The official `sentry-types` crate's items under the path code written
//! for the official crate imports them by (`sentry::types::Dsn`,
//! `sentry::types::random_uuid()`).
//!
//! ```
//! use sentry_core::types::{random_uuid, Dsn, Scheme};
//!
//! let dsn: Dsn = "https://public@o1.example/7".parse().unwrap();
//! assert_eq!((dsn.scheme(), dsn.project_id()), (Scheme::Https, "7"));
//! assert_ne!(random_uuid(), random_uuid());
//! ```

pub use crate::dsn::{Dsn, DsnError, Scheme};
pub use crate::protocol;
pub use uuid::Uuid;

/// A new random (version 4) UUID, as event ids are made.
pub fn random_uuid() -> Uuid {
    Uuid::new_v4()
}
