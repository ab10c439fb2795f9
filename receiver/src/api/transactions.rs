//! `GET /api/0/local/transactions/`: the stored transactions, newest first.
//!
//! Filters: `project` (id or slug, repeatable), `trace` (a trace id),
//! `transaction` (exact name, repeatable), `query` (a substring of the
//! name), `op`, `status`, `environment`, `release` (repeatable, exact),
//! `min_duration` / `max_duration` (milliseconds), the time range on the
//! start (`statsPeriod` or `start` / `end`); `sort` = `-timestamp`
//! (default), `timestamp`, `-duration`, `duration`; `limit` (1–100,
//! default 100) and `cursor`.
//!
//! # Bounded reads
//!
//! The transactions of a `trace`, or of `transaction` names that few
//! transactions have, are found through an index (`transactions_trace`,
//! `transactions_name`) and read whole. Any other list walks the
//! transactions in start-time order (`transactions_start`), and a filter
//! may keep few of those it walks over (a `query` no name matches would
//! read them all), so one request reads at most [`MAX_TRANSACTIONS_READ`]
//! transactions, as the spans list does:
//!
//! * In time order (`-timestamp`, `timestamp`): when the page is not full
//!   by then, it holds the matches found (perhaps none) and its `next`
//!   link (`previous` for a page read backwards) goes on from the last
//!   transaction read, not from the last one shown. Following it while
//!   `results="true"` lists every match once, in order.
//! * By duration (`-duration`, `duration`): the sort covers a window of at
//!   most that many transactions, the newest of the range. It is exact
//!   within the window and paged by duration; after the window's last
//!   page, `next` goes on to the window of the transactions started before
//!   it (a new sort), so following `next` still lists every match once;
//!   from a window's first page, `previous` goes back to the last page of
//!   the window above it. A range of fewer transactions is one window,
//!   sorted whole. No index
//!   orders transactions by duration, so sorting a whole large range would
//!   read all of it on every page.
//!
//! A walked answer says how much it read: `X-Scanned` (transactions read,
//! at most [`MAX_TRANSACTIONS_READ`]; by duration, the window's size) and
//! `X-Scan-Stopped` (`true` when the budget rather than the end of the
//! range ended the read); a stopped one also sends `X-Scanned-To`, the
//! start of the last transaction read (the window's oldest). A `trace` or
//! few-`transaction` answer sends none of them.

use hyper::header::LINK;

use super::params::{like_pattern, Cursor, Page, Range, Sql};
use super::projects;
use super::types::Transaction;
use super::walk::{split, DurationCursor, Sort, TimeWalk};
use super::{ApiError, Ctx, Reply};

/// Most transactions one request reads in start-time order (see the
/// module's documentation): the spans list's budget, which costs about the
/// same here. Measured on 150 000 transactions with 600-byte payloads (the
/// queries alone in the sqlite3 shell, warm cache, 2 shared and busy
/// cores, so noisy): a `query=` that matches nothing read them all in
/// 54–120 ms, a `min_duration` in 54 ms, a duration sort in 37 ms;
/// bounded, the walk takes 19–45 ms (a third of the whole, as it reads a
/// third), its edge and count 3 ms, a window's duration sort 15 ms.
/// 20 000 took 7–9 ms a walk but takes 8 requests rather than 3 to go
/// through those 150 000 for a rare match.
pub(crate) const MAX_TRANSACTIONS_READ: usize = 50_000;

/// The walk of `transactions_start` within [`MAX_TRANSACTIONS_READ`].
const WALK: TimeWalk = TimeWalk {
    table: "transactions",
    alias: "t",
    index: Some("transactions_start"),
    budget: MAX_TRANSACTIONS_READ,
};

/// Up to this many transactions with the `transaction=` names, they are
/// read whole through `transactions_name` rather than by a walk in time
/// order (which would look at every other transaction to find them).
const FEW_TRANSACTIONS: i64 = 500;

/// What the list sorts by.
const DURATION: &str = "(t.end_ts - t.start_ts)";

