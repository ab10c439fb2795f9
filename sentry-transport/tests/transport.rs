//! The HTTP transport against a real HTTP server on 127.0.0.1.

mod common;

use std::time::{Duration, Instant};

use common::{discards, with_item, DownPort, Reply, TestServer};
use sentry_core::dsn::Dsn;
use sentry_core::envelope::{Envelope, EnvelopeItem, ItemType};
use sentry_core::protocol::{DataCategory, DiscardReason, Event};
use sentry_core::transport::Transport;
use sentry_core::Uuid;
use sentry_transport::{HttpTransport, HttpTransportBuilder};

const WAIT: Duration = Duration::from_secs(5);

/// Short timeouts and backoffs so that every test stays fast.
fn fast(dsn: Dsn) -> HttpTransportBuilder {
    HttpTransport::builder(dsn)
        .connect_timeout(Duration::from_millis(500))
        .request_timeout(Duration::from_secs(3))
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .batch_interval(Duration::from_secs(60))
        .spool_retry_interval(Duration::from_secs(60))
        .shutdown_timeout(Duration::from_millis(500))
        .debug(std::env::var_os("TRANSPORT_DEBUG").is_some())
}

/// The spooled files under `dir`, in every DSN's subdirectory.
fn spool_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            for inner in std::fs::read_dir(&path).expect("subdir") {
                files.push(inner.expect("entry").path());
            }
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Spools one event with `message` into `dir` from a transport whose
/// receiver is down; returns that receiver's port, to bring it up later
/// with the same DSN.
fn spool_offline(dir: &std::path::Path, message: &str) -> DownPort {
    spool_offline_all(dir, &[message])
}

/// [`spool_offline`] for one event per message.
fn spool_offline_all(dir: &std::path::Path, messages: &[&str]) -> DownPort {
    let down = DownPort::new();
    let transport = fast(down.dsn())
        .max_retries(0)
        .client_reports(false)
        .spool_dir(dir)
        .build()
        .expect("transport");
    for message in messages {
        transport.send_envelope(event_envelope(message));
    }
    assert!(!transport.flush(WAIT));
    drop(transport);
    down
}

/// Shuts `transport` down against its hanging `server` (200 ms), starts
/// again on the same port (the same DSN) and spool, and returns the
/// counts of the client report spooled for that start.
fn report_after_restart(
    transport: HttpTransport,
    server: TestServer,
    dir: &std::path::Path,
) -> std::collections::BTreeMap<(String, String), u64> {
    assert!(!transport.shutdown(Duration::from_millis(200)));
    drop(transport);
    let port = server.port();
    drop(server);
    let server = TestServer::start_on(port);
    let _transport = fast(server.dsn())
        .spool_dir(dir)
        .build()
        .expect("transport");
    discards(&server.wait_until(WAIT, |r| !discards(r).is_empty()))
}

/// A transport whose receiver (`server`) from now on never answers, with
/// one request in flight at a time and a request timeout far beyond any
/// test's wait: what a shutdown deadline cuts off.
fn hanging_one_at_a_time(server: &TestServer) -> HttpTransportBuilder {
    server.set_default(Reply::Hang);
    fast(server.dsn())
        .max_in_flight(1)
        .request_timeout(Duration::from_secs(30))
}

fn event_envelope(message: &str) -> Envelope {
    let mut envelope = Envelope::with_event_id(Uuid::new_v4());
    envelope.add_item(EnvelopeItem::event(Event {
        message: Some(message.to_owned()),
        ..Default::default()
    }));
    envelope
}

fn raw_envelope(ty: ItemType, payload: &str) -> Envelope {
    let mut envelope = Envelope::new();
    envelope.add_item(EnvelopeItem::raw(ty, payload.as_bytes().to_vec()));
    envelope
}

fn key(reason: &str, category: &str) -> (String, String) {
    (reason.to_owned(), category.to_owned())
}

fn event_messages(requests: &[common::Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter_map(|r| r.envelope.as_ref())
        .flat_map(|e| e.items.iter())
        .filter(|i| i.headers.ty == ItemType::Event)
        .filter_map(|i| {
            let v: serde_json::Value = serde_json::from_slice(i.payload.as_raw()?).ok()?;
            v["message"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| v["logentry"]["message"].as_str().map(str::to_owned))
        })
        .collect()
}

#[test]
fn delivers_an_envelope_with_auth_content_type_and_user_agent() {
    let server = TestServer::start();
    let transport = fast(server.dsn()).build().expect("transport");
    let envelope = event_envelope("hello");
    let id = envelope.event_id().expect("id");
    transport.send_envelope(envelope);
    assert!(transport.flush(WAIT), "flush reports everything sent");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/api/1/envelope/");
    let auth = r.header("x-sentry-auth").expect("auth header");
    assert!(
        auth.starts_with("Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7, sentry_client=sentry.rust.lite/"),
        "{auth}"
    );
    assert!(auth.contains("sentry_timestamp="), "{auth}");
    assert_eq!(
        r.header("content-type"),
        Some("application/x-sentry-envelope")
    );
    assert!(r
        .header("user-agent")
        .expect("user agent")
        .starts_with("sentry.rust.lite/"));
    let envelope = r.envelope.as_ref().expect("body parses as an envelope");
    assert_eq!(envelope.event_id(), Some(id));
    assert!(
        envelope.headers.sent_at.is_some(),
        "sent_at is stamped at send time"
    );
    assert_eq!(event_messages(&requests), vec!["hello".to_owned()]);
    assert!(transport.shutdown(WAIT));
}

#[test]
fn gzip_body_decodes_to_the_same_envelope() {
    let server = TestServer::start();
    let transport = fast(server.dsn()).build().expect("transport");
    let mut envelope = event_envelope("big");
    let text: String = (0..5000).map(|i| format!("line {i}\n")).collect();
    let mut attachment = EnvelopeItem::raw(ItemType::Attachment, text.clone().into_bytes());
    attachment.headers.filename = Some("log.txt".into());
    envelope.add_item(attachment);
    let expected = envelope.clone();
    transport.send_envelope(envelope);
    assert!(transport.flush(WAIT));

    let requests = server.requests();
    let r = &requests[0];
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(
        r.raw.len() * 4 < r.body.len(),
        "compressed {} -> {}",
        r.body.len(),
        r.raw.len()
    );
    let mut got = r.envelope.clone().expect("gunzipped body parses");
    got.headers.sent_at = None;
    let mut expected = Envelope::parse(&expected.to_vec().expect("serialise")).expect("parse");
    expected.headers.sent_at = None;
    assert_eq!(got, expected);
}

#[test]
fn gzip_can_be_turned_off_and_small_bodies_are_not_compressed() {
    let server = TestServer::start();
    let plain = fast(server.dsn()).gzip(false).build().expect("transport");
    let big = "x".repeat(10_000);
    plain.send_envelope(raw_envelope(ItemType::Attachment, &big));
    assert!(plain.flush(WAIT));
    let default = fast(server.dsn()).build().expect("transport");
    default.send_envelope(event_envelope("small"));
    assert!(default.flush(WAIT));

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests
        .iter()
        .all(|r| r.header("content-encoding").is_none()));
    assert_eq!(requests[0].raw, requests[0].body);
}

