//! Where the public key comes from (PROTOCOL.md §1.2).
//!
//! A request authenticates with exactly one of: the `X-Sentry-Auth` header,
//! an `Authorization: Sentry …` header, `Authorization: Basic base64(key:…)`,
//! or `sentry_*` query parameters. More than one is a 401 ("multiple
//! authorization payloads detected"). When none is present, the envelope
//! header `dsn` may carry the key instead ([`from_envelope_dsn`]). The
//! HTTP check-in route carries the key in its path instead
//! ([`with_path_key`]), and counts as a fifth payload.
//!
//! ```
//! use receiver::ingest::auth::{parse_sentry_auth, AuthSource};
//! let auth = parse_sentry_auth(
//!     "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7, \
//!      sentry_client=sentry.python/2.75.0",
//!     AuthSource::XSentryAuth,
//! ).unwrap();
//! assert_eq!(auth.public_key, "0123456789abcdef0123456789abcdef");
//! assert_eq!(auth.client.as_deref(), Some("sentry.python/2.75.0"));
//! ```

use base64::Engine as _;
use hyper::header::{HeaderMap, AUTHORIZATION};

use super::IngestError;

/// The highest protocol version this receiver speaks.
pub const PROTOCOL_VERSION: u32 = 7;

/// Where the key was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthSource {
    /// `X-Sentry-Auth: Sentry …`
    XSentryAuth,
    /// `Authorization: Sentry …`
    AuthorizationSentry,
    /// `Authorization: Basic …`
    AuthorizationBasic,
    /// `?sentry_key=…`
    Query,
    /// A key in the route: `…/cron/{monitor_slug}/{key}/`.
    Path,
    /// The envelope header `dsn`.
    EnvelopeDsn,
}

/// The authentication payload of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// The public key, validated to be 32 ASCII characters (a `.flag`
    /// suffix is stripped).
    pub public_key: String,
    /// Protocol version (default 7).
    pub version: u32,
    /// `sentry_client`, if sent.
    pub client: Option<String>,
    /// Where it came from.
    pub source: AuthSource,
    /// Project id, only for [`AuthSource::EnvelopeDsn`].
    pub project_id: Option<String>,
}

/// Relay's answer to a request with more than one key.
fn multiple_payloads() -> IngestError {
    unauthorized("bad authentication: multiple authorization payloads detected")
}

fn unauthorized(detail: impl Into<String>) -> IngestError {
    IngestError::Unauthorized {
        detail: detail.into(),
    }
}

/// Reads the request's own authentication (headers and query string).
/// `Ok(None)` means none was sent: the caller then looks at the envelope
/// header `dsn`.
pub fn from_request(headers: &HeaderMap, query: Option<&str>) -> Result<Option<Auth>, IngestError> {
    let mut found: Vec<Result<Auth, IngestError>> = Vec::new();
    if let Some(value) = headers.get("x-sentry-auth") {
        let value = value
            .to_str()
            .map_err(|_| unauthorized("invalid X-Sentry-Auth header: not ASCII"))?;
        found.push(parse_sentry_auth(value, AuthSource::XSentryAuth));
    }
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| unauthorized("invalid Authorization header: not ASCII"))?;
        let trimmed = value.trim_start();
        if strip_prefix_ci(trimmed, "sentry ").is_some() {
            found.push(parse_sentry_auth(value, AuthSource::AuthorizationSentry));
        } else if let Some(encoded) = strip_prefix_ci(trimmed, "basic ") {
            found.push(parse_basic(encoded));
        }
    }
    if let Some(query) = query.filter(|q| q.contains("sentry_")) {
        found.push(parse_query(query));
    }
    match found.len() {
        0 => Ok(None),
        1 => found.pop().map(|r| r.map(Some)).unwrap_or(Ok(None)),
        _ => Err(multiple_payloads()),
    }
}

