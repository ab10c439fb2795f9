//! API contract of the local extensions: transactions, traces across
//! services, client reports, counts and the event stream.

mod api_support;
#[path = "support/spans.rs"]
mod spans_support;

use std::time::Duration;

use api_support::{event, get, ids, item, link_cursor, message, new_id};
use receiver::api::types::{ClientReports, SpanRow, Stats, StreamPage, Trace, Transaction};
use receiver::testing::post;
use receiver::TestServer;
use serde_json::{json, Value};

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

/// Sends a transaction to `project` with key `key`.
fn transaction(server: &TestServer, project: i64, key: &str, payload: Value) {
    let body = format!(
        "{{\"event_id\":\"{}\"}}\n{{\"type\":\"transaction\"}}\n{payload}\n",
        new_id()
    );
    let auth = format!("Sentry sentry_key={key}, sentry_version=7");
    let url = format!("{}/api/{project}/envelope/", server.url());
    let r = post(&url, &[("X-Sentry-Auth", auth.as_str())], body.as_bytes()).expect("post");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// A transaction payload: `(name, op, status)`, start and length,
/// `(span id, parent span id)`, child spans.
fn tx(
    (name, op, status): (&str, &str, &str),
    start: f64,
    secs: f64,
    (span, parent): (&str, Option<&str>),
    spans: Value,
) -> Value {
    json!({
        "type": "transaction", "transaction": name, "start_timestamp": start,
        "timestamp": start + secs, "environment": "prod", "release": "svc@1",
        "contexts": {"trace": {"trace_id": TRACE, "span_id": span, "parent_span_id": parent,
                               "op": op, "status": status}},
        "spans": spans
    })
}

#[test]
fn transactions_filter_sort_and_page() {
    let server = TestServer::start();
    let key = server.public_key().to_owned();
    let t0 = api_support::now() - 100.0;
    transaction(
        &server,
        1,
        &key,
        tx(
            ("GET /users", "http.server", "ok"),
            t0,
            0.120,
            ("a000000000000001", None),
            json!([]),
        ),
    );
    transaction(
        &server,
        1,
        &key,
        tx(
            ("GET /users", "http.server", "internal_error"),
            t0 + 1.0,
            2.5,
            ("a000000000000002", None),
            json!([]),
        ),
    );
    transaction(
        &server,
        1,
        &key,
        tx(
            ("process job", "queue.task", "ok"),
            t0 + 2.0,
            0.030,
            ("a000000000000003", None),
            json!([]),
        ),
    );
    let list = |q: &str| -> Vec<Transaction> {
        server
            .api_json(&format!("/api/0/local/transactions/?{q}"))
            .unwrap_or_else(|e| panic!("{q}: {e}"))
    };
    let all = list("");
    assert_eq!(all.len(), 3);
    assert_eq!(
        all[0].transaction.as_deref(),
        Some("process job"),
        "newest first"
    );
    assert!(
        (all[1].duration - 2500.0).abs() < 0.01,
        "{}",
        all[1].duration
    );
    assert_eq!(list("transaction=GET%20/users").len(), 2);
    // Names are repeated, never split at commas: a name may hold one.
    assert_eq!(
        list("transaction=GET%20/users&transaction=process%20job").len(),
        3
    );
    assert!(list("transaction=GET%20/users,process%20job").is_empty());
    assert_eq!(list("query=users").len(), 2);
    assert_eq!(list("op=queue.task").len(), 1);
    assert_eq!(list("status=internal_error").len(), 1);
    assert_eq!(list("min_duration=100").len(), 2);
    assert_eq!(list("max_duration=100").len(), 1);
    assert_eq!(list("min_duration=100&max_duration=1000").len(), 1);
    assert_eq!(list("environment=prod&release=svc@1").len(), 3);
    let slowest = list("sort=-duration");
    assert_eq!(slowest[0].status.as_deref(), Some("internal_error"));
    let fastest = list("sort=duration");
    assert_eq!(fastest[0].transaction.as_deref(), Some("process job"));
    // Pages.
    let r = server
        .api_get("/api/0/local/transactions/?sort=-duration&limit=2")
        .expect("page");
    let next = link_cursor(&r, "next").expect("next");
    let rest = list(&format!("sort=-duration&limit=2&cursor={next}"));
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].transaction.as_deref(), Some("process job"));
    for q in ["sort=slow", "min_duration=fast", "cursor=x:y"] {
        assert_eq!(
            get(&server, &format!("/api/0/local/transactions/?{q}")).0,
            400,
            "{q}"
        );
    }
}

