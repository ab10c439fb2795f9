//! Issues for failing cron monitors, opened and resolved as Sentry's
//! monitor incidents are.
//!
//! Each monitor environment (a monitor in one environment; none is
//! `production`) is either healthy or in an *incident*:
//!
//! * **Opening.** A run that finishes `error`, or whose final update
//!   arrives after its deadline (`timeout`, `store::check_ins`), is a
//!   failure. A healthy environment opens an incident when none of its
//!   last `failure_issue_threshold` runs up to the failed one (its
//!   monitor's config; 1 when unset; newest first by start and read as the
//!   lists read them) finished `ok`, as Sentry judges it: runs that started
//!   after the failed one do not count, and one still in progress does not
//!   hold the incident back. Sentry also opens one when the environment
//!   has fewer runs than the threshold (it notes that as a flaw); here the
//!   threshold must be met.
//! * **Occurrences.** Opening an incident adds one occurrence per run of
//!   the threshold; each later failure during the incident adds one. An
//!   occurrence is an event of type `generic` in the issue `Monitor
//!   failure: {slug}`, level `error`, whose message says what failed (`An
//!   error check-in was detected`, or `2 error and 1 timeout check-ins
//!   were detected` for a threshold of 3) and whose `monitor` context
//!   names the monitor, its config and its last successful run; it carries
//!   its run's release and trace. All incidents of one monitor environment
//!   share one issue (its fingerprint is `monitor-failure`, the slug and
//!   the environment, grouped on hashes of their own: [`occurrence_hash`]),
//!   so an incident after a recovery reopens it as a regression.
//! * **Recovery.** A run that finishes `ok` during an incident ends it
//!   (at a `recovery_threshold` above 1, only when the last that many runs
//!   all finished `ok`); the issue is then resolved, with an activity that
//!   says so.
//! * **The clock.** Runs that never come (`missed`) and runs that never
//!   finish (`timeout`) are failures too, though no check-in says so: the
//!   server asks once a minute ([`clock`]) which expected runs' margins
//!   and which runs' deadlines passed since it last asked, and counts each
//!   as a failure at that moment. Only what passes while the receiver runs
//!   is counted: a run due while it was down may have run and been unable
//!   to report, so counting it would raise a false alarm (Sentry likewise
//!   holds back its clock's failures during its own outages). Nothing is
//!   counted twice: a timeout so counted is marked (`timeout_noted`), and
//!   each monitor environment keeps the due time of the last missed run
//!   counted (`monitor_missed_marks`). A failure the clock counts after a
//!   later success was stored joins the past ([`fail_before_success`]).
//! * **Missed runs in thresholds.** Where the threshold looks at a monitor
//!   environment's last runs, the runs its schedule expected that did not
//!   come are among them, at their due time, as Sentry's clock writes a
//!   `missed` check-in for each: two missed runs and an error make three
//!   failures in a row.
//!
//! A muted monitor (`api::monitor_mute`) opens and ends incidents but adds
//! no occurrence, as in Sentry.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};

use super::apply::{self, EventRef};
use super::check_ins::{self, Ended, Finished};
use super::known_rows::KnownRows;
use super::records::{CheckInRecord, EventRecord, IngestSummary, MAX_RUNTIME_MINUTES};
use super::StoreError;
use crate::api::schedule::{Expected, Keep};

/// The first value of every occurrence's fingerprint.
pub(crate) const FINGERPRINT: &str = "monitor-failure";
/// The event type of an occurrence (Sentry's for issue-platform events).
pub(crate) const EVENT_TYPE: &str = "generic";
/// The zstd level occurrences are stored at: they are small and rare.
const LEVEL: i32 = 3;
/// The highest threshold a config may set (`ingest::monitor_config`).
const MAX_THRESHOLD: i64 = 720;
/// Why a monitor's issue is resolved (its `set_resolved` activity).
const RECOVERED: &str = "the monitor recovered";
/// The most missed runs one clock tick counts per monitor environment
/// (a per-minute schedule gets one a tick; this bounds a tick's work).
const MAX_MISSED_PER_TICK: usize = 100;

/// One monitor environment.
struct MonitorEnv<'a> {
    project: i64,
    slug: &'a str,
    environment: &'a str,
}

/// A failure the clock found: the project, monitor slug and environment
/// it is of, and the failure.
type Found = (i64, String, String, Failure);

/// A failed run.
struct Failure {
    /// `error`, `timeout` or `missed`.
    status: &'static str,
    /// Where it is among its monitor environment's runs: a stored run, or
    /// a missed one's due time.
    anchor: Anchor,
    /// When it was found to have failed: its final update's arrival, its
    /// deadline, or its due time plus the margin. The occurrence's time.
    at: f64,
    release: Option<String>,
    trace_id: Option<String>,
}

