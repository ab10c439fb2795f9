//! Local extensions under `/api/0/local/`: release health, transactions,
//! traces, client reports, counts and the live event stream.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::Connection;
use serde_json::Value;

use super::events::decode_payload;
use super::id_prefix;
use super::issues;
use super::params::{iso, like_pattern, Range, Sql};
use super::projects;
use super::types::{
    ClientReportRow, ClientReports, Health, HealthRow, SpanNode, Stats, StreamEvent, StreamPage,
    Trace, TraceError, Transaction,
};
use super::{ApiError, Ctx, Reply};

/// Deepest span nesting a trace tree shows; deeper spans are attached to
/// the root list (JSON readers limit nesting).
const MAX_TREE_DEPTH: usize = 48;

/// The most spans, and error events, one trace answer holds (the first by
/// start time). Anyone with a DSN can send any number of spans under one
/// trace id; past these the answer says `truncated`.
pub(crate) const MAX_TRACE_SPANS: usize = 10_000;
pub(crate) const MAX_TRACE_ERRORS: usize = 1_000;

/// Release-health accumulator for one group (PROTOCOL.md §7.3).
#[derive(Debug, Default)]
struct HealthAcc {
    sessions: i64,
    crashed: i64,
    abnormal: i64,
    errored_preaggr: i64,
    error_sids: HashSet<String>,
    users: HashSet<String>,
    crashed_users: HashSet<String>,
}

impl HealthAcc {
    fn row(
        &self,
        project: Option<String>,
        release: Option<String>,
        env: Option<String>,
    ) -> HealthRow {
        let fatal = self.crashed + self.abnormal;
        let errored = (self.error_sids.len() as i64 + self.errored_preaggr - fatal).max(0);
        let healthy = (self.sessions - errored - fatal).max(0);
        let rate = |bad: i64, all: i64| (all > 0).then(|| (1.0 - bad as f64 / all as f64).max(0.0));
        HealthRow {
            project,
            release,
            environment: env,
            sessions: self.sessions,
            sessions_crashed: self.crashed,
            sessions_abnormal: self.abnormal,
            sessions_errored: errored,
            sessions_healthy: healthy,
            crash_free_sessions: rate(self.crashed, self.sessions),
            users: self.users.len() as i64,
            users_crashed: self.crashed_users.len() as i64,
            crash_free_users: rate(self.crashed_users.len() as i64, self.users.len() as i64),
        }
    }
}

/// Which dimensions health rows are grouped by.
#[derive(Debug, Clone, Copy)]
struct GroupBy {
    project: bool,
    release: bool,
    environment: bool,
}

/// Filters of health queries.
#[derive(Debug, Clone, Default)]
struct HealthFilter {
    projects: Vec<i64>,
    releases: Vec<String>,
    environments: Vec<String>,
    range: Range,
}

impl HealthFilter {
    fn apply(&self, sql: &mut Sql) {
        if !self.projects.is_empty() {
            let c = sql.in_list("project_id", self.projects.iter().copied());
            sql.cond(c);
        }
        if !self.releases.is_empty() {
            let c = sql.in_list("release", self.releases.iter().cloned());
            sql.cond(c);
        }
        if !self.environments.is_empty() {
            let c = sql.in_list("environment", self.environments.iter().cloned());
            sql.cond(c);
        }
        self.range.restrict(sql, "started");
    }
}

type HealthKey = (Option<String>, Option<String>, Option<String>);

