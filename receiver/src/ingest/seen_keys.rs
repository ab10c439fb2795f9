//! Deserialising a JSON object into a type while noting which of a few
//! top-level keys it had, and optionally leaving some top-level keys out.
//!
//! Normalisation needs to know whether an event carried `timestamp` (a
//! missing one means "receive time", but the type fills in its own default),
//! and a transaction `start_timestamp` and `timestamp`. Reading the payload
//! a second time just for that cost about a sixth of the parse. Instead the
//! deserializer is wrapped: the wrapper passes everything through to
//! `serde_json` unchanged, except that it reads each key of the outermost
//! object itself, notes it, and hands it on to the type's own visitor, or,
//! for a key to leave out, skips its value without building anything (as
//! if the key were absent).
//!
//! ```text
//! deserializer ─ TopLevel ─ visitor ─ TopVisitor ─ map ─ Keys
//! ```
//!
//! Nothing is buffered (a key is borrowed from the input unless it has
//! escapes), and nested objects are not looked at (a breadcrumb's
//! `timestamp` does not count).

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

/// Deserialises a `T` from JSON bytes and reports, for each of `names`,
/// whether the outermost object had that key. Top-level keys in `skip` (groups
/// of a field's names: the name and its aliases) are left out: their values
/// are checked as JSON (nesting depth and UTF-8 as for the rest), nothing
/// more, and the type sees the object without them. A group met twice is an
/// error, as a field given twice is for the type.
///
/// Only whether the key occurred is recorded, not its value: a type that
/// refuses `null` (or any wrong value) for the field fails as a whole, and
/// one that accepts it sees the value as usual.
///
/// Input that is valid UTF-8 as a whole (all of it, in practice) is read
/// as a `str`: one validation of the whole buffer instead of one per
/// string, which was a sixth of the parse for events of many short
/// strings. Anything else is read from the bytes as before, so results and
/// errors do not change (`serde_json` only validates the strings it keeps,
/// so some invalid input is accepted that way).
pub(crate) fn from_slice<'de, T: de::Deserialize<'de>, const N: usize>(
    bytes: &'de [u8],
    names: [&'static str; N],
    skip: &[&[&str]],
) -> Result<(T, [bool; N]), serde_json::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => read(serde_json::de::StrRead::new(text), names, skip),
        Err(_) => read(serde_json::de::SliceRead::new(bytes), names, skip),
    }
}

fn read<'de, R: serde_json::de::Read<'de>, T: de::Deserialize<'de>, const N: usize>(
    input: R,
    names: [&'static str; N],
    skip: &[&[&str]],
) -> Result<(T, [bool; N]), serde_json::Error> {
    if skip.len() > 64 {
        return Err(de::Error::custom(
            "at most 64 groups of keys can be left out",
        ));
    }
    let seen = Seen {
        names,
        flags: std::array::from_fn(|_| Cell::new(false)),
        skip,
        skipped: Cell::new(0),
    };
    let mut de = serde_json::Deserializer::new(input);
    let value = T::deserialize(TopLevel {
        de: &mut de,
        seen: &seen,
    })?;
    de.end()?;
    Ok((value, seen.flags.map(Cell::into_inner)))
}

/// The keys looked for and whether each occurred, and the keys left out
/// with a bit per group met.
struct Seen<'k, const N: usize> {
    names: [&'static str; N],
    flags: [Cell<bool>; N],
    skip: &'k [&'k [&'k str]],
    skipped: Cell<u64>,
}

impl<const N: usize> Seen<'_, N> {
    fn key(&self, key: &[u8]) {
        for (name, flag) in self.names.iter().zip(&self.flags) {
            if name.as_bytes() == key {
                flag.set(true);
            }
        }
    }
}

/// Forwards a `Deserializer` method to `self.de`, wrapping the visitor.
macro_rules! forward_wrapped {
    ($wrap:ident; $($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
                self.de.$method($($arg,)* $wrap { inner: visitor, seen: self.seen })
            }
        )*
    };
}

