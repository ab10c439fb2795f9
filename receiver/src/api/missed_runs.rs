//! The missed runs of the check-ins list (`GET /api/0/local/check-ins/`),
//! inferred when it is read.
//!
//! Sentry's clock task writes a `missed` check-in for each run a schedule
//! expected that did not come; the receiver has no such task, and works
//! them out from the starts of the runs that came (`api::schedule`, as the
//! monitors list counts them). The list shows them among the runs, at the
//! time each was due, marked `inferred`:
//!
//! * **Order and cursors.** Every row has a key `(time, id)`: a run its
//!   first arrival and row id, a missed run its due time and minus the id
//!   of the run before it (two missed runs of one gap differ in time, two
//!   monitors' gaps in the run). Pages are read in that order from a
//!   cursor, as before, so they stay exact: each row appears once.
//! * **Bounded work.** Only as many missed runs as a page needs are worked
//!   out: at most one page of them per monitor, newest (or, paging
//!   backwards, oldest) first, and none past the last run the page shows.
//!   A monitor's gaps are read from the page's end on, at most
//!   [`GAP_BUDGET`] in all (spread over the monitors, at least
//!   [`MIN_GAPS_PER_MONITOR`] each) per request; when
//!   that is not enough (a status filter that leaves few runs, a monitor of
//!   many runs), the page ends at the run the gaps were read to and its
//!   cursor goes on past that run (many runs of one time cannot stall the
//!   pages): a page may then be short, never wrong.
//! * **Per environment.** As in Sentry, whose monitor environments each
//!   expect the schedule's runs, the runs a monitor missed are worked out
//!   for each environment its runs came from (none is `production`), from
//!   that environment's runs alone: a run in `staging` does not make up
//!   for one `production` missed. A missed run shows its environment.
//! * **Filters.** An `environment` filter keeps the missed runs of the
//!   environments it names, and a `status` filter keeps them only with
//!   `missed`.

use rusqlite::{params, Connection, OptionalExtension};

use super::params::iso;
use super::schedule::{Expected, Keep};
use super::types::CheckIn;
use super::ApiError;

/// The most gaps between runs read for one request, shared by the
/// monitors it looks at.
pub(crate) const GAP_BUDGET: usize = 10_000;
/// The fewest gaps each monitor may read, however many there are.
const MIN_GAPS_PER_MONITOR: usize = 32;

/// A row of the list with its key: `(id, row, time)`.
pub(crate) type Row = (i64, CheckIn, f64);

/// Which rows of the list a page reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    /// Newest first (a page forward), or oldest first (backwards).
    pub newest_first: bool,
    /// The time rows may have: the earliest and the latest (inclusive).
    pub from: f64,
    pub to: f64,
    /// The key rows come after in reading order, if any.
    pub after: Option<(f64, i64)>,
    /// The most rows the page reads (its limit and one more).
    pub need: usize,
    /// When the list is read.
    pub now: f64,
}

impl Span {
    /// Whether `key` comes after `other` in reading order.
    fn later(&self, key: (f64, i64), other: (f64, i64)) -> bool {
        let ord = key.0.total_cmp(&other.0).then_with(|| key.1.cmp(&other.1));
        if self.newest_first {
            ord.is_lt()
        } else {
            ord.is_gt()
        }
    }
}

/// A monitor with a schedule, in one of its environments.
pub(crate) struct Scheduled {
    pub project: i64,
    pub slug: String,
    /// As Sentry names it: a run without one is `production`'s.
    pub environment: String,
    /// Its schedule, read once.
    pub expected: Expected,
}

/// Where a page had to stop reading gaps: the key of a run, up to which
/// (in reading order, itself included) rows are complete. It is the run
/// that ends the first gap not read (newest first) or that the first gap
/// not read follows (oldest first), so a page always gets past the runs
/// it read gaps for, however many share one time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Boundary {
    pub time: f64,
    pub id: i64,
}

impl Boundary {
    /// Whether the row with key `key` is on the complete side.
    fn holds(&self, span: &Span, key: (f64, i64)) -> bool {
        !span.later(key, (self.time, self.id))
    }
}

