//! Contexts: structured information about the device, OS, runtime, app and trace.

use std::collections::BTreeMap;

use std::borrow::Cow;

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ids::{SpanId, TraceId};
use super::lenient::{self, Map};
use super::span::SpanStatus;

/// The `contexts` map: alias → context. The alias is usually the type name.
pub type Contexts = BTreeMap<String, Context>;

macro_rules! context_struct {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            /// Everything else the SDK sent.
            #[serde(flatten)]
            pub other: Map,
        }
    };
}

context_struct!(
    /// The operating system (`os`).
    OsContext {
        /// e.g. `Linux`.
        name: String,
        /// e.g. `6.1`.
        version: String,
        /// Build identifier.
        build: String,
        /// Kernel version.
        kernel_version: String,
        /// Unparsed description.
        raw_description: String,
    }
);

context_struct!(
    /// The language runtime (`runtime`).
    RuntimeContext {
        /// e.g. `rustc`.
        name: String,
        /// e.g. `1.80.0`.
        version: String,
        /// Unparsed description.
        raw_description: String,
    }
);

context_struct!(
    /// The machine (`device`).
    DeviceContext {
        /// Device name.
        name: String,
        /// Family, e.g. `Desktop`.
        family: String,
        /// Model.
        model: String,
        /// CPU architecture.
        arch: String,
        /// Total memory in bytes.
        memory_size: u64,
        /// Free memory in bytes.
        free_memory: u64,
        /// Logical CPU count.
        processor_count: u64,
        /// CPU model text.
        cpu_description: String,
        /// When the device booted (RFC 3339).
        boot_time: String,
    }
);

context_struct!(
    /// The application (`app`).
    AppContext {
        /// When the app started (RFC 3339).
        app_start_time: String,
        /// Application name.
        app_name: String,
        /// Application version.
        app_version: String,
        /// Build identifier.
        app_build: String,
        /// Application identifier.
        app_identifier: String,
        /// Build type, e.g. `debug`.
        build_type: String,
        /// Memory used by the app in bytes.
        app_memory: u64,
    }
);

context_struct!(
    /// The browser (`browser`).
    BrowserContext {
        /// Browser name.
        name: String,
        /// Browser version.
        version: String,
    }
);

/// The trace context: links an event to a trace, and for transactions holds
/// the root span.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceContext {
    /// The trace this belongs to.
    #[serde(default)]
    pub trace_id: TraceId,
    /// The active span (root span for transactions).
    #[serde(default)]
    pub span_id: SpanId,
    /// The parent span, when continued from upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<SpanId>,
    /// The operation, e.g. `http.server` (a `Cow`, so a literal costs no
    /// allocation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Cow<'static, str>>,
    /// Description of the root span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Status of the root span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SpanStatus>,
    /// Origin, e.g. `manual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Arbitrary data.
    #[serde(
        default,
        skip_serializing_if = "Map::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub data: Map,
    /// Everything else the SDK sent.
    #[serde(flatten)]
    pub other: Map,
}

/// One context value, typed when the type is known.
///
/// ```
/// use sentry_core::protocol::{Context, Contexts, OsContext};
/// let mut c = Contexts::new();
/// c.insert("os".into(), Context::Os(OsContext { name: Some("Linux".into()), ..Default::default() }));
/// let v = serde_json::to_value(&c).unwrap();
/// assert_eq!(v["os"]["type"], "os");
/// let back: Contexts = serde_json::from_value(v).unwrap();
/// assert_eq!(back, c);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Context {
    /// `os` (also `client_os`).
    Os(OsContext),
    /// `runtime`.
    Runtime(RuntimeContext),
    /// `device`.
    Device(DeviceContext),
    /// `app`.
    App(AppContext),
    /// `browser`.
    Browser(BrowserContext),
    /// `trace`.
    Trace(TraceContext),
    /// Any other type, kept verbatim (its `type` field included when sent):
    /// also a known type whose payload does not fit it, and an object whose
    /// `type` is not a string.
    Other(Map),
    /// A context that is not an object (a string, number, array or `true`/
    /// `false`), kept as it was sent. `null` contexts are dropped when an
    /// event is read.
    Raw(Value),
}

