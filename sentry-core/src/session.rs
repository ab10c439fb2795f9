//! Release health (PROTOCOL.md §7): sessions.
//!
//! Two modes, chosen with [`ClientOptions::session_mode`](crate::ClientOptions):
//!
//! - **Application**: one session per process run. [`start_session`] opens it
//!   (the init of `sentry-integrations` does this when `auto_session_tracking`
//!   is on); error events count into it (the first error is reported at once,
//!   riding in the error's envelope); an unhandled error (a panic) ends it as
//!   `crashed`; [`end_session`] or dropping the init guard ends it as `exited`.
//!   A process that dies without ending it leaves the session open: the
//!   receiver reports sessions that never ended as `abnormal`.
//! - **Request**: one session per request (HTTP middleware calls
//!   [`Hub::start_request_session`] / [`Hub::end_request_session`]); outcomes
//!   are counted into per-minute buckets and sent as one `sessions` item per
//!   flush interval, not one request each.
//!
//! Sessions need a `release`: without one nothing is tracked.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::client::Client;
use crate::envelope::{Envelope, EnvelopeItem};
use crate::hub::{self, Hub};
use crate::protocol::{
    Event, Level, SessionAggregateItem, SessionAggregates, SessionAttributes, SessionStatus,
    SessionUpdate, Timestamp,
};

/// How sessions are tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionMode {
    /// One session per process run.
    #[default]
    Application,
    /// One session per request, aggregated per minute.
    Request,
}

/// Whether an event counts against a session, and whether it crashes it:
/// `None` for no error, `Some(crashed)` for one.
pub(crate) fn classify(event: &Event) -> Option<bool> {
    classify_at(event, event.level)
}

/// [`classify`] for an event that will have `level` (the scope's level
/// overrides the event's own when the scope is applied).
pub(crate) fn classify_at(event: &Event, level: Level) -> Option<bool> {
    let crashed = event
        .exception
        .values
        .iter()
        .any(|e| e.mechanism.as_ref().and_then(|m| m.handled) == Some(false));
    let errored = crashed || !event.exception.is_empty() || level >= Level::Error;
    errored.then_some(crashed)
}

fn attributes(client: &Client) -> Option<SessionAttributes> {
    let o = client.options();
    let release = o.release.as_deref()?.to_owned();
    Some(SessionAttributes {
        release,
        environment: Some(
            o.environment
                .as_deref()
                .unwrap_or(crate::options::DEFAULT_ENVIRONMENT)
                .to_owned(),
        ),
        ..Default::default()
    })
}

/// The application-mode session of a client.
#[derive(Debug, Default)]
pub(crate) struct AppSession {
    state: Mutex<Option<Running>>,
}

#[derive(Debug)]
struct Running {
    update: SessionUpdate,
    started_at: Instant,
}

impl AppSession {
    /// Opens a session and returns its first update (`init: true`), or `None`
    /// when one is already open or there is no release.
    pub(crate) fn start(&self, client: &Client, did: Option<String>) -> Option<SessionUpdate> {
        let attrs = attributes(client)?;
        let mut state = self.state.lock();
        if state.is_some() {
            return None;
        }
        let now = Timestamp::now();
        let update = SessionUpdate {
            sid: crate::protocol::new_uuid(),
            did,
            seq: 0,
            init: true,
            started: now,
            timestamp: Some(now),
            duration: None,
            status: SessionStatus::Ok,
            errors: 0,
            abnormal_mechanism: None,
            attrs,
            other: Default::default(),
        };
        *state = Some(Running {
            update: update.clone(),
            started_at: Instant::now(),
        });
        Some(update)
    }

    /// Counts an error; returns an update to send when the change matters to
    /// the receiver (the first error, or a crash, which also ends the session).
    pub(crate) fn note_error(&self, crashed: bool) -> Option<SessionUpdate> {
        let mut state = self.state.lock();
        let running = state.as_mut()?;
        running.update.errors += 1;
        let first = running.update.errors == 1;
        if crashed {
            running.update.status = SessionStatus::Crashed;
            let update = Self::next_update(running);
            *state = None;
            return Some(update);
        }
        first.then(|| Self::next_update(running))
    }

