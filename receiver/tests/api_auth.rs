//! API contract: bearer tokens and scopes, status codes of unknown routes,
//! ids and methods, projects and keys.

mod api_support;

use api_support::{call, get_ok, message};
use receiver::api::tokens::Scope;
use receiver::api::types::{Project, ProjectKey};
use receiver::TestServer;
use serde_json::json;

#[test]
fn tokens_are_required_and_scoped() {
    let server = TestServer::start();
    let read = server.create_token(Scope::Read).expect("read token");

    // Missing, malformed and unknown tokens: 401 with a message.
    let r = call(&server, "GET", "/api/0/projects/", None, None);
    assert_eq!(r.status, 401);
    assert!(r.json()["detail"].as_str().is_some_and(|d| !d.is_empty()));
    let r = call(
        &server,
        "GET",
        "/api/0/projects/",
        Some("nope-nope-nope-nope"),
        None,
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["detail"], "Invalid token");
    let r = receiver::testing::request(
        "GET",
        &server.api_url("/api/0/projects/"),
        &[("Authorization", "Basic abc")],
        b"",
    )
    .expect("basic");
    assert_eq!(r.status, 401);

    // A read token reads but cannot write.
    let r = call(&server, "GET", "/api/0/projects/", Some(&read), None);
    assert_eq!(r.status, 200);
    let body = json!({"status": "resolved"});
    let r = call(&server, "PUT", "/api/0/issues/1/", Some(&read), Some(&body));
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    let r = call(
        &server,
        "POST",
        "/api/0/organizations/local/releases/",
        Some(&read),
        Some(&json!({"version": "a@1", "projects": ["default"]})),
    );
    assert_eq!(r.status, 403);

    // The root needs no token and reports the scope of one.
    let r = call(&server, "GET", "/api/0/", None, None);
    assert_eq!(r.status, 200);
    assert!(r.json()["auth"].is_null());
    let r = call(&server, "GET", "/api/0/", Some(&read), None);
    assert_eq!(r.json()["auth"]["scope"], "read");
    let r = call(&server, "GET", "/api/0/", Some(server.token()), None);
    assert!(r.json()["auth"]["scopes"]
        .as_array()
        .is_some_and(|s| s.contains(&json!("event:admin"))));

    // Token scheme "Token" works too (some scripts use it).
    let r = receiver::testing::request(
        "GET",
        &server.api_url("/api/0/projects/"),
        &[("Authorization", &format!("Token {read}"))],
        b"",
    )
    .expect("token scheme");
    assert_eq!(r.status, 200);
}

#[test]
fn unknown_routes_ids_and_methods() {
    let server = TestServer::start();
    let t = Some(server.token());
    let status = |method: &str, path: &str| call(&server, method, path, t, None).status;
    assert_eq!(status("GET", "/api/0/nothing/here/"), 404);
    assert_eq!(status("GET", "/api/0/issues/999/"), 404);
    assert_eq!(status("GET", "/api/0/issues/NOPE-1/"), 404);
    assert_eq!(status("GET", "/api/0/issues/999/events/"), 404);
    assert_eq!(status("GET", "/api/0/projects/local/nope/issues/"), 404);
    assert_eq!(
        status(
            "GET",
            "/api/0/projects/local/1/events/0123456789abcdef0123456789abcdef/"
        ),
        404
    );
    assert_eq!(
        status("GET", "/api/0/projects/local/1/events/not-an-id/"),
        400
    );
    assert_eq!(
        status("GET", "/api/0/organizations/local/releases/none@1/"),
        404
    );
    assert_eq!(
        status(
            "GET",
            "/api/0/local/traces/0123456789abcdef0123456789abcdef/"
        ),
        404
    );
    assert_eq!(status("GET", "/api/0/local/traces/xyz/"), 400);
    assert_eq!(status("POST", "/api/0/projects/"), 405);
    assert_eq!(status("POST", "/api/0/"), 405);
    assert_eq!(status("DELETE", "/api/0/"), 405);
    assert_eq!(status("PATCH", "/api/0/issues/1/"), 405);
    assert_eq!(status("GET", "/api/0/projects/local/1/quotas/1/"), 405);
    // HEAD is GET without the body.
    let head = call(&server, "HEAD", "/api/0/projects/", t, None);
    let get = call(&server, "GET", "/api/0/projects/", t, None);
    assert_eq!((head.status, get.status), (200, 200));
    assert_eq!(call(&server, "HEAD", "/api/0/", t, None).status, 200);
    assert!(head.body.is_empty(), "a HEAD answer has no body");
    assert!(!get.body.is_empty());
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );
    // The ingestion routes still work next to the API.
    let r = receiver::testing::post(&server.envelope_url(), &[], b"{}\n").expect("post");
    assert_eq!(r.status, 401, "no key on ingestion is still 401");

    // Bad JSON bodies are 400 with the parser's message.
    let r = receiver::testing::request(
        "PUT",
        &server.api_url("/api/0/issues/1/"),
        &[("Authorization", &format!("Bearer {}", server.token()))],
        b"{not json",
    )
    .expect("put");
    assert_eq!(r.status, 400);
    assert!(r.json()["detail"]
        .as_str()
        .is_some_and(|d| d.contains("JSON")));
}

#[test]
fn projects_and_keys_in_sentry_shapes() {
    let server = TestServer::builder()
        .project(7, "77777777777777777777777777777777")
        .start();
    let projects: Vec<Project> = server.api_json("/api/0/projects/").expect("projects");
    assert_eq!(projects.len(), 2);
    assert_eq!(projects[0].id, "1");
    assert_eq!(projects[0].slug, "default");
    assert_eq!(projects[1].slug, "project-7");
    // By slug or id, under any organisation slug.
    let by_slug = get_ok(&server, "/api/0/projects/acme/project-7/");
    let by_id = get_ok(&server, "/api/0/projects/local/7/");
    assert_eq!(by_slug, by_id);
    let keys: Vec<ProjectKey> = server
        .api_json("/api/0/projects/local/default/keys/")
        .expect("keys");
    assert_eq!(keys[0].dsn.public, server.dsn());
    assert!(keys[0].is_active);
    let orgs = get_ok(&server, "/api/0/organizations/");
    assert_eq!(orgs[0]["slug"], "local");

    // Issues of one project don't show in another's list.
    api_support::event(&server, message("only in default", "error", "prod", "a@1"));
    server.wait_for_events(1, std::time::Duration::from_secs(5));
    let other = get_ok(&server, "/api/0/projects/local/7/issues/");
    assert_eq!(other, json!([]));
    let all = get_ok(&server, "/api/0/organizations/local/issues/?project=-1");
    assert_eq!(all.as_array().map(Vec::len), Some(1));
    let seven = get_ok(&server, "/api/0/organizations/local/issues/?project=7");
    assert_eq!(seven, json!([]));
}
