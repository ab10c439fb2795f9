//! `receiver monitors`: the cron monitors of a running receiver
//! (`GET /api/0/local/monitors/`), one monitor's runs with its slug
//! (`GET /api/0/local/check-ins/`, missed runs included), and deleting a
//! monitor with `--delete` (`DELETE /api/0/organizations/local/monitors/{slug}/`),
//! muting one with `--mute`/`--unmute` (`PUT` there with `isMuted`).

use clap::Args;

use super::client::Client;
use super::commands::{enc, print_json, print_list, query_string};
use super::output::{short_id, short_time, truncate};
use super::CliError;
use crate::api::types::{CheckIn, Monitor, MonitorSchedule};

/// `receiver monitors [SLUG]`
#[derive(Debug, Clone, Args)]
pub struct MonitorsArgs {
    /// A monitor's slug (or its name as the SDK sent it): list its runs,
    /// newest first, instead of the monitors.
    pub slug: Option<String>,
    /// Project id or slug (default: every project).
    #[arg(long)]
    pub project: Option<String>,
    /// Runs (and the monitors' counts) from this long ago until now
    /// (`30m`, `24h`, `14d`; default 24h for the monitors, every run for
    /// one monitor).
    #[arg(long)]
    pub since: Option<String>,
    /// With SLUG: only runs of these statuses (`ok`, `error`, `timeout`,
    /// `missed`, `in_progress`); repeat the flag or separate with commas.
    #[arg(long, value_delimiter = ',', requires = "slug")]
    pub status: Vec<String>,
    /// With SLUG: only these environments' runs; with `--delete`, delete
    /// only these environments' runs.
    #[arg(long, value_delimiter = ',', requires = "slug")]
    pub environment: Vec<String>,
    /// Delete the monitor SLUG: its runs and its config (or, with
    /// `--environment`, those environments' runs). A later check-in
    /// starts a new monitor.
    #[arg(long, requires = "slug", conflicts_with_all = ["status", "since"])]
    pub delete: bool,
    /// Mute the monitor SLUG: its runs are still recorded, but its failures
    /// open no issue.
    #[arg(long, requires = "slug", conflicts_with_all = ["delete", "unmute", "status", "since", "environment"])]
    pub mute: bool,
    /// Unmute the monitor SLUG: its next failure counts again.
    #[arg(long, requires = "slug", conflicts_with_all = ["delete", "status", "since", "environment"])]
    pub unmute: bool,
    /// With SLUG: most runs to show.
    #[arg(long, default_value_t = 50, value_parser = super::filters::parse_limit, requires = "slug", conflicts_with = "delete")]
    pub limit: usize,
}

/// `receiver monitors`: a table (or `--json`) of the monitors, of one
/// monitor's runs, or deletes one.
pub fn monitors(client: &Client, args: &MonitorsArgs, json_out: bool) -> Result<(), CliError> {
    match (&args.slug, args.delete) {
        (Some(slug), true) => delete(client, args, slug, json_out),
        (Some(slug), false) if args.mute || args.unmute => mute(client, args, slug, json_out),
        (Some(slug), false) => runs(client, args, slug, json_out),
        (None, _) => list(client, args, json_out),
    }
}

/// `--mute`/`--unmute`: prints the monitor's new state.
fn mute(client: &Client, args: &MonitorsArgs, slug: &str, json_out: bool) -> Result<(), CliError> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(p) = &args.project {
        pairs.push(("project", p));
    }
    let path = format!(
        "/api/0/organizations/local/monitors/{}/?{}",
        enc(slug),
        query_string(&pairs)
    );
    let body = serde_json::json!({ "isMuted": args.mute });
    let monitor: serde_json::Value = client.send("PUT", &path, &body)?;
    if json_out {
        return print_json(&monitor);
    }
    if args.mute {
        eprintln!("muted monitor {slug:?}: its failures open no issue");
    } else {
        eprintln!("unmuted monitor {slug:?}");
    }
    Ok(())
}

fn list(client: &Client, args: &MonitorsArgs, json_out: bool) -> Result<(), CliError> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(p) = &args.project {
        pairs.push(("project", p));
    }
    if let Some(s) = &args.since {
        pairs.push(("statsPeriod", s));
    }
    let path = format!("/api/0/local/monitors/?{}", query_string(&pairs));
    let (monitors, _): (Vec<Monitor>, _) = client.get(&path)?;
    print_list(
        &monitors,
        json_out,
        "no monitors",
        &[
            "MONITOR",
            "PROJECT",
            "LAST STATUS",
            "LAST RUN",
            "RUNS",
            "FAILED",
            "MISSING SINCE",
            "FAILING SINCE",
            "NEXT DUE",
            "SCHEDULE",
        ],
        monitor_row,
    )
}

fn monitor_row(m: &Monitor) -> Vec<String> {
    let slug = truncate(&m.monitor_slug, 40);
    vec![
        if m.is_muted {
            format!("{slug} (muted)")
        } else {
            slug
        },
        m.project_id.clone(),
        m.last_status.clone(),
        short_time(&m.last_check_in),
        m.check_ins.to_string(),
        m.failed.to_string(),
        m.missed_since
            .as_deref()
            .map(short_time)
            .unwrap_or_default(),
        // The earliest open incident's start (ISO 8601 sorts as time).
        m.incidents
            .iter()
            .map(|i| i.started.as_str())
            .min()
            .map(short_time)
            .unwrap_or_default(),
        m.next_check_in
            .as_deref()
            .map(short_time)
            .unwrap_or_default(),
        m.config
            .as_ref()
            .map(|c| schedule_text(&c.schedule, c.timezone.as_deref()))
            .unwrap_or_default(),
    ]
}