/// A place among a monitor environment's runs, the newest of the runs a
/// threshold looks at.
#[derive(Debug, Clone, Copy)]
enum Anchor {
    /// A stored run: its row and start.
    Run(i64, f64),
    /// A run the schedule expected at this time that did not come.
    Missed(f64),
}

/// One of a monitor environment's last runs, as a threshold reads them.
struct Outcome {
    /// Its status as read when the threshold is checked; `missed` for an
    /// expected run that did not come.
    status: String,
    /// When it started, or was due.
    at: f64,
    /// Its row, for a stored run.
    run: Option<i64>,
}

/// Opens, adds to or ends the incident of `c`'s monitor environment now
/// that `c`, received at `received`, finished its run as `finished` says.
pub(super) fn run_ended<'c>(
    conn: &'c Connection,
    work: &mut apply::BatchWork<'c>,
    known: &mut KnownRows,
    project: i64,
    received: f64,
    c: &CheckInRecord,
    finished: Finished,
) -> Result<(), StoreError> {
    let env = MonitorEnv {
        project,
        slug: &c.monitor_slug,
        environment: check_ins::environment_of(c),
    };
    let status = match finished.ended {
        Ended::Ok => {
            let run = (finished.run, finished.started);
            return recover(conn, work, known, &env, run, received);
        }
        // The clock counted this timeout while the run was in progress.
        Ended::Timeout if finished.timeout_noted => return Ok(()),
        Ended::Timeout => "timeout",
        Ended::Error => "error",
    };
    let failure = Failure {
        status,
        anchor: Anchor::Run(finished.run, finished.started),
        at: received,
        release: c.release.clone(),
        trace_id: trace_id_of(&c.payload),
    };
    fail(conn, work, known, &env, &failure)
}

/// Counts the failures that became known in `(since, now]` without a
/// check-in: runs in progress whose deadline passed, and runs of a
/// monitor's schedule whose margin passed without their start. Returns
/// how many it counted.
pub(super) fn clock<'c>(
    conn: &'c Connection,
    work: &mut apply::BatchWork<'c>,
    known: &mut KnownRows,
    since: f64,
    now: f64,
) -> Result<usize, StoreError> {
    if now <= since {
        return Ok(0);
    }
    // Sorted by time below, so that each monitor environment's failures
    // count in their order.
    let mut found: Vec<Found> = Vec::new();
    let deadline = format!(
        "MIN(k.updated + COALESCE(m.max_runtime, {}) * 60.0, k.received + {} * 60.0)",
        super::records::DEFAULT_MAX_RUNTIME_MINUTES,
        MAX_RUNTIME_MINUTES
    );
    let timed_out: Vec<(i64, Found)> = conn
        .prepare_cached(&format!(
            "SELECT k.id, k.project_id, k.monitor_slug, COALESCE(k.environment, 'production'),
                 {deadline}, k.release, k.payload, k.received
             FROM check_ins k
             LEFT JOIN monitors m
                 ON m.project_id = k.project_id AND m.monitor_slug = k.monitor_slug
             WHERE k.status = 'in_progress' AND k.received >= ?3 AND k.timeout_noted = 0
                 AND {deadline} > ?1 AND {deadline} <= ?2"
        ))?
        .query_map(
            params![since, now, since - MAX_RUNTIME_MINUTES as f64 * 60.0],
            |r| {
                let failure = Failure {
                    status: "timeout",
                    anchor: Anchor::Run(r.get(0)?, r.get(7)?),
                    at: r.get(4)?,
                    release: r.get(5)?,
                    trace_id: trace_id_of(&r.get::<_, Vec<u8>>(6)?),
                };
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, failure)))
            },
        )?
        .collect::<Result<_, _>>()?;
    for (run, failure) in timed_out {
        conn.prepare_cached("UPDATE check_ins SET timeout_noted = 1 WHERE id = ?1")?
            .execute([run])?;
        found.push(failure);
    }
    let scheduled: Vec<(i64, String)> = conn
        .prepare_cached(
            "SELECT project_id, monitor_slug FROM monitors WHERE schedule_type IS NOT NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (project, slug) in scheduled {
        let Some(expected) = schedule_of(conn, project, &slug)? else {
            continue;
        };
        let margin = expected.margin();
        // Due times whose margin passed in (since, now].
        let window = (since - margin, now - margin);
        for environment in super::monitors::environments(conn, project, &slug)? {
            let env = MonitorEnv {
                project,
                slug: &slug,
                environment: &environment,
            };
            // Each gap between runs that a run due in the window can be in
            // (a run that starts after its margin leaves it missed), the
            // last one open until now.
            let mut starts = starts_since(conn, &env, since - margin)?;
            starts.push(now);
            // Missed runs counted already: by an earlier tick (of this
            // process or another on the same file, or before the margin
            // changed), or with an incident that opened on them.
            let counted = missed_mark(conn, &env)?.unwrap_or(f64::NEG_INFINITY);
            let mut missed = Vec::new();
            for gap in starts.windows(2) {
                let left = MAX_MISSED_PER_TICK - missed.len();
                if left == 0 {
                    break;
                }
                let due = expected
                    .missed_between((gap[0], gap[1]), window, Keep::First(left))
                    .unwrap_or_default();
                missed.extend(
                    due.into_iter()
                        .filter(|due| due + margin > since && *due > counted),
                );
            }
            for due in missed {
                let failure = Failure {
                    status: "missed",
                    anchor: Anchor::Missed(due),
                    at: due + margin,
                    release: None,
                    trace_id: None,
                };
                found.push((project, slug.clone(), environment.clone(), failure));
            }
        }
    }
    found.sort_by(|a, b| a.3.at.total_cmp(&b.3.at));
    let counted = found.len();
    for (project, slug, environment, failure) in &found {
        let env = MonitorEnv {
            project: *project,
            slug,
            environment,
        };
        if let Anchor::Missed(due) = failure.anchor {
            note_missed(conn, &env, due)?;
        }
        match ok_after(conn, &env, failure.at)? {
            None => fail(conn, work, known, &env, failure)?,
            Some(succeeded) => fail_before_success(conn, work, known, &env, failure, succeeded)?,
        }
    }
    Ok(counted)
}

