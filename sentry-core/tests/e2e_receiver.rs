//! End to end: sentry-core's pipeline and envelope writer → a real receiver
//! on 127.0.0.1 with a real SQLite file → grouped issues, stored events,
//! attachments and transactions.
//!
//! sentry-core has no HTTP transport of its own (that is sentry-transport),
//! so the test brings a minimal synchronous one: it writes each envelope
//! with `Envelope::to_vec` and POSTs it with the DSN's auth header. What is
//! tested is that what this crate produces is accepted, grouped and stored
//! as intended.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use receiver::testing::{post, TestServer};
use sentry_core::dsn::Dsn;
use sentry_core::envelope::Envelope;
use sentry_core::performance::TransactionContext;
use sentry_core::protocol::{Attachment, Level, User};
use sentry_core::transport::Transport;
use sentry_core::{Client, ClientOptions, Hub, Scope};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

/// POSTs every envelope at once and remembers the reply statuses.
struct PostingTransport {
    dsn: Dsn,
    statuses: Mutex<Vec<u16>>,
}

impl Transport for PostingTransport {
    fn send_envelope(&self, envelope: Envelope) {
        let body = envelope.to_vec().expect("envelope serialises");
        let auth = self.dsn.auth_header("sentry-core-e2e/1.0", None);
        let reply = post(
            &self.dsn.envelope_url(),
            &[
                ("X-Sentry-Auth", auth.as_str()),
                ("Content-Type", "application/x-sentry-envelope"),
            ],
            &body,
        )
        .expect("the receiver answers");
        self.statuses.lock().push(reply.status);
    }
}

#[derive(Debug)]
struct Inner;

impl std::fmt::Display for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused")
    }
}

impl std::error::Error for Inner {}

#[derive(Debug)]
struct Outer(Inner);

impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("could not load the profile")
    }
}

impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A client with `options` that posts to `server`, and its transport.
fn posting_client(
    server: &TestServer,
    options: ClientOptions,
) -> (Arc<PostingTransport>, Arc<Client>) {
    let dsn: Dsn = server.dsn().parse().expect("dsn");
    let transport = Arc::new(PostingTransport {
        dsn: dsn.clone(),
        statuses: Mutex::new(Vec::new()),
    });
    let client = Arc::new(Client::with_options(ClientOptions {
        dsn: Some(dsn),
        transport: Some(Arc::new(transport.clone())),
        ..options
    }));
    (transport, client)
}

fn stored(server: &TestServer, id: sentry_core::Uuid) -> Value {
    server
        .event_json(&id.simple().to_string())
        .unwrap_or_else(|| panic!("event {id} is stored"))
}