/// Computes health rows and totals from `sessions` and `session_aggregates`.
fn compute_health(
    conn: &Connection,
    filter: &HealthFilter,
    group: GroupBy,
) -> Result<(Vec<HealthRow>, HealthRow), ApiError> {
    let mut groups: BTreeMap<HealthKey, HealthAcc> = BTreeMap::new();
    let mut total = HealthAcc::default();
    let key = |p: i64, r: &str, e: &Option<String>| -> HealthKey {
        (
            group.project.then(|| p.to_string()),
            group.release.then(|| r.to_owned()),
            if group.environment { e.clone() } else { None },
        )
    };
    let mut sql = Sql::default();
    filter.apply(&mut sql);
    let q = format!(
        "SELECT project_id, release, environment, sid, did, init, status, errors
         FROM sessions WHERE {}",
        sql.where_clause()
    );
    let mut stmt = conn.prepare(&q)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(sql.params.iter()))?;
    while let Some(r) = rows.next()? {
        let project: i64 = r.get(0)?;
        let release: String = r.get(1)?;
        let env: Option<String> = r.get(2)?;
        let sid: String = r.get(3)?;
        let did: Option<String> = r.get(4)?;
        let init: bool = r.get(5)?;
        let status: String = r.get(6)?;
        let errors: i64 = r.get(7)?;
        let sid = format!("{project}/{sid}");
        for acc in [
            groups.entry(key(project, &release, &env)).or_default(),
            &mut total,
        ] {
            if init {
                acc.sessions += 1;
            }
            match status.as_str() {
                "crashed" => {
                    acc.crashed += 1;
                    if let Some(d) = &did {
                        acc.crashed_users.insert(d.clone());
                    }
                }
                "abnormal" => acc.abnormal += 1,
                _ => {}
            }
            // Any status but `ok` and `exited` is an error, an unknown one
            // included (Relay's `SessionStatus::is_error`).
            if errors > 0 || !matches!(status.as_str(), "ok" | "exited") {
                acc.error_sids.insert(sid.clone());
            }
            if let Some(d) = &did {
                acc.users.insert(d.clone());
            }
        }
    }
    let mut sql = Sql::default();
    filter.apply(&mut sql);
    let q = format!(
        "SELECT project_id, release, environment, did, exited, errored, abnormal, crashed,
             unhandled
         FROM session_aggregates WHERE {}",
        sql.where_clause()
    );
    let mut stmt = conn.prepare(&q)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(sql.params.iter()))?;
    while let Some(r) = rows.next()? {
        let project: i64 = r.get(0)?;
        let release: String = r.get(1)?;
        let env: Option<String> = r.get(2)?;
        let did: Option<String> = r.get(3)?;
        let [exited, errored, abnormal, crashed, unhandled]: [i64; 5] =
            [r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?];
        for acc in [
            groups.entry(key(project, &release, &env)).or_default(),
            &mut total,
        ] {
            acc.sessions += exited + errored + abnormal + crashed + unhandled;
            acc.errored_preaggr += errored + abnormal + unhandled + crashed;
            acc.crashed += crashed;
            acc.abnormal += abnormal;
            if let Some(d) = &did {
                acc.users.insert(d.clone());
                if crashed > 0 {
                    acc.crashed_users.insert(d.clone());
                }
            }
        }
    }
    let rows = groups
        .into_iter()
        .map(|((p, r, e), acc)| acc.row(p, r, e))
        .collect();
    Ok((rows, total.row(None, None, None)))
}

/// `GET /api/0/local/health/`: crash-free sessions and users and session
/// counts per release and environment (`groupBy=project,release,environment`
/// to choose; filters `project`, `release`, `environment`, time range on the
/// session start).
pub(crate) async fn health(ctx: &Ctx) -> Result<Reply, ApiError> {
    let group_by = ctx
        .query
        .get_nonempty("groupBy")
        .unwrap_or("release,environment")
        .to_owned();
    let mut group = GroupBy {
        project: false,
        release: false,
        environment: false,
    };
    for g in group_by.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        match g {
            "project" => group.project = true,
            "release" => group.release = true,
            "environment" => group.environment = true,
            other => {
                return Err(ApiError::BadRequest(format!(
                    "invalid groupBy {other:?}: expected project, release or environment"
                )))
            }
        }
    }
    let range = Range::from_query(&ctx.query, ctx.now())?;
    let keys = ctx.query.all("project");
    let base_filter = HealthFilter {
        releases: ctx.query.values("release"),
        environments: ctx.query.values("environment"),
        range,
        projects: Vec::new(),
    };
    let (data, totals) = ctx
        .read(move |c| {
            let mut filter = base_filter;
            if let Some(ids) = projects::filter_ids(c, &keys)? {
                filter.projects = ids;
            }
            compute_health(c, &filter, group)
        })
        .await?;
    Reply::json(&Health { data, totals })
}

pub(crate) fn transaction_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Transaction)> {
    let project: i64 = r.get(2)?;
    let start: f64 = r.get(8)?;
    let end: f64 = r.get(9)?;
    Ok((
        r.get(0)?,
        Transaction {
            event_id: r.get(1)?,
            project_id: project.to_string(),
            trace_id: r.get(3)?,
            span_id: r.get(4)?,
            transaction: r.get(5)?,
            op: r.get(6)?,
            status: r.get(7)?,
            start_timestamp: iso(start),
            timestamp: iso(end),
            duration: ((end - start) * 1000.0 * 1000.0).round() / 1000.0,
            release: r.get(10)?,
            environment: r.get(11)?,
        },
    ))
}

struct FlatSpan {
    node: SpanNode,
    start: f64,
}

/// `GET /api/0/local/traces/{trace_id}/`: every span of the trace from every
/// project as a tree (children by start time), with the error events of
/// the trace attached to the span they happened in.
pub(crate) async fn trace(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let prefix = super::id_prefix::parse(id, "trace")?;
    let trace = ctx
        .read(move |c| build_trace(c, &trace_id_of(c, &prefix)?))
        .await?;
    Reply::json(&trace)
}

