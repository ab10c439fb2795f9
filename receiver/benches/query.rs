//! Query benchmark: 1,000,000 stored events in 1,000 issues, then p50/p99
//! of the issue list, an issue's events page and an event lookup, each
//! measured end to end through the HTTP API of a running receiver on that
//! database (loopback, a new connection per request, as a script would).
//!
//! `cargo bench -p receiver --bench query` (bounded: a fixed number of rows
//! and requests; `QUERY_BENCH_EVENTS` / `QUERY_BENCH_REQUESTS` override).
//!
//! The events are bulk-inserted directly through SQL in one transaction
//! with prepared statements and small payloads in the stored form (the schema,
//! indices and triggers are the receiver's own), so the setup takes seconds
//! rather than the hours ingestion over HTTP would.

use std::time::{Duration, Instant};

use receiver::config::StoreConfig;
use receiver::ingest::as_received;
use receiver::ingest::normalize::RequestContext;
use receiver::store::{compress, compress_explanation, compress_inputs, Store};
use receiver::testing::TestServer;
use rusqlite::{params, Connection};
use sentry_core::protocol::Timestamp;
use uuid::Uuid;

const ISSUES: usize = 1_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn event_id(i: usize) -> String {
    // Spread like random ids (the unique index sees random inserts).
    let h = (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17);
    format!("{h:016x}{i:016x}")
}

