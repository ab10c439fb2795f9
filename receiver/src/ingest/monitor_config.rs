//! A check-in's `monitor_config` (PROTOCOL.md A.1), read as leniently as
//! Sentry's `ConfigValidator` and a little more, and never at the cost of
//! the check-in:
//!
//! * The schedule is required: `{"type": "crontab", "value": "0 * * * *"}`,
//!   `{"type": "interval", "value": 2, "unit": "hour"}`, or Sentry's older
//!   forms, a crontab string or a `[count, unit]` list (with or without a
//!   `schedule_type`). A crontab has five fields (whitespace normalised;
//!   `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`/`@annually`
//!   become theirs); an interval counts 1 or more `year`, `month`, `week`,
//!   `day`, `hour` or `minute` (any case, plural allowed). Without a
//!   readable schedule the whole config is refused: the monitor keeps the
//!   one it had.
//! * `checkin_margin` (0 becomes 1, as in Sentry) and `max_runtime` are
//!   whole minutes up to 40 320 (28 days); `failure_issue_threshold` and
//!   `recovery_threshold` 1 to 720. A number may come as an integral float
//!   or in a string; `null` and `""` mean "not set". `timezone` is a name
//!   of the tz database (`chrono-tz`'s copy; Sentry takes the names of
//!   Python's `zoneinfo`);
//!   `owner` a string. Other keys are ignored.
//! * A field that is wrong is left out and named in the problems (Sentry
//!   refuses the whole config then; here the schedule and the fields that
//!   are right still show).

use std::str::FromStr;

use serde_json::Value;

use crate::store::records::{MonitorConfig, MonitorConfigUpdate, Schedule, MAX_RUNTIME_MINUTES};

/// The largest `checkin_margin` and `max_runtime`, in minutes.
const MAX_MINUTES: i64 = MAX_RUNTIME_MINUTES;
/// The largest failure and recovery threshold (Sentry's `MAX_THRESHOLD`).
const MAX_THRESHOLD: i64 = 720;
/// The units an interval schedule may count.
const INTERVAL_UNITS: [&str; 6] = ["year", "month", "week", "day", "hour", "minute"];
/// Crontab nicknames and what they stand for (`@reboot` is no schedule).
const NICKNAMES: [(&str, &str); 6] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];
/// The longest timezone name taken.
const MAX_TIMEZONE_LEN: usize = 64;

/// Reads a `monitor_config` value: the config to store, if its schedule
/// is readable, and what was wrong with it.
pub fn read(value: &Value) -> MonitorConfigUpdate {
    let Some(map) = value.as_object() else {
        return MonitorConfigUpdate {
            config: None,
            problems: vec![format!(
                "monitor_config: must be an object, got {}",
                shown(value)
            )],
        };
    };
    let mut problems = Vec::new();
    let schedule = match schedule(map.get("schedule"), map.get("schedule_type")) {
        Ok(s) => Some(s),
        Err(reason) => {
            problems.push(format!("schedule: {reason}; the config is not taken"));
            None
        }
    };
    let mut field = |key: &str, min: i64, max: i64| match minutes_or_count(map.get(key), min, max) {
        Ok(n) => n,
        Err(reason) => {
            problems.push(format!("{key}: {reason}; left out"));
            None
        }
    };
    // Sentry still takes a margin of 0 (its old minimum) as 1.
    let checkin_margin = field("checkin_margin", 0, MAX_MINUTES).map(|n| n.max(1));
    let max_runtime = field("max_runtime", 1, MAX_MINUTES);
    let failure_issue_threshold = field("failure_issue_threshold", 1, MAX_THRESHOLD);
    let recovery_threshold = field("recovery_threshold", 1, MAX_THRESHOLD);
    let timezone = text(map.get("timezone"), "timezone", &mut problems)
        .filter(|tz| check_timezone(tz, &mut problems));
    let owner = text(map.get("owner"), "owner", &mut problems);
    MonitorConfigUpdate {
        config: schedule.map(|schedule| MonitorConfig {
            schedule,
            checkin_margin,
            max_runtime,
            timezone,
            failure_issue_threshold,
            recovery_threshold,
            owner,
        }),
        problems,
    }
}

