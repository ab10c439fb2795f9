//! The grouping component tree, its hash and its JSON explanation.
//!
//! A component is a node such as `exception`, `stacktrace`, `frame` or
//! `function`. Leaves carry the string values that may end up in the hash.
//! Every node records whether it *contributes* and, if not, a hint saying
//! why. Like Sentry, a parent's `contributes` flag is computed from its
//! children when the parent is built, and only contributing nodes are
//! descended into when the hash is computed (PROTOCOL.md §10.1 step 6).

use std::borrow::Cow;
use std::rc::Rc;

use md5::{Digest, Md5};
use serde_json::{json, Map, Value};

/// The payload of a component.
#[derive(Debug, Clone)]
pub(crate) enum Content<'a> {
    /// No values (never contributes on its own).
    Empty,
    /// One leaf value.
    One(Cow<'a, str>),
    /// Two leaf values (the `ns-error` domain and code).
    Two(Cow<'a, str>, Cow<'a, str>),
    /// Child components, shared: the `app` variant of a stack trace is the
    /// `system` one with some frames excluded, and cloning a frame must not
    /// copy its subtree.
    Children(Rc<Vec<Component<'a>>>),
}

/// One node of the grouping tree.
#[derive(Debug, Clone)]
pub(crate) struct Component<'a> {
    /// The component id (`frame`, `function`, `exception`, ...).
    pub id: &'static str,
    /// Whether this node (and so the contributing part of its subtree)
    /// goes into the hash.
    pub contributes: bool,
    /// Why the node does not contribute, or how its value was changed.
    pub hint: Option<Cow<'static, str>>,
    /// Values or children.
    pub content: Content<'a>,
    /// For frames: the line number, shown in the explanation only (line
    /// numbers never contribute).
    pub lineno: Option<u64>,
}

impl<'a> Component<'a> {
    /// A component without values (does not contribute).
    pub fn empty(id: &'static str) -> Self {
        Component {
            id,
            contributes: false,
            hint: None,
            content: Content::Empty,
            lineno: None,
        }
    }

    /// A leaf with one value (contributes).
    pub fn leaf(id: &'static str, value: Cow<'a, str>) -> Self {
        Component {
            id,
            contributes: true,
            hint: None,
            content: Content::One(value),
            lineno: None,
        }
    }

    /// A node whose `contributes` flag is computed from its children.
    pub fn node(id: &'static str, children: Vec<Component<'a>>) -> Self {
        let contributes = children.iter().any(|c| c.contributes);
        Component {
            id,
            contributes,
            hint: None,
            content: Content::Children(Rc::new(children)),
            lineno: None,
        }
    }

    /// Marks the node as not contributing, with a reason.
    pub fn exclude(&mut self, hint: impl Into<Cow<'static, str>>) {
        self.contributes = false;
        self.hint = Some(hint.into());
    }

    /// Replaces the single value (e.g. after cleaning it) with a hint. Like
    /// Sentry's `update(values=...)`, this recomputes `contributes`: a leaf
    /// with a value contributes again.
    pub fn set_value(&mut self, value: Cow<'a, str>, hint: &'static str) {
        self.content = Content::One(value);
        self.contributes = true;
        self.hint = Some(Cow::Borrowed(hint));
    }

    /// The children, if this is a node.
    pub fn children(&self) -> &[Component<'a>] {
        match &self.content {
            Content::Children(c) => c,
            _ => &[],
        }
    }

    /// Calls `f` with every contributing leaf value, in tree order.
    pub fn for_each_value<'s>(&'s self, f: &mut impl FnMut(&'s str)) {
        if !self.contributes {
            return;
        }
        match &self.content {
            Content::Empty => {}
            Content::One(v) => f(v),
            Content::Two(a, b) => {
                f(a);
                f(b);
            }
            Content::Children(children) => {
                for c in children.iter() {
                    c.for_each_value(f);
                }
            }
        }
    }

    /// Whether both nodes contribute and their contributing values
    /// concatenate to the same bytes (that is, they have the same hash),
    /// without hashing.
    pub fn same_hash(&self, other: &Component<'_>) -> bool {
        if !self.contributes || !other.contributes {
            return false;
        }
        let mut a = Vec::new();
        self.for_each_value(&mut |v| a.push(v));
        let mut b = Vec::new();
        other.for_each_value(&mut |v| b.push(v));
        let len = |l: &[&str]| l.iter().map(|s| s.len()).sum::<usize>();
        len(&a) == len(&b)
            && a.iter()
                .flat_map(|s| s.bytes())
                .eq(b.iter().flat_map(|s| s.bytes()))
    }

