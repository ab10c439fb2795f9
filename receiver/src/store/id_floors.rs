//! Ids of issues and events are never handed out twice.
//!
//! Both tables use SQLite's plain rowid, which gives a new row one more
//! than the largest id left. Deleting the newest issue would let the next
//! one take its id (and its short id, and links to it), and the events
//! stream, whose cursor is the event id, would skip the events that took
//! ids it had already passed. A deletion records the largest ids first
//! ([`raise`]); the writer gives the first row inserted after that an
//! explicit id above the floor ([`next_explicit`]), and SQLite counts on
//! from there.

use rusqlite::Connection;

use super::StoreError;

/// A table whose ids must not be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Issues,
    Events,
}

/// Records the largest issue and event ids as floors, before rows are
/// deleted (in the same transaction).
pub(crate) fn raise(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "INSERT INTO id_floors (name, value)
             SELECT 'issues', COALESCE(MAX(id), 0) FROM issues WHERE true
             ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value);
         INSERT INTO id_floors (name, value)
             SELECT 'events', COALESCE(MAX(id), 0) FROM events WHERE true
             ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value);",
    )
}

/// The ids the next issue and the next event must take: `Some` only
/// while the table's floor is at or above its largest id left, i.e. after
/// its newest rows were deleted.
pub(super) fn next_explicit(conn: &Connection) -> Result<ExplicitIds, StoreError> {
    let mut ids = ExplicitIds::default();
    let mut statement = conn.prepare_cached(
        "SELECT name, value + 1 FROM id_floors
         WHERE (name = 'issues' AND value >= (SELECT COALESCE(MAX(id), 0) FROM issues))
            OR (name = 'events' AND value >= (SELECT COALESCE(MAX(id), 0) FROM events))",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(1)?;
        match row.get_ref(0)?.as_str().unwrap_or("") {
            "issues" => ids.issues = Some(id),
            "events" => ids.events = Some(id),
            _ => {}
        }
    }
    Ok(ids)
}

/// What [`next_explicit`] found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct ExplicitIds {
    pub(super) issues: Option<i64>,
    pub(super) events: Option<i64>,
}

impl ExplicitIds {
    /// The explicit id for `table`.
    pub(super) fn get(&self, table: Table) -> Option<i64> {
        match table {
            Table::Issues => self.issues,
            Table::Events => self.events,
        }
    }

    /// `table` took its explicit id: SQLite counts on from it.
    pub(super) fn used(&mut self, table: Table) {
        match table {
            Table::Issues => self.issues = None,
            Table::Events => self.events = None,
        }
    }

    /// Neither table needs one.
    pub(super) fn none(&self) -> bool {
        self.issues.is_none() && self.events.is_none()
    }
}
