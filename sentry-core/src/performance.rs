//! Tracing: transactions, spans, sampling and propagation (PROTOCOL.md §6, §9).
//!
//! A [`Transaction`] is the root span of a unit of work (a request, a job); it
//! collects child [`Span`]s and is sent as one `transaction` item when it
//! finishes. The sampling decision is taken once, when the transaction starts:
//! an unsampled transaction and its children allocate nothing per span and
//! cost little more than a few random numbers, while still propagating the
//! trace (and the decision) to downstream services. With tracing off (see
//! [`crate::ClientOptions::tracing_enabled`]) nothing is sampled, even when
//! a caller sampled the trace, and no decision of this service is
//! propagated: `sentry-trace` goes on without the sampled flag (or with the
//! caller's), the `baggage` without `sampled`, `sample_rate` and
//! `sample_rand` (or with the caller's context).
//!
//! ```
//! use sentry_core::performance::{start_transaction, TransactionContext};
//! use sentry_core::{test::{with_captured_envelopes_options, transactions_of}, ClientOptions};
//!
//! let envelopes = with_captured_envelopes_options(|| {
//!     let tx = start_transaction(TransactionContext::new("GET /users", "http.server"));
//!     let db = tx.start_child("db.query", "SELECT * FROM users");
//!     db.finish();
//!     tx.finish();
//! }, ClientOptions { traces_sample_rate: 1.0, ..Default::default() });
//! let txs = transactions_of(&envelopes);
//! assert_eq!(txs[0].name.as_deref(), Some("GET /users"));
//! assert_eq!(txs[0].spans[0].op.as_deref(), Some("db.query"));
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;

use crate::client::Client;
use crate::hub::{self, Hub};
use crate::propagation::{Dsc, IncomingTrace, SentryTrace};
use crate::protocol::{
    Contexts, DataCategory, DiscardReason, Map, Request, Span as ProtocolSpan, SpanId, SpanStatus,
    Timestamp, TraceContext, TraceId, Transaction as ProtocolTransaction, TransactionInfo, Values,
};

/// Decides the sample rate of a transaction from its context.
pub type TracesSampler = Arc<dyn Fn(&SamplingContext<'_>) -> f32 + Send + Sync>;

/// What a transaction is and where it continues from.
///
/// ```
/// use sentry_core::performance::TransactionContext;
/// let ctx = TransactionContext::continue_from_headers("GET /", "http.server", [
///     ("sentry-trace", "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1"),
/// ]);
/// assert_eq!(ctx.trace_id().to_string(), "771a43a4192642f0b136d5159a501700");
/// assert_eq!(ctx.parent_sampled(), Some(true));
/// ```
#[derive(Debug, Clone)]
pub struct TransactionContext {
    name: Cow<'static, str>,
    op: Cow<'static, str>,
    source: Cow<'static, str>,
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
    parent_sampled: Option<bool>,
    /// The caller's flag as it came (`parent_sampled` may be overridden
    /// with [`TransactionContext::set_sampled`]): what is passed on when
    /// this SDK takes no decision of its own.
    incoming_sampled: Option<bool>,
    dsc: Option<Dsc>,
    custom: Map,
    start_timestamp: Option<Timestamp>,
}

impl TransactionContext {
    /// A new trace.
    pub fn new(name: impl Into<Cow<'static, str>>, op: impl Into<Cow<'static, str>>) -> Self {
        TransactionContext {
            name: name.into(),
            op: op.into(),
            source: Cow::Borrowed("custom"),
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            parent_span_id: None,
            parent_sampled: None,
            incoming_sampled: None,
            dsc: None,
            custom: Map::new(),
            start_timestamp: None,
        }
    }

    /// Continues the trace described by incoming headers (`sentry-trace` or
    /// `traceparent`, and `baggage`); a new trace when there are none. A
    /// `traceparent` without Sentry baggage gives the trace id and parent
    /// span but not the sampling decision (it often comes from a proxy, not
    /// a Sentry SDK): this SDK samples as the head of the trace.
    pub fn continue_from_headers<'a, I>(
        name: impl Into<Cow<'static, str>>,
        op: impl Into<Cow<'static, str>>,
        headers: I,
    ) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        Self::continue_from(name, op, IncomingTrace::from_headers(headers))
    }

    /// Continues an already-parsed incoming trace.
    pub fn continue_from(
        name: impl Into<Cow<'static, str>>,
        op: impl Into<Cow<'static, str>>,
        incoming: IncomingTrace,
    ) -> Self {
        let mut ctx = Self::new(name, op);
        if let Some(parent) = incoming.parent {
            ctx.trace_id = parent.trace_id;
            ctx.parent_span_id = Some(parent.span_id);
            ctx.parent_sampled = parent.sampled;
            ctx.incoming_sampled = parent.sampled;
            ctx.dsc = incoming.dsc;
        }
        ctx
    }

    /// Continues the trace of `span`, a transaction or span of this process
    /// (often one handed to another thread or task): the new transaction is
    /// its child and keeps its sampling decision and dynamic sampling
    /// context. `None` starts a new trace. The official crate's name.
    ///
    /// ```
    /// use sentry_core::{start_transaction, ClientOptions, TransactionContext};
    /// use sentry_core::test::{transactions_of, with_captured_envelopes_options};
    ///
    /// let envelopes = with_captured_envelopes_options(|| {
    ///     let request = start_transaction(TransactionContext::new("GET /report", "http.server"));
    ///     let parent = Some(request.clone().into());
    ///     let hub = sentry_core::Hub::current();
    ///     let job = std::thread::spawn(move || sentry_core::Hub::run(hub, || {
    ///         let ctx = TransactionContext::continue_from_span("render report", "task", parent);
    ///         let job = start_transaction(ctx);
    ///         let trace = job.trace_context();
    ///         job.finish();
    ///         trace
    ///     }))
    ///     .join()
    ///     .unwrap();
    ///     assert_eq!(job.trace_id, request.trace_id());
    ///     assert_eq!(job.parent_span_id, Some(request.span_id()));
    ///     request.finish();
    /// }, ClientOptions { traces_sample_rate: 1.0, ..Default::default() });
    /// assert_eq!(transactions_of(&envelopes).len(), 2);
    /// ```
    pub fn continue_from_span(
        name: impl Into<Cow<'static, str>>,
        op: impl Into<Cow<'static, str>>,
        span: Option<TransactionOrSpan>,
    ) -> Self {
        let mut ctx = Self::new(name, op);
        if let Some(span) = span {
            let parent = span.trace_context();
            ctx.trace_id = parent.trace_id;
            ctx.parent_span_id = Some(parent.span_id);
            ctx.parent_sampled = Some(span.is_sampled());
            ctx.incoming_sampled = ctx.parent_sampled;
            ctx.dsc = Some(span.dsc());
        }
        ctx
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The transaction name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operation, e.g. `http.server`.
    pub fn op(&self) -> &str {
        &self.op
    }

    /// The upstream sampling decision, if any.
    pub fn parent_sampled(&self) -> Option<bool> {
        self.parent_sampled
    }

    /// Overrides the sampling decision (as if the parent had made it). With
    /// tracing off it decides nothing, and what is propagated stays the
    /// caller's flag (none when this service heads the trace).
    pub fn set_sampled(&mut self, sampled: Option<bool>) {
        self.parent_sampled = sampled;
    }

    /// The parent span, when continued.
    pub fn parent_span_id(&self) -> Option<SpanId> {
        self.parent_span_id
    }

    /// The incoming dynamic sampling context, when continued.
    pub fn dsc(&self) -> Option<&Dsc> {
        self.dsc.as_ref()
    }

    /// Sets the name source (`custom`, `url`, `route`, `view`, `component`,
    /// `task`). Names from raw URLs are not propagated in baggage.
    pub fn set_source(&mut self, source: impl Into<Cow<'static, str>>) {
        self.source = source.into();
    }

    /// Adds custom data for the `traces_sampler`.
    pub fn set_custom(&mut self, key: &str, value: Value) {
        self.custom.insert(key.to_owned(), value);
    }

    /// The custom sampling data.
    pub fn custom(&self) -> &Map {
        &self.custom
    }

    /// Sets an explicit start time (a [`Timestamp`] or a `SystemTime`).
    pub fn set_start_timestamp(&mut self, ts: impl Into<Timestamp>) {
        self.start_timestamp = Some(ts.into());
    }
}

