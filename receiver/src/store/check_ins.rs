//! Check-ins as runs of a monitor (PROTOCOL.md A.1), merged as Sentry's
//! monitor consumer merges them: a check-in whose id is already stored for
//! the same project and monitor updates that run instead of adding a row.
//!
//! * A run in progress takes the status of its next final update (`ok` or
//!   `error`: `ingest::check_in` refuses any other), with that update's
//!   duration, or else the time since the run's first check-in arrived.
//!   Another `in_progress` only records when the run was last heard of
//!   (`updated`): a heartbeat.
//! * A finished run stays as it is: a repeated final update (an SDK's
//!   retry), a second final status and an `in_progress` that arrives after
//!   its final update (two requests delivered out of order) change nothing.
//! * The nil id updates the latest run in progress of the monitor in the
//!   same environment; with none, it starts a run under a fresh id.
//! * A check-in id names one run, whatever the project or monitor (Sentry
//!   looks check-ins up by id alone). An update that names a stored run of
//!   another monitor or project, or of another environment (no environment
//!   is Sentry's `production`), is refused as Sentry's consumer refuses it
//!   (`CHECKIN_ENVIRONMENT_MISMATCH`): the run stays as it is, the update
//!   is kept in `raw_items` with the reason and counted as an outcome
//!   `invalid`, `monitor_environment_mismatch` ([`Applied::Refused`]).
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
use crate::ingest::check_in::MAX_DURATION_SECS;

/// The status of a run that has not finished.
const IN_PROGRESS: &str = "in_progress";
/// The status of a run that timed out.
const TIMEOUT: &str = "timeout";

/// What storing a check-in did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Applied {
    /// A new run, or an update of a stored one; with how the run
    /// finished, if this check-in finished it (a run may start finished).
    Stored(Option<Finished>),
    /// Nothing: the run it names had finished already.
    Ignored,
    /// Refused: it names a run of another monitor, project or
    /// environment; kept in `raw_items` with the reason.
    Refused,
}

/// A run a check-in finished.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Finished {
    /// Its row.
    pub run: i64,
    /// When it started (its first check-in's arrival).
    pub started: f64,
    pub ended: Ended,
    /// Whether its timeout was already counted as a failure while it was
    /// still in progress (`store::monitor_incidents::clock`).
    pub timeout_noted: bool,
}

/// How a run finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    Ok,
    Error,
    /// Its final update arrived after its deadline.
    Timeout,
}

impl Ended {
    /// The run's status as `status` (a final one) names it.
    fn of(status: &str) -> Option<Ended> {
        match status {
            "ok" => Some(Ended::Ok),
            "error" => Some(Ended::Error),
            TIMEOUT => Some(Ended::Timeout),
            _ => None,
        }
    }
}

/// The environment Sentry files a check-in under: its monitor environment
/// is `production` when the check-in names none.
const DEFAULT_ENVIRONMENT: &str = "production";

/// The outcome reason Sentry counts a refused update under.
const MISMATCH: &str = "monitor_environment_mismatch";

/// The stored run a check-in updates.
#[derive(Debug)]
struct Run {
    id: i64,
    status: String,
    received: f64,
    updated: f64,
    /// Its project and monitor.
    project: i64,
    slug: String,
    /// Its environment, as Sentry names it.
    environment: String,
    /// Whether its timeout was counted as a failure already.
    timeout_noted: bool,
}

impl Run {
    /// Why `c`, sent to `project`, may not update this run, if it may not.
    fn mismatch(&self, project: i64, c: &CheckInRecord) -> Option<String> {
        if self.project != project || self.slug != c.monitor_slug {
            return Some(format!(
                "check_in: check_in_id {} is a run of monitor {:?} in project {}, \
                 not of {:?} in project {project}; the update is refused",
                c.check_in_id, self.slug, self.project, c.monitor_slug
            ));
        }
        let sent = environment_of(c);
        (self.environment != sent).then(|| {
            format!(
                "check_in: check_in_id {} is a run in environment {:?}, not {sent:?}; \
                 the update is refused",
                c.check_in_id, self.environment
            )
        })
    }
}