/// A list's `trace` filter as given: a whole id or its first 8 or more
/// digits (lower-case), to be made whole by [`whole_trace`] when read.
pub(crate) fn trace_filter(q: &super::Query) -> Result<Option<String>, ApiError> {
    match q.get_nonempty("trace") {
        None => Ok(None),
        Some(t) => crate::ids::hex_prefix(t.trim()).map(Some).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "invalid trace {t:?}: expected 32 hex digits, or at least the first {}",
                crate::ids::MIN_PREFIX_LEN
            ))
        }),
    }
}

/// Makes a [`trace_filter`] given by its first digits whole: the one trace
/// whose transactions, spans or errors start so (a list compares whole
/// ids). A trace known only by log lines or metrics needs all 32 digits.
pub(crate) fn whole_trace(c: &Connection, trace: &mut Option<String>) -> Result<(), ApiError> {
    let Some(prefix) = trace.as_deref().filter(|t| t.len() < 32) else {
        return Ok(());
    };
    match trace_id_of(c, prefix) {
        Ok(id) => {
            *trace = Some(id);
            Ok(())
        }
        Err(ApiError::NotFound(_)) => Err(ApiError::NotFound(format!(
            "no trace with transactions, spans or errors has an id starting with {prefix}; \
             for a trace known only by log lines or metrics, give all 32 digits"
        ))),
        Err(e) => Err(e),
    }
}

/// The one trace id `prefix` (see `ids::hex_prefix`) starts: of a
/// transaction or span, else (only then: their ids are found by reading
/// all of `events_time`) of an error event.
pub(crate) fn trace_id_of(c: &Connection, prefix: &str) -> Result<String, ApiError> {
    let (indexed, errors) = TRACE_IDS_STARTING.split_at(2);
    match id_prefix::resolve(c, prefix, "trace", indexed, &[]) {
        Err(ApiError::NotFound(_)) => id_prefix::resolve(c, prefix, "trace", errors, &[]),
        found => found,
    }
}

/// Trace ids between `?1` and `?2`: of transactions and spans through
/// their trace indices, then of error events (no index starts with their
/// trace id; `events_time` holds it, so that is read, not the table),
/// which are asked only when the first two find none.
const TRACE_IDS_STARTING: &[&str] = &[
    "SELECT DISTINCT trace_id FROM transactions
     WHERE trace_id >= ?1 AND trace_id < ?2 LIMIT 4",
    "SELECT DISTINCT trace_id FROM spans WHERE trace_id >= ?1 AND trace_id < ?2 LIMIT 4",
    "SELECT DISTINCT trace_id FROM events INDEXED BY events_time
     WHERE trace_id >= ?1 AND trace_id < ?2 LIMIT 4",
];

/// Removes the streamed rows (no transaction) of spans that a transaction
/// of the same project also carries: an SDK may send a span both ways (a
/// transaction and a `span` item), and it is one span. The transaction's
/// row stays, since it links the span to its transaction.
fn drop_streamed_copies(spans: &mut Vec<FlatSpan>) {
    let in_transactions: HashSet<(String, String)> = spans
        .iter()
        .filter(|s| s.node.transaction_id.is_some())
        .map(|s| (s.node.project_id.clone(), s.node.span_id.clone()))
        .collect();
    if in_transactions.is_empty() {
        return;
    }
    spans.retain(|s| {
        s.node.transaction_id.is_some()
            || !in_transactions.contains(&(s.node.project_id.clone(), s.node.span_id.clone()))
    });
}

