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
//! let s = summarise(&serde_json::to_vec(&profile)?, None).expect("a sampled profile");
//! let work = &s.functions[0];
//! assert_eq!((work.function.as_str(), work.self_ms, work.total_ms), ("work", 20.0, 20.0));
//! let main = &s.functions[1];
//! assert_eq!((main.self_ms, main.total_ms), (10.0, 30.0));
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;
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
/// [`Summary::thread_id`]) of a sample-format profile (its JSON bytes);
/// `None` when the payload is not one (no `profile.samples`).
pub fn summarise(payload: &[u8], thread: Option<&str>) -> Option<Summary> {
    let (samples, active) = Samples::read(payload, Clock::Elapsed)?;
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
    /// Thread ids, as `samples` index them.
    threads: Vec<String>,
    /// `(thread, time in nanoseconds, stack index)`.
    samples: Vec<(u32, f64, usize)>,
    /// Thread names by id.
    names: HashMap<String, String>,
}

/// Where a payload's sample times come from.
#[derive(Clone, Copy)]
enum Clock {
    /// `elapsed_since_start_ns` (sample format version 1).
    Elapsed,
    /// Unix `timestamp`s in seconds, taken as nanoseconds after this Unix
    /// time (version 2) to keep their precision.
    UnixAfter(f64),
}

impl Samples {
    /// A continuous profiler's chunk (`profile_chunk`, version 2, its JSON
    /// bytes): times are nanoseconds after `origin` (a Unix time). `None`
    /// without `profile.samples`.
    pub fn of_chunk(payload: &[u8], origin: f64) -> Option<Samples> {
        Samples::read(payload, Clock::UnixAfter(origin)).map(|(s, _)| s)
    }

