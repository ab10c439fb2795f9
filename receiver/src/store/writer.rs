//! The single writer thread and its group commit.
//!
//! All writes go through one thread that owns the only write connection.
//! Requests send a [`WriteOp`] over a bounded channel together with a reply
//! slot. The thread blocks for the first job, then drains whatever else is
//! queued (up to `batch_max`), runs each job inside a savepoint of one
//! transaction and commits once. Only after the commit has returned does it
//! answer the jobs, so a request is acknowledged only once its data is
//! durable, and many concurrent requests share one fsync.
//!
//! Under load the thread also *gathers*: when its previous batch held at
//! least [`GATHER_AFTER`] jobs (many clients in flight at once; so never
//! when `batch_max` is smaller), and it finds
//! fewer than [`GATHER_TARGET`] jobs while other requests are still being
//! prepared (parsed, grouped, compressed: counted by [`Preparing`]), it
//! waits for them, at most [`StoreConfig::gather_window`] after it took the
//! first job, and commits them together. A commit rewrites the pages every
//! event touches (the issue's row, the right edges of the indices), so
//! small batches cost far more per event; without gathering, under load
//! most commits held one to three jobs while the workers waited for CPU.
//! With fewer clients in flight together nothing is gathered: each would
//! wait for the slowest of them.
//! A lone request (nothing else being prepared) is never kept waiting.
//!
//! [`StoreConfig::gather_window`]: crate::config::StoreConfig::gather_window
//!
//! A job that fails (a constraint, a bad record) rolls back to its own
//! savepoint and is answered with the error; the others in the batch still
//! commit.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::apply::BatchWork;
use super::dictionary::Dictionary;
use super::known_rows::KnownRows;
use super::records::{IngestBatch, IngestSummary};
use super::{apply as ingest_apply, now_secs, IssueStatus, KeyInfo, ProjectInfo, StoreError};

/// A write the writer thread performs.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Store what one request carried.
    Ingest(IngestBatch),
    /// Create a project (with the given id, or the next free one).
    CreateProject {
        /// Explicit id.
        id: Option<i64>,
        /// Display name.
        name: String,
    },
    /// Create a key for a project (the given public key or a random one).
    CreateKey {
        /// The project.
        project_id: i64,
        /// 32 characters; generated when `None`.
        public_key: Option<String>,
        /// Optional label.
        label: Option<String>,
    },
    /// Enable or disable a project, or set its allowed origins.
    UpdateProject {
        /// The project.
        project_id: i64,
        /// New enabled state.
        enabled: Option<bool>,
        /// New allowed origins (`*` or a comma-separated list).
        allowed_origins: Option<String>,
    },
    /// Enable or disable a key.
    SetKeyEnabled {
        /// The public key.
        public_key: String,
        /// New state.
        enabled: bool,
    },
    /// Change an issue's status.
    SetIssueStatus {
        /// The issue.
        issue_id: i64,
        /// New status.
        status: IssueStatus,
        /// For `ResolvedInRelease`: the release that fixes it.
        release: Option<String>,
    },
    /// Add a rate-limit quota.
    AddQuota(super::quotas::NewQuota),
    /// Remove a rate-limit quota by id.
    RemoveQuota {
        /// The quota's id.
        id: i64,
    },
    /// Count the cron monitor failures no check-in reports that became
    /// known in `(since, now]` (Unix seconds): runs whose deadline or
    /// expected runs whose margin passed (`store::monitor_incidents`).
    MonitorClock {
        /// The end of the previous window.
        since: f64,
        /// Now.
        now: f64,
    },
    /// Delete at most `limit` rows of each table received before `cutoff`
    /// (Unix seconds): one step of data retention (`store::retention`).
    Prune {
        /// Rows received before this go.
        cutoff: f64,
        /// The most rows of each table this step deletes.
        limit: usize,
    },
    /// Keep a trained compression dictionary (`compression_dicts`).
    SaveDictionary {
        /// The dictionary.
        dictionary: Arc<Dictionary>,
        /// How many payloads it was trained from.
        samples: usize,
    },
}

impl WriteOp {
    /// Whether the op changes projects, keys or quotas (caches must
    /// refresh).
    pub fn is_management(&self) -> bool {
        matches!(
            self,
            WriteOp::CreateProject { .. }
                | WriteOp::CreateKey { .. }
                | WriteOp::UpdateProject { .. }
                | WriteOp::SetKeyEnabled { .. }
                | WriteOp::AddQuota(_)
                | WriteOp::RemoveQuota { .. }
        )
    }
}

/// What a write produced.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteResult {
    /// Result of [`WriteOp::Ingest`].
    Ingested(IngestSummary),
    /// Result of [`WriteOp::CreateProject`].
    Project(ProjectInfo),
    /// Result of [`WriteOp::CreateKey`].
    Key(KeyInfo),
    /// Result of [`WriteOp::AddQuota`].
    Quota(super::quotas::Quota),
    /// Result of [`WriteOp::SetIssueStatus`] and [`WriteOp::RemoveQuota`].
    Done,
    /// Result of [`WriteOp::MonitorClock`]: how many failures it counted.
    MonitorFailures(usize),
    /// Result of [`WriteOp::Prune`]: what the step deleted.
    Pruned(super::retention::Pruned),
    /// Result of [`WriteOp::SaveDictionary`]: the database's dictionary
    /// (the one sent, or the one another process stored first).
    Dictionary(Arc<Dictionary>),
}

/// Where the writer sends its answer.
#[derive(Debug)]
pub enum Reply {
    /// An async caller.
    Async(tokio::sync::oneshot::Sender<Result<WriteResult, StoreError>>),
    /// A blocking caller.
    Blocking(mpsc::Sender<Result<WriteResult, StoreError>>),
}

impl Reply {
    fn send(self, result: Result<WriteResult, StoreError>) {
        // The caller may have gone away (client disconnected): nothing to do.
        let _ = match self {
            Reply::Async(tx) => tx.send(result).map_err(drop),
            Reply::Blocking(tx) => tx.send(result).map_err(drop),
        };
    }
}

/// A queued job.
#[derive(Debug)]
pub struct Job {
    /// What to do.
    pub op: WriteOp,
    /// Where to answer.
    pub reply: Reply,
}

/// While a batch holds fewer jobs than this and other requests are being
/// prepared, the writer waits for them (see the module docs). Past it, a
/// commit's shared pages cost little per job.
pub const GATHER_TARGET: usize = 64;

/// The writer gathers only after a batch of at least this many jobs: that
/// many requests were in flight together. With fewer clients, waiting for
/// them costs more than their commits: each waits for the slowest.
pub const GATHER_AFTER: usize = 16;

/// While gathering, the writer wakes for each arriving job until the batch
/// holds this many, then looks at its queue every [`GATHER_STEP`].
const GATHER_WAKE_UNTIL: usize = 8;

/// How long the writer sleeps between two looks at its queue while it
/// gathers a large batch.
const GATHER_STEP: Duration = Duration::from_micros(250);

/// How many requests are being prepared for the writer: read, not yet
/// queued. The writer waits for them to gather a larger batch.
///
/// ```
/// use receiver::store::writer::Preparing;
///
/// let preparing = Preparing::default();
/// let guard = preparing.enter();
/// assert_eq!(preparing.count(), 1);
/// drop(guard); // queued, refused or abandoned: no longer awaited
/// assert_eq!(preparing.count(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Preparing(Arc<AtomicUsize>);

