//! HTTP server middleware: a `tower` layer for
//! hyper, axum and any service over [`http::Request`]/[`http::Response`].
//!
//! [`SentryHttpLayer`] wraps a service so that every request:
//!
//! - runs on a **new hub** forked from the current one (or from the hub given
//!   to [`SentryHttpLayer::with_hub`]) and bound to the response future, so
//!   breadcrumbs, tags and the user set while handling one request never leak
//!   into another, even when many run concurrently on the same threads;
//! - is one **transaction**, op `http.server`, named `METHOD route`: the route
//!   comes from [`SentryHttpLayer::with_route_resolver`], else (feature
//!   `axum`) from axum's `MatchedPath`, with source `route`; otherwise the
//!   name is `METHOD /the/path` with source `url` (such names are not put in
//!   the baggage);
//! - **continues the caller's trace** from its `sentry-trace` and `baggage`
//!   headers, honouring the caller's sampling decision and keeping its
//!   dynamic sampling context (a W3C `traceparent` alone gives the trace id
//!   but not the decision: proxies add one). With tracing off (no
//!   `traces_sample_rate`, no `traces_sampler`: the layer used for errors
//!   and request isolation only) no transaction is sent whatever the caller
//!   decided, and requests sent from the handler carry the trace without a
//!   decision of this service (see
//!   [`ClientOptions::tracing_enabled`](sentry_core::ClientOptions::tracing_enabled));
//! - has the transaction set as the scope's span, so events captured while
//!   handling it carry its trace context and the envelope header `trace`;
//! - carries **request data** (URL without the query, method, query string,
//!   headers) on the transaction and on every event captured inside it.
//!   Without `send_default_pii` the credential and address headers
//!   (`Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`,
//!   `X-Forwarded-For`, `X-Real-IP`) are not copied; cookies are only copied
//!   (to `request.cookies`, never as a header) with `send_default_pii`. The
//!   request **body is not captured**: the layer is generic over the body
//!   type and does not buffer it;
//! - ends with the transaction's status mapped from the response code
//!   ([`SpanStatus::from_http_status`]), unless the handler set one on the
//!   transaction itself (`Hub::current().active_span()` is the transaction
//!   only while no child span is active: a status set on a child span stays
//!   the child's), and the data
//!   `http.response.status_code`. A service error ends it as
//!   `internal_error`; a request dropped before it completed (the client went
//!   away) ends it as `cancelled`;
//! - with a **5xx response** captures an error event (`GET /route responded
//!   500 Internal Server Error`, with a `response` context), unless an
//!   error-level event was already captured while handling the request (the
//!   handler reported the cause itself; also when `sample_rate` then dropped
//!   that event, see [`sentry_core::Scope::add_error_observer`]) or
//!   [`SentryHttpLayer::capture_server_errors`] is off;
//! - with a **panic** in the handler captures an event (level `fatal`, one
//!   exception of type `panic` with mechanism `{type: "panic", handled:
//!   false}`) and then **resumes the panic**, so the server behaves as it
//!   would without the layer (hyper closes the connection). To answer `500`
//!   instead, put a panic-catching layer *outside* this one, such as
//!   `tower_http::catch_panic::CatchPanicLayer`. When the client has the
//!   [`PanicIntegration`](crate::panic::PanicIntegration) (installed by
//!   [`crate::init`]), its panic hook already reports the panic on the
//!   request's hub, with the stack trace of the panic and the request data
//!   (without flushing: the panic does not end the process, and the hook
//!   must not block the runtime worker; the same holds for a panic in a
//!   `tokio` task the handler spawns), and the layer does not capture it a
//!   second time. When the application replaced the SDK's hook after `init`
//!   (`std::panic::set_hook`, `color-eyre`, `human-panic`), the layer
//!   captures the panic itself;
//! - counts as a **request-mode session** when the client's `session_mode`
//!   is [`SessionMode::Request`] (exited, errored when an error was captured,
//!   crashed on a panic; needs a `release`).
//!
//! A `traces_sampler` sees the custom sampling data `http.request.method`
//! and `url.path`. Without a client the layer only forwards requests.
//!
//! # axum
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use sentry_integrations::http_server::SentryHttpLayer;
//!
//! # async fn run() -> std::io::Result<()> {
//! let _guard = sentry_integrations::init(sentry_core::ClientOptions {
//!     traces_sample_rate: 1.0,
//!     ..Default::default()
//! });
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "user" }))
//!     // `Router::layer` runs after routing: the transaction is named
//!     // `GET /users/{id}` (with the `axum` feature).
//!     .layer(SentryHttpLayer::new());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! # hyper
//!
//! ```no_run
//! use std::convert::Infallible;
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use hyper_util::rt::TokioIo;
//! use hyper_util::service::TowerToHyperService;
//! use sentry_integrations::http_server::SentryHttpLayer;
//! use tower::ServiceBuilder;
//!
//! # async fn run() -> std::io::Result<()> {
//! let service = ServiceBuilder::new()
//!     .layer(SentryHttpLayer::new().with_route_resolver(|req: &http::Request<Incoming>| {
//!         // Collapse ids so transactions group: `/users/42` → `/users/{id}`.
//!         let rest = req.uri().path().strip_prefix("/users/")?;
//!         rest.parse::<u64>().ok().map(|_| "/users/{id}".to_owned())
//!     }))
//!     .service_fn(|_req: http::Request<Incoming>| async {
//!         Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("hello"))))
//!     });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let service = TowerToHyperService::new(service.clone());
//!     tokio::spawn(async move {
//!         let _ = hyper::server::conn::http1::Builder::new()
//!             .serve_connection(TokioIo::new(stream), service)
//!             .await;
//!     });
//! }
//! # }
//! ```

