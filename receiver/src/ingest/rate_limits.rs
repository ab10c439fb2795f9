//! Enforcing rate-limit quotas (PROTOCOL.md §4.1, §4.2, §11).
//!
//! Each item of an envelope counts toward its data category (as SDKs name
//! them, [`ItemType::data_category`]), so the `X-Sentry-Rate-Limits` an SDK
//! reads names exactly what it then holds back. An item counts one, except
//! a container of logs, spans or trace metrics ([`limits::is_container`]),
//! which counts the entries of its `items` (as Relay counts them; the
//! `item_count` header only when the payload cannot be read) and is dropped
//! whole when that many do not fit. Every quota of the project
//! (and of the key the request used) that covers the category is checked:
//! if any has no room left in its current window the item is dropped,
//! otherwise it counts toward all of them (Relay's rule). Client reports
//! and item types of no known category are never limited. Attachments go
//! with their event: when the event is dropped, so are they.
//!
//! Windows are fixed (`floor(now / window)`, as Relay's are) and counted in
//! this process's memory: a restart starts every window afresh.
//!
//! The caller answers `429` with `Retry-After` when nothing is left of the
//! envelope, else `200`; both carry `X-Sentry-Rate-Limits` for every quota
//! that is exhausted after the request ([`header_value`]).
//!
//! The dropped items become client-report rows (outcome `rate_limited`).
//! Those of a partly kept envelope are written with what is kept; those of
//! an envelope refused entirely wait here ([`RateLimiter::defer`], summed
//! per project and minute) for one background write at a time, so a flood
//! of refused requests is answered without a database write each, and a
//! 429 is never held up (or turned into a 503) by a busy store.
//!
//! What a request counted goes back ([`RateLimiter::refund`]) when its
//! items are not stored after all: refused later with a 400 or 503, the
//! write failing, or the request abandoned before its write was queued. A
//! request abandoned after that (its client hung up while it waited for the
//! commit) keeps its counts: its items are stored all the same.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use sentry_core::envelope::{Envelope, EnvelopeItem, ItemType};

use super::{limits, IngestError};
use crate::store::quotas::{self, Quota};
use crate::store::Store;

/// How long a project's quotas are read from the cache: a quota added by
/// `receiver quotas add` in another process takes effect within this time
/// (at once when added through this process's store).
pub const QUOTA_TTL: Duration = Duration::from_secs(2);

/// A quota that refused an item or is exhausted, as the response names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveLimit {
    /// Seconds until its window ends (at least 1).
    pub retry_after: u64,
    /// Its categories; empty: all.
    pub categories: Vec<String>,
    /// `key` or `project`.
    pub scope: &'static str,
    /// Its reason code.
    pub reason: String,
}

/// What enforcing the quotas decided for one envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Per item of the envelope: whether it is dropped.
    pub dropped: Vec<bool>,
    /// `(category, reason, count)` of the dropped items.
    pub outcomes: Outcomes,
    /// The quotas exhausted once this envelope is counted.
    pub limits: Vec<ActiveLimit>,
    /// Every count this envelope added, so that [`RateLimiter::refund`]
    /// can take them back.
    pub counted: Vec<Counted>,
    /// Whether a quota of the request was used up before it was counted.
    pub was_limited: bool,
}

/// One count an item added to a quota's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// The item's index in the envelope.
    pub item: usize,
    /// The quota's id.
    pub quota: i64,
    /// The window's index (`now / window_secs`).
    pub window: u64,
    /// How many it counted.
    pub quantity: u64,
}

impl Verdict {
    /// Whether any item is dropped.
    pub fn dropped_any(&self) -> bool {
        self.dropped.iter().any(|d| *d)
    }

    /// Whether every item is dropped (and there was one).
    pub fn dropped_all(&self) -> bool {
        !self.dropped.is_empty() && self.dropped.iter().all(|d| *d)
    }

