//! The grouping strategies of `newstyle:2023-01-11` (PROTOCOL.md §10.3):
//! frame, stack trace, single and chained exception (with exception
//! groups), threads, top-level stack trace and message.
//!
//! Each strategy returns one component per variant: `app` and `system` for
//! the stack-based strategies, `default` for messages.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;
use sentry_core::protocol::{Event, Exception, Thread};
use serde_json::Value;

use super::component::{Component, Content};
use super::normalize::{family, has_url_origin, is_recursion, normalize_frames, Family, NFrame};
use super::parameterize::{is_py_space, normalize_message_cow};

/// A grouping variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Variant {
    /// Only in-app frames contribute.
    App,
    /// All frames contribute.
    System,
    /// Message events.
    Default,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::App => "app",
            Variant::System => "system",
            Variant::Default => "default",
        }
    }
}

/// Components by variant, in the order the strategy produced them.
pub(crate) type Variants<'a> = Vec<(Variant, Component<'a>)>;

/// What one strategy produced.
pub(crate) struct StrategyOutput<'a> {
    /// The interface the strategy reads: `exception`, `threads`,
    /// `stacktrace` or `message` (used in precedence hints).
    pub name: &'static str,
    pub variants: Variants<'a>,
}

/// Platforms whose context lines are trusted for grouping.
const CONTEXT_LINE_PLATFORMS: [&str; 5] = ["javascript", "node", "python", "php", "ruby"];

// --- frames -------------------------------------------------------------

/// The basename (split on `/` and `\`), lowercased.
fn basename_lower<'a>(name: &Cow<'a, str>) -> Cow<'a, str> {
    fn base(s: &str) -> &str {
        &s[s.rfind(['/', '\\']).map_or(0, |i| i + 1)..]
    }
    match name {
        Cow::Borrowed(s) => {
            let b = base(s);
            if b.chars().any(char::is_uppercase) {
                Cow::Owned(b.to_lowercase())
            } else {
                Cow::Borrowed(b)
            }
        }
        Cow::Owned(s) => Cow::Owned(base(s).to_lowercase()),
    }
}

/// Python's `" ".join(line.split())`, borrowing when nothing changes.
fn collapse_whitespace(line: &str) -> Cow<'_, str> {
    let trimmed = line.trim_matches(is_py_space);
    let mut prev_space = false;
    let clean = trimmed.chars().all(|c| {
        let ok = if c == ' ' {
            !prev_space
        } else {
            !is_py_space(c)
        };
        prev_space = c == ' ';
        ok
    });
    if clean {
        return Cow::Borrowed(trimmed);
    }
    let mut out = String::with_capacity(trimmed.len());
    for word in trimmed.split(is_py_space).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    Cow::Owned(out)
}

struct JavaPatterns {
    reflect: Regex,
    cglib: Regex,
    javassist: Regex,
    clojure: Regex,
    enhancer_by: Regex,
    fast_class_by: Regex,
    hibernate_proxy: Regex,
}

static JAVA: LazyLock<JavaPatterns> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).expect("valid java codegen pattern");
    JavaPatterns {
        reflect: re(r"(sun\.reflect\.Generated(?:Serialization)?ConstructorAccessor)\d+"),
        cglib: re(r"(\$\$[\w_]+?CGLIB\$\$)[a-fA-F0-9]+(_[0-9]+)?"),
        javassist: re(r"(\$\$_javassist)(?:_seam)?(?:_[0-9]+)?"),
        clojure: re(r"(\$fn__)\d+"),
        enhancer_by: re(r"(\$\$?EnhancerBy[\w_]+?\$?\$)[a-fA-F0-9]+(_[0-9]+)?"),
        fast_class_by: re(r"(\$\$?FastClassBy[\w_]+?\$?\$)[a-fA-F0-9]+(_[0-9]+)?"),
        hibernate_proxy: re(r"(\$\$?HibernateProxy\$?\$)\w+(_[0-9]+)?"),
    }
});

static RUBY_ERB_SUFFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"__\d{4,}_\d{4,}$").expect("valid erb pattern"));

const AUTO: &str = "${1}<auto>";

