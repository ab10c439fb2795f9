//! Rate-limit quotas over real HTTP (PROTOCOL.md §4.1, §4.2, §11): 429
//! with `Retry-After` and `X-Sentry-Rate-Limits` when nothing of a request
//! is left, 200 with the header when part of it is, client reports never
//! limited, per-key quotas, and the dropped items recorded as outcomes.

use receiver::config::Clock;
use receiver::store::quotas::NewQuota;
use receiver::store::WriteOp;
use receiver::testing::{post, TestResponse, TestServer};
use sentry_core::protocol::Timestamp;

/// 30 s into a 60 s window (and into a 3600 s one): windows never roll
/// over during a test.
const NOW: f64 = 1_800_000_030.0;

const OTHER_KEY: &str = "0123456789abcdef0123456789abcdef";

fn server() -> TestServer {
    TestServer::builder()
        .clock(Clock::Fixed(Timestamp::from_secs_f64(NOW)))
        .start()
}

fn add_quota(server: &TestServer, quota: NewQuota) -> i64 {
    server.add_quota(quota).expect("adding the quota").id
}

fn quota(categories: &[&str], max_items: u64, window_secs: u64) -> NewQuota {
    NewQuota::project(1, categories, max_items, window_secs)
}

fn send(server: &TestServer, key: &str, body: &str) -> TestResponse {
    send_to(&server.envelope_url(), key, body)
}

fn send_to(url: &str, key: &str, body: &str) -> TestResponse {
    let auth = format!("Sentry sentry_key={key}, sentry_version=7, sentry_client=test/1.0");
    post(url, &[("X-Sentry-Auth", auth.as_str())], body.as_bytes()).expect("request")
}

/// One summed client-report row: `(outcome, reason, category, quantity)`.
fn outcome(outcome: &str, reason: &str, category: &str, n: i64) -> (String, String, String, i64) {
    (
        outcome.to_owned(),
        reason.to_owned(),
        category.to_owned(),
        n,
    )
}

fn event(n: u32) -> String {
    let id = format!("{n:032x}");
    format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"event {n}\"}}\n")
}

fn client_report() -> &'static str {
    "{\"type\":\"client_report\"}\n{\"timestamp\":1800000000,\"discarded_events\":\
     [{\"reason\":\"queue_overflow\",\"category\":\"error\",\"quantity\":3}]}\n"
}

#[test]
fn events_past_the_limit_get_429_with_when_to_retry() {
    let server = server();
    add_quota(&server, quota(&["error"], 2, 60));
    let key = server.public_key().to_owned();
    for n in 0..2 {
        let r = send(&server, &key, &event(n));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    // The second event used the window up: the answer says so already.
    let r = send(&server, &key, &event(2));
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("retry-after"), Some("30"));
    assert_eq!(
        r.header("x-sentry-rate-limits"),
        Some("30:error:project:quota_exceeded")
    );
    assert!(r.header("x-sentry-error").is_some());
    assert_eq!(
        r.json()["detail"]
            .as_str()
            .map(|d| d.contains("rate limited")),
        Some(true)
    );
    assert_eq!(server.events().len(), 2, "the refused event is not stored");
    assert_eq!(
        server.outcomes(),
        [outcome("rate_limited", "quota_exceeded", "error", 1)]
    );
}

#[test]
fn a_refused_request_does_not_use_the_quota_up() {
    let server = server();
    add_quota(&server, quota(&["error"], 1, 60));
    let key = server.public_key().to_owned();
    // Not JSON, and an event from before 1970: both are answered 400, and
    // neither was stored, so neither counts.
    for payload in ["not json", "{\"timestamp\":-5}"] {
        let body = format!("{{}}\n{{\"type\":\"event\"}}\n{payload}\n");
        let r = send(&server, &key, &body);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    }
    let r = send(&server, &key, &event(1));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("x-sentry-rate-limits"),
        Some("30:error:project:quota_exceeded"),
        "the stored event used the quota up"
    );
    assert_eq!(send(&server, &key, &event(2)).status, 429);
    assert_eq!(server.events().len(), 1);
}

