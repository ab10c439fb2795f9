//! md5 digests of grouping values, remembered by a fast hash of the same
//! values.
//!
//! A variant's hash is the md5 of its contributing values (PROTOCOL.md
//! §10.1), and md5 runs at well under 1 GB/s: for an event with a 20-frame
//! stack trace its two variants (~2 KB) were a fifth of grouping's time.
//! But most events repeat the values of an event before them: that is what
//! makes them one issue. So each worker thread remembers, for the last few
//! thousand value sequences it hashed, the md5 under a 128-bit XXH3 of the
//! same sequence (seeded at random per process), which is ~30 times
//! cheaper to compute. Only a sequence seen before skips md5; a new one is
//! hashed and remembered.
//!
//! The key is not a cryptographic hash, and neither is md5 any more:
//! colliding inputs can be made for md5 on purpose, and a random seed
//! unknown to the client keeps two different value sequences from meeting
//! under one XXH3 key except by chance (2^-128 per pair).
//!
//! ```text
//! values ─ XXH3-128 (seeded) ─ memo hit? ─ yes → remembered md5
//!                                         └ no  → md5, remembered
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use md5::{Digest, Md5};
use xxhash_rust::xxh3::Xxh3;

/// Sequences remembered per thread; past it the memo starts over.
const MAX_REMEMBERED: usize = 4096;

/// The XXH3 seed: random per process, so that no client can aim two value
/// sequences at one key.
static SEED: LazyLock<u64> = LazyLock::new(|| fastrand::u64(..));

thread_local! {
    static MEMO: RefCell<HashMap<u128, [u8; 16]>> = RefCell::new(HashMap::new());
}

/// The md5 digest of the concatenation of the values `feed` passes to its
/// argument, in order. `feed` may be called twice (for the key, then for
/// md5 when the sequence is new), and must pass the same values each time.
///
/// ```
/// # // A private module: shown through the public grouping API.
/// use receiver::grouping::group_event;
/// use sentry_core::protocol::Event;
/// let event: Event = serde_json::from_str(r#"{"message": "same text"}"#).unwrap();
/// // Computed twice, once through the memo: the hash does not change.
/// assert_eq!(group_event(&event).hashes, group_event(&event).hashes);
/// ```
pub(crate) fn md5_of(feed: impl Fn(&mut dyn FnMut(&str))) -> [u8; 16] {
    let mut key = Xxh3::with_seed(*SEED);
    feed(&mut |v: &str| {
        // The length too: ["ab", "c"] and ["a", "bc"] are different keys
        // (they have the same md5, so this costs a miss at most).
        key.update(&(v.len() as u64).to_le_bytes());
        key.update(v.as_bytes());
    });
    let key = key.digest128();
    let remembered = MEMO.with(|memo| memo.borrow().get(&key).copied());
    if let Some(digest) = remembered {
        return digest;
    }
    let mut md5 = Md5::new();
    feed(&mut |v: &str| md5.update(v.as_bytes()));
    let digest: [u8; 16] = md5.finalize().into();
    MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        if memo.len() >= MAX_REMEMBERED {
            memo.clear();
        }
        memo.insert(key, digest);
    });
    digest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain_md5(values: &[&str]) -> [u8; 16] {
        let mut md5 = Md5::new();
        for v in values {
            md5.update(v.as_bytes());
        }
        md5.finalize().into()
    }

    fn memo_md5(values: &[&str]) -> [u8; 16] {
        md5_of(|f| values.iter().for_each(|v| f(v)))
    }

    #[test]
    fn the_digest_is_md5_whether_remembered_or_not() {
        let cases: [&[&str]; 5] = [
            &[],
            &[""],
            &["ValueError", "app.views", "handler"],
            &["ab", "c"],
            &["a", "bc"],
        ];
        for values in cases {
            // First computed, then remembered: both md5.
            assert_eq!(memo_md5(values), plain_md5(values), "{values:?}");
            assert_eq!(memo_md5(values), plain_md5(values), "{values:?}");
        }
        assert_eq!(
            crate::grouping::FALLBACK_HASH,
            crate::grouping::component::hex(memo_md5(&[]))
        );
    }

    #[test]
    fn a_full_memo_starts_over_and_stays_right() {
        let values: Vec<String> = (0..MAX_REMEMBERED + 10).map(|i| format!("v{i}")).collect();
        for v in &values {
            assert_eq!(memo_md5(&[v]), plain_md5(&[v]));
        }
        let size = MEMO.with(|m| m.borrow().len());
        assert!(size <= MAX_REMEMBERED, "{size}");
        assert_eq!(memo_md5(&["v0"]), plain_md5(&["v0"]));
    }
}
