//! What migration 16 threw away and migration 22 needs: which runs stored
//! one row per update had their final update arrive after their deadline.
//!
//! Migration 16 merged each run's updates into one row with the status of
//! its first final update. Ingestion, since, stores a final update that
//! arrives after the run's deadline as `timeout` (`store::check_ins`); the
//! merge did not, so such a run read as `ok` where the same check-ins sent
//! now read as `timeout`. The deadline depends on the run's heartbeats and
//! on the `max_runtime` its monitor's config had then, which the merge
//! drops (heartbeat rows are deleted, and configs were not stored before
//! migration 17), so the runs are worked out here, in migration 16's
//! transaction, just before it runs: the check-ins are replayed in arrival
//! order as ingestion would take them, and the rows migration 16 keeps for
//! the late runs are listed in `check_in_late_runs`. Migration 22 marks
//! them `timeout` and drops the table.

use std::collections::HashMap;

use rusqlite::{params, Connection};
use serde_json::Value;

use super::check_ins::deadline;
use super::dictionary;
use super::StoreError;

/// The most a stored check-in payload decompresses to (items are at most
/// 100 KiB).
const MAX_PAYLOAD: usize = 1 << 20;

/// A run being replayed.
struct Replayed {
    /// The row migration 16 keeps for it (its first).
    keep: i64,
    received: f64,
    /// Its latest `in_progress`.
    updated: f64,
    finished: bool,
}

/// Lists, in `check_in_late_runs`, the rows migration 16 will keep for the
/// runs whose first final update arrived at or after their deadline.
pub(super) fn note(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE check_in_late_runs (id INTEGER PRIMARY KEY)")?;
    let mut runs: HashMap<(i64, String, String), Replayed> = HashMap::new();
    let mut max_runtimes: HashMap<(i64, String), Option<i64>> = HashMap::new();
    let mut insert = conn.prepare("INSERT INTO check_in_late_runs (id) VALUES (?1)")?;
    let mut stmt = conn.prepare(
        "SELECT id, project_id, monitor_slug, check_in_id, status, received, payload
         FROM check_ins ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (id, project, slug, check_in_id): (i64, i64, String, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        let (status, received): (String, f64) = (r.get(4)?, r.get(5)?);
        let monitor = (project, slug);
        if let Some(config) = config_of(&r.get::<_, Vec<u8>>(6)?) {
            max_runtimes.insert(monitor.clone(), config);
        }
        // Migration 16 gives each nil-id row an id of its own: one row, one
        // run, nothing to time out.
        if check_in_id.bytes().all(|b| b == b'0') {
            continue;
        }
        let max_runtime = max_runtimes.get(&monitor).copied().flatten();
        let run = runs
            .entry((monitor.0, monitor.1, check_in_id))
            .or_insert(Replayed {
                keep: id,
                received,
                updated: received,
                finished: status != "in_progress",
            });
        if run.keep == id || run.finished {
            continue;
        }
        if status == "in_progress" {
            run.updated = received;
            continue;
        }
        run.finished = true;
        if received >= deadline(run.received, run.updated, max_runtime) {
            insert.execute(params![run.keep])?;
        }
    }
    Ok(())
}

/// The `max_runtime` a check-in's `monitor_config` gives its monitor, when
/// the config would be taken (`ingest::monitor_config`: one whose schedule
/// can be read replaces the monitor's whole); `None` when it would not.
fn config_of(compressed: &[u8]) -> Option<Option<i64>> {
    let bytes = dictionary::decompress(compressed, None, MAX_PAYLOAD).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    let config = value.get("monitor_config").filter(|c| !c.is_null())?;
    crate::ingest::monitor_config::read(config)
        .config
        .map(|c| c.max_runtime)
}
