//! The JSON shapes the API answers with, as typed structs.
//!
//! The server builds these and serialises them; clients (the CLI,
//! [`crate::testing::TestServer`], Rust tests) deserialise them. Field names
//! follow Sentry's API (camelCase, ids as strings, ISO 8601 times) so
//! existing scripts work; unknown fields are ignored when deserialising, so
//! the structs also read answers from a real Sentry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A project as the API shows it (`GET /api/0/projects/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// Numeric id, as a string.
    pub id: String,
    /// URL-safe name (derived from the name).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Platform (never set locally).
    #[serde(default)]
    pub platform: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub date_created: Option<String>,
    /// `active` or `disabled`.
    #[serde(default)]
    pub status: String,
    /// Always true locally.
    #[serde(default)]
    pub is_member: bool,
    /// Always true locally.
    #[serde(default)]
    pub has_access: bool,
    /// Feature flags (none).
    #[serde(default)]
    pub features: Vec<String>,
    /// The organisation (always `local`).
    #[serde(default)]
    pub organization: Option<Organization>,
}

/// The one organisation (`local`; any slug is accepted in paths).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// Always `"1"`.
    pub id: String,
    /// Always `local`.
    pub slug: String,
    /// Always `local`.
    pub name: String,
}

/// A project reference inside other objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRef {
    /// Numeric id, as a string.
    pub id: String,
    /// Slug.
    pub slug: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

/// A client key (`GET /api/0/projects/{org}/{project}/keys/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectKey {
    /// The public key (Sentry uses it as the key id too).
    pub id: String,
    /// Label.
    pub name: String,
    /// The public key.
    pub public: String,
    /// Always null (keys have no secret part here).
    #[serde(default)]
    pub secret: Option<String>,
    /// Owning project.
    pub project_id: i64,
    /// Whether the key accepts data.
    pub is_active: bool,
    /// DSNs.
    pub dsn: KeyDsn,
}

/// The DSNs of a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyDsn {
    /// The DSN SDKs use.
    pub public: String,
    /// Same as `public` (no secret keys here).
    pub secret: String,
}

/// An assignee (`assignedTo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignee {
    /// `user` or `team` (`team:NAME` assigns a team).
    #[serde(rename = "type")]
    pub kind: String,
    /// What was assigned, without a `user:`/`team:` prefix.
    pub id: String,
    /// Same as `id`.
    pub name: String,
    /// Set when `id` looks like an email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// An issue in a list (Sentry's group serializer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// Numeric id, as a string.
    pub id: String,
    /// `PROJECT-1A` (project slug upper-cased, id in Crockford base 32).
    pub short_id: String,
    /// Title (follows the latest event).
    pub title: String,
    /// Culprit.
    #[serde(default)]
    pub culprit: Option<String>,
    /// The API URL of the issue.
    #[serde(default)]
    pub permalink: String,
    /// Level of the latest event.
    pub level: String,
    /// `unresolved`, `resolved` or `ignored`.
    pub status: String,
    /// `{}`, `{"inRelease": R}` or `{"inNextRelease": true}`.
    #[serde(default)]
    pub status_details: serde_json::Map<String, Value>,
    /// `new`, `ongoing`, `regressed`, or null.
    #[serde(default)]
    pub substatus: Option<String>,
    /// Platform of the latest event.
    #[serde(default)]
    pub platform: Option<String>,
    /// The project.
    pub project: ProjectRef,
    /// `error` or `default`; `generic` for a failing cron monitor.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Sentry's issue type: `error`, or `monitor_check_in_failure` for a
    /// failing cron monitor (`store::monitor_incidents`).
    #[serde(default)]
    pub issue_type: String,
    /// Sentry's issue category: `error`, or `cron`.
    #[serde(default)]
    pub issue_category: String,
    /// `{type, value}` for errors, `{title}` otherwise.
    #[serde(default)]
    pub metadata: Value,
    /// Who it is assigned to.
    #[serde(default)]
    pub assigned_to: Option<Assignee>,
    /// Number of events, as a string (as Sentry sends it).
    pub count: String,
    /// Distinct users.
    pub user_count: i64,
    /// Earliest event time (ISO 8601).
    pub first_seen: String,
    /// Latest event time (ISO 8601).
    pub last_seen: String,
    /// Always false.
    #[serde(default)]
    pub is_public: bool,
    /// Always false.
    #[serde(default)]
    pub is_bookmarked: bool,
    /// Always true.
    #[serde(default)]
    pub has_seen: bool,
    /// Always 0.
    #[serde(default)]
    pub num_comments: i64,
}

/// One tag value in a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagValue {
    /// The tag key.
    pub key: String,
    /// The value.
    pub value: String,
    /// The value again (Sentry's display name).
    pub name: String,
    /// Events with this value.
    pub count: i64,
    /// Earliest of those events.
    pub first_seen: String,
    /// Latest of those events.
    pub last_seen: String,
}

