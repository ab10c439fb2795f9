//! Applying an [`IngestBatch`] inside the writer's transaction: issue
//! lookup and creation, regressions (PROTOCOL.md §10.6), de-duplication and
//! the plain inserts.

use rusqlite::{params, CachedStatement, Connection, OptionalExtension};

use super::check_ins;
use super::container_entries::SUMMARY_FORMAT;
use super::id_floors::{self, ExplicitIds, Table};
use super::known_rows::{FacetKind, KnownRows};
use super::monitor_incidents;
use super::records::{
    AttachmentRecord, BlobRecord, EventRecord, IngestBatch, IngestSummary, Record, SessionRecord,
    SpanRecord, StreamedSpan, TransactionRecord,
};
use super::StoreError;

/// Stores every record of `batch`, except the counts it leaves in `work`
/// for [`BatchWork::flush`]. `known` must be valid for `conn`'s
/// transaction, and be forgotten if this fails (see [`KnownRows`]).
pub(super) fn apply_batch<'c>(
    conn: &'c Connection,
    work: &mut BatchWork<'c>,
    batch: &'c IngestBatch,
    known: &mut KnownRows,
) -> Result<IngestSummary, StoreError> {
    let mut summary = IngestSummary::default();
    let p = batch.project_id;
    let received = batch.received;
    work.count_items(p, &batch.item_counts);
    for record in &batch.records {
        match record {
            Record::Event(e) => {
                apply_event(
                    conn,
                    work,
                    p,
                    received,
                    EventRef::Batch(e),
                    known,
                    &mut summary,
                )?;
            }
            Record::Transaction(t) => apply_transaction(conn, known, p, received, t, &mut summary)?,
            Record::Attachment(a) => {
                insert_attachment(conn, p, received, a)?;
                summary.stored += 1;
            }
            Record::Session(s) => {
                if apply_session(conn, p, received, s, known)? {
                    summary.stored += 1;
                }
            }
            Record::SessionAggregate(a) => {
                note_release(conn, known, p, &a.release, received)?;
                conn.prepare_cached(
                    "INSERT INTO session_aggregates (project_id, started, did, exited, errored,
                         abnormal, crashed, unhandled, release, environment, received)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?
                .execute(params![
                    p,
                    a.started,
                    a.did,
                    a.exited,
                    a.errored,
                    a.abnormal,
                    a.crashed,
                    a.unhandled,
                    a.release,
                    a.environment,
                    received
                ])?;
                summary.stored += 1;
            }
            Record::ClientReport(c) => {
                conn.prepare_cached(
                    "INSERT INTO client_reports (project_id, timestamp, outcome, reason, category,
                         quantity, received)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    p,
                    c.timestamp,
                    c.outcome,
                    c.reason,
                    c.category,
                    c.quantity,
                    received
                ])?;
                summary.stored += 1;
            }
            Record::Feedback(f) => {
                let n = conn
                    .prepare_cached(
                        // One feedback per id: a repeated `feedback` is a
                        // retry. A second `user_report` for an event replaces
                        // the first while the event is under 30 minutes old
                        // (or not here yet), as Sentry lets a user correct a
                        // report (PROTOCOL.md A.3); later it is ignored. A
                        // retry of the same report changes nothing.
                        "INSERT INTO feedback (project_id, kind, event_id,
                             associated_event_id, name, email, message, received, payload)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                         ON CONFLICT (project_id, kind, event_id) DO UPDATE SET
                             name = excluded.name, email = excluded.email,
                             message = excluded.message, received = excluded.received,
                             payload = excluded.payload
                         WHERE excluded.kind = 'user_report'
                             AND (feedback.name IS NOT excluded.name
                                 OR feedback.email IS NOT excluded.email
                                 OR feedback.message IS NOT excluded.message)
                             AND NOT EXISTS (
                                 SELECT 1 FROM events e
                                 WHERE e.project_id = excluded.project_id
                                     AND e.event_id = excluded.event_id
                                     AND e.timestamp < excluded.received - 1800)",
                    )?
                    .execute(params![
                        p,
                        f.kind,
                        f.event_id,
                        f.associated_event_id,
                        f.name,
                        f.email,
                        f.message,
                        received,
                        f.payload
                    ])?;
                if n == 0 {
                    summary.duplicates += 1;
                } else {
                    summary.stored += 1;
                }
            }
            Record::Log(b) => {
                insert_container(conn, Container::Log, p, received, b)?;
                summary.stored += 1;
            }
            Record::TraceMetric(b) => {
                insert_container(conn, Container::TraceMetric, p, received, b)?;
                summary.stored += 1;
            }
            Record::SpanItem(item) => {
                insert_container(conn, Container::Span, p, received, &item.blob)?;
                let item_id = conn.last_insert_rowid();
                insert_streamed_spans(conn, known, p, received, item_id, &item.spans)?;
                summary.stored += 1;
            }
            Record::CheckIn(c) => match check_ins::apply(conn, p, received, c)? {
                check_ins::Applied::Ignored => summary.duplicates += 1,
                // A refused update is stored too, in `raw_items`.
                check_ins::Applied::Refused => summary.stored += 1,
                check_ins::Applied::Stored(ended) => {
                    if let Some(ended) = ended {
                        monitor_incidents::run_ended(conn, work, known, p, received, c, ended)?;
                    }
                    summary.stored += 1;
                }
            },
            Record::Raw(r) => {
                // So is a profiler's chunk, by its id.
                if let Some(chunk) = &r.chunk {
                    let stored = conn
                        .prepare_cached(
                            "SELECT 1 FROM profile_chunks WHERE project_id = ?1 AND chunk_id = ?2",
                        )?
                        .exists(params![p, chunk.chunk_id])?;
                    if stored {
                        summary.duplicates += 1;
                        continue;
                    }
                }
                // A transaction's profile is stored once: a retried
                // envelope sends it again under the same event id, as it
                // sends the transaction (which is stored once too).
                let n = conn
                    .prepare_cached(
                        "INSERT INTO raw_items (project_id, item_type, event_id, headers, error,
                             received, payload, summary)
                         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
                         WHERE ?2 <> 'profile' OR ?3 IS NULL OR NOT EXISTS (
                             SELECT 1 FROM raw_items INDEXED BY raw_items_profile_event
                             WHERE item_type = 'profile' AND event_id = ?3
                                 AND project_id = ?1)",
                    )?
                    .execute(params![
                        p,
                        r.item_type,
                        r.event_id,
                        r.headers,
                        r.error,
                        received,
                        r.payload,
                        r.summary
                    ])?;
                if n == 0 {
                    summary.duplicates += 1;
                } else {
                    if let Some(chunk) = &r.chunk {
                        super::profile_chunks::insert(conn, conn.last_insert_rowid(), p, chunk)?;
                    }
                    summary.stored += 1;
                }
            }
        }
    }
    Ok(summary)
}

