//! Cron monitors from `check_in` items (PROTOCOL.md A.1):
//!
//! * `GET /api/0/local/monitors/`: one row per project and monitor slug,
//!   the monitor's latest run, how many runs started in the time range
//!   (default 24 hours), in all, by status and failed (`error`, `timeout`,
//!   `missed`), and its config; the most recently started first (at most
//!   1 000). Filters: `project`, `monitor` (slug, or as sent; repeatable).
//! * `GET /api/0/local/check-ins/`: the check-ins, one row per run (a
//!   job's `in_progress` and its final update under one check-in id are
//!   one row, `store::check_ins`), newest first by their first arrival, in
//!   cursor pages (`limit` up to 100). Filters: `project`, `monitor` (slug,
//!   repeatable), `status` (repeatable), `environment`, the time range on
//!   first arrival.
//!
//! Statuses are read at the time of the request: a run in progress past
//! its deadline is `timeout` (`store::check_ins::status_as_read`), in the
//! lists, the filters and the counts. With a schedule, the monitors list
//! also says when the next run is due and counts the expected runs that
//! did not come as `missed` (`api::schedule`); the check-ins list shows
//! them among the runs, inferred when it is read (`api::missed_runs`).

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;

use super::missed_runs;
use super::params::{iso, Cursor, Page, Range, Sql};
use super::projects;
use super::schedule::{Due, Expected};
use super::types::{CheckIn, Monitor, MonitorConfig, MonitorEnvironment, MonitorIncident};
use super::{ApiError, Ctx, Reply};
use crate::store::check_ins::{status_as_read, status_at};

/// The statuses that count as a failed run.
const FAILED: [&str; 3] = ["error", "timeout", "missed"];

/// `GET /api/0/local/monitors/`
pub(crate) async fn monitors(ctx: &Ctx) -> Result<Reply, ApiError> {
    let mut range = Range::from_query(&ctx.query, ctx.now())?;
    if range.start.is_none() && range.end.is_none() {
        range.start = Some(ctx.now() - 24.0 * 3600.0);
    }
    let keys = ctx.query.all("project");
    let slugs = ctx.query.values("monitor");
    let now = ctx.now();
    let rows = ctx
        .read(move |c| {
            let mut filter = Sql::default();
            if let Some(ids) = projects::filter_ids(c, &keys)? {
                let cond = filter.in_list("m.project_id", ids);
                filter.cond(cond);
            }
            if !slugs.is_empty() {
                let cond = filter.in_list("m.monitor_slug", monitor_forms(c, &slugs)?);
                filter.cond(cond);
            }
            monitor_rows(c, &filter, &range, now)
        })
        .await?;
    Reply::json(&rows)
}

/// Monitor `slug` of project `project` as the monitors list shows it
/// (over the last 24 hours), if it has runs.
pub(crate) fn one_monitor(
    c: &rusqlite::Connection,
    project: i64,
    slug: &str,
    now: f64,
) -> Result<Option<Monitor>, ApiError> {
    let mut filter = Sql::default();
    let p = filter.bind(project);
    filter.cond(format!("m.project_id = {p}"));
    let cond = filter.in_list("m.monitor_slug", monitor_forms(c, &[slug.to_owned()])?);
    filter.cond(cond);
    let range = Range {
        start: Some(now - 24.0 * 3600.0),
        ..Range::default()
    };
    Ok(monitor_rows(c, &filter, &range, now)?.into_iter().next())
}