    /// Drops the items of `envelope` still kept, counting them under the
    /// first active limit's reason, and returns their counts (for
    /// [`RateLimiter::refund`]): the legacy `/store/` endpoint refuses its
    /// event while any limit is active (PROTOCOL.md §4.1), since its
    /// clients cannot act on a header that comes with a `200`.
    pub fn refuse_the_rest(&mut self, envelope: &Envelope) -> Vec<Counted> {
        let Some(reason) = self.limits.first().map(|l| l.reason.clone()) else {
            return Vec::new();
        };
        for (dropped, item) in self.dropped.iter_mut().zip(envelope.items()) {
            if !*dropped {
                *dropped = true;
                item_outcome(
                    &mut self.outcomes,
                    item,
                    item.headers.ty.data_category(),
                    &reason,
                    quantity(item),
                );
            }
        }
        std::mem::take(&mut self.counted)
    }

    /// The longest `retry_after` of the limits (the `Retry-After` header).
    pub fn retry_after(&self) -> u64 {
        self.limits.iter().map(|l| l.retry_after).max().unwrap_or(0)
    }
}

fn active_limit(q: &Quota, now: u64) -> ActiveLimit {
    ActiveLimit {
        retry_after: q.window_secs - now % q.window_secs,
        categories: q.categories.clone(),
        scope: q.scope(),
        reason: q.reason.clone(),
    }
}

