//! Reading the entries of stored containers (`log` and `trace_metric`
//! items: one row holds every entry an SDK batched) newest first, with a
//! bounded amount of work per request.
//!
//! Rows are read newest first, decompressed one at a time, and their
//! entries from the last to the first (the order SDKs batch them in). A
//! row whose stored summary (`store::container_entries`) shows that none
//! of its entries is in the asked time range or trace is passed over
//! without being read. One request reads at most [`MAX_ROWS_READ`] rows
//! and [`MAX_BYTES_READ`] bytes (stored and decompressed), and looks at
//! most at [`MAX_ROWS_EXAMINED`] rows: when that ends it before the page
//! is full, the page is shorter and its cursor says where to go on. A cursor
//! is `ROW:INDEX` (the next entry to look at is `INDEX` of row `ROW`, going
//! down) or `ROW:-` (nothing left in `ROW`: the rows below it).

use serde_json::{Map, Value};

use super::params::{Range, Sql};
use super::ApiError;
use crate::store::container_entries::{
    self, corrected_timestamp, entry_fields, items_of, Sieve, Summary, SUMMARY_FORMAT,
};

/// Most rows one request decompresses.
pub(crate) const MAX_ROWS_READ: usize = 2_000;

/// Most bytes (stored and decompressed) one request reads.
pub(crate) const MAX_BYTES_READ: usize = 64 << 20;

/// Most rows one request looks at, read or passed over by their summary
/// (`store::container_entries`, a table of its own: passing over a row
/// reads none of its payload).
pub(crate) const MAX_ROWS_EXAMINED: usize = 50_000;

/// Rows fetched per query while scanning.
const ROWS_PER_QUERY: usize = 64;

/// Rows fetched per query while the filter can pass over rows unread.
const SIEVING_ROWS_PER_QUERY: usize = 256;

/// A table of containers (the only names that reach SQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// `log` items.
    Logs,
    /// `trace_metric` items.
    TraceMetrics,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Logs => "logs",
            Table::TraceMetrics => "trace_metrics",
        }
    }

    /// The table of its rows' summaries (`store::container_entries`).
    fn summaries(self) -> &'static str {
        match self {
            Table::Logs => "log_summaries",
            Table::TraceMetrics => "trace_metric_summaries",
        }
    }
}

/// Where a page starts: the row, and the index of the first entry to look
/// at in it going down (`None`: every entry of that row).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position {
    row: i64,
    index: Option<usize>,
}

