//! The event: an error, a message, or anything else that becomes an issue.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::breadcrumb::Breadcrumb;
use super::contexts::{self, Contexts};
use super::exception::Exception;
use super::ids;
use super::lenient::{self, Map, Values};
use super::level::Level;
use super::sdk::ClientSdkInfo;
use super::stacktrace::{Stacktrace, Thread};
use super::timestamp::Timestamp;
use super::user::{Request, User};

/// A log message with its template and parameters.
///
/// Grouping uses the template (`message`), so `params` never split an issue.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LogEntry {
    /// The raw template, e.g. `User %s not found`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The final text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// Template parameters (list or object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map,
}

/// An error or message event (PROTOCOL.md §5).
///
/// Every field an SDK sends that has no typed field here is kept in `other`
/// and written back, so nothing is lost when the receiver re-serialises.
///
/// ```
/// use sentry_core::protocol::{Event, Level};
/// let e: Event = serde_json::from_str(r#"{
///     "message": "hello", "level": "warning", "timestamp": "2024-01-01T00:00:00Z",
///     "tags": [["a", "b"]], "custom_key": 1
/// }"#).unwrap();
/// assert_eq!(e.level, Level::Warning);
/// assert_eq!(e.tags["a"], "b");
/// assert_eq!(e.other["custom_key"], 1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// 32 hex digits; generated when absent.
    #[serde(default = "Uuid::new_v4", with = "ids::uuid_simple")]
    pub event_id: Uuid,
    /// Severity (default error).
    #[serde(default = "error_level", deserialize_with = "level_or_error")]
    pub level: Level,
    /// Custom grouping (PROTOCOL.md §10.2).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::string_list"
    )]
    pub fingerprint: Vec<String>,
    /// Deprecated culprit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub culprit: Option<String>,
    /// Route or task name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<String>,
    /// Legacy plain message.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "message_text"
    )]
    pub message: Option<String>,
    /// The structured message.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "sentry.interfaces.Message"
    )]
    pub logentry: Option<LogEntry>,
    /// Logger name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<String>,
    /// Loaded modules and their versions.
    #[serde(
        default,
        skip_serializing_if = "lenient::map_empty",
        deserialize_with = "lenient::string_map"
    )]
    pub modules: BTreeMap<String, String>,
    /// Platform, e.g. `python`, `native`.
    #[serde(default = "default_platform", deserialize_with = "platform_or_other")]
    pub platform: String,
    /// When it happened.
    #[serde(default = "Timestamp::now")]
    pub timestamp: Timestamp,
    /// Host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Release, e.g. `app@1.0.0`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub release: Option<String>,
    /// Distribution of the release.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub dist: Option<String>,
    /// Environment, e.g. `production`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The affected user.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "sentry.interfaces.User"
    )]
    pub user: Option<User>,
    /// The HTTP request.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "sentry.interfaces.Http"
    )]
    pub request: Option<Request>,
    /// Contexts.
    #[serde(
        default,
        skip_serializing_if = "lenient::map_empty",
        deserialize_with = "contexts::deserialize_contexts",
        alias = "sentry.interfaces.Contexts"
    )]
    pub contexts: Contexts,
    /// Breadcrumbs, oldest first.
    #[serde(
        default,
        skip_serializing_if = "lenient::values_empty",
        deserialize_with = "lenient::null_default",
        alias = "sentry.interfaces.Breadcrumbs"
    )]
    pub breadcrumbs: Values<Breadcrumb>,
    /// Exceptions, root cause first.
    #[serde(
        default,
        skip_serializing_if = "lenient::values_empty",
        deserialize_with = "lenient::null_default",
        alias = "sentry.interfaces.Exception"
    )]
    pub exception: Values<Exception>,
    /// Deprecated top-level stack trace.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "sentry.interfaces.Stacktrace"
    )]
    pub stacktrace: Option<Stacktrace>,
    /// Threads.
    #[serde(
        default,
        skip_serializing_if = "lenient::values_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub threads: Values<Thread>,
    /// Tags (object or pair list on input).
    #[serde(
        default,
        skip_serializing_if = "lenient::map_empty",
        deserialize_with = "lenient::string_map"
    )]
    pub tags: BTreeMap<String, String>,
    /// Arbitrary extra data.
    #[serde(
        default,
        skip_serializing_if = "Map::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub extra: Map,
    /// The SDK that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<ClientSdkInfo>,
    /// Everything else the SDK sent.
    #[serde(flatten)]
    pub other: Map,
}

fn error_level() -> Level {
    Level::Error
}

fn level_or_error<'de, D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
    Ok(Option::<Level>::deserialize(d)?.unwrap_or(Level::Error))
}

fn default_platform() -> String {
    "other".to_owned()
}

const KNOWN_PLATFORMS: &[&str] = &[
    "as3",
    "c",
    "cfml",
    "cocoa",
    "csharp",
    "elixir",
    "go",
    "groovy",
    "haskell",
    "java",
    "javascript",
    "native",
    "node",
    "objc",
    "other",
    "perl",
    "php",
    "python",
    "ruby",
    "rust",
];

fn platform_or_other<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Option::<String>::deserialize(d)? {
        Some(p) if KNOWN_PLATFORMS.contains(&p.as_str()) => p,
        _ => default_platform(),
    })
}

fn message_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Object(mut m) => match m.remove("formatted").or_else(|| m.remove("message")) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        },
        other => Some(other.to_string()),
    })
}

impl Default for Event {
    fn default() -> Self {
        Event {
            event_id: super::new_uuid(),
            level: Level::Error,
            fingerprint: Vec::new(),
            culprit: None,
            transaction: None,
            message: None,
            logentry: None,
            logger: None,
            modules: BTreeMap::new(),
            platform: "native".to_owned(),
            timestamp: Timestamp::now(),
            server_name: None,
            release: None,
            dist: None,
            environment: None,
            user: None,
            request: None,
            contexts: Contexts::new(),
            breadcrumbs: Values::new(),
            exception: Values::new(),
            stacktrace: None,
            threads: Values::new(),
            tags: BTreeMap::new(),
            extra: Map::new(),
            sdk: None,
            other: Map::new(),
        }
    }
}

impl Event {
    /// The text a person reads first: the last exception as `Type: value`,
    /// else the formatted message.
    pub fn title(&self) -> String {
        if let Some(exc) = self.exception.values.last() {
            let value = exc
                .value
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("");
            return match (exc.ty.is_empty(), value.is_empty()) {
                (false, false) => format!("{}: {}", exc.ty, value),
                (false, true) => exc.ty.clone(),
                (true, _) => value.to_owned(),
            };
        }
        let msg = self
            .logentry
            .as_ref()
            .and_then(|l| l.formatted.as_deref().or(l.message.as_deref()))
            .or(self.message.as_deref())
            .unwrap_or("");
        match msg.lines().next() {
            Some(l) if !l.is_empty() => l.to_owned(),
            _ => "<unlabeled event>".to_owned(),
        }
    }
}
