//! The `tracing` bridge: a `tracing-subscriber` [`Layer`] that turns events
//! into breadcrumbs or Sentry events and spans into Sentry spans.
//!
//! # Events
//!
//! A filter on the event's metadata decides; the default
//! ([`default_event_filter`]):
//!
//! | level | becomes |
//! |---|---|
//! | `ERROR` | an event: the `message` field as message (without one, the `error` field, as `#[tracing::instrument(err)]` records it), `tags.<name>` fields as tags (`tracing::error!(tags.tenant = "acme", ...)`), the other fields in the context `Rust Tracing Fields`, module, file and line in `Rust Tracing Location`, `logger` = target, and a field recorded as an error (`error = &err as &dyn Error`) as the exception chain (mechanism `tracing`) |
//! | `WARN`, `INFO` | a breadcrumb: category = target, the message (or `error` field), the fields as `data` |
//! | `DEBUG`, `TRACE` | nothing |
//!
//! With the client's `enable_logs`, events from `INFO` up (see
//! [`SentryLayer::logs_level`]) are also sent as Sentry logs
//! ([`sentry_core::logs`]): the message (or `error` field) as the body,
//! the fields as attributes, with `logger.name` (the target),
//! `code.namespace`, `code.file.path`, `code.line.number` and
//! `sentry.origin` (`auto.tracing`), in the trace and span they happen in.
//!
//! # Spans
//!
//! When a transaction (or span) is active on the current hub and sampled, a
//! new `tracing` span that passes the span filter ([`default_span_filter`]:
//! `ERROR`, `WARN` and `INFO` spans) becomes a child Sentry span. When none
//! is active and the client traces (`traces_sample_rate` above 0 or a
//! `traces_sampler`), the span starts a transaction instead, as the official
//! `sentry-tracing` does: named and with an `op` as below, origin
//! `auto.tracing`, continuing the trace of its `sentry.trace` field (a
//! `sentry-trace` header value) if it has one, sampled by the client's
//! options, with the span's descendants as its spans. A transaction sampled
//! out is kept, unsent, so that its descendants start none of their own.
//! So `#[instrument] fn handle()` called outside any transaction sends one.
//!
//! As in the official crate (since 0.43), a span's `op` is its `sentry.op`
//! field, or else `target::name` (`my_app::orders::handle` for
//! `#[instrument]` on `fn handle` in `my_app::orders`); its name (a
//! transaction's name, a child's description) is its `sentry.name` field
//! (or `sentry.description`), or else the span's name. Recorded later,
//! `sentry.op` and `sentry.name` rename it. The other fields become `data`
//! (fields recorded later too), with `sentry.tracing.target`,
//! `code.module.name`, `code.file.path` and `code.line.number`. A
//! `tracing` span nested in another one becomes a child of that one's
//! Sentry span.
//!
//! A span remembers the hub current when it was created (a request's hub
//! inside a handler). Entered where that hub is current, the span becomes
//! that hub's active span, so events captured inside carry its trace
//! context. Entered where another hub is current (`tokio::spawn(work()
//! .instrument(span))` runs on a worker thread with that thread's hub), a
//! hub forked from the remembered one is made current while the span is
//! entered, as the official `sentry-tracing` does: events inside carry the
//! request's tags, user and request data, count the request as errored, and
//! the worker thread's own hub is left alone. The fork is made once per span
//! and shared by its entries, so scope changes inside the span last from one
//! poll to the next; they end with the span. A span entered on several
//! threads at once is active on the fork for each of them until that thread
//! exits it, whatever the order of the exits. Spans entered on one
//! hub (one thread, or tasks on several threads sharing a request's hub)
//! may exit in any order too: an exit gives the hub back the span that was
//! active before the entry only when the exiting span is still the active
//! one; otherwise the span that is active stays so, and will give the hub
//! back what the exiting span had replaced. Once every span has exited, the
//! span active before them (the transaction) is active again; a finished
//! span never stays active. The Sentry span finishes when the `tracing`
//! span closes.
//!
//! Without an active, sampled transaction and with tracing off a span costs a
//! filter call, a look-up of the hub's active span and one of the client's
//! options; entering, exiting and closing it cost an atomic load (see
//! `benches/tracing_layer.rs`). A span that carries no Sentry span (tracing
//! off, or filtered out) does not switch hubs either.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! let subscriber = tracing_subscriber::registry()
//!     .with(tracing_subscriber::fmt::layer())
//!     .with(sentry_integrations::tracing::layer());
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(user = 7, "logged in"); // a breadcrumb
//! });
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;

