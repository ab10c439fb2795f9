//! Times our `sentry-core` against the official `sentry` crate on identical
//! work, in one process, and prints a markdown table (also written to
//! `results.md` next to this crate's `Cargo.toml`).
//!
//! Both crates keep process-global state (the bound client, the main hub's
//! scope) and ours remembers for good that a client was ever bound, so the
//! order is fixed: every "no client" scenario runs first for both crates, then
//! both crates are initialised, then the "client bound" scenarios run, each
//! after putting both scopes into the same state. The two crates' globals are
//! separate, so initialising one does not affect the other. Within a
//! scenario, batches of the two crates alternate so that frequency changes or
//! noise hit both alike; the figure reported is the median batch.
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
use std::sync::Arc;
use std::time::{Duration, Instant};

const DSN: &str = "https://0123456789abcdef0123456789abcdef@127.0.0.1:8000/1";
const RELEASE: &str = "bench@1.0.0";
const ENVIRONMENT: &str = "production";
/// The default `max_breadcrumbs` of both crates.
const MAX_BREADCRUMBS: usize = 100;

/// The operation a scenario repeats.
#[derive(Clone, Copy)]
enum Op {
    CaptureMessage,
    AddBreadcrumb,
    SetTagSame,
    /// `set_tag` with a value from a rotating set of 8 prebuilt strings.
    SetTagChanging,
    /// start_transaction + 10 child spans (start, finish) + finish.
    Transaction {
        sampled: bool,
    },
}

/// The state both scopes are put into before a bound scenario.
#[derive(Clone, Copy)]
enum Setup {
    /// Nothing (no client scenarios: there is no scope to speak of).
    Nothing,
    EmptyScope,
    /// 100 breadcrumbs and 2 tags.
    FullScope,
}

struct Scenario {
    name: &'static str,
    bound: bool,
    setup: Setup,
    op: Op,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "capture_message, no client",
        bound: false,
        setup: Setup::Nothing,
        op: Op::CaptureMessage,
    },
    Scenario {
        name: "add_breadcrumb, no client",
        bound: false,
        setup: Setup::Nothing,
        op: Op::AddBreadcrumb,
    },
    Scenario {
        name: "configure_scope + set_tag (same value), no client",
        bound: false,
        setup: Setup::Nothing,
        op: Op::SetTagSame,
    },
    Scenario {
        name: "configure_scope + set_tag (changing value), no client",
        bound: false,
        setup: Setup::Nothing,
        op: Op::SetTagChanging,
    },
    Scenario {
        name: "capture_message, empty scope",
        bound: true,
        setup: Setup::EmptyScope,
        op: Op::CaptureMessage,
    },
    Scenario {
        name: "add_breadcrumb (message + category)",
        bound: true,
        setup: Setup::EmptyScope,
        op: Op::AddBreadcrumb,
    },
    Scenario {
        name: "configure_scope + set_tag (same value)",
        bound: true,
        setup: Setup::EmptyScope,
        op: Op::SetTagSame,
    },
    Scenario {
        name: "configure_scope + set_tag (changing value)",
        bound: true,
        setup: Setup::EmptyScope,
        op: Op::SetTagChanging,
    },
    Scenario {
        name: "capture_message, 100 breadcrumbs + 2 tags",
        bound: true,
        setup: Setup::FullScope,
        op: Op::CaptureMessage,
    },
    Scenario {
        name: "transaction + 10 child spans, sampled",
        bound: true,
        setup: Setup::EmptyScope,
        op: Op::Transaction { sampled: true },
    },
    Scenario {
        name: "transaction + 10 child spans, unsampled",
        bound: true,
        setup: Setup::EmptyScope,
        op: Op::Transaction { sampled: false },
    },
];

/// Values for the "changing value" tag scenario, built once up front.
fn rotating_values() -> Vec<String> {
    (0..8).map(|i| format!("value-{i}")).collect()
}

