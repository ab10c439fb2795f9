//! A SQLite VFS that writes the frames of a WAL commit with few system
//! calls.
//!
//! SQLite appends each WAL frame with two `pwrite`s, its 24-byte header and
//! its page. A commit of a batch of events is a few dozen frames, so the
//! writer thread made ~10 `pwrite`s per event, about a quarter of its time.
//! This VFS is the platform's default VFS, except that writes continuing
//! the WAL where the previous write ended are gathered in memory and
//! written together, in chunks of at most [`CHUNK`] bytes.
//!
//! What it guarantees, whatever order SQLite writes in:
//!
//! * **Writes are gathered only under the WAL write lock**, taken through
//!   the database file's `xShmLock`. In exclusive locking mode SQLite takes
//!   no shared-memory locks, and every write goes straight to the file.
//! * **Nothing is published before it is in the file.** SQLite makes
//!   committed frames visible to other connections by writing the WAL
//!   index header in shared memory, with a memory barrier between its two
//!   copies; the database file's `xShmBarrier` writes what is gathered
//!   first. Normally nothing is left by then: the write of a commit frame's
//!   page (a frame whose header carries a database size) writes the run,
//!   so a failure is reported to SQLite at that write. Should the barrier's
//!   write fail (it cannot report an error), the process aborts before
//!   SQLite publishes: recovery then finds the last whole commit.
//! * **Nothing is left when the write lock is released.** Releasing the
//!   WAL write lock (the database file's `xShmLock`) writes what is
//!   gathered first: frames of a transaction that spilled its cache and
//!   then rolled back reach the file (beyond the committed end, where
//!   SQLite itself would have put them) while no other connection may write
//!   the WAL, never later over another connection's frames.
//! * **A failed write fails the transaction.** When gathered frames cannot
//!   be written, the operation that tried returns `SQLITE_IOERR_WRITE`
//!   (SQLite rolls the whole transaction back for an I/O error, unlike for
//!   a full disk), and every later write and sync of the WAL fails until the
//!   write lock is released.
//! * **No buffering where SQLite pads commits.** Without power-safe
//!   overwrite on the database file (`psow=0`), SQLite pads a synchronous
//!   commit with split writes; such WAL files are passed through
//!   untouched.
//!
//! Each of these has a test that fails without it.
//!
//! Other operations on the WAL file (read, sync, truncate, size, file
//! control, close) and writes elsewhere in it (SQLite rewriting a frame in
//! place) write what is gathered first. Only the writer's connection uses
//! this VFS ([`NAME`]); readers and the checkpointer use the default VFS on
//! the same files.
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
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name the VFS is registered under.
pub const NAME: &str = "receiver-wal-batch";

const NAME_C: &CStr = c"receiver-wal-batch";

/// Gathered bytes are written once they pass this size, commit or not.
const FLUSH_AT: usize = 1 << 20;

/// The most one write passes to the default VFS: the Unix VFS writes at
/// most 128 KiB - 1 bytes per call (it masks the length and reports the
/// short write as a full disk).
pub const CHUNK: usize = 120 * 1024;

/// Size of a WAL frame header, and of the WAL file header.
const FRAME_HEADER: c_int = 24;
const WAL_HEADER: c_int = 32;

/// The shared-memory lock slot of the WAL write lock.
const WAL_WRITE_LOCK: c_int = 0;

/// The platform's default VFS, which does the work.
struct DefaultVfs(*mut ffi::sqlite3_vfs);

// SAFETY: SQLite's VFS objects are immutable once registered and may be
// called from any thread (SQLite's own requirement of every VFS).
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
                // Everything as the default VFS (its other methods ignore
                // the file size or read only fields copied here), but files
                // are bigger: our header, then the default VFS's file.
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

