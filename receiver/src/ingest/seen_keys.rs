//! Deserialising a JSON object into a type while noting which of a few
//! top-level keys it had.
//!
//! Normalisation needs to know whether an event carried `timestamp` (a
//! missing one means "receive time", but the type fills in its own default),
//! and a transaction `start_timestamp` and `timestamp`. Reading the payload
//! a second time just for that cost about a sixth of the parse. Instead the
//! deserializer is wrapped: the wrapper passes everything through to
//! `serde_json` unchanged, except that it reads each key of the outermost
//! object itself, notes it, and hands it on to the type's own visitor.
//!
//! ```text
//! deserializer ─ TopLevel ─ visitor ─ TopVisitor ─ map ─ Keys
//! ```
//!
//! Nothing is buffered (a key is borrowed from the input unless it has
//! escapes), and nested objects are not looked at (a breadcrumb's
//! `timestamp` does not count).
//!
//! The wrapper can also leave top-level keys out ([`from_slice_picking`]):
//! their values are skipped as serde_json skips a field a type ignores
//! (the JSON syntax is checked, nothing is built), and the type never sees
//! the key. Ingestion reads an event that way without the parts it does
//! not use (breadcrumbs, request, ...), which are a third of the parse.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// [`from_slice_picking`] leaving nothing out.
#[cfg(test)]
pub(crate) fn from_slice<'de, T: de::Deserialize<'de>, const N: usize>(
    bytes: &'de [u8],
    names: [&'static str; N],
) -> Result<(T, [bool; N]), serde_json::Error> {
    from_slice_picking(bytes, names, &[], None)
}

/// [`from_slice_picking`] picking nothing.
#[cfg(test)]
pub(crate) fn from_slice_without<'de, T: de::Deserialize<'de>, const N: usize>(
    bytes: &'de [u8],
    names: [&'static str; N],
    left_out: &[&str],
) -> Result<(T, [bool; N]), serde_json::Error> {
    from_slice_picking(bytes, names, left_out, None)
}

/// Deserialises a `T` from JSON bytes and reports, for each of `names`,
/// whether the outermost object had that key; the top-level keys in
/// `left_out` are left out: the type deserialises as if they were absent
/// (a `names` entry also in `left_out` is still reported).
///
/// Only whether the key occurred is recorded, not its value: a type that
/// refuses `null` (or any wrong value) for the field fails as a whole, and
/// one that accepts it sees the value as usual. A left-out value is
/// skipped as serde_json skips an ignored field: its syntax must be JSON,
/// but a lone surrogate, a number out of range or nesting past serde_json's
/// limit pass, as they pass in any field a type ignores.
///
/// With a `pick`, the top-level key `pick.key` is left out too, but its
/// value (which must be `null` or an object, or the call fails) is read
/// for one entry: [`Pick::found`] is that entry's value (the last one if it
/// repeats, in the last such object if the key repeats; `None` if absent
/// or `null`). Its other entries are skipped as left-out values are.
///
/// Input that is valid UTF-8 as a whole (all of it, in practice) is read
/// as a `str`: one validation of the whole buffer instead of one per
/// string, which was a sixth of the parse for events of many short
/// strings. Anything else is read from the bytes as before, so results and
/// errors do not change (`serde_json` only validates the strings it keeps,
/// so some invalid input is accepted that way).
pub(crate) fn from_slice_picking<'de, T: de::Deserialize<'de>, const N: usize>(
    bytes: &'de [u8],
    names: [&'static str; N],
    left_out: &[&str],
    pick: Option<&Pick>,
) -> Result<(T, [bool; N]), serde_json::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => read(serde_json::de::StrRead::new(text), names, left_out, pick),
        Err(_) => read(serde_json::de::SliceRead::new(bytes), names, left_out, pick),
    }
}

/// One entry of a top-level object to read on the side (see
/// [`from_slice_picking`]).
pub(crate) struct Pick {
    key: &'static str,
    entry: &'static str,
    found: RefCell<Option<Value>>,
}

impl Pick {
    /// Reads `entry` of the top-level object under `key`.
    pub(crate) fn new(key: &'static str, entry: &'static str) -> Pick {
        Pick {
            key,
            entry,
            found: RefCell::new(None),
        }
    }

    /// The entry's value, once the parse has passed it.
    pub(crate) fn found(self) -> Option<Value> {
        self.found.into_inner()
    }
}

fn read<'de, R: serde_json::de::Read<'de>, T: de::Deserialize<'de>, const N: usize>(
    input: R,
    names: [&'static str; N],
    left_out: &[&str],
    pick: Option<&Pick>,
) -> Result<(T, [bool; N]), serde_json::Error> {
    let seen = Seen {
        names,
        flags: std::array::from_fn(|_| Cell::new(false)),
        left_out,
        pick,
    };
    let mut de = serde_json::Deserializer::new(input);
    let value = T::deserialize(TopLevel {
        de: &mut de,
        seen: &seen,
    })?;
    de.end()?;
    Ok((value, seen.flags.map(Cell::into_inner)))
}

/// The keys looked for and whether each occurred, the keys left out and
/// the entry picked.
struct Seen<'k, const N: usize> {
    names: [&'static str; N],
    flags: [Cell<bool>; N],
    left_out: &'k [&'k str],
    pick: Option<&'k Pick>,
}

