//! Issues: grouping into issues, de-duplication, distinct users and
//! regressions (PROTOCOL.md §10.6, §11).

use receiver::store::{IssueStatus, WriteOp};
use receiver::testing::{post, TestServer};

fn send_event(server: &TestServer, event_id: &str, release: Option<&str>, user: &str) -> u16 {
    let release = release.map_or(String::new(), |r| format!(",\"release\":\"{r}\""));
    let body = format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\"}}\n\
         {{\"exception\":{{\"values\":[{{\"type\":\"KeyError\",\"value\":\"user {user} missing\"}}]}},\
           \"user\":{{\"id\":\"{user}\"}}{release}}}\n"
    );
    let auth = server.sentry_auth();
    post(
        &server.envelope_url(),
        &[("X-Sentry-Auth", auth.as_str())],
        body.as_bytes(),
    )
    .expect("post")
    .status
}

/// Sets the status of `issue` as the API's PUT does.
fn set_status(server: &TestServer, issue: i64, status: IssueStatus, release: Option<&str>) {
    server
        .write(WriteOp::SetIssueStatus {
            issue_id: issue,
            status,
            release: release.map(str::to_owned),
        })
        .expect("set status");
}

fn id(n: u32) -> String {
    format!("{n:032x}")
}

#[test]
fn same_error_groups_counts_users_and_dedupes_event_ids() {
    let server = TestServer::start();
    assert_eq!(send_event(&server, &id(1), None, "1"), 200);
    assert_eq!(send_event(&server, &id(2), None, "2"), 200);
    assert_eq!(send_event(&server, &id(3), None, "2"), 200);
    // A retried envelope: answered 200, stored once.
    assert_eq!(send_event(&server, &id(3), None, "2"), 200);
    let issues = server.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].times_seen, 3);
    assert_eq!(issues[0].user_count, 2);
    // The title follows the latest event, as Sentry's does.
    assert_eq!(issues[0].title, "KeyError: user 2 missing");
    assert_eq!(issues[0].substatus.as_deref(), Some("ongoing"));
    assert_eq!(server.events().len(), 3);
}

#[test]
fn nil_event_ids_are_not_duplicates_of_each_other() {
    let server = TestServer::start();
    let nil = id(0);
    assert_eq!(send_event(&server, &nil, None, "1"), 200);
    assert_eq!(send_event(&server, &nil, None, "2"), 200);
    let events = server.events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e.event_id != nil), "{events:?}");
    assert_eq!(server.issues()[0].times_seen, 2);
}

#[test]
fn a_resolved_issue_regresses_on_a_new_event() {
    let server = TestServer::start();
    assert_eq!(send_event(&server, &id(1), None, "1"), 200);
    let issue = server.issues()[0].id;
    set_status(&server, issue, IssueStatus::Resolved, None);
    assert_eq!(server.issues()[0].status, "resolved");
    assert_eq!(send_event(&server, &id(2), None, "1"), 200);
    let after = &server.issues()[0];
    assert_eq!(after.status, "unresolved");
    assert_eq!(after.substatus.as_deref(), Some("regressed"));
}

#[test]
fn resolved_in_release_only_regresses_for_newer_releases() {
    let server = TestServer::start();
    assert_eq!(send_event(&server, &id(1), Some("app@1.0.0"), "1"), 200);
    let issue = server.issues()[0].id;
    set_status(
        &server,
        issue,
        IssueStatus::ResolvedInRelease,
        Some("app@1.2.0"),
    );
    // Older and release-less events don't reopen it.
    for (n, release) in [(2, Some("app@1.1.9")), (3, Some("app@1.1.10")), (4, None)] {
        assert_eq!(send_event(&server, &id(n), release, "1"), 200);
        assert_eq!(
            server.issues()[0].status,
            "resolved_in_release",
            "{release:?}"
        );
    }
    // One of the release itself does: the fix was to be in it (as in
    // Sentry's has_resolution).
    assert_eq!(send_event(&server, &id(5), Some("app@1.2.0"), "1"), 200);
    assert_eq!(server.issues()[0].status, "unresolved");
    assert_eq!(server.issues()[0].times_seen, 5);
    // And, resolved again, a newer one does.
    set_status(
        &server,
        issue,
        IssueStatus::ResolvedInRelease,
        Some("app@1.2.0"),
    );
    assert_eq!(send_event(&server, &id(6), Some("app@1.10.0"), "1"), 200);
    assert_eq!(server.issues()[0].status, "unresolved");
}

