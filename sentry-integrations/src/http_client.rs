//! Outgoing HTTP requests with `reqwest`: an `http` breadcrumb and an
//! `http.client` span per request, and trace propagation to the service
//! called.
//!
//! With a client bound, every request sent through [`send_traced`] adds a
//! breadcrumb to the hub current when it was sent, with tracing on or off,
//! as the Python SDK's `stdlib` and `httpx` integrations do: type `http`,
//! category `httplib`, data `url` (without credentials, query or fragment),
//! `method` and `status_code` (the names Sentry shows for an HTTP
//! breadcrumb); level `warning` for a 4xx answer, `error` for a 5xx answer
//! or a request that failed without one (which has no `status_code`). A
//! request dropped before its answer adds none.
//!
//! [`send_traced`] (or [`RequestBuilderExt::send_traced`]) sends a request
//! like `RequestBuilder::send`, and when a span is active on the current hub
//! (a transaction set on the scope, e.g. by
//! [`SentryHttpLayer`](crate::http_server::SentryHttpLayer)):
//!
//! - starts a child span with op `http.client`, description `METHOD url`
//!   and data `http.request.method` and `url` (the URL without credentials,
//!   query or fragment);
//! - adds the `sentry-trace` header (the child span's id, so the callee's
//!   transaction becomes its child) and the `baggage` header with the trace's
//!   dynamic sampling context, **merged** into a `baggage` header the request
//!   already has: other vendors' entries are kept, old `sentry-` entries are
//!   replaced ([`merge_baggage`]);
//! - finishes the span when the response headers arrive, with data
//!   `http.response.status_code` and the status mapped from the code
//!   ([`SpanStatus::from_http_status`]); a failed request ends as
//!   `deadline_exceeded` (timeout), `unavailable` (connection failed) or
//!   `internal_error`, and a request dropped before its response as
//!   `cancelled`.
//!
//! The active span is read when `send_traced` is called, so the returned
//! future may be spawned elsewhere. Without an active span (a background
//! job) the request gets no span but carries the scope's own trace
//! ([`Scope::propagation_trace`](sentry_core::Scope::propagation_trace):
//! without a sampling decision, or with the caller's when the scope
//! continues a trace) and its sampling context as `baggage`, so the
//! called service's errors and transactions join that trace; without a
//! bound client it is sent unchanged. Unsampled traces get no span recorded, but their headers
//! are still sent, carrying the "not sampled" decision downstream. With
//! tracing off (no `traces_sample_rate`, no `traces_sampler`) this service
//! takes no decision: `sentry-trace` is `<trace_id>-<span_id>` without the
//! flag (or with the caller's, when the trace was continued) and the
//! baggage has no `sentry-sampled`, `sentry-sample_rate` or
//! `sentry-sample_rand` of its own, so a downstream service that traces
//! decides for itself instead of dropping its transactions. Headers go
//! to every URL unless the client's
//! [`trace_propagation_targets`](sentry_core::ClientOptions::trace_propagation_targets)
//! limits them (the span is recorded either way), so third-party hosts need
//! not see your trace ids.
//!
//! ```no_run
//! use sentry_integrations::http_client::RequestBuilderExt;
//!
//! # async fn handler(client: reqwest::Client) -> reqwest::Result<()> {
//! // Inside a request handled under `SentryHttpLayer`, or any active span:
//! let response = client
//!     .get("http://127.0.0.1:3001/users/42")
//!     .header("baggage", "vendor=abc") // kept, Sentry's entries are added
//!     .send_traced()
//!     .await?;
//! # let _ = response; Ok(())
//! # }
//! ```

use std::future::Future;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sentry_core::performance::Span;
use sentry_core::propagation::{merge_baggage, Dsc, SentryTrace};
use sentry_core::protocol::{Breadcrumb, Level, Map, SpanStatus};
use sentry_core::Hub;
use serde_json::Value;

