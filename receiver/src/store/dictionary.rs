//! A zstd dictionary trained on the database's own events.
//!
//! An event is 5–10 KB of JSON, and most of it repeats from one event to
//! the next: the keys, the SDK and runtime contexts, the stack frames of the
//! same code, the breadcrumb categories. Plain zstd cannot use that (each
//! payload is compressed alone), so a 9.5 KB test event shrinks only to
//! ~1.6 KB (6:1). With a 32 KiB dictionary trained on a few hundred earlier
//! events of the same application it shrinks to ~0.5 KB (16–19:1), and
//! compressing it is faster too (~12 → ~7 µs): the dictionary's tables are
//! built once, not per payload. Smaller rows mean fewer WAL pages per event
//! for the writer and a database about half the size.
//!
//! How it works:
//!
//! 1. Until a database has a dictionary, ingestion offers the bytes of each
//!    event and transaction item to the store (`Trainer::offer`); the
//!    first [`StoreConfig::dictionary_samples`](crate::config::StoreConfig)
//!    (default 300) are kept, at most [`SAMPLES_MAX_BYTES`] in all.
//! 2. A thread trains the dictionary from them (~70 ms for 300 samples)
//!    and hands it to the writer, which stores it in `compression_dicts`.
//! 3. Only after that commit is it registered for reading ([`register`])
//!    and used for new payloads, so no stored payload ever names a
//!    dictionary the database does not hold. A payload stored as received
//!    names its dictionary by [`Dictionary::digest`] (`ingest::as_received`).
//! 4. Opening a database registers every dictionary it holds and compresses
//!    with the newest one.
//!
//! Readers find dictionaries in a process-wide registry keyed by digest (a
//! reader decompresses without a store at hand), so several databases open
//! in one process never mix theirs up.
//!
//! ```
//! use receiver::store::dictionary::{self, Dictionary};
//!
//! let samples: Vec<Vec<u8>> = (0..200)
//!     .map(|i| format!(r#"{{"level":"error","message":"failed {i}","platform":"python"}}"#).into_bytes())
//!     .collect();
//! let dict = dictionary::train(&samples).unwrap();
//! dictionary::register(&dict);
//! let compressed = dictionary::compress(b"{\"level\":\"error\"}", 3, Some(&dict)).unwrap();
//! let back = dictionary::decompress(&compressed, Some(dict.digest()), 1 << 20).unwrap();
//! assert_eq!(back, b"{\"level\":\"error\"}");
//! ```

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use md5::{Digest, Md5};
use parking_lot::{Mutex, RwLock};
use zstd::dict::DecoderDictionary;

/// The most a trained dictionary holds.
pub const DICTIONARY_MAX: usize = 32 * 1024;

/// Payloads larger than this are compressed without the dictionary: they
/// carry enough repetition of their own, and above ~16 KiB compressing
/// with it was slower and no smaller (26 KB: 26 µs and 1 605 bytes with
/// it, 20 µs and 1 455 bytes without).
pub const DICTIONARY_INPUT_MAX: usize = 16 * 1024;

/// The most sample bytes kept while collecting (300 samples of at most
/// [`DICTIONARY_INPUT_MAX`] fit; typical 10 KB events take 3 MiB).
pub const SAMPLES_MAX_BYTES: usize = 5 * 1024 * 1024;

/// Payloads up to this size are compressed with a per-thread zstd context
/// (creating one, and loading a dictionary into it, costs more than
/// compressing a small event); larger ones get a fresh context, so a thread
/// never keeps big tables.
const REUSED_CONTEXT_MAX: usize = 128 * 1024;

/// A trained dictionary.
pub struct Dictionary {
    digest: u64,
    bytes: Vec<u8>,
}