pub use crate::hub_per_request::{NewSentryLayer, NewSentryService};

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::panic::resume_unwind;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use sentry_core::performance::{Transaction, TransactionContext};
use sentry_core::propagation::IncomingTrace;
use sentry_core::protocol::{self, Event, Exception, Level, Map, Mechanism, SpanStatus, Values};
use sentry_core::session::SessionMode;
use sentry_core::{Client, Hub};
use serde_json::Value;
use tower_layer::Layer;
use tower_service::Service;

/// Names the route of a request, for the transaction name (`METHOD route`).
///
/// Implemented for closures and functions `Fn(&http::Request<B>) ->
/// Option<String>`; `None` falls back to axum's `MatchedPath` (feature
/// `axum`) and then to the raw path.
pub trait RouteResolver<B>: Send + Sync + 'static {
    /// The route template of `request`, e.g. `/users/{id}`.
    fn route(&self, request: &Request<B>) -> Option<String>;
}

impl<B, F> RouteResolver<B> for F
where
    F: Fn(&Request<B>) -> Option<String> + Send + Sync + 'static,
{
    fn route(&self, request: &Request<B>) -> Option<String> {
        self(request)
    }
}

/// The resolver of a layer without [`SentryHttpLayer::with_route_resolver`]:
/// it names no route (axum's `MatchedPath` and the raw path still apply).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRouteResolver;

impl<B> RouteResolver<B> for NoRouteResolver {
    fn route(&self, _request: &Request<B>) -> Option<String> {
        None
    }
}

/// A `tower` layer that traces and isolates every HTTP request (see the
/// [module docs](self)).
///
/// ```
/// use sentry_integrations::http_server::SentryHttpLayer;
/// let layer = SentryHttpLayer::new()
///     .with_route_resolver(|req: &http::Request<String>| {
///         req.uri().path().starts_with("/static/").then(|| "/static/*".to_owned())
///     })
///     .capture_server_errors(false);
/// # drop(layer);
/// ```
pub struct SentryHttpLayer<R = NoRouteResolver> {
    hub: Option<Arc<Hub>>,
    resolver: Arc<R>,
    capture_server_errors: bool,
}