/// A tag key of an issue with its most common values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagSummary {
    /// The key.
    pub key: String,
    /// The key again (display name).
    pub name: String,
    /// Events that have the tag.
    pub total_values: i64,
    /// Distinct values.
    #[serde(default)]
    pub unique_values: i64,
    /// The most common values (up to 10), most common first.
    pub top_values: Vec<TagValue>,
    /// True when only the newest events were looked at (issues with more
    /// events than the scan limit).
    #[serde(default)]
    pub sampled: bool,
}

/// A grouping hash of an issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupingHash {
    /// 32 hex digits.
    pub hash: String,
    /// Variant (`app`, `system`, …).
    pub variant: String,
    /// Contributing component.
    pub component: String,
    /// The values that were hashed.
    pub inputs: Vec<String>,
}

/// How an issue's events are grouped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grouping {
    /// The hashes that lead to the issue.
    pub hashes: Vec<GroupingHash>,
    /// The first event's grouping explanation (`{config, fingerprint,
    /// variants}`), if recorded.
    #[serde(default)]
    pub explanation: Value,
}

/// An activity entry (status changes, regressions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// Row id.
    pub id: String,
    /// `set_resolved`, `regression`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Details.
    #[serde(default)]
    pub data: Value,
    /// When.
    pub date_created: String,
}

/// A release reference inside an issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRef {
    /// The version.
    pub version: String,
    /// The version without the package prefix.
    pub short_version: String,
}

/// An issue with its tag breakdown and grouping (`GET /api/0/issues/{id}/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueDetail {
    /// The list fields.
    #[serde(flatten)]
    pub issue: Issue,
    /// Tag breakdown.
    pub tags: Vec<TagSummary>,
    /// Grouping hashes and explanation.
    pub grouping: Grouping,
    /// Release of the first event.
    #[serde(default)]
    pub first_release: Option<ReleaseRef>,
    /// Latest release seen.
    #[serde(default)]
    pub last_release: Option<ReleaseRef>,
    /// Workflow history, newest first.
    #[serde(default)]
    pub activity: Vec<Activity>,
    /// Environments the issue's events came from.
    #[serde(default)]
    pub environments: Vec<String>,
}

/// A `{key, value}` tag pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// An event in a list (Sentry's simple event serializer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSummary {
    /// 32 hex digits.
    pub id: String,
    /// Same as `id`.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// The issue, as a string.
    #[serde(rename = "groupID", default)]
    pub group_id: Option<String>,
    /// The project, as a string.
    #[serde(rename = "projectID")]
    pub project_id: String,
    /// `error`, `default` or `transaction`.
    #[serde(rename = "event.type", default)]
    pub event_type: String,
    /// Title.
    pub title: String,
    /// The message (formatted), or the title.
    #[serde(default)]
    pub message: String,
    /// Culprit (transaction or crash location).
    #[serde(default)]
    pub culprit: Option<String>,
    /// Platform.
    #[serde(default)]
    pub platform: Option<String>,
    /// Level.
    #[serde(default)]
    pub level: String,
    /// Event time.
    pub date_created: String,
    /// Receive time.
    #[serde(default)]
    pub date_received: Option<String>,
    /// Tags, sorted by key (`level`, `environment`, `release` included).
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The `user` interface.
    #[serde(default)]
    pub user: Option<Value>,
    /// Release.
    #[serde(default)]
    pub release: Option<String>,
    /// Environment.
    #[serde(default)]
    pub environment: Option<String>,
}

/// An attachment's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// Row id, as a string.
    pub id: String,
    /// File name.
    pub name: String,
    /// `event.attachment`, `event.minidump`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// MIME type.
    #[serde(default)]
    pub mimetype: Option<String>,
    /// Bytes.
    pub size: i64,
    /// Receive time.
    pub date_created: String,
    /// The event it belongs to.
    #[serde(rename = "event_id", default)]
    pub event_id: Option<String>,
    /// `{"Content-Type": …}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A project inside a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseProject {
    /// Numeric id.
    pub id: i64,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Issues first seen in this release in this project.
    #[serde(default)]
    pub new_groups: i64,
    /// Whether session data exists for the release in this project.
    #[serde(default)]
    pub has_health_data: bool,
}

/// A deploy of a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deploy {
    /// Row id, as a string.
    pub id: String,
    /// Environment.
    pub environment: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Start.
    #[serde(default)]
    pub date_started: Option<String>,
    /// End.
    pub date_finished: String,
}