impl Context {
    /// The type name written to the wire.
    pub fn type_name(&self) -> Option<&str> {
        Some(match self {
            Context::Os(_) => "os",
            Context::Runtime(_) => "runtime",
            Context::Device(_) => "device",
            Context::App(_) => "app",
            Context::Browser(_) => "browser",
            Context::Trace(_) => "trace",
            Context::Other(m) => return m.get("type").and_then(Value::as_str),
            Context::Raw(_) => return None,
        })
    }

    /// Decodes one context; `alias` is its key in the map, the default type
    /// (also when `type` is `null`).
    ///
    /// A `type` that is not a non-empty string counts as absent, as Relay
    /// reads it: the alias types the context. What is not one of the typed
    /// contexts is kept so that it is written back as it was read: a payload
    /// that does not fit its type, or an unknown type, as
    /// [`Context::Other`] (with its original `type`); a value that is not
    /// an object as [`Context::Raw`].
    ///
    /// ```
    /// use sentry_core::protocol::Context;
    /// use serde_json::json;
    /// let c = Context::from_value("os", json!({"type": 7, "name": "Linux"}));
    /// assert!(matches!(c, Context::Os(_)));
    /// let odd = json!({"type": 7, "name": "X"});
    /// let c = Context::from_value("gpu", odd.clone());
    /// assert!(matches!(c, Context::Other(_)));
    /// assert_eq!(serde_json::to_value(&c).unwrap(), odd);
    /// let c = Context::from_value("build", json!("nightly"));
    /// assert_eq!(c, Context::Raw(json!("nightly")));
    /// assert_eq!(serde_json::to_value(&c).unwrap(), json!("nightly"));
    /// ```
    pub fn from_value(alias: &str, value: Value) -> Context {
        #[derive(Clone, Copy)]
        enum Kind {
            Os,
            Runtime,
            Device,
            App,
            Browser,
            Trace,
        }
        fn kind(ty: &str) -> Option<Kind> {
            Some(match ty {
                "os" => Kind::Os,
                "runtime" => Kind::Runtime,
                "device" => Kind::Device,
                "app" => Kind::App,
                "browser" => Kind::Browser,
                "trace" => Kind::Trace,
                _ => return None,
            })
        }
        fn typed<T: serde::de::DeserializeOwned>(map: &Map) -> Option<T> {
            T::deserialize(serde::de::value::MapDeserializer::new(
                map.iter().map(|(k, v)| (k.as_str(), v)),
            ))
            .ok()
        }
        let Value::Object(mut map) = value else {
            return Context::Raw(value);
        };
        let kind = match map.get("type") {
            Some(Value::String(ty)) if !ty.is_empty() => kind(ty),
            // Absent, `null`, empty, a number, object, array or bool: the
            // alias is the type (Relay's `is_valid_context_type`), so a
            // trace context with a stray `type` still links its trace.
            _ => kind(alias),
        };
        let Some(kind) = kind else {
            return Context::Other(map);
        };
        // The typed structs do not hold `type`: it is written from the
        // variant, so a typed context under a different alias keeps working.
        let ty = map.remove("type");
        let parsed = match kind {
            Kind::Os => typed(&map).map(Context::Os),
            Kind::Runtime => typed(&map).map(Context::Runtime),
            Kind::Device => typed(&map).map(Context::Device),
            Kind::App => typed(&map).map(Context::App),
            Kind::Browser => typed(&map).map(Context::Browser),
            Kind::Trace => typed(&map).map(Context::Trace),
        };
        parsed.unwrap_or_else(|| {
            if let Some(ty) = ty {
                map.insert("type".to_owned(), ty);
            }
            Context::Other(map)
        })
    }
}

