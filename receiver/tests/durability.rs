//! Nothing acknowledged is lost: events are sent under load to the real
//! `receiver` binary, the process is killed with SIGKILL mid-stream, and
//! after a restart on the same database every event that got a 200 is there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use receiver::testing::{post, request};

#[path = "support/binary.rs"]
mod binary;
use binary::{envelope_endpoint, parse_dsn, spawn};

fn envelope(event_id: &str, n: usize) -> Vec<u8> {
    format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\"}}\n\
         {{\"message\":\"load event {n}\",\"level\":\"error\",\"exception\":{{\"values\":[{{\"type\":\"LoadError\",\"value\":\"n={n}\"}}]}}}}\n"
    )
    .into_bytes()
}

#[test]
fn every_acknowledged_event_survives_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("receiver.sqlite");
    let (mut child, dsn) = spawn(&db);
    let (_, _, project) = parse_dsn(&dsn);
    let (url, auth) = envelope_endpoint(&dsn);

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (acked, stop, url, auth) = (acked.clone(), stop.clone(), url.clone(), auth.clone());
            std::thread::spawn(move || {
                for n in 0..5_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    // Never the nil id (client 0, event 0): that one is
                    // replaced by a fresh id when stored.
                    let id = format!("{:08x}{n:024x}", c + 1);
                    match post(&url, &[("X-Sentry-Auth", auth.as_str())], &envelope(&id, n)) {
                        Ok(r) if r.status == 200 => acked.lock().expect("lock").push(id),
                        Ok(r) => panic!("unexpected status {}", r.status),
                        Err(_) => break, // the server is gone
                    }
                }
            })
        })
        .collect();

    // Let a few hundred events through, then kill mid-stream.
    let started = Instant::now();
    while acked.lock().expect("lock").len() < 300 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    let _ = child.wait();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 50,
        "too few events acknowledged: {}",
        acked.len()
    );

    // Restart on the same database: same project and key, and all data there.
    let (mut child, dsn_again) = spawn(&db);
    assert_eq!(
        dsn_again.split('@').next(),
        dsn.split('@').next(),
        "same key after restart"
    );
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db");
    let mut stmt = conn
        .prepare("SELECT 1 FROM events WHERE project_id = ?1 AND event_id = ?2")
        .expect("prepare");
    let missing: Vec<&String> = acked
        .iter()
        .filter(|id| {
            !stmt
                .exists(rusqlite::params![project.parse::<i64>().unwrap_or(1), id])
                .unwrap_or(false)
        })
        .collect();
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged events are missing, e.g. {:?}",
        missing.len(),
        acked.len(),
        missing.first()
    );
    let issues: i64 = conn
        .query_row("SELECT COUNT(*) FROM issues", [], |r| r.get(0))
        .expect("issues");
    assert!(issues >= 1);
}

#[test]
fn concurrent_requests_share_commits() {
    // No dictionary: its training would add a writer job of its own once
    // 300 events are in, and this test counts the writer's jobs.
    let server = receiver::testing::TestServer::builder()
        .configure(|c| c.store.dictionary_samples = 0)
        .start();
    let url = server.envelope_url();
    let auth = server.sentry_auth();
    let health = |server: &receiver::testing::TestServer| {
        let r = request("GET", &format!("{}//health/", server.url()), &[], b"").expect("health");
        assert_eq!(r.status, 200);
        // Traffic volume and timing: not for other origins' pages.
        assert_eq!(r.header("access-control-allow-origin"), None);
        r.json()
    };
    let before = server.writer_counts();
    let health_before = health(&server);
    std::thread::scope(|s| {
        for c in 0..16 {
            let (url, auth) = (&url, &auth);
            s.spawn(move || {
                for n in 0..20 {
                    let id = format!("{c:08x}{n:024x}");
                    let r = post(url, &[("X-Sentry-Auth", auth.as_str())], &envelope(&id, n))
                        .expect("post");
                    assert_eq!(r.status, 200);
                }
            });
        }
    });
    assert_eq!(server.events().len(), 320);
    let after = server.writer_counts();
    let (batches, jobs) = (after.commits - before.commits, after.jobs - before.jobs);
    assert_eq!(jobs, 320);
    assert!(
        after.busy > before.busy,
        "the writer's busy time did not grow"
    );

    // `/health` tells the same story: 320 more stored requests, each with
    // time spent preparing and waiting for its commit, and the writer's
    // counts (nothing else wrote in between).
    let health = health(&server);
    let grew = |path: &[&str]| {
        let at = |v: &serde_json::Value| {
            path.iter()
                .fold(v, |v, k| &v[k])
                .as_u64()
                .unwrap_or_else(|| panic!("{path:?} in {v}"))
        };
        at(&health) - at(&health_before)
    };
    assert_eq!(health["status"], "ok");
    assert_eq!(grew(&["ingest", "requests"]), 320);
    assert!(grew(&["ingest", "preparing_micros"]) > 0, "{health}");
    assert!(
        grew(&["ingest", "waiting_for_commit_micros"]) > 0,
        "{health}"
    );
    assert_eq!(grew(&["writer", "jobs"]), 320);
    assert_eq!(grew(&["writer", "commits"]), batches);
    assert!(grew(&["writer", "busy_micros"]) > 0, "{health}");
    assert_eq!(health["ingest"]["left_while_queued"], 0);
    eprintln!("group commit: {batches} transactions for {jobs} requests");
    assert!(
        batches < jobs,
        "no group commit: {batches} batches for {jobs} jobs"
    );
}
