//! Times our `sentry-core` against the official `sentry` crate on identical
//! work, in one process, and prints a markdown table (also written to
//! `results.md` next to this crate's `Cargo.toml`).
//!
//! The scenarios and the order they run in are in the library part
//! (`src/lib.rs`). Within a scenario, batches of the two crates alternate so
//! that frequency changes or noise hit both alike; the figure reported is the
//! median batch.
//!
//! Usage (from the repository root):
//!
//! ```text
//! cargo run --release --manifest-path benches/compare/Cargo.toml [-- --quick] [--only TEXT]
//! cargo run --release --manifest-path benches/compare/Cargo.toml -- --profile TEXT ours|official
//!
//! cargo run --release --manifest-path benches/compare/Cargo.toml --features count-allocs -- --allocs
//! ```
//!
//! `--only TEXT` measures only the scenarios whose name contains TEXT (and
//! does not write results.md). `--profile TEXT SIDE` runs the scenario named
//! TEXT (or else the first whose name contains it) on one side only, in a
//! loop for 5 s, for `perf record`. `--allocs` (with the `count-allocs`
//! feature) prints the heap allocations (and reallocations) per operation of
//! every client-bound scenario on both sides instead of timing them.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use sentry_compare::{official_side, ours_side, rotating_values, Op, Scenario, SCENARIOS};

/// A global allocator that counts allocations, for `--allocs`.
#[cfg(feature = "count-allocs")]
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    pub static ALLOCS: AtomicU64 = AtomicU64::new(0);
    pub static BYTES: AtomicU64 = AtomicU64::new(0);

    pub struct Counting;

    // SAFETY: forwards to `System`, only counting.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCS.fetch_add(1, Relaxed);
            BYTES.fetch_add(layout.size() as u64, Relaxed);
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            ALLOCS.fetch_add(1, Relaxed);
            BYTES.fetch_add(new_size as u64, Relaxed);
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    /// (allocations, bytes) per call of `f`, averaged over `n` calls.
    pub fn per_op(n: u64, mut f: impl FnMut(u64)) -> (f64, f64) {
        let (a0, b0) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
        for i in 0..n {
            f(i);
        }
        let (a1, b1) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
        ((a1 - a0) as f64 / n as f64, (b1 - b0) as f64 / n as f64)
    }
}

/// `--allocs`: heap allocations per operation, both sides, bound scenarios.
#[cfg(feature = "count-allocs")]
fn count_allocs(values: &[String]) {
    let _ours_guard = ours_side::init();
    let _official_guard = official_side::init();
    println!(
        "| scenario | ours allocs/op | ours bytes/op | official allocs/op | official bytes/op |"
    );
    println!("|---|---:|---:|---:|---:|");
    for s in SCENARIOS.iter().filter(|s| s.bound) {
        ours_side::prepare(s.setup);
        official_side::prepare(s.setup);
        let mut sides = [(0.0, 0.0); 2];
        for (k, run) in [&ours_side::run as Runner<'_>, &official_side::run]
            .into_iter()
            .enumerate()
        {
            // Warm up (scope fills, caches settle), then count.
            counting::per_op(200, |i| run(s.op, values, i));
            sides[k] = counting::per_op(2000, |i| run(s.op, values, i));
        }
        println!(
            "| {} | {:.1} | {:.0} | {:.1} | {:.0} |",
            s.name, sides[0].0, sides[0].1, sides[1].0, sides[1].1
        );
    }
}

struct Config {
    /// Target wall time of one batch.
    batch: Duration,
    /// Batches per crate and scenario (the median is reported).
    batches: usize,
    /// Warm-up time per crate and scenario.
    warmup: Duration,
}

/// Runs `op` `n` times on one side.
type Runner<'a> = &'a dyn Fn(Op, &[String], u64);

fn run_batch(run: Runner<'_>, op: Op, values: &[String], n: u64) -> Duration {
    let t = Instant::now();
    for i in 0..n {
        run(op, values, black_box(i));
    }
    t.elapsed()
}

/// How many iterations fill one batch, found by doubling during warm-up.
fn calibrate(run: Runner<'_>, op: Op, values: &[String], cfg: &Config) -> u64 {
    let start = Instant::now();
    let mut n = 1u64;
    let mut per_op_ns = 0.0f64;
    while start.elapsed() < cfg.warmup || per_op_ns == 0.0 {
        let took = run_batch(run, op, values, n);
        per_op_ns = took.as_nanos() as f64 / n as f64;
        if took < cfg.batch / 4 {
            n = n.saturating_mul(2);
        }
    }
    ((cfg.batch.as_nanos() as f64 / per_op_ns) as u64).max(1)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 0 {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    }
}

struct Row {
    scenario: &'static str,
    ours: f64,
    official: f64,
}

/// Measures both crates on one scenario, alternating their batches.
fn measure(s: &Scenario, cfg: &Config, values: &[String]) -> Row {
    let ours: Runner<'_> = &ours_side::run;
    let official: Runner<'_> = &official_side::run;
    ours_side::prepare(s.setup);
    official_side::prepare(s.setup);
    let n_ours = calibrate(ours, s.op, values, cfg);
    let n_official = calibrate(official, s.op, values, cfg);
    let mut t_ours = Vec::with_capacity(cfg.batches);
    let mut t_official = Vec::with_capacity(cfg.batches);
    let per_op = |run, n| run_batch(run, s.op, values, n).as_nanos() as f64 / n as f64;
    for b in 0..cfg.batches {
        // Alternate which crate goes first in each pair.
        if b % 2 == 0 {
            t_ours.push(per_op(ours, n_ours));
            t_official.push(per_op(official, n_official));
        } else {
            t_official.push(per_op(official, n_official));
            t_ours.push(per_op(ours, n_ours));
        }
    }
    let row = Row {
        scenario: s.name,
        ours: median(t_ours),
        official: median(t_official),
    };
    eprintln!(
        "  {:<54} ours {:>8.1} ns/op   official {:>8.1} ns/op   ratio {:.2}",
        row.scenario,
        row.ours,
        row.official,
        row.ours / row.official
    );
    row
}

/// The official crate's version, as resolved in this project's lock file.
fn official_version() -> &'static str {
    let lock = include_str!("../Cargo.lock");
    lock.split("[[package]]")
        .find(|p| p.contains("\nname = \"sentry\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or("?")
}

fn table(rows: &[Row], cfg: &Config) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Ours: sentry-core (this repository). Official: sentry {} (default-features = false).",
        official_version()
    );
    let _ = writeln!(
        s,
        "Median of {} batches of ~{} ms each; release build, thin LTO; \
         ratio = ours / official (target <= 0.50).",
        cfg.batches,
        cfg.batch.as_millis()
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "| scenario | ours ns/op | official ns/op | ratio ours/official | <= 0.50 |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|:---:|");
    for r in rows {
        let ratio = r.ours / r.official;
        let _ = writeln!(
            s,
            "| {} | {:.1} | {:.1} | {:.2} | {} |",
            r.scenario,
            r.ours,
            r.official,
            ratio,
            if ratio <= 0.5 { "yes" } else { "no" }
        );
    }
    s
}

