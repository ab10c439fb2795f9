//! Events and transactions stored as received
//! (`receiver::ingest::as_received`) read back exactly as the eagerly
//! normalised copy would: for every recorded Python SDK event and
//! transaction, for items that exercise each normalisation rule, and end to
//! end through a running receiver.

#[path = "support/fixtures.rs"]
mod fixtures_support;

use receiver::ingest::as_received;
use receiver::ingest::envelope::{event_record, prepare_with};
use receiver::ingest::normalize::{self, RequestContext};
use receiver::store::dictionary::{self, Dictionary, PayloadCodec};
use receiver::store::{decompress, EventRecord, Record};
use receiver::testing::{post, TestServer};
use sentry_core::envelope::{Envelope, ItemType};
use sentry_core::protocol::Timestamp;
use std::sync::{Arc, OnceLock};

/// The record of the event or transaction of `envelope`.
fn stored(envelope: &Envelope, ctx: &RequestContext, codec: &PayloadCodec) -> Record {
    let prepared = prepare_with(envelope, 1, ctx, codec, None, None).expect("prepare");
    prepared
        .batch
        .records
        .into_iter()
        .find(|r| matches!(r, Record::Event(_) | Record::Transaction(_)))
        .expect("an event or transaction record")
}

/// The two ways a payload is compressed: plain zstd, and with a dictionary
/// trained on the recorded SDK events and transactions (registered).
fn codecs() -> [PayloadCodec; 2] {
    static DICTIONARY: OnceLock<Arc<Dictionary>> = OnceLock::new();
    let dict = DICTIONARY.get_or_init(|| {
        let dir = fixtures_support::python_fixtures_dir();
        let mut samples = Vec::new();
        for name in fixtures_support::envelope_names(&dir) {
            let body = std::fs::read(dir.join(&name)).expect("fixture");
            let envelope = Envelope::parse(&body).expect("fixture envelope");
            for item in envelope.items() {
                if matches!(item.headers.ty, ItemType::Event | ItemType::Transaction) {
                    samples.push(item.payload.as_raw().unwrap_or(&[]).to_vec());
                }
            }
        }
        let dict = dictionary::train(&samples).expect("train on the fixtures");
        dictionary::register(&dict);
        Arc::new(dict)
    });
    [
        PayloadCodec::plain(1),
        PayloadCodec {
            level: 3,
            dictionary: Some(dict.clone()),
        },
    ]
}

/// Prepares the event or transaction of `body` as ingestion does and checks
/// that its payload reads back as the JSON of the item normalised right
/// away, and that an event's columns and grouping are those of an eager
/// record of the same normalised event; with and without a dictionary.
fn assert_same_when_read(name: &str, body: &[u8], ctx: &RequestContext) {
    for codec in codecs() {
        assert_same_with(name, body, ctx, &codec);
    }
}

fn assert_same_with(name: &str, body: &[u8], ctx: &RequestContext, codec: &PayloadCodec) {
    let envelope = Envelope::parse(body).expect("envelope");
    let item = envelope
        .items()
        .iter()
        .find(|i| matches!(i.headers.ty, ItemType::Event | ItemType::Transaction))
        .expect("event or transaction item");
    let header_id = envelope.headers.event_id.filter(|id| !id.is_nil());
    let payload = item.payload.as_raw().unwrap_or(&[]);
    let (eager_id, eager_json, stored_id, blob) = match stored(&envelope, ctx, codec) {
        Record::Event(record) => {
            let e = normalize::event_as_read(payload, ctx, header_id).expect("normalise");
            let mut whole = event_record(&e, 1).expect("record");
            // A missing id is random each time it is normalised.
            whole.event_id.clone_from(&record.event_id);
            let columns = |r: &EventRecord| {
                let hashes: Vec<&str> = r.grouping.hashes.iter().map(|h| h.hash.as_str()).collect();
                format!(
                    "{} {} {} {:?} {:?} {} {} {:?} {:?} {:?} {:?} {hashes:?}",
                    r.event_id,
                    r.kind,
                    r.timestamp,
                    r.release,
                    r.environment,
                    r.level,
                    r.title,
                    r.platform,
                    r.trace_id,
                    r.user_key,
                    r.grouping.culprit,
                )
            };
            assert_eq!(
                columns(&record),
                columns(&whole),
                "{name}: columns and grouping"
            );
            let json = serde_json::to_string(&e).expect("serialise");
            (e.event_id, json, record.event_id, record.payload)
        }
        Record::Transaction(record) => {
            let t = normalize::transaction(payload, ctx, header_id).expect("normalise");
            let json = serde_json::to_string(&t).expect("serialise");
            (t.event_id, json, record.event_id, record.payload)
        }
        _ => unreachable!("filtered above"),
    };
    assert!(as_received::is_encoded(&blob), "{name}: stored as received");
    if let Some(dict) = &codec.dictionary {
        let digest = format!("\"dict\":\"{:016x}\"", dict.digest());
        assert!(
            blob.windows(digest.len()).any(|w| w == digest.as_bytes()),
            "{name}: the header names the dictionary"
        );
    }
    let read = String::from_utf8(decompress(&blob).expect("read back")).expect("UTF-8");
    // An item without an id gets a random one each time it is normalised;
    // stored as received, it keeps the one it got at ingestion.
    let expected = eager_json.replace(&eager_id.simple().to_string(), &stored_id);
    assert!(read.contains(&stored_id), "{name}: keeps its id");
    assert_eq!(read, expected, "{name}: read back differently");
}

