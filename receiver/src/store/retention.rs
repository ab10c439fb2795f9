//! Data retention: what was received before a cutoff is deleted, a step
//! at a time.
//!
//! A receiver that runs for months (a shared development box, a long CI
//! runner) would otherwise grow its database without end. Sentry keeps
//! events for 90 days; `receiver serve --retention` does the same by
//! default, and `receiver prune --older-than` deletes on demand.
//!
//! What goes, by the time the receiver stored it (`received`), not the
//! time an SDK claims, so that an event sent today with an old timestamp
//! is kept as long as any other:
//!
//! * events, attachments, transactions with their spans, standalone span
//!   items, log and metric containers (with their summaries), session
//!   aggregates, client reports, user feedback and raw items of unknown
//!   types;
//! * sessions once all their updates are old (release health counts a
//!   session by its init and its crash by a later update: half a session
//!   would skew crash-free rates);
//! * cron check-ins, except each monitor environment's latest run: the
//!   clock finds the environments whose runs it expects from their runs,
//!   and a job that runs less often than the retention must still be
//!   counted missed when it does not come;
//! * spans that came on their own (no transaction), by their start time,
//!   the only time they keep;
//! * issues left without events by the events deleted, with their hashes,
//!   users, facets, activity and grouping: an event with the same grouping
//!   later opens a new issue, as in Sentry;
//! * cron monitor incidents resolved before the cutoff.
//!
//! Projects, keys, tokens, quotas, releases, deploys, monitors and their
//! open incidents stay. An issue that stays keeps its counts (times seen,
//! users) and the environments and releases it was seen in; it counts the
//! deletion (`issues.events_pruned`), so its tag breakdown is read again
//! (`api::tag_cache`).
//!
//! Rows are read oldest first in id order, the order they were stored in,
//! and a walk stops at the first row received since the cutoff: a step
//! reads what it deletes (and the few rows it keeps), never what stays
//! because it is recent. Feedback is the exception to that order (a user
//! report sent again updates its row's time) and is found on its time
//! index instead. Should the system clock have gone back, a row stored
//! before an older-looking one waits until that one is old enough too. One
//! step deletes at most about `limit` rows of each table (a transaction
//! goes in the step that deletes its last span), so that the writer, which
//! runs it between batches of ingestion, is never held for long; the
//! caller repeats steps until one deletes nothing.
//!
//! ```
//! use receiver::store::{Store, WriteOp, WriteResult};
//! let dir = tempfile::tempdir()?;
//! let (store, _) = Store::open(&dir.path().join("db.sqlite"), &Default::default())?;
//! let cutoff = 1e12; // far in the future: everything is older
//! match store.write_blocking(WriteOp::Prune { cutoff, limit: 1000 })? {
//!     WriteResult::Pruned(pruned) => assert_eq!(pruned.total(), 0, "nothing stored yet"),
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{Store, StoreError, WriteOp, WriteResult};

/// How many rows of each table one step deletes at most, when the caller
/// has no reason to choose: a few milliseconds of the writer's time.
pub const STEP_LIMIT: usize = 1000;

/// How many rows a step (or a whole prune) deleted, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pruned {
    /// Error events.
    pub events: u64,
    /// Attachments.
    pub attachments: u64,
    /// Issues left without events.
    pub issues: u64,
    /// Transactions.
    pub transactions: u64,
    /// Spans (of the transactions, and standalone ones).
    pub spans: u64,
    /// Standalone span containers (`span` v2 items).
    pub span_items: u64,
    /// Log containers.
    pub logs: u64,
    /// Metric containers.
    pub trace_metrics: u64,
    /// Session updates.
    pub sessions: u64,
    /// Session aggregates.
    pub session_aggregates: u64,
    /// Client report rows.
    pub client_reports: u64,
    /// User feedback.
    pub feedback: u64,
    /// Cron check-ins.
    pub check_ins: u64,
    /// Resolved cron monitor incidents.
    pub monitor_incidents: u64,
    /// Items of unknown types.
    pub raw_items: u64,
}

