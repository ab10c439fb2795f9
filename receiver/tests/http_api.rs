//! The ingestion endpoints over real HTTP on loopback: authentication,
//! encodings, framing, limits, CORS and the response format
//! (PROTOCOL.md §1–§4, §11).

use std::io::Write;
use std::time::Duration;

use base64::Engine as _;
use receiver::testing::{post, request, send_raw, TestResponse, TestServer};

const EVENT_ENVELOPE: &[u8] = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
{\"type\":\"event\",\"length\":41}\n\
{\"message\":\"hello world\",\"level\":\"error\"}\n";

fn auth(server: &TestServer) -> String {
    format!(
        "Sentry sentry_key={}, sentry_version=7, sentry_client=test/1.0",
        server.public_key()
    )
}

fn send(server: &TestServer, headers: &[(&str, &str)], body: &[u8]) -> TestResponse {
    post(&server.envelope_url(), headers, body).expect("request")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
        w.write_all(data).expect("br");
    }
    out
}

#[test]
fn accepted_envelope_answers_its_event_id_and_is_stored() {
    let server = TestServer::start();
    let r = send(
        &server,
        &[("X-Sentry-Auth", &auth(&server))],
        EVENT_ENVELOPE,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        serde_json::json!({"id": "9ec79c33ec9942ab8353589fcb2e04dc"})
    );
    // The reply comes after the commit: the event is already readable.
    let events = server.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_id, "9ec79c33ec9942ab8353589fcb2e04dc");
    assert_eq!(events[0].title, "hello world");
    let stored = server
        .event_json("9ec79c33ec9942ab8353589fcb2e04dc")
        .expect("payload");
    assert_eq!(stored["message"], "hello world");
    assert!(stored["received"].is_number());
}

