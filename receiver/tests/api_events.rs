//! API contract: events by id (as stored and in Sentry's shape), the
//! project's event list, attachments.

mod api_support;

use std::time::Duration;

use api_support::{event, get, get_ok, ids, link_cursor, new_id, send};
use receiver::api::types::{Attachment, EventSummary};
use receiver::TestServer;
use serde_json::json;

#[test]
fn event_by_id_as_stored_and_in_sentry_shape() {
    let server = TestServer::start();
    let id = event(
        &server,
        json!({
            "exception": {"values": [{"type": "ValueError", "value": "bad input",
                "mechanism": {"type": "generic", "handled": true}}]},
            "breadcrumbs": {"values": [{"message": "clicked", "timestamp": api_support::now()}]},
            "request": {"url": "https://example.com/a", "method": "GET"},
            "tags": {"flavour": "vanilla"},
            "user": {"email": "u@example.com"},
            "release": "web@3.1.4", "environment": "prod", "platform": "python"
        }),
    );
    server.wait_for_events(1, Duration::from_secs(5));
    let e = get_ok(
        &server,
        &format!("/api/0/projects/local/default/events/{id}/"),
    );
    assert_eq!(e["eventID"], json!(id));
    assert_eq!(e["id"], json!(id));
    assert_eq!(e["title"], "ValueError: bad input");
    assert_eq!(e["type"], "error");
    assert_eq!(e["release"]["version"], "web@3.1.4");
    assert_eq!(e["platform"], "python");
    assert!(e["groupID"].is_string());
    let tags = e["tags"].as_array().expect("tags");
    for (k, v) in [
        ("flavour", "vanilla"),
        ("handled", "yes"),
        ("mechanism", "generic"),
        ("url", "https://example.com/a"),
        ("user", "email:u@example.com"),
        ("environment", "prod"),
    ] {
        assert!(
            tags.contains(&json!({"key": k, "value": v})),
            "{k}: {tags:?}"
        );
    }
    let kinds: Vec<&str> = e["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["type"].as_str())
        .collect();
    assert_eq!(kinds, ["exception", "breadcrumbs", "request"]);
    // Stored interfaces stay available as stored.
    assert_eq!(e["exception"]["values"][0]["type"], "ValueError");

    // Dashed and upper-case ids are accepted; ?raw=1 is the stored JSON.
    let dashed = format!(
        "{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    )
    .to_uppercase();
    let raw = get_ok(
        &server,
        &format!("/api/0/projects/local/1/events/{dashed}/?raw=1"),
    );
    assert_eq!(raw, server.event_json(&id).expect("stored"));
    assert!(raw.get("entries").is_none());
    // ?sent=1 is the item as the SDK sent it: no id, no receive time.
    let sent = get_ok(
        &server,
        &format!("/api/0/projects/local/1/events/{id}/?sent=1"),
    );
    assert_eq!(sent["release"], "web@3.1.4");
    assert_eq!(sent["tags"], json!({"flavour": "vanilla"}));
    assert!(raw.get("received").is_some());
    assert!(sent.get("received").is_none() && sent.get("event_id").is_none());

    // Another project does not see it.
    let other = TestServer::builder()
        .project(2, "22222222222222222222222222222222")
        .start();
    assert_eq!(
        get(&other, &format!("/api/0/projects/local/2/events/{id}/")).0,
        404
    );
}

#[test]
fn transactions_are_found_by_id_too() {
    let server = TestServer::start();
    let id = new_id();
    let now = api_support::now();
    let body = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"transaction\"}}\n{}\n",
        json!({"type": "transaction", "transaction": "GET /users", "start_timestamp": now - 1.0,
               "timestamp": now, "contexts": {"trace": {"trace_id": "1".repeat(32),
               "span_id": "2".repeat(16), "op": "http.server"}},
               "spans": [{"span_id": "3".repeat(16), "parent_span_id": "2".repeat(16),
                          "trace_id": "1".repeat(32), "op": "db", "start_timestamp": now - 0.5,
                          "timestamp": now - 0.2}]})
    );
    send(&server, body.as_bytes());
    let e = get_ok(&server, &format!("/api/0/projects/local/1/events/{id}/"));
    assert_eq!(e["type"], "transaction");
    assert_eq!(e["title"], "GET /users");
    assert!(e["groupID"].is_null());
    assert_eq!(e["entries"][0]["type"], "spans");
}

#[test]
fn project_events_list_is_paginated() {
    let server = TestServer::start();
    for word in ["north", "south", "east"] {
        event(
            &server,
            json!({"message": format!("{word} wind"), "level": "info"}),
        );
    }
    server.wait_for_events(3, Duration::from_secs(5));
    let all: Vec<EventSummary> = server
        .api_json("/api/0/projects/local/default/events/")
        .expect("events");
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].title, "east wind", "newest first");
    let r = server
        .api_get("/api/0/projects/local/default/events/?limit=2")
        .expect("page");
    let next = link_cursor(&r, "next").expect("next");
    let rest = get_ok(
        &server,
        &format!("/api/0/projects/local/default/events/?limit=2&cursor={next}"),
    );
    assert_eq!(ids(&rest), [all[2].id.clone()]);
    assert_eq!(
        get(&server, "/api/0/projects/local/default/events/?level=info")
            .1
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

#[test]
fn attachments_are_listed_and_downloadable() {
    let server = TestServer::start();
    let id = new_id();
    let mut body = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"with files\"}}\n\
         {{\"type\":\"attachment\",\"length\":5,\"filename\":\"log \\\"1\\\".txt\",\"content_type\":\"text/plain\"}}\n"
    )
    .into_bytes();
    body.extend_from_slice(b"hello\n");
    body.extend_from_slice(
        b"{\"type\":\"attachment\",\"length\":3,\"filename\":\"blob.bin\",\"attachment_type\":\"event.minidump\"}\n\x00\x01\x02\n",
    );
    send(&server, &body);
    let base = format!("/api/0/projects/local/default/events/{id}/attachments/");
    let list: Vec<Attachment> = server.api_json(&base).expect("attachments");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].name, "log \"1\".txt");
    assert_eq!(list[0].size, 5);
    assert_eq!(list[0].mimetype.as_deref(), Some("text/plain"));
    assert_eq!(list[1].kind, "event.minidump");
    assert_eq!(list[0].event_id.as_deref(), Some(id.as_str()));

    let meta = get_ok(&server, &format!("{base}{}/", list[0].id));
    assert_eq!(meta["name"], "log \"1\".txt");
    let file = server
        .api_get(&format!("{base}{}/?download=1", list[0].id))
        .expect("download");
    assert_eq!(file.status, 200);
    assert_eq!(file.body, b"hello");
    assert_eq!(file.header("content-type"), Some("text/plain"));
    assert_eq!(
        file.header("content-disposition"),
        Some("attachment; filename=\"log _1_.txt\"")
    );
    let bin = server
        .api_get(&format!("{base}{}/?download", list[1].id))
        .expect("download");
    assert_eq!(bin.body, [0, 1, 2]);
    assert_eq!(bin.header("content-type"), Some("application/octet-stream"));

    assert_eq!(get(&server, &format!("{base}99999/?download=1")).0, 404);
    assert_eq!(get(&server, &format!("{base}abc/")).0, 404);
    let missing = format!(
        "/api/0/projects/local/default/events/{}/attachments/",
        new_id()
    );
    assert_eq!(get(&server, &missing).0, 404);
}

