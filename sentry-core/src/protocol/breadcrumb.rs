//! Breadcrumbs: the trail of things that happened before an event.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::lenient::{self, Map};
use super::level::Level;
use super::opt_map::OptMap;
use super::timestamp::Timestamp;

/// One breadcrumb.
///
/// ```
/// use sentry_core::protocol::{Breadcrumb, Level};
/// let b = Breadcrumb { category: Some("auth".into()), message: Some("login".into()), ..Default::default() };
/// assert_eq!(b.level, Level::Info);
/// assert_eq!(b.ty, "default");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breadcrumb {
    /// When it happened. Deserialised without one, a breadcrumb gets the
    /// Unix epoch (not the time of parsing), so that parsing the same bytes
    /// twice gives the same breadcrumb; a receiver replaces it.
    #[serde(default = "undated")]
    pub timestamp: Timestamp,
    /// `default`, `http`, `navigation`, `query`, … (legacy key `ty` accepted).
    #[serde(rename = "type", alias = "ty", default = "default_type")]
    pub ty: Cow<'static, str>,
    /// Dotted category, e.g. `ui.click`. A `&'static str` is kept without
    /// allocating.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_cow"
    )]
    pub category: Option<Cow<'static, str>>,
    /// Severity (default info).
    #[serde(default, deserialize_with = "lenient::null_default")]
    pub level: Level,
    /// Human readable message. A `&'static str` is kept without allocating;
    /// a `String` (from `format!`) is moved in.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_cow"
    )]
    pub message: Option<Cow<'static, str>>,
    /// Structured data (an [`OptMap`]: nothing allocated or dropped while
    /// empty).
    #[serde(
        default,
        skip_serializing_if = "opt_map_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub data: OptMap<Map>,
    /// Everything else the SDK sent (an [`OptMap`]).
    #[serde(flatten)]
    pub other: OptMap<Map>,
}

fn opt_map_empty(m: &OptMap<Map>) -> bool {
    m.is_empty()
}

/// A lenient optional string (see [`lenient::opt_string`]) as an owned `Cow`.
fn opt_cow<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'static, str>>, D::Error> {
    Ok(lenient::opt_string(d)?.map(Cow::Owned))
}

fn undated() -> Timestamp {
    Timestamp::from_secs_f64(0.0)
}

fn default_type() -> Cow<'static, str> {
    Cow::Borrowed("default")
}

impl Default for Breadcrumb {
    #[inline]
    fn default() -> Self {
        Breadcrumb {
            timestamp: Timestamp::now(),
            ty: default_type(),
            category: None,
            level: Level::Info,
            message: None,
            data: OptMap::new(),
            other: OptMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Breadcrumbs are moved on every `add_breadcrumb`; up to 128 bytes
    /// the compiler moves them inline instead of calling `memcpy`.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_breadcrumb_moves_without_memcpy() {
        assert!(std::mem::size_of::<Breadcrumb>() <= 128);
    }
}