    fn next_update(running: &mut Running) -> SessionUpdate {
        running.update.seq += 1;
        let mut update = running.update.clone();
        update.init = update.seq == 0;
        update.timestamp = Some(Timestamp::now());
        update.duration = Some(running.started_at.elapsed().as_secs_f64());
        // The first transmission carries init; later ones must not.
        running.update.init = false;
        update
    }

    /// Ends the session with `status` and returns the final update. The
    /// final update must carry a terminal status (`ok` would leave the
    /// session open on the server until it counts as abnormal), so `ok`
    /// ends it as `exited`; and a crashed session has at least one error
    /// (PROTOCOL.md §7.1).
    pub(crate) fn end(&self, status: SessionStatus) -> Option<SessionUpdate> {
        let mut running = self.state.lock().take()?;
        running.update.status = match status {
            SessionStatus::Ok => SessionStatus::Exited,
            status => status,
        };
        if matches!(
            running.update.status,
            SessionStatus::Crashed | SessionStatus::Unhandled
        ) {
            running.update.errors = running.update.errors.max(1);
        }
        Some(Self::next_update(&mut running))
    }
}

/// Per-minute buckets of request-mode session outcomes.
#[derive(Debug, Default)]
pub(crate) struct Aggregator {
    buckets: Mutex<BTreeMap<(i64, Option<String>), SessionAggregateItem>>,
}

/// How a request session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Exited,
    Errored,
    Crashed,
}

impl Aggregator {
    fn record(&self, started: Timestamp, did: Option<String>, outcome: Outcome) {
        let minute = (started.as_secs_f64() / 60.0).floor() as i64;
        let mut buckets = self.buckets.lock();
        let bucket = buckets
            .entry((minute, did.clone()))
            .or_insert_with(|| SessionAggregateItem {
                started: Timestamp::from_secs_f64(minute as f64 * 60.0),
                did,
                ..Default::default()
            });
        match outcome {
            Outcome::Exited => bucket.exited += 1,
            Outcome::Errored => bucket.errored += 1,
            Outcome::Crashed => bucket.crashed += 1,
        }
    }

    /// Takes everything counted so far.
    pub(crate) fn take(&self, client: &Client) -> Option<SessionAggregates> {
        let buckets = std::mem::take(&mut *self.buckets.lock());
        if buckets.is_empty() {
            return None;
        }
        Some(SessionAggregates {
            aggregates: buckets.into_values().collect(),
            attrs: attributes(client)?,
        })
    }
}

/// A request-mode session attached to a scope.
#[derive(Debug)]
pub struct RequestSession {
    started: Timestamp,
    did: Option<String>,
    errors: Mutex<(u64, bool)>,
}

impl RequestSession {
    pub(crate) fn note_error(&self, crashed: bool) {
        let mut e = self.errors.lock();
        e.0 += 1;
        e.1 |= crashed;
    }
}

