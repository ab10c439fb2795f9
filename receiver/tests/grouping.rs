//! Grouping (PROTOCOL.md §10): exact hashes, inputs, titles and culprits,
//! plus the recorded Python SDK fixtures.

#[path = "support/fixtures.rs"]
mod fixtures_support;

use std::path::PathBuf;

use md5::{Digest, Md5};
use receiver::grouping::{
    crash_frame, group_event, group_event_with, parameterize, GroupHash, GroupingOptions,
    FALLBACK_HASH,
};
use sentry_core::envelope::{Envelope, ItemType};
use sentry_core::protocol::{Event, Level};
use serde_json::{json, Value};

fn event(v: Value) -> Event {
    serde_json::from_value(v).expect("test event deserialises")
}

/// md5 hex of the concatenated parts.
fn md5_of(parts: &[&str]) -> String {
    let mut h = Md5::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn hash(variant: &str, component: &str, inputs: &[&str]) -> GroupHash {
    GroupHash {
        variant: variant.into(),
        hash: md5_of(inputs),
        component: component.into(),
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
    }
}

/// A Python exception raised in `raise_it` (line `lineno`), called from
/// `main`; `in_app` applies to both frames.
fn python_error(value: &str, function: &str, lineno: u64, in_app: Option<bool>) -> Event {
    event(json!({
        "platform": "python",
        "exception": {"values": [{
            "type": "LookupError",
            "value": value,
            "stacktrace": {"frames": [
                {"module": "app.main", "filename": "app/main.py", "abs_path": "/srv/app/main.py",
                 "function": "main", "lineno": 10, "context_line": "    handler()", "in_app": in_app},
                {"module": "app.handlers", "filename": "app/handlers.py", "abs_path": "/srv/app/handlers.py",
                 "function": function, "lineno": lineno,
                 "context_line": "    raise LookupError(\"no user %d\" % uid)", "in_app": in_app}
            ]}
        }]}
    }))
}

const PY_INPUTS: [&str; 7] = [
    "app.main",
    "main",
    "handler()",
    "app.handlers",
    "handler",
    "raise LookupError(\"no user %d\" % uid)",
    "LookupError",
];

#[test]
fn same_line_with_different_messages_and_line_numbers_groups_together() {
    let a = group_event(&python_error("no user 1", "handler", 42, Some(true)));
    let b = group_event(&python_error("no user 2", "handler", 57, Some(true)));
    // All frames are in-app, so `system` equals `app` and is not recorded.
    assert_eq!(a.hashes, vec![hash("app", "exception", &PY_INPUTS)]);
    assert_eq!(a.hashes, b.hashes);
    assert_eq!(a.hashes[0].hash, md5_of(&[&PY_INPUTS.concat()]));
    assert_eq!(a.title, "LookupError: no user 1");
    assert_eq!(a.culprit.as_deref(), Some("app.handlers in handler"));
    assert_eq!(a.level, Level::Error);
}

#[test]
fn a_different_function_is_a_different_issue() {
    let a = group_event(&python_error("no user 1", "handler", 42, Some(true)));
    let b = group_event(&python_error("no user 1", "other_handler", 42, Some(true)));
    assert_ne!(a.hashes[0].hash, b.hashes[0].hash);
    assert_eq!(b.hashes[0].inputs[4], "other_handler");
}

#[test]
fn in_app_and_system_variants() {
    // Mixed: app = in-app frames + type, system = all frames + type.
    let mut mixed = python_error("no user 1", "handler", 42, Some(true));
    if let Some(st) = mixed.exception.values[0].stacktrace.as_mut() {
        st.frames[0].in_app = Some(false);
    }
    let r = group_event(&mixed);
    assert_eq!(
        r.hashes,
        vec![
            hash("app", "exception", &PY_INPUTS[3..]),
            hash("system", "exception", &PY_INPUTS),
        ]
    );
    let app_tree = &r.explanation["variants"]["app"]["component"]["values"][0]["values"][0];
    assert_eq!(app_tree["id"], "stacktrace");
    assert_eq!(app_tree["values"][0]["contributes"], false);
    assert_eq!(app_tree["values"][0]["hint"], "non in-app frame");

    // No in-app frame (`in_app: null` counts as false): only `system`.
    let r = group_event(&python_error("no user 1", "handler", 42, None));
    assert_eq!(r.hashes, vec![hash("system", "exception", &PY_INPUTS)]);
    let app = &r.explanation["variants"]["app"];
    assert_eq!(app["contributes"], false);
    assert_eq!(app["hash"], Value::Null);
}

#[test]
fn without_a_stack_trace_type_and_parameterised_value_are_hashed() {
    let r = group_event(&event(json!({
        "exception": {"values": [{"type": "ValueError", "value": "User 123 not found at 0x7ffe"}]}
    })));
    assert_eq!(
        r.hashes,
        vec![hash(
            "app",
            "exception",
            &["ValueError", "User <int> not found at <hex>"]
        )]
    );
    assert_eq!(
        r.hashes[0].hash,
        md5_of(&["ValueErrorUser <int> not found at <hex>"])
    );
    assert_eq!(r.title, "ValueError: User 123 not found at 0x7ffe");
    assert_eq!(r.culprit, None);
    assert_eq!(
        parameterize("User 123 not found at 0x7ffe"),
        "User <int> not found at <hex>"
    );
}

#[test]
fn value_is_ignored_when_the_stack_trace_contributes() {
    let r = group_event(&python_error("no user 1", "handler", 42, Some(true)));
    let exception = &r.explanation["variants"]["app"]["component"]["values"][0];
    assert_eq!(exception["id"], "exception");
    let value = &exception["values"][2];
    assert_eq!(value["id"], "value");
    assert_eq!(value["contributes"], false);
    assert_eq!(value["hint"], "ignored because stacktrace takes precedence");
    assert_eq!(value["values"][0], "no user <int>");
    let frame = &exception["values"][0]["values"][1];
    let lineno = frame["values"]
        .as_array()
        .and_then(|v| v.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        lineno,
        json!({"id": "lineno", "contributes": false, "hint": "line numbers never contribute", "values": ["42"]})
    );
}

#[test]
fn message_templates_and_formatted_messages() {
    let template = |user: &str, n: u32| {
        event(json!({
            "logentry": {"message": "Payment %s failed after %d retries",
                         "formatted": format!("Payment {user} failed after {n} retries"),
                         "params": [user, n]},
            "level": "warning"
        }))
    };
    let a = group_event(&template("pay-1", 3));
    let b = group_event(&template("pay-2", 9));
    assert_eq!(
        a.hashes,
        vec![hash(
            "default",
            "message",
            &["Payment %s failed after %d retries"]
        )]
    );
    assert_eq!(a.hashes, b.hashes);
    assert_eq!(a.title, "Payment pay-1 failed after 3 retries");
    assert_eq!(a.level, Level::Warning);

    // Formatted only: parameterised.
    let r = group_event(&event(
        json!({"logentry": {"formatted": "Disk 93% full on 10.0.0.7"}}),
    ));
    assert_eq!(
        r.hashes,
        vec![hash("default", "message", &["Disk <int>% full on <ip>"])]
    );

    // Legacy `message`, multi-line: two non-blank lines kept, then `...`.
    let r = group_event(&event(
        json!({"message": "job 17 failed\n\nretry 2\ntrace..."}),
    ));
    assert_eq!(
        r.hashes,
        vec![hash(
            "default",
            "message",
            &["job <int> failed\nretry <int>..."]
        )]
    );
    assert_eq!(r.title, "job 17 failed");
}

#[test]
fn exception_takes_precedence_over_message() {
    let mut e = python_error("no user 1", "handler", 42, Some(true));
    e.message = Some("also a message".into());
    let r = group_event(&e);
    assert_eq!(r.hashes, vec![hash("app", "exception", &PY_INPUTS)]);
    assert_eq!(r.explanation["variants"]["default"]["contributes"], false);
    assert_eq!(
        r.explanation["variants"]["default"]["component"]["values"][0]["hint"],
        // `system` equals `app` here, so only `app` contributes.
        "exception of app takes precedence"
    );
}

fn fp_event(fingerprint: &[&str]) -> Event {
    let mut e = event(json!({
        "platform": "python",
        "transaction": "/api/users",
        "logger": "app.log",
        "level": "fatal",
        "tags": {"tenant": "acme"},
        "exception": {"values": [{
            "type": "KeyError",
            "value": "missing 'id'",
            "stacktrace": {"frames": [
                {"function": "outer", "module": "app.a", "filename": "app/a.py", "abs_path": "/srv/app/a.py",
                 "package": "/usr/lib/pkg", "in_app": true},
                {"function": "inner", "module": "lib.b", "filename": "lib/b.py", "abs_path": "/srv/lib/b.py",
                 "package": "C:\\libs\\libb.dll", "in_app": false}
            ]}
        }]}
    }));
    e.fingerprint = fingerprint.iter().map(|s| s.to_string()).collect();
    e
}

fn custom_inputs(fingerprint: &[&str]) -> Vec<String> {
    let r = group_event(&fp_event(fingerprint));
    assert_eq!(r.hashes.len(), 1);
    assert_eq!(r.hashes[0].variant, "custom-fingerprint");
    assert_eq!(r.hashes[0].component, "fingerprint");
    let inputs = r.hashes[0].inputs.clone();
    let parts: Vec<&str> = inputs.iter().map(String::as_str).collect();
    assert_eq!(r.hashes[0].hash, md5_of(&parts));
    inputs
}

#[test]
fn fingerprint_variables() {
    let cases: [(&str, &str); 16] = [
        ("{{ transaction }}", "/api/users"),
        ("{{ message }}", "missing 'id'"),
        ("{{ type }}", "KeyError"),
        ("{{ error.type }}", "KeyError"),
        ("{{ value }}", "missing 'id'"),
        ("{{ error.value }}", "missing 'id'"),
        // The crash frame is the newest in-app frame.
        ("{{ function }}", "outer"),
        ("{{ stack.function }}", "outer"),
        ("{{ path }}", "/srv/app/a.py"),
        ("{{ stack.abs_path }}", "/srv/app/a.py"),
        ("{{ stack.filename }}", "app/a.py"),
        ("{{ module }}", "app.a"),
        ("{{ package }}", "pkg"),
        ("{{ level }}", "fatal"),
        ("{{ logger }}", "app.log"),
        ("{{tags.tenant}}", "acme"),
    ];
    for (variable, want) in cases {
        assert_eq!(custom_inputs(&[variable]), [want], "variable {variable}");
    }
    // Unknown variables are kept verbatim; literals as they are.
    assert_eq!(custom_inputs(&["{{ nope }}", "x"]), ["{{ nope }}", "x"]);
}

#[test]
fn fingerprint_placeholders_when_absent() {
    let mut e = event(json!({"message": "hello"}));
    e.fingerprint = [
        "{{ transaction }}",
        "{{ type }}",
        "{{ value }}",
        "{{ function }}",
        "{{ path }}",
        "{{ stack.filename }}",
        "{{ module }}",
        "{{ package }}",
        "{{ logger }}",
        "{{ tags.team }}",
        "{{ message }}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let r = group_event(&e);
    assert_eq!(
        r.hashes[0].inputs,
        [
            "<no-transaction>",
            "<no-type>",
            "<no-value>",
            "<no-function>",
            "<no-abs-path>",
            "<no-filename>",
            "<no-module>",
            "<no-package>",
            "<no-logger>",
            "<no-value-for-tag-team>",
            "hello",
        ]
    );
    let mut e = event(json!({}));
    e.fingerprint = vec!["{{ message }}".into()];
    assert_eq!(group_event(&e).hashes[0].inputs, ["<no-message>"]);
}

#[test]
fn custom_fingerprint_replaces_default_grouping() {
    let r = group_event(&fp_event(&["database-down"]));
    assert_eq!(
        r.hashes,
        vec![hash(
            "custom-fingerprint",
            "fingerprint",
            &["database-down"]
        )]
    );
    assert_eq!(r.hashes[0].hash, md5_of(&["database-down"]));
    for variant in ["app", "system"] {
        assert_eq!(r.explanation["variants"][variant]["contributes"], false);
        assert_eq!(
            r.explanation["variants"][variant]["hint"],
            "custom fingerprint takes precedence"
        );
    }
    assert_eq!(r.explanation["fingerprint"]["type"], "custom");
}

#[test]
fn hybrid_fingerprint_salts_every_default_variant() {
    let default = group_event(&fp_event(&[]));
    let app = ["app.a", "outer", "KeyError"];
    let system = ["app.a", "outer", "lib.b", "inner", "KeyError"];
    assert_eq!(
        default.hashes,
        vec![
            hash("app", "exception", &app),
            hash("system", "exception", &system)
        ]
    );
    // `["{{ default }}"]` alone is the default.
    assert_eq!(
        group_event(&fp_event(&["{{default}}"])).hashes,
        default.hashes
    );

    let a = group_event(&fp_event(&["{{ default }}", "tenant-a"]));
    fn salted<'s>(v: &[&'s str], salt: &'s str) -> Vec<&'s str> {
        [v, &[salt]].concat()
    }
    assert_eq!(
        a.hashes,
        vec![
            hash("app", "exception", &salted(&app, "tenant-a")),
            hash("system", "exception", &salted(&system, "tenant-a")),
        ]
    );
    let b = group_event(&fp_event(&["{{ default }}", "tenant-b"]));
    assert_ne!(a.hashes[0].hash, b.hashes[0].hash);
    assert_ne!(a.hashes[0].hash, default.hashes[0].hash);
    // Entry order matters and variables resolve.
    let c = group_event(&fp_event(&["{{ tags.tenant }}", "{{ default }}"]));
    assert_eq!(
        c.hashes[0],
        hash("app", "exception", &["acme", "app.a", "outer", "KeyError"])
    );
    assert_eq!(c.explanation["variants"]["app"]["type"], "salted-component");
}

#[test]
fn checksum_short_circuits_grouping() {
    let sum = "0123456789abcdef0123456789abcdef";
    let r = group_event(&event(json!({"checksum": sum, "message": "x"})));
    assert_eq!(
        r.hashes,
        vec![GroupHash {
            variant: "checksum".into(),
            hash: sum.into(),
            component: "checksum".into(),
            inputs: vec![sum.into()],
        }]
    );
    for other in ["my-checksum", "0123456789ABCDEF0123456789ABCDEF"] {
        let r = group_event(&event(json!({"checksum": other})));
        assert_eq!(r.hashes, vec![hash("checksum", "checksum", &[other])]);
    }
}

#[test]
fn fallback_when_nothing_contributes() {
    let r = group_event(&event(json!({})));
    assert_eq!(
        r.hashes,
        vec![GroupHash {
            variant: "fallback".into(),
            hash: FALLBACK_HASH.into(),
            component: "fallback".into(),
            inputs: vec![],
        }]
    );
    assert_eq!(FALLBACK_HASH, md5_of(&[]));
    assert_eq!(r.title, "<unlabeled event>");
    // A synthetic exception without a stack trace or value: nothing contributes.
    let r = group_event(&event(json!({
        "exception": {"values": [{"type": "SIGSEGV", "mechanism": {"type": "signalhandler", "synthetic": true}}]}
    })));
    assert_eq!(r.hashes[0].hash, FALLBACK_HASH);
    assert_eq!(r.title, "<unknown>");
}

#[test]
fn chained_exceptions_concatenate_oldest_first() {
    let r = group_event(&event(json!({
        "platform": "python",
        "exception": {"values": [
            {"type": "ValueError", "value": "bad port 99"},
            {"type": "RuntimeError", "value": "config load failed"}
        ]}
    })));
    assert_eq!(
        r.hashes,
        vec![hash(
            "app",
            "chained-exception",
            &[
                "ValueError",
                "bad port <int>",
                "RuntimeError",
                "config load failed"
            ]
        )]
    );
    // The title is the last (reported) exception.
    assert_eq!(r.title, "RuntimeError: config load failed");
}

#[test]
fn exception_groups_with_one_distinct_inner_exception() {
    // ExceptionGroup(root, id 0) containing two identical ValueErrors.
    let r = group_event(&event(json!({
        "exception": {"values": [
            {"type": "ValueError", "value": "x 1", "mechanism": {"type": "chained", "exception_id": 2, "parent_id": 0}},
            {"type": "ValueError", "value": "x 2", "mechanism": {"type": "chained", "exception_id": 1, "parent_id": 0}},
            {"type": "ExceptionGroup", "value": "2 errors",
             "mechanism": {"type": "generic", "is_exception_group": true, "exception_id": 0}}
        ]}
    })));
    // Grouped by the single distinct inner exception; it also titles the issue.
    assert_eq!(
        r.hashes,
        vec![hash("app", "exception", &["ValueError", "x <int>"])]
    );
    assert_eq!(r.title, "ValueError: x 2");
}

#[test]
fn exception_groups_with_several_distinct_inner_exceptions() {
    let r = group_event(&event(json!({
        "exception": {"values": [
            {"type": "ValueError", "value": "bad 1", "mechanism": {"type": "chained", "exception_id": 1, "parent_id": 0}},
            {"type": "TypeError", "value": "wrong", "mechanism": {"type": "chained", "exception_id": 2, "parent_id": 0}},
            {"type": "ExceptionGroup", "value": "2 errors",
             "mechanism": {"type": "generic", "is_exception_group": true, "exception_id": 0}}
        ]}
    })));
    // The distinct top-level exceptions (by type, descending), then the group.
    assert_eq!(
        r.hashes,
        vec![hash(
            "app",
            "chained-exception",
            &[
                "ValueError",
                "bad <int>",
                "TypeError",
                "wrong",
                "ExceptionGroup",
                "<int> errors"
            ]
        )]
    );
    assert_eq!(r.title, "ExceptionGroup: 2 errors");
}

#[test]
fn chains_with_exception_ids_but_no_group_keep_values_order() {
    let r = group_event(&event(json!({
        "platform": "javascript",
        "exception": {"values": [
            {"type": "Error", "value": "cause", "mechanism": {"type": "chained", "source": "cause", "exception_id": 1, "parent_id": 0}},
            {"type": "Error", "value": "outer", "mechanism": {"type": "generic", "exception_id": 0}}
        ]}
    })));
    assert_eq!(
        r.hashes,
        vec![hash(
            "app",
            "chained-exception",
            &["Error", "cause", "Error", "outer"]
        )]
    );
    assert_eq!(r.title, "Error: outer");
}

#[test]
fn rust_symbol_hashes_are_stripped() {
    let native = |hash_suffix: &str| {
        event(json!({
            "platform": "native",
            "exception": {"values": [{
                "type": "panic",
                "value": "called `Option::unwrap()` on a `None` value",
                "stacktrace": {"frames": [
                    {"function": format!("app::main{hash_suffix}"), "filename": "src/main.rs", "in_app": true},
                    {"function": "core::option::unwrap_failed", "filename": "option.rs", "in_app": true}
                ]}
            }]}
        }))
    };
    let a = group_event(&native("::h0123456789abcdef"));
    let b = group_event(&native("::hfedcba9876543210"));
    let plain = group_event(&native(""));
    assert_eq!(a.hashes, b.hashes);
    assert_eq!(a.hashes, plain.hashes);
    // `core::*` frames are never in-app.
    assert_eq!(
        a.hashes,
        vec![
            hash("app", "exception", &["main.rs", "app::main", "panic"]),
            hash(
                "system",
                "exception",
                &[
                    "main.rs",
                    "app::main",
                    "option.rs",
                    "core::option::unwrap_failed",
                    "panic"
                ]
            ),
        ]
    );
    // Native culprits are the function alone (Sentry's get_culprit_string).
    assert_eq!(a.culprit.as_deref(), Some("app::main"));
    // Not a symbol hash: kept.
    let c = group_event(&native("::h1234abcd"));
    assert_eq!(c.hashes[0].inputs[1], "app::main::h1234abcd");
}

#[test]
fn native_signatures_group_by_the_function_name() {
    // The same crash built twice: another return type, argument list,
    // template argument and a cloned cold path must not split the issue.
    let native = |crash: &str, caller: &str, raw: Option<&str>| {
        event(json!({
            "platform": "native",
            "exception": {"values": [{
                "type": "EXC_BAD_ACCESS",
                "value": "crash at 0x0",
                "stacktrace": {"frames": [
                    {"function": caller, "filename": "main.cpp", "in_app": true},
                    {"function": crash, "raw_function": raw, "filename": "widget.cpp", "in_app": true}
                ]}
            }]}
        }))
    };
    let a = group_event(&native(
        "void ui::Widget<int>::draw(ui::Canvas&) const",
        "int main(int, char**)",
        None,
    ));
    let b = group_event(&native(
        "bool ui::Widget<long>::draw(ui::Canvas&, float) [clone .cold]",
        "main",
        None,
    ));
    assert_eq!(a.hashes, b.hashes);
    assert_eq!(
        a.hashes[0],
        hash(
            "app",
            "exception",
            &[
                "main.cpp",
                "main",
                "widget.cpp",
                "ui::Widget<T>::draw",
                "EXC_BAD_ACCESS"
            ]
        )
    );
    assert_eq!(a.culprit.as_deref(), Some("ui::Widget<T>::draw"));
    // An SDK that trimmed already (it sent `raw_function`) is taken at its word.
    let sent = group_event(&native(
        "ui::Widget::draw(ui::Canvas&)",
        "main",
        Some("void ui::Widget::draw(ui::Canvas&)"),
    ));
    assert_eq!(sent.hashes[0].inputs[3], "ui::Widget::draw(ui::Canvas&)");
    // Other platforms keep the name as sent.
    let mut python = native("void draw(int)", "main", None);
    python.platform = "python".into();
    assert_eq!(group_event(&python).hashes[0].inputs[3], "void draw(int)");
}

#[test]
fn recursive_frames_collapse() {
    let frames = |n: usize| {
        let mut frames =
            vec![json!({"function": "main", "module": "app", "lineno": 1, "in_app": true})];
        for _ in 0..n {
            frames.push(json!({"function": "walk", "module": "app", "lineno": 7, "in_app": true}));
        }
        event(
            json!({"platform": "python", "exception": {"values": [{"type": "RecursionError", "stacktrace": {"frames": frames}}]}}),
        )
    };
    let once = group_event(&frames(1));
    let many = group_event(&frames(50));
    assert_eq!(
        once.hashes,
        vec![hash(
            "app",
            "exception",
            &["app", "main", "app", "walk", "RecursionError"]
        )]
    );
    assert_eq!(many.hashes, once.hashes);
    let st = &many.explanation["variants"]["app"]["component"]["values"][0]["values"][0];
    assert_eq!(st["values"][2]["hint"], "ignored due to recursion");
}

#[test]
fn javascript_frames() {
    let js = |url: &str, function: &str| {
        event(json!({
            "platform": "javascript",
            "exception": {"values": [{"type": "TypeError", "value": "x is undefined", "stacktrace": {"frames": [
                {"filename": url, "function": function, "lineno": 1, "colno": 120, "in_app": true}
            ]}}]}
        }))
    };
    // URL frames: the filename does not contribute; `Object.foo` → `foo`.
    let a = group_event(&js(
        "https://cdn.example.com/app.3f9a1c.js?v=1",
        "Object.render",
    ));
    let b = group_event(&js("https://cdn.example.com/app.77aa00.js", "render"));
    assert_eq!(
        a.hashes,
        vec![hash("app", "exception", &["render", "TypeError"])]
    );
    assert_eq!(a.hashes, b.hashes);
    // A local file contributes its basename without the query.
    let c = group_event(&js("/static/App.js?v=2", "render"));
    assert_eq!(
        c.hashes,
        vec![hash("app", "exception", &["app.js", "render", "TypeError"])]
    );
}

#[test]
fn threads_use_the_crashed_thread() {
    let r = group_event(&event(json!({
        "platform": "native",
        "threads": {"values": [
            {"id": 1, "stacktrace": {"frames": [{"function": "idle", "in_app": true}]}},
            {"id": 2, "crashed": true, "stacktrace": {"frames": [{"function": "crash_here", "in_app": true}]}}
        ]}
    })));
    assert_eq!(r.hashes, vec![hash("app", "threads", &["crash_here"])]);
    // Two threads, none crashed or current: threads do not contribute.
    let r = group_event(&event(json!({
        "threads": [{"id": 1, "stacktrace": {"frames": [{"function": "a"}]}}, {"id": 2}]
    })));
    assert_eq!(r.hashes[0].hash, FALLBACK_HASH);
}

#[test]
fn top_level_stacktrace() {
    let r = group_event(&event(json!({
        "platform": "python",
        "message": "boom",
        "stacktrace": {"frames": [{"function": "run", "module": "jobs", "in_app": true}]}
    })));
    assert_eq!(r.hashes, vec![hash("app", "stacktrace", &["jobs", "run"])]);
    assert_eq!(r.title, "boom");
}

#[test]
fn title_and_culprit() {
    let mut e = python_error("first line\nsecond line", "handler", 3, Some(true));
    assert_eq!(group_event(&e).title, "LookupError: first line");
    assert_eq!(
        group_event(&e).culprit.as_deref(),
        Some("app.handlers in handler")
    );
    e.transaction = Some("GET /users/{id}".into());
    assert_eq!(group_event(&e).culprit.as_deref(), Some("GET /users/{id}"));
    // Crash frame: newest in-app frame, else the newest frame.
    let mut e = python_error("x", "handler", 3, None);
    assert_eq!(
        crash_frame(&e).and_then(|f| f.function.as_deref()),
        Some("handler")
    );
    if let Some(st) = e.exception.values[0].stacktrace.as_mut() {
        st.frames[0].in_app = Some(true);
    }
    assert_eq!(
        crash_frame(&e).and_then(|f| f.function.as_deref()),
        Some("main")
    );
    assert_eq!(group_event(&e).culprit.as_deref(), Some("app.main in main"));
    let r = group_event(&event(
        json!({"exception": {"values": [{"value": "no type"}]}}),
    ));
    assert_eq!(r.title, "Error: no type");
}

// --- recorded fixtures ---------------------------------------------------

fn fixtures_dir() -> PathBuf {
    fixtures_support::python_fixtures_dir()
}

/// The events of every event item in the fixture `NNN-*.jsonl`.
fn fixture_events(seq: u32) -> Vec<Event> {
    let dir = fixtures_dir();
    let prefix = format!("{seq:03}-");
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(&prefix) && name.ends_with(".jsonl")
        })
        .collect();
    paths.sort();
    let path = paths
        .first()
        .unwrap_or_else(|| panic!("fixture {prefix}*.jsonl is missing in {}", dir.display()));
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let envelope = Envelope::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    envelope
        .items
        .iter()
        .filter(|item| item.headers.ty == ItemType::Event)
        .map(|item| {
            let raw = item.payload.as_raw().expect("parsed payloads are raw");
            serde_json::from_slice(raw)
                .unwrap_or_else(|e| panic!("{}: event payload: {e}", path.display()))
        })
        .collect()
}

