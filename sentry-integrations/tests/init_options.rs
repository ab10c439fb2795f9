//! `init`: DSN strings or options, default integrations that can be turned
//! off, and an installed client that reports (own binary: `init` installs a
//! process-wide client).

#![cfg(all(feature = "panic", feature = "contexts", feature = "backtrace"))]

use std::sync::Arc;

use sentry_core::test::{events_of, TestTransport};
use sentry_core::{ClientOptions, Integration};
use sentry_integrations::InitOptions;

fn names(options: &ClientOptions) -> Vec<&'static str> {
    options.integrations.iter().map(|i| i.name()).collect()
}

#[test]
fn a_dsn_string_or_options_are_accepted() {
    let o = InitOptions::from("http://0123456789abcdef0123456789abcdef@127.0.0.1:9/3")
        .into_client_options()
        .expect("valid");
    assert_eq!(o.dsn.expect("dsn").project_id(), "3");

    let o = InitOptions::from((
        "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/4".to_owned(),
        ClientOptions {
            release: Some("shop@2.0.0".into()),
            ..Default::default()
        },
    ))
    .into_client_options()
    .expect("valid");
    assert_eq!(o.dsn.expect("dsn").project_id(), "4");
    assert_eq!(o.release.as_deref(), Some("shop@2.0.0"));

    // Empty: no DSN here (SENTRY_DSN may still provide one).
    let o = InitOptions::from("").into_client_options().expect("valid");
    assert!(o.dsn.is_none());

    let err = InitOptions::from("not a dsn")
        .into_client_options()
        .expect_err("invalid");
    assert!(err.to_string().contains("invalid DSN"), "{err}");
}

#[test]
fn every_default_integration_can_be_turned_off() {
    let all = InitOptions::default().into_client_options().expect("valid");
    assert_eq!(names(&all), ["contexts", "stacktrace", "panic"]);
    let none = InitOptions::default()
        .panic(false)
        .contexts(false)
        .stacktrace(false)
        .into_client_options()
        .expect("valid");
    assert!(names(&none).is_empty());
    let some = InitOptions::default()
        .contexts(false)
        .into_client_options()
        .expect("valid");
    assert_eq!(names(&some), ["stacktrace", "panic"]);
}

struct Custom;

impl Integration for Custom {
    fn name(&self) -> &'static str {
        "panic"
    }
}

#[test]
fn a_configured_integration_of_the_same_name_wins_and_defaults_come_first() {
    struct Mine;
    impl Integration for Mine {
        fn name(&self) -> &'static str {
            "mine"
        }
    }
    let o = InitOptions::from(ClientOptions {
        integrations: vec![Arc::new(Custom), Arc::new(Mine)],
        ..Default::default()
    })
    .into_client_options()
    .expect("valid");
    assert_eq!(names(&o), ["contexts", "stacktrace", "panic", "mine"]);
    assert!((&*o.integrations[2] as &dyn std::any::Any).is::<Custom>());
}

#[cfg(feature = "http-transport")]
#[test]
fn init_installs_a_client_with_the_defaults_and_the_given_transport() {
    let transport = TestTransport::new();
    let mut options = InitOptions::from("http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1");
    options.client_options_mut().transport = Some(Arc::new(transport.clone()));
    let guard = sentry_integrations::init(options);
    assert!(guard.is_enabled());
    let client = guard.client().expect("client");
    assert_eq!(
        client.sdk_info().integrations,
        ["contexts", "stacktrace", "panic"]
    );
    // `server_name` defaults to the host name.
    assert_eq!(
        client.options().server_name.as_deref(),
        sentry_integrations::contexts::hostname().as_deref()
    );
    std::thread::spawn(|| {
        sentry_core::capture_message("from a thread", sentry_core::protocol::Level::Info);
    })
    .join()
    .expect("thread");
    drop(guard);
    let events = events_of(&transport.fetch_and_clear_envelopes());
    assert_eq!(events.len(), 1);
    assert!(events[0].contexts.contains_key("rust"));
}

#[cfg(feature = "http-transport")]
#[test]
fn an_invalid_dsn_leaves_the_sdk_disabled() {
    let err = sentry_integrations::try_init("https://example.com").expect_err("invalid DSN");
    assert!(err.to_string().starts_with("invalid DSN"), "{err}");
}