/// `X-Sentry-Rate-Limits` for `limits`:
/// `retry_after:categories:scope:reason`, joined with `", "`.
///
/// ```
/// use receiver::ingest::rate_limits::{header_value, ActiveLimit};
/// let limits = [
///     ActiveLimit { retry_after: 60, categories: vec!["error".into(), "default".into()],
///                   scope: "project", reason: "quota_exceeded".into() },
///     ActiveLimit { retry_after: 5, categories: vec![], scope: "key", reason: "ci".into() },
/// ];
/// assert_eq!(header_value(&limits), "60:error;default:project:quota_exceeded, 5::key:ci");
/// ```
pub fn header_value(limits: &[ActiveLimit]) -> String {
    limits
        .iter()
        .map(|l| {
            format!(
                "{}:{}:{}:{}",
                l.retry_after,
                l.categories.join(";"),
                l.scope,
                l.reason
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug)]
struct Cached {
    quotas: Arc<[Quota]>,
    at: Instant,
    generation: u64,
}

/// Items counted in a quota's current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    index: u64,
    used: u64,
}

/// `(category, reason, count)` of dropped items.
pub type Outcomes = Vec<(String, String, u64)>;

/// Outcomes of refused envelopes not yet written, by project and minute:
/// `(time of the first, outcomes)`.
#[derive(Debug, Default)]
struct Deferred {
    outcomes: HashMap<(i64, u64), (f64, Outcomes)>,
    /// Whether a write of them is under way.
    flushing: bool,
}

impl Deferred {
    fn add(&mut self, project_id: i64, at: f64, outcomes: &[(String, String, u64)]) {
        let minute = (at.max(0.0) / 60.0) as u64;
        let (first, pending) = self
            .outcomes
            .entry((project_id, minute))
            .or_insert_with(|| (at, Vec::new()));
        *first = first.min(at);
        for (category, reason, n) in outcomes {
            add_outcome(pending, category, reason, *n);
        }
    }
}

/// Outcomes of one project waiting to be written: `(project, when, what)`.
pub type DeferredOutcomes = (i64, f64, Outcomes);

/// Quotas by project, and their counters.
#[derive(Debug)]
pub struct RateLimiter {
    store: Store,
    cache: RwLock<HashMap<i64, Cached>>,
    windows: Mutex<HashMap<i64, Window>>,
    deferred: Mutex<Deferred>,
    /// See [`RateLimiter::left_while_queued`].
    left_while_queued: AtomicU64,
}

impl RateLimiter {
    /// A limiter reading quotas from `store`.
    pub fn new(store: Store) -> Self {
        RateLimiter {
            store,
            cache: RwLock::new(HashMap::new()),
            windows: Mutex::new(HashMap::new()),
            deferred: Mutex::new(Deferred::default()),
            left_while_queued: AtomicU64::new(0),
        }
    }

    /// How many requests ended (their client hung up) while their write
    /// was in the writer's queue. Their counts stay, unless that write
    /// fails; under load a rising number means clients give up waiting
    /// for the store.
    pub fn left_while_queued(&self) -> u64 {
        self.left_while_queued.load(Ordering::Relaxed)
    }

    /// Counts one request that ended while its write was queued.
    pub(crate) fn note_left_while_queued(&self) {
        self.left_while_queued.fetch_add(1, Ordering::Relaxed);
    }

    /// Keeps `outcomes` of a project's envelope refused at `at` (seconds
    /// since the epoch) for a later write. Returns `true` when the caller
    /// is to start that write (none is under way): it takes them with
    /// [`RateLimiter::take_deferred`] until that returns nothing.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let (store, _) = receiver::store::Store::open(&dir.path().join("q.sqlite"), &Default::default())?;
    /// use receiver::ingest::rate_limits::RateLimiter;
    ///
    /// let limiter = RateLimiter::new(store);
    /// let refused = vec![("error".to_owned(), "quota_exceeded".to_owned(), 1)];
    /// assert!(limiter.defer(1, 600.5, &refused), "the first one starts the write");
    /// assert!(!limiter.defer(1, 601.0, &refused), "one write at a time");
    /// let pending = limiter.take_deferred();
    /// let summed = vec![("error".to_owned(), "quota_exceeded".to_owned(), 2)];
    /// assert_eq!(pending, [(1, 600.5, summed)], "summed per minute, at the first");
    /// assert!(limiter.take_deferred().is_empty(), "and the write ends");
    /// assert!(limiter.defer(1, 700.0, &refused));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn defer(&self, project_id: i64, at: f64, outcomes: &[(String, String, u64)]) -> bool {
        let mut deferred = self.deferred.lock();
        deferred.add(project_id, at, outcomes);
        !std::mem::replace(&mut deferred.flushing, true)
    }

    /// Takes the deferred outcomes to write, oldest first; when there are
    /// none, the write that [`RateLimiter::defer`] asked for is over.
    pub fn take_deferred(&self) -> Vec<DeferredOutcomes> {
        let mut deferred = self.deferred.lock();
        let mut taken: Vec<DeferredOutcomes> = deferred
            .outcomes
            .drain()
            .map(|((project, _), (at, outcomes))| (project, at, outcomes))
            .collect();
        if taken.is_empty() {
            deferred.flushing = false;
        }
        taken.sort_by(|a, b| a.1.total_cmp(&b.1));
        taken
    }

    /// Puts back outcomes whose write failed, for the next attempt.
    pub fn put_back(&self, (project_id, at, outcomes): &DeferredOutcomes) {
        self.deferred.lock().add(*project_id, *at, outcomes);
    }

    /// Ends a write of deferred outcomes that could not finish (it
    /// panicked): the next refusal starts another one.
    pub fn abandon_flush(&self) {
        self.deferred.lock().flushing = false;
    }

    /// Whether outcomes are waiting to be written, or being written.
    pub fn outcomes_pending(&self) -> bool {
        let deferred = self.deferred.lock();
        deferred.flushing || !deferred.outcomes.is_empty()
    }

    /// The quotas of a project (cached for [`QUOTA_TTL`]).
    pub async fn quotas(&self, project_id: i64) -> Result<Arc<[Quota]>, IngestError> {
        let generation = self.store.generation();
        if let Some(c) = self.cache.read().get(&project_id) {
            if c.at.elapsed() < QUOTA_TTL && c.generation == generation {
                return Ok(c.quotas.clone());
            }
        }
        let quotas: Arc<[Quota]> = self
            .store
            .read(move |conn| quotas::list(conn, Some(project_id)))
            .await?
            .into();
        let mut cache = self.cache.write();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(
            project_id,
            Cached {
                quotas: quotas.clone(),
                at: Instant::now(),
                generation,
            },
        );
        Ok(quotas)
    }

    /// Counts the items of `envelope`, sent with `public_key`, against
    /// `quotas` at `now` (seconds since the epoch), and says which to drop.
    pub fn check(
        &self,
        quotas: &[Quota],
        public_key: Option<&str>,
        envelope: &Envelope,
        now: f64,
    ) -> Verdict {
        let applicable: Vec<&Quota> = quotas
            .iter()
            .filter(|q| q.public_key.is_none() || q.public_key.as_deref() == public_key)
            .collect();
        let items = envelope.items();
        let mut verdict = Verdict {
            dropped: vec![false; items.len()],
            ..Verdict::default()
        };
        if applicable.is_empty() {
            return verdict;
        }
        let now = now.max(0.0) as u64;
        let mut windows = self.windows.lock();
        verdict.was_limited = applicable
            .iter()
            .any(|q| current(&mut windows, q, now).used >= q.max_items);
        // Event-class items first: whether the event is dropped decides
        // for its attachments, which then are not counted.
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by_key(|&i| !is_event_class(&items[i].headers.ty));
        let mut event_dropped_for: Option<String> = None;
        let mut refused_by: Vec<i64> = Vec::new();
        for i in order {
            let ty = &items[i].headers.ty;
            let category = ty.data_category();
            if *ty == ItemType::Attachment {
                if let Some(reason) = &event_dropped_for {
                    verdict.dropped[i] = true;
                    item_outcome(&mut verdict.outcomes, &items[i], category, reason, 1);
                    continue;
                }
            }
            let covering: Vec<&Quota> = applicable
                .iter()
                .copied()
                .filter(|q| q.covers(category))
                .collect();
            if covering.is_empty() {
                continue;
            }
            let quantity = quantity(&items[i]);
            let refusing = covering.iter().find(|q| {
                current(&mut windows, q, now).used.saturating_add(quantity) > q.max_items
            });
            if let Some(q) = refusing {
                verdict.dropped[i] = true;
                if is_event_class(ty) {
                    event_dropped_for = Some(q.reason.clone());
                }
                item_outcome(
                    &mut verdict.outcomes,
                    &items[i],
                    category,
                    &q.reason,
                    quantity,
                );
                if !refused_by.contains(&q.id) {
                    refused_by.push(q.id);
                }
                continue;
            }
            for q in covering {
                let window = current(&mut windows, q, now);
                window.used = window.used.saturating_add(quantity);
                verdict.counted.push(Counted {
                    item: i,
                    quota: q.id,
                    window: window.index,
                    quantity,
                });
            }
        }
        // Named in the answer: every quota that is used up, and every one
        // that refused an item (a container too big for the room left).
        for q in applicable {
            if current(&mut windows, q, now).used >= q.max_items || refused_by.contains(&q.id) {
                verdict.limits.push(active_limit(q, now));
            }
        }
        verdict
    }

    /// The quotas of `quotas` (those `public_key` is under) used up at
    /// `now`: what a `/store/` refusal names once its own counts are given
    /// back ([`RateLimiter::refund`]), so that the SDK does not hold back a
    /// category whose quota still has room.
    pub fn used_up(
        &self,
        quotas: &[Quota],
        public_key: Option<&str>,
        now: f64,
    ) -> Vec<ActiveLimit> {
        let now = now.max(0.0) as u64;
        let mut windows = self.windows.lock();
        quotas
            .iter()
            .filter(|q| q.public_key.is_none() || q.public_key.as_deref() == public_key)
            .filter(|q| current(&mut windows, q, now).used >= q.max_items)
            .map(|q| active_limit(q, now))
            .collect()
    }

    /// Takes back the counts of `verdict`'s kept items, for an envelope
    /// that was not stored after all (refused with a 400, or the store
    /// could not take it): a quota counts what was accepted. Counts of a
    /// window that has since ended are left alone.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let (store, _) = receiver::store::Store::open(&dir.path().join("q.sqlite"), &Default::default())?;
    /// use receiver::ingest::rate_limits::RateLimiter;
    /// use receiver::store::quotas::Quota;
    /// use sentry_core::envelope::{Envelope, EnvelopeItem, ItemType};
    ///
    /// let limiter = RateLimiter::new(store);
    /// let one_error = [Quota { id: 1, project_id: 1, public_key: None, categories: vec!["error".into()],
    ///                          max_items: 1, window_secs: 60, reason: "one".into() }];
    /// let mut envelope = Envelope::new();
    /// envelope.add_item(EnvelopeItem::raw(ItemType::Event, b"{}".to_vec()));
    ///
    /// let verdict = limiter.check(&one_error, None, &envelope, 0.0);
    /// assert!(!verdict.dropped_any());
    /// limiter.refund(&verdict.counted); // say the event turned out invalid
    /// assert!(!limiter.check(&one_error, None, &envelope, 1.0).dropped_any());
    /// assert!(limiter.check(&one_error, None, &envelope, 2.0).dropped_all());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refund(&self, counted: &[Counted]) {
        if counted.is_empty() {
            return;
        }
        let mut windows = self.windows.lock();
        for c in counted {
            if let Some(w) = windows.get_mut(&c.quota).filter(|w| w.index == c.window) {
                w.used = w.used.saturating_sub(c.quantity);
            }
        }
    }
}

