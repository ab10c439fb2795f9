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
//! [`MAX_ROWS_READ`] rows and [`MAX_BYTES_READ`] bytes (stored and
//! decompressed), one row at a time: when that ends it before the page is
//! full, the page is shorter and the cursor says where to go on.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::params::{hex_id, iso, Range, Sql};
use super::projects;
use super::types::{LogEntry, LogsPage};
use super::{ApiError, Ctx, Reply};

/// Most `log` rows one request decompresses.
pub(crate) const MAX_ROWS_READ: usize = 2_000;

/// Most bytes (stored and decompressed) one request reads.
pub(crate) const MAX_BYTES_READ: usize = 64 << 20;

/// Rows fetched per query while scanning.
const ROWS_PER_QUERY: usize = 64;

/// Where a page starts: the row, and the index of the first line to look
/// at in it going down (`None`: every line of that row).
#[derive(Debug, Clone, Copy)]
struct Position {
    row: i64,
    index: Option<usize>,
}

impl Position {
    /// From `cursor=ROW:INDEX` (`INDEX` `-` for the rows below `ROW`).
    fn parse(s: &str) -> Result<Position, ApiError> {
        let bad = || {
            ApiError::BadRequest(format!(
                "invalid cursor {s:?}: expected the cursor of a previous page"
            ))
        };
        let (row, index) = s.split_once(':').ok_or_else(bad)?;
        let row: i64 = row.parse().ok().filter(|r| *r >= 0).ok_or_else(bad)?;
        let index = match index {
            "-" => Some(None),
            i => i.parse::<usize>().ok().map(Some),
        }
        .ok_or_else(bad)?;
        Ok(match index {
            Some(i) => Position {
                row,
                index: Some(i),
            },
            // Nothing left in `row`: start below it.
            None => Position {
                row: row.checked_sub(1).ok_or_else(bad)?,
                index: None,
            },
        })
    }

    fn cursor(row: i64, index: usize) -> String {
        match index.checked_sub(1) {
            Some(i) => format!("{row}:{i}"),
            None => format!("{row}:-"),
        }
    }
}

/// The filters of one request.
#[derive(Debug, Clone)]
struct Filter {
    levels: Vec<String>,
    query: Option<String>,
    trace: Option<String>,
    releases: Vec<String>,
    environments: Vec<String>,
    range: Range,
}

impl Filter {
    fn keeps(&self, e: &LogEntry, ts: Option<f64>) -> bool {
        let one_of = |values: &[String], v: &Option<String>| {
            values.is_empty() || v.as_ref().is_some_and(|v| values.contains(v))
        };
        let level_ok = self.levels.is_empty()
            || e.level
                .as_deref()
                .is_some_and(|l| self.levels.iter().any(|w| w.eq_ignore_ascii_case(l)));
        let query_ok = self.query.as_ref().map_or(true, |q| {
            e.body
                .as_deref()
                .is_some_and(|b| b.to_lowercase().contains(q))
        });
        let time_ok = match ts {
            Some(t) => {
                self.range.start.map_or(true, |s| t >= s) && self.range.end.map_or(true, |e| t <= e)
            }
            None => self.range.start.is_none() && self.range.end.is_none(),
        };
        level_ok
            && query_ok
            && time_ok
            && (self.trace.is_none() || e.trace_id == self.trace)
            && one_of(&self.releases, &e.release)
            && one_of(&self.environments, &e.environment)
    }
}

