//! The optional disk spool: envelopes that could not be delivered.
//!
//! Envelopes land here when retries are exhausted (the receiver is down) or
//! when the transport shuts down with envelopes still queued or in flight.
//! They are sent again on the next start and whenever the receiver answers
//! again, oldest first.
//!
//! * One file per envelope, named `{unix_millis:013}-{pid}-{seq:08}.envelope`
//!   so that names sort by age. A file is written as `*.tmp` and renamed into
//!   place, so a crash never leaves a half-written `*.envelope`.
//! * Each file starts with a line `SENTRY-SPOOL 1 <length> <crc32>` followed
//!   by the envelope bytes; a file whose header, length or checksum does not
//!   match (truncated, overwritten, not ours) is reported with a warning and
//!   deleted, never sent and never a panic.
//! * A file being sent is locked (`flock` on Unix, released if the process
//!   dies); another process draining the same directory skips it, so each
//!   file is sent once.
//! * The total size is bounded: an envelope that would push the spool over
//!   its byte budget is not written (it is counted as `cache_overflow`).
//!   Keeping the older files is deliberate: they are the start of the outage.
//!   The budget is what the directory holds, whoever wrote or sent its
//!   files: the spool keeps a running count of its own writes and removals,
//!   and measures the directory again (one listing and one `stat` per file)
//!   before a write when that count is older than [`RESCAN_INTERVAL`], or
//!   than [`RESCAN_COST`] times what the last measure took if that is longer
//!   (so measuring takes at most a twentieth of the time spent spooling,
//!   however many files there are). Processes sharing a directory thus share
//!   one budget (each may overshoot it by what the others wrote within that
//!   interval), and a directory another process drained takes files again.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

const MAGIC: &str = "SENTRY-SPOOL 1";

/// The sequence number of the next file any spool of this process writes.
static SPOOL_SEQ: AtomicU64 = AtomicU64::new(0);
const EXTENSION: &str = "envelope";
const TMP_EXTENSION: &str = "tmp";
/// Temp files older than this are left-overs of a crashed writer.
const STALE_TMP: Duration = Duration::from_secs(3600);
/// How long the spool trusts its running count of the directory's bytes
/// before it measures the directory again (only when it is about to write:
/// at most twice a second while envelopes are being spooled, never while
/// idle).
pub(crate) const RESCAN_INTERVAL: Duration = Duration::from_millis(500);
/// A measure of the directory waits at least this many times as long as the
/// last one took (a large spool on a slow disk is measured less often).
const RESCAN_COST: u32 = 20;

/// Why a spooled file could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpoolReadError {
    #[error("cannot read spool file: {0}")]
    Io(#[from] io::Error),
    #[error("corrupt spool file: {0}")]
    Corrupt(&'static str),
}

/// A directory of spooled envelopes with a byte budget.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    used: Mutex<Usage>,
}

/// The bytes of the spool's files: the directory's as last measured, plus
/// and minus this spool's own writes and removals since.
#[derive(Debug)]
struct Usage {
    bytes: u64,
    /// When the directory was last measured, and how long that took.
    measured: Instant,
    took: Duration,
}

impl Usage {
    /// Measures `dir` into `bytes`.
    fn measure(dir: &Path) -> io::Result<Usage> {
        let start = Instant::now();
        let bytes = measure(dir)?;
        Ok(Usage {
            bytes,
            measured: start,
            took: start.elapsed(),
        })
    }

    /// Whether the count is old enough to be measured again at `now`.
    fn is_stale(&self, now: Instant) -> bool {
        let interval = RESCAN_INTERVAL.max(self.took.saturating_mul(RESCAN_COST));
        now.saturating_duration_since(self.measured) >= interval
    }
}

