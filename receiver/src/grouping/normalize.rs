//! Stack-trace normalisation before grouping (PROTOCOL.md §10.1 step 2 and
//! the "details that change results" of §10.3).
//!
//! Frames are not copied: [`NFrame`] borrows from the event and only owns a
//! string where normalisation changed it.
//!
//! * `function` is trimmed and loses a trailing Rust symbol hash
//!   (`::h` + 16 lowercase hex digits); a native or C# signature sent
//!   without `raw_function` is reduced to the function's name
//!   ([`super::function_name`]), the sent one becoming `raw_function`.
//! * A missing `abs_path` is taken from `filename`; a missing `filename` from
//!   `abs_path`; a URL `filename` becomes the URL's path.
//! * JavaScript / Node filenames lose their `?query`.
//! * `in_app: null` becomes `false`.
//! * A built-in subset of the `newstyle:2023-01-11` stack-trace rules
//!   (see [`apply_rules`]) may then flip `in_app` off or exclude frames from
//!   grouping.
//! * Only the last 250 frames are kept, as Relay does.

use std::borrow::Cow;

use sentry_core::protocol::Frame;

use super::function_name;

/// Relay keeps only the newest 250 frames of a stack trace.
pub(crate) const MAX_FRAMES: usize = 250;

/// A frame as grouping sees it.
#[derive(Debug, Clone)]
pub(crate) struct NFrame<'a> {
    /// Frame platform, else the event's.
    pub platform: &'a str,
    /// Trimmed function without a Rust symbol hash.
    pub function: Option<Cow<'a, str>>,
    /// The original function name, if sent.
    pub raw_function: Option<&'a str>,
    pub module: Option<&'a str>,
    pub package: Option<&'a str>,
    /// Normalised filename.
    pub filename: Option<Cow<'a, str>>,
    /// `abs_path`, else the original `filename`.
    pub abs_path: Option<&'a str>,
    pub lineno: Option<u64>,
    pub colno: Option<u64>,
    pub context_line: Option<&'a str>,
    /// `in_app` after defaulting and stack-trace rules.
    pub in_app: bool,
    /// `Some(rule)` when a stack-trace rule excludes the frame from grouping.
    pub excluded_by: Option<&'static str>,
    /// Whether a source map was applied (`data.sourcemap` is set).
    pub sourcemap_used: bool,
}

/// Behaviour family of a platform (Sentry's
/// `get_behavior_family_for_platform`; `rust` is counted as native).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Native,
    JavaScript,
    Other,
}

pub(crate) fn family(platform: &str) -> Family {
    match platform {
        "objc" | "cocoa" | "swift" | "native" | "c" | "rust" => Family::Native,
        "javascript" | "node" => Family::JavaScript,
        _ => Family::Other,
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Strips a trailing Rust legacy symbol hash `::h` + 16 lowercase hex digits.
pub(crate) fn strip_rust_hash(function: &str) -> &str {
    let b = function.as_bytes();
    if b.len() >= 19 {
        let (head, hash) = b.split_at(b.len() - 16);
        if head.ends_with(b"::h") && hash.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return &function[..b.len() - 19];
        }
    }
    function
}

/// Whether `s` starts with a URL scheme followed by `://`.
fn is_url(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(colon) = b
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-')))
    else {
        return false;
    };
    colon > 0 && b[0].is_ascii_alphabetic() && b[colon..].starts_with(b"://")
}

/// The path of a URL (`https://host/a/b.js?x#y` → `/a/b.js`), if it has a
/// non-trivial one.
fn url_path(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let path = &rest[rest.find('/')?..];
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let path = &path[..end];
    (path.len() > 1).then_some(path)
}

/// Normalises the frames of one stack trace (oldest first).
pub(crate) fn normalize_frames<'a>(
    frames: &'a [Frame],
    event_platform: &'a str,
) -> Vec<NFrame<'a>> {
    let frames = &frames[frames.len().saturating_sub(MAX_FRAMES)..];
    let mut out: Vec<NFrame<'a>> = frames
        .iter()
        .map(|f| normalize_frame(f, event_platform))
        .collect();
    apply_rules(&mut out);
    out
}

/// `in_app` of every frame after defaulting and stack-trace rules (all
/// frames, no truncation).
pub(crate) fn effective_in_app(frames: &[Frame], event_platform: &str) -> Vec<bool> {
    let mut out: Vec<NFrame<'_>> = frames
        .iter()
        .map(|f| normalize_frame(f, event_platform))
        .collect();
    apply_rules(&mut out);
    out.iter().map(|f| f.in_app).collect()
}

