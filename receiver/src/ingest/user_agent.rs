//! The browser and client OS of an event, from the `User-Agent` header of
//! its request, as Relay adds them: the browser SDK sends no `browser` or
//! `os` context (only its request's headers), and a server SDK's event
//! carries the headers of the request it served; Sentry shows both as
//! contexts and tags (`browser`, `browser.name`, `client_os`, …).
//!
//! A context the SDK sent is never replaced. The OS goes under `os` for a
//! browser event (`javascript`), and under `client_os` otherwise, where
//! `os` is the server's own. The header is parsed by [`woothee`] (a few
//! microseconds, no start-up cost; the last 1024 agents parsed are kept);
//! the common OS names are written as Sentry writes them (`Mac OS X`,
//! `Windows`, `iOS`), with the versions browsers freeze (`10`, `10.15.7`)
//! as `>=10` and `>=10.15.7`, and a browser's version in three parts.
//!
//! ```
//! use receiver::ingest::user_agent::add_contexts;
//! use sentry_core::protocol::{Context, Event, Request};
//!
//! let mut event = Event::default();
//! event.platform = "javascript".into();
//! let mut request = Request::default();
//! request.headers.insert(
//!     "User-Agent".into(),
//!     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
//!      Chrome/120.0.0.0 Safari/537.36"
//!         .into(),
//! );
//! event.request = Some(request);
//! add_contexts(&mut event);
//! let Some(Context::Browser(browser)) = event.contexts.get("browser") else { panic!() };
//! assert_eq!(browser.name.as_deref(), Some("Chrome"));
//! let Some(Context::Os(os)) = event.contexts.get("os") else { panic!() };
//! assert_eq!((os.name.as_deref(), os.version.as_deref()), (Some("Windows"), Some(">=10")));
//! ```

use std::collections::HashMap;
use std::sync::LazyLock;

use parking_lot::Mutex;
use sentry_core::protocol::{
    BrowserContext, Context, Contexts, Event, OsContext, Request, Transaction,
};

/// A longer header is not parsed (no browser sends one; the parser's time
/// grows with the text).
const MAX_USER_AGENT_LEN: usize = 1024;

/// What the parser writes for what it could not tell.
const UNKNOWN: &str = "UNKNOWN";

/// What the parser names a command-line tool or HTTP library.
const HTTP_LIBRARY: &str = "HTTP Library";

static PARSER: LazyLock<woothee::parser::Parser> = LazyLock::new(woothee::parser::Parser::new);

/// Adds the `browser` context and the client's OS context (see the
/// module's documentation) that the event's `User-Agent` header names,
/// where the event has none of its own.
pub fn add_contexts(event: &mut Event) {
    add_to(&mut event.contexts, &event.platform, event.request.as_ref());
}

/// [`add_contexts`] for a transaction, as Relay normalises both.
pub fn add_transaction_contexts(tx: &mut Transaction) {
    add_to(&mut tx.contexts, &tx.platform, tx.request.as_ref());
}

fn add_to(contexts: &mut Contexts, platform: &str, request: Option<&Request>) {
    let Some(agent) = request.and_then(user_agent) else {
        return;
    };
    let Some(parsed) = parsed(agent) else {
        return;
    };
    if !contexts.contains_key("browser") {
        if let Some((name, version)) = parsed.browser {
            contexts.insert(
                "browser".to_owned(),
                Context::Browser(BrowserContext {
                    name: Some(name),
                    version,
                    ..Default::default()
                }),
            );
        }
    }
    // Relay's choice: only a browser event's OS is the event's own.
    let key = if platform == "javascript" {
        "os"
    } else {
        "client_os"
    };
    if !contexts.contains_key(key) {
        if let Some((name, version)) = parsed.os {
            contexts.insert(
                key.to_owned(),
                Context::Os(OsContext {
                    name: Some(name),
                    version,
                    ..Default::default()
                }),
            );
        }
    }
}