impl PartialEq for Dictionary {
    fn eq(&self, other: &Dictionary) -> bool {
        self.digest == other.digest && self.bytes == other.bytes
    }
}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dictionary")
            .field("digest", &format_args!("{:016x}", self.digest))
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl Dictionary {
    /// Wraps the bytes of a zstd dictionary.
    pub fn new(bytes: Vec<u8>) -> Dictionary {
        let hash = Md5::digest(&bytes);
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash[..8]);
        Dictionary {
            digest: u64::from_be_bytes(first),
            bytes,
        }
    }

    /// What names it in a stored payload: the first 64 bits of the MD5 of
    /// its bytes.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The dictionary as zstd reads it.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// How a payload is compressed: the zstd level and, once the database has
/// one, the dictionary.
#[derive(Debug, Clone, Default)]
pub struct PayloadCodec {
    /// zstd level.
    pub level: i32,
    /// The dictionary to compress with.
    pub dictionary: Option<Arc<Dictionary>>,
}

impl PayloadCodec {
    /// zstd at `level`, without a dictionary.
    pub fn plain(level: i32) -> PayloadCodec {
        PayloadCodec {
            level,
            dictionary: None,
        }
    }

    /// Compresses an event's or transaction's payload: with the dictionary
    /// up to [`DICTIONARY_INPUT_MAX`] bytes, without above. Returns the
    /// bytes and the digest of the dictionary used, if any.
    pub fn compress(&self, data: &[u8]) -> Result<(Vec<u8>, Option<u64>), DictionaryError> {
        let dict = self
            .dictionary
            .as_deref()
            .filter(|_| data.len() <= DICTIONARY_INPUT_MAX);
        Ok((
            compress(data, self.level, dict)?,
            dict.map(Dictionary::digest),
        ))
    }
}

/// Why training or using a dictionary failed.
#[derive(Debug, thiserror::Error)]
pub enum DictionaryError {
    /// zstd could not train one from these samples.
    #[error("could not train a compression dictionary: {0}")]
    Training(std::io::Error),
    /// A payload names a dictionary this process has not registered.
    #[error("unknown compression dictionary {0:016x}")]
    Unknown(u64),
    /// Compressing or decompressing failed.
    #[error("zstd: {0}")]
    Zstd(#[from] std::io::Error),
    /// A payload decompresses to more than the caller allows.
    #[error("stored payload is too large")]
    TooLarge,
}

/// Trains a dictionary of at most [`DICTIONARY_MAX`] bytes from `samples`.
pub fn train(samples: &[Vec<u8>]) -> Result<Dictionary, DictionaryError> {
    let total: usize = samples.iter().map(Vec::len).sum();
    // zstd wants about ten times the dictionary's size in samples; with
    // fewer, a smaller dictionary is all they can fill.
    let capacity = (total / 10).clamp(1024, DICTIONARY_MAX);
    let bytes = zstd::dict::from_samples(samples, capacity).map_err(DictionaryError::Training)?;
    Ok(Dictionary::new(bytes))
}

/// A dictionary prepared for the streaming decoder, and its bytes (which
/// a reused context loads: [`decompress_reusing`]).
type Decoders = HashMap<u64, (Arc<DecoderDictionary<'static>>, Arc<[u8]>)>;

/// Every dictionary this process can decompress with, by digest.
static DECODERS: LazyLock<RwLock<Decoders>> = LazyLock::new(|| RwLock::new(HashMap::new()));

/// Makes payloads compressed with `dict` readable in this process.
pub fn register(dict: &Dictionary) {
    let mut decoders = DECODERS.write();
    decoders.entry(dict.digest).or_insert_with(|| {
        (
            Arc::new(DecoderDictionary::copy(&dict.bytes)),
            Arc::from(&dict.bytes[..]),
        )
    });
}

fn decoder(digest: u64) -> Option<Arc<DecoderDictionary<'static>>> {
    DECODERS
        .read()
        .get(&digest)
        .map(|(prepared, _)| prepared.clone())
}

fn bytes_of(digest: u64) -> Option<Arc<[u8]>> {
    DECODERS.read().get(&digest).map(|(_, bytes)| bytes.clone())
}

/// A thread's reusable zstd context: its level and dictionary digest.
type Slot = Option<(i32, Option<u64>, zstd::bulk::Compressor<'static>)>;

thread_local! {
    // Two slots, so that a thread compressing both event payloads (with the
    // dictionary) and other items (without) does not rebuild a context for
    // every switch.
    static PLAIN: std::cell::RefCell<Slot> = const { std::cell::RefCell::new(None) };
    static WITH_DICTIONARY: std::cell::RefCell<Slot> = const { std::cell::RefCell::new(None) };
}

/// Compresses `data` with zstd at `level`, with `dictionary` if given.
pub fn compress(
    data: &[u8],
    level: i32,
    dictionary: Option<&Dictionary>,
) -> Result<Vec<u8>, DictionaryError> {
    let fresh = || match dictionary {
        Some(d) => zstd::bulk::Compressor::with_dictionary(level, &d.bytes),
        None => zstd::bulk::Compressor::new(level),
    };
    if data.len() > REUSED_CONTEXT_MAX {
        return Ok(fresh()?.compress(data)?);
    }
    let digest = dictionary.map(|d| d.digest);
    let reusable = || match dictionary {
        Some(d) => small_input_compressor(level, d),
        None => zstd::bulk::Compressor::new(level),
    };
    let slot = if digest.is_some() {
        &WITH_DICTIONARY
    } else {
        &PLAIN
    };
    slot.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return Ok(fresh()?.compress(data)?);
        };
        if !matches!(&*slot, Some((l, d, _)) if *l == level && *d == digest) {
            *slot = Some((level, digest, reusable()?));
        }
        match slot.as_mut() {
            Some((_, _, compressor)) => Ok(compressor.compress(data)?),
            None => Ok(fresh()?.compress(data)?),
        }
    })
}

