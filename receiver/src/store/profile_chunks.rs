//! Continuous profilers' chunks as `profile_chunks` rows: written for each
//! chunk stored, and for the chunks kept before migration 50 when it runs.

use rusqlite::{params, Connection};

use super::records::ChunkKey;
use super::StoreError;
use crate::ingest::chunk_head::chunk_head_of;

/// Notes that kept item `item_id` is chunk `chunk` of project `project_id`.
pub(crate) fn insert(
    conn: &Connection,
    item_id: i64,
    project_id: i64,
    chunk: &ChunkKey,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO profile_chunks
             (item_id, project_id, profiler_id, chunk_id, start_ts, end_ts, samples, platform,
              release, environment)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        item_id,
        project_id,
        chunk.profiler_id,
        chunk.chunk_id,
        chunk.start,
        chunk.end,
        chunk.samples as i64,
        chunk.platform,
        chunk.release,
        chunk.environment
    ])?;
    Ok(())
}

/// Reads every `profile_chunk` kept before `profile_chunks` existed (none
/// noted yet) and notes those that can be read; of a chunk sent twice,
/// the first kept. The kept items are only read, never rewritten. Returns
/// how many were noted.
pub(crate) fn backfill(conn: &Connection) -> Result<usize, StoreError> {
    let mut select = conn.prepare(
        "SELECT id, project_id, payload FROM raw_items
         WHERE item_type = 'profile_chunk'
             AND id NOT IN (SELECT item_id FROM profile_chunks)
         ORDER BY id",
    )?;
    let mut rows = select.query([])?;
    let mut noted = 0;
    while let Some(row) = rows.next()? {
        let (id, project_id, blob): (i64, i64, Vec<u8>) = (row.get(0)?, row.get(1)?, row.get(2)?);
        let Ok(bytes) = super::decompress(&blob) else {
            continue;
        };
        let Ok(head) = chunk_head_of(&bytes) else {
            continue;
        };
        insert(conn, id, project_id, &ChunkKey::from(head))?;
        noted += 1;
    }
    Ok(noted)
}
