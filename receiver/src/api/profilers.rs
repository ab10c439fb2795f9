//! Continuous profiling: the chunks (`profile_chunk` items) a profiler
//! sends while it runs, each about a minute of every thread's samples
//! (sample format version 2, Unix timestamps), under one `profiler_id` per
//! session. Chunks are kept in `raw_items` and placed in `profile_chunks`
//! when they arrive (`ingest::chunk_head`).
//!
//! * `GET /api/0/local/profilers/`: sessions, the one that sampled last
//!   first, with their time span, chunk and sample counts (`project`
//!   filters, `limit` 1–100, default 25; `cursor` goes on to earlier ones).
//! * `GET /api/0/local/profilers/{profiler_id}/`: where one thread's time
//!   went over the session (`thread` picks it; default: the thread with the
//!   most samples, a main thread on a tie). The id may be its first 8 or
//!   more digits. A long session is summarised from its latest chunks
//!   that fit in [`MAX_BYTES_READ`] (`chunksRead` says how many).
//! * A transaction sampled by a continuous profiler (Python's
//!   `profile_lifecycle="trace"`: no `profile` item, the transaction names
//!   the profiler in `contexts.profile.profiler_id` and its thread in
//!   `contexts.trace.data["thread.id"]`) is summarised by
//!   `GET /api/0/local/profiles/{transaction_id}/` from the chunks of that
//!   profiler that overlap it, keeping its thread's samples between its
//!   start and end ([`for_transaction`]), as Sentry's flame graph of a
//!   transaction does.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::events::decode_payload;
use super::params::iso;
use super::profile_summary::{summarise_samples, Samples};
use super::types::{ProfileDetail, ProfileRow, ProfilerDetail, ProfilerRow, ProfilersPage};
use super::{projects, ApiError, Ctx, Reply};
use crate::ingest::chunk_head::ChunkHead;

/// Most bytes of chunks (decompressed) one summary reads.
pub const MAX_BYTES_READ: usize = 64 * 1024 * 1024;

/// `GET /api/0/local/profilers/`.
pub(crate) async fn list(ctx: &Ctx) -> Result<Reply, ApiError> {
    let limit = ctx.query.limit(25, 100)?;
    let before = match ctx.query.get_nonempty("cursor") {
        Some(c) => Some(
            c.parse::<f64>()
                .ok()
                .filter(|t| t.is_finite())
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "invalid cursor {c:?}: expected the time a page's last session ended"
                    ))
                })?,
        ),
        None => None,
    };
    let wanted = ctx.query.values("project");
    let page = ctx
        .read(move |c| {
            let projects = projects::filter_ids(c, &wanted)?;
            let mut sql = String::from(
                "SELECT project_id, profiler_id, MAX(end_ts) AS last
                 FROM profile_chunks",
            );
            if let Some(ids) = &projects {
                let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                sql.push_str(&format!(" WHERE project_id IN ({})", list.join(",")));
            }
            sql.push_str(" GROUP BY project_id, profiler_id HAVING last < ?1");
            sql.push_str(" ORDER BY last DESC, profiler_id LIMIT ?2");
            let sessions: Vec<(i64, String, f64)> = c
                .prepare(&sql)?
                .query_map(params![before.unwrap_or(f64::INFINITY), limit + 1], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<Result<_, _>>()?;
            let more = sessions.len() as i64 > limit;
            let mut profilers = Vec::new();
            let mut cursor = None;
            for (project_id, profiler_id, last) in sessions.into_iter().take(limit as usize) {
                profilers.push(session(c, project_id, &profiler_id)?.0);
                cursor = Some(last);
            }
            Ok(ProfilersPage {
                profilers,
                cursor: if more {
                    cursor.map(|t| t.to_string())
                } else {
                    None
                },
            })
        })
        .await?;
    Reply::json(&page)
}

/// A stored chunk: its kept item and time span.
struct Chunk {
    item_id: i64,
    start: f64,
    end: f64,
}

