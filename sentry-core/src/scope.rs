//! The scope: data that is attached to every event captured while it is active.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::performance::TransactionOrSpan;
use crate::propagation::{Dsc, IncomingTrace, SentryTrace};
use crate::protocol::{
    Attachment, Breadcrumb, Context, Event, Level, Map, SpanId, TraceContext, TraceId, Transaction,
    User,
};
use crate::trail::Trail;
use crate::unique_arc::UniqueArc;

/// A function that may change or drop an event; registered on a scope.
pub type EventProcessor = Arc<dyn Fn(Event) -> Option<Event> + Send + Sync>;

/// Told of every error event captured with a scope (see
/// [`Scope::add_error_observer`]); the argument says whether it is a crash.
pub type ErrorObserver = Arc<dyn Fn(bool) + Send + Sync>;

/// Data attached to events: user, tags, extra, contexts, level, fingerprint,
/// transaction name, breadcrumbs, attachments and event processors.
///
/// Scopes are cheap to clone (each part is shared until changed), which is
/// what makes [`crate::with_scope`] cheap.
///
/// ```
/// use sentry_core::{Scope, protocol::{Event, Level}};
/// let mut scope = Scope::default();
/// scope.set_tag("region", "eu");
/// scope.set_level(Some(Level::Warning));
/// let event = scope.apply_to_event(Event::default(), 100).unwrap();
/// assert_eq!(event.tags["region"], "eu");
/// assert_eq!(event.level, Level::Warning);
/// ```
#[derive(Clone, Default)]
pub struct Scope {
    pub(crate) level: Option<Level>,
    pub(crate) tags: Arc<BTreeMap<String, String>>,
    pub(crate) breadcrumbs: UniqueArc<Trail>,
    pub(crate) span: Option<Arc<TransactionOrSpan>>,
    pub(crate) request_session: Option<Arc<crate::session::RequestSession>>,
    /// The trace that events captured without an active span belong to.
    propagation: Propagation,
    /// The parts set once or rarely, behind one pointer: copying a scope
    /// (which [`crate::Hub::configure_scope`] does every time) copies five
    /// pointers, not eleven.
    rest: Arc<Rest>,
}

/// A scope's own trace (the "propagation context" of the official SDKs):
/// a random trace and span id, so that errors captured outside any
/// transaction (and requests sent from there) still link into one trace.
/// Pushed scopes and hubs made from a scope share it; a cleared scope
/// starts another. [`Scope::continue_trace`] makes it a caller's trace.
#[derive(Clone)]
struct Propagation {
    trace_id: TraceId,
    span_id: SpanId,
    /// The caller's span, when continued.
    parent_span_id: Option<SpanId>,
    /// The caller's sampling decision, when continued.
    sampled: Option<bool>,
    /// The caller's dynamic sampling context, frozen (possibly empty), when
    /// continued from a Sentry SDK; `None` when this SDK heads the trace.
    frozen_dsc: Option<Dsc>,
}

impl Default for Propagation {
    fn default() -> Self {
        Propagation {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            parent_span_id: None,
            sampled: None,
            frozen_dsc: None,
        }
    }
}

/// The rarely changed parts of a [`Scope`]; each is shared on its own too,
/// so changing one copies only it.
#[derive(Clone, Default)]
struct Rest {
    fingerprint: Option<Arc<[String]>>,
    transaction: Option<Arc<str>>,
    user: Option<Arc<User>>,
    extra: Arc<Map>,
    contexts: Arc<BTreeMap<String, Context>>,
    attachments: Arc<Vec<Attachment>>,
    event_processors: Arc<Vec<EventProcessor>>,
    error_observers: Arc<Vec<ErrorObserver>>,
}

impl Scope {
    fn rest_mut(&mut self) -> &mut Rest {
        Arc::make_mut(&mut self.rest)
    }
}

/// A read-only snapshot of a hub's top scope ([`crate::Hub::top_scope`]),
/// shared: cloning it copies a pointer. It reads as a [`Scope`].
///
/// ```
/// use sentry_core::{Hub, Scope};
/// let hub = Hub::new(None, Scope::default());
/// hub.configure_scope(|s| s.set_tag("k", "v"));
/// let snapshot = hub.top_scope();
/// assert_eq!(snapshot.tags()["k"], "v");
/// ```
#[derive(Clone, Default)]
pub struct ScopeSnapshot(pub(crate) UniqueArc<Scope>);

