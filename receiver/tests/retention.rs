//! Data retention: what was received before the cutoff goes, when the
//! server starts (`serve --retention`, 90 days unless told) and on demand
//! (`receiver prune`); what came since stays, and the receiver goes on
//! grouping and counting as before.

mod api_support;

use std::path::Path;
use std::time::{Duration, Instant};

use api_support::{event, get, get_ok, item, new_id, now, receiver_command, send};
use receiver::config::Clock;
use receiver::store::{WriteOp, WriteResult};
use receiver::TestServer;
use rusqlite::Connection;
use sentry_core::protocol::Timestamp;
use serde_json::{json, Value};

const DAY: f64 = 86_400.0;

/// Every table retention empties, with a row count of the database.
const TABLES: [&str; 13] = [
    "events",
    "attachments",
    "transactions",
    "spans",
    "span_items",
    "logs",
    "sessions",
    "client_reports",
    "feedback",
    "check_ins",
    "raw_items",
    "monitor_incidents",
    "issues",
];

fn count(db: &Path, sql: &str) -> i64 {
    let conn = Connection::open(db).expect("open the database");
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

fn rows(db: &Path, table: &str) -> i64 {
    count(db, &format!("SELECT COUNT(*) FROM {table}"))
}

fn iso(t: f64) -> String {
    Timestamp::from_secs_f64(t).to_rfc3339()
}

/// A receiver on the database at `db` whose clock says `t` (a test
/// server keeps everything unless told).
fn at(db: &Path, t: f64) -> TestServer {
    TestServer::builder()
        .db_path(db)
        .clock(Clock::Fixed(Timestamp::from_secs_f64(t)))
        .start()
}

/// An error event whose grouping is `fingerprint`.
fn failure(server: &TestServer, fingerprint: &str, message: &str) -> String {
    event(
        server,
        json!({"message": message, "level": "error", "fingerprint": [fingerprint]}),
    )
}

/// A transaction with two child spans, ending at `t`.
fn transaction(server: &TestServer, name: &str, t: f64) {
    let trace = new_id();
    let span = |id: &str| {
        json!({"trace_id": trace, "span_id": id, "parent_span_id": "a000000000000001",
               "op": "db", "start_timestamp": t - 0.5, "timestamp": t - 0.2})
    };
    item(
        server,
        "transaction",
        json!({"type": "transaction", "transaction": name, "start_timestamp": t - 1.0,
               "timestamp": t, "contexts": {"trace": {"trace_id": trace,
               "span_id": "a000000000000001", "op": "http.server"}},
               "spans": [span("b000000000000001"), span("b000000000000002")]}),
    );
}

/// One of each kind of data, as an SDK sends it at `t` (the server's
/// clock), and a cron monitor whose incident opened and closed before.
fn seed_everything(db: &Path, t: f64) {
    // The failed run opens an incident (threshold 1) a day earlier...
    {
        let server = at(db, t - DAY);
        item(
            &server,
            "check_in",
            json!({"check_in_id": new_id(), "monitor_slug": "nightly", "status": "error",
                   "monitor_config": {"schedule": {"type": "interval", "value": 1,
                                                   "unit": "day"}}}),
        );
    }
    let server = at(db, t);
    // ... and this good run ends it.
    item(
        &server,
        "check_in",
        json!({"check_in_id": new_id(), "monitor_slug": "nightly", "status": "ok"}),
    );
    failure(&server, "old-only", "an old failure");
    let shared = failure(&server, "shared", "a failure that goes on");
    let attachment = "log file contents";
    send(
        &server,
        format!(
            "{{\"event_id\":\"{shared}\"}}\n{{\"type\":\"attachment\",\"length\":{},\
             \"filename\":\"app.log\"}}\n{attachment}\n",
            attachment.len()
        )
        .as_bytes(),
    );
    transaction(&server, "GET /old", t);
    let streamed = json!({"version": 2, "items": [{
        "trace_id": new_id(), "span_id": "c000000000000001", "name": "old job",
        "start_timestamp": t - 2.0, "end_timestamp": t - 1.0, "is_segment": true}]});
    send(
        &server,
        format!(
            "{{}}\n{{\"type\":\"span\",\"item_count\":1,\
             \"content_type\":\"application/vnd.sentry.items.span.v2+json\"}}\n{streamed}\n"
        )
        .as_bytes(),
    );
    let logs = json!({"version": 2, "items": [{"timestamp": t, "level": "info",
                      "body": "an old line", "trace_id": new_id(), "severity_number": 9}]});
    send(
        &server,
        format!(
            "{{}}\n{{\"type\":\"log\",\"item_count\":1,\
             \"content_type\":\"application/vnd.sentry.items.log+json\"}}\n{logs}\n"
        )
        .as_bytes(),
    );
    item(
        &server,
        "session",
        json!({"sid": new_id(), "init": true, "started": iso(t - 60.0), "timestamp": iso(t),
               "status": "exited", "attrs": {"release": "app@1.0.0"}}),
    );
    item(
        &server,
        "client_report",
        json!({"timestamp": t, "discarded_events": [
            {"reason": "queue_overflow", "category": "error", "quantity": 2}]}),
    );
    item(
        &server,
        "user_report",
        json!({"event_id": shared, "name": "Ann", "email": "ann@example.com",
               "comments": "it broke"}),
    );
    item(
        &server,
        "mystery",
        json!({"what": "an item type from the future"}),
    );
}

#[test]
fn the_server_deletes_what_is_older_than_its_retention_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db.sqlite");
    let old = now() - 100.0 * DAY;
    seed_everything(&db, old);
    for table in TABLES {
        assert!(rows(&db, table) > 0, "{table}: the seed stored nothing");
    }
    let (old_only, shared) = {
        let issues = |title: &str| {
            count(
                &db,
                &format!("SELECT id FROM issues WHERE title = '{title}'"),
            )
        };
        (issues("an old failure"), issues("a failure that goes on"))
    };
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM monitor_incidents WHERE resolved IS NOT NULL"
        ),
        1,
        "the monitor's incident opened and closed"
    );
    // Yesterday the shared issue had another event, and a transaction ran.
    let recent_event = {
        let server = at(&db, now() - DAY);
        transaction(&server, "GET /recent", now() - DAY);
        failure(&server, "shared", "a failure that goes on")
    };

    // A receiver with the default retention (90 days) starts.
    let server = TestServer::builder()
        .db_path(&db)
        .configure(|c| c.retention = receiver::config::Config::default().retention)
        .start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows(&db, "sessions") > 0 {
        assert!(
            Instant::now() < deadline,
            "the start's retention pass never ran"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Everything received 100 days ago went...
    let cutoff = now() - 90.0 * DAY;
    for table in TABLES
        .iter()
        .filter(|t| !["spans", "issues", "monitor_incidents", "check_ins"].contains(t))
    {
        assert_eq!(
            count(
                &db,
                &format!("SELECT COUNT(*) FROM {table} WHERE received < {cutoff}")
            ),
            0,
            "{table}: old rows left"
        );
    }
    for (table, left) in [
        ("span_items", 0),
        ("logs", 0),
        ("log_summaries", 0),
        ("sessions", 0),
        ("client_reports", 0),
        ("feedback", 0),
        // The monitor's latest run stays, however old: the clock finds
        // the monitor environments it expects runs of from their runs.
        ("check_ins", 1),
        ("raw_items", 0),
        ("attachments", 0),
        ("monitor_incidents", 0),
        ("events", 1),
        ("transactions", 1),
        // The recent transaction's: its root and two children.
        ("spans", 3),
    ] {
        assert_eq!(rows(&db, table), left, "{table}");
    }
    // ...with the issues that had nothing newer, the monitor's among them.
    let (status, _) = get(&server, &format!("/api/0/issues/{old_only}/"));
    assert_eq!(status, 404, "the issue of old events only is gone");
    let issues = server.issues();
    let titles: Vec<&str> = issues.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["a failure that goes on"], "{issues:?}");
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM group_hashes"),
        1,
        "the deleted issues' hashes went with them"
    );
    // The issue with a recent event stays, with that event only; its count
    // still says what it saw.
    let events = get_ok(&server, &format!("/api/0/issues/{shared}/events/"));
    let ids: Vec<&str> = events
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["eventID"].as_str())
        .collect();
    assert_eq!(ids, [recent_event.as_str()]);
    assert_eq!(
        get_ok(&server, &format!("/api/0/issues/{shared}/"))["count"],
        "2"
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM check_ins WHERE status = 'ok'"),
        1,
        "the run kept is the latest"
    );
    // The monitor's configuration stays (its older runs went).
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM monitors WHERE monitor_slug = 'nightly'"
        ),
        1
    );

    // The receiver goes on: the old grouping opens a new issue, with a new id.
    failure(&server, "old-only", "an old failure");
    let issues = server.wait_for_issues(2, Duration::from_secs(10));
    let reopened = issues
        .iter()
        .find(|i| i.title == "an old failure")
        .expect("a new issue for the old grouping");
    assert!(reopened.id > old_only.max(shared), "ids are not reused");
    assert_eq!(reopened.times_seen, 1);
}