/// The same functions for each crate. The operations are not inlined into the
/// measuring loop, as in an application where each call site runs once.
macro_rules! side {
    ($krate:ident) => {
        use super::*;
        use $krate::protocol::{Breadcrumb, Level};

        /// A transport that drops every envelope.
        pub struct DiscardTransport;

        #[inline(never)]
        fn capture_message() {
            black_box($krate::capture_message(
                black_box("something happened"),
                Level::Info,
            ));
        }

        fn breadcrumb() -> Breadcrumb {
            Breadcrumb {
                category: Some("bench".into()),
                message: Some("a breadcrumb message".into()),
                ..Default::default()
            }
        }

        #[inline(never)]
        fn add_breadcrumb() {
            $krate::add_breadcrumb(breadcrumb);
        }

        #[inline(never)]
        fn set_tag_same() {
            $krate::configure_scope(|s| s.set_tag("key", "value"));
        }

        #[inline(never)]
        fn set_tag_changing(value: &str) {
            $krate::configure_scope(|s| s.set_tag("rotating", value));
        }

        #[inline(never)]
        fn transaction(sampled: bool) {
            let mut ctx = $krate::TransactionContext::new("GET /users", "http.server");
            ctx.set_sampled(Some(sampled));
            let tx = $krate::start_transaction(ctx);
            for _ in 0..10 {
                let span = tx.start_child("db.query", "SELECT * FROM users WHERE id = ?");
                span.finish();
            }
            tx.finish();
        }

        pub fn run(op: Op, values: &[String], i: u64) {
            match op {
                Op::Transaction { sampled } => transaction(sampled),
                Op::CaptureMessage => capture_message(),
                Op::AddBreadcrumb => add_breadcrumb(),
                Op::SetTagSame => set_tag_same(),
                Op::SetTagChanging => set_tag_changing(&values[(i & 7) as usize]),
            }
        }

        pub fn prepare(setup: Setup) {
            match setup {
                Setup::Nothing => {}
                Setup::EmptyScope => $krate::configure_scope(|s| s.clear()),
                Setup::FullScope => {
                    $krate::configure_scope(|s| s.clear());
                    for _ in 0..MAX_BREADCRUMBS {
                        $krate::add_breadcrumb(breadcrumb());
                    }
                    $krate::configure_scope(|s| {
                        s.set_tag("key", "value");
                        s.set_tag("rotating", "value-0");
                    });
                }
            }
        }

        /// Whether a capture produces an event (sanity check after init).
        pub fn capture_sends() -> bool {
            !$krate::capture_message("check", Level::Info).is_nil()
        }
    };
}

/// Our crate.
mod ours_side {
    side!(ours);

    impl ours::transport::Transport for DiscardTransport {
        fn send_envelope(&self, envelope: ours::envelope::Envelope) {
            black_box(envelope);
        }
    }

    pub fn init() -> ours::ClientInitGuard {
        let guard = ours::init(ours::ClientOptions {
            dsn: Some(DSN.parse().expect("valid DSN")),
            release: Some(RELEASE.into()),
            environment: Some(ENVIRONMENT.into()),
            transport: Some(Arc::new(Arc::new(DiscardTransport))),
            traces_sample_rate: 1.0,
            ..Default::default()
        });
        assert!(guard.is_enabled(), "our client must be enabled");
        guard
    }
}

/// The official crate.
mod official_side {
    side!(sentry);

    impl sentry::Transport for DiscardTransport {
        fn send_envelope(&self, envelope: sentry::Envelope) {
            black_box(envelope);
        }
    }

    pub fn init() -> sentry::ClientInitGuard {
        // `sentry::ClientOptions` is non-exhaustive: set the fields one by one.
        let mut options = sentry::ClientOptions::new();
        options.dsn = Some(DSN.parse().expect("valid DSN"));
        options.release = Some(RELEASE.into());
        options.environment = Some(ENVIRONMENT.into());
        options.transport = Some(Arc::new(Arc::new(DiscardTransport)));
        // Tracing on for both; each transaction forces its own decision.
        let options = options.traces_sample_rate(1.0);
        let guard = sentry::init(options);
        assert!(guard.is_enabled(), "official client must be enabled");
        guard
    }
}

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
    if v.len().is_multiple_of(2) {
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
    let selected = |s: &&Scenario| only.as_deref().is_none_or(|t| s.name.contains(t));

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
