//! Envelopes: the framing every modern Sentry request body uses (PROTOCOL.md §2).
//!
//! An envelope is one line of JSON headers followed by any number of items;
//! each item is one line of JSON item headers and a payload:
//!
//! ```text
//! Envelope = Header *( "\n" Item ) [ "\n" ]
//! Item     = ItemHeader "\n" Payload
//! ```
//!
//! A payload whose item header has a `length` is exactly that many bytes (it
//! may contain newlines, e.g. an attachment); without `length` it runs to the
//! next `\n`. [`Envelope::parse`] accepts every framing the official SDKs
//! produce (Python: lengths and a trailing newline; JavaScript: no lengths and
//! no trailing newline) and follows Relay's algorithm byte for byte, so what
//! it rejects Relay rejects too. [`Envelope::to_vec`] always writes `length`
//! and a trailing newline, which every receiver accepts.
//!
//! Headers the types don't name are kept in `other` maps and written back, so
//! parsing and writing an envelope loses nothing.
//!
//! ```
//! use sentry_core::envelope::{Envelope, EnvelopeItem, ItemType};
//!
//! let mut envelope = Envelope::new();
//! envelope.add_item(EnvelopeItem::raw(ItemType::Event, br#"{"message":"hi"}"#.to_vec()));
//! let bytes = envelope.to_vec()?;
//! assert_eq!(bytes, b"{}\n{\"type\":\"event\",\"length\":16}\n{\"message\":\"hi\"}\n");
//! assert_eq!(Envelope::parse(&bytes)?.items()[0].headers.ty, ItemType::Event);
//! # Ok::<(), sentry_core::envelope::EnvelopeError>(())
//! ```

use std::convert::Infallible;
use std::fmt;
use std::io::Write;
use std::str::FromStr;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::propagation::Dsc;
use crate::protocol::{
    Attachment, ClientReport, Event, Log, Metric, MonitorCheckIn, SessionAggregates, SessionUpdate,
    Transaction,
};

/// Why an envelope could not be parsed or written.
///
/// Parse errors carry the byte `offset` into the input where the problem was
/// found, and correspond one to one to the cases in which Relay answers 400.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The body is empty or only whitespace: there is no envelope header.
    #[error("missing envelope header at byte {offset}: the body is empty or only whitespace")]
    MissingHeader {
        /// Where the header was expected.
        offset: usize,
    },
    /// The envelope header is not a JSON object, or one of its known fields
    /// has the wrong shape (e.g. an `event_id` that is not a UUID).
    #[error("invalid envelope header at byte {offset}: {message}")]
    InvalidHeader {
        /// Where the JSON error was found, or where the header starts for a
        /// field that has the wrong shape.
        offset: usize,
        /// What is wrong (the JSON parser's message, or which field).
        message: String,
    },
    /// A header or a `length`-delimited payload is followed by something other
    /// than `\n` or the end of the input (`\r\n` is not a line ending).
    #[error(
        "missing newline at byte {offset}: expected `\\n` or end of input, found `{}`",
        .found.escape_ascii()
    )]
    MissingNewline {
        /// The offset of the unexpected byte.
        offset: usize,
        /// The unexpected byte.
        found: u8,
    },
    /// More input follows the last item, but it is only whitespace (e.g. a
    /// second trailing newline).
    #[error("missing item header at byte {offset}: only whitespace follows")]
    MissingItemHeader {
        /// Where the item header was expected.
        offset: usize,
    },
    /// An item header is not a JSON object, or one of its known fields has the
    /// wrong type.
    #[error("invalid item header at byte {offset}: {reason}")]
    InvalidItemHeader {
        /// Where the JSON error was found, or where the item header starts
        /// for a field that has the wrong type.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// An item header has no `type`.
    #[error("item header at byte {offset} has no `type`")]
    MissingItemType {
        /// Where the item header starts.
        offset: usize,
    },
    /// A payload's `length` runs past the end of the input.
    #[error(
        "unexpected end of input: the payload at byte {offset} has length {expected} \
         but only {available} bytes remain"
    )]
    UnexpectedEof {
        /// Where the payload starts.
        offset: usize,
        /// The `length` from the item header.
        expected: u32,
        /// How many bytes the input has from `offset` on.
        available: usize,
    },
    /// The envelope has more items than the caller's limit
    /// ([`Envelope::parse_with_item_limit`]); parsing stopped there.
    #[error("too many items: more than {limit}, the {}th starts at byte {offset}", .limit + 1)]
    TooManyItems {
        /// The limit that was passed.
        limit: usize,
        /// Where the first item over the limit starts.
        offset: usize,
    },
    /// A payload is longer than an item `length` (a `u32`) can describe.
    #[error("item {item} cannot be written: its payload is {length} bytes, more than 4 GiB")]
    PayloadTooLarge {
        /// The index of the item in the envelope.
        item: usize,
        /// The payload's length in bytes.
        length: usize,
    },
    /// Writing the envelope to an output failed.
    #[error("failed to write envelope: {0}")]
    Io(#[from] std::io::Error),
    /// Serialising a header or a typed payload failed.
    #[error("failed to serialise envelope: {0}")]
    Serialize(#[from] serde_json::Error),
}

impl EnvelopeError {
    /// The byte offset into the parsed input, for parse errors.
    pub fn offset(&self) -> Option<usize> {
        match self {
            EnvelopeError::MissingHeader { offset }
            | EnvelopeError::InvalidHeader { offset, .. }
            | EnvelopeError::MissingNewline { offset, .. }
            | EnvelopeError::MissingItemHeader { offset }
            | EnvelopeError::InvalidItemHeader { offset, .. }
            | EnvelopeError::MissingItemType { offset }
            | EnvelopeError::UnexpectedEof { offset, .. }
            | EnvelopeError::TooManyItems { offset, .. } => Some(*offset),
            EnvelopeError::PayloadTooLarge { .. }
            | EnvelopeError::Io(_)
            | EnvelopeError::Serialize(_) => None,
        }
    }
}

/// A whole envelope: headers and items.
///
/// ```
/// use sentry_core::envelope::{Envelope, EnvelopeItem, ItemType};
/// use uuid::Uuid;
///
/// let id = Uuid::new_v4();
/// let mut envelope = Envelope::with_event_id(id);
/// envelope.add_item(EnvelopeItem::raw(ItemType::Attachment, b"bytes\n".to_vec()));
/// assert_eq!(envelope.event_id(), Some(id));
/// assert_eq!(envelope.items().len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Envelope {
    /// The envelope headers (first line).
    pub headers: EnvelopeHeaders,
    /// The items, in order.
    pub items: Vec<EnvelopeItem>,
}

/// The envelope headers (PROTOCOL.md §2.2).
///
/// Serialises as the compact JSON object of the first line: `event_id` as 32
/// lowercase hex digits, then `dsn`, `sdk`, `sent_at`, `trace` and every key
/// of `other`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnvelopeHeaders {
    /// The id of the event (or transaction, feedback, ...) the envelope
    /// carries. Written as 32 lowercase hex digits; dashes and uppercase are
    /// accepted when parsing.
    pub event_id: Option<Uuid>,
    /// The full DSN, enabling envelope-header authentication.
    pub dsn: Option<String>,
    /// The SDK that sent the envelope (`{name, version, ...}`).
    pub sdk: Option<Value>,
    /// When the SDK sent the envelope (RFC 3339), kept as sent.
    pub sent_at: Option<String>,
    /// The dynamic sampling context. A `trace` that is not an object is kept
    /// in `other` instead; every key of an object is kept (see
    /// [`Dsc::from_json`]).
    pub trace: Option<Dsc>,
    /// Every other header, kept and written back.
    pub other: Map<String, Value>,
}

