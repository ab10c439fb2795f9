//! Where a sampled profile's time went: per function, the time it was the
//! innermost frame (self) and the time it was anywhere on the stack
//! (total), for one thread, as Sentry's "slowest functions" and its
//! flame graph's widths tell.
//!
//! A profile (`profile` item, Sentry's sample format version 1, what the
//! Python SDK's `profiles_sample_rate` sends) lists `frames`, `stacks` of
//! frame indices (innermost first) and `samples` (a stack of a thread at a
//! time since the start). A sample stands for the time until the thread's
//! next sample; a thread's last sample for the median of its gaps.
//! Functions are told apart by name and module (or file), not by line: a
//! function's samples on different lines are one function (the app's if
//! any of its frames says so). Each distinct stack is walked once, so the
//! cost grows with the payload, however often a deep stack is sampled.
//!
//! ```
//! use receiver::api::profile_summary::summarise;
//! use serde_json::json;
//!
//! let profile = json!({
//!     "transactions": [{"id": "a", "name": "task", "active_thread_id": "1",
//!                       "relative_start_ns": "0", "relative_end_ns": "30000000"}],
//!     "profile": {
//!         "frames": [{"function": "work", "module": "app"},
//!                    {"function": "main", "module": "app"}],
//!         "stacks": [[0, 1], [1]],
//!         "samples": [
//!             {"stack_id": 0, "thread_id": "1", "elapsed_since_start_ns": "0"},
//!             {"stack_id": 0, "thread_id": "1", "elapsed_since_start_ns": "10000000"},
//!             {"stack_id": 1, "thread_id": "1", "elapsed_since_start_ns": "20000000"}]}});
//! let s = summarise(&json!(profile), None).expect("a sampled profile");
//! let work = &s.functions[0];
//! assert_eq!((work.function.as_str(), work.self_ms, work.total_ms), ("work", 20.0, 20.0));
//! let main = &s.functions[1];
//! assert_eq!((main.self_ms, main.total_ms), (10.0, 30.0));
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::types::{ProfileFunction, ProfileThread};

/// Most functions a summary lists (the slowest by self time).
pub const MAX_FUNCTIONS: usize = 200;

/// A profile's threads and the functions of the one summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Every thread that has samples, with its name and sample count.
    pub threads: Vec<ProfileThread>,
    /// The thread summarised: the one asked for, else the transaction's
    /// (`active_thread_id`), else the one with the most samples.
    pub thread_id: Option<String>,
    /// Time the thread's samples stand for, in milliseconds.
    pub sampled_ms: f64,
    /// Its functions, slowest (self time) first, at most [`MAX_FUNCTIONS`].
    pub functions: Vec<ProfileFunction>,
}

