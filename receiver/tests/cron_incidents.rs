//! Failing cron monitors open issues, as in Sentry: a failed run opens an
//! incident of its monitor environment (once its failure threshold is
//! met), each failure is an event of the issue `Monitor failure: {slug}`,
//! and runs that succeed again (its recovery threshold) resolve it.

mod api_support;

use api_support::{get_ok, item, server_at};
use receiver::TestServer;
use serde_json::{json, Value};

const LIST: &str = "/api/0/projects/local/default/issues/";

/// Sends one finished run of `slug` with `status` (and `extra` fields).
fn run(server: &TestServer, slug: &str, status: &str, extra: Value) {
    let mut payload = json!({"check_in_id": api_support::new_id(), "monitor_slug": slug,
                             "status": status});
    if let (Some(p), Value::Object(extra)) = (payload.as_object_mut(), extra) {
        p.extend(extra);
    }
    item(server, "check_in", payload);
}

/// The monitor failure issues, newest first.
fn failure_issues(server: &TestServer) -> Vec<Value> {
    get_ok(server, &format!("{LIST}?query=is:[unresolved,+resolved]"))
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| {
            i["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("Monitor failure"))
        })
        .collect()
}

/// All issues (any status) with their title, status and count.
fn all_issues(server: &TestServer) -> Vec<(String, String, String)> {
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for status in ["unresolved", "resolved"] {
        let list = get_ok(server, &format!("{LIST}?query=is:{status}"));
        for i in list.as_array().cloned().unwrap_or_default() {
            rows.push((
                i["title"].as_str().unwrap_or_default().to_owned(),
                i["status"].as_str().unwrap_or_default().to_owned(),
                i["count"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    rows.sort();
    rows
}

/// The open incidents of monitor `slug`: `(environment, issueID)`.
fn incidents(server: &TestServer, slug: &str) -> Vec<(String, Option<String>)> {
    let list = get_ok(server, "/api/0/local/monitors/");
    let monitor = list
        .as_array()
        .and_then(|l| l.iter().find(|m| m["monitorSlug"] == slug))
        .cloned()
        .unwrap_or(Value::Null);
    monitor["incidents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|i| {
            assert!(i["started"].is_string(), "{i}");
            (
                i["environment"].as_str().unwrap_or_default().to_owned(),
                i["issueID"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// The issue `id` as the API shows it.
fn issue(server: &TestServer, id: &str) -> Value {
    get_ok(server, &format!("/api/0/issues/{id}/"))
}

#[test]
fn a_failed_run_opens_an_issue_that_a_good_run_resolves() {
    let server = TestServer::start();
    let trace = "4f0a33c2d13a4cb0a7f2a8b0c1d2e3f4";
    run(
        &server,
        "nightly",
        "error",
        json!({"release": "app@1", "contexts": {"trace": {"trace_id": trace}}}),
    );
    assert_eq!(
        all_issues(&server),
        [(
            "Monitor failure: nightly".to_owned(),
            "unresolved".to_owned(),
            "1".to_owned()
        )]
    );
    let id = failure_issues(&server)[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let first = issue(&server, &id);
    assert_eq!(
        (&first["type"], &first["level"], &first["issueCategory"]),
        (&json!("generic"), &json!("error"), &json!("cron")),
        "{first}"
    );
    assert_eq!(first["issueType"], "monitor_check_in_failure", "{first}");
    let latest = get_ok(&server, &format!("/api/0/issues/{id}/events/latest/"));
    assert_eq!(
        latest["message"], "An error check-in was detected",
        "{latest}"
    );
    assert_eq!(latest["type"], "generic", "{latest}");
    assert_eq!(latest["environment"], "production", "{latest}");
    assert_eq!(latest["release"]["version"], "app@1", "{latest}");
    assert_eq!(latest["contexts"]["monitor"]["slug"], "nightly", "{latest}");
    assert_eq!(
        latest["contexts"]["monitor"]["last_successful_check_in"],
        Value::Null,
        "{latest}"
    );
    assert_eq!(latest["contexts"]["trace"]["trace_id"], trace, "{latest}");
    let tags: Vec<(String, String)> = latest["tags"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap_or_default().to_owned(),
                t["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        tags.contains(&("monitor.slug".to_owned(), "nightly".to_owned())),
        "{tags:?}"
    );

    // The monitors list shows the open incident and its issue.
    assert_eq!(
        incidents(&server, "nightly"),
        [("production".to_owned(), Some(id.clone()))]
    );

    // A second failure during the incident: one more event, same issue.
    run(&server, "nightly", "error", Value::Null);
    assert_eq!(issue(&server, &id)["count"], "2");

    // The run succeeds again: the incident ends, the issue is resolved.
    run(&server, "nightly", "ok", Value::Null);
    let resolved = issue(&server, &id);
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    assert!(
        resolved["activity"].as_array().is_some_and(|a| {
            a.iter().any(|x| {
                x["type"] == "set_resolved" && x["data"]["reason"] == "the monitor recovered"
            })
        }),
        "{resolved}"
    );
    assert!(incidents(&server, "nightly").is_empty());
    // More good runs change nothing.
    run(&server, "nightly", "ok", Value::Null);
    assert_eq!(issue(&server, &id)["count"], "2");

    // It fails again: the same issue reopens as a regression.
    run(&server, "nightly", "error", Value::Null);
    let again = issue(&server, &id);
    assert_eq!(
        (&again["status"], &again["substatus"], &again["count"]),
        (&json!("unresolved"), &json!("regressed"), &json!("3")),
        "{again}"
    );
    let latest = get_ok(&server, &format!("/api/0/issues/{id}/events/latest/"));
    assert!(
        latest["contexts"]["monitor"]["last_successful_check_in"].is_string(),
        "{latest}"
    );

    // Another environment is another monitor environment: its own issue.
    run(
        &server,
        "nightly",
        "error",
        json!({"environment": "staging"}),
    );
    // Good runs of another monitor open nothing and resolve nothing.
    run(&server, "hourly", "ok", Value::Null);
    assert_eq!(
        all_issues(&server),
        [
            (
                "Monitor failure: nightly".to_owned(),
                "unresolved".to_owned(),
                "1".to_owned()
            ),
            (
                "Monitor failure: nightly".to_owned(),
                "unresolved".to_owned(),
                "3".to_owned()
            ),
        ]
    );
    let staging = get_ok(&server, &format!("{LIST}?environment=staging"));
    assert_eq!(staging.as_array().map(Vec::len), Some(1), "{staging}");
}

#[test]
fn the_thresholds_of_the_monitor_config_are_met_before_an_issue_opens_or_closes() {
    let server = TestServer::start();
    let config = json!({"monitor_config": {"schedule": "@daily", "failure_issue_threshold": 3,
                                           "recovery_threshold": 2}});
    run(&server, "backup", "error", config.clone());
    run(&server, "backup", "error", config.clone());
    // Two failures, a success, two failures: never three in a row.
    run(&server, "backup", "ok", config.clone());
    run(&server, "backup", "error", config.clone());
    run(&server, "backup", "error", config.clone());
    assert!(failure_issues(&server).is_empty());
    // A run still in progress does not keep an incident from opening (as
    // in Sentry, only an `ok` does): error, in progress, error are three
    // runs without a success, one event for each.
    item(
        &server,
        "check_in",
        json!({"check_in_id": api_support::new_id(), "monitor_slug": "backup",
               "status": "in_progress"}),
    );
    run(&server, "backup", "error", Value::Null);
    let issues = failure_issues(&server);
    assert_eq!(issues.len(), 1, "{issues:?}");
    let id = issues[0]["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(issues[0]["count"], "3", "{issues:?}");
    let latest = get_ok(&server, &format!("/api/0/issues/{id}/events/latest/"));
    assert_eq!(
        latest["message"], "2 error check-ins were detected",
        "{latest}"
    );
    assert_eq!(
        latest["contexts"]["monitor"]["config"]["failure_issue_threshold"], 3,
        "{latest}"
    );
    // One good run is not a recovery at a threshold of 2; two are.
    run(&server, "backup", "ok", Value::Null);
    assert_eq!(issue(&server, &id)["status"], "unresolved");
    run(&server, "backup", "ok", Value::Null);
    assert_eq!(issue(&server, &id)["status"], "resolved");
}

#[test]
fn a_failure_is_judged_by_the_runs_up_to_it_not_by_later_ones() {
    let server = TestServer::start();
    let (first, second) = (api_support::new_id(), api_support::new_id());
    for id in [&first, &second] {
        item(
            &server,
            "check_in",
            json!({"check_in_id": id, "monitor_slug": "overlap", "status": "in_progress"}),
        );
    }
    // The run that started first fails while a later one is in progress.
    item(
        &server,
        "check_in",
        json!({"check_in_id": first, "monitor_slug": "overlap", "status": "error"}),
    );
    let issues = failure_issues(&server);
    assert_eq!(issues.len(), 1, "{issues:?}");
    // The later run succeeds: at a recovery threshold of 1, any success
    // ends the incident, as in Sentry.
    item(
        &server,
        "check_in",
        json!({"check_in_id": second, "monitor_slug": "overlap", "status": "ok"}),
    );
    assert!(incidents(&server, "overlap").is_empty());
}

#[test]
fn a_timeout_that_opened_an_incident_is_not_counted_again_when_the_run_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    let t0 = (api_support::now() / 3600.0).floor() * 3600.0 - 7.0 * 86_400.0 + 1.0;
    let slow = api_support::new_id();
    {
        let server = server_at(&path, t0);
        item(
            &server,
            "check_in",
            json!({"check_in_id": slow, "monitor_slug": "pair", "status": "in_progress",
                   "monitor_config": {"schedule": "@daily", "max_runtime": 1,
                                      "failure_issue_threshold": 2}}),
        );
    }
    {
        // Two minutes on the run has timed out; another run fails: two
        // failures in a row.
        let server = server_at(&path, t0 + 120.0);
        run(&server, "pair", "error", Value::Null);
        let issues = failure_issues(&server);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0]["count"], "2", "{issues:?}");
    }
    let server = server_at(&path, t0 + 180.0);
    item(
        &server,
        "check_in",
        json!({"check_in_id": slow, "monitor_slug": "pair", "status": "ok"}),
    );
    assert_eq!(failure_issues(&server)[0]["count"], "2");
    // Nor does the clock count it.
    assert_eq!(tick(&server, t0, t0 + 240.0), 0);
}

#[test]
fn a_final_update_after_the_deadline_is_a_timeout_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    let t0 = (api_support::now() / 3600.0).floor() * 3600.0 + 1.0;
    let id = api_support::new_id();
    {
        let server = server_at(&path, t0);
        item(
            &server,
            "check_in",
            json!({"check_in_id": id, "monitor_slug": "slow", "status": "in_progress",
                   "monitor_config": {"schedule": "@hourly", "max_runtime": 5}}),
        );
    }
    let server = server_at(&path, t0 + 6.0 * 60.0);
    // The run timed out before it said `ok`: a failure all the same.
    item(
        &server,
        "check_in",
        json!({"check_in_id": id, "monitor_slug": "slow", "status": "ok"}),
    );
    let issues = failure_issues(&server);
    assert_eq!(issues.len(), 1, "{issues:?}");
    let issue_id = issues[0]["id"].as_str().unwrap_or_default();
    let latest = get_ok(&server, &format!("/api/0/issues/{issue_id}/events/latest/"));
    assert_eq!(
        latest["message"], "A timeout check-in was detected",
        "{latest}"
    );
}

#[test]
fn deleting_a_monitor_ends_its_incidents() {
    let server = TestServer::start();
    run(&server, "gone", "error", Value::Null);
    let r = server
        .api_request(
            "DELETE",
            "/api/0/projects/local/default/monitors/gone/",
            None,
        )
        .expect("delete");
    assert_eq!(r.status, 202, "{}", r.json());
    // The monitor starts over: a good run has no incident to end, and the
    // issue stays as it was.
    run(&server, "gone", "ok", Value::Null);
    let issues = failure_issues(&server);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0]["status"], "unresolved");
}

/// Runs the monitor clock over `(since, now]` on `server`'s store; how
/// many failures it counted.
fn tick(server: &TestServer, since: f64, now: f64) -> usize {
    match server
        .store()
        .write_blocking(receiver::store::WriteOp::MonitorClock { since, now })
    {
        Ok(receiver::store::WriteResult::MonitorFailures(n)) => n,
        other => panic!("monitor clock: {other:?}"),
    }
}

/// The messages of issue `id`'s events, oldest first.
fn messages(server: &TestServer, id: &str) -> Vec<String> {
    let mut events = get_ok(server, &format!("/api/0/issues/{id}/events/"))
        .as_array()
        .cloned()
        .unwrap_or_default();
    events.sort_by(|a, b| {
        a["dateCreated"]
            .as_str()
            .unwrap_or_default()
            .cmp(b["dateCreated"].as_str().unwrap_or_default())
    });
    events
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn the_clock_counts_runs_that_did_not_come() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    // One second past the hour, a week ago.
    let t0 = (api_support::now() / 3600.0).floor() * 3600.0 - 7.0 * 86_400.0 + 1.0;
    let hourly = json!({"monitor_config": {"schedule": "0 * * * *", "checkin_margin": 5}});
    let server = server_at(&path, t0);
    run(&server, "hourly", "ok", hourly.clone());
    // Ten minutes on, nothing is due yet.
    assert_eq!(tick(&server, t0, t0 + 600.0), 0);
    // At 3 h: the runs due at 1 h and 2 h are missed (5 minutes' margin);
    // the one due at 3 h still has time.
    assert_eq!(tick(&server, t0 + 600.0, t0 + 3.0 * 3600.0), 2);
    let issues = failure_issues(&server);
    assert_eq!(issues.len(), 1, "{issues:?}");
    let id = issues[0]["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        messages(&server, &id),
        [
            "A missed check-in was detected",
            "A missed check-in was detected"
        ]
    );
    let latest = get_ok(&server, &format!("/api/0/issues/{id}/events/latest/"));
    // The occurrence is dated when the run's margin passed: 2 h 5 min.
    assert_eq!(
        latest["timestamp"].as_f64(),
        Some(t0 - 1.0 + 2.0 * 3600.0 + 300.0),
        "{latest}"
    );
    // The same window again, or a later one with nothing due: nothing.
    assert_eq!(
        tick(&server, t0 + 3.0 * 3600.0, t0 + 3.0 * 3600.0 + 60.0),
        0
    );
    assert_eq!(issue(&server, &id)["count"], "2");
    drop(server);
    // The job runs again, late but fine: the monitor recovered.
    let server = server_at(&path, t0 + 3.0 * 3600.0 + 120.0);
    run(&server, "hourly", "ok", Value::Null);
    assert_eq!(issue(&server, &id)["status"], "resolved");
}

#[test]
fn missed_runs_count_toward_the_failure_threshold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    let t0 = (api_support::now() / 3600.0).floor() * 3600.0 - 7.0 * 86_400.0 + 1.0;
    let config = json!({"monitor_config": {"schedule": "0 * * * *", "checkin_margin": 5,
                                           "failure_issue_threshold": 3}});
    {
        let server = server_at(&path, t0);
        run(&server, "report", "ok", config.clone());
        // Two missed runs: under the threshold.
        assert_eq!(tick(&server, t0, t0 + 2.0 * 3600.0 + 600.0), 2);
        assert!(failure_issues(&server).is_empty());
    }
    // Then the job runs, and fails: three failures in a row.
    let server = server_at(&path, t0 + 2.0 * 3600.0 + 900.0);
    run(&server, "report", "error", Value::Null);
    let issues = failure_issues(&server);
    assert_eq!(issues.len(), 1, "{issues:?}");
    let id = issues[0]["id"].as_str().unwrap_or_default();
    assert_eq!(
        messages(&server, id),
        vec!["1 error and 2 missed check-ins were detected"; 3]
    );
}

#[test]
fn the_clock_counts_a_run_that_never_finishes_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    let t0 = (api_support::now() / 3600.0).floor() * 3600.0 - 7.0 * 86_400.0 + 1.0;
    let id = api_support::new_id();
    let server = server_at(&path, t0);
    item(
        &server,
        "check_in",
        json!({"check_in_id": id, "monitor_slug": "stuck", "status": "in_progress",
               "monitor_config": {"schedule": "@daily", "max_runtime": 5}}),
    );
    assert_eq!(tick(&server, t0, t0 + 240.0), 0, "before its deadline");
    assert_eq!(tick(&server, t0 + 240.0, t0 + 600.0), 1);
    assert_eq!(tick(&server, t0 + 600.0, t0 + 900.0), 0, "once");
    let issues = failure_issues(&server);
    assert_eq!(issues.len(), 1, "{issues:?}");
    let issue_id = issues[0]["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        messages(&server, &issue_id),
        ["A timeout check-in was detected"]
    );
    drop(server);
    // Its final update comes late: the run is a timeout, counted already.
    let server = server_at(&path, t0 + 1200.0);
    item(
        &server,
        "check_in",
        json!({"check_in_id": id, "monitor_slug": "stuck", "status": "ok"}),
    );
    assert_eq!(issue(&server, &issue_id)["count"], "1");
    assert_eq!(issue(&server, &issue_id)["status"], "unresolved");
}

#[test]
fn the_server_counts_what_passes_while_it_runs_and_nothing_from_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    let now = api_support::now();
    // A run may last 28 days at most: one that started 28 days less three
    // seconds ago, with the longest maximum runtime, times out in three
    // seconds. Another timed out long ago, while no receiver ran.
    let started = now - 40_320.0 * 60.0 + 3.0;
    {
        let server = server_at(&path, started);
        for (slug, max_runtime) in [("long-job", 40_320), ("stale-job", 1)] {
            item(
                &server,
                "check_in",
                json!({"check_in_id": api_support::new_id(), "monitor_slug": slug,
                       "status": "in_progress",
                       "monitor_config": {"schedule": {"type": "interval", "value": 1,
                                                       "unit": "year"},
                                          "max_runtime": max_runtime}}),
            );
        }
    }
    let server = TestServer::builder()
        .db_path(&path)
        .configure(|c| {
            c.monitor_clock_interval = std::time::Duration::from_millis(100);
            c.monitor_clock_lag = std::time::Duration::ZERO;
        })
        .start();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut issues = failure_issues(&server);
    while issues.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        issues = failure_issues(&server);
    }
    let titles: Vec<&str> = issues.iter().filter_map(|i| i["title"].as_str()).collect();
    assert_eq!(titles, ["Monitor failure: long-job"]);
}

#[test]
fn incident_ids_are_not_reused_after_a_monitor_is_deleted() {
    let server = TestServer::start();
    let incident_tag = |slug: &str| {
        let issue = failure_issues(&server)
            .into_iter()
            .find(|i| i["title"] == format!("Monitor failure: {slug}"))
            .unwrap_or(Value::Null);
        let id = issue["id"].as_str().unwrap_or_default().to_owned();
        let latest = get_ok(&server, &format!("/api/0/issues/{id}/events/latest/"));
        latest["tags"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .find(|t| t["key"] == "monitor.incident")
            .map(|t| t["value"].clone())
            .unwrap_or(Value::Null)
    };
    run(&server, "first", "error", Value::Null);
    let before = incident_tag("first");
    let r = server
        .api_request(
            "DELETE",
            "/api/0/projects/local/default/monitors/first/",
            None,
        )
        .expect("delete");
    assert_eq!(r.status, 202, "{}", r.json());
    run(&server, "second", "error", Value::Null);
    let after = incident_tag("second");
    assert!(before.is_string() && after.is_string(), "{before} {after}");
    assert_ne!(before, after);
}

/// A receiver with two issues: monitor `nightly`'s failure and a client's
/// `disk full` error.
fn a_failing_monitor_and_an_error() -> TestServer {
    let server = TestServer::start();
    run(&server, "nightly", "error", Value::Null);
    api_support::event(
        &server,
        api_support::message("disk full", "error", "production", "app@1"),
    );
    server.wait_for_issues(2, std::time::Duration::from_secs(5));
    server
}

#[test]
fn the_issue_list_filters_by_issue_category_and_type() {
    let server = a_failing_monitor_and_an_error();
    let titles =
        |query: &str| api_support::titles(&get_ok(&server, &format!("{LIST}?query={query}")));
    assert_eq!(titles("issue.category:cron"), ["Monitor failure: nightly"]);
    assert_eq!(
        titles("issue.type:monitor_check_in_failure"),
        ["Monitor failure: nightly"]
    );
    assert_eq!(titles("issue.category:error"), ["disk full"]);
    assert_eq!(titles("issue.category:[error,cron]").len(), 2);
    let (status, body) = api_support::get(&server, &format!("{LIST}?query=issue.category:nope"));
    assert_eq!(status, 400, "{body}");
}

#[test]
fn a_client_event_with_the_monitors_fingerprint_gets_an_issue_of_its_own() {
    let server = TestServer::start();
    run(&server, "nightly", "error", Value::Null);
    server.wait_for_issues(1, std::time::Duration::from_secs(5));
    api_support::event(
        &server,
        json!({"message": "impostor", "level": "error",
               "fingerprint": ["monitor-failure", "nightly", "production"]}),
    );
    let issues = server.wait_for_issues(2, std::time::Duration::from_secs(5));
    assert_eq!(issues.len(), 2, "{issues:?}");
    let monitor = issues
        .iter()
        .find(|i| i.title == "Monitor failure: nightly")
        .expect("the monitor's issue");
    assert_eq!(monitor.times_seen, 1, "the client event did not join it");
    // The monitor's next failure still does.
    run(&server, "nightly", "error", Value::Null);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let count = || {
        server
            .issues()
            .into_iter()
            .find(|i| i.id == monitor.id)
            .map_or(0, |i| i.times_seen)
    };
    while count() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(count(), 2);
    assert_eq!(server.issues().len(), 2);
}

#[test]
fn counts_and_ci_checks_tell_monitor_issues_from_errors() {
    let server = a_failing_monitor_and_an_error();
    let stats = |query: &str| {
        let s = get_ok(
            &server,
            &format!("/api/0/local/stats/?fields=events,issues{query}"),
        );
        (s["events"].as_i64(), s["issues"].as_i64())
    };
    assert_eq!(stats(""), (Some(2), Some(2)));
    assert_eq!(stats("&issueCategory=error"), (Some(1), Some(1)));
    assert_eq!(stats("&issueCategory=cron"), (Some(1), Some(1)));
    assert_eq!(
        stats("&issueCategory=error&issueCategory=cron"),
        (Some(2), Some(2))
    );
    let (status, body) = api_support::get(&server, "/api/0/local/stats/?issueCategory=nope");
    assert_eq!(status, 400, "{body}");
    let check = |args: &[&str]| {
        api_support::receiver_command(&server)
            .arg("check")
            .args(args)
            .output()
            .expect("run receiver check")
            .status
            .code()
    };
    // "No errors" in CI need not fail on a failing cron job, or the reverse.
    assert_eq!(
        check(&["--issue-category", "cron", "--max-issues", "1"]),
        Some(0)
    );
    assert_eq!(
        check(&["--issue-category", "error", "--max-events", "0"]),
        Some(1)
    );
    assert_eq!(check(&["--max-events", "1"]), Some(1));
}

#[test]
fn a_muted_monitor_records_its_runs_but_opens_no_issue() {
    let server = TestServer::start();
    run(&server, "flaky", "ok", Value::Null);
    // Muted from the CLI.
    let out = api_support::receiver_command(&server)
        .args(["monitors", "flaky", "--mute", "--json"])
        .output()
        .expect("run the CLI");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(shown["isMuted"], true, "{shown}");

    run(&server, "flaky", "error", Value::Null);
    run(&server, "flaky", "error", Value::Null);
    assert!(failure_issues(&server).is_empty());
    // The incident is open all the same, without an issue.
    assert_eq!(
        incidents(&server, "flaky"),
        [("production".to_owned(), None)]
    );
    let list = get_ok(&server, "/api/0/local/monitors/");
    assert_eq!(list[0]["isMuted"], true, "{list}");

    // Unmuted through the API: the next failure counts.
    let (status, body) = api_support::send_json(
        &server,
        "PUT",
        "/api/0/projects/local/default/monitors/flaky/",
        json!({"isMuted": false}),
    );
    assert_eq!((status, &body["isMuted"]), (200, &json!(false)), "{body}");
    run(&server, "flaky", "error", Value::Null);
    let issues = failure_issues(&server);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0]["count"], "1", "{issues:?}");

    // What cannot be changed here, or is no boolean, is a 400; an unknown
    // monitor a 404.
    for body in [json!({"isMuted": "yes"}), json!({"name": "x"}), json!({})] {
        let (status, answer) = api_support::send_json(
            &server,
            "PUT",
            "/api/0/projects/local/default/monitors/flaky/",
            body,
        );
        assert_eq!(status, 400, "{answer}");
    }
    let (status, _) = api_support::send_json(
        &server,
        "PUT",
        "/api/0/organizations/local/monitors/nope/",
        json!({"isMuted": true}),
    );
    assert_eq!(status, 404);
}

#[test]
fn a_missed_run_an_incident_opened_on_is_not_counted_again_by_the_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    let t0 = (api_support::now() / 3600.0).floor() * 3600.0 - 7.0 * 86_400.0 + 1.0;
    let config = json!({"monitor_config": {"schedule": "* * * * *", "checkin_margin": 1,
                                           "failure_issue_threshold": 2}});
    {
        let server = server_at(&path, t0);
        run(&server, "every-minute", "ok", config);
        // Another monitor's incident comes first.
        run(&server, "other", "error", Value::Null);
    }
    // The run due at :01 is missed at :02; a run that fails at :02:05
    // makes two failures in a row before any tick counted the missed one.
    let server = server_at(&path, t0 + 124.0);
    run(&server, "every-minute", "error", Value::Null);
    let issues: Vec<Value> = failure_issues(&server)
        .into_iter()
        .filter(|i| i["title"] == "Monitor failure: every-minute")
        .collect();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0]["count"], "2", "{issues:?}");
    // Its incident names its issue (and not the other monitor's).
    let id = issues[0]["id"].as_str().map(str::to_owned);
    assert_eq!(
        incidents(&server, "every-minute"),
        [("production".to_owned(), id)]
    );
    // The tick over that time finds the missed run counted already.
    assert_eq!(tick(&server, t0, t0 + 150.0), 0);
    assert_eq!(
        issue(&server, issues[0]["id"].as_str().unwrap_or_default())["count"],
        "2"
    );
}

