//! Normalisation before storage (PROTOCOL.md §5, §7, §11).
//!
//! * Payloads are parsed into `sentry_core`'s lenient types. A field of the
//!   wrong type is removed and recorded in the event's `errors` (as Relay
//!   does) instead of failing the event: [`deserialize_lenient`].
//! * Clock drift: with `sent_at`, timestamps shift by `received − sent_at`
//!   when that is 55 minutes or more; then an event more than 60 s in the
//!   future or 30 days in the past is moved to the receive time. Negative
//!   (pre-1970) event timestamps are refused.
//! * Invalid `release` / `environment` values are removed.
//! * Sessions need a valid release and must lie within 5 days in the past
//!   and 60 s in the future, else they are dropped (still answered 200).

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::borrow::Cow;
use uuid::Uuid;

use sentry_core::protocol::{
    reading_frame_context, Breadcrumb, Context, Event, FrameContext, LogEntry, SessionAggregates,
    SessionUpdate, Timestamp, Transaction,
};

use super::seen_keys::Pick;
use super::IngestError;
use crate::store::records::{AggregateRecord, SessionRecord};

/// Drift of at least this many seconds is corrected.
pub const MIN_CLOCK_DRIFT_SECS: f64 = 55.0 * 60.0;
/// Events further in the future are moved to the receive time.
pub const MAX_SECS_IN_FUTURE: f64 = 60.0;
/// Events further in the past are moved to the receive time.
pub const MAX_SECS_IN_PAST: f64 = 30.0 * 24.0 * 3600.0;
/// Sessions older than this are dropped.
pub const MAX_SESSION_SECS_IN_PAST: f64 = 5.0 * 24.0 * 3600.0;
/// Frames kept per stack trace (the newest ones).
pub const MAX_FRAMES: usize = 250;

const MAX_REPAIRS: usize = 32;
const MAX_PROBES: usize = 128;
const MAX_PROBED_PAYLOAD: usize = 256 * 1024;

/// What normalisation needs to know about the request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// When the request arrived.
    pub received: Timestamp,
    /// The envelope header `sent_at`, if present and valid.
    pub sent_at: Option<Timestamp>,
    /// The client's address, for `{{auto}}`.
    pub client_ip: Option<String>,
}

impl RequestContext {
    /// The context of `envelope`, received at `received` from `client_ip`:
    /// `sent_at` comes from the envelope header (ignored if invalid).
    pub fn for_envelope(
        envelope: &sentry_core::envelope::Envelope,
        received: Timestamp,
        client_ip: Option<String>,
    ) -> Self {
        RequestContext {
            received,
            sent_at: envelope
                .headers
                .sent_at
                .as_deref()
                .and_then(Timestamp::parse_rfc3339),
            client_ip,
        }
    }

    /// The clock-drift shift (seconds) to apply, and the error to record.
    pub(crate) fn drift(&self) -> Option<(f64, Value)> {
        let sent_at = self.sent_at?;
        let drift = self.received.as_secs_f64() - sent_at.as_secs_f64();
        (drift.abs() >= MIN_CLOCK_DRIFT_SECS).then(|| {
            (
                drift,
                json!({
                    "type": "clock_drift",
                    "name": "timestamp",
                    "sdk_time": sent_at.to_rfc3339(),
                    "server_time": self.received.to_rfc3339(),
                }),
            )
        })
    }

    /// `t` moved by `shift` along with a main timestamp corrected to
    /// `corrected`, unless that would carry it out of any plausible time
    /// (an absurd main timestamp): then `t` stays if it is plausible itself,
    /// else it takes `corrected`. Shifting everything would drop it all.
    /// Plausible is the window the main timestamp itself must be in; it
    /// also catches a shift so large that `t + shift` lost all precision
    /// (`1e300 + (now - 1e300)` is 0, not now).
    fn shift_plausibly(&self, t: Timestamp, shift: f64, corrected: Timestamp) -> Timestamp {
        let received = self.received.as_secs_f64();
        let window = (received - MAX_SECS_IN_PAST)..=(received + MAX_SECS_IN_FUTURE);
        let plausible = |t: Timestamp| window.contains(&t.as_secs_f64());
        let shifted = t.shifted(shift);
        if plausible(shifted) {
            shifted
        } else if plausible(t) {
            t
        } else {
            corrected
        }
    }

    /// The shift for an event-like payload whose main timestamp is `ts`,
    /// and that timestamp's corrected value, with the errors to record.
    fn timestamp_shift(&self, ts: f64, errors: &mut Vec<Value>) -> (f64, Timestamp) {
        let received = self.received.as_secs_f64();
        let mut shift = 0.0;
        let mut drift_error = None;
        if let Some((drift, error)) = self.drift() {
            shift = drift;
            drift_error = Some(error);
        }
        let corrected = ts + shift;
        let kind = if corrected > received + MAX_SECS_IN_FUTURE {
            Some("future_timestamp")
        } else if corrected < received - MAX_SECS_IN_PAST {
            Some("past_timestamp")
        } else {
            None
        };
        match kind {
            Some(kind) => {
                errors.push(json!({
                    "type": kind,
                    "name": "timestamp",
                    "sdk_time": display_time(ts),
                    "server_time": self.received.to_rfc3339(),
                }));
                // Set exactly (a huge `ts` would lose `received` in `ts + shift`).
                (received - ts, self.received)
            }
            None => {
                // Only when the timestamp needed no more than the drift
                // (PROTOCOL.md §11: one error, future, past or drift).
                errors.extend(drift_error);
                (shift, Timestamp::from_secs_f64(corrected))
            }
        }
    }
}

/// RFC 3339 for plausible times, the raw number otherwise (formatting an
/// absurd value would overflow).
fn display_time(secs: f64) -> Value {
    if (-1e11..1e11).contains(&secs) {
        Value::from(Timestamp::from_secs_f64(secs).to_rfc3339())
    } else {
        json!(secs)
    }
}

/// Parses JSON into `T`, removing fields that have the wrong shape.
///
/// Each removal is recorded in `errors` as
/// `{"type": "invalid_data", "name": <path>, "reason": …, "value": <removed>}`.
/// Fails only if the value cannot be repaired (e.g. a required field is
/// missing at the top level, or the payload is not an object).
///
/// ```
/// use receiver::ingest::normalize::deserialize_lenient;
/// use sentry_core::protocol::Event;
/// let mut errors = Vec::new();
/// let event: Event = deserialize_lenient(
///     serde_json::json!({"message": "hi", "timestamp": "garbage", "level": "warning"}),
///     &mut errors,
/// ).unwrap();
/// assert_eq!(event.level.as_str(), "warning");
/// assert_eq!(errors[0]["name"], "timestamp");
/// assert_eq!(errors[0]["value"], "garbage");
/// ```
pub fn deserialize_lenient<T: DeserializeOwned>(
    mut value: Value,
    errors: &mut Vec<Value>,
) -> Result<T, String> {
    let mut probes = 0usize;
    // Measured on the first failure only: valid payloads skip the cost.
    let mut probe_allowed = None;
    for _ in 0..MAX_REPAIRS {
        let (path, message) = match try_parse::<T>(&value) {
            Ok(t) => return Ok(t),
            Err(e) => e,
        };
        let probe_allowed =
            *probe_allowed.get_or_insert_with(|| value.to_string().len() <= MAX_PROBED_PAYLOAD);
        let mut segs = existing_prefix(&value, &path);
        if segs.is_empty() {
            return Err(message);
        }
        // Narrow the removal down to the smallest failing part: each round
        // descends one level, so this ends at the value's depth.
        while probe_allowed && probes < MAX_PROBES {
            let Some(children) = get(&value, &segs).map(children) else {
                break;
            };
            let mut culprit = None;
            for child in children {
                if probes >= MAX_PROBES {
                    break;
                }
                probes += 1;
                let mut trial = value.clone();
                let mut child_path = segs.clone();
                child_path.push(child.clone());
                remove(&mut trial, &child_path);
                match try_parse::<T>(&trial) {
                    Ok(_) => culprit = Some(child),
                    Err((p, _)) if p != path => culprit = Some(child),
                    Err(_) => {}
                }
                if culprit.is_some() {
                    break;
                }
            }
            match culprit {
                Some(c) => segs.push(c),
                None => break,
            }
        }
        let removed = remove(&mut value, &segs);
        // Kept to show what was sent, but not deeper than the limit: the
        // error sits two levels down in the stored event, and JSON nested
        // past serde_json's 128 levels could not be read back.
        let removed = if depth(&removed) > MAX_REMOVED_DEPTH {
            Value::String("(nested too deep to keep)".to_owned())
        } else {
            removed
        };
        errors.push(json!({
            "type": "invalid_data",
            "name": display_path(&segs),
            "reason": message,
            "value": removed,
        }));
    }
    Err("too many invalid fields".to_owned())
}

/// How deeply a value removed by [`deserialize_lenient`] may nest and still
/// be kept in its error.
const MAX_REMOVED_DEPTH: usize = 32;

/// How many levels of arrays and objects `value` has (a scalar: 0),
/// counted without recursion.
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, d + 1))),
            _ => {}
        }
    }
    deepest
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn try_parse<T: DeserializeOwned>(value: &Value) -> Result<T, (Vec<Seg>, String)> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let mut segs = Vec::new();
        for seg in e.path().iter() {
            match seg {
                serde_path_to_error::Segment::Map { key } => segs.push(Seg::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => segs.push(Seg::Index(*index)),
                _ => break,
            }
        }
        (segs, e.into_inner().to_string())
    })
}

fn get<'a>(value: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        Seg::Key(k) => v.as_object()?.get(k),
        Seg::Index(i) => v.as_array()?.get(*i),
    })
}

fn existing_prefix(value: &Value, path: &[Seg]) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut node = value;
    for seg in path {
        let next = match seg {
            Seg::Key(k) => node.as_object().and_then(|m| m.get(k)),
            Seg::Index(i) => node.as_array().and_then(|a| a.get(*i)),
        };
        match next {
            Some(n) => {
                out.push(seg.clone());
                node = n;
            }
            None => break,
        }
    }
    out
}

fn children(value: &Value) -> Vec<Seg> {
    match value {
        Value::Object(m) => m.keys().take(512).map(|k| Seg::Key(k.clone())).collect(),
        Value::Array(a) => (0..a.len().min(512)).map(Seg::Index).collect(),
        _ => Vec::new(),
    }
}

fn remove(value: &mut Value, path: &[Seg]) -> Value {
    let Some((last, parent)) = path.split_last() else {
        return Value::Null;
    };
    let mut node = value;
    for seg in parent {
        let next = match seg {
            Seg::Key(k) => node.as_object_mut().and_then(|m| m.get_mut(k)),
            Seg::Index(i) => node.as_array_mut().and_then(|a| a.get_mut(*i)),
        };
        match next {
            Some(n) => node = n,
            None => return Value::Null,
        }
    }
    match (last, node) {
        (Seg::Key(k), Value::Object(m)) => m.remove(k).unwrap_or(Value::Null),
        (Seg::Index(i), Value::Array(a)) if *i < a.len() => a.remove(*i),
        _ => Value::Null,
    }
}

