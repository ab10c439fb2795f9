//! From a parsed envelope to the records the writer stores.
//!
//! Event-class items (`event`, `transaction`, `feedback`) that cannot be
//! parsed refuse the whole request (400): an SDK never sees a 200 for an
//! event that is then dropped. Other items that fail their typed parsing are
//! kept in `raw_items` with the reason, so nothing acknowledged is lost.
//! Sessions outside the rules of PROTOCOL.md §7 are dropped silently, as
//! Relay does. Unknown item types are kept raw and counted.

use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

use sentry_core::envelope::{Envelope, EnvelopeItem, ItemType};
use sentry_core::protocol::{Context, Event, Timestamp, UserReport};

use super::as_received;
use super::group::{self, KnownHashes};
use super::normalize::{self, RequestContext, SessionDrop};
use super::IngestError;
use crate::grouping::fingerprint_rules::FingerprintRules;
use crate::store::dictionary::{self, PayloadCodec};
use crate::store::records::{
    AttachmentRecord, BlobRecord, ChunkKey, ClientReportRecord, EventRecord, FeedbackRecord,
    Grouping, IngestBatch, RawRecord, Record, SpanItemRecord, SpanRecord, TransactionRecord,
};

/// The result of turning an envelope into records.
#[derive(Debug)]
pub struct Prepared {
    /// What to store.
    pub batch: IngestBatch,
    /// The id to answer with (`{"id": …}`), if any.
    pub event_id: Option<Uuid>,
    /// The grouping hashes of the envelope's error event when they were not
    /// all known yet: once the event is stored, they are.
    pub new_hashes: Vec<String>,
}

/// zstd at `level`; a failure is a 503.
fn compress_or_500(data: &[u8], level: i32) -> Result<Vec<u8>, IngestError> {
    dictionary::compress(data, level, None).map_err(|e| IngestError::Unavailable {
        detail: format!("could not compress payload: {e}"),
    })
}

/// The normalised JSON. It is about the size of the payload it came from
/// (`size_hint`), so the buffer is allocated once instead of doubling its
/// way up from 128 bytes.
fn to_json(value: &impl serde::Serialize, size_hint: usize) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::with_capacity(size_hint.saturating_add(512));
    serde_json::to_writer(&mut out, value).map_err(|e| IngestError::Unavailable {
        detail: format!("could not serialise normalised payload: {e}"),
    })?;
    Ok(out)
}

/// Turns a whole envelope into an [`IngestBatch`] for `project_id`, with
/// the full grouping of its error event.
pub fn prepare(
    envelope: &Envelope,
    project_id: i64,
    ctx: &RequestContext,
    codec: &PayloadCodec,
) -> Result<Prepared, IngestError> {
    prepare_with(envelope, project_id, ctx, codec, None, None)
}

