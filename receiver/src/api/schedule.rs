//! When a cron monitor's runs are due, and which did not come.
//!
//! Sentry expects a monitor's next run at the first time its schedule
//! names after the start of its latest run (cut to the minute), a crontab
//! read in the monitor's time zone, an interval counted from that start.
//! A run that has not started `checkin_margin` minutes (default 1) after
//! it was due is *missed*, and the one after it is expected next. Sentry's
//! clock task writes a `missed` check-in for each; the receiver has no
//! clock task and works them out when a monitor is read
//! ([`Expected::due`]): the monitors list counts them with the runs that
//! did come, and says when the next run is due; the check-ins list shows
//! them ([`Expected::missed_between`], `api::missed_runs`).

use std::str::FromStr;

use chrono::{DateTime, Months, TimeZone, Utc};
use croner::Cron;

use super::types::{MonitorConfig, MonitorSchedule};

/// Sentry's default `checkin_margin`, in minutes.
pub(crate) const DEFAULT_MARGIN_MINUTES: i64 = 1;

/// The most missed runs counted for one monitor: a per-minute schedule
/// silent for the default 24-hour range is 1 440.
const MAX_MISSED: usize = 10_000;

/// What a monitor's schedule says at one moment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Due {
    /// When each expected run that did not come was due (Unix seconds),
    /// oldest first, from `counted_from` on (at most [`MAX_MISSED`]).
    pub missed: Vec<f64>,
    /// The first missed run's due time, also when it is before
    /// `counted_from`.
    pub missed_since: Option<f64>,
    /// When the next run is due: the first one whose margin has not passed.
    pub next: f64,
}

/// A monitor's schedule, read once (a crontab parsed, its time zone
/// found) with its margin: what the missed runs of each gap between its
/// runs are stepped through. A monitor of many runs has many gaps, and
/// reading the crontab again for each was most of a monitors list's time.
///
/// ```text
/// let expected = Expected::new(&schedule, Some("Europe/Vienna"), Some(5))?;
/// let due = expected.due(latest, now, counted_from);
/// ```
#[derive(Clone)]
pub(crate) struct Expected {
    rule: Rule,
    /// Seconds after its due time that a run is missed.
    margin: f64,
}

impl Expected {
    /// `schedule` in `timezone` (UTC when unset or unknown), `margin` in
    /// minutes (`None`: Sentry's default). `None` when the schedule cannot
    /// be read.
    pub(crate) fn new(
        schedule: &MonitorSchedule,
        timezone: Option<&str>,
        margin: Option<i64>,
    ) -> Option<Expected> {
        Some(Expected {
            rule: Rule::new(schedule, timezone)?,
            margin: margin.unwrap_or(DEFAULT_MARGIN_MINUTES).max(0) as f64 * 60.0,
        })
    }

    /// Seconds after its due time that a run is missed.
    pub(crate) fn margin(&self) -> f64 {
        self.margin
    }

    /// The schedule of a monitor's config.
    pub(crate) fn of(config: &MonitorConfig) -> Option<Expected> {
        Expected::new(
            &config.schedule,
            config.timezone.as_deref(),
            config.checkin_margin,
        )
    }

    /// The runs due after a run that started at `latest`, as seen at
    /// `now`. Missed runs due before `counted_from` are not listed. `None`
    /// when the schedule names no later time.
    ///
    /// ```text
    /// every hour ("0 * * * *"), latest run 09:00, now 11:30
    ///     -> missed [10:00, 11:00], next 12:00
    /// ```
    pub(crate) fn due(&self, latest: f64, now: f64, counted_from: f64) -> Option<Due> {
        let (rule, margin) = (&self.rule, self.margin);
        let mut due = rule.after(minute_of(latest)?)?;
        let mut missed = Vec::new();
        let mut missed_since = None;
        while due + margin <= now {
            missed_since.get_or_insert(due);
            if due < counted_from {
                // Not listed: on to the first due time that could be.
                due = rule.skip_to(due, counted_from.ceil())?;
                continue;
            }
            if missed.len() == MAX_MISSED {
                // Counted enough: on to the first whose margin is ahead.
                due = rule.skip_to(due, (now - margin).floor() + 1.0)?;
                break;
            }
            missed.push(due);
            due = rule.after(due)?;
        }
        Some(Due {
            missed,
            missed_since,
            next: due,
        })
    }

