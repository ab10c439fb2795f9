//! Trace propagation headers: `sentry-trace`, W3C `baggage` (the dynamic
//! sampling context) and W3C `traceparent` (PROTOCOL.md §9).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::protocol::{SpanId, TraceId};

/// The parsed `sentry-trace` (or `traceparent`) header.
///
/// ```
/// use sentry_core::propagation::SentryTrace;
/// let t: SentryTrace = "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1".parse().unwrap();
/// assert_eq!(t.sampled, Some(true));
/// assert_eq!(t.to_string(), "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentryTrace {
    /// The trace.
    pub trace_id: TraceId,
    /// The parent span (the caller's span).
    pub span_id: SpanId,
    /// The caller's sampling decision; `None` means deferred.
    pub sampled: Option<bool>,
}

/// A propagation header that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {header} header: {value:?}")]
pub struct InvalidHeader {
    /// Which header.
    pub header: &'static str,
    /// What was received (truncated to 100 bytes).
    pub value: String,
}

fn invalid(header: &'static str, value: &str) -> InvalidHeader {
    let mut end = value.len().min(100);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    InvalidHeader {
        header,
        value: value[..end].to_owned(),
    }
}

impl std::str::FromStr for SentryTrace {
    type Err = InvalidHeader;

    /// Lenient like the Python SDK: surrounding blanks are ignored, the
    /// sampled flag is optional.
    fn from_str(s: &str) -> Result<Self, InvalidHeader> {
        let err = || invalid("sentry-trace", s);
        let mut parts = s.trim_matches([' ', '\t']).split('-');
        let trace_id = parts.next().filter(|p| p.len() == 32).ok_or_else(err)?;
        let span_id = parts.next().filter(|p| p.len() == 16).ok_or_else(err)?;
        let sampled = match parts.next() {
            None | Some("") => None,
            Some("1") => Some(true),
            Some("0") => Some(false),
            Some(_) => return Err(err()),
        };
        if parts.next().is_some() || !is_lower_hex(trace_id) || !is_lower_hex(span_id) {
            return Err(err());
        }
        Ok(SentryTrace {
            trace_id: trace_id.parse().map_err(|_| err())?,
            span_id: span_id.parse().map_err(|_| err())?,
            sampled,
        })
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl std::fmt::Display for SentryTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.trace_id, self.span_id)?;
        match self.sampled {
            Some(true) => f.write_str("-1"),
            Some(false) => f.write_str("-0"),
            None => Ok(()),
        }
    }
}

impl SentryTrace {
    /// Parses a W3C `traceparent` header (`00-<trace>-<span>-<flags>`).
    ///
    /// ```
    /// use sentry_core::propagation::SentryTrace;
    /// let t = SentryTrace::from_traceparent("00-771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-01").unwrap();
    /// assert_eq!(t.sampled, Some(true));
    /// ```
    pub fn from_traceparent(s: &str) -> Result<Self, InvalidHeader> {
        let err = || invalid("traceparent", s);
        let parts: Vec<&str> = s.trim().split('-').collect();
        let [version, trace, span, flags] = parts[..] else {
            return Err(err());
        };
        if version.len() != 2
            || version == "ff"
            || trace.len() != 32
            || span.len() != 16
            || flags.len() != 2
        {
            return Err(err());
        }
        let flags = u8::from_str_radix(flags, 16).map_err(|_| err())?;
        let trace_id: TraceId = trace.parse().map_err(|_| err())?;
        let span_id: SpanId = span.parse().map_err(|_| err())?;
        if trace_id.is_nil() || span_id.is_nil() {
            return Err(err());
        }
        Ok(SentryTrace {
            trace_id,
            span_id,
            sampled: Some(flags & 1 == 1),
        })
    }

    /// Formats as a W3C `traceparent` header (deferred counts as not sampled).
    pub fn to_traceparent(&self) -> String {
        format!(
            "00-{}-{}-{}",
            self.trace_id,
            self.span_id,
            if self.sampled == Some(true) {
                "01"
            } else {
                "00"
            }
        )
    }
}

