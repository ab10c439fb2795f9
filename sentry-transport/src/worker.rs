//! The background worker: one OS thread running a current-thread tokio
//! runtime.
//!
//! Why a thread of its own: the application needs no async runtime, a
//! blocking [`flush`](crate::HttpTransport::flush) called from inside the
//! application's runtime cannot deadlock (the worker never needs the caller's
//! threads), and the cost of capturing is one bounded-channel `try_send`.
//!
//! Data flow:
//!
//! ```text
//!  send_envelope ──rate-limit filter──┬─ sessions / client reports ─▶ batch buffer (≤100 items)
//!  (app thread, never waits)          └─ everything else ───────────▶ bounded queue (max_queue_size)
//!                                                                           │
//!  worker loop: ≤ max_in_flight requests at once ◀─────────────────────────┘
//!     batch buffer + discard counts ─▶ one envelope every batch interval, on flush and at shutdown
//!     request ─▶ 2xx done · 429 done (server counted; a client report's counts go back) · 4xx send_error · 5xx/network ─▶ retry with backoff
//!                                                          retries exhausted ─▶ spool (if enabled) or network_error
//!  spool drain: at start, on a timer and after any success, oldest file first
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, RwLock};
use sentry_core::envelope::{Envelope, EnvelopeItem, ItemPayload, ItemType};
use sentry_core::protocol::{ClientReport, DataCategory, DiscardReason, Timestamp};
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};
use tokio::task::JoinSet;

use crate::client_report::{category_of, report_item, reports_in, DiscardCounter};
use crate::http::{encode_body, Body, Endpoint};
use crate::ratelimit::{parse_retry_after, RateLimiter};
use crate::retry::{RetryPolicy, Verdict};
use crate::spool::{Spool, SpoolReadError};

/// At most this many session / client-report items go into one batch
/// envelope (Relay accepts ≤100 session items per envelope).
pub(crate) const MAX_BATCH_ITEMS: usize = 100;

/// At most this much of a response body is read (then the body is dropped).
const MAX_RESPONSE_BODY: usize = 64 * 1024;

macro_rules! debug_log {
    ($shared:expr, $($arg:tt)*) => {
        if $shared.config.debug {
            eprintln!("[sentry-transport] {}", format_args!($($arg)*));
        }
    };
}

/// Settings the worker needs (resolved from the builder).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) endpoint: Endpoint,
    pub(crate) gzip_threshold: Option<usize>,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_in_flight: usize,
    pub(crate) batch_interval: Duration,
    pub(crate) client_reports: bool,
    pub(crate) spool_retry_interval: Duration,
    pub(crate) debug: bool,
}

/// Units of work not yet finished (queued envelopes, batched items, reports
/// and flush tokens), by generation, with blocking and async waits.
///
/// Work joins the current generation; a flush closes it (see
/// [`close_generation`](Self::close_generation)) and waits only until every
/// generation up to its own is finished. Work queued after the flush began
/// is not waited for: under steady traffic a flush (the panic hook's, for
/// one) still returns once what came before it is delivered.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    state: Mutex<Generations>,
    cv: Condvar,
    notify: Notify,
}

#[derive(Debug, Default)]
struct Generations {
    /// The generation that new work joins.
    current: u64,
    /// Unfinished units per generation (no zero entries).
    open: BTreeMap<u64, u64>,
    /// The sum of `open`.
    total: u64,
}

impl Generations {
    fn add(&mut self, generation: u64, n: u64) {
        if n > 0 {
            *self.open.entry(generation).or_insert(0) += n;
            self.total += n;
        }
    }

    /// Whether every unit of `generation` and older ones is finished.
    fn done_through(&self, generation: u64) -> bool {
        self.open
            .keys()
            .next()
            .map_or(true, |&oldest| oldest > generation)
    }
}

impl Pending {
    /// Adds `n` units to the current generation and returns it.
    pub(crate) fn add(&self, n: u64) -> u64 {
        let mut state = self.state.lock();
        let generation = state.current;
        state.add(generation, n);
        generation
    }

    /// Adds `n` units to `generation`. Safe for an older generation as long
    /// as the caller holds a unit of it (a flush token): until then no
    /// waiter on it or a newer one has been released.
    pub(crate) fn add_to(&self, generation: u64, n: u64) {
        self.state.lock().add(generation, n);
    }

    /// Adds a flush token to the current generation, closes it and returns
    /// it: the flush waits for that generation and the older ones.
    pub(crate) fn close_generation(&self) -> u64 {
        let mut state = self.state.lock();
        let generation = state.current;
        state.add(generation, 1);
        state.current += 1;
        generation
    }

    /// Marks `n` units of `generation` finished (never below zero).
    pub(crate) fn sub(&self, generation: u64, n: u64) {
        if n == 0 {
            return;
        }
        let mut state = self.state.lock();
        let Some(open) = state.open.get_mut(&generation) else {
            return;
        };
        let taken = n.min(*open);
        *open -= taken;
        let emptied = *open == 0;
        if emptied {
            state.open.remove(&generation);
        }
        state.total -= taken;
        if emptied {
            // Under the lock, so a waiter between its check and its wait
            // cannot miss this wake-up.
            self.cv.notify_all();
            self.notify.notify_waiters();
        }
    }

    /// Marks all of `units` finished.
    pub(crate) fn release(&self, units: &Units) {
        for &(generation, n) in &units.0 {
            self.sub(generation, n);
        }
    }

    /// All unfinished units, whatever their generation.
    pub(crate) fn get(&self) -> u64 {
        self.state.lock().total
    }

