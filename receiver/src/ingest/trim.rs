//! Size limits of event fields (PROTOCOL.md §5, §11), applied by
//! [`super::normalize::event`] and [`super::normalize::transaction`] (so at
//! ingestion and whenever a stored event is read: the stored bytes stay as
//! they arrived). A transaction gets those of its fields an event shares
//! (its name as `transaction`, tags, its spans' tags, `extra`,
//! breadcrumbs).
//!
//! * Strings over their limit (in characters) are cut to it, the last three
//!   characters being `...`: `logger` 64, `culprit`, `transaction` and tag
//!   keys and values 200, `server_name` 256, breadcrumb `type` and
//!   `category` 128, messages (`message`, `logentry`, breadcrumb `message`)
//!   and exception values 8192, exception types 256 (as Relay: a megabyte
//!   of exception value was parameterised whole for grouping, seconds of
//!   CPU with non-ASCII text, and became the issue's title).
//! * Stack frames' `function`, `raw_function`, `symbol` and `module` are
//!   cut to 256 characters once they pass 276, `filename`, `abs_path` and
//!   `package` to 256 once they pass 296 (Relay's `symbol` and `path`
//!   limits with their allowances): grouping reads the cut names, as
//!   Sentry's does, so a C++ name of a thousand characters groups as there.
//! * Data bags are cut to a depth and a size: `extra` to depth 7 and 256 KiB
//!   (each value 16 KiB), breadcrumb `data` to depth 5 and 2 KiB, `modules`
//!   to 8 KiB. Deeper than the limit, an object or a list becomes its JSON
//!   text (as Relay does); past the size, strings are cut and the remaining
//!   entries of objects and lists are removed. Sizes count the bytes of keys,
//!   strings and scalars as JSON writes them (24 for a non-integer number).

use std::borrow::Cow;
use std::collections::BTreeMap;

use sentry_core::protocol::{Breadcrumb, Event, Frame, Stacktrace, Transaction};
use serde_json::Value;

/// What a cut string ends with.
pub const ELLIPSIS: &str = "...";

/// Cuts `s` to at most `max` characters, ending in [`ELLIPSIS`]; returns
/// whether it was cut.
///
/// ```
/// use receiver::ingest::trim::truncate;
/// let mut s = "ünïcödé text".to_owned();
/// assert!(truncate(&mut s, 8));
/// assert_eq!(s, "ünïcö...");
/// let mut short = "ok".to_owned();
/// assert!(!truncate(&mut short, 2));
/// ```
pub fn truncate(s: &mut String, max: usize) -> bool {
    match cut_at(s, max) {
        Some(end) => {
            s.truncate(end);
            s.push_str(ELLIPSIS);
            true
        }
        None => false,
    }
}

/// Where to cut `s` so that it and the ellipsis fit in `max` characters, or
/// `None` when it fits already.
fn cut_at(s: &str, max: usize) -> Option<usize> {
    // Bytes are at least characters: most strings need no counting.
    if s.len() <= max || s.chars().count() <= max {
        return None;
    }
    let keep = max.saturating_sub(ELLIPSIS.len());
    Some(s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i))
}

