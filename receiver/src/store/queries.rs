//! Read queries. Each takes a connection so it runs on a reader
//! ([`super::Store::read`] / [`super::Store::read_blocking`]).

use std::collections::BTreeMap;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::{decompress, KeyInfo, ProjectInfo, StoreError};

/// Every table [`table_counts`] reports.
pub const TABLES: &[&str] = &[
    "projects",
    "keys",
    "issues",
    "group_hashes",
    "events",
    "attachments",
    "transactions",
    "spans",
    "span_items",
    "sessions",
    "session_aggregates",
    "client_reports",
    "feedback",
    "logs",
    "trace_metrics",
    "check_ins",
    "raw_items",
];

/// Maps a `keys ⋈ projects` row (`id, project_id, public_key, label,
/// enabled, project_enabled, allowed_origins`).
pub fn key_from_row(row: &Row<'_>) -> rusqlite::Result<KeyInfo> {
    Ok(KeyInfo {
        id: row.get(0)?,
        project_id: row.get(1)?,
        public_key: row.get(2)?,
        label: row.get(3)?,
        enabled: row.get(4)?,
        project_enabled: row.get(5)?,
        allowed_origins: row.get(6)?,
    })
}

const KEY_COLUMNS: &str =
    "SELECT k.id, k.project_id, k.public_key, k.label, k.enabled, p.enabled, p.allowed_origins
     FROM keys k JOIN projects p ON p.id = k.project_id";