/// The environment of `c` as Sentry files it.
pub(super) fn environment_of(c: &CheckInRecord) -> &str {
    c.environment.as_deref().unwrap_or(DEFAULT_ENVIRONMENT)
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
        let finished = Ended::of(&c.status).map(|ended| Finished {
            run: conn.last_insert_rowid(),
            started: received,
            ended,
            timeout_noted: false,
        });
        return Ok(Applied::Stored(finished));
    };
    if let Some(why) = run.mismatch(project, c) {
        refuse(conn, project, received, c, MISMATCH, &why)?;
        return Ok(Applied::Refused);
    }
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
        let finished = Ended::of(status).map(|ended| Finished {
            run: run.id,
            started: run.received,
            ended,
            timeout_noted: run.timeout_noted,
        });
        return Ok(Applied::Stored(finished));
    }
    Ok(Applied::Stored(None))
}

/// The run `c` (received at `received`) names, if it is stored: the one
/// its id names in any project or monitor (the caller refuses it when that
/// is another one). The nil id updates the latest run still in progress
/// of the monitor in its environment: one past its deadline has timed out
/// (Sentry's clock task has marked it so by then), and the check-in starts
/// a run of its own. Only runs that started within the longest deadline
/// are looked at, so that a monitor with no run in progress is not read
/// whole for every such check-in.
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
            project: r.get(4)?,
            slug: r.get(5)?,
            environment: r.get(6)?,
            timeout_noted: r.get(7)?,
        })
    };
    let columns = "id, status, received, updated, project_id, monitor_slug,
                   COALESCE(environment, 'production'), timeout_noted";
    if !c.update_latest {
        // Rows stored before this rule may share an id across monitors:
        // the one of this monitor first.
        return Ok(conn
            .prepare_cached(&format!(
                "SELECT {columns} FROM check_ins WHERE check_in_id = ?1
                 ORDER BY project_id = ?2 AND monitor_slug = ?3 DESC, id LIMIT 1"
            ))?
            .query_row(params![c.check_in_id, project, c.monitor_slug], row)
            .optional()?);
    }
    let oldest = received - MAX_RUNTIME_MINUTES as f64 * 60.0;
    let latest = conn
        .prepare_cached(&format!(
            "SELECT {columns} FROM check_ins
             WHERE project_id = ?1 AND monitor_slug = ?2 AND status = 'in_progress'
                 AND COALESCE(environment, 'production') = ?3 AND received >= ?4
             ORDER BY received DESC, id DESC LIMIT 1"
        ))?
        .query_row(
            params![project, c.monitor_slug, environment_of(c), oldest],
            row,
        )
        .optional()?;
    let Some(run) = latest else {
        return Ok(None);
    };
    let max_runtime = monitors::max_runtime(conn, project, &c.monitor_slug)?;
    Ok((deadline(run.received, run.updated, max_runtime) > received).then_some(run))
}

/// Keeps `c`, refused for `reason` (an outcome reason) because of `why`, in
/// `raw_items`, and counts it as an outcome `invalid` of category
/// `monitor`, as refused items are kept and counted at ingestion.
fn refuse(
    conn: &Connection,
    project: i64,
    received: f64,
    c: &CheckInRecord,
    reason: &str,
    why: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO raw_items (project_id, item_type, event_id, headers, error, received,
             payload)
         VALUES (?1, 'check_in', NULL, '{\"type\":\"check_in\"}', ?2, ?3, ?4)",
    )?
    .execute(params![project, why, received, c.payload])?;
    conn.prepare_cached(
        "INSERT INTO client_reports (project_id, timestamp, outcome, reason, category,
             quantity, received)
         VALUES (?1, ?2, 'invalid', ?3, 'monitor', 1, ?2)",
    )?
    .execute(params![project, received, reason])?;
    Ok(())
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
    // Sentry refuses a computed duration past its bound; a run can only
    // last that long with a `max_runtime` of over 24.8 days. It is then
    // stored without one rather than refused: the run did end.
    let duration = c
        .duration
        .or_else(|| Some((received - run.received).abs()).filter(|d| *d <= MAX_DURATION_SECS));
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
