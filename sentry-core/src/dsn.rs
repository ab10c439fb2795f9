//! The DSN (Data Source Name): where an SDK sends its data and with which key.
//!
//! A DSN has the form (PROTOCOL.md §1.1)
//!
//! ```text
//! {scheme}://{public_key}[:{secret_key}]@{host}[:{port}]{path_prefix}/{project_id}
//! ```
//!
//! * `scheme` is `http` or `https` (default ports 80 and 443);
//! * `public_key` is required, `secret_key` is optional and deprecated;
//! * `host` is a name, an IPv4 address or a bracketed IPv6 address (`[::1]`);
//! * `path_prefix` is everything between the host and the last path segment,
//!   normalised to start and end with `/` (a bare `/` when there is none);
//! * `project_id` is the last non-empty path segment and must be numeric.
//!
//! From a DSN the SDK derives the envelope endpoint
//! (`{scheme}://{host}[:port]{path_prefix}api/{project_id}/envelope/`) and the
//! `X-Sentry-Auth` header value (PROTOCOL.md §1.2).
//!
//! ```
//! use sentry_core::dsn::Dsn;
//!
//! let dsn: Dsn = "https://abc123@o1.ingest.sentry.io/sentry/42".parse()?;
//! assert_eq!(dsn.envelope_url(), "https://o1.ingest.sentry.io/sentry/api/42/envelope/");
//! # Ok::<(), sentry_core::dsn::DsnError>(())
//! ```

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The protocol version this crate speaks (`sentry_version` in the auth header).
const PROTOCOL_VERSION: u32 = 7;

/// Why a string is not a valid DSN.
///
/// Messages never repeat the DSN itself, so they cannot leak a secret key
/// into logs.
///
/// ```
/// use sentry_core::dsn::{Dsn, DsnError};
///
/// let err = "ftp://key@example.com/1".parse::<Dsn>().unwrap_err();
/// assert_eq!(err, DsnError::UnsupportedScheme { scheme: "ftp".into() });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DsnError {
    /// The DSN string is empty (or only whitespace).
    #[error("the DSN is empty; expected `https://<public_key>@<host>/<project_id>`")]
    Empty,
    /// The string is not a URL of the DSN shape.
    #[error("invalid DSN syntax: {reason}; expected `https://<public_key>@<host>/<project_id>`")]
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// The scheme is neither `http` nor `https`.
    #[error("unsupported DSN scheme `{scheme}`: only `http` and `https` are supported")]
    UnsupportedScheme {
        /// The scheme as written.
        scheme: String,
    },
    /// There is no public key (the user part before `@` is absent or empty).
    #[error("the DSN has no public key: expected `<public_key>@` before the host")]
    MissingPublicKey,
    /// There is no host after `@`.
    #[error("the DSN has no host")]
    MissingHost,
    /// The port is not a number in 1..=65535.
    #[error("invalid DSN port `{value}`: expected a number between 1 and 65535")]
    InvalidPort {
        /// The port as written.
        value: String,
    },
    /// The path is empty or `/`: there is no project id.
    #[error("the DSN has no project id: expected `/<project_id>` after the host")]
    MissingProjectId,
    /// The last path segment is not a number.
    #[error("invalid DSN project id `{value}`: expected digits only")]
    InvalidProjectId {
        /// The last path segment as written.
        value: String,
    },
}

/// The URL scheme of a DSN.
///
/// ```
/// use sentry_core::dsn::Scheme;
///
/// assert_eq!(Scheme::Https.default_port(), 443);
/// assert_eq!(Scheme::Http.to_string(), "http");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain `http`.
    Http,
    /// `https`.
    Https,
}