/// A release (the shape `sentry-cli releases` reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// The version.
    pub version: String,
    /// Without the `package@` prefix.
    pub short_version: String,
    /// VCS ref.
    #[serde(rename = "ref", default)]
    pub reference: Option<String>,
    /// URL.
    #[serde(default)]
    pub url: Option<String>,
    /// When it was created or first seen.
    pub date_created: String,
    /// When it was finalized.
    #[serde(default)]
    pub date_released: Option<String>,
    /// Issues first seen in this release.
    #[serde(default)]
    pub new_groups: i64,
    /// Projects.
    pub projects: Vec<ReleaseProject>,
    /// Number of deploys.
    #[serde(default)]
    pub deploy_count: i64,
    /// The newest deploy.
    #[serde(default)]
    pub last_deploy: Option<Deploy>,
    /// Always `open`.
    #[serde(default)]
    pub status: String,
    /// Always 0.
    #[serde(default)]
    pub commit_count: i64,
}

/// Release health of one group (release × environment by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthRow {
    /// Project id (absent when grouped across projects).
    #[serde(default)]
    pub project: Option<String>,
    /// Release (absent when not grouped by release).
    #[serde(default)]
    pub release: Option<String>,
    /// Environment (absent when not grouped by it or not set).
    #[serde(default)]
    pub environment: Option<String>,
    /// Sessions started (`init` updates plus aggregate counts).
    pub sessions: i64,
    /// Crashed sessions.
    pub sessions_crashed: i64,
    /// Abnormal sessions.
    pub sessions_abnormal: i64,
    /// Errored (non-fatal) sessions.
    pub sessions_errored: i64,
    /// Healthy sessions.
    pub sessions_healthy: i64,
    /// `1 − crashed / sessions` (null without sessions).
    pub crash_free_sessions: Option<f64>,
    /// Distinct users (`did`).
    pub users: i64,
    /// Users with a crashed session.
    pub users_crashed: i64,
    /// `1 − crashed users / users` (null without users).
    pub crash_free_users: Option<f64>,
}

/// `GET /api/0/local/health/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// One row per group.
    pub data: Vec<HealthRow>,
    /// All groups together.
    pub totals: HealthRow,
}

/// A transaction (`GET /api/0/local/transactions/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    /// 32 hex digits.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// Project id.
    #[serde(rename = "projectID")]
    pub project_id: String,
    /// Trace id.
    #[serde(rename = "traceID", default)]
    pub trace_id: Option<String>,
    /// Root span id.
    #[serde(rename = "spanID", default)]
    pub span_id: Option<String>,
    /// Transaction name.
    #[serde(default)]
    pub transaction: Option<String>,
    /// Root span op.
    #[serde(default)]
    pub op: Option<String>,
    /// Root span status.
    #[serde(default)]
    pub status: Option<String>,
    /// Start (ISO 8601).
    pub start_timestamp: String,
    /// End (ISO 8601).
    pub timestamp: String,
    /// Duration in milliseconds.
    pub duration: f64,
    /// Release.
    #[serde(default)]
    pub release: Option<String>,
    /// Environment.
    #[serde(default)]
    pub environment: Option<String>,
}

/// An error event that belongs to a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceError {
    /// Event id.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// Issue id.
    #[serde(rename = "issueID", default)]
    pub issue_id: Option<String>,
    /// Project id.
    #[serde(rename = "projectID")]
    pub project_id: String,
    /// Title.
    pub title: String,
    /// Level.
    pub level: String,
    /// The span it happened in (`contexts.trace.span_id`).
    #[serde(rename = "spanID", default)]
    pub span_id: Option<String>,
    /// Event time.
    pub timestamp: String,
}

/// A span in a trace tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpanNode {
    /// 16 hex digits.
    #[serde(rename = "spanID")]
    pub span_id: String,
    /// Parent span.
    #[serde(rename = "parentSpanID", default)]
    pub parent_span_id: Option<String>,
    /// Operation.
    #[serde(default)]
    pub op: Option<String>,
    /// Description (the transaction name for a transaction's root span).
    #[serde(default)]
    pub description: Option<String>,
    /// Status.
    #[serde(default)]
    pub status: Option<String>,
    /// Start (ISO 8601).
    pub start_timestamp: String,
    /// End (ISO 8601).
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Milliseconds.
    #[serde(default)]
    pub duration: Option<f64>,
    /// The service (project) that sent it.
    #[serde(rename = "projectID")]
    pub project_id: String,
    /// The transaction it was sent in.
    #[serde(rename = "transactionID", default)]
    pub transaction_id: Option<String>,
    /// Whether it is a transaction's root span.
    #[serde(default)]
    pub is_segment: bool,
    /// Errors reported from this span.
    #[serde(default)]
    pub errors: Vec<TraceError>,
    /// Child spans, by start time.
    #[serde(default)]
    pub children: Vec<SpanNode>,
}

