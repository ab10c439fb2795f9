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
    /// The rules texts whose bad lines were said on stderr.
    warned: parking_lot::Mutex<std::collections::HashSet<(i64, String)>>,
}

impl RulesCache {
    /// An empty cache over `store`.
    pub fn new(store: Store) -> Self {
        RulesCache {
            store,
            cache: RwLock::new(HashMap::new()),
            warned: Default::default(),
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
        // Rules are checked when they are set; a line that no longer parses
        // (stored by an older receiver, or by hand) is left out, and said
        // once, rather than taking the project's other rules with it.
        let rules = text.and_then(|t| {
            let (rules, errors) = FingerprintRules::parse_lenient(&t);
            if !errors.is_empty() && self.warned.lock().insert((project, t.clone())) {
                for e in &errors {
                    eprintln!("project {project}: {e}; that rule is left out");
                }
            }
            (!rules.is_empty()).then(|| Arc::new(rules))
        });
        let mut cache = self.cache.write();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(project, (rules.clone(), Instant::now(), generation));
        Ok(rules)
    }
}