/// A frame's file as grouping reads it: a URL's path, a JavaScript file
/// without its query string.
pub(crate) fn normalized_filename<'a>(
    f: &'a Frame,
    event_platform: &'a str,
) -> Option<Cow<'a, str>> {
    normalize_frame(f, event_platform).filename
}

/// A frame's function as grouping reads it (trimmed, without a Rust symbol
/// hash), which titles and culprits show as Sentry does.
pub(crate) fn normalized_function<'a>(
    f: &'a Frame,
    event_platform: &'a str,
) -> Option<Cow<'a, str>> {
    normalize_frame(f, event_platform).function
}

fn normalize_frame<'a>(f: &'a Frame, event_platform: &'a str) -> NFrame<'a> {
    let platform = non_empty(&f.platform).unwrap_or(event_platform);
    let mut raw_function = non_empty(&f.raw_function);
    let sent = non_empty(&f.function);
    // Sentry trims what the SDK did not (no `raw_function`); the name sent
    // becomes the raw one, which grouping falls back to when nothing is left.
    let trimmed = match (sent, raw_function) {
        (Some(sent), None) => function_name::trimmed(sent, platform).inspect(|_| {
            raw_function = Some(sent);
        }),
        _ => None,
    };
    let function = match trimmed {
        Some(trimmed) => Some(trimmed).filter(|s| !s.is_empty()),
        None => sent
            .map(|s| strip_rust_hash(s.trim()))
            .filter(|s| !s.is_empty())
            .map(Cow::Borrowed),
    };
    let raw_filename = non_empty(&f.filename);
    let abs_path = non_empty(&f.abs_path).or(raw_filename);
    let mut filename: Option<Cow<'a, str>> = match raw_filename {
        Some(name) if is_url(name) => Some(Cow::Borrowed(url_path(name).unwrap_or(name))),
        Some(name) => Some(Cow::Borrowed(name)),
        None => abs_path.map(|p| {
            Cow::Borrowed(if is_url(p) {
                url_path(p).unwrap_or(p)
            } else {
                p
            })
        }),
    };
    if family(platform) == Family::JavaScript {
        if let Some(Cow::Borrowed(name)) = filename {
            if let Some(q) = name.find('?') {
                filename = Some(Cow::Borrowed(&name[..q]));
            }
        }
    }
    let sourcemap_used = f
        .other
        .get("data")
        .and_then(|d| d.get("sourcemap"))
        .is_some_and(|v| !v.is_null());
    NFrame {
        platform,
        function,
        raw_function,
        module: non_empty(&f.module),
        package: non_empty(&f.package),
        filename,
        abs_path,
        lineno: f.lineno,
        colno: f.colno,
        context_line: f.context_line.as_deref(),
        in_app: f.in_app.unwrap_or(false),
        excluded_by: None,
        sourcemap_used,
    }
}

/// What a rule does to the matched frame and to the frames above it (newer,
/// towards the crash).
#[derive(Clone, Copy)]
struct Action {
    /// `-app` on the frame.
    not_app: bool,
    /// `-group` on the frame.
    no_group: bool,
    /// `^-app` (frames above).
    up_not_app: bool,
    /// `^-group` (frames above).
    up_no_group: bool,
}

const NOT_APP: Action = Action {
    not_app: true,
    no_group: false,
    up_not_app: false,
    up_no_group: false,
};
const NOT_APP_NO_GROUP: Action = Action {
    not_app: true,
    no_group: true,
    up_not_app: false,
    up_no_group: false,
};
const BORDER: Action = Action {
    not_app: true,
    no_group: true,
    up_not_app: true,
    up_no_group: true,
};
const NOT_APP_UP: Action = Action {
    not_app: true,
    no_group: false,
    up_not_app: true,
    up_no_group: false,
};

/// Native functions (exact match) that mark the start of the crash
/// machinery: the frame and every newer one are excluded and not in-app.
const NATIVE_BORDERS: [(&str, &str); 8] = [
    (
        "std::panicking::begin_panic",
        "family:native function:std::panicking::begin_panic ^-group -group ^-app -app",
    ),
    (
        "core::panicking::begin_panic",
        "family:native function:core::panicking::begin_panic ^-group -group ^-app -app",
    ),
    (
        "failure::backtrace::Backtrace::new",
        "family:native function:failure::backtrace::Backtrace::new ^-group -group ^-app -app",
    ),
    (
        "error_chain::make_backtrace",
        "family:native function:error_chain::make_backtrace ^-group -group ^-app -app",
    ),
    (
        "_CxxThrowException",
        "family:native function:_CxxThrowException ^-group -group ^-app -app",
    ),
    (
        "__cxa_throw",
        "family:native function:__cxa_throw ^-group -group ^-app -app",
    ),
    (
        "__assert_rtn",
        "family:native function:__assert_rtn ^-group -group ^-app -app",
    ),
    (
        "_NSRaiseError",
        "family:native function:_NSRaiseError ^-group -group ^-app -app",
    ),
];