/// `GET /api/0/local/logs/`.
pub(crate) async fn list(ctx: &Ctx) -> Result<Reply, ApiError> {
    let q = &ctx.query;
    let limit = q.limit(100, 1000)? as usize;
    let start = q.get_nonempty("cursor").map(Position::parse).transpose()?;
    let trace = match q.get_nonempty("trace") {
        Some(t) => Some(hex_id(t, 32).ok_or_else(|| {
            ApiError::BadRequest(format!("invalid trace {t:?}: expected 32 hex digits"))
        })?),
        None => None,
    };
    let filter = Filter {
        levels: q.all("level"),
        query: q.get_nonempty("query").map(str::to_lowercase),
        trace,
        releases: q.values("release"),
        environments: q.values("environment"),
        range: Range::from_query(q, ctx.now())?,
    };
    let keys = q.all("project");
    let page = ctx
        .read(move |c| {
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
    let mut logs = Vec::new();
    let mut below = start.map_or(i64::MAX, |p| p.row.saturating_add(1));
    let (mut rows_read, mut bytes_read) = (0usize, 0usize);
    loop {
        // Ids and sizes first: a payload is read only when the budget
        // allows it, one at a time.
        let mut sql = Sql::default();
        if let Some(ids) = &projects {
            let cond = sql.in_list("project_id", ids.iter().copied());
            sql.cond(cond);
        }
        let p = sql.bind(below);
        sql.cond(format!("id < {p}"));
        let query = format!(
            "SELECT id, project_id, length(payload) FROM logs WHERE {} ORDER BY id DESC LIMIT {}",
            sql.where_clause(),
            ROWS_PER_QUERY
        );
        let rows: Vec<(i64, i64, i64)> = c
            .prepare(&query)?
            .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        if rows.is_empty() {
            return Ok(LogsPage { logs, cursor: None });
        }
        for (row, project, size) in rows {
            if rows_read >= MAX_ROWS_READ || bytes_read >= MAX_BYTES_READ {
                // Go on from this row next time.
                return Ok(LogsPage {
                    logs,
                    cursor: Some(format!("{row}:{}", u32::MAX)),
                });
            }
            rows_read += 1;
            below = row;
            bytes_read = bytes_read.saturating_add(usize::try_from(size).unwrap_or(0));
            let blob: Vec<u8> = c
                .prepare_cached("SELECT payload FROM logs WHERE id = ?1")?
                .query_row([row], |r| r.get(0))?;
            // A row that cannot be read has no lines to show.
            let Ok(bytes) = crate::store::decompress(&blob) else {
                continue;
            };
            drop(blob);
            bytes_read = bytes_read.saturating_add(bytes.len());
            let lines = lines_of(&bytes);
            // The cursor's row goes on below its index (if the row is
            // still there); every other row is read whole.
            let top = match start {
                Some(Position {
                    row: r,
                    index: Some(i),
                }) if r == row => i,
                _ => usize::MAX,
            };
            for (index, line) in lines.iter().enumerate().rev() {
                if index > top {
                    continue;
                }
                // A line that is not an object (or not JSON a `Value` can
                // hold) is skipped, not its whole container.
                let Ok(line) = serde_json::from_str::<Map<String, Value>>(line.get()) else {
                    continue;
                };
                let (entry, ts) = entry(row, project, index, &line);
                if filter.keeps(&entry, ts) {
                    logs.push(entry);
                    if logs.len() == limit {
                        return Ok(LogsPage {
                            logs,
                            cursor: Some(Position::cursor(row, index)),
                        });
                    }
                }
            }
        }
    }
}

/// The lines of a `log` container (`{"items": [...]}`), unparsed: each is
/// read only when a page gets to it. None when the container is not JSON
/// or `items` is not a list.
fn lines_of(bytes: &[u8]) -> Vec<&RawValue> {
    #[derive(serde::Deserialize)]
    struct Container<'a> {
        #[serde(borrow, default)]
        items: Vec<&'a RawValue>,
    }
    serde_json::from_slice::<Container<'_>>(bytes)
        .map(|c| c.items)
        .unwrap_or_default()
}

/// One line as the API shows it, and its timestamp in seconds.
fn entry(
    row: i64,
    project: i64,
    index: usize,
    line: &Map<String, Value>,
) -> (LogEntry, Option<f64>) {
    let text = |key: &str| line.get(key).and_then(Value::as_str).map(str::to_owned);
    // Seconds, as SDKs send them, or a string of seconds or RFC 3339.
    let ts = match line.get("timestamp") {
        Some(Value::String(s)) => s.trim().parse::<f64>().ok().or_else(|| {
            sentry_core::protocol::Timestamp::parse_rfc3339(s).map(|t| t.as_secs_f64())
        }),
        Some(v) => v.as_f64(),
        None => None,
    }
    .filter(|t| t.is_finite() && *t >= 0.0);
    let attributes: Map<String, Value> = match line.get("attributes") {
        Some(Value::Object(attrs)) => attrs
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::Object(typed) => typed.get("value").cloned().unwrap_or(Value::Null),
                    other => other.clone(),
                };
                (k.clone(), value)
            })
            .collect(),
        _ => Map::new(),
    };
    let attr = |key: &str| {
        attributes
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let entry = LogEntry {
        id: format!("{row}:{index}"),
        project_id: project.to_string(),
        timestamp: ts.map(iso),
        level: text("level"),
        body: text("body"),
        trace_id: text("trace_id").and_then(|t| hex_id(&t, 32)),
        release: attr("sentry.release"),
        environment: attr("sentry.environment"),
        attributes,
    };
    (entry, ts)
}