use parking_lot::Mutex;
use sentry_core::protocol::{
    self, Breadcrumb, Contexts, Event, Exception, Level, LogEntry, Map, SpanId,
};
use sentry_core::{Hub, HubSwitchGuard, TransactionContext, TransactionOrSpan};
use serde_json::Value;
use tracing_core::field::{Field, Visit};
use tracing_core::{span, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// What Sentry does with a `tracing` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFilter {
    /// Nothing.
    Ignore,
    /// Adds a breadcrumb.
    Breadcrumb,
    /// Captures an event.
    Event,
}

/// `ERROR` → event, `WARN`/`INFO` → breadcrumb, `DEBUG`/`TRACE` → ignored.
///
/// ```
/// use sentry_integrations::tracing::{default_event_filter, EventFilter};
/// # use tracing_core::{callsite::DefaultCallsite, field::FieldSet, metadata::Kind, Level, Metadata};
/// # static CS: DefaultCallsite = DefaultCallsite::new(&META);
/// # static META: Metadata<'static> = Metadata::new("e", "app", Level::ERROR, None, None, None,
/// #     FieldSet::new(&[], tracing_core::identify_callsite!(&CS)), Kind::EVENT);
/// assert_eq!(default_event_filter(&META), EventFilter::Event);
/// ```
pub fn default_event_filter(metadata: &Metadata<'_>) -> EventFilter {
    match *metadata.level() {
        tracing_core::Level::ERROR => EventFilter::Event,
        tracing_core::Level::WARN | tracing_core::Level::INFO => EventFilter::Breadcrumb,
        _ => EventFilter::Ignore,
    }
}

/// `ERROR`, `WARN` and `INFO` spans become Sentry spans; `DEBUG` and `TRACE`
/// spans do not.
pub fn default_span_filter(metadata: &Metadata<'_>) -> bool {
    *metadata.level() <= tracing_core::Level::INFO
}

/// Maps a `tracing` level to a Sentry level.
///
/// ```
/// use sentry_core::protocol::Level;
/// assert_eq!(sentry_integrations::tracing::convert_level(&tracing_core::Level::WARN), Level::Warning);
/// ```
pub fn convert_level(level: &tracing_core::Level) -> Level {
    match *level {
        tracing_core::Level::ERROR => Level::Error,
        tracing_core::Level::WARN => Level::Warning,
        tracing_core::Level::INFO => Level::Info,
        _ => Level::Debug,
    }
}

/// Collects the fields of an event or span as JSON.
#[derive(Default)]
struct FieldVisitor {
    message: Option<String>,
    fields: Map,
    exceptions: Vec<Exception>,
    /// The field whose error became `exceptions`.
    error_field: Option<&'static str>,
}

