//! The wall clock behind [`Timestamp::now`](crate::protocol::Timestamp::now).
//!
//! Every span start and end, every breadcrumb and every event reads the
//! clock, so its cost shows in the SDK's hot paths: a transaction with ten
//! spans reads it 22 times. `SystemTime::now()` goes through the vDSO
//! (~17–30 ns here); reading the CPU's time-stamp counter through
//! [`quanta`] costs about half of that.
//!
//! The counter only measures elapsed time, so each thread keeps an anchor:
//! a counter reading taken together with the system wall time. A timestamp
//! is the anchor's wall time plus the counter's elapsed time since it. The
//! anchor is renewed from the system clock once it is a second old, so a
//! stepped or slewed system clock is followed within a second, and the
//! error against the system clock between renewals stays around a
//! microsecond (the counter's calibration error over one second); a renewal
//! may step a thread's time back by that much (or by what NTP slewed in the
//! second), which span ends absorb (they are clamped to their start).
//!
//! Where the counter is not usable (no invariant TSC, another
//! architecture), `quanta` falls back to the OS monotonic clock and this
//! costs about what `SystemTime::now()` does.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// How old an anchor may get before it is renewed from the system clock.
const ANCHOR_MAX_AGE_NS: u64 = 1_000_000_000;

/// The calibrated counter (calibrating takes about a millisecond, once per
/// process).
static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

thread_local! {
    /// `(counter reading, wall seconds)` taken together; a zero counter
    /// means no anchor yet.
    static ANCHOR: Cell<(u64, f64)> = const { Cell::new((0, 0.0)) };
}

/// Seconds since the Unix epoch from the system clock (negative before it).
pub(crate) fn system_secs() -> f64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        // A multiplication rather than `as_secs_f64`'s division: the same
        // value to the last bit or one off, which at today's epoch seconds
        // (an f64 step is about 0.24 us) changes nothing.
        Ok(d) => d.as_secs() as f64 + f64::from(d.subsec_nanos()) * 1e-9,
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Calibrates the counter now rather than on the first timestamp.
pub(crate) fn warm_up() {
    CLOCK.get_or_init(quanta::Clock::new);
}

/// Seconds since the Unix epoch: the thread's anchor plus the counter's
/// elapsed time since it.
#[inline]
pub(crate) fn now_secs() -> f64 {
    let clock = CLOCK.get_or_init(quanta::Clock::new);
    let raw = clock.raw();
    ANCHOR
        .try_with(|anchor| {
            let (raw0, wall0) = anchor.get();
            let elapsed = clock.delta_as_nanos(raw0, raw);
            // `delta_as_nanos` is 0 for a counter below the anchor (reset
            // by a suspend, or another socket's counter): renew then too,
            // or time on this thread would stand still.
            if raw0 == 0 || raw < raw0 || elapsed > ANCHOR_MAX_AGE_NS {
                let wall = system_secs();
                anchor.set((clock.raw(), wall));
                wall
            } else {
                wall0 + elapsed as f64 * 1e-9
            }
        })
        // The thread is exiting and its locals are gone.
        .unwrap_or_else(|_| system_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_system_clock() {
        for _ in 0..5 {
            let before = system_secs();
            let ours = now_secs();
            let after = system_secs();
            // A millisecond of slack: the two clocks are read one after
            // the other on a machine that may preempt us in between.
            assert!(
                ours >= before - 1e-3 && ours <= after + 1e-3,
                "{before} {ours} {after}"
            );
            std::thread::sleep(std::time::Duration::from_millis(30));
        }
    }

    #[test]
    fn never_goes_backwards_on_one_thread() {
        let mut last = now_secs();
        for _ in 0..100_000 {
            let t = now_secs();
            assert!(t >= last, "{t} < {last}");
            last = t;
        }
    }

    #[test]
    fn an_anchor_ahead_of_the_counter_is_renewed() {
        now_secs();
        // A counter reading below the anchor's (as after a counter reset)
        // must not freeze time at the anchor's wall time.
        ANCHOR.with(|a| a.set((u64::MAX, 0.0)));
        let t = now_secs();
        assert!((t - system_secs()).abs() < 1e-3, "{t}");
    }

    #[test]
    fn an_old_anchor_is_renewed() {
        now_secs();
        // An anchor from far in the past (counter 1, wall at the epoch)
        // must not be extrapolated from.
        ANCHOR.with(|a| a.set((1, 0.0)));
        let t = now_secs();
        assert!((t - system_secs()).abs() < 1e-3);
    }
}
