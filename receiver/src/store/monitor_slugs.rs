//! Migration 23: the monitor slugs a database stored as check-ins sent
//! them become the slugs Sentry files them under (`ingest::monitor_slug`),
//! as ingestion stores them since.
//!
//! Runs move to the slug whole; two slugs that become one are one monitor:
//! its runs are both's, and of the two configs the one received last is
//! kept. A run whose check-in id the other slug's monitor already has (a
//! run id names one run) keeps the slug it was sent with, as does a slug
//! of which nothing can be made (`"!!!"`); the check-ins list's
//! `monitor=` filter finds such runs when given the slug as it was sent
//! (`ingest::monitor_slug::filter_forms`).

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;
use crate::ingest::monitor_slug::sentry_slug;

/// Rewrites the slugs of `check_ins` and `monitors` (run in migration 23's
/// transaction).
pub(super) fn rewrite(conn: &Connection) -> Result<(), StoreError> {
    let stored: Vec<(i64, String)> = conn
        .prepare(
            "SELECT DISTINCT project_id, monitor_slug FROM check_ins
             UNION SELECT project_id, monitor_slug FROM monitors",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (project, sent) in stored {
        let slug = sentry_slug(&sent);
        if slug.is_empty() || slug == sent {
            continue;
        }
        conn.execute(
            "UPDATE OR IGNORE check_ins SET monitor_slug = ?3
             WHERE project_id = ?1 AND monitor_slug = ?2",
            params![project, sent, slug],
        )?;
        merge_config(conn, project, &sent, &slug)?;
    }
    Ok(())
}

/// Moves the config of monitor `sent` to `slug`, keeping the one received
/// last when both have one (a row without a config is older than any).
fn merge_config(conn: &Connection, project: i64, sent: &str, slug: &str) -> Result<(), StoreError> {
    let received = |s: &str| -> Result<Option<f64>, StoreError> {
        Ok(conn
            .query_row(
                "SELECT COALESCE(config_received, -1e300) FROM monitors
                 WHERE project_id = ?1 AND monitor_slug = ?2",
                params![project, s],
                |r| r.get(0),
            )
            .optional()?)
    };
    let Some(old) = received(sent)? else {
        return Ok(());
    };
    if let Some(new) = received(slug)? {
        let drop = if old > new { slug } else { sent };
        conn.execute(
            "DELETE FROM monitors WHERE project_id = ?1 AND monitor_slug = ?2",
            params![project, drop],
        )?;
    }
    conn.execute(
        "UPDATE OR IGNORE monitors SET monitor_slug = ?3
         WHERE project_id = ?1 AND monitor_slug = ?2",
        params![project, sent, slug],
    )?;
    Ok(())
}
