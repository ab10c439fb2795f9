//! A `check_in` item (PROTOCOL.md A.1) read as Relay reads it and checked
//! as Sentry's monitor consumer checks it, before it is stored as an
//! update of a run (`store::check_ins`).
//!
//! What Relay or Sentry would drop is refused here: the item is kept in
//! `raw_items` with the reason (nothing acknowledged is lost) and counted
//! as an outcome `invalid` of category `monitor`, with the reason Relay or
//! Sentry gives:
//!
//! * `invalid_json`: no JSON object, or a field of the wrong type. Relay
//!   deserialises the item into typed fields (`status` a string, required;
//!   `monitor_slug`, `environment` strings; `duration` a number;
//!   `check_in_id` a UUID) and drops it when that fails.
//! * `invalid_check_in`: an empty `monitor_slug`, an `environment` over 64
//!   characters (Relay), a status other than `ok`, `error` and
//!   `in_progress` (Relay turns any other string, `missed` included, into
//!   `unknown`, which Sentry's validator refuses), a `duration` below 0 or
//!   over Sentry's bound of 2 147 483 647 ms.
//! * `invalid_monitor`: a `monitor_slug` of which Sentry's slug keeps
//!   nothing (only punctuation, or letters without an ASCII form).
//!
//! Relay cuts a `monitor_slug` to 50 characters and Sentry makes a slug of
//! it (`"Nightly Backup"` is `nightly-backup`: `ingest::monitor_slug`).
//! A check-in without `check_in_id` reaches Sentry with the nil id: it
//! updates the latest run in progress, as the nil id does. An empty
//! `environment` is none (Sentry's `production`).
//!
//! Not everything Relay checks is checked here: Relay also reads the
//! `monitor_config` into strict types (a required `schedule`, minutes as
//! unsigned numbers) and `contexts.trace.trace_id` as a UUID, and drops
//! the whole check-in when they do not fit. The receiver keeps such a
//! check-in and reads its config as leniently as Sentry's own API does
//! (`ingest::monitor_config`, which names what was wrong).

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::store::dictionary;
use crate::store::records::CheckInRecord;

/// Relay's longest environment name, in characters.
const MAX_ENVIRONMENT_CHARS: usize = 64;
/// The longest duration Sentry stores (`BoundedPositiveIntegerField`:
/// 2 147 483 647 ms), in seconds.
pub(crate) const MAX_DURATION_SECS: f64 = 2_147_483.647;
/// The statuses an SDK may send.
const STATUSES: [&str; 3] = ["ok", "error", "in_progress"];

/// Why a check-in is refused: the outcome reason Relay or Sentry counts
/// it under, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct Refused {
    /// `invalid_json`, `invalid_check_in` or `invalid_monitor`.
    pub reason: &'static str,
    /// What was wrong, for `raw_items.error`.
    pub detail: String,
}

impl Refused {
    fn json(detail: String) -> Refused {
        Refused {
            reason: "invalid_json",
            detail,
        }
    }

    fn check_in(detail: String) -> Refused {
        Refused {
            reason: "invalid_check_in",
            detail,
        }
    }
}

/// Reads `payload`, compressing what is kept at zstd `level`.
pub fn read(payload: &[u8], level: i32) -> Result<CheckInRecord, Refused> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| Refused::json(format!("invalid check_in JSON: {e}")))?;
    let Value::Object(map) = &value else {
        return Err(Refused::json("check_in: not a JSON object".to_owned()));
    };
    let Fields {
        status,
        monitor_slug,
        environment,
        duration,
        sent_id,
    } = fields(map)?;
    // The nil id (or none) asks for the latest run in progress; a run it
    // starts (there is none) gets an id of its own, as in Sentry.
    let update_latest = match sent_id {
        Some(id) => id.is_nil(),
        None => true,
    };
    let check_in_id = sent_id
        .filter(|id| !id.is_nil())
        .unwrap_or_else(Uuid::new_v4)
        .simple()
        .to_string();
    Ok(CheckInRecord {
        check_in_id,
        update_latest,
        monitor_slug,
        status,
        duration,
        release: map
            .get("release")
            .and_then(Value::as_str)
            .map(str::to_owned),
        environment,
        payload: dictionary::compress(payload, level, None)
            .map_err(|e| Refused::json(format!("could not compress check_in: {e}")))?,
        // A config that cannot be read is a problem of the monitor's, not a
        // reason to lose the check-in.
        monitor_config: map
            .get("monitor_config")
            .filter(|c| !c.is_null())
            .map(super::monitor_config::read),
    })
}

