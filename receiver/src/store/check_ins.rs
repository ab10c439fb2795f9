//! Check-ins as runs of a monitor (PROTOCOL.md A.1), merged as Sentry's
//! monitor consumer merges them: a check-in whose id is already stored for
//! the same project and monitor updates that run instead of adding a row.
//!
//! * A run in progress takes the status of its next final update (`ok`,
//!   `error`, or whatever else is not `in_progress`), with that update's
//!   duration, or else the time since the run's first check-in arrived.
//!   Another `in_progress` only records when the run was last heard of
//!   (`updated`): a heartbeat.
//! * A finished run stays as it is: a repeated final update (an SDK's
//!   retry), a second final status and an `in_progress` that arrives after
//!   its final update (two requests delivered out of order) change nothing.
//! * The nil id updates the latest run in progress of the monitor in the
//!   same environment; with none, it starts a run under a fresh id.
//!
//! `received` stays the run's first arrival, so the lists that are read in
//! arrival order (`api::monitors`) keep their order when a run is updated.

use rusqlite::{params, Connection, OptionalExtension};

use super::monitors;
use super::records::CheckInRecord;
use super::StoreError;

/// The status of a run that has not finished.
const IN_PROGRESS: &str = "in_progress";

/// What storing a check-in did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Applied {
    /// A new run.
    Inserted,
    /// An update of a stored run.
    Updated,
    /// Nothing: the run it names had finished already.
    Ignored,
}

/// The stored run a check-in updates.
#[derive(Debug)]
struct Run {
    id: i64,
    status: String,
    received: f64,
}

/// Stores check-in `c` of project `project`, received at `received`, and
/// what it said about its monitor's config (even when the run it updates
/// had finished: the config is the monitor's, as in Sentry, which upserts
/// the monitor before it looks at the check-in).
pub(super) fn apply(
    conn: &Connection,
    project: i64,
    received: f64,
    c: &CheckInRecord,
) -> Result<Applied, StoreError> {
    if let Some(update) = &c.monitor_config {
        monitors::store_config(conn, project, &c.monitor_slug, received, update)?;
    }
    let Some(run) = find_run(conn, project, c)? else {
        insert(conn, project, received, c)?;
        return Ok(Applied::Inserted);
    };
    if run.status != IN_PROGRESS {
        return Ok(Applied::Ignored);
    }
    if c.status == IN_PROGRESS {
        conn.prepare_cached("UPDATE check_ins SET updated = ?2 WHERE id = ?1")?
            .execute(params![run.id, received])?;
    } else {
        finish(conn, &run, received, c)?;
    }
    Ok(Applied::Updated)
}

/// The run `c` updates, if it is stored.
fn find_run(conn: &Connection, project: i64, c: &CheckInRecord) -> Result<Option<Run>, StoreError> {
    let row = |r: &rusqlite::Row<'_>| {
        Ok(Run {
            id: r.get(0)?,
            status: r.get(1)?,
            received: r.get(2)?,
        })
    };
    let run = if c.update_latest {
        conn.prepare_cached(
            "SELECT id, status, received FROM check_ins
             WHERE project_id = ?1 AND monitor_slug = ?2 AND status = 'in_progress'
                 AND environment IS ?3
             ORDER BY received DESC, id DESC LIMIT 1",
        )?
        .query_row(params![project, c.monitor_slug, c.environment], row)
        .optional()?
    } else {
        conn.prepare_cached(
            "SELECT id, status, received FROM check_ins
             WHERE project_id = ?1 AND monitor_slug = ?2 AND check_in_id = ?3",
        )?
        .query_row(params![project, c.monitor_slug, c.check_in_id], row)
        .optional()?
    };
    Ok(run)
}

/// A new run.
fn insert(
    conn: &Connection,
    project: i64,
    received: f64,
    c: &CheckInRecord,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO check_ins (project_id, check_in_id, monitor_slug, status, duration,
             release, environment, received, updated, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
    )?
    .execute(params![
        project,
        c.check_in_id,
        c.monitor_slug,
        c.status,
        c.duration,
        c.release,
        c.environment,
        received,
        c.payload
    ])?;
    Ok(())
}

/// The final update of `run`, which is in progress. Without a duration
/// the run lasted from its first arrival to this one (Sentry takes the
/// absolute difference: updates may arrive out of order).
fn finish(
    conn: &Connection,
    run: &Run,
    received: f64,
    c: &CheckInRecord,
) -> Result<(), StoreError> {
    let duration = c.duration.unwrap_or((received - run.received).abs());
    conn.prepare_cached(
        "UPDATE check_ins SET status = ?2, duration = ?3, updated = ?4,
             release = COALESCE(release, ?5), environment = COALESCE(environment, ?6),
             payload = ?7
         WHERE id = ?1",
    )?
    .execute(params![
        run.id,
        c.status,
        duration,
        received,
        c.release,
        c.environment,
        c.payload
    ])?;
    Ok(())
}
