//! What the spans and transactions lists share to read a table in
//! start-time order within a budget of rows per request (see
//! `api::spans` for the design): the sort, the duration windows and their
//! cursors, the conditions that walk a time index from a key, where a
//! budget ends, and the headers that say how much was read.

use hyper::header::HeaderName;
use rusqlite::OptionalExtension;

use super::params::{iso, Cursor, Page, Range, Sql};
use super::{ApiError, Reply};

/// A row's place in start-time order: its start and its id.
pub(crate) type Key = (f64, i64);

/// What a list sorts by (`sort=`): start time or duration, either way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sort {
    pub by_duration: bool,
    pub ascending: bool,
}

impl Sort {
    /// From `-timestamp`, `timestamp`, `-duration` or `duration`.
    pub(crate) fn parse(s: &str) -> Result<Sort, ApiError> {
        let (by_duration, ascending) = match s {
            "-timestamp" => (false, false),
            "timestamp" => (false, true),
            "-duration" => (true, false),
            "duration" => (true, true),
            other => {
                return Err(ApiError::BadRequest(format!(
                    "invalid sort {other:?}: expected -timestamp, timestamp, -duration or duration"
                )))
            }
        };
        Ok(Sort {
            by_duration,
            ascending,
        })
    }
}

/// The rows a sort by duration covers: those started from `lo` (included;
/// `None`: from the range's start) to before `hi` (excluded; `None`: to the
/// range's end).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Window {
    pub lo: Option<Key>,
    pub hi: Option<Key>,
}

impl Window {
    /// `:lo_start:lo_id:hi_start:hi_id`, `-:-` for an open end.
    pub(crate) fn suffix(&self) -> String {
        let end =
            |k: Option<Key>| k.map_or_else(|| "-:-".to_owned(), |(v, id)| format!("{v}:{id}"));
        format!(":{}:{}", end(self.lo), end(self.hi))
    }
}

/// Where a page sorted by duration starts: after `at` (a duration in
/// seconds and a row id), or at the start of `window` when `at` is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct DurationCursor {
    pub at: Option<Cursor>,
    pub window: Option<Window>,
}

impl DurationCursor {
    /// From `duration:id:0|1`, or that followed by a window
    /// (`:lo_start:lo_id:hi_start:hi_id`, `-:-` for an open end), whose
    /// first three may be `-:-:0` (the window's start).
    pub(crate) fn parse(s: &str) -> Result<DurationCursor, ApiError> {
        let bad = || ApiError::BadRequest(format!("invalid cursor {s:?}"));
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() <= 3 {
            return Ok(DurationCursor {
                at: Some(Cursor::parse(s)?),
                window: None,
            });
        }
        if parts.len() != 7 {
            return Err(bad());
        }
        let key = |v: &str, id: &str| -> Result<Option<Key>, ApiError> {
            if (v, id) == ("-", "-") {
                return Ok(None);
            }
            let v = v.parse::<f64>().ok().filter(|v| v.is_finite());
            match (v, id.parse::<i64>().ok()) {
                (Some(v), Some(id)) => Ok(Some((v, id))),
                _ => Err(bad()),
            }
        };
        let at = match parts[..3] {
            ["-", "-", "0"] => None,
            _ => Some(Cursor::parse(&parts[..3].join(":"))?),
        };
        Ok(DurationCursor {
            at,
            window: Some(Window {
                lo: key(parts[3], parts[4])?,
                hi: key(parts[5], parts[6])?,
            }),
        })
    }
}

/// How much of the table a walked answer read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scan {
    /// Rows read.
    pub read: i64,
    /// When the budget ended the read: the start of the last row read.
    pub stopped_at: Option<f64>,
}

impl Scan {
    /// `X-Scanned`, `X-Scan-Stopped` and (when stopped) `X-Scanned-To`.
    pub(crate) fn add_headers(&self, reply: Reply) -> Reply {
        let reply = reply
            .with_header(HeaderName::from_static("x-scanned"), self.read.to_string())
            .with_header(
                HeaderName::from_static("x-scan-stopped"),
                self.stopped_at.is_some().to_string(),
            );
        match self.stopped_at {
            Some(t) => reply.with_header(HeaderName::from_static("x-scanned-to"), iso(t)),
            None => reply,
        }
    }
}

