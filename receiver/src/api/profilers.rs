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
//!   that fit in [`MAX_BYTES_READ`] (`chunksRead` says how many). `start`
//!   and `end` (ISO 8601 or Unix seconds) keep the samples between them:
//!   what a streamed segment (Node's default) needs, whose root span names
//!   the profiler (`sentry.profiler_id`) and no transaction exists.
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
use super::profile_summary::{summarise_samples, Samples, Summary};
use super::types::{ProfileDetail, ProfileRow, ProfilerDetail, ProfilerRow, ProfilersPage};
use super::{projects, ApiError, Ctx, Reply};
use crate::ingest::chunk_head::MAX_CHUNK_SECS;

/// Most bytes of chunks (decompressed) one summary reads.
pub const MAX_BYTES_READ: usize = 64 * 1024 * 1024;

/// `GET /api/0/local/profilers/`.
pub(crate) async fn list(ctx: &Ctx) -> Result<Reply, ApiError> {
    let limit = ctx.query.limit(25, 100)?;
    let after = ctx
        .query
        .get_nonempty("cursor")
        .map(ListCursor::parse)
        .transpose()?;
    let wanted = ctx.query.values("project");
    let page = ctx
        .read(move |c| {
            let projects = projects::filter_ids(c, &wanted)?;
            // One entry of the session index per chunk, no table row: the
            // sessions, then only those of the page are read.
            let mut sql = String::from(
                "SELECT project_id, profiler_id, MAX(end_ts) AS last
                 FROM profile_chunks INDEXED BY profile_chunks_session",
            );
            if let Some(ids) = &projects {
                let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                sql.push_str(&format!(" WHERE project_id IN ({})", list.join(",")));
            }
            sql.push_str(
                " GROUP BY project_id, profiler_id
                  HAVING ?1 IS NULL OR last < ?1
                      OR (last = ?1 AND (project_id, profiler_id) > (?2, ?3))
                  ORDER BY last DESC, project_id, profiler_id LIMIT ?4",
            );
            let (at, project, profiler) = match &after {
                Some(a) => (Some(a.last), a.project_id, a.profiler_id.as_str()),
                None => (None, 0, ""),
            };
            let sessions: Vec<(i64, String, f64)> = c
                .prepare(&sql)?
                .query_map(params![at, project, profiler, limit + 1], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<Result<_, _>>()?;
            let more = sessions.len() as i64 > limit;
            let mut profilers = Vec::new();
            let mut cursor = None;
            for (project_id, profiler_id, last) in sessions.into_iter().take(limit as usize) {
                profilers.push(session(c, project_id, &profiler_id)?);
                cursor = Some(format!("{last}:{project_id}:{profiler_id}"));
            }
            Ok(ProfilersPage {
                profilers,
                cursor: if more { cursor } else { None },
            })
        })
        .await?;
    Reply::json(&page)
}

/// Where a page of sessions ends: the last one's last sample time, project
/// and id (sessions that ended at the same time are told apart).
struct ListCursor {
    last: f64,
    project_id: i64,
    profiler_id: String,
}

impl ListCursor {
    fn parse(text: &str) -> Result<ListCursor, ApiError> {
        let mut parts = text.splitn(3, ':');
        let (Some(last), Some(project), Some(profiler)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad_cursor(text));
        };
        Ok(ListCursor {
            last: last
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite())
                .ok_or_else(|| bad_cursor(text))?,
            project_id: project.parse().map_err(|_| bad_cursor(text))?,
            profiler_id: profiler.to_owned(),
        })
    }
}

fn bad_cursor(text: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "invalid cursor {text:?}: pass the `cursor` of the previous page"
    ))
}