fn contexts(sent_at: Option<&str>) -> Vec<RequestContext> {
    let sent = sent_at.and_then(Timestamp::parse_rfc3339);
    let base = sent.map_or(1_700_000_000.25, Timestamp::as_secs_f64);
    vec![
        // As recorded: no drift.
        RequestContext {
            // Receive times with all their bits in use, as a clock gives.
            received: Timestamp::from_secs_f64(base + 0.197_180_3),
            sent_at: sent,
            client_ip: None,
        },
        // Two hours of client clock drift, and a client address for `{{auto}}`.
        RequestContext {
            received: Timestamp::from_secs_f64(base + 7_200.371_841_2),
            sent_at: sent,
            client_ip: Some("192.0.2.7".to_owned()),
        },
    ]
}

#[test]
fn recorded_sdk_events_and_transactions_read_back_identically() {
    let dir = fixtures_support::python_fixtures_dir();
    let mut checked = 0;
    for name in fixtures_support::envelope_names(&dir) {
        let body = std::fs::read(dir.join(&name)).expect("fixture");
        let envelope = Envelope::parse(&body).expect("fixture envelope");
        if !envelope
            .items()
            .iter()
            .any(|i| matches!(i.headers.ty, ItemType::Event | ItemType::Transaction))
        {
            continue;
        }
        for ctx in contexts(envelope.headers.sent_at.as_deref()) {
            assert_same_when_read(&name, &body, &ctx);
        }
        checked += 1;
    }
    assert!(
        checked >= 10,
        "only {checked} event and transaction fixtures"
    );
}

