//! Rows the writer knows are stored, so that ingestion can skip statements
//! that would change nothing.
//!
//! Most events of a busy application join an issue that exists, from a
//! release, user and environment already recorded for it. Each of those
//! facts costs the writer a statement per event (an index probe that finds
//! the row and does nothing): who owns the grouping hash, `INSERT OR
//! IGNORE` into `releases`, `issue_users` and `issue_facets` (twice). Here
//! the writer remembers what those statements found or inserted, and asks
//! SQLite only about what it has not seen. It also remembers which issues
//! are open (not resolved), whose events it counts once per batch.
//!
//! What is remembered must stay true while it is used:
//!
//! * **Other connections** (the API's, the CLI's in another process)
//!   resolve and delete issues, and with them hashes, users and facets.
//!   `PRAGMA data_version` changes whenever another connection commits;
//!   [`KnownRows::sync`] reads it inside each write transaction, after the
//!   write lock is taken (so no one else can commit until this transaction
//!   ends), and forgets everything when it moved.
//! * **The writer's own rollbacks**: a fact noted in a transaction or job
//!   that is then rolled back is false. The writer calls
//!   [`KnownRows::forget`] whenever it rolls anything back, and on every
//!   write that is not ingestion.
//! * **Memory**: each set holds at most [`MAX_ENTRIES`] facts and starts
//!   over when full.
//!
//! ```
//! # use receiver::store::known_rows::KnownRows;
//! let mut known = KnownRows::default();
//! assert!(known.note_release(1, "app@1.0"), "new: the writer must insert it");
//! assert!(!known.note_release(1, "app@1.0"), "known: nothing to do");
//! known.forget();
//! assert!(known.note_release(1, "app@1.0"));
//! ```

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use rusqlite::Connection;

use super::records::hash_key;

/// The most facts each set holds; past it the set starts over.
pub const MAX_ENTRIES: usize = 50_000;

/// Which `issue_facets` kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FacetKind {
    /// `environment`.
    Environment,
    /// `release`.
    Release,
}

impl FacetKind {
    /// The `kind` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            FacetKind::Environment => "environment",
            FacetKind::Release => "release",
        }
    }
}

/// Facts about stored rows, valid for the writer's connection (see the
/// module documentation).
#[derive(Debug, Default)]
pub struct KnownRows {
    /// `PRAGMA data_version` when the facts were last known valid; `None`
    /// until the first [`KnownRows::sync`] (or after one failed).
    data_version: Option<i64>,
    /// `(project, hash)` → the issue that owns it in `group_hashes`.
    hash_owners: HashMap<(i64, u128), i64>,
    /// Project → versions in `releases`.
    releases: Values<i64>,
    /// Issue → user keys in `issue_users`.
    issue_users: Values<i64>,
    /// `(issue, kind)` → values in `issue_facets`.
    facets: Values<(i64, FacetKind)>,
    /// Issues whose status is neither `resolved` nor
    /// `resolved_in_release`: an event cannot regress them.
    open_issues: HashSet<i64>,
    /// No id floor is above the largest issue and event ids
    /// (`store::id_floors`): SQLite's own ids are new.
    ids_above_floors: bool,
}

impl KnownRows {
    /// Checks, inside a write transaction, whether another connection has
    /// committed since the last check, and forgets everything if so (or if
    /// that cannot be told).
    pub fn sync(&mut self, conn: &Connection) {
        let version = conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .ok();
        if version.is_none() || version != self.data_version {
            self.forget();
        }
        self.data_version = version;
    }

    /// Forgets every fact.
    pub fn forget(&mut self) {
        self.hash_owners.clear();
        self.releases.clear();
        self.issue_users.clear();
        self.facets.clear();
        self.open_issues.clear();
        self.ids_above_floors = false;
    }

    /// Whether SQLite's own ids for new issues and events are known not to
    /// reuse deleted ones.
    pub fn ids_above_floors(&self) -> bool {
        self.ids_above_floors
    }

    /// Notes that no id floor needs an explicit id.
    pub fn note_ids_above_floors(&mut self) {
        self.ids_above_floors = true;
    }

    /// The issue known to own `hash` in `project`.
    pub fn hash_owner(&self, project: i64, hash: &str) -> Option<i64> {
        let key = hash_key(hash)?;
        self.hash_owners.get(&(project, key)).copied()
    }

    /// Notes that `issue` owns `hash` in `project`.
    pub fn note_hash_owner(&mut self, project: i64, hash: &str, issue: i64) {
        if let Some(key) = hash_key(hash) {
            if self.hash_owners.len() >= MAX_ENTRIES {
                self.hash_owners.clear();
            }
            self.hash_owners.insert((project, key), issue);
        }
    }