/// The writer's work in progress in one transaction (or savepoint):
/// statements kept prepared, and counts of events into issues and of
/// items received not yet written. [`BatchWork::flush`] must run before
/// the transaction commits (or the savepoint is released) and before any
/// write that is not ingestion.
///
/// * **Statements:** taking a statement from rusqlite's cache hashes and
///   compares its whole SQL text, and putting it back costs as much: done
///   for every statement of every event, that was ~5 % of the writer's
///   time.
/// * **Issue counts:** most events join an issue that is open, and each
///   used to cost an `UPDATE issues`. An event for an issue known to be
///   open (see [`KnownRows::is_open_issue`]) cannot regress it, so its count,
///   first and last seen, title and release are only gathered here, and
///   written once per issue per batch. A batch at 256 connections holds
///   ~64 events of ~40 issues (each found by a linear search: fine for
///   batches of a few hundred jobs).
#[derive(Default)]
pub(super) struct BatchWork<'c> {
    insert_event: Option<CachedStatement<'c>>,
    count_open_event: Option<CachedStatement<'c>>,
    count_events: Option<CachedStatement<'c>>,
    insert_issue_user: Option<CachedStatement<'c>>,
    count_issue_user: Option<CachedStatement<'c>>,
    /// At most one entry per issue, in no order.
    issue_counts: Vec<IssueCount<'c>>,
    /// Items received per project and type (`item_counts`), gathered
    /// likewise: every request adds to the same few rows.
    item_counts: Vec<(i64, &'c str, u64)>,
    /// The explicit ids the next issue and event must take
    /// (`store::id_floors`), once looked up in this batch.
    explicit_ids: Option<ExplicitIds>,
}

impl BatchWork<'_> {
    /// The id the next row of `table` must take, if SQLite's own choice
    /// could reuse a deleted one. Looked up at most once per batch, and not
    /// at all while `known` says no floor is in the way.
    fn explicit_id(
        &mut self,
        conn: &Connection,
        table: Table,
        known: &mut KnownRows,
    ) -> Result<Option<i64>, StoreError> {
        if known.ids_above_floors() {
            return Ok(None);
        }
        let ids = match self.explicit_ids {
            Some(ids) => ids,
            None => {
                let ids = id_floors::next_explicit(conn)?;
                self.explicit_ids = Some(ids);
                ids
            }
        };
        if ids.none() {
            known.note_ids_above_floors();
        }
        Ok(ids.get(table))
    }

    /// Forgets the explicit ids looked up: a write that is not ingestion
    /// may delete the newest rows (and raise the floors).
    pub(super) fn forget_ids(&mut self) {
        self.explicit_ids = None;
    }

    /// A row of `table` took its explicit id: SQLite counts on from it.
    fn explicit_id_used(&mut self, table: Table) {
        if let Some(ids) = self.explicit_ids.as_mut() {
            ids.used(table);
        }
    }
}