/// A context for payloads up to [`REUSED_CONTEXT_MAX`] with `dict`.
///
/// zstd sizes the tables it builds from a dictionary for an input of
/// unknown size: at level 3, ~1 MiB of hash tables that every compression
/// of a 10 KB event probes at random. Beside a server's other work those
/// probes miss the cache: in the server, compressing took ~15 % of a
/// worker's time instead of the 6.5 µs measured alone. Tables sized for
/// these inputs (4 Ki entries each, a 128 KiB window that covers the
/// dictionary and the payload) stay in cache and compress as well (514
/// against 506 bytes per event).
fn small_input_compressor(
    level: i32,
    dict: &Dictionary,
) -> std::io::Result<zstd::bulk::Compressor<'static>> {
    use zstd::zstd_safe::CParameter;
    let mut compressor = zstd::bulk::Compressor::new(level)?;
    for parameter in [
        CParameter::WindowLog(17),
        CParameter::HashLog(12),
        CParameter::ChainLog(12),
    ] {
        compressor.set_parameter(parameter)?;
    }
    compressor.set_dictionary(level, &dict.bytes)?;
    Ok(compressor)
}

/// Decompresses a zstd frame compressed with the dictionary `digest` names
/// (or none), producing at most `limit` bytes.
pub fn decompress(
    compressed: &[u8],
    digest: Option<u64>,
    limit: usize,
) -> Result<Vec<u8>, DictionaryError> {
    if let Some(out) = decompress_reusing(compressed, digest, limit) {
        return Ok(out);
    }
    // Room for a typical ratio, never a reservation out of proportion.
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(8).min(1 << 20));
    let bound = limit as u64 + 1;
    match digest {
        None => zstd::stream::read::Decoder::new(compressed)?
            .take(bound)
            .read_to_end(&mut out)?,
        Some(digest) => {
            let dict = decoder(digest).ok_or(DictionaryError::Unknown(digest))?;
            zstd::stream::read::Decoder::with_prepared_dictionary(compressed, &dict)?
                .take(bound)
                .read_to_end(&mut out)?
        }
    };
    if out.len() > limit {
        return Err(DictionaryError::TooLarge);
    }
    Ok(out)
}

