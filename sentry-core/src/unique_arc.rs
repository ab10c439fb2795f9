//! Copy-on-write through an `Arc`, without `Arc::make_mut`'s atomics when
//! the value is not shared.
//!
//! `Arc::make_mut` (and `Arc::get_mut`) pay two locked instructions to rule
//! out a concurrent `Weak::upgrade`. The scope a hub holds and a scope's
//! breadcrumb trail are never reachable through a `Weak` (this crate never
//! downgrades them, and no `Arc` to them is handed out), so a strong count
//! of one is proof enough, and it is read with a plain load. This is on the
//! path of every breadcrumb.

use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;

/// `arc`'s value for writing, cloned first when another handle shares it.
///
/// # Safety
///
/// No `Weak` pointing to `arc`'s allocation may exist, now or while the
/// returned borrow lives.
#[inline]
pub(crate) unsafe fn make_mut<T: Clone>(arc: &mut Arc<T>) -> &mut T {
    if Arc::strong_count(arc) == 1 {
        // Pairs with the release decrement of the last other handle's drop:
        // whatever was done through it happens before our writes.
        fence(Ordering::Acquire);
        let ptr = Arc::as_ptr(arc).cast_mut();
        // SAFETY: a strong count of 1 means `arc` is the only strong
        // handle; no `Weak` exists (the caller's promise) that could be
        // upgraded into another, and none can be cloned from `arc` while
        // the returned borrow of it lasts. So this is the only access to
        // the value, as `Arc::get_mut` would establish. The pointer comes
        // from the allocation `arc` owns, alive as long as `arc` is.
        unsafe { &mut *ptr }
    } else {
        Arc::make_mut(arc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshared_is_written_in_place_and_shared_is_copied() {
        let mut a = Arc::new(vec![1]);
        let before = Arc::as_ptr(&a);
        // SAFETY: no Weak of `a` exists in this test.
        unsafe { make_mut(&mut a) }.push(2);
        assert_eq!(Arc::as_ptr(&a), before);
        let snapshot = a.clone();
        // SAFETY: as above.
        unsafe { make_mut(&mut a) }.push(3);
        assert_eq!(*snapshot, [1, 2]);
        assert_eq!(*a, [1, 2, 3]);
        assert_ne!(Arc::as_ptr(&a), before);
    }

    #[test]
    fn a_handle_dropped_on_another_thread_leaves_it_unshared() {
        let mut a = Arc::new(vec![0u64; 4]);
        let other = a.clone();
        std::thread::spawn(move || assert_eq!(other.len(), 4))
            .join()
            .expect("thread");
        let before = Arc::as_ptr(&a);
        // SAFETY: no Weak of `a` exists in this test.
        let v = unsafe { make_mut(&mut a) };
        v[0] = 1;
        assert_eq!(Arc::as_ptr(&a), before);
        assert_eq!(a[0], 1);
    }
}
