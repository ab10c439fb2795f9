//! The HTTP check-in route of Sentry Crons, for jobs that report with
//! `curl` instead of an SDK:
//! `GET` or `POST {prefix}api/{project_id}/cron/{monitor_slug}/[{public_key}/]`.
//!
//! It is read as Relay reads it:
//!
//! * A body sent with `Content-Type: application/json` is the check-in, as
//!   a `check_in` item holds it (`status`, `check_in_id`, `environment`,
//!   `duration`, `monitor_config`, …); the slug in the path replaces any
//!   `monitor_slug` it names.
//! * Otherwise the query string says it all: `status` (required),
//!   `check_in_id`, `environment` and `duration` (seconds). A check-in
//!   without `check_in_id` updates the monitor's latest run in progress,
//!   or starts a run if none is in progress, so `?status=in_progress`
//!   followed by `?status=ok` is one run.
//! * The key is in the path, or in a header or the query string; two of
//!   them are a 401 ([`auth::with_path_key`]). As in Relay, a query string
//!   that holds `sentry_` anywhere (`environment=sentry_prod`) counts as a
//!   key in the query string.
//! * `HEAD` is taken as `GET` (Relay's router does the same).
//! * The answer is `202 Accepted` with no body, also when a quota refused
//!   the check-in: Relay never answers this route with a 429.
//!
//! The check-in is then ingested as an envelope of one `check_in` item, as
//! if an SDK had sent it.
//!
//! Where the receiver differs from Relay: a check-in that Sentry would drop
//! later (a status other than `ok`, `error` or `in_progress`, a negative
//! duration, a slug of which nothing is kept; see [`super::check_in`]) is
//! refused with a 400 that says why, so that the job's script sees its
//! mistake. Relay answers 202 and the check-in never shows.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{auth, check_in, IngestError};

/// What the route names after `api/{project_id}/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronRoute {
    /// The monitor's slug, percent-decoded.
    pub monitor_slug: String,
    /// The public key, when the path carries it.
    pub public_key: Option<String>,
}

/// Reads `cron/{monitor_slug}` or `cron/{monitor_slug}/{public_key}` (the
/// part of a normalised path after `api/{project_id}/`, without its
/// trailing `/`); `None` for any other route.
///
/// ```
/// use receiver::ingest::cron_endpoint::parse_route;
/// let route = parse_route("cron/nightly%20backup/0123456789abcdef0123456789abcdef").unwrap();
/// assert_eq!(route.monitor_slug, "nightly backup");
/// assert_eq!(route.public_key.as_deref(), Some("0123456789abcdef0123456789abcdef"));
/// assert_eq!(parse_route("cron/nightly").unwrap().public_key, None);
/// assert!(parse_route("envelope").is_none());
/// assert!(parse_route("cron/a/b/c").is_none());
/// ```
pub fn parse_route(rest: &str) -> Option<CronRoute> {
    let mut segments = rest.strip_prefix("cron/")?.split('/');
    let slug = segments.next().filter(|s| !s.is_empty())?;
    let key = segments.next().filter(|s| !s.is_empty());
    if segments.next().is_some() {
        return None;
    }
    Some(CronRoute {
        monitor_slug: decode_segment(slug),
        public_key: key.map(decode_segment),
    })
}

/// A path segment's `%XX` escapes decoded (`+` stays a `+`).
fn decode_segment(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether `content_type` makes the body the check-in (Relay: it starts
/// with `application/json`).
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|v| {
        v.trim_start()
            .get(.."application/json".len())
            .is_some_and(|head| head.eq_ignore_ascii_case("application/json"))
    })
}

/// The check-in a request describes, as the JSON of a `check_in` item:
/// from `json_body` when the request sent one (see [`is_json`]), else from
/// the query string. It is checked as ingestion checks a `check_in` item,
/// so what ingestion would refuse is a 400 here.
///
/// ```
/// use receiver::ingest::cron_endpoint::check_in_payload;
/// let payload = check_in_payload("nightly", Some("status=ok&duration=2.5"), None).unwrap();
/// let value: serde_json::Value = serde_json::from_slice(&payload).unwrap();
/// assert_eq!(value["monitor_slug"], "nightly");
/// assert_eq!(value["status"], "ok");
/// assert_eq!(value["duration"], 2.5);
/// assert!(check_in_payload("nightly", Some("duration=2.5"), None).is_err());
/// ```
pub fn check_in_payload(
    monitor_slug: &str,
    query: Option<&str>,
    json_body: Option<&[u8]>,
) -> Result<Vec<u8>, IngestError> {
    let mut check_in = match json_body {
        Some(body) => from_body(body)?,
        None => from_query(query.unwrap_or(""))?,
    };
    check_in.insert(
        "monitor_slug".to_owned(),
        Value::String(monitor_slug.to_owned()),
    );
    check_in::check(&check_in).map_err(|refused| invalid(refused.detail))?;
    serde_json::to_vec(&check_in).map_err(|e| IngestError::Internal {
        detail: format!("could not write the check-in: {e}"),
    })
}

fn invalid(detail: impl std::fmt::Display) -> IngestError {
    IngestError::BadRequest {
        detail: format!("invalid check-in: {detail}"),
    }
}

fn from_body(body: &[u8]) -> Result<Map<String, Value>, IngestError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("the JSON body is not an object")),
        Err(e) => Err(invalid(format_args!("the body is not JSON: {e}"))),
    }
}