/// What the list shows of session `profiler_id` of a project, and its
/// chunks in time order.
fn session(
    c: &Connection,
    project_id: i64,
    profiler_id: &str,
) -> Result<(ProfilerRow, Vec<Chunk>), ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT pc.item_id, pc.start_ts, pc.end_ts, ri.summary
         FROM profile_chunks pc JOIN raw_items ri ON ri.id = pc.item_id
         WHERE pc.profiler_id = ?1 AND pc.project_id = ?2
         ORDER BY pc.start_ts, pc.item_id",
    )?;
    let mut rows = stmt.query(params![profiler_id, project_id])?;
    let mut chunks = Vec::new();
    let mut samples = 0;
    let mut latest: Option<ChunkHead> = None;
    while let Some(r) = rows.next()? {
        chunks.push(Chunk {
            item_id: r.get(0)?,
            start: r.get(1)?,
            end: r.get(2)?,
        });
        if let Some(head) = r
            .get::<_, Option<String>>(3)?
            .and_then(|text| serde_json::from_str::<ChunkHead>(&text).ok())
        {
            samples += head.samples;
            latest = Some(head);
        }
    }
    let start = chunks.iter().map(|c| c.start).fold(f64::INFINITY, f64::min);
    let end = chunks
        .iter()
        .map(|c| c.end)
        .fold(f64::NEG_INFINITY, f64::max);
    let latest = latest.unwrap_or_default();
    let row = ProfilerRow {
        profiler_id: profiler_id.to_owned(),
        project_id: project_id.to_string(),
        platform: latest.platform,
        release: latest.release,
        environment: latest.environment,
        start: iso(if start.is_finite() { start } else { 0.0 }),
        end: iso(if end.is_finite() { end } else { 0.0 }),
        chunks: chunks.len(),
        samples,
    };
    Ok((row, chunks))
}