impl FieldVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.fields.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for FieldVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        if self.exceptions.is_empty() {
            self.exceptions = sentry_core::exceptions_from_error(value);
            self.error_field = Some(field.name());
        }
        self.put(field, Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

/// The field that `#[tracing::instrument(err)]` records the error in
/// (`error = %e`), with no `message`.
const ERROR_FIELD: &str = "error";

/// The fields of an event, with the message: the `message` field or, when
/// there is none, the text of the `error` field (as the official
/// `sentry-tracing` reads it), which then leaves the other fields. An error
/// recorded as `&dyn Error` becomes the exception chain instead and stays a
/// field.
fn visit_event(event: &tracing_core::Event<'_>) -> FieldVisitor {
    let mut visitor = FieldVisitor::default();
    event.record(&mut visitor);
    let error_text = visitor
        .fields
        .get(ERROR_FIELD)
        .is_some_and(Value::is_string);
    if visitor.message.is_none() && visitor.exceptions.is_empty() && error_text {
        visitor.message = match visitor.fields.remove(ERROR_FIELD) {
            Some(Value::String(text)) => Some(text),
            _ => None,
        };
    }
    visitor
}

/// Where a span was opened, as span data under the keys the official
/// `sentry-tracing` uses: its target, module, file and line.
fn span_location(metadata: &Metadata<'_>) -> Map {
    let mut m = Map::new();
    m.insert(
        "sentry.tracing.target".to_owned(),
        Value::from(metadata.target()),
    );
    if let Some(v) = metadata.module_path() {
        m.insert("code.module.name".to_owned(), Value::from(v));
    }
    if let Some(v) = metadata.file() {
        m.insert("code.file.path".to_owned(), Value::from(v));
    }
    if let Some(v) = metadata.line() {
        m.insert("code.line.number".to_owned(), Value::from(v));
    }
    m
}

/// Where an event was emitted, for its `Rust Tracing Location` context.
fn event_location(metadata: &Metadata<'_>) -> Map {
    let mut m = Map::new();
    if let Some(v) = metadata.module_path() {
        m.insert("module_path".to_owned(), Value::from(v));
    }
    if let Some(v) = metadata.file() {
        m.insert("file".to_owned(), Value::from(v));
    }
    if let Some(v) = metadata.line() {
        m.insert("line".to_owned(), Value::from(v));
    }
    m
}

/// The context the fields of an event go to (as in the official
/// `sentry-tracing`).
pub const FIELDS_CONTEXT: &str = "Rust Tracing Fields";
/// The context the place an event was emitted goes to: `module_path`,
/// `file`, `line`.
pub const LOCATION_CONTEXT: &str = "Rust Tracing Location";

/// The breadcrumb for an event: category = target, the `message` field (or
/// the `error` field without one), the other fields as data, the mapped
/// level.
pub fn breadcrumb_from_event(event: &tracing_core::Event<'_>) -> Breadcrumb {
    let visitor = visit_event(event);
    let metadata = event.metadata();
    Breadcrumb {
        // `log`, as the `log` bridge and the official `sentry-tracing` type
        // them (Sentry shows it as a log line).
        ty: if visitor.exceptions.is_empty() {
            "log"
        } else {
            "error"
        }
        .into(),
        // Targets are `&'static str`: no allocation.
        category: Some(metadata.target().into()),
        level: convert_level(metadata.level()),
        message: visitor.message.map(Into::into),
        data: visitor.fields.into(),
        ..Default::default()
    }
}

/// The Sentry log line for a `tracing` event (see the [module docs](self)).
pub fn log_from_event(event: &tracing_core::Event<'_>) -> sentry_core::protocol::Log {
    use sentry_core::protocol::LogLevel;
    let visitor = visit_event(event);
    let metadata = event.metadata();
    let level = match *metadata.level() {
        tracing_core::Level::ERROR => LogLevel::Error,
        tracing_core::Level::WARN => LogLevel::Warn,
        tracing_core::Level::INFO => LogLevel::Info,
        tracing_core::Level::DEBUG => LogLevel::Debug,
        _ => LogLevel::Trace,
    };
    let site = crate::LogSite {
        origin: "auto.tracing",
        target: metadata.target(),
        module: metadata.module_path(),
        file: metadata.file(),
        line: metadata.line(),
    };
    site.log_line(level, visitor.message.unwrap_or_default(), visitor.fields)
}

/// The Sentry event for a `tracing` event, as the official `sentry-tracing`
/// builds it: the `message` field as message, a field recorded as an error
/// (`error = &err as &dyn Error`) as the exception chain (mechanism
/// `tracing`), `tags.<name>` fields as the tag `<name>` (strings, numbers
/// and booleans, as their text), the other fields in the context
/// [`FIELDS_CONTEXT`], where it was emitted in [`LOCATION_CONTEXT`],
/// `logger` = target.
///
/// An event without a `message` field, as `#[tracing::instrument(err)]`
/// emits one (`error = %e`), gets the text of its `error` field as the
/// message, so it is titled by the error:
///
/// ```
/// use sentry_core::test::with_captured_events;
/// use tracing_subscriber::prelude::*;
///
/// #[tracing::instrument(err)]
/// fn load() -> Result<(), std::io::Error> {
///     Err(std::io::Error::other("config file missing"))
/// }
///
/// let events = with_captured_events(|| {
///     let subscriber = tracing_subscriber::registry().with(sentry_integrations::tracing::layer());
///     tracing::subscriber::with_default(subscriber, || load().unwrap_err());
/// });
/// assert_eq!(events[0].title(), "config file missing");
/// ```
pub fn event_from_event(event: &tracing_core::Event<'_>) -> Event {
    let mut visitor = visit_event(event);
    let tags = take_tags(&mut visitor.fields);
    if let Some(field) = visitor.error_field {
        // It is the exception chain.
        visitor.fields.remove(field);
    }
    let metadata = event.metadata();
    let mut contexts = Contexts::new();
    if !visitor.fields.is_empty() {
        contexts.insert(
            FIELDS_CONTEXT.to_owned(),
            protocol::Context::Other(visitor.fields),
        );
    }
    let location = event_location(metadata);
    if !location.is_empty() {
        contexts.insert(
            LOCATION_CONTEXT.to_owned(),
            protocol::Context::Other(location),
        );
    }
    let mut exceptions = visitor.exceptions;
    if let Some(mechanism) = exceptions.last_mut().and_then(|e| e.mechanism.as_mut()) {
        mechanism.ty = "tracing".into();
    }
    Event {
        level: convert_level(metadata.level()),
        logger: Some(metadata.target().to_owned()),
        logentry: visitor.message.map(|m| LogEntry {
            formatted: Some(m),
            ..Default::default()
        }),
        exception: exceptions.into(),
        tags,
        contexts,
        ..Default::default()
    }
}

/// The prefix of fields that become tags of an event.
const TAGS_PREFIX: &str = "tags.";

/// Takes the `tags.<name>` fields out of `fields` as tags (as the official
/// `sentry-tracing` reads them): strings, numbers and booleans as their
/// text. A field named just `tags.` stays a field.
fn take_tags(fields: &mut Map) -> std::collections::BTreeMap<String, String> {
    let mut tags = std::collections::BTreeMap::new();
    fields.retain(|key, value| {
        let Some(name) = key.strip_prefix(TAGS_PREFIX).filter(|n| !n.is_empty()) else {
            return true;
        };
        let text = match value {
            Value::String(s) => std::mem::take(s),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            // Nothing a tag can hold (the visitor records no such values).
            Value::Null | Value::Array(_) | Value::Object(_) => return true,
        };
        tags.insert(name.to_owned(), text);
        false
    });
    tags
}

/// Events and spans of the SDK itself are never reported (no feedback loop):
/// targets in the SDK's crates (`sentry_core::...`, `sentry_transport::...`;
/// not an application crate that merely starts with "sentry") and anything
/// on an SDK thread (`sentry-*`).
fn is_sdk(metadata: &Metadata<'_>) -> bool {
    crate::is_sdk_target(metadata.target())
        || std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("sentry-"))
}