/// The summary of `thread` (or the default thread, see
/// [`Summary::thread_id`]) of a sample-format profile; `None` when the
/// payload is not one (no `profile.samples`).
pub fn summarise(payload: &Value, thread: Option<&str>) -> Option<Summary> {
    let profile = payload.get("profile")?;
    let samples = profile.get("samples")?.as_array()?;
    let stacks: Vec<Vec<usize>> = profile
        .get("stacks")
        .and_then(Value::as_array)
        .map(|stacks| {
            stacks
                .iter()
                .map(|s| {
                    s.as_array()
                        .map(|ids| ids.iter().filter_map(index).collect())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    let frames: Vec<FrameKey> = profile
        .get("frames")
        .and_then(Value::as_array)
        .map(|frames| frames.iter().map(FrameKey::of).collect())
        .unwrap_or_default();
    // Whether a function is the app's: so when any of its frames says so.
    let mut in_app: HashMap<&FrameKey, Option<bool>> = HashMap::new();
    if let Some(list) = profile.get("frames").and_then(Value::as_array) {
        for (key, frame) in frames.iter().zip(list) {
            let said = frame.get("in_app").and_then(Value::as_bool);
            let slot = in_app.entry(key).or_insert(None);
            *slot = match (*slot, said) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), _) | (_, Some(false)) => Some(false),
                _ => None,
            };
        }
    }

    // Samples by thread, in time order.
    let mut by_thread: BTreeMap<String, Vec<(f64, usize)>> = BTreeMap::new();
    for sample in samples {
        // A sample without a thread is thread 0's, as Sentry reads it.
        let (Some(thread_id), Some(stack), Some(at)) = (
            scalar_text(sample.get("thread_id")).or_else(|| Some("0".to_owned())),
            sample.get("stack_id").and_then(index),
            sample
                .get("elapsed_since_start_ns")
                .and_then(number)
                .filter(|t| t.is_finite()),
        ) else {
            continue;
        };
        by_thread.entry(thread_id).or_default().push((at, stack));
    }
    for list in by_thread.values_mut() {
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let names = thread_names(profile);
    let threads = by_thread
        .iter()
        .map(|(id, list)| ProfileThread {
            id: id.clone(),
            name: names.get(id).cloned(),
            samples: list.len(),
        })
        .collect();

    let active = payload
        .pointer("/transactions/0/active_thread_id")
        .or_else(|| payload.pointer("/transaction/active_thread_id"))
        .and_then(|v| scalar_text(Some(v)));
    let thread_id = thread
        .map(str::to_owned)
        .or(active.filter(|a| by_thread.contains_key(a)))
        .or_else(|| {
            by_thread
                .iter()
                .max_by_key(|(_, list)| list.len())
                .map(|(id, _)| id.clone())
        });
    let list = thread_id
        .as_ref()
        .and_then(|t| by_thread.get(t))
        .cloned()
        .unwrap_or_default();

    let weights = sample_weights(&list);
    // Each distinct stack is walked once with its samples' time summed:
    // samples times stack depth could be large even in a small payload
    // (10 000 samples of a 10 000-frame stack), stacks' frames are not.
    let mut per_stack: HashMap<usize, (f64, usize)> = HashMap::new();
    for ((_, stack_id), weight) in list.iter().zip(&weights) {
        let Some(stack) = stacks.get(*stack_id) else {
            continue;
        };
        if stack.is_empty() {
            continue;
        }
        let entry = per_stack.entry(*stack_id).or_insert((0.0, 0));
        entry.0 += weight;
        entry.1 += 1;
    }
    let sampled_ns: f64 = per_stack.values().map(|(w, _)| w).sum();
    let mut acc: HashMap<usize, (f64, f64, usize, usize)> = HashMap::new();
    let mut key_index: HashMap<&FrameKey, usize> = HashMap::new();
    let mut keys: Vec<&FrameKey> = Vec::new();
    let mut seen = HashSet::new();
    for (stack_id, (weight, count)) in &per_stack {
        seen.clear();
        for (depth, frame) in stacks[*stack_id].iter().enumerate() {
            let Some(key) = frames.get(*frame) else {
                continue;
            };
            let k = *key_index.entry(key).or_insert_with(|| {
                keys.push(key);
                keys.len() - 1
            });
            let entry = acc.entry(k).or_insert((0.0, 0.0, 0, 0));
            if depth == 0 {
                entry.0 += weight;
                entry.2 += count;
            }
            // A recursive function counts once per sample in its total.
            if seen.insert(k) {
                entry.1 += weight;
                entry.3 += count;
            }
        }
    }
    let mut functions: Vec<ProfileFunction> = acc
        .into_iter()
        .map(|(k, (self_ns, total_ns, self_samples, total_samples))| {
            let key = keys[k];
            ProfileFunction {
                function: key.function.clone(),
                module: key.module.clone(),
                file: key.file.clone(),
                in_app: in_app.get(key).copied().flatten(),
                self_ms: round_ms(self_ns),
                total_ms: round_ms(total_ns),
                self_samples,
                total_samples,
            }
        })
        .collect();
    functions.sort_by(|a, b| {
        b.self_ms
            .total_cmp(&a.self_ms)
            .then(b.total_ms.total_cmp(&a.total_ms))
            .then_with(|| a.function.cmp(&b.function))
    });
    functions.truncate(MAX_FUNCTIONS);
    Some(Summary {
        threads,
        thread_id,
        sampled_ms: round_ms(sampled_ns),
        functions,
    })
}

/// What tells functions apart: name and module (or file when there is no
/// module).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FrameKey {
    function: String,
    module: Option<String>,
    file: Option<String>,
}

impl FrameKey {
    fn of(frame: &Value) -> FrameKey {
        let text = |k: &str| {
            frame
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let module = text("module").or_else(|| text("package"));
        FrameKey {
            function: text("function").unwrap_or_else(|| "<unknown>".to_owned()),
            // A module names the code; a file only when there is none.
            file: if module.is_some() {
                None
            } else {
                text("filename").or_else(|| text("abs_path"))
            },
            module,
        }
    }
}

/// The time each of a thread's samples (in time order) stands for, in
/// nanoseconds: until the next one; the last, the median gap (0 alone).
fn sample_weights(list: &[(f64, usize)]) -> Vec<f64> {
    let mut gaps: Vec<f64> = list
        .windows(2)
        .map(|w| {
            let gap = w[1].0 - w[0].0;
            if gap.is_finite() {
                gap.max(0.0)
            } else {
                0.0
            }
        })
        .collect();
    let mut sorted = gaps.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    if !list.is_empty() {
        gaps.push(median);
    }
    gaps
}

/// `thread_metadata`'s names by thread id.
fn thread_names(profile: &Value) -> HashMap<String, String> {
    profile
        .get("thread_metadata")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(id, meta)| Some((id.clone(), meta.get("name")?.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// An index sent as a number or as decimal text.
fn index(v: &Value) -> Option<usize> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|i| usize::try_from(i).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number sent as a number or as decimal text (the Python SDK writes
/// nanoseconds as strings).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An id sent as text or as a number.
fn scalar_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Nanoseconds as milliseconds to the microsecond.
fn round_ms(ns: f64) -> f64 {
    // `+ 0.0` makes a negative zero (an empty sum) a zero.
    (ns / 1e3).round() / 1e3 + 0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn threads_are_told_apart_and_the_transactions_is_the_default() {
        let profile = json!({
            "transactions": [{"active_thread_id": "2"}],
            "profile": {
                "frames": [{"function": "spin", "filename": "a.py"},
                           {"function": "wait", "module": "queue"}],
                "stacks": [[0], [1]],
                "thread_metadata": {"1": {"name": "worker"}, "2": {"name": "MainThread"}},
                "samples": [
                    {"stack_id": 1, "thread_id": "1", "elapsed_since_start_ns": 0},
                    {"stack_id": 1, "thread_id": "1", "elapsed_since_start_ns": 10},
                    {"stack_id": 1, "thread_id": "1", "elapsed_since_start_ns": 20},
                    {"stack_id": 0, "thread_id": "2", "elapsed_since_start_ns": "0"},
                    {"stack_id": 0, "thread_id": "2", "elapsed_since_start_ns": "10000"}]}});
        let s = summarise(&profile, None).expect("summary");
        assert_eq!(s.thread_id.as_deref(), Some("2"));
        assert_eq!(s.threads.len(), 2);
        assert_eq!(s.threads[1].name.as_deref(), Some("MainThread"));
        assert_eq!(s.functions.len(), 1);
        assert_eq!(s.functions[0].function, "spin");
        assert_eq!(s.functions[0].file.as_deref(), Some("a.py"));
        assert_eq!(s.sampled_ms, 0.02);
        let other = summarise(&profile, Some("1")).expect("summary");
        assert_eq!(other.functions[0].module.as_deref(), Some("queue"));
        assert_eq!(other.functions[0].self_samples, 3);
    }

    #[test]
    fn recursion_counts_once_in_a_total_and_bad_indices_are_skipped() {
        let profile = json!({"profile": {
            "frames": [{"function": "fib", "module": "m"}, {"function": "main", "module": "m"}],
            "stacks": [[0, 0, 0, 1], [7, 1]],
            "samples": [
                {"stack_id": 0, "thread_id": 1, "elapsed_since_start_ns": 0},
                {"stack_id": 1, "thread_id": 1, "elapsed_since_start_ns": 1000000},
                {"stack_id": 9, "thread_id": 1, "elapsed_since_start_ns": 2000000},
                {"stack_id": 0, "elapsed_since_start_ns": 3000000}]}});
        let s = summarise(&profile, None).expect("summary");
        let fib = s
            .functions
            .iter()
            .find(|f| f.function == "fib")
            .expect("fib");
        assert_eq!(
            (fib.self_ms, fib.total_ms, fib.total_samples),
            (1.0, 1.0, 1)
        );
        let main = s
            .functions
            .iter()
            .find(|f| f.function == "main")
            .expect("main");
        assert_eq!((main.self_ms, main.total_ms), (0.0, 2.0));
        assert!(summarise(&json!({"profile": {"chunk": true}}), None).is_none());
    }

    /// What hostile or sloppy payloads send is read as far as it makes
    /// sense: indices as text, a sample without a thread as thread 0's, a
    /// time that is no number left out, a function's frames told apart
    /// only by `in_app` as one function.
    #[test]
    fn sloppy_payloads_are_read_as_far_as_they_make_sense() {
        let profile = json!({"profile": {
            "frames": [{"function": "f", "module": "m", "in_app": true},
                       {"function": "f", "module": "m"}],
            "stacks": [["0"], [1]],
            "samples": [
                {"stack_id": "0", "elapsed_since_start_ns": "0"},
                {"stack_id": 1, "elapsed_since_start_ns": "1000000"},
                {"stack_id": 1, "elapsed_since_start_ns": "inf"},
                {"stack_id": 0, "elapsed_since_start_ns": "2000000"}]}});
        let s = summarise(&profile, None).expect("summary");
        assert_eq!(s.thread_id.as_deref(), Some("0"));
        assert_eq!(s.threads[0].samples, 3, "the infinite time is left out");
        assert_eq!(s.functions.len(), 1, "{:?}", s.functions);
        let f = &s.functions[0];
        assert_eq!((f.self_samples, f.self_ms, f.in_app), (3, 3.0, Some(true)));
        assert_eq!(s.sampled_ms, 3.0);
        let empty = summarise(&json!({"profile": {"samples": []}}), None).expect("summary");
        assert!(empty.sampled_ms.is_sign_positive());
    }
}