#[test]
fn a_trace_is_one_span_tree_across_services() {
    let server = TestServer::builder()
        .project(2, "22222222222222222222222222222222")
        .start();
    let key = server.public_key().to_owned();
    let t0 = api_support::now() - 50.0;
    // Frontend service (project 1): root transaction with an HTTP client span.
    transaction(
        &server,
        1,
        &key,
        tx(
            ("checkout", "http.server", "ok"),
            t0,
            1.0,
            ("1000000000000001", None),
            json!([{"span_id": "1000000000000002", "parent_span_id": "1000000000000001",
                    "trace_id": TRACE, "op": "http.client", "description": "POST /pay",
                    "data": {"http.response.status_code": 402},
                    "start_timestamp": t0 + 0.1, "timestamp": t0 + 0.9}]),
        ),
    );
    // Payment service (project 2): continues from the HTTP client span.
    transaction(
        &server,
        2,
        "22222222222222222222222222222222",
        tx(
            ("POST /pay", "http.server", "internal_error"),
            t0 + 0.2,
            0.6,
            ("2000000000000001", Some("1000000000000002")),
            json!([{"span_id": "2000000000000002", "parent_span_id": "2000000000000001",
                    "trace_id": TRACE, "op": "db.query", "description": "UPDATE accounts",
                    "start_timestamp": t0 + 0.3, "timestamp": t0 + 0.5}]),
        ),
    );
    // An error in the payment service's db span, one with an unknown span.
    event(
        &server,
        json!({"message": "payment failed", "level": "error",
               "contexts": {"trace": {"trace_id": TRACE, "span_id": "2000000000000002"}}}),
    );
    event(
        &server,
        json!({"message": "lost log", "contexts": {"trace": {"trace_id": TRACE, "span_id": "9999999999999999"}}}),
    );
    server.wait_for_events(2, Duration::from_secs(5));
    let trace: Trace = server
        .api_json(&format!("/api/0/local/traces/{TRACE}/"))
        .expect("trace");
    assert_eq!(trace.projects, ["1", "2"]);
    assert_eq!(trace.transactions, 2);
    assert_eq!(trace.spans, 4);
    assert_eq!(trace.roots.len(), 1);
    let root = &trace.roots[0];
    assert_eq!(root.description.as_deref(), Some("checkout"));
    assert!(root.is_segment);
    let client = &root.children[0];
    assert_eq!(client.op.as_deref(), Some("http.client"));
    let payment = &client.children[0];
    assert_eq!(payment.project_id, "2");
    assert_eq!(payment.description.as_deref(), Some("POST /pay"));
    let db = &payment.children[0];
    assert_eq!(db.op.as_deref(), Some("db.query"));
    assert_eq!(db.errors.len(), 1);
    assert_eq!(db.errors[0].title, "payment failed");
    assert!((db.duration.unwrap_or(0.0) - 200.0).abs() < 0.01);
    assert_eq!(trace.orphan_errors.len(), 1);
    // Dashed, upper-case ids work.
    let dashed = "0AF76519-16CD-43DD-8448-EB211C80319C";
    assert_eq!(
        get(&server, &format!("/api/0/local/traces/{dashed}/")).0,
        200
    );
}