/// [`prepare`], grouping the error event by hashes only when `known` has
/// all of its hashes (see `ingest::group`).
pub fn prepare_with(
    envelope: &Envelope,
    project_id: i64,
    ctx: &RequestContext,
    codec: &PayloadCodec,
    known: Option<&KnownHashes>,
    rules: Option<&FingerprintRules>,
) -> Result<Prepared, IngestError> {
    let compression_level = codec.level;
    // A nil id identifies nothing: such events get ids of their own (in
    // `normalize`) rather than all being "duplicates" of the first.
    let header_id = envelope.headers.event_id.filter(|id| !id.is_nil());
    let header_id_hex = header_id.map(|id| id.simple().to_string());
    let mut records = Vec::new();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut attachments = Vec::new();
    let mut event_id = header_id;
    let mut event_slot: Option<usize> = None;
    let mut new_hashes = Vec::new();

    for item in envelope.items() {
        *counts
            .entry(item.headers.ty.as_str().to_owned())
            .or_default() += 1;
        let payload = item.payload.as_raw().unwrap_or(&[]);
        let raw = |error: Option<String>| -> Result<Record, IngestError> {
            // A profile's head, for the profiles list; its transaction's
            // id names it when the envelope has none.
            let head = (item.headers.ty == ItemType::Profile)
                .then(|| super::profile_head::head_of(payload))
                .flatten();
            let event_id = header_id_hex.clone().or_else(|| {
                head.as_ref()
                    .and_then(|h| h.transaction_id.as_deref())
                    .and_then(|id| crate::ids::hex_id(id, 32))
            });
            let summary = head.and_then(|h| serde_json::to_string(&h).ok());
            let mut error = error;
            // A continuous profiler's chunk: its session and time span, by
            // which transactions find it; kept with the reason when it
            // has none.
            let mut chunk = None;
            if item.headers.ty == ItemType::ProfileChunk {
                match super::chunk_head::chunk_head_of(payload) {
                    Ok(head) => chunk = Some(ChunkKey::from(head)),
                    Err(reason) => error = error.or(Some(reason)),
                }
            }
            Ok(Record::Raw(RawRecord {
                item_type: item.headers.ty.as_str().to_owned(),
                event_id,
                headers: item_headers_json(item),
                error,
                payload: compress_or_500(payload, compression_level)?,
                summary,
                chunk,
            }))
        };
        // Events and transactions are stored as received and normalised
        // again when read (`as_received`).
        let store_as_received = |bytes: &[u8], kind, id| -> Result<Vec<u8>, IngestError> {
            let (compressed, dict) =
                codec
                    .compress(bytes)
                    .map_err(|e| IngestError::Unavailable {
                        detail: format!("could not compress payload: {e}"),
                    })?;
            Ok(as_received::encode_with_dictionary(
                kind,
                &compressed,
                dict,
                ctx,
                id,
            ))
        };
        match &item.headers.ty {
            ItemType::Event => {
                let mut event = normalize::event_for_ingest(payload, ctx, header_id)?;
                event_id.get_or_insert(event.event_id);
                event_slot = Some(records.len());
                // A project's fingerprint rule replaces the event's
                // fingerprint; such an event is grouped in full (the writer
                // regroups lean events from their stored payload, which
                // keeps the fingerprint the client sent).
                // Ingestion does not read the SDK otherwise.
                if rules.is_some_and(FingerprintRules::reads_sdk) && event.sdk.is_none() {
                    event.sdk = sdk_of(payload);
                }
                let matched = rules.and_then(|r| r.apply(&event));
                let grouping = match (&matched, known) {
                    (Some(rule), _) => {
                        event.fingerprint = rule.fingerprint.clone();
                        group::group_by_rule(&event, rule)
                    }
                    (None, Some(known)) => group::group_for(&event, project_id, known),
                    (None, None) => group::group(&event),
                };
                if !group::is_lean(&grouping) {
                    new_hashes = grouping.hashes.iter().map(|h| h.hash.clone()).collect();
                }
                let stored = store_as_received(payload, as_received::Kind::Event, event.event_id)?;
                records.push(Record::Event(Box::new(event_record_grouped(
                    &event, grouping, stored,
                ))));
            }
            ItemType::Transaction => {
                let tx = normalize::transaction(payload, ctx, header_id)?;
                event_id.get_or_insert(tx.event_id);
                let stored =
                    store_as_received(payload, as_received::Kind::Transaction, tx.event_id)?;
                records.push(Record::Transaction(Box::new(transaction_record(
                    &tx, stored,
                ))));
            }
            ItemType::Feedback => {
                let event = normalize::event(payload, ctx, header_id)?;
                event_id.get_or_insert(event.event_id);
                match feedback_record(&event, compression_level, payload.len())? {
                    Some(record) => records.push(Record::Feedback(record)),
                    None => records.push(raw(Some(
                        "feedback without contexts.feedback.message".to_owned(),
                    ))?),
                }
            }
            ItemType::UserReport => match serde_json::from_slice::<UserReport>(payload) {
                Ok(report) => records.push(Record::Feedback(FeedbackRecord {
                    kind: "user_report",
                    event_id: report.event_id.simple().to_string(),
                    associated_event_id: Some(report.event_id.simple().to_string()),
                    name: Some(report.name.clone()).filter(|s| !s.is_empty()),
                    email: Some(report.email.clone()).filter(|s| !s.is_empty()),
                    message: feedback_message(report.comments.clone()),
                    payload: compress_or_500(payload, compression_level)?,
                })),
                Err(e) => records.push(raw(Some(format!("invalid user_report: {e}")))?),
            },
            ItemType::Attachment => attachments.push(AttachmentRecord {
                event_id: header_id_hex.clone(),
                filename: item
                    .headers
                    .filename
                    .clone()
                    .unwrap_or_else(|| "attachment".to_owned()),
                content_type: item.headers.content_type.clone(),
                attachment_type: item.headers.attachment_type.clone(),
                data: payload.to_vec(),
            }),
            ItemType::Session => {
                match normalize::session(payload, ctx, counts.get("session").map_or(0, |n| n - 1)) {
                    Ok(s) => records.push(Record::Session(s)),
                    Err(SessionDrop::Silently(_)) => {}
                    Err(SessionDrop::Malformed(reason)) => records.push(raw(Some(reason))?),
                }
            }
            ItemType::Sessions => match normalize::aggregates(payload, ctx) {
                Ok(buckets) => records.extend(buckets.into_iter().map(Record::SessionAggregate)),
                Err(SessionDrop::Silently(_)) => {}
                Err(SessionDrop::Malformed(reason)) => records.push(raw(Some(reason))?),
            },
            ItemType::ClientReport => match client_report(payload, ctx) {
                Ok(rows) => records.extend(rows.into_iter().map(Record::ClientReport)),
                Err(reason) => records.push(raw(Some(reason))?),
            },
            ItemType::CheckIn => match super::check_in::read(payload, compression_level) {
                Ok(record) => records.push(Record::CheckIn(record)),
                Err(refused) => {
                    records.push(raw(Some(refused.detail))?);
                    records.push(invalid_check_in(refused.reason, ctx));
                }
            },
            ItemType::Log => records.push(Record::Log(summarised(
                blob(item, payload, compression_level)?,
                payload,
                ctx,
            ))),
            ItemType::TraceMetric => records.push(Record::TraceMetric(summarised(
                blob(item, payload, compression_level)?,
                payload,
                ctx,
            ))),
            ItemType::Span => records.push(Record::SpanItem(SpanItemRecord {
                blob: blob(item, payload, compression_level)?,
                spans: super::streamed_spans::spans_of(payload, ctx),
            })),
            _ => records.push(raw(None)?),
        }
    }

    // An envelope without an `event_id` header gets one, as Relay gives it
    // one (PROTOCOL.md §2.2): the id of its event (or transaction, or
    // feedback) when it has one, else a new one when an item needs an id.
    // Its attachments and other raw items then name it, as they name the
    // header's id, and the answer gives it.
    if header_id.is_none() {
        if event_id.is_none()
            && envelope
                .items()
                .iter()
                .any(|i| needs_event_id(&i.headers.ty))
        {
            event_id = Some(Uuid::new_v4());
        }
        if let Some(id) = event_id {
            let hex = id.simple().to_string();
            for attachment in &mut attachments {
                attachment.event_id.get_or_insert_with(|| hex.clone());
            }
            for record in &mut records {
                if let Record::Raw(raw) = record {
                    raw.event_id.get_or_insert_with(|| hex.clone());
                }
            }
        }
    }

    // Attachments belong to the envelope's event: stored with it (and
    // skipped with it when the event is a duplicate), else on their own.
    match event_slot.and_then(|i| records.get_mut(i)) {
        Some(Record::Event(e)) => e.attachments = attachments,
        _ => records.extend(attachments.into_iter().map(Record::Attachment)),
    }

    Ok(Prepared {
        batch: IngestBatch {
            project_id,
            received: ctx.received.as_secs_f64(),
            records,
            item_counts: counts.into_iter().collect(),
        },
        event_id,
        new_hashes,
    })
}

