//! `receiver health`: release health from the sessions SDKs sent (crash-free
//! sessions and users, session outcomes) per release and environment, from
//! a running receiver (`GET /api/0/local/health/`).

use clap::Args;

use super::client::Client;
use super::commands::{print_json, query_string};
use super::output::{emit, table, truncate};
use super::CliError;
use crate::api::types::{Health, HealthRow};

/// `receiver health`
#[derive(Debug, Clone, Args)]
pub struct HealthArgs {
    /// Project id or slug (default: every project).
    #[arg(long)]
    pub project: Option<String>,
    /// Only these releases; repeat the flag or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub release: Vec<String>,
    /// Only these environments; repeat the flag or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub environment: Vec<String>,
    /// Only sessions started this long ago until now (`30m`, `24h`, `14d`).
    #[arg(long)]
    pub since: Option<String>,
    /// One row per what: `release`, `environment`, `project`, or several
    /// separated with commas.
    #[arg(long, default_value = "release,environment")]
    pub group_by: String,
}

/// `receiver health`: a table (or `--json`) of release health, one row per
/// group and a total.
pub fn health(client: &Client, args: &HealthArgs, json_out: bool) -> Result<(), CliError> {
    let mut pairs: Vec<(&str, &str)> = vec![("groupBy", &args.group_by)];
    if let Some(p) = &args.project {
        pairs.push(("project", p));
    }
    if let Some(s) = &args.since {
        pairs.push(("statsPeriod", s));
    }
    for r in &args.release {
        pairs.push(("release", r));
    }
    for e in &args.environment {
        pairs.push(("environment", e));
    }
    let path = format!("/api/0/local/health/?{}", query_string(&pairs));
    let (health, _): (Health, _) = client.get(&path)?;
    if json_out {
        return print_json(&health);
    }
    if health.totals.sessions == 0 {
        eprintln!("no sessions");
        return Ok(());
    }
    // A column for each dimension grouped by, in the API's order.
    let grouped = |dim: &str| args.group_by.split(',').any(|g| g.trim() == dim);
    let dims: Vec<Dimension> = [
        Dimension::Project,
        Dimension::Release,
        Dimension::Environment,
    ]
    .into_iter()
    .filter(|d| grouped(d.name()))
    .collect();
    let mut rows: Vec<Vec<String>> = health.data.iter().map(|h| row(&dims, h)).collect();
    if health.data.len() > 1 {
        let mut total = row(&dims, &health.totals);
        if let Some(first) = total.first_mut().filter(|_| !dims.is_empty()) {
            *first = "(all)".to_owned();
        }
        rows.push(total);
    }
    let mut headers: Vec<&str> = dims.iter().map(|d| d.header()).collect();
    headers.extend([
        "SESSIONS",
        "CRASHED",
        "ABNORMAL",
        "ERRORED",
        "CRASH-FREE SESSIONS",
        "USERS",
        "CRASH-FREE USERS",
    ]);
    emit(&table(&headers, &rows));
    Ok(())
}

/// What rows can be grouped by.
#[derive(Debug, Clone, Copy)]
enum Dimension {
    Project,
    Release,
    Environment,
}

impl Dimension {
    /// Its name in `groupBy`.
    fn name(self) -> &'static str {
        match self {
            Dimension::Project => "project",
            Dimension::Release => "release",
            Dimension::Environment => "environment",
        }
    }

    fn header(self) -> &'static str {
        match self {
            Dimension::Project => "PROJECT",
            Dimension::Release => "RELEASE",
            Dimension::Environment => "ENVIRONMENT",
        }
    }

    fn value(self, h: &HealthRow) -> String {
        let value = match self {
            Dimension::Project => &h.project,
            Dimension::Release => &h.release,
            Dimension::Environment => &h.environment,
        };
        value
            .as_deref()
            .map(|v| truncate(v, 40))
            .unwrap_or_default()
    }
}

fn row(dims: &[Dimension], h: &HealthRow) -> Vec<String> {
    let mut cells: Vec<String> = dims.iter().map(|d| d.value(h)).collect();
    cells.extend([
        h.sessions.to_string(),
        h.sessions_crashed.to_string(),
        h.sessions_abnormal.to_string(),
        h.sessions_errored.to_string(),
        percent(h.crash_free_sessions),
        h.users.to_string(),
        percent(h.crash_free_users),
    ]);
    cells
}

/// `99.5 %`; `100 %` only when nothing crashed (a rate just under 1 is not
/// rounded up to it); `-` without sessions.
fn percent(rate: Option<f64>) -> String {
    match rate {
        None => "-".to_owned(),
        Some(r) if r >= 1.0 => "100 %".to_owned(),
        Some(r) => {
            let p = (r * 1000.0).floor() / 10.0;
            format!("{p:.1} %")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn rates_never_round_up_to_crash_free() {
        assert_eq!(percent(Some(1.0)), "100 %");
        assert_eq!(percent(Some(0.9999)), "99.9 %");
        assert_eq!(percent(Some(0.5)), "50.0 %");
        assert_eq!(percent(None), "-");
    }
}