/// A walked page's rows (`(id, row, key)` as read) without their keys,
/// its links (a page of no rows) and its scan.
pub(crate) type WalkedPage<T> = (Vec<T>, Page<()>, Option<Scan>);

/// Splits a page read as `(id, row, key)` into [`WalkedPage`].
pub(crate) fn split<T>(page: Page<(i64, T, f64)>, scan: Option<Scan>) -> WalkedPage<T> {
    let links = Page {
        rows: Vec::new(),
        prev: page.prev,
        next: page.next,
    };
    let rows = page.rows.into_iter().map(|(_, row, _)| row).collect();
    (rows, links, scan)
}

/// A page in start-time order being read (see [`TimeWalk::time_page`]).
pub(crate) struct TimePage {
    /// Towards later starts.
    up: bool,
    from: Option<Key>,
    /// Where the budget ends the read, when it bounds it.
    edge: Option<Key>,
    cursor: Option<Cursor>,
    range: Range,
    /// `ORDER BY` of the page's query.
    pub order: String,
}

/// A table walked in start-time order: its name, the alias its queries
/// give it (`s`, `t`), the index on `start_ts` to read (`INDEXED BY`, when
/// SQLite must be told), and the budget of rows one request reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeWalk {
    pub table: &'static str,
    pub alias: &'static str,
    pub index: Option<&'static str>,
    pub budget: usize,
}

impl TimeWalk {
    /// `FROM` of the walk's own queries: the table, its alias and index.
    fn from(&self) -> String {
        match self.index {
            Some(index) => format!("{} {} INDEXED BY {index}", self.table, self.alias),
            None => format!("{} {}", self.table, self.alias),
        }
    }

    /// `(start_ts, id)` past `key` going up (`up`) or down, `key` itself
    /// included when `inclusive`. The bound on `start_ts` alone is what
    /// lets the query walk the time index from there.
    pub(crate) fn beyond(&self, sql: &mut Sql, key: Key, up: bool, inclusive: bool) -> String {
        let a = self.alias;
        let cmp = if up { ">" } else { "<" };
        let id_cmp = if inclusive { "=" } else { "" };
        let start = sql.bind(key.0);
        let id = sql.bind(key.1);
        format!(
            "({a}.start_ts {cmp}= {start} AND ({a}.start_ts {cmp} {start} OR {a}.id {cmp}{id_cmp} {id}))"
        )
    }

    /// The last row a walk from `from` (excluded; `None`: from the range's
    /// end, or its start going `up`) may read: the budget's row of the
    /// range past `from`. `None` when fewer are left: the walk may go to
    /// the range's end. Reads the time index only.
    pub(crate) fn budget_edge(
        &self,
        c: &rusqlite::Connection,
        range: &Range,
        from: Option<Key>,
        up: bool,
    ) -> Result<Option<Key>, ApiError> {
        self.edge_after(c, range, from, up, self.budget)
    }