/// Whether an item of type `ty` belongs to an event and so needs the
/// envelope's `event_id` (PROTOCOL.md §2.2).
fn needs_event_id(ty: &ItemType) -> bool {
    matches!(
        ty,
        ItemType::Event
            | ItemType::Transaction
            | ItemType::Feedback
            | ItemType::Attachment
            | ItemType::UserReport
            | ItemType::Profile
            | ItemType::ReplayEvent
    )
}

fn item_headers_json(item: &EnvelopeItem) -> String {
    let mut map = item.headers.other.clone();
    map.insert("type".to_owned(), Value::from(item.headers.ty.as_str()));
    let fields = [
        ("content_type", &item.headers.content_type),
        ("filename", &item.headers.filename),
        ("attachment_type", &item.headers.attachment_type),
        ("platform", &item.headers.platform),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            map.insert(k.to_owned(), Value::from(v.clone()));
        }
    }
    if let Some(n) = item.headers.item_count {
        map.insert("item_count".to_owned(), Value::from(n));
    }
    if let Some(n) = item.headers.length {
        map.insert("length".to_owned(), Value::from(n));
    }
    Value::Object(map).to_string()
}

fn blob(item: &EnvelopeItem, payload: &[u8], level: i32) -> Result<BlobRecord, IngestError> {
    let headers = &item.headers;
    // A container stores how many entries it holds, whatever its header
    // claims (PROTOCOL.md §2.3 says they must match).
    let count = if super::limits::is_container(&headers.ty, headers.content_type.as_deref()) {
        Some(super::limits::container_len(item))
    } else {
        headers.item_count
    };
    Ok(BlobRecord {
        item_count: count.map(|n| n.min(i64::MAX as u64) as i64),
        content_type: item.headers.content_type.clone(),
        payload: compress_or_500(payload, level)?,
        summary: None,
        clock_shift: None,
    })
}

