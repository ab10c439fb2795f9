//! Deserialisers that accept every shape the official SDKs send.
//!
//! SDKs disagree on a few details (PROTOCOL.md §5): lists may be bare or wrapped
//! in `{"values": [...]}`, tags may be an object or a list of pairs, ids may be
//! numbers or strings. These helpers are used with `#[serde(deserialize_with)]`
//! so the typed structs accept them all while always writing one canonical form.

use std::collections::BTreeMap;
use std::fmt;

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

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Values<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr<T> {
            List(Vec<T>),
            Wrapped { values: Option<Vec<T>> },
            Null(()),
        }
        Ok(match Repr::deserialize(d)? {
            Repr::List(values) => Values { values },
            Repr::Wrapped { values } => Values {
                values: values.unwrap_or_default(),
            },
            Repr::Null(()) => Values::default(),
        })
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

    #[test]
    fn values_accepts_null() {
        let v: Values<u8> = serde_json::from_str("null").expect("null");
        assert!(v.is_empty());
    }
}
