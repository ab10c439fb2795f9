//! Deserialisers that accept every shape the official SDKs send.
//!
//! SDKs disagree on a few details (PROTOCOL.md §5): lists may be bare or wrapped
//! in `{"values": [...]}`, tags may be an object or a list of pairs, ids may be
//! numbers or strings. These helpers are used with `#[serde(deserialize_with)]`
//! so the typed structs accept them all while always writing one canonical form.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// Free-form JSON object: used for `extra`, `data` and every unknown field.
pub type Map = serde_json::Map<String, Value>;

/// A list that arrives either bare (`[...]`) or wrapped (`{"values": [...]}`).
///
/// It is always written wrapped, the form every receiver accepts.
///
/// ```
/// use sentry_core::protocol::Values;
/// let a: Values<u32> = serde_json::from_str("[1, 2]").unwrap();
/// let b: Values<u32> = serde_json::from_str(r#"{"values": [1, 2]}"#).unwrap();
/// assert_eq!(a, b);
/// assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"values":[1,2]}"#);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Values<T> {
    /// The items, in the order they were sent.
    pub values: Vec<T>,
}

impl<T> Default for Values<T> {
    fn default() -> Self {
        Values { values: Vec::new() }
    }
}

impl<T> Values<T> {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.values.len()
    }
}

/// The items as a slice: `event.exception[0]`, `for e in event.exception.iter()`.
///
/// ```
/// use sentry_core::protocol::Values;
/// let values = Values::from(vec![3, 4]);
/// assert_eq!((values[1], values.first()), (4, Some(&3)));
/// ```
impl<T> std::ops::Deref for Values<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.values
    }
}

impl<T> std::ops::DerefMut for Values<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.values
    }
}

impl<'a, T> IntoIterator for &'a Values<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.values.iter()
    }
}

impl<T> IntoIterator for Values<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.values.into_iter()
    }
}

impl<T> FromIterator<T> for Values<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        Values {
            values: items.into_iter().collect(),
        }
    }
}

impl<T> Extend<T> for Values<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        self.values.extend(items);
    }
}

impl<T> From<Vec<T>> for Values<T> {
    fn from(values: Vec<T>) -> Self {
        Values { values }
    }
}

impl<T: Serialize> Serialize for Values<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("values", &self.values)?;
        m.end()
    }
}

/// Reads every form an SDK sends straight from the deserializer, without
/// buffering the list first (an untagged enum would copy the whole list
/// into serde's `Content` and then read it a second time):
///
/// * `[a, b]` → the items;
/// * `{"values": [a, b]}` → the items (other keys are ignored, a `null` or
///   missing `values` is empty, a repeated `values` is an error);
/// * `null` → empty;
/// * anything else is an error.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Values<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValuesVisitor(PhantomData))
    }
}

struct ValuesVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ValuesVisitor<T> {
    type Value = Values<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list, an object with a list in `values`, or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Values::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Values::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Values::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(256));
        while let Some(item) = seq.next_element()? {
            values.push(item);
        }
        Ok(Values { values })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: Option<Option<Vec<T>>> = None;
        while let Some(key) = map.next_key::<ValuesKey>()? {
            match key {
                ValuesKey::Values => {
                    if values.is_some() {
                        return Err(de::Error::duplicate_field("values"));
                    }
                    values = Some(map.next_value()?);
                }
                ValuesKey::Other => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(Values {
            values: values.flatten().unwrap_or_default(),
        })
    }
}

/// A key of the wrapped form: `values` or anything else.
enum ValuesKey {
    Values,
    Other,
}