/// A value as a problem quotes it (cut to 60 characters).
fn shown(value: &Value) -> String {
    let s = value.to_string();
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// The schedule in any of the forms Sentry takes.
fn schedule(schedule: Option<&Value>, schedule_type: Option<&Value>) -> Result<Schedule, String> {
    let declared = match schedule_type {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(other) => {
            return Err(format!(
                "schedule_type must be a string, got {}",
                shown(other)
            ))
        }
    };
    let (kind, value, unit) = match schedule {
        None | Some(Value::Null) => return Err("missing".to_owned()),
        Some(Value::Object(o)) => (
            o.get("type").and_then(Value::as_str).or(declared),
            o.get("value"),
            o.get("unit"),
        ),
        Some(s @ Value::String(_)) => (declared.or(Some("crontab")), Some(s), None),
        Some(Value::Array(a)) => (declared.or(Some("interval")), a.first(), a.get(1)),
        Some(other) => return Err(format!("cannot be read from {}", shown(other))),
    };
    match kind {
        Some("crontab") => match value {
            Some(Value::String(s)) => crontab(s).map(Schedule::Crontab),
            other => Err(format!(
                "a crontab is a string, got {}",
                other.map_or_else(|| "nothing".to_owned(), shown)
            )),
        },
        Some("interval") => interval(value, unit),
        Some(other) => Err(format!("unknown type {other:?} (crontab or interval)")),
        None => Err("no type (crontab or interval)".to_owned()),
    }
}

/// An interval schedule: a count of 1 or more and a unit.
fn interval(value: Option<&Value>, unit: Option<&Value>) -> Result<Schedule, String> {
    let count = match minutes_or_count(value, 1, i64::from(u32::MAX)) {
        Ok(Some(n)) => n,
        Ok(None) => return Err("an interval needs a count".to_owned()),
        Err(reason) => return Err(format!("an interval's count: {reason}")),
    };
    let name = unit
        .and_then(Value::as_str)
        .map(|u| u.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let singular = name.strip_suffix('s').unwrap_or(&name);
    match INTERVAL_UNITS.iter().find(|u| **u == singular) {
        Some(unit) => Ok(Schedule::Interval {
            value: count,
            unit: (*unit).to_owned(),
        }),
        None => Err(format!(
            "an interval's unit is one of {}, got {}",
            INTERVAL_UNITS.join(", "),
            unit.map_or_else(|| "nothing".to_owned(), shown)
        )),
    }
}

/// A whole number within `min..=max`: an integer, an integral float or
/// either in a string; `None` for absent, `null` and `""`.
fn minutes_or_count(value: Option<&Value>, min: i64, max: i64) -> Result<Option<i64>, String> {
    let n = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(Value::Number(n)) => n.as_f64(),
        Some(_) => None,
    };
    let whole = n.filter(|n| n.fract() == 0.0 && (min as f64..=max as f64).contains(n));
    match (whole, value) {
        // In range, so the conversion is exact.
        (Some(n), _) => Ok(Some(n as i64)),
        (None, Some(v)) => Err(format!(
            "must be a whole number from {min} to {max}, got {}",
            shown(v)
        )),
        (None, None) => Ok(None),
    }
}

/// A string field: `None` when absent, `null` or blank; a problem when it
/// is no string.
fn text(value: Option<&Value>, key: &str, problems: &mut Vec<String>) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Some(other) => {
            problems.push(format!(
                "{key}: must be a string, got {}; left out",
                shown(other)
            ));
            None
        }
    }
}

/// Whether `tz` names a zone of the tz database (`UTC`,
/// `America/Argentina/Buenos_Aires`, `Etc/GMT+5`); notes a problem if not.
fn check_timezone(tz: &str, problems: &mut Vec<String>) -> bool {
    let known = tz.len() <= MAX_TIMEZONE_LEN && chrono_tz::Tz::from_str(tz).is_ok();
    if !known {
        problems.push(format!(
            "timezone: not a tz database name, got {}; left out",
            shown(&Value::from(tz))
        ));
    }
    known
}