#[test]
fn receiver_down_then_up_is_retried_until_delivered() {
    let down = DownPort::new();
    let transport = fast(down.dsn())
        .max_retries(100)
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(50))
        .build()
        .expect("transport");
    transport.send_envelope(event_envelope("while down"));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(transport.pending(), 1, "still retrying");
    let server = down.bring_up();
    assert!(transport.flush(WAIT));
    assert_eq!(
        event_messages(&server.requests()),
        vec!["while down".to_owned()]
    );
}

#[test]
fn server_errors_are_retried_until_success() {
    let server = TestServer::start();
    server.script([Reply::status(500), Reply::status(503), Reply::ok()]);
    let transport = fast(server.dsn()).build().expect("transport");
    transport.send_envelope(event_envelope("retry me"));
    assert!(transport.flush(WAIT));
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "two failures then success");
    assert_eq!(
        requests[0].body, requests[2].body,
        "the same body is retried"
    );
}

#[test]
fn retries_give_up_and_count_network_error() {
    let server = TestServer::start();
    server.script([Reply::status(500), Reply::status(500), Reply::status(500)]);
    let transport = fast(server.dsn())
        .max_retries(2)
        .build()
        .expect("transport");
    transport.send_envelope(event_envelope("lost"));
    assert!(!transport.flush(WAIT), "an envelope was lost");
    assert_eq!(server.requests().len(), 3, "first attempt and two retries");
    assert!(transport.flush(WAIT), "the report goes out");
    let counts = discards(&server.requests());
    assert_eq!(counts.get(&key("network_error", "error")), Some(&1));
}

#[test]
fn client_errors_are_not_retried_and_count_as_send_error() {
    let server = TestServer::start();
    server.script([Reply::status(400)]);
    let transport = fast(server.dsn()).build().expect("transport");
    transport.send_envelope(event_envelope("bad"));
    assert!(transport.flush(WAIT), "a rejected envelope is handled");
    assert_eq!(server.requests().len(), 1, "4xx is never retried");
    assert!(transport.flush(WAIT));
    let counts = discards(&server.requests());
    assert_eq!(counts.get(&key("send_error", "error")), Some(&1));
}

#[test]
fn rate_limit_header_drops_only_the_limited_category() {
    let server = TestServer::start();
    server.script([Reply::ok().with_header("x-sentry-rate-limits", "60:error:key:quota_exceeded")]);
    let transport = fast(server.dsn()).build().expect("transport");
    transport.send_envelope(event_envelope("first"));
    assert!(transport.flush(WAIT));
    let limit = transport
        .rate_limited_for("error")
        .expect("error is limited");
    assert!(
        limit > Duration::from_secs(58) && limit <= Duration::from_secs(60),
        "{limit:?}"
    );
    assert_eq!(transport.rate_limited_for("transaction"), None);

    transport.send_envelope(event_envelope("dropped"));
    transport.send_envelope(raw_envelope(
        ItemType::Transaction,
        r#"{"type":"transaction"}"#,
    ));
    assert!(transport.flush(WAIT));
    let requests = server.requests();
    assert_eq!(event_messages(&requests), vec!["first".to_owned()]);
    assert_eq!(
        with_item(&requests, "transaction").len(),
        1,
        "other categories flow"
    );
    assert_eq!(
        discards(&requests).get(&key("ratelimit_backoff", "error")),
        Some(&1)
    );
}

#[test]
fn rate_limit_header_with_several_limits_and_global_scope() {
    let server = TestServer::start();
    server.script([Reply::ok().with_header(
        "x-sentry-rate-limits",
        "30:transaction:key, 2700:default;error;security:organization",
    )]);
    let transport = fast(server.dsn()).build().expect("transport");
    transport.send_envelope(event_envelope("x"));
    assert!(transport.flush(WAIT));
    let t = transport
        .rate_limited_for("transaction")
        .expect("transaction limited");
    assert!(
        t > Duration::from_secs(28) && t <= Duration::from_secs(30),
        "{t:?}"
    );
    let e = transport.rate_limited_for("error").expect("error limited");
    assert!(e > Duration::from_secs(2698), "{e:?}");
    assert_eq!(transport.rate_limited_for("session"), None);
    assert_eq!(
        transport.rate_limited_for("internal"),
        None,
        "client reports are not limited"
    );
}

#[test]
fn too_many_requests_with_retry_after_seconds() {
    let server = TestServer::start();
    server.script([Reply::status(429).with_header("retry-after", "30")]);
    let transport = fast(server.dsn()).build().expect("transport");
    transport.send_envelope(event_envelope("429"));
    assert!(transport.flush(WAIT), "a 429 is final, not retried");
    assert_eq!(server.requests().len(), 1);
    for category in ["error", "session", "transaction", "internal"] {
        let d = transport
            .rate_limited_for(category)
            .expect("everything limited");
        assert!(
            d > Duration::from_secs(28) && d <= Duration::from_secs(30),
            "{category}: {d:?}"
        );
    }
    transport.send_envelope(event_envelope("dropped"));
    assert_eq!(transport.pending(), 0, "dropped before queueing");
    assert!(transport.flush(Duration::from_millis(200)));
    assert_eq!(
        server.requests().len(),
        1,
        "nothing sent while limited (reports included)"
    );
}

#[test]
fn too_many_requests_with_retry_after_http_date() {
    let server = TestServer::start();
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
    server.script([Reply::status(429).with_header("retry-after", date)]);
    let transport = fast(server.dsn()).build().expect("transport");
    transport.send_envelope(event_envelope("429"));
    assert!(transport.flush(WAIT));
    let d = transport.rate_limited_for("error").expect("limited");
    assert!(
        d > Duration::from_secs(117) && d <= Duration::from_secs(120),
        "{d:?}"
    );
}

#[test]
fn bare_too_many_requests_limits_everything_for_sixty_seconds() {
    let server = TestServer::start();
    server.script([Reply::status(429)]);
    let transport = fast(server.dsn()).build().expect("transport");
    transport.send_envelope(event_envelope("429"));
    assert!(transport.flush(WAIT));
    let d = transport.rate_limited_for("transaction").expect("limited");
    assert!(
        d > Duration::from_secs(58) && d <= Duration::from_secs(60),
        "{d:?}"
    );
}

#[test]
fn rate_limit_header_wins_over_retry_after_on_429() {
    let server = TestServer::start();
    server.script([Reply::status(429)
        .with_header("x-sentry-rate-limits", "10:error:project")
        .with_header("retry-after", "100")]);
    let transport = fast(server.dsn()).build().expect("transport");
    transport.send_envelope(event_envelope("429"));
    assert!(transport.flush(WAIT));
    let d = transport.rate_limited_for("error").expect("limited");
    assert!(d <= Duration::from_secs(10), "{d:?}");
    assert_eq!(transport.rate_limited_for("transaction"), None);
}

