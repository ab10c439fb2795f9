//! A project's fingerprint rules (Sentry's server-side fingerprinting):
//! lines of matchers that, when an event matches them all, give it a
//! fingerprint (and optionally a title) in place of the one it came with.
//!
//! ```text
//! # comments start with #
//! error.type:DatabaseUnavailable -> system-down
//! error.value:"connection error: *" -> connection-error, {{ transaction }}
//! stack.function:"db::*" !error.type:Timeout -> database, {{ default }} title="Database error"
//! ```
//!
//! Matchers, as Sentry's (values are globs: `*` any run of characters, `?`
//! one character, `\` escapes the next):
//!
//! | matcher (alias) | matches | case |
//! |---|---|---|
//! | `error.type` (`type`) | an exception's type | sensitive |
//! | `error.value` (`value`) | an exception's value | insensitive |
//! | `message` | the message, or an exception's value | insensitive |
//! | `logger` | the logger | sensitive |
//! | `level` | the level | insensitive |
//! | `tags.NAME` | tag `NAME`'s value | insensitive |
//! | `stack.function` (`function`) | a frame's function | sensitive |
//! | `stack.module` (`module`) | a frame's module | sensitive |
//! | `stack.abs_path` (`path`) | a frame's path (`\` read as `/`) | insensitive |
//! | `stack.package` (`package`) | a frame's package (`\` read as `/`) | insensitive |
//! | `app` | a frame is in-app (`yes`/`no`) | |
//! | `family` | the platform family (`native`, `javascript`, `other`, `all`) | |
//! | `release` | the release | sensitive |
//! | `sdk` | the SDK's name | sensitive |
//!
//! `!` before a matcher negates it. Matchers of one kind look at the same
//! element, as Sentry's do: `error.type` and `error.value` must match one
//! exception of the chain, the frame matchers one frame of any stack
//! trace; a rule whose matchers need an element the event does not have
//! (an exception, a frame) does not match it. The first rule that matches
//! wins. The fingerprint's entries may use the variables a client
//! fingerprint can (`{{ default }}`, `{{ transaction }}`, `{{ type }}`, …;
//! `grouping::fingerprint`); `title="…"` after it names the issue.
//!
//! ```
//! use receiver::grouping::fingerprint_rules::FingerprintRules;
//! let rules = FingerprintRules::parse("error.type:Timeout* -> slow-backend title=\"Slow backend\"")?;
//! let event: sentry_core::protocol::Event = serde_json::from_value(serde_json::json!({
//!     "exception": {"values": [{"type": "TimeoutError", "value": "read timed out"}]}
//! }))?;
//! let matched = rules.apply(&event).expect("the rule matches");
//! assert_eq!(matched.fingerprint, ["slow-backend"]);
//! assert_eq!(matched.title.as_deref(), Some("Slow backend"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use sentry_core::protocol::{Event, Frame};

use super::normalize::{family, Family};

/// How many rules a project may have, and how long its text may be.
pub const MAX_RULES: usize = 500;
/// The longest rules text accepted (bytes).
pub const MAX_TEXT: usize = 64 * 1024;

/// Why a rules text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fingerprint rules, line {line}: {message}")]
pub struct RulesError {
    /// 1-based line number (0: the whole text).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A project's parsed rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FingerprintRules {
    rules: Vec<Rule>,
}

/// What the first matching rule gives an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The fingerprint, variables unresolved (as a client would send it).
    pub fingerprint: Vec<String>,
    /// The issue title the rule sets, if any.
    pub title: Option<String>,
    /// The rule's text, for the grouping explanation.
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    matchers: Vec<Matcher>,
    fingerprint: Vec<String>,
    title: Option<String>,
    text: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Matcher {
    negated: bool,
    field: Field,
    pattern: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Type,
    Value,
    Message,
    Logger,
    Level,
    Tag(String),
    Function,
    Module,
    Path,
    Package,
    App,
    Family,
    Release,
    Sdk,
}

/// Which element of an event a matcher looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exception,
    Frame,
    Event,
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "error.type" | "type" => Field::Type,
            "error.value" | "value" => Field::Value,
            "message" => Field::Message,
            "logger" => Field::Logger,
            "level" => Field::Level,
            "stack.function" | "function" => Field::Function,
            "stack.module" | "module" => Field::Module,
            "stack.abs_path" | "path" => Field::Path,
            "stack.package" | "package" => Field::Package,
            "app" => Field::App,
            "family" => Field::Family,
            "release" => Field::Release,
            "sdk" => Field::Sdk,
            other => {
                let tag = other.strip_prefix("tags.")?;
                if tag.is_empty() {
                    return None;
                }
                Field::Tag(tag.to_owned())
            }
        })
    }

    fn kind(&self) -> Kind {
        match self {
            Field::Type | Field::Value => Kind::Exception,
            Field::Function | Field::Module | Field::Path | Field::Package | Field::App => {
                Kind::Frame
            }
            _ => Kind::Event,
        }
    }
}

