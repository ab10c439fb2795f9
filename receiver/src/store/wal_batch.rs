//! A SQLite VFS that writes the frames of a WAL commit with one system call.
//!
//! SQLite appends each WAL frame with two `pwrite`s, its 24-byte header
//! and its page. A commit of a batch of events is a few dozen frames, so
//! the writer thread made ~10 `pwrite`s per event, about a quarter of its
//! time (`docs/receiver.md`, "What limits it now"). This VFS is the
//! platform's default VFS except for the WAL file: writes that continue the
//! WAL where the previous one ended are gathered in memory and written in
//! one call when the commit frame is complete. Everything else is passed
//! on as it comes, after what is gathered has been written.
//!
//! Why readers never see a frame that is not in the file yet: SQLite
//! publishes frames to other connections (the shared WAL index) only after
//! its last write of the commit, which is the commit frame's page (a
//! frame whose header has a non-zero database size is a commit frame). That
//! write sends the gathered frames to the file before it returns. Every
//! other operation on the WAL file (read, sync, truncate, size, file
//! control, close) also writes them first, and so does a write that does
//! not continue the gathered run (SQLite rewriting a frame or a header in
//! place, as it does after spilling its cache). Durability is SQLite's own:
//! with `synchronous=NORMAL` a commit is in the operating system's hands
//! when it returns, as before; with `FULL` the sync comes after the flush.
//!
//! Only the writer's connection uses it ([`NAME`]); readers and the
//! checkpointer use the default VFS on the same files.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("db.sqlite");
//! let name = receiver::store::wal_batch::register().expect("registered");
//! let conn = rusqlite::Connection::open_with_flags_and_vfs(
//!     &path,
//!     rusqlite::OpenFlags::default(),
//!     name,
//! )?;
//! conn.pragma_update(None, "journal_mode", "wal")?;
//! conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")?;
//! let reader = rusqlite::Connection::open(&path)?;
//! let n: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
//! assert_eq!(n, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ffi::{c_char, c_int, c_void, CStr};
use std::mem::size_of;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name the VFS is registered under.
pub const NAME: &str = "receiver-wal-batch";

const NAME_C: &CStr = c"receiver-wal-batch";

/// Gathered bytes are written once they pass this size, commit or not.
const FLUSH_AT: usize = 1 << 20;

/// The most one write passes to the default VFS: the Unix VFS writes at
/// most 128 KiB - 1 per call (larger ones it reports as a full disk).
const CHUNK: usize = 120 * 1024;

/// Size of a WAL frame header, and of the WAL file header.
const FRAME_HEADER: c_int = 24;
const WAL_HEADER: c_int = 32;

/// How many writes SQLite asked for and how many reached the file, over
/// all WAL files of this VFS in the process (tests and benchmarks read it).
static WRITES_ASKED: AtomicU64 = AtomicU64::new(0);
static WRITES_DONE: AtomicU64 = AtomicU64::new(0);

/// `(writes SQLite made to WAL files through this VFS, writes that reached
/// the file)`.
pub fn write_counts() -> (u64, u64) {
    (
        WRITES_ASKED.load(Ordering::Relaxed),
        WRITES_DONE.load(Ordering::Relaxed),
    )
}

/// The platform's default VFS, which does the work.
struct DefaultVfs(*mut ffi::sqlite3_vfs);

// SAFETY: SQLite's VFS objects are immutable once registered and
// thread-safe to call (SQLite's own requirement of every VFS).
unsafe impl Send for DefaultVfs {}
unsafe impl Sync for DefaultVfs {}

static DEFAULT: OnceLock<DefaultVfs> = OnceLock::new();
static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers the VFS (once per process) and returns its name, or why it
/// could not be.
pub fn register() -> Result<&'static str, String> {
    REGISTERED
        .get_or_init(|| {
            // SAFETY: `sqlite3_vfs_find` and `sqlite3_vfs_register` may be
            // called from any thread; the registered object is leaked, so
            // it outlives every connection.
            unsafe {
                let default = ffi::sqlite3_vfs_find(ptr::null());
                if default.is_null() {
                    return Err("SQLite has no default VFS".to_owned());
                }
                let _ = DEFAULT.set(DefaultVfs(default));
                // Everything as the default VFS (its other methods do not
                // depend on the file size), but files are bigger: our
                // header, then the default VFS's file.
                let mut vfs: ffi::sqlite3_vfs = *default;
                vfs.szOsFile = c_int::try_from(INNER_OFFSET)
                    .ok()
                    .and_then(|h| h.checked_add((*default).szOsFile))
                    .ok_or("file size overflow")?;
                vfs.zName = NAME_C.as_ptr();
                vfs.pNext = ptr::null_mut();
                vfs.xOpen = Some(x_open);
                let vfs = Box::leak(Box::new(vfs));
                let rc = ffi::sqlite3_vfs_register(vfs, 0);
                if rc != ffi::SQLITE_OK {
                    return Err(format!("sqlite3_vfs_register failed ({rc})"));
                }
                Ok(())
            }
        })
        .clone()
        .map(|()| NAME)
}

