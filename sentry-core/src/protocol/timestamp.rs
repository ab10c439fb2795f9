//! Points in time as the protocol carries them.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A UTC point in time with microsecond-or-better precision.
///
/// Accepts both wire forms SDKs use: seconds since the epoch as a number
/// (Rust and JavaScript SDKs) and RFC 3339 strings (Python SDK), with the time
/// zone optional (UTC assumed). It is written as float seconds, which every
/// receiver accepts and which is cheapest to produce.
///
/// ```
/// use sentry_core::protocol::Timestamp;
/// let a: Timestamp = serde_json::from_str("1700000000.5").unwrap();
/// let b: Timestamp = serde_json::from_str(r#""2023-11-14T22:13:20.500Z""#).unwrap();
/// assert_eq!(a, b);
/// assert_eq!(a.to_rfc3339(), "2023-11-14T22:13:20.500000Z");
/// ```
#[derive(Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Timestamp(f64);

impl Timestamp {
    /// The current time: the system wall clock, extrapolated for up to a
    /// second with the CPU's time-stamp counter, which costs half as much
    /// to read.
    #[inline]
    pub fn now() -> Self {
        Timestamp(crate::clock::now_secs())
    }

    /// From seconds since the Unix epoch.
    pub fn from_secs_f64(secs: f64) -> Self {
        Timestamp(secs)
    }

    /// Seconds since the Unix epoch.
    pub fn as_secs_f64(self) -> f64 {
        self.0
    }

    /// Moves the timestamp by `secs` seconds (negative moves it back).
    pub fn shifted(self, secs: f64) -> Self {
        Timestamp(self.0 + secs)
    }

    /// Parses an RFC 3339 string; a missing offset means UTC, and offsets
    /// without a colon (`+0100`) are accepted as Relay does.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(dt) = OffsetDateTime::parse(s, &Rfc3339) {
            return Some(Self::from_offset(dt));
        }
        let s = s.replacen(' ', "T", 1);
        let time_part = s.get(10..).unwrap_or("");
        let has_zone =
            time_part.ends_with(['Z', 'z']) || time_part.rfind(['+', '-']).is_some_and(|i| i > 1);
        let candidate = if has_zone {
            // `+0100` -> `+01:00`
            let i = time_part.rfind(['+', '-']).unwrap_or(0) + 10;
            let (head, zone) = s.split_at(i);
            // ASCII only: the slices below are byte offsets (a zone such as
            // `+1é2` is five bytes too, and would be cut inside the `é`).
            if zone.len() == 5 && zone.is_ascii() && !zone.contains(':') {
                format!("{head}{}:{}", &zone[..3], &zone[3..])
            } else {
                s.clone()
            }
        } else {
            format!("{s}Z")
        };
        OffsetDateTime::parse(&candidate, &Rfc3339)
            .ok()
            .map(Self::from_offset)
    }

    fn from_offset(dt: OffsetDateTime) -> Self {
        Timestamp(dt.unix_timestamp() as f64 + f64::from(dt.nanosecond()) / 1e9)
    }

    /// RFC 3339 in UTC with microseconds, the form `sent_at` uses.
    /// Values outside the years 1..=9999 (or not finite) print as the
    /// nearest bound instead of overflowing.
    pub fn to_rfc3339(self) -> String {
        // 9999-12-31T23:59:59Z and 0001-01-01T00:00:00Z.
        const MAX: f64 = 253_402_300_799.0;
        const MIN: f64 = -62_135_596_800.0;
        let secs = if self.0.is_nan() {
            0.0
        } else {
            self.0.clamp(MIN, MAX)
        };
        let nanos = (secs * 1e6).round() as i128 * 1000;
        match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(dt) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                dt.year(),
                dt.month() as u8,
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second(),
                dt.microsecond()
            ),
            Err(_) => "1970-01-01T00:00:00.000000Z".to_owned(),
        }
    }

    /// As a [`SystemTime`]; times before the epoch clamp to the epoch, and
    /// times past what `SystemTime` holds to the epoch too (a parsed
    /// timestamp can be any number).
    ///
    /// ```
    /// use sentry_core::protocol::Timestamp;
    /// use std::time::{Duration, UNIX_EPOCH};
    /// assert_eq!(Timestamp::from_secs_f64(1.5).to_system_time(), UNIX_EPOCH + Duration::from_millis(1500));
    /// assert_eq!(Timestamp::from_secs_f64(1e300).to_system_time(), UNIX_EPOCH);
    /// ```
    pub fn to_system_time(self) -> SystemTime {
        if self.0 <= 0.0 {
            return UNIX_EPOCH;
        }
        Duration::try_from_secs_f64(self.0)
            .ok()
            .and_then(|d| UNIX_EPOCH.checked_add(d))
            .unwrap_or(UNIX_EPOCH)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(d.as_secs_f64()),
            Err(e) => Timestamp(-e.duration().as_secs_f64()),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Written exactly, so a decode/encode round trip is lossless.
        s.serialize_f64(self.0)
    }
}

