//! A project's fingerprint rules (Sentry's server-side fingerprinting),
//! set through the project API, group the next events: the first rule an
//! event matches gives it its fingerprint (and, with `title=`, its issue's
//! title), whatever fingerprint the client sent.

mod api_support;

use std::time::Duration;

use api_support::{event, get_ok, send_json};
use receiver::TestServer;
use serde_json::{json, Value};

const PROJECT: &str = "/api/0/projects/local/default/";

fn set_rules(server: &TestServer, rules: &str) -> (u16, Value) {
    send_json(
        server,
        "PUT",
        PROJECT,
        json!({"fingerprintingRules": rules}),
    )
}

/// An exception event in `transaction`.
fn exception(server: &TestServer, ty: &str, value: &str, transaction: &str) -> String {
    event(
        server,
        json!({"transaction": transaction, "level": "error",
               "exception": {"values": [{"type": ty, "value": value}]}}),
    )
}

/// Issue titles with their counts, sorted.
fn issues(server: &TestServer) -> Vec<(String, i64)> {
    let mut rows: Vec<(String, i64)> = server
        .issues()
        .into_iter()
        .map(|i| (i.title, i.times_seen))
        .collect();
    rows.sort();
    rows
}

#[test]
fn rules_group_the_next_events_and_name_their_issues() {
    let server = TestServer::start();
    let (status, project) = set_rules(
        &server,
        "# the database is down, whatever the query\n\
         error.type:DatabaseUnavailable -> system-down title=\"Database down\"\n\
         error.value:\"connection refused*\" -> connection-error, {{ transaction }}\n",
    );
    assert_eq!(status, 200, "{project}");
    assert!(project["fingerprintingRules"]
        .as_str()
        .is_some_and(|r| r.contains("system-down")));
    // Read back as set.
    let shown = get_ok(&server, PROJECT);
    assert_eq!(shown["fingerprintingRules"], project["fingerprintingRules"]);

    exception(&server, "DatabaseUnavailable", "primary gone", "/checkout");
    // A client fingerprint does not hold against a rule.
    event(
        &server,
        json!({"level": "error", "fingerprint": ["mine"],
               "exception": {"values": [{"type": "DatabaseUnavailable", "value": "replica gone"}]}}),
    );
    exception(&server, "ConnectionError", "connection refused: db1", "/a");
    exception(&server, "ConnectionError", "connection refused: db2", "/a");
    exception(&server, "ConnectionError", "connection refused: db1", "/b");
    exception(&server, "KeyError", "user", "/a");
    server.wait_for_events(6, Duration::from_secs(10));
    let found = issues(&server);
    // `{{ transaction }}` split the connection errors by transaction (an
    // issue's title is its latest event's).
    assert_eq!(
        found,
        [
            ("ConnectionError: connection refused: db1".to_owned(), 1),
            ("ConnectionError: connection refused: db2".to_owned(), 2),
            ("Database down".to_owned(), 2),
            ("KeyError: user".to_owned(), 1)
        ]
    );

    // The issue says which rule grouped it.
    let down = server
        .issues()
        .into_iter()
        .find(|i| i.title == "Database down")
        .expect("the rule's issue");
    let detail = get_ok(&server, &format!("/api/0/issues/{}/", down.id));
    let fingerprint = &detail["grouping"]["explanation"]["fingerprint"];
    assert_eq!(
        fingerprint["values"],
        json!(["system-down"]),
        "{fingerprint}"
    );
    assert!(
        fingerprint["rule"]
            .as_str()
            .is_some_and(|r| r.starts_with("error.type:DatabaseUnavailable")),
        "{fingerprint}"
    );
    assert_eq!(detail["metadata"]["title"], "Database down");

    // Without rules, the next event groups as it would have.
    let (status, cleared) = set_rules(&server, "");
    assert_eq!(status, 200);
    assert_eq!(cleared["fingerprintingRules"], "");
    exception(&server, "DatabaseUnavailable", "primary gone", "/checkout");
    server.wait_for_events(7, Duration::from_secs(10));
    let after = issues(&server);
    assert!(
        after.contains(&("DatabaseUnavailable: primary gone".to_owned(), 1)),
        "{after:?}"
    );
    assert!(
        after.contains(&("Database down".to_owned(), 2)),
        "{after:?}"
    );
}