/// The fields a check-in is checked by, read as [`read`] reads them.
struct Fields {
    status: String,
    monitor_slug: String,
    environment: Option<String>,
    duration: Option<f64>,
    sent_id: Option<Uuid>,
}

fn fields(map: &Map<String, Value>) -> Result<Fields, Refused> {
    Ok(Fields {
        status: status(map)?,
        monitor_slug: monitor_slug(map)?,
        environment: environment(map)?,
        duration: duration(map)?,
        sent_id: check_in_id(map)?,
    })
}

/// Checks a check-in's JSON object as [`read`] does, building nothing:
/// `Err` for what [`read`] would refuse.
pub fn check(map: &Map<String, Value>) -> Result<(), Refused> {
    fields(map).map(|_| ())
}

/// A string field, `None` when absent or `null`.
fn string<'a>(map: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Refused> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Refused::json(format!(
            "check_in: {key} must be a string, got {}",
            kind(other)
        ))),
    }
}

/// The JSON type of `value`, as a refusal names it.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `status`: required, one of [`STATUSES`].
fn status(map: &Map<String, Value>) -> Result<String, Refused> {
    let Some(Value::String(status)) = map.get("status") else {
        return Err(Refused::json(format!(
            "check_in: status must be a string, got {}",
            map.get("status").map_or("nothing", kind)
        )));
    };
    if STATUSES.contains(&status.as_str()) {
        return Ok(status.clone());
    }
    let shown: String = status.chars().take(40).collect();
    Err(Refused::check_in(format!(
        "check_in: status must be ok, error or in_progress, got {shown:?}"
    )))
}

/// `monitor_slug`: required and not empty (Relay), then made a slug as
/// Sentry makes it (`ingest::monitor_slug`). A slug that keeps nothing of
/// what was sent (`"!!!"`, `"日本"`) names no monitor Sentry can file the
/// check-in under: refused as `invalid_monitor`.
fn monitor_slug(map: &Map<String, Value>) -> Result<String, Refused> {
    let sent = string(map, "monitor_slug")?.unwrap_or_default();
    if sent.is_empty() {
        return Err(Refused::check_in(
            "check_in: monitor_slug is missing or empty".to_owned(),
        ));
    }
    let slug = super::monitor_slug::sentry_slug(sent);
    if slug.is_empty() {
        let shown: String = sent.chars().take(40).collect();
        return Err(Refused {
            reason: "invalid_monitor",
            detail: format!(
                "check_in: monitor_slug {shown:?} has no letter, digit, `_` or `-` a slug \
                 can keep (Sentry files check-ins under slugify(monitor_slug))"
            ),
        });
    }
    Ok(slug)
}

/// `environment`: at most [`MAX_ENVIRONMENT_CHARS`].
fn environment(map: &Map<String, Value>) -> Result<Option<String>, Refused> {
    let environment = string(map, "environment")?;
    if environment.is_some_and(|e| e.chars().count() > MAX_ENVIRONMENT_CHARS) {
        return Err(Refused::check_in(format!(
            "check_in: environment is longer than {MAX_ENVIRONMENT_CHARS} characters"
        )));
    }
    // Sentry files a check-in with an empty environment under its default,
    // as one without: so does the receiver.
    Ok(environment.filter(|e| !e.is_empty()).map(str::to_owned))
}

/// `duration` in seconds: a number from 0 to [`MAX_DURATION_SECS`].
fn duration(map: &Map<String, Value>) -> Result<Option<f64>, Refused> {
    let seconds = match map.get("duration") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(other) => {
            return Err(Refused::json(format!(
                "check_in: duration must be a number, got {}",
                kind(other)
            )))
        }
    };
    match seconds {
        Some(s) if (0.0..=MAX_DURATION_SECS).contains(&s) => Ok(Some(s)),
        _ => Err(Refused::check_in(format!(
            "check_in: duration must be from 0 to {MAX_DURATION_SECS} seconds, got {}",
            map.get("duration")
                .map_or_else(String::new, Value::to_string)
        ))),
    }
}

