//! The seam between the SDK and the network.
//!
//! `sentry-core` does no I/O: a [`Transport`] receives finished envelopes.
//! `sentry-transport` provides the HTTP one; [`crate::test`] provides one that
//! keeps envelopes in memory for assertions.

use std::sync::Arc;
use std::time::Duration;

use crate::envelope::Envelope;
use crate::options::ClientOptions;
use crate::protocol::{DataCategory, DiscardReason};

/// Sends envelopes somewhere. Implementations must never block the caller of
/// [`Transport::send_envelope`] on the network.
///
/// ```
/// use std::sync::Arc;
/// use sentry_core::{envelope::Envelope, transport::Transport};
/// struct Discard;
/// impl Transport for Discard {
///     fn send_envelope(&self, _envelope: Envelope) {}
/// }
/// let t: Arc<dyn Transport> = Arc::new(Discard);
/// assert!(t.flush(std::time::Duration::from_secs(1)));
/// ```
pub trait Transport: Send + Sync + 'static {
    /// Queues an envelope for sending. Must return quickly.
    fn send_envelope(&self, envelope: Envelope);

    /// Waits up to `timeout` for queued envelopes to be sent; `true` when
    /// everything queued before the call was handled in time.
    fn flush(&self, timeout: Duration) -> bool {
        let _ = timeout;
        true
    }

    /// Flushes and stops; later envelopes are dropped.
    fn shutdown(&self, timeout: Duration) -> bool {
        self.flush(timeout)
    }

    /// Records items the SDK dropped before they reached the transport, so
    /// they can be reported in a client report (PROTOCOL.md §8).
    fn record_discard(&self, reason: DiscardReason, category: DataCategory, quantity: u64) {
        let _ = (reason, category, quantity);
    }
}

/// Creates the transport for a client from its options.
pub trait TransportFactory: Send + Sync + 'static {
    /// Builds the transport.
    fn create_transport(&self, options: &ClientOptions) -> Arc<dyn Transport>;
}

impl<F> TransportFactory for F
where
    F: Fn(&ClientOptions) -> Arc<dyn Transport> + Send + Sync + 'static,
{
    fn create_transport(&self, options: &ClientOptions) -> Arc<dyn Transport> {
        self(options)
    }
}

impl<T: Transport> TransportFactory for Arc<T> {
    fn create_transport(&self, _options: &ClientOptions) -> Arc<dyn Transport> {
        self.clone()
    }
}