#[test]
fn a_success_that_arrived_before_the_tick_ends_the_incident_the_tick_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    let t0 = (api_support::now() / 3600.0).floor() * 3600.0 - 7.0 * 86_400.0 + 1.0;
    let hourly = json!({"monitor_config": {"schedule": "0 * * * *", "checkin_margin": 5}});
    {
        let server = server_at(&path, t0);
        run(&server, "late-job", "ok", hourly);
    }
    // The run due at 1 h starts six minutes late (after its margin) and
    // succeeds, before the clock looked.
    let server = server_at(&path, t0 + 3600.0 + 360.0);
    run(&server, "late-job", "ok", Value::Null);
    assert_eq!(tick(&server, t0, t0 + 3600.0 + 420.0), 1);
    // Missed, then the job came back: the issue has the failure and is
    // resolved, as Sentry would have it.
    let issues = failure_issues(&server);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(
        (&issues[0]["count"], &issues[0]["status"]),
        (&json!("1"), &json!("resolved")),
        "{issues:?}"
    );
    assert!(incidents(&server, "late-job").is_empty());
}

#[test]
fn the_server_counts_the_last_window_when_it_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    let now = api_support::now();
    // A run that times out two seconds from now (see the test above).
    {
        let server = server_at(&path, now - 40_320.0 * 60.0 + 2.0);
        item(
            &server,
            "check_in",
            json!({"check_in_id": api_support::new_id(), "monitor_slug": "last-window",
                   "status": "in_progress",
                   "monitor_config": {"schedule": {"type": "interval", "value": 1,
                                                   "unit": "year"},
                                      "max_runtime": 40_320}}),
        );
    }
    {
        // A server whose clock would not tick for an hour, stopped after
        // the deadline: its last window is counted as it stops.
        let server = TestServer::builder()
            .db_path(&path)
            .configure(|c| {
                c.monitor_clock_interval = std::time::Duration::from_secs(3600);
                c.monitor_clock_lag = std::time::Duration::ZERO;
            })
            .start();
        while api_support::now() < now + 2.5 {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(failure_issues(&server).is_empty(), "no tick yet");
    }
    let server = server_at(&path, now + 3.0);
    let titles: Vec<String> = failure_issues(&server)
        .iter()
        .filter_map(|i| i["title"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(titles, ["Monitor failure: last-window"]);
}

#[test]
fn a_late_counted_failure_joins_the_past_and_does_not_end_a_later_incident() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    let t0 = (api_support::now() / 3600.0).floor() * 3600.0 - 7.0 * 86_400.0 + 1.0;
    let config = json!({"schedule": {"type": "interval", "value": 1, "unit": "year"},
                        "max_runtime": 1});
    let stuck = api_support::new_id();
    {
        let server = server_at(&path, t0);
        item(
            &server,
            "check_in",
            json!({"check_in_id": stuck, "monitor_slug": "order", "status": "in_progress",
                   "monitor_config": config}),
        );
    }
    {
        // A minute on, the first run has timed out (no tick saw it yet);
        // another run succeeds.
        let server = server_at(&path, t0 + 61.0);
        run(&server, "order", "ok", Value::Null);
    }
    // Then a run fails: an incident opens.
    let server = server_at(&path, t0 + 63.0);
    run(&server, "order", "error", Value::Null);
    let issues = failure_issues(&server);
    assert_eq!(issues.len(), 1, "{issues:?}");
    let id = issues[0]["id"].as_str().unwrap_or_default().to_owned();
    // The tick counts the timeout, which came before the success: it
    // joins the issue and ends nothing the later failure opened.
    assert_eq!(tick(&server, t0, t0 + 120.0), 1);
    let now = issue(&server, &id);
    assert_eq!(
        (&now["status"], &now["count"]),
        (&json!("unresolved"), &json!("2")),
        "{now}"
    );
    assert_eq!(incidents(&server, "order").len(), 1);
}
