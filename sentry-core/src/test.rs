//! Capturing in memory, so an application's own tests can assert on what its
//! code reports, with no network.
//!
//! ```
//! use sentry_core::{capture_message, protocol::Level, test::with_captured_events};
//!
//! let events = with_captured_events(|| {
//!     sentry_core::configure_scope(|s| s.set_tag("user_tier", "gold"));
//!     capture_message("checkout failed", Level::Error);
//! });
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].tags["user_tier"], "gold");
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::client::Client;
use crate::envelope::{Envelope, ItemPayload, ItemType};
use crate::hub::Hub;
use crate::options::ClientOptions;
use crate::protocol::{DataCategory, DiscardReason, Event, Transaction};
use crate::scope::Scope;
use crate::transport::Transport;

/// A transport that keeps every envelope in memory.
#[derive(Default)]
pub struct TestTransport {
    envelopes: Mutex<Vec<Envelope>>,
    discards: Mutex<BTreeMap<(DiscardReason, DataCategory), u64>>,
}

impl TestTransport {
    /// A new, empty transport.
    pub fn new() -> Arc<TestTransport> {
        Arc::new(TestTransport::default())
    }

    /// Takes the envelopes received so far.
    pub fn fetch_and_clear_envelopes(&self) -> Vec<Envelope> {
        std::mem::take(&mut *self.envelopes.lock())
    }

    /// Takes the envelopes received so far and returns their events (the
    /// official crate's name).
    pub fn fetch_and_clear_events(&self) -> Vec<Event> {
        events_of(&self.fetch_and_clear_envelopes())
    }

    /// Drop counts by (reason, category), as a client report would carry them.
    pub fn discards(&self) -> BTreeMap<(DiscardReason, DataCategory), u64> {
        self.discards.lock().clone()
    }
}

impl Transport for TestTransport {
    fn send_envelope(&self, envelope: Envelope) {
        self.envelopes.lock().push(envelope);
    }

    fn flush(&self, _timeout: Duration) -> bool {
        true
    }

    fn record_discard(&self, reason: DiscardReason, category: DataCategory, quantity: u64) {
        *self.discards.lock().entry((reason, category)).or_default() += quantity;
    }
}

/// Runs `f` with a fresh hub whose client sends into a [`TestTransport`], and
/// returns every envelope captured. `options` configures the client (its
/// transport is replaced).
pub fn with_captured_envelopes_options<F: FnOnce()>(f: F, options: ClientOptions) -> Vec<Envelope> {
    let transport = TestTransport::new();
    let client = Arc::new(Client::with_options(ClientOptions {
        transport: Some(Arc::new(transport.clone())),
        ..options
    }));
    let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));
    Hub::run(hub, f);
    client.flush(None);
    transport.fetch_and_clear_envelopes()
}

/// Runs `f` and returns every envelope captured, with default options.
pub fn with_captured_envelopes<F: FnOnce()>(f: F) -> Vec<Envelope> {
    with_captured_envelopes_options(f, ClientOptions::default())
}

/// Runs `f` and returns the error/message events captured.
pub fn with_captured_events<F: FnOnce()>(f: F) -> Vec<Event> {
    with_captured_events_options(f, ClientOptions::default())
}

/// Runs `f` with `options` and returns the error/message events captured.
pub fn with_captured_events_options<F: FnOnce()>(f: F, options: ClientOptions) -> Vec<Event> {
    events_of(&with_captured_envelopes_options(f, options))
}

/// The events inside envelopes (typed items, or raw `event` items parsed;
/// a raw one that does not parse is left out).
///
/// ```
/// use sentry_core::envelope::{Envelope, EnvelopeItem, ItemType};
/// let mut envelope = Envelope::new();
/// envelope.add_item(EnvelopeItem::raw(ItemType::Event, br#"{"message":"raw"}"#.to_vec()));
/// let events = sentry_core::test::events_of(&[envelope]);
/// assert_eq!(events[0].message.as_deref(), Some("raw"));
/// ```
pub fn events_of(envelopes: &[Envelope]) -> Vec<Event> {
    envelopes
        .iter()
        .flat_map(|e| e.items.iter())
        .filter_map(|item| match &item.payload {
            ItemPayload::Event(e) => Some((**e).clone()),
            ItemPayload::Raw(bytes) if item.headers.ty == ItemType::Event => {
                serde_json::from_slice(bytes).ok()
            }
            _ => None,
        })
        .collect()
}

/// The transactions inside envelopes (typed items, or raw `transaction`
/// items parsed).
pub fn transactions_of(envelopes: &[Envelope]) -> Vec<Transaction> {
    envelopes
        .iter()
        .flat_map(|e| e.items.iter())
        .filter_map(|item| match &item.payload {
            ItemPayload::Transaction(t) => Some((**t).clone()),
            ItemPayload::Raw(bytes) if item.headers.ty == ItemType::Transaction => {
                serde_json::from_slice(bytes).ok()
            }
            _ => None,
        })
        .collect()
}

/// The log lines inside envelopes' `log` items, as the JSON they are sent
/// as (`{timestamp, level, body, trace_id, span_id?, severity_number,
/// attributes: {key: {type, value}}}`), oldest batch first.
///
/// ```
/// use sentry_core::{logs, ClientOptions, test};
/// let envelopes = test::with_captured_envelopes_options(
///     || logs::warn("disk almost full"),
///     ClientOptions { enable_logs: true, ..Default::default() },
/// );
/// let lines = test::logs_of(&envelopes);
/// assert_eq!((lines[0]["level"].as_str(), lines[0]["body"].as_str()), (Some("warn"), Some("disk almost full")));
/// ```
pub fn logs_of(envelopes: &[Envelope]) -> Vec<serde_json::Value> {
    container_entries(envelopes, ItemType::Log)
}

/// The metric samples of every `trace_metric` item of `envelopes`, as JSON,
/// in the order they were sent.
///
/// ```
/// use sentry_core::{metrics, test};
///
/// let envelopes = test::with_captured_envelopes(|| metrics::count("jobs.done", 2.0));
/// let samples = test::metrics_of(&envelopes);
/// assert_eq!((samples[0]["type"].as_str(), samples[0]["value"].as_f64()), (Some("counter"), Some(2.0)));
/// ```
pub fn metrics_of(envelopes: &[Envelope]) -> Vec<serde_json::Value> {
    container_entries(envelopes, ItemType::TraceMetric)
}

/// The entries of every container item of type `ty`.
fn container_entries(envelopes: &[Envelope], ty: ItemType) -> Vec<serde_json::Value> {
    envelopes
        .iter()
        .flat_map(|e| e.items.iter())
        .filter(|item| item.headers.ty == ty)
        .filter_map(|item| {
            let container: serde_json::Value =
                serde_json::from_slice(item.payload.as_raw()?).ok()?;
            container.get("items")?.as_array().cloned()
        })
        .flatten()
        .collect()
}
