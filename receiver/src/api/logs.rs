//! `GET /api/0/local/logs/`: the structured log lines SDKs send in `log`
//! items (PROTOCOL.md §A.2), most recently received first (the lines of one
//! item from its last to its first).
//!
//! A `log` item is stored whole (one row holds every line the SDK batched),
//! so this reads rows newest first, decompresses them and filters their
//! lines: `project`, `level` (repeatable), `query` (a case-insensitive
//! substring of the body), `trace` (a trace id), `release`, `environment`
//! (the `sentry.release` / `sentry.environment` attributes), the time range
//! (`statsPeriod` or `start` / `end`, on the line's timestamp), `limit`
//! (1–1000, default 100) and `cursor`. One request reads at most
//! [`MAX_ROWS_READ`] rows and [`container_scan::MAX_BYTES_READ`] bytes (stored and
//! decompressed), one row at a time, passing over unread the rows whose
//! lines are all outside the time range or of other traces (what
//! ingestion stored of them): when a budget ends it before the page is
//! full, the page is shorter and the cursor says where to go on.

use super::container_scan::{self, CommonFilter, Entry, Position, Table};
use super::params::iso;
use super::projects;
use super::types::{LogEntry, LogsPage};
use super::{ApiError, Ctx, Reply};

/// Most `log` rows one request decompresses.
pub(crate) const MAX_ROWS_READ: usize = container_scan::MAX_ROWS_READ;

/// The filters of one request.
#[derive(Debug, Clone)]
struct Filter {
    levels: Vec<String>,
    query: Option<String>,
    common: CommonFilter,
}

impl Filter {
    fn keeps(&self, e: &LogEntry, ts: Option<f64>) -> bool {
        let level_ok = self.levels.is_empty()
            || e.level.as_deref().is_some_and(|l| {
                let l = if l.eq_ignore_ascii_case("warning") {
                    "warn"
                } else {
                    l
                };
                self.levels.iter().any(|w| w.eq_ignore_ascii_case(l))
            });
        let query_ok = self.query.as_ref().map_or(true, |q| {
            e.body
                .as_deref()
                .is_some_and(|b| b.to_lowercase().contains(q))
        });
        level_ok
            && query_ok
            && self
                .common
                .keeps(&e.trace_id, &e.release, &e.environment, ts)
    }
}

/// The severities of log lines (Sentry's, and `default`, which
/// sentry-python sends for a record below its lowest mapped level);
/// `warning` is taken for `warn`, as the issue filters take `warn` for
/// `warning`.
const LOG_LEVELS: [&str; 7] = [
    "trace", "debug", "info", "warn", "error", "fatal", "default",
];

/// `GET /api/0/local/logs/`.
pub(crate) async fn list(ctx: &Ctx) -> Result<Reply, ApiError> {
    let q = &ctx.query;
    let limit = q.limit(100, 1000)? as usize;
    let start = q.get_nonempty("cursor").map(Position::parse).transpose()?;
    let filter = Filter {
        levels: super::params::known_values(
            q.all("level"),
            "level",
            &LOG_LEVELS,
            &[("warning", "warn")],
        )?,
        query: q.get_nonempty("query").map(str::to_lowercase),
        common: CommonFilter::from_query(q, ctx.now())?,
    };
    let keys = q.all("project");
    let page = ctx
        .read(move |c| {
            let mut filter = filter;
            filter.common.resolve(c)?;
            let projects = projects::filter_ids(c, &keys)?;
            scan(c, projects, start, &filter, limit)
        })
        .await?;
    Reply::json(&page)
}

fn scan(
    c: &rusqlite::Connection,
    projects: Option<Vec<i64>>,
    start: Option<Position>,
    filter: &Filter,
    limit: usize,
) -> Result<LogsPage, ApiError> {
    let page = container_scan::scan(
        c,
        Table::Logs,
        projects.as_deref(),
        &filter.common,
        start,
        limit,
        |e| {
            let (entry, ts) = entry(e);
            filter.keeps(&entry, ts).then_some(entry)
        },
    )?;
    Ok(LogsPage {
        logs: page.entries,
        cursor: page.cursor,
    })
}

/// One line as the API shows it, and its timestamp in seconds.
fn entry(e: &Entry<'_>) -> (LogEntry, Option<f64>) {
    let c = e.common();
    let entry = LogEntry {
        id: c.id,
        project_id: c.project_id,
        timestamp: c.ts.map(iso),
        level: e.text("level"),
        body: e.text("body"),
        trace_id: c.trace_id,
        span_id: c.span_id,
        release: c.release,
        environment: c.environment,
        attributes: c.attributes,
    };
    (entry, c.ts)
}