#[test]
fn an_exception_group_event_with_a_lone_surrogate_where_ingestion_does_not_read() {
    // Grouping reads the SDK of an event with exception groups; a lone
    // surrogate (which no `Value` holds) in `extra`, which ingestion does
    // not read, made ingestion refuse the event (400) although the read
    // accepts it. Now it is stored and reads back without `extra`, in the
    // same issue as the same event without the surrogate.
    let server = TestServer::start();
    let payload = |extra: &str| {
        format!(
            r#"{{"exception":{{"values":[
                {{"type":"ExceptionGroup","value":"many","mechanism":{{"type":"chained",
                  "is_exception_group":true,"exception_id":0}}}},
                {{"type":"ValueError","value":"one","mechanism":{{"type":"chained",
                  "exception_id":1,"parent_id":0}}}}]}},
              "sdk":{{"name":"sentry.python","version":"3.0.0"}},
              "platform":"python","extra":{{"note":"{extra}"}}}}"#
        )
        .replace('\n', "")
    };
    let post_event = |payload: &str| {
        let id = new_id();
        let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{payload}\n");
        let r = receiver::testing::post(
            &server.envelope_url(),
            &[("X-Sentry-Auth", api_support::auth(&server).as_str())],
            body.as_bytes(),
        )
        .expect("post envelope");
        (id, r.status, String::from_utf8_lossy(&r.body).into_owned())
    };
    let (plain, status, body) = post_event(&payload("fine"));
    assert_eq!(status, 200, "{body}");
    let (odd, status, body) = post_event(&payload(r"\ud800"));
    assert_eq!(status, 200, "{body}");
    server.wait_for_events(2, Duration::from_secs(5));
    let read = |id: &str| get_ok(&server, &format!("/api/0/projects/local/1/events/{id}/"));
    let (plain, odd) = (read(&plain), read(&odd));
    assert_eq!(odd["sdk"]["name"], "sentry.python", "{odd}");
    assert_eq!(odd["sdk"]["version"], "3.0.0");
    assert!(odd["groupID"].is_string(), "{odd}");
    assert_eq!(odd["groupID"], plain["groupID"]);
    assert_eq!(odd["title"], plain["title"]);
    let raw = get_ok(
        &server,
        &format!(
            "/api/0/projects/local/1/events/{}/?raw=1",
            odd["id"].as_str().expect("id")
        ),
    );
    assert!(raw.get("extra").is_none(), "{raw}");
    let errors = raw["errors"].as_array().expect("errors");
    let names: Vec<&str> = errors.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(names, ["extra"]);

    // In the SDK itself, which grouping reads: the read refuses it, and so
    // does ingestion.
    let in_sdk =
        payload("fine").replace(r#""version":"3.0.0""#, r#""version":"3.0.0","x":"\ud800""#);
    let (_, status, body) = post_event(&in_sdk);
    assert_eq!(status, 400, "{body}");
}

