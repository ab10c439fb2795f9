//! How the issue and count filters combine: a request's parameters narrow
//! its search (and its default), levels read the same for issues and
//! events, a title filter reads titles only, and limits answer 400.

mod api_support;

use std::process::Output;
use std::time::Duration;

use api_support::{event, get, get_ok, message, receiver_command, send_json, titles};
use receiver::TestServer;
use serde_json::json;

const LIST: &str = "/api/0/projects/local/default/issues/";

fn cli(server: &TestServer, args: &[&str]) -> Output {
    receiver_command(server)
        .args(args)
        .output()
        .expect("run receiver")
}

/// Two issues, `alpha open` (unresolved) and `beta fixed` (resolved).
fn one_open_one_resolved() -> TestServer {
    let server = TestServer::start();
    event(&server, message("alpha open", "error", "prod", "a@1.0.0"));
    event(&server, message("beta fixed", "error", "prod", "a@1.0.0"));
    server.wait_for_events(2, Duration::from_secs(5));
    let beta = server
        .issues()
        .into_iter()
        .find(|i| i.title.starts_with("beta"))
        .expect("beta")
        .id;
    let (s, _) = send_json(
        &server,
        "PUT",
        &format!("/api/0/issues/{beta}/"),
        json!({"status": "resolved"}),
    );
    assert_eq!(s, 200);
    server
}

#[test]
fn a_status_parameter_replaces_the_default_search() {
    let server = one_open_one_resolved();
    let r = server
        .api_get(&format!("{LIST}?status=resolved"))
        .expect("list");
    assert_eq!(titles(&r.json()), ["beta fixed"]);
    assert_eq!(r.header("x-hits"), Some("1"));
    let all = get_ok(&server, &format!("{LIST}?status=all"));
    assert_eq!(titles(&all), ["alpha open", "beta fixed"]);
    // Without it the default search is still is:unresolved.
    assert_eq!(titles(&get_ok(&server, LIST)), ["alpha open"]);
}

#[test]
fn a_bulk_delete_by_status_spares_the_other_statuses() {
    let server = one_open_one_resolved();
    let r = server
        .api_request("DELETE", &format!("{LIST}?status=resolved"), None)
        .expect("delete");
    assert_eq!(r.status, 204);
    let left: Vec<String> = server.issues().into_iter().map(|i| i.title).collect();
    assert_eq!(left, ["alpha open"]);
}

#[test]
fn search_terms_and_parameters_must_both_hold() {
    let server = TestServer::start();
    event(&server, message("alpha error", "error", "prod", "a@1.0.0"));
    event(
        &server,
        message("beta warning", "warning", "staging", "a@1.0.0"),
    );
    server.wait_for_events(2, Duration::from_secs(5));
    let list = |q: &str| titles(&get_ok(&server, &format!("{LIST}?{q}")));
    assert!(list("query=level:error&level=warning").is_empty());
    assert!(list("query=environment:prod&environment=staging").is_empty());
    assert!(list("query=is:resolved&status=unresolved").is_empty());
    assert_eq!(list("query=level:error&level=error"), ["alpha error"]);
    // Several values of one term or parameter: any of them.
    assert_eq!(
        list("query=level:[error,warning]"),
        ["alpha error", "beta warning"]
    );
    assert_eq!(
        list("query=&level=error&level=warning"),
        ["alpha error", "beta warning"]
    );
}

