//! Building events from messages and errors.

use std::error::Error;

use crate::protocol::{Event, Exception, Level, LogEntry, Mechanism};

/// An event for a plain message.
///
/// ```
/// use sentry_core::{event_from_message, protocol::Level};
/// let e = event_from_message("disk full", Level::Warning);
/// assert_eq!(e.title(), "disk full");
/// ```
pub fn event_from_message(message: &str, level: Level) -> Event {
    Event {
        level,
        logentry: Some(LogEntry {
            formatted: Some(message.to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// [`event_from_message`] built in its box: `Box::default` writes the
/// default event into the allocation, so the event (over a kilobyte) is not
/// copied into a box afterwards.
pub(crate) fn boxed_event_from_message(message: &str, level: Level) -> Box<Event> {
    let mut event = Box::<Event>::default();
    event.level = level;
    event.logentry = Some(LogEntry {
        formatted: Some(message.to_owned()),
        ..Default::default()
    });
    event
}

/// The type name of an error, read from the start of its `Debug` output
/// (`ParseIntError { kind: InvalidDigit }` → `ParseIntError`), since
/// `dyn Error` carries no type name.
pub fn parse_type_from_debug(debug: &str) -> &str {
    let end = debug
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(debug.len());
    let name = debug[..end].rsplit("::").next().unwrap_or("");
    if name.is_empty() {
        "Error"
    } else {
        name
    }
}

/// Turns an error and its `source()` chain into exceptions, root cause first
/// and the error itself last, linked by `exception_id`/`parent_id`.
///
/// ```
/// use sentry_core::exceptions_from_error;
/// #[derive(Debug)] struct Outer(std::num::ParseIntError);
/// impl std::fmt::Display for Outer { fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { f.write_str("bad config") } }
/// impl std::error::Error for Outer { fn source(&self) -> Option<&(dyn std::error::Error + 'static)> { Some(&self.0) } }
/// let err = Outer("x".parse::<u8>().unwrap_err());
/// let chain = exceptions_from_error(&err);
/// assert_eq!(chain.len(), 2);
/// assert_eq!(chain[0].ty, "ParseIntError");
/// assert_eq!(chain[1].ty, "Outer");
/// assert_eq!(chain[1].value.as_deref(), Some("bad config"));
/// ```
pub fn exceptions_from_error(error: &(dyn Error + 'static)) -> Vec<Exception> {
    const MAX_CHAIN: usize = 64;
    let mut chain: Vec<&(dyn Error + 'static)> = vec![error];
    let mut next = error.source();
    while let Some(source) = next {
        if chain.len() >= MAX_CHAIN {
            break;
        }
        chain.push(source);
        next = source.source();
    }
    let n = chain.len();
    let mut out: Vec<Exception> = chain
        .iter()
        .enumerate()
        .map(|(depth, err)| {
            let debug = format!("{err:?}");
            let mechanism = if depth == 0 {
                Mechanism {
                    ty: "generic".into(),
                    handled: Some(true),
                    exception_id: (n > 1).then_some(0),
                    ..Default::default()
                }
            } else {
                Mechanism {
                    ty: "chained".into(),
                    source: Some("source".into()),
                    exception_id: Some(depth as u64),
                    parent_id: Some(depth as u64 - 1),
                    ..Default::default()
                }
            };
            Exception {
                ty: parse_type_from_debug(&debug).to_owned(),
                value: Some(err.to_string()),
                mechanism: Some(mechanism),
                ..Default::default()
            }
        })
        .collect();
    out.reverse();
    out
}

/// An error-level event for an error and its chain.
pub fn event_from_error(error: &(dyn Error + 'static)) -> Event {
    Event {
        level: Level::Error,
        exception: exceptions_from_error(error).into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_from_debug() {
        assert_eq!(
            parse_type_from_debug("ParseIntError { kind: X }"),
            "ParseIntError"
        );
        assert_eq!(parse_type_from_debug("Os { code: 2 }"), "Os");
        assert_eq!(parse_type_from_debug("my::mod::Thing(3)"), "Thing");
        assert_eq!(parse_type_from_debug("\"text\""), "Error");
    }
}
