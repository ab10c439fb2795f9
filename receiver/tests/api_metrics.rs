//! `GET /api/0/local/metrics/` and `…/summary/`: metric samples from
//! `trace_metric` containers, newest first, with filters, cursor pages and
//! totals per metric.

mod api_support;

use api_support::{get, now, receiver_command, send};
use receiver::api::types::{MetricsPage, MetricsSummary};
use receiver::TestServer;
use serde_json::{json, Value};

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

/// One sample as the SDKs send it.
fn sample(ts: f64, name: &str, ty: &str, value: f64, env: &str) -> Value {
    json!({
        "timestamp": ts, "name": name, "type": ty, "value": value, "unit": "millisecond",
        "trace_id": TRACE, "span_id": "b0e5fcc5f8512414",
        "attributes": {
            "sentry.release": {"type": "string", "value": "app@1"},
            "sentry.environment": {"type": "string", "value": env},
            "route": {"type": "string", "value": "/cart"}
        }
    })
}

/// Sends one `trace_metric` container holding `samples`.
fn send_metrics(server: &TestServer, samples: Vec<Value>) {
    let payload = json!({"items": samples}).to_string();
    let body = format!(
        "{{}}\n{{\"type\":\"trace_metric\",\"item_count\":{},\
         \"content_type\":\"application/vnd.sentry.items.trace-metric+json\"}}\n{payload}\n",
        samples.len()
    );
    send(server, body.as_bytes());
}

fn page(server: &TestServer, query: &str) -> MetricsPage {
    server
        .api_json(&format!("/api/0/local/metrics/?{query}"))
        .unwrap_or_else(|e| panic!("metrics?{query}: {e}"))
}

fn values(p: &MetricsPage) -> Vec<f64> {
    p.metrics.iter().filter_map(|m| m.value).collect()
}