/// SDKs no longer send a `culprit`; as Sentry's event manager, the event
/// shows the one its issue was given (here from the crash frame, with no
/// transaction to take it from), in the event and in the issue's list.
#[test]
fn an_event_shows_the_culprit_its_issue_has() {
    let server = TestServer::start();
    let id = event(
        &server,
        json!({"platform": "python", "exception": {"values": [{
            "type": "ArithmeticError", "value": "repro culprit",
            "stacktrace": {"frames": [
                {"module": "__main__", "function": "<module>", "in_app": true},
                {"module": "__main__", "function": "f", "in_app": true}]}}]}}),
    );
    server.wait_for_events(1, Duration::from_secs(5));
    let e = get_ok(&server, &format!("/api/0/projects/local/1/events/{id}/"));
    assert_eq!(e["culprit"], "__main__ in f", "{e}");
    let issue = get_ok(
        &server,
        &format!("/api/0/issues/{}/", e["groupID"].as_str().unwrap_or("")),
    );
    assert_eq!(issue["culprit"], e["culprit"]);
    let list = get_ok(
        &server,
        &format!(
            "/api/0/issues/{}/events/",
            issue["id"].as_str().unwrap_or("")
        ),
    );
    assert_eq!(list[0]["culprit"], "__main__ in f", "{list}");
    // One the SDK sent is kept. An event names its logger in a tag, as in
    // Sentry, and the issue's tag breakdown counts it.
    let sent = event(
        &server,
        json!({"culprit": "my.view", "message": "with its own culprit",
            "logger": "audit.events"}),
    );
    server.wait_for_events(2, Duration::from_secs(5));
    let e = get_ok(&server, &format!("/api/0/projects/local/1/events/{sent}/"));
    assert_eq!(e["culprit"], "my.view", "{e}");
    assert!(
        e["tags"]
            .as_array()
            .is_some_and(|t| t.contains(&json!({"key": "logger", "value": "audit.events"}))),
        "{e}"
    );
    let tags = get_ok(
        &server,
        &format!(
            "/api/0/issues/{}/tags/logger/",
            e["groupID"].as_str().unwrap_or("")
        ),
    );
    assert_eq!(tags["topValues"][0]["value"], "audit.events", "{tags}");
}