/// A database file: its WAL, to write what is gathered at the right
/// moments, then (at [`INNER_OFFSET`]) the default VFS's file.
#[repr(C)]
struct DbFile {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    /// The connection's WAL file while it is open (SQLite opens it after
    /// and closes it before the database file).
    wal: *mut WalFile,
    /// The connection holds the WAL write lock (taken through `xShmLock`).
    /// Writes are gathered only then: in exclusive locking mode SQLite
    /// takes no shared-memory locks, and nothing is gathered at all.
    write_locked: bool,
}

/// A WAL file: our state, then (at [`INNER_OFFSET`]) the default VFS's
/// file.
#[repr(C)]
struct WalFile {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    /// The database file it belongs to (null: not ours, pass through).
    db: *mut DbFile,
    /// Bytes gathered for the file, starting at `start`.
    pending: Vec<u8>,
    start: i64,
    /// Where the next write must start to join the gathered run (`-1`:
    /// unknown).
    next: i64,
    /// The last gathered write was the header of a commit frame: its page
    /// completes the commit.
    commit_header: bool,
    /// Gathered bytes could not be written: writes and syncs fail until the
    /// write lock is released.
    failed: bool,
    /// Never gather (no power-safe overwrite, or no database file of ours).
    passthrough: bool,
}

const INNER_OFFSET: usize = {
    let a = size_of::<WalFile>();
    let b = size_of::<DbFile>();
    let header = if a > b { a } else { b };
    header.div_ceil(16) * 16
};

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
    let main_db = flags & ffi::SQLITE_OPEN_MAIN_DB != 0;
    let wal = flags & ffi::SQLITE_OPEN_WAL != 0;
    if !main_db && !wal {
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
    if main_db {
        file.cast::<DbFile>().write(DbFile {
            base: ffi::sqlite3_file {
                pMethods: &DB_METHODS,
            },
            inner,
            wal: ptr::null_mut(),
            write_locked: false,
        });
        return ffi::SQLITE_OK;
    }
    let db_file = ffi::sqlite3_database_file_object(name);
    let db = if !db_file.is_null() && ptr::eq((*db_file).pMethods, &DB_METHODS) {
        db_file.cast::<DbFile>()
    } else {
        ptr::null_mut()
    };
    // SQLite decides whether to pad commits from the database file's
    // characteristics (`sqlite3WalOpen`), not the WAL's.
    let powersafe = !db.is_null()
        && db_device_characteristics(db.cast()) & ffi::SQLITE_IOCAP_POWERSAFE_OVERWRITE != 0;
    let wal_file = file.cast::<WalFile>();
    wal_file.write(WalFile {
        base: ffi::sqlite3_file {
            pMethods: &WAL_METHODS,
        },
        inner,
        db,
        pending: Vec::new(),
        start: 0,
        next: -1,
        commit_header: false,
        failed: false,
        passthrough: db.is_null() || !powersafe,
    });
    if !db.is_null() {
        (*db).wal = wal_file;
    }
    ffi::SQLITE_OK
}

static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    // Version 1: a WAL file is never memory-mapped nor given shared memory
    // (those belong to the database file).
    iVersion: 1,
    xClose: Some(wal_close),
    xRead: Some(wal_read),
    xWrite: Some(wal_write),
    xTruncate: Some(wal_truncate),
    xSync: Some(wal_sync),
    xFileSize: Some(wal_file_size),
    xLock: Some(wal_lock),
    xUnlock: Some(wal_unlock),
    xCheckReservedLock: Some(wal_check_reserved_lock),
    xFileControl: Some(wal_file_control),
    xSectorSize: Some(wal_sector_size),
    xDeviceCharacteristics: Some(wal_device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

static DB_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    // Version 3, as the Unix VFS: shared memory and memory mapping.
    iVersion: 3,
    xClose: Some(db_close),
    xRead: Some(db_read),
    xWrite: Some(db_write),
    xTruncate: Some(db_truncate),
    xSync: Some(db_sync),
    xFileSize: Some(db_file_size),
    xLock: Some(db_lock),
    xUnlock: Some(db_unlock),
    xCheckReservedLock: Some(db_check_reserved_lock),
    xFileControl: Some(db_file_control),
    xSectorSize: Some(db_sector_size),
    xDeviceCharacteristics: Some(db_device_characteristics),
    xShmMap: Some(db_shm_map),
    xShmLock: Some(db_shm_lock),
    xShmBarrier: Some(db_shm_barrier),
    xShmUnmap: Some(db_shm_unmap),
    xFetch: Some(db_fetch),
    xUnfetch: Some(db_unfetch),
};

