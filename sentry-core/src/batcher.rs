//! Telemetry sent in batches: log lines ([`crate::logs`]) and metric
//! samples ([`crate::metrics`]) wait in the client and go as one container
//! item when enough are waiting (a count, or about 1 MiB), every 5 s from a
//! thread of their own, and on flush and close.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::envelope::{Envelope, EnvelopeError, EnvelopeItem};
use crate::protocol::{DataCategory, DiscardReason, LogAttribute};
use crate::transport::Transport;

/// How often waiting entries are sent.
const BATCH_WAIT: Duration = Duration::from_secs(5);

/// Bytes of waiting entries (as [`Batchable::estimated_size`] counts them)
/// past which the batch is sent before it is full: a batch of long entries
/// would make an envelope of many megabytes, past what a receiver takes in
/// one request.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// An entry of a batched container item.
pub(crate) trait Batchable: Sized + Send + 'static {
    /// Entries sent together at most (and at once when that many wait).
    const MAX_BATCH: usize;
    /// The sending thread's name.
    const THREAD: &'static str;
    /// The data category a dropped entry counts in.
    const CATEGORY: DataCategory;

    /// About how many bytes the entry makes in its item. Cheap: nothing is
    /// serialised.
    fn estimated_size(&self) -> usize;

    /// The container item of `batch`.
    fn item(batch: &[Self]) -> Result<EnvelopeItem, EnvelopeError>;
}

/// About how many bytes `attributes` make as typed JSON attributes.
pub(crate) fn attributes_size(attributes: &BTreeMap<String, LogAttribute>) -> usize {
    fn value_size(value: &serde_json::Value) -> usize {
        match value {
            serde_json::Value::String(s) => s.len() + 2,
            serde_json::Value::Array(items) => items.iter().map(value_size).sum::<usize>() + 2,
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(k, v)| k.len() + 4 + value_size(v))
                .sum::<usize>(),
            _ => 8,
        }
    }
    const PER_ATTRIBUTE: usize = 32;
    attributes
        .iter()
        .map(|(k, v)| k.len() + PER_ATTRIBUTE + value_size(&v.0))
        .sum()
}

/// The entries waiting to be sent, and the thread that sends them when a
/// batch has waited long enough.
#[derive(Debug)]
pub(crate) struct Batcher<T> {
    inner: Arc<Batch<T>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl<T> Default for Batcher<T> {
    fn default() -> Self {
        Batcher {
            inner: Arc::new(Batch {
                pending: Mutex::new(Pending {
                    entries: Vec::new(),
                    bytes: 0,
                    stopped: false,
                }),
                wake: Condvar::new(),
            }),
            thread: Mutex::new(None),
        }
    }
}

#[derive(Debug)]
struct Batch<T> {
    pending: Mutex<Pending<T>>,
    wake: Condvar,
}

/// Entries waiting, about how many bytes they make, and whether the
/// batcher has stopped: one lock, so that an entry is either added before
/// `stop` takes what waits, or sent on its own after.
#[derive(Debug)]
struct Pending<T> {
    entries: Vec<T>,
    bytes: usize,
    stopped: bool,
}

impl<T> Pending<T> {
    fn take(&mut self) -> Vec<T> {
        self.bytes = 0;
        std::mem::take(&mut self.entries)
    }
}

impl<T: Batchable> Batcher<T> {
    /// Adds `entry`; sends the batch at once when it is full, and the
    /// entry at once when the batcher has stopped (the client is closing).
    pub(crate) fn push(&self, entry: T, transport: &Arc<dyn Transport>) {
        let size = entry.estimated_size();
        let added = {
            let mut pending = self.inner.pending.lock();
            if pending.stopped {
                Err(entry)
            } else {
                pending.entries.push(entry);
                pending.bytes = pending.bytes.saturating_add(size);
                Ok(
                    (pending.entries.len() >= T::MAX_BATCH || pending.bytes >= MAX_BATCH_BYTES)
                        .then(|| pending.take()),
                )
            }
        };
        match added {
            Err(alone) => send(vec![alone], &**transport),
            Ok(Some(batch)) => send(batch, &**transport),
            Ok(None) => self.start(transport),
        }
    }

    /// Sends what is waiting.
    pub(crate) fn flush(&self, transport: &dyn Transport) {
        let batch = self.inner.pending.lock().take();
        send(batch, transport);
    }

    /// Stops the thread and sends what is waiting. Called on the batch
    /// thread itself (a transport that closes the client), it does not
    /// wait for itself.
    pub(crate) fn stop(&self, transport: Option<&Arc<dyn Transport>>) {
        self.inner.pending.lock().stopped = true;
        self.inner.wake.notify_all();
        // Taken out first: no lock is held while the thread finishes (it
        // may be sending, and an entry captured there takes that lock).
        let thread = self.thread.lock().take();
        if let Some(thread) = thread {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
        if let Some(transport) = transport {
            self.flush(&**transport);
        }
    }

    /// Starts the thread that sends what waits every [`BATCH_WAIT`], once.
    /// It holds the batch and the transport weakly: it ends when the client
    /// is gone.
    fn start(&self, transport: &Arc<dyn Transport>) {
        let mut thread = self.thread.lock();
        if thread.is_some() || self.inner.pending.lock().stopped {
            return;
        }
        let batch: Weak<Batch<T>> = Arc::downgrade(&self.inner);
        let transport: Weak<dyn Transport> = Arc::downgrade(transport);
        let spawned = std::thread::Builder::new()
            .name(T::THREAD.into())
            .spawn(move || loop {
                let Some(inner) = batch.upgrade() else {
                    return;
                };
                let entries = {
                    let mut pending = inner.pending.lock();
                    if !pending.stopped {
                        inner.wake.wait_for(&mut pending, BATCH_WAIT);
                    }
                    if pending.stopped {
                        return;
                    }
                    pending.take()
                };
                match transport.upgrade() {
                    Some(transport) => send(entries, &*transport),
                    None => return,
                }
            });
        match spawned {
            Ok(handle) => *thread = Some(handle),
            Err(e) => eprintln!("[sentry] cannot start the {} thread: {e}", T::THREAD),
        }
    }
}

/// Sends `batch` as one container item.
fn send<T: Batchable>(batch: Vec<T>, transport: &dyn Transport) {
    if batch.is_empty() {
        return;
    }
    match T::item(&batch) {
        Ok(item) => {
            let mut envelope = Envelope::new();
            envelope.add_item(item);
            transport.send_envelope(envelope);
        }
        Err(_) => transport.record_discard(
            DiscardReason::InternalSdkError,
            T::CATEGORY,
            batch.len() as u64,
        ),
    }
}
