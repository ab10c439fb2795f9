//! The server's open connections, and which one gives up its slot when a
//! new client arrives while all `max_connections` are taken.
//!
//! A connection without a request in progress (waiting for its first
//! request head, trickling one in, or kept alive between requests) holds a
//! slot that a hostile client can fill: hundreds of idle connections would
//! otherwise keep valid requests in the accept queue until the header
//! timeout freed a slot. At the limit, the connection idle the longest is
//! closed instead (as a web server drops idle keep-alive connections when
//! it runs short). A connection idle for less than [`MIN_IDLE_TO_CLOSE`]
//! is not chosen, so that a client that has just connected gets to send
//! its request. When no connection is idle, the one whose request body
//! arrives slowest is, if it has been coming for [`MIN_BODY_TIME`] at
//! under the configured minimum rate (a byte now and then, enough to
//! keep the body timeouts at bay); a request in progress is otherwise
//! never cut.
//!
//! ```
//! use receiver::connection_slots::Slots;
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! let slots = Arc::new(Slots::new());
//! let first = slots.open();
//! let second = slots.open();
//! let _request = second.slot().request(); // second is busy
//! std::thread::sleep(Duration::from_millis(120));
//! assert!(slots.close_longest_idle(500).is_some());
//! assert!(first.slot().is_closing());
//! assert!(!second.slot().is_closing());
//! ```

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// A connection idle for less than this is not closed to make room: a
/// client that has just connected may not have sent its request yet.
pub const MIN_IDLE_TO_CLOSE: Duration = Duration::from_millis(100);

/// A request body is not judged slow before it has been coming this
/// long.
pub const MIN_BODY_TIME: Duration = Duration::from_secs(1);

/// The open connections.
#[derive(Debug)]
pub struct Slots {
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Slot>>>,
}

/// One open connection's state.
#[derive(Debug)]
pub struct Slot {
    epoch: Instant,
    /// Microseconds from `epoch` to when the connection last became idle,
    /// plus one; 0 while a request is in progress.
    idle_since: AtomicU64,
    /// Microseconds from `epoch` to when the request body being read
    /// started, plus one; 0 when none is.
    body_since: AtomicU64,
    /// Bytes of that body received so far.
    body_bytes: AtomicU64,
    /// Whether the body reader is waiting for the client (not for a
    /// decoding permit, nor done with the body).
    body_waiting: AtomicBool,
    /// The last write to the client could not go on (its answer is still
    /// being sent): not idle, whatever `idle_since` says.
    write_blocked: AtomicBool,
    /// Asked to close (and not yet found busy).
    closing: AtomicBool,
    /// The `idle_since` it was chosen at, when chosen for being idle: the
    /// connection closes only if it has stayed idle since.
    chosen_idle_since: AtomicU64,
    close: Notify,
}

impl Default for Slots {
    fn default() -> Self {
        Slots::new()
    }
}

impl Slots {
    /// No connections.
    pub fn new() -> Slots {
        Slots {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Registers a new connection, idle from now; it is forgotten when the
    /// guard is dropped.
    pub fn open(self: &Arc<Self>) -> SlotGuard {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            epoch: self.epoch,
            idle_since: AtomicU64::new(0),
            body_since: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
            body_waiting: AtomicBool::new(false),
            write_blocked: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            chosen_idle_since: AtomicU64::new(0),
            close: Notify::new(),
        });
        slot.set_idle();
        self.open.lock().insert(id, slot.clone());
        SlotGuard {
            slots: self.clone(),
            id,
            slot,
        }
    }

