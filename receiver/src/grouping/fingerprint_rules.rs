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
//! Matchers, as Sentry's. Values are globs (`*` any run of characters,
//! `?` one, at most [`MAX_ANY_CHAR`] of them, `\` escapes the next;
//! compiled once into regular expressions); path globs keep `*` and `?`
//! within one `/` segment, a whole `**` segment crosses any number of them
//! (none included: `src/**/views.py` matches `src/views.py`), `\` reads
//! as `/` in patterns and values, and a relative value is tried again with
//! a leading `/`:
//!
//! | matcher (alias) | matches | how |
//! |---|---|---|
//! | `error.type` (`type`) | an exception's type | glob, case-sensitive |
//! | `error.value` (`value`) | an exception's value | glob, any case |
//! | `message` | the message, or an exception's value | glob, any case |
//! | `logger` | the logger | glob, case-sensitive |
//! | `level` | the level | glob, any case |
//! | `tags.NAME` | tag `NAME`'s value | glob, case-sensitive |
//! | `stack.function` (`function`) | a frame's function | glob, case-sensitive |
//! | `stack.module` (`module`) | a frame's module | glob, case-sensitive |
//! | `stack.abs_path` (`path`) | a frame's `abs_path` or `filename` | path glob, any case |
//! | `stack.package` (`package`) | a frame's package | path glob, any case |
//! | `app` | a frame is in-app (after the built-in stack-trace rules) | `yes` or `no` |
//! | `family` | the platform family | names: `native`, `javascript`, `other`, `all` |
//! | `release` | the release | path glob, any case |
//! | `sdk` | the SDK's name | names (`sentry.python,sentry.rust`), `all` |
//!
//! `!` before a matcher negates it. Matchers of one kind look at the same
//! element, as Sentry's do: `error.type` and `error.value` must match one
//! exception of the chain, the frame matchers one frame of any stack
//! trace, `message` matchers one text (the message or one exception's
//! value); a rule whose matchers need an element the event does not have
//! does not match it. The first rule that matches wins. The fingerprint's
//! entries may use the variables a client fingerprint can (`{{ default }}`,
//! `{{ transaction }}`, `{{ type }}`, …; `grouping::fingerprint`);
//! `title="…"` after it names the issue (its variables filled in, at most
//! [`MAX_TITLE`] characters), and no other attribute is known. In quotes,
//! `\\`, `\"`, `\'`, `\n`, `\r` and `\t` are unescaped; another backslash
//! stays for the glob.
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

use regex::{Regex, RegexBuilder};
use sentry_core::protocol::{Event, Frame};

use super::normalize::{effective_in_app, family, Family};

/// How many rules a project may have, and how long its text may be.
pub const MAX_RULES: usize = 500;
/// The longest rules text accepted (bytes).
pub const MAX_TEXT: usize = 64 * 1024;
/// The longest matcher value accepted (characters).
pub const MAX_PATTERN: usize = 1024;
/// The most `?` one matcher value may hold.
pub const MAX_ANY_CHAR: usize = 32;
/// The longest title a rule gives an issue (characters, after its
/// variables are filled in); longer ones are cut with `…`.
pub const MAX_TITLE: usize = 256;

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
#[derive(Debug, Clone, Default)]
pub struct FingerprintRules {
    rules: Vec<Rule>,
}

/// What the first matching rule gives an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The fingerprint, variables unresolved (as a client would send it).
    pub fingerprint: Vec<String>,
    /// The issue title the rule sets, its variables filled in, if any.
    pub title: Option<String>,
    /// The rule's text, for the grouping explanation.
    pub rule: String,
}

#[derive(Debug, Clone)]
struct Rule {
    matchers: Vec<Matcher>,
    fingerprint: Vec<String>,
    title: Option<String>,
    text: String,
}

#[derive(Debug, Clone)]
struct Matcher {
    negated: bool,
    field: Field,
    test: Test,
}