#[test]
fn spans_list_streamed_segments_beside_transaction_spans() {
    let server = TestServer::start();
    mixed_trace(&server);
    let list = |q: &str| -> Vec<SpanRow> {
        server
            .api_json(&format!("/api/0/local/spans/?{q}"))
            .unwrap_or_else(|e| panic!("{q}: {e}"))
    };
    let described = |rows: &[SpanRow]| -> Vec<String> {
        rows.iter()
            .map(|s| s.description.clone().unwrap_or_default())
            .collect()
    };
    let all = list("");
    assert_eq!(
        described(&all),
        [
            "UPDATE accounts",
            "user:1",
            "POST /pay",
            "POST /pay",
            "checkout"
        ],
        "newest first; the streamed copy of the transaction's span once"
    );
    let http_client = &all[3];
    assert_eq!(http_client.op.as_deref(), Some("http.client"));
    assert_eq!(http_client.transaction.as_deref(), Some("checkout"));
    assert!(http_client.transaction_id.is_some());
    assert_eq!(http_client.trace_id, TRACE);
    assert!((http_client.duration.unwrap_or(0.0) - 800.0).abs() < 0.01);

    // The streamed segment is found as transactions would be.
    let segments = list("segment=1&source=stream");
    assert_eq!(segments.len(), 1, "{segments:?}");
    assert_eq!(segments[0].op.as_deref(), Some("http.server"));
    assert_eq!(segments[0].transaction_id, None);
    assert!(segments[0].is_segment);
    assert_eq!(described(&list("segment=1")), ["POST /pay", "checkout"]);
    assert_eq!(list("segment=0").len(), 3);
    assert_eq!(list("source=transaction").len(), 2);
    assert_eq!(list("source=stream").len(), 3);
    assert_eq!(described(&list("op=db.query")), ["UPDATE accounts"]);
    assert_eq!(
        list("status=internal_error")[0].op.as_deref(),
        Some("db.query")
    );
    assert_eq!(described(&list("query=accounts")), ["UPDATE accounts"]);
    assert_eq!(
        described(&list("transaction=checkout")),
        ["POST /pay", "checkout"]
    );
    assert_eq!(
        described(&list("transaction=checkout&transaction=nomatch")),
        ["POST /pay", "checkout"]
    );
    // Streamed spans name their segment as transactions' spans name their
    // transaction: from `sentry.segment.name`, or a segment's own name.
    let by_segment = list("transaction=POST%20/pay");
    assert_eq!(described(&by_segment), ["UPDATE accounts", "POST /pay"]);
    assert!(by_segment
        .iter()
        .all(|s| s.transaction.as_deref() == Some("POST /pay") && s.transaction_id.is_none()));
    assert_eq!(
        described(&list("transaction=checkout&transaction=POST%20/pay")),
        ["UPDATE accounts", "POST /pay", "POST /pay", "checkout"]
    );
    let legacy = all
        .iter()
        .find(|s| s.description.as_deref() == Some("user:1"));
    assert_eq!(
        legacy.map(|s| s.transaction.clone()),
        Some(None),
        "it does not say"
    );
    assert!(list("transaction=nomatch").is_empty());
    assert!(list("transaction=checkout,nomatch").is_empty());
    assert_eq!(list(&format!("trace={TRACE}")).len(), 5);
    assert!(list("trace=11111111111111111111111111111111").is_empty());
    assert_eq!(list("min_duration=500").len(), 3);
    assert_eq!(described(&list("max_duration=20")), ["user:1"]);
    assert_eq!(
        list("sort=-duration")[0].description.as_deref(),
        Some("checkout")
    );
    assert_eq!(
        list("sort=duration")[0].description.as_deref(),
        Some("user:1")
    );
    assert_eq!(
        list("sort=timestamp")[0].description.as_deref(),
        Some("checkout")
    );
    assert!(
        list("statsPeriod=1s").is_empty(),
        "all started ten seconds ago"
    );

    // Pages.
    let r = server
        .api_get("/api/0/local/spans/?sort=-duration&limit=2")
        .expect("page");
    let next = link_cursor(&r, "next").expect("next");
    let rest = list(&format!("sort=-duration&limit=2&cursor={next}"));
    assert_eq!(described(&rest), ["POST /pay", "UPDATE accounts"]);
    for q in [
        "sort=slow",
        "source=queue",
        "segment=maybe",
        "trace=xyz",
        "cursor=x:y",
    ] {
        assert_eq!(
            get(&server, &format!("/api/0/local/spans/?{q}")).0,
            400,
            "{q}"
        );
    }
}

