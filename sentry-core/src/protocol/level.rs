//! Event and breadcrumb severity.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// How severe an event or breadcrumb is.
///
/// Accepts the aliases SDKs send (`critical`, `warn`, `log`, Python's numeric
/// logging levels) and always writes the canonical name.
///
/// ```
/// use sentry_core::protocol::Level;
/// assert_eq!("critical".parse::<Level>(), Ok(Level::Fatal));
/// assert_eq!(" WARN ".parse::<Level>(), Ok(Level::Warning));
/// assert_eq!("info".parse::<Level>(), Ok(Level::Info));
/// assert!("loud".parse::<Level>().is_err());
/// let l: Level = serde_json::from_str("30").unwrap();
/// assert_eq!(l, Level::Warning);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Level {
    /// Debug information.
    Debug,
    /// Informational.
    #[default]
    Info,
    /// A warning.
    Warning,
    /// An error.
    Error,
    /// A crash or similar.
    Fatal,
}

impl Level {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }

    fn from_number(n: i64) -> Option<Level> {
        Some(match n {
            ..=10 => Level::Debug,
            11..=20 => Level::Info,
            21..=30 => Level::Warning,
            31..=40 => Level::Error,
            _ => Level::Fatal,
        })
    }
}

/// Error for an unknown level name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown level {0:?} (expected debug, info, warning, error or fatal)")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Level, UnknownLevel> {
        // The canonical names, which is what SDKs send, without the
        // lower-cased copy (a level is read for every breadcrumb).
        if let Some(level) = [
            Level::Debug,
            Level::Info,
            Level::Warning,
            Level::Error,
            Level::Fatal,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
        {
            return Ok(level);
        }
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "debug" | "trace" => Level::Debug,
            "info" | "log" | "notice" => Level::Info,
            "warning" | "warn" => Level::Warning,
            "error" => Level::Error,
            "fatal" | "critical" => Level::Fatal,
            _ => return Err(UnknownLevel(s.to_owned())),
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Level;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a level name or a numeric logging level")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Level, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Level, E> {
                Level::from_number(v).ok_or_else(|| E::custom("bad level"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Level, E> {
                self.visit_i64(v.min(i64::MAX as u64) as i64)
            }
        }
        d.deserialize_any(V)
    }
}