#[test]
fn event_counts_read_levels_as_issue_counts_do() {
    let server = TestServer::start();
    event(&server, message("boom", "error", "prod", "a@1.0.0"));
    event(&server, message("careful", "warning", "prod", "a@1.0.0"));
    server.wait_for_events(2, Duration::from_secs(5));
    for level in ["Error", "warn", "WARNING"] {
        let s = get_ok(
            &server,
            &format!("/api/0/local/stats/?level={level}&fields=events,issues"),
        );
        assert_eq!(
            (s["events"].as_i64(), s["issues"].as_i64()),
            (Some(1), Some(1)),
            "{level}: {s}"
        );
    }
    assert_eq!(get(&server, "/api/0/local/stats/?level=loud").0, 400);
    let tail = get_ok(&server, "/api/0/local/stream/?tail=10&level=Warn");
    assert_eq!(tail["events"].as_array().map(Vec::len), Some(1), "{tail}");

    // CI: the condition is false, so the exit code is 1 (it was 0).
    let o = cli(&server, &["check", "--max-events", "0", "--level", "Error"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = cli(&server, &["check", "--max-issues", "0", "--level", "Error"]);
    assert_eq!(o.status.code(), Some(1));
    let o = cli(&server, &["check", "--issues", "2", "--status", "all"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_title_filter_reads_titles_not_culprits() {
    let server = TestServer::start();
    event(
        &server,
        json!({"exception": {"values": [{"type": "KeyError", "value": "nope",
            "stacktrace": {"frames": [{"function": "checkout_handler", "module": "shop.views",
                "filename": "views.py", "lineno": 3, "in_app": true}]}}]}}),
    );
    server.wait_for_events(1, Duration::from_secs(5));
    let issue = &server.issues()[0];
    assert!(!issue.title.contains("checkout"), "title {:?}", issue.title);
    let s = get_ok(&server, "/api/0/local/stats/?title=checkout&fields=issues");
    assert_eq!(s["issues"], 0, "{s}");
    let s = get_ok(&server, "/api/0/local/stats/?title=KeyError&fields=issues");
    assert_eq!(s["issues"], 1, "{s}");
    let o = cli(
        &server,
        &["check", "--max-issues", "0", "--issue-title", "checkout"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Free text still finds the culprit; a title: term does not.
    assert_eq!(
        titles(&get_ok(&server, &format!("{LIST}?query=checkout"))).len(),
        1
    );
    assert!(titles(&get_ok(&server, &format!("{LIST}?query=title:checkout"))).is_empty());
}

#[test]
fn unsupported_bulk_changes_are_refused_not_ignored() {
    let server = TestServer::start();
    event(&server, message("alpha", "error", "prod", "a@1.0.0"));
    event(&server, message("beta", "error", "prod", "a@1.0.0"));
    server.wait_for_events(2, Duration::from_secs(5));
    let ids: Vec<i64> = server.issues().iter().map(|i| i.id).collect();
    let body = json!({"discard": true});
    let (status, answer) = send_json(
        &server,
        "PUT",
        &format!("{LIST}?id={}&id={}", ids[0], ids[1]),
        body,
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(server.issues().len(), 2);
}

#[test]
fn too_many_filter_values_are_a_400() {
    let server = TestServer::start();
    event(&server, message("x", "error", "prod", "a@1.0.0"));
    server.wait_for_events(1, Duration::from_secs(5));
    let values = vec!["a"; 20_000].join(",");
    let (status, body) = get(&server, &format!("{LIST}?query=assigned:[{values}]"));
    assert_eq!(status, 400, "{:.200}", body.to_string());
    let ids = vec!["1"; 2_000].join("&id=");
    let (status, _) = get(&server, &format!("{LIST}?id={ids}"));
    assert_eq!(status, 400);
    // An empty list is not "any value": it would widen the search.
    for term in ["level:[]", "environment:[%20]", "is:[]"] {
        let (status, body) = get(&server, &format!("{LIST}?query={term}"));
        assert_eq!(status, 400, "{term}: {body}");
        assert!(body.to_string().contains("lists no value"), "{body}");
    }
    let (status, _) = get(&server, &format!("{LIST}?query=level:[error]"));
    assert_eq!(status, 200);
}

/// Sends a v2 span container (`span` item) holding `spans`.
fn streamed(server: &TestServer, spans: serde_json::Value) {
    let n = spans.as_array().map_or(0, Vec::len);
    let body = format!(
        "{{}}\n{{\"type\":\"span\",\"item_count\":{n},\
         \"content_type\":\"application/vnd.sentry.items.span.v2+json\"}}\n{}\n",
        json!({"version": 2, "items": spans})
    );
    api_support::send(server, body.as_bytes());
}

/// A v2 segment span named `name`, with the release and environment
/// attributes an SDK sets.
fn segment(span_id: &str, name: &str, release: &str, env: &str) -> serde_json::Value {
    let t = api_support::now() - 5.0;
    let attr = |v: &str| json!({"type": "string", "value": v});
    json!({"trace_id": format!("{span_id}{span_id}"), "span_id": span_id, "name": name,
           "start_timestamp": t, "end_timestamp": t + 0.5, "is_segment": true,
           "status": "ok",
           "attributes": {"sentry.op": attr("http.server"), "sentry.release": attr(release),
                          "sentry.environment": attr(env)}})
}

/// An app that streams its spans (as `@sentry/node` 11 does by default)
/// sends segments, not transactions: `segments` counts them with a
/// transaction's root, by name, release and environment, and `receiver
/// wait --segments` waits for them.
#[test]
fn segments_count_streamed_segments_and_transaction_roots() {
    let server = TestServer::start();
    let t = api_support::now() - 5.0;
    let child = json!({"trace_id": "a000000000000001".repeat(2), "span_id": "c000000000000001",
        "parent_span_id": "a000000000000001", "name": "SELECT 1", "start_timestamp": t,
        "end_timestamp": t + 0.1, "is_segment": false});
    streamed(
        &server,
        json!([
            segment("a000000000000001", "GET /cart", "shop@1.0", "prod"),
            child,
            segment("b000000000000001", "POST /pay", "shop@2.0", "prod"),
        ]),
    );
    // A retried container adds nothing.
    streamed(
        &server,
        json!([segment("b000000000000001", "POST /pay", "shop@2.0", "prod")]),
    );
    // A transaction (its root span is a segment too), also streamed as a
    // segment by an SDK that sends both: counted once.
    let tx = json!({"type": "transaction", "transaction": "GET /cart",
        "start_timestamp": t, "timestamp": t + 1.0, "release": "shop@1.0",
        "environment": "staging",
        "contexts": {"trace": {"trace_id": "d000000000000001".repeat(2),
                               "span_id": "d000000000000001",
                               "op": "http.server"}}});
    api_support::item(&server, "transaction", tx);
    streamed(
        &server,
        json!([segment(
            "d000000000000001",
            "GET /cart",
            "shop@1.0",
            "staging"
        )]),
    );
    let count = |q: &str| {
        let stats = get_ok(&server, &format!("/api/0/local/stats/?fields=segments{q}"));
        assert!(stats.get("events").is_none(), "{stats}");
        stats["segments"].as_i64()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while count("") != Some(3) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(count(""), Some(3), "two streamed segments and one root");
    assert_eq!(count("&transaction=cart"), Some(2));
    assert_eq!(count("&release=shop@1.0"), Some(2));
    assert_eq!(count("&release=shop@1.0&environment=prod"), Some(1));
    assert_eq!(count("&environment=staging"), Some(1));
    assert_eq!(count("&statsPeriod=1m"), Some(3));
    assert_eq!(count("&start=1000&end=2000"), Some(0));
    let all = get_ok(&server, "/api/0/local/stats/");
    assert_eq!(all["segments"], 3, "{all}");
    assert_eq!(all["transactions"], 1, "{all}");

    let out = cli(&server, &["wait", "--segments", "3", "--timeout", "5s"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("segments >= 3"), "{text}");
    let out = cli(
        &server,
        &["check", "--max-segments", "1", "--environment", "prod"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("FAIL segments <= 1 (actual: 2)"),
        "{out:?}"
    );
    // Waiting for more transactions than came, where segments did: says
    // why they may never come.
    let out = cli(&server, &["check", "--transactions", "2"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 streamed segment(s)") && err.contains("--segments"),
        "{err}"
    );
}