impl Preparing {
    /// Counts one request as being prepared until the guard is dropped.
    pub fn enter(&self) -> PreparingGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        PreparingGuard(self.0.clone())
    }

    /// Requests being prepared now.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// One request being prepared; see [`Preparing::enter`]. Hand it to
/// [`enqueue_to`] (through `Store::enqueue_ingest`), which drops it once
/// the request's job is queued.
#[derive(Debug)]
#[must_use = "the request counts as being prepared only while the guard lives"]
pub struct PreparingGuard(Arc<AtomicUsize>);

impl Drop for PreparingGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How the writer forms its batches.
#[derive(Debug, Clone)]
pub struct Batching {
    /// Most jobs committed in one transaction.
    pub max: usize,
    /// How long after taking a batch's first job the writer may wait for
    /// requests still being prepared; zero never waits.
    pub gather_window: Duration,
    /// The requests being prepared.
    pub preparing: Preparing,
}

/// The handle to the writer thread.
#[derive(Debug)]
pub struct Writer {
    tx: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<WriterStats>,
    checkpointer: Option<Checkpointer>,
}

/// How often the checkpointer looks for committed WAL frames to fold back
/// into the database file while the writer is committing.
///
/// The tail the writer's own checkpoint has to finish (see [`Checkpointer`])
/// is what arrived since the last pass, and every request waits while that
/// checkpoint syncs it: at ~200 MB/s of WAL under load, passes 100 ms apart
/// left ~20 MB to sync and stalled the writer ~16 ms about seven times a
/// second (14 % of the time; p99 26–36 ms at 64 connections). Passes 10 ms
/// apart cut the stall to a few ms: 8–15 % more events/s, p99 15 ms. 2 ms
/// apart gained nothing more and doubled the checkpointer's CPU.
const CHECKPOINT_INTERVAL_BUSY: Duration = Duration::from_millis(10);

/// How often it looks while the writer is idle.
const CHECKPOINT_INTERVAL_IDLE: Duration = Duration::from_millis(100);

/// The writer's own automatic checkpoint threshold, in WAL pages (SQLite's
/// default is 1000): see [`Checkpointer`].
///
/// Each time it triggers, the writer stops for its checkpoint's fsyncs of
/// the tail (10–25 ms on the test machine's disk) and every request waits.
/// Under load (~10 KB of WAL per event) 8000 pages (32 MiB) meant about
/// six stalls a second: with 256 connections the machine sat 6–7 % idle.
/// 16000 halves them (idle 4–5 %, 2–5 % more events/s measured in one
/// sitting, alternating); the WAL file is then at most ~64 MiB under
/// sustained load (and deleted on a clean shutdown).
const WRITER_AUTOCHECKPOINT_PAGES: u32 = 16000;

/// Runs WAL checkpoints on its own thread and connection.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses 1000
/// WAL pages, on the writer thread: that commit then waits for the pages to
/// be copied and, with `synchronous` `NORMAL` or `FULL`, for two fsyncs,
/// and every request of the batch waits with it. A `PASSIVE` checkpoint on
/// another connection does the copying beside the writer (WAL mode lets a
/// checkpoint run concurrently with a writer), so commits stay short.
///
/// A checkpoint that runs beside a busy writer never quite catches up, and
/// the WAL file only starts over once a checkpoint has caught up with its
/// end. So the writer keeps an automatic checkpoint with a higher
/// threshold ([`WRITER_AUTOCHECKPOINT_PAGES`], ~64 MiB): by the time it
/// triggers, the checkpointer has copied nearly everything, the writer's
/// checkpoint only finishes the tail, and the WAL restarts. The WAL stays
/// bounded under sustained load.
#[derive(Debug)]
struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database of `conn` and raises `conn`'s
    /// automatic checkpoint threshold. `None` (SQLite's default threshold
    /// stays) for an in-memory database or when the second connection
    /// cannot be opened.
    fn start(conn: &Connection, stats: Arc<WriterStats>) -> Option<Checkpointer> {
        let path = conn.path().filter(|p| !p.is_empty())?.to_owned();
        let synchronous: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .ok()?;
        let ckpt = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        // The checkpoint's fsyncs follow the writer's durability setting.
        ckpt.pragma_update(None, "synchronous", synchronous).ok()?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("receiver-ckpt".into())
            .spawn(move || {
                let mut seen = 0;
                // A WAL left by an earlier run may hold frames not yet
                // copied back: checked at the first pass.
                let mut progress = Progress::Short(None);
                let mut interval = CHECKPOINT_INTERVAL_IDLE;
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    let batches = stats.batches.load(Ordering::Relaxed);
                    let busy = batches != seen;
                    if !busy && progress == Progress::Done {
                        interval = CHECKPOINT_INTERVAL_IDLE;
                        continue;
                    }
                    seen = batches;
                    // Best effort: a failed checkpoint is retried later.
                    let before = progress;
                    progress = checkpoint_passive(&ckpt).unwrap_or(Progress::Short(None));
                    interval = if busy {
                        CHECKPOINT_INTERVAL_BUSY
                    } else if progress == before {
                        // Idle and nothing moved (a reader's snapshot holds
                        // the frames, or the file cannot be written): each
                        // pass still indexes the WAL, so wait longer.
                        (interval * 2).clamp(CHECKPOINT_INTERVAL_IDLE, CHECKPOINT_BACKOFF_MAX)
                    } else {
                        CHECKPOINT_INTERVAL_IDLE
                    };
                }
            })
            .ok()?;
        if conn
            .pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)
            .is_err()
        {
            // The writer keeps checkpointing every 1000 pages: still correct.
        }
        Some(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn shutdown(&mut self) {
        self.stop = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How far the checkpoints have copied the WAL back.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Progress {
    /// Every frame is in the database file (or the database is not in
    /// WAL mode).
    Done,
    /// Not yet: `(frames in the WAL, frames copied)` of the last pass,
    /// `None` when it failed.
    Short(Option<(i64, i64)>),
}

/// How long the checkpointer waits at most between idle passes that copy
/// nothing.
const CHECKPOINT_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Runs a `PASSIVE` checkpoint on `ckpt`: whether every frame of the WAL
/// is now in the database file.
///
/// Until then, each page a reader reads is first looked up in the WAL's
/// index (SQLite's `walFindFrame`); once all frames are copied back, a new
/// read transaction skips the WAL altogether. On a database of 300 000
/// events the monitors list took 95 instead of 78 ms with 14 652 frames
/// left in the WAL after a burst of writes. A checkpoint can fall short of
/// the end while a reader still reads an older snapshot, or while the
/// writer commits, so the checkpointer keeps trying while idle until one
/// reaches it (less often while none moves).
fn checkpoint_passive(ckpt: &Connection) -> rusqlite::Result<Progress> {
    // (busy, frames in the WAL, frames copied); -1, -1 outside WAL mode.
    let (busy, frames, copied): (i64, i64, i64) =
        ckpt.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    Ok(if busy == 0 && frames == copied {
        Progress::Done
    } else {
        Progress::Short(Some((frames, copied)))
    })
}

/// Counters of the writer thread, to observe group commit.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Transactions committed (or attempted).
    pub batches: AtomicU64,
    /// Jobs processed.
    pub jobs: AtomicU64,
    /// Nanoseconds the thread spent running batches and committing them.
    pub busy_nanos: AtomicU64,
}

impl WriterStats {
    /// The counters now.
    pub fn counts(&self) -> WriterCounts {
        WriterCounts {
            commits: self.batches.load(Ordering::Relaxed),
            jobs: self.jobs.load(Ordering::Relaxed),
            busy: Duration::from_nanos(self.busy_nanos.load(Ordering::Relaxed)),
        }
    }
}

/// What the writer has done since it started: [`Writer::counts`].
///
/// Fewer commits than jobs means group commit is at work; `busy` against
/// the time requests wait for their commit tells the writer's own work
/// from waiting for it to be scheduled, woken or free.
///
/// ```
/// use receiver::store::writer::WriterCounts;
///
/// let counts = WriterCounts { commits: 4, jobs: 10, busy: std::time::Duration::from_micros(200) };
/// assert_eq!(counts.jobs_per_commit(), 2.5);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterCounts {
    /// Transactions committed or attempted (one per batch).
    pub commits: u64,
    /// Jobs run in them: one per request that wrote, plus management
    /// writes (projects, keys, quotas, the dictionary, outcomes written
    /// after a 429, the API's changes).
    pub jobs: u64,
    /// Time spent running the jobs and committing, a rolled-back first
    /// attempt included.
    pub busy: Duration,
}