impl FingerprintRules {
    /// Parses a rules text (see the module documentation).
    pub fn parse(text: &str) -> Result<FingerprintRules, RulesError> {
        if text.len() > MAX_TEXT {
            return Err(RulesError {
                line: 0,
                message: format!("the rules are {} bytes; at most {MAX_TEXT}", text.len()),
            });
        }
        let mut rules = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let rule = parse_rule(line).map_err(|message| RulesError {
                line: i + 1,
                message,
            })?;
            rules.push(rule);
            if rules.len() > MAX_RULES {
                return Err(RulesError {
                    line: i + 1,
                    message: format!("more than {MAX_RULES} rules"),
                });
            }
        }
        Ok(FingerprintRules { rules })
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The fingerprint and title of the first rule `event` matches.
    pub fn apply(&self, event: &Event) -> Option<Matched> {
        let rule = self.rules.iter().find(|r| r.matches(event))?;
        Some(Matched {
            fingerprint: rule.fingerprint.clone(),
            title: rule.title.clone(),
            rule: rule.text.clone(),
        })
    }
}

impl Rule {
    fn matches(&self, event: &Event) -> bool {
        [Kind::Exception, Kind::Frame, Kind::Event]
            .into_iter()
            .all(|kind| {
                let matchers: Vec<&Matcher> = self
                    .matchers
                    .iter()
                    .filter(|m| m.field.kind() == kind)
                    .collect();
                if matchers.is_empty() {
                    return true;
                }
                match kind {
                    Kind::Exception => event.exception.values.iter().any(|e| {
                        matchers.iter().all(|m| {
                            m.holds(|field| match field {
                                Field::Type => Some(e.ty.as_str()),
                                _ => e.value.as_deref(),
                            })
                        })
                    }),
                    Kind::Frame => {
                        frames(event).any(|f| matchers.iter().all(|m| m.holds_for_frame(f)))
                    }
                    Kind::Event => matchers.iter().all(|m| m.holds_for_event(event)),
                }
            })
    }
}

/// Every frame of every stack trace of the event.
fn frames(event: &Event) -> impl Iterator<Item = &Frame> {
    event
        .exception
        .values
        .iter()
        .filter_map(|e| e.stacktrace.as_ref())
        .chain(event.stacktrace.as_ref())
        .chain(
            event
                .threads
                .values
                .iter()
                .filter_map(|t| t.stacktrace.as_ref()),
        )
        .flat_map(|s| s.frames.iter())
}

impl Matcher {
    /// Whether the matcher holds for the value `get` gives for its field.
    fn holds<'a>(&self, get: impl Fn(&Field) -> Option<&'a str>) -> bool {
        let found = get(&self.field).is_some_and(|v| self.matches_value(v));
        found != self.negated
    }

    fn matches_value(&self, value: &str) -> bool {
        match &self.field {
            Field::Type
            | Field::Logger
            | Field::Function
            | Field::Module
            | Field::Release
            | Field::Sdk => glob(&self.pattern, value, false),
            Field::Path | Field::Package => glob(
                &self.pattern.replace('\\', "/"),
                &value.replace('\\', "/"),
                true,
            ),
            _ => glob(&self.pattern, value, true),
        }
    }

    fn holds_for_frame(&self, frame: &Frame) -> bool {
        if self.field == Field::App {
            let wanted = matches!(self.pattern.as_str(), "yes" | "true" | "1");
            return (frame.in_app.unwrap_or(false) == wanted) != self.negated;
        }
        self.holds(|field| match field {
            Field::Function => frame.function.as_deref(),
            Field::Module => frame.module.as_deref(),
            Field::Path => frame.abs_path.as_deref().or(frame.filename.as_deref()),
            _ => frame.package.as_deref(),
        })
    }

    fn holds_for_event(&self, event: &Event) -> bool {
        let found = match &self.field {
            Field::Message => {
                let message = event
                    .logentry
                    .as_ref()
                    .and_then(|l| l.formatted.as_deref().or(l.message.as_deref()))
                    .or(event.message.as_deref());
                message
                    .into_iter()
                    .chain(
                        event
                            .exception
                            .values
                            .iter()
                            .filter_map(|e| e.value.as_deref()),
                    )
                    .any(|v| self.matches_value(v))
            }
            Field::Logger => event
                .logger
                .as_deref()
                .is_some_and(|v| self.matches_value(v)),
            Field::Level => self.matches_value(event.level.as_str()),
            Field::Tag(name) => event.tags.get(name).is_some_and(|v| self.matches_value(v)),
            Field::Release => event
                .release
                .as_deref()
                .is_some_and(|v| self.matches_value(v)),
            Field::Sdk => event
                .sdk
                .as_ref()
                .is_some_and(|s| self.matches_value(&s.name)),
            Field::Family => {
                let name = match family(&event.platform) {
                    Family::Native => "native",
                    Family::JavaScript => "javascript",
                    Family::Other => "other",
                };
                self.pattern
                    .split(',')
                    .map(str::trim)
                    .any(|p| p == "all" || p == name)
            }
            // Exception and frame fields are matched per element.
            _ => false,
        };
        found != self.negated
    }
}

