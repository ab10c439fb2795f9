//! The user and request interfaces.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::lenient::{self, Map};

/// The user affected by an event. Unknown keys are kept in `other`.
///
/// ```
/// use sentry_core::protocol::User;
/// let u: User = serde_json::from_str(r#"{"id": 42, "email": "a@b.c"}"#).unwrap();
/// assert_eq!(u.id.as_deref(), Some("42"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct User {
    /// Unique id (numbers are coerced to strings).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub id: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// IP address, or `{{auto}}` for the receiver to fill in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Username.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub username: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Everything else the SDK sent (`geo`, `data`, custom keys).
    #[serde(flatten)]
    pub other: Map,
}

/// The HTTP request an event happened in.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Request {
    /// The URL, without the query string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The body (string or JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// The query string (objects and pair lists are encoded as `k=v&…`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "query_like"
    )]
    pub query_string: Option<String>,
    /// Cookies (as sent: a string, object or pair list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookies: Option<Value>,
    /// Headers (an object or a list of pairs on input).
    #[serde(
        default,
        skip_serializing_if = "lenient::map_empty",
        deserialize_with = "lenient::string_map"
    )]
    pub headers: BTreeMap<String, String>,
    /// CGI-style environment, e.g. `REMOTE_ADDR`.
    #[serde(
        default,
        skip_serializing_if = "Map::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub env: Map,
    /// Everything else the SDK sent.
    #[serde(flatten)]
    pub other: Map,
}

fn query_like<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Object(m) => Some(
            m.into_iter()
                .filter_map(|(k, v)| lenient::scalar_to_string(v).map(|v| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join("&"),
        ),
        Value::Array(pairs) => Some(
            pairs
                .into_iter()
                .filter_map(|p| match p {
                    Value::Array(mut kv) if kv.len() == 2 => {
                        let v = lenient::scalar_to_string(kv.pop()?)?;
                        let k = lenient::scalar_to_string(kv.pop()?)?;
                        Some(format!("{k}={v}"))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("&"),
        ),
        other => Some(other.to_string()),
    })
}