impl Pruned {
    /// Every kind with its count, in a fixed order (for tables and logs).
    ///
    /// ```
    /// let p = receiver::store::retention::Pruned { events: 3, ..Default::default() };
    /// assert_eq!(p.kinds()[0], ("events", 3));
    /// ```
    pub fn kinds(&self) -> [(&'static str, u64); 15] {
        [
            ("events", self.events),
            ("attachments", self.attachments),
            ("issues", self.issues),
            ("transactions", self.transactions),
            ("spans", self.spans),
            ("span items", self.span_items),
            ("log containers", self.logs),
            ("metric containers", self.trace_metrics),
            ("sessions", self.sessions),
            ("session aggregates", self.session_aggregates),
            ("client reports", self.client_reports),
            ("feedback", self.feedback),
            ("check-ins", self.check_ins),
            ("monitor incidents", self.monitor_incidents),
            ("raw items", self.raw_items),
        ]
    }

    /// All rows deleted.
    pub fn total(&self) -> u64 {
        self.kinds().iter().map(|(_, n)| n).sum()
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Pruned) {
        let fields = [
            (&mut self.events, other.events),
            (&mut self.attachments, other.attachments),
            (&mut self.issues, other.issues),
            (&mut self.transactions, other.transactions),
            (&mut self.spans, other.spans),
            (&mut self.span_items, other.span_items),
            (&mut self.logs, other.logs),
            (&mut self.trace_metrics, other.trace_metrics),
            (&mut self.sessions, other.sessions),
            (&mut self.session_aggregates, other.session_aggregates),
            (&mut self.client_reports, other.client_reports),
            (&mut self.feedback, other.feedback),
            (&mut self.check_ins, other.check_ins),
            (&mut self.monitor_incidents, other.monitor_incidents),
            (&mut self.raw_items, other.raw_items),
        ];
        for (mine, theirs) in fields {
            *mine = mine.saturating_add(theirs);
        }
    }
}

impl Store {
    /// Deletes everything received before `cutoff` (Unix seconds), a step
    /// of [`STEP_LIMIT`] rows per table at a time through the writer, until
    /// a step deletes nothing; returns what went. Rows stored meanwhile are
    /// newer than the cutoff, so this ends.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let (store, _) = receiver::store::Store::open(&dir.path().join("db.sqlite"), &Default::default())?;
    /// assert_eq!(store.prune_blocking(1e12)?.total(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prune_blocking(&self, cutoff: f64) -> Result<Pruned, StoreError> {
        let mut total = Pruned::default();
        loop {
            let step = step_result(self.write_blocking(prune_op(cutoff))?)?;
            total.add(&step);
            if step.total() == 0 {
                return Ok(total);
            }
        }
    }

