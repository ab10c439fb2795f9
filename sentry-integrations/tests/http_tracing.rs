//! The HTTP server middleware and the reqwest helper, end to end: real hyper
//! (and axum) servers on 127.0.0.1, one tokio runtime per test, and clients
//! sending into the in-memory test transport.

#![cfg(all(feature = "tower", feature = "reqwest"))]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use sentry_core::envelope::{Envelope, ItemPayload};
use sentry_core::propagation::Dsc;
use sentry_core::protocol::{
    Breadcrumb, Context, Event, Level, SessionAggregates, SpanStatus, TraceContext, Transaction,
};
use sentry_core::session::SessionMode;
use sentry_core::test::{events_of, transactions_of, TestTransport};
use sentry_core::{Client, ClientOptions, Hub, Scope};
use sentry_integrations::http_client::RequestBuilderExt;
use sentry_integrations::http_server::SentryHttpLayer;
use serde_json::Value;
use tokio::net::TcpListener;
use tower::ServiceBuilder;

type Body = Full<Bytes>;
type HttpRequest = http::Request<Incoming>;
type HttpResponse = http::Response<Body>;

const DSN: &str = "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1";
const RELEASE: &str = "http-tests@1.0.0";

/// One client sending into an in-memory transport, bound on a hub the
/// services fork their request hubs from.
struct Sentry {
    transport: Arc<TestTransport>,
    client: Arc<Client>,
    hub: Arc<Hub>,
}

impl Sentry {
    fn new(options: ClientOptions) -> Sentry {
        let transport = TestTransport::new();
        let client = Arc::new(Client::with_options(ClientOptions {
            traces_sample_rate: 1.0,
            transport: Some(Arc::new(transport.clone())),
            dsn: Some(DSN.parse().expect("valid DSN")),
            release: Some(RELEASE.into()),
            ..options
        }));
        let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));
        Sentry {
            transport,
            client,
            hub,
        }
    }

    /// A client with tracing off: no `traces_sample_rate`, no sampler (the
    /// layer used for errors and request isolation only).
    fn untraced() -> Sentry {
        let sentry = Sentry::new(ClientOptions::default());
        let client = Arc::new(Client::with_options(ClientOptions {
            traces_sample_rate: 0.0,
            ..sentry.client.options().clone()
        }));
        let hub = Arc::new(Hub::new(Some(client.clone()), Scope::default()));
        Sentry {
            client,
            hub,
            ..sentry
        }
    }

    fn layer(&self) -> SentryHttpLayer<fn(&HttpRequest) -> Option<String>> {
        SentryHttpLayer::new()
            .with_hub(self.hub.clone())
            .with_route_resolver(route as fn(&HttpRequest) -> Option<String>)
    }

    fn envelopes(&self) -> Vec<Envelope> {
        self.transport.fetch_and_clear_envelopes()
    }
}

/// The test route resolver: `/users/<number>` is `/users/{id}`; other paths
/// have no route (the transaction is named by the raw path).
fn route(request: &HttpRequest) -> Option<String> {
    let id = request.uri().path().strip_prefix("/users/")?;
    id.parse::<u64>().ok().map(|_| "/users/{id}".to_owned())
}

fn text(status: u16, body: impl Into<Bytes>) -> HttpResponse {
    let mut response = http::Response::new(Full::new(body.into()));
    *response.status_mut() = http::StatusCode::from_u16(status).expect("valid status");
    response
}

fn query_id(request: &HttpRequest) -> String {
    request
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("id="))
        .unwrap_or("?")
        .to_owned()
}