#[test]
fn what_the_core_sends_is_accepted_grouped_scrubbed_and_stored() {
    let server = TestServer::start();
    let (transport, client) = posting_client(
        &server,
        ClientOptions {
            release: Some("core-e2e@3.1.0".into()),
            environment: Some("ci".into()),
            traces_sample_rate: 1.0,
            ..Default::default()
        },
    );
    let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));

    let (chain_ids, fingerprinted, plain, with_file) = Hub::run(hub, || {
        sentry_core::configure_scope(|s| {
            s.set_user(Some(User {
                id: Some("u-7".into()),
                email: Some("someone@example.org".into()),
                ..Default::default()
            }));
            s.set_tag("suite", "core-e2e");
            s.set_extra("db", json!({"host": "db1", "password": "hunter2"}));
        });
        sentry_core::add_breadcrumb(sentry_core::protocol::Breadcrumb {
            category: Some("boot".into()),
            message: Some("config loaded".into()),
            ..Default::default()
        });
        // The same chained error twice: one issue.
        let chain_ids: Vec<_> = (0..2)
            .map(|_| sentry_core::capture_error(&Outer(Inner)))
            .collect();
        // The same message, once with a custom fingerprint: two issues.
        let fingerprinted = sentry_core::with_scope(
            |s| s.set_fingerprint(Some(&["{{ default }}", "payments"])),
            || sentry_core::capture_message("queue is slow", Level::Warning),
        );
        let plain = sentry_core::capture_message("queue is slow", Level::Warning);
        // An attachment on the scope goes with the event.
        let with_file = sentry_core::with_scope(
            |s| s.add_attachment(Attachment::new("state.txt", b"counter=3".to_vec())),
            || sentry_core::capture_message("dumped state", Level::Info),
        );
        let tx = sentry_core::start_transaction(TransactionContext::new("nightly-job", "task"));
        for table in ["users", "orders"] {
            tx.start_child("db.query", format!("SELECT * FROM {table}"))
                .finish();
        }
        tx.finish();
        (chain_ids, fingerprinted, plain, with_file)
    });
    assert!(client.flush(Some(WAIT)));

    // Every envelope was acknowledged.
    let statuses = transport.statuses.lock().clone();
    assert_eq!(statuses.len(), 6, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    let events = server.wait_for_events(5, WAIT);
    assert_eq!(events.len(), 5);
    let issues = server.issues();
    assert_eq!(issues.len(), 4, "{issues:#?}");
    let chain_issue = issues
        .iter()
        .find(|i| i.title.contains("could not load the profile"))
        .expect("the chained error's issue");
    assert_eq!(chain_issue.times_seen, 2);
    let slow: Vec<_> = issues
        .iter()
        .filter(|i| i.title == "queue is slow")
        .collect();
    assert_eq!(
        slow.len(),
        2,
        "the fingerprint splits the message: {issues:#?}"
    );

    let event = stored(&server, chain_ids[0]);
    let values = event["exception"]["values"].as_array().expect("values");
    assert_eq!(values.len(), 2);
    assert_eq!(values[0]["value"], "connection refused");
    assert_eq!(values[1]["value"], "could not load the profile");
    assert_eq!(event["release"], "core-e2e@3.1.0");
    assert_eq!(event["environment"], "ci");
    assert_eq!(event["tags"]["suite"], "core-e2e");
    assert_eq!(event["user"]["id"], "u-7");
    // send_default_pii is off: no email; the password is masked.
    assert!(event["user"].get("email").is_none(), "{event}");
    assert_eq!(event["extra"]["db"]["password"], "[Filtered]");
    assert_eq!(event["extra"]["db"]["host"], "db1");
    assert_eq!(
        event["breadcrumbs"]["values"][0]["message"],
        "config loaded"
    );

    assert_eq!(
        stored(&server, fingerprinted)["fingerprint"],
        json!(["{{ default }}", "payments"])
    );
    assert_ne!(
        stored(&server, plain).get("fingerprint"),
        Some(&json!(["{{ default }}", "payments"]))
    );

    let counts = server.counts();
    assert_eq!(counts.get("attachments").copied(), Some(1), "{counts:?}");
    assert_eq!(counts.get("transactions").copied(), Some(1), "{counts:?}");
    let listed: Value = server
        .api_json(&format!(
            "/api/0/projects/local/{}/events/{}/attachments/",
            server.project_id(),
            with_file.simple()
        ))
        .expect("attachments of the event");
    assert_eq!(listed[0]["name"], "state.txt", "{listed}");
    // The receiver stores the root span with the two children.
    assert_eq!(counts.get("spans").copied(), Some(3), "{counts:?}");
}

/// A job wrapped in `with_monitor` that fails opens a monitor issue on the
/// receiver; a run that succeeds resolves it.
#[test]
fn a_failing_monitored_job_opens_an_issue_that_its_next_good_run_resolves() {
    use sentry_core::monitor::with_monitor;
    use sentry_core::protocol::{MonitorConfig, MonitorSchedule};

    let server = TestServer::start();
    let (transport, client) = posting_client(
        &server,
        ClientOptions {
            release: Some("jobs@1.0.0".into()),
            ..Default::default()
        },
    );
    let hub = Arc::new(Hub::new(Some(client), Scope::default()));
    let config = MonitorConfig::new(MonitorSchedule::crontab("0 3 * * *"));
    Hub::run(hub.clone(), || {
        let failed: Result<(), &str> =
            with_monitor("nightly-import", Some(config.clone()), || Err("no file"));
        assert!(failed.is_err());
    });
    let issues = server.wait_for_issues(1, WAIT);
    assert_eq!(issues[0].title, "Monitor failure: nightly-import");
    let monitors: Value = server
        .api_json("/api/0/local/monitors/")
        .expect("monitors list");
    assert_eq!(
        monitors[0]["config"]["schedule"]["value"], "0 3 * * *",
        "{monitors}"
    );
    assert_eq!(monitors[0]["lastStatus"], "error", "{monitors}");
    let issue: Value = server
        .api_json(&format!("/api/0/issues/{}/events/latest/", issues[0].id))
        .expect("the occurrence");
    assert_eq!(issue["release"]["version"], "jobs@1.0.0", "{issue}");

    Hub::run(hub, || {
        let fine: Result<(), &str> = with_monitor("nightly-import", None, || Ok(()));
        assert!(fine.is_ok());
    });
    let issue: Value = server
        .api_json(&format!("/api/0/issues/{}/", issues[0].id))
        .expect("the issue");
    assert_eq!(issue["status"], "resolved", "{issue}");
    assert!(transport.statuses.lock().iter().all(|s| *s == 200));
}