fn display_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The fast path for valid payloads: straight from the bytes into `T`,
/// without building a [`Value`] tree first, noting which of `keys` the
/// payload's top level had (in one pass: see [`super::seen_keys`]). `None`
/// when anything is off (not an object, a field of the wrong type, a
/// duplicate key…): the caller then takes the lenient path, which gives the
/// same result for valid payloads and repairs the others.
fn parse_direct<T: DeserializeOwned, const N: usize>(
    payload: &[u8],
    keys: [&'static str; N],
) -> Option<(T, [bool; N])> {
    parse_direct_picking(payload, keys, &[], None)
}

/// [`parse_direct`], as if the top-level keys in `left_out` (and the key
/// of `pick`) were absent; `pick` gets its entry (see
/// [`super::seen_keys::from_slice_picking`]).
fn parse_direct_picking<T: DeserializeOwned, const N: usize>(
    payload: &[u8],
    keys: [&'static str; N],
    left_out: &[&str],
    pick: Option<&Pick>,
) -> Option<(T, [bool; N])> {
    let trimmed = payload.trim_ascii_start();
    if trimmed.first() != Some(&b'{') {
        return None;
    }
    super::seen_keys::from_slice_picking(trimmed, keys, left_out, pick).ok()
}

/// The lenient path of [`event`]: the payload as a [`Value`], repaired
/// field by field, with [`lenient_without_unread_parts`] as a last resort;
/// and whether it had a `timestamp`.
fn lenient_event(payload: &[u8], errors: &mut Vec<Value>) -> Result<(Event, bool), IngestError> {
    let value = parse_object(payload, "event", errors)?;
    lenient_from_value(value, payload, errors)
}

/// [`lenient_event`] once `payload` is parsed, as `value`.
fn lenient_from_value(
    value: Value,
    payload: &[u8],
    errors: &mut Vec<Value>,
) -> Result<(Event, bool), IngestError> {
    let value = require_object(value, "event")?;
    let had_timestamp = value.get("timestamp").is_some_and(|t| !t.is_null());
    let event = match deserialize_lenient::<Event>(value, errors) {
        Ok(event) => event,
        Err(reason) => {
            lenient_without_unread_parts(payload, errors).ok_or_else(|| IngestError::Invalid {
                detail: "invalid event payload".to_owned(),
                causes: vec![reason],
            })?
        }
    };
    Ok((event, had_timestamp))
}

/// Top-level keys of an event that are one field under two names, of
/// which ingestion leaves out at least one: with both present `event`
/// refuses the payload (a duplicate field no repair can remove), so the
/// lean parse must not read it.
const SAME_FIELD: [(&str, &str); 3] = [
    ("breadcrumbs", "sentry.interfaces.Breadcrumbs"),
    ("request", "sentry.interfaces.Http"),
    ("contexts", "sentry.interfaces.Contexts"),
];

/// The direct parse of [`event_for_ingest`] (see there): the event (its
/// frames' context read as `frame_context` says), whether the payload had
/// a `timestamp`, and which of the keys ingestion leaves out (or reads only
/// in part, `contexts`) it had; `None` sends it down the lenient path.
fn lean_event(
    payload: &[u8],
    frame_context: FrameContext,
) -> Option<(Event, bool, Vec<&'static str>)> {
    let [(a0, b0), (a1, b1), (a2, b2)] = SAME_FIELD;
    let names = [
        a0,
        b0,
        a1,
        b1,
        a2,
        b2,
        "modules",
        "extra",
        "sdk",
        "timestamp",
    ];
    let parse = |left_out: &[&str]| {
        let pick = Pick::new("contexts", "trace");
        let (mut event, seen) = reading_frame_context(frame_context, || {
            parse_direct_picking::<Event, 10>(payload, names, left_out, Some(&pick))
        })?;
        if let Some(trace) = pick.found() {
            let trace = Context::from_value("trace", trace);
            event.contexts.insert("trace".to_owned(), trace);
        }
        Some((event, seen))
    };
    let (mut event, mut seen) = parse(NOT_READ_AT_INGEST)?;
    if seen[..6].chunks(2).any(|pair| pair[0] && pair[1]) {
        return None;
    }
    // Grouping reads the SDK for exception groups (Python SDK 3.x's are
    // not filtered, PROTOCOL.md §10.3): such an event is read again with
    // its SDK, directly, as a read of the stored event reads a valid one.
    // One that needs repair fails here and takes the lenient path, which
    // repairs it as the read does. The parts left out stay left out: the
    // lenient path needs the whole payload as a `Value`, and with a lone
    // surrogate or a number out of range in one of them it would refuse
    // an event the read accepts (`as_ingestion_read` reads it here).
    if seen[8] && has_exception_groups(&event) {
        let but_sdk: Vec<&str> = NOT_READ_AT_INGEST
            .iter()
            .copied()
            .filter(|key| *key != "sdk")
            .collect();
        (event, _) = parse(&but_sdk)?;
        // Read, not left out.
        seen[8] = false;
    }
    let had = names[..9].iter().zip(seen).filter(|(_, seen)| *seen);
    Some((event, seen[9], had.map(|(name, _)| *name).collect()))
}

fn has_exception_groups(event: &Event) -> bool {
    event.exception.values.iter().any(|e| {
        e.mechanism
            .as_ref()
            .and_then(|m| m.is_exception_group)
            .unwrap_or(false)
    })
}

/// The read of an event that ingestion accepted but that neither the
/// direct nor the lenient parse reads: its JSON has, in a part ingestion
/// leaves out, what a `Value` refuses (a lone surrogate, a number out of
/// range; ingestion skips those parts as serde_json skips an ignored
/// field). It is read as ingestion read it, without those parts, each
/// named in `errors` (started again).
fn as_ingestion_read(payload: &[u8], errors: &mut Vec<Value>) -> Option<(Event, bool)> {
    // The frames' variables and source lines too, unless they are where
    // the damage is.
    let (event, had_timestamp, had, frames) = match lean_event(payload, FrameContext::Whole) {
        Some((event, had_timestamp, had)) => (event, had_timestamp, had, None),
        None => {
            // (What a checked read would accept, an ignoring one reads the
            // same.)
            let (event, had_timestamp, had) = lean_event(payload, FrameContext::Ignored)?;
            (event, had_timestamp, had, Some(FRAME_CONTEXT))
        }
    };
    errors.clear();
    for key in had.into_iter().chain(frames) {
        errors.push(json!({
            "type": "invalid_data",
            "name": key,
            "reason": "left out: the payload is not JSON a reader accepts throughout \
                       (a lone surrogate, a number out of range or nesting past 128 \
                       levels), and this part is not needed to group the event",
        }));
    }
    Some((event, had_timestamp))
}

/// What an `errors` entry names when [`as_ingestion_read`] had to read
/// frames as ingestion does, without their local variables and source
/// lines (what no `Value` holds was in them).
const FRAME_CONTEXT: &str = "frames.vars, frames.pre_context, frames.post_context";

/// The last resort for an event with more damage than
/// [`deserialize_lenient`] repairs: the event without those parts of
/// [`NOT_READ_AT_INGEST`] that do not parse on their own, each dropped
/// whole (and said so in `errors`, which are started again), repaired as
/// usual. `None` when none of them is damaged or it is still beyond
/// repair: then the damage is where ingestion reads too.
fn lenient_without_unread_parts(payload: &[u8], errors: &mut Vec<Value>) -> Option<Event> {
    errors.clear();
    let mut value = parse_object(payload, "event", errors).ok()?;
    let object = value.as_object_mut()?;
    let mut dropped = 0;
    for key in NOT_READ_AT_INGEST {
        let Some(part) = object.remove(*key) else {
            continue;
        };
        let alone = Value::Object(serde_json::Map::from_iter([(key.to_string(), part)]));
        if try_parse::<Event>(&alone).is_ok() {
            if let Value::Object(mut alone) = alone {
                object.append(&mut alone);
            }
            continue;
        }
        dropped += 1;
        errors.push(json!({
            "type": "invalid_data",
            "name": key,
            "reason": "dropped whole: too many invalid values to repair one by one",
        }));
    }
    if dropped == 0 {
        return None;
    }
    deserialize_lenient(value, errors).ok()
}

/// Parses a payload that must be a JSON object. Old Python SDKs write the
/// float values NaN and ±Infinity as the bare words `NaN` and `Infinity`,
/// which JSON does not have: a payload that fails to parse and has them is
/// read again with them as `0` (as Relay reads them, with the
/// `json-forensics` crate), and `errors` says so.
fn parse_object(payload: &[u8], what: &str, errors: &mut Vec<Value>) -> Result<Value, IngestError> {
    let value: Value = match serde_json::from_slice(payload) {
        Ok(value) => value,
        Err(e) => match without_non_finite_numbers(payload) {
            Some(value) => {
                errors.push(json!({
                    "type": "invalid_data",
                    "name": "payload",
                    "reason": "NaN or Infinity (not JSON) read as 0",
                }));
                value
            }
            None => {
                return Err(IngestError::Invalid {
                    detail: format!("invalid {what} payload: not valid JSON"),
                    causes: vec![e.to_string()],
                })
            }
        },
    };
    require_object(value, what)
}

/// `value` if it is a JSON object, else a 400.
fn require_object(value: Value, what: &str) -> Result<Value, IngestError> {
    if !value.is_object() {
        return Err(IngestError::Invalid {
            detail: format!("invalid {what} payload: expected a JSON object"),
            causes: Vec::new(),
        });
    }
    Ok(value)
}

/// `payload` parsed with its bare `NaN` and `Infinity` words read as `0`,
/// if it has any and then parses.
fn without_non_finite_numbers(payload: &[u8]) -> Option<Value> {
    let has = |word: &[u8]| payload.windows(word.len()).any(|w| w == word);
    if !has(b"NaN") && !has(b"Infinity") {
        return None;
    }
    let mut repaired = payload.to_vec();
    json_forensics::translate_slice(&mut repaired);
    serde_json::from_slice(&repaired).ok()
}

/// Whether a release name is acceptable (PROTOCOL.md §5.1).
///
/// ```
/// use receiver::ingest::normalize::valid_release;
/// assert!(valid_release("app@1.0.0+build.7"));
/// assert!(!valid_release("latest"));
/// assert!(!valid_release("a/b"));
/// assert!(!valid_release("  "));
/// ```
pub fn valid_release(release: &str) -> bool {
    let r = release.trim();
    !r.is_empty()
        && r.chars().count() <= 200
        && !r.contains(['/', '\r', '\n', '\t', '\x0c'])
        && !matches!(r, "." | ".." | "latest")
}

/// Whether an environment name is acceptable (PROTOCOL.md §5.1).
pub fn valid_environment(environment: &str) -> bool {
    let e = environment.trim();
    !e.is_empty()
        && e.chars().count() <= 64
        && !e.contains(['/', '\r', '\n', '\t', '\x0c'])
        && !matches!(e, "." | ".." | "none")
}

fn check_release(release: &mut Option<String>, errors: &mut Vec<Value>) {
    if let Some(r) = release.take() {
        if valid_release(&r) {
            *release = Some(r.trim().to_owned());
        } else {
            errors.push(json!({"type": "invalid_data", "name": "release", "value": r}));
        }
    }
}

fn check_environment(environment: &mut Option<String>, errors: &mut Vec<Value>) {
    if let Some(e) = environment.take() {
        if valid_environment(&e) {
            *environment = Some(e.trim().to_owned());
        } else {
            errors.push(json!({"type": "invalid_data", "name": "environment", "value": e}));
        }
    }
}

/// Tag keys are trimmed and their spaces become `-`; a tag whose key then
/// is empty, has a character outside `[a-zA-Z0-9_.:-]` or is the key of an
/// earlier tag, or whose value has a line break, is removed with an
/// `invalid_data` entry (PROTOCOL.md §5.1). Lengths are cut later
/// (`super::trim`).
fn check_tags(tags: &mut std::collections::BTreeMap<String, String>, errors: &mut Vec<Value>) {
    let valid_key = |k: &str| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
    };
    let valid_value = |v: &str| !v.contains(['\n', '\r']);
    if tags.iter().all(|(k, v)| valid_key(k) && valid_value(v)) {
        return;
    }
    for (mut raw, mut value) in std::mem::take(tags) {
        let key = raw.trim().replace(' ', "-");
        if valid_key(&key) && valid_value(&value) && !tags.contains_key(&key) {
            tags.insert(key, value);
        } else {
            // The entry says which tag went, not everything it held.
            super::trim::truncate(&mut raw, 200);
            super::trim::truncate(&mut value, 200);
            errors.push(json!({
                "type": "invalid_data",
                "name": format!("tags.{raw}"),
                "value": value,
            }));
        }
    }
}

fn append_errors(other: &mut serde_json::Map<String, Value>, errors: Vec<Value>) {
    if errors.is_empty() {
        return;
    }
    match other.get_mut("errors") {
        Some(Value::Array(existing)) => existing.extend(errors),
        _ => {
            other.insert("errors".to_owned(), Value::Array(errors));
        }
    }
}

fn too_stale() -> IngestError {
    IngestError::Invalid {
        detail: "timestamp is too stale: event timestamps before 1970 are refused".to_owned(),
        causes: Vec::new(),
    }
}

/// The top-level keys of an event that nothing computed at ingestion
/// reads (not the grouping, the title, nor any column of the event's row):
/// [`event_for_ingest`] leaves them out. Should one of them be too damaged
/// to repair, [`event`] drops it whole rather than refusing the event, so
/// an event ingestion accepted is never refused when it is read.
pub const NOT_READ_AT_INGEST: &[&str] = &[
    "breadcrumbs",
    "sentry.interfaces.Breadcrumbs",
    "request",
    "sentry.interfaces.Http",
    "modules",
    "extra",
    "sdk",
];

/// Parses and normalises an error/message event (also `feedback` items).
/// `header_id` (the envelope's `event_id`) wins over the payload's.
pub fn event(
    payload: &[u8],
    ctx: &RequestContext,
    header_id: Option<Uuid>,
) -> Result<Event, IngestError> {
    parse_event(payload, ctx, header_id, false)
}

/// [`event`] as an event is read back (the API, the CLI, the web page):
/// one without a `culprit` gets one computed as an issue's is (its
/// transaction, else its crash frame: `grouping::metadata::culprit`), as
/// Sentry's event manager fills it in before storing the event, since the
/// SDKs no longer send one. Ingestion does not need it.
pub fn event_as_read(
    payload: &[u8],
    ctx: &RequestContext,
    header_id: Option<Uuid>,
) -> Result<Event, IngestError> {
    let mut event = event(payload, ctx, header_id)?;
    if event
        .culprit
        .as_deref()
        .map_or(true, |c| c.trim().is_empty())
    {
        event.culprit = crate::grouping::metadata::culprit(&event);
    }
    Ok(event)
}

/// [`event`] without the keys of [`NOT_READ_AT_INGEST`] (the event has no
/// breadcrumbs, request, modules, extra, nor SDK unless it has exception
/// groups, which grouping reads it for), which are a third of the
/// parse, with only the `trace` context of `contexts` (the others are
/// skipped), and with frames read without their `vars`, `pre_context` and
/// `post_context` (`FrameContext::Checked`); ingestion, which stores the
/// payload as received and normalises it again when it is read, needs
/// nothing else from them.
/// What it accepts, [`event`] accepts too, and every field ingestion uses
/// is the same in both.
pub fn event_for_ingest(
    payload: &[u8],
    ctx: &RequestContext,
    header_id: Option<Uuid>,
) -> Result<Event, IngestError> {
    parse_event(payload, ctx, header_id, true)
}

fn parse_event(
    payload: &[u8],
    ctx: &RequestContext,
    header_id: Option<Uuid>,
    lean: bool,
) -> Result<Event, IngestError> {
    let mut errors = Vec::new();
    let direct = if lean {
        lean_event(payload, FrameContext::Checked)
            .map(|(event, had_timestamp, _)| (event, had_timestamp))
    } else {
        parse_direct::<Event, 1>(payload, ["timestamp"]).map(|(event, [had])| (event, had))
    };
    let (mut event, had_timestamp) = match direct {
        Some(parsed) => parsed,
        // Reading back what ingestion parsed directly but no `Value` holds:
        // as ingestion read it, never refused, and never through the
        // `NaN` repair, which also turns integers past 64 bits into 0 and
        // so would change fields ingestion grouped by.
        None if lean => match lenient_event(payload, &mut errors) {
            Ok(parsed) => parsed,
            // Damage in the frames' context that no `Value` holds (a source
            // line cut inside a surrogate pair): accepted as long as the
            // read accepts the event too.
            Err(refused) => match lean_event(payload, FrameContext::Ignored)
                .filter(|_| parse_event(payload, ctx, header_id, false).is_ok())
            {
                Some((event, had_timestamp, _)) => {
                    errors.clear();
                    (event, had_timestamp)
                }
                None => return Err(refused),
            },
        },
        None => match serde_json::from_slice::<Value>(payload) {
            Ok(value) => lenient_from_value(value, payload, &mut errors)?,
            Err(_) => match as_ingestion_read(payload, &mut errors) {
                Some(parsed) => parsed,
                None => lenient_event(payload, &mut errors)?,
            },
        },
    };
    legacy_message_object(payload, &mut event);
    if let Some(entry) = &mut event.logentry {
        format_logentry(entry);
    }
    if let Some(id) = header_id {
        event.event_id = id;
    }
    if event.event_id.is_nil() {
        event.event_id = Uuid::new_v4();
    }
    let defaulted = !had_timestamp || errors.iter().any(|e| e["name"] == "timestamp");
    if defaulted {
        // The server's own time: the client's clock drift does not apply to
        // it, only to the times the client gave (breadcrumbs, a start).
        event.timestamp = ctx.received;
        if let Some((drift, error)) = ctx.drift() {
            let shift_time = |t| ctx.shift_plausibly(t, drift, ctx.received);
            let mut moved = false;
            for crumb in &mut event.breadcrumbs.values {
                if crumb.timestamp.as_secs_f64() != 0.0 {
                    crumb.timestamp = shift_time(crumb.timestamp);
                    moved = true;
                }
            }
            if let Some(start) = event.other.get("start_timestamp").and_then(Value::as_f64) {
                let start = shift_time(Timestamp::from_secs_f64(start)).as_secs_f64();
                event
                    .other
                    .insert("start_timestamp".to_owned(), json!(start));
                moved = true;
            }
            if moved {
                errors.push(error);
            }
        }
    }
    if event.timestamp.as_secs_f64() < 0.0 {
        return Err(too_stale());
    }
    date_breadcrumbs(&mut event.breadcrumbs.values, event.timestamp, &mut errors);
    let (shift, corrected) = if defaulted {
        (0.0, event.timestamp)
    } else {
        ctx.timestamp_shift(event.timestamp.as_secs_f64(), &mut errors)
    };
    if shift != 0.0 {
        event.timestamp = corrected;
        // Breadcrumbs move with the event, within plausible times.
        let shift_time = |t| ctx.shift_plausibly(t, shift, corrected);
        for crumb in &mut event.breadcrumbs.values {
            crumb.timestamp = shift_time(crumb.timestamp);
        }
        if let Some(start) = event.other.get("start_timestamp").and_then(Value::as_f64) {
            // Within plausible times too: `1e300 + shift` is no time at all.
            let start = shift_time(Timestamp::from_secs_f64(start)).as_secs_f64();
            event
                .other
                .insert("start_timestamp".to_owned(), json!(start));
        }
    }
    let before = event.breadcrumbs.values.len();
    event
        .breadcrumbs
        .values
        .retain(|c| c.timestamp.as_secs_f64() >= 0.0);
    let dropped = before - event.breadcrumbs.values.len();
    if dropped > 0 {
        errors.push(json!({
            "type": "invalid_data",
            "name": "breadcrumbs",
            "reason": format!("{dropped} breadcrumbs with a negative timestamp removed"),
        }));
    }
    check_release(&mut event.release, &mut errors);
    check_environment(&mut event.environment, &mut errors);
    check_tags(&mut event.tags, &mut errors);
    super::trim::event(&mut event);
    super::user_agent::add_contexts(&mut event);
    if let (Some(user), Some(ip)) = (event.user.as_mut(), ctx.client_ip.as_ref()) {
        if user.ip_address.as_deref() == Some("{{auto}}") {
            user.ip_address = Some(ip.clone());
        }
    }
    for exc in &mut event.exception.values {
        if let Some(st) = exc.stacktrace.as_mut() {
            trim_frames(&mut st.frames);
        }
    }
    if let Some(st) = event.stacktrace.as_mut() {
        trim_frames(&mut st.frames);
    }
    for thread in &mut event.threads.values {
        if let Some(st) = thread.stacktrace.as_mut() {
            trim_frames(&mut st.frames);
        }
    }
    append_errors(&mut event.other, errors);
    event
        .other
        .insert("received".to_owned(), json!(ctx.received.as_secs_f64()));
    Ok(event)
}

/// Gives the breadcrumbs that came without a valid timestamp (they parse
/// as the epoch, see `Breadcrumb::timestamp`) the time `at`, the event's
/// before any correction: they then move with it. Records how many.
/// Fills a missing `logentry.formatted` from `message` and `params`
/// (PROTOCOL.md §5.2, as Relay): Python `%`-style (`%s`, `%d`, `%(name)s`,
/// `%%`) when the template has a `%`, else `{}` / `{0}` style when it has a
/// `{`. Left missing when the template does not fit the params. Grouping
/// still uses the template; the title and the API show the text.
fn format_logentry(entry: &mut LogEntry) {
    if entry.formatted.is_some() {
        return;
    }
    let (Some(template), Some(params)) = (&entry.message, &entry.params) else {
        return;
    };
    entry.formatted = if template.contains('%') {
        format_percent(template, params)
    } else if template.contains('{') {
        format_braces(template, params)
    } else {
        None
    };
}

/// A parameter as text: strings as they are, anything else as JSON.
fn param_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The most bytes a formatted logentry is built to: it is cut to 8192
/// characters anyway, and a template may use one parameter any number of
/// times (`{0}{0}{0}…`), which would otherwise ask for gigabytes.
const MAX_FORMATTED_BYTES: usize = 4 * 8192;

/// Appends `text` to `out` up to [`MAX_FORMATTED_BYTES`] (on a character
/// boundary); returns whether there is room for more.
fn push_bounded(out: &mut String, text: &str) -> bool {
    let room = MAX_FORMATTED_BYTES.saturating_sub(out.len());
    if text.len() <= room {
        out.push_str(text);
        return out.len() < MAX_FORMATTED_BYTES;
    }
    let mut end = room;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.push_str(&text[..end]);
    false
}

/// Python's `template % params` for a list (positional) or an object
/// (`%(name)s`); width, precision and flags are read and ignored.
fn format_percent(template: &str, params: &Value) -> Option<String> {
    let mut out = String::with_capacity(template.len().min(MAX_FORMATTED_BYTES));
    let mut positional = params.as_array().map(|a| a.iter());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() >= MAX_FORMATTED_BYTES {
            return Some(out);
        }
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let value = if chars.peek() == Some(&'(') {
            chars.next();
            let name: String = chars.by_ref().take_while(|&c| c != ')').collect();
            params.as_object()?.get(&name)?
        } else {
            positional.as_mut()?.next()?
        };
        // Flags, width, precision, then the conversion.
        while chars
            .next_if(|c| "-#0 +.".contains(*c) || c.is_ascii_digit())
            .is_some()
        {}
        match chars.next() {
            Some(conversion) if "sdifrauxXoeEgGc".contains(conversion) => {
                if !push_bounded(&mut out, &param_text(value)) {
                    return Some(out);
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// `{}` (the next parameter) and `{N}` (parameter N) for a list.
fn format_braces(template: &str, params: &Value) -> Option<String> {
    let list = params.as_array()?;
    let mut next = list.iter();
    let mut out = String::with_capacity(template.len().min(MAX_FORMATTED_BYTES));
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if !push_bounded(&mut out, &rest[..open]) {
            return Some(out);
        }
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let inner = &after[..close];
        let value = if inner.is_empty() {
            next.next()?
        } else {
            list.get(inner.trim().parse::<usize>().ok()?)?
        };
        if !push_bounded(&mut out, &param_text(value)) {
            return Some(out);
        }
        rest = &after[close + 1..];
    }
    push_bounded(&mut out, rest);
    Some(out)
}

/// A top-level `message` sent as an object (`{"message": template,
/// "formatted": text, "params": [...]}`, as sentry-java's logging
/// integrations do) is Relay's legacy alias of `logentry`. The event type
/// keeps only its text in `message`; grouping by that text would make one
/// issue per parameter value, so the object becomes the `logentry` (unless
/// the event has one). Only payloads where some `"message"` key holds an
/// object are read a second time.
fn legacy_message_object(payload: &[u8], event: &mut Event) {
    #[derive(serde::Deserialize)]
    struct Top {
        #[serde(default)]
        message: Option<Value>,
    }
    if event.logentry.is_some()
        || event.message.is_none()
        || !some_key_holds_object(payload, b"\"message\"")
    {
        return;
    }
    let Ok(Top {
        message: Some(Value::Object(object)),
    }) = serde_json::from_slice::<Top>(payload)
    else {
        return;
    };
    let Ok(entry) = serde_json::from_value::<LogEntry>(Value::Object(object)) else {
        return;
    };
    if entry.message.is_some() || entry.formatted.is_some() {
        event.logentry = Some(entry);
        event.message = None;
    }
}

/// Whether `key` (quoted) is followed, past a colon and whitespace, by `{`
/// anywhere in `json`.
fn some_key_holds_object(json: &[u8], key: &[u8]) -> bool {
    memchr::memmem::find_iter(json, key).any(|at| {
        let mut after = json[at + key.len()..]
            .iter()
            .skip_while(|b| b.is_ascii_whitespace());
        after.next() == Some(&b':') && after.find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
    })
}

fn date_breadcrumbs(crumbs: &mut [Breadcrumb], at: Timestamp, errors: &mut Vec<Value>) {
    let mut dated = 0;
    for crumb in crumbs
        .iter_mut()
        .filter(|c| c.timestamp.as_secs_f64() == 0.0)
    {
        crumb.timestamp = at;
        dated += 1;
    }
    if dated > 0 {
        errors.push(json!({
            "type": "missing_attribute",
            "name": "breadcrumbs",
            "reason": format!("{dated} breadcrumbs without a valid timestamp took the event's"),
        }));
    }
}

fn trim_frames<T>(frames: &mut Vec<T>) {
    if frames.len() > MAX_FRAMES {
        frames.drain(..frames.len() - MAX_FRAMES);
    }
}

/// Parses and normalises a transaction. Missing timestamps are filled in
/// (end = receive time, start = end) and recorded in `errors` rather than
/// dropping the transaction.
pub fn transaction(
    payload: &[u8],
    ctx: &RequestContext,
    header_id: Option<Uuid>,
) -> Result<Transaction, IngestError> {
    let mut errors = Vec::new();
    let (mut tx, had_start, had_end) =
        match parse_direct::<Transaction, 2>(payload, ["start_timestamp", "timestamp"]) {
            // A `null` end counts as present here, but then `tx.timestamp` is
            // `None`, which `end_ok` below treats as missing all the same (a
            // `null` start fails the direct parse).
            Some((tx, [had_start, had_end])) => (tx, had_start, had_end),
            None => {
                let value = parse_object(payload, "transaction", &mut errors)?;
                let has = |k: &str| value.get(k).is_some_and(|t| !t.is_null());
                let (had_start, had_end) = (has("start_timestamp"), has("timestamp"));
                let tx: Transaction =
                    deserialize_lenient(value, &mut errors).map_err(|reason| {
                        IngestError::Invalid {
                            detail: "invalid transaction payload".to_owned(),
                            causes: vec![reason],
                        }
                    })?;
                (tx, had_start, had_end)
            }
        };
    if let Some(id) = header_id {
        tx.event_id = id;
    }
    if tx.event_id.is_nil() {
        tx.event_id = Uuid::new_v4();
    }
    let removed = |name: &str| errors.iter().any(|e| e["name"] == name);
    let end_ok = had_end && tx.timestamp.is_some() && !removed("timestamp");
    let start_ok = had_start && !removed("start_timestamp");
    let end = if end_ok {
        tx.timestamp.unwrap_or(ctx.received)
    } else {
        errors.push(json!({"type": "missing_attribute", "name": "timestamp"}));
        ctx.received
    };
    if !start_ok {
        errors.push(json!({"type": "missing_attribute", "name": "start_timestamp"}));
        tx.start_timestamp = end;
    }
    tx.timestamp = Some(end);
    if end.as_secs_f64() < 0.0 || tx.start_timestamp.as_secs_f64() < 0.0 {
        return Err(too_stale());
    }
    if !end_ok {
        // The end is the server's own time: the client's clock drift does
        // not apply to it, only to the times the client gave (as for an
        // undated event). A start that was filled in is the end's.
        if let Some((drift, error)) = ctx.drift() {
            // The error is recorded only when a time actually moved (a
            // time that the drift would carry out of the window stays).
            let mut moved = false;
            let mut shift_time = |t: Timestamp| {
                let shifted = ctx.shift_plausibly(t, drift, end);
                moved |= shifted != t;
                shifted
            };
            if start_ok {
                tx.start_timestamp = shift_time(tx.start_timestamp);
            }
            for span in &mut tx.spans {
                span.start_timestamp = shift_time(span.start_timestamp);
                span.timestamp = span.timestamp.map(&mut shift_time);
            }
            for crumb in &mut tx.breadcrumbs.values {
                if crumb.timestamp.as_secs_f64() != 0.0 {
                    crumb.timestamp = shift_time(crumb.timestamp);
                }
            }
            if moved {
                errors.push(error);
            }
        }
    }
    date_breadcrumbs(&mut tx.breadcrumbs.values, end, &mut errors);
    let (shift, corrected) = if end_ok {
        ctx.timestamp_shift(end.as_secs_f64(), &mut errors)
    } else {
        (0.0, end)
    };
    if shift != 0.0 {
        // Everything moves with the end, within plausible times (as an
        // event's breadcrumbs do).
        let shift_time = |t| ctx.shift_plausibly(t, shift, corrected);
        tx.timestamp = Some(corrected);
        tx.start_timestamp = shift_time(tx.start_timestamp);
        for span in &mut tx.spans {
            span.start_timestamp = shift_time(span.start_timestamp);
            span.timestamp = span.timestamp.map(shift_time);
        }
        for crumb in &mut tx.breadcrumbs.values {
            crumb.timestamp = shift_time(crumb.timestamp);
        }
    }
    no_negative_durations(&mut tx, &mut errors);
    // Spans from before 1970 (start or end) are removed (PROTOCOL.md §11).
    tx.spans.retain(|s| {
        s.start_timestamp.as_secs_f64() >= 0.0
            && s.timestamp.map_or(true, |t| t.as_secs_f64() >= 0.0)
    });
    let mut release = tx.release.take().map(Cow::into_owned);
    check_release(&mut release, &mut errors);
    tx.release = release.map(Cow::Owned);
    let mut environment = tx.environment.take().map(Cow::into_owned);
    check_environment(&mut environment, &mut errors);
    tx.environment = environment.map(Cow::Owned);
    check_tags(&mut tx.tags, &mut errors);
    super::trim::transaction(&mut tx);
    super::user_agent::add_transaction_contexts(&mut tx);
    if !matches!(tx.contexts.get("trace"), Some(Context::Trace(_))) {
        errors.push(json!({"type": "missing_attribute", "name": "contexts.trace"}));
    }
    append_errors(&mut tx.other, errors);
    tx.other
        .insert("received".to_owned(), json!(ctx.received.as_secs_f64()));
    Ok(tx)
}

/// Moves a start that is after its end (as sent, or once a plausible start
/// was kept beside an end that had to be replaced by the receive time) to
/// the end: a duration of zero rather than a negative one. Relay drops such
/// a transaction; a local receiver keeps it and says what it changed.
fn no_negative_durations(tx: &mut Transaction, errors: &mut Vec<Value>) {
    let mut fix = |name: String, start: &mut Timestamp, end: Timestamp| {
        if start.as_secs_f64() > end.as_secs_f64() {
            errors.push(json!({
                "type": "invalid_data",
                "name": name,
                "reason": "after the end timestamp: moved to it",
                "value": start.as_secs_f64(),
            }));
            *start = end;
        }
    };
    if let Some(end) = tx.timestamp {
        fix("start_timestamp".to_owned(), &mut tx.start_timestamp, end);
    }
    for (i, span) in tx.spans.iter_mut().enumerate() {
        // A span that ends before 1970 is removed below, not moved.
        if let Some(end) = span.timestamp.filter(|t| t.as_secs_f64() >= 0.0) {
            fix(
                format!("spans[{i}].start_timestamp"),
                &mut span.start_timestamp,
                end,
            );
        }
    }
}

/// Why a session item was not stored.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionDrop {
    /// Dropped by the rules of PROTOCOL.md §7 (answered 200, not stored).
    Silently(&'static str),
    /// Not a session at all: kept as a raw item with this reason.
    Malformed(String),
}

fn session_window(ctx: &RequestContext, times: &[f64]) -> Result<(), SessionDrop> {
    let received = ctx.received.as_secs_f64();
    for t in times {
        if *t < received - MAX_SESSION_SECS_IN_PAST {
            return Err(SessionDrop::Silently("session is older than 5 days"));
        }
        if *t > received + MAX_SECS_IN_FUTURE {
            return Err(SessionDrop::Silently("session is in the future"));
        }
    }
    Ok(())
}

fn session_attrs(
    release: &str,
    environment: Option<&str>,
) -> Result<(String, Option<String>), SessionDrop> {
    if !valid_release(release) {
        return Err(SessionDrop::Silently("session has no valid release"));
    }
    let environment = environment
        .filter(|e| valid_environment(e))
        .map(|e| e.trim().to_owned());
    Ok((release.trim().to_owned(), environment))
}

/// Validates and normalises one `session` update, the `ordinal`-th (from 0)
/// of its envelope.
pub fn session(
    payload: &[u8],
    ctx: &RequestContext,
    ordinal: u64,
) -> Result<SessionRecord, SessionDrop> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| SessionDrop::Malformed(format!("invalid session JSON: {e}")))?;
    let has_seq = value.get("seq").is_some_and(|s| !s.is_null());
    let update: SessionUpdate = deserialize_lenient(value, &mut Vec::new())
        .map_err(|e| SessionDrop::Malformed(format!("invalid session: {e}")))?;
    let (release, environment) =
        session_attrs(&update.attrs.release, update.attrs.environment.as_deref())?;
    let shift = ctx.drift().map_or(0.0, |(d, _)| d);
    let started = update.started.as_secs_f64() + shift;
    let timestamp = update
        .timestamp
        .map_or(ctx.received.as_secs_f64(), |t| t.as_secs_f64() + shift)
        .max(started);
    session_window(ctx, &[started, timestamp])?;
    let seq = if update.init {
        0
    } else if has_seq {
        update.seq.min(i64::MAX as u64) as i64
    } else {
        // The Python and JavaScript SDKs send no `seq`: updates are ordered
        // by their time, then by their place in the envelope, so that two
        // updates of one session in one envelope (an error, then the crash)
        // are both kept.
        (timestamp * 1000.0) as i64 * 10_000 + ordinal.min(9_999) as i64
    };
    let did = update.did.filter(|d| usable_did(d));
    // A crashed session had at least its crash (PROTOCOL.md §7.1).
    let errors = update.errors.min(i64::MAX as u64) as i64;
    let errors = if update.status.as_str() == "crashed" {
        errors.max(1)
    } else {
        errors
    };
    Ok(SessionRecord {
        sid: update.sid.simple().to_string(),
        did,
        seq,
        init: update.init,
        status: update.status.as_str().to_owned(),
        errors,
        started,
        timestamp,
        duration: update.duration,
        release,
        environment,
        abnormal_mechanism: update.abnormal_mechanism,
    })
}

/// Whether a distinct id counts a user: not empty, not the nil UUID.
fn usable_did(did: &str) -> bool {
    !did.is_empty() && Uuid::parse_str(did).map_or(true, |u| !u.is_nil())
}

/// Validates and normalises a `sessions` aggregate; buckets outside the time
/// window are dropped individually.
pub fn aggregates(
    payload: &[u8],
    ctx: &RequestContext,
) -> Result<Vec<AggregateRecord>, SessionDrop> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| SessionDrop::Malformed(format!("invalid sessions JSON: {e}")))?;
    let agg: SessionAggregates = deserialize_lenient(value, &mut Vec::new())
        .map_err(|e| SessionDrop::Malformed(format!("invalid sessions: {e}")))?;
    let (release, environment) =
        session_attrs(&agg.attrs.release, agg.attrs.environment.as_deref())?;
    let shift = ctx.drift().map_or(0.0, |(d, _)| d);
    Ok(agg
        .aggregates
        .into_iter()
        .filter_map(|b| {
            let started = b.started.as_secs_f64() + shift;
            session_window(ctx, &[started]).ok()?;
            Some(AggregateRecord {
                started,
                did: b.did.filter(|d| usable_did(d)),
                exited: b.exited.into(),
                errored: b.errored.into(),
                abnormal: b.abnormal.into(),
                crashed: b.crashed.into(),
                unhandled: b.unhandled.into(),
                release: release.clone(),
                environment: environment.clone(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_800_000_000.0;

    fn ctx(sent_at: Option<f64>) -> RequestContext {
        RequestContext {
            received: Timestamp::from_secs_f64(NOW),
            sent_at: sent_at.map(Timestamp::from_secs_f64),
            client_ip: Some("10.1.2.3".to_owned()),
        }
    }

    fn errors_of(e: &Event) -> Vec<Value> {
        e.other
            .get("errors")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn the_direct_parse_agrees_with_the_lenient_one() {
        let payloads: [&[u8]; 3] = [
            br#"{"message":"x","timestamp":1799999990.5,"level":"warning","tags":{"a":"b"},
                 "breadcrumbs":[{"timestamp":1799999980,"message":"c"}],"custom":{"k":[1,2]},
                 "exception":{"values":[{"type":"E","value":"v","stacktrace":{"frames":[
                    {"function":"f","lineno":3,"vars":{"x":null}}]}}]}}"#,
            br#"{"message":"no timestamp"}"#,
            br#"  {"logentry":{"message":"%s","params":["a"]},"user":{"ip_address":"{{auto}}"}}"#,
        ];
        for payload in payloads {
            let (direct, [present]) =
                parse_direct::<Event, 1>(payload, ["timestamp"]).expect("valid payload");
            let value: Value = serde_json::from_slice(payload).expect("json");
            let had = value.get("timestamp").is_some_and(|t| !t.is_null());
            let lenient: Event = deserialize_lenient(value, &mut Vec::new()).expect("lenient");
            assert_eq!(present, had);
            // `Timestamp::now` differs between the two parses when absent.
            let strip = |mut e: Event| {
                e.timestamp = Timestamp::from_secs_f64(0.0);
                e.event_id = Uuid::nil();
                e
            };
            assert_eq!(strip(direct), strip(lenient));
            // Normalisation gives the receive time to events without one.
            let e = event(payload, &ctx(None), None).expect("event");
            if !had {
                assert_eq!(e.timestamp.as_secs_f64(), NOW);
            }
        }
        // Duplicate keys, nulls and wrong types take the lenient path.
        assert!(
            parse_direct::<Event, 1>(br#"{"timestamp":1,"timestamp":2}"#, ["timestamp"]).is_none()
        );
        assert!(parse_direct::<Event, 1>(br#"{"timestamp":null}"#, ["timestamp"]).is_none());
        assert!(
            parse_direct::<Event, 1>(br#"{"level":"superbad","tags":5}"#, ["timestamp"]).is_none()
        );
        assert!(parse_direct::<Event, 1>(b"[1]", ["timestamp"]).is_none());
    }

    /// `e` without the parts ingestion leaves out (all contexts but
    /// `trace`), and without the errors about them.
    fn without_unread_parts(mut e: Event) -> Event {
        e.contexts.retain(|name, _| name == "trace");
        e.breadcrumbs.values.clear();
        e.request = None;
        e.modules.clear();
        e.extra.clear();
        e.sdk = None;
        let exceptions = e.exception.values.iter_mut();
        let stacktraces = exceptions
            .flat_map(|x| [x.stacktrace.as_mut(), x.raw_stacktrace.as_mut()])
            .chain(e.threads.values.iter_mut().map(|t| t.stacktrace.as_mut()))
            .chain([e.stacktrace.as_mut()])
            .flatten();
        for frame in stacktraces.flat_map(|s| s.frames.iter_mut()) {
            frame.vars.clear();
            frame.pre_context.clear();
            frame.post_context.clear();
        }
        if let Some(Value::Array(errors)) = e.other.get_mut("errors") {
            errors.retain(|x| {
                let name = x["name"].as_str().unwrap_or("");
                name != FRAME_CONTEXT
                    && !NOT_READ_AT_INGEST
                        .iter()
                        .chain(&["contexts"])
                        .any(|k| name == *k || name.starts_with(&format!("{k}.")))
            });
            if errors.is_empty() {
                e.other.remove("errors");
            }
        }
        e
    }

    #[test]
    fn ingestion_reads_frames_without_their_variables_and_source_lines() {
        let payload = br#"{"exception":{"values":[{"type":"E","stacktrace":{"frames":[
            {"function":"f","lineno":3,"vars":{"x":1},"pre_context":["a"],
             "context_line":"b","post_context":["c"]}]}}]}}"#;
        let frame = |e: &Event| {
            e.exception.values[0]
                .stacktrace
                .as_ref()
                .expect("trace")
                .frames[0]
                .clone()
        };
        let lean = frame(&event_for_ingest(payload, &ctx(None), None).expect("ingest"));
        assert!(lean.vars.is_empty() && lean.pre_context.is_empty());
        assert!(lean.post_context.is_empty());
        assert_eq!(
            (lean.function.as_deref(), lean.lineno),
            (Some("f"), Some(3))
        );
        assert_eq!(lean.context_line.as_deref(), Some("b"));
        let full = frame(&event(payload, &ctx(None), None).expect("read"));
        assert_eq!(
            (
                full.vars.len(),
                full.pre_context.len(),
                full.post_context.len()
            ),
            (1, 1, 1)
        );
        // What a `Value` refuses, in a frame's variables: ingestion never
        // read them, and the read keeps the rest, saying what it left out.
        let damaged = br#"{"exception":{"values":[{"type":"E","stacktrace":{"frames":[
            {"function":"f","vars":{"s":"\ud800"}}]}}]}}"#;
        assert!(event_for_ingest(damaged, &ctx(None), None).is_ok());
        let read = event(damaged, &ctx(None), None).expect("read");
        assert_eq!(frame(&read).function.as_deref(), Some("f"));
        assert!(frame(&read).vars.is_empty());
        let errors = errors_of(&read);
        let names: Vec<&str> = errors.iter().filter_map(|e| e["name"].as_str()).collect();
        assert_eq!(names, [FRAME_CONTEXT]);
        // Damage elsewhere: the frames are read whole, and not named.
        let elsewhere = br#"{"breadcrumbs":[{"message":"\ud800"}],"exception":{"values":[
            {"type":"E","stacktrace":{"frames":[{"function":"f","vars":{"x":1}}]}}]}}"#;
        let read = event(elsewhere, &ctx(None), None).expect("read");
        assert_eq!(frame(&read).vars.len(), 1);
        let errors = errors_of(&read);
        let names: Vec<&str> = errors.iter().filter_map(|e| e["name"].as_str()).collect();
        assert_eq!(names, ["breadcrumbs"]);
        // Wrong types in the skipped parts are not skipped over: past the
        // read's repair budget they are refused at ingestion as on read.
        let frames = vec![r#"{"function":"f","vars":5}"#; 40].join(",");
        let many = format!(
            r#"{{"exception":{{"values":[{{"type":"E","stacktrace":{{"frames":[{frames}]}}}}]}}}}"#
        );
        assert!(event(many.as_bytes(), &ctx(None), None).is_err());
        assert!(event_for_ingest(many.as_bytes(), &ctx(None), None).is_err());
        let lines = (0..40).map(|n| n.to_string()).collect::<Vec<_>>().join(",");
        let many = format!(
            r#"{{"stacktrace":{{"frames":[{{"function":"f","pre_context":[{lines}]}}]}}}}"#
        );
        assert!(event(many.as_bytes(), &ctx(None), None).is_err());
        assert!(event_for_ingest(many.as_bytes(), &ctx(None), None).is_err());
        // A few are repaired, the same way on both sides.
        let few = br#"{"stacktrace":{"frames":[{"function":"f","vars":5,"post_context":"x"}]}}"#;
        let read = event(few, &ctx(None), None).expect("read");
        let lean = event_for_ingest(few, &ctx(None), None).expect("ingest");
        assert_eq!(errors_of(&read), errors_of(&lean));
    }

    #[test]
    fn ingestion_reads_all_but_the_unread_parts_the_same() {
        let payloads: [&[u8]; 13] = [
            br#"{"message":"x","timestamp":1799999990.5,"level":"warning","tags":{"a":"b"},
                 "breadcrumbs":[{"timestamp":1799999980,"message":"c"}],"custom":{"k":[1,2]},
                 "request":{"url":"http://x/","method":"GET"},"modules":{"a":"1"},
                 "extra":{"k":1},"sdk":{"name":"s","version":"1"},
                 "exception":{"values":[{"type":"E","value":"v","stacktrace":{"frames":[
                    {"function":"f","lineno":3,"vars":{"x":null}}]}}]}}"#,
            // Damaged unread parts: repaired by `event`, not read at all here.
            br#"{"message":"x","breadcrumbs":{"values":[{"timestamp":"bad","level":7}]},
                 "request":5,"sdk":{"name":[]},"extra":"e"}"#,
            // Damage in a part both read: the same repair.
            br#"{"message":"x","level":"superbad","breadcrumbs":[{"message":"m"}],
                 "exception":{"values":[{"type":"E","stacktrace":{"frames":[
                    {"function":"f","lineno":"NaN"}]}}]}}"#,
            br#"{"sentry.interfaces.Breadcrumbs":{"values":[{"message":"m"}]},
                 "sentry.interfaces.Http":{"url":"u"},"logentry":{"message":"%s","params":[1]}}"#,
            br#"{"message":"no timestamp","breadcrumbs":null}"#,
            br#"{"message":"x","timestamp":"garbage","breadcrumbs":[1,2,3]}"#,
            // Contexts: only `trace` is kept, as `event` reads it.
            br#"{"message":"c","contexts":{"os":{"name":"Linux"},"trace":{"trace_id":
                 "0123456789abcdef0123456789abcdef","span_id":"0123456789abcdef","op":"x"},
                 "runtime":5}}"#,
            br#"{"message":"c","contexts":{"trace":{"trace_id":"0123456789abcdef0123456789abcdef",
                 "span_id":"0123456789abcdef"},"trace":null}}"#,
            br#"{"message":"c","contexts":{"trace":null,"trace":{"trace_id":
                 "0123456789abcdef0123456789abcdef","span_id":"0123456789abcdef"}}}"#,
            br#"{"message":"c","contexts":{"trace":{"trace_id":"not hex"}}}"#,
            br#"{"message":"c","contexts":null}"#,
            br#"{"message":"c","contexts":"a string","level":"warning"}"#,
            br#"{"message":"c","sentry.interfaces.Contexts":{"trace":{"trace_id":
                 "0123456789abcdef0123456789abcdef","span_id":"0123456789abcdef"}}}"#,
        ];
        for (i, payload) in payloads.into_iter().enumerate() {
            let text = String::from_utf8_lossy(payload);
            let full = event(payload, &ctx(None), None).expect("event");
            let lean = event_for_ingest(payload, &ctx(None), None).expect("ingest");
            if i == 0 {
                // Valid: read directly, without the parts. (Damage where
                // ingestion reads takes the lenient path, which reads all.)
                assert!(!full.breadcrumbs.is_empty() && full.request.is_some());
                assert!(lean.breadcrumbs.is_empty() && lean.request.is_none());
                assert!(lean.extra.is_empty() && lean.sdk.is_none() && lean.modules.is_empty());
            }
            let mut lean = without_unread_parts(lean);
            // Generated when absent: not comparable.
            lean.event_id = full.event_id;
            assert_eq!(lean, without_unread_parts(full), "{text}");
        }
    }

    #[test]
    fn ingestion_and_reading_refuse_the_same() {
        let refused: [&[u8]; 8] = [
            br#"{"message":"x","request":{"url":"u"} trailing"#,
            br#"{"message":"x","modules":{"a":"1"},"timestamp":-5}"#,
            // What a `Value` refuses, in a part both read.
            br#"{"message":"\ud800","breadcrumbs":[]}"#,
            br#"{"exception":{"values":[{"type":"E","value":1e400}]},"extra":{}}"#,
            // One field under both its names: a duplicate no repair removes.
            br#"{"message":"x","breadcrumbs":[],"sentry.interfaces.Breadcrumbs":[]}"#,
            br#"{"message":"x","request":{},"sentry.interfaces.Http":{}}"#,
            br#"{"message":"x","contexts":{},"sentry.interfaces.Contexts":{}}"#,
            // In the SDK of an event with exception groups, which grouping
            // reads.
            br#"{"exception":{"values":[{"type":"E","mechanism":{"type":"chained",
                "is_exception_group":true,"exception_id":0}}]},
                "sdk":{"name":"sentry.python","version":"3.0.0","x":"\ud800"}}"#,
        ];
        for payload in refused {
            let text = String::from_utf8_lossy(payload);
            assert!(event(payload, &ctx(None), None).is_err(), "{text}");
            assert!(
                event_for_ingest(payload, &ctx(None), None).is_err(),
                "{text}"
            );
        }
        // What a `Value` refuses (a lone surrogate, a number out of range),
        // where only a skipped field or a part ingestion leaves out has it:
        // accepted, and read back as ingestion read it.
        let accepted: [&[u8]; 16] = [
            br#"{"message":"x","breadcrumbs":[{"message":"\ud800"}]}"#,
            // In a frame's context, where a checked skip refuses it too.
            br#"{"stacktrace":{"frames":[{"function":"f","pre_context":[1e400]}]}}"#,
            br#"{"stacktrace":{"frames":[{"function":"f","pre_context":["\ud83d"]}]}}"#,
            br#"{"stacktrace":{"frames":[{"function":"f","vars":{"\ud800":1}}]}}"#,
            br#"{"breadcrumbs":[{"message":"\ud800"}],"stacktrace":{"frames":[
                {"function":"f","vars":5}]}}"#,
            br#"{"exception":{"values":[{"type":"E","stacktrace":{"frames":[
                {"function":"f","vars":{"s":"\ud800"}}]}}]}}"#,
            br#"{"stacktrace":{"frames":[{"function":"f","vars":{"n":1e400},
                "post_context":null}]}}"#,
            br#"{"threads":{"values":[{"stacktrace":{"frames":[{"function":"f",
                "vars":{"s":"\udc00"},"pre_context":["a"]}]}}]}}"#,
            br#"{"message":"x","extra":{"n":1e400}}"#,
            br#"{"message":"x","contexts":{"os":{"name":"\udc00"}}}"#,
            br#"{"message":"m","breadcrumbs":{"values":[],"x":1e400}}"#,
            br#"{"message":"m","breadcrumbs":{"values":[],"x":"\ud800"}}"#,
            br#"{"message":"m","sdk":{"packages":[{"name":"a","version":"1","x":1e400}]}}"#,
            br#"{"message":"m","exception":{"values":[],"x":1e400},"extra":5}"#,
            br#"{"message":"m","exception":{"values":[],"x":"\udc00"},"request":5}"#,
            // With exception groups, whose grouping reads the SDK.
            br#"{"exception":{"values":[{"type":"E","mechanism":{"type":"chained",
                "is_exception_group":true,"exception_id":0}},{"type":"F","mechanism":{
                "type":"chained","exception_id":1,"parent_id":0}}]},
                "sdk":{"name":"sentry.python","version":"3.0.0"},"extra":{"s":"\ud800"}}"#,
        ];
        // Not UTF-8 (read from the bytes), and nesting past serde_json's
        // limit, in a part ingestion leaves out.
        let deep = format!(
            r#"{{"message":"m","extra":{}1{},"request":5}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let more: [&[u8]; 2] = [
            b"{\"message\":\"m\",\"breadcrumbs\":[{\"message\":\"\xff\"}]}",
            deep.as_bytes(),
        ];
        for payload in accepted.into_iter().chain(more) {
            let text = String::from_utf8_lossy(payload);
            let read = event(payload, &ctx(None), None).expect("read");
            let lean = event_for_ingest(payload, &ctx(None), None).expect("ingest");
            if has_exception_groups(&lean) {
                assert!(lean.sdk.is_some(), "{text}");
                assert_eq!(lean.sdk, read.sdk, "{text}");
            }
            let mut lean = without_unread_parts(lean);
            lean.event_id = read.event_id;
            assert_eq!(lean, without_unread_parts(read), "{text}");
        }
    }

    #[test]
    fn the_nan_repair_never_changes_what_ingestion_read() {
        // `NaN` only inside a string, an integer past 64 bits in fields
        // ingestion reads, one past f64 in a part it skips: ingestion
        // parses it directly; the read must not take the repair (which
        // reads every such integer as 0) for those fields.
        let big = format!("1{}", "0".repeat(400));
        let payload = format!(
            r#"{{"message":"NaN","fingerprint":[123456789012345678901234],
                "tags":{{"t":123456789012345678901234}},"checksum":123456789012345678901234,
                "contexts":{{"trace":{{"data":{{"n":123456789012345678901234}}}}}},
                "extra":{{"n":{big}}}}}"#
        );
        let lean = event_for_ingest(payload.as_bytes(), &ctx(None), None).expect("ingest");
        let read = event(payload.as_bytes(), &ctx(None), None).expect("read");
        assert_eq!(lean.fingerprint, read.fingerprint);
        assert_ne!(read.fingerprint, ["0"]);
        assert_eq!(lean.tags, read.tags);
        let mut lean = without_unread_parts(lean);
        lean.event_id = read.event_id;
        assert_eq!(lean, without_unread_parts(read));
        // A real `NaN` (old Python SDKs) is still read as 0 on both sides.
        let nan = br#"{"message":"m","extra":{"x":NaN},"tags":{"t":"v"}}"#;
        let read = event(nan, &ctx(None), None).expect("read");
        assert_eq!(read.extra["x"], json!(0));
        assert!(event_for_ingest(nan, &ctx(None), None).is_ok());
    }

    #[test]
    fn unread_parts_beyond_repair_are_dropped_whole_not_the_event() {
        // More bad breadcrumbs than repairs: ingestion, which does not read
        // them, accepts the event, so reading it must not refuse it.
        let crumbs: Vec<Value> = (0..MAX_REPAIRS + 8)
            .map(|i| json!({"timestamp": "bad", "message": i}))
            .collect();
        let payload = json!({
            "message": "kept",
            "breadcrumbs": crumbs,
            "request": {"url": "http://x/", "method": "GET"},
            "extra": {"fine": true},
            "exception": {"values": [{"type": "E", "value": "v"}]},
        })
        .to_string();
        let lean = event_for_ingest(payload.as_bytes(), &ctx(None), None).expect("ingest");
        let e = event(payload.as_bytes(), &ctx(None), None).expect("read back");
        assert!(e.breadcrumbs.is_empty());
        // Only the damaged part goes; the sound ones stay.
        assert_eq!(
            e.request.as_ref().and_then(|r| r.url.as_deref()),
            Some("http://x/")
        );
        assert_eq!(e.extra["fine"], json!(true));
        assert_eq!(e.exception.values[0].ty, "E");
        let errors = errors_of(&e);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0]["name"], "breadcrumbs");
        let mut lean = without_unread_parts(lean);
        lean.event_id = e.event_id;
        assert_eq!(lean, without_unread_parts(e));

        // Damage beyond repair where ingestion reads is still refused.
        let frames: Vec<Value> = (0..MAX_REPAIRS + 8)
            .map(|_| json!({"function": "f", "lineno": "bad"}))
            .collect();
        let payload = json!({
            "breadcrumbs": [{"message": "fine"}],
            "exception": {"values": [{"type": "E", "stacktrace": {"frames": frames}}]},
        })
        .to_string();
        assert!(event(payload.as_bytes(), &ctx(None), None).is_err());
        assert!(event_for_ingest(payload.as_bytes(), &ctx(None), None).is_err());
    }

    #[test]
    fn garbage_timestamp_becomes_receive_time() {
        let e = event(
            br#"{"message":"x","timestamp":"garbage"}"#,
            &ctx(None),
            None,
        )
        .unwrap();
        assert_eq!(e.timestamp.as_secs_f64(), NOW);
        assert_eq!(errors_of(&e)[0]["name"], "timestamp");
    }

    #[test]
    fn wrong_typed_fields_are_removed_not_fatal() {
        let e = event(
            br#"{"message":"x","level":"superbad","tags":5,"user":"bob","release":"a/b",
                 "exception":{"values":[{"type":"E","value":"v","stacktrace":{"frames":[
                    {"function":"f","lineno":"NaN"},{"function":"g","lineno":3}]}}]}}"#,
            &ctx(None),
            None,
        )
        .unwrap();
        let names: Vec<String> = errors_of(&e)
            .iter()
            .map(|x| x["name"].as_str().unwrap_or("").to_owned())
            .collect();
        assert!(names.contains(&"level".to_owned()), "{names:?}");
        assert!(names.contains(&"tags".to_owned()), "{names:?}");
        assert!(names.contains(&"user".to_owned()), "{names:?}");
        assert!(names.contains(&"release".to_owned()), "{names:?}");
        // Only the bad frame field goes, the exception stays.
        let frames = &e.exception.values[0].stacktrace.as_ref().unwrap().frames;
        assert_eq!(frames.len(), 2, "{names:?}");
        assert_eq!(frames[1].lineno, Some(3));
        assert!(e.release.is_none());
    }

    #[test]
    fn not_json_or_not_object_is_400() {
        assert_eq!(
            event(b"{nope", &ctx(None), None)
                .unwrap_err()
                .status()
                .as_u16(),
            400
        );
        assert_eq!(
            event(b"[1]", &ctx(None), None)
                .unwrap_err()
                .status()
                .as_u16(),
            400
        );
    }

    #[test]
    fn negative_timestamps_are_refused() {
        assert!(event(br#"{"timestamp":-5}"#, &ctx(None), None).is_err());
    }

    #[test]
    fn clock_drift_is_corrected_from_55_minutes() {
        // SDK clock 2 hours behind: sent_at = NOW - 7200, event 10 s before sending.
        let body = format!(r#"{{"timestamp":{}}}"#, NOW - 7210.0);
        let e = event(body.as_bytes(), &ctx(Some(NOW - 7200.0)), None).unwrap();
        assert!((e.timestamp.as_secs_f64() - (NOW - 10.0)).abs() < 1e-6);
        assert_eq!(errors_of(&e)[0]["type"], "clock_drift");
        // 54 minutes: no correction.
        let body = format!(r#"{{"timestamp":{}}}"#, NOW - 54.0 * 60.0);
        let e = event(body.as_bytes(), &ctx(Some(NOW - 54.0 * 60.0)), None).unwrap();
        assert!((e.timestamp.as_secs_f64() - (NOW - 3240.0)).abs() < 1e-6);
        assert!(errors_of(&e).is_empty());
    }

    #[test]
    fn ingestion_groups_python_3_exception_groups_as_a_read_does() {
        let body = br#"{"platform":"python","sdk":{"name":"sentry.python","version":"3.0.0"},
            "exception":{"values":[
              {"type":"ValueError","value":"a","mechanism":{"type":"chained","exception_id":1,"parent_id":0}},
              {"type":"ValueError","value":"a","mechanism":{"type":"chained","exception_id":2,"parent_id":0}},
              {"type":"ExceptionGroup","value":"many","mechanism":{"type":"generic","exception_id":0,"is_exception_group":true}}]}}"#;
        let same = |body: &[u8]| {
            let ingested = event_for_ingest(body, &ctx(None), None).unwrap();
            let read = event(body, &ctx(None), None).unwrap();
            let (a, b) = (
                crate::grouping::group_event(&ingested),
                crate::grouping::group_event(&read),
            );
            assert_eq!(a.hashes, b.hashes);
            assert_eq!(a.title, b.title);
            a.title
        };
        assert_eq!(same(body), "ExceptionGroup: many");
        // An SDK field the strict parse refuses is repaired as on read.
        let repaired = String::from_utf8_lossy(body).replace(
            r#""version":"3.0.0""#,
            r#""version":"3.0.0","integrations":5"#,
        );
        assert_eq!(same(repaired.as_bytes()), "ExceptionGroup: many");
    }

    #[test]
    fn a_logentry_without_formatted_text_is_formatted_from_its_params() {
        let formatted = |logentry: Value| {
            let body = json!({ "logentry": logentry }).to_string();
            event(body.as_bytes(), &ctx(None), None)
                .unwrap()
                .logentry
                .and_then(|l| l.formatted)
        };
        let f =
            |message: &str, params: Value| formatted(json!({"message": message, "params": params}));
        assert_eq!(
            f("Payment %s failed after %d ms", json!(["pay-42", 1200])).as_deref(),
            Some("Payment pay-42 failed after 1200 ms")
        );
        assert_eq!(
            f("%(user)s has %(n)05.1f%%", json!({"user": "bob", "n": 3})).as_deref(),
            Some("bob has 3%")
        );
        assert_eq!(
            f("User {} failed {} times", json!(["bob", 2])).as_deref(),
            Some("User bob failed 2 times")
        );
        assert_eq!(
            f("{1} before {0}", json!(["b", "a"])).as_deref(),
            Some("a before b")
        );
        // Templates that do not fit stay unformatted.
        assert_eq!(f("%s and %s", json!(["one"])), None);
        assert_eq!(f("%(missing)s", json!({"user": "bob"})), None);
        assert_eq!(f("{5}", json!(["a"])), None);
        assert_eq!(f("100% sure %q", json!(["x"])), None);
        // A parameter used over and over is not built past the limit.
        let big = "x".repeat(100_000);
        for (template, params) in [
            ("{0}".repeat(2000), json!([big])),
            ("%(a)s".repeat(2000), json!({"a": big})),
        ] {
            let built = if template.starts_with('%') {
                format_percent(&template, &params)
            } else {
                format_braces(&template, &params)
            };
            assert!(built.unwrap().len() <= MAX_FORMATTED_BYTES);
            let text = f(&template, params).unwrap();
            assert_eq!(text.chars().count(), 8192, "cut to the logentry limit");
        }
        // Sent text is kept.
        assert_eq!(
            formatted(json!({"message": "%s", "formatted": "kept", "params": ["x"]})).as_deref(),
            Some("kept")
        );
    }

    #[test]
    fn a_deeply_nested_invalid_field_is_dropped_so_the_event_reads_back() {
        // A wrong-typed field nested 125 levels: kept in `errors` two levels
        // further down, it would pass serde_json's limit of 128 on read.
        let body = [
            br#"{"message":"hi","sdk":"#.as_ref(),
            &[b'['; 125],
            &[b']'; 125],
            b"}",
        ]
        .concat();
        let e = event(&body, &ctx(None), None).unwrap();
        let written = serde_json::to_vec(&e).unwrap();
        assert!(serde_json::from_slice::<Value>(&written).is_ok());
        assert_eq!(errors_of(&e)[0]["value"], "(nested too deep to keep)");
        assert_eq!(e.message.as_deref(), Some("hi"));
    }

    #[test]
    fn an_undated_event_keeps_the_receive_time_whatever_the_client_clock() {
        // SDK clock 2 hours ahead or behind; no event timestamp, so it takes
        // the receive time, which is the server's and needs no correction.
        // The breadcrumb the client dated still moves by the drift.
        for drift in [7200.0, -7200.0] {
            let body = format!(
                r#"{{"message":"no time","breadcrumbs":[{{"timestamp":{}}}]}}"#,
                NOW + drift - 5.0
            );
            let e = event(body.as_bytes(), &ctx(Some(NOW + drift)), None).unwrap();
            assert_eq!(e.timestamp.as_secs_f64(), NOW);
            let crumb = e.breadcrumbs.values[0].timestamp.as_secs_f64();
            assert!((crumb - (NOW - 5.0)).abs() < 1e-6, "{crumb}");
            let kinds: Vec<Value> = errors_of(&e).iter().map(|e| e["type"].clone()).collect();
            assert!(!kinds.contains(&json!("future_timestamp")), "{kinds:?}");
        }
    }

    #[test]
    fn undated_breadcrumbs_take_the_corrected_event_time() {
        // SDK clock 2 hours behind; one breadcrumb without a timestamp, one
        // with garbage, one dated.
        let body = format!(
            r#"{{"timestamp":{},"breadcrumbs":[{{"message":"a"}},{{"timestamp":"x"}},{{"timestamp":{}}}]}}"#,
            NOW - 7210.0,
            NOW - 7215.0
        );
        for _ in 0..2 {
            let e = event(body.as_bytes(), &ctx(Some(NOW - 7200.0)), None).unwrap();
            let times: Vec<f64> = e
                .breadcrumbs
                .values
                .iter()
                .map(|c| c.timestamp.as_secs_f64())
                .collect();
            assert_eq!(times, [NOW - 10.0, NOW - 10.0, NOW - 15.0]);
            assert!(errors_of(&e).iter().any(|e| e["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("2 breadcrumbs"))));
        }
    }

    #[test]
    fn an_event_start_timestamp_moves_with_drift_within_plausible_times() {
        // Two hours of client clock drift.
        let drift = 7_200.0;
        let sent = NOW - drift;
        let plausible = format!(
            r#"{{"message":"x","timestamp":{},"start_timestamp":{}}}"#,
            sent - 1.0,
            sent - 3.0
        );
        let e = event(plausible.as_bytes(), &ctx(Some(sent)), None).unwrap();
        assert_eq!(e.timestamp.as_secs_f64(), NOW - 1.0);
        assert_eq!(e.other["start_timestamp"].as_f64(), Some(NOW - 3.0));
        // An absurd start stays out of the future rather than moving further.
        let absurd = format!(
            r#"{{"message":"x","timestamp":{},"start_timestamp":1e300}}"#,
            sent - 1.0
        );
        let e = event(absurd.as_bytes(), &ctx(Some(sent)), None).unwrap();
        assert_eq!(e.other["start_timestamp"].as_f64(), Some(NOW - 1.0));
    }

    #[test]
    fn an_undated_event_start_timestamp_still_moves_with_drift() {
        // SDK clock 2 hours ahead or behind; the event has no timestamp (it
        // takes the receive time) but the client dated its start.
        for drift in [7200.0, -7200.0] {
            let body = format!(
                r#"{{"message":"x","start_timestamp":{}}}"#,
                NOW + drift - 3.0
            );
            let e = event(body.as_bytes(), &ctx(Some(NOW + drift)), None).unwrap();
            assert_eq!(e.timestamp.as_secs_f64(), NOW);
            let start = e.other["start_timestamp"].as_f64().unwrap();
            assert!((start - (NOW - 3.0)).abs() < 1e-6, "{drift}: {start}");
            assert!(errors_of(&e).iter().any(|e| e["type"] == "clock_drift"));
        }
    }

    #[test]
    fn an_absurd_transaction_end_keeps_plausible_times() {
        let start = NOW - 5.0;
        let body = format!(
            r#"{{"type":"transaction","start_timestamp":{start},"timestamp":1e300,
                "spans":[{{"span_id":"aa90fdead5f74052","trace_id":"4c79f60c11214eb38604f4ae0781bfb2",
                           "start_timestamp":{start},"timestamp":1e300}}],
                "breadcrumbs":[{{"timestamp":{start}}}],
                "contexts":{{"trace":{{"trace_id":"4c79f60c11214eb38604f4ae0781bfb2",
                                      "span_id":"fa90fdead5f74052"}}}}}}"#
        );
        let tx = transaction(body.as_bytes(), &ctx(None), None).unwrap();
        assert_eq!(tx.timestamp.map(Timestamp::as_secs_f64), Some(NOW));
        assert_eq!(tx.start_timestamp.as_secs_f64(), start);
        assert_eq!(tx.spans.len(), 1, "the span is kept");
        assert_eq!(tx.spans[0].start_timestamp.as_secs_f64(), start);
        assert_eq!(tx.spans[0].timestamp.map(Timestamp::as_secs_f64), Some(NOW));
        assert_eq!(tx.breadcrumbs.values[0].timestamp.as_secs_f64(), start);
    }

    #[test]
    fn a_start_after_the_end_is_moved_to_the_end() {
        // A plausible start a little in the future, beside an absurd end
        // that becomes the receive time; and a span sent the wrong way round.
        let start = NOW + 30.0;
        let body = format!(
            r#"{{"type":"transaction","start_timestamp":{start},"timestamp":1e300,
                "spans":[{{"span_id":"aa90fdead5f74052","trace_id":"4c79f60c11214eb38604f4ae0781bfb2",
                           "start_timestamp":{start},"timestamp":1e300}},
                         {{"span_id":"ba90fdead5f74052","trace_id":"4c79f60c11214eb38604f4ae0781bfb2",
                           "start_timestamp":{late},"timestamp":{early}}}],
                "contexts":{{"trace":{{"trace_id":"4c79f60c11214eb38604f4ae0781bfb2",
                                      "span_id":"fa90fdead5f74052"}}}}}}"#,
            late = NOW - 1.0,
            early = NOW - 2.0,
        );
        let tx = transaction(body.as_bytes(), &ctx(None), None).unwrap();
        assert_eq!(tx.timestamp.map(Timestamp::as_secs_f64), Some(NOW));
        assert_eq!(tx.start_timestamp.as_secs_f64(), NOW);
        assert_eq!(tx.spans[0].start_timestamp.as_secs_f64(), NOW);
        assert_eq!(tx.spans[1].start_timestamp.as_secs_f64(), NOW - 2.0);
        assert_eq!(
            tx.spans[1].timestamp.map(Timestamp::as_secs_f64),
            Some(NOW - 2.0)
        );
        let names: Vec<&str> = tx.other["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["reason"] == "after the end timestamp: moved to it")
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "start_timestamp",
                "spans[0].start_timestamp",
                "spans[1].start_timestamp"
            ]
        );
    }

    #[test]
    fn a_span_that_ends_before_1970_is_removed_not_moved() {
        let body = format!(
            r#"{{"type":"transaction","start_timestamp":{s},"timestamp":{e},
                "spans":[{{"span_id":"aa90fdead5f74052","trace_id":"4c79f60c11214eb38604f4ae0781bfb2",
                           "start_timestamp":{s},"timestamp":-5}}],
                "contexts":{{"trace":{{"trace_id":"4c79f60c11214eb38604f4ae0781bfb2",
                                      "span_id":"fa90fdead5f74052"}}}}}}"#,
            s = NOW - 2.0,
            e = NOW - 1.0,
        );
        let tx = transaction(body.as_bytes(), &ctx(None), None).unwrap();
        assert!(tx.spans.is_empty());
        let moved = tx
            .other
            .get("errors")
            .and_then(Value::as_array)
            .map_or(0, |errors| {
                errors
                    .iter()
                    .filter(|e| e["reason"] == "after the end timestamp: moved to it")
                    .count()
            });
        assert_eq!(moved, 0);
    }

    #[test]
    fn python_nan_and_infinity_are_read_as_zero() {
        let body = br#"{"message":"m","extra":{"ratio":NaN,"max":Infinity,"min":-Infinity,"text":"NaN stays"}}"#;
        let e = event(body, &ctx(None), None).unwrap();
        assert_eq!(e.extra["ratio"], json!(0));
        assert_eq!(e.extra["max"], json!(0));
        assert_eq!(e.extra["min"].as_f64(), Some(0.0));
        assert_eq!(
            e.extra["text"],
            json!("NaN stays"),
            "strings are left alone"
        );
        assert_eq!(errors_of(&e)[0]["name"], "payload");
        let tx = br#"{"type":"transaction","start_timestamp":1799999990,"timestamp":1799999991,
            "measurements":{"lcp":{"value":NaN}}}"#;
        let tx = transaction(tx, &ctx(None), None).unwrap();
        assert_eq!(tx.measurements["lcp"]["value"], json!(0));
        // Anything else still is not JSON.
        assert!(event(br#"{"message":nope}"#, &ctx(None), None).is_err());
        assert!(event(br#"{"message":NaN"#, &ctx(None), None).is_err());
    }

    #[test]
    fn tag_keys_are_cleaned_and_bad_tags_removed() {
        let body = br#"{"message":"t","tags":{" my tag ":"x","bad/key":"y","ok":"line\nbreak","fine":"v","my-tag":"z"}}"#;
        let e = event(body, &ctx(None), None).unwrap();
        let tags: Vec<(&str, &str)> = e
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(tags, [("fine", "v"), ("my-tag", "x")]);
        let removed: Vec<&str> = e.other["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["name"].as_str())
            .collect();
        // `my-tag` came after ` my tag ` (in key order) and clashes with it.
        assert_eq!(removed, ["tags.bad/key", "tags.my-tag", "tags.ok"]);
    }

    #[test]
    fn a_transaction_gets_the_tag_rules_and_size_limits_of_an_event() {
        let body = serde_json::to_vec(&json!({
            "type": "transaction",
            "transaction": "n".repeat(300),
            "start_timestamp": NOW - 2.0,
            "timestamp": NOW - 1.0,
            "contexts": {"trace": {"trace_id": "a".repeat(32), "span_id": "b".repeat(16)}},
            "tags": {" my tag ": "x", "bad/key": "y", "long": "v".repeat(300)},
            "extra": {"big": "e".repeat(20_000)},
            "breadcrumbs": [{"timestamp": NOW - 1.5, "category": "c".repeat(200)}],
            "spans": [{"trace_id": "a".repeat(32), "span_id": "c".repeat(16),
                       "start_timestamp": NOW - 2.0, "timestamp": NOW - 1.5,
                       "tags": {"k": "s".repeat(300)}}],
        }))
        .unwrap();
        let tx = transaction(&body, &ctx(None), None).unwrap();
        let chars = |s: &str| s.chars().count();
        assert_eq!(tx.name.as_deref().map(chars), Some(200));
        let keys: Vec<&str> = tx.tags.keys().map(String::as_str).collect();
        assert_eq!(keys, ["long", "my-tag"]);
        assert_eq!(chars(&tx.tags["long"]), 200);
        assert!(tx.tags["long"].ends_with("..."));
        assert!(tx.extra["big"].as_str().unwrap().len() <= 16 * 1024);
        let crumb = &tx.breadcrumbs.values[0];
        assert_eq!(crumb.category.as_deref().map(chars), Some(128));
        assert_eq!(chars(&tx.spans[0].tags["k"]), 200);
        let removed: Vec<&str> = tx.other["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert_eq!(removed, ["tags.bad/key"]);
    }

    #[test]
    fn future_and_past_are_clamped() {
        let e = event(
            format!(r#"{{"timestamp":{}}}"#, NOW + 3600.0).as_bytes(),
            &ctx(None),
            None,
        )
        .unwrap();
        assert_eq!(e.timestamp.as_secs_f64(), NOW);
        assert_eq!(errors_of(&e)[0]["type"], "future_timestamp");
        let e = event(
            format!(r#"{{"timestamp":{}}}"#, NOW - 40.0 * 86400.0).as_bytes(),
            &ctx(None),
            None,
        )
        .unwrap();
        assert_eq!(e.timestamp.as_secs_f64(), NOW);
        assert_eq!(errors_of(&e)[0]["type"], "past_timestamp");
        // Drift corrected (the clock is 2 h behind), still a day ahead:
        // one error, the one that decided (PROTOCOL.md §11).
        let e = event(
            format!(r#"{{"timestamp":{}}}"#, NOW + 86400.0).as_bytes(),
            &ctx(Some(NOW - 7200.0)),
            None,
        )
        .unwrap();
        assert_eq!(e.timestamp.as_secs_f64(), NOW);
        let kinds: Vec<Value> = errors_of(&e).iter().map(|e| e["type"].clone()).collect();
        assert_eq!(kinds, [json!("future_timestamp")]);
    }

    #[test]
    fn an_absurd_event_time_keeps_plausible_breadcrumb_times() {
        // Event at 1e300 s: moving its breadcrumbs by the same amount would
        // put them before 1970 and drop them all.
        let body = format!(
            r#"{{"timestamp":1e300,"breadcrumbs":[{{"timestamp":{},"message":"a"}}]}}"#,
            NOW - 1.0,
        );
        let e = event(body.as_bytes(), &ctx(None), None).unwrap();
        assert_eq!(e.timestamp.as_secs_f64(), NOW);
        assert_eq!(errors_of(&e)[0]["type"], "future_timestamp");
        assert_eq!(e.breadcrumbs.values.len(), 1);
        assert_eq!(e.breadcrumbs.values[0].timestamp.as_secs_f64(), NOW - 1.0);
        // A clock a year ahead: the breadcrumbs were a year ahead too and
        // move back with the event.
        let year = 365.0 * 86400.0;
        let body = format!(
            r#"{{"timestamp":{},"breadcrumbs":[{{"timestamp":{},"message":"a"}}]}}"#,
            NOW + year,
            NOW + year - 10.0,
        );
        let e = event(body.as_bytes(), &ctx(None), None).unwrap();
        assert!((e.breadcrumbs.values[0].timestamp.as_secs_f64() - (NOW - 10.0)).abs() < 1e-6);
    }

    #[test]
    fn header_event_id_wins_and_auto_ip_is_filled() {
        let id = Uuid::new_v4();
        let e = event(
            br#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","user":{"ip_address":"{{auto}}"}}"#,
            &ctx(None),
            Some(id),
        )
        .unwrap();
        assert_eq!(e.event_id, id);
        assert_eq!(e.user.unwrap().ip_address.as_deref(), Some("10.1.2.3"));
    }

    #[test]
    fn sessions_follow_section_7() {
        let s = |body: String| session(body.as_bytes(), &ctx(None), 0);
        let started = Timestamp::from_secs_f64(NOW - 60.0).to_rfc3339();
        let ok = s(format!(r#"{{"sid":"7c7b6585-f901-4351-bf8d-02711b721929","init":true,"started":"{started}","attrs":{{"release":"a@1"}}}}"#)).unwrap();
        assert_eq!(ok.seq, 0);
        assert_eq!(ok.timestamp, NOW);
        let no_release = s(format!(r#"{{"started":"{started}","attrs":{{}}}}"#));
        assert!(matches!(no_release, Err(SessionDrop::Silently(_))));
        let old = Timestamp::from_secs_f64(NOW - 6.0 * 86400.0).to_rfc3339();
        let too_old = s(format!(
            r#"{{"started":"{old}","attrs":{{"release":"a@1"}}}}"#
        ));
        assert!(matches!(too_old, Err(SessionDrop::Silently(_))));
        let future = Timestamp::from_secs_f64(NOW + 120.0).to_rfc3339();
        let too_new = s(format!(
            r#"{{"started":"{future}","attrs":{{"release":"a@1"}}}}"#
        ));
        assert!(matches!(too_new, Err(SessionDrop::Silently(_))));
        assert!(matches!(s("nope".into()), Err(SessionDrop::Malformed(_))));
        // Without `seq` and `init`, the update's time in ms (here the
        // receive time: it has no `timestamp`), then its place in the
        // envelope, order updates.
        let later = s(format!(
            r#"{{"started":"{started}","attrs":{{"release":"a@1"}}}}"#
        ))
        .unwrap();
        assert_eq!(later.seq, (NOW * 1000.0) as i64 * 10_000);
        // A crashed session counts its crash; a nil distinct id is no user.
        let crashed = s(format!(
            r#"{{"started":"{started}","status":"crashed","errors":0,"did":"00000000-0000-0000-0000-000000000000","attrs":{{"release":"a@1"}}}}"#
        ))
        .unwrap();
        assert_eq!(crashed.errors, 1);
        assert_eq!(crashed.did, None);
        let buckets = aggregates(
            format!(r#"{{"aggregates":[{{"started":"{started}","did":"00000000-0000-0000-0000-000000000000","exited":1}},{{"started":"{started}","did":"u1","exited":1}}],"attrs":{{"release":"a@1"}}}}"#).as_bytes(),
            &ctx(None),
        )
        .unwrap();
        let dids: Vec<Option<&str>> = buckets.iter().map(|b| b.did.as_deref()).collect();
        assert_eq!(dids, [None, Some("u1")]);
    }

    #[test]
    fn transactions_are_completed_and_shifted_with_their_spans() {
        let body = format!(
            r#"{{"type":"transaction","start_timestamp":{s},"timestamp":{e},
                "contexts":{{"trace":{{"trace_id":"771a43a4192642f0b136d5159a501700","span_id":"b0e6f15b45c36b12"}}}},
                "spans":[{{"trace_id":"771a43a4192642f0b136d5159a501700","span_id":"aaaaaaaaaaaaaaaa",
                           "start_timestamp":{s},"timestamp":{e}}}]}}"#,
            s = NOW - 7205.0,
            e = NOW - 7201.0
        );
        // The SDK clock is two hours behind.
        let t = transaction(body.as_bytes(), &ctx(Some(NOW - 7200.0)), None).unwrap();
        assert!((t.timestamp.unwrap().as_secs_f64() - (NOW - 1.0)).abs() < 1e-6);
        assert!((t.start_timestamp.as_secs_f64() - (NOW - 5.0)).abs() < 1e-6);
        assert!((t.spans[0].start_timestamp.as_secs_f64() - (NOW - 5.0)).abs() < 1e-6);

        let t = transaction(br#"{"type":"transaction"}"#, &ctx(None), None).unwrap();
        assert_eq!(t.timestamp.unwrap().as_secs_f64(), NOW);
        assert_eq!(t.start_timestamp.as_secs_f64(), NOW);
        let errors = t.other["errors"].as_array().unwrap().clone();
        let names: Vec<&str> = errors.iter().filter_map(|e| e["name"].as_str()).collect();
        assert!(
            names.contains(&"timestamp") && names.contains(&"contexts.trace"),
            "{names:?}"
        );
    }

    #[test]
    fn a_transaction_without_an_end_records_drift_only_when_a_time_moved() {
        // `sent_at` 400 days behind: the drift would carry the span (dated
        // by the server's clock already) out of any plausible time, so it
        // stays, and no correction is recorded.
        let body = format!(
            r#"{{"type":"transaction",
                "contexts":{{"trace":{{"trace_id":"771a43a4192642f0b136d5159a501700","span_id":"b0e6f15b45c36b12"}}}},
                "spans":[{{"trace_id":"771a43a4192642f0b136d5159a501700","span_id":"aaaaaaaaaaaaaaaa",
                           "start_timestamp":{s},"timestamp":{e}}}]}}"#,
            s = NOW - 5.0,
            e = NOW - 1.0
        );
        let t = transaction(body.as_bytes(), &ctx(Some(NOW - 400.0 * 86_400.0)), None).unwrap();
        assert_eq!(t.spans[0].start_timestamp.as_secs_f64(), NOW - 5.0);
        let errors = t.other["errors"].as_array().cloned().unwrap_or_default();
        assert!(
            errors.iter().all(|e| e["type"] != "clock_drift"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_transaction_without_an_end_keeps_the_receive_time_whatever_the_client_clock() {
        // SDK clock 2 hours ahead or behind; no end timestamp, so it takes
        // the receive time, which is the server's and needs no correction.
        // The start, the span and the breadcrumb the client dated still
        // move by the drift.
        for drift in [7200.0, -7200.0] {
            let body = format!(
                r#"{{"type":"transaction","start_timestamp":{s},
                    "contexts":{{"trace":{{"trace_id":"771a43a4192642f0b136d5159a501700","span_id":"b0e6f15b45c36b12"}}}},
                    "spans":[{{"trace_id":"771a43a4192642f0b136d5159a501700","span_id":"aaaaaaaaaaaaaaaa",
                               "start_timestamp":{s},"timestamp":{e}}}],
                    "breadcrumbs":[{{"timestamp":{s}}},{{"message":"undated"}}]}}"#,
                s = NOW + drift - 5.0,
                e = NOW + drift - 1.0
            );
            let t = transaction(body.as_bytes(), &ctx(Some(NOW + drift)), None).unwrap();
            let close = |t: Timestamp, want: f64| (t.as_secs_f64() - want).abs() < 1e-6;
            assert_eq!(t.timestamp.map(Timestamp::as_secs_f64), Some(NOW));
            assert!(close(t.start_timestamp, NOW - 5.0), "{drift}");
            assert!(close(t.spans[0].start_timestamp, NOW - 5.0), "{drift}");
            assert!(close(t.spans[0].timestamp.unwrap(), NOW - 1.0), "{drift}");
            let crumbs = &t.breadcrumbs.values;
            assert!(close(crumbs[0].timestamp, NOW - 5.0), "{drift}");
            assert_eq!(crumbs[1].timestamp.as_secs_f64(), NOW, "the end's time");
            let errors = t.other["errors"].as_array().unwrap();
            let kinds: Vec<&str> = errors.iter().filter_map(|e| e["type"].as_str()).collect();
            assert!(kinds.contains(&"clock_drift"), "{kinds:?}");
            assert!(!kinds.contains(&"future_timestamp"), "{kinds:?}");
            assert!(
                !kinds.contains(&"invalid_data"),
                "no start moved: {kinds:?}"
            );
        }
        // Nothing the client dated: nothing moves, no drift recorded.
        let t = transaction(br#"{"type":"transaction"}"#, &ctx(Some(NOW - 7200.0)), None).unwrap();
        assert_eq!(t.timestamp.map(Timestamp::as_secs_f64), Some(NOW));
        assert_eq!(t.start_timestamp.as_secs_f64(), NOW);
        let errors = t.other["errors"].as_array().unwrap();
        assert!(errors
            .iter()
            .all(|e| e["type"] != "clock_drift" && e["type"] != "future_timestamp"));
    }

    #[test]
    fn absurd_future_timestamps_land_exactly_on_receive_time() {
        let e = event(br#"{"timestamp":1e300}"#, &ctx(None), None).unwrap();
        assert_eq!(e.timestamp.as_secs_f64(), NOW);
    }
}