/// One item: its headers and its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvelopeItem {
    /// The item headers.
    pub headers: ItemHeaders,
    /// The payload.
    pub payload: ItemPayload,
}

/// The headers of one item (PROTOCOL.md §2.3).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemHeaders {
    /// The item type (required).
    pub ty: ItemType,
    /// The payload length as parsed. The writer ignores this and always
    /// writes the real payload length.
    pub length: Option<u32>,
    /// The payload's MIME type.
    pub content_type: Option<String>,
    /// The attachment's file name.
    pub filename: Option<String>,
    /// The attachment type (`event.attachment`, `event.minidump`, ...).
    pub attachment_type: Option<String>,
    /// The number of entries in a container item (`log`, `trace_metric`, `span`).
    pub item_count: Option<u64>,
    /// The platform (required on `profile_chunk`).
    pub platform: Option<String>,
    /// Every other header, kept and written back.
    pub other: Map<String, Value>,
}

/// The payload of an item.
///
/// Access the bytes through [`ItemPayload::write_payload`] (which also works
/// for payloads that are serialised only when the envelope is written) or
/// [`ItemPayload::as_raw`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ItemPayload {
    /// Bytes, exactly as they are framed.
    Raw(Vec<u8>),
    /// An event, serialised when the envelope is written (so capturing does
    /// not pay for JSON encoding on the application thread).
    Event(Box<Event>),
    /// A transaction, serialised when written.
    Transaction(Box<Transaction>),
    /// A session update, serialised when written.
    Session(Box<SessionUpdate>),
    /// Session aggregates, serialised when written.
    Sessions(Box<SessionAggregates>),
    /// A client report, serialised when written.
    ClientReport(Box<ClientReport>),
}

