//! Where a stored request's time goes: preparing it on a worker, then
//! waiting for the writer to commit it.
//!
//! Each request that is committed adds its two durations; readers (the
//! `/health` answer, the load bench) take differences between two
//! snapshots. Against the writer's own busy time
//! ([`crate::store::writer::WriterCounts`]) the wait shows whether
//! requests wait for the writer's work or for threads to be scheduled:
//! with few clients on two cores the second dominates.
//!
//! ```
//! use std::time::Duration;
//! use receiver::ingest::stage_times::StageTimes;
//!
//! let times = StageTimes::default();
//! times.add(Duration::from_micros(30), Duration::from_micros(200));
//! times.add(Duration::from_micros(50), Duration::from_micros(100));
//! let now = times.snapshot();
//! assert_eq!(now.requests, 2);
//! assert_eq!(now.preparing, Duration::from_micros(80));
//! assert_eq!(now.waiting_for_commit, Duration::from_micros(300));
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Running totals over the requests whose write was committed.
#[derive(Debug, Default)]
pub struct StageTimes {
    requests: AtomicU64,
    preparing_nanos: AtomicU64,
    waiting_nanos: AtomicU64,
}

/// The totals at one moment: see [`StageTimes::snapshot`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageSnapshot {
    /// Requests committed.
    pub requests: u64,
    /// Their time parsing, normalising, grouping and compressing.
    pub preparing: Duration,
    /// Their time from then until the commit was known to them: in the
    /// queue, in the writer's batch, and until their task ran again.
    pub waiting_for_commit: Duration,
}

impl StageTimes {
    /// Counts one committed request.
    pub fn add(&self, preparing: Duration, waiting_for_commit: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.preparing_nanos
            .fetch_add(nanos(preparing), Ordering::Relaxed);
        self.waiting_nanos
            .fetch_add(nanos(waiting_for_commit), Ordering::Relaxed);
    }

    /// The totals so far.
    pub fn snapshot(&self) -> StageSnapshot {
        StageSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            preparing: Duration::from_nanos(self.preparing_nanos.load(Ordering::Relaxed)),
            waiting_for_commit: Duration::from_nanos(self.waiting_nanos.load(Ordering::Relaxed)),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
