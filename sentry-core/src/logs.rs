//! Structured logs (Sentry Logs): lines with a level, a body and
//! attributes, linked to the trace they were logged in.
//!
//! Off unless [`ClientOptions::enable_logs`](crate::ClientOptions) is set.
//! Each line gets the client's release, environment and SDK as attributes
//! and the scope's trace (and span, inside one); `before_send_log` may
//! change or drop it. Lines are batched: sent when 100 are waiting (or
//! about 1 MiB of them), every 5 s, and on flush and close, one `log`
//! envelope item per batch.
//!
//! ```
//! use sentry_core::{logs, ClientOptions};
//! use sentry_core::test::with_captured_envelopes_options;
//!
//! let envelopes = with_captured_envelopes_options(
//!     || {
//!         logs::info("cache warmed");
//!         logs::capture_log(
//!             sentry_core::protocol::Log::new(sentry_core::protocol::LogLevel::Warn, "slow query")
//!                 .with_attribute("db.duration_ms", 812),
//!         );
//!     },
//!     ClientOptions { enable_logs: true, ..Default::default() },
//! );
//! let item = &envelopes[0].items()[0];
//! assert_eq!((item.headers.ty.as_str(), item.headers.item_count), ("log", Some(2)));
//! ```

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::envelope::{Envelope, EnvelopeItem};
use crate::hub::Hub;
use crate::protocol::{DataCategory, DiscardReason, Log, LogLevel};
use crate::transport::Transport;

/// Lines sent together at most (and at once when that many wait).
const MAX_BATCH: usize = 100;
/// Bytes of waiting lines (as [`estimated_size`] counts them) past which
/// the batch is sent before it has [`MAX_BATCH`] lines: a hundred long
/// lines would make an envelope of many megabytes, past what a receiver
/// takes in one request.
const MAX_BATCH_BYTES: usize = 1 << 20;
/// How often waiting lines are sent.
const BATCH_WAIT: Duration = Duration::from_secs(5);

/// Logs `log` through the current hub's client (see the module
/// documentation). Without a client, or with logs off, nothing happens.
pub fn capture_log(log: Log) {
    if !crate::hub::any_client() {
        return;
    }
    Hub::with_current(|hub| hub.capture_log(log));
}

/// Whether the current hub's client sends logs: a bridge asks before it
/// builds a line.
///
/// ```
/// assert!(!sentry_core::logs::enabled());
/// ```
pub fn enabled() -> bool {
    crate::hub::any_client()
        && Hub::with_current(|hub| hub.client().is_some_and(|c| c.options().enable_logs))
}

macro_rules! level_fns {
    ($($(#[$doc:meta])* $name:ident => $level:ident,)*) => {$(
        $(#[$doc])*
        pub fn $name(body: impl Into<String>) {
            capture_log(Log::new(LogLevel::$level, body));
        }
    )*};
}

level_fns! {
    /// Logs `body` at `trace`.
    trace => Trace,
    /// Logs `body` at `debug`.
    debug => Debug,
    /// Logs `body` at `info`.
    info => Info,
    /// Logs `body` at `warn`.
    warn => Warn,
    /// Logs `body` at `error`.
    error => Error,
    /// Logs `body` at `fatal`.
    fatal => Fatal,
}

impl Hub {
    /// Logs `log` through this hub's client, with its top scope's trace.
    pub fn capture_log(&self, log: Log) {
        self.with_client_and_scope(|client, scope| client.capture_log(log, Some(scope)));
    }
}

/// The lines waiting to be sent, and the thread that sends them when a
/// batch has waited long enough.
#[derive(Debug, Default)]
pub(crate) struct LogBatcher {
    inner: Arc<Batch>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct Batch {
    lines: Mutex<Pending>,
    stopped: Mutex<bool>,
    wake: Condvar,
}

/// Lines waiting, and about how many bytes they make.
#[derive(Debug, Default)]
struct Pending {
    lines: Vec<Log>,
    bytes: usize,
}

impl Pending {
    fn take(&mut self) -> Vec<Log> {
        self.bytes = 0;
        std::mem::take(&mut self.lines)
    }
}

/// About how many bytes `log` makes in a `log` item: its body, its
/// attributes and a fixed part for the rest (timestamp, level, ids, field
/// names). Cheap: nothing is serialised.
fn estimated_size(log: &Log) -> usize {
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
    const FIXED: usize = 160;
    const PER_ATTRIBUTE: usize = 32;
    FIXED
        + log.body.len()
        + log
            .attributes
            .iter()
            .map(|(k, v)| k.len() + PER_ATTRIBUTE + value_size(&v.0))
            .sum::<usize>()
}

impl LogBatcher {
    /// Adds `log`; sends the batch at once when it is full, and the line
    /// at once when the batcher has stopped (the client is closing).
    pub(crate) fn push(&self, log: Log, transport: &Arc<dyn Transport>) {
        if *self.inner.stopped.lock() {
            send(vec![log], &**transport);
            return;
        }
        let size = estimated_size(&log);
        let full = {
            let mut pending = self.inner.lines.lock();
            pending.lines.push(log);
            pending.bytes = pending.bytes.saturating_add(size);
            (pending.lines.len() >= MAX_BATCH || pending.bytes >= MAX_BATCH_BYTES)
                .then(|| pending.take())
        };
        match full {
            Some(batch) => send(batch, &**transport),
            None => self.start(transport),
        }
    }

    /// Sends what is waiting.
    pub(crate) fn flush(&self, transport: &dyn Transport) {
        let batch = self.inner.lines.lock().take();
        send(batch, transport);
    }

    /// Stops the thread and sends what is waiting. Called on the batch
    /// thread itself (a transport that closes the client), it does not
    /// wait for itself.
    pub(crate) fn stop(&self, transport: Option<&Arc<dyn Transport>>) {
        *self.inner.stopped.lock() = true;
        self.inner.wake.notify_all();
        // Taken out first: no lock is held while the thread finishes (it
        // may be sending, and a line captured there takes that lock).
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
        if thread.is_some() || *self.inner.stopped.lock() {
            return;
        }
        let batch: Weak<Batch> = Arc::downgrade(&self.inner);
        let transport: Weak<dyn Transport> = Arc::downgrade(transport);
        let spawned = std::thread::Builder::new()
            .name("sentry-log-batch".into())
            .spawn(move || loop {
                let Some(inner) = batch.upgrade() else {
                    return;
                };
                let stopped = {
                    let mut stopped = inner.stopped.lock();
                    if !*stopped {
                        inner.wake.wait_for(&mut stopped, BATCH_WAIT);
                    }
                    *stopped
                };
                if stopped {
                    return;
                }
                let lines = inner.lines.lock().take();
                match transport.upgrade() {
                    Some(transport) => send(lines, &*transport),
                    None => return,
                }
            });
        match spawned {
            Ok(handle) => *thread = Some(handle),
            Err(e) => eprintln!("[sentry] cannot start the log batch thread: {e}"),
        }
    }
}

/// Sends `batch` as one `log` item.
fn send(batch: Vec<Log>, transport: &dyn Transport) {
    if batch.is_empty() {
        return;
    }
    match EnvelopeItem::logs(&batch) {
        Ok(item) => {
            let mut envelope = Envelope::new();
            envelope.add_item(item);
            transport.send_envelope(envelope);
        }
        Err(_) => transport.record_discard(
            DiscardReason::InternalSdkError,
            DataCategory::LogItem,
            batch.len() as u64,
        ),
    }
}
