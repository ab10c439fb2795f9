//! Size and count limits (PROTOCOL.md §3, §11).
//!
//! The body limits are enforced while the body streams in (compressed bytes)
//! and while it is decoded (decoded bytes). The per-item limits are checked
//! after the envelope is framed and before anything is stored; any breach
//! rejects the whole request with 413, as Relay does.

use sentry_core::envelope::{Envelope, EnvelopeItem, ItemType};

use super::IngestError;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// Request and item limits. Defaults follow the recommendations of
/// PROTOCOL.md §3 (Relay's defaults for items, sentry.io's for bodies).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body as sent (compressed), default 100 MiB, as
    /// Relay's `max_envelope_size` (a 30 MB minidump sent uncompressed
    /// must fit). A larger `Content-Length` is refused before the body is
    /// read; what bodies cost in memory is bounded by
    /// `max_decoded_in_flight`.
    pub max_raw_body: u64,
    /// Largest body after decompression, default 100 MiB.
    pub max_decoded_body: u64,
    /// Largest event-class item (event, transaction, feedback, …) and largest
    /// `/store/` body, default 1 MiB.
    pub max_event_size: u64,
    /// Largest single attachment, default 100 MiB.
    pub max_attachment_size: u64,
    /// All attachments of one envelope together, default 100 MiB.
    pub max_attachments_size: u64,
    /// Attachments per envelope, default 30.
    pub max_attachment_count: usize,
    /// `session` + `sessions` items per envelope, default 100.
    pub max_session_count: usize,
    /// Client reports per envelope, default 100.
    pub max_client_report_count: usize,
    /// All client reports of one envelope together, default 100 KiB.
    pub max_client_reports_size: u64,
    /// A check-in, default 100 KiB.
    pub max_check_in_size: u64,
    /// A container (`log`, `trace_metric`, span v2), default 12 MiB.
    pub max_container_size: u64,
    /// A profile or profile chunk, default 50 MiB.
    pub max_profile_size: u64,
    /// A replay recording or video, default 10 MiB.
    pub max_replay_size: u64,
    /// Any other single item, default 10 MiB.
    pub max_other_item_size: u64,
    /// A standalone single `span` item (not a span v2 container), default
    /// 10 MiB (Relay's `max_span_size`; a span is not event-class).
    pub max_span_size: u64,
    /// Standalone single spans per envelope, default 25.
    pub max_standalone_span_count: usize,
    /// Items of any type per envelope, default 1000. The per-type counts
    /// above leave unknown types and user reports uncounted; this bounds
    /// what one request can cost however small its items are.
    pub max_item_count: usize,
    /// Decoded bodies held by all requests in flight together, default
    /// 256 MiB (at least `max_decoded_body`, so that one request of the
    /// largest size always fits). Past it, requests get a 503.
    pub max_decoded_in_flight: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_raw_body: 100 * MIB,
            max_decoded_body: 100 * MIB,
            max_event_size: MIB,
            max_attachment_size: 100 * MIB,
            max_attachments_size: 100 * MIB,
            max_attachment_count: 30,
            max_session_count: 100,
            max_client_report_count: 100,
            max_client_reports_size: 100 * KIB,
            max_check_in_size: 100 * KIB,
            max_container_size: 12 * MIB,
            max_profile_size: 50 * MIB,
            max_replay_size: 10 * MIB,
            max_other_item_size: 10 * MIB,
            max_span_size: 10 * MIB,
            max_standalone_span_count: 25,
            max_item_count: 1000,
            max_decoded_in_flight: 256 * MIB,
        }
    }
}

impl Limits {
    /// These limits with `size` as the largest envelope, sent and
    /// decompressed (`receiver serve --max-envelope-size`): attachments may
    /// be as large, and the bodies in flight together hold at least one
    /// such envelope.
    ///
    /// ```
    /// use receiver::ingest::limits::Limits;
    /// let l = Limits::default().with_envelope_size(500 << 20);
    /// assert_eq!((l.max_raw_body, l.max_attachments_size), (500 << 20, 500 << 20));
    /// assert_eq!(l.max_decoded_in_flight, 500 << 20);
    /// ```
    pub fn with_envelope_size(&self, size: u64) -> Limits {
        Limits {
            max_raw_body: size,
            max_decoded_body: size,
            max_attachment_size: size,
            max_attachments_size: size,
            max_decoded_in_flight: self.max_decoded_in_flight.max(size),
            ..self.clone()
        }
    }
}

/// Whether an item type is "event-class": at most one per envelope.
pub fn is_event_class(ty: &ItemType) -> bool {
    matches!(
        ty,
        ItemType::Event | ItemType::Transaction | ItemType::Feedback | ItemType::ReplayEvent
    ) || matches!(ty.as_str(), "security" | "raw_security" | "form_data")
}

