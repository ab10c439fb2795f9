//! Cron check-ins as the SDK sends them: a run's two check-ins, their
//! status, duration, config, release, environment and trace.

use sentry_core::envelope::Envelope;
use sentry_core::monitor::{with_monitor, MonitorRun};
use sentry_core::performance::TransactionContext;
use sentry_core::protocol::{MonitorConfig, MonitorIntervalUnit, MonitorSchedule};
use sentry_core::test::{with_captured_envelopes, with_captured_envelopes_options};
use sentry_core::ClientOptions;
use serde_json::Value;

/// The check-in of each envelope, as JSON.
fn check_ins(envelopes: &[Envelope]) -> Vec<Value> {
    envelopes
        .iter()
        .flat_map(|e| e.items().iter())
        .filter(|i| i.headers.ty.as_str() == "check_in")
        .map(|i| serde_json::from_slice(i.payload.as_raw().expect("raw")).expect("json"))
        .collect()
}

fn options() -> ClientOptions {
    ClientOptions {
        release: Some("jobs@2.0.0".into()),
        environment: Some("staging".into()),
        traces_sample_rate: 1.0,
        ..Default::default()
    }
}

#[test]
fn a_run_is_an_in_progress_and_a_final_check_in() {
    let config = MonitorConfig {
        checkin_margin: Some(5),
        max_runtime: Some(30),
        timezone: Some("Europe/Vienna".into()),
        failure_issue_threshold: Some(2),
        recovery_threshold: Some(3),
        owner: Some("team:ops".into()),
        ..MonitorConfig::new(MonitorSchedule::interval(2, MonitorIntervalUnit::Hour))
    };
    let envelopes = with_captured_envelopes_options(
        || {
            let out: Result<&str, ()> = with_monitor("sync-users", Some(config), || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                Ok("done")
            });
            assert_eq!(out, Ok("done"));
        },
        options(),
    );
    let sent = check_ins(&envelopes);
    assert_eq!(sent.len(), 2, "{sent:?}");
    let (start, end) = (&sent[0], &sent[1]);
    assert_eq!(start["status"], "in_progress");
    assert_eq!(start["monitor_slug"], "sync-users");
    assert_eq!(
        start["monitor_config"],
        serde_json::json!({"schedule": {"type": "interval", "value": 2, "unit": "hour"},
                           "checkin_margin": 5, "max_runtime": 30,
                           "timezone": "Europe/Vienna", "failure_issue_threshold": 2,
                           "recovery_threshold": 3, "owner": "team:ops"})
    );
    assert_eq!(start["release"], "jobs@2.0.0");
    assert_eq!(start["environment"], "staging");
    assert!(start.get("duration").is_none(), "{start}");
    assert_eq!(end["status"], "ok");
    assert_eq!(end["check_in_id"], start["check_in_id"]);
    assert!(end.get("monitor_config").is_none(), "{end}");
    let duration = end["duration"].as_f64().expect("a duration");
    assert!((0.02..60.0).contains(&duration), "{duration}");
    // Both name the scope's trace.
    let trace = start["contexts"]["trace"]["trace_id"]
        .as_str()
        .expect("trace");
    assert_eq!(trace.len(), 32);
    assert_eq!(end["contexts"]["trace"]["trace_id"], trace);
}

#[test]
fn an_err_a_panic_or_a_run_never_finished_is_an_error() {
    let envelopes = with_captured_envelopes(|| {
        let failed: Result<(), String> = with_monitor("import", None, || Err("no file".into()));
        assert!(failed.is_err());
        let panicked = std::panic::catch_unwind(|| {
            let _: Result<(), ()> = with_monitor("render", None, || panic!("boom"));
        });
        assert!(panicked.is_err(), "the panic goes on");
        let run = MonitorRun::start("dropped", None);
        drop(run);
        MonitorRun::start("finished", None).finish(true);
    });
    let finals: Vec<(String, String)> = check_ins(&envelopes)
        .iter()
        .filter(|c| c["status"] != "in_progress")
        .map(|c| {
            (
                c["monitor_slug"].as_str().unwrap_or_default().to_owned(),
                c["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        finals,
        [
            ("import".to_owned(), "error".to_owned()),
            ("render".to_owned(), "error".to_owned()),
            ("dropped".to_owned(), "error".to_owned()),
            ("finished".to_owned(), "ok".to_owned()),
        ]
    );
}

#[test]
fn a_run_inside_a_transaction_names_its_trace_and_may_end_on_another_thread() {
    let mut trace_id = String::new();
    let envelopes = with_captured_envelopes_options(
        || {
            let transaction =
                sentry_core::start_transaction(TransactionContext::new("nightly", "task"));
            trace_id = transaction.trace_id().to_string();
            sentry_core::configure_scope(|s| s.set_span(Some(transaction.clone().into())));
            let run = MonitorRun::start("report", None);
            // Finished elsewhere: it sends through the hub it started on.
            std::thread::spawn(move || run.finish(true))
                .join()
                .expect("the thread ends");
            transaction.finish();
        },
        options(),
    );
    let sent = check_ins(&envelopes);
    assert_eq!(sent.len(), 2, "{sent:?}");
    for c in &sent {
        assert_eq!(c["contexts"]["trace"]["trace_id"], trace_id.as_str(), "{c}");
    }
}

#[test]
fn without_a_client_nothing_is_sent_and_the_job_still_runs() {
    let mut ran = false;
    let out: Result<u8, ()> = with_monitor("lonely", None, || {
        ran = true;
        Ok(1)
    });
    assert!(ran);
    assert_eq!(out, Ok(1));
}

/// Without an environment set, a check-in carries the default one, as
/// events do: a debug build's runs are not filed under production.
#[test]
fn a_check_in_without_an_environment_gets_the_default_one() {
    let envelopes = with_captured_envelopes(|| {
        let _: Result<(), ()> = with_monitor("nightly", None, || Ok(()));
        sentry_core::capture_message("beside it", sentry_core::Level::Info);
    });
    let sent = check_ins(&envelopes);
    assert_eq!(sent.len(), 2, "{sent:?}");
    for check_in in &sent {
        assert_eq!(check_in["environment"], sentry_core::DEFAULT_ENVIRONMENT);
    }
    let events = sentry_core::test::events_of(&envelopes);
    assert_eq!(
        events[0].environment.as_deref(),
        Some(sentry_core::DEFAULT_ENVIRONMENT)
    );
}