#[test]
fn rules_that_do_not_parse_are_refused_with_their_line() {
    let server = TestServer::start();
    let (status, body) = set_rules(&server, "type:A -> a\ncolour:red -> b\n");
    assert_eq!(status, 400, "{body}");
    let detail = body.to_string();
    assert!(
        detail.contains("line 2") && detail.contains("unknown matcher"),
        "{detail}"
    );
    assert_eq!(get_ok(&server, PROJECT)["fingerprintingRules"], "");
    for (body, why) in [
        (json!({"fingerprintingRules": 3}), "not a string"),
        (json!({"name": "renamed"}), "another setting"),
        (json!([]), "not an object"),
    ] {
        let (status, answer) = send_json(&server, "PUT", PROJECT, body);
        assert_eq!(status, 400, "{why}: {answer}");
    }
    // A read-only token cannot set rules.
    let read = server
        .create_token(receiver::api::tokens::Scope::Read)
        .expect("read token");
    let r = receiver::testing::request(
        "PUT",
        &server.api_url(PROJECT),
        &[
            ("Authorization", format!("Bearer {read}").as_str()),
            ("Content-Type", "application/json"),
        ],
        br#"{"fingerprintingRules": "type:A -> a"}"#,
    )
    .expect("put");
    assert_eq!(r.status, 403);
    assert_eq!(get_ok(&server, PROJECT)["fingerprintingRules"], "");
}

#[test]
fn the_cli_sets_shows_and_clears_rules() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rules.txt");
    std::fs::write(
        &file,
        "error.type:Timeout* -> slow title=\"Slow backend\"\n",
    )
    .expect("write");
    let run = |args: &[&str]| {
        let out = api_support::receiver_command(&server)
            .arg("fingerprint-rules")
            .args(args)
            .output()
            .expect("run receiver fingerprint-rules");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, shown, _) = run(&["--set", file.to_str().expect("path")]);
    assert_eq!(code, Some(0));
    assert!(shown.contains("-> slow"), "{shown}");
    exception(&server, "TimeoutError", "read timed out", "/a");
    server.wait_for_events(1, Duration::from_secs(10));
    assert_eq!(issues(&server), [("Slow backend".to_owned(), 1)]);
    let (_, shown, _) = run(&["--project", "default"]);
    assert!(shown.contains("title=\"Slow backend\""), "{shown}");
    // Rules that do not parse: refused, with the line, and nothing changes.
    std::fs::write(&file, "ok:* -> x\n").expect("write");
    let (code, _, said) = run(&["--set", file.to_str().expect("path")]);
    assert_eq!(code, Some(2));
    assert!(said.contains("line 1"), "{said}");
    let (_, shown, _) = run(&["--json"]);
    let json: Value = serde_json::from_str(&shown).expect("JSON");
    assert!(json["fingerprintingRules"]
        .as_str()
        .is_some_and(|r| r.contains("Slow backend")));
    // An empty file is not a wish to remove them; a BOM and CRLF are read
    // as editors write them.
    std::fs::write(&file, "").expect("write");
    let (code, _, said) = run(&["--set", file.to_str().expect("path")]);
    assert_eq!(code, Some(2));
    assert!(said.contains("--clear"), "{said}");
    std::fs::write(&file, "\u{feff}type:A -> a\r\ntype:B -> b\r\n").expect("write");
    let (code, shown, said) = run(&["--set", file.to_str().expect("path")]);
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(shown, "type:A -> a\ntype:B -> b\n");
    let (code, shown, _) = run(&["--clear"]);
    assert_eq!(code, Some(0));
    assert!(shown.contains("no fingerprint rules"), "{shown}");
}

#[test]
fn rules_read_the_sdk_and_fill_the_titles_variables() {
    let server = TestServer::start();
    let (status, body) = set_rules(
        &server,
        "sdk:sentry.python -> from-python title=\"{{ type }} in Python\"",
    );
    assert_eq!(status, 200, "{body}");
    for sdk in ["sentry.python", "sentry.javascript.node"] {
        event(
            &server,
            json!({"level": "error", "sdk": {"name": sdk, "version": "1.0"},
                   "exception": {"values": [{"type": "KeyError", "value": "'user'"}]}}),
        );
    }
    server.wait_for_events(2, Duration::from_secs(10));
    assert_eq!(
        issues(&server),
        [
            ("KeyError in Python".to_owned(), 1),
            ("KeyError: 'user'".to_owned(), 1)
        ]
    );
    let python = server
        .issues()
        .into_iter()
        .find(|i| i.title == "KeyError in Python")
        .expect("the rule's issue");
    let detail = get_ok(&server, &format!("/api/0/issues/{}/", python.id));
    // The metadata keeps the exception and gains the title, as Sentry's.
    assert_eq!(
        (
            &detail["metadata"]["type"],
            &detail["metadata"]["value"],
            &detail["metadata"]["title"]
        ),
        (
            &json!("KeyError"),
            &json!("'user'"),
            &json!("KeyError in Python")
        ),
        "{}",
        detail["metadata"]
    );
}
