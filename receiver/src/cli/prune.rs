//! `receiver prune`: delete what was received before a time, now.

use std::time::Duration;

use clap::Args;
use sentry_core::protocol::Timestamp;

use super::{output, Cli, CliError};
use crate::store::retention::Pruned;
use crate::store::Store;

/// `receiver prune …`
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PruneArgs {
    /// Delete what was received longer ago than this (`30d`, `12h`, `2w`).
    #[arg(long, value_parser = super::commands::parse_duration)]
    pub older_than: Option<Duration>,
    /// Delete what was received before this time (RFC 3339, or Unix
    /// seconds).
    #[arg(long, value_parser = parse_time)]
    pub before: Option<f64>,
}

/// `--before`: an RFC 3339 time or Unix seconds.
///
/// ```
/// # use receiver::cli::prune::parse_time;
/// assert_eq!(parse_time("1700000000"), Ok(1_700_000_000.0));
/// assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000.0));
/// assert!(parse_time("yesterday").is_err());
/// assert!(parse_time("1e300").is_err());
/// ```
pub fn parse_time(s: &str) -> Result<f64, String> {
    /// 9999-12-31T23:59:59Z: the last time RFC 3339 can write.
    const LAST: f64 = 253_402_300_799.0;
    let s = s.trim();
    let secs = match s.parse::<f64>() {
        Ok(secs) => Some(secs),
        Err(_) => Timestamp::parse_rfc3339(s).map(Timestamp::as_secs_f64),
    };
    match secs {
        Some(secs) if secs.is_finite() && (0.0..=LAST).contains(&secs) => Ok(secs),
        _ => Err(format!(
            "invalid time {s:?}: use RFC 3339 (2026-01-31T12:00:00Z) or Unix seconds, \
             up to the year 9999"
        )),
    }
}

/// Runs `receiver prune` on the database file (beside a running receiver
/// too: its caches notice what another connection deleted).
pub(super) fn prune(cli: &Cli, args: &PruneArgs) -> Result<(), CliError> {
    let cutoff = match (args.older_than, args.before) {
        (Some(age), _) => Timestamp::now().as_secs_f64() - age.as_secs_f64(),
        (None, Some(before)) => before,
        (None, None) => return Err(CliError::Usage("give --older-than or --before".to_owned())),
    };
    if !cli.db.exists() {
        return Err(CliError::Usage(format!(
            "no database at {}: nothing to prune (a running receiver uses the file given by \
             its own --db or RECEIVER_DB)",
            cli.db.display()
        )));
    }
    let (store, _) = Store::open(&cli.db, &Default::default())?;
    let pruned = store.prune_blocking(cutoff)?;
    report(&pruned, cutoff, cli.client.json)
}

fn report(pruned: &Pruned, cutoff: f64, json: bool) -> Result<(), CliError> {
    let before = Timestamp::from_secs_f64(cutoff).to_rfc3339();
    if json {
        let mut value = serde_json::to_value(pruned)
            .map_err(|e| CliError::Usage(format!("cannot encode JSON: {e}")))?;
        value["before"] = serde_json::Value::String(before);
        return super::commands::print_json(&value);
    }
    output::emitln(&format!("deleted what was received before {before}:"));
    for (kind, n) in pruned.kinds() {
        if n > 0 {
            output::emitln(&format!("{n:>10}  {kind}"));
        }
    }
    if pruned.total() == 0 {
        output::emitln("      none");
    }
    Ok(())
}
