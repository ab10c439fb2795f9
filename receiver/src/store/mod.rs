//! SQLite storage: one writer thread, pooled readers.
//!
//! [`Store::open`] creates or upgrades the database (WAL mode, versioned
//! migrations, see [`schema`]), makes sure a default project with a key
//! exists, and starts the [`writer`]. Writes are sent to the writer and
//! answered after their transaction has committed; reads run on their own
//! connections ([`Store::read`] moves them to tokio's blocking pool), so
//! neither ever blocks the async runtime nor waits for the other.
//!
//! ```
//! use receiver::store::{Store, queries};
//! let dir = tempfile::tempdir()?;
//! let (store, opened) = Store::open(&dir.path().join("db.sqlite"), &Default::default())?;
//! assert_eq!(opened.default_key.project_id, 1);
//! let projects = store.read_blocking(queries::list_projects)?;
//! assert_eq!(projects.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod apply;
pub(crate) mod check_ins;
pub mod container_entries;
pub mod dictionary;
pub(crate) mod id_floors;
pub(crate) mod issue_merge;
pub(crate) mod issue_removal;
pub mod known_rows;
mod late_runs;
mod monitor_incidents;
mod profile_chunks;
pub use monitor_incidents::occurrence_hash;
pub(crate) use monitor_incidents::EVENT_TYPE as MONITOR_FAILURE_EVENT_TYPE;
mod monitor_slugs;
pub(crate) mod monitors;
pub mod queries;
pub mod quotas;
pub mod records;
pub mod retention;
pub mod schema;
pub mod serving;
pub mod wal_batch;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::config::StoreConfig;
pub use records::*;
pub use writer::{WriteOp, WriteResult, Writer};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The disk holding the database (or its WAL) is full. What failed was
    /// rolled back whole; storing resumes by itself once there is space.
    #[error(
        "the disk holding the database is full; nothing acknowledged was lost, and storing \
         resumes once there is space"
    )]
    DiskFull(
        /// What SQLite said (an I/O error when the writer's WAL file met the
        /// full disk).
        String,
    ),
    /// The database could not be prepared (WAL, schema version).
    #[error("cannot use the database: {0}")]
    Setup(String),
    /// The write queue stayed full.
    #[error("the write queue is full; retry later")]
    QueueFull,
    /// The writer thread is not running.
    #[error("the database writer has stopped")]
    WriterGone,
    /// Invalid input for a management operation.
    #[error("{0}")]
    Invalid(String),
    /// Something named does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// (De)compressing a payload failed.
    #[error("payload (de)compression failed: {0}")]
    Compression(#[from] std::io::Error),
    /// The whole batch failed with this error (copied to every job).
    #[error("batch failed: {0}")]
    Batch(String),
    /// A blocking read task panicked or was cancelled.
    #[error("read task failed: {0}")]
    Task(String),
}

impl From<rusqlite::Error> for StoreError {
    /// A full disk gets its own variant, whether SQLite said so or the
    /// writer's WAL file ([`wal_batch`]) turned it into an I/O error, as it
    /// must for SQLite to roll the whole transaction back.
    fn from(e: rusqlite::Error) -> Self {
        let full = match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => true,
            Some(rusqlite::ErrorCode::SystemIoFailure) => wal_batch::take_disk_full(),
            _ => false,
        };
        if full {
            StoreError::DiskFull(e.to_string())
        } else {
            StoreError::Sqlite(e)
        }
    }
}

impl StoreError {
    /// A copy for reporting one batch failure to every job of the batch.
    pub fn duplicate(&self) -> StoreError {
        match self {
            // Its kind decides the answer (503, not 500).
            StoreError::DiskFull(said) => StoreError::DiskFull(said.clone()),
            other => StoreError::Batch(other.to_string()),
        }
    }
}

/// A project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectInfo {
    /// Numeric id (the last segment of the DSN).
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Whether it accepts data.
    pub enabled: bool,
}