/// What a `User-Agent` names: a browser and an OS, each a name and a
/// version.
#[derive(Debug, Clone, Default)]
struct Parsed {
    browser: Option<(String, Option<String>)>,
    os: Option<(String, Option<String>)>,
}

/// Agents parsed lately: events of one app share a few agents, and the
/// tag breakdown of an issue reads thousands of events.
static PARSED: LazyLock<Mutex<HashMap<String, Parsed>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Agents [`PARSED`] holds at most; past that it starts afresh.
const PARSED_CAPACITY: usize = 1024;

/// `agent` parsed, from [`PARSED`] when it was lately.
fn parsed(agent: &str) -> Option<Parsed> {
    if let Some(hit) = PARSED.lock().get(agent) {
        return Some(hit.clone());
    }
    let result = PARSER.parse(agent)?;
    let known = |s: &str| (!s.is_empty() && s != UNKNOWN).then(|| capped(s));
    let parsed = Parsed {
        // The parser names command-line tools and HTTP libraries (curl,
        // python-requests) `HTTP Library`, with the tool's name as
        // version: no browser to show.
        browser: (result.name != HTTP_LIBRARY)
            .then(|| known(result.name))
            .flatten()
            .map(|name| (name, known(result.version).map(|v| three_parts(&v)))),
        os: os_name(result.os, &result.os_version)
            .map(|(name, version)| (capped(&name), version.and_then(|v| known(&v)))),
    };
    let mut cache = PARSED.lock();
    if cache.len() >= PARSED_CAPACITY {
        cache.clear();
    }
    cache.insert(agent.to_owned(), parsed.clone());
    Some(parsed)
}

/// Names and versions are cut to this many characters (a tag made of
/// them stays within a tag value's 200).
const MAX_PART_CHARS: usize = 64;

fn capped(s: &str) -> String {
    s.chars().take(MAX_PART_CHARS).collect()
}

/// A version to its first three parts, as Relay writes a browser's
/// (`120.0.6099.109` is `120.0.6099`).
fn three_parts(version: &str) -> String {
    version.split('.').take(3).collect::<Vec<_>>().join(".")
}

/// The request's `User-Agent` header (any case), when it has one of a
/// usable length.
fn user_agent(request: &Request) -> Option<&str> {
    let (_, value) = request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("user-agent"))?;
    let value = value.trim();
    (!value.is_empty() && value.len() <= MAX_USER_AGENT_LEN).then_some(value)
}

