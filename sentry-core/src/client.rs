//! The client: owns the options and the transport, and runs the event pipeline.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::envelope::{Envelope, EnvelopeItem, ItemHeaders, ItemPayload, ItemType};
use crate::integration::Integration;
use crate::logs::LogBatcher;
use crate::metrics::MetricBatcher;
use crate::options::{ClientOptions, DEFAULT_ENVIRONMENT};
use crate::pii;
use crate::propagation::{Dsc, DscBase};
use crate::protocol::{
    Breadcrumb, ClientSdkInfo, DataCategory, DiscardReason, Event, Log, LogAttribute, Metric,
    MonitorCheckIn, SessionUpdate, SpanId, TraceId, Transaction,
};
use crate::scope::Scope;
use crate::scrub::Scrubber;
use crate::session::{self, Aggregator, AppSession, Flusher};
use crate::transport::Transport;

thread_local! {
    /// How deeply the pipeline is nested on this thread: a callback that
    /// captures (or panics into a capturing panic hook) re-enters it.
    static PIPELINE_DEPTH: Cell<u8> = const { Cell::new(0) };
}

thread_local! {
    /// How many pipeline callbacks this thread is running (see [`in_callback`]).
    static IN_CALLBACK: Cell<u32> = const { Cell::new(0) };
}

/// Whether this thread is running a callback of the event pipeline
/// (`before_send`, `before_send_transaction`, `before_breadcrumb`, an
/// event processor or an integration's processing).
///
/// A panic there is caught and counted by the client as an
/// `internal_sdk_error`. A panic hook should not capture it as well: the
/// capture would run the same callbacks again inside the hook, and a
/// second panic while panicking aborts the process.
///
/// ```
/// assert!(!sentry_core::in_callback());
/// ```
pub fn in_callback() -> bool {
    IN_CALLBACK.with(|n| n.get() > 0)
}

/// Runs a callback marked as one (see [`in_callback`]), catching a panic.
pub(crate) fn run_callback<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    IN_CALLBACK.with(|n| n.set(n.get() + 1));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    IN_CALLBACK.with(|n| n.set(n.get().saturating_sub(1)));
    outcome
}

/// The deepest re-entry allowed: a capture from inside a callback is served,
/// a capture from inside *that* is dropped instead of recursing forever.
const MAX_PIPELINE_DEPTH: u8 = 2;

/// One level of the pipeline on this thread (events, transactions,
/// breadcrumbs with `before_breadcrumb`, the `traces_sampler`); `None` past
/// [`MAX_PIPELINE_DEPTH`].
pub(crate) struct DepthGuard;

