//! Every envelope the official Python SDK sent in the shared fixture run
//! (`shared/fixtures/python/*.jsonl`, see its README) parses, has the item
//! types the fixture index lists, survives a write/parse round trip, and
//! parses the same when re-framed the way the JavaScript SDK frames envelopes.

use std::fs;
use std::path::{Path, PathBuf};

use sentry_core::envelope::{Envelope, EnvelopeItem, ItemType};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/python");

fn fixtures_dir() -> PathBuf {
    let dir = Path::new(FIXTURES);
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing: the shared/ checkout must sit beside this \
         repository's checkout (../shared relative to the workspace root)",
        dir.display()
    );
    dir.to_path_buf()
}

/// `(body file name, bytes)` for every `*.jsonl` fixture, sorted by name.
fn fixture_bodies() -> Vec<(String, Vec<u8>)> {
    let dir = fixtures_dir();
    let mut bodies: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .map(|path| {
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let bytes = fs::read(&path).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
            (name, bytes)
        })
        .collect();
    bodies.sort();
    assert!(
        !bodies.is_empty(),
        "no *.jsonl fixtures in {}",
        dir.display()
    );
    bodies
}

/// The fixture index entry for a body file.
fn index_entry(index: &[Value], body: &str) -> Value {
    index
        .iter()
        .find(|entry| entry["body"] == body)
        .unwrap_or_else(|| panic!("{body} is not listed in index.json"))
        .clone()
}

fn load_index() -> Vec<Value> {
    let path = fixtures_dir().join("index.json");
    let text = fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&text).expect("index.json is a JSON array")
}

fn parse(name: &str, bytes: &[u8]) -> Envelope {
    Envelope::parse(bytes).unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
}

/// Items with `length` cleared, for comparisons across framings.
fn without_lengths(items: &[EnvelopeItem]) -> Vec<EnvelopeItem> {
    items
        .iter()
        .cloned()
        .map(|mut item| {
            item.headers.length = None;
            item
        })
        .collect()
}

/// Frames an envelope as `@sentry/node` does: no `length` on JSON items
/// (payloads without a raw newline), `\n` before each item header, no
/// trailing newline.
fn frame_like_javascript(envelope: &Envelope) -> Vec<u8> {
    let mut out = serde_json::to_vec(&envelope.headers).expect("headers serialise");
    for item in &envelope.items {
        let payload = item.payload.as_raw().expect("parsed payloads are raw");
        let mut headers = item.headers.clone();
        let is_json = headers.ty != ItemType::Attachment && !payload.contains(&b'\n');
        headers.length = if is_json {
            None
        } else {
            Some(u32::try_from(payload.len()).expect("fixture payloads are small"))
        };
        out.push(b'\n');
        serde_json::to_writer(&mut out, &headers).expect("item headers serialise");
        out.push(b'\n');
        out.extend_from_slice(payload);
    }
    out
}

#[test]
fn every_fixture_is_indexed_and_every_indexed_body_exists() {
    let index = load_index();
    let bodies = fixture_bodies();
    for (name, _) in &bodies {
        index_entry(&index, name);
    }
    for entry in &index {
        let body = entry["body"].as_str().expect("index entry has a body");
        assert!(
            bodies.iter().any(|(name, _)| name == body),
            "index.json lists {body}, which is missing"
        );
    }
}

#[test]
fn every_fixture_parses_with_the_indexed_item_types_and_header_keys() {
    let index = load_index();
    for (name, bytes) in fixture_bodies() {
        let envelope = parse(&name, &bytes);
        let entry = index_entry(&index, &name);

        // Index entries look like "event" or "transaction(name,spans=3)".
        let expected: Vec<&str> = entry["items"]
            .as_array()
            .expect("items array")
            .iter()
            .map(|item| {
                let item = item.as_str().expect("item is a string");
                item.split('(').next().unwrap_or(item)
            })
            .collect();
        let actual: Vec<&str> = envelope
            .items
            .iter()
            .map(|i| i.headers.ty.as_str())
            .collect();
        assert_eq!(actual, expected, "{name}: item types");
        for item in &envelope.items {
            assert!(
                !matches!(item.headers.ty, ItemType::Other(_)),
                "{name}: unexpected unknown item type {}",
                item.headers.ty
            );
            // The Python SDK always sends `length`, and it must be right.
            let payload = item.payload.as_raw().expect("raw payload");
            assert_eq!(
                item.headers.length.map(|n| n as usize),
                Some(payload.len()),
                "{name}: {} length",
                item.headers.ty
            );
        }

        let headers = serde_json::to_value(&envelope.headers).expect("headers serialise");
        let mut keys: Vec<&str> = headers
            .as_object()
            .expect("headers are an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected_keys: Vec<&str> = entry["envelope_header_keys"]
            .as_array()
            .expect("envelope_header_keys array")
            .iter()
            .map(|k| k.as_str().expect("key is a string"))
            .collect();
        expected_keys.sort_unstable();
        assert_eq!(keys, expected_keys, "{name}: envelope header keys");
    }
}

#[test]
fn every_fixture_round_trips_through_the_writer() {
    for (name, bytes) in fixture_bodies() {
        let envelope = parse(&name, &bytes);
        let written = envelope
            .to_vec()
            .unwrap_or_else(|e| panic!("{name} cannot be written: {e}"));
        let reparsed = parse(&name, &written);
        // Python always sends correct lengths, so even `length` matches.
        assert_eq!(reparsed, envelope, "{name}: write/parse round trip");

        let mut streamed = Vec::new();
        envelope.write_to(&mut streamed).expect("write_to a Vec");
        assert_eq!(streamed, written, "{name}: write_to and to_vec agree");
    }
}

#[test]
fn every_fixture_parses_the_same_when_framed_like_javascript() {
    for (name, bytes) in fixture_bodies() {
        let envelope = parse(&name, &bytes);
        let js = frame_like_javascript(&envelope);
        let reparsed = parse(&name, &js);
        assert_eq!(reparsed.headers, envelope.headers, "{name}: headers");
        assert_eq!(
            without_lengths(&reparsed.items),
            without_lengths(&envelope.items),
            "{name}: items"
        );
        // JSON items really went without `length` (only attachments keep it).
        for item in &reparsed.items {
            let expect_length = item.headers.ty == ItemType::Attachment;
            assert_eq!(
                item.headers.length.is_some(),
                expect_length,
                "{name}: {} length",
                item.headers.ty
            );
        }
    }
}
