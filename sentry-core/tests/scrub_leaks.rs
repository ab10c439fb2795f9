//! Places where sensitive data used to reach the transport unscrubbed: data
//! added by hooks, card numbers in common layouts, URLs, cookie strings and
//! tags.

use std::sync::Arc;

use sentry_core::performance::{start_transaction, TransactionContext};
use sentry_core::protocol::{Breadcrumb, Event, Level, Request};
use sentry_core::test::{
    transactions_of, with_captured_envelopes_options, with_captured_events_options,
};
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

/// The request of the only event captured with `request` and `options`.
fn captured_request(request: Request, options: ClientOptions) -> Request {
    let events = with_captured_events_options(
        || {
            sentry_core::capture_event(Event {
                request: Some(request),
                ..Default::default()
            });
        },
        options,
    );
    assert_eq!(events.len(), 1);
    events[0].request.clone().expect("request kept")
}

#[test]
fn request_url_query_and_credentials_are_scrubbed() {
    let request = captured_request(
        Request {
            url: Some("https://admin:hunter2@example.com/reset?token=abc123&page=2".into()),
            ..Default::default()
        },
        ClientOptions::default(),
    );
    assert_eq!(
        request.url.as_deref(),
        Some("https://example.com/reset?token=[Filtered]&page=2")
    );
}

#[test]
fn cookie_string_is_filtered_by_name_with_pii_on() {
    let request = captured_request(
        Request {
            cookies: Some(json!("sessionid=abc; csrftoken=xyz; theme=dark")),
            ..Default::default()
        },
        ClientOptions {
            send_default_pii: true,
            ..Default::default()
        },
    );
    assert_eq!(
        request.cookies,
        Some(json!(
            "sessionid=[Filtered]; csrftoken=[Filtered]; theme=dark"
        ))
    );
}

#[test]
fn cookie_pairs_are_filtered_by_name_with_pii_on() {
    let request = captured_request(
        Request {
            cookies: Some(json!([["connect.sid", "s%3Aabc"], ["theme", "dark"]])),
            ..Default::default()
        },
        ClientOptions {
            send_default_pii: true,
            ..Default::default()
        },
    );
    assert_eq!(
        request.cookies,
        Some(json!([["connect.sid", "[Filtered]"], ["theme", "dark"]]))
    );
}

#[test]
fn event_tags_are_scrubbed() {
    let events = with_captured_events_options(
        || {
            sentry_core::configure_scope(|scope| {
                scope.set_tag("api_key", "sk_live_123");
                scope.set_tag("region", "eu");
            });
            sentry_core::capture_message("boom", Level::Error);
        },
        ClientOptions::default(),
    );
    assert_eq!(events[0].tags["api_key"], "[Filtered]");
    assert_eq!(events[0].tags["region"], "eu");
}

#[test]
fn transaction_and_span_tags_are_scrubbed() {
    let envelopes = with_captured_envelopes_options(
        || {
            let transaction = start_transaction(TransactionContext::new("checkout", "task"));
            transaction.set_tag("auth_token", "tok-abc");
            transaction.set_tag("shop", "main");
            let span = transaction.start_child("db", "select");
            span.set_tag("db_password", "hunter2");
            span.set_tag("table", "orders");
            span.finish();
            transaction.finish();
        },
        ClientOptions {
            traces_sample_rate: 1.0,
            ..Default::default()
        },
    );
    let transactions = transactions_of(&envelopes);
    assert_eq!(transactions.len(), 1);
    let t = &transactions[0];
    assert_eq!(t.tags["auth_token"], "[Filtered]");
    assert_eq!(t.tags["shop"], "main");
    assert_eq!(t.spans.len(), 1);
    assert_eq!(t.spans[0].tags["db_password"], "[Filtered]");
    assert_eq!(t.spans[0].tags["table"], "orders");
}
