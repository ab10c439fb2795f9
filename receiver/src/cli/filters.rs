//! The filters that the list commands (`logs`, `metrics`, `transactions`)
//! share, as flags and as the query string the API reads, and how every
//! list command reads its `--limit`.

use clap::Args;

use super::client::Client;
use super::commands::enc;
use super::CliError;
use crate::api::types::Trace;

/// `--project`, `--query`, `--trace`, `--environment`, `--release` and
/// `--since`.
#[derive(Debug, Clone, Default, Args)]
pub struct ListFilters {
    /// Project id or slug (default: every project).
    #[arg(long)]
    pub project: Option<String>,
    /// Only entries whose text holds this (each command says which text
    /// and how it matches case).
    #[arg(long, short)]
    pub query: Option<String>,
    /// Only entries of this trace: 32 hex digits, or the first 8 or more
    /// of a trace with transactions, spans or errors.
    #[arg(long)]
    pub trace: Option<String>,
    /// Only entries from this environment.
    #[arg(long)]
    pub environment: Option<String>,
    /// Only entries from this release.
    #[arg(long)]
    pub release: Option<String>,
    /// Only entries from this long ago until now (`30m`, `24h`, `14d`).
    #[arg(long)]
    pub since: Option<String>,
}

impl ListFilters {
    /// The query parameters of the filters given.
    ///
    /// ```
    /// use receiver::cli::filters::ListFilters;
    /// let f = ListFilters { since: Some("1h".into()), ..ListFilters::default() };
    /// assert_eq!(f.pairs(), [("statsPeriod", "1h")]);
    /// ```
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("project", &self.project),
            ("query", &self.query),
            ("trace", &self.trace),
            ("environment", &self.environment),
            ("release", &self.release),
            ("statsPeriod", &self.since),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_deref().map(|v| (key, v)))
        .collect()
    }
}

impl ListFilters {
    /// Replaces a `--trace` given by its first digits, as tables show trace
    /// ids, with the whole id: the one trace whose transactions, spans or
    /// errors start so (the trace view finds it). Lists compare whole ids;
    /// a trace known only by log lines or metrics needs all 32 digits.
    pub fn resolve_trace(&mut self, client: &Client) -> Result<(), CliError> {
        let Some(given) = self.trace.as_deref().map(str::trim) else {
            return Ok(());
        };
        if crate::ids::hex_id(given, 32).is_some() || crate::ids::hex_prefix(given).is_none() {
            // Whole, or not an id at all: the list's own check says so.
            return Ok(());
        }
        let path = format!("/api/0/local/traces/{}/", enc(given));
        match client.get::<Trace>(&path) {
            Ok((trace, _)) => {
                self.trace = Some(trace.trace_id);
                Ok(())
            }
            Err(CliError::Api { status: 404, .. }) => Err(CliError::Api {
                status: 404,
                detail: format!(
                    "no trace with transactions, spans or errors has an id starting with {given}; \
                     for a trace known only by log lines or metrics, give all 32 digits"
                ),
            }),
            Err(e) => Err(e),
        }
    }
}

/// Reads a `--limit`: a whole number of at least 1 (a limit of 0 would
/// ask for nothing and print "none found").
///
/// ```
/// use receiver::cli::filters::parse_limit;
/// assert_eq!(parse_limit("25"), Ok(25));
/// assert!(parse_limit("0").is_err());
/// assert!(parse_limit("x").is_err());
/// ```
pub fn parse_limit(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("the limit must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a whole number: {e}")),
    }
}
