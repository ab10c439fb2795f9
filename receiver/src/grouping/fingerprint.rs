//! The `fingerprint` field and its variables (PROTOCOL.md §10.2).

use std::borrow::Cow;

use sentry_core::protocol::Event;

use super::metadata::crash_frame;

/// How the event's fingerprint affects grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Missing, empty or exactly `["{{ default }}"]`.
    Default,
    /// `{{ default }}` plus other entries: default variants are salted.
    Hybrid,
    /// No `{{ default }}`: one custom hash.
    Custom,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Default => "default",
            Kind::Hybrid => "hybrid",
            Kind::Custom => "custom",
        }
    }
}

/// The variable name if the whole entry is `{{ name }}` (spaces optional;
/// the name has no whitespace).
pub(crate) fn variable_name(entry: &str) -> Option<&str> {
    let inner = entry.strip_prefix("{{")?.strip_suffix("}}")?;
    let name = inner.trim_matches(char::is_whitespace);
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

fn is_default(entry: &str) -> bool {
    variable_name(entry) == Some("default")
}

/// Classifies a fingerprint.
pub(crate) fn kind(fingerprint: &[String]) -> Kind {
    match fingerprint {
        [] => Kind::Default,
        [only] if is_default(only) => Kind::Default,
        entries if entries.iter().any(|e| is_default(e)) => Kind::Hybrid,
        _ => Kind::Custom,
    }
}

/// A resolved fingerprint entry.
#[derive(Debug, Clone)]
pub(crate) enum Entry<'a> {
    /// `{{ default }}`: replaced by the variant's contributing values.
    Default,
    /// A literal or the value of a variable.
    Value(Cow<'a, str>),
}

/// Resolves every entry; unknown variables are kept verbatim (the
/// `newstyle:2023-01-11` behaviour).
pub(crate) fn resolve<'a>(fingerprint: &'a [String], event: &'a Event) -> Vec<Entry<'a>> {
    fingerprint
        .iter()
        .map(|entry| match variable_name(entry) {
            None => Entry::Value(Cow::Borrowed(entry)),
            Some("default") => Entry::Default,
            Some(name) => {
                Entry::Value(resolve_variable(name, event).unwrap_or(Cow::Borrowed(entry)))
            }
        })
        .collect()
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// The value of one variable, or `None` if the variable is unknown.
pub(crate) fn resolve_variable<'a>(name: &'a str, event: &'a Event) -> Option<Cow<'a, str>> {
    let last = event.exception.values.last();
    let b = |value: Option<&'a str>, placeholder: &'static str| {
        Some(Cow::Borrowed(value.unwrap_or(placeholder)))
    };
    match name {
        "transaction" => b(non_empty(event.transaction.as_deref()), "<no-transaction>"),
        "message" => b(
            event
                .logentry
                .as_ref()
                .and_then(|l| non_empty(l.formatted.as_deref()).or(non_empty(l.message.as_deref())))
                .or(non_empty(event.message.as_deref()))
                .or(non_empty(last.and_then(|e| e.value.as_deref()))),
            "<no-message>",
        ),
        "type" | "error.type" => b(non_empty(last.map(|e| e.ty.as_str())), "<no-type>"),
        "value" | "error.value" => b(
            non_empty(last.and_then(|e| e.value.as_deref())),
            "<no-value>",
        ),
        "function" | "stack.function" => b(
            non_empty(crash_frame(event).and_then(|f| f.function.as_deref())),
            "<no-function>",
        ),
        "path" | "stack.abs_path" => b(
            crash_frame(event).and_then(|f| {
                non_empty(f.abs_path.as_deref()).or(non_empty(f.filename.as_deref()))
            }),
            "<no-abs-path>",
        ),
        "stack.filename" => b(
            crash_frame(event).and_then(|f| {
                non_empty(f.filename.as_deref()).or(non_empty(f.abs_path.as_deref()))
            }),
            "<no-filename>",
        ),
        "module" | "stack.module" => b(
            non_empty(crash_frame(event).and_then(|f| f.module.as_deref())),
            "<no-module>",
        ),
        "package" | "stack.package" => b(
            non_empty(
                crash_frame(event)
                    .and_then(|f| f.package.as_deref())
                    .map(|p| p.rsplit(['/', '\\']).next().unwrap_or(p)),
            ),
            "<no-package>",
        ),
        "level" => b(Some(event.level.as_str()), "<no-level>"),
        "logger" => b(non_empty(event.logger.as_deref()), "<no-logger>"),
        _ => {
            let tag = name.strip_prefix("tags.")?;
            Some(match event.tags.get(tag) {
                Some(value) => Cow::Borrowed(value.as_str()),
                None => Cow::Owned(format!("<no-value-for-tag-{tag}>")),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn variables_are_whole_entries() {
        assert_eq!(variable_name("{{ default }}"), Some("default"));
        assert_eq!(variable_name("{{default}}"), Some("default"));
        assert_eq!(variable_name("{{  tags.env\t}}"), Some("tags.env"));
        assert_eq!(variable_name("x {{ default }}"), None);
        assert_eq!(variable_name("{{ a b }}"), None);
        assert_eq!(variable_name("{{ }}"), None);
    }

    #[test]
    fn kinds() {
        assert_eq!(kind(&[]), Kind::Default);
        assert_eq!(kind(&fp(&["{{default}}"])), Kind::Default);
        assert_eq!(kind(&fp(&["{{ default }}", "{{ default }}"])), Kind::Hybrid);
        assert_eq!(kind(&fp(&["a", "{{ default }}"])), Kind::Hybrid);
        assert_eq!(kind(&fp(&["a"])), Kind::Custom);
    }

    #[test]
    fn unknown_variables_are_kept_verbatim() {
        let event = Event::default();
        let entries = fp(&["{{ nope }}", "{{ tags.x }}", "{{ level }}"]);
        let resolved: Vec<String> = resolve(&entries, &event)
            .into_iter()
            .map(|e| match e {
                Entry::Value(v) => v.into_owned(),
                Entry::Default => "<default>".into(),
            })
            .collect();
        assert_eq!(resolved, ["{{ nope }}", "<no-value-for-tag-x>", "error"]);
    }
}