/// Forwards every `Deserializer` method except `deserialize_any`.
macro_rules! forward_all_but_any {
    ($wrap:ident) => {
        forward_wrapped! {$wrap;
            deserialize_bool(); deserialize_i8(); deserialize_i16(); deserialize_i32();
            deserialize_i64(); deserialize_i128(); deserialize_u8(); deserialize_u16();
            deserialize_u32(); deserialize_u64(); deserialize_u128(); deserialize_f32();
            deserialize_f64(); deserialize_char(); deserialize_str(); deserialize_string();
            deserialize_bytes(); deserialize_byte_buf(); deserialize_option();
            deserialize_unit(); deserialize_unit_struct(name: &'static str);
            deserialize_newtype_struct(name: &'static str); deserialize_seq();
            deserialize_tuple(len: usize);
            deserialize_tuple_struct(name: &'static str, len: usize);
            deserialize_map();
            deserialize_struct(name: &'static str, fields: &'static [&'static str]);
            deserialize_enum(name: &'static str, variants: &'static [&'static str]);
            deserialize_identifier(); deserialize_ignored_any();
        }

        fn is_human_readable(&self) -> bool {
            self.de.is_human_readable()
        }
    };
}

/// Forwards every `Visitor` method to `self.inner`; `visit_map` is given by
/// the caller (`$map`).
macro_rules! forward_visitor {
    (|$self_:ident, $map_arg:ident| $map:expr) => {
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            self.inner.expecting(f)
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            self.inner.visit_bool(v)
        }
        fn visit_i8<E: de::Error>(self, v: i8) -> Result<Self::Value, E> {
            self.inner.visit_i8(v)
        }
        fn visit_i16<E: de::Error>(self, v: i16) -> Result<Self::Value, E> {
            self.inner.visit_i16(v)
        }
        fn visit_i32<E: de::Error>(self, v: i32) -> Result<Self::Value, E> {
            self.inner.visit_i32(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.inner.visit_i64(v)
        }
        fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
            self.inner.visit_i128(v)
        }
        fn visit_u8<E: de::Error>(self, v: u8) -> Result<Self::Value, E> {
            self.inner.visit_u8(v)
        }
        fn visit_u16<E: de::Error>(self, v: u16) -> Result<Self::Value, E> {
            self.inner.visit_u16(v)
        }
        fn visit_u32<E: de::Error>(self, v: u32) -> Result<Self::Value, E> {
            self.inner.visit_u32(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.inner.visit_u64(v)
        }
        fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
            self.inner.visit_u128(v)
        }
        fn visit_f32<E: de::Error>(self, v: f32) -> Result<Self::Value, E> {
            self.inner.visit_f32(v)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            self.inner.visit_f64(v)
        }
        fn visit_char<E: de::Error>(self, v: char) -> Result<Self::Value, E> {
            self.inner.visit_char(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            self.inner.visit_str(v)
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            self.inner.visit_borrowed_str(v)
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            self.inner.visit_string(v)
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
            self.inner.visit_bytes(v)
        }
        fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
            self.inner.visit_borrowed_bytes(v)
        }
        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
            self.inner.visit_byte_buf(v)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            self.inner.visit_none()
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.inner.visit_some(d)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.inner.visit_unit()
        }
        fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.inner.visit_newtype_struct(d)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            self.inner.visit_seq(seq)
        }
        fn visit_map<A: MapAccess<'de>>($self_, $map_arg: A) -> Result<Self::Value, A::Error> {
            $map
        }
        fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
            self.inner.visit_enum(data)
        }
    };
}

/// The outermost deserializer: its visitor learns about the map.
struct TopLevel<'s, 'k, D, const N: usize> {
    de: D,
    seen: &'s Seen<'k, N>,
}

impl<'de, D: Deserializer<'de>, const N: usize> Deserializer<'de> for TopLevel<'_, '_, D, N> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.de.deserialize_any(TopVisitor {
            inner: visitor,
            seen: self.seen,
        })
    }

    forward_all_but_any!(TopVisitor);
}

/// The outermost visitor: hands the type's visitor a map whose keys are
/// looked at.
struct TopVisitor<'s, 'k, V, const N: usize> {
    inner: V,
    seen: &'s Seen<'k, N>,
}

impl<'de, V: Visitor<'de>, const N: usize> Visitor<'de> for TopVisitor<'_, '_, V, N> {
    type Value = V::Value;

    forward_visitor!(|self, map| self.inner.visit_map(Keys {
        map,
        seen: self.seen,
    }));
}