/// Characters that must be escaped in a baggage value.
const BAGGAGE_ESCAPE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%')
    .add(b'=')
    .add(b'@');

/// The dynamic sampling context: the `sentry-*` entries of `baggage`, which
/// also travel as the envelope header `trace`.
///
/// Keys are stored without the `sentry-` prefix, in sorted order. The
/// entries are shared: cloning a `Dsc` (as every span of a transaction hands
/// out the same one) costs no allocation; [`Dsc::set`] copies them first if
/// they are shared.
///
/// ```
/// use sentry_core::propagation::Dsc;
/// let dsc = Dsc::from_baggage("other=1,sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-release=app%401.0");
/// assert_eq!(dsc.get("release"), Some("app@1.0"));
/// assert_eq!(dsc.to_baggage(), "sentry-release=app%401.0,sentry-trace_id=771a43a4192642f0b136d5159a501700");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dsc {
    entries: Arc<BTreeMap<String, String>>,
}

impl Dsc {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `sentry-` entries of a baggage header; other vendors' entries are
    /// ignored here (see [`merge_baggage`] to keep them when forwarding).
    pub fn from_baggage(header: &str) -> Dsc {
        let mut entries = BTreeMap::new();
        for member in header.split(',') {
            // Properties after ';' are not part of the value.
            let member = member.split(';').next().unwrap_or("").trim();
            let Some((key, value)) = member.split_once('=') else {
                continue;
            };
            let Some(key) = key.trim().strip_prefix("sentry-") else {
                continue;
            };
            let value = percent_decode_str(value.trim()).decode_utf8_lossy();
            if !key.is_empty() {
                entries.insert(key.to_owned(), value.into_owned());
            }
        }
        Dsc {
            entries: Arc::new(entries),
        }
    }

    /// Sets an entry (key without the `sentry-` prefix).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        Arc::make_mut(&mut self.entries).insert(key.to_owned(), value.into());
    }

    /// An entry's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `sentry-…` baggage entries, comma-separated.
    pub fn to_baggage(&self) -> String {
        let mut out = String::new();
        for (k, v) in self.entries.iter() {
            if !out.is_empty() {
                out.push(',');
            }
            let _ = write!(out, "sentry-{k}={}", utf8_percent_encode(v, BAGGAGE_ESCAPE));
        }
        out
    }

    /// As the envelope header `trace` (a JSON object of strings).
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.entries
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect()
    }

    /// The entries.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Replaces the `sentry-` entries of an existing baggage header with `dsc`,
/// keeping every other vendor's entry in place.
///
/// ```
/// use sentry_core::propagation::{merge_baggage, Dsc};
/// let mut dsc = Dsc::new();
/// dsc.set("trace_id", "771a43a4192642f0b136d5159a501700");
/// assert_eq!(merge_baggage(Some("vendor=x,sentry-trace_id=old"), &dsc),
///            "vendor=x,sentry-trace_id=771a43a4192642f0b136d5159a501700");
/// ```
pub fn merge_baggage(existing: Option<&str>, dsc: &Dsc) -> String {
    let mut parts: Vec<String> = existing
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty() && !m.starts_with("sentry-"))
        .map(str::to_owned)
        .collect();
    let ours = dsc.to_baggage();
    if !ours.is_empty() {
        parts.push(ours);
    }
    parts.join(",")
}

/// What an incoming request said about its trace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IncomingTrace {
    /// From `sentry-trace`, else `traceparent`.
    pub parent: Option<SentryTrace>,
    /// The caller's dynamic sampling context. `Some` (possibly empty) when a
    /// parent was found: the context is then frozen (PROTOCOL.md §9.2).
    pub dsc: Option<Dsc>,
}