    /// Blocks the calling thread until every generation up to `generation`
    /// is finished, or `deadline`.
    pub(crate) fn wait_blocking(&self, generation: u64, deadline: Instant) -> bool {
        let mut state = self.state.lock();
        while !state.done_through(generation) {
            if self.cv.wait_until(&mut state, deadline).timed_out() {
                return state.done_through(generation);
            }
        }
        true
    }

    /// Waits (inside the worker's runtime) until every generation up to
    /// `generation` is finished, or `deadline`.
    async fn wait_async(&self, generation: u64, deadline: Instant) -> bool {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.state.lock().done_through(generation) {
                return true;
            }
            let deadline = tokio::time::Instant::from_std(deadline);
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.state.lock().done_through(generation);
            }
        }
    }
}

/// The units of [`Pending`] a job or the batch buffer holds, by generation.
#[derive(Debug, Default)]
pub(crate) struct Units(Vec<(u64, u64)>);

impl Units {
    /// One unit of `generation`.
    pub(crate) fn one(generation: u64) -> Units {
        Units(vec![(generation, 1)])
    }

    fn push(&mut self, generation: u64, n: u64) {
        if n == 0 {
            return;
        }
        match self.0.iter_mut().find(|(g, _)| *g == generation) {
            Some((_, open)) => *open += n,
            None => self.0.push((generation, n)),
        }
    }
}

/// An envelope in the queue, with the generation of its unit of `pending`.
pub(crate) struct Queued {
    pub(crate) envelope: Envelope,
    pub(crate) generation: u64,
}

/// Items waiting for the next batch request, with their units of `pending`.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    items: Vec<EnvelopeItem>,
    units: Units,
}

/// Messages from the transport handle to the worker.
pub(crate) enum Control {
    /// Send the batch now; the caller closed `generation` with a flush
    /// token in `pending`, which the worker removes once the batch is on its
    /// way.
    Flush {
        generation: u64,
        /// For `flush_async`: answered with the flush result.
        reply: Option<oneshot::Sender<bool>>,
        deadline: Instant,
    },
    /// Send what is left until `deadline`, spool the rest, stop.
    Shutdown {
        deadline: Instant,
        reply: std::sync::mpsc::Sender<bool>,
    },
}

/// State shared by the transport handle and the worker.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) discards: DiscardCounter,
    pub(crate) limiter: RwLock<RateLimiter>,
    pub(crate) pending: Pending,
    /// Envelopes that could not be delivered (spooled or lost) since the
    /// last flush or shutdown looked (each of them takes and resets it).
    pub(crate) failures: AtomicU64,
    pub(crate) batch: Mutex<Batch>,
    pub(crate) batch_full: Notify,
    pub(crate) spool: Option<Spool>,
    /// Whether the spool may hold files (avoids listing the directory after
    /// every successful request).
    spool_dirty: AtomicBool,
    /// Whether a failed spool write was reported on stderr since the last
    /// one that succeeded: a broken spool is reported once, not per
    /// envelope.
    spool_warned: AtomicBool,
    draining: AtomicBool,
    /// The spool drain running now, if any: shutdown waits for it (up to
    /// its deadline), so that a short-lived program sends what an earlier
    /// run spooled instead of cutting the first file off every time.
    drain_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Serialised envelopes of jobs in flight, spooled if shutdown cuts them off.
    in_flight: Mutex<HashMap<u64, Bytes>>,
    next_job: AtomicU64,
}

/// Folds a session update into the update for the same session already in
/// `batch`, if there is one, and returns `None`; otherwise gives the item
/// back. A session update carries the session's whole state (status, error
/// count, duration), so only the newest (highest `seq`) needs to go out,
/// with `init` kept when any merged update had it: a session ended within
/// one batch interval is sent once, not as an `ok` and an `exited` update.
fn merge_session(batch: &mut [EnvelopeItem], item: EnvelopeItem) -> Option<EnvelopeItem> {
    let ItemPayload::Session(new) = &item.payload else {
        return Some(item);
    };
    if new.sid.is_nil() {
        return Some(item);
    }
    let Some(slot) = batch
        .iter_mut()
        .find(|b| matches!(&b.payload, ItemPayload::Session(old) if old.sid == new.sid))
    else {
        return Some(item);
    };
    let ItemPayload::Session(old) = &mut slot.payload else {
        return Some(item);
    };
    if new.seq >= old.seq {
        let init = old.init || new.init;
        *slot = item;
        if let ItemPayload::Session(merged) = &mut slot.payload {
            merged.init = init;
        }
    } else {
        old.init |= new.init;
    }
    None
}

/// Whether an item travels in the periodic batch instead of on its own.
pub(crate) fn is_batchable(ty: &ItemType) -> bool {
    matches!(
        ty,
        ItemType::Session | ItemType::Sessions | ItemType::ClientReport
    )
}