/// A cron monitor (`GET /api/0/local/monitors/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Monitor {
    /// Project id.
    #[serde(rename = "projectID")]
    pub project_id: String,
    /// The monitor's slug.
    pub monitor_slug: String,
    /// The status of its latest run.
    pub last_status: String,
    /// When that run's first check-in arrived (ISO 8601).
    pub last_check_in: String,
    /// Its duration in seconds, if it reported one.
    #[serde(default)]
    pub last_duration: Option<f64>,
    /// Its environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// Runs (check-ins, each with its updates) that started in the time
    /// range.
    pub check_ins: i64,
    /// Of those, `error`, `timeout` or `missed`.
    pub failed: i64,
    /// Those runs by status (`ok`, `error`, `in_progress`, `timeout`, …;
    /// statuses no run has are left out).
    #[serde(default)]
    pub status_counts: BTreeMap<String, i64>,
    /// Its configuration, from the latest `monitor_config` whose schedule
    /// could be read; `null` when none came.
    #[serde(default)]
    pub config: Option<MonitorConfig>,
    /// What was wrong with the latest `monitor_config` sent (empty when
    /// nothing was): fields left out, or why it was not taken.
    #[serde(default)]
    pub config_problems: Vec<String>,
    /// When the next run is due by the config's schedule (ISO 8601; `null`
    /// without a schedule).
    #[serde(default)]
    pub next_check_in: Option<String>,
    /// When the first expected run that did not come (its margin passed
    /// without a check-in) was due since the latest run; `null` when none
    /// is missing. Missed runs of the time range count in `statusCounts`
    /// as `missed` (and in `checkIns` and `failed`).
    #[serde(default)]
    pub missed_since: Option<String>,
    /// With a schedule, each environment its runs came from (none is
    /// `production`, as Sentry files it), which expects the schedule's runs
    /// on its own: `nextCheckIn` and `missedSince` above are the earliest
    /// of theirs, the missed runs counted above their sum.
    #[serde(default)]
    pub environments: Vec<MonitorEnvironment>,
    /// Its open incidents, one per failing environment (by name): the
    /// issue each failure is counted into (`Monitor failure: {slug}`).
    #[serde(default)]
    pub incidents: Vec<MonitorIncident>,
    /// Muted: its failures open no issue (`PUT …/monitors/{slug}/`).
    #[serde(default)]
    pub is_muted: bool,
}

/// An open incident of a monitor environment: failures met its
/// `failureIssueThreshold` and runs have not recovered since.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorIncident {
    /// The environment's name.
    pub environment: String,
    /// When the first failed run of the incident started (ISO 8601).
    pub started: String,
    /// The issue of its failures (`null` if it was deleted since).
    #[serde(rename = "issueID", default)]
    pub issue_id: Option<String>,
}

/// A cron monitor in one environment (`environments` of [`Monitor`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorEnvironment {
    /// The environment's name.
    pub name: String,
    /// When its latest run started (ISO 8601).
    pub last_check_in: String,
    /// When its next run is due (ISO 8601).
    #[serde(default)]
    pub next_check_in: Option<String>,
    /// When its first run missing since its latest run was due; `null`
    /// when none is missing.
    #[serde(default)]
    pub missed_since: Option<String>,
    /// Its runs missed in the time range.
    pub missed: i64,
}

/// A cron monitor's configuration (`monitor_config` of its check-ins;
/// times in minutes). Unset fields are `null`: Sentry's defaults then
/// apply (a margin of 1 minute, a maximum runtime of 30, UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorConfig {
    /// When runs are expected.
    pub schedule: MonitorSchedule,
    /// How late a run may start before it is missed.
    pub checkin_margin: Option<i64>,
    /// How long a run may stay in progress before it timed out.
    pub max_runtime: Option<i64>,
    /// The tz database name the schedule is read in.
    pub timezone: Option<String>,
    /// Failed runs in a row before Sentry opens an issue.
    pub failure_issue_threshold: Option<i64>,
    /// Successful runs in a row before Sentry resolves it.
    pub recovery_threshold: Option<i64>,
    /// The owner, as sent (`user:…`, `team:…`).
    pub owner: Option<String>,
    /// When this config arrived (ISO 8601).
    pub updated: String,
}

/// A monitor's schedule, in the form SDKs send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MonitorSchedule {
    /// `{"type": "crontab", "value": "0 * * * *"}`
    Crontab {
        /// Five fields.
        value: String,
    },
    /// `{"type": "interval", "value": 2, "unit": "hour"}`
    Interval {
        /// How many units.
        value: i64,
        /// `year`, `month`, `week`, `day`, `hour` or `minute`.
        unit: String,
    },
}