/// The monitors whose latest run `m` passes `filter`, with their runs
/// counted over `range` and statuses as read at `now`.
fn monitor_rows(
    c: &rusqlite::Connection,
    filter: &Sql,
    range: &Range,
    now: f64,
) -> Result<Vec<Monitor>, ApiError> {
    // SQLite takes a bare column of a MAX() aggregate from the row that
    // holds the maximum: each monitor's latest run, one index scan.
    let latest = format!(
        "SELECT m.project_id, m.monitor_slug, m.status, MAX(m.received), m.duration,
             m.environment, m.updated
         FROM check_ins m WHERE {}
         GROUP BY m.project_id, m.monitor_slug
         ORDER BY MAX(m.received) DESC LIMIT 1000",
        filter.where_clause()
    );
    // Each with its latest run's first and last update.
    let mut monitors: Vec<(Monitor, f64, f64)> = c
        .prepare(&latest)?
        .query_map(rusqlite::params_from_iter(filter.params.iter()), |r| {
            let project: i64 = r.get(0)?;
            let received: f64 = r.get(3)?;
            let monitor = Monitor {
                project_id: project.to_string(),
                monitor_slug: r.get(1)?,
                last_status: r.get(2)?,
                last_check_in: iso(received),
                last_duration: r.get(4)?,
                environment: r.get(5)?,
                check_ins: 0,
                failed: 0,
                status_counts: BTreeMap::new(),
                config: None,
                config_problems: Vec::new(),
                next_check_in: None,
                missed_since: None,
                environments: Vec::new(),
                incidents: Vec::new(),
                is_muted: false,
            };
            Ok((monitor, received, r.get(6)?))
        })?
        .collect::<Result<_, _>>()?;
    for (m, received, updated) in &mut monitors {
        let project = project_of(m);
        (m.config, m.config_problems) = monitor_config(c, project, &m.monitor_slug)?;
        let max_runtime = m.config.as_ref().and_then(|config| config.max_runtime);
        m.last_status = status_at(&m.last_status, *received, *updated, max_runtime, now).to_owned();
        m.status_counts = status_counts(c, (project, &m.monitor_slug), max_runtime, range, now)?;
        if let Some(config) = &m.config {
            // Read once for all its environments and gaps.
            let expected = Expected::of(config);
            let (mut next, mut since, mut missed) = (None::<f64>, None::<f64>, 0);
            for env in missed_runs::environments(c, (project, &m.monitor_slug))? {
                let (env_missed, due, latest) = missed_runs(
                    c,
                    (project, &m.monitor_slug, &env),
                    expected.as_ref(),
                    range,
                    now,
                )?;
                missed += env_missed;
                let earliest = |a: Option<f64>, b: Option<f64>| match (a, b) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                next = earliest(next, due.as_ref().map(|d| d.next));
                since = earliest(since, due.as_ref().and_then(|d| d.missed_since));
                m.environments.push(MonitorEnvironment {
                    name: env,
                    last_check_in: iso(latest),
                    next_check_in: due.as_ref().map(|d| iso(d.next)),
                    missed_since: due.as_ref().and_then(|d| d.missed_since).map(iso),
                    missed: env_missed,
                });
            }
            m.next_check_in = next.map(iso);
            m.missed_since = since.map(iso);
            if missed > 0 {
                *m.status_counts.entry("missed".to_owned()).or_default() += missed;
            }
        }
        m.check_ins = m.status_counts.values().sum();
        m.failed = FAILED.iter().filter_map(|s| m.status_counts.get(*s)).sum();
        m.incidents = open_incidents(c, (project, &m.monitor_slug))?;
        m.is_muted = crate::store::monitors::is_muted(c, project, &m.monitor_slug)?;
    }
    Ok(monitors.into_iter().map(|(m, _, _)| m).collect())
}

/// The open incidents of monitor `(project, slug)`, by environment
/// (`store::monitor_incidents`); an issue deleted since is `null`.
fn open_incidents(
    c: &rusqlite::Connection,
    (project, slug): (i64, &str),
) -> Result<Vec<MonitorIncident>, ApiError> {
    Ok(c.prepare_cached(
        "SELECT n.environment, n.started, i.id FROM monitor_incidents n
         LEFT JOIN issues i ON i.id = n.issue_id
         WHERE n.project_id = ?1 AND n.monitor_slug = ?2 AND n.resolved IS NULL
         ORDER BY n.environment",
    )?
    .query_map(rusqlite::params![project, slug], |r| {
        Ok(MonitorIncident {
            environment: r.get(0)?,
            started: iso(r.get(1)?),
            issue_id: r.get::<_, Option<i64>>(2)?.map(|id| id.to_string()),
        })
    })?
    .collect::<Result<_, _>>()?)
}