#[test]
fn limited_category_flows_again_after_expiry() {
    let server = TestServer::start();
    server.script([Reply::ok().with_header("x-sentry-rate-limits", "1:error:key")]);
    let transport = fast(server.dsn()).build().expect("transport");
    transport.send_envelope(event_envelope("one"));
    assert!(transport.flush(WAIT));
    transport.send_envelope(event_envelope("limited"));
    let start = Instant::now();
    while transport.rate_limited_for("error").is_some() && start.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(50));
    }
    transport.send_envelope(event_envelope("two"));
    assert!(transport.flush(WAIT));
    let messages = event_messages(&server.requests());
    assert_eq!(messages, vec!["one".to_owned(), "two".to_owned()]);
}

#[test]
fn hanging_receiver_hits_the_request_timeout() {
    let server = TestServer::start();
    server.script([Reply::Hang]);
    let transport = fast(server.dsn())
        .request_timeout(Duration::from_millis(200))
        .max_retries(0)
        .build()
        .expect("transport");
    let start = Instant::now();
    transport.send_envelope(event_envelope("hang"));
    assert!(!transport.flush(WAIT), "the envelope was not delivered");
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(2),
        "timeout fired after {elapsed:?}"
    );
    assert!(
        transport.flush(WAIT),
        "the next request (the report) is answered"
    );
    assert_eq!(
        discards(&server.requests()).get(&key("network_error", "error")),
        Some(&1)
    );
}

#[test]
fn flush_times_out_while_the_receiver_hangs() {
    let server = TestServer::start();
    server.set_default(Reply::Hang);
    let transport = fast(server.dsn())
        .request_timeout(Duration::from_secs(30))
        .build()
        .expect("transport");
    transport.send_envelope(event_envelope("slow"));
    let start = Instant::now();
    assert!(!transport.flush(Duration::from_millis(200)));
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(190) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
    assert_eq!(transport.pending(), 1);
    // Shutdown is bounded too.
    let start = Instant::now();
    assert!(!transport.shutdown(Duration::from_millis(200)));
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn queue_overflow_is_counted_in_the_next_client_report() {
    let server = TestServer::start();
    server.script([Reply::Hang]);
    let transport = fast(server.dsn())
        .queue_size(2)
        .max_in_flight(1)
        .max_retries(0)
        .request_timeout(Duration::from_millis(300))
        .build()
        .expect("transport");
    transport.send_envelope(event_envelope("in flight"));
    assert_eq!(
        server.wait_for(1, WAIT).len(),
        1,
        "the first request is held"
    );
    for i in 0..5 {
        transport.send_envelope(event_envelope(&format!("e{i}")));
    }
    transport.record_discard(DiscardReason::SampleRate, DataCategory::Transaction, 7);
    assert!(!transport.flush(WAIT), "the held envelope timed out");
    assert!(transport.flush(WAIT));
    let requests = server.requests();
    assert_eq!(event_messages(&requests), vec!["in flight", "e0", "e1"]);
    let counts = discards(&requests);
    assert_eq!(counts.get(&key("queue_overflow", "error")), Some(&3));
    assert_eq!(counts.get(&key("network_error", "error")), Some(&1));
    assert_eq!(counts.get(&key("sample_rate", "transaction")), Some(&7));
}

#[test]
fn client_discards_are_reported_on_the_batch_interval() {
    let server = TestServer::start();
    let transport = fast(server.dsn())
        .batch_interval(Duration::from_millis(100))
        .build()
        .expect("transport");
    transport.record_discard(DiscardReason::BeforeSend, DataCategory::Error, 2);
    let requests = server.wait_for(1, WAIT);
    assert_eq!(requests.len(), 1, "sent without a flush");
    assert_eq!(requests[0].item_types(), vec!["client_report"]);
    assert_eq!(
        discards(&requests).get(&key("before_send", "error")),
        Some(&2)
    );
    drop(transport);
}

#[test]
fn sessions_are_batched_into_one_request() {
    let server = TestServer::start();
    let transport = fast(server.dsn()).build().expect("transport");
    for i in 0..5 {
        transport.send_envelope(raw_envelope(
            ItemType::Session,
            &format!(r#"{{"sid":"{}","status":"ok","init":true,"started":"2024-01-01T00:00:00Z","attrs":{{"release":"a@{i}"}}}}"#, Uuid::new_v4()),
        ));
    }
    transport.record_discard(DiscardReason::SampleRate, DataCategory::Error, 1);
    std::thread::sleep(Duration::from_millis(100));
    assert!(server.requests().is_empty(), "sessions wait for the batch");
    assert!(transport.flush(WAIT));
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one request for all of them");
    assert_eq!(
        requests[0].item_types(),
        vec![
            "session",
            "session",
            "session",
            "session",
            "session",
            "client_report"
        ]
    );
}

/// A typed session update, as the SDK's client sends it.
fn session_envelope(sid: Uuid, seq: u64, init: bool, status: &str, errors: u64) -> Envelope {
    let update: sentry_core::protocol::SessionUpdate = serde_json::from_value(serde_json::json!({
        "sid": sid.to_string(), "seq": seq, "init": init, "status": status, "errors": errors,
        "started": "2024-01-01T00:00:00Z", "attrs": {"release": "a@1"}
    }))
    .expect("session update");
    let mut envelope = Envelope::new();
    envelope.add_item(EnvelopeItem::session(update));
    envelope
}

#[test]
fn updates_of_one_session_in_a_batch_go_out_once() {
    let server = TestServer::start();
    let transport = fast(server.dsn()).build().expect("transport");
    let (ended, other) = (Uuid::new_v4(), Uuid::new_v4());
    transport.send_envelope(session_envelope(ended, 1, true, "ok", 0));
    transport.send_envelope(session_envelope(other, 1, true, "ok", 0));
    transport.send_envelope(session_envelope(ended, 3, false, "exited", 2));
    // An update that arrives late (lower seq) changes nothing but init.
    transport.send_envelope(session_envelope(ended, 2, false, "ok", 1));
    assert!(transport.flush(WAIT));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let envelope = requests[0].envelope.as_ref().expect("an envelope");
    // The test server keeps payloads as bytes.
    let sessions: Vec<sentry_core::protocol::SessionUpdate> = envelope
        .items
        .iter()
        .filter(|i| i.headers.ty == ItemType::Session)
        .map(|i| serde_json::from_slice(i.payload.as_raw().expect("bytes")).expect("session"))
        .collect();
    assert_eq!(sessions.len(), 2, "{sessions:#?}");
    let merged = sessions
        .iter()
        .find(|s| s.sid == ended)
        .expect("ended session");
    assert_eq!(merged.seq, 3);
    assert!(merged.init, "the first update's init is kept");
    assert_eq!(merged.status.as_str(), "exited");
    assert_eq!(merged.errors, 2);
    assert!(sessions.iter().any(|s| s.sid == other && s.init));
}

#[test]
fn a_full_session_batch_is_sent_at_once() {
    let server = TestServer::start();
    let transport = fast(server.dsn()).build().expect("transport");
    for _ in 0..100 {
        transport.send_envelope(raw_envelope(ItemType::Session, r#"{"status":"ok"}"#));
    }
    let requests = server.wait_for(1, WAIT);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].item_types().len(), 100);
}

#[test]
fn several_requests_are_in_flight_at_once() {
    let server = TestServer::start();
    server.set_default(Reply::ok().after(Duration::from_millis(300)));
    let transport = fast(server.dsn())
        .max_in_flight(4)
        .build()
        .expect("transport");
    for i in 0..4 {
        transport.send_envelope(event_envelope(&format!("c{i}")));
    }
    assert!(transport.flush(WAIT));
    assert!(
        server.max_concurrent() >= 2,
        "max concurrent {}",
        server.max_concurrent()
    );
}

#[test]
fn spool_survives_a_restart_and_is_drained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let down = DownPort::new();
    {
        let transport = fast(down.dsn())
            .max_retries(0)
            .spool_dir(dir.path())
            .build()
            .expect("transport");
        transport.send_envelope(event_envelope("spooled 1"));
        transport.send_envelope(event_envelope("spooled 2"));
        assert!(!transport.flush(WAIT), "receiver is down");
        transport.record_discard(DiscardReason::SampleRate, DataCategory::Error, 4);
        assert!(
            !transport.shutdown(WAIT),
            "the client report could not be sent"
        );
    }
    let files = spool_files(dir.path()).len();
    assert!(
        files >= 3,
        "two events and the report are on disk, found {files}"
    );

    // "Restart": a new transport on the same spool, receiver up.
    let server = down.bring_up();
    let transport = fast(server.dsn())
        .spool_dir(dir.path())
        .build()
        .expect("transport");
    let requests = server.wait_until(WAIT, |r| {
        event_messages(r).len() == 2 && !discards(r).is_empty()
    });
    let mut messages = event_messages(&requests);
    messages.sort();
    assert_eq!(messages, vec!["spooled 1", "spooled 2"]);
    assert_eq!(
        discards(&requests).get(&key("sample_rate", "error")),
        Some(&4)
    );
    let start = Instant::now();
    while !spool_files(dir.path()).is_empty() && start.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(spool_files(dir.path()).len(), 0, "spool drained");
    drop(transport);
}

/// A short-lived program (start, then shut down at once) sends what an
/// earlier run spooled: shutdown waits for the spool drain up to its
/// deadline, instead of cutting the first file off every start and
/// sending it again the next.
#[test]
fn a_shutdown_right_after_start_drains_the_spool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let messages: Vec<String> = (0..5).map(|i| format!("spooled {i}")).collect();
    let names: Vec<&str> = messages.iter().map(String::as_str).collect();
    let down = spool_offline_all(dir.path(), &names);
    assert_eq!(spool_files(dir.path()).len(), 5);

    let server = down.bring_up();
    let transport = fast(server.dsn())
        .spool_dir(dir.path())
        .build()
        .expect("transport");
    assert!(transport.shutdown(WAIT), "the spool was drained in time");
    drop(transport);
    assert_eq!(spool_files(dir.path()).len(), 0, "nothing left on disk");
    let mut sent = event_messages(&server.requests());
    sent.sort();
    assert_eq!(sent, messages, "each spooled event sent once");
}