/// A WAL file: our state, then (at [`INNER_OFFSET`]) the default VFS's
/// file.
#[repr(C)]
struct WalFile {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    /// Bytes gathered for the file, starting at `start`.
    pending: Vec<u8>,
    start: i64,
    /// Where the next write must start to join the gathered run (`-1`:
    /// unknown, before the first write).
    next: i64,
    /// The last gathered write was the header of a commit frame: its page
    /// completes the commit.
    commit_header: bool,
}

const INNER_OFFSET: usize = size_of::<WalFile>().div_ceil(16) * 16;

fn default_vfs() -> *mut ffi::sqlite3_vfs {
    DEFAULT.get().map_or(ptr::null_mut(), |d| d.0)
}

unsafe extern "C" fn x_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let default = default_vfs();
    let Some(open) = default.as_ref().and_then(|d| d.xOpen) else {
        return ffi::SQLITE_ERROR;
    };
    if flags & ffi::SQLITE_OPEN_WAL == 0 {
        // Any other file is the default VFS's own, in place (our files are
        // bigger than its).
        return open(default, name, file, flags, out_flags);
    }
    let inner = file
        .cast::<u8>()
        .add(INNER_OFFSET)
        .cast::<ffi::sqlite3_file>();
    let rc = open(default, name, inner, flags, out_flags);
    if rc != ffi::SQLITE_OK {
        // No methods: SQLite will not call `xClose`.
        (*file).pMethods = ptr::null();
        return rc;
    }
    file.cast::<WalFile>().write(WalFile {
        base: ffi::sqlite3_file {
            pMethods: &WAL_METHODS,
        },
        inner,
        pending: Vec::new(),
        start: 0,
        next: -1,
        commit_header: false,
    });
    ffi::SQLITE_OK
}

static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    // Version 1: a WAL file is never memory-mapped nor given shared memory
    // (those belong to the database file).
    iVersion: 1,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

/// The inner file's methods.
unsafe fn inner(f: *mut WalFile) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    let inner = (*f).inner;
    (inner, &*(*inner).pMethods)
}

/// Writes what is gathered.
unsafe fn flush(f: *mut WalFile) -> c_int {
    let f = &mut *f;
    if f.pending.is_empty() {
        return ffi::SQLITE_OK;
    }
    let (inner, methods) = (f.inner, &*(*f.inner).pMethods);
    let Some(write) = methods.xWrite else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    let mut rc = ffi::SQLITE_OK;
    let mut offset = f.start;
    for chunk in f.pending.chunks(CHUNK) {
        // At most `CHUNK` bytes: the conversions cannot fail.
        let len = c_int::try_from(chunk.len()).unwrap_or(c_int::MAX);
        rc = write(inner, chunk.as_ptr().cast(), len, offset);
        WRITES_DONE.fetch_add(1, Ordering::Relaxed);
        if rc != ffi::SQLITE_OK {
            break;
        }
        offset += i64::try_from(chunk.len()).unwrap_or(i64::MAX);
    }
    f.pending.clear();
    f.commit_header = false;
    rc
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    offset: i64,
) -> c_int {
    let f = file.cast::<WalFile>();
    WRITES_ASKED.fetch_add(1, Ordering::Relaxed);
    let Ok(len) = usize::try_from(amt) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    let bytes = std::slice::from_raw_parts(buf.cast::<u8>(), len);
    // A new WAL header starts the file over: a new run.
    let restart = offset == 0 && amt == WAL_HEADER;
    let continues = !(*f).pending.is_empty() && offset == (*f).next;
    let starts = (*f).pending.is_empty() && (offset == (*f).next || restart);
    if !(continues || starts) || restart {
        let rc = flush(f);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        if !restart && (*f).next >= 0 {
            // A write elsewhere (a frame or header rewritten in place):
            // straight to the file.
            let (inner, methods) = inner(f);
            let rc = methods
                .xWrite
                .map_or(ffi::SQLITE_IOERR_WRITE, |w| w(inner, buf, amt, offset));
            WRITES_DONE.fetch_add(1, Ordering::Relaxed);
            if offset.saturating_add(i64::from(amt)) > (*f).next {
                (*f).next = offset + i64::from(amt);
            }
            return rc;
        }
    }
    let f = &mut *f;
    if f.pending.is_empty() {
        f.start = offset;
    }
    f.pending.extend_from_slice(bytes);
    f.next = offset + i64::from(amt);
    let completes_commit = f.commit_header && amt != FRAME_HEADER;
    // Bytes 4..8 of a frame header: the database size after a commit,
    // zero for the other frames of a transaction.
    f.commit_header = amt == FRAME_HEADER && bytes[4..8] != [0, 0, 0, 0];
    if completes_commit || f.pending.len() >= FLUSH_AT {
        return flush(f);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    let f = file.cast::<WalFile>();
    let flushed = flush(f);
    let (inner, methods) = inner(f);
    let closed = methods.xClose.map_or(ffi::SQLITE_OK, |c| c(inner));
    ptr::drop_in_place(f);
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        closed
    }
}