    /// [`Store::prune_blocking`] for async callers (the server's retention
    /// task): each step waits at most `queue_wait` for room in the
    /// writer's queue, and ingestion's batches run between steps.
    pub async fn prune(&self, cutoff: f64, queue_wait: Duration) -> Result<Pruned, StoreError> {
        let mut total = Pruned::default();
        loop {
            let step = step_result(self.write(prune_op(cutoff), queue_wait).await?)?;
            total.add(&step);
            if step.total() == 0 {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }
}

fn prune_op(cutoff: f64) -> WriteOp {
    WriteOp::Prune {
        cutoff,
        limit: STEP_LIMIT,
    }
}

fn step_result(result: WriteResult) -> Result<Pruned, StoreError> {
    match result {
        WriteResult::Pruned(pruned) => Ok(pruned),
        other => Err(StoreError::Batch(format!(
            "the writer answered a prune step with {other:?}"
        ))),
    }
}

/// Deletes, in the caller's transaction, at most about `limit` rows of
/// each table received before `cutoff` (Unix seconds); see the module
/// documentation for what goes.
pub(crate) fn prune_step(
    conn: &Connection,
    cutoff: f64,
    limit: usize,
) -> Result<Pruned, StoreError> {
    let limit = limit.max(1);
    let mut pruned = Pruned::default();
    // The newest event may be among those deleted: its id must not be
    // handed out again (`id_floors`).
    super::id_floors::raise(conn)?;
    let events = walk(conn, &plain("events"), cutoff, limit)?;
    let touched = issues_of(conn, &events)?;
    pruned.events = delete_ids(conn, "events", &events)?;
    pruned.issues = settle_issues(conn, &touched)?;
    let attachments = walk(conn, &plain("attachments"), cutoff, limit)?;
    pruned.attachments = delete_ids(conn, "attachments", &attachments)?;
    (pruned.transactions, pruned.spans) = prune_transactions(conn, cutoff, limit)?;
    // Spans that came on their own keep only their start time, walked on
    // an index of theirs alone (the `transaction_id` index would read every
    // streamed span, the index of all spans by time every old span of a
    // transaction not yet deleted, to find the old streamed ones).
    pruned.spans += conn
        .prepare_cached(
            "DELETE FROM spans WHERE id IN (
                 SELECT id FROM spans INDEXED BY spans_streamed_time
                 WHERE start_ts < ?1 AND transaction_id IS NULL LIMIT ?2)",
        )?
        .execute(params![cutoff, limit as i64])? as u64;
    let span_items = walk(conn, &plain("span_items"), cutoff, limit)?;
    pruned.span_items = delete_ids(conn, "span_items", &span_items)?;
    for (table, summaries, count) in [
        ("logs", "log_summaries", &mut pruned.logs),
        (
            "trace_metrics",
            "trace_metric_summaries",
            &mut pruned.trace_metrics,
        ),
    ] {
        let ids = walk(conn, &plain(table), cutoff, limit)?;
        delete_ids(conn, summaries, &ids)?;
        *count = delete_ids(conn, table, &ids)?;
    }
    // A session goes whole, once all its updates are old: release health
    // counts a session by its init and its crash by a later update.
    let sessions = walk(
        conn,
        "SELECT id, received, EXISTS (
             SELECT 1 FROM sessions later
             WHERE later.project_id = s.project_id AND later.sid = s.sid
                 AND later.received >= ?1)
         FROM sessions s ORDER BY id",
        cutoff,
        limit,
    )?;
    pruned.sessions = delete_ids(conn, "sessions", &sessions)?;
    let aggregates = walk(conn, &plain("session_aggregates"), cutoff, limit)?;
    pruned.session_aggregates = delete_ids(conn, "session_aggregates", &aggregates)?;
    let reports = walk(conn, &plain("client_reports"), cutoff, limit)?;
    pruned.client_reports = delete_ids(conn, "client_reports", &reports)?;
    pruned.feedback = prune_feedback(conn, cutoff, limit)?;
    // A monitor environment keeps its latest run, however old: the clock
    // finds the environments whose runs it expects from their runs, and a
    // job that runs less often than the retention must still be counted
    // missed when it does not come.
    let check_ins = walk(
        conn,
        "SELECT id, received, NOT EXISTS (
             SELECT 1 FROM check_ins later
             WHERE later.project_id = c.project_id AND later.monitor_slug = c.monitor_slug
                 AND COALESCE(later.environment, 'production')
                     = COALESCE(c.environment, 'production')
                 AND later.received > c.received)
         FROM check_ins c ORDER BY id",
        cutoff,
        limit,
    )?;
    pruned.check_ins = delete_ids(conn, "check_ins", &check_ins)?;
    let raw = walk(conn, &plain("raw_items"), cutoff, limit)?;
    pruned.raw_items = delete_ids(conn, "raw_items", &raw)?;
    pruned.monitor_incidents = conn
        .prepare_cached(
            "DELETE FROM monitor_incidents WHERE id IN (
                 SELECT id FROM monitor_incidents WHERE resolved < ?1 LIMIT ?2)",
        )?
        .execute(params![cutoff, limit as i64])? as u64;
    Ok(pruned)
}

/// The walk of a table whose rows all go by their receipt time.
fn plain(table: &str) -> String {
    format!("SELECT id, received, 0 FROM {table} ORDER BY id")
}

/// The ids of the oldest rows `select` reads (`id, received, keep`, in id
/// order) that were received before `cutoff` and are not to be kept, at
/// most `limit`: the walk stops at the first row received since, so it
/// reads what it deletes and the few rows it keeps, never what stays
/// because it is recent.
fn walk(
    conn: &Connection,
    select: &str,
    cutoff: f64,
    limit: usize,
) -> Result<Vec<i64>, StoreError> {
    let mut statement = conn.prepare_cached(select)?;
    let takes_cutoff = statement.parameter_count() > 0;
    let mut rows = if takes_cutoff {
        statement.query([cutoff])?
    } else {
        statement.query([])?
    };
    let mut ids = Vec::new();
    while let Some(row) = rows.next()? {
        let received: f64 = row.get(1)?;
        if received >= cutoff {
            break;
        }
        if !row.get::<_, bool>(2)? {
            ids.push(row.get(0)?);
            if ids.len() >= limit {
                break;
            }
        }
    }
    Ok(ids)
}

