//! Maps that cost nothing while empty.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::lenient::Map;

/// A map that is not there until something is inserted.
///
/// A span carries three maps (`tags`, `data` and the unknown fields) and a
/// breadcrumb two, usually empty. Dropping an empty `BTreeMap` still walks
/// its iterator machinery out of line; dropping an empty `OptMap` is one
/// branch. It is one pointer wide (the map is boxed when it exists), so a
/// breadcrumb fits in 104 bytes and moves without a `memcpy` call. It reads like the map it holds (`Deref`) and creates it on the
/// first write (`DerefMut`), so `span.data.insert(k, v)`,
/// `span.data["k"]` and `span.data.is_empty()` work as on a map.
///
/// ```
/// use sentry_core::protocol::{OptMap, Span};
/// let mut span = Span::default();
/// assert!(span.data.is_empty());
/// span.data.insert("rows".into(), 3.into());
/// assert_eq!(span.data["rows"], 3);
/// let back: Span = serde_json::from_value(serde_json::to_value(&span).unwrap()).unwrap();
/// assert_eq!(back, span);
/// let tags: OptMap<std::collections::BTreeMap<String, String>> = Default::default();
/// assert_eq!(tags.len(), 0);
/// ```
#[derive(Clone, Default)]
pub struct OptMap<M>(Option<Box<M>>);

/// The map types an [`OptMap`] can hold: each has a shared empty value to
/// read while nothing is stored.
pub trait EmptyMap: Default + 'static {
    /// A shared empty map.
    fn empty() -> &'static Self;
    /// Whether this map is empty.
    fn is_empty_map(&self) -> bool;
}

impl EmptyMap for BTreeMap<String, String> {
    fn empty() -> &'static Self {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        &EMPTY
    }
    fn is_empty_map(&self) -> bool {
        self.is_empty()
    }
}

impl EmptyMap for Map {
    fn empty() -> &'static Self {
        static EMPTY: LazyLock<Map> = LazyLock::new(Map::new);
        &EMPTY
    }
    fn is_empty_map(&self) -> bool {
        self.is_empty()
    }
}

impl<M: EmptyMap> OptMap<M> {
    /// An empty map (allocates nothing).
    pub const fn new() -> Self {
        OptMap(None)
    }

    /// The map, leaving this one empty.
    pub fn take(&mut self) -> M {
        self.0.take().map(|m| *m).unwrap_or_default()
    }

    /// The map itself.
    pub fn into_inner(self) -> M {
        self.0.map(|m| *m).unwrap_or_default()
    }
}

impl<M: EmptyMap> Deref for OptMap<M> {
    type Target = M;
    #[inline]
    fn deref(&self) -> &M {
        match &self.0 {
            Some(map) => map,
            None => M::empty(),
        }
    }
}

impl<M: EmptyMap> DerefMut for OptMap<M> {
    #[inline]
    fn deref_mut(&mut self) -> &mut M {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<M: EmptyMap> From<M> for OptMap<M> {
    fn from(map: M) -> Self {
        OptMap((!map.is_empty_map()).then(|| Box::new(map)))
    }
}

impl<M: EmptyMap + PartialEq> PartialEq for OptMap<M> {
    /// Equal when the maps are: an absent map equals an empty one.
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<M: EmptyMap + fmt::Debug> fmt::Debug for OptMap<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<M: EmptyMap + Serialize> Serialize for OptMap<M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de, M: EmptyMap + Deserialize<'de>> Deserialize<'de> for OptMap<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        M::deserialize(d).map(OptMap::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_and_empty_are_equal_and_serialise_alike() {
        let absent: OptMap<Map> = OptMap::new();
        let empty: OptMap<Map> = OptMap(Some(Box::default()));
        assert_eq!(absent, empty);
        assert_eq!(serde_json::to_string(&absent).unwrap(), "{}");
        assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
    }

    #[test]
    fn first_write_creates_the_map() {
        let mut tags: OptMap<BTreeMap<String, String>> = OptMap::new();
        assert!(tags.0.is_none());
        tags.insert("a".into(), "b".into());
        assert_eq!(tags.get("a").map(String::as_str), Some("b"));
        assert_eq!(tags.take().len(), 1);
        assert!(tags.is_empty());
    }
}