/// Cuts `s` to at most `max` bytes (a character is never split), ending in
/// [`ELLIPSIS`]: data bags are limited in bytes, not characters.
fn truncate_bytes(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max.saturating_sub(ELLIPSIS.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push_str(ELLIPSIS);
}

fn truncate_cow(s: &mut Cow<'static, str>, max: usize) {
    if let Some(end) = cut_at(s, max) {
        let mut owned = s[..end].to_owned();
        owned.push_str(ELLIPSIS);
        *s = Cow::Owned(owned);
    }
}

/// [`truncate`] for a string `allowance` characters past `max` (Relay's
/// `max_chars` with its `max_chars_allowance`).
fn truncate_past(s: &mut Option<String>, max: usize, allowance: usize) {
    if let Some(text) = s {
        if cut_at(text, max + allowance).is_some() {
            truncate(text, max);
        }
    }
}

/// Relay's limits of a frame's names and paths.
fn frame(frame: &mut Frame) {
    const SYMBOL: (usize, usize) = (256, 20);
    const PATH: (usize, usize) = (256, 40);
    for (field, (max, allowance)) in [
        (&mut frame.function, SYMBOL),
        (&mut frame.raw_function, SYMBOL),
        (&mut frame.symbol, SYMBOL),
        (&mut frame.module, SYMBOL),
        (&mut frame.filename, PATH),
        (&mut frame.abs_path, PATH),
        (&mut frame.package, PATH),
    ] {
        truncate_past(field, max, allowance);
    }
}

fn stacktrace(stacktrace: &mut Option<Stacktrace>) {
    for f in stacktrace.iter_mut().flat_map(|s| s.frames.iter_mut()) {
        frame(f);
    }
}

fn truncate_opt(s: &mut Option<String>, max: usize) {
    if let Some(s) = s {
        truncate(s, max);
    }
}

/// Cuts `value` to `depth` levels of nesting (`0`: an object or list
/// becomes its JSON text) and to `budget` bytes, which it uses up.
///
/// ```
/// use receiver::ingest::trim::trim_value;
/// use serde_json::json;
///
/// let mut deep = json!({"a": {"b": {"c": 1}}});
/// trim_value(&mut deep, 2, &mut 1000);
/// assert_eq!(deep, json!({"a": {"b": "{\"c\":1}"}}));
///
/// let mut big = json!({"x": "0123456789", "y": "more"});
/// trim_value(&mut big, 5, &mut 8);
/// // The key takes 1 of the 8 bytes, the cut string the other 7.
/// assert_eq!(big, json!({"x": "0123..."}), "`y` did not fit");
/// ```
pub fn trim_value(value: &mut Value, depth: usize, budget: &mut usize) {
    if depth == 0 && matches!(value, Value::Object(_) | Value::Array(_)) {
        *value = Value::String(value.to_string());
    }
    match value {
        Value::String(s) => {
            truncate_bytes(s, (*budget).max(ELLIPSIS.len()));
            *budget = budget.saturating_sub(s.len());
        }
        Value::Object(map) => {
            let mut kept = 0;
            for (key, v) in map.iter_mut() {
                if *budget == 0 {
                    break;
                }
                *budget = budget.saturating_sub(key.len());
                trim_value(v, depth - 1, budget);
                kept += 1;
            }
            keep_first(map, kept);
        }
        Value::Array(items) => {
            let mut kept = 0;
            for v in items.iter_mut() {
                if *budget == 0 {
                    break;
                }
                trim_value(v, depth - 1, budget);
                kept += 1;
            }
            items.truncate(kept);
        }
        Value::Number(n) => *budget = budget.saturating_sub(number_len(n)),
        Value::Bool(b) => *budget = budget.saturating_sub(if *b { 4 } else { 5 }),
        Value::Null => *budget = budget.saturating_sub(4),
    }
}

/// How many bytes JSON takes for `n`, without formatting it: exact for
/// integers, the longest form (24) for other numbers.
fn number_len(n: &serde_json::Number) -> usize {
    let digits = |mut v: u64| {
        let mut len = 1;
        while v >= 10 {
            v /= 10;
            len += 1;
        }
        len
    };
    match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => digits(u),
        (None, Some(i)) => 1 + digits(i.unsigned_abs()),
        _ => 24,
    }
}

/// [`trim_value`] over the values of a bag, each within `per_value` bytes
/// and all within `total`.
fn trim_bag(
    bag: &mut serde_json::Map<String, Value>,
    depth: usize,
    per_value: usize,
    total: usize,
) {
    let mut left = total;
    let mut kept = 0;
    for (key, v) in bag.iter_mut() {
        if left == 0 {
            break;
        }
        left = left.saturating_sub(key.len());
        let mut budget = per_value.min(left);
        let before = budget;
        trim_value(v, depth.saturating_sub(1), &mut budget);
        left -= before - budget;
        kept += 1;
    }
    keep_first(bag, kept);
}

/// Removes the entries of `map` after its first `n` (in its order).
fn keep_first(map: &mut serde_json::Map<String, Value>, n: usize) {
    if n < map.len() {
        let mut seen = 0;
        map.retain(|_, _| {
            seen += 1;
            seen <= n
        });
    }
}

