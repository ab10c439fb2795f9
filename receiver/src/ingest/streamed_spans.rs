//! Span rows from standalone `span` items, so that the trace view shows
//! spans an SDK streamed instead of sending them inside a transaction.
//!
//! Two shapes arrive as `span` items (PROTOCOL.md §6.2): the v2 container
//! (`application/vnd.sentry.items.span.v2+json`, `{"version":2,"items":[…]}`,
//! which current JavaScript SDKs send with `traceLifecycle: "stream"`) and
//! a legacy single span object. The item itself is kept whole either way
//! (`span_items`); this module reads what the `spans` table holds. A span without a valid trace id, span id or start, that
//! ends before it starts, or whose times are not plausible (within the
//! window an event's timestamp must be in, PROTOCOL.md §11, with or
//! without the clock-drift correction) gets no row (it stays in the kept
//! item); an invalid optional field is left empty.
//!
//! A segment span (`is_segment`, the root of one service's part of the
//! trace) gets a row like any other, marked as a segment: the trace view
//! shows it as the root of its service's spans. It is not stored as a
//! transaction (see docs/receiver.md for why).
//!
//! ```
//! use receiver::ingest::normalize::RequestContext;
//! use receiver::ingest::streamed_spans::spans_of;
//! use sentry_core::protocol::Timestamp;
//!
//! let payload = br#"{"version":2,"items":[{"trace_id":"771a43a4192642f0b136d5159a501700",
//!     "span_id":"b0e5fcc5f8512414","name":"GET /","start_timestamp":1.7e9,
//!     "end_timestamp":1.7e9,"is_segment":true,"status":"ok",
//!     "attributes":{"sentry.op":{"type":"string","value":"http.server"}}}]}"#;
//! let ctx = RequestContext { received: Timestamp::from_secs_f64(1.7e9), sent_at: None, client_ip: None };
//! let spans = spans_of(payload, &ctx);
//! assert_eq!(spans.len(), 1);
//! assert!(spans[0].is_segment);
//! assert_eq!(spans[0].span.op.as_deref(), Some("http.server"));
//! assert_eq!(spans[0].span.description.as_deref(), Some("GET /"));
//! ```

use std::str::FromStr;

use sentry_core::protocol::{SpanId, SpanStatus, Timestamp, TraceId};
use serde_json::{Map, Value};

use super::normalize::{RequestContext, MAX_SECS_IN_FUTURE, MAX_SECS_IN_PAST};
use crate::store::records::{SpanRecord, StreamedSpan};

/// At most this many rows from one item: a container's entries are bounded
/// by the container size limit already; this bounds the index work too.
pub const MAX_SPANS_PER_ITEM: usize = 10_000;

/// Op, description and status are cut to this many bytes (at a character
/// boundary) in the row; the kept item has them whole.
const MAX_FIELD_BYTES: usize = 1024;

/// The rows for the spans of one `span` item's payload (either shape);
/// none when it is not JSON. Row timestamps move with the client's clock
/// drift as those of transactions do.
pub fn spans_of(payload: &[u8], ctx: &RequestContext) -> Vec<StreamedSpan> {
    let Ok(Value::Object(root)) = serde_json::from_slice::<Value>(payload) else {
        return Vec::new();
    };
    let times = Times {
        shift: ctx.drift().map_or(0.0, |(d, _)| d),
        received: ctx.received.as_secs_f64(),
    };
    match root.get("items") {
        Some(Value::Array(items)) => {
            let spans: Vec<&Map<String, Value>> = items
                .iter()
                .filter_map(Value::as_object)
                .take(MAX_SPANS_PER_ITEM)
                .collect();
            let mut rows: Vec<StreamedSpan> = spans
                .iter()
                .filter_map(|span| row(span, times, Shape::V2))
                .collect();
            name_segments_as_shown(&spans, &mut rows);
            rows
        }
        Some(_) => Vec::new(),
        None => row(&root, times, Shape::Legacy).into_iter().collect(),
    }
}