#[test]
fn every_auth_source_is_accepted() {
    let server = TestServer::start();
    let key = server.public_key().to_owned();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    let cases: Vec<(Vec<(&str, String)>, String)> = vec![
        (
            vec![("X-Sentry-Auth", auth(&server))],
            server.envelope_url(),
        ),
        (
            vec![("Authorization", format!("Sentry sentry_key={key}"))],
            server.envelope_url(),
        ),
        (
            vec![("Authorization", format!("Basic {basic}"))],
            server.envelope_url(),
        ),
        (
            vec![],
            format!(
                "{}?sentry_version=7&sentry_key={key}&sentry_client=sentry.javascript.node%2F9.0.0",
                server.envelope_url()
            ),
        ),
    ];
    for (headers, url) in cases {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = post(&url, &h, b"{}\n{\"type\":\"event\"}\n{\"message\":\"x\"}").expect("post");
        assert_eq!(
            r.status,
            200,
            "{headers:?} {url}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    assert_eq!(server.events().len(), 4);
}

#[test]
fn envelope_header_dsn_authenticates_when_nothing_else_does() {
    let server = TestServer::start();
    let body = format!(
        "{{\"dsn\":\"{}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"via dsn\"}}\n",
        server.dsn()
    );
    let r = send(&server, &[], body.as_bytes());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // Both present and consistent: fine. Both present and different: 400.
    let r = send(
        &server,
        &[("X-Sentry-Auth", &auth(&server))],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200);
    let other = format!("{{\"dsn\":\"http://{}@127.0.0.1:1/99\"}}\n", "f".repeat(32));
    let r = send(
        &server,
        &[("X-Sentry-Auth", &auth(&server))],
        other.as_bytes(),
    );
    assert_eq!(r.status, 400);
    // Only a broken dsn: 401.
    let r = send(&server, &[], b"{\"dsn\":\"not a dsn\"}\n");
    assert_eq!(r.status, 401);
    // An empty port is the scheme's default (as the Python SDK reads it):
    // the DSN still names the key and project.
    let empty_port = format!(
        "{{\"dsn\":\"http://{}@127.0.0.1:/{}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"via dsn\"}}\n",
        server.public_key(),
        server.project_id()
    );
    let r = send(&server, &[], empty_port.as_bytes());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = send(
        &server,
        &[("X-Sentry-Auth", &auth(&server))],
        empty_port.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// URL, headers, expected status.
type Case = (String, Vec<(&'static str, String)>, u16);

#[test]
fn auth_errors_have_the_relay_statuses() {
    let server = TestServer::builder()
        .project(7, "77777777777777777777777777777777")
        .start();
    let key = server.public_key().to_owned();
    let cases: Vec<Case> = vec![
        // No auth anywhere.
        (server.envelope_url(), vec![], 401),
        // Two payloads at once.
        (
            format!("{}?sentry_key={key}", server.envelope_url()),
            vec![("X-Sentry-Auth", auth(&server))],
            401,
        ),
        // Malformed header.
        (
            server.envelope_url(),
            vec![("X-Sentry-Auth", "Bearer x".into())],
            401,
        ),
        (
            server.envelope_url(),
            vec![(
                "X-Sentry-Auth",
                format!("Sentry sentry_key={key}, sentry_version=abc"),
            )],
            401,
        ),
        // Protocol version above 7.
        (
            server.envelope_url(),
            vec![(
                "X-Sentry-Auth",
                format!("Sentry sentry_key={key}, sentry_version=8"),
            )],
            400,
        ),
        // Malformed key.
        (
            server.envelope_url(),
            vec![("X-Sentry-Auth", "Sentry sentry_key=abc".into())],
            400,
        ),
        // Unknown key.
        (
            server.envelope_url(),
            vec![(
                "X-Sentry-Auth",
                format!("Sentry sentry_key={}", "0".repeat(32)),
            )],
            403,
        ),
        // A key of another project.
        (
            server.envelope_url(),
            vec![(
                "X-Sentry-Auth",
                "Sentry sentry_key=77777777777777777777777777777777".into(),
            )],
            403,
        ),
        // Non-numeric project id.
        (
            format!("{}api/abc/envelope/", server.url() + "/"),
            vec![("X-Sentry-Auth", auth(&server))],
            400,
        ),
    ];
    for (url, headers, status) in cases {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = post(&url, &h, EVENT_ENVELOPE).expect("post");
        assert_eq!(
            r.status,
            status,
            "{url} {headers:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
        // Errors are JSON with detail and causes, and X-Sentry-Error.
        let json = r.json();
        assert!(json["detail"].is_string(), "{json}");
        assert!(json["causes"].is_array(), "{json}");
        assert!(r.header("x-sentry-error").is_some());
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    }
    assert!(server.events().is_empty());
}

#[test]
fn every_content_encoding_decodes() {
    let server = TestServer::start();
    let a = auth(&server);
    let mut deflate = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    deflate.write_all(EVENT_ENVELOPE).expect("zlib");
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("identity", EVENT_ENVELOPE.to_vec()),
        ("none", EVENT_ENVELOPE.to_vec()),
        ("gzip", gzip(EVENT_ENVELOPE)),
        ("x-gzip", gzip(EVENT_ENVELOPE)),
        ("deflate", deflate.finish().expect("zlib")),
        ("br", brotli(EVENT_ENVELOPE)),
        ("zstd", zstd::encode_all(EVENT_ENVELOPE, 3).expect("zstd")),
    ];
    for (encoding, body) in bodies {
        let r = send(
            &server,
            &[("X-Sentry-Auth", &a), ("Content-Encoding", encoding)],
            &body,
        );
        assert_eq!(
            r.status,
            200,
            "{encoding}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    // Same event id every time: stored once.
    assert_eq!(server.events().len(), 1);

    let r = send(
        &server,
        &[("X-Sentry-Auth", &a), ("Content-Encoding", "compress")],
        EVENT_ENVELOPE,
    );
    assert_eq!(r.status, 415);
    let r = send(
        &server,
        &[("X-Sentry-Auth", &a), ("Content-Encoding", "gzip")],
        b"not gzip",
    );
    assert_eq!(r.status, 400);
}

#[test]
fn decompression_bomb_is_413_and_stops_early() {
    let server = TestServer::builder()
        .configure(|c| c.limits.max_decoded_body = 1 << 20)
        .start();
    // 64 MiB of zeros gzip to ~64 KiB; decoding stops at 1 MiB.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        e.write_all(&zeros).expect("gzip");
    }
    let bomb = e.finish().expect("gzip");
    let started = std::time::Instant::now();
    let r = send(
        &server,
        &[
            ("X-Sentry-Auth", &auth(&server)),
            ("Content-Encoding", "gzip"),
        ],
        &bomb,
    );
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn chunked_bodies_without_content_type_are_accepted() {
    let server = TestServer::start();
    // Node style: query auth, chunked, no Content-Type, no lengths, no trailing newline.
    let envelope = b"{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"sdk\":{\"name\":\"sentry.javascript.node\",\"version\":\"9.0.0\"}}\n{\"type\":\"event\"}\n{\"message\":\"from node\",\"timestamp\":1.7e9}";
    let mut chunked = Vec::new();
    for part in envelope.chunks(17) {
        chunked.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        chunked.extend_from_slice(part);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let url = format!(
        "{}?sentry_version=7&sentry_key={}",
        server.envelope_url(),
        server.public_key()
    );
    let r = request("POST", &url, &[("Transfer-Encoding", "chunked")], &chunked).expect("post");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["id"], "0123456789abcdef0123456789abcdef");
}

/// A 30 MB minidump sent uncompressed fits, as in Relay (whose envelope
/// limit is 100 MiB): the raw limit used to be 20 MiB.
#[test]
fn an_envelope_with_a_30_mb_attachment_is_stored() {
    let server = TestServer::start();
    let event_id = "0123456789abcdef0123456789abcdef";
    let dump: Vec<u8> = (0..30_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut body = format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"crashed\"}}\n\
         {{\"type\":\"attachment\",\"length\":{},\"filename\":\"crash.dmp\",\
         \"attachment_type\":\"event.attachment\"}}\n",
        dump.len()
    )
    .into_bytes();
    body.extend_from_slice(&dump);
    body.push(b'\n');
    let r = request(
        "POST",
        &server.envelope_url(),
        &[("X-Sentry-Auth", &auth(&server))],
        &body,
    )
    .expect("post");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let attachments: serde_json::Value = server
        .api_json(&format!(
            "/api/0/projects/local/{}/events/{event_id}/attachments/",
            server.project_id()
        ))
        .expect("attachments");
    assert_eq!(attachments[0]["size"], 30_000_000, "{attachments}");
}

#[test]
fn chunked_body_over_the_raw_limit_is_413() {
    let server = TestServer::builder()
        .configure(|c| c.limits.max_raw_body = 1000)
        .start();
    let mut chunked = Vec::new();
    for _ in 0..20 {
        chunked.extend_from_slice(b"64\r\n");
        chunked.extend_from_slice(&[b' '; 100]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let r = request(
        "POST",
        &server.envelope_url(),
        &[
            ("Transfer-Encoding", "chunked"),
            ("X-Sentry-Auth", &auth(&server)),
        ],
        &chunked,
    )
    .expect("post");
    assert_eq!(r.status, 413);
}

#[test]
fn content_length_over_the_limit_is_refused_before_the_body() {
    let server = TestServer::builder()
        .configure(|c| c.limits.max_raw_body = 1000)
        .start();
    // Announce 10 GB and send nothing: the answer must come anyway.
    let head = format!(
        "POST /api/{}/envelope/ HTTP/1.1\r\nHost: x\r\nX-Sentry-Auth: {}\r\nContent-Length: 10000000000\r\n\r\n",
        server.project_id(),
        auth(&server)
    );
    let started = std::time::Instant::now();
    let r = send_raw(server.addr(), head.as_bytes()).expect("response");
    assert_eq!(r.status, 413);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn cors_preflight_and_headers_on_every_response() {
    let server = TestServer::start();
    let r = request(
        "OPTIONS",
        &server.envelope_url(),
        &[
            ("Origin", "http://example.com"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "content-type, x-sentry-auth",
            ),
        ],
        b"",
    )
    .expect("options");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r
        .header("access-control-allow-methods")
        .unwrap_or("")
        .contains("POST"));
    assert!(r
        .header("access-control-allow-headers")
        .unwrap_or("")
        .contains("x-sentry-auth"));
    // Also for a path whose request would be refused (a project id that is
    // not a number): the preflight passes, the request gets its 400.
    let bad = format!("{}/api/abc/envelope/", server.url());
    let pre = request("OPTIONS", &bad, &[("Origin", "http://example.com")], b"").expect("options");
    assert_eq!(pre.status, 200);
    let refused = post(&bad, &[("Origin", "http://example.com")], b"{}\n").expect("post");
    assert_eq!(refused.status, 400);
    assert_eq!(refused.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-max-age"), Some("3600"));
    let r = send(
        &server,
        &[("X-Sentry-Auth", &auth(&server))],
        EVENT_ENVELOPE,
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r
        .header("access-control-expose-headers")
        .unwrap_or("")
        .contains("x-sentry-error"));
    let r = post(&format!("{}/nowhere", server.url()), &[], b"").expect("404");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

#[test]
fn unknown_item_types_are_accepted_counted_and_kept() {
    let server = TestServer::start();
    let body =
        b"{}\n{\"type\":\"brand_new_thing\",\"length\":5}\nhello\n{\"type\":\"statsd\"}\nfoo:1|c\n";
    let r = send(&server, &[("X-Sentry-Auth", &auth(&server))], body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json(), serde_json::json!({}));
    assert_eq!(server.counts()["raw_items"], 2);
    let p = server.project_id();
    let counts = server
        .read(move |c| receiver::store::queries::item_counts(c, p))
        .expect("counts");
    assert_eq!(counts["brand_new_thing"], 1);
    assert_eq!(counts["statsd"], 1);
}

#[test]
fn malformed_envelopes_are_400_and_store_nothing() {
    let server = TestServer::start();
    let a = auth(&server);
    for body in [
        &b""[..],
        b"   ",
        b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\r\n",
        b"{}\n{\"length\":2}\n{}\n",
        b"{}\n{\"type\":\"attachment\",\"length\":100}\nshort\n",
        b"not json\n",
        b"{}\n{\"type\":\"event\"}\n{not json}\n",
        b"{}\n{\"type\":\"event\"}\n[1,2]\n",
        b"{}\n{\"type\":\"integration\"}\n{}\n",
    ] {
        let r = send(&server, &[("X-Sentry-Auth", &a)], body);
        assert_eq!(
            r.status,
            400,
            "{:?}: {}",
            String::from_utf8_lossy(body),
            String::from_utf8_lossy(&r.body)
        );
    }
    assert_eq!(server.counts()["events"], 0);
    assert_eq!(server.counts()["raw_items"], 0);
}

#[test]
fn an_empty_envelope_is_fine() {
    let server = TestServer::start();
    let r = send(&server, &[("X-Sentry-Auth", &auth(&server))], b"{}\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({}));
}

#[test]
fn per_item_and_per_envelope_limits_are_413() {
    let server = TestServer::builder()
        .configure(|c| c.limits.max_event_size = 200)
        .start();
    let a = auth(&server);
    let big = format!("{{\"message\":\"{}\"}}", "x".repeat(300));
    let body = format!("{{}}\n{{\"type\":\"event\"}}\n{big}\n");
    assert_eq!(
        send(&server, &[("X-Sentry-Auth", &a)], body.as_bytes()).status,
        413
    );
    let two = b"{}\n{\"type\":\"event\"}\n{}\n{\"type\":\"transaction\"}\n{}\n";
    assert_eq!(send(&server, &[("X-Sentry-Auth", &a)], two).status, 413);
    assert_eq!(server.counts()["events"], 0);
}

/// Sends `event` (one line of JSON) as event `id`, expects a 200, and
/// reads the stored event back.
fn store_and_read(server: &TestServer, id: &str, event: &str) -> serde_json::Value {
    let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{event}\n");
    let r = send(server, &[("X-Sentry-Auth", &auth(server))], body.as_bytes());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    server.event_json(id).expect("stored and readable")
}

/// The `name` of every entry in a stored event's `errors`.
fn error_names(stored: &serde_json::Value) -> Vec<&str> {
    stored["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect()
}

#[test]
fn garbage_timestamps_and_wrong_types_are_normalised_not_dropped() {
    let server = TestServer::start();
    let body = b"{\"event_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}\n{\"type\":\"event\"}\n\
{\"message\":\"odd\",\"timestamp\":\"yesterday-ish\",\"level\":[1],\"tags\":\"nope\"}\n";
    let r = send(&server, &[("X-Sentry-Auth", &auth(&server))], body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let stored = server
        .event_json("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        .expect("stored");
    let names = error_names(&stored);
    assert!(
        names.contains(&"timestamp") && names.contains(&"level") && names.contains(&"tags"),
        "{names:?}"
    );
    assert_eq!(stored["level"], "error");
}

#[test]
fn breadcrumbs_beyond_repair_are_dropped_and_the_event_kept() {
    // Ingestion does not read breadcrumbs; more broken ones than the
    // repairs allowed must not make the stored event unreadable.
    let server = TestServer::start();
    let crumbs: Vec<serde_json::Value> = (0..60)
        .map(|i| serde_json::json!({"timestamp": "never", "message": i, "level": ["x"]}))
        .collect();
    let event = serde_json::json!({
        "message": "crumbs gone wrong",
        "breadcrumbs": {"values": crumbs},
        "request": {"url": "http://app.local/x", "method": "POST"},
        "exception": {"values": [{"type": "KeyError", "value": "'k'"}]},
    });
    let stored = store_and_read(
        &server,
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        &event.to_string(),
    );
    assert_eq!(stored["exception"]["values"][0]["type"], "KeyError");
    assert_eq!(stored["request"]["url"], "http://app.local/x");
    assert!(stored.get("breadcrumbs").is_none(), "{stored}");
    let names = error_names(&stored);
    assert_eq!(names, ["breadcrumbs"]);
    let issues = server.issues();
    assert_eq!(issues.len(), 1);
    assert!(
        issues[0].title.starts_with("KeyError"),
        "{}",
        issues[0].title
    );
}

#[test]
fn a_lone_surrogate_in_a_breadcrumb_keeps_the_event_without_its_breadcrumbs() {
    // Ingestion skips breadcrumbs as serde_json skips an ignored field; the
    // read back must then not refuse what a `Value` cannot hold.
    let server = TestServer::start();
    let event = r#"{"message":"odd crumb","breadcrumbs":[{"message":"\ud800"}],
        "exception":{"values":[{"type":"KeyError","value":"'k'"}]}}"#;
    let stored = store_and_read(
        &server,
        "cccccccccccccccccccccccccccccccc",
        &event.replace('\n', ""),
    );
    assert_eq!(stored["exception"]["values"][0]["type"], "KeyError");
    assert!(stored.get("breadcrumbs").is_none(), "{stored}");
    assert_eq!(error_names(&stored), ["breadcrumbs"]);
}

#[test]
fn store_endpoint_takes_json_base64_zlib_and_envelopes() {
    let server = TestServer::start();
    let a = auth(&server);
    let url = server.store_url();
    let json = br#"{"event_id":"11111111111111111111111111111111","message":"legacy"}"#;
    let r = post(
        &url,
        &[("X-Sentry-Auth", &a), ("Content-Type", "application/json")],
        json,
    )
    .expect("post");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["id"], "11111111111111111111111111111111");

    let b64 = base64::engine::general_purpose::STANDARD
        .encode(br#"{"event_id":"22222222222222222222222222222222","message":"b64"}"#);
    let r = post(&url, &[("X-Sentry-Auth", &a)], b64.as_bytes()).expect("post");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(br#"{"event_id":"33333333333333333333333333333333","message":"zlib"}"#)
        .expect("zlib");
    let zb64 = base64::engine::general_purpose::STANDARD.encode(z.finish().expect("zlib"));
    let r = post(&url, &[("X-Sentry-Auth", &a)], zb64.as_bytes()).expect("post");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let r = post(
        &url,
        &[
            ("X-Sentry-Auth", &a),
            ("Content-Type", "application/x-sentry-envelope"),
        ],
        EVENT_ENVELOPE,
    )
    .expect("post");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let r = post(&url, &[("X-Sentry-Auth", &a)], b"{broken").expect("post");
    assert_eq!(r.status, 400);
    assert_eq!(server.events().len(), 4);

    // An old Python client's float that is not a number: read as 0.
    let nan =
        br#"{"event_id":"44444444444444444444444444444444","message":"nan","extra":{"x":NaN}}"#;
    let r = post(&url, &[("X-Sentry-Auth", &a)], nan).expect("post");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let stored = server
        .event_json("44444444444444444444444444444444")
        .expect("stored");
    assert_eq!(stored["extra"]["x"], 0);
    assert_eq!(stored["errors"][0]["name"], "payload");
}

#[test]
fn an_envelope_origin_must_be_the_request_origin() {
    let server = TestServer::start();
    let a = auth(&server);
    let body = |origin: &str| {
        format!("{{\"origin\":\"{origin}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"m\"}}\n")
    };
    let headers = [
        ("X-Sentry-Auth", a.as_str()),
        ("Origin", "https://a.example"),
    ];
    let r = send(&server, &headers, body("https://b.example").as_bytes());
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["detail"].as_str().unwrap_or("").contains("origin"));
    let r = send(&server, &headers, body("https://A.example/").as_bytes());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // Without a request Origin (a server-side SDK) there is nothing to compare.
    let r = send(&server, &headers[..1], body("https://b.example").as_bytes());
    assert_eq!(r.status, 200);
    assert_eq!(server.events().len(), 2);
}

#[test]
fn a_log_container_stores_how_many_entries_it_holds() {
    let server = TestServer::start();
    // The header says 5; the payload holds 2.
    let body = b"{}\n{\"type\":\"log\",\"item_count\":5,\"content_type\":\"application/vnd.sentry.items.log+json\"}\n{\"items\":[{\"body\":\"a\"},{\"body\":\"b\"}]}\n";
    let r = send(&server, &[("X-Sentry-Auth", &auth(&server))], body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let conn = rusqlite::Connection::open(server.db_path()).expect("open");
    let stored: i64 = conn
        .query_row("SELECT item_count FROM logs", [], |r| r.get(0))
        .expect("one log container");
    assert_eq!(stored, 2);
}

#[test]
fn the_legacy_pixel_stores_its_event_and_answers_a_gif() {
    let server = TestServer::start();
    let event =
        r#"{"event_id":"55555555555555555555555555555555","message":"from a pixel: 1+1=2 & more"}"#;
    let data: String =
        percent_encoding::utf8_percent_encode(event, percent_encoding::NON_ALPHANUMERIC).collect();
    let url = format!(
        "{}?sentry_key={}&sentry_version=7&sentry_data={data}",
        server.store_url(),
        server.public_key()
    );
    let r = request("GET", &url, &[], b"").expect("get");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("image/gif"));
    assert!(r.body.starts_with(b"GIF89a") && r.body.len() == 43);
    let stored = server
        .event_json("55555555555555555555555555555555")
        .expect("stored");
    assert_eq!(stored["message"], "from a pixel: 1+1=2 & more");

    // Without the event, or without a key: the usual errors.
    let r = request(
        "GET",
        &format!("{}?sentry_key={}", server.store_url(), server.public_key()),
        &[],
        b"",
    )
    .expect("get");
    assert_eq!(r.status, 400);
    let r = request(
        "GET",
        &format!("{}?sentry_data={data}", server.store_url()),
        &[],
        b"",
    )
    .expect("get");
    assert_eq!(r.status, 401);
    assert_eq!(server.events().len(), 1);
}

#[test]
fn path_prefix_and_slash_runs_are_routed() {
    let server = TestServer::builder()
        .configure(|c| c.path_prefix = "/sentry/".into())
        .start();
    assert!(server.dsn().ends_with("/sentry/1"), "{}", server.dsn());
    let r = send(
        &server,
        &[("X-Sentry-Auth", &auth(&server))],
        EVENT_ENVELOPE,
    );
    assert_eq!(r.status, 200);
    let url = format!("{}//sentry//api/1//envelope", server.url());
    let r = post(&url, &[("X-Sentry-Auth", &auth(&server))], b"{}\n").expect("post");
    assert_eq!(r.status, 200);
    let r = post(
        &format!("{}/api/1/envelope/", server.url()),
        &[("X-Sentry-Auth", &auth(&server))],
        b"{}\n",
    )
    .expect("post");
    assert_eq!(r.status, 404);
    let r = request("GET", &server.envelope_url(), &[], b"").expect("get");
    assert_eq!(r.status, 405);
}

#[test]
fn attachments_sessions_and_reports_land_in_their_tables() {
    let server = TestServer::start();
    let now_ts = sentry_core::protocol::Timestamp::now();
    let now = now_ts.to_rfc3339();
    let reported_at = now_ts.as_secs_f64() - 100.5;
    let mut body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
{\"type\":\"attachment\",\"length\":10,\"content_type\":\"text/plain\",\"filename\":\"hello.txt\"}\n\
\xef\xbb\xbfHello\r\n\n"
        .to_vec();
    body.extend_from_slice(
        format!(
            "{{\"type\":\"session\"}}\n{{\"sid\":\"7c7b6585-f901-4351-bf8d-02711b721929\",\"init\":true,\"started\":\"{now}\",\"status\":\"exited\",\"attrs\":{{\"release\":\"app@1.0.0\"}}}}\n\
{{\"type\":\"session\"}}\n{{\"started\":\"{now}\",\"attrs\":{{}}}}\n\
{{\"type\":\"client_report\"}}\n{{\"timestamp\":{reported_at},\"discarded_events\":[{{\"reason\":\"queue_overflow\",\"category\":\"error\",\"quantity\":23}}]}}\n\
{{\"type\":\"feedback\"}}\n{{\"contexts\":{{\"feedback\":{{\"message\":\"great app\",\"contact_email\":\"a@b.c\"}}}}}}\n\
{{\"type\":\"user_report\"}}\n{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"name\":\"Jane\",\"email\":\"j@x.y\",\"comments\":\"it broke\"}}\n\
{{\"type\":\"check_in\"}}\n{{\"check_in_id\":\"83a7c03ed0a04e1b97e2e3b18d38f244\",\"monitor_slug\":\"nightly\",\"status\":\"ok\",\"duration\":1.5}}\n"
        )
        .as_bytes(),
    );
    let r = send(&server, &[("X-Sentry-Auth", &auth(&server))], &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let counts = server.counts();
    assert_eq!(counts["attachments"], 1);
    assert_eq!(
        counts["sessions"], 1,
        "the session without release is dropped silently"
    );
    assert_eq!(counts["client_reports"], 1);
    assert_eq!(counts["check_ins"], 1);
    assert_eq!(counts["feedback"], 2);
    let p = server.project_id();
    let att = server
        .read(move |c| {
            receiver::store::queries::attachments(c, p, "9ec79c33ec9942ab8353589fcb2e04dc")
        })
        .expect("attachments");
    assert_eq!(att[0].data, b"\xef\xbb\xbfHello\r\n");
}

#[test]
fn a_session_keeps_the_attributes_of_its_init_update() {
    let server = TestServer::start();
    let now = sentry_core::protocol::Timestamp::now().as_secs_f64();
    let a = auth(&server);
    let send_update = |sid: &str, seq: u32, init: bool, did: Option<&str>, release: &str| {
        let did = did.map_or(String::new(), |d| format!("\"did\":\"{d}\","));
        let env = if init { "production" } else { "staging" };
        let body = format!(
            "{{}}\n{{\"type\":\"session\"}}\n{{\"sid\":\"{sid}\",{did}\"seq\":{seq},\
             \"init\":{init},\"started\":{started},\"timestamp\":{ts},\"status\":\"ok\",\
             \"errors\":1,\"attrs\":{{\"release\":\"{release}\",\"environment\":\"{env}\"}}}}\n",
            started = now - 10.0 - f64::from(seq),
            ts = now - f64::from(5 - seq),
        );
        let r = send(&server, &[("X-Sentry-Auth", &a)], body.as_bytes());
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    };
    type Row = (i64, Option<String>, String, String, f64);
    let rows = |sid: &'static str| -> Vec<Row> {
        // Stored as 32 hex digits.
        let sid = sid.replace('-', "");
        server
            .read(move |c| {
                let mut stmt = c.prepare(
                    "SELECT seq, did, release, environment, started FROM sessions
                     WHERE sid = ?1 ORDER BY seq",
                )?;
                let rows = stmt
                    .query_map([&sid], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })?
                    .collect::<Result<_, _>>()?;
                Ok(rows)
            })
            .expect("sessions")
    };
    let check = |sid: &'static str, dids: [Option<&str>; 2]| {
        let got = rows(sid);
        assert_eq!(got.len(), 2, "{sid}");
        for ((seq, did, release, env, started), want) in got.iter().zip(dids) {
            assert_eq!(did.as_deref(), want, "{sid} update {seq}");
            assert_eq!(
                (release.as_str(), env.as_str()),
                ("app@1.0.0", "production"),
                "{sid} update {seq}"
            );
            assert!((started - (now - 11.0)).abs() < 0.01, "{sid} update {seq}");
        }
    };
    // An SDK that changes what may not change: the later values are ignored.
    let in_order = "7c7b6585-f901-4351-bf8d-02711b721929";
    send_update(in_order, 1, true, Some("user-1"), "app@1.0.0");
    send_update(in_order, 2, false, Some("user-2"), "app@2.0.0");
    check(in_order, [Some("user-1"), Some("user-1")]);
    // The init arriving last still sets them, on the update before it too.
    let init_last = "8c7b6585-f901-4351-bf8d-02711b721929";
    send_update(init_last, 2, false, Some("user-2"), "app@2.0.0");
    send_update(init_last, 1, true, Some("user-1"), "app@1.0.0");
    check(init_last, [Some("user-1"), Some("user-1")]);
    // A user learnt mid-session is kept.
    let user_later = "9c7b6585-f901-4351-bf8d-02711b721929";
    send_update(user_later, 1, true, None, "app@1.0.0");
    send_update(user_later, 2, false, Some("user-3"), "app@2.0.0");
    check(user_later, [None, Some("user-3")]);
}

#[test]
fn a_user_report_can_be_corrected_while_its_event_is_recent() {
    let server = TestServer::start();
    let a = auth(&server);
    let report = |event_id: &str, comments: &str| {
        let body = format!(
            "{{}}\n{{\"type\":\"user_report\"}}\n{{\"event_id\":\"{event_id}\",\
             \"name\":\"Jane\",\"email\":\"j@x.y\",\"comments\":\"{comments}\"}}\n"
        );
        let r = send(&server, &[("X-Sentry-Auth", &a)], body.as_bytes());
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    };
    // (message, receive time) of the event's report.
    let stored = |event_id: &'static str| -> (String, f64) {
        server
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT message, received FROM feedback
                     WHERE kind = 'user_report' AND event_id = ?1",
                    [event_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?)
            })
            .expect("report")
    };
    let message = |event_id: &'static str| stored(event_id).0;
    // No event yet (it may arrive later): the second report replaces the first.
    let fresh = "11111111111111111111111111111111";
    report(fresh, "it broke");
    report(fresh, "it broke when I clicked pay");
    assert_eq!(message(fresh), "it broke when I clicked pay");
    // A retry of the same report is a no-op: its first receive time stays.
    let received = |event_id: &'static str| stored(event_id).1;
    let before = received(fresh);
    std::thread::sleep(std::time::Duration::from_millis(20));
    report(fresh, "it broke when I clicked pay");
    assert_eq!(received(fresh), before);
    // An event from an hour ago: its report can no longer change.
    let old = "22222222222222222222222222222222";
    let ts = sentry_core::protocol::Timestamp::now().as_secs_f64() - 3600.0;
    let event = format!(
        "{{\"event_id\":\"{old}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"m\",\"timestamp\":{ts}}}\n"
    );
    let r = send(&server, &[("X-Sentry-Auth", &a)], event.as_bytes());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    report(old, "first words");
    report(old, "second thoughts");
    assert_eq!(message(old), "first words");
    // Comments past 4096 characters are cut, with an ellipsis.
    let long = "33333333333333333333333333333333";
    report(long, &"é".repeat(5000));
    let cut = message(long);
    assert_eq!(cut.chars().count(), 4096);
    assert!(cut.ends_with("..."), "{}", &cut[cut.len() - 10..]);
}

#[test]
fn disabled_keys_projects_and_foreign_origins_are_403() {
    use receiver::store::WriteOp;
    let server = TestServer::builder()
        .project(5, "55555555555555555555555555555555")
        .start();
    let url5 = format!("{}/api/5/envelope/", server.url());
    let auth5 = "Sentry sentry_key=55555555555555555555555555555555";
    let send5 = |headers: &[(&str, &str)]| {
        let mut h = vec![("X-Sentry-Auth", auth5)];
        h.extend_from_slice(headers);
        post(&url5, &h, b"{}\n").expect("post").status
    };
    assert_eq!(send5(&[]), 200);

    server
        .write(WriteOp::UpdateProject {
            project_id: 5,
            enabled: None,
            allowed_origins: Some("https://app.example.com, *.example.org".into()),
        })
        .expect("origins");
    assert_eq!(send5(&[]), 200, "server-side SDKs send no Origin");
    assert_eq!(send5(&[("Origin", "https://app.example.com")]), 200);
    assert_eq!(send5(&[("Origin", "https://x.example.org")]), 200);
    assert_eq!(send5(&[("Origin", "https://evil.example")]), 403);
    assert_eq!(send5(&[("Referer", "https://evil.example/page?q=1")]), 403);
    assert_eq!(send5(&[("Referer", "https://app.example.com/page")]), 200);

    server
        .write(WriteOp::SetKeyEnabled {
            public_key: "55555555555555555555555555555555".into(),
            enabled: false,
        })
        .expect("disable key");
    assert_eq!(send5(&[]), 403);
    server
        .write(WriteOp::SetKeyEnabled {
            public_key: "55555555555555555555555555555555".into(),
            enabled: true,
        })
        .expect("enable key");
    assert_eq!(send5(&[]), 200);
    server
        .write(WriteOp::UpdateProject {
            project_id: 5,
            enabled: Some(false),
            allowed_origins: None,
        })
        .expect("disable project");
    let r = post(&url5, &[("X-Sentry-Auth", auth5)], b"{}\n").expect("post");
    assert_eq!(r.status, 403);
    assert!(r.json()["detail"]
        .as_str()
        .unwrap_or("")
        .contains("rejected"));
}

#[test]
fn forwarded_for_names_the_client_only_when_trusted() {
    let envelope = |id: &str| {
        format!(
            "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n\
             {{\"message\":\"m\",\"user\":{{\"ip_address\":\"{{{{auto}}}}\"}}}}\n"
        )
        .into_bytes()
    };
    // What the client claimed, then what the proxy appended.
    let forwarded = ("X-Forwarded-For", "6.6.6.6, 203.0.113.9");
    for (trust, expected) in [(false, "127.0.0.1"), (true, "203.0.113.9")] {
        let server = TestServer::builder()
            .configure(|c| c.trust_forwarded_for = trust)
            .start();
        let id = "9ec79c33ec9942ab8353589fcb2e0a01";
        let r = send(
            &server,
            &[("X-Sentry-Auth", &auth(&server)), forwarded],
            &envelope(id),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let event = server.event_json(id).expect("stored");
        assert_eq!(event["user"]["ip_address"], expected, "trusted: {trust}");
        // Without the header, the peer address, trusted or not.
        let id = "9ec79c33ec9942ab8353589fcb2e0a02";
        let r = send(&server, &[("X-Sentry-Auth", &auth(&server))], &envelope(id));
        assert_eq!(r.status, 200);
        let event = server.event_json(id).expect("stored");
        assert_eq!(event["user"]["ip_address"], "127.0.0.1");
    }
}

#[test]
fn health_answers_only_host_names_of_this_machine() {
    let server = TestServer::start();
    let port = server.addr().port();
    let get = |host: &str| {
        let raw = format!("GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        send_raw(server.addr(), raw.as_bytes()).expect("health")
    };
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "app.localhost".to_owned(),
    ] {
        let r = get(&host);
        assert_eq!(r.status, 200, "{host}");
        assert!(r.header("access-control-allow-origin").is_none());
    }
    // A page whose own name was rebound to 127.0.0.1 reads /health
    // same-origin; its Host gives it away.
    let r = get(&format!("rebind.attacker.example:{port}"));
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
}

/// PROTOCOL.md §11: with `sent_at`, a client clock off by 55 minutes or
/// more moves the event's times by the drift; a smaller skew is left, as
/// Relay does (a retried or queued envelope keeps the `sent_at` it was
/// first sent with, so a smaller threshold would move its times by the
/// delay).
#[test]
fn client_clock_drift_is_corrected_from_55_minutes() {
    let server = TestServer::start();
    let now = sentry_core::protocol::Timestamp::now();
    let iso = |shift: f64| now.shifted(shift).to_rfc3339();
    let post_event = |id: &str, clock: f64| {
        // Captured 10 s before it was sent, by a clock `clock` s off.
        let body = format!(
            "{{\"event_id\":\"{id}\",\"sent_at\":\"{}\"}}\n{{\"type\":\"event\"}}\n\
             {{\"message\":\"drift\",\"timestamp\":\"{}\"}}\n",
            iso(clock),
            iso(clock - 10.0)
        );
        let r = send(
            &server,
            &[("X-Sentry-Auth", auth(&server).as_str())],
            body.as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    };
    let behind = "aa".repeat(16);
    let slightly = "bb".repeat(16);
    post_event(&behind, -2.0 * 3600.0);
    post_event(&slightly, -5.0 * 60.0);
    let events = server.wait_for_events(2, Duration::from_secs(5));
    let at = |id: &str| {
        let e = events
            .iter()
            .find(|e| e.event_id == id)
            .unwrap_or_else(|| panic!("{id} not stored: {events:?}"));
        e.timestamp - now.as_secs_f64()
    };
    // Two hours behind: moved to 10 s before it arrived.
    assert!((at(&behind) + 10.0).abs() < 5.0, "{}", at(&behind));
    assert_eq!(
        server.event_json(&behind).expect("stored")["errors"][0]["type"],
        "clock_drift"
    );
    // Five minutes behind: kept as sent.
    assert!((at(&slightly) + 310.0).abs() < 5.0, "{}", at(&slightly));
}