/// The list's filters, read from the query string.
#[derive(Debug)]
struct Filter {
    projects: Vec<String>,
    trace: Option<String>,
    names: Vec<String>,
    search: Option<String>,
    ops: Vec<String>,
    statuses: Vec<String>,
    environments: Vec<String>,
    releases: Vec<String>,
    min_ms: Option<f64>,
    max_ms: Option<f64>,
    range: Range,
}

/// How the transactions a filter keeps are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Through `transactions_trace`: read whole.
    Trace,
    /// Through `transactions_name` (few transactions have the names): read
    /// whole.
    Names,
    /// By a walk in start-time order over `transactions_start`;
    /// `selective` when the filter may keep few of those walked over.
    Walk { selective: bool },
}

impl Access {
    fn walks(self) -> bool {
        matches!(self, Access::Walk { .. })
    }
}

impl Filter {
    fn from_query(q: &super::Query, now: f64) -> Result<Filter, ApiError> {
        let trace = super::local::trace_filter(q)?;
        Ok(Filter {
            projects: q.all("project"),
            trace,
            names: q.values("transaction"),
            search: q.get_nonempty("query").map(str::to_owned),
            ops: q.all("op"),
            statuses: q.all("status"),
            environments: q.values("environment"),
            releases: q.values("release"),
            min_ms: q.number("min_duration")?,
            max_ms: q.number("max_duration")?,
            range: Range::from_query(q, now)?,
        })
    }

    /// Adds the filter's conditions on `t` to `sql`, and says how the
    /// transactions they keep are found.
    fn restrict(&self, c: &rusqlite::Connection, sql: &mut Sql) -> Result<Access, ApiError> {
        let ids = projects::filter_ids(c, &self.projects)?;
        let mut access = None;
        if let Some(trace) = &self.trace {
            let p = sql.bind(trace.clone());
            sql.cond(format!("t.trace_id = {p}"));
            access = Some(Access::Trace);
        }
        if access.is_none() && !self.names.is_empty() && few_named(c, ids.as_deref(), &self.names)?
        {
            access = Some(Access::Names);
        }
        match (&ids, access) {
            (Some(ids), _) => {
                let cond = sql.in_list("t.project_id", ids.iter().copied());
                sql.cond(cond);
            }
            // Every project, so that `transactions_name` (project first) is
            // searched for each name rather than read whole.
            (None, Some(Access::Names)) => sql.cond("t.project_id IN (SELECT id FROM projects)"),
            (None, _) => {}
        }
        for (col, values) in [
            ("t.name", &self.names),
            ("t.op", &self.ops),
            // Rows stored before missing statuses were stored as `unknown`.
            ("COALESCE(t.status, 'unknown')", &self.statuses),
            ("t.environment", &self.environments),
            ("t.release", &self.releases),
        ] {
            if !values.is_empty() {
                let cond = sql.in_list(col, values.iter().cloned());
                sql.cond(cond);
            }
        }
        if let Some(s) = &self.search {
            let p = sql.bind(like_pattern(s));
            sql.cond(format!("t.name LIKE {p} ESCAPE '\\'"));
        }
        if let Some(m) = self.min_ms {
            let p = sql.bind(m / 1000.0);
            sql.cond(format!("{DURATION} >= {p}"));
        }
        if let Some(m) = self.max_ms {
            let p = sql.bind(m / 1000.0);
            sql.cond(format!("{DURATION} <= {p}"));
        }
        self.range.restrict(sql, "t.start_ts");
        Ok(access.unwrap_or(Access::Walk {
            selective: self.keeps_only_some(),
        }))
    }

    /// Whether the filter may leave out many of the transactions a walk in
    /// time order goes over (the time range bounds the walk itself).
    fn keeps_only_some(&self) -> bool {
        !(self.projects.is_empty()
            && self.names.is_empty()
            && self.search.is_none()
            && self.ops.is_empty()
            && self.statuses.is_empty()
            && self.environments.is_empty()
            && self.releases.is_empty()
            && self.min_ms.is_none()
            && self.max_ms.is_none())
    }
}

