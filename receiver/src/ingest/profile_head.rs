//! What the profiles list shows of a `profile` item, read once when it
//! arrives: the transaction it profiles (name, trace, duration), platform,
//! release, environment and sample count. Stored beside the kept item
//! (`raw_items.summary`), it spares the list decompressing and parsing
//! every profile (up to 50 MiB each) to name it. The samples, stacks and
//! frames are skipped as serde skips what a type ignores, without
//! building them.
//!
//! ```
//! use receiver::ingest::profile_head::head_of;
//!
//! let payload = br#"{"platform": "python", "transactions": [{"id": "abc", "name": "task",
//!     "trace_id": "t", "relative_start_ns": "0", "relative_end_ns": "2500000"}],
//!     "profile": {"samples": [{}, {}, {}], "stacks": [], "frames": []}}"#;
//! let head = head_of(payload).expect("a profile");
//! assert_eq!(head.transaction.as_deref(), Some("task"));
//! assert_eq!((head.duration_ms, head.samples), (Some(2.5), 3));
//! assert_eq!(head.transaction_id.as_deref(), Some("abc"));
//! ```

use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The fields the list shows, as stored (JSON) in `raw_items.summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileHead {
    /// The profiled transaction's event id, as the profile names it.
    pub transaction_id: Option<String>,
    /// The profile's own event id.
    pub profile_id: Option<String>,
    /// The transaction's name.
    pub transaction: Option<String>,
    /// Its trace.
    pub trace_id: Option<String>,
    /// `python`, `node`, …
    pub platform: Option<String>,
    /// Release.
    pub release: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// How long the transaction ran, in milliseconds.
    pub duration_ms: Option<f64>,
    /// Samples of every thread.
    pub samples: usize,
}

/// The head of a sample-format profile; `None` when the payload is not a
/// JSON object.
pub fn head_of(payload: &[u8]) -> Option<ProfileHead> {
    // A list would fill the fields by position.
    if payload.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let wire: Wire = serde_json::from_slice(payload).ok()?;
    let tx = wire
        .transactions
        .as_ref()
        .and_then(|t| t.get(0))
        .or(wire.transaction.as_ref())
        .filter(|t| t.is_object());
    let text = |v: Option<&Value>| match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let ns = |v: Option<&Value>| match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let field = |k: &str| tx.and_then(|t| t.get(k));
    let duration_ms = match (ns(field("relative_start_ns")), ns(field("relative_end_ns"))) {
        (Some(start), Some(end)) if end >= start && (end - start).is_finite() => {
            Some(((end - start) / 1e3).round() / 1e3)
        }
        _ => None,
    };
    Some(ProfileHead {
        transaction_id: text(field("id")),
        profile_id: text(wire.event_id.as_ref()),
        transaction: text(field("name")),
        trace_id: text(field("trace_id")),
        platform: text(wire.platform.as_ref()),
        release: text(wire.release.as_ref()),
        environment: text(wire.environment.as_ref()),
        duration_ms,
        samples: wire.profile.map_or(0, |p| p.samples.0),
    })
}

/// The parts of a profile [`head_of`] reads; the rest is skipped. The
/// transactions are few and small: read as they come.
#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    event_id: Option<Value>,
    #[serde(default)]
    platform: Option<Value>,
    #[serde(default)]
    release: Option<Value>,
    #[serde(default)]
    environment: Option<Value>,
    #[serde(default)]
    transactions: Option<Value>,
    #[serde(default)]
    transaction: Option<Value>,
    #[serde(default)]
    profile: Option<WireProfile>,
}

#[derive(Deserialize)]
struct WireProfile {
    #[serde(default)]
    samples: Count,
}

/// How many entries a list has, read without keeping them.
#[derive(Default)]
struct Count(usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        struct Counter;
        impl<'de> Visitor<'de> for Counter {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Count(n))
            }
            // Anything else counts nothing (and is skipped whole).
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Count(0))
            }
            fn visit_unit<E>(self) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_str<E>(self, _: &str) -> Result<Count, E> {
                Ok(Count(0))
            }
        }
        d.deserialize_any(Counter)
    }
}
