//! Merging issues (`PUT …/issues/?id=…&id=…` with `{"merge": true}`, as
//! Sentry's API): the issue seen most often takes the others in, with
//! their events, groupings, users, releases and environments, and later
//! events of their groupings land in it.

mod api_support;

use std::time::Duration;

use api_support::{event, get, get_ok, item, new_id, send_json};
use receiver::TestServer;
use serde_json::{json, Value};

const LIST: &str = "/api/0/projects/local/default/issues/";

/// An error event of grouping `fingerprint` from `user` in `env` and
/// `release`.
fn failure(server: &TestServer, fingerprint: &str, user: &str, env: &str, release: &str) -> String {
    event(
        server,
        json!({"message": format!("{fingerprint} failed"), "level": "error",
               "fingerprint": [fingerprint], "user": {"id": user},
               "environment": env, "release": release}),
    )
}

fn issue_of(server: &TestServer, title: &str) -> i64 {
    server
        .issues()
        .iter()
        .find(|i| i.title == title)
        .map(|i| i.id)
        .unwrap_or_else(|| panic!("no issue {title:?}"))
}

fn merge(server: &TestServer, ids: &[i64], body: Value) -> (u16, Value) {
    let query: Vec<String> = ids.iter().map(|id| format!("id={id}")).collect();
    send_json(server, "PUT", &format!("{LIST}?{}", query.join("&")), body)
}

#[test]
fn merged_issues_become_the_one_seen_most_with_all_they_had() {
    let server = TestServer::start();
    for user in ["u1", "u2", "u1"] {
        failure(&server, "alpha", user, "prod", "app@1.0.0");
    }
    let beta_event = failure(&server, "beta", "u3", "staging", "app@2.0.0");
    failure(&server, "gamma", "u1", "prod", "app@1.0.0");
    server.wait_for_events(5, Duration::from_secs(10));
    let (alpha, beta, gamma) = (
        issue_of(&server, "alpha failed"),
        issue_of(&server, "beta failed"),
        issue_of(&server, "gamma failed"),
    );
    // The child's history goes with it.
    let (status, _) = send_json(
        &server,
        "PUT",
        &format!("/api/0/issues/{beta}/"),
        json!({"assignedTo": "jane@example.com"}),
    );
    assert_eq!(status, 200);

    let (status, answer) = merge(&server, &[beta, alpha], json!({"merge": 1}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"merge": {"parent": alpha.to_string(), "children": [beta.to_string()]}})
    );
    // The child is gone; its id leads to the parent, which has everything.
    let led = get_ok(&server, &format!("/api/0/issues/{beta}/"));
    assert_eq!(led["id"], alpha.to_string(), "{led}");
    assert_eq!(server.issues().len(), 2);
    let parent = get_ok(&server, &format!("/api/0/issues/{alpha}/"));
    assert_eq!(parent["count"], "4", "{parent}");
    assert_eq!(parent["userCount"], 3, "{parent}");
    assert_eq!(
        parent["title"], "alpha failed",
        "the parent keeps its title"
    );
    assert_eq!(parent["lastRelease"]["version"], "app@2.0.0", "{parent}");
    let kinds: Vec<&str> = parent["activity"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["type"].as_str())
        .collect();
    assert!(
        kinds.contains(&"merge") && kinds.contains(&"assigned"),
        "{kinds:?}"
    );
    let events = get_ok(&server, &format!("/api/0/issues/{alpha}/events/"));
    assert!(
        events
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x["eventID"] == beta_event.as_str())),
        "{events}"
    );
    // The child's environment finds the parent.
    let staging = get_ok(&server, &format!("{LIST}?query=environment:staging"));
    assert_eq!(staging[0]["id"], alpha.to_string(), "{staging}");
    // A later event of the child's grouping joins the parent.
    failure(&server, "beta", "u4", "staging", "app@2.0.0");
    server.wait_for_events(6, Duration::from_secs(10));
    let titles: Vec<String> = server.issues().into_iter().map(|i| i.title).collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    let parent = get_ok(&server, &format!("/api/0/issues/{alpha}/"));
    assert_eq!(
        (&parent["count"], &parent["userCount"]),
        (&json!("5"), &json!(4))
    );
    // The untouched issue is as it was.
    assert_eq!(
        get_ok(&server, &format!("/api/0/issues/{gamma}/"))["count"],
        "1"
    );
}

#[test]
fn a_merge_is_refused_when_it_cannot_be_what_was_asked() {
    let server = TestServer::start();
    failure(&server, "alpha", "u1", "prod", "app@1.0.0");
    failure(&server, "beta", "u1", "prod", "app@1.0.0");
    item(
        &server,
        "check_in",
        json!({"check_in_id": new_id(), "monitor_slug": "nightly", "status": "error",
               "monitor_config": {"schedule": {"type": "interval", "value": 1, "unit": "day"}}}),
    );
    server.wait_for_issues(3, Duration::from_secs(10));
    let (alpha, beta, cron) = (
        issue_of(&server, "alpha failed"),
        issue_of(&server, "beta failed"),
        issue_of(&server, "Monitor failure: nightly"),
    );
    for (ids, body, why) in [
        (vec![alpha], json!({"merge": true}), "one issue"),
        (
            vec![alpha, cron],
            json!({"merge": true}),
            "a monitor's issue",
        ),
        (
            vec![alpha, beta],
            json!({"merge": true, "status": "resolved"}),
            "with another change",
        ),
        (vec![alpha, beta], json!({"merge": "yes"}), "not a boolean"),
    ] {
        let (status, answer) = merge(&server, &ids, body);
        assert_eq!(status, 400, "{why}: {answer}");
    }
    assert_eq!(server.issues().len(), 3, "nothing was merged");
    // One issue's own PUT cannot merge (nor pretend to).
    let (status, answer) = send_json(
        &server,
        "PUT",
        &format!("/api/0/issues/{alpha}/"),
        json!({"merge": 1, "status": "resolved"}),
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        get_ok(&server, &format!("/api/0/issues/{alpha}/"))["status"],
        "unresolved"
    );
    // `merge: false` is no merge: an empty change.
    let (status, _) = merge(&server, &[alpha, beta], json!({"merge": false}));
    assert_eq!(status, 200);
    assert_eq!(server.issues().len(), 3);
}