impl std::ops::Deref for ScopeSnapshot {
    type Target = Scope;
    fn deref(&self) -> &Scope {
        &self.0
    }
}

impl fmt::Debug for ScopeSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("level", &self.level)
            .field("fingerprint", &self.rest.fingerprint)
            .field("transaction", &self.rest.transaction)
            .field("user", &self.rest.user)
            .field("tags", &self.tags)
            .field("extra", &self.rest.extra)
            .field("contexts", &self.rest.contexts)
            .field("breadcrumbs", &self.breadcrumbs.len())
            .field("attachments", &self.rest.attachments.len())
            .field("event_processors", &self.rest.event_processors.len())
            .field("error_observers", &self.rest.error_observers.len())
            .field("span", &self.span.is_some())
            .finish()
    }
}

impl Scope {
    /// Removes everything from the scope.
    pub fn clear(&mut self) {
        *self = Scope::default();
    }

    /// Overrides the level of events.
    pub fn set_level(&mut self, level: Option<Level>) {
        self.level = level;
    }

    /// Sets the fingerprint of events (PROTOCOL.md §10.2).
    pub fn set_fingerprint(&mut self, fingerprint: Option<&[&str]>) {
        self.rest_mut().fingerprint =
            fingerprint.map(|f| f.iter().map(|s| (*s).to_owned()).collect());
    }

    /// Sets the transaction name of events.
    pub fn set_transaction(&mut self, transaction: Option<&str>) {
        self.rest_mut().transaction = transaction.map(Arc::from);
    }

    /// Sets the user.
    pub fn set_user(&mut self, user: Option<User>) {
        self.rest_mut().user = user.map(Arc::new);
    }

    /// The user, if set.
    pub fn user(&self) -> Option<&User> {
        self.rest.user.as_deref()
    }

    /// Sets a tag to any `Display` value (`scope.set_tag("status", 200)`).
    /// Setting a tag to the value it already has (request handlers often
    /// do) costs a lookup and a comparison, and no allocation.
    pub fn set_tag<V: fmt::Display>(&mut self, key: &str, value: V) {
        if self
            .tags
            .get(key)
            .is_some_and(|current| displays_as(&value, current))
        {
            return;
        }
        let value = value.to_string();
        let tags = Arc::make_mut(&mut self.tags);
        match tags.get_mut(key) {
            Some(slot) => *slot = value,
            None => {
                tags.insert(key.to_owned(), value);
            }
        }
    }

    /// Removes a tag.
    pub fn remove_tag(&mut self, key: &str) {
        if self.tags.contains_key(key) {
            Arc::make_mut(&mut self.tags).remove(key);
        }
    }

    /// The tags.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }

    /// Sets an extra value.
    pub fn set_extra(&mut self, key: &str, value: serde_json::Value) {
        Arc::make_mut(&mut self.rest_mut().extra).insert(key.to_owned(), value);
    }

    /// Removes an extra value.
    pub fn remove_extra(&mut self, key: &str) {
        if self.rest.extra.contains_key(key) {
            Arc::make_mut(&mut self.rest_mut().extra).remove(key);
        }
    }

    /// Sets a context under `key`.
    pub fn set_context<C: Into<Context>>(&mut self, key: &str, context: C) {
        Arc::make_mut(&mut self.rest_mut().contexts).insert(key.to_owned(), context.into());
    }

    /// Removes a context.
    pub fn remove_context(&mut self, key: &str) {
        if self.rest.contexts.contains_key(key) {
            Arc::make_mut(&mut self.rest_mut().contexts).remove(key);
        }
    }

    /// Adds an attachment sent with every event of this scope.
    pub fn add_attachment(&mut self, attachment: Attachment) {
        Arc::make_mut(&mut self.rest_mut().attachments).push(attachment);
    }

    /// Removes all attachments.
    pub fn clear_attachments(&mut self) {
        if !self.rest.attachments.is_empty() {
            self.rest_mut().attachments = Arc::default();
        }
    }