/// How many runs of monitor `(project, slug)` in environment `env` were
/// due in `range` and did not come by their margin (between two runs
/// there, or since its latest, as read at `now`), what is due after its
/// latest run there, and when that run started. Reads the starts of its
/// runs there from the last one before the range to the first after it
/// (`check_ins_environment`); none when its schedule cannot be read
/// (`expected` is `None`): then nothing is missed or due.
fn missed_runs(
    c: &rusqlite::Connection,
    (project, slug, env): (i64, &str, &str),
    expected: Option<&Expected>,
    range: &Range,
    now: f64,
) -> Result<(i64, Option<Due>, f64), ApiError> {
    let from = range.start.unwrap_or(f64::MIN);
    let end = range.end.unwrap_or(f64::MAX).min(now);
    let same = "project_id = ?1 AND monitor_slug = ?2 AND COALESCE(environment, 'production') = ?5";
    let starts: Vec<f64> = if expected.is_none() {
        Vec::new()
    } else {
        c.prepare_cached(&format!(
            "SELECT received FROM check_ins
             WHERE {same} AND received >= COALESCE(
                 (SELECT MAX(received) FROM check_ins WHERE {same} AND received < ?3), ?3)
                 AND received <= COALESCE(
                 (SELECT MIN(received) FROM check_ins WHERE {same} AND received > ?4), ?4)
             ORDER BY received"
        ))?
        .query_map(rusqlite::params![project, slug, from, end, env], |r| {
            r.get(0)
        })?
        .collect::<Result<_, _>>()?
    };
    let latest: f64 = c
        .prepare_cached(
            "SELECT MAX(received) FROM check_ins
             WHERE project_id = ?1 AND monitor_slug = ?2
                 AND COALESCE(environment, 'production') = ?3",
        )?
        .query_row(rusqlite::params![project, slug, env], |r| {
            r.get::<_, Option<f64>>(0)
        })?
        .unwrap_or(now);
    let due_after = |start: f64, until: f64| expected.and_then(|e| e.due(start, until, from));
    let mut missed = 0i64;
    for pair in starts.windows(2) {
        if let Some(due) = due_after(pair[0], pair[1]) {
            missed += due.missed.iter().filter(|t| **t <= end).count() as i64;
        }
    }
    // Since the latest run (the latest of all, whatever the range).
    let due = due_after(latest, now);
    if let Some(due) = &due {
        missed += due.missed.iter().filter(|t| **t <= end).count() as i64;
    }
    Ok((missed, due, latest))
}