/// Sends `builder`'s request with an `http.client` span and the trace
/// headers (see the [module docs](self)).
///
/// ```no_run
/// # async fn call() -> reqwest::Result<()> {
/// let client = reqwest::Client::new();
/// let response = sentry_integrations::http_client::send_traced(
///     client.post("http://127.0.0.1:3001/orders").body("{}"),
/// )
/// .await?;
/// assert!(response.status().is_success());
/// # Ok(())
/// # }
/// ```
pub fn send_traced(
    builder: reqwest::RequestBuilder,
) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static {
    let (parent, sentry, own_trace, hub) = Hub::with_current(|hub| {
        let client = hub.client();
        let scope = hub.top_scope();
        let own = client
            .as_ref()
            .map(|c| (scope.propagation_trace(), scope.propagation_dsc(c)));
        let crumb_hub = client.as_ref().map(|_| hub.clone());
        (hub.active_span(), client, own, crumb_hub)
    });
    let (client, request) = builder.build_split();
    let prepared = request.map(|mut request| {
        let propagate = sentry
            .as_ref()
            .map_or(true, |c| c.options().propagates_to(request.url().as_str()));
        if let (None, true, Some((trace, dsc))) = (&parent, propagate, &own_trace) {
            // No span: the scope's own trace and its sampling context
            // (with the caller's sampling decision if the scope continues
            // a trace, else none, as the official SDKs do), so that the
            // called service's errors join this one's.
            inject_trace_headers(request.headers_mut(), trace, dsc);
        }
        let span = parent.map(|parent| {
            let method = request.method().as_str().to_owned();
            let url = sanitized_url(request.url());
            let span = parent.start_child("http.client", format!("{method} {url}"));
            span.set_origin("auto.http.reqwest");
            span.set_data("http.request.method", Value::from(method));
            span.set_data("url", Value::from(url));
            if propagate {
                inject_trace_headers(request.headers_mut(), &span.sentry_trace(), &span.dsc());
            }
            span
        });
        let crumb = hub.map(|hub| RequestCrumb {
            hub,
            method: request.method().as_str().to_owned(),
            url: sanitized_url(request.url()),
        });
        (request, SpanGuard(span), crumb)
    });
    async move {
        let (request, guard, crumb) = prepared?;
        let result = client.execute(request).await;
        guard.finish(&result);
        if let Some(crumb) = crumb {
            crumb.add(&result);
        }
        result
    }
}