    /// The breadcrumbs, oldest first.
    pub fn breadcrumbs(&self) -> impl Iterator<Item = &Breadcrumb> {
        self.breadcrumbs.iter()
    }

    /// Removes all breadcrumbs.
    pub fn clear_breadcrumbs(&mut self) {
        self.breadcrumbs = UniqueArc::default();
    }

    /// Adds a breadcrumb, dropping the oldest beyond `max`. Hooks and
    /// scrubbing are applied by [`crate::Hub::add_breadcrumb`], not here.
    // Inlined so the breadcrumb is moved once, into its slot.
    #[inline(always)]
    pub fn add_breadcrumb_raw(&mut self, breadcrumb: Breadcrumb, max: usize) {
        if max == 0 {
            return;
        }
        UniqueArc::make_mut(&mut self.breadcrumbs).push(breadcrumb, max);
    }

    /// Adds copies of the breadcrumbs `other` received since its trail's
    /// push count was `mark`.
    pub(crate) fn append_breadcrumbs_since(&mut self, other: &Scope, mark: u64) {
        UniqueArc::make_mut(&mut self.breadcrumbs).append_since(&other.breadcrumbs, mark);
    }

    /// Sets the active span: events captured under this scope carry its
    /// trace context, and new spans become its children.
    pub fn set_span(&mut self, span: Option<TransactionOrSpan>) {
        self.span = span.map(Arc::new);
    }

    /// The active span.
    pub fn get_span(&self) -> Option<TransactionOrSpan> {
        self.span.as_deref().cloned()
    }

    /// The span a capture of this scope happens in, if any.
    pub(crate) fn current_span_id(&self) -> Option<crate::protocol::SpanId> {
        self.span.as_ref().map(|span| span.trace_context().span_id)
    }

    /// The trace a capture of this scope joins: its span's, or its own.
    pub(crate) fn current_trace_id(&self) -> crate::protocol::TraceId {
        match &self.span {
            Some(span) => span.trace_context().trace_id,
            None => self.propagation.trace_id,
        }
    }

    /// The scope's own trace, for events captured and requests sent while
    /// no span is active: a `sentry-trace` value with the caller's sampling
    /// decision when the trace was continued ([`Scope::continue_trace`]),
    /// else without one (the services it reaches decide for themselves).
    ///
    /// ```
    /// use sentry_core::{Hub, Scope};
    /// let hub = Hub::new(None, Scope::default());
    /// let trace = hub.top_scope().propagation_trace();
    /// assert_eq!(trace.sampled, None);
    /// // Every capture of this hub without a span joins that trace.
    /// assert_eq!(hub.top_scope().propagation_trace().trace_id, trace.trace_id);
    /// ```
    pub fn propagation_trace(&self) -> SentryTrace {
        SentryTrace {
            trace_id: self.propagation.trace_id,
            span_id: self.propagation.span_id,
            sampled: self.propagation.sampled,
        }
    }

    /// Makes the scope's own trace the one an incoming request or message
    /// names (its `sentry-trace` or `traceparent` and `baggage`, read by
    /// [`IncomingTrace`]), for work that starts no transaction, such as a
    /// queue consumer: events captured with this scope and no span join the
    /// caller's trace as children of its span, and their envelopes carry
    /// the caller's frozen dynamic sampling context (none when the caller
    /// sent an empty one; this SDK's own when only a `traceparent` came).
    /// Without a valid parent (no header, or one that does not parse) the
    /// scope starts a new trace.
    ///
    /// ```
    /// use sentry_core::propagation::IncomingTrace;
    /// use sentry_core::Scope;
    /// let mut scope = Scope::default();
    /// scope.continue_trace(&IncomingTrace::from_headers([
    ///     ("sentry-trace", "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1"),
    ///     ("baggage", "sentry-trace_id=771a43a4192642f0b136d5159a501700,sentry-public_key=49d0f7386ad645858ae85020e393bef3"),
    /// ]));
    /// let trace = scope.propagation_trace();
    /// assert_eq!(trace.trace_id.to_string(), "771a43a4192642f0b136d5159a501700");
    /// assert_eq!(trace.sampled, Some(true));
    /// ```
    pub fn continue_trace(&mut self, incoming: &IncomingTrace) {
        self.propagation = match incoming.parent {
            Some(parent) => Propagation {
                trace_id: parent.trace_id,
                span_id: SpanId::random(),
                parent_span_id: Some(parent.span_id),
                sampled: parent.sampled,
                frozen_dsc: incoming.dsc.clone(),
            },
            None => Propagation::default(),
        };
    }

