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
    get_ok(
        server,
        &format!("{LIST}?query=is:unresolved+OR+is:resolved"),
    )
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
    // A run in progress is no failure (yet).
    item(
        &server,
        "check_in",
        json!({"check_in_id": api_support::new_id(), "monitor_slug": "backup",
               "status": "in_progress"}),
    );
    run(&server, "backup", "error", Value::Null);
    assert!(failure_issues(&server).is_empty());
    // Three failed runs in a row: one event for each.
    run(&server, "backup", "error", Value::Null);
    run(&server, "backup", "error", Value::Null);
    let issues = failure_issues(&server);
    assert_eq!(issues.len(), 1, "{issues:?}");
    let id = issues[0]["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(issues[0]["count"], "3", "{issues:?}");
    let latest = get_ok(&server, &format!("/api/0/issues/{id}/events/latest/"));
    assert_eq!(
        latest["message"], "3 error check-ins were detected",
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
