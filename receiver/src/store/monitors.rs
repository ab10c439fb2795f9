//! Cron monitors' configurations, one row per project and monitor slug
//! (`monitors`), upserted from the `monitor_config` of their check-ins:
//! the latest config whose schedule could be read replaces the stored one
//! whole (fields it leaves out become unset), as Sentry's upsert does; the
//! problems of the latest config sent replace the stored ones, so a config
//! that is not taken is still explained.

use rusqlite::{params, Connection, OptionalExtension};

use super::records::{MonitorConfigUpdate, Schedule};
use super::StoreError;

/// Stores what a check-in of monitor `slug` in `project`, received at
/// `received`, said about its config.
pub(super) fn store_config(
    conn: &Connection,
    project: i64,
    slug: &str,
    received: f64,
    update: &MonitorConfigUpdate,
) -> Result<(), StoreError> {
    let problems = problems_json(&update.problems)?;
    let Some(config) = &update.config else {
        conn.prepare_cached(
            "INSERT INTO monitors (project_id, monitor_slug, config_problems)
             VALUES (?1, ?2, ?3)
             ON CONFLICT (project_id, monitor_slug) DO UPDATE SET
                 config_problems = excluded.config_problems",
        )?
        .execute(params![project, slug, problems])?;
        return Ok(());
    };
    let (schedule_type, crontab, interval_value, interval_unit) = match &config.schedule {
        Schedule::Crontab(c) => ("crontab", Some(c.as_str()), None, None),
        Schedule::Interval { value, unit } => ("interval", None, Some(*value), Some(unit.as_str())),
    };
    conn.prepare_cached(
        "INSERT INTO monitors (project_id, monitor_slug, schedule_type, crontab,
             interval_value, interval_unit, checkin_margin, max_runtime, timezone,
             failure_issue_threshold, recovery_threshold, owner, config_received,
             config_problems)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (project_id, monitor_slug) DO UPDATE SET
             schedule_type = excluded.schedule_type, crontab = excluded.crontab,
             interval_value = excluded.interval_value,
             interval_unit = excluded.interval_unit,
             checkin_margin = excluded.checkin_margin, max_runtime = excluded.max_runtime,
             timezone = excluded.timezone,
             failure_issue_threshold = excluded.failure_issue_threshold,
             recovery_threshold = excluded.recovery_threshold, owner = excluded.owner,
             config_received = excluded.config_received,
             config_problems = excluded.config_problems",
    )?
    .execute(params![
        project,
        slug,
        schedule_type,
        crontab,
        interval_value,
        interval_unit,
        config.checkin_margin,
        config.max_runtime,
        config.timezone,
        config.failure_issue_threshold,
        config.recovery_threshold,
        config.owner,
        received,
        problems
    ])?;
    Ok(())
}

/// The problems as stored: a JSON array, or NULL when there are none.
fn problems_json(problems: &[String]) -> Result<Option<String>, StoreError> {
    if problems.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(problems)
        .map(Some)
        .map_err(|e| StoreError::Invalid(format!("monitor config problems: {e}")))
}

/// The `max_runtime` of monitor `slug` of `project`, if its config sets one.
pub(super) fn max_runtime(
    conn: &Connection,
    project: i64,
    slug: &str,
) -> Result<Option<i64>, StoreError> {
    let minutes = conn
        .prepare_cached(
            "SELECT max_runtime FROM monitors WHERE project_id = ?1 AND monitor_slug = ?2",
        )?
        .query_row(params![project, slug], |r| r.get(0))
        .optional()?;
    Ok(minutes.flatten())
}

/// The environments monitor `slug` of `project` has runs in, as Sentry
/// names them (none is `production`), hopping from one to the next through
/// `check_ins_environment` rather than reading every run.
pub(crate) fn environments(
    conn: &Connection,
    project: i64,
    slug: &str,
) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached(
        "WITH RECURSIVE e(env) AS (
             SELECT MIN(COALESCE(environment, 'production')) FROM check_ins
             WHERE project_id = ?1 AND monitor_slug = ?2
             UNION ALL
             SELECT (SELECT MIN(COALESCE(environment, 'production')) FROM check_ins
                     WHERE project_id = ?1 AND monitor_slug = ?2
                         AND COALESCE(environment, 'production') > e.env)
             FROM e WHERE e.env IS NOT NULL)
         SELECT env FROM e WHERE env IS NOT NULL",
    )?
    .query_map(params![project, slug], |r| r.get(0))?
    .collect()
}

/// Whether monitor `slug` of `project` is muted (its failures open no
/// issue: `store::monitor_incidents`).
pub(crate) fn is_muted(conn: &Connection, project: i64, slug: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT muted FROM monitors WHERE project_id = ?1 AND monitor_slug = ?2")?
        .query_row(params![project, slug], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// The schedule the `monitors` columns `schedule_type`, `crontab`,
/// `interval_value` and `interval_unit` of row `r` (from column `first`
/// on, in that order) store, if any.
pub(crate) fn schedule_columns(
    r: &rusqlite::Row<'_>,
    first: usize,
) -> rusqlite::Result<Option<crate::api::types::MonitorSchedule>> {
    use crate::api::types::MonitorSchedule;
    let kind: Option<String> = r.get(first)?;
    Ok(
        match (
            kind.as_deref(),
            r.get(first + 1)?,
            r.get(first + 2)?,
            r.get(first + 3)?,
        ) {
            (Some("crontab"), Some(value), _, _) => Some(MonitorSchedule::Crontab { value }),
            (Some("interval"), _, Some(value), Some(unit)) => {
                Some(MonitorSchedule::Interval { value, unit })
            }
            _ => None,
        },
    )
}