fn populate(path: &std::path::Path, events: usize) -> Result<(), Box<dyn std::error::Error>> {
    // Schema, migrations and the default project, exactly as the server.
    let (store, _) = Store::open(
        path,
        &StoreConfig {
            fsync_every_commit: false,
            ..StoreConfig::default()
        },
    )?;
    store.shutdown();
    drop(store);

    let mut conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;",
    )?;
    let base = sentry_core::protocol::Timestamp::now().as_secs_f64() - events as f64 * 0.5;
    let tx = conn.transaction()?;
    {
        let mut issue = tx.prepare(
            "INSERT INTO issues (id, project_id, title, culprit, level, first_seen, last_seen,
                 times_seen, user_count, status, substatus, first_release, last_release,
                 short_seq)
             VALUES (?1, 1, ?2, ?3, 'error', ?4, ?4, 0, 0, ?5, 'ongoing', 'app@1.0.0',
                 'app@1.9.0', ?1)",
        )?;
        // Explanations live in their own table since migration 3; both
        // they and a hash's inputs are stored compressed, as the receiver
        // stores them (migrations 28 and 29).
        let mut explanation =
            tx.prepare("INSERT INTO issue_grouping (issue_id, explanation) VALUES (?1, ?2)")?;
        let stored_explanation = compress_explanation(r#"{"config":"bench"}"#)?;
        let mut hash = tx.prepare(
            "INSERT INTO group_hashes (project_id, hash, issue_id, variant, component, inputs)
             VALUES (1, ?1, ?2, 'app', 'exception', ?3)",
        )?;
        for i in 1..=ISSUES {
            let status = if i % 10 == 0 {
                "resolved"
            } else {
                "unresolved"
            };
            issue.execute(params![
                i as i64,
                format!("BenchError: failure number {i} in module_{}", i % 37),
                format!("src/module_{}.rs in handler_{i}", i % 37),
                base,
                status
            ])?;
            let inputs: Vec<String> = (0..8)
                .map(|f| format!("app.module_{} handler_{i}_step_{f}", i % 37))
                .collect();
            hash.execute(params![
                format!("{i:032x}"),
                i as i64,
                compress_inputs(&inputs)?
            ])?;
            explanation.execute(params![i as i64, stored_explanation])?;
        }
    }
    // One compressed event per issue (small, realistic fields), stored as
    // ingestion stores it: as received, behind each event's own header
    // (`ingest::as_received`), so reading it back normalises it again.
    let payloads: Vec<Vec<u8>> = (1..=ISSUES)
        .map(|i| {
            let region = ["eu", "us", "ap"][i % 3];
            let json = serde_json::json!({
                "level": "error", "platform": "rust",
                "exception": {"values": [{"type": "BenchError",
                    "value": format!("failure number {i} in module_{}", i % 37),
                    "stacktrace": {"frames": [
                        {"function": "main", "filename": "src/main.rs", "lineno": 10, "in_app": true},
                        {"function": format!("handler_{i}"), "filename": format!("src/module_{}.rs", i % 37),
                         "lineno": 42, "in_app": true}]}}]},
                "tags": {"region": region, "shard": (i % 8).to_string()},
                "contexts": {"runtime": {"name": "rustc", "version": "1.80.0"}},
            });
            compress(json.to_string().as_bytes(), 1)
        })
        .collect::<Result<_, _>>()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO events (project_id, event_id, issue_id, kind, timestamp, received,
                 release, environment, level, title, platform, user_key, payload)
             VALUES (1, ?1, ?2, 'error', ?3, ?3, ?4, ?5, 'error', ?6, 'rust', ?7, ?8)",
        )?;
        let releases: Vec<String> = (0..10).map(|r| format!("app@1.{r}.0")).collect();
        let titles: Vec<String> = (1..=ISSUES)
            .map(|i| format!("BenchError: failure number {i} in module_{}", i % 37))
            .collect();
        let started = Instant::now();
        for n in 0..events {
            let issue = n % ISSUES;
            let ts = base + n as f64 * 0.5;
            insert.execute(params![
                event_id(n),
                (issue + 1) as i64,
                ts,
                releases[(n / ISSUES) % 10],
                if n % 4 == 0 { "staging" } else { "production" },
                titles[issue],
                format!("id:{}", n % 5000),
                as_received::encode(
                    as_received::Kind::Event,
                    &payloads[issue],
                    &RequestContext {
                        received: Timestamp::from_secs_f64(ts),
                        sent_at: None,
                        client_ip: None,
                    },
                    Uuid::parse_str(&event_id(n))?,
                )
            ])?;
            if n > 0 && n % 250_000 == 0 {
                eprintln!("  inserted {n} events ({:.1?})", started.elapsed());
            }
        }
    }
    tx.execute(
        "UPDATE issues SET times_seen = (SELECT COUNT(*) FROM events e WHERE e.issue_id = issues.id),
             last_seen = (SELECT MAX(timestamp) FROM events e WHERE e.issue_id = issues.id),
             user_count = 5, kind = 'error'",
        [],
    )?;
    // What the writer records beside each event (`store::apply`).
    tx.execute_batch(
        "INSERT OR IGNORE INTO issue_facets (issue_id, kind, value)
             SELECT DISTINCT issue_id, 'environment', environment FROM events;
         INSERT OR IGNORE INTO issue_facets (issue_id, kind, value)
             SELECT DISTINCT issue_id, 'release', release FROM events;",
    )?;
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")?;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn measure(
    server: &TestServer,
    name: &str,
    requests: usize,
    mut path: impl FnMut(usize) -> String,
) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    // Warm-up (connections, page cache).
    for i in 0..10 {
        let _ = server.api_get(&path(i))?;
    }
    let mut times = Vec::with_capacity(requests);
    for i in 0..requests {
        let p = path(i);
        let t = Instant::now();
        let r = server.api_get(&p)?;
        times.push(t.elapsed());
        if r.status != 200 {
            return Err(format!("{name}: GET {p} answered {}", r.status).into());
        }
    }
    times.sort();
    let (p50, p99) = (percentile(&times, 0.50), percentile(&times, 0.99));
    println!(
        "{name:<38} p50 {:>8.2} ms   p99 {:>8.2} ms   max {:>8.2} ms   ({requests} requests)",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    Ok((p50, p99))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; other harness flags are ignored.
    let events = env_usize("QUERY_BENCH_EVENTS", 1_000_000);
    let requests = env_usize("QUERY_BENCH_REQUESTS", 200);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.sqlite");
    let t = Instant::now();
    populate(&path, events)?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "populated {events} events in {ISSUES} issues in {:.1?} ({:.0} MiB)",
        t.elapsed(),
        size as f64 / 1048576.0
    );

    let server = TestServer::builder().db_path(&path).start();
    // Seeded: every run asks for the same events and issues.
    let mut rng = fastrand::Rng::with_seed(0x5EED_1234_ABCD_0001);
    let ids: Vec<String> = (0..requests + 10)
        .map(|_| event_id(rng.usize(..events)))
        .collect();
    let issues: Vec<usize> = (0..requests + 10)
        .map(|_| rng.usize(..ISSUES) + 1)
        .collect();

    println!("through the HTTP API (loopback, one connection per request):");
    let mut results = Vec::new();
    results.push(measure(
        &server,
        "issue list (100 per page)",
        requests,
        |_| "/api/0/projects/local/default/issues/?query=".to_owned(),
    )?);
    results.push(measure(
        &server,
        "issue events page (100 events)",
        requests,
        |i| format!("/api/0/issues/{}/events/", issues[i]),
    )?);
    results.push(measure(&server, "event lookup by id", requests, |i| {
        format!("/api/0/projects/local/default/events/{}/", ids[i])
    })?);
    println!("informational:");
    measure(
        &server,
        "issue list, filtered (env+level+text)",
        requests / 2,
        |_| {
            "/api/0/projects/local/default/issues/?query=is:unresolved+level:error+module_3\
             &environment=staging"
                .to_owned()
        },
    )?;
    let second_pages: Vec<String> = issues
        .iter()
        .take(requests / 2 + 10)
        .map(|issue| {
            let first = server.api_get(&format!("/api/0/issues/{issue}/events/"))?;
            let cursor = first
                .header("link")
                .and_then(|l| l.split("rel=\"next\"").nth(1))
                .and_then(|rest| rest.split("cursor=\"").nth(1))
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("")
                .to_owned();
            Ok(format!("/api/0/issues/{issue}/events/?cursor={cursor}"))
        })
        .collect::<Result<_, std::io::Error>>()?;
    measure(&server, "issue events page 2 (cursor)", requests / 2, |i| {
        second_pages[i].clone()
    })?;
    measure(
        &server,
        "issue detail (tags over 1,000 events)",
        requests / 4,
        |i| format!("/api/0/issues/{}/", issues[i]),
    )?;
    let worst = results.iter().map(|r| r.1).max().unwrap_or_default();
    println!(
        "worst p99 of the three: {:.2} ms ({})",
        worst.as_secs_f64() * 1e3,
        if worst < Duration::from_millis(50) {
            "under the 50 ms target"
        } else {
            "OVER the 50 ms target"
        }
    );
    drop(server);
    Ok(())
}