/// The largest payload decompressed by a reused context, into a buffer of
/// the size its frame says (a damaged row's claim is not reserved beyond
/// this; larger payloads take the streaming decoder).
const REUSED_DECOMPRESS_MAX: usize = 8 << 20;

/// A thread's reusable decompression context and the dictionary digest
/// it holds.
type DecompressorSlot = Option<(Option<u64>, zstd::bulk::Decompressor<'static>)>;

thread_local! {
    // Two, as for compressing: a read of rows written before and after
    // the database got its dictionary does not reload it at every switch.
    static PLAIN_DECOMPRESSOR: std::cell::RefCell<DecompressorSlot> =
        const { std::cell::RefCell::new(None) };
    static DICTIONARY_DECOMPRESSOR: std::cell::RefCell<DecompressorSlot> =
        const { std::cell::RefCell::new(None) };
}

/// [`decompress`] with this thread's context, for a single frame that
/// says its size (what [`compress`] writes), at most `limit` bytes: `None`
/// for anything else, which the streaming decoder reads (and refuses past
/// the limit).
///
/// A new context per payload was ~5 % of the time of an issue's tag
/// breakdown, which reads 5 000 payloads: a zstd context is ~100 KiB of
/// tables that each creation allocates and sets up again. The dictionary is
/// loaded into the context once per thread (a database has one).
fn decompress_reusing(compressed: &[u8], digest: Option<u64>, limit: usize) -> Option<Vec<u8>> {
    let size = zstd::zstd_safe::get_frame_content_size(compressed).ok()??;
    let size = usize::try_from(size)
        .ok()
        .filter(|size| *size <= limit.min(REUSED_DECOMPRESS_MAX))?;
    let slot = if digest.is_some() {
        &DICTIONARY_DECOMPRESSOR
    } else {
        &PLAIN_DECOMPRESSOR
    };
    slot.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if !matches!(&*slot, Some((d, _)) if *d == digest) {
            let decompressor = match digest {
                None => zstd::bulk::Decompressor::new().ok()?,
                Some(digest) => {
                    zstd::bulk::Decompressor::with_dictionary(&bytes_of(digest)?).ok()?
                }
            };
            *slot = Some((digest, decompressor));
        }
        let (_, decompressor) = slot.as_mut()?;
        let mut out = Vec::with_capacity(size);
        // More than one frame, or a frame that does not hold what it says,
        // fails here (the buffer is exactly the size said) and is read again
        // by the streaming decoder.
        match decompressor.decompress_to_buffer(compressed, &mut out) {
            Ok(written) if written == size => Some(out),
            _ => {
                // A context that failed mid-frame is not trusted again.
                *slot = None;
                None
            }
        }
    })
}

/// Collects samples until a database has a dictionary.
#[derive(Debug)]
pub(crate) struct Trainer {
    /// Whether samples are still wanted (checked on every event).
    collecting: AtomicBool,
    /// How many samples to train from.
    target: usize,
    samples: Mutex<Samples>,
}

#[derive(Debug, Default)]
struct Samples {
    kept: Vec<Vec<u8>>,
    bytes: usize,
}

impl Trainer {
    /// A trainer that wants `target` samples, or none when `collecting` is
    /// false (the database has a dictionary, or training is off).
    pub(crate) fn new(target: usize, collecting: bool) -> Trainer {
        Trainer {
            collecting: AtomicBool::new(collecting && target > 0),
            target,
            samples: Mutex::new(Samples::default()),
        }
    }

    /// Stops collecting (the database has a dictionary) and drops what
    /// was kept.
    pub(crate) fn stop(&self) {
        self.collecting.store(false, Ordering::Relaxed);
        let mut samples = self.samples.lock();
        samples.kept = Vec::new();
        samples.bytes = 0;
    }