/// Sends a `span` item: a v2 container when `v2`, else a legacy span.
fn span_item(server: &TestServer, payload: &Value, v2: bool) {
    let header = if v2 {
        let n = payload["items"].as_array().map_or(0, Vec::len);
        format!(
            "{{\"type\":\"span\",\"item_count\":{n},\
             \"content_type\":\"application/vnd.sentry.items.span.v2+json\"}}"
        )
    } else {
        "{\"type\":\"span\"}".to_owned()
    };
    let body = format!("{{}}\n{header}\n{payload}\n");
    api_support::send(server, body.as_bytes());
}

/// A trace whose front end sends a transaction (`checkout`, its
/// http.client span also streamed on its own) and whose back end streams
/// its spans: a v2 segment `POST /pay` with a db span (sent twice, as a
/// retry would) and a legacy single cache span; one error in the db span.
fn mixed_trace(server: &TestServer) {
    let t0 = api_support::now() - 10.0;
    // The front end sends a transaction whose http.client span calls the
    // back end, which streams its spans (v2) instead of a transaction.
    transaction(
        server,
        1,
        server.public_key(),
        tx(
            ("checkout", "ui.action", "ok"),
            t0,
            1.0,
            ("1000000000000001", None),
            json!([{"span_id": "1000000000000002", "parent_span_id": "1000000000000001",
                    "trace_id": TRACE, "op": "http.client", "description": "POST /pay",
                    "data": {"http.response.status_code": 402},
                    "start_timestamp": t0 + 0.1, "timestamp": t0 + 0.9}]),
        ),
    );
    let attr = |v: &str| json!({"sentry.op": {"type": "string", "value": v}});
    let streamed = json!({"version": 2, "items": [
        {"trace_id": TRACE, "span_id": "3000000000000002", "parent_span_id": "3000000000000001",
         "name": "UPDATE accounts", "start_timestamp": t0 + 0.3, "end_timestamp": t0 + 0.5,
         "is_segment": false, "status": "error",
         "attributes": {"sentry.op": {"type": "string", "value": "db.query"},
                        "sentry.segment.name": {"type": "string", "value": "POST /pay"}}},
        {"trace_id": TRACE, "span_id": "3000000000000001", "parent_span_id": "1000000000000002",
         "name": "POST /pay", "start_timestamp": t0 + 0.2, "end_timestamp": t0 + 0.8,
         "is_segment": true, "status": "ok", "attributes": attr("http.server")},
        {"trace_id": TRACE, "name": "no span id", "start_timestamp": t0}
    ]});
    span_item(server, &streamed, true);
    // The SDK retried (the first answer was lost): no span shows twice.
    span_item(server, &streamed, true);
    // A legacy single span under the segment.
    span_item(
        server,
        &json!({"trace_id": TRACE, "span_id": "3000000000000003",
                "parent_span_id": "3000000000000001", "op": "cache.get",
                "description": "user:1", "start_timestamp": t0 + 0.25,
                "timestamp": t0 + 0.26}),
        false,
    );
    // The front end also streamed its http.client span: one span, the
    // transaction's row is the one shown.
    span_item(
        server,
        &json!({"trace_id": TRACE, "span_id": "1000000000000002",
                "parent_span_id": "1000000000000001", "op": "http.client",
                "description": "POST /pay (streamed copy)", "start_timestamp": t0 + 0.1,
                "timestamp": t0 + 0.9}),
        false,
    );
    event(
        server,
        json!({"message": "payment failed", "level": "error",
               "contexts": {"trace": {"trace_id": TRACE, "span_id": "3000000000000002"}}}),
    );
    server.wait_for_events(1, Duration::from_secs(5));
}

