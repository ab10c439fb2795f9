//! Cron monitors as Sentry Crons users know them, over HTTP against a real
//! receiver: a run's `in_progress` and its final update are one check-in,
//! a finished run stays finished, and the monitors list sums up the runs.

mod api_support;

use std::time::Duration;

use api_support::{get_ok, item, link_cursor, server_at};
use receiver::testing::post;
use receiver::TestServer;
use serde_json::{json, Value};

const RUN: &str = "83a7c03ed0a04e1b97e2e3b18d38f244";
const OTHER_RUN: &str = "93a7c03ed0a04e1b97e2e3b18d38f244";
const NIL: &str = "00000000000000000000000000000000";

/// A check-in id of a run of `slug`: an id names one run in every project
/// and monitor.
fn run_of(slug: &str) -> String {
    let n = slug
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("{n:08x}{}", &RUN[8..])
}

/// Sends one `check_in` item with `payload`.
fn check_in(server: &TestServer, payload: Value) {
    item(server, "check_in", payload);
}

/// Sends one `check_in` item with `payload` to project 2 (with its key
/// `key`); asserts 200.
fn check_in_to_project_2(server: &TestServer, key: &str, payload: Value) {
    let body = format!("{{}}\n{{\"type\":\"check_in\"}}\n{payload}\n");
    let auth = format!("Sentry sentry_key={key}, sentry_version=7");
    let r = post(
        &format!("{}/api/2/envelope/", server.url()),
        &[("X-Sentry-Auth", auth.as_str())],
        body.as_bytes(),
    )
    .expect("post");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// The check-ins list for `query`, newest first.
fn check_ins(server: &TestServer, query: &str) -> Vec<Value> {
    let list = get_ok(server, &format!("/api/0/local/check-ins/?{query}"));
    list.as_array().cloned().unwrap_or_default()
}

/// The monitors list.
fn monitors(server: &TestServer) -> Vec<Value> {
    let list = get_ok(server, "/api/0/local/monitors/");
    list.as_array().cloned().unwrap_or_default()
}

/// `(checkInID, status, duration)` of each row.
fn runs(rows: &[Value]) -> Vec<(String, String, Option<f64>)> {
    rows.iter()
        .map(|k| {
            (
                k["checkInID"].as_str().unwrap_or_default().to_owned(),
                k["status"].as_str().unwrap_or_default().to_owned(),
                k["duration"].as_f64(),
            )
        })
        .collect()
}

#[test]
fn an_in_progress_check_in_and_its_final_update_are_one_run() {
    let server = TestServer::start();
    check_in(
        &server,
        json!({"check_in_id": RUN, "monitor_slug": "nightly", "status": "in_progress",
               "environment": "production", "release": "app@1"}),
    );
    // Arrival times differ, so that the first one can be told apart.
    std::thread::sleep(Duration::from_millis(20));
    check_in(
        &server,
        json!({"check_in_id": RUN, "monitor_slug": "nightly", "status": "ok",
               "duration": 12.5, "environment": "production", "release": "app@1"}),
    );
    let rows = check_ins(&server, "monitor=nightly");
    assert_eq!(
        runs(&rows),
        [(RUN.to_owned(), "ok".to_owned(), Some(12.5))],
        "one row with the final status: {rows:?}"
    );
    let (received, updated) = (
        rows[0]["received"].as_str().unwrap_or_default(),
        rows[0]["updated"].as_str().unwrap_or_default(),
    );
    assert!(
        !received.is_empty() && received < updated,
        "the run keeps its first arrival and records its update: {rows:?}"
    );
    assert_eq!(rows[0]["environment"], "production");
    assert_eq!(rows[0]["release"], "app@1");

    let list = monitors(&server);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["lastStatus"], "ok");
    assert_eq!(list[0]["lastDuration"], 12.5);
    assert_eq!(list[0]["checkIns"], 1, "one run: {list:?}");
    assert_eq!(list[0]["lastCheckIn"].as_str(), Some(received));
}

#[test]
fn a_finished_run_stays_finished_and_a_repeated_update_changes_nothing() {
    let server = TestServer::start();
    let send = |status: &str, duration: Option<f64>| {
        check_in(
            &server,
            json!({"check_in_id": RUN, "monitor_slug": "backup", "status": status,
                   "duration": duration}),
        );
    };
    send("in_progress", None);
    send("error", Some(3.0));
    let first = check_ins(&server, "monitor=backup");
    // The SDK retries the same envelope; a late `in_progress` (sent first,
    // delivered last) and another final status follow.
    send("error", Some(3.0));
    send("in_progress", None);
    send("ok", Some(9.0));
    let rows = check_ins(&server, "monitor=backup");
    assert_eq!(
        runs(&rows),
        [(RUN.to_owned(), "error".to_owned(), Some(3.0))],
        "{rows:?}"
    );
    assert_eq!(rows, first, "nothing changed after the run finished");
    let list = monitors(&server);
    assert_eq!(
        (
            &list[0]["lastStatus"],
            &list[0]["checkIns"],
            &list[0]["failed"]
        ),
        (&json!("error"), &json!(1), &json!(1)),
        "{list:?}"
    );
}

#[test]
fn a_final_update_that_comes_first_is_not_undone_by_its_in_progress() {
    let server = TestServer::start();
    // Two requests of one SDK may arrive in either order.
    check_in(
        &server,
        json!({"check_in_id": RUN, "monitor_slug": "fast", "status": "ok", "duration": 0.2}),
    );
    check_in(
        &server,
        json!({"check_in_id": RUN, "monitor_slug": "fast", "status": "in_progress"}),
    );
    let rows = check_ins(&server, "monitor=fast");
    assert_eq!(runs(&rows), [(RUN.to_owned(), "ok".to_owned(), Some(0.2))]);
}