impl Serialize for Context {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        fn with_type<S: Serializer, T: Serialize>(
            s: S,
            ty: &str,
            v: &T,
        ) -> Result<S::Ok, S::Error> {
            let value = serde_json::to_value(v).map_err(serde::ser::Error::custom)?;
            let Value::Object(map) = value else {
                return Err(serde::ser::Error::custom("context is not an object"));
            };
            let mut m = s.serialize_map(Some(map.len() + 1))?;
            m.serialize_entry("type", ty)?;
            for (k, v) in &map {
                m.serialize_entry(k, v)?;
            }
            m.end()
        }
        match self {
            Context::Os(c) => with_type(s, "os", c),
            Context::Runtime(c) => with_type(s, "runtime", c),
            Context::Device(c) => with_type(s, "device", c),
            Context::App(c) => with_type(s, "app", c),
            Context::Browser(c) => with_type(s, "browser", c),
            Context::Trace(c) => with_type(s, "trace", c),
            Context::Other(m) => m.serialize(s),
            Context::Raw(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Context {
    /// Types the context by its `type` field. (Inside an event the map key
    /// also serves as the default type; see [`Context::from_value`].)
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(Context::from_value("", value))
    }
}

/// Deserialises a contexts map, typing each entry by its `type` or alias.
pub(crate) fn deserialize_contexts<'de, D: Deserializer<'de>>(d: D) -> Result<Contexts, D::Error> {
    let raw = Option::<Map>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let c = Context::from_value(&k, v);
            (k, c)
        })
        .collect())
}