impl Scheme {
    /// The scheme as written in a URL (`"http"` or `"https"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port used when the DSN gives none: 80 for `http`, 443 for `https`.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed, validated DSN.
///
/// Parse with [`str::parse`] (or [`Dsn::from_str`]); [`Display`](fmt::Display)
/// writes it back so that parsing the output gives an equal `Dsn`. Serde
/// (de)serialises it as that string.
///
/// ```
/// use sentry_core::dsn::{Dsn, Scheme};
///
/// let dsn: Dsn = "http://public:secret@[::1]:8000/prefix/7/".parse()?;
/// assert_eq!(dsn.scheme(), Scheme::Http);
/// assert_eq!(dsn.public_key(), "public");
/// assert_eq!(dsn.secret_key(), Some("secret"));
/// assert_eq!(dsn.host(), "[::1]");
/// assert_eq!(dsn.port(), 8000);
/// assert_eq!(dsn.path(), "/prefix/");
/// assert_eq!(dsn.project_id(), "7");
/// assert_eq!(dsn.to_string(), "http://public:secret@[::1]:8000/prefix/7");
/// assert_eq!(dsn.envelope_url(), "http://[::1]:8000/prefix/api/7/envelope/");
/// # Ok::<(), sentry_core::dsn::DsnError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dsn {
    scheme: Scheme,
    public_key: String,
    secret_key: Option<String>,
    /// Lowercased; IPv6 addresses keep their brackets.
    host: String,
    /// `Some` only when the DSN spelled the port out.
    port: Option<u16>,
    /// Starts and ends with `/`.
    path: String,
    project_id: String,
}

impl Dsn {
    /// The scheme (`http` or `https`).
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The public key (the URL user name).
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The deprecated secret key (the URL password), if the DSN has one.
    pub fn secret_key(&self) -> Option<&str> {
        self.secret_key.as_deref()
    }

    /// The host, lowercased. An IPv6 address is returned in brackets
    /// (`[::1]`), ready to be put into a URL.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port: the explicit one if the DSN has one, else the scheme's
    /// default (80 or 443).
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.scheme.default_port())
    }

    /// The path prefix before the project id. It always starts and ends with
    /// `/` and is just `/` when there is no prefix.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The project id (digits only).
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The endpoint all modern traffic is posted to:
    /// `{scheme}://{host}[:port]{path}api/{project_id}/envelope/`.
    ///
    /// The port is left out when it is the scheme's default.
    ///
    /// ```
    /// use sentry_core::dsn::Dsn;
    ///
    /// let dsn: Dsn = "https://key@example.com:8443/42".parse()?;
    /// assert_eq!(dsn.envelope_url(), "https://example.com:8443/api/42/envelope/");
    /// # Ok::<(), sentry_core::dsn::DsnError>(())
    /// ```
    pub fn envelope_url(&self) -> String {
        self.api_url("envelope/")
    }

    /// The legacy single-event endpoint:
    /// `{scheme}://{host}[:port]{path}api/{project_id}/store/`.
    ///
    /// ```
    /// use sentry_core::dsn::Dsn;
    ///
    /// let dsn: Dsn = "https://key@example.com/42".parse()?;
    /// assert_eq!(dsn.store_url(), "https://example.com/api/42/store/");
    /// # Ok::<(), sentry_core::dsn::DsnError>(())
    /// ```
    pub fn store_url(&self) -> String {
        self.api_url("store/")
    }

    fn api_url(&self, endpoint: &str) -> String {
        let mut url = String::with_capacity(
            self.host.len() + self.path.len() + self.project_id.len() + endpoint.len() + 24,
        );
        url.push_str(self.scheme.as_str());
        url.push_str("://");
        url.push_str(&self.host);
        let port = self.port();
        if port != self.scheme.default_port() {
            url.push(':');
            url.push_str(&port.to_string());
        }
        url.push_str(&self.path);
        url.push_str("api/");
        url.push_str(&self.project_id);
        url.push('/');
        url.push_str(endpoint);
        url
    }

    /// The value of the `X-Sentry-Auth` request header:
    /// `Sentry sentry_key=K, sentry_version=7, sentry_client=CLIENT`, followed
    /// by `, sentry_timestamp=T` when a timestamp (unix seconds) is given and
    /// `, sentry_secret=S` when the DSN has a secret key.
    ///
    /// ```
    /// use sentry_core::dsn::Dsn;
    ///
    /// let dsn: Dsn = "https://key@example.com/42".parse()?;
    /// assert_eq!(
    ///     dsn.auth_header("sentry.rust/0.1.0", Some(1700000000)),
    ///     "Sentry sentry_key=key, sentry_version=7, sentry_client=sentry.rust/0.1.0, \
    ///      sentry_timestamp=1700000000",
    /// );
    /// # Ok::<(), sentry_core::dsn::DsnError>(())
    /// ```
    pub fn auth_header(&self, client: &str, timestamp: Option<u64>) -> String {
        let mut header = format!(
            "Sentry sentry_key={}, sentry_version={PROTOCOL_VERSION}, sentry_client={client}",
            self.public_key
        );
        if let Some(timestamp) = timestamp {
            header.push_str(", sentry_timestamp=");
            header.push_str(&timestamp.to_string());
        }
        if let Some(secret) = &self.secret_key {
            header.push_str(", sentry_secret=");
            header.push_str(secret);
        }
        header
    }
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.public_key)?;
        if let Some(secret) = &self.secret_key {
            write!(f, ":{secret}")?;
        }
        write!(f, "@{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}{}", self.path, self.project_id)
    }
}

