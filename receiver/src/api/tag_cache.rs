//! The tag breakdowns of issues viewed lately, reused while the issue is
//! unchanged.
//!
//! A breakdown reads the issue's newest 5 000 events, each decompressed and
//! normalised (~320 ms for such an issue on a 2-core CI machine), and the
//! web page asks for the issue, breakdown included, again for every event
//! of it that it shows (newer, older). An issue's events change only when
//! new ones arrive, which moves its count and last seen, when retention
//! deletes old ones, which it counts on the issue (`events_pruned`), or
//! when it is deleted, so a breakdown is kept with the issue's count, first
//! and last seen and that counter ([`Stamp`]) and reused while they are the
//! same.
//!
//! ```text
//! cache.get_or_compute(issue_id, None, stamp, || tag_breakdown(...))
//! ```

use std::collections::HashMap;

use parking_lot::Mutex;

use super::types::TagSummary;
use super::ApiError;

/// How many breakdowns are kept (each a few KB); past that the cache
/// starts over.
const MAX_ENTRIES: usize = 64;

/// What an issue's events were when its breakdown was read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stamp {
    pub times_seen: i64,
    pub first_seen: f64,
    pub last_seen: f64,
    pub events_pruned: i64,
}

/// An issue and the one tag key asked for (`None`: all of them).
type Key = (i64, Option<String>);

/// The breakdowns of one server, by issue and key.
#[derive(Debug, Default)]
pub(crate) struct TagCache {
    entries: Mutex<HashMap<Key, (Stamp, Vec<TagSummary>)>>,
}

impl TagCache {
    /// The breakdown of `issue` (only `key`, when given) as it was read at
    /// `stamp`, from the cache or from `compute` (kept for next time).
    pub(crate) fn get_or_compute(
        &self,
        issue: i64,
        key: Option<&str>,
        stamp: Stamp,
        compute: impl FnOnce() -> Result<Vec<TagSummary>, ApiError>,
    ) -> Result<Vec<TagSummary>, ApiError> {
        let key = (issue, key.map(str::to_owned));
        if let Some((kept, tags)) = self.entries.lock().get(&key) {
            if *kept == stamp {
                return Ok(tags.clone());
            }
        }
        // Not under the lock: two requests may both compute, which is
        // only wasted work.
        let tags = compute()?;
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (stamp, tags.clone()));
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(name: &str) -> TagSummary {
        TagSummary {
            key: name.to_owned(),
            name: name.to_owned(),
            total_values: 1,
            unique_values: 1,
            top_values: Vec::new(),
            sampled: false,
        }
    }

    #[test]
    fn a_breakdown_is_reused_until_its_issue_changes() {
        let cache = TagCache::default();
        let stamp = Stamp {
            times_seen: 3,
            first_seen: 1.0,
            last_seen: 2.0,
            events_pruned: 0,
        };
        let mut computed = 0;
        let mut get = |key: Option<&str>, stamp: Stamp, name: &str| {
            cache
                .get_or_compute(7, key, stamp, || {
                    computed += 1;
                    Ok(vec![summary(name)])
                })
                .expect("tags")
        };
        assert_eq!(get(None, stamp, "a")[0].key, "a");
        assert_eq!(get(None, stamp, "b")[0].key, "a", "reused");
        assert_eq!(get(Some("level"), stamp, "c")[0].key, "c", "another key");
        let newer = Stamp {
            times_seen: 4,
            last_seen: 3.0,
            ..stamp
        };
        assert_eq!(get(None, newer, "d")[0].key, "d", "a new event");
        let pruned = Stamp {
            events_pruned: 1,
            ..newer
        };
        assert_eq!(get(None, pruned, "e")[0].key, "e", "old events deleted");
        assert_eq!(computed, 4);
        // Bounded: many issues start it over.
        for issue in 0..(MAX_ENTRIES as i64 * 2) {
            cache
                .get_or_compute(issue + 100, None, stamp, || Ok(Vec::new()))
                .expect("tags");
        }
        assert!(cache.entries.lock().len() <= MAX_ENTRIES);
    }
}