/// What an item counts for in a client report (PROTOCOL.md §2.4): its
/// category, one unit by default; bytes for attachments (Relay's
/// `attachment` category is bytes); a transaction also counts as spans,
/// one for itself and one per child span (as sentry-core counts a
/// transaction its hook drops); a container (`log`, `span` v2,
/// `trace_metric`) as its entries, logs and metrics also as their bytes.
fn quantities(item: &EnvelopeItem) -> Vec<(DataCategory, u64)> {
    let category = category_of(&item.headers.ty);
    match (&item.headers.ty, &item.payload) {
        (ItemType::Attachment, ItemPayload::Raw(bytes)) => {
            vec![(category, (bytes.len() as u64).max(1))]
        }
        (ItemType::Transaction, payload) => {
            let spans = match payload {
                ItemPayload::Transaction(t) => t.spans.len(),
                ItemPayload::Raw(bytes) => json_list_len(bytes, "spans"),
                _ => 0,
            };
            vec![(category, 1), (DataCategory::Span, spans as u64 + 1)]
        }
        (ItemType::Log | ItemType::Span | ItemType::TraceMetric, ItemPayload::Raw(bytes))
            if is_container(item) =>
        {
            let entries = item
                .headers
                .item_count
                .unwrap_or_else(|| json_list_len(bytes, "items") as u64)
                .max(1);
            let mut out = vec![(category, entries)];
            let bytes = (bytes.len() as u64).max(1);
            match item.headers.ty {
                ItemType::Log => out.push((DataCategory::LogByte, bytes)),
                ItemType::TraceMetric => out.push((DataCategory::TraceMetricByte, bytes)),
                _ => {}
            }
            out
        }
        _ => vec![(category, 1)],
    }
}

/// Whether a `log`, `trace_metric` or `span` item is a container of entries
/// (a `span` item is one only in the v2 format; a legacy one is one span).
fn is_container(item: &EnvelopeItem) -> bool {
    item.headers.ty != ItemType::Span
        || item.headers.item_count.is_some()
        || item
            .headers
            .content_type
            .as_deref()
            .is_some_and(|c| c.contains("span.v2"))
}

/// The length of the list under `key` (`spans` or `items`) in a JSON
/// object, counted while reading without building anything (only ever
/// read for an item being dropped); 0 when there is none or the JSON cannot
/// be read.
fn json_list_len(bytes: &[u8], key: &str) -> usize {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    /// Counts a list's entries, skipping each unread; `None` for a value
    /// that is not a list (skipped too).
    struct Count;
    impl<'de> Visitor<'de> for Count {
        type Value = Option<usize>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any value")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut n = 0;
            while seq.next_element::<IgnoredAny>()?.is_some() {
                n += 1;
            }
            Ok(Some(n))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    impl<'de> DeserializeSeed<'de> for Count {
        type Value = Option<usize>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(Count)
        }
    }
    /// The object: the count of its list under `key`, its other fields
    /// skipped.
    struct Field<'k>(&'k str);
    impl<'de> Visitor<'de> for Field<'_> {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
            let mut n = 0;
            while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                // The last list under the key counts, as a parse into a
                // map would keep the last duplicate.
                if k == self.0 {
                    n = map.next_value_seed(Count)?.unwrap_or(n);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(n)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.deserialize_map(Field(key)).unwrap_or(0)
}

impl Shared {
    pub(crate) fn new(config: Config, spool: Option<Spool>) -> Shared {
        let spool_dirty = spool.as_ref().is_some_and(|s| !s.is_empty());
        Shared {
            config,
            discards: DiscardCounter::default(),
            limiter: RwLock::new(RateLimiter::new()),
            pending: Pending::default(),
            failures: AtomicU64::new(0),
            batch: Mutex::new(Batch::default()),
            batch_full: Notify::new(),
            spool,
            spool_dirty: AtomicBool::new(spool_dirty),
            spool_warned: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            drain_task: Mutex::new(None),
            in_flight: Mutex::new(HashMap::new()),
            next_job: AtomicU64::new(0),
        }
    }

