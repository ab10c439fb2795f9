//! The browser and client OS of an event, from the `User-Agent` header of
//! its request, as Relay adds them: the browser SDK sends no `browser` or
//! `os` context (only its request's headers), and a server SDK's event
//! carries the headers of the request it served; Sentry shows both as
//! contexts and tags (`browser`, `browser.name`, `client_os`, …).
//!
//! A context the SDK sent is never replaced. The OS goes under `os` for a
//! browser or Apple event (`javascript`, `cocoa`), and under `client_os`
//! otherwise, where `os` is the server's own. The header is parsed by
//! [`woothee`] (a few microseconds, no start-up cost); the common OS names
//! are written as Sentry writes them (`Mac OS X`, `Windows` with `10` as
//! its version, `iOS`).
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
//! assert_eq!((os.name.as_deref(), os.version.as_deref()), (Some("Windows"), Some("10")));
//! ```

use sentry_core::protocol::{BrowserContext, Context, Event, OsContext};
use std::sync::LazyLock;

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
    let Some(agent) = user_agent(event) else {
        return;
    };
    let Some(parsed) = PARSER.parse(&agent) else {
        return;
    };
    let known = |s: &str| (!s.is_empty() && s != UNKNOWN).then(|| s.to_owned());
    // The parser names command-line tools and HTTP libraries (curl,
    // python-requests) `HTTP Library`, with the tool's name as version:
    // no browser to show.
    if !event.contexts.contains_key("browser") && parsed.name != HTTP_LIBRARY {
        if let Some(name) = known(parsed.name) {
            event.contexts.insert(
                "browser".to_owned(),
                Context::Browser(BrowserContext {
                    name: Some(name),
                    version: known(parsed.version),
                    ..Default::default()
                }),
            );
        }
    }
    let key = match event.platform.as_str() {
        "javascript" | "cocoa" => "os",
        _ => "client_os",
    };
    if !event.contexts.contains_key(key) {
        if let Some((name, version)) = os_name(parsed.os, &parsed.os_version) {
            event.contexts.insert(
                key.to_owned(),
                Context::Os(OsContext {
                    name: Some(name),
                    version: version.and_then(|v| known(&v)),
                    ..Default::default()
                }),
            );
        }
    }
}

/// The event's `User-Agent` request header (any case), when it has one of
/// a usable length.
fn user_agent(event: &Event) -> Option<String> {
    let headers = &event.request.as_ref()?.headers;
    let (_, value) = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("user-agent"))?;
    let value = value.trim();
    (!value.is_empty() && value.len() <= MAX_USER_AGENT_LEN).then(|| value.to_owned())
}

/// An OS name and version as Sentry writes them, from the parser's: its
/// `Windows 10` is `Windows` version `10`, `Mac OSX` is `Mac OS X`, an
/// iPhone's or iPad's system is `iOS`. `None` when it could not tell.
fn os_name(os: &str, version: &str) -> Option<(String, Option<String>)> {
    let version = Some(version.to_owned());
    let named = |name: &str, version| Some((name.to_owned(), version));
    match os {
        "" | UNKNOWN => None,
        "Mac OSX" => named("Mac OS X", version),
        "iPhone" | "iPad" | "iPod" => named("iOS", version),
        "ChromeOS" => named("Chrome OS", version),
        windows if windows.starts_with("Windows ") => {
            let release = &windows["Windows ".len()..];
            if release.contains(UNKNOWN) {
                named("Windows", None)
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
        assert_eq!(browser(&e), pair("Chrome", "120.0.6099.109"));
        assert_eq!(os(&e, "os"), pair("Mac OS X", "10.15.7"));

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
        assert_eq!(browser(&e), pair("Edge", "120.0.2210.91"));
        assert_eq!(os(&e, "os"), pair("Windows", "10"));
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