#[test]
fn an_update_naming_a_run_of_another_monitor_project_or_environment_is_refused() {
    let server = TestServer::start();
    let other_key = "0123456789abcdef0123456789abcdef";
    server.add_project(2, other_key).expect("project 2");
    let update = |slug: &str, status: &str, env: Option<&str>| json!({"check_in_id": RUN, "monitor_slug": slug, "status": status, "environment": env});
    check_in(&server, update("hourly", "in_progress", Some("production")));
    // Another id is another run.
    check_in(
        &server,
        json!({"check_in_id": OTHER_RUN, "monitor_slug": "hourly", "status": "error"}),
    );
    // Sentry looks a check-in up by its id alone and refuses an update of
    // the run from another monitor, project or environment.
    check_in(&server, update("daily", "error", Some("production")));
    // Acknowledged, as Relay does.
    check_in_to_project_2(
        &server,
        other_key,
        update("hourly", "error", Some("production")),
    );
    check_in(&server, update("hourly", "error", Some("staging")));
    // No environment is Sentry's `production`: this one finishes the run.
    check_in(&server, update("hourly", "ok", None));

    let mut hourly: Vec<(String, String)> = runs(&check_ins(&server, "monitor=hourly&project=1"))
        .into_iter()
        .map(|(id, status, _)| (id, status))
        .collect();
    hourly.sort();
    assert_eq!(
        hourly,
        [
            (RUN.to_owned(), "ok".to_owned()),
            (OTHER_RUN.to_owned(), "error".to_owned())
        ],
        "the run is finished once, by the update of its own environment"
    );
    assert!(check_ins(&server, "monitor=daily").is_empty());
    assert!(check_ins(&server, "project=2").is_empty());
    // No environment is `production`'s, as Sentry files it.
    assert_eq!(
        check_ins(&server, "monitor=hourly&project=1&environment=production").len(),
        2
    );
    assert!(check_ins(&server, "monitor=hourly&project=1&environment=staging").is_empty());
    // Each refused update is kept raw and counted as Sentry counts it.
    assert_eq!(
        server.outcomes(),
        [(
            "invalid".to_owned(),
            "monitor_environment_mismatch".to_owned(),
            "monitor".to_owned(),
            3
        )]
    );
    assert_eq!(server.counts().get("raw_items"), Some(&3));
    let errors: Vec<String> = server
        .read(|c| {
            let mut stmt = c.prepare("SELECT error FROM raw_items ORDER BY id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .expect("raw items");
    assert!(
        errors[0].contains("\"hourly\" in project 1")
            && errors[2].contains("environment \"production\", not \"staging\""),
        "{errors:?}"
    );
}

#[test]
fn check_ins_sentry_would_refuse_are_kept_raw_and_counted_as_invalid() {
    let server = TestServer::start();
    let sent = |payload: Value| check_in(&server, payload);
    // Relay turns any other status (`missed` too: it is computed, never
    // sent) into `unknown`, which Sentry refuses; a status of the wrong
    // type, or none, fails Relay's parsing.
    for status in [
        json!("missed"),
        json!("timeout"),
        json!("unknown"),
        json!("OK"),
    ] {
        sent(json!({"monitor_slug": "job", "status": status}));
    }
    sent(json!({"monitor_slug": "job", "status": 1}));
    sent(json!({"monitor_slug": "job"}));
    // Durations out of Sentry's bounds, or of the wrong type.
    sent(json!({"monitor_slug": "job", "status": "ok", "duration": -1.0}));
    sent(json!({"monitor_slug": "job", "status": "ok", "duration": "12"}));
    // An environment over Relay's 64 characters, an empty slug, an id that
    // is no UUID.
    sent(json!({"monitor_slug": "job", "status": "ok", "environment": "e".repeat(65)}));
    sent(json!({"monitor_slug": "", "status": "ok"}));
    sent(json!({"monitor_slug": "job", "status": "ok", "check_in_id": "run-1"}));
    // A slug of which Sentry's slug keeps nothing.
    sent(json!({"monitor_slug": "!?!", "status": "ok"}));
    // What Sentry takes.
    sent(json!({"monitor_slug": "job", "status": "ok", "duration": 2.5}));

    assert_eq!(
        runs(&check_ins(&server, "monitor=job"))
            .into_iter()
            .map(|(_, status, duration)| (status, duration))
            .collect::<Vec<_>>(),
        [("ok".to_owned(), Some(2.5))]
    );
    let invalid = |reason: &str, n: i64| {
        (
            "invalid".to_owned(),
            reason.to_owned(),
            "monitor".to_owned(),
            n,
        )
    };
    assert_eq!(
        server.outcomes(),
        [
            invalid("invalid_check_in", 7),
            invalid("invalid_json", 4),
            invalid("invalid_monitor", 1)
        ]
    );
    assert_eq!(server.counts().get("raw_items"), Some(&12));
    let errors: Vec<String> = server
        .read(|c| {
            let mut stmt = c.prepare("SELECT error FROM raw_items ORDER BY id LIMIT 1")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .expect("raw items");
    assert_eq!(
        errors,
        ["check_in: status must be ok, error or in_progress, got \"missed\""]
    );
}

#[test]
fn a_final_update_without_a_duration_is_timed_from_the_runs_start() {
    let server = TestServer::start();
    check_in(
        &server,
        json!({"check_in_id": RUN, "monitor_slug": "sync", "status": "in_progress"}),
    );
    std::thread::sleep(Duration::from_millis(300));
    check_in(
        &server,
        json!({"check_in_id": RUN, "monitor_slug": "sync", "status": "ok"}),
    );
    let rows = check_ins(&server, "monitor=sync");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let duration = rows[0]["duration"].as_f64().unwrap_or(-1.0);
    assert!(
        (0.3..30.0).contains(&duration),
        "the time between the two arrivals, as Sentry does: {rows:?}"
    );
}

#[test]
fn the_nil_check_in_id_finishes_the_latest_run_in_progress() {
    let server = TestServer::start();
    let send = |id: &str, status: &str, env: &str| {
        check_in(
            &server,
            json!({"check_in_id": id, "monitor_slug": "etl", "status": status,
                   "environment": env, "duration": 1.0}),
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    send(RUN, "in_progress", "production");
    send(OTHER_RUN, "in_progress", "staging");
    // PROTOCOL.md A.1: the all-zero id updates the latest run in progress
    // of the monitor (and environment); with none, it is a run of its own.
    send(NIL, "ok", "production");
    send(NIL, "error", "production");
    // Without an id Relay passes the nil id on: with no run in progress in
    // staging left after this one, it finishes the staging run.
    check_in(
        &server,
        json!({"monitor_slug": "etl", "status": "ok", "environment": "staging"}),
    );
    let rows = check_ins(&server, "monitor=etl");
    let mut seen: Vec<(String, String)> = rows
        .iter()
        .map(|k| {
            (
                k["status"].as_str().unwrap_or_default().to_owned(),
                k["environment"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("error".to_owned(), "production".to_owned()),
            ("ok".to_owned(), "production".to_owned()),
            ("ok".to_owned(), "staging".to_owned()),
        ],
        "{rows:?}"
    );
    let finished = |env: &str| {
        rows.iter()
            .find(|k| k["status"] == "ok" && k["environment"] == env)
            .map(|k| k["checkInID"].clone())
    };
    assert_eq!(finished("production"), Some(json!(RUN)));
    assert_eq!(finished("staging"), Some(json!(OTHER_RUN)));
    assert!(
        rows.iter().all(|k| k["checkInID"] != NIL),
        "no run is named by the nil id: {rows:?}"
    );
}

/// The monitors list as `slug → monitor`.
fn monitor(server: &TestServer, slug: &str) -> Value {
    monitors(server)
        .into_iter()
        .find(|m| m["monitorSlug"] == slug)
        .unwrap_or_else(|| panic!("no monitor {slug}"))
}

#[test]
fn a_monitor_config_is_stored_per_monitor_and_the_latest_wins() {
    let server = TestServer::start();
    // As sentry-python's `monitor` sends it, on both updates.
    let python = json!({"schedule": {"type": "crontab", "value": "0 0 * * *"},
        "timezone": "Europe/Vienna", "checkin_margin": 10, "max_runtime": 10,
        "failure_issue_threshold": 5, "recovery_threshold": 5});
    for status in ["in_progress", "ok"] {
        check_in(
            &server,
            json!({"check_in_id": RUN, "monitor_slug": "nightly", "status": status,
                   "monitor_config": python}),
        );
    }
    // As the JavaScript SDK's `withMonitor` sends it: on `in_progress` only,
    // so the final update leaves the config as it is. A number in a string
    // is a number, as Sentry's validator reads it.
    check_in(
        &server,
        json!({"check_in_id": OTHER_RUN, "monitor_slug": "hourly", "status": "in_progress",
               "monitor_config": {"schedule": {"type": "interval", "value": 2, "unit": "hour"},
                                  "checkin_margin": "5", "max_runtime": 20.0}}),
    );
    check_in(
        &server,
        json!({"check_in_id": OTHER_RUN, "monitor_slug": "hourly", "status": "ok",
               "duration": 2.0}),
    );
    check_in(&server, json!({"monitor_slug": "bare", "status": "ok"}));

    let nightly = monitor(&server, "nightly");
    assert_eq!(
        nightly["config"],
        json!({"schedule": {"type": "crontab", "value": "0 0 * * *"},
               "checkinMargin": 10, "maxRuntime": 10, "timezone": "Europe/Vienna",
               "failureIssueThreshold": 5, "recoveryThreshold": 5, "owner": null,
               "updated": nightly["config"]["updated"]}),
        "{nightly}"
    );
    assert!(nightly["config"]["updated"].is_string(), "{nightly}");
    assert_eq!(nightly["configProblems"], json!([]));
    let hourly = monitor(&server, "hourly");
    assert_eq!(
        (
            &hourly["config"]["schedule"],
            &hourly["config"]["checkinMargin"],
            &hourly["config"]["maxRuntime"],
            &hourly["config"]["timezone"],
        ),
        (
            &json!({"type": "interval", "value": 2, "unit": "hour"}),
            &json!(5),
            &json!(20),
            &json!(null)
        ),
        "{hourly}"
    );
    assert_eq!(monitor(&server, "bare")["config"], json!(null));

    // The latest config replaces the stored one whole (Sentry's older
    // forms: a crontab nickname with `schedule_type`, `[count, unit]`).
    check_in(
        &server,
        json!({"monitor_slug": "nightly", "status": "ok",
               "monitor_config": {"schedule_type": "crontab", "schedule": "@hourly"}}),
    );
    check_in(
        &server,
        json!({"monitor_slug": "hourly", "status": "ok",
               "monitor_config": {"schedule_type": "interval", "schedule": [30, "minute"],
                                  "owner": "team:backend"}}),
    );
    let nightly = monitor(&server, "nightly");
    assert_eq!(
        nightly["config"]["schedule"],
        json!({"type": "crontab", "value": "0 * * * *"}),
        "{nightly}"
    );
    assert_eq!(nightly["config"]["maxRuntime"], json!(null), "{nightly}");
    assert_eq!(nightly["config"]["timezone"], json!(null), "{nightly}");
    let hourly = monitor(&server, "hourly");
    assert_eq!(
        (&hourly["config"]["schedule"], &hourly["config"]["owner"]),
        (
            &json!({"type": "interval", "value": 30, "unit": "minute"}),
            &json!("team:backend")
        ),
        "{hourly}"
    );
}

#[test]
fn a_malformed_monitor_config_keeps_its_check_in_and_says_what_is_wrong() {
    let server = TestServer::start();
    let send = |slug: &str, config: Value| {
        check_in(
            &server,
            json!({"monitor_slug": slug, "status": "ok", "monitor_config": config}),
        );
    };
    // A config whose schedule cannot be read is not taken: the previous one
    // stays.
    send(
        "backup",
        json!({"schedule": {"type": "crontab", "value": "*/5 * * * *"}, "max_runtime": 3}),
    );
    send(
        "backup",
        json!({"schedule": {"type": "crontab", "value": "61 * * * *"}, "max_runtime": 9}),
    );
    // No object at all; no schedule.
    send("odd", json!("every day"));
    send("unscheduled", json!({"max_runtime": 5}));
    // A readable schedule with other fields that are not: the schedule is
    // taken, the fields that are wrong are left out.
    send(
        "partial",
        json!({"schedule": {"type": "interval", "value": 1, "unit": "day"},
               "max_runtime": "thirty", "checkin_margin": -1, "timezone": "Mars/Olympus Mons",
               "recovery_threshold": 3}),
    );

    for slug in ["backup", "odd", "unscheduled", "partial"] {
        let rows = check_ins(&server, &format!("monitor={slug}"));
        assert!(
            !rows.is_empty() && rows.iter().all(|k| k["status"] == "ok"),
            "{slug}: the check-ins are stored: {rows:?}"
        );
    }
    assert_eq!(check_ins(&server, "monitor=backup").len(), 2);

    let problems = |slug: &str| -> Vec<String> {
        let m = monitor(&server, slug);
        m["configProblems"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let backup = monitor(&server, "backup");
    assert_eq!(
        (
            &backup["config"]["schedule"]["value"],
            &backup["config"]["maxRuntime"]
        ),
        (&json!("*/5 * * * *"), &json!(3)),
        "the last good config stays: {backup}"
    );
    let said = problems("backup");
    assert!(
        said.len() == 1 && said[0].starts_with("schedule") && said[0].contains("61 * * * *"),
        "{said:?}"
    );
    assert_eq!(monitor(&server, "odd")["config"], json!(null));
    assert_eq!(problems("odd").len(), 1, "{:?}", problems("odd"));
    assert_eq!(monitor(&server, "unscheduled")["config"], json!(null));
    assert!(problems("unscheduled")[0].starts_with("schedule"));

    let partial = monitor(&server, "partial");
    assert_eq!(
        (
            &partial["config"]["schedule"],
            &partial["config"]["maxRuntime"],
            &partial["config"]["checkinMargin"],
            &partial["config"]["timezone"],
            &partial["config"]["recoveryThreshold"],
        ),
        (
            &json!({"type": "interval", "value": 1, "unit": "day"}),
            &json!(null),
            &json!(null),
            &json!(null),
            &json!(3)
        ),
        "{partial}"
    );
    let mut fields: Vec<String> = problems("partial")
        .iter()
        .filter_map(|p| p.split(':').next().map(str::to_owned))
        .collect();
    fields.sort();
    assert_eq!(fields, ["checkin_margin", "max_runtime", "timezone"]);

    // A good config later clears the problems.
    send(
        "partial",
        json!({"schedule": {"type": "interval", "value": 1, "unit": "day"}}),
    );
    assert_eq!(problems("partial"), Vec::<String>::new());
}

#[test]
fn a_database_of_an_older_receiver_shows_its_runs_merged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    {
        // What a receiver of schema version 15 left: one row per update.
        let conn = rusqlite::Connection::open(&path).expect("open");
        for sql in &receiver::store::schema::MIGRATIONS[..15] {
            conn.execute_batch(sql).expect("old migration");
        }
        conn.pragma_update(None, "user_version", 15)
            .expect("version");
        let now = api_support::now();
        conn.execute(
            "INSERT INTO check_ins (project_id, check_in_id, monitor_slug, status, duration,
                 environment, received, payload)
             VALUES (1, ?1, 'nightly', 'in_progress', NULL, 'prod', ?2, x''),
                    (1, ?1, 'nightly', 'ok', 4.0, 'prod', ?3, x''),
                    (1, ?4, 'legacy', 'failed', NULL, NULL, ?3, x'')",
            rusqlite::params![RUN, now - 10.0, now - 6.0, OTHER_RUN],
        )
        .expect("rows");
    }
    let server = TestServer::builder().db_path(&path).start();
    // Stored before Sentry's statuses were enforced: still found by its
    // status, while a status no run has is a 400.
    assert_eq!(check_ins(&server, "status=failed").len(), 1);
    let (status, body) = api_support::get(&server, "/api/0/local/check-ins/?status=bogus");
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        runs(&check_ins(&server, "monitor=nightly")),
        [(RUN.to_owned(), "ok".to_owned(), Some(4.0))]
    );
    let nightly = monitor(&server, "nightly");
    assert_eq!(
        (
            &nightly["checkIns"],
            &nightly["config"],
            &nightly["configProblems"]
        ),
        (&json!(1), &json!(null), &json!([])),
        "{nightly}"
    );
    // The next check-ins of the monitor bring its config.
    check_in(
        &server,
        json!({"monitor_slug": "nightly", "status": "ok",
               "monitor_config": {"schedule": "@daily"}}),
    );
    assert_eq!(
        monitor(&server, "nightly")["config"]["schedule"],
        json!({"type": "crontab", "value": "0 0 * * *"})
    );
}

#[test]
fn the_monitors_list_counts_runs_by_status() {
    let server = TestServer::start();
    let ids = ["a1", "a2", "a3", "a4", "a5"].map(|p| format!("{p}{}", &RUN[2..]));
    for (id, status) in ids
        .iter()
        .zip(["ok", "error", "ok", "in_progress", "in_progress"])
    {
        check_in(
            &server,
            json!({"check_in_id": id, "monitor_slug": "sync", "status": status}),
        );
    }
    // The last run finishes: it counts once, under its final status.
    check_in(
        &server,
        json!({"check_in_id": ids[4], "monitor_slug": "sync", "status": "error"}),
    );
    let sync = monitor(&server, "sync");
    assert_eq!(
        sync["statusCounts"],
        json!({"ok": 2, "error": 2, "in_progress": 1}),
        "{sync}"
    );
    assert_eq!((&sync["checkIns"], &sync["failed"]), (&json!(5), &json!(2)));
    let old = get_ok(&server, "/api/0/local/monitors/?end=2000-01-01T00:00:00Z");
    assert_eq!(old[0]["statusCounts"], json!({}), "{old}");
}

/// The status each run of `slug` reads with.
fn statuses(server: &TestServer, slug: &str) -> Vec<String> {
    check_ins(server, &format!("monitor={slug}"))
        .iter()
        .map(|k| k["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_run_in_progress_past_its_maximum_runtime_reads_as_timed_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    // At the start of an hour: the hourly schedule below is due next an
    // hour later, after this test's last reading (no run is missed).
    let t0 = (api_support::now() / 3600.0).floor() * 3600.0 + 1.0;
    let start = |server: &TestServer, slug: &str, config: Value| {
        check_in(
            server,
            json!({"check_in_id": run_of(slug), "monitor_slug": slug, "status": "in_progress",
                   "monitor_config": config}),
        );
    };
    let five_minutes = json!({"schedule": "@hourly", "max_runtime": 5});
    {
        let server = server_at(&path, t0);
        start(&server, "short", five_minutes.clone());
        start(&server, "late", five_minutes.clone());
        start(&server, "beating", five_minutes.clone());
        // No max_runtime: Sentry's default of 30 minutes.
        start(&server, "unconfigured", Value::Null);
    }
    {
        let server = server_at(&path, t0 + 4.0 * 60.0);
        assert_eq!(statuses(&server, "short"), ["in_progress"]);
        // A heartbeat: the run may go on for another five minutes.
        start(&server, "beating", Value::Null);
    }
    {
        let server = server_at(&path, t0 + 6.0 * 60.0);
        assert_eq!(statuses(&server, "short"), ["timeout"]);
        assert_eq!(statuses(&server, "beating"), ["in_progress"]);
        assert_eq!(statuses(&server, "unconfigured"), ["in_progress"]);
        let short = monitor(&server, "short");
        assert_eq!(
            (
                &short["lastStatus"],
                &short["failed"],
                &short["statusCounts"]
            ),
            (&json!("timeout"), &json!(1), &json!({"timeout": 1})),
            "{short}"
        );
        let mut timed_out: Vec<String> = check_ins(&server, "status=timeout")
            .iter()
            .map(|k| k["monitorSlug"].as_str().unwrap_or_default().to_owned())
            .collect();
        timed_out.sort();
        assert_eq!(timed_out, ["late", "short"]);
        assert_eq!(check_ins(&server, "status=in_progress").len(), 2);
        // A final update after the deadline records how long the run took;
        // the run stays timed out, as in Sentry.
        check_in(
            &server,
            json!({"check_in_id": run_of("late"), "monitor_slug": "late", "status": "ok",
                   "duration": 355.0}),
        );
        assert_eq!(
            runs(&check_ins(&server, "monitor=late")),
            [(run_of("late"), "timeout".to_owned(), Some(355.0))]
        );
    }
    let server = server_at(&path, t0 + 31.0 * 60.0);
    assert_eq!(statuses(&server, "unconfigured"), ["timeout"]);
    assert_eq!(statuses(&server, "beating"), ["timeout"]);
    assert_eq!(statuses(&server, "late"), ["timeout"]);
}

#[test]
fn runs_that_did_not_come_by_their_margin_are_missed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    // 09:00:30 on a day a week ago, on the minute's half.
    let nine = (api_support::now() / 86_400.0).floor() * 86_400.0 - 7.0 * 86_400.0 + 9.0 * 3600.0;
    {
        let server = server_at(&path, nine + 30.0);
        for (slug, config) in [
            (
                "hourly",
                json!({"schedule": {"type": "crontab", "value": "0 * * * *"}}),
            ),
            (
                "every-2h",
                json!({"schedule": {"type": "interval", "value": 2, "unit": "hour"},
                       "checkin_margin": 20}),
            ),
            ("unscheduled", Value::Null),
        ] {
            check_in(
                &server,
                json!({"check_in_id": run_of(slug), "monitor_slug": slug, "status": "ok",
                       "duration": 1.0, "monitor_config": config}),
            );
        }
        let hourly = monitor(&server, "hourly");
        assert_eq!(hourly["missedSince"], Value::Null, "{hourly}");
        assert_eq!(hourly["nextCheckIn"], json!(iso(nine + 3600.0)), "{hourly}");
    }
    // 10:00:59: within the default margin of a minute.
    let server = server_at(&path, nine + 3659.0);
    assert_eq!(monitor(&server, "hourly")["missedSince"], Value::Null);
    drop(server);
    // 12:30: 10:00, 11:00 and 12:00 did not come; 11:00 (09:00 plus two
    // hours) did not either, its 20 minutes of margin past.
    let server = server_at(&path, nine + 3.5 * 3600.0);
    let hourly = monitor(&server, "hourly");
    assert_eq!(hourly["missedSince"], json!(iso(nine + 3600.0)), "{hourly}");
    assert_eq!(
        hourly["nextCheckIn"],
        json!(iso(nine + 4.0 * 3600.0)),
        "{hourly}"
    );
    assert_eq!(
        (
            &hourly["statusCounts"],
            &hourly["checkIns"],
            &hourly["failed"]
        ),
        (&json!({"ok": 1, "missed": 3}), &json!(4), &json!(3)),
        "{hourly}"
    );
    assert_eq!(hourly["lastStatus"], "ok", "the latest run that came");
    let two = monitor(&server, "every-2h");
    assert_eq!(two["missedSince"], json!(iso(nine + 7200.0)), "{two}");
    assert_eq!(two["statusCounts"], json!({"ok": 1, "missed": 1}), "{two}");
    assert_eq!(two["nextCheckIn"], json!(iso(nine + 4.0 * 3600.0)), "{two}");
    let unscheduled = monitor(&server, "unscheduled");
    assert_eq!(unscheduled["nextCheckIn"], Value::Null);
    assert_eq!(unscheduled["statusCounts"], json!({"ok": 1}));
    // A run that comes again ends the gap; the runs it missed still count.
    check_in(
        &server,
        json!({"check_in_id": "6b3f3c5e2d1a4f0e9c8b7a6d5e4f3a2b", "monitor_slug": "hourly",
               "status": "ok"}),
    );
    let hourly = monitor(&server, "hourly");
    assert_eq!(hourly["missedSince"], Value::Null, "{hourly}");
    assert_eq!(
        hourly["nextCheckIn"],
        json!(iso(nine + 4.0 * 3600.0)),
        "{hourly}"
    );
    assert_eq!(
        hourly["statusCounts"],
        json!({"ok": 2, "missed": 3}),
        "{hourly}"
    );
    drop(server);
    // Only what was due in the time range counts: 11:00 and 12:00.
    let server = server_at(&path, nine + 3.5 * 3600.0);
    let since = iso(nine + 3600.0 + 1800.0);
    let list = get_ok(
        &server,
        &format!(
            "/api/0/local/monitors/?start={since}&end={}",
            iso(nine + 3.6 * 3600.0)
        ),
    );
    let hourly = list
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["monitorSlug"] == "hourly")
        .expect("hourly");
    assert_eq!(
        hourly["statusCounts"],
        json!({"ok": 1, "missed": 2}),
        "{hourly}"
    );
    // The check-ins list shows them among the runs, inferred.
    let rows = check_ins(&server, "monitor=hourly");
    let missed: Vec<&Value> = rows.iter().filter(|k| k["inferred"] == true).collect();
    assert_eq!((rows.len(), missed.len()), (5, 3), "{rows:?}");
    assert!(
        missed
            .iter()
            .all(|k| k["status"] == "missed" && k["checkInID"].is_null()),
        "{missed:?}"
    );
}

#[test]
fn check_ins_are_filed_under_the_slug_sentry_makes_of_their_monitor_slug() {
    let server = TestServer::start();
    for (run, slug) in [(RUN, "Nightly Backup"), (OTHER_RUN, "nightly-backup")] {
        check_in(
            &server,
            json!({"check_in_id": run, "monitor_slug": slug, "status": "ok",
                   "monitor_config": {"schedule": {"type": "crontab", "value": "0 1 * * *"}}}),
        );
    }
    check_in(&server, json!({"monitor_slug": "other", "status": "ok"}));
    let list = get_ok(&server, "/api/0/local/monitors/?monitor=Nightly%20Backup");
    let list = list.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 1, "one monitor: {list:?}");
    assert_eq!(list[0]["monitorSlug"], "nightly-backup");
    assert_eq!(list[0]["checkIns"], 2, "{list:?}");
    assert_eq!(list[0]["config"]["schedule"]["value"], "0 1 * * *");
    // Either form finds it.
    for query in ["monitor=nightly-backup", "monitor=Nightly%20Backup"] {
        let rows = check_ins(&server, query);
        assert_eq!(rows.len(), 2, "{query}: {rows:?}");
        assert!(
            rows.iter().all(|k| k["monitorSlug"] == "nightly-backup"),
            "{rows:?}"
        );
    }
}

#[test]
fn a_monitor_name_with_a_comma_is_one_name_in_a_filter() {
    let server = TestServer::start();
    for (run, slug) in [(RUN, "Backup, nightly"), (OTHER_RUN, "backup")] {
        check_in(
            &server,
            json!({"check_in_id": run, "monitor_slug": slug, "status": "ok"}),
        );
    }
    let list = get_ok(
        &server,
        "/api/0/local/monitors/?monitor=Backup%2C%20nightly",
    );
    let slugs: Vec<&Value> = list
        .as_array()
        .map(|l| l.iter().map(|m| &m["monitorSlug"]).collect())
        .unwrap_or_default();
    assert_eq!(slugs, [&json!("backup-nightly")], "{list}");
    let rows = check_ins(&server, "monitor=Backup%2C%20nightly");
    assert_eq!(runs(&rows), [(RUN.to_owned(), "ok".to_owned(), None)]);
    let stats = get_ok(
        &server,
        "/api/0/local/stats/?fields=checkIns&monitor=Backup%2C%20nightly",
    );
    assert_eq!(stats["checkIns"], 1, "{stats}");
    // Two monitors are named by repeating the parameter.
    assert_eq!(
        check_ins(&server, "monitor=Backup%2C%20nightly&monitor=backup").len(),
        2
    );
}

/// Sentry's clock task marks a run missed when its margin passes without a
/// check-in arriving; a check-in that arrives later, at the job's end, does
/// not undo that (Sentry dates it back by its duration, but the miss
/// stays). The receiver agrees: runs are placed by their arrival.
#[test]
fn a_check_in_sent_only_at_the_jobs_end_leaves_the_run_missed_as_in_sentry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    // 08:00 on a day a week ago.
    let eight = (api_support::now() / 86_400.0).floor() * 86_400.0 - 7.0 * 86_400.0 + 8.0 * 3600.0;
    {
        let server = server_at(&path, eight + 30.0);
        check_in(
            &server,
            json!({"check_in_id": RUN, "monitor_slug": "report", "status": "ok",
                   "monitor_config": {"schedule": {"type": "crontab", "value": "0 * * * *"}}}),
        );
    }
    // The 09:00 run took ten minutes and reported once, at its end.
    let server = server_at(&path, eight + 3600.0 + 630.0);
    check_in(
        &server,
        json!({"check_in_id": OTHER_RUN, "monitor_slug": "report", "status": "ok",
               "duration": 600.0}),
    );
    let report = monitor(&server, "report");
    assert_eq!(
        report["statusCounts"],
        json!({"ok": 2, "missed": 1}),
        "{report}"
    );
    let rows = check_ins(&server, "monitor=report");
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[1]["status"], "missed", "{rows:?}");
    assert_eq!(rows[1]["received"], json!(iso(eight + 3600.0)));
}

#[test]
fn each_environment_of_a_monitor_expects_the_schedules_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    // 09:00 on a day a week ago.
    let nine = (api_support::now() / 86_400.0).floor() * 86_400.0 - 7.0 * 86_400.0 + 9.0 * 3600.0;
    let hour = |h: f64| nine + h * 3600.0;
    let at = |t: f64, env: Option<&str>| {
        let server = server_at(&path, t);
        check_in(
            &server,
            json!({"monitor_slug": "sync", "status": "ok", "environment": env,
                   "monitor_config": {"schedule": "0 * * * *"}}),
        );
    };
    // Production runs at 09:00 and 10:00, then stops; staging runs every
    // hour from 09:00 to 12:00. Staging's runs do not make up for
    // production's.
    at(hour(0.0) + 30.0, Some("production"));
    at(hour(1.0) + 30.0, None);
    for h in 0..4 {
        at(hour(f64::from(h)) + 40.0, Some("staging"));
    }
    let server = server_at(&path, hour(3.5));
    let sync = monitor(&server, "sync");
    assert_eq!(
        sync["statusCounts"],
        json!({"ok": 6, "missed": 2}),
        "{sync}"
    );
    assert_eq!(sync["missedSince"], json!(iso(hour(2.0))), "{sync}");
    assert_eq!(sync["nextCheckIn"], json!(iso(hour(4.0))), "{sync}");
    let envs: Vec<(String, i64, Value)> = sync["environments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_owned(),
                e["missed"].as_i64().unwrap_or(-1),
                e["missedSince"].clone(),
            )
        })
        .collect();
    assert_eq!(
        envs,
        [
            ("production".to_owned(), 2, json!(iso(hour(2.0)))),
            ("staging".to_owned(), 0, Value::Null)
        ]
    );
    let missed: Vec<(Value, Value)> = check_ins(&server, "status=missed")
        .iter()
        .map(|k| (k["environment"].clone(), k["received"].clone()))
        .collect();
    assert_eq!(
        missed,
        [
            (json!("production"), json!(iso(hour(3.0)))),
            (json!("production"), json!(iso(hour(2.0))))
        ]
    );
    assert!(check_ins(&server, "status=missed&environment=staging").is_empty());
    assert_eq!(
        check_ins(&server, "status=missed&environment=production").len(),
        2
    );
    // CI can ask for them: `stats/`'s `missedCheckIns`, `--max-missed`.
    for (query, missed) in [("monitor=sync", 2), ("environment=staging", 0)] {
        let stats = get_ok(
            &server,
            &format!("/api/0/local/stats/?fields=missedCheckIns&{query}"),
        );
        assert_eq!(stats["missedCheckIns"], missed, "{query}: {stats}");
    }
    let check = |max: &str| {
        api_support::receiver_command(&server)
            .args(["check", "--monitor", "sync", "--max-missed", max])
            .output()
            .expect("run receiver")
            .status
            .code()
    };
    assert_eq!((check("1"), check("2")), (Some(1), Some(0)));
}

/// A CI job can wait for a cron job's check-ins and fail when one failed:
/// `receiver wait|check --check-ins N --monitor SLUG --check-in-status S`.
#[test]
fn ci_can_wait_for_and_check_a_monitors_check_ins() {
    let server = TestServer::start();
    for (run, status) in [(RUN, "ok"), (OTHER_RUN, "error")] {
        check_in(
            &server,
            json!({"check_in_id": run, "monitor_slug": "Nightly Job", "status": status,
                   "environment": "ci"}),
        );
    }
    check_in(&server, json!({"monitor_slug": "other", "status": "ok"}));
    let stats = api_support::get_ok(
        &server,
        "/api/0/local/stats/?fields=checkIns&monitor=nightly-job&environment=ci",
    );
    assert_eq!(
        stats,
        json!({"checkIns": 2, "crashFreeSessions": null, "crashFreeUsers": null})
    );
    let (status, body) = api_support::get(&server, "/api/0/local/stats/?checkInStatus=missed");
    assert_eq!(status, 400, "missed runs are not stored: {body}");
    let check = |args: &[&str]| {
        let out = api_support::receiver_command(&server)
            .arg("check")
            .args(args)
            .output()
            .expect("run receiver");
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, said) = check(&["--monitor", "Nightly Job", "--check-ins", "2"]);
    assert_eq!(code, Some(0), "{said}");
    let (code, said) = check(&["--check-ins", "3"]);
    assert_eq!(code, Some(0), "every monitor: {said}");
    let (code, said) = check(&[
        "--monitor",
        "nightly-job",
        "--check-in-status",
        "error",
        "--max-check-ins",
        "0",
    ]);
    assert_eq!(code, Some(1), "a run failed: {said}");
    assert!(said.contains("check-ins <= 0"), "{said}");
}

/// ISO 8601 as the API writes it.
fn iso(secs: f64) -> String {
    sentry_core::protocol::Timestamp::from_secs_f64(secs).to_rfc3339()
}

#[test]
fn the_nil_check_in_id_does_not_finish_a_run_that_timed_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    let t0 = (api_support::now() / 3600.0).floor() * 3600.0 - 3.0 * 3600.0;
    let send = |server: &TestServer, status: &str| {
        check_in(
            server,
            json!({"check_in_id": NIL, "monitor_slug": "job", "status": status,
                   "duration": 3.0}),
        );
    };
    // The job starts and crashes; two hours later (its 30 minutes of
    // default runtime long past) it runs and succeeds.
    send(&server_at(&path, t0), "in_progress");
    let server = server_at(&path, t0 + 2.0 * 3600.0);
    send(&server, "ok");
    let mut seen: Vec<String> = check_ins(&server, "monitor=job")
        .iter()
        .map(|k| k["status"].as_str().unwrap_or_default().to_owned())
        .collect();
    seen.sort();
    assert_eq!(seen, ["ok", "timeout"], "the success is a run of its own");
    assert_eq!(monitor(&server, "job")["lastStatus"], "ok");
}

/// `(monitorSlug, status, received)` of each row, `*` marking an inferred
/// one.
fn listed(rows: &[Value]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|k| {
            let mark = if k["inferred"] == true { "*" } else { "" };
            (
                k["monitorSlug"].as_str().unwrap_or_default().to_owned(),
                format!("{mark}{}", k["status"].as_str().unwrap_or_default()),
                k["received"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Every row of the check-ins list for `query`, page by page (`limit`
/// each) following the `next` cursors; then the rows before the last page,
/// following the `previous` cursors back from it (both in display order);
/// and how many pages before the last were short of `limit`.
fn walk(server: &TestServer, query: &str, limit: usize) -> (Vec<Value>, Vec<Value>, usize) {
    let page = |cursor: &str| {
        let r = server
            .api_get(&format!(
                "/api/0/local/check-ins/?{query}&limit={limit}&cursor={cursor}"
            ))
            .expect("page");
        assert_eq!(r.status, 200, "{}", r.json());
        let rows = r.json().as_array().cloned().unwrap_or_default();
        (rows, link_cursor(&r, "next"), link_cursor(&r, "previous"))
    };
    let (mut forward, mut short) = (Vec::new(), 0);
    let (mut cursor, mut back) = (String::new(), None);
    for _ in 0..1000 {
        let (rows, next, prev) = page(&cursor);
        forward.extend(rows.iter().cloned());
        back = prev;
        match next {
            Some(next) => {
                short += usize::from(rows.len() < limit);
                cursor = next;
            }
            None => break,
        }
    }
    let mut backward = Vec::new();
    for _ in 0..1000 {
        let Some(prev) = back.take() else { break };
        let (rows, _, before) = page(&prev);
        backward.splice(0..0, rows);
        back = before;
    }
    (forward, backward, short)
}

#[test]
fn the_check_ins_list_shows_missed_runs_among_the_runs_in_exact_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    // 09:00:30 on a day a week ago.
    let nine = (api_support::now() / 86_400.0).floor() * 86_400.0 - 7.0 * 86_400.0 + 9.0 * 3600.0;
    let hour = |h: f64| nine + h * 3600.0;
    let at = |t: f64, slug: &str, config: Value| {
        let server = server_at(&path, t);
        check_in(
            &server,
            json!({"monitor_slug": slug, "status": "ok", "monitor_config": config}),
        );
    };
    let hourly = json!({"schedule": "0 * * * *"});
    at(hour(0.0) + 30.0, "hourly", hourly.clone());
    at(hour(0.5), "unscheduled", Value::Null);
    at(hour(3.5), "unscheduled", Value::Null);
    at(hour(5.0) + 30.0, "hourly", hourly);
    // 16:30: 10:00 to 13:00 were missed, and 15:00 and 16:00.
    let server = server_at(&path, hour(7.5));
    let row = |slug: &str, status: &str, t: f64| (slug.to_owned(), status.to_owned(), iso(t));
    let everything = [
        row("hourly", "*missed", hour(7.0)),
        row("hourly", "*missed", hour(6.0)),
        row("hourly", "ok", hour(5.0) + 30.0),
        row("hourly", "*missed", hour(4.0)),
        row("unscheduled", "ok", hour(3.5)),
        row("hourly", "*missed", hour(3.0)),
        row("hourly", "*missed", hour(2.0)),
        row("hourly", "*missed", hour(1.0)),
        row("unscheduled", "ok", hour(0.5)),
        row("hourly", "ok", hour(0.0) + 30.0),
    ];
    assert_eq!(listed(&check_ins(&server, "")), everything);
    for limit in [1, 3, 4, 100] {
        let (forward, backward, short) = walk(&server, "", limit);
        assert_eq!(listed(&forward), everything, "limit {limit}");
        assert_eq!(short, 0, "limit {limit}");
        // Back from the last page: every row before it, once.
        let before = everything.len() - (everything.len() - 1) % limit - 1;
        assert_eq!(listed(&backward), everything[..before], "limit {limit}");
    }
    let missed = check_ins(&server, "status=missed");
    assert_eq!(missed.len(), 6);
    let first = &missed[0];
    assert_eq!(
        (
            &first["checkInID"],
            &first["environment"],
            &first["duration"]
        ),
        (&Value::Null, &json!("production"), &Value::Null),
        "of the environment that missed it: {first}"
    );
    assert_eq!(
        first["updated"],
        json!(iso(hour(7.0) + 60.0)),
        "its margin ran out"
    );
    assert_eq!(check_ins(&server, "status=ok").len(), 4);
    assert_eq!(check_ins(&server, "status=MISSED").len(), 6, "in any case");
    let (status, body) = api_support::get(&server, "/api/0/local/check-ins/?status=bogus");
    assert_eq!(status, 400, "{body}");
    assert_eq!(check_ins(&server, "status=ok&status=missed").len(), 10);
    assert_eq!(check_ins(&server, "monitor=unscheduled").len(), 2);
    assert_eq!(check_ins(&server, "monitor=hourly").len(), 8);
    // The runs came without an environment: `production`'s.
    assert_eq!(check_ins(&server, "environment=production").len(), 10);
    assert!(check_ins(&server, "environment=staging").is_empty());
    // A time range: 11:30 to 15:30.
    let range = format!("start={}&end={}", iso(hour(2.5)), iso(hour(6.5)));
    assert_eq!(listed(&check_ins(&server, &range)), everything[1..6]);
}

#[test]
fn a_page_that_reads_too_many_gaps_ends_early_and_goes_on_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    drop(TestServer::builder().db_path(&path).start());
    // A monitor due every minute: a run at t0, three missed minutes, then a
    // run every minute for 12 000 minutes (more gaps than a request reads).
    let t0 = ((api_support::now() - 20.0 * 86_400.0) / 60.0).floor() * 60.0 + 5.0;
    let runs = 12_000;
    {
        let mut conn = rusqlite::Connection::open(&path).expect("open");
        let tx = conn.transaction().expect("tx");
        tx.execute(
            "INSERT INTO monitors (project_id, monitor_slug, schedule_type, crontab,
                 config_received)
             VALUES (1, 'minutely', 'crontab', '* * * * *', ?1)",
            [t0],
        )
        .expect("monitor");
        let mut insert = tx
            .prepare(
                "INSERT INTO check_ins (project_id, check_in_id, monitor_slug, status, received,
                     updated, payload)
                 VALUES (1, ?1, 'minutely', 'ok', ?2, ?2, x'')",
            )
            .expect("prepare");
        for i in 0..=runs {
            let t = if i == 0 {
                t0
            } else {
                t0 + 60.0 * f64::from(i + 3)
            };
            insert
                .execute(rusqlite::params![format!("{i:032x}"), t])
                .expect("run");
        }
        drop(insert);
        tx.commit().expect("commit");
    }
    let end = t0 + 60.0 * f64::from(runs + 3) + 30.0;
    let server = server_at(&path, end);
    let (forward, backward, short) = walk(&server, "status=missed", 2);
    let expected: Vec<(String, String, String)> = [1.0, 2.0, 3.0]
        .iter()
        .rev()
        .map(|m| {
            (
                "minutely".to_owned(),
                "*missed".to_owned(),
                iso(t0 - 5.0 + 60.0 * m),
            )
        })
        .collect();
    assert_eq!(listed(&forward), expected);
    assert!(short >= 1, "a page ended before its limit, and went on");
    assert_eq!(listed(&backward), expected[..2]);
}

/// More runs of one monitor than a request reads gaps for, all arriving at
/// one time (a batch sent in one envelope): pages still get past them,
/// every run is listed once, and the missed runs before them too. With
/// over 312 scheduled monitors each reads 32 gaps a request.
#[test]
fn runs_sharing_one_time_beyond_the_gap_budget_are_all_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    drop(TestServer::builder().db_path(&path).start());
    // A run at t0, three missed minutes, then 150 runs at one time; 320
    // hourly monitors whose one run arrived with the burst.
    let t0 = ((api_support::now() - 20.0 * 86_400.0) / 60.0).floor() * 60.0 + 5.0;
    let burst = 150;
    let others = 320;
    {
        let mut conn = rusqlite::Connection::open(&path).expect("open");
        let tx = conn.transaction().expect("tx");
        let mut monitor = tx
            .prepare(
                "INSERT INTO monitors (project_id, monitor_slug, schedule_type, crontab,
                     config_received)
                 VALUES (1, ?1, 'crontab', ?2, ?3)",
            )
            .expect("prepare");
        monitor
            .execute(rusqlite::params!["minutely", "* * * * *", t0])
            .expect("monitor");
        let mut insert = tx
            .prepare(
                "INSERT INTO check_ins (project_id, check_in_id, monitor_slug, status, received,
                     updated, payload)
                 VALUES (1, ?1, ?2, 'ok', ?3, ?3, x'')",
            )
            .expect("prepare");
        for i in 0..=burst {
            let t = if i == 0 { t0 } else { t0 + 240.0 };
            insert
                .execute(rusqlite::params![format!("{i:032x}"), "minutely", t])
                .expect("run");
        }
        for m in 0..others {
            let slug = format!("hourly-{m}");
            monitor
                .execute(rusqlite::params![slug, "0 * * * *", t0])
                .expect("monitor");
            insert
                .execute(rusqlite::params![
                    format!("{:032x}", 1_000_000 + m),
                    slug,
                    t0 + 240.0
                ])
                .expect("run");
        }
        drop((monitor, insert));
        tx.commit().expect("commit");
    }
    // Read just after the burst: no run is due and missed after it yet.
    let server = server_at(&path, t0 + 250.0);
    let (forward, backward, _) = walk(&server, "", 100);
    let real = forward.iter().filter(|k| k["inferred"] == false).count();
    let ids: std::collections::BTreeSet<&str> = forward
        .iter()
        .filter_map(|k| k["checkInID"].as_str())
        .collect();
    let runs = burst + 1 + others as usize;
    assert_eq!((real, ids.len()), (runs, runs), "each run once");
    let missed: Vec<&Value> = forward.iter().filter(|k| k["inferred"] == true).collect();
    assert_eq!(missed.len(), 3, "{missed:?}");
    assert_eq!(
        forward.last().map(|k| k["received"].clone()),
        Some(Value::from(iso(t0)))
    );
    let mut seen = std::collections::BTreeSet::new();
    for k in &backward {
        let key = (k["checkInID"].to_string(), k["received"].to_string());
        assert!(seen.insert(key.clone()), "{key:?} twice going back");
    }
    // Going back from the last page lists what came before it, in order.
    assert!(backward.len() + 100 >= forward.len(), "{}", backward.len());
    assert_eq!(listed(&backward), listed(&forward[..backward.len()]));
}

