//! Where an event's ingestion time goes, phase by phase, in one process.
//!
//! ```text
//! cargo bench -p receiver --bench phases
//! cargo bench -p receiver --bench phases -- --events 5000 --rounds 5
//! ```
//!
//! The events are the load benchmark's (`benches/support/events.rs`). Each
//! phase runs over all of them on one thread, `--rounds` times (default 3);
//! the fastest round gives µs per event, which is steadier than one run on
//! a shared machine. Phases: gzip decoding, envelope framing, parsing and
//! normalising the event as ingestion does (without the parts it does not
//! read; the full read follows for comparison, then a borrowed parse of
//! the same fields without any checks: a floor for a zero-copy parse),
//! grouping (hashes only, as for an event whose
//! issue exists), serialising the normalised event, zstd compression, the
//! whole `prepare_with` (the last five together; then again for a project
//! with 50 fingerprint rules that match nothing), and the writer: every
//! event written through a [`Store`] by 8 threads (as 8 keep-alive
//! connections would), with the writer thread's CPU time from `/proc`.
//! `--zstd-level N` compresses at another level than the store's default.
//! Payloads are compressed with a dictionary trained on the first
//! `StoreConfig::dictionary_samples` events, as a server does once it has
//! seen that many (`receiver::store::dictionary`); `--no-dictionary` shows
//! the figures before that.
//! `--writer-only` skips the single-thread phases, `--only NAME` runs just
//! the phase whose name starts with `NAME` (and not the writer: for
//! `valgrind --tool=callgrind`, whose instruction counts do not depend on
//! what else the machine is doing); `TMPDIR` chooses the database's disk.

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;
use receiver::grouping::{group_event_with, GroupingOptions};
use receiver::ingest::decode::{BodyDecoder, Encoding};
use receiver::ingest::envelope::prepare_with;
use receiver::ingest::normalize::{self, RequestContext};
use receiver::ingest::KnownHashes;
use receiver::store::dictionary::{self, PayloadCodec};
use receiver::store::{Record, Store, WriteOp};
use sentry_core::envelope::Envelope;
use sentry_core::protocol::Timestamp;

#[path = "support/events.rs"]
mod events;

/// A borrowed parse of what ingestion reads, for the "borrowed lean" phase
/// only: the floor a zero-copy ingestion parse could reach (no `String` per
/// field; `Cow` borrows unless a string has escapes). It is not the
/// receiver's parse: it has none of the lenient types' repairs or checks,
/// and skips what it does not name unchecked, so it is faster than any
/// parse that keeps ingestion's exactness could be. The fields are built,
/// not read (`black_box` keeps them).
#[allow(dead_code)]
mod lean {
    use serde::de::IgnoredAny;
    use serde::Deserialize;
    use std::borrow::Cow;
    use std::collections::BTreeMap;
    type S<'a> = Option<Cow<'a, str>>;
    #[derive(Deserialize)]
    pub struct Event<'a> {
        #[serde(borrow)]
        pub event_id: S<'a>,
        pub timestamp: Option<f64>,
        #[serde(borrow)]
        pub platform: S<'a>,
        #[serde(borrow)]
        pub level: S<'a>,
        #[serde(borrow)]
        pub logger: S<'a>,
        #[serde(borrow)]
        pub server_name: S<'a>,
        #[serde(borrow)]
        pub release: S<'a>,
        #[serde(borrow)]
        pub environment: S<'a>,
        #[serde(borrow)]
        pub transaction: S<'a>,
        #[serde(borrow)]
        pub exception: Option<Values<'a>>,
        #[serde(borrow)]
        pub user: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
        #[serde(borrow)]
        pub contexts: Option<Contexts<'a>>,
        #[serde(borrow)]
        pub tags: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
        pub breadcrumbs: Option<IgnoredAny>,
        pub request: Option<IgnoredAny>,
        pub modules: Option<IgnoredAny>,
        pub extra: Option<IgnoredAny>,
        pub sdk: Option<IgnoredAny>,
    }
    #[derive(Deserialize)]
    pub struct Contexts<'a> {
        #[serde(borrow)]
        pub trace: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
        pub os: Option<IgnoredAny>,
        pub runtime: Option<IgnoredAny>,
    }
    #[derive(Deserialize)]
    pub struct Values<'a> {
        #[serde(borrow)]
        pub values: Vec<Exception<'a>>,
    }
    #[derive(Deserialize)]
    pub struct Exception<'a> {
        #[serde(borrow, rename = "type")]
        pub ty: S<'a>,
        #[serde(borrow)]
        pub value: S<'a>,
        #[serde(borrow)]
        pub module: S<'a>,
        #[serde(borrow)]
        pub mechanism: Option<BTreeMap<Cow<'a, str>, serde_json::Value>>,
        #[serde(borrow)]
        pub stacktrace: Option<Stacktrace<'a>>,
    }
    #[derive(Deserialize)]
    pub struct Stacktrace<'a> {
        #[serde(borrow)]
        pub frames: Vec<Frame<'a>>,
    }
    #[derive(Deserialize)]
    pub struct Frame<'a> {
        #[serde(borrow)]
        pub function: S<'a>,
        #[serde(borrow)]
        pub module: S<'a>,
        #[serde(borrow)]
        pub filename: S<'a>,
        #[serde(borrow)]
        pub abs_path: S<'a>,
        pub lineno: Option<u64>,
        pub in_app: Option<bool>,
        #[serde(borrow)]
        pub context_line: S<'a>,
        pub vars: Option<IgnoredAny>,
    }
}

