//! Carrying a hub (and so its scope) with a future across `.await` points
//! and executor threads.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::hub::Hub;

pin_project_lite::pin_project! {
    /// A future that makes its hub current whenever it is polled.
    pub struct SentryFuture<F> {
        hub: Arc<Hub>,
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for SentryFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner;
        Hub::run(this.hub.clone(), || inner.poll(cx))
    }
}

/// Binds a hub to a future.
///
/// ```
/// use std::sync::Arc;
/// use sentry_core::{Hub, SentryFutureExt};
/// let hub = Arc::new(Hub::new_from_top(Hub::current()));
/// let task = async { sentry_core::configure_scope(|s| s.set_tag("task", "1")) }.bind_hub(hub.clone());
/// // Spawn `task` on any executor; its breadcrumbs and tags stay on `hub`.
/// # drop(task);
/// ```
pub trait SentryFutureExt: Sized {
    /// Runs the future with `hub` (an `Arc<Hub>` or a `Hub`) current on
    /// every poll.
    fn bind_hub(self, hub: impl Into<Arc<Hub>>) -> SentryFuture<Self> {
        SentryFuture {
            hub: hub.into(),
            inner: self,
        }
    }

    /// Runs the future on a new hub forked from the current one, so its scope
    /// changes stay private to it.
    fn with_new_hub(self) -> SentryFuture<Self> {
        let hub = Arc::new(Hub::new_from_top(Hub::current()));
        self.bind_hub(hub)
    }
}

impl<F: Future> SentryFutureExt for F {}
