//! What ingestion hands to the writer: one [`IngestBatch`] per request,
//! already validated, normalised, grouped and compressed, so the writer
//! thread only does SQL.

/// Everything one request stores, committed atomically.
#[derive(Debug, Clone, Default)]
pub struct IngestBatch {
    /// The project (already authenticated).
    pub project_id: i64,
    /// Receive time, seconds since the epoch.
    pub received: f64,
    /// The records, in envelope order.
    pub records: Vec<Record>,
    /// How many items of each type the request carried (including unknown
    /// types and items dropped by validation).
    pub item_counts: Vec<(String, u64)>,
}

/// One thing to store.
#[derive(Debug, Clone)]
pub enum Record {
    /// An error or message event: becomes part of an issue.
    Event(Box<EventRecord>),
    /// A transaction and its spans.
    Transaction(Box<TransactionRecord>),
    /// An attachment.
    Attachment(AttachmentRecord),
    /// A session update.
    Session(SessionRecord),
    /// Pre-aggregated sessions.
    SessionAggregate(AggregateRecord),
    /// One line of a client report.
    ClientReport(ClientReportRecord),
    /// User feedback (`feedback` or legacy `user_report`).
    Feedback(FeedbackRecord),
    /// A log container, kept whole.
    Log(BlobRecord),
    /// A trace metric container (`trace_metric`), kept whole.
    TraceMetric(BlobRecord),
    /// A standalone span item, kept whole, with a row per valid span.
    SpanItem(SpanItemRecord),
    /// A cron check-in.
    CheckIn(CheckInRecord),
    /// Any other item, kept raw with its type.
    Raw(RawRecord),
}

/// A grouped error event.
#[derive(Debug, Clone)]
pub struct EventRecord {
    /// 32 hex digits.
    pub event_id: String,
    /// `error` (has exceptions or threads) or `default`.
    pub kind: String,
    /// Event time after normalisation.
    pub timestamp: f64,
    /// Release.
    pub release: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// Level name.
    pub level: String,
    /// Display title.
    pub title: String,
    /// Platform.
    pub platform: Option<String>,
    /// `contexts.trace.trace_id`.
    pub trace_id: Option<String>,
    /// What identifies the user for the issue's distinct-user count.
    pub user_key: Option<String>,
    /// zstd-compressed normalised JSON.
    pub payload: Vec<u8>,
    /// How the event groups.
    pub grouping: Grouping,
    /// Attachments that arrived with the event (stored only if the event is
    /// new, so a retried envelope does not duplicate them).
    pub attachments: Vec<AttachmentRecord>,
}

/// The grouping result in storable form.
#[derive(Debug, Clone, Default)]
pub struct Grouping {
    /// Hashes in lookup order: the event joins the issue owning any of them.
    pub hashes: Vec<HashRecord>,
    /// Issue title.
    pub title: String,
    /// Issue culprit.
    pub culprit: Option<String>,
    /// Issue level.
    pub level: String,
    /// The issue's `metadata` as JSON, where its title does not give it
    /// (`grouping::metadata::issue_metadata`); `None` otherwise.
    pub metadata: Option<String>,
    /// The JSON explanation of the grouping, zstd-compressed (18 KB of
    /// JSON for a 20-frame trace, ~1 KB so); empty when not computed
    /// (a lean grouping). Read it with [`crate::store::queries::explanation_text`].
    pub explanation: Vec<u8>,
}

/// One grouping hash and what produced it.
#[derive(Debug, Clone)]
pub struct HashRecord {
    /// 32 hex digits.
    pub hash: String,
    /// Variant (`app`, `system`, `default`, `custom-fingerprint`, …).
    pub variant: String,
    /// Component that contributed (`exception`, `message`, …).
    pub component: String,
    /// The contributing values, a JSON list compressed by
    /// [`super::compress_inputs`] (so the writer stores it as it is); empty
    /// when grouping computed hashes only.
    pub inputs: Vec<u8>,
}

/// A grouping hash (32 hex digits) as a number, the compact key of the
/// caches of stored hashes; `None` for another form, which they then never
/// remember.
pub(crate) fn hash_key(hash: &str) -> Option<u128> {
    if hash.len() != 32 {
        return None;
    }
    u128::from_str_radix(hash, 16).ok()
}

/// A transaction.
#[derive(Debug, Clone)]
pub struct TransactionRecord {
    /// 32 hex digits.
    pub event_id: String,
    /// Root span's trace id.
    pub trace_id: Option<String>,
    /// Root span id.
    pub span_id: Option<String>,
    /// Root span's parent.
    pub parent_span_id: Option<String>,
    /// Transaction name.
    pub name: Option<String>,
    /// Root span op.
    pub op: Option<String>,
    /// Root span status.
    pub status: Option<String>,
    /// Start time.
    pub start: f64,
    /// End time.
    pub end: f64,
    /// Release.
    pub release: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// zstd-compressed normalised JSON.
    pub payload: Vec<u8>,
    /// Child spans (the root span is stored from the fields above).
    pub spans: Vec<SpanRecord>,
}

