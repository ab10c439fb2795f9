//! How the entries of a container (a `log` or `trace_metric` item, kept
//! whole in one row) are read, and what a row says about them without
//! being read.
//!
//! The API lists a container's entries by decompressing its row and
//! reading each entry's timestamp and trace id (`api::container_scan`).
//! Ingestion reads the same payload with the same functions and stores a
//! [`Summary`] beside it: the earliest and latest entry timestamp and the
//! trace ids the entries name. A list filtered by time or trace passes over
//! a row whose summary shows that none of its entries can match, without
//! decompressing it. Because both sides use this module, a summary never
//! rules out an entry the list would show.
//!
//! ```
//! use receiver::store::container_entries::{summarise, Sieve};
//!
//! let payload = br#"{"items": [
//!     {"timestamp": 100.0, "trace_id": "5B8EFFF798038103D269B633813FC60C", "body": "a"},
//!     {"timestamp": 160.5, "body": "b"}
//! ]}"#;
//! let summary = summarise(payload, 0.0);
//! assert_eq!((summary.earliest, summary.latest), (Some(100.0), Some(160.5)));
//! let trace = "5b8efff798038103d269b633813fc60c".to_owned();
//! assert!(Sieve { start: Some(150.0), end: None, trace: None }.may_hold(&summary));
//! assert!(!Sieve { start: Some(200.0), end: None, trace: None }.may_hold(&summary));
//! assert!(Sieve { start: None, end: None, trace: Some(trace) }.may_hold(&summary));
//! let other = "0".repeat(32);
//! assert!(!Sieve { start: None, end: None, trace: Some(other) }.may_hold(&summary));
//! ```

use std::collections::BTreeSet;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The way [`summarise`] and [`TraceFilter`] make a summary, stored with
/// each one (migration 27): a list uses only summaries of this format and
/// reads other rows whole. Raise it with any change to what a stored
/// summary means (the filter's hash, seed or bit positions, how an
/// entry's time or trace is read), or rows summarised before would be
/// passed over wrongly.
pub const SUMMARY_FORMAT: i64 = 1;

/// What a container's entries hold, as far as the list filters ask.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The earliest entry [`timestamp`] (`None`: no entry has one).
    pub earliest: Option<f64>,
    /// The latest entry [`timestamp`].
    pub latest: Option<f64>,
    /// The [`trace_id`]s of the entries.
    pub traces: TraceFilter,
}

impl Summary {
    /// A summary from a row's columns; `None` (nothing known: the row must
    /// be read) when the row has none, as rows stored before migration 26.
    pub fn from_columns(
        earliest: Option<f64>,
        latest: Option<f64>,
        traces: Option<Vec<u8>>,
    ) -> Option<Summary> {
        Some(Summary {
            earliest,
            latest,
            traces: TraceFilter::from_bytes(traces?),
        })
    }
}

/// A Bloom filter of trace ids: it may say a trace is there when it is
/// not (about one time in a hundred), never that it is not when it is. A
/// busy service's log batch names a trace per request, so a list of them
/// would often be longer than the row's lines; the filter keeps ~10 bits
/// per trace (at least 8 bytes, at most 4 KiB), stored as a row's
/// `entry_traces`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceFilter {
    bits: Vec<u8>,
}

impl TraceFilter {
    /// Bits set per trace.
    const HASHES: u64 = 4;
    /// Bits per trace the filter is sized for.
    const BITS_PER_TRACE: usize = 10;
    const MIN_BYTES: usize = 8;
    const MAX_BYTES: usize = 4096;
    /// Fixed for good: the positions of stored filters depend on it.
    const SEED: u64 = 0x7472_6163_655f_6964;

    /// A filter holding `traces` (empty when there are none).
    pub fn of<'a>(traces: impl ExactSizeIterator<Item = &'a str>) -> TraceFilter {
        let bytes = match traces.len() {
            0 => 0,
            n => n
                .saturating_mul(Self::BITS_PER_TRACE)
                .div_ceil(8)
                .clamp(Self::MIN_BYTES, Self::MAX_BYTES),
        };
        let mut filter = TraceFilter {
            bits: vec![0; bytes],
        };
        for trace in traces {
            for bit in filter.positions(trace) {
                filter.bits[bit / 8] |= 1 << (bit % 8);
            }
        }
        filter
    }

    /// A filter as stored.
    pub fn from_bytes(bits: Vec<u8>) -> TraceFilter {
        TraceFilter { bits }
    }

    /// The filter as stored.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bits
    }

    /// Whether `trace` (as [`trace_id`] gives it) may be one of the traces.
    pub fn may_contain(&self, trace: &str) -> bool {
        !self.bits.is_empty()
            && self
                .positions(trace)
                .all(|bit| self.bits[bit / 8] & (1 << (bit % 8)) != 0)
    }

    /// The bits of `trace`, by double hashing one 128-bit hash.
    fn positions(&self, trace: &str) -> impl Iterator<Item = usize> {
        let hash = xxhash_rust::xxh3::xxh3_128_with_seed(trace.as_bytes(), Self::SEED);
        let (first, step) = (hash as u64, (hash >> 64) as u64 | 1);
        let len = (self.bits.len() as u64 * 8).max(1);
        (0..Self::HASHES).map(move |i| (first.wrapping_add(i.wrapping_mul(step)) % len) as usize)
    }
}

