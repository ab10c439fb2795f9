//! API contract: the issue list (filters, sort, cursors), issue detail,
//! the events of an issue, workflow updates (single and bulk) and deletion.

mod api_support;

use std::collections::HashSet;
use std::time::Duration;

use api_support::{event, get, get_ok, ids, link_cursor, message, send_json, titles};
use receiver::api::types::{EventSummary, Issue, IssueDetail};
use receiver::TestServer;
use serde_json::json;

const LIST: &str = "/api/0/projects/local/default/issues/";

/// Three issues: alpha (error, prod, a@1.0.0) ×3, beta (warning, staging,
/// a@1.1.0) ×1, gamma (error, staging, a@1.1.0) ×2.
fn seeded() -> TestServer {
    let server = TestServer::start();
    for _ in 0..3 {
        event(
            &server,
            message("alpha database failure", "error", "prod", "a@1.0.0"),
        );
    }
    event(
        &server,
        message("beta cache warning", "warning", "staging", "a@1.1.0"),
    );
    for _ in 0..2 {
        event(
            &server,
            message("gamma timeout", "error", "staging", "a@1.1.0"),
        );
    }
    server.wait_for_events(6, Duration::from_secs(5));
    server
}

#[test]
fn list_filters_and_sorts() {
    let server = seeded();
    let list = |q: &str| get_ok(&server, &format!("{LIST}?{q}"));
    assert_eq!(
        titles(&list("")),
        [
            "alpha database failure",
            "beta cache warning",
            "gamma timeout"
        ]
    );
    assert_eq!(titles(&list("level=warning")), ["beta cache warning"]);
    assert_eq!(
        titles(&list("query=level:error")),
        ["alpha database failure", "gamma timeout"]
    );
    assert_eq!(
        titles(&list("environment=prod")),
        ["alpha database failure"]
    );
    assert_eq!(
        titles(&list("query=release:a@1.1.0")),
        ["beta cache warning", "gamma timeout"]
    );
    assert_eq!(titles(&list("query=timeout")), ["gamma timeout"]);
    assert_eq!(
        titles(&list("query=%22DATABASE+failure%22")),
        ["alpha database failure"],
        "quoted free text, case-insensitive"
    );
    assert_eq!(
        titles(&list("query=is:unresolved+level:error+environment:staging")),
        ["gamma timeout"]
    );
    assert_eq!(titles(&list("statsPeriod=1h")).len(), 3);
    let future = api_support::now() + 3600.0;
    assert_eq!(titles(&list(&format!("start={future}"))).len(), 0);

    // Sort by frequency: alpha (3), gamma (2), beta (1).
    let freq: Vec<String> = list("sort=freq")
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["count"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(freq, ["3", "2", "1"]);
    // Sort by first seen: newest first.
    let new = list("sort=new");
    assert_eq!(new[0]["title"], "gamma timeout");

    // Typed shape: ids and counts are strings, times ISO 8601.
    let issues: Vec<Issue> = server.api_json(LIST).expect("typed");
    let alpha = issues
        .iter()
        .find(|i| i.title.starts_with("alpha"))
        .expect("alpha");
    assert_eq!(alpha.count, "3");
    assert_eq!(alpha.short_id, format!("DEFAULT-{}", alpha.id));
    assert_eq!(alpha.project.slug, "default");
    assert!(alpha.last_seen.ends_with('Z') && alpha.last_seen.contains('T'));
    assert_eq!(alpha.kind, "default");
    assert_eq!(alpha.metadata["title"], "alpha database failure");

    // Bad filters: 400 with a message.
    for q in [
        "level=loud",
        "sort=best",
        "cursor=garbage",
        "query=colour:red",
        "query=!level:error",
        "statsPeriod=forever",
        "start=yesterday",
        "limit=0",
        "limit=1000",
        "status=closed",
    ] {
        let (status, body) = get(&server, &format!("{LIST}?{q}"));
        assert_eq!(status, 400, "{q}: {body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{q}"
        );
    }
}

#[test]
fn cursor_pagination_walks_every_issue_once_both_ways() {
    let server = TestServer::start();
    let words = ["amber", "birch", "cedar", "delta", "ember"];
    for w in words {
        event(
            &server,
            message(&format!("{w} broke"), "error", "prod", "a@1"),
        );
    }
    server.wait_for_events(5, Duration::from_secs(5));
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("{LIST}?limit=2&cursor={c}"),
            None => format!("{LIST}?limit=2"),
        };
        let r = server.api_get(&path).expect("page");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-hits"), Some("5"));
        let page = ids(&r.json());
        seen.extend(page.clone());
        pages.push((path, page));
        match link_cursor(&r, "next") {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5);
    // Newest first.
    let first: Vec<Issue> = server.api_json(&format!("{LIST}?limit=1")).expect("first");
    assert_eq!(first[0].title, "ember broke");
    // From the last page, "previous" leads back to the middle page.
    let r = server.api_get(&pages[2].0).expect("last");
    let prev = link_cursor(&r, "previous").expect("previous cursor");
    let back = server
        .api_get(&format!("{LIST}?limit=2&cursor={prev}"))
        .expect("back");
    assert_eq!(ids(&back.json()), pages[1].1);
    // The first page has no previous results.
    let r = server.api_get(&format!("{LIST}?limit=2")).expect("first");
    assert!(link_cursor(&r, "previous").is_none());
    assert!(r
        .header("link")
        .is_some_and(|l| l.contains("rel=\"previous\"; results=\"false\"")));
}

