//! Issue grouping: which issue an event belongs to (PROTOCOL.md §10).
//!
//! [`group_event`] implements Sentry's default grouping config
//! `newstyle:2023-01-11`:
//!
//! 1. A legacy `checksum` short-circuits everything: 32 lowercase hex digits
//!    are the hash, anything else is md5-hashed.
//! 2. Stack traces are normalised: `filename` / `abs_path` filled in from
//!    each other (a URL becomes its path), JavaScript `?query` stripped,
//!    function names trimmed (native signatures reduced to the function's
//!    name, see `function_name`) and stripped of a Rust symbol hash,
//!    `in_app: null` → `false`, then a built-in subset of the default
//!    stack-trace rules; only the newest 250 frames count.
//! 3. The strategies run in priority order — exception (chained, with
//!    exception groups), threads, top-level stack trace, message — each
//!    producing `app` / `system` variants (`default` for messages). `app`
//!    has priority: a `system` variant with the same hash is not recorded,
//!    and variants without a contributing stack trace are dropped when
//!    another has one. The first strategy with a contributing component
//!    wins; the others stay in the explanation, marked non-contributing.
//! 4. The `fingerprint` (default / hybrid / custom, with variables) is
//!    applied; if nothing contributes, the fallback hash (md5 of nothing) is
//!    used.
//!
//! A variant's hash is the md5 hex of its contributing leaf values
//! concatenated in tree order, without separators. An event joins the issue
//! owning *any* of its hashes, checked in the order of
//! [`GroupingResult::hashes`] (`app` first, then `system`).
//!
//! Simplifications:
//! * a project's fingerprint rules ([`fingerprint_rules`]) are applied
//!   before grouping, by ingestion: the first matching rule's fingerprint
//!   replaces the event's;
//! * not implemented: the `template` and security-report (CSP, HPKP,
//!   Expect-CT/Staple) strategies, the
//!   `main_exception_id` heuristic for React errors, the IL2CPP method-hash
//!   suffixes newer Sentry versions strip from function names;
//! * stack-trace rules: only the Rust / C++ / Objective-C border rules,
//!   Rust's `std::*`, `core::*`, `alloc::*`, `__rust_*` (not in-app), Node
//!   runtime functions and transpiler modules are built in (no path rules,
//!   no categories); `rust` counts as a native platform;
//! * exception groups: the RFC-79 filter runs only when an exception has
//!   `is_exception_group: true` (plain chains keep `values` order even when
//!   they carry `exception_id`s), and top-level exceptions are
//!   deduplicated by their variant hashes rather than by Sentry's
//!   component `repr`.

mod component;
mod fingerprint;
pub mod fingerprint_rules;
mod function_name;
mod md5_memo;
pub(crate) mod metadata;
mod normalize;
mod parameterize;
mod strategies;

use std::borrow::Cow;

use sentry_core::protocol::{Event, Level};
use serde_json::{json, Map, Value};

use component::{hash_values, hex, Component};
use fingerprint::{Entry, Kind};
use md5::{Digest, Md5};
use strategies::{StrategyOutput, Variant};

pub use metadata::crash_frame;
pub use parameterize::{normalize_message, parameterize};

/// The grouping config this module implements.
pub const CONFIG_ID: &str = "newstyle:2023-01-11";

/// The fallback hash: md5 of nothing.
pub const FALLBACK_HASH: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// One hash an event is grouped under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupHash {
    /// `app`, `system`, `default` (salted variants of a hybrid fingerprint
    /// keep these names), `custom-fingerprint`, `checksum` or `fallback`.
    pub variant: String,
    /// 32 lowercase hex digits (md5).
    pub hash: String,
    /// What produced it: `fingerprint`, `chained-exception`, `exception`,
    /// `threads`, `stacktrace`, `message`, `checksum` or `fallback`.
    pub component: String,
    /// The values that were hashed, in order (for a hybrid fingerprint: the
    /// fingerprint entries with `{{ default }}` expanded), so a user can see
    /// why events grouped together.
    pub inputs: Vec<String>,
}