macro_rules! item_types {
    ($($(#[$doc:meta])* $var:ident = $wire:literal => $category:literal,)*) => {
        /// An item type (PROTOCOL.md §2.4). Unknown types are kept as
        /// [`ItemType::Other`] so they can be forwarded or skipped.
        ///
        /// ```
        /// use sentry_core::envelope::ItemType;
        ///
        /// let ty: ItemType = "client_report".parse().unwrap();
        /// assert_eq!(ty, ItemType::ClientReport);
        /// assert_eq!(ty.data_category(), "internal");
        /// assert_eq!(ItemType::from("nel"), ItemType::Other("nel".into()));
        /// ```
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ItemType {
            $($(#[$doc])* $var,)*
            /// Any other type, by its wire name. Parsing never produces this
            /// for one of the known names.
            Other(String),
        }

        impl ItemType {
            /// The wire name (the item header's `type`).
            pub fn as_str(&self) -> &str {
                match self {
                    $(ItemType::$var => $wire,)*
                    ItemType::Other(name) => name,
                }
            }

            /// The rate-limit / client-report data category the item counts
            /// toward, as the SDKs name it (PROTOCOL.md §2.4): `event` →
            /// `"error"`, `client_report` → `"internal"`, `user_report` →
            /// `"default"`, `check_in` → `"monitor"`, `log` → `"log_item"`, ...
            /// and `"unknown"` for other types.
            pub fn data_category(&self) -> &'static str {
                match self {
                    $(ItemType::$var => $category,)*
                    ItemType::Other(_) => "unknown",
                }
            }
        }

        impl From<&str> for ItemType {
            fn from(name: &str) -> Self {
                match name {
                    $($wire => ItemType::$var,)*
                    other => ItemType::Other(other.to_owned()),
                }
            }
        }
    };
}

item_types! {
    /// An error or message event.
    Event = "event" => "error",
    /// A transaction with its spans.
    Transaction = "transaction" => "transaction",
    /// An attachment (raw bytes).
    Attachment = "attachment" => "attachment",
    /// One session update.
    Session = "session" => "session",
    /// Pre-aggregated sessions.
    Sessions = "sessions" => "session",
    /// A client report (what the SDK dropped).
    ClientReport = "client_report" => "internal",
    /// A legacy user report.
    UserReport = "user_report" => "default",
    /// User feedback (an event with `contexts.feedback`).
    Feedback = "feedback" => "feedback",
    /// A cron monitor check-in.
    CheckIn = "check_in" => "monitor",
    /// A container of log entries.
    Log = "log" => "log_item",
    /// A span container or a single span.
    Span = "span" => "span",
    /// A transaction profile.
    Profile = "profile" => "profile",
    /// A continuous profiling chunk.
    ProfileChunk = "profile_chunk" => "profile_chunk",
    /// Replay metadata.
    ReplayEvent = "replay_event" => "replay",
    /// A replay recording.
    ReplayRecording = "replay_recording" => "replay",
    /// A replay video.
    ReplayVideo = "replay_video" => "replay",
    /// Deprecated statsd metrics.
    Statsd = "statsd" => "metric_bucket",
    /// Deprecated metric buckets.
    MetricBuckets = "metric_buckets" => "metric_bucket",
    /// A container of trace metrics.
    TraceMetric = "trace_metric" => "trace_metric",
}

impl FromStr for ItemType {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(ItemType::from(s))
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ItemType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ItemType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(ItemType::from(
            std::borrow::Cow::<str>::deserialize(deserializer)?.as_ref(),
        ))
    }
}

impl Envelope {
    /// An envelope with empty headers and no items.
    pub fn new() -> Self {
        Self::default()
    }

    /// An envelope whose header `event_id` is `event_id`.
    pub fn with_event_id(event_id: Uuid) -> Self {
        Envelope {
            headers: EnvelopeHeaders {
                event_id: Some(event_id),
                ..EnvelopeHeaders::default()
            },
            items: Vec::new(),
        }
    }

    /// Appends an item.
    pub fn add_item(&mut self, item: EnvelopeItem) {
        self.items.push(item);
    }

    /// The items, in order.
    pub fn items(&self) -> &[EnvelopeItem] {
        &self.items
    }

    /// Keeps the items for which `keep` returns `true`, in order (a
    /// receiver enforcing rate limits drops the others).
    ///
    /// ```
    /// use sentry_core::envelope::{Envelope, EnvelopeItem, ItemType};
    ///
    /// let mut envelope = Envelope::new();
    /// envelope.add_item(EnvelopeItem::raw(ItemType::Event, b"{}".to_vec()));
    /// envelope.add_item(EnvelopeItem::raw(ItemType::ClientReport, b"{}".to_vec()));
    /// envelope.retain_items(|item| item.headers.ty != ItemType::Event);
    /// assert_eq!(envelope.items().len(), 1);
    /// assert_eq!(envelope.items()[0].headers.ty, ItemType::ClientReport);
    /// ```
    pub fn retain_items(&mut self, keep: impl FnMut(&EnvelopeItem) -> bool) {
        self.items.retain(keep);
    }

    /// The envelope header `event_id`.
    pub fn event_id(&self) -> Option<Uuid> {
        self.headers.event_id
    }

    /// Parses an envelope, exactly as Relay does (PROTOCOL.md §2.1).
    ///
    /// Headers must be JSON objects followed by `\n` or the end of the input
    /// (`\r\n` is an error). An item with a `length` takes exactly that many
    /// bytes, which must be followed by `\n` or the end; an item without one
    /// runs to the next `\n` (a `\r` before it stays in the payload). The
    /// trailing newline is optional, an item header at the end of the input
    /// has an empty payload, and zero items are fine.
    ///
    /// ```
    /// use sentry_core::envelope::{Envelope, ItemType};
    ///
    /// // JavaScript-style framing: no `length`, no trailing newline.
    /// let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
    ///              {\"type\":\"event\"}\n{\"message\":\"hello\"}";
    /// let envelope = Envelope::parse(body)?;
    /// assert_eq!(
    ///     envelope.event_id().map(|id| id.simple().to_string()).as_deref(),
    ///     Some("9ec79c33ec9942ab8353589fcb2e04dc"),
    /// );
    /// let item = &envelope.items()[0];
    /// assert_eq!(item.headers.ty, ItemType::Event);
    /// assert_eq!(item.payload.as_raw(), Some(&b"{\"message\":\"hello\"}"[..]));
    ///
    /// // `\r\n` is not a line ending.
    /// let err = Envelope::parse(b"{}\r\n").unwrap_err();
    /// assert_eq!(err.offset(), Some(2));
    /// # Ok::<(), sentry_core::envelope::EnvelopeError>(())
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        Envelope::parse_with_item_limit(bytes, usize::MAX)
    }

    /// [`Envelope::parse`] that stops with [`EnvelopeError::TooManyItems`]
    /// at the first item past `max_items`, before reading it: a receiver
    /// bounds the memory and time one request can cost, however many
    /// small items its body packs.
    ///
    /// ```
    /// use sentry_core::envelope::{Envelope, EnvelopeError};
    ///
    /// let body = b"{}\n{\"type\":\"x\"}\n\n{\"type\":\"x\"}\n\n";
    /// assert_eq!(Envelope::parse_with_item_limit(body, 2)?.items().len(), 2);
    /// let err = Envelope::parse_with_item_limit(body, 1).unwrap_err();
    /// assert!(matches!(err, EnvelopeError::TooManyItems { limit: 1, offset: 17 }));
    /// # Ok::<(), EnvelopeError>(())
    /// ```
    pub fn parse_with_item_limit(
        bytes: &[u8],
        max_items: usize,
    ) -> Result<Envelope, EnvelopeError> {
        let (header, mut offset) = match parse_header_line(bytes, 0) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Err(EnvelopeError::MissingHeader { offset: 0 }),
            Err(HeaderLineError::Json { offset, message }) => {
                return Err(EnvelopeError::InvalidHeader { offset, message })
            }
            Err(HeaderLineError::Newline { offset, found }) => {
                return Err(EnvelopeError::MissingNewline { offset, found })
            }
        };
        let headers = EnvelopeHeaders::from_map(header.map, header.start)?;

        let mut items = Vec::new();
        while offset < bytes.len() {
            if items.len() == max_items {
                return Err(EnvelopeError::TooManyItems {
                    limit: max_items,
                    offset,
                });
            }
            let (item, next) = parse_item(bytes, offset)?;
            items.push(item);
            offset = next;
        }
        Ok(Envelope { headers, items })
    }

    /// Writes the envelope into a new buffer: the header line, then for each
    /// item its header line (with `length` set to the payload's byte length),
    /// the payload and `\n`. Headers are compact JSON.
    ///
    /// ```
    /// use sentry_core::envelope::{Envelope, EnvelopeItem, ItemType};
    /// use uuid::Uuid;
    ///
    /// let id = Uuid::parse_str("9ec79c33-ec99-42ab-8353-589fcb2e04dc").unwrap();
    /// let mut envelope = Envelope::with_event_id(id);
    /// let mut item = EnvelopeItem::raw(ItemType::Attachment, b"a\nb".to_vec());
    /// item.headers.filename = Some("a.txt".into());
    /// envelope.add_item(item);
    /// assert_eq!(
    ///     envelope.to_vec()?,
    ///     b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
    ///       {\"type\":\"attachment\",\"length\":3,\"filename\":\"a.txt\"}\na\nb\n",
    /// );
    /// # Ok::<(), sentry_core::envelope::EnvelopeError>(())
    /// ```
    pub fn to_vec(&self) -> Result<Vec<u8>, EnvelopeError> {
        let mut out = Vec::with_capacity(self.size_hint());
        self.write_into(&mut out)?;
        Ok(out)
    }

    /// Writes the envelope (as [`Envelope::to_vec`] frames it) to `w` in one
    /// `write_all` call.
    pub fn write_to(&self, w: &mut impl Write) -> Result<(), EnvelopeError> {
        w.write_all(&self.to_vec()?)?;
        Ok(())
    }

    /// Roughly how many bytes the written envelope takes.
    fn size_hint(&self) -> usize {
        self.items.iter().fold(256, |acc, item| {
            acc + 96 + item.payload.as_raw().map_or(256, <[u8]>::len)
        })
    }

    fn write_into(&self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        serde_json::to_writer(&mut *out, &self.headers)?;
        out.push(b'\n');
        let mut scratch = Vec::new();
        for (index, item) in self.items.iter().enumerate() {
            let too_large = |length: usize| EnvelopeError::PayloadTooLarge {
                item: index,
                length,
            };
            if let Some(raw) = item.payload.as_raw() {
                let length = u32::try_from(raw.len()).map_err(|_| too_large(raw.len()))?;
                item.headers.write_line(out, length)?;
                item.payload.write_payload(out)?;
            } else {
                // A payload serialised on demand: its length is known only
                // after serialising it.
                scratch.clear();
                item.payload.write_payload(&mut scratch)?;
                let length = u32::try_from(scratch.len()).map_err(|_| too_large(scratch.len()))?;
                item.headers.write_line(out, length)?;
                out.extend_from_slice(&scratch);
            }
            out.push(b'\n');
        }
        Ok(())
    }
}

impl EnvelopeItem {
    /// An item with only a `type` header and the given payload bytes.
    ///
    /// ```
    /// use sentry_core::envelope::{EnvelopeItem, ItemType};
    ///
    /// let item = EnvelopeItem::raw(ItemType::Session, br#"{"status":"ok"}"#.to_vec());
    /// assert_eq!(item.headers.ty.as_str(), "session");
    /// ```
    pub fn raw(ty: ItemType, payload: Vec<u8>) -> Self {
        EnvelopeItem {
            headers: ItemHeaders::new(ty),
            payload: ItemPayload::Raw(payload),
        }
    }

    fn typed(ty: ItemType, payload: ItemPayload) -> Self {
        EnvelopeItem {
            headers: ItemHeaders::new(ty),
            payload,
        }
    }

    /// An `event` item.
    ///
    /// ```
    /// use sentry_core::envelope::{Envelope, EnvelopeItem};
    /// use sentry_core::protocol::Event;
    /// let mut env = Envelope::new();
    /// env.add_item(EnvelopeItem::event(Event::default()));
    /// let parsed = Envelope::parse(&env.to_vec().unwrap()).unwrap();
    /// assert_eq!(parsed.items[0].headers.ty.as_str(), "event");
    /// ```
    pub fn event(event: Event) -> Self {
        Self::boxed_event(Box::new(event))
    }

    /// An `event` item from an event already on the heap.
    pub fn boxed_event(event: Box<Event>) -> Self {
        Self::typed(ItemType::Event, ItemPayload::Event(event))
    }

    /// A `transaction` item.
    pub fn transaction(transaction: Transaction) -> Self {
        Self::typed(
            ItemType::Transaction,
            ItemPayload::Transaction(Box::new(transaction)),
        )
    }

    /// A `session` item.
    pub fn session(session: SessionUpdate) -> Self {
        Self::typed(ItemType::Session, ItemPayload::Session(Box::new(session)))
    }

