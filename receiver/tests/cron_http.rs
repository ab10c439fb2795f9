//! The HTTP check-in route of Sentry Crons
//! (`api/{project_id}/cron/{monitor_slug}/[{public_key}/]`), as a job that
//! reports with `curl` uses it, against a real receiver over loopback: what
//! it answers, and the runs and monitors the API then shows.

mod api_support;

use std::time::Duration;

use api_support::get_ok;
use receiver::store::quotas::NewQuota;
use receiver::testing::{request, TestResponse};
use receiver::TestServer;
use serde_json::{json, Value};

const RUN: &str = "83a7c03e-d0a0-4e1b-97e2-e3b18d38f244";
const RUN_HEX: &str = "83a7c03ed0a04e1b97e2e3b18d38f244";
const OTHER_RUN: &str = "93a7c03ed0a04e1b97e2e3b18d38f244";

/// `method` on `path` (under the server's URL) with `headers` and `body`.
fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> TestResponse {
    request(method, &format!("{}{path}", server.url()), headers, body).expect("request")
}

/// A `GET` of `path` (under the server's URL).
fn get(server: &TestServer, path: &str) -> TestResponse {
    call(server, "GET", path, &[], b"")
}

/// A `GET` with the key in the path, as Sentry's Crons setup shows it.
fn curl(server: &TestServer, slug: &str, query: &str) -> TestResponse {
    get(
        server,
        &format!("/api/1/cron/{slug}/{}/?{query}", server.public_key()),
    )
}

fn accepted(r: &TestResponse) {
    assert_eq!(
        r.status,
        202,
        "{:?}: {}",
        r.header("x-sentry-error"),
        String::from_utf8_lossy(&r.body)
    );
    assert!(r.body.is_empty(), "202 has no body");
}

/// The check-ins of `slug`, newest first.
fn check_ins(server: &TestServer, slug: &str) -> Vec<Value> {
    let list = get_ok(server, &format!("/api/0/local/check-ins/?monitor={slug}"));
    list.as_array().cloned().unwrap_or_default()
}

fn monitor(server: &TestServer, slug: &str) -> Option<Value> {
    let list = get_ok(server, "/api/0/local/monitors/");
    list.as_array()?
        .iter()
        .find(|m| m["monitorSlug"] == slug)
        .cloned()
}

#[test]
fn a_job_reporting_with_get_requests_makes_one_run_per_start_and_end() {
    let server = TestServer::start();
    accepted(&curl(&server, "nightly-backup", "status=in_progress"));
    std::thread::sleep(Duration::from_millis(300));
    // No check_in_id: it finishes the latest run in progress.
    accepted(&curl(&server, "nightly-backup", "status=ok"));
    accepted(&curl(
        &server,
        "nightly-backup",
        "status=error&environment=staging&duration=4.5",
    ));
    let rows = check_ins(&server, "nightly-backup");
    assert_eq!(rows.len(), 2, "{rows:?}");
    // No environment is Sentry's `production`.
    let production = rows
        .iter()
        .find(|k| k["environment"].is_null())
        .expect("the run without an environment");
    assert_eq!(production["status"], "ok", "{rows:?}");
    let duration = production["duration"].as_f64().unwrap_or(-1.0);
    assert!(
        (0.3..30.0).contains(&duration),
        "timed from the run's start: {rows:?}"
    );
    let staging = rows
        .iter()
        .find(|k| k["environment"] == "staging")
        .expect("the staging run");
    assert_eq!(
        (&staging["status"], staging["duration"].as_f64()),
        (&json!("error"), Some(4.5)),
        "{rows:?}"
    );
    let listed = monitor(&server, "nightly-backup").expect("the monitor is listed");
    assert_eq!(
        (&listed["projectID"], &listed["checkIns"]),
        (&json!("1"), &json!(2)),
        "{listed}"
    );
}