impl SentryHttpLayer {
    /// A layer forking each request's hub from the current hub (at the time
    /// the request arrives), without a route resolver, capturing 5xx
    /// responses.
    pub fn new() -> Self {
        SentryHttpLayer {
            hub: None,
            resolver: Arc::new(NoRouteResolver),
            capture_server_errors: true,
        }
    }
}

impl SentryHttpLayer {
    /// [`SentryHttpLayer::new`], under the official `sentry-tower`'s older
    /// name (see [`SentryHttpLayer::enable_transaction`]).
    pub fn with_transaction() -> Self {
        Self::new()
    }
}

impl Default for SentryHttpLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<R> SentryHttpLayer<R> {
    /// Forks each request's hub from `hub` instead of the current hub: its
    /// client and scope (tags, user, …) are the starting point of every
    /// request. Useful when the server runs on threads whose current hub is
    /// not the one configured, and in tests.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sentry_core::Hub;
    /// use sentry_integrations::http_server::SentryHttpLayer;
    /// let layer = SentryHttpLayer::new().with_hub(Hub::current());
    /// # drop(layer);
    /// ```
    pub fn with_hub(mut self, hub: Arc<Hub>) -> Self {
        self.hub = Some(hub);
        self
    }

    /// Names transactions by route: `resolver` returns the route template
    /// of a request (e.g. `/users/{id}` for `/users/42`), and the transaction
    /// is named `METHOD route` with source `route`. When it returns `None`,
    /// axum's `MatchedPath` (feature `axum`) and then the raw path (source
    /// `url`) are used.
    ///
    /// ```
    /// use sentry_integrations::http_server::SentryHttpLayer;
    /// fn route(req: &http::Request<()>) -> Option<String> {
    ///     req.uri().path().starts_with("/api/").then(|| "/api/*".to_owned())
    /// }
    /// let layer = SentryHttpLayer::new().with_route_resolver(route);
    /// # drop(layer);
    /// ```
    pub fn with_route_resolver<F>(self, resolver: F) -> SentryHttpLayer<F> {
        SentryHttpLayer {
            hub: self.hub,
            resolver: Arc::new(resolver),
            capture_server_errors: self.capture_server_errors,
        }
    }

    /// Whether a 5xx response is captured as an error event when nothing
    /// error-level was captured while handling the request. Default on.
    pub fn capture_server_errors(mut self, on: bool) -> Self {
        self.capture_server_errors = on;
        self
    }

    /// Accepted for code written for the official `sentry-tower`, where
    /// transactions are opt-in: this layer always starts one per request,
    /// and `traces_sample_rate`/`traces_sampler` decide which are sent.
    pub fn enable_transaction(self) -> Self {
        self
    }
}

impl<R> Clone for SentryHttpLayer<R> {
    fn clone(&self) -> Self {
        SentryHttpLayer {
            hub: self.hub.clone(),
            resolver: self.resolver.clone(),
            capture_server_errors: self.capture_server_errors,
        }
    }
}

impl<R> fmt::Debug for SentryHttpLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryHttpLayer")
            .field("hub", &self.hub.is_some())
            .field("capture_server_errors", &self.capture_server_errors)
            .finish_non_exhaustive()
    }
}

impl<S, R> Layer<S> for SentryHttpLayer<R> {
    type Service = SentryHttpService<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        SentryHttpService {
            inner,
            hub: self.hub.clone(),
            resolver: self.resolver.clone(),
            capture_server_errors: self.capture_server_errors,
        }
    }
}

/// The service made by [`SentryHttpLayer`].
pub struct SentryHttpService<S, R = NoRouteResolver> {
    inner: S,
    hub: Option<Arc<Hub>>,
    resolver: Arc<R>,
    capture_server_errors: bool,
}

impl<S: Clone, R> Clone for SentryHttpService<S, R> {
    fn clone(&self) -> Self {
        SentryHttpService {
            inner: self.inner.clone(),
            hub: self.hub.clone(),
            resolver: self.resolver.clone(),
            capture_server_errors: self.capture_server_errors,
        }
    }
}