/// A container's record with what its entries hold, read from the payload
/// it stores (`store::container_entries`), so that lists filtered by time
/// or trace can pass over its row, and the client's clock drift its entry
/// times are read with. The payload stays as sent; the drift is applied
/// where its times are read, as Relay corrects those of log and metric
/// items.
fn summarised(mut record: BlobRecord, payload: &[u8], ctx: &RequestContext) -> BlobRecord {
    let shift = ctx.drift().map(|(d, _)| d);
    record.summary = Some(crate::store::container_entries::summarise(
        payload,
        shift.unwrap_or(0.0),
    ));
    record.clock_shift = shift;
    record
}

/// Gives an envelope that carries a native crash report (an attachment of
/// type `event.minidump` or `event.applecrashreport`) but no event the
/// event Relay makes for it: a fatal, unhandled error of type `Minidump`
/// (or `AppleCrashReport`), so that the crash is an issue, counts against
/// `error` quotas, and its report is listed under it. This receiver does
/// not read the report (Sentry's symbolicator would fill in the stack);
/// such crashes group together by type.
pub fn add_crash_report_event(envelope: &mut Envelope) {
    let has_event = envelope.items().iter().any(|i| {
        matches!(
            i.headers.ty,
            ItemType::Event | ItemType::Transaction | ItemType::Feedback
        )
    });
    if has_event {
        return;
    }
    let Some(kind) =
        envelope
            .items()
            .iter()
            .find_map(|i| match i.headers.attachment_type.as_deref() {
                Some("event.minidump") => Some("Minidump"),
                Some("event.applecrashreport") => Some("AppleCrashReport"),
                _ => None,
            })
    else {
        return;
    };
    let id = *envelope.headers.event_id.get_or_insert_with(Uuid::new_v4);
    let payload = serde_json::json!({
        "event_id": id.simple().to_string(),
        "platform": "native",
        "level": "fatal",
        "exception": {"values": [{
            "type": kind,
            "value": "crash report received (not processed by this receiver)",
            "mechanism": {"type": kind.to_ascii_lowercase(), "handled": false},
        }]},
    });
    envelope.add_item(EnvelopeItem::raw(
        ItemType::Event,
        payload.to_string().into_bytes(),
    ));
}

/// Builds the stored form of an error event: grouping, indexed columns and
/// the compressed normalised JSON.
pub fn event_record(event: &Event, level: i32) -> Result<EventRecord, IngestError> {
    let payload = compress_or_500(&to_json(event, 0)?, level)?;
    Ok(event_record_grouped(event, group::group(event), payload))
}

/// The record of `event`, whose stored form is `payload`.
/// The `sdk` of an event payload, its name only, read on its own
/// (ingestion's parse skips it; the rest of the object, whatever its shape,
/// is not read); `None` when there is no name.
fn sdk_of(payload: &[u8]) -> Option<sentry_core::protocol::ClientSdkInfo> {
    #[derive(serde::Deserialize)]
    struct SdkOnly {
        #[serde(default)]
        sdk: Option<NameOnly>,
    }
    #[derive(serde::Deserialize)]
    struct NameOnly {
        #[serde(default)]
        name: Option<String>,
    }
    let name = serde_json::from_slice::<SdkOnly>(payload).ok()?.sdk?.name?;
    Some(sentry_core::protocol::ClientSdkInfo {
        name: name.into(),
        ..Default::default()
    })
}