/// Defines a method that writes what is gathered, then passes the call on.
macro_rules! flush_then {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            let f = file.cast::<WalFile>();
            let rc = flush(f);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            let (inner, methods) = inner(f);
            methods.$method.map_or(ffi::SQLITE_IOERR, |m| m(inner, $($arg),*))
        }
    };
}

/// Defines a method that passes the call on.
macro_rules! pass {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*), $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            let (inner, methods) = inner(file.cast::<WalFile>());
            methods.$method.map_or($missing, |m| m(inner, $($arg),*))
        }
    };
}

flush_then!(x_read, xRead, (buf: *mut c_void, amt: c_int, offset: i64));
flush_then!(x_truncate, xTruncate, (size: i64));
flush_then!(x_sync, xSync, (flags: c_int));
flush_then!(x_file_size, xFileSize, (size: *mut i64));
flush_then!(x_file_control, xFileControl, (op: c_int, arg: *mut c_void));
pass!(x_lock, xLock, (level: c_int), ffi::SQLITE_OK);
pass!(x_unlock, xUnlock, (level: c_int), ffi::SQLITE_OK);
pass!(
    x_check_reserved_lock,
    xCheckReservedLock,
    (out: *mut c_int),
    ffi::SQLITE_OK
);
pass!(x_sector_size, xSectorSize, (), 4096);
pass!(x_device_characteristics, xDeviceCharacteristics, (), 0);

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    fn writer(path: &std::path::Path) -> Connection {
        let conn = Connection::open_with_flags_and_vfs(
            path,
            OpenFlags::default(),
            register().expect("register"),
        )
        .expect("open");
        conn.pragma_update(None, "journal_mode", "wal")
            .expect("wal");
        conn.pragma_update(None, "synchronous", "normal")
            .expect("sync");
        conn
    }

    #[test]
    fn every_commit_is_visible_to_a_reader_on_the_default_vfs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let mut w = writer(&path);
        w.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB)")
            .expect("table");
        let r = Connection::open(&path).expect("reader");
        let (asked, done) = write_counts();
        let mut rows = 0;
        for batch in 0..50 {
            let tx = w.transaction().expect("tx");
            for i in 0..40 {
                tx.execute(
                    "INSERT INTO t (k, v) VALUES (?1, zeroblob(700))",
                    [format!("{:016x}", (batch * 40 + i) * 2_654_435_761_u64)],
                )
                .expect("insert");
            }
            tx.commit().expect("commit");
            rows += 40;
            let n: i64 = r
                .query_row("SELECT count(*) FROM t", [], |x| x.get(0))
                .expect("count");
            assert_eq!(n, rows);
        }
        let (asked_after, done_after) = write_counts();
        // Other tests may write at the same time: compare generously.
        assert!(
            done_after - done < (asked_after - asked) / 4,
            "{} writes asked, {} done",
            asked_after - asked,
            done_after - done
        );
        let ok: String = r
            .query_row("PRAGMA integrity_check", [], |x| x.get(0))
            .expect("check");
        assert_eq!(ok, "ok");
    }

    #[test]
    fn spilled_transactions_and_wal_restarts_stay_consistent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let mut w = writer(&path);
        // A tiny cache makes SQLite spill pages into the WAL mid-transaction
        // and rewrite them in place at commit.
        w.pragma_update(None, "cache_size", 10).expect("cache");
        w.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB)")
            .expect("table");
        let r = Connection::open(&path).expect("reader");
        let mut rows = 0;
        for round in 0..6 {
            let tx = w.transaction().expect("tx");
            for i in 0..2_000_u64 {
                tx.execute(
                    "INSERT INTO t (k, v) VALUES (?1, randomblob(300))",
                    [format!(
                        "{round}-{:016x}",
                        i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    )],
                )
                .expect("insert");
            }
            tx.execute(
                "UPDATE t SET v = randomblob(200) WHERE id % 7 = ?1",
                [round],
            )
            .expect("update");
            tx.commit().expect("commit");
            rows += 2_000;
            let n: i64 = r
                .query_row("SELECT count(*) FROM t", [], |x| x.get(0))
                .expect("count");
            assert_eq!(n, rows);
            if round % 2 == 1 {
                // Start the WAL over: the next commit writes a new header
                // at offset 0.
                r.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
                    .expect("checkpoint");
            }
        }
        drop(w);
        // Reopened from the files alone (recovery reads the WAL's frames).
        let again = Connection::open(&path).expect("reopen");
        let n: i64 = again
            .query_row("SELECT count(*) FROM t", [], |x| x.get(0))
            .expect("count");
        assert_eq!(n, rows);
        let ok: String = again
            .query_row("PRAGMA integrity_check", [], |x| x.get(0))
            .expect("check");
        assert_eq!(ok, "ok");
    }
}