/// The result of grouping one event.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupingResult {
    /// Lookup order: an event joins the issue owning any of these, checked in
    /// order (`app` first, then `system`); a new issue owns all of them.
    /// Never empty.
    pub hashes: Vec<GroupHash>,
    /// The issue title (PROTOCOL.md §10.5).
    pub title: String,
    /// The transaction, else the crash frame as `module-or-filename in
    /// function`.
    pub culprit: Option<String>,
    /// The event level.
    pub level: Level,
    /// The `mechanism.exception_id` of the exception the title is of, when
    /// exception-group handling picked one (else the last exception is).
    pub main_exception_id: Option<u64>,
    /// Why: `{config, fingerprint, variants: {name: {type, contributes,
    /// hash, hint?, component?, values?}}}` where `component` is the tree of
    /// `{id, contributes, hint?, values}` nodes (leaves are strings).
    pub explanation: Value,
}

/// What [`group_event_with`] computes besides hashes, title, culprit and
/// level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupingOptions {
    /// Build [`GroupingResult::explanation`] (else it is `Value::Null`).
    pub explanation: bool,
    /// Fill [`GroupHash::inputs`] (else they are empty).
    pub inputs: bool,
}

impl GroupingOptions {
    /// Everything: what [`group_event`] computes.
    pub const FULL: GroupingOptions = GroupingOptions {
        explanation: true,
        inputs: true,
    };
    /// Hashes (and title, culprit, level) only: several times faster on
    /// events with long stack traces, for events that join an existing
    /// issue. The hashes are identical to [`GroupingOptions::FULL`]'s.
    pub const HASHES_ONLY: GroupingOptions = GroupingOptions {
        explanation: false,
        inputs: false,
    };
}

/// Groups an event: computes its hashes, title, culprit and an explanation.
///
/// Building the explanation and the inputs costs more than finding the
/// hashes; [`group_event_with`] and [`GroupingOptions::HASHES_ONLY`] skip
/// them.
///
/// ```
/// use receiver::grouping::group_event;
/// use sentry_core::protocol::Event;
///
/// let event: Event = serde_json::from_str(r#"{
///     "platform": "python",
///     "exception": {"values": [{"type": "KeyError", "value": "user 42 missing"}]}
/// }"#).unwrap();
/// let result = group_event(&event);
/// assert_eq!(result.title, "KeyError: user 42 missing");
/// // No stack trace: the type and the parameterised value are hashed.
/// assert_eq!(result.hashes.len(), 1);
/// assert_eq!(result.hashes[0].variant, "app");
/// assert_eq!(result.hashes[0].component, "exception");
/// assert_eq!(result.hashes[0].inputs, ["KeyError", "user <int> missing"]);
///
/// let mut other = event.clone();
/// other.exception.values[0].value = Some("user 7 missing".into());
/// assert_eq!(group_event(&other).hashes, result.hashes);
/// ```
pub fn group_event(event: &Event) -> GroupingResult {
    group_event_with(event, GroupingOptions::FULL)
}

