//! Every JSON item in the shared fixtures decodes into its typed struct,
//! re-encodes and decodes to an equal value, and keeps every field it had.

use std::fs;
use std::path::Path;

use sentry_core::envelope::{Envelope, ItemType};
use sentry_core::protocol::{
    ClientReport, Event, SessionAggregates, SessionUpdate, Transaction, UserReport,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/python");

fn round_trip<T>(name: &str, bytes: &[u8]) -> usize
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let original: Value = serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let typed: T = serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let written = serde_json::to_value(&typed).expect("serialise");
    let again: T =
        serde_json::from_value(written.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(typed, again, "{name}: second decode differs");
    // Nothing the SDK sent is lost: every non-null, non-empty top-level field
    // is still there after the round trip.
    let (Value::Object(orig), Value::Object(out)) = (&original, &written) else {
        panic!("{name}: payload is not an object");
    };
    let mut checked = 0;
    for (k, v) in orig {
        let empty = v.is_null()
            || v.as_object().is_some_and(|o| {
                o.is_empty()
                    || o.get("values")
                        .is_some_and(|x| x.as_array().is_some_and(Vec::is_empty))
            })
            || v.as_array().is_some_and(Vec::is_empty);
        if !empty {
            assert!(out.contains_key(k), "{name}: field {k:?} was lost");
            checked += 1;
        }
    }
    checked
}

#[test]
fn every_fixture_item_round_trips_through_the_typed_protocol() {
    let dir = Path::new(FIXTURES);
    assert!(
        dir.is_dir(),
        "{} missing: shared/ must sit beside the checkout",
        dir.display()
    );
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
    {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let envelope = Envelope::parse(&fs::read(path).expect("read")).expect("parse");
        for item in &envelope.items {
            let bytes = item.payload.as_raw().expect("parsed payloads are raw");
            let ty = &item.headers.ty;
            let fields = match ty {
                ItemType::Event => round_trip::<Event>(&name, bytes),
                ItemType::Transaction => round_trip::<Transaction>(&name, bytes),
                ItemType::Session => round_trip::<SessionUpdate>(&name, bytes),
                ItemType::Sessions => round_trip::<SessionAggregates>(&name, bytes),
                ItemType::ClientReport => round_trip::<ClientReport>(&name, bytes),
                ItemType::UserReport => round_trip::<UserReport>(&name, bytes),
                _ => continue,
            };
            assert!(fields > 0, "{name}: no fields checked");
            *counts.entry(ty.as_str().to_owned()).or_default() += 1;
        }
    }
    for ty in [
        "event",
        "transaction",
        "session",
        "sessions",
        "client_report",
        "user_report",
    ] {
        assert!(
            counts.get(ty).copied().unwrap_or(0) > 0,
            "no {ty} item in the fixtures: {counts:?}"
        );
    }
}

#[test]
fn fixture_details_decode_as_expected() {
    let body = fs::read(Path::new(FIXTURES).join("001-event.jsonl")).expect("read");
    let env = Envelope::parse(&body).expect("parse");
    let event: Event =
        serde_json::from_slice(env.items[0].payload.as_raw().expect("raw")).expect("event");
    assert_eq!(event.exception.values.len(), 2);
    assert_eq!(event.title(), "RuntimeError: config load failed: bad port");
    let frame = &event.exception.values[0]
        .stacktrace
        .as_ref()
        .expect("stack")
        .frames[1];
    assert_eq!(frame.function.as_deref(), Some("_parse_port"));
    assert_eq!(frame.vars["value"], "'not-a-number'");
    assert!(event.contexts.contains_key("trace"));
    assert_eq!(event.tags["scenario"], "handled_exception");
}