/// How many `tracing` spans currently carry a Sentry span. While zero,
/// entering, exiting, recording and closing spans skip every look-up.
static LIVE_SPANS: AtomicUsize = AtomicUsize::new(0);

/// The data of the Sentry spans `event` happens in, outermost first, as
/// `span name:field`, without the fields the layer itself sets.
fn span_fields<S>(event: &tracing_core::Event<'_>, ctx: &Context<'_, S>) -> Map
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let mut fields = Map::new();
    if LIVE_SPANS.load(Ordering::Relaxed) == 0 {
        return fields;
    }
    let Some(scope) = ctx.event_scope(event) else {
        return fields;
    };
    for span in scope.from_root() {
        let data = match span.extensions().get::<SentrySpan>() {
            Some(sentry) => sentry.span.data(),
            None => continue,
        };
        for (key, value) in data {
            let own =
                key == "message" || key == "sentry.tracing.target" || key.starts_with("code.");
            if !own {
                fields.insert(format!("{}:{key}", span.name()), value);
            }
        }
    }
    fields
}

/// Numbers the layers: a span's Sentry span belongs to the layer that made
/// it, and only that layer enters, exits, records and closes it (two
/// span-making layers stacked would otherwise make two and enter each span
/// twice).
static NEXT_LAYER: AtomicUsize = AtomicUsize::new(0);

/// What the layer keeps in a span's extensions.
/// The fields of a span that name its Sentry span rather than being data
/// (the official `sentry-tracing`'s): `sentry.op`, `sentry.name` (or this
/// SDK's older `sentry.description`) and, for a span that starts a
/// transaction, `sentry.trace`, a `sentry-trace` header to continue.
struct SpanNames {
    op: Option<String>,
    name: Option<String>,
    trace: Option<String>,
}