fn single_event(seq: u32) -> Event {
    let mut events = fixture_events(seq);
    assert_eq!(events.len(), 1, "fixture {seq:03} has one event item");
    events.remove(0)
}

#[test]
fn python_fixtures_group_by_code_line() {
    let same_line: Vec<_> = (14..=18)
        .map(|seq| group_event(&single_event(seq)))
        .collect();
    let other = group_event(&single_event(19));

    // Frames have no `in_app` (→ false): only the system variant exists,
    // made of module, function and context line of each frame, then the type.
    let inputs = [
        "__main__",
        "s_grouping",
        "_grouping_same_line(i)",
        "__main__",
        "_grouping_same_line",
        "raise LookupError(\"grouping: same line #%d\" % i) # all 5 raised from this line",
        "LookupError",
    ];
    assert_eq!(
        same_line[0].hashes,
        vec![hash("system", "exception", &inputs)]
    );
    for (i, r) in same_line.iter().enumerate() {
        assert_eq!(r.hashes, same_line[0].hashes, "fixture {:03}", 14 + i);
        assert_eq!(r.title, format!("LookupError: grouping: same line #{i}"));
        assert_eq!(
            r.culprit.as_deref(),
            Some("__main__ in _grouping_same_line")
        );
    }
    assert_eq!(other.hashes.len(), 1);
    assert_eq!(other.hashes[0].variant, "system");
    assert_ne!(other.hashes[0].hash, same_line[0].hashes[0].hash);
    assert_eq!(other.hashes[0].inputs[4], "_grouping_other_function");
    assert_eq!(other.title, "LookupError: grouping: different function");
}

