//! Sampled profiles (`profile` items, kept whole in `raw_items`):
//!
//! * `GET /api/0/local/profiles/`: the latest received first, each with
//!   the transaction it profiles (`project` filters, `limit` 1–100,
//!   default 25; the answer's `cursor` goes on to older ones), named by
//!   the head read when each arrived (`ingest::profile_head`). Profiles
//!   stored before that are read whole: a page stops early once it has
//!   read [`MAX_BYTES_READ`] of them, its cursor going on from there.
//! * `GET /api/0/local/profiles/{transaction_id}/`: where one thread's
//!   time went, per function (`api::profile_summary`); `thread` picks the
//!   thread (default: the transaction's). The id is the profiled
//!   transaction's event id, or its first 8 or more digits. A transaction
//!   sampled by a continuous profiler has no `profile` item: its profile
//!   comes from the profiler's chunks (`api::profilers::for_transaction`).
//!
//! Continuous profilers' sessions are listed by `api::profilers`; this
//! list shows `profile` items only.

use rusqlite::{params, Connection, OptionalExtension};

use super::params::iso;
use super::profile_summary::summarise;
use super::types::{ProfileDetail, ProfileRow, ProfilesPage};
use super::{projects, ApiError, Ctx, Reply};
use crate::ingest::profile_head::{head_of, ProfileHead};

/// Most bytes of profiles (decompressed) one list request reads.
pub const MAX_BYTES_READ: usize = 64 * 1024 * 1024;

/// `GET /api/0/local/profiles/`.
pub(crate) async fn list(ctx: &Ctx) -> Result<Reply, ApiError> {
    let limit = ctx.query.limit(25, 100)?;
    let cursor = match ctx.query.get_nonempty("cursor") {
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            ApiError::BadRequest(format!("invalid cursor {c:?}: expected a row id"))
        })?),
        None => None,
    };
    let wanted = ctx.query.values("project");
    let page = ctx
        .read(move |c| {
            let projects = projects::filter_ids(c, &wanted)?;
            read_page(c, projects.as_deref(), cursor, limit)
        })
        .await?;
    Reply::json(&page)
}

fn read_page(
    c: &Connection,
    projects: Option<&[i64]>,
    before: Option<i64>,
    limit: i64,
) -> Result<ProfilesPage, ApiError> {
    let mut sql = String::from(
        "SELECT id, project_id, event_id, received, summary,
             CASE WHEN summary IS NULL THEN payload END
         FROM raw_items INDEXED BY raw_items_type_id
         WHERE item_type = 'profile' AND id < ?1",
    );
    if let Some(ids) = projects {
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        sql.push_str(&format!(" AND project_id IN ({})", list.join(",")));
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?2");
    let mut stmt = c.prepare(&sql)?;
    let mut rows = stmt.query(params![before.unwrap_or(i64::MAX), limit + 1])?;
    let mut profiles = Vec::new();
    let mut read = 0;
    let mut last_id = None;
    let mut more = false;
    while let Some(r) = rows.next()? {
        if profiles.len() as i64 == limit || (read >= MAX_BYTES_READ && !profiles.is_empty()) {
            more = true;
            break;
        }
        let id: i64 = r.get(0)?;
        let head = r
            .get::<_, Option<String>>(4)?
            .and_then(|text| serde_json::from_str::<ProfileHead>(&text).ok());
        let row = match head {
            Some(head) => row_of_head(r.get(1)?, r.get(2)?, r.get(3)?, head),
            // Stored before migration 49: read whole.
            None => {
                let blob: Vec<u8> = r.get::<_, Option<Vec<u8>>>(5)?.unwrap_or_default();
                let bytes = crate::store::decompress(&blob).unwrap_or_default();
                read += bytes.len();
                let head = head_of(&bytes).unwrap_or_default();
                row_of_head(r.get(1)?, r.get(2)?, r.get(3)?, head)
            }
        };
        profiles.push(row);
        last_id = Some(id);
    }
    Ok(ProfilesPage {
        profiles,
        cursor: if more {
            last_id.map(|id| id.to_string())
        } else {
            None
        },
    })
}

/// What the list shows of a profile, from its head.
fn row_of_head(
    project_id: i64,
    event_id: Option<String>,
    received: f64,
    head: ProfileHead,
) -> ProfileRow {
    ProfileRow {
        transaction_id: event_id.or(head.transaction_id).unwrap_or_default(),
        profile_id: head.profile_id,
        project_id: project_id.to_string(),
        transaction: head.transaction,
        trace_id: head.trace_id,
        platform: head.platform,
        release: head.release,
        environment: head.environment,
        received: iso(received),
        duration_ms: head.duration_ms,
        samples: head.samples,
        profiler_id: None,
    }
}

/// `GET /api/0/local/profiles/{transaction_id}/`.
pub(crate) async fn detail(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let prefix = super::id_prefix::parse(id, "transaction")?;
    let thread = ctx.query.get_nonempty("thread").map(str::to_owned);
    let detail = ctx
        .read(move |c| {
            // Transactions with a `profile` item first: a prefix that names
            // one of them stays unambiguous however many other
            // transactions share it; then any transaction (one sampled by
            // a continuous profiler has no `profile` item).
            let with_item = super::id_prefix::resolve(
                c,
                &prefix,
                "profiled transaction",
                &["SELECT DISTINCT event_id FROM raw_items INDEXED BY raw_items_profile_event
                   WHERE item_type = 'profile' AND event_id >= ?1 AND event_id < ?2 LIMIT 4"],
                &[],
            );
            let event_id = match with_item {
                Err(ApiError::NotFound(_)) => super::id_prefix::resolve(
                    c,
                    &prefix,
                    "transaction",
                    &["SELECT event_id FROM transactions
                       WHERE project_id IN (SELECT id FROM projects)
                           AND event_id >= ?1 AND event_id < ?2 LIMIT 4"],
                    &[],
                )?,
                found => found?,
            };
            let row: Option<(i64, f64, Vec<u8>)> = c
                .prepare_cached(
                    "SELECT project_id, received, payload FROM raw_items INDEXED BY raw_items_profile_event
                     WHERE item_type = 'profile' AND event_id = ?1 ORDER BY id DESC LIMIT 1",
                )?
                .query_row([&event_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((project_id, received, blob)) = row else {
                return super::profilers::for_transaction(c, &event_id, thread.as_deref())?
                    .ok_or_else(|| ApiError::not_found(format!("profile of transaction {event_id}")));
            };
            let bytes = crate::store::decompress(&blob).unwrap_or_default();
            let head = head_of(&bytes).unwrap_or_default();
            let summary = summarise(&bytes, thread.as_deref()).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "the profile of transaction {event_id} is not in the sample format this reads"
                ))
            })?;
            if let Some(t) = &thread {
                if !summary.threads.iter().any(|x| &x.id == t) {
                    return Err(ApiError::not_found(format!("thread {t} of that profile")));
                }
            }
            Ok(ProfileDetail {
                profile: row_of_head(project_id, Some(event_id), received, head),
                threads: summary.threads,
                thread_id: summary.thread_id,
                sampled_ms: summary.sampled_ms,
                functions: summary.functions,
                chunks: None,
                chunks_read: None,
            })
        })
        .await?;
    Reply::json(&detail)
}