/// A failure the clock found only after a run that finished `ok` later
/// was stored (the clock counts up to a tick late). Sentry's clock would
/// have counted it first: it then belonged to the incident open at its
/// time, or opened one (its threshold met) that the success at
/// `succeeded` ended. What the later runs did to the incidents and the
/// issue stands: the failure adds its occurrence, reopening nothing (an
/// issue it creates is resolved), and an incident it opens is one that
/// ended at `succeeded`.
fn fail_before_success<'c>(
    conn: &'c Connection,
    work: &mut apply::BatchWork<'c>,
    known: &mut KnownRows,
    env: &MonitorEnv<'_>,
    failure: &Failure,
    succeeded: f64,
) -> Result<(), StoreError> {
    let open_then: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM monitor_incidents
             WHERE project_id = ?1 AND monitor_slug = ?2 AND environment = ?3
                 AND started <= ?4 AND (resolved IS NULL OR resolved > ?4)
             ORDER BY started DESC LIMIT 1",
        )?
        .query_row(
            params![env.project, env.slug, env.environment, failure.at],
            |r| r.get(0),
        )
        .optional()?;
    let incident = match open_then {
        Some(id) => id,
        None => match open_on_threshold(conn, env, failure, Some(succeeded))? {
            Some((id, _)) => id,
            None => return Ok(()),
        },
    };
    if super::monitors::is_muted(conn, env.project, env.slug)? {
        return Ok(());
    }
    let reason = failure_reason(&[failure.status.to_owned()]);
    let context = monitor_context(conn, env)?;
    let event = occurrence(env, failure, incident, &reason, &context)?;
    let mut summary = IngestSummary::default();
    apply::apply_event(
        conn,
        work,
        env.project,
        failure.at,
        EventRef::Past(&event, RECOVERED),
        known,
        &mut summary,
    )?;
    if let Some(issue) = summary.issue_ids.first() {
        conn.prepare_cached(
            "UPDATE monitor_incidents SET issue_id = COALESCE(issue_id, ?2) WHERE id = ?1",
        )?
        .execute(params![incident, issue])?;
    }
    Ok(())
}

/// When the first run of `env` that finished `ok` after `at` did so.
fn ok_after(conn: &Connection, env: &MonitorEnv<'_>, at: f64) -> Result<Option<f64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT updated FROM check_ins
             WHERE project_id = ?1 AND monitor_slug = ?2
                 AND COALESCE(environment, 'production') = ?3 AND received >= ?5
                 AND status = 'ok' AND updated > ?4
             ORDER BY updated LIMIT 1",
        )?
        .query_row(
            params![
                env.project,
                env.slug,
                env.environment,
                at,
                at - MAX_RUNTIME_MINUTES as f64 * 60.0
            ],
            |r| r.get(0),
        )
        .optional()?)
}