/// Our files: a header of ours in front of the default VFS's file.
trait Wrapped {
    /// The default VFS's file.
    fn inner_file(&self) -> *mut ffi::sqlite3_file;
}

impl Wrapped for DbFile {
    fn inner_file(&self) -> *mut ffi::sqlite3_file {
        self.inner
    }
}

impl Wrapped for WalFile {
    fn inner_file(&self) -> *mut ffi::sqlite3_file {
        self.inner
    }
}

/// The inner file of `f` and its methods.
///
/// # Safety
/// `f` was opened by [`x_open`] and not closed.
unsafe fn inner_of<T: Wrapped>(
    f: *mut T,
) -> (
    *mut ffi::sqlite3_file,
    Option<&'static ffi::sqlite3_io_methods>,
) {
    let inner = (*f).inner_file();
    (inner, (*inner).pMethods.as_ref())
}

thread_local! {
    /// Whether a write of gathered frames on this thread failed because the
    /// disk was full. SQLite is told `SQLITE_IOERR_WRITE` all the same (see
    /// [`flush`]); this lets the error the caller sees say why.
    static DISK_FULL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a write of gathered frames on this thread found the disk full
/// since the last call; clears it.
pub(crate) fn take_disk_full() -> bool {
    DISK_FULL.with(|full| full.replace(false))
}

/// Writes what is gathered; on failure the WAL fails until the write lock
/// is released, and the caller gets `SQLITE_IOERR_WRITE` (a full disk
/// too: SQLite rolls back only the statement on `SQLITE_FULL`, and a
/// deferred write may fail after the statement that made it; the disk
/// being full is noted for [`take_disk_full`]).
unsafe fn flush(f: *mut WalFile) -> c_int {
    let f = &mut *f;
    if f.pending.is_empty() {
        return ffi::SQLITE_OK;
    }
    #[allow(unused_mut)]
    let mut write = (*f.inner).pMethods.as_ref().and_then(|m| m.xWrite);
    let mut rc = ffi::SQLITE_IOERR_WRITE;
    #[cfg(test)]
    if tests::FAIL_FLUSH.with(std::cell::Cell::get) {
        // As the Unix VFS reports a full disk.
        write = None;
        rc = ffi::SQLITE_FULL;
    }
    if let Some(write) = write {
        let mut offset = f.start;
        for chunk in f.pending.chunks(CHUNK) {
            // At most `CHUNK` bytes: the conversions cannot fail.
            let len = c_int::try_from(chunk.len()).unwrap_or(c_int::MAX);
            rc = write(f.inner, chunk.as_ptr().cast(), len, offset);
            if rc != ffi::SQLITE_OK {
                break;
            }
            offset += i64::try_from(chunk.len()).unwrap_or(i64::MAX);
        }
    }
    f.pending.clear();
    f.commit_header = false;
    if rc != ffi::SQLITE_OK {
        if rc == ffi::SQLITE_FULL {
            DISK_FULL.with(|full| full.set(true));
        }
        f.failed = true;
        f.next = -1;
        return ffi::SQLITE_IOERR_WRITE;
    }
    ffi::SQLITE_OK
}

/// Writes `amt` bytes at `offset` through the inner file.
unsafe fn write_through(f: *mut WalFile, buf: *const c_void, amt: c_int, offset: i64) -> c_int {
    let (inner, methods) = inner_of(f);
    methods
        .and_then(|m| m.xWrite)
        .map_or(ffi::SQLITE_IOERR_WRITE, |w| w(inner, buf, amt, offset))
}

unsafe extern "C" fn wal_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    offset: i64,
) -> c_int {
    let f = file.cast::<WalFile>();
    if (*f).failed {
        return ffi::SQLITE_IOERR_WRITE;
    }
    let gathering = !(*f).passthrough && !(*f).db.is_null() && (*(*f).db).write_locked;
    if !gathering {
        let rc = flush(f);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        return write_through(f, buf, amt, offset);
    }
    let Ok(len) = usize::try_from(amt) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    if len == 0 || buf.is_null() {
        return write_through(f, buf, amt, offset);
    }
    let end = offset.saturating_add(i64::from(amt));
    // A new WAL header starts the file over: a new run.
    let restart = offset == 0 && amt == WAL_HEADER;
    let joins = offset == (*f).next || (*f).next < 0;
    if restart || !joins {
        let rc = flush(f);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        if !restart {
            // A write elsewhere (a frame or header rewritten in place):
            // straight to the file.
            let rc = write_through(f, buf, amt, offset);
            (*f).next = (*f).next.max(end);
            return rc;
        }
    }
    #[cfg(test)]
    tests::GATHERED.with(|g| g.set(g.get() + 1));
    let f = &mut *f;
    if f.pending.is_empty() {
        f.start = offset;
    }
    f.pending
        .extend_from_slice(std::slice::from_raw_parts(buf.cast::<u8>(), len));
    f.next = end;
    if amt == FRAME_HEADER {
        // Bytes 4..8 of a frame header: the database size after a commit,
        // zero for the other frames of a transaction.
        let header = std::slice::from_raw_parts(buf.cast::<u8>(), len);
        f.commit_header = header[4..8] != [0, 0, 0, 0];
        return ffi::SQLITE_OK;
    }
    let completes_commit = std::mem::take(&mut f.commit_header);
    #[cfg(test)]
    let completes_commit = completes_commit && !tests::KEEP_COMMIT.with(std::cell::Cell::get);
    if completes_commit || f.pending.len() >= FLUSH_AT {
        return flush(f);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn wal_close(file: *mut ffi::sqlite3_file) -> c_int {
    let f = file.cast::<WalFile>();
    let flushed = flush(f);
    let db = (*f).db;
    if !db.is_null() && ptr::eq((*db).wal, f) {
        (*db).wal = ptr::null_mut();
    }
    let (inner, methods) = inner_of(f);
    let closed = methods
        .and_then(|m| m.xClose)
        .map_or(ffi::SQLITE_OK, |c| c(inner));
    ptr::drop_in_place(f);
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        closed
    }
}

unsafe extern "C" fn wal_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let f = file.cast::<WalFile>();
    if (*f).failed {
        return ffi::SQLITE_IOERR_FSYNC;
    }
    let rc = flush(f);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    let (inner, methods) = inner_of(f);
    methods
        .and_then(|m| m.xSync)
        .map_or(ffi::SQLITE_IOERR_FSYNC, |s| s(inner, flags))
}