/// What the `traces_sampler` sees.
#[derive(Debug)]
pub struct SamplingContext<'a> {
    /// The transaction being started.
    pub transaction_context: &'a TransactionContext,
    /// The upstream decision, if any.
    pub parent_sampled: Option<bool>,
    /// Custom data set on the context.
    pub custom: &'a Map,
}

/// The sampling decision and the numbers behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Decision {
    sampled: bool,
    rate: f64,
    rand: f64,
    /// Whether this SDK decided: tracing is on (see
    /// [`crate::ClientOptions::tracing_enabled`]). Without tracing nothing
    /// is sampled, and the trace goes on with no decision of this service.
    decided: bool,
}

fn parse_f64(dsc: Option<&Dsc>, key: &str) -> Option<f64> {
    dsc.and_then(|d| d.get(key))
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

fn decide(ctx: &TransactionContext, client: Option<&Client>) -> Decision {
    let incoming = ctx.dsc.as_ref();
    let incoming_rate = parse_f64(incoming, "sample_rate").filter(|r| (0.0..=1.0).contains(r));
    // sample_rand: from the trace, else consistent with an upstream decision,
    // else new. It is generated once per trace and then propagated.
    let rand = parse_f64(incoming, "sample_rand")
        .filter(|r| (0.0..1.0).contains(r))
        .unwrap_or_else(|| {
            let u = fastrand::f64();
            match (ctx.parent_sampled, incoming_rate) {
                (Some(true), Some(rate)) => u * rate,
                (Some(false), Some(rate)) => rate + u * (1.0 - rate),
                _ => u,
            }
        });
    let not_decided = Decision {
        sampled: false,
        rate: 0.0,
        rand,
        decided: false,
    };
    // Tracing off: nothing is sampled, whatever a caller decided (as the
    // Python SDK's `has_tracing_enabled` check does).
    let Some(client) = client.filter(|c| c.options().tracing_enabled()) else {
        return not_decided;
    };
    let options = client.options();
    let rate = if let Some(sampler) = &options.traces_sampler {
        let sc = SamplingContext {
            transaction_context: ctx,
            parent_sampled: ctx.parent_sampled,
            custom: &ctx.custom,
        };
        // A sampler that starts a transaction re-enters here; one level is
        // served, the next is not sampled.
        match crate::client::DepthGuard::enter()
            .map(|_depth| crate::client::run_callback(|| sampler(&sc)))
        {
            Some(Ok(r)) if r.is_finite() => f64::from(r).clamp(0.0, 1.0),
            _ => 0.0,
        }
    } else if let Some(parent) = ctx.parent_sampled {
        return Decision {
            sampled: parent,
            rate: incoming_rate.unwrap_or(if parent { 1.0 } else { 0.0 }),
            rand,
            decided: true,
        };
    } else {
        f64::from(options.traces_sample_rate)
    };
    Decision {
        sampled: rand < rate,
        rate,
        rand,
        decided: true,
    }
}

/// Immutable facts about a transaction, shared with its spans.
#[derive(Debug)]
struct TraceInfo {
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
    /// The root span's operation (also when not sampled: events captured
    /// inside an unsampled transaction still name it).
    op: Cow<'static, str>,
    decision: Decision,
    /// The caller's sampling decision as it came, when continued.
    incoming_sampled: Option<bool>,
    name: Cow<'static, str>,
    source: Cow<'static, str>,
    frozen_dsc: Option<Dsc>,
    client: Option<Arc<Client>>,
}

impl TraceInfo {
    /// The sampled flag of the `sentry-trace` header sent on: this SDK's
    /// decision, or without tracing the caller's (none when this service
    /// heads the trace), so that a service downstream that traces decides
    /// for itself.
    fn propagated_sampled(&self) -> Option<bool> {
        if self.decision.decided {
            Some(self.decision.sampled)
        } else {
            self.incoming_sampled
        }
    }
}

#[derive(Debug)]
struct TxnState {
    name: Option<String>,
    status: Option<SpanStatus>,
    tags: BTreeMap<String, String>,
    data: Map,
    request: Option<Request>,
    start: Timestamp,
    spans: Vec<ProtocolSpan>,
    dropped_spans: u64,
    finished: bool,
    origin: Option<String>,
}

#[derive(Debug)]
struct TxnInner {
    info: TraceInfo,
    /// `None` for unsampled transactions: nothing is recorded.
    state: Option<Mutex<TxnState>>,
    /// The DSC, computed on first use: it never changes for a trace.
    dsc: std::sync::OnceLock<Dsc>,
    /// The operation, when set after the start ([`Transaction::set_op`]);
    /// kept also when not sampled, since events still name it.
    op: Mutex<Option<Cow<'static, str>>>,
}

impl TxnInner {
    /// The DSC, computed once and then shared (cloning it is cheap): the
    /// frozen incoming one, or the one this SDK starts for a new trace
    /// (PROTOCOL.md §9.2), with the transaction's name as it is now.
    fn dsc_ref(&self) -> &Dsc {
        self.dsc_named(None)
    }

    /// [`TxnInner::dsc_ref`], where a caller that holds the transaction's
    /// state (or took its name out) passes the current `name`.
    fn dsc_named(&self, name: Option<&str>) -> &Dsc {
        self.dsc.get_or_init(|| {
            let info = &self.info;
            match &info.frozen_dsc {
                Some(frozen) => {
                    let mut dsc = frozen.clone();
                    // The decision used a sample_rand made here (none came,
                    // or it was out of range): services downstream must
                    // decide with the same one.
                    // (An empty one, from a caller without baggage, stays
                    // empty: a DSC of only a sample_rand would mean nothing.
                    // With tracing off nothing was decided here: the
                    // caller's context goes on as it came.)
                    if info.decision.decided
                        && !dsc.is_empty()
                        && parse_f64(Some(&dsc), "sample_rand")
                            .filter(|r| (0.0..1.0).contains(r))
                            .is_none()
                    {
                        dsc.set(
                            "sample_rand",
                            crate::propagation::rand_string(info.decision.rand),
                        );
                    }
                    dsc
                }
                // Tracing off and heading the trace: the trace's own
                // context without a decision, as errors outside any span
                // carry it (no `sampled`, `sample_rand` or `sample_rate`).
                None if !info.decision.decided => match info.client.as_deref() {
                    Some(client) => Dsc::for_scope_trace(client.dsc_base(), info.trace_id),
                    None => {
                        let mut dsc = Dsc::new();
                        dsc.set("trace_id", info.trace_id.to_string());
                        dsc
                    }
                },
                None => {
                    // Renamed since it started (the route became known):
                    // dynamic sampling rules see the name it is sent with.
                    let renamed: Option<Cow<'static, str>> = match name {
                        Some(n) => Some(Cow::Owned(n.to_owned())),
                        None => self
                            .state
                            .as_ref()
                            .and_then(|s| s.lock().name.clone())
                            .map(Cow::Owned),
                    };
                    let name = renamed.as_ref().unwrap_or(&info.name);
                    let transaction = (info.source != "url" && !name.is_empty()).then_some(name);
                    Dsc::for_new_trace(
                        info.client.as_deref().map(Client::dsc_base),
                        info.trace_id,
                        info.decision.rand,
                        info.decision.rate,
                        info.decision.sampled,
                        transaction,
                    )
                }
            }
        })
    }

    fn dsc(&self) -> Dsc {
        self.dsc_ref().clone()
    }
}