    /// Asks the connection idle the longest (at least
    /// [`MIN_IDLE_TO_CLOSE`]) to close, else the one whose request body
    /// comes slowest if that is under `min_body_rate` bytes a second after
    /// [`MIN_BODY_TIME`] (0: never); the one asked, if any.
    pub fn close_longest_idle(&self, min_body_rate: u64) -> Option<Arc<Slot>> {
        let now = micros_since(self.epoch) + 1;
        let min_idle = MIN_IDLE_TO_CLOSE.as_micros() as u64;
        let open = self.open.lock();
        let candidates = || open.values().filter(|s| !s.closing.load(Ordering::Acquire));
        let longest_idle = candidates()
            .filter(|s| !s.write_blocked.load(Ordering::Acquire))
            .filter_map(|s| {
                let since = s.idle_since.load(Ordering::Acquire);
                (since != 0 && now.saturating_sub(since) >= min_idle).then_some((since, s))
            })
            .min_by_key(|(since, _)| *since);
        let slowest_body = || {
            candidates()
                .filter_map(|s| Some((s.slow_body_rate(now, min_body_rate)?, s)))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, s)| (0, s))
        };
        let (idle_since, slot) = longest_idle.or_else(slowest_body)?;
        slot.chosen_idle_since.store(idle_since, Ordering::Release);
        slot.closing.store(true, Ordering::Release);
        slot.close.notify_one();
        Some(slot.clone())
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.open.lock().len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Slot {
    /// Marks a request in progress until the guard is dropped.
    pub fn request(self: &Arc<Self>) -> RequestGuard {
        self.idle_since.store(0, Ordering::Release);
        RequestGuard { slot: self.clone() }
    }

    /// Whether no request is in progress.
    pub fn is_idle(&self) -> bool {
        self.idle_since.load(Ordering::Acquire) != 0
    }

    /// Marks a request body being read until the guard is dropped; the
    /// reader counts what arrives with [`BodyGuard::received`] and says
    /// when it waits for the client with [`BodyGuard::waiting`].
    pub fn body(self: &Arc<Self>) -> BodyGuard {
        self.body_bytes.store(0, Ordering::Release);
        self.body_waiting.store(false, Ordering::Release);
        self.body_since
            .store(micros_since(self.epoch) + 1, Ordering::Release);
        BodyGuard { slot: self.clone() }
    }

    /// Whether a request to close, made now, is to be carried out: the
    /// connection stayed idle since it was chosen for being idle, or its
    /// body is (still) too slow. Asked by the connection's own task while
    /// it is not polling the connection, so nothing changes meanwhile.
    pub fn should_close(&self, min_body_rate: u64) -> bool {
        let chosen = self.chosen_idle_since.load(Ordering::Acquire);
        let idle_since = self.idle_since.load(Ordering::Acquire);
        let stayed_idle =
            chosen != 0 && idle_since == chosen && !self.write_blocked.load(Ordering::Acquire);
        stayed_idle || self.is_body_slower_than(min_body_rate)
    }

    /// Whether a request body has been coming for [`MIN_BODY_TIME`] at
    /// under `min_rate` bytes a second.
    pub fn is_body_slower_than(&self, min_rate: u64) -> bool {
        self.slow_body_rate(micros_since(self.epoch) + 1, min_rate)
            .is_some()
    }

    /// The rate of a body read for [`MIN_BODY_TIME`] (`now` as
    /// `idle_since` counts) that is under `min_rate`.
    fn slow_body_rate(&self, now: u64, min_rate: u64) -> Option<f64> {
        if !self.body_waiting.load(Ordering::Acquire) {
            return None;
        }
        let since = self.body_since.load(Ordering::Acquire);
        let elapsed = now.saturating_sub(since);
        if since == 0 || elapsed < MIN_BODY_TIME.as_micros() as u64 {
            return None;
        }
        let rate = self.body_bytes.load(Ordering::Acquire) as f64 / (elapsed as f64 / 1_000_000.0);
        (rate < min_rate as f64).then_some(rate)
    }

    /// Whether the connection was asked to close.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Waits until the connection is asked to close.
    pub async fn close_requested(&self) {
        self.close.notified().await;
    }

    /// Takes back a request to close that found the connection busy: it
    /// may be chosen again once idle.
    pub fn keep_open(&self) {
        self.chosen_idle_since.store(0, Ordering::Release);
        self.closing.store(false, Ordering::Release);
    }

    fn set_idle(&self) {
        self.idle_since
            .store(micros_since(self.epoch) + 1, Ordering::Release);
    }
}

fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX - 1)
}

/// A registered connection; see [`Slots::open`].
#[derive(Debug)]
pub struct SlotGuard {
    slots: Arc<Slots>,
    id: u64,
    slot: Arc<Slot>,
}

impl SlotGuard {
    /// The connection's state.
    pub fn slot(&self) -> &Arc<Slot> {
        &self.slot
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.slots.open.lock().remove(&self.id);
    }
}

/// A request body being read; see [`Slot::body`].
#[derive(Debug)]
pub struct BodyGuard {
    slot: Arc<Slot>,
}

impl BodyGuard {
    /// Counts `bytes` more of the body.
    pub fn received(&self, bytes: usize) {
        self.slot
            .body_bytes
            .fetch_add(bytes as u64, Ordering::AcqRel);
    }

    /// Whether the reader now waits for the client's next bytes: only then
    /// may the body be judged slow.
    pub fn waiting(&self, waiting: bool) {
        self.slot.body_waiting.store(waiting, Ordering::Release);
    }
}