impl<'c> BatchWork<'c> {
    /// Writes the issue and item counts gathered so far.
    pub(super) fn flush(&mut self, conn: &'c Connection) -> Result<(), StoreError> {
        if !self.issue_counts.is_empty() {
            let statement = hot(&mut self.count_events, conn, COUNT_EVENT_SQL)?;
            for count in self.issue_counts.drain(..) {
                count.execute(statement)?;
            }
        }
        if !self.item_counts.is_empty() {
            let mut statement = conn.prepare_cached(
                "INSERT INTO item_counts (project_id, item_type, count) VALUES (?1, ?2, ?3)
                 ON CONFLICT (project_id, item_type) DO UPDATE SET count = count + excluded.count",
            )?;
            for (project, item_type, n) in self.item_counts.drain(..) {
                statement.execute(params![project, item_type, n as i64])?;
            }
        }
        Ok(())
    }

    /// Adds `counts` (item type, items) of project `p` to `item_counts`, to
    /// be written by [`Self::flush`].
    fn count_items(&mut self, p: i64, counts: &'c [(String, u64)]) {
        for (item_type, n) in counts {
            let row = self
                .item_counts
                .iter_mut()
                .find(|(project, ty, _)| *project == p && ty == item_type);
            match row {
                Some((.., total)) => *total = total.saturating_add(*n),
                None => self.item_counts.push((p, item_type, *n)),
            }
        }
    }

    /// Counts `e` into issue `id`, to be written by [`Self::flush`], if
    /// the issue is open: `known_open`, or gathered into already (nothing
    /// in a batch closes an issue). Returns whether it did.
    fn gather(&mut self, id: i64, e: &'c EventRecord, known_open: bool) -> bool {
        if let Some(count) = self.issue_counts.iter_mut().find(|c| c.issue_id == id) {
            count.add(e);
        } else if known_open {
            self.issue_counts.push(IssueCount::new(id, e));
        } else {
            return false;
        }
        true
    }
}

/// Events counted into one issue: what `UPDATE issues` adds for them.
struct IssueCount<'c> {
    issue_id: i64,
    events: i64,
    first_seen: f64,
    last_seen: f64,
    /// The last event counted: the issue takes its title, culprit, level,
    /// metadata and kind.
    latest: &'c EventRecord,
    /// The last release named, if any event named one.
    release: Option<&'c str>,
}

impl<'c> IssueCount<'c> {
    fn new(issue_id: i64, e: &'c EventRecord) -> Self {
        IssueCount {
            issue_id,
            events: 1,
            first_seen: e.timestamp,
            last_seen: e.timestamp,
            latest: e,
            release: e.release.as_deref(),
        }
    }

    fn add(&mut self, e: &'c EventRecord) {
        self.events += 1;
        self.first_seen = self.first_seen.min(e.timestamp);
        self.last_seen = self.last_seen.max(e.timestamp);
        self.latest = e;
        self.release = e.release.as_deref().or(self.release);
    }

    /// Runs `statement` (one of the `COUNT_*_SQL`) for these events; returns
    /// whether the issue matched.
    fn execute(&self, statement: &mut CachedStatement<'_>) -> Result<bool, StoreError> {
        let n = statement.execute(params![
            self.issue_id,
            self.last_seen,
            self.latest.grouping.title,
            self.latest.grouping.culprit,
            self.latest.grouping.level,
            self.release,
            self.latest.kind,
            self.events,
            self.first_seen,
            self.latest.grouping.metadata,
        ])?;
        Ok(n == 1)
    }
}

/// The statement in `slot`, prepared (through the cache) on first use.
fn hot<'s, 'c>(
    slot: &'s mut Option<CachedStatement<'c>>,
    conn: &'c Connection,
    sql: &str,
) -> rusqlite::Result<&'s mut CachedStatement<'c>> {
    Ok(match slot {
        Some(statement) => statement,
        empty => empty.insert(conn.prepare_cached(sql)?),
    })
}

/// `?15` is the event's id: NULL (SQLite's choice) unless an id floor
/// says otherwise (`store::id_floors`).
const INSERT_EVENT_SQL: &str =
    "INSERT INTO events (project_id, event_id, issue_id, kind, timestamp, received,
         release, environment, level, title, platform, trace_id, user_key, payload, id)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
     ON CONFLICT (project_id, event_id) DO NOTHING";

/// An event to store: one of a batch, whose count into its issue may wait
/// for [`BatchWork::flush`], or one the writer made (an occurrence of
/// `store::monitor_incidents`), counted at once.
#[derive(Debug, Clone, Copy)]
pub(super) enum EventRef<'c, 'e> {
    Batch(&'c EventRecord),
    Made(&'e EventRecord),
    /// Made, of a time before what changed its issue's status since: it
    /// is counted without changing that status (it reopens nothing, and an
    /// issue it creates is resolved, as `reason` says).
    Past(&'e EventRecord, &'static str),
}

impl<'c: 'e, 'e> EventRef<'c, 'e> {
    fn get(self) -> &'e EventRecord {
        match self {
            EventRef::Batch(e) => e,
            EventRef::Made(e) | EventRef::Past(e, _) => e,
        }
    }
}

