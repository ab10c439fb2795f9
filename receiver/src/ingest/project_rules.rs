//! Each project's fingerprint rules (`grouping::fingerprint_rules`),
//! parsed once and cached as keys are ([`super::keys`]): for
//! [`super::keys::KEY_TTL`], or until projects change through this
//! process's store (its generation moves), so rules set through the API
//! apply to the next event at once, and rules set by another process
//! within that time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;
use rusqlite::OptionalExtension;

use super::keys::KEY_TTL;
use super::IngestError;
use crate::grouping::fingerprint_rules::FingerprintRules;
use crate::store::Store;

/// A project's rules, `None` when it has none.
pub type Rules = Option<Arc<FingerprintRules>>;

/// Cached rules by project.
#[derive(Debug)]
pub struct RulesCache {
    store: Store,
    cache: RwLock<HashMap<i64, (Rules, Instant, u64)>>,
}

impl RulesCache {
    /// An empty cache over `store`.
    pub fn new(store: Store) -> Self {
        RulesCache {
            store,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The rules of `project`.
    pub async fn for_project(&self, project: i64) -> Result<Rules, IngestError> {
        let generation = self.store.generation();
        if let Some((rules, at, seen)) = self.cache.read().get(&project) {
            if at.elapsed() < KEY_TTL && *seen == generation {
                return Ok(rules.clone());
            }
        }
        let text: Option<String> = self
            .store
            .read(move |conn| {
                Ok(conn
                    .prepare_cached("SELECT fingerprinting_rules FROM projects WHERE id = ?1")?
                    .query_row([project], |r| r.get::<_, Option<String>>(0))
                    .optional()?
                    .flatten())
            })
            .await?;
        // Rules are checked when they are set: text that no longer parses
        // (written by hand into the file) groups as if there were none.
        let rules = text
            .and_then(|t| FingerprintRules::parse(&t).ok())
            .filter(|r| !r.is_empty())
            .map(Arc::new);
        let mut cache = self.cache.write();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(project, (rules.clone(), Instant::now(), generation));
        Ok(rules)
    }
}
