//! API bearer tokens: 64 hex digits, stored as their SHA-256, with the scope
//! `read` (GET only) or `admin` (everything).
//!
//! The functions take a connection so they work on the server's own
//! connection, on a read-only reader ([`lookup`], [`list`]) and from the CLI
//! on the database file ([`open_write`]).
//!
//! ```
//! use receiver::api::tokens::{self, Scope};
//! let dir = tempfile::tempdir()?;
//! let conn = tokens::open_write(&dir.path().join("db.sqlite"))?;
//! let (info, token) = tokens::create(&conn, Scope::Read, Some("ci"))?;
//! assert_eq!(token.len(), 64);
//! assert_eq!(tokens::lookup(&conn, &token)?, Some(Scope::Read));
//! tokens::revoke(&conn, info.id)?;
//! assert_eq!(tokens::lookup(&conn, &token)?, None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use parking_lot::RwLock;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::store::{now_secs, schema, StoreError};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `GET` requests only.
    Read,
    /// Every request.
    Admin,
}

impl Scope {
    /// `read` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }

    /// Parses `read` or `admin`.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// The Sentry scopes this maps to (for `GET /api/0/`).
    pub fn sentry_scopes(self) -> &'static [&'static str] {
        match self {
            Scope::Read => &["org:read", "project:read", "event:read", "project:releases"],
            Scope::Admin => &[
                "org:read",
                "project:read",
                "project:write",
                "project:admin",
                "project:releases",
                "event:read",
                "event:write",
                "event:admin",
            ],
        }
    }
}

/// A stored token (the token itself is not stored).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    /// Row id (for `revoke`).
    pub id: i64,
    /// Scope.
    pub scope: Scope,
    /// Optional label.
    pub label: Option<String>,
    /// Creation time (Unix seconds).
    pub created: f64,
}

/// SHA-256 of a token, in hex.
pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A new random token: 64 lowercase hex digits.
pub fn generate() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Opens the database for token management (creating and migrating it if
/// needed), with the busy timeout that lets it share the file with a
/// running server.
pub fn open_write(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Setup(format!("cannot create directory {}: {e}", dir.display()))
        })?;
    }
    crate::store::create_private(path)
        .map_err(|e| StoreError::Setup(format!("cannot create {}: {e}", path.display())))?;
    let mut conn = Connection::open(path)
        .map_err(|e| StoreError::Setup(format!("cannot open {}: {e}", path.display())))?;
    schema::configure(&conn, true)?;
    schema::migrate(&mut conn)?;
    Ok(conn)
}

/// Creates a random token; returns it (shown once) with its record.
pub fn create(
    conn: &Connection,
    scope: Scope,
    label: Option<&str>,
) -> Result<(TokenInfo, String), StoreError> {
    let token = generate();
    let info = register(conn, &token, scope, label)?;
    Ok((info, token))
}

/// Whether `token` (trimmed) can be an API token: 16 to 256 printable
/// ASCII characters. `receiver serve` checks a preset token with it before
/// it starts, so that a script waiting for the DSN line never sees one from
/// a server that is about to exit.
///
/// ```
/// use receiver::api::tokens::check_format;
/// assert!(check_format("0123456789abcdef").is_ok());
/// assert!(check_format("short").is_err());
/// ```
pub fn check_format(token: &str) -> Result<(), StoreError> {
    let token = token.trim();
    if token.len() < 16 || token.len() > 256 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(StoreError::Invalid(
            "an API token must be 16 to 256 printable ASCII characters".to_owned(),
        ));
    }
    Ok(())
}

/// Stores a given token (e.g. from `RECEIVER_TOKEN`). A token that is
/// already stored keeps its row and its scope: `receiver serve` registers
/// `RECEIVER_TOKEN` as admin, and a read token a user exported for the CLI
/// must not become an admin one by starting the server with it.
pub fn register(
    conn: &Connection,
    token: &str,
    scope: Scope,
    label: Option<&str>,
) -> Result<TokenInfo, StoreError> {
    let token = token.trim();
    check_format(token)?;
    let created = now_secs();
    conn.execute(
        "INSERT INTO api_tokens (token_hash, scope, label, created) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (token_hash) DO NOTHING",
        params![hash(token), scope.as_str(), label, created],
    )?;
    let info = conn.query_row(
        "SELECT id, scope, label, created FROM api_tokens WHERE token_hash = ?1",
        [hash(token)],
        info_from_row,
    )?;
    Ok(info)
}

