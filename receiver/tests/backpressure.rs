//! When the store cannot keep up (here: another process holds the
//! database's write lock), requests wait for room in the writer's queue for
//! `queue_wait` and then get a 503, which SDKs treat as "try later". What
//! was answered 200 is stored once the lock goes; what was answered 503 is
//! not. A request a quota refuses entirely is still answered 429: its
//! outcome rows are statistics, not a reason to turn the answer into a 503.

use std::thread;
use std::time::{Duration, Instant};

use receiver::store::quotas::NewQuota;
use receiver::testing::{post, TestResponse, TestServer};

/// How long a request waits for room in the writer's queue.
const QUEUE_WAIT: Duration = Duration::from_secs(1);

fn send(server: &TestServer, body: &str) -> TestResponse {
    send_to(&server.envelope_url(), &server.sentry_auth(), body)
}

fn send_to(url: &str, auth: &str, body: &str) -> TestResponse {
    post(url, &[("X-Sentry-Auth", auth)], body.as_bytes()).expect("request")
}

fn event(n: u32) -> String {
    format!(
        "{{\"event_id\":\"{n:032x}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"event {n}\"}}\n"
    )
}

fn transaction(n: u32) -> String {
    format!(
        "{{\"event_id\":\"{n:032x}\"}}\n{{\"type\":\"transaction\"}}\n{{\"type\":\"transaction\",\
         \"transaction\":\"/t\",\"start_timestamp\":1800000000,\"timestamp\":1800000001,\
         \"contexts\":{{\"trace\":{{\"trace_id\":\"{n:032x}\",\"span_id\":\"{n:016x}\"}}}}}}\n"
    )
}

#[test]
fn a_full_write_queue_answers_503_and_loses_nothing_answered_200() {
    let server = TestServer::builder()
        .configure(|c| {
            c.store.queue_capacity = 1;
            c.store.batch_max = 1;
            c.timeouts.queue_wait = QUEUE_WAIT;
        })
        .start();
    server
        .add_quota(NewQuota::project(1, &["transaction"], 0, 60))
        .expect("quota");
    // Room for three errors: the one answered 503 gives its count back.
    server
        .add_quota(NewQuota::project(1, &["error"], 3, 3600))
        .expect("quota");

    // Another connection takes the write lock: the writer's next commit
    // waits for it (its busy timeout is longer than this test).
    let lock = rusqlite::Connection::open(server.db_path()).expect("open");
    lock.execute_batch("BEGIN IMMEDIATE").expect("lock");

    // The first event occupies the writer, the second the one queue slot.
    let mut waiting = Vec::new();
    for n in 1..=2 {
        let (url, auth) = (server.envelope_url(), server.sentry_auth());
        waiting.push(thread::spawn(move || send_to(&url, &auth, &event(n))));
        thread::sleep(Duration::from_millis(150));
    }

    let started = Instant::now();
    let refused = send(&server, &event(3));
    assert_eq!(
        refused.status,
        503,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert!(
        started.elapsed() >= QUEUE_WAIT,
        "refused only after queue_wait"
    );
    assert!(refused.header("x-sentry-error").is_some());

    // Everything of this one is rate limited: 429, full queue or not.
    let started = Instant::now();
    let limited = send(&server, &transaction(4));
    assert_eq!(
        limited.status,
        429,
        "{}",
        String::from_utf8_lossy(&limited.body)
    );
    assert!(limited.header("retry-after").is_some());
    assert!(
        started.elapsed() < QUEUE_WAIT,
        "the 429 did not wait for the store"
    );

    lock.execute_batch("ROLLBACK").expect("unlock");
    for w in waiting {
        let r = w.join().expect("sender thread");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let r = send(&server, &event(5));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        r.header("x-sentry-rate-limits").is_some(),
        "the third stored error used the quota up"
    );
    let mut stored: Vec<String> = server.events().iter().map(|e| e.event_id.clone()).collect();
    stored.sort();
    let ids: Vec<String> = [1, 2, 5].iter().map(|n| format!("{n:032x}")).collect();
    assert_eq!(stored, ids);
    // The refused transaction's outcome was kept and written once the
    // store had room.
    assert_eq!(
        server.outcomes(),
        [(
            "rate_limited".to_owned(),
            "quota_exceeded".to_owned(),
            "transaction".to_owned(),
            1
        )]
    );
}

/// Readers use their own connections (WAL): while the writer waits to
/// commit (another connection holds the write lock), the API still
/// answers at once, with what was committed before.
#[test]
fn reads_answer_while_the_writer_waits_to_commit() {
    let server = TestServer::start();
    let r = send(&server, &event(1));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let lock = rusqlite::Connection::open(server.db_path()).expect("open");
    lock.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let (url, auth) = (server.envelope_url(), server.sentry_auth());
    let waiting = thread::spawn(move || send_to(&url, &auth, &event(2)));
    thread::sleep(Duration::from_millis(200));
    assert!(
        !waiting.is_finished(),
        "the writer did not wait for the lock"
    );

    let started = Instant::now();
    let issues: Vec<serde_json::Value> = server
        .api_json("/api/0/projects/local/default/issues/?query=")
        .expect("issues");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the read waited: {:?}",
        started.elapsed()
    );
    assert_eq!(issues.len(), 1, "{issues:?}");

    lock.execute_batch("ROLLBACK").expect("unlock");
    let r = waiting.join().expect("sender thread");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(server.wait_for_events(2, Duration::from_secs(5)).len(), 2);
}