#[test]
fn resolved_in_next_release_covers_the_latest_release_itself() {
    let server = TestServer::start();
    assert_eq!(send_event(&server, &id(1), Some("app@1.0.0"), "1"), 200);
    let issue = server.issues()[0].id;
    let r = server
        .api_request(
            "PUT",
            &format!("/api/0/issues/{issue}/"),
            Some(&serde_json::json!({"status": "resolvedInNextRelease"})),
        )
        .expect("resolve");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(send_event(&server, &id(2), Some("app@1.0.0"), "1"), 200);
    assert_eq!(server.issues()[0].status, "resolved_in_release");
    assert_eq!(send_event(&server, &id(3), Some("app@1.0.1"), "1"), 200);
    assert_eq!(server.issues()[0].status, "unresolved");
}

#[test]
fn versions_without_a_package_are_ordered_by_when_they_were_seen() {
    // `git describe` versions: as semver pre-releases "10-g…" would sort
    // before "4-g…"; Sentry orders releases without `package@` by date.
    let server = TestServer::start();
    let (older, newer) = ("v1.2.3-4-gaaaaaaa", "v1.2.3-10-gbbbbbbb");
    assert_eq!(send_event(&server, &id(1), Some(older), "1"), 200);
    let issue = server.issues()[0].id;
    set_status(&server, issue, IssueStatus::ResolvedInRelease, Some(older));
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(send_event(&server, &id(2), Some(newer), "1"), 200);
    assert_eq!(
        server.issues()[0].status,
        "unresolved",
        "a build seen after the resolution's release regresses"
    );
}

#[test]
fn ignored_issues_stay_ignored() {
    let server = TestServer::start();
    assert_eq!(send_event(&server, &id(1), None, "1"), 200);
    let issue = server.issues()[0].id;
    set_status(&server, issue, IssueStatus::Ignored, None);
    assert_eq!(send_event(&server, &id(2), None, "1"), 200);
    assert_eq!(server.issues()[0].status, "ignored");
}

#[test]
fn grouping_hashes_and_explanation_are_stored() {
    let server = TestServer::start();
    assert_eq!(send_event(&server, &id(1), None, "1"), 200);
    let issue = server.issues()[0].clone();
    let hashes = server
        .read(move |c| receiver::store::queries::issue_hashes(c, issue.id))
        .expect("hashes");
    assert!(!hashes.is_empty());
    assert!(hashes.iter().all(|h| h.hash.len() == 32));
    assert!(
        hashes[0].inputs.iter().any(|i| i == "KeyError"),
        "{hashes:?}"
    );
    assert!(issue.explanation.is_some());
}

#[test]
fn java_style_message_objects_group_by_their_template() {
    // sentry-java's logging integrations send `message` as an object:
    // Relay reads it as `logentry`, so the template groups, not the text.
    let server = TestServer::start();
    let auth = server.sentry_auth();
    for (n, user) in [(1, "bob"), (2, "alice")] {
        let body = format!(
            "{{\"event_id\":\"{}\"}}\n{{\"type\":\"event\"}}\n\
             {{\"platform\":\"java\",\"message\":{{\"message\":\"User {{}} failed\",\
               \"formatted\":\"User {user} failed\",\"params\":[\"{user}\"]}}}}\n",
            id(n)
        );
        let r = post(
            &server.envelope_url(),
            &[("X-Sentry-Auth", auth.as_str())],
            body.as_bytes(),
        )
        .expect("post");
        assert_eq!(r.status, 200);
    }
    server.wait_for_events(2, std::time::Duration::from_secs(5));
    let issues = server.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].times_seen, 2);
    // The title is the formatted text, not the template.
    let title = &issues[0].title;
    assert!(
        title == "User bob failed" || title == "User alice failed",
        "{title}"
    );
}