/// All projects, by id.
pub fn list_projects(conn: &Connection) -> Result<Vec<ProjectInfo>, StoreError> {
    let mut stmt = conn.prepare("SELECT id, name, enabled FROM projects ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(ProjectInfo {
            id: r.get(0)?,
            name: r.get(1)?,
            enabled: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// All keys, or those of one project.
pub fn list_keys(conn: &Connection, project_id: Option<i64>) -> Result<Vec<KeyInfo>, StoreError> {
    let sql =
        format!("{KEY_COLUMNS} WHERE ?1 IS NULL OR k.project_id = ?1 ORDER BY k.project_id, k.id");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([project_id], key_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The key with this public key, if any.
pub fn find_key(conn: &Connection, public_key: &str) -> Result<Option<KeyInfo>, StoreError> {
    let sql = format!("{KEY_COLUMNS} WHERE k.public_key = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([public_key], key_from_row)
        .optional()?)
}

/// An issue.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueRow {
    /// Id.
    pub id: i64,
    /// Project.
    pub project_id: i64,
    /// Title.
    pub title: String,
    /// Culprit.
    pub culprit: Option<String>,
    /// Level.
    pub level: String,
    /// Earliest event time.
    pub first_seen: f64,
    /// Latest event time.
    pub last_seen: f64,
    /// Number of events.
    pub times_seen: i64,
    /// Distinct users.
    pub user_count: i64,
    /// `unresolved`, `resolved`, `resolved_in_release` or `ignored`.
    pub status: String,
    /// `new`, `ongoing`, `regressed`.
    pub substatus: Option<String>,
    /// The release of a `resolved_in_release` status.
    pub resolved_release: Option<String>,
    /// How the first event was grouped.
    pub explanation: Option<Value>,
}

const ISSUE_COLUMNS: &str = "SELECT id, project_id, title, culprit, level, first_seen, last_seen,
     times_seen, user_count, status, substatus, resolved_release,
     COALESCE((SELECT g.explanation FROM issue_grouping g WHERE g.issue_id = issues.id),
         grouping_explanation)
     FROM issues";

/// The most an explanation is read back as (it is written from one
/// event's grouping; a damaged row must not claim more).
const EXPLANATION_MAX: usize = 64 << 20;

/// An explanation as stored: zstd-compressed JSON (a BLOB, from schema
/// version 28 on), or the JSON text earlier receivers stored (and the old
/// `issues.grouping_explanation` column holds). `None` for `NULL` or a
/// value that cannot be read.
///
/// ```
/// use rusqlite::types::ValueRef;
/// use receiver::store::{compress_explanation, queries::explanation_text};
/// let stored = compress_explanation(r#"{"variants":{}}"#).unwrap();
/// assert_eq!(explanation_text(ValueRef::Blob(&stored)).as_deref(), Some(r#"{"variants":{}}"#));
/// assert_eq!(explanation_text(ValueRef::Text(b"{}")).as_deref(), Some("{}"));
/// assert_eq!(explanation_text(ValueRef::Null), None);
/// ```
pub fn explanation_text(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Text(text) => String::from_utf8(text.to_vec()).ok(),
        ValueRef::Blob(compressed) => {
            let json = super::dictionary::decompress(compressed, None, EXPLANATION_MAX).ok()?;
            String::from_utf8(json).ok()
        }
        _ => None,
    }
}

/// A hash's inputs as stored: the JSON list zstd-compressed (a BLOB, from
/// schema version 29 on; [`super::compress_inputs`]) or as text (earlier
/// receivers). Empty for an empty BLOB (a hash stored without its inputs)
/// or a value that cannot be read.
///
/// ```
/// use rusqlite::types::ValueRef;
/// use receiver::store::queries::hash_inputs;
/// assert_eq!(hash_inputs(ValueRef::Text(br#"["KeyError"]"#)), ["KeyError"]);
/// assert!(hash_inputs(ValueRef::Blob(b"")).is_empty());
/// ```
pub fn hash_inputs(value: ValueRef<'_>) -> Vec<String> {
    let json = match value {
        ValueRef::Text(text) => Some(text.to_vec()),
        ValueRef::Blob(compressed) if !compressed.is_empty() => {
            super::dictionary::decompress(compressed, None, EXPLANATION_MAX).ok()
        }
        _ => None,
    };
    json.and_then(|json| serde_json::from_slice(&json).ok())
        .unwrap_or_default()
}

fn issue_from_row(r: &Row<'_>) -> rusqlite::Result<IssueRow> {
    let explanation = explanation_text(r.get_ref(12)?);
    Ok(IssueRow {
        id: r.get(0)?,
        project_id: r.get(1)?,
        title: r.get(2)?,
        culprit: r.get(3)?,
        level: r.get(4)?,
        first_seen: r.get(5)?,
        last_seen: r.get(6)?,
        times_seen: r.get(7)?,
        user_count: r.get(8)?,
        status: r.get(9)?,
        substatus: r.get(10)?,
        resolved_release: r.get(11)?,
        explanation: explanation.and_then(|s| serde_json::from_str(&s).ok()),
    })
}

/// A project's issues, most recently seen first.
pub fn list_issues(conn: &Connection, project_id: i64) -> Result<Vec<IssueRow>, StoreError> {
    let sql = format!("{ISSUE_COLUMNS} WHERE project_id = ?1 ORDER BY last_seen DESC, id DESC");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([project_id], issue_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One issue.
pub fn issue(conn: &Connection, id: i64) -> Result<Option<IssueRow>, StoreError> {
    let sql = format!("{ISSUE_COLUMNS} WHERE id = ?1");
    Ok(conn.query_row(&sql, [id], issue_from_row).optional()?)
}

/// A grouping hash owned by an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupHashRow {
    /// 32 hex digits.
    pub hash: String,
    /// Variant.
    pub variant: String,
    /// Component.
    pub component: String,
    /// Contributing values.
    pub inputs: Vec<String>,
}

/// The hashes that lead to an issue.
pub fn issue_hashes(conn: &Connection, issue_id: i64) -> Result<Vec<GroupHashRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT hash, variant, component, inputs FROM group_hashes WHERE issue_id = ?1
         ORDER BY rowid",
    )?;
    let rows = stmt.query_map([issue_id], |r| {
        Ok(GroupHashRow {
            hash: r.get(0)?,
            variant: r.get(1)?,
            component: r.get(2)?,
            inputs: hash_inputs(r.get_ref(3)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A stored event (without its payload).
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Row id.
    pub id: i64,
    /// Project.
    pub project_id: i64,
    /// 32 hex digits.
    pub event_id: String,
    /// Issue.
    pub issue_id: Option<i64>,
    /// `error` or `default`.
    pub kind: String,
    /// Event time.
    pub timestamp: f64,
    /// Receive time.
    pub received: f64,
    /// Release.
    pub release: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// Level.
    pub level: String,
    /// Title.
    pub title: String,
}

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        id: r.get(0)?,
        project_id: r.get(1)?,
        event_id: r.get(2)?,
        issue_id: r.get(3)?,
        kind: r.get(4)?,
        timestamp: r.get(5)?,
        received: r.get(6)?,
        release: r.get(7)?,
        environment: r.get(8)?,
        level: r.get(9)?,
        title: r.get(10)?,
    })
}

const EVENT_COLUMNS: &str = "SELECT id, project_id, event_id, issue_id, kind, timestamp, received,
     release, environment, level, title FROM events";

/// Events of a project (or of one issue), newest first, at most `limit`.
pub fn list_events(
    conn: &Connection,
    project_id: i64,
    issue_id: Option<i64>,
    limit: usize,
) -> Result<Vec<EventRow>, StoreError> {
    let sql = format!(
        "{EVENT_COLUMNS} WHERE project_id = ?1 AND (?2 IS NULL OR issue_id = ?2)
         ORDER BY timestamp DESC, id DESC LIMIT ?3"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![project_id, issue_id, limit as i64], event_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One event's metadata.
pub fn event(
    conn: &Connection,
    project_id: i64,
    event_id: &str,
) -> Result<Option<EventRow>, StoreError> {
    let sql = format!("{EVENT_COLUMNS} WHERE project_id = ?1 AND event_id = ?2");
    Ok(conn
        .query_row(&sql, params![project_id, event_id], event_from_row)
        .optional()?)
}

/// One event's stored (normalised) JSON.
pub fn event_payload(
    conn: &Connection,
    project_id: i64,
    event_id: &str,
) -> Result<Option<Value>, StoreError> {
    let blob: Option<Vec<u8>> = conn
        .query_row(
            "SELECT payload FROM events WHERE project_id = ?1 AND event_id = ?2",
            params![project_id, event_id],
            |r| r.get(0),
        )
        .optional()?;
    match blob {
        None => Ok(None),
        Some(blob) => {
            let json = decompress(&blob)?;
            serde_json::from_slice(&json)
                .map(Some)
                .map_err(|e| StoreError::Invalid(format!("stored payload is not JSON: {e}")))
        }
    }
}

/// Whether an event id is stored for a project.
pub fn has_event(conn: &Connection, project_id: i64, event_id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM events WHERE project_id = ?1 AND event_id = ?2")?
        .exists(params![project_id, event_id])?)
}

/// Number of stored events (all projects).
pub fn count_events(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?)
}

/// Row counts of every table in [`TABLES`].
pub fn table_counts(conn: &Connection) -> Result<BTreeMap<String, i64>, StoreError> {
    let mut out = BTreeMap::new();
    for table in TABLES {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
        out.insert((*table).to_owned(), n);
    }
    Ok(out)
}

/// How many items of each type a project has received.
pub fn item_counts(
    conn: &Connection,
    project_id: i64,
) -> Result<BTreeMap<String, i64>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT item_type, count FROM item_counts WHERE project_id = ?1")?;
    let rows = stmt.query_map([project_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A stored attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: Option<String>,
    /// The bytes as sent.
    pub data: Vec<u8>,
}

/// The stored attachments of an event, in arrival order.
pub fn attachments(
    conn: &Connection,
    project_id: i64,
    event_id: &str,
) -> Result<Vec<StoredAttachment>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT filename, content_type, data FROM attachments
         WHERE project_id = ?1 AND event_id = ?2 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![project_id, event_id], |r| {
        Ok(StoredAttachment {
            filename: r.get(0)?,
            content_type: r.get(1)?,
            data: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Unix seconds as ISO 8601 (UTC, microseconds).
pub fn iso_time(secs: f64) -> String {
    sentry_core::protocol::Timestamp::from_secs_f64(secs).to_rfc3339()
}
