//! The event pipeline, end to end through the in-memory test transport.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sentry_core::protocol::{
    Attachment, Breadcrumb, DataCategory, DiscardReason, Event, Level, User,
};
use sentry_core::test::{
    events_of, with_captured_envelopes_options, with_captured_events, with_captured_events_options,
    TestTransport,
};
use sentry_core::{
    add_breadcrumb, capture_error, capture_event, capture_message, configure_scope, last_event_id,
    with_scope, Client, ClientOptions, Hub, Scope, TransactionContext,
};

#[test]
fn message_carries_scope_data_and_client_defaults() {
    let events = with_captured_events_options(
        || {
            configure_scope(|s| {
                s.set_tag("tier", "gold");
                s.set_user(Some(User {
                    id: Some("42".into()),
                    ..Default::default()
                }));
                s.set_extra("cart", serde_json::json!({"items": 3}));
                s.set_transaction(Some("checkout"));
            });
            capture_message("payment declined", Level::Warning);
        },
        ClientOptions {
            release: Some("shop@1.2.3".into()),
            environment: Some("staging".into()),
            ..Default::default()
        },
    );
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.title(), "payment declined");
    assert_eq!(e.level, Level::Warning);
    assert_eq!(e.tags["tier"], "gold");
    assert_eq!(e.user.as_ref().and_then(|u| u.id.as_deref()), Some("42"));
    assert_eq!(e.extra["cart"]["items"], 3);
    assert_eq!(e.transaction.as_deref(), Some("checkout"));
    assert_eq!(e.release.as_deref(), Some("shop@1.2.3"));
    assert_eq!(e.environment.as_deref(), Some("staging"));
    assert_eq!(e.sdk.as_ref().map(|s| &*s.name), Some("sentry.rust.lite"));
}

#[derive(Debug)]
struct ConfigError(std::num::ParseIntError);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("config load failed: bad port")
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn error_source_chain_becomes_chained_exceptions_root_first() {
    let err = ConfigError("not-a-number".parse::<u16>().expect_err("not a number"));
    let events = with_captured_events(|| {
        capture_error(&err);
    });
    let exc = &events[0].exception.values;
    assert_eq!(exc.len(), 2);
    assert_eq!(exc[0].ty, "ParseIntError");
    assert_eq!(
        exc[0].value.as_deref(),
        Some("invalid digit found in string")
    );
    assert_eq!(exc[1].ty, "ConfigError");
    assert_eq!(
        exc[1].value.as_deref(),
        Some("config load failed: bad port")
    );
    assert_eq!(
        events[0].title(),
        "ConfigError: config load failed: bad port"
    );
    let m1 = exc[1].mechanism.as_ref().expect("mechanism");
    assert_eq!(m1.handled, Some(true));
    assert_eq!(exc[0].mechanism.as_ref().and_then(|m| m.parent_id), Some(0));
}

#[test]
fn with_scope_changes_do_not_leak() {
    let events = with_captured_events(|| {
        with_scope(
            |s| {
                s.set_tag("inner", "1");
                s.set_level(Some(Level::Fatal));
            },
            || capture_message("inside", Level::Info),
        );
        capture_message("outside", Level::Info);
    });
    assert_eq!(events[0].tags.get("inner").map(String::as_str), Some("1"));
    assert_eq!(events[0].level, Level::Fatal);
    assert!(!events[1].tags.contains_key("inner"));
    assert_eq!(events[1].level, Level::Info);
}

#[test]
fn breadcrumbs_are_capped_at_max_breadcrumbs_keeping_the_newest() {
    let events = with_captured_events_options(
        || {
            for i in 0..120 {
                add_breadcrumb(Breadcrumb {
                    message: Some(format!("b{i}").into()),
                    ..Default::default()
                });
            }
            capture_message("m", Level::Info);
        },
        ClientOptions {
            max_breadcrumbs: 100,
            ..Default::default()
        },
    );
    let crumbs = &events[0].breadcrumbs.values;
    assert_eq!(crumbs.len(), 100);
    assert_eq!(crumbs[0].message.as_deref(), Some("b20"));
    assert_eq!(crumbs[99].message.as_deref(), Some("b119"));
}

