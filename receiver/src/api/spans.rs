//! `GET /api/0/local/spans/`: every stored span, whether it came inside a
//! transaction or on its own (a `span` item: what SDKs that stream spans
//! send instead of transactions), newest first.
//!
//! This is where an application that streams its spans finds them: its
//! segments (`segment=1`) play the part transactions play in the
//! transactions list. Filters: `project` (id or slug, repeatable), `trace`
//! (a trace id), `op`, `status` (repeatable, exact), `query` (a substring
//! of the description), `transaction` (the name of the transaction a span
//! came in, or of the segment a streamed span belongs to: its
//! `sentry.segment.name`; exact), `segment` (`1`: only segments, a transaction's root or
//! a streamed segment; `0`: none), `source` (`transaction` or `stream`),
//! `min_duration` / `max_duration` (milliseconds), the time range on the
//! start (`statsPeriod` or `start` / `end`); `sort` = `-timestamp`
//! (default), `timestamp`, `-duration`, `duration` (the last two list
//! finished spans only); `limit` (1–100, default 100) and `cursor`.
//!
//! A span an SDK sent both inside a transaction and on its own is listed
//! once, as the transaction's (as in the trace view).
//!
//! # Bounded reads
//!
//! The spans of a `trace`, or of a `transaction` naming few transactions
//! and segments, are found through an index and read whole. Any other list walks the
//! spans in start-time order (`spans_time`), and a filter may keep few of
//! those it walks over (an `op` no span has would read them all), so one
//! request reads at most [`MAX_SPANS_READ`] spans:
//!
//! * In time order (`-timestamp`, `timestamp`): when the page is not full
//!   by then, it holds the matches found (perhaps none) and its `next`
//!   link (`previous` for a page read backwards) goes on from the last
//!   span read, not from the last one shown. Following it while
//!   `results="true"` lists every match once, in order.
//! * By duration (`-duration`, `duration`): the sort covers a window of at
//!   most that many spans, the newest of the range. It is exact within the
//!   window and paged by duration; after the window's last page, `next`
//!   goes on to the window of the spans started before it (a new sort), so
//!   following `next` still lists every match once; from a window's first
//!   page, `previous` goes back to the last page of the window above it
//!   (counted upwards from there, it holds the same spans). A range of fewer spans
//!   is one window: its sort is exact over the whole range. No index
//!   orders spans by duration (it would cost every stored span one more
//!   write at a random place), so sorting a whole large range would read
//!   all of it on every page; a window keeps each page bounded, and the
//!   newest spans are the ones a developer looks at.
//!
//! A walked answer says how much it read: `X-Scanned` (spans read, at most
//! [`MAX_SPANS_READ`]; by duration, the window's size) and
//! `X-Scan-Stopped` (`true` when the budget rather than the end of the
//! range ended the read: in time order the page may be short, by duration
//! the sort covers only the window); a stopped one also sends
//! `X-Scanned-To`, the start of the last span read (the window's oldest).
//! A `trace` or few-`transaction` answer sends none of them.

use hyper::header::LINK;

use super::params::{iso, like_pattern, Cursor, Page, Range, Sql};
use super::projects;
use super::types::SpanRow;
use super::walk::{split, DurationCursor, Scan, Sort, TimeWalk};
use super::{ApiError, Ctx, Reply};

/// Most spans one request reads in start-time order (see the module's
/// documentation). Measured on 1.4 million spans (release build, 2 shared
/// cores): a filter that keeps none of them answers in 14–17 ms a request
/// (reading them all took 340–360 ms), 29 requests for the whole table; a
/// duration sort's page takes 12–22 ms (sorting all took 210–250 ms).
/// 20 000 halves a request's time but takes 71 requests to walk the table.
pub(crate) const MAX_SPANS_READ: usize = 50_000;

/// The walk of `spans_time` within [`MAX_SPANS_READ`].
const WALK: TimeWalk = TimeWalk {
    table: "spans",
    alias: "s",
    index: None,
    budget: MAX_SPANS_READ,
};

/// What the list sorts by.
const DURATION: &str = "(s.end_ts - s.start_ts)";

/// Where a span came from (`source=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Transaction,
    Stream,
}

impl Source {
    fn parse(s: &str) -> Result<Source, ApiError> {
        match s {
            "transaction" => Ok(Source::Transaction),
            "stream" => Ok(Source::Stream),
            other => Err(ApiError::BadRequest(format!(
                "invalid source {other:?}: expected transaction or stream"
            ))),
        }
    }
}

