//! User feedback in Sentry's shapes: a project's
//! (`/api/0/projects/{org}/{project}/user-feedback/`) and an issue's
//! (`/api/0/issues/{id}/user-reports/`), newest first, in cursor pages.

mod api_support;

use std::time::Duration;

use api_support::{event, get, link_cursor, message, new_id, send};
use receiver::api::types::UserFeedback;
use receiver::TestServer;
use serde_json::json;

/// A legacy `user_report` about `event_id`.
fn user_report(server: &TestServer, event_id: &str, comments: &str) {
    let payload = json!({"event_id": event_id, "name": "Ann", "email": "ann@example.com",
                         "comments": comments});
    let body = format!("{{}}\n{{\"type\":\"user_report\"}}\n{payload}\n");
    send(server, body.as_bytes());
}

/// A `feedback` item, about `associated` when given; returns its own id.
fn feedback(server: &TestServer, associated: Option<&str>, message: &str) -> String {
    let id = new_id();
    let mut fb = json!({"message": message, "name": "Bob", "contact_email": "bob@example.com"});
    if let Some(a) = associated {
        fb["associated_event_id"] = json!(a);
    }
    let payload = json!({"event_id": id, "type": "feedback", "level": "info",
                         "timestamp": api_support::now(), "contexts": {"feedback": fb}});
    let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"feedback\"}}\n{payload}\n");
    send(server, body.as_bytes());
    id
}