/// One run of a cron monitor (`GET /api/0/local/check-ins/`): its
/// `in_progress` check-in and its final update, merged; or a run its
/// schedule expected that did not come (`inferred`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckIn {
    /// The check-in id (32 hex digits) that the run's updates share;
    /// `null` for a missed run.
    #[serde(rename = "checkInID", default)]
    pub check_in_id: Option<String>,
    /// Project id.
    #[serde(rename = "projectID")]
    pub project_id: String,
    /// The monitor's slug.
    pub monitor_slug: String,
    /// `in_progress`, `ok`, `error`, …
    pub status: String,
    /// Seconds, if reported.
    #[serde(default)]
    pub duration: Option<f64>,
    /// Release.
    #[serde(default)]
    pub release: Option<String>,
    /// Environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// When its first check-in arrived, or a missed run was due (ISO
    /// 8601).
    pub received: String,
    /// When its latest update arrived (ISO 8601): a heartbeat or the final
    /// status; `received` when there was none. For a missed run, when its
    /// margin ran out.
    pub updated: String,
    /// A missed run, worked out from the monitor's schedule when the list
    /// was read (status `missed`; `received` is when it was due): no
    /// check-in came for it.
    #[serde(default)]
    pub inferred: bool,
}

/// A span in the spans list (`GET /api/0/local/spans/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpanRow {
    /// 16 hex digits.
    #[serde(rename = "spanID")]
    pub span_id: String,
    /// Parent span.
    #[serde(rename = "parentSpanID", default)]
    pub parent_span_id: Option<String>,
    /// Its trace.
    #[serde(rename = "traceID")]
    pub trace_id: String,
    /// Operation.
    #[serde(default)]
    pub op: Option<String>,
    /// Description (a segment's name for a segment).
    #[serde(default)]
    pub description: Option<String>,
    /// Status.
    #[serde(default)]
    pub status: Option<String>,
    /// Start (ISO 8601).
    pub start_timestamp: String,
    /// End (ISO 8601); none for a span sent unfinished.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Milliseconds.
    #[serde(default)]
    pub duration: Option<f64>,
    /// The service (project) that sent it.
    #[serde(rename = "projectID")]
    pub project_id: String,
    /// Whether it is a segment: a transaction's root span or a streamed
    /// segment.
    #[serde(default)]
    pub is_segment: bool,
    /// The event id of the transaction it came in; none for a span that
    /// came on its own (a `span` item).
    #[serde(rename = "transactionID", default)]
    pub transaction_id: Option<String>,
    /// That transaction's name; for a span that came on its own, the name
    /// of its segment (its `sentry.segment.name` attribute), when it says.
    #[serde(default)]
    pub transaction: Option<String>,
}

/// `GET /api/0/local/traces/{trace_id}/spans/{span_id}/`: one span as its
/// SDK sent it, with its data or attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanDetail {
    /// 16 hex digits.
    #[serde(rename = "spanID")]
    pub span_id: String,
    /// Its trace.
    #[serde(rename = "traceID")]
    pub trace_id: String,
    /// The service (project) that sent it.
    #[serde(rename = "projectID")]
    pub project_id: String,
    /// The event id of the transaction it came in; none for a span that
    /// came on its own.
    #[serde(rename = "transactionID", default)]
    pub transaction_id: Option<String>,
    /// `transaction` (an entry of a transaction's `spans`, or its
    /// `contexts.trace` for the root) or `stream` (an entry of a `span`
    /// item, with its `attributes`).
    pub source: String,
    /// The span's object as stored; none when what it came in is no
    /// longer stored (or, for a streamed span, was stored by a receiver
    /// before migration 47).
    #[serde(default)]
    pub span: Option<Value>,
    /// For a transaction's or streamed segment's root span that has a
    /// profile: `profile` (a `profile` item: `profiles/{transactionID}/`)
    /// or `continuous` (chunks of the profiler named in `profilerID` cover
    /// it: `profiles/{transactionID}/`, or `profilers/{profilerID}/` with
    /// the span's times for a streamed segment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The continuous profiler that sampled it (see `profile`).
    #[serde(
        rename = "profilerID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub profiler_id: Option<String>,
}