type Failure = Box<dyn std::error::Error>;

/// The binary's allocator, so the figures match the server's.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    events: usize,
    rounds: usize,
    writers: usize,
    writer_only: bool,
    only: Option<String>,
    level: i32,
    dictionary: bool,
}

fn options() -> Result<Options, Failure> {
    let mut o = Options {
        events: 5_000,
        rounds: 3,
        writers: 8,
        writer_only: false,
        only: None,
        level: receiver::config::StoreConfig::default().compression_level,
        dictionary: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut num = |name: &str| -> Result<usize, Failure> {
            let v = args.next().ok_or_else(|| format!("{name} needs a value"))?;
            Ok(v.parse()
                .map_err(|_| format!("{name} {v:?} is not a number"))?)
        };
        match arg.as_str() {
            "--events" => o.events = num("--events")?.clamp(1, 200_000),
            "--rounds" => o.rounds = num("--rounds")?.clamp(1, 50),
            "--writers" => o.writers = num("--writers")?.clamp(1, 64),
            "--writer-only" => o.writer_only = true,
            "--no-dictionary" => o.dictionary = false,
            "--zstd-level" => {
                let v = args.next().ok_or("--zstd-level needs a value")?;
                o.level = v.parse().map_err(|_| format!("--zstd-level {v:?}"))?;
            }
            "--only" => o.only = Some(args.next().ok_or("--only needs a phase name")?),
            "--bench" => {}
            other if other.starts_with('-') => return Err(format!("unknown option {other}").into()),
            _ => {}
        }
    }
    Ok(o)
}

/// The phase named with `--only` (a prefix), if any: the others are skipped.
static ONLY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// Runs `f` over `items` `rounds` times; µs per item of the fastest round.
/// Never inlined, so callgrind can count just this
/// (`--toggle-collect='phases::phase*'`).
#[inline(never)]
fn phase<T>(name: &str, items: &[T], rounds: usize, mut f: impl FnMut(&T)) -> f64 {
    if let Some(Some(only)) = ONLY.get() {
        if !name.trim_start().starts_with(only.as_str()) {
            return 0.0;
        }
    }
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        for item in items {
            f(item);
        }
        best = best.min(start.elapsed());
    }
    let us = best.as_secs_f64() * 1e6 / items.len().max(1) as f64;
    println!("{name:<28} {us:8.2} µs/event");
    us
}

/// The sum of `measure` over the /proc entries of this process's threads
/// called `name` (NaN without /proc).
fn sum_over_threads(name: &str, measure: impl Fn(&std::path::Path) -> Option<f64>) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.trim() == name)
        })
        .filter_map(|task| measure(&task.path()))
        .sum()
}

/// Bytes this process's threads called `name` passed to `write` calls.
fn thread_wchar(name: &str) -> f64 {
    sum_over_threads(name, |task| {
        std::fs::read_to_string(task.join("io"))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("wchar:"))?
            .trim()
            .parse()
            .ok()
    })
}

