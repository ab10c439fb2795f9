//! Trace and span identifiers, and the event-id wire form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Error for an id that is not in one of the forms its kind allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: expected {expected}, got {value:?}")]
pub struct InvalidId {
    kind: &'static str,
    expected: &'static str,
    value: String,
}

/// A new random (version 4) UUID for an event or a session, from the
/// generator trace and span ids come from (`fastrand`). Its per-thread
/// state has no destructor, so it works in a thread-local destructor,
/// where `Uuid::new_v4` (the `rand` crate's thread generator) panics, and a
/// panic there aborts the process.
pub(crate) fn new_uuid() -> uuid::Uuid {
    let mut b = [0u8; 16];
    fastrand::fill(&mut b);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

/// Where the canonical UUID form (8-4-4-4-12) puts its dashes.
const UUID_DASHES: [usize; 4] = [8, 13, 18, 23];

/// Reads exactly `2 * N` hex digits or, when `uuid_form` (trace ids), the
/// canonical UUID form with its four dashes, as Relay's UUID parser takes
/// it (PROTOCOL.md §6.2). A dash anywhere else is refused: ids are compared
/// and joined as written, and a lenient reading would take a garbled id
/// (or two ids run together) as a valid one.
fn parse_hex<const N: usize>(
    s: &str,
    kind: &'static str,
    expected: &'static str,
    uuid_form: bool,
) -> Result<[u8; N], InvalidId> {
    let err = || InvalidId {
        kind,
        expected,
        value: s.to_owned(),
    };
    let bytes = s.as_bytes();
    // The digits, without the dashes of the UUID form; at most 32.
    let mut digits = [0u8; 32];
    let n = 2 * N;
    if n > digits.len() {
        return Err(err());
    }
    if bytes.len() == n {
        digits[..n].copy_from_slice(bytes);
    } else if uuid_form
        && n == 32
        && bytes.len() == 36
        && UUID_DASHES.iter().all(|&i| bytes[i] == b'-')
    {
        let kept = bytes
            .iter()
            .enumerate()
            .filter(|(i, _)| !UUID_DASHES.contains(i))
            .map(|(_, b)| *b);
        for (slot, b) in digits.iter_mut().zip(kept) {
            *slot = b;
        }
    } else {
        return Err(err());
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits[..n].chunks_exact(2)) {
        let hi = hex_val(pair[0]).ok_or_else(err)?;
        let lo = hex_val(pair[1]).ok_or_else(err)?;
        *byte = (hi << 4) | lo;
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
    ($name:ident, $n:literal, $kind:literal, $expected:literal, $uuid_form:literal, $doc:literal) => {
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
                parse_hex::<$n>(s.trim(), $kind, $expected, $uuid_form).map($name)
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
    "32 hex digits or a UUID with dashes (8-4-4-4-12)",
    true,
    "A 128-bit trace id, written as 32 lowercase hex digits. On input it may\nalso be a UUID in its canonical dashed form (as Relay reads it); dashes\nanywhere else are refused.\n\n```\nuse sentry_core::protocol::TraceId;\nlet id: TraceId = \"771a43a4-1926-42f0-b136-d5159a501700\".parse().unwrap();\nassert_eq!(id.to_string(), \"771a43a4192642f0b136d5159a501700\");\nassert!(\"771a-43a4192642f0b136d5159a501700\".parse::<TraceId>().is_err());\n```"
);
hex_id!(
    SpanId,
    8,
    "span id",
    "16 hex digits",
    false,
    "A 64-bit span id, written as 16 lowercase hex digits; exactly 16 hex\ndigits on input (no dashes).\n\n```\nuse sentry_core::protocol::SpanId;\nlet id: SpanId = \"b0e6f15b45c36b12\".parse().unwrap();\nassert_eq!(id.to_string(), \"b0e6f15b45c36b12\");\nassert!(\"b0e6-f15b45c36b12\".parse::<SpanId>().is_err());\n```"
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

    #[test]
    fn trace_ids_are_32_hex_digits_or_a_dashed_uuid() {
        let want = "771a43a4192642f0b136d5159a501700";
        for ok in [
            "771a43a4192642f0b136d5159a501700",
            "771a43a4-1926-42f0-b136-d5159a501700",
            "771A43A4-1926-42F0-B136-D5159A501700",
        ] {
            let id: TraceId = ok.parse().expect(ok);
            assert_eq!(id.to_string(), want, "{ok}");
        }
        for bad in [
            // 32 digits, dashes elsewhere than 8-4-4-4-12.
            "771a-43a4192642f0b136d5159a501700",
            "771a43a4192642f0b136d5159a5017-00",
            "-771a43a4192642f0b136d5159a501700",
            "771a43a4192642f0b136d5159a501700-",
            "771a43a41-926-42f0-b136-d5159a501700",
            "771a43a4-1926-42f0-b136d5159a501700",
            "771a43a4--1926-42f0-b136-d5159a501700",
            "7-7-1-a-4-3-a-4-1-9-2-6-4-2-f-0-b-1-3-6-d-5-1-5-9-a-5-0-1-7-0-0",
            // Other UUID notations Relay's parser knows but the wire never uses.
            "{771a43a4-1926-42f0-b136-d5159a501700}",
            "urn:uuid:771a43a4-1926-42f0-b136-d5159a501700",
            // 36 characters with dashes where the UUID puts them, but too few digits.
            "771a43a4-1926-42f0-b136-d5159a50170-",
        ] {
            assert!(bad.parse::<TraceId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn span_ids_are_exactly_16_hex_digits() {
        assert_eq!(
            "B0E6F15B45C36B12".parse::<SpanId>().map(|s| s.to_string()),
            Ok("b0e6f15b45c36b12".to_owned())
        );
        for bad in [
            "b0e6-f15b45c36b12",
            "b0e6f15b-45c36b12",
            "-b0e6f15b45c36b12",
            "b0e6f15b45c36b12-",
            "b0e6f15b45c36b1",
            "b0e6f15b45c36b123",
        ] {
            assert!(bad.parse::<SpanId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deserialising_refuses_misplaced_dashes() {
        let span_id = serde_json::from_str::<SpanId>(r#""b0e6-f15b45c36b12""#);
        assert!(span_id.is_err(), "{span_id:?}");
        let trace_id = serde_json::from_str::<TraceId>(r#""771a43a4192642f0-b136d5159a501700""#);
        assert!(trace_id.is_err(), "{trace_id:?}");
        let trace_id: TraceId =
            serde_json::from_str(r#""771a43a4-1926-42f0-b136-d5159a501700""#).expect("uuid");
        assert_eq!(trace_id.to_string(), "771a43a4192642f0b136d5159a501700");
    }
}