/// Parses `matchers -> fingerprint [title="…"]`.
fn parse_rule(line: &str) -> Result<Rule, String> {
    let mut tokens = Tokens::new(line);
    let mut matchers = Vec::new();
    loop {
        tokens.skip_space();
        if tokens.eat("->") {
            break;
        }
        if tokens.at_end() {
            return Err("expected `->` and a fingerprint after the matchers".to_owned());
        }
        let negated = tokens.eat("!");
        let name = tokens.word(|c| c == ':' || c.is_whitespace());
        if !tokens.eat(":") {
            return Err(format!("expected `matcher:value`, found {name:?}"));
        }
        let field = Field::parse(&name).ok_or_else(|| {
            format!(
                "unknown matcher {name:?}: use error.type, error.value, message, logger, level, \
                 tags.NAME, stack.function, stack.module, stack.abs_path, stack.package, app, \
                 family, release or sdk"
            )
        })?;
        let pattern = tokens.value(|c| c.is_whitespace())?;
        if pattern.is_empty() {
            return Err(format!("matcher {name:?} has no value"));
        }
        matchers.push(Matcher {
            negated,
            field,
            pattern,
        });
    }
    if matchers.is_empty() {
        return Err("a rule needs at least one matcher before `->`".to_owned());
    }
    let mut fingerprint = Vec::new();
    let mut title = None;
    loop {
        tokens.skip_space();
        if tokens.at_end() {
            break;
        }
        if tokens.eat(",") {
            continue;
        }
        if tokens.rest().starts_with("{{") {
            let end = tokens
                .rest()
                .find("}}")
                .ok_or_else(|| "a `{{` without its `}}`".to_owned())?;
            let variable = tokens.take(end + 2);
            fingerprint.push(variable);
            continue;
        }
        let rest = tokens.rest();
        if let Some(after) = rest.strip_prefix("title=") {
            let consumed = rest.len() - after.len();
            tokens.take(consumed);
            let value = tokens.value(|c| c.is_whitespace())?;
            title = Some(value);
            continue;
        }
        let entry = tokens.value(|c| c == ',' || c.is_whitespace())?;
        if entry.is_empty() {
            return Err("an empty fingerprint entry".to_owned());
        }
        if title.is_some() {
            return Err("fingerprint entries must come before title=".to_owned());
        }
        fingerprint.push(entry);
    }
    if fingerprint.is_empty() {
        return Err("a rule needs a fingerprint after `->`".to_owned());
    }
    Ok(Rule {
        matchers,
        fingerprint,
        title,
        text: line.to_owned(),
    })
}

/// A cursor over one rule's text.
struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        Tokens { rest: text }
    }

    fn rest(&self) -> &'a str {
        self.rest
    }

    fn at_end(&self) -> bool {
        self.rest.is_empty()
    }

    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, prefix: &str) -> bool {
        match self.rest.strip_prefix(prefix) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn take(&mut self, n: usize) -> String {
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        taken.to_owned()
    }

    /// Characters up to one that `stop` accepts (or the end).
    fn word(&mut self, stop: impl Fn(char) -> bool) -> String {
        let end = self.rest.find(stop).unwrap_or(self.rest.len());
        self.take(end)
    }

    /// A `"quoted"` value (with `\"` and `\\` escapes) or a bare word.
    fn value(&mut self, stop: impl Fn(char) -> bool) -> Result<String, String> {
        let Some(quoted) = self.rest.strip_prefix('"') else {
            return Ok(self.word(stop));
        };
        let mut out = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &quoted[i + 1..];
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) => out.push(escaped),
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err("a quoted value without its closing `\"`".to_owned())
    }
}