impl WriterCounts {
    /// Jobs per transaction; 0 before the first.
    pub fn jobs_per_commit(&self) -> f64 {
        if self.commits == 0 {
            0.0
        } else {
            self.jobs as f64 / self.commits as f64
        }
    }
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub fn start(conn: Connection, queue_capacity: usize, batching: Batching) -> Writer {
        let (tx, rx) = mpsc::sync_channel(queue_capacity.max(1));
        let stats = Arc::new(WriterStats::default());
        // The writer's hot statements and the management ones stay prepared.
        conn.set_prepared_statement_cache_capacity(64);
        let checkpointer = Checkpointer::start(&conn, stats.clone());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("receiver-writer".into())
            .spawn(move || run(conn, rx, &batching, &thread_stats));
        match thread {
            Ok(thread) => Writer {
                tx: Some(tx),
                thread: Some(thread),
                stats,
                checkpointer,
            },
            // Without a thread every write fails with WriterGone.
            Err(_) => Writer {
                tx: None,
                thread: None,
                stats,
                checkpointer,
            },
        }
    }

    /// What the writer has done so far.
    pub fn counts(&self) -> WriterCounts {
        self.stats.counts()
    }

    /// The counters themselves, readable without the writer's handle
    /// (which shutting down holds while the thread finishes).
    pub fn stats(&self) -> Arc<WriterStats> {
        self.stats.clone()
    }

    /// A sender to the writer's queue, while it runs.
    pub fn sender(&self) -> Option<SyncSender<Job>> {
        self.tx.clone()
    }

    /// Stops accepting jobs, lets the thread finish what is queued and
    /// joins it: [`Writer::stop`] then [`Stopping::join`].
    pub fn shutdown(&mut self) {
        self.stop().join();
    }

    /// Stops the checkpointer and drops this handle's sender, but does not
    /// wait for the writer thread: that is [`Stopping::join`].
    ///
    /// The thread ends once every sender is gone, including those of
    /// requests still waiting for their commit. A caller that keeps the
    /// writer behind a lock must release it before joining: a request
    /// that needs the lock to look for a sender could otherwise keep the
    /// runtime thread that another request needs to drop its own.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let conn = rusqlite::Connection::open(dir.path().join("db.sqlite")).unwrap();
    /// use receiver::store::writer::{Batching, Preparing, Writer};
    ///
    /// let batching = Batching {
    ///     max: 64,
    ///     gather_window: std::time::Duration::ZERO,
    ///     preparing: Preparing::default(),
    /// };
    /// let mut writer = Writer::start(conn, 16, batching);
    /// let stopping = writer.stop();
    /// assert!(writer.sender().is_none());
    /// stopping.join(); // returns once the thread has committed its queue
    /// ```
    pub fn stop(&mut self) -> Stopping {
        // First, so that the writer's last checkpoint runs alone.
        if let Some(checkpointer) = self.checkpointer.as_mut() {
            checkpointer.shutdown();
        }
        self.tx = None;
        Stopping {
            thread: self.thread.take(),
        }
    }
}

/// A writer told to stop by [`Writer::stop`], not yet finished.
#[derive(Debug)]
#[must_use = "`join` waits until the writer has committed its queue"]
pub struct Stopping {
    thread: Option<JoinHandle<()>>,
}