/// What becomes of a top-level key's value.
enum Route<'k> {
    /// The type reads it.
    Type,
    /// Checked and dropped.
    LeftOut,
    /// Read for one entry.
    Pick(&'k Pick),
}

impl<'k, const N: usize> Seen<'k, N> {
    /// Notes `key`; says where its value goes.
    fn key(&self, key: &str) -> Route<'k> {
        for (name, flag) in self.names.iter().zip(&self.flags) {
            if *name == key {
                flag.set(true);
            }
        }
        match self.pick {
            Some(pick) if pick.key == key => Route::Pick(pick),
            _ if self.left_out.contains(&key) => Route::LeftOut,
            _ => Route::Type,
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
struct TopLevel<'s, D, const N: usize> {
    de: D,
    seen: &'s Seen<'s, N>,
}

impl<'de, D: Deserializer<'de>, const N: usize> Deserializer<'de> for TopLevel<'_, D, N> {
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
struct TopVisitor<'s, V, const N: usize> {
    inner: V,
    seen: &'s Seen<'s, N>,
}

impl<'de, V: Visitor<'de>, const N: usize> Visitor<'de> for TopVisitor<'_, V, N> {
    type Value = V::Value;

    forward_visitor!(|self, map| self.inner.visit_map(Keys {
        map,
        seen: self.seen,
    }));
}

/// The outermost object: each key is read here, noted, and handed to the
/// type.
struct Keys<'s, A, const N: usize> {
    map: A,
    seen: &'s Seen<'s, N>,
}

impl<'de, A: MapAccess<'de>, const N: usize> MapAccess<'de> for Keys<'_, A, N> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let key = loop {
            let Some(key) = self.map.next_key_seed(KeyText)? else {
                return Ok(None);
            };
            match self.seen.key(&key) {
                Route::Type => break key,
                Route::LeftOut => {
                    self.map.next_value::<de::IgnoredAny>()?;
                }
                Route::Pick(pick) => self.map.next_value_seed(PickEntry(pick))?,
            }
        };
        match key {
            Cow::Borrowed(k) => seed.deserialize(BorrowedStrDeserializer::new(k)),
            Cow::Owned(k) => seed.deserialize(StringDeserializer::new(k)),
        }
        .map(Some)
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

/// A picked object (or `null`): keeps the value of [`Pick::entry`], skips
/// the rest. Each object starts over: when the key repeats, the last one
/// counts, as it does when a [`Value`] reads the payload.
struct PickEntry<'k>(&'k Pick);