fn filename_component<'a>(f: &NFrame<'a>) -> Component<'a> {
    let Some(name) = &f.filename else {
        return Component::empty("filename");
    };
    let base = basename_lower(name);
    let java_cleaned = if f.platform == "java" {
        match JAVA.javassist.replace_all(&base, AUTO) {
            Cow::Owned(s) => Some(s),
            Cow::Borrowed(_) => None,
        }
    } else {
        None
    };
    let hint = if has_url_origin(f.abs_path, true) {
        Some("ignored because frame points to a URL")
    } else if base == "<anonymous>" {
        Some("anonymous filename discarded")
    } else if base == "[native code]" {
        Some("native code indicated by filename")
    } else {
        None
    };
    let mut c = Component::leaf("filename", base);
    if let Some(hint) = hint {
        c.exclude(hint);
    } else if let Some(cleaned) = java_cleaned {
        c.set_value(Cow::Owned(cleaned), "cleaned javassist parts");
    }
    c
}

fn module_component<'a>(f: &NFrame<'a>) -> Component<'a> {
    let Some(module) = f.module else {
        return Component::empty("module");
    };
    let mut c = Component::leaf("module", Cow::Borrowed(module));
    if f.platform == "javascript"
        && module.contains('/')
        && f.abs_path.is_some_and(|p| p.ends_with(module))
    {
        c.exclude("ignored bad javascript module");
    } else if f.platform == "java" {
        if module.contains("$$Lambda$") {
            c.exclude("ignored java lambda");
        }
        if module.starts_with("sun.reflect.GeneratedMethodAccessor") {
            c.set_value(
                Cow::Borrowed("sun.reflect.GeneratedMethodAccessor"),
                "removed reflection marker",
            );
        } else if module.starts_with("jdk.internal.reflect.GeneratedMethodAccessor") {
            c.set_value(
                Cow::Borrowed("jdk.internal.reflect.GeneratedMethodAccessor"),
                "removed reflection marker",
            );
        } else {
            let j = &*JAVA;
            let mut m = Cow::Borrowed(module);
            for re in [
                &j.reflect,
                &j.cglib,
                &j.javassist,
                &j.clojure,
                &j.enhancer_by,
                &j.fast_class_by,
                &j.hibernate_proxy,
            ] {
                if let Cow::Owned(s) = re.replace_all(&m, AUTO) {
                    m = Cow::Owned(s);
                }
            }
            if let Cow::Owned(s) = m {
                c.set_value(Cow::Owned(s), "removed codegen marker");
            }
        }
    }
    c
}

fn context_line_component<'a>(f: &NFrame<'a>) -> Component<'a> {
    let Some(raw) = f.context_line else {
        return Component::empty("context-line");
    };
    let line = collapse_whitespace(raw);
    if line.is_empty() {
        return Component::empty("context-line");
    }
    let mut c = Component::leaf("context-line", line);
    if raw.len() > 120 && raw.chars().count() > 120 {
        c.exclude("discarded because line too long");
    } else if family(f.platform) == Family::JavaScript
        && f.function.is_none()
        && has_url_origin(f.abs_path, false)
    {
        c.exclude("discarded because from URL origin and no function");
    }
    c
}

fn function_component<'a>(f: &NFrame<'a>, context_line_available: bool) -> Component<'a> {
    let func: Option<Cow<'a, str>> = if f.platform == "csharp" {
        f.raw_function
            .map(Cow::Borrowed)
            .or_else(|| f.function.clone())
    } else {
        f.function
            .clone()
            .or_else(|| f.raw_function.map(Cow::Borrowed))
    };
    let Some(func) = func else {
        return Component::empty("function");
    };
    let mut c = Component::leaf("function", func.clone());
    match f.platform {
        "ruby" => {
            if func.starts_with("block ") {
                c.set_value(Cow::Borrowed("block"), "ruby block");
            } else if let Some(m) = RUBY_ERB_SUFFIX.find(&func) {
                let cleaned = match &func {
                    Cow::Borrowed(s) => Cow::Borrowed(&s[..m.start()]),
                    Cow::Owned(s) => Cow::Owned(s[..m.start()].to_owned()),
                };
                c.set_value(cleaned, "removed generated erb template suffix");
            }
        }
        "php" => {
            if func.starts_with("[Anonymous") || func.starts_with("class@anonymous\0") {
                c.exclude("ignored anonymous function");
            }
            if func.starts_with("class@anonymous") {
                if let Some(i) = func.rfind("::") {
                    c.set_value(
                        Cow::Owned(func[i + 2..].to_owned()),
                        "anonymous class method",
                    );
                }
            }
        }
        "java" => {
            if func.starts_with("lambda$") {
                c.exclude("ignored lambda function");
            }
        }
        _ => match family(f.platform) {
            Family::Native => {
                if func == "<redacted>" || func == "<unknown>" {
                    c.exclude("ignored unknown function");
                }
            }
            Family::JavaScript => {
                if let Some(i) = func.rfind('.') {
                    let short = match &func {
                        Cow::Borrowed(s) => Cow::Borrowed(&s[i + 1..]),
                        Cow::Owned(s) => Cow::Owned(s[i + 1..].to_owned()),
                    };
                    c.set_value(short, "trimmed javascript function");
                }
                if f.sourcemap_used && context_line_available {
                    c.exclude("ignored because sourcemap used and context line available");
                }
            }
            Family::Other => {}
        },
    }
    c
}

