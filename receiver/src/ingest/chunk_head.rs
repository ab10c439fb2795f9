//! What the receiver reads of a continuous profiler's chunk
//! (`profile_chunk`, sample format version 2) when it arrives: which
//! profiler session it belongs to (`profiler_id`), its own id (a retried
//! chunk is stored once), the time its samples span, and what the
//! profilers list shows. Stored beside the kept item (`profile_chunks`
//! and `raw_items.summary`), it lets a transaction find the chunks that
//! sampled it without reading every chunk. Frames and stacks are skipped
//! without being built; of the samples only the times are read.
//!
//! ```
//! use receiver::ingest::chunk_head::chunk_head_of;
//!
//! let payload = br#"{"version": "2", "platform": "python",
//!     "profiler_id": "1df1cde6b2a34c4f9c1c8e7f3a6b5d4e",
//!     "chunk_id": "D78ED40E-0000-4000-8000-000000000001",
//!     "profile": {"samples": [
//!         {"timestamp": 1795973957.5, "thread_id": "1", "stack_id": 0},
//!         {"timestamp": 1795973957.25, "thread_id": "1", "stack_id": 0}],
//!         "stacks": [[0]], "frames": [{"function": "busy"}]}}"#;
//! let head = chunk_head_of(payload).expect("a chunk");
//! assert_eq!(head.chunk_id, "d78ed40e000040008000000000000001");
//! assert_eq!((head.start, head.end, head.samples), (1795973957.25, 1795973957.5, 2));
//! assert!(chunk_head_of(br#"{"profile": {"samples": []}}"#).is_err());
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A chunk's head, as stored (JSON) in `raw_items.summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkHead {
    /// The profiler session (32 lower-case hex digits).
    pub profiler_id: String,
    /// The chunk's own id (32 lower-case hex digits).
    pub chunk_id: String,
    /// `python`, `node`, …
    pub platform: Option<String>,
    /// Release.
    pub release: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// Unix time of its first sample, in seconds.
    pub start: f64,
    /// Unix time of its last sample, in seconds.
    pub end: f64,
    /// Samples of every thread.
    pub samples: usize,
}

/// The head of a chunk, or why it is not one that can be read: not a JSON
/// object, no profiler or chunk id (32 hex digits, dashes allowed), or no
/// sample with a time.
pub fn chunk_head_of(payload: &[u8]) -> Result<ChunkHead, String> {
    // A list would fill the fields by position.
    if payload.trim_ascii_start().first() != Some(&b'{') {
        return Err("not a profile chunk: not a JSON object".to_owned());
    }
    let wire: Wire =
        serde_json::from_slice(payload).map_err(|e| format!("not a profile chunk: {e}"))?;
    let id = |v: &Option<Value>, name: &str| {
        v.as_ref()
            .and_then(Value::as_str)
            .and_then(|s| crate::ids::hex_id(s.trim(), 32))
            .ok_or_else(|| format!("the chunk has no {name} (32 hex digits)"))
    };
    let profiler_id = id(&wire.profiler_id, "profiler_id")?;
    let chunk_id = id(&wire.chunk_id, "chunk_id")?;
    let times = wire
        .profile
        .map(|p| p.samples)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| match s.timestamp? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .filter(|t: &f64| t.is_finite());
    let (mut start, mut end, mut samples) = (f64::INFINITY, f64::NEG_INFINITY, 0);
    for t in times {
        start = start.min(t);
        end = end.max(t);
        samples += 1;
    }
    if samples == 0 {
        return Err("the chunk has no sample with a timestamp".to_owned());
    }
    // An SDK sends "" for an unset release (Node) or leaves it out.
    let text = |v: Option<Value>| match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s),
        _ => None,
    };
    Ok(ChunkHead {
        profiler_id,
        chunk_id,
        platform: text(wire.platform),
        release: text(wire.release),
        environment: text(wire.environment),
        start,
        end,
        samples,
    })
}

/// The parts of a chunk [`chunk_head_of`] reads; the rest is skipped.
#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    profiler_id: Option<Value>,
    #[serde(default)]
    chunk_id: Option<Value>,
    #[serde(default)]
    platform: Option<Value>,
    #[serde(default)]
    release: Option<Value>,
    #[serde(default)]
    environment: Option<Value>,
    #[serde(default)]
    profile: Option<WireProfile>,
}

#[derive(Deserialize)]
struct WireProfile {
    #[serde(default)]
    samples: Vec<WireSample>,
}

#[derive(Deserialize)]
struct WireSample {
    #[serde(default)]
    timestamp: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_without_what_links_them_are_refused_with_a_reason() {
        let id = "1df1cde6b2a34c4f9c1c8e7f3a6b5d4e";
        let samples = r#"{"samples": [{"timestamp": "1.5"}, {"timestamp": "x"}]}"#;
        let cases = [
            (r#"[1, 2]"#.to_owned(), "not a profile chunk"),
            (
                format!(r#"{{"chunk_id": "{id}", "profile": {samples}}}"#),
                "no profiler_id",
            ),
            (
                format!(r#"{{"profiler_id": "{id}", "chunk_id": "short", "profile": {samples}}}"#),
                "no chunk_id",
            ),
            (
                format!(
                    r#"{{"profiler_id": "{id}", "chunk_id": "{id}", "profile": {{"samples": [{{}}]}}}}"#
                ),
                "no sample",
            ),
        ];
        for (payload, why) in cases {
            let err = chunk_head_of(payload.as_bytes()).unwrap_err();
            assert!(err.contains(why), "{payload}: {err}");
        }
        let payload = format!(
            r#"{{"profiler_id": "{id}", "chunk_id": "{id}", "release": "", "profile": {samples}}}"#
        );
        let head = chunk_head_of(payload.as_bytes()).expect("a chunk");
        assert_eq!((head.samples, head.start, head.release), (1, 1.5, None));
    }
}