    /// The `rows`-th row of the range past `from` (see
    /// [`TimeWalk::budget_edge`]).
    fn edge_after(
        &self,
        c: &rusqlite::Connection,
        range: &Range,
        from: Option<Key>,
        up: bool,
        rows: usize,
    ) -> Result<Option<Key>, ApiError> {
        let a = self.alias;
        let mut sql = Sql::default();
        range.restrict(&mut sql, &format!("{a}.start_ts"));
        if let Some(from) = from {
            let cond = self.beyond(&mut sql, from, up, false);
            sql.cond(cond);
        }
        let dir = if up { "ASC" } else { "DESC" };
        let query = format!(
            "SELECT {a}.start_ts, {a}.id FROM {} WHERE {}
             ORDER BY {a}.start_ts {dir}, {a}.id {dir} LIMIT 1 OFFSET {}",
            self.from(),
            sql.where_clause(),
            rows.saturating_sub(1)
        );
        Ok(c.prepare_cached(&query)?
            .query_row(rusqlite::params_from_iter(sql.params.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    /// How many rows of the range lie past `from` (excluded; `None`: from
    /// the range's end, or its start going `up`) up to `to` (included;
    /// `None`: to the range's other end): what a walk between them read.
    /// Reads the time index only.
    pub(crate) fn count_walked(
        &self,
        c: &rusqlite::Connection,
        range: &Range,
        from: Option<Key>,
        to: Option<Key>,
        up: bool,
    ) -> Result<i64, ApiError> {
        let mut sql = Sql::default();
        range.restrict(&mut sql, &format!("{}.start_ts", self.alias));
        if let Some(from) = from {
            let cond = self.beyond(&mut sql, from, up, false);
            sql.cond(cond);
        }
        if let Some(to) = to {
            let cond = self.beyond(&mut sql, to, !up, true);
            sql.cond(cond);
        }
        let query = format!(
            "SELECT count(*) FROM {} WHERE {}",
            self.from(),
            sql.where_clause()
        );
        Ok(c.prepare_cached(&query)?
            .query_row(rusqlite::params_from_iter(sql.params.iter()), |r| r.get(0))?)
    }

    /// Bounds `sql` for a page in start-time order from `cursor` (the walk
    /// goes towards later starts for an ascending list, or for a descending
    /// one read backwards); `bounded`: a filter that keeps few rows, which
    /// the budget bounds. Gives the page's reading order too.
    pub(crate) fn time_page(
        &self,
        c: &rusqlite::Connection,
        range: &Range,
        sql: &mut Sql,
        cursor: Option<Cursor>,
        ascending: bool,
        bounded: bool,
    ) -> Result<TimePage, ApiError> {
        let up = ascending != cursor.is_some_and(|c| c.is_prev);
        let from = cursor.map(|c| (c.value, c.id));
        let edge = if bounded {
            self.budget_edge(c, range, from, up)?
        } else {
            None
        };
        if let Some(edge) = edge {
            let cond = self.beyond(sql, edge, !up, true);
            sql.cond(cond);
        }
        // The cursor's condition as `beyond` writes it. As `Sql::keyset`
        // writes it (`a < ?1 OR (a = ?2 AND id < ?3)`), with the budget's
        // bound, SQLite 3.46 read the whole window through two index
        // searches and sorted it (11 ms instead of 0.1 for a page of a
        // frequent `op`).
        if let Some(from) = from {
            let cond = self.beyond(sql, from, up, false);
            sql.cond(cond);
        }
        let a = self.alias;
        let dir = if up { "ASC" } else { "DESC" };
        Ok(TimePage {
            up,
            from,
            edge,
            cursor,
            range: *range,
            order: format!("{a}.start_ts {dir}, {a}.id {dir}"),
        })
    }

    /// The page of `fetched` (up to `limit + 1` rows read in `t.order`,
    /// `key` their start and id): when the budget ended the read before
    /// the page was full, its link goes on from there; with `scan`, how
    /// much it read.
    pub(crate) fn finish_time_page<T>(
        &self,
        c: &rusqlite::Connection,
        t: &TimePage,
        fetched: Vec<T>,
        limit: usize,
        key: impl Fn(&T) -> Key,
        scan: bool,
    ) -> Result<(Page<T>, Option<Scan>), ApiError> {
        let full = fetched.len() > limit;
        // Where the next page in the walk's direction starts after.
        let reached = if full {
            fetched.get(limit - 1).map(&key)
        } else {
            t.edge
        };
        let mut page = Page::build(fetched, limit, t.cursor, key);
        let stopped_at = t.edge.filter(|_| !full);
        if let Some((start, id)) = stopped_at {
            page.resume_at(start, id, t.cursor);
        }
        let scan = if scan {
            Some(Scan {
                read: self.count_walked(c, &t.range, t.from, reached, t.up)?,
                stopped_at: stopped_at.map(|(start, _)| start),
            })
        } else {
            None
        };
        Ok((page, scan))
    }

    /// The window a page sorted by duration reads, bounded in `sql`: the
    /// cursor's (`window` with `at`) when it holds no more than twice the
    /// budget (a hand-written `-:-` would sort all: a 400), else a new
    /// one, the newest budget of rows below the previous window's end.
    /// A window grows while it is paged when rows arrive in its time span
    /// (the first window has no upper end), so the limit leaves it a
    /// budget's room to grow before a later page is refused.
    pub(crate) fn duration_window(
        &self,
        c: &rusqlite::Connection,
        range: &Range,
        sql: &mut Sql,
        cursor: DurationCursor,
    ) -> Result<Window, ApiError> {
        let window = match cursor.window {
            Some(given) if cursor.at.is_some() => {
                let edge = self.edge_after(c, range, given.hi, false, 2 * self.budget)?;
                let within = match (edge, given.lo) {
                    (None, _) => true,
                    (Some(edge), Some(lo)) => lo.0 > edge.0 || (lo.0 == edge.0 && lo.1 >= edge.1),
                    (Some(_), None) => false,
                };
                if !within {
                    return Err(ApiError::BadRequest(format!(
                        "invalid cursor: its window holds more than {} {}, twice what one \
                         request reads; use the cursor of a previous page or start over",
                        2 * self.budget,
                        self.table
                    )));
                }
                given
            }
            given => {
                let hi = given.and_then(|w| w.hi);
                Window {
                    lo: self.budget_edge(c, range, hi, false)?,
                    hi,
                }
            }
        };
        if let Some(hi) = window.hi {
            let cond = self.beyond(sql, hi, false, false);
            sql.cond(cond);
        }
        if let Some(lo) = window.lo {
            let cond = self.beyond(sql, lo, true, true);
            sql.cond(cond);
        }
        Ok(window)
    }

    /// Gives a page sorted by duration within `window` its links (each
    /// carries the window; the window's last page goes on to the window
    /// below, its first back to the window above, which the budget counted
    /// upwards from its top gives again) and says how much it read.
    pub(crate) fn window_links<T>(
        &self,
        c: &rusqlite::Connection,
        range: &Range,
        page: &mut Page<T>,
        window: Window,
        at: Option<Cursor>,
        ascending: bool,
    ) -> Result<Scan, ApiError> {
        let suffix = window.suffix();
        page.prev.0.push_str(&suffix);
        page.next.0.push_str(&suffix);
        let forward = !at.is_some_and(|c| c.is_prev);
        if let (true, false, Some((start, id))) = (forward, page.next.1, window.lo) {
            page.next = (format!("-:-:0:-:-:{start}:{id}"), true);
        }
        if let (false, Some(hi)) = (page.prev.1, window.hi) {
            let above = Window {
                lo: Some(hi),
                hi: self.budget_edge(c, range, Some(hi), true)?,
            };
            // Before every duration of that window, read backwards.
            let end = if ascending {
                Cursor::render(1e12, i64::MAX, true)
            } else {
                Cursor::render(-1.0, i64::MIN, true)
            };
            page.prev = (format!("{end}{}", above.suffix()), true);
        }
        Ok(Scan {
            read: self.count_walked(c, range, window.hi, window.lo, false)?,
            stopped_at: window.lo.map(|(start, _)| start),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_cursors_carry_their_window() {
        let parsed = |s: &str| DurationCursor::parse(s).ok();
        let window = Window {
            lo: Some((10.5, 3)),
            hi: Some((20.0, 9)),
        };
        assert_eq!(window.suffix(), ":10.5:3:20:9");
        assert_eq!(
            parsed(&format!("1.5:7:1{}", window.suffix())),
            Some(DurationCursor {
                at: Some(Cursor {
                    value: 1.5,
                    id: 7,
                    is_prev: true
                }),
                window: Some(window),
            })
        );
        let start = parsed("-:-:0:-:-:20:9");
        assert_eq!(
            start,
            Some(DurationCursor {
                at: None,
                window: Some(Window {
                    lo: None,
                    hi: Some((20.0, 9))
                }),
            })
        );
        // A cursor of before windows: the first window is worked out again.
        assert_eq!(parsed("1.5:7:0").map(|c| c.window), Some(None));
        for bad in [
            "1:2:0:3",
            "1:2:0:a:b:3:4",
            "1:2:0:-:-:inf:4",
            "-:-:0",
            "x:y:z:-:-:-:-",
        ] {
            assert_eq!(parsed(bad), None, "{bad}");
        }
    }
}