/// A schedule that reads but whose next run is past any date (an interval
/// of 300 000 years): nothing is ever missed, and the lists page through
/// its runs like an unscheduled monitor's.
#[test]
fn a_schedule_whose_next_run_is_past_any_date_misses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    let t0 = (api_support::now() / 60.0).floor() * 60.0 - 10.0 * 3600.0;
    let config = json!({"schedule": {"type": "interval", "value": 300_000, "unit": "year"}});
    for h in 0..5 {
        let server = server_at(&path, t0 + f64::from(h) * 3600.0);
        check_in(
            &server,
            json!({"monitor_slug": "eons", "status": "ok", "monitor_config": config}),
        );
        let at = server_at(&path, t0 + f64::from(h) * 3600.0 + 1800.0);
        check_in(
            &at,
            json!({"monitor_slug": "hourly", "status": "error", "monitor_config":
                {"schedule": {"type": "interval", "value": 1, "unit": "hour"}}}),
        );
    }
    let server = server_at(&path, t0 + 10.0 * 3600.0);
    let all = listed(&check_ins(&server, "monitor=eons"));
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(all.iter().all(|(_, status, _)| status == "ok"), "{all:?}");
    let everything = listed(&check_ins(&server, "limit=100"));
    for limit in [1, 2, 3] {
        let (forward, backward, short) = walk(&server, "", limit);
        assert_eq!(listed(&forward), everything, "limit {limit}");
        assert_eq!(short, 0, "limit {limit}");
        let before = everything.len() - (everything.len() - 1) % limit - 1;
        assert_eq!(listed(&backward), everything[..before], "limit {limit}");
    }
    let eons = monitor(&server, "eons");
    assert_eq!(
        (&eons["checkIns"], &eons["environments"][0]["missed"]),
        (&json!(5), &json!(0)),
        "{eons}"
    );
    assert_eq!(eons["nextCheckIn"], Value::Null, "{eons}");
    // The hourly monitor's silent hours since its last run are missed
    // (05:00 to 09:00 after its 04:30 run), and listed among the runs.
    let hourly = monitor(&server, "hourly");
    assert_eq!(hourly["environments"][0]["missed"], json!(5), "{hourly}");
    assert_eq!(everything.len(), 15, "{everything:?}");
}

