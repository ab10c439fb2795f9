//! The zstd dictionary a database trains on its own events
//! (`receiver::store::dictionary`): events stored before and after it read
//! back as sent, it is stored before any payload uses it, and a process
//! that opens the database later can read those payloads.

use std::time::{Duration, Instant};

use receiver::store::{decompress, Store};
use receiver::testing::post;
use receiver::TestServer;
use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};

#[path = "support/binary.rs"]
mod binary;
use binary::{envelope_endpoint, parse_dsn, spawn, spawn_with};

/// An error event that varies with `n` the way an application's do: a few
/// error types and modules, the same frames, different values.
fn event(n: usize) -> Value {
    let module = ["billing", "orders", "search"][n % 3];
    let error_type = ["KeyError", "ValueError"][n % 2];
    json!({
        "event_id": format!("{:032x}", n + 1),
        "level": "error",
        "platform": "python",
        "release": "shop@1.2.3",
        "environment": "prod",
        "message": format!("charge {n} failed"),
        "exception": {"values": [{
            "type": error_type,
            "value": format!("missing key 'order-{n}'"),
            "module": format!("shop.{module}"),
            "stacktrace": {"frames": (0..8).map(|f| json!({
                "filename": format!("shop/{module}/step{f}.py"),
                "function": format!("step_{f}"),
                "module": format!("shop.{module}.step{f}"),
                "lineno": 10 + f,
                "in_app": true,
                "context_line": format!("    return step_{}(order)", f + 1),
            })).collect::<Vec<_>>()},
        }]},
        "breadcrumbs": {"values": (0..5).map(|b| json!({
            "category": "http", "message": format!("GET /orders/{n}/{b}"), "level": "info",
            "timestamp": 1_700_000_000.0 + b as f64,
        })).collect::<Vec<_>>()},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"},
                     "os": {"name": "Linux"}},
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
    })
}

fn envelope(n: usize) -> Vec<u8> {
    let e = event(n);
    format!(
        "{{\"event_id\":\"{}\"}}\n{{\"type\":\"event\"}}\n{e}\n",
        e["event_id"].as_str().unwrap_or_default()
    )
    .into_bytes()
}

/// A read-only connection that waits for the other process's locks.
fn read_only(db: &std::path::Path) -> Connection {
    let conn =
        Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open read-only");
    conn.busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    conn
}

/// Posts event `n` to an envelope endpoint and expects a 200.
fn send(url: &str, auth: &str, n: usize) {
    let r = post(url, &[("X-Sentry-Auth", auth)], &envelope(n)).expect("post");
    assert_eq!(
        r.status,
        200,
        "event {n}: {}",
        String::from_utf8_lossy(&r.body)
    );
}

/// `(digest of the dictionary the payload names, if any)` for each stored
/// event, by event id.
fn payload_dictionaries(conn: &Connection) -> Vec<(String, Option<String>)> {
    let mut stmt = conn
        .prepare("SELECT event_id, payload FROM events ORDER BY id")
        .expect("query");
    stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
    })
    .expect("rows")
    .map(|row| {
        let (id, blob) = row.expect("row");
        let marker = b"\"dict\":\"";
        let dict = blob
            .windows(marker.len())
            .position(|w| w == marker)
            .map(|at| String::from_utf8_lossy(&blob[at + marker.len()..][..16]).into_owned());
        (id, dict)
    })
    .collect()
}

fn dictionaries(conn: &Connection) -> Vec<(String, i64, usize)> {
    let mut stmt = conn
        .prepare("SELECT digest, samples, length(dict) FROM compression_dicts ORDER BY id")
        .expect("query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("dictionaries")
}

/// Waits until the server compresses with a dictionary, and returns the
/// dictionaries its database holds.
fn wait_for_dictionary(server: &TestServer) -> Vec<(String, i64, usize)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.store().codec().dictionary.is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    server
        .read(|c| Ok(dictionaries(c)))
        .expect("read dictionaries")
}