/// The list's filters, read from the query string.
#[derive(Debug)]
struct SpanFilter {
    projects: Vec<String>,
    trace: Option<String>,
    ops: Vec<String>,
    statuses: Vec<String>,
    search: Option<String>,
    transactions: Vec<String>,
    segment: Option<bool>,
    source: Option<Source>,
    min_ms: Option<f64>,
    max_ms: Option<f64>,
    range: Range,
}

impl SpanFilter {
    fn from_query(q: &super::Query, now: f64) -> Result<SpanFilter, ApiError> {
        let trace = super::local::trace_filter(q)?;
        let segment = match q.get_nonempty("segment") {
            None => None,
            Some("1" | "true") => Some(true),
            Some("0" | "false") => Some(false),
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "invalid segment {other:?}: expected 1 or 0"
                )))
            }
        };
        Ok(SpanFilter {
            projects: q.all("project"),
            trace,
            ops: q.all("op"),
            statuses: q.all("status"),
            search: q.get_nonempty("query").map(str::to_owned),
            transactions: q.values("transaction"),
            segment,
            source: q.get_nonempty("source").map(Source::parse).transpose()?,
            min_ms: q.number("min_duration")?,
            max_ms: q.number("max_duration")?,
            range: Range::from_query(q, now)?,
        })
    }

    /// Adds the filter's conditions on `s` (spans) and `t` (their
    /// transaction, if any) to `sql`, and says how the spans they keep
    /// are found.
    fn restrict(&self, c: &rusqlite::Connection, sql: &mut Sql) -> Result<Access, ApiError> {
        let mut indexed = false;
        if let Some(ids) = projects::filter_ids(c, &self.projects)? {
            let cond = sql.in_list("s.project_id", ids);
            sql.cond(cond);
        }
        if let Some(trace) = &self.trace {
            let p = sql.bind(trace.clone());
            sql.cond(format!("s.trace_id = {p}"));
            indexed = true;
        }
        for (col, values) in [("s.op", &self.ops), ("s.status", &self.statuses)] {
            if !values.is_empty() {
                let cond = sql.in_list(col, values.iter().cloned());
                sql.cond(cond);
            }
        }
        if !self.transactions.is_empty() {
            indexed |= self.restrict_transactions(c, sql)?;
        }
        if let Some(s) = &self.search {
            let p = sql.bind(like_pattern(s));
            sql.cond(format!("s.description LIKE {p} ESCAPE '\\'"));
        }
        if let Some(segment) = self.segment {
            sql.cond(if segment {
                "s.is_segment = 1"
            } else {
                "s.is_segment = 0"
            });
        }
        match self.source {
            Some(Source::Transaction) => sql.cond("s.transaction_id IS NOT NULL"),
            Some(Source::Stream) => sql.cond("s.transaction_id IS NULL"),
            None => {}
        }
        if self.source != Some(Source::Transaction) {
            // The streamed copy of a span a transaction also carries.
            sql.cond(
                "NOT (s.transaction_id IS NULL AND EXISTS (
                     SELECT 1 FROM spans d WHERE d.trace_id = s.trace_id
                         AND d.span_id = s.span_id AND d.project_id = s.project_id
                         AND d.transaction_id IS NOT NULL))",
            );
        }
        if let Some(m) = self.min_ms {
            let p = sql.bind(m / 1000.0);
            sql.cond(format!("(s.end_ts - s.start_ts) >= {p}"));
        }
        if let Some(m) = self.max_ms {
            let p = sql.bind(m / 1000.0);
            sql.cond(format!("(s.end_ts - s.start_ts) <= {p}"));
        }
        self.range.restrict(sql, "s.start_ts");
        Ok(if indexed {
            Access::Indexed
        } else {
            Access::Walk {
                selective: self.keeps_only_some(),
            }
        })
    }

    /// Adds the `transaction` names' condition to `sql`; whether their
    /// spans are found through `spans_transaction`.
    fn restrict_transactions(
        &self,
        c: &rusqlite::Connection,
        sql: &mut Sql,
    ) -> Result<bool, ApiError> {
        // Few transactions of that name and few streamed spans of
        // segments of that name: their spans through `spans_transaction`
        // and `spans_segment_name` (a walk in time order would look at all
        // of them to find a few). Many: the walk in time order finds a
        // page soon, sorting all their spans would not.
        let names = || self.transactions.iter().cloned();
        let count = |table: &str, column: &str, limit: i64| -> Result<i64, ApiError> {
            let mut count = Sql::default();
            let cond = count.in_list(column, names());
            Ok(c.prepare_cached(&format!(
                "SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {cond} LIMIT {})",
                limit + 1
            ))?
            .query_row(rusqlite::params_from_iter(count.params.iter()), |r| {
                r.get(0)
            })?)
        };
        let few = count("transactions", "name", FEW_TRANSACTIONS)? <= FEW_TRANSACTIONS
            && count("spans", "segment_name", FEW_STREAMED_SPANS)? <= FEW_STREAMED_SPANS;
        let in_transactions = if few {
            let names = sql.in_list("name", names());
            format!("s.transaction_id IN (SELECT id FROM transactions WHERE {names})")
        } else {
            sql.in_list("t.name", names())
        };
        let in_segments = sql.in_list("s.segment_name", names());
        sql.cond(format!("({in_transactions} OR {in_segments})"));
        Ok(few)
    }

    /// Whether the filter may leave out many of the spans a walk in time
    /// order goes over (the time range bounds the walk itself; the
    /// streamed copies of transactions' spans are at most half of them).
    fn keeps_only_some(&self) -> bool {
        !(self.projects.is_empty()
            && self.ops.is_empty()
            && self.statuses.is_empty()
            && self.transactions.is_empty()
            && self.search.is_none()
            && self.segment.is_none()
            && self.source.is_none()
            && self.min_ms.is_none()
            && self.max_ms.is_none())
    }
}