/// Defines a WAL method that writes what is gathered, then passes the call
/// on.
macro_rules! flush_then {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            let f = file.cast::<WalFile>();
            let rc = flush(f);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            let (inner, methods) = inner_of(f);
            methods.and_then(|m| m.$method).map_or(ffi::SQLITE_IOERR, |m| m(inner, $($arg),*))
        }
    };
}

/// Defines a method of `$file` files that passes the call on.
macro_rules! pass {
    ($file:ty, $name:ident, $method:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty, $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> $ret {
            let (inner, methods) = inner_of(file.cast::<$file>());
            methods.and_then(|m| m.$method).map_or($missing, |m| m(inner, $($arg),*))
        }
    };
}

flush_then!(wal_read, xRead, (buf: *mut c_void, amt: c_int, offset: i64));
flush_then!(wal_truncate, xTruncate, (size: i64));
flush_then!(wal_file_size, xFileSize, (size: *mut i64));
flush_then!(wal_file_control, xFileControl, (op: c_int, arg: *mut c_void));
pass!(WalFile, wal_lock, xLock, (level: c_int) -> c_int, ffi::SQLITE_OK);
pass!(WalFile, wal_unlock, xUnlock, (level: c_int) -> c_int, ffi::SQLITE_OK);
pass!(WalFile, wal_check_reserved_lock, xCheckReservedLock, (out: *mut c_int) -> c_int, ffi::SQLITE_OK);
pass!(WalFile, wal_sector_size, xSectorSize, () -> c_int, 4096);
pass!(WalFile, wal_device_characteristics, xDeviceCharacteristics, () -> c_int, 0);