fn event_record_grouped(event: &Event, grouping: Grouping, payload: Vec<u8>) -> EventRecord {
    // As Relay infers the type (PROTOCOL.md §5.1): exceptions, or a thread
    // that crashed. A message with `attach_stacktrace` has its stack in
    // the current thread, which did not crash: it stays `default`.
    let is_error = !event.exception.is_empty()
        || event
            .threads
            .values
            .iter()
            .any(|t| t.crashed && t.stacktrace.is_some());
    let trace_id = match event.contexts.get("trace") {
        Some(Context::Trace(t)) => Some(t.trace_id.to_string()),
        _ => None,
    };
    EventRecord {
        event_id: event.event_id.simple().to_string(),
        kind: if is_error { "error" } else { "default" }.to_owned(),
        timestamp: event.timestamp.as_secs_f64(),
        release: event.release.clone(),
        environment: event.environment.clone(),
        level: event.level.as_str().to_owned(),
        title: grouping.title.clone(),
        platform: Some(event.platform.clone()),
        trace_id,
        user_key: user_key(event),
        payload,
        grouping,
        attachments: Vec::new(),
    }
}

fn user_key(event: &Event) -> Option<String> {
    let user = event.user.as_ref()?;
    let pick = |prefix: &str, v: &Option<String>| {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| format!("{prefix}:{s}"))
    };
    pick("id", &user.id)
        .or_else(|| pick("email", &user.email))
        .or_else(|| pick("username", &user.username))
        .or_else(|| pick("ip", &user.ip_address))
}

/// The record of `tx`, whose stored form is `payload`.
fn transaction_record(
    tx: &sentry_core::protocol::Transaction,
    payload: Vec<u8>,
) -> TransactionRecord {
    let trace = match tx.contexts.get("trace") {
        Some(Context::Trace(t)) => Some(t),
        _ => None,
    };
    let trace_id = trace.map(|t| t.trace_id.to_string());
    let spans = tx
        .spans
        .iter()
        .map(|s| SpanRecord {
            trace_id: if s.trace_id.is_nil() {
                trace_id.clone().unwrap_or_else(|| s.trace_id.to_string())
            } else {
                s.trace_id.to_string()
            },
            span_id: s.span_id.to_string(),
            parent_span_id: s.parent_span_id.map(|p| p.to_string()),
            op: s.op.as_deref().map(str::to_owned),
            description: s.description.as_deref().map(str::to_owned),
            status: s.status.map(|st| st.as_str().to_owned()),
            start: s.start_timestamp.as_secs_f64(),
            end: s.timestamp.map(Timestamp::as_secs_f64),
        })
        .collect();
    let end = tx.timestamp.unwrap_or(tx.start_timestamp);
    TransactionRecord {
        event_id: tx.event_id.simple().to_string(),
        trace_id,
        span_id: trace.map(|t| t.span_id.to_string()),
        parent_span_id: trace.and_then(|t| t.parent_span_id.map(|p| p.to_string())),
        name: tx.name.as_deref().map(str::to_owned),
        op: trace.and_then(|t| t.op.as_deref().map(str::to_owned)),
        // As Relay normalises a transaction's trace context: a status the
        // SDK left out is `unknown` (the Python SDK leaves it out of a
        // transaction that finished without an error).
        status: trace.map(|t| t.status.map_or("unknown", |s| s.as_str()).to_owned()),
        start: tx.start_timestamp.as_secs_f64(),
        end: end.as_secs_f64(),
        release: tx.release.as_deref().map(str::to_owned),
        environment: tx.environment.as_deref().map(str::to_owned),
        payload,
        spans,
    }
}