#[test]
fn samples_newest_first_with_filters_pages_and_totals() {
    let server = TestServer::start();
    let t = now() - 60.0;
    send_metrics(
        &server,
        vec![
            sample(t, "checkout.latency", "distribution", 120.0, "prod"),
            sample(t + 1.0, "checkout.latency", "distribution", 80.0, "prod"),
            sample(t + 2.0, "cart.size", "gauge", 3.0, "prod"),
        ],
    );
    send_metrics(
        &server,
        vec![
            sample(t + 3.0, "checkout.completed", "counter", 1.0, "staging"),
            sample(
                t + 4.0,
                "checkout.latency",
                "distribution",
                100.0,
                "staging",
            ),
            sample(t + 5.0, "cart.size", "gauge", 5.0, "prod"),
            json!("not a sample"),
        ],
    );

    let all = page(&server, "");
    assert_eq!(values(&all), [5.0, 100.0, 1.0, 3.0, 80.0, 120.0]);
    assert_eq!(all.cursor, None);
    let first = &all.metrics[0];
    assert_eq!(first.name.as_deref(), Some("cart.size"));
    assert_eq!(first.metric_type.as_deref(), Some("gauge"));
    assert_eq!(first.unit.as_deref(), Some("millisecond"));
    assert_eq!(first.trace_id.as_deref(), Some(TRACE));
    assert_eq!(first.span_id.as_deref(), Some("b0e5fcc5f8512414"));
    assert_eq!(first.release.as_deref(), Some("app@1"));
    assert_eq!(first.attributes["route"], "/cart");

    assert_eq!(
        values(&page(&server, "name=checkout.latency")),
        [100.0, 80.0, 120.0]
    );
    // Repeated, never split at commas: a name may hold one.
    assert!(values(&page(&server, "name=checkout.latency,cart.size")).is_empty());
    assert_eq!(
        values(&page(&server, "type=Counter&type=gauge")),
        [5.0, 1.0, 3.0]
    );
    let (status, body) = get(&server, "/api/0/local/metrics/?type=bogus");
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        values(&page(&server, "query=CHECKOUT&environment=staging")),
        [100.0, 1.0]
    );
    assert_eq!(values(&page(&server, "release=app@2")), Vec::<f64>::new());
    assert_eq!(
        values(&page(
            &server,
            &format!("start={}&end={}", t + 0.5, t + 2.5)
        )),
        [3.0, 80.0]
    );

    // Pages of two follow the cursor to the end, each sample once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let q = match &cursor {
            Some(c) => format!("limit=2&cursor={c}"),
            None => "limit=2".to_owned(),
        };
        let p = page(&server, &q);
        seen.extend(values(&p));
        cursor = p.cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, [5.0, 100.0, 1.0, 3.0, 80.0, 120.0]);

    let summary: MetricsSummary = server
        .api_json("/api/0/local/metrics/summary/?project=default")
        .expect("summary");
    assert!(summary.complete);
    // Name, type, samples, sum, min, max, average, last.
    type Row<'a> = (&'a str, &'a str, u64, f64, f64, f64, f64, f64);
    let rows: Vec<Row<'_>> = summary
        .metrics
        .iter()
        .map(|m| {
            (
                m.name.as_str(),
                m.metric_type.as_str(),
                m.samples,
                m.sum,
                m.min,
                m.max,
                m.avg,
                m.last,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("cart.size", "gauge", 2, 8.0, 3.0, 5.0, 4.0, 5.0),
            ("checkout.completed", "counter", 1, 1.0, 1.0, 1.0, 1.0, 1.0),
            (
                "checkout.latency",
                "distribution",
                3,
                300.0,
                80.0,
                120.0,
                100.0,
                100.0
            ),
        ]
    );
    let prod: MetricsSummary = server
        .api_json("/api/0/local/metrics/summary/?environment=prod&name=cart.size")
        .expect("summary");
    assert_eq!(prod.metrics.len(), 1);
    assert_eq!(prod.metrics[0].samples, 2);

    // The containers are stored as metrics, not kept raw.
    let counts = server.counts();
    assert_eq!(counts.get("trace_metrics"), Some(&2), "{counts:?}");
    assert_eq!(counts.get("raw_items"), Some(&0), "{counts:?}");

    // The CLI: samples as a table, totals with --summary.
    let run = |args: &[&str]| {
        let out = receiver_command(&server)
            .args(args)
            .output()
            .expect("run receiver");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let table = run(&["metrics", "--name", "checkout.latency", "--limit", "2"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "a head and two samples: {table}");
    assert!(
        lines[1].contains("checkout.latency") && lines[1].contains("100"),
        "{table}"
    );
    let totals = run(&["metrics", "--summary", "--type", "distribution"]);
    assert!(
        totals.lines().any(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells
                == [
                    "checkout.latency",
                    "distribution",
                    "millisecond",
                    "3",
                    "300",
                    "80",
                    "120",
                    "100",
                    "100",
                ]
        }),
        "{totals}"
    );
    let json_out = run(&["--json", "metrics", "--summary"]);
    let parsed: MetricsSummary = serde_json::from_str(&json_out).expect("summary JSON");
    assert_eq!(parsed, summary);

    // Sums past the largest number stay numbers (JSON has no infinity).
    send_metrics(
        &server,
        vec![
            sample(t + 6.0, "huge", "counter", 1e308, "prod"),
            sample(t + 7.0, "huge", "counter", 1e308, "prod"),
        ],
    );
    let huge: MetricsSummary = server
        .api_json("/api/0/local/metrics/summary/?name=huge")
        .expect("summary of huge");
    assert_eq!(huge.metrics[0].sum, f64::MAX);
    assert_eq!(huge.metrics[0].avg, 1e308);

    for q in ["trace=xyz", "cursor=x", "limit=0", "statsPeriod=soon"] {
        assert_eq!(
            get(&server, &format!("/api/0/local/metrics/?{q}")).0,
            400,
            "{q}"
        );
    }
    assert_eq!(
        get(&server, "/api/0/local/metrics/summary/?trace=xyz").0,
        400
    );
    assert_eq!(get(&server, "/api/0/local/metrics/?project=nope").0, 404);
}

/// As Relay (and as log lines): the samples of a client whose clock is
/// two hours ahead show the server's time.
#[test]
fn sample_times_are_corrected_for_client_clock_drift() {
    let server = TestServer::start();
    let ahead = 7_200.0;
    let sent = now() + ahead;
    let sent_at = sentry_core::protocol::Timestamp::from_secs_f64(sent).to_rfc3339();
    let payload = json!({"items": [sample(sent - 20.0, "cart.size", "gauge", 4.0, "prod")]});
    let body = format!(
        "{{\"sent_at\":\"{sent_at}\"}}\n{{\"type\":\"trace_metric\",\"item_count\":1}}\n{payload}\n"
    );
    send(&server, body.as_bytes());
    let p = page(&server, "statsPeriod=1h");
    assert_eq!(values(&p), [4.0]);
    let t = p.metrics[0]
        .timestamp
        .as_deref()
        .and_then(sentry_core::protocol::Timestamp::parse_rfc3339)
        .map(|t| t.as_secs_f64())
        .expect("a timestamp");
    assert!((t - (now() - 20.0)).abs() < 10.0, "{t}");
}

#[test]
fn a_missing_unit_and_none_are_one_metric_in_the_totals() {
    let server = TestServer::start();
    let t = api_support::now();
    let mut with_none = sample(t - 2.0, "queue.depth", "gauge", 17.0, "prod");
    with_none["unit"] = json!("none");
    let mut without = sample(t - 1.0, "queue.depth", "gauge", 5.0, "prod");
    without.as_object_mut().expect("object").remove("unit");
    send_metrics(&server, vec![with_none, without]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let summary = loop {
        let summary: MetricsSummary = server
            .api_json("/api/0/local/metrics/summary/")
            .expect("summary");
        if summary.metrics.iter().map(|m| m.samples).sum::<u64>() >= 2
            || std::time::Instant::now() > deadline
        {
            break summary;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(summary.metrics.len(), 1, "{:?}", summary.metrics);
    let gauge = &summary.metrics[0];
    assert_eq!((gauge.samples, gauge.last), (2, 5.0));
}
