//! The `log` bridge: records become breadcrumbs and events, and still reach
//! the destination logger.

#![cfg(feature = "log")]

#[path = "support/last_frame.rs"]
mod last_frame;

use std::sync::{Arc, Mutex, OnceLock};

use log::{Level as LogLevel, LevelFilter, Log, Metadata, Record};
use sentry_core::protocol::Level;
use sentry_core::test::with_captured_events;
use sentry_integrations::log::{LogFilter, SentryLogger};

/// A destination logger that keeps what it is given (like env_logger would
/// print it), enabled from `Info` up.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Log for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= LogLevel::Info
    }

    fn log(&self, record: &Record<'_>) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(format!(
                "{} {}: {}",
                record.level(),
                record.target(),
                record.args()
            ));
        }
    }

    fn flush(&self) {}
}

impl Recorder {
    fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

fn log_to(logger: &dyn Log, level: LogLevel, target: &str, args: std::fmt::Arguments<'_>) {
    logger.log(
        &Record::builder()
            .args(args)
            .level(level)
            .target(target)
            .module_path_static(Some("app::billing"))
            .file_static(Some("src/billing.rs"))
            .line(Some(42))
            .build(),
    );
}

#[test]
fn info_and_warn_become_breadcrumbs_and_error_becomes_an_event() {
    let dest = Recorder::default();
    let logger = SentryLogger::with_dest(dest.clone());
    let events = with_captured_events(|| {
        log_to(
            &logger,
            LogLevel::Debug,
            "app::db",
            format_args!("query took 2ms"),
        );
        log_to(
            &logger,
            LogLevel::Info,
            "app::http",
            format_args!("GET /cart"),
        );
        log_to(
            &logger,
            LogLevel::Warn,
            "app::cache",
            format_args!("cache miss for {}", "cart:7"),
        );
        log_to(
            &logger,
            LogLevel::Error,
            "app::billing",
            format_args!("payment {} failed", 991),
        );
    });

    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.level, Level::Error);
    assert_eq!(event.logger.as_deref(), Some("app::billing"));
    assert_eq!(event.title(), "payment 991 failed");
    assert_eq!(event.extra["log"]["file"], "src/billing.rs");
    assert_eq!(event.extra["log"]["line"], 42);
    assert_eq!(event.extra["log"]["module_path"], "app::billing");

    let crumbs: Vec<_> = event
        .breadcrumbs
        .values
        .iter()
        .map(|b| (&*b.ty, b.category.as_deref(), b.level, b.message.as_deref()))
        .collect();
    assert_eq!(
        crumbs,
        [
            ("log", Some("app::http"), Level::Info, Some("GET /cart")),
            (
                "log",
                Some("app::cache"),
                Level::Warning,
                Some("cache miss for cart:7")
            ),
        ]
    );

    // The destination still gets what it is enabled for, Sentry or not.
    assert_eq!(
        dest.lines(),
        [
            "INFO app::http: GET /cart",
            "WARN app::cache: cache miss for cart:7",
            "ERROR app::billing: payment 991 failed",
        ]
    );
}

#[test]
fn a_custom_filter_decides_what_becomes_an_event() {
    let logger = SentryLogger::new().filter(|md| match md.level() {
        LogLevel::Error | LogLevel::Warn => LogFilter::Event,
        _ => LogFilter::Ignore,
    });
    let events = with_captured_events(|| {
        log_to(&logger, LogLevel::Info, "app", format_args!("ignored"));
        log_to(&logger, LogLevel::Warn, "app", format_args!("disk at 91%"));
    });
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].level, Level::Warning);
    assert_eq!(events[0].title(), "disk at 91%");
    assert!(events[0].breadcrumbs.values.is_empty());
}

#[test]
fn the_sdk_own_records_are_not_reported() {
    let dest = Recorder::default();
    let logger = SentryLogger::with_dest(dest.clone());
    let events = with_captured_events(|| {
        log_to(
            &logger,
            LogLevel::Error,
            "sentry_transport::worker",
            format_args!("send failed"),
        );
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("sentry-transport".into())
                .spawn_scoped(s, || {
                    log_to(
                        &logger,
                        LogLevel::Error,
                        "hyper::proto",
                        format_args!("connection reset"),
                    );
                })
                .map(|h| h.join())
                .ok();
        });
    });
    assert!(events.is_empty());
    assert_eq!(dest.lines().len(), 2, "the destination still logs them");
}

/// Only the SDK's own crates are its targets: an application crate whose
/// name merely starts with "sentry" is reported like any other.
#[test]
fn app_targets_starting_with_sentry_are_reported() {
    let logger = SentryLogger::new();
    let events = with_captured_events(|| {
        for target in [
            "sentry",
            "sentry::hub",
            "sentry_core",
            "sentry_integrations::log",
        ] {
            log_to(
                &logger,
                LogLevel::Error,
                target,
                format_args!("the SDK itself"),
            );
        }
        log_to(
            &logger,
            LogLevel::Error,
            "sentryflow::billing",
            format_args!("payment failed"),
        );
    });
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].title(), "payment failed");
}

#[test]
fn enabled_is_the_union_of_sentry_and_the_destination() {
    let logger = SentryLogger::with_dest(Recorder::default()).filter(|md| {
        if md.level() == LogLevel::Trace {
            LogFilter::Breadcrumb
        } else {
            LogFilter::Ignore
        }
    });
    let md = |level| Metadata::builder().level(level).target("x").build();
    assert!(logger.enabled(&md(LogLevel::Trace)), "Sentry wants it");
    assert!(
        logger.enabled(&md(LogLevel::Info)),
        "the destination wants it"
    );
    assert!(!logger.enabled(&md(LogLevel::Debug)), "nobody wants it");
}