/// Reads a container's payload as the API reads it and summarises its
/// entries. A payload that is not a container has no entries to show, and
/// says so.
///
/// `clock_shift` is the client's clock drift the row's entry times are
/// corrected by (see [`corrected_timestamp`]); 0 for none.
pub fn summarise(payload: &[u8], clock_shift: f64) -> Summary {
    let (mut earliest, mut latest) = (None::<f64>, None::<f64>);
    let mut traces = BTreeSet::new();
    for item in items_of(payload) {
        let Some(fields) = entry_fields(item) else {
            continue;
        };
        if let Some(t) = corrected_timestamp(&fields, clock_shift) {
            earliest = Some(earliest.map_or(t, |e| e.min(t)));
            latest = Some(latest.map_or(t, |l| l.max(t)));
        }
        if let Some(trace) = trace_id(&fields) {
            traces.insert(trace);
        }
    }
    Summary {
        earliest,
        latest,
        traces: TraceFilter::of(traces.iter().map(String::as_str)),
    }
}

/// The filters a row's [`Summary`] can answer: a time range on the
/// entries' timestamps (both ends included) and a trace id (normalised by
/// [`crate::ids::hex_id`]).
#[derive(Debug, Clone, Default)]
pub struct Sieve {
    /// Not before.
    pub start: Option<f64>,
    /// Not after.
    pub end: Option<f64>,
    /// The trace the entries must belong to.
    pub trace: Option<String>,
}

impl Sieve {
    /// Whether it can rule any row out (a time range or a trace).
    pub fn sieves(&self) -> bool {
        self.start.is_some() || self.end.is_some() || self.trace.is_some()
    }

    /// Whether a row so summarised may hold an entry that passes: `false`
    /// only when none can.
    pub fn may_hold(&self, summary: &Summary) -> bool {
        let in_time = if self.start.is_none() && self.end.is_none() {
            true
        } else {
            // An entry without a timestamp passes no time range.
            match (summary.earliest, summary.latest) {
                (Some(earliest), Some(latest)) => {
                    self.start.map_or(true, |s| latest >= s)
                        && self.end.map_or(true, |e| earliest <= e)
                }
                _ => false,
            }
        };
        in_time
            && self
                .trace
                .as_ref()
                .map_or(true, |t| summary.traces.may_contain(t))
    }
}

/// The entries of a container (`{"items": [...]}`), unparsed: each is
/// read only when needed. None when the container is not JSON or `items`
/// is not a list.
pub fn items_of(bytes: &[u8]) -> Vec<&RawValue> {
    #[derive(serde::Deserialize)]
    struct Container<'a> {
        #[serde(borrow, default)]
        items: Vec<&'a RawValue>,
    }
    serde_json::from_slice::<Container<'_>>(bytes)
        .map(|c| c.items)
        .unwrap_or_default()
}

/// An entry's fields; `None` for an entry that is not an object (or not
/// JSON a `Value` can hold), which is skipped, not its whole container.
pub fn entry_fields(item: &RawValue) -> Option<Map<String, Value>> {
    serde_json::from_str::<Map<String, Value>>(item.get()).ok()
}

/// An entry's `timestamp` in seconds: a number, as SDKs send it, or a
/// string of seconds or RFC 3339; `None` when missing, negative or absurd.
pub fn timestamp(fields: &Map<String, Value>) -> Option<f64> {
    match fields.get("timestamp") {
        Some(Value::String(s)) => s.trim().parse::<f64>().ok().or_else(|| {
            sentry_core::protocol::Timestamp::parse_rfc3339(s).map(|t| t.as_secs_f64())
        }),
        Some(v) => v.as_f64(),
        None => None,
    }
    .filter(|t| t.is_finite() && *t >= 0.0)
}