impl FromStr for Dsn {
    type Err = DsnError;

    /// Parses a DSN. Surrounding whitespace is ignored, and so are a query
    /// string and a fragment (as the official SDKs do).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(DsnError::Empty);
        }

        // Scheme.
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| invalid("missing `://` after the scheme"))?;
        if !is_scheme_syntax(scheme) {
            return Err(invalid("the scheme is missing or malformed"));
        }
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err(DsnError::UnsupportedScheme {
                scheme: scheme.to_owned(),
            });
        };

        // Drop the fragment and query, then split authority from path.
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };

        // User info.
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .ok_or(DsnError::MissingPublicKey)?;
        let (public_key, secret_key) = match userinfo.split_once(':') {
            Some((public, secret)) => (public, Some(secret)),
            None => (userinfo, None),
        };
        if public_key.is_empty() {
            return Err(DsnError::MissingPublicKey);
        }
        check_key(public_key, "public key")?;
        let secret_key = match secret_key {
            Some("") | None => None,
            Some(secret) => {
                check_key(secret, "secret key")?;
                Some(secret.to_owned())
            }
        };

        // Host and port.
        let (host, port) = split_host_port(hostport)?;
        // An empty port (`host:`) is the scheme's default, as a URL parser
        // (RFC 3986 §3.2.3) and the Python SDK read it.
        let port = port.filter(|p| !p.is_empty()).map(parse_port).transpose()?;

        // Path prefix and project id.
        let (path, project_id) = split_path(path)?;

        Ok(Dsn {
            scheme,
            public_key: public_key.to_owned(),
            secret_key,
            host,
            port,
            path,
            project_id,
        })
    }
}

fn invalid(reason: impl Into<String>) -> DsnError {
    DsnError::InvalidUrl {
        reason: reason.into(),
    }
}

/// RFC 3986: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme_syntax(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Keys end up in HTTP headers and in `k=v, k=v` auth strings, so only URL
/// "unreserved" characters are accepted (that covers hex keys and Relay's
/// `<key>.flag` suffix).
fn check_key(key: &str, what: &str) -> Result<(), DsnError> {
    match key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')))
    {
        Some(c) => Err(invalid(format!(
            "the {what} contains {c:?}; only letters, digits, `-`, `.`, `_` and `~` are allowed"
        ))),
        None => Ok(()),
    }
}

/// Splits `host[:port]` / `[v6][:port]`; the host is returned lowercased.
fn split_host_port(hostport: &str) -> Result<(String, Option<&str>), DsnError> {
    if hostport.is_empty() {
        return Err(DsnError::MissingHost);
    }
    if let Some(v6) = hostport.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| invalid("an IPv6 host is missing its closing `]`"))?;
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err(invalid(format!("`[{addr}]` is not an IPv6 address")));
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(|| {
                invalid("unexpected characters after the IPv6 host; expected `:<port>`")
            })?),
        };
        return Ok((format!("[{}]", addr.to_ascii_lowercase()), port));
    }
    if hostport.bytes().filter(|b| *b == b':').count() > 1 {
        return Err(invalid(
            "an IPv6 host must be written in brackets, e.g. `[::1]`",
        ));
    }
    let (host, port) = match hostport.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (hostport, None),
    };
    if host.is_empty() {
        return Err(DsnError::MissingHost);
    }
    if let Some(c) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return Err(invalid(format!(
            "the host contains {c:?}; only ASCII letters, digits, `-`, `.` and `_` are allowed \
             (write internationalised names in punycode)"
        )));
    }
    Ok((host.to_ascii_lowercase(), port))
}