    /// The raw md5 digest of the contributing values, or `None` if the node
    /// does not contribute.
    pub fn digest(&self) -> Option<[u8; 16]> {
        if !self.contributes {
            return None;
        }
        Some(super::md5_memo::md5_of(|f| {
            self.for_each_value(&mut |v| f(v))
        }))
    }

    /// The md5 hex of the contributing values and the values themselves.
    pub fn hash_with_inputs(&self) -> (String, Vec<String>) {
        let mut md5 = Md5::new();
        let mut inputs = Vec::new();
        self.for_each_value(&mut |v| {
            md5.update(v.as_bytes());
            inputs.push(v.to_owned());
        });
        (hex(md5.finalize().into()), inputs)
    }

    /// The contributing leaf values, in tree order.
    #[cfg(test)]
    pub fn values(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_value(&mut |v| out.push(v.to_owned()));
        out
    }

    /// Whether a contributing `id` component is reachable from this node
    /// through contributing nodes only (Sentry's
    /// `iter_subcomponents(id, recursive=True, only_contributing=True)`;
    /// the node's own flag is not checked).
    pub fn has_contributing(&self, id: &str) -> bool {
        self.children()
            .iter()
            .any(|c| c.contributes && (c.id == id || c.has_contributing(id)))
    }

    /// The explanation of this subtree: `{id, contributes, hint?, values}`
    /// where `values` holds child nodes and leaf strings.
    ///
    /// Below a node that does not contribute only one level is listed: its
    /// children appear with their hints and leaf values, but without
    /// `values` when they have children of their own (the hint says why the
    /// subtree does not count). Frames carry a non-contributing `lineno`
    /// node.
    pub fn to_json(&self) -> Value {
        self.to_json_inner(true)
    }

    fn to_json_inner(&self, expand: bool) -> Value {
        let mut map = Map::new();
        map.insert("id".into(), Value::from(self.id));
        map.insert("contributes".into(), Value::from(self.contributes));
        if let Some(hint) = &self.hint {
            map.insert("hint".into(), Value::from(hint.as_ref()));
        }
        let values = match &self.content {
            Content::Empty => Some(Vec::new()),
            Content::One(v) => Some(vec![Value::from(v.as_ref())]),
            Content::Two(a, b) => Some(vec![Value::from(a.as_ref()), Value::from(b.as_ref())]),
            Content::Children(children) if expand => {
                let expand_children = self.contributes;
                let mut values: Vec<Value> = children
                    .iter()
                    .map(|c| c.to_json_inner(expand_children))
                    .collect();
                if let Some(lineno) = self.lineno {
                    values.push(json!({
                        "id": "lineno",
                        "contributes": false,
                        "hint": "line numbers never contribute",
                        "values": [lineno.to_string()],
                    }));
                }
                Some(values)
            }
            Content::Children(_) => None,
        };
        if let Some(values) = values {
            map.insert("values".into(), Value::Array(values));
        }
        Value::Object(map)
    }
}

/// Lowercase hex of an md5 digest.
pub(crate) fn hex(digest: [u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(32);
    for b in digest {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// md5 hex of the concatenation of `values` (Sentry's `hash_from_values`).
pub(crate) fn hash_values<'v>(values: impl IntoIterator<Item = &'v str>) -> String {
    let mut md5 = Md5::new();
    for v in values {
        md5.update(v.as_bytes());
    }
    hex(md5.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_skips_non_contributing_subtrees() {
        let mut excluded = Component::leaf("value", "b".into());
        excluded.exclude("ignored");
        let root = Component::node(
            "exception",
            vec![
                Component::leaf("type", "a".into()),
                excluded,
                Component::leaf("x", "c".into()),
            ],
        );
        assert_eq!(root.values(), vec!["a", "c"]);
        assert_eq!(root.digest().map(hex), Some(hash_values(["ac"])));
        assert_eq!(hash_values([]), "d41d8cd98f00b204e9800998ecf8427e");
        // RFC 1321's test vectors: stored hashes must not depend on which
        // md5 implementation computed them.
        assert_eq!(hash_values(["a", "bc"]), "900150983cd24fb0d6963f7d28e17f72");
        let digits = "1234567890".repeat(8);
        assert_eq!(
            hash_values([&digits[..30], &digits[30..]]),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn parent_flag_is_computed_from_children_at_build_time() {
        let node = Component::node("frame", vec![Component::empty("module")]);
        assert!(!node.contributes);
        assert_eq!(node.digest(), None);
        let json = node.to_json();
        assert_eq!(json["values"][0]["id"], "module");
        // Below a non-contributing node, grandchildren are not listed.
        let outer = Component::node("exception", vec![node.clone()]);
        assert_eq!(outer.to_json()["values"][0]["values"], Value::Null);
        assert_eq!(outer.to_json()["values"][0]["id"], "frame");
    }
}