impl Drop for BodyGuard {
    fn drop(&mut self) {
        self.slot.body_waiting.store(false, Ordering::Release);
        self.slot.body_since.store(0, Ordering::Release);
    }
}

/// A connection's socket that tells its slot whether an answer is still
/// being sent: a write that cannot go on marks it, one that goes on clears
/// it. The answer outlives the request's handler in hyper's buffers, and
/// a slow reader's connection is not idle until it has it all.
#[derive(Debug)]
pub struct TrackedIo<S> {
    inner: S,
    slot: Arc<Slot>,
}

impl<S> TrackedIo<S> {
    /// `inner`, reporting to `slot`.
    pub fn new(inner: S, slot: Arc<Slot>) -> Self {
        TrackedIo { inner, slot }
    }

    fn note<T>(&self, poll: Poll<T>) -> Poll<T> {
        self.slot
            .write_blocked
            .store(poll.is_pending(), Ordering::Release);
        poll
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TrackedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TrackedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.note(poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

tokio::task_local! {
    /// The slot of the connection whose task is running: the request body
    /// reader finds it here, several calls below the connection.
    pub static CURRENT: Arc<Slot>;
}

/// A request in progress; see [`Slot::request`].
#[derive(Debug)]
pub struct RequestGuard {
    slot: Arc<Slot>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.slot.set_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_idle_connections_old_enough_are_closed_oldest_first() {
        let slots = Arc::new(Slots::new());
        let old = slots.open();
        std::thread::sleep(Duration::from_millis(5));
        let newer = slots.open();
        let busy = slots.open();
        let request = busy.slot().request();
        // Nobody idle long enough yet.
        assert!(slots.close_longest_idle(500).is_none());
        std::thread::sleep(MIN_IDLE_TO_CLOSE);
        assert!(slots.close_longest_idle(500).is_some());
        assert!(old.slot().is_closing() && !newer.slot().is_closing());
        assert!(slots.close_longest_idle(500).is_some());
        assert!(newer.slot().is_closing());
        // The busy one is never chosen, until its request ends and it has
        // been idle long enough.
        assert!(slots.close_longest_idle(500).is_none());
        drop(request);
        assert!(slots.close_longest_idle(500).is_none());
        std::thread::sleep(MIN_IDLE_TO_CLOSE);
        assert!(slots.close_longest_idle(500).is_some());
        assert!(busy.slot().is_closing());
        drop((old, newer));
        assert_eq!(slots.len(), 1);
    }

    #[test]
    fn with_nobody_idle_the_slowest_body_under_the_rate_is_closed() {
        let slots = Arc::new(Slots::new());
        let (slow, fast) = (slots.open(), slots.open());
        let _requests = (slow.slot().request(), fast.slot().request());
        let slow_body = slow.slot().body();
        let fast_body = fast.slot().body();
        slow_body.received(10);
        fast_body.received(1_000_000);
        slow_body.waiting(true);
        fast_body.waiting(true);
        // Not judged before MIN_BODY_TIME.
        assert!(slots.close_longest_idle(500).is_none());
        std::thread::sleep(MIN_BODY_TIME);
        assert!(slow.slot().is_body_slower_than(500));
        assert!(!fast.slot().is_body_slower_than(500));
        assert!(slots.close_longest_idle(500).is_some());
        assert!(slow.slot().is_closing() && !fast.slot().is_closing());
        // The fast one is over the rate: never chosen.
        assert!(slots.close_longest_idle(500).is_none());
        // Not while the reader waits for something else than the client.
        slow_body.waiting(false);
        assert!(!slow.slot().is_body_slower_than(500));
        slow_body.waiting(true);
        assert!(slow.slot().should_close(500));
        drop(slow_body);
        assert!(!slow.slot().is_body_slower_than(500));
        assert!(!slow.slot().should_close(500));
    }

    #[test]
    fn a_connection_chosen_idle_closes_only_if_it_stayed_idle() {
        let slots = Arc::new(Slots::new());
        let conn = slots.open();
        std::thread::sleep(MIN_IDLE_TO_CLOSE);
        assert!(slots.close_longest_idle(500).is_some());
        assert!(conn.slot().should_close(500));
        // A request came and went before the connection's task looked.
        drop(conn.slot().request());
        assert!(!conn.slot().should_close(500));
        conn.slot().keep_open();
        assert!(!conn.slot().is_closing());
    }
}
