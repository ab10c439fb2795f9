//! The less common item types as Relay treats them: session updates
//! without `seq` or out of order, client reports' times, a minidump sent
//! without its event, a feedback's screenshot, an envelope without an
//! `event_id` header.

use receiver::config::Clock;
use receiver::testing::{post, TestResponse, TestServer};
use sentry_core::protocol::Timestamp;
use serde_json::Value;

const NOW: f64 = 1_800_000_030.0;

fn server() -> TestServer {
    TestServer::builder()
        .clock(Clock::Fixed(Timestamp::from_secs_f64(NOW)))
        .start()
}

fn send(server: &TestServer, body: &[u8]) -> TestResponse {
    let auth = server.sentry_auth();
    post(
        &server.envelope_url(),
        &[("X-Sentry-Auth", auth.as_str())],
        body,
    )
    .expect("request")
}

fn iso(t: f64) -> String {
    Timestamp::from_secs_f64(t).to_rfc3339()
}

/// A session update of `sid` (`seq` left out when `None`, as the Python
/// and JavaScript SDKs send them).
fn session(sid: &str, seq: Option<u64>, init: bool, status: &str, errors: u64) -> String {
    let seq = seq.map_or(String::new(), |s| format!(",\"seq\":{s}"));
    let started = NOW - 120.0;
    format!(
        "{{\"sid\":\"{sid}\",\"did\":\"u1\"{seq},\"init\":{init},\"started\":\"{}\",\
         \"timestamp\":\"{}\",\"status\":\"{status}\",\"errors\":{errors},\
         \"attrs\":{{\"release\":\"app@1.0.0\",\"environment\":\"production\"}}}}",
        iso(started),
        iso(started + 10.0)
    )
}

fn envelope_of(items: &[String]) -> Vec<u8> {
    let mut body = "{}\n".to_owned();
    for item in items {
        body.push_str("{\"type\":\"session\"}\n");
        body.push_str(item);
        body.push('\n');
    }
    body.into_bytes()
}

fn health(server: &TestServer) -> Value {
    server
        .api_json::<Value>("/api/0/local/health/")
        .expect("health")
}

#[test]
fn two_updates_without_seq_in_one_envelope_are_both_kept() {
    let server = server();
    let sid = "5c7b6585f9014351bf8d02711b721929";
    let init = session(sid, None, true, "ok", 0);
    assert_eq!(send(&server, &envelope_of(&[init])).status, 200);
    // An error, then the crash, flushed together (same timestamp).
    let errored = session(sid, None, false, "ok", 1);
    let crashed = session(sid, None, false, "crashed", 1);
    assert_eq!(send(&server, &envelope_of(&[errored, crashed])).status, 200);
    let health = health(&server);
    assert_eq!(health["totals"]["sessions"], 1, "{health}");
    assert_eq!(health["totals"]["sessionsCrashed"], 1, "{health}");
}

#[test]
fn an_init_arriving_after_the_final_update_still_counts_the_session() {
    let server = server();
    let sid = "7c7b6585f9014351bf8d02711b721929";
    let end = session(sid, Some(7), false, "exited", 0);
    let init = session(sid, Some(0), true, "ok", 0);
    assert_eq!(send(&server, &envelope_of(&[end])).status, 200);
    assert_eq!(send(&server, &envelope_of(&[init])).status, 200);
    let health = health(&server);
    assert_eq!(health["totals"]["sessions"], 1, "{health}");
    assert_eq!(health["totals"]["sessionsHealthy"], 1, "exited: {health}");
    // An update after the final one is still ignored.
    let late = session(sid, Some(9), false, "crashed", 1);
    assert_eq!(send(&server, &envelope_of(&[late])).status, 200);
    assert_eq!(health_of_crashed(&server), 0);
}