/// Whether `value` matches the glob `pattern` (`*`, `?`, `\` escapes),
/// ignoring case (Unicode lower case) when `ignore_case`.
fn glob(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.chars().flat_map(char::to_lowercase).collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, v) = (fold(pattern), fold(value));
    // Iterative matching with one backtrack point per `*`.
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, vi));
                pi += 1;
                continue;
            }
            Some('?') => {
                pi += 1;
                vi += 1;
                continue;
            }
            Some('\\') if p.get(pi + 1) == Some(&v[vi]) => {
                pi += 2;
                vi += 1;
                continue;
            }
            Some(c) if *c != '\\' && *c == v[vi] => {
                pi += 1;
                vi += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, sv)) => {
                pi = sp + 1;
                vi = sv + 1;
                star = Some((sp, sv + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(v: serde_json::Value) -> Event {
        serde_json::from_value(v).expect("event")
    }

    #[test]
    fn globs_match_as_sentrys() {
        assert!(glob(
            "connection error: *",
            "connection error: refused",
            false
        ));
        assert!(glob("*Error", "TimeoutError", false));
        assert!(!glob("*error", "TimeoutError", false));
        assert!(glob("*error", "TimeoutError", true));
        assert!(glob("a?c", "abc", false));
        assert!(!glob("a?c", "ac", false));
        assert!(glob(r"100\*", "100*", false));
        assert!(!glob(r"100\*", "1000", false));
        assert!(glob("*", "", false));
        assert!(glob("a*b*c", "aXXbYYc", false));
        assert!(!glob("a*b*c", "aXXbYY", false));
    }

    #[test]
    fn rules_parse_with_quotes_variables_titles_and_comments() {
        let rules = FingerprintRules::parse(
            "# comment\n\n\
             error.value:\"connection error: *\" -> connection-error, {{ transaction }}\n\
             !tags.env:\"pr-*\" message:\"a \\\"quoted\\\" word\" -> quoted title=\"Quoted words\"\n",
        )
        .expect("rules");
        assert_eq!(rules.rules.len(), 2);
        assert_eq!(
            rules.rules[0].fingerprint,
            ["connection-error", "{{ transaction }}"]
        );
        let second = &rules.rules[1];
        assert!(second.matchers[0].negated);
        assert_eq!(second.matchers[0].field, Field::Tag("env".into()));
        assert_eq!(second.matchers[1].pattern, "a \"quoted\" word");
        assert_eq!(second.title.as_deref(), Some("Quoted words"));
    }

    #[test]
    fn bad_rules_say_which_line_and_why() {
        for (text, line, says) in [
            ("error.type:A", 1, "->"),
            ("\ncolour:red -> x", 2, "unknown matcher"),
            ("error.type:A ->", 1, "fingerprint"),
            ("-> x", 1, "matcher"),
            ("error.value:\"open -> x", 1, "closing"),
            ("type:A -> {{ default", 1, "}}"),
            ("type: -> x", 1, "no value"),
        ] {
            let err = FingerprintRules::parse(text).expect_err(text);
            assert_eq!(err.line, line, "{text}: {err}");
            assert!(err.message.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn matchers_of_one_kind_look_at_one_element() {
        let e = event(json!({
            "exception": {"values": [
                {"type": "IOError", "value": "disk full"},
                {"type": "AppError", "value": "save failed",
                 "stacktrace": {"frames": [
                    {"function": "save", "module": "app.store", "in_app": true},
                    {"function": "write", "module": "std.io", "in_app": false}]}}
            ]},
            "level": "error", "logger": "app.jobs", "tags": {"env": "prod"},
            "platform": "python", "release": "app@2"
        }));
        let first = |text: &str| {
            FingerprintRules::parse(text)
                .expect(text)
                .apply(&e)
                .map(|m| m.fingerprint)
        };
        assert_eq!(
            first("type:IOError value:\"DISK*\" -> a"),
            Some(vec!["a".to_owned()])
        );
        assert_eq!(
            first("type:IOError value:\"save*\" -> a"),
            None,
            "two exceptions"
        );
        assert_eq!(
            first("function:save module:app.* app:yes -> f"),
            Some(vec!["f".to_owned()])
        );
        assert_eq!(first("function:save module:std.* -> f"), None, "two frames");
        assert_eq!(
            first("!type:IOError -> n"),
            Some(vec!["n".to_owned()]),
            "AppError is not"
        );
        assert_eq!(
            first("message:*FULL -> m"),
            Some(vec!["m".to_owned()]),
            "an exception value"
        );
        assert_eq!(
            first("level:ERROR logger:app.* tags.env:PROD -> l"),
            Some(vec!["l".to_owned()])
        );
        assert_eq!(
            first("family:other release:app@* -> r"),
            Some(vec!["r".to_owned()])
        );
        assert_eq!(first("family:native -> r"), None);
        assert_eq!(first("tags.missing:* -> t"), None);
        assert_eq!(first("!tags.missing:* -> t"), Some(vec!["t".to_owned()]));
        // The first matching rule wins.
        let rules =
            FingerprintRules::parse("type:Nope -> a\ntype:App* -> b\ntype:* -> c").expect("rules");
        assert_eq!(
            rules.apply(&e).map(|m| m.fingerprint),
            Some(vec!["b".to_owned()])
        );
        // A message event has no exception for an exception matcher.
        let message = event(json!({"message": "hello"}));
        assert!(rules.apply(&message).is_none());
    }
}