#[test]
fn events_before_and_after_the_dictionary_read_back_as_sent() {
    let server = TestServer::builder()
        .configure(|c| c.store.dictionary_samples = 40)
        .start();
    let (url, auth) = (server.envelope_url(), server.sentry_auth());
    for n in 0..40 {
        send(&url, &auth, n);
    }
    let dicts = wait_for_dictionary(&server);
    assert_eq!(dicts.len(), 1, "one dictionary from the first 40 events");
    let (digest, samples, len) = dicts[0].clone();
    assert_eq!(samples, 40);
    assert!(len > 1000 && len <= 32 * 1024, "dictionary of {len} bytes");
    for n in 40..60 {
        send(&url, &auth, n);
    }
    server.wait_for_events(60, Duration::from_secs(10));

    let stored = server
        .read(|c| Ok(payload_dictionaries(c)))
        .expect("payloads");
    assert_eq!(stored.len(), 60);
    // The first 40 were compressed before the dictionary existed, the last
    // 20 with it.
    assert!(stored[..40].iter().all(|(_, d)| d.is_none()));
    assert!(
        stored[40..]
            .iter()
            .all(|(_, d)| d.as_deref() == Some(&digest)),
        "{stored:?}"
    );
    // Collecting stopped: still one dictionary.
    assert_eq!(server.read(|c| Ok(dictionaries(c))).expect("read").len(), 1);

    for n in [0, 39, 40, 59] {
        let sent = event(n);
        let id = sent["event_id"].as_str().expect("id");
        let json = server.event_json(id).expect("stored event reads back");
        assert_eq!(
            json["message"]["formatted"]
                .as_str()
                .or(json["message"].as_str()),
            Some(format!("charge {n} failed").as_str()),
            "{json}"
        );
        assert_eq!(
            json["exception"]["values"][0]["value"],
            sent["exception"]["values"][0]["value"]
        );
        assert_eq!(
            json["exception"]["values"][0]["stacktrace"]["frames"][7]["context_line"],
            sent["exception"]["values"][0]["stacktrace"]["frames"][7]["context_line"]
        );
        assert_eq!(
            json["breadcrumbs"]["values"][4]["message"],
            format!("GET /orders/{n}/4")
        );
    }

    // The dictionary makes the payloads of these similar events several
    // times smaller.
    let sizes: Vec<i64> = server
        .read(|c| {
            let mut stmt = c.prepare("SELECT length(payload) FROM events ORDER BY id")?;
            let sizes = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<i64>, _>>()?;
            Ok(sizes)
        })
        .expect("sizes");
    let mean = |s: &[i64]| s.iter().sum::<i64>() / s.len() as i64;
    let (before, after) = (mean(&sizes[..40]), mean(&sizes[40..]));
    assert!(
        after * 2 < before,
        "mean payload {before} B before, {after} B after"
    );
}

#[test]
fn no_dictionary_when_training_is_off() {
    let server = TestServer::builder()
        .configure(|c| c.store.dictionary_samples = 0)
        .start();
    let (url, auth) = (server.envelope_url(), server.sentry_auth());
    for n in 0..30 {
        send(&url, &auth, n);
    }
    server.wait_for_events(30, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));
    assert!(server
        .read(|c| Ok(dictionaries(c)))
        .expect("read")
        .is_empty());
    let stored = server.read(|c| Ok(payload_dictionaries(c))).expect("read");
    assert!(stored.iter().all(|(_, d)| d.is_none()));
}

