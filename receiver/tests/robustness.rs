//! Bad input gets a clear error, never a panic, a hang, a 5xx or a 200
//! followed by data loss (PROTOCOL.md §2, §4.1).
//!
//! Deterministic and bounded: every envelope the Python SDK sent
//! (shared/fixtures/python) is mutated with a fixed-seed xorshift generator
//! (truncation at every header boundary, newline duplication and removal,
//! corrupt `length` values, byte flips/inserts/deletes, invalid UTF-8 in
//! headers and payloads, hostile JSON payloads, wrong-typed fields at every
//! depth, duplicate keys, retyped items) and fed to
//! `sentry_core::envelope::Envelope::parse` and the receiver's per-item
//! limits, envelope-`dsn` auth and `ingest::envelope::prepare`, each under
//! `catch_unwind`. A bounded subset goes through HTTP to a real receiver;
//! then come the big cases (deep nesting, a 10 MB string, 10 000
//! breadcrumbs, 1 000 items, one item too many).
//!
//! A failure names the seed, the case index and a label, and prints the
//! start of the input; `ROBUSTNESS_SEED=<n>` reruns with another seed.

#[path = "support/fixtures.rs"]
mod fixtures_support;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Once, OnceLock};
use std::time::Instant;

use receiver::config::Clock;
use receiver::grouping::group_event;
use receiver::ingest::decode::{decode_all, Encoding};
use receiver::ingest::envelope::prepare;
use receiver::ingest::limits::Limits;
use receiver::ingest::normalize::{self, RequestContext};
use receiver::ingest::{auth, IngestError};
use receiver::store::records::Record;
use receiver::testing::{post, TestResponse, TestServer};
use sentry_core::envelope::{Envelope, EnvelopeError, ItemType};
use sentry_core::protocol::{Event, Timestamp};
use serde_json::{json, Map, Value};

const DEFAULT_SEED: u64 = 0x5EED_2026_1125;
/// Random mutations per fixture at the parser level.
const RANDOM_PER_FIXTURE: usize = 60;
/// Mutated envelopes posted over HTTP.
const HTTP_CASES: usize = 300;
/// When the recorded scenario ran (see tests/fixtures.rs).
const RECORDED: &str = "2026-11-25T18:41:30Z";