/// A running transaction. Cloning shares it. Dropping it without
/// [`Transaction::finish`] sends nothing.
#[derive(Debug, Clone)]
pub struct Transaction {
    inner: Arc<TxnInner>,
}

/// A running child span. Cloning shares it.
#[derive(Debug)]
pub struct Span {
    txn: Arc<TxnInner>,
    span_id: SpanId,
    /// Kept in the handle: the trace context of events captured while the
    /// span is set on a scope names it even when the span's data is gone
    /// (finished, sent with its transaction, or never recorded).
    parent_span_id: SpanId,
    data: Mutex<SpanData>,
}

/// Where a span's data is.
///
/// A span that only one handle knows keeps its data in that handle and takes
/// the transaction's lock once, when it finishes and joins the span list
/// (as the official SDKs do). Cloning it moves the data into the list first,
/// so that every clone sees the same span.
///
/// Outside `Local`, the handle keeps the span's `op` (a copy, which
/// [`Span::set_op`] sets on the handle it is called on; a recorded span's
/// list entry, which its clones share, is read first) for
/// [`Span::trace_context`]: the list entry loses it once the transaction
/// finishes and sends it, and an unrecorded span has no entry at all.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum SpanData {
    /// Not recorded: the transaction is not sampled, was full (`max_spans`)
    /// or had finished. Holds the span's `op`.
    Nothing(Option<Cow<'static, str>>),
    /// Running, held by this handle only (inline: a box would cost an
    /// allocation per span).
    Local(ProtocolSpan),
    /// In the transaction's span list, at this index; and the span's `op`.
    Slot(usize, Option<Cow<'static, str>>),
}

impl Clone for Span {
    fn clone(&self) -> Self {
        let mut data = self.data.lock();
        if let SpanData::Local(_) = &*data {
            let SpanData::Local(span) = std::mem::replace(&mut *data, SpanData::Nothing(None))
            else {
                unreachable!("checked above")
            };
            // A literal `op` (the usual case) is copied as a pointer.
            let op = span.op.clone();
            *data = match self.txn.record(span) {
                Some(slot) => SpanData::Slot(slot, op),
                None => SpanData::Nothing(op),
            };
        }
        let shared = match &*data {
            SpanData::Slot(slot, op) => SpanData::Slot(*slot, op.clone()),
            SpanData::Nothing(op) => SpanData::Nothing(op.clone()),
            SpanData::Local(span) => SpanData::Nothing(span.op.clone()),
        };
        Span {
            txn: self.txn.clone(),
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            data: Mutex::new(shared),
        }
    }
}

/// Starts a transaction on the current hub.
pub fn start_transaction(ctx: TransactionContext) -> Transaction {
    if !hub::any_client() {
        return Transaction::start(ctx, None);
    }
    Hub::with_current(|hub| hub.start_transaction(ctx))
}

/// Starts a transaction on the current hub that began at `timestamp` (a
/// [`Timestamp`] or a `SystemTime`), for work measured before it was
/// reported. The official crate's name.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use sentry_core::performance::{start_transaction_with_timestamp, TransactionContext};
/// use sentry_core::test::{transactions_of, with_captured_envelopes_options};
///
/// let began = SystemTime::now() - Duration::from_secs(3);
/// let envelopes = with_captured_envelopes_options(|| {
///     start_transaction_with_timestamp(TransactionContext::new("import", "task"), began).finish();
/// }, sentry_core::ClientOptions { traces_sample_rate: 1.0, ..Default::default() });
/// let tx = &transactions_of(&envelopes)[0];
/// let took = tx.timestamp.unwrap().as_secs_f64() - tx.start_timestamp.as_secs_f64();
/// assert!(took >= 3.0, "{took}");
/// ```
pub fn start_transaction_with_timestamp(
    mut ctx: TransactionContext,
    timestamp: impl Into<Timestamp>,
) -> Transaction {
    ctx.set_start_timestamp(timestamp);
    start_transaction(ctx)
}

impl Hub {
    /// Starts a transaction with this hub's client deciding the sampling.
    pub fn start_transaction(&self, ctx: TransactionContext) -> Transaction {
        Transaction::start(ctx, self.client())
    }

    /// The span set on the top scope, if any.
    pub fn active_span(&self) -> Option<TransactionOrSpan> {
        self.top_scope().get_span()
    }
}

impl Transaction {
    fn start(ctx: TransactionContext, client: Option<Arc<Client>>) -> Transaction {
        let decision = decide(&ctx, client.as_deref());
        if !decision.sampled {
            // With tracing off (no rate, no sampler) nothing was going to be
            // sent, so nothing counts as dropped: the server middleware
            // starts a transaction on every request.
            if let Some(c) = client.as_deref().filter(|_| decision.decided) {
                c.record_discard(DiscardReason::SampleRate, DataCategory::Transaction);
                // Its root span; an unsampled transaction records no child
                // spans to count (as the Python SDK counts it).
                c.record_discard(DiscardReason::SampleRate, DataCategory::Span);
            }
        }
        let state = decision.sampled.then(|| {
            Mutex::new(TxnState {
                name: None,
                status: None,
                tags: BTreeMap::new(),
                data: Map::new(),
                request: None,
                start: ctx.start_timestamp.unwrap_or_else(Timestamp::now),
                spans: Vec::new(),
                dropped_spans: 0,
                finished: false,
                origin: None,
            })
        });
        Transaction {
            inner: Arc::new(TxnInner {
                info: TraceInfo {
                    trace_id: ctx.trace_id,
                    span_id: ctx.span_id,
                    parent_span_id: ctx.parent_span_id,
                    op: ctx.op,
                    decision,
                    incoming_sampled: ctx.incoming_sampled,
                    name: ctx.name,
                    source: ctx.source,
                    frozen_dsc: ctx.dsc,
                    client,
                },
                state,
                dsc: std::sync::OnceLock::new(),
                op: Mutex::new(None),
            }),
        }
    }

    /// Whether this transaction is recorded and sent.
    pub fn is_sampled(&self) -> bool {
        self.inner.state.is_some()
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.inner.info.trace_id
    }

    /// The root span id.
    pub fn span_id(&self) -> SpanId {
        self.inner.info.span_id
    }

    /// Starts a child span. `op` and `description` are taken as they are: a
    /// string literal or an owned `String` is stored without copying.
    ///
    /// ```
    /// use sentry_core::performance::{start_transaction, TransactionContext};
    /// let tx = start_transaction(TransactionContext::new("job", "task"));
    /// let table = "users";
    /// let span = tx.start_child("db.query", format!("SELECT * FROM {table}"));
    /// span.finish();
    /// tx.finish();
    /// ```
    pub fn start_child(
        &self,
        op: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Span {
        Span::child_of(
            &self.inner,
            self.inner.info.span_id,
            op.into(),
            description.into(),
        )
    }

    fn with_state(&self, f: impl FnOnce(&mut TxnState)) {
        if let Some(state) = &self.inner.state {
            f(&mut state.lock());
        }
    }

    /// Renames the transaction (e.g. once the route is known).
    pub fn set_name(&self, name: &str) {
        self.with_state(|s| s.name = Some(name.to_owned()));
    }

    /// Sets the operation (the root span's `op`) after the start, as the
    /// `tracing` bridge does for a `sentry.op` field recorded later.
    /// Events captured inside from then on name it too.
    ///
    /// ```
    /// use sentry_core::performance::{start_transaction, TransactionContext};
    /// use sentry_core::{test::with_captured_envelopes_options, ClientOptions};
    ///
    /// with_captured_envelopes_options(|| {
    ///     let tx = start_transaction(TransactionContext::new("job", "task"));
    ///     tx.set_op("queue.process");
    ///     assert_eq!(tx.trace_context().op.as_deref(), Some("queue.process"));
    ///     tx.finish();
    /// }, ClientOptions { traces_sample_rate: 1.0, ..Default::default() });
    /// ```
    pub fn set_op(&self, op: impl Into<Cow<'static, str>>) {
        *self.inner.op.lock() = Some(op.into());
    }

    /// The operation: the one it started with, or the one set since.
    fn current_op(&self) -> Cow<'static, str> {
        self.inner
            .op
            .lock()
            .clone()
            .unwrap_or_else(|| self.inner.info.op.clone())
    }

    /// Sets the status.
    pub fn set_status(&self, status: SpanStatus) {
        self.with_state(|s| s.status = Some(status));
    }

    /// The status set so far; `None` when none was set, or when the
    /// transaction is not sampled (it records nothing).
    ///
    /// Integrations that end a transaction with a status of their own (the
    /// HTTP server layer maps the response code) keep one the application
    /// set:
    ///
    /// ```
    /// use sentry_core::performance::{start_transaction, TransactionContext};
    /// use sentry_core::{protocol::SpanStatus, test::with_captured_envelopes_options, ClientOptions};
    ///
    /// with_captured_envelopes_options(|| {
    ///     let tx = start_transaction(TransactionContext::new("GET /", "http.server"));
    ///     assert_eq!(tx.status(), None);
    ///     tx.set_status(SpanStatus::ResourceExhausted);
    ///     assert_eq!(tx.status(), Some(SpanStatus::ResourceExhausted));
    ///     tx.finish();
    /// }, ClientOptions { traces_sample_rate: 1.0, ..Default::default() });
    /// ```
    pub fn status(&self) -> Option<SpanStatus> {
        self.inner
            .state
            .as_ref()
            .and_then(|state| state.lock().status)
    }

    /// Sets a tag; any `Display` value (`tx.set_tag("attempt", 3)`).
    pub fn set_tag<V: ToString>(&self, key: &str, value: V) {
        self.with_state(|s| {
            s.tags.insert(key.to_owned(), value.to_string());
        });
    }

    /// Sets a data value on the root span.
    pub fn set_data(&self, key: &str, value: Value) {
        self.with_state(|s| {
            s.data.insert(key.to_owned(), value);
        });
    }

    /// A copy of the root span's data (empty when not sampled).
    pub fn data(&self) -> Map {
        self.inner
            .state
            .as_ref()
            .map(|state| state.lock().data.clone())
            .unwrap_or_default()
    }

    /// Attaches the HTTP request.
    pub fn set_request(&self, request: Request) {
        self.with_state(|s| s.request = Some(request));
    }

    /// Sets what created the transaction (`trace.origin`), e.g.
    /// `auto.http.tower` for an integration; unset means `manual`.
    ///
    /// ```
    /// use sentry_core::performance::{start_transaction, TransactionContext};
    /// let tx = start_transaction(TransactionContext::new("job", "task"));
    /// tx.set_origin("auto.queue.worker");
    /// tx.finish();
    /// ```
    pub fn set_origin(&self, origin: &str) {
        self.with_state(|s| s.origin = Some(origin.to_owned()));
    }

    /// The `sentry-trace` header value for outgoing requests.
    pub fn sentry_trace(&self) -> SentryTrace {
        SentryTrace {
            trace_id: self.inner.info.trace_id,
            span_id: self.inner.info.span_id,
            sampled: self.inner.info.propagated_sampled(),
        }
    }

    /// The dynamic sampling context (the `baggage` entries and the envelope
    /// header `trace`).
    pub fn dsc(&self) -> Dsc {
        self.inner.dsc()
    }

    /// Headers to add to an outgoing request: `sentry-trace` and `baggage`.
    pub fn trace_headers(&self) -> [(&'static str, String); 2] {
        [
            ("sentry-trace", self.sentry_trace().to_string()),
            ("baggage", self.inner.dsc_ref().to_baggage()),
        ]
    }

    /// The trace context for events captured inside this transaction.
    pub fn trace_context(&self) -> TraceContext {
        let info = &self.inner.info;
        TraceContext {
            trace_id: info.trace_id,
            span_id: info.span_id,
            parent_span_id: info.parent_span_id,
            op: Some(self.current_op()),
            ..Default::default()
        }
    }

    /// Finishes now and sends the transaction (when sampled).
    pub fn finish(self) {
        if self.inner.state.is_some() {
            self.finish_with_timestamp(Timestamp::now())
        }
    }

    /// Finishes at an explicit time (a [`Timestamp`] or a `SystemTime`) and
    /// sends the transaction (when sampled). Finishing twice sends once.
    pub fn finish_with_timestamp(self, end: impl Into<Timestamp>) {
        let end = end.into();
        let Some(state) = &self.inner.state else {
            return;
        };
        let mut state = state.lock();
        if state.finished {
            return;
        }
        state.finished = true;
        let info = &self.inner.info;
        let Some(client) = info.client.clone() else {
            return;
        };
        if state.dropped_spans > 0 {
            client.record_discard_n(
                DiscardReason::BufferOverflow,
                DataCategory::Span,
                state.dropped_spans,
            );
        }
        let mut spans = std::mem::take(&mut state.spans);
        // Relay rejects a transaction holding a span without an end.
        spans.retain(|s| s.timestamp.is_some());
        let trace = TraceContext {
            trace_id: info.trace_id,
            span_id: info.span_id,
            parent_span_id: info.parent_span_id,
            op: Some(self.current_op()),
            status: Some(state.status.unwrap_or(SpanStatus::Ok)),
            data: std::mem::take(&mut state.data),
            origin: state.origin.take(),
            ..Default::default()
        };
        let mut contexts = Contexts::new();
        contexts.insert("trace".to_owned(), trace.into());
        // Built on the heap in place and every field spelled out: the
        // `Default` of a transaction reads the clock for a start time that
        // is overwritten here.
        let tx = Box::new(ProtocolTransaction {
            event_id: crate::protocol::new_uuid(),
            ty: Cow::Borrowed("transaction"),
            name: Some(
                state
                    .name
                    .take()
                    .map_or_else(|| info.name.clone(), Cow::Owned),
            ),
            release: None,
            environment: None,
            platform: Cow::Borrowed("native"),
            user: None,
            request: state.request.take(),
            tags: std::mem::take(&mut state.tags),
            extra: Map::new(),
            sdk: None,
            start_timestamp: state.start,
            // Never before the start: Relay drops such a transaction.
            timestamp: Some(if end < state.start { state.start } else { end }),
            spans,
            contexts,
            breadcrumbs: Values::new(),
            measurements: Map::new(),
            transaction_info: Some(TransactionInfo::with_source(info.source.clone())),
            other: Map::new(),
        });
        drop(state);
        let trace = self.inner.dsc_named(tx.name.as_deref()).clone();
        let scope = Hub::with_current(|hub| hub.top_scope());
        client.capture_boxed_transaction(tx, Some(&scope), Some(trace));
    }
}

impl TxnInner {
    /// Adds a span to the list; its index, or `None` when the transaction
    /// finished or is full (then the span is counted as dropped).
    #[inline]
    fn record(&self, span: ProtocolSpan) -> Option<usize> {
        let state = self.state.as_ref()?;
        let max = self
            .info
            .client
            .as_ref()
            .map_or(usize::MAX, |c| c.options().max_spans);
        let mut state = state.lock();
        if state.finished {
            return None;
        }
        if state.spans.len() >= max {
            state.dropped_spans += 1;
            return None;
        }
        if state.spans.capacity() == 0 {
            state.spans.reserve(16);
        }
        state.spans.push(span);
        Some(state.spans.len() - 1)
    }
}

impl Span {
    fn child_of(
        txn: &Arc<TxnInner>,
        parent: SpanId,
        op: Cow<'static, str>,
        description: Cow<'static, str>,
    ) -> Span {
        let span_id = SpanId::random();
        let data = match &txn.state {
            Some(_) => SpanData::Local(ProtocolSpan {
                trace_id: txn.info.trace_id,
                span_id,
                parent_span_id: Some(parent),
                op: Some(op),
                description: (!description.is_empty()).then_some(description),
                start_timestamp: Timestamp::now(),
                ..Default::default()
            }),
            None => SpanData::Nothing(Some(op)),
        };
        Span {
            txn: txn.clone(),
            span_id,
            parent_span_id: parent,
            data: Mutex::new(data),
        }
    }

    /// Whether the trace is sampled (and so this span recorded, unless the
    /// transaction already held `max_spans` spans).
    pub fn is_sampled(&self) -> bool {
        self.txn.info.decision.sampled
    }

    /// This span's id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.txn.info.trace_id
    }

    /// Starts a child of this span (see [`Transaction::start_child`]).
    pub fn start_child(
        &self,
        op: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Span {
        Span::child_of(&self.txn, self.span_id, op.into(), description.into())
    }

    /// Runs `f` on the span's data while it is running.
    fn with_span<R>(&self, f: impl FnOnce(&mut ProtocolSpan) -> R) -> Option<R> {
        let data = self.data.lock();
        match &*data {
            SpanData::Nothing(_) => None,
            SpanData::Local(_) => {
                let mut data = data;
                match &mut *data {
                    SpanData::Local(span) => Some(f(span)),
                    _ => None,
                }
            }
            SpanData::Slot(slot, _) => {
                let slot = *slot;
                drop(data);
                let mut state = self.txn.state.as_ref()?.lock();
                if state.finished {
                    return None;
                }
                state
                    .spans
                    .get_mut(slot)
                    .filter(|s| s.timestamp.is_none())
                    .map(f)
            }
        }
    }

    /// Sets the status.
    pub fn set_status(&self, status: SpanStatus) {
        self.with_span(|s| s.status = Some(status));
    }

    /// The status set so far; `None` when none was set, or once the span
    /// is no longer recorded (finished, or its transaction not sampled). A
    /// child's status is its own: the transaction's is set on the
    /// transaction.
    ///
    /// ```
    /// use sentry_core::performance::{start_transaction, TransactionContext};
    /// use sentry_core::{protocol::SpanStatus, test::with_captured_envelopes_options, ClientOptions};
    ///
    /// with_captured_envelopes_options(|| {
    ///     let tx = start_transaction(TransactionContext::new("GET /", "http.server"));
    ///     let span = tx.start_child("db.query", "SELECT 1");
    ///     span.set_status(SpanStatus::DeadlineExceeded);
    ///     assert_eq!(span.status(), Some(SpanStatus::DeadlineExceeded));
    ///     assert_eq!(tx.status(), None);
    ///     span.finish();
    ///     tx.finish();
    /// }, ClientOptions { traces_sample_rate: 1.0, ..Default::default() });
    /// ```
    pub fn status(&self) -> Option<SpanStatus> {
        self.with_span(|s| s.status).flatten()
    }

    /// Sets the operation after the start (see [`Transaction::set_op`]).
    pub fn set_op(&self, op: impl Into<Cow<'static, str>>) {
        let op = op.into();
        let mut data = self.data.lock();
        match &mut *data {
            SpanData::Local(span) => span.op = Some(op),
            SpanData::Nothing(kept) => *kept = Some(op),
            SpanData::Slot(slot, kept) => {
                *kept = Some(op.clone());
                let slot = *slot;
                drop(data);
                if let Some(state) = &self.txn.state {
                    let mut state = state.lock();
                    if !state.finished {
                        if let Some(span) =
                            state.spans.get_mut(slot).filter(|s| s.timestamp.is_none())
                        {
                            span.op = Some(op);
                        }
                    }
                }
            }
        }
    }

    /// Sets a data value.
    pub fn set_data(&self, key: &str, value: Value) {
        self.with_span(|s| {
            s.data.insert(key.to_owned(), value);
        });
    }

    /// A copy of the span's data (empty when not recorded).
    pub fn data(&self) -> Map {
        self.with_span(|s| (*s.data).clone()).unwrap_or_default()
    }

    /// Sets a tag; any `Display` value (`span.set_tag("rows", 12)`).
    pub fn set_tag<V: ToString>(&self, key: &str, value: V) {
        self.with_span(|s| {
            s.tags.insert(key.to_owned(), value.to_string());
        });
    }

    /// Describes the HTTP request the span stands for, in the span's data
    /// by Sentry's names: `http.request.method`, `url`, `http.query` and
    /// each header as `http.request.header.<name>` (lower case). The body
    /// and cookies are left out: a span is no place for them.
    ///
    /// ```
    /// use sentry_core::protocol::Request;
    /// use sentry_core::{start_transaction, ClientOptions, TransactionContext};
    /// use sentry_core::test::{transactions_of, with_captured_envelopes_options};
    ///
    /// let envelopes = with_captured_envelopes_options(|| {
    ///     let tx = start_transaction(TransactionContext::new("sync", "task"));
    ///     let span = tx.start_child("http.client", "GET https://api.example/items");
    ///     let mut request = Request::default();
    ///     request.method = Some("GET".into());
    ///     request.url = Some("https://api.example/items".into());
    ///     request.headers.insert("Accept".into(), "application/json".into());
    ///     span.set_request(request);
    ///     span.finish();
    ///     tx.finish();
    /// }, ClientOptions { traces_sample_rate: 1.0, ..Default::default() });
    /// let data = &transactions_of(&envelopes)[0].spans[0].data;
    /// assert_eq!(data["http.request.method"], "GET");
    /// assert_eq!(data["http.request.header.accept"], "application/json");
    /// ```
    pub fn set_request(&self, request: Request) {
        self.with_span(|s| {
            let mut put = |key: String, value: String| {
                s.data.insert(key, Value::String(value));
            };
            if let Some(method) = request.method {
                put("http.request.method".to_owned(), method);
            }
            if let Some(url) = request.url {
                put("url".to_owned(), url);
            }
            if let Some(query) = request.query_string {
                put("http.query".to_owned(), query);
            }
            for (name, value) in request.headers {
                put(
                    format!("http.request.header.{}", name.to_ascii_lowercase()),
                    value,
                );
            }
        });
    }

    /// Sets what created the span (`origin`), e.g. `auto.http.reqwest` for
    /// an integration; unset means `manual`.
    pub fn set_origin(&self, origin: &str) {
        self.with_span(|s| s.origin = Some(origin.to_owned()));
    }

    /// Sets the description.
    pub fn set_description(&self, description: impl Into<Cow<'static, str>>) {
        let description = description.into();
        self.with_span(|s| s.description = Some(description));
    }

    /// The `sentry-trace` header value for outgoing requests.
    pub fn sentry_trace(&self) -> SentryTrace {
        SentryTrace {
            trace_id: self.txn.info.trace_id,
            span_id: self.span_id,
            sampled: self.txn.info.propagated_sampled(),
        }
    }

    /// The trace's dynamic sampling context.
    pub fn dsc(&self) -> Dsc {
        self.txn.dsc()
    }

    /// Headers to add to an outgoing request: `sentry-trace` and `baggage`.
    pub fn trace_headers(&self) -> [(&'static str, String); 2] {
        [
            ("sentry-trace", self.sentry_trace().to_string()),
            ("baggage", self.txn.dsc_ref().to_baggage()),
        ]
    }

    /// The trace context for events captured inside this span: its trace,
    /// span and parent span ids and its `op`, also once it has finished (a
    /// span may stay set on a scope after that), was sent with its
    /// transaction or was never recorded (not sampled, `max_spans`).
    pub fn trace_context(&self) -> TraceContext {
        let op = match &*self.data.lock() {
            SpanData::Local(span) => span.op.clone(),
            SpanData::Slot(slot, kept) => {
                // The list entry while it is there: a clone of this handle
                // may have set another op since ([`Span::set_op`]).
                let live = self.txn.state.as_ref().and_then(|state| {
                    let state = state.lock();
                    if state.finished {
                        return None;
                    }
                    // Only while it runs: `set_op` leaves an ended span's
                    // entry alone and sets the handle's copy.
                    state
                        .spans
                        .get(*slot)
                        .filter(|s| s.timestamp.is_none())
                        .and_then(|s| s.op.clone())
                });
                live.or_else(|| kept.clone())
            }
            SpanData::Nothing(op) => op.clone(),
        };
        TraceContext {
            trace_id: self.txn.info.trace_id,
            span_id: self.span_id,
            parent_span_id: Some(self.parent_span_id),
            op,
            ..Default::default()
        }
    }

    /// Finishes now.
    pub fn finish(mut self) {
        if !matches!(self.data.get_mut(), SpanData::Nothing(_)) {
            self.end(Timestamp::now())
        }
    }

    /// Finishes at an explicit time (a [`Timestamp`] or a `SystemTime`).
    /// Finishing twice records once; spans still running when their
    /// transaction finishes are left out of it.
    pub fn finish_with_timestamp(mut self, end: impl Into<Timestamp>) {
        self.end(end.into())
    }

    /// Ends the span in place (the handle is not moved around: it holds
    /// the span's data).
    fn end(&mut self, end: Timestamp) {
        fn end_span(s: &mut ProtocolSpan, end: Timestamp) {
            // An end before the start (a wrong explicit time, or a span
            // ended on another thread whose clock anchor is a microsecond
            // behind) would make Relay drop the transaction.
            s.timestamp = Some(if end < s.start_timestamp {
                s.start_timestamp
            } else {
                end
            });
            if s.status.is_none() {
                s.status = Some(SpanStatus::Ok);
            }
        }
        match self.data.get_mut() {
            SpanData::Nothing(_) => {}
            SpanData::Local(span) => {
                end_span(span, end);
                let SpanData::Local(span) =
                    std::mem::replace(self.data.get_mut(), SpanData::Nothing(None))
                else {
                    return;
                };
                self.txn.record(span);
            }
            SpanData::Slot(slot, _) => {
                let slot = *slot;
                let Some(state) = &self.txn.state else {
                    return;
                };
                let mut state = state.lock();
                if state.finished {
                    return;
                }
                if let Some(s) = state.spans.get_mut(slot).filter(|s| s.timestamp.is_none()) {
                    end_span(s, end);
                }
            }
        }
    }
}

/// Either a transaction or a span: what a scope holds as the active span.
// A `Span` holds a running span's data inline (a box would cost an
// allocation per span); the one in a scope is a clone, so it is in the
// transaction's list and its inline part is empty.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum TransactionOrSpan {
    /// A transaction.
    Transaction(Transaction),
    /// A span.
    Span(Span),
}

impl From<Transaction> for TransactionOrSpan {
    fn from(t: Transaction) -> Self {
        TransactionOrSpan::Transaction(t)
    }
}

impl From<Span> for TransactionOrSpan {
    fn from(s: Span) -> Self {
        TransactionOrSpan::Span(s)
    }
}

impl TransactionOrSpan {
    /// Starts a child span (see [`Transaction::start_child`]).
    pub fn start_child(
        &self,
        op: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Span {
        match self {
            TransactionOrSpan::Transaction(t) => t.start_child(op, description),
            TransactionOrSpan::Span(s) => s.start_child(op, description),
        }
    }

    /// Whether it is recorded.
    pub fn is_sampled(&self) -> bool {
        match self {
            TransactionOrSpan::Transaction(t) => t.is_sampled(),
            TransactionOrSpan::Span(s) => s.is_sampled(),
        }
    }

    /// Sets a data value.
    pub fn set_data(&self, key: &str, value: Value) {
        match self {
            TransactionOrSpan::Transaction(t) => t.set_data(key, value),
            TransactionOrSpan::Span(s) => s.set_data(key, value),
        }
    }
    /// A copy of the transaction's or span's data.
    ///
    /// ```
    /// use sentry_core::{start_transaction, ClientOptions, TransactionContext, TransactionOrSpan};
    /// sentry_core::test::with_captured_envelopes_options(|| {
    ///     let tx = start_transaction(TransactionContext::new("job", "task"));
    ///     let span: TransactionOrSpan = tx.start_child("db", "SELECT 1").into();
    ///     span.set_data("rows", 3.into());
    ///     assert_eq!(span.data()["rows"], 3);
    ///     span.finish();
    ///     tx.finish();
    /// }, ClientOptions { traces_sample_rate: 1.0, ..Default::default() });
    /// ```
    pub fn data(&self) -> Map {
        match self {
            TransactionOrSpan::Transaction(t) => t.data(),
            TransactionOrSpan::Span(s) => s.data(),
        }
    }

    /// Sets a tag on the transaction or span.
    pub fn set_tag<V: ToString>(&self, key: &str, value: V) {
        match self {
            TransactionOrSpan::Transaction(t) => t.set_tag(key, value),
            TransactionOrSpan::Span(s) => s.set_tag(key, value),
        }
    }

    /// Attaches the HTTP request: to the transaction as its `request`, to a
    /// span as data ([`Span::set_request`]).
    pub fn set_request(&self, request: Request) {
        match self {
            TransactionOrSpan::Transaction(t) => t.set_request(request),
            TransactionOrSpan::Span(s) => s.set_request(request),
        }
    }

    /// Sets what created it (see [`Transaction::set_origin`]).
    pub fn set_origin(&self, origin: &str) {
        match self {
            TransactionOrSpan::Transaction(t) => t.set_origin(origin),
            TransactionOrSpan::Span(s) => s.set_origin(origin),
        }
    }

    /// Sets the status.
    pub fn set_status(&self, status: SpanStatus) {
        match self {
            TransactionOrSpan::Transaction(t) => t.set_status(status),
            TransactionOrSpan::Span(s) => s.set_status(status),
        }
    }

    /// The status set so far on this transaction or span (see
    /// [`Transaction::status`], [`Span::status`]).
    pub fn status(&self) -> Option<SpanStatus> {
        match self {
            TransactionOrSpan::Transaction(t) => t.status(),
            TransactionOrSpan::Span(s) => s.status(),
        }
    }

    /// Sets the operation after the start.
    pub fn set_op(&self, op: impl Into<Cow<'static, str>>) {
        match self {
            TransactionOrSpan::Transaction(t) => t.set_op(op),
            TransactionOrSpan::Span(s) => s.set_op(op),
        }
    }

    /// Renames it: a transaction's name, a span's description.
    pub fn set_name(&self, name: &str) {
        match self {
            TransactionOrSpan::Transaction(t) => t.set_name(name),
            TransactionOrSpan::Span(s) => s.set_description(name.to_owned()),
        }
    }

    /// The trace context for events.
    pub fn trace_context(&self) -> TraceContext {
        match self {
            TransactionOrSpan::Transaction(t) => t.trace_context(),
            TransactionOrSpan::Span(s) => s.trace_context(),
        }
    }

    /// The dynamic sampling context.
    pub fn dsc(&self) -> Dsc {
        match self {
            TransactionOrSpan::Transaction(t) => t.dsc(),
            TransactionOrSpan::Span(s) => s.dsc(),
        }
    }

    /// Headers to add to an outgoing request.
    pub fn trace_headers(&self) -> [(&'static str, String); 2] {
        match self {
            TransactionOrSpan::Transaction(t) => t.trace_headers(),
            TransactionOrSpan::Span(s) => s.trace_headers(),
        }
    }

    /// Finishes it.
    pub fn finish(self) {
        match self {
            TransactionOrSpan::Transaction(t) => t.finish(),
            TransactionOrSpan::Span(s) => s.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(traces_sample_rate: f32) -> Option<Arc<Client>> {
        Some(Arc::new(Client::with_options(crate::ClientOptions {
            traces_sample_rate,
            release: Some("app@1".into()),
            ..Default::default()
        })))
    }

    #[test]
    fn a_new_trace_has_every_dsc_entry() {
        let tx = Transaction::start(TransactionContext::new("GET /", "http.server"), client(1.0));
        let dsc = tx.dsc();
        assert_eq!(
            dsc.get("trace_id"),
            Some(tx.trace_id().to_string().as_str())
        );
        assert_eq!(dsc.get("transaction"), Some("GET /"));
        assert_eq!(dsc.get("sampled"), Some("true"));
        assert_eq!(dsc.get("sample_rate"), Some("1"));
        assert_eq!(dsc.get("sample_rand").map(str::len), Some(8));
        assert_eq!(dsc.get("release"), Some("app@1"));
        assert_eq!(tx.sentry_trace().sampled, Some(true));
    }

    /// Tracing off (or no client): no decision of this SDK goes on, only
    /// the trace and the client's entries.
    #[test]
    fn without_tracing_a_new_trace_carries_no_decision() {
        for client in [client(0.0), None] {
            let tx = Transaction::start(TransactionContext::new("GET /", "http.server"), client);
            assert!(!tx.is_sampled());
            assert_eq!(tx.sentry_trace().sampled, None);
            let dsc = tx.dsc();
            assert_eq!(
                dsc.get("trace_id"),
                Some(tx.trace_id().to_string().as_str())
            );
            for key in ["sampled", "sample_rate", "sample_rand", "transaction"] {
                assert_eq!(dsc.get(key), None, "{key}");
            }
        }
    }
}