/// A span row.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 16 hex digits.
    pub parent_span_id: Option<String>,
    /// Operation.
    pub op: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Start time.
    pub start: f64,
    /// End time.
    pub end: Option<f64>,
}

/// An attachment.
#[derive(Debug, Clone)]
pub struct AttachmentRecord {
    /// The event it belongs to (envelope header `event_id`).
    pub event_id: Option<String>,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: Option<String>,
    /// `event.attachment`, `event.minidump`, …
    pub attachment_type: Option<String>,
    /// The bytes as sent.
    pub data: Vec<u8>,
}

/// A validated session update.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// Session id.
    pub sid: String,
    /// Distinct id.
    pub did: Option<String>,
    /// Sequence number (0 for `init`).
    pub seq: i64,
    /// First transmission.
    pub init: bool,
    /// Status.
    pub status: String,
    /// Error count.
    pub errors: i64,
    /// Start time.
    pub started: f64,
    /// Update time.
    pub timestamp: f64,
    /// Duration in seconds.
    pub duration: Option<f64>,
    /// Release (required).
    pub release: String,
    /// Environment.
    pub environment: Option<String>,
    /// ANR mechanism.
    pub abnormal_mechanism: Option<String>,
}

/// One bucket of a `sessions` item.
#[derive(Debug, Clone)]
pub struct AggregateRecord {
    /// Bucket start.
    pub started: f64,
    /// Distinct id.
    pub did: Option<String>,
    /// Counters.
    pub exited: i64,
    /// Counters.
    pub errored: i64,
    /// Counters.
    pub abnormal: i64,
    /// Counters.
    pub crashed: i64,
    /// Counters.
    pub unhandled: i64,
    /// Release (required).
    pub release: String,
    /// Environment.
    pub environment: Option<String>,
}

/// One line of a client report.
#[derive(Debug, Clone)]
pub struct ClientReportRecord {
    /// Report time.
    pub timestamp: f64,
    /// `discarded`, `rate_limited`, `filtered` or `filtered_sampling`.
    pub outcome: String,
    /// Reason.
    pub reason: String,
    /// Data category.
    pub category: String,
    /// How many.
    pub quantity: i64,
}

/// User feedback.
#[derive(Debug, Clone)]
pub struct FeedbackRecord {
    /// `feedback` or `user_report`.
    pub kind: &'static str,
    /// The feedback's own id (`feedback`) or the error's id (`user_report`).
    pub event_id: String,
    /// The error it relates to.
    pub associated_event_id: Option<String>,
    /// User name.
    pub name: Option<String>,
    /// User email.
    pub email: Option<String>,
    /// The message.
    pub message: String,
    /// zstd-compressed JSON.
    pub payload: Vec<u8>,
}

/// A whole item kept opaque.
#[derive(Debug, Clone)]
pub struct BlobRecord {
    /// Item `item_count` header.
    pub item_count: Option<i64>,
    /// Item `content_type` header.
    pub content_type: Option<String>,
    /// zstd-compressed payload.
    pub payload: Vec<u8>,
    /// What a `log` or `trace_metric` container's entries hold
    /// (`store::container_entries`); `None` for other items.
    pub summary: Option<crate::store::container_entries::Summary>,
    /// For a `log` or `trace_metric` container: the seconds its entries'
    /// times move by for the client's clock drift
    /// (`container_entries::corrected_timestamp`); `None` for none.
    pub clock_shift: Option<f64>,
}

/// A standalone `span` item (a v2 container or a legacy single span).
#[derive(Debug, Clone)]
pub struct SpanItemRecord {
    /// The item, kept whole.
    pub blob: BlobRecord,
    /// Its valid spans, for the `spans` table (`ingest::streamed_spans`).
    pub spans: Vec<StreamedSpan>,
}

/// A span that arrived on its own, not inside a transaction.
#[derive(Debug, Clone)]
pub struct StreamedSpan {
    /// The row's fields.
    pub span: SpanRecord,
    /// Whether it is the root span of its service's part of the trace.
    pub is_segment: bool,
    /// A segment's release and environment (its `sentry.release` and
    /// `sentry.environment` attributes); `None` for other spans.
    pub release: Option<String>,
    /// See `release`.
    pub environment: Option<String>,
    /// The name of its segment (its `sentry.segment.name` attribute, or a
    /// segment's own name), as a transaction's spans have their
    /// transaction's.
    pub segment_name: Option<String>,
}