/// Sends `body` and hangs up 300 ms later (its write must be queued by
/// then), without reading the answer; returns once the server has seen
/// the request end while its write was queued, the case the callers test.
fn send_and_hang_up(server: &TestServer, key: &str, body: &str) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(server.addr()).expect("connect");
    let head = format!(
        "POST /api/1/envelope/ HTTP/1.1\r\nHost: {}\r\nX-Sentry-Auth: Sentry sentry_key={key}, \
         sentry_version=7\r\nContent-Length: {}\r\n\r\n",
        server.addr(),
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("head");
    stream.write_all(body.as_bytes()).expect("body");
    std::thread::sleep(std::time::Duration::from_millis(300));
    stream.shutdown(std::net::Shutdown::Both).expect("hang up");
    drop(stream);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.requests_left_while_queued() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(
        server.requests_left_while_queued(),
        1,
        "the request did not end while its write was queued: nothing here tests that case"
    );
}

#[test]
fn a_request_whose_client_hangs_up_after_it_was_queued_still_counts() {
    use std::time::{Duration, Instant};
    let server = server();
    add_quota(&server, quota(&["error"], 1, 60));
    let key = server.public_key().to_owned();
    // Another connection holds the database's write lock, so the request's
    // batch waits in the writer until the client has gone away.
    let lock = rusqlite::Connection::open(server.db_path()).expect("open");
    lock.execute_batch("BEGIN IMMEDIATE").expect("lock");
    send_and_hang_up(&server, &key, &event(1));
    lock.execute_batch("ROLLBACK").expect("unlock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.events().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(server.events().len(), 1, "a queued batch is written");
    // Stored, the event counts: a refund would let a second one through.
    let r = send(&server, &key, &event(2));
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(server.events().len(), 1);
}

#[test]
fn a_request_whose_client_hangs_up_before_its_write_fails_gives_its_counts_back() {
    use std::time::{Duration, Instant};
    let server = server();
    add_quota(&server, quota(&["error"], 1, 60));
    let key = server.public_key().to_owned();
    // As above, but the lock's holder makes the abandoned request's insert
    // fail (that event only: whenever the writer gets the lock, its write
    // fails, and later events are not refused by the trigger).
    let lock = rusqlite::Connection::open(server.db_path()).expect("open");
    lock.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         CREATE TRIGGER refuse_event_1 BEFORE INSERT ON events
         WHEN NEW.event_id = '{:032x}'
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        1
    ))
    .expect("lock");
    send_and_hang_up(&server, &key, &event(1));
    lock.execute_batch("COMMIT").expect("unlock");
    // Once the writer has failed the job, the quota has room again for
    // one event; until then a second one is refused (429).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = 0;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        status = send(&server, &key, &event(2)).status;
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200, "the failed write's count went back");
    assert_eq!(server.events().len(), 1);
    assert_eq!(send(&server, &key, &event(3)).status, 429, "and only it");
}