fn build_trace(c: &Connection, trace_id: &str) -> Result<Trace, ApiError> {
    let mut spans: Vec<FlatSpan> = c
        .prepare_cached(
            "SELECT s.span_id, s.parent_span_id, s.op, s.description, s.status, s.start_ts,
                 s.end_ts, s.project_id, t.event_id, s.is_segment
             FROM spans s LEFT JOIN transactions t ON t.id = s.transaction_id
             WHERE s.trace_id = ?1 ORDER BY s.start_ts, s.id LIMIT ?2",
        )?
        .query_map(
            rusqlite::params![trace_id, MAX_TRACE_SPANS as i64 + 1],
            |r| {
                let start: f64 = r.get(5)?;
                let end: Option<f64> = r.get(6)?;
                let project: i64 = r.get(7)?;
                Ok(FlatSpan {
                    node: SpanNode {
                        span_id: r.get(0)?,
                        parent_span_id: r.get(1)?,
                        op: r.get(2)?,
                        description: r.get(3)?,
                        status: r.get(4)?,
                        start_timestamp: iso(start),
                        timestamp: end.map(iso),
                        duration: end.map(|e| ((e - start) * 1e6).round() / 1000.0),
                        project_id: project.to_string(),
                        transaction_id: r.get(8)?,
                        is_segment: r.get(9)?,
                        errors: Vec::new(),
                        children: Vec::new(),
                    },
                    start,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    let transactions: i64 = c
        .prepare_cached("SELECT COUNT(*) FROM transactions WHERE trace_id = ?1")?
        .query_row([trace_id], |r| r.get(0))?;
    let mut errors: Vec<TraceError> = c
        .prepare_cached(
            // No index has `trace_id` first (a random key made every
            // commit dirty a page of it); `events_time` carries it, so the
            // scan reads that index in order, not the table.
            "SELECT event_id, issue_id, project_id, title, level, timestamp, payload
             FROM events WHERE id IN
                 (SELECT id FROM events INDEXED BY events_time WHERE trace_id = ?1)
             ORDER BY timestamp LIMIT ?2",
        )?
        .query_map(
            rusqlite::params![trace_id, MAX_TRACE_ERRORS as i64 + 1],
            |r| {
                let issue: Option<i64> = r.get(1)?;
                let project: i64 = r.get(2)?;
                let ts: f64 = r.get(5)?;
                let blob: Vec<u8> = r.get(6)?;
                let (payload, _) = decode_payload(&blob);
                Ok(TraceError {
                    event_id: r.get(0)?,
                    issue_id: issue.map(|i| i.to_string()),
                    project_id: project.to_string(),
                    title: r.get(3)?,
                    level: r.get(4)?,
                    span_id: payload
                        .pointer("/contexts/trace/span_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    timestamp: iso(ts),
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    if spans.is_empty() && errors.is_empty() && transactions == 0 {
        return Err(ApiError::not_found(format!("trace {trace_id}")));
    }
    let mut projects: Vec<String> = spans
        .iter()
        .map(|s| s.node.project_id.clone())
        .chain(errors.iter().map(|e| e.project_id.clone()))
        .collect();
    projects.sort_by_key(|p| p.parse::<i64>().unwrap_or(i64::MAX));
    projects.dedup();
    let truncated = spans.len() > MAX_TRACE_SPANS || errors.len() > MAX_TRACE_ERRORS;
    drop_streamed_copies(&mut spans);
    spans.truncate(MAX_TRACE_SPANS);
    errors.truncate(MAX_TRACE_ERRORS);
    let span_count = if truncated {
        c.prepare_cached("SELECT COUNT(*) FROM spans WHERE trace_id = ?1")?
            .query_row([trace_id], |r| r.get(0))?
    } else {
        spans.len() as i64
    };

    // Index spans; the first span with an id wins.
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        index.entry(s.node.span_id.clone()).or_insert(i);
    }
    let mut orphan_errors = Vec::new();
    for e in errors.drain(..) {
        match e.span_id.as_ref().and_then(|s| index.get(s)) {
            Some(&i) => spans[i].node.errors.push(e),
            None => orphan_errors.push(e),
        }
    }
    // Parent links (only to spans that exist, never to itself).
    let parent: Vec<Option<usize>> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.node
                .parent_span_id
                .as_ref()
                .and_then(|p| index.get(p))
                .copied()
                .filter(|&p| p != i)
        })
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, p) in parent.iter().enumerate() {
        match p {
            Some(p) => children[*p].push(i),
            None => roots.push(i),
        }
    }
    // Depth-first from the roots; spans in cycles (unreachable) and spans
    // deeper than the limit become roots themselves.
    let mut depth = vec![usize::MAX; spans.len()];
    let mut stack: Vec<(usize, usize)> = roots.iter().map(|&r| (r, 0)).collect();
    let mut extra_roots = Vec::new();
    while let Some((i, d)) = stack.pop() {
        if depth[i] != usize::MAX {
            continue;
        }
        depth[i] = d;
        for &ch in &children[i] {
            if d + 1 >= MAX_TREE_DEPTH {
                extra_roots.push(ch);
                stack.push((ch, 0));
            } else {
                stack.push((ch, d + 1));
            }
        }
    }
    for (i, d) in depth.iter_mut().enumerate() {
        if *d == usize::MAX {
            *d = 0;
            extra_roots.push(i);
        }
    }
    roots.extend(extra_roots.iter().copied());
    let is_root: HashSet<usize> = roots.iter().copied().collect();
    // Assemble bottom-up: deepest spans first.
    let starts: Vec<f64> = spans.iter().map(|s| s.start).collect();
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by(|a, b| depth[*b].cmp(&depth[*a]));
    let mut built: Vec<Option<SpanNode>> = spans.iter().map(|_| None).collect();
    let mut taken: Vec<Option<SpanNode>> = spans.into_iter().map(|s| Some(s.node)).collect();
    for i in order {
        let Some(mut node) = taken[i].take() else {
            continue;
        };
        let mut kids: Vec<usize> = children[i]
            .iter()
            .copied()
            .filter(|c| !is_root.contains(c))
            .collect();
        kids.sort_by(|a, b| starts[*a].total_cmp(&starts[*b]));
        for k in kids {
            if let Some(child) = built[k].take() {
                node.children.push(child);
            }
        }
        built[i] = Some(node);
    }
    let mut root_ids: Vec<usize> = is_root.into_iter().collect();
    root_ids.sort_by(|a, b| starts[*a].total_cmp(&starts[*b]).then(a.cmp(b)));
    let roots: Vec<SpanNode> = root_ids
        .into_iter()
        .filter_map(|i| built[i].take())
        .collect();
    Ok(Trace {
        trace_id: trace_id.to_owned(),
        projects,
        transactions,
        spans: span_count,
        roots,
        orphan_errors,
        truncated,
    })
}

/// What a data category's quantities count, as Relay's data categories
/// say: bytes for `attachment` and the `…_byte` categories, milliseconds
/// for the profile durations, items for every other.
///
/// ```
/// # use receiver::api::category_unit;
/// assert_eq!(category_unit("log_item"), "item");
/// assert_eq!(category_unit("log_byte"), "byte");
/// assert_eq!(category_unit("attachment"), "byte");
/// assert_eq!(category_unit("profile_duration_ui"), "millisecond");
/// ```
pub fn category_unit(category: &str) -> &'static str {
    if category == "attachment" || category.ends_with("_byte") {
        "byte"
    } else if category.starts_with("profile_duration") {
        "millisecond"
    } else {
        "item"
    }
}

/// `GET /api/0/local/client-reports/`: discarded-event totals by reason,
/// category and outcome (filters `project`, time range on the report time).
pub(crate) async fn client_reports(ctx: &Ctx) -> Result<Reply, ApiError> {
    let range = Range::from_query(&ctx.query, ctx.now())?;
    let keys = ctx.query.all("project");
    let report = ctx
        .read(move |c| {
            let mut sql = Sql::default();
            if let Some(ids) = projects::filter_ids(c, &keys)? {
                let cond = sql.in_list("project_id", ids);
                sql.cond(cond);
            }
            range.restrict(&mut sql, "timestamp");
            let q = format!(
                "SELECT outcome, reason, category, TOTAL(quantity) AS q FROM client_reports
                 WHERE {} GROUP BY outcome, reason, category ORDER BY q DESC, outcome, reason,
                 category",
                sql.where_clause()
            );
            let rows: Vec<ClientReportRow> = c
                .prepare(&q)?
                .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
                    let category: String = r.get(2)?;
                    Ok(ClientReportRow {
                        outcome: r.get(0)?,
                        reason: r.get(1)?,
                        unit: category_unit(&category).to_owned(),
                        category,
                        // A float sum, cast saturating: `SUM` fails on
                        // overflow, and any client can send reports.
                        quantity: r.get::<_, f64>(3)? as i64,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let mut out = ClientReports {
                total: 0,
                total_bytes: 0,
                total_milliseconds: 0,
                by_reason: BTreeMap::new(),
                by_category: BTreeMap::new(),
                by_outcome: BTreeMap::new(),
                rows: Vec::new(),
            };
            for r in &rows {
                let q = r.quantity;
                let by_category = out.by_category.entry(r.category.clone()).or_default();
                *by_category = by_category.saturating_add(q);
                // SDKs report a dropped log both as `log_item` (1) and as
                // `log_byte` (its size): only item counts add up.
                match r.unit.as_str() {
                    "byte" => out.total_bytes = out.total_bytes.saturating_add(q),
                    "millisecond" => {
                        out.total_milliseconds = out.total_milliseconds.saturating_add(q)
                    }
                    _ => {
                        out.total = out.total.saturating_add(q);
                        for sum in [
                            out.by_reason.entry(r.reason.clone()).or_default(),
                            out.by_outcome.entry(r.outcome.clone()).or_default(),
                        ] {
                            *sum = sum.saturating_add(q);
                        }
                    }
                }
            }
            out.rows = rows;
            Ok(out)
        })
        .await?;
    Reply::json(&report)
}

/// Which counts a stats request asks for (`fields`; all without it).
#[derive(Debug, Clone, Copy)]
struct StatsFields {
    events: bool,
    issues: bool,
    transactions: bool,
    segments: bool,
    check_ins: bool,
    missed_check_ins: bool,
    /// Sessions and the crash-free rates: these read every session row.
    sessions: bool,
}

impl StatsFields {
    fn from_query(q: &super::Query) -> Result<StatsFields, ApiError> {
        let names = q.all("fields");
        if names.is_empty() {
            return Ok(StatsFields {
                events: true,
                issues: true,
                transactions: true,
                segments: true,
                check_ins: true,
                missed_check_ins: true,
                sessions: true,
            });
        }
        let mut fields = StatsFields {
            events: false,
            issues: false,
            transactions: false,
            segments: false,
            check_ins: false,
            missed_check_ins: false,
            sessions: false,
        };
        for name in &names {
            match name.as_str() {
                "events" => fields.events = true,
                "issues" => fields.issues = true,
                "transactions" => fields.transactions = true,
                "segments" => fields.segments = true,
                "checkIns" => fields.check_ins = true,
                "missedCheckIns" => fields.missed_check_ins = true,
                "sessions" | "crashFreeSessions" | "crashFreeUsers" => fields.sessions = true,
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "unknown field {other:?} in fields: expected events, issues, \
                         transactions, segments, checkIns, missedCheckIns, sessions, \
                         crashFreeSessions or crashFreeUsers"
                    )))
                }
            }
        }
        Ok(fields)
    }
}

/// Segments (`is_segment` span rows: transactions' roots and streamed
/// segments) of `projects` (all when empty) with these environments and
/// releases (any when empty), a name containing `name`, starting in
/// `range`. The streamed copy of a transaction's root is not counted again.
fn count_segments(
    c: &rusqlite::Connection,
    projects: &[i64],
    environments: &[String],
    releases: &[String],
    name: Option<&str>,
    range: &Range,
) -> Result<i64, ApiError> {
    let mut sql = Sql::default();
    sql.cond("s.is_segment = 1");
    if !projects.is_empty() {
        let cond = sql.in_list("s.project_id", projects.iter().copied());
        sql.cond(cond);
    }
    for (col, values) in [("s.environment", environments), ("s.release", releases)] {
        if !values.is_empty() {
            let cond = sql.in_list(col, values.iter().cloned());
            sql.cond(cond);
        }
    }
    if let Some(name) = name {
        let p = sql.bind(like_pattern(name));
        sql.cond(format!("s.description LIKE {p} ESCAPE '\\'"));
    }
    sql.cond(
        "NOT (s.transaction_id IS NULL AND EXISTS (
             SELECT 1 FROM spans d WHERE d.trace_id = s.trace_id AND d.span_id = s.span_id
                 AND d.project_id = s.project_id AND d.transaction_id IS NOT NULL))",
    );
    range.restrict(&mut sql, "s.start_ts");
    Ok(c.query_row(
        &format!(
            "SELECT COUNT(*) FROM spans s INDEXED BY spans_segments WHERE {}",
            sql.where_clause()
        ),
        rusqlite::params_from_iter(sql.params.iter()),
        |r| r.get(0),
    )?)
}

