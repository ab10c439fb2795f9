//! Spans written straight into a test server's database, as many as any
//! client with the DSN could send under one trace id
//! (`#[path = "support/spans.rs"] mod spans_support;`).

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

/// Writes `count` spans of `trace` (project 1), one a second from the
/// epoch, each a millisecond long.
pub fn write_spans(db: &Path, trace: &str, count: u32) {
    write_span_series(db, trace, count, |_| ("db", 0.001));
}

/// Writes `count` spans of `trace` (project 1), span `i` starting at
/// second `i` from the epoch and described `span i`; `shape(i)` gives its
/// op and its length in seconds.
pub fn write_span_series(
    db: &Path,
    trace: &str,
    count: u32,
    shape: impl Fn(u32) -> (&'static str, f64),
) {
    let mut conn = rusqlite::Connection::open(db).expect("open");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");
    let tx = conn.transaction().expect("begin");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO spans (project_id, trace_id, span_id, op, description, start_ts,
                     end_ts)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?5 + ?6)",
            )
            .expect("prepare");
        for i in 0..count {
            let (op, length) = shape(i);
            insert
                .execute(rusqlite::params![
                    trace,
                    format!("{i:016x}"),
                    op,
                    format!("span {i}"),
                    f64::from(i),
                    length
                ])
                .expect("span");
        }
    }
    tx.commit().expect("commit");
}

/// The `i` of the spans `write_span_series` described `span i`.
pub fn series_index(description: Option<&str>) -> u32 {
    description
        .and_then(|d| d.strip_prefix("span "))
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("not a span of the series: {description:?}"))
}