/// The handler behind every test service.
async fn handler(
    request: HttpRequest,
    next: Option<SocketAddr>,
) -> Result<HttpResponse, Infallible> {
    let response = match request.uri().path() {
        // Calls the other service through the reqwest helper, with another
        // vendor's baggage entry, and answers with what it saw.
        "/chain" => {
            let Some(next) = next else {
                return Ok(text(500, "no next service"));
            };
            let called = http_client()
                .get(format!("http://{next}/users/7?ignored=1"))
                .header("baggage", "othervendor=keep%20me")
                .send_traced()
                .await;
            match called {
                Ok(r) => text(200, r.text().await.unwrap_or_default()),
                Err(e) => text(502, e.to_string()),
            }
        }
        // Echoes the propagation headers it received.
        p if p.starts_with("/users/") => {
            let header = |name: &str| {
                request
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            };
            text(
                200,
                format!("{}\n{}", header("sentry-trace"), header("baggage")),
            )
        }
        "/work" => {
            let id = query_id(&request);
            sentry_core::configure_scope(|s| s.set_tag("request_id", &id));
            sentry_core::add_breadcrumb(Breadcrumb {
                message: Some(format!("crumb {id}").into()),
                ..Default::default()
            });
            // Interleave with the other requests.
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(fastrand_ms())).await;
            }
            sentry_core::capture_message(&format!("work {id}"), Level::Info);
            text(200, id)
        }
        "/fail" => text(500, "failed"),
        // Rate limited by the handler, which says so on its transaction
        // and answers 200 (with a retry hint in the body).
        "/limited" => {
            if let Some(span) = Hub::current().active_span() {
                span.set_status(SpanStatus::ResourceExhausted);
            }
            text(200, "try again later")
        }
        "/reported" => {
            sentry_core::capture_message("database is down", Level::Error);
            text(503, "reported")
        }
        "/panic" => panic!("handler exploded"),
        _ => text(404, "not found"),
    };
    Ok(response)
}