/// Whether at most [`FEW_TRANSACTIONS`] transactions (of the projects
/// `ids`, or of all) have one of `names`. Reads `transactions_name` only,
/// and at most that many of its entries.
fn few_named(
    c: &rusqlite::Connection,
    ids: Option<&[i64]>,
    names: &[String],
) -> Result<bool, ApiError> {
    let mut sql = Sql::default();
    match ids {
        Some(ids) => {
            let cond = sql.in_list("project_id", ids.iter().copied());
            sql.cond(cond);
        }
        None => sql.cond("project_id IN (SELECT id FROM projects)"),
    }
    let cond = sql.in_list("name", names.iter().cloned());
    sql.cond(cond);
    let matching: i64 = c
        .prepare_cached(&format!(
            "SELECT count(*) FROM (SELECT 1 FROM transactions INDEXED BY transactions_name
                 WHERE {} LIMIT {})",
            sql.where_clause(),
            FEW_TRANSACTIONS + 1
        ))?
        .query_row(rusqlite::params_from_iter(sql.params.iter()), |r| r.get(0))?;
    Ok(matching <= FEW_TRANSACTIONS)
}

/// A page read, its links (without rows) and how much it read.
type PageRead = super::walk::WalkedPage<Transaction>;

/// `GET /api/0/local/transactions/` (see the module's documentation).
pub(crate) async fn list(ctx: &Ctx) -> Result<Reply, ApiError> {
    let q = &ctx.query;
    let limit = q.limit(100, 100)? as usize;
    let sort = Sort::parse(q.get_nonempty("sort").unwrap_or("-timestamp"))?;
    let cursor = q.get_nonempty("cursor");
    let (time_cursor, duration_cursor) = if sort.by_duration {
        (None, cursor.map(DurationCursor::parse).transpose()?)
    } else {
        (cursor.map(Cursor::parse).transpose()?, None)
    };
    let filter = Filter::from_query(q, ctx.now())?;
    let base = ctx.link_base();
    let (rows, link, scan) = ctx
        .read(move |c| {
            let mut filter = filter;
            super::local::whole_trace(c, &mut filter.trace)?;
            let (rows, page, scan) = if sort.by_duration {
                by_duration(c, &filter, duration_cursor, sort.ascending, limit)?
            } else {
                by_time(c, &filter, time_cursor, sort.ascending, limit)?
            };
            Ok((rows, page.link(&base), scan))
        })
        .await?;
    let reply = Reply::json(&rows)?.with_header(LINK, link);
    Ok(match scan {
        Some(scan) => scan.add_headers(reply),
        None => reply,
    })
}

/// A page in start-time order (see the module's documentation).
fn by_time(
    c: &rusqlite::Connection,
    filter: &Filter,
    cursor: Option<Cursor>,
    ascending: bool,
    limit: usize,
) -> Result<PageRead, ApiError> {
    let mut sql = Sql::default();
    let access = filter.restrict(c, &mut sql)?;
    let bounded = access == Access::Walk { selective: true };
    let t = WALK.time_page(c, &filter.range, &mut sql, cursor, ascending, bounded)?;
    let fetched = fetch(c, &sql, &t.order, limit, false, access)?;
    let (page, scan) = WALK.finish_time_page(
        c,
        &t,
        fetched,
        limit,
        |(id, _, start)| (*start, *id),
        access.walks(),
    )?;
    Ok(split(page, scan))
}

/// A page sorted by duration (see the module's documentation).
fn by_duration(
    c: &rusqlite::Connection,
    filter: &Filter,
    cursor: Option<DurationCursor>,
    ascending: bool,
    limit: usize,
) -> Result<PageRead, ApiError> {
    let mut sql = Sql::default();
    let access = filter.restrict(c, &mut sql)?;
    let cursor = cursor.unwrap_or_default();
    let at = cursor.at;
    let window = if access.walks() {
        WALK.duration_window(c, &filter.range, &mut sql, cursor)?
    } else {
        cursor.window.unwrap_or_default()
    };
    let order = sql.keyset(DURATION, "t.id", ascending, at);
    let fetched = fetch(c, &sql, &order, limit, true, access)?;
    let mut page = Page::build(fetched, limit, at, |(id, _, duration)| (*duration, *id));
    let scan = if access.walks() {
        Some(WALK.window_links(c, &filter.range, &mut page, window, at, ascending)?)
    } else {
        None
    };
    Ok(split(page, scan))
}