impl Position {
    /// From `cursor=ROW:INDEX` (`INDEX` `-` for the rows below `ROW`).
    pub(crate) fn parse(s: &str) -> Result<Position, ApiError> {
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

/// One entry of a container: where it is and its fields.
pub(crate) struct Entry<'a> {
    /// The container's row.
    pub row: i64,
    /// The project it was sent to.
    pub project: i64,
    /// Its index in the container's `items`.
    pub index: usize,
    /// The entry (entries that are not objects are skipped).
    pub fields: &'a Map<String, Value>,
    /// The row's clock-drift correction of entry times (0: none).
    pub clock_shift: f64,
}

impl Entry<'_> {
    /// A string field of the entry.
    pub(crate) fn text(&self, key: &str) -> Option<String> {
        self.fields
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// What every kind of entry shows the same way.
    pub(crate) fn common(&self) -> Common {
        let attributes = attributes(self.fields);
        let attr = |key: &str| {
            attributes
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        // The span: `span_id`, as the Python SDK sends it, else the
        // `sentry.trace.parent_span_id` attribute the JavaScript, PHP, .NET
        // and Cocoa SDKs send.
        let hex = |s: String| crate::ids::hex_id(&s, 16);
        let span_id = self
            .text("span_id")
            .and_then(hex)
            .or_else(|| attr("sentry.trace.parent_span_id").and_then(hex));
        Common {
            id: format!("{}:{}", self.row, self.index),
            project_id: self.project.to_string(),
            ts: corrected_timestamp(self.fields, self.clock_shift),
            trace_id: container_entries::trace_id(self.fields),
            span_id,
            release: attr("sentry.release"),
            environment: attr("sentry.environment"),
            attributes,
        }
    }
}

/// The fields every kind of entry (a log line, a metric sample) has, as
/// the API shows them.
pub(crate) struct Common {
    /// `{row}:{index}`.
    pub id: String,
    pub project_id: String,
    /// Its timestamp in seconds, corrected for the client's clock drift
    /// (see [`corrected_timestamp`]).
    pub ts: Option<f64>,
    pub trace_id: Option<String>,
    /// The span it belongs to (16 hex digits).
    pub span_id: Option<String>,
    /// The `sentry.release` and `sentry.environment` attributes.
    pub release: Option<String>,
    pub environment: Option<String>,
    /// Every attribute without its type wrapper (see [`attributes`]).
    pub attributes: Map<String, Value>,
}

/// The filters every list of entries takes: `trace`, `release`,
/// `environment` and the time range on the entry's timestamp.
#[derive(Debug, Clone)]
pub(crate) struct CommonFilter {
    trace: Option<String>,
    releases: Vec<String>,
    environments: Vec<String>,
    range: Range,
}

impl CommonFilter {
    pub(crate) fn from_query(q: &super::Query, now: f64) -> Result<CommonFilter, ApiError> {
        Ok(CommonFilter {
            trace: super::local::trace_filter(q)?,
            releases: q.values("release"),
            environments: q.values("environment"),
            range: Range::from_query(q, now)?,
        })
    }

    /// Makes a trace given by its first digits whole (see
    /// `local::whole_trace`); call before scanning.
    pub(crate) fn resolve(&mut self, c: &rusqlite::Connection) -> Result<(), ApiError> {
        super::local::whole_trace(c, &mut self.trace)
    }

    /// The part of the filter a row's summary can answer.
    fn sieve(&self) -> Sieve {
        Sieve {
            start: self.range.start,
            end: self.range.end,
            trace: self.trace.clone(),
        }
    }

    /// Whether an entry with these fields passes (one without a timestamp
    /// only when no time range is asked for).
    pub(crate) fn keeps(
        &self,
        trace_id: &Option<String>,
        release: &Option<String>,
        environment: &Option<String>,
        ts: Option<f64>,
    ) -> bool {
        let time_ok = match ts {
            Some(t) => {
                self.range.start.map_or(true, |s| t >= s) && self.range.end.map_or(true, |e| t <= e)
            }
            None => self.range.start.is_none() && self.range.end.is_none(),
        };
        time_ok
            && (self.trace.is_none() || *trace_id == self.trace)
            && one_of(&self.releases, release)
            && one_of(&self.environments, environment)
    }
}

/// Whether `v` is one of `values` (any value when there are none).
pub(crate) fn one_of(values: &[String], v: &Option<String>) -> bool {
    values.is_empty() || v.as_ref().is_some_and(|v| values.contains(v))
}

/// A page of entries and the cursor to the older ones (`None`: none left).
pub(crate) struct Scanned<T> {
    pub entries: Vec<T>,
    pub cursor: Option<String>,
}

/// A row as listed before its payload is read: id, project, payload size,
/// clock-drift correction, and summary (`None`: unknown, read the row).
type RowHead = (i64, i64, i64, Option<f64>, Option<Summary>);

/// Reads `table`'s rows of `projects` (all when `None`) newest first from
/// `start`, giving each entry to `keep`, until `limit` entries are kept or
/// the budget is spent. A row whose summary shows that none of its entries
/// passes `common` (the filter `keep` applies with its own) is passed over
/// unread.
pub(crate) fn scan<T>(
    c: &rusqlite::Connection,
    table: Table,
    projects: Option<&[i64]>,
    common: &CommonFilter,
    start: Option<Position>,
    limit: usize,
    mut keep: impl FnMut(&Entry<'_>) -> Option<T>,
) -> Result<Scanned<T>, ApiError> {
    let mut entries = Vec::new();
    let mut below = start.map_or(i64::MAX, |p| p.row.saturating_add(1));
    let (mut rows_read, mut rows_examined, mut bytes_read) = (0usize, 0usize, 0usize);
    let (name, summaries) = (table.name(), table.summaries());
    let sieve = common.sieve();
    let sieving = sieve.sieves();
    loop {
        // Ids, sizes and summaries first: a payload is read only when its
        // summary does not rule it out and the budget allows it, one at a
        // time.
        let mut sql = Sql::default();
        if let Some(ids) = projects {
            let cond = sql.in_list("c.project_id", ids.iter().copied());
            sql.cond(cond);
        }
        let p = sql.bind(below);
        sql.cond(format!("c.id < {p}"));
        // Summaries only when they can rule a row out; `length(payload)`
        // reads none of the payload's overflow pages.
        let query = if sieving {
            format!(
                "SELECT c.id, c.project_id, length(c.payload), c.clock_shift,
                     s.entries_from, s.entries_to, s.entry_traces
                 FROM {name} c
                 LEFT JOIN {summaries} s ON s.id = c.id AND s.format = {SUMMARY_FORMAT}
                 WHERE {} ORDER BY c.id DESC LIMIT {SIEVING_ROWS_PER_QUERY}",
                sql.where_clause(),
            )
        } else {
            format!(
                "SELECT c.id, c.project_id, length(c.payload), c.clock_shift, NULL, NULL, NULL
                 FROM {name} c WHERE {} ORDER BY c.id DESC LIMIT {ROWS_PER_QUERY}",
                sql.where_clause(),
            )
        };
        let rows: Vec<RowHead> = c
            .prepare(&query)?
            .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
                let summary = Summary::from_columns(r.get(4)?, r.get(5)?, r.get(6)?);
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, summary))
            })?
            .collect::<Result<_, _>>()?;
        if rows.is_empty() {
            return Ok(Scanned {
                entries,
                cursor: None,
            });
        }
        for (row, project, size, clock_shift, summary) in rows {
            if rows_read >= MAX_ROWS_READ
                || rows_examined >= MAX_ROWS_EXAMINED
                || bytes_read >= MAX_BYTES_READ
            {
                // Go on from this row next time.
                return Ok(Scanned {
                    entries,
                    cursor: Some(format!("{row}:{}", u32::MAX)),
                });
            }
            rows_examined += 1;
            below = row;
            if summary.is_some_and(|s| !sieve.may_hold(&s)) {
                continue;
            }
            rows_read += 1;
            bytes_read = bytes_read.saturating_add(usize::try_from(size).unwrap_or(0));
            let blob: Vec<u8> = c
                .prepare_cached(&format!("SELECT payload FROM {name} WHERE id = ?1"))?
                .query_row([row], |r| r.get(0))?;
            // A row that cannot be read has no entries to show.
            let Ok(bytes) = crate::store::decompress(&blob) else {
                continue;
            };
            drop(blob);
            bytes_read = bytes_read.saturating_add(bytes.len());
            let items = items_of(&bytes);
            // The cursor's row goes on below its index (if the row is
            // still there); every other row is read whole.
            let top = match start {
                Some(Position {
                    row: r,
                    index: Some(i),
                }) if r == row => i,
                _ => usize::MAX,
            };
            for (index, item) in items.iter().enumerate().rev() {
                if index > top {
                    continue;
                }
                let Some(fields) = entry_fields(item) else {
                    continue;
                };
                let entry = Entry {
                    row,
                    project,
                    index,
                    fields: &fields,
                    clock_shift: clock_shift.unwrap_or(0.0),
                };
                if let Some(kept) = keep(&entry) {
                    entries.push(kept);
                    if entries.len() == limit {
                        return Ok(Scanned {
                            entries,
                            cursor: Some(Position::cursor(row, index)),
                        });
                    }
                }
            }
        }
    }
}

