//! The bridge from ingestion to [`crate::grouping`]: turns its result into
//! the storable [`Grouping`].
//!
//! Grouping is most of the per-event cost, and most of *that* is building
//! the explanation and the hash inputs, which are only stored when an event
//! creates an issue or brings a hash no issue owns yet. So ingestion first
//! computes the hashes alone ([`GroupingOptions::HASHES_ONLY`]); when
//! [`KnownHashes`] says every one of them is already stored, that lean
//! result is used (its `explanation` is empty and its inputs are empty).
//! Otherwise the full grouping runs. The cache can be stale (a hash could
//! have been removed since), so the writer recomputes the full grouping from
//! the stored payload whenever a lean event would create an issue or add a
//! hash ([`regroup_payload`]): what is stored is the same either way.

use std::collections::HashSet;

use parking_lot::RwLock;
use sentry_core::protocol::Event;

use crate::grouping::fingerprint_rules::Matched;
use crate::grouping::{group_event_with, GroupingOptions, GroupingResult};
use crate::store::records::{hash_key, Grouping, HashRecord};

/// The md5 of nothing: the fallback hash when no component contributes
/// (PROTOCOL.md §10.1 step 6).
pub const FALLBACK_HASH: &str = crate::grouping::FALLBACK_HASH;

/// Most `(project, hash)` pairs remembered; past it the set starts over.
const MAX_KNOWN_HASHES: usize = 100_000;

/// Grouping hashes known to be stored in `group_hashes`, per project: an
/// event whose hashes are all known joins an existing issue and adds no
/// hash, so it needs neither explanation nor inputs.
///
/// Entries are added only after the writer has committed an event with
/// those hashes. Nothing is ever removed except by starting over when the
/// set is full, so an entry may outlive its row; the writer copes with that
/// (see the module documentation).
#[derive(Debug, Default)]
pub struct KnownHashes {
    set: RwLock<HashSet<(i64, u128)>>,
}

impl KnownHashes {
    /// Whether every hash is known for `project_id` (false for none).
    pub fn contains_all(&self, project_id: i64, hashes: &[HashRecord]) -> bool {
        if hashes.is_empty() {
            return false;
        }
        let set = self.set.read();
        hashes
            .iter()
            .all(|h| hash_key(&h.hash).is_some_and(|key| set.contains(&(project_id, key))))
    }