impl Stopping {
    /// Waits until the writer thread has committed every queued job and
    /// ended.
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Submits a job and waits for its commit, asynchronously: [`enqueue_to`]
/// then [`Pending::committed`].
pub async fn submit_to(
    tx: &SyncSender<Job>,
    op: WriteOp,
    wait: Duration,
) -> Result<WriteResult, StoreError> {
    enqueue_to(tx, op, wait, None).await?.committed().await
}

/// Puts a job in the writer's queue. When the queue is full it retries
/// until `wait` has passed, then fails with [`StoreError::QueueFull`] (the
/// HTTP layer answers 503).
///
/// `preparing`, if given, counts the request as being prepared until its
/// job is in the queue (see [`Preparing`]): dropped any earlier, the
/// writer could stop waiting for a job that is about to arrive.
///
/// Once this returns `Ok`, the job is committed (or fails) whether or not
/// anyone awaits the [`Pending`].
pub async fn enqueue_to(
    tx: &SyncSender<Job>,
    op: WriteOp,
    wait: Duration,
    mut preparing: Option<PreparingGuard>,
) -> Result<Pending, StoreError> {
    let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
    let mut job = Job {
        op,
        reply: Reply::Async(reply_tx),
    };
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tx.try_send(job) {
            Ok(()) => {
                drop(preparing);
                return Ok(Pending(reply_rx));
            }
            Err(TrySendError::Disconnected(_)) => return Err(StoreError::WriterGone),
            Err(TrySendError::Full(back)) => {
                // A full queue gives the writer batches enough.
                drop(preparing.take());
                if tokio::time::Instant::now() >= deadline {
                    return Err(StoreError::QueueFull);
                }
                job = back;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

/// A job in the writer's queue (see [`enqueue_to`]).
#[derive(Debug)]
pub struct Pending(tokio::sync::oneshot::Receiver<Result<WriteResult, StoreError>>);

impl Pending {
    /// Waits for the job's commit and returns its result. Once it has
    /// returned, the result is gone: a second call says
    /// [`StoreError::WriterGone`].
    pub async fn committed(&mut self) -> Result<WriteResult, StoreError> {
        if self.0.is_terminated() {
            return Err(StoreError::WriterGone);
        }
        (&mut self.0).await.map_err(|_| StoreError::WriterGone)?
    }
}

/// Submits a job and blocks until it is committed. Must not be called from
/// inside an async task.
pub fn submit_blocking_to(tx: &SyncSender<Job>, op: WriteOp) -> Result<WriteResult, StoreError> {
    let (reply_tx, reply_rx) = mpsc::channel();
    tx.send(Job {
        op,
        reply: Reply::Blocking(reply_tx),
    })
    .map_err(|_| StoreError::WriterGone)?;
    reply_rx.recv().map_err(|_| StoreError::WriterGone)?
}

fn run(mut conn: Connection, rx: Receiver<Job>, batching: &Batching, stats: &WriterStats) {
    let mut known = KnownRows::default();
    let batch_max = batching.max.max(1);
    // Jobs in the last batch: as many requests were in flight together.
    let mut previous = 0;
    while let Ok(first) = rx.recv() {
        let taken = Instant::now();
        let mut jobs = Vec::with_capacity(batch_max.min(GATHER_TARGET));
        jobs.push(first);
        drain(&rx, &mut jobs, batch_max);
        if previous >= GATHER_AFTER {
            gather(&rx, &mut jobs, batching, taken);
        }
        previous = jobs.len();
        let (ops, replies): (Vec<WriteOp>, Vec<Reply>) =
            jobs.into_iter().map(|j| (j.op, j.reply)).unzip();
        let started = Instant::now();
        // A full disk noted for an earlier batch says nothing of this one.
        super::wal_batch::take_disk_full();
        let results = commit_guarded(&mut conn, &ops, &mut known, commit_batch);
        let busy = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        stats.busy_nanos.fetch_add(busy, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.jobs.fetch_add(ops.len() as u64, Ordering::Relaxed);
        for (reply, result) in replies.into_iter().zip(results) {
            reply.send(result);
        }
    }
    // Best effort: fold the WAL back so the database file is self-contained.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);");
}

/// Waits for requests still being prepared, so that they share the commit
/// of `jobs` (whose first job was taken at `taken`): until the batch holds
/// [`GATHER_TARGET`] jobs, nothing is being prepared, or the gather window
/// has passed. For its first [`GATHER_WAKE_UNTIL`] jobs it wakes as each
/// arrives, so that a few concurrent clients are not kept waiting; past
/// that it looks at its queue every [`GATHER_STEP`], so that under load the
/// workers queue their jobs without waking it.
fn gather(rx: &Receiver<Job>, jobs: &mut Vec<Job>, batching: &Batching, taken: Instant) {
    let max = batching.max.max(1);
    let target = max.min(GATHER_TARGET);
    while jobs.len() < target && batching.preparing.count() > 0 {
        let left = batching.gather_window.saturating_sub(taken.elapsed());
        if left.is_zero() {
            return;
        }
        if jobs.len() < GATHER_WAKE_UNTIL {
            // Not longer than a step: an awaited request may be abandoned.
            match rx.recv_timeout(left.min(GATHER_STEP)) {
                Ok(job) => jobs.push(job),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            std::thread::sleep(left.min(GATHER_STEP));
        }
        if !drain(rx, jobs, max) {
            return;
        }
    }
}

/// Moves queued jobs into `jobs` until it holds `max` or the queue is
/// empty; `false` once no sender is left (nothing more can arrive).
fn drain(rx: &Receiver<Job>, jobs: &mut Vec<Job>, max: usize) -> bool {
    while jobs.len() < max {
        match rx.try_recv() {
            Ok(job) => jobs.push(job),
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Disconnected) => return false,
        }
    }
    true
}

/// The results of a batch: one per job, in order.
type BatchResults = Vec<Result<WriteResult, StoreError>>;

/// `commit` (normally [`commit_batch`]) surviving a panic in it, which is a
/// receiver bug: the batch is rolled back and each of its jobs fails, and
/// the thread goes on with the next batch. Without this the thread would
/// end, and every later write would fail until a restart.
fn commit_guarded(
    conn: &mut Connection,
    ops: &[WriteOp],
    known: &mut KnownRows,
    commit: impl FnOnce(&mut Connection, &[WriteOp], &mut KnownRows) -> BatchResults,
) -> BatchResults {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        commit(&mut *conn, ops, &mut *known)
    }));
    match outcome {
        Ok(results) => results,
        Err(_) => {
            // A transaction guard rolls back as the panic unwinds it; one
            // begun without a guard is still open.
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            known.forget();
            let detail = "the database writer panicked on this batch (a receiver bug); \
                          none of it was stored";
            ops.iter()
                .map(|_| Err(StoreError::Batch(detail.to_owned())))
                .collect()
        }
    }
}

/// Runs `ops` in one transaction and commits.
///
/// Jobs almost never fail, so the batch first runs without savepoints (a
/// savepoint copies every page a job touches into a sub-journal first,
/// which costs about a tenth of the writer's time). If a job does fail,
/// that attempt is rolled back whole and the batch runs again with one
/// savepoint per job, so only the failing job is lost.
///
/// Whatever is rolled back, `known` forgets everything: it may hold facts
/// noted by the work undone.
fn commit_batch(conn: &mut Connection, ops: &[WriteOp], known: &mut KnownRows) -> BatchResults {
    match commit_all_or_nothing(conn, ops, known) {
        Some(results) => results,
        None => {
            known.forget();
            commit_with_savepoints(conn, ops, known)
        }
    }
}

/// The fast path of [`commit_batch`]: `None` if a job failed (nothing was
/// committed then). A transaction that cannot begin fails every job at
/// once: the retry with savepoints would begin the same way, and wait the
/// whole busy timeout (10 s) a second time before the 503.
fn commit_all_or_nothing(
    conn: &mut Connection,
    ops: &[WriteOp],
    known: &mut KnownRows,
) -> Option<Vec<Result<WriteResult, StoreError>>> {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let e = StoreError::from(e);
            return Some(ops.iter().map(|_| Err(e.duplicate())).collect());
        }
    };
    known.sync(&tx);
    let mut results = Vec::with_capacity(ops.len());
    let mut work = BatchWork::default();
    for op in ops {
        // On error, dropping `tx` rolls the whole attempt back (and the
        // caller makes `known` forget).
        results.push(Ok(apply(&tx, &mut work, op, known).ok()?));
    }
    work.flush(&tx).ok()?;
    drop(work);
    Some(match tx.commit() {
        Ok(()) => results,
        Err(e) => {
            known.forget();
            let e = StoreError::from(e);
            ops.iter().map(|_| Err(e.duplicate())).collect()
        }
    })
}

/// Runs `ops` in one transaction, each in its own savepoint, and commits.
fn commit_with_savepoints(
    conn: &mut Connection,
    ops: &[WriteOp],
    known: &mut KnownRows,
) -> Vec<Result<WriteResult, StoreError>> {
    let fail_all = |e: &StoreError| ops.iter().map(|_| Err(e.duplicate())).collect();
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return fail_all(&StoreError::from(e)),
    };
    known.sync(&tx);
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let result = match tx.savepoint() {
            Ok(sp) => match apply_alone(&sp, op, known) {
                Ok(r) => sp.commit().map(|()| r).map_err(StoreError::from),
                Err(e) => Err(e), // dropping `sp` rolls back to it
            },
            Err(e) => Err(StoreError::from(e)),
        };
        if let Err(e) = &result {
            known.forget();
            // Some errors (I/O, a full disk, an interrupt) make SQLite roll
            // back the whole transaction, not only the savepoint: the jobs
            // before this one are undone, and the next savepoint would
            // begin a transaction of its own that commits without the
            // rest. The whole batch fails.
            if tx.is_autocommit() {
                return fail_all(e);
            }
        }
        results.push(result);
    }
    match tx.commit() {
        Ok(()) => results,
        Err(e) => {
            known.forget();
            fail_all(&StoreError::from(e))
        }
    }
}

/// [`apply`] with work of its own, flushed before it returns.
fn apply_alone(
    tx: &Connection,
    op: &WriteOp,
    known: &mut KnownRows,
) -> Result<WriteResult, StoreError> {
    let mut work = BatchWork::default();
    let result = apply(tx, &mut work, op, known)?;
    work.flush(tx)?;
    Ok(result)
}