impl<S: fmt::Debug, R> fmt::Debug for SentryHttpService<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryHttpService")
            .field("inner", &self.inner)
            .field("hub", &self.hub.is_some())
            .field("capture_server_errors", &self.capture_server_errors)
            .finish_non_exhaustive()
    }
}

impl<S, R, ReqB, ResB> Service<Request<ReqB>> for SentryHttpService<S, R>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    R: RouteResolver<ReqB>,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = SentryHttpFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        let parent = match &self.hub {
            Some(hub) => hub.clone(),
            None => Hub::current(),
        };
        let Some(client) = parent.client() else {
            return SentryHttpFuture {
                inner: self.inner.call(request),
                state: None,
            };
        };
        let hub = Arc::new(Hub::new_from_top(&parent));
        let name = transaction_name(&request, &*self.resolver);
        let mut state = RequestState::start(hub, &client, &request, name);
        state.capture_server_errors = self.capture_server_errors;
        let inner = &mut self.inner;
        let called = Hub::run(state.hub.clone(), || catch_handler(|| inner.call(request)));
        match called {
            Ok(inner) => SentryHttpFuture {
                inner,
                state: Some(state),
            },
            Err((payload, reported)) => {
                state.panicked(&*payload, reported);
                drop(state);
                resume_unwind(payload)
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`SentryHttpService`]: polls the inner future
    /// with the request's hub current, and finishes the transaction when it
    /// completes, fails, panics or is dropped.
    pub struct SentryHttpFuture<F> {
        #[pin]
        inner: F,
        state: Option<RequestState>,
    }
}

impl<F, ResB, E> Future for SentryHttpFuture<F>
where
    F: Future<Output = Result<Response<ResB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(state) = this.state.as_mut() else {
            return this.inner.poll(cx);
        };
        let inner = this.inner;
        let polled = Hub::run(state.hub.clone(), || catch_handler(|| inner.poll(cx)));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => {
                match &result {
                    Ok(response) => state.respond(response.status()),
                    Err(_) => state.end(SpanStatus::InternalError),
                }
                *this.state = None;
                Poll::Ready(result)
            }
            Err((payload, reported)) => {
                state.panicked(&*payload, reported);
                *this.state = None;
                resume_unwind(payload)
            }
        }
    }
}

impl<F: fmt::Debug> fmt::Debug for SentryHttpFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryHttpFuture")
            .field("inner", &self.inner)
            .field("traced", &self.state.is_some())
            .finish()
    }
}

/// `METHOD route` (source `route`) or `METHOD /path` (source `url`).
fn transaction_name<B, R: RouteResolver<B>>(
    request: &Request<B>,
    resolver: &R,
) -> (String, &'static str) {
    let method = request.method().as_str();
    match resolver.route(request).or_else(|| matched_path(request)) {
        Some(route) => (format!("{method} {route}"), "route"),
        None => (format!("{method} {}", request.uri().path()), "url"),
    }
}

#[cfg(feature = "axum")]
fn matched_path<B>(request: &Request<B>) -> Option<String> {
    request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
}

#[cfg(not(feature = "axum"))]
fn matched_path<B>(_request: &Request<B>) -> Option<String> {
    None
}

/// What the layer keeps about one request until its response.
struct RequestState {
    hub: Arc<Hub>,
    /// `None` once finished.
    transaction: Option<Transaction>,
    name: String,
    /// Set by the scope's error observer when an error-level event was
    /// captured while handling the request (sent or sampled out).
    errored: Arc<AtomicBool>,
    request_session: bool,
    capture_server_errors: bool,
}

