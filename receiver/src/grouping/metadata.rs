//! Crash frame, issue title and culprit (PROTOCOL.md §10.2 and §10.5).

use std::borrow::Cow;

use sentry_core::protocol::{Event, Exception, Frame};

use super::normalize::{
    effective_in_app, family, normalized_filename, normalized_function, Family,
};
use super::strategies::message_text;

/// The frame an error is attributed to (PROTOCOL.md §10.2): in the last
/// exception's stack trace (else the top-level `stacktrace`, else the stack
/// trace of the only thread), the newest frame with `in_app: true`, else the
/// newest frame. `in_app` is taken after the built-in stack-trace rules
/// (e.g. Rust `core::*` frames are never in-app), as Sentry stores it.
///
/// ```
/// use receiver::grouping::crash_frame;
/// use sentry_core::protocol::Event;
///
/// let event: Event = serde_json::from_str(r#"{"exception": {"values": [{
///     "type": "E",
///     "stacktrace": {"frames": [
///         {"function": "main", "in_app": true},
///         {"function": "lib_call", "in_app": false}
///     ]}
/// }]}}"#).unwrap();
/// assert_eq!(crash_frame(&event).and_then(|f| f.function.as_deref()), Some("main"));
/// ```
pub fn crash_frame(event: &Event) -> Option<&Frame> {
    fn non_empty(frames: Option<&Vec<Frame>>) -> Option<&Vec<Frame>> {
        frames.filter(|f| !f.is_empty())
    }
    let frames = non_empty(
        event
            .exception
            .values
            .last()
            .and_then(|e| e.stacktrace.as_ref())
            .map(|s| &s.frames),
    )
    .or_else(|| non_empty(event.stacktrace.as_ref().map(|s| &s.frames)))
    .or_else(|| match event.threads.values.as_slice() {
        [only] => only.stacktrace.as_ref().map(|s| &s.frames),
        _ => None,
    })?;
    let in_app = effective_in_app(frames, &event.platform);
    frames
        .iter()
        .zip(in_app)
        .rev()
        .find_map(|(f, in_app)| in_app.then_some(f))
        .or_else(|| frames.last())
}

fn is_synthetic(exc: &Exception) -> bool {
    exc.mechanism.as_ref().and_then(|m| m.synthetic) == Some(true)
}

/// The main exception: the one exception-group handling picked, else the
/// last one.
pub(crate) fn main_exception(event: &Event, main_exception_id: Option<u64>) -> Option<&Exception> {
    let values = &event.exception.values;
    main_exception_id
        .filter(|id| *id != 0)
        .and_then(|id| {
            values
                .iter()
                .find(|e| e.mechanism.as_ref().and_then(|m| m.exception_id) == Some(id))
        })
        .or_else(|| values.last())
}

/// The issue title: `Type: first line of value` for errors (`Error` when the
/// type is missing; the crash function, else `<unknown>`, for synthetic
/// exceptions), else the first line of the message, else
/// `<unlabeled event>`.
pub(crate) fn title(event: &Event, main_exception_id: Option<u64>) -> String {
    if let Some(exc) = main_exception(event, main_exception_id) {
        if is_synthetic(exc) {
            return crash_frame(event)
                .and_then(|f| normalized_function(f, &event.platform))
                .map_or_else(|| "<unknown>".to_owned(), Cow::into_owned);
        }
        let ty = if exc.ty.is_empty() { "Error" } else { &exc.ty };
        let value = exc
            .value
            .as_deref()
            .map(str::trim_start)
            .and_then(|v| v.lines().next())
            .unwrap_or("");
        return if value.is_empty() {
            ty.to_owned()
        } else {
            format!("{ty}: {}", truncate_chars(value, TITLE_CHARS))
        };
    }
    let message = event
        .logentry
        .as_ref()
        .and_then(|l| l.formatted.as_deref().filter(|s| !s.trim().is_empty()))
        .or_else(|| message_text(event))
        .unwrap_or("");
    match message.trim().lines().next() {
        Some(line) if !line.is_empty() => truncate_chars(line, TITLE_CHARS),
        _ => "<unlabeled event>".to_owned(),
    }
}

/// How many characters of an exception value or message a title shows
/// (Sentry's `truncatechars(…, 100)`).
const TITLE_CHARS: usize = 100;