/// A cron check-in: a run of a monitor, or an update of one
/// (`store::check_ins` merges updates into their run).
#[derive(Debug, Clone)]
pub struct CheckInRecord {
    /// Check-in id (32 hex digits): the one sent, or a fresh one when none
    /// (or no UUID, or the nil one) was.
    pub check_in_id: String,
    /// The SDK sent the nil id: this updates the monitor's latest run in
    /// progress in the same environment, and is a run with
    /// `check_in_id` when there is none (PROTOCOL.md A.1).
    pub update_latest: bool,
    /// Monitor slug.
    pub monitor_slug: String,
    /// `in_progress`, `ok` or `error`.
    pub status: String,
    /// Seconds.
    pub duration: Option<f64>,
    /// Release.
    pub release: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// zstd-compressed JSON.
    pub payload: Vec<u8>,
    /// What its `monitor_config` said, if it had one
    /// (`ingest::monitor_config`).
    pub monitor_config: Option<MonitorConfigUpdate>,
}

/// A check-in's `monitor_config`, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfigUpdate {
    /// The config to store, when its schedule could be read: it replaces
    /// the monitor's. `None` leaves the monitor's config as it is.
    pub config: Option<MonitorConfig>,
    /// What was wrong with it (fields left out, or why it was not taken);
    /// these replace the monitor's.
    pub problems: Vec<String>,
}

/// How long a run may stay in progress when its monitor sets no
/// `max_runtime`, in minutes (Sentry's `TIMEOUT`).
pub const DEFAULT_MAX_RUNTIME_MINUTES: i64 = 30;
/// The longest `max_runtime` and `checkin_margin`, and the longest a run
/// may stay in progress however often it reports, in minutes (28 days:
/// Sentry's `MAX_TIMEOUT` and `MAX_MARGIN`).
pub const MAX_RUNTIME_MINUTES: i64 = 40_320;

/// A cron monitor's configuration (times in minutes).
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfig {
    /// When runs are expected.
    pub schedule: Schedule,
    /// How late a run may start before it is missed.
    pub checkin_margin: Option<i64>,
    /// How long a run may stay in progress before it timed out.
    pub max_runtime: Option<i64>,
    /// The tz database name the schedule is read in.
    pub timezone: Option<String>,
    /// Failed runs in a row before an issue is opened.
    pub failure_issue_threshold: Option<i64>,
    /// Successful runs in a row before it is resolved.
    pub recovery_threshold: Option<i64>,
    /// Who owns the monitor (`user:…`, `team:…`), as sent.
    pub owner: Option<String>,
}

/// A monitor's schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// A five-field crontab, nicknames replaced.
    Crontab(String),
    /// Every `value` `unit`s (`year`, `month`, `week`, `day`, `hour`,
    /// `minute`).
    Interval {
        /// How many units.
        value: i64,
        /// The unit, singular.
        unit: String,
    },
}

/// Any other item.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// Item type.
    pub item_type: String,
    /// Envelope `event_id`.
    pub event_id: Option<String>,
    /// Item headers as JSON.
    pub headers: String,
    /// Why it was not stored typed, if it was meant to be.
    pub error: Option<String>,
    /// zstd-compressed payload.
    pub payload: Vec<u8>,
    /// What the profiles list shows of a `profile` item
    /// (`ingest::profile_head`, as JSON); none for other items.
    pub summary: Option<String>,
    /// A readable `profile_chunk`'s place (`profile_chunks`).
    pub chunk: Option<ChunkKey>,
}

/// Where a continuous profiler's chunk belongs: its session and the time
/// its samples span (Unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkKey {
    /// The profiler session.
    pub profiler_id: String,
    /// The chunk's own id: a retried chunk is stored once.
    pub chunk_id: String,
    /// Its first sample's time.
    pub start: f64,
    /// Its last sample's time.
    pub end: f64,
    /// Samples of every thread.
    pub samples: usize,
    /// `python`, `node`, …
    pub platform: Option<String>,
    /// Release.
    pub release: Option<String>,
    /// Environment.
    pub environment: Option<String>,
}

impl From<crate::ingest::chunk_head::ChunkHead> for ChunkKey {
    fn from(head: crate::ingest::chunk_head::ChunkHead) -> ChunkKey {
        ChunkKey {
            profiler_id: head.profiler_id,
            chunk_id: head.chunk_id,
            start: head.start,
            end: head.end,
            samples: head.samples,
            platform: head.platform,
            release: head.release,
            environment: head.environment,
        }
    }
}

/// What the writer did with a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// Records stored.
    pub stored: usize,
    /// Events and transactions skipped because their id was already stored,
    /// and check-ins of runs that had finished already.
    pub duplicates: usize,
    /// The issue each new event landed in.
    pub issue_ids: Vec<i64>,
    /// Issues that this batch reopened (regressions).
    pub regressed: Vec<i64>,
}
