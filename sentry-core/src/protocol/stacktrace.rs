//! Stack traces, frames and threads.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::lenient::{self, Map, Values};

/// One stack frame. Frames are ordered oldest (outermost caller) first.
///
/// ```
/// use sentry_core::protocol::Frame;
/// let f = Frame { function: Some("main".into()), lineno: Some(3), ..Default::default() };
/// assert_eq!(serde_json::to_value(&f).unwrap()["lineno"], 3);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Frame {
    /// The (possibly demangled and shortened) function name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The original function name before shortening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_function: Option<String>,
    /// The mangled symbol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// Platform module path (`foo::bar`, `foo.bar`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Containing package or library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Project-relative file path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Absolute file path or URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abs_path: Option<String>,
    /// 1-based line number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineno: Option<u64>,
    /// 1-based column number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colno: Option<u64>,
    /// Source lines before `context_line`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub pre_context: Vec<String>,
    /// The source line of `lineno`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_line: Option<String>,
    /// Source lines after `context_line`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub post_context: Vec<String>,
    /// Whether the frame belongs to the application (vs a library).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_app: Option<bool>,
    /// Local variables.
    #[serde(
        default,
        skip_serializing_if = "Map::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub vars: Map,
    /// Instruction address (`0x…`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub instruction_addr: Option<String>,
    /// Per-frame platform override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Everything else the SDK sent.
    #[serde(flatten)]
    pub other: Map,
}

/// A stack trace: `frames` oldest first, the crashing frame last.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Stacktrace {
    /// The frames, oldest first.
    #[serde(default, deserialize_with = "frames")]
    pub frames: Vec<Frame>,
    /// Register values.
    #[serde(
        default,
        skip_serializing_if = "lenient::map_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub registers: BTreeMap<String, serde_json::Value>,
    /// Everything else the SDK sent.
    #[serde(flatten)]
    pub other: Map,
}

/// Frames arrive as a list or (rarely) as `{values: [...]}`.
fn frames<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Frame>, D::Error> {
    Ok(Option::<Values<Frame>>::deserialize(d)?
        .map(|v| v.values)
        .unwrap_or_default())
}

/// A thread id: a number or a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ThreadId {
    /// Numeric id.
    Int(u64),
    /// Textual id.
    String(String),
}

/// A thread, possibly with its stack trace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Thread {
    /// The thread id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ThreadId>,
    /// The thread name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its stack trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<Stacktrace>,
    /// Whether this thread crashed.
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        deserialize_with = "lenient::null_default"
    )]
    pub crashed: bool,
    /// Whether this thread was current when the event was captured.
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        deserialize_with = "lenient::null_default"
    )]
    pub current: bool,
    /// Whether this is the main thread.
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        deserialize_with = "lenient::null_default"
    )]
    pub main: bool,
    /// Everything else the SDK sent.
    #[serde(flatten)]
    pub other: Map,
}