/// A session update of `sid` (`seq` 1 is its init).
fn session(server: &TestServer, sid: &str, seq: u64, status: &str) {
    item(
        server,
        "session",
        json!({"sid": sid, "init": seq == 1, "seq": seq, "started": iso(now() - 60.0),
               "timestamp": iso(now()), "status": status,
               "attrs": {"release": "app@1.0.0"}}),
    );
}

/// A user report about `event_id` (an event never sent).
fn user_report(server: &TestServer, event_id: &str, comments: &str) {
    item(
        server,
        "user_report",
        json!({"event_id": event_id, "name": "Ann", "email": "ann@example.com",
               "comments": comments}),
    );
}

/// The environments of an issue's tag breakdown, with their counts.
fn environments(server: &TestServer, issue: i64) -> Vec<(String, i64)> {
    let tag = get_ok(server, &format!("/api/0/issues/{issue}/tags/environment/"));
    tag["topValues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            (
                v["value"].as_str().unwrap_or_default().to_owned(),
                v["count"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn prune_deletes_what_came_before_a_time_beside_a_running_receiver() {
    let server = TestServer::start();
    for i in 0..3 {
        failure(&server, "first", &format!("first wave {i}"));
    }
    let mixed = |env: &str| {
        event(
            &server,
            json!({"message": "mixed", "fingerprint": ["mixed"], "environment": env}),
        )
    };
    mixed("old-env");
    transaction(&server, "GET /first", now());
    let (whole, straddling) = (new_id(), new_id());
    session(&server, &whole, 1, "ok");
    session(&server, &whole, 2, "exited");
    session(&server, &straddling, 1, "ok");
    let (resent, once) = (new_id(), new_id());
    user_report(&server, &resent, "first words");
    user_report(&server, &once, "only words");
    server.wait_for_events(4, Duration::from_secs(10));
    // Every request above was stored before its reply.
    let t = now();
    std::thread::sleep(Duration::from_millis(20));
    let kept = failure(&server, "second", "second wave");
    mixed("new-env");
    session(&server, &straddling, 2, "crashed");
    user_report(&server, &resent, "second thoughts");
    server.wait_for_events(6, Duration::from_secs(10));
    let mixed_issue = server
        .issues()
        .into_iter()
        .find(|i| i.title == "mixed")
        .expect("the mixed issue")
        .id;
    assert_eq!(
        environments(&server, mixed_issue),
        [("new-env".to_owned(), 1), ("old-env".to_owned(), 1)]
    );

    let db = server.db_path().to_owned();
    let out = receiver_command(&server)
        .args(["--db"])
        .arg(&db)
        .args(["prune", "--before", &t.to_string(), "--json"])
        .output()
        .expect("run receiver prune");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pruned: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let counts = |keys: &[&str]| -> Vec<Value> { keys.iter().map(|k| pruned[k].clone()).collect() };
    assert_eq!(
        counts(&[
            "events",
            "issues",
            "transactions",
            "spans",
            "sessions",
            "feedback"
        ]),
        [json!(4), json!(1), json!(1), json!(3), json!(2), json!(1)],
        "{pruned}"
    );
    let mut events: Vec<String> = server.events().into_iter().map(|e| e.event_id).collect();
    events.sort();
    assert_eq!(events.len(), 2);
    assert!(events.contains(&kept));
    // The breakdown the page saw before is not served again: the old
    // environment's event is gone.
    assert_eq!(
        environments(&server, mixed_issue),
        [("new-env".to_owned(), 1)]
    );
    // The session that went on keeps its init; the report sent again
    // (its row updated since) stays.
    assert_eq!(
        count(
            &db,
            &format!("SELECT COUNT(*) FROM sessions WHERE sid = '{straddling}'")
        ),
        2
    );
    let comments = count(
        &db,
        "SELECT COUNT(*) FROM feedback WHERE message = 'second thoughts'",
    );
    assert_eq!(comments, 1);

    // The running receiver's caches noticed: the deleted grouping opens a
    // new issue instead of counting into the gone one.
    let again = failure(&server, "first", "first wave again");
    server.wait_for_events(3, Duration::from_secs(10));
    let issues = server.issues();
    assert_eq!(issues.len(), 3, "{issues:?}");
    let first = issues
        .iter()
        .find(|i| i.title == "first wave again")
        .expect("a new issue");
    assert_eq!(first.times_seen, 1);
    assert!(server.events().iter().any(|e| e.event_id == again));

    // Nothing that old is left: a second prune deletes nothing.
    let out = receiver_command(&server)
        .args(["--db"])
        .arg(&db)
        .args(["prune", "--older-than", "1w"])
        .output()
        .expect("run receiver prune");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("none"), "{text}");
}

#[test]
fn prune_needs_a_time_and_an_existing_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.sqlite");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_receiver"))
            .env_remove("RECEIVER_DB")
            .arg("--db")
            .arg(&missing)
            .args(args)
            .output()
            .expect("run receiver")
    };
    let out = run(&["prune"]);
    assert_eq!(out.status.code(), Some(2), "no time given");
    let out = run(&["prune", "--older-than", "1d", "--before", "0"]);
    assert_eq!(out.status.code(), Some(2), "two times given");
    let out = run(&["prune", "--before", "last tuesday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
    let out = run(&["prune", "--older-than", "30d"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database"));
    assert!(!missing.exists(), "prune does not create a database");
}

#[test]
fn a_step_deletes_the_oldest_rows_first_and_no_more_than_its_limit() {
    let server = TestServer::start();
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(failure(&server, "steps", &format!("step {i}")));
    }
    // Three spans: its root and two children.
    transaction(&server, "GET /steps", now());
    server.wait_for_events(5, Duration::from_secs(10));
    let cutoff = now();
    std::thread::sleep(Duration::from_millis(20));
    let young = failure(&server, "steps", "young");
    server.wait_for_events(6, Duration::from_secs(10));

    let step = || match server
        .store()
        .write_blocking(WriteOp::Prune { cutoff, limit: 2 })
        .expect("prune step")
    {
        WriteResult::Pruned(p) => p,
        other => panic!("{other:?}"),
    };
    let left = || -> Vec<String> {
        let mut ids: Vec<(i64, String)> = server
            .events()
            .into_iter()
            .map(|e| (e.id, e.event_id))
            .collect();
        ids.sort();
        ids.into_iter().map(|(_, e)| e).collect()
    };
    let first = step();
    // A transaction's spans count toward the limit: it goes in the step
    // that deletes its last span.
    assert_eq!(
        (first.events, first.spans, first.transactions),
        (2, 2, 0),
        "{first:?}"
    );
    assert_eq!(
        left(),
        [
            sent[2].clone(),
            sent[3].clone(),
            sent[4].clone(),
            young.clone()
        ]
    );
    let second = step();
    assert_eq!(
        (second.events, second.spans, second.transactions),
        (2, 1, 1),
        "{second:?}"
    );
    assert_eq!(step().events, 1);
    let last = step();
    assert_eq!(last.total(), 0, "{last:?}");
    assert_eq!(left(), [young]);
    let issues = server.issues();
    assert_eq!(issues.len(), 1, "the issue has an event left");
    assert_eq!(issues[0].times_seen, 6);
}