impl DepthGuard {
    pub(crate) fn enter() -> Option<DepthGuard> {
        PIPELINE_DEPTH.with(|d| {
            if d.get() >= MAX_PIPELINE_DEPTH {
                None
            } else {
                d.set(d.get() + 1);
                Some(DepthGuard)
            }
        })
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        PIPELINE_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// The size of `entry`'s own container item, which a client report counts
/// when the entry is dropped (at least 1).
fn item_bytes<T: crate::batcher::Batchable>(entry: &T) -> u64 {
    T::item(std::slice::from_ref(entry))
        .ok()
        .and_then(|item| item.payload.as_raw().map(|b| b.len() as u64))
        .unwrap_or(0)
        .max(1)
}

/// Sends events to one DSN through one transport.
///
/// Usually created by [`crate::init`]; tests create their own with a test
/// transport (see [`crate::test`]).
///
/// ```
/// use sentry_core::{Client, ClientOptions};
/// let client = Client::with_options(ClientOptions::default());
/// assert!(!client.is_enabled()); // no transport: captures are dropped
/// ```
pub struct Client {
    options: ClientOptions,
    /// Set once at creation; `closed` turns it off. No lock on the hot path.
    transport: Option<Arc<dyn Transport>>,
    closed: AtomicBool,
    scrubber: Scrubber,
    sdk_info: ClientSdkInfo,
    /// The client's entries of every trace's dynamic sampling context.
    dsc_base: DscBase,
    app_session: AppSession,
    aggregator: Aggregator,
    flusher: Flusher,
    /// Log lines waiting to be sent (`enable_logs`).
    logs: LogBatcher,
    /// Metric samples waiting to be sent (`enable_metrics`).
    metrics: MetricBatcher,
}

impl Client {
    /// [`Client::with_options`] under the official crate's name; takes
    /// anything that converts into options.
    ///
    /// ```
    /// let client = sentry_core::Client::from_config(sentry_core::ClientOptions::new());
    /// assert!(!client.is_enabled());
    /// ```
    pub fn from_config(options: impl Into<ClientOptions>) -> Client {
        Client::with_options(options.into())
    }

    /// The DSN events are sent to, if any.
    pub fn dsn(&self) -> Option<&crate::dsn::Dsn> {
        self.options().dsn.as_ref()
    }
}

/// [`Client::with_options`], as `Arc::new(options.into())` in code written
/// for the official crate.
impl From<ClientOptions> for Client {
    fn from(options: ClientOptions) -> Client {
        Client::with_options(options)
    }
}

impl Drop for Client {
    /// Hands the log lines and metric samples still waiting to the
    /// transport: a client dropped without `close` or `flush` loses none.
    fn drop(&mut self) {
        if let Some(transport) = self.transport() {
            self.logs.flush(&**transport);
            self.metrics.flush(&**transport);
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.options)
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

macro_rules! sdk_debug {
    ($client:expr, $($arg:tt)*) => {
        if $client.options.debug {
            eprintln!("[sentry] {}", format_args!($($arg)*));
        }
    };
}

/// Moves the event out of its box, leaving an empty placeholder that costs no
/// allocation, so the box can be refilled with what a callback returns.
fn take_event(event: &mut Event) -> Event {
    let placeholder = Event {
        event_id: Uuid::nil(),
        platform: String::new(),
        timestamp: crate::protocol::Timestamp::from_secs_f64(0.0),
        level: crate::protocol::Level::Error,
        fingerprint: Vec::new(),
        culprit: None,
        transaction: None,
        message: None,
        logentry: None,
        logger: None,
        modules: Default::default(),
        server_name: None,
        release: None,
        dist: None,
        environment: None,
        user: None,
        request: None,
        contexts: Default::default(),
        breadcrumbs: Default::default(),
        exception: Default::default(),
        stacktrace: None,
        threads: Default::default(),
        tags: Default::default(),
        extra: Default::default(),
        sdk: None,
        other: Default::default(),
    };
    std::mem::replace(event, placeholder)
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string panic payload")
}

/// What a client with a DSN but no transport says, with `debug` or
/// without: the DSN says the user meant to send, and `sentry_core::init`
/// alone installs no transport.
const NO_TRANSPORT: &str = "a DSN is set but no transport: nothing will be sent; \
     initialise with sentry_integrations::init or sentry_transport::init \
     (or set ClientOptions::transport)";

impl Client {
    /// Creates a client. Integrations' `setup` runs first; the transport is
    /// created from `options.transport` (without one the client is disabled).
    pub fn with_options(mut options: ClientOptions) -> Client {
        // Calibrate the timestamp clock here rather than in the first
        // capture or span.
        crate::clock::warm_up();
        let integrations = options.integrations.clone();
        for integration in &integrations {
            let name = integration.name();
            if catch_unwind(AssertUnwindSafe(|| integration.setup(&mut options))).is_err() {
                eprintln!("[sentry] integration {name} panicked during setup; it is skipped");
            }
        }
        let transport = options
            .transport
            .as_ref()
            .map(|factory| factory.create_transport(&options));
        let scrubber = Scrubber::new(options.deny_keys.iter());
        let mut sdk_info = ClientSdkInfo::this_sdk();
        sdk_info.integrations = integrations
            .iter()
            .map(|i| std::borrow::Cow::Borrowed(i.name()))
            .collect();
        let dsc_base = DscBase::new(&options);
        let client = Client {
            options,
            transport,
            closed: AtomicBool::new(false),
            scrubber,
            sdk_info,
            dsc_base,
            app_session: AppSession::default(),
            aggregator: Aggregator::default(),
            flusher: Flusher::default(),
            logs: LogBatcher::default(),
            metrics: MetricBatcher::default(),
        };
        client.debug_startup();
        client
    }

    /// With `debug`, says what the client will do, and what it will not
    /// and why (as the official SDKs do at init); without, says only that
    /// a client with a DSN has no transport.
    fn debug_startup(&self) {
        if !self.options.debug {
            if self.options.dsn.is_some() && self.transport.is_none() {
                eprintln!("[sentry] {NO_TRANSPORT}");
            }
            return;
        }
        let o = &self.options;
        match (&o.dsn, self.transport.is_some()) {
            // The envelope URL: the DSN without its keys.
            (Some(dsn), true) => sdk_debug!(
                self,
                "enabled: sending to {}, release {:?}, environment {:?}, sample_rate {}, \
                 traces_sample_rate {}",
                dsn.envelope_url(),
                o.release,
                o.environment.as_deref().unwrap_or(DEFAULT_ENVIRONMENT),
                o.sample_rate,
                o.traces_sample_rate
            ),
            (None, true) => {
                sdk_debug!(self, "enabled: no DSN, sending to the configured transport")
            }
            (None, false) => sdk_debug!(self, "no DSN: the SDK is disabled and sends nothing"),
            (Some(_), false) => sdk_debug!(self, "{NO_TRANSPORT}"),
        }
        if o.auto_session_tracking && o.release.is_none() {
            sdk_debug!(
                self,
                "session tracking is on but there is no release: no sessions are sent"
            );
        }
    }

    pub(crate) fn dsc_base(&self) -> &DscBase {
        &self.dsc_base
    }

    pub(crate) fn app_session(&self) -> &AppSession {
        &self.app_session
    }

    pub(crate) fn aggregator(&self) -> &Aggregator {
        &self.aggregator
    }

    pub(crate) fn flusher(&self) -> &Flusher {
        &self.flusher
    }

    /// The options this client was created with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Whether captures go anywhere (a transport exists and the client is not
    /// closed).
    pub fn is_enabled(&self) -> bool {
        self.transport().is_some()
    }

    /// The SDK info written into events.
    pub fn sdk_info(&self) -> &ClientSdkInfo {
        &self.sdk_info
    }

    #[inline]
    fn transport(&self) -> Option<&Arc<dyn Transport>> {
        if self.closed.load(Ordering::Acquire) {
            None
        } else {
            self.transport.as_ref()
        }
    }

    /// Counts one item the client itself drops (a hook or processor
    /// dropped it), and says so with `debug`.
    fn discard(&self, reason: DiscardReason, category: DataCategory) {
        sdk_debug!(self, "dropped an item of category {category} ({reason})");
        self.record_discard_n(reason, category, 1);
    }

    /// Counts one dropped item for the next client report.
    pub fn record_discard(&self, reason: DiscardReason, category: DataCategory) {
        self.record_discard_n(reason, category, 1);
    }

    /// Counts `n` dropped items for the next client report.
    pub fn record_discard_n(&self, reason: DiscardReason, category: DataCategory, n: u64) {
        if let Some(t) = self.transport() {
            t.record_discard(reason, category, n);
        }
    }

    /// Runs a user or integration callback; a panic is caught, reported with
    /// `debug`, counted as `internal_sdk_error`, and turns into `None`.
    fn guarded<T>(
        &self,
        what: &str,
        category: DataCategory,
        f: impl FnOnce() -> Option<T>,
    ) -> Option<T> {
        match run_callback(f) {
            Ok(v) => v,
            Err(payload) => {
                sdk_debug!(
                    self,
                    "{what} panicked ({}); the item is dropped",
                    panic_message(&*payload)
                );
                self.discard(DiscardReason::InternalSdkError, category);
                None
            }
        }
    }

    /// Captures an event with the scope applied. Returns the event id, or the
    /// nil id when the event was not handed to the transport (disabled
    /// client, sampled out, dropped by a hook). What the transport drops
    /// later (a full queue, a rate limit) keeps its id and is counted in a
    /// client report.
    pub fn capture_event(&self, event: Event, scope: Option<&Scope>) -> Uuid {
        self.capture_boxed(Box::new(event), scope)
    }

    /// [`Client::capture_event`] for an event already on the heap: the
    /// pipeline works on it in place instead of moving a kilobyte around.
    pub(crate) fn capture_boxed(&self, event: Box<Event>, scope: Option<&Scope>) -> Uuid {
        let Some(transport) = self.transport() else {
            return Uuid::nil();
        };
        let Some(_depth) = DepthGuard::enter() else {
            transport.record_discard(DiscardReason::InternalSdkError, DataCategory::Error, 1);
            return Uuid::nil();
        };
        // An error is an error whether or not it is sent: the scope's
        // observers hear of it before any sampling.
        let captured_error = match scope {
            Some(scope) => session::classify_at(&event, scope.level_of(&event)),
            None => session::classify(&event),
        };
        if let (Some(crashed), Some(scope)) = (captured_error, scope) {
            self.notify_error_observers(scope, crashed);
        }
        // The sampling decision costs one random number: take it before any
        // other work on the event.
        let rate = self.options.sample_rate;
        if rate < 1.0 && fastrand::f32() >= rate {
            sdk_debug!(
                self,
                "event {} sampled out (sample_rate {rate})",
                event.event_id
            );
            transport.record_discard(DiscardReason::SampleRate, DataCategory::Error, 1);
            // The session counts it all the same (as the official SDKs
            // update the session before sampling): a sampled-out crash
            // still crashes the session. The event as captured decides,
            // since the processors and `before_send` do not run for it.
            if let Some(update) =
                captured_error.and_then(|crashed| self.note_session_error(crashed, scope))
            {
                self.send_session(update);
            }
            return Uuid::nil();
        }
        let Some(event) = self.prepare_boxed(event, scope) else {
            return Uuid::nil();
        };
        let id = event.event_id;
        let mut envelope = Envelope::new();
        envelope.headers.event_id = Some(id);
        envelope.headers.trace = scope.and_then(|scope| scope.dsc_for_event(&event, self));
        // A kept event counts as `before_send` left it.
        if let Some(update) =
            session::classify(&event).and_then(|crashed| self.note_session_error(crashed, scope))
        {
            envelope.add_item(EnvelopeItem::session(update));
        }
        envelope.add_item(EnvelopeItem::boxed_event(event));
        if let Some(scope) = scope {
            for attachment in scope.attachments() {
                envelope.add_item(EnvelopeItem::attachment(attachment));
            }
        }
        transport.send_envelope(envelope);
        id
    }

    /// Counts an error (a crash when `crashed`) in the application session
    /// and in the scope's request session. Returns the application
    /// session's update to send, when it changed status.
    fn note_session_error(&self, crashed: bool, scope: Option<&Scope>) -> Option<SessionUpdate> {
        if let Some(rs) = scope.and_then(|s| s.request_session.as_deref()) {
            rs.note_error(crashed);
        }
        self.app_session.note_error(crashed)
    }

    /// Tells the scope's error observers of a captured error; a panicking
    /// observer is caught and reported with `debug`.
    fn notify_error_observers(&self, scope: &Scope, crashed: bool) {
        for observer in scope.error_observers() {
            if let Err(payload) = run_callback(|| observer(crashed)) {
                sdk_debug!(
                    self,
                    "an error observer panicked ({})",
                    panic_message(&*payload)
                );
            }
        }
    }

    /// Fills defaults, applies the scope, runs processors, `before_send` and
    /// scrubbing. `None` means the event was dropped (and counted).
    pub fn prepare_event(&self, event: Event, scope: Option<&Scope>) -> Option<Event> {
        self.prepare_boxed(Box::new(event), scope).map(|e| *e)
    }

    fn prepare_boxed(&self, mut event: Box<Event>, scope: Option<&Scope>) -> Option<Box<Event>> {
        let o = &self.options;
        if event.release.is_none() {
            event.release = o.release.as_deref().map(str::to_owned);
        }
        if event.environment.is_none() {
            event.environment = Some(
                o.environment
                    .as_deref()
                    .unwrap_or(DEFAULT_ENVIRONMENT)
                    .to_owned(),
            );
        }
        if event.dist.is_none() {
            event.dist = o.dist.as_deref().map(str::to_owned);
        }
        if event.server_name.is_none() {
            event.server_name = o.server_name.as_deref().map(str::to_owned);
        }
        if event.sdk.is_none() {
            event.sdk = Some(self.sdk_info.clone());
        }
        let cat = DataCategory::Error;
        if let Some(scope) = scope {
            scope.apply_in_place(&mut event, o.max_breadcrumbs);
            for processor in scope.event_processors() {
                match self.guarded("an event processor", cat.clone(), || {
                    Some(processor(take_event(&mut event)))
                }) {
                    Some(Some(e)) => *event = e,
                    Some(None) => {
                        self.discard(DiscardReason::EventProcessor, cat);
                        return None;
                    }
                    None => return None,
                }
            }
        }
        for integration in &o.integrations {
            let name = integration.name();
            match self.guarded(name, cat.clone(), || {
                Some(integration.process_event(take_event(&mut event), o))
            }) {
                Some(Some(e)) => *event = e,
                Some(None) => {
                    sdk_debug!(self, "integration {name} dropped an event");
                    self.discard(DiscardReason::EventProcessor, cat);
                    return None;
                }
                None => return None,
            }
        }
        if let Some(before_send) = &o.before_send {
            match self.guarded("before_send", cat.clone(), || {
                Some(before_send(take_event(&mut event)))
            }) {
                Some(Some(e)) => *event = e,
                Some(None) => {
                    self.discard(DiscardReason::BeforeSend, cat);
                    return None;
                }
                None => return None,
            }
        }
        // Every breadcrumb, not only those added since the scope's: a hook
        // may have replaced or edited any of them.
        pii::scrub_event(&self.scrubber, &mut event, o.send_default_pii);
        Some(event)
    }

    /// Captures a finished transaction: scope data, `before_send_transaction`,
    /// scrubbing, then the transport. Sampling happened when it started.
    pub fn capture_transaction(&self, transaction: Transaction, scope: Option<&Scope>) -> Uuid {
        self.capture_transaction_with_trace(transaction, scope, None)
    }

    /// [`Client::capture_transaction`] with the dynamic sampling context for
    /// the envelope header `trace`.
    pub fn capture_transaction_with_trace(
        &self,
        transaction: Transaction,
        scope: Option<&Scope>,
        trace: Option<Dsc>,
    ) -> Uuid {
        self.capture_boxed_transaction(Box::new(transaction), scope, trace)
    }

    /// [`Client::capture_transaction_with_trace`] for a transaction already
    /// on the heap (it is large: moving it around costs).
    pub(crate) fn capture_boxed_transaction(
        &self,
        mut transaction: Box<Transaction>,
        scope: Option<&Scope>,
        trace: Option<Dsc>,
    ) -> Uuid {
        let Some(transport) = self.transport() else {
            return Uuid::nil();
        };
        // A `before_send_transaction` that finishes a transaction re-enters
        // here; one level is served, the next dropped.
        let Some(_depth) = DepthGuard::enter() else {
            transport.record_discard(
                DiscardReason::InternalSdkError,
                DataCategory::Transaction,
                1,
            );
            return Uuid::nil();
        };
        let o = &self.options;
        if transaction.release.is_none() {
            transaction.release = o.release.clone();
        }
        if transaction.environment.is_none() {
            transaction.environment = Some(
                o.environment
                    .clone()
                    .unwrap_or(std::borrow::Cow::Borrowed(DEFAULT_ENVIRONMENT)),
            );
        }
        if transaction.sdk.is_none() {
            transaction.sdk = Some(self.sdk_info.clone());
        }
        if let Some(scope) = scope {
            scope.apply_to_transaction(&mut transaction);
        }
        let cat = DataCategory::Transaction;
        if let Some(hook) = &o.before_send_transaction {
            // The transaction is its own span too (as the official SDKs
            // count a dropped transaction's spans).
            let spans = transaction.spans.len() as u64 + 1;
            match self.guarded("before_send_transaction", cat.clone(), || {
                Some(hook(*transaction))
            }) {
                Some(Some(t)) => transaction = Box::new(t),
                Some(None) => {
                    self.discard(DiscardReason::BeforeSend, cat);
                    self.record_discard_n(DiscardReason::BeforeSend, DataCategory::Span, spans);
                    return Uuid::nil();
                }
                None => return Uuid::nil(),
            }
        }
        pii::scrub_transaction(&self.scrubber, &mut transaction, o.send_default_pii);
        let id = transaction.event_id;
        let mut envelope = Envelope::new();
        envelope.headers.event_id = Some(id);
        envelope.headers.trace = trace.filter(|dsc| !dsc.is_empty());
        envelope.add_item(EnvelopeItem {
            headers: ItemHeaders::new(ItemType::Transaction),
            payload: ItemPayload::Transaction(transaction),
        });
        transport.send_envelope(envelope);
        id
    }

    /// Sends a session update.
    pub fn send_session(&self, session: SessionUpdate) {
        if let Some(transport) = self.transport() {
            let mut envelope = Envelope::new();
            envelope.add_item(EnvelopeItem::session(session));
            transport.send_envelope(envelope);
        }
    }

    /// Sends a cron check-in ([`crate::monitor`]). Unset `release` and
    /// `environment` take the client's; without `contexts`, the scope's
    /// trace (its span's, or its own) is named in `contexts.trace`, so the
    /// run links to what it captured. Check-ins are not sampled and no
    /// hook sees them. Returns the check-in id, or the nil id when nothing
    /// was handed to the transport.
    pub fn capture_check_in(&self, mut check_in: MonitorCheckIn, scope: Option<&Scope>) -> Uuid {
        let Some(transport) = self.transport() else {
            return Uuid::nil();
        };
        let o = &self.options;
        if check_in.release.is_none() {
            check_in.release = o.release.as_deref().map(str::to_owned);
        }
        if check_in.environment.is_none() {
            // As events: a check-in without one is filed under production.
            check_in.environment = Some(
                o.environment
                    .as_deref()
                    .unwrap_or(DEFAULT_ENVIRONMENT)
                    .to_owned(),
            );
        }
        if let Some(scope) = scope {
            if !check_in.other.contains_key("contexts") {
                let trace = serde_json::json!({
                    "trace": {"trace_id": scope.current_trace_id().to_string()}
                });
                check_in.other.insert("contexts".to_owned(), trace);
            }
        }
        let item = match EnvelopeItem::check_in(&check_in) {
            Ok(item) => item,
            Err(e) => {
                sdk_debug!(self, "check-in of {} not sent: {e}", check_in.monitor_slug);
                transport.record_discard(DiscardReason::InternalSdkError, DataCategory::Monitor, 1);
                return Uuid::nil();
            }
        };
        let mut envelope = Envelope::new();
        envelope.add_item(item);
        transport.send_envelope(envelope);
        check_in.check_in_id
    }

    /// Batches a log line ([`crate::logs`]) when `enable_logs` is set: the
    /// scope's trace (and span) and the client's release, environment and
    /// SDK are added, then `before_send_log` may change or drop it.
    pub fn capture_log(&self, mut log: Log, scope: Option<&Scope>) {
        if !self.options.enable_logs {
            return;
        }
        let Some(transport) = self.transport() else {
            return;
        };
        // A line logged from inside `before_send_log` (directly, or through
        // the `log` bridge) is served once; deeper, it is dropped instead of
        // recursing until the stack overflows.
        let Some(_depth) = DepthGuard::enter() else {
            transport.record_discard(DiscardReason::InternalSdkError, DataCategory::LogItem, 1);
            return;
        };
        self.add_telemetry_context(
            scope,
            &mut log.trace_id,
            &mut log.span_id,
            &mut log.attributes,
        );
        if let Some(hook) = &self.options.before_send_log {
            // What a drop loses, in bytes too, counted as the official
            // Python SDK counts it: the line's own item.
            let bytes = item_bytes(&log);
            let lost = |reason: DiscardReason| {
                transport.record_discard(reason.clone(), DataCategory::LogItem, 1);
                transport.record_discard(reason, DataCategory::LogByte, bytes);
            };
            match run_callback(|| hook(log)) {
                Ok(Some(kept)) => log = kept,
                Ok(None) => {
                    lost(DiscardReason::BeforeSend);
                    return;
                }
                Err(_) => {
                    sdk_debug!(self, "before_send_log panicked; the log line is dropped");
                    lost(DiscardReason::CallbackError);
                    return;
                }
            }
        }
        // The severity follows the level, as the hook left it.
        log.severity_number = log.level.severity_number();
        log.attributes
            .insert("sentry.severity_text".to_owned(), log.level.as_str().into());
        // As breadcrumbs: deny-listed attributes filtered, card numbers in
        // the body masked, whatever `send_default_pii` says.
        self.scrub_attributes(&mut log.attributes);
        self.scrubber.mask_card_numbers(&mut log.body);
        self.logs.push(log, transport);
    }

    /// Batches a metric sample ([`crate::metrics`]) when `enable_metrics`
    /// is set: the scope's trace (and span) and the client's release,
    /// environment and SDK are added, then `before_send_metric` may change
    /// or drop it. A value that is not a finite number is dropped (JSON has
    /// no NaN) and counted as an internal error.
    pub fn capture_metric(&self, mut metric: Metric, scope: Option<&Scope>) {
        if !self.options.enable_metrics {
            return;
        }
        let Some(transport) = self.transport() else {
            return;
        };
        let drop_one = |reason| transport.record_discard(reason, DataCategory::TraceMetric, 1);
        // A sample recorded from inside `before_send_metric` is served
        // once; deeper, it is dropped instead of recursing.
        let Some(_depth) = DepthGuard::enter() else {
            drop_one(DiscardReason::InternalSdkError);
            return;
        };
        if !metric.value.is_finite() {
            sdk_debug!(
                self,
                "metric {:?} has no finite value; dropped",
                metric.name
            );
            drop_one(DiscardReason::InternalSdkError);
            return;
        }
        self.add_telemetry_context(
            scope,
            &mut metric.trace_id,
            &mut metric.span_id,
            &mut metric.attributes,
        );
        if let Some(hook) = &self.options.before_send_metric {
            let bytes = item_bytes(&metric);
            let lost = |reason: DiscardReason| {
                drop_one(reason.clone());
                transport.record_discard(reason, DataCategory::TraceMetricByte, bytes);
            };
            match run_callback(|| hook(metric)) {
                Ok(Some(kept)) if kept.value.is_finite() => metric = kept,
                Ok(Some(_)) => {
                    sdk_debug!(self, "before_send_metric left no finite value; dropped");
                    lost(DiscardReason::InternalSdkError);
                    return;
                }
                Ok(None) => {
                    lost(DiscardReason::BeforeSend);
                    return;
                }
                Err(_) => {
                    sdk_debug!(self, "before_send_metric panicked; the sample is dropped");
                    lost(DiscardReason::CallbackError);
                    return;
                }
            }
        }
        self.scrub_attributes(&mut metric.attributes);
        self.metrics.push(metric, transport);
    }

    /// What log lines and metric samples share: the scope's trace (and its
    /// span, inside one), a random trace without a scope (Relay requires
    /// one), the client's release, environment ([`DEFAULT_ENVIRONMENT`] unless set,
    /// as events), server name and SDK, and with `send_default_pii` the
    /// scope's user (`user.id`, `user.name`, `user.email`,
    /// `user.ip_address`, as the official Python SDK adds them), as
    /// attributes the caller did not set.
    fn add_telemetry_context(
        &self,
        scope: Option<&Scope>,
        trace_id: &mut Option<TraceId>,
        span_id: &mut Option<SpanId>,
        attributes: &mut std::collections::BTreeMap<String, LogAttribute>,
    ) {
        match scope {
            Some(scope) => {
                trace_id.get_or_insert_with(|| scope.current_trace_id());
                if span_id.is_none() {
                    *span_id = scope.current_span_id();
                }
            }
            None => {
                trace_id.get_or_insert_with(TraceId::random);
            }
        }
        let o = &self.options;
        let defaults = [
            ("sentry.release", o.release.as_deref()),
            (
                "sentry.environment",
                Some(o.environment.as_deref().unwrap_or(DEFAULT_ENVIRONMENT)),
            ),
            ("server.address", o.server_name.as_deref()),
            ("sentry.sdk.name", Some(&*self.sdk_info.name)),
            ("sentry.sdk.version", Some(&*self.sdk_info.version)),
        ];
        let user = scope
            .filter(|_| o.send_default_pii)
            .and_then(|scope| scope.user());
        let user_attributes = [
            ("user.id", user.and_then(|u| u.id.as_deref())),
            ("user.name", user.and_then(|u| u.username.as_deref())),
            ("user.email", user.and_then(|u| u.email.as_deref())),
            (
                "user.ip_address",
                user.and_then(|u| u.ip_address.as_deref()),
            ),
        ];
        for (key, value) in defaults.into_iter().chain(user_attributes) {
            if let Some(value) = value {
                attributes
                    .entry(key.to_owned())
                    .or_insert_with(|| value.into());
            }
        }
    }

    /// Filters deny-listed attributes (as breadcrumb data, whatever
    /// `send_default_pii` says).
    fn scrub_attributes(&self, attributes: &mut std::collections::BTreeMap<String, LogAttribute>) {
        for (key, value) in attributes.iter_mut() {
            if self.scrubber.is_sensitive_key(key) {
                *value = crate::scrub::FILTERED.into();
            }
        }
    }

    /// Sends a prepared envelope as it is.
    pub fn send_envelope(&self, envelope: Envelope) {
        if let Some(transport) = self.transport() {
            transport.send_envelope(envelope);
        }
    }

    /// Runs `before_breadcrumb` and scrubbing on a breadcrumb about to be
    /// stored. `None` means it was dropped.
    pub fn prepare_breadcrumb(&self, breadcrumb: Breadcrumb) -> Option<Breadcrumb> {
        let mut breadcrumb = match &self.options.before_breadcrumb {
            Some(hook) => {
                // A hook that adds a breadcrumb (a `log` call with the log
                // bridge on) re-enters here; one level is served, the next
                // breadcrumb dropped.
                let Some(_depth) = DepthGuard::enter() else {
                    sdk_debug!(
                        self,
                        "breadcrumb added inside before_breadcrumb twice over: dropped"
                    );
                    return None;
                };
                self.guarded("before_breadcrumb", DataCategory::Default, || {
                    hook(breadcrumb)
                })?
            }
            None => breadcrumb,
        };
        self.scrub_breadcrumb(&mut breadcrumb);
        Some(breadcrumb)
    }

    /// Scrubs a breadcrumb in place (the second half of
    /// [`Client::prepare_breadcrumb`]).
    pub(crate) fn scrub_breadcrumb(&self, breadcrumb: &mut Breadcrumb) {
        pii::scrub_breadcrumb(&self.scrubber, breadcrumb);
    }

    /// Waits up to `timeout` for queued envelopes; `true` if all were sent.
    pub fn flush(&self, timeout: Option<Duration>) -> bool {
        match self.transport() {
            Some(t) => {
                self.logs.flush(&**t);
                self.metrics.flush(&**t);
                t.flush(timeout.unwrap_or(self.options.shutdown_timeout))
            }
            None => true,
        }
    }

    /// Ends the application session (`exited` unless it already ended),
    /// sends pending session aggregates, then flushes and shuts the transport
    /// down; the client is disabled after.
    pub fn close(&self, timeout: Option<Duration>) -> bool {
        if let Some(update) = self.app_session.end(crate::protocol::SessionStatus::Exited) {
            self.send_session(update);
        }
        self.flusher.stop();
        self.flush_session_aggregates();
        self.logs.stop(self.transport());
        self.metrics.stop(self.transport());
        if self.closed.swap(true, Ordering::AcqRel) {
            return true;
        }
        match &self.transport {
            Some(t) => t.shutdown(timeout.unwrap_or(self.options.shutdown_timeout)),
            None => true,
        }
    }

    /// The integration of type `I`, if the client has one.
    pub fn get_integration<I: Integration>(&self) -> Option<&I> {
        self.options
            .integrations
            .iter()
            .find_map(|i| (&**i as &dyn Any).downcast_ref::<I>())
    }
}
