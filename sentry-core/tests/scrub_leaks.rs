//! Places where sensitive data used to reach the transport unscrubbed: data
//! added by hooks, card numbers in common layouts, URLs, cookie strings and
//! tags.

use std::sync::Arc;

use sentry_core::protocol::{Breadcrumb, Event, Level};
use sentry_core::test::with_captured_events_options;
use sentry_core::ClientOptions;
use serde_json::{json, Value};

/// A breadcrumb whose data holds a password.
fn leaky_breadcrumb() -> Breadcrumb {
    let mut b = Breadcrumb {
        message: Some("login".into()),
        ..Default::default()
    };
    b.data.insert("password".into(), json!("hunter2"));
    b
}

/// The JSON of the only captured event, after a capture with `options`
/// that records one scope breadcrumb first.
fn captured_with_scope_crumb(
    options: ClientOptions,
    extra_scope: fn(&mut sentry_core::Scope),
) -> Value {
    let events = with_captured_events_options(
        || {
            sentry_core::add_breadcrumb(Breadcrumb {
                message: Some("from the scope".into()),
                ..Default::default()
            });
            sentry_core::configure_scope(extra_scope);
            sentry_core::capture_message("boom", Level::Error);
        },
        options,
    );
    assert_eq!(events.len(), 1);
    serde_json::to_value(&events[0]).expect("event serialises")
}

#[test]
fn breadcrumb_swapped_in_by_before_send_is_scrubbed() {
    // The hook replaces the scope's breadcrumb with its own at the same
    // position: a scrubber that skips "the first n (scope) breadcrumbs"
    // would let it through.
    let v = captured_with_scope_crumb(
        ClientOptions {
            before_send: Some(Arc::new(|mut e: Event| {
                e.breadcrumbs.values.clear();
                e.breadcrumbs.values.push(leaky_breadcrumb());
                Some(e)
            })),
            ..Default::default()
        },
        |_| {},
    );
    let crumbs = &v["breadcrumbs"]["values"];
    assert_eq!(crumbs.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(crumbs[0]["data"]["password"], "[Filtered]", "{v}");
}

#[test]
fn scope_breadcrumb_edited_by_an_event_processor_is_scrubbed() {
    let v = captured_with_scope_crumb(ClientOptions::default(), |scope| {
        scope.add_event_processor(|mut e: Event| {
            if let Some(first) = e.breadcrumbs.values.first_mut() {
                first.data.insert("api_key".into(), json!("sk_live_1"));
            }
            Some(e)
        });
    });
    assert_eq!(
        v["breadcrumbs"]["values"][0]["data"]["api_key"], "[Filtered]",
        "{v}"
    );
}

#[test]
fn breadcrumb_put_on_the_scope_directly_is_scrubbed() {
    // `Scope::add_breadcrumb_raw` bypasses the scrubbing done by
    // `Hub::add_breadcrumb`, so a scope's breadcrumbs are not all clean.
    let v = captured_with_scope_crumb(ClientOptions::default(), |scope| {
        scope.add_breadcrumb_raw(leaky_breadcrumb(), 100);
    });
    let crumbs = &v["breadcrumbs"]["values"];
    assert_eq!(crumbs[1]["data"]["password"], "[Filtered]", "{v}");
}

#[test]
fn scope_breadcrumbs_stay_scrubbed_and_unchanged() {
    let v = captured_with_scope_crumb(ClientOptions::default(), |_| {});
    assert_eq!(
        v["breadcrumbs"]["values"][0]["message"], "from the scope",
        "{v}"
    );
}
