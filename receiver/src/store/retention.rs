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
//!   items, log and metric containers (with their summaries), sessions and
//!   session aggregates, client reports, user feedback, cron check-ins and
//!   raw items of unknown types;
//! * spans that came on their own (no transaction), by their start time,
//!   the only time they keep;
//! * issues last seen before the cutoff that have no event left, with
//!   their hashes, users, facets, activity and grouping: an event with
//!   the same grouping later opens a new issue, as in Sentry;
//! * cron monitor incidents resolved before the cutoff.
//!
//! Projects, keys, tokens, quotas, releases, deploys, monitors and their
//! open incidents stay, and an issue that stays keeps its counts (times
//! seen, users) of the events it lost.
//!
//! Rows are read oldest first in id order, the order they were stored in,
//! and a walk stops at the first row received since the cutoff: a step
//! costs what it deletes, never a scan of what stays. (Should the system
//! clock have gone back, a row stored before an older-looking one waits
//! until that one is old enough too.) One step deletes at most `limit`
//! rows of each table, so that the writer, which runs it between batches
//! of ingestion, is never held for long; the caller repeats steps until
//! one deletes nothing.
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

use rusqlite::{params, Connection};
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

/// Deletes, in the caller's transaction, at most `limit` rows of each
/// table received before `cutoff` (Unix seconds); see the module
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
    pruned.events = delete_oldest(conn, "events", cutoff, limit)?;
    pruned.attachments = delete_oldest(conn, "attachments", cutoff, limit)?;
    if let Some(last) = oldest_before(conn, "transactions", cutoff, limit)? {
        // Every transaction up to `last` goes: so do its spans.
        pruned.spans += conn
            .prepare_cached("DELETE FROM spans WHERE transaction_id <= ?1")?
            .execute([last])? as u64;
        pruned.transactions = conn
            .prepare_cached("DELETE FROM transactions WHERE id <= ?1")?
            .execute([last])? as u64;
    }
    pruned.spans += conn
        .prepare_cached(
            "DELETE FROM spans WHERE id IN (
                 SELECT id FROM spans
                 WHERE start_ts < ?1 AND transaction_id IS NULL LIMIT ?2)",
        )?
        .execute(params![cutoff, limit as i64])? as u64;
    pruned.span_items = delete_oldest(conn, "span_items", cutoff, limit)?;
    for (table, summaries, count) in [
        ("logs", "log_summaries", &mut pruned.logs),
        (
            "trace_metrics",
            "trace_metric_summaries",
            &mut pruned.trace_metrics,
        ),
    ] {
        if let Some(last) = oldest_before(conn, table, cutoff, limit)? {
            conn.prepare_cached(&format!("DELETE FROM {summaries} WHERE id <= ?1"))?
                .execute([last])?;
            *count = conn
                .prepare_cached(&format!("DELETE FROM {table} WHERE id <= ?1"))?
                .execute([last])? as u64;
        }
    }
    pruned.sessions = delete_oldest(conn, "sessions", cutoff, limit)?;
    pruned.session_aggregates = delete_oldest(conn, "session_aggregates", cutoff, limit)?;
    pruned.client_reports = delete_oldest(conn, "client_reports", cutoff, limit)?;
    pruned.feedback = delete_oldest(conn, "feedback", cutoff, limit)?;
    pruned.check_ins = delete_oldest(conn, "check_ins", cutoff, limit)?;
    pruned.raw_items = delete_oldest(conn, "raw_items", cutoff, limit)?;
    pruned.monitor_incidents = conn
        .prepare_cached(
            "DELETE FROM monitor_incidents WHERE id IN (
                 SELECT id FROM monitor_incidents WHERE resolved < ?1 LIMIT ?2)",
        )?
        .execute(params![cutoff, limit as i64])? as u64;
    // Issues last: those whose last events went above.
    let issues: Vec<i64> = conn
        .prepare_cached(
            "SELECT id FROM issues
             WHERE last_seen < ?1
                 AND NOT EXISTS (SELECT 1 FROM events e WHERE e.issue_id = issues.id)
             LIMIT ?2",
        )?
        .query_map(params![cutoff, limit as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    pruned.issues = super::issue_removal::delete_issues(conn, &issues)? as u64;
    Ok(pruned)
}

/// Deletes the oldest rows of `table` received before `cutoff`, at most
/// `limit` ([`oldest_before`]).
fn delete_oldest(
    conn: &Connection,
    table: &str,
    cutoff: f64,
    limit: usize,
) -> Result<u64, StoreError> {
    let Some(last) = oldest_before(conn, table, cutoff, limit)? else {
        return Ok(0);
    };
    Ok(conn
        .prepare_cached(&format!("DELETE FROM {table} WHERE id <= ?1"))?
        .execute([last])? as u64)
}

/// The id of the last of the oldest rows of `table` received before
/// `cutoff`, at most `limit` of them: rows are read in id order, and the
/// walk stops at the first one received since. `None` when the oldest row
/// is recent (or there is none).
fn oldest_before(
    conn: &Connection,
    table: &str,
    cutoff: f64,
    limit: usize,
) -> Result<Option<i64>, StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT id, received FROM {table} ORDER BY id LIMIT ?1"
    ))?;
    let mut rows = statement.query([limit as i64])?;
    let mut last = None;
    while let Some(row) = rows.next()? {
        let received: f64 = row.get(1)?;
        if received >= cutoff {
            break;
        }
        last = Some(row.get(0)?);
    }
    Ok(last)
}