/// One span whole: a transaction's with its `data` (the root as the
/// transaction's trace context, named by it), a streamed one with its
/// attributes, as each came.
#[test]
fn a_span_is_shown_whole_with_its_data_or_attributes() {
    use receiver::api::types::SpanDetail;

    let server = TestServer::start();
    mixed_trace(&server);
    let detail = |span: &str| -> SpanDetail {
        server
            .api_json(&format!("/api/0/local/traces/{TRACE}/spans/{span}/"))
            .unwrap_or_else(|e| panic!("{span}: {e}"))
    };
    let db = detail("3000000000000002");
    assert_eq!(
        (db.source.as_str(), db.transaction_id.as_deref()),
        ("stream", None)
    );
    let span = db.span.expect("the streamed entry");
    assert_eq!(span["name"], "UPDATE accounts");
    assert_eq!(
        span["attributes"]["sentry.segment.name"]["value"],
        "POST /pay"
    );

    let client = detail("1000000000000002");
    assert_eq!(
        client.source, "transaction",
        "the transaction's, not the streamed copy"
    );
    assert!(client.transaction_id.is_some());
    let span = client.span.expect("the transaction's span");
    assert_eq!(span["description"], "POST /pay");
    assert_eq!(span["data"]["http.response.status_code"], 402);

    let root = detail("1000000000000001");
    let span = root.span.expect("the root");
    assert_eq!(
        (span["op"].as_str(), span["description"].as_str()),
        (Some("ui.action"), Some("checkout"))
    );

    // The trace by its first digits too, as the trace view takes it.
    let short: SpanDetail = server
        .api_json(&format!(
            "/api/0/local/traces/{}/spans/3000000000000003/",
            &TRACE[..8]
        ))
        .expect("by a trace prefix");
    assert_eq!(short.trace_id, TRACE);
    let legacy = detail("3000000000000003");
    assert_eq!(legacy.span.expect("legacy span")["description"], "user:1");

    assert_eq!(
        get(
            &server,
            &format!("/api/0/local/traces/{TRACE}/spans/9999999999999999/")
        )
        .0,
        404
    );
    assert_eq!(
        get(&server, &format!("/api/0/local/traces/{TRACE}/spans/xyz/")).0,
        400
    );
}

#[test]
fn streamed_spans_join_the_trace_view() {
    let server = TestServer::start();
    mixed_trace(&server);

    let trace: Trace = server
        .api_json(&format!("/api/0/local/traces/{TRACE}/"))
        .expect("trace");
    assert_eq!(
        trace.transactions, 1,
        "a streamed segment is not a transaction"
    );
    assert_eq!(trace.spans, 5, "two of the transaction, three streamed");
    assert_eq!(trace.roots.len(), 1, "{trace:?}");
    assert_eq!(
        trace.roots[0].children.len(),
        1,
        "the streamed copy is not shown"
    );
    let client = &trace.roots[0].children[0];
    assert_eq!(client.op.as_deref(), Some("http.client"));
    assert_eq!(client.description.as_deref(), Some("POST /pay"));
    assert!(client.transaction_id.is_some());
    assert_eq!(client.children.len(), 1, "{client:?}");
    let server_span = &client.children[0];
    assert!(server_span.is_segment);
    assert_eq!(server_span.transaction_id, None);
    assert_eq!(server_span.op.as_deref(), Some("http.server"));
    assert_eq!(server_span.description.as_deref(), Some("POST /pay"));
    let children: Vec<(Option<&str>, Option<&str>)> = server_span
        .children
        .iter()
        .map(|s| (s.op.as_deref(), s.status.as_deref()))
        .collect();
    assert_eq!(
        children,
        [
            (Some("cache.get"), None),
            (Some("db.query"), Some("internal_error"))
        ],
        "by start time (a v2 `error` status is `internal_error`)"
    );
    assert_eq!(server_span.children[0].transaction_id, None);
    let db = &server_span.children[1];
    assert_eq!(db.errors.len(), 1);
    assert_eq!(db.errors[0].title, "payment failed");
    assert!((db.duration.unwrap_or(0.0) - 200.0).abs() < 0.01);
    // The items are kept whole too, each as it arrived.
    assert_eq!(server.counts().get("span_items"), Some(&4));

    // Only the transaction item is listed as a transaction.
    let listed: Vec<Transaction> = server
        .api_json("/api/0/local/transactions/")
        .expect("transactions");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].transaction.as_deref(), Some("checkout"));
}

