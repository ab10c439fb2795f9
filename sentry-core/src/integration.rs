//! Integrations: pluggable processors that enrich events (stack traces,
//! contexts) and hooks that wire external sources (panics, logs) to the SDK.

use std::any::Any;

use crate::options::ClientOptions;
use crate::protocol::Event;

/// An integration. Everything has a default, so an integration implements only
/// what it needs.
///
/// ```
/// use sentry_core::{Integration, ClientOptions, protocol::Event};
/// struct AddTag;
/// impl Integration for AddTag {
///     fn name(&self) -> &'static str { "add-tag" }
///     fn process_event(&self, mut event: Event, _: &ClientOptions) -> Option<Event> {
///         event.tags.insert("via".into(), "integration".into());
///         Some(event)
///     }
/// }
/// ```
pub trait Integration: Send + Sync + Any + 'static {
    /// A short name, reported in the event's `sdk.integrations`; by default
    /// the type's name (as the official crate has it), but a short name of
    /// one's own reads better in events.
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// Called once when a client is created with this integration.
    fn setup(&self, options: &mut ClientOptions) {
        let _ = options;
    }

    /// Enriches or drops an event. Runs after the scope is applied and before
    /// `before_send`. A panic here drops the event (`internal_sdk_error`).
    fn process_event(&self, event: Event, options: &ClientOptions) -> Option<Event> {
        let _ = options;
        Some(event)
    }
}