/// The default of 300 samples, in another process that is then killed: a
/// store opened afterwards registers the database's dictionary and reads
/// every payload compressed with it.
#[test]
fn a_later_process_reads_payloads_compressed_with_the_dictionary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("receiver.sqlite");
    let (mut child, dsn) = spawn(&db);
    let (url, auth) = envelope_endpoint(&dsn);
    let ro = || read_only(&db);

    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    // 300 events train the dictionary; keep sending until payloads use it.
    while Instant::now() < deadline {
        send(&url, &auth, sent);
        sent += 1;
        if sent >= 300 && sent % 10 == 0 {
            let with_dictionary = payload_dictionaries(&ro())
                .iter()
                .filter(|(_, d)| d.is_some())
                .count();
            if with_dictionary >= 10 {
                break;
            }
        }
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();

    let dicts = dictionaries(&ro());
    assert_eq!(dicts.len(), 1, "one dictionary after {sent} events");
    let (digest, samples, _) = dicts[0].clone();
    assert_eq!(samples, 300);
    let stored = payload_dictionaries(&ro());
    assert_eq!(stored.len(), sent, "every acknowledged event is stored");
    let compressed: Vec<_> = stored.iter().filter(|(_, d)| d.is_some()).collect();
    assert!(compressed.len() >= 10);
    assert!(compressed
        .iter()
        .all(|(_, d)| d.as_deref() == Some(&digest)));

    // This process has never seen the dictionary: the payload cannot be read
    // until a store opens the database.
    let blob: Vec<u8> = ro()
        .query_row(
            "SELECT payload FROM events WHERE event_id = ?1",
            [&compressed[0].0],
            |r| r.get(0),
        )
        .expect("payload");
    assert!(decompress(&blob).is_err(), "unknown dictionary before open");
    let (store, _) = Store::open(&db, &Default::default()).expect("open");
    let json: Value =
        serde_json::from_slice(&decompress(&blob).expect("readable after open")).expect("json");
    let n = usize::from_str_radix(&compressed[0].0, 16).expect("hex id") - 1;
    assert_eq!(
        json["exception"]["values"][0]["value"],
        format!("missing key 'order-{n}'")
    );
    // And it compresses new payloads with it rather than training again.
    assert_eq!(
        store
            .codec()
            .dictionary
            .map(|d| format!("{:016x}", d.digest())),
        Some(digest)
    );
    assert!(!store.wants_samples());
    store.shutdown();
}

/// Two processes on one database file: a receiver that was already running
/// when the other stored the dictionary reads the events compressed with
/// it, and adopts it instead of training a second one.
#[test]
fn a_running_process_reads_and_adopts_another_process_dictionary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("receiver.sqlite");
    let token = "0123456789abcdef0123456789abcdef";
    let (mut b, dsn) = spawn_with(&db, &[("RECEIVER_TOKEN", token)]);
    let (_, b_addr, _) = parse_dsn(&dsn);
    let (b_url, auth) = envelope_endpoint(&dsn);

    // A: this process, on the same file, trains from 20 events.
    let a = TestServer::builder()
        .db_path(&db)
        .configure(|c| c.store.dictionary_samples = 20)
        .start();
    for n in 0..20 {
        send(&a.envelope_url(), &auth, n);
    }
    let dicts = wait_for_dictionary(&a);
    assert_eq!(dicts.len(), 1);
    let digest = dicts[0].0.clone();
    send(&a.envelope_url(), &auth, 20);
    let id = format!("{:032x}", 21);
    let stored = payload_dictionaries(&read_only(&db));
    assert_eq!(
        stored
            .iter()
            .find(|(e, _)| *e == id)
            .and_then(|(_, d)| d.clone()),
        Some(digest.clone()),
        "event 20 is compressed with A's dictionary"
    );

    // B reads it through its API.
    let got = receiver::testing::request(
        "GET",
        &format!("http://{b_addr}/api/0/projects/local/1/events/{id}/"),
        &[("Authorization", format!("Bearer {token}").as_str())],
        b"",
    )
    .expect("GET from B");
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
    let json: Value = serde_json::from_slice(&got.body).expect("json");
    // Breadcrumbs exist only in the payload (the title comes from a column).
    assert!(
        json.to_string().contains("GET /orders/20/4"),
        "B shows the event's payload: {json}"
    );

    // B sends 300 more events (its own threshold): it stores them with A's
    // dictionary and trains none of its own.
    for n in 100..400 {
        send(&b_url, &auth, n);
    }
    std::thread::sleep(Duration::from_millis(500));
    let conn = read_only(&db);
    assert_eq!(dictionaries(&conn).len(), 1, "still one dictionary");
    let last = payload_dictionaries(&conn).pop().expect("events");
    assert_eq!(last.1, Some(digest), "B compresses with A's dictionary");
    b.kill().expect("kill B");
    let _ = b.wait();
}