pub(super) fn apply_event<'c: 'e, 'e>(
    conn: &'c Connection,
    work: &mut BatchWork<'c>,
    p: i64,
    received: f64,
    event: EventRef<'c, 'e>,
    known: &mut KnownRows,
    summary: &mut IngestSummary,
) -> Result<(), StoreError> {
    let e = event.get();
    // Who owns each hash: the event joins the first owner; hashes nobody
    // owns are added to that issue (or to the new one).
    let mut owners: Vec<Option<i64>> = Vec::with_capacity(e.grouping.hashes.len());
    for h in &e.grouping.hashes {
        let owner = match known.hash_owner(p, &h.hash) {
            Some(issue) => Some(issue),
            None => {
                let owner: Option<i64> = conn
                    .prepare_cached(
                        "SELECT issue_id FROM group_hashes WHERE project_id = ?1 AND hash = ?2",
                    )?
                    .query_row(params![p, h.hash], |r| r.get(0))
                    .optional()?;
                if let Some(issue) = owner {
                    known.note_hash_owner(p, &h.hash, issue);
                }
                owner
            }
        };
        owners.push(owner);
    }
    let found = owners.iter().flatten().next().copied();
    let unowned = owners.iter().any(Option::is_none);
    // A repeated event id is stored once. An event that would create an
    // issue is checked first (a retry must not create one); one that joins
    // an issue learns it from its own insert below, one statement fewer.
    if found.is_none() {
        let duplicate = conn
            .prepare_cached("SELECT 1 FROM events WHERE project_id = ?1 AND event_id = ?2")?
            .exists(params![p, e.event_id])?;
        if duplicate {
            summary.duplicates += 1;
            return Ok(());
        }
    }
    // Ingestion sends a lean grouping (hashes only) when it believes every
    // hash is stored already; if one is not after all, the explanation and
    // inputs to store are recomputed from the payload.
    let regrouped = if unowned && crate::ingest::is_lean(&e.grouping) {
        crate::ingest::regroup_payload(&e.payload)
    } else {
        None
    };
    let grouping = regrouped.as_ref().unwrap_or(&e.grouping);
    let issue_id = match found {
        Some(id) => id,
        None => create_issue(conn, work, known, p, e, &grouping.explanation)?,
    };
    let explicit_id = work.explicit_id(conn, Table::Events, known)?;
    let inserted = hot(&mut work.insert_event, conn, INSERT_EVENT_SQL)?.execute(params![
        p,
        e.event_id,
        issue_id,
        e.kind,
        e.timestamp,
        received,
        e.release,
        e.environment,
        e.level,
        e.title,
        e.platform,
        e.trace_id,
        e.user_key,
        e.payload,
        explicit_id
    ])?;
    if inserted == 0 {
        summary.duplicates += 1;
        return Ok(());
    }
    if explicit_id.is_some() {
        work.explicit_id_used(Table::Events);
    }
    match (found, event) {
        (None, EventRef::Past(_, reason)) => resolve_created(conn, issue_id, reason)?,
        (None, _) => known.note_open_issue(issue_id),
        (Some(_), EventRef::Past(..)) => {
            IssueCount::new(issue_id, e).execute(hot(
                &mut work.count_events,
                conn,
                COUNT_EVENT_SQL,
            )?)?;
        }
        (Some(_), EventRef::Batch(e))
            if work.gather(issue_id, e, known.is_open_issue(issue_id)) => {}
        (Some(_), _) => {
            if update_issue(conn, work, p, issue_id, e, known)? {
                summary.regressed.push(issue_id);
            }
        }
    }
    if unowned {
        let mut stmt = conn.prepare_cached(
            "INSERT OR IGNORE INTO group_hashes (project_id, hash, issue_id, variant, component,
                 inputs)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (h, owner) in e.grouping.hashes.iter().zip(&owners) {
            if owner.is_some() {
                continue;
            }
            let h = grouping
                .hashes
                .iter()
                .find(|full| full.hash == h.hash)
                .unwrap_or(h);
            stmt.execute(params![
                p,
                h.hash,
                issue_id,
                h.variant,
                h.component,
                h.inputs
            ])?;
            known.note_hash_owner(p, &h.hash, issue_id);
        }
    }
    if let Some(user) = e
        .user_key
        .as_deref()
        .filter(|user| known.note_issue_user(issue_id, user))
    {
        let new_user = hot(
            &mut work.insert_issue_user,
            conn,
            "INSERT OR IGNORE INTO issue_users (issue_id, user_key) VALUES (?1, ?2)",
        )?
        .execute(params![issue_id, user])?;
        if new_user == 1 {
            hot(
                &mut work.count_issue_user,
                conn,
                "UPDATE issues SET user_count = user_count + 1 WHERE id = ?1",
            )?
            .execute([issue_id])?;
        }
    }
    if let Some(release) = e.release.as_deref() {
        note_release(conn, known, p, release, received)?;
    }
    // The issue's environments and releases, for filtering issues by them.
    for (kind, value) in [
        (FacetKind::Environment, &e.environment),
        (FacetKind::Release, &e.release),
    ] {
        if let Some(value) = value
            .as_deref()
            .filter(|value| known.note_facet(issue_id, kind, value))
        {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO issue_facets (issue_id, kind, value) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![issue_id, kind.as_str(), value])?;
        }
    }
    for a in &e.attachments {
        insert_attachment(conn, p, received, a)?;
    }
    summary.stored += 1;
    summary.issue_ids.push(issue_id);
    Ok(())
}

