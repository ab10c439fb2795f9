//! Issues for failing cron monitors, opened and resolved as Sentry's
//! monitor incidents are.
//!
//! Each monitor environment (a monitor in one environment; none is
//! `production`) is either healthy or in an *incident*:
//!
//! * **Opening.** A run that finishes `error`, or whose final update
//!   arrives after its deadline (`timeout`, `store::check_ins`), is a
//!   failure. A healthy environment opens an incident when its last
//!   `failure_issue_threshold` runs (its monitor's config; 1 when unset),
//!   newest first by start and read as the lists read them, all failed.
//!   Sentry also opens one when the environment has fewer runs than the
//!   threshold (it notes that as a flaw); here the threshold must be met.
//! * **Occurrences.** Opening an incident adds one occurrence per failed
//!   run of the threshold; each later failure during the incident adds
//!   one. An occurrence is an event of type `generic` in the issue
//!   `Monitor failure: {slug}`, level `error`, whose message says what
//!   failed (`An error check-in was detected`, or `2 error and 1 timeout
//!   check-ins were detected` for a threshold of 3) and whose `monitor`
//!   context names the monitor, its config and its last successful run.
//!   All incidents of one monitor environment share one issue (its
//!   fingerprint is `monitor-failure`, the slug and the environment), so
//!   an incident after a recovery reopens it as a regression.
//! * **Recovery.** A run that finishes `ok` during an incident ends it
//!   when the last `recovery_threshold` runs (1 when unset) all finished
//!   `ok`; the issue is then resolved, with an activity that says so.
//!
//! What is not here: runs that never come (`missed`) and runs that never
//! finish are found only when lists are read (`api::missed_runs`,
//! `check_ins::status_as_read`), as nothing runs on a clock; they open no
//! incident. Nor is a monitor muted: there is no muting.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};

use super::apply::{self, EventRef};
use super::check_ins::{self, Ended};
use super::known_rows::KnownRows;
use super::records::{CheckInRecord, EventRecord, IngestSummary};
use super::StoreError;

/// The first value of every occurrence's fingerprint.
pub(crate) const FINGERPRINT: &str = "monitor-failure";
/// The event type of an occurrence (Sentry's for issue-platform events).
pub(crate) const EVENT_TYPE: &str = "generic";
/// The zstd level occurrences are stored at: they are small and rare.
const LEVEL: i32 = 3;
/// The highest threshold a config may set (`ingest::monitor_config`).
const MAX_THRESHOLD: i64 = 720;

/// One monitor environment.
struct MonitorEnv<'a> {
    project: i64,
    slug: &'a str,
    environment: &'a str,
}

/// Opens, adds to or ends the incident of `c`'s monitor environment now
/// that `c`, received at `received`, finished its run as `ended`.
pub(super) fn run_ended<'c>(
    conn: &'c Connection,
    work: &mut apply::BatchWork<'c>,
    known: &mut KnownRows,
    project: i64,
    received: f64,
    c: &CheckInRecord,
    ended: Ended,
) -> Result<(), StoreError> {
    let env = MonitorEnv {
        project,
        slug: &c.monitor_slug,
        environment: check_ins::environment_of(c),
    };
    match ended {
        Ended::Ok => recover(conn, work, known, &env, received),
        Ended::Error | Ended::Timeout => fail(conn, work, known, &env, received, c, ended),
    }
}

