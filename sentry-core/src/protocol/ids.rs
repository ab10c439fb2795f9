//! Trace and span identifiers, and the event-id wire form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Error for an id that is not the right number of hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: expected {digits} hex digits, got {value:?}")]
pub struct InvalidId {
    kind: &'static str,
    digits: usize,
    value: String,
}

fn parse_hex<const N: usize>(s: &str, kind: &'static str) -> Result<[u8; N], InvalidId> {
    let err = || InvalidId {
        kind,
        digits: N * 2,
        value: s.to_owned(),
    };
    let mut out = [0u8; N];
    let mut nibbles = s.bytes().filter(|b| *b != b'-');
    for byte in out.iter_mut() {
        let hi = nibbles.next().and_then(hex_val).ok_or_else(err)?;
        let lo = nibbles.next().and_then(hex_val).ok_or_else(err)?;
        *byte = (hi << 4) | lo;
    }
    if nibbles.next().is_some() {
        return Err(err());
    }
    Ok(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn write_hex(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 32];
    for (i, b) in bytes.iter().enumerate() {
        buf[2 * i] = DIGITS[(b >> 4) as usize];
        buf[2 * i + 1] = DIGITS[(b & 15) as usize];
    }
    // Only ASCII hex digits were written.
    f.write_str(std::str::from_utf8(&buf[..bytes.len() * 2]).map_err(|_| fmt::Error)?)
}

macro_rules! hex_id {
    ($name:ident, $n:literal, $kind:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name([u8; $n]);

        impl $name {
            /// A new random id (never all zeroes).
            pub fn random() -> Self {
                let mut b = [0u8; $n];
                loop {
                    fastrand::fill(&mut b);
                    if b.iter().any(|x| *x != 0) {
                        return $name(b);
                    }
                }
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $n] {
                &self.0
            }

            /// From raw bytes.
            pub fn from_bytes(b: [u8; $n]) -> Self {
                $name(b)
            }

            /// Whether every byte is zero (an absent id on the wire).
            pub fn is_nil(&self) -> bool {
                self.0.iter().all(|x| *x == 0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                parse_hex::<$n>(s.trim(), $kind).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(", stringify!($name))?;
                write_hex(&self.0, f)?;
                f.write_str(")")
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<str>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_id!(
    TraceId,
    16,
    "trace id",
    "A 128-bit trace id, written as 32 lowercase hex digits (dashes accepted on input).\n\n```\nuse sentry_core::protocol::TraceId;\nlet id: TraceId = \"771a43a4-1926-42f0-b136-d5159a501700\".parse().unwrap();\nassert_eq!(id.to_string(), \"771a43a4192642f0b136d5159a501700\");\n```"
);
hex_id!(
    SpanId,
    8,
    "span id",
    "A 64-bit span id, written as 16 lowercase hex digits.\n\n```\nuse sentry_core::protocol::SpanId;\nlet id: SpanId = \"b0e6f15b45c36b12\".parse().unwrap();\nassert_eq!(id.to_string(), \"b0e6f15b45c36b12\");\n```"
);

/// Serde helpers writing a [`uuid::Uuid`] as 32 hex digits without dashes,
/// the form Sentry uses for event ids, while accepting any form on input.
pub mod uuid_simple {
    use serde::{Deserialize, Deserializer, Serializer};
    use uuid::Uuid;

    /// Writes `Uuid` as simple hex.
    pub fn serialize<S: Serializer>(u: &Uuid, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&u.simple())
    }

    /// Reads any textual `Uuid` form.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Uuid, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        Uuid::parse_str(s.trim()).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Uuid>`.
    pub mod option {
        use super::*;

        /// Writes `Some(uuid)` as simple hex (callers skip `None`).
        pub fn serialize<S: Serializer>(u: &Option<Uuid>, s: S) -> Result<S::Ok, S::Error> {
            match u {
                Some(u) => s.collect_str(&u.simple()),
                None => s.serialize_none(),
            }
        }

        /// Reads an optional `Uuid`; `null` and `""` are `None`.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Uuid>, D::Error> {
            match Option::<std::borrow::Cow<str>>::deserialize(d)? {
                None => Ok(None),
                Some(s) if s.trim().is_empty() => Ok(None),
                Some(s) => Uuid::parse_str(s.trim())
                    .map(Some)
                    .map_err(serde::de::Error::custom),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_print() {
        let t: TraceId = "771A43A4192642F0B136D5159A501700".parse().expect("upper");
        assert_eq!(t.to_string(), "771a43a4192642f0b136d5159a501700");
        assert!("771a43a4".parse::<TraceId>().is_err());
        assert!("771a43a4192642f0b136d5159a5017000"
            .parse::<TraceId>()
            .is_err());
        assert!("zz1a43a4192642f0".parse::<SpanId>().is_err());
        assert!(!SpanId::random().is_nil());
    }
}