    /// Counts every item (except client reports, which are never counted as
    /// lost) as dropped for `reason`.
    pub(crate) fn count_items<'a>(
        &self,
        reason: DiscardReason,
        items: impl IntoIterator<Item = &'a EnvelopeItem>,
    ) {
        for item in items {
            if category_of(&item.headers.ty) == DataCategory::Internal {
                continue;
            }
            for (category, n) in quantities(item) {
                self.discards.record(reason.clone(), category, n);
            }
        }
    }

    /// Accounts for the items of an envelope that neither went out nor fit
    /// the spool at a shutdown deadline: counted as `cache_overflow`, and
    /// the counts of a client report among them put back, for the report
    /// spooled last to carry.
    fn lost_at_shutdown(&self, items: &[EnvelopeItem]) {
        self.count_items(DiscardReason::CacheOverflow, items);
        if let Some(report) = reports_in(items) {
            self.discards.restore(&report);
        }
    }

    /// Removes (and counts as `ratelimit_backoff`) the items whose category
    /// is rate limited. Returns whether a `client_report` item was removed.
    pub(crate) fn drop_limited(&self, envelope: &mut Envelope) -> bool {
        let limiter = self.limiter.read();
        let now = Instant::now();
        if !limiter.any_active(now) {
            return false;
        }
        let mut report_removed = false;
        envelope.items.retain(|item| {
            if limiter.is_limited(item.headers.ty.data_category(), now) {
                if item.headers.ty == ItemType::ClientReport {
                    report_removed = true;
                } else {
                    self.count_items(DiscardReason::RatelimitBackoff, [item]);
                }
                false
            } else {
                true
            }
        });
        report_removed
    }

    /// Adds session / client-report items to the batch buffer; items over
    /// its capacity are counted as `queue_overflow`. A session update for a
    /// session already in the buffer replaces it (see [`merge_session`]).
    pub(crate) fn add_to_batch(&self, items: Vec<EnvelopeItem>) {
        let mut batch = self.batch.lock();
        let mut added = 0;
        let mut overflow = Vec::new();
        for item in items {
            let item = match merge_session(&mut batch.items, item) {
                None => continue,
                Some(item) => item,
            };
            if batch.items.len() < MAX_BATCH_ITEMS {
                batch.items.push(item);
                added += 1;
            } else {
                overflow.push(item);
            }
        }
        // A merged update keeps the unit of the one it replaced, which is
        // as old or older: a flush waiting for either still waits for it.
        let generation = self.pending.add(added);
        batch.units.push(generation, added);
        let full = batch.items.len() >= MAX_BATCH_ITEMS;
        drop(batch);
        if full {
            self.batch_full.notify_one();
        }
        if !overflow.is_empty() {
            debug_log!(
                self,
                "session batch full: {} item(s) dropped",
                overflow.len()
            );
            self.count_items(DiscardReason::QueueOverflow, &overflow);
        }
    }

    /// Takes the batch buffer and the discard counts as one job. The
    /// client report joins generation `flush` (whose token the caller holds)
    /// when a flush asked for the batch, so that the flush waits for it.
    fn take_batch(&self, flush: Option<u64>) -> Option<Job> {
        let Batch { items, mut units } = std::mem::take(&mut *self.batch.lock());
        let report_allowed = self.config.client_reports
            && !self
                .limiter
                .read()
                .is_limited(ItemType::ClientReport.data_category(), Instant::now());
        let report = if report_allowed {
            self.discards.take_report()
        } else {
            None
        };
        if items.is_empty() && report.is_none() {
            return None;
        }
        let mut envelope = Envelope::new();
        envelope.items = items;
        if let Some(report) = &report {
            envelope.add_item(report_item(report));
            let generation = match flush {
                Some(generation) => {
                    self.pending.add_to(generation, 1);
                    generation
                }
                None => self.pending.add(1),
            };
            units.push(generation, 1);
        }
        Some(self.job(envelope, units, report, None))
    }

    fn job(
        &self,
        envelope: Envelope,
        units: Units,
        report: Option<ClientReport>,
        spooled: Option<PathBuf>,
    ) -> Job {
        Job {
            id: self.next_job.fetch_add(1, Ordering::Relaxed),
            envelope,
            units,
            report,
            spooled,
            raw: None,
            body: None,
        }
    }

    fn apply_rate_limits(&self, status: u16, headers: &reqwest::header::HeaderMap) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        // Repeated header lines are one list (as HTTP reads them, and the
        // Python and JavaScript SDKs join them).
        let joined: Vec<&str> = headers
            .get_all("x-sentry-rate-limits")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let joined = joined.join(",");
        let rate_limits = (!joined.is_empty()).then_some(joined.as_str());
        let retry_after = header("retry-after");
        if rate_limits.is_none() && status != 429 {
            return;
        }
        let applied = self.limiter.write().update(
            status,
            rate_limits,
            retry_after,
            Instant::now(),
            SystemTime::now(),
        );
        if applied {
            debug_log!(
                self,
                "rate limited (status {status}): {}",
                rate_limits.or(retry_after).unwrap_or("60 s default")
            );
        }
    }

    /// Writes an envelope to the spool. `Some(true)` when stored,
    /// `Some(false)` when the spool is full, `None` without a spool or on an
    /// I/O error (reported on stderr the first time after a write that
    /// succeeded, with `debug` after that).
    fn spool_write(&self, raw: &[u8]) -> Option<bool> {
        let spool = self.spool.as_ref()?;
        match spool.write(raw) {
            Ok(stored) => {
                self.spool_warned.store(false, Ordering::Relaxed);
                if stored {
                    self.spool_dirty.store(true, Ordering::SeqCst);
                } else {
                    debug_log!(
                        self,
                        "spool {} is full; envelope dropped",
                        spool.dir().display()
                    );
                }
                Some(stored)
            }
            Err(e) => {
                if self.spool_warned.swap(true, Ordering::Relaxed) {
                    debug_log!(self, "cannot write to spool {}: {e}", spool.dir().display());
                } else {
                    eprintln!(
                        "[sentry-transport] warning: cannot write to spool {}: {e}; \
                         envelopes that cannot be sent are dropped until it works again",
                        spool.dir().display()
                    );
                }
                None
            }
        }
    }
}

/// One envelope on its way, with what is needed to account for it.
struct Job {
    id: u64,
    envelope: Envelope,
    /// Units of `pending` released when the job ends.
    units: Units,
    /// The discard counts carried by this job's client report item(s), put
    /// back when the report is not delivered: rate limited on either side,
    /// or failed and not spooled. (A spooled job's file keeps them when it
    /// fails: it stays in the spool.)
    report: Option<ClientReport>,
    /// The spool file this job came from (deleted once handled).
    spooled: Option<PathBuf>,
    /// The serialised envelope (uncompressed), for spooling.
    raw: Option<Bytes>,
    /// The request body (possibly gzipped).
    body: Option<Body>,
}

enum Outcome {
    /// Accepted (2xx).
    Delivered,
    /// Handled without delivery: everything was rate limited (counted), the
    /// receiver answered 429 (it counted) or another 4xx (counted as
    /// `send_error`), or the envelope could not be serialised.
    Handled,
    /// Network errors or 5xx until retries ran out.
    Failed,
}

impl Job {
    /// Drops rate-limited items; `false` when nothing is left to send.
    fn apply_limits(&mut self, shared: &Shared) -> bool {
        let before = self.envelope.items.len();
        let report_removed = shared.drop_limited(&mut self.envelope);
        if report_removed {
            if let Some(report) = self.report.take() {
                shared.discards.restore(&report);
            }
        }
        if self.envelope.items.len() != before {
            self.raw = None;
            self.body = None;
        }
        !self.envelope.items.is_empty()
    }