/// Native functions (exact match): the frame and every newer one are not
/// in-app.
const NATIVE_PANIC_FMT: [(&str, &str); 2] = [
    (
        "std::panicking::panic_fmt",
        "family:native function:std::panicking::panic_fmt ^-app -app",
    ),
    (
        "core::panicking::panic_fmt",
        "family:native function:core::panicking::panic_fmt ^-app -app",
    ),
];

/// Native function prefixes that are never in-app (Rust's standard library).
const NATIVE_NOT_APP_PREFIXES: [(&str, &str); 4] = [
    ("std::", "family:native function:std::* -app"),
    ("core::", "family:native function:core::* -app"),
    ("alloc::", "family:native function:alloc::* -app"),
    ("__rust_", "family:native function:__rust_* -app"),
];

/// Node runtime functions (any platform): not in-app, excluded.
const NODE_INTERNALS: [(&str, &str); 5] = [
    ("runMicrotasks", "function:runMicrotasks -app -group"),
    ("queueMicrotask", "function:queueMicrotask -app -group"),
    (
        "processTicksAndRejections",
        "function:processTicksAndRejections -app -group",
    ),
    ("runNextTicks", "function:runNextTicks -app -group"),
    ("nextTick", "function:nextTick -app -group"),
];

/// Transpiler / polyfill module prefixes (any platform): not in-app,
/// excluded.
const TRANSPILER_MODULES: [(&str, &str); 4] = [
    ("@babel/", "module:@babel/** -app -group"),
    ("core-js/", "module:core-js/** -app -group"),
    (
        "regenerator-runtime/",
        "module:regenerator-runtime/** -app -group",
    ),
    ("tslib/", "module:tslib/** -app -group"),
];

