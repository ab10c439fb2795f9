//! API contract: releases and deploys as `sentry-cli releases` uses them,
//! and release health computed from `session` and `sessions` items
//! (PROTOCOL.md §7.3).

mod api_support;

use std::time::Duration;

use api_support::{event, get, get_ok, item, message, now_iso, send_json};
use receiver::api::types::{Deploy, Health, Release};
use receiver::TestServer;
use serde_json::json;

const RELEASES: &str = "/api/0/organizations/local/releases/";

#[test]
fn releases_new_finalize_deploy_and_list() {
    let server = TestServer::builder()
        .project(9, "99999999999999999999999999999999")
        .start();
    // `sentry-cli releases new`: 201, then 208 when it exists.
    let (status, body) = send_json(
        &server,
        "POST",
        RELEASES,
        json!({"version": "shop@2.0.0", "projects": ["default", 9], "ref": "abc123"}),
    );
    assert_eq!(status, 201, "{body}");
    let release: Release = serde_json::from_value(body).expect("release shape");
    assert_eq!(release.short_version, "2.0.0");
    assert_eq!(release.projects.len(), 2);
    assert!(release.date_released.is_none());
    let (status, _) = send_json(
        &server,
        "POST",
        RELEASES,
        json!({"version": "shop@2.0.0", "projects": ["default"]}),
    );
    assert_eq!(status, 208);

    // `finalize`: PUT dateReleased.
    let when = now_iso(0.0);
    let (status, body) = send_json(
        &server,
        "PUT",
        &format!("{RELEASES}shop%402.0.0/"),
        json!({"dateReleased": when, "url": "https://example.com/r"}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["dateReleased"].is_string());
    assert_eq!(body["url"], "https://example.com/r");
    assert_eq!(body["ref"], "abc123");

    // Deploys.
    let (status, body) = send_json(
        &server,
        "POST",
        &format!("{RELEASES}shop@2.0.0/deploys/"),
        json!({"environment": "production", "name": "blue", "url": null, "dateStarted": null}),
    );
    assert_eq!(status, 201, "{body}");
    let deploy: Deploy = serde_json::from_value(body).expect("deploy shape");
    assert_eq!(deploy.environment, "production");
    let deploys: Vec<Deploy> = server
        .api_json(&format!("{RELEASES}shop@2.0.0/deploys/"))
        .expect("deploys");
    assert_eq!(deploys.len(), 1);
    assert_eq!(deploys[0], deploy);
    let detail: Release = server
        .api_json(&format!("{RELEASES}shop@2.0.0/"))
        .expect("detail");
    assert_eq!(detail.deploy_count, 1);
    assert_eq!(detail.last_deploy, Some(deploy));

    // Releases first seen through events show up too, with new issues.
    event(
        &server,
        message("checkout broke", "error", "prod", "shop@2.1.0"),
    );
    server.wait_for_events(1, Duration::from_secs(5));
    let list: Vec<Release> = server.api_json(RELEASES).expect("list");
    let versions: Vec<&str> = list.iter().map(|r| r.version.as_str()).collect();
    assert_eq!(versions, ["shop@2.1.0", "shop@2.0.0"], "newest first");
    assert_eq!(list[0].new_groups, 1);
    let project9: Vec<Release> = server
        .api_json("/api/0/projects/local/9/releases/")
        .expect("project list");
    assert_eq!(project9.len(), 1);
    let found: Vec<Release> = server
        .api_json(&format!("{RELEASES}?query=2.1"))
        .expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(
        get(&server, "/api/0/projects/local/9/releases/shop@2.1.0/").0,
        404,
        "not a release of project 9"
    );

    // Errors.
    for (body, what) in [
        (json!({"projects": ["default"]}), "no version"),
        (json!({"version": "shop@3", "projects": []}), "no projects"),
        (
            json!({"version": "a/b", "projects": ["default"]}),
            "bad version",
        ),
        (
            json!({"version": "shop@3", "projects": ["nope"]}),
            "unknown project",
        ),
        (
            json!({"version": "shop@3", "projects": ["default"], "dateReleased": "soon"}),
            "bad date",
        ),
    ] {
        let (status, r) = send_json(&server, "POST", RELEASES, body);
        assert_eq!(status, 400, "{what}: {r}");
    }
    let (status, _) = send_json(&server, "PUT", &format!("{RELEASES}nope@1/"), json!({}));
    assert_eq!(status, 404);
    let (status, _) = send_json(
        &server,
        "POST",
        &format!("{RELEASES}nope@1/deploys/"),
        json!({"environment": "prod"}),
    );
    assert_eq!(status, 404);
    let (status, _) = send_json(
        &server,
        "POST",
        &format!("{RELEASES}shop@2.0.0/deploys/"),
        json!({}),
    );
    assert_eq!(status, 400, "environment is required");

    // Delete.
    let r = server
        .api_request("DELETE", &format!("{RELEASES}shop@2.0.0/"), None)
        .expect("delete");
    assert_eq!(r.status, 204);
    assert_eq!(get(&server, &format!("{RELEASES}shop@2.0.0/")).0, 404);
    let r = server
        .api_request("DELETE", &format!("{RELEASES}shop@2.0.0/"), None)
        .expect("delete again");
    assert_eq!(r.status, 404);
    // A release that stored events or sessions name stays (as Sentry), so
    // that the list keeps what issues and release health refer to.
    item(
        &server,
        "session",
        json!({"sid": format!("{:032x}", 7), "did": "u1", "seq": 0, "init": true,
            "started": now_iso(-30.0), "status": "exited", "errors": 0,
            "attrs": {"release": "shop@2.2.0", "environment": "prod"}}),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while get(&server, &format!("{RELEASES}shop@2.2.0/")).0 != 200 {
        assert!(std::time::Instant::now() < deadline, "session release");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A release seen only in a transaction is a release too (as Sentry).
    let now = api_support::now();
    item(
        &server,
        "transaction",
        json!({"type": "transaction", "transaction": "GET /cart", "release": "shop@2.3.0",
            "start_timestamp": now - 1.0, "timestamp": now,
            "contexts": {"trace": {"trace_id": "1".repeat(32), "span_id": "2".repeat(16),
                "op": "http.server"}}}),
    );
    // And one seen only in a streamed segment (an SDK that sends spans,
    // not transactions).
    let segment = json!({"version": 2, "items": [{"trace_id": "3".repeat(32),
        "span_id": "4".repeat(16), "name": "GET /", "is_segment": true,
        "start_timestamp": now - 1.0, "end_timestamp": now,
        "attributes": {"sentry.release": {"type": "string", "value": "shop@2.4.0"}}}]});
    let body = format!(
        "{{}}\n{{\"type\":\"span\",\"item_count\":1,\
         \"content_type\":\"application/vnd.sentry.items.span.v2+json\"}}\n{segment}\n"
    );
    api_support::send(&server, body.as_bytes());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    for version in ["shop@2.3.0", "shop@2.4.0"] {
        while get(&server, &format!("{RELEASES}{version}/")).0 != 200 {
            assert!(std::time::Instant::now() < deadline, "{version}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for (version, named_by) in [
        ("shop@2.1.0", "the events of stored issues"),
        ("shop@2.2.0", "stored sessions"),
        ("shop@2.3.0", "stored transactions"),
        ("shop@2.4.0", "stored spans"),
    ] {
        let r = server
            .api_request("DELETE", &format!("{RELEASES}{version}/"), None)
            .expect("delete a release in use");
        let body = String::from_utf8_lossy(&r.body);
        assert_eq!(r.status, 400, "{version}: {body}");
        assert!(body.contains(named_by), "{version}: {body}");
        assert_eq!(get(&server, &format!("{RELEASES}{version}/")).0, 200);
    }
    // A release an issue is resolved in stays too.
    let (status, _) = send_json(
        &server,
        "POST",
        RELEASES,
        json!({"version": "shop@5.0.0", "projects": ["default"]}),
    );
    assert_eq!(status, 201);
    let issue = get_ok(&server, "/api/0/projects/local/default/issues/?query=");
    let id = issue[0]["id"].as_str().expect("an issue").to_owned();
    let (status, body) = send_json(
        &server,
        "PUT",
        &format!("/api/0/issues/{id}/"),
        json!({"status": "resolved", "statusDetails": {"inRelease": "shop@5.0.0"}}),
    );
    assert_eq!(status, 200, "{body}");
    let r = server
        .api_request("DELETE", &format!("{RELEASES}shop@5.0.0/"), None)
        .expect("delete a release an issue is resolved in");
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("issues resolved in it"));
}

#[test]
fn release_health_from_sessions_and_aggregates() {
    let server = TestServer::start();
    let started = now_iso(-60.0);
    let session =
        |sid: &str, did: &str, seq: u64, init: bool, status: &str, errors: u32, env: &str| {
            json!({"sid": sid, "did": did, "seq": seq, "init": init, "started": started,
               "status": status, "errors": errors,
               "attrs": {"release": "app@1.0.0", "environment": env}})
        };
    let sid = |n: u8| format!("{n:032x}");
    item(
        &server,
        "session",
        session(&sid(1), "u1", 0, true, "exited", 0, "prod"),
    );
    item(
        &server,
        "session",
        session(&sid(2), "u2", 0, true, "crashed", 1, "prod"),
    );
    item(
        &server,
        "session",
        session(&sid(3), "u3", 0, true, "ok", 0, "prod"),
    );
    item(
        &server,
        "session",
        session(&sid(3), "u3", 5, false, "exited", 2, "prod"),
    );
    item(
        &server,
        "session",
        session(&sid(4), "u1", 0, true, "exited", 0, "staging"),
    );
    item(
        &server,
        "sessions",
        json!({"aggregates": [{"started": started, "did": "u4", "exited": 5, "errored": 1,
                               "crashed": 1}],
               "attrs": {"release": "app@1.0.0", "environment": "prod"}}),
    );
    let health: Health = server.api_json("/api/0/local/health/").expect("health");
    assert_eq!(health.data.len(), 2, "{health:?}");
    let prod = health
        .data
        .iter()
        .find(|r| r.environment.as_deref() == Some("prod"))
        .expect("prod row");
    assert_eq!(prod.release.as_deref(), Some("app@1.0.0"));
    assert_eq!(prod.sessions, 10);
    assert_eq!(prod.sessions_crashed, 2);
    assert_eq!(prod.sessions_abnormal, 0);
    assert_eq!(prod.sessions_errored, 2);
    assert_eq!(prod.sessions_healthy, 6);
    assert_eq!(prod.crash_free_sessions, Some(0.8));
    assert_eq!(prod.users, 4);
    assert_eq!(prod.users_crashed, 2);
    assert_eq!(prod.crash_free_users, Some(0.5));
    // Totals merge users across environments (u1 is in both).
    assert_eq!(health.totals.sessions, 11);
    assert_eq!(health.totals.users, 4);

    // Grouped by release only; filtered by environment.
    let by_release: Health = server
        .api_json("/api/0/local/health/?groupBy=release")
        .expect("by release");
    assert_eq!(by_release.data.len(), 1);
    assert_eq!(by_release.data[0].sessions, 11);
    let staging: Health = server
        .api_json("/api/0/local/health/?environment=staging")
        .expect("staging");
    assert_eq!(staging.totals.sessions, 1);
    assert_eq!(staging.totals.crash_free_sessions, Some(1.0));
    let none: Health = server
        .api_json("/api/0/local/health/?release=other@1")
        .expect("none");
    assert_eq!(none.totals.crash_free_sessions, None);
    assert_eq!(get(&server, "/api/0/local/health/?groupBy=colour").0, 400);

    // The release knows it has health data.
    let release = get_ok(&server, &format!("{RELEASES}app@1.0.0/"));
    assert_eq!(release["projects"][0]["hasHealthData"], true);
}