/// The due time of the latest missed run of `env` counted as a failure.
fn missed_mark(conn: &Connection, env: &MonitorEnv<'_>) -> Result<Option<f64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT counted_through FROM monitor_missed_marks
             WHERE project_id = ?1 AND monitor_slug = ?2 AND environment = ?3",
        )?
        .query_row(params![env.project, env.slug, env.environment], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Notes that the missed runs of `env` due up to `due` are counted.
fn note_missed(conn: &Connection, env: &MonitorEnv<'_>, due: f64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO monitor_missed_marks (project_id, monitor_slug, environment, counted_through)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (project_id, monitor_slug, environment)
         DO UPDATE SET counted_through = MAX(counted_through, excluded.counted_through)",
    )?
    .execute(params![env.project, env.slug, env.environment, due])?;
    Ok(())
}

/// A failed run: an occurrence if an incident is open, else one per
/// failed run when the threshold is met. As in Sentry, the threshold looks
/// at the runs up to the failed one (not at runs that started after it),
/// and only an `ok` among them keeps the incident from opening (a run
/// still in progress does not).
fn fail<'c>(
    conn: &'c Connection,
    work: &mut apply::BatchWork<'c>,
    known: &mut KnownRows,
    env: &MonitorEnv<'_>,
    failure: &Failure,
) -> Result<(), StoreError> {
    let (incident, failures) = match open_incident(conn, env)? {
        Some(id) => {
            let own = Outcome {
                status: failure.status.to_owned(),
                at: failure.at,
                run: None,
            };
            (id, vec![own])
        }
        None => match open_on_threshold(conn, env, failure, None)? {
            Some(opened) => opened,
            None => return Ok(()),
        },
    };
    // A muted monitor's incidents open and end, but add no event (as
    // Sentry sends no occurrence for a muted monitor environment).
    if super::monitors::is_muted(conn, env.project, env.slug)? {
        return Ok(());
    }
    let statuses: Vec<String> = failures.iter().map(|o| o.status.clone()).collect();
    let reason = failure_reason(&statuses);
    let context = monitor_context(conn, env)?;
    for outcome in &failures {
        // Each occurrence carries its own run's release and trace.
        let (release, trace_id) = match outcome.run {
            Some(run) => run_details(conn, run)?,
            None if outcome.status == "missed" => (None, None),
            None => (failure.release.clone(), failure.trace_id.clone()),
        };
        let own = Failure {
            status: failure.status,
            anchor: failure.anchor,
            at: failure.at,
            release,
            trace_id,
        };
        let event = occurrence(env, &own, incident, &reason, &context)?;
        let mut summary = IngestSummary::default();
        apply::apply_event(
            conn,
            work,
            env.project,
            failure.at,
            EventRef::Made(&event),
            known,
            &mut summary,
        )?;
        if let Some(issue) = summary.issue_ids.first() {
            conn.prepare_cached("UPDATE monitor_incidents SET issue_id = ?2 WHERE id = ?1")?
                .execute(params![incident, issue])?;
        }
    }
    Ok(())
}

/// Opens an incident of `env` for `failure` if its threshold is met: the
/// last `failure_issue_threshold` runs up to it hold no `ok`. `resolved`
/// is when it ended, for one opened in the past. Returns the incident and
/// those runs, each of which gets an occurrence; `None` below the
/// threshold.
fn open_on_threshold(
    conn: &Connection,
    env: &MonitorEnv<'_>,
    failure: &Failure,
    resolved: Option<f64>,
) -> Result<Option<(i64, Vec<Outcome>)>, StoreError> {
    let n = threshold(conn, env, "failure_issue_threshold")?;
    let outcomes = last_outcomes(conn, env, n, failure.anchor, failure.at)?;
    if outcomes.len() < n || outcomes.iter().any(|o| o.status == "ok") {
        return Ok(None);
    }
    let started = outcomes.iter().map(|o| o.at).fold(failure.at, f64::min);
    conn.prepare_cached(
        "INSERT INTO monitor_incidents (project_id, monitor_slug, environment, started, resolved)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        env.project,
        env.slug,
        env.environment,
        started,
        resolved
    ])?;
    let incident = conn.last_insert_rowid();
    // A missed run counted here is not counted again by the clock; nor is
    // a run counted here as timed out while still in progress, by the
    // clock or when it finishes late.
    let newest_missed = outcomes
        .iter()
        .filter(|o| o.status == "missed")
        .map(|o| o.at)
        .fold(f64::NEG_INFINITY, f64::max);
    if newest_missed.is_finite() {
        note_missed(conn, env, newest_missed)?;
    }
    for run in outcomes
        .iter()
        .filter(|o| o.status == "timeout")
        .filter_map(|o| o.run)
    {
        conn.prepare_cached(
            "UPDATE check_ins SET timeout_noted = 1 WHERE id = ?1 AND status = 'in_progress'",
        )?
        .execute([run])?;
    }
    Ok(Some((incident, outcomes)))
}