impl IncomingTrace {
    /// Reads `sentry-trace`, `traceparent` and `baggage` from header pairs
    /// (names compared case-insensitively). Unparsable headers are ignored.
    ///
    /// ```
    /// use sentry_core::propagation::IncomingTrace;
    /// let t = IncomingTrace::from_headers([
    ///     ("Sentry-Trace", "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-0"),
    ///     ("baggage", "sentry-sample_rand=0.5,sentry-sample_rate=0.1"),
    /// ]);
    /// assert_eq!(t.parent.unwrap().sampled, Some(false));
    /// assert_eq!(t.dsc.unwrap().get("sample_rand"), Some("0.5"));
    /// ```
    pub fn from_headers<'a, I>(headers: I) -> IncomingTrace
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut sentry_trace = None;
        let mut traceparent = None;
        let mut baggage: Option<String> = None;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("sentry-trace") {
                sentry_trace = value.parse::<SentryTrace>().ok().or(sentry_trace);
            } else if name.eq_ignore_ascii_case("traceparent") {
                traceparent = SentryTrace::from_traceparent(value).ok().or(traceparent);
            } else if name.eq_ignore_ascii_case("baggage") {
                // Several baggage headers are one list.
                match &mut baggage {
                    Some(b) => {
                        b.push(',');
                        b.push_str(value);
                    }
                    None => baggage = Some(value.to_owned()),
                }
            }
        }
        let parent = sentry_trace.or(traceparent);
        let dsc = parent.map(|p| {
            let dsc = baggage
                .as_deref()
                .map(Dsc::from_baggage)
                .unwrap_or_default();
            // A DSC for another trace is not ours to continue.
            match dsc.get("trace_id") {
                Some(t) if t != p.trace_id.to_string() => Dsc::new(),
                _ => dsc,
            }
        });
        IncomingTrace { parent, dsc }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentry_trace_forms() {
        let t: SentryTrace = "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12"
            .parse()
            .expect("deferred");
        assert_eq!(t.sampled, None);
        assert!(" 771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-0\t"
            .parse::<SentryTrace>()
            .is_ok());
        for bad in [
            "",
            "771a43a4192642f0b136d5159a501700",
            "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-2",
            "771A43A4192642F0B136D5159A501700-b0e6f15b45c36b12-1",
            "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1-1",
        ] {
            assert!(bad.parse::<SentryTrace>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn traceparent_round_trip_and_rejects() {
        let t = SentryTrace::from_traceparent(
            "00-771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-00",
        )
        .expect("valid");
        assert_eq!(t.sampled, Some(false));
        assert_eq!(
            t.to_traceparent(),
            "00-771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-00"
        );
        assert!(SentryTrace::from_traceparent(
            "00-00000000000000000000000000000000-b0e6f15b45c36b12-01"
        )
        .is_err());
        assert!(SentryTrace::from_traceparent("garbage").is_err());
    }

    #[test]
    fn baggage_keeps_every_sentry_key_and_round_trips() {
        let header = "sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-public_key=49d0f7386ad645858ae85020e393bef3,sentry-sample_rate=0.1,sentry-sample_rand=0.042000,sentry-sampled=true,sentry-environment=production,sentry-release=app%401.0.0,sentry-transaction=GET%20%2Fusers,vendor=keep;prop=1";
        let dsc = Dsc::from_baggage(header);
        assert_eq!(dsc.get("release"), Some("app@1.0.0"));
        assert_eq!(dsc.get("transaction"), Some("GET /users"));
        assert_eq!(dsc.get("sampled"), Some("true"));
        assert_eq!(dsc.iter().count(), 8);
        let again = Dsc::from_baggage(&dsc.to_baggage());
        assert_eq!(again, dsc);
    }

    #[test]
    fn incoming_prefers_sentry_trace_and_freezes_an_empty_dsc() {
        let t = IncomingTrace::from_headers([
            (
                "traceparent",
                "00-11111111111111111111111111111111-2222222222222222-01",
            ),
            (
                "sentry-trace",
                "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-0",
            ),
        ]);
        let p = t.parent.expect("parent");
        assert_eq!(p.trace_id.to_string(), "771a43a4192642f0b136d5159a501700");
        assert_eq!(t.dsc, Some(Dsc::new()));
        let none = IncomingTrace::from_headers([("baggage", "sentry-release=x")]);
        assert_eq!(none, IncomingTrace::default());
    }
}
