//! A `tower` layer that gives each request a hub of its own, for any
//! service (not only HTTP): [`NewSentryLayer`], under the official
//! `sentry-tower` crate's name.
//!
//! [`SentryHttpLayer`](crate::http_server::SentryHttpLayer) already forks a
//! hub per request; this layer is for other request types (a queue
//! consumer's messages, a gRPC or RPC service) and for code ported from the
//! official crate, where the two layers are stacked.
//!
//! ```
//! use sentry_integrations::http_server::NewSentryLayer;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! let events = sentry_core::test::with_captured_events(|| {
//!     let service = NewSentryLayer::<&'static str>::new_from_top().layer(service_fn(|job: &'static str| async move {
//!         sentry_core::configure_scope(|scope| scope.set_tag("job", job));
//!         sentry_core::capture_message("job failed", sentry_core::Level::Error);
//!         Ok::<_, std::convert::Infallible>(())
//!     }));
//!     let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//!     runtime.block_on(service.oneshot("resize")).unwrap();
//!     sentry_core::capture_message("after the job", sentry_core::Level::Info);
//! });
//! assert_eq!(events[0].tags.get("job").map(String::as_str), Some("resize"));
//! assert!(events[1].tags.get("job").is_none()); // the tag stayed with the request
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use sentry_core::{Hub, SentryFuture, SentryFutureExt};
use tower_layer::Layer;
use tower_service::Service;

/// Forks a new hub for each request from the current hub (or a given one)
/// and runs the inner service's call and its future on it, so scope changes
/// made while handling one request stay with it.
pub struct NewSentryLayer<Request> {
    hub: Option<Arc<Hub>>,
    request: PhantomData<fn(Request)>,
}

impl<Request> NewSentryLayer<Request> {
    /// Forks from the hub that is current when a request arrives.
    pub fn new_from_top() -> Self {
        NewSentryLayer {
            hub: None,
            request: PhantomData,
        }
    }

    /// Forks from `hub` for every request.
    pub fn with_hub(hub: Arc<Hub>) -> Self {
        NewSentryLayer {
            hub: Some(hub),
            request: PhantomData,
        }
    }
}

impl<Request> Clone for NewSentryLayer<Request> {
    fn clone(&self) -> Self {
        NewSentryLayer {
            hub: self.hub.clone(),
            request: PhantomData,
        }
    }
}

impl<Request> fmt::Debug for NewSentryLayer<Request> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSentryLayer")
            .field("hub", &self.hub.is_some())
            .finish()
    }
}

impl<S, Request> Layer<S> for NewSentryLayer<Request> {
    type Service = NewSentryService<S, Request>;

    fn layer(&self, inner: S) -> Self::Service {
        NewSentryService {
            inner,
            hub: self.hub.clone(),
            request: PhantomData,
        }
    }
}

/// The service made by [`NewSentryLayer`].
pub struct NewSentryService<S, Request> {
    inner: S,
    hub: Option<Arc<Hub>>,
    request: PhantomData<fn(Request)>,
}

impl<S: Clone, Request> Clone for NewSentryService<S, Request> {
    fn clone(&self) -> Self {
        NewSentryService {
            inner: self.inner.clone(),
            hub: self.hub.clone(),
            request: PhantomData,
        }
    }
}

impl<S, Request> fmt::Debug for NewSentryService<S, Request> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSentryService")
            .field("hub", &self.hub.is_some())
            .finish_non_exhaustive()
    }
}

impl<S, Request> Service<Request> for NewSentryService<S, Request>
where
    S: Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = SentryFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let hub = Arc::new(match &self.hub {
            Some(base) => Hub::new_from_top(base),
            None => Hub::new_from_top(Hub::current()),
        });
        let inner = &mut self.inner;
        Hub::run(hub.clone(), || inner.call(request)).bind_hub(hub)
    }
}