/// One frame: `[module, filename, function, context-line?]`.
fn frame_component<'a>(f: &NFrame<'a>, recursion: bool) -> Component<'a> {
    let mut filename = filename_component(f);
    let module = module_component(f);
    if module.contributes && filename.contributes {
        filename.exclude("module takes precedence");
    }
    let context_line = CONTEXT_LINE_PLATFORMS
        .contains(&f.platform)
        .then(|| context_line_component(f));
    let ctx_available = context_line.as_ref().is_some_and(|c| c.contributes);
    let function = function_component(f, ctx_available);
    let mut children = Vec::with_capacity(4);
    children.push(module);
    children.push(filename);
    children.push(function);
    children.extend(context_line);
    // Like Sentry, the frame's flag is computed when it is built; the
    // JavaScript function clean-up below does not change it.
    let contributes = children.iter().any(|c| c.contributes);

    let mut low_quality = false;
    if family(f.platform) == Family::JavaScript {
        let func = f
            .raw_function
            .or(f.function.as_deref())
            .map(|s| s.rsplit('.').next().unwrap_or(s));
        let function = &mut children[2];
        match func {
            None | Some("") => function.contributes = false,
            Some(name)
                if matches!(
                    name,
                    "?" | "<anonymous function>" | "<anonymous>" | "Anonymous function"
                ) || name.ends_with("/<") =>
            {
                function.exclude("ignored unknown function name")
            }
            Some(_) => {}
        }
        low_quality = func == Some("eval")
            || matches!(
                f.abs_path,
                Some("[native code]" | "native code" | "eval code" | "<anonymous>")
            );
    }
    let mut frame = Component {
        id: "frame",
        contributes,
        hint: None,
        content: Content::Children(std::rc::Rc::new(children)),
        lineno: f.lineno,
    };
    if low_quality {
        frame.exclude("ignored low quality javascript frame");
    }
    if recursion {
        frame.exclude("ignored due to recursion");
    }
    frame
}

/// The `app` and `system` stack-trace components of normalised frames.
pub(crate) fn stacktrace_variants<'a>(frames: &[NFrame<'a>]) -> [Component<'a>; 2] {
    let mut system: Vec<Component<'a>> = Vec::with_capacity(frames.len());
    for (i, f) in frames.iter().enumerate() {
        let recursion = i > 0 && is_recursion(f, &frames[i - 1]);
        system.push(frame_component(f, recursion));
    }
    let mut app = system.clone();
    let mut found_in_app = false;
    for (c, f) in app.iter_mut().zip(frames) {
        if f.in_app {
            found_in_app = true;
        } else {
            c.exclude("non in-app frame");
        }
    }
    [(Variant::App, app), (Variant::System, system)].map(|(variant, mut comps)| {
        if frames.len() == 1
            && comps[0].contributes
            && family(frames[0].platform) == Family::JavaScript
            && frames[0].function.is_none()
            && has_url_origin(frames[0].abs_path.filter(|p| !p.starts_with("app:")), false)
        {
            comps[0].exclude("ignored single non-URL JavaScript frame");
        }
        for (c, f) in comps.iter_mut().zip(frames) {
            if let Some(rule) = f.excluded_by {
                c.exclude(format!(
                    "marked out of grouping by stack trace rule ({rule})"
                ));
            }
        }
        let mut stacktrace = Component::node("stacktrace", comps);
        if !stacktrace.contributes {
            stacktrace.hint = Some(Cow::Borrowed(if frames.is_empty() {
                "ignored because it contains no frames"
            } else if variant == Variant::App && !found_in_app {
                "ignored because it contains no in-app frames"
            } else {
                "ignored because it contains no contributing frames"
            }));
        }
        stacktrace
    })
}

// --- exceptions ---------------------------------------------------------

fn json_scalar(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "True" } else { "False" })),
        _ => None,
    }
}