pass!(DbFile, db_read, xRead, (buf: *mut c_void, amt: c_int, offset: i64) -> c_int, ffi::SQLITE_IOERR_READ);
pass!(DbFile, db_write, xWrite, (buf: *const c_void, amt: c_int, offset: i64) -> c_int, ffi::SQLITE_IOERR_WRITE);
pass!(DbFile, db_truncate, xTruncate, (size: i64) -> c_int, ffi::SQLITE_IOERR_TRUNCATE);
pass!(DbFile, db_sync, xSync, (flags: c_int) -> c_int, ffi::SQLITE_IOERR_FSYNC);
pass!(DbFile, db_file_size, xFileSize, (size: *mut i64) -> c_int, ffi::SQLITE_IOERR_FSTAT);
pass!(DbFile, db_lock, xLock, (level: c_int) -> c_int, ffi::SQLITE_IOERR_LOCK);
pass!(DbFile, db_unlock, xUnlock, (level: c_int) -> c_int, ffi::SQLITE_IOERR_UNLOCK);
pass!(DbFile, db_check_reserved_lock, xCheckReservedLock, (out: *mut c_int) -> c_int, ffi::SQLITE_IOERR_CHECKRESERVEDLOCK);
pass!(DbFile, db_file_control, xFileControl, (op: c_int, arg: *mut c_void) -> c_int, ffi::SQLITE_NOTFOUND);
pass!(DbFile, db_sector_size, xSectorSize, () -> c_int, 4096);
pass!(DbFile, db_device_characteristics, xDeviceCharacteristics, () -> c_int, 0);
pass!(DbFile, db_shm_map, xShmMap, (page: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int, ffi::SQLITE_IOERR_SHMMAP);
pass!(DbFile, db_shm_unmap, xShmUnmap, (delete: c_int) -> c_int, ffi::SQLITE_OK);
unsafe extern "C" fn db_fetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    amt: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let (inner, methods) = inner_of(file.cast::<DbFile>());
    match methods.and_then(|m| m.xFetch) {
        Some(fetch) => fetch(inner, offset, amt, out),
        None => {
            // No memory map: SQLite reads the page instead.
            *out = ptr::null_mut();
            ffi::SQLITE_OK
        }
    }
}
pass!(DbFile, db_unfetch, xUnfetch, (offset: i64, p: *mut c_void) -> c_int, ffi::SQLITE_OK);

unsafe extern "C" fn db_close(file: *mut ffi::sqlite3_file) -> c_int {
    let f = file.cast::<DbFile>();
    let wal = (*f).wal;
    if !wal.is_null() {
        // SQLite closes the WAL first; should it not, the WAL must not
        // point at a closed file.
        (*wal).db = ptr::null_mut();
        (*wal).passthrough = true;
        let _ = flush(wal);
    }
    let (inner, methods) = inner_of(f);
    let rc = methods
        .and_then(|m| m.xClose)
        .map_or(ffi::SQLITE_OK, |c| c(inner));
    ptr::drop_in_place(f);
    rc
}