    /// The samples and the transaction's thread (version 1's
    /// `active_thread_id`). Read into types, not a JSON tree: a 50 MiB
    /// payload of a million samples would take ten times its size as one.
    fn read(payload: &[u8], clock: Clock) -> Option<(Samples, Option<String>)> {
        let wire: PayloadWire = serde_json::from_slice(payload).ok()?;
        let active = wire
            .transactions
            .as_ref()
            .and_then(|t| t.first())
            .or(wire.transaction.as_ref())
            .and_then(|t| scalar_text(t.get("active_thread_id")));
        let profile = wire.profile?;
        let list = profile.samples?;
        let stacks = profile
            .stacks
            .iter()
            .map(|s| {
                s.as_array()
                    .map(|ids| ids.iter().filter_map(index).collect())
                    .unwrap_or_default()
            })
            .collect();
        let mut threads: Vec<String> = Vec::new();
        let mut thread_index: HashMap<String, u32> = HashMap::new();
        let mut samples = Vec::with_capacity(list.len());
        for sample in list.into_iter().flatten() {
            let at = match clock {
                Clock::Elapsed => sample.elapsed_since_start_ns.as_ref().and_then(number),
                Clock::UnixAfter(origin) => sample
                    .timestamp
                    .as_ref()
                    .and_then(number)
                    .map(|t| (t - origin) * 1e9),
            };
            let (Some(stack), Some(at)) = (
                sample.stack_id.as_ref().and_then(index),
                at.filter(|t| t.is_finite()),
            ) else {
                continue;
            };
            // A sample without a thread is thread 0's, as Sentry reads it.
            let thread = scalar_text(sample.thread_id.as_ref()).unwrap_or_else(|| "0".to_owned());
            let next = threads.len() as u32;
            let t = *thread_index.entry(thread).or_insert_with_key(|id| {
                threads.push(id.clone());
                next
            });
            samples.push((t, at, stack));
        }
        let names = profile
            .thread_metadata
            .as_ref()
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(id, meta)| {
                        Some((id.clone(), meta.get("name")?.as_str()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let samples = Samples {
            frames: profile.frames.iter().map(FrameKey::of).collect(),
            in_app: profile
                .frames
                .iter()
                .map(|f| f.get("in_app").and_then(Value::as_bool))
                .collect(),
            stacks,
            threads,
            samples,
            names,
        };
        Some((samples, active))
    }
}

/// The parts of a profile or chunk [`Samples::read`] reads.
#[derive(Deserialize)]
struct PayloadWire {
    #[serde(default)]
    profile: Option<ProfileWire>,
    #[serde(default)]
    transactions: Option<Vec<Value>>,
    #[serde(default)]
    transaction: Option<Value>,
}

#[derive(Deserialize)]
struct ProfileWire {
    #[serde(default)]
    samples: Option<Vec<Option<SampleWire>>>,
    #[serde(default)]
    stacks: Vec<Value>,
    #[serde(default)]
    frames: Vec<Value>,
    #[serde(default)]
    thread_metadata: Option<Value>,
}

#[derive(Deserialize)]
struct SampleWire {
    #[serde(default)]
    stack_id: Option<Value>,
    #[serde(default)]
    thread_id: Option<Value>,
    #[serde(default)]
    elapsed_since_start_ns: Option<Value>,
    #[serde(default)]
    timestamp: Option<Value>,
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

    // Samples by thread, in time order: `(time, part, stack)`. A sample at
    // the very time of one of another part (a chunk uploaded twice under
    // two ids) is that one again; within a part, two samples may share a
    // millisecond.
    let mut by_thread: BTreeMap<&str, Vec<(f64, usize, usize)>> = BTreeMap::new();
    for (p, part) in parts.iter().enumerate() {
        for (thread, at, stack) in &part.samples {
            if window.is_some_and(|(from, to)| *at < from || *at > to) {
                continue;
            }
            let Some(thread_id) = part.threads.get(*thread as usize) else {
                continue;
            };
            by_thread
                .entry(thread_id.as_str())
                .or_default()
                .push((*at, p, *stack));
        }
    }
    for list in by_thread.values_mut() {
        list.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        list.dedup_by(|later, earlier| later.0 == earlier.0 && later.1 != earlier.1);
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

    let mut weights = sample_weights(list, parts.len());
    // Within a window, no sample stands for time after its end.
    if let Some((_, to)) = window {
        for (w, (at, _, _)) in weights.iter_mut().zip(list) {
            *w = w.min((to - at).max(0.0));
        }
    }
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
/// stack)`, of `parts` payloads) stands for, in nanoseconds: until the
/// thread's next sample in the same part; the last of a part, the median
/// of those gaps (0 alone). A profiler may pause between chunks (one that
/// profiles traces only samples while one runs), and two chunks may cover
/// the same time: neither a pause nor the other chunk's samples is a
/// sample's time.
fn sample_weights(list: &[(f64, usize, usize)], parts: usize) -> Vec<f64> {
    let mut weights: Vec<Option<f64>> = vec![None; list.len()];
    let mut previous: Vec<Option<usize>> = vec![None; parts];
    for (i, (at, part, _)) in list.iter().enumerate() {
        if let Some(slot) = previous.get_mut(*part) {
            if let Some(before) = slot.replace(i) {
                let gap = at - list[before].0;
                weights[before] = Some(if gap.is_finite() { gap.max(0.0) } else { 0.0 });
            }
        }
    }
    let mut sorted: Vec<f64> = weights.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    weights.into_iter().map(|w| w.unwrap_or(median)).collect()
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

    fn bytes(v: &Value) -> Vec<u8> {
        serde_json::to_vec(v).expect("json")
    }

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
        let s = summarise(&bytes(&profile), None).expect("summary");
        assert_eq!(s.thread_id.as_deref(), Some("2"));
        assert_eq!(s.threads.len(), 2);
        assert_eq!(s.threads[1].name.as_deref(), Some("MainThread"));
        assert_eq!(s.functions.len(), 1);
        assert_eq!(s.functions[0].function, "spin");
        assert_eq!(s.functions[0].file.as_deref(), Some("a.py"));
        assert_eq!(s.sampled_ms, 0.02);
        let other = summarise(&bytes(&profile), Some("1")).expect("summary");
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
        let s = summarise(&bytes(&profile), None).expect("summary");
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
        assert!(summarise(&bytes(&json!({"profile": {"chunk": true}})), None).is_none());
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
            .filter_map(|c| Samples::of_chunk(&bytes(c), origin))
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
        // No sample stands for time after the window: the last one ends
        // with it.
        let cut = summarise_samples(&parts, None, None, Some((0.0, 0.025e9)));
        assert_eq!(cut.sampled_ms, 25.0);

        // The same chunk uploaded twice (under two chunk ids) counts once;
        // a chunk overlapping another keeps its own gaps.
        let twice: Vec<Samples> = [chunk(origin, "first"), chunk(origin, "first")]
            .iter()
            .filter_map(|c| Samples::of_chunk(&bytes(c), origin))
            .collect();
        let once = summarise_samples(&twice, None, None, None);
        assert_eq!((once.threads[0].samples, once.sampled_ms), (3, 30.0));
        let shifted: Vec<Samples> = [chunk(origin, "first"), chunk(origin + 0.005, "other")]
            .iter()
            .filter_map(|c| Samples::of_chunk(&bytes(c), origin))
            .collect();
        let both = summarise_samples(&shifted, None, None, None);
        assert_eq!(both.threads[0].samples, 6);
        assert!(
            both.functions.iter().all(|f| f.self_ms == 30.0),
            "{:?}",
            both.functions
        );
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
        let s = summarise(&bytes(&profile), None).expect("summary");
        assert_eq!(s.thread_id.as_deref(), Some("0"));
        assert_eq!(s.threads[0].samples, 3, "the infinite time is left out");
        assert_eq!(s.functions.len(), 1, "{:?}", s.functions);
        let f = &s.functions[0];
        assert_eq!((f.self_samples, f.self_ms, f.in_app), (3, 3.0, Some(true)));
        assert_eq!(s.sampled_ms, 3.0);
        let empty = summarise(&bytes(&json!({"profile": {"samples": []}})), None).expect("summary");
        assert!(empty.sampled_ms.is_sign_positive());
    }
}