fn ns_error_component(exc: &Exception) -> Option<Component<'_>> {
    let ns = exc.mechanism.as_ref()?.other.get("meta")?.get("ns_error")?;
    let domain = ns.get("domain").and_then(json_scalar);
    let code = ns.get("code").and_then(json_scalar);
    let content = match (domain, code) {
        (Some(d), Some(c)) => Content::Two(d, c),
        (Some(v), None) | (None, Some(v)) => Content::One(v),
        (None, None) => Content::Empty,
    };
    Some(Component {
        id: "ns-error",
        contributes: !matches!(content, Content::Empty),
        hint: None,
        content,
        lineno: None,
    })
}

/// How many bytes of exception values one event's grouping parameterises
/// in full. Each value is at most 8192 characters, but an event may hold
/// a hundred of them, and the parameterising regex takes ~2 µs a character
/// on non-ASCII text: seconds of CPU for one hostile event, twice. Past
/// the budget a value is grouped by its first [`VALUE_PAST_BUDGET`] bytes.
const EXCEPTION_VALUE_BUDGET: usize = 32 * 1024;

/// See [`EXCEPTION_VALUE_BUDGET`].
const VALUE_PAST_BUDGET: usize = 128;

/// An event's budgets of exception-value bytes to parameterise in full
/// (see [`EXCEPTION_VALUE_BUDGET`]): one for the values that count towards
/// a hash, one for those only shown in an explanation. Apart, grouping
/// with and without an explanation cuts the same counted values (so both
/// give the same hashes), and values that do not count never cut one that
/// does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueBudgets {
    hashed: usize,
    shown: usize,
}

impl Default for ValueBudgets {
    fn default() -> Self {
        ValueBudgets {
            hashed: EXCEPTION_VALUE_BUDGET,
            shown: EXCEPTION_VALUE_BUDGET,
        }
    }
}

/// `raw`, or its start once the event's budget is spent (which it uses).
fn within_budget<'a>(raw: &'a str, budget: &mut usize) -> &'a str {
    if raw.len() <= *budget {
        *budget -= raw.len();
        return raw;
    }
    // Spent: this value and every later one are cut.
    *budget = 0;
    let mut end = raw.len().min(VALUE_PAST_BUDGET);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    &raw[..end]
}

/// One exception: `[stacktrace, type, ns-error?, value]` per variant (the
/// order of the current default config). Without a stack trace only the
/// `app` variant exists, as in Sentry.
pub(crate) fn exception_variants<'a>(
    exc: &'a Exception,
    platform: &'a str,
    explain: bool,
    budgets: &mut ValueBudgets,
) -> Variants<'a> {
    let mut ty = if exc.ty.is_empty() {
        Component::empty("type")
    } else {
        Component::leaf("type", Cow::Borrowed(&exc.ty))
    };
    if exc.mechanism.as_ref().and_then(|m| m.synthetic) == Some(true) {
        ty.exclude("ignored because exception is synthetic");
    }
    let ns_error = ns_error_component(exc);
    let stacktraces: Vec<(Variant, Component<'a>)> = match &exc.stacktrace {
        Some(st) => {
            let frames = normalize_frames(&st.frames, platform);
            let [app, system] = stacktrace_variants(&frames);
            vec![(Variant::App, app), (Variant::System, system)]
        }
        None => vec![(Variant::App, Component::empty("stacktrace"))],
    };
    // Where every stack trace contributes, the value never does, and its
    // parameterised text (a regex pass, a quarter of a lean grouping) is
    // only shown in the explanation: without one, it is not computed.
    let value_hashed = stacktraces.iter().any(|(_, st)| !st.contributes);
    let value = exc.value.as_deref().map(|raw| {
        if explain || value_hashed {
            let budget = if value_hashed {
                &mut budgets.hashed
            } else {
                &mut budgets.shown
            };
            let text = within_budget(raw, budget);
            let normalized = normalize_message_cow(text);
            let changed = normalized != raw;
            (normalized, changed)
        } else {
            (Cow::Borrowed(raw), false)
        }
    });
    stacktraces
        .into_iter()
        .map(|(variant, stacktrace)| {
            let stack_contributes = stacktrace.contributes;
            let mut value_c = match &value {
                Some((v, changed)) if !v.is_empty() => {
                    let mut c = Component::leaf("value", v.clone());
                    if *changed {
                        c.hint = Some(Cow::Borrowed("stripped event-specific values"));
                    }
                    c
                }
                _ => Component::empty("value"),
            };
            if stack_contributes && value_c.contributes {
                value_c.exclude("ignored because stacktrace takes precedence");
            }
            let mut values = Vec::with_capacity(4);
            values.push(stacktrace);
            values.push(ty.clone());
            if let Some(ns) = &ns_error {
                if ns.contributes && value_c.contributes {
                    value_c.exclude("ignored because ns-error info takes precedence");
                }
                values.push(ns.clone());
            }
            values.push(value_c);
            (variant, Component::node("exception", values))
        })
        .collect()
}