/// Gives the spans of a segment sent in the same container the segment's
/// description as their segment name: the name an SDK gives a segment
/// (`sentry.segment.name`) may be bare (`@sentry/node` 11 names every
/// HTTP server segment `GET`), while the segment is shown by its
/// description (`GET /users/:id`), which `transaction=` should find.
fn name_segments_as_shown(spans: &[&Map<String, Value>], rows: &mut [StreamedSpan]) {
    let shown: std::collections::HashMap<&str, &str> = rows
        .iter()
        .filter(|r| r.is_segment)
        .filter_map(|r| Some((r.span.span_id.as_str(), r.span.description.as_deref()?)))
        .collect();
    if shown.is_empty() {
        return;
    }
    // Each span's segment: its `sentry.segment.id`, or itself.
    let segment_of: std::collections::HashMap<String, String> = spans
        .iter()
        .filter_map(|span| {
            let id = span.get("span_id")?.as_str()?.to_ascii_lowercase();
            let segment = attribute(span, "sentry.segment.id")
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_else(|| id.clone());
            Some((id, segment))
        })
        .collect();
    let names: Vec<Option<String>> = rows
        .iter()
        .map(|r| {
            let segment = segment_of.get(&r.span.span_id)?;
            shown.get(segment.as_str()).map(|d| (*d).to_owned())
        })
        .collect();
    for (row, name) in rows.iter_mut().zip(names) {
        if let Some(name) = name {
            row.segment_name = Some(name);
        }
    }
}

/// Which of the two shapes a span came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// An entry of a v2 container: its op and description may have to be
    /// derived from its attributes, as Relay converts v2 spans.
    V2,
    /// A legacy single span, whose `op` and `description` are as sent.
    Legacy,
}

/// When a request arrived and how far its client's clock is off.
#[derive(Debug, Clone, Copy)]
struct Times {
    shift: f64,
    received: f64,
}

impl Times {
    /// A span's start and end moved by the drift when both are plausible
    /// then, else as sent when both are plausible so, else `None`.
    fn place(self, start: f64, end: Option<f64>) -> Option<(f64, Option<f64>)> {
        let window = (self.received - MAX_SECS_IN_PAST)..=(self.received + MAX_SECS_IN_FUTURE);
        let plausible = |(s, e): (f64, Option<f64>)| {
            window.contains(&s) && e.map_or(true, |e| window.contains(&e))
        };
        let shifted = (start + self.shift, end.map(|e| e + self.shift));
        [shifted, (start, end)].into_iter().find(|t| plausible(*t))
    }
}

/// One span's row: v2 names first (`name`, `end_timestamp`, the
/// `sentry.op` attribute), then the legacy ones (`description`,
/// `timestamp`, `op`). Only a v2 span has its op and description derived
/// from its attributes (as Relay converts v2 spans); a legacy span's are
/// as sent.
fn row(span: &Map<String, Value>, times: Times, shape: Shape) -> Option<StreamedSpan> {
    let trace_id = TraceId::from_str(span.get("trace_id")?.as_str()?).ok()?;
    let span_id = SpanId::from_str(span.get("span_id")?.as_str()?).ok()?;
    if trace_id.is_nil() || span_id.is_nil() {
        return None;
    }
    let parent_span_id = span
        .get("parent_span_id")
        .and_then(Value::as_str)
        .and_then(|s| SpanId::from_str(s).ok())
        .filter(|id| !id.is_nil());
    let start = seconds(span.get("start_timestamp")?)?;
    let end = match span.get("end_timestamp").or_else(|| span.get("timestamp")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(seconds(v)?),
    };
    if end.is_some_and(|e| e < start) {
        return None;
    }
    let (start, end) = times.place(start, end)?;
    let (op, description) = match shape {
        Shape::V2 => {
            let op = attribute(span, "sentry.op")
                .or_else(|| text(span.get("op")))
                .or_else(|| derived_op(span));
            let description = description(span, op.as_deref());
            (op, description)
        }
        Shape::Legacy => (
            text(span.get("op")).or_else(|| attribute(span, "sentry.op")),
            text(span.get("description")).or_else(|| text(span.get("name"))),
        ),
    };
    let is_segment = span.get("is_segment").and_then(Value::as_bool) == Some(true);
    let segment_attribute = |name| is_segment.then(|| attribute(span, name)).flatten();
    Some(StreamedSpan {
        span: SpanRecord {
            trace_id: trace_id.to_string(),
            span_id: span_id.to_string(),
            parent_span_id: parent_span_id.map(|id| id.to_string()),
            op,
            description,
            status: text(span.get("status")).map(|status| span_status(status, span)),
            start,
            end,
        },
        is_segment,
        // Kept only when it is a release an event could name, and trimmed
        // as an event's is (it makes a `releases` row).
        release: segment_attribute("sentry.release")
            .filter(|r| super::normalize::valid_release(r))
            .map(|r| r.trim().to_owned()),
        environment: segment_attribute("sentry.environment"),
        segment_name: attribute(span, "sentry.segment.name").or_else(|| {
            // A segment names its segment; a legacy span has no name
            // field but may have a description.
            is_segment
                .then(|| text(span.get("name")).or_else(|| text(span.get("description"))))
                .flatten()
        }),
    })
}