fn parse_port(port: &str) -> Result<u16, DsnError> {
    let err = || DsnError::InvalidPort {
        value: port.to_owned(),
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(err()),
        Ok(port) => Ok(port),
    }
}

/// Splits the URL path into a normalised prefix (`/` or `/a/b/`) and the
/// project id (the last non-empty segment). Runs of `/` collapse.
fn split_path(path: &str) -> Result<(String, String), DsnError> {
    if let Some(c) = path.chars().find(|c| {
        !(c.is_ascii_alphanumeric()
            || matches!(
                c,
                '/' | '-'
                    | '.'
                    | '_'
                    | '~'
                    | '%'
                    | '!'
                    | '$'
                    | '&'
                    | '\''
                    | '('
                    | ')'
                    | '*'
                    | '+'
                    | ','
                    | ';'
                    | '='
                    | ':'
                    | '@'
            ))
    }) {
        return Err(invalid(format!("the path contains {c:?}")));
    }
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let project_id = segments.next_back().ok_or(DsnError::MissingProjectId)?;
    if !project_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DsnError::InvalidProjectId {
            value: project_id.to_owned(),
        });
    }
    let mut prefix = String::with_capacity(path.len());
    prefix.push('/');
    for segment in segments {
        prefix.push_str(segment);
        prefix.push('/');
    }
    Ok((prefix, project_id.to_owned()))
}