/// `s` when it has at most `max` characters, else its first `max - 1`
/// characters and `…` (Django's `truncatechars`, which Sentry uses).
fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some(_) => {
            let cut = s
                .char_indices()
                .nth(max.saturating_sub(1))
                .map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..cut])
        }
    }
}

/// The culprit: the transaction, else the crash frame as Sentry's
/// `Frame.get_culprit_string` writes it (none for synthetic exceptions):
/// `function` for native, objc and cocoa frames, `function(file)` for
/// JavaScript and Node, `module-or-file in function` otherwise; the file
/// is the one grouping reads (a URL's path).
pub(crate) fn culprit(event: &Event) -> Option<String> {
    if let Some(t) = event
        .transaction
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return Some(t.to_owned());
    }
    if event.exception.values.last().is_some_and(is_synthetic) {
        return None;
    }
    let frame = crash_frame(event)?;
    fn non_empty(s: &Option<String>) -> Option<&str> {
        s.as_deref().filter(|s| !s.is_empty())
    }
    let platform = non_empty(&frame.platform).unwrap_or(&event.platform);
    let function = normalized_function(frame, &event.platform);
    let function = function.as_deref();
    if matches!(platform, "native" | "objc" | "cocoa") {
        return Some(function.unwrap_or("?").to_owned());
    }
    let file = normalized_filename(frame, &event.platform);
    let location = non_empty(&frame.module).or(file.as_deref());
    match (location, function) {
        (Some(l), f) if family(platform) == Family::JavaScript => {
            Some(format!("{}({l})", f.unwrap_or("?")))
        }
        (Some(l), f) => Some(format!("{l} in {}", f.unwrap_or("?"))),
        (None, Some(f)) => Some(f.to_owned()),
        (None, None) => None,
    }
}

/// An error event's `metadata` as Sentry gives it, from its main exception
/// (the one its title is of: `main_exception_id`, else the last): the
/// whole value (up to 1 024 characters, where the title keeps a line of
/// 100) and the type (`Error` when it has none); for a synthetic exception
/// (a thrown string), no made-up type but the crash function (the title),
/// when there is one. `None` without an exception.
pub(crate) fn exception_metadata(
    event: &Event,
    title: &str,
    main_exception_id: Option<u64>,
) -> Option<serde_json::Value> {
    ExceptionMetadata::of(event, title, main_exception_id).map(|m| m.to_json())
}

/// An error issue's `metadata` where its title does not give it, as JSON
/// ([`exception_metadata`]); `None` when the title's `Type: value` split
/// gives the same, as it does for most events: then nothing is built (this
/// runs for every error event) and nothing more is stored.
pub(crate) fn issue_metadata(
    event: &Event,
    title: &str,
    main_exception_id: Option<u64>,
) -> Option<String> {
    let metadata = ExceptionMetadata::of(event, title, main_exception_id)?;
    let (ty, value) = title.split_once(": ").unwrap_or((title, ""));
    let same = metadata.ty == Some(ty) && metadata.value == value && metadata.function.is_none();
    (!same).then(|| metadata.to_json().to_string())
}

/// The parts of [`exception_metadata`], borrowed from the event.
struct ExceptionMetadata<'a> {
    ty: Option<&'a str>,
    value: &'a str,
    function: Option<&'a str>,
}

impl<'a> ExceptionMetadata<'a> {
    fn of(event: &'a Event, title: &'a str, main_exception_id: Option<u64>) -> Option<Self> {
        let exception = main_exception(event, main_exception_id)?;
        let full = exception.value.as_deref().unwrap_or_default();
        let value = match full.char_indices().nth(1024) {
            Some((end, _)) => &full[..end],
            None => full,
        };
        Some(if is_synthetic(exception) {
            ExceptionMetadata {
                ty: None,
                value,
                function: (title != "<unknown>").then_some(title),
            }
        } else {
            let ty = if exception.ty.is_empty() {
                "Error"
            } else {
                exception.ty.as_str()
            };
            ExceptionMetadata {
                ty: Some(ty),
                value,
                function: None,
            }
        })
    }

    fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        if let Some(ty) = self.ty {
            m.insert("type".to_owned(), ty.into());
        }
        m.insert("value".to_owned(), self.value.into());
        if let Some(function) = self.function {
            m.insert("function".to_owned(), function.into());
        }
        serde_json::Value::Object(m)
    }
}
