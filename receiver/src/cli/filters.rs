//! The filters that the list commands (`logs`, `metrics`, `transactions`)
//! share, as flags and as the query string the API reads, and how every
//! list command reads its `--limit`.

use clap::Args;

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