#[test]
fn two_transports_draining_one_spool_send_each_file_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let expected: Vec<String> = (0..12).map(|i| format!("spooled {i:02}")).collect();
    let messages: Vec<&str> = expected.iter().map(String::as_str).collect();
    let down = spool_offline_all(dir.path(), &messages);
    assert_eq!(spool_files(dir.path()).len(), 12);
    // Two processes of one application start together on the same spool;
    // a slow receiver makes their drains overlap.
    let server = down.bring_up();
    server.set_default(Reply::ok().after(Duration::from_millis(40)));
    let start = || {
        fast(server.dsn())
            .client_reports(false)
            .spool_dir(dir.path())
            .build()
            .expect("transport")
    };
    let (a, b) = (start(), start());
    let requests = server.wait_until(WAIT, |r| event_messages(r).len() >= 12);
    let started = Instant::now();
    while !spool_files(dir.path()).is_empty() && started.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Anything sent twice would have arrived by now.
    std::thread::sleep(Duration::from_millis(200));
    drop((a, b));
    let mut sent = event_messages(&server.requests());
    sent.sort();
    assert_eq!(sent, expected, "each spooled envelope once");
    assert!(requests.len() >= 12);
}

#[test]
fn spooled_envelopes_are_sent_when_the_receiver_comes_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let down = DownPort::new();
    let transport = fast(down.dsn())
        .max_retries(0)
        .client_reports(false)
        .spool_dir(dir.path())
        .spool_retry_interval(Duration::from_millis(50))
        .build()
        .expect("transport");
    transport.send_envelope(event_envelope("offline"));
    assert!(!transport.flush(WAIT));
    assert_eq!(spool_files(dir.path()).len(), 1);
    let server = down.bring_up();
    let requests = server.wait_until(WAIT, |r| !event_messages(r).is_empty());
    assert_eq!(event_messages(&requests), vec!["offline"]);
}

#[test]
fn shutdown_spools_what_a_hanging_receiver_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start();
    let transport = hanging_one_at_a_time(&server)
        .client_reports(false)
        .spool_dir(dir.path())
        .build()
        .expect("transport");
    for i in 0..3 {
        transport.send_envelope(event_envelope(&format!("exit {i}")));
    }
    assert_eq!(server.wait_for(1, WAIT).len(), 1);
    assert!(!transport.shutdown(Duration::from_millis(200)));
    drop(transport);
    let port = server.port();
    drop(server);
    assert_eq!(spool_files(dir.path()).len(), 3, "in flight + queued");

    // "Restart" with the same DSN.
    let server = TestServer::start_on(port);
    let _transport = fast(server.dsn())
        .client_reports(false)
        .spool_dir(dir.path())
        .build()
        .expect("transport");
    let requests = server.wait_until(WAIT, |r| event_messages(r).len() == 3);
    let mut messages = event_messages(&requests);
    messages.sort();
    assert_eq!(messages, vec!["exit 0", "exit 1", "exit 2"]);
}

#[test]
fn corrupt_spool_files_are_skipped_without_panicking() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A valid file, written by a transport whose receiver is down.
    let down = spool_offline(dir.path(), "good");
    let good = spool_files(dir.path()).pop().expect("file");
    let spool = good.parent().expect("the DSN's spool directory");
    let bytes = std::fs::read(&good).expect("read");
    std::fs::write(spool.join("0000000000001-1-00000000.envelope"), b"garbage").expect("write");
    std::fs::write(
        spool.join("0000000000002-1-00000000.envelope"),
        &bytes[..bytes.len() / 2],
    )
    .expect("write");
    std::fs::write(spool.join("0000000000003-1-00000000.envelope"), b"").expect("write");

    let server = down.bring_up();
    let _transport = fast(server.dsn())
        .client_reports(false)
        .spool_dir(dir.path())
        .build()
        .expect("transport");
    let requests = server.wait_until(WAIT, |r| !event_messages(r).is_empty());
    assert_eq!(event_messages(&requests), vec!["good"]);
    let start = Instant::now();
    while !spool_files(dir.path()).is_empty() && start.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(spool_files(dir.path()).len(), 0, "bad files are removed");
    assert_eq!(server.requests().len(), 1, "only the good file was sent");
}