fn apply<'c>(
    tx: &'c Connection,
    work: &mut BatchWork<'c>,
    op: &'c WriteOp,
    known: &mut KnownRows,
) -> Result<WriteResult, StoreError> {
    if !matches!(op, WriteOp::Ingest(_)) {
        // Anything but ingestion may read or change the issues counted so
        // far, and only ingestion keeps `known` true.
        work.flush(tx)?;
        work.forget_ids();
        known.forget();
    }
    match op {
        WriteOp::Ingest(batch) => {
            ingest_apply::apply_batch(tx, work, batch, known).map(WriteResult::Ingested)
        }
        WriteOp::CreateProject { id, name } => {
            create_project(tx, *id, name).map(WriteResult::Project)
        }
        WriteOp::CreateKey {
            project_id,
            public_key,
            label,
        } => create_key(tx, *project_id, public_key.as_deref(), label.as_deref())
            .map(WriteResult::Key),
        WriteOp::UpdateProject {
            project_id,
            enabled,
            allowed_origins,
        } => update_project(tx, *project_id, *enabled, allowed_origins.as_deref())
            .map(|()| WriteResult::Done),
        WriteOp::SetKeyEnabled {
            public_key,
            enabled,
        } => {
            let n = tx.execute(
                "UPDATE keys SET enabled = ?2 WHERE public_key = ?1",
                params![public_key, enabled],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("key {public_key}")));
            }
            Ok(WriteResult::Done)
        }
        WriteOp::AddQuota(new) => super::quotas::insert(tx, new).map(WriteResult::Quota),
        WriteOp::RemoveQuota { id } => super::quotas::delete(tx, *id).map(|()| WriteResult::Done),
        WriteOp::SetIssueStatus {
            issue_id,
            status,
            release,
        } => {
            set_issue_status(tx, *issue_id, *status, release.as_deref()).map(|()| WriteResult::Done)
        }
        WriteOp::MonitorClock { since, now } => {
            super::monitor_incidents::clock(tx, work, known, *since, *now)
                .map(WriteResult::MonitorFailures)
        }
        WriteOp::Prune { cutoff, limit } => {
            super::retention::prune_step(tx, *cutoff, *limit).map(WriteResult::Pruned)
        }
        WriteOp::SaveDictionary {
            dictionary,
            samples,
        } => {
            // One dictionary per database: if another process on the same
            // file stored one first, that one is used.
            let existing: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT dict FROM compression_dicts ORDER BY id DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(bytes) = existing {
                return Ok(WriteResult::Dictionary(Arc::new(Dictionary::new(bytes))));
            }
            tx.prepare_cached(
                "INSERT INTO compression_dicts (digest, created, samples, dict)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                format!("{:016x}", dictionary.digest()),
                now_secs(),
                *samples as i64,
                dictionary.bytes()
            ])?;
            Ok(WriteResult::Dictionary(dictionary.clone()))
        }
    }
}

/// Creates a project. Used by the writer and by [`super::Store::open`].
pub(crate) fn create_project(
    conn: &Connection,
    id: Option<i64>,
    name: &str,
) -> Result<ProjectInfo, StoreError> {
    if let Some(id) = id {
        if id <= 0 {
            return Err(StoreError::Invalid(format!(
                "project id must be positive, got {id}"
            )));
        }
        let exists: Option<i64> = conn
            .query_row("SELECT id FROM projects WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::Invalid(format!("project {id} already exists")));
        }
    }
    let created = now_secs();
    conn.execute(
        "INSERT INTO projects (id, name, created) VALUES (?1, ?2, ?3)",
        params![id, name, created],
    )?;
    let id = conn.last_insert_rowid();
    Ok(ProjectInfo {
        id,
        name: name.to_owned(),
        enabled: true,
    })
}

/// Creates a key. Used by the writer and by [`super::Store::open`].
pub(crate) fn create_key(
    conn: &Connection,
    project_id: i64,
    public_key: Option<&str>,
    label: Option<&str>,
) -> Result<KeyInfo, StoreError> {
    let exists: Option<i64> = conn
        .query_row("SELECT id FROM projects WHERE id = ?1", [project_id], |r| {
            r.get(0)
        })
        .optional()?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("project {project_id}")));
    }
    let key = match public_key {
        Some(k) => {
            if k.len() != 32 || !k.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(StoreError::Invalid(format!(
                    "a public key must be 32 letters or digits, got {k:?}"
                )));
            }
            k.to_owned()
        }
        None => super::generate_key(),
    };
    let taken: Option<i64> = conn
        .query_row("SELECT id FROM keys WHERE public_key = ?1", [&key], |r| {
            r.get(0)
        })
        .optional()?;
    if taken.is_some() {
        return Err(StoreError::Invalid(format!("key {key} already exists")));
    }
    conn.execute(
        "INSERT INTO keys (project_id, public_key, label, created) VALUES (?1, ?2, ?3, ?4)",
        params![project_id, key, label, now_secs()],
    )?;
    Ok(KeyInfo {
        id: conn.last_insert_rowid(),
        project_id,
        public_key: key,
        label: label.map(str::to_owned),
        enabled: true,
        project_enabled: true,
        allowed_origins: conn.query_row(
            "SELECT allowed_origins FROM projects WHERE id = ?1",
            [project_id],
            |r| r.get(0),
        )?,
    })
}

fn update_project(
    conn: &Connection,
    project_id: i64,
    enabled: Option<bool>,
    allowed_origins: Option<&str>,
) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE projects SET enabled = COALESCE(?2, enabled),
             allowed_origins = COALESCE(?3, allowed_origins)
         WHERE id = ?1",
        params![project_id, enabled, allowed_origins],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("project {project_id}")));
    }
    Ok(())
}