/// [`group_event`] with a choice of what to compute besides the hashes.
///
/// ```
/// use receiver::grouping::{group_event, group_event_with, GroupingOptions};
/// use sentry_core::protocol::Event;
///
/// let event: Event = serde_json::from_str(r#"{"message": "disk 91% full"}"#).unwrap();
/// let lean = group_event_with(&event, GroupingOptions::HASHES_ONLY);
/// let full = group_event(&event);
/// assert_eq!(lean.hashes[0].hash, full.hashes[0].hash);
/// assert!(lean.hashes[0].inputs.is_empty() && lean.explanation.is_null());
/// assert_eq!(full.hashes[0].inputs, ["disk <int>% full"]);
/// ```
pub fn group_event_with(event: &Event, options: GroupingOptions) -> GroupingResult {
    let culprit = metadata::culprit(event);
    if let Some(checksum) = checksum(event) {
        let main_exception_id = if event.exception.len() > 1 {
            strategies::chained_exception(event, options.explanation).and_then(|(_, main)| main)
        } else {
            None
        };
        return checksum_result(event, &checksum, main_exception_id, culprit, options);
    }

    let mut outputs: Vec<StrategyOutput<'_>> = Vec::with_capacity(4);
    let mut main_exception_id = None;
    if let Some((output, main)) = strategies::chained_exception(event, options.explanation) {
        outputs.push(output);
        main_exception_id = main;
    }
    outputs.extend(strategies::threads(event));
    outputs.extend(strategies::stacktrace(event));
    outputs.extend(strategies::message(event));
    for output in &mut outputs {
        if output.name != "message" {
            strategies::dedupe_against_app(&mut output.variants);
            strategies::remove_non_stacktrace_variants(&mut output.variants);
        }
    }
    let mut roots = combine(outputs);

    let kind = fingerprint::kind(&event.fingerprint);
    let resolved = match kind {
        Kind::Default => Vec::new(),
        Kind::Hybrid | Kind::Custom => fingerprint::resolve(&event.fingerprint, event),
    };
    let mut hashes = Vec::with_capacity(roots.len());
    let mut variants = Map::new();

    match kind {
        Kind::Default | Kind::Hybrid => {
            for (variant, root) in &roots {
                let hash = root.contributes.then(|| {
                    let (hash, inputs) = match (kind, options.inputs) {
                        (Kind::Hybrid, _) => salted(&resolved, root, options.inputs),
                        (_, true) => root.hash_with_inputs(),
                        (_, false) => (root.digest().map(hex).unwrap_or_default(), Vec::new()),
                    };
                    GroupHash {
                        variant: variant.name().to_owned(),
                        hash,
                        component: root
                            .children()
                            .iter()
                            .find(|c| c.contributes)
                            .map_or("fallback", |c| c.id)
                            .to_owned(),
                        inputs,
                    }
                });
                if options.explanation {
                    let mut v = component_variant_json(root, hash.as_ref());
                    if kind == Kind::Hybrid {
                        v["type"] = Value::from("salted-component");
                        v["values"] = entries_json(&resolved);
                    }
                    variants.insert(variant.name().to_owned(), v);
                }
                hashes.extend(hash);
            }
        }
        Kind::Custom => {
            for (variant, root) in &mut roots {
                root.exclude("custom fingerprint takes precedence");
                if options.explanation {
                    variants.insert(
                        variant.name().to_owned(),
                        component_variant_json(root, None),
                    );
                }
            }
            // A custom fingerprint has no `{{ default }}` entry.
            let values: Vec<String> = resolved
                .iter()
                .filter_map(|e| match e {
                    Entry::Value(v) => Some(v.as_ref().to_owned()),
                    Entry::Default => None,
                })
                .collect();
            let hash = hash_values(values.iter().map(String::as_str));
            if options.explanation {
                variants.insert(
                    "custom-fingerprint".to_owned(),
                    json!({
                        "type": "custom-fingerprint",
                        "contributes": true,
                        "hash": hash,
                        "values": values,
                    }),
                );
            }
            let inputs = if options.inputs { values } else { Vec::new() };
            hashes.push(GroupHash {
                variant: "custom-fingerprint".to_owned(),
                hash,
                component: "fingerprint".to_owned(),
                inputs,
            });
        }
    }

    if hashes.is_empty() && options.explanation {
        variants.insert(
            "fallback".to_owned(),
            json!({
                "type": "fallback",
                "contributes": true,
                "hash": FALLBACK_HASH,
                "hint": "no variant contributes: fallback hash of nothing",
                "values": [],
            }),
        );
    }
    if hashes.is_empty() {
        hashes.push(GroupHash {
            variant: "fallback".to_owned(),
            hash: FALLBACK_HASH.to_owned(),
            component: "fallback".to_owned(),
            inputs: Vec::new(),
        });
    }

    GroupingResult {
        hashes,
        title: metadata::title(event, main_exception_id),
        culprit,
        level: event.level,
        main_exception_id,
        explanation: if options.explanation {
            explanation(event, kind, variants)
        } else {
            Value::Null
        },
    }
}

