//! `receiver logs`: the structured log lines SDKs sent (`log` items), latest
//! received first, from a running receiver (`GET /api/0/local/logs/`).

use clap::Args;

use super::client::Client;
use super::filters::ListFilters;
use super::output::{emit, emit_json, short_id, short_time, table, truncate};
use super::CliError;
use crate::api::types::{LogEntry, LogsPage};

/// `receiver logs`
#[derive(Debug, Clone, Args)]
#[command(mut_arg("query", |a| a.help("Only lines whose body holds this, in any case")))]
pub struct LogsArgs {
    /// Which entries.
    #[command(flatten)]
    pub filters: ListFilters,
    /// Only these levels (`trace`, `debug`, `info`, `warn`, `error`,
    /// `fatal`); repeat the flag or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub level: Vec<String>,
    /// Most lines to show.
    #[arg(long, default_value_t = 50, value_parser = super::filters::parse_limit)]
    pub limit: usize,
}

/// The lines `args` asks for, following cursors until `limit` or the end.
fn fetch(client: &Client, args: &LogsArgs) -> Result<Vec<LogEntry>, CliError> {
    let mut base = args.filters.pairs();
    for level in &args.level {
        base.push(("level", level));
    }
    let base = super::commands::query_string(&base);
    client.follow_cursor(
        &format!("/api/0/local/logs/?{base}"),
        args.limit,
        |page: LogsPage| (page.logs, page.cursor),
    )
}

/// `receiver logs`: a table (or `--json`) of log lines, latest received first.
pub fn logs(client: &Client, args: &LogsArgs, json_out: bool) -> Result<(), CliError> {
    let lines = fetch(client, args)?;
    if json_out {
        let text = serde_json::to_string_pretty(&lines)
            .map_err(|e| CliError::Usage(format!("cannot encode JSON: {e}")))?;
        emit_json(&format!("{text}\n"));
        return Ok(());
    }
    if lines.is_empty() {
        eprintln!("no log lines");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            vec![
                l.timestamp.as_deref().map(short_time).unwrap_or_default(),
                l.level.clone().unwrap_or_default(),
                l.environment.clone().unwrap_or_default(),
                short_id(l.trace_id.as_deref()),
                truncate(l.body.as_deref().unwrap_or(""), 100),
            ]
        })
        .collect();
    emit(&table(
        &["TIME", "LEVEL", "ENVIRONMENT", "TRACE", "BODY"],
        &rows,
    ));
    Ok(())
}