/// The writer keeps one dictionary per database: saving a second one
/// answers with the first.
#[test]
fn saving_a_second_dictionary_answers_with_the_first() {
    use receiver::store::dictionary::{self, Dictionary};
    use receiver::store::{WriteOp, WriteResult};
    use std::sync::Arc;

    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = Store::open(&dir.path().join("db.sqlite"), &Default::default()).expect("open");
    let samples = |salt: &str| -> Vec<Vec<u8>> {
        (0..100)
            .map(|n| {
                serde_json::to_vec(&event(n)).map(|mut v| {
                    v.extend_from_slice(salt.as_bytes());
                    v
                })
            })
            .collect::<Result<_, _>>()
            .expect("json")
    };
    let first = Arc::new(dictionary::train(&samples("first")).expect("train"));
    let second = Arc::new(dictionary::train(&samples("second one")).expect("train"));
    assert_ne!(first.digest(), second.digest());
    let save = |d: &Arc<Dictionary>| match store
        .write_blocking(WriteOp::SaveDictionary {
            dictionary: d.clone(),
            samples: 100,
        })
        .expect("save")
    {
        WriteResult::Dictionary(d) => d.digest(),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(save(&first), first.digest());
    assert_eq!(save(&second), first.digest(), "the first one stays");
    let rows = store.read_blocking(|c| Ok(dictionaries(c))).expect("read");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, format!("{:016x}", first.digest()));
    store.shutdown();
}

/// A payload that names a dictionary nobody has is shown with the reason
/// in `errors`, not as an empty event.
#[test]
fn an_unreadable_payload_says_why_in_the_api() {
    use receiver::ingest::as_received::{self, Kind};
    use receiver::ingest::normalize::RequestContext;
    use sentry_core::protocol::Timestamp;

    let server = TestServer::start();
    send(&server.envelope_url(), &server.sentry_auth(), 7);
    server.wait_for_events(1, Duration::from_secs(10));
    let id = format!("{:032x}", 8);
    let ctx = RequestContext {
        received: Timestamp::now(),
        sent_at: None,
        client_ip: None,
    };
    let uuid = uuid::Uuid::parse_str(&id).expect("uuid");
    let blob = as_received::encode_with_dictionary(
        Kind::Event,
        b"not read",
        Some(0x0123_4567_89ab_cdef),
        &ctx,
        uuid,
    );
    let conn = Connection::open(server.db_path()).expect("open");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");
    let n = conn
        .execute(
            "UPDATE events SET payload = ?1 WHERE event_id = ?2",
            rusqlite::params![blob, id],
        )
        .expect("update");
    assert_eq!(n, 1);

    let got = server
        .api_get(&format!("/api/0/projects/local/1/events/{id}/"))
        .expect("GET");
    assert_eq!(got.status, 200);
    let json: Value = serde_json::from_slice(&got.body).expect("json");
    let error = &json["errors"][0];
    assert_eq!(error["type"], "stored_payload_unreadable", "{json}");
    assert!(
        error["reason"]
            .as_str()
            .is_some_and(|r| r.contains("unknown compression dictionary 0123456789abcdef")),
        "{json}"
    );
    // The columns are still there.
    assert_eq!(json["title"], "ValueError: missing key 'order-7'");
}