    /// Serialises the envelope (stamping `sent_at`) if not done yet.
    fn prepare(&mut self, shared: &Shared) -> Result<(), String> {
        if self.body.is_some() {
            return Ok(());
        }
        self.envelope.headers.sent_at = Some(Timestamp::now().to_rfc3339());
        let raw = self.envelope.to_vec().map_err(|e| e.to_string())?;
        let raw = Bytes::from(raw);
        if self.spooled.is_none() {
            shared.in_flight.lock().insert(self.id, raw.clone());
        }
        self.body = Some(encode_body(raw.to_vec(), shared.config.gzip_threshold));
        self.raw = Some(raw);
        Ok(())
    }
}

/// Reads (at most [`MAX_RESPONSE_BODY`] of) the response body so the
/// connection can be reused; returns its start for debug messages.
async fn read_body(mut response: reqwest::Response) -> String {
    let mut head = Vec::new();
    let mut total = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        total += chunk.len();
        if head.len() < 512 {
            head.extend_from_slice(&chunk[..chunk.len().min(512 - head.len())]);
        }
        if total > MAX_RESPONSE_BODY {
            break;
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Sends a job, retrying up to `retries` times.
async fn deliver(
    shared: &Shared,
    client: &reqwest::Client,
    job: &mut Job,
    retries: u32,
) -> Outcome {
    let mut retry = 0;
    loop {
        if !job.apply_limits(shared) {
            return Outcome::Handled;
        }
        if let Err(e) = job.prepare(shared) {
            debug_log!(shared, "cannot serialise envelope: {e}");
            shared.count_items(DiscardReason::InternalSdkError, &job.envelope.items);
            return Outcome::Handled;
        }
        let Some(body) = job.body.as_ref() else {
            return Outcome::Handled;
        };
        let request = shared.config.endpoint.request(client, body);
        let mut hint = None;
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                shared.apply_rate_limits(status, response.headers());
                hint = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                let text = read_body(response).await;
                match Verdict::from_status(status) {
                    Verdict::Delivered => return Outcome::Delivered,
                    Verdict::RateLimited => {
                        debug_log!(shared, "envelope rate limited by the receiver (429)");
                        // The server counts what it limits, but never
                        // limits a client report (Relay does not, nor our
                        // receiver): a 429 for one comes from something in
                        // between, and nobody counted it. Its counts go out
                        // with the next report.
                        if let Some(report) = job.report.take() {
                            shared.discards.restore(&report);
                        }
                        return Outcome::Handled;
                    }
                    Verdict::Rejected => {
                        debug_log!(
                            shared,
                            "envelope rejected with {status}, not retried: {text}"
                        );
                        shared.count_items(DiscardReason::SendError, &job.envelope.items);
                        return Outcome::Handled;
                    }
                    Verdict::Retry => {
                        debug_log!(shared, "receiver answered {status} (attempt {})", retry + 1);
                    }
                }
            }
            Err(e) => {
                debug_log!(shared, "request failed (attempt {}): {e}", retry + 1);
            }
        }
        if retry >= retries {
            return Outcome::Failed;
        }
        retry += 1;
        tokio::time::sleep(shared.config.retry.delay_with_hint(retry, hint)).await;
    }
}

/// Runs one job to its end and does the accounting.
async fn process(shared: Arc<Shared>, client: reqwest::Client, mut job: Job) {
    let outcome = deliver(&shared, &client, &mut job, shared.config.retry.max_retries).await;
    match outcome {
        Outcome::Delivered => start_drain_if_dirty(&shared, &client),
        Outcome::Handled => {}
        Outcome::Failed => {
            shared.failures.fetch_add(1, Ordering::SeqCst);
            let spooled = job.raw.as_ref().and_then(|raw| shared.spool_write(raw));
            match spooled {
                Some(true) => {
                    debug_log!(shared, "receiver unreachable: envelope spooled to disk");
                }
                Some(false) => {
                    shared.count_items(DiscardReason::CacheOverflow, &job.envelope.items);
                    if let Some(report) = job.report.take() {
                        shared.discards.restore(&report);
                    }
                }
                None => {
                    shared.count_items(DiscardReason::NetworkError, &job.envelope.items);
                    if let Some(report) = job.report.take() {
                        shared.discards.restore(&report);
                    }
                }
            }
        }
    }
    shared.in_flight.lock().remove(&job.id);
    shared.pending.release(&job.units);
}

fn start_drain_if_dirty(shared: &Arc<Shared>, client: &reqwest::Client) {
    if shared.spool.is_none() || !shared.spool_dirty.load(Ordering::SeqCst) {
        return;
    }
    if shared.draining.swap(true, Ordering::SeqCst) {
        return;
    }
    let task = {
        let shared = shared.clone();
        let client = client.clone();
        tokio::spawn(async move {
            drain_spool(&shared, &client).await;
            shared.draining.store(false, Ordering::SeqCst);
        })
    };
    *shared.drain_task.lock() = Some(task);
}