impl Spool {
    /// Opens (creating if needed) the spool directory, checks that a file
    /// can be written there, and measures it. A directory it creates is its
    /// owner's alone (0700 on Unix): spooled envelopes hold event data.
    pub(crate) fn open(dir: &Path, max_bytes: u64) -> io::Result<Spool> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
        // A directory that exists but takes no files (read-only, another
        // user's) is found out now, once, rather than by every write.
        let probe = dir.join(format!(
            ".probe-{}-{}.{TMP_EXTENSION}",
            std::process::id(),
            SPOOL_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        private_file(&probe)?;
        fs::remove_file(&probe)?;
        Ok(Spool {
            dir: dir.to_owned(),
            max_bytes,
            used: Mutex::new(Usage::measure(dir)?),
        })
    }

    /// The spool directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one envelope. `Ok(false)` when it does not fit the budget.
    pub(crate) fn write(&self, envelope: &[u8]) -> io::Result<bool> {
        let header = format!(
            "{MAGIC} {} {:08x}\n",
            envelope.len(),
            crc32fast::hash(envelope)
        );
        let size = (header.len() + envelope.len()) as u64;
        {
            let mut used = self.used.lock();
            if used.is_stale(Instant::now()) {
                // Other processes may have written or sent files since.
                *used = Usage::measure(&self.dir)?;
            }
            if used.bytes.saturating_add(size) > self.max_bytes {
                return Ok(false);
            }
            // Reserve before writing so concurrent writers respect the budget.
            used.bytes += size;
        }
        let result = self.write_file(&header, envelope);
        if result.is_err() {
            let mut used = self.used.lock();
            used.bytes = used.bytes.saturating_sub(size);
        }
        result.map(|()| true)
    }

    fn write_file(&self, header: &str, envelope: &[u8]) -> io::Result<()> {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        // One counter for the whole process: two transports spooling to one
        // directory (a re-init) in the same millisecond must not pick one
        // name, or the rename replaces one envelope with the other.
        let seq = SPOOL_SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("{millis:013}-{}-{seq:08}", std::process::id());
        let tmp = self.dir.join(format!("{name}.{TMP_EXTENSION}"));
        let dest = self.dir.join(format!("{name}.{EXTENSION}"));
        let write = || -> io::Result<()> {
            let mut file = private_file(&tmp)?;
            file.write_all(header.as_bytes())?;
            file.write_all(envelope)?;
            file.sync_all()?;
            fs::rename(&tmp, &dest)
        };
        let result = write();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// The spooled files, oldest first.
    pub(crate) fn list(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(OsStr::to_str) == Some(EXTENSION))
            .collect();
        files.sort();
        files
    }

    /// Whether no spooled files remain.
    pub(crate) fn is_empty(&self) -> bool {
        self.list().is_empty()
    }

    /// Reads and verifies one spooled envelope.
    #[cfg(test)]
    pub(crate) fn read(&self, path: &Path) -> Result<Vec<u8>, SpoolReadError> {
        let bytes = fs::read(path)?;
        decode(bytes)
    }

    /// Takes one spooled envelope to send: reads and verifies it under an
    /// exclusive lock on the file, held by the returned [`Claimed`] until
    /// it is dropped (remove the file before). `Ok(None)` when another
    /// process sharing the directory holds it or already sent it, so that
    /// two processes draining one spool send each file once (on Unix; where
    /// the file system cannot lock, the file is taken without a lock).
    pub(crate) fn claim(&self, path: &Path) -> Result<Option<Claimed>, SpoolReadError> {
        let mut file = match fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if !try_lock(&file) {
            return Ok(None);
        }
        // Sent and removed (under its lock) by another process between our
        // open and our lock: the handle reads a file no longer spooled.
        if !path.try_exists().unwrap_or(false) {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(Some(Claimed {
            envelope: decode(bytes)?,
            _lock: file,
        }))
    }

    /// Deletes a spooled file (sent, or unusable); `false` if it could not
    /// be deleted.
    pub(crate) fn remove(&self, path: &Path) -> bool {
        let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if fs::remove_file(path).is_ok() {
            let mut used = self.used.lock();
            used.bytes = used.bytes.saturating_sub(size);
            true
        } else {
            false
        }
    }
}

/// The bytes of the spool files in `dir`: `*.envelope` files and the
/// `*.tmp` files being written (by this process or another); temp files
/// older than [`STALE_TMP`] are left-overs of a crashed writer and are
/// removed instead. An entry that vanishes while it is read (sent by
/// another process) counts nothing.
fn measure(dir: &Path) -> io::Result<u64> {
    let mut used: u64 = 0;
    for entry in fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        let extension = path.extension().and_then(OsStr::to_str);
        if !matches!(extension, Some(EXTENSION | TMP_EXTENSION)) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if extension == Some(TMP_EXTENSION) {
            let stale = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > STALE_TMP);
            if stale {
                let _ = fs::remove_file(&path);
                continue;
            }
        }
        used = used.saturating_add(meta.len());
    }
    Ok(used)
}