/// The outermost object: each key is read here, noted, and either handed
/// to the type or skipped with its value.
struct Keys<'s, 'k, A, const N: usize> {
    map: A,
    seen: &'s Seen<'k, N>,
}

impl<'de, A: MapAccess<'de>, const N: usize> MapAccess<'de> for Keys<'_, '_, A, N> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        loop {
            let Some(key) = self.map.next_key_seed(KeyText)? else {
                return Ok(None);
            };
            if let Some(group) = self.seen.skip.iter().position(|g| g.contains(&&*key)) {
                let bit = 1u64 << group;
                if self.seen.skipped.get() & bit != 0 {
                    return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
                }
                self.seen.skipped.set(self.seen.skipped.get() | bit);
                self.map.next_value::<Checked>()?;
                continue;
            }
            self.seen.key(key.as_bytes());
            return match key {
                Cow::Borrowed(k) => seed.deserialize(BorrowedStrDeserializer::new(k)),
                Cow::Owned(k) => seed.deserialize(StringDeserializer::new(k)),
            }
            .map(Some);
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        self.map.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// A value read and dropped, checked as the whole parse would check it:
/// through `deserialize_any`, so `serde_json`'s nesting limit applies and
/// strings are validated as UTF-8 (`IgnoredAny` skips both checks, and a
/// value it accepts could then fail the parse of the whole event on read).
struct Checked;

impl<'de> de::Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_none<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

/// Reads a key as text, borrowed from the input when it has no escapes.
struct KeyText;

impl<'de> DeserializeSeed<'de> for KeyText {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyText {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry_core::protocol::{Event, Transaction};

    #[test]
    fn top_level_keys_are_seen_and_nested_ones_are_not() {
        let json = br#"{"message": "x", "breadcrumbs": [{"timestamp": 1, "message": "b"}],
            "extra": {"start_timestamp": 3}}"#;
        let (event, [ts, start]) =
            from_slice::<Event, 2>(json, ["timestamp", "start_timestamp"], &[]).expect("event");
        assert_eq!(event.message.as_deref(), Some("x"));
        assert_eq!(event.breadcrumbs.len(), 1);
        assert!(!ts && !start);

        let json = br#"{"timestamp": 1700000000.5, "message": "x", "custom": {"timestamp": 2}}"#;
        let (event, [ts]) = from_slice::<Event, 1>(json, ["timestamp"], &[]).expect("event");
        assert!(ts);
        assert_eq!(event.timestamp.as_secs_f64(), 1700000000.5);
        assert_eq!(event.other["custom"]["timestamp"], 2);
    }

    #[test]
    fn skipped_keys_are_left_out_but_must_be_json() {
        let json = br#"{"message": "x", "breadcrumbs": [{"timestamp": "bad type"}],
            "extra": {"a": 1}, "timestamp": 5, "custom": 1}"#;
        let (event, [ts]) =
            from_slice::<Event, 1>(json, ["timestamp"], &[&["breadcrumbs"], &["extra"]])
                .expect("event");
        assert!(ts);
        assert_eq!(event.message.as_deref(), Some("x"));
        assert!(event.breadcrumbs.is_empty());
        assert!(event.extra.is_empty());
        assert_eq!(event.other["custom"], 1);
        // Without skipping, the wrong-typed breadcrumb fails the parse.
        assert!(from_slice::<Event, 1>(json, ["timestamp"], &[]).is_err());
        // A skipped value is still read as JSON.
        let broken = br#"{"breadcrumbs": [1, }, "message": "x"}"#;
        assert!(from_slice::<Event, 1>(broken, ["timestamp"], &[&["breadcrumbs"]]).is_err());
        // Nesting past serde_json's limit fails as it would unskipped.
        let deep = format!(
            r#"{{"extra": {}1{}, "message": "x"}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(from_slice::<Event, 1>(deep.as_bytes(), ["timestamp"], &[&["extra"]]).is_err());
        // So does invalid UTF-8 in a skipped string.
        let bad = b"{\"extra\": {\"a\": \"\xff\"}, \"message\": \"x\"}";
        assert!(from_slice::<Event, 1>(bad, ["timestamp"], &[&["extra"]]).is_err());
        // A left-out field given twice, also under an alias, fails as the
        // type would fail on it.
        let skip: &[&[&str]] = &[&["breadcrumbs", "sentry.interfaces.Breadcrumbs"]];
        let twice = br#"{"breadcrumbs": [], "sentry.interfaces.Breadcrumbs": []}"#;
        assert!(from_slice::<Event, 1>(twice, ["timestamp"], skip).is_err());
        assert!(from_slice::<Event, 1>(twice, ["timestamp"], &[]).is_err());
        let alias_only = br#"{"sentry.interfaces.Breadcrumbs": [{"message": 5}]}"#;
        assert!(from_slice::<Event, 1>(alias_only, ["timestamp"], skip).is_ok());
        // Keys with escapes are handed on like any other.
        let escaped = br#"{"message": "y", "extra": {"a": 1}}"#;
        let (event, _) =
            from_slice::<Event, 1>(escaped, ["timestamp"], &[&["extra"]]).expect("escaped");
        assert_eq!(event.message.as_deref(), Some("y"));
        assert!(event.extra.is_empty());
    }

