//! Every DSN form of PROTOCOL.md §1.1, the endpoints and auth header derived
//! from it, the display round trip, and one test per error.

use sentry_core::dsn::{Dsn, DsnError, Scheme};

fn dsn(s: &str) -> Dsn {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn error(s: &str) -> DsnError {
    match s.parse::<Dsn>() {
        Ok(dsn) => panic!("{s:?} should not parse, got {dsn:?}"),
        Err(err) => err,
    }
}

/// `(dsn, scheme, public, secret, host, port, path, project, envelope url)`
#[allow(clippy::type_complexity)]
const FORMS: &[(
    &str,
    Scheme,
    &str,
    Option<&str>,
    &str,
    u16,
    &str,
    &str,
    &str,
)] = &[
    (
        "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42",
        Scheme::Https,
        "0123456789abcdef0123456789abcdef",
        None,
        "o1.ingest.sentry.io",
        443,
        "/",
        "42",
        "https://o1.ingest.sentry.io/api/42/envelope/",
    ),
    (
        "http://key@127.0.0.1:8000/1",
        Scheme::Http,
        "key",
        None,
        "127.0.0.1",
        8000,
        "/",
        "1",
        "http://127.0.0.1:8000/api/1/envelope/",
    ),
    (
        "https://public:secret@example.com/42",
        Scheme::Https,
        "public",
        Some("secret"),
        "example.com",
        443,
        "/",
        "42",
        "https://example.com/api/42/envelope/",
    ),
    (
        "https://key@example.com/sentry/7",
        Scheme::Https,
        "key",
        None,
        "example.com",
        443,
        "/sentry/",
        "7",
        "https://example.com/sentry/api/7/envelope/",
    ),
    (
        "https://key@example.com:9000/a/b/c/7",
        Scheme::Https,
        "key",
        None,
        "example.com",
        9000,
        "/a/b/c/",
        "7",
        "https://example.com:9000/a/b/c/api/7/envelope/",
    ),
    (
        "http://key@[::1]:8000/1",
        Scheme::Http,
        "key",
        None,
        "[::1]",
        8000,
        "/",
        "1",
        "http://[::1]:8000/api/1/envelope/",
    ),
    (
        "https://key@[2001:db8::1]/5",
        Scheme::Https,
        "key",
        None,
        "[2001:db8::1]",
        443,
        "/",
        "5",
        "https://[2001:db8::1]/api/5/envelope/",
    ),
    (
        "https://key@example.com/42/",
        Scheme::Https,
        "key",
        None,
        "example.com",
        443,
        "/",
        "42",
        "https://example.com/api/42/envelope/",
    ),
    (
        "https://key@example.com/prefix/42/",
        Scheme::Https,
        "key",
        None,
        "example.com",
        443,
        "/prefix/",
        "42",
        "https://example.com/prefix/api/42/envelope/",
    ),
    (
        "http://key.no-cache@localhost:80/3",
        Scheme::Http,
        "key.no-cache",
        None,
        "localhost",
        80,
        "/",
        "3",
        "http://localhost/api/3/envelope/",
    ),
];

#[test]
fn every_form_parses_into_its_parts() {
    for &(s, scheme, public, secret, host, port, path, project, url) in FORMS {
        let d = dsn(s);
        assert_eq!(d.scheme(), scheme, "{s}");
        assert_eq!(d.public_key(), public, "{s}");
        assert_eq!(d.secret_key(), secret, "{s}");
        assert_eq!(d.host(), host, "{s}");
        assert_eq!(d.port(), port, "{s}");
        assert_eq!(d.path(), path, "{s}");
        assert_eq!(d.project_id(), project, "{s}");
        assert_eq!(d.envelope_url(), url, "{s}");
        assert_eq!(d.store_url(), url.replace("/envelope/", "/store/"), "{s}");
    }
}

#[test]
fn display_round_trips_every_form() {
    for &(s, ..) in FORMS {
        let d = dsn(s);
        let shown = d.to_string();
        assert_eq!(dsn(&shown), d, "{s} displayed as {shown}");
        assert_eq!(dsn(&shown).to_string(), shown, "{s}");
    }
}

#[test]
fn display_is_the_input_for_normalised_forms() {
    for s in [
        "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42",
        "http://key@127.0.0.1:8000/1",
        "https://public:secret@example.com/42",
        "https://key@example.com/sentry/7",
        "http://key@[::1]:8000/1",
        "https://key@example.com:443/1",
    ] {
        assert_eq!(dsn(s).to_string(), s);
    }
    // A trailing slash after the project id is dropped.
    assert_eq!(
        dsn("https://key@example.com/42/").to_string(),
        "https://key@example.com/42"
    );
}

#[test]
fn explicit_port_is_remembered() {
    let explicit = dsn("https://key@example.com:443/1");
    let implicit = dsn("https://key@example.com/1");
    assert_eq!(explicit.port(), implicit.port());
    assert_ne!(explicit, implicit);
    assert_eq!(explicit.to_string(), "https://key@example.com:443/1");
    assert_eq!(implicit.to_string(), "https://key@example.com/1");
}

#[test]
fn auth_header_matches_the_sdks() {
    let python = dsn("https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42");
    assert_eq!(
        python.auth_header("sentry.python/2.75.0", None),
        "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7, \
         sentry_client=sentry.python/2.75.0"
    );
    let with_secret = dsn("https://public:secret@example.com/42");
    assert_eq!(
        with_secret.auth_header("sentry.rust/0.1.0", Some(1_700_000_000)),
        "Sentry sentry_key=public, sentry_version=7, sentry_client=sentry.rust/0.1.0, \
         sentry_timestamp=1700000000, sentry_secret=secret"
    );
}

#[test]
fn serde_uses_the_string_form() {
    let d = dsn("http://key@[::1]:8000/p/1");
    let json = serde_json::to_value(&d).expect("serialise");
    assert_eq!(json, serde_json::json!("http://key@[::1]:8000/p/1"));
    assert_eq!(serde_json::from_value::<Dsn>(json).expect("deserialise"), d);
}

#[test]
fn empty() {
    assert_eq!(error(""), DsnError::Empty);
    assert_eq!(error("   "), DsnError::Empty);
}

#[test]
fn invalid_url_syntax() {
    for s in [
        "not a dsn",
        "https:/key@example.com/1",
        "://key@example.com/1",
        "1https://key@example.com/1",
        "https://key@exa mple.com/1",
        "https://key@example.com/a b/1",
        "https://ke y@example.com/1",
        "https://key@host@example.com/1",
        "http://key@::1/1",
        "http://key@[::1/1",
        "http://key@[zz::1]/1",
        "http://key@[::1]8000/1",
        "https://key@ex\u{e4}mple.com/1",
    ] {
        assert!(
            matches!(error(s), DsnError::InvalidUrl { .. }),
            "{s}: {:?}",
            error(s)
        );
    }
}

#[test]
fn unsupported_scheme() {
    let err = error("ftp://key@example.com/1");
    assert_eq!(
        err,
        DsnError::UnsupportedScheme {
            scheme: "ftp".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "unsupported DSN scheme `ftp`: only `http` and `https` are supported"
    );
}

#[test]
fn missing_public_key() {
    assert_eq!(error("https://example.com/1"), DsnError::MissingPublicKey);
    assert_eq!(error("https://@example.com/1"), DsnError::MissingPublicKey);
    assert_eq!(
        error("https://:secret@example.com/1"),
        DsnError::MissingPublicKey
    );
}

#[test]
fn missing_host() {
    assert_eq!(error("https://key@/1"), DsnError::MissingHost);
    assert_eq!(error("https://key@:80/1"), DsnError::MissingHost);
    assert_eq!(error("https://key@"), DsnError::MissingHost);
}

#[test]
fn invalid_port() {
    for port in ["http", "0", "65536", "-1", "+80", " "] {
        assert_eq!(
            error(&format!("https://key@example.com:{port}/1")),
            DsnError::InvalidPort { value: port.into() },
            "{port:?}"
        );
    }
}

#[test]
fn an_empty_port_is_the_default_one() {
    // As the Python SDK (and any RFC 3986 URL parser) reads `host:`.
    let dsn: Dsn = "http://key@127.0.0.1:/1".parse().expect("dsn");
    assert_eq!(dsn.port(), 80);
    assert_eq!(dsn.envelope_url(), "http://127.0.0.1/api/1/envelope/");
    let dsn: Dsn = "https://key@example.com:/1".parse().expect("dsn");
    assert_eq!(dsn.port(), 443);
}

#[test]
fn missing_project_id() {
    assert_eq!(error("https://key@example.com"), DsnError::MissingProjectId);
    assert_eq!(
        error("https://key@example.com/"),
        DsnError::MissingProjectId
    );
    assert_eq!(
        error("https://key@example.com//"),
        DsnError::MissingProjectId
    );
}

#[test]
fn invalid_project_id() {
    let err = error("https://key@example.com/sentry/my-project");
    assert_eq!(
        err,
        DsnError::InvalidProjectId {
            value: "my-project".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "invalid DSN project id `my-project`: expected digits only"
    );
    assert_eq!(
        error("https://key@example.com/42a"),
        DsnError::InvalidProjectId {
            value: "42a".into()
        }
    );
}