fn is_python_sdk_3(event: &Event) -> bool {
    event
        .sdk
        .as_ref()
        .is_some_and(|sdk| sdk.name == "sentry.python" && sdk.version.starts_with("3."))
}

/// Limit on tree-walking steps before an exception group is treated as
/// malformed (cycles, or ids shared by many exceptions).
const MAX_TREE_STEPS: usize = 10_000;

/// Sentry's `filter_exceptions_for_exception_groups` (RFC 79). Returns the
/// indices of the exceptions to group by, in order, and the main exception
/// id, or `None` to use the whole chain.
fn filter_exception_groups(
    all: &[Exception],
    digests: &[Vec<Option<[u8; 16]>>],
) -> Option<(Vec<usize>, Option<u64>)> {
    if all.len() <= 1 {
        return None;
    }
    // exception id -> (the exception with that id, children in reverse
    // list order)
    let mut tree: HashMap<u64, (Option<usize>, Vec<usize>)> = HashMap::new();
    for (i, exc) in all.iter().enumerate().rev() {
        let mechanism = exc.mechanism.as_ref()?;
        let id = mechanism.exception_id?;
        tree.entry(id).or_default().0 = Some(i);
        if let Some(parent) = mechanism.parent_id {
            tree.entry(parent).or_default().1.push(i);
        }
    }
    let id_of = |i: usize| all[i].mechanism.as_ref().and_then(|m| m.exception_id);
    let children = |i: usize| -> &[usize] {
        id_of(i)
            .and_then(|id| tree.get(&id))
            .map_or(&[], |node| node.1.as_slice())
    };
    let is_group = |i: usize| {
        all[i]
            .mechanism
            .as_ref()
            .and_then(|m| m.is_exception_group)
            .unwrap_or(false)
    };
    let root = tree.get(&0)?.0?;

    // Top-level exceptions: the first non-group descendants of the root.
    // Each id's children are pushed once: exceptions sharing an id (a
    // malformed or hostile group) would otherwise push the same list again
    // for each of them, n² entries before the step limit is reached.
    let mut top_level = Vec::new();
    let mut stack = vec![root];
    let mut expanded: HashSet<u64> = HashSet::new();
    let mut steps = 0;
    while let Some(i) = stack.pop() {
        steps += 1;
        if steps > MAX_TREE_STEPS {
            return None;
        }
        if is_group(i) {
            if id_of(i).is_some_and(|id| expanded.insert(id)) {
                stack.extend(children(i).iter().rev());
            }
        } else {
            top_level.push(i);
        }
    }
    let type_key = |i: usize| {
        let ty = all[i].ty.as_str();
        if ty.is_empty() {
            "None"
        } else {
            ty
        }
    };
    top_level.sort_by(|&a, &b| type_key(b).cmp(type_key(a)));
    // Like `itertools.groupby`, only neighbours are merged.
    top_level.dedup_by(|a, b| digests[*a] == digests[*b]);

    if let [main] = top_level[..] {
        let main_id = all[main].mechanism.as_ref().and_then(|m| m.exception_id);
        let mut path = vec![main];
        let mut current = main;
        let mut on_path: HashSet<usize> = HashSet::from([main]);
        while let Some(&first) = children(current).first() {
            if path.len() > MAX_TREE_STEPS || !on_path.insert(first) {
                return None;
            }
            path.push(first);
            current = first;
        }
        return Some((path, main_id));
    }
    top_level.push(root);
    Some((top_level, None))
}