/// A public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Row id.
    pub id: i64,
    /// The project the key belongs to.
    pub project_id: i64,
    /// 32 characters.
    pub public_key: String,
    /// Optional label.
    pub label: Option<String>,
    /// Whether the key is enabled.
    pub enabled: bool,
    /// Whether its project is enabled.
    pub project_enabled: bool,
    /// The project's allowed origins: `*` (default) or a comma-separated
    /// list of origins (`https://app.example.com`), hosts (`example.com`) or
    /// wildcards (`*.example.com`).
    pub allowed_origins: String,
}

impl KeyInfo {
    /// The DSN for this key on a server reachable at `host_port` with the
    /// path prefix `prefix` (`/` for none).
    ///
    /// ```
    /// # use receiver::store::KeyInfo;
    /// let key = KeyInfo { id: 1, project_id: 1, public_key: "k".repeat(32), label: None,
    ///     enabled: true, project_enabled: true, allowed_origins: "*".into() };
    /// assert_eq!(key.dsn("127.0.0.1:8000", "/"),
    ///     format!("http://{}@127.0.0.1:8000/1", "k".repeat(32)));
    /// ```
    pub fn dsn(&self, host_port: &str, prefix: &str) -> String {
        format!(
            "http://{}@{host_port}{prefix}{}",
            self.public_key, self.project_id
        )
    }
}

/// An issue's workflow status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueStatus {
    /// Open.
    Unresolved,
    /// Fixed: any new event reopens it.
    Resolved,
    /// Fixed in a release: events of older releases don't reopen it (one of
    /// that release itself does: the fix was to be in it).
    ResolvedInRelease,
    /// Muted: new events never reopen it.
    Ignored,
}

impl IssueStatus {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Unresolved => "unresolved",
            IssueStatus::Resolved => "resolved",
            IssueStatus::ResolvedInRelease => "resolved_in_release",
            IssueStatus::Ignored => "ignored",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<IssueStatus> {
        Some(match s {
            "unresolved" => IssueStatus::Unresolved,
            "resolved" => IssueStatus::Resolved,
            "resolved_in_release" => IssueStatus::ResolvedInRelease,
            "ignored" => IssueStatus::Ignored,
            _ => return None,
        })
    }
}

/// How many trained dictionaries a store tries to save before it goes on
/// without one ([`Store::offer_sample`]).
const DICTIONARY_ATTEMPTS: u32 = 5;

/// What became of a dictionary that could not be stored.
enum Retry {
    /// Samples are collected for another.
    Again,
    /// A dictionary is in use now (another process stored one).
    NotNeeded,
    /// Too many failed; the store goes on without one.
    GivenUp,
}

/// What [`Store::open`] found or created.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The key to print as the DSN: the first enabled key of the lowest
    /// project (created on first start).
    pub default_key: KeyInfo,
    /// Whether the default project was created now.
    pub created_default: bool,
}

/// A small pool of read-only connections.
#[derive(Debug)]
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

const MAX_IDLE_READERS: usize = 4;

impl ReadPool {
    fn get(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.idle.lock().pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        Ok(conn)
    }

