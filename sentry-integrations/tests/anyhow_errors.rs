//! `anyhow` errors: the chain and the backtrace anyhow captured.

#![cfg(feature = "anyhow")]

use anyhow::Context;
use sentry_core::protocol::Level;
use sentry_core::test::with_captured_events;
use sentry_integrations::anyhow::capture_anyhow;

#[inline(never)]
fn read_port() -> anyhow::Result<u16> {
    let port = "80a"
        .parse::<u16>()
        .context("invalid port in config.toml")?; // ERROR-LINE
    Ok(port)
}

#[inline(never)]
fn start_server() -> anyhow::Result<()> {
    read_port().context("cannot start the server")?;
    Ok(())
}

#[test]
fn the_chain_and_the_backtrace_are_captured() {
    // anyhow captures a backtrace when RUST_LIB_BACKTRACE (or RUST_BACKTRACE)
    // is set; it reads the variable once per process, and this is the only
    // test in this binary.
    std::env::set_var("RUST_LIB_BACKTRACE", "1");
    let events = with_captured_events(|| {
        if let Err(err) = start_server() {
            capture_anyhow(&err);
        }
    });
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.level, Level::Error);
    let chain: Vec<_> = event
        .exception
        .values
        .iter()
        .map(|e| (e.ty.as_str(), e.value.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        chain,
        [
            ("ParseIntError", "invalid digit found in string"),
            ("Error", "invalid port in config.toml"),
            ("Error", "cannot start the server"),
        ]
    );
    assert_eq!(event.title(), "Error: cannot start the server");

    // The backtrace is where the error was created: the `?`/context line in
    // `read_port`, with anyhow's and std's frames trimmed.
    let outer = event.exception.values.last().expect("outer");
    let frames = &outer.stacktrace.as_ref().expect("a stack trace").frames;
    let last = frames.last().expect("frames");
    assert_eq!(last.function.as_deref(), Some("anyhow_errors::read_port"));
    assert_eq!(last.in_app, Some(true));
    let line = include_str!("anyhow_errors.rs")
        .lines()
        .position(|l| l.contains("// ERROR-LINE") && l.contains(".context("))
        .map(|i| i as u64 + 1);
    assert_eq!(last.lineno, line);
    assert!(frames
        .iter()
        .any(|f| f.function.as_deref() == Some("anyhow_errors::start_server")));
    assert!(frames
        .iter()
        .all(|f| f.package.as_deref() != Some("anyhow")));
}