macro_rules! from_ctx {
    ($($t:ident => $v:ident),*) => {$(
        impl From<$t> for Context {
            fn from(c: $t) -> Context { Context::$v(c) }
        }
    )*};
}
from_ctx!(OsContext => Os, RuntimeContext => Runtime, DeviceContext => Device,
    AppContext => App, BrowserContext => Browser, TraceContext => Trace, Map => Other);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_context_with_misplaced_dashes_in_its_ids_is_kept_untyped() {
        let typed = |trace_id: &str, span_id: &str| {
            let v = serde_json::json!({"trace": {"trace_id": trace_id, "span_id": span_id}});
            let c: Contexts = deserialize_contexts(v).expect("contexts");
            matches!(c["trace"], Context::Trace(_))
        };
        assert!(typed(
            "771a43a4192642f0b136d5159a501700",
            "b0e6f15b45c36b12"
        ));
        assert!(typed(
            "771a43a4-1926-42f0-b136-d5159a501700",
            "b0e6f15b45c36b12"
        ));
        assert!(!typed(
            "771a43a4192642f0b136d5159a501700",
            "b0e6-f15b45c36b12"
        ));
        assert!(!typed(
            "771a-43a4192642f0b136d5159a501700",
            "b0e6f15b45c36b12"
        ));
    }

    #[test]
    fn unknown_and_malformed_contexts_are_kept() {
        let v: Value = serde_json::json!({
            "os": {"name": "Linux", "extra_field": 1},
            "gpu": {"name": "X", "type": "gpu"},
            "weird": {"type": "device", "memory_size": "not a number"},
            "character": {"name": "Mighty Fighter"}
        });
        let c: Contexts = deserialize_contexts(v.clone()).expect("contexts");
        assert!(matches!(c["os"], Context::Os(ref o) if o.other["extra_field"] == 1));
        assert!(matches!(c["gpu"], Context::Other(_)));
        assert!(matches!(c["weird"], Context::Other(_)));
        let back = serde_json::to_value(&c).expect("ser");
        assert_eq!(back["weird"]["memory_size"], "not a number");
        assert_eq!(back["weird"]["type"], "device");
        assert_eq!(back["character"]["name"], "Mighty Fighter");
        assert_eq!(back["os"]["type"], "os");
    }

    #[test]
    fn odd_shapes_round_trip_unchanged() {
        let odd = serde_json::json!({
            // A `type` that is not a string, under unknown aliases.
            "gpu": {"type": ["gpu"], "name": "X"},
            "culture": {"type": 7, "locale": "fr"},
            // A payload that does not fit its type keeps its odd `type`.
            "os": {"type": 7, "name": 5},
            // Not objects.
            "build": "nightly",
            "count": 3,
            "flag": true,
            "list": [1, {"a": 2}],
        });
        let c: Contexts = deserialize_contexts(odd.clone()).expect("contexts");
        assert!(matches!(c["gpu"], Context::Other(_)));
        assert!(matches!(c["os"], Context::Other(_)));
        assert_eq!(c["build"], Context::Raw(Value::from("nightly")));
        assert_eq!(c["gpu"].type_name(), None);
        assert_eq!(c["build"].type_name(), None);
        assert_eq!(serde_json::to_value(&c).expect("ser"), odd);

        // Through a whole event too, and a second time.
        let event = serde_json::json!({"event_id": "0123456789abcdef0123456789abcdef",
                                       "contexts": odd});
        let parsed: crate::protocol::Event = serde_json::from_value(event).expect("event");
        let once = serde_json::to_value(&parsed).expect("ser");
        assert_eq!(once["contexts"], odd);
        let again: crate::protocol::Event = serde_json::from_value(once.clone()).expect("event");
        assert_eq!(serde_json::to_value(&again).expect("ser"), once);
    }

    #[test]
    fn a_type_that_is_not_a_non_empty_string_is_the_alias() {
        // As Relay reads it: an SDK's stray `type` on a trace context must
        // not unlink the trace.
        let v = serde_json::json!({
            "trace": {"type": {"nested": 1}, "trace_id": "0123456789abcdef0123456789abcdef",
                      "span_id": "0123456789abcdef"},
            "os": {"type": 7, "name": "Linux"},
            "app": {"type": false},
            "runtime": {"type": ""},
            "device": {"type": null, "arch": "x86_64"},
        });
        let c: Contexts = deserialize_contexts(v).expect("contexts");
        assert!(
            matches!(&c["trace"], Context::Trace(t) if t.span_id.to_string() == "0123456789abcdef")
        );
        assert!(matches!(&c["os"], Context::Os(o) if o.name.as_deref() == Some("Linux")));
        assert!(matches!(&c["app"], Context::App(_)));
        assert!(matches!(&c["runtime"], Context::Runtime(_)));
        assert!(matches!(&c["device"], Context::Device(_)));
        let back = serde_json::to_value(&c).expect("ser");
        assert_eq!(back["os"]["type"], "os");
        assert_eq!(back["trace"]["type"], "trace");
    }

    #[test]
    fn typed_contexts_still_typed() {
        let v = serde_json::json!({
            "os": {"type": "os", "name": "Linux"},
            "host": {"type": "os", "name": "Darwin"},
            "runtime": {"name": "rustc"},
            "device": {"type": null, "arch": "x86_64"},
            "trace": {"trace_id": "0123456789abcdef0123456789abcdef",
                      "span_id": "0123456789abcdef", "op": "task"},
        });
        let c: Contexts = deserialize_contexts(v).expect("contexts");
        assert!(matches!(&c["os"], Context::Os(o) if o.name.as_deref() == Some("Linux")));
        assert!(matches!(&c["host"], Context::Os(o) if o.name.as_deref() == Some("Darwin")));
        assert!(matches!(&c["runtime"], Context::Runtime(_)));
        assert!(matches!(&c["device"], Context::Device(d) if d.arch.as_deref() == Some("x86_64")));
        assert!(matches!(&c["trace"], Context::Trace(t) if t.op.as_deref() == Some("task")));
        let back = serde_json::to_value(&c).expect("ser");
        assert_eq!(back["host"]["type"], "os");
        assert_eq!(back["runtime"]["type"], "runtime");
        // A standalone context is typed by its `type` alone.
        let one: Context =
            serde_json::from_value(serde_json::json!({"type": "browser", "name": "Firefox"}))
                .expect("context");
        assert!(matches!(one, Context::Browser(_)));
        let raw: Context = serde_json::from_value(serde_json::json!(["a"])).expect("context");
        assert_eq!(raw, Context::Raw(serde_json::json!(["a"])));
    }
}
