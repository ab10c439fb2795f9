//! When to try a request again, and how long to wait first.
//!
//! Network errors (connection refused, reset, timeouts) and `5xx` responses
//! are retried with capped exponential backoff and "equal jitter": attempt
//! `n` waits `d/2 + random(0..=d/2)` with `d = min(initial * 2^(n-1), max)`,
//! so concurrent senders spread out but each still backs off. A `Retry-After`
//! sent with a `5xx` (e.g. 503) lengthens the computed delay (never shortens
//! it), capped at `max`.
//! Other `4xx` responses are final (but `407`, a proxy's, and `408`, which
//! are retried); `429` is handled by the rate limiter.

use std::time::Duration;

/// What a response or failure means for the envelope that was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// 2xx: accepted.
    Delivered,
    /// 429: the receiver dropped it and counted it; do not retry.
    RateLimited,
    /// Another 4xx (or 3xx): retrying cannot help.
    Rejected,
    /// A network error or 5xx: try again later.
    Retry,
}

impl Verdict {
    /// Classifies an HTTP status code.
    pub(crate) fn from_status(status: u16) -> Verdict {
        match status {
            200..=299 => Verdict::Delivered,
            429 => Verdict::RateLimited,
            // 408 Request Timeout is the receiver asking for a retry; 407
            // is a proxy on the way refusing its credentials, not the
            // receiver judging the envelope (over https:// the same
            // refusal is a failed CONNECT, a network error): the envelope
            // waits for a fixed password, retried and then spooled.
            407 | 408 | 500..=599 => Verdict::Retry,
            _ => Verdict::Rejected,
        }
    }
}

/// Capped exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt (0 = never retry).
    pub(crate) max_retries: u32,
    /// Delay before the first retry (before jitter).
    pub(crate) initial: Duration,
    /// Upper bound on any delay.
    pub(crate) max: Duration,
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1-based), with jitter.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let full = self.ceiling(retry);
        let half = full / 2;
        let jitter_nanos = fastrand::u64(0..=half.as_nanos().min(u128::from(u64::MAX)) as u64);
        half + Duration::from_nanos(jitter_nanos)
    }

    /// The delay before retry `retry` without jitter: `initial * 2^(retry-1)`
    /// capped at `max`.
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        self.initial
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The delay honouring a server-sent `Retry-After`, capped at `max`.
    /// The hint can lengthen the backoff but never shorten it: a
    /// `Retry-After: 0`, or an HTTP date already past (clock skew), must not
    /// turn the retries into a burst.
    pub(crate) fn delay_with_hint(&self, retry: u32, hint: Option<Duration>) -> Duration {
        let backoff = self.delay(retry);
        match hint {
            Some(h) => h.max(backoff).min(self.max),
            None => backoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        }
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let p = policy();
        let ms: Vec<u128> = (1..=6).map(|n| p.ceiling(n).as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_stays_between_half_and_full() {
        let p = policy();
        for retry in 1..=8 {
            let c = p.ceiling(retry);
            for _ in 0..50 {
                let d = p.delay(retry);
                assert!(
                    d >= c / 2 && d <= c,
                    "retry {retry}: {d:?} not in [{:?}, {c:?}]",
                    c / 2
                );
            }
        }
    }

    #[test]
    fn retry_after_hint_is_capped() {
        let p = policy();
        assert_eq!(
            p.delay_with_hint(1, Some(Duration::from_millis(300))),
            Duration::from_millis(300)
        );
        assert_eq!(
            p.delay_with_hint(1, Some(Duration::from_secs(60))),
            Duration::from_millis(1000)
        );
    }

    #[test]
    fn a_hint_shorter_than_the_backoff_does_not_shorten_it() {
        let p = policy();
        for retry in 1..=6 {
            let d = p.delay_with_hint(retry, Some(Duration::ZERO));
            assert!(d >= p.ceiling(retry) / 2, "retry {retry}: {d:?}");
        }
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(Verdict::from_status(200), Verdict::Delivered);
        assert_eq!(Verdict::from_status(202), Verdict::Delivered);
        assert_eq!(Verdict::from_status(429), Verdict::RateLimited);
        assert_eq!(Verdict::from_status(500), Verdict::Retry);
        assert_eq!(Verdict::from_status(503), Verdict::Retry);
        assert_eq!(Verdict::from_status(408), Verdict::Retry);
        assert_eq!(Verdict::from_status(400), Verdict::Rejected);
        assert_eq!(Verdict::from_status(413), Verdict::Rejected);
        assert_eq!(Verdict::from_status(302), Verdict::Rejected);
    }
}
