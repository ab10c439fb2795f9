//! Public key lookup with a short-lived cache.
//!
//! Keys are read from the database on first use and cached for
//! [`KEY_TTL`], so a key created or disabled by `receiver keys` in another
//! process takes effect within that time without a restart. Unknown keys are
//! not cached (each costs one indexed read on a reader connection).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use super::auth::constant_time_eq;
use super::IngestError;
use crate::store::{queries, KeyInfo, Store};

/// How long a looked-up key is trusted.
pub const KEY_TTL: Duration = Duration::from_secs(30);

/// Cached key lookups.
#[derive(Debug)]
pub struct KeyCache {
    store: Store,
    cache: RwLock<HashMap<String, Cached>>,
}

#[derive(Debug, Clone)]
struct Cached {
    info: KeyInfo,
    at: Instant,
    generation: u64,
}

fn forbidden(detail: &str) -> IngestError {
    IngestError::Forbidden {
        detail: format!("event submission rejected: {detail}"),
    }
}

impl KeyCache {
    /// An empty cache over `store`.
    pub fn new(store: Store) -> Self {
        KeyCache {
            store,
            cache: RwLock::new(HashMap::new()),
        }
    }

    async fn lookup(&self, public_key: &str) -> Result<Option<KeyInfo>, IngestError> {
        let generation = self.store.generation();
        if let Some(c) = self.cache.read().get(public_key) {
            if c.at.elapsed() < KEY_TTL && c.generation == generation {
                return Ok(Some(c.info.clone()));
            }
        }
        let key = public_key.to_owned();
        let found = self
            .store
            .read(move |conn| queries::find_key(conn, &key))
            .await?;
        let mut cache = self.cache.write();
        match &found {
            Some(info) => {
                if cache.len() > 10_000 {
                    cache.clear();
                }
                cache.insert(
                    public_key.to_owned(),
                    Cached {
                        info: info.clone(),
                        at: Instant::now(),
                        generation,
                    },
                );
            }
            None => {
                cache.remove(public_key);
            }
        }
        Ok(found)
    }

    /// The project of a valid key for `project_id` whose project allows
    /// `origin`, else 403.
    pub async fn authorize(
        &self,
        public_key: &str,
        project_id: u64,
        origin: Option<&str>,
    ) -> Result<i64, IngestError> {
        let info = self
            .lookup(public_key)
            .await?
            .filter(|k| constant_time_eq(&k.public_key, public_key))
            .ok_or_else(|| forbidden("unknown or disabled public key"))?;
        if !info.enabled || !info.project_enabled {
            return Err(forbidden("unknown or disabled public key"));
        }
        if u64::try_from(info.project_id).ok() != Some(project_id) {
            return Err(forbidden(
                "project_id: the key does not belong to the project in the URL",
            ));
        }
        if !origin_allowed(&info.allowed_origins, origin) {
            return Err(forbidden(
                "cors: the origin is not allowed for this project",
            ));
        }
        Ok(info.project_id)
    }
}

/// Whether `origin` (an `Origin` header, or the origin of a `Referer`) is in
/// a project's allow-list. No origin (server-side SDKs) is always allowed.
///
/// ```
/// use receiver::ingest::keys::origin_allowed;
/// assert!(origin_allowed("*", Some("https://evil.example")));
/// assert!(origin_allowed("https://app.example.com", None));
/// let list = "https://app.example.com, *.example.org, localhost";
/// assert!(origin_allowed(list, Some("https://app.example.com")));
/// assert!(origin_allowed(list, Some("https://a.b.example.org")));
/// assert!(origin_allowed(list, Some("http://localhost:3000")));
/// assert!(!origin_allowed(list, Some("https://example.com")));
/// assert!(!origin_allowed(list, Some("null")));
/// ```
pub fn origin_allowed(allowed: &str, origin: Option<&str>) -> bool {
    let Some(origin) = origin.map(str::trim).filter(|o| !o.is_empty()) else {
        return true;
    };
    let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or(authority);
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(authority, |(host, _)| host);
    allowed
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if entry.contains("://") {
                return entry
                    .trim_end_matches('/')
                    .eq_ignore_ascii_case(origin.trim_end_matches('/'));
            }
            if let Some(suffix) = entry.strip_prefix("*.") {
                let host = host.to_ascii_lowercase();
                let suffix = suffix.to_ascii_lowercase();
                return host == suffix || host.ends_with(&format!(".{suffix}"));
            }
            entry.eq_ignore_ascii_case(host) || entry.eq_ignore_ascii_case(authority)
        })
}
