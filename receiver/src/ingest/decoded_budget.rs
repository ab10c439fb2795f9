//! A bound on the decoded request bodies the receiver holds at once.
//!
//! A body is decoded into memory and copied a few times on its way to the
//! database (the envelope's items, the records, SQLite's bound values).
//! The size limits bound one request; this bounds all of them together, so
//! that many connections each sending a small, highly compressed body
//! cannot make the receiver hold more than a fixed amount. A request that
//! would take it over the budget is answered 503, which SDKs retry later.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The budget all requests share, in decoded bytes.
///
/// ```
/// use receiver::ingest::decoded_budget::DecodedBudget;
///
/// let budget = DecodedBudget::new(100);
/// let mut first = budget.share();
/// assert!(first.grow_to(60));
/// let mut second = budget.share();
/// assert!(!second.grow_to(50)); // 110 would be over the budget
/// drop(first); // finished: its 60 bytes are free again
/// assert!(second.grow_to(50));
/// assert_eq!(budget.in_use(), 50);
/// ```
#[derive(Debug)]
pub struct DecodedBudget {
    used: AtomicU64,
    limit: u64,
}

/// One request's part of the budget, given back when it is dropped.
#[derive(Debug)]
pub struct BudgetShare {
    budget: Arc<DecodedBudget>,
    held: u64,
}

impl DecodedBudget {
    /// A budget of `limit` decoded bytes.
    pub fn new(limit: u64) -> Arc<DecodedBudget> {
        Arc::new(DecodedBudget {
            used: AtomicU64::new(0),
            limit,
        })
    }

    /// Bytes the requests in flight hold now.
    pub fn in_use(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// An empty share for one request.
    pub fn share(self: &Arc<Self>) -> BudgetShare {
        BudgetShare {
            budget: self.clone(),
            held: 0,
        }
    }
}

impl BudgetShare {
    /// The whole budget's limit, for messages.
    pub fn budget_limit(&self) -> u64 {
        self.budget.limit
    }

    /// Grows this share to `total` bytes; `false`, taking nothing more,
    /// when the budget has no room for the growth.
    pub fn grow_to(&mut self, total: u64) -> bool {
        let Some(extra) = total.checked_sub(self.held).filter(|&e| e > 0) else {
            return true;
        };
        let before = self.budget.used.fetch_add(extra, Ordering::AcqRel);
        if before.saturating_add(extra) > self.budget.limit {
            self.budget.used.fetch_sub(extra, Ordering::AcqRel);
            return false;
        }
        self.held = total;
        true
    }
}

impl Drop for BudgetShare {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.held, Ordering::AcqRel);
    }
}