/// The release and the trace id of stored run `run`.
fn run_details(
    conn: &Connection,
    run: i64,
) -> Result<(Option<String>, Option<String>), StoreError> {
    let row: Option<(Option<String>, Vec<u8>)> = conn
        .prepare_cached("SELECT release, payload FROM check_ins WHERE id = ?1")?
        .query_row([run], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.map_or((None, None), |(release, payload)| {
        (release, trace_id_of(&payload))
    }))
}

/// A run that finished `ok`: ends the open incident, if any, and resolves
/// its issue. With a `recovery_threshold` of 1 (the default) any run that
/// finishes `ok` does, as in Sentry, even one that started before a run
/// that failed; with more, the last that many runs must all be `ok`.
fn recover<'c>(
    conn: &'c Connection,
    work: &mut apply::BatchWork<'c>,
    known: &mut KnownRows,
    env: &MonitorEnv<'_>,
    (run, started): (i64, f64),
    received: f64,
) -> Result<(), StoreError> {
    let Some(incident) = open_incident(conn, env)? else {
        return Ok(());
    };
    let n = threshold(conn, env, "recovery_threshold")?;
    if n > 1 {
        let newest = newest_run(conn, env)?.unwrap_or((run, started));
        let anchor = Anchor::Run(newest.0, newest.1);
        let outcomes = last_outcomes(conn, env, n, anchor, received)?;
        if outcomes.len() < n || outcomes.iter().any(|o| o.status != "ok") {
            return Ok(());
        }
    }
    let issue: Option<i64> = conn
        .prepare_cached(
            "UPDATE monitor_incidents SET resolved = ?2 WHERE id = ?1 RETURNING issue_id",
        )?
        .query_row(params![incident, received], |r| r.get(0))?;
    let Some(issue) = issue else {
        return Ok(());
    };
    // Counts gathered for the batch assume no issue closes before they
    // are written (`BatchWork`): write them first.
    work.flush(conn)?;
    known.forget_open_issue(issue);
    let now = super::now_secs();
    let resolved = conn
        .prepare_cached(
            "UPDATE issues SET status = 'resolved', substatus = NULL, resolved_release = NULL,
                 resolved_in_next = 0, resolved_at = ?2
             WHERE id = ?1 AND status <> 'resolved'",
        )?
        .execute(params![issue, now])?;
    if resolved == 1 {
        let data = json!({
            "reason": RECOVERED,
            "monitor": env.slug,
            "environment": env.environment,
        });
        conn.prepare_cached(
            "INSERT INTO issue_activity (issue_id, kind, data, created)
             VALUES (?1, 'set_resolved', ?2, ?3)",
        )?
        .execute(params![issue, data.to_string(), now])?;
    }
    Ok(())
}

/// The open incident of `env`, if any.
fn open_incident(conn: &Connection, env: &MonitorEnv<'_>) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM monitor_incidents
             WHERE project_id = ?1 AND monitor_slug = ?2 AND environment = ?3
                 AND resolved IS NULL",
        )?
        .query_row(params![env.project, env.slug, env.environment], |r| {
            r.get(0)
        })
        .optional()?)
}

/// The monitor's `failure_issue_threshold` or `recovery_threshold`
/// (`column`): 1 when it has none.
fn threshold(conn: &Connection, env: &MonitorEnv<'_>, column: &str) -> Result<usize, StoreError> {
    let value: Option<i64> = conn
        .prepare_cached(&format!(
            "SELECT {column} FROM monitors WHERE project_id = ?1 AND monitor_slug = ?2"
        ))?
        .query_row(params![env.project, env.slug], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(value.unwrap_or(1).clamp(1, MAX_THRESHOLD) as usize)
}

/// The schedule of monitor `slug` of `project`, if its config has one
/// that can be read.
fn schedule_of(
    conn: &Connection,
    project: i64,
    slug: &str,
) -> Result<Option<Expected>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT schedule_type, crontab, interval_value, interval_unit, timezone,
                 checkin_margin
             FROM monitors WHERE project_id = ?1 AND monitor_slug = ?2
                 AND schedule_type IS NOT NULL",
        )?
        .query_row(params![project, slug], |r| {
            let schedule = super::monitors::schedule_columns(r, 0)?;
            Ok((schedule, r.get::<_, Option<String>>(4)?, r.get(5)?))
        })
        .optional()?;
    let Some((Some(schedule), timezone, margin)) = row else {
        return Ok(None);
    };
    Ok(Expected::new(&schedule, timezone.as_deref(), margin))
}

