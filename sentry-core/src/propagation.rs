//! Trace propagation headers: `sentry-trace`, W3C `baggage` (the dynamic
//! sampling context) and W3C `traceparent` (PROTOCOL.md §9).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

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
        let trace_id: TraceId = trace_id.parse().map_err(|_| err())?;
        let span_id: SpanId = span_id.parse().map_err(|_| err())?;
        // All zeros is no id: Relay drops a transaction continuing it.
        if trace_id.is_nil() || span_id.is_nil() {
            return Err(err());
        }
        Ok(SentryTrace {
            trace_id,
            span_id,
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
        let hex2 = |f: &str| f.len() == 2 && f.bytes().all(|b| b.is_ascii_hexdigit());
        // (`from_str_radix` alone would take `+1`.)
        if !hex2(version)
            || version == "ff"
            || trace.len() != 32
            || span.len() != 16
            || !hex2(flags)
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

/// The keys this SDK writes (PROTOCOL.md §9.2), without the `sentry-`
/// prefix, in sorted order: the order they are written in.
const KNOWN_KEYS: [&str; 8] = [
    "environment",
    "public_key",
    "release",
    "sample_rand",
    "sample_rate",
    "sampled",
    "trace_id",
    "transaction",
];

fn known_slot(key: &str) -> Option<usize> {
    KNOWN_KEYS.iter().position(|k| *k == key)
}

/// A short text kept without a heap allocation: the formatted ids and
/// numbers of a DSC are at most 32 ASCII characters.
#[derive(Clone, Copy)]
struct Inline {
    len: u8,
    buf: [u8; 32],
}

impl Inline {
    const fn new() -> Self {
        Inline {
            len: 0,
            buf: [0; 32],
        }
    }

    fn as_str(&self) -> &str {
        // Only whole `str`s are ever written (see `write_str`).
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

impl std::fmt::Write for Inline {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let start = usize::from(self.len);
        let end = start + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[start..end].copy_from_slice(s.as_bytes());
        self.len = end as u8;
        Ok(())
    }
}

/// The value of a DSC entry: borrowed, formatted in place, shared with the
/// client, or owned (as parsed).
#[derive(Clone)]
enum Text {
    Static(&'static str),
    Inline(Inline),
    Shared(Arc<str>),
    Owned(String),
}

impl Text {
    fn as_str(&self) -> &str {
        match self {
            Text::Static(s) => s,
            Text::Inline(s) => s.as_str(),
            Text::Shared(s) => s,
            Text::Owned(s) => s,
        }
    }

    // A `&Cow` and not a `&str`: a borrowed `'static` text is kept as it is.
    #[allow(clippy::ptr_arg)]
    fn from_cow(value: &Cow<'static, str>) -> Text {
        match value {
            Cow::Borrowed(s) => Text::Static(s),
            Cow::Owned(s) => Text::Shared(Arc::from(s.as_str())),
        }
    }

    fn display(value: impl std::fmt::Display) -> Text {
        let mut inline = Inline::new();
        match write!(inline, "{value}") {
            Ok(()) => Text::Inline(inline),
            Err(_) => Text::Owned(value.to_string()),
        }
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// `sample_rand` as a DSC value: six decimals, truncated (below 1).
pub(crate) fn rand_string(rand: f64) -> String {
    rand_text(rand).as_str().to_owned()
}

/// `sample_rand` with six decimals, truncated so the value stays below 1.
fn rand_text(rand: f64) -> Text {
    let micros = ((rand * 1e6) as u64).min(999_999) as u32;
    let mut s = Inline::new();
    s.buf[..2].copy_from_slice(b"0.");
    let mut div = 100_000;
    let mut i = 2;
    while div > 0 {
        s.buf[i] = b'0' + (micros / div % 10) as u8;
        div /= 10;
        i += 1;
    }
    s.len = 8;
    Text::Inline(s)
}

/// A sample rate like the official SDKs write it: at most six decimals,
/// without trailing zeros.
fn rate_text(rate: f64) -> Text {
    if rate >= 1.0 {
        return Text::Static("1");
    }
    if rate <= 0.0 {
        return Text::Static("0");
    }
    let mut s = Inline::new();
    if write!(s, "{rate:.6}").is_err() {
        return Text::Static("0");
    }
    let trimmed = s.as_str().trim_end_matches('0').trim_end_matches('.').len();
    if trimmed == 0 {
        return Text::Static("0");
    }
    s.len = trimmed as u8;
    Text::Inline(s)
}

/// One entry of a DSC as it is written.
enum Field<'a> {
    Text(&'a str),
    Json(&'a Value),
}

#[derive(Clone, Default, PartialEq)]
struct Entries {
    /// The entries of [`KNOWN_KEYS`] that are strings, by position.
    known: [Option<Text>; 8],
    /// Every other entry (other keys, and known keys whose value is not a
    /// string in a parsed envelope header), kept as received.
    other: Map<String, Value>,
}

/// Hands out [`DscBase`] ids: an id, unlike an address, is never reused by
/// a later client.
/// Starts at 1: a `DscBase::default()` (id 0) is never taken for a client.
static NEXT_BASE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

thread_local! {
    /// The last context this thread made for a scope's own trace
    /// ([`Dsc::for_scope_trace`]), with the client base and trace it is
    /// for: every error captured outside a span carries one, and nearly all
    /// of a process's scopes share one trace, so it is made once, not per
    /// error (an `Arc` clone instead of ~60 ns of building).
    static LAST_SCOPE_DSC: std::cell::RefCell<Option<(u64, crate::protocol::TraceId, Dsc)>> =
        const { std::cell::RefCell::new(None) };
}

/// The client's part of a DSC, prepared once per client so that starting a
/// trace copies no strings.
#[derive(Debug, Default)]
pub(crate) struct DscBase {
    environment: Option<Text>,
    public_key: Option<Text>,
    release: Option<Text>,
    /// Names this base among every client's, for [`LAST_SCOPE_DSC`].
    id: u64,
    /// The `sample_rate` of a scope's own trace: `traces_sample_rate` when
    /// that one rate decides every transaction (tracing on, no
    /// `traces_sampler`), as the Python SDK writes it there.
    scope_sample_rate: Option<Text>,
}

impl DscBase {
    pub(crate) fn new(options: &crate::ClientOptions) -> DscBase {
        let rate = options.traces_sample_rate;
        DscBase {
            environment: Some(options.environment.as_ref().map_or(
                Text::Static(crate::options::DEFAULT_ENVIRONMENT),
                Text::from_cow,
            )),
            public_key: options
                .dsn
                .as_ref()
                .map(|dsn| Text::Shared(Arc::from(dsn.public_key()))),
            release: options.release.as_ref().map(Text::from_cow),
            scope_sample_rate: (options.traces_sampler.is_none() && rate > 0.0 && rate.is_finite())
                .then(|| rate_text(f64::from(rate))),
            id: NEXT_BASE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// The dynamic sampling context: the `sentry-*` entries of `baggage`, which
/// also travel as the envelope header `trace`.
///
/// Keys are stored without the `sentry-` prefix and kept in sorted order.
/// The entries are shared: cloning a `Dsc` (as every span of a transaction
/// hands out the same one, and every envelope of the trace carries it) costs
/// no allocation; [`Dsc::set`] copies them first if they are shared. The
/// keys this SDK writes are held without building a JSON map, and any other
/// key of a received context (even one whose value is not a string) is kept
/// and written back.
///
/// ```
/// use sentry_core::propagation::Dsc;
/// let dsc = Dsc::from_baggage("other=1,sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-release=app%401.0");
/// assert_eq!(dsc.get("release"), Some("app@1.0"));
/// assert_eq!(dsc.to_baggage(), "sentry-release=app%401.0,sentry-trace_id=771a43a4192642f0b136d5159a501700");
/// assert_eq!(serde_json::to_string(&dsc).unwrap(),
///            r#"{"release":"app@1.0","trace_id":"771a43a4192642f0b136d5159a501700"}"#);
/// ```
#[derive(Clone, PartialEq, Default)]
pub struct Dsc {
    entries: Arc<Entries>,
}

impl std::fmt::Debug for Dsc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in self.fields() {
            match v {
                Field::Text(s) => map.entry(&k, &s),
                Field::Json(v) => map.entry(&k, v),
            };
        }
        map.finish()
    }
}

impl Dsc {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// The context this SDK starts for a new trace (PROTOCOL.md §9.2).
    pub(crate) fn for_new_trace(
        base: Option<&DscBase>,
        trace_id: crate::protocol::TraceId,
        rand: f64,
        rate: f64,
        sampled: bool,
        transaction: Option<&Cow<'static, str>>,
    ) -> Dsc {
        let (environment, public_key, release) = match base {
            Some(b) => (
                b.environment.clone(),
                b.public_key.clone(),
                b.release.clone(),
            ),
            None => (None, None, None),
        };
        Dsc {
            entries: Arc::new(Entries {
                known: [
                    environment,
                    public_key,
                    release,
                    Some(rand_text(rand)),
                    Some(rate_text(rate)),
                    Some(Text::Static(if sampled { "true" } else { "false" })),
                    Some(Text::display(trace_id)),
                    transaction.map(Text::from_cow),
                ],
                other: Map::new(),
            }),
        }
    }

    /// The context of a scope's own trace (its propagation context, which no
    /// transaction sampled): `trace_id` and the client's `public_key`,
    /// `release` and `environment`, plus `sample_rate` when one rate samples
    /// every transaction; no `sampled`, `sample_rand` or `transaction`, as
    /// the official SDKs send it with errors captured outside any span.
    pub(crate) fn for_scope_trace(base: &DscBase, trace_id: crate::protocol::TraceId) -> Dsc {
        // `try_with`: in a thread-local destructor that runs after this
        // cache's, `with` would panic, and a panic there aborts the process.
        let cached = LAST_SCOPE_DSC.try_with(|last| {
            let Ok(mut last) = last.try_borrow_mut() else {
                return Dsc::make_for_scope_trace(base, trace_id);
            };
            match &*last {
                Some((id, trace, dsc)) if *id == base.id && *trace == trace_id => dsc.clone(),
                _ => {
                    let dsc = Dsc::make_for_scope_trace(base, trace_id);
                    *last = Some((base.id, trace_id, dsc.clone()));
                    dsc
                }
            }
        });
        cached.unwrap_or_else(|_| Dsc::make_for_scope_trace(base, trace_id))
    }

    fn make_for_scope_trace(base: &DscBase, trace_id: crate::protocol::TraceId) -> Dsc {
        Dsc {
            entries: Arc::new(Entries {
                known: [
                    base.environment.clone(),
                    base.public_key.clone(),
                    base.release.clone(),
                    None,
                    base.scope_sample_rate.clone(),
                    None,
                    Some(Text::display(trace_id)),
                    None,
                ],
                other: Map::new(),
            }),
        }
    }

    /// The `sentry-` entries of a baggage header; other vendors' entries are
    /// ignored here (see [`merge_baggage`] to keep them when forwarding).
    pub fn from_baggage(header: &str) -> Dsc {
        let mut dsc = Dsc::new();
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
                dsc.set(key, value.into_owned());
            }
        }
        dsc
    }

    /// The context from the JSON object of an envelope header `trace`. Every
    /// key is kept, whatever its value.
    ///
    /// ```
    /// use sentry_core::propagation::Dsc;
    /// let json = serde_json::json!({"trace_id": "771a43a4192642f0b136d5159a501700", "x": [1]});
    /// let serde_json::Value::Object(map) = json else { unreachable!() };
    /// let dsc = Dsc::from_json(map.clone());
    /// assert_eq!(dsc.get("trace_id"), Some("771a43a4192642f0b136d5159a501700"));
    /// assert_eq!(dsc.to_json(), map);
    /// ```
    pub fn from_json(map: Map<String, Value>) -> Dsc {
        let mut entries = Entries::default();
        for (key, value) in map {
            match (known_slot(&key), value) {
                (Some(slot), Value::String(s)) => entries.known[slot] = Some(Text::Owned(s)),
                (_, value) => {
                    entries.other.insert(key, value);
                }
            }
        }
        Dsc {
            entries: Arc::new(entries),
        }
    }

    /// Sets an entry (key without the `sentry-` prefix).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let entries = Arc::make_mut(&mut self.entries);
        let value = value.into();
        match known_slot(key) {
            Some(slot) => {
                entries.other.remove(key);
                entries.known[slot] = Some(Text::Owned(value));
            }
            None => {
                entries.other.insert(key.to_owned(), Value::String(value));
            }
        }
    }

    /// An entry's value (`None` when missing or, in a parsed envelope header,
    /// not a string).
    pub fn get(&self, key: &str) -> Option<&str> {
        match known_slot(key) {
            Some(slot) => self.entries.known[slot].as_ref().map(Text::as_str),
            None => self.entries.other.get(key).and_then(Value::as_str),
        }
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.known.iter().all(Option::is_none) && self.entries.other.is_empty()
    }

    /// Every entry in key order.
    fn fields(&self) -> impl Iterator<Item = (&str, Field<'_>)> {
        let mut known = KNOWN_KEYS
            .iter()
            .zip(self.entries.known.iter())
            .filter_map(|(k, v)| Some((*k, Field::Text(v.as_ref()?.as_str()))))
            .peekable();
        let mut other = self
            .entries
            .other
            .iter()
            .map(|(k, v)| {
                let field = match v {
                    Value::String(s) => Field::Text(s),
                    v => Field::Json(v),
                };
                (k.as_str(), field)
            })
            .peekable();
        std::iter::from_fn(move || match (known.peek(), other.peek()) {
            (Some(a), Some(b)) if b.0 < a.0 => other.next(),
            (Some(_), _) => known.next(),
            (None, _) => other.next(),
        })
    }

    /// The `sentry-…` baggage entries, comma-separated.
    pub fn to_baggage(&self) -> String {
        let mut out = String::new();
        for (k, v) in self.iter() {
            if !out.is_empty() {
                out.push(',');
            }
            let _ = write!(out, "sentry-{k}={}", utf8_percent_encode(v, BAGGAGE_ESCAPE));
        }
        out
    }

    /// As the envelope header `trace` (a JSON object; of strings unless it
    /// was parsed from a header holding other values).
    pub fn to_json(&self) -> Map<String, Value> {
        self.fields()
            .map(|(k, v)| {
                let v = match v {
                    Field::Text(s) => Value::String(s.to_owned()),
                    Field::Json(v) => v.clone(),
                };
                (k.to_owned(), v)
            })
            .collect()
    }

    /// The entries whose value is a string, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields().filter_map(|(k, v)| match v {
            Field::Text(s) => Some((k, s)),
            Field::Json(_) => None,
        })
    }
}

impl Serialize for Dsc {
    /// The JSON object of the envelope header `trace`, keys in order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in self.fields() {
            match v {
                Field::Text(s) => map.serialize_entry(k, s)?,
                Field::Json(v) => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Dsc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::<String, Value>::deserialize(deserializer).map(Dsc::from_json)
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
    /// `sentry-trace` parent was found, or a `traceparent` with Sentry
    /// baggage: the context is then frozen (PROTOCOL.md §9.2). `None`
    /// otherwise, also when only `traceparent` came: this SDK then heads
    /// the trace's sampling.
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
        let dsc = parent.and_then(|p| {
            let dsc = baggage
                .as_deref()
                .map(Dsc::from_baggage)
                .unwrap_or_default();
            // A DSC for another trace is not ours to continue.
            // Compared as ids: an SDK may write the same one in capitals
            // or in the UUID form.
            let dsc = match dsc.get("trace_id") {
                Some(t) if t.parse::<TraceId>().ok() != Some(p.trace_id) => Dsc::new(),
                _ => dsc,
            };
            // A `traceparent` without Sentry baggage often comes from
            // infrastructure that is not a Sentry SDK (load balancers,
            // gateways, OpenTelemetry collectors add one): its sampled flag
            // must not decide for this service, and there is no sampling
            // context to freeze. The trace id and parent span are still
            // continued; sampling is this SDK's, as head of the trace. With
            // Sentry baggage it is a Sentry SDK propagating the W3C way.
            (sentry_trace.is_some() || !dsc.is_empty()).then_some(dsc)
        });
        let parent = match (&dsc, parent) {
            (None, Some(p)) => Some(SentryTrace { sampled: None, ..p }),
            (_, parent) => parent,
        };
        IncomingTrace { parent, dsc }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn traceparent_fields_are_two_hex_digits() {
        let ids = "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12";
        assert!(SentryTrace::from_traceparent(&format!("00-{ids}-01")).is_ok());
        for bad in [
            format!("00-{ids}-+1"),
            format!("+0-{ids}-01"),
            format!("00-{ids}-1"),
        ] {
            assert!(SentryTrace::from_traceparent(&bad).is_err(), "{bad}");
        }
    }
    use super::*;

    #[test]
    fn rates_format_like_the_official_sdks() {
        for (rate, want) in [(1.0, "1"), (0.25, "0.25"), (0.0, "0"), (1e-9, "0")] {
            assert_eq!(rate_text(rate).as_str(), want);
        }
    }

    #[test]
    fn sample_rand_has_six_truncated_decimals() {
        for (rand, want) in [
            (0.0, "0.000000"),
            (0.25, "0.250000"),
            (0.1234567, "0.123456"),
            (0.9999999, "0.999999"),
        ] {
            assert_eq!(rand_text(rand).as_str(), want);
        }
    }

    #[test]
    fn json_keeps_unknown_and_non_string_entries_in_key_order() {
        let text = r#"{"a":1,"environment":"ci","sampled":true,"trace_id":"t","zz":"z"}"#;
        let dsc: Dsc = serde_json::from_str(text).expect("object");
        assert_eq!(serde_json::to_string(&dsc).expect("json"), text);
        assert_eq!(dsc.get("sampled"), None);
        assert_eq!(dsc.get("zz"), Some("z"));
        assert_eq!(
            dsc.to_baggage(),
            "sentry-environment=ci,sentry-trace_id=t,sentry-zz=z"
        );
        let mut changed = dsc.clone();
        changed.set("sampled", "false");
        assert_eq!(changed.get("sampled"), Some("false"));
        assert_eq!(
            serde_json::to_string(&changed).expect("json"),
            r#"{"a":1,"environment":"ci","sampled":"false","trace_id":"t","zz":"z"}"#
        );
        assert_ne!(changed, dsc);
    }

    #[test]
    fn a_new_trace_writes_the_same_json_as_a_map_of_its_entries() {
        let options = crate::ClientOptions {
            dsn: "https://0123456789abcdef0123456789abcdef@o1.example/1"
                .parse()
                .ok(),
            release: Some("app@1.0.0".into()),
            environment: Some("production".into()),
            ..Default::default()
        };
        let base = DscBase::new(&options);
        let trace_id: crate::protocol::TraceId =
            "771a43a4192642f0b136d5159a501700".parse().expect("id");
        let name = Cow::Owned("GET /users".to_owned());
        let dsc = Dsc::for_new_trace(Some(&base), trace_id, 0.5, 0.25, false, Some(&name));
        let json = serde_json::to_string(&dsc).expect("json");
        assert_eq!(
            json,
            r#"{"environment":"production","public_key":"0123456789abcdef0123456789abcdef","release":"app@1.0.0","sample_rand":"0.500000","sample_rate":"0.25","sampled":"false","trace_id":"771a43a4192642f0b136d5159a501700","transaction":"GET /users"}"#
        );
        assert_eq!(serde_json::to_string(&dsc.to_json()).expect("json"), json);
        assert_eq!(Dsc::from_json(dsc.to_json()), dsc);
    }

    #[test]
    fn a_scopes_trace_context_is_made_once_per_client_and_trace() {
        let options = |release: &str| crate::ClientOptions {
            release: Some(release.to_owned().into()),
            ..Default::default()
        };
        let (one, two) = (DscBase::new(&options("a@1")), DscBase::new(&options("a@2")));
        let trace: crate::protocol::TraceId =
            "771a43a4192642f0b136d5159a501700".parse().expect("id");
        let other: crate::protocol::TraceId =
            "871a43a4192642f0b136d5159a501700".parse().expect("id");
        let first = Dsc::for_scope_trace(&one, trace);
        assert!(Arc::ptr_eq(
            &first.entries,
            &Dsc::for_scope_trace(&one, trace).entries
        ));
        // Another client, or another trace, gets its own.
        assert_eq!(
            Dsc::for_scope_trace(&two, trace).get("release"),
            Some("a@2")
        );
        let elsewhere = Dsc::for_scope_trace(&one, other);
        assert_eq!(elsewhere.get("trace_id"), Some(other.to_string().as_str()));
        assert_eq!(elsewhere.get("release"), Some("a@1"));
    }

    #[test]
    fn a_scopes_trace_has_only_the_clients_entries_and_its_id() {
        let trace_id: crate::protocol::TraceId =
            "771a43a4192642f0b136d5159a501700".parse().expect("id");
        let bare = DscBase::new(&crate::ClientOptions::default());
        assert_eq!(
            serde_json::to_string(&Dsc::for_scope_trace(&bare, trace_id)).expect("json"),
            format!(
                r#"{{"environment":"{}","trace_id":"771a43a4192642f0b136d5159a501700"}}"#,
                crate::DEFAULT_ENVIRONMENT
            )
        );
        let full = DscBase::new(&crate::ClientOptions {
            dsn: "https://0123456789abcdef0123456789abcdef@o1.example/1"
                .parse()
                .ok(),
            release: Some("app@1.0.0".into()),
            environment: Some("staging".into()),
            traces_sample_rate: 0.1,
            ..Default::default()
        });
        assert_eq!(
            serde_json::to_string(&Dsc::for_scope_trace(&full, trace_id)).expect("json"),
            r#"{"environment":"staging","public_key":"0123456789abcdef0123456789abcdef","release":"app@1.0.0","sample_rate":"0.1","trace_id":"771a43a4192642f0b136d5159a501700"}"#
        );
    }

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
            // Nil ids: Relay drops a transaction that continues them.
            "00000000000000000000000000000000-b0e6f15b45c36b12-1",
            "771a43a4192642f0b136d5159a501700-0000000000000000-1",
        ] {
            assert!(bad.parse::<SentryTrace>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dashed_ids_in_headers_are_no_parent() {
        for (name, value) in [
            // A trace id in the UUID form: the dashes are the separators here.
            (
                "sentry-trace",
                "771a43a4-1926-42f0-b136-d5159a501700-b0e6f15b45c36b12-1",
            ),
            (
                "sentry-trace",
                "771a43a4192642f0b136d5159a501700-b0e6-f15b45c36b12",
            ),
            (
                "traceparent",
                "00-771a43a4-1926-42f0-b136-d5159a501700-b0e6f15b45c36b12-01",
            ),
            (
                "traceparent",
                "00-771a43a4192642f0b136d5159a501700-b0e6-f15b45c36b12-01",
            ),
        ] {
            let t = IncomingTrace::from_headers([
                (name, value),
                (
                    "baggage",
                    "sentry-trace_id=771a43a4192642f0b136d5159a501700",
                ),
            ]);
            assert_eq!(t, IncomingTrace::default(), "{name}: {value}");
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

    #[test]
    fn baggage_of_the_same_trace_written_otherwise_is_continued() {
        let trace = "771a43a4192642f0b136d5159a501700";
        for written in [
            trace.to_ascii_uppercase(),
            "771a43a4-1926-42f0-b136-d5159a501700".to_owned(),
        ] {
            let t = IncomingTrace::from_headers([
                (
                    "sentry-trace",
                    "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
                ),
                (
                    "baggage",
                    &format!("sentry-trace_id={written},sentry-release=shop@1"),
                ),
            ]);
            let dsc = t.dsc.expect("a sentry-trace freezes a context");
            assert_eq!(dsc.get("release"), Some("shop@1"), "{written}");
        }
        // Another trace's context is still not continued.
        let other = IncomingTrace::from_headers([
            (
                "sentry-trace",
                "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
            ),
            (
                "baggage",
                "sentry-trace_id=00000000000000000000000000000001,sentry-release=shop@1",
            ),
        ]);
        assert_eq!(other.dsc, Some(Dsc::new()));
    }
}