/// Creates the issue of a new event, with its grouping explanation in
/// `issue_grouping` (none for an empty `explanation`).
fn create_issue(
    conn: &Connection,
    work: &mut BatchWork<'_>,
    known: &mut KnownRows,
    p: i64,
    e: &EventRecord,
    explanation: &[u8],
) -> Result<i64, StoreError> {
    let explicit_id = work.explicit_id(conn, Table::Issues, known)?;
    // The project's next short id (`WEB-1`, `WEB-2`, …; schema migration 32).
    let short_seq: i64 = conn
        .prepare_cached(
            "UPDATE projects SET issue_counter = issue_counter + 1 WHERE id = ?1
             RETURNING issue_counter",
        )?
        .query_row([p], |r| r.get(0))?;
    conn.prepare_cached(
        "INSERT INTO issues (project_id, title, culprit, level, first_seen, last_seen, times_seen,
             status, substatus, first_release, last_release, kind, id, short_seq, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1, 'unresolved', 'new', ?6, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        p,
        e.grouping.title,
        e.grouping.culprit,
        e.grouping.level,
        e.timestamp,
        e.release,
        e.kind,
        explicit_id,
        short_seq,
        e.grouping.metadata,
    ])?;
    if explicit_id.is_some() {
        work.explicit_id_used(Table::Issues);
    }
    let id = conn.last_insert_rowid();
    if !explanation.is_empty() {
        // `OR REPLACE`: a row left by an issue deleted without its
        // explanation (the id of the newest issue can be reused) is stale.
        conn.prepare_cached(
            "INSERT OR REPLACE INTO issue_grouping (issue_id, explanation) VALUES (?1, ?2)",
        )?
        .execute(params![id, explanation])?;
    } else {
        conn.prepare_cached("DELETE FROM issue_grouping WHERE issue_id = ?1")?
            .execute([id])?;
    }
    Ok(id)
}

/// Resolves issue `id`, just created for an event of the past whose
/// issue was resolved since, with an activity that gives `reason`.
fn resolve_created(conn: &Connection, id: i64, reason: &str) -> Result<(), StoreError> {
    let now = super::now_secs();
    conn.prepare_cached(
        "UPDATE issues SET status = 'resolved', substatus = NULL, resolved_at = ?2 WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    let data = serde_json::json!({ "reason": reason });
    conn.prepare_cached(
        "INSERT INTO issue_activity (issue_id, kind, data, created)
         VALUES (?1, 'set_resolved', ?2, ?3)",
    )?
    .execute(params![id, data.to_string(), now])?;
    Ok(())
}

/// Counts the event into an existing issue not known to be open; returns
/// whether it regressed.
fn update_issue<'c>(
    conn: &'c Connection,
    work: &mut BatchWork<'c>,
    p: i64,
    id: i64,
    e: &EventRecord,
    known: &mut KnownRows,
) -> Result<bool, StoreError> {
    // Most issues are open (or ignored), and never regress: counting the
    // event is one statement. A resolved issue takes the full path.
    let count = IssueCount::new(id, e);
    let open = hot(&mut work.count_open_event, conn, COUNT_OPEN_EVENT_SQL)?;
    if count.execute(open)? {
        known.note_open_issue(id);
        return Ok(false);
    }
    let (status, resolved_release, in_next): (String, Option<String>, bool) = conn
        .prepare_cached(
            "SELECT status, resolved_release, resolved_in_next FROM issues WHERE id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let resolution = if in_next {
        Resolution::UpTo
    } else {
        Resolution::Before
    };
    let regressed = match status.as_str() {
        "resolved" => true,
        "resolved_in_release" => !release_covered(
            conn,
            p,
            e.release.as_deref(),
            resolved_release.as_deref().unwrap_or(""),
            resolution,
        )?,
        _ => false,
    };
    if regressed {
        conn.prepare_cached(
            "UPDATE issues SET status = 'unresolved', substatus = 'regressed',
                 resolved_release = NULL, resolved_at = NULL, resolved_in_next = 0
             WHERE id = ?1",
        )?
        .execute([id])?;
        let data = serde_json::json!({"event_id": e.event_id, "release": e.release});
        conn.prepare_cached(
            "INSERT INTO issue_activity (issue_id, kind, data, created) VALUES (?1, 'regression', ?2, ?3)",
        )?
        .execute(params![id, data.to_string(), super::now_secs()])?;
        known.note_open_issue(id);
    }
    count.execute(hot(&mut work.count_events, conn, COUNT_EVENT_SQL)?)?;
    Ok(regressed)
}

