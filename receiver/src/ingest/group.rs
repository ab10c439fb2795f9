//! The bridge from ingestion to [`crate::grouping`]: turns its result into
//! the storable [`Grouping`].

use sentry_core::protocol::Event;

use crate::grouping::{group_event, GroupingResult};
use crate::store::records::{Grouping, HashRecord};

/// The md5 of nothing: the fallback hash when no component contributes
/// (PROTOCOL.md §10.1 step 6).
pub const FALLBACK_HASH: &str = crate::grouping::FALLBACK_HASH;

/// Groups an event.
pub fn group(event: &Event) -> Grouping {
    let mut grouping = from_result(group_event(event));
    if grouping.hashes.is_empty() {
        grouping.hashes.push(HashRecord {
            hash: FALLBACK_HASH.to_owned(),
            variant: "fallback".to_owned(),
            component: "fallback".to_owned(),
            inputs: Vec::new(),
        });
    }
    grouping
}

fn from_result(result: GroupingResult) -> Grouping {
    Grouping {
        hashes: result
            .hashes
            .into_iter()
            .map(|h| HashRecord {
                hash: h.hash,
                variant: h.variant,
                component: h.component,
                inputs: h.inputs,
            })
            .collect(),
        title: result.title,
        culprit: result.culprit,
        level: result.level.as_str().to_owned(),
        explanation: result.explanation.to_string(),
    }
}