#[test]
fn spool_budget_is_respected_and_overflow_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let down = DownPort::new();
    let transport = fast(down.dsn())
        .max_retries(0)
        .spool_dir(dir.path())
        .spool_max_bytes(600)
        .build()
        .expect("transport");
    for i in 0..5 {
        transport.send_envelope(event_envelope(&format!("budget {i}")));
    }
    assert!(!transport.flush(WAIT));
    let total: u64 = spool_files(dir.path())
        .iter()
        .map(|f| std::fs::metadata(f).expect("meta").len())
        .sum();
    assert!(total <= 600, "spool holds {total} bytes");
    assert!(spool_files(dir.path()).len() < 5);
}

#[test]
fn blocking_flush_inside_a_current_thread_runtime_does_not_deadlock() {
    let server = TestServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let transport = fast(server.dsn()).build().expect("transport");
        transport.send_envelope(event_envelope("in runtime"));
        assert!(
            transport.flush(WAIT),
            "blocking flush from inside the runtime"
        );
        transport.send_envelope(event_envelope("async"));
        assert!(transport.flush_async(WAIT).await);
        assert!(transport.shutdown(WAIT));
    });
    assert_eq!(
        event_messages(&server.requests()),
        vec!["in runtime", "async"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_flush_waits_without_blocking_and_times_out() {
    let server = TestServer::start();
    server.script([Reply::ok(), Reply::Hang]);
    let transport = fast(server.dsn()).build().expect("transport");
    transport.send_envelope(event_envelope("a"));
    assert!(transport.flush_async(WAIT).await);
    transport.send_envelope(event_envelope("b"));
    let start = Instant::now();
    assert!(!transport.flush_async(Duration::from_millis(150)).await);
    assert!(start.elapsed() < Duration::from_secs(2));
    tokio::task::spawn_blocking(move || drop(transport))
        .await
        .expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_does_not_wait_for_work_queued_after_it() {
    let server = TestServer::start();
    server.script([Reply::ok().after(Duration::from_millis(200))]);
    // One request at a time, so the server answers them in queue order
    // (the first answer is the slow 200).
    let transport = hanging_one_at_a_time(&server).build().expect("transport");
    transport.send_envelope(event_envelope("before"));
    let flushed = {
        let flush = transport.flush_async(WAIT);
        tokio::pin!(flush);
        // One poll starts the flush; then steady traffic to a receiver that
        // never answers arrives behind it.
        assert!(tokio::time::timeout(Duration::ZERO, &mut flush)
            .await
            .is_err());
        transport.send_envelope(event_envelope("after 1"));
        transport.send_envelope(event_envelope("after 2"));
        flush.await
    };
    assert!(
        flushed,
        "the flush waited for envelopes sent after it began"
    );
    assert_eq!(event_messages(&server.requests())[0], "before");
    assert_eq!(transport.pending(), 2, "the later envelopes are still out");
    tokio::task::spawn_blocking(move || drop(transport))
        .await
        .expect("drop");
}

#[test]
fn envelopes_after_shutdown_are_ignored() {
    let server = TestServer::start();
    let transport = fast(server.dsn()).build().expect("transport");
    assert!(transport.shutdown(WAIT));
    transport.send_envelope(event_envelope("late"));
    assert_eq!(transport.pending(), 0);
    assert!(server.requests().is_empty());
}

#[test]
fn report_requests_do_not_pile_up_while_the_receiver_hangs() {
    let server = TestServer::start();
    let transport = hanging_one_at_a_time(&server).build().expect("transport");
    // Every flush finds new counts to report; a report that fails puts
    // them back, so each flush had a batch to send.
    for _ in 0..30 {
        transport.record_discard(DiscardReason::BeforeSend, DataCategory::Error, 1);
        transport.flush(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.max_concurrent(), 1, "one batch request at a time");
    let _ = transport.shutdown(Duration::from_millis(200));
}

#[test]
fn a_flush_during_shutdown_is_answered_and_gives_its_token_back() {
    let server = TestServer::start();
    // A slow answer keeps the shutdown busy while the flush arrives.
    server.script([Reply::ok().after(Duration::from_millis(400))]);
    let transport = std::sync::Arc::new(fast(server.dsn()).build().expect("transport"));
    transport.send_envelope(event_envelope("slow"));
    std::thread::sleep(Duration::from_millis(100));
    let closing = transport.clone();
    let shutdown = std::thread::spawn(move || closing.shutdown(Duration::from_secs(3)));
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    let flushed = transport.flush(Duration::from_secs(3));
    assert!(shutdown.join().expect("shutdown thread"));
    assert!(flushed, "not answered within {:?}", start.elapsed());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(transport.pending(), 0, "the flush's token was kept");
}

/// A redirect is the receiver's answer: not followed (a 302 would turn the
/// POST into an empty GET that "succeeds", a 307 would carry the body and
/// the key to another host), not retried, counted as `send_error`.
#[test]
fn redirects_are_not_followed() {
    let elsewhere = TestServer::start();
    for status in [302, 307] {
        let server = TestServer::start();
        let location = format!("http://localhost:{}/collect", elsewhere.port());
        server.script([Reply::status(status).with_header("Location", location)]);
        let transport = fast(server.dsn()).build().expect("transport");
        transport.send_envelope(event_envelope("redirected"));
        // Rejected (like a 400), so handled: the flush succeeds, and the
        // next one sends the report that counts it.
        assert!(transport.flush(WAIT), "{status}: handled");
        assert!(transport.flush(WAIT), "{status}: the report goes out");
        let requests = server.requests();
        assert_eq!(
            requests
                .iter()
                .filter(|r| r.path.contains("envelope"))
                .count(),
            2,
            "{status}: the envelope once, then the report, both here"
        );
        let counts = discards(&requests);
        assert_eq!(
            counts.get(&key("send_error", "error")),
            Some(&1),
            "{status}"
        );
    }
    assert!(
        elsewhere.requests().is_empty(),
        "nothing went to the Location"
    );
}

/// A transaction the transport drops counts its spans too (PROTOCOL.md
/// §2.4: itself and one per child), as sentry-core counts one its hook
/// drops.
#[test]
fn a_dropped_transaction_counts_its_spans() {
    let server = TestServer::start();
    server.script([Reply::ok().with_header("X-Sentry-Rate-Limits", "60:transaction:key")]);
    let transport = fast(server.dsn()).build().expect("transport");
    transport.send_envelope(event_envelope("sets the limit"));
    assert!(transport.flush(WAIT));
    transport.send_envelope(raw_envelope(
        ItemType::Transaction,
        r#"{"type":"transaction","start_timestamp":1,"timestamp":2,"spans":[{},{},{}]}"#,
    ));
    assert!(transport.flush(WAIT));
    assert!(transport.flush(WAIT));
    let counts = discards(&server.requests());
    assert_eq!(
        counts.get(&key("ratelimit_backoff", "transaction")),
        Some(&1)
    );
    assert_eq!(counts.get(&key("ratelimit_backoff", "span")), Some(&4));
}

/// An async flush that timed out leaves the failure it saw for the next
/// one to report, as the blocking flush does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_flush_that_timed_out_leaves_the_failure_to_the_next() {
    let server = TestServer::start();
    server.script([
        Reply::status(500),
        Reply::ok().after(Duration::from_millis(600)),
    ]);
    let transport = fast(server.dsn())
        .max_retries(0)
        .client_reports(false)
        .build()
        .expect("transport");
    transport.send_envelope(event_envelope("lost"));
    transport.send_envelope(event_envelope("slow"));
    assert!(!transport.flush_async(Duration::from_millis(100)).await);
    assert!(
        !transport.flush_async(WAIT).await,
        "the lost envelope is still reported"
    );
    assert!(transport.flush_async(WAIT).await);
    tokio::task::spawn_blocking(move || drop(transport))
        .await
        .expect("drop");
}

/// At a shutdown deadline, what a full spool cannot take is counted as
/// `cache_overflow` in the report spooled for the next start.
#[test]
fn shutdown_counts_what_a_full_spool_cannot_take() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start();
    let transport = hanging_one_at_a_time(&server)
        .spool_dir(dir.path())
        .spool_max_bytes(2000)
        .build()
        .expect("transport");
    let mut big = event_envelope("too big for the spool");
    big.add_item(EnvelopeItem::raw(ItemType::Attachment, vec![b'x'; 5000]));
    transport.send_envelope(big);
    assert_eq!(server.wait_for(1, WAIT).len(), 1);
    let counts = report_after_restart(transport, server, dir.path());
    assert_eq!(
        counts.get(&key("cache_overflow", "error")),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(
        counts.get(&key("cache_overflow", "attachment")),
        Some(&5000),
        "{counts:?}"
    );
}

/// A client name no HTTP header can hold is refused when the transport is
/// built, not found out by every request failing as if the network were
/// down.
#[test]
fn a_client_name_that_cannot_be_a_header_is_refused() {
    let server = TestServer::start();
    for name in ["my-sdk/1.0\n", "sdk\u{7f}", "a\rb"] {
        let err = fast(server.dsn())
            .client_name(name)
            .build()
            .err()
            .unwrap_or_else(|| panic!("{name:?} was accepted"));
        assert!(err.to_string().contains("client_name"), "{err}");
    }
    assert!(fast(server.dsn())
        .client_name("my-sdk/1.2.3")
        .build()
        .is_ok());
}

/// Each DSN spools apart: a transport with another DSN on the same spool
/// directory never sends what was spooled for the first (a DSN changed
/// from a local receiver to production must not carry its envelopes over).
#[test]
fn envelopes_spooled_for_one_dsn_never_go_to_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let down = spool_offline(dir.path(), "for the first dsn");
    assert_eq!(spool_files(dir.path()).len(), 1);

    let other = TestServer::start();
    let transport = fast(other.dsn())
        .client_reports(false)
        .spool_dir(dir.path())
        .spool_retry_interval(Duration::from_millis(20))
        .build()
        .expect("transport");
    transport.send_envelope(event_envelope("for the second dsn"));
    assert!(transport.flush(WAIT));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        event_messages(&other.requests()),
        vec!["for the second dsn"]
    );
    assert_eq!(
        spool_files(dir.path()).len(),
        1,
        "the first DSN's file stays"
    );
    drop(transport);

    let first = down.bring_up();
    let _transport = fast(first.dsn())
        .client_reports(false)
        .spool_dir(dir.path())
        .build()
        .expect("transport");
    let requests = first.wait_until(WAIT, |r| !event_messages(r).is_empty());
    assert_eq!(event_messages(&requests), vec!["for the first dsn"]);
}

/// A client report cut off in flight at a shutdown deadline, whose
/// envelope the spool cannot take, gives its counts back: the report
/// spooled last carries them with the loss itself.
#[test]
fn a_client_report_lost_at_shutdown_gives_its_counts_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start();
    let transport = hanging_one_at_a_time(&server)
        .spool_dir(dir.path())
        .spool_max_bytes(2000)
        .build()
        .expect("transport");
    transport.record_discard(DiscardReason::SampleRate, DataCategory::Transaction, 7);
    for _ in 0..40 {
        transport.send_envelope(session_envelope(Uuid::new_v4(), 1, true, "ok", 0));
    }
    assert!(!transport.flush(Duration::from_millis(300)));
    let held = server.wait_for(1, WAIT);
    assert!(
        held[0].item_types().iter().any(|t| t == "client_report"),
        "the report went out with the sessions: {:?}",
        held[0].item_types()
    );
    let counts = report_after_restart(transport, server, dir.path());
    assert_eq!(
        counts.get(&key("sample_rate", "transaction")),
        Some(&7),
        "{counts:?}"
    );
    assert_eq!(
        counts.get(&key("cache_overflow", "session")),
        Some(&40),
        "{counts:?}"
    );
}