#[test]
fn client_reports_stats_and_stream() {
    let server = TestServer::start();
    item(
        &server,
        "client_report",
        json!({"timestamp": api_support::now(), "discarded_events": [
            {"reason": "queue_overflow", "category": "error", "quantity": 23},
            {"reason": "ratelimit_backoff", "category": "transaction", "quantity": 4},
            {"reason": "queue_overflow", "category": "transaction", "quantity": 2}]}),
    );
    item(
        &server,
        "client_report",
        json!({"discarded_events": [{"reason": "sample_rate", "category": "error", "quantity": 1}]}),
    );
    let reports: ClientReports = server
        .api_json("/api/0/local/client-reports/")
        .expect("reports");
    assert_eq!(reports.total, 30);
    assert_eq!(reports.by_reason["queue_overflow"], 25);
    assert_eq!(reports.by_category["transaction"], 6);
    assert_eq!(reports.by_outcome["discarded"], 30);
    assert_eq!(reports.rows[0].quantity, 23);
    assert_eq!(reports.rows[0].unit, "item");

    // A dropped log is reported as an item and as its bytes (as Python
    // and JavaScript SDKs do): only items add up to the totals.
    item(
        &server,
        "client_report",
        json!({"discarded_events": [
            {"reason": "before_send", "category": "log_item", "quantity": 1},
            {"reason": "before_send", "category": "log_byte", "quantity": 667},
            {"reason": "send_error", "category": "attachment", "quantity": 2048},
            {"reason": "sample_rate", "category": "profile_duration", "quantity": 1500}]}),
    );
    let reports: ClientReports = server
        .api_json("/api/0/local/client-reports/")
        .expect("reports with bytes");
    assert_eq!(reports.total, 31);
    assert_eq!(reports.total_bytes, 667 + 2048);
    assert_eq!(reports.total_milliseconds, 1500);
    assert_eq!(reports.by_reason["before_send"], 1);
    assert_eq!(reports.by_category["log_byte"], 667);
    let unit = |c: &str| {
        reports
            .rows
            .iter()
            .find(|r| r.category == c)
            .map(|r| r.unit.clone())
    };
    assert_eq!(unit("log_byte").as_deref(), Some("byte"));
    assert_eq!(unit("profile_duration").as_deref(), Some("millisecond"));

    // Any client may send any quantity: the sums never overflow.
    let huge = json!({"discarded_events": [
        {"reason": "x", "category": "error", "quantity": i64::MAX},
        {"reason": "y", "category": "error", "quantity": u64::MAX}]});
    item(&server, "client_report", huge.clone());
    item(&server, "client_report", huge);
    let reports: ClientReports = server
        .api_json("/api/0/local/client-reports/")
        .expect("reports with huge quantities");
    assert_eq!(reports.by_reason["x"], 2 << 40);
    assert_eq!(reports.total, 31 + (4 << 40));

    // Stream: the cursor from a tail of 0 follows new events only.
    let start: StreamPage = server.api_json("/api/0/local/stream/").expect("stream");
    assert!(start.events.is_empty());
    event(
        &server,
        message("first stream event", "error", "prod", "a@1"),
    );
    event(
        &server,
        message("second stream event", "warning", "dev", "a@1"),
    );
    server.wait_for_events(2, Duration::from_secs(5));
    let page: StreamPage = server
        .api_json(&format!("/api/0/local/stream/?after={}", start.cursor))
        .expect("follow");
    let titles: Vec<&str> = page.events.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(titles, ["first stream event", "second stream event"]);
    let again: StreamPage = server
        .api_json(&format!("/api/0/local/stream/?after={}", page.cursor))
        .expect("again");
    assert!(again.events.is_empty());
    let tail: StreamPage = server
        .api_json("/api/0/local/stream/?tail=1")
        .expect("tail");
    assert_eq!(tail.events[0].title, "second stream event");
    let warnings: StreamPage = server
        .api_json(&format!(
            "/api/0/local/stream/?after={}&level=warning",
            start.cursor
        ))
        .expect("filtered");
    assert_eq!(warnings.events.len(), 1);
    // A cursor from another database (the receiver restarted on a new
    // file) starts over instead of waiting for ids this one never reached.
    let restarted: StreamPage = server
        .api_json("/api/0/local/stream/?after=1000000")
        .expect("foreign cursor");
    assert_eq!(restarted.events.len(), 2);

    // Stats with filters.
    let stats = |q: &str| -> Stats {
        server
            .api_json(&format!("/api/0/local/stats/?{q}"))
            .unwrap_or_else(|e| panic!("{q}: {e}"))
    };
    let all = stats("");
    assert_eq!(
        (all.events, all.issues, all.transactions, all.sessions),
        (Some(2), Some(2), Some(0), Some(0))
    );
    assert_eq!(stats("level=warning").events, Some(1));
    assert_eq!(stats("environment=prod").issues, Some(1));
    assert_eq!(stats("title=first").events, Some(1));
    assert_eq!(stats("title=first").issues, Some(1));
    assert_eq!(stats("status=resolved").issues, Some(0));
    assert_eq!(stats("project=default").events, Some(2));
    // Only the counts asked for.
    let some = stats("fields=events,transactions");
    assert_eq!(
        (some.events, some.issues, some.transactions, some.sessions),
        (Some(2), None, Some(0), None)
    );
    let (status, body) = get(&server, "/api/0/local/stats/?fields=issues");
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"issues": 2, "crashFreeSessions": null, "crashFreeUsers": null})
    );
    assert_eq!(get(&server, "/api/0/local/stats/?fields=everything").0, 400);
    assert_eq!(get(&server, "/api/0/local/stats/?level=loud").0, 400);
    assert_eq!(get(&server, "/api/0/local/stats/?project=nope").0, 404);
    assert_eq!(ids(&json!([])).len(), 0);
}