/// `check_in_id`: a UUID in any of its forms; `None` when absent.
fn check_in_id(map: &Map<String, Value>) -> Result<Option<Uuid>, Refused> {
    let Some(text) = string(map, "check_in_id")? else {
        return Ok(None);
    };
    Uuid::parse_str(text).map(Some).map_err(|_| {
        let shown: String = text.chars().take(40).collect();
        Refused::json(format!("check_in: check_in_id is no UUID: {shown:?}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refusal(payload: Value) -> Option<(&'static str, String)> {
        read(payload.to_string().as_bytes(), 1)
            .err()
            .map(|r| (r.reason, r.detail))
    }

    #[test]
    fn only_the_statuses_sentry_takes_are_stored() {
        for status in STATUSES {
            let c = read(
                json!({"monitor_slug": "m", "status": status})
                    .to_string()
                    .as_bytes(),
                1,
            )
            .expect("taken");
            assert_eq!(c.status, status);
        }
        for status in ["missed", "timeout", "unknown", "OK", "failed", ""] {
            let (reason, detail) =
                refusal(json!({"monitor_slug": "m", "status": status})).expect("refused");
            assert_eq!(reason, "invalid_check_in", "{status:?}");
            assert!(detail.contains("status"), "{detail}");
        }
        for status in [json!(1), json!(null), json!(["ok"]), json!(true)] {
            let refused = refusal(json!({"monitor_slug": "m", "status": status}));
            assert_eq!(refused.map(|r| r.0), Some("invalid_json"), "{status}");
        }
        let missing = refusal(json!({"monitor_slug": "m"}));
        assert_eq!(missing.map(|r| r.0), Some("invalid_json"));
    }

    #[test]
    fn fields_of_the_wrong_type_or_out_of_bounds_refuse_the_check_in() {
        let ok = |extra: Value| {
            let mut payload = json!({"monitor_slug": "m", "status": "ok"});
            if let (Some(p), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
                p.extend(e.clone());
            }
            refusal(payload).map(|r| r.0)
        };
        assert_eq!(ok(json!({"duration": "3"})), Some("invalid_json"));
        assert_eq!(ok(json!({"duration": -1})), Some("invalid_check_in"));
        assert_eq!(ok(json!({"duration": 2_147_484})), Some("invalid_check_in"));
        assert_eq!(ok(json!({"duration": 2_147_483})), None);
        assert_eq!(ok(json!({"environment": 5})), Some("invalid_json"));
        assert_eq!(
            ok(json!({"environment": "e".repeat(65)})),
            Some("invalid_check_in")
        );
        assert_eq!(ok(json!({"environment": "e".repeat(64)})), None);
        let record = super::read(
            &serde_json::to_vec(&json!({"check_in_id": "0".repeat(32),
                "monitor_slug": "m", "status": "ok", "environment": ""}))
            .unwrap_or_default(),
            1,
        );
        assert_eq!(
            record.ok().and_then(|r| r.environment),
            None,
            "empty is none"
        );
        assert_eq!(ok(json!({"monitor_slug": ""})), Some("invalid_check_in"));
        assert_eq!(ok(json!({"monitor_slug": "!!!"})), Some("invalid_monitor"));
        assert_eq!(ok(json!({"monitor_slug": "Nightly Job"})), None);
        assert_eq!(ok(json!({"monitor_slug": 7})), Some("invalid_json"));
        assert_eq!(
            ok(json!({"check_in_id": "not-a-uuid"})),
            Some("invalid_json")
        );
        assert_eq!(ok(json!({"check_in_id": null})), None);
        assert_eq!(
            refusal(json!(["ok"])).map(|r| r.0),
            Some("invalid_json"),
            "no object"
        );
    }

    #[test]
    fn a_long_slug_is_cut_and_a_missing_id_updates_the_latest_run() {
        let slug = "é".repeat(60);
        let c = read(
            json!({"monitor_slug": slug, "status": "ok"})
                .to_string()
                .as_bytes(),
            1,
        )
        .expect("taken");
        assert_eq!(c.monitor_slug, "e".repeat(50), "cut and made a slug");
        assert!(c.update_latest, "as the nil id Relay gives it");
        assert_eq!(c.check_in_id.len(), 32);
        let named = read(
            json!({"monitor_slug": "m", "status": "ok",
                   "check_in_id": "83a7c03e-d0a0-4e1b-97e2-e3b18d38f244"})
            .to_string()
            .as_bytes(),
            1,
        )
        .expect("taken");
        assert!(!named.update_latest);
        assert_eq!(named.check_in_id, "83a7c03ed0a04e1b97e2e3b18d38f244");
    }
}