#[test]
fn two_rate_limit_header_lines_are_one_list() {
    let server = TestServer::start();
    server.script([Reply::ok()
        .with_header("x-sentry-rate-limits", "60:error:key")
        .with_header("x-sentry-rate-limits", "60:transaction:key")]);
    let transport = fast(server.dsn()).build().expect("transport");
    transport.send_envelope(event_envelope("first"));
    assert!(transport.flush(WAIT));
    assert!(transport.rate_limited_for("error").is_some());
    assert!(transport.rate_limited_for("transaction").is_some());
}

#[test]
fn two_transports_spooling_to_one_directory_keep_every_envelope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let down = DownPort::new();
    let build = || {
        fast(down.dsn())
            .max_retries(0)
            .client_reports(false)
            .max_in_flight(1)
            .spool_dir(dir.path())
            .build()
            .expect("transport")
    };
    // A re-init: two transports for one DSN, spooling at the same time.
    let (a, b) = (build(), build());
    for i in 0..30 {
        a.send_envelope(event_envelope(&format!("a{i}")));
        b.send_envelope(event_envelope(&format!("b{i}")));
    }
    std::thread::scope(|s| {
        s.spawn(|| a.flush(WAIT));
        s.spawn(|| b.flush(WAIT));
    });
    assert_eq!(
        spool_files(dir.path()).len(),
        60,
        "a spool file was overwritten"
    );
}

