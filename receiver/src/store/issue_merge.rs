//! Merging issues that are one problem: what the grouping split, a user
//! joins (`PUT …/issues/?id=1&id=2` with `{"merge": true}`, as Sentry's
//! API).
//!
//! As in Sentry, the issue seen most often (the newest of those tied)
//! stays and takes the others in: their events, their grouping hashes (so
//! later events of those groupings land in it too), users, releases and
//! environments seen, counts and activity; it keeps its own title, status
//! and assignee, and its activity records the merge. The others are
//! deleted, their ids are never handed out again, and they and their short
//! ids lead to the issue that took them in (`issue_redirects`, as Sentry's
//! group redirects). Only issues of one project merge, and only error
//! issues: a failing cron monitor's issue is the monitor's own (Sentry
//! refuses those as well).

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;

use super::{issue_removal, StoreError, MONITOR_FAILURE_EVENT_TYPE};

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Merged {
    /// The issue that stayed.
    pub parent: i64,
    /// The issues merged into it (now deleted).
    pub children: Vec<i64>,
}

/// One issue's row, as far as a merge needs it.
struct Candidate {
    id: i64,
    project: i64,
    kind: Option<String>,
    times_seen: i64,
}

/// Merges the issues `ids` (at least two, all existing, of one project,
/// none a cron monitor's) into the one seen most often, in the caller's
/// transaction; `now` stamps the activity.
pub(crate) fn merge_issues(conn: &Connection, ids: &[i64], now: f64) -> Result<Merged, StoreError> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() < 2 {
        return Err(StoreError::Invalid(
            "merging needs at least two issues".to_owned(),
        ));
    }
    let mut candidates = Vec::with_capacity(ids.len());
    for &id in &ids {
        let row = conn
            .prepare_cached("SELECT project_id, kind, times_seen FROM issues WHERE id = ?1")?
            .query_row([id], |r| {
                Ok(Candidate {
                    id,
                    project: r.get(0)?,
                    kind: r.get(1)?,
                    times_seen: r.get(2)?,
                })
            })
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("issue {id}")))?;
        candidates.push(row);
    }
    if candidates
        .iter()
        .any(|c| c.project != candidates[0].project)
    {
        return Err(StoreError::Invalid(
            "merging across multiple projects is not supported".to_owned(),
        ));
    }
    if candidates
        .iter()
        .any(|c| c.kind.as_deref() == Some(MONITOR_FAILURE_EVENT_TYPE))
    {
        return Err(StoreError::Invalid(
            "only error issues can be merged (a cron monitor's issue cannot)".to_owned(),
        ));
    }
    // As Sentry: the one seen most often, the newest of those tied.
    let parent = candidates
        .iter()
        .max_by_key(|c| (c.times_seen, c.id))
        .map_or(ids[0], |c| c.id);
    let children: Vec<i64> = ids.iter().copied().filter(|&id| id != parent).collect();
    for &child in &children {
        absorb(conn, parent, child)?;
    }
    // Counts over all of them, and the times and releases of the earliest
    // and latest.
    conn.prepare_cached(
        "UPDATE issues SET
             user_count = (SELECT COUNT(*) FROM issue_users WHERE issue_id = ?1),
             times_seen = times_seen + (SELECT COALESCE(SUM(times_seen), 0) FROM issues
                                        WHERE id IN (SELECT value FROM json_each(?2))),
             first_release = (SELECT first_release FROM issues
                              WHERE id = ?1 OR id IN (SELECT value FROM json_each(?2))
                              ORDER BY first_seen, id LIMIT 1),
             last_release = (SELECT last_release FROM issues
                             WHERE id = ?1 OR id IN (SELECT value FROM json_each(?2))
                             ORDER BY last_seen DESC, id DESC LIMIT 1),
             first_seen = (SELECT MIN(first_seen) FROM issues
                           WHERE id = ?1 OR id IN (SELECT value FROM json_each(?2))),
             last_seen = (SELECT MAX(last_seen) FROM issues
                          WHERE id = ?1 OR id IN (SELECT value FROM json_each(?2)))
         WHERE id = ?1",
    )?
    .execute(params![parent, json!(children).to_string()])?;
    conn.prepare_cached(
        "INSERT INTO issue_activity (issue_id, kind, data, created) VALUES (?1, 'merge', ?2, ?3)",
    )?
    .execute(params![
        parent,
        json!({"issues": children.iter().map(|id| json!({"id": id.to_string()})).collect::<Vec<_>>()})
            .to_string(),
        now
    ])?;
    // What is left of them (their grouping explanation) goes; the
    // redirects to them now lead to the parent.
    issue_removal::delete_issues(conn, &children)?;
    Ok(Merged { parent, children })
}

/// Moves `child`'s events, hashes, users, facets and activity to `parent`,
/// and leads its id, its short id and what led to it to `parent`.
fn absorb(conn: &Connection, parent: i64, child: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO issue_redirects (id, project_id, short_seq, parent_id)
             SELECT id, project_id, short_seq, ?1 FROM issues WHERE id = ?2",
    )?
    .execute(params![parent, child])?;
    for sql in [
        "UPDATE issue_redirects SET parent_id = ?1 WHERE parent_id = ?2",
        "UPDATE events SET issue_id = ?1 WHERE issue_id = ?2",
        "UPDATE group_hashes SET issue_id = ?1 WHERE issue_id = ?2",
        "UPDATE issue_activity SET issue_id = ?1 WHERE issue_id = ?2",
        "INSERT OR IGNORE INTO issue_users (issue_id, user_key)
             SELECT ?1, user_key FROM issue_users WHERE issue_id = ?2",
        "INSERT OR IGNORE INTO issue_facets (issue_id, kind, value)
             SELECT ?1, kind, value FROM issue_facets WHERE issue_id = ?2",
    ] {
        conn.prepare_cached(sql)?.execute(params![parent, child])?;
    }
    Ok(())
}