    /// The runs due after a run that started at `latest` that had not come
    /// by `until` (the next run's start, or now) plus the margin, and are
    /// due within `window` (both ends inclusive): oldest first, as
    /// [`Expected::due`] lists them, `keep` deciding which. `None` when
    /// the schedule names no time after `latest`.
    pub(crate) fn missed_between(
        &self,
        (latest, until): (f64, f64),
        (from, to): (f64, f64),
        keep: Keep,
    ) -> Option<Vec<f64>> {
        let (rule, margin) = (&self.rule, self.margin);
        let first = rule.after(minute_of(latest)?)?;
        let mut due = if from.is_finite() {
            rule.skip_to(first, from.ceil())?
        } else {
            first
        };
        let mut kept = std::collections::VecDeque::new();
        while due + margin <= until && due <= to {
            match keep {
                Keep::First(n) if kept.len() == n => break,
                Keep::Last(n) if kept.len() == n => {
                    kept.pop_front();
                }
                _ => {}
            }
            kept.push_back(due);
            match rule.after(due) {
                Some(next) => due = next,
                None => break,
            }
        }
        Some(kept.into())
    }
}

/// Which of the missed runs of a window [`Expected::missed_between`] keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Keep {
    /// The oldest ones, at most this many (stops there).
    First(usize),
    /// The newest ones, at most this many (reads the whole window).
    Last(usize),
}

/// The start of the minute of Unix time `secs` (Sentry compares minutes).
fn minute_of(secs: f64) -> Option<f64> {
    secs.is_finite().then(|| (secs / 60.0).floor() * 60.0)
}

/// A schedule ready to step through.
#[derive(Clone)]
enum Rule {
    Crontab(Box<Cron>, chrono_tz::Tz),
    Every(i64),
    Months(u32),
}

impl Rule {
    fn new(schedule: &MonitorSchedule, timezone: Option<&str>) -> Option<Rule> {
        match schedule {
            MonitorSchedule::Crontab { value } => {
                let tz = timezone
                    .and_then(|name| chrono_tz::Tz::from_str(name).ok())
                    .unwrap_or(chrono_tz::UTC);
                Some(Rule::Crontab(Box::new(Cron::from_str(value).ok()?), tz))
            }
            MonitorSchedule::Interval { value, unit } => {
                let n = (*value).max(1);
                let seconds = |unit_seconds: i64| n.checked_mul(unit_seconds).map(Rule::Every);
                match unit.as_str() {
                    "minute" => seconds(60),
                    "hour" => seconds(3600),
                    "day" => seconds(86_400),
                    "week" => seconds(7 * 86_400),
                    "month" => u32::try_from(n).ok().map(Rule::Months),
                    "year" => u32::try_from(n).ok()?.checked_mul(12).map(Rule::Months),
                    _ => None,
                }
            }
        }
    }

    /// The first due time of the series through `due` that is at least
    /// `target` (whole seconds), without stepping through the ones before.
    fn skip_to(&self, due: f64, target: f64) -> Option<f64> {
        if due >= target {
            return Some(due);
        }
        match self {
            // A crontab's times do not depend on where one starts.
            Rule::Crontab(..) => self.after(target - 1.0),
            Rule::Every(step) => {
                let step = *step as f64;
                Some(due + ((target - due) / step).ceil() * step)
            }
            Rule::Months(_) => {
                let mut at = due;
                while at < target {
                    at = self.after(at)?;
                }
                Some(at)
            }
        }
    }