/// The authentication of a route that may carry the key in its path
/// (PROTOCOL.md §1.2, item 5): `found` is what [`from_request`] read from
/// the headers and the query string. The path's key is one more payload,
/// so a request with both is a 401, and one with neither is a 401 too
/// (such a route has no envelope header to fall back on).
///
/// ```
/// use receiver::ingest::auth::{with_path_key, AuthSource};
/// let auth = with_path_key(None, Some("0123456789abcdef0123456789abcdef")).unwrap();
/// assert_eq!(auth.source, AuthSource::Path);
/// assert!(with_path_key(None, None).is_err());
/// ```
pub fn with_path_key(found: Option<Auth>, path_key: Option<&str>) -> Result<Auth, IngestError> {
    match (found, path_key) {
        (Some(_), Some(_)) => Err(multiple_payloads()),
        (Some(auth), None) => Ok(auth),
        (None, Some(key)) => from_pairs(
            [("sentry_key".to_owned(), key.to_owned())],
            AuthSource::Path,
        ),
        (None, None) => Err(unauthorized(
            "missing authorization information: put the public key in the path \
             (…/cron/{monitor_slug}/{public_key}/), X-Sentry-Auth or sentry_key in the query \
             string",
        )),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Parses `Sentry k=v, k=v` (the `Sentry ` prefix is case-insensitive).
pub fn parse_sentry_auth(value: &str, source: AuthSource) -> Result<Auth, IngestError> {
    let rest = strip_prefix_ci(value.trim_start(), "sentry ").ok_or_else(|| {
        unauthorized("bad authentication: the auth header does not start with `Sentry `")
    })?;
    let pairs = rest.split(',').filter_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        Some((k.trim().to_owned(), v.trim().to_owned()))
    });
    from_pairs(pairs, source)
}

fn parse_basic(encoded: &str) -> Result<Auth, IngestError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| unauthorized("bad authentication: invalid base64 in Basic authorization"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| unauthorized("bad authentication: Basic credentials are not UTF-8"))?;
    let key = text.split(':').next().unwrap_or("");
    from_pairs(
        [("sentry_key".to_owned(), key.to_owned())],
        AuthSource::AuthorizationBasic,
    )
}

fn parse_query(query: &str) -> Result<Auth, IngestError> {
    from_pairs(form_pairs(query), AuthSource::Query)
}

/// Splits an `application/x-www-form-urlencoded` string into decoded pairs.
pub fn form_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

/// Decodes `%XX` escapes and `+` (as a space). Invalid escapes stay as they are.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn from_pairs(
    pairs: impl IntoIterator<Item = (String, String)>,
    source: AuthSource,
) -> Result<Auth, IngestError> {
    let mut key = None;
    let mut version = PROTOCOL_VERSION;
    let mut client = None;
    for (k, v) in pairs {
        match k.as_str() {
            "sentry_key" => key = Some(v),
            "sentry_version" => version = parse_version(&v)?,
            "sentry_client" if !v.is_empty() => client = Some(v),
            _ => {}
        }
    }
    let key = key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| unauthorized("bad authentication: missing sentry_key"))?;
    if version > PROTOCOL_VERSION {
        return Err(IngestError::BadRequest {
            detail: format!(
                "unsupported protocol version ({version}); this receiver speaks up to \
                 {PROTOCOL_VERSION}"
            ),
        });
    }
    Ok(Auth {
        public_key: validate_key(&key)?,
        version,
        client,
        source,
        project_id: None,
    })
}

/// Only the part before the first `.` counts; a non-integer is a 401.
fn parse_version(v: &str) -> Result<u32, IngestError> {
    let major = v.split('.').next().unwrap_or("").trim();
    major
        .parse::<u32>()
        .map_err(|_| unauthorized(format!("bad authentication: invalid sentry_version {v:?}")))
}

/// A public key is 32 ASCII characters; Relay tolerates a `.flag` suffix.
/// Anything else is a 400.
pub fn validate_key(key: &str) -> Result<String, IngestError> {
    let key = key.split('.').next().unwrap_or(key);
    if key.len() == 32 && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(key.to_owned())
    } else {
        Err(IngestError::BadRequest {
            detail: "invalid public key: expected 32 ASCII characters (generate keys as 32 hex \
                     digits)"
                .to_owned(),
        })
    }
}

/// Authentication from the envelope header `dsn`, used when the request
/// carries none. An unparseable DSN is a 401.
pub fn from_envelope_dsn(dsn: &str) -> Result<Auth, IngestError> {
    let parsed: sentry_core::dsn::Dsn = dsn
        .parse()
        .map_err(|e| unauthorized(format!("bad authentication: invalid envelope dsn: {e}")))?;
    Ok(Auth {
        public_key: validate_key(parsed.public_key())?,
        version: PROTOCOL_VERSION,
        client: None,
        source: AuthSource::EnvelopeDsn,
        project_id: Some(parsed.project_id().to_owned()),
    })
}