/// How the spans a filter keeps are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Through an index on what the filter names (a trace, a few
    /// transactions): few spans, read whole.
    Indexed,
    /// By a walk in start-time order; `selective` when the filter may keep
    /// few of the spans walked over.
    Walk { selective: bool },
}

/// Up to this many transactions named by `transaction=`, their spans are
/// found through their transaction ids rather than by a walk in time order.
const FEW_TRANSACTIONS: i64 = 500;

/// Up to this many streamed spans of segments named by `transaction=`,
/// they are found through `spans_segment_name` (with those transactions').
const FEW_STREAMED_SPANS: i64 = 10_000;

/// One page of the list.
struct Listed {
    rows: Vec<SpanRow>,
    link: String,
    scan: Option<Scan>,
}

/// `GET /api/0/local/spans/` (see the module's documentation).
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
    let filter = SpanFilter::from_query(q, ctx.now())?;
    let base = ctx.link_base();
    let listed = ctx
        .read(move |c| {
            let mut filter = filter;
            super::local::whole_trace(c, &mut filter.trace)?;
            let (rows, page, scan) = if sort.by_duration {
                by_duration(c, &filter, duration_cursor, sort.ascending, limit)?
            } else {
                by_time(c, &filter, time_cursor, sort.ascending, limit)?
            };
            Ok(Listed {
                rows,
                link: page.link(&base),
                scan,
            })
        })
        .await?;
    let reply = Reply::json(&listed.rows)?.with_header(LINK, listed.link);
    Ok(match listed.scan {
        Some(scan) => scan.add_headers(reply),
        None => reply,
    })
}

/// A page read, its links (without rows) and how much it read.
type PageRead = super::walk::WalkedPage<SpanRow>;

/// A page in start-time order (see the module's documentation).
fn by_time(
    c: &rusqlite::Connection,
    filter: &SpanFilter,
    cursor: Option<Cursor>,
    ascending: bool,
    limit: usize,
) -> Result<PageRead, ApiError> {
    let mut sql = Sql::default();
    let access = filter.restrict(c, &mut sql)?;
    let bounded = access == Access::Walk { selective: true };
    let t = WALK.time_page(c, &filter.range, &mut sql, cursor, ascending, bounded)?;
    let walk = matches!(access, Access::Walk { .. });
    let fetched = fetch(c, &sql, &t.order, limit, false, walk)?;
    let (page, scan) =
        WALK.finish_time_page(c, &t, fetched, limit, |(id, _, start)| (*start, *id), walk)?;
    Ok(split(page, scan))
}

/// A page sorted by duration (see the module's documentation).
fn by_duration(
    c: &rusqlite::Connection,
    filter: &SpanFilter,
    cursor: Option<DurationCursor>,
    ascending: bool,
    limit: usize,
) -> Result<PageRead, ApiError> {
    let mut sql = Sql::default();
    let access = filter.restrict(c, &mut sql)?;
    // An unfinished span has no duration to sort or page by.
    sql.cond("s.end_ts IS NOT NULL");
    let cursor = cursor.unwrap_or_default();
    let at = cursor.at;
    let window = match access {
        Access::Indexed => cursor.window.unwrap_or_default(),
        Access::Walk { .. } => WALK.duration_window(c, &filter.range, &mut sql, cursor)?,
    };
    let order = sql.keyset(DURATION, "s.id", ascending, at);
    let walk = matches!(access, Access::Walk { .. });
    let fetched = fetch(c, &sql, &order, limit, true, walk)?;
    let mut page = Page::build(fetched, limit, at, |(id, _, duration)| (*duration, *id));
    let scan = match access {
        Access::Indexed => None,
        Access::Walk { .. } => {
            Some(WALK.window_links(c, &filter.range, &mut page, window, at, ascending)?)
        }
    };
    Ok(split(page, scan))
}