#[test]
fn every_fixture_event_groups() {
    let mut events = 0;
    for seq in 1..=24 {
        for e in fixture_events(seq) {
            let r = group_event(&e);
            assert!(!r.hashes.is_empty(), "fixture {seq:03}");
            for h in &r.hashes {
                assert_eq!(h.hash.len(), 32, "fixture {seq:03}");
                assert!(h
                    .hash
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            }
            assert!(r.explanation["variants"].is_object());
            events += 1;
        }
    }
    assert_eq!(events, 19);

    // The message event with params groups by its template.
    let r = group_event(&single_event(4));
    assert_eq!(
        r.hashes,
        vec![hash(
            "default",
            "message",
            &["Payment %s failed for user %s after %d retries"]
        )]
    );
    assert_eq!(
        r.title,
        "Payment pay-42 failed for user user-7 after 3 retries"
    );
    // The hybrid fingerprint of 005 salts the default hash.
    let r = group_event(&single_event(5));
    assert_eq!(r.hashes[0].inputs[0], "custom-group");
    assert_eq!(r.explanation["fingerprint"]["type"], "hybrid");
}

#[test]
fn hashes_only_mode_gives_the_same_hashes() {
    let mut events: Vec<Event> = (1..=24).flat_map(fixture_events).collect();
    events.push(fp_event(&["{{ default }}", "x"]));
    events.push(fp_event(&["custom"]));
    events.push(event(json!({"checksum": "abc"})));
    events.push(event(json!({})));
    // The value is parameterised only where some stack trace does not
    // contribute (lean mode): all in-app, none in-app, no frames, a chain
    // that mixes them, a synthetic type.
    let frame = |f: &str, in_app: bool| json!({"function": f, "module": "m", "in_app": in_app});
    for (frames, value) in [
        (
            json!([frame("a", true), frame("b", true)]),
            "user 42 at 0x7ffe3",
        ),
        (
            json!([frame("a", false), frame("b", false)]),
            "user 42 at 0x7ffe3",
        ),
        (json!([frame("a", false), frame("b", true)]), "  "),
        (json!([]), "order 9 failed"),
    ] {
        events.push(event(
            json!({"platform": "python", "exception": {"values": [
            {"type": "KeyError", "value": value, "stacktrace": {"frames": frames}}]}}),
        ));
    }
    events.push(event(
        json!({"platform": "python", "exception": {"values": [
        {"type": "OSError", "value": "disk 3 failed"},
        {"type": "RuntimeError", "value": "retry 2 of 5",
         "stacktrace": {"frames": [frame("a", false), frame("b", true)]}},
        {"type": "Boom", "value": "id 7", "mechanism": {"type": "signal", "synthetic": true},
         "stacktrace": {"frames": [frame("c", false)]}}]}}),
    ));
    for e in &events {
        let full = group_event(e);
        let lean = group_event_with(e, GroupingOptions::HASHES_ONLY);
        assert_eq!(lean.explanation, Value::Null);
        assert_eq!(lean.title, full.title);
        assert_eq!(lean.culprit, full.culprit);
        assert_eq!(lean.hashes.len(), full.hashes.len());
        for (l, f) in lean.hashes.iter().zip(&full.hashes) {
            assert_eq!(
                (&l.variant, &l.hash, &l.component),
                (&f.variant, &f.hash, &f.component)
            );
            assert!(l.inputs.is_empty());
        }
    }
}

#[test]
fn culprits_and_titles_read_as_in_sentry() {
    let js = serde_json::from_value(json!({"platform": "javascript", "exception": {"values": [{
        "type": "TypeError", "value": "x is undefined",
        "stacktrace": {"frames": [{"filename": "https://example.com/static/js/main.3f9a1c.js?v=2",
                                   "function": "onClick", "in_app": true}]}}]}}))
    .expect("event");
    assert_eq!(
        group_event(&js).culprit.as_deref(),
        Some("onClick(/static/js/main.3f9a1c.js)")
    );
    let python = serde_json::from_value(json!({"platform": "python", "exception": {"values": [{
        "type": "KeyError", "value": "x",
        "stacktrace": {"frames": [{"filename": "shop/views.py", "module": "shop.views",
                                   "function": "checkout", "in_app": true}]}}]}}))
    .expect("event");
    assert_eq!(
        group_event(&python).culprit.as_deref(),
        Some("shop.views in checkout")
    );
    // Titles keep 100 characters of the value's first line.
    let long = "é".repeat(500);
    let e = serde_json::from_value(
        json!({"exception": {"values": [{"type": "ValueError", "value": long}]}}),
    )
    .expect("event");
    let title = group_event(&e).title;
    assert_eq!(title.chars().count(), "ValueError: ".len() + 100, "{title}");
    assert!(title.ends_with("é…"), "{title}");
    let e = serde_json::from_value(json!({"message": "x".repeat(150)})).expect("event");
    assert_eq!(group_event(&e).title.chars().count(), 100);
    let e = serde_json::from_value(json!({"message": "y".repeat(100)})).expect("event");
    assert_eq!(
        group_event(&e).title,
        "y".repeat(100),
        "100 characters stay whole"
    );
}

/// Five chained exceptions whose stack traces count (their long values do
/// not), then one without a usable frame whose value is hashed.
fn chain_ending_in(last_value: &str) -> sentry_core::protocol::Event {
    let mut values: Vec<serde_json::Value> = (0..5)
        .map(|i| {
            json!({"type": "DbError", "value": format!("{i} {}", "q".repeat(7990)),
                   "stacktrace": {"frames": [{"module": "app.db", "function": format!("f{i}"), "in_app": true}]}})
        })
        .collect();
    values.push(json!({"type": "ConfigError", "value": last_value,
                       "stacktrace": {"frames": [{"lineno": 1}]}}));
    serde_json::from_value(json!({"platform": "python", "exception": {"values": values}}))
        .expect("event")
}

#[test]
fn values_that_do_not_count_never_cut_one_that_does() {
    let prefix = "setting ".to_owned() + &"x".repeat(150);
    let a = chain_ending_in(&format!("{prefix} database_url is missing"));
    let b = chain_ending_in(&format!("{prefix} cache_backend is missing"));
    let hashes = |e: &sentry_core::protocol::Event, options| -> Vec<String> {
        group_event_with(e, options)
            .hashes
            .into_iter()
            .map(|h| h.hash)
            .collect()
    };
    // The fast path (no explanation) and the full one agree...
    assert_eq!(
        hashes(&a, GroupingOptions::HASHES_ONLY),
        hashes(&a, GroupingOptions::FULL)
    );
    // ...and the counted value is hashed whole (past its 128th byte).
    assert_ne!(
        hashes(&a, GroupingOptions::FULL),
        hashes(&b, GroupingOptions::FULL)
    );
}