/// The query of [`fetch`]: the index `access` names, whatever else the
/// conditions could use. The read budget is a bound on the start time,
/// which bounds only a walk in that order; SQLite would otherwise pick
/// `transactions_time` for a project (and sort all its transactions) or
/// `transactions_start` for a few names (and read them all to find them).
fn fetch_sql(sql: &Sql, order: &str, limit: usize, access: Access) -> String {
    let index = match access {
        Access::Trace => "INDEXED BY transactions_trace",
        Access::Names => "INDEXED BY transactions_name",
        Access::Walk { .. } => "INDEXED BY transactions_start",
    };
    format!(
        "SELECT t.id, t.event_id, t.project_id, t.trace_id, t.span_id, t.name, t.op,
             t.status, t.start_ts, t.end_ts, t.release, t.environment
         FROM transactions t {index}
         WHERE {} ORDER BY {order} LIMIT {}",
        sql.where_clause(),
        limit + 1
    )
}

/// Up to `limit + 1` transactions `sql` keeps, in `order`: their ids, the
/// transactions and their sort values (durations, or starts).
fn fetch(
    c: &rusqlite::Connection,
    sql: &Sql,
    order: &str,
    limit: usize,
    by_duration: bool,
    access: Access,
) -> Result<Vec<(i64, Transaction, f64)>, ApiError> {
    let query = fetch_sql(sql, order, limit, access);
    let rows = c
        .prepare(&query)?
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            let (id, t) = super::local::transaction_from_row(r)?;
            let start: f64 = r.get(8)?;
            let end: f64 = r.get(9)?;
            let key = if by_duration { end - start } else { start };
            Ok((id, t, key))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::api::query_plan as plan;

    /// A walk reads `transactions_start` in order whatever the filters
    /// (the read budget bounds the start time), a few names read
    /// `transactions_name` by name.
    #[test]
    fn a_walk_reads_the_time_index_whatever_the_filters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = rusqlite::Connection::open(dir.path().join("db.sqlite")).expect("open");
        crate::store::schema::migrate(&mut c).expect("schema");
        for conds in [
            vec!["t.op IN ('http.server')"],
            vec!["t.status IN ('ok', 'cancelled')"],
            vec!["t.environment IN ('prod')"],
            vec!["t.release IN ('1.0')"],
            vec!["t.project_id IN (1)"],
            vec!["t.project_id IN (1, 2)", "t.op IN ('x')"],
            vec!["t.project_id IN (1)", "t.name IN ('GET /')"],
            vec!["t.name LIKE '%x%' ESCAPE '\\'"],
        ] {
            for order in ["t.start_ts DESC, t.id DESC", "t.start_ts ASC, t.id ASC"] {
                let mut sql = Sql::default();
                for cond in &conds {
                    sql.cond(*cond);
                }
                sql.cond("(t.start_ts >= 5 AND (t.start_ts > 5 OR t.id >= 3))");
                let walk = Access::Walk { selective: true };
                let plan = plan(&c, &fetch_sql(&sql, order, 100, walk));
                assert!(plan.contains("transactions_start"), "{conds:?}: {plan}");
                assert!(!plan.contains("TEMP B-TREE"), "{conds:?}: {plan}");
            }
        }
        // A few names: searched by project and name, not walked.
        let mut sql = Sql::default();
        sql.cond("t.project_id IN (SELECT id FROM projects)");
        sql.cond("t.name IN ('GET /', 'POST /')");
        let plan = plan(
            &c,
            &fetch_sql(&sql, "t.start_ts DESC, t.id DESC", 100, Access::Names),
        );
        assert!(
            plan.contains("transactions_name (project_id=? AND name=?)"),
            "{plan}"
        );
    }
}