/// One profile of `GET /api/0/local/profiles/`: a transaction's sampled
/// profile (a `profile` item).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRow {
    /// The event id of the transaction it profiles (the envelope's): the
    /// id `profiles/{id}/` takes.
    #[serde(rename = "transactionID")]
    pub transaction_id: String,
    /// The profile's own event id.
    #[serde(rename = "profileID", default)]
    pub profile_id: Option<String>,
    /// The project that sent it.
    #[serde(rename = "projectID")]
    pub project_id: String,
    /// The transaction's name.
    #[serde(default)]
    pub transaction: Option<String>,
    /// Its trace.
    #[serde(rename = "traceID", default)]
    pub trace_id: Option<String>,
    /// `python`, `node`, …
    #[serde(default)]
    pub platform: Option<String>,
    /// Release and environment.
    #[serde(default)]
    pub release: Option<String>,
    /// See `release`.
    #[serde(default)]
    pub environment: Option<String>,
    /// When it was received (ISO 8601).
    pub received: String,
    /// How long the transaction it profiles ran, in milliseconds.
    #[serde(rename = "durationMs", default)]
    pub duration_ms: Option<f64>,
    /// Samples of every thread.
    pub samples: usize,
    /// For a transaction sampled by a continuous profiler (no `profile`
    /// item, its samples in the profiler's chunks): that profiler session.
    #[serde(
        rename = "profilerID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub profiler_id: Option<String>,
}

/// A continuous profiler session of `GET /api/0/local/profilers/`: the
/// chunks (`profile_chunk` items) one profiler sent under one id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfilerRow {
    /// The session's id: the id `profilers/{id}/` takes.
    #[serde(rename = "profilerID")]
    pub profiler_id: String,
    /// The project that sent it.
    #[serde(rename = "projectID")]
    pub project_id: String,
    /// `python`, `node`, … (as its latest chunk says).
    #[serde(default)]
    pub platform: Option<String>,
    /// Release (as its latest chunk says).
    #[serde(default)]
    pub release: Option<String>,
    /// Environment (as its latest chunk says).
    #[serde(default)]
    pub environment: Option<String>,
    /// Its first sample's time (ISO 8601).
    pub start: String,
    /// Its last sample's time (ISO 8601).
    pub end: String,
    /// Chunks received.
    pub chunks: usize,
    /// Samples of every thread in them.
    pub samples: usize,
}

/// `GET /api/0/local/profilers/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfilersPage {
    /// Sessions, the one that sampled last first.
    pub profilers: Vec<ProfilerRow>,
    /// Pass as `cursor` for the ones before; `null` when none are left.
    pub cursor: Option<String>,
}

/// `GET /api/0/local/profilers/{profiler_id}/`: where one thread's time
/// went over a profiler session's chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfilerDetail {
    /// What the list shows of it.
    pub profiler: ProfilerRow,
    /// The chunks summarised: all of them, or the latest that fit in what
    /// one request reads (`api::profilers::MAX_BYTES_READ`).
    pub chunks_read: usize,
    /// The window asked for (`start`/`end`), when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<String>,
    /// See `window_start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end: Option<String>,
    /// Every thread with samples in them.
    pub threads: Vec<ProfileThread>,
    /// The thread summarised.
    #[serde(rename = "threadID", default)]
    pub thread_id: Option<String>,
    /// The time its samples stand for, in milliseconds.
    pub sampled_ms: f64,
    /// Its functions, slowest (self time) first, at most 200.
    pub functions: Vec<ProfileFunction>,
}

/// `GET /api/0/local/profiles/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfilesPage {
    /// Profiles, latest received first.
    pub profiles: Vec<ProfileRow>,
    /// Pass as `cursor` for the older ones; `null` when none are left.
    pub cursor: Option<String>,
}

/// A thread of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileThread {
    /// Its id as the SDK wrote it.
    pub id: String,
    /// Its name, when the SDK sent one.
    #[serde(default)]
    pub name: Option<String>,
    /// Its samples.
    pub samples: usize,
}

/// A function of a profile's thread: the time it was the innermost frame
/// (`selfMs`) and on the stack at all (`totalMs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileFunction {
    /// Its name.
    pub function: String,
    /// Its module or package, when the SDK sent one.
    #[serde(default)]
    pub module: Option<String>,
    /// Its file, when there is no module.
    #[serde(default)]
    pub file: Option<String>,
    /// Whether it is the application's own code, when the SDK said.
    #[serde(default)]
    pub in_app: Option<bool>,
    /// Milliseconds as the innermost frame.
    pub self_ms: f64,
    /// Milliseconds on the stack.
    pub total_ms: f64,
    /// Samples as the innermost frame.
    pub self_samples: usize,
    /// Samples on the stack.
    pub total_samples: usize,
}

/// `GET /api/0/local/profiles/{transaction_id}/`: where one thread's time
/// went (`?thread=ID`; default: the transaction's thread).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDetail {
    /// What the list shows of it.
    pub profile: ProfileRow,
    /// Every thread with samples.
    pub threads: Vec<ProfileThread>,
    /// The thread summarised.
    #[serde(rename = "threadID", default)]
    pub thread_id: Option<String>,
    /// The time its samples stand for, in milliseconds.
    pub sampled_ms: f64,
    /// Its functions, slowest (self time) first, at most 200.
    pub functions: Vec<ProfileFunction>,
    /// For a transaction sampled by a continuous profiler: the chunks
    /// that cover it, and (`chunksRead`) how many of them were summarised,
    /// the first that fit in what one request reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
    /// See `chunks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks_read: Option<usize>,
}

