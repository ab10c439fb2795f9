//! Deleting issues with everything that belongs to them: through the API
//! (`DELETE …/issues/`) and by retention (`store::retention`).

use rusqlite::Connection;

use super::StoreError;

/// Deletes the issues `ids` (those that exist) with their events, the
/// events' attachments, hashes, users, activity, facets and grouping, in
/// the caller's transaction; returns how many issues there were. A cron
/// monitor incident that pointed at one forgets it: its next failure opens
/// a new issue.
pub(crate) fn delete_issues(conn: &Connection, ids: &[i64]) -> Result<usize, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    // Their ids (and their events') must not be handed out again.
    super::id_floors::raise(conn)?;
    let mut deleted = 0;
    for &id in ids {
        conn.prepare_cached(
            "DELETE FROM attachments WHERE id IN (
                 SELECT a.id FROM events e
                 JOIN attachments a ON a.project_id = e.project_id AND a.event_id = e.event_id
                 WHERE e.issue_id = ?1)",
        )?
        .execute([id])?;
        for sql in [
            "DELETE FROM events WHERE issue_id = ?1",
            "DELETE FROM group_hashes WHERE issue_id = ?1",
            "DELETE FROM issue_users WHERE issue_id = ?1",
            "DELETE FROM issue_activity WHERE issue_id = ?1",
            "DELETE FROM issue_facets WHERE issue_id = ?1",
            "DELETE FROM issue_grouping WHERE issue_id = ?1",
            "UPDATE monitor_incidents SET issue_id = NULL WHERE issue_id = ?1",
            // Issues merged into it led to it: they are gone with it.
            "DELETE FROM issue_redirects WHERE parent_id = ?1",
        ] {
            conn.prepare_cached(sql)?.execute([id])?;
        }
        deleted += conn
            .prepare_cached("DELETE FROM issues WHERE id = ?1")?
            .execute([id])?;
    }
    Ok(deleted)
}
