//! End to end: capture → HTTP transport → a real receiver on loopback with a
//! real SQLite file → a grouped issue.

use std::sync::Arc;
use std::time::Duration;

use receiver::testing::TestServer;
use sentry_core::performance::TransactionContext;
use sentry_core::protocol::Level;
use sentry_core::{Client, ClientOptions, Hub, Scope};
use sentry_transport::HttpTransportFactory;

#[derive(Debug)]
struct LookupError(u32);

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "user {} not found", self.0)
    }
}

impl std::error::Error for LookupError {}

#[test]
fn captured_errors_arrive_grouped_and_transactions_arrive_with_spans() {
    let server = TestServer::start();
    let client = Arc::new(Client::with_options(ClientOptions {
        dsn: Some(server.dsn().parse().expect("dsn")),
        release: Some("e2e@1.0.0".into()),
        traces_sample_rate: 1.0,
        transport: Some(Arc::new(HttpTransportFactory::default())),
        ..Default::default()
    }));
    let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));
    let ids = Hub::run(hub, || {
        sentry_core::configure_scope(|s| s.set_tag("suite", "e2e"));
        let mut ids = Vec::new();
        for user in [1, 2, 3] {
            // Same error type, different values: one issue (no stack trace,
            // so type + parameterised value decide).
            ids.push(sentry_core::capture_error(&LookupError(user)));
        }
        ids.push(sentry_core::capture_message(
            "disk almost full",
            Level::Warning,
        ));
        let tx = sentry_core::start_transaction(TransactionContext::new("e2e-job", "task"));
        tx.start_child("db.query", "SELECT 1").finish();
        tx.start_child("cache.get", "k").finish();
        tx.finish();
        ids
    });
    assert!(ids.iter().all(|id| !id.is_nil()));
    assert!(
        client.flush(Some(Duration::from_secs(10))),
        "flush timed out"
    );

    let events = server.wait_for_events(4, Duration::from_secs(10));
    assert_eq!(events.len(), 4);
    let issues = server.issues();
    assert_eq!(issues.len(), 2, "{issues:#?}");
    let lookup = issues
        .iter()
        .find(|i| i.title.starts_with("LookupError"))
        .expect("lookup issue");
    assert_eq!(lookup.times_seen, 3);
    let message = issues
        .iter()
        .find(|i| i.title == "disk almost full")
        .expect("message issue");
    assert_eq!(message.level, "warning");
    let stored = server
        .event_json(&ids[0].simple().to_string())
        .expect("stored event");
    assert_eq!(stored["tags"]["suite"], "e2e");
    assert_eq!(stored["release"], "e2e@1.0.0");

    let counts = server.counts();
    assert_eq!(counts.get("transactions").copied(), Some(1), "{counts:?}");
    // The receiver stores the root span with the two children.
    assert_eq!(counts.get("spans").copied(), Some(3), "{counts:?}");
    client.close(Some(Duration::from_secs(5)));
}

/// The receiver's quota (PROTOCOL.md §4.2) reaches the SDK through
/// `X-Sentry-Rate-Limits`: once an error quota is used up the transport
/// holds errors back itself, counts them as `ratelimit_backoff`, and still
/// sends what the quota does not cover.
#[test]
fn a_receiver_quota_makes_the_transport_hold_errors_back() {
    use receiver::store::quotas::NewQuota;

    let server = TestServer::start();
    server
        .add_quota(NewQuota::project(server.project_id(), &["error"], 1, 3600))
        .expect("quota");
    let client = Arc::new(Client::with_options(ClientOptions {
        dsn: Some(server.dsn().parse().expect("dsn")),
        traces_sample_rate: 1.0,
        transport: Some(Arc::new(HttpTransportFactory::default())),
        ..Default::default()
    }));
    let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));
    Hub::run(hub, || {
        // Accepted, and its 200 says the error quota is used up.
        sentry_core::capture_error(&LookupError(1));
        assert!(client.flush(Some(Duration::from_secs(10))), "flush");
        // Held back by the SDK: the receiver never sees it.
        sentry_core::capture_error(&LookupError(2));
        assert!(client.flush(Some(Duration::from_secs(10))), "flush");
        // Not covered by the quota; the client report rides along.
        sentry_core::start_transaction(TransactionContext::new("after", "task")).finish();
        assert!(client.flush(Some(Duration::from_secs(10))), "flush");
    });
    client.close(Some(Duration::from_secs(5)));

    assert_eq!(server.events().len(), 1);
    assert_eq!(server.counts().get("transactions").copied(), Some(1));
    assert_eq!(
        server.outcomes(),
        [(
            "discarded".to_owned(),
            "ratelimit_backoff".to_owned(),
            "error".to_owned(),
            1
        )],
        "the SDK reports what it held back; the receiver refused nothing"
    );
}