/// Merges the strategies' components into one root per variant. The first
/// strategy with a contributing component wins; contributing components of
/// later strategies are marked with a precedence hint.
fn combine(outputs: Vec<StrategyOutput<'_>>) -> Vec<(Variant, Component<'_>)> {
    let mut winner: Option<(&'static str, String)> = None;
    let mut per_variant: Vec<(Variant, Vec<Component<'_>>)> = Vec::with_capacity(3);
    for output in outputs {
        let mut contributing: Vec<&str> = output
            .variants
            .iter()
            .filter(|(_, c)| c.contributes)
            .map(|(v, _)| v.name())
            .collect();
        contributing.sort_unstable();
        for (variant, mut component) in output.variants {
            match &winner {
                None if component.contributes => {
                    let subject = if variant == Variant::Default {
                        output.name.to_owned()
                    } else {
                        format!("{} of {}", output.name, contributing.join("/"))
                    };
                    let verb = if output.name.ends_with('s') {
                        "take"
                    } else {
                        "takes"
                    };
                    winner = Some((output.name, format!("{subject} {verb} precedence")));
                }
                Some((name, hint)) if component.contributes && *name != output.name => {
                    component.exclude(hint.clone());
                }
                _ => {}
            }
            match per_variant.iter_mut().find(|(v, _)| *v == variant) {
                Some((_, list)) => list.push(component),
                None => per_variant.push((variant, vec![component])),
            }
        }
    }
    let mut roots: Vec<(Variant, Component<'_>)> = per_variant
        .into_iter()
        .map(|(variant, components)| {
            let mut root = Component::node(variant.name(), components);
            if !root.contributes {
                if let Some((_, hint)) = &winner {
                    root.hint = Some(Cow::Owned(hint.clone()));
                }
            }
            (variant, root)
        })
        .collect();
    roots.sort_by_key(|(v, _)| *v);
    roots
}

/// A hybrid fingerprint's hash: the entries in order with `{{ default }}`
/// replaced by the variant's contributing values.
fn salted(entries: &[Entry<'_>], root: &Component<'_>, collect: bool) -> (String, Vec<String>) {
    let mut md5 = Md5::new();
    let mut inputs = Vec::new();
    let mut add = |v: &str| {
        md5.update(v.as_bytes());
        if collect {
            inputs.push(v.to_owned());
        }
    };
    for entry in entries {
        match entry {
            Entry::Value(v) => add(v),
            Entry::Default => root.for_each_value(&mut add),
        }
    }
    (hex(md5.finalize().into()), inputs)
}

fn entries_json(entries: &[Entry<'_>]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| match e {
                Entry::Value(v) => Value::from(v.as_ref()),
                Entry::Default => Value::from("{{ default }}"),
            })
            .collect(),
    )
}

fn component_variant_json(root: &Component<'_>, hash: Option<&GroupHash>) -> Value {
    // Built by hand: `json!` would deep-copy the component tree.
    let mut v = Map::new();
    v.insert("type".into(), Value::from("component"));
    v.insert("contributes".into(), Value::from(hash.is_some()));
    v.insert(
        "hash".into(),
        hash.map_or(Value::Null, |h| Value::from(h.hash.as_str())),
    );
    if let Some(hint) = &root.hint {
        v.insert("hint".into(), Value::from(hint.as_ref()));
    }
    v.insert("component".into(), root.to_json());
    Value::Object(v)
}

/// `{config, fingerprint: {type, values}, variants}`.
fn explanation(event: &Event, kind: Kind, variants: Map<String, Value>) -> Value {
    let mut e = Map::new();
    e.insert("config".into(), Value::from(CONFIG_ID));
    e.insert(
        "fingerprint".into(),
        json!({"type": kind.name(), "values": event.fingerprint}),
    );
    e.insert("variants".into(), Value::Object(variants));
    Value::Object(e)
}

/// The legacy `checksum` (a string; numbers are accepted).
fn checksum(event: &Event) -> Option<Cow<'_, str>> {
    match event.other.get("checksum")? {
        Value::String(s) if !s.is_empty() => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

fn checksum_result(
    event: &Event,
    checksum: &str,
    main_exception_id: Option<u64>,
    culprit: Option<String>,
    options: GroupingOptions,
) -> GroupingResult {
    let is_hash = checksum.len() == 32
        && checksum
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let (hash, hint) = if is_hash {
        (checksum.to_owned(), "legacy checksum")
    } else {
        (hash_values([checksum]), "hashed legacy checksum")
    };
    GroupingResult {
        explanation: if options.explanation {
            let mut variants = Map::new();
            variants.insert(
                "checksum".into(),
                json!({
                    "type": "checksum",
                    "contributes": true,
                    "hash": hash,
                    "hint": format!("{hint}: no other grouping runs"),
                    "values": [checksum],
                }),
            );
            explanation(event, fingerprint::kind(&event.fingerprint), variants)
        } else {
            Value::Null
        },
        hashes: vec![GroupHash {
            variant: "checksum".to_owned(),
            hash,
            component: "checksum".to_owned(),
            inputs: if options.inputs {
                vec![checksum.to_owned()]
            } else {
                Vec::new()
            },
        }],
        title: metadata::title(event, main_exception_id),
        culprit,
        level: event.level,
        main_exception_id,
    }
}