/// Log lines the SDK batches reach the receiver's logs view with their
/// level, body, release, environment, attributes and trace.
#[test]
fn logs_reach_the_receiver_with_their_attributes_and_trace() {
    use sentry_core::protocol::{Log, LogLevel};

    let server = TestServer::start();
    let (transport, client) = posting_client(
        &server,
        ClientOptions {
            enable_logs: true,
            release: Some("logs-e2e@1.0.0".into()),
            environment: Some("ci".into()),
            ..Default::default()
        },
    );
    let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));
    let trace = Hub::run(hub, || {
        sentry_core::logs::info("worker started");
        sentry_core::logs::capture_log(
            Log::new(LogLevel::Error, "payment failed").with_attribute("order.id", 1234),
        );
        sentry_core::configure_scope(|s| s.propagation_trace().trace_id.to_string())
    });
    assert!(client.flush(Some(WAIT)));
    assert!(transport.statuses.lock().iter().all(|s| *s == 200));
    let page: Value = server.api_json("/api/0/local/logs/").expect("logs");
    let logs = page["logs"].as_array().cloned().unwrap_or_default();
    let bodies: Vec<&str> = logs.iter().filter_map(|l| l["body"].as_str()).collect();
    assert_eq!(bodies, ["payment failed", "worker started"], "{page}");
    let failed = &logs[0];
    assert_eq!(
        (&failed["level"], &failed["release"], &failed["environment"]),
        (&json!("error"), &json!("logs-e2e@1.0.0"), &json!("ci")),
        "{failed}"
    );
    assert_eq!(failed["traceID"], trace.as_str(), "{failed}");
    assert_eq!(failed["attributes"]["order.id"], 1234, "{failed}");
}

/// Metric samples the SDK batches reach the receiver's metrics view with
/// their name, type, value, unit, release, environment, attributes and
/// trace, and its totals add them up.
#[test]
fn metrics_reach_the_receiver_with_their_attributes_and_trace() {
    use sentry_core::protocol::{Metric, MetricType};

    let server = TestServer::start();
    let (transport, client) = posting_client(
        &server,
        ClientOptions {
            release: Some("metrics-e2e@1.0.0".into()),
            environment: Some("ci".into()),
            ..Default::default()
        },
    );
    let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));
    let trace = Hub::run(hub, || {
        sentry_core::metrics::count("orders.placed", 2.0);
        sentry_core::metrics::count("orders.placed", 3.0);
        sentry_core::metrics::capture_metric(
            Metric::new(MetricType::Distribution, "checkout.duration", 812.0)
                .with_unit("millisecond")
                .with_attribute("payment", "card"),
        );
        sentry_core::configure_scope(|s| s.propagation_trace().trace_id.to_string())
    });
    assert!(client.flush(Some(WAIT)));
    assert!(transport.statuses.lock().iter().all(|s| *s == 200));
    let page: Value = server.api_json("/api/0/local/metrics/").expect("metrics");
    let samples = page["metrics"].as_array().cloned().unwrap_or_default();
    assert_eq!(samples.len(), 3, "{page}");
    let checkout = samples
        .iter()
        .find(|m| m["name"] == "checkout.duration")
        .expect("the distribution sample");
    assert_eq!(
        (
            &checkout["type"],
            &checkout["value"],
            &checkout["unit"],
            &checkout["release"],
            &checkout["environment"]
        ),
        (
            &json!("distribution"),
            &json!(812.0),
            &json!("millisecond"),
            &json!("metrics-e2e@1.0.0"),
            &json!("ci")
        ),
        "{checkout}"
    );
    assert_eq!(checkout["traceID"], trace.as_str(), "{checkout}");
    assert_eq!(checkout["attributes"]["payment"], "card", "{checkout}");
    let totals: Value = server
        .api_json("/api/0/local/metrics/summary/")
        .expect("totals");
    let placed = totals["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["name"] == "orders.placed")
        .cloned()
        .unwrap_or_default();
    assert_eq!(placed["sum"], 5.0, "{totals}");
}