/// Whether an item is a container (`{"items": [...]}` with `item_count`).
pub fn is_container(ty: &ItemType, content_type: Option<&str>) -> bool {
    match ty {
        ItemType::Log | ItemType::TraceMetric => true,
        ItemType::Span => content_type.is_some_and(|c| c.contains("span.v2")),
        other => matches!(other.as_str(), "otel_traces_data"),
    }
}

/// How many entries a container item holds: the length of its payload's
/// `items` list, read without building it. The `item_count` header (which
/// must match, PROTOCOL.md §2.3, but is the client's word) serves only
/// when the payload cannot be read, bounded by what its bytes could hold.
pub fn container_len(item: &EnvelopeItem) -> u64 {
    let payload = item.payload.as_raw().unwrap_or_default();
    match serde_json::from_slice::<Container>(payload) {
        Ok(c) => c.items.0,
        Err(_) => item
            .headers
            .item_count
            .unwrap_or(1)
            .min(payload.len() as u64 / 2 + 1),
    }
}

/// A container's payload, reading only how many `items` it has.
#[derive(serde::Deserialize)]
struct Container {
    #[serde(default)]
    items: Count,
}

/// The length of a JSON list, its entries skipped unread.
#[derive(Default)]
struct Count(u64);

impl<'de> serde::Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Count;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Count, A::Error> {
                let mut n = 0u64;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Count(n))
            }
        }
        d.deserialize_seq(Visitor)
    }
}

impl Limits {
    /// The size limit of one item of type `ty`.
    pub fn item_limit(&self, ty: &ItemType, content_type: Option<&str>) -> u64 {
        if is_event_class(ty) {
            return self.max_event_size;
        }
        if is_container(ty, content_type) {
            return self.max_container_size;
        }
        match ty {
            ItemType::Attachment => self.max_attachment_size,
            ItemType::CheckIn => self.max_check_in_size,
            ItemType::ClientReport => self.max_client_reports_size,
            ItemType::Profile | ItemType::ProfileChunk => self.max_profile_size,
            ItemType::ReplayRecording | ItemType::ReplayVideo => self.max_replay_size,
            ItemType::Span => self.max_span_size,
            _ => self.max_other_item_size,
        }
    }

    /// Checks every per-item and per-envelope limit. `Err` is a 413 (or a
    /// 400 for a Relay-internal `integration` item).
    pub fn check_envelope(&self, envelope: &Envelope) -> Result<(), IngestError> {
        let mut event_class = 0usize;
        let mut attachments = 0usize;
        let mut attachments_size = 0u64;
        let mut sessions = 0usize;
        let mut client_reports = 0usize;
        let mut client_reports_size = 0u64;
        let mut check_ins = 0usize;
        let mut single_spans = 0usize;
        let mut containers: Vec<&str> = Vec::new();
        // Item kinds of which an envelope may carry one (PROTOCOL.md §2.4):
        // profile-class items, replay recordings and videos, each
        // deprecated metrics type.
        let mut singles: Vec<&str> = Vec::new();

        for item in envelope.items() {
            let ty = &item.headers.ty;
            let content_type = item.headers.content_type.as_deref();
            let len = item.payload.as_raw().map_or(0, |p| p.len()) as u64;
            if ty.as_str() == "integration" {
                return Err(IngestError::BadRequest {
                    detail: "invalid item type `integration`: Relay-internal items are not \
                             accepted from clients"
                        .into(),
                });
            }
            let limit = self.item_limit(ty, content_type);
            if len > limit {
                return Err(too_large(format!(
                    "envelope exceeded size limits for type '{ty}': item is {len} bytes, \
                     the limit is {limit}"
                )));
            }
            if is_event_class(ty) {
                event_class += 1;
            }
            if is_container(ty, content_type) {
                if containers.contains(&ty.as_str()) {
                    return Err(too_large(format!(
                        "envelope contains more than one '{ty}' container"
                    )));
                }
                containers.push(ty.as_str());
                continue;
            }
            let single = match ty {
                ItemType::Profile | ItemType::ProfileChunk => Some("profile"),
                ItemType::ReplayRecording => Some("replay_recording"),
                ItemType::ReplayVideo => Some("replay_video"),
                ItemType::Statsd => Some("statsd"),
                ItemType::MetricBuckets => Some("metric_buckets"),
                other if other.as_str() == "metric_meta" => Some("metric_meta"),
                _ => None,
            };
            if let Some(kind) = single {
                if singles.contains(&kind) {
                    return Err(too_large(format!(
                        "envelope contains more than one '{kind}' item{}",
                        if kind == "profile" {
                            " (profile or profile_chunk)"
                        } else {
                            ""
                        }
                    )));
                }
                singles.push(kind);
            }
            match ty {
                ItemType::Attachment => {
                    attachments += 1;
                    attachments_size += len;
                }
                ItemType::Session | ItemType::Sessions => sessions += 1,
                ItemType::ClientReport => {
                    client_reports += 1;
                    client_reports_size += len;
                }
                ItemType::CheckIn => check_ins += 1,
                ItemType::Span => single_spans += 1,
                _ => {}
            }
        }
        let checks: [(bool, String); 7] = [
            (
                event_class > 1,
                "envelope contains more than one event-class item (event, transaction, \
                 feedback, replay_event, security)"
                    .to_owned(),
            ),
            (
                attachments > self.max_attachment_count,
                format!(
                    "envelope has {attachments} attachments, the limit is {}",
                    self.max_attachment_count
                ),
            ),
            (
                attachments_size > self.max_attachments_size,
                format!(
                    "envelope exceeded size limits for type 'attachment': {attachments_size} \
                     bytes in total, the limit is {}",
                    self.max_attachments_size
                ),
            ),
            (
                sessions > self.max_session_count,
                format!(
                    "envelope has {sessions} session items, the limit is {}",
                    self.max_session_count
                ),
            ),
            (
                client_reports > self.max_client_report_count
                    || client_reports_size > self.max_client_reports_size,
                format!(
                    "envelope has {client_reports} client reports ({client_reports_size} bytes), \
                     the limits are {} items and {} bytes",
                    self.max_client_report_count, self.max_client_reports_size
                ),
            ),
            (
                check_ins > 1,
                "envelope contains more than one check_in item".to_owned(),
            ),
            (
                single_spans > self.max_standalone_span_count,
                format!(
                    "envelope has {single_spans} standalone spans, the limit is {}",
                    self.max_standalone_span_count
                ),
            ),
        ];
        for (breached, detail) in checks {
            if breached {
                return Err(too_large(detail));
            }
        }
        Ok(())
    }
}