macro_rules! count_event_sql {
    ($condition:literal) => {
        concat!(
            "UPDATE issues SET times_seen = times_seen + ?8,
                 last_seen = MAX(last_seen, ?2), first_seen = MIN(first_seen, ?9),
                 title = ?3, culprit = ?4, level = ?5, metadata = ?10,
                 last_release = COALESCE(?6, last_release), kind = ?7,
                 substatus = CASE WHEN substatus = 'new' THEN 'ongoing' ELSE substatus END
             WHERE id = ?1",
            $condition
        )
    };
}

/// Counts events into their issue (see [`IssueCount::execute`]).
const COUNT_EVENT_SQL: &str = count_event_sql!("");
/// [`COUNT_EVENT_SQL`] for an issue that cannot regress (not resolved).
const COUNT_OPEN_EVENT_SQL: &str =
    count_event_sql!(" AND status NOT IN ('resolved', 'resolved_in_release')");

/// Which events of a release-based resolution's release it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// Resolved in release R: events of releases older than R (the fix is
    /// in R, so an event of R itself regresses, as in Sentry).
    Before,
    /// Resolved in the next release, R being the latest release when it
    /// was resolved: events of R and older.
    UpTo,
}

/// Whether an issue resolved in `resolved` stays resolved for an event of
/// release `event` (PROTOCOL.md §10.6, as Sentry's `has_resolution` reads
/// it): no release → covered (treated as older); both `package@semver` →
/// semver order; otherwise by when each release was first seen (a release
/// never seen before is newer). `resolution` says whether `resolved`
/// itself is covered.
pub(crate) fn release_covered(
    conn: &Connection,
    p: i64,
    event: Option<&str>,
    resolved: &str,
    resolution: Resolution,
) -> Result<bool, StoreError> {
    use std::cmp::Ordering;
    let Some(event) = event else {
        return Ok(true);
    };
    let covered = |order: Ordering| match resolution {
        Resolution::Before => order == Ordering::Less,
        Resolution::UpTo => order != Ordering::Greater,
    };
    if event == resolved {
        return Ok(covered(Ordering::Equal));
    }
    if let (Some(a), Some(b)) = (semver_release(event), semver_release(resolved)) {
        return Ok(covered(a.cmp(&b)));
    }
    let mut stmt = conn
        .prepare_cached("SELECT first_seen FROM releases WHERE project_id = ?1 AND version = ?2")?;
    let event_seen: Option<f64> = stmt.query_row(params![p, event], |r| r.get(0)).optional()?;
    let resolved_seen: Option<f64> = stmt
        .query_row(params![p, resolved], |r| r.get(0))
        .optional()?;
    Ok(match (event_seen, resolved_seen) {
        (Some(a), Some(b)) => covered(a.total_cmp(&b)),
        (None, _) => false,
        (Some(_), None) => true,
    })
}

/// The version of a `package@semver` release, for ordering releases as
/// Sentry does: only a release with a package counts as semver (a bare
/// `1.2.3-10-gabc` from `git describe` is ordered by when it was seen,
/// since its pre-release part does not sort by build).
fn semver_release(release: &str) -> Option<semver::Version> {
    release
        .contains('@')
        .then(|| parse_release_version(release))
        .flatten()
}

