//! Rate limits announced by the receiver (PROTOCOL.md §4.2).
//!
//! A receiver tells the SDK to back off with the `X-Sentry-Rate-Limits`
//! response header, on any status code:
//!
//! ```text
//! X-Sentry-Rate-Limits: <limit>[, <limit>...]
//! limit = retry_after ":" categories ":" scope [ ":" reason_code [ ":" namespaces ] ]
//! ```
//!
//! `categories` is a `;`-separated list of data categories (empty means every
//! category). Without that header, a `429 Too Many Requests` limits every
//! category for `Retry-After` (seconds or an HTTP date), or 60 seconds when
//! that header is missing too.
//!
//! `namespaces` (`;`-separated, empty means all) scopes a limit to the
//! metric buckets of those namespaces, as Relay matches it: only metric
//! buckets (`statsd`, `metric_buckets` items, category `metric_bucket`)
//! have a namespace, and a limit that names some never matches an item
//! without one. Every metric bucket an SDK sends is in the `custom`
//! namespace (this SDK makes none itself; it forwards those an application
//! puts in an envelope), so a namespaced limit holds back `metric_bucket`
//! items when it names `custom`, and nothing otherwise: never a global
//! limit, never another category.
//!
//! [`RateLimiter`] keeps the latest expiry per category; the transport asks it
//! before sending each item and drops (and counts as `ratelimit_backoff`) the
//! items of a limited category while other categories keep flowing.
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//! use sentry_transport::ratelimit::RateLimiter;
//!
//! let now = Instant::now();
//! let mut limiter = RateLimiter::new();
//! limiter.update(200, Some("60:transaction:key, 2700:default;error;security:organization"),
//!                None, now, SystemTime::now());
//! assert!(limiter.is_limited("error", now));
//! assert!(limiter.is_limited("transaction", now + Duration::from_secs(59)));
//! assert!(!limiter.is_limited("transaction", now + Duration::from_secs(61)));
//! assert!(!limiter.is_limited("session", now));
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

/// How long a bare `429` (no `X-Sentry-Rate-Limits`, no `Retry-After`)
/// limits every category: 60 seconds, as every official SDK does.
///
/// ```
/// assert_eq!(sentry_transport::ratelimit::DEFAULT_RETRY_AFTER.as_secs(), 60);
/// ```
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The metric namespace of every metric bucket an SDK sends (the official
/// SDKs' metrics API only ever sent custom metrics).
///
/// ```
/// assert_eq!(sentry_transport::ratelimit::SDK_METRIC_NAMESPACE, "custom");
/// ```
pub const SDK_METRIC_NAMESPACE: &str = "custom";

/// The data category of metric buckets, the only one with namespaces.
const METRIC_BUCKET: &str = "metric_bucket";

/// The longest limit honoured (one week); longer values are clamped so a
/// bogus header cannot overflow the clock arithmetic.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// The data categories a receiver may name (PROTOCOL.md §2.4). A limit that
/// names only categories outside this list is ignored.
const KNOWN_CATEGORIES: &[&str] = &[
    "default",
    "error",
    "transaction",
    "security",
    "attachment",
    "session",
    "profile",
    "replay",
    "transaction_processed",
    "transaction_indexed",
    "monitor",
    "profile_indexed",
    "span",
    "monitor_seat",
    "feedback",
    "user_report_v2",
    "metric_bucket",
    "span_indexed",
    "profile_duration",
    "profile_chunk",
    "metric_second",
    "replay_video",
    "uptime",
    "attachment_item",
    "log_item",
    "log_byte",
    "profile_duration_ui",
    "profile_chunk_ui",
    "seer_autofix",
    "seer_scanner",
    "prevent_user",
    "prevent_review",
    "size_analysis",
    "installable_build",
    "trace_metric",
    "seer_user",
    "profile_backend",
    "profile_ui",
];

/// One parsed entry of `X-Sentry-Rate-Limits`.
///
/// ```
/// use std::time::Duration;
/// use sentry_transport::ratelimit::parse_rate_limits;
///
/// let limits = parse_rate_limits("2700:metric_bucket:organization:quota_exceeded:custom");
/// assert_eq!(limits[0].retry_after, Duration::from_secs(2700));
/// assert_eq!(limits[0].categories, vec!["metric_bucket".to_owned()]);
/// assert_eq!(limits[0].scope, "organization");
/// assert_eq!(limits[0].reason.as_deref(), Some("quota_exceeded"));
/// assert_eq!(limits[0].namespaces, vec!["custom".to_owned()]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// How long the limit lasts (fractional seconds are rounded up).
    pub retry_after: Duration,
    /// The limited categories; empty means every category.
    pub categories: Vec<String>,
    /// `organization`, `project`, `key` or `global` (informational).
    pub scope: String,
    /// Why, e.g. `quota_exceeded` (informational; `None` when empty).
    pub reason: Option<String>,
    /// The metric namespaces the limit is scoped to; empty means all. A
    /// limit that names some applies only to metric buckets of those
    /// namespaces (see [`applies_to`](Self::applies_to)).
    pub namespaces: Vec<String>,
}