#[test]
fn lazy_breadcrumb_is_not_built_without_a_client() {
    let calls = AtomicUsize::new(0);
    let hub = Arc::new(Hub::new(None, Scope::default()));
    Hub::run(hub, || {
        add_breadcrumb(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            Breadcrumb::default()
        });
    });
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    with_captured_events(|| {
        add_breadcrumb(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            Breadcrumb::default()
        })
    });
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn before_breadcrumb_can_change_and_drop() {
    let events = with_captured_events_options(
        || {
            add_breadcrumb(Breadcrumb {
                message: Some("keep".into()),
                ..Default::default()
            });
            add_breadcrumb(Breadcrumb {
                message: Some("drop".into()),
                ..Default::default()
            });
            capture_message("m", Level::Info);
        },
        ClientOptions {
            before_breadcrumb: Some(Arc::new(|mut b: Breadcrumb| {
                if b.message.as_deref() == Some("drop") {
                    return None;
                }
                b.category = Some("changed".into());
                Some(b)
            })),
            ..Default::default()
        },
    );
    let crumbs = &events[0].breadcrumbs.values;
    assert_eq!(crumbs.len(), 1);
    assert_eq!(crumbs[0].category.as_deref(), Some("changed"));
}

fn client_with(transport: &Arc<TestTransport>, options: ClientOptions) -> Arc<Hub> {
    let client = Client::with_options(ClientOptions {
        transport: Some(Arc::new(transport.clone())),
        ..options
    });
    Arc::new(Hub::new(Some(Arc::new(client)), Scope::default()))
}

#[test]
fn before_send_drop_is_counted() {
    let transport = TestTransport::new();
    let hub = client_with(
        &transport,
        ClientOptions {
            before_send: Some(Arc::new(|e: Event| (e.level != Level::Debug).then_some(e))),
            ..Default::default()
        },
    );
    Hub::run(hub, || {
        capture_message("dropped", Level::Debug);
        capture_message("kept", Level::Error);
    });
    let events = events_of(&transport.fetch_and_clear_envelopes());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].title(), "kept");
    assert_eq!(
        transport.discards()[&(DiscardReason::BeforeSend, DataCategory::Error)],
        1
    );
}

#[test]
fn panicking_callbacks_never_crash_and_capturing_keeps_working() {
    let transport = TestTransport::new();
    let hub = client_with(
        &transport,
        ClientOptions {
            before_send: Some(Arc::new(|e: Event| {
                if e.title() == "boom" {
                    panic!("before_send exploded");
                }
                Some(e)
            })),
            before_breadcrumb: Some(Arc::new(|b: Breadcrumb| {
                if b.message.as_deref() == Some("boom") {
                    panic!("before_breadcrumb exploded");
                }
                Some(b)
            })),
            ..Default::default()
        },
    );
    hub.configure_scope(|s| {
        s.add_event_processor(|e| {
            if e.title() == "processor-boom" {
                panic!("processor exploded");
            }
            Some(e)
        })
    });
    let ids = Hub::run(hub.clone(), || {
        add_breadcrumb(Breadcrumb {
            message: Some("boom".into()),
            ..Default::default()
        });
        add_breadcrumb(Breadcrumb {
            message: Some("fine".into()),
            ..Default::default()
        });
        [
            capture_message("boom", Level::Error),
            capture_message("processor-boom", Level::Error),
            capture_message("after", Level::Error),
        ]
    });
    assert!(ids[0].is_nil() && ids[1].is_nil() && !ids[2].is_nil());
    let events = events_of(&transport.fetch_and_clear_envelopes());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].title(), "after");
    let crumbs: Vec<_> = events[0]
        .breadcrumbs
        .values
        .iter()
        .filter_map(|b| b.message.as_deref())
        .collect();
    assert_eq!(crumbs, ["fine"]);
    let d = transport.discards();
    assert_eq!(
        d[&(DiscardReason::InternalSdkError, DataCategory::Error)],
        2
    );
    // The hub is still usable: no lock was left held.
    hub.configure_scope(|s| s.set_tag("still", "works"));
}

#[test]
fn capture_inside_before_send_does_not_recurse_forever() {
    let transport = TestTransport::new();
    let hub = client_with(
        &transport,
        ClientOptions {
            before_send: Some(Arc::new(|e: Event| {
                capture_message("from before_send", Level::Info);
                Some(e)
            })),
            ..Default::default()
        },
    );
    Hub::run(hub, || capture_message("outer", Level::Error));
    let events = events_of(&transport.fetch_and_clear_envelopes());
    // outer + one nested level; the nested-nested capture is refused.
    assert_eq!(events.len(), 2);
    assert_eq!(
        transport.discards()[&(DiscardReason::InternalSdkError, DataCategory::Error)],
        1
    );
}

