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
    let (source, span) = match &row.transaction_payload {
        Some(blob) => ("transaction", transaction_span(blob, span_id)),
        None => ("stream", streamed_span(c, row.item_id, span_id)?),
    };
    Ok(SpanDetail {
        span_id: span_id.to_owned(),
        trace_id: trace_id.to_owned(),
        project_id: row.project_id.to_string(),
        transaction_id: row.transaction_event,
        source: source.to_owned(),
        span,
    })
}

/// The span `span_id` of a stored transaction: an entry of its `spans`,
/// or its `contexts.trace` (with the transaction's name, times and tags)
/// when it is the root.
fn transaction_span(blob: &[u8], span_id: &str) -> Option<Value> {
    let (payload, _) = decode_payload(blob);
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
        return Some(found.clone());
    }
    let root = payload.pointer("/contexts/trace").filter(|t| same(t))?;
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
    Some(span)
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