/// Cron check-ins (runs) of `projects` (all when empty) of the monitors
/// `slugs` names (any when empty; either slug form), with these
/// environments (none is `production`, as the check-ins list reads it),
/// releases and statuses (as read `now`: a run past its deadline is
/// `timeout`), started in `range`.
#[allow(clippy::too_many_arguments)]
fn count_check_ins(
    c: &rusqlite::Connection,
    projects: &[i64],
    slugs: &[String],
    environments: &[String],
    releases: &[String],
    statuses: &[String],
    range: &Range,
    now: f64,
) -> Result<i64, ApiError> {
    let mut sql = Sql::default();
    if !projects.is_empty() {
        let cond = sql.in_list("k.project_id", projects.iter().copied());
        sql.cond(cond);
    }
    let slugs = super::monitors::monitor_forms(c, slugs)?;
    for (expr, values) in [
        ("k.monitor_slug", slugs.as_slice()),
        ("COALESCE(k.environment, 'production')", environments),
        ("k.release", releases),
    ] {
        if !values.is_empty() {
            let cond = sql.in_list(expr, values.iter().cloned());
            sql.cond(cond);
        }
    }
    if !statuses.is_empty() {
        let at = sql.bind(now);
        let status = crate::store::check_ins::status_as_read("k", "mc.max_runtime", &at);
        let cond = sql.in_list(&status, statuses.iter().cloned());
        sql.cond(cond);
    }
    range.restrict(&mut sql, "k.received");
    Ok(c.query_row(
        &format!(
            "SELECT COUNT(*) FROM check_ins k
             LEFT JOIN monitors mc ON mc.project_id = k.project_id
                 AND mc.monitor_slug = k.monitor_slug
             WHERE {}",
            sql.where_clause()
        ),
        rusqlite::params_from_iter(sql.params.iter()),
        |r| r.get(0),
    )?)
}