/// How many runs of monitor `(project, slug)` that started in `range`
/// have each status, as read at `now` with the monitor's `max_runtime`.
fn status_counts(
    c: &rusqlite::Connection,
    (project, slug): (i64, &str),
    max_runtime: Option<i64>,
    range: &Range,
    now: f64,
) -> Result<BTreeMap<String, i64>, ApiError> {
    let mut counted = Sql::default();
    let p = counted.bind(project);
    let s = counted.bind(slug.to_owned());
    let runtime = counted.bind(max_runtime);
    let at = counted.bind(now);
    counted.cond(format!("w.project_id = {p} AND w.monitor_slug = {s}"));
    range.restrict(&mut counted, "w.received");
    let counts = c
        .prepare_cached(&format!(
            "SELECT {}, COUNT(*) FROM check_ins w WHERE {} GROUP BY 1",
            status_as_read("w", &runtime, &at),
            counted.where_clause()
        ))?
        .query_map(rusqlite::params_from_iter(counted.params.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    Ok(counts)
}

/// The project id of a monitor row (made from an integer).
fn project_of(m: &Monitor) -> i64 {
    m.project_id.parse().unwrap_or(0)
}

/// The stored config of monitor `slug` of `project`, and the problems of
/// the latest one sent.
fn monitor_config(
    c: &rusqlite::Connection,
    project: i64,
    slug: &str,
) -> Result<(Option<MonitorConfig>, Vec<String>), ApiError> {
    let row = c
        .prepare_cached(
            "SELECT schedule_type, crontab, interval_value, interval_unit, checkin_margin,
                 max_runtime, timezone, failure_issue_threshold, recovery_threshold, owner,
                 config_received, config_problems
             FROM monitors WHERE project_id = ?1 AND monitor_slug = ?2",
        )?
        .query_row(rusqlite::params![project, slug], |r| {
            let schedule = crate::store::monitors::schedule_columns(r, 0)?;
            let received: Option<f64> = r.get(10)?;
            let config = match (schedule, received) {
                (Some(schedule), Some(received)) => Some(MonitorConfig {
                    schedule,
                    checkin_margin: r.get(4)?,
                    max_runtime: r.get(5)?,
                    timezone: r.get(6)?,
                    failure_issue_threshold: r.get(7)?,
                    recovery_threshold: r.get(8)?,
                    owner: r.get(9)?,
                    updated: iso(received),
                }),
                _ => None,
            };
            Ok((config, r.get::<_, Option<String>>(11)?))
        })
        .optional()?;
    let Some((config, problems)) = row else {
        return Ok((None, Vec::new()));
    };
    // Written by `store::monitors` as a JSON array; anything else is shown
    // as it is rather than hidden.
    let problems = problems
        .map(|text| serde_json::from_str(&text).unwrap_or_else(|_| vec![text]))
        .unwrap_or_default();
    Ok((config, problems))
}

/// The filters and page of a check-ins request.
struct CheckInQuery {
    keys: Vec<String>,
    slugs: Vec<String>,
    statuses: Vec<String>,
    environments: Vec<String>,
    range: Range,
    cursor: Option<Cursor>,
    limit: i64,
    /// The time statuses are read at.
    now: f64,
}

/// How many runs the scheduled monitors of `projects` (ids or slugs; all
/// when empty) named by `slugs` (any when empty; either slug form) missed
/// in `range` as read at `now`, in the environments `environments` names
/// (all when empty), as the monitors list counts them (`stats/`'s
/// `missedCheckIns`).
pub(crate) fn count_missed(
    c: &rusqlite::Connection,
    projects: Vec<String>,
    slugs: &[String],
    environments: Vec<String>,
    range: Range,
    now: f64,
) -> Result<i64, ApiError> {
    let query = CheckInQuery {
        keys: projects,
        slugs: monitor_forms(c, slugs)?,
        statuses: Vec::new(),
        environments,
        range,
        cursor: None,
        limit: 0,
        now,
    };
    let mut missed = 0;
    for m in scheduled_monitors(c, &query)? {
        let env = (m.project, m.slug.as_str(), m.environment.as_str());
        missed += missed_runs(c, env, Some(&m.expected), &range, now)?.0;
    }
    Ok(missed)
}

/// `GET /api/0/local/check-ins/`
pub(crate) async fn check_ins(ctx: &Ctx) -> Result<Reply, ApiError> {
    let q = &ctx.query;
    let mut query = CheckInQuery {
        keys: q.all("project"),
        slugs: q.values("monitor"),
        statuses: q.all("status"),
        environments: q.values("environment"),
        range: Range::from_query(q, ctx.now())?,
        cursor: Cursor::from_query(q)?,
        limit: q.limit(100, 100)?,
        now: ctx.now(),
    };
    let base = ctx.link_base();
    let (rows, link) = ctx
        .read(move |c| {
            query.slugs = monitor_forms(c, &query.slugs)?;
            query.statuses = run_statuses(c, &query.statuses)?;
            let runs = check_in_rows(c, &query)?;
            let (rows, boundary) = match missed_span(&query) {
                Some(span) => {
                    let monitors = scheduled_monitors(c, &query)?;
                    missed_runs::merge(c, &span, &monitors, runs)?
                }
                None => (runs, None),
            };
            let mut page = Page::build(rows, query.limit as usize, query.cursor, |(id, _, t)| {
                (*t, *id)
            });
            if let Some(boundary) = boundary {
                // On from the boundary's run, in the direction read; an
                // empty page keeps the way back open.
                page.resume_at(boundary.time, boundary.id, query.cursor);
            }
            let link = page.link(&base);
            Ok((
                page.rows.into_iter().map(|(_, k, _)| k).collect::<Vec<_>>(),
                link,
            ))
        })
        .await?;
    Ok(Reply::json(&rows)?.with_header(hyper::header::LINK, link))
}

/// The slugs `monitor=` values read: each one's slug as Sentry makes it
/// (`Nightly Job` is `nightly-job`), and the value as sent too where runs
/// are stored under it (migration 23 leaves a few: `store::monitor_slugs`).
/// Only such values read two slugs, which SQLite then sorts; one slug is
/// read in time order from `check_ins_monitor`.
pub(crate) fn monitor_forms(
    c: &rusqlite::Connection,
    values: &[String],
) -> Result<Vec<String>, ApiError> {
    let mut forms = Vec::with_capacity(values.len());
    for value in values {
        let (slug, sent) = crate::ingest::monitor_slug::filter_forms(value);
        forms.push(slug);
        if let Some(sent) = sent {
            let stored: bool = c
                // Through `check_ins_monitor`, which starts with the project.
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM check_ins
                     WHERE project_id IN (SELECT id FROM projects) AND monitor_slug = ?1)",
                )?
                .query_row([&sent], |r| r.get(0))?;
            if stored {
                forms.push(sent);
            }
        }
    }
    Ok(forms)
}

