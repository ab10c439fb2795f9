//! The web page under `/ui/`: the embedded files and their headers, the
//! routes around them, the ephemeral admin token that `receiver serve`
//! prints in the `Web UI:` line, and the page's script itself, run by Node
//! in a minimal DOM (`tests/web/dom.js`) against a real receiver.

#[path = "support/fixtures.rs"]
mod fixtures_support;
#[path = "support/spans.rs"]
mod spans_support;
#[path = "support/transactions.rs"]
mod transactions_support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use receiver::api::tokens;
use receiver::testing::{request, TestResponse};
use receiver::TestServer;

fn get(url: &str) -> TestResponse {
    request("GET", url, &[], b"").expect("GET")
}

fn with_token(url: &str, token: &str) -> TestResponse {
    let auth = format!("Bearer {token}");
    request("GET", url, &[("Authorization", auth.as_str())], b"").expect("GET with token")
}

fn text(r: &TestResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// The headers every `/ui/` file carries.
fn assert_page_headers(r: &TestResponse) {
    let csp = r.header("content-security-policy").expect("CSP");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
}

#[test]
fn the_page_is_one_html_file_with_strict_headers() {
    let server = TestServer::start();
    let r = get(&server.web_url());
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_page_headers(&r);
    let html = text(&r);
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains(r#"<script src="/ui/app.js" defer></script>"#));
    assert!(html.contains(r#"<link rel="stylesheet" href="/ui/app.css">"#));
    // No inline script or style: every <script> has a src, no style attributes.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert!(
        !html.contains("<style") && !html.contains("style="),
        "{html}"
    );
    // `/ui/index.html` is the same page.
    let again = get(&format!("{}/ui/index.html", server.url()));
    assert_eq!(again.status, 200);
    assert_eq!(again.body, r.body);
}

#[test]
fn script_and_style_sheet_are_served_with_their_types() {
    let server = TestServer::start();
    let js = get(&format!("{}/ui/app.js", server.url()));
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_page_headers(&js);
    let css = get(&format!("{}/ui/app.css", server.url()));
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_page_headers(&css);

    let script = text(&js);
    assert!(script.contains("'use strict'"));
    // Event data is untrusted: the DOM is built without HTML strings, and
    // nothing is evaluated or loaded from elsewhere.
    for banned in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
    ] {
        assert!(!script.contains(banned), "app.js uses {banned}");
    }
    for (name, body) in [
        ("app.js", &script),
        ("app.css", &text(&css)),
        ("index.html", &text(&get(&server.web_url()))),
    ] {
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{name} refers to another site"
        );
        assert!(!body.contains("@import"), "{name} imports");
    }
}

#[test]
fn unknown_files_are_404_and_other_methods_405() {
    let server = TestServer::start();
    for path in ["/ui/nope.js", "/ui/app.js.map", "/ui/sub/index.html"] {
        let r = get(&format!("{}{path}", server.url()));
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    let r = request("POST", &server.web_url(), &[], b"{}").expect("POST");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let r = request("HEAD", &format!("{}/ui/app.css", server.url()), &[], b"").expect("HEAD");
    assert_eq!(r.status, 200);
}

#[test]
fn the_root_and_ui_without_slash_redirect_to_the_page() {
    let server = TestServer::start();
    for path in ["/", "/ui", "//ui"] {
        let r = get(&format!("{}{path}", server.url()));
        assert_eq!(r.status, 302, "{path}");
        assert_eq!(r.header("location"), Some("/ui/"), "{path}");
    }
    // Other methods on `/` keep ingestion's answer.
    let r = request("POST", &format!("{}/", server.url()), &[], b"").expect("POST /");
    assert_eq!(r.status, 404);
}

#[test]
fn the_page_stays_at_the_root_whatever_the_ingestion_prefix() {
    for prefix in ["/sentry/", "/ui/"] {
        let server = TestServer::builder()
            .configure(|c| c.path_prefix = prefix.to_owned())
            .start();
        let page = get(&server.web_url());
        assert_eq!(page.status, 200, "{prefix}");
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        // Ingestion under the prefix still works, even below /ui/.
        let auth = server.sentry_auth();
        let body = b"{}\n{\"type\":\"event\"}\n{\"message\":\"under a prefix\"}\n";
        let r = request(
            "POST",
            &server.envelope_url(),
            &[("X-Sentry-Auth", auth.as_str())],
            body,
        )
        .expect("envelope");
        assert_eq!(r.status, 200, "{prefix}: {}", text(&r));
        assert!(server.envelope_url().contains(prefix));
        server.wait_for_events(1, Duration::from_secs(5));
    }
}

/// A `receiver serve` process with its DSN and `Web UI:` lines.
struct Served {
    child: Child,
    dsn: String,
    ui_url: String,
    token: String,
    base: String,
    /// stdout after the DSN line and stderr, read when the process ends.
    stdout: Box<dyn Read + Send>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &std::path::Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_receiver"))
        .args(["serve", "--addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .env_remove("RECEIVER_TOKEN")
        .env_remove("RECEIVER_ADDR")
        .env_remove("RECEIVER_DB")
        .env_remove("RECEIVER_PATH_PREFIX")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn receiver");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut dsn = String::new();
    out.read_line(&mut dsn).expect("DSN line");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut ui_url = None;
    let mut seen = String::new();
    for _ in 0..20 {
        let mut line = String::new();
        if err.read_line(&mut line).expect("stderr line") == 0 {
            break;
        }
        seen.push_str(&line);
        if let Some(url) = line.trim().strip_prefix("Web UI: ") {
            ui_url = Some(url.to_owned());
        }
        if line.starts_with("receiver listening") {
            break;
        }
    }
    let ui_url = ui_url.unwrap_or_else(|| panic!("no `Web UI:` line in stderr:\n{seen}"));
    let (base, token) = ui_url
        .split_once("/ui/#token=")
        .unwrap_or_else(|| panic!("unexpected Web UI URL {ui_url}"));
    let (base, token) = (base.to_owned(), token.to_owned());
    Served {
        child,
        dsn: dsn.trim().to_owned(),
        ui_url,
        token,
        base,
        stdout: Box::new(out),
    }
}

#[test]
fn serve_prints_the_web_ui_line_with_a_token_that_lives_in_memory_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("r.sqlite");
    let served = serve(&db);
    assert!(served.dsn.starts_with("http://"), "{}", served.dsn);
    assert!(
        served.base.starts_with("http://127.0.0.1:"),
        "{}",
        served.ui_url
    );
    assert_eq!(served.token.len(), 64, "{}", served.ui_url);
    assert!(served.token.bytes().all(|b| b.is_ascii_hexdigit()));

    // The page is there, and the token authorises the API as an admin.
    let page = get(&format!("{}/ui/", served.base));
    assert_eq!(page.status, 200);
    let root = with_token(&format!("{}/api/0/", served.base), &served.token);
    assert_eq!(root.status, 200);
    assert_eq!(root.json()["auth"]["scope"], "admin", "{}", text(&root));
    let projects = with_token(&format!("{}/api/0/projects/", served.base), &served.token);
    assert_eq!(projects.status, 200, "{}", text(&projects));
    let auth = format!("Bearer {}", served.token);
    let write = request(
        "PUT",
        &format!("{}/api/0/projects/local/1/issues/?id=999", served.base),
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ],
        br#"{"status":"resolved"}"#,
    )
    .expect("PUT");
    assert!(write.status < 300, "{} {}", write.status, text(&write));

    // A wrong token is still refused.
    let wrong = with_token(&format!("{}/api/0/projects/", served.base), &"0".repeat(64));
    assert_eq!(wrong.status, 401);
    let none = get(&format!("{}/api/0/projects/", served.base));
    assert_eq!(none.status, 401);

    // Never written to the database: only the first start's admin token is.
    let conn = tokens::open_write(&db).expect("open db");
    assert_eq!(tokens::lookup(&conn, &served.token).expect("lookup"), None);
    let stored: Vec<String> = conn
        .prepare("SELECT token_hash FROM api_tokens")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(!stored.contains(&tokens::hash(&served.token)));
    drop(conn);

    // Valid until the process exits: the next process has another token
    // and refuses this one.
    let old_token = served.token.clone();
    let mut old = served;
    let _ = old.child.kill();
    let _ = old.child.wait();
    let mut rest = String::new();
    let _ = old.stdout.read_to_string(&mut rest);
    assert!(
        !rest.contains(&old_token),
        "the token went to stdout: {rest}"
    );
    drop(old);
    let next = serve(&db);
    assert_ne!(next.token, old_token);
    let refused = with_token(&format!("{}/api/0/projects/", next.base), &old_token);
    assert_eq!(refused.status, 401);
    let accepted = with_token(&format!("{}/api/0/projects/", next.base), &next.token);
    assert_eq!(accepted.status, 200);
}

/// Runs `tests/web/<script>` with Node (`NODE` names another binary) and
/// returns its JSON lines. `.ci/run` installs Node where it is missing.
fn run_page_script(script: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".to_owned());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/web")
        .join(script);
    let out = Command::new(&node)
        .arg(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {node} (Node.js, which .ci/run installs): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The line of a page script's output whose `key` is `value`.
fn line<'a>(lines: &'a [serde_json::Value], key: &str, value: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|l| l[key] == value)
        .unwrap_or_else(|| panic!("no {key} {value} in {lines:?}"))
}

#[test]
fn the_rate_limits_view_lists_adds_and_removes_quotas() {
    let server = TestServer::start();
    let key = server.public_key().to_owned();
    let steps = run_page_script("quotas.js", &[&server.url(), server.token(), &key]);
    let step = |name: &str| -> (String, Vec<serde_json::Value>) {
        let s = line(&steps, "step", name);
        let dialogs = s["dialogs"].as_array().cloned().unwrap_or_default();
        (s["text"].as_str().unwrap_or_default().to_owned(), dialogs)
    };

    let (empty, _) = step("empty");
    assert!(empty.contains("Rate limits"), "{empty}");
    assert!(empty.contains("No quotas"), "{empty}");
    assert!(!empty.contains("Error:"), "{empty}");

    let (added, _) = step("added");
    assert!(!added.contains("No quotas"), "{added}");
    // One row: categories, limit, window, scope (the key trimmed), reason.
    let row = format!("error, log_item 5 2 min key {key} from_the_page Remove");
    assert!(added.contains(&row), "{row:?} in {added}");

    let (refused, _) = step("refused");
    assert!(
        refused.contains("must be 1 to 86400 seconds"),
        "the receiver's reason: {refused}"
    );
    assert!(refused.contains(&row), "nothing else changed: {refused}");

    let (removed, dialogs) = step("removed");
    assert!(removed.contains("No quotas"), "{removed}");
    assert_eq!(dialogs.len(), 1, "asked before removing: {dialogs:?}");
    assert_eq!(dialogs[0]["kind"], "confirm");

    // What the page did is what the receiver has: the quota came and went
    // (ids are never reused, so the first one is 1).
    let list: serde_json::Value = server
        .api_json("/api/0/projects/local/1/quotas/")
        .expect("quotas");
    assert_eq!(list, serde_json::json!([]));
    let gone = server
        .api_request("DELETE", "/api/0/projects/local/1/quotas/1/", None)
        .expect("delete");
    assert_eq!(gone.status, 404, "already removed by the page");
}

#[test]
fn releases_page_and_search_and_a_failed_download_says_why() {
    let server = TestServer::start();
    let send = |body: Vec<u8>| post_envelope(&server, &body);
    // Three releases, first seen in this order (the list is newest first).
    for (n, release) in ["app@1.0.0", "app@1.1.0", "app@2.0.0"].iter().enumerate() {
        send(
            format!(
                "{{}}\n{{\"type\":\"event\"}}\n{{\"message\":\"m{n}\",\"release\":\"{release}\"}}\n"
            )
            .into_bytes(),
        );
        server.wait_for_events(n + 1, std::time::Duration::from_secs(10));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let event_id = "feedfacefeedfacefeedfacefeedface";
    let mut body = format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"with a file\"}}\n\
         {{\"type\":\"attachment\",\"length\":5,\"filename\":\"log.txt\"}}\n"
    )
    .into_bytes();
    body.extend_from_slice(b"hello\n");
    send(body);
    let events = server.wait_for_events(4, std::time::Duration::from_secs(10));
    let issue = events
        .iter()
        .find(|e| e.event_id == event_id)
        .and_then(|e| e.issue_id)
        .expect("the event with the file has an issue");
    let steps = run_page_script(
        "releases.js",
        &[&server.url(), server.token(), &issue.to_string(), event_id],
    );
    let text = |step: &str| {
        line(&steps, "step", step)["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    let first = text("first page");
    assert!(
        first.contains("app@2.0.0") && first.contains("app@1.1.0"),
        "{first}"
    );
    assert!(!first.contains("app@1.0.0"), "two a page: {first}");
    let older = text("older");
    assert!(older.contains("app@1.0.0"), "{older}");
    assert!(!older.contains("app@2.0.0"), "{older}");
    let search = text("search");
    assert!(
        search.contains("app@1.1.0") && search.contains("app@1.0.0"),
        "{search}"
    );
    assert!(!search.contains("app@2.0.0"), "{search}");
    assert_eq!(
        line(&steps, "step", "search")["hash"],
        "#/releases?query=app%401.&limit=2"
    );

    let event = text("event");
    assert!(
        event.contains("log.txt") && event.contains("Download"),
        "{event}"
    );
    let download = text("download");
    assert!(download.contains("Download failed:"), "{download}");
}

#[test]
fn a_dead_token_in_the_address_does_not_forget_the_remembered_one() {
    let server = TestServer::start();
    let lines = run_page_script("stale_token.js", &[&server.url(), server.token()]);
    let out = &lines[0];
    assert_eq!(out["remembered"], server.token(), "{out}");
    assert_eq!(out["login"], false, "{out}");
    assert!(
        out["text"].as_str().is_some_and(|t| t.contains("Issues")),
        "{out}"
    );
}

#[test]
fn a_trace_too_large_to_show_whole_says_so() {
    let server = TestServer::start();
    // Written straight into the database: one span over the most a trace
    // answer holds, as any client with the DSN could send them.
    let trace = "cd".repeat(16);
    spans_support::write_spans(server.db_path(), &trace, 10_001);
    let route = format!("#/traces/{trace}");
    let views = run_page_script("views.js", &[&server.url(), server.token(), &route]);
    let view = line(&views, "route", &route);
    let text = view["text"].as_str().unwrap_or_default();
    assert_eq!(view["errors"], serde_json::json!([]), "{text}");
    assert!(text.contains("10001 span(s)"), "{text}");
    assert!(text.contains("too large to show whole"), "{text}");
}

/// What a view that reads more rows than one API request reads shows
/// (`tests/web/walked.js`): asked for the few rows `filter` keeps among
/// `count` (`needles`, shown by `row(i)`), it asks again from where each
/// answer stopped (five answers at most), says how far it searched, and
/// searches on when asked; sorted by duration, it says which rows it sorted.
fn check_a_view_searches_on(
    server: &TestServer,
    (view, filter, noun): (&str, &str, &str),
    budget: u32,
    needles: [u32; 3],
    row: fn(u32) -> String,
) {
    let steps = run_page_script("walked.js", &[&server.url(), server.token(), view, filter]);
    let text = |step: &str| -> String {
        let text = line(&steps, "step", step)["text"]
            .as_str()
            .unwrap_or_default();
        format!("{text} ")
    };
    let listed = |text: &str| -> Vec<u32> {
        needles
            .iter()
            .copied()
            .filter(|i| text.contains(&row(*i)))
            .collect()
    };
    let first = text("needles");
    assert_eq!(listed(&first), [needles[2]], "{first}");
    let searched = format!("Searched {} {noun}", 5 * budget);
    assert!(
        first.replace(',', "").contains(&searched),
        "five answers read: {first}"
    );
    let further = text("further");
    assert_eq!(listed(&further), [needles[0], needles[1]], "{further}");
    assert!(!further.contains("Searched"), "{further}");
    let slowest = text("slowest");
    assert!(
        slowest
            .replace(',', "")
            .contains(&format!("Sorted by duration among {budget} {noun}")),
        "{slowest}"
    );
}

/// The Spans view on more spans than one API request reads, few of them
/// matching.
#[test]
fn the_spans_view_searches_on_where_a_read_stopped() {
    let server = TestServer::start();
    let budget = receiver::api::SPANS_MAX_READ as u32;
    let count = 5 * budget + 1_000;
    let needles = [0, 7, count - 1];
    spans_support::write_span_series(server.db_path(), &"ef".repeat(16), count, |i| {
        let op = if needles.contains(&i) { "needle" } else { "db" };
        (op, 0.001)
    });
    check_a_view_searches_on(
        &server,
        ("spans", "op=needle", "spans"),
        budget,
        needles,
        |i| format!("span {i} "),
    );
}

/// The Transactions view on more transactions than one API request reads,
/// few of them matching.
#[test]
fn the_transactions_view_searches_on_where_a_read_stopped() {
    let server = TestServer::start();
    let budget = receiver::api::TRANSACTIONS_MAX_READ as u32;
    let count = 5 * budget + 1_000;
    let needles = [0, 7, count - 1];
    transactions_support::write_transaction_series(
        server.db_path(),
        &"ef".repeat(16),
        count,
        |i| transactions_support::Shape {
            name: if needles.contains(&i) {
                format!("needle {i}")
            } else {
                "other".to_owned()
            },
            op: "http.server",
            length: 0.001,
        },
    );
    check_a_view_searches_on(
        &server,
        ("transactions", "query=needle", "transactions"),
        budget,
        needles,
        |i| format!("needle {i} http"),
    );
}

/// A receiver fed every request of the recorded Python SDK scenario, its
/// clock at the scenario's time (so its sessions are not too old to keep).
fn fixture_server() -> TestServer {
    use fixtures_support::{load_python_fixtures, PROJECT, PUBLIC_KEY};
    let recorded =
        sentry_core::protocol::Timestamp::parse_rfc3339("2026-11-25T18:41:30Z").expect("time");
    let server = TestServer::builder()
        .project(PROJECT, PUBLIC_KEY)
        .clock(receiver::config::Clock::Fixed(recorded))
        .start();
    for f in load_python_fixtures() {
        let headers: Vec<(&str, &str)> = f
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let url = format!("{}{}", server.url(), f.path);
        let r = receiver::testing::post(&url, &headers, &f.body).expect("post");
        assert_eq!(r.status, 200, "{}", f.name);
    }
    server
}

/// The scenario's issue with a chained exception.
fn chained_issue(server: &TestServer) -> i64 {
    let issues = server.issues_of(fixtures_support::PROJECT);
    issues
        .iter()
        .find(|i| i.title.starts_with("RuntimeError: config load failed"))
        .unwrap_or_else(|| panic!("no RuntimeError issue in {issues:?}"))
        .id
}

#[test]
fn every_view_shows_what_the_python_sdk_sent() {
    let server = fixture_server();
    let issue_route = format!("#/issues/{}", chained_issue(&server));
    let feedback_issue = server
        .issues_of(fixtures_support::PROJECT)
        .iter()
        .find(|i| {
            i.title
                .eq_ignore_ascii_case("event that receives user feedback")
        })
        .map(|i| i.id)
        .unwrap_or_else(|| panic!("no issue of the user report's event"));
    let feedback_route = format!("#/issues/{feedback_issue}");
    let trace = "675d4fa3208c40be8da815ee457c61fc";
    let trace_route = format!("#/traces/{trace}");
    let issue_events_route = format!("{issue_route}/events");
    let routes = [
        "#/issues",
        "#/issues?query=is:unresolved%20RuntimeError",
        "#/issues?query=is:archived",
        issue_route.as_str(),
        issue_events_route.as_str(),
        feedback_route.as_str(),
        "#/transactions",
        "#/spans",
        trace_route.as_str(),
        "#/releases",
        "#/client-reports",
        "#/feedback",
        "#/logs",
        "#/logs?query=no-such-line",
        "#/live",
    ];
    let mut args = vec![server.url(), server.token().to_owned()];
    args.extend(routes.iter().map(|r| (*r).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let views = run_page_script("views.js", &args);
    assert_eq!(views.len(), routes.len() + 2, "{views:?}");
    let login = &views[0];
    assert_eq!(login["route"], "login");
    assert_eq!(
        login["projects"].as_array().map(Vec::len),
        Some(3),
        "all, the default project and the scenario's: {login}"
    );
    let timers = views.last().expect("timers line");
    assert_eq!(timers["route"], "timers");
    assert_eq!(timers["afterLeaving"], 0, "a view left a timer running");
    assert_eq!(
        timers["afterRushing"], 0,
        "the live view started polling after it was left"
    );
    let text = |route: &str| -> String {
        let v = line(&views, "route", route);
        let text = v["text"].as_str().unwrap_or_default().to_owned();
        assert_eq!(v["errors"], serde_json::json!([]), "{route} failed: {text}");
        assert!(!text.contains("No such page"), "{route}: {text}");
        text
    };
    let contains_all = |route: &str, wanted: &[&str]| {
        let shown = text(route);
        for w in wanted {
            assert!(shown.contains(w), "{route} does not show {w:?}: {shown}");
        }
    };
    contains_all("#/issues", &["RuntimeError", "ValueError"]);
    // An issue's events, from the count on its page.
    contains_all(
        &format!("{issue_route}/events"),
        &[
            "events in all, newest first",
            "config load failed",
            "conformance@1.0.0",
        ],
    );
    // The search's `is:` decides the status: the menu says so.
    let searched = text("#/issues?query=is:unresolved%20RuntimeError");
    assert!(searched.contains("status: as searched"), "{searched}");
    // `is:archived` and `is:muted` are `ignored` to the API: the menu
    // yields to them too.
    let archived = text("#/issues?query=is:archived");
    assert!(archived.contains("status: as searched"), "{archived}");
    assert!(!text("#/issues").contains("status: as searched"));
    // The chained exception, its frames, and why it was grouped.
    contains_all(
        &issue_route,
        &[
            "RuntimeError",
            "config load failed: bad port",
            "ValueError",
            "_load_config",
            "conformance@1.0.0",
        ],
    );
    contains_all(
        &feedback_route,
        &[
            "User feedback (1)",
            "It broke when I clicked the button.",
            "Jane Doe",
        ],
    );
    assert!(
        !text(&issue_route).contains("User feedback"),
        "an issue without feedback shows no such section"
    );
    contains_all("#/transactions", &["conformance-transaction"]);
    contains_all(
        "#/spans",
        &[
            "Spans",
            "child span 1",
            "transaction conformance-transaction",
        ],
    );
    contains_all(
        &trace_route,
        &["conformance-transaction", "child span 1", "level1"],
    );
    contains_all("#/releases", &["conformance@1.0.0"]);
    contains_all("#/client-reports", &["Client reports"]);
    // Every feedback, whether or not it is about an event.
    contains_all(
        "#/feedback",
        &[
            "User feedback",
            "It broke when I clicked the button.",
            "Jane Doe",
            "event that receives user feedback",
            // Every project is shown: each row names its own.
            "Project",
            "project-42",
        ],
    );
    contains_all(
        "#/logs",
        &[
            "Logs",
            // Clock times to the millisecond, local (each tooltip gives
            // the offset of its own date).
            "Time (local)",
            "structured log 1234 processed",
            "structured log warning for jane",
        ],
    );
    contains_all("#/live", &["RuntimeError"]);
    // Nothing matched: said so, rather than that no SDK sends logs.
    let none = text("#/logs?query=no-such-line");
    assert!(none.contains("No log lines match these filters"), "{none}");
    assert!(!none.contains("enable_logs"), "{none}");
}

#[test]
fn the_issue_list_filters_and_the_status_buttons_work() {
    let server = fixture_server();
    let id = chained_issue(&server);
    let id_text = id.to_string();
    let steps = run_page_script("issues.js", &[&server.url(), server.token(), &id_text]);
    let step = |name: &str| -> (String, String) {
        let s = line(&steps, "step", name);
        (
            s["hash"].as_str().unwrap_or_default().to_owned(),
            s["text"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let (_, list) = step("list");
    assert!(list.contains("15 matching"), "{list}");
    // Ten rows, the page size from the address (shown in the select).
    assert_eq!(list.matches(" PROJECT-42-").count(), 10, "{list}");
    assert!(list.contains("10 25 50 100"), "{list}");

    let (hash, warnings) = step("warnings");
    assert!(hash.contains("level=warning"), "{hash}");
    assert!(hash.contains("limit=10"), "{hash}");
    assert!(
        warnings.contains("Disk usage above threshold"),
        "{warnings}"
    );
    assert!(warnings.contains("2 matching"), "{warnings}");
    assert!(!warnings.contains("RuntimeError"), "{warnings}");

    let (hash, _) = step("other project");
    assert!(hash.contains("level=warning"), "{hash}");
    assert!(!hash.contains("cursor"), "{hash}");

    let (_, resolved) = step("resolved");
    assert!(resolved.contains("Unresolve"), "{resolved}");
    let (_, reopened) = step("reopened");
    assert!(reopened.contains("Resolve in next release"), "{reopened}");
    let (_, ignored) = step("ignored");
    assert!(ignored.contains(" ignored "), "{ignored}");
    // Resolved in the release after the latest, and said so; the activity
    // in words, not as JSON.
    let (_, next) = step("next release");
    assert!(
        next.contains("resolved in the next release after conformance@1.0.0"),
        "{next}"
    );
    assert!(
        next.contains("Resolved in the next release after conformance@1.0.0")
            && next.contains("Ignored")
            && next.contains("Reopened"),
        "{next}"
    );
    assert!(!next.contains("{\"version\""), "{next}");
    // What the buttons did is what the receiver holds: the last status,
    // and one activity entry per button.
    let issue: serde_json::Value = server
        .api_json(&format!("/api/0/issues/{id}/"))
        .expect("issue");
    assert_eq!(issue["status"], "resolved");
    assert_eq!(issue["statusDetails"]["inNextRelease"], true);
    let activity = issue["activity"].as_array().cloned().unwrap_or_default();
    assert_eq!(activity.len(), 5, "{activity:?}");
}

#[test]
fn a_read_only_token_sees_no_buttons_that_would_be_refused() {
    let server = fixture_server();
    let token = server.create_token(tokens::Scope::Read).expect("token");
    let issue = format!("#/issues/{}", chained_issue(&server));
    let views = run_page_script("views.js", &[&server.url(), &token, &issue, "#/quotas"]);
    let text = |route: &str| -> String {
        let v = line(&views, "route", route);
        assert_eq!(v["errors"], serde_json::json!([]), "{v}");
        v["text"].as_str().unwrap_or_default().to_owned()
    };
    let shown = text(&issue);
    assert!(shown.contains("read-only token"), "{shown}");
    for absent in ["Resolve", "Ignore", "Unresolve"] {
        assert!(!shown.contains(absent), "{absent} shown: {shown}");
    }
    let quotas = text("#/quotas");
    assert!(quotas.contains("read-only"), "{quotas}");
    assert!(!quotas.contains("Add a quota"), "{quotas}");
}

#[test]
fn a_token_after_a_route_in_the_address_is_taken_and_removed() {
    let server = TestServer::start();
    for (start, left) in [
        ("#/issues#token=TOKEN", "#/issues"),
        ("#token=TOKEN&x=1", "#/issues"),
        ("#/releases?token=TOKEN", "#/releases"),
        // The parameters after the token stay the page's parameters.
        ("#/issues#token=TOKEN&level=error", "#/issues?level=error"),
        (
            "#/issues?query=a#token=TOKEN&level=error",
            "#/issues?query=a&level=error",
        ),
    ] {
        let lines = run_page_script("fragment_token.js", &[&server.url(), server.token(), start]);
        let out = &lines[0];
        assert_eq!(out["stored"], server.token(), "{start}: not taken: {out}");
        let hash = out["hash"].as_str().unwrap_or("");
        assert!(
            !hash.contains(server.token()),
            "{start}: left in the address: {hash}"
        );
        assert_eq!(hash, left, "{start}");
        let text = out["text"].as_str().unwrap_or("");
        assert!(!text.contains("No such page"), "{start}: {text}");
    }
}

/// A token from the "Web UI:" link is kept for its tab only; the header
/// offers to remember it for new tabs, and forgetting it forgets both.
#[test]
fn the_header_offers_to_remember_a_token_kept_for_one_tab() {
    let server = TestServer::start();
    let steps = run_page_script("remember.js", &[&server.url(), server.token()]);
    let state = |step: &str| {
        let s = line(&steps, "step", step);
        (s["offered"].as_bool(), s["remembered"].as_bool())
    };
    assert_eq!(state("arrived"), (Some(true), Some(false)));
    assert_eq!(state("clicked"), (Some(false), Some(true)));
    assert_eq!(state("forgotten"), (Some(false), Some(false)));
}

#[test]
fn a_monitor_is_deleted_from_its_view() {
    let server = TestServer::start();
    for slug in ["nightly", "hourly"] {
        send_check_in(
            &server,
            &serde_json::json!({"monitor_slug": slug, "status": "ok",
                "monitor_config": {"schedule": "0 * * * *"}}),
        );
    }
    let reader = server.create_token(tokens::Scope::Read).expect("token");
    let steps = run_page_script("monitors.js", &[&server.url(), server.token(), &reader]);
    let read_only = line(&steps, "step", "read-only")["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(read_only.contains("Cron monitor nightly"), "{read_only}");
    assert!(
        !read_only.contains("Delete monitor") && !read_only.contains("Mute monitor"),
        "{read_only}"
    );
    let chosen = line(&steps, "step", "chosen")["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(chosen.contains("Cron monitor nightly"), "{chosen}");
    assert!(chosen.contains("Delete monitor"), "{chosen}");
    // Muted from its button: the list marks it, the button now unmutes.
    let muted = line(&steps, "step", "muted")["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        muted.contains("Unmute monitor") && muted.contains("muted"),
        "{muted}"
    );
    let deleted = line(&steps, "step", "deleted");
    assert_eq!(deleted["hash"], "#/monitors", "back to the list: {deleted}");
    let text = deleted["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("hourly") && !text.contains("nightly"),
        "{text}"
    );
    let dialogs = line(&steps, "step", "dialogs")["dialogs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(dialogs.len(), 1, "asked first: {dialogs:?}");
    assert_eq!(dialogs[0]["kind"], "confirm");
    // The receiver agrees: nightly's runs are gone, hourly's are not.
    let monitors = server
        .api_json::<serde_json::Value>("/api/0/local/monitors/")
        .expect("monitors");
    let slugs: Vec<&str> = monitors
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["monitorSlug"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(slugs, ["hourly"]);
}

/// Posts an envelope to `server`'s default project, which must take it.
fn post_envelope(server: &TestServer, body: &[u8]) {
    let r = receiver::testing::post(
        &server.envelope_url(),
        &[("X-Sentry-Auth", server.sentry_auth().as_str())],
        body,
    )
    .expect("post");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// Posts one `check_in` item to `server`, which must take it.
fn send_check_in(server: &TestServer, payload: &serde_json::Value) {
    post_envelope(
        server,
        format!("{{}}\n{{\"type\":\"check_in\"}}\n{payload}\n").as_bytes(),
    );
}

#[test]
fn the_crons_view_lists_monitors_and_a_monitors_check_ins() {
    let server = TestServer::start();
    let send = |payload: serde_json::Value| send_check_in(&server, &payload);
    let run = "83a7c03ed0a04e1b97e2e3b18d38f244";
    send(serde_json::json!({
        "check_in_id": run, "monitor_slug": "nightly-backup", "status": "in_progress",
        "monitor_config": {"schedule": {"type": "crontab", "value": "0 3 * * *"},
                           "timezone": "Europe/Vienna", "checkin_margin": 10, "max_runtime": 45}
    }));
    send(serde_json::json!({
        "check_in_id": run, "monitor_slug": "nightly-backup", "status": "error", "duration": 12.5
    }));
    // Markup in what an SDK sent stays text.
    send(serde_json::json!({
        "monitor_slug": "hourly-sync", "status": "ok",
        "monitor_config": {"schedule": {"type": "interval", "value": 2, "unit": "hour"},
                           "max_runtime": "<b>soon</b>"}
    }));
    let routes = [
        "#/monitors",
        "#/monitors?monitor=nightly-backup",
        "#/monitors?monitor=hourly-sync",
    ];
    let views = open_views(&server, &routes);
    let text = |route: &str| view_text(&views, route);
    let list = text("#/monitors");
    for wanted in [
        "Cron monitors",
        "nightly-backup",
        "error",
        "0 3 * * *",
        "every 2 hours",
        "config problem",
        "error 1",
        "ok 1",
        // When the next run is due: two hours after the sync's run
        // (counted from its minute).
        "Next due",
        "in 1h",
    ] {
        assert!(list.contains(wanted), "{wanted:?} not in {list}");
    }
    let one = text("#/monitors?monitor=nightly-backup");
    for wanted in [
        "Configuration",
        "0 3 * * *",
        "Europe/Vienna",
        "10 min",
        "45 min",
        "Check-ins",
        "error",
        "12.5 s",
        "Last update",
        run,
    ] {
        assert!(one.contains(wanted), "{wanted:?} not in {one}");
    }
    assert!(
        !one.contains("in_progress"),
        "the run's in_progress is merged into its final update: {one}"
    );
    let other = text("#/monitors?monitor=hourly-sync");
    for wanted in [
        "every 2 hours",
        "UTC (default)",
        "30 min (default)",
        "problems",
        "max_runtime",
        "<b>soon</b>",
    ] {
        assert!(other.contains(wanted), "{wanted:?} not in {other}");
    }
}

#[test]
fn the_crons_view_says_when_runs_are_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("receiver.sqlite");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    // An hourly job's last run three hours ago.
    let then = (now / 3600.0).floor() * 3600.0 - 3.0 * 3600.0 + 1.0;
    let server_at = |t: Option<f64>| {
        let builder = TestServer::builder().db_path(&path);
        match t {
            Some(t) => builder
                .clock(receiver::config::Clock::Fixed(
                    sentry_core::protocol::Timestamp::from_secs_f64(t),
                ))
                .start(),
            None => builder.start(),
        }
    };
    {
        let server = server_at(Some(then));
        send_check_in(
            &server,
            &serde_json::json!({
                "monitor_slug": "hourly-report", "status": "ok",
                "monitor_config": {"schedule": {"type": "crontab", "value": "0 * * * *"}}
            }),
        );
    }
    let server = server_at(None);
    // The job also runs in staging, on time: only production misses runs.
    send_check_in(
        &server,
        &serde_json::json!({"monitor_slug": "hourly-report", "status": "ok",
                            "environment": "staging"}),
    );
    // Another job fails: its incident is shown, linked to its issue.
    send_check_in(
        &server,
        &serde_json::json!({"monitor_slug": "backup", "status": "error"}),
    );
    let one = "#/monitors?monitor=hourly-report";
    let failing = server.wait_for_issues(1, std::time::Duration::from_secs(5));
    let issue_page = format!("#/issues/{}", failing[0].id);
    let views = run_page_script(
        "views.js",
        &[
            &server.url(),
            server.token(),
            "#/monitors",
            one,
            &issue_page,
        ],
    );
    // The monitor's issue shows its failure like any issue.
    let shown_issue = line(&views, "route", &issue_page);
    assert_eq!(
        shown_issue["errors"],
        serde_json::json!([]),
        "{shown_issue}"
    );
    let text = shown_issue["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("Monitor failure: backup")
            && text.contains("An error check-in was detected")
            && text.contains("cron monitor"),
        "{text}"
    );
    // The monitor's runs list the missed ones, inferred.
    let runs = line(&views, "route", one);
    assert_eq!(runs["errors"], serde_json::json!([]), "{runs}");
    let listed = runs["text"].as_str().unwrap_or_default();
    assert!(
        listed.contains("none (inferred)") && listed.contains("missed") && !listed.contains("null"),
        "{listed}"
    );
    let v = line(&views, "route", "#/monitors");
    assert_eq!(v["errors"], serde_json::json!([]), "{v}");
    let shown = v["text"].as_str().unwrap_or_default();
    // 2h ago, or 3h should the hour turn while the test runs.
    assert!(
        shown.contains("missed since 2h ago in production")
            || shown.contains("missed since 3h ago in production"),
        "{shown}"
    );
    assert!(
        ["missed 2", "missed 3", "missed 4"]
            .iter()
            .any(|m| shown.contains(m)),
        "{shown}"
    );
    assert_eq!(shown.matches("failing since").count(), 1, "{shown}");
}

#[test]
fn the_metrics_view_totals_and_lists_samples() {
    let server = TestServer::start();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let sample = |name: &str, ty: &str, value: f64| {
        serde_json::json!({"timestamp": now - 10.0, "name": name, "type": ty, "value": value,
            "unit": "millisecond", "trace_id": "ab".repeat(16),
            "attributes": {"sentry.environment": {"type": "string", "value": "prod"}}})
    };
    let items = serde_json::json!({"items": [
        sample("checkout.latency", "distribution", 120.0),
        sample("checkout.latency", "distribution", 80.5),
        sample("cart.size", "gauge", 3.0),
    ]});
    let body = format!(
        "{{}}\n{{\"type\":\"trace_metric\",\"item_count\":3,\
         \"content_type\":\"application/vnd.sentry.items.trace-metric+json\"}}\n{items}\n"
    );
    post_envelope(&server, body.as_bytes());
    let routes = [
        "#/metrics",
        "#/metrics?name=cart.size",
        "#/metrics?query=no-such-metric",
    ];
    let mut args = vec![server.url(), server.token().to_owned()];
    args.extend(routes.iter().map(|r| (*r).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let views = run_page_script("views.js", &args);
    let text = |route: &str| {
        let view = line(&views, "route", route);
        assert_eq!(view["errors"], serde_json::json!([]), "{view}");
        view["text"].as_str().unwrap_or_default().to_owned()
    };
    let all = text("#/metrics");
    // The totals: two latency samples (sum 200.5, average 100.25, the
    // last received 80.5) and one gauge; then the samples.
    for part in [
        "Metrics",
        "checkout.latency",
        "distribution",
        "200.5",
        "100.25",
        "80.5",
        "cart.size",
        "gauge",
        "Samples",
        "prod",
    ] {
        assert!(all.contains(part), "{part:?} in {all}");
    }
    let gauge = text("#/metrics?name=cart.size");
    assert!(gauge.contains("cart.size"), "{gauge}");
    assert!(!gauge.contains("checkout.latency"), "{gauge}");
    let none = text("#/metrics?query=no-such-metric");
    assert!(
        none.contains("No metric samples match these filters"),
        "{none}"
    );
}

/// Sends `n` events of each grouping `fingerprint`, titled
/// `{fingerprint} failed`.
fn send_fingerprinted(server: &TestServer, groups: &[(&str, usize)]) {
    for (fingerprint, n) in groups {
        for _ in 0..*n {
            let body = format!(
                "{{}}\n{{\"type\":\"event\"}}\n{}\n",
                serde_json::json!({"message": format!("{fingerprint} failed"),
                                   "fingerprint": [fingerprint]})
            );
            post_envelope(server, body.as_bytes());
        }
    }
}

/// A trace across two services: each root and each span whose project
/// differs from its parent's names its project, as `receiver trace` does.
#[test]
fn a_trace_across_services_names_each_spans_project() {
    let server = TestServer::start();
    let other_key = "0123456789abcdef0123456789abcdef";
    server.add_project(2, other_key).expect("project 2");
    let trace = "9260caabec714f2fb5798cb133d0323d";
    let now = sentry_core::protocol::Timestamp::now().as_secs_f64() - 5.0;
    let tx = |name: &str, span: &str, parent: Option<&str>, start: f64| {
        serde_json::json!({"type": "transaction", "transaction": name,
            "start_timestamp": start, "timestamp": start + 0.2,
            "contexts": {"trace": {"trace_id": trace, "span_id": span,
                                   "parent_span_id": parent, "op": "http.server"}}})
    };
    let send = |project: i64, key: &str, payload: serde_json::Value| {
        let body = format!("{{}}\n{{\"type\":\"transaction\"}}\n{payload}\n");
        let auth = format!("Sentry sentry_key={key}, sentry_version=7");
        let r = receiver::testing::post(
            &format!("{}/api/{project}/envelope/", server.url()),
            &[("X-Sentry-Auth", auth.as_str())],
            body.as_bytes(),
        )
        .expect("post");
        assert_eq!(r.status, 200);
    };
    send(
        1,
        server.public_key(),
        tx("GET /checkout", "a000000000000001", None, now),
    );
    send(
        2,
        other_key,
        tx(
            "GET /stock",
            "b000000000000002",
            Some("a000000000000001"),
            now + 0.05,
        ),
    );
    let route = format!("#/traces/{}", &trace[..8]);
    let views = open_views(&server, &[&route]);
    let page = view_text(&views, &route);
    assert!(page.contains("projects default, project-2"), "{page}");
    let root = page.find("default http.server").unwrap_or(usize::MAX);
    let child = page.find("project-2 http.server").unwrap_or(0);
    assert!(root < child, "{page}");
}

/// A message captured with a stack trace (Node's captureMessage with
/// attachStacktrace: a synthetic exception) is titled by its crash
/// function, as Sentry titles it; the list shows the message under it.
#[test]
fn the_issue_list_shows_a_message_its_title_does_not() {
    let server = TestServer::start();
    let event = serde_json::json!({"level": "info", "message": "with attachment",
        "platform": "node",
        "exception": {"values": [{"value": "with attachment",
            "mechanism": {"type": "generic", "synthetic": true, "handled": true},
            "stacktrace": {"frames": [{"function": "runScenario", "module": "run",
                                        "filename": "/app/run.js", "in_app": true}]}}]}});
    post_envelope(
        &server,
        format!("{{}}\n{{\"type\":\"event\"}}\n{event}\n").as_bytes(),
    );
    server.wait_for_events(1, Duration::from_secs(5));
    let views = open_views(&server, &["#/issues"]);
    let list = view_text(&views, "#/issues");
    assert!(
        list.contains("runScenario"),
        "titled by its function: {list}"
    );
    assert!(list.contains("with attachment"), "{list}");
}

/// A deep recursion: "Why grouped" folds the frames it ignored into one
/// line that says how many and why, and keeps those that count in view.
#[test]
fn why_grouped_folds_the_frames_a_recursion_ignored() {
    let server = TestServer::start();
    let frame = |function: &str| serde_json::json!({"function": function, "module": "app.walk", "in_app": true});
    let mut frames = vec![frame("main")];
    frames.extend((0..40).map(|_| frame("walk")));
    frames.push(frame("leaf"));
    let event = serde_json::json!({"exception": {"values": [{"type": "RecursionError",
        "value": "too deep", "stacktrace": {"frames": frames}}]}});
    post_envelope(
        &server,
        format!("{{}}\n{{\"type\":\"event\"}}\n{event}\n").as_bytes(),
    );
    server.wait_for_events(1, Duration::from_secs(5));
    let id = server.issues()[0].id;
    let route = format!("#/issues/{id}");
    let views = open_views(&server, &[&route]);
    let page = view_text(&views, &route);
    assert!(
        page.contains("39 frames that do not contribute (ignored due to recursion)"),
        "{page}"
    );
    assert!(page.contains("leaf") && page.contains("main"), "{page}");
}

#[test]
fn issues_are_merged_from_the_issue_page() {
    let server = TestServer::start();
    send_fingerprinted(&server, &[("alpha", 1), ("beta", 2), ("gamma", 1)]);
    server.wait_for_events(4, Duration::from_secs(10));
    let issue = |title: &str| {
        server
            .issues()
            .into_iter()
            .find(|i| i.title == title)
            .unwrap_or_else(|| panic!("no issue {title}"))
    };
    let (alpha, beta, gamma) = (
        issue("alpha failed"),
        issue("beta failed"),
        issue("gamma failed"),
    );
    let short = |id: i64| {
        server
            .api_json::<serde_json::Value>(&format!("/api/0/issues/{id}/"))
            .expect("issue")["shortId"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let others = format!("{}, {}", short(beta.id), short(gamma.id));
    let steps = run_page_script(
        "merge.js",
        &[
            &server.url(),
            server.token(),
            &alpha.id.to_string(),
            &others,
        ],
    );
    let shown = line(&steps, "step", "shown")["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(shown.contains("Merge with"), "{shown}");
    // Beta was seen most: the page went to it, now with all four events.
    let merged = line(&steps, "step", "merged");
    assert_eq!(merged["hash"], format!("#/issues/{}", beta.id), "{merged}");
    let text = merged["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("beta failed") && text.contains("Merged 2 issues into this one"),
        "{text}"
    );
    let left = server.issues();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!((left[0].id, left[0].times_seen), (beta.id, 4));
}

#[test]
fn fingerprint_rules_are_set_from_the_grouping_view() {
    let server = TestServer::start();
    let rules = "error.type:DatabaseUnavailable -> system-down title=\"Database down\"";
    let steps = run_page_script("grouping.js", &[&server.url(), server.token(), rules]);
    let shown = line(&steps, "step", "shown")["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        shown.contains("Grouping rules") && shown.contains("Save rules"),
        "{shown}"
    );
    let saved = line(&steps, "step", "saved")["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(saved.contains("Saved"), "{saved}");
    let refused = line(&steps, "step", "refused")["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        refused.contains("line 1") && refused.contains("unknown matcher"),
        "{refused}"
    );
    // The receiver has the rules that parsed, not the ones refused.
    let project = server
        .api_json::<serde_json::Value>("/api/0/projects/local/default/")
        .expect("project");
    assert_eq!(project["fingerprintingRules"], rules);
}

#[test]
fn issues_are_merged_from_the_list() {
    let server = TestServer::start();
    send_fingerprinted(&server, &[("one", 2), ("two", 1), ("three", 1)]);
    server.wait_for_events(4, Duration::from_secs(10));
    let id = |title: &str| {
        server
            .issues()
            .into_iter()
            .find(|i| i.title == title)
            .map(|i| i.id)
            .unwrap_or_else(|| panic!("no issue {title}"))
    };
    let (one, two) = (id("one failed"), id("two failed"));
    let steps = run_page_script(
        "merge_list.js",
        &[
            &server.url(),
            server.token(),
            &two.to_string(),
            &one.to_string(),
        ],
    );
    let ticked = line(&steps, "step", "ticked")["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(ticked.contains("Merge selected (2)"), "{ticked}");
    // The issue seen most stayed, and the page went to it.
    let merged = line(&steps, "step", "merged");
    assert_eq!(merged["hash"], format!("#/issues/{one}"), "{merged}");
    let mut left: Vec<(String, i64)> = server
        .issues()
        .into_iter()
        .map(|i| (i.title, i.times_seen))
        .collect();
    left.sort();
    assert_eq!(
        left,
        [("one failed".to_owned(), 3), ("three failed".to_owned(), 1)]
    );
}

/// A span of the trace view, clicked, shows its data as its SDK sent it
/// (the Python SDK's thread name here) below its columns.
#[test]
fn a_clicked_span_shows_the_data_its_sdk_sent() {
    let server = fixture_server();
    let steps = run_page_script(
        "span_detail.js",
        &[
            &server.url(),
            server.token(),
            // By its first digits, as the tables show trace ids.
            "675d4fa3",
            "child span 1",
        ],
    );
    let panel = line(&steps, "step", "panel")["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(panel.contains("Span 95b75ed81379e067"), "{panel}");
    assert!(
        panel.contains("Data") && panel.contains("thread.name") && panel.contains("MainThread"),
        "{panel}"
    );
}

/// The Profiles view lists a transaction's profile, and the profile's page
/// gives its functions by self time, for the transaction's thread or
/// another one picked.
#[test]
fn the_profiles_view_says_where_a_transactions_time_went() {
    let server = TestServer::start();
    let tx = "abcdef0123456789abcdef0123456789";
    let samples: Vec<serde_json::Value> = (0..10u64)
        .map(|i| {
            serde_json::json!({"stack_id": if i < 7 { 0 } else { 1 }, "thread_id": "7",
                               "elapsed_since_start_ns": (i * 10_000_000).to_string()})
        })
        .chain([serde_json::json!({"stack_id": 1, "thread_id": "9",
                                    "elapsed_since_start_ns": "0"})])
        .collect();
    let profile = serde_json::json!({
        "event_id": "11111111111111111111111111111111", "platform": "python", "version": "1",
        "transactions": [{"id": tx, "name": "nightly-report", "active_thread_id": "7",
                          "trace_id": "6bf92f3577b34da6a3ce929d0e0e4736",
                          "relative_start_ns": "0", "relative_end_ns": "100000000"}],
        "profile": {
            "frames": [{"function": "render_rows", "module": "report", "in_app": true},
                       {"function": "run_query", "module": "db"}],
            "stacks": [[0], [1]],
            "thread_metadata": {"7": {"name": "MainThread"}, "9": {"name": "flusher"}},
            "samples": samples}});
    post_envelope(
        &server,
        format!("{{\"event_id\":\"{tx}\"}}\n{{\"type\":\"profile\"}}\n{profile}\n").as_bytes(),
    );
    let routes = [
        "#/profiles",
        "#/profiles/abcdef01",
        "#/profiles/abcdef01?thread=9",
    ];
    let views = open_views(&server, &routes);
    let text = |route: &str| view_text(&views, route);
    let list = text("#/profiles");
    assert!(
        list.contains("nightly-report") && list.contains("python"),
        "{list}"
    );
    let page = text("#/profiles/abcdef01");
    assert!(page.contains("Profile of nightly-report"), "{page}");
    assert!(page.contains("MainThread (10 samples)"), "{page}");
    let render = page.find("render_rows").unwrap_or(usize::MAX);
    let query = page.find("run_query").unwrap_or(0);
    assert!(render < query, "slowest first: {page}");
    assert!(page.contains("70.0%") || page.contains("70%"), "{page}");
    let other = text("#/profiles/abcdef01?thread=9");
    assert!(other.contains("flusher (1 samples)"), "{other}");
    assert!(
        other.contains("run_query") && !other.contains("render_rows"),
        "{other}"
    );
}

/// A receiver whose clock says when the official Node profiler sent the
/// envelopes under `tests/data/{fixtures}` (older transactions would be
/// moved to the receive time), with them received.
fn captured_node_server(fixtures: &str) -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::builder()
        .db_path(dir.path().join("db.sqlite"))
        .clock(receiver::config::Clock::Fixed(
            sentry_core::protocol::Timestamp::from_secs_f64(1_795_974_025.0),
        ))
        .start();
    for n in 1..=4 {
        let path = format!(
            "{}/tests/data/{fixtures}/0{n}.envelope",
            env!("CARGO_MANIFEST_DIR")
        );
        post_envelope(&server, &std::fs::read(&path).expect("fixture"));
    }
    (dir, server)
}

/// Continuous profiling (the official Node profiler's envelopes): the
/// Profiles view lists the profiler's session, its page summarises it, and
/// a transaction it sampled has its profile, which names the session.
#[test]
fn the_profiles_view_shows_continuous_profilers_and_their_transactions() {
    let (_dir, server) = captured_node_server("node_continuous");
    let routes = ["#/profiles", "#/profilers/73c53d24", "#/profiles/96451041"];
    let views = open_views(&server, &routes);
    let text = |route: &str| view_text(&views, route);
    let list = text("#/profiles");
    assert!(list.contains("No transaction profiles"), "{list}");
    assert!(
        list.contains("Continuous profilers") && list.contains("73c53d24") && list.contains("182"),
        "{list}"
    );
    let session = text("#/profilers/73c53d24");
    assert!(
        session.contains("Continuous profiler 73c53d24"),
        "{session}"
    );
    assert!(session.contains("main (182 samples)"), "{session}");
    assert!(session.contains("fib"), "{session}");
    let tx = text("#/profiles/96451041");
    assert!(tx.contains("Profile of cpu-work"), "{tx}");
    assert!(tx.contains("continuous profiler 73c53d24"), "{tx}");
    assert!(tx.contains("fib"), "{tx}");
    // The trace leads there: the transaction's root span links its profile.
    let steps = run_page_script(
        "span_detail.js",
        &[&server.url(), server.token(), "51e79b3c", "cpu-work"],
    );
    let panel = line(&steps, "step", "panel")["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        panel
            .contains("Profile: where this transaction's time went (from its continuous profiler)"),
        "{panel}"
    );
}

/// More continuous profilers than a page: the Profiles page links the
/// earlier ones.
#[test]
fn the_profiles_page_pages_through_continuous_profilers() {
    let server = TestServer::start();
    let now = sentry_core::protocol::Timestamp::now().as_secs_f64() - 60.0;
    for i in 0..27u32 {
        let id = format!("{:032x}", 0xabc0_0000u64 + u64::from(i));
        let chunk = serde_json::json!({"version": "2", "platform": "python",
            "profiler_id": id, "chunk_id": id,
            "profile": {"frames": [{"function": "work"}], "stacks": [[0]],
                "samples": [{"timestamp": now + f64::from(i), "thread_id": "1", "stack_id": 0},
                            {"timestamp": now + f64::from(i) + 0.01, "thread_id": "1", "stack_id": 0}]}});
        post_envelope(
            &server,
            format!("{{}}\n{{\"type\":\"profile_chunk\",\"platform\":\"python\"}}\n{chunk}\n")
                .as_bytes(),
        );
    }
    let page: serde_json::Value = server
        .api_json("/api/0/local/profilers/")
        .expect("profilers");
    let cursor = page["cursor"].as_str().unwrap_or_default().to_owned();
    assert!(!cursor.is_empty(), "{page}");
    let second = format!("#/profiles?pcursor={}", cursor.replace(':', "%3A"));
    let views = open_views(&server, &["#/profiles", &second]);
    let first = view_text(&views, "#/profiles");
    assert!(first.contains("Earlier profilers"), "{first}");
    // The newest 25 first (a row each, with its platform); the two
    // earliest on the next page.
    assert_eq!(first.matches("python").count(), 25, "{first}");
    let rest = view_text(&views, &second);
    assert_eq!(rest.matches("python").count(), 2, "{rest}");
    assert!(!rest.contains("Earlier profilers"), "{rest}");
}

/// Node's default span streaming: a segment's root span links the
/// profile of its time, from the profiler it names.
#[test]
fn a_streamed_segment_links_its_profilers_samples_over_its_time() {
    let (_dir, server) = captured_node_server("node_streamed");
    let steps = run_page_script(
        "span_detail.js",
        &[&server.url(), server.token(), "f2040230", "cpu-work"],
    );
    let panel = line(&steps, "step", "panel")["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        panel.contains("Profile: where this segment's time went"),
        "{panel}"
    );
    let route = "#/profilers/98864f66?start=1795974005.901448&end=1795974007.444227";
    let views = open_views(&server, &[route]);
    let page = view_text(&views, route);
    assert!(page.contains("only the samples from"), "{page}");
    assert!(page.contains("fib"), "{page}");
}

/// Opens each of `routes` in the web page against `server` (views.js):
/// one JSON line per route.
fn open_views(server: &TestServer, routes: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec![server.url(), server.token().to_owned()];
    args.extend(routes.iter().map(|r| (*r).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_page_script("views.js", &args)
}

/// The text `route` showed in `views`, which must show no error.
fn view_text(views: &[serde_json::Value], route: &str) -> String {
    let v = line(views, "route", route);
    assert_eq!(v["errors"], serde_json::json!([]), "{route}: {v}");
    v["text"].as_str().unwrap_or_default().to_owned()
}