/// `--profile TEXT SIDE`: one scenario, one side, 5 s, nothing printed.
fn profile(text: &str, side: &str, values: &[String]) {
    let s = SCENARIOS
        .iter()
        .find(|s| s.name == text)
        .or_else(|| SCENARIOS.iter().find(|s| s.name.contains(text)))
        .unwrap_or_else(|| panic!("no scenario matches {text:?}"));
    let (run, _ours_guard, _official_guard): (Runner<'_>, _, _) = match side {
        "ours" => (&ours_side::run, s.bound.then(ours_side::init), None),
        "official" => (&official_side::run, None, s.bound.then(official_side::init)),
        _ => panic!("side must be `ours` or `official`, not {side:?}"),
    };
    ours_side::prepare(s.setup);
    official_side::prepare(s.setup);
    eprintln!("profiling {:?} on {side} for 5 s", s.name);
    let start = Instant::now();
    let mut ops = 0u64;
    while start.elapsed() < Duration::from_secs(5) {
        run_batch(run, s.op, values, 10_000);
        ops += 10_000;
    }
    // With `perf stat -e task-clock`, CPU time / ops is a per-op cost that a
    // busy machine disturbs less than wall time.
    eprintln!("{ops} operations");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg_after = |flag: &str, k: usize| {
        args.iter().position(|a| a == flag).map(|p| {
            args.get(p + k)
                .cloned()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        })
    };
    let values = rotating_values();
    if let Some(text) = arg_after("--profile", 1) {
        let side = arg_after("--profile", 2).expect("--profile TEXT ours|official");
        profile(&text, &side, &values);
        return;
    }
    if args.iter().any(|a| a == "--allocs") {
        #[cfg(feature = "count-allocs")]
        count_allocs(&values);
        #[cfg(not(feature = "count-allocs"))]
        panic!("--allocs needs `--features count-allocs`");
        #[allow(unreachable_code)]
        return;
    }
    let only = arg_after("--only", 1);
    let quick = args.iter().any(|a| a == "--quick");
    let cfg = if quick {
        Config {
            batch: Duration::from_millis(2),
            batches: 11,
            warmup: Duration::from_millis(30),
        }
    } else {
        Config {
            batch: Duration::from_millis(10),
            batches: 41,
            warmup: Duration::from_millis(200),
        }
    };
    let selected = |s: &&Scenario| only.as_deref().map_or(true, |t| s.name.contains(t));

    let mut rows = Vec::new();
    eprintln!("no client bound (neither crate initialised yet):");
    for s in SCENARIOS.iter().filter(|s| !s.bound).filter(selected) {
        rows.push(measure(s, &cfg, &values));
    }

    let _ours_guard = ours_side::init();
    let _official_guard = official_side::init();
    assert!(
        ours_side::capture_sends(),
        "our capture must produce an event"
    );
    assert!(
        official_side::capture_sends(),
        "official capture must produce an event"
    );

    eprintln!("client bound (transport discards envelopes):");
    for s in SCENARIOS.iter().filter(|s| s.bound).filter(selected) {
        rows.push(measure(s, &cfg, &values));
    }

    let out = table(&rows, &cfg);
    println!("{out}");
    if only.is_some() {
        return;
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/results.md");
    let doc = format!(
        "# sentry-core vs the official sentry crate\n\n\
         Written by `cargo run --release --manifest-path benches/compare/Cargo.toml{}`; \
         see README.md.\n\n{out}",
        if quick { " -- --quick" } else { "" }
    );
    if let Err(e) = std::fs::write(path, doc) {
        eprintln!("could not write {path}: {e}");
    }
}
