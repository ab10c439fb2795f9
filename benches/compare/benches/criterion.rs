//! The comparison under criterion: every scenario of `sentry_compare` on both
//! crates, then a table of the ratios ours / official.
//!
//! ```text
//! cargo bench --manifest-path benches/compare/Cargo.toml --bench criterion
//! ```
//!
//! Criterion reports each side on its own (with its outlier analysis and
//! change detection across runs); the ratio needs both, so every sample a
//! side's timing loop takes is also kept here, and the table at the end
//! divides the medians of the per-operation times. The program in
//! `src/main.rs` measures the same scenarios with alternating batches and
//! writes results.md; the two agree within the noise of a shared machine.

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use sentry_compare::{official_side, ours_side, rotating_values, Op, Scenario, SCENARIOS};

/// Runs `op` once on one side.
type Runner = fn(Op, &[String], u64);

/// Times one side of a scenario under criterion and returns the median
/// nanoseconds per operation over every sample criterion took.
fn side(c: &mut Criterion, s: &Scenario, label: &str, run: Runner, values: &[String]) -> f64 {
    let samples = RefCell::new(Vec::new());
    c.bench_with_input(BenchmarkId::new(s.name, label), &s.op, |b, &op| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                run(op, values, black_box(i));
            }
            let took = start.elapsed();
            samples
                .borrow_mut()
                .push(took.as_nanos() as f64 / iters.max(1) as f64);
            took
        })
    });
    median(samples.into_inner())
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(700))
        .configure_from_args();
    let values = rotating_values();
    let mut rows = Vec::new();
    let mut measure = |c: &mut Criterion, s: &Scenario| {
        ours_side::prepare(s.setup);
        let ours = side(c, s, "ours", ours_side::run, &values);
        official_side::prepare(s.setup);
        let official = side(c, s, "official", official_side::run, &values);
        rows.push((s.name, ours, official));
    };
    // No client bound yet on either side; then both are initialised.
    for s in SCENARIOS.iter().filter(|s| !s.bound) {
        measure(&mut c, s);
    }
    let _ours = ours_side::init();
    let _official = official_side::init();
    for s in SCENARIOS.iter().filter(|s| s.bound) {
        measure(&mut c, s);
    }
    c.final_summary();

    println!("\n| scenario | ours ns/op | official ns/op | ratio ours/official | <= 0.50 |");
    println!("|---|---:|---:|---:|:---:|");
    for (name, ours, official) in rows {
        // A filtered-out scenario has no samples on either side.
        if ours.is_nan() || official.is_nan() {
            continue;
        }
        let ratio = ours / official;
        println!(
            "| {name} | {ours:.1} | {official:.1} | {ratio:.2} | {} |",
            if ratio <= 0.5 { "yes" } else { "no" }
        );
    }
}