#[test]
fn huge_queue_and_in_flight_sizes_are_capped_not_a_panic() {
    let server = TestServer::start();
    let transport = fast(server.dsn())
        .queue_size(usize::MAX)
        .max_in_flight(usize::MAX)
        .build()
        .expect("transport");
    transport.send_envelope(event_envelope("delivered"));
    assert!(transport.flush(WAIT), "the worker is alive");
    assert_eq!(event_messages(&server.requests()), ["delivered"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_async_flush_leaves_the_failure_to_the_next() {
    let server = TestServer::start();
    server.script([Reply::status(500).after(Duration::from_millis(300))]);
    let transport = fast(server.dsn())
        .max_retries(0)
        .client_reports(false)
        .build()
        .expect("transport");
    transport.send_envelope(event_envelope("lost"));
    // Given up on before the envelope fails.
    let _ = tokio::time::timeout(Duration::from_millis(50), transport.flush_async(WAIT)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !transport.flush_async(WAIT).await,
        "the lost envelope is reported by the next flush"
    );
    tokio::task::spawn_blocking(move || drop(transport))
        .await
        .expect("drop");
}

/// A spool directory that cannot be made (the path is a file, or lies below
/// one: even root cannot create it) leaves the transport sending over HTTP
/// without a spool, built directly or by the factory that `init` installs
/// (which used to fall back to a transport that drops everything).
#[test]
fn an_unusable_spool_dir_leaves_the_transport_sending_over_http() {
    let parent = tempfile::tempdir().expect("tempdir");
    let file = parent.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let server = TestServer::start();
    for dir in [file.clone(), file.join("spool")] {
        let transport = fast(server.dsn())
            .spool_dir(&dir)
            .build()
            .expect("built without its spool");
        assert_eq!(transport.spool_dir(), None, "{}", dir.display());
        transport.send_envelope(event_envelope("over http"));
        assert!(transport.flush(WAIT), "{}", dir.display());
    }
    let options = sentry_core::ClientOptions {
        dsn: Some(server.dsn()),
        ..Default::default()
    };
    let factory = sentry_transport::HttpTransportFactory::new(move |b| b.spool_dir(&file));
    let transport = sentry_core::transport::TransportFactory::create_transport(&factory, &options);
    transport.send_envelope(event_envelope("through the factory"));
    assert!(transport.flush(WAIT));
    assert_eq!(
        event_messages(&server.requests()),
        ["over http", "over http", "through the factory"]
    );
}

/// Where a child scenario below finds its spool directory.
const CHILD_SPOOL_DIR: &str = "SENTRY_TRANSPORT_TEST_SPOOL_DIR";

/// Runs the ignored test `name` of this binary alone in a child process
/// with `dir` as its spool directory; returns the lines the transport
/// printed on stderr.
fn transport_lines_of_child(name: &str, dir: &std::path::Path) -> Vec<String> {
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_SPOOL_DIR, dir)
        .env_remove("TRANSPORT_DEBUG")
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the child failed:\n{stderr}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "the child ran its scenario"
    );
    stderr
        .lines()
        .filter(|l| l.starts_with("[sentry-transport]"))
        .map(str::to_owned)
        .collect()
}

/// Three envelopes the receiver never takes and a report at shutdown, from
/// a transport whose spool directory is `CHILD_SPOOL_DIR`; `break_spool`
/// runs once the transport is built. Nothing without that variable (run
/// with `--include-ignored` rather than by its parent test).
fn send_three_to_a_down_receiver(break_spool: impl FnOnce(&std::path::Path)) {
    let Some(dir) = std::env::var_os(CHILD_SPOOL_DIR).map(std::path::PathBuf::from) else {
        return;
    };
    let down = DownPort::new();
    let transport = fast(down.dsn())
        .debug(false)
        .max_retries(0)
        .spool_dir(&dir)
        .build()
        .expect("transport");
    break_spool(&dir);
    for i in 0..3 {
        transport.send_envelope(event_envelope(&format!("lost {i}")));
    }
    assert!(!transport.flush(WAIT));
    transport.record_discard(DiscardReason::SampleRate, DataCategory::Error, 1);
    assert!(!transport.shutdown(WAIT));
}

#[test]
#[ignore = "a child scenario of a_spool_dir_that_cannot_be_made_is_reported_once"]
fn child_spool_dir_that_cannot_be_made() {
    send_three_to_a_down_receiver(|_| {});
}

#[test]
#[ignore = "a child scenario of a_spool_that_breaks_while_running_is_reported_once"]
fn child_spool_that_breaks_while_running() {
    send_three_to_a_down_receiver(|dir| {
        // The DSN's spool directory becomes a file: every write fails.
        let subdir = std::fs::read_dir(dir)
            .expect("spool dir")
            .next()
            .expect("the DSN's directory")
            .expect("entry")
            .path();
        std::fs::remove_dir_all(&subdir).expect("remove");
        std::fs::write(&subdir, b"not a directory").expect("write");
    });
}

/// The problem is printed once (as the crate's warnings are, on stderr),
/// not once per envelope, and the transport runs on.
#[test]
fn a_spool_dir_that_cannot_be_made_is_reported_once() {
    let parent = tempfile::tempdir().expect("tempdir");
    let file = parent.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let lines = transport_lines_of_child("child_spool_dir_that_cannot_be_made", &file);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("spool"), "{lines:#?}");
    assert!(lines[0].contains(&*file.to_string_lossy()), "{lines:#?}");
}

/// A spool that fails after the start (its directory removed, the disk
/// full) is reported once for four failed writes, not once each.
#[test]
fn a_spool_that_breaks_while_running_is_reported_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = transport_lines_of_child("child_spool_that_breaks_while_running", dir.path());
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("spool"), "{lines:#?}");
}

/// Sorted `(reason, category) = quantity` of the client reports in
/// `requests`, for comparing whole reports.
fn report_counts(requests: &[common::Recorded]) -> Vec<(String, String, u64)> {
    discards(requests)
        .into_iter()
        .map(|((reason, category), n)| (reason, category, n))
        .collect()
}

fn count(reason: &str, category: &str, n: u64) -> (String, String, u64) {
    (reason.to_owned(), category.to_owned(), n)
}

/// Receivers never rate limit client reports (Relay does not, nor ours): a
/// 429 for an envelope that carries one comes from something in between (a
/// proxy, an overloaded receiver), and nobody counted the report. Its
/// counts go out again once the limit is over, merged with newer ones, and
/// once delivered never again. The session it went with was answered for
/// (the server counts what it limits) and is not sent again.
#[test]
fn a_client_report_answered_429_is_sent_again_with_newer_counts() {
    let server = TestServer::start();
    server.script([Reply::status(429).with_header("retry-after", "1")]);
    let transport = fast(server.dsn()).build().expect("transport");
    transport.record_discard(DiscardReason::SampleRate, DataCategory::Error, 3);
    transport.send_envelope(session_envelope(Uuid::new_v4(), 1, true, "ok", 0));
    assert!(transport.flush(WAIT), "a 429 is final");
    let first = server.requests();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].item_types(), ["session", "client_report"]);
    assert_eq!(report_counts(&first), [count("sample_rate", "error", 3)]);

    transport.record_discard(DiscardReason::SampleRate, DataCategory::Error, 2);
    transport.record_discard(DiscardReason::BeforeSend, DataCategory::Transaction, 1);
    assert!(transport.flush(WAIT));
    assert_eq!(server.requests().len(), 1, "held back while limited");
    std::thread::sleep(Duration::from_millis(1100));
    assert!(transport.flush(WAIT));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].item_types(), ["client_report"]);
    assert_eq!(
        report_counts(&requests[1..]),
        [
            count("before_send", "transaction", 1),
            count("sample_rate", "error", 5)
        ]
    );
    assert!(transport.flush(WAIT));
    assert_eq!(
        server.requests().len(),
        2,
        "delivered counts are not sent again"
    );
}