/// Deletes the rows of `table` with these ids; how many there were.
fn delete_ids(conn: &Connection, table: &str, ids: &[i64]) -> Result<u64, StoreError> {
    let mut statement = conn.prepare_cached(&format!("DELETE FROM {table} WHERE id = ?1"))?;
    let mut deleted = 0;
    for id in ids {
        deleted += statement.execute([id])? as u64;
    }
    Ok(deleted)
}

/// The issues the events `ids` belong to.
fn issues_of(conn: &Connection, ids: &[i64]) -> Result<Vec<i64>, StoreError> {
    let mut statement = conn.prepare_cached("SELECT issue_id FROM events WHERE id = ?1")?;
    let mut issues = Vec::new();
    for id in ids {
        if let Some(issue) = statement
            .query_row([id], |r| r.get::<_, Option<i64>>(0))
            .optional()?
            .flatten()
        {
            issues.push(issue);
        }
    }
    issues.sort_unstable();
    issues.dedup();
    Ok(issues)
}

/// After some of their events went: the issues left without any are
/// deleted (with their hashes, users, facets, activity and grouping); the
/// others count the deletion, which their tag breakdowns notice
/// (`api::tag_cache`). Returns how many were deleted.
fn settle_issues(conn: &Connection, issues: &[i64]) -> Result<u64, StoreError> {
    let mut empty = Vec::new();
    for &issue in issues {
        let left = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM events WHERE issue_id = ?1)")?
            .query_row([issue], |r| r.get::<_, bool>(0))?;
        if left {
            conn.prepare_cached(
                "UPDATE issues SET events_pruned = events_pruned + 1 WHERE id = ?1",
            )?
            .execute([issue])?;
        } else {
            empty.push(issue);
        }
    }
    Ok(super::issue_removal::delete_issues(conn, &empty)? as u64)
}

/// Deletes the oldest transactions received before `cutoff` with their
/// spans, about `limit` rows at most: a transaction goes in the step that
/// deletes its last span, so one with thousands of spans takes several
/// steps instead of one long one. Returns (transactions, spans) deleted.
fn prune_transactions(
    conn: &Connection,
    cutoff: f64,
    limit: usize,
) -> Result<(u64, u64), StoreError> {
    let ids = walk(conn, &plain("transactions"), cutoff, limit)?;
    let Some(&last) = ids.last() else {
        return Ok((0, 0));
    };
    // Every transaction up to `last` is old (the walk took them all):
    // their spans are found on the `transaction_id` index.
    let spans = conn
        .prepare_cached(
            "DELETE FROM spans WHERE id IN (
                 SELECT id FROM spans WHERE transaction_id <= ?1 LIMIT ?2)",
        )?
        .execute(params![last, limit as i64])? as u64;
    if spans as usize >= limit {
        return Ok((0, spans));
    }
    Ok((delete_ids(conn, "transactions", &ids)?, spans))
}

/// Deletes the feedback received before `cutoff`, at most `limit`, found
/// on its time index project by project: a user report sent again for the
/// same event updates its row's time, so feedback ids are not in the
/// order of their times.
fn prune_feedback(conn: &Connection, cutoff: f64, limit: usize) -> Result<u64, StoreError> {
    let projects: Vec<i64> = conn
        .prepare_cached("SELECT id FROM projects")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut deleted = 0;
    for project in projects {
        let left = limit.saturating_sub(deleted as usize);
        if left == 0 {
            break;
        }
        deleted += conn
            .prepare_cached(
                "DELETE FROM feedback WHERE id IN (
                     SELECT id FROM feedback WHERE project_id = ?1 AND received < ?2 LIMIT ?3)",
            )?
            .execute(params![project, cutoff, left as i64])? as u64;
    }
    Ok(deleted)
}