/// `0 * * * *`, or `every 2 hours`.
/// A crontab is read in the monitor's timezone (UTC when unset), so a
/// timezone other than UTC is shown beside it.
fn schedule_text(schedule: &MonitorSchedule, timezone: Option<&str>) -> String {
    match schedule {
        MonitorSchedule::Crontab { value } => match timezone.filter(|tz| *tz != "UTC") {
            Some(tz) => format!("{} ({})", truncate(value, 40), truncate(tz, 40)),
            None => truncate(value, 40),
        },
        MonitorSchedule::Interval { value: 1, unit } => format!("every {unit}"),
        MonitorSchedule::Interval { value, unit } => format!("every {value} {unit}s"),
    }
}

fn runs(client: &Client, args: &MonitorsArgs, slug: &str, json_out: bool) -> Result<(), CliError> {
    let mut pairs: Vec<(&str, &str)> = vec![("monitor", slug)];
    if let Some(p) = &args.project {
        pairs.push(("project", p));
    }
    if let Some(s) = &args.since {
        pairs.push(("statsPeriod", s));
    }
    for s in &args.status {
        pairs.push(("status", s));
    }
    for e in &args.environment {
        pairs.push(("environment", e));
    }
    let out: Vec<CheckIn> = client.follow_links(
        &format!("/api/0/local/check-ins/?{}", query_string(&pairs)),
        args.limit,
        100,
    )?;
    print_list(
        &out,
        json_out,
        &format!("no runs of monitor {slug:?}"),
        &[
            "STARTED",
            "STATUS",
            "DURATION",
            "ENVIRONMENT",
            "RELEASE",
            "CHECK-IN",
        ],
        |k| {
            vec![
                short_time(&k.received),
                k.status.clone(),
                k.duration.map(seconds).unwrap_or_default(),
                k.environment.clone().unwrap_or_default(),
                k.release
                    .clone()
                    .map(|r| truncate(&r, 30))
                    .unwrap_or_default(),
                k.check_in_id
                    .as_deref()
                    .map(|id| short_id(Some(id)))
                    .unwrap_or_else(|| "(no check-in came)".to_owned()),
            ]
        },
    )
}

/// `0.25s`, `12s`, `3m 20s`, `2h 5m`: chosen by the value as rounded, so
/// 59.999 seconds is `1m 0s`.
fn seconds(s: f64) -> String {
    // A value that rounds to zero has no sign.
    let sign = if s < 0.0 && s.abs() >= 0.005 { "-" } else { "" };
    let s = s.abs();
    if s < 59.995 {
        let text = format!("{s:.2}");
        format!(
            "{sign}{}s",
            text.trim_end_matches('0').trim_end_matches('.')
        )
    } else if s.round() < 3600.0 {
        let whole = s.round() as u64;
        format!("{sign}{}m {}s", whole / 60, whole % 60)
    } else {
        let minutes = (s / 60.0).round() as u64;
        format!("{sign}{}h {}m", minutes / 60, minutes % 60)
    }
}

fn delete(
    client: &Client,
    args: &MonitorsArgs,
    slug: &str,
    json_out: bool,
) -> Result<(), CliError> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(p) = &args.project {
        pairs.push(("project", p));
    }
    for e in &args.environment {
        pairs.push(("environment", e));
    }
    let path = format!(
        "/api/0/organizations/local/monitors/{}/?{}",
        enc(slug),
        query_string(&pairs)
    );
    client.delete(&path)?;
    if json_out {
        // Say what went, as `quotas remove --json` does: a script should
        // not have to read an empty output as success.
        let mut done = serde_json::json!({ "deleted": slug });
        if !args.environment.is_empty() {
            done["environments"] = args.environment.clone().into();
        }
        return print_json(&done);
    }
    if args.environment.is_empty() {
        eprintln!("deleted monitor {slug:?}");
    } else {
        eprintln!(
            "deleted the runs of monitor {slug:?} in {}",
            args.environment.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_and_durations_read_plainly() {
        let cron = MonitorSchedule::Crontab {
            value: "0 * * * *".into(),
        };
        assert_eq!(schedule_text(&cron, None), "0 * * * *");
        assert_eq!(schedule_text(&cron, Some("UTC")), "0 * * * *");
        assert_eq!(
            schedule_text(&cron, Some("Europe/Vienna")),
            "0 * * * * (Europe/Vienna)"
        );
        let hourly = MonitorSchedule::Interval {
            value: 1,
            unit: "hour".into(),
        };
        assert_eq!(schedule_text(&hourly, None), "every hour");
        let two_days = MonitorSchedule::Interval {
            value: 2,
            unit: "day".into(),
        };
        assert_eq!(schedule_text(&two_days, None), "every 2 days");
        assert_eq!(seconds(0.25), "0.25s");
        assert_eq!(seconds(12.0), "12s");
        assert_eq!(seconds(200.0), "3m 20s");
        assert_eq!(seconds(59.999), "1m 0s");
        assert_eq!(seconds(7500.0), "2h 5m");
        assert_eq!(seconds(-2.5), "-2.5s");
        assert_eq!(seconds(3629.6), "1h 0m");
        assert_eq!(seconds(3599.4), "59m 59s");
        assert_eq!(seconds(-0.001), "0s");
    }
}