/// CPU seconds (user + system) of this process's threads called `name`.
fn thread_cpu(name: &str) -> f64 {
    sum_over_threads(name, |task| {
        let stat = std::fs::read_to_string(task.join("stat")).ok()?;
        let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        Some((ticks(11)? + ticks(12)?) / 100.0)
    })
}

fn main() -> Result<(), Failure> {
    let o = options()?;
    let _ = ONLY.set(o.only.clone());
    let now = events::now_secs();
    let envelopes: Vec<Vec<u8>> = (0..o.events)
        .map(|n| events::envelope(n, 50, now).0)
        .collect();
    let gzipped: Vec<Vec<u8>> = envelopes
        .iter()
        .map(|e| {
            let mut gz = GzEncoder::new(Vec::new(), Compression::default());
            gz.write_all(e)
                .and_then(|()| gz.finish())
                .unwrap_or_default()
        })
        .collect();
    let parsed: Vec<Envelope> = envelopes
        .iter()
        .map(|e| Envelope::parse(e))
        .collect::<Result<_, _>>()?;
    let ctx = RequestContext {
        received: Timestamp::from_secs_f64(now),
        sent_at: Some(Timestamp::from_secs_f64(now)),
        client_ip: Some("127.0.0.1".to_owned()),
    };
    let payload = |e: &Envelope| e.items()[0].payload.as_raw().unwrap_or(&[]).to_vec();
    let payloads: Vec<Vec<u8>> = parsed.iter().map(payload).collect();
    println!(
        "{} events, {:.1} KB of envelope each, {} rounds",
        o.events,
        envelopes.iter().map(Vec::len).sum::<usize>() as f64 / o.events as f64 / 1000.0,
        o.rounds
    );

    let codec = if o.dictionary {
        let samples = receiver::config::StoreConfig::default().dictionary_samples;
        let start = Instant::now();
        let dict = dictionary::train(&payloads[..samples.min(payloads.len())])?;
        println!(
            "dictionary: {} bytes trained from {} events in {:.0} ms",
            dict.bytes().len(),
            samples.min(payloads.len()),
            start.elapsed().as_secs_f64() * 1e3
        );
        dictionary::register(&dict);
        PayloadCodec {
            level: o.level,
            dictionary: Some(std::sync::Arc::new(dict)),
        }
    } else {
        PayloadCodec::plain(o.level)
    };
    // Every hash known: the lean grouping path, as for a running server.
    let known = KnownHashes::default();
    for e in parsed.iter().take(200) {
        let p = prepare_with(e, 1, &ctx, &codec, None, None)?;
        if let Some(Record::Event(r)) = p.batch.records.first() {
            known.insert_all(1, r.grouping.hashes.iter().map(|h| h.hash.as_str()));
        }
    }

    if !o.writer_only {
        let r = o.rounds;
        let mut sum = 0.0;
        phase("gzip decode", &gzipped, r, |g| {
            let mut d = BodyDecoder::new(Encoding::Gzip, 100 << 20).expect("decoder");
            d.write(g).expect("gzip");
            black_box(d.finish().expect("gzip"));
        });
        phase("envelope parse", &envelopes, r, |e| {
            black_box(Envelope::parse(e).expect("envelope"));
        });
        let events: Vec<_> = payloads
            .iter()
            .map(|p| normalize::event(p, &ctx, None))
            .collect::<Result<_, _>>()?;
        sum += phase("parse + normalise event", &payloads, r, |p| {
            black_box(normalize::event_for_ingest(p, &ctx, None).expect("event"));
        });
        phase("  the same, read back in full", &payloads, r, |p| {
            black_box(normalize::event(p, &ctx, None).expect("event"));
        });
        phase("  borrowed lean (ceiling)", &payloads, r, |p| {
            black_box(serde_json::from_slice::<lean::Event>(p).expect("lean"));
        });
        phase("  of which a skip-only pass", &payloads, r, |p| {
            black_box(serde_json::from_slice::<serde::de::IgnoredAny>(p).expect("json"));
        });
        sum += phase("group (hashes only)", &events, r, |e| {
            black_box(group_event_with(e, GroupingOptions::HASHES_ONLY));
        });
        // The event is stored as received (`ingest::as_received`): what is
        // compressed is the item's own bytes.
        let dict = codec.dictionary.as_deref();
        let packed: usize = payloads
            .iter()
            .map(|j| dictionary::compress(j, o.level, dict).map_or(0, |c| c.len()))
            .sum();
        let raw: usize = payloads.iter().map(Vec::len).sum();
        println!(
            "zstd level {}{}: {:.1} KB -> {:.2} KB per event ({:.2}:1)",
            o.level,
            if dict.is_some() {
                " with the dictionary"
            } else {
                ""
            },
            raw as f64 / o.events as f64 / 1000.0,
            packed as f64 / o.events as f64 / 1000.0,
            raw as f64 / packed.max(1) as f64
        );
        sum += phase("zstd (reused context)", &payloads, r, |j| {
            black_box(dictionary::compress(j, o.level, dict).expect("zstd"));
        });
        println!("{:<28} {sum:8.2} µs/event", "  sum of the three");
        phase("prepare_with (all)", &parsed, r, |e| {
            black_box(prepare_with(e, 1, &ctx, &codec, Some(&known), None).expect("prepare"));
        });
        // A project with fingerprint rules none of these events match: what
        // every event then pays (each rule looks at exceptions, messages or
        // every frame).
        let rules = receiver::grouping::fingerprint_rules::FingerprintRules::parse(
            &(0..50)
                .map(|i| match i % 3 {
                    0 => format!("error.type:NoSuchError{i} -> rule-{i}"),
                    1 => format!("message:\"*no such text {i}*\" -> rule-{i}"),
                    _ => format!("stack.function:\"no_such_fn_{i}*\" app:yes -> rule-{i}"),
                })
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .expect("rules");
        phase("  with 50 unmatched rules", &parsed, r, |e| {
            black_box(
                prepare_with(e, 1, &ctx, &codec, Some(&known), Some(&rules)).expect("prepare"),
            );
        });
        // Reading an event back (API, web page) normalises it again.
        let stored: Vec<Vec<u8>> = parsed
            .iter()
            .filter_map(
                |e| match prepare_with(e, 1, &ctx, &codec, Some(&known), None) {
                    Ok(p) => match p.batch.records.into_iter().next() {
                        Some(Record::Event(r)) => Some(r.payload),
                        _ => None,
                    },
                    Err(_) => None,
                },
            )
            .collect();
        phase("read back (not ingestion)", &stored, r, |b| {
            black_box(receiver::store::decompress(b).expect("read back"));
        });
    }

    if o.only.is_some() {
        return Ok(());
    }
    // The writer: 8 threads each submit one event at a time and wait for
    // its commit, like 8 keep-alive connections.
    let batches: Vec<_> = parsed
        .iter()
        .map(|e| prepare_with(e, 1, &ctx, &codec, Some(&known), None).map(|p| p.batch))
        .collect::<Result<_, _>>()?;
    let dir = tempfile::tempdir()?;
    let (store, _) = Store::open(&dir.path().join("phases.sqlite"), &Default::default())?;
    let before = thread_cpu("receiver-writer");
    let ckpt_before = thread_cpu("receiver-ckpt");
    let written_before = thread_wchar("receiver-writer");
    let next = std::sync::atomic::AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..o.writers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(batch) = batches.get(i) else { break };
                store
                    .write_blocking(WriteOp::Ingest(batch.clone()))
                    .expect("write");
            });
        }
    });
    let elapsed = start.elapsed();
    let writer = thread_cpu("receiver-writer") - before;
    let ckpt = thread_cpu("receiver-ckpt") - ckpt_before;
    let written = thread_wchar("receiver-writer") - written_before;
    let counts = store.writer_counts();
    println!(
        "writer: {} events in {:.2} s ({:.0}/s), writer thread {:.1} µs/event, checkpointer \
         {:.1} µs/event, {:.1} events per commit, {:.1} KB written per event",
        o.events,
        elapsed.as_secs_f64(),
        o.events as f64 / elapsed.as_secs_f64(),
        writer * 1e6 / o.events as f64,
        ckpt * 1e6 / o.events as f64,
        counts.jobs_per_commit(),
        written / o.events as f64 / 1000.0
    );
    store.shutdown();
    Ok(())
}