fn from_query(query: &str) -> Result<Map<String, Value>, IngestError> {
    let mut check_in = Map::new();
    for (key, value) in auth::form_pairs(query) {
        let field = match key.as_str() {
            "status" => Some(("status", Value::String(value))),
            "environment" => Some(("environment", Value::String(value))),
            "check_in_id" => Some(("check_in_id", Value::String(check_in_id(&value)?))),
            "duration" => Some(("duration", duration(&value)?)),
            // `sentry_key` and anything else: not part of the check-in.
            _ => None,
        };
        // The first of a repeated parameter counts.
        if let Some((name, value)) = field {
            check_in.entry(name).or_insert(value);
        }
    }
    if !check_in.contains_key("status") {
        return Err(invalid(
            "status is missing from the query string (ok, error or in_progress); to send the \
             check-in as JSON, send the body with Content-Type: application/json",
        ));
    }
    Ok(check_in)
}

/// A UUID in any of its usual spellings, as 32 lowercase hex digits.
fn check_in_id(value: &str) -> Result<String, IngestError> {
    Uuid::parse_str(value.trim())
        .map(|id| id.simple().to_string())
        .map_err(|_| invalid(format_args!("check_in_id {:?} is not a UUID", shown(value))))
}

/// The start of a value quoted in an error (the whole of a long one would
/// make the answer as long).
fn shown(value: &str) -> String {
    value.chars().take(40).collect()
}

fn duration(value: &str) -> Result<Value, IngestError> {
    let not_a_number = || {
        invalid(format_args!(
            "duration {:?} is not a number of seconds",
            shown(value)
        ))
    };
    let seconds: f64 = value.trim().parse().map_err(|_| not_a_number())?;
    serde_json::Number::from_f64(seconds)
        .map(Value::Number)
        .ok_or_else(not_a_number)
}

/// The envelope of one `check_in` item holding `payload`.
///
/// ```
/// use receiver::ingest::cron_endpoint::envelope;
/// let bytes = envelope(br#"{"status":"ok"}"#);
/// assert!(bytes.starts_with(b"{}\n{\"type\":\"check_in\",\"length\":15}\n"));
/// ```
pub fn envelope(payload: &[u8]) -> Vec<u8> {
    let head = format!(
        "{{}}\n{{\"type\":\"check_in\",\"length\":{}}}\n",
        payload.len()
    );
    let mut bytes = Vec::with_capacity(head.len() + payload.len() + 1);
    bytes.extend_from_slice(head.as_bytes());
    bytes.extend_from_slice(payload);
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(query: &str) -> Value {
        let bytes = check_in_payload("nightly", Some(query), None).expect("valid");
        serde_json::from_slice(&bytes).expect("json")
    }

    fn refused(query: &str) -> String {
        match check_in_payload("nightly", Some(query), None) {
            Err(IngestError::BadRequest { detail }) => detail,
            other => panic!("{query}: expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn the_query_string_makes_the_check_in() {
        let v = payload(
            "status=in_progress&check_in_id=83A7C03E-D0A0-4E1B-97E2-E3B18D38F244\
             &environment=prod%20eu&duration=12&sentry_key=abc&other=1",
        );
        assert_eq!(v["status"], "in_progress");
        assert_eq!(v["check_in_id"], "83a7c03ed0a04e1b97e2e3b18d38f244");
        assert_eq!(v["environment"], "prod eu");
        assert_eq!(v["duration"], 12.0);
        assert_eq!(v["monitor_slug"], "nightly");
        assert!(v.get("sentry_key").is_none() && v.get("other").is_none());
    }

    #[test]
    fn the_first_of_a_repeated_parameter_counts() {
        assert_eq!(payload("status=ok&status=error")["status"], "ok");
    }

    #[test]
    fn what_ingestion_would_refuse_is_a_400_that_says_why() {
        assert!(refused("").contains("status is missing"));
        assert!(refused("status=missed").contains("status"));
        assert!(refused("status=ok&duration=-1").contains("duration"));
        assert!(refused("status=ok&duration=soon").contains("not a number"));
        assert!(refused("status=ok&check_in_id=42").contains("not a UUID"));
        let long = refused(&format!("status=ok&duration={}x", "9".repeat(5000)));
        assert!(long.len() < 200, "a long value is not echoed whole: {long}");
        assert!(matches!(
            check_in_payload("%%%", Some("status=ok"), None),
            Err(IngestError::BadRequest { .. })
        ));
    }

    #[test]
    fn a_json_body_is_the_check_in_and_the_path_names_its_monitor() {
        let body = br#"{"status":"ok","monitor_slug":"other","release":"app@1",
            "monitor_config":{"schedule":{"type":"crontab","value":"0 * * * *"}}}"#;
        let bytes = check_in_payload("nightly", Some("status=error"), Some(body)).expect("ok");
        let v: Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(v["monitor_slug"], "nightly");
        assert_eq!(v["status"], "ok", "the query string is not read");
        assert_eq!(v["monitor_config"]["schedule"]["value"], "0 * * * *");
        for body in [&b"[1]"[..], b"{", br#"{"status":5}"#] {
            assert!(check_in_payload("nightly", None, Some(body)).is_err());
        }
    }

    #[test]
    fn json_is_recognised_by_its_content_type() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(!is_json(Some("application/x-www-form-urlencoded")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }

    #[test]
    fn the_envelope_holds_one_check_in_item() {
        let bytes = envelope(br#"{"status":"ok","monitor_slug":"a"}"#);
        let parsed = sentry_core::envelope::Envelope::parse(&bytes).expect("envelope");
        assert_eq!(parsed.items.len(), 1);
    }
}