/// How a matcher's value is compared.
#[derive(Debug, Clone)]
enum Test {
    /// A glob, compiled (`*`, `?`, `\` escapes): linear in the value.
    Glob(Regex),
    /// A path glob: `*` and `?` stay within one `/` segment, `**` crosses
    /// them; `\` in values reads as `/`, and a relative value is tried
    /// again with a leading `/`, as Sentry's path matching does.
    Path(Regex),
    /// Names, exactly (comma-separated; `all` is any).
    Names(Vec<String>),
    /// `app:yes`/`app:no`; another value never matches, as in Sentry.
    App(Option<bool>),
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
    /// One exception of the chain.
    Exception,
    /// One frame of any stack trace.
    Frame,
    /// The message, or one exception's value.
    Message,
    /// The event itself.
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
            Field::Message => Kind::Message,
            _ => Kind::Event,
        }
    }

    /// How this field's values compare, as Sentry's matchers do: types,
    /// loggers, tags, functions and modules case-sensitively; values,
    /// messages and levels in any case; paths, packages and releases as
    /// paths, in any case.
    fn test(&self, pattern: &str) -> Result<Test, String> {
        Ok(match self {
            Field::Type | Field::Logger | Field::Tag(_) | Field::Function | Field::Module => {
                Test::Glob(glob_regex(pattern, false, false)?)
            }
            Field::Value | Field::Message | Field::Level => {
                Test::Glob(glob_regex(pattern, false, true)?)
            }
            Field::Path | Field::Package | Field::Release => {
                Test::Path(glob_regex(pattern, true, true)?)
            }
            Field::Family | Field::Sdk => Test::Names(
                pattern
                    .split(',')
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty())
                    .collect(),
            ),
            Field::App => Test::App(match pattern {
                "yes" | "true" | "1" => Some(true),
                "no" | "false" | "0" => Some(false),
                _ => None,
            }),
        })
    }
}

/// A glob as an anchored regular expression (linear-time matching).
fn glob_regex(pattern: &str, path: bool, ignore_case: bool) -> Result<Regex, String> {
    if pattern.chars().count() > MAX_PATTERN {
        return Err(format!("a value longer than {MAX_PATTERN} characters"));
    }
    // Each `?` is a state the matcher must track: a long run of them has no
    // small automaton, and matching would cost pattern × value.
    if pattern.chars().filter(|c| *c == '?').count() > MAX_ANY_CHAR {
        return Err(format!(
            "a value with more than {MAX_ANY_CHAR} `?`: use `*` for a run of characters"
        ));
    }
    // Paths: `\` reads as `/` in the pattern too (no escapes), as Sentry's.
    let normalized;
    let pattern = if path {
        normalized = pattern.replace('\\', "/");
        normalized.as_str()
    } else {
        pattern
    };
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("^");
    let mut buf = [0u8; 4];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' if !path => match chars.get(i) {
                Some(escaped) => {
                    re.push_str(&regex::escape(escaped.encode_utf8(&mut buf)));
                    i += 1;
                }
                None => re.push_str(r"\\"),
            },
            // `**` as a whole segment crosses directories, none included
            // (`src/**/views.py` matches `src/views.py`); elsewhere it is
            // one `*`, as globset reads it.
            '*' if path && chars.get(i) == Some(&'*') => {
                i += 1;
                let whole = i < 3 || chars[i - 3] == '/';
                match chars.get(i) {
                    Some('/') if whole => {
                        i += 1;
                        re.push_str("(?:.*/)?");
                    }
                    None if whole => re.push_str(".*"),
                    _ => re.push_str("[^/]*"),
                }
            }
            '*' if path => re.push_str("[^/]*"),
            '*' => re.push_str(".*"),
            '?' if path => re.push_str("[^/]"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(c.encode_utf8(&mut buf))),
        }
    }
    re.push('$');
    RegexBuilder::new(&re)
        .case_insensitive(ignore_case)
        .dot_matches_new_line(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("cannot use the value {pattern:?}: {e}"))
}

