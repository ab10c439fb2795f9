//! Stack traces through the event pipeline: in-app rules from the client
//! options, `attach_stacktrace`, and errors carrying a std backtrace.

#![cfg(feature = "backtrace")]

#[path = "support/last_frame.rs"]
mod last_frame;

use std::sync::Arc;

use sentry_core::protocol::{Event, Exception, Frame, Level, Stacktrace};
use sentry_core::test::with_captured_events_options;
use sentry_core::{capture_event, capture_message, ClientOptions};
use sentry_integrations::backtrace::{fill_module, StacktraceIntegration};

fn options() -> ClientOptions {
    ClientOptions {
        integrations: vec![Arc::new(StacktraceIntegration::new())],
        ..Default::default()
    }
}

fn frame(function: &str, abs_path: Option<&str>) -> Frame {
    let mut f = Frame {
        function: Some(function.to_owned()),
        abs_path: abs_path.map(str::to_owned),
        ..Default::default()
    };
    fill_module(&mut f);
    f
}

/// An event with one exception whose frames are the given functions.
fn event_with_frames(frames: Vec<Frame>) -> Event {
    Event {
        exception: vec![Exception {
            ty: "Error".into(),
            stacktrace: Some(Stacktrace {
                frames,
                ..Default::default()
            }),
            ..Default::default()
        }]
        .into(),
        ..Default::default()
    }
}

