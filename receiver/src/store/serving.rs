//! Where the receiver last served a database: the host and path prefix of
//! the DSNs it printed.
//!
//! `receiver keys list` and the other management commands print DSNs
//! without a running server to ask. Without this record they could only
//! assume the default address, so a receiver started with `--addr
//! 127.0.0.1:9000` (or port 0) had its keys listed with DSNs no SDK could
//! reach. `receiver serve` notes its address here once it listens; the
//! commands use it unless `--addr` or `--prefix` say otherwise.
//!
//! ```
//! use receiver::store::{serving, Store};
//! let dir = tempfile::tempdir()?;
//! let (store, _) = Store::open(&dir.path().join("db.sqlite"), &Default::default())?;
//! assert_eq!(store.read_blocking(serving::last)?, None);
//! let conn = rusqlite::Connection::open(dir.path().join("db.sqlite"))?;
//! serving::note(&conn, "127.0.0.1:9000", "/sentry/")?;
//! assert_eq!(
//!     store.read_blocking(serving::last)?,
//!     Some(("127.0.0.1:9000".to_owned(), "/sentry/".to_owned()))
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;

/// Records that a receiver now serves this database at `host` (`host:port`
/// as in its DSNs) under the path prefix `prefix`.
pub fn note(conn: &Connection, host: &str, prefix: &str) -> Result<(), StoreError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    conn.execute(
        "INSERT INTO serving (id, host, prefix, started) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET host = ?1, prefix = ?2, started = ?3",
        rusqlite::params![host, prefix, now],
    )?;
    Ok(())
}

/// The host and path prefix the database was last served at, if it ever was.
pub fn last(conn: &Connection) -> Result<Option<(String, String)>, StoreError> {
    Ok(conn
        .query_row("SELECT host, prefix FROM serving WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}