#[test]
fn feedback_is_listed_per_project_and_per_issue() {
    let server = TestServer::start();
    let crashed = event(
        &server,
        message("checkout crashed", "error", "prod", "app@1"),
    );
    let other = event(&server, message("unrelated", "warning", "prod", "app@1"));
    server.wait_for_events(2, Duration::from_secs(5));
    let issue = server
        .events()
        .into_iter()
        .find(|e| e.event_id == crashed)
        .and_then(|e| e.issue_id)
        .expect("the crash's issue");

    user_report(&server, &crashed, "it broke when I paid");
    std::thread::sleep(Duration::from_millis(20));
    let fb_crash = feedback(&server, Some(&crashed), "the pay button spins");
    std::thread::sleep(Duration::from_millis(20));
    feedback(&server, None, "love the new look");
    std::thread::sleep(Duration::from_millis(20));
    feedback(&server, Some(&other), "this warning confuses me");
    std::thread::sleep(Duration::from_millis(20));
    feedback(&server, Some(&new_id()), "about an event never stored");

    let all: Vec<UserFeedback> = server
        .api_json("/api/0/projects/local/1/user-feedback/")
        .expect("project feedback");
    let comments: Vec<&str> = all.iter().map(|f| f.comments.as_str()).collect();
    assert_eq!(
        comments,
        [
            "about an event never stored",
            "this warning confuses me",
            "love the new look",
            "the pay button spins",
            "it broke when I paid"
        ],
        "newest first"
    );
    let pay = &all[3];
    assert_eq!(pay.kind, "feedback");
    assert_eq!(pay.feedback_id, fb_crash);
    assert_eq!(pay.event_id.as_deref(), Some(crashed.as_str()));
    assert_eq!(
        (pay.name.as_deref(), pay.email.as_deref()),
        (Some("Bob"), Some("bob@example.com"))
    );
    let pay_issue = pay.issue.as_ref().expect("the crash's issue");
    assert_eq!(pay_issue.id, issue.to_string());
    assert_eq!(pay_issue.title, "checkout crashed");
    let issue_json = api_support::get_ok(&server, &format!("/api/0/issues/{issue}/"));
    assert_eq!(issue_json["shortId"], pay_issue.short_id.as_str());
    let report = &all[4];
    assert_eq!(report.kind, "user_report");
    assert_eq!(report.event_id.as_deref(), Some(crashed.as_str()));
    assert_eq!(report.name.as_deref(), Some("Ann"));
    assert!(all[2].event_id.is_none() && all[2].issue.is_none());
    assert!(all[0].issue.is_none(), "its event is not stored");

    let about_issue: Vec<UserFeedback> = server
        .api_json(&format!("/api/0/issues/{issue}/user-reports/"))
        .expect("issue feedback");
    let comments: Vec<&str> = about_issue.iter().map(|f| f.comments.as_str()).collect();
    assert_eq!(comments, ["the pay button spins", "it broke when I paid"]);
    let via_org: Vec<UserFeedback> = server
        .api_json(&format!(
            "/api/0/organizations/local/issues/{issue}/user-reports/"
        ))
        .expect("issue feedback");
    assert_eq!(via_org, about_issue);

    // Pages of one follow the `Link` cursors through every item once.
    let mut seen = Vec::new();
    let mut path = "/api/0/projects/local/1/user-feedback/?limit=1".to_owned();
    for _ in 0..10 {
        let r = server.api_get(&path).expect("page");
        assert_eq!(r.status, 200);
        let page: Vec<UserFeedback> = serde_json::from_value(r.json()).expect("json");
        seen.extend(page.into_iter().map(|f| f.comments));
        match link_cursor(&r, "next") {
            Some(c) => path = format!("/api/0/projects/local/1/user-feedback/?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen[0], "about an event never stored");
    assert_eq!(seen[4], "it broke when I paid");
}

/// The web page's list: every project's feedback, newest first, each with
/// its project and the page the widget was on; `project` filters.
#[test]
fn every_projects_feedback_is_listed_with_its_project_and_page() {
    let server = TestServer::start();
    let other_key = "0123456789abcdef0123456789abcdef";
    server.add_project(2, other_key).expect("project 2");
    feedback(&server, None, "first, in project 1");
    std::thread::sleep(Duration::from_millis(20));
    let id = new_id();
    let payload = json!({"event_id": id, "type": "feedback", "timestamp": api_support::now(),
        "contexts": {"feedback": {"message": "second, in project 2",
                                  "url": "https://shop.example/checkout"}}});
    let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"feedback\"}}\n{payload}\n");
    let auth = format!("Sentry sentry_key={other_key}, sentry_version=7");
    let r = receiver::testing::post(
        &format!("{}/api/2/envelope/", server.url()),
        &[("X-Sentry-Auth", auth.as_str())],
        body.as_bytes(),
    )
    .expect("post");
    assert_eq!(r.status, 200);

    let all: Vec<UserFeedback> = server
        .api_json("/api/0/local/feedback/")
        .expect("every project's feedback");
    let shown: Vec<(&str, Option<&str>, Option<&str>)> = all
        .iter()
        .map(|f| {
            (
                f.comments.as_str(),
                f.project_id.as_deref(),
                f.url.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (
                "second, in project 2",
                Some("2"),
                Some("https://shop.example/checkout")
            ),
            ("first, in project 1", Some("1"), None),
        ]
    );
    let one: Vec<UserFeedback> = server
        .api_json("/api/0/local/feedback/?project=1")
        .expect("project 1's");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].comments, "first, in project 1");
    // Sentry's own shape stays as it was.
    let project = get(&server, "/api/0/projects/local/2/user-feedback/").1;
    assert!(project[0].get("projectID").is_none(), "{project}");
}

#[test]
fn unknown_projects_and_issues_are_404_and_other_methods_405() {
    let server = TestServer::start();
    assert_eq!(
        get(&server, "/api/0/projects/local/nope/user-feedback/").0,
        404
    );
    assert_eq!(get(&server, "/api/0/issues/999/user-reports/").0, 404);
    let r = receiver::testing::request(
        "POST",
        &server.api_url("/api/0/projects/local/1/user-feedback/"),
        &[("Authorization", &format!("Bearer {}", server.token()))],
        b"{}",
    )
    .expect("post");
    assert_eq!(r.status, 405);
}

/// Feedback names its event in any UUID form (Relay reads it as an event
/// id): hyphenated or upper case, it still joins its event and issue.
#[test]
fn feedback_finds_its_event_whatever_the_uuid_form() {
    let server = TestServer::start();
    let crashed = event(
        &server,
        message("checkout crashed", "error", "prod", "app@1"),
    );
    server.wait_for_events(1, Duration::from_secs(5));
    let issue = server.events()[0].issue_id.expect("issue");
    let hyphenated = format!(
        "{}-{}-{}-{}-{}",
        &crashed[..8],
        &crashed[8..12],
        &crashed[12..16],
        &crashed[16..20],
        &crashed[20..]
    );
    feedback(&server, Some(&crashed.to_uppercase()), "upper");
    feedback(&server, Some(&hyphenated), "hyphenated");
    feedback(&server, Some("not-a-uuid"), "no event");
    let about_issue: Vec<UserFeedback> = server
        .api_json(&format!("/api/0/issues/{issue}/user-reports/"))
        .expect("issue feedback");
    let comments: Vec<&str> = about_issue.iter().map(|f| f.comments.as_str()).collect();
    assert_eq!(comments, ["hyphenated", "upper"]);
    assert!(about_issue
        .iter()
        .all(|f| f.event_id.as_deref() == Some(crashed.as_str())));
    let all: Vec<UserFeedback> = server
        .api_json("/api/0/projects/local/1/user-feedback/")
        .expect("project feedback");
    assert_eq!(all[0].comments, "no event");
    assert_eq!(all[0].event_id, None);
}

/// Sentry stores a `feedback` item as an event: it is found by its id like
/// one (so `receiver event ID` shows it), with its screenshot listed.
#[test]
fn a_feedback_is_found_by_its_id_as_an_event() {
    let server = TestServer::start();
    let id = new_id();
    let payload = json!({"event_id": id, "type": "feedback", "level": "info",
        "timestamp": api_support::now() - 5.0, "release": "app@2", "platform": "javascript",
        "contexts": {"feedback": {"message": "the button is grey", "name": "Bob"}}});
    let body = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"feedback\"}}\n{payload}\n\
         {{\"type\":\"attachment\",\"length\":3,\"filename\":\"screenshot.png\",\
         \"content_type\":\"image/png\"}}\nPNG\n"
    );
    send(&server, body.as_bytes());
    let path = format!("/api/0/projects/local/1/events/{id}/");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let e = loop {
        let (status, v) = get(&server, &path);
        if status == 200 {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "{status}: {v}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(e["type"], "feedback", "{e}");
    assert_eq!(e["title"], "User Feedback");
    assert_eq!(e["release"]["version"], "app@2");
    assert_eq!(e["contexts"]["feedback"]["message"], "the button is grey");
    let files = get(&server, &format!("{path}attachments/")).1;
    assert_eq!(files[0]["name"], "screenshot.png", "{files}");
}
