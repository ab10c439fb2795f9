//! Events and transactions stored as the client sent them, normalised
//! again on read.
//!
//! Serialising the normalised event back to JSON costs a worker about a
//! sixth of what ingesting an error event costs (for a 10 KB event with a
//! 20-frame stack trace: ~10 µs of ~60, plus the allocations of the
//! output). The event as the client sent it compresses just as well, and
//! normalisation is a pure function of those bytes and of a few facts about
//! the request: when it arrived, the envelope's `sent_at`, the client's
//! address (for `{{auto}}`) and the event id the event got (a random one
//! when it had none). So the receiver stores the item's bytes, compressed
//! with zstd, behind a small header with those facts, and reading the
//! payload runs the same normalisation and serialises the result: readers
//! get the JSON the eager path would have stored. Transactions (whose span
//! lists make serialising as costly) are stored the same way.
//!
//! Ingestion still parses, validates, normalises and groups the event
//! before it answers: what is refused, what is rewritten and how it groups
//! do not depend on how the payload is stored. What a reader sees follows
//! the normalisation of the receiver that reads it (a newer receiver's
//! rules apply to older events too); an event that a later receiver would
//! refuse reads back as it was sent (`crate::store::decompress`).
//!
//! ```
//! use receiver::ingest::as_received::{self, Kind};
//! use receiver::ingest::normalize::RequestContext;
//! use sentry_core::protocol::Timestamp;
//!
//! let item = br#"{"message":"hi","level":"warning","user":{"ip_address":"{{auto}}"}}"#;
//! let ctx = RequestContext {
//!     received: Timestamp::now(),
//!     sent_at: None,
//!     client_ip: Some("192.0.2.1".into()),
//! };
//! let id = uuid::Uuid::new_v4();
//!
//! let blob = as_received::encode(Kind::Event, &zstd::encode_all(&item[..], 1).unwrap(), &ctx, id);
//! assert!(as_received::is_encoded(&blob));
//! let json: serde_json::Value =
//!     serde_json::from_slice(&as_received::render(&blob).unwrap()).unwrap();
//! assert_eq!(json["level"], "warning");
//! assert_eq!(json["user"]["ip_address"], "192.0.2.1");
//! assert_eq!(json["event_id"], id.simple().to_string());
//! ```

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use sentry_core::protocol::Timestamp;

use super::normalize::{self, RequestContext};
use crate::store::dictionary;

/// The first bytes of a payload stored as received. A zstd frame starts
/// with `28 b5 2f fd`, so the two kinds of payload cannot be confused.
const MAGIC: &[u8; 4] = b"SAR1";

/// Rendering decompresses at most this much: far above any event accepted
/// with the default limits, low enough that a damaged row cannot exhaust
/// memory.
const RENDER_LIMIT: usize = 256 * 1024 * 1024;

/// Which normalisation a stored item takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An `event` item.
    #[default]
    Event,
    /// A `transaction` item.
    Transaction,
}

/// What normalisation takes besides the bytes. Times are kept as the bits
/// of their `f64`: `serde_json` reads some decimal numbers back one unit in
/// the last place off, and a receive time that moved would move every time
/// normalisation derives from it.
#[derive(Serialize, Deserialize)]
struct Header {
    #[serde(default, skip_serializing_if = "is_event")]
    kind: Kind,
    received_bits: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sent_at_bits: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_ip: Option<String>,
    event_id: Uuid,
    /// The digest of the zstd dictionary the item was compressed with
    /// ([`crate::store::dictionary`]), as 16 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex_digest")]
    dict: Option<u64>,
}

