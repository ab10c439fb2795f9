//! `receiver metrics`: the metric samples SDKs sent (`trace_metric`
//! items), latest received first, or totals per metric with `--summary`,
//! from a running receiver (`GET /api/0/local/metrics/[summary/]`).

use clap::Args;

use super::client::Client;
use super::filters::ListFilters;
use super::output::{emit, emit_json, short_id, short_time, table, truncate};
use super::CliError;
use crate::api::types::{MetricEntry, MetricsPage, MetricsSummary};

/// `receiver metrics`
#[derive(Debug, Clone, Args)]
#[command(mut_arg("query", |a| a.help("Only samples whose metric name holds this, in any case")))]
pub struct MetricsArgs {
    /// Which entries.
    #[command(flatten)]
    pub filters: ListFilters,
    /// Only these metric names (exact); repeat the flag or separate with
    /// commas.
    #[arg(long, value_delimiter = ',')]
    pub name: Vec<String>,
    /// Only these types (`counter`, `gauge`, `distribution`).
    #[arg(long = "type", value_delimiter = ',')]
    pub metric_type: Vec<String>,
    /// Totals per metric (samples, sum, min, max, average, last value)
    /// instead of the samples.
    #[arg(long)]
    pub summary: bool,
    /// Most samples to show.
    #[arg(long, default_value_t = 50, value_parser = super::filters::parse_limit)]
    pub limit: usize,
}

impl MetricsArgs {
    /// The filters as a query string.
    fn filters(&self) -> String {
        let mut pairs = self.filters.pairs();
        for name in &self.name {
            pairs.push(("name", name));
        }
        for ty in &self.metric_type {
            pairs.push(("type", ty));
        }
        super::commands::query_string(&pairs)
    }
}

/// The samples `args` asks for, following cursors until `limit` or the end.
fn fetch(client: &Client, args: &MetricsArgs) -> Result<Vec<MetricEntry>, CliError> {
    client.follow_cursor(
        &format!("/api/0/local/metrics/?{}", args.filters()),
        args.limit,
        |page: MetricsPage| (page.metrics, page.cursor),
    )
}

/// A number as a table shows it: integers without a fraction, others
/// with up to three decimals, and very large or very small ones in
/// exponent form with up to four significant digits (`1e300`, not 301
/// digits that stretch every column).
fn number(v: f64) -> String {
    let trim = |s: &str| s.trim_end_matches('0').trim_end_matches('.').to_owned();
    if v.is_finite() && (v.abs() >= 1e15 || (v != 0.0 && v.abs() < 1e-3)) {
        let s = format!("{v:.3e}");
        match s.split_once('e') {
            Some((mantissa, exponent)) => format!("{}e{exponent}", trim(mantissa)),
            None => s,
        }
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        trim(&format!("{v:.3}"))
    }
}

fn json_text<T: serde::Serialize>(value: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(value)
        .map(|t| format!("{t}\n"))
        .map_err(|e| CliError::Usage(format!("cannot encode JSON: {e}")))
}

/// `receiver metrics`: a table (or `--json`) of samples, latest received
/// first, or of totals per metric with `--summary`.
pub fn metrics(client: &Client, args: &MetricsArgs, json_out: bool) -> Result<(), CliError> {
    if args.summary {
        let path = format!("/api/0/local/metrics/summary/?{}", args.filters());
        let (summary, _): (MetricsSummary, _) = client.get(&path)?;
        if json_out {
            emit_json(&json_text(&summary)?);
            return Ok(());
        }
        if summary.metrics.is_empty() {
            eprintln!("no metrics");
            return Ok(());
        }
        let rows: Vec<Vec<String>> = summary
            .metrics
            .iter()
            .map(|m| {
                vec![
                    truncate(&m.name, 60),
                    m.metric_type.clone(),
                    m.unit.clone().unwrap_or_default(),
                    m.samples.to_string(),
                    number(m.sum),
                    number(m.min),
                    number(m.max),
                    number(m.avg),
                    number(m.last),
                ]
            })
            .collect();
        emit(&table(
            &[
                "NAME", "TYPE", "UNIT", "SAMPLES", "SUM", "MIN", "MAX", "AVG", "LAST",
            ],
            &rows,
        ));
        if !summary.complete {
            eprintln!("(only the newest samples were read: narrow the filters or --since)");
        }
        return Ok(());
    }
    let samples = fetch(client, args)?;
    if json_out {
        emit_json(&json_text(&samples)?);
        return Ok(());
    }
    if samples.is_empty() {
        eprintln!("no metrics");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = samples
        .iter()
        .map(|m| {
            vec![
                m.timestamp.as_deref().map(short_time).unwrap_or_default(),
                truncate(m.name.as_deref().unwrap_or(""), 60),
                m.metric_type.clone().unwrap_or_default(),
                m.value.map(number).unwrap_or_default(),
                m.unit.clone().unwrap_or_default(),
                m.environment.clone().unwrap_or_default(),
                short_id(m.trace_id.as_deref()),
            ]
        })
        .collect();
    emit(&table(
        &[
            "TIME",
            "NAME",
            "TYPE",
            "VALUE",
            "UNIT",
            "ENVIRONMENT",
            "TRACE",
        ],
        &rows,
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers_show_without_noise() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(-12.0), "-12");
        assert_eq!(number(0.125), "0.125");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(1.0 / 3.0), "0.333");
        assert_eq!(number(1e300), "1e300");
        assert_eq!(number(-2.5e20), "-2.5e20");
        assert_eq!(number(123_456_789_012_345_678.0), "1.235e17");
        assert_eq!(number(0.0001234), "1.234e-4");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(99_999_999_999_999.0), "99999999999999");
    }
}