    /// The dynamic sampling context of the scope's own trace
    /// ([`Scope::propagation_trace`]): the caller's frozen one when the
    /// trace was continued ([`Scope::continue_trace`]), else one this SDK
    /// heads with `client`'s public key, release and environment. Requests
    /// sent without a span carry it as `baggage`, as the official SDKs
    /// send their propagation context's.
    ///
    /// ```
    /// use sentry_core::{Client, ClientOptions, Scope};
    /// let client = Client::with_options(ClientOptions {
    ///     dsn: "http://49d0f7386ad645858ae85020e393bef3@127.0.0.1:1/1".parse().ok(),
    ///     release: Some("shop@1.0".into()),
    ///     ..Default::default()
    /// });
    /// let scope = Scope::default();
    /// let dsc = scope.propagation_dsc(&client);
    /// let trace_id = scope.propagation_trace().trace_id.to_string();
    /// assert_eq!(dsc.get("trace_id"), Some(trace_id.as_str()));
    /// assert_eq!(dsc.get("release"), Some("shop@1.0"));
    /// assert_eq!(dsc.get("sampled"), None);
    /// ```
    pub fn propagation_dsc(&self, client: &crate::Client) -> Dsc {
        match &self.propagation.frozen_dsc {
            Some(frozen) => frozen.clone(),
            None => Dsc::for_scope_trace(client.dsc_base(), self.propagation.trace_id),
        }
    }

    /// The dynamic sampling context for the envelope of `event`, captured
    /// with this scope by `client`: the active span's (its transaction's),
    /// else that of the scope's own trace when the event is in that trace:
    /// the caller's frozen one if the trace was continued, else one this SDK
    /// heads (an event that brought a trace context of another trace gets
    /// none).
    /// Built here, when the envelope is made, so a scope costs nothing for
    /// it until something is sent.
    pub(crate) fn dsc_for_event(&self, event: &Event, client: &crate::Client) -> Option<Dsc> {
        let dsc = match &self.span {
            Some(span) => span.dsc(),
            None => match event.contexts.get("trace") {
                Some(Context::Trace(trace)) if trace.trace_id == self.propagation.trace_id => {
                    match &self.propagation.frozen_dsc {
                        Some(frozen) => frozen.clone(),
                        // Never empty: it names the trace.
                        None => {
                            return Some(Dsc::for_scope_trace(
                                client.dsc_base(),
                                self.propagation.trace_id,
                            ))
                        }
                    }
                }
                _ => return None,
            },
        };
        // An empty (frozen) context says nothing a receiver can use.
        Some(dsc).filter(|dsc| !dsc.is_empty())
    }