/// The exception strategy: one exception, or the chain (oldest first) in a
/// `chained-exception` component. Also returns the main exception id when
/// exception-group handling picked one. `explain`: the caller builds an
/// explanation, so texts that do not contribute are computed too.
pub(crate) fn chained_exception(
    event: &Event,
    explain: bool,
) -> Option<(StrategyOutput<'_>, Option<u64>)> {
    let all = &event.exception.values;
    if all.is_empty() {
        return None;
    }
    let mut budgets = ValueBudgets::default();
    let mut per: Vec<Variants<'_>> = all
        .iter()
        .map(|e| exception_variants(e, &event.platform, explain, &mut budgets))
        .collect();

    // Sentry runs the tree filter whenever every exception has an
    // `exception_id`, which also reorders plain chains sent with ids (JS
    // `linkedErrors`) root first; PROTOCOL.md §10.3 groups chains in
    // `values` order, so the filter only runs for actual exception groups.
    let has_groups = all.iter().any(|e| {
        e.mechanism
            .as_ref()
            .and_then(|m| m.is_exception_group)
            .unwrap_or(false)
    });
    let filtered = if has_groups && !is_python_sdk_3(event) {
        let digests: Vec<Vec<Option<[u8; 16]>>> = per
            .iter()
            .map(|vs| vs.iter().map(|(_, c)| c.digest()).collect())
            .collect();
        filter_exception_groups(all, &digests)
    } else {
        None
    };
    let (selected, main_exception_id): (Vec<Variants<'_>>, Option<u64>) = match filtered {
        None => (per, None),
        Some((indices, main)) => (indices.iter().map(|&i| per[i].clone()).collect(), main),
    };
    per = selected;

    let variants = if per.len() == 1 {
        per.pop().unwrap_or_default()
    } else {
        let mut by_variant: Vec<(Variant, Vec<Component<'_>>)> = Vec::with_capacity(2);
        for exc in per {
            for (variant, component) in exc {
                match by_variant.iter_mut().find(|(v, _)| *v == variant) {
                    Some((_, list)) => list.push(component),
                    None => by_variant.push((variant, vec![component])),
                }
            }
        }
        by_variant
            .into_iter()
            .map(|(v, comps)| (v, Component::node("chained-exception", comps)))
            .collect()
    };
    Some((
        StrategyOutput {
            name: "exception",
            variants,
        },
        main_exception_id,
    ))
}

// --- threads, stack trace, message --------------------------------------

fn single(threads: &[Thread], pred: impl Fn(&Thread) -> bool) -> Option<&Thread> {
    let mut it = threads.iter().filter(|t| pred(t));
    match (it.next(), it.next()) {
        (Some(t), None) => Some(t),
        _ => None,
    }
}

/// The threads strategy: the single crashed thread, else the single current
/// thread, else the only thread.
pub(crate) fn threads(event: &Event) -> Option<StrategyOutput<'_>> {
    let threads = &event.threads.values;
    if threads.is_empty() {
        return None;
    }
    let chosen = single(threads, |t| t.crashed)
        .or_else(|| single(threads, |t| t.current))
        .or_else(|| single(threads, |_| true));
    let variants = match chosen {
        None => {
            let mut c = Component::empty("threads");
            c.hint = Some(Cow::Owned(format!(
                "ignored because does not contain exactly one crashing, one current or just one thread, instead contains {} threads",
                threads.len()
            )));
            vec![(Variant::App, c)]
        }
        Some(Thread {
            stacktrace: None, ..
        }) => {
            let mut c = Component::empty("threads");
            c.hint = Some(Cow::Borrowed("thread has no stacktrace"));
            vec![(Variant::App, c)]
        }
        Some(Thread {
            stacktrace: Some(st),
            ..
        }) => {
            let frames = normalize_frames(&st.frames, &event.platform);
            let [app, system] = stacktrace_variants(&frames);
            vec![
                (Variant::App, Component::node("threads", vec![app])),
                (Variant::System, Component::node("threads", vec![system])),
            ]
        }
    };
    Some(StrategyOutput {
        name: "threads",
        variants,
    })
}

/// The (deprecated) top-level stack trace.
pub(crate) fn stacktrace(event: &Event) -> Option<StrategyOutput<'_>> {
    let st = event.stacktrace.as_ref()?;
    let frames = normalize_frames(&st.frames, &event.platform);
    let [app, system] = stacktrace_variants(&frames);
    Some(StrategyOutput {
        name: "stacktrace",
        variants: vec![(Variant::App, app), (Variant::System, system)],
    })
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// The text the message strategy groups by: the `logentry` template, else
/// its formatted text, else the legacy `message` field.
pub(crate) fn message_text(event: &Event) -> Option<&str> {
    event
        .logentry
        .as_ref()
        .and_then(|l| non_empty(&l.message).or(non_empty(&l.formatted)))
        .or(non_empty(&event.message))
}