impl Test {
    fn matches(&self, value: &str) -> bool {
        match self {
            Test::Glob(re) => re.is_match(value),
            Test::Path(re) => {
                let value = value.replace('\\', "/");
                re.is_match(&value)
                    || (!value.starts_with('/') && re.is_match(&format!("/{value}")))
            }
            Test::Names(names) => names.iter().any(|n| n == "all" || n == value),
            Test::App(_) => false,
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

    /// Parses what can be parsed of a stored rules text: a line that does
    /// not parse (stored by an older receiver whose parser took it, or
    /// written into the file by hand) is left out, with its error, instead
    /// of taking every other rule of the project with it.
    pub fn parse_lenient(text: &str) -> (FingerprintRules, Vec<RulesError>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || rules.len() >= MAX_RULES {
                continue;
            }
            match parse_rule(line) {
                Ok(rule) => rules.push(rule),
                Err(message) => errors.push(RulesError {
                    line: i + 1,
                    message,
                }),
            }
        }
        (FingerprintRules { rules }, errors)
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a rule reads the event's SDK (which ingestion does not read
    /// otherwise).
    pub fn reads_sdk(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.matchers.iter().any(|m| m.field == Field::Sdk))
    }

    /// The fingerprint and title of the first rule `event` matches.
    pub fn apply(&self, event: &Event) -> Option<Matched> {
        // The frames with their in-app flags, worked out once for all the
        // rules (and only if one looks at frames).
        let frames = std::cell::OnceCell::new();
        let rule = self.rules.iter().find(|r| r.matches(event, &frames))?;
        Some(Matched {
            fingerprint: rule.fingerprint.clone(),
            title: rule.title.as_deref().map(|t| expand_title(t, event)),
            rule: rule.text.clone(),
        })
    }
}

/// A rule's title with its `{{ variables }}` filled in from `event`,
/// cut to [`MAX_TITLE`] characters.
fn expand_title(template: &str, event: &Event) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        match after.find("}}") {
            Some(end) => {
                let name = after[2..end].trim();
                match super::fingerprint::resolve_variable(name, event) {
                    Some(value) => out.push_str(&value),
                    None => out.push_str(&after[..end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(after);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    if out.chars().count() > MAX_TITLE {
        out = out.chars().take(MAX_TITLE - 1).collect();
        out.push('…');
    }
    out
}

/// An event's frames with their in-app flags ([`frames`]), once.
type FramesOnce<'e> = std::cell::OnceCell<Vec<(&'e Frame, bool)>>;

impl Rule {
    fn matches<'e>(&self, event: &'e Event, frames_once: &FramesOnce<'e>) -> bool {
        [Kind::Exception, Kind::Frame, Kind::Message, Kind::Event]
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
                let holds = |m: &&Matcher, found: bool| found != m.negated;
                match kind {
                    Kind::Exception => event.exception.values.iter().any(|e| {
                        matchers.iter().all(|m| {
                            let value = match m.field {
                                Field::Type => Some(e.ty.as_str()),
                                _ => e.value.as_deref(),
                            };
                            holds(m, value.is_some_and(|v| m.test.matches(v)))
                        })
                    }),
                    Kind::Frame => frames_once
                        .get_or_init(|| frames(event).collect())
                        .iter()
                        .any(|(f, in_app)| {
                            matchers
                                .iter()
                                .all(|m| holds(m, m.matches_frame(f, *in_app)))
                        }),
                    Kind::Message => messages(event)
                        .any(|text| matchers.iter().all(|m| holds(m, m.test.matches(text)))),
                    Kind::Event => matchers.iter().all(|m| holds(m, m.matches_event(event))),
                }
            })
    }
}

/// Every frame of every stack trace of the event, with whether it is in-app
/// after the built-in stack-trace rules (as grouping reads it).
fn frames(event: &Event) -> impl Iterator<Item = (&Frame, bool)> {
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
        .flat_map(move |s| {
            let in_app = effective_in_app(&s.frames, &event.platform);
            s.frames.iter().zip(in_app)
        })
}

/// The texts `message` is matched against, each on its own: the message,
/// and each exception's value (Sentry reads both, as they are hard to keep
/// apart).
fn messages(event: &Event) -> impl Iterator<Item = &str> {
    event
        .logentry
        .as_ref()
        .and_then(|l| l.formatted.as_deref().or(l.message.as_deref()))
        .or(event.message.as_deref())
        .into_iter()
        .chain(
            event
                .exception
                .values
                .iter()
                .filter_map(|e| e.value.as_deref()),
        )
}

impl Matcher {
    fn matches_frame(&self, frame: &Frame, in_app: bool) -> bool {
        match (&self.field, &self.test) {
            (Field::App, Test::App(wanted)) => *wanted == Some(in_app),
            (Field::Function, test) => frame.function.as_deref().is_some_and(|v| test.matches(v)),
            (Field::Module, test) => frame.module.as_deref().is_some_and(|v| test.matches(v)),
            // Either of the frame's paths, as Sentry tests both.
            (Field::Path, test) => [frame.abs_path.as_deref(), frame.filename.as_deref()]
                .into_iter()
                .flatten()
                .any(|v| test.matches(v)),
            (_, test) => frame.package.as_deref().is_some_and(|v| test.matches(v)),
        }
    }