/// The query of [`fetch`].
fn fetch_sql(sql: &Sql, order: &str, limit: usize, walk: bool) -> String {
    let index = if walk { "INDEXED BY spans_time" } else { "" };
    format!(
        "SELECT s.id, s.span_id, s.parent_span_id, s.trace_id, s.op, s.description,
             s.status, s.start_ts, s.end_ts, s.project_id, s.is_segment, t.event_id,
             coalesce(t.name, s.segment_name)
         FROM spans s {index} LEFT JOIN transactions t ON t.id = s.transaction_id
         WHERE {} ORDER BY {order} LIMIT {}",
        sql.where_clause(),
        limit + 1
    )
}

/// Up to `limit + 1` spans `sql` keeps, in `order`: their ids, the spans
/// and their sort values (durations, or starts). A `walk` reads
/// `spans_time`, whatever else the conditions could use: the read budget
/// is a bound on the start time, which bounds only a walk in that order
/// (with `source=stream`, SQLite 3.46 chose `spans_transaction`, or with a
/// project `spans_streamed`, read every streamed span and sorted them).
fn fetch(
    c: &rusqlite::Connection,
    sql: &Sql,
    order: &str,
    limit: usize,
    by_duration: bool,
    walk: bool,
) -> Result<Vec<(i64, SpanRow, f64)>, ApiError> {
    let query = fetch_sql(sql, order, limit, walk);
    let rows = c
        .prepare(&query)?
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            let start: f64 = r.get(7)?;
            let end: Option<f64> = r.get(8)?;
            let project: i64 = r.get(9)?;
            let key = if by_duration {
                end.unwrap_or(start) - start
            } else {
                start
            };
            let span = SpanRow {
                span_id: r.get(1)?,
                parent_span_id: r.get(2)?,
                trace_id: r.get(3)?,
                op: r.get(4)?,
                description: r.get(5)?,
                status: r.get(6)?,
                start_timestamp: iso(start),
                timestamp: end.map(iso),
                duration: end.map(|e| ((e - start) * 1e6).round() / 1000.0),
                project_id: project.to_string(),
                is_segment: r.get(10)?,
                transaction_id: r.get(11)?,
                transaction: r.get(12)?,
            };
            Ok((r.get(0)?, span, key))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A walk reads `spans_time` even where a filter names a column
    /// another index leads with (the read budget bounds the start time).
    #[test]
    fn a_walk_reads_the_time_index_whatever_the_filters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = rusqlite::Connection::open(dir.path().join("db.sqlite")).expect("open");
        crate::store::schema::migrate(&mut c).expect("schema");
        for conds in [
            vec!["s.transaction_id IS NULL"],
            vec!["s.project_id IN (1)", "s.transaction_id IS NULL"],
            vec!["s.is_segment = 1", "s.transaction_id IS NULL"],
            vec!["s.trace_id = 'x'"],
        ] {
            let mut sql = Sql::default();
            for cond in &conds {
                sql.cond(*cond);
            }
            sql.cond("s.start_ts >= 5");
            let query = fetch_sql(&sql, "s.start_ts DESC, s.id DESC", 100, true);
            let plan = crate::api::query_plan(&c, &query);
            assert!(plan.contains("spans_time"), "{conds:?}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{conds:?}: {plan}");
        }
    }

    /// A few transactions' and segments' spans are found through the two
    /// indices that name them, not by reading every span.
    #[test]
    fn few_transactions_and_segments_are_read_through_their_indices() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = rusqlite::Connection::open(dir.path().join("db.sqlite")).expect("open");
        crate::store::schema::migrate(&mut c).expect("schema");
        let q = super::super::Query::parse(Some("transaction=checkout&transaction=GET%20/"));
        let filter = SpanFilter::from_query(&q, 1.7e9).expect("filter");
        let mut sql = Sql::default();
        let access = filter.restrict(&c, &mut sql).expect("restrict");
        assert_eq!(access, Access::Indexed);
        let query = fetch_sql(&sql, "s.start_ts DESC, s.id DESC", 100, false);
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
            .expect("plan")
            .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
                r.get::<_, String>(3)
            })
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("plan rows");
        let plan = plan.join("; ");
        assert!(plan.contains("spans_transaction"), "{plan}");
        assert!(plan.contains("spans_segment_name"), "{plan}");
        assert!(!plan.contains("SCAN s"), "{plan}");
    }
}