fn too_large(detail: String) -> IngestError {
    IngestError::TooLarge { detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(items: &[(&str, usize)]) -> Envelope {
        let mut body = b"{}\n".to_vec();
        for (ty, len) in items {
            body.extend_from_slice(format!("{{\"type\":\"{ty}\",\"length\":{len}}}\n").as_bytes());
            body.extend(std::iter::repeat_n(b'x', *len));
            body.push(b'\n');
        }
        Envelope::parse(&body).expect("valid envelope")
    }

    #[test]
    fn one_event_class_item_per_envelope() {
        let limits = Limits::default();
        assert!(limits.check_envelope(&envelope(&[("event", 2)])).is_ok());
        let err = limits
            .check_envelope(&envelope(&[("event", 2), ("transaction", 2)]))
            .unwrap_err();
        assert!(matches!(err, IngestError::TooLarge { .. }));
    }

    #[test]
    fn item_over_its_limit_is_413() {
        let limits = Limits {
            max_check_in_size: 10,
            ..Limits::default()
        };
        assert!(limits
            .check_envelope(&envelope(&[("check_in", 10)]))
            .is_ok());
        assert!(limits
            .check_envelope(&envelope(&[("check_in", 11)]))
            .is_err());
    }

    #[test]
    fn a_single_span_has_its_own_limit_above_an_events() {
        let limits = Limits {
            max_event_size: 10,
            max_span_size: 20,
            ..Limits::default()
        };
        assert!(limits.check_envelope(&envelope(&[("span", 20)])).is_ok());
        assert!(limits.check_envelope(&envelope(&[("span", 21)])).is_err());
        assert_eq!(Limits::default().max_span_size, 10 * MIB);
    }

    #[test]
    fn attachment_count_limit() {
        let limits = Limits::default();
        let many: Vec<(&str, usize)> = (0..31).map(|_| ("attachment", 1)).collect();
        assert!(limits.check_envelope(&envelope(&many[..30])).is_ok());
        assert!(limits.check_envelope(&envelope(&many)).is_err());
    }

    #[test]
    fn integration_items_are_refused() {
        let err = Limits::default()
            .check_envelope(&envelope(&[("integration", 1)]))
            .unwrap_err();
        assert!(matches!(err, IngestError::BadRequest { .. }));
    }

    #[test]
    fn one_profile_recording_video_and_metrics_item_each() {
        let limits = Limits::default();
        let ok = [
            ("profile", 2),
            ("replay_recording", 2),
            ("replay_video", 2),
            ("statsd", 2),
            ("metric_buckets", 2),
        ];
        assert!(limits.check_envelope(&envelope(&ok)).is_ok());
        for twice in [
            ["profile", "profile_chunk"],
            ["replay_recording", "replay_recording"],
            ["replay_video", "replay_video"],
            ["statsd", "statsd"],
        ] {
            let err = limits
                .check_envelope(&envelope(&[(twice[0], 1), (twice[1], 1)]))
                .unwrap_err();
            assert!(matches!(err, IngestError::TooLarge { .. }), "{twice:?}");
        }
    }

    #[test]
    fn unknown_types_pass() {
        assert!(Limits::default()
            .check_envelope(&envelope(&[("brand_new_type", 5)]))
            .is_ok());
    }
}