/// Writes a timestamp as an RFC 3339 string, for the fields Relay reads only
/// in that form (a session's `started` and `timestamp`); reading them
/// accepts both forms, as for every timestamp.
pub(crate) fn serialize_rfc3339<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

/// [`serialize_rfc3339`] for an optional field (skipped when `None`).
pub(crate) fn serialize_opt_rfc3339<S: Serializer>(
    t: &Option<Timestamp>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize_rfc3339(t, s),
        None => s.serialize_none(),
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("seconds since the epoch or an RFC 3339 string")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                if v.is_finite() {
                    Ok(Timestamp(v))
                } else {
                    Err(E::custom("timestamp is not a finite number"))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                Ok(Timestamp(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                if let Ok(secs) = v.trim().parse::<f64>() {
                    return self.visit_f64(secs);
                }
                Timestamp::parse_rfc3339(v)
                    .ok_or_else(|| E::custom(format_args!("invalid timestamp {v:?}")))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Option<f64> {
        Timestamp::parse_rfc3339(s).map(Timestamp::as_secs_f64)
    }

    #[test]
    fn rfc3339_forms() {
        assert_eq!(parse("2020-02-07T14:16:00Z"), Some(1581084960.0));
        assert_eq!(parse("2020-02-07T14:16:00"), Some(1581084960.0));
        assert_eq!(parse("2020-02-07T15:16:00+0100"), Some(1581084960.0));
        assert_eq!(parse("2020-02-07T15:16:00+01:00"), Some(1581084960.0));
        assert_eq!(parse("2020-02-07 14:16:00.250Z"), Some(1581084960.25));
        assert_eq!(parse("yesterday"), None);
    }

    #[test]
    fn non_ascii_zones_are_refused_not_sliced() {
        // Five bytes like `+0100`, but `é` spans bytes 2 and 3.
        assert_eq!(parse("2020-02-07T15:16:00+1\u{e9}2"), None);
        assert_eq!(parse("2020-02-07T15:16:00+\u{e9}12"), None);
        assert_eq!(parse("2020-02-07 15:16:00\u{1F600}"), None);
        assert_eq!(parse("2020-02-07T15:16:00+0100"), Some(1581084960.0));
    }

    #[test]
    fn numbers_and_strings() {
        let t: Timestamp = serde_json::from_str("1581084960").expect("int");
        assert_eq!(t.as_secs_f64(), 1581084960.0);
        let t: Timestamp = serde_json::from_str("\"1581084960.5\"").expect("numeric str");
        assert_eq!(t.as_secs_f64(), 1581084960.5);
        assert!(serde_json::from_str::<Timestamp>("\"garbage\"").is_err());
        assert!(serde_json::from_str::<Timestamp>("{}").is_err());
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        assert_eq!(
            Timestamp::from_secs_f64(1e300).to_rfc3339(),
            "9999-12-31T23:59:59.000000Z"
        );
        assert_eq!(
            Timestamp::from_secs_f64(f64::NAN).to_rfc3339(),
            "1970-01-01T00:00:00.000000Z"
        );
        assert!(Timestamp::from_secs_f64(-1e300)
            .to_rfc3339()
            .starts_with("0001-"));
    }

    #[test]
    fn rfc3339_output_round_trips() {
        let t = Timestamp::from_secs_f64(1581084960.123456);
        assert_eq!(t.to_rfc3339(), "2020-02-07T14:16:00.123456Z");
        let back = Timestamp::parse_rfc3339(&t.to_rfc3339()).expect("parse");
        assert!((back.as_secs_f64() - t.as_secs_f64()).abs() < 1e-6);
    }
}