    /// A `sessions` (aggregates) item.
    pub fn sessions(sessions: SessionAggregates) -> Self {
        Self::typed(
            ItemType::Sessions,
            ItemPayload::Sessions(Box::new(sessions)),
        )
    }

    /// A `client_report` item.
    pub fn client_report(report: ClientReport) -> Self {
        Self::typed(
            ItemType::ClientReport,
            ItemPayload::ClientReport(Box::new(report)),
        )
    }

    /// A `check_in` item. Check-ins are serialised at once (they are rare
    /// and small).
    ///
    /// ```
    /// use sentry_core::envelope::EnvelopeItem;
    /// use sentry_core::protocol::{CheckInStatus, MonitorCheckIn};
    /// let item = EnvelopeItem::check_in(&MonitorCheckIn::new("job", CheckInStatus::Ok)).unwrap();
    /// assert_eq!(item.headers.ty.as_str(), "check_in");
    /// ```
    pub fn check_in(check_in: &MonitorCheckIn) -> Result<Self, EnvelopeError> {
        Ok(Self::raw(ItemType::CheckIn, serde_json::to_vec(check_in)?))
    }

    /// A `log` item: a container of log lines (PROTOCOL.md A.2), with its
    /// `item_count` and content type.
    ///
    /// ```
    /// use sentry_core::envelope::EnvelopeItem;
    /// use sentry_core::protocol::{Log, LogLevel};
    /// let item = EnvelopeItem::logs(&[Log::new(LogLevel::Info, "started")]).unwrap();
    /// assert_eq!((item.headers.ty.as_str(), item.headers.item_count), ("log", Some(1)));
    /// ```
    pub fn logs(logs: &[Log]) -> Result<Self, EnvelopeError> {
        #[derive(serde::Serialize)]
        struct Container<'a> {
            items: &'a [Log],
        }
        let mut item = Self::raw(
            ItemType::Log,
            serde_json::to_vec(&Container { items: logs })?,
        );
        item.headers.item_count = Some(logs.len() as u64);
        item.headers.content_type = Some("application/vnd.sentry.items.log+json".to_owned());
        Ok(item)
    }

    /// A `trace_metric` item holding `metrics` (a container: `item_count`
    /// and the items content type in its headers).
    ///
    /// ```
    /// use sentry_core::envelope::EnvelopeItem;
    /// use sentry_core::protocol::{Metric, MetricType};
    /// let item = EnvelopeItem::trace_metrics(&[Metric::new(MetricType::Counter, "jobs", 1.0)]).unwrap();
    /// assert_eq!((item.headers.ty.as_str(), item.headers.item_count), ("trace_metric", Some(1)));
    /// ```
    pub fn trace_metrics(metrics: &[Metric]) -> Result<Self, EnvelopeError> {
        #[derive(serde::Serialize)]
        struct Container<'a> {
            items: &'a [Metric],
        }
        let mut item = Self::raw(
            ItemType::TraceMetric,
            serde_json::to_vec(&Container { items: metrics })?,
        );
        item.headers.item_count = Some(metrics.len() as u64);
        item.headers.content_type =
            Some("application/vnd.sentry.items.trace-metric+json".to_owned());
        Ok(item)
    }

    /// An `attachment` item with the attachment's file name, content type
    /// and attachment type as headers.
    pub fn attachment(attachment: &Attachment) -> Self {
        let mut item = Self::raw(ItemType::Attachment, attachment.data.clone());
        item.headers.filename = Some(attachment.filename.clone());
        item.headers.content_type = attachment.content_type.clone();
        item.headers.attachment_type = attachment.attachment_type.clone();
        item
    }
}

impl ItemHeaders {
    /// Headers with only a `type`.
    pub fn new(ty: ItemType) -> Self {
        ItemHeaders {
            ty,
            length: None,
            content_type: None,
            filename: None,
            attachment_type: None,
            item_count: None,
            platform: None,
            other: Map::new(),
        }
    }

    /// Writes the header line (JSON, then `\n`) with `length` set.
    fn write_line(&self, out: &mut Vec<u8>, length: u32) -> Result<(), EnvelopeError> {
        serde_json::to_writer(
            &mut *out,
            &ItemHeadersWire {
                headers: self,
                length: Some(length),
            },
        )?;
        out.push(b'\n');
        Ok(())
    }
}

impl ItemPayload {
    /// Appends the payload bytes, exactly as they are framed, to `out`.
    pub fn write_payload(&self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        match self {
            ItemPayload::Raw(bytes) => out.extend_from_slice(bytes),
            ItemPayload::Event(e) => serde_json::to_writer(&mut *out, e)?,
            ItemPayload::Transaction(t) => serde_json::to_writer(&mut *out, t)?,
            ItemPayload::Session(s) => serde_json::to_writer(&mut *out, s)?,
            ItemPayload::Sessions(s) => serde_json::to_writer(&mut *out, s)?,
            ItemPayload::ClientReport(r) => serde_json::to_writer(&mut *out, r)?,
        }
        Ok(())
    }