/// The statuses a check-in count can select: those of stored runs (missed
/// runs are inferred from the schedule, not stored: the monitors list
/// counts them).
const COUNTED_CHECK_IN_STATUSES: [&str; 4] = ["ok", "error", "in_progress", "timeout"];

/// `GET /api/0/local/stats/`: counts for `receiver wait` / `check`.
/// Filters: `project`, `level`, `environment`, `release`, `title` (issue
/// title substring), `status` (issue status), `transaction` (name
/// substring), `monitor` and `checkInStatus` (check-ins), time range;
/// `fields` (comma-separated) limits the answer to the counts a caller
/// needs, so a poll does not read every session row.
pub(crate) async fn stats(ctx: &Ctx) -> Result<Reply, ApiError> {
    let q = ctx.query.clone();
    let fields = StatsFields::from_query(&q)?;
    let range = Range::from_query(&q, ctx.now())?;
    let levels = issues::levels_param(&q)?;
    let environments = q.values("environment");
    let releases = q.values("release");
    let statuses = q.all("status");
    let title = q.get_nonempty("title").map(str::to_owned);
    let transaction = q.get_nonempty("transaction").map(str::to_owned);
    let monitors = q.values("monitor");
    let check_in_statuses = super::params::known_values(
        q.all("checkInStatus"),
        "checkInStatus",
        &COUNTED_CHECK_IN_STATUSES,
        &[],
    )?;
    let categories = issues::categories_param(&q.all("issueCategory"))?;
    let now = ctx.now();
    let keys = q.all("project");
    // Validate before reading.
    issues::count_filter(
        Vec::new(),
        &statuses,
        &levels,
        &environments,
        &releases,
        title.as_deref(),
        range,
    )?;
    let stats = ctx
        .read(move |c| {
            let ids: Vec<i64> = if keys.is_empty() {
                Vec::new()
            } else {
                projects::resolve_filter(c, &keys)?
                    .iter()
                    .map(|p| p.id)
                    .collect()
            };
            let mut stats = Stats::default();
            if fields.events {
                let mut sql = Sql::default();
                if !ids.is_empty() {
                    let cond = sql.in_list("e.project_id", ids.iter().copied());
                    sql.cond(cond);
                }
                super::events::add_event_filters(&mut sql, &range, &environments, &levels);
                if !releases.is_empty() {
                    let cond = sql.in_list("e.release", releases.iter().cloned());
                    sql.cond(cond);
                }
                if let Some(cond) = issues::event_category_condition(&categories) {
                    sql.cond(cond);
                }
                let join = title.is_some() || !statuses.is_empty();
                if join {
                    let f = issues::count_filter(
                        Vec::new(),
                        &statuses,
                        &[],
                        &[],
                        &[],
                        title.as_deref(),
                        Range::default(),
                    )?;
                    f.apply(&mut sql);
                }
                let events: i64 = c.query_row(
                    &format!(
                        "SELECT COUNT(*) FROM events e {} WHERE {}",
                        if join {
                            "JOIN issues i ON i.id = e.issue_id"
                        } else {
                            ""
                        },
                        sql.where_clause()
                    ),
                    rusqlite::params_from_iter(sql.params.iter()),
                    |r| r.get(0),
                )?;
                stats.events = Some(events);
            }
            if fields.issues {
                let f = issues::count_filter(
                    ids.clone(),
                    &statuses,
                    &levels,
                    &environments,
                    &releases,
                    title.as_deref(),
                    range,
                )?
                .with_categories(&categories);
                stats.issues = Some(issues::count(c, &f)?);
            }
            if fields.transactions {
                let mut sql = Sql::default();
                if !ids.is_empty() {
                    let cond = sql.in_list("project_id", ids.iter().copied());
                    sql.cond(cond);
                }
                for (col, values) in [("environment", &environments), ("release", &releases)] {
                    if !values.is_empty() {
                        let cond = sql.in_list(col, values.iter().cloned());
                        sql.cond(cond);
                    }
                }
                if let Some(t) = &transaction {
                    let p = sql.bind(like_pattern(t));
                    sql.cond(format!("name LIKE {p} ESCAPE '\\'"));
                }
                range.restrict(&mut sql, "start_ts");
                let transactions: i64 = c.query_row(
                    &format!(
                        "SELECT COUNT(*) FROM transactions WHERE {}",
                        sql.where_clause()
                    ),
                    rusqlite::params_from_iter(sql.params.iter()),
                    |r| r.get(0),
                )?;
                stats.transactions = Some(transactions);
            }
            if fields.segments {
                stats.segments = Some(count_segments(
                    c,
                    &ids,
                    &environments,
                    &releases,
                    transaction.as_deref(),
                    &range,
                )?);
            }
            if fields.check_ins {
                stats.check_ins = Some(count_check_ins(
                    c,
                    &ids,
                    &monitors,
                    &environments,
                    &releases,
                    &check_in_statuses,
                    &range,
                    now,
                )?);
            }
            if fields.missed_check_ins {
                stats.missed_check_ins = Some(super::monitors::count_missed(
                    c,
                    ids.iter().map(i64::to_string).collect(),
                    &monitors,
                    environments.clone(),
                    range,
                    now,
                )?);
            }
            if fields.sessions {
                let filter = HealthFilter {
                    projects: ids,
                    releases,
                    environments,
                    range,
                };
                let (_, totals) = compute_health(
                    c,
                    &filter,
                    GroupBy {
                        project: false,
                        release: false,
                        environment: false,
                    },
                )?;
                stats.sessions = Some(totals.sessions);
                stats.crash_free_sessions = totals.crash_free_sessions;
                stats.crash_free_users = totals.crash_free_users;
            }
            Ok(stats)
        })
        .await?;
    Reply::json(&stats)
}

