//! Serde types for the Sentry wire format (PROTOCOL.md §5–§8).
//!
//! These are plain data. Deserialisation is lenient exactly where the official
//! SDKs differ (timestamps as numbers or RFC 3339, lists bare or wrapped in
//! `values`, tags as objects or pairs), and every field without a typed slot
//! is kept in an `other` map and written back, so a round trip through these
//! types loses nothing an SDK sent.

mod breadcrumb;
mod client_report;
mod contexts;
mod event;
mod exception;
mod ids;
pub mod lenient;
mod level;
mod log;
mod metric;
mod misc;
mod opt_map;
mod sdk;
mod session;
mod span;
mod stacktrace;
mod timestamp;
mod unit;
mod user;

pub use breadcrumb::Breadcrumb;
pub use client_report::{ClientReport, DataCategory, DiscardReason, DiscardedEvent};
pub use contexts::{
    AppContext, BrowserContext, Context, Contexts, DeviceContext, OsContext, RuntimeContext,
    TraceContext,
};
pub use event::{Event, LogEntry};
pub use exception::{Exception, Mechanism};
pub(crate) use ids::new_uuid;
pub use ids::{uuid_simple, InvalidId, SpanId, TraceId};
pub use lenient::{Map, Values};
pub use level::{Level, UnknownLevel};
pub use log::{Log, LogAttribute, LogLevel};
pub use metric::{Metric, MetricType};
/// The official crate's names: `protocol::Value` (JSON values of data,
/// extra and contexts) and `protocol::MonitorCheckInStatus`.
pub use misc::CheckInStatus as MonitorCheckInStatus;
pub use misc::{
    Attachment, CheckInStatus, MonitorCheckIn, MonitorConfig, MonitorIntervalUnit, MonitorSchedule,
    UserReport,
};
pub use opt_map::{EmptyMap, OptMap};
pub use sdk::{ClientSdkInfo, ClientSdkPackage};
pub use serde_json::Value;
pub use session::{
    SessionAggregateItem, SessionAggregates, SessionAttributes, SessionStatus, SessionUpdate,
};
pub use span::{Span, SpanStatus, Transaction, TransactionInfo, UnknownSpanStatus};
pub use stacktrace::{reading_frame_context, Frame, FrameContext, Stacktrace, Thread, ThreadId};
pub use timestamp::Timestamp;
pub use unit::Unit;
pub use user::{Request, User};