/// The kind of a v2 span (`server`, `client`, …), if it says: a `kind`
/// field, or the `sentry.kind` attribute where current SDKs
/// (`@sentry/node` 11) put it.
fn kind(span: &Map<String, Value>) -> Option<&str> {
    span.get("kind")
        .and_then(Value::as_str)
        .or_else(|| attribute_value(span, "sentry.kind").and_then(Value::as_str))
}

/// The op Relay gives a v2 span that sends no `sentry.op`, from the
/// OpenTelemetry attributes it has (`http.server` for a server span with
/// an HTTP method, `db` with a database system, …); `None` otherwise.
fn derived_op(span: &Map<String, Value>) -> Option<String> {
    let has = |name: &str| attribute_value(span, name).is_some();
    let op = if has("http.request.method") || has("http.method") {
        match kind(span) {
            Some("client") => "http.client",
            Some("server") => "http.server",
            _ if has("http.prefetch") => "http.prefetch",
            _ => "http",
        }
    } else if has("db.system.name") || has("db.system") {
        "db"
    } else if has("gen_ai.system") {
        "gen_ai"
    } else if has("rpc.service") {
        "rpc"
    } else if has("messaging.system") {
        "message"
    } else {
        return attribute(span, "faas.trigger");
    };
    Some(op.to_owned())
}

/// A span's description as Relay converts a v2 span: the
/// `sentry.description` attribute when sent; else, for an HTTP span, its
/// method and route or URL (`GET /users/:id`, `GET https://api.example.com/v1`;
/// the Node SDK names server spans just `GET`); for a database span
/// (not a cache operation), its query; else its `name` (a legacy span's
/// `description`).
fn description(span: &Map<String, Value>, op: Option<&str>) -> Option<String> {
    if let Some(sent) = attribute(span, "sentry.description") {
        return Some(sent);
    }
    if let Some(method) =
        attribute(span, "http.request.method").or_else(|| attribute(span, "http.method"))
    {
        let target = match kind(span) {
            Some("server") => attribute(span, "http.route")
                .or_else(|| attribute(span, "url.path"))
                .or_else(|| {
                    attribute(span, "http.target")
                        .map(|t| t.split(['?', '#']).next().unwrap_or_default().to_owned())
                }),
            Some("client") => attribute(span, "url.full")
                .or_else(|| attribute(span, "http.url"))
                .and_then(|u| url::Url::parse(&u).ok())
                .map(|u| {
                    format!(
                        "{}://{}{}",
                        u.scheme(),
                        u.host_str().unwrap_or_default(),
                        u.path()
                    )
                }),
            _ => None,
        };
        let described = match (target, attribute(span, "sentry.graphql.operation")) {
            (Some(t), Some(graphql)) => format!("{method} {t} ({graphql})"),
            (Some(t), None) => format!("{method} {t}"),
            // Nothing to add to the method: the name says as much or more.
            (None, _) => return text(span.get("name")).or(Some(method)),
        };
        return text(Some(&Value::String(described)));
    }
    let cache = op.is_some_and(|o| o.starts_with("cache."));
    let database = attribute_value(span, "db.system.name").is_some()
        || attribute_value(span, "db.system").is_some();
    if database && !cache {
        if let Some(query) =
            attribute(span, "db.query.text").or_else(|| attribute(span, "db.statement"))
        {
            return Some(query);
        }
    }
    text(span.get("name")).or_else(|| text(span.get("description")))
}

/// The span status of each gRPC status code, by code.
const GRPC_STATUSES: [&str; 17] = [
    "ok",
    "cancelled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal_error",
    "unavailable",
    "data_loss",
    "unauthenticated",
];