    /// Adds an event processor, run on every event of this scope.
    pub fn add_event_processor<F>(&mut self, f: F)
    where
        F: Fn(Event) -> Option<Event> + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.rest_mut().event_processors).push(Arc::new(f));
    }

    /// Adds an observer told of every error event captured with this scope
    /// (an event of level `error` or `fatal`, after the scope's
    /// [`Scope::set_level`], or with an exception), **whether or not it is
    /// then sent**: the client calls it before `sample_rate`, the event
    /// processors and `before_send` decide, as it counts the error in the
    /// session. The argument is `true` for a crash (an exception whose
    /// mechanism says `handled: false`). Event processors, by contrast, see
    /// only the events sampled in.
    ///
    /// The HTTP server middleware uses it to know whether a request's
    /// handler reported an error itself, sampled out or not.
    ///
    /// An observer stays on the scope for good (there is no way to remove
    /// one), and scopes copied from it (a hub made from the current one,
    /// `with_scope`) carry it: register it on a scope of its own, as the
    /// middleware does on the request's hub, not on the process-wide one.
    /// An observer that captures an event itself is held back by the
    /// client's guard against capturing from inside a capture.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use sentry_core::{protocol::Level, test::with_captured_events_options, ClientOptions};
    ///
    /// let seen = Arc::new(AtomicUsize::new(0));
    /// let counter = seen.clone();
    /// let events = with_captured_events_options(|| {
    ///     // A scope of its own: the observer ends with it.
    ///     sentry_core::with_scope(
    ///         |scope| {
    ///             scope.add_error_observer(move |_crashed| {
    ///                 counter.fetch_add(1, Ordering::Relaxed);
    ///             });
    ///         },
    ///         || {
    ///             sentry_core::capture_message("db down", Level::Error);
    ///             sentry_core::capture_message("slow", Level::Warning);
    ///         },
    ///     );
    ///     sentry_core::capture_message("after the scope", Level::Error);
    /// }, ClientOptions { sample_rate: 0.0, ..Default::default() });
    /// assert!(events.is_empty()); // sampled out, yet observed
    /// assert_eq!(seen.load(Ordering::Relaxed), 1);
    /// ```
    pub fn add_error_observer<F>(&mut self, f: F)
    where
        F: Fn(bool) + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.rest_mut().error_observers).push(Arc::new(f));
    }

    /// The level an event will have once this scope is applied to it.
    pub(crate) fn level_of(&self, event: &Event) -> Level {
        self.level.unwrap_or(event.level)
    }

    pub(crate) fn error_observers(&self) -> &[ErrorObserver] {
        &self.rest.error_observers
    }

    /// Attachments of this scope.
    pub fn attachments(&self) -> &[Attachment] {
        &self.rest.attachments
    }

    /// Applies the scope's data to an event: values already on the event win,
    /// scope breadcrumbs come before the event's own. Event processors are not
    /// run here (the client runs them, guarding against panics).
    pub fn apply_to_event(&self, mut event: Event, max_breadcrumbs: usize) -> Option<Event> {
        self.apply_in_place(&mut event, max_breadcrumbs);
        Some(event)
    }

    pub(crate) fn apply_in_place(&self, event: &mut Event, max_breadcrumbs: usize) {
        if let Some(level) = self.level {
            event.level = level;
        }
        if event.fingerprint.is_empty() {
            if let Some(fp) = &self.rest.fingerprint {
                event.fingerprint = fp.to_vec();
            }
        }
        if event.transaction.is_none() {
            event.transaction = self.rest.transaction.as_deref().map(str::to_owned);
        }
        if event.user.is_none() {
            event.user = self.rest.user.as_deref().cloned();
        }
        merge_missing(&mut event.tags, &self.tags);
        for (k, v) in self.rest.extra.iter() {
            event.extra.entry(k.clone()).or_insert_with(|| v.clone());
        }
        merge_missing(&mut event.contexts, &self.rest.contexts);
        if !event.contexts.contains_key("trace") {
            let trace = match &self.span {
                Some(span) => span.trace_context(),
                // No span: the scope's own trace (as the official SDKs do).
                None => TraceContext {
                    trace_id: self.propagation.trace_id,
                    span_id: self.propagation.span_id,
                    parent_span_id: self.propagation.parent_span_id,
                    ..Default::default()
                },
            };
            event.contexts.insert("trace".to_owned(), trace.into());
        }
        if !self.breadcrumbs.is_empty() {
            let own = std::mem::take(&mut event.breadcrumbs.values);
            let mut all: Vec<Breadcrumb> = self.breadcrumbs.iter().cloned().collect();
            all.extend(own);
            if all.len() > max_breadcrumbs {
                all.drain(..all.len() - max_breadcrumbs);
            }
            event.breadcrumbs.values = all;
        }
    }

    /// Applies tags, extra, user, contexts and the transaction name to a
    /// transaction.
    pub fn apply_to_transaction(&self, transaction: &mut Transaction) {
        if transaction.user.is_none() {
            transaction.user = self.rest.user.as_deref().cloned();
        }
        merge_missing(&mut transaction.tags, &self.tags);
        for (k, v) in self.rest.extra.iter() {
            transaction
                .extra
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        for (k, v) in self.rest.contexts.iter() {
            if k != "trace" {
                transaction
                    .contexts
                    .entry(k.clone())
                    .or_insert_with(|| v.clone());
            }
        }
    }

    pub(crate) fn event_processors(&self) -> &[EventProcessor] {
        &self.rest.event_processors
    }
}