impl<'de> Deserialize<'de> for ValuesKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ValuesKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ValuesKey, E> {
                Ok(if v == "values" {
                    ValuesKey::Values
                } else {
                    ValuesKey::Other
                })
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ValuesKey, E> {
                Ok(if v == b"values" {
                    ValuesKey::Values
                } else {
                    ValuesKey::Other
                })
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ValuesKey, E> {
                Ok(ValuesKey::Other)
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Serialise-skip predicate for [`Values`].
pub(crate) fn values_empty<T>(v: &Values<T>) -> bool {
    v.is_empty()
}

/// Renders a scalar JSON value as a tag or header string the way Relay does:
/// booleans become `True`/`False`, numbers their decimal form.
pub(crate) fn scalar_to_string(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        Value::Bool(true) => Some("True".to_owned()),
        Value::Bool(false) => Some("False".to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A string map that arrives as an object or as a list of `[key, value]` pairs.
///
/// Values are coerced to strings; `null` values are dropped. Used for `tags`
/// and request headers.
pub(crate) fn string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object or a list of [key, value] pairs")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = a.next_entry::<String, Value>()? {
                if let Some(v) = scalar_to_string(v) {
                    out.insert(k, v);
                }
            }
            Ok(out)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(pair) = a.next_element::<Value>()? {
                if let Value::Array(mut kv) = pair {
                    if kv.len() == 2 {
                        let v = kv.pop().unwrap_or(Value::Null);
                        let k = kv.pop().unwrap_or(Value::Null);
                        if let (Some(k), Some(v)) = (scalar_to_string(k), scalar_to_string(v)) {
                            out.insert(k, v);
                        }
                    }
                }
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// An optional string that may arrive as a number or boolean (ids, versions).
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(scalar_to_string(Value::deserialize(d)?))
}

/// [`opt_string`] for a `Cow` field.
pub(crate) fn opt_cow_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<std::borrow::Cow<'static, str>>, D::Error> {
    Ok(opt_string(d)?.map(std::borrow::Cow::Owned))
}

/// A `null`-tolerant default: `null` becomes `T::default()`.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A list of strings where numbers and booleans are coerced (`fingerprint`).
/// Objects and nulls are dropped, as Relay does.
pub(crate) fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let raw = Option::<Vec<Value>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .filter_map(|v| match v {
            Value::Object(_) | Value::Array(_) => None,
            Value::Number(n) => Some(match n.as_f64() {
                Some(f) if n.is_f64() => format!("{}", f.trunc()),
                _ => n.to_string(),
            }),
            other => scalar_to_string(other),
        })
        .collect())
}

/// Serialise-skip predicate for maps.
pub(crate) fn map_empty<K, V>(m: &BTreeMap<K, V>) -> bool {
    m.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Tags {
        #[serde(deserialize_with = "string_map")]
        tags: BTreeMap<String, String>,
    }

    #[test]
    fn tags_from_pairs_and_objects_agree() {
        let a: Tags = serde_json::from_str(r#"{"tags": [["a", "1"], ["b", true], ["c", 2]]}"#)
            .expect("pairs");
        let b: Tags = serde_json::from_str(r#"{"tags": {"a": "1", "b": true, "c": 2, "d": null}}"#)
            .expect("object");
        assert_eq!(a.tags, b.tags);
        assert_eq!(a.tags.get("b").map(String::as_str), Some("True"));
        assert_eq!(a.tags.get("c").map(String::as_str), Some("2"));
        assert!(!b.tags.contains_key("d"));
    }

    #[derive(Deserialize)]
    struct Fp {
        #[serde(deserialize_with = "string_list")]
        fingerprint: Vec<String>,
    }

    #[test]
    fn fingerprint_coerces_scalars_and_drops_objects() {
        let f: Fp = serde_json::from_str(r#"{"fingerprint": ["a", 3.5, 7, true, null, {}]}"#)
            .expect("fingerprint");
        assert_eq!(f.fingerprint, vec!["a", "3", "7", "True"]);
    }

    /// The untagged enum the hand-written deserializer replaced: both must
    /// accept and refuse the same inputs, with the same result.
    fn untagged<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr<T> {
            List(Vec<T>),
            Wrapped { values: Option<Vec<T>> },
            Null(()),
        }
        Ok(match Repr::deserialize(d)? {
            Repr::List(values) => values,
            Repr::Wrapped { values } => values.unwrap_or_default(),
            Repr::Null(()) => Vec::new(),
        })
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Item {
        n: u32,
        #[serde(flatten)]
        other: Map,
    }

    #[test]
    fn values_reads_every_form_like_the_untagged_enum() {
        let inputs = [
            "null",
            "[]",
            "{}",
            r#"[{"n": 1}, {"n": 2, "x": [1, {"y": null}]}]"#,
            r#"{"values": [{"n": 1}], "other": {"deep": [1, 2]}}"#,
            r#"{"values": null}"#,
            r#"{"values": [{"n": 1}], "values": []}"#,
            r#"{"values": {"n": 1}}"#,
            r#"[null]"#,
            r#"[null, {"n": 1}]"#,
            r#"[[]]"#,
            r#"[[{"n": 3}]]"#,
            r#"[[{"n": 3}], {"n": 4}]"#,
            r#"[{"n": 1}, null]"#,
            r#"[{"n": "one"}]"#,
            r#"[{"n": 1}, {"n": -1}]"#,
            r#"[1]"#,
            r#""text""#,
            "7",
            "true",
        ];
        for input in inputs {
            let fast = serde_json::from_str::<Values<Item>>(input).map(|v| v.values);
            let slow = untagged::<Item, _>(&mut serde_json::Deserializer::from_str(input));
            assert_eq!(fast.is_ok(), slow.is_ok(), "{input}: {fast:?} vs {slow:?}");
            if let (Ok(a), Ok(b)) = (&fast, &slow) {
                assert_eq!(a, b, "{input}");
            }
            // The same through a `Value` tree (the receiver's lenient path).
            let value: Value = serde_json::from_str(input).expect("json");
            let fast = Values::<Item>::deserialize(&value).map(|v| v.values);
            let slow = untagged::<Item, _>(&value);
            assert_eq!(fast.is_ok(), slow.is_ok(), "{input} (value)");
            if let (Ok(a), Ok(b)) = (fast, slow) {
                assert_eq!(a, b, "{input} (value)");
            }
        }
        // Scalar items.
        for input in [
            "[1, 2]",
            "[null]",
            "[[1, 2]]",
            r#"{"values": [3]}"#,
            r#"["a"]"#,
        ] {
            let fast = serde_json::from_str::<Values<u8>>(input).map(|v| v.values);
            let slow = untagged::<u8, _>(&mut serde_json::Deserializer::from_str(input));
            assert_eq!(fast.ok(), slow.ok(), "{input}");
        }
        let fast = serde_json::from_str::<Values<Option<u8>>>("[null, 1]").map(|v| v.values);
        assert_eq!(fast.ok(), Some(vec![None, Some(1)]));
    }

    #[test]
    fn values_accepts_null() {
        let v: Values<u8> = serde_json::from_str("null").expect("null");
        assert!(v.is_empty());
    }
}