fn info_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenInfo> {
    let scope: String = r.get(1)?;
    Ok(TokenInfo {
        id: r.get(0)?,
        scope: Scope::parse(&scope).unwrap_or(Scope::Read),
        label: r.get(2)?,
        created: r.get(3)?,
    })
}

/// All tokens, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<TokenInfo>, StoreError> {
    let mut stmt = conn.prepare("SELECT id, scope, label, created FROM api_tokens ORDER BY id")?;
    let rows = stmt.query_map([], info_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Number of tokens.
pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM api_tokens", [], |r| r.get(0))?)
}

/// Deletes a token by id.
pub fn revoke(conn: &Connection, id: i64) -> Result<(), StoreError> {
    let n = conn.execute("DELETE FROM api_tokens WHERE id = ?1", [id])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("token {id}")));
    }
    Ok(())
}

/// The scope of a presented token, if it is valid.
pub fn lookup(conn: &Connection, token: &str) -> Result<Option<Scope>, StoreError> {
    let scope: Option<String> = conn
        .prepare_cached("SELECT scope FROM api_tokens WHERE token_hash = ?1")?
        .query_row([hash(token.trim())], |r| r.get(0))
        .optional()?;
    Ok(scope.as_deref().and_then(Scope::parse))
}

/// Called when a server starts: stores `preset` as an admin token if given;
/// otherwise, if the database has no token at all (its first start), creates
/// an admin token and returns it so it can be shown once.
pub fn ensure_initial(path: &Path, preset: Option<&str>) -> Result<Option<String>, StoreError> {
    let conn = open_write(path)?;
    if let Some(token) = preset.map(str::trim).filter(|t| !t.is_empty()) {
        register(&conn, token, Scope::Admin, Some("RECEIVER_TOKEN"))?;
        return Ok(None);
    }
    let tx = conn.unchecked_transaction()?;
    let result = if count(&tx)? == 0 {
        let (_, token) = create(&tx, Scope::Admin, Some("initial admin token"))?;
        Some(token)
    } else {
        None
    };
    tx.commit()?;
    Ok(result)
}

/// Tokens held only in memory: valid while the process runs, never written
/// to the database (so `receiver tokens list` does not show them and no
/// other process accepts them). `receiver serve` makes one ephemeral admin
/// token for the web page's URL. Like stored tokens they are kept as their
/// SHA-256.
///
/// ```
/// use receiver::api::tokens::{MemoryTokens, Scope};
/// let tokens = MemoryTokens::default();
/// let token = tokens.create(Scope::Admin);
/// assert_eq!(tokens.lookup(&token), Some(Scope::Admin));
/// assert_eq!(tokens.lookup("not-the-token"), None);
/// ```
#[derive(Debug, Default)]
pub struct MemoryTokens {
    by_hash: RwLock<HashMap<String, Scope>>,
}

impl MemoryTokens {
    /// Makes a random token with `scope` and returns it.
    pub fn create(&self, scope: Scope) -> String {
        let token = generate();
        self.by_hash.write().insert(hash(&token), scope);
        token
    }

    /// The scope of `token`, if it is one of these.
    pub fn lookup(&self, token: &str) -> Option<Scope> {
        let map = self.by_hash.read();
        if map.is_empty() {
            return None;
        }
        map.get(&hash(token.trim())).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_creates_one_token_and_presets_register() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let first = ensure_initial(&path, None).expect("init");
        assert!(first.is_some());
        assert_eq!(ensure_initial(&path, None).expect("again"), None);
        let preset = "0123456789abcdef-preset";
        assert_eq!(ensure_initial(&path, Some(preset)).expect("preset"), None);
        let conn = open_write(&path).expect("open");
        assert_eq!(lookup(&conn, preset).expect("lookup"), Some(Scope::Admin));
        assert_eq!(count(&conn).expect("count"), 2);
        assert!(register(&conn, "short", Scope::Read, None).is_err());
        // A stored read token stays read when the server starts with it.
        let (_, read) = create(&conn, Scope::Read, None).expect("read token");
        drop(conn);
        assert_eq!(
            ensure_initial(&path, Some(&read)).expect("preset read"),
            None
        );
        let conn = open_write(&path).expect("open");
        assert_eq!(lookup(&conn, &read).expect("lookup"), Some(Scope::Read));
        assert_eq!(hash("abc").len(), 64);
    }
}