    /// The first due time strictly after `secs`.
    fn after(&self, secs: f64) -> Option<f64> {
        let at = Utc.timestamp_opt(secs.floor() as i64, 0).single()?;
        let next: DateTime<Utc> = match self {
            Rule::Crontab(cron, tz) => cron
                .find_next_occurrence(&at.with_timezone(tz), false)
                .ok()?
                .with_timezone(&Utc),
            Rule::Every(step) => at.checked_add_signed(chrono::Duration::try_seconds(*step)?)?,
            Rule::Months(n) => at.checked_add_months(Months::new(*n))?,
        };
        Some(next.timestamp() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NINE: f64 = 1_764_234_000.0; // 2025-11-27 09:00:00 UTC

    fn crontab(value: &str) -> MonitorSchedule {
        MonitorSchedule::Crontab {
            value: value.to_owned(),
        }
    }

    fn every(value: i64, unit: &str) -> MonitorSchedule {
        MonitorSchedule::Interval {
            value,
            unit: unit.to_owned(),
        }
    }

    /// What a monitor whose latest run started at `latest` expects by `now`.
    fn at(
        schedule: &MonitorSchedule,
        timezone: Option<&str>,
        margin: Option<i64>,
        latest: f64,
        now: f64,
        counted_from: f64,
    ) -> Option<Due> {
        Expected::new(schedule, timezone, margin)?.due(latest, now, counted_from)
    }

    #[test]
    fn hourly_runs_that_did_not_come_are_missed() {
        let hourly = crontab("0 * * * *");
        // Latest run at 09:00:20; 11:30 now: 10:00 and 11:00 did not come.
        let due = at(&hourly, None, None, NINE + 20.0, NINE + 9000.0, 0.0).expect("due");
        assert_eq!(due.missed, vec![NINE + 3600.0, NINE + 7200.0]);
        assert_eq!(due.missed_since, Some(NINE + 3600.0));
        assert_eq!(due.next, NINE + 3.0 * 3600.0);
        // Within the margin (10:00 due, 10:00:59 now): not missed yet.
        let on_time = at(&hourly, None, None, NINE, NINE + 3659.0, 0.0).expect("due");
        assert!(on_time.missed.is_empty());
        assert_eq!(on_time.next, NINE + 3600.0);
        // A wider margin of 30 minutes.
        let late = at(&hourly, None, Some(30), NINE, NINE + 3600.0 + 1700.0, 0.0);
        assert!(late.expect("due").missed.is_empty());
    }

    #[test]
    fn a_crontab_is_read_in_the_monitors_time_zone() {
        // 03:00 in Vienna is 02:00 UTC in winter.
        let nightly = crontab("0 3 * * *");
        let due = at(&nightly, Some("Europe/Vienna"), None, NINE, NINE, 0.0).expect("due");
        assert_eq!(due.next, NINE - 7.0 * 3600.0 + 86_400.0);
        let utc = at(&nightly, None, None, NINE, NINE, 0.0).expect("due");
        assert_eq!(utc.next, NINE - 6.0 * 3600.0 + 86_400.0);
        // An unknown zone reads as UTC.
        let unknown = at(&nightly, Some("Mars/Olympus"), None, NINE, NINE, 0.0);
        assert_eq!(unknown.expect("due").next, utc.next);
    }

    #[test]
    fn intervals_count_from_the_latest_run() {
        let due = at(
            &every(2, "hour"),
            None,
            None,
            NINE + 45.0,
            NINE + 5.0 * 3600.0,
            0.0,
        )
        .expect("due");
        assert_eq!(due.missed, vec![NINE + 7200.0, NINE + 4.0 * 3600.0]);
        assert_eq!(due.next, NINE + 6.0 * 3600.0);
        let monthly = at(&every(1, "month"), None, None, NINE, NINE, 0.0).expect("due");
        assert_eq!(monthly.next, NINE + 30.0 * 86_400.0, "November has 30 days");
        assert!(at(&every(1, "fortnight"), None, None, NINE, NINE, 0.0).is_none());
        assert!(at(&crontab("not a crontab"), None, None, NINE, NINE, 0.0).is_none());
    }

    #[test]
    fn a_window_of_missed_runs_agrees_with_the_count() {
        let hourly = crontab("0 * * * *");
        // Latest run 09:00:20, the next at 15:30: 10:00 to 15:00 missed.
        let gap = (NINE + 20.0, NINE + 6.5 * 3600.0);
        let all = at(&hourly, None, None, gap.0, gap.1, 0.0).expect("due");
        let window = |from: f64, to: f64, keep| {
            Expected::new(&hourly, None, None)
                .and_then(|e| e.missed_between(gap, (from, to), keep))
                .expect("missed")
        };
        let everything = window(f64::NEG_INFINITY, f64::INFINITY, Keep::First(100));
        assert_eq!(everything, all.missed);
        let hour = |h: f64| NINE + h * 3600.0;
        assert_eq!(
            window(hour(1.5), hour(4.0), Keep::First(100)),
            [hour(2.0), hour(3.0), hour(4.0)]
        );
        assert_eq!(
            window(hour(1.5), hour(4.0), Keep::First(2)),
            [hour(2.0), hour(3.0)]
        );
        assert_eq!(
            window(hour(1.5), hour(4.0), Keep::Last(2)),
            [hour(3.0), hour(4.0)]
        );
        // 15:00 is due at 15:00: missed once its minute of margin passed.
        let just = (NINE, hour(6.0) + 59.0);
        let late = Expected::new(&hourly, None, None)
            .and_then(|e| e.missed_between(just, (hour(5.5), hour(7.0)), Keep::Last(5)));
        assert!(late.expect("missed").is_empty(), "within its margin");
    }

    #[test]
    fn only_missed_runs_in_the_counted_range_are_listed_and_at_most_a_bound() {
        let minutely = crontab("* * * * *");
        // Silent for two days; counted from the last 24 hours.
        let now = NINE + 2.0 * 86_400.0;
        let due = at(&minutely, None, None, NINE, now, now - 86_400.0).expect("due");
        assert_eq!(due.missed_since, Some(NINE + 60.0));
        assert_eq!(due.missed.first(), Some(&(now - 86_400.0)));
        assert!(due.missed.len() <= 1441, "{}", due.missed.len());
        assert!(due.next + 60.0 > now && due.next <= now + 60.0);
        // Without a range: at most MAX_MISSED, the next due time still right.
        let all = at(&minutely, None, None, NINE - 30.0 * 86_400.0, now, 0.0).expect("due");
        assert_eq!(all.missed.len(), MAX_MISSED);
        assert!(all.next + 60.0 > now && all.next <= now + 60.0);
    }
}
