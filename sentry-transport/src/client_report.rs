//! Discard counters and the `client_report` item built from them
//! (PROTOCOL.md §8).
//!
//! Every drop is counted by `(reason, category)`: the client's own drops
//! (`sample_rate`, `before_send`, ... through
//! [`sentry_core::transport::Transport::record_discard`]) and the
//! transport's (`queue_overflow`, `ratelimit_backoff`, `network_error`,
//! `send_error`, `cache_overflow`). The worker takes the counts on its batch
//! interval and at shutdown and sends them as one `client_report` item; when
//! that report cannot be delivered the counts are put back, so they go out
//! with a later report instead of being lost.

use std::collections::HashMap;

use parking_lot::Mutex;
use sentry_core::envelope::{EnvelopeItem, ItemType};
use sentry_core::protocol::{ClientReport, DataCategory, DiscardReason, DiscardedEvent};

/// Counts of dropped items by reason and category.
#[derive(Debug, Default)]
pub(crate) struct DiscardCounter {
    counts: Mutex<HashMap<(DiscardReason, DataCategory), u64>>,
}

impl DiscardCounter {
    /// Adds `quantity` drops (zero is ignored).
    pub(crate) fn record(&self, reason: DiscardReason, category: DataCategory, quantity: u64) {
        if quantity == 0 {
            return;
        }
        let mut counts = self.counts.lock();
        let slot = counts.entry((reason, category)).or_insert(0);
        *slot = slot.saturating_add(quantity);
    }

    /// Whether nothing is counted.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.counts.lock().is_empty()
    }

    /// Takes every count as a report (sorted by reason, then category), or
    /// `None` when there is nothing to report.
    pub(crate) fn take_report(&self) -> Option<ClientReport> {
        let counts = std::mem::take(&mut *self.counts.lock());
        if counts.is_empty() {
            return None;
        }
        let mut discarded_events: Vec<DiscardedEvent> = counts
            .into_iter()
            .map(|((reason, category), quantity)| DiscardedEvent {
                reason,
                category,
                quantity,
            })
            .collect();
        discarded_events.sort_by(|a, b| (&a.reason, &a.category).cmp(&(&b.reason, &b.category)));
        Some(ClientReport {
            discarded_events,
            ..ClientReport::default()
        })
    }

    /// Puts the counts of a report that could not be sent back.
    pub(crate) fn restore(&self, report: &ClientReport) {
        for d in &report.discarded_events {
            self.record(d.reason.clone(), d.category.clone(), d.quantity);
        }
    }
}

/// The `client_report` envelope item for `report`.
pub(crate) fn report_item(report: &ClientReport) -> EnvelopeItem {
    EnvelopeItem::client_report(report.clone())
}

/// The category of an item type, as a [`DataCategory`].
pub(crate) fn category_of(ty: &ItemType) -> DataCategory {
    DataCategory::from(ty.data_category())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accumulate_and_are_taken_once() {
        let c = DiscardCounter::default();
        c.record(DiscardReason::QueueOverflow, DataCategory::Error, 2);
        c.record(DiscardReason::QueueOverflow, DataCategory::Error, 3);
        c.record(DiscardReason::SampleRate, DataCategory::Transaction, 1);
        c.record(DiscardReason::SampleRate, DataCategory::Error, 0);
        let report = c.take_report().expect("report");
        assert_eq!(
            report.discarded_events,
            vec![
                DiscardedEvent {
                    reason: DiscardReason::QueueOverflow,
                    category: DataCategory::Error,
                    quantity: 5
                },
                DiscardedEvent {
                    reason: DiscardReason::SampleRate,
                    category: DataCategory::Transaction,
                    quantity: 1
                },
            ]
        );
        assert!(c.take_report().is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn restore_puts_counts_back() {
        let c = DiscardCounter::default();
        c.record(DiscardReason::NetworkError, DataCategory::Session, 4);
        let report = c.take_report().expect("report");
        c.record(DiscardReason::NetworkError, DataCategory::Session, 1);
        c.restore(&report);
        let again = c.take_report().expect("report");
        assert_eq!(again.discarded_events[0].quantity, 5);
    }

    #[test]
    fn report_item_is_a_client_report() {
        let c = DiscardCounter::default();
        c.record(DiscardReason::RatelimitBackoff, DataCategory::Error, 1);
        let item = report_item(&c.take_report().expect("report"));
        assert_eq!(item.headers.ty, ItemType::ClientReport);
        let mut payload = Vec::new();
        item.payload.write_payload(&mut payload).expect("serialise");
        let v: serde_json::Value = serde_json::from_slice(&payload).expect("json");
        assert_eq!(v["discarded_events"][0]["reason"], "ratelimit_backoff");
        assert_eq!(v["discarded_events"][0]["category"], "error");
        assert_eq!(v["discarded_events"][0]["quantity"], 1);
        assert!(v["timestamp"].is_number());
    }

    #[test]
    fn categories_follow_item_types() {
        assert_eq!(category_of(&ItemType::Event), DataCategory::Error);
        assert_eq!(category_of(&ItemType::Sessions), DataCategory::Session);
        assert_eq!(category_of(&ItemType::ClientReport), DataCategory::Internal);
        assert_eq!(
            category_of(&ItemType::Other("x".into())),
            DataCategory::Other("unknown".into())
        );
    }
}