/// A retired job's monitor can be deleted as in Sentry's API: its runs and
/// config go (or only some environments' runs), and a later check-in
/// starts the monitor anew.
#[test]
fn a_monitor_or_some_of_its_environments_can_be_deleted() {
    let server = TestServer::start();
    let other_key = "0123456789abcdef0123456789abcdef";
    server.add_project(2, other_key).expect("project 2");
    let hourly = json!({"schedule": {"type": "interval", "value": 1, "unit": "hour"}});
    for env in ["production", "staging"] {
        check_in(
            &server,
            json!({"monitor_slug": "Nightly Job", "status": "ok", "environment": env,
                   "monitor_config": hourly}),
        );
    }
    check_in(&server, json!({"monitor_slug": "shared", "status": "ok"}));
    check_in(&server, json!({"monitor_slug": "other", "status": "error"}));
    check_in_to_project_2(
        &server,
        other_key,
        json!({"monitor_slug": "shared", "status": "ok"}),
    );
    let delete = |path: &str| server.api_request("DELETE", path, None).expect("delete");

    // An empty environment is a mistake, not "all of them".
    let r = delete("/api/0/projects/org/1/monitors/nightly-job/?environment=");
    assert_eq!(r.status, 400, "{}", r.json());
    assert_eq!(check_ins(&server, "monitor=nightly-job").len(), 2);

    // One environment: the other's runs and the config stay.
    let r = delete("/api/0/projects/org/1/monitors/nightly-job/?environment=staging");
    assert_eq!(r.status, 202, "{}", r.json());
    let left = check_ins(&server, "monitor=nightly-job");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["environment"], json!("production"));
    assert!(monitor(&server, "nightly-job")["config"].is_object());

    // The whole monitor, by the slug as sent, through the organization.
    let r = delete("/api/0/organizations/org/monitors/Nightly%20Job/");
    assert_eq!(r.status, 202, "{}", r.json());
    assert!(check_ins(&server, "monitor=nightly-job").is_empty());
    assert!(monitors(&server)
        .iter()
        .all(|m| m["monitorSlug"] != "nightly-job"));
    let r = delete("/api/0/organizations/org/monitors/nightly-job/");
    assert_eq!(r.status, 404, "{}", r.json());
    let r = delete("/api/0/projects/org/1/monitors/other/?environment=staging");
    assert_eq!(r.status, 404, "no run of that environment: {}", r.json());

    // A slug two projects have needs the project named.
    let r = delete("/api/0/organizations/org/monitors/shared/");
    assert_eq!(r.status, 400, "{}", r.json());
    let r = delete("/api/0/organizations/org/monitors/shared/?project=2");
    assert_eq!(r.status, 202, "{}", r.json());
    assert_eq!(check_ins(&server, "monitor=shared&project=1").len(), 1);
    assert!(check_ins(&server, "monitor=shared&project=2").is_empty());
    assert_eq!(check_ins(&server, "monitor=other").len(), 1, "untouched");

    // Only DELETE there.
    let (status, _) = api_support::get(&server, "/api/0/organizations/org/monitors/other/");
    assert_eq!(status, 405);

    // A later check-in starts it anew, without the old config.
    check_in(
        &server,
        json!({"monitor_slug": "Nightly Job", "status": "error"}),
    );
    let anew = monitor(&server, "nightly-job");
    assert_eq!(
        (&anew["checkIns"], &anew["config"]),
        (&json!(1), &Value::Null),
        "{anew}"
    );
}