/// An entry's attributes, each value without its type wrapper
/// (`{"type": "string", "value": "x"}` is `"x"`).
pub(crate) fn attributes(fields: &Map<String, Value>) -> Map<String, Value> {
    match fields.get("attributes") {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::container_entries::timestamp;

    #[test]
    fn cursors_parse_and_refuse() {
        let p = Position::parse("12:3").expect("cursor");
        assert_eq!((p.row, p.index), (12, Some(3)));
        let p = Position::parse("12:-").expect("cursor");
        assert_eq!((p.row, p.index), (11, None));
        for bad in ["", "12", "x:1", "-1:0", "1:y"] {
            assert!(Position::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Position::cursor(5, 0), "5:-");
        assert_eq!(Position::cursor(5, 2), "5:1");
    }

    #[test]
    fn timestamps_and_attributes_read_as_sdks_write_them() {
        let fields = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(
            timestamp(&fields(serde_json::json!({"timestamp": 1.5}))),
            Some(1.5)
        );
        assert_eq!(
            timestamp(&fields(serde_json::json!({"timestamp": "2"}))),
            Some(2.0)
        );
        assert_eq!(
            timestamp(&fields(serde_json::json!({"timestamp": -1}))),
            None
        );
        let attrs = attributes(&fields(serde_json::json!({"attributes": {
            "a": {"type": "string", "value": "x"}, "b": 3, "c": {"type": "integer"}}})));
        assert_eq!(
            Value::Object(attrs),
            serde_json::json!({"a": "x", "b": 3, "c": null})
        );
    }
}