unsafe extern "C" fn db_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    let f = file.cast::<DbFile>();
    let write_lock = offset == WAL_WRITE_LOCK && n >= 1;
    if write_lock && flags & ffi::SQLITE_SHM_UNLOCK != 0 {
        // The transaction is over (committed or rolled back): nothing may
        // stay gathered once another connection can write the WAL.
        (*f).write_locked = false;
        let wal = (*f).wal;
        if !wal.is_null() {
            // A commit's frames were written at its commit frame (or its
            // failure rolled it back), so only frames of a rolled-back
            // transaction, beyond the committed end, can be left here: a
            // failure to write them loses nothing.
            let _ = flush(wal);
            (*wal).failed = false;
            (*wal).next = -1;
        }
    }
    let (inner, methods) = inner_of(f);
    let rc = methods
        .and_then(|m| m.xShmLock)
        .map_or(ffi::SQLITE_IOERR_SHMLOCK, |l| l(inner, offset, n, flags));
    if write_lock && rc == ffi::SQLITE_OK && flags & ffi::SQLITE_SHM_LOCK != 0 {
        // SQLite takes slot 0 shared only on a read-only WAL index, never
        // on a connection that writes.
        debug_assert!(flags & ffi::SQLITE_SHM_EXCLUSIVE != 0);
        (*f).write_locked = flags & ffi::SQLITE_SHM_EXCLUSIVE != 0;
    }
    rc
}