#[test]
fn the_store_endpoint_gets_the_last_room_of_a_window() {
    let server = server();
    add_quota(&server, quota(&["error"], 1, 60));
    let key = server.public_key().to_owned();
    let r = send_to(&server.store_url(), &key, r#"{"message":"legacy 1"}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("x-sentry-rate-limits"),
        Some("30:error:project:quota_exceeded")
    );
    let r = send_to(&server.store_url(), &key, r#"{"message":"legacy 2"}"#);
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(server.events().len(), 1);
    assert_eq!(
        server.outcomes(),
        [outcome("rate_limited", "quota_exceeded", "error", 1)]
    );
}

#[test]
fn what_is_left_of_a_request_is_stored_and_answered_200() {
    let server = server();
    add_quota(&server, quota(&["error"], 0, 60));
    let key = server.public_key().to_owned();
    // The event is refused, the client report never is.
    let body = format!("{}{}", event(7), client_report());
    let r = send(&server, &key, &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("x-sentry-rate-limits"),
        Some("30:error:project:quota_exceeded")
    );
    assert!(server.events().is_empty());
    assert_eq!(
        server.outcomes(),
        [
            outcome("discarded", "queue_overflow", "error", 3),
            outcome("rate_limited", "quota_exceeded", "error", 1),
        ]
    );
}

#[test]
fn attachments_go_with_their_refused_event() {
    let server = server();
    add_quota(&server, quota(&["error"], 0, 60));
    let body = format!(
        "{}{{\"type\":\"attachment\",\"length\":5,\"filename\":\"a.txt\"}}\nhello\n",
        event(8)
    );
    let r = send(&server, server.public_key(), &body);
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    let conn = rusqlite::Connection::open(server.db_path()).expect("open");
    let stored: i64 = conn
        .query_row("SELECT COUNT(*) FROM attachments", [], |r| r.get(0))
        .expect("count");
    assert_eq!(stored, 0);
    // As Relay reports a dropped attachment: one item, and its 5 bytes.
    let categories: Vec<(String, i64)> =
        server.outcomes().into_iter().map(|o| (o.2, o.3)).collect();
    assert_eq!(
        categories,
        [
            ("attachment".to_owned(), 5),
            ("attachment_item".to_owned(), 1),
            ("error".to_owned(), 1)
        ]
    );
    let reports: serde_json::Value = server
        .api_json("/api/0/local/client-reports/")
        .expect("reports");
    assert_eq!(reports["total"], 2, "{reports}");
    assert_eq!(reports["totalBytes"], 5, "{reports}");
}

#[test]
fn a_key_quota_limits_only_that_key() {
    let server = server();
    server.add_project(1, OTHER_KEY).ok();
    let mut q = quota(&[], 0, 3600);
    q.public_key = Some(OTHER_KEY.to_owned());
    q.reason = Some("key_blocked".to_owned());
    add_quota(&server, q);
    let r = send(&server, OTHER_KEY, &event(1));
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    // All categories: an empty category list; 30 s into the hour is 3570 s left.
    assert_eq!(
        r.header("x-sentry-rate-limits"),
        Some("3570::key:key_blocked")
    );
    assert_eq!(r.header("retry-after"), Some("3570"));
    let r = send(&server, server.public_key(), &event(2));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-sentry-rate-limits"), None);
    assert_eq!(server.events().len(), 1);
}

#[test]
fn removing_a_quota_lifts_it() {
    let server = server();
    let id = add_quota(&server, quota(&["error"], 0, 60));
    let key = server.public_key().to_owned();
    assert_eq!(send(&server, &key, &event(1)).status, 429);
    server
        .store()
        .write_blocking(WriteOp::RemoveQuota { id })
        .expect("remove");
    assert_eq!(send(&server, &key, &event(2)).status, 200);
}

#[test]
fn the_store_endpoint_refuses_its_event_while_any_limit_is_active() {
    let server = server();
    add_quota(&server, quota(&["transaction"], 0, 60));
    // An envelope's event is not covered by a transaction quota...
    assert_eq!(send(&server, server.public_key(), &event(1)).status, 200);
    // ...but a legacy client cannot read the header on a 200 (§4.1).
    let r = send_to(
        &server.store_url(),
        server.public_key(),
        r#"{"message":"legacy"}"#,
    );
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("x-sentry-rate-limits"),
        Some("30:transaction:project:quota_exceeded")
    );
    assert_eq!(server.events().len(), 1);
    assert_eq!(
        server.outcomes(),
        [outcome("rate_limited", "quota_exceeded", "error", 1)]
    );
}