/// The semver part of `package@1.2.3` (or `1.2.3`, `v1.2`); missing minor and
/// patch numbers count as 0.
pub(crate) fn parse_release_version(release: &str) -> Option<semver::Version> {
    let version = release.rsplit_once('@').map_or(release, |(_, v)| v);
    let version = version.strip_prefix('v').unwrap_or(version);
    if let Ok(v) = semver::Version::parse(version) {
        return Some(v);
    }
    let (core, rest) = match version.find(['-', '+']) {
        Some(i) => version.split_at(i),
        None => (version, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.parse::<u64>().is_err()) {
        return None;
    }
    let padded: Vec<&str> = parts.iter().copied().chain(["0", "0"]).take(3).collect();
    semver::Version::parse(&format!("{}{rest}", padded.join("."))).ok()
}

fn apply_transaction(
    conn: &Connection,
    known: &mut KnownRows,
    p: i64,
    received: f64,
    t: &TransactionRecord,
    summary: &mut IngestSummary,
) -> Result<(), StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO transactions (project_id, event_id, trace_id, span_id,
                 parent_span_id, name, op, status, start_ts, end_ts, release, environment,
                 received, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?
        .execute(params![
            p,
            t.event_id,
            t.trace_id,
            t.span_id,
            t.parent_span_id,
            t.name,
            t.op,
            t.status,
            t.start,
            t.end,
            t.release,
            t.environment,
            received,
            t.payload
        ])?;
    if inserted == 0 {
        summary.duplicates += 1;
        return Ok(());
    }
    let tx_id = conn.last_insert_rowid();
    // As Sentry: a release seen only in transactions is a release too.
    if let Some(release) = t.release.as_deref() {
        note_release(conn, known, p, release, received)?;
    }
    if let (Some(trace_id), Some(span_id)) = (&t.trace_id, &t.span_id) {
        conn.prepare_cached(
            "INSERT INTO spans (project_id, transaction_id, trace_id, span_id, parent_span_id,
                 op, description, status, start_ts, end_ts, is_segment, release, environment)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?12)",
        )?
        .execute(params![
            p,
            tx_id,
            trace_id,
            span_id,
            t.parent_span_id,
            t.op,
            t.name,
            t.status,
            t.start,
            t.end,
            t.release,
            t.environment
        ])?;
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO spans (project_id, transaction_id, trace_id, span_id, parent_span_id, op,
             description, status, start_ts, end_ts, is_segment)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for s in &t.spans {
        insert_span(&mut stmt, p, Some(tx_id), s, false)?;
    }
    summary.stored += 1;
    Ok(())
}

/// Runs an insert into `spans` whose parameters are, in order: project,
/// transaction, trace id, span id, parent, op, description, status, start,
/// end, whether it is a segment.
fn insert_span(
    stmt: &mut CachedStatement<'_>,
    p: i64,
    transaction: Option<i64>,
    s: &SpanRecord,
    is_segment: bool,
) -> Result<(), StoreError> {
    stmt.execute(params![
        p,
        transaction,
        s.trace_id,
        s.span_id,
        s.parent_span_id,
        s.op,
        s.description,
        s.status,
        s.start,
        s.end,
        is_segment
    ])?;
    Ok(())
}

/// The tables that keep a container item whole.
#[derive(Debug, Clone, Copy)]
enum Container {
    Log,
    TraceMetric,
    Span,
}

/// Stores a container item whole in its table.
fn insert_container(
    conn: &Connection,
    table: Container,
    p: i64,
    received: f64,
    b: &BlobRecord,
) -> Result<(), StoreError> {
    let (sql, summaries) = match table {
        Container::Log => (
            "INSERT INTO logs
                 (project_id, item_count, content_type, received, payload, clock_shift)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            Some("log_summaries"),
        ),
        Container::TraceMetric => (
            "INSERT INTO trace_metrics
                 (project_id, item_count, content_type, received, payload, clock_shift)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            Some("trace_metric_summaries"),
        ),
        // Its spans were corrected for the drift on their way to `spans`.
        Container::Span => (
            "INSERT INTO span_items (project_id, item_count, content_type, received, payload)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            None,
        ),
    };
    let mut insert = conn.prepare_cached(sql)?;
    match table {
        Container::Span => insert.execute(params![
            p,
            b.item_count,
            b.content_type,
            received,
            b.payload
        ])?,
        Container::Log | Container::TraceMetric => insert.execute(params![
            p,
            b.item_count,
            b.content_type,
            received,
            b.payload,
            b.clock_shift
        ])?,
    };
    drop(insert);
    if let Some(summaries) = summaries {
        // A row's id may be one a deleted row had: its summary goes too.
        let id = conn.last_insert_rowid();
        match &b.summary {
            Some(s) => conn
                .prepare_cached(&format!(
                    "INSERT OR REPLACE INTO {summaries}
                         (id, entries_from, entries_to, entry_traces, format)
                     VALUES (?1, ?2, ?3, ?4, ?5)"
                ))?
                .execute(params![
                    id,
                    s.earliest,
                    s.latest,
                    s.traces.as_bytes(),
                    SUMMARY_FORMAT
                ])?,
            None => conn
                .prepare_cached(&format!("DELETE FROM {summaries} WHERE id = ?1"))?
                .execute([id])?,
        };
    }
    Ok(())
}