/// A span's status in the names transactions use. A v2 span says only
/// `ok` or `error`; an `error` is named, as far as the span tells, by its
/// HTTP response status (`http.response.status_code`, `http.status_code`,
/// mapped as the SDKs map it: 404 `not_found`), else by its gRPC status
/// (`rpc.grpc.status_code`: 5 `not_found`), else by its
/// `sentry.status.message` attribute when that is a status name (where
/// `@sentry/node` keeps the status its code set), else `internal_error`.
/// Other statuses are as sent.
fn span_status(status: String, span: &Map<String, Value>) -> String {
    if status != "error" {
        return status;
    }
    let http = ["http.response.status_code", "http.status_code"]
        .into_iter()
        .find_map(|name| match attribute_value(span, name)? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .and_then(|code| u16::try_from(code).ok())
        .map(SpanStatus::from_http_status)
        .filter(|s| *s != SpanStatus::Ok && *s != SpanStatus::Unknown);
    // gRPC codes are the span statuses in order (0 `ok` … 16
    // `unauthenticated`).
    let grpc = || {
        let code = match attribute_value(span, "rpc.grpc.status_code")? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }?;
        GRPC_STATUSES
            .get(usize::try_from(code).ok()?)
            .and_then(|name| name.parse::<SpanStatus>().ok())
            .filter(|s| *s != SpanStatus::Ok && *s != SpanStatus::Unknown)
    };
    let message = || {
        attribute(span, "sentry.status.message")
            .and_then(|m| m.parse::<SpanStatus>().ok())
            .filter(|s| *s != SpanStatus::Ok)
    };
    http.or_else(grpc)
        .or_else(message)
        .unwrap_or(SpanStatus::InternalError)
        .as_str()
        .to_owned()
}

/// Seconds since the epoch from a number or an RFC 3339 string.
fn seconds(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => Timestamp::parse_rfc3339(s).map(Timestamp::as_secs_f64),
        _ => None,
    }
}

/// A v2 attribute's string value (`{"type":"string","value":…}`), or a
/// legacy span's `data` entry of that name.
fn attribute(span: &Map<String, Value>, name: &str) -> Option<String> {
    text(attribute_value(span, name))
}

/// A v2 attribute's value of any type, or a legacy span's `data` entry.
fn attribute_value<'a>(span: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    let v2 = span
        .get("attributes")
        .and_then(|a| a.get(name))
        .and_then(|a| a.get("value"));
    let legacy = || span.get("data").and_then(|d| d.get(name));
    v2.or_else(legacy).filter(|v| !v.is_null())
}