fn in_app_flags(options: ClientOptions, frames: Vec<Frame>) -> Vec<(String, Option<bool>)> {
    let events = with_captured_events_options(
        || {
            capture_event(event_with_frames(frames));
        },
        options,
    );
    events[0].exception.values[0]
        .stacktrace
        .as_ref()
        .map(|st| {
            st.frames
                .iter()
                .map(|f| (f.function.clone().unwrap_or_default(), f.in_app))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn default_rules_mark_std_runtimes_the_sdk_and_registry_crates_as_not_in_app() {
    let flags = in_app_flags(
        options(),
        vec![
            frame("_start", None),
            frame("std::rt::lang_start_internal", Some("/rustc/abc/library/std/src/rt.rs")),
            frame("tokio::runtime::Runtime::block_on", None),
            frame("futures_util::future::FutureExt::poll_unpin", None),
            frame("<myapp::Server as core::ops::Drop>::drop", None),
            frame(
                "serde_json::de::from_str",
                Some("/home/ci/.cargo/registry/src/index.registry-1949cf8c6b5b557f/serde_json-1.0.140/src/de.rs"),
            ),
            frame("sentry_core::api::capture_event", None),
            frame("myapp::handlers::checkout", Some("/srv/app/src/handlers.rs")),
        ],
    );
    let expected = [
        ("_start", false),
        ("std::rt::lang_start_internal", false),
        ("tokio::runtime::Runtime::block_on", false),
        ("futures_util::future::FutureExt::poll_unpin", false),
        ("<myapp::Server as core::ops::Drop>::drop", true),
        ("serde_json::de::from_str", false),
        ("sentry_core::api::capture_event", false),
        ("myapp::handlers::checkout", true),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(f, v)| (f.to_string(), Some(*v)))
        .collect();
    assert_eq!(flags, expected);
}

#[test]
fn include_and_exclude_options_override_the_defaults() {
    let flags = in_app_flags(
        ClientOptions {
            in_app_include: vec!["tokio::runtime".into(), "serde_json".into()],
            in_app_exclude: vec!["myapp::vendored".into()],
            ..options()
        },
        vec![
            frame("tokio::runtime::Runtime::block_on", None),
            frame("tokio::net::TcpStream::connect", None),
            frame(
                "serde_json::de::from_str",
                Some("/home/ci/.cargo/registry/src/index.registry-1949cf8c6b5b557f/serde_json-1.0.140/src/de.rs"),
            ),
            frame("myapp::vendored::zlib::inflate", None),
            frame("myapp::main", None),
        ],
    );
    let flags: Vec<_> = flags.into_iter().map(|(_, v)| v).collect();
    assert_eq!(
        flags,
        [Some(true), Some(false), Some(true), Some(false), Some(true)]
    );
}

#[test]
fn frames_that_already_have_in_app_keep_it() {
    let mut f = frame("std::thread::spawn", None);
    f.in_app = Some(true);
    let flags = in_app_flags(options(), vec![f]);
    assert_eq!(flags[0].1, Some(true));
}

#[inline(never)]
fn report_slow_query() {
    capture_message("slow query", Level::Warning);
}

#[test]
fn attach_stacktrace_adds_the_capture_site_to_messages() {
    let events = with_captured_events_options(
        report_slow_query,
        ClientOptions {
            attach_stacktrace: true,
            ..options()
        },
    );
    let thread = &events[0].threads.values[0];
    assert!(thread.current);
    let frames = &thread.stacktrace.as_ref().expect("stack trace").frames;
    let last = frames.last().expect("frames");
    assert_eq!(
        last.function.as_deref(),
        Some("stacktraces::report_slow_query")
    );
    assert_eq!(last.in_app, Some(true));
    // The SDK frames between the capture call and the stack capture are gone
    // (the test harness's `with_captured_events_options` stays below it).
    let sdk_on_top = frames
        .iter()
        .rev()
        .take_while(|f| f.function.as_deref() != Some("stacktraces::report_slow_query"))
        .count();
    assert_eq!(sdk_on_top, 0);
}

/// `source_context_lines` is any `usize`; the largest one means "the whole
/// file" and must not drop the event (it used to overflow an index).
#[test]
fn the_largest_source_context_lines_still_sends_the_event() {
    let events = with_captured_events_options(
        report_slow_query,
        ClientOptions {
            attach_stacktrace: true,
            integrations: vec![Arc::new(
                StacktraceIntegration::new().source_context_lines(usize::MAX),
            )],
            ..Default::default()
        },
    );
    assert_eq!(events.len(), 1);
    let frames = &events[0].threads.values[0]
        .stacktrace
        .as_ref()
        .expect("stack trace")
        .frames;
    let last = frames.last().expect("frames");
    assert!(
        last.context_line
            .as_deref()
            .is_some_and(|l| l.contains("capture_message(\"slow query\"")),
        "{last:?}"
    );
    assert!(last
        .pre_context
        .iter()
        .any(|l| l.contains("//! Stack traces")));
}

#[test]
fn without_attach_stacktrace_messages_have_no_stack() {
    let events = with_captured_events_options(report_slow_query, options());
    assert!(events[0].threads.values.is_empty());
    assert!(events[0].stacktrace.is_none());
}

#[derive(Debug)]
struct ConfigError {
    backtrace: std::backtrace::Backtrace,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("missing key `port`")
    }
}

impl std::error::Error for ConfigError {}

#[inline(never)]
fn load_config() -> Result<(), ConfigError> {
    Err(ConfigError {
        backtrace: std::backtrace::Backtrace::force_capture(),
    })
}

#[test]
fn an_error_carrying_a_std_backtrace_gets_it_as_its_stack_trace() {
    let events = with_captured_events_options(
        || {
            if let Err(e) = load_config() {
                sentry_integrations::backtrace::capture_error_with_backtrace(&e, &e.backtrace);
            }
        },
        ClientOptions::default(),
    );
    let exc = &events[0].exception.values[0];
    assert_eq!(exc.ty, "ConfigError");
    let frames = &exc.stacktrace.as_ref().expect("stack trace").frames;
    let last = frames.last().expect("frames");
    assert_eq!(last.function.as_deref(), Some("stacktraces::load_config"));
    assert_eq!(last.in_app, Some(true));
    assert!(last
        .filename
        .as_deref()
        .is_some_and(|f| f.ends_with("tests/stacktraces.rs")));
    assert!(last.lineno.is_some() && last.colno.is_some());
}

/// Crates from the registry are third-party code wherever the cargo home
/// is: the official `rust` Docker image has it at `/usr/local/cargo`.
#[test]
fn registry_and_git_crates_under_any_cargo_home_are_not_in_app() {
    let flags = in_app_flags(
        options(),
        vec![
            frame(
                "serde_json::de::from_str",
                Some("/usr/local/cargo/registry/src/index.crates.io-6f17d22bba15001f/serde_json-1.0.120/src/de.rs"),
            ),
            frame(
                "dep::run",
                Some("/opt/cargo/git/checkouts/dep-0123456789abcdef/abc1234/src/lib.rs"),
            ),
            // An application that happens to live in a `cargo` directory.
            frame("myapp::main", Some("/home/me/cargo/registry/src/main.rs")),
            frame("myapp::run", Some("/srv/cargo/src/registry/src/lib.rs")),
        ],
    );
    let flags: Vec<_> = flags.into_iter().map(|(_, v)| v).collect();
    assert_eq!(flags, [Some(false), Some(false), Some(true), Some(true)]);
}

#[cfg(feature = "tracing")]
#[inline(never)]
fn report_via_tracing() {
    tracing::error!("something failed");
}

/// With `attach_stacktrace`, the stack of a `tracing::error!` event ends in
/// the code that logged, not in the dispatch of `tracing`,
/// `tracing_core` and `tracing_subscriber`.
#[cfg(feature = "tracing")]
#[test]
fn attach_stacktrace_on_a_tracing_error_ends_in_the_code_that_logged() {
    use tracing_subscriber::prelude::*;

    let events = with_captured_events_options(
        || {
            let subscriber =
                tracing_subscriber::registry().with(sentry_integrations::tracing::layer());
            tracing::subscriber::with_default(subscriber, report_via_tracing);
        },
        ClientOptions {
            attach_stacktrace: true,
            ..options()
        },
    );
    last_frame::assert_ends_in(&events[0], "report_via_tracing");
}

/// By the orphan rule, `impl myapp::Trait for Option<u32>` can only be in
/// `myapp`: such a frame is the application's, while an impl of a std trait
/// for an app type stays the app type's.
#[test]
fn an_app_trait_implemented_for_a_std_type_is_app_code() {
    let ext = frame(
        "<core::option::Option<u32> as myapp::ext::OptionExt>::or_boom",
        None,
    );
    assert_eq!(ext.module.as_deref(), Some("myapp::ext"));
    assert_eq!(ext.package.as_deref(), Some("myapp"));
    let display = frame("<myapp::Foo as core::fmt::Display>::fmt", None);
    assert_eq!(display.module.as_deref(), Some("myapp"));
    let drop = frame("<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop", None);
    assert_eq!(drop.module.as_deref(), Some("alloc::vec"));

    let flags = in_app_flags(options(), vec![ext.clone()]);
    assert_eq!(flags[0].1, Some(true));
    // `in_app_include` can name it through the trait's module too.
    let dep = frame(
        "<alloc::string::String as depcrate::Render>::render",
        Some("/home/ci/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/depcrate-1.0.0/src/lib.rs"),
    );
    let flags = in_app_flags(
        ClientOptions {
            in_app_include: vec!["depcrate".into()],
            ..options()
        },
        vec![dep],
    );
    assert_eq!(flags[0].1, Some(true));
}

/// A source file of this repository's checkout (`sentry-core/src/api.rs`),
/// as debug info names it: absolute.
fn sdk_file(relative: &str) -> String {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let checkout = manifest.parent().expect("the crate is in a checkout");
    checkout.join(relative).to_string_lossy().into_owned()
}

/// The frames of a panic in a build with `debug = "line-tables-only"`, as
/// a review captured them (oldest first): inlined functions are named
/// without their path, so no module can be derived from the name. The
/// application's `parse_port` is at `line` of this file.
fn line_tables_only_panic(line: u64) -> Vec<Frame> {
    let rustc = "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library";
    let at = |function: &str, path: &str, lineno: Option<u64>| Frame {
        lineno,
        ..frame(function, Some(path))
    };
    vec![
        at(
            "myapp::main",
            &sdk_file("sentry-integrations/tests/stacktraces.rs"),
            Some(1),
        ),
        at(
            "handle",
            &sdk_file("sentry-integrations/tests/stacktraces.rs"),
            Some(2),
        ),
        at(
            "parse_port",
            &sdk_file("sentry-integrations/tests/stacktraces.rs"),
            Some(line),
        ),
        at(
            "unwrap<u16, core::num::error::ParseIntError>",
            &format!("{rustc}/core/src/result.rs"),
            Some(1233),
        ),
        at(
            "core::result::unwrap_failed",
            &format!("{rustc}/core/src/result.rs"),
            None,
        ),
        at(
            "core::panicking::panic_fmt",
            &format!("{rustc}/core/src/panicking.rs"),
            None,
        ),
        at(
            "std::panicking::panic_with_hook",
            &format!("{rustc}/std/src/panicking.rs"),
            None,
        ),
        at(
            "sentry_integrations::panic::install_hook::{{closure}}::{{closure}}",
            &sdk_file("sentry-integrations/src/panic.rs"),
            None,
        ),
        at(
            "report_panic",
            &sdk_file("sentry-integrations/src/panic.rs"),
            None,
        ),
        at(
            "event_from_panic",
            &sdk_file("sentry-integrations/src/panic.rs"),
            None,
        ),
        at("capture_event", &sdk_file("sentry-core/src/api.rs"), None),
    ]
}

/// With `debug = "line-tables-only"` the application's inlined functions
/// have no module path; their source file makes them in-app (with source
/// context), while the toolchain's and the SDK's files do not.
#[test]
fn frames_without_a_module_are_in_app_by_their_source_file() {
    let line = u64::from(line!());
    let events = with_captured_events_options(
        || {
            capture_event(event_with_frames(line_tables_only_panic(line)));
        },
        options(),
    );
    let frames = &events[0].exception.values[0]
        .stacktrace
        .as_ref()
        .expect("stack trace")
        .frames;
    let in_app: Vec<_> = frames
        .iter()
        .map(|f| (f.function.as_deref().unwrap_or(""), f.in_app))
        .collect();
    assert_eq!(
        in_app,
        [
            ("myapp::main", Some(true)),
            ("handle", Some(true)),
            ("parse_port", Some(true)),
            ("unwrap<u16, core::num::error::ParseIntError>", Some(false)),
            ("core::result::unwrap_failed", Some(false)),
            ("core::panicking::panic_fmt", Some(false)),
            ("std::panicking::panic_with_hook", Some(false)),
            (
                "sentry_integrations::panic::install_hook::{{closure}}::{{closure}}",
                Some(false)
            ),
            ("report_panic", Some(false)),
            ("event_from_panic", Some(false)),
            ("capture_event", Some(false)),
        ]
    );
    // In-app frames get their source lines.
    assert!(
        frames[2]
            .context_line
            .as_deref()
            .is_some_and(|l| l.contains("let line = u64::from(line!());")),
        "{:?}",
        frames[2]
    );
}

/// `in_app_exclude` and `in_app_include` still decide frames named without
/// a module path when they match the name.
#[test]
fn in_app_options_win_over_the_source_file() {
    let frames = line_tables_only_panic(1);
    let flags = in_app_flags(
        ClientOptions {
            in_app_exclude: vec!["handle".into()],
            in_app_include: vec!["report_panic".into()],
            ..options()
        },
        frames,
    );
    assert_eq!(flags[1], ("handle".to_owned(), Some(false)));
    assert_eq!(flags[2], ("parse_port".to_owned(), Some(true)));
    assert_eq!(flags[8], ("report_panic".to_owned(), Some(true)));
    assert_eq!(flags[9], ("event_from_panic".to_owned(), Some(false)));
}

/// The SDK's own inlined functions, named without a module path, are
/// trimmed by their source file when the SDK is a path or git dependency
/// (its files are not in the registry): the stack ends in the application.
#[test]
fn sdk_frames_without_a_module_are_trimmed_by_their_source_file() {
    let mut frames = line_tables_only_panic(1);
    // Only the SDK's frames on top (as for a `capture_*` call with
    // `attach_stacktrace`): no panic machinery between.
    frames.drain(3..7);
    let mut st = Stacktrace {
        frames,
        ..Default::default()
    };
    sentry_integrations::backtrace::trim_sdk_frames(&mut st, |_| false);
    let names: Vec<_> = st
        .frames
        .iter()
        .map(|f| f.function.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(names, ["myapp::main", "handle", "parse_port"]);
}

/// A panic hook the application installed after the SDK's, calling it: its
/// frames sit above the panic machinery and are cut at the newest border
/// frame (`std::panicking::panic_with_hook`) with everything newer, then
/// the standard library frames down to the application's.
#[test]
fn an_app_hook_wrapping_the_sdks_is_cut_at_the_panic_border() {
    let mut frames = line_tables_only_panic(1);
    let hook = [
        frame(
            "<alloc::boxed::Box<dyn core::ops::function::Fn<(&std::panic::PanicHookInfo,), Output = ()> + core::marker::Sync + core::marker::Send> as core::ops::function::Fn<(&std::panic::PanicHookInfo,)>>::call",
            None,
        ),
        frame("myapp::logging::install::{{closure}}", Some("/srv/app/src/logging.rs")),
        frame(
            "<alloc::boxed::Box<dyn core::ops::function::Fn<(&std::panic::PanicHookInfo,), Output = ()> + core::marker::Sync + core::marker::Send> as core::ops::function::Fn<(&std::panic::PanicHookInfo,)>>::call",
            None,
        ),
    ];
    // Above `std::panicking::panic_with_hook`, below the SDK's hook.
    frames.splice(7..7, hook);
    let mut st = Stacktrace {
        frames,
        ..Default::default()
    };
    sentry_integrations::backtrace::trim_sdk_frames(&mut st, |_| false);
    let last = st.frames.last().and_then(|f| f.function.as_deref());
    assert_eq!(last, Some("parse_port"));
    assert_eq!(st.frames.len(), 3);
}

/// A `log::Log` or subscriber of the application that forwards events to
/// the SDK's sits above the event dispatch of `log`/`tracing_core`: cut
/// there, the stack ends in the code that logged.
#[test]
fn an_app_logger_forwarding_to_the_sdk_is_cut_at_the_dispatch_border() {
    let mut st = Stacktrace {
        frames: vec![
            frame("myapp::main", Some("/srv/app/src/main.rs")),
            frame("myapp::checkout", Some("/srv/app/src/main.rs")),
            frame("log::__private_api::log", None),
            frame("log::__private_api::log_impl", None),
            frame(
                "<myapp::Fanout as log::Log>::log",
                Some("/srv/app/src/fanout.rs"),
            ),
            frame(
                "<sentry_integrations::log::SentryLogger<L> as log::Log>::log",
                None,
            ),
            frame("sentry_core::api::capture_event", None),
        ],
        ..Default::default()
    };
    sentry_integrations::backtrace::trim_sdk_frames(&mut st, |_| false);
    let last = st.frames.last().and_then(|f| f.function.as_deref());
    assert_eq!(last, Some("myapp::checkout"));

    let mut st = Stacktrace {
        frames: vec![
            frame("myapp::main", Some("/srv/app/src/main.rs")),
            frame("myapp::checkout", Some("/srv/app/src/main.rs")),
            frame("tracing_core::event::Event::dispatch", None),
            frame("tracing_core::dispatcher::get_default", None),
            frame("tracing_core::dispatcher::Dispatch::event", None),
            frame(
                "<myapp::telemetry::Router as tracing_core::subscriber::Subscriber>::event",
                Some("/srv/app/src/telemetry.rs"),
            ),
            frame(
                "<sentry_integrations::tracing::SentryLayer<S> as tracing_subscriber::layer::Layer<S>>::on_event",
                None,
            ),
        ],
        ..Default::default()
    };
    sentry_integrations::backtrace::trim_sdk_frames(&mut st, |_| false);
    let last = st.frames.last().and_then(|f| f.function.as_deref());
    assert_eq!(last, Some("myapp::checkout"));
}