fn seed() -> u64 {
    std::env::var("ROBUSTNESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

// ---------------------------------------------------------------------------
// Deterministic randomness.

/// A seeded generator: the same cases on every run and machine.
struct Rng(fastrand::Rng);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(fastrand::Rng::with_seed(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.u64(..)
    }

    /// `0..n` (0 when `n == 0`).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn hex32(&mut self) -> String {
        format!("{:016x}{:016x}", self.next(), self.next())
    }
}

// ---------------------------------------------------------------------------
// Panics as values.

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f`, turning a panic into `Err(message)`. The panic message is
/// captured instead of printed (only on this thread; other tests keep the
/// default output).
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            } else {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result.map_err(|_| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "panic without a message".to_owned())
    })
}

// ---------------------------------------------------------------------------
// Fixtures and envelope surgery.

fn fixtures_dir() -> PathBuf {
    fixtures_support::python_fixtures_dir()
}

struct Fixture {
    name: String,
    body: Vec<u8>,
}

fn fixtures() -> Vec<Fixture> {
    let dir = fixtures_dir();
    let names = fixtures_support::envelope_names(&dir);
    assert!(names.len() >= 20, "fixtures missing: {names:?}");
    names
        .into_iter()
        .map(|name| Fixture {
            body: std::fs::read(dir.join(&name)).expect("fixture body"),
            name,
        })
        .collect()
}

/// An envelope taken apart: header object, item header objects, payloads.
#[derive(Clone)]
struct Parts {
    header: Map<String, Value>,
    items: Vec<(Map<String, Value>, Vec<u8>)>,
}

fn as_object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("expected an object, got {other}"),
    }
}

impl Parts {
    fn of(body: &[u8]) -> Parts {
        let envelope = Envelope::parse(body).expect("fixtures parse");
        Parts {
            header: as_object(serde_json::to_value(&envelope.headers).expect("header")),
            items: envelope
                .items()
                .iter()
                .map(|item| {
                    (
                        as_object(serde_json::to_value(&item.headers).expect("item header")),
                        item.payload.as_raw().unwrap_or(&[]).to_vec(),
                    )
                })
                .collect(),
        }
    }

    /// Indices of the items whose payload is a JSON object.
    fn json_items(&self) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| self.items[i].1.trim_ascii_start().first() == Some(&b'{'))
            .collect()
    }

    /// Python framing (`length` on every item, trailing newline) or
    /// JavaScript framing (no `length` where the payload has no newline,
    /// `\n` before each item header, no trailing newline).
    fn assemble(&self, js: bool) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.header).expect("header");
        for (header, payload) in &self.items {
            let mut header = header.clone();
            if js && !payload.contains(&b'\n') {
                header.remove("length");
            } else {
                header.insert("length".into(), Value::from(payload.len()));
            }
            out.push(b'\n');
            out.extend(serde_json::to_vec(&header).expect("item header"));
            out.push(b'\n');
            out.extend_from_slice(payload);
        }
        if !js {
            out.push(b'\n');
        }
        out
    }
}

/// Gives the fixture's event id (header and payload) a fresh value, so that
/// every mutated copy is a new event for the receiver.
fn with_fresh_event_id(body: &[u8], rng: &mut Rng) -> Vec<u8> {
    let Some(old) = Envelope::parse(body)
        .ok()
        .and_then(|e| e.event_id())
        .map(|id| id.simple().to_string())
    else {
        return body.to_vec();
    };
    let new = rng.hex32();
    let text = String::from_utf8_lossy(body);
    if text.len() != body.len() {
        return body.to_vec(); // not UTF-8 (a binary attachment): leave it
    }
    text.replace(&old, &new).into_bytes()
}

fn newlines(body: &[u8]) -> Vec<usize> {
    (0..body.len()).filter(|&i| body[i] == b'\n').collect()
}

/// Where each header line (envelope and items) starts and ends, found by
/// parsing the original body.
fn header_lines(body: &[u8]) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return vec![(0, body.len())];
    };
    lines.push((0, end));
    let mut offset = end + 1;
    while offset < body.len() {
        let Some(len) = body[offset..].iter().position(|&b| b == b'\n') else {
            lines.push((offset, body.len()));
            break;
        };
        let header: Value = serde_json::from_slice(&body[offset..offset + len]).unwrap_or_default();
        lines.push((offset, offset + len));
        let start = offset + len + 1;
        let payload_end = match header.get("length").and_then(Value::as_u64) {
            Some(n) => start + n as usize,
            None => body[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(body.len(), |i| start + i),
        };
        offset = payload_end + 1;
    }
    lines
}

const INVALID_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xfe\xff",
    b"\xc3",         // a lead byte without its continuation
    b"\xc3\x28",     // a bad continuation
    b"\xe2\x82",     // a truncated 3-byte sequence
    b"\xed\xa0\x80", // an encoded surrogate
    b"\xf8\x88\x80\x80\x80",
    b"\xc0\xaf", // an overlong slash
];

const LENGTH_VALUES: &[&str] = &[
    "0",
    "1",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "-1",
    "-4294967296",
    "1.5",
    "1e3",
    "1e400",
    "\"12\"",
    "\"abc\"",
    "null",
    "true",
    "[]",
    "{}",
];

/// Values of the wrong type (or shape) for any field.
const WRONG_VALUES: &[&str] = &[
    "0",
    "-1",
    "1.5",
    "1e308",
    "-1e308",
    "18446744073709551615",
    "-9223372036854775808",
    "123456789012345678901234567890",
    "\"\"",
    "\"x\"",
    "\"\\u0000\"",
    "\"2020-02-07 15:16:00.25+0100\"",
    "[]",
    "[null]",
    "[[1,2],[3]]",
    "{}",
    "{\"values\":5}",
    "{\"values\":[5,\"x\",null]}",
    "true",
    "null",
];

/// Fields SDKs send (event, transaction, session, reports) plus header
/// fields.
const FIELDS: &[&str] = &[
    "event_id",
    "timestamp",
    "start_timestamp",
    "platform",
    "level",
    "logger",
    "transaction",
    "server_name",
    "release",
    "dist",
    "environment",
    "message",
    "logentry",
    "exception",
    "threads",
    "stacktrace",
    "breadcrumbs",
    "user",
    "request",
    "contexts",
    "tags",
    "extra",
    "fingerprint",
    "modules",
    "sdk",
    "debug_meta",
    "errors",
    "type",
    "spans",
    "measurements",
    "checksum",
    "sid",
    "did",
    "seq",
    "init",
    "started",
    "status",
    "duration",
    "attrs",
    "aggregates",
    "discarded_events",
    "items",
    "version",
    "monitor_slug",
    "check_in_id",
    "name",
    "email",
    "comments",
];

const ENVELOPE_HEADER_FIELDS: &[&str] = &["event_id", "dsn", "sdk", "sent_at", "trace"];
const ITEM_HEADER_FIELDS: &[&str] = &[
    "type",
    "length",
    "content_type",
    "filename",
    "attachment_type",
    "item_count",
    "platform",
];

const ITEM_TYPES: &[&str] = &[
    "event",
    "transaction",
    "feedback",
    "session",
    "sessions",
    "client_report",
    "user_report",
    "check_in",
    "log",
    "span",
    "attachment",
    "profile",
    "replay_event",
    "integration",
    "x-unknown",
];

/// Strings that have broken timestamp, id or DSN parsers.
const TRICKY_STRINGS: &[&str] = &[
    "\"+10000-01-01T00:00:00Z\"",
    "\"9999-12-31T23:59:59.999999999+23:59\"",
    "\"0000-01-01T00:00:00-23:59\"",
    "\"2020-02-07T15:16:00+1234\"",
    "\"2020-02-07T15:16:00+99:99\"",
    "\"2020-02-07T15:16:00\u{e9}+0100\"",
    "\"2020-02-07T15:16:00+01\u{e9}\"",
    "\"\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}-0100\"",
    "\"2020-13-45T25:61:61Z\"",
    "\"NaN\"",
    "\"inf\"",
    "\"-inf\"",
    "\"1e400\"",
    "\"-0\"",
    "\"00000000-0000-0000-0000-000000000000\"",
    "\"A016D577-F705-4350-983E-C32FF16D02EB\"",
    "\"a016d577f7054350983ec32ff16d02eb00\"",
    "\"{a016d577-f705-4350-983e-c32ff16d02eb}\"",
    "\"http://k@127.0.0.1:1/1\"",
    "\"http://@127.0.0.1/1\"",
    "\"http://k@127.0.0.1/\"",
    "\"http://k@[::1/1\"",
    "\"https://k@h/99999999999999999999999\"",
    "\"ftp://k@h/1\"",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "\"\u{202e}\u{fffd}\u{10ffff}\"",
    // Found by this test: `Timestamp::parse_rfc3339` once sliced the
    // five-byte zone `+1é2` at byte 3, inside the `é`, and panicked (a
    // dropped connection, or a 503 for bodies over 64 KiB).
    "\"2020-02-07T15:16:00+1\u{e9}2\"",
];

/// Hostile payloads for any item, each with a label (built once).
fn hostile_payloads() -> &'static [(String, Vec<u8>)] {
    static PAYLOADS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    PAYLOADS.get_or_init(build_hostile_payloads)
}

fn build_hostile_payloads() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |label: &str, body: Vec<u8>| out.push((label.to_owned(), body));
    let nest = |open: &str, close: &str, n: usize, inner: &str| {
        format!("{}{inner}{}", open.repeat(n), close.repeat(n)).into_bytes()
    };
    add("100k-open-brackets", "[".repeat(100_000).into_bytes());
    add("100k-nested-arrays", nest("[", "]", 100_000, ""));
    add("50k-nested-objects", nest("{\"a\":", "}", 50_000, "1"));
    add("50k-open-objects", "{\"a\":[".repeat(50_000).into_bytes());
    for depth in [100, 126, 127, 128, 129, 200] {
        let mut body = b"{\"message\":\"deep\",\"extra\":{\"d\":".to_vec();
        body.extend(nest("[", "]", depth, "1"));
        body.extend_from_slice(b"}}");
        add(&format!("extra-nested-{depth}"), body);
    }
    let plain: &[(&str, &str)] = &[
        ("empty", ""),
        ("space", " "),
        ("empty-object", "{}"),
        ("array", "[]"),
        ("null", "null"),
        ("string", "\"event\""),
        ("number", "0"),
        ("two-objects", "{} {}"),
        ("trailing-garbage", "{}garbage"),
        ("unclosed-string", "{\"message\":\"abc"),
        ("unclosed-object", "{\"message\":\"abc\""),
        ("cr-inside", "{\"message\":\"a\rb\"}"),
        ("bom", "\u{feff}{\"message\":\"bom\"}"),
        ("huge-int", "{\"message\":\"n\",\"timestamp\":123456789012345678901234567890}"),
        ("float-overflow", "{\"timestamp\":1e400}"),
        ("float-overflow-neg", "{\"timestamp\":-1e400}"),
        ("float-max", "{\"timestamp\":1.7976931348623157e308}"),
        ("float-min", "{\"timestamp\":-1.7976931348623157e308}"),
        ("float-denormal", "{\"timestamp\":5e-324}"),
        ("negative-zero", "{\"timestamp\":-0.0}"),
        ("nan-token", "{\"timestamp\":NaN}"),
        ("infinity-token", "{\"x\":Infinity}"),
        ("neg-infinity-token", "{\"level\":-Infinity}"),
        ("nan-lowercase", "{\"message\":nan}"),
        ("bare-nan", "NaN"),
        ("nan-string", "{\"timestamp\":\"NaN\"}"),
        ("inf-string", "{\"timestamp\":\"inf\"}"),
        ("inf-string-neg", "{\"timestamp\":\"-inf\"}"),
        ("overflow-string", "{\"timestamp\":\"1e400\"}"),
        ("dup-message", "{\"message\":\"a\",\"message\":\"b\"}"),
        ("dup-timestamp", "{\"timestamp\":1795632089,\"timestamp\":\"x\"}"),
        ("dup-exception", "{\"exception\":{\"values\":[]},\"exception\":5}"),
        (
            "dup-event-id",
            "{\"event_id\":\"a016d577f7054350983ec32ff16d02eb\",\"event_id\":\"zz\"}",
        ),
        ("dup-nested", "{\"user\":{\"id\":\"1\",\"id\":2}}"),
        ("lone-surrogate", "{\"message\":\"\\ud800\"}"),
        ("bad-escape", "{\"message\":\"\\x41\"}"),
        ("nul-strings", "{\"message\":\"a\\u0000b\",\"release\":\"r\\u0000\",\"environment\":\"\\u0000\"}"),
        (
            "huge-lineno",
            "{\"exception\":{\"values\":[{\"type\":\"E\",\"value\":\"v\",\"stacktrace\":{\"frames\":\
             [{\"function\":\"f\",\"lineno\":18446744073709551616,\"colno\":-1}]}}]}}",
        ),
        (
            "exception-group-self-cycle",
            "{\"exception\":{\"values\":[{\"type\":\"A\",\"mechanism\":{\"type\":\"g\",\
             \"is_exception_group\":true,\"exception_id\":0,\"parent_id\":0}},{\"type\":\"B\",\
             \"mechanism\":{\"type\":\"g\",\"is_exception_group\":true,\"exception_id\":1,\
             \"parent_id\":0}}]}}",
        ),
        (
            "exception-group-cycle",
            "{\"exception\":{\"values\":[{\"type\":\"A\",\"mechanism\":{\"type\":\"g\",\
             \"exception_id\":1,\"parent_id\":2}},{\"type\":\"B\",\"mechanism\":{\"type\":\"g\",\
             \"exception_id\":2,\"parent_id\":1}},{\"type\":\"R\",\"mechanism\":{\"type\":\"g\",\
             \"is_exception_group\":true,\"exception_id\":0,\"parent_id\":1}}]}}",
        ),
        ("levels-numeric", "{\"level\":50,\"logger\":7}"),
        ("level-out-of-range", "{\"level\":99}"),
        (
            "format-edge",
            "{\"logentry\":{\"message\":\"%s %s %(x)s {0} { %\",\"params\":[1]}}",
        ),
        ("format-dict", "{\"logentry\":{\"message\":\"%(a)s %(b\",\"params\":{\"a\":1}}}"),
        ("message-object", "{\"message\":{\"formatted\":5,\"params\":\"x\"}}"),
        ("auto-ip", "{\"user\":{\"ip_address\":\"{{auto}}\"}}"),
        ("bad-trace", "{\"contexts\":{\"trace\":{\"trace_id\":\"zz\",\"span_id\":5}}}"),
        ("null-trace", "{\"contexts\":{\"trace\":null,\"os\":5}}"),
        (
            "spans-extreme",
            "{\"type\":\"transaction\",\"start_timestamp\":-1e308,\"timestamp\":1e308,\
             \"spans\":[{\"start_timestamp\":-1e308,\"timestamp\":1e308,\"span_id\":\"zz\"}]}",
        ),
        ("empty-frames", "{\"threads\":{\"values\":[{\"crashed\":true,\"stacktrace\":{\"frames\":[]}}]},\"stacktrace\":{\"frames\":[]}}"),
        ("exception-nulls", "{\"exception\":{\"values\":null},\"breadcrumbs\":null,\"tags\":null}"),
        (
            "fingerprint-mixed",
            "{\"fingerprint\":[\"{{ default }}\",\"{{ transaction }}\",\"{{ type }}\",5,null,{},1.5,true]}",
        ),
        ("checksum", "{\"checksum\":\"\\u0000\"}"),
        (
            "session-extreme",
            "{\"sid\":\"zz\",\"started\":1e300,\"seq\":-1,\"errors\":-5,\"attrs\":{\"release\":\"a@1\"}}",
        ),
        (
            "sessions-extreme",
            "{\"attrs\":{\"release\":\"a@1\"},\"aggregates\":[{\"started\":\"2026-11-25T18:41:00Z\",\
             \"exited\":18446744073709551615,\"errored\":-1}]}",
        ),
        (
            "client-report-extreme",
            "{\"timestamp\":1e308,\"discarded_events\":[{\"reason\":\"x\",\"category\":\"error\",\
             \"quantity\":18446744073709551615}]}",
        ),
        ("client-report-wrong", "{\"discarded_events\":5,\"rate_limited_events\":[5]}"),
        (
            "check-in-extreme",
            "{\"monitor_slug\":\"x\",\"status\":\"ok\",\"duration\":1e308,\"check_in_id\":\"zz\"}",
        ),
        ("user-report-wrong", "{\"event_id\":\"zz\",\"name\":5}"),
        ("feedback-wrong", "{\"contexts\":{\"feedback\":{\"message\":5}}}"),
        ("container-wrong", "{\"items\":5,\"version\":\"x\"}"),
    ];
    for (label, body) in plain {
        add(label, body.as_bytes().to_vec());
    }
    for bytes in INVALID_UTF8 {
        let mut body = b"{\"message\":\"".to_vec();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\"}");
        add("invalid-utf8-value", body);
        let mut body = b"{\"".to_vec();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\":1}");
        add("invalid-utf8-key", body);
    }
    for s in TRICKY_STRINGS {
        let body = format!("{{\"timestamp\":{s},\"start_timestamp\":{s},\"release\":{s}}}");
        add("tricky-timestamp", body.into_bytes());
    }
    // Many small things.
    let tags: Vec<String> = (0..10_000).map(|i| format!("[\"k{i}\",\"v\"]")).collect();
    add(
        "10k-tags",
        format!("{{\"tags\":[{}]}}", tags.join(",")).into_bytes(),
    );
    let frames: Vec<String> = (0..20_000)
        .map(|i| format!("{{\"function\":\"f{i}\",\"lineno\":{i}}}"))
        .collect();
    add(
        "20k-frames",
        format!(
            "{{\"exception\":{{\"values\":[{{\"type\":\"E\",\"stacktrace\":{{\"frames\":[{}]}}}}]}}}}",
            frames.join(",")
        )
        .into_bytes(),
    );
    let bad: Vec<&str> = (0..200).map(|_| "{\"lineno\":\"x\"}").collect();
    add(
        "200-bad-frames",
        format!(
            "{{\"exception\":{{\"values\":[{{\"type\":\"E\",\"stacktrace\":{{\"frames\":[{}]}}}}]}}}}",
            bad.join(",")
        )
        .into_bytes(),
    );
    out
}

/// Splices `value` (JSON text) in as `key` of the top-level object: before
/// the first key, so an existing key becomes a duplicate when `dup` is set,
/// else replacing it.
fn with_field(payload: &[u8], key: &str, value: &str, dup: bool) -> Vec<u8> {
    if dup {
        let start = payload.iter().position(|&b| b == b'{').unwrap_or(0) + 1;
        let mut out = payload[..start].to_vec();
        out.extend(format!("{}:{value}", Value::from(key)).into_bytes());
        if payload[start..].trim_ascii_start().first() != Some(&b'}') {
            out.push(b',');
        }
        out.extend_from_slice(&payload[start..]);
        return out;
    }
    match serde_json::from_slice::<Map<String, Value>>(payload) {
        Ok(mut map) => {
            let value: Value = serde_json::from_str(value).unwrap_or(Value::Null);
            map.insert(key.to_owned(), value);
            serde_json::to_vec(&map).expect("object")
        }
        Err(_) => payload.to_vec(),
    }
}

/// Replaces a random node of a JSON document (at any depth) with a value of
/// another type. Returns the path it replaced.
fn confuse_type(payload: &[u8], rng: &mut Rng) -> Option<(String, Vec<u8>)> {
    let mut value: Value = serde_json::from_slice(payload).ok()?;
    // Choose the path first, then replace what it leads to.
    let mut path: Vec<Value> = Vec::new();
    let mut node = &value;
    while rng.below(4) != 0 {
        node = match node {
            Value::Object(m) if !m.is_empty() => {
                let (key, child) = m.iter().nth(rng.below(m.len()))?;
                path.push(Value::from(key.as_str()));
                child
            }
            Value::Array(a) if !a.is_empty() => {
                let i = rng.below(a.len());
                path.push(Value::from(i));
                &a[i]
            }
            _ => break,
        };
    }
    let pointer: String = path
        .iter()
        .map(|seg| match seg {
            Value::String(k) => format!("/{}", k.replace('~', "~0").replace('/', "~1")),
            other => format!("/{other}"),
        })
        .collect();
    let replacement = rng.pick(WRONG_VALUES);
    *value.pointer_mut(&pointer)? = serde_json::from_str(replacement).unwrap_or(Value::Null);
    Some((
        format!("{pointer} = {replacement}"),
        serde_json::to_vec(&value).ok()?,
    ))
}

/// One random mutation of an envelope.
fn mutate(body: &[u8], rng: &mut Rng) -> (String, Vec<u8>) {
    let parts = Parts::of(body);
    let json_items = parts.json_items();
    let js = rng.below(3) == 0;
    let kind = rng.below(11);
    match kind {
        0 => {
            let mut out = body.to_vec();
            let ops = 1 + rng.below(4);
            let mut label = String::from("bytes");
            for _ in 0..ops {
                let pos = rng.below(out.len() + 1);
                match rng.below(4) {
                    0 if pos < out.len() => {
                        let mask = 1u8 << rng.below(8);
                        out[pos] ^= mask;
                        label.push_str(&format!(" flip@{pos}^{mask:#x}"));
                    }
                    1 => {
                        let b = *rng.pick(b"\n\r\0{}[]\":,\\ \xff\xc3\xe2x9-");
                        out.insert(pos, b);
                        label.push_str(&format!(" insert@{pos}={b:#x}"));
                    }
                    2 if pos < out.len() => {
                        let n = (1 + rng.below(16)).min(out.len() - pos);
                        out.drain(pos..pos + n);
                        label.push_str(&format!(" delete@{pos}+{n}"));
                    }
                    _ if pos < out.len() => {
                        out[pos] = rng.next() as u8;
                        label.push_str(&format!(" set@{pos}"));
                    }
                    _ => {}
                }
            }
            (label, out)
        }
        1 => {
            let lines = header_lines(body);
            let (start, end) = *rng.pick(&lines);
            let cut = match rng.below(4) {
                0 => start,
                1 => (start + end) / 2,
                2 => end,
                _ => (end + 1).min(body.len()),
            };
            (format!("truncate@{cut}"), body[..cut].to_vec())
        }
        2 => {
            let nl = newlines(body);
            if nl.is_empty() {
                return ("unchanged".into(), body.to_vec());
            }
            let pos = *rng.pick(&nl);
            newline_variant(body, pos, rng.below(4))
        }
        3 => {
            let i = rng.below(parts.items.len().max(1));
            let value = rng.pick(LENGTH_VALUES);
            (
                format!("item {i} length={value}"),
                with_raw_length(&parts, i, value),
            )
        }
        4 => {
            let lines = header_lines(body);
            let (start, end) = *rng.pick(&lines);
            let quotes: Vec<usize> = (start..end).filter(|&i| body[i] == b'"').collect();
            let at = quotes.get(rng.below(quotes.len())).map_or(start, |q| q + 1);
            let bad = rng.pick(INVALID_UTF8);
            let mut out = body.to_vec();
            out.splice(at..at, bad.iter().copied());
            (format!("invalid-utf8 header@{at}"), out)
        }
        5 if !json_items.is_empty() => {
            let i = *rng.pick(&json_items);
            let mut parts = parts.clone();
            let payload = &mut parts.items[i].1;
            let quotes: Vec<usize> = (0..payload.len()).filter(|&k| payload[k] == b'"').collect();
            let at = quotes.get(rng.below(quotes.len())).map_or(0, |q| q + 1);
            let bad = rng.pick(INVALID_UTF8);
            payload.splice(at..at, bad.iter().copied());
            (
                format!("invalid-utf8 item {i} payload@{at}"),
                parts.assemble(js),
            )
        }
        6 if !json_items.is_empty() => {
            let (label, payload) = rng.pick(hostile_payloads());
            let i = *rng.pick(&json_items);
            let mut parts = parts.clone();
            parts.items[i].1 = payload.clone();
            (format!("item {i} payload={label}"), parts.assemble(js))
        }
        7 if !json_items.is_empty() => {
            let i = *rng.pick(&json_items);
            let key = rng.pick(FIELDS);
            let value = rng.pick(WRONG_VALUES);
            let dup = rng.below(2) == 0;
            let mut parts = parts.clone();
            parts.items[i].1 = with_field(&parts.items[i].1, key, value, dup);
            (
                format!("item {i} {key}={value} dup={dup}"),
                parts.assemble(js),
            )
        }
        8 if !json_items.is_empty() => {
            let i = *rng.pick(&json_items);
            let mut parts = parts.clone();
            match confuse_type(&parts.items[i].1, rng) {
                Some((path, payload)) => {
                    parts.items[i].1 = payload;
                    (format!("item {i} {path}"), parts.assemble(js))
                }
                None => ("unchanged".into(), body.to_vec()),
            }
        }
        9 => {
            let mut parts = parts.clone();
            let value = if rng.below(2) == 0 {
                *rng.pick(WRONG_VALUES)
            } else {
                *rng.pick(TRICKY_STRINGS)
            };
            let parsed: Value = serde_json::from_str(value).unwrap_or(Value::Null);
            if parts.items.is_empty() || rng.below(2) == 0 {
                let key = rng.pick(ENVELOPE_HEADER_FIELDS);
                parts.header.insert((*key).to_owned(), parsed);
                (format!("envelope header {key}={value}"), parts.assemble(js))
            } else {
                let i = rng.below(parts.items.len());
                let key = rng.pick(ITEM_HEADER_FIELDS);
                if *key == "length" {
                    return (
                        format!("item {i} length={value}"),
                        with_raw_length(&parts, i, value),
                    );
                }
                parts.items[i].0.insert((*key).to_owned(), parsed);
                (format!("item {i} header {key}={value}"), parts.assemble(js))
            }
        }
        _ if !parts.items.is_empty() => {
            let i = rng.below(parts.items.len());
            let ty = rng.pick(ITEM_TYPES);
            let mut parts = parts.clone();
            parts.items[i].0.insert("type".into(), Value::from(*ty));
            (format!("item {i} retyped {ty}"), parts.assemble(js))
        }
        _ => ("unchanged".into(), body.to_vec()),
    }
}

fn newline_variant(body: &[u8], pos: usize, variant: usize) -> (String, Vec<u8>) {
    let mut out = body.to_vec();
    let label = match variant {
        0 => {
            out.insert(pos, b'\n');
            "duplicate"
        }
        1 => {
            out.remove(pos);
            "drop"
        }
        2 => {
            out.insert(pos, b'\r');
            "crlf"
        }
        _ => {
            out[pos] = b'\r';
            "cr"
        }
    };
    (format!("newline@{pos} {label}"), out)
}

/// The envelope with item `i`'s `length` written as `value` (raw JSON text).
fn with_raw_length(parts: &Parts, i: usize, value: &str) -> Vec<u8> {
    let mut out = serde_json::to_vec(&parts.header).expect("header");
    out.push(b'\n');
    for (k, (header, payload)) in parts.items.iter().enumerate() {
        let mut header = header.clone();
        header.remove("length");
        let mut text = serde_json::to_string(&header).expect("item header");
        let length = if k == i {
            value.to_owned()
        } else {
            payload.len().to_string()
        };
        text.insert_str(1, &format!("\"length\":{length},"));
        out.extend(text.into_bytes());
        out.push(b'\n');
        out.extend_from_slice(payload);
        out.push(b'\n');
    }
    out
}

// ---------------------------------------------------------------------------
// The parser-level check.

struct Case {
    label: String,
    body: Vec<u8>,
}

fn show(body: &[u8]) -> String {
    let head: String = body
        .iter()
        .take(300)
        .copied()
        .map(|b| b.escape_ascii().to_string())
        .collect();
    format!(
        "{} bytes: {head}{}",
        body.len(),
        if body.len() > 300 { "…" } else { "" }
    )
}

#[derive(Default)]
struct Tally {
    cases: usize,
    parse_errors: BTreeMap<&'static str, usize>,
    parsed: usize,
    prepared: usize,
    refused: BTreeMap<u16, usize>,
    failures: Vec<String>,
}

fn envelope_error_kind(e: &EnvelopeError) -> &'static str {
    match e {
        EnvelopeError::MissingHeader { .. } => "missing_header",
        EnvelopeError::InvalidHeader { .. } => "invalid_header",
        EnvelopeError::MissingNewline { .. } => "missing_newline",
        EnvelopeError::MissingItemHeader { .. } => "missing_item_header",
        EnvelopeError::InvalidItemHeader { .. } => "invalid_item_header",
        EnvelopeError::MissingItemType { .. } => "missing_item_type",
        EnvelopeError::UnexpectedEof { .. } => "unexpected_eof",
        _ => "other",
    }
}

fn is_client_error(e: &IngestError) -> bool {
    e.status().is_client_error() && !e.to_string().is_empty()
}

fn received() -> Timestamp {
    Timestamp::parse_rfc3339(RECORDED).expect("time")
}

/// Parses, checks limits and dsn auth, prepares; records what went wrong.
fn check_case(seed: u64, index: usize, case: &Case, tally: &mut Tally) {
    tally.cases += 1;
    let fail = |tally: &mut Tally, what: String| {
        tally.failures.push(format!(
            "seed {seed} case {index} [{}]: {what}\n    input {}",
            case.label,
            show(&case.body)
        ));
    };
    let envelope = match guarded(|| Envelope::parse(&case.body)) {
        Err(panic) => return fail(tally, format!("Envelope::parse panicked: {panic}")),
        Ok(Err(e)) => {
            *tally
                .parse_errors
                .entry(envelope_error_kind(&e))
                .or_default() += 1;
            let typed = e.offset().is_some_and(|o| o <= case.body.len())
                && envelope_error_kind(&e) != "other"
                && !e.to_string().is_empty();
            if !typed {
                fail(tally, format!("untyped parse error {e:?} ({e})"));
            }
            return;
        }
        Ok(Ok(envelope)) => envelope,
    };
    tally.parsed += 1;

    // What was framed is written back and framed the same way.
    match guarded(|| envelope.to_vec().map(|bytes| Envelope::parse(&bytes))) {
        Err(panic) => return fail(tally, format!("Envelope::to_vec panicked: {panic}")),
        Ok(Ok(Ok(again))) => {
            let same = again.items().len() == envelope.items().len()
                && again.event_id() == envelope.event_id()
                && again.items().iter().zip(envelope.items()).all(|(a, b)| {
                    a.headers.ty == b.headers.ty && a.payload.as_raw() == b.payload.as_raw()
                });
            if !same {
                fail(tally, "parse → to_vec → parse changed the items".into());
            }
        }
        Ok(Ok(Err(e))) => fail(tally, format!("the written envelope does not parse: {e}")),
        Ok(Err(e)) => fail(tally, format!("a parsed envelope cannot be written: {e}")),
    }

    let limits = match guarded(|| Limits::default().check_envelope(&envelope)) {
        Err(panic) => return fail(tally, format!("check_envelope panicked: {panic}")),
        Ok(result) => result,
    };
    if let Err(e) = &limits {
        if !is_client_error(e) {
            fail(tally, format!("check_envelope: {} {e}", e.status()));
        }
    }
    if let Some(dsn) = envelope.headers.dsn.as_deref() {
        match guarded(|| auth::from_envelope_dsn(dsn)) {
            Err(panic) => fail(tally, format!("from_envelope_dsn panicked: {panic}")),
            Ok(Err(e)) if !is_client_error(&e) => {
                fail(tally, format!("from_envelope_dsn: {} {e}", e.status()))
            }
            Ok(_) => {}
        }
    }

    let sent_at = match guarded(|| {
        envelope
            .headers
            .sent_at
            .as_deref()
            .and_then(Timestamp::parse_rfc3339)
    }) {
        Err(panic) => return fail(tally, format!("parsing sent_at panicked: {panic}")),
        Ok(t) => t,
    };
    let ctx = RequestContext {
        received: received(),
        sent_at,
        client_ip: Some("127.0.0.1".into()),
    };
    match guarded(|| {
        prepare(
            &envelope,
            1,
            &ctx,
            &receiver::store::dictionary::PayloadCodec::plain(3),
        )
    }) {
        Err(panic) => fail(tally, format!("prepare panicked: {panic}")),
        Ok(Err(e)) => {
            *tally.refused.entry(e.status().as_u16()).or_default() += 1;
            if !is_client_error(&e) {
                fail(tally, format!("prepare: {} {e}", e.status()));
            }
        }
        Ok(Ok(prepared)) => {
            tally.prepared += 1;
            // Nothing acknowledged disappears: every event and transaction
            // item became a record, attachments ride with the event.
            let count = |ty: ItemType| {
                envelope
                    .items()
                    .iter()
                    .filter(|i| i.headers.ty == ty)
                    .count()
            };
            let records = &prepared.batch.records;
            let events: Vec<_> = records
                .iter()
                .filter_map(|r| match r {
                    Record::Event(e) => Some(e),
                    _ => None,
                })
                .collect();
            let transactions = records
                .iter()
                .filter(|r| matches!(r, Record::Transaction(_)))
                .count();
            let loose_attachments = records
                .iter()
                .filter(|r| matches!(r, Record::Attachment(_)))
                .count();
            let attachments =
                loose_attachments + events.iter().map(|e| e.attachments.len()).sum::<usize>();
            let counted: u64 = prepared.batch.item_counts.iter().map(|(_, n)| *n).sum();
            if events.len() != count(ItemType::Event)
                || transactions != count(ItemType::Transaction)
                || attachments != count(ItemType::Attachment)
                || counted != envelope.items().len() as u64
            {
                fail(
                    tally,
                    format!(
                        "records lost: {} events, {transactions} transactions, {attachments} \
                         attachments, {counted} counted for {} items",
                        events.len(),
                        envelope.items().len()
                    ),
                );
            }
            // What is stored reads back as an event and groups the same
            // way (the writer regroups from it when its hash cache is stale).
            for e in &events {
                let back = receiver::store::decompress(&e.payload)
                    .ok()
                    .and_then(|json| serde_json::from_slice::<Event>(&json).ok());
                match back {
                    None => fail(tally, "the stored event payload does not read back".into()),
                    Some(back) => {
                        let hashes: Vec<String> = group_event(&back)
                            .hashes
                            .into_iter()
                            .map(|h| h.hash)
                            .collect();
                        let stored: Vec<&str> =
                            e.grouping.hashes.iter().map(|h| h.hash.as_str()).collect();
                        let fallback = stored == [receiver::ingest::FALLBACK_HASH];
                        if hashes != stored && !(fallback && hashes.is_empty()) {
                            fail(
                                tally,
                                format!("regrouping the stored event: {hashes:?} != {stored:?}"),
                            );
                        }
                    }
                }
            }
            let event_class = count(ItemType::Event) + count(ItemType::Transaction);
            if event_class > 0 && prepared.event_id.is_none() {
                fail(
                    tally,
                    "an event was prepared without an id to answer".into(),
                );
            }
        }
    }
}

fn parser_cases(fixtures: &[Fixture], rng: &mut Rng) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut push = |label: String, body: Vec<u8>| cases.push(Case { label, body });
    let hostile = hostile_payloads();
    for f in fixtures {
        let parts = Parts::of(&f.body);
        let name = &f.name[..3];
        let bases = [("py", f.body.clone()), ("js", parts.assemble(true))];
        for (framing, body) in &bases {
            // Truncation at (and around) every header boundary.
            for (start, end) in header_lines(body) {
                let mut cuts = vec![start, start + 1, (start + end) / 2, end, end + 1];
                cuts.retain(|&c| c <= body.len());
                cuts.dedup();
                for cut in cuts {
                    push(
                        format!("{name} {framing} truncate@{cut}"),
                        body[..cut].to_vec(),
                    );
                }
            }
            // Every newline duplicated, dropped, preceded by `\r`, replaced.
            for pos in newlines(body) {
                for variant in 0..4 {
                    let (label, out) = newline_variant(body, pos, variant);
                    push(format!("{name} {framing} {label}"), out);
                }
            }
        }
        // Every `length` replaced by every odd value.
        for i in 0..parts.items.len() {
            for value in LENGTH_VALUES {
                push(
                    format!("{name} item {i} length={value}"),
                    with_raw_length(&parts, i, value),
                );
            }
        }
        // Header fields of the wrong type, and tricky strings: all of them
        // for the envelope with an attachment, a sample for the others.
        let item = rng.below(parts.items.len().max(1));
        let all: Vec<&str> = WRONG_VALUES.iter().chain(TRICKY_STRINGS).copied().collect();
        let values: Vec<&str> = if name == "011" {
            all
        } else {
            (0..8).map(|_| *rng.pick(&all)).collect()
        };
        for value in values {
            let parsed: Value = serde_json::from_str(value).unwrap_or(Value::Null);
            for key in ENVELOPE_HEADER_FIELDS {
                let mut p = parts.clone();
                p.header.insert((*key).to_owned(), parsed.clone());
                push(
                    format!("{name} envelope header {key}={value}"),
                    p.assemble(false),
                );
            }
            if parts.items.is_empty() {
                continue;
            }
            for key in ITEM_HEADER_FIELDS {
                let mut p = parts.clone();
                if *key == "length" {
                    continue; // covered above
                }
                p.items[item].0.insert((*key).to_owned(), parsed.clone());
                push(
                    format!("{name} item {item} header {key}={value}"),
                    p.assemble(false),
                );
            }
        }
        // Random mutations.
        for _ in 0..RANDOM_PER_FIXTURE {
            let (label, body) = mutate(&f.body, rng);
            push(format!("{name} {label}"), body);
        }
        // Type confusion deep inside every JSON item.
        for i in parts.json_items() {
            for _ in 0..6 {
                if let Some((path, payload)) = confuse_type(&parts.items[i].1, rng) {
                    let mut p = parts.clone();
                    p.items[i].1 = payload;
                    push(format!("{name} item {i} {path}"), p.assemble(false));
                }
            }
            // Wrong-typed and duplicate top-level fields.
            for key in FIELDS {
                let value = rng.pick(WRONG_VALUES);
                let dup = rng.below(2) == 0;
                let mut p = parts.clone();
                p.items[i].1 = with_field(&p.items[i].1, key, value, dup);
                push(
                    format!("{name} item {i} {key}={value} dup={dup}"),
                    p.assemble(false),
                );
            }
        }
    }
    // Every hostile payload as every item type, both framings.
    for (label, payload) in hostile {
        for ty in ITEM_TYPES {
            let mut body =
                format!("{{}}\n{{\"type\":\"{ty}\",\"length\":{}}}\n", payload.len()).into_bytes();
            body.extend_from_slice(payload);
            body.push(b'\n');
            push(format!("synthetic {ty} {label}"), body);
        }
        if !payload.contains(&b'\n') {
            let mut body = b"{}\n{\"type\":\"event\"}\n".to_vec();
            body.extend_from_slice(payload);
            push(format!("synthetic js event {label}"), body);
        }
    }
    cases
}

#[test]
fn mutated_envelopes_never_panic_in_parser_limits_or_prepare() {
    let seed = seed();
    let started = Instant::now();
    let fixtures = fixtures();
    let mut rng = Rng::new(seed);
    let cases = parser_cases(&fixtures, &mut rng);
    assert!(cases.len() >= 3000, "only {} cases", cases.len());
    let mut tally = Tally::default();
    for (index, case) in cases.iter().enumerate() {
        check_case(seed, index, case, &mut tally);
    }
    // Compressed bodies with flipped bytes: the decoders fail cleanly.
    let mut decoded = 0;
    for (index, f) in fixtures.iter().enumerate() {
        for encoding in [
            Encoding::Gzip,
            Encoding::Deflate,
            Encoding::Brotli,
            Encoding::Zstd,
        ] {
            let packed = compress(encoding, &f.body);
            for round in 0..4 {
                let mut data = packed.clone();
                let pos = rng.below(data.len());
                data[pos] ^= 1 << rng.below(8);
                if round == 3 {
                    data.truncate(rng.below(data.len()));
                }
                match guarded(|| decode_all(encoding, &data, 1 << 20)) {
                    Err(panic) => tally.failures.push(format!(
                        "seed {seed} decoder {encoding:?} fixture {index} round {round}: {panic}"
                    )),
                    Ok(Err(e)) => {
                        let e = IngestError::from(e);
                        if !is_client_error(&e) {
                            tally.failures.push(format!("decoder {encoding:?}: {e}"));
                        }
                    }
                    Ok(Ok(_)) => decoded += 1,
                }
            }
        }
    }
    eprintln!(
        "robustness (parser): seed {seed}, {} cases in {:?}: {} parsed, {} prepared, parse errors \
         {:?}, refused {:?}; {decoded} corrupted compressed bodies still decoded",
        tally.cases,
        started.elapsed(),
        tally.parsed,
        tally.prepared,
        tally.parse_errors,
        tally.refused
    );
    assert!(
        tally.failures.is_empty(),
        "{} failures:\n{}",
        tally.failures.len(),
        tally
            .failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The mutations reach every stage: some frame, some are refused by
    // normalisation, most are stored.
    assert!(tally.parse_errors.len() >= 5, "{:?}", tally.parse_errors);
    assert!(tally.prepared > tally.cases / 4, "{}", tally.prepared);
    assert!(
        tally.refused.get(&400).copied().unwrap_or(0) > 100,
        "{:?}",
        tally.refused
    );
}

fn compress(encoding: Encoding, data: &[u8]) -> Vec<u8> {
    match encoding {
        Encoding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).expect("gzip");
            e.finish().expect("gzip")
        }
        Encoding::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).expect("deflate");
            e.finish().expect("deflate")
        }
        Encoding::Brotli => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
                w.write_all(data).expect("br");
            }
            out
        }
        Encoding::Zstd => zstd::bulk::compress(data, 3).expect("zstd"),
        Encoding::Identity => data.to_vec(),
    }
}

// ---------------------------------------------------------------------------
// HTTP.

fn auth_header(server: &TestServer) -> String {
    format!(
        "Sentry sentry_key={}, sentry_version=7, sentry_client=robustness/1.0",
        server.public_key()
    )
}

fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Identity => "identity",
        Encoding::Gzip => "gzip",
        Encoding::Deflate => "deflate",
        Encoding::Brotli => "br",
        Encoding::Zstd => "zstd",
    }
}

fn send(server: &TestServer, body: &[u8], encoding: Encoding) -> std::io::Result<TestResponse> {
    send_to(server, Endpoint::Envelope, body, encoding)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Endpoint {
    Envelope,
    /// `/store/` with a JSON (or base64) body.
    Store,
}

fn send_to(
    server: &TestServer,
    endpoint: Endpoint,
    body: &[u8],
    encoding: Encoding,
) -> std::io::Result<TestResponse> {
    let auth = auth_header(server);
    let (url, content_type) = match endpoint {
        Endpoint::Envelope => (server.envelope_url(), "application/x-sentry-envelope"),
        Endpoint::Store => (server.store_url(), "application/json"),
    };
    post(
        &url,
        &[
            ("X-Sentry-Auth", auth.as_str()),
            ("Content-Type", content_type),
            ("Content-Encoding", encoding_name(encoding)),
        ],
        &compress(encoding, body),
    )
}

/// A reply is 200 with a JSON object, or a 4xx (not 408) with a JSON
/// `detail` and `X-Sentry-Error`. Returns the answered event id.
fn check_reply(r: &TestResponse) -> Result<Option<String>, String> {
    let json = r.json();
    if r.status == 200 {
        if !json.is_object() {
            return Err("200 without a JSON object".into());
        }
        return match &json["id"] {
            Value::Null => Ok(None),
            Value::String(id)
                if id.len() == 32
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) =>
            {
                Ok(Some(id.clone()))
            }
            other => Err(format!("200 with a bad id {other}")),
        };
    }
    if !(400..500).contains(&r.status) || r.status == 408 {
        return Err(format!("status {}", r.status));
    }
    let detail = json["detail"].as_str().unwrap_or("");
    let header = r.header("x-sentry-error").unwrap_or("");
    if detail.is_empty() || header.is_empty() {
        return Err(format!(
            "{} without detail/X-Sentry-Error: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    Ok(None)
}

#[test]
fn mutated_envelopes_over_http_get_200_or_a_clear_4xx_and_200s_are_stored() {
    let seed = seed();
    let started = Instant::now();
    let server = TestServer::builder()
        .clock(Clock::Fixed(received()))
        .start();
    let fixtures = fixtures();
    let mut rng = Rng::new(seed ^ 0x4854_5450);
    let hostile = hostile_payloads();

    let mut cases: Vec<(String, Vec<u8>, Encoding, Endpoint)> = Vec::new();
    for i in 0..HTTP_CASES {
        let f = &fixtures[i % fixtures.len()];
        let base = with_fresh_event_id(&f.body, &mut rng);
        let (label, body) = mutate(&base, &mut rng);
        let encoding = match rng.below(8) {
            0 => Encoding::Gzip,
            1 => Encoding::Brotli,
            _ => Encoding::Identity,
        };
        cases.push((
            format!("{} {label}", &f.name[..3]),
            body,
            encoding,
            Endpoint::Envelope,
        ));
    }
    // Every hostile payload once as an event item, once as a `/store/` body.
    for (label, payload) in hostile {
        let body = event_envelope(payload);
        let label = format!("hostile event {label}");
        cases.push((label.clone(), body, Encoding::Identity, Endpoint::Envelope));
        cases.push((label, payload.clone(), Encoding::Identity, Endpoint::Store));
    }
    // `/store/` bodies in base64 and base64 of zlib, intact and damaged.
    {
        use base64::Engine as _;
        let b64 = |data: &[u8]| {
            base64::engine::general_purpose::STANDARD
                .encode(data)
                .into_bytes()
        };
        let event = br#"{"message":"stored via base64"}"#;
        let zlib = compress(Encoding::Deflate, event);
        let mut damaged = zlib.clone();
        damaged[zlib.len() / 2] ^= 0x55;
        for (label, body) in [
            ("store base64", b64(event)),
            ("store base64 zlib", b64(&zlib)),
            ("store base64 damaged zlib", b64(&damaged)),
            ("store base64 truncated zlib", b64(&zlib[..zlib.len() / 2])),
            ("store base64 of garbage", b64(b"\x00\xff garbage")),
            ("store not base64", b"!!!not base64 at all".to_vec()),
            (
                "store base64 zlib bomb",
                b64(&compress(Encoding::Deflate, &vec![b'{'; 8 << 20])),
            ),
        ] {
            cases.push((label.into(), body, Encoding::Identity, Endpoint::Store));
        }
    }

    let mut failures = Vec::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut stored_events: BTreeSet<String> = BTreeSet::new();
    let mut transactions = 0usize;
    for (index, (label, body, encoding, endpoint)) in cases.iter().enumerate() {
        let reply = match send_to(&server, *endpoint, body, *encoding) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!(
                    "seed {seed} case {index} [{label}]: connection failed ({e})\n    input {}",
                    show(body)
                ));
                if failures.len() >= 5 {
                    break;
                }
                continue;
            }
        };
        *statuses.entry(reply.status).or_default() += 1;
        match check_reply(&reply) {
            Err(why) => failures.push(format!(
                "seed {seed} case {index} [{label}]: {why}\n    input {}",
                show(body)
            )),
            Ok(id) if reply.status == 200 => {
                let envelope = Envelope::parse(body).ok();
                let has = |ty: ItemType| match endpoint {
                    Endpoint::Store => ty == ItemType::Event,
                    Endpoint::Envelope => envelope
                        .as_ref()
                        .is_some_and(|e| e.items().iter().any(|i| i.headers.ty == ty)),
                };
                if has(ItemType::Event) {
                    match id {
                        Some(id) if server.event_json(&id).is_some() => {
                            stored_events.insert(id);
                        }
                        other => failures.push(format!(
                            "seed {seed} case {index} [{label}]: 200 ({other:?}) but the event \
                             is not stored\n    input {}",
                            show(body)
                        )),
                    }
                }
                if has(ItemType::Transaction) {
                    transactions += 1;
                }
            }
            Ok(_) => {}
        }
    }

    // Still healthy: a valid event is accepted and stored.
    let body = with_fresh_event_id(&fixtures[0].body, &mut rng);
    let reply = send(&server, &body, Encoding::Identity).expect("valid event after the flood");
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let id = reply.json()["id"].as_str().map(str::to_owned).expect("id");
    assert!(
        server.event_json(&id).is_some(),
        "valid event {id} not stored"
    );
    stored_events.insert(id);

    let counts = server.counts();
    eprintln!(
        "robustness (http): seed {seed}, {} requests in {:?}: statuses {statuses:?}, {} events and \
         {transactions} transactions acknowledged; tables {counts:?}",
        cases.len() + 1,
        started.elapsed(),
        stored_events.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(counts["events"] as usize, stored_events.len(), "{counts:?}");
    assert_eq!(counts["transactions"] as usize, transactions, "{counts:?}");
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > HTTP_CASES / 4,
        "{statuses:?}"
    );
    assert!(
        statuses.get(&400).copied().unwrap_or(0) > 20,
        "{statuses:?}"
    );
}

// ---------------------------------------------------------------------------
// Big and deep.

fn event_envelope(payload: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "{{}}\n{{\"type\":\"event\",\"length\":{}}}\n",
        payload.len()
    )
    .into_bytes();
    body.extend_from_slice(payload);
    body.push(b'\n');
    body
}

fn expect_clear_4xx(r: &TestResponse, status: u16) -> String {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    check_reply(r).expect("a clear error");
    let json = r.json();
    format!("{} {}", json["detail"], json["causes"])
}

/// An event whose `extra.d` is `depth` nested lists around `1`.
fn deep_in_extra(depth: usize) -> String {
    format!(
        "{{\"message\":\"deep\",\"extra\":{{\"d\":{}1{}}}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

#[test]
fn deep_nesting_is_refused_where_it_is_read_and_skipped_elsewhere_without_overflow() {
    let server = TestServer::start();
    let post_event = |payload: &[u8]| send(&server, &event_envelope(payload), Encoding::Identity);

    // Within serde_json's limit of 128 levels: stored as sent, and read
    // back with `extra` cut to depth 7 (PROTOCOL.md §5.1, `ingest::trim`).
    let depth = 125; // + the event object and `extra` = 127 levels
    let payload = deep_in_extra(depth);
    let r = post_event(payload.as_bytes()).expect("reply");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_str().map(str::to_owned).expect("id");
    let levels = |v: &serde_json::Value| {
        let mut node = &v["extra"]["d"];
        let mut levels = 0;
        while let Some(first) = node.get(0) {
            node = first;
            levels += 1;
        }
        (levels, node.clone())
    };
    let sent = server.event_as_sent(&id).expect("stored");
    assert_eq!(levels(&sent), (depth, json!(1)));
    let (kept, rest) = levels(&server.event_json(&id).expect("stored"));
    // `extra` is level 1 and `d` level 2: the list at level 8 is text.
    assert_eq!(kept, 6);
    assert!(
        rest.as_str().is_some_and(|s| s.starts_with("[[[")),
        "{rest}"
    );

    // Past it, in a part ingestion reads: 400 naming the limit (the
    // receiver has not disabled it).
    for depth in [127, 200, 100_000] {
        let payload = format!(
            "{{\"message\":\"deep\",\"contexts\":{{\"trace\":{{\"d\":{}1{}}}}}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let r = post_event(payload.as_bytes()).expect("reply");
        let why = expect_clear_4xx(&r, 400);
        assert!(why.contains("recursion limit"), "depth {depth}: {why}");
    }
    // In a part ingestion skips (as serde_json skips an ignored field,
    // without recursing): stored, and read back without that part.
    for depth in [200, 100_000] {
        let payload = deep_in_extra(depth);
        let r = post_event(payload.as_bytes()).expect("reply");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let id = r.json()["id"].as_str().map(str::to_owned).expect("id");
        let read = server.event_json(&id).expect("readable");
        assert!(read.get("extra").is_none(), "depth {depth}");
        assert_eq!(read["errors"][0]["name"], "extra", "depth {depth}");
    }
    let r = post_event("[".repeat(100_000).as_bytes()).expect("reply");
    expect_clear_4xx(&r, 400);
    assert!(normalize::event(
        format!(
            "{{\"contexts\":{{\"trace\":{}{}}}}}",
            "{\"a\":".repeat(300),
            "}".repeat(300)
        )
        .as_bytes(),
        &RequestContext {
            received: received(),
            sent_at: None,
            client_ip: None
        },
        None
    )
    .is_err());

    // In the envelope header and an item header.
    let deep = "{\"a\":".repeat(100_000);
    let r = send(&server, format!("{deep}\n").as_bytes(), Encoding::Identity).expect("reply");
    expect_clear_4xx(&r, 400);
    let r = send(
        &server,
        format!(
            "{{}}\n{{\"type\":\"event\",\"x\":{}}}\n{{}}\n",
            "[".repeat(100_000)
        )
        .as_bytes(),
        Encoding::Identity,
    )
    .expect("reply");
    expect_clear_4xx(&r, 400);

    // Still serving (the first event, the two deep `extra`s and this).
    let r = post_event(b"{\"message\":\"after\"}").expect("reply");
    assert_eq!(r.status, 200);
    assert_eq!(server.events().len(), 4);
}

#[test]
fn big_strings_many_breadcrumbs_and_many_items_are_stored_or_refused_clearly() {
    const MIB: u64 = 1024 * 1024;
    let server = TestServer::builder()
        .configure(|c| c.limits.max_event_size = 16 * MIB)
        .start();

    // A 10 MB string under a (raised) event limit: stored whole, read back
    // cut to the 16 KiB an `extra` value may have.
    let big = "x".repeat(10_000_000);
    let payload = json!({"message": "big", "extra": {"blob": big}}).to_string();
    let started = Instant::now();
    let r = send(&server, &event_envelope(payload.as_bytes()), Encoding::Gzip).expect("reply");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_str().map(str::to_owned).expect("id");
    let sent = server.event_as_sent(&id).expect("stored");
    assert_eq!(
        sent["extra"]["blob"].as_str().map(str::len),
        Some(10_000_000)
    );
    let stored = server.event_json(&id).expect("stored");
    let blob = stored["extra"]["blob"].as_str().unwrap_or_default();
    assert!(
        blob.len() <= 16 * 1024 && blob.ends_with("..."),
        "{}",
        blob.len()
    );
    let big_took = started.elapsed();

    // The same as the message itself (title, grouping).
    let payload = json!({"message": big}).to_string();
    let r = send(&server, &event_envelope(payload.as_bytes()), Encoding::Gzip).expect("reply");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_str().map(str::to_owned).expect("id");
    assert!(server.event_json(&id).is_some());

    // Over the default limit of 1 MiB: 413, said clearly.
    let default = TestServer::start();
    let r = send(
        &default,
        &event_envelope(payload.as_bytes()),
        Encoding::Gzip,
    )
    .expect("reply");
    let why = expect_clear_4xx(&r, 413);
    assert!(why.contains("event"), "{why}");

    // 10 000 breadcrumbs: all kept.
    let crumbs: Vec<Value> = (0..10_000)
        .map(|i| json!({"timestamp": 1_795_632_000 + i, "message": format!("crumb {i}"), "category": "c"}))
        .collect();
    let payload = json!({"message": "crumbs", "breadcrumbs": {"values": crumbs}}).to_string();
    let r = send(
        &server,
        &event_envelope(payload.as_bytes()),
        Encoding::Identity,
    )
    .expect("reply");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_str().map(str::to_owned).expect("id");
    let stored = server.event_json(&id).expect("stored");
    let values = stored["breadcrumbs"]["values"]
        .as_array()
        .or_else(|| stored["breadcrumbs"].as_array())
        .map_or(0, Vec::len);
    assert_eq!(values, 10_000);

    // 1 000 items: an event and 999 of a type the receiver does not know,
    // all kept.
    let before = server.counts();
    let mut body = b"{}\n{\"type\":\"event\"}\n{\"message\":\"thousand\"}\n".to_vec();
    for i in 0..999 {
        body.extend(format!("{{\"type\":\"x-custom\"}}\n{{\"n\":{i}}}\n").into_bytes());
    }
    let r = send(&server, &body, Encoding::Identity).expect("reply");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_str().map(str::to_owned).expect("id");
    assert!(server.event_json(&id).is_some());
    let after = server.counts();
    assert_eq!(after["raw_items"] - before["raw_items"], 999, "{after:?}");

    // One more item than 1 000: 413 before the rest is read, nothing kept.
    body.extend(b"{\"type\":\"x-custom\"}\n{}\n");
    let body = String::from_utf8(body)
        .expect("ASCII")
        .replace("thousand", "one too many")
        .into_bytes();
    let r = send(&server, &body, Encoding::Identity).expect("reply");
    let error = expect_clear_4xx(&r, 413);
    assert!(error.contains("more than 1000 items"), "{error}");
    assert_eq!(server.counts(), after);

    // 1 000 of a limited kind: 413 naming the limit.
    for (ty, payload) in [
        ("attachment", "a"),
        ("session", "{}"),
        ("client_report", "{}"),
        ("event", "{}"),
    ] {
        let mut body = b"{}\n".to_vec();
        for _ in 0..1000 {
            body.extend(format!("{{\"type\":\"{ty}\"}}\n{payload}\n").into_bytes());
        }
        let r = send(&server, &body, Encoding::Identity).expect("reply");
        expect_clear_4xx(&r, 413);
    }
    eprintln!("robustness (big): the 10 MB event took {big_took:?}");
}

#[test]
fn broken_body_framing_and_encodings_get_a_clear_4xx() {
    let server = TestServer::start();
    let auth = auth_header(&server);
    let head = |extra: &str| {
        format!(
            "POST /api/1/envelope/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             X-Sentry-Auth: {auth}\r\n{extra}\r\n"
        )
        .into_bytes()
    };
    let chunked = "Transfer-Encoding: chunked\r\n";
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "bad chunk size",
            [head(chunked), b"zz\r\n{}\r\n0\r\n\r\n".to_vec()].concat(),
            400,
        ),
        (
            "huge chunk size",
            [
                head(chunked),
                b"ffffffffffffffffff\r\n{}\r\n0\r\n\r\n".to_vec(),
            ]
            .concat(),
            400,
        ),
        (
            "chunk shorter than its size line",
            [head(chunked), b"2\r\n{}}}}}\r\n0\r\n\r\n".to_vec()].concat(),
            400,
        ),
        (
            "gzip header only",
            [
                head("Content-Length: 4\r\nContent-Encoding: gzip\r\n"),
                b"\x1f\x8b\x08\x00".to_vec(),
            ]
            .concat(),
            400,
        ),
        (
            "brotli garbage",
            [
                head("Content-Length: 4\r\nContent-Encoding: br\r\n"),
                b"\xff\xff\xff\xff".to_vec(),
            ]
            .concat(),
            400,
        ),
        (
            "zstd garbage",
            [
                head("Content-Length: 4\r\nContent-Encoding: zstd\r\n"),
                b"\x28\xb5\x2f\xfd".to_vec(),
            ]
            .concat(),
            400,
        ),
        (
            "unknown encoding",
            [
                head("Content-Length: 3\r\nContent-Encoding: lzma\r\n"),
                b"{}\n".to_vec(),
            ]
            .concat(),
            415,
        ),
        (
            "non-ASCII auth",
            [
                b"POST /api/1/envelope/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                  X-Sentry-Auth: Sentry sentry_key=\xff\xfe\r\nContent-Length: 3\r\n\r\n{}\n"
                    .to_vec(),
            ]
            .concat(),
            401,
        ),
        (
            "non-UTF-8 percent escapes in the query key",
            b"POST /api/1/envelope/?sentry_key=%ff%fe%C3 HTTP/1.1\r\nHost: x\r\n\
              Connection: close\r\nContent-Length: 3\r\n\r\n{}\n"
                .to_vec(),
            400,
        ),
        (
            "huge project id",
            b"POST /api/99999999999999999999999/envelope/ HTTP/1.1\r\nHost: x\r\n\
              Connection: close\r\nContent-Length: 3\r\n\r\n{}\n"
                .to_vec(),
            400,
        ),
    ];
    for (label, bytes, status) in cases {
        let r = receiver::testing::send_raw(server.addr(), &bytes)
            .unwrap_or_else(|e| panic!("{label}: no reply ({e})"));
        assert_eq!(
            r.status,
            status,
            "{label}: {}",
            String::from_utf8_lossy(&r.body)
        );
        check_reply(&r).unwrap_or_else(|why| panic!("{label}: {why}"));
    }
    // Malformed heads are refused by hyper itself: a bare 400, but an
    // answer, and the server keeps serving.
    for (label, extra) in [
        (
            "two Content-Length",
            "Content-Length: 2\r\nContent-Length: 3\r\n",
        ),
        ("negative Content-Length", "Content-Length: -1\r\n"),
        (
            "huge Content-Length",
            "Content-Length: 99999999999999999999999\r\n",
        ),
    ] {
        let r =
            receiver::testing::send_raw(server.addr(), &[head(extra), b"{}\n".to_vec()].concat())
                .unwrap_or_else(|e| panic!("{label}: no reply ({e})"));
        assert_eq!(r.status, 400, "{label}");
    }
    let r = send(
        &server,
        &event_envelope(b"{\"message\":\"after\"}"),
        Encoding::Identity,
    )
    .expect("reply");
    assert_eq!(r.status, 200);
}
