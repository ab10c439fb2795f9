//! Spans written straight into a test server's database, as many as any
//! client with the DSN could send under one trace id
//! (`#[path = "support/spans.rs"] mod spans_support;`).

use std::path::Path;
use std::time::Duration;

/// Writes `count` spans of `trace` (project 1), one a second from the
/// epoch, each a millisecond long.
pub fn write_spans(db: &Path, trace: &str, count: u32) {
    let mut conn = rusqlite::Connection::open(db).expect("open");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");
    let tx = conn.transaction().expect("begin");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO spans (project_id, trace_id, span_id, op, start_ts, end_ts)
                 VALUES (1, ?1, ?2, 'db', ?3, ?3 + 0.001)",
            )
            .expect("prepare");
        for i in 0..count {
            insert
                .execute(rusqlite::params![trace, format!("{i:016x}"), f64::from(i)])
                .expect("span");
        }
    }
    tx.commit().expect("commit");
}