/// Applies every limit of the module documentation to `event`.
pub(crate) fn event(event: &mut Event) {
    truncate_opt(&mut event.logger, 64);
    truncate_opt(&mut event.culprit, 200);
    truncate_opt(&mut event.transaction, 200);
    truncate_opt(&mut event.server_name, 256);
    truncate_opt(&mut event.message, 8192);
    if let Some(entry) = &mut event.logentry {
        truncate_opt(&mut entry.message, 8192);
        truncate_opt(&mut entry.formatted, 8192);
    }
    for exception in &mut event.exception.values {
        truncate(&mut exception.ty, 256);
        truncate_opt(&mut exception.value, 8192);
        stacktrace(&mut exception.stacktrace);
        stacktrace(&mut exception.raw_stacktrace);
    }
    stacktrace(&mut event.stacktrace);
    for thread in &mut event.threads.values {
        stacktrace(&mut thread.stacktrace);
    }
    tags(&mut event.tags);
    extra(&mut event.extra);
    let mut modules_left = 8 * 1024usize;
    event.modules.retain(|name, version| {
        let size = name.len() + version.len();
        let fits = size <= modules_left;
        modules_left = if fits { modules_left - size } else { 0 };
        fits
    });
    breadcrumbs(&mut event.breadcrumbs.values);
}

/// Applies the limits an event and a transaction share to `tx`: its name
/// (an event's `transaction`), tags (its spans' too), `extra` and
/// breadcrumbs.
pub(crate) fn transaction(tx: &mut Transaction) {
    if let Some(name) = &mut tx.name {
        truncate_cow(name, 200);
    }
    tags(&mut tx.tags);
    extra(&mut tx.extra);
    breadcrumbs(&mut tx.breadcrumbs.values);
    for span in &mut tx.spans {
        // Through `DerefMut` only when there are tags: it allocates.
        if !span.tags.is_empty() {
            tags(&mut span.tags);
        }
    }
}

/// Tag keys and values: 200 characters each.
fn tags(tags: &mut BTreeMap<String, String>) {
    if tags
        .iter()
        .any(|(k, v)| cut_at(k, 200).is_some() || cut_at(v, 200).is_some())
    {
        *tags = std::mem::take(tags)
            .into_iter()
            .map(|(mut k, mut v)| {
                truncate(&mut k, 200);
                truncate(&mut v, 200);
                (k, v)
            })
            .collect();
    }
}

fn extra(extra: &mut serde_json::Map<String, Value>) {
    if !extra.is_empty() {
        trim_bag(extra, 7, 16 * 1024, 256 * 1024);
    }
}