/// Takes an exclusive lock on `file` without waiting (`flock`, released
/// when the file is closed or the process dies); `false` only when another
/// open file holds it. Without lock support (other platforms, some network
/// file systems) the file counts as free.
fn try_lock(file: &fs::File) -> bool {
    #[cfg(unix)]
    {
        use rustix::fs::{flock, FlockOperation};
        match flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => true,
            Err(e) => e != rustix::io::Errno::WOULDBLOCK,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        true
    }
}

/// A spooled envelope taken by [`Spool::claim`]; the file stays locked
/// while this lives.
#[derive(Debug)]
pub(crate) struct Claimed {
    /// The envelope's bytes.
    pub(crate) envelope: Vec<u8>,
    _lock: fs::File,
}

/// Checks the header line, length and checksum; returns the envelope bytes.
fn decode(mut bytes: Vec<u8>) -> Result<Vec<u8>, SpoolReadError> {
    let newline = bytes
        .iter()
        .take(64)
        .position(|&b| b == b'\n')
        .ok_or(SpoolReadError::Corrupt("no header line"))?;
    let header = std::str::from_utf8(&bytes[..newline])
        .map_err(|_| SpoolReadError::Corrupt("header is not text"))?;
    let rest = header
        .strip_prefix(MAGIC)
        .ok_or(SpoolReadError::Corrupt("not a spool file"))?;
    let mut fields = rest.split_ascii_whitespace();
    let length: usize = fields
        .next()
        .and_then(|f| f.parse().ok())
        .ok_or(SpoolReadError::Corrupt("bad length"))?;
    let crc = fields
        .next()
        .and_then(|f| u32::from_str_radix(f, 16).ok())
        .ok_or(SpoolReadError::Corrupt("bad checksum field"))?;
    let body_start = newline + 1;
    if bytes.len() - body_start != length {
        return Err(SpoolReadError::Corrupt("length mismatch (truncated file)"));
    }
    if crc32fast::hash(&bytes[body_start..]) != crc {
        return Err(SpoolReadError::Corrupt("checksum mismatch"));
    }
    bytes.drain(..body_start);
    Ok(bytes)
}