impl RequestState {
    fn start<B>(
        hub: Arc<Hub>,
        client: &Client,
        request: &Request<B>,
        (name, source): (String, &'static str),
    ) -> RequestState {
        let options = client.options();
        let headers = request
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
        let mut ctx = TransactionContext::continue_from(
            name.clone(),
            "http.server",
            IncomingTrace::from_headers(headers),
        );
        ctx.set_source(source);
        let method = request.method().as_str();
        ctx.set_custom("http.request.method", Value::from(method));
        ctx.set_custom("url.path", Value::from(request.uri().path()));
        let transaction = hub.start_transaction(ctx);
        let data = Arc::new(request_data(request, options.send_default_pii));
        if transaction.is_sampled() {
            transaction.set_origin("auto.http.tower");
            transaction.set_request((*data).clone());
            transaction.set_data("http.request.method", Value::from(method));
        }
        let errored = Arc::new(AtomicBool::new(false));
        let flag = errored.clone();
        hub.configure_scope(|scope| {
            scope.set_span(Some(transaction.clone().into()));
            scope.set_transaction(Some(&name));
            scope.add_event_processor(move |mut event| {
                if event.request.is_none() {
                    event.request = Some((*data).clone());
                }
                Some(event)
            });
            // Told of errors before sampling: a handler's error that
            // `sample_rate` drops was still reported by the handler.
            scope.add_error_observer(move |_crashed| flag.store(true, Ordering::Relaxed));
        });
        let request_session = options.session_mode == SessionMode::Request;
        if request_session {
            hub.start_request_session();
        }
        RequestState {
            hub,
            transaction: Some(transaction),
            name,
            errored,
            request_session,
            capture_server_errors: true,
        }
    }

    /// The service answered with `status`.
    fn respond(&mut self, status: StatusCode) {
        let Some(transaction) = self.transaction.take() else {
            return;
        };
        Hub::run(self.hub.clone(), || {
            let code = status.as_u16();
            // A status the handler set (e.g. `resource_exhausted` for a
            // request it rate limited, answered 200) says more than the code.
            if transaction.status().is_none() {
                transaction.set_status(SpanStatus::from_http_status(code));
            }
            transaction.set_data("http.response.status_code", Value::from(code));
            if status.is_server_error()
                && self.capture_server_errors
                && !self.errored.load(Ordering::Relaxed)
            {
                self.hub
                    .capture_event(server_error_event(&self.name, status));
            }
            self.close(transaction);
        });
    }

    /// The service failed, or the request was dropped before it completed.
    fn end(&mut self, status: SpanStatus) {
        let Some(transaction) = self.transaction.take() else {
            return;
        };
        Hub::run(self.hub.clone(), || {
            transaction.set_status(status);
            self.close(transaction);
        });
    }

    /// The handler panicked with `payload`; `reported` when the SDK's panic
    /// hook captured it already.
    fn panicked(&mut self, payload: &(dyn Any + Send), reported: bool) {
        let Some(transaction) = self.transaction.take() else {
            return;
        };
        Hub::run(self.hub.clone(), || {
            transaction.set_status(SpanStatus::InternalError);
            if !reported {
                self.hub.capture_event(panic_event(panic_message(payload)));
            }
            self.close(transaction);
        });
    }

    /// Ends the request session and sends the transaction (on the request's
    /// hub, so its scope applies).
    fn close(&self, transaction: Transaction) {
        if self.request_session {
            self.hub.end_request_session();
        }
        transaction.finish();
    }
}

impl Drop for RequestState {
    fn drop(&mut self) {
        // Dropped before a response: the client went away (or the server
        // shut down) while the request was in flight.
        self.end(SpanStatus::Cancelled);
    }
}

/// Runs a handler's `call` or `poll`, catching a panic: `Err((payload,
/// reported))`, `reported` when the SDK's panic hook captured it already.
///
/// The hook is told that it runs inside a request (it then does not flush,
/// see [`crate::panic`]) and says whether it reported the panic; asking it
/// (instead of checking that the client has the `PanicIntegration`) still
/// reports the panic when the application replaced the SDK's hook after
/// `init` (`std::panic::set_hook`, `color-eyre`, `human-panic`).
fn catch_handler<R>(f: impl FnOnce() -> R) -> Result<R, (Box<dyn Any + Send>, bool)> {
    #[cfg(feature = "panic")]
    {
        crate::panic::catch_in_request(f)
    }
    #[cfg(not(feature = "panic"))]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| (p, false))
    }
}