/// [`send_traced`] as a method of `reqwest::RequestBuilder`.
///
/// ```no_run
/// use sentry_integrations::http_client::RequestBuilderExt;
/// # async fn call(client: reqwest::Client) -> reqwest::Result<()> {
/// let body = client.get("http://127.0.0.1:3001/").send_traced().await?.text().await?;
/// # let _ = body; Ok(())
/// # }
/// ```
pub trait RequestBuilderExt {
    /// Sends the request with an `http.client` span and the trace headers.
    fn send_traced(
        self,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static;
}

impl RequestBuilderExt for reqwest::RequestBuilder {
    fn send_traced(
        self,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static {
        send_traced(self)
    }
}

/// Sets `sentry-trace` and merges the dynamic sampling context into
/// `baggage`, keeping other vendors' baggage entries. For HTTP clients other
/// than reqwest (any `http::HeaderMap`).
///
/// Baggage values that are not visible ASCII (invalid by the W3C format) are
/// dropped.
///
/// ```
/// use reqwest::header::HeaderMap;
/// use sentry_core::performance::{start_transaction, TransactionContext};
/// use sentry_integrations::http_client::inject_trace_headers;
///
/// let tx = start_transaction(TransactionContext::new("job", "task"));
/// let span = tx.start_child("http.client", "GET http://example.com/");
/// let mut headers = HeaderMap::new();
/// headers.insert("baggage", "vendor=1,sentry-release=old".parse().unwrap());
/// inject_trace_headers(&mut headers, &span.sentry_trace(), &span.dsc());
/// assert_eq!(headers["sentry-trace"], span.sentry_trace().to_string());
/// let baggage = headers["baggage"].to_str().unwrap();
/// assert!(baggage.starts_with("vendor=1,sentry-"));
/// assert!(!baggage.contains("sentry-release=old"));
/// ```
pub fn inject_trace_headers(headers: &mut HeaderMap, sentry_trace: &SentryTrace, dsc: &Dsc) {
    if let Ok(value) = HeaderValue::from_str(&sentry_trace.to_string()) {
        headers.insert(HeaderName::from_static("sentry-trace"), value);
    }
    let baggage = HeaderName::from_static("baggage");
    let existing: Vec<&str> = headers
        .get_all(&baggage)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let merged = merge_baggage(Some(&existing.join(",")), dsc);
    match HeaderValue::from_str(&merged) {
        Ok(value) if !merged.is_empty() => {
            headers.insert(baggage, value);
        }
        _ => {
            headers.remove(baggage);
        }
    }
}

/// The URL as recorded on the span: no credentials, query or fragment.
fn sanitized_url(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// What the `http` breadcrumb of a request needs, taken when it is sent.
struct RequestCrumb {
    /// The hub current when the request was sent (the future may be polled
    /// on another thread).
    hub: std::sync::Arc<Hub>,
    method: String,
    /// Without credentials, query or fragment.
    url: String,
}

impl RequestCrumb {
    fn add(self, result: &reqwest::Result<reqwest::Response>) {
        let status = result.as_ref().ok().map(|r| r.status().as_u16());
        self.hub
            .add_breadcrumb(|| http_breadcrumb(self.method, self.url, status));
    }
}

/// The breadcrumb for an outgoing request (see the [module docs](self)):
/// `status` is `None` when the request failed without an answer.
///
/// ```
/// use sentry_core::protocol::Level;
/// use sentry_integrations::http_client::http_breadcrumb;
///
/// let crumb = http_breadcrumb("GET".into(), "http://127.0.0.1:3001/users".into(), Some(503));
/// assert_eq!((crumb.ty.as_ref(), crumb.category.as_deref()), ("http", Some("httplib")));
/// assert_eq!(crumb.data["status_code"], 503);
/// assert_eq!(crumb.level, Level::Error);
/// ```
pub fn http_breadcrumb(method: String, url: String, status: Option<u16>) -> Breadcrumb {
    let mut data = Map::new();
    data.insert("url".to_owned(), Value::from(url));
    data.insert("method".to_owned(), Value::from(method));
    if let Some(code) = status {
        data.insert("status_code".to_owned(), Value::from(code));
    }
    Breadcrumb {
        ty: "http".into(),
        category: Some("httplib".into()),
        level: match status {
            Some(500..) | None => Level::Error,
            Some(400..=499) => Level::Warning,
            Some(_) => Level::Info,
        },
        data: data.into(),
        ..Default::default()
    }
}

/// Finishes the span as `cancelled` if the request is dropped before its
/// response.
struct SpanGuard(Option<Span>);

impl SpanGuard {
    fn finish(mut self, result: &reqwest::Result<reqwest::Response>) {
        let Some(span) = self.0.take() else {
            return;
        };
        match result {
            Ok(response) => {
                let code = response.status().as_u16();
                span.set_data("http.response.status_code", Value::from(code));
                span.set_status(SpanStatus::from_http_status(code));
            }
            Err(e) if e.is_timeout() => span.set_status(SpanStatus::DeadlineExceeded),
            Err(e) if e.is_connect() => span.set_status(SpanStatus::Unavailable),
            Err(_) => span.set_status(SpanStatus::InternalError),
        }
        span.finish();
    }
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        if let Some(span) = self.0.take() {
            span.set_status(SpanStatus::Cancelled);
            span.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_query_and_fragment() {
        let url: reqwest::Url = "https://user:pw@example.com:8443/a/b?token=x#frag"
            .parse()
            .expect("valid url");
        assert_eq!(sanitized_url(&url), "https://example.com:8443/a/b");
    }

    #[test]
    fn baggage_is_merged_and_sentry_trace_replaced() {
        let mut headers = HeaderMap::new();
        headers.append("baggage", HeaderValue::from_static("a=1"));
        headers.append(
            "baggage",
            HeaderValue::from_static("sentry-trace_id=old,b=2"),
        );
        headers.insert("sentry-trace", HeaderValue::from_static("garbage"));
        let trace: SentryTrace = "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1"
            .parse()
            .expect("valid");
        let mut dsc = Dsc::new();
        dsc.set("trace_id", "771a43a4192642f0b136d5159a501700");
        inject_trace_headers(&mut headers, &trace, &dsc);
        assert_eq!(headers.get_all("baggage").iter().count(), 1);
        assert_eq!(
            headers["baggage"],
            "a=1,b=2,sentry-trace_id=771a43a4192642f0b136d5159a501700"
        );
        assert_eq!(
            headers["sentry-trace"],
            "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1"
        );

        // Nothing to add and nothing to keep: no baggage header at all.
        let mut empty = HeaderMap::new();
        inject_trace_headers(&mut empty, &trace, &Dsc::new());
        assert!(empty.get("baggage").is_none());
    }
}