/// `GET /api/0/local/traces/{trace_id}/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trace {
    /// 32 hex digits.
    #[serde(rename = "traceID")]
    pub trace_id: String,
    /// Projects (services) that took part.
    pub projects: Vec<String>,
    /// Number of transactions.
    pub transactions: i64,
    /// Number of spans.
    pub spans: i64,
    /// Root spans (no known parent), by start time.
    pub roots: Vec<SpanNode>,
    /// Errors of the trace that no stored span claims.
    #[serde(default)]
    pub orphan_errors: Vec<TraceError>,
    /// Only the first spans (10 000) and errors (1 000) by time are in
    /// the answer; `spans` still counts them all.
    #[serde(default)]
    pub truncated: bool,
}

/// One client-report total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientReportRow {
    /// `discarded`, `rate_limited`, `filtered`, `filtered_sampling`.
    pub outcome: String,
    /// Reason.
    pub reason: String,
    /// Data category.
    pub category: String,
    /// Sum of quantities.
    pub quantity: i64,
    /// What the category's quantities count (as Relay's data categories
    /// do): `item`, `byte` (`attachment`, `log_byte`, …) or `millisecond`
    /// (`profile_duration`, …).
    #[serde(default)]
    pub unit: String,
}

/// `GET /api/0/local/client-reports/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientReports {
    /// Items dropped: the sum of the quantities of categories that count
    /// items (bytes and durations are summed on their own).
    pub total: i64,
    /// Bytes dropped (categories whose unit is `byte`).
    #[serde(default)]
    pub total_bytes: i64,
    /// Milliseconds of profiles dropped (unit `millisecond`).
    #[serde(default)]
    pub total_milliseconds: i64,
    /// Items dropped per reason.
    pub by_reason: BTreeMap<String, i64>,
    /// Totals per category (each in its own unit).
    pub by_category: BTreeMap<String, i64>,
    /// Items dropped per outcome.
    pub by_outcome: BTreeMap<String, i64>,
    /// Totals per (outcome, reason, category), largest first.
    pub rows: Vec<ClientReportRow>,
}

/// `GET /api/0/local/stats/`: counts for `receiver wait` and `check`. A
/// count not asked for (`fields`) is left out; the crash-free rates are
/// `null` then, as without session data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Error/default events matching the filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<i64>,
    /// Issues matching the filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issues: Option<i64>,
    /// Transactions matching the filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<i64>,
    /// Segments matching the filters: transactions' root spans and spans
    /// streamed as segments (what an SDK that streams spans sends instead
    /// of transactions), a span sent both ways counted once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<i64>,
    /// Cron check-ins (runs: a job's `in_progress` and final update are
    /// one) matching the filters, by their status as read now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_ins: Option<i64>,
    /// Runs the scheduled monitors matching the filters missed (inferred
    /// from their schedules, per environment, as the monitors list counts
    /// them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed_check_ins: Option<i64>,
    /// Sessions started (release health) matching the filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<i64>,
    /// Crash-free session rate, if there are sessions.
    #[serde(default)]
    pub crash_free_sessions: Option<f64>,
    /// Crash-free user rate, if there are users.
    #[serde(default)]
    pub crash_free_users: Option<f64>,
}

/// One event in the live stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamEvent {
    /// Store order (pass the last one as `after`).
    pub seq: i64,
    /// Event id.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// Issue id.
    #[serde(rename = "groupID", default)]
    pub group_id: Option<String>,
    /// Project id.
    #[serde(rename = "projectID")]
    pub project_id: String,
    /// Level.
    pub level: String,
    /// Title.
    pub title: String,
    /// Event time.
    pub date_created: String,
    /// Environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// Release.
    #[serde(default)]
    pub release: Option<String>,
}

/// `GET /api/0/local/stream/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamPage {
    /// New events, oldest first.
    pub events: Vec<StreamEvent>,
    /// Pass as `after` to get what follows.
    pub cursor: i64,
}

/// One structured log line (`GET /api/0/local/logs/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Where it is stored: `{container}:{index}` (a `log` item holds many).
    pub id: String,
    /// The project it was sent to.
    #[serde(rename = "projectID")]
    pub project_id: String,
    /// When the SDK logged it (ISO 8601), if it said.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// `trace`, `debug`, `info`, `warn`, `error` or `fatal`, as sent.
    #[serde(default)]
    pub level: Option<String>,
    /// The message.
    #[serde(default)]
    pub body: Option<String>,
    /// The trace it belongs to.
    #[serde(rename = "traceID", default)]
    pub trace_id: Option<String>,
    /// The span it was logged in, if the SDK said.
    #[serde(rename = "spanID", default)]
    pub span_id: Option<String>,
    /// The `sentry.release` attribute.
    #[serde(default)]
    pub release: Option<String>,
    /// The `sentry.environment` attribute.
    #[serde(default)]
    pub environment: Option<String>,
    /// Every attribute by name, its value without the type wrapper.
    #[serde(default)]
    pub attributes: serde_json::Map<String, Value>,
}