    #[test]
    fn the_result_is_what_serde_json_gives() {
        let inputs: [&[u8]; 4] = [
            br#"{"message": "m", "level": "warning", "unknown": [1, {"a": null}], "tags": [["a", "b"]]}"#,
            br#"{"exception": {"values": [{"type": "E", "stacktrace": {"frames": [{"function": "f"}]}}]}}"#,
            br#"{"timestamp": "2024-01-01T00:00:00Z", "sentry.interfaces.User": {"id": 1}}"#,
            br#"{}"#,
        ];
        for json in inputs {
            let (a, _) = from_slice::<Event, 1>(json, ["timestamp"], &[]).expect("wrapped");
            let mut b: Event = serde_json::from_slice(json).expect("plain");
            // Generated when absent: not comparable.
            b.event_id = a.event_id;
            b.timestamp = a.timestamp;
            assert_eq!(a, b, "{}", String::from_utf8_lossy(json));
        }
    }

    #[test]
    fn failures_are_the_same_as_serde_json() {
        let inputs: [&[u8]; 6] = [
            br#"[1, 2]"#,
            br#"{"timestamp": null}"#,
            br#"{"timestamp": 1, "timestamp": 2}"#,
            br#"{"platform": 5}"#,
            br#"{"message": "a"} trailing"#,
            br#"{"message": "a""#,
        ];
        for json in inputs {
            let text = String::from_utf8_lossy(json);
            assert!(
                from_slice::<Event, 1>(json, ["timestamp"], &[]).is_err(),
                "{text}"
            );
            assert!(serde_json::from_slice::<Event>(json).is_err(), "{text}");
        }
    }

    #[test]
    fn invalid_utf8_is_read_as_bytes_as_before() {
        // serde_json does not validate strings it skips (here: a key beside
        // `values`), so from the bytes this parses; it must still parse.
        let json = b"{\"exception\": {\"values\": [], \"x\": \"\xff\"}, \"message\": \"m\"}";
        assert!(json.contains(&0xff));
        let plain = serde_json::from_slice::<Event>(json).map(|e| e.message);
        let ours = from_slice::<Event, 1>(json, ["timestamp"], &[]).map(|(e, _)| e.message);
        assert_eq!(plain.ok(), ours.ok());
        // A kept string must be valid either way.
        let json = b"{\"message\": \"\xff\"}";
        assert!(serde_json::from_slice::<Event>(json).is_err());
        assert!(from_slice::<Event, 1>(json, ["timestamp"], &[]).is_err());
    }

    #[test]
    fn transactions_report_both_timestamps() {
        let json = br#"{"type": "transaction", "start_timestamp": 1.0, "timestamp": null,
            "contexts": {"trace": {"trace_id": "0123456789abcdef0123456789abcdef",
                "span_id": "0123456789abcdef"}}}"#;
        let (tx, [start, end]) =
            from_slice::<Transaction, 2>(json, ["start_timestamp", "timestamp"], &[]).expect("tx");
        assert!(start && end);
        assert!(tx.timestamp.is_none());
    }
}