/// A new file readable and writable by its owner only (0600 on Unix):
/// spooled envelopes hold event data, which other local users must not
/// read.
fn private_file(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn spooled_files_and_a_new_directory_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().expect("tempdir");
        let dir = parent.path().join("spool");
        let spool = Spool::open(&dir, 1 << 20).expect("open");
        assert!(spool.write(b"{}\n").expect("write"));
        let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let files = spool.list();
        assert_eq!(files.len(), 1);
        assert_eq!(mode(&files[0]), 0o600);
    }

    #[test]
    fn a_path_that_is_a_file_is_refused() {
        let parent = tempfile::tempdir().expect("tempdir");
        let file = parent.path().join("file");
        fs::write(&file, b"x").expect("write");
        assert!(Spool::open(&file, 1 << 20).is_err());
        assert!(Spool::open(&file.join("below"), 1 << 20).is_err());
    }

    /// Where the OS enforces permissions (not for root), a directory that
    /// exists but takes no files is refused when opened, not at each write.
    #[cfg(unix)]
    #[test]
    fn an_existing_directory_that_takes_no_files_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().expect("tempdir");
        let dir = parent.path().join("read-only");
        fs::create_dir(&dir).expect("mkdir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o500)).expect("chmod");
        let privileged = fs::File::create(dir.join("probe")).is_ok();
        let result = Spool::open(&dir, 1 << 20);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod back");
        if privileged {
            // Root writes anyway: the directory is usable, and the probe
            // leaves nothing behind.
            assert!(result.is_ok());
            let left: Vec<_> = fs::read_dir(&dir).expect("dir").collect();
            assert_eq!(left.len(), 1, "only this test's own file");
        } else {
            let err = result.expect_err("refused");
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        }
    }

    #[test]
    fn round_trip_in_age_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("open");
        assert!(spool.is_empty());
        assert!(spool.write(b"{}\nfirst").expect("write"));
        assert!(spool.write(b"{}\nsecond").expect("write"));
        let files = spool.list();
        assert_eq!(files.len(), 2);
        assert_eq!(spool.read(&files[0]).expect("read"), b"{}\nfirst");
        assert_eq!(spool.read(&files[1]).expect("read"), b"{}\nsecond");
        spool.remove(&files[0]);
        assert_eq!(spool.list().len(), 1);
    }

    #[test]
    fn budget_is_enforced_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 100).expect("open");
        assert!(spool.write(&[b'x'; 40]).expect("write"));
        assert!(!spool.write(&[b'y'; 60]).expect("write"), "over budget");
        drop(spool);
        let spool = Spool::open(dir.path(), 100).expect("reopen");
        assert!(
            !spool.write(&[b'z'; 60]).expect("write"),
            "budget counts old files"
        );
        let files = spool.list();
        spool.remove(&files[0]);
        assert!(spool.write(&[b'z'; 60]).expect("write"));
    }

    /// Makes `spool`'s running count old enough to be measured again.
    fn age(spool: &Spool) {
        let mut used = spool.used.lock();
        used.took = Duration::ZERO;
        used.measured = Instant::now()
            .checked_sub(RESCAN_INTERVAL)
            .unwrap_or(used.measured);
    }

    #[test]
    fn a_slow_measure_is_repeated_less_often() {
        let now = Instant::now();
        let usage = |ago: u64, took: u64| Usage {
            bytes: 0,
            measured: now - Duration::from_millis(ago),
            took: Duration::from_millis(took),
        };
        assert!(!usage(400, 1).is_stale(now));
        assert!(usage(500, 1).is_stale(now));
        assert!(!usage(900, 50).is_stale(now), "50 ms: every second");
        assert!(usage(1000, 50).is_stale(now));
    }

    #[test]
    fn the_budget_is_what_the_directory_holds_whoever_wrote_or_sent_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Spool::open(dir.path(), 100).expect("open");
        let b = Spool::open(dir.path(), 100).expect("open");
        assert!(a.write(&[b'x'; 60]).expect("write"));
        age(&b);
        assert!(
            !b.write(&[b'y'; 60]).expect("write"),
            "a's file counts for b"
        );
        // Another process sends a's file (here: removes it by hand).
        fs::remove_file(&a.list()[0]).expect("remove");
        age(&a);
        assert!(
            a.write(&[b'z'; 60]).expect("write"),
            "the room counts for a"
        );
        // Within the interval, the running count decides.
        assert!(!a.write(&[b'w'; 60]).expect("write"));
    }

    #[test]
    fn fresh_temp_files_count_and_stale_ones_are_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fresh = dir.path().join("1-2-3.tmp");
        fs::write(&fresh, [0u8; 50]).expect("tmp");
        let stale = dir.path().join("1-2-4.tmp");
        let file = fs::File::create(&stale).expect("tmp");
        file.set_len(50).expect("size");
        file.set_modified(SystemTime::now() - STALE_TMP - Duration::from_secs(60))
            .expect("mtime");
        drop(file);
        fs::write(dir.path().join("notes.txt"), [0u8; 500]).expect("txt");
        assert_eq!(measure(dir.path()).expect("measure"), 50);
        assert!(fresh.exists());
        assert!(!stale.exists(), "a crashed writer's left-over");
    }

    #[test]
    fn corrupt_files_are_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("open");
        spool.write(b"{}\nhello").expect("write");
        let path = spool.list().remove(0);
        let full = fs::read(&path).expect("read");

        fs::write(&path, &full[..full.len() - 2]).expect("truncate");
        assert!(matches!(spool.read(&path), Err(SpoolReadError::Corrupt(_))));

        let mut flipped = full.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        fs::write(&path, &flipped).expect("flip");
        assert!(matches!(spool.read(&path), Err(SpoolReadError::Corrupt(_))));

        for junk in [&b""[..], b"garbage", b"SENTRY-SPOOL 1 x y\n", &[0xff; 100]] {
            fs::write(&path, junk).expect("junk");
            assert!(matches!(spool.read(&path), Err(SpoolReadError::Corrupt(_))));
        }
    }

    #[test]
    fn temp_files_are_not_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("1-2-3.tmp"), b"partial").expect("tmp");
        fs::write(dir.path().join("notes.txt"), b"other").expect("txt");
        let spool = Spool::open(dir.path(), 1 << 20).expect("open");
        assert!(spool.is_empty());
    }
}