/// `GET /api/0/local/profilers/{profiler_id}/`.
pub(crate) async fn detail(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let prefix = super::id_prefix::parse(id, "profiler")?;
    let thread = ctx.query.get_nonempty("thread").map(str::to_owned);
    let detail = ctx
        .read(move |c| {
            let profiler_id = super::id_prefix::resolve(
                c,
                &prefix,
                "profiler",
                &["SELECT DISTINCT profiler_id FROM profile_chunks
                   WHERE profiler_id >= ?1 AND profiler_id < ?2 LIMIT 4"],
                &[],
            )?;
            let project_id: i64 = c
                .prepare_cached(
                    "SELECT project_id FROM profile_chunks WHERE profiler_id = ?1
                     ORDER BY end_ts DESC LIMIT 1",
                )?
                .query_row([&profiler_id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| ApiError::not_found(format!("profiler {profiler_id}")))?;
            let (row, chunks) = session(c, project_id, &profiler_id)?;
            let origin = chunks.first().map_or(0.0, |c| c.start);
            // The latest chunks that fit in the budget, in time order.
            let mut parts = Vec::new();
            let mut read = 0;
            for chunk in chunks.iter().rev() {
                if read >= MAX_BYTES_READ && !parts.is_empty() {
                    break;
                }
                let (samples, size) = chunk_samples(c, chunk.item_id, origin)?;
                read += size;
                parts.extend(samples);
            }
            parts.reverse();
            let chunks_read = parts.len();
            let summary = summarise_samples(&parts, thread.as_deref(), None, None);
            if let Some(t) = &thread {
                if !summary.threads.iter().any(|x| &x.id == t) {
                    return Err(ApiError::not_found(format!("thread {t} of that profiler")));
                }
            }
            Ok(ProfilerDetail {
                profiler: row,
                chunks_read,
                threads: summary.threads,
                thread_id: summary.thread_id,
                sampled_ms: summary.sampled_ms,
                functions: summary.functions,
            })
        })
        .await?;
    Reply::json(&detail)
}

/// The samples of kept chunk `item_id` (times in nanoseconds after
/// `origin`, a Unix time) and its decompressed size; none when it cannot
/// be read.
fn chunk_samples(
    c: &Connection,
    item_id: i64,
    origin: f64,
) -> Result<(Option<Samples>, usize), ApiError> {
    let blob: Option<Vec<u8>> = c
        .prepare_cached("SELECT payload FROM raw_items WHERE id = ?1")?
        .query_row([item_id], |r| r.get(0))
        .optional()?;
    let Some(bytes) = blob.and_then(|b| crate::store::decompress(&b).ok()) else {
        return Ok((None, 0));
    };
    let payload: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((Samples::of_chunk(&payload, origin), bytes.len()))
}

/// What [`for_transaction`] reads of a transaction.
struct TransactionRow {
    project_id: i64,
    start: f64,
    end: f64,
    received: f64,
    name: Option<String>,
    trace_id: Option<String>,
    release: Option<String>,
    environment: Option<String>,
    payload: Vec<u8>,
}

/// The profile of transaction `event_id` from its continuous profiler's
/// chunks, its thread's samples between its start and end; `None` when no
/// transaction has that id. A transaction without a profiler, or whose
/// profiler sent no chunk covering it, is a 404 that says so.
pub(crate) fn for_transaction(
    c: &Connection,
    event_id: &str,
    thread: Option<&str>,
) -> Result<Option<ProfileDetail>, ApiError> {
    let row = c
        .prepare_cached(
            "SELECT project_id, start_ts, end_ts, received, name, trace_id, release,
                 environment, payload
             FROM transactions
             WHERE project_id IN (SELECT id FROM projects) AND event_id = ?1
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row([event_id], |r| {
            Ok(TransactionRow {
                project_id: r.get(0)?,
                start: r.get(1)?,
                end: r.get(2)?,
                received: r.get(3)?,
                name: r.get(4)?,
                trace_id: r.get(5)?,
                release: r.get(6)?,
                environment: r.get(7)?,
                payload: r.get(8)?,
            })
        })
        .optional()?;
    let Some(TransactionRow {
        project_id,
        start,
        end,
        received,
        name,
        trace_id,
        release,
        environment,
        payload: blob,
    }) = row
    else {
        return Ok(None);
    };
    let (payload, _) = decode_payload(&blob);
    let text = |pointer: &str| {
        payload
            .pointer(pointer)
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty())
    };
    let profiler_id = text("/contexts/profile/profiler_id")
        .or_else(|| text("/contexts/trace/data/profiler_id"))
        .and_then(|id| crate::ids::hex_id(&id, 32))
        .ok_or_else(|| ApiError::not_found(format!("profile of transaction {event_id}")))?;
    let active_thread = text("/contexts/trace/data/thread.id");
    let chunks: Vec<i64> = c
        .prepare_cached(
            "SELECT item_id FROM profile_chunks
             WHERE profiler_id = ?1 AND project_id = ?2 AND start_ts <= ?4 AND end_ts >= ?3
             ORDER BY start_ts, item_id",
        )?
        .query_map(params![profiler_id, project_id, start, end], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if chunks.is_empty() {
        return Err(ApiError::not_found(format!(
            "profile chunk of profiler {profiler_id} covering transaction {event_id} (the \
             profiler sends one about every minute and when it stops)"
        )));
    }
    let mut parts = Vec::new();
    let mut read = 0;
    for item_id in chunks {
        if read >= MAX_BYTES_READ {
            break;
        }
        let (samples, size) = chunk_samples(c, item_id, start)?;
        read += size;
        parts.extend(samples);
    }
    let window = (0.0, (end - start).max(0.0) * 1e9);
    let summary = summarise_samples(&parts, thread, active_thread, Some(window));
    if let Some(t) = thread {
        if !summary.threads.iter().any(|x| x.id == t) {
            return Err(ApiError::not_found(format!("thread {t} of that profile")));
        }
    }
    let platform = payload
        .get("platform")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Some(ProfileDetail {
        profile: ProfileRow {
            transaction_id: event_id.to_owned(),
            profile_id: None,
            project_id: project_id.to_string(),
            transaction: name,
            trace_id,
            platform,
            release,
            environment,
            received: iso(received),
            duration_ms: Some((((end - start) * 1e6).round() / 1e3).max(0.0)),
            samples: summary.threads.iter().map(|t| t.samples).sum(),
            profiler_id: Some(profiler_id),
        },
        threads: summary.threads,
        thread_id: summary.thread_id,
        sampled_ms: summary.sampled_ms,
        functions: summary.functions,
    }))
}