    /// Collects anew (from no samples): the dictionary trained from the
    /// last ones could not be stored.
    pub(crate) fn restart(&self) {
        let mut samples = self.samples.lock();
        samples.kept = Vec::new();
        samples.bytes = 0;
        self.collecting.store(self.target > 0, Ordering::Relaxed);
    }

    /// Whether [`Trainer::offer`] would keep anything.
    pub(crate) fn wants_samples(&self) -> bool {
        self.collecting.load(Ordering::Relaxed)
    }

    /// Keeps `payload` as a sample; returns the samples to train from once
    /// there are enough (once: collecting stops then).
    pub(crate) fn offer(&self, payload: &[u8]) -> Option<Vec<Vec<u8>>> {
        // Only payloads the dictionary will compress are worth learning from.
        if !self.wants_samples() || payload.is_empty() || payload.len() > DICTIONARY_INPUT_MAX {
            return None;
        }
        let mut samples = self.samples.lock();
        if !self.wants_samples() {
            return None;
        }
        samples.kept.push(payload.to_vec());
        samples.bytes += payload.len();
        if samples.kept.len() < self.target && samples.bytes < SAMPLES_MAX_BYTES {
            return None;
        }
        self.collecting.store(false, Ordering::Relaxed);
        Some(std::mem::take(&mut samples.kept))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                format!(
                    r#"{{"level":"error","platform":"python","logger":"app.{m}","exception":{{"values":[{{"type":"KeyError","value":"'k{i}'","stacktrace":{{"frames":[{{"filename":"app/views.py","function":"handler_{m}","lineno":{i}}}]}}}}]}},"sdk":{{"name":"sentry.python","version":"2.75.0"}}}}"#,
                    m = i % 7
                )
                .into_bytes()
            })
            .collect()
    }

    #[test]
    fn a_trained_dictionary_round_trips_and_shrinks_payloads() {
        let dict = train(&samples(300)).expect("train");
        register(&dict);
        let payload = &samples(301)[300];
        let plain = compress(payload, 3, None).expect("plain");
        let with = compress(payload, 3, Some(&dict)).expect("with dictionary");
        assert!(
            with.len() < plain.len(),
            "{} vs {}",
            with.len(),
            plain.len()
        );
        let back = decompress(&with, Some(dict.digest()), 1 << 20).expect("decompress");
        assert_eq!(&back, payload);
        // The thread's reused context switches back without the dictionary.
        let again = compress(payload, 3, None).expect("plain again");
        assert_eq!(
            decompress(&again, None, 1 << 20).expect("plain back"),
            *payload
        );
    }

    #[test]
    fn large_payloads_neither_use_nor_train_the_dictionary() {
        let dict = Arc::new(train(&samples(300)).expect("train"));
        register(&dict);
        let codec = PayloadCodec {
            level: 3,
            dictionary: Some(dict.clone()),
        };
        let small = &samples(1)[0];
        let (packed, used) = codec.compress(small).expect("small");
        assert_eq!(used, Some(dict.digest()));
        assert_eq!(&decompress(&packed, used, 1 << 20).expect("back"), small);
        let large: Vec<u8> = samples(400).concat();
        assert!(large.len() > DICTIONARY_INPUT_MAX);
        let (packed, used) = codec.compress(&large).expect("large");
        assert_eq!(used, None);
        assert_eq!(decompress(&packed, None, 1 << 20).expect("back"), large);

        let trainer = Trainer::new(2, true);
        assert!(trainer.offer(&large).is_none());
        assert!(trainer.offer(small).is_none(), "the large one was not kept");
        assert_eq!(trainer.offer(small).map(|s| s.len()), Some(2));
    }

    #[test]
    fn an_unregistered_dictionary_is_a_clear_error() {
        let dict = Dictionary::new(b"not registered anywhere".to_vec());
        assert!(matches!(
            decompress(b"\x28\xb5\x2f\xfd", Some(dict.digest()), 100),
            Err(DictionaryError::Unknown(d)) if d == dict.digest()
        ));
    }

    #[test]
    fn a_reused_context_reads_what_a_fresh_one_reads() {
        let sample = |i: usize| format!("{{\"event\":{i},\"message\":\"hello {i}\"}}").into_bytes();
        let dict = Dictionary::new(
            zstd::dict::from_samples(&(0..200).map(sample).collect::<Vec<_>>(), 1024)
                .expect("train"),
        );
        register(&dict);
        let payload = sample(7).repeat(40);
        let with = compress(&payload, 3, Some(&dict)).expect("compress");
        let without = compress(&payload, 3, None).expect("compress");
        // Switching between the dictionary and none, back and forth.
        for _ in 0..2 {
            assert_eq!(
                decompress(&with, Some(dict.digest), 1 << 20).expect("with"),
                payload
            );
            assert_eq!(
                decompress(&without, None, 1 << 20).expect("without"),
                payload
            );
        }
        // Both took the reused context.
        assert!(decompress_reusing(&with, Some(dict.digest), 1 << 20).is_some());
        assert!(decompress_reusing(&without, None, 1 << 20).is_some());
        // Two frames: the reused context refuses, the streaming one reads both.
        let mut two = without.clone();
        two.extend_from_slice(&without);
        assert!(decompress_reusing(&two, None, 1 << 20).is_none());
        let both = decompress(&two, None, 1 << 20).expect("two frames");
        assert_eq!(both, payload.repeat(2));
        // A damaged frame is an error, and the next payload still reads.
        let mut damaged = with.clone();
        let middle = damaged.len() / 2;
        damaged[middle] ^= 0xff;
        if let Ok(read) = decompress(&damaged, Some(dict.digest), 1 << 20) {
            assert_ne!(read, payload, "a damaged frame read back as the payload");
        }
        assert_eq!(
            decompress(&with, Some(dict.digest), 1 << 20).expect("after"),
            payload
        );
        // The limit holds on the reused path too.
        assert!(matches!(
            decompress(&with, Some(dict.digest), payload.len() - 1),
            Err(DictionaryError::TooLarge)
        ));
    }

    #[test]
    fn decompression_stops_at_the_limit() {
        let bomb = compress(&vec![b'a'; 1 << 20], 3, None).expect("compress");
        assert!(matches!(
            decompress(&bomb, None, 1000),
            Err(DictionaryError::TooLarge)
        ));
    }

    #[test]
    fn the_trainer_hands_over_its_samples_once() {
        let trainer = Trainer::new(3, true);
        assert!(trainer.offer(b"a").is_none());
        assert!(trainer.offer(b"").is_none(), "empty payloads are not kept");
        assert!(trainer.offer(b"b").is_none());
        let kept = trainer.offer(b"c").expect("third sample completes the set");
        assert_eq!(kept, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert!(!trainer.wants_samples());
        assert!(trainer.offer(b"d").is_none());
        assert!(
            !Trainer::new(0, true).wants_samples(),
            "0 turns training off"
        );
        assert!(!Trainer::new(300, false).wants_samples());
    }

    #[test]
    fn a_restarted_trainer_collects_a_new_set() {
        let trainer = Trainer::new(2, true);
        assert!(trainer.offer(b"a").is_none());
        assert!(trainer.offer(b"b").is_some());
        // The dictionary from those could not be stored.
        trainer.restart();
        assert!(trainer.wants_samples());
        assert!(trainer.offer(b"c").is_none());
        let kept = trainer.offer(b"d").expect("a new set");
        assert_eq!(kept, vec![b"c".to_vec(), b"d".to_vec()]);
        let off = Trainer::new(0, true);
        off.restart();
        assert!(!off.wants_samples(), "training stays off");
    }
}
