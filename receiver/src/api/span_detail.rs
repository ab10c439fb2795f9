//! `GET /api/0/local/traces/{trace_id}/spans/{span_id}/`: one span whole
//! (the trace as the trace view takes it, whole or by its first digits),
//! as its SDK sent it: a transaction's span with its `data` and `tags`
//! (the root span is the transaction's `contexts.trace`), a streamed span
//! with its `attributes`. The trace view and the spans list show the
//! columns every span has; this is where the rest is.
//!
//! A span sent both in a transaction and on its own is shown as the
//! transaction's, as the trace view shows it.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::events::decode_payload;
use super::types::SpanDetail;
use super::{ApiError, Ctx, Reply};
use crate::ids::hex_id;

/// See the module's documentation.
pub(crate) async fn detail(ctx: &Ctx, trace: &str, span: &str) -> Result<Reply, ApiError> {
    let prefix = super::id_prefix::parse(trace, "trace")?;
    let span_id = hex_id(span, 16).ok_or_else(|| {
        ApiError::BadRequest(format!("invalid span id {span:?}: expected 16 hex digits"))
    })?;
    let detail = ctx
        .read(move |c| {
            let trace_id = super::local::trace_id_of(c, &prefix)?;
            load(c, &trace_id, &span_id)
        })
        .await?;
    Reply::json(&detail)
}

/// Where a span's row says it came from.
struct Row {
    project_id: i64,
    transaction_event: Option<String>,
    transaction_payload: Option<Vec<u8>>,
    item_id: Option<i64>,
}

fn load(c: &Connection, trace_id: &str, span_id: &str) -> Result<SpanDetail, ApiError> {
    let row = c
        .prepare_cached(
            "SELECT s.project_id, t.event_id, t.payload, s.item_id
             FROM spans s LEFT JOIN transactions t ON t.id = s.transaction_id
             WHERE s.trace_id = ?1 AND s.span_id = ?2
             ORDER BY s.transaction_id IS NULL, s.id LIMIT 1",
        )?
        .query_row(params![trace_id, span_id], |r| {
            Ok(Row {
                project_id: r.get(0)?,
                transaction_event: r.get(1)?,
                transaction_payload: r.get(2)?,
                item_id: r.get(3)?,
            })
        })
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("span {span_id} of trace {trace_id}")))?;
    let (source, span, profiler_id, is_root) = match &row.transaction_payload {
        Some(blob) => {
            let (span, profiler, is_root) = transaction_span(blob, span_id);
            ("transaction", span, profiler, is_root)
        }
        None => {
            let span = streamed_span(c, row.item_id, span_id)?;
            let profiler = span
                .as_ref()
                .and_then(|s| s.pointer("/attributes/sentry.profiler_id"))
                .and_then(|a| a.get("value").or(Some(a)))
                .and_then(Value::as_str)
                .and_then(|id| hex_id(id, 32));
            ("stream", span, profiler, false)
        }
    };
    // Only a root names its profiler (a transaction's, or a streamed
    // segment's): is there a profile of it to link to?
    let mut profile = None;
    if let Some(event_id) = row.transaction_event.as_ref().filter(|_| is_root) {
        if c.prepare_cached(
            "SELECT 1 FROM raw_items INDEXED BY raw_items_profile_event
                 WHERE item_type = 'profile' AND event_id = ?1 AND project_id = ?2",
        )?
        .exists(params![event_id, row.project_id])?
        {
            profile = Some("profile");
        }
    }
    if profile.is_none() {
        // A transaction's root: its times as sent (on its chunks' clock).
        let when = match (&row.transaction_payload, span.as_ref().and_then(times)) {
            (Some(blob), Some(stored)) => Some(super::profilers::sent_times(blob, stored)),
            (_, found) => found,
        };
        if let (Some(profiler), Some((start, end))) = (&profiler_id, when) {
            if super::profilers::covers(c, row.project_id, profiler, start, end)? {
                profile = Some("continuous");
            }
        }
    }
    Ok(SpanDetail {
        span_id: span_id.to_owned(),
        trace_id: trace_id.to_owned(),
        project_id: row.project_id.to_string(),
        transaction_id: row.transaction_event,
        source: source.to_owned(),
        span,
        profile: profile.map(str::to_owned),
        profiler_id: profile.and(profiler_id),
    })
}