/// A crontab of five fields, whitespace normalised and nicknames replaced.
fn crontab(s: &str) -> Result<String, String> {
    let normalised = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let expression = if normalised.starts_with('@') {
        match NICKNAMES
            .iter()
            .find(|(n, _)| normalised.eq_ignore_ascii_case(n))
        {
            Some((_, e)) => (*e).to_owned(),
            None => return Err(format!("unknown crontab nickname {normalised:?}")),
        }
    } else {
        normalised
    };
    let fields: Vec<&str> = expression.split(' ').collect();
    if fields.len() != 5 {
        return Err(format!(
            "a crontab has 5 fields (minute hour day month weekday), {s:?} has {}",
            fields.len()
        ));
    }
    for (field, spec) in fields.iter().zip(CRON_FIELDS) {
        if !cron_field(field, &spec) {
            return Err(format!("{s:?}: invalid {} field {field:?}", spec.name));
        }
    }
    // Sentry's validator steps through the schedule and refuses one its
    // crontab library cannot step through; a crontab whose fields are all
    // right may still name no time that comes (the 30th of February).
    // Only days of the month can do that, so they are checked against the
    // months' lengths: asking croner instead searched years ahead before
    // giving up (0.6 s for `0 0 31 4,6,9,11 *`, for any client to ask).
    if !names_a_day(fields[2], fields[3], fields[4]) {
        return Err(format!("{s:?} names no time that ever comes"));
    }
    Ok(expression)
}

/// Whether a valid crontab's day-of-month, month and weekday fields name
/// a day that comes: a weekday or a special form (`L`, `W`, `?`, `*`)
/// always does (a restricted weekday is an alternative to the day of the
/// month, as in Vixie cron); plain days do when one of them is in the
/// length of one of the months.
fn names_a_day(days: &str, months: &str, weekdays: &str) -> bool {
    const LENGTHS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if weekdays != "*" && weekdays != "?" {
        return true;
    }
    let (Some(days), Some(months)) = (
        plain_values(days, 1, 31, &[]),
        plain_values(months, 1, 12, &MONTHS),
    ) else {
        return true;
    };
    let first_day = days.iter().min().copied().unwrap_or(1);
    months.iter().any(|m| {
        LENGTHS
            .get(*m as usize - 1)
            .is_some_and(|len| first_day <= *len)
    })
}

/// The values of a crontab field of numbers (or `names`, the first for
/// `min`), ranges, steps and lists within `min..=max`; `None` for any
/// other form (`L`, `W`, `#`, `?`), which the caller takes as naming some.
fn plain_values(field: &str, min: u32, max: u32, names: &[&str]) -> Option<Vec<u32>> {
    let number = |s: &str| -> Option<u32> {
        s.parse::<u32>().ok().or_else(|| {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(s))
                .map(|i| min + i as u32)
        })
    };
    let mut out = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (item, 1),
        };
        let (from, to) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None if item.contains('/') => (number(r)?, max),
                None => (number(r)?, number(r)?),
            },
        };
        out.extend((from..=to.min(max)).step_by(step as usize));
    }
    Some(out)
}

/// What one crontab field may hold.
struct CronField {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for its values (months, weekdays), the first for `min`.
    names: &'static [&'static str],
    /// The special forms it takes besides numbers and ranges.
    special: fn(&str) -> bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// The five fields in order, with the forms `cronsim` (Sentry's crontab
/// library) takes: `L` for a month's last day, `5L` and `5#2` for its last
/// and second Friday.
const CRON_FIELDS: [CronField; 5] = [
    CronField {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        special: |_| false,
    },
    CronField {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        special: |_| false,
    },
    CronField {
        name: "day",
        min: 1,
        max: 31,
        names: &[],
        special: |s| s.eq_ignore_ascii_case("l"),
    },
    CronField {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
        special: |_| false,
    },
    CronField {
        name: "weekday",
        min: 0,
        max: 7,
        names: &WEEKDAYS,
        special: weekday_special,
    },
];

