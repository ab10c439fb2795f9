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

/// The longest a chunk's samples may span, in seconds (Relay's limit; the
/// SDKs cut a chunk every 60 s).
pub const MAX_CHUNK_SECS: f64 = 66.0;

/// The earliest and latest sample time taken as Unix seconds (2000, 2100):
/// milliseconds or a broken clock would make a chunk cover every
/// transaction of its profiler.
const EARLIEST: f64 = 946_684_800.0;
const LATEST: f64 = 4_102_444_800.0;

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
    let Times {
        start,
        end,
        count: samples,
    } = wire.profile.map(|p| p.samples).unwrap_or_default();
    if samples == 0 {
        return Err("the chunk has no sample with a timestamp".to_owned());
    }
    // Relay's checks, which also bound how far back a transaction's
    // lookup must reach: Unix seconds, and at most 66 s of them.
    if !(EARLIEST..=LATEST).contains(&start) || !(EARLIEST..=LATEST).contains(&end) {
        return Err(format!(
            "the chunk's sample timestamps ({start} to {end}) are not Unix seconds between \
             2000 and 2100"
        ));
    }
    if end - start > MAX_CHUNK_SECS {
        return Err(format!(
            "the chunk's samples span {:.1} s, over the {MAX_CHUNK_SECS} s a chunk may",
            end - start
        ));
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
    samples: Times,
}

/// The first and last time of a chunk's samples and how many have one
/// (finite, as a number or decimal text), read one sample at a time
/// without keeping them: a chunk may hold a million.
struct Times {
    start: f64,
    end: f64,
    count: usize,
}

impl Default for Times {
    fn default() -> Times {
        Times {
            start: f64::INFINITY,
            end: f64::NEG_INFINITY,
            count: 0,
        }
    }
}

#[derive(Deserialize)]
struct WireSample {
    #[serde(default)]
    timestamp: Option<Value>,
}

impl<'de> Deserialize<'de> for Times {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Times, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Times;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of samples")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Times, A::Error> {
                let mut times = Times::default();
                while let Some(sample) = seq.next_element::<Option<WireSample>>()? {
                    let t = match sample.and_then(|s| s.timestamp) {
                        Some(Value::Number(n)) => n.as_f64(),
                        Some(Value::String(s)) => s.trim().parse().ok(),
                        _ => None,
                    };
                    if let Some(t) = t.filter(|t| t.is_finite()) {
                        times.start = times.start.min(t);
                        times.end = times.end.max(t);
                        times.count += 1;
                    }
                }
                Ok(times)
            }
        }
        d.deserialize_seq(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_without_what_links_them_are_refused_with_a_reason() {
        let id = "1df1cde6b2a34c4f9c1c8e7f3a6b5d4e";
        let samples = r#"{"samples": [{"timestamp": "1800000000.5"}, {"timestamp": "x"}]}"#;
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
        assert_eq!(
            (head.samples, head.start, head.release),
            (1, 1_800_000_000.5, None)
        );
    }

    #[test]
    fn chunks_with_times_that_are_no_unix_seconds_or_too_long_are_refused() {
        let id = "1df1cde6b2a34c4f9c1c8e7f3a6b5d4e";
        let chunk = |times: &str| {
            format!(
                r#"{{"profiler_id": "{id}", "chunk_id": "{id}", "profile": {{"samples": [{times}]}}}}"#
            )
        };
        for (times, why) in [
            (
                r#"{"timestamp": -1e300}, {"timestamp": 1e300}"#,
                "not Unix seconds",
            ),
            (r#"{"timestamp": 1795973957250}"#, "not Unix seconds"),
            (
                r#"{"timestamp": 1800000000}, {"timestamp": 1800000070}"#,
                "span 70.0 s",
            ),
        ] {
            let err = chunk_head_of(chunk(times).as_bytes()).unwrap_err();
            assert!(err.contains(why), "{times}: {err}");
        }
        let head = chunk_head_of(
            chunk(r#"{"timestamp": 1800000060}, null, {"timestamp": 1800000000}"#).as_bytes(),
        )
        .expect("a chunk");
        assert_eq!(
            (head.start, head.end, head.samples),
            (1_800_000_000.0, 1_800_000_060.0, 2)
        );
    }
}