    /// Notes that `version` is in `releases`; returns whether it was new
    /// (the caller must then make it so).
    pub fn note_release(&mut self, project: i64, version: &str) -> bool {
        self.releases.note(project, version)
    }

    /// Notes that `user` is in `issue_users` for `issue`; returns whether
    /// it was new.
    pub fn note_issue_user(&mut self, issue: i64, user: &str) -> bool {
        self.issue_users.note(issue, user)
    }

    /// Notes that `issue` is open: neither resolved nor resolved in a
    /// release.
    pub fn note_open_issue(&mut self, issue: i64) {
        if self.open_issues.len() >= MAX_ENTRIES {
            self.open_issues.clear();
        }
        self.open_issues.insert(issue);
    }

    /// Forgets that `issue` is open: the writer is closing it.
    pub fn forget_open_issue(&mut self, issue: i64) {
        self.open_issues.remove(&issue);
    }

    /// Whether `issue` is known to be open.
    pub fn is_open_issue(&self, issue: i64) -> bool {
        self.open_issues.contains(&issue)
    }

    /// Notes that `issue` has the facet `kind` = `value`; returns whether
    /// it was new.
    pub fn note_facet(&mut self, issue: i64, kind: FacetKind, value: &str) -> bool {
        self.facets.note((issue, kind), value)
    }
}

/// Strings noted per key, at most [`MAX_ENTRIES`] in all. Nested so that a
/// lookup borrows the string instead of building a key.
#[derive(Debug)]
struct Values<K> {
    by_key: HashMap<K, HashSet<String>>,
    len: usize,
}

impl<K> Default for Values<K> {
    fn default() -> Self {
        Values {
            by_key: HashMap::new(),
            len: 0,
        }
    }
}

impl<K: Eq + Hash> Values<K> {
    /// Notes `value` under `key`; returns whether it was new.
    fn note(&mut self, key: K, value: &str) -> bool {
        if self.by_key.get(&key).is_some_and(|set| set.contains(value)) {
            return false;
        }
        if self.len >= MAX_ENTRIES {
            self.clear();
        }
        self.len += 1;
        self.by_key.entry(key).or_default().insert(value.to_owned())
    }

    fn clear(&mut self) {
        self.by_key.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_new_once_until_forgotten() {
        let mut k = KnownRows::default();
        assert!(k.note_issue_user(1, "id:7"));
        assert!(!k.note_issue_user(1, "id:7"));
        assert!(k.note_issue_user(2, "id:7"), "another issue");
        assert!(k.note_facet(1, FacetKind::Release, "a"));
        assert!(k.note_facet(1, FacetKind::Environment, "a"), "another kind");
        assert!(!k.note_facet(1, FacetKind::Release, "a"));
        let hash = "0123456789abcdef0123456789abcdef";
        assert_eq!(k.hash_owner(1, hash), None);
        k.note_hash_owner(1, hash, 9);
        assert_eq!(k.hash_owner(1, hash), Some(9));
        assert_eq!(k.hash_owner(2, hash), None, "another project");
        k.forget();
        assert_eq!(k.hash_owner(1, hash), None);
        assert!(k.note_issue_user(1, "id:7"));
        assert!(k.note_facet(1, FacetKind::Release, "a"));
    }

    #[test]
    fn hashes_of_another_form_are_not_remembered() {
        let mut k = KnownRows::default();
        k.note_hash_owner(1, "short", 3);
        assert_eq!(k.hash_owner(1, "short"), None);
    }

    #[test]
    fn a_full_set_starts_over() {
        let mut k = KnownRows::default();
        for n in 0..MAX_ENTRIES {
            assert!(k.note_release(1, &n.to_string()));
        }
        assert!(!k.note_release(1, "0"));
        assert!(k.note_release(1, "one more"), "the set started over");
        assert!(k.note_release(1, "0"), "so the first fact is forgotten");
    }

    #[test]
    fn another_connections_commit_forgets_but_a_checkpoint_does_not() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("db.sqlite");
        let a = Connection::open(&path).expect("open");
        a.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);")
            .expect("setup");
        let b = Connection::open(&path).expect("open");
        let mut k = KnownRows::default();
        k.sync(&a);
        k.note_release(1, "r");

        a.execute("INSERT INTO t VALUES (1)", [])
            .expect("own write");
        b.execute_batch("PRAGMA wal_checkpoint(PASSIVE);")
            .expect("checkpoint");
        k.sync(&a);
        assert!(
            !k.note_release(1, "r"),
            "own commits and checkpoints keep facts"
        );

        b.execute("INSERT INTO t VALUES (2)", [])
            .expect("other write");
        k.sync(&a);
        assert!(
            k.note_release(1, "r"),
            "another connection's commit forgets"
        );
    }
}