/// The grouping explanation is stored compressed, and one stored as text
/// by an earlier receiver is shown the same.
#[test]
fn explanations_are_stored_compressed_and_old_text_ones_still_read() {
    let server = TestServer::start();
    let frames: Vec<_> = (0..20)
        .map(|i| {
            json!({"function": format!("step_{i}"), "module": format!("app.jobs.m{i}"),
                        "filename": format!("app/jobs/m{i}.py"), "lineno": i, "in_app": i % 3 != 0})
        })
        .collect();
    event(
        &server,
        json!({"exception": {"values": [{"type": "KeyError", "value": "missing key",
            "stacktrace": {"frames": frames}}]}}),
    );
    server.wait_for_events(1, Duration::from_secs(5));
    let id = server.issues()[0].id;
    let shown = |server: &TestServer| {
        let detail: IssueDetail = server
            .api_json(&format!("/api/0/issues/{id}/"))
            .expect("detail");
        detail.grouping.explanation
    };
    let explanation = shown(&server);
    assert!(explanation["variants"]["app"].is_object(), "{explanation}");
    let json = explanation.to_string();
    let conn = rusqlite::Connection::open(server.db_path()).expect("open");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");
    let (kind, stored): (String, i64) = conn
        .query_row(
            "SELECT typeof(explanation), length(explanation) FROM issue_grouping",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("stored");
    assert_eq!(kind, "blob");
    assert!(
        stored * 5 < json.len() as i64,
        "{stored} bytes stored for {} of JSON",
        json.len()
    );
    // As a receiver before schema version 28 stored it.
    conn.execute("UPDATE issue_grouping SET explanation = ?1", [&json])
        .expect("text");
    assert_eq!(shown(&server), explanation);
}

#[test]
fn detail_tags_grouping_and_events() {
    let server = TestServer::start();
    for (user, env) in [("1", "prod"), ("2", "prod"), ("2", "staging")] {
        event(
            &server,
            json!({
                "exception": {"values": [{"type": "KeyError", "value": "missing key",
                    "stacktrace": {"frames": [{"function": "handler", "filename": "app.py",
                        "lineno": 3, "in_app": true}]}}]},
                "environment": env, "release": "app@2.0.0", "user": {"id": user},
                "tags": {"region": "eu"}
            }),
        );
    }
    server.wait_for_events(3, Duration::from_secs(5));
    let id = server.issues()[0].id;
    let detail: IssueDetail = server
        .api_json(&format!("/api/0/issues/{id}/"))
        .expect("detail");
    assert_eq!(detail.issue.title, "KeyError: missing key");
    assert_eq!(detail.issue.kind, "error");
    assert_eq!(
        detail.issue.metadata,
        json!({"type": "KeyError", "value": "missing key"})
    );
    assert_eq!(detail.issue.user_count, 2);
    assert_eq!(detail.environments, ["prod", "staging"]);
    assert_eq!(
        detail
            .first_release
            .as_ref()
            .map(|r| r.short_version.as_str()),
        Some("2.0.0")
    );
    let tag = |k: &str| {
        detail
            .tags
            .iter()
            .find(|t| t.key == k)
            .unwrap_or_else(|| panic!("tag {k}: {:?}", detail.tags))
    };
    assert_eq!(tag("environment").total_values, 3);
    assert_eq!(tag("environment").top_values[0].value, "prod");
    assert_eq!(tag("environment").top_values[0].count, 2);
    assert_eq!(tag("user").unique_values, 2);
    assert_eq!(tag("region").top_values[0].count, 3);
    assert!(!detail.grouping.hashes.is_empty());
    assert_eq!(detail.grouping.hashes[0].hash.len(), 32);
    assert!(detail.grouping.explanation["variants"].is_object());

    // By short id too, and the tags endpoints.
    let by_short = get_ok(
        &server,
        &format!("/api/0/issues/{}/", detail.issue.short_id),
    );
    assert_eq!(by_short["id"], json!(id.to_string()));
    let tags = get_ok(&server, &format!("/api/0/issues/{id}/tags/"));
    assert!(tags.as_array().is_some_and(|t| t.len() >= 5));
    let env = get_ok(&server, &format!("/api/0/issues/{id}/tags/environment/"));
    assert_eq!(env["uniqueValues"], 2);
    assert_eq!(
        get(&server, &format!("/api/0/issues/{id}/tags/nope/")).0,
        404
    );
    let hashes = get_ok(&server, &format!("/api/0/issues/{id}/hashes/"));
    assert_eq!(hashes[0]["id"], json!(detail.grouping.hashes[0].hash));
    let short = get_ok(
        &server,
        &format!(
            "/api/0/organizations/local/shortids/{}/",
            detail.issue.short_id
        ),
    );
    assert_eq!(short["groupId"], json!(id.to_string()));
    // The short id's project must be the issue's.
    let other = detail.issue.short_id.replacen("DEFAULT-", "NOPE-", 1);
    assert_eq!(get(&server, &format!("/api/0/issues/{other}/")).0, 404);

    // Events of the issue: newest first, cursor pages, environment filter.
    let events: Vec<EventSummary> = server
        .api_json(&format!("/api/0/issues/{id}/events/"))
        .expect("events");
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].environment.as_deref(), Some("staging"));
    assert!(events[0]
        .tags
        .iter()
        .any(|t| t.key == "user" && t.value == "id:2"));
    assert_eq!(events[0].group_id.as_deref(), Some(id.to_string().as_str()));
    let r = server
        .api_get(&format!("/api/0/issues/{id}/events/?limit=2"))
        .expect("page");
    assert_eq!(ids(&r.json()).len(), 2);
    let next = link_cursor(&r, "next").expect("next");
    let rest = get_ok(
        &server,
        &format!("/api/0/issues/{id}/events/?limit=2&cursor={next}"),
    );
    assert_eq!(ids(&rest), [events[2].id.clone()]);
    let prod = get_ok(
        &server,
        &format!("/api/0/issues/{id}/events/?environment=prod"),
    );
    assert_eq!(ids(&prod).len(), 2);
    let full = get_ok(
        &server,
        &format!("/api/0/issues/{id}/events/?full=1&limit=1"),
    );
    assert_eq!(full[0]["entries"][0]["type"], "exception");

    // Latest, oldest and by id, with neighbours.
    let latest = get_ok(&server, &format!("/api/0/issues/{id}/events/latest/"));
    assert_eq!(latest["eventID"], json!(events[0].id));
    assert_eq!(latest["previousEventID"], json!(events[1].id));
    assert!(latest["nextEventID"].is_null());
    let oldest = get_ok(&server, &format!("/api/0/issues/{id}/events/oldest/"));
    assert_eq!(oldest["eventID"], json!(events[2].id));
    let one = get_ok(
        &server,
        &format!("/api/0/issues/{id}/events/{}/", events[1].id),
    );
    assert_eq!(one["eventID"], json!(events[1].id));
    assert_eq!(
        get(
            &server,
            &format!("/api/0/issues/{id}/events/{}/", "0".repeat(32))
        )
        .0,
        404
    );
}