#[test]
fn hooks_that_re_enter_the_pipeline_stop_after_one_level() {
    // Each hook re-enters what called it; unguarded, each recursed until the
    // stack overflowed, which aborts the process.
    let transport = TestTransport::new();
    let breadcrumb_calls = Arc::new(AtomicUsize::new(0));
    let transaction_calls = Arc::new(AtomicUsize::new(0));
    let sampler_calls = Arc::new(AtomicUsize::new(0));
    let (b, t, s) = (
        breadcrumb_calls.clone(),
        transaction_calls.clone(),
        sampler_calls.clone(),
    );
    let hub = client_with(
        &transport,
        ClientOptions {
            before_breadcrumb: Some(Arc::new(move |crumb: Breadcrumb| {
                b.fetch_add(1, Ordering::SeqCst);
                add_breadcrumb(Breadcrumb {
                    message: Some("from the hook".into()),
                    ..Default::default()
                });
                Some(crumb)
            })),
            before_send_transaction: Some(Arc::new(move |tx| {
                t.fetch_add(1, Ordering::SeqCst);
                sentry_core::start_transaction(TransactionContext::new("inner", "hook")).finish();
                Some(tx)
            })),
            traces_sampler: Some(Arc::new(move |_| {
                s.fetch_add(1, Ordering::SeqCst);
                sentry_core::start_transaction(TransactionContext::new("sampled", "hook")).finish();
                1.0
            })),
            ..Default::default()
        },
    );
    Hub::run(hub.clone(), || {
        add_breadcrumb(Breadcrumb {
            message: Some("outer".into()),
            ..Default::default()
        });
    });
    assert_eq!(breadcrumb_calls.load(Ordering::SeqCst), 2);
    let mut crumbs = Vec::new();
    hub.configure_scope(|scope| {
        crumbs = scope
            .breadcrumbs()
            .map(|c| c.message.clone().unwrap_or_default())
            .collect();
    });
    // The hook's breadcrumb from the first level is kept; the second
    // level's is dropped.
    assert_eq!(crumbs, ["from the hook", "outer"]);

    Hub::run(hub, || {
        sentry_core::start_transaction(TransactionContext::new("outer", "test")).finish();
    });
    // Bounded: the sampler and the hook nest into each other, two levels
    // at most each.
    let sampler = sampler_calls.load(Ordering::SeqCst);
    let hook = transaction_calls.load(Ordering::SeqCst);
    assert!((2..=4).contains(&sampler), "{sampler}");
    assert!((1..=4).contains(&hook), "{hook}");
    let sent: Vec<String> =
        sentry_core::test::transactions_of(&transport.fetch_and_clear_envelopes())
            .iter()
            .filter_map(|t| t.name.as_deref().map(str::to_owned))
            .collect();
    assert!(sent.contains(&"outer".to_owned()), "{sent:?}");
    assert!(sent.len() <= 4, "{sent:?}");
}

#[test]
fn sample_rate_zero_sends_nothing_and_counts_every_drop() {
    let transport = TestTransport::new();
    let hub = client_with(
        &transport,
        ClientOptions {
            sample_rate: 0.0,
            ..Default::default()
        },
    );
    Hub::run(hub, || {
        for _ in 0..10 {
            capture_message("m", Level::Error);
        }
    });
    assert!(transport.fetch_and_clear_envelopes().is_empty());
    assert_eq!(
        transport.discards()[&(DiscardReason::SampleRate, DataCategory::Error)],
        10
    );
}

#[test]
fn sample_rate_half_is_within_tolerance() {
    let transport = TestTransport::new();
    let hub = client_with(
        &transport,
        ClientOptions {
            sample_rate: 0.5,
            ..Default::default()
        },
    );
    Hub::run(hub, || {
        for _ in 0..4000 {
            capture_message("m", Level::Error);
        }
    });
    let sent = transport.fetch_and_clear_envelopes().len();
    // mean 2000, sd ~31.6: 6 sd either side
    assert!((1810..=2190).contains(&sent), "sent {sent}");
    let dropped = transport.discards()[&(DiscardReason::SampleRate, DataCategory::Error)];
    assert_eq!(sent as u64 + dropped, 4000);
}