/// The counter of `quota`'s window at `now`, started afresh when a new
/// window has begun.
fn current<'w>(windows: &'w mut HashMap<i64, Window>, quota: &Quota, now: u64) -> &'w mut Window {
    let index = now / quota.window_secs;
    let w = windows.entry(quota.id).or_insert(Window { index, used: 0 });
    if w.index != index {
        *w = Window { index, used: 0 };
    }
    w
}

/// How many items `item` counts for: a container's entries, else 1.
fn quantity(item: &EnvelopeItem) -> u64 {
    let headers = &item.headers;
    if !limits::is_container(&headers.ty, headers.content_type.as_deref()) {
        return 1;
    }
    // Counted, not taken from `item_count`: a header that says 1 must not
    // carry 50 logs past a quota.
    limits::container_len(item).max(1)
}

fn is_event_class(ty: &ItemType) -> bool {
    matches!(
        ty,
        ItemType::Event | ItemType::Transaction | ItemType::Feedback
    )
}

/// Counts `item`, dropped for `reason`, as Relay reports it: an
/// attachment as one `attachment_item` and its size in `attachment`
/// (a byte category), any other item as `quantity` of `category`.
fn item_outcome(
    outcomes: &mut Outcomes,
    item: &EnvelopeItem,
    category: &str,
    reason: &str,
    quantity: u64,
) {
    if item.headers.ty == ItemType::Attachment {
        let bytes = item.payload.as_raw().map_or(0, <[u8]>::len) as u64;
        add_outcome(outcomes, "attachment_item", reason, quantity);
        add_outcome(outcomes, "attachment", reason, bytes);
    } else {
        add_outcome(outcomes, category, reason, quantity);
    }
}