#[test]
fn workflow_updates_single_and_bulk() {
    let server = TestServer::start();
    event(
        &server,
        message("one thing failed", "error", "prod", "app@1.0.0"),
    );
    event(
        &server,
        message("other thing failed", "error", "prod", "app@1.0.0"),
    );
    event(
        &server,
        message("third thing failed", "error", "prod", "app@1.0.0"),
    );
    server.wait_for_events(3, Duration::from_secs(5));
    let by_title = |t: &str| {
        server
            .issues()
            .iter()
            .find(|i| i.title == t)
            .map(|i| i.id)
            .expect("issue")
    };
    let (a, b, c) = (
        by_title("one thing failed"),
        by_title("other thing failed"),
        by_title("third thing failed"),
    );

    // Resolve one: answers the updated issue; it leaves the default list.
    let (status, body) = send_json(
        &server,
        "PUT",
        &format!("/api/0/issues/{a}/"),
        json!({"status": "resolved"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "resolved");
    assert_eq!(ids(&get_ok(&server, LIST)).len(), 2);
    assert_eq!(
        ids(&get_ok(&server, &format!("{LIST}?query=is:resolved"))),
        [a.to_string()]
    );

    // Assign and unassign.
    let (_, body) = send_json(
        &server,
        "PUT",
        &format!("/api/0/issues/{b}/"),
        json!({"assignedTo": "jane@example.com"}),
    );
    assert_eq!(body["assignedTo"]["email"], "jane@example.com");
    assert_eq!(
        ids(&get_ok(&server, &format!("{LIST}?query=is:assigned"))),
        [b.to_string()]
    );
    assert_eq!(
        ids(&get_ok(
            &server,
            &format!("{LIST}?query=assigned:jane@example.com")
        )),
        [b.to_string()]
    );
    let (_, body) = send_json(
        &server,
        "PUT",
        &format!("/api/0/issues/{b}/"),
        json!({"assignedTo": null}),
    );
    assert!(body["assignedTo"].is_null());

    // Resolved in a release and in the next release.
    let (_, body) = send_json(
        &server,
        "PUT",
        &format!("/api/0/issues/{b}/"),
        json!({"status": "resolved", "statusDetails": {"inRelease": "app@1.0.0"}}),
    );
    assert_eq!(body["statusDetails"], json!({"inRelease": "app@1.0.0"}));
    let (_, body) = send_json(
        &server,
        "PUT",
        &format!("/api/0/issues/{c}/"),
        json!({"status": "resolvedInNextRelease"}),
    );
    assert_eq!(body["status"], "resolved");
    assert_eq!(body["statusDetails"]["inNextRelease"], true);
    // An event of the current release does not reopen it; a newer one does.
    event(
        &server,
        message("third thing failed", "error", "prod", "app@1.0.0"),
    );
    server.wait_for_events(4, Duration::from_secs(5));
    let c_now = get_ok(&server, &format!("/api/0/issues/{c}/"));
    assert_eq!(c_now["status"], "resolved");
    event(
        &server,
        message("third thing failed", "error", "prod", "app@1.1.0"),
    );
    server.wait_for_events(5, Duration::from_secs(5));
    let c_now = get_ok(&server, &format!("/api/0/issues/{c}/"));
    assert_eq!(c_now["status"], "unresolved");
    assert_eq!(c_now["substatus"], "regressed");
    assert!(c_now["activity"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x["type"] == "regression")));
    // The regression ended "in the next release": resolving it in a named
    // release later does not bring the old flag back.
    server
        .write(receiver::store::WriteOp::SetIssueStatus {
            issue_id: c,
            status: receiver::store::IssueStatus::ResolvedInRelease,
            release: Some("app@2.0.0".to_owned()),
        })
        .expect("resolve in a release");
    let c_now = get_ok(&server, &format!("/api/0/issues/{c}/"));
    assert_eq!(c_now["statusDetails"], json!({"inRelease": "app@2.0.0"}));
    server
        .write(receiver::store::WriteOp::SetIssueStatus {
            issue_id: c,
            status: receiver::store::IssueStatus::Unresolved,
            release: None,
        })
        .expect("reopen");

    // Bulk: ignore two by id; the change is echoed.
    let (status, body) = send_json(
        &server,
        "PUT",
        &format!("{LIST}?id={a}&id={b}"),
        json!({"status": "ignored"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ignored");
    for id in [a, b] {
        assert_eq!(
            get_ok(&server, &format!("/api/0/issues/{id}/"))["status"],
            "ignored"
        );
    }
    // Bulk by filter (all ignored → unresolved), then nothing matches: 204.
    let (status, _) = send_json(
        &server,
        "PUT",
        &format!("{LIST}?query=is:ignored"),
        json!({"status": "unresolved"}),
    );
    assert_eq!(status, 200);
    assert_eq!(ids(&get_ok(&server, LIST)).len(), 3);
    let (status, _) = send_json(
        &server,
        "PUT",
        &format!("{LIST}?query=is:ignored"),
        json!({"status": "unresolved"}),
    );
    assert_eq!(status, 204);

    // Bad bodies and unknown ids.
    for body in [
        json!({"status": "closed"}),
        json!({"status": 5}),
        json!({"statusDetails": {"inRelease": "x"}}),
        // A release the project does not have (as Sentry: a typo must not
        // resolve the issue in a release that never comes).
        json!({"status": "resolved", "statusDetails": {"inRelease": "app@7.7.7"}}),
        json!({"assignedTo": {"a": 1}}),
        json!([1, 2]),
    ] {
        let (status, r) = send_json(&server, "PUT", &format!("/api/0/issues/{a}/"), body.clone());
        assert_eq!(status, 400, "{body}: {r}");
    }
    let (status, _) = send_json(
        &server,
        "PUT",
        "/api/0/issues/9999/",
        json!({"status": "resolved"}),
    );
    assert_eq!(status, 404);
}

#[test]
fn resolving_in_next_release_needs_a_release() {
    let server = TestServer::start();
    event(&server, json!({"message": "no release here"}));
    server.wait_for_events(1, Duration::from_secs(5));
    let id = server.issues()[0].id;
    let (status, body) = send_json(
        &server,
        "PUT",
        &format!("/api/0/issues/{id}/"),
        json!({"status": "resolvedInNextRelease"}),
    );
    assert_eq!(status, 400);
    assert!(body["detail"]
        .as_str()
        .is_some_and(|d| d.contains("Next Release")));
}

#[test]
fn delete_single_and_bulk() {
    let server = TestServer::start();
    event(&server, message("first doomed", "error", "prod", "a@1"));
    event(&server, message("second doomed", "error", "prod", "a@1"));
    event(&server, message("third kept", "error", "prod", "a@1"));
    server.wait_for_events(3, Duration::from_secs(5));
    let id_of = |t: &str| {
        server
            .issues()
            .iter()
            .find(|i| i.title == t)
            .map(|i| i.id)
            .expect("issue")
    };
    let (first, second) = (id_of("first doomed"), id_of("second doomed"));
    let r = server
        .api_request("DELETE", &format!("/api/0/issues/{first}/"), None)
        .expect("delete");
    assert_eq!(r.status, 202);
    assert_eq!(get(&server, &format!("/api/0/issues/{first}/")).0, 404);
    // An empty id (a script joining an empty selection) is refused, not
    // read as "every unresolved issue".
    let r = server
        .api_request("DELETE", &format!("{LIST}?id="), None)
        .expect("empty bulk delete");
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(server.issues().len(), 2);
    let r = server
        .api_request("DELETE", &format!("{LIST}?id={second}"), None)
        .expect("bulk delete");
    assert_eq!(r.status, 204);
    assert_eq!(server.issues().len(), 1);
    assert_eq!(server.events().len(), 1, "their events are gone too");
    let r = server
        .api_request("DELETE", "/api/0/issues/424242/", None)
        .expect("missing");
    assert_eq!(r.status, 404);
    // A new event with a deleted fingerprint opens a new issue.
    event(&server, message("first doomed", "error", "prod", "a@1"));
    let issues = server.wait_for_issues(2, Duration::from_secs(5));
    assert_eq!(issues.len(), 2);
}

#[test]
fn a_search_with_too_many_terms_is_a_400() {
    let server = seeded();
    let words = vec!["word"; 1000].join("%20");
    let (status, body) = get(&server, &format!("{LIST}?query={words}"));
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("at most 100"), "{body}");
    let words = vec!["word"; 100].join("%20");
    assert_eq!(get(&server, &format!("{LIST}?query={words}")).0, 200);
}

#[test]
fn ids_of_a_deleted_newest_issue_and_its_events_are_not_handed_out_again() {
    let server = TestServer::start();
    event(&server, message("kept", "error", "prod", "a@1"));
    event(&server, message("newest, deleted", "error", "prod", "a@1"));
    server.wait_for_events(2, Duration::from_secs(5));
    let issue_of = |t: &str| server.issues().into_iter().find(|i| i.title == t);
    let deleted = issue_of("newest, deleted").expect("issue");
    let deleted_event = server.events().iter().map(|e| e.id).max().expect("events");
    // A client following the stream has seen everything so far.
    let cursor = get_ok(&server, "/api/0/local/stream/?tail=5")["cursor"]
        .as_i64()
        .expect("cursor");
    let r = server
        .api_request("DELETE", &format!("/api/0/issues/{}/", deleted.id), None)
        .expect("delete");
    assert_eq!(r.status, 202);

    event(&server, message("after the delete", "error", "prod", "a@1"));
    server.wait_for_events(2, Duration::from_secs(5));
    let later = issue_of("after the delete").expect("new issue");
    assert!(later.id > deleted.id, "{} reused {}", later.id, deleted.id);
    let newest_event = server.events().iter().map(|e| e.id).max().expect("events");
    assert!(
        newest_event > deleted_event,
        "event id {newest_event} reused"
    );
    // The stream delivers it after the old cursor.
    let page = get_ok(&server, &format!("/api/0/local/stream/?after={cursor}"));
    let titles: Vec<&str> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["title"].as_str())
        .collect();
    assert_eq!(titles, ["after the delete"]);
}

#[test]
fn an_environment_or_release_with_a_comma_is_one_filter_value() {
    let server = TestServer::start();
    event(&server, message("first", "error", "eu,west", "app@1,2"));
    event(&server, message("second", "error", "eu", "app@1"));
    server.wait_for_events(2, Duration::from_secs(5));
    let list = |q: &str| titles(&get_ok(&server, &format!("{LIST}?{q}")));
    assert_eq!(list("environment=eu%2Cwest"), ["first"]);
    assert_eq!(list("release=app%401%2C2"), ["first"]);
    // Several values: the parameter repeated.
    let mut both = list("environment=eu%2Cwest&environment=eu");
    both.sort();
    assert_eq!(both, ["first", "second"]);
}

/// The tag breakdown of an issue (detail, `tags/`, `tags/{key}/`) equals
/// the one aggregated here from the per-event tags the events list shows
/// (which decode whole events): same keys, totals, unique counts, top ten
/// values with their counts, first and last seen, ties broken by value.
/// The events clash on purpose: their own `level`, `environment`,
/// `release` and `user` tags win over the columns, keys are cleaned and
/// long values cut by normalisation, the user's `{{auto}}` address is the
/// client's.
#[test]
fn tag_breakdown_matches_the_events_tags() {
    use receiver::api::types::{TagSummary, TagValue};
    use std::collections::{BTreeMap, HashMap};

    let server = TestServer::start();
    let base = api_support::now() - 10_000.0;
    let n = 160;
    for i in 0..n {
        let mut tags = serde_json::Map::new();
        tags.insert("region".into(), json!(["eu", "us", "ap"][i % 3]));
        tags.insert("shard".into(), json!(format!("s{}", i % 13)));
        if i % 17 == 0 {
            tags.insert("level".into(), json!("custom"));
        }
        if i % 19 == 0 {
            tags.insert("environment".into(), json!("tagged-env"));
            tags.insert("release".into(), json!("tagged@1"));
        }
        if i % 23 == 0 {
            tags.insert("user".into(), json!("tagged-user"));
        }
        if i % 7 == 0 {
            tags.insert(" my tag ".into(), json!("spaced"));
            tags.insert("long".into(), json!("v".repeat(300)));
        }
        let mut e = json!({
            "fingerprint": ["tag-breakdown"],
            "message": "tag breakdown",
            // Pairs of equal timestamps: first/last seen ties.
            "timestamp": base + (i / 2) as f64,
            "level": (["error", "warning", "info", "fatal", "debug"][i % 5]),
            "release": format!("app@1.{}.0", i % 12),
            "tags": tags,
        });
        if i % 4 != 3 {
            e["environment"] = json!(["production", "staging", "dev"][i % 3]);
        }
        e["user"] = match i % 5 {
            0 => json!({"id": format!("u{}", i % 9)}),
            1 => json!({"id": i % 4}),
            2 => json!({"email": "a@example.com"}),
            3 => json!({"ip_address": "{{auto}}"}),
            _ => json!(null),
        };
        if i % 3 == 0 {
            e["contexts"] = json!({
                "os": {"name": "Linux", "version": "6.1"},
                "browser": {"name": "Firefox", "version": format!("{}", 120 + i % 3)},
                "runtime": {"name": "CPython"},
            });
            e["request"] = json!({"url": format!("https://x.example/p{}", i % 4)});
            e["server_name"] = json!("web-1");
            e["dist"] = json!("d1");
            e["transaction"] = json!("/checkout");
        }
        if i % 2 == 0 {
            e["exception"] = json!({"values": [
                {"type": "Root", "value": "r", "mechanism": {"type": "chained", "handled": true}},
                {"type": "KeyError", "value": "k",
                 "mechanism": {"type": (["generic", "excepthook"][i % 4 / 2]),
                               "handled": i % 3 != 0}},
            ]});
        }
        if i % 6 == 1 {
            // Pairs, with a number value.
            e["tags"] = json!([["region", "eu"], ["pair", 5]]);
        }
        event(&server, e);
    }
    server.wait_for_events(n, Duration::from_secs(30));
    let issues = server.issues();
    assert_eq!(issues.len(), 1);
    let id = issues[0].id;

    // Every event's tags, as the events list shows them.
    let mut seen: Vec<EventSummary> = Vec::new();
    let mut path = format!("/api/0/issues/{id}/events/?limit=100");
    loop {
        let r = server.api_get(&path).expect("events");
        assert_eq!(r.status, 200);
        let page: Vec<EventSummary> = serde_json::from_value(r.json()).expect("page");
        seen.extend(page);
        match link_cursor(&r, "next") {
            Some(c) => path = format!("/api/0/issues/{id}/events/?limit=100&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), n);
    /// Per value: count, first and last seen.
    type Values = HashMap<String, (i64, String, String)>;
    let mut keys: BTreeMap<String, (i64, Values)> = BTreeMap::new();
    for e in &seen {
        for t in &e.tags {
            let (total, values) = keys.entry(t.key.clone()).or_default();
            *total += 1;
            let at = &e.date_created;
            let v = values
                .entry(t.value.clone())
                .or_insert((0, at.clone(), at.clone()));
            v.0 += 1;
            v.1 = v.1.clone().min(at.clone());
            v.2 = v.2.clone().max(at.clone());
        }
    }
    let expected: Vec<TagSummary> = keys
        .into_iter()
        .map(|(key, (total, values))| {
            let unique = values.len() as i64;
            let mut top: Vec<_> = values.into_iter().collect();
            top.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
            top.truncate(10);
            TagSummary {
                key: key.clone(),
                name: key.clone(),
                total_values: total,
                unique_values: unique,
                top_values: top
                    .into_iter()
                    .map(|(value, (count, first, last))| TagValue {
                        key: key.clone(),
                        name: value.clone(),
                        value,
                        count,
                        first_seen: first,
                        last_seen: last,
                    })
                    .collect(),
                sampled: false,
            }
        })
        .collect();

    // What the events should have produced, pinned independently.
    let find = |k: &str| expected.iter().find(|t| t.key == k).expect(k);
    let count_of = |k: &str, v: &str| {
        find(k)
            .top_values
            .iter()
            .find(|t| t.value == v)
            .map_or(0, |t| t.count)
    };
    assert_eq!(count_of("level", "custom"), 9);
    assert_eq!(count_of("environment", "tagged-env"), 7);
    assert_eq!(count_of("user", "tagged-user"), 6);
    assert_eq!(count_of("user", "ip:127.0.0.1"), 30);
    assert_eq!(find("shard").unique_values, 13);
    assert_eq!(find("shard").top_values.len(), 10);
    assert_eq!(find("release").unique_values, 13);
    assert_eq!(find("my-tag").total_values, 19);
    assert_eq!(find("long").top_values[0].value.chars().count(), 200);
    assert_eq!(count_of("pair", "5"), 27);
    for k in [
        "handled",
        "mechanism",
        "os.name",
        "browser",
        "runtime",
        "url",
    ] {
        assert!(expected.iter().any(|t| t.key == k), "{k}");
    }

    let detail: IssueDetail = server
        .api_json(&format!("/api/0/issues/{id}/"))
        .expect("detail");
    assert_eq!(detail.tags, expected);
    let short: IssueDetail = server
        .api_json(&format!("/api/0/issues/{}/", detail.issue.short_id))
        .expect("by short id");
    assert_eq!(short.tags, expected);
    let tags: Vec<TagSummary> = server
        .api_json(&format!("/api/0/issues/{id}/tags/"))
        .expect("tags");
    assert_eq!(tags, expected);
    for t in &expected {
        let one: TagSummary = server
            .api_json(&format!("/api/0/issues/{id}/tags/{}/", t.key))
            .expect("tag");
        assert_eq!(&one, t);
    }
}

/// The breakdown is kept between views of an issue (the web page asks
/// again for every event it shows), and a new event of the issue shows in
/// the next one, in the detail and in `tags/{key}/` alike.
#[test]
fn a_new_event_shows_in_the_next_tag_breakdown() {
    let server = TestServer::start();
    let tagged = |region: &str| {
        json!({
            "fingerprint": ["kept-breakdown"],
            "message": "kept breakdown",
            "tags": {"region": region},
        })
    };
    event(&server, tagged("eu"));
    server.wait_for_events(1, Duration::from_secs(5));
    let id = server.issues()[0].id;
    let regions = || {
        let detail: IssueDetail =
            serde_json::from_value(get_ok(&server, &format!("/api/0/issues/{id}/")))
                .expect("detail");
        let tag = detail
            .tags
            .iter()
            .find(|t| t.key == "region")
            .expect("region");
        let mut values: Vec<(String, i64)> = tag
            .top_values
            .iter()
            .map(|v| (v.value.clone(), v.count))
            .collect();
        values.sort();
        let key = get_ok(&server, &format!("/api/0/issues/{id}/tags/region/"));
        (values, key["totalValues"].as_i64())
    };
    let one = (vec![("eu".to_owned(), 1)], Some(1));
    assert_eq!(regions(), one);
    assert_eq!(regions(), one, "viewed again");
    event(&server, tagged("us"));
    server.wait_for_events(2, Duration::from_secs(5));
    assert_eq!(
        regions(),
        (vec![("eu".to_owned(), 1), ("us".to_owned(), 1)], Some(2))
    );
}

/// As in Sentry, short ids count each project's issues: the first issue of
/// a second project is `…-1`, whatever the issues of others, and a deleted
/// issue's short id is not given to the next one.
#[test]
fn short_ids_count_each_projects_issues() {
    let server = TestServer::start();
    let key2 = "22222222222222222222222222222222";
    // Named as the default project is: its slug must still be its own,
    // or two projects' short ids would read the same.
    server
        .write(receiver::store::WriteOp::CreateProject {
            id: Some(2),
            name: "Default".to_owned(),
        })
        .expect("project 2");
    server.add_project(2, key2).expect("project 2's key");
    for text in ["first thing", "second thing", "third thing"] {
        event(&server, message(text, "error", "prod", "app@1"));
    }
    api_support::event_to(
        &server,
        2,
        key2,
        json!({"message": "other project", "level": "error"}),
    );
    server.wait_for_issues(4, Duration::from_secs(5));

    let project2: Vec<Issue> = server
        .api_json("/api/0/projects/local/2/issues/?query=")
        .expect("project 2 issues");
    assert_eq!(project2.len(), 1);
    let slug = project2[0].project.slug.to_ascii_uppercase();
    assert_eq!(slug, "DEFAULT-2");
    assert_eq!(project2[0].short_id, format!("{slug}-1"));
    let found = get_ok(&server, &format!("/api/0/issues/{slug}-1/"));
    assert_eq!(found["id"], json!(project2[0].id));
    // The default project's own `-1` is another issue.
    let default1 = get_ok(&server, "/api/0/issues/DEFAULT-1/");
    assert_ne!(default1["id"], json!(project2[0].id));
    assert_eq!(default1["title"], "first thing");

    // Delete the newest issue of the default project: the next one does
    // not take its short id.
    let r = server
        .api_request("DELETE", "/api/0/issues/DEFAULT-3/", None)
        .expect("delete");
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    event(&server, message("fourth thing", "error", "prod", "app@1"));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, v) = get(&server, "/api/0/issues/DEFAULT-4/");
        if status == 200 {
            assert_eq!(v["title"], "fourth thing");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no DEFAULT-4");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(get(&server, "/api/0/issues/DEFAULT-3/").0, 404);
}