/// The request as it appears on events and transactions.
fn request_data<B>(request: &Request<B>, send_default_pii: bool) -> protocol::Request {
    let uri = request.uri();
    let host = uri.authority().map(|a| a.as_str()).or_else(|| {
        request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
    });
    let url = match host {
        Some(host) => format!(
            "{}://{host}{}",
            uri.scheme_str().unwrap_or("http"),
            uri.path()
        ),
        None => uri.path().to_owned(),
    };
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: Option<String> = None;
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        if name == http::header::COOKIE {
            if send_default_pii {
                match &mut cookies {
                    Some(c) => {
                        c.push_str("; ");
                        c.push_str(&value);
                    }
                    None => cookies = Some(value.into_owned()),
                }
            }
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    if !send_default_pii {
        sentry_core::scrub::scrub_headers_without_pii(&mut headers);
    }
    protocol::Request {
        url: Some(url),
        method: Some(request.method().as_str().to_owned()),
        query_string: uri.query().map(str::to_owned),
        cookies: cookies.map(Value::String),
        headers,
        ..Default::default()
    }
}

/// The event for a 5xx response nobody reported.
fn server_error_event(name: &str, status: StatusCode) -> Event {
    let code = status.as_u16();
    let message = match status.canonical_reason() {
        Some(reason) => format!("{name} responded {code} {reason}"),
        None => format!("{name} responded {code}"),
    };
    let mut event = sentry_core::event_from_message(&message, Level::Error);
    let mut response = Map::new();
    response.insert("type".to_owned(), Value::from("response"));
    response.insert("status_code".to_owned(), Value::from(code));
    event
        .contexts
        .insert("response".to_owned(), response.into());
    event
}

/// The event for a panic caught in a handler (no stack trace: by the time
/// the layer sees the panic the stack has unwound).
fn panic_event(message: &str) -> Event {
    Event {
        level: Level::Fatal,
        exception: Values::from(vec![Exception {
            ty: "panic".to_owned(),
            value: Some(message.to_owned()),
            mechanism: Some(Mechanism {
                ty: "panic".to_owned(),
                handled: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_data_drops_credentials_without_pii() {
        let request = Request::builder()
            .method("POST")
            .uri("/login?next=%2Fhome")
            .header("host", "example.com:8080")
            .header("authorization", "Bearer x")
            .header("cookie", "sid=1")
            .header("accept", "text/html")
            .header("accept", "application/json")
            .body(())
            .expect("valid request");
        let data = request_data(&request, false);
        assert_eq!(data.url.as_deref(), Some("http://example.com:8080/login"));
        assert_eq!(data.method.as_deref(), Some("POST"));
        assert_eq!(data.query_string.as_deref(), Some("next=%2Fhome"));
        assert_eq!(data.cookies, None);
        assert_eq!(data.headers.keys().collect::<Vec<_>>(), ["accept", "host"]);
        assert_eq!(data.headers["accept"], "text/html, application/json");

        let with_pii = request_data(&request, true);
        assert_eq!(with_pii.cookies, Some(Value::from("sid=1")));
        assert!(with_pii.headers.contains_key("authorization"));
        assert!(!with_pii.headers.contains_key("cookie"));
    }

    #[test]
    fn names_by_route_then_path() {
        let request = Request::builder()
            .uri("http://example.com/users/42")
            .body(())
            .expect("valid request");
        let by_route = |r: &Request<()>| {
            r.uri()
                .path()
                .starts_with("/users/")
                .then(|| "/users/{id}".to_owned())
        };
        assert_eq!(
            transaction_name(&request, &by_route),
            ("GET /users/{id}".to_owned(), "route")
        );
        assert_eq!(
            transaction_name(&request, &NoRouteResolver),
            ("GET /users/42".to_owned(), "url")
        );
    }

    #[test]
    fn panic_payloads() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&1u8), "Box<dyn Any>");
        let event = panic_event("boom");
        let mechanism = event.exception.values[0].mechanism.as_ref();
        assert_eq!(mechanism.and_then(|m| m.handled), Some(false));
    }
}