/// An OS name and version as Sentry writes them, from the parser's: its
/// `Windows 10` is `Windows` version `10`, `Mac OSX` is `Mac OS X`, an
/// iPhone's or iPad's system is `iOS`. `None` when it could not tell.
fn os_name(os: &str, version: &str) -> Option<(String, Option<String>)> {
    let version = Some(version.to_owned());
    let named = |name: &str, version| Some((name.to_owned(), version));
    match os {
        "" | UNKNOWN => None,
        // Browsers freeze the version they report at 10.15.7 and 10:
        // the system may be newer, as Relay says.
        "Mac OSX" if version.as_deref() == Some("10.15.7") => {
            named("Mac OS X", Some(">=10.15.7".to_owned()))
        }
        "Mac OSX" => named("Mac OS X", version),
        "iPhone" | "iPad" | "iPod" => named("iOS", version),
        "ChromeOS" => named("Chrome OS", version),
        windows if windows.starts_with("Windows ") => {
            let release = &windows["Windows ".len()..];
            if release.contains(UNKNOWN) {
                named("Windows", None)
            } else if release == "10" {
                named("Windows", Some(">=10".to_owned()))
            } else {
                named("Windows", Some(release.to_owned()))
            }
        }
        other => named(other, version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry_core::protocol::Request;

    fn parsed(platform: &str, header: &str, agent: &str) -> Event {
        let mut event = Event {
            platform: platform.to_owned(),
            ..Default::default()
        };
        let mut request = Request::default();
        request.headers.insert(header.to_owned(), agent.to_owned());
        event.request = Some(request);
        add_contexts(&mut event);
        event
    }

    fn browser(event: &Event) -> Option<(String, Option<String>)> {
        match event.contexts.get("browser")? {
            Context::Browser(b) => Some((b.name.clone()?, b.version.clone())),
            _ => None,
        }
    }

    fn os(event: &Event, key: &str) -> Option<(String, Option<String>)> {
        match event.contexts.get(key)? {
            Context::Os(o) => Some((o.name.clone()?, o.version.clone())),
            _ => None,
        }
    }

    fn pair(name: &str, version: &str) -> Option<(String, Option<String>)> {
        Some((name.to_owned(), Some(version.to_owned())))
    }

    #[test]
    fn common_browsers_and_systems_are_named_as_sentry_names_them() {
        let mac_chrome = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
                          (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36";
        let e = parsed("javascript", "User-Agent", mac_chrome);
        assert_eq!(browser(&e), pair("Chrome", "120.0.6099"));
        assert_eq!(os(&e, "os"), pair("Mac OS X", ">=10.15.7"));

        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
        let e = parsed("javascript", "user-agent", firefox);
        assert_eq!(browser(&e), pair("Firefox", "121.0"));
        assert_eq!(os(&e, "os").map(|(n, _)| n).as_deref(), Some("Linux"));

        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) \
                      AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 \
                      Safari/604.1";
        let e = parsed("javascript", "User-Agent", iphone);
        assert_eq!(browser(&e), pair("Safari", "17.1"));
        assert_eq!(os(&e, "os"), pair("iOS", "17.1.2"));

        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                    Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91";
        let e = parsed("javascript", "User-Agent", edge);
        assert_eq!(browser(&e), pair("Edge", "120.0.2210"));
        assert_eq!(os(&e, "os"), pair("Windows", ">=10"));
    }

    #[test]
    fn a_server_event_keeps_its_own_os_and_gets_the_clients_beside_it() {
        let agent = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
        let mut event = Event {
            platform: "python".to_owned(),
            ..Default::default()
        };
        event.contexts.insert(
            "os".to_owned(),
            Context::Os(OsContext {
                name: Some("Debian".to_owned()),
                ..Default::default()
            }),
        );
        event.contexts.insert(
            "browser".to_owned(),
            Context::Browser(BrowserContext {
                name: Some("Sent".to_owned()),
                ..Default::default()
            }),
        );
        let mut request = Request::default();
        request
            .headers
            .insert("User-Agent".to_owned(), agent.to_owned());
        event.request = Some(request);
        add_contexts(&mut event);
        assert_eq!(os(&event, "os"), Some(("Debian".to_owned(), None)));
        assert_eq!(
            os(&event, "client_os").map(|(n, _)| n).as_deref(),
            Some("Linux")
        );
        assert_eq!(
            browser(&event),
            Some(("Sent".to_owned(), None)),
            "never replaced"
        );
    }

    #[test]
    fn only_a_browser_events_os_is_its_own_and_parts_are_capped() {
        let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_1) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/16.2 Safari/605.1.15";
        let e = parsed("cocoa", "User-Agent", safari);
        assert_eq!(os(&e, "os"), None);
        assert_eq!(
            os(&e, "client_os").map(|(n, _)| n).as_deref(),
            Some("Mac OS X")
        );
        let long = format!("DoCoMo/2.0 {}", "\u{ff}".repeat(300));
        let e = parsed("javascript", "User-Agent", &long);
        if let Some((name, version)) = browser(&e) {
            assert!(name.chars().count() <= 64, "{name}");
            assert!(version.is_none_or(|v| v.chars().count() <= 64));
        }
    }

    #[test]
    fn agents_that_say_nothing_add_nothing() {
        for agent in [
            "",
            "curl/8.4.0",
            "python-requests/2.31.0",
            &"x".repeat(5000),
        ] {
            let e = parsed("node", "User-Agent", agent);
            assert_eq!(browser(&e), None, "{agent}");
            assert_eq!(os(&e, "client_os"), None, "{agent}");
        }
        let mut e = Event::default();
        add_contexts(&mut e);
        assert!(e.contexts.is_empty());
    }
}