/// The message strategy: trimmed and parameterised template.
pub(crate) fn message(event: &Event) -> Option<StrategyOutput<'_>> {
    let text = message_text(event)?;
    let normalized = normalize_message_cow(text);
    let changed = normalized != text;
    let mut c = Component::leaf("message", normalized);
    if changed {
        c.hint = Some(Cow::Borrowed("stripped event-specific values"));
    }
    Some(StrategyOutput {
        name: "message",
        variants: vec![(Variant::Default, c)],
    })
}

// --- variant post-processing --------------------------------------------

/// `app` has priority: a `system` component hashing to the same value does
/// not contribute.
pub(crate) fn dedupe_against_app(variants: &mut Variants<'_>) {
    let Some(app) = variants.iter().position(|(v, _)| *v == Variant::App) else {
        return;
    };
    for i in 0..variants.len() {
        if i != app && variants[i].1.same_hash(&variants[app].1) {
            let hint = format!(
                "ignored because hash matches {} variant",
                Variant::App.name()
            );
            variants[i].1.exclude(hint);
        }
    }
}

/// Sentry's `remove_non_stacktrace_variants`: if any variant has a
/// contributing stack trace, variants without one do not contribute.
pub(crate) fn remove_non_stacktrace_variants(variants: &mut Variants<'_>) {
    if variants.len() <= 1 {
        return;
    }
    let with: Vec<bool> = variants
        .iter()
        .map(|(_, c)| c.has_contributing("stacktrace"))
        .collect();
    let count = with.iter().filter(|w| **w).count();
    if count == 0 {
        return;
    }
    let suffix = if count == 1 {
        let i = with.iter().position(|w| *w).unwrap_or(0);
        format!("the {} variant does", variants[i].0.name())
    } else {
        "others do".to_owned()
    };
    for ((_, c), has) in variants.iter_mut().zip(with) {
        if !has {
            c.exclude(format!(
                "ignored because this variant does not have a contributing stacktrace, but {suffix}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_values_past_the_budget_group_by_their_start() {
        let event = |tail: &str| {
            let mut values: Vec<Exception> = (0..5)
                .map(|i| Exception {
                    ty: "E".into(),
                    value: Some(format!("{i}{}", "v".repeat(8000))),
                    ..Default::default()
                })
                .collect();
            values.push(Exception {
                ty: "E".into(),
                value: Some(format!("{}{tail}", "w".repeat(200))),
                ..Default::default()
            });
            let mut e = Event::default();
            e.exception.values = values;
            e
        };
        let hashes = |e: &Event| -> Vec<String> {
            crate::grouping::group_event(e)
                .hashes
                .into_iter()
                .map(|h| h.hash)
                .collect()
        };
        // The sixth value is past the budget: only its start counts.
        assert_eq!(
            hashes(&event("one ending")),
            hashes(&event("another ending"))
        );
        let mut budget = 10;
        assert_eq!(within_budget("0123456789abc", &mut budget), "0123456789abc");
        assert_eq!(budget, 0);
        let long = "x".repeat(1000);
        assert_eq!(within_budget(&long, &mut budget).len(), VALUE_PAST_BUDGET);
    }

    #[test]
    fn exceptions_sharing_an_id_are_walked_once() {
        // Every exception a group with id 0 and parent 0: each would push
        // the whole list again (n² entries; 840 MB for a 1 MB event).
        let one = Exception {
            ty: "E".into(),
            mechanism: Some(sentry_core::protocol::Mechanism {
                ty: "a".into(),
                exception_id: Some(0),
                parent_id: Some(0),
                is_exception_group: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let all = vec![one; 500];
        let digests = vec![Vec::new(); all.len()];
        // No top-level exception under the root: the root alone.
        assert_eq!(
            filter_exception_groups(&all, &digests),
            Some((vec![0], None))
        );
    }

    #[test]
    fn whitespace_is_collapsed() {
        assert!(matches!(
            collapse_whitespace("  raise Foo(x)  "),
            Cow::Borrowed("raise Foo(x)")
        ));
        assert_eq!(collapse_whitespace("\tif  a:\t b"), "if a: b");
        assert_eq!(collapse_whitespace(" \t "), "");
    }

    #[test]
    fn basenames_are_lowercased() {
        assert_eq!(basename_lower(&Cow::Borrowed("src/App/Main.PY")), "main.py");
        assert_eq!(basename_lower(&Cow::Borrowed("C:\\app\\x.cs")), "x.cs");
        assert!(matches!(
            basename_lower(&Cow::Borrowed("/a/b.py")),
            Cow::Borrowed("b.py")
        ));
    }

    use sentry_core::protocol::Frame;

    /// The frame component of one frame as `(id, contributes, value)`.
    fn frame_parts(frame: Frame, platform: &str) -> Vec<(&'static str, bool, String)> {
        let frames = [frame];
        let n = normalize_frames(&frames, platform);
        let c = frame_component(&n[0], false);
        c.children()
            .iter()
            .map(|c| {
                let mut v = String::new();
                c.for_each_value(&mut |s| v.push_str(s));
                if !c.contributes {
                    if let Content::One(s) = &c.content {
                        v = s.to_string();
                    }
                }
                (c.id, c.contributes, v)
            })
            .collect()
    }

    fn values(frame: Frame, platform: &str) -> Vec<String> {
        frame_parts(frame, platform)
            .into_iter()
            .filter(|(_, contributes, _)| *contributes)
            .map(|(_, _, v)| v)
            .collect()
    }

    #[test]
    fn java_codegen_markers_are_replaced() {
        let f = |module: &str, function: &str| Frame {
            module: Some(module.into()),
            function: Some(function.into()),
            filename: Some("Foo.java".into()),
            ..Default::default()
        };
        assert_eq!(
            values(
                f("com.example.Foo$$EnhancerBySpringCGLIB$$1a2b3c", "run"),
                "java"
            ),
            ["com.example.Foo$$EnhancerBySpringCGLIB$$<auto>", "run"]
        );
        assert_eq!(
            values(f("sun.reflect.GeneratedMethodAccessor42", "invoke"), "java"),
            ["sun.reflect.GeneratedMethodAccessor", "invoke"]
        );
        assert_eq!(
            values(
                f("com.example.User$HibernateProxy$oRWxjAWT", "getName"),
                "java"
            ),
            ["com.example.User$HibernateProxy$<auto>", "getName"]
        );
        assert_eq!(
            values(f("myapp.core$fn__1234", "invoke"), "java"),
            ["myapp.core$fn__<auto>", "invoke"]
        );
        // Lambda classes and lambda methods do not contribute; the filename
        // then does.
        assert_eq!(
            values(f("com.example.Foo$$Lambda$12/0x01", "lambda$run$0"), "java"),
            ["foo.java"]
        );
    }

    #[test]
    fn ruby_php_and_native_functions() {
        let f = |function: &str| Frame {
            function: Some(function.into()),
            ..Default::default()
        };
        assert_eq!(values(f("block in process"), "ruby"), ["block"]);
        assert_eq!(
            values(f("_app_views_show_html_erb__1234_5678"), "ruby"),
            ["_app_views_show_html_erb"]
        );
        assert_eq!(
            values(f("class@anonymous/in/x.php:3$0::handle"), "php"),
            ["handle"]
        );
        assert!(values(f("[Anonymous function]"), "php").is_empty());
        assert!(values(f("<unknown>"), "native").is_empty());
        assert_eq!(values(f("Foo.bar.baz"), "node"), ["baz"]);
        assert!(values(f("<anonymous>"), "javascript").is_empty());
    }

    #[test]
    fn context_lines() {
        let f = |line: &str, platform: Option<&str>| Frame {
            function: Some("f".into()),
            context_line: Some(line.into()),
            platform: platform.map(str::to_owned),
            ..Default::default()
        };
        assert_eq!(values(f("  x =  1", None), "python"), ["f", "x = 1"]);
        // Not a context-line platform...
        assert_eq!(values(f("x = 1", None), "native"), ["f"]);
        // ...unless the frame says so.
        assert_eq!(values(f("x = 1", Some("python")), "native"), ["f", "x = 1"]);
        let long = "y".repeat(121);
        let parts = frame_parts(f(&long, None), "python");
        assert_eq!(parts[3], ("context-line", false, long));
        // 120 characters (not bytes) are fine.
        let wide = "é".repeat(120);
        assert_eq!(values(f(&wide, None), "python"), ["f".to_owned(), wide]);
    }

    #[test]
    fn module_takes_precedence_over_filename() {
        let frame = Frame {
            module: Some("app.views".into()),
            filename: Some("App/Views.py".into()),
            function: Some("index".into()),
            ..Default::default()
        };
        let parts = frame_parts(frame.clone(), "python");
        assert_eq!(parts[1], ("filename", false, "views.py".to_owned()));
        let mut no_module = frame;
        no_module.module = None;
        assert_eq!(values(no_module, "python"), ["views.py", "index"]);
    }
}