fn exact(table: &[(&str, &'static str)], value: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(k, _)| *k == value)
        .map(|(_, rule)| *rule)
}

fn prefix(table: &[(&str, &'static str)], value: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(k, _)| value.starts_with(k))
        .map(|(_, rule)| *rule)
}

/// The built-in stack-trace rules, a subset of Sentry's
/// `newstyle@2023-01-11` enhancements: the Rust, C++ and Objective-C
/// "border" rules, Rust's standard library, and the Node / JavaScript
/// runtime and transpiler frames. Returns the action and the rule's text.
fn match_rule(f: &NFrame<'_>) -> Option<(Action, &'static str)> {
    let fam = family(f.platform);
    if let Some(func) = f.function.as_deref() {
        if fam == Family::Native {
            if let Some(rule) = exact(&NATIVE_BORDERS, func) {
                return Some((BORDER, rule));
            }
            if let Some(rule) = exact(&NATIVE_PANIC_FMT, func) {
                return Some((NOT_APP_UP, rule));
            }
            if let Some(rule) = prefix(&NATIVE_NOT_APP_PREFIXES, func) {
                return Some((NOT_APP, rule));
            }
            if func == "rust_begin_unwind" {
                return Some((NOT_APP, "family:native function:rust_begin_unwind -app"));
            }
        }
        if let Some(rule) = exact(&NODE_INTERNALS, func) {
            return Some((NOT_APP_NO_GROUP, rule));
        }
        if fam == Family::JavaScript {
            if func == "_callSuper" {
                return Some((
                    NOT_APP_NO_GROUP,
                    "family:javascript function:_callSuper -app -group",
                ));
            }
            if func == "reportError" {
                return Some((
                    NOT_APP_UP,
                    "family:javascript function:reportError ^-app -app",
                ));
            }
        }
    }
    let rule = prefix(&TRANSPILER_MODULES, f.module?)?;
    Some((NOT_APP_NO_GROUP, rule))
}

/// Applies the built-in stack-trace rules ([`match_rule`]) in frame order.
pub(crate) fn apply_rules(frames: &mut [NFrame<'_>]) {
    for i in 0..frames.len() {
        let Some((action, rule)) = match_rule(&frames[i]) else {
            continue;
        };
        if action.not_app {
            frames[i].in_app = false;
        }
        if action.no_group {
            frames[i].excluded_by = Some(rule);
        }
        if action.up_not_app || action.up_no_group {
            for f in &mut frames[i + 1..] {
                if action.up_not_app {
                    f.in_app = false;
                }
                if action.up_no_group {
                    f.excluded_by = Some(rule);
                }
            }
        }
    }
}

/// Sentry's `has_url_origin`: `http:`, `https:`, `applewebdata:` and
/// `blob:` paths are URLs; `file:` only when `allow_file_origin` is false.
pub(crate) fn has_url_origin(path: Option<&str>, allow_file_origin: bool) -> bool {
    let Some(path) = path else { return false };
    if ["http:", "https:", "applewebdata:", "blob:"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        return true;
    }
    path.starts_with("file:") && !allow_file_origin
}

/// Recursion: identical `abs_path, package, module, filename, function,
/// lineno, colno` to the previous frame.
pub(crate) fn is_recursion(a: &NFrame<'_>, b: &NFrame<'_>) -> bool {
    a.abs_path == b.abs_path
        && a.package == b.package
        && a.module == b.module
        && a.filename == b.filename
        && a.function == b.function
        && a.lineno == b.lineno
        && a.colno == b.colno
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str) -> Frame {
        Frame {
            function: Some(function.into()),
            ..Default::default()
        }
    }

    #[test]
    fn rust_hash_is_stripped_only_when_it_is_one() {
        assert_eq!(strip_rust_hash("app::main::h0123456789abcdef"), "app::main");
        assert_eq!(
            strip_rust_hash("app::main::h1234abcd"),
            "app::main::h1234abcd"
        );
        assert_eq!(
            strip_rust_hash("app::main::h0123456789ABCDEF"),
            "app::main::h0123456789ABCDEF"
        );
        assert_eq!(strip_rust_hash("h0123456789abcdef"), "h0123456789abcdef");
        assert_eq!(strip_rust_hash("app::{{closure}}"), "app::{{closure}}");
    }

    #[test]
    fn urls() {
        assert!(is_url("https://x.com/a.js"));
        assert!(is_url("webpack://app/./src/a.js"));
        assert!(!is_url("/srv/app/a.py"));
        assert!(!is_url("C:\\app\\a.cs"));
        assert!(!is_url("://nothing"));
        assert_eq!(url_path("https://x.com/a/b.js?q=1#f"), Some("/a/b.js"));
        assert_eq!(url_path("https://x.com/"), None);
    }

    #[test]
    fn paths_are_filled_in() {
        let f = Frame {
            filename: Some("https://cdn.example.com/static/app.3f9a1c.js?v=2".into()),
            ..Default::default()
        };
        let n = normalize_frames(std::slice::from_ref(&f), "javascript");
        assert_eq!(n[0].filename.as_deref(), Some("/static/app.3f9a1c.js"));
        assert_eq!(n[0].abs_path, f.filename.as_deref());

        let f = Frame {
            abs_path: Some("/srv/app/main.py".into()),
            ..Default::default()
        };
        let n = normalize_frames(std::slice::from_ref(&f), "python");
        assert_eq!(n[0].filename.as_deref(), Some("/srv/app/main.py"));

        let f = Frame {
            filename: Some("app.js?cache=1".into()),
            ..Default::default()
        };
        let n = normalize_frames(std::slice::from_ref(&f), "node");
        assert_eq!(n[0].filename.as_deref(), Some("app.js"));
        assert!(!n[0].in_app);
    }

    #[test]
    fn rust_rules() {
        let mut frames = vec![
            frame("app::main"),
            frame("std::panicking::begin_panic"),
            frame("app::inner"),
        ];
        frames[0].in_app = Some(true);
        frames[2].in_app = Some(true);
        let n = normalize_frames(&frames, "native");
        assert!(n[0].in_app && n[0].excluded_by.is_none());
        assert!(!n[1].in_app && n[1].excluded_by.is_some());
        assert!(!n[2].in_app && n[2].excluded_by.is_some());

        let mut f = frame("core::option::unwrap_failed");
        f.in_app = Some(true);
        let n = normalize_frames(std::slice::from_ref(&f), "native");
        assert!(!n[0].in_app && n[0].excluded_by.is_none());
        // Not a native platform: no rule.
        let n = normalize_frames(std::slice::from_ref(&f), "python");
        assert!(n[0].in_app);
    }

    #[test]
    fn only_the_last_250_frames_are_kept() {
        let frames: Vec<Frame> = (0..300).map(|i| frame(&format!("f{i}"))).collect();
        let n = normalize_frames(&frames, "python");
        assert_eq!(n.len(), 250);
        assert_eq!(n[0].function.as_deref(), Some("f50"));
    }
}