    fn put(&self, conn: Connection) {
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
}

/// The database: a writer thread and a pool of readers.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

#[derive(Debug)]
struct StoreInner {
    /// Bumped by every management write (projects, keys), so caches of
    /// them know to refresh.
    generation: AtomicU64,
    writer: Mutex<Writer>,
    /// The writer's counters, read without its lock.
    writer_stats: Arc<writer::WriterStats>,
    /// Requests being prepared for the writer, which it waits for.
    preparing: writer::Preparing,
    readers: ReadPool,
    compression_level: i32,
    /// The newest dictionary of the database, to compress new event and
    /// transaction payloads with.
    dictionary: RwLock<Option<Arc<dictionary::Dictionary>>>,
    /// Collects samples while the database has no dictionary.
    trainer: dictionary::Trainer,
    /// The highest `compression_dicts.id` registered: another process on
    /// the same file may add one, which reads then register.
    dictionaries_loaded: AtomicI64,
    /// Trained dictionaries that could not be stored.
    dictionary_failures: AtomicU32,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrates it,
    /// ensures a default project and key, and starts the writer.
    pub fn open(path: &Path, config: &StoreConfig) -> Result<(Store, Opened), StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Setup(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        create_private(path)
            .map_err(|e| StoreError::Setup(format!("cannot create {}: {e}", path.display())))?;
        let mut conn = open_writer(path)
            .map_err(|e| StoreError::Setup(format!("cannot open {}: {e}", path.display())))?;
        // The first reads of the file: say which file it is when they fail
        // ("file is not a database" alone does not).
        let named = |e: StoreError| match e {
            StoreError::Sqlite(e) => StoreError::Setup(format!("{}: {e}", path.display())),
            StoreError::DiskFull(_) => {
                StoreError::Setup(format!("{}: the disk is full", path.display()))
            }
            other => other,
        };
        schema::configure(&conn, config.fsync_every_commit).map_err(named)?;
        schema::migrate(&mut conn).map_err(named)?;
        let opened = ensure_default_project(&mut conn)?;
        let (newest, loaded) = load_dictionaries(&conn, 0)?;
        let preparing = writer::Preparing::default();
        let writer = Writer::start(
            conn,
            config.queue_capacity,
            writer::Batching {
                max: config.batch_max,
                gather_window: config.gather_window,
                preparing: preparing.clone(),
            },
        );
        let store = Store {
            inner: Arc::new(StoreInner {
                generation: AtomicU64::new(0),
                writer_stats: writer.stats(),
                writer: Mutex::new(writer),
                preparing,
                readers: ReadPool {
                    path: path.to_owned(),
                    idle: Mutex::new(Vec::new()),
                },
                compression_level: config.compression_level,
                trainer: dictionary::Trainer::new(config.dictionary_samples, newest.is_none()),
                dictionary: RwLock::new(newest),
                dictionaries_loaded: AtomicI64::new(loaded),
                dictionary_failures: AtomicU32::new(0),
            }),
        };
        // Opening wrote through this thread; a full disk noted then must
        // not name a later error of another kind on it.
        wal_batch::take_disk_full();
        Ok((store, opened))
    }

    /// The zstd level for payloads.
    pub fn compression_level(&self) -> i32 {
        self.inner.compression_level
    }

    /// How to compress a new event or transaction payload: the zstd level
    /// and the database's dictionary, once it has one.
    pub fn codec(&self) -> dictionary::PayloadCodec {
        dictionary::PayloadCodec {
            level: self.inner.compression_level,
            dictionary: self.inner.dictionary.read().clone(),
        }
    }

    /// Whether [`Store::offer_sample`] would keep a sample (the database
    /// has no dictionary yet).
    pub fn wants_samples(&self) -> bool {
        self.inner.trainer.wants_samples()
    }

    /// Offers the bytes of an accepted event or transaction item for
    /// training the database's dictionary ([`dictionary`]). Once enough are
    /// kept, a thread trains the dictionary and stores it; new payloads use
    /// it from then on. Cheap when no samples are wanted.
    pub fn offer_sample(&self, payload: &[u8]) {
        let Some(samples) = self.inner.trainer.offer(payload) else {
            return;
        };
        let store = self.clone();
        let spawned = std::thread::Builder::new()
            .name("receiver-dict".into())
            .spawn(move || {
                match store.train_dictionary(&samples) {
                    Ok(()) => {}
                    // zstd found nothing to learn: the next samples would
                    // be no better.
                    Err(e @ StoreError::Compression(_)) => {
                        eprintln!("receiver: payloads stay compressed without a dictionary: {e}");
                    }
                    // Shutting down.
                    Err(StoreError::WriterGone) => {}
                    // Not stored (a full disk, a busy database): the next
                    // samples train another, once storing works again.
                    Err(e) => match store.retry_dictionary() {
                        Retry::Again => eprintln!(
                            "receiver: the compression dictionary could not be stored ({e}); \
                             another is trained from the next {} payloads",
                            samples.len()
                        ),
                        // Another process's came meanwhile, and is in use.
                        Retry::NotNeeded => {}
                        Retry::GivenUp => eprintln!(
                            "receiver: payloads stay compressed without a dictionary: {e}"
                        ),
                    },
                }
            });
        if let Err(e) = spawned {
            eprintln!("receiver: could not start training a compression dictionary: {e}");
        }
    }