impl SpanNames {
    /// Takes them out of `fields`: only string values name (a field of
    /// another type is dropped, as the official crate drops it).
    fn take(fields: &mut Map) -> SpanNames {
        let mut text = |key: &str| match fields.remove(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let op = text("sentry.op");
        let name = text("sentry.name");
        let description = text("sentry.description");
        let trace = text("sentry.trace");
        SpanNames {
            op,
            name: name.or(description),
            trace,
        }
    }
}

struct SentrySpan {
    /// The layer that made it ([`NEXT_LAYER`]).
    owner: usize,
    span: TransactionOrSpan,
    /// The hub current when the span was created (the request's hub in a
    /// handler), whose scope the span's work reports with.
    origin: Arc<Hub>,
    /// A hub forked from `origin`, made on the first entry on a thread where
    /// another hub is current (a spawned task), and current there while the
    /// span is entered; shared by all such entries.
    fork: Option<Arc<Hub>>,
    /// Each entry not yet exited: the thread that entered and its hub. One
    /// span can be entered on several threads at once (a span shared by
    /// tasks on a multi-threaded runtime), and the threads exit in any
    /// order; an exit undoes the latest entry of its own thread, never
    /// another thread's.
    entered: Vec<Entered>,
}

struct Entered {
    thread: ThreadId,
    hub: Arc<Hub>,
    /// Keeps `hub` current on `thread` when the entry switched to the fork;
    /// dropped after the exit unlinked the span.
    switch: Option<HubSwitchGuard>,
}

/// One entry of a span into a hub not yet exited. A hub's links are in the
/// order of the entries; each remembers the span it replaced as the hub's
/// active span, so that an exit (in any order) can hand it on.
struct Link {
    /// The `tracing` span and the thread that entered it.
    id: span::Id,
    thread: ThreadId,
    /// Its Sentry span, to tell whether it is the hub's active span.
    span_id: SpanId,
    /// The hub's active span before this entry (or, after the entry before
    /// it exited out of order, before that one).
    previous: Option<TransactionOrSpan>,
}

/// The links of each hub, keyed by the hub's address (kept valid by the
/// `Arc<Hub>` of the entries).
type Chains = HashMap<usize, Vec<Link>>;

fn hub_key(hub: &Arc<Hub>) -> usize {
    Arc::as_ptr(hub) as usize
}

fn span_id(span: &TransactionOrSpan) -> SpanId {
    match span {
        TransactionOrSpan::Transaction(t) => t.span_id(),
        TransactionOrSpan::Span(s) => s.span_id(),
    }
}

/// What a new span becomes in Sentry.
enum Start {
    /// A child of the active (or parent span's) sampled span.
    Child(TransactionOrSpan),
    /// A transaction of its own: a root span, nothing active.
    Transaction,
}

/// Whether `hub`'s client traces (a `traces_sample_rate` above 0 or a
/// `traces_sampler`): without, a root span starts no transaction.
fn tracing_enabled(hub: &Hub) -> bool {
    hub.client()
        .is_some_and(|client| client.options().tracing_enabled())
}

/// The hub an entry of `data`'s span on this thread uses: the span's origin
/// hub when it is current here, otherwise the span's fork of it (made on
/// first use), so that a span entered in a spawned task reports with the
/// scope of the code that created it.
fn entry_hub(data: &mut SentrySpan) -> Arc<Hub> {
    if Hub::with_current(|current| Arc::ptr_eq(current, &data.origin)) {
        return data.origin.clone();
    }
    data.fork
        .get_or_insert_with(|| Arc::new(Hub::new_from_top(&data.origin)))
        .clone()
}

type EventFilterFn = dyn Fn(&Metadata<'_>) -> EventFilter + Send + Sync;
type SpanFilterFn = dyn Fn(&Metadata<'_>) -> bool + Send + Sync;

/// The layer (see the [module docs](self)). Create it with [`layer`].
pub struct SentryLayer<S> {
    event_filter: Box<EventFilterFn>,
    span_filter: Box<SpanFilterFn>,
    logs_level: tracing_core::LevelFilter,
    /// Whether this layer makes Sentry spans (false for the log, error and
    /// breadcrumb layers, which leave spans to a [`SpanLayer`] beside them).
    spans: bool,
    /// This layer's number ([`NEXT_LAYER`]).
    id: usize,
    /// Whether events, breadcrumbs and log lines get the data of the Sentry
    /// spans they happen in ([`SentryLayer::enable_span_attributes`]).
    span_attributes: bool,
    /// The spans entered on each hub. Only changed inside the hub's
    /// `configure_scope`, and never held while calling out.
    chains: Mutex<Chains>,
    _subscriber: PhantomData<fn(S)>,
}

impl<S> fmt::Debug for SentryLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryLayer").finish_non_exhaustive()
    }
}

impl<S> Default for SentryLayer<S> {
    fn default() -> Self {
        SentryLayer {
            event_filter: Box::new(default_event_filter),
            span_filter: Box::new(default_span_filter),
            logs_level: tracing_core::LevelFilter::INFO,
            spans: true,
            id: NEXT_LAYER.fetch_add(1, Ordering::Relaxed),
            span_attributes: false,
            chains: Mutex::new(HashMap::new()),
            _subscriber: PhantomData,
        }
    }
}

/// A layer with the default filters.
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use sentry_integrations::tracing::EventFilter;
///
/// // Warnings become events too; only spans at INFO and above become Sentry spans.
/// let layer = sentry_integrations::tracing::layer()
///     .event_filter(|md| match *md.level() {
///         tracing::Level::ERROR | tracing::Level::WARN => EventFilter::Event,
///         _ => EventFilter::Breadcrumb,
///     })
///     .span_filter(|md| *md.level() <= tracing::Level::INFO);
/// let _subscriber = tracing_subscriber::registry().with(layer);
/// ```
pub fn layer<S>() -> SentryLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    SentryLayer::default()
}

