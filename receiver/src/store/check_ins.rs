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
//! * A run in progress times out at its deadline: its last `in_progress`
//!   plus the monitor's `max_runtime` (30 minutes without one), and never
//!   later than 28 days after it started ([`deadline`]). Nothing runs at
//!   the deadline: readers show such a run as `timeout`
//!   ([`status_as_read`]), and a final update that arrives after it
//!   records the run's duration while the run stays `timeout`, as Sentry
//!   keeps a timed-out check-in. A heartbeat after the deadline brings the
//!   run back in progress (Sentry's consumer does the same).
//!
//! `received` stays the run's first arrival, so the lists that are read in
//! arrival order (`api::monitors`) keep their order when a run is updated.

use rusqlite::{params, Connection, OptionalExtension};

use super::monitors;
use super::records::{CheckInRecord, DEFAULT_MAX_RUNTIME_MINUTES, MAX_RUNTIME_MINUTES};
use super::StoreError;

/// The status of a run that has not finished.
const IN_PROGRESS: &str = "in_progress";
/// The status of a run that timed out.
const TIMEOUT: &str = "timeout";

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
    updated: f64,
}

/// When a run in progress times out (Unix seconds): `received` and
/// `updated` are its first and its latest check-in, `max_runtime` its
/// monitor's (minutes). Sentry's `timeout_at`, except that Sentry rounds the
/// check-in times down to the minute and looks once a minute, so it may
/// say `timeout` up to a minute earlier.
pub(crate) fn deadline(received: f64, updated: f64, max_runtime: Option<i64>) -> f64 {
    let minutes = max_runtime.unwrap_or(DEFAULT_MAX_RUNTIME_MINUTES);
    (updated + minutes as f64 * 60.0).min(received + MAX_RUNTIME_MINUTES as f64 * 60.0)
}

/// SQL for the status of run `k` (a `check_ins` row) as read at `now` (a
/// placeholder), `max_runtime` being its monitor's (a column of its
/// `monitors` row, LEFT JOINed, or a placeholder): `timeout` for a run in
/// progress whose [`deadline`] has passed, as [`status_at`] says.
pub(crate) fn status_as_read(k: &str, max_runtime: &str, now: &str) -> String {
    format!(
        "(CASE WHEN {k}.status = '{IN_PROGRESS}'
             AND MIN({k}.updated + COALESCE({max_runtime}, {DEFAULT_MAX_RUNTIME_MINUTES}) * 60.0,
                     {k}.received + {MAX_RUNTIME_MINUTES} * 60.0) <= {now}
         THEN '{TIMEOUT}' ELSE {k}.status END)"
    )
}

/// The status of a run stored with `status`, first and last heard of at
/// `received` and `updated`, as read at `now` when its monitor's
/// `max_runtime` is `max_runtime`: [`status_as_read`] for one run.
pub(crate) fn status_at(
    status: &str,
    received: f64,
    updated: f64,
    max_runtime: Option<i64>,
    now: f64,
) -> &str {
    if status == IN_PROGRESS && deadline(received, updated, max_runtime) <= now {
        TIMEOUT
    } else {
        status
    }
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
    let Some(run) = find_run(conn, project, received, c)? else {
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
        let max_runtime = monitors::max_runtime(conn, project, &c.monitor_slug)?;
        let timed_out = received >= deadline(run.received, run.updated, max_runtime);
        let status = if timed_out {
            TIMEOUT
        } else {
            c.status.as_str()
        };
        finish(conn, &run, received, status, c)?;
    }
    Ok(Applied::Updated)
}

/// The run `c` (received at `received`) updates, if it is stored. The nil
/// id updates the latest run still in progress: one past its deadline has
/// timed out (Sentry's clock task has marked it so by then), and the
/// check-in starts a run of its own. Only runs that started within the
/// longest deadline are looked at, so that a monitor with no run in
/// progress is not read whole for every such check-in.
fn find_run(
    conn: &Connection,
    project: i64,
    received: f64,
    c: &CheckInRecord,
) -> Result<Option<Run>, StoreError> {
    let row = |r: &rusqlite::Row<'_>| {
        Ok(Run {
            id: r.get(0)?,
            status: r.get(1)?,
            received: r.get(2)?,
            updated: r.get(3)?,
        })
    };
    let run = if c.update_latest {
        let oldest = received - MAX_RUNTIME_MINUTES as f64 * 60.0;
        let latest = conn
            .prepare_cached(
                "SELECT id, status, received, updated FROM check_ins
                 WHERE project_id = ?1 AND monitor_slug = ?2 AND status = 'in_progress'
                     AND environment IS ?3 AND received >= ?4
                 ORDER BY received DESC, id DESC LIMIT 1",
            )?
            .query_row(params![project, c.monitor_slug, c.environment, oldest], row)
            .optional()?;
        match latest {
            Some(run) => {
                let max_runtime = monitors::max_runtime(conn, project, &c.monitor_slug)?;
                (deadline(run.received, run.updated, max_runtime) > received).then_some(run)
            }
            None => None,
        }
    } else {
        conn.prepare_cached(
            "SELECT id, status, received, updated FROM check_ins
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

/// The final update of `run`, which is in progress, leaving it with
/// `status` (the update's, or `timeout`). Without a duration the run lasted
/// from its first arrival to this one (Sentry takes the absolute
/// difference: updates may arrive out of order).
fn finish(
    conn: &Connection,
    run: &Run,
    received: f64,
    status: &str,
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
        status,
        duration,
        received,
        c.release,
        c.environment,
        c.payload
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status [`status_as_read`] gives a run at `now`.
    fn read_in_sql(received: f64, updated: f64, max_runtime: Option<i64>, now: f64) -> String {
        let conn = Connection::open_in_memory().expect("open");
        let sql = format!(
            "SELECT {} FROM (SELECT 'in_progress' AS status, ?1 AS received, ?2 AS updated) k
             LEFT JOIN (SELECT ?3 AS max_runtime) m",
            status_as_read("k", "m.max_runtime", "?4")
        );
        conn.query_row(&sql, params![received, updated, max_runtime, now], |r| {
            r.get(0)
        })
        .expect("query")
    }

    #[test]
    fn readers_and_the_writer_agree_on_the_deadline() {
        let day = 86_400.0;
        for (received, updated, max_runtime, expected) in [
            (0.0, 0.0, Some(5), 300.0),
            (0.0, 0.0, None, 1800.0),
            (0.0, 240.0, Some(5), 540.0),
            (0.0, 30.0 * day, Some(60), 28.0 * day),
            (0.0, 0.0, Some(MAX_RUNTIME_MINUTES), 28.0 * day),
        ] {
            let at = deadline(received, updated, max_runtime);
            assert_eq!(at, expected, "{received} {updated} {max_runtime:?}");
            for (now, status) in [(at - 0.001, "in_progress"), (at, "timeout")] {
                assert_eq!(read_in_sql(received, updated, max_runtime, now), status);
                assert_eq!(
                    status_at("in_progress", received, updated, max_runtime, now),
                    status
                );
            }
            assert_eq!(status_at("ok", received, updated, max_runtime, at), "ok");
        }
    }
}