    /// Trains a dictionary from `samples`, stores it, and compresses with it
    /// from then on. If the database got one meanwhile (another process on
    /// the same file), that one is used instead.
    fn train_dictionary(&self, samples: &[Vec<u8>]) -> Result<(), StoreError> {
        let trained = dictionary::train(samples)
            .map_err(|e| StoreError::Compression(std::io::Error::other(e)))?;
        // Stored first: no payload may name a dictionary the database lacks.
        let dict = match self.write_blocking(WriteOp::SaveDictionary {
            dictionary: Arc::new(trained),
            samples: samples.len(),
        })? {
            WriteResult::Dictionary(dict) => dict,
            other => {
                return Err(StoreError::Setup(format!(
                    "unexpected writer result {other:?}"
                )))
            }
        };
        dictionary::register(&dict);
        self.adopt_dictionary(dict);
        Ok(())
    }

    /// Compresses new payloads with `dict` unless a dictionary is in use
    /// already; stops collecting samples.
    fn adopt_dictionary(&self, dict: Arc<dictionary::Dictionary>) {
        let mut current = self.inner.dictionary.write();
        if current.is_none() {
            *current = Some(dict);
        }
        // Under the lock, so that a failed save's retry (which looks under
        // it too) cannot start collecting again after this.
        self.inner.trainer.stop();
    }

    /// After a trained dictionary could not be stored: collects samples
    /// for another, unless a dictionary came meanwhile or saving has failed
    /// [`DICTIONARY_ATTEMPTS`] times (a lasting failure, such as a
    /// read-only database, would otherwise train again every few hundred
    /// requests).
    fn retry_dictionary(&self) -> Retry {
        let current = self.inner.dictionary.write();
        if current.is_some() {
            return Retry::NotNeeded;
        }
        let failed = self
            .inner
            .dictionary_failures
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        if failed >= DICTIONARY_ATTEMPTS {
            return Retry::GivenUp;
        }
        self.inner.trainer.restart();
        Retry::Again
    }

    /// Registers the dictionaries another process stored in the database
    /// since this store last looked, so that its payloads can be read here
    /// (and compressed with, if this store has none yet).
    fn refresh_dictionaries(&self, conn: &Connection) -> Result<(), StoreError> {
        let newest: Option<i64> = conn
            .prepare_cached("SELECT max(id) FROM compression_dicts")?
            .query_row([], |r| r.get(0))?;
        let loaded = self.inner.dictionaries_loaded.load(Ordering::Acquire);
        if !newest.is_some_and(|n| n > loaded) {
            return Ok(());
        }
        let (dict, max) = load_dictionaries(conn, loaded)?;
        self.inner
            .dictionaries_loaded
            .fetch_max(max, Ordering::AcqRel);
        if let Some(dict) = dict {
            self.adopt_dictionary(dict);
        }
        Ok(())
    }

    /// Counts a request as being prepared until the guard is dropped: the
    /// writer holds its batch open for it a little (see [`writer`]). Pass
    /// the guard to [`Store::enqueue_ingest`], which drops it once the job
    /// is queued.
    pub fn preparing(&self) -> writer::PreparingGuard {
        self.inner.preparing.enter()
    }

    /// Puts the batch of a request counted by `preparing` in the writer's
    /// queue (the guard is dropped once it is there) without waiting for
    /// the commit: from then on the batch is written whether or not anyone
    /// awaits [`writer::Pending::committed`]. A full queue is retried for
    /// `queue_wait`, then [`StoreError::QueueFull`].
    pub async fn enqueue_ingest(
        &self,
        batch: IngestBatch,
        queue_wait: Duration,
        preparing: writer::PreparingGuard,
    ) -> Result<writer::Pending, StoreError> {
        match self.sender() {
            Some(writer) => {
                writer::enqueue_to(
                    &writer.0,
                    WriteOp::Ingest(batch),
                    queue_wait,
                    Some(preparing),
                )
                .await
            }
            None => Err(StoreError::WriterGone),
        }
    }

