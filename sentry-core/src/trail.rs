//! A scope's breadcrumb trail: a ring of at most `max` breadcrumbs.
//!
//! Once the trail is full, every new breadcrumb replaces the oldest where it
//! lies, so adding one moves one breadcrumb and shifts nothing
//! (`VecDeque::rotate_left` would copy the replaced slot onto itself).

use crate::protocol::Breadcrumb;

/// Breadcrumbs, oldest first when iterated.
#[derive(Clone, Default)]
pub(crate) struct Trail {
    slots: Vec<Breadcrumb>,
    /// Where the oldest breadcrumb is; not zero only while the ring is full
    /// and has wrapped.
    head: usize,
    /// The limit of the last push (for [`Trail::append_since`]).
    max: usize,
    /// How many breadcrumbs were ever pushed (see [`Trail::pushed`]).
    pushed: u64,
}

impl Trail {
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &Breadcrumb> + Clone {
        let (newer, older) = self.slots.split_at(self.head);
        older.iter().chain(newer)
    }

    /// Adds `breadcrumb` as the newest, dropping the oldest beyond `max`.
    #[inline(always)]
    pub(crate) fn push(&mut self, breadcrumb: Breadcrumb, max: usize) {
        if max == 0 {
            return;
        }
        self.max = max;
        self.pushed = self.pushed.wrapping_add(1);
        if self.slots.len() == max {
            // Full: the usual case once a program has run for a while.
            self.slots[self.head] = breadcrumb;
            self.head += 1;
            if self.head == max {
                self.head = 0;
            }
            return;
        }
        // `max` changed since the ring filled (a new client): back to
        // oldest-first order, then trim.
        if self.head != 0 {
            self.slots.rotate_left(self.head);
            self.head = 0;
        }
        if self.slots.len() > max {
            let excess = self.slots.len() + 1 - max;
            self.slots.drain(..excess);
        }
        if self.slots.capacity() == 0 && max <= 1024 {
            self.slots.reserve_exact(max);
        }
        self.slots.push(breadcrumb);
    }
}

impl Trail {
    /// How many breadcrumbs were ever pushed onto this trail (and the
    /// trails it was cloned from): a mark for [`Trail::append_since`].
    pub(crate) fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Adds copies of the breadcrumbs pushed onto `other` since its
    /// [`Trail::pushed`] was `mark` (those it still holds), oldest first.
    pub(crate) fn append_since(&mut self, other: &Trail, mark: u64) {
        let new = usize::try_from(other.pushed.wrapping_sub(mark)).unwrap_or(usize::MAX);
        let skip = other.len().saturating_sub(new);
        for b in other.iter().skip(skip) {
            self.push(b.clone(), other.max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crumb(i: usize) -> Breadcrumb {
        Breadcrumb {
            message: Some(i.to_string().into()),
            ..Default::default()
        }
    }

    fn messages(t: &Trail) -> Vec<String> {
        t.iter()
            .filter_map(|b| b.message.as_deref().map(str::to_owned))
            .collect()
    }

    #[test]
    fn keeps_the_newest_in_order() {
        let mut t = Trail::default();
        for i in 0..7 {
            t.push(crumb(i), 3);
        }
        assert_eq!(messages(&t), ["4", "5", "6"]);
        assert_eq!(t.len(), 3);
        let newest: Vec<_> = t.iter().rev().take(1).collect();
        assert_eq!(newest[0].message.as_deref(), Some("6"));
    }

    #[test]
    fn a_changed_limit_keeps_order() {
        let mut t = Trail::default();
        for i in 0..5 {
            t.push(crumb(i), 3);
        }
        // Wrapped: [3, 4, 2] with the head on "2".
        t.push(crumb(5), 5);
        assert_eq!(messages(&t), ["2", "3", "4", "5"]);
        t.push(crumb(6), 2);
        assert_eq!(messages(&t), ["5", "6"]);
        t.push(crumb(7), 2);
        assert_eq!(messages(&t), ["6", "7"]);
        t.push(crumb(8), 0);
        assert_eq!(messages(&t), ["6", "7"]);
    }

    #[test]
    fn clones_are_independent() {
        let mut a = Trail::default();
        for i in 0..4 {
            a.push(crumb(i), 3);
        }
        let mut b = a.clone();
        b.push(crumb(9), 3);
        assert_eq!(messages(&a), ["1", "2", "3"]);
        assert_eq!(messages(&b), ["2", "3", "9"]);
    }
}