/// An entry's [`timestamp`] corrected for the sending client's clock
/// drift: moved by `clock_shift` seconds (`received − sent_at`, stored with
/// the row when it was large enough to correct, as Relay corrects the
/// times of log and metric items), unless that would make it absurd.
///
/// ```
/// use receiver::store::container_entries::corrected_timestamp;
/// let fields = serde_json::json!({"timestamp": 1000.0});
/// let fields = fields.as_object().unwrap();
/// assert_eq!(corrected_timestamp(fields, 0.0), Some(1000.0));
/// assert_eq!(corrected_timestamp(fields, 7200.0), Some(8200.0));
/// assert_eq!(corrected_timestamp(fields, -5000.0), Some(1000.0));
/// ```
pub fn corrected_timestamp(fields: &Map<String, Value>, clock_shift: f64) -> Option<f64> {
    timestamp(fields).map(|t| {
        let moved = t + clock_shift;
        if moved.is_finite() && moved >= 0.0 {
            moved
        } else {
            t
        }
    })
}

/// An entry's `trace_id`, normalised (`None` when it is not one).
pub fn trace_id(fields: &Map<String, Value>) -> Option<String> {
    fields
        .get("trace_id")
        .and_then(Value::as_str)
        .and_then(|t| crate::ids::hex_id(t, 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(n: usize) -> String {
        format!("{n:032x}")
    }

    #[test]
    fn a_summary_spans_the_entries_that_a_list_can_show() {
        let payload = serde_json::json!({"items": [
            {"timestamp": "1970-01-01T00:01:40Z", "trace_id": trace(2).to_uppercase()},
            {"timestamp": 50, "trace_id": trace(1)},
            {"timestamp": -5, "trace_id": "not a trace"},
            "not an entry",
            {"timestamp": "75.5", "trace_id": trace(2)},
        ]})
        .to_string();
        let s = summarise(payload.as_bytes(), 0.0);
        assert_eq!((s.earliest, s.latest), (Some(50.0), Some(100.0)));
        assert!(s.traces.may_contain(&trace(1)) && s.traces.may_contain(&trace(2)));
        assert!(!s.traces.may_contain(&trace(3)));
        assert_eq!(s.traces.as_bytes().len(), 8);
        let stored = TraceFilter::from_bytes(s.traces.as_bytes().to_vec());
        assert_eq!(stored, s.traces);
    }

    #[test]
    fn a_trace_filter_never_misses_and_seldom_errs() {
        let traces: Vec<String> = (0..500).map(|n| trace(n * 7919 + 1)).collect();
        let filter = TraceFilter::of(traces.iter().map(String::as_str));
        assert_eq!(filter.as_bytes().len(), 625);
        assert!(traces.iter().all(|t| filter.may_contain(t)));
        let wrong = (0..10_000)
            .filter(|n| filter.may_contain(&trace(n * 7919 + 2)))
            .count();
        assert!(
            wrong < 400,
            "{wrong} of 10 000 absent traces seemed present"
        );
        // No traces: none may be there.
        let none = TraceFilter::of(std::iter::empty());
        assert!(none.as_bytes().is_empty() && !none.may_contain(&trace(1)));
    }

    #[test]
    fn without_entries_a_row_passes_only_unfiltered() {
        let nothing = summarise(b"not json", 0.0);
        assert_eq!((nothing.earliest, nothing.latest), (None, None));
        assert!(Sieve::default().may_hold(&nothing));
        let by_trace = Sieve {
            trace: Some(trace(1)),
            ..Sieve::default()
        };
        assert!(!by_trace.may_hold(&nothing));
        // Entries without timestamps pass no time range.
        let untimed = summarise(br#"{"items": [{"body": "x"}]}"#, 0.0);
        let since = Sieve {
            start: Some(0.0),
            ..Sieve::default()
        };
        assert!(!since.may_hold(&untimed));
    }

    #[test]
    fn a_range_is_tested_with_both_ends_included() {
        let s = Summary {
            earliest: Some(10.0),
            latest: Some(20.0),
            traces: TraceFilter::of([trace(1).as_str()].into_iter()),
        };
        let range = |start: Option<f64>, end: Option<f64>| Sieve {
            start,
            end,
            trace: None,
        };
        assert!(range(Some(20.0), None).may_hold(&s));
        assert!(range(None, Some(10.0)).may_hold(&s));
        assert!(range(Some(12.0), Some(13.0)).may_hold(&s));
        assert!(!range(Some(20.5), None).may_hold(&s));
        assert!(!range(None, Some(9.5)).may_hold(&s));
        let both = Sieve {
            start: Some(15.0),
            end: None,
            trace: Some(trace(2)),
        };
        assert!(!both.may_hold(&s));
    }
}