#[test]
fn a_check_in_id_pairs_the_start_and_end_of_a_run() {
    let server = TestServer::start();
    accepted(&curl(
        &server,
        "etl",
        &format!("status=in_progress&check_in_id={RUN}"),
    ));
    // Another run starts meanwhile: the id, not the order, pairs them.
    accepted(&curl(
        &server,
        "etl",
        &format!("status=in_progress&check_in_id={OTHER_RUN}"),
    ));
    accepted(&curl(
        &server,
        "etl",
        &format!("status=ok&check_in_id={RUN}&duration=2"),
    ));
    let rows = check_ins(&server, "etl");
    let mut runs: Vec<(String, String)> = rows
        .iter()
        .map(|k| {
            (
                k["checkInID"].as_str().unwrap_or_default().to_owned(),
                k["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    runs.sort_by_key(|(id, _)| id != RUN_HEX);
    assert_eq!(runs.len(), 2, "{rows:?}");
    assert_eq!(runs[0], (RUN_HEX.to_owned(), "ok".to_owned()), "{rows:?}");
    assert_eq!(
        runs[1],
        (OTHER_RUN.to_owned(), "in_progress".to_owned()),
        "{rows:?}"
    );
}

#[test]
fn a_json_post_upserts_the_monitor_and_the_path_names_it() {
    let server = TestServer::start();
    let body = json!({
        "monitor_slug": "ignored",
        "status": "ok",
        "check_in_id": RUN_HEX,
        "duration": 12.5,
        "environment": "production",
        "monitor_config": {
            "schedule": {"type": "crontab", "value": "0 * * * *"},
            "checkin_margin": 5, "max_runtime": 30, "timezone": "Europe/Vienna"
        }
    });
    let path = format!("/api/1/cron/hourly-sync/{}/", server.public_key());
    let r = call(
        &server,
        "POST",
        &path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    accepted(&r);
    assert!(monitor(&server, "ignored").is_none());
    let hourly = monitor(&server, "hourly-sync").expect("upserted by the check-in");
    assert_eq!(
        (
            &hourly["config"]["schedule"],
            &hourly["config"]["checkinMargin"],
            &hourly["config"]["maxRuntime"],
            &hourly["config"]["timezone"],
        ),
        (
            &json!({"type": "crontab", "value": "0 * * * *"}),
            &json!(5),
            &json!(30),
            &json!("Europe/Vienna"),
        ),
        "{hourly}"
    );
    let rows = check_ins(&server, "hourly-sync");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (
            &rows[0]["checkInID"],
            &rows[0]["status"],
            &rows[0]["duration"]
        ),
        (&json!(RUN_HEX), &json!("ok"), &json!(12.5)),
        "{rows:?}"
    );
    // A gzipped JSON body is read as any body is.
    let gzipped = {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json!({"status": "error"}).to_string().as_bytes())
            .expect("gzip");
        gz.finish().expect("gzip")
    };
    let r = call(
        &server,
        "POST",
        &path,
        &[
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Encoding", "gzip"),
        ],
        &gzipped,
    );
    accepted(&r);
    assert_eq!(check_ins(&server, "hourly-sync").len(), 2);
}

#[test]
fn the_key_comes_from_the_path_a_header_or_the_query_but_only_one() {
    let server = TestServer::start();
    let key = server.public_key().to_owned();
    let sentry_auth = server.sentry_auth();
    // In a header, with the route that has no key.
    let r = call(
        &server,
        "GET",
        "/api/1/cron/by-header/?status=ok",
        &[("X-Sentry-Auth", sentry_auth.as_str())],
        b"",
    );
    accepted(&r);
    // In the query string.
    let r = call(
        &server,
        "POST",
        &format!("/api/1/cron/by-query?sentry_key={key}&status=ok"),
        &[],
        b"",
    );
    accepted(&r);
    // Two of them: a 401, as Relay answers.
    let r = call(
        &server,
        "GET",
        &format!("/api/1/cron/twice/{key}/?status=ok"),
        &[("X-Sentry-Auth", sentry_auth.as_str())],
        b"",
    );
    assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    assert!(r
        .header("x-sentry-error")
        .is_some_and(|e| e.contains("multiple authorization payloads")));
    // None: a 401 that says where the key goes.
    let r = call(&server, "GET", "/api/1/cron/none/?status=ok", &[], b"");
    assert_eq!(r.status, 401);
    assert!(r
        .header("x-sentry-error")
        .is_some_and(|e| e.contains("/cron/{monitor_slug}/{public_key}/")));
    // A key the receiver does not know, and a key of another project.
    let unknown = "0".repeat(32);
    let r = get(
        &server,
        &format!("/api/1/cron/unknown/{unknown}/?status=ok"),
    );
    assert_eq!(r.status, 403);
    let r = get(&server, &format!("/api/7/cron/elsewhere/{key}/?status=ok"));
    assert_eq!(r.status, 403);
    assert!(check_ins(&server, "by-header").len() == 1);
    assert!(check_ins(&server, "by-query").len() == 1);
    for slug in ["twice", "none", "unknown", "elsewhere"] {
        assert!(check_ins(&server, slug).is_empty(), "{slug} was stored");
    }
}

#[test]
fn a_check_in_sentry_would_drop_is_refused_with_the_reason() {
    let server = TestServer::start();
    for (query, says) in [
        ("", "status is missing"),
        ("status=missed", "status"),
        ("status=ok&duration=-3", "duration"),
        ("status=ok&check_in_id=7", "not a UUID"),
    ] {
        let r = curl(&server, "refused", query);
        assert_eq!(r.status, 400, "{query}");
        let error = r.header("x-sentry-error").unwrap_or_default().to_owned();
        assert!(error.contains(says), "{query}: {error}");
    }
    // A JSON body that is no check-in.
    let path = format!("/api/1/cron/refused/{}/", server.public_key());
    let r = call(
        &server,
        "POST",
        &path,
        &[("Content-Type", "application/json")],
        b"[\"ok\"]",
    );
    assert_eq!(r.status, 400);
    // Other methods, and paths that are no check-in route.
    assert_eq!(call(&server, "PUT", &path, &[], b"").status, 405);
    for path in [
        "/api/1/cron/",
        "/api/1/cron/a/b/c/?status=ok",
        "/api/x/cron/a/?status=ok",
    ] {
        let r = call(&server, "GET", path, &[], b"");
        assert!(matches!(r.status, 400 | 404), "{path}: {}", r.status);
    }
    assert!(check_ins(&server, "refused").is_empty());
}

#[test]
fn the_route_is_under_the_path_prefix_and_takes_head_and_encoded_slugs() {
    let server = TestServer::builder()
        .configure(|c| c.path_prefix = "/sentry/".into())
        .start();
    let key = server.public_key().to_owned();
    // `curl -I`: Relay's router takes HEAD as GET.
    let r = call(
        &server,
        "HEAD",
        &format!("/sentry/api/1/cron/Nightly%20Backup/{key}/?status=ok"),
        &[],
        b"",
    );
    assert_eq!(r.status, 202);
    let r = get(
        &server,
        &format!("/sentry//api/1/cron/nightly-backup/{key}?status=error"),
    );
    accepted(&r);
    // Outside the prefix there is no such route.
    let r = get(
        &server,
        &format!("/api/1/cron/nightly-backup/{key}/?status=ok"),
    );
    assert_eq!(r.status, 404);
    // The name as sent is made a slug, as Sentry makes it.
    let rows = check_ins(&server, "nightly-backup");
    let mut statuses: Vec<&str> = rows.iter().filter_map(|k| k["status"].as_str()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["error", "ok"], "{rows:?}");
}

#[test]
fn a_check_in_over_a_quota_is_answered_202_as_relay_does() {
    let server = TestServer::start();
    server
        .add_quota(NewQuota::project(1, &["monitor"], 0, 60))
        .expect("quota");
    let r = curl(&server, "limited", "status=ok");
    accepted(&r);
    assert!(check_ins(&server, "limited").is_empty(), "not stored");
}

#[test]
fn a_browser_may_report_check_ins_too() {
    let server = TestServer::start();
    let path = format!("/api/1/cron/from-page/{}/", server.public_key());
    let preflight = call(
        &server,
        "OPTIONS",
        &path,
        &[("Origin", "http://localhost:3000")],
        b"",
    );
    assert_eq!(preflight.status, 200);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert!(preflight
        .header("access-control-allow-methods")
        .is_some_and(|m| m.contains("GET") && m.contains("POST")));
    let r = call(
        &server,
        "GET",
        &format!("{path}?status=ok"),
        &[("Origin", "http://localhost:3000")],
        b"",
    );
    accepted(&r);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

/// Runs `curl` with `args`; its stdout and the HTTP status it printed.
fn run_curl(args: &[&str]) -> (String, u16) {
    let out = std::process::Command::new("curl")
        .args(["-s", "-S", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl (.ci/run installs it)");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    (body.to_owned(), code.trim().parse().unwrap_or(0))
}

#[test]
fn the_documented_curl_commands_work_as_written() {
    let server = TestServer::start();
    let url = format!(
        "{}/api/1/cron/nightly-backup/{}/",
        server.url(),
        server.public_key()
    );
    let (body, code) = run_curl(&[&format!("{url}?status=in_progress")]);
    assert_eq!((body.as_str(), code), ("", 202));
    let (_, code) = run_curl(&[&format!("{url}?status=ok")]);
    assert_eq!(code, 202);
    let (_, code) = run_curl(&[
        "-X",
        "POST",
        &url,
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"status":"ok","monitor_config":{"schedule":{"type":"crontab","value":"0 3 * * *"}}}"#,
    ]);
    assert_eq!(code, 202);
    let rows = check_ins(&server, "nightly-backup");
    assert_eq!(rows.len(), 2, "the first two are one run: {rows:?}");
    assert!(rows.iter().all(|k| k["status"] == "ok"), "{rows:?}");
    let listed = monitor(&server, "nightly-backup").expect("listed");
    assert_eq!(
        listed["config"]["schedule"],
        json!({"type": "crontab", "value": "0 3 * * *"}),
        "{listed}"
    );
    // A mistake is visible to a script that uses `curl -f`.
    let (body, code) = run_curl(&[&format!("{url}?status=done")]);
    assert_eq!(code, 400);
    assert!(body.contains("status"), "{body}");
}