/// The page's rows: `runs` (read in `span`'s order, at most `span.need`)
/// and the missed runs of `monitors` among them, in reading order, at most
/// `span.need`, cut at the boundary when the gaps could not all be read.
pub(crate) fn merge(
    c: &Connection,
    span: &Span,
    monitors: &[Scheduled],
    runs: Vec<Row>,
) -> Result<(Vec<Row>, Option<Boundary>), ApiError> {
    let mut span = *span;
    // Past the last run a full page reads, no missed run can be on it.
    if runs.len() >= span.need {
        if let Some((_, _, t)) = runs.last() {
            if span.newest_first {
                span.from = span.from.max(*t);
            } else {
                span.to = span.to.min(*t);
            }
        }
    }
    let budget = (GAP_BUDGET / monitors.len().max(1)).max(MIN_GAPS_PER_MONITOR);
    let mut rows = runs;
    let mut boundary: Option<Boundary> = None;
    for m in monitors {
        let (missed, stop) = of_monitor(c, &span, m, budget)?;
        rows.extend(missed);
        // The nearest stop bounds what is complete for all monitors.
        boundary = match (boundary, stop) {
            (Some(b), Some(s)) if span.later((s.time, s.id), (b.time, b.id)) => Some(b),
            (b, None) => b,
            (_, s) => s,
        };
    }
    rows.sort_by(|a, b| a.2.total_cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
    if span.newest_first {
        rows.reverse();
    }
    if let Some(b) = boundary {
        rows.retain(|r| b.holds(&span, (r.2, r.0)));
    }
    rows.truncate(span.need);
    // A full page needs no boundary: its last row is its cursor.
    let boundary = boundary.filter(|_| rows.len() < span.need);
    Ok((rows, boundary))
}

/// The missed runs of monitor `m` that `span` reads, nearest first, at
/// most `span.need`, and where reading stopped if `budget` gaps were not
/// enough.
fn of_monitor(
    c: &Connection,
    span: &Span,
    m: &Scheduled,
    budget: usize,
) -> Result<(Vec<Row>, Option<Boundary>), ApiError> {
    let gaps = Gaps::read(c, span, m, budget + 1)?;
    let mut out = Vec::new();
    for (i, gap) in gaps.enumerate() {
        // Reading on, the gaps only move away from the span.
        if (span.newest_first && gap.end < span.from) || (!span.newest_first && gap.start > span.to)
        {
            break;
        }
        if i == budget {
            let (time, id) = if span.newest_first {
                (gap.end, gap.next_run)
            } else {
                (gap.start, gap.run)
            };
            return Ok((out, Some(Boundary { time, id })));
        }
        let window = (span.from.max(gap.start), span.to.min(gap.end));
        // One more: the row the cursor names may be among them, and is
        // left out.
        for due in dues(span, m, &gap, window, span.need - out.len() + 1) {
            let row = missed_row(m, gap.run, due);
            let after_cursor = match span.after {
                Some(after) => span.later((row.2, row.0), after),
                None => true,
            };
            if after_cursor {
                out.push(row);
            }
        }
        if out.len() >= span.need {
            break;
        }
    }
    Ok((out, None))
}

/// The due times of the missed runs of `gap` in `window`: the `want`
/// nearest to where `span` starts reading, in reading order.
fn dues(span: &Span, m: &Scheduled, gap: &Gap, window: (f64, f64), want: usize) -> Vec<f64> {
    let list = |from: f64, keep| {
        m.expected
            .missed_between((gap.start, gap.end), (from, window.1), keep)
            .unwrap_or_default()
    };
    if window.0 > window.1 {
        return Vec::new();
    }
    if !span.newest_first {
        return list(window.0, Keep::First(want));
    }
    // The newest ones: a window grown from the top until it holds enough
    // (runs are at least a minute apart, so it starts with no more than
    // `want` of them and never reads far more than it keeps).
    let mut reach = want as f64 * 60.0;
    loop {
        let from = (window.1 - reach).max(window.0);
        let mut found = list(from, Keep::Last(want));
        if found.len() >= want || from <= window.0 {
            found.reverse();
            return found;
        }
        reach *= 2.0;
    }
}

/// The list row of a run of `m` due at `due` that did not come, in the gap
/// after the run with row id `run`.
fn missed_row(m: &Scheduled, run: i64, due: f64) -> Row {
    // As the schedule counts it (a negative margin is none).
    let margin = m.expected.margin();
    let row = CheckIn {
        check_in_id: None,
        project_id: m.project.to_string(),
        monitor_slug: m.slug.clone(),
        status: "missed".to_owned(),
        duration: None,
        release: None,
        environment: Some(m.environment.clone()),
        received: iso(due),
        updated: iso(due + margin),
        inferred: true,
    };
    (-run, row, due)
}

/// The time after a run of a monitor in an environment until its next run
/// there (or now), in which
/// the runs the schedule names are missed.
#[derive(Debug, Clone, Copy)]
struct Gap {
    /// The row id of the run it follows.
    run: i64,
    /// The row id of the run that ends it (`i64::MAX` when it ends now).
    next_run: i64,
    start: f64,
    end: f64,
}

/// A monitor's gaps in reading order, from the one that holds where
/// `span` starts reading.
struct Gaps {
    runs: std::iter::Peekable<std::vec::IntoIter<(i64, f64)>>,
    /// Newest first: where the next gap ends (the start of the run read
    /// before, and its id). Oldest first: where the last gap ends (now).
    edge: (f64, i64),
    newest_first: bool,
}

impl Gaps {
    /// The first `most` gaps of monitor `m` in its environment that `span`
    /// reads (`check_ins_environment`).
    fn read(c: &Connection, span: &Span, m: &Scheduled, most: usize) -> Result<Gaps, ApiError> {
        let (project, slug, environment) = (m.project, &m.slug, &m.environment);
        let most = i64::try_from(most).unwrap_or(i64::MAX);
        // Where reading starts, as a key: a run at that time whose id is
        // past the cursor's was on an earlier page (its gap too).
        let range_end = if span.newest_first {
            (span.to, i64::MAX)
        } else {
            (span.from, i64::MIN)
        };
        let (at, at_id) = match span.after {
            // The nearer of the cursor and the range's end.
            Some(after) if span.later(after, range_end) => after,
            _ => range_end,
        };
        let runs = |sql: &str, n: i64| -> Result<Vec<(i64, f64)>, ApiError> {
            Ok(c.prepare_cached(sql)?
                .query_map(params![project, slug, at, at_id, n, environment], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<_, _>>()?)
        };
        let (starts, edge) = if span.newest_first {
            // Runs up to where reading starts, newest first; the first gap
            // ends at the run after them, or now.
            let starts = runs(
                "SELECT id, received FROM check_ins
                 WHERE project_id = ?1 AND monitor_slug = ?2
                     AND COALESCE(environment, 'production') = ?6
                     AND (received < ?3 OR (received = ?3 AND id <= ?4))
                 ORDER BY received DESC, id DESC LIMIT ?5",
                most,
            )?;
            let end: Option<(f64, i64)> = c
                .prepare_cached(
                    "SELECT received, id FROM check_ins
                     WHERE project_id = ?1 AND monitor_slug = ?2
                         AND COALESCE(environment, 'production') = ?5
                         AND (received > ?3 OR (received = ?3 AND id > ?4))
                     ORDER BY received, id LIMIT 1",
                )?
                .query_row(params![project, slug, at, at_id, environment], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            (starts, end.unwrap_or((span.now, i64::MAX)))
        } else {
            // The run before where reading starts, then those after it,
            // oldest first; the last gap ends now.
            let mut starts = runs(
                "SELECT id, received FROM check_ins
                 WHERE project_id = ?1 AND monitor_slug = ?2
                     AND COALESCE(environment, 'production') = ?6
                     AND (received < ?3 OR (received = ?3 AND id <= ?4))
                 ORDER BY received DESC, id DESC LIMIT ?5",
                1,
            )?;
            starts.extend(runs(
                "SELECT id, received FROM check_ins
                 WHERE project_id = ?1 AND monitor_slug = ?2
                     AND COALESCE(environment, 'production') = ?6
                     AND (received > ?3 OR (received = ?3 AND id > ?4))
                 ORDER BY received, id LIMIT ?5",
                most,
            )?);
            (starts, (span.now, i64::MAX))
        };
        Ok(Gaps {
            runs: starts.into_iter().peekable(),
            edge,
            newest_first: span.newest_first,
        })
    }
}

impl Iterator for Gaps {
    type Item = Gap;

    fn next(&mut self) -> Option<Gap> {
        let (run, start) = self.runs.next()?;
        let (end, next_run) = if self.newest_first {
            std::mem::replace(&mut self.edge, (start, run))
        } else {
            self.runs.peek().map_or(self.edge, |(next, t)| (*t, *next))
        };
        Some(Gap {
            run,
            next_run,
            start,
            end,
        })
    }
}

/// The environments monitor `(project, slug)` has runs in, as Sentry names
/// them (`store::monitors::environments`).
pub(crate) fn environments(
    c: &Connection,
    (project, slug): (i64, &str),
) -> Result<Vec<String>, ApiError> {
    Ok(crate::store::monitors::environments(c, project, slug)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::api::query_plan as plan;

    /// A monitor's environments and its runs in one of them are read
    /// through `check_ins_environment`, not by reading all its runs.
    #[test]
    fn environments_and_their_runs_are_read_through_their_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = Connection::open(dir.path().join("db.sqlite")).expect("open");
        crate::store::schema::migrate(&mut c).expect("schema");
        let hops = plan(
            &c,
            "SELECT MIN(COALESCE(environment, 'production')) FROM check_ins
             WHERE project_id = 1 AND monitor_slug = 'm'
                 AND COALESCE(environment, 'production') > 'a'",
        );
        assert!(hops.contains("check_ins_environment"), "{hops}");
        let gaps = plan(
            &c,
            "SELECT id, received FROM check_ins
             WHERE project_id = 1 AND monitor_slug = 'm'
                 AND COALESCE(environment, 'production') = 'staging'
                 AND (received < 5.0 OR (received = 5.0 AND id <= 9))
             ORDER BY received DESC, id DESC LIMIT 10",
        );
        assert!(
            gaps.contains("check_ins_environment") && !gaps.contains("TEMP B-TREE"),
            "{gaps}"
        );
    }
}
