//! Rate-limit quotas (PROTOCOL.md §4.2, §11): at most `max_items` items of
//! some data categories per window, for a whole project or for one of its
//! keys. The rows live here; the counting happens in memory during
//! ingestion ([`crate::ingest::rate_limits`]).
//!
//! A fresh receiver has no quota: nothing is ever rate limited until one is
//! added (`receiver quotas add`), which is how a test makes the receiver
//! answer `429` to check what an application does then.

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;

/// The data categories a quota can name: those the envelope item types
/// count toward, as SDKs name them (PROTOCOL.md §2.4). `internal` (client
/// reports) is never rate limited.
pub const CATEGORIES: &[&str] = &[
    "default",
    "error",
    "transaction",
    "attachment",
    "session",
    "feedback",
    "monitor",
    "log_item",
    "span",
    "profile",
    "profile_chunk",
    "replay",
    "metric_bucket",
    "trace_metric",
];

/// The longest window: one day.
pub const MAX_WINDOW_SECS: u64 = 86_400;

/// A stored quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Row id (`receiver quotas remove ID`).
    pub id: i64,
    /// The project it applies to.
    pub project_id: i64,
    /// Only requests authenticated with this key count and are limited;
    /// `None`: every key of the project.
    pub public_key: Option<String>,
    /// The categories counted and limited; empty: all but `internal`.
    pub categories: Vec<String>,
    /// Items accepted per window; `0` refuses every one.
    pub max_items: u64,
    /// The window in seconds (windows start at multiples of it since the
    /// Unix epoch, as Relay's do).
    pub window_secs: u64,
    /// The reason code sent in `X-Sentry-Rate-Limits` and recorded with
    /// the dropped items.
    pub reason: String,
}

impl Quota {
    /// `key` or `project`, the scope named in `X-Sentry-Rate-Limits`.
    pub fn scope(&self) -> &'static str {
        if self.public_key.is_some() {
            "key"
        } else {
            "project"
        }
    }

    /// Whether items of `category` count toward this quota.
    ///
    /// ```
    /// use receiver::store::quotas::Quota;
    /// let q = Quota {
    ///     id: 1, project_id: 1, public_key: None, categories: vec![],
    ///     max_items: 0, window_secs: 60, reason: "quota_exceeded".into(),
    /// };
    /// assert!(q.covers("error") && q.covers("span"));
    /// assert!(!q.covers("internal"), "client reports are never limited");
    /// assert!(!q.covers("unknown"), "nor are item types nobody knows");
    /// ```
    pub fn covers(&self, category: &str) -> bool {
        // Relay does not limit items it cannot categorise either.
        !matches!(category, "internal" | "unknown")
            && (self.categories.is_empty() || self.categories.iter().any(|c| c == category))
    }
}

/// What `receiver quotas add` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQuota {
    /// The project.
    pub project_id: i64,
    /// Limit only this key of the project.
    pub public_key: Option<String>,
    /// Categories (see [`CATEGORIES`]); empty for all.
    pub categories: Vec<String>,
    /// Items per window; `0` refuses everything.
    pub max_items: u64,
    /// Window in seconds, 1 to [`MAX_WINDOW_SECS`].
    pub window_secs: u64,
    /// Reason code; `quota_exceeded` when `None`.
    pub reason: Option<String>,
}

impl NewQuota {
    /// A quota of `max_items` per `window_secs` for every key of a project
    /// (`categories` empty: all), with the default reason.
    ///
    /// ```
    /// use receiver::store::quotas::NewQuota;
    /// let q = NewQuota::project(1, &["error"], 100, 60);
    /// assert_eq!((q.public_key, q.reason), (None, None));
    /// assert_eq!(q.categories, ["error"]);
    /// ```
    pub fn project(project_id: i64, categories: &[&str], max_items: u64, window_secs: u64) -> Self {
        NewQuota {
            project_id,
            public_key: None,
            categories: categories.iter().map(|c| (*c).to_owned()).collect(),
            max_items,
            window_secs,
            reason: None,
        }
    }
}

/// Checks and stores a quota.
pub(crate) fn insert(conn: &Connection, new: &NewQuota) -> Result<Quota, StoreError> {
    let project: Option<i64> = conn
        .query_row(
            "SELECT id FROM projects WHERE id = ?1",
            [new.project_id],
            |r| r.get(0),
        )
        .optional()?;
    if project.is_none() {
        return Err(StoreError::NotFound(format!("project {}", new.project_id)));
    }
    if let Some(key) = &new.public_key {
        let owner: Option<i64> = conn
            .query_row(
                "SELECT project_id FROM keys WHERE public_key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?;
        if owner != Some(new.project_id) {
            return Err(StoreError::NotFound(format!(
                "key {key} of project {}",
                new.project_id
            )));
        }
    }
    if let Some(unknown) = new
        .categories
        .iter()
        .find(|c| !CATEGORIES.contains(&c.as_str()))
    {
        return Err(StoreError::Invalid(format!(
            "unknown data category {unknown:?}; known: {}",
            CATEGORIES.join(", ")
        )));
    }
    if new.window_secs == 0 || new.window_secs > MAX_WINDOW_SECS {
        return Err(StoreError::Invalid(format!(
            "the window must be 1 to {MAX_WINDOW_SECS} seconds"
        )));
    }
    let max_items = i64::try_from(new.max_items)
        .map_err(|_| StoreError::Invalid("the limit is too large".to_owned()))?;
    let reason = new.reason.as_deref().unwrap_or("quota_exceeded");
    // It goes into a response header between `:` separators.
    if reason.is_empty()
        || reason.len() > 64
        || !reason
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(StoreError::Invalid(format!(
            "a reason code is 1 to 64 letters, digits, `_` or `-`, got {reason:?}"
        )));
    }
    let mut categories = new.categories.clone();
    categories.sort();
    categories.dedup();
    conn.execute(
        "INSERT INTO quotas (project_id, public_key, categories, max_items, window_secs, reason,
             created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            new.project_id,
            new.public_key,
            categories.join(";"),
            max_items,
            new.window_secs as i64,
            reason,
            super::now_secs()
        ],
    )?;
    Ok(Quota {
        id: conn.last_insert_rowid(),
        project_id: new.project_id,
        public_key: new.public_key.clone(),
        categories,
        max_items: new.max_items,
        window_secs: new.window_secs,
        reason: reason.to_owned(),
    })
}

/// Deletes a quota.
pub(crate) fn delete(conn: &Connection, id: i64) -> Result<(), StoreError> {
    if conn.execute("DELETE FROM quotas WHERE id = ?1", [id])? == 0 {
        return Err(StoreError::NotFound(format!("quota {id}")));
    }
    Ok(())
}

/// The quotas of one project, or of all projects, by id.
pub fn list(conn: &Connection, project_id: Option<i64>) -> Result<Vec<Quota>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, project_id, public_key, categories, max_items, window_secs, reason
         FROM quotas WHERE ?1 IS NULL OR project_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([project_id], |r| {
        let categories: String = r.get(3)?;
        Ok(Quota {
            id: r.get(0)?,
            project_id: r.get(1)?,
            public_key: r.get(2)?,
            categories: categories
                .split(';')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            max_items: r.get::<_, i64>(4)?.max(0) as u64,
            window_secs: r.get::<_, i64>(5)?.max(1) as u64,
            reason: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