    /// Sends a write to the writer and waits (asynchronously) for its commit.
    pub async fn write(
        &self,
        op: WriteOp,
        queue_wait: Duration,
    ) -> Result<WriteResult, StoreError> {
        let management = op.is_management();
        let result = match self.sender() {
            Some(writer) => writer.submit(op, queue_wait).await,
            None => Err(StoreError::WriterGone),
        };
        if management {
            self.bump_generation();
        }
        result
    }

    /// Sends a write and blocks until it is committed (not from async code).
    pub fn write_blocking(&self, op: WriteOp) -> Result<WriteResult, StoreError> {
        let management = op.is_management();
        let result = match self.sender() {
            Some(writer) => writer.submit_blocking(op),
            None => Err(StoreError::WriterGone),
        };
        if management {
            self.bump_generation();
        }
        result
    }

    /// Tells the caches of projects and keys that a project changed
    /// through another connection (the API's), so they read it again at
    /// once.
    pub(crate) fn note_projects_changed(&self) {
        self.bump_generation();
    }

    fn bump_generation(&self) {
        self.inner.generation.fetch_add(1, Ordering::Release);
    }

    /// Changes whenever projects or keys are changed through this store, so
    /// caches of them can refresh at once.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    fn sender(&self) -> Option<WriterRef> {
        self.inner.writer.lock().sender().map(WriterRef)
    }

    /// Runs a read on a pooled read-only connection in tokio's blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs a read on a pooled read-only connection on this thread.
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.inner.readers.get()?;
        // Best effort: a payload whose dictionary is still unknown fails to
        // read on its own, with a clear error.
        let _ = self.refresh_dictionaries(&conn);
        let result = f(&conn);
        self.inner.readers.put(conn);
        result
    }

    /// What the writer has committed so far: fewer commits than jobs
    /// means group commit is at work.
    pub fn writer_counts(&self) -> writer::WriterCounts {
        self.inner.writer_stats.counts()
    }

    /// Stops the writer after it has committed everything queued.
    ///
    /// The writer's lock is held only to stop it, not while its thread
    /// finishes: requests that arrive meanwhile find no sender and fail at
    /// once (`WriterGone`) instead of blocking runtime threads that
    /// requests still awaiting their commit need in order to finish.
    pub fn shutdown(&self) {
        let stopping = self.inner.writer.lock().stop();
        stopping.join();
    }
}

/// A cloned sender to the writer thread.
struct WriterRef(std::sync::mpsc::SyncSender<writer::Job>);

impl WriterRef {
    async fn submit(&self, op: WriteOp, wait: Duration) -> Result<WriteResult, StoreError> {
        writer::submit_to(&self.0, op, wait).await
    }

    fn submit_blocking(&self, op: WriteOp) -> Result<WriteResult, StoreError> {
        writer::submit_blocking_to(&self.0, op)
    }
}

fn ensure_default_project(conn: &mut Connection) -> Result<Opened, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut created_default = false;
    let has_project: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM projects)", [], |r| r.get(0))?;
    if !has_project {
        writer::create_project(&tx, Some(1), "default")?;
        writer::create_key(&tx, 1, None, Some("default"))?;
        created_default = true;
    }
    let key = tx
        .query_row(
            "SELECT k.id, k.project_id, k.public_key, k.label, k.enabled, p.enabled,
                 p.allowed_origins
             FROM keys k JOIN projects p ON p.id = k.project_id
             WHERE k.enabled AND p.enabled
             ORDER BY k.project_id, k.id LIMIT 1",
            [],
            queries::key_from_row,
        )
        .optional()?;
    let key = match key {
        Some(k) => k,
        None => {
            // Projects exist but none has an enabled key: add one to the lowest.
            let pid: i64 = tx.query_row("SELECT MIN(id) FROM projects", [], |r| r.get(0))?;
            created_default = true;
            writer::create_key(&tx, pid, None, Some("default"))?
        }
    };
    tx.commit()?;
    Ok(Opened {
        default_key: key,
        created_default,
    })
}