#[test]
fn every_normalisation_rule_reads_back_identically() {
    let cases: [(&str, &str, &str); 7] = [
        (
            "wrong types in breadcrumbs, request, extra and modules",
            r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04d0"}"#,
            r#"{"breadcrumbs":{"values":[{"timestamp":"bad","message":5},{"timestamp":1700000000,"message":"ok"}]},"request":{"url":5,"method":"GET"},"extra":"nope","modules":[1],"debug_meta":{"images":"x"},"exception":{"values":[{"type":"KeyError","value":"'k'","stacktrace":{"frames":[{"function":"f","module":"app.m","in_app":true}]}}]},"user":{"email":"a@b.c"}}"#,
        ),
        (
            "nil ids get a fresh one",
            r#"{"event_id":"00000000000000000000000000000000"}"#,
            r#"{"event_id":"00000000000000000000000000000000","message":"x"}"#,
        ),
        ("no id anywhere", "{}", r#"{"message":"no id"}"#),
        (
            "garbage timestamp and wrong-typed fields",
            r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}"#,
            r#"{"timestamp":"yesterday","level":42,"tags":"nope","release":"a/b\n","user":{"ip_address":"{{auto}}"},"message":"bad"}"#,
        ),
        (
            "clock drift moves breadcrumbs too",
            r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dd","sent_at":"2023-11-14T20:00:00Z"}"#,
            r#"{"timestamp":1699992000.5,"breadcrumbs":{"values":[{"timestamp":1699991990.0,"message":"a"},{"timestamp":-5,"message":"b"}]},"exception":{"values":[{"type":"E","value":"v 123"}]}}"#,
        ),
        (
            "far-future timestamp",
            r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04de"}"#,
            r#"{"timestamp":4102444800,"message":"from the future","user":{"id":"u1"}}"#,
        ),
        (
            "unknown fields are kept",
            r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04df"}"#,
            r#"{"message":"m","x_custom":{"nested":[1,2,{"a":null}]},"contexts":{"trace":{"trace_id":"4c79f60c11214eb38604f4ae0781bfb2","span_id":"fa90fdead5f74052"}}}"#,
        ),
    ];
    let transactions: [(&str, &str, &str); 3] = [
        (
            "transaction without a start",
            r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04e1"}"#,
            r#"{"type":"transaction","transaction":"/a","timestamp":1699999999.5,"contexts":{"trace":{"trace_id":"4c79f60c11214eb38604f4ae0781bfb2","span_id":"fa90fdead5f74052"}}}"#,
        ),
        (
            "transaction with drifting spans",
            r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04e2","sent_at":"2023-11-14T20:00:00Z"}"#,
            r#"{"type":"transaction","transaction":"/b","start_timestamp":1699991999.0,"timestamp":1699992000.0,"breadcrumbs":[{"message":"undated"},{"timestamp":"bad"}],"contexts":{"trace":{"trace_id":"4c79f60c11214eb38604f4ae0781bfb2","span_id":"fa90fdead5f74052","op":"http.server"}},"spans":[{"span_id":"aa90fdead5f74052","parent_span_id":"fa90fdead5f74052","trace_id":"4c79f60c11214eb38604f4ae0781bfb2","op":"db","start_timestamp":1699991999.1,"timestamp":1699991999.2}]}"#,
        ),
        (
            "transaction without an id",
            "{}",
            r#"{"type":"transaction","transaction":"/c","start_timestamp":"garbage","timestamp":1700000000.0}"#,
        ),
    ];
    let all = cases.iter().map(|(n, h, e)| (*n, *h, "event", *e)).chain(
        transactions
            .iter()
            .map(|(n, h, t)| (*n, *h, "transaction", *t)),
    );
    for (name, header, ty, event) in all {
        let body = format!("{header}\n{{\"type\":\"{ty}\"}}\n{event}\n");
        let envelope = Envelope::parse(body.as_bytes()).expect("envelope");
        for ctx in contexts(envelope.headers.sent_at.as_deref()) {
            assert_same_when_read(name, body.as_bytes(), &ctx);
        }
    }
}

#[test]
fn events_sent_over_http_are_stored_as_received_and_read_back_normalised() {
    let server = TestServer::start();
    let auth = format!(
        "Sentry sentry_version=7, sentry_key={}",
        server.public_key()
    );
    let id = "9ec79c33ec9942ab8353589fcb2e0002";
    // Two hours of client clock drift, a garbage timestamp on a breadcrumb
    // and `{{auto}}` for the user's address.
    let sent_at = Timestamp::from_secs_f64(Timestamp::now().as_secs_f64() - 7_200.0);
    let event_ts = sent_at.as_secs_f64() - 1.0;
    let body = format!(
        "{{\"event_id\":\"{id}\",\"sent_at\":\"{}\"}}\n{{\"type\":\"event\"}}\n\
         {{\"message\":\"hello\",\"timestamp\":{event_ts},\"level\":\"warning\",\
         \"user\":{{\"ip_address\":\"{{{{auto}}}}\"}},\
         \"breadcrumbs\":[{{\"timestamp\":\"garbage\",\"message\":\"b\"}}]}}\n",
        sent_at.to_rfc3339()
    );
    let r = post(
        &server.envelope_url(),
        &[("X-Sentry-Auth", &auth)],
        body.as_bytes(),
    )
    .expect("post");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    server.wait_for_events(1, std::time::Duration::from_secs(10));

    let blob: Vec<u8> = server
        .read(|c| {
            Ok(c.query_row(
                "SELECT payload FROM events WHERE event_id = ?1",
                [id],
                |r| r.get(0),
            )?)
        })
        .expect("payload");
    assert!(as_received::is_encoded(&blob));

    let event = server.event_json(id).expect("event");
    assert_eq!(event["event_id"], id);
    assert_eq!(event["level"], "warning");
    assert_eq!(event["user"]["ip_address"], "127.0.0.1", "{event}");
    let ts = event["timestamp"].as_f64().expect("numeric timestamp");
    let now = Timestamp::now().as_secs_f64();
    assert!((now - ts).abs() < 60.0, "drift corrected: {ts} vs {now}");
    let errors = event["errors"].to_string();
    assert!(errors.contains("clock_drift"), "{errors}");
    // The JSON API reads the same payload.
    let api: serde_json::Value = server
        .api_json(&format!("/api/0/projects/default/default/events/{id}/"))
        .expect("API event");
    assert_eq!(api["user"]["ip_address"], "127.0.0.1", "{api}");
}