impl<'de> DeserializeSeed<'de> for PickEntry<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for PickEntry<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        *self.0.found.borrow_mut() = None;
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        *self.0.found.borrow_mut() = None;
        while let Some(key) = map.next_key_seed(KeyText)? {
            if key == self.0.entry {
                let value: Value = map.next_value()?;
                *self.0.found.borrow_mut() = Some(value).filter(|v| !v.is_null());
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
        }
        Ok(())
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
            from_slice::<Event, 2>(json, ["timestamp", "start_timestamp"]).expect("event");
        assert_eq!(event.message.as_deref(), Some("x"));
        assert_eq!(event.breadcrumbs.len(), 1);
        assert!(!ts && !start);

        let json = br#"{"timestamp": 1700000000.5, "message": "x", "custom": {"timestamp": 2}}"#;
        let (event, [ts]) = from_slice::<Event, 1>(json, ["timestamp"]).expect("event");
        assert!(ts);
        assert_eq!(event.timestamp.as_secs_f64(), 1700000000.5);
        assert_eq!(event.other["custom"]["timestamp"], 2);
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
            let (a, _) = from_slice::<Event, 1>(json, ["timestamp"]).expect("wrapped");
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
                from_slice::<Event, 1>(json, ["timestamp"]).is_err(),
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
        let ours = from_slice::<Event, 1>(json, ["timestamp"]).map(|(e, _)| e.message);
        assert_eq!(plain.ok(), ours.ok());
        // A kept string must be valid either way.
        let json = b"{\"message\": \"\xff\"}";
        assert!(serde_json::from_slice::<Event>(json).is_err());
        assert!(from_slice::<Event, 1>(json, ["timestamp"]).is_err());
    }

    #[test]
    fn left_out_keys_are_not_seen_by_the_type_but_are_checked() {
        let json = br#"{"message": "x", "timestamp": 5, "breadcrumbs": [{"message": "b"}],
            "extra": {"deep": [[{"a": "\u00e9"}]]}, "custom": 1}"#;
        let (event, [ts, crumbs]) = from_slice_without::<Event, 2>(
            json,
            ["timestamp", "breadcrumbs"],
            &["breadcrumbs", "extra", "timestamp"],
        )
        .expect("event");
        assert!(ts && crumbs, "left-out keys are still reported");
        assert!(event.breadcrumbs.is_empty() && event.extra.is_empty());
        assert_ne!(event.timestamp.as_secs_f64(), 5.0, "left out");
        assert_eq!(event.message.as_deref(), Some("x"));
        assert_eq!(event.other["custom"], 1);
        // A left-out key appearing twice is no duplicate field: the type
        // never sees it.
        let json = br#"{"extra": 1, "extra": 2, "message": "m"}"#;
        assert!(from_slice_without::<Event, 0>(json, [], &["extra"]).is_ok());
        assert!(from_slice_without::<Event, 0>(json, [], &[]).is_err());
        // A left-out value is skipped as an ignored field is: its syntax
        // is checked, not what a `Value` would refuse besides.
        let refused: [&[u8]; 3] = [
            br#"{"extra": {"a": "\q"}}"#,
            br#"{"extra": [1,]}"#,
            br#"{"extra": {"a": 1"#,
        ];
        for json in refused {
            let text = String::from_utf8_lossy(json);
            let lean = from_slice_without::<Event, 0>(json, [], &["extra"]);
            assert!(lean.is_err(), "{text}");
        }
        let passed: [&[u8]; 2] = [br#"{"extra": {"a": "\ud800"}}"#, br#"{"extra": [1e400]}"#];
        for json in passed {
            let text = String::from_utf8_lossy(json);
            assert!(
                serde_json::from_slice::<serde_json::Value>(json).is_err(),
                "{text}"
            );
            let lean = from_slice_without::<Event, 0>(json, [], &["extra"]);
            assert!(lean.is_ok(), "{text}");
        }
    }

    #[test]
    fn a_picked_entry_is_read_on_the_side() {
        let pick = |json: &[u8]| {
            let pick = Pick::new("contexts", "trace");
            let result = from_slice_picking::<Event, 1>(json, ["contexts"], &[], Some(&pick));
            result.map(|(event, [seen])| (event, seen, pick.found()))
        };
        let (event, seen, found) =
            pick(br#"{"message": "m", "contexts": {"os": {"a": [1]}, "trace": {"x": 1}}}"#)
                .expect("picked");
        assert!(
            seen && event.contexts.is_empty(),
            "the type does not see it"
        );
        assert_eq!(found, Some(serde_json::json!({"x": 1})));
        let (_, _, found) = pick(br#"{"contexts": {"trace": 1, "trace": null}}"#).expect("null");
        assert_eq!(found, None, "the last one counts");
        for second in ["{}", "null", r#"{"os": {}}"#] {
            let json = format!(r#"{{"contexts": {{"trace": 1}}, "contexts": {second}}}"#);
            let (_, _, found) = pick(json.as_bytes()).expect("repeated contexts");
            assert_eq!(found, None, "the last object counts: {json}");
        }
        let (_, seen, found) = pick(br#"{"contexts": null}"#).expect("null contexts");
        assert!(seen && found.is_none());
        let (_, seen, found) = pick(br#"{"message": "m"}"#).expect("absent");
        assert!(!seen && found.is_none());
        // Not an object, or a picked entry a `Value` refuses: as
        // `serde_json`; the other entries are skipped.
        assert!(pick(br#"{"contexts": [1]}"#).is_err());
        assert!(pick(br#"{"contexts": {"trace": {"n": "\ud800"}}}"#).is_err());
        assert!(pick(br#"{"contexts": {"os": {"n": "\ud800"}}}"#).is_ok());
    }

    #[test]
    fn transactions_report_both_timestamps() {
        let json = br#"{"type": "transaction", "start_timestamp": 1.0, "timestamp": null,
            "contexts": {"trace": {"trace_id": "0123456789abcdef0123456789abcdef",
                "span_id": "0123456789abcdef"}}}"#;
        let (tx, [start, end]) =
            from_slice::<Transaction, 2>(json, ["start_timestamp", "timestamp"]).expect("tx");
        assert!(start && end);
        assert!(tx.timestamp.is_none());
    }
}
