//! Transactions written straight into a test server's database, as many as
//! any client with the DSN could send
//! (`#[path = "support/transactions.rs"] mod transactions_support;`).

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

/// How transaction `i` of a series looks: its name, op and length in
/// seconds.
pub struct Shape {
    pub name: String,
    pub op: &'static str,
    pub length: f64,
}

/// Writes `count` transactions of project 1 under `trace`, transaction `i`
/// starting at second `i` from the epoch with event id `i` (32 hex
/// digits); `shape(i)` gives its name, op and length.
pub fn write_transaction_series(db: &Path, trace: &str, count: u32, shape: impl Fn(u32) -> Shape) {
    let mut conn = rusqlite::Connection::open(db).expect("open");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");
    let tx = conn.transaction().expect("begin");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO transactions (project_id, event_id, trace_id, span_id, name, op,
                     status, start_ts, end_ts, received, payload)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, 'ok', ?6, ?6 + ?7, ?6, x'7b7d')",
            )
            .expect("prepare");
        for i in 0..count {
            let Shape { name, op, length } = shape(i);
            insert
                .execute(rusqlite::params![
                    format!("{i:032x}"),
                    trace,
                    format!("{i:016x}"),
                    name,
                    op,
                    f64::from(i),
                    length
                ])
                .expect("transaction");
        }
    }
    tx.commit().expect("commit");
}

/// The `i` of a transaction `write_transaction_series` wrote, from its
/// event id.
pub fn series_index(event_id: &str) -> u32 {
    u32::from_str_radix(event_id, 16)
        .unwrap_or_else(|_| panic!("not a transaction of the series: {event_id}"))
}