impl RateLimit {
    /// Whether the limit applies to every category: it names no category
    /// and no metric namespace.
    ///
    /// ```
    /// use sentry_transport::ratelimit::parse_rate_limits;
    /// assert!(parse_rate_limits("60::organization")[0].is_global());
    /// // Scoped to custom metrics: not global.
    /// assert!(!parse_rate_limits("60::organization::custom")[0].is_global());
    /// ```
    pub fn is_global(&self) -> bool {
        self.categories.is_empty() && self.namespaces.is_empty()
    }

    /// Whether the limit holds back items of data category `category` that
    /// this SDK sends. A limit with namespaces applies only to
    /// `metric_bucket`, and only when it names [`SDK_METRIC_NAMESPACE`].
    ///
    /// ```
    /// use sentry_transport::ratelimit::parse_rate_limits;
    ///
    /// let custom = &parse_rate_limits("60:metric_bucket:organization:quota_exceeded:custom")[0];
    /// assert!(custom.applies_to("metric_bucket"));
    /// let spans = &parse_rate_limits("60:metric_bucket:organization::spans")[0];
    /// assert!(!spans.applies_to("metric_bucket"));
    /// let everything = &parse_rate_limits("60::organization")[0];
    /// assert!(everything.applies_to("error") && everything.applies_to("internal"));
    /// let custom_only = &parse_rate_limits("60::organization::custom")[0];
    /// assert!(custom_only.applies_to("metric_bucket") && !custom_only.applies_to("error"));
    /// ```
    pub fn applies_to(&self, category: &str) -> bool {
        let category = canonical_category(category);
        let named = self.categories.is_empty() || self.categories.iter().any(|c| c == category);
        if self.namespaces.is_empty() {
            return named;
        }
        named
            && category == METRIC_BUCKET
            && self.namespaces.iter().any(|n| n == SDK_METRIC_NAMESPACE)
    }
}

/// Parses an `X-Sentry-Rate-Limits` value. Entries are separated by `,`;
/// spaces are trimmed, empty and unparsable entries are skipped and unknown
/// trailing fields are ignored. Categories that are not data categories are
/// dropped from an entry, and an entry that named only such categories is
/// dropped entirely (it must not turn into a global limit).
///
/// ```
/// use std::time::Duration;
/// use sentry_transport::ratelimit::parse_rate_limits;
///
/// let limits = parse_rate_limits("60:transaction:key, 2700:default;error;security:organization");
/// assert_eq!(limits.len(), 2);
/// assert_eq!(limits[0].categories, vec!["transaction".to_owned()]);
/// assert_eq!(limits[1].retry_after, Duration::from_secs(2700));
/// assert_eq!(limits[1].categories.len(), 3);
///
/// // Floats round up; garbage is skipped; unknown-only entries are ignored.
/// let limits = parse_rate_limits(" 1.2::project ,, nonsense, 30:made_up:key ");
/// assert_eq!(limits.len(), 1);
/// assert_eq!(limits[0].retry_after, Duration::from_secs(2));
/// assert!(limits[0].is_global());
/// ```
pub fn parse_rate_limits(header: &str) -> Vec<RateLimit> {
    header.split(',').filter_map(parse_one).collect()
}