/// Sends spooled envelopes oldest first, one at a time, until the spool is
/// empty or the receiver fails again.
async fn drain_spool(shared: &Shared, client: &reqwest::Client) {
    let Some(spool) = shared.spool.as_ref() else {
        return;
    };
    // Each pass handles every file listed; another pass runs only if the
    // previous one removed something (files may arrive meanwhile).
    for _pass in 0..1000 {
        let files = spool.list();
        if files.is_empty() {
            shared.spool_dirty.store(false, Ordering::SeqCst);
            return;
        }
        let mut removed = 0;
        for path in files {
            let claimed = match spool.claim(&path) {
                Ok(Some(claimed)) => claimed,
                // Another process sharing the spool is sending it (or did).
                Ok(None) => continue,
                Err(SpoolReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    eprintln!(
                        "[sentry-transport] warning: skipping spool file {}: {e}",
                        path.display()
                    );
                    removed += usize::from(spool.remove(&path));
                    continue;
                }
            };
            let envelope = match Envelope::parse(&claimed.envelope) {
                Ok(envelope) => envelope,
                Err(e) => {
                    eprintln!(
                        "[sentry-transport] warning: skipping spool file {} (not an envelope: {e})",
                        path.display()
                    );
                    removed += usize::from(spool.remove(&path));
                    continue;
                }
            };
            // A spooled client report is accounted for like a fresh one:
            // held back by a limit or answered 429, its counts go back (its
            // file is removed either way); failing, it stays on disk.
            let report = reports_in(&envelope.items);
            let mut job = shared.job(envelope, Units::default(), report, Some(path.clone()));
            match deliver(shared, client, &mut job, 0).await {
                Outcome::Delivered | Outcome::Handled => {
                    debug_log!(shared, "sent spooled envelope {}", path.display());
                    removed += usize::from(spool.remove(&path));
                }
                Outcome::Failed => return,
            }
        }
        if removed == 0 {
            return;
        }
    }
}

/// Starts the worker thread. Returns once its runtime is running.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    client: reqwest::Client,
    queue: mpsc::Receiver<Queued>,
    control: mpsc::UnboundedReceiver<Control>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("sentry-transport".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            runtime.block_on(run(shared, client, queue, control));
            // Do not wait for a stuck DNS lookup on the blocking pool.
            runtime.shutdown_timeout(Duration::from_millis(100));
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::other("the transport worker thread exited")),
    }
}

fn spawn_job(
    tasks: &mut JoinSet<()>,
    shared: &Arc<Shared>,
    client: &reqwest::Client,
    mut job: Job,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) {
    // Serialise now, so that a shutdown cutting the job off can spool it.
    if let Err(e) = job.prepare(shared) {
        debug_log!(shared, "cannot serialise envelope: {e}");
        shared.count_items(DiscardReason::InternalSdkError, &job.envelope.items);
        shared.pending.release(&job.units);
        return;
    }
    let shared = shared.clone();
    let client = client.clone();
    tasks.spawn(async move {
        let _permit = permit;
        process(shared, client, job).await;
    });
}

