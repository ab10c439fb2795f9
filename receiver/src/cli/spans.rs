//! `receiver spans`: every stored span, whether it came in a transaction or
//! on its own (`GET /api/0/local/spans/`). An application whose SDK
//! streams its spans (`@sentry/node` 11 by default) sends no transactions:
//! `receiver spans --segments` lists what `receiver transactions` lists
//! for the others.

use clap::Args;

use super::client::Client;
use super::commands::{print_list, query_string};
use super::output::{short_id, short_time, truncate};
use super::traces::milliseconds;
use super::CliError;
use crate::api::types::SpanRow;

/// `receiver spans`
#[derive(Debug, Clone, Args)]
pub struct SpansArgs {
    /// Project id or slug (default: every project).
    #[arg(long)]
    pub project: Option<String>,
    /// Only spans whose description holds this (ASCII letters in any
    /// case).
    #[arg(long, short)]
    pub query: Option<String>,
    /// Only spans of this trace: 32 hex digits, or the first 8 or more.
    #[arg(long)]
    pub trace: Option<String>,
    /// Only spans of this transaction, or of this segment for spans an SDK
    /// streamed (exact name).
    #[arg(long)]
    pub transaction: Option<String>,
    /// Only this operation (`db.query`, `http.client`, …).
    #[arg(long)]
    pub op: Option<String>,
    /// Only this status (`ok`, `internal_error`, …).
    #[arg(long)]
    pub status: Option<String>,
    /// Only segments: transactions' root spans and the segments of SDKs
    /// that stream their spans.
    #[arg(long)]
    pub segments: bool,
    /// Only spans that took at least this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub min_duration: Option<f64>,
    /// Only spans started this long ago until now (`30m`, `24h`, `14d`).
    #[arg(long)]
    pub since: Option<String>,
    /// `-timestamp` (newest first, the default), `timestamp`, `-duration`
    /// (slowest first) or `duration`.
    #[arg(long, default_value = "-timestamp", allow_hyphen_values = true)]
    pub sort: String,
    /// Most spans to show.
    #[arg(long, default_value_t = 25, value_parser = super::filters::parse_limit)]
    pub limit: usize,
}

/// `receiver spans`: a table (or `--json`) of spans.
pub fn spans(client: &Client, args: &SpansArgs, json_out: bool) -> Result<(), CliError> {
    let min_duration = args.min_duration.map(|ms| ms.to_string());
    let segments = args.segments.then(|| "1".to_owned());
    let mut pairs: Vec<(&str, &str)> = vec![("sort", &args.sort)];
    for (key, value) in [
        ("project", &args.project),
        ("query", &args.query),
        ("trace", &args.trace),
        ("transaction", &args.transaction),
        ("op", &args.op),
        ("status", &args.status),
        ("segment", &segments),
        ("min_duration", &min_duration),
        ("statsPeriod", &args.since),
    ] {
        if let Some(v) = value {
            pairs.push((key, v));
        }
    }
    let out: Vec<SpanRow> = client.follow_links(
        &format!("/api/0/local/spans/?{}", query_string(&pairs)),
        args.limit,
        100,
    )?;
    print_list(
        &out,
        json_out,
        "no spans",
        &[
            "STARTED",
            "DURATION",
            "STATUS",
            "OP",
            "TRACE",
            "TRANSACTION",
            "DESCRIPTION",
        ],
        |s| {
            vec![
                short_time(&s.start_timestamp),
                s.duration.map(milliseconds).unwrap_or_default(),
                s.status.clone().unwrap_or_default(),
                s.op.clone().unwrap_or_default(),
                short_id(Some(&s.trace_id)),
                truncate(s.transaction.as_deref().unwrap_or(""), 40),
                truncate(s.description.as_deref().unwrap_or(""), 80),
            ]
        },
    )
}