#[test]
fn a_trace_answer_holds_at_most_ten_thousand_spans() {
    let server = TestServer::start();
    // Written straight into the database: 10 001 spans of one trace, as
    // any client with the DSN could send them.
    let trace = "ab".repeat(16);
    spans_support::write_spans(server.db_path(), &trace, 10_001);
    let answer: Trace = server
        .api_json(&format!("/api/0/local/traces/{trace}/"))
        .expect("trace");
    assert!(answer.truncated);
    assert_eq!(answer.spans, 10_001);
    assert_eq!(answer.roots.len(), 10_000);
}

/// A trace context with a `type` that is not a string is still the trace
/// context (as Relay reads it): the transaction and the error stay linked
/// to their trace.
#[test]
fn a_stray_context_type_does_not_unlink_the_trace() {
    let server = TestServer::start();
    let t0 = api_support::now() - 5.0;
    let trace_ctx = json!({"type": 7, "trace_id": TRACE, "span_id": "1000000000000001",
                           "op": "task"});
    transaction(
        &server,
        1,
        server.public_key(),
        json!({"type": "transaction", "transaction": "job", "start_timestamp": t0,
               "timestamp": t0 + 1.0, "contexts": {"trace": trace_ctx}}),
    );
    event(
        &server,
        json!({"message": "in the job", "contexts": {"trace": {"type": [], "trace_id": TRACE,
                                                              "span_id": "1000000000000001"}}}),
    );
    server.wait_for_events(1, Duration::from_secs(5));
    let trace: Trace = server
        .api_json(&format!("/api/0/local/traces/{TRACE}/"))
        .expect("trace");
    assert_eq!((trace.transactions, trace.spans), (1, 1), "{trace:?}");
    assert_eq!(trace.roots[0].errors.len(), 1, "{trace:?}");
}