    /// The bytes, if the payload is [`ItemPayload::Raw`].
    pub fn as_raw(&self) -> Option<&[u8]> {
        match self {
            ItemPayload::Raw(bytes) => Some(bytes),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Serialisation of headers.

impl Serialize for EnvelopeHeaders {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(id) = &self.event_id {
            let mut buf = [0u8; 32];
            map.serialize_entry("event_id", id.simple().encode_lower(&mut buf))?;
        }
        if let Some(dsn) = &self.dsn {
            map.serialize_entry("dsn", dsn)?;
        }
        if let Some(sdk) = &self.sdk {
            map.serialize_entry("sdk", sdk)?;
        }
        if let Some(sent_at) = &self.sent_at {
            map.serialize_entry("sent_at", sent_at)?;
        }
        if let Some(trace) = &self.trace {
            map.serialize_entry("trace", trace)?;
        }
        for (key, value) in &self.other {
            let shadowed = match key.as_str() {
                "event_id" => self.event_id.is_some(),
                "dsn" => self.dsn.is_some(),
                "sdk" => self.sdk.is_some(),
                "sent_at" => self.sent_at.is_some(),
                "trace" => self.trace.is_some(),
                _ => false,
            };
            if !shadowed {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

impl Serialize for ItemHeaders {
    /// Serialises the headers with `length` as parsed (the envelope writer
    /// replaces it with the real payload length).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ItemHeadersWire {
            headers: self,
            length: self.length,
        }
        .serialize(serializer)
    }
}

/// Item headers with an overridden `length`.
struct ItemHeadersWire<'a> {
    headers: &'a ItemHeaders,
    length: Option<u32>,
}

impl Serialize for ItemHeadersWire<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let h = self.headers;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", h.ty.as_str())?;
        if let Some(length) = self.length {
            map.serialize_entry("length", &length)?;
        }
        let strings = [
            ("content_type", &h.content_type),
            ("filename", &h.filename),
            ("attachment_type", &h.attachment_type),
        ];
        for (key, value) in strings {
            if let Some(value) = value {
                map.serialize_entry(key, value)?;
            }
        }
        if let Some(count) = h.item_count {
            map.serialize_entry("item_count", &count)?;
        }
        if let Some(platform) = &h.platform {
            map.serialize_entry("platform", platform)?;
        }
        for (key, value) in &h.other {
            let shadowed = match key.as_str() {
                "type" | "length" => true,
                "content_type" => h.content_type.is_some(),
                "filename" => h.filename.is_some(),
                "attachment_type" => h.attachment_type.is_some(),
                "item_count" => h.item_count.is_some(),
                "platform" => h.platform.is_some(),
                _ => false,
            };
            if !shadowed {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

// ---------------------------------------------------------------------------
// Parsing.

/// A JSON header object and where it starts (after leading whitespace).
struct HeaderLine {
    map: Map<String, Value>,
    start: usize,
}

/// Header fields this parser reads by name: one of them given twice is an
/// error (Relay's typed headers refuse a duplicate field), since a second
/// `length` or `type` would make this parser cut or read the body unlike
/// another one. Other keys keep their last value, as in Relay's map.
const NAMED_HEADER_FIELDS: &[&str] = &[
    "event_id",
    "dsn",
    "sent_at",
    "sdk",
    "trace",
    "type",
    "length",
    "content_type",
    "filename",
    "attachment_type",
    "item_count",
    "platform",
];

/// A header line's JSON object, refusing a named field given twice.
struct HeaderObject(Map<String, Value>);

impl<'de> Deserialize<'de> for HeaderObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = HeaderObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<HeaderObject, A::Error> {
                let mut map = Map::new();
                while let Some((key, value)) = access.next_entry::<String, Value>()? {
                    if let Some(duplicate) = NAMED_HEADER_FIELDS
                        .iter()
                        .find(|name| **name == key && map.contains_key(key.as_str()))
                    {
                        return Err(serde::de::Error::custom(format!(
                            "duplicate field `{duplicate}`"
                        )));
                    }
                    map.insert(key, value);
                }
                Ok(HeaderObject(map))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

enum HeaderLineError {
    Json { offset: usize, message: String },
    Newline { offset: usize, found: u8 },
}

/// Parses one JSON object starting at `offset` (leading whitespace is
/// skipped, as a streaming JSON reader does). It must be followed by `\n` or
/// the end of the input. Returns the object and the offset after the `\n`
/// (which may be `bytes.len() + 1` when the input ends right after the JSON),
/// or `None` if only whitespace remains.
fn parse_header_line(
    bytes: &[u8],
    offset: usize,
) -> Result<Option<(HeaderLine, usize)>, HeaderLineError> {
    let slice = &bytes[offset..];
    let mut stream = serde_json::Deserializer::from_slice(slice).into_iter::<HeaderObject>();
    let map = match stream.next() {
        None => return Ok(None),
        Some(Ok(HeaderObject(map))) => map,
        Some(Err(err)) => {
            return Err(HeaderLineError::Json {
                offset: offset + json_error_index(slice, &err),
                message: json_error_message(&err),
            })
        }
    };
    let end = offset + stream.byte_offset();
    let start = offset
        + slice
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .unwrap_or(0);
    match bytes.get(end) {
        None | Some(b'\n') => Ok(Some((HeaderLine { map, start }, end + 1))),
        Some(&found) => Err(HeaderLineError::Newline { offset: end, found }),
    }
}

/// Parses the item starting at `offset` (`offset < bytes.len()`); returns it
/// and the offset of the next item.
fn parse_item(bytes: &[u8], offset: usize) -> Result<(EnvelopeItem, usize), EnvelopeError> {
    let (header, payload_start) = match parse_header_line(bytes, offset) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => return Err(EnvelopeError::MissingItemHeader { offset }),
        Err(HeaderLineError::Json { offset, message }) => {
            return Err(EnvelopeError::InvalidItemHeader {
                offset,
                reason: message,
            })
        }
        Err(HeaderLineError::Newline { offset, found }) => {
            return Err(EnvelopeError::MissingNewline { offset, found })
        }
    };
    let headers = ItemHeaders::from_map(header.map, header.start)?;

    // The last header needs no newline, so the payload may start past the end.
    let payload_start = payload_start.min(bytes.len());
    let rest = &bytes[payload_start..];
    let payload_end = match headers.length {
        Some(length) => {
            let Some(payload) = rest.get(..length as usize) else {
                return Err(EnvelopeError::UnexpectedEof {
                    offset: payload_start,
                    expected: length,
                    available: rest.len(),
                });
            };
            let end = payload_start + payload.len();
            match bytes.get(end) {
                None | Some(b'\n') => end,
                Some(&found) => return Err(EnvelopeError::MissingNewline { offset: end, found }),
            }
        }
        None => rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| payload_start + i),
    };
    let payload = ItemPayload::Raw(bytes[payload_start..payload_end].to_vec());
    Ok((EnvelopeItem { headers, payload }, payload_end + 1))
}

/// The index into `slice` a `serde_json` error points at.
fn json_error_index(slice: &[u8], err: &serde_json::Error) -> usize {
    if err.line() == 0 {
        return 0;
    }
    // serde_json counts lines from 1 and columns in bytes from the start of
    // the line.
    let line_start = if err.line() == 1 {
        0
    } else {
        slice
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(err.line() - 2)
            .map_or(slice.len(), |(i, _)| i + 1)
    };
    // The position is one past the offending byte (columns are 1-based).
    (line_start + err.column())
        .saturating_sub(1)
        .min(slice.len())
}

/// The `serde_json` error message without its "at line L column C" suffix
/// (the error's byte offset replaces it).
fn json_error_message(err: &serde_json::Error) -> String {
    let message = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match message.strip_suffix(&suffix) {
        Some(stripped) => stripped.to_owned(),
        None => message,
    }
}

/// A short description of a JSON value's type, for error messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl EnvelopeHeaders {
    fn from_map(mut map: Map<String, Value>, offset: usize) -> Result<Self, EnvelopeError> {
        let invalid = |message: String| EnvelopeError::InvalidHeader { offset, message };
        let string = |map: &mut Map<String, Value>, key: &str| match map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(invalid(format!(
                "`{key}` must be a string, found {}",
                json_kind(&other)
            ))),
        };

        let event_id = match string(&mut map, "event_id")? {
            None => None,
            Some(id) => Some(Uuid::try_parse(&id).map_err(|_| {
                invalid(format!(
                    "`event_id` {id:?} is not a UUID (expected 32 hex digits, dashes allowed)"
                ))
            })?),
        };
        let dsn = string(&mut map, "dsn")?;
        let sent_at = string(&mut map, "sent_at")?;
        let sdk = match map.remove("sdk") {
            None | Some(Value::Null) => None,
            Some(sdk) => Some(sdk),
        };
        // Relay ignores an unparseable `trace`; keep it verbatim in `other`.
        let trace = match map.remove("trace") {
            None | Some(Value::Null) => None,
            Some(Value::Object(trace)) => Some(Dsc::from_json(trace)),
            Some(other) => {
                map.insert("trace".to_owned(), other);
                None
            }
        };
        Ok(EnvelopeHeaders {
            event_id,
            dsn,
            sdk,
            sent_at,
            trace,
            other: map,
        })
    }
}

impl ItemHeaders {
    fn from_map(mut map: Map<String, Value>, offset: usize) -> Result<Self, EnvelopeError> {
        let invalid = |reason: String| EnvelopeError::InvalidItemHeader { offset, reason };
        let string = |map: &mut Map<String, Value>, key: &str| match map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(invalid(format!(
                "`{key}` must be a string, found {}",
                json_kind(&other)
            ))),
        };
        let integer = |map: &mut Map<String, Value>, key: &str, max: u64| match map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => match value.as_u64().filter(|n| *n <= max) {
                Some(n) => Ok(Some(n)),
                None => Err(invalid(format!(
                    "`{key}` must be an integer between 0 and {max}, found {value}"
                ))),
            },
        };

        let ty = match string(&mut map, "type")? {
            Some(ty) => ItemType::from(ty.as_str()),
            None => return Err(EnvelopeError::MissingItemType { offset }),
        };
        let length = integer(&mut map, "length", u32::MAX.into())?
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        let item_count = integer(&mut map, "item_count", u32::MAX.into())?;
        Ok(ItemHeaders {
            ty,
            length,
            content_type: string(&mut map, "content_type")?,
            filename: string(&mut map, "filename")?,
            attachment_type: string(&mut map, "attachment_type")?,
            item_count,
            platform: string(&mut map, "platform")?,
            other: map,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT_ID: &str = "9ec79c33ec9942ab8353589fcb2e04dc";

    fn parse(bytes: &[u8]) -> Envelope {
        match Envelope::parse(bytes) {
            Ok(envelope) => envelope,
            Err(err) => panic!(
                "{:?} did not parse: {err}",
                bytes.escape_ascii().to_string()
            ),
        }
    }

    fn parse_err(bytes: &[u8]) -> EnvelopeError {
        match Envelope::parse(bytes) {
            Ok(envelope) => panic!("{bytes:?} parsed: {envelope:?}"),
            Err(err) => err,
        }
    }

    fn payload(item: &EnvelopeItem) -> &[u8] {
        item.payload.as_raw().expect("raw payload")
    }

    fn event_id() -> Uuid {
        Uuid::try_parse(EVENT_ID).expect("valid uuid")
    }

    #[test]
    fn a_named_header_field_given_twice_is_refused() {
        for bytes in [
            &b"{}\n{\"type\":\"attachment\",\"length\":1,\"length\":3}\nabc\n"[..],
            b"{}\n{\"type\":\"attachment\",\"type\":\"event\"}\n{}\n",
            b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dd\"}\n",
        ] {
            let err = parse_err(bytes);
            assert!(err.to_string().contains("duplicate field"), "{err}");
        }
        // Other keys keep their last value.
        let envelope = parse(b"{\"x\":1,\"x\":2}\n{\"type\":\"event\",\"y\":1,\"y\":2}\n{}\n");
        assert_eq!(envelope.headers.other["x"], 2);
    }

    // --- PROTOCOL.md Appendix A.4 -----------------------------------------

    #[test]
    fn appendix_event_with_length_and_trailing_newline() {
        let envelope = parse(
            b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"sent_at\":\"2024-01-01T00:00:00.000Z\"}\n\
              {\"type\":\"event\",\"length\":41}\n\
              {\"message\":\"hello world\",\"level\":\"error\"}\n",
        );
        assert_eq!(envelope.event_id(), Some(event_id()));
        assert_eq!(
            envelope.headers.sent_at.as_deref(),
            Some("2024-01-01T00:00:00.000Z")
        );
        assert_eq!(envelope.items.len(), 1);
        assert_eq!(envelope.items[0].headers.ty, ItemType::Event);
        assert_eq!(envelope.items[0].headers.length, Some(41));
        assert_eq!(
            payload(&envelope.items[0]),
            b"{\"message\":\"hello world\",\"level\":\"error\"}"
        );
    }

    #[test]
    fn appendix_session_without_length_or_trailing_newline() {
        let envelope = parse(
            b"{}\n{\"type\":\"session\"}\n\
              {\"started\":\"2020-02-07T14:16:00Z\",\"attrs\":{\"release\":\"sentry-test@1.0.0\"}}",
        );
        assert_eq!(envelope.headers, EnvelopeHeaders::default());
        assert_eq!(envelope.items.len(), 1);
        assert_eq!(envelope.items[0].headers.ty, ItemType::Session);
        assert_eq!(envelope.items[0].headers.length, None);
        assert_eq!(
            payload(&envelope.items[0]),
            b"{\"started\":\"2020-02-07T14:16:00Z\",\"attrs\":{\"release\":\"sentry-test@1.0.0\"}}"
        );
    }

    #[test]
    fn appendix_attachment_length_counts_bom_and_crlf() {
        let envelope = parse(
            b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
              {\"type\":\"attachment\",\"length\":10,\"content_type\":\"text/plain\",\"filename\":\"hello.txt\"}\n\
              \xef\xbb\xbfHello\r\n\n",
        );
        let item = &envelope.items[0];
        assert_eq!(item.headers.ty, ItemType::Attachment);
        assert_eq!(item.headers.content_type.as_deref(), Some("text/plain"));
        assert_eq!(item.headers.filename.as_deref(), Some("hello.txt"));
        assert_eq!(payload(item), b"\xef\xbb\xbfHello\r\n");
        assert_eq!(envelope.items.len(), 1);
    }

    #[test]
    fn appendix_javascript_style() {
        let envelope = parse(
            b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"sent_at\":\"2024-01-01T00:00:00.000Z\",\
              \"sdk\":{\"name\":\"sentry.javascript.node\",\"version\":\"9.0.0\"}}\n\
              {\"type\":\"event\"}\n{\"message\":\"x\"}",
        );
        assert_eq!(
            envelope.headers.sdk,
            Some(serde_json::json!({"name":"sentry.javascript.node","version":"9.0.0"}))
        );
        assert_eq!(payload(&envelope.items[0]), b"{\"message\":\"x\"}");
    }

    // --- framing rules ----------------------------------------------------

    #[test]
    fn empty_header_and_zero_items_are_valid() {
        assert_eq!(parse(b"{}"), Envelope::new());
        assert_eq!(parse(b"{}\n"), Envelope::new());
    }

    #[test]
    fn whitespace_inside_header_json_is_tolerated() {
        let envelope = parse(b"  {\n \"event_id\" : \"9ec79c33ec9942ab8353589fcb2e04dc\"\n}\n");
        assert_eq!(envelope.event_id(), Some(event_id()));
        assert!(envelope.items.is_empty());
    }

    #[test]
    fn item_header_at_eof_has_empty_payload() {
        for body in [
            &b"{}\n{\"type\":\"attachment\"}"[..],
            b"{}\n{\"type\":\"attachment\"}\n",
            b"{}\n{\"type\":\"attachment\",\"length\":0}",
            b"{}\n{\"type\":\"attachment\",\"length\":0}\n",
            b"{}\n{\"type\":\"attachment\",\"length\":0}\n\n",
        ] {
            let envelope = parse(body);
            assert_eq!(envelope.items.len(), 1, "{body:?}");
            assert_eq!(payload(&envelope.items[0]), b"", "{body:?}");
        }
    }

    #[test]
    fn payload_without_length_runs_to_next_newline_and_keeps_cr() {
        let envelope =
            parse(b"{}\n{\"type\":\"event\"}\n{\"a\":1}\r\n{\"type\":\"session\"}\n{}\n");
        assert_eq!(envelope.items.len(), 2);
        assert_eq!(payload(&envelope.items[0]), b"{\"a\":1}\r");
        assert_eq!(envelope.items[1].headers.ty, ItemType::Session);
        assert_eq!(payload(&envelope.items[1]), b"{}");
    }

    #[test]
    fn payload_with_length_may_contain_newlines_and_binary() {
        let bytes = b"\n\x00\xff\r\n\x1f\x8b";
        let mut body = b"{}\n{\"type\":\"replay_recording\",\"length\":7}\n".to_vec();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\n{\"type\":\"event\"}\n{}");
        let envelope = parse(&body);
        assert_eq!(envelope.items.len(), 2);
        assert_eq!(payload(&envelope.items[0]), bytes);
        assert_eq!(payload(&envelope.items[1]), b"{}");
    }

    #[test]
    fn mixed_items_with_and_without_length() {
        let envelope = parse(
            b"{}\n{\"type\":\"event\",\"length\":2}\n{}\n{\"type\":\"attachment\",\"length\":3}\na\nb\n\
              {\"type\":\"client_report\"}\n{\"x\":1}",
        );
        let types: Vec<_> = envelope
            .items
            .iter()
            .map(|i| i.headers.ty.clone())
            .collect();
        assert_eq!(
            types,
            [
                ItemType::Event,
                ItemType::Attachment,
                ItemType::ClientReport
            ]
        );
        assert_eq!(payload(&envelope.items[1]), b"a\nb");
        assert_eq!(payload(&envelope.items[2]), b"{\"x\":1}");
    }

    #[test]
    fn blank_lines_before_an_item_header_are_skipped_like_relay() {
        // The streaming JSON reader skips leading whitespace, newlines included.
        let envelope = parse(b"{}\n{\"type\":\"event\"}\n{}\n\n{\"type\":\"event\"}\n{}");
        assert_eq!(envelope.items.len(), 2);
    }

    #[test]
    fn unknown_headers_and_item_types_are_kept() {
        let envelope = parse(
            b"{\"origin\":\"x\",\"trace\":\"bad\"}\n{\"type\":\"nel\",\"meta_length\":3,\"item_count\":2,\"platform\":\"js\"}\n{}",
        );
        assert_eq!(envelope.headers.other["origin"], "x");
        assert_eq!(envelope.headers.trace, None);
        assert_eq!(envelope.headers.other["trace"], "bad");
        let headers = &envelope.items[0].headers;
        assert_eq!(headers.ty, ItemType::Other("nel".into()));
        assert_eq!(headers.ty.data_category(), "unknown");
        assert_eq!(headers.other["meta_length"], 3);
        assert_eq!(headers.item_count, Some(2));
        // Relay's `item_count` is a u32: more is an invalid header.
        let err = parse_err(b"{}\n{\"type\":\"log\",\"item_count\":5000000000}\n{}\n");
        assert!(
            matches!(err, EnvelopeError::InvalidItemHeader { .. }),
            "{err:?}"
        );
        assert_eq!(headers.platform.as_deref(), Some("js"));
    }

    #[test]
    fn event_id_tolerates_dashes_and_uppercase() {
        let envelope = parse(b"{\"event_id\":\"9EC79C33-EC99-42AB-8353-589FCB2E04DC\"}");
        assert_eq!(envelope.event_id(), Some(event_id()));
        assert_eq!(
            envelope.to_vec().unwrap(),
            b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n"
        );
    }

    #[test]
    fn null_known_headers_count_as_absent() {
        let envelope =
            parse(b"{\"event_id\":null,\"sdk\":null}\n{\"type\":\"event\",\"length\":null}\n{}");
        assert_eq!(envelope.headers, EnvelopeHeaders::default());
        assert_eq!(envelope.items[0].headers.length, None);
    }

    // --- CRLF ---------------------------------------------------------------

    #[test]
    fn crlf_after_envelope_header_is_an_error() {
        let err = parse_err(b"{}\r\n{\"type\":\"event\"}\n{}");
        assert!(
            matches!(
                err,
                EnvelopeError::MissingNewline {
                    offset: 2,
                    found: b'\r'
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "missing newline at byte 2: expected `\\n` or end of input, found `\\r`"
        );
    }

    #[test]
    fn crlf_after_item_header_is_an_error() {
        let err = parse_err(b"{}\n{\"type\":\"event\"}\r\n{}");
        assert!(
            matches!(
                err,
                EnvelopeError::MissingNewline {
                    offset: 19,
                    found: b'\r'
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn crlf_after_length_delimited_payload_is_an_error() {
        let err = parse_err(b"{}\n{\"type\":\"event\",\"length\":2}\n{}\r\n");
        assert!(
            matches!(
                err,
                EnvelopeError::MissingNewline {
                    offset: 33,
                    found: b'\r'
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn crlf_after_payload_without_length_keeps_cr_in_payload() {
        let envelope = parse(b"{}\n{\"type\":\"event\"}\n{}\r\n");
        assert_eq!(payload(&envelope.items[0]), b"{}\r");
    }

    // --- errors -------------------------------------------------------------

    #[test]
    fn empty_or_whitespace_body_is_missing_header() {
        assert!(matches!(
            parse_err(b""),
            EnvelopeError::MissingHeader { offset: 0 }
        ));
        assert!(matches!(
            parse_err(b" \n "),
            EnvelopeError::MissingHeader { offset: 0 }
        ));
    }

    #[test]
    fn space_after_header_is_missing_newline() {
        let err = parse_err(b"{} \n");
        assert!(
            matches!(
                err,
                EnvelopeError::MissingNewline {
                    offset: 2,
                    found: b' '
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn malformed_header_json_points_at_the_error() {
        let err = parse_err(b"{\"a\":}\n");
        match err {
            EnvelopeError::InvalidHeader {
                offset,
                ref message,
            } => {
                assert_eq!(offset, 5);
                assert_eq!(message, "expected value");
            }
            other => panic!("{other:?}"),
        }
        // Positions on later lines of a multi-line header are absolute too.
        let err = parse_err(b"{\n\"a\":\n }");
        assert!(
            matches!(err, EnvelopeError::InvalidHeader { offset: 8, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn non_object_header_is_invalid() {
        let err = parse_err(b"[1]\n");
        assert!(
            matches!(err, EnvelopeError::InvalidHeader { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("expected a map"), "{err}");
    }

    #[test]
    fn invalid_event_id_is_an_error_with_offset() {
        let err = parse_err(b"  {\"event_id\":\"not-a-uuid\"}\n");
        match &err {
            EnvelopeError::InvalidHeader { offset, message } => {
                assert_eq!(*offset, 2);
                assert!(message.contains("not-a-uuid"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let err = parse_err(b"{\"event_id\":42}");
        assert!(
            matches!(err, EnvelopeError::InvalidHeader { offset: 0, .. }),
            "{err:?}"
        );
        let err = parse_err(b"{\"dsn\":42}");
        assert!(
            matches!(err, EnvelopeError::InvalidHeader { offset: 0, .. }),
            "{err:?}"
        );
        let err = parse_err(b"{\"sent_at\":1.5}");
        assert!(
            matches!(err, EnvelopeError::InvalidHeader { offset: 0, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn item_without_type_is_an_error() {
        let err = parse_err(b"{}\n{\"length\":2}\n{}");
        assert!(
            matches!(err, EnvelopeError::MissingItemType { offset: 3 }),
            "{err:?}"
        );
        let err = parse_err(b"{}\n{\"type\":null}\n{}");
        assert!(
            matches!(err, EnvelopeError::MissingItemType { offset: 3 }),
            "{err:?}"
        );
    }

    #[test]
    fn item_header_with_wrong_types_is_invalid() {
        for (body, needle) in [
            (&b"{}\n{\"type\":1}\n"[..], "`type` must be a string"),
            (b"{}\n{\"type\":\"event\",\"length\":-1}\n", "`length`"),
            (b"{}\n{\"type\":\"event\",\"length\":\"2\"}\n", "`length`"),
            (b"{}\n{\"type\":\"event\",\"length\":1.0}\n", "`length`"),
            (
                b"{}\n{\"type\":\"event\",\"length\":4294967296}\n",
                "`length`",
            ),
            (
                b"{}\n{\"type\":\"attachment\",\"filename\":7}\n",
                "`filename`",
            ),
            (
                b"{}\n{\"type\":\"log\",\"item_count\":\"2\"}\n",
                "`item_count`",
            ),
        ] {
            match Envelope::parse(body) {
                Err(EnvelopeError::InvalidItemHeader { offset: 3, reason }) => {
                    assert!(reason.contains(needle), "{reason}")
                }
                other => panic!("{body:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_item_header_json_points_at_the_error() {
        let err = parse_err(b"{}\n{\"type\":}\n");
        assert!(
            matches!(err, EnvelopeError::InvalidItemHeader { offset: 11, .. }),
            "{err:?}"
        );
        let err = parse_err(b"{}\n{\"type\":\"event\"}\n{}\ngarbage");
        assert!(
            matches!(err, EnvelopeError::InvalidItemHeader { offset: 23, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn length_past_the_end_is_unexpected_eof() {
        let err = parse_err(b"{}\n{\"type\":\"attachment\",\"length\":10}\nabc");
        assert!(
            matches!(
                err,
                EnvelopeError::UnexpectedEof {
                    offset: 37,
                    expected: 10,
                    available: 3
                }
            ),
            "{err:?}"
        );
        let err = parse_err(b"{}\n{\"type\":\"attachment\",\"length\":1}");
        assert!(
            matches!(
                err,
                EnvelopeError::UnexpectedEof {
                    offset: 35,
                    expected: 1,
                    available: 0
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn byte_after_length_delimited_payload_must_be_newline() {
        let err = parse_err(b"{}\n{\"type\":\"attachment\",\"length\":2}\nabc\n");
        assert!(
            matches!(
                err,
                EnvelopeError::MissingNewline {
                    offset: 38,
                    found: b'c'
                }
            ),
            "{err:?}"
        );
        let err = parse_err(b"{}\n{\"type\":\"attachment\",\"length\":3}\nabc \n");
        assert!(
            matches!(
                err,
                EnvelopeError::MissingNewline {
                    offset: 39,
                    found: b' '
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn second_trailing_newline_is_a_missing_item_header() {
        let err = parse_err(b"{}\n{\"type\":\"event\"}\n{}\n\n");
        assert!(
            matches!(err, EnvelopeError::MissingItemHeader { offset: 23 }),
            "{err:?}"
        );
        let err = parse_err(b"{}\n\n");
        assert!(
            matches!(err, EnvelopeError::MissingItemHeader { offset: 3 }),
            "{err:?}"
        );
    }

    #[test]
    fn every_parse_error_reports_its_offset() {
        let err = parse_err(b"{}\n{\"type\":\"event\"}\r\n");
        assert_eq!(err.offset(), Some(19));
        assert!(err.to_string().contains("byte 19"), "{err}");
        let err = EnvelopeError::Io(std::io::Error::other("x"));
        assert_eq!(err.offset(), None);
    }

    // --- writing ------------------------------------------------------------

    #[test]
    fn empty_envelope_writes_empty_header_line() {
        assert_eq!(Envelope::new().to_vec().unwrap(), b"{}\n");
    }

    #[test]
    fn writer_recomputes_length_and_writes_every_header() {
        let mut envelope = Envelope::with_event_id(event_id());
        envelope.headers.dsn = Some("https://k@h/1".into());
        envelope.headers.sent_at = Some("2024-01-01T00:00:00Z".into());
        envelope
            .headers
            .other
            .insert("origin".into(), Value::from("o"));
        let mut item = EnvelopeItem::raw(ItemType::Log, b"{\"items\":[]}".to_vec());
        item.headers.length = Some(999);
        item.headers.item_count = Some(0);
        item.headers.content_type = Some("application/vnd.sentry.items.log+json".into());
        item.headers.other.insert("type".into(), Value::from("dup"));
        item.headers.other.insert("length".into(), Value::from(1));
        item.headers.other.insert("x".into(), Value::from(true));
        envelope.add_item(item);
        let bytes = envelope.to_vec().unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"https://k@h/1\",\
             \"sent_at\":\"2024-01-01T00:00:00Z\",\"origin\":\"o\"}\n\
             {\"type\":\"log\",\"length\":12,\"content_type\":\"application/vnd.sentry.items.log+json\",\
             \"item_count\":0,\"x\":true}\n\
             {\"items\":[]}\n"
        );
        let mut written = Vec::new();
        envelope.write_to(&mut written).unwrap();
        assert_eq!(written, bytes);
    }

    #[test]
    fn written_envelope_parses_back_equal() {
        let mut envelope = parse(
            b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"trace\":{\"trace_id\":\"a\"},\"x\":[1]}\n\
              {\"type\":\"event\"}\n{\"message\":\"m\"}\n\
              {\"type\":\"attachment\",\"length\":3,\"filename\":\"f\",\"attachment_type\":\"event.minidump\"}\na\rb\n\
              {\"type\":\"trace\",\"weird\":{\"k\":null}}\n",
        );
        let back = parse(&envelope.to_vec().unwrap());
        assert_eq!(back.items[0].headers.length, Some(15));
        envelope.items[0].headers.length = Some(15);
        envelope.items[2].headers.length = Some(0);
        assert_eq!(back, envelope);
    }

    #[test]
    fn non_object_trace_is_written_back_verbatim() {
        let envelope = parse(b"{\"trace\":[1,2]}");
        assert_eq!(envelope.to_vec().unwrap(), b"{\"trace\":[1,2]}\n");
    }

    // --- item types -------------------------------------------------------

    #[test]
    fn item_type_wire_names_and_categories() {
        let table = [
            (ItemType::Event, "event", "error"),
            (ItemType::Transaction, "transaction", "transaction"),
            (ItemType::Attachment, "attachment", "attachment"),
            (ItemType::Session, "session", "session"),
            (ItemType::Sessions, "sessions", "session"),
            (ItemType::ClientReport, "client_report", "internal"),
            (ItemType::UserReport, "user_report", "default"),
            (ItemType::Feedback, "feedback", "feedback"),
            (ItemType::CheckIn, "check_in", "monitor"),
            (ItemType::Log, "log", "log_item"),
            (ItemType::Span, "span", "span"),
            (ItemType::Profile, "profile", "profile"),
            (ItemType::ProfileChunk, "profile_chunk", "profile_chunk"),
            (ItemType::ReplayEvent, "replay_event", "replay"),
            (ItemType::ReplayRecording, "replay_recording", "replay"),
            (ItemType::ReplayVideo, "replay_video", "replay"),
            (ItemType::Statsd, "statsd", "metric_bucket"),
            (ItemType::MetricBuckets, "metric_buckets", "metric_bucket"),
            (ItemType::TraceMetric, "trace_metric", "trace_metric"),
            (ItemType::Other("otel_log".into()), "otel_log", "unknown"),
        ];
        for (ty, wire, category) in table {
            assert_eq!(ty.as_str(), wire);
            assert_eq!(ty.to_string(), wire);
            assert_eq!(wire.parse::<ItemType>(), Ok(ty.clone()));
            assert_eq!(ty.data_category(), category, "{wire}");
            let json = serde_json::to_string(&ty).unwrap();
            assert_eq!(json, format!("\"{wire}\""));
            assert_eq!(serde_json::from_str::<ItemType>(&json).unwrap(), ty);
        }
        // Wire names are case-sensitive, like Relay's.
        assert_eq!(ItemType::from("Event"), ItemType::Other("Event".into()));
    }
}