#[test]
fn last_event_id_is_the_id_returned() {
    with_captured_events(|| {
        assert_eq!(last_event_id(), None);
        let id = capture_message("m", Level::Info);
        assert_eq!(last_event_id(), Some(id));
    });
}

#[test]
fn explicit_event_keeps_its_fields_over_scope() {
    let events = with_captured_events(|| {
        configure_scope(|s| {
            s.set_tag("a", "scope");
            s.set_fingerprint(Some(&["scope-fp"]));
        });
        let mut e = Event {
            fingerprint: vec!["own".into()],
            ..Default::default()
        };
        e.tags.insert("a".into(), "event".into());
        capture_event(e);
    });
    assert_eq!(events[0].tags["a"], "event");
    assert_eq!(events[0].fingerprint, ["own"]);
}

#[test]
fn scope_attachments_ride_with_the_event() {
    let envelopes = with_captured_envelopes_options(
        || {
            configure_scope(|s| {
                s.add_attachment(Attachment::new("log.txt", b"line 1\nline 2\n".to_vec()))
            });
            capture_message("m", Level::Info);
        },
        ClientOptions::default(),
    );
    assert_eq!(envelopes.len(), 1);
    let bytes = envelopes[0].to_vec().expect("serialise");
    let parsed = sentry_core::envelope::Envelope::parse(&bytes).expect("parse");
    let types: Vec<_> = parsed
        .items
        .iter()
        .map(|i| i.headers.ty.as_str().to_owned())
        .collect();
    assert_eq!(types, ["event", "attachment"]);
    assert_eq!(parsed.items[1].headers.filename.as_deref(), Some("log.txt"));
    assert_eq!(
        parsed.items[1].payload.as_raw(),
        Some(&b"line 1\nline 2\n"[..])
    );
}

#[test]
fn default_pii_settings_strip_user_ip_and_mask_secrets() {
    let events = with_captured_events(|| {
        configure_scope(|s| {
            s.set_user(Some(User {
                id: Some("1".into()),
                ip_address: Some("10.0.0.1".into()),
                email: Some("a@b.c".into()),
                ..Default::default()
            }));
            s.set_extra(
                "db",
                serde_json::json!({"password": "hunter2", "host": "db1"}),
            );
        });
        capture_message("m", Level::Info);
    });
    let user = events[0].user.as_ref().expect("user");
    assert_eq!(user.ip_address, None);
    assert_eq!(user.email, None);
    assert_eq!(
        events[0].extra["db"],
        serde_json::json!({"password": "[Filtered]", "host": "db1"})
    );
}

#[test]
fn future_keeps_its_hub_across_polls() {
    use sentry_core::SentryFutureExt;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    let events = with_captured_events(|| {
        let hub = Arc::new(Hub::new_from_top(Hub::current()));
        let fut = async {
            configure_scope(|s| s.set_tag("task", "a"));
            capture_message("in task", Level::Info);
        }
        .bind_hub(hub);
        let mut fut = pin!(fut);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(())));
        capture_message("outside task", Level::Info);
    });
    assert_eq!(events[0].tags.get("task").map(String::as_str), Some("a"));
    assert!(!events[1].tags.contains_key("task"));
}

#[test]
fn a_panic_inside_configure_scope_keeps_the_scope() {
    let hub = Arc::new(Hub::new(None, Scope::default()));
    hub.configure_scope(|s| s.set_tag("kept", "yes"));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        hub.configure_scope(|s| {
            s.set_tag("half", "done");
            panic!("user code failed");
        })
    }));
    assert!(result.is_err());
    hub.configure_scope(|s| {
        assert_eq!(s.tags()["kept"], "yes");
        assert_eq!(s.tags()["half"], "done");
    });
}

#[test]
fn breadcrumbs_added_inside_configure_scope_are_kept() {
    let events = with_captured_events(|| {
        add_breadcrumb(Breadcrumb {
            message: Some("before".into()),
            ..Default::default()
        });
        configure_scope(|s| {
            s.set_tag("inside", "yes");
            // E.g. a log line emitted while the scope is being configured.
            add_breadcrumb(Breadcrumb {
                message: Some("during".into()),
                ..Default::default()
            });
        });
        capture_message("after", Level::Info);
    });
    let messages: Vec<_> = events[0]
        .breadcrumbs
        .values
        .iter()
        .filter_map(|b| b.message.as_deref())
        .collect();
    assert_eq!(messages, ["before", "during"]);
    assert_eq!(events[0].tags["inside"], "yes");
}