/// The starts of the runs of `env` that can end a gap with a run due
/// after `since`: the last one that started by `since`, and every later
/// one, oldest first.
fn starts_since(
    conn: &Connection,
    env: &MonitorEnv<'_>,
    since: f64,
) -> Result<Vec<f64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT received FROM (
                 SELECT received FROM check_ins
                 WHERE project_id = ?1 AND monitor_slug = ?2
                     AND COALESCE(environment, 'production') = ?3 AND received <= ?4
                 ORDER BY received DESC LIMIT 1)
             UNION ALL
             SELECT received FROM (
                 SELECT received FROM check_ins
                 WHERE project_id = ?1 AND monitor_slug = ?2
                     AND COALESCE(environment, 'production') = ?3 AND received > ?4
                 ORDER BY received)",
        )?
        .query_map(
            params![env.project, env.slug, env.environment, since],
            |r| r.get(0),
        )?
        .collect::<Result<_, _>>()?)
}

/// The last `n` outcomes of `env` up to `anchor` (included), newest
/// first, as known at `as_of`: its runs (their status read at `as_of`)
/// and, with a schedule, the runs it expected that did not come by their
/// margin (`missed`, at their due time), as Sentry's clock would have
/// written a check-in for each.
fn last_outcomes(
    conn: &Connection,
    env: &MonitorEnv<'_>,
    n: usize,
    anchor: Anchor,
    as_of: f64,
) -> Result<Vec<Outcome>, StoreError> {
    // Runs up to the anchor in `(received, id)` order; a missed run's due
    // time takes every run that started by then.
    let (time, id) = match anchor {
        Anchor::Run(id, started) => (started, id),
        Anchor::Missed(due) => (due, i64::MAX),
    };
    let status = check_ins::status_as_read("k", "m.max_runtime", "?4");
    let runs: Vec<Outcome> = conn
        .prepare_cached(&format!(
            "SELECT {status}, k.received, k.id FROM check_ins k
             LEFT JOIN monitors m
                 ON m.project_id = k.project_id AND m.monitor_slug = k.monitor_slug
             WHERE k.project_id = ?1 AND k.monitor_slug = ?2
                 AND COALESCE(k.environment, 'production') = ?3
                 AND (k.received < ?5 OR (k.received = ?5 AND k.id <= ?6))
             ORDER BY k.received DESC, k.id DESC LIMIT ?7"
        ))?
        .query_map(
            params![
                env.project,
                env.slug,
                env.environment,
                as_of,
                time,
                id,
                n as i64
            ],
            |r| {
                Ok(Outcome {
                    status: r.get(0)?,
                    at: r.get(1)?,
                    run: Some(r.get(2)?),
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    let Some(expected) = schedule_of(conn, env.project, env.slug)? else {
        return Ok(runs);
    };
    // Newest first: each run after the missed runs of the gap that
    // follows it (up to the next run's start, or `as_of`), at most up to
    // the anchor's time.
    let mut outcomes = Vec::with_capacity(n);
    let mut until = as_of;
    for run in runs {
        let missed = last_missed(&expected, (run.at, until), time, n);
        outcomes.extend(missed.into_iter().rev().map(|due| Outcome {
            status: "missed".to_owned(),
            at: due,
            run: None,
        }));
        until = run.at;
        outcomes.push(run);
        if outcomes.len() >= n {
            break;
        }
    }
    outcomes.truncate(n);
    Ok(outcomes)
}

/// The newest `n` runs `expected` missed in `gap` (a run's start, and the
/// next one's or now) that were due by `time`, oldest first. It looks back
/// from `time` over a window that grows until it holds `n` or reaches the
/// gap's start, so a monitor silent for a year is not stepped through
/// minute by minute.
fn last_missed(expected: &Expected, gap: (f64, f64), time: f64, n: usize) -> Vec<f64> {
    let mut reach = 3600.0;
    loop {
        let from = (time - reach).max(gap.0);
        let found = expected
            .missed_between(gap, (from, time), Keep::Last(n))
            .unwrap_or_default();
        if found.len() >= n || from <= gap.0 {
            return found;
        }
        reach *= 4.0;
    }
}

/// The row and start of the newest run of `env`.
fn newest_run(conn: &Connection, env: &MonitorEnv<'_>) -> Result<Option<(i64, f64)>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, received FROM check_ins
             WHERE project_id = ?1 AND monitor_slug = ?2
                 AND COALESCE(environment, 'production') = ?3
             ORDER BY received DESC, id DESC LIMIT 1",
        )?
        .query_row(params![env.project, env.slug, env.environment], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// What failed, in words, much as Sentry's `get_failure_reason` puts it: "An
/// error check-in was detected" for one, "2 error and 1 timeout check-ins
/// were detected" for several.
/// Only failures are named: a run in progress among a threshold's runs
/// is not.
pub(crate) fn failure_reason(statuses: &[String]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    let failures = statuses
        .iter()
        .filter(|s| matches!(s.as_str(), "error" | "timeout" | "missed"));
    for status in failures {
        match counts.iter_mut().find(|(s, _)| s == status) {
            Some((_, n)) => *n += 1,
            None => counts.push((status, 1)),
        }
    }
    match counts.as_slice() {
        [(status, 1)] => {
            let article = if status.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "An"
            } else {
                "A"
            };
            format!("{article} {status} check-in was detected")
        }
        _ => {
            let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
            let listed = match parts.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                None => String::new(),
            };
            format!("{listed} check-ins were detected")
        }
    }
}

/// The `monitor` context of an occurrence: the monitor, its config and
/// its environment's last successful run.
fn monitor_context(conn: &Connection, env: &MonitorEnv<'_>) -> Result<Value, StoreError> {
    let config: Option<Map<String, Value>> = conn
        .prepare_cached(
            "SELECT schedule_type, crontab, interval_value, interval_unit, checkin_margin,
                 max_runtime, timezone, failure_issue_threshold, recovery_threshold
             FROM monitors WHERE project_id = ?1 AND monitor_slug = ?2
                 AND schedule_type IS NOT NULL",
        )?
        .query_row(params![env.project, env.slug], |r| {
            let schedule_type: String = r.get(0)?;
            let schedule = if schedule_type == "crontab" {
                json!(r.get::<_, Option<String>>(1)?)
            } else {
                json!([r.get::<_, Option<i64>>(2)?, r.get::<_, Option<String>>(3)?])
            };
            let mut config = Map::new();
            config.insert("schedule_type".into(), json!(schedule_type));
            config.insert("schedule".into(), schedule);
            let optional = [
                (4, "checkin_margin"),
                (5, "max_runtime"),
                (7, "failure_issue_threshold"),
                (8, "recovery_threshold"),
            ];
            for (i, key) in optional {
                if let Some(v) = r.get::<_, Option<i64>>(i)? {
                    config.insert(key.into(), json!(v));
                }
            }
            if let Some(tz) = r.get::<_, Option<String>>(6)? {
                config.insert("timezone".into(), json!(tz));
            }
            Ok(config)
        })
        .optional()?;
    let last_ok: Option<f64> = conn
        .prepare_cached(
            "SELECT received FROM check_ins
             WHERE project_id = ?1 AND monitor_slug = ?2
                 AND COALESCE(environment, 'production') = ?3 AND status = 'ok'
             ORDER BY received DESC LIMIT 1",
        )?
        .query_row(params![env.project, env.slug, env.environment], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(json!({
        "slug": env.slug,
        "name": env.slug,
        "status": "error",
        "config": config,
        "last_successful_check_in": last_ok.map(super::queries::iso_time),
    }))
}

/// The trace id a check-in's payload named in `contexts.trace`, if any.
fn trace_id_of(payload: &[u8]) -> Option<String> {
    let json = super::decompress(payload).ok()?;
    let value: Value = serde_json::from_slice(&json).ok()?;
    let id = value.pointer("/contexts/trace/trace_id")?.as_str()?;
    let id = id.replace('-', "").to_ascii_lowercase();
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// An occurrence of `incident`: the event that counts one failure into
/// the monitor environment's issue.
fn occurrence(
    env: &MonitorEnv<'_>,
    failure: &Failure,
    incident: i64,
    reason: &str,
    context: &Value,
) -> Result<EventRecord, StoreError> {
    let event_id = crate::store::generate_key();
    let title = format!("Monitor failure: {}", env.slug);
    let mut contexts = json!({ "monitor": context });
    if let Some(trace_id) = &failure.trace_id {
        contexts["trace"] = json!({ "trace_id": trace_id });
    }
    let payload = json!({
        "event_id": event_id,
        "type": EVENT_TYPE,
        "timestamp": failure.at,
        "level": "error",
        "platform": "other",
        "logger": "monitors",
        "message": reason,
        "environment": env.environment,
        "release": failure.release,
        "fingerprint": [FINGERPRINT, env.slug, env.environment],
        "tags": {
            "monitor.slug": env.slug,
            "monitor.incident": incident.to_string(),
        },
        "contexts": contexts,
    });
    let event: sentry_core::protocol::Event = serde_json::from_value(payload.clone())
        .map_err(|e| StoreError::Invalid(format!("monitor failure event: {e}")))?;
    let mut grouping = crate::ingest::group(&event);
    for hash in &mut grouping.hashes {
        hash.hash = occurrence_hash(&hash.hash);
    }
    grouping.title = title.clone();
    grouping.culprit = None;
    grouping.level = "error".to_owned();
    let json = serde_json::to_vec(&payload)
        .map_err(|e| StoreError::Invalid(format!("monitor failure event: {e}")))?;
    Ok(EventRecord {
        event_id,
        kind: EVENT_TYPE.to_owned(),
        timestamp: failure.at,
        release: failure.release.clone(),
        environment: Some(env.environment.to_owned()),
        level: "error".to_owned(),
        title,
        platform: Some("other".to_owned()),
        trace_id: failure.trace_id.clone(),
        user_key: None,
        payload: super::compress(&json, LEVEL)?,
        grouping,
        attachments: Vec::new(),
    })
}

/// An occurrence's grouping hash: the md5 of its fingerprint's hash under
/// the issue type's name. A client event that sends the same fingerprint
/// (`["monitor-failure", slug, environment]`) then gets an error issue of
/// its own instead of joining the monitor's, as Sentry keeps issue-platform
/// groups apart from error groups.
///
/// ```
/// # use receiver::store::occurrence_hash;
/// let hash = occurrence_hash("2c1743a391305fbf367df8e4f069f9f9");
/// assert_eq!(hash.len(), 32);
/// assert_ne!(hash, "2c1743a391305fbf367df8e4f069f9f9");
/// ```
pub fn occurrence_hash(fingerprint_hash: &str) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(format!("monitor_check_in_failure:{fingerprint_hash}"));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Schema migration 42: the grouping hashes stored for monitor issues
/// before [`occurrence_hash`] become theirs, so that an open incident's
/// next failure still lands in its issue.
pub(super) fn namespace_stored_hashes(conn: &Connection) -> Result<(), StoreError> {
    let stored: Vec<(i64, String)> = conn
        .prepare(
            "SELECT gh.rowid, gh.hash FROM group_hashes gh
             JOIN issues i ON i.id = gh.issue_id WHERE i.kind = ?1",
        )?
        .query_map([EVENT_TYPE], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut update = conn.prepare("UPDATE group_hashes SET hash = ?2 WHERE rowid = ?1")?;
    for (row, hash) in stored {
        update.execute(params![row, occurrence_hash(&hash)])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{failure_reason, last_missed};
    use crate::api::schedule::Expected;
    use crate::api::types::MonitorSchedule;

    #[test]
    fn the_last_missed_runs_of_a_long_silence_are_found_from_its_end() {
        let every_minute = MonitorSchedule::Crontab {
            value: "* * * * *".to_owned(),
        };
        let expected = Expected::new(&every_minute, None, Some(1)).expect("schedule");
        let t = 1_699_999_980.0; // on a minute
        let year = 365.0 * 86_400.0;
        assert_eq!(
            last_missed(&expected, (t - year, t), t - 60.0, 3),
            [t - 180.0, t - 120.0, t - 60.0]
        );
        // A gap shorter than the threshold: all of it.
        assert_eq!(
            last_missed(&expected, (t - 150.0, t), t, 5),
            [t - 120.0, t - 60.0]
        );
    }

    fn reason(statuses: &[&str]) -> String {
        failure_reason(&statuses.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn failure_reasons_read_as_sentrys() {
        assert_eq!(reason(&["error"]), "An error check-in was detected");
        assert_eq!(reason(&["timeout"]), "A timeout check-in was detected");
        assert_eq!(
            reason(&["error", "error"]),
            "2 error check-ins were detected"
        );
        assert_eq!(
            reason(&["error", "timeout", "error"]),
            "2 error and 1 timeout check-ins were detected"
        );
        assert_eq!(
            reason(&["error", "in_progress", "error"]),
            "2 error check-ins were detected"
        );
        assert_eq!(
            reason(&["missed", "timeout", "error"]),
            "1 missed, 1 timeout and 1 error check-ins were detected"
        );
    }
}
