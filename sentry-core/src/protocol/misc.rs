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

/// A cron monitor check-in (`check_in` item).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorCheckIn {
    /// Check-in id.
    #[serde(with = "ids::uuid_simple")]
    pub check_in_id: Uuid,
    /// Monitor slug.
    pub monitor_slug: String,
    /// Status.
    pub status: CheckInStatus,
    /// Duration in seconds (with `ok`/`error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Everything else (`monitor_config`, `contexts`, `release`).
    #[serde(flatten)]
    pub other: Map,
}
