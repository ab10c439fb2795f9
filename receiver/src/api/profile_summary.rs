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
    let samples = Samples::of_profile(payload)?;
    let active = payload
        .pointer("/transactions/0/active_thread_id")
        .or_else(|| payload.pointer("/transaction/active_thread_id"))
        .and_then(|v| scalar_text(Some(v)));
    Some(summarise_samples(&[samples], thread, active, None))
}

/// One payload's frames, stacks and samples, as [`summarise_samples`]
/// reads them.
#[derive(Debug, Default)]
pub struct Samples {
    frames: Vec<FrameKey>,
    /// Per frame: whether the SDK called it the app's.
    in_app: Vec<Option<bool>>,
    /// Frame indices, innermost first.
    stacks: Vec<Vec<usize>>,
    /// `(thread, time in nanoseconds, stack index)`.
    samples: Vec<(String, f64, usize)>,
    /// Thread names by id.
    names: HashMap<String, String>,
}

impl Samples {
    /// A transaction's profile (sample format version 1): times are
    /// `elapsed_since_start_ns`. `None` without `profile.samples`.
    pub fn of_profile(payload: &Value) -> Option<Samples> {
        Samples::read(payload, |sample| {
            sample.get("elapsed_since_start_ns").and_then(number)
        })
    }

    /// A continuous profiler's chunk (`profile_chunk`, version 2): times
    /// are Unix `timestamp`s in seconds, taken as nanoseconds after
    /// `origin` (a Unix time) to keep their precision. `None` without
    /// `profile.samples`.
    pub fn of_chunk(payload: &Value, origin: f64) -> Option<Samples> {
        Samples::read(payload, |sample| {
            let at = sample.get("timestamp").and_then(number)?;
            Some((at - origin) * 1e9)
        })
    }

    fn read(payload: &Value, time: impl Fn(&Value) -> Option<f64>) -> Option<Samples> {
        let profile = payload.get("profile")?;
        let list = profile.get("samples")?.as_array()?;
        let stacks = profile
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
        let raw_frames = profile
            .get("frames")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut samples = Vec::with_capacity(list.len());
        for sample in list {
            // A sample without a thread is thread 0's, as Sentry reads it.
            let thread = scalar_text(sample.get("thread_id")).unwrap_or_else(|| "0".to_owned());
            let (Some(stack), Some(at)) = (
                sample.get("stack_id").and_then(index),
                time(sample).filter(|t| t.is_finite()),
            ) else {
                continue;
            };
            samples.push((thread, at, stack));
        }
        Some(Samples {
            frames: raw_frames.iter().map(FrameKey::of).collect(),
            in_app: raw_frames
                .iter()
                .map(|f| f.get("in_app").and_then(Value::as_bool))
                .collect(),
            stacks,
            samples,
            names: thread_names(profile),
        })
    }
}