/// A dictionary digest as 16 hex digits: JSON numbers above 2^53 are not
/// safe in every reader.
mod hex_digest {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(digest: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match digest {
            Some(d) => s.serialize_str(&format!("{d:016x}")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let hex = Option::<String>::deserialize(d)?;
        hex.map(|h| u64::from_str_radix(&h, 16).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Why a stored payload could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The bytes are not a payload of this kind, or are damaged.
    #[error("damaged stored payload: {0}")]
    Damaged(String),
    /// The stored event does not pass normalisation any more (a newer
    /// receiver refuses what an older one accepted).
    #[error("the stored event does not normalise any more: {reason}")]
    Refused {
        /// Why normalisation refused it.
        reason: String,
        /// The event's JSON as the client sent it.
        sent: Vec<u8>,
    },
}

fn is_event(kind: &Kind) -> bool {
    *kind == Kind::Event
}

/// Whether `blob` is a payload stored by [`encode`].
pub fn is_encoded(blob: &[u8]) -> bool {
    blob.starts_with(MAGIC)
}

/// The payload to store for an item of `kind` whose bytes, as received and
/// compressed with zstd, are `compressed`; `ctx` is the request's context
/// and `event_id` the id normalisation gave the item.
pub fn encode(kind: Kind, compressed: &[u8], ctx: &RequestContext, event_id: Uuid) -> Vec<u8> {
    encode_with_dictionary(kind, compressed, None, ctx, event_id)
}

/// [`encode`] for bytes compressed with the dictionary of digest `dict`
/// ([`crate::store::dictionary`]; it must be registered before the payload
/// is rendered).
pub fn encode_with_dictionary(
    kind: Kind,
    compressed: &[u8],
    dict: Option<u64>,
    ctx: &RequestContext,
    event_id: Uuid,
) -> Vec<u8> {
    let header = Header {
        dict,
        kind,
        received_bits: ctx.received.as_secs_f64().to_bits(),
        sent_at_bits: ctx.sent_at.map(|t| t.as_secs_f64().to_bits()),
        client_ip: ctx.client_ip.clone(),
        event_id,
    };
    // Serialising numbers, a string and a uuid cannot fail.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let mut blob = Vec::with_capacity(MAGIC.len() + 4 + header.len() + compressed.len());
    blob.extend_from_slice(MAGIC);
    blob.extend_from_slice(&(header.len() as u32).to_le_bytes());
    blob.extend_from_slice(&header);
    blob.extend_from_slice(compressed);
    blob
}

/// The normalised JSON of a payload stored by [`encode`]: the bytes
/// the eager path would have stored for that request.
pub fn render(blob: &[u8]) -> Result<Vec<u8>, RenderError> {
    let damaged = |what: String| RenderError::Damaged(what);
    let (header, sent) = open(blob)?;
    let kind = header.kind;
    let (ctx, id) = header.context();
    let json = match kind {
        Kind::Event => normalize::event_as_read(&sent, &ctx, id).map(|e| serde_json::to_vec(&e)),
        Kind::Transaction => {
            normalize::transaction(&sent, &ctx, id).map(|t| serde_json::to_vec(&t))
        }
    };
    match json {
        Ok(json) => json.map_err(|e| damaged(e.to_string())),
        Err(e) => Err(RenderError::Refused {
            reason: e.to_string(),
            sent,
        }),
    }
}

/// The normalised event of a payload that [`encode`] stored for an `event`
/// item: the event [`render`] serialises (without the culprit it fills
/// in), for a reader that wants a few of its fields without building and
/// parsing its whole JSON. `None` when
/// `blob` is not such a payload, is damaged, or no longer passes
/// normalisation (read it with [`crate::store::decompress`] then).
pub fn render_event(blob: &[u8]) -> Option<sentry_core::protocol::Event> {
    let (header, sent) = open(blob).ok()?;
    if header.kind != Kind::Event {
        return None;
    }
    let (ctx, id) = header.context();
    // Without the culprit [`render`] fills in: its readers (the tag
    // breakdown, over thousands of events) never ask for it.
    normalize::event(&sent, &ctx, id).ok()
}

impl Header {
    /// The request facts normalisation takes, and the event id.
    fn context(self) -> (RequestContext, Option<Uuid>) {
        let ctx = RequestContext {
            received: Timestamp::from_secs_f64(f64::from_bits(self.received_bits)),
            sent_at: self
                .sent_at_bits
                .map(|bits| Timestamp::from_secs_f64(f64::from_bits(bits))),
            client_ip: self.client_ip,
        };
        (ctx, Some(self.event_id))
    }
}

/// The item's bytes exactly as the SDK sent them, of a payload stored by
/// [`encode`] (what normalisation cuts or rewrites is all there).
pub fn sent(blob: &[u8]) -> Result<Vec<u8>, RenderError> {
    open(blob).map(|(_, sent)| sent)
}

/// The header and the decompressed item of a payload stored by [`encode`].
fn open(blob: &[u8]) -> Result<(Header, Vec<u8>), RenderError> {
    let damaged = |what: String| RenderError::Damaged(what);
    let rest = blob
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| damaged("no header".into()))?;
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| damaged("truncated header".into()))?;
    let len = u32::from_le_bytes(*len) as usize;
    if rest.len() < len {
        return Err(damaged("truncated header".into()));
    }
    let (header, compressed) = rest.split_at(len);
    let header: Header = serde_json::from_slice(header).map_err(|e| damaged(e.to_string()))?;
    let sent = dictionary::decompress(compressed, header.dict, RENDER_LIMIT)
        .map_err(|e| damaged(e.to_string()))?;
    Ok((header, sent))
}

/// zstd-decompresses at most [`RENDER_LIMIT`] bytes (any stored zstd
/// payload: a damaged or hostile row cannot make a reader allocate more).
pub(crate) fn decompress_bounded(compressed: &[u8]) -> std::io::Result<Vec<u8>> {
    decompress_within(compressed, RENDER_LIMIT)
}

fn decompress_within(compressed: &[u8], limit: usize) -> std::io::Result<Vec<u8>> {
    dictionary::decompress(compressed, None, limit).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestContext {
        RequestContext {
            received: Timestamp::from_secs_f64(1_700_000_000.0),
            sent_at: None,
            client_ip: None,
        }
    }

    #[test]
    fn times_come_back_to_the_bit() {
        let mut rng = fastrand::Rng::with_seed(7);
        let compressed = zstd::encode_all(&br#"{"message":"m"}"#[..], 1).expect("zstd");
        for _ in 0..2000 {
            let received = 1.7e9 + rng.f64() * 1e8;
            let sent_at = received - rng.f64() * 1e4;
            let ctx = RequestContext {
                received: Timestamp::from_secs_f64(received),
                sent_at: Some(Timestamp::from_secs_f64(sent_at)),
                client_ip: None,
            };
            let blob = encode(Kind::Event, &compressed, &ctx, Uuid::new_v4());
            let rendered = String::from_utf8(render(&blob).expect("render")).expect("UTF-8");
            // As the eager path wrote it: the exact receive time.
            let expected = format!(r#""received":{}"#, serde_json::json!(received));
            assert!(rendered.contains(&expected), "{received}: {rendered}");
        }
    }

    #[test]
    fn decompression_stops_at_the_limit() {
        // 8 MiB of zeros compress to a few hundred bytes.
        let bomb = zstd::encode_all(&vec![0u8; 8 << 20][..], 1).expect("zstd");
        assert!(bomb.len() < 4096);
        assert!(decompress_within(&bomb, 1 << 20).is_err());
        assert_eq!(
            decompress_within(&bomb, 8 << 20).expect("fits").len(),
            8 << 20
        );
    }

    #[test]
    fn damaged_blobs_are_errors_not_panics() {
        let compressed = zstd::encode_all(&br#"{"message":"m"}"#[..], 1).expect("zstd");
        let blob = encode(Kind::Event, &compressed, &ctx(), Uuid::new_v4());
        assert!(render(&blob).is_ok());
        for cut in [0, 3, 6, 12, blob.len() - 1] {
            assert!(
                matches!(render(&blob[..cut]), Err(RenderError::Damaged(_))),
                "cut at {cut}"
            );
        }
        let not_zstd = encode(Kind::Event, b"plain bytes", &ctx(), Uuid::new_v4());
        assert!(matches!(render(&not_zstd), Err(RenderError::Damaged(_))));
    }

    #[test]
    fn an_event_that_no_longer_normalises_keeps_its_bytes() {
        let sent = br#"{"message":"m","timestamp":-100}"#;
        let compressed = zstd::encode_all(&sent[..], 1).expect("zstd");
        match render(&encode(Kind::Event, &compressed, &ctx(), Uuid::new_v4())) {
            Err(RenderError::Refused { sent: bytes, .. }) => assert_eq!(bytes, sent),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