/// The envelope header `dsn`, when the request has its own auth too, must
/// name the same key and project (else 400).
pub fn cross_check_dsn(request: &Auth, project_id: u64, dsn: &str) -> Result<(), IngestError> {
    let mismatch = || IngestError::BadRequest {
        detail: "public key/project id header mismatch between envelope and request".to_owned(),
    };
    let parsed: sentry_core::dsn::Dsn = dsn.parse().map_err(|_| mismatch())?;
    let key = parsed.public_key().split('.').next().unwrap_or("");
    if key != request.public_key || parsed.project_id() != project_id.to_string() {
        return Err(mismatch());
    }
    Ok(())
}

/// Compares two keys in time independent of where they first differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    fn status(r: Result<Option<Auth>, IngestError>) -> u16 {
        match r {
            Ok(_) => 200,
            Err(e) => e.status().as_u16(),
        }
    }

    #[test]
    fn every_source_parses() {
        let x = format!("Sentry sentry_key={KEY}, sentry_version=7");
        let a = from_request(&headers(&[("x-sentry-auth", &x)]), None).unwrap();
        assert_eq!(a.unwrap().source, AuthSource::XSentryAuth);

        let x = format!("sentry sentry_key={KEY}");
        let a = from_request(&headers(&[("authorization", &x)]), None).unwrap();
        assert_eq!(a.unwrap().source, AuthSource::AuthorizationSentry);

        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"));
        let a = from_request(
            &headers(&[("authorization", &format!("Basic {basic}"))]),
            None,
        );
        assert_eq!(a.unwrap().unwrap().public_key, KEY);

        let q = format!(
            "sentry_version=7&sentry_key={KEY}&sentry_client=sentry.javascript.node%2F9.0.0"
        );
        let a = from_request(&HeaderMap::new(), Some(&q)).unwrap().unwrap();
        assert_eq!(a.client.as_deref(), Some("sentry.javascript.node/9.0.0"));
        assert_eq!(a.source, AuthSource::Query);
    }

    #[test]
    fn no_auth_is_none_and_query_without_sentry_is_ignored() {
        assert!(from_request(&HeaderMap::new(), Some("a=b"))
            .unwrap()
            .is_none());
    }

    #[test]
    fn two_payloads_are_401() {
        let x = format!("Sentry sentry_key={KEY}");
        let r = from_request(
            &headers(&[("x-sentry-auth", &x)]),
            Some(&format!("sentry_key={KEY}")),
        );
        assert_eq!(status(r), 401);
    }

    #[test]
    fn error_statuses() {
        let h = |v: &str| from_request(&headers(&[("x-sentry-auth", v)]), None);
        assert_eq!(status(h("Bearer abc")), 401);
        assert_eq!(status(h("Sentry sentry_version=7")), 401);
        assert_eq!(status(h("Sentry sentry_key=")), 401);
        assert_eq!(
            status(h(&format!("Sentry sentry_key={KEY}, sentry_version=x"))),
            401
        );
        assert_eq!(
            status(h(&format!("Sentry sentry_key={KEY}, sentry_version=8"))),
            400
        );
        assert_eq!(
            status(h(&format!("Sentry sentry_key={KEY}, sentry_version=7.1"))),
            200
        );
        assert_eq!(status(h("Sentry sentry_key=short")), 400);
        assert_eq!(status(h(&format!("Sentry sentry_key={KEY}.no-cache"))), 200);
    }

    #[test]
    fn envelope_dsn() {
        let a = from_envelope_dsn(&format!("http://{KEY}@localhost:8000/42")).unwrap();
        assert_eq!(a.project_id.as_deref(), Some("42"));
        assert_eq!(
            from_envelope_dsn("nonsense").unwrap_err().status().as_u16(),
            401
        );
        let req = parse_sentry_auth(&format!("Sentry sentry_key={KEY}"), AuthSource::XSentryAuth)
            .unwrap();
        assert!(cross_check_dsn(&req, 42, &format!("http://{KEY}@h/42")).is_ok());
        assert!(cross_check_dsn(&req, 43, &format!("http://{KEY}@h/42")).is_err());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb+c%zz%4"), "a/b c%zz%4");
        assert!(constant_time_eq(KEY, KEY));
        assert!(!constant_time_eq(KEY, "x"));
    }
}