    /// Remembers hashes that are now stored for `project_id`.
    pub fn insert_all<'a>(&self, project_id: i64, hashes: impl IntoIterator<Item = &'a str>) {
        let keys: Vec<u128> = hashes.into_iter().filter_map(hash_key).collect();
        if keys.is_empty() {
            return;
        }
        let mut set = self.set.write();
        if set.len() + keys.len() > MAX_KNOWN_HASHES {
            set.clear();
        }
        set.extend(keys.into_iter().map(|k| (project_id, k)));
    }

    /// How many `(project, hash)` pairs are remembered.
    pub fn len(&self) -> usize {
        self.set.read().len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Groups an event, with explanation and inputs.
pub fn group(event: &Event) -> Grouping {
    grouped(event, group_event_with(event, GroupingOptions::FULL))
}

/// Groups an event whose fingerprint a project's fingerprint rule set (the
/// caller put `rule.fingerprint` in place of the client's): in full, with
/// the rule in the explanation (`fingerprint.rule`), and the rule's title,
/// if it sets one, as the issue's title.
pub fn group_by_rule(event: &Event, rule: &Matched) -> Grouping {
    let mut result = group_event_with(event, GroupingOptions::FULL);
    if let Some(fingerprint) = result.explanation.get_mut("fingerprint") {
        if let Some(fingerprint) = fingerprint.as_object_mut() {
            fingerprint.insert("rule".to_owned(), rule.rule.clone().into());
        }
    }
    let main_exception_id = result.main_exception_id;
    let mut grouping = grouped(event, result);
    if let Some(title) = &rule.title {
        // As Sentry: the metadata keeps the exception's type and value and
        // gains the title.
        let mut metadata = crate::grouping::metadata::exception_metadata(
            event,
            &grouping.title,
            main_exception_id,
        )
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
        metadata["title"] = title.clone().into();
        grouping.metadata = Some(metadata.to_string());
        grouping.title = title.clone();
    }
    grouping
}

/// Groups an event for `project_id`: hashes only when `known` already has
/// all of them (the result [`is_lean`]), else in full.
pub fn group_for(event: &Event, project_id: i64, known: &KnownHashes) -> Grouping {
    let lean = grouped(event, group_event_with(event, GroupingOptions::HASHES_ONLY));
    if known.contains_all(project_id, &lean.hashes) {
        lean
    } else {
        group(event)
    }
}

/// Whether a grouping was computed without explanation and inputs.
pub fn is_lean(grouping: &Grouping) -> bool {
    grouping.explanation.is_empty()
}

/// The full grouping of a stored (zstd-compressed, normalised JSON) event
/// payload; `None` if it cannot be read back.
pub fn regroup_payload(payload: &[u8]) -> Option<Grouping> {
    let json = crate::store::decompress(payload).ok()?;
    let event: Event = serde_json::from_slice(&json).ok()?;
    Some(group(&event))
}

/// The storable form of `result`, the grouping of `event`, with the
/// issue metadata its title does not give.
fn grouped(event: &Event, result: GroupingResult) -> Grouping {
    let main_exception_id = result.main_exception_id;
    let mut grouping = with_fallback(from_result(result));
    grouping.metadata =
        crate::grouping::metadata::issue_metadata(event, &grouping.title, main_exception_id);
    grouping
}

fn with_fallback(mut grouping: Grouping) -> Grouping {
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
    // With the explanation: only a full grouping has inputs to store.
    let full = !result.explanation.is_null();
    Grouping {
        hashes: result
            .hashes
            .into_iter()
            .map(|h| HashRecord {
                inputs: if full {
                    crate::store::compress_inputs(&h.inputs).unwrap_or_default()
                } else {
                    Vec::new()
                },
                hash: h.hash,
                variant: h.variant,
                component: h.component,
            })
            .collect(),
        title: result.title,
        culprit: result.culprit,
        level: result.level.as_str().to_owned(),
        // Set by [`grouped`], which knows the event.
        metadata: None,
        // `Null` (hashes only) stays empty: "not computed". Compressed here,
        // on the worker, not by the writer. (Compressing cannot fail short
        // of memory; the issue would then show no explanation.)
        explanation: if result.explanation.is_null() {
            Vec::new()
        } else {
            crate::store::compress_explanation(&result.explanation.to_string()).unwrap_or_default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dictionary::PayloadCodec;
    use crate::store::records::Record;

    fn event(json: &str) -> Event {
        serde_json::from_str(json).expect("event")
    }

    fn inputs(stored: &[u8]) -> Vec<String> {
        crate::store::queries::hash_inputs(rusqlite::types::ValueRef::Blob(stored))
    }

    #[test]
    fn known_hashes_make_grouping_lean_with_the_same_hashes() {
        let e = event(
            r#"{"platform":"python","exception":{"values":[{"type":"KeyError","value":"x",
                "stacktrace":{"frames":[{"function":"f","module":"m","in_app":true}]}}]}}"#,
        );
        let known = KnownHashes::default();
        let full = group_for(&e, 1, &known);
        assert!(!is_lean(&full));
        assert!(full.hashes.iter().all(|h| !inputs(&h.inputs).is_empty()));
        known.insert_all(1, full.hashes.iter().map(|h| h.hash.as_str()));
        let lean = group_for(&e, 1, &known);
        assert!(is_lean(&lean));
        let hashes = |g: &Grouping| g.hashes.iter().map(|h| h.hash.clone()).collect::<Vec<_>>();
        assert_eq!(hashes(&lean), hashes(&full));
        assert_eq!(
            (&lean.title, &lean.culprit, &lean.level),
            (&full.title, &full.culprit, &full.level)
        );
        // Another project does not know them.
        assert!(!is_lean(&group_for(&e, 2, &known)));
    }

    #[test]
    fn a_stored_payload_regroups_in_full() {
        let e = event(r#"{"message":"disk 91% full"}"#);
        let json = serde_json::to_vec(&e).expect("json");
        let payload = crate::store::compress(&json, 3).expect("compress");
        let again = regroup_payload(&payload).expect("regroup");
        assert_eq!(again.hashes[0].hash, group(&e).hashes[0].hash);
        assert_eq!(inputs(&again.hashes[0].inputs), ["disk <int>% full"]);
        assert!(regroup_payload(b"not zstd").is_none());
    }

    /// A stale cache (hashes "known" that are not stored) still stores the
    /// full explanation and inputs: the writer regroups the payload.
    #[test]
    fn lean_events_that_create_an_issue_are_regrouped_by_the_writer() {
        use crate::ingest::envelope::prepare_with;
        use crate::ingest::normalize::RequestContext;
        use crate::store::{Store, WriteOp};
        use sentry_core::envelope::Envelope;
        use sentry_core::protocol::Timestamp;

        let dir = tempfile::tempdir().expect("tempdir");
        let (store, opened) =
            Store::open(&dir.path().join("db.sqlite"), &Default::default()).expect("open");
        let project = opened.default_key.project_id;
        let body = |id: &str| {
            format!(
                "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"platform\":\"python\",\
                 \"exception\":{{\"values\":[{{\"type\":\"KeyError\",\"value\":\"user 1\",\
                 \"stacktrace\":{{\"frames\":[{{\"function\":\"load\",\"module\":\"app\",\
                 \"in_app\":true}}]}}}}]}}}}\n"
            )
        };
        let ctx = RequestContext {
            received: Timestamp::now(),
            sent_at: None,
            client_ip: None,
        };
        let first = Envelope::parse(body(&"a".repeat(32)).as_bytes()).expect("envelope");
        let known = KnownHashes::default();
        let full = prepare_with(&first, project, &ctx, &PayloadCodec::plain(3), None, None)
            .expect("prepare");
        let Some(Record::Event(record)) = full.batch.records.first() else {
            panic!("no event record");
        };
        known.insert_all(
            project,
            record.grouping.hashes.iter().map(|h| h.hash.as_str()),
        );
        let stale = prepare_with(
            &first,
            project,
            &ctx,
            &PayloadCodec::plain(3),
            Some(&known),
            None,
        )
        .expect("prepare");
        let Some(Record::Event(record)) = stale.batch.records.first() else {
            panic!("no event record");
        };
        assert!(is_lean(&record.grouping));
        assert!(stale.new_hashes.is_empty());
        store
            .write_blocking(WriteOp::Ingest(stale.batch))
            .expect("write");

        let read = |sql: &'static str| {
            store
                .read_blocking(
                    move |c| Ok(c.query_row(sql, [], |r| r.get::<_, Option<String>>(0))?),
                )
                .expect("read")
        };
        let explanation = store
            .read_blocking(|c| {
                Ok(
                    c.query_row("SELECT explanation FROM issue_grouping", [], |r| {
                        Ok(crate::store::queries::explanation_text(r.get_ref(0)?))
                    })?,
                )
            })
            .expect("read")
            .expect("explanation");
        assert!(explanation.contains("variants"), "{explanation}");
        let stored = store
            .read_blocking(|c| {
                Ok(
                    c.query_row("SELECT inputs FROM group_hashes LIMIT 1", [], |r| {
                        Ok(crate::store::queries::hash_inputs(r.get_ref(0)?))
                    })?,
                )
            })
            .expect("read");
        assert!(stored.iter().any(|i| i.contains("KeyError")), "{stored:?}");

        // The next event of the issue stays lean and adds no hash row.
        let second = Envelope::parse(body(&"b".repeat(32)).as_bytes()).expect("envelope");
        let lean = prepare_with(
            &second,
            project,
            &ctx,
            &PayloadCodec::plain(3),
            Some(&known),
            None,
        )
        .expect("prepare");
        store
            .write_blocking(WriteOp::Ingest(lean.batch))
            .expect("write");
        let counts = read("SELECT COUNT(*) || '/' || SUM(times_seen) FROM issues");
        assert_eq!(counts.as_deref(), Some("1/2"));
        let hashes = read("SELECT COUNT(*) || '' FROM group_hashes");
        assert_eq!(hashes.as_deref(), Some("1"));
        store.shutdown();
    }

    #[test]
    fn the_set_is_bounded() {
        let known = KnownHashes::default();
        let hashes: Vec<String> = (0..MAX_KNOWN_HASHES + 10)
            .map(|i| format!("{i:032x}"))
            .collect();
        known.insert_all(1, hashes.iter().map(String::as_str));
        assert!(known.len() <= MAX_KNOWN_HASHES + 10);
        known.insert_all(1, hashes.iter().take(20).map(String::as_str));
        assert!(known.len() <= MAX_KNOWN_HASHES);
        known.insert_all(1, ["not-a-hash"]);
        assert!(!known.is_empty());
    }
}