#[test]
fn a_store_refusal_names_only_quotas_still_used_up() {
    let server = server();
    add_quota(&server, quota(&["transaction"], 0, 60));
    add_quota(&server, quota(&["error"], 1, 60));
    // The event counted into the error quota (using it up) and was then
    // refused and given back: the answer must not name the error quota,
    // or the SDK would hold errors back for the window.
    let r = send_to(
        &server.store_url(),
        server.public_key(),
        r#"{"message":"legacy"}"#,
    );
    assert_eq!(r.status, 429);
    assert_eq!(
        r.header("x-sentry-rate-limits"),
        Some("30:transaction:project:quota_exceeded")
    );
    // The error quota still has its room.
    assert_eq!(send(&server, server.public_key(), &event(1)).status, 200);
}

#[test]
fn a_quota_added_again_starts_with_nothing_used() {
    let server = server();
    let key = server.public_key().to_owned();
    let id = add_quota(&server, quota(&["error"], 1, 60));
    assert_eq!(send(&server, &key, &event(1)).status, 200);
    assert_eq!(send(&server, &key, &event(2)).status, 429);
    server
        .store()
        .write_blocking(WriteOp::RemoveQuota { id })
        .expect("remove");
    // The same quota again, in the same window: a new id, a new count.
    let again = add_quota(&server, quota(&["error"], 1, 60));
    assert_ne!(again, id, "quota ids are never reused");
    assert_eq!(send(&server, &key, &event(3)).status, 200);
}

#[test]
fn quotas_are_checked_when_added() {
    let server = server();
    let refused = |q: NewQuota| server.store().write_blocking(WriteOp::AddQuota(q)).is_err();
    assert!(refused(quota(&["errors"], 1, 60)), "unknown category");
    assert!(refused(quota(&["internal"], 1, 60)), "client reports");
    assert!(refused(quota(&["error"], 1, 0)), "empty window");
    let mut q = quota(&["error"], 1, 60);
    q.reason = Some("a:b".to_owned());
    assert!(refused(q), "a reason that would break the header");
    let mut q = quota(&["error"], 1, 60);
    q.public_key = Some("ffffffffffffffffffffffffffffffff".to_owned());
    assert!(refused(q), "a key of no project");
}

#[test]
fn quotas_can_be_managed_through_the_api_and_apply_at_once() {
    let server = server();
    let path = "/api/0/projects/local/1/quotas/";
    let body = serde_json::json!({"limit": 0, "window": 60, "categories": ["error"],
                                  "reason": "from_api"});
    let r = server.api_request("POST", path, Some(&body)).expect("post");
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(r.json()["scope"], "project");
    let listed = server.api_get(path).expect("list").json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["categories"], serde_json::json!(["error"]));

    // In force for the very next request (no cache delay in-process).
    let r = send(&server, server.public_key(), &event(1));
    assert_eq!(r.status, 429);
    assert_eq!(
        r.header("x-sentry-rate-limits"),
        Some("30:error:project:from_api")
    );

    // Bad input is a 400 naming the problem; a read token cannot write.
    let bad = serde_json::json!({"limit": -1});
    let r = server.api_request("POST", path, Some(&bad)).expect("post");
    assert_eq!(r.status, 400);
    let r = server
        .api_request(
            "POST",
            path,
            Some(&serde_json::json!({"limit": 1, "categories": ["nope"]})),
        )
        .expect("post");
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("unknown data category"));
    let read = server
        .create_token(receiver::api::tokens::Scope::Read)
        .expect("token");
    let r = receiver::testing::request(
        "POST",
        &server.api_url(path),
        &[("Authorization", format!("Bearer {read}").as_str())],
        body.to_string().as_bytes(),
    )
    .expect("post");
    assert_eq!(r.status, 403);

    let r = server
        .api_request("DELETE", &format!("{path}{id}/"), None)
        .expect("delete");
    assert_eq!(r.status, 204);
    assert_eq!(send(&server, server.public_key(), &event(2)).status, 200);
    let r = server
        .api_request("DELETE", &format!("{path}{id}/"), None)
        .expect("delete");
    assert_eq!(r.status, 404);
}