/// Creates the database file readable and writable by its owner only, if
/// it does not exist: it holds event data (user details, request bodies,
/// tokens' hashes), and SQLite would create it `0644`. SQLite gives the
/// `-wal` and `-shm` files the database file's permissions.
pub(crate) fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The writer's connection: through [`wal_batch`] (few writes per WAL
/// commit) when it can be registered, else the default VFS.
fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    match wal_batch::register() {
        Ok(vfs) => Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs),
        Err(_) => Connection::open(path),
    }
}

/// Registers the database's dictionaries with an id above `after` for
/// reading; returns the newest of them (to compress with) and the highest
/// id seen (`after` if none).
fn load_dictionaries(
    conn: &Connection,
    after: i64,
) -> Result<(Option<Arc<dictionary::Dictionary>>, i64), StoreError> {
    let mut stmt =
        conn.prepare("SELECT id, dict FROM compression_dicts WHERE id > ?1 ORDER BY id")?;
    let mut newest = None;
    let mut max = after;
    for row in stmt.query_map([after], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
    })? {
        let (id, bytes) = row?;
        let dict = dictionary::Dictionary::new(bytes);
        dictionary::register(&dict);
        newest = Some(Arc::new(dict));
        max = max.max(id);
    }
    Ok((newest, max))
}

/// A new random public key: 32 lowercase hex digits.
pub fn generate_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> f64 {
    sentry_core::protocol::Timestamp::now().as_secs_f64()
}

/// Compresses a payload for storage (zstd).
pub fn compress(data: &[u8], level: i32) -> Result<Vec<u8>, StoreError> {
    Ok(zstd::bulk::compress(data, level)?)
}

/// A grouping explanation as `issue_grouping` stores it: the JSON,
/// zstd-compressed (level 3, a reused context, no dictionary: the
/// explanation repeats itself enough). Read back with
/// [`queries::explanation_text`].
///
/// ```
/// let stored = receiver::store::compress_explanation(r#"{"variants":{}}"#).unwrap();
/// assert!(stored.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]), "a zstd frame");
/// ```
pub fn compress_explanation(json: &str) -> Result<Vec<u8>, StoreError> {
    dictionary::compress(json.as_bytes(), 3, None)
        .map_err(|e| StoreError::Compression(std::io::Error::other(e)))
}

/// A grouping hash's inputs as `group_hashes` stores them: the JSON list,
/// compressed as [`compress_explanation`] compresses (from schema version
/// 29 on; a 20-frame stack trace's ~1 KB of module and function names
/// become ~0.3 KB). Read back with [`queries::hash_inputs`].
///
/// ```
/// use rusqlite::types::ValueRef;
/// use receiver::store::{compress_inputs, queries::hash_inputs};
/// let stored = compress_inputs(&["app.views".to_owned(), "checkout".to_owned()]).unwrap();
/// assert_eq!(hash_inputs(ValueRef::Blob(&stored)), ["app.views", "checkout"]);
/// ```
pub fn compress_inputs(inputs: &[String]) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_string(inputs)
        .map_err(|e| StoreError::Compression(std::io::Error::other(e)))?;
    compress_explanation(&json)
}

/// The JSON (or raw bytes) of a stored payload: reverses [`compress`], and
/// renders an event stored as received
/// ([`crate::ingest::as_received`]).
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, StoreError> {
    use crate::ingest::as_received::{self, RenderError};
    if as_received::is_encoded(data) {
        return match as_received::render(data) {
            Ok(json) => Ok(json),
            Err(RenderError::Refused { sent, .. }) => Ok(sent),
            Err(e) => Err(StoreError::Compression(std::io::Error::other(e))),
        };
    }
    Ok(as_received::decompress_bounded(data)?)
}

/// A stored event's or transaction's payload as the SDK sent it: the item's
/// own bytes for payloads stored as received, else (older rows, stored
/// normalised) what [`decompress`] gives.
pub fn decompress_as_sent(data: &[u8]) -> Result<Vec<u8>, StoreError> {
    use crate::ingest::as_received;
    if as_received::is_encoded(data) {
        return as_received::sent(data)
            .map_err(|e| StoreError::Compression(std::io::Error::other(e)));
    }
    Ok(as_received::decompress_bounded(data)?)
}

