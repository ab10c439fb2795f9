//! Grouping cost per event, full (with explanation and inputs) and hashes
//! only (what ingestion uses once an issue's hashes are known).
//!
//! ```text
//! cargo bench -p receiver --bench grouping
//! ```
//!
//! Three shapes: a Python error with 2 in-app frames, a message event, and
//! an error with 32 frames (half in-app). Each is grouped in batches of
//! 2,000 for about a second; the median batch gives µs per event, and the
//! ratio hashes-only / full shows what the lean path saves.

use std::hint::black_box;
use std::time::{Duration, Instant};

use receiver::grouping::{group_event_with, GroupingOptions};
use sentry_core::protocol::Event;
use serde_json::{json, Value};

const BATCH: u32 = 2_000;
const BUDGET: Duration = Duration::from_secs(1);

fn frame(module: &str, function: &str, lineno: u64, in_app: bool) -> Value {
    json!({
        "module": module, "filename": format!("{}.py", module.replace('.', "/")),
        "function": function, "lineno": lineno, "in_app": in_app,
        "context_line": format!("    {function}(request)"),
    })
}

fn error_event(frames: Vec<Value>) -> Event {
    serde_json::from_value(json!({
        "platform": "python",
        "exception": {"values": [{
            "type": "LookupError",
            "value": "no user 1 at 0x7ffe3 id=55",
            "stacktrace": {"frames": frames},
        }]},
    }))
    .expect("a valid event")
}

fn shapes() -> Vec<(&'static str, Event)> {
    let two = error_event(vec![
        frame("app.main", "main", 10, true),
        frame("app.handlers", "handler", 42, true),
    ]);
    let message: Event = serde_json::from_value(json!({
        "platform": "python",
        "logentry": {"message": "payment %s failed after %d ms", "params": ["p-9", 1200]},
        "message": "payment p-9 failed after 1200 ms",
    }))
    .expect("a valid event");
    let long = error_event(
        (0..32)
            .map(|i| {
                frame(
                    &format!("app.layer{i}"),
                    &format!("fn_{i}"),
                    10 + i,
                    i % 2 == 0,
                )
            })
            .collect(),
    );
    vec![("2 frames", two), ("message", message), ("32 frames", long)]
}

/// Median µs per event over batches run for about [`BUDGET`].
fn measure(event: &Event, options: GroupingOptions) -> f64 {
    let mut per_event = Vec::new();
    let start = Instant::now();
    while start.elapsed() < BUDGET || per_event.len() < 5 {
        let t = Instant::now();
        for _ in 0..BATCH {
            black_box(group_event_with(black_box(event), options));
        }
        per_event.push(t.elapsed().as_secs_f64() * 1e6 / f64::from(BATCH));
    }
    per_event.sort_by(f64::total_cmp);
    per_event[per_event.len() / 2]
}

fn main() {
    println!("| event | full µs | hashes only µs | ratio |");
    println!("|---|---:|---:|---:|");
    for (name, event) in shapes() {
        let full = measure(&event, GroupingOptions::FULL);
        let lean = measure(&event, GroupingOptions::HASHES_ONLY);
        println!("| {name} | {full:.2} | {lean:.2} | {:.2} |", lean / full);
    }
}