/// The summary of several payloads' samples taken as one profile (a
/// profiler's chunks, one after another): of `thread`, else `preferred`
/// when it has samples, else the thread with the most samples (a main
/// thread on a tie). With a `window` (nanoseconds, as the samples' times),
/// only the samples inside it count.
pub fn summarise_samples(
    parts: &[Samples],
    thread: Option<&str>,
    preferred: Option<String>,
    window: Option<(f64, f64)>,
) -> Summary {
    // Whether a function is the app's: so when any of its frames says so.
    let mut in_app: HashMap<&FrameKey, Option<bool>> = HashMap::new();
    for part in parts {
        for (key, said) in part.frames.iter().zip(&part.in_app) {
            let slot = in_app.entry(key).or_insert(None);
            *slot = match (*slot, *said) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), _) | (_, Some(false)) => Some(false),
                _ => None,
            };
        }
    }

    // Samples by thread, in time order: `(time, part, stack)`.
    let mut by_thread: BTreeMap<&str, Vec<(f64, usize, usize)>> = BTreeMap::new();
    for (p, part) in parts.iter().enumerate() {
        for (thread_id, at, stack) in &part.samples {
            if window.is_some_and(|(from, to)| *at < from || *at > to) {
                continue;
            }
            by_thread
                .entry(thread_id.as_str())
                .or_default()
                .push((*at, p, *stack));
        }
    }
    for list in by_thread.values_mut() {
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    // A thread's name as the latest part that names it says.
    let name_of = |id: &str| parts.iter().rev().find_map(|p| p.names.get(id)).cloned();
    let threads = by_thread
        .iter()
        .map(|(id, list)| ProfileThread {
            id: (*id).to_owned(),
            name: name_of(id),
            samples: list.len(),
        })
        .collect();

    let is_main =
        |id: &str| name_of(id).is_some_and(|n| n.eq_ignore_ascii_case("mainthread") || n == "main");
    let thread_id = thread
        .map(str::to_owned)
        .or(preferred.filter(|a| by_thread.contains_key(a.as_str())))
        .or_else(|| {
            by_thread
                .iter()
                .max_by_key(|(id, list)| (list.len(), is_main(id)))
                .map(|(id, _)| (*id).to_owned())
        });
    let list = thread_id
        .as_deref()
        .and_then(|t| by_thread.get(t))
        .map(Vec::as_slice)
        .unwrap_or_default();

    let weights = sample_weights(list);
    // Each distinct stack is walked once with its samples' time summed:
    // samples times stack depth could be large even in a small payload
    // (10 000 samples of a 10 000-frame stack), stacks' frames are not.
    let mut per_stack: HashMap<(usize, usize), (f64, usize)> = HashMap::new();
    for ((_, part, stack_id), weight) in list.iter().zip(&weights) {
        let Some(stack) = parts[*part].stacks.get(*stack_id) else {
            continue;
        };
        if stack.is_empty() {
            continue;
        }
        let entry = per_stack.entry((*part, *stack_id)).or_insert((0.0, 0));
        entry.0 += weight;
        entry.1 += 1;
    }
    let sampled_ns: f64 = per_stack.values().map(|(w, _)| w).sum();
    let mut acc: HashMap<&FrameKey, (f64, f64, usize, usize)> = HashMap::new();
    let mut seen = HashSet::new();
    for ((part, stack_id), (weight, count)) in &per_stack {
        let part = &parts[*part];
        seen.clear();
        for (depth, frame) in part.stacks[*stack_id].iter().enumerate() {
            let Some(key) = part.frames.get(*frame) else {
                continue;
            };
            let entry = acc.entry(key).or_insert((0.0, 0.0, 0, 0));
            if depth == 0 {
                entry.0 += weight;
                entry.2 += count;
            }
            // A recursive function counts once per sample in its total.
            if seen.insert(key) {
                entry.1 += weight;
                entry.3 += count;
            }
        }
    }
    let mut functions: Vec<ProfileFunction> = acc
        .into_iter()
        .map(
            |(key, (self_ns, total_ns, self_samples, total_samples))| ProfileFunction {
                function: key.function.clone(),
                module: key.module.clone(),
                file: key.file.clone(),
                in_app: in_app.get(key).copied().flatten(),
                self_ms: round_ms(self_ns),
                total_ms: round_ms(total_ns),
                self_samples,
                total_samples,
            },
        )
        .collect();
    functions.sort_by(|a, b| {
        b.self_ms
            .total_cmp(&a.self_ms)
            .then(b.total_ms.total_cmp(&a.total_ms))
            .then_with(|| a.function.cmp(&b.function))
            .then_with(|| a.module.cmp(&b.module))
            .then_with(|| a.file.cmp(&b.file))
    });
    functions.truncate(MAX_FUNCTIONS);
    Summary {
        threads,
        thread_id,
        sampled_ms: round_ms(sampled_ns),
        functions,
    }
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

/// The time each of a thread's samples (in time order, `(time, part,
/// stack)`) stands for, in nanoseconds: until the thread's next sample in
/// the same part; the last of a part, the median of those gaps (0 alone).
/// A profiler may pause between chunks (one that profiles traces only
/// samples while one runs): the pause is no sample's time.
fn sample_weights(list: &[(f64, usize, usize)]) -> Vec<f64> {
    let gaps: Vec<Option<f64>> = list
        .windows(2)
        .map(|w| {
            let gap = w[1].0 - w[0].0;
            (w[0].1 == w[1].1).then_some(if gap.is_finite() { gap.max(0.0) } else { 0.0 })
        })
        .collect();
    let mut sorted: Vec<f64> = gaps.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    let mut weights: Vec<f64> = gaps.into_iter().map(|g| g.unwrap_or(median)).collect();
    if !list.is_empty() {
        weights.push(median);
    }
    weights
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

    /// A profiler's chunks read as one: stack indices are each chunk's
    /// own, a pause between chunks is no sample's time, and a window keeps
    /// the samples inside it.
    #[test]
    fn chunks_are_read_as_one_profile_without_the_pauses_between_them() {
        let chunk = |t0: f64, function: &str| {
            let samples: Vec<Value> = [0.0, 0.01, 0.02]
                .iter()
                .map(|dt| json!({"timestamp": t0 + dt, "thread_id": "1", "stack_id": 0}))
                .collect();
            json!({"profile": {
                "frames": [{"function": function, "module": "m"}],
                "stacks": [[0]],
                "thread_metadata": {"1": {"name": "main"}},
                "samples": samples}})
        };
        let origin = 1_800_000_000.0;
        // The profiler paused for a minute between the two chunks.
        let parts: Vec<Samples> = [chunk(origin, "first"), chunk(origin + 60.0, "second")]
            .iter()
            .filter_map(|c| Samples::of_chunk(c, origin))
            .collect();
        let s = summarise_samples(&parts, None, None, None);
        assert_eq!(s.threads[0].samples, 6);
        let ms = |name: &str| {
            s.functions
                .iter()
                .find(|f| f.function == name)
                .map(|f| f.self_ms)
        };
        assert_eq!((ms("first"), ms("second")), (Some(30.0), Some(30.0)));
        assert_eq!(s.sampled_ms, 60.0);
        let window = summarise_samples(&parts, None, None, Some((59.0e9, 61.0e9)));
        assert_eq!(window.functions.len(), 1);
        assert_eq!(window.functions[0].function, "second");
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