/// A non-empty string, cut to [`MAX_FIELD_BYTES`].
fn text(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?;
    if s.is_empty() {
        return None;
    }
    let mut end = s.len().min(MAX_FIELD_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Some(s[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_800_000_000.0;
    const TRACE: &str = "771a43a4192642f0b136d5159a501700";

    fn ctx(sent_at: Option<f64>) -> RequestContext {
        RequestContext {
            received: Timestamp::from_secs_f64(NOW),
            sent_at: sent_at.map(Timestamp::from_secs_f64),
            client_ip: None,
        }
    }

    fn v2(items: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"version": 2, "items": items})).unwrap_or_default()
    }

    #[test]
    fn a_v2_container_gives_a_row_per_valid_span() {
        let payload = v2(serde_json::json!([
            {"trace_id": TRACE, "span_id": "a96e6e8cd41b962e", "name": "segment",
             "start_timestamp": NOW - 1.0, "end_timestamp": NOW, "is_segment": true,
             "status": "ok", "attributes": {"sentry.op": {"type": "string", "value": "task"},
                 "sentry.release": {"type": "string", "value": "app@1.0"},
                 "sentry.environment": {"type": "string", "value": "prod"}}},
            {"trace_id": TRACE, "span_id": "8c69068c9deaf028", "parent_span_id": "a96e6e8cd41b962e",
             "name": "SELECT 2", "start_timestamp": NOW - 0.5, "end_timestamp": NOW - 0.4,
             "is_segment": false, "status": "error",
             "attributes": {"sentry.op": {"type": "string", "value": "db.query"},
                 "sentry.release": {"type": "string", "value": "app@1.0"}}},
            // No span id, a bad trace id, ends before it starts, not an object.
            {"trace_id": TRACE, "name": "no id", "start_timestamp": NOW},
            {"trace_id": "xyz", "span_id": "8c69068c9deaf029", "start_timestamp": NOW},
            {"trace_id": TRACE, "span_id": "8c69068c9deaf02a", "start_timestamp": NOW,
             "end_timestamp": NOW - 1.0},
            5
        ]));
        let spans = spans_of(&payload, &ctx(None));
        assert_eq!(spans.len(), 2);
        let (segment, child) = (&spans[0], &spans[1]);
        assert!(segment.is_segment && !child.is_segment);
        assert_eq!(segment.span.trace_id, TRACE);
        assert_eq!(segment.span.parent_span_id, None);
        assert_eq!(segment.span.op.as_deref(), Some("task"));
        assert_eq!(segment.span.status.as_deref(), Some("ok"));
        assert_eq!(
            (segment.release.as_deref(), segment.environment.as_deref()),
            (Some("app@1.0"), Some("prod"))
        );
        assert_eq!(child.release, None, "only segments keep a release");
        assert_eq!(
            child.span.parent_span_id.as_deref(),
            Some("a96e6e8cd41b962e")
        );
        assert_eq!(child.span.op.as_deref(), Some("db.query"));
        assert_eq!(child.span.description.as_deref(), Some("SELECT 2"));
        assert_eq!(child.span.status.as_deref(), Some("internal_error"));
        assert_eq!(
            (child.span.start, child.span.end),
            (NOW - 0.5, Some(NOW - 0.4))
        );
    }

    #[test]
    fn a_legacy_single_span_gives_one_row() {
        let payload = serde_json::json!({
            "trace_id": "771a43a4-1926-42f0-b136-d5159a501700", "span_id": "b0e5fcc5f8512414",
            "op": "ui.interaction.click", "description": "button#save",
            "start_timestamp": "2027-01-15T08:00:00Z", "timestamp": "2027-01-15T08:00:01.5Z",
            "parent_span_id": "not hex"
        });
        let spans = spans_of(payload.to_string().as_bytes(), &ctx(None));
        assert_eq!(spans.len(), 1);
        assert!(!spans[0].is_segment);
        let s = &spans[0].span;
        assert_eq!(s.trace_id, TRACE);
        assert_eq!(s.op.as_deref(), Some("ui.interaction.click"));
        assert_eq!(s.description.as_deref(), Some("button#save"));
        assert_eq!(s.parent_span_id, None, "an invalid parent is left out");
        assert_eq!(s.end.map(|e| e - s.start), Some(1.5));
    }

    #[test]
    fn http_and_database_spans_are_described_as_relay_describes_them() {
        let span = |id: &str, name: &str, kind: &str, attrs: Value| {
            serde_json::json!({"trace_id": TRACE, "span_id": id, "name": name, "kind": kind,
                "start_timestamp": NOW - 1.0, "end_timestamp": NOW, "attributes": attrs})
        };
        let s = |v: &str| serde_json::json!({"type": "string", "value": v});
        let payload = v2(serde_json::json!([
            // The Node SDK's server segment: named by its method only.
            span(
                "a000000000000001",
                "GET",
                "server",
                serde_json::json!({
                "sentry.op": s("http.server"), "http.request.method": s("GET"),
                "url.path": s("/work"), "http.target": s("/work?x=1")})
            ),
            span(
                "a000000000000002",
                "GET",
                "server",
                serde_json::json!({
                "http.request.method": s("GET"), "http.route": s("/users/:id"),
                "url.path": s("/users/7")})
            ),
            span(
                "a000000000000003",
                "GET 127.0.0.1",
                "client",
                serde_json::json!({
                "http.request.method": s("GET"),
                "url.full": s("http://user:pw@127.0.0.1:8080/api/v1?token=x#f")})
            ),
            span(
                "a000000000000004",
                "POST",
                "server",
                serde_json::json!({
                "http.method": s("POST"), "http.target": s("/graphql?q=1"),
                "sentry.graphql.operation": s("query Me")})
            ),
            span(
                "a000000000000005",
                "select",
                "client",
                serde_json::json!({
                "db.system.name": s("postgresql"), "db.query.text": s("SELECT 1")})
            ),
            span(
                "a000000000000006",
                "get key",
                "client",
                serde_json::json!({
                "sentry.op": s("cache.get"), "db.system": s("redis"),
                "db.statement": s("GET k")})
            ),
            span(
                "a000000000000007",
                "named",
                "internal",
                serde_json::json!({
                "sentry.description": s("as sent"), "http.request.method": s("GET")})
            ),
            span(
                "a000000000000008",
                "GET",
                "internal",
                serde_json::json!({
                "http.request.method": s("GET"), "url.path": s("/ignored")})
            ),
            span(
                "a000000000000009",
                "fetch users",
                "client",
                serde_json::json!({"http.request.method": s("GET")}),
            ),
        ]));
        let spans = spans_of(&payload, &ctx(None));
        let described: Vec<(Option<&str>, Option<&str>)> = spans
            .iter()
            .map(|s| (s.span.op.as_deref(), s.span.description.as_deref()))
            .collect();
        assert_eq!(
            described,
            [
                (Some("http.server"), Some("GET /work")),
                (Some("http.server"), Some("GET /users/:id")),
                (Some("http.client"), Some("GET http://127.0.0.1/api/v1")),
                (Some("http.server"), Some("POST /graphql (query Me)")),
                (Some("db"), Some("SELECT 1")),
                (Some("cache.get"), Some("get key")),
                (Some("http"), Some("as sent")),
                (Some("http"), Some("GET")),
                (Some("http.client"), Some("fetch users")),
            ]
        );
        // A legacy span keeps the op and description it was sent with.
        let legacy = serde_json::json!({"trace_id": TRACE, "span_id": "b000000000000001",
            "op": "http.client", "description": "GET https://api.example.com/users",
            "start_timestamp": NOW - 1.0, "timestamp": NOW, "data": {"http.method": "GET"}});
        let spans = spans_of(legacy.to_string().as_bytes(), &ctx(None));
        assert_eq!(
            spans[0].span.description.as_deref(),
            Some("GET https://api.example.com/users")
        );
    }

    #[test]
    fn timestamps_move_with_the_clock_drift() {
        let payload = v2(serde_json::json!([
            {"trace_id": TRACE, "span_id": "a96e6e8cd41b962e",
             "start_timestamp": NOW - 7201.0, "end_timestamp": NOW - 7200.0}
        ]));
        // The client's clock is two hours behind.
        let spans = spans_of(&payload, &ctx(Some(NOW - 7200.0)));
        assert_eq!(
            (spans[0].span.start, spans[0].span.end),
            (NOW - 1.0, Some(NOW))
        );
        let spans = spans_of(&payload, &ctx(None));
        assert_eq!(spans[0].span.start, NOW - 7201.0);
    }

    #[test]
    fn implausible_times_give_no_row() {
        let span = |start: f64, end: f64| {
            serde_json::json!({"trace_id": TRACE, "span_id": "a96e6e8cd41b962e",
                               "start_timestamp": start, "end_timestamp": end})
        };
        let payload = v2(serde_json::json!([
            // Before 1970, absurd, the epoch (an SDK's fallback), a year ago,
            // an hour ahead.
            span(-5.0, -4.0),
            span(1e300, 1e300),
            span(-1e300, 1e300),
            span(0.0, 0.0),
            span(NOW - 365.0 * 86_400.0, NOW - 365.0 * 86_400.0 + 1.0),
            span(NOW + 3600.0, NOW + 3601.0),
            span(NOW - 1.0, NOW)
        ]));
        let spans = spans_of(&payload, &ctx(None));
        let starts: Vec<f64> = spans.iter().map(|s| s.span.start).collect();
        assert_eq!(starts, [NOW - 1.0]);
        // A plausible span stays where it is when the drift would carry it
        // out of the window (a `sent_at` 400 days off).
        let spans = spans_of(&payload, &ctx(Some(NOW - 400.0 * 86_400.0)));
        let starts: Vec<f64> = spans.iter().map(|s| s.span.start).collect();
        assert_eq!(starts, [NOW - 1.0]);
    }

    #[test]
    fn what_is_not_a_span_list_gives_nothing() {
        for payload in [
            &b"not json"[..],
            b"[1,2]",
            br#"{"items": 5}"#,
            br#"{"version":2}"#,
        ] {
            assert!(spans_of(payload, &ctx(None)).is_empty(), "{payload:?}");
        }
    }

    #[test]
    fn long_fields_are_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_FIELD_BYTES);
        let payload = v2(serde_json::json!([
            {"trace_id": TRACE, "span_id": "a96e6e8cd41b962e", "name": long,
             "start_timestamp": NOW}
        ]));
        let spans = spans_of(&payload, &ctx(None));
        let description = spans[0].span.description.clone().unwrap_or_default();
        assert_eq!(description.len(), MAX_FIELD_BYTES);
        assert!(long.starts_with(&description));
        assert_eq!(spans[0].span.end, None);
    }

    /// `@sentry/node` 11 sends a span's kind as the `sentry.kind`
    /// attribute, and an error's status as `error` with the status its
    /// code set in `sentry.status.message`.
    #[test]
    fn kind_and_error_status_are_read_where_node_11_sends_them() {
        let s = |v: &str| serde_json::json!({"type": "string", "value": v});
        let span = |id: &str, status: &str, attrs: Value| {
            serde_json::json!({"trace_id": TRACE, "span_id": id, "name": "GET",
                "status": status, "start_timestamp": NOW - 1.0, "end_timestamp": NOW,
                "attributes": attrs})
        };
        let payload = v2(serde_json::json!([
            span(
                "b000000000000001",
                "ok",
                serde_json::json!({"sentry.kind": s("server"),
                    "http.request.method": s("GET"), "url.path": s("/ok")})
            ),
            span(
                "b000000000000002",
                "error",
                serde_json::json!({"sentry.kind": s("client"),
                    "http.request.method": s("GET"), "url.full": s("http://127.0.0.1:9/ok?x=1"),
                    "http.response.status_code": {"type": "integer", "value": 404}})
            ),
            span(
                "b000000000000003",
                "error",
                serde_json::json!({"sentry.status.message": s("not_found")})
            ),
            span(
                "b000000000000004",
                "error",
                serde_json::json!({"sentry.status.message": s("something broke")})
            ),
            span(
                "b000000000000005",
                "error",
                serde_json::json!({"rpc.grpc.status_code": {"type": "integer", "value": 14}})
            ),
        ]));
        let spans = spans_of(&payload, &ctx(None));
        let seen: Vec<(Option<&str>, Option<&str>, Option<&str>)> = spans
            .iter()
            .map(|s| {
                (
                    s.span.op.as_deref(),
                    s.span.description.as_deref(),
                    s.span.status.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (Some("http.server"), Some("GET /ok"), Some("ok")),
                (
                    Some("http.client"),
                    Some("GET http://127.0.0.1/ok"),
                    Some("not_found")
                ),
                (None, Some("GET"), Some("not_found")),
                (None, Some("GET"), Some("internal_error")),
                (None, Some("GET"), Some("unavailable")),
            ]
        );
    }

    /// `@sentry/node` 11 names every HTTP server segment `GET`; its spans
    /// take the segment's description (`GET /ok`) as their segment name,
    /// as `transaction=` finds them.
    #[test]
    fn spans_are_named_by_their_segment_as_it_is_shown() {
        let s = |v: &str| serde_json::json!({"type": "string", "value": v});
        let payload = v2(serde_json::json!([
            {"trace_id": TRACE, "span_id": "C000000000000001", "name": "GET", "is_segment": true,
             "start_timestamp": NOW - 1.0, "end_timestamp": NOW,
             "attributes": {"sentry.kind": s("server"), "http.request.method": s("GET"),
                            "url.path": s("/ok"), "sentry.segment.name": s("GET")}},
            {"trace_id": TRACE, "span_id": "c000000000000002", "name": "SELECT 1",
             "parent_span_id": "c000000000000001",
             "start_timestamp": NOW - 0.5, "end_timestamp": NOW - 0.4,
             "attributes": {"sentry.segment.id": s("c000000000000001"),
                            "sentry.segment.name": s("GET")}},
            {"trace_id": TRACE, "span_id": "c000000000000003", "name": "elsewhere",
             "start_timestamp": NOW - 0.5, "end_timestamp": NOW - 0.4,
             "attributes": {"sentry.segment.id": s("d000000000000001"),
                            "sentry.segment.name": s("POST /pay")}},
        ]));
        let spans = spans_of(&payload, &ctx(None));
        let names: Vec<Option<&str>> = spans.iter().map(|r| r.segment_name.as_deref()).collect();
        assert_eq!(names, [Some("GET /ok"), Some("GET /ok"), Some("POST /pay")]);
    }
}