unsafe extern "C" fn db_shm_barrier(file: *mut ffi::sqlite3_file) {
    let f = file.cast::<DbFile>();
    let wal = (*f).wal;
    if !wal.is_null() && !(*wal).pending.is_empty() {
        // SQLite publishes the WAL index header on the other side of this
        // barrier: what it names must be in the file. Normally the commit
        // frame's page wrote it already. If it cannot be written now, the
        // barrier cannot report it and SQLite would publish frames that are
        // not in the file: stopping the process instead leaves the WAL
        // index unpublished, and recovery finds the last whole commit.
        #[cfg(test)]
        tests::BARRIER_FLUSHES.with(|b| b.set(b.get() + 1));
        if flush(wal) != ffi::SQLITE_OK {
            eprintln!(
                "receiver: cannot write committed WAL frames; stopping before SQLite publishes them"
            );
            std::process::abort();
        }
        #[cfg(test)]
        tests::BARRIER_LEFT.with(|b| b.set(b.get() + (*wal).pending.len()));
    }
    let (inner, methods) = inner_of(f);
    if let Some(barrier) = methods.and_then(|m| m.xShmBarrier) {
        barrier(inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    thread_local! {
        /// Makes this thread's flushes fail, as on a full disk.
        pub(super) static FAIL_FLUSH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        /// Writes this thread gathered instead of passing them on.
        pub(super) static GATHERED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
        /// Keeps a commit gathered past its commit frame (as in a sequence
        /// the commit detection does not know), for the barrier to write.
        pub(super) static KEEP_COMMIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        /// Barriers that found gathered bytes.
        pub(super) static BARRIER_FLUSHES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
        /// Bytes still gathered when a barrier let SQLite publish.
        pub(super) static BARRIER_LEFT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn gathered() -> u64 {
        GATHERED.with(std::cell::Cell::get)
    }

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

    /// A writer whose tiny cache makes SQLite spill pages into the WAL
    /// mid-transaction (and rewrite them in place at commit), on a new
    /// database with table `t (id, v)`.
    fn spilling_writer(dir: &tempfile::TempDir) -> (std::path::PathBuf, Connection) {
        let path = dir.path().join("db.sqlite");
        let w = writer(&path);
        w.pragma_update(None, "cache_size", 10).expect("cache");
        w.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB)")
            .expect("table");
        (path, w)
    }

    fn count(conn: &Connection, table: &str) -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |x| x.get(0))
            .expect("count")
    }

    fn integrity(conn: &Connection) -> String {
        conn.query_row("PRAGMA integrity_check", [], |x| x.get(0))
            .expect("check")
    }

    #[test]
    fn every_commit_is_visible_to_a_reader_on_the_default_vfs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let mut w = writer(&path);
        w.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB)")
            .expect("table");
        let r = Connection::open(&path).expect("reader");
        let gathered_before = gathered();
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
            assert_eq!(count(&r, "t"), rows);
        }
        assert!(gathered() > gathered_before, "the writes were gathered");
        assert_eq!(integrity(&r), "ok");
    }

    #[test]
    fn spilled_transactions_and_wal_restarts_stay_consistent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, mut w) = spilling_writer(&dir);
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
            assert_eq!(count(&r, "t"), rows);
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
        assert_eq!(count(&again, "t"), rows);
        assert_eq!(integrity(&again), "ok");
    }

    /// A transaction that spilled its cache into the WAL and then rolled
    /// back must not leave frames gathered that a later write would put
    /// over another connection's commit.
    #[test]
    fn a_rolled_back_spill_never_overwrites_another_connections_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, mut w) = spilling_writer(&dir);
        let other = Connection::open(&path).expect("other writer");
        other
            .busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy");
        for round in 0..3 {
            // Empty the WAL so that the spill starts it over.
            other
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .expect("truncate");
            let tx = w.transaction().expect("tx");
            for _ in 0..1_000 {
                tx.execute("INSERT INTO t (v) VALUES (randomblob(300))", [])
                    .expect("insert");
            }
            tx.rollback().expect("rollback");
            // Another connection commits more than the spill wrote, over
            // the same part of the WAL.
            other
                .execute_batch(&format!(
                    "CREATE TABLE u{round} (x);
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
                     INSERT INTO u{round} SELECT randomblob(300) FROM n;"
                ))
                .expect("other commits");
            // The first writer reads and writes again.
            assert_eq!(count(&w, &format!("u{round}")), 3_000);
            w.execute("INSERT INTO t (v) VALUES (x'00')", [])
                .expect("insert after");
            let fresh = Connection::open(&path).expect("fresh reader");
            assert_eq!(count(&fresh, &format!("u{round}")), 3_000);
            assert_eq!(integrity(&fresh), "ok");
        }
        drop(w);
        let again = Connection::open(&path).expect("reopen");
        assert_eq!(count(&again, "t"), 3);
        assert_eq!(integrity(&again), "ok");
    }

    /// With `psow=0` and `synchronous=FULL`, SQLite pads commits with split
    /// writes: that WAL is written as SQLite writes it.
    #[test]
    fn padded_commits_are_passed_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let uri = format!("file:{}?psow=0", path.display());
        let w = Connection::open_with_flags_and_vfs(
            &uri,
            OpenFlags::default() | OpenFlags::SQLITE_OPEN_URI,
            register().expect("register"),
        )
        .expect("open");
        w.pragma_update(None, "journal_mode", "wal").expect("wal");
        w.pragma_update(None, "synchronous", "full").expect("sync");
        w.execute_batch("CREATE TABLE t (v BLOB)").expect("table");
        let r = Connection::open(&path).expect("reader");
        let gathered_before = gathered();
        for i in 0..30 {
            w.execute("INSERT INTO t (v) VALUES (randomblob(?1))", [100 + i * 97])
                .expect("insert");
            assert_eq!(count(&r, "t"), i + 1);
            r.query_row("PRAGMA wal_checkpoint", [], |_| Ok(()))
                .expect("checkpoint reads every frame");
        }
        assert_eq!(gathered(), gathered_before, "nothing was gathered");
        assert_eq!(integrity(&r), "ok");
    }

    /// Gathered frames that cannot be written fail the whole transaction
    /// (an I/O error), never just the statement: a later commit must not
    /// name frames that are not in the file.
    #[test]
    fn a_failed_flush_fails_the_whole_transaction() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, mut w) = spilling_writer(&dir);
        w.execute("INSERT INTO t (v) VALUES (x'01')", [])
            .expect("committed row");
        let tx = w.transaction().expect("tx");
        // Enough to spill: frames are gathered, not yet in the file.
        for _ in 0..500 {
            tx.execute("INSERT INTO t (v) VALUES (randomblob(300))", [])
                .expect("insert");
        }
        // The bundled SQLite shares one page cache among all connections
        // of the process (SQLITE_ENABLE_MEMORY_MANAGEMENT), so spilled
        // pages may still be cached while other tests run: drop them, so
        // that the UPDATE must read them back from the WAL.
        tx.execute_batch("PRAGMA shrink_memory").expect("shrink");
        FAIL_FLUSH.with(|f| f.set(true));
        // Reading spilled pages back writes what is gathered first. A
        // multi-row UPDATE runs in a statement journal, so a full disk
        // would roll back only the statement; an I/O error rolls back all.
        let failed = tx.execute("UPDATE t SET v = zeroblob(10) WHERE id > 1", []);
        FAIL_FLUSH.with(|f| f.set(false));
        let err = failed.expect_err("the read cannot proceed");
        assert!(
            matches!(&err, rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::SystemIoFailure),
            "{err:?}"
        );
        // What the caller sees says why: the disk was full.
        let said = crate::store::StoreError::from(err);
        assert!(
            matches!(said, crate::store::StoreError::DiskFull(_)),
            "{said}"
        );
        assert!(said
            .to_string()
            .contains("disk holding the database is full"));
        assert!(!take_disk_full(), "noted once");
        assert!(tx.is_autocommit(), "the whole transaction was rolled back");
        drop(tx);
        let r = Connection::open(&path).expect("reader");
        assert_eq!(count(&r, "t"), 1);
        assert_eq!(integrity(&r), "ok");
        // The connection works again once the transaction is over.
        w.execute("INSERT INTO t (v) VALUES (x'02')", [])
            .expect("insert after");
        assert_eq!(count(&r, "t"), 2);
    }

    /// The database file's barrier writes what is gathered before SQLite
    /// publishes a commit, even when the commit frame went by unnoticed.
    #[test]
    fn the_barrier_writes_what_a_commit_left_gathered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let w = writer(&path);
        w.execute_batch("CREATE TABLE t (v BLOB)").expect("table");
        let r = Connection::open(&path).expect("reader");
        let before = BARRIER_FLUSHES.with(std::cell::Cell::get);
        KEEP_COMMIT.with(|k| k.set(true));
        for i in 1..=20 {
            w.execute("INSERT INTO t (v) VALUES (randomblob(3000))", [])
                .expect("insert");
            assert_eq!(count(&r, "t"), i);
        }
        KEEP_COMMIT.with(|k| k.set(false));
        assert!(BARRIER_FLUSHES.with(std::cell::Cell::get) >= before + 20);
        assert_eq!(
            BARRIER_LEFT.with(std::cell::Cell::get),
            0,
            "published while gathered"
        );
        assert_eq!(integrity(&r), "ok");
    }

    /// In exclusive locking mode SQLite takes no shared-memory locks:
    /// nothing is gathered, and a failing flush cannot wedge the WAL.
    #[test]
    fn exclusive_locking_mode_is_passed_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, mut w) = spilling_writer(&dir);
        w.pragma_update(None, "locking_mode", "exclusive")
            .expect("exclusive");
        let before = gathered();
        FAIL_FLUSH.with(|f| f.set(true));
        for round in 0..3 {
            let tx = w.transaction().expect("tx");
            for _ in 0..500 {
                tx.execute("INSERT INTO t (v) VALUES (randomblob(300))", [])
                    .expect("insert");
            }
            if round == 1 {
                tx.rollback().expect("rollback");
            } else {
                tx.commit().expect("commit");
            }
        }
        FAIL_FLUSH.with(|f| f.set(false));
        assert_eq!(gathered(), before, "nothing was gathered");
        w.pragma_update(None, "locking_mode", "normal")
            .expect("normal");
        // Leaving exclusive mode takes effect at the next access.
        assert_eq!(count(&w, "t"), 1_000);
        drop(w);
        let again = Connection::open(&path).expect("reopen");
        assert_eq!(count(&again, "t"), 1_000);
        assert_eq!(integrity(&again), "ok");
    }
}
