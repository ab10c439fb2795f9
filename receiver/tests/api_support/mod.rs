//! Helpers shared by the `api_*` and `cli_*` tests: sending envelopes to a
//! [`TestServer`] and calling its JSON API.

#![allow(dead_code)]

use receiver::testing::{post, request, TestResponse, TestServer};
use serde_json::{json, Value};

/// `X-Sentry-Auth` for the default key.
pub fn auth(server: &TestServer) -> String {
    format!(
        "Sentry sentry_key={}, sentry_version=7",
        server.public_key()
    )
}

/// Posts an envelope to the default project; asserts 200.
pub fn send(server: &TestServer, body: &[u8]) {
    let r = post(
        &server.envelope_url(),
        &[("X-Sentry-Auth", auth(server).as_str())],
        body,
    )
    .expect("post envelope");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// Sends one event (a JSON object) to project `project` with its key
/// `key`; asserts 200.
pub fn event_to(server: &TestServer, project: i64, key: &str, payload: Value) {
    let body = format!("{{}}\n{{\"type\":\"event\"}}\n{payload}\n");
    let r = post(
        &format!("{}/api/{project}/envelope/", server.url()),
        &[(
            "X-Sentry-Auth",
            format!("Sentry sentry_key={key}, sentry_version=7").as_str(),
        )],
        body.as_bytes(),
    )
    .expect("post envelope");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// A fresh event id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Sends one event (a JSON object) and returns its id.
pub fn event(server: &TestServer, payload: Value) -> String {
    let id = new_id();
    let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{payload}\n");
    send(server, body.as_bytes());
    id
}

/// Sends an item of `item_type` with a JSON payload.
pub fn item(server: &TestServer, item_type: &str, payload: Value) {
    let body = format!("{{}}\n{{\"type\":\"{item_type}\"}}\n{payload}\n");
    send(server, body.as_bytes());
}

/// Now as RFC 3339, shifted by `secs`.
pub fn now_iso(secs: f64) -> String {
    sentry_core::protocol::Timestamp::now()
        .shifted(secs)
        .to_rfc3339()
}

/// Now in Unix seconds.
pub fn now() -> f64 {
    sentry_core::protocol::Timestamp::now().as_secs_f64()
}

/// A request with a given token (or none).
pub fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> TestResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    request(method, &server.api_url(path), &headers, body.as_bytes()).expect("api request")
}

/// GET with the admin token: `(status, json)`.
pub fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let r = server.api_get(path).expect("get");
    (r.status, r.json())
}

/// GET that must answer 200; the JSON body.
pub fn get_ok(server: &TestServer, path: &str) -> Value {
    let (status, body) = get(server, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// A method with a JSON body and the admin token: `(status, json)`.
pub fn send_json(server: &TestServer, method: &str, path: &str, body: Value) -> (u16, Value) {
    let r = server
        .api_request(method, path, Some(&body))
        .expect("request");
    (r.status, r.json())
}

/// The `cursor` of a `Link` header relation, if it has results.
pub fn link_cursor(r: &TestResponse, rel: &str) -> Option<String> {
    let link = r.header("link")?;
    link.split(", <").find_map(|part| {
        if part.contains(&format!("rel=\"{rel}\"")) && part.contains("results=\"true\"") {
            let start = part.find("cursor=\"")? + 8;
            let end = part[start..].find('"')? + start;
            Some(part[start..end].to_owned())
        } else {
            None
        }
    })
}

/// The ids of a JSON array of objects.
pub fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A message event with level, environment and release.
pub fn message(text: &str, level: &str, env: &str, release: &str) -> Value {
    json!({"message": text, "level": level, "environment": env, "release": release})
}

/// The sorted titles of an issue list.
pub fn titles(v: &Value) -> Vec<String> {
    let mut t: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["title"].as_str().map(str::to_owned))
        .collect();
    t.sort();
    t
}

/// The `receiver` binary set up to talk to `server` (its URL and admin
/// token; no database or address from the environment).
pub fn receiver_command(server: &TestServer) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_receiver"));
    c.env_remove("RECEIVER_DB")
        .env_remove("RECEIVER_ADDR")
        .env("RECEIVER_URL", server.url())
        .env("RECEIVER_TOKEN", server.token());
    c
}

/// A receiver on the database at `path` whose clock says `t`.
pub fn server_at(path: &std::path::Path, t: f64) -> TestServer {
    TestServer::builder()
        .db_path(path)
        .clock(receiver::config::Clock::Fixed(
            sentry_core::protocol::Timestamp::from_secs_f64(t),
        ))
        .start()
}