#[test]
fn monitors_and_their_check_ins() {
    let server = TestServer::start();
    let check_in = |id: &str, slug: &str, status: &str| {
        item(
            &server,
            "check_in",
            json!({"check_in_id": id, "monitor_slug": slug, "status": status,
                   "duration": 1.5, "environment": "production"}),
        );
        // Arrival order is the order of the list.
        std::thread::sleep(Duration::from_millis(5));
    };
    let run1 = "83a7c03ed0a04e1b97e2e3b18d38f244";
    check_in(run1, "nightly", "in_progress");
    check_in(run1, "nightly", "ok");
    check_in("93a7c03ed0a04e1b97e2e3b18d38f244", "hourly", "ok");
    check_in("a3a7c03ed0a04e1b97e2e3b18d38f244", "nightly", "error");
    let monitors: Vec<receiver::api::types::Monitor> =
        server.api_json("/api/0/local/monitors/").expect("monitors");
    let summary: Vec<(&str, &str, i64, i64)> = monitors
        .iter()
        .map(|m| {
            (
                m.monitor_slug.as_str(),
                m.last_status.as_str(),
                m.check_ins,
                m.failed,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("nightly", "error", 2, 1), ("hourly", "ok", 1, 0)],
        "a run's in_progress and its final update count once"
    );
    assert_eq!(monitors[0].last_duration, Some(1.5));

    let list = |q: &str| -> Vec<receiver::api::types::CheckIn> {
        server
            .api_json(&format!("/api/0/local/check-ins/?{q}"))
            .unwrap_or_else(|e| panic!("{q}: {e}"))
    };
    let nightly = list("monitor=nightly");
    let statuses: Vec<&str> = nightly.iter().map(|k| k.status.as_str()).collect();
    assert_eq!(statuses, ["error", "ok"], "newest first");
    assert_eq!(
        nightly[1].check_in_id.as_deref(),
        Some(run1),
        "one run, one row"
    );
    assert_eq!(list("status=error").len(), 1);
    assert_eq!(list("status=in_progress").len(), 0);
    assert_eq!(list("environment=staging").len(), 0);
    // Pages.
    let r = server
        .api_get("/api/0/local/check-ins/?limit=2")
        .expect("page");
    let next = link_cursor(&r, "next").expect("next");
    let rest = list(&format!("limit=2&cursor={next}"));
    assert_eq!(rest.len(), 1);
    assert_eq!(
        (rest[0].check_in_id.as_deref(), rest[0].status.as_str()),
        (Some(run1), "ok"),
        "the first run, at the place of its first check-in"
    );
    // Out of the default 24-hour window, nothing counts.
    let old: Vec<receiver::api::types::Monitor> = server
        .api_json("/api/0/local/monitors/?end=2000-01-01T00:00:00Z")
        .expect("monitors");
    assert!(old.iter().all(|m| m.check_ins == 0), "{old:?}");
}

#[test]
fn a_transaction_without_a_status_is_unknown_as_relay_makes_it() {
    let server = TestServer::start();
    let key = server.public_key().to_owned();
    let now = api_support::now();
    transaction(
        &server,
        1,
        &key,
        json!({"type": "transaction", "transaction": "GET /orders/{id}",
               "start_timestamp": now - 1.0, "timestamp": now,
               "contexts": {"trace": {"trace_id": TRACE, "span_id": "a1a1a1a1a1a1a1a1",
                                      "op": "http.server"}}}),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let found = loop {
        let page: Value = server
            .api_json("/api/0/local/transactions/?status=unknown")
            .expect("transactions");
        let list = page.as_array().cloned().unwrap_or_default();
        if !list.is_empty() || std::time::Instant::now() > deadline {
            break list;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(found.len(), 1, "found by status=unknown");
    assert_eq!(found[0]["status"], "unknown", "{}", found[0]);
}