/// A client report spooled at shutdown (the receiver was down) keeps its
/// counts when, sent on the next start, it is answered 429 or held back by
/// the limit an earlier spooled envelope's 429 set: its file is removed,
/// and its counts go out with the next report, once.
#[test]
fn a_spooled_client_report_refused_by_a_rate_limit_keeps_its_counts() {
    for event_first in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let down = DownPort::new();
        {
            let transport = fast(down.dsn())
                .max_retries(0)
                .spool_dir(dir.path())
                .build()
                .expect("transport");
            if event_first {
                transport.send_envelope(event_envelope("spooled first"));
                assert!(!transport.flush(WAIT));
            }
            transport.record_discard(DiscardReason::SampleRate, DataCategory::Error, 4);
            assert!(!transport.shutdown(WAIT));
        }
        let spooled = if event_first { 2 } else { 1 };
        assert_eq!(spool_files(dir.path()).len(), spooled);

        let server = down.bring_up();
        server.script([Reply::status(429).with_header("retry-after", "1")]);
        let transport = fast(server.dsn())
            .spool_dir(dir.path())
            .build()
            .expect("transport");
        let first = server.wait_for(1, WAIT);
        let refused = if event_first {
            "event"
        } else {
            "client_report"
        };
        assert_eq!(
            first[0].item_types(),
            [refused],
            "event_first: {event_first}"
        );
        let start = Instant::now();
        while !spool_files(dir.path()).is_empty() && start.elapsed() < WAIT {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            spool_files(dir.path()).len(),
            0,
            "event_first: {event_first}"
        );
        std::thread::sleep(Duration::from_millis(1100));
        assert!(transport.flush(WAIT));
        let requests = server.requests();
        let delivered = &requests[1..];
        assert_eq!(delivered.len(), 1, "event_first: {event_first}");
        assert_eq!(
            report_counts(delivered),
            [count("sample_rate", "error", 4)],
            "event_first: {event_first}"
        );
        assert!(transport.flush(WAIT));
        assert_eq!(server.requests().len(), requests.len(), "sent once");
    }
}

/// The size of the spool file of `event_envelope("event N")`.
fn spooled_event_size() -> u64 {
    let dir = tempfile::tempdir().expect("tempdir");
    spool_offline(dir.path(), "event 0");
    let files = spool_files(dir.path());
    assert_eq!(files.len(), 1);
    std::fs::metadata(&files[0]).expect("meta").len()
}

/// The spool's budget is what its directory holds, whoever wrote or sent
/// its files: two transports sharing a directory (two processes of one
/// application, or a re-init) share one budget instead of having one each,
/// and a directory that another drained takes files again. (A spool
/// measures the directory again when its count is older than half a second.)
#[test]
fn transports_sharing_a_spool_directory_share_its_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let budget = spooled_event_size() * 5 / 2; // two events, not three
    let server = TestServer::start();
    server.set_default(Reply::status(500));
    let build = || {
        fast(server.dsn())
            .max_retries(0)
            .client_reports(false)
            .spool_dir(dir.path())
            .spool_max_bytes(budget)
            .build()
            .expect("transport")
    };
    let rescan = Duration::from_millis(600);
    // Both measure the directory empty.
    let (a, b) = (build(), build());
    a.send_envelope(event_envelope("event 1"));
    a.send_envelope(event_envelope("event 2"));
    assert!(!a.flush(WAIT));
    assert_eq!(spool_files(dir.path()).len(), 2, "a fills the budget");
    std::thread::sleep(rescan);
    b.send_envelope(event_envelope("event 3"));
    assert!(!b.flush(WAIT));
    assert_eq!(spool_files(dir.path()).len(), 2, "b finds it full");

    // A third drains the directory while the receiver is back...
    server.set_default(Reply::ok());
    let c = build();
    let start = Instant::now();
    while !spool_files(dir.path()).is_empty() && start.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(spool_files(dir.path()).len(), 0);
    // ...and the one that filled it can spool there again.
    server.set_default(Reply::status(500));
    std::thread::sleep(rescan);
    a.send_envelope(event_envelope("event 4"));
    assert!(!a.flush(WAIT));
    assert_eq!(spool_files(dir.path()).len(), 1, "a spools again");
    drop((a, b, c));
}

/// A `metric_bucket` limit scoped to namespaces holds back only the metric
/// buckets of those namespaces (an SDK's are all `custom`): not every
/// category when it names none, not every metric bucket when it names
/// another namespace.
#[test]
fn a_metric_limit_for_some_namespaces_holds_back_only_those_buckets() {
    let statsd = || raw_envelope(ItemType::Statsd, "requests@none:1|c|T1717000000");
    let server = TestServer::start();
    server.script([
        Reply::ok().with_header(
            "x-sentry-rate-limits",
            "60:metric_bucket:organization:quota_exceeded:transactions;spans",
        ),
        Reply::ok(), // the metric bucket
        Reply::ok().with_header("x-sentry-rate-limits", "60::organization::custom"),
    ]);
    let transport = fast(server.dsn())
        .max_in_flight(1)
        .build()
        .expect("transport");
    transport.send_envelope(event_envelope("first"));
    assert!(transport.flush(WAIT));
    assert_eq!(
        transport.rate_limited_for("metric_bucket"),
        None,
        "other namespaces"
    );
    transport.send_envelope(statsd());
    transport.send_envelope(event_envelope("second"));
    assert!(transport.flush(WAIT));
    assert_eq!(
        with_item(&server.requests(), "statsd").len(),
        1,
        "not held back"
    );
    assert!(
        transport.rate_limited_for("metric_bucket").is_some(),
        "custom"
    );
    for category in ["error", "transaction", "session", "internal"] {
        assert_eq!(transport.rate_limited_for(category), None, "{category}");
    }
    transport.send_envelope(statsd());
    transport.send_envelope(event_envelope("third"));
    assert!(transport.flush(WAIT));
    let requests = server.requests();
    assert_eq!(with_item(&requests, "statsd").len(), 1, "held back now");
    assert_eq!(event_messages(&requests), ["first", "second", "third"]);
    assert_eq!(
        discards(&requests).get(&key("ratelimit_backoff", "metric_bucket")),
        Some(&1)
    );
}