/// As Relay infers the type: a message whose stack is in the current
/// thread (`attach_stacktrace`) is `default`, titled by its message; a
/// thread that crashed makes an `error`.
#[test]
fn a_message_with_an_attached_stack_is_not_an_error() {
    let server = TestServer::start();
    let frames = json!({"frames": [{"module": "app", "function": "run", "in_app": true}]});
    let message = event(
        &server,
        json!({"message": "repro message with stack", "level": "error",
            "threads": {"values": [{"id": 1, "current": true, "crashed": false,
                "stacktrace": frames}]}}),
    );
    let crashed = event(
        &server,
        json!({"level": "fatal", "threads": {"values": [{"id": 1, "crashed": true,
            "stacktrace": frames}]}}),
    );
    server.wait_for_events(2, Duration::from_secs(5));
    let m = get_ok(
        &server,
        &format!("/api/0/projects/local/1/events/{message}/"),
    );
    assert_eq!(m["type"], "default", "{m}");
    assert_eq!(m["metadata"], json!({"title": "repro message with stack"}));
    let c = get_ok(
        &server,
        &format!("/api/0/projects/local/1/events/{crashed}/"),
    );
    assert_eq!(c["type"], "error", "{c}");
}

/// An issue's `metadata` is its latest event's, as Sentry keeps it: the
/// whole exception value (not the title's 100-character line), `Error`
/// for an exception without a type, and for a synthetic exception the
/// crash function and no made-up type. Where the title gives the same,
/// nothing more is stored.
#[test]
fn an_issues_metadata_is_its_latest_events() {
    let server = TestServer::start();
    let long = "x".repeat(300);
    let frames = json!({"frames": [{"module": "app", "function": "handleClick", "in_app": true}]});
    let sent = [
        event(
            &server,
            json!({"exception": {"values": [{"type": "ValueError", "value": long}]}}),
        ),
        event(
            &server,
            json!({"exception": {"values": [{"value": "no type here"}]}}),
        ),
        event(
            &server,
            json!({"exception": {"values": [{"type": "Error", "value": "thrown string",
                "mechanism": {"type": "generic", "synthetic": true},
                "stacktrace": frames}]}}),
        ),
        event(
            &server,
            json!({"exception": {"values": [{"type": "KeyError", "value": "'user'"}]}}),
        ),
        // An exception group: the title and the metadata are of the main
        // exception the group handling picks, not of the last one.
        event(
            &server,
            json!({"exception": {"values": [
                {"type": "ExceptionGroup", "value": "group", "mechanism": {"type": "generic",
                    "exception_id": 0, "is_exception_group": true}},
                {"type": "ValueError", "value": "main one", "mechanism": {"type": "generic",
                    "exception_id": 1, "parent_id": 0}},
                {"type": "KeyError", "value": "cause", "mechanism": {"type": "generic",
                    "exception_id": 2, "parent_id": 1}}]}}),
        ),
    ];
    server.wait_for_events(sent.len(), Duration::from_secs(5));
    let issue_metadata = |event_id: &str| {
        let e = get_ok(
            &server,
            &format!("/api/0/projects/local/1/events/{event_id}/"),
        );
        let id = e["groupID"].as_str().unwrap_or_default().to_owned();
        let issue = get_ok(&server, &format!("/api/0/issues/{id}/"));
        // The issue says what its latest event says.
        assert_eq!(issue["metadata"], e["metadata"], "{issue} {e}");
        issue["metadata"].clone()
    };
    assert_eq!(
        issue_metadata(&sent[0]),
        json!({"type": "ValueError", "value": long})
    );
    assert_eq!(
        issue_metadata(&sent[1]),
        json!({"type": "Error", "value": "no type here"})
    );
    assert_eq!(
        issue_metadata(&sent[2]),
        json!({"value": "thrown string", "function": "handleClick"})
    );
    assert_eq!(
        issue_metadata(&sent[3]),
        json!({"type": "KeyError", "value": "'user'"})
    );
    assert_eq!(
        issue_metadata(&sent[4]),
        json!({"type": "ValueError", "value": "main one"})
    );
    // Only what the title does not give is stored: the long value and the
    // synthetic exception (a missing type is titled `Error: …` already).
    let conn = rusqlite::Connection::open(server.db_path()).expect("open");
    let stored: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM issues WHERE metadata IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(stored, 2);
}