async fn run(
    shared: Arc<Shared>,
    client: reqwest::Client,
    mut queue: mpsc::Receiver<Queued>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let mut tasks = JoinSet::new();
    let permits = Arc::new(Semaphore::new(shared.config.max_in_flight));
    let start = tokio::time::Instant::now();
    let mut batch_tick = tokio::time::interval_at(
        start + shared.config.batch_interval,
        shared.config.batch_interval,
    );
    batch_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut spool_tick = tokio::time::interval_at(
        start + shared.config.spool_retry_interval,
        shared.config.spool_retry_interval,
    );
    spool_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    start_drain_if_dirty(&shared, &client);

    // One batch request (sessions, the client report) at a time: against a
    // receiver that hangs, every flush or tick would otherwise open another
    // one. While one is out, the next waits in the buffer and the counter,
    // and goes when that one ends (`batch_waiting`). A flush that asked
    // for it keeps its token meanwhile (`held_tokens`), so that it waits for
    // that batch too.
    let batch_slot = Arc::new(Semaphore::new(1));
    let batch_waiting = std::cell::Cell::new(false);
    let held_tokens = std::cell::RefCell::new(Vec::<u64>::new());
    let send_batch = |tasks: &mut JoinSet<()>, flush: Option<u64>| {
        let mut held = held_tokens.borrow_mut();
        held.extend(flush);
        let Ok(slot) = batch_slot.clone().try_acquire_owned() else {
            batch_waiting.set(true);
            return;
        };
        batch_waiting.set(false);
        if let Some(job) = shared.take_batch(held.iter().min().copied()) {
            spawn_job(tasks, &shared, &client, job, Some(slot));
        }
        // The batch (if any) is now pending itself.
        for generation in held.drain(..) {
            shared.pending.sub(generation, 1);
        }
    };

    let shutdown = loop {
        tokio::select! {
            biased;
            message = control.recv() => match message {
                Some(Control::Flush { generation, reply, deadline }) => {
                    if let Some(reply) = reply {
                        let shared = shared.clone();
                        tokio::spawn(async move {
                            let done = shared.pending.wait_async(generation, deadline).await;
                            // A caller that stopped waiting (its future was
                            // dropped, e.g. by a timeout) learns nothing:
                            // the failures stay for the next flush to report.
                            if reply.is_closed() {
                                return;
                            }
                            // As the blocking flush: one that timed out
                            // leaves the failures for the next to report.
                            let clean = done && shared.failures.swap(0, Ordering::SeqCst) == 0;
                            let _ = reply.send(clean);
                        });
                    }
                    send_batch(&mut tasks, Some(generation));
                }
                Some(Control::Shutdown { deadline, reply }) => break Some((deadline, reply)),
                None => break None,
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {
                if batch_waiting.get() {
                    send_batch(&mut tasks, None);
                }
            }
            envelope = queue.recv(), if permits.available_permits() > 0 => match envelope {
                Some(Queued { envelope, generation }) => {
                    let permit = permits.clone().try_acquire_owned().ok();
                    let job = shared.job(envelope, Units::one(generation), None, None);
                    spawn_job(&mut tasks, &shared, &client, job, permit);
                }
                None => break None,
            },
            () = shared.batch_full.notified() => send_batch(&mut tasks, None),
            _ = batch_tick.tick() => send_batch(&mut tasks, None),
            _ = spool_tick.tick(), if shared.spool.is_some() => start_drain_if_dirty(&shared, &client),
        }
    };

    // Shutdown: the handle is closed; send what is left until the deadline.
    let (deadline, reply) = match shutdown {
        Some((deadline, reply)) => (deadline, Some(reply)),
        None => (Instant::now(), None),
    };
    queue.close();
    // A flush that arrives now is still answered (once what is left has
    // been sent, or at its deadline) and its token given back: unread, it
    // would wait its whole timeout and leave `pending` above zero forever.
    tokio::spawn({
        let shared = shared.clone();
        async move {
            while let Some(message) = control.recv().await {
                if let Control::Flush {
                    generation,
                    reply,
                    deadline,
                } = message
                {
                    shared.pending.sub(generation, 1);
                    if let Some(reply) = reply {
                        let done = shared.pending.wait_async(generation, deadline).await;
                        let _ = reply.send(done);
                    }
                }
            }
        }
    });
    let finished = tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), async {
        send_batch(&mut tasks, None);
        loop {
            // Take the permit first: an envelope stays in the queue (and is
            // spooled if the deadline passes) until it can be sent.
            let permit = permits.clone().acquire_owned().await.ok();
            let Some(Queued {
                envelope,
                generation,
            }) = queue.recv().await
            else {
                break;
            };
            let job = shared.job(envelope, Units::one(generation), None, None);
            spawn_job(&mut tasks, &shared, &client, job, permit);
        }
        while tasks.join_next().await.is_some() {}
        // Drops counted during shutdown (e.g. a rejected envelope) go out in
        // one more report.
        send_batch(&mut tasks, None);
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if finished {
        // Then what earlier runs spooled: the drain started at launch (or
        // after a success) goes on until it is done or the deadline passes.
        // This run's own envelopes went first, and a drain cut off does not
        // make the shutdown unclean: its files stay for the next start.
        let deadline = tokio::time::Instant::from_std(deadline);
        let _ = tokio::time::timeout_at(deadline, async {
            loop {
                let running = shared.drain_task.lock().take();
                let Some(drain) = running else { break };
                let _ = drain.await;
            }
        })
        .await;
    }
    if let Some(drain) = shared.drain_task.lock().take() {
        drain.abort();
    }

    let mut unsent = 0usize;
    let mut spooled = 0usize;
    if !finished {
        tasks.abort_all();
        // Cut off in flight, or still queued: spool what we can. What the
        // spool cannot take is counted as `cache_overflow`, so that the
        // report spooled below says it was lost.
        let mut keep = |raw: &[u8], items: &dyn Fn() -> Vec<EnvelopeItem>| {
            unsent += 1;
            if shared.spool.is_none() {
                return;
            }
            if shared.spool_write(raw) == Some(true) {
                spooled += 1;
            } else {
                shared.lost_at_shutdown(&items());
            }
        };
        let in_flight: Vec<Bytes> = shared
            .in_flight
            .lock()
            .drain()
            .map(|(_, raw)| raw)
            .collect();
        for raw in in_flight {
            // Parsed only if the spool cannot take it.
            keep(&raw, &|| {
                Envelope::parse(&raw).map(|e| e.items).unwrap_or_default()
            });
        }
        while let Ok(Queued { mut envelope, .. }) = queue.try_recv() {
            envelope.headers.sent_at = None;
            let raw = envelope.to_vec().unwrap_or_default();
            keep(&raw, &|| envelope.items.clone());
        }
        let leftover = std::mem::take(&mut shared.batch.lock().items);
        if !leftover.is_empty() && shared.spool.is_some() {
            let envelope = Envelope {
                items: leftover,
                ..Envelope::default()
            };
            let raw = envelope.to_vec().unwrap_or_default();
            keep(&raw, &|| envelope.items.clone());
        }
        if unsent > 0 {
            debug_log!(
                shared,
                "shutdown timed out with {unsent} envelope(s) unsent{}",
                if shared.spool.is_some() {
                    format!(" ({spooled} spooled)")
                } else {
                    String::new()
                }
            );
        }
    }
    // Counts that could not be reported survive in the spool.
    if shared.spool.is_some() && shared.config.client_reports {
        if let Some(report) = shared.discards.take_report() {
            let mut envelope = Envelope::new();
            envelope.add_item(report_item(&report));
            if let Ok(raw) = envelope.to_vec() {
                shared.spool_write(&raw);
            }
        }
    }
    let clean = finished && unsent == 0 && shared.failures.swap(0, Ordering::SeqCst) == 0;
    if let Some(reply) = reply {
        let _ = reply.send(clean);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_wait_wakes_when_work_finishes() {
        let pending = Arc::new(Pending::default());
        let generation = pending.add(2);
        let flush = pending.close_generation();
        pending.sub(flush, 1);
        let p = pending.clone();
        let finisher = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            p.sub(generation, 1);
            std::thread::sleep(Duration::from_millis(20));
            p.sub(generation, 1);
        });
        assert!(pending.wait_blocking(flush, Instant::now() + Duration::from_secs(5)));
        assert_eq!(pending.get(), 0);
        finisher.join().expect("join");
    }

    #[test]
    fn pending_wait_times_out() {
        let pending = Pending::default();
        let generation = pending.add(1);
        let start = Instant::now();
        assert!(!pending.wait_blocking(generation, start + Duration::from_millis(30)));
        assert!(start.elapsed() >= Duration::from_millis(30));
        pending.sub(generation, 5); // never underflows
        assert_eq!(pending.get(), 0);
        assert!(pending.wait_blocking(generation, Instant::now()));
    }

    #[test]
    fn a_flush_waits_only_for_work_from_before_it() {
        let pending = Pending::default();
        let before = pending.add(1);
        let flush = pending.close_generation();
        let after = pending.add(3);
        assert_eq!(before, flush);
        assert!(after > flush);
        let now = Instant::now();
        assert!(
            !pending.wait_blocking(flush, now),
            "its token and the older unit"
        );
        pending.sub(flush, 1);
        assert!(!pending.wait_blocking(flush, now), "the older unit");
        pending.sub(before, 1);
        assert!(
            pending.wait_blocking(flush, now),
            "newer work is not waited for"
        );
        assert_eq!(pending.get(), 3);
        assert!(!pending.wait_blocking(after, now));
        // Work added to a flush's generation while its token is held is
        // waited for (the batch's client report).
        let second = pending.close_generation();
        assert_eq!(second, after, "the work from before closes with it");
        pending.add_to(second, 1);
        pending.sub(second, 1);
        pending.sub(after, 3);
        assert!(!pending.wait_blocking(second, now));
        pending.sub(second, 1);
        assert!(pending.wait_blocking(second, now));
        assert_eq!(pending.get(), 0);
    }

    #[test]
    fn units_merge_by_generation() {
        let mut units = Units::one(4);
        units.push(4, 2);
        units.push(7, 0);
        units.push(5, 1);
        assert_eq!(units.0, vec![(4, 3), (5, 1)]);
    }

    #[test]
    fn attachments_count_bytes_and_other_items_count_one() {
        let attachment = EnvelopeItem::raw(ItemType::Attachment, vec![0; 1234]);
        let empty = EnvelopeItem::raw(ItemType::Attachment, Vec::new());
        let event = EnvelopeItem::raw(ItemType::Event, b"{}".to_vec());
        assert_eq!(quantities(&attachment), [(DataCategory::Attachment, 1234)]);
        assert_eq!(quantities(&empty), [(DataCategory::Attachment, 1)]);
        assert_eq!(quantities(&event), [(DataCategory::Error, 1)]);
    }

    #[test]
    fn lists_are_counted_without_being_built() {
        assert_eq!(
            json_list_len(br#"{"a":{"spans":[9]},"spans":[1,[2],{"x":3}]}"#, "spans"),
            3
        );
        assert_eq!(json_list_len(br#"{"spans":5}"#, "spans"), 0);
        assert_eq!(
            json_list_len(br#"{"spans":null,"spans":[1,2]}"#, "spans"),
            2
        );
        assert_eq!(json_list_len(br#"{"spans":[1,2],"spans":[3]}"#, "spans"), 1);
        assert_eq!(json_list_len(br#"{"sp\u0061ns":[1,2,3]}"#, "spans"), 3);
        assert_eq!(json_list_len(br#"{"items":[]}"#, "spans"), 0);
        assert_eq!(json_list_len(b"not json", "items"), 0);
        let mut big = b"{\"spans\":[".to_vec();
        for i in 0..100_000 {
            if i > 0 {
                big.push(b',');
            }
            big.push(b'0');
        }
        big.extend_from_slice(b"]}");
        assert_eq!(json_list_len(&big, "spans"), 100_000);
    }

    #[test]
    fn transactions_count_their_spans_and_containers_their_entries() {
        let tx = EnvelopeItem::raw(
            ItemType::Transaction,
            br#"{"type":"transaction","spans":[{},{},{}]}"#.to_vec(),
        );
        assert_eq!(
            quantities(&tx),
            [(DataCategory::Transaction, 1), (DataCategory::Span, 4)]
        );
        let typed = EnvelopeItem {
            headers: sentry_core::envelope::ItemHeaders::new(ItemType::Transaction),
            payload: ItemPayload::Transaction(Box::default()),
        };
        assert_eq!(
            quantities(&typed),
            [(DataCategory::Transaction, 1), (DataCategory::Span, 1)]
        );
        let logs = br#"{"items":[{"body":"a"},{"body":"b"}]}"#.to_vec();
        let n = logs.len() as u64;
        let log = EnvelopeItem::raw(ItemType::Log, logs);
        assert_eq!(
            quantities(&log),
            [(DataCategory::LogItem, 2), (DataCategory::LogByte, n)]
        );
        let mut counted = EnvelopeItem::raw(ItemType::TraceMetric, b"{}".to_vec());
        counted.headers.item_count = Some(7);
        assert_eq!(
            quantities(&counted),
            [
                (DataCategory::TraceMetric, 7),
                (DataCategory::TraceMetricByte, 2)
            ]
        );
        let legacy_span = EnvelopeItem::raw(ItemType::Span, b"{}".to_vec());
        assert_eq!(quantities(&legacy_span), [(DataCategory::Span, 1)]);
    }

    #[test]
    fn only_sessions_and_client_reports_are_batched() {
        assert!(is_batchable(&ItemType::Session));
        assert!(is_batchable(&ItemType::Sessions));
        assert!(is_batchable(&ItemType::ClientReport));
        assert!(!is_batchable(&ItemType::Event));
        assert!(!is_batchable(&ItemType::Transaction));
        assert!(!is_batchable(&ItemType::Other("x".into())));
    }
}