fn merge_missing<V: Clone>(into: &mut BTreeMap<String, V>, from: &BTreeMap<String, V>) {
    if into.is_empty() {
        into.clone_from(from);
        return;
    }
    for (k, v) in from {
        into.entry(k.clone()).or_insert_with(|| v.clone());
    }
}

/// Whether `value` displays as `text`, compared piece by piece as it is
/// written: no string is built. A mismatch is final, even when the value's
/// `fmt` ignores the error it got and writes on.
fn displays_as(value: &impl fmt::Display, text: &str) -> bool {
    struct Compare<'a> {
        rest: &'a str,
        differs: bool,
    }
    impl fmt::Write for Compare<'_> {
        fn write_str(&mut self, piece: &str) -> fmt::Result {
            match self.rest.strip_prefix(piece) {
                Some(rest) if !self.differs => {
                    self.rest = rest;
                    Ok(())
                }
                _ => {
                    self.differs = true;
                    Err(fmt::Error)
                }
            }
        }
    }
    let mut compare = Compare {
        rest: text,
        differs: false,
    };
    let written = fmt::write(&mut compare, format_args!("{value}")).is_ok();
    written && !compare.differs && compare.rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_set_to_the_value_it_has_shares_the_tags() {
        let mut scope = Scope::default();
        scope.set_tag("status", 200);
        scope.set_tag("path", String::from("/a"));
        let before = Arc::clone(&scope.tags);
        scope.set_tag("status", "200");
        scope.set_tag("path", format_args!("/{}", 'a'));
        assert!(
            Arc::ptr_eq(&before, &scope.tags),
            "no copy for the same values"
        );
        // Prefixes and extensions of the value are other values.
        for (value, expected) in [("20", "20"), ("2000", "2000")] {
            scope.set_tag("status", value);
            assert_eq!(scope.tags["status"], expected);
        }
        scope.set_tag("status", 200);
        assert_eq!(scope.tags["status"], "200");
        assert!(!Arc::ptr_eq(&before, &scope.tags));
    }

    /// A `Display` that ignores a write error and writes on: its text is
    /// "abc", whatever the comparison's first error made it skip.
    #[test]
    fn a_value_that_writes_on_after_an_error_is_still_compared_whole() {
        struct WritesOn;
        impl fmt::Display for WritesOn {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let _ = f.write_str("a");
                f.write_str("bc")
            }
        }
        let mut scope = Scope::default();
        scope.set_tag("k", "bc");
        scope.set_tag("k", WritesOn);
        assert_eq!(scope.tags["k"], "abc");
    }

    #[test]
    fn event_values_win_and_breadcrumbs_are_capped() {
        let mut scope = Scope::default();
        scope.set_tag("a", "scope");
        scope.set_tag("b", "scope");
        for i in 0..5 {
            scope.add_breadcrumb_raw(
                Breadcrumb {
                    message: Some(format!("s{i}").into()),
                    ..Default::default()
                },
                3,
            );
        }
        let mut event = Event::default();
        event.tags.insert("a".into(), "event".into());
        event.breadcrumbs.values.push(Breadcrumb {
            message: Some("own".into()),
            ..Default::default()
        });
        let event = scope.apply_to_event(event, 3).expect("kept");
        assert_eq!(event.tags["a"], "event");
        assert_eq!(event.tags["b"], "scope");
        let msgs: Vec<_> = event
            .breadcrumbs
            .values
            .iter()
            .filter_map(|b| b.message.as_deref())
            .collect();
        assert_eq!(msgs, ["s3", "s4", "own"]);
    }

    #[test]
    fn clones_share_until_changed() {
        let mut a = Scope::default();
        a.set_tag("k", "v");
        let mut b = a.clone();
        b.set_tag("k", "w");
        assert_eq!(a.tags()["k"], "v");
        assert_eq!(b.tags()["k"], "w");
    }
}