/// A layer that does one job, for the official crate's split layers below.
fn one_job<S>(
    events: EventFilter,
    spans: bool,
    logs_level: tracing_core::LevelFilter,
) -> SentryLayer<S> {
    SentryLayer {
        event_filter: Box::new(move |_: &Metadata<'_>| events),
        span_filter: Box::new(move |_: &Metadata<'_>| spans),
        logs_level,
        spans,
        ..SentryLayer::default()
    }
}

/// The official crate's split layers (0.49): each is a [`SentryLayer`]
/// doing one job and filtering nothing by level itself, to be stacked with
/// a level filter of its own. `SpanLayer::new()` makes every span it sees a
/// Sentry span (a transaction when none is active) and ignores events.
/// They replace [`layer()`], which does all four jobs: stacked with it, a
/// log or error layer sends its lines or events a second time (two
/// span-making layers are harmless: the first one to see a span makes its
/// Sentry span, the other leaves it alone).
///
/// ```
/// use sentry_integrations::tracing::{LogLayer, SpanLayer};
/// use tracing_subscriber::{filter::LevelFilter, prelude::*};
///
/// let _subscriber = tracing_subscriber::registry()
///     .with(SpanLayer::new().with_filter(LevelFilter::INFO))
///     .with(LogLayer::new().with_filter(LevelFilter::INFO));
/// ```
#[derive(Debug)]
pub struct SpanLayer;

impl SpanLayer {
    /// The span layer.
    #[allow(clippy::new_ret_no_self)]
    pub fn new<S>() -> SentryLayer<S> {
        one_job(EventFilter::Ignore, true, tracing_core::LevelFilter::OFF)
    }
}

/// Sends every event it sees as a Sentry log line (with the client's
/// `enable_logs`; see [`SpanLayer`]).
#[derive(Debug)]
pub struct LogLayer;

impl LogLayer {
    /// The log layer.
    #[allow(clippy::new_ret_no_self)]
    pub fn new<S>() -> SentryLayer<S> {
        one_job(EventFilter::Ignore, false, tracing_core::LevelFilter::TRACE)
    }
}

/// Captures every event it sees as a Sentry error event (see [`SpanLayer`]).
#[derive(Debug)]
pub struct ErrorLayer;

impl ErrorLayer {
    /// The error layer.
    #[allow(clippy::new_ret_no_self)]
    pub fn new<S>() -> SentryLayer<S> {
        one_job(EventFilter::Event, false, tracing_core::LevelFilter::OFF)
    }
}

/// Adds every event it sees as a breadcrumb (see [`SpanLayer`]).
#[derive(Debug)]
pub struct BreadcrumbLayer;

impl BreadcrumbLayer {
    /// The breadcrumb layer.
    #[allow(clippy::new_ret_no_self)]
    pub fn new<S>() -> SentryLayer<S> {
        one_job(
            EventFilter::Breadcrumb,
            false,
            tracing_core::LevelFilter::OFF,
        )
    }
}

impl<S> SentryLayer<S> {
    /// Replaces the filter deciding what events become.
    pub fn event_filter<F>(mut self, filter: F) -> Self
    where
        F: Fn(&Metadata<'_>) -> EventFilter + Send + Sync + 'static,
    {
        self.event_filter = Box::new(filter);
        self
    }

    /// The least severe events also sent as Sentry logs when the client
    /// has `enable_logs` (default `INFO`; `OFF` sends none).
    pub fn logs_level(mut self, level: tracing_core::LevelFilter) -> Self {
        self.logs_level = level;
        self
    }

    /// Gives events, breadcrumbs and log lines the data of each Sentry span
    /// they happen in, as `span name:field` (`import:batch`), as the
    /// official crate's option of the same name does: a request id recorded
    /// on the request's span reaches an error logged deep inside it. Only
    /// spans with a Sentry span have data to give (spans that a span-making
    /// layer recorded, in a sampled trace); the SDK's own fields (location,
    /// target, `message`) are left out. With a per-layer filter
    /// (`with_filter`), the layer sees only the spans its filter lets
    /// through: give an error layer `LevelFilter::ERROR.or(filter_fn(|m|
    /// m.is_span()))` rather than `LevelFilter::ERROR`.
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// use sentry_core::{test::with_captured_events_options, ClientOptions};
    ///
    /// let events = with_captured_events_options(|| {
    ///     let layer = sentry_integrations::tracing::layer().enable_span_attributes();
    ///     tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
    ///         let _import = tracing::info_span!("import", batch = 7).entered();
    ///         tracing::error!("row 12 is broken");
    ///     });
    /// }, ClientOptions { traces_sample_rate: 1.0, ..Default::default() });
    /// let sentry_core::protocol::Context::Other(fields) = &events[0].contexts["Rust Tracing Fields"] else { panic!() };
    /// assert_eq!(fields["import:batch"], 7);
    /// ```
    pub fn enable_span_attributes(mut self) -> Self {
        self.span_attributes = true;
        self
    }

    /// Replaces the filter deciding which spans become Sentry spans.
    pub fn span_filter<F>(mut self, filter: F) -> Self
    where
        F: Fn(&Metadata<'_>) -> bool + Send + Sync + 'static,
    {
        self.span_filter = Box::new(filter);
        self
    }
}

impl<S> SentryLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// The Sentry span of the nearest ancestor that has one.
    fn parent_sentry_span(&self, id: &span::Id, ctx: &Context<'_, S>) -> Option<TransactionOrSpan> {
        if LIVE_SPANS.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let span = ctx.span(id)?;
        let mut parent = span.parent();
        while let Some(p) = parent {
            if let Some(data) = p.extensions().get::<SentrySpan>() {
                return Some(data.span.clone());
            }
            parent = p.parent();
        }
        None
    }

    /// Makes `sentry_span` the active span of `hub` for an entry of the
    /// `tracing` span `id` on this thread.
    fn link(&self, hub: &Arc<Hub>, id: &span::Id, sentry_span: TransactionOrSpan) {
        let thread = std::thread::current().id();
        let key = hub_key(hub);
        let entered_id = span_id(&sentry_span);
        hub.configure_scope(|scope| {
            let previous = scope.get_span();
            scope.set_span(Some(sentry_span));
            self.chains.lock().entry(key).or_default().push(Link {
                id: id.clone(),
                thread,
                span_id: entered_id,
                previous,
            });
        });
    }

    /// Undoes the latest entry of the `tracing` span `id` on `thread` into
    /// `hub`. When its Sentry span is the hub's active span, the span it
    /// replaced becomes active again. When a later entry replaced it
    /// meanwhile (an out-of-order exit), the active span is left alone and
    /// that later entry will give back what this one replaced.
    fn unlink(&self, hub: &Arc<Hub>, id: &span::Id, thread: ThreadId) {
        let key = hub_key(hub);
        hub.configure_scope(|scope| {
            // Decided under the lock; spans are dropped and the scope
            // changed after it.
            let (link, on_top, replaced) = {
                let mut chains = self.chains.lock();
                let Some(chain) = chains.get_mut(&key) else {
                    return;
                };
                let Some(at) = chain
                    .iter()
                    .rposition(|l| l.id == *id && l.thread == thread)
                else {
                    return;
                };
                let mut link = chain.remove(at);
                let mut replaced = None;
                let successor = chain[at..]
                    .iter_mut()
                    .find(|l| l.previous.as_ref().map(span_id) == Some(link.span_id));
                if let Some(successor) = successor {
                    // The successor gives back what this entry replaced.
                    replaced = std::mem::replace(&mut successor.previous, link.previous.take());
                }
                let on_top = at == chain.len();
                if chain.is_empty() {
                    chains.remove(&key);
                }
                (link, on_top, replaced)
            };
            drop(replaced);
            if on_top && scope.get_span().as_ref().map(span_id) == Some(link.span_id) {
                scope.set_span(link.previous);
            }
        });
    }
}

impl<S> Layer<S> for SentryLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing_core::Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let log = *metadata.level() <= self.logs_level
            && !is_sdk(metadata)
            && sentry_core::logs::enabled();
        let action = (self.event_filter)(metadata);
        let act = action != EventFilter::Ignore && !is_sdk(metadata);
        let span_fields = if self.span_attributes && (log || act) {
            span_fields(event, &ctx)
        } else {
            Map::new()
        };
        if log {
            let mut line = log_from_event(event);
            for (key, value) in &span_fields {
                line = line.with_attribute(key.clone(), value.clone());
            }
            sentry_core::logs::capture_log(line);
        }
        if !act {
            return;
        }
        match action {
            EventFilter::Ignore => {}
            EventFilter::Breadcrumb => sentry_core::add_breadcrumb(|| {
                let mut breadcrumb = breadcrumb_from_event(event);
                breadcrumb.data.extend(span_fields);
                breadcrumb
            }),
            EventFilter::Event => {
                let mut sentry_event = event_from_event(event);
                if !span_fields.is_empty() {
                    match sentry_event.contexts.get_mut(FIELDS_CONTEXT) {
                        Some(protocol::Context::Other(fields)) => fields.extend(span_fields),
                        _ => {
                            sentry_event.contexts.insert(
                                FIELDS_CONTEXT.to_owned(),
                                protocol::Context::Other(span_fields),
                            );
                        }
                    }
                }
                if let Some(scope) = ctx.event_scope(event) {
                    let names: Vec<Value> =
                        scope.from_root().map(|s| Value::from(s.name())).collect();
                    if !names.is_empty() {
                        sentry_event
                            .extra
                            .insert("spans".to_owned(), Value::Array(names));
                    }
                }
                sentry_core::capture_event(sentry_event);
            }
        }
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let metadata = attrs.metadata();
        if !(self.span_filter)(metadata) || is_sdk(metadata) {
            return;
        }
        // Looked up once, before anything is started for it.
        let Some(span) = ctx.span(id) else {
            return;
        };
        // Another span-making layer stacked before this one made it already.
        if LIVE_SPANS.load(Ordering::Relaxed) > 0 && span.extensions().get::<SentrySpan>().is_some()
        {
            return;
        }
        let origin = Hub::current();
        let parent = match self.parent_sentry_span(id, &ctx) {
            Some(p) => Some(p),
            None => origin.active_span(),
        };
        let start = match parent {
            Some(p) if p.is_sampled() => Start::Child(p),
            Some(_) => return,
            None if tracing_enabled(&origin) => Start::Transaction,
            None => return,
        };
        let mut visitor = FieldVisitor::default();
        attrs.record(&mut visitor);
        let names = SpanNames::take(&mut visitor.fields);
        // The span name is `&'static`: used as it is, without a copy.
        let op = names
            .op
            .map(Cow::Owned)
            .unwrap_or_else(|| Cow::Owned(format!("{}::{}", metadata.target(), metadata.name())));
        let name = names
            .name
            .map_or(Cow::Borrowed(metadata.name()), Cow::Owned);
        let sentry_span: TransactionOrSpan = match start {
            Start::Child(parent) => parent.start_child(op, name).into(),
            Start::Transaction => {
                let ctx = match &names.trace {
                    Some(header) => TransactionContext::continue_from_headers(
                        name,
                        op,
                        [("sentry-trace", header.as_str())],
                    ),
                    None => TransactionContext::new(name, op),
                };
                origin.start_transaction(ctx).into()
            }
        };
        sentry_span.set_origin("auto.tracing");
        if let Some(message) = visitor.message {
            sentry_span.set_data("message", Value::String(message));
        }
        for (key, value) in visitor.fields.into_iter().chain(span_location(metadata)) {
            sentry_span.set_data(&key, value);
        }
        span.extensions_mut().insert(SentrySpan {
            owner: self.id,
            span: sentry_span,
            origin,
            fork: None,
            entered: Vec::new(),
        });
        LIVE_SPANS.fetch_add(1, Ordering::Relaxed);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if !self.spans || LIVE_SPANS.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let extensions = span.extensions();
        let Some(data) = extensions
            .get::<SentrySpan>()
            .filter(|data| data.owner == self.id)
        else {
            return;
        };
        let mut visitor = FieldVisitor::default();
        values.record(&mut visitor);
        let names = SpanNames::take(&mut visitor.fields);
        if let Some(name) = names.name {
            data.span.set_name(&name);
        }
        if let Some(op) = names.op {
            data.span.set_op(op);
        }
        if let Some(message) = visitor.message {
            data.span.set_data("message", Value::String(message));
        }
        for (key, value) in visitor.fields {
            data.span.set_data(&key, value);
        }
    }

    fn on_enter(&self, id: &span::Id, ctx: Context<'_, S>) {
        if !self.spans || LIVE_SPANS.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        // The span's extensions are not held while configuring the scope:
        // that waits for another thread configuring the same hub, whose
        // closure may need these extensions (a child span of this one).
        let Some((sentry_span, hub)) = span
            .extensions_mut()
            .get_mut::<SentrySpan>()
            .filter(|data| data.owner == self.id)
            .map(|data| (data.span.clone(), entry_hub(data)))
        else {
            return;
        };
        let switch = (!Arc::ptr_eq(&hub, &Hub::current())).then(|| Hub::switch(hub.clone()));
        self.link(&hub, id, sentry_span);
        let mut extensions = span.extensions_mut();
        if let Some(data) = extensions.get_mut::<SentrySpan>() {
            data.entered.push(Entered {
                thread: std::thread::current().id(),
                hub,
                switch,
            });
        }
    }

    fn on_exit(&self, id: &span::Id, ctx: Context<'_, S>) {
        if !self.spans || LIVE_SPANS.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let thread = std::thread::current().id();
        // Taken out under the extensions' lock, restored without it (see
        // `on_enter`).
        let entered = {
            let mut extensions = span.extensions_mut();
            let Some(data) = extensions
                .get_mut::<SentrySpan>()
                .filter(|data| data.owner == self.id)
            else {
                return;
            };
            let Some(at) = data.entered.iter().rposition(|e| e.thread == thread) else {
                return;
            };
            data.entered.remove(at)
        };
        self.unlink(&entered.hub, id, thread);
        drop(entered.switch);
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        if !self.spans || LIVE_SPANS.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if !extensions
            .get_mut::<SentrySpan>()
            .is_some_and(|data| data.owner == self.id)
        {
            return;
        }
        let Some(mut data) = extensions.remove::<SentrySpan>() else {
            return;
        };
        drop(extensions);
        LIVE_SPANS.fetch_sub(1, Ordering::Relaxed);
        // A span closed while still entered (leaked guard): undo its entries
        // anyway, so that the finished span does not stay active.
        while let Some(Entered {
            thread,
            hub,
            switch,
        }) = data.entered.pop()
        {
            self.unlink(&hub, &id, thread);
            drop(switch);
        }
        data.span.finish();
    }
}