/// A failed run: an occurrence if an incident is open, else one per
/// failed run when the threshold is met.
fn fail<'c>(
    conn: &'c Connection,
    work: &mut apply::BatchWork<'c>,
    known: &mut KnownRows,
    env: &MonitorEnv<'_>,
    received: f64,
    c: &CheckInRecord,
    ended: Ended,
) -> Result<(), StoreError> {
    let (incident, failures) = match open_incident(conn, env)? {
        Some(id) => (id, vec![status_name(ended).to_owned()]),
        None => {
            let n = threshold(conn, env, "failure_issue_threshold")?;
            let runs = last_runs(conn, env, n, received)?;
            let failed = |(status, _): &(String, f64)| status == "error" || status == "timeout";
            if runs.len() < n || !runs.iter().all(failed) {
                return Ok(());
            }
            let started = runs.iter().map(|r| r.1).fold(received, f64::min);
            conn.prepare_cached(
                "INSERT INTO monitor_incidents (project_id, monitor_slug, environment, started)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![env.project, env.slug, env.environment, started])?;
            let statuses = runs.into_iter().map(|r| r.0).collect();
            (conn.last_insert_rowid(), statuses)
        }
    };
    let reason = failure_reason(&failures);
    let context = monitor_context(conn, env)?;
    let trace_id = trace_id_of(c);
    for _ in &failures {
        let event = occurrence(env, received, c, incident, &reason, &context, &trace_id)?;
        let mut summary = IngestSummary::default();
        apply::apply_event(
            conn,
            work,
            env.project,
            received,
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

/// A run that finished `ok`: ends the open incident, if any, when the
/// recovery threshold is met, and resolves its issue.
fn recover<'c>(
    conn: &'c Connection,
    work: &mut apply::BatchWork<'c>,
    known: &mut KnownRows,
    env: &MonitorEnv<'_>,
    received: f64,
) -> Result<(), StoreError> {
    let Some(incident) = open_incident(conn, env)? else {
        return Ok(());
    };
    let n = threshold(conn, env, "recovery_threshold")?;
    if n > 1 {
        let runs = last_runs(conn, env, n, received)?;
        if runs.len() < n || runs.iter().any(|(status, _)| status != "ok") {
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
            "reason": "the monitor recovered",
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

/// The status (as read at `now`) and first arrival of the last `n` runs
/// of `env`, newest first.
fn last_runs(
    conn: &Connection,
    env: &MonitorEnv<'_>,
    n: usize,
    now: f64,
) -> Result<Vec<(String, f64)>, StoreError> {
    let status = check_ins::status_as_read("k", "m.max_runtime", "?4");
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {status}, k.received FROM check_ins k
             LEFT JOIN monitors m
                 ON m.project_id = k.project_id AND m.monitor_slug = k.monitor_slug
             WHERE k.project_id = ?1 AND k.monitor_slug = ?2
                 AND COALESCE(k.environment, 'production') = ?3
             ORDER BY k.received DESC, k.id DESC LIMIT ?5"
        ))?
        .query_map(
            params![env.project, env.slug, env.environment, now, n as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// How a failed run's status is named.
fn status_name(ended: Ended) -> &'static str {
    match ended {
        Ended::Timeout => "timeout",
        _ => "error",
    }
}

/// What failed, in words, much as Sentry's `get_failure_reason` puts it: "An
/// error check-in was detected" for one, "2 error and 1 timeout check-ins
/// were detected" for several.
pub(crate) fn failure_reason(statuses: &[String]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for status in statuses {
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

/// The trace id the check-in named in `contexts.trace`, if any.
fn trace_id_of(c: &CheckInRecord) -> Option<String> {
    let json = super::decompress(&c.payload).ok()?;
    let value: Value = serde_json::from_slice(&json).ok()?;
    let id = value.pointer("/contexts/trace/trace_id")?.as_str()?;
    let id = id.replace('-', "").to_ascii_lowercase();
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// An occurrence of `incident`: the event that counts one failure into
/// the monitor environment's issue.
fn occurrence(
    env: &MonitorEnv<'_>,
    received: f64,
    c: &CheckInRecord,
    incident: i64,
    reason: &str,
    context: &Value,
    trace_id: &Option<String>,
) -> Result<EventRecord, StoreError> {
    let event_id = crate::store::generate_key();
    let title = format!("Monitor failure: {}", env.slug);
    let mut contexts = json!({ "monitor": context });
    if let Some(trace_id) = trace_id {
        contexts["trace"] = json!({ "trace_id": trace_id });
    }
    let payload = json!({
        "event_id": event_id,
        "type": EVENT_TYPE,
        "timestamp": received,
        "level": "error",
        "platform": "other",
        "logger": "monitors",
        "message": reason,
        "environment": env.environment,
        "release": c.release,
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
    grouping.title = title.clone();
    grouping.culprit = None;
    grouping.level = "error".to_owned();
    let json = serde_json::to_vec(&payload)
        .map_err(|e| StoreError::Invalid(format!("monitor failure event: {e}")))?;
    Ok(EventRecord {
        event_id,
        kind: EVENT_TYPE.to_owned(),
        timestamp: received,
        release: c.release.clone(),
        environment: Some(env.environment.to_owned()),
        level: "error".to_owned(),
        title,
        platform: Some("other".to_owned()),
        trace_id: trace_id.clone(),
        user_key: None,
        payload: super::compress(&json, LEVEL)?,
        grouping,
        attachments: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::failure_reason;

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
    }
}