/// `5L` (the last Friday) and `5#2` (the second) in the weekday field.
fn weekday_special(s: &str) -> bool {
    let day = |d: &str| d.parse::<u32>().is_ok_and(|d| d <= 7);
    if let Some(d) = s.strip_suffix(['L', 'l']) {
        return day(d);
    }
    match s.split_once('#') {
        Some((d, n)) => day(d) && n.parse::<u32>().is_ok_and(|n| (1..=5).contains(&n)),
        None => false,
    }
}

/// Whether `field` is a valid list of `*`, values and ranges, each with an
/// optional `/step`, or a special form of `spec`.
fn cron_field(field: &str, spec: &CronField) -> bool {
    field.split(',').all(|item| {
        if (spec.special)(item) {
            return true;
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let step_ok = match step {
            Some(s) => s.parse::<u32>().is_ok_and(|s| s >= 1),
            None => true,
        };
        let range_ok = match range.split_once('-') {
            _ if range == "*" => true,
            Some((a, b)) => matches!(
                (cron_value(a, spec), cron_value(b, spec)),
                (Some(a), Some(b)) if a <= b
            ),
            None => cron_value(range, spec).is_some(),
        };
        step_ok && range_ok
    })
}

/// A number or name within `spec`'s range.
fn cron_value(s: &str, spec: &CronField) -> Option<u32> {
    let n = match s.parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            let i = spec.names.iter().position(|n| s.eq_ignore_ascii_case(n))?;
            spec.min + u32::try_from(i).ok()?
        }
    };
    (spec.min..=spec.max).contains(&n).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schedule_of(config: Value) -> Result<Schedule, Vec<String>> {
        let update = read(&config);
        update.config.map(|c| c.schedule).ok_or(update.problems)
    }

    fn crontab_of(s: &str) -> Option<String> {
        match schedule_of(json!({"schedule": {"type": "crontab", "value": s}})) {
            Ok(Schedule::Crontab(c)) => Some(c),
            _ => None,
        }
    }

    #[test]
    fn crontabs_are_checked_field_by_field() {
        for (sent, stored) in [
            ("0 * * * *", "0 * * * *"),
            ("  */15\t9-17 * * mon-FRI ", "*/15 9-17 * * mon-FRI"),
            ("0 0 L * 5L", "0 0 L * 5L"),
            ("0 0 * jan,jul 1#2", "0 0 * jan,jul 1#2"),
            ("0,30 0-23/2 1-31 1-12 0-7", "0,30 0-23/2 1-31 1-12 0-7"),
            ("@daily", "0 0 * * *"),
            ("@Weekly", "0 0 * * 0"),
        ] {
            assert_eq!(crontab_of(sent).as_deref(), Some(stored), "{sent:?}");
        }
        for bad in [
            "61 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "* * * *",
            "0 0 * * * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "@reboot",
            "every day",
            "",
            "0 0 * * 9#1",
            "L * * * *",
            "0 0 30 2 *",
            "0 0 31 4,6,9,11 *",
            "0 0 30,31 feb *",
            "0 0 31 apr-jun/2 *",
        ] {
            assert_eq!(crontab_of(bad), None, "{bad:?}");
        }
        // Rare days that come, and days a weekday makes an alternative to.
        for rare in [
            "0 0 29 2 *",
            "0 0 31 1-12/2 *",
            "0 0 31 4,5 *",
            "0 0 30 2 1",
            "0 0 L 2 *",
            "0 0 30-31/1 feb,mar *",
        ] {
            assert!(crontab_of(rare).is_some(), "{rare:?}");
        }
    }

    #[test]
    fn schedules_come_in_sentrys_forms() {
        let interval = |value: i64, unit: &str| {
            Ok(Schedule::Interval {
                value,
                unit: unit.to_owned(),
            })
        };
        assert_eq!(
            schedule_of(json!({"schedule": {"type": "interval", "value": 2, "unit": "hour"}})),
            interval(2, "hour")
        );
        assert_eq!(
            schedule_of(json!({"schedule": [3, "Days"], "schedule_type": "interval"})),
            interval(3, "day")
        );
        assert_eq!(
            schedule_of(json!({"schedule": {"value": "10", "unit": "minute"},
                               "schedule_type": "interval"})),
            interval(10, "minute")
        );
        assert_eq!(
            schedule_of(json!({"schedule": "0 5 * * *"})),
            Ok(Schedule::Crontab("0 5 * * *".to_owned()))
        );
        for bad in [
            json!({}),
            json!({"schedule": null}),
            json!({"schedule": 5}),
            json!({"schedule": {"type": "weekly", "value": 1}}),
            json!({"schedule": {"type": "interval", "value": 0, "unit": "day"}}),
            json!({"schedule": {"type": "interval", "value": 1.5, "unit": "day"}}),
            json!({"schedule": {"type": "interval", "value": 1, "unit": "fortnight"}}),
            json!({"schedule": {"type": "interval", "value": 1}}),
            json!({"schedule": {"type": "crontab", "value": 5}}),
            json!({"schedule": "0 * * * *", "schedule_type": "interval"}),
            json!({"schedule": "0 * * * *", "schedule_type": 1}),
        ] {
            let problems = schedule_of(bad.clone()).err().unwrap_or_default();
            assert!(
                problems.len() == 1 && problems[0].starts_with("schedule: "),
                "{bad}: {problems:?}"
            );
        }
    }

    #[test]
    fn other_fields_are_taken_when_right_and_named_when_not() {
        let update = read(&json!({
            "schedule": "@hourly", "checkin_margin": 0, "max_runtime": "45",
            "failure_issue_threshold": 2.0, "recovery_threshold": "", "timezone": "Etc/GMT+5",
            "owner": "user:1", "unknown": true
        }));
        assert_eq!(update.problems, Vec::<String>::new());
        assert_eq!(
            update.config,
            Some(MonitorConfig {
                schedule: Schedule::Crontab("0 * * * *".to_owned()),
                checkin_margin: Some(1),
                max_runtime: Some(45),
                timezone: Some("Etc/GMT+5".to_owned()),
                failure_issue_threshold: Some(2),
                recovery_threshold: None,
                owner: Some("user:1".to_owned()),
            })
        );
        let update = read(&json!({
            "schedule": "@hourly", "checkin_margin": 40_321, "max_runtime": 0,
            "failure_issue_threshold": 721, "recovery_threshold": [1], "timezone": "../etc",
            "owner": 5
        }));
        let named: Vec<&str> = update
            .problems
            .iter()
            .filter_map(|p| p.split(':').next())
            .collect();
        assert_eq!(
            named,
            [
                "checkin_margin",
                "max_runtime",
                "failure_issue_threshold",
                "recovery_threshold",
                "timezone",
                "owner"
            ]
        );
        assert_eq!(
            update.config,
            Some(MonitorConfig {
                schedule: Schedule::Crontab("0 * * * *".to_owned()),
                checkin_margin: None,
                max_runtime: None,
                timezone: None,
                failure_issue_threshold: None,
                recovery_threshold: None,
                owner: None,
            })
        );
    }

    #[test]
    fn a_timezone_must_be_a_zone_of_the_tz_database() {
        let tz_of = |tz: &str| {
            let update = read(&json!({"schedule": "@daily", "timezone": tz}));
            (
                update.config.and_then(|c| c.timezone),
                update.problems.len(),
            )
        };
        for known in [
            "UTC",
            "Europe/Vienna",
            "America/Argentina/Buenos_Aires",
            "US/Eastern",
        ] {
            assert_eq!(tz_of(known), (Some(known.to_owned()), 0), "{known}");
        }
        for unknown in ["Mars/Olympus", "Europe/Atlantis", "utc+2", "europe/vienna"] {
            assert_eq!(tz_of(unknown), (None, 1), "{unknown}");
        }
    }

    #[test]
    fn what_is_no_object_is_no_config() {
        for bad in [json!("0 * * * *"), json!([1, "day"]), json!(3)] {
            let update = read(&bad);
            assert_eq!(update.config, None);
            assert_eq!(update.problems.len(), 1, "{bad}");
        }
        let long = read(&json!("x".repeat(1000)));
        assert!(
            long.problems[0].chars().count() < 120,
            "{:?}",
            long.problems
        );
    }
}