/// What the list shows of session `profiler_id` of a project (read through
/// the session index: totals, then the latest chunk's details).
fn session(c: &Connection, project_id: i64, profiler_id: &str) -> Result<ProfilerRow, ApiError> {
    let (chunks, samples, start, end): (i64, i64, Option<f64>, Option<f64>) = c
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(samples), 0), MIN(start_ts), MAX(end_ts)
             FROM profile_chunks INDEXED BY profile_chunks_session
             WHERE project_id = ?1 AND profiler_id = ?2",
        )?
        .query_row(params![project_id, profiler_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    let latest: Option<(Option<String>, Option<String>, Option<String>)> = c
        .prepare_cached(
            "SELECT platform, release, environment
             FROM profile_chunks INDEXED BY profile_chunks_session
             WHERE project_id = ?1 AND profiler_id = ?2 ORDER BY end_ts DESC LIMIT 1",
        )?
        .query_row(params![project_id, profiler_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let (platform, release, environment) = latest.unwrap_or_default();
    Ok(ProfilerRow {
        profiler_id: profiler_id.to_owned(),
        project_id: project_id.to_string(),
        platform,
        release,
        environment,
        start: iso(start.unwrap_or(0.0)),
        end: iso(end.unwrap_or(0.0)),
        chunks: chunks as usize,
        samples: samples as usize,
    })
}

/// `GET /api/0/local/profilers/{profiler_id}/`.
pub(crate) async fn detail(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let prefix = super::id_prefix::parse(id, "profiler")?;
    let thread = ctx.query.get_nonempty("thread").map(str::to_owned);
    let time = |key: &str| {
        ctx.query
            .get_nonempty(key)
            .map(|t| super::params::parse_time(key, t))
            .transpose()
    };
    let (from, to) = (time("start")?, time("end")?);
    let window = match (from, to) {
        (None, None) => None,
        (from, to) => {
            let (from, to) = (
                from.unwrap_or(f64::NEG_INFINITY),
                to.unwrap_or(f64::INFINITY),
            );
            if from > to {
                return Err(ApiError::BadRequest(
                    "start must not be after end".to_owned(),
                ));
            }
            Some((from, to))
        }
    };
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
            let row = session(c, project_id, &profiler_id)?;
            if let Some((from, to)) = window {
                // A window (a streamed segment's time): the chunks that
                // overlap it, its samples only.
                let from = if from.is_finite() { from } else { 0.0 };
                let to = if to.is_finite() { to } else { 4.1e9 };
                let chunks = chunks_between(c, project_id, &profiler_id, from, to)?;
                let parts = read_chunks(c, &chunks, from)?;
                let summary = summarise_samples(
                    &parts,
                    thread.as_deref(),
                    None,
                    Some((0.0, (to - from) * 1e9)),
                );
                return detail_of(
                    row,
                    parts.len(),
                    summary,
                    thread.as_deref(),
                    Some((from, to)),
                );
            }
            // The latest chunks that fit in the budget, in time order.
            let latest: Vec<(i64, f64)> = c
                .prepare_cached(
                    "SELECT item_id, start_ts FROM profile_chunks INDEXED BY profile_chunks_session
                     WHERE project_id = ?1 AND profiler_id = ?2 ORDER BY end_ts DESC",
                )?
                .query_map(params![project_id, profiler_id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<_, _>>()?;
            let origin = latest.first().map_or(0.0, |(_, start)| *start);
            let mut parts = Vec::new();
            let mut read = 0;
            for (item_id, _) in &latest {
                if read >= MAX_BYTES_READ && !parts.is_empty() {
                    break;
                }
                let (samples, size) = chunk_samples(c, *item_id, origin)?;
                read += size;
                parts.extend(samples);
            }
            parts.reverse();
            let summary = summarise_samples(&parts, thread.as_deref(), None, None);
            detail_of(row, parts.len(), summary, thread.as_deref(), None)
        })
        .await?;
    Reply::json(&detail)
}

/// A session's answer: its row, what was read and summarised (a 404 when
/// the asked thread has no samples there).
fn detail_of(
    profiler: ProfilerRow,
    chunks_read: usize,
    summary: Summary,
    thread: Option<&str>,
    window: Option<(f64, f64)>,
) -> Result<ProfilerDetail, ApiError> {
    if let Some(t) = thread {
        if !summary.threads.iter().any(|x| x.id == t) {
            return Err(ApiError::not_found(format!("thread {t} of that profiler")));
        }
    }
    Ok(ProfilerDetail {
        profiler,
        chunks_read,
        window_start: window.map(|(from, _)| iso(from)),
        window_end: window.map(|(_, to)| iso(to)),
        threads: summary.threads,
        thread_id: summary.thread_id,
        sampled_ms: summary.sampled_ms,
        functions: summary.functions,
    })
}

/// A stored transaction's start and end as its SDK sent them, on the
/// client's clock as its chunks' are: a client whose clock is over 55
/// minutes off gets its transactions' stored times corrected (by
/// `sent_at`), never its chunks' (Python sends them without `sent_at`).
/// `stored` when the sent ones cannot be read or make no sense beside
/// them (a duration that differs).
pub(crate) fn sent_times(blob: &[u8], stored: (f64, f64)) -> (f64, f64) {
    let Ok(bytes) = crate::store::decompress_as_sent(blob) else {
        return stored;
    };
    #[derive(serde::Deserialize)]
    struct Times {
        #[serde(default)]
        start_timestamp: Option<Value>,
        #[serde(default)]
        timestamp: Option<Value>,
    }
    let Ok(times) = serde_json::from_slice::<Times>(&bytes) else {
        return stored;
    };
    let secs = |v: Option<Value>| match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => sentry_core::protocol::Timestamp::parse_rfc3339(&s)
            .map(sentry_core::protocol::Timestamp::as_secs_f64),
        _ => None,
    };
    match (secs(times.start_timestamp), secs(times.timestamp)) {
        (Some(s), Some(e)) if e >= s && ((e - s) - (stored.1 - stored.0)).abs() < 1.0 => (s, e),
        _ => stored,
    }
}

/// Whether chunks of profiler `profiler_id` of a project overlap
/// `start..=end` (Unix seconds): whether something it sampled then has a
/// profile.
pub(crate) fn covers(
    c: &Connection,
    project_id: i64,
    profiler_id: &str,
    start: f64,
    end: f64,
) -> Result<bool, ApiError> {
    Ok(c.prepare_cached(
        "SELECT 1 FROM profile_chunks INDEXED BY profile_chunks_profiler
             WHERE profiler_id = ?1 AND start_ts BETWEEN ?3 - ?5 AND ?4
                 AND end_ts >= ?3 AND project_id = ?2 LIMIT 1",
    )?
    .exists(params![profiler_id, project_id, start, end, MAX_CHUNK_SECS])?)
}

/// The chunks of a profiler session that overlap `start..=end` (Unix
/// seconds), in time order. A chunk spans at most [`MAX_CHUNK_SECS`]:
/// those overlapping start no earlier than that before `start`, one range
/// of the index.
fn chunks_between(
    c: &Connection,
    project_id: i64,
    profiler_id: &str,
    start: f64,
    end: f64,
) -> Result<Vec<i64>, ApiError> {
    Ok(c.prepare_cached(
        "SELECT item_id FROM profile_chunks INDEXED BY profile_chunks_profiler
             WHERE profiler_id = ?1 AND start_ts BETWEEN ?3 - ?5 AND ?4
                 AND end_ts >= ?3 AND project_id = ?2
             ORDER BY start_ts, item_id",
    )?
    .query_map(
        params![profiler_id, project_id, start, end, MAX_CHUNK_SECS],
        |r| r.get(0),
    )?
    .collect::<Result<_, _>>()?)
}

/// The samples of `chunks` (times in nanoseconds after `origin`), in
/// order, until [`MAX_BYTES_READ`] of them are read.
fn read_chunks(c: &Connection, chunks: &[i64], origin: f64) -> Result<Vec<Samples>, ApiError> {
    let mut parts = Vec::new();
    let mut read = 0;
    for item_id in chunks {
        if read >= MAX_BYTES_READ {
            break;
        }
        let (samples, size) = chunk_samples(c, *item_id, origin)?;
        read += size;
        parts.extend(samples);
    }
    Ok(parts)
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
    Ok((Samples::of_chunk(&bytes, origin), bytes.len()))
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
    let (start, end) = sent_times(&blob, (start, end));
    let chunks = chunks_between(c, project_id, &profiler_id, start, end)?;
    if chunks.is_empty() {
        return Err(ApiError::not_found(format!(
            "profile chunk of profiler {profiler_id} covering transaction {event_id} (the \
             profiler sends one about every minute and when it stops)"
        )));
    }
    let parts = read_chunks(c, &chunks, start)?;
    let parts_read = parts.len();
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
        chunks: Some(chunks.len()),
        chunks_read: Some(parts_read),
    }))
}