impl Serialize for Dsn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dsn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DsnVisitor;

        impl Visitor<'_> for DsnVisitor {
            type Value = Dsn;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DSN string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dsn, E> {
                v.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(DsnVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Dsn, DsnError> {
        s.parse()
    }

    #[test]
    fn minimal_https_dsn_uses_default_port_and_root_path() {
        let dsn = parse("https://abc@example.com/42").unwrap();
        assert_eq!(dsn.scheme(), Scheme::Https);
        assert_eq!(dsn.public_key(), "abc");
        assert_eq!(dsn.secret_key(), None);
        assert_eq!(dsn.host(), "example.com");
        assert_eq!(dsn.port(), 443);
        assert_eq!(dsn.path(), "/");
        assert_eq!(dsn.project_id(), "42");
        assert_eq!(dsn.to_string(), "https://abc@example.com/42");
    }

    #[test]
    fn http_defaults_to_port_80() {
        let dsn = parse("http://abc@localhost/1").unwrap();
        assert_eq!(dsn.port(), 80);
        assert_eq!(dsn.envelope_url(), "http://localhost/api/1/envelope/");
    }

    #[test]
    fn explicit_default_port_is_kept_in_display_but_not_in_urls() {
        let dsn = parse("https://abc@example.com:443/42").unwrap();
        assert_eq!(dsn.port(), 443);
        assert_eq!(dsn.to_string(), "https://abc@example.com:443/42");
        assert_eq!(dsn.envelope_url(), "https://example.com/api/42/envelope/");
        assert_ne!(dsn, parse("https://abc@example.com/42").unwrap());
    }

    #[test]
    fn multi_segment_prefix_is_normalised() {
        let dsn = parse("https://abc@example.com//a/b//7").unwrap();
        assert_eq!(dsn.path(), "/a/b/");
        assert_eq!(dsn.to_string(), "https://abc@example.com/a/b/7");
        assert_eq!(dsn.store_url(), "https://example.com/a/b/api/7/store/");
    }

    #[test]
    fn query_and_fragment_are_ignored() {
        let dsn = parse("https://abc@example.com/7?verify_ssl=0#x").unwrap();
        assert_eq!(dsn.project_id(), "7");
        assert_eq!(dsn.to_string(), "https://abc@example.com/7");
    }

    #[test]
    fn scheme_and_host_are_case_insensitive() {
        let dsn = parse("HTTPS://abc@Example.COM/7").unwrap();
        assert_eq!(dsn, parse("https://abc@example.com/7").unwrap());
    }

    #[test]
    fn empty_secret_is_none() {
        let dsn = parse("https://abc:@example.com/7").unwrap();
        assert_eq!(dsn.secret_key(), None);
    }

    #[test]
    fn auth_header_without_timestamp_or_secret() {
        let dsn = parse("https://abc@example.com/7").unwrap();
        assert_eq!(
            dsn.auth_header("sentry.rust/1.0", None),
            "Sentry sentry_key=abc, sentry_version=7, sentry_client=sentry.rust/1.0"
        );
    }

    #[test]
    fn auth_header_with_secret() {
        let dsn = parse("https://abc:def@example.com/7").unwrap();
        assert_eq!(
            dsn.auth_header("c/1", Some(5)),
            "Sentry sentry_key=abc, sentry_version=7, sentry_client=c/1, sentry_timestamp=5, \
             sentry_secret=def"
        );
    }

    #[test]
    fn an_empty_port_is_the_default_port_of_the_scheme() {
        for (written, plain, port) in [
            ("http://key@127.0.0.1:/1", "http://key@127.0.0.1/1", 80),
            (
                "https://key@example.com:/p/7",
                "https://key@example.com/p/7",
                443,
            ),
            ("http://key@[::1]:/1", "http://key@[::1]/1", 80),
        ] {
            let dsn = parse(written).unwrap();
            assert_eq!(dsn.port(), port, "{written}");
            assert_eq!(dsn, parse(plain).unwrap(), "{written}");
            assert_eq!(dsn.to_string(), plain);
        }
        assert_eq!(
            parse("http://key@127.0.0.1:/1").unwrap().envelope_url(),
            "http://127.0.0.1/api/1/envelope/"
        );
        // Not a number is still refused.
        for bad in [
            "http://k@h:x/1",
            "http://k@h:0/1",
            "http://k@h:65536/1",
            "http://k@h: /1",
        ] {
            assert!(
                matches!(parse(bad), Err(DsnError::InvalidPort { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn unbracketed_ipv6_is_rejected() {
        assert!(matches!(
            parse("http://k@::1:8000/1"),
            Err(DsnError::InvalidUrl { .. })
        ));
        assert!(matches!(
            parse("http://k@fe80::1/1"),
            Err(DsnError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn bad_ipv6_literal_is_rejected() {
        assert!(matches!(
            parse("http://k@[not:v6]/1"),
            Err(DsnError::InvalidUrl { .. })
        ));
        assert!(matches!(
            parse("http://k@[::1/1"),
            Err(DsnError::InvalidUrl { .. })
        ));
        assert!(matches!(
            parse("http://k@[::1]x/1"),
            Err(DsnError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn error_messages_do_not_contain_the_secret() {
        let err = parse("https://abc:topsecret@example.com/x").unwrap_err();
        assert!(!err.to_string().contains("topsecret"));
    }

    #[test]
    fn serde_is_a_string() {
        let dsn = parse("https://abc@example.com:9000/p/7").unwrap();
        let json = serde_json::to_string(&dsn).unwrap();
        assert_eq!(json, r#""https://abc@example.com:9000/p/7""#);
        let back: Dsn = serde_json::from_str(&json).unwrap();
        assert_eq!(back, dsn);
        let value: Dsn = serde_json::from_value(serde_json::Value::String(
            json[1..json.len() - 1].to_owned(),
        ))
        .unwrap();
        assert_eq!(value, dsn);
        let err = serde_json::from_str::<Dsn>(r#""ftp://k@h/1""#).unwrap_err();
        assert!(err.to_string().contains("unsupported DSN scheme `ftp`"));
        assert!(serde_json::from_str::<Dsn>("42").is_err());
    }
}
