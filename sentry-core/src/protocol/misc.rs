//! Attachments, user feedback and cron check-ins.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ids;
use super::lenient::Map;

/// A file sent with an event (envelope item `attachment`).
///
/// ```
/// use sentry_core::protocol::Attachment;
/// let a = Attachment::new("log.txt", b"hello".to_vec());
/// assert_eq!(a.content_type.as_deref(), Some("application/octet-stream"));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attachment {
    /// Basename of the file.
    pub filename: String,
    /// MIME type.
    pub content_type: Option<String>,
    /// `event.attachment` (default), `event.minidump`, …
    pub attachment_type: Option<String>,
    /// The bytes.
    pub data: Vec<u8>,
}

impl Attachment {
    /// A plain attachment with the default content type.
    pub fn new(filename: impl Into<String>, data: Vec<u8>) -> Self {
        Attachment {
            filename: filename.into(),
            content_type: Some("application/octet-stream".to_owned()),
            attachment_type: None,
            data,
        }
    }
}

/// Legacy user feedback (`user_report` item).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserReport {
    /// The error event the feedback is about.
    #[serde(with = "ids::uuid_simple")]
    pub event_id: Uuid,
    /// Name of the user.
    #[serde(default)]
    pub name: String,
    /// Email of the user.
    #[serde(default)]
    pub email: String,
    /// What the user said.
    #[serde(default)]
    pub comments: String,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map,
}

/// Status of a cron check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckInStatus {
    /// The job started.
    InProgress,
    /// The job finished successfully.
    Ok,
    /// The job failed.
    Error,
}

/// A cron monitor check-in (`check_in` item): one update of a run of a
/// scheduled job. A run is an `in_progress` check-in and a final `ok` or
/// `error` one with the same `check_in_id`; [`crate::monitor`] sends both.
///
/// ```
/// use sentry_core::protocol::{CheckInStatus, MonitorCheckIn};
/// let check_in = MonitorCheckIn::new("nightly-backup", CheckInStatus::InProgress);
/// let json = serde_json::to_value(&check_in).unwrap();
/// assert_eq!(json["status"], "in_progress");
/// assert_eq!(json["check_in_id"].as_str().map(str::len), Some(32));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorCheckIn {
    /// Check-in id: the run's id.
    #[serde(with = "ids::uuid_simple")]
    pub check_in_id: Uuid,
    /// Monitor slug.
    pub monitor_slug: String,
    /// Status.
    pub status: CheckInStatus,
    /// Duration in seconds (with `ok`/`error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Environment (the client's when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Release (the client's when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// The monitor's schedule and thresholds: creates or updates the
    /// monitor (upsert) when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_config: Option<MonitorConfig>,
    /// Everything else (`contexts`).
    #[serde(flatten)]
    pub other: Map,
}

impl MonitorCheckIn {
    /// A check-in of a new run of `monitor_slug`.
    pub fn new(monitor_slug: impl Into<String>, status: CheckInStatus) -> Self {
        MonitorCheckIn {
            check_in_id: super::new_uuid(),
            monitor_slug: monitor_slug.into(),
            status,
            duration: None,
            environment: None,
            release: None,
            monitor_config: None,
            other: Map::new(),
        }
    }
}

/// When a monitor's runs are expected, and when a run counts as failed.
///
/// ```
/// use sentry_core::protocol::{MonitorConfig, MonitorSchedule};
/// let config = MonitorConfig {
///     checkin_margin: Some(5),
///     failure_issue_threshold: Some(2),
///     ..MonitorConfig::new(MonitorSchedule::crontab("0 3 * * *"))
/// };
/// let json = serde_json::to_value(&config).unwrap();
/// assert_eq!(json["schedule"]["type"], "crontab");
/// assert_eq!(json["checkin_margin"], 5);
/// assert!(json.get("max_runtime").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorConfig {
    /// When runs are due.
    pub schedule: MonitorSchedule,
    /// Minutes a run may start late before it counts as missed (Sentry's
    /// default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkin_margin: Option<u64>,
    /// Minutes a run may stay in progress before it times out (Sentry's
    /// default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_runtime: Option<u64>,
    /// The tz database zone a crontab is read in (UTC by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Failed runs in a row before an issue opens (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_issue_threshold: Option<u64>,
    /// Successful runs in a row before the issue resolves (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_threshold: Option<u64>,
    /// Who is assigned the monitor's issues: `user:ID` or `team:ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl MonitorConfig {
    /// A config with `schedule` and every other field unset.
    pub fn new(schedule: MonitorSchedule) -> Self {
        MonitorConfig {
            schedule,
            checkin_margin: None,
            max_runtime: None,
            timezone: None,
            failure_issue_threshold: None,
            recovery_threshold: None,
            owner: None,
        }
    }
}

/// A monitor's schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MonitorSchedule {
    /// A crontab expression (five fields, or `@daily` and the like).
    Crontab {
        /// The expression.
        value: String,
    },
    /// Every `value` units, counted from each run's start.
    Interval {
        /// How many units.
        value: u64,
        /// The unit.
        unit: MonitorIntervalUnit,
    },
}

impl MonitorSchedule {
    /// A crontab schedule.
    pub fn crontab(expression: impl Into<String>) -> Self {
        MonitorSchedule::Crontab {
            value: expression.into(),
        }
    }

    /// An interval schedule: every `value` `unit`s.
    pub fn interval(value: u64, unit: MonitorIntervalUnit) -> Self {
        MonitorSchedule::Interval { value, unit }
    }
}

/// The unit of an interval schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorIntervalUnit {
    /// Years.
    Year,
    /// Months.
    Month,
    /// Weeks.
    Week,
    /// Days.
    Day,
    /// Hours.
    Hour,
    /// Minutes.
    Minute,
}