/// `GET /api/0/local/stream/?after=SEQ`: events stored after `after`, oldest
/// first (`limit`, default 100). Without `after`: the newest `tail` events
/// (default 0) and the cursor to follow from. Filters `project`, `level`.
/// A cursor past every event id this database ever gave out comes from
/// another database (the receiver restarted on a new file): the stream
/// starts over from its first event rather than waiting for ids it will
/// not reach for a long time.
pub(crate) async fn stream(ctx: &Ctx) -> Result<Reply, ApiError> {
    let q = &ctx.query;
    let after = q.int("after", 0, i64::MAX)?;
    let tail = q.int("tail", 0, 1000)?.unwrap_or(0);
    let limit = q.int("limit", 1, 1000)?.unwrap_or(100);
    let levels = issues::levels_param(q)?;
    let keys = q.all("project");
    let page = ctx
        .read(move |c| {
            let mut sql = Sql::default();
            if let Some(ids) = projects::filter_ids(c, &keys)? {
                let cond = sql.in_list("e.project_id", ids);
                sql.cond(cond);
            }
            if !levels.is_empty() {
                let cond = sql.in_list("e.level", levels.iter().cloned());
                sql.cond(cond);
            }
            let max_seq: i64 =
                c.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))?;
            // Deleted newest events leave their ids behind as a floor.
            let handed_out: i64 = c.query_row(
                "SELECT max(?1, COALESCE((SELECT value FROM id_floors WHERE name = 'events'), 0))",
                [max_seq],
                |r| r.get(0),
            )?;
            let after = after.map(|a| if a > handed_out { 0 } else { a });
            let (order, n) = match after {
                Some(a) => {
                    let p = sql.bind(a);
                    sql.cond(format!("e.id > {p}"));
                    ("ASC", limit)
                }
                None => ("DESC", tail),
            };
            let query = format!(
                "SELECT e.id, e.event_id, e.issue_id, e.project_id, e.level, e.title,
                     e.timestamp, e.environment, e.release
                 FROM events e WHERE {} ORDER BY e.id {order} LIMIT {n}",
                sql.where_clause()
            );
            let mut events: Vec<StreamEvent> = c
                .prepare(&query)?
                .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
                    let issue: Option<i64> = r.get(2)?;
                    let project: i64 = r.get(3)?;
                    let ts: f64 = r.get(6)?;
                    Ok(StreamEvent {
                        seq: r.get(0)?,
                        event_id: r.get(1)?,
                        group_id: issue.map(|i| i.to_string()),
                        project_id: project.to_string(),
                        level: r.get(4)?,
                        title: r.get(5)?,
                        date_created: iso(ts),
                        environment: r.get(7)?,
                        release: r.get(8)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            if after.is_none() {
                events.reverse();
            }
            // Nothing up to `max_seq` (read first) is missed by skipping
            // ahead to it: the query saw at least those rows.
            let last = events.last().map_or(0, |e| e.seq);
            let cursor = match after {
                Some(a) if !events.is_empty() => a.max(last),
                Some(a) => a.max(max_seq),
                None => max_seq.max(last),
            };
            Ok(StreamPage { events, cursor })
        })
        .await?;
    Reply::json(&page)
}