fn set_issue_status(
    conn: &Connection,
    issue_id: i64,
    status: IssueStatus,
    release: Option<&str>,
) -> Result<(), StoreError> {
    if status == IssueStatus::ResolvedInRelease && release.is_none() {
        return Err(StoreError::Invalid(
            "resolving in a release needs the release".to_owned(),
        ));
    }
    let resolved = matches!(
        status,
        IssueStatus::Resolved | IssueStatus::ResolvedInRelease
    );
    let changed = conn.execute(
        "UPDATE issues SET status = ?2, resolved_release = ?3, resolved_at = ?4,
             substatus = CASE WHEN ?2 = 'unresolved' THEN 'ongoing' ELSE NULL END,
             resolved_in_next = 0
         WHERE id = ?1",
        params![
            issue_id,
            status.as_str(),
            if status == IssueStatus::ResolvedInRelease {
                release
            } else {
                None
            },
            if resolved { Some(now_secs()) } else { None },
        ],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("issue {issue_id}")));
    }
    conn.execute(
        "INSERT INTO issue_activity (issue_id, kind, data, created) VALUES (?1, ?2, ?3, ?4)",
        params![
            issue_id,
            format!("set_{}", status.as_str()),
            release,
            now_secs()
        ],
    )?;
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::store::schema;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("db.sqlite")).expect("open");
        schema::configure(&conn, false).expect("configure");
        schema::migrate(&mut conn).expect("migrate");
        (dir, conn)
    }

    fn batching(max: usize) -> Batching {
        Batching {
            max,
            gather_window: Duration::ZERO,
            preparing: Preparing::default(),
        }
    }

    /// The one integer `sql` selects.
    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).expect(sql)
    }

    /// Creates project `id`, named `p{id}`.
    pub(in crate::store) fn project(id: i64) -> WriteOp {
        WriteOp::CreateProject {
            id: Some(id),
            name: format!("p{id}"),
        }
    }

    /// `(mxFrame, nBackfill)` of the WAL index in the `-shm` file of the
    /// database at `db`: the WAL's last valid frame, and how many frames a
    /// checkpoint has copied into the database file (SQLite's documented
    /// layout: two 48-byte copies of the header, then the checkpoint info;
    /// native byte order).
    fn wal_frames(db: &std::path::Path) -> (u32, u32) {
        let mut shm = db.as_os_str().to_owned();
        shm.push("-shm");
        let bytes = std::fs::read(&shm).expect("read the -shm file");
        let word = |at: usize| {
            let four: [u8; 4] = bytes[at..at + 4].try_into().expect("4 bytes");
            u32::from_ne_bytes(four)
        };
        (word(16), word(96))
    }

    #[test]
    fn an_idle_writers_wal_is_copied_back_even_after_a_reader_held_it() {
        let (dir, conn) = db();
        let path = dir.path().join("db.sqlite");
        let mut writer = Writer::start(conn, 16, batching(16));
        let sender = writer.sender().expect("sender");
        let write = |op| {
            let (reply, replied) = mpsc::channel();
            sender
                .send(Job {
                    op,
                    reply: Reply::Blocking(reply),
                })
                .expect("queue");
            replied.recv().expect("reply").expect("committed");
        };
        write(project(1));
        // A reader's snapshot keeps checkpoints from copying frames
        // committed after it, while the writer is busy and after.
        let reader = Connection::open(&path).expect("open");
        reader
            .execute_batch("BEGIN; SELECT COUNT(*) FROM projects;")
            .expect("snapshot");
        for id in 2..=20 {
            write(project(id));
        }
        // Long enough for the checkpointer's passes after the last commit.
        std::thread::sleep(Duration::from_millis(200));
        let (frames, copied) = wal_frames(&path);
        assert!(
            copied < frames,
            "the reader held frames back: {copied} of {frames}"
        );
        reader.execute_batch("COMMIT").expect("end the snapshot");
        let deadline = Instant::now() + Duration::from_secs(5);
        let (mut frames, mut copied) = wal_frames(&path);
        while copied != frames && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            (frames, copied) = wal_frames(&path);
        }
        assert_eq!(copied, frames, "every frame copied back while idle");
        assert!(frames > 0, "the WAL was not started over by someone else");
        drop(sender);
        writer.stop().join();
    }

    #[test]
    fn queued_jobs_share_one_commit_and_a_failing_job_only_rolls_back_itself() {
        let (_dir, conn) = db();
        let (tx, rx) = mpsc::sync_channel(16);
        let mut replies = Vec::new();
        // Project 2 twice: the second fails inside the same batch.
        for op in [project(1), project(2), project(2), project(3)] {
            let (reply_tx, reply_rx) = mpsc::channel();
            tx.send(Job {
                op,
                reply: Reply::Blocking(reply_tx),
            })
            .expect("queue");
            replies.push(reply_rx);
        }
        drop(tx);
        let stats = WriterStats::default();
        run(conn, rx, &batching(256), &stats);
        assert_eq!(stats.batches.load(Ordering::Relaxed), 1);
        assert_eq!(stats.jobs.load(Ordering::Relaxed), 4);
        let results: Vec<bool> = replies
            .iter()
            .map(|r| r.recv().expect("reply").is_ok())
            .collect();
        assert_eq!(results, [true, true, false, true]);
    }

    const HASH: &str = "0123456789abcdef0123456789abcdef";

    /// One event of issue `HASH`, release `app@1`, environment `prod` and
    /// user `id:1`.
    fn event(n: u32) -> WriteOp {
        WriteOp::Ingest(IngestBatch {
            project_id: 1,
            received: 1.0,
            records: vec![event_record(n, HASH)],
            item_counts: Vec::new(),
        })
    }

    fn event_record(n: u32, hash: &str) -> crate::store::Record {
        let grouping = crate::store::Grouping {
            hashes: vec![crate::store::HashRecord {
                hash: hash.into(),
                variant: "app".into(),
                component: "exception".into(),
                inputs: crate::store::compress_inputs(&["E".to_owned()]).expect("inputs"),
            }],
            title: "E".into(),
            culprit: None,
            level: "error".into(),
            metadata: None,
            explanation: Vec::new(),
        };
        let event = crate::store::EventRecord {
            event_id: format!("{n:032x}"),
            kind: "error".into(),
            timestamp: f64::from(n),
            release: Some("app@1".into()),
            environment: Some("prod".into()),
            level: "error".into(),
            title: "E".into(),
            platform: None,
            trace_id: None,
            user_key: Some("id:1".into()),
            payload: Vec::new(),
            grouping,
            attachments: Vec::new(),
        };
        crate::store::Record::Event(Box::new(event))
    }

    /// A job that fails inside the ingestion path: its event would open an
    /// issue in a project that does not exist (a foreign key).
    fn failing_ingest() -> WriteOp {
        let mut op = event(99);
        if let WriteOp::Ingest(batch) = &mut op {
            batch.project_id = 42;
        }
        op
    }

    /// (issues, times_seen, user_count, issue_users, issue_facets,
    /// group_hashes, releases) rows and sums.
    fn issue_rows(conn: &Connection) -> [i64; 7] {
        conn.query_row(
            "SELECT (SELECT count(*) FROM issues), (SELECT sum(times_seen) FROM issues),
                 (SELECT sum(user_count) FROM issues), (SELECT count(*) FROM issue_users),
                 (SELECT count(*) FROM issue_facets), (SELECT count(*) FROM group_hashes),
                 (SELECT count(*) FROM releases)",
            [],
            |r| {
                let (a, b, c, d, e, f, g) = r.try_into()?;
                Ok([a, b, c, d, e, f, g])
            },
        )
        .expect("rows")
    }

    #[test]
    fn a_batch_that_cannot_begin_fails_after_one_wait() {
        use std::sync::atomic::AtomicUsize;
        static WAITS: AtomicUsize = AtomicUsize::new(0);
        fn give_up(_attempt: i32) -> bool {
            WAITS.fetch_add(1, Ordering::SeqCst);
            false
        }
        let (dir, mut conn) = db();
        let blocker = Connection::open(dir.path().join("db.sqlite")).expect("second connection");
        blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
        // Each wait for the lock (the busy timeout, 10 s in the receiver)
        // calls the handler once.
        conn.busy_handler(Some(give_up)).expect("handler");
        let mut known = KnownRows::default();
        let results = commit_batch(&mut conn, &[project(1), project(2)], &mut known);
        assert!(results.iter().all(Result::is_err), "{results:?}");
        assert_eq!(
            WAITS.load(Ordering::SeqCst),
            1,
            "the lock was waited for twice"
        );
        blocker.execute_batch("ROLLBACK").expect("unlock");
        let results = commit_batch(&mut conn, &[project(1)], &mut known);
        assert!(results[0].is_ok(), "{results:?}");
    }

    #[test]
    fn a_batch_that_panics_is_rolled_back_and_the_writer_goes_on() {
        let (_dir, mut conn) = db();
        let mut known = KnownRows::default();
        let ops = [project(1), project(2)];
        let results = commit_guarded(&mut conn, &ops, &mut known, |conn, ops, known| {
            // A transaction without a guard: only the cleanup can end it.
            conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
            apply_alone(conn, &ops[0], known).expect("first job");
            panic!("a bug in the middle of a batch");
        });
        let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
        assert_eq!(ok, [false, false]);
        assert!(
            conn.is_autocommit(),
            "the batch's transaction is still open"
        );
        assert_eq!(
            count(&conn, "SELECT count(*) FROM projects WHERE id IN (1, 2)"),
            0
        );
        let next = commit_guarded(&mut conn, &[project(3)], &mut known, commit_batch);
        assert!(next[0].is_ok(), "{next:?}");
    }

    #[test]
    fn an_error_that_ends_the_transaction_fails_the_whole_batch() {
        let (_dir, mut conn) = db();
        // `RAISE(ROLLBACK)` ends the whole transaction, as an I/O error or
        // a full disk can, not only the statement or its savepoint.
        conn.execute_batch(
            "CREATE TRIGGER ends_transaction BEFORE INSERT ON projects
             WHEN NEW.id = 11 BEGIN SELECT RAISE(ROLLBACK, 'gone'); END;",
        )
        .expect("trigger");
        let mut known = KnownRows::default();
        let results = commit_batch(
            &mut conn,
            &[project(10), project(11), project(12)],
            &mut known,
        );
        let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
        assert_eq!(ok, [false, false, false]);
        // Answered as failed, so none may be stored: not the one before
        // (undone with the transaction), nor the one after (which would
        // have run in a transaction of its own).
        assert_eq!(
            count(&conn, "SELECT count(*) FROM projects WHERE id >= 10"),
            0
        );
        // The next batch gets a transaction of its own again.
        let next = commit_batch(&mut conn, &[project(13)], &mut known);
        assert!(next[0].is_ok());
    }

    #[test]
    fn facts_noted_by_a_rolled_back_attempt_are_forgotten() {
        let (_dir, mut conn) = db();
        let mut known = KnownRows::default();
        commit_batch(&mut conn, &[project(1)], &mut known);
        // The first attempt notes the issue, user, facets and release, then
        // rolls back at the failing job; the retry must insert them again.
        let results = commit_batch(
            &mut conn,
            &[event(1), failing_ingest(), event(2)],
            &mut known,
        );
        let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
        assert_eq!(ok, [true, false, true]);
        assert_eq!(issue_rows(&conn), [1, 2, 1, 1, 2, 1, 1]);
        let kind: String = conn
            .query_row("SELECT kind FROM issues", [], |r| r.get(0))
            .expect("kind");
        assert_eq!(kind, "error");
    }

    #[test]
    fn facts_noted_by_a_job_rolled_back_to_its_savepoint_are_forgotten() {
        let (dir, mut conn) = db();
        let mut known = KnownRows::default();
        commit_batch(&mut conn, &[project(1)], &mut known);
        // A hash whose owner is missing: counting an event into it fails.
        let other = Connection::open(dir.path().join("db.sqlite")).expect("open");
        other
            .execute_batch(
                "PRAGMA foreign_keys = OFF;
                 INSERT INTO group_hashes (project_id, hash, issue_id, variant, component, inputs)
                 VALUES (1, 'ffffffffffffffffffffffffffffffff', 999, 'app', 'exception', '[]');",
            )
            .expect("orphan hash");
        // The first job opens the issue (noting its facts) and then fails;
        // the second must not trust what the first noted.
        let failing = WriteOp::Ingest(IngestBatch {
            project_id: 1,
            received: 1.0,
            records: vec![
                event_record(1, HASH),
                event_record(2, "ffffffffffffffffffffffffffffffff"),
            ],
            item_counts: Vec::new(),
        });
        let results = commit_batch(&mut conn, &[failing, event(3)], &mut known);
        let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
        assert_eq!(ok, [false, true], "{results:?}");
        assert_eq!(issue_rows(&conn), [1, 1, 1, 1, 2, 2, 1]);
    }

    /// Event `n` of issue `HASH` at time `at`, titled `title`, of `release`.
    fn event_at(n: u32, at: f64, title: &str, release: Option<&str>) -> crate::store::Record {
        let mut record = event_record(n, HASH);
        if let crate::store::Record::Event(e) = &mut record {
            e.timestamp = at;
            e.grouping.title = title.into();
            e.release = release.map(Into::into);
        }
        record
    }

    fn ingest(records: Vec<crate::store::Record>) -> WriteOp {
        WriteOp::Ingest(IngestBatch {
            project_id: 1,
            received: 1.0,
            records,
            item_counts: Vec::new(),
        })
    }

    /// (times_seen, first_seen, last_seen, title, last_release, status,
    /// substatus) of the only issue.
    fn issue(conn: &Connection) -> (i64, f64, f64, String, Option<String>, String, String) {
        conn.query_row(
            "SELECT times_seen, first_seen, last_seen, title, last_release, status, substatus
             FROM issues",
            [],
            |r| r.try_into(),
        )
        .expect("issue")
    }

    #[test]
    fn events_of_an_open_issue_counted_together_count_as_one_by_one() {
        let events = || {
            [
                event_at(2, 3.0, "B", Some("app@2")),
                event_at(3, 9.0, "C", None),
                event_at(4, 7.0, "D", Some("app@3")),
                event_at(5, 1.0, "E", None),
            ]
        };
        let first = || ingest(vec![event_at(1, 5.0, "A", Some("app@1"))]);
        // The writer counts events of an issue it knows is open once per
        // batch (two jobs here), ...
        let (_dir, mut together) = db();
        let mut known = KnownRows::default();
        commit_batch(&mut together, &[project(1), first()], &mut known);
        let [b, c, d, e] = events();
        let jobs = [ingest(vec![b, c]), ingest(vec![d, e])];
        assert!(commit_batch(&mut together, &jobs, &mut known)
            .iter()
            .all(Result::is_ok));
        // ... which must leave the issue as counting them one at a time.
        let (_dir2, mut alone) = db();
        let mut known = KnownRows::default();
        commit_batch(&mut alone, &[project(1), first()], &mut known);
        for record in events() {
            known.forget();
            assert!(commit_batch(&mut alone, &[ingest(vec![record])], &mut known)[0].is_ok());
        }
        let expected = (
            5,
            1.0,
            9.0,
            "E".to_owned(),
            Some("app@3".to_owned()),
            "unresolved".to_owned(),
            "ongoing".to_owned(),
        );
        assert_eq!(issue(&alone), expected);
        assert_eq!(issue(&together), expected);
    }

    #[test]
    fn item_counts_of_a_batch_add_up_and_a_failed_jobs_do_not() {
        let (_dir, mut conn) = db();
        let mut known = KnownRows::default();
        commit_batch(&mut conn, &[project(1)], &mut known);
        let counted = |n: u32, counts: &[(&str, u64)]| {
            let mut op = event(n);
            if let WriteOp::Ingest(batch) = &mut op {
                batch.item_counts = counts.iter().map(|(t, n)| ((*t).into(), *n)).collect();
            }
            op
        };
        let mut failing = failing_ingest();
        if let WriteOp::Ingest(batch) = &mut failing {
            batch.item_counts = vec![("event".into(), 100)];
        }
        let jobs = [
            counted(1, &[("event", 1)]),
            failing,
            counted(2, &[("event", 2), ("weird", 1)]),
        ];
        let ok: Vec<bool> = commit_batch(&mut conn, &jobs, &mut known)
            .iter()
            .map(Result::is_ok)
            .collect();
        assert_eq!(ok, [true, false, true]);
        commit_batch(&mut conn, &[counted(3, &[("event", 4)])], &mut known);
        let rows: Vec<(String, i64)> = conn
            .prepare("SELECT item_type, count FROM item_counts ORDER BY item_type")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()
            })
            .expect("item counts");
        assert_eq!(rows, [("event".to_owned(), 7), ("weird".to_owned(), 1)]);
    }

    #[test]
    fn an_issue_resolved_within_a_batch_regresses_on_its_next_event() {
        let (_dir, mut conn) = db();
        let mut known = KnownRows::default();
        commit_batch(&mut conn, &[project(1), event(1)], &mut known);
        let resolve = WriteOp::SetIssueStatus {
            issue_id: 1,
            status: IssueStatus::Resolved,
            release: None,
        };
        // The first event is counted with the batch's others; the status
        // change must see it counted, and the last event must regress the
        // issue.
        let results = commit_batch(&mut conn, &[event(2), resolve, event(3)], &mut known);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let (times_seen, .., status, substatus) = issue(&conn);
        assert_eq!((times_seen, status.as_str()), (3, "unresolved"));
        assert_eq!(substatus, "regressed");
        let regressions: i64 = conn
            .query_row(
                "SELECT count(*) FROM issue_activity WHERE kind = 'regression'",
                [],
                |r| r.get(0),
            )
            .expect("activity");
        assert_eq!(regressions, 1);
    }

    #[test]
    fn another_connections_deletes_are_noticed() {
        let (dir, mut conn) = db();
        let mut known = KnownRows::default();
        commit_batch(&mut conn, &[project(1), event(1)], &mut known);
        assert_eq!(issue_rows(&conn), [1, 1, 1, 1, 2, 1, 1]);
        let other = Connection::open(dir.path().join("db.sqlite")).expect("open");
        // Rows whose absence no statement would notice: only forgetting
        // what was known puts them back.
        other
            .execute_batch(
                "DELETE FROM issue_users; UPDATE issues SET user_count = 0;
                 DELETE FROM issue_facets; DELETE FROM releases;",
            )
            .expect("delete");
        let results = commit_batch(&mut conn, &[event(2)], &mut known);
        assert!(results[0].is_ok(), "{results:?}");
        assert_eq!(issue_rows(&conn), [1, 2, 1, 1, 2, 1, 1]);
        // As the API deletes an issue.
        other
            .execute_batch(
                "DELETE FROM events; DELETE FROM group_hashes; DELETE FROM issue_users;
                 DELETE FROM issue_facets; DELETE FROM issues;",
            )
            .expect("delete");
        let results = commit_batch(&mut conn, &[event(3)], &mut known);
        assert!(results[0].is_ok(), "{results:?}");
        assert_eq!(
            issue_rows(&conn),
            [1, 1, 1, 1, 2, 1, 1],
            "a new issue with its user, facets and hash"
        );
    }

    #[test]
    fn batches_are_capped() {
        let (_dir, conn) = db();
        let (tx, rx) = mpsc::sync_channel(16);
        for id in 1..=5 {
            let (reply_tx, _reply_rx) = mpsc::channel();
            tx.send(Job {
                op: project(id),
                reply: Reply::Blocking(reply_tx),
            })
            .expect("queue");
        }
        drop(tx);
        let stats = WriterStats::default();
        run(conn, rx, &batching(2), &stats);
        assert_eq!(stats.batches.load(Ordering::Relaxed), 3);
        assert_eq!(stats.jobs.load(Ordering::Relaxed), 5);
    }

    /// A writer thread that may gather for up to a minute, so that only
    /// the `Preparing` count decides how long it waits. It starts after
    /// `first_batch` jobs were queued, so its first batch holds them all (as
    /// when that many clients are in flight at once).
    struct Gathering {
        _dir: tempfile::TempDir,
        tx: Option<SyncSender<Job>>,
        stats: Arc<WriterStats>,
        thread: Option<JoinHandle<()>>,
        preparing: Preparing,
    }

    impl Gathering {
        fn start(first_batch: usize) -> Gathering {
            let (dir, conn) = db();
            let (tx, rx) = mpsc::sync_channel(256);
            let replies: Vec<_> = (0..first_batch)
                .map(|i| {
                    let (reply_tx, reply_rx) = mpsc::channel();
                    tx.send(Job {
                        op: project(100 + i as i64),
                        reply: Reply::Blocking(reply_tx),
                    })
                    .expect("queue");
                    reply_rx
                })
                .collect();
            let preparing = Preparing::default();
            let batching = Batching {
                max: 256,
                gather_window: Duration::from_secs(60),
                preparing: preparing.clone(),
            };
            let stats = Arc::new(WriterStats::default());
            let thread_stats = stats.clone();
            let thread = std::thread::spawn(move || run(conn, rx, &batching, &thread_stats));
            for reply in replies {
                assert!(reply.recv().expect("reply").is_ok());
            }
            let gathering = Gathering {
                _dir: dir,
                tx: Some(tx),
                stats,
                thread: Some(thread),
                preparing,
            };
            if first_batch > 0 {
                assert_eq!(gathering.stats(), (1, first_batch as u64));
            }
            gathering
        }

        fn stats(&self) -> (u64, u64) {
            (
                self.stats.batches.load(Ordering::Relaxed),
                self.stats.jobs.load(Ordering::Relaxed),
            )
        }

        /// Submits `op` on another thread once `guard` is dropped.
        fn submit(
            &self,
            op: WriteOp,
            guard: Option<PreparingGuard>,
        ) -> JoinHandle<Result<WriteResult, StoreError>> {
            let tx = self.tx.clone().expect("running");
            std::thread::spawn(move || {
                let (reply_tx, reply_rx) = mpsc::channel();
                tx.send(Job {
                    op,
                    reply: Reply::Blocking(reply_tx),
                })
                .map_err(|_| StoreError::WriterGone)?;
                drop(guard); // queued: no longer being prepared
                reply_rx.recv().map_err(|_| StoreError::WriterGone)?
            })
        }
    }

    impl Gathering {
        /// Submits `op`, runs `meanwhile`, and checks that the job was
        /// committed long before the minute-long window ran out.
        fn commits_without_the_window(&self, op: WriteOp, meanwhile: impl FnOnce()) {
            let started = Instant::now();
            let job = self.submit(op, None);
            meanwhile();
            assert!(job.join().expect("thread").is_ok());
            assert!(started.elapsed() < Duration::from_secs(30));
        }
    }

    impl Drop for Gathering {
        fn drop(&mut self) {
            self.tx = None;
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    #[test]
    fn under_load_the_writer_waits_for_requests_being_prepared() {
        let writer = Gathering::start(GATHER_AFTER);
        let first = writer.preparing.enter();
        let second = writer.preparing.enter();
        let one = writer.submit(project(1), Some(first));
        // The first job waits while the second request is still prepared.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(writer.stats(), (1, 16), "nothing committed yet");
        let two = writer.submit(project(2), Some(second));
        assert!(one.join().expect("thread").is_ok());
        assert!(two.join().expect("thread").is_ok());
        assert_eq!(writer.stats(), (2, 18), "one commit for both");
    }

    #[test]
    fn with_few_clients_the_writer_does_not_gather() {
        let writer = Gathering::start(GATHER_AFTER - 1);
        // Another request is being prepared, but no batch so far was large:
        // the job is committed without waiting the minute for it.
        let _other = writer.preparing.enter();
        writer.commits_without_the_window(project(1), || {});
        assert_eq!(writer.stats(), (2, 16));
    }

    #[test]
    fn a_lone_request_is_committed_without_waiting() {
        let writer = Gathering::start(GATHER_AFTER);
        // Nothing else is being prepared.
        writer.commits_without_the_window(project(1), || {});
        assert_eq!(writer.stats(), (2, 17));
    }

    #[test]
    fn a_request_abandoned_while_prepared_is_not_awaited() {
        let writer = Gathering::start(GATHER_AFTER);
        let other = writer.preparing.enter();
        writer.commits_without_the_window(project(1), || {
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(writer.stats(), (1, 16), "held for the other request");
            // The other request fails (a 400, a client gone): never queued.
            drop(other);
        });
        assert_eq!(writer.stats(), (2, 17));
    }
}