fn health_of_crashed(server: &TestServer) -> u64 {
    health(server)["totals"]["sessionsCrashed"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

/// An envelope with one client report dated `at` (sent at `sent_at`).
fn client_report(at: f64, sent_at: f64, reason: &str) -> Vec<u8> {
    format!(
        "{{\"sent_at\":\"{}\"}}\n{{\"type\":\"client_report\"}}\n\
         {{\"timestamp\":{at},\"discarded_events\":[{{\"reason\":\"{reason}\",\
         \"category\":\"error\",\"quantity\":3}}]}}\n",
        iso(sent_at)
    )
    .into_bytes()
}

fn reported(server: &TestServer, range: &str) -> u64 {
    server
        .api_json::<Value>(&format!("/api/0/local/client-reports/?{range}"))
        .expect("client reports")["total"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

#[test]
fn client_reports_are_dated_as_relay_dates_them() {
    let server = server();
    // A device two hours behind: its report lands at the receive time.
    let behind = 7200.0;
    let r = send(
        &server,
        &client_report(NOW - behind - 5.0, NOW - behind, "sample_rate"),
    );
    assert_eq!(r.status, 200);
    let window = |from: f64, to: f64| format!("start={}&end={}", iso(from), iso(to));
    assert_eq!(reported(&server, &window(NOW - 60.0, NOW + 1.0)), 3);
    assert_eq!(
        reported(&server, &window(NOW - behind - 60.0, NOW - behind + 60.0)),
        0
    );
    // A report a year ahead is not counted (kept raw with the reason).
    let ahead = NOW + 365.0 * 86_400.0;
    assert_eq!(
        send(&server, &client_report(ahead, NOW, "sample_rate")).status,
        200
    );
    // And an entry whose reason is over 200 characters is skipped.
    let long = "x".repeat(201);
    assert_eq!(
        send(&server, &client_report(NOW - 1.0, NOW, &long)).status,
        200
    );
    assert_eq!(reported(&server, "statsPeriod=1000d"), 3);
    assert_eq!(
        server.counts().get("raw_items"),
        Some(&1),
        "{:?}",
        server.counts()
    );
}

#[test]
fn a_feedback_screenshot_is_listed_under_the_feedback() {
    let server = server();
    let id = "0a0b0c0d0e0f40a1b2c3d4e5f6a7b8c9";
    let payload = format!(
        "{{\"event_id\":\"{id}\",\"type\":\"feedback\",\"level\":\"info\",\"timestamp\":{},\
         \"platform\":\"javascript\",\"contexts\":{{\"feedback\":{{\"message\":\"button is broken\",\
         \"contact_email\":\"a@b.c\"}}}}}}",
        NOW - 5.0
    );
    let png = b"\x89PNG\r\n\x1a\nfake";
    let mut body = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"feedback\"}}\n{payload}\n\
         {{\"type\":\"attachment\",\"length\":{},\"filename\":\"screenshot.png\",\
         \"content_type\":\"image/png\"}}\n",
        png.len()
    )
    .into_bytes();
    body.extend_from_slice(png);
    body.push(b'\n');
    assert_eq!(send(&server, &body).status, 200);
    let list: Value = server
        .api_json(&format!("/api/0/projects/local/1/events/{id}/attachments/"))
        .expect("the feedback's attachments");
    assert_eq!(list[0]["name"], "screenshot.png", "{list}");
    let attachment = list[0]["id"].as_str().unwrap_or_default().to_owned();
    let r = server
        .api_get(&format!(
            "/api/0/projects/local/1/events/{id}/attachments/{attachment}/?download=1"
        ))
        .expect("download");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, png);
    // An id that names nothing is still a 404.
    let r = server
        .api_get("/api/0/projects/local/1/events/0a0b0c0d0e0f40a1b2c3d4e5f6a7b8ca/attachments/")
        .expect("request");
    assert_eq!(r.status, 404);
}

/// An envelope with only a minidump, as the native SDKs and crashpad send.
fn minidump_envelope(event_id: &str) -> Vec<u8> {
    let mut body = format!("{{\"event_id\":\"{event_id}\"}}\n").into_bytes();
    let dump = b"MDMP\x93\xa7\x00\x00fake minidump";
    body.extend_from_slice(
        format!(
            "{{\"type\":\"attachment\",\"length\":{},\"filename\":\"upload_file_minidump\",\
             \"attachment_type\":\"event.minidump\"}}\n",
            dump.len()
        )
        .as_bytes(),
    );
    body.extend_from_slice(dump);
    body.push(b'\n');
    body
}

#[test]
fn a_minidump_without_its_event_is_a_fatal_error_with_its_dump() {
    let server = server();
    let r = send(
        &server,
        &minidump_envelope("9ec79c33ec9942ab8353589fcb2e04dc"),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    server.wait_for_events(1, std::time::Duration::from_secs(5));
    let issues = server.issues();
    assert_eq!(issues.len(), 1);
    assert!(
        issues[0].title.starts_with("Minidump"),
        "{}",
        issues[0].title
    );
    let event: Value = server
        .api_json("/api/0/projects/local/1/events/9ec79c33ec9942ab8353589fcb2e04dc/")
        .expect("the placeholder event");
    assert_eq!(event["level"], "fatal");
    let list: Value = server
        .api_json("/api/0/projects/local/1/events/9ec79c33ec9942ab8353589fcb2e04dc/attachments/")
        .expect("its attachments");
    assert_eq!(list[0]["name"], "upload_file_minidump", "{list}");
    // A second crash groups with the first.
    let second = minidump_envelope("9ec79c33ec9942ab8353589fcb2e04dd");
    assert_eq!(send(&server, &second).status, 200);
    server.wait_for_events(2, std::time::Duration::from_secs(5));
    assert_eq!(server.issues().len(), 1);
}

#[test]
fn a_minidump_without_its_event_counts_against_error_quotas() {
    use receiver::store::quotas::NewQuota;
    let server = server();
    server
        .add_quota(NewQuota::project(1, &["error"], 0, 60))
        .expect("quota");
    let r = send(
        &server,
        &minidump_envelope("9ec79c33ec9942ab8353589fcb2e04dc"),
    );
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    assert!(r
        .header("x-sentry-rate-limits")
        .is_some_and(|h| h.contains("error")));
}

/// The `attachments` row behind the API: the id it was stored under.
fn stored_attachment_ids(server: &TestServer) -> Vec<Option<String>> {
    server
        .store()
        .read_blocking(|c| {
            let mut stmt = c.prepare("SELECT event_id FROM attachments ORDER BY id")?;
            let ids = stmt.query_map([], |r| r.get(0))?;
            Ok(ids.collect::<Result<Vec<_>, _>>()?)
        })
        .expect("attachment rows")
}

/// Relay gives an envelope without an `event_id` header one (PROTOCOL.md
/// §2.2); here it is the id of its event, so the event's attachments are
/// its attachments, as with the header.
#[test]
fn an_envelope_without_an_event_id_header_names_its_event_in_its_attachments() {
    let server = server();
    let id = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";
    let body = format!(
        "{{}}\n{{\"type\":\"event\"}}\n{{\"event_id\":\"{id}\",\"message\":\"m\"}}\n\
         {{\"type\":\"attachment\",\"length\":5,\"filename\":\"a.txt\"}}\nhello\n"
    );
    let r = send(&server, body.as_bytes());
    assert_eq!(r.status, 200);
    let answer: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(answer["id"], id);
    let list: Value = server
        .api_json(&format!("/api/0/projects/local/1/events/{id}/attachments/"))
        .expect("the event's attachments");
    assert_eq!(list[0]["name"], "a.txt", "{list}");

    // Without any id, the answer's new id is the one the items are under.
    let r = send(
        &server,
        b"{}\n{\"type\":\"attachment\",\"length\":3,\"filename\":\"s.txt\"}\nabc\n",
    );
    assert_eq!(r.status, 200);
    let answer: Value = serde_json::from_slice(&r.body).expect("json");
    let generated = answer["id"].as_str().expect("an id").to_owned();
    assert_eq!(generated.len(), 32, "{answer}");
    assert_ne!(generated, id);
    assert_eq!(
        stored_attachment_ids(&server),
        [Some(id.to_owned()), Some(generated)]
    );

    // Items that belong to no event get no id.
    let r = send(
        &server,
        format!(
            "{{}}\n{{\"type\":\"session\"}}\n{}\n",
            session("s1", None, true, "ok", 0)
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"{}");
}