/// As Relay does: an event whose request names a `User-Agent` gets the
/// browser and the client's OS as contexts (under `os` for a browser
/// event, `client_os` beside a server's own `os`), and Sentry's tags for
/// them, which the issue's tag breakdown counts.
#[test]
fn the_user_agent_of_an_events_request_names_its_browser_and_os() {
    let server = TestServer::start();
    let chrome_on_mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
                         (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36";
    let browser_event = event(
        &server,
        json!({"platform": "javascript", "message": "from the browser",
               "request": {"url": "https://app.example/cart",
                           "headers": {"User-Agent": chrome_on_mac}}}),
    );
    let server_event = event(
        &server,
        json!({"platform": "python", "message": "from the server",
               "contexts": {"os": {"name": "Linux", "version": "6.1"}},
               "request": {"url": "https://app.example/api",
                           "headers": {"user-agent": chrome_on_mac}}}),
    );
    server.wait_for_events(2, Duration::from_secs(5));

    let e = get_ok(
        &server,
        &format!("/api/0/projects/local/1/events/{browser_event}/"),
    );
    let contexts = &e["contexts"];
    assert_eq!(contexts["browser"]["name"], "Chrome", "{e}");
    assert_eq!(contexts["browser"]["version"], "120.0.6099", "{e}");
    assert_eq!(contexts["os"]["name"], "Mac OS X", "{e}");
    assert_eq!(
        contexts["os"]["version"], ">=10.15.7",
        "as Relay: browsers freeze it: {e}"
    );
    let tags = e["tags"].as_array().cloned().unwrap_or_default();
    for (key, value) in [
        ("browser", "Chrome 120.0.6099"),
        ("browser.name", "Chrome"),
        ("os", "Mac OS X >=10.15.7"),
        ("os.name", "Mac OS X"),
    ] {
        assert!(
            tags.contains(&json!({"key": key, "value": value})),
            "{key}={value} in {tags:?}"
        );
    }

    let e = get_ok(
        &server,
        &format!("/api/0/projects/local/1/events/{server_event}/"),
    );
    assert_eq!(
        e["contexts"]["os"]["name"], "Linux",
        "the server's own: {e}"
    );
    assert_eq!(e["contexts"]["client_os"]["name"], "Mac OS X", "{e}");
    let breakdown = get_ok(
        &server,
        &format!(
            "/api/0/issues/{}/tags/client_os.name/",
            e["groupID"].as_str().unwrap_or("")
        ),
    );
    assert_eq!(
        breakdown["topValues"][0]["value"], "Mac OS X",
        "{breakdown}"
    );

    // A transaction too, as Relay normalises both.
    let tx = new_id();
    let now = api_support::now();
    send(
        &server,
        format!(
            "{{\"event_id\":\"{tx}\"}}\n{{\"type\":\"transaction\"}}\n{}\n",
            json!({"type": "transaction", "transaction": "GET /cart", "platform": "node",
                   "start_timestamp": now - 1.0, "timestamp": now,
                   "contexts": {"trace": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                                          "span_id": "a000000000000001", "op": "http.server"}},
                   "request": {"headers": {"User-Agent": chrome_on_mac}}})
        )
        .as_bytes(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let t = loop {
        let (status, t) = get(&server, &format!("/api/0/projects/local/1/events/{tx}/"));
        if status == 200 || std::time::Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(t["contexts"]["browser"]["name"], "Chrome", "{t}");
    assert_eq!(t["contexts"]["client_os"]["name"], "Mac OS X", "{t}");
}
