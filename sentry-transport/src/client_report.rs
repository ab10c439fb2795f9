//! Discard counters and the `client_report` item built from them
//! (PROTOCOL.md §8).
//!
//! Every drop is counted by `(reason, category)`: the client's own drops
//! (`sample_rate`, `before_send`, ... through
//! [`sentry_core::transport::Transport::record_discard`]) and the
//! transport's (`queue_overflow`, `ratelimit_backoff`, `network_error`,
//! `send_error`, `cache_overflow`). The worker takes the counts on its batch
//! interval and at shutdown and sends them as one `client_report` item; when
//! that report is not delivered (the request fails, the spool cannot take
//! it, the receiver answers `429`, a rate limit holds it back) the counts
//! are put back, so they go out with a later report, merged with the newer
//! counts, instead of being lost. A report that was delivered is never put
//! back, so nothing is counted twice. The counter is bounded: one entry per
//! `(reason, category)`, at most [`MAX_COUNTS`] of them, quantities that
//! saturate.

use std::collections::HashMap;

use parking_lot::Mutex;
use sentry_core::envelope::{EnvelopeItem, ItemPayload, ItemType};
use sentry_core::protocol::{ClientReport, DataCategory, DiscardReason, DiscardedEvent};

/// The most `(reason, category)` pairs counted at once. The reasons and
/// categories this SDK uses make well under a hundred; the bound only
/// matters for names that are not its own (a caller's, or a spooled report
/// read back), whose new pairs past it are not counted. A report of this
/// many entries stays far below Relay's 100 KiB for client reports.
pub(crate) const MAX_COUNTS: usize = 256;

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
        let key = (reason, category);
        if let Some(slot) = counts.get_mut(&key) {
            *slot = slot.saturating_add(quantity);
        } else if counts.len() < MAX_COUNTS {
            counts.insert(key, quantity);
        }
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

/// The counts of every `client_report` item among `items` (typed, or raw
/// as read back from the spool; one that does not parse counts nothing), as
/// one report; `None` when there is none.
pub(crate) fn reports_in(items: &[EnvelopeItem]) -> Option<ClientReport> {
    let mut merged: Option<ClientReport> = None;
    for item in items {
        let parsed;
        let report = match &item.payload {
            ItemPayload::ClientReport(report) => report,
            ItemPayload::Raw(bytes) if item.headers.ty == ItemType::ClientReport => {
                match serde_json::from_slice::<ClientReport>(bytes) {
                    Ok(report) => {
                        parsed = report;
                        &parsed
                    }
                    Err(_) => continue,
                }
            }
            _ => continue,
        };
        merged
            .get_or_insert_with(ClientReport::default)
            .discarded_events
            .extend(report.discarded_events.iter().cloned());
    }
    merged
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
    fn new_pairs_past_the_bound_are_not_counted_but_known_ones_still_add_up() {
        let c = DiscardCounter::default();
        for i in 0..MAX_COUNTS + 10 {
            c.record(
                DiscardReason::Other(format!("reason{i}")),
                DataCategory::Error,
                1,
            );
        }
        c.record(
            DiscardReason::Other("reason0".into()),
            DataCategory::Error,
            1,
        );
        let report = c.take_report().expect("report");
        assert_eq!(report.discarded_events.len(), MAX_COUNTS);
        let first = report
            .discarded_events
            .iter()
            .find(|d| d.reason.as_str() == "reason0")
            .expect("reason0");
        assert_eq!(first.quantity, 2);
        c.record(DiscardReason::SampleRate, DataCategory::Error, u64::MAX);
        c.record(DiscardReason::SampleRate, DataCategory::Error, 5);
        let report = c.take_report().expect("report");
        assert_eq!(report.discarded_events[0].quantity, u64::MAX, "saturates");
    }

    #[test]
    fn reports_are_read_from_typed_and_raw_items() {
        let typed = EnvelopeItem::client_report(ClientReport {
            discarded_events: vec![DiscardedEvent {
                reason: DiscardReason::SampleRate,
                category: DataCategory::Error,
                quantity: 2,
            }],
            ..ClientReport::default()
        });
        let raw = EnvelopeItem::raw(
            ItemType::ClientReport,
            br#"{"discarded_events":[{"reason":"queue_overflow","category":"session","quantity":3}]}"#
                .to_vec(),
        );
        let broken = EnvelopeItem::raw(ItemType::ClientReport, b"{not json".to_vec());
        let event = EnvelopeItem::raw(ItemType::Event, b"{}".to_vec());
        let report = reports_in(&[typed, event.clone(), broken, raw]).expect("report");
        let counts: Vec<(&str, &str, u64)> = report
            .discarded_events
            .iter()
            .map(|d| (d.reason.as_str(), d.category.as_str(), d.quantity))
            .collect();
        assert_eq!(
            counts,
            [
                ("sample_rate", "error", 2),
                ("queue_overflow", "session", 3)
            ]
        );
        assert!(reports_in(&[event]).is_none());
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