/// Rows for spans that arrived on their own (no transaction); a span sent
/// again (a retried envelope) keeps its first row (`spans_streamed`).
fn insert_streamed_spans(
    conn: &Connection,
    known: &mut KnownRows,
    p: i64,
    received: f64,
    item_id: i64,
    spans: &[StreamedSpan],
) -> Result<(), StoreError> {
    if spans.is_empty() {
        return Ok(());
    }
    // A streamed segment stands for a transaction, whose release is a
    // release (as Sentry's segment processing creates it).
    for release in spans
        .iter()
        .filter(|s| s.is_segment)
        .filter_map(|s| s.release.as_deref())
    {
        note_release(conn, known, p, release, received)?;
    }
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO spans (project_id, transaction_id, trace_id, span_id,
             parent_span_id, op, description, status, start_ts, end_ts, is_segment, release,
             environment, segment_name, item_id)
         VALUES (?1, NULL, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    for StreamedSpan {
        span: s,
        is_segment,
        release,
        environment,
        segment_name,
    } in spans
    {
        stmt.execute(params![
            p,
            s.trace_id,
            s.span_id,
            s.parent_span_id,
            s.op,
            s.description,
            s.status,
            s.start,
            s.end,
            is_segment,
            release,
            environment,
            segment_name,
            item_id
        ])?;
    }
    Ok(())
}

fn insert_attachment(
    conn: &Connection,
    p: i64,
    received: f64,
    a: &AttachmentRecord,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO attachments (project_id, event_id, filename, content_type, attachment_type,
             size, data, received)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        p,
        a.event_id,
        a.filename,
        a.content_type,
        a.attachment_type,
        a.data.len() as i64,
        a.data,
        received
    ])?;
    Ok(())
}

/// Makes sure `releases` has `release` (first seen `received`): events,
/// sessions and session aggregates name releases, and the releases list
/// reads this table alone rather than every session row.
fn note_release(
    conn: &Connection,
    known: &mut KnownRows,
    p: i64,
    release: &str,
    received: f64,
) -> Result<(), StoreError> {
    if known.note_release(p, release) {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO releases (project_id, version, first_seen) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![p, release, received])?;
    }
    Ok(())
}

/// De-duplicates on (sid, seq) and ignores updates after a terminal status
/// (but an init, which counts the session).
/// Returns whether a row was stored.
fn apply_session(
    conn: &Connection,
    p: i64,
    received: f64,
    s: &SessionRecord,
    known: &mut KnownRows,
) -> Result<bool, StoreError> {
    let ended = conn
        .prepare_cached(
            "SELECT 1 FROM sessions WHERE project_id = ?1 AND sid = ?2 AND status <> 'ok'
                 AND seq <> ?3 LIMIT 1",
        )?
        .exists(params![p, s.sid, s.seq])?;
    // An init that arrives after the final update (envelopes sent at once
    // may cross) still counts the session; other late updates are ignored.
    if ended && !s.init {
        return Ok(false);
    }
    // A session's attributes never change (PROTOCOL.md §7.1), so one
    // session never counts toward two releases. Its init update sets them:
    // a later update keeps those already stored (the init's, else the
    // first stored update's), and an init that arrives after other updates
    // sets them on those. One exception: a `did` may come later (an SDK
    // that learns the user mid-session), so a missing one is filled in.
    let first: Option<(Option<String>, f64, String, Option<String>)> = if s.init {
        None
    } else {
        conn.prepare_cached(
            "SELECT did, started, release, environment FROM sessions
             WHERE project_id = ?1 AND sid = ?2 ORDER BY init DESC, seq LIMIT 1",
        )?
        .query_row(params![p, s.sid], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?
    };
    let (did, started, release, environment) = match &first {
        Some((did, started, release, environment)) => (
            did.as_deref().or(s.did.as_deref()),
            *started,
            release.as_str(),
            environment.as_deref(),
        ),
        None => (
            s.did.as_deref(),
            s.started,
            s.release.as_str(),
            s.environment.as_deref(),
        ),
    };
    if s.init {
        conn.prepare_cached(
            "UPDATE sessions SET started = ?3, release = ?4, environment = ?5,
                 did = COALESCE(?6, did)
             WHERE project_id = ?1 AND sid = ?2",
        )?
        .execute(params![p, s.sid, started, release, environment, did])?;
    }
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO sessions (project_id, sid, did, seq, init, status, errors,
                 started, timestamp, duration, release, environment, abnormal_mechanism, received)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?
        .execute(params![
            p,
            s.sid,
            did,
            s.seq,
            s.init,
            s.status,
            s.errors,
            started,
            s.timestamp,
            s.duration,
            release,
            environment,
            s.abnormal_mechanism,
            received
        ])?;
    if n == 1 {
        note_release(conn, known, p, release, received)?;
    }
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_versions() {
        let v = |s| parse_release_version(s).map(|v| v.to_string());
        assert_eq!(v("app@1.2.3").as_deref(), Some("1.2.3"));
        assert_eq!(v("app@1.2").as_deref(), Some("1.2.0"));
        assert_eq!(v("v2").as_deref(), Some("2.0.0"));
        assert_eq!(
            v("@scope/pkg@1.0.0-beta.1").as_deref(),
            Some("1.0.0-beta.1")
        );
        assert_eq!(v("abc123"), None);
        assert!(parse_release_version("a@1.10.0") > parse_release_version("a@1.9.0"));
    }
}
