//! Copy-on-write through an `Arc`, without `Arc::make_mut`'s atomics when
//! the value is not shared.
//!
//! `Arc::make_mut` (and `Arc::get_mut`) pay two locked instructions to rule
//! out a concurrent `Weak::upgrade`. A [`UniqueArc`] hands out no `Arc` and
//! cannot be downgraded, so no `Weak` of it can exist, and a strong count of
//! one, read with a plain load, proves a handle unique. A hub's scopes and a
//! scope's breadcrumb trail are held this way: adding a breadcrumb goes
//! through two of them.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;

/// A shared, copy-on-write value that is never reachable through a `Weak`
/// (the type offers no way to make one, nor to reach the inner `Arc`).
pub(crate) struct UniqueArc<T>(Arc<T>);

impl<T> UniqueArc<T> {
    pub(crate) fn new(value: T) -> Self {
        UniqueArc(Arc::new(value))
    }
}

impl<T: Clone> UniqueArc<T> {
    /// The value for writing, cloned first when another handle shares it.
    #[inline]
    pub(crate) fn make_mut(this: &mut Self) -> &mut T {
        if Arc::strong_count(&this.0) == 1 {
            // Pairs with the release decrement of the last other handle's
            // drop: whatever was done through it happens before our writes.
            fence(Ordering::Acquire);
            let ptr = Arc::as_ptr(&this.0).cast_mut();
            // SAFETY: a strong count of 1 means `this` is the only strong
            // handle. No `Weak` exists that could be upgraded into another:
            // `UniqueArc` never exposes its `Arc`, so nothing can downgrade
            // it. No handle can be cloned from `this` while the returned
            // borrow of it lasts. So this is the only access to the value,
            // as `Arc::get_mut` would establish. The pointer comes from the
            // allocation `this` owns, alive as long as `this` is.
            unsafe { &mut *ptr }
        } else {
            Arc::make_mut(&mut this.0)
        }
    }
}

impl<T> UniqueArc<T> {
    /// Replaces the value: in place when no other handle shares it, else
    /// in a new allocation (the other handles keep the old value). Returns
    /// what this handle held, for the caller to drop when it chooses (for
    /// instance after releasing a lock the old value's drop may need).
    #[inline]
    pub(crate) fn replace(this: &mut Self, value: T) -> Previous<T> {
        if Arc::strong_count(&this.0) == 1 {
            fence(Ordering::Acquire);
            let ptr = Arc::as_ptr(&this.0).cast_mut();
            // SAFETY: as in `make_mut`: a strong count of 1 and no possible
            // `Weak` make `this` the only access to the value.
            Previous::Value(unsafe { std::mem::replace(&mut *ptr, value) })
        } else {
            Previous::Shared(std::mem::replace(this, UniqueArc::new(value)))
        }
    }
}

/// What [`UniqueArc::replace`] took out: the old value, or the handle that
/// still shares it with others. Only ever dropped.
#[allow(dead_code)] // Held for its drop, never read.
pub(crate) enum Previous<T> {
    /// The value, which was this handle's alone.
    Value(T),
    /// The handle to the shared value.
    Shared(UniqueArc<T>),
}

impl<T> Clone for UniqueArc<T> {
    fn clone(&self) -> Self {
        UniqueArc(Arc::clone(&self.0))
    }
}

impl<T: Default> Default for UniqueArc<T> {
    fn default() -> Self {
        UniqueArc::new(T::default())
    }
}

impl<T> Deref for UniqueArc<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: fmt::Debug> fmt::Debug for UniqueArc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshared_is_written_in_place_and_shared_is_copied() {
        let mut a = UniqueArc::new(vec![1]);
        let before: *const Vec<i32> = &*a;
        UniqueArc::make_mut(&mut a).push(2);
        assert_eq!(&*a as *const _, before);
        let snapshot = a.clone();
        UniqueArc::make_mut(&mut a).push(3);
        assert_eq!(*snapshot, [1, 2]);
        assert_eq!(*a, [1, 2, 3]);
        assert_ne!(&*a as *const _, before);
    }

    #[test]
    fn a_handle_dropped_on_another_thread_leaves_it_unshared() {
        let mut a = UniqueArc::new(vec![0u64; 4]);
        let other = a.clone();
        std::thread::spawn(move || assert_eq!(other.len(), 4))
            .join()
            .expect("thread");
        let before: *const Vec<u64> = &*a;
        UniqueArc::make_mut(&mut a)[0] = 1;
        assert_eq!(&*a as *const _, before);
        assert_eq!(a[0], 1);
    }
}