#[test]
fn issues_of_two_projects_do_not_merge() {
    let server = TestServer::start();
    let key2 = "22222222222222222222222222222222";
    server
        .write(receiver::store::WriteOp::CreateProject {
            id: Some(2),
            name: "other".to_owned(),
        })
        .expect("project 2");
    server.add_project(2, key2).expect("project 2's key");
    failure(&server, "alpha", "u1", "prod", "app@1.0.0");
    api_support::event_to(
        &server,
        2,
        key2,
        json!({"message": "other project", "level": "error"}),
    );
    server.wait_for_issues(1, Duration::from_secs(10));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.issues_of(2).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let issues = [server.issues_of(1), server.issues_of(2)].concat();
    assert_eq!(issues.len(), 2, "{issues:?}");
    let ids: Vec<String> = issues.iter().map(|i| format!("id={}", i.id)).collect();
    let (status, answer) = send_json(
        &server,
        "PUT",
        &format!("/api/0/organizations/local/issues/?{}", ids.join("&")),
        json!({"merge": true}),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("projects"), "{answer}");
    assert_eq!(server.issues_of(1).len() + server.issues_of(2).len(), 2);
}

#[test]
fn the_cli_merges_by_short_id_and_shows_the_issue_that_stayed() {
    let server = TestServer::start();
    failure(&server, "alpha", "u1", "prod", "app@1.0.0");
    for user in ["u1", "u2"] {
        failure(&server, "beta", user, "prod", "app@1.0.0");
    }
    server.wait_for_events(3, Duration::from_secs(10));
    let (alpha, beta) = (
        issue_of(&server, "alpha failed"),
        issue_of(&server, "beta failed"),
    );
    let short = |id: i64| {
        get_ok(&server, &format!("/api/0/issues/{id}/"))["shortId"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let out = api_support::receiver_command(&server)
        .args(["issue", &short(alpha), "--merge", &short(beta), "--json"])
        .output()
        .expect("run receiver issue --merge");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // Beta was seen more often: it stayed, and it is what is shown.
    assert_eq!(shown["id"], beta.to_string(), "{shown}");
    assert_eq!(shown["count"], "3");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("merged issue {alpha} into issue {beta}")),
        "{said}"
    );
    assert_eq!(server.issues().len(), 1);
}

#[test]
fn merged_ids_lead_through_later_merges_until_the_issue_is_deleted() {
    let server = TestServer::start();
    let mut sent = 0;
    for (fingerprint, n) in [("a", 1), ("b", 2), ("c", 3)] {
        for _ in 0..n {
            failure(&server, fingerprint, "u1", "prod", "app@1.0.0");
            sent += 1;
        }
    }
    server.wait_for_events(sent, Duration::from_secs(10));
    let (a, b, c) = (
        issue_of(&server, "a failed"),
        issue_of(&server, "b failed"),
        issue_of(&server, "c failed"),
    );
    let short_a = get_ok(&server, &format!("/api/0/issues/{a}/"))["shortId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(merge(&server, &[a, b], json!({"merge": true})).0, 200);
    assert_eq!(merge(&server, &[b, c], json!({"merge": true})).0, 200);
    for key in [a.to_string(), short_a.clone(), b.to_string()] {
        let led = get_ok(&server, &format!("/api/0/issues/{key}/"));
        assert_eq!(led["id"], c.to_string(), "{key}: {led}");
    }
    assert_eq!(
        get_ok(&server, &format!("/api/0/issues/{c}/"))["count"],
        "6"
    );
    // A stale id cannot delete or change the issue that took it in.
    let (status, answer) = send_json(&server, "DELETE", &format!("/api/0/issues/{a}/"), json!({}));
    assert_eq!(status, 404, "{answer}");
    assert!(
        answer
            .to_string()
            .contains(&format!("merged into issue {c}")),
        "{answer}"
    );
    let (status, _) = send_json(
        &server,
        "PUT",
        &format!("/api/0/issues/{short_a}/"),
        json!({"status": "resolved"}),
    );
    assert_eq!(status, 404);
    assert_eq!(
        get_ok(&server, &format!("/api/0/issues/{c}/"))["status"],
        "unresolved"
    );
    // Deleted, the issue takes its redirects with it.
    assert_eq!(
        send_json(&server, "DELETE", &format!("/api/0/issues/{c}/"), json!({})).0,
        202
    );
    for key in [a.to_string(), short_a, c.to_string()] {
        assert_eq!(
            get(&server, &format!("/api/0/issues/{key}/")).0,
            404,
            "{key}"
        );
    }
}