fn feedback_record(
    event: &Event,
    level: i32,
    size_hint: usize,
) -> Result<Option<FeedbackRecord>, IngestError> {
    let Some(Context::Other(fb)) = event.contexts.get("feedback") else {
        return Ok(None);
    };
    let text = |k: &str| fb.get(k).and_then(Value::as_str).map(str::to_owned);
    let Some(message) = text("message").map(feedback_message) else {
        return Ok(None);
    };
    let json = to_json(event, size_hint)?;
    Ok(Some(FeedbackRecord {
        kind: "feedback",
        event_id: event.event_id.simple().to_string(),
        // Stored as events' ids are (32 lowercase hex), so that it joins
        // with its event whatever UUID form the SDK wrote; one that is no
        // UUID names no event (the payload keeps it).
        associated_event_id: text("associated_event_id")
            .and_then(|id| Uuid::parse_str(id.trim()).ok())
            .filter(|id| !id.is_nil())
            .map(|id| id.simple().to_string()),
        name: text("name"),
        email: text("contact_email"),
        message,
        payload: compress_or_500(&json, level)?,
    }))
}

/// A feedback message or user report's comments, cut (with an ellipsis)
/// to the 4096 characters PROTOCOL.md A.3 allows. The stored payload keeps
/// what was sent.
fn feedback_message(mut message: String) -> String {
    super::trim::truncate(&mut message, 4096);
    message
}

/// The longest discard reason a client report entry is counted with.
const MAX_OUTCOME_REASON_CHARS: usize = 200;

fn client_report(payload: &[u8], ctx: &RequestContext) -> Result<Vec<ClientReportRecord>, String> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| format!("invalid client_report JSON: {e}"))?;
    let timestamp = match value.get("timestamp") {
        None | Some(Value::Null) => ctx.received,
        Some(t) => serde_json::from_value::<Timestamp>(t.clone())
            .map_err(|e| format!("invalid client_report timestamp: {e}"))?,
    };
    // As Relay: corrected for the device's clock drift, and a report dated
    // in the future or older than what is kept is not counted (it is kept
    // raw, with the reason).
    let timestamp = timestamp.shifted(ctx.drift().map_or(0.0, |(d, _)| d));
    let received = ctx.received.as_secs_f64();
    if timestamp.as_secs_f64() > received + normalize::MAX_SECS_IN_FUTURE
        || timestamp.as_secs_f64() < received - normalize::MAX_SECS_IN_PAST
    {
        return Err(format!(
            "client_report timestamp {} is outside the accepted window (at most {} s ahead, \
             {} days back)",
            timestamp.to_rfc3339(),
            normalize::MAX_SECS_IN_FUTURE,
            normalize::MAX_SECS_IN_PAST / 86_400.0
        ));
    }
    let mut rows = Vec::new();
    let lists = [
        ("discarded_events", "discarded"),
        ("rate_limited_events", "rate_limited"),
        ("filtered_events", "filtered"),
        ("filtered_sampling_events", "filtered_sampling"),
    ];
    for (key, outcome) in lists {
        let Some(list) = value.get(key) else { continue };
        let list = list
            .as_array()
            .ok_or_else(|| format!("client_report `{key}` is not a list"))?;
        for entry in list {
            let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_owned);
            let (Some(reason), Some(category), Some(quantity)) = (
                text("reason"),
                text("category"),
                entry.get("quantity").and_then(Value::as_u64),
            ) else {
                return Err(format!("invalid client_report entry in `{key}`: {entry}"));
            };
            // Relay skips an outcome whose reason is over 200 characters.
            if reason.chars().count() > MAX_OUTCOME_REASON_CHARS {
                continue;
            }
            rows.push(ClientReportRecord {
                timestamp: timestamp.as_secs_f64(),
                outcome: outcome.to_owned(),
                reason,
                category,
                // Sums over many rows stay far from overflowing (a terabyte
                // of attachments, or 10^12 events, in one entry).
                quantity: quantity.min(MAX_REPORT_QUANTITY) as i64,
            });
        }
    }
    Ok(rows)
}

/// The most one client-report entry counts.
const MAX_REPORT_QUANTITY: u64 = 1 << 40;

/// The outcome of a check-in refused for `reason` (`ingest::check_in`):
/// `invalid`, category `monitor`, as Relay and Sentry count it.
fn invalid_check_in(reason: &str, ctx: &RequestContext) -> Record {
    Record::ClientReport(ClientReportRecord {
        timestamp: ctx.received.as_secs_f64(),
        outcome: "invalid".to_owned(),
        reason: reason.to_owned(),
        category: "monitor".to_owned(),
        quantity: 1,
    })
}