fn breadcrumbs(crumbs: &mut [Breadcrumb]) {
    for crumb in crumbs {
        truncate_cow(&mut crumb.ty, 128);
        if let Some(category) = &mut crumb.category {
            truncate_cow(category, 128);
        }
        if let Some(message) = &mut crumb.message {
            truncate_cow(message, 8192);
        }
        if !crumb.data.is_empty() {
            trim_bag(&mut crumb.data, 5, 2048, 2048);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_cut_to_their_limits() {
        let mut e: Event = serde_json::from_value(json!({
            "logger": "l".repeat(100),
            "transaction": "t".repeat(200),
            "tags": {"k".repeat(300): "v"},
            "breadcrumbs": [{"category": "c".repeat(129), "message": "short"}],
            "exception": {"values": [{"type": "T".repeat(300), "value": "é".repeat(9000)}]},
        }))
        .unwrap();
        event(&mut e);
        let exception = &e.exception.values[0];
        assert_eq!(exception.ty.chars().count(), 256);
        assert_eq!(
            exception.value.as_deref().map(|v| v.chars().count()),
            Some(8192)
        );
        assert_eq!(e.logger.as_deref().map(str::len), Some(64));
        assert!(e.logger.as_deref().unwrap().ends_with("l..."));
        assert_eq!(e.transaction.as_deref(), Some("t".repeat(200).as_str()));
        let key = e.tags.keys().next().unwrap();
        assert_eq!(key.len(), 200);
        assert!(key.ends_with("..."));
        let crumb = &e.breadcrumbs.values[0];
        assert_eq!(crumb.category.as_deref().map(str::len), Some(128));
        assert_eq!(crumb.message.as_deref(), Some("short"));
    }

    #[test]
    fn frame_names_and_paths_are_cut_past_their_allowance() {
        let frame = |function: String, path: String| json!({"function": function, "abs_path": path, "module": "m"});
        let mut e: Event = serde_json::from_value(json!({
            "exception": {"values": [{"type": "E", "stacktrace": {"frames": [
                frame("f".repeat(276), "p".repeat(296)),
                frame("f".repeat(277), "p".repeat(297)),
            ]}}]},
            "threads": {"values": [{"stacktrace": {"frames": [frame("ü".repeat(300), "/".into())]}}]},
        }))
        .unwrap();
        event(&mut e);
        let frames = &e.exception.values[0].stacktrace.as_ref().unwrap().frames;
        // Within the allowance: kept whole.
        assert_eq!(frames[0].function.as_deref().map(str::len), Some(276));
        assert_eq!(frames[0].abs_path.as_deref().map(str::len), Some(296));
        // Past it: cut to the limit, as Relay cuts.
        let cut = frames[1].function.as_deref().unwrap();
        assert_eq!(cut, format!("{}...", "f".repeat(253)));
        assert_eq!(frames[1].abs_path.as_deref().map(str::len), Some(256));
        assert_eq!(frames[1].module.as_deref(), Some("m"));
        let threads = &e.threads.values[0].stacktrace.as_ref().unwrap().frames;
        assert_eq!(
            threads[0].function.as_deref().map(|f| f.chars().count()),
            Some(256)
        );
    }

    #[test]
    fn bag_budgets_count_bytes_and_never_split_a_character() {
        // 10 000 two-byte characters: 20 000 bytes, over a value's 16 KiB.
        let mut e: Event =
            serde_json::from_value(json!({"extra": {"k": "é".repeat(10_000)}})).unwrap();
        event(&mut e);
        let cut = e.extra["k"].as_str().unwrap();
        assert!(
            cut.len() <= 16 * 1024 && cut.ends_with("..."),
            "{}",
            cut.len()
        );
        assert!(cut.trim_end_matches("...").chars().all(|c| c == 'é'));
    }

    #[test]
    fn integers_count_their_digits() {
        let len = |v: Value| match v {
            Value::Number(n) => number_len(&n),
            _ => unreachable!(),
        };
        assert_eq!(len(json!(0)), 1);
        assert_eq!(len(json!(1234)), 4);
        assert_eq!(len(json!(-56)), 3);
        assert_eq!(len(json!(u64::MAX)), 20);
        assert_eq!(len(json!(1.5)), 24);
    }

    #[test]
    fn bags_are_cut_to_depth_and_size() {
        let mut e: Event = serde_json::from_value(json!({
            "extra": {
                "deep": {"1": {"2": {"3": {"4": {"5": {"6": {"7": "x"}}}}}}},
                "big": "b".repeat(20_000),
                "small": 1,
            },
            "breadcrumbs": [{"data": {"a": "a".repeat(3000), "later": true}}],
            "modules": {"m".repeat(5000): "1", "n".repeat(5000): "2"},
        }))
        .unwrap();
        event(&mut e);
        // `extra` itself is level 1: the object at level 8 becomes text.
        assert_eq!(
            e.extra["deep"]["1"]["2"]["3"]["4"]["5"]["6"],
            json!("{\"7\":\"x\"}")
        );
        let big = e.extra["big"].as_str().unwrap();
        assert!(
            big.len() <= 16 * 1024 && big.ends_with("..."),
            "{}",
            big.len()
        );
        assert_eq!(e.extra["small"], json!(1));
        let data = &e.breadcrumbs.values[0].data;
        assert!(data["a"].as_str().unwrap().len() < 2048);
        assert!(!data.contains_key("later"), "no room left: {data:?}");
        assert_eq!(e.modules.len(), 1, "8 KiB of modules");
    }
}