/// The installed logger is process-global: installed once for this file,
/// its destination shared by the tests that log through it.
fn install_global() -> Recorder {
    static DEST: OnceLock<Recorder> = OnceLock::new();
    DEST.get_or_init(|| {
        let dest = Recorder::default();
        log::set_boxed_logger(Box::new(SentryLogger::with_dest(dest.clone())))
            .expect("no other logger");
        log::set_max_level(LevelFilter::Info);
        dest
    })
    .clone()
}

#[test]
fn the_log_macros_reach_sentry_through_the_installed_logger() {
    let dest = install_global();
    let events = with_captured_events(|| {
        log::info!(target: "app::auth", "user {} logged in", 7);
        log::debug!("too detailed for the default max level");
        log::error!(target: "app::auth", "token store unavailable");
    });
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].title(), "token store unavailable");
    let crumb = &events[0].breadcrumbs.values[0];
    assert_eq!(crumb.category.as_deref(), Some("app::auth"));
    assert_eq!(crumb.message.as_deref(), Some("user 7 logged in"));
    assert!(dest
        .lines()
        .contains(&"INFO app::auth: user 7 logged in".to_owned()));
}

#[inline(never)]
fn report_via_log() {
    log::error!(target: "app::jobs", "job failed");
}

/// With `attach_stacktrace`, the stack of a record that reached Sentry
/// through the `log` macros ends in the code that logged, not in `log`'s
/// dispatch.
#[test]
fn attach_stacktrace_on_a_logged_error_ends_in_the_code_that_logged() {
    use sentry_core::test::with_captured_events_options;
    use sentry_core::ClientOptions;
    use sentry_integrations::backtrace::StacktraceIntegration;

    install_global();
    let events = with_captured_events_options(
        report_via_log,
        ClientOptions {
            attach_stacktrace: true,
            integrations: vec![Arc::new(StacktraceIntegration::new())],
            ..Default::default()
        },
    );
    last_frame::assert_ends_in(&events[0], "report_via_log");
}

/// As the official `sentry-log`: a record's key-values become a
/// breadcrumb's `data` and an event's `Rust Log Attributes` context,
/// keeping strings, numbers and booleans typed.
#[test]
fn key_values_become_breadcrumb_data_and_an_event_context() {
    let logger = SentryLogger::new();
    let log_kv = |level: LogLevel, kvs: &dyn log::kv::Source, args: std::fmt::Arguments<'_>| {
        logger.log(
            &Record::builder()
                .args(args)
                .level(level)
                .target("app::auth")
                .key_values(kvs)
                .build(),
        );
    };
    let events = with_captured_events(|| {
        let login: [(&str, log::kv::Value<'_>); 4] = [
            ("user", 5.into()),
            ("name", "ada".into()),
            ("admin", true.into()),
            ("delta", (-3i64).into()),
        ];
        log_kv(LogLevel::Info, &login, format_args!("logged in"));
        let failure = [("attempts", 3u64), ("limit", 5u64)];
        log_kv(LogLevel::Error, &failure, format_args!("locked out"));
        log_kv(
            LogLevel::Error,
            &[("", 0u64); 0],
            format_args!("no key-values"),
        );
    });
    assert_eq!(events.len(), 2);
    let crumb = &events[0].breadcrumbs.values[0];
    assert_eq!(crumb.data["user"], 5);
    assert_eq!(crumb.data["name"], "ada");
    assert_eq!(crumb.data["admin"], true);
    assert_eq!(crumb.data["delta"], -3);
    let sentry_core::protocol::Context::Other(attributes) =
        &events[0].contexts["Rust Log Attributes"]
    else {
        panic!("the key-values as a context: {:#?}", events[0].contexts);
    };
    assert_eq!(attributes["attempts"], 3);
    assert_eq!(attributes["limit"], 5);
    assert!(
        !events[1].contexts.contains_key("Rust Log Attributes"),
        "no empty context"
    );
}

#[test]
fn with_enable_logs_records_from_info_up_are_also_sentry_logs() {
    let logger = SentryLogger::new();
    let options = sentry_core::ClientOptions {
        enable_logs: true,
        ..Default::default()
    };
    let envelopes = sentry_core::test::with_captured_envelopes_options(
        || {
            log_to(
                &logger,
                LogLevel::Debug,
                "app::billing",
                format_args!("too fine"),
            );
            log_to(
                &logger,
                LogLevel::Info,
                "app::billing",
                format_args!("charged {}", 12),
            );
            log_to(
                &logger,
                LogLevel::Error,
                "app::billing",
                format_args!("card declined"),
            );
            // The SDK's own records never are.
            log_to(
                &logger,
                LogLevel::Error,
                "sentry_transport::worker",
                format_args!("x"),
            );
        },
        options,
    );
    let lines = sentry_core::test::logs_of(&envelopes);
    let bodies: Vec<&str> = lines.iter().filter_map(|l| l["body"].as_str()).collect();
    assert_eq!(bodies, ["charged 12", "card declined"]);
    let charged = &lines[0]["attributes"];
    assert_eq!(charged["logger.name"]["value"], "app::billing");
    assert_eq!(charged["code.file.path"]["value"], "src/billing.rs");
    assert_eq!(charged["code.line.number"]["value"], 42);
    assert_eq!(charged["sentry.origin"]["value"], "auto.log.log");
    assert_eq!(lines[1]["level"], "error");
    // The error is still an event, as before.
    assert_eq!(sentry_core::test::events_of(&envelopes).len(), 1);

    // Without enable_logs, no line is built or sent.
    let plain = sentry_core::test::with_captured_envelopes(|| {
        log_to(
            &logger,
            LogLevel::Info,
            "app::billing",
            format_args!("charged 1"),
        );
    });
    assert!(sentry_core::test::logs_of(&plain).is_empty());
}