fn fastrand_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| u64::from(d.subsec_nanos() % 5))
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// Serves `handler` behind the Sentry layer of `sentry` on 127.0.0.1:0;
/// `/chain` calls `next`.
async fn serve(sentry: &Sentry, next: Option<SocketAddr>) -> SocketAddr {
    let service = ServiceBuilder::new()
        .layer(sentry.layer())
        .service_fn(move |request| handler(request, next));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn trace_of(tx: &Transaction) -> &TraceContext {
    match tx.contexts.get("trace") {
        Some(Context::Trace(t)) => t,
        other => panic!("no trace context: {other:?}"),
    }
}

fn event_trace(event: &Event) -> &TraceContext {
    match event.contexts.get("trace") {
        Some(Context::Trace(t)) => t,
        other => panic!("no trace context: {other:?}"),
    }
}

fn source_of(tx: &Transaction) -> Option<&str> {
    tx.transaction_info.as_ref()?.source.as_deref()
}

fn named<'a>(txs: &'a [Transaction], name: &str) -> &'a Transaction {
    txs.iter()
        .find(|t| t.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no transaction {name:?} in {txs:#?}"))
}

fn message(event: &Event) -> &str {
    event
        .logentry
        .as_ref()
        .and_then(|l| l.formatted.as_deref())
        .or(event.message.as_deref())
        .unwrap_or("")
}

/// The envelope header `trace` of the envelope carrying transaction `name`.
fn dsc_of(envelopes: &[Envelope], name: &str) -> serde_json::Map<String, Value> {
    envelopes
        .iter()
        .find(|e| {
            e.items.iter().any(|i| match &i.payload {
                ItemPayload::Transaction(t) => t.name.as_deref() == Some(name),
                _ => false,
            })
        })
        .and_then(|e| e.headers.trace.as_ref().map(Dsc::to_json))
        .unwrap_or_else(|| panic!("no trace header for {name:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_two_services() {
    let sentry = Sentry::new(ClientOptions::default());
    let backend = serve(&sentry, None).await;
    let frontend = serve(&sentry, Some(backend)).await;

    let response = http_client()
        .get(format!("http://{frontend}/chain"))
        .send()
        .await
        .expect("frontend answers");
    assert_eq!(response.status(), 200);
    let body = response.text().await.expect("body");
    let (seen_trace, seen_baggage) = body.split_once('\n').expect("two lines");

    let envelopes = sentry.envelopes();
    let txs = transactions_of(&envelopes);
    assert_eq!(txs.len(), 2, "{txs:#?}");
    let a = named(&txs, "GET /chain");
    let b = named(&txs, "GET /users/{id}");
    let (ta, tb) = (trace_of(a), trace_of(b));

    // One trace; A is the head, B the child of A's http.client span.
    assert_eq!(ta.trace_id, tb.trace_id);
    assert_eq!(ta.parent_span_id, None);
    assert_eq!(ta.op.as_deref(), Some("http.server"));
    assert_eq!(a.spans.len(), 1);
    let call = &a.spans[0];
    assert_eq!(call.op.as_deref(), Some("http.client"));
    assert_eq!(call.parent_span_id, Some(ta.span_id));
    assert_eq!(tb.parent_span_id, Some(call.span_id));
    assert_eq!(seen_trace, format!("{}-{}-1", ta.trace_id, call.span_id));

    // The client span.
    let url = format!("http://{backend}/users/7");
    assert_eq!(call.description.as_deref(), Some(&*format!("GET {url}")));
    assert_eq!(call.data["http.request.method"], "GET");
    assert_eq!(call.data["url"], Value::from(url));
    assert_eq!(call.data["http.response.status_code"], 200);
    assert_eq!(call.status, Some(SpanStatus::Ok));
    assert_eq!(call.origin.as_deref(), Some("auto.http.reqwest"));
    assert_eq!(ta.origin.as_deref(), Some("auto.http.tower"));

    // Both server transactions.
    for trace in [ta, tb] {
        assert_eq!(trace.status, Some(SpanStatus::Ok));
        assert_eq!(trace.data["http.response.status_code"], 200);
    }
    assert_eq!(source_of(a), Some("url"));
    assert_eq!(source_of(b), Some("route"));
    let request = b.request.as_ref().expect("request data");
    assert_eq!(request.method.as_deref(), Some("GET"));
    assert_eq!(
        request.url.as_deref(),
        Some(&*format!("http://{backend}/users/7"))
    );
    assert_eq!(request.query_string.as_deref(), Some("ignored=1"));

    // Baggage: the other vendor's entry survived, and B's envelope carries
    // A's dynamic sampling context unchanged.
    assert!(
        seen_baggage.starts_with("othervendor=keep%20me,sentry-"),
        "{seen_baggage}"
    );
    let (dsc_a, dsc_b) = (
        dsc_of(&envelopes, "GET /chain"),
        dsc_of(&envelopes, "GET /users/{id}"),
    );
    assert_eq!(dsc_a, dsc_b);
    assert_eq!(dsc_a["trace_id"], Value::from(ta.trace_id.to_string()));
    assert_eq!(dsc_a["public_key"], "0123456789abcdef0123456789abcdef");
    assert_eq!(dsc_a["release"], RELEASE);
    assert_eq!(dsc_a["sampled"], "true");
    assert_eq!(dsc_a["sample_rate"], "1");
    let rand: f64 = dsc_a["sample_rand"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .expect("sample_rand");
    assert!((0.0..1.0).contains(&rand));
    // A's name came from the raw path: not in the baggage.
    assert!(!dsc_a.contains_key("transaction"));
    assert!(seen_baggage.contains(&format!("sentry-trace_id={}", ta.trace_id)));
}

/// A service that never enabled tracing (the layer is there for errors and
/// request isolation) sends no transaction, even for a caller that sampled
/// its trace, and propagates its trace without a decision: a service
/// downstream that traces decides for itself and joins the trace, instead
/// of dropping its transactions on a "not sampled" nobody took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tracing_off_the_layer_sends_no_transaction_and_no_decision() {
    let untraced = Sentry::untraced();
    let traced = Sentry::new(ClientOptions::default());
    let backend = serve(&traced, None).await;
    let frontend = serve(&untraced, Some(backend)).await;

    let response = http_client()
        .get(format!("http://{frontend}/users/1"))
        .header(
            "sentry-trace",
            "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1",
        )
        .send()
        .await
        .expect("frontend answers");
    assert_eq!(response.status(), 200);
    assert!(transactions_of(&untraced.envelopes()).is_empty());

    let body = http_client()
        .get(format!("http://{frontend}/chain"))
        .send()
        .await
        .expect("frontend answers")
        .text()
        .await
        .expect("body");
    let (seen_trace, seen_baggage) = body.split_once('\n').expect("two lines");
    let (trace_id, span_id) = seen_trace.split_once('-').expect("trace-span");
    assert_eq!(trace_id.len(), 32, "{seen_trace}");
    assert_eq!(span_id.len(), 16, "no sampled flag: {seen_trace}");
    assert!(
        seen_baggage.contains(&format!("sentry-trace_id={trace_id}")),
        "{seen_baggage}"
    );
    for key in ["sentry-sampled", "sentry-sample_rate", "sentry-sample_rand"] {
        assert!(!seen_baggage.contains(key), "{seen_baggage}");
    }
    assert!(transactions_of(&untraced.envelopes()).is_empty());
    let txs = transactions_of(&traced.envelopes());
    assert_eq!(txs.len(), 1, "the backend decided itself: {txs:#?}");
    assert_eq!(trace_of(&txs[0]).trace_id.to_string(), trace_id);
}

/// Calls `/chain` on a frontend whose client has `targets` as its
/// `trace_propagation_targets`; the headers the backend saw, and the
/// frontend's and backend's transactions.
async fn chain_with_targets(
    targets: impl FnOnce(SocketAddr) -> Option<Vec<String>>,
) -> (String, String, Transaction, Transaction) {
    // The backend's own client: it only records what arrives.
    let backend_sentry = Sentry::new(ClientOptions::default());
    let backend = serve(&backend_sentry, None).await;
    let frontend_sentry = Sentry::new(ClientOptions {
        trace_propagation_targets: targets(backend)
            .map(|t| t.into_iter().map(Into::into).collect()),
        ..Default::default()
    });
    let frontend = serve(&frontend_sentry, Some(backend)).await;
    let body = http_client()
        .get(format!("http://{frontend}/chain"))
        .send()
        .await
        .expect("frontend answers")
        .text()
        .await
        .expect("body");
    let (trace, baggage) = body.split_once('\n').expect("two lines");
    let a = named(&transactions_of(&frontend_sentry.envelopes()), "GET /chain").clone();
    let b = named(
        &transactions_of(&backend_sentry.envelopes()),
        "GET /users/{id}",
    )
    .clone();
    (trace.to_owned(), baggage.to_owned(), a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_span_errors_and_requests_share_the_scopes_own_trace() {
    let sentry = Sentry::new(ClientOptions::default());
    let addr = serve(&sentry, None).await;
    let own = sentry.hub.top_scope().propagation_trace();
    // A background job: no request, no transaction.
    let pending = Hub::run(sentry.hub.clone(), || {
        http_client()
            .get(format!("http://{addr}/users/7"))
            .send_traced()
    });
    let body = pending.await.expect("request").text().await.expect("body");
    assert_eq!(
        body.lines().next(),
        Some(format!("{}-{}", own.trace_id, own.span_id).as_str()),
        "sentry-trace without a sampling decision"
    );
    // And the trace's sampling context as baggage, as the official SDKs
    // send their propagation context's: the called service freezes it.
    let baggage = Dsc::from_baggage(body.lines().nth(1).unwrap_or(""));
    let own_id = own.trace_id.to_string();
    assert_eq!(baggage.get("trace_id"), Some(own_id.as_str()), "{body}");
    assert!(baggage.get("public_key").is_some(), "{body}");
    assert_eq!(baggage.get("sampled"), None, "no decision was made");
    Hub::run(sentry.hub.clone(), || {
        sentry_core::capture_message("job failed", Level::Error);
    });
    let envelopes = sentry.envelopes();
    let events = events_of(&envelopes);
    let failed = events
        .iter()
        .find(|e| message(e) == "job failed")
        .expect("the job's error");
    assert_eq!(event_trace(failed).trace_id, own.trace_id);
    assert_eq!(event_trace(failed).span_id, own.span_id);
    // The called service continued the job's trace.
    let txs = transactions_of(&envelopes);
    let called = named(&txs, "GET /users/{id}");
    assert_eq!(trace_of(called).trace_id, own.trace_id);
    assert_eq!(trace_of(called).parent_span_id, Some(own.span_id));
    let frozen = dsc_of(&envelopes, "GET /users/{id}");
    assert_eq!(frozen.get("trace_id"), Some(&Value::from(own_id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_headers_only_go_to_propagation_targets() {
    // Not a target: no sentry-trace, the other vendor's baggage untouched,
    // the backend starts its own trace; the client span is still recorded.
    let (trace, baggage, a, b) =
        chain_with_targets(|_| Some(vec!["api.internal".to_owned()])).await;
    assert_eq!(trace, "");
    assert_eq!(baggage, "othervendor=keep%20me");
    assert_eq!(a.spans.len(), 1);
    assert_eq!(a.spans[0].op.as_deref(), Some("http.client"));
    assert_ne!(trace_of(&a).trace_id, trace_of(&b).trace_id);
    assert_eq!(trace_of(&b).parent_span_id, None);

    // A target (matched on host and port): the trace continues.
    let (trace, baggage, a, b) =
        chain_with_targets(|backend| Some(vec![format!("127.0.0.1:{}", backend.port())])).await;
    assert_eq!(
        trace,
        format!("{}-{}-1", trace_of(&a).trace_id, a.spans[0].span_id)
    );
    assert!(
        baggage.starts_with("othervendor=keep%20me,sentry-"),
        "{baggage}"
    );
    assert_eq!(trace_of(&b).trace_id, trace_of(&a).trace_id);
    assert_eq!(trace_of(&b).parent_span_id, Some(a.spans[0].span_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_keep_their_own_scope() {
    let sentry = Sentry::new(ClientOptions::default());
    let server = serve(&sentry, None).await;
    let client = http_client();
    let mut requests = tokio::task::JoinSet::new();
    for id in 0..20 {
        let call = client.get(format!("http://{server}/work?id={id}")).send();
        requests.spawn(async move { call.await.map(|r| r.status()) });
    }
    while let Some(done) = requests.join_next().await {
        assert_eq!(done.expect("task").expect("response"), 200);
    }

    let envelopes = sentry.envelopes();
    let events = events_of(&envelopes);
    let txs = transactions_of(&envelopes);
    assert_eq!(events.len(), 20);
    assert_eq!(txs.len(), 20);
    let tx_by_id: BTreeMap<&str, &Transaction> = txs
        .iter()
        .map(|t| (t.tags["request_id"].as_str(), t))
        .collect();
    assert_eq!(tx_by_id.len(), 20, "every transaction has its own tag");
    for event in &events {
        let id = message(event).strip_prefix("work ").expect("work message");
        assert_eq!(event.tags["request_id"], id);
        let crumbs: Vec<_> = event
            .breadcrumbs
            .values
            .iter()
            .filter_map(|b| b.message.as_deref())
            .collect();
        assert_eq!(crumbs, [format!("crumb {id}")]);
        let request = event.request.as_ref().expect("request data on the event");
        assert_eq!(request.query_string.as_deref(), Some(&*format!("id={id}")));
        assert_eq!(event.transaction.as_deref(), Some("GET /work"));
        let tx = tx_by_id[id];
        assert_eq!(event_trace(event).trace_id, trace_of(tx).trace_id);
        assert_eq!(event_trace(event).span_id, trace_of(tx).span_id);
    }
    // Nothing leaked into the hub the requests were forked from.
    assert!(sentry.hub.top_scope().tags().is_empty());
    assert_eq!(sentry.hub.top_scope().breadcrumbs().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_statuses_and_server_errors() {
    let sentry = Sentry::new(ClientOptions::default());
    let server = serve(&sentry, None).await;
    let client = http_client();
    for (path, status) in [
        ("/users/42", 200),
        ("/missing", 404),
        ("/fail", 500),
        ("/reported", 503),
        ("/limited", 200),
    ] {
        let response = client
            .get(format!("http://{server}{path}"))
            .send()
            .await
            .expect("response");
        assert_eq!(response.status(), status, "{path}");
    }

    let envelopes = sentry.envelopes();
    let txs = transactions_of(&envelopes);
    assert_eq!(txs.len(), 5);
    let status = |name: &str| {
        let trace = trace_of(named(&txs, name));
        (
            trace.status,
            trace.data["http.response.status_code"].clone(),
        )
    };
    assert_eq!(
        status("GET /users/{id}"),
        (Some(SpanStatus::Ok), 200.into())
    );
    assert_eq!(
        status("GET /missing"),
        (Some(SpanStatus::NotFound), 404.into())
    );
    assert_eq!(
        status("GET /fail"),
        (Some(SpanStatus::InternalError), 500.into())
    );
    assert_eq!(
        status("GET /reported"),
        (Some(SpanStatus::Unavailable), 503.into())
    );
    // A status the handler set is kept (the official `sentry-tower` only
    // sets one from the code when none is set).
    assert_eq!(
        status("GET /limited"),
        (Some(SpanStatus::ResourceExhausted), 200.into())
    );
    assert_eq!(source_of(named(&txs, "GET /users/{id}")), Some("route"));
    assert_eq!(source_of(named(&txs, "GET /missing")), Some("url"));

    // The unreported 500 becomes an event; the 503 whose cause the handler
    // captured is not reported twice.
    let events = events_of(&envelopes);
    let mut messages: Vec<_> = events.iter().map(message).collect();
    messages.sort_unstable();
    assert_eq!(
        messages,
        [
            "GET /fail responded 500 Internal Server Error",
            "database is down"
        ]
    );
    let failed = events
        .iter()
        .find(|e| message(e).starts_with("GET /fail"))
        .expect("5xx event");
    assert_eq!(failed.level, Level::Error);
    assert_eq!(failed.transaction.as_deref(), Some("GET /fail"));
    assert_eq!(
        event_trace(failed).trace_id,
        trace_of(named(&txs, "GET /fail")).trace_id
    );
    let response = match failed.contexts.get("response") {
        Some(Context::Other(m)) => m,
        other => panic!("no response context: {other:?}"),
    };
    assert_eq!(response["status_code"], 500);
    let request = failed.request.as_ref().expect("request data");
    assert_eq!(
        request.url.as_deref(),
        Some(&*format!("http://{server}/fail"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_an_unhandled_event() {
    let sentry = Sentry::new(ClientOptions::default());
    let server = serve(&sentry, None).await;
    // The panic is resumed: hyper drops the connection.
    let result = http_client()
        .get(format!("http://{server}/panic"))
        .header("authorization", "Bearer secret")
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");

    let envelopes = sentry.envelopes();
    let events = events_of(&envelopes);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.level, Level::Fatal);
    let exception = &event.exception.values[0];
    assert_eq!(exception.ty, "panic");
    assert_eq!(exception.value.as_deref(), Some("handler exploded"));
    let mechanism = exception.mechanism.as_ref().expect("mechanism");
    assert_eq!(mechanism.handled, Some(false));
    let request = event.request.as_ref().expect("request data");
    assert_eq!(
        request.url.as_deref(),
        Some(&*format!("http://{server}/panic"))
    );
    assert!(!request.headers.contains_key("authorization"));
    let txs = transactions_of(&envelopes);
    assert_eq!(txs.len(), 1);
    assert_eq!(trace_of(&txs[0]).status, Some(SpanStatus::InternalError));
    assert_eq!(event_trace(event).trace_id, trace_of(&txs[0]).trace_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_panic_hook_the_panic_is_reported_once() {
    let sentry = Sentry::new(ClientOptions {
        integrations: vec![Arc::new(
            sentry_integrations::panic::PanicIntegration::new().flush_timeout(Some(Duration::ZERO)),
        )],
        ..Default::default()
    });
    let server = serve(&sentry, None).await;
    let result = http_client()
        .get(format!("http://{server}/panic"))
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");

    let envelopes = sentry.envelopes();
    let events = events_of(&envelopes);
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    let exception = &event.exception.values[0];
    assert_eq!(exception.value.as_deref(), Some("handler exploded"));
    assert_eq!(
        exception.mechanism.as_ref().and_then(|m| m.handled),
        Some(false)
    );
    // Reported by the hook (it adds the crashed thread) on the request's
    // hub: request data and trace.
    assert!(event.threads.values.iter().any(|t| t.crashed));
    assert!(event.request.is_some());
    assert_eq!(event.transaction.as_deref(), Some("GET /panic"));
    let txs = transactions_of(&envelopes);
    assert_eq!(event_trace(event).trace_id, trace_of(&txs[0]).trace_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continues_incoming_trace_headers() {
    let sentry = Sentry::new(ClientOptions::default());
    let server = serve(&sentry, None).await;
    let client = http_client();
    // W3C traceparent alone.
    client
        .get(format!("http://{server}/users/1"))
        .header(
            "traceparent",
            "00-771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-01",
        )
        .send()
        .await
        .expect("response");
    // sentry-trace with baggage from another head SDK.
    client
        .get(format!("http://{server}/users/2"))
        .header(
            "sentry-trace",
            "11111111111111111111111111111111-2222222222222222-1",
        )
        .header(
            "baggage",
            "sentry-trace_id=11111111111111111111111111111111,sentry-public_key=abc,sentry-sample_rand=0.25,sentry-release=other%401",
        )
        .send()
        .await
        .expect("response");
    // An upstream "not sampled" decision wins over traces_sample_rate 1.0.
    client
        .get(format!("http://{server}/users/3"))
        .header(
            "sentry-trace",
            "33333333333333333333333333333333-4444444444444444-0",
        )
        .send()
        .await
        .expect("response");

    let envelopes = sentry.envelopes();
    let txs = transactions_of(&envelopes);
    assert_eq!(txs.len(), 2, "the unsampled one is not sent");
    let by_trace = |id: &str| {
        txs.iter()
            .find(|t| trace_of(t).trace_id.to_string() == id)
            .expect("transaction of the trace")
    };
    let w3c = by_trace("771a43a4192642f0b136d5159a501700");
    assert_eq!(
        trace_of(w3c)
            .parent_span_id
            .map(|s| s.to_string())
            .as_deref(),
        Some("b0e6f15b45c36b12")
    );
    let continued = by_trace("11111111111111111111111111111111");
    assert_eq!(
        trace_of(continued)
            .parent_span_id
            .map(|s| s.to_string())
            .as_deref(),
        Some("2222222222222222")
    );
    let dsc = envelopes
        .iter()
        .find_map(|e| {
            let trace = e.headers.trace.as_ref()?;
            (trace.get("trace_id")? == "11111111111111111111111111111111").then(|| trace.to_json())
        })
        .expect("frozen DSC");
    assert_eq!(dsc["public_key"], "abc");
    assert_eq!(dsc["release"], "other@1");
    assert_eq!(dsc["sample_rand"], "0.25");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_mode_sessions_count_each_outcome() {
    let sentry = Sentry::new(ClientOptions {
        session_mode: SessionMode::Request,
        ..Default::default()
    });
    let server = serve(&sentry, None).await;
    let client = http_client();
    for path in ["/users/1", "/users/2", "/fail", "/panic"] {
        let _ = client.get(format!("http://{server}{path}")).send().await;
    }
    sentry.client.flush_session_aggregates();

    let envelopes = sentry.envelopes();
    let aggregates: Vec<&SessionAggregates> = envelopes
        .iter()
        .flat_map(|e| e.items.iter())
        .filter_map(|i| match &i.payload {
            ItemPayload::Sessions(s) => Some(&**s),
            _ => None,
        })
        .collect();
    assert_eq!(aggregates.len(), 1);
    assert_eq!(aggregates[0].attrs.release, RELEASE);
    let sum = |f: fn(&sentry_core::protocol::SessionAggregateItem) -> u32| {
        aggregates[0].aggregates.iter().map(f).sum::<u32>()
    };
    assert_eq!(sum(|b| b.exited), 2);
    assert_eq!(sum(|b| b.errored), 1);
    assert_eq!(sum(|b| b.crashed), 1);
}

/// With `sample_rate` below 1, a handler's error that sampling drops was
/// still reported by the handler: no synthetic "responded 503" event takes
/// its place (sampled in, it would be sent instead of the real one), and
/// the request's session counts as errored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampled_out_handler_error_is_not_replaced_by_a_server_error_event() {
    use sentry_core::protocol::{DataCategory, DiscardReason};
    let sentry = Sentry::new(ClientOptions {
        sample_rate: 0.0,
        session_mode: SessionMode::Request,
        ..Default::default()
    });
    let server = serve(&sentry, None).await;
    let response = http_client()
        .get(format!("http://{server}/reported"))
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status(), 503);
    sentry.client.flush_session_aggregates();

    let envelopes = sentry.envelopes();
    assert!(events_of(&envelopes).is_empty(), "{envelopes:#?}");
    assert_eq!(
        sentry.transport.discards()[&(DiscardReason::SampleRate, DataCategory::Error)],
        1,
        "only the handler's event, sampled out"
    );
    let errored: u32 = envelopes
        .iter()
        .flat_map(|e| e.items.iter())
        .filter_map(|i| match &i.payload {
            ItemPayload::Sessions(s) => Some(s.aggregates.iter().map(|b| b.errored).sum::<u32>()),
            _ => None,
        })
        .sum();
    assert_eq!(errored, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_routes_name_transactions() {
    use axum::routing::get;

    let sentry = Sentry::new(ClientOptions::default());
    let app: axum::Router = axum::Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .layer(SentryHttpLayer::new().with_hub(sentry.hub.clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let response = http_client()
        .get(format!("http://{addr}/items/9"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);

    let txs = transactions_of(&sentry.envelopes());
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].name.as_deref(), Some("GET /items/{id}"));
    assert_eq!(source_of(&txs[0]), Some("route"));
    assert_eq!(trace_of(&txs[0]).status, Some(SpanStatus::Ok));
}

#[tokio::test]
async fn a_request_dropped_in_flight_is_cancelled() {
    use tower::{Layer, Service, ServiceExt};

    let sentry = Sentry::new(ClientOptions::default());
    // Any body types work: here `String` in, `Full<Bytes>` out.
    let mut service = SentryHttpLayer::new()
        .with_hub(sentry.hub.clone())
        .layer(tower::service_fn(|_req: http::Request<String>| {
            std::future::pending::<Result<HttpResponse, Infallible>>()
        }));
    let request = http::Request::builder()
        .uri("http://example.com/slow")
        .body(String::new())
        .expect("valid request");
    let ready = service.ready().await.expect("ready");
    let in_flight = ready.call(request);
    // The client goes away: the server drops the response future.
    let timed_out = tokio::time::timeout(Duration::from_millis(20), in_flight).await;
    assert!(timed_out.is_err());

    let txs = transactions_of(&sentry.envelopes());
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].name.as_deref(), Some("GET /slow"));
    assert_eq!(trace_of(&txs[0]).status, Some(SpanStatus::Cancelled));
    assert_eq!(
        txs[0].request.as_ref().and_then(|r| r.url.as_deref()),
        Some("http://example.com/slow")
    );
}

/// As the Python SDK's `stdlib`/`httpx` integrations: each outgoing request
/// leaves an `http` breadcrumb (category `httplib`) on the hub it was sent
/// from, with tracing off too, and a failed one is an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_requests_leave_http_breadcrumbs_with_tracing_off() {
    let sentry = Sentry::untraced();
    let addr = serve(&sentry, None).await;
    for path in ["/users/7?token=secret", "/fail"] {
        let pending = Hub::run(sentry.hub.clone(), || {
            http_client()
                .get(format!("http://{addr}{path}"))
                .send_traced()
        });
        // Awaited elsewhere than on the hub: the breadcrumb still goes there.
        tokio::spawn(pending)
            .await
            .expect("the task")
            .expect("request");
    }
    Hub::run(sentry.hub.clone(), || {
        sentry_core::capture_message("job failed", Level::Error);
    });
    let events = events_of(&sentry.envelopes());
    let failed = events
        .iter()
        .find(|e| message(e) == "job failed")
        .expect("the job's error");
    let crumbs: Vec<_> = failed
        .breadcrumbs
        .values
        .iter()
        .filter(|b| b.ty == "http")
        .collect();
    assert_eq!(crumbs.len(), 2, "{:#?}", failed.breadcrumbs);
    assert_eq!(crumbs[0].category.as_deref(), Some("httplib"));
    assert_eq!(crumbs[0].data["url"], format!("http://{addr}/users/7"));
    assert_eq!(crumbs[0].data["method"], "GET");
    assert_eq!(crumbs[0].data["status_code"], 200);
    assert_eq!(crumbs[0].level, Level::Info);
    assert_eq!(crumbs[1].data["status_code"], 500);
    assert_eq!(crumbs[1].level, Level::Error);
}