/// Background flusher for request-mode aggregates: wakes every interval and
/// at shutdown.
#[derive(Debug, Default)]
pub(crate) struct Flusher {
    stop: Mutex<bool>,
    wake: Condvar,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Flusher {
    /// Starts the flush thread for `client` (once).
    pub(crate) fn start(client: &Arc<Client>, interval: Duration) {
        let flusher = client.flusher();
        let mut thread = flusher.thread.lock();
        if thread.is_some() {
            return;
        }
        let weak = Arc::downgrade(client);
        let handle = std::thread::Builder::new()
            .name("sentry-session-flush".into())
            .spawn(move || loop {
                let Some(client) = weak.upgrade() else {
                    return;
                };
                let stopped = {
                    let flusher = client.flusher();
                    let mut stop = flusher.stop.lock();
                    if !*stop {
                        flusher.wake.wait_for(&mut stop, interval);
                    }
                    *stop
                };
                client.flush_session_aggregates();
                if stopped {
                    return;
                }
            });
        match handle {
            Ok(h) => *thread = Some(h),
            Err(e) => eprintln!("[sentry] cannot start the session flush thread: {e}"),
        }
    }

    /// Stops the thread (it flushes once more on its way out).
    pub(crate) fn stop(&self) {
        *self.stop.lock() = true;
        self.wake.notify_all();
        if let Some(h) = self.thread.lock().take() {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

impl Client {
    /// Sends pending request-mode aggregates now.
    pub fn flush_session_aggregates(&self) {
        if let Some(aggregates) = self.aggregator().take(self) {
            let mut envelope = Envelope::new();
            envelope.add_item(EnvelopeItem::sessions(aggregates));
            self.send_envelope(envelope);
        }
    }
}

/// A session's distinct id for `user`: the id, else the email, else the
/// username (as the official SDKs pick it), so that a user known only by
/// email still counts in crash-free users.
fn distinct_id(user: &crate::protocol::User) -> Option<String> {
    [&user.id, &user.email, &user.username]
        .into_iter()
        .flatten()
        .find(|v| !v.is_empty())
        .cloned()
}

/// Starts the application-mode session of the current client (no-op without
/// a client, a release, or when one is already running).
///
/// ```
/// use sentry_core::{session, test::with_captured_envelopes_options, ClientOptions};
/// let envelopes = with_captured_envelopes_options(|| {
///     session::start_session();
///     session::end_session();
/// }, ClientOptions { release: Some("app@1.0".into()), ..Default::default() });
/// assert_eq!(envelopes.len(), 2); // init + exited
/// ```
pub fn start_session() {
    if !hub::any_client() {
        return;
    }
    if let Some(client) = Hub::with_current(|h| h.client()) {
        let did = Hub::with_current(|h| h.top_scope().user().and_then(distinct_id));
        if let Some(update) = client.app_session().start(&client, did) {
            client.send_session(update);
        }
    }
}

/// Ends the application-mode session as `exited`.
pub fn end_session() {
    end_session_with_status(SessionStatus::Exited)
}

/// Ends the application-mode session with `status`: `ok` (not a final
/// status) ends it as `exited`, and a `crashed` session counts at least one
/// error.
pub fn end_session_with_status(status: SessionStatus) {
    if !hub::any_client() {
        return;
    }
    if let Some(client) = Hub::with_current(|h| h.client()) {
        if let Some(update) = client.app_session().end(status) {
            client.send_session(update);
        }
    }
}

impl Hub {
    /// Starts a request-mode session on this hub's top scope (call it on the
    /// per-request hub). Starts the aggregate flusher on first use.
    pub fn start_request_session(&self) {
        let Some(client) = self.client() else {
            return;
        };
        if client.options().release.is_none() {
            return;
        }
        let did = self.top_scope().user().and_then(distinct_id);
        let session = Arc::new(RequestSession {
            started: Timestamp::now(),
            did,
            errors: Mutex::new((0, false)),
        });
        Flusher::start(&client, client.options().session_flush_interval);
        self.configure_scope(|s| s.request_session = Some(session));
    }

    /// Ends the request session: counts its outcome (exited, errored or
    /// crashed) into the current minute's bucket.
    pub fn end_request_session(&self) {
        let Some(session) = self.configure_scope(|s| s.request_session.take()) else {
            return;
        };
        let Some(client) = self.client() else {
            return;
        };
        let (errors, crashed) = *session.errors.lock();
        let outcome = match (errors, crashed) {
            (_, true) => Outcome::Crashed,
            (0, _) => Outcome::Exited,
            _ => Outcome::Errored,
        };
        client
            .aggregator()
            .record(session.started, session.did.clone(), outcome);
    }
}
