//! Every request the official Python SDK sent in the recorded scenario
//! (shared/fixtures/python) is accepted — re-compressed with gzip and with
//! brotli, sent with the fixture's own headers — and stored and grouped.

#[path = "support/fixtures.rs"]
mod fixtures_support;

use std::collections::BTreeMap;
use std::io::Write;

use receiver::config::Clock;
use receiver::testing::{post, TestServer};
use sentry_core::protocol::Timestamp;

use fixtures_support::{load_python_fixtures as fixtures, PROJECT, PUBLIC_KEY as KEY};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
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

fn event_id_of(body: &[u8]) -> Option<String> {
    let first = body.split(|b| *b == b'\n').next()?;
    let header: serde_json::Value = serde_json::from_slice(first).ok()?;
    header["event_id"].as_str().map(str::to_owned)
}

fn replay(encoding: &str, compress: fn(&[u8]) -> Vec<u8>) {
    // The scenario was recorded on 2026-11-25 around 18:41 UTC; pin the clock
    // there so time-window rules (sessions older than 5 days are dropped)
    // give the same answer whenever this runs.
    let recorded = Timestamp::parse_rfc3339("2026-11-25T18:41:30Z").expect("time");
    let server = TestServer::builder()
        .project(PROJECT, KEY)
        .clock(Clock::Fixed(recorded))
        .start();
    let fixtures = fixtures();
    assert_eq!(fixtures.len(), 24);
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for f in &fixtures {
        let mut headers: Vec<(&str, &str)> = f
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        headers.push(("Content-Encoding", encoding));
        let url = format!("{}{}", server.url(), f.path);
        let r = post(&url, &headers, &compress(&f.body)).expect("post");
        assert_eq!(
            r.status,
            200,
            "{} ({encoding}): {}",
            f.name,
            String::from_utf8_lossy(&r.body)
        );
        if let Some(id) = event_id_of(&f.body) {
            assert_eq!(r.json()["id"], id.as_str(), "{}", f.name);
            ids.insert(f.name[..3].to_owned(), id);
        }
    }

    let counts = server.counts();
    let expect = [
        ("events", 19),
        ("transactions", 1),
        ("spans", 4), // the root span and three children
        ("attachments", 2),
        ("sessions", 3),
        ("session_aggregates", 1),
        ("client_reports", 1),
        ("feedback", 1),
        ("logs", 1),
        ("raw_items", 0),
    ];
    for (table, n) in expect {
        assert_eq!(counts[table], n, "{table} ({encoding}): {counts:?}");
    }

    // 014–018 come from one code line, 019 from another.
    let issue_of = |seq: &str| {
        let id = ids[seq].clone();
        server
            .read(move |c| receiver::store::queries::event(c, PROJECT, &id))
            .expect("read")
            .and_then(|e| e.issue_id)
            .expect("event has an issue")
    };
    let group = issue_of("014");
    for seq in ["015", "016", "017", "018"] {
        assert_eq!(issue_of(seq), group, "{seq} joins 014's issue");
    }
    assert_ne!(issue_of("019"), group);
    let issues = server.issues_of(PROJECT);
    let grouped = issues.iter().find(|i| i.id == group).expect("issue");
    assert_eq!(grouped.times_seen, 5);
    assert!(grouped.explanation.is_some());

    // The large attachment arrived intact.
    let large_id = ids["023"].clone();
    let attachments = server
        .read(move |c| receiver::store::queries::attachments(c, PROJECT, &large_id))
        .expect("attachments");
    assert_eq!(attachments[0].filename, "large.txt");
    assert_eq!(attachments[0].data.len(), 49152);
}

#[test]
fn python_fixtures_recompressed_with_gzip_are_stored_and_grouped() {
    replay("gzip", gzip);
}

#[test]
fn python_fixtures_recompressed_with_brotli_are_stored_and_grouped() {
    replay("br", brotli);
}