#[cfg(test)]
mod tests {
    use super::writer::tests::project;
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_file_that_is_no_database_is_named_in_the_error() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("notes.txt");
        std::fs::write(
            &path,
            "not a database, but long enough to be read as a header",
        )
        .expect("write");
        let Err(e) = Store::open(&path, &StoreConfig::default()) else {
            panic!("a text file opened as a database");
        };
        let said = e.to_string();
        assert!(
            said.contains(&path.display().to_string()) && said.contains("not a database"),
            "{said}"
        );
    }

    /// A database that cannot grow (here its page limit, as a full disk
    /// makes it) fails with an error that says so, not as any SQLite error.
    #[test]
    fn a_full_database_says_the_disk_is_full() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (v BLOB); PRAGMA max_page_count = 8;")
            .expect("setup");
        let failed = (0..100)
            .map(|_| conn.execute("INSERT INTO t (v) VALUES (randomblob(2000))", []))
            .find_map(Result::err)
            .expect("the page limit is reached");
        let said = StoreError::from(failed);
        assert!(matches!(said, StoreError::DiskFull(_)), "{said:?}");
        assert!(said.to_string().contains("storing resumes"), "{said}");
        // Copied to every job of a failed batch, it stays what it is: the
        // API answers it 503, not 500.
        assert!(matches!(said.duplicate(), StoreError::DiskFull(_)));
        let api = crate::api::ApiError::Store(said.duplicate());
        assert_eq!(api.status(), hyper::StatusCode::SERVICE_UNAVAILABLE);
        // Any other error stays what it was.
        let other = conn
            .execute("INSERT INTO missing VALUES (1)", [])
            .expect_err("no table");
        assert!(matches!(StoreError::from(other), StoreError::Sqlite(_)));
    }

    #[cfg(unix)]
    #[test]
    fn database_files_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("db.sqlite");
        let (store, _) = Store::open(&path, &StoreConfig::default()).expect("open");
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.path().join(format!("db.sqlite{suffix}"));
            let mode = std::fs::metadata(&file)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o777,
                0o600,
                "{} is {:o}",
                file.display(),
                mode & 0o777
            );
        }
        drop(store);
    }

    /// A request awaiting its commit holds a sender, so the writer thread
    /// outlives the start of shutdown; a request that arrives meanwhile must
    /// fail at once rather than block the only runtime thread, which the
    /// first request needs to finish and drop its sender.
    #[test]
    fn shutdown_leaves_the_runtime_free_for_requests_awaiting_their_commit() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("db.sqlite");
        let (store, _) = Store::open(&path, &StoreConfig::default()).expect("open");
        // SQLite's write lock, held elsewhere: the first job waits for it.
        let blocker = Connection::open(&path).expect("second connection");
        blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let (began_tx, began_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        let requests = store.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let outcomes = runtime.block_on(async move {
                let first = tokio::spawn({
                    let store = requests.clone();
                    async move { store.write(project(50), Duration::from_secs(30)).await }
                });
                tokio::time::sleep(Duration::from_millis(50)).await;
                let stopper = std::thread::spawn({
                    let store = requests.clone();
                    move || store.shutdown()
                });
                // Until shutdown has begun: the handle is locked, or it
                // has no sender any more.
                while requests
                    .inner
                    .writer
                    .try_lock()
                    .is_some_and(|w| w.sender().is_some())
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let _ = began_tx.send(());
                let late = requests.write(project(60), Duration::from_secs(30)).await;
                let first = first.await.expect("first request");
                (first, late, stopper)
            });
            let _ = done_tx.send(outcomes);
        });
        began_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("shutdown began");
        std::thread::sleep(Duration::from_millis(100));
        blocker.execute_batch("ROLLBACK").expect("unlock");
        let (first, late, stopper) = done_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("requests finished while the writer was shutting down");
        assert!(first.is_ok(), "{first:?}");
        assert!(matches!(late, Err(StoreError::WriterGone)), "{late:?}");
        stopper.join().expect("shutdown finished");
        let stored: i64 = blocker
            .query_row("SELECT count(*) FROM projects WHERE id = 50", [], |r| {
                r.get(0)
            })
            .expect("count");
        assert_eq!(stored, 1);
    }
}
