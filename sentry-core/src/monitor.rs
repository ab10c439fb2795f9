//! Cron monitoring: check-ins that tell the receiver when a scheduled job
//! runs and how each run ended, so that a run that fails, never finishes
//! or never comes opens an issue.
//!
//! [`with_monitor`] wraps a job: it sends an `in_progress` check-in (with
//! the monitor's config, which creates or updates the monitor), runs the
//! job, and sends `ok` or `error` with the run's duration. [`MonitorRun`]
//! does the same for a job that is not one closure (an async task, a job
//! that ends in another function): a run dropped without
//! [`MonitorRun::finish`] (a panic, an early return, a cancelled future)
//! is sent as `error` (while the client is open: a run still going when
//! the client closes stays `in_progress` until its `max_runtime`).
//!
//! ```
//! use sentry_core::monitor::with_monitor;
//! use sentry_core::protocol::{MonitorConfig, MonitorSchedule};
//! use sentry_core::test::with_captured_envelopes;
//!
//! let envelopes = with_captured_envelopes(|| {
//!     let config = MonitorConfig::new(MonitorSchedule::crontab("0 3 * * *"));
//!     let result: Result<u32, std::io::Error> = with_monitor("nightly-backup", Some(config), || {
//!         Ok(42) // the job
//!     });
//!     assert_eq!(result.unwrap(), 42);
//! });
//! // An `in_progress` check-in and an `ok` one.
//! assert_eq!(envelopes.len(), 2);
//! ```

use std::sync::Arc;
use std::time::Instant;

use uuid::Uuid;

use crate::hub::Hub;
use crate::protocol::{CheckInStatus, MonitorCheckIn, MonitorConfig};

/// Sends `check_in` through the current hub's client, with its scope's
/// trace (see [`crate::Client::capture_check_in`]). Returns the check-in
/// id, or the nil id when nothing was sent (no client).
///
/// ```
/// use sentry_core::monitor::capture_check_in;
/// use sentry_core::protocol::{CheckInStatus, MonitorCheckIn};
/// // Without a client nothing is sent.
/// let id = capture_check_in(MonitorCheckIn::new("job", CheckInStatus::Ok));
/// assert!(id.is_nil());
/// ```
pub fn capture_check_in(check_in: MonitorCheckIn) -> Uuid {
    Hub::with_current(|hub| hub.capture_check_in(check_in))
}

impl Hub {
    /// Sends `check_in` through this hub's client with its top scope's
    /// trace.
    pub fn capture_check_in(&self, check_in: MonitorCheckIn) -> Uuid {
        self.with_client_and_scope(|client, scope| client.capture_check_in(check_in, Some(scope)))
            .unwrap_or_else(Uuid::nil)
    }
}

/// Runs `job` as a run of monitor `slug`: an `in_progress` check-in (with
/// `config`, if any) before, `ok` or `error` (as `job` returns `Ok` or
/// `Err`) with its duration after. A panic in `job` is sent as `error`
/// and goes on unwinding.
///
/// ```
/// use sentry_core::monitor::with_monitor;
/// use sentry_core::test::with_captured_envelopes;
///
/// let envelopes = with_captured_envelopes(|| {
///     let failed: Result<(), &str> = with_monitor("import", None, || Err("disk full"));
///     assert!(failed.is_err());
/// });
/// let last = String::from_utf8(envelopes[1].to_vec().unwrap()).unwrap();
/// assert!(last.contains(r#""status":"error""#));
/// ```
pub fn with_monitor<T, E>(
    slug: &str,
    config: Option<MonitorConfig>,
    job: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let run = MonitorRun::start(slug, config);
    let result = job();
    run.finish(result.is_ok());
    result
}

/// One run of a monitor, from its `in_progress` check-in to its final one.
///
/// It sends through the hub that was current when it started, so it may
/// end on another thread or task.
///
/// ```
/// use sentry_core::monitor::MonitorRun;
/// use sentry_core::test::with_captured_envelopes;
///
/// let envelopes = with_captured_envelopes(|| {
///     let run = MonitorRun::start("sync", None);
///     // ... the job, perhaps on another thread ...
///     run.finish(true);
/// });
/// assert_eq!(envelopes.len(), 2);
/// ```
#[must_use = "a run dropped without `finish` is reported as failed"]
#[derive(Debug)]
pub struct MonitorRun {
    hub: Arc<Hub>,
    slug: String,
    check_in_id: Uuid,
    started: Instant,
    finished: bool,
}

impl MonitorRun {
    /// Starts a run of monitor `slug`: sends its `in_progress` check-in,
    /// with `config` when given.
    pub fn start(slug: &str, config: Option<MonitorConfig>) -> MonitorRun {
        let hub = Hub::current();
        let mut check_in = MonitorCheckIn::new(slug, CheckInStatus::InProgress);
        check_in.monitor_config = config;
        let check_in_id = check_in.check_in_id;
        hub.capture_check_in(check_in);
        MonitorRun {
            hub,
            slug: slug.to_owned(),
            check_in_id,
            started: Instant::now(),
            finished: false,
        }
    }

    /// The run's check-in id.
    pub fn check_in_id(&self) -> Uuid {
        self.check_in_id
    }

    /// Ends the run: `ok` when `succeeded`, else `error`, with the time
    /// since [`MonitorRun::start`] as its duration.
    pub fn finish(mut self, succeeded: bool) {
        self.send(succeeded);
    }

    fn send(&mut self, succeeded: bool) {
        self.finished = true;
        let status = if succeeded {
            CheckInStatus::Ok
        } else {
            CheckInStatus::Error
        };
        let mut check_in = MonitorCheckIn::new(self.slug.clone(), status);
        check_in.check_in_id = self.check_in_id;
        check_in.duration = Some(self.started.elapsed().as_secs_f64());
        self.hub.capture_check_in(check_in);
    }
}

impl Drop for MonitorRun {
    fn drop(&mut self) {
        if !self.finished {
            self.send(false);
        }
    }
}