fn add_outcome(outcomes: &mut Outcomes, category: &str, reason: &str, count: u64) {
    match outcomes
        .iter_mut()
        .find(|(c, r, _)| c == category && r == reason)
    {
        Some((_, _, n)) => *n = n.saturating_add(count),
        None => outcomes.push((category.to_owned(), reason.to_owned(), count)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry_core::envelope::EnvelopeItem;

    fn quota(id: i64, categories: &[&str], max_items: u64, window_secs: u64) -> Quota {
        Quota {
            id,
            project_id: 1,
            public_key: None,
            categories: categories.iter().map(|c| (*c).to_owned()).collect(),
            max_items,
            window_secs,
            reason: format!("q{id}"),
        }
    }

    fn envelope(types: &[&str]) -> Envelope {
        let mut e = Envelope::new();
        for ty in types {
            e.add_item(EnvelopeItem::raw(ItemType::from(*ty), b"{}".to_vec()));
        }
        e
    }

    /// A limiter (its store is not read by `check`) and its directory.
    fn limiter() -> (RateLimiter, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) =
            Store::open(&dir.path().join("q.sqlite"), &Default::default()).expect("store");
        (RateLimiter::new(store), dir)
    }

    #[test]
    fn a_new_window_starts_the_count_afresh() {
        let (limiter, _dir) = limiter();
        let quotas = [quota(1, &["error"], 1, 60)];
        let event = envelope(&["event"]);
        assert!(!limiter.check(&quotas, None, &event, 120.0).dropped_any());
        let refused = limiter.check(&quotas, None, &event, 179.9);
        assert!(refused.dropped_all());
        assert_eq!(refused.retry_after(), 1, "0.1 s left: at least 1");
        assert!(!limiter.check(&quotas, None, &event, 180.0).dropped_any());
    }

    #[test]
    fn an_item_counts_toward_every_quota_and_any_can_refuse_it() {
        let (limiter, _dir) = limiter();
        let quotas = [quota(1, &["error"], 5, 60), quota(2, &[], 2, 60)];
        // Two errors use the all-category quota up; the error quota has room.
        let v = limiter.check(&quotas, None, &envelope(&["event", "event"]), 0.0);
        assert!(!v.dropped_any());
        assert_eq!(v.limits.len(), 1);
        assert_eq!(v.limits[0].reason, "q2");
        let v = limiter.check(&quotas, None, &envelope(&["event", "client_report"]), 1.0);
        assert_eq!(v.dropped, [true, false], "client reports are never limited");
        assert_eq!(v.outcomes, [("error".to_owned(), "q2".to_owned(), 1)]);
        // Unknown item types are never limited, even by an all-category quota.
        let block_all = [quota(3, &[], 0, 60)];
        let v = limiter.check(&block_all, None, &envelope(&["nel", "event"]), 1.0);
        assert_eq!(v.dropped, [false, true]);
    }

    #[test]
    fn a_container_counts_its_items_and_is_dropped_whole() {
        let (limiter, _dir) = limiter();
        let quotas = [quota(1, &["log_item"], 5, 60)];
        // `item_count` says 1 whatever the payload holds: the items count.
        let logs = |n: usize| {
            let items = vec!["{\"body\":\"x\"}"; n].join(",");
            let mut e = Envelope::new();
            let mut item = EnvelopeItem::raw(
                ItemType::Log,
                format!("{{\"items\":[{items}]}}").into_bytes(),
            );
            item.headers.item_count = Some(1);
            e.add_item(item);
            e
        };
        assert!(!limiter.check(&quotas, None, &logs(3), 0.0).dropped_any());
        let v = limiter.check(&quotas, None, &logs(3), 1.0);
        assert!(v.dropped_all(), "3 more do not fit in the 2 left");
        assert_eq!(v.outcomes, [("log_item".to_owned(), "q1".to_owned(), 3)]);
        assert_eq!(v.limits.len(), 1, "the quota that refused is named");
        assert_eq!(v.retry_after(), 59);
        let v = limiter.check(&quotas, None, &logs(2), 2.0);
        assert!(!v.dropped_any(), "2 do");
        assert_eq!(v.limits.len(), 1, "and use the quota up");
        limiter.refund(&v.counted);
        assert!(!limiter.check(&quotas, None, &logs(2), 3.0).dropped_any());
        // Unreadable: the header counts, within what the bytes could hold.
        let mut e = Envelope::new();
        let mut item = EnvelopeItem::raw(ItemType::Log, b"not json".to_vec());
        item.headers.item_count = Some(u64::MAX);
        e.add_item(item);
        assert_eq!(quantity(&e.items()[0]), 5);
        // A single span is one item, a span container its entries.
        let span = EnvelopeItem::raw(ItemType::Span, b"{\"items\":[{},{}]}".to_vec());
        assert_eq!(quantity(&span), 1);
        let mut spans = span.clone();
        spans.headers.content_type = Some("application/vnd.sentry.items.span.v2+json".into());
        assert_eq!(quantity(&spans), 2);
    }

    #[test]
    fn a_refused_event_takes_its_attachments_without_counting_them() {
        let (limiter, _dir) = limiter();
        let quotas = [
            quota(1, &["error"], 0, 60),
            quota(2, &["attachment"], 1, 60),
        ];
        // The attachment comes first in the envelope; the event decides.
        let v = limiter.check(&quotas, None, &envelope(&["attachment", "event"]), 0.0);
        assert_eq!(v.dropped, [true, true]);
        // As Relay: the attachment counts as an item and as its bytes
        // (the test payload is `{}`).
        assert_eq!(
            v.outcomes,
            [
                ("error".to_owned(), "q1".to_owned(), 1),
                ("attachment_item".to_owned(), "q1".to_owned(), 1),
                ("attachment".to_owned(), "q1".to_owned(), 2)
            ]
        );
        // The attachment quota was not used by the dropped attachment.
        let v = limiter.check(&quotas, None, &envelope(&["attachment"]), 1.0);
        assert!(!v.dropped_any());
    }
}
