//! `GET /api/0/local/metrics/` and `…/metrics/summary/`: the metric samples
//! SDKs send in `trace_metric` containers (`sentry_sdk.metrics.count`,
//! `Sentry.metrics.gauge`, …; PROTOCOL.md §A.2), as a list and summed up.
//!
//! A container is stored whole (one row per item, every sample the SDK
//! batched), so both read rows newest first and filter their samples
//! (`api::container_scan`, with its budget per request): `project`, `name`
//! (exact, repeatable), `type` (`counter`, `gauge`, `distribution`;
//! repeatable), `query` (a case-insensitive substring of the name), `trace`
//! (a trace id), `release`, `environment` (the `sentry.release` /
//! `sentry.environment` attributes), the time range (`statsPeriod` or
//! `start` / `end`, on the sample's timestamp). The list takes `limit`
//! (1–1000, default 100) and `cursor`; a page cut short by the budget has
//! a cursor to go on. The summary reads as far as the budget goes and says
//! whether that was everything (`complete`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::container_scan::{self, one_of, CommonFilter, Entry, Position, Table};
use super::params::iso;
use super::projects;
use super::types::{MetricEntry, MetricSummary, MetricsPage, MetricsSummary};
use super::{ApiError, Ctx, Reply};

/// The filters of one request.
#[derive(Debug, Clone)]
struct Filter {
    names: Vec<String>,
    types: Vec<String>,
    query: Option<String>,
    common: CommonFilter,
}

/// The kinds of trace metric SDKs send.
const METRIC_TYPES: [&str; 3] = ["counter", "gauge", "distribution"];

impl Filter {
    fn from_query(q: &super::Query, now: f64) -> Result<Filter, ApiError> {
        Ok(Filter {
            names: q.values("name"),
            types: super::params::known_values(q.all("type"), "type", &METRIC_TYPES, &[])?,
            query: q.get_nonempty("query").map(str::to_lowercase),
            common: CommonFilter::from_query(q, now)?,
        })
    }

    fn keeps(&self, m: &MetricEntry, ts: Option<f64>) -> bool {
        let query_ok = self.query.as_ref().map_or(true, |q| {
            m.name
                .as_deref()
                .is_some_and(|n| n.to_lowercase().contains(q))
        });
        query_ok
            && one_of(&self.names, &m.name)
            && one_of(&self.types, &m.metric_type)
            && self
                .common
                .keeps(&m.trace_id, &m.release, &m.environment, ts)
    }
}

/// `GET /api/0/local/metrics/`.
pub(crate) async fn list(ctx: &Ctx) -> Result<Reply, ApiError> {
    let q = &ctx.query;
    let limit = q.limit(100, 1000)? as usize;
    let start = q.get_nonempty("cursor").map(Position::parse).transpose()?;
    let filter = Filter::from_query(q, ctx.now())?;
    let keys = q.all("project");
    let page = ctx
        .read(move |c| {
            let mut filter = filter;
            filter.common.resolve(c)?;
            let projects = projects::filter_ids(c, &keys)?;
            let page = container_scan::scan(
                c,
                Table::TraceMetrics,
                projects.as_deref(),
                &filter.common,
                start,
                limit,
                |e| {
                    let (entry, ts) = entry(e);
                    filter.keeps(&entry, ts).then_some(entry)
                },
            )?;
            Ok(MetricsPage {
                metrics: page.entries,
                cursor: page.cursor,
            })
        })
        .await?;
    Reply::json(&page)
}

/// Samples of one name, type and unit, as they are read (newest first).
struct Totals {
    samples: u64,
    sum: f64,
    /// The running mean (which does not overflow where the sum does).
    mean: f64,
    min: f64,
    max: f64,
    last: f64,
    last_seen: Option<f64>,
}

/// `GET /api/0/local/metrics/summary/`.
pub(crate) async fn summary(ctx: &Ctx) -> Result<Reply, ApiError> {
    let q = &ctx.query;
    let filter = Filter::from_query(q, ctx.now())?;
    let keys = q.all("project");
    let summary = ctx
        .read(move |c| {
            let mut filter = filter;
            filter.common.resolve(c)?;
            let projects = projects::filter_ids(c, &keys)?;
            let mut totals: BTreeMap<(String, String, Option<String>), Totals> = BTreeMap::new();
            let page = container_scan::scan(
                c,
                Table::TraceMetrics,
                projects.as_deref(),
                &filter.common,
                None,
                usize::MAX,
                |e| {
                    let (m, ts) = entry(e);
                    if !filter.keeps(&m, ts) {
                        return None;
                    }
                    let (Some(name), Some(ty), Some(value)) = (m.name, m.metric_type, m.value)
                    else {
                        return None;
                    };
                    // `none` is what a missing unit means (as Relay reads
                    // it): one metric, not two rows.
                    let unit = m.unit.filter(|u| u != "none");
                    let t = totals.entry((name, ty, unit)).or_insert(Totals {
                        samples: 0,
                        sum: 0.0,
                        mean: 0.0,
                        min: value,
                        max: value,
                        // Read newest first: the first sample is the last.
                        last: value,
                        last_seen: ts,
                    });
                    t.samples += 1;
                    t.sum += value;
                    t.mean += (value - t.mean) / t.samples as f64;
                    t.min = t.min.min(value);
                    t.max = t.max.max(value);
                    None::<()>
                },
            )?;
            let metrics = totals
                .into_iter()
                .map(|((name, metric_type, unit), t)| MetricSummary {
                    name,
                    metric_type,
                    unit,
                    samples: t.samples,
                    sum: finite(t.sum),
                    min: t.min,
                    max: t.max,
                    avg: t.mean,
                    last: t.last,
                    last_seen: t.last_seen.map(iso),
                })
                .collect();
            Ok(MetricsSummary {
                metrics,
                complete: page.cursor.is_none(),
            })
        })
        .await?;
    Reply::json(&summary)
}

/// `v`, or the largest finite number of its sign when a sum of finite
/// samples overflowed (JSON has no infinity: it would be `null`).
fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        f64::MAX.copysign(v)
    }
}

/// One sample as the API shows it, and its timestamp in seconds.
fn entry(e: &Entry<'_>) -> (MetricEntry, Option<f64>) {
    let c = e.common();
    let entry = MetricEntry {
        id: c.id,
        project_id: c.project_id,
        timestamp: c.ts.map(iso),
        name: e.text("name"),
        metric_type: e.text("type"),
        value: e
            .fields
            .get("value")
            .and_then(Value::as_f64)
            .filter(|v| v.is_finite()),
        unit: e.text("unit"),
        trace_id: c.trace_id,
        span_id: c.span_id,
        release: c.release,
        environment: c.environment,
        attributes: c.attributes,
    };
    (entry, c.ts)
}