/// What the missed runs of the page `query` asks for are read from; `None`
/// when its filters leave them out (statuses without `missed`).
fn missed_span(query: &CheckInQuery) -> Option<missed_runs::Span> {
    let wanted = query.statuses.is_empty() || query.statuses.iter().any(|s| s == "missed");
    if !wanted {
        return None;
    }
    let newest_first = !query.cursor.is_some_and(|c| c.is_prev);
    let mut from = query.range.start.unwrap_or(f64::NEG_INFINITY);
    let mut to = query.range.end.unwrap_or(query.now).min(query.now);
    if let Some(c) = query.cursor {
        if newest_first {
            to = to.min(c.value);
        } else {
            from = from.max(c.value);
        }
    }
    Some(missed_runs::Span {
        newest_first,
        from,
        to,
        after: query.cursor.map(|c| (c.value, c.id)),
        need: query.limit as usize + 1,
        now: query.now,
    })
}

/// The statuses a run is read with.
const RUN_STATUSES: [&str; 5] = ["ok", "error", "in_progress", "timeout", "missed"];

/// `status=` values: the statuses runs are read with, in any case, and any
/// other that runs are stored with (receivers before Sentry's statuses were
/// enforced stored what SDKs sent); another is a 400 naming the statuses.
fn run_statuses(c: &rusqlite::Connection, values: &[String]) -> Result<Vec<String>, ApiError> {
    values
        .iter()
        .map(|v| {
            let refused =
                match super::params::known_values(vec![v.clone()], "status", &RUN_STATUSES, &[]) {
                    Ok(mut status) => return Ok(status.remove(0)),
                    Err(refused) => refused,
                };
            let stored: bool = c
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM check_ins WHERE status = ?1)")?
                .query_row([v], |r| r.get(0))?;
            if stored {
                Ok(v.clone())
            } else {
                Err(refused)
            }
        })
        .collect()
}