    fn matches_event(&self, event: &Event) -> bool {
        let test = &self.test;
        match &self.field {
            Field::Logger => event.logger.as_deref().is_some_and(|v| test.matches(v)),
            Field::Level => test.matches(event.level.as_str()),
            Field::Tag(name) => event.tags.get(name).is_some_and(|v| test.matches(v)),
            Field::Release => event.release.as_deref().is_some_and(|v| test.matches(v)),
            Field::Sdk => event.sdk.as_ref().is_some_and(|s| test.matches(&s.name)),
            Field::Family => test.matches(match family(&event.platform) {
                Family::Native => "native",
                Family::JavaScript => "javascript",
                Family::Other => "other",
            }),
            // Exception, frame and message fields are matched per element.
            _ => false,
        }
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
        let pattern = tokens.value(|c| c.is_whitespace(), true)?;
        if pattern.is_empty() {
            return Err(format!("matcher {name:?} has no value"));
        }
        let test = field.test(&pattern)?;
        matchers.push(Matcher {
            negated,
            field,
            test,
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
        // An attribute: `name=value` (only `title` is known).
        let rest = tokens.rest();
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if name_len > 0 && rest[name_len..].starts_with('=') {
            let name = tokens.take(name_len);
            tokens.eat("=");
            if name != "title" {
                return Err(format!("unknown attribute {name:?}: only title= is known"));
            }
            title = Some(tokens.value(|c| c.is_whitespace(), false)?);
            continue;
        }
        let entry = tokens.value(|c| c == ',' || c.is_whitespace(), false)?;
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

    /// A `"quoted"` value or a bare word. In quotes, `\\`, `\"`, `\'`,
    /// `\n`, `\r` and `\t` are read as Sentry's grammar reads them; any
    /// other backslash stays. For a matcher's value (`glob`), `\\` stays
    /// escaped, so that the glob reads one literal backslash and `\*` a
    /// literal `*`.
    fn value(&mut self, stop: impl Fn(char) -> bool, glob: bool) -> Result<String, String> {
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
                    Some((_, '\\')) if glob => out.push_str("\\\\"),
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, '"')) => out.push('"'),
                    Some((_, '\'')) => out.push('\''),
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 'r')) => out.push('\r'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, other)) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err("a quoted value without its closing `\"`".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(v: serde_json::Value) -> Event {
        serde_json::from_value(v).expect("event")
    }

    fn matches(field: &str, pattern: &str, value: &str) -> bool {
        Field::parse(field)
            .expect("field")
            .test(pattern)
            .expect("pattern")
            .matches(value)
    }

    #[test]
    fn globs_match_as_sentrys() {
        assert!(matches(
            "value",
            "connection error: *",
            "connection error: refused"
        ));
        assert!(matches("type", "*Error", "TimeoutError"));
        assert!(
            !matches("type", "*error", "TimeoutError"),
            "types keep their case"
        );
        assert!(matches("value", "*error", "TimeoutError"), "values do not");
        assert!(!matches("tags.env", "PROD", "prod"), "tags keep their case");
        assert!(matches("type", "a?c", "abc"));
        assert!(!matches("type", "a?c", "ac"));
        assert!(matches("type", r"100\*", "100*"));
        assert!(!matches("type", r"100\*", "1000"));
        assert!(matches("type", "*", ""));
        assert!(matches("type", "a*b*c", "aXXbYYc"));
        assert!(!matches("type", "a*b*c", "aXXbYY"));
        assert!(
            matches("type", "a.b", "a.b") && !matches("type", "a.b", "aXb"),
            "no regex"
        );
        // Paths: `*` stays in a segment, `**` crosses; `\` reads as `/`; a
        // relative path is tried with a leading `/`; any case.
        assert!(matches("path", "*.py", "foo.py"));
        assert!(!matches("path", "*.py", "/src/app/foo.py"));
        assert!(
            !matches("path", "**.py", "/src/app/foo.py"),
            "`**` in a segment is `*`"
        );
        assert!(matches("path", "/src/**", "src/foo.py"));
        assert!(matches("path", "src/**", "src/a/b/c.py"));
        assert!(
            matches("path", "src/**/views.py", "src/views.py"),
            "no directory"
        );
        assert!(matches("path", "src/**/views.py", "src/a/b/views.py"));
        assert!(matches(
            "path",
            "**/app/**/views.py",
            "/home/x/app/views.py"
        ));
        assert!(matches("path", "c:/app/*.CS", r"C:\app\main.cs"));
        assert!(
            matches("path", r"C:\app\*.cs", r"C:\app\main.cs"),
            "`\\` is `/` in paths"
        );
        assert!(matches("release", "App@1.*", "app@1.2"));
        // Names.
        assert!(matches("family", "native,javascript", "javascript"));
        assert!(matches("sdk", "all", "sentry.python"));
        assert!(
            !matches("sdk", "sentry.*", "sentry.python"),
            "exact names, not globs"
        );
    }

    #[test]
    fn values_are_bounded_and_compiled_not_backtracked() {
        // Compiled into a regular expression (linear-time matching, by the
        // regex crate's construction): the case that made the old
        // backtracking glob take seconds answers.
        let pattern = format!("*{}b", "a".repeat(1000));
        assert!(!matches("message", &pattern, &"a".repeat(100_000)));
        let err = FingerprintRules::parse(&format!("message:{} -> x", "a".repeat(2000)))
            .expect_err("too long");
        assert!(err.message.contains("longer than"), "{err}");
        // A long run of `?` has no small automaton: refused.
        let err = FingerprintRules::parse(&format!("message:*a{}b* -> x", "?".repeat(33)))
            .expect_err("too many ?");
        assert!(err.message.contains("`?`"), "{err}");
        assert!(FingerprintRules::parse(&format!("message:*{}* -> x", "?".repeat(32))).is_ok());
    }

    #[test]
    fn stored_rules_that_no_longer_parse_leave_the_others_in_force() {
        let (rules, errors) =
            FingerprintRules::parse_lenient("type:ZZ -> zz\ntype:YY -> env=prod\ntype:XX -> xx");
        assert_eq!(rules.rules.len(), 2);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 2);
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
        assert!(second.matchers[1].test.matches("A \"QUOTED\" WORD"));
        assert_eq!(second.title.as_deref(), Some("Quoted words"));
        // A title's `\\` is one backslash; a matcher's stays escaped for
        // the glob (one literal backslash).
        let path = FingerprintRules::parse("message:\"C:\\\\temp*\" -> x title=\"In C:\\\\temp\"")
            .expect("rule");
        assert_eq!(path.rules[0].title.as_deref(), Some("In C:\\temp"));
        assert!(path.rules[0].matchers[0].test.matches("c:\\TEMP\\x"));
        // `\*` in quotes stays a literal star for the glob.
        let star = FingerprintRules::parse("message:\"100\\*\" -> x").expect("rule");
        assert!(star.rules[0].matchers[0].test.matches("100*"));
        assert!(!star.rules[0].matchers[0].test.matches("1000"));
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
            ("type:A -> x foo=\"y\"", 1, "unknown attribute"),
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
            first("level:ERROR logger:app.* tags.env:prod -> l"),
            Some(vec!["l".to_owned()])
        );
        assert_eq!(
            first("family:other release:app@* -> r"),
            Some(vec!["r".to_owned()])
        );
        assert_eq!(first("family:native -> r"), None);
        assert_eq!(first("tags.missing:* -> t"), None);
        assert_eq!(first("!tags.missing:* -> t"), Some(vec!["t".to_owned()]));
        // `message` looks at one text at a time: the message or one value.
        assert_eq!(first("message:disk* message:*failed -> m"), None);
        assert_eq!(
            first("message:save* message:*failed -> m"),
            Some(vec!["m".to_owned()])
        );
        assert_eq!(first("app:maybe -> a"), None, "neither yes nor no");
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
