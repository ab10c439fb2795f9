//! `GET /api/0/local/spans/`: every stored span, whether it came inside a
//! transaction or on its own (a `span` item: what SDKs that stream spans
//! send instead of transactions), newest first.
//!
//! This is where an application that streams its spans finds them: its
//! segments (`segment=1`) play the part transactions play in the
//! transactions list. Filters: `project` (id or slug, repeatable), `trace`
//! (a trace id), `op`, `status` (repeatable, exact), `query` (a substring
//! of the description), `transaction` (the name of the transaction a span
//! came in, exact), `segment` (`1`: only segments, a transaction's root or
//! a streamed segment; `0`: none), `source` (`transaction` or `stream`),
//! `min_duration` / `max_duration` (milliseconds), the time range on the
//! start (`statsPeriod` or `start` / `end`); `sort` = `-timestamp`
//! (default), `timestamp`, `-duration`, `duration` (the last two list
//! finished spans only); `limit` (1–100, default 100) and `cursor`.
//!
//! A span an SDK sent both inside a transaction and on its own is listed
//! once, as the transaction's (as in the trace view).

use super::params::{hex_id, iso, like_pattern, Cursor, Page, Range, Sql};
use super::projects;
use super::types::SpanRow;
use super::{ApiError, Ctx, Reply};

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
        let trace = match q.get_nonempty("trace") {
            Some(t) => Some(hex_id(t, 32).ok_or_else(|| {
                ApiError::BadRequest(format!("invalid trace {t:?}: expected 32 hex digits"))
            })?),
            None => None,
        };
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
            transactions: q.all("transaction"),
            segment,
            source: q.get_nonempty("source").map(Source::parse).transpose()?,
            min_ms: q.number("min_duration")?,
            max_ms: q.number("max_duration")?,
            range: Range::from_query(q, now)?,
        })
    }

    /// Adds the filter's conditions on `s` (spans) and `t` (their
    /// transaction, if any) to `sql`.
    fn restrict(&self, c: &rusqlite::Connection, sql: &mut Sql) -> Result<(), ApiError> {
        if let Some(ids) = projects::filter_ids(c, &self.projects)? {
            let cond = sql.in_list("s.project_id", ids);
            sql.cond(cond);
        }
        if let Some(trace) = &self.trace {
            let p = sql.bind(trace.clone());
            sql.cond(format!("s.trace_id = {p}"));
        }
        for (col, values) in [("s.op", &self.ops), ("s.status", &self.statuses)] {
            if !values.is_empty() {
                let cond = sql.in_list(col, values.iter().cloned());
                sql.cond(cond);
            }
        }
        if !self.transactions.is_empty() {
            // Few transactions of that name: their spans through
            // `spans_transaction` (a scan of every span in time order
            // would look at all of them to find a few). Many: the scan
            // in time order finds a page soon, sorting all their spans
            // would not.
            let names = || self.transactions.iter().cloned();
            let matching: i64 = {
                let mut count = Sql::default();
                let cond = count.in_list("name", names());
                c.prepare_cached(&format!(
                    "SELECT count(*) FROM (SELECT 1 FROM transactions WHERE {cond} LIMIT {})",
                    FEW_TRANSACTIONS + 1
                ))?
                .query_row(rusqlite::params_from_iter(count.params.iter()), |r| {
                    r.get(0)
                })?
            };
            let cond = if matching <= FEW_TRANSACTIONS {
                let names = sql.in_list("name", names());
                format!("s.transaction_id IN (SELECT id FROM transactions WHERE {names})")
            } else {
                sql.in_list("t.name", names())
            };
            sql.cond(cond);
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
        Ok(())
    }
}

/// Up to this many transactions named by `transaction=`, their spans are
/// found through their transaction ids rather than by a scan in time order.
const FEW_TRANSACTIONS: i64 = 500;

/// `GET /api/0/local/spans/` (see the module's documentation).
pub(crate) async fn list(ctx: &Ctx) -> Result<Reply, ApiError> {
    let q = &ctx.query;
    let limit = q.limit(100, 100)?;
    let cursor = Cursor::from_query(q)?;
    let (expr, ascending) = match q.get_nonempty("sort").unwrap_or("-timestamp") {
        "-timestamp" => ("s.start_ts", false),
        "timestamp" => ("s.start_ts", true),
        "-duration" => ("(s.end_ts - s.start_ts)", false),
        "duration" => ("(s.end_ts - s.start_ts)", true),
        other => {
            return Err(ApiError::BadRequest(format!(
                "invalid sort {other:?}: expected -timestamp, timestamp, -duration or duration"
            )))
        }
    };
    let by_duration = expr != "s.start_ts";
    let filter = SpanFilter::from_query(q, ctx.now())?;
    let base = ctx.link_base();
    let (rows, link) = ctx
        .read(move |c| {
            let mut sql = Sql::default();
            filter.restrict(c, &mut sql)?;
            if by_duration {
                // An unfinished span has no duration to sort or page by.
                sql.cond("s.end_ts IS NOT NULL");
            }
            let order = sql.keyset(expr, "s.id", ascending, cursor);
            let query = format!(
                "SELECT s.id, s.span_id, s.parent_span_id, s.trace_id, s.op, s.description,
                     s.status, s.start_ts, s.end_ts, s.project_id, s.is_segment, t.event_id,
                     t.name
                 FROM spans s LEFT JOIN transactions t ON t.id = s.transaction_id
                 WHERE {} ORDER BY {order} LIMIT {}",
                sql.where_clause(),
                limit + 1
            );
            let rows: Vec<(i64, SpanRow, f64)> = c
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
            let page = Page::build(rows, limit as usize, cursor, |(id, _, key)| (*key, *id));
            let link = page.link(&base);
            Ok((
                page.rows.into_iter().map(|(_, s, _)| s).collect::<Vec<_>>(),
                link,
            ))
        })
        .await?;
    Ok(Reply::json(&rows)?.with_header(hyper::header::LINK, link))
}