/// The monitors with a schedule that `query`'s project and monitor filters
/// name, in each of their environments that its environment filter names.
fn scheduled_monitors(
    c: &rusqlite::Connection,
    query: &CheckInQuery,
) -> Result<Vec<missed_runs::Scheduled>, ApiError> {
    let mut sql = Sql::default();
    sql.cond("m.schedule_type IS NOT NULL".to_owned());
    if let Some(ids) = projects::filter_ids(c, &query.keys)? {
        let cond = sql.in_list("m.project_id", ids);
        sql.cond(cond);
    }
    if !query.slugs.is_empty() {
        let cond = sql.in_list("m.monitor_slug", query.slugs.iter().cloned());
        sql.cond(cond);
    }
    let keys: Vec<(i64, String)> = c
        .prepare(&format!(
            "SELECT m.project_id, m.monitor_slug FROM monitors m WHERE {}",
            sql.where_clause()
        ))?
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut monitors = Vec::with_capacity(keys.len());
    for (project, slug) in keys {
        let (Some(config), _) = monitor_config(c, project, &slug)? else {
            continue;
        };
        // A schedule that cannot be read expects no runs.
        let Some(expected) = Expected::of(&config) else {
            continue;
        };
        for environment in missed_runs::environments(c, (project, &slug))? {
            if query.environments.is_empty() || query.environments.contains(&environment) {
                monitors.push(missed_runs::Scheduled {
                    project,
                    slug: slug.clone(),
                    environment,
                    expected: expected.clone(),
                });
            }
        }
    }
    Ok(monitors)
}

/// One page (and one row more) of the runs `query` asks for: `(id, run,
/// received)`, each with its status as read at `query.now`.
fn check_in_rows(
    c: &rusqlite::Connection,
    query: &CheckInQuery,
) -> Result<Vec<(i64, CheckIn, f64)>, ApiError> {
    let mut sql = Sql::default();
    if let Some(ids) = projects::filter_ids(c, &query.keys)? {
        let cond = sql.in_list("k.project_id", ids);
        sql.cond(cond);
    }
    let now = sql.bind(query.now);
    let status = status_as_read("k", "mc.max_runtime", &now);
    for (expr, values) in [
        ("k.monitor_slug", &query.slugs),
        (status.as_str(), &query.statuses),
        // No environment is `production`, as Sentry files it.
        ("COALESCE(k.environment, 'production')", &query.environments),
    ] {
        if !values.is_empty() {
            let cond = sql.in_list(expr, values.iter().cloned());
            sql.cond(cond);
        }
    }
    query.range.restrict(&mut sql, "k.received");
    let order = sql.keyset("k.received", "k.id", false, query.cursor);
    // Named monitors are read in time order from check_ins_monitor;
    // otherwise all check-ins in time order, so that a page stops at its
    // limit instead of sorting a project's every check-in.
    let index = if query.slugs.is_empty() {
        "INDEXED BY check_ins_time"
    } else {
        ""
    };
    let text = format!(
        "SELECT k.id, k.project_id, k.check_in_id, k.monitor_slug, {status}, k.duration,
             k.release, k.environment, k.received, k.updated
         FROM check_ins k {index}
         LEFT JOIN monitors mc ON mc.project_id = k.project_id
             AND mc.monitor_slug = k.monitor_slug
         WHERE {} ORDER BY {order} LIMIT {}",
        sql.where_clause(),
        query.limit + 1
    );
    let rows = c
        .prepare(&text)?
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            let project: i64 = r.get(1)?;
            let received: f64 = r.get(8)?;
            let updated: f64 = r.get(9)?;
            Ok((
                r.get(0)?,
                CheckIn {
                    check_in_id: Some(r.get(2)?),
                    project_id: project.to_string(),
                    monitor_slug: r.get(3)?,
                    status: r.get(4)?,
                    duration: r.get(5)?,
                    release: r.get(6)?,
                    environment: r.get(7)?,
                    received: iso(received),
                    updated: iso(updated),
                    inferred: false,
                },
                received,
            ))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}