/// A span's start and end as Unix seconds (numbers or RFC 3339 text).
fn times(span: &Value) -> Option<(f64, f64)> {
    let at = |key: &str| match span.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => sentry_core::protocol::Timestamp::parse_rfc3339(s)
            .map(sentry_core::protocol::Timestamp::as_secs_f64),
        _ => None,
    };
    let start = at("start_timestamp")?;
    let end = at("end_timestamp").or_else(|| at("timestamp"))?;
    Some((start, end))
}

/// The span `span_id` of a stored transaction: an entry of its `spans`,
/// or its `contexts.trace` (with the transaction's name, times and tags)
/// when it is the root, then the continuous profiler that sampled the
/// root (`contexts.profile.profiler_id`, or the trace's
/// `data.profiler_id`), and whether it is the root.
fn transaction_span(blob: &[u8], span_id: &str) -> (Option<Value>, Option<String>, bool) {
    let (payload, _) = decode_payload(blob);
    let text = |pointer: &str| payload.pointer(pointer).and_then(Value::as_str);
    let root_profiler = text("/contexts/profile/profiler_id")
        .or_else(|| text("/contexts/trace/data/profiler_id"))
        .and_then(|id| hex_id(id, 32));
    let (span, is_root) = find_transaction_span(&payload, span_id);
    (span, root_profiler.filter(|_| is_root), is_root)
}

/// [`transaction_span`]'s span, and whether it is the root.
fn find_transaction_span(payload: &Value, span_id: &str) -> (Option<Value>, bool) {
    let same = |v: &Value| {
        v.get("span_id")
            .and_then(Value::as_str)
            .is_some_and(|id| id.eq_ignore_ascii_case(span_id))
    };
    if let Some(found) = payload
        .get("spans")
        .and_then(Value::as_array)
        .and_then(|spans| spans.iter().find(|s| same(s)))
    {
        return (Some(found.clone()), false);
    }
    let Some(root) = payload.pointer("/contexts/trace").filter(|t| same(t)) else {
        return (None, false);
    };
    let mut span = root.clone();
    if let Value::Object(o) = &mut span {
        for (to, from) in [
            ("description", "transaction"),
            ("start_timestamp", "start_timestamp"),
            ("timestamp", "timestamp"),
            ("tags", "tags"),
        ] {
            if let Some(v) = payload.get(from) {
                o.entry(to).or_insert_with(|| v.clone());
            }
        }
    }
    (Some(span), true)
}

/// The span `span_id` of the `span` item stored as row `item_id`: the
/// entry of a v2 container, or the legacy single span.
fn streamed_span(
    c: &Connection,
    item_id: Option<i64>,
    span_id: &str,
) -> Result<Option<Value>, ApiError> {
    let Some(item_id) = item_id else {
        return Ok(None);
    };
    let blob: Option<Vec<u8>> = c
        .prepare_cached("SELECT payload FROM span_items WHERE id = ?1")?
        .query_row([item_id], |r| r.get(0))
        .optional()?;
    let Some(blob) = blob else {
        return Ok(None);
    };
    let (payload, _) = decode_payload(&blob);
    let same = |v: &&Value| {
        v.get("span_id")
            .and_then(Value::as_str)
            .is_some_and(|id| id.eq_ignore_ascii_case(span_id))
    };
    Ok(match payload.get("items").and_then(Value::as_array) {
        Some(items) => items.iter().find(same).cloned(),
        None => Some(&payload).filter(same).cloned(),
    })
}