fn parse_one(entry: &str) -> Option<RateLimit> {
    let entry = entry.trim();
    if entry.is_empty() {
        return None;
    }
    let mut fields = entry.split(':');
    let retry_after = parse_seconds(fields.next()?)?;
    let raw_categories = fields.next().unwrap_or("").trim();
    let scope = fields.next().unwrap_or("").trim().to_owned();
    let reason = fields
        .next()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let namespaces = fields
        .next()
        .map(|n| {
            n.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();

    let named: Vec<&str> = raw_categories
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let categories: Vec<String> = named
        .iter()
        .filter(|c| KNOWN_CATEGORIES.contains(c))
        .map(|c| canonical_category(c).to_owned())
        .collect();
    if !named.is_empty() && categories.is_empty() {
        // Only unknown categories: ignore rather than limit everything.
        return None;
    }
    Some(RateLimit {
        retry_after,
        categories,
        scope,
        reason,
        namespaces,
    })
}

/// `user_report_v2` is an alias of `feedback`.
fn canonical_category(name: &str) -> &str {
    match name {
        "user_report_v2" => "feedback",
        other => other,
    }
}

/// Seconds as an integer or a float, rounded up; negative, NaN and infinite
/// values are rejected.
fn parse_seconds(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let secs: f64 = s.parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    let secs = secs.ceil().min(MAX_RETRY_AFTER.as_secs_f64());
    Some(Duration::from_secs(secs as u64))
}

/// Parses a `Retry-After` value: delay seconds (integer or float, rounded up)
/// or an HTTP date, measured from `now` (a date in the past gives zero).
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use sentry_transport::ratelimit::parse_retry_after;
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Some(d) = parse_seconds(value) {
        return Some(d);
    }
    let date = httpdate::parse_http_date(value.trim()).ok()?;
    Some(
        date.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// The active rate limits: an expiry per category plus a global one.
///
/// ```
/// use std::time::{Duration, Instant, SystemTime};
/// use sentry_transport::ratelimit::RateLimiter;
///
/// let now = Instant::now();
/// let mut limiter = RateLimiter::new();
/// // A bare 429 limits everything for 60 s, client reports included.
/// assert!(limiter.update(429, None, None, now, SystemTime::now()));
/// assert!(limiter.is_limited("internal", now));
/// assert_eq!(limiter.limited_for("error", now), Some(Duration::from_secs(60)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct RateLimiter {
    global: Option<Instant>,
    categories: HashMap<String, Instant>,
}

impl RateLimiter {
    /// No active limits.
    ///
    /// ```
    /// let l = sentry_transport::ratelimit::RateLimiter::new();
    /// assert!(!l.is_limited("error", std::time::Instant::now()));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a response: `X-Sentry-Rate-Limits` (`rate_limits`) on any
    /// status; otherwise (or when that header has no well-formed entry),
    /// for a 429, `Retry-After` (seconds or HTTP date, relative to
    /// `wall_now`) or [`DEFAULT_RETRY_AFTER`] as a global limit.
    /// Keeps the later expiry when a category is already limited. Returns
    /// whether any limit was applied.
    ///
    /// ```
    /// use std::time::{Instant, SystemTime};
    /// use sentry_transport::ratelimit::RateLimiter;
    ///
    /// let now = Instant::now();
    /// let mut limiter = RateLimiter::new();
    /// assert!(limiter.update(429, None, Some("5"), now, SystemTime::now()));
    /// assert!(limiter.is_limited("session", now));
    /// assert!(!limiter.update(200, None, None, now, SystemTime::now()));
    /// ```
    pub fn update(
        &mut self,
        status: u16,
        rate_limits: Option<&str>,
        retry_after: Option<&str>,
        now: Instant,
        wall_now: SystemTime,
    ) -> bool {
        if let Some(header) = rate_limits {
            let limits = parse_rate_limits(header);
            let mut applied = false;
            for limit in &limits {
                applied |= self.apply_limit(limit, now);
            }
            // A 429 whose header has no well-formed entry at all (not even
            // one naming only categories this SDK does not know, or metric
            // namespaces it does not send, which are ignored on purpose)
            // still limits, as a bare 429 does: sending on at full rate is
            // what it refuses.
            let malformed = || {
                !header
                    .split(',')
                    .filter_map(|e| e.trim().split(':').next())
                    .any(|first| parse_seconds(first).is_some())
            };
            if !limits.is_empty() || status != 429 || !malformed() {
                return applied;
            }
        }
        if status == 429 {
            let duration = retry_after
                .and_then(|v| parse_retry_after(v, wall_now))
                .unwrap_or(DEFAULT_RETRY_AFTER);
            self.apply(
                &RateLimit {
                    retry_after: duration,
                    categories: Vec::new(),
                    scope: String::new(),
                    reason: None,
                    namespaces: Vec::new(),
                },
                now,
            );
            return true;
        }
        false
    }

    /// Applies one parsed limit starting at `now`: to every category when
    /// it is [global](RateLimit::is_global), else to the categories it
    /// [applies to](RateLimit::applies_to) (a limit for metric namespaces
    /// this SDK does not send applies to none).
    ///
    /// ```
    /// use std::time::Instant;
    /// use sentry_transport::ratelimit::{parse_rate_limits, RateLimiter};
    ///
    /// let now = Instant::now();
    /// let mut limiter = RateLimiter::new();
    /// limiter.apply(&parse_rate_limits("10:session:project")[0], now);
    /// assert!(limiter.is_limited("session", now));
    /// limiter.apply(&parse_rate_limits("10:metric_bucket:project::transactions")[0], now);
    /// assert!(!limiter.is_limited("metric_bucket", now));
    /// ```
    pub fn apply(&mut self, limit: &RateLimit, now: Instant) {
        self.apply_limit(limit, now);
    }

    /// [`apply`](Self::apply), returning whether anything is limited by it.
    fn apply_limit(&mut self, limit: &RateLimit, now: Instant) -> bool {
        let until = now
            .checked_add(limit.retry_after)
            .unwrap_or(now + MAX_RETRY_AFTER);
        let later = |slot: &mut Instant| *slot = (*slot).max(until);
        if limit.is_global() {
            match &mut self.global {
                Some(g) => later(g),
                None => self.global = Some(until),
            }
            return true;
        }
        // Not global: it names categories, or namespaces (which only
        // metric buckets have).
        let metric_bucket = [METRIC_BUCKET.to_owned()];
        let named = if limit.categories.is_empty() {
            &metric_bucket[..]
        } else {
            &limit.categories[..]
        };
        let mut applied = false;
        for category in named.iter().filter(|c| limit.applies_to(c)) {
            self.categories
                .entry(category.clone())
                .and_modify(later)
                .or_insert(until);
            applied = true;
        }
        applied
    }

    /// Whether items of `category` (a data category name such as `"error"`,
    /// as [`sentry_core::envelope::ItemType::data_category`] returns) must not
    /// be sent at `now`. `"internal"` (client reports) is limited only by a
    /// global limit.
    ///
    /// ```
    /// use std::time::{Instant, SystemTime};
    /// use sentry_transport::ratelimit::RateLimiter;
    ///
    /// let now = Instant::now();
    /// let mut limiter = RateLimiter::new();
    /// limiter.update(200, Some("60:error:key"), None, now, SystemTime::now());
    /// assert!(limiter.is_limited("error", now));
    /// assert!(!limiter.is_limited("internal", now));
    /// ```
    pub fn is_limited(&self, category: &str, now: Instant) -> bool {
        self.limited_for(category, now).is_some()
    }

    /// How much longer `category` is limited at `now`, if it is.
    ///
    /// ```
    /// use std::time::{Duration, Instant, SystemTime};
    /// use sentry_transport::ratelimit::RateLimiter;
    ///
    /// let now = Instant::now();
    /// let mut limiter = RateLimiter::new();
    /// limiter.update(200, Some("30:error:key, 90::org"), None, now, SystemTime::now());
    /// assert_eq!(limiter.limited_for("error", now), Some(Duration::from_secs(90)));
    /// ```
    pub fn limited_for(&self, category: &str, now: Instant) -> Option<Duration> {
        let category = canonical_category(category);
        let own = self.categories.get(category).copied();
        let until = match (self.global, own) {
            (Some(a), Some(b)) => a.max(b),
            (a, b) => a.or(b)?,
        };
        (until > now).then(|| until - now)
    }

    /// Whether any limit is active at `now`.
    ///
    /// ```
    /// use std::time::Instant;
    /// assert!(!sentry_transport::ratelimit::RateLimiter::new().any_active(Instant::now()));
    /// ```
    pub fn any_active(&self, now: Instant) -> bool {
        self.global.is_some_and(|g| g > now) || self.categories.values().any(|&u| u > now)
    }

    /// Forgets expired limits.
    ///
    /// ```
    /// use std::time::{Duration, Instant, SystemTime};
    /// use sentry_transport::ratelimit::RateLimiter;
    ///
    /// let now = Instant::now();
    /// let mut limiter = RateLimiter::new();
    /// limiter.update(200, Some("1:error:key"), None, now, SystemTime::now());
    /// limiter.prune(now + Duration::from_secs(2));
    /// assert!(!limiter.any_active(now));
    /// ```
    pub fn prune(&mut self, now: Instant) {
        if self.global.is_some_and(|g| g <= now) {
            self.global = None;
        }
        self.categories.retain(|_, until| *until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn protocol_example_two_limits() {
        let limits =
            parse_rate_limits("60:transaction:key, 2700:default;error;security:organization");
        assert_eq!(
            limits,
            vec![
                RateLimit {
                    retry_after: secs(60),
                    categories: vec!["transaction".into()],
                    scope: "key".into(),
                    reason: None,
                    namespaces: vec![],
                },
                RateLimit {
                    retry_after: secs(2700),
                    categories: vec!["default".into(), "error".into(), "security".into()],
                    scope: "organization".into(),
                    reason: None,
                    namespaces: vec![],
                },
            ]
        );
    }

    #[test]
    fn protocol_example_global() {
        let limits = parse_rate_limits("60::organization");
        assert_eq!(limits.len(), 1);
        assert!(limits[0].is_global());
        assert_eq!(limits[0].scope, "organization");
    }

    #[test]
    fn protocol_example_metric_namespace() {
        let limits = parse_rate_limits("2700:metric_bucket:organization:quota_exceeded:custom");
        assert_eq!(limits[0].categories, vec!["metric_bucket".to_owned()]);
        assert_eq!(limits[0].reason.as_deref(), Some("quota_exceeded"));
        assert_eq!(limits[0].namespaces, vec!["custom".to_owned()]);
        // Empty reason with a namespace, as Relay writes it.
        let limits = parse_rate_limits("10:metric_bucket:organization::custom");
        assert_eq!(limits[0].reason, None);
        assert_eq!(limits[0].namespaces, vec!["custom".to_owned()]);
    }

    /// Relay scopes a limit with namespaces to metric buckets of those
    /// namespaces (an item without a namespace never matches one); every
    /// metric bucket an SDK sends is in `custom`.
    #[test]
    fn a_namespaced_limit_holds_back_custom_metric_buckets_only() {
        let now = Instant::now();
        let limited = |header: &str| {
            let mut l = RateLimiter::new();
            let applied = l.update(200, Some(header), None, now, SystemTime::now());
            let mut out: Vec<&str> = ["metric_bucket", "error", "transaction", "internal"]
                .into_iter()
                .filter(|c| l.is_limited(c, now))
                .collect();
            out.sort_unstable();
            assert_eq!(applied, !out.is_empty(), "{header}");
            out
        };
        let none: [&str; 0] = [];
        // Another namespace: nothing this SDK sends.
        assert_eq!(
            limited("60:metric_bucket:organization:quota_exceeded:transactions"),
            none
        );
        assert_eq!(
            limited("60:metric_bucket:organization::spans;sessions"),
            none
        );
        // Custom metrics, alone or among others.
        assert_eq!(
            limited("60:metric_bucket:organization:quota_exceeded:custom"),
            ["metric_bucket"]
        );
        assert_eq!(
            limited("60:metric_bucket:organization::transactions;custom"),
            ["metric_bucket"]
        );
        // No namespace (none listed, or an empty list): every namespace.
        assert_eq!(limited("60:metric_bucket:organization"), ["metric_bucket"]);
        assert_eq!(
            limited("60:metric_bucket:organization:quota_exceeded:"),
            ["metric_bucket"]
        );
        // A namespaced limit is not global, nor does it reach other
        // categories it names: their items have no namespace.
        assert_eq!(limited("60::organization::custom"), ["metric_bucket"]);
        assert_eq!(
            limited("60:metric_bucket;error:organization::custom"),
            ["metric_bucket"]
        );
        assert_eq!(limited("60:error:organization::custom"), none);
        // Other limits in the same header still apply.
        assert_eq!(
            limited("60:metric_bucket:organization::transactions, 60:error:key"),
            ["error"]
        );
    }

    #[test]
    fn a_429_whose_only_limit_is_for_other_namespaces_is_not_a_global_limit() {
        let now = Instant::now();
        let mut l = RateLimiter::new();
        let header = "60:metric_bucket:organization:quota_exceeded:transactions";
        assert!(!l.update(429, Some(header), Some("60"), now, SystemTime::now()));
        assert!(!l.any_active(now));
    }

    #[test]
    fn only_a_limit_without_categories_or_namespaces_is_global() {
        assert!(parse_rate_limits("60::organization")[0].is_global());
        assert!(parse_rate_limits("60::organization:reason:")[0].is_global());
        assert!(!parse_rate_limits("60::organization::custom")[0].is_global());
        assert!(!parse_rate_limits("60:error:organization")[0].is_global());
    }

    #[test]
    fn trims_skips_empty_and_garbage_and_ignores_trailing_fields() {
        let limits = parse_rate_limits(
            " , 5:error:key:reason:ns:extra:more ,abc:error:key, :error:key,-3:error:key,NaN::key,",
        );
        assert_eq!(limits.len(), 1);
        assert_eq!(limits[0].retry_after, secs(5));
        assert_eq!(limits[0].categories, vec!["error".to_owned()]);
    }

    #[test]
    fn float_seconds_round_up() {
        assert_eq!(parse_rate_limits("0.1:error:key")[0].retry_after, secs(1));
        assert_eq!(parse_rate_limits("59.0:error:key")[0].retry_after, secs(59));
    }

    #[test]
    fn unknown_categories_are_dropped_and_unknown_only_limits_ignored() {
        let limits = parse_rate_limits("10:error;foo:key, 10:foo;bar:key");
        assert_eq!(limits.len(), 1);
        assert_eq!(limits[0].categories, vec!["error".to_owned()]);
    }

    #[test]
    fn huge_values_are_clamped() {
        let limits = parse_rate_limits("99999999999999999999:error:key, 1e300:session:key");
        assert_eq!(limits[0].retry_after, MAX_RETRY_AFTER);
        assert_eq!(limits[1].retry_after, MAX_RETRY_AFTER);
        let mut limiter = RateLimiter::new();
        let now = Instant::now();
        limiter.update(
            200,
            Some("18446744073709551615:error:key"),
            None,
            now,
            SystemTime::now(),
        );
        assert!(limiter.is_limited("error", now));
    }

    #[test]
    fn retry_after_forms() {
        let now = UNIX_EPOCH + secs(1_445_412_480);
        assert_eq!(parse_retry_after(" 30 ", now), Some(secs(30)));
        assert_eq!(parse_retry_after("2.5", now), Some(secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:45 GMT", now),
            Some(secs(45))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn header_wins_over_retry_after_and_applies_on_any_status() {
        let now = Instant::now();
        let mut l = RateLimiter::new();
        assert!(l.update(
            429,
            Some("10:error:key"),
            Some("100"),
            now,
            SystemTime::now()
        ));
        assert_eq!(l.limited_for("error", now), Some(secs(10)));
        assert!(!l.is_limited("transaction", now));
        let mut l = RateLimiter::new();
        assert!(l.update(200, Some("10:session:key"), None, now, SystemTime::now()));
        assert!(l.is_limited("session", now));
    }

    #[test]
    fn bare_429_uses_retry_after_or_default() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let mut l = RateLimiter::new();
        l.update(429, None, Some("7"), now, wall);
        assert_eq!(l.limited_for("anything", now), Some(secs(7)));
        let mut l = RateLimiter::new();
        l.update(
            429,
            None,
            Some(&httpdate::fmt_http_date(wall + secs(20))),
            now,
            wall,
        );
        let d = l.limited_for("error", now).expect("limited");
        assert!(d >= secs(19) && d <= secs(20), "{d:?}");
        let mut l = RateLimiter::new();
        l.update(429, None, Some("garbage"), now, wall);
        assert_eq!(l.limited_for("error", now), Some(DEFAULT_RETRY_AFTER));
        // A 429 whose rate-limit header does not parse limits as a bare
        // one; one naming only unknown categories is ignored on purpose.
        let mut l = RateLimiter::new();
        assert!(l.update(429, Some("soon:error"), Some("7"), now, wall));
        assert_eq!(l.limited_for("error", now), Some(secs(7)));
        let mut l = RateLimiter::new();
        assert!(!l.update(429, Some("30:made_up:key"), None, now, wall));
        assert!(!l.any_active(now));
        // Retry-After on a non-429 without the rate-limit header is ignored.
        let mut l = RateLimiter::new();
        assert!(!l.update(503, None, Some("5"), now, wall));
        assert!(!l.any_active(now));
    }

    #[test]
    fn keeps_the_longest_expiry() {
        let now = Instant::now();
        let mut l = RateLimiter::new();
        l.update(200, Some("100:error:key"), None, now, SystemTime::now());
        l.update(200, Some("10:error:key"), None, now, SystemTime::now());
        assert_eq!(l.limited_for("error", now), Some(secs(100)));
    }

    #[test]
    fn internal_only_limited_globally_and_alias_feedback() {
        let now = Instant::now();
        let mut l = RateLimiter::new();
        l.update(
            200,
            Some("10:user_report_v2:key"),
            None,
            now,
            SystemTime::now(),
        );
        assert!(l.is_limited("feedback", now));
        assert!(!l.is_limited("internal", now));
        l.update(200, Some("10::key"), None, now, SystemTime::now());
        assert!(l.is_limited("internal", now));
    }

    #[test]
    fn limits_expire_and_prune() {
        let now = Instant::now();
        let mut l = RateLimiter::new();
        l.update(
            200,
            Some("5:error:key, 3::key"),
            None,
            now,
            SystemTime::now(),
        );
        assert!(l.is_limited("session", now + secs(2)));
        assert!(!l.is_limited("session", now + secs(4)));
        assert!(l.is_limited("error", now + secs(4)));
        l.prune(now + secs(6));
        assert!(!l.any_active(now));
    }
}
