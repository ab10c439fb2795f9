//! Stack traces, frames and threads.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor};
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
        deserialize_with = "frame_lines"
    )]
    pub pre_context: Vec<String>,
    /// The source line of `lineno`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_line: Option<String>,
    /// Source lines after `context_line`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "frame_lines"
    )]
    pub post_context: Vec<String>,
    /// Whether the frame belongs to the application (vs a library).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_app: Option<bool>,
    /// Local variables.
    #[serde(
        default,
        skip_serializing_if = "Map::is_empty",
        deserialize_with = "frame_vars"
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

/// How a [`Frame`] reads its `vars`, `pre_context` and `post_context`
/// (see [`reading_frame_context`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameContext {
    /// Built: the default.
    Whole,
    /// Checked to be what a whole read accepts (an object, a list of
    /// strings, or `null`), but not built: the fields stay empty.
    Checked,
    /// Checked to be JSON only: a wrong type passes, and so does what a
    /// checked read refuses inside a string (a lone surrogate). For a
    /// reader that must get past damage there and knows what it gives up.
    Ignored,
}

thread_local! {
    static FRAME_CONTEXT: Cell<FrameContext> = const { Cell::new(FrameContext::Whole) };
}

/// Runs `f` with every [`Frame`] deserialised on this thread reading its
/// context as `how` says; the previous way comes back when `f` returns or
/// unwinds, so calls may nest.
///
/// For a reader that needs where a frame is but not what surrounds it: a
/// receiver that groups an event and keeps its original bytes saves
/// allocating every local variable and source line.
///
/// ```
/// use sentry_core::protocol::{reading_frame_context, Frame, FrameContext};
///
/// let json = r#"{"function":"f","lineno":3,"vars":{"x":1},"pre_context":["a"]}"#;
/// let lean: Frame = reading_frame_context(FrameContext::Checked, || serde_json::from_str(json))?;
/// assert_eq!((lean.function.as_deref(), lean.lineno), (Some("f"), Some(3)));
/// assert!(lean.vars.is_empty() && lean.pre_context.is_empty());
/// let full: Frame = serde_json::from_str(json)?;
/// assert_eq!((full.vars.len(), full.pre_context.len()), (1, 1));
///
/// let odd = r#"{"function":"f","vars":5,"pre_context":["\ud800"]}"#;
/// let checked = reading_frame_context(FrameContext::Checked, || serde_json::from_str::<Frame>(odd));
/// assert!(checked.is_err());
/// let ignored: Frame = reading_frame_context(FrameContext::Ignored, || serde_json::from_str(odd))?;
/// assert_eq!(ignored.function.as_deref(), Some("f"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn reading_frame_context<R>(how: FrameContext, f: impl FnOnce() -> R) -> R {
    struct Restore(FrameContext);
    impl Drop for Restore {
        fn drop(&mut self) {
            FRAME_CONTEXT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(FRAME_CONTEXT.with(|c| c.replace(how)));
    f()
}

/// `pre_context` and `post_context`: see [`frame_context`].
fn frame_lines<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    frame_context(d, Shape::Lines)
}

/// `vars`: see [`frame_context`].
fn frame_vars<'de, D: Deserializer<'de>>(d: D) -> Result<Map, D::Error> {
    frame_context(d, Shape::Object)
}

/// A frame-context field, `null`-tolerant, read as
/// [`reading_frame_context`] says: built, checked to have `shape` (empty
/// then), or only skipped (empty too).
fn frame_context<'de, D, T>(d: D, shape: Shape) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    match FRAME_CONTEXT.with(Cell::get) {
        FrameContext::Whole => lenient::null_default(d),
        FrameContext::Checked => d.deserialize_option(shape).map(|()| T::default()),
        FrameContext::Ignored => IgnoredAny::deserialize(d).map(|_| T::default()),
    }
}

/// What a skipped frame-context value must be (`null`, or an object for
/// `vars`, a list of strings for the source lines), so that whatever a
/// skipping read accepts, a full read accepts too. Nothing is built.
#[derive(Clone, Copy)]
enum Shape {
    Object,
    Lines,
    Line,
}

impl<'de> DeserializeSeed<'de> for Shape {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Shape {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Shape::Object => "an object",
            Shape::Lines => "a list of strings",
            Shape::Line => "a string",
        })
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        match self {
            Shape::Line => Err(E::invalid_type(Unexpected::Option, &self)),
            _ => Ok(()),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self {
            Shape::Object => d.deserialize_map(self),
            Shape::Lines => d.deserialize_seq(self),
            Shape::Line => d.deserialize_str(self),
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if !matches!(self, Shape::Object) {
            return Err(de::Error::invalid_type(Unexpected::Map, &self));
        }
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if !matches!(self, Shape::Lines) {
            return Err(de::Error::invalid_type(Unexpected::Seq, &self));
        }
        while seq.next_element_seed(Shape::Line)?.is_some() {}
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        match self {
            Shape::Line => Ok(()),
            _ => Err(E::invalid_type(Unexpected::Str(v), &self)),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn checked<R>(f: impl FnOnce() -> R) -> R {
        reading_frame_context(FrameContext::Checked, f)
    }

    const FRAME: &str = r#"{"function":"f","vars":{"x":1},"post_context":["a"]}"#;

    fn vars_read() -> bool {
        let frame: Frame = serde_json::from_str(FRAME).expect("frame");
        !frame.vars.is_empty() && !frame.post_context.is_empty()
    }

    #[test]
    fn frame_context_is_skipped_only_inside_the_call() {
        assert!(vars_read());
        checked(|| {
            assert!(!vars_read());
            checked(|| assert!(!vars_read()));
            assert!(!vars_read(), "a nested call leaves the outer setting");
        });
        assert!(vars_read());
        let unwound = std::panic::catch_unwind(|| checked(|| panic!("boom")));
        assert!(unwound.is_err());
        assert!(vars_read(), "restored after a panic");
        // Skipped parts are checked: what a full read refuses, so does a
        // skipping one.
        for odd in [
            r#"{"vars":5}"#,
            r#"{"vars":["a"]}"#,
            r#"{"pre_context":{"a":"b"}}"#,
            r#"{"post_context":"line"}"#,
            r#"{"pre_context":["a",null]}"#,
            r#"{"post_context":[1]}"#,
            r#"{"vars":[}"#,
        ] {
            let full = serde_json::from_str::<Frame>(odd);
            let lean = checked(|| serde_json::from_str::<Frame>(odd));
            assert!(full.is_err() && lean.is_err(), "{odd}");
        }
        for fine in [
            r#"{"vars":null,"pre_context":null,"post_context":[]}"#,
            r#"{"vars":{"a":[1,{"b":null}]},"pre_context":["x","y"]}"#,
        ] {
            let full = serde_json::from_str::<Frame>(fine);
            let lean = checked(|| serde_json::from_str::<Frame>(fine));
            assert!(full.is_ok() && lean.is_ok(), "{fine}");
        }
    }
}