/// `GET /api/0/local/logs/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogsPage {
    /// Log lines, newest first.
    pub logs: Vec<LogEntry>,
    /// Pass as `cursor` for the older ones; `null` when none are left.
    pub cursor: Option<String>,
}

/// One metric sample (`GET /api/0/local/metrics/`): an entry of a
/// `trace_metric` container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricEntry {
    /// Where it is stored: `{container}:{index}`.
    pub id: String,
    /// The project it was sent to.
    #[serde(rename = "projectID")]
    pub project_id: String,
    /// When the SDK recorded it (ISO 8601), if it said.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// The metric's name, e.g. `checkout.completed`.
    #[serde(default)]
    pub name: Option<String>,
    /// `counter`, `gauge` or `distribution`, as sent.
    #[serde(rename = "type", default)]
    pub metric_type: Option<String>,
    /// The sample's value (`null` when it is not a number).
    #[serde(default)]
    pub value: Option<f64>,
    /// Its unit (`millisecond`, `byte`, …), if it has one.
    #[serde(default)]
    pub unit: Option<String>,
    /// The trace it was recorded in.
    #[serde(rename = "traceID", default)]
    pub trace_id: Option<String>,
    /// The span it was recorded in.
    #[serde(rename = "spanID", default)]
    pub span_id: Option<String>,
    /// The `sentry.release` attribute.
    #[serde(default)]
    pub release: Option<String>,
    /// The `sentry.environment` attribute.
    #[serde(default)]
    pub environment: Option<String>,
    /// Every attribute by name, its value without the type wrapper.
    #[serde(default)]
    pub attributes: serde_json::Map<String, Value>,
}

/// `GET /api/0/local/metrics/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsPage {
    /// Samples, most recently received first.
    pub metrics: Vec<MetricEntry>,
    /// Pass as `cursor` for the older ones; `null` when none are left.
    pub cursor: Option<String>,
}

/// One metric in `GET /api/0/local/metrics/summary/`: the samples of one
/// name, type and unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSummary {
    /// The metric's name.
    pub name: String,
    /// `counter`, `gauge` or `distribution`, as sent.
    #[serde(rename = "type")]
    pub metric_type: String,
    /// Its unit, if it has one.
    #[serde(default)]
    pub unit: Option<String>,
    /// How many samples were read.
    pub samples: u64,
    /// The sum of their values (a counter's total).
    pub sum: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// The mean value.
    pub avg: f64,
    /// The value of the most recently received sample (a gauge's current
    /// value).
    pub last: f64,
    /// When the most recently received sample was recorded (ISO 8601).
    #[serde(default)]
    pub last_seen: Option<String>,
}

/// `GET /api/0/local/metrics/summary/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSummary {
    /// One row per name, type and unit, by name.
    pub metrics: Vec<MetricSummary>,
    /// Whether every matching sample was read (`false`: the read stopped
    /// at its budget, and the figures cover the newest samples only).
    pub complete: bool,
}

/// One user feedback (`feedback` or legacy `user_report` item), in the
/// shape of Sentry's user-feedback API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserFeedback {
    /// Row id.
    pub id: String,
    /// The event the feedback is about, if it names one.
    #[serde(rename = "eventID", default)]
    pub event_id: Option<String>,
    /// The feedback item's own id (local extension).
    #[serde(rename = "feedbackID")]
    pub feedback_id: String,
    /// `feedback` or `user_report` (local extension).
    pub kind: String,
    /// Who sent it.
    #[serde(default)]
    pub name: Option<String>,
    /// Their email.
    #[serde(default)]
    pub email: Option<String>,
    /// What they wrote.
    pub comments: String,
    /// When it arrived (ISO 8601).
    pub date_created: String,
    /// The issue of the event it is about, when that event is stored.
    #[serde(default)]
    pub issue: Option<FeedbackIssue>,
    /// The project it was sent to (local extension, in
    /// `/api/0/local/feedback/` only).
    #[serde(rename = "projectID", default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// The page it was sent from, as the feedback widget says
    /// (`contexts.feedback.url`; local extension, in
    /// `/api/0/local/feedback/` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The issue a feedback is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackIssue {
    /// Issue id.
    pub id: String,
    /// `PROJECT-1A`.
    pub short_id: String,
    /// Issue title.
    pub title: String,
}
