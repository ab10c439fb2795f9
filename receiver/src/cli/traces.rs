//! `receiver transactions` lists the stored transactions of a running
//! receiver (`GET /api/0/local/transactions/`); `receiver trace ID` draws
//! one trace as a tree of spans with a time bar each, across the services
//! that took part, with the errors each span reported
//! (`GET /api/0/local/traces/{id}/`).

use clap::Args;
use sentry_core::protocol::Timestamp;
use serde_json::Value;

use super::client::Client;
use super::commands::{enc, print_json, print_list, query_string};
use super::filters::ListFilters;
use super::output::{emit, short_id, short_time, table, truncate};
use super::CliError;
use crate::api::types::{SpanDetail, SpanNode, Trace, TraceError, Transaction};

/// `receiver transactions`
#[derive(Debug, Clone, Args)]
#[command(mut_arg("query", |a| a.help(
    "Only transactions whose name holds this (ASCII letters match in any case, others exactly)"
)))]
pub struct TransactionsArgs {
    /// Which entries.
    #[command(flatten)]
    pub filters: ListFilters,
    /// Only this operation (`http.server`, `task`, …).
    #[arg(long)]
    pub op: Option<String>,
    /// Only this status (`ok`, `internal_error`, …).
    #[arg(long)]
    pub status: Option<String>,
    /// Only transactions that took at least this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub min_duration: Option<f64>,
    /// `-timestamp` (newest first, the default), `timestamp`, `-duration`
    /// (slowest first) or `duration`. A duration sort covers the newest
    /// 50 000 transactions of the time range (whatever the other filters
    /// keep); when the range holds more, a note on stderr says from when.
    #[arg(long, default_value = "-timestamp", allow_hyphen_values = true)]
    pub sort: String,
    /// Most transactions to show.
    #[arg(long, default_value_t = 25, value_parser = super::filters::parse_limit)]
    pub limit: usize,
}

/// `receiver transactions`: a table (or `--json`) of transactions.
pub fn transactions(
    client: &Client,
    args: &TransactionsArgs,
    json_out: bool,
) -> Result<(), CliError> {
    let min_duration = args.min_duration.map(|ms| ms.to_string());
    let mut pairs = args.filters.pairs();
    pairs.push(("sort", &args.sort));
    for (key, value) in [
        ("op", &args.op),
        ("status", &args.status),
        ("min_duration", &min_duration),
    ] {
        if let Some(v) = value {
            pairs.push((key, v));
        }
    }
    // A duration sort is exact within a window of the newest 50 000
    // transactions of the range; the next window's pages are sorted apart
    // from it, so the list stops where the first window ends, and says so.
    let by_duration = args.sort.trim_start_matches('-') == "duration";
    let mut window: Option<Option<String>> = None;
    let out: Vec<Transaction> = client.follow_links_while(
        &format!("/api/0/local/transactions/?{}", query_string(&pairs)),
        args.limit,
        100,
        |response| {
            let stopped_at = (response.header("x-scan-stopped") == Some("true"))
                .then(|| response.header("x-scanned-to").unwrap_or("?").to_owned());
            match &window {
                None => {
                    window = Some(stopped_at);
                    true
                }
                Some(first) => !by_duration || *first == stopped_at,
            }
        },
    )?;
    if let (true, Some(Some(oldest))) = (by_duration, &window) {
        eprintln!(
            "note: sorted by duration only among the transactions started since {oldest}: \
             a duration sort reads the newest 50 000 transactions of the time range, \
             whatever the other filters keep, and older ones are not listed"
        );
    }
    print_list(
        &out,
        json_out,
        "no transactions (an SDK that streams its spans, as @sentry/node 11 does by \
         default, sends segments instead: `receiver spans --segments`)",
        &[
            "STARTED",
            "DURATION",
            "STATUS",
            "OP",
            "TRACE",
            "TRANSACTION",
        ],
        |t| {
            vec![
                short_time(&t.start_timestamp),
                milliseconds(t.duration),
                t.status.clone().unwrap_or_default(),
                t.op.clone().unwrap_or_default(),
                short_id(t.trace_id.as_deref()),
                truncate(t.transaction.as_deref().unwrap_or(""), 80),
            ]
        },
    )
}

/// `receiver trace ID`
#[derive(Debug, Clone, Args)]
pub struct TraceArgs {
    /// The trace id: 32 hex digits, or its first 8 or more as tables
    /// show it.
    pub id: String,
    /// Width of the time bars, in characters.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(4..=200))]
    pub width: u16,
    /// Show this span of the trace whole (its data, tags or attributes)
    /// instead of the tree: its id, or the first digits of it (the tree's
    /// ID column shows eight).
    #[arg(long)]
    pub span: Option<String>,
}

/// `receiver trace ID`: the trace's spans as a tree, each with its start
/// (from the trace's first span), duration and a bar on the trace's time
/// line; the errors a span reported below it, and the errors no span
/// claims at the end.
pub fn trace(client: &Client, args: &TraceArgs, json_out: bool) -> Result<(), CliError> {
    let path = format!("/api/0/local/traces/{}/", enc(args.id.trim()));
    let (trace, _): (Trace, _) = client.get(&path)?;
    if let Some(wanted) = &args.span {
        let found = match one_span(&trace, wanted) {
            Ok(node) => Some(node),
            // The view holds a trace's first 10 000 spans: a whole span id
            // past them is asked of the span route itself.
            Err(CliError::Api { status: 404, .. })
                if trace.truncated && crate::ids::hex_id(wanted.trim(), 16).is_some() =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        let span_id = found.map_or_else(
            || wanted.trim().to_ascii_lowercase(),
            |node| node.span_id.clone(),
        );
        let path = format!(
            "/api/0/local/traces/{}/spans/{}/",
            enc(&trace.trace_id),
            enc(&span_id)
        );
        let (detail, _): (SpanDetail, _) = client.get(&path)?;
        if json_out {
            return print_json(&detail);
        }
        let node = match found {
            Some(node) => node.clone(),
            None => node_of(&detail),
        };
        emit(&render_span(&node, &detail));
        return Ok(());
    }
    if json_out {
        return print_json(&trace);
    }
    emit(&render_trace(&trace, usize::from(args.width)));
    Ok(())
}

/// The columns of a span the trace view did not hold, from the span as
/// its SDK sent it (a transaction's span or a streamed one).
fn node_of(detail: &SpanDetail) -> SpanNode {
    let span = detail.span.as_ref();
    let text = |key: &str| {
        span.and_then(|s| s.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let time = |key: &str| -> Option<f64> {
        match span?.get(key)? {
            Value::Number(n) => n.as_f64(),
            Value::String(t) => Timestamp::parse_rfc3339(t).map(Timestamp::as_secs_f64),
            _ => None,
        }
    };
    let start = time("start_timestamp");
    let end = time("end_timestamp").or_else(|| time("timestamp"));
    let iso = |t: f64| Timestamp::from_secs_f64(t).to_rfc3339();
    SpanNode {
        span_id: detail.span_id.clone(),
        parent_span_id: text("parent_span_id"),
        op: text("op"),
        description: text("description").or_else(|| text("name")),
        status: text("status"),
        start_timestamp: start.map(iso).unwrap_or_default(),
        timestamp: end.map(iso),
        duration: start
            .zip(end)
            .map(|(s, e)| ((e - s) * 1e6).round() / 1000.0),
        project_id: detail.project_id.clone(),
        transaction_id: detail.transaction_id.clone(),
        is_segment: false,
        errors: Vec::new(),
        children: Vec::new(),
    }
}

/// The one span of `trace` whose id starts with `wanted` (any case).
fn one_span<'a>(trace: &'a Trace, wanted: &str) -> Result<&'a SpanNode, CliError> {
    let wanted = wanted.trim().to_ascii_lowercase();
    let mut found: Vec<&SpanNode> = Vec::new();
    if !wanted.is_empty() {
        walk(&trace.roots, &mut |s| {
            if s.span_id.starts_with(&wanted) {
                found.push(s);
            }
        });
    }
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(CliError::Api {
            status: 404,
            detail: format!(
                "no span of trace {} has an id starting with {wanted:?}",
                trace.trace_id
            ),
        }),
        [first, second, ..] => Err(CliError::Api {
            status: 400,
            detail: format!(
                "span id {wanted} is ambiguous: {}, {} and perhaps more start with it; give more digits",
                first.span_id, second.span_id
            ),
        }),
    }
}

/// The text `receiver trace ID --span S` prints: the span's columns, then
/// each of its data, tags and attributes (a v2 attribute's value without
/// its type) as `key  value` lines.
fn render_span(node: &SpanNode, detail: &SpanDetail) -> String {
    let origin = match &detail.transaction_id {
        Some(event) => format!("transaction {event}"),
        None => "sent on its own".to_owned(),
    };
    let mut out = format!(
        "span {} of trace {} (project {}, {origin})\n",
        detail.span_id, detail.trace_id, detail.project_id
    );
    let mut facts = Vec::new();
    for (key, value) in [
        ("op", node.op.clone()),
        ("description", node.description.clone()),
        ("status", node.status.clone()),
        ("start", Some(short_time(&node.start_timestamp))),
        ("duration", node.duration.map(milliseconds)),
        ("parent", node.parent_span_id.clone()),
    ] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            facts.push(vec![
                format!("  {key}"),
                value.split_whitespace().collect::<Vec<_>>().join(" "),
            ]);
        }
    }
    out.push_str(&key_values(&facts));
    let Some(span) = &detail.span else {
        out.push_str(
            "(no more to show: what it came in is no longer stored, or this receiver \
             stored it before it kept that link, migration 47)\n",
        );
        return out;
    };
    for section in ["data", "tags", "attributes"] {
        let Some(Value::Object(fields)) = span.get(section) else {
            continue;
        };
        if fields.is_empty() {
            continue;
        }
        let rows: Vec<Vec<String>> = fields
            .iter()
            .map(|(key, value)| {
                // A v2 attribute is `{"type": …, "value": …}`.
                let value = match (section, value) {
                    ("attributes", Value::Object(a)) => a.get("value").unwrap_or(value),
                    _ => value,
                };
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                // One line per key: a query's line breaks become spaces.
                vec![
                    format!("  {key}"),
                    text.split_whitespace().collect::<Vec<_>>().join(" "),
                ]
            })
            .collect();
        out.push_str(&format!("{section}:\n"));
        out.push_str(&key_values(&rows));
    }
    out
}

/// `rows` of a key and a value, aligned as a table without its header.
fn key_values(rows: &[Vec<String>]) -> String {
    table(&["", ""], rows)
        .lines()
        .skip(1)
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The text `receiver trace` prints for `trace`.
fn render_trace(trace: &Trace, width: usize) -> String {
    let errors = count_errors(&trace.roots) + trace.orphan_errors.len();
    let mut out = format!(
        "trace {}: {} service{}, {} transaction{}, {} span{}, {} error{}\n",
        trace.trace_id,
        trace.projects.len(),
        plural(trace.projects.len()),
        trace.transactions,
        plural(trace.transactions as usize),
        trace.spans,
        plural(trace.spans as usize),
        errors,
        plural(errors),
    );
    let window = Window::of(&trace.roots);
    let mut rows = Vec::new();
    // In a trace whose spans come from more than one service, each root
    // says its project too (no parent project matches the empty one).
    // `trace.projects` counts projects that only sent errors as well.
    let mut span_projects = std::collections::BTreeSet::new();
    walk(&trace.roots, &mut |s| {
        span_projects.insert(s.project_id.as_str());
    });
    let root_parent = (span_projects.len() > 1).then_some("");
    let id_len = distinct_prefix_len(&trace.roots);
    for root in &trace.roots {
        span_rows(root, root_parent, 0, (&window, width, id_len), &mut rows);
    }
    if rows.is_empty() {
        out.push_str("no spans\n");
    } else {
        out.push_str(&table(&["ID", "START", "DURATION", "", "SPAN"], &rows));
    }
    if !trace.orphan_errors.is_empty() {
        out.push_str("errors no span claims:\n");
        for e in &trace.orphan_errors {
            out.push_str(&format!("  {}\n", error_text(e)));
        }
    }
    if trace.truncated {
        out.push_str("(only the first 10 000 spans and 1 000 errors are shown)\n");
    }
    out
}

/// Where the trace's spans lie in time: from the earliest start to the
/// latest end, in seconds.
struct Window {
    start: f64,
    length: f64,
}

impl Window {
    fn of(roots: &[SpanNode]) -> Window {
        let mut start = f64::INFINITY;
        let mut end = f64::NEG_INFINITY;
        let mut visit = |s: &SpanNode| {
            if let Some(t) = seconds_of(&s.start_timestamp) {
                start = start.min(t);
                end = end.max(t + s.duration.unwrap_or(0.0) / 1000.0);
            }
        };
        walk(roots, &mut visit);
        if !start.is_finite() {
            return Window {
                start: 0.0,
                length: 0.0,
            };
        }
        Window {
            start,
            length: whole_microseconds(end - start).max(0.0),
        }
    }

    /// The bar for a span from `start` lasting `ms`: `·` before it, `█`
    /// while it runs (at least one), nothing after.
    fn bar(&self, start: Option<f64>, ms: Option<f64>, width: usize) -> String {
        let Some(start) = start else {
            return String::new();
        };
        if self.length <= 0.0 {
            return "█".to_owned();
        }
        // Times are microseconds apart (RFC 3339 with six digits), but as
        // seconds since 1970 their differences carry float noise: 10 ms
        // after the start must be 10 ms, not 9.9999998 (a cell early).
        let scale = width as f64 / self.length;
        let offset = whole_microseconds(start - self.start);
        let end = offset + whole_microseconds(ms.unwrap_or(0.0) / 1000.0);
        let from = ((offset * scale + 1e-9).floor() as usize).min(width - 1);
        let to = ((end * scale - 1e-9).ceil() as usize).clamp(from + 1, width);
        format!("{}{}", "·".repeat(from), "█".repeat(to - from))
    }
}

/// `seconds` rounded to whole microseconds.
fn whole_microseconds(seconds: f64) -> f64 {
    (seconds * 1e6).round() / 1e6
}

fn walk<'a>(spans: &'a [SpanNode], visit: &mut impl FnMut(&'a SpanNode)) {
    for s in spans {
        visit(s);
        walk(&s.children, visit);
    }
}

fn count_errors(spans: &[SpanNode]) -> usize {
    let mut n = 0;
    walk(spans, &mut |s| n += s.errors.len());
    n
}

/// How many digits of span ids the tree shows: 8, or more where two
/// spans' first 8 are the same (as git lengthens short ids), so that
/// `--span` takes back what is shown.
fn distinct_prefix_len(roots: &[SpanNode]) -> usize {
    let mut ids = std::collections::BTreeSet::new();
    walk(roots, &mut |s| {
        ids.insert(s.span_id.as_str());
    });
    (8..16)
        .find(|&len| {
            let mut seen = std::collections::HashSet::new();
            ids.iter()
                .all(|id| seen.insert(id.get(..len).unwrap_or(id)))
        })
        .unwrap_or(16)
}

/// The rows of `span` and its subtree: `shown` is the time line, the
/// bars' width and the digits of ids to show.
fn span_rows(
    span: &SpanNode,
    parent_project: Option<&str>,
    depth: usize,
    shown: (&Window, usize, usize),
    rows: &mut Vec<Vec<String>>,
) {
    let (window, width, id_len) = shown;
    let start = seconds_of(&span.start_timestamp);
    let indent = "  ".repeat(depth);
    let mut label = span.op.clone().unwrap_or_else(|| "(no op)".to_owned());
    if let Some(d) = span.description.as_deref().filter(|d| !d.is_empty()) {
        label.push_str(" - ");
        label.push_str(&truncate(d, 80));
    }
    if let Some(status) = span.status.as_deref().filter(|s| *s != "ok") {
        label.push_str(&format!(" [{status}]"));
    }
    if parent_project.is_some_and(|p| p != span.project_id) {
        // Where the trace crosses into another service, say which.
        label.push_str(&format!(" (project {})", span.project_id));
    }
    rows.push(vec![
        span.span_id.chars().take(id_len).collect(),
        start
            .map(|t| milliseconds((t - window.start) * 1000.0))
            .unwrap_or_default(),
        span.duration.map(milliseconds).unwrap_or_default(),
        window.bar(start, span.duration, width),
        format!("{indent}{label}"),
    ]);
    for e in &span.errors {
        rows.push(vec![
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            format!("{indent}  {}", error_text(e)),
        ]);
    }
    for child in &span.children {
        span_rows(child, Some(&span.project_id), depth + 1, shown, rows);
    }
}

/// `! KeyError: no such user (issue 12, event 0af76519)`
fn error_text(e: &TraceError) -> String {
    let mut text = format!("! {} [{}]", truncate(&e.title, 80), e.level);
    let event = short_id(Some(&e.event_id));
    match &e.issue_id {
        Some(issue) => text.push_str(&format!(" (issue {issue}, event {event})")),
        None => text.push_str(&format!(" (event {event})")),
    }
    text
}

fn seconds_of(iso: &str) -> Option<f64> {
    Timestamp::parse_rfc3339(iso).map(Timestamp::as_secs_f64)
}

/// `0.42 ms`, `12.5 ms`, `1.25 s`: chosen by the value as rounded, so
/// 999.96 ms is `1.00 s`.
pub(crate) fn milliseconds(ms: f64) -> String {
    // A value that rounds to zero has no sign.
    let ms = if ms.abs() < 0.005 { 0.0 } else { ms };
    if ms.abs() >= 999.95 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms.abs() >= 9.995 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, start: &str, ms: f64, children: Vec<SpanNode>) -> SpanNode {
        SpanNode {
            span_id: id.into(),
            parent_span_id: None,
            op: Some("db".into()),
            description: Some(format!("span {id}")),
            status: None,
            start_timestamp: start.into(),
            timestamp: None,
            duration: Some(ms),
            project_id: "1".into(),
            transaction_id: None,
            is_segment: false,
            errors: Vec::new(),
            children,
        }
    }

    #[test]
    fn bars_place_each_span_on_the_trace_time_line() {
        let mut child = span("b", "2024-05-01T12:00:00.500Z", 500.0, vec![]);
        // Sent by another service.
        child.project_id = "2".into();
        let root = span("a", "2024-05-01T12:00:00Z", 1000.0, vec![child]);
        let w = Window::of(std::slice::from_ref(&root));
        assert_eq!(w.length, 1.0);
        assert_eq!(w.bar(Some(w.start), Some(1000.0), 10), "██████████");
        assert_eq!(w.bar(Some(w.start + 0.5), Some(500.0), 10), "·····█████");
        // A span too short to see still shows.
        assert_eq!(w.bar(Some(w.start + 0.5), Some(0.0), 10), "·····█");
        // Seconds since 1970 carry float noise in their differences: a
        // start 10 ms after the window's lands where 10 ms does.
        let noisy = Window {
            start: 1_764_380_000.123_456,
            length: 0.12,
        };
        let ten_ms = 1_764_380_000.133_456 - 1e-8;
        assert_eq!(noisy.bar(Some(ten_ms), Some(60.0), 12), "·██████");
        let text = render_trace(
            &Trace {
                trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
                projects: vec!["1".into(), "2".into()],
                transactions: 2,
                spans: 2,
                roots: vec![root],
                orphan_errors: Vec::new(),
                truncated: false,
            },
            10,
        );
        assert!(
            text.starts_with("trace 0af7651916cd43dd8448eb211c80319c: 2 services, 2 transactions, 2 spans, 0 errors\n"),
            "{text}"
        );
        assert!(text.contains("500.0 ms"), "{text}");
        assert!(text.contains("span b (project 2)"), "{text}");
        // The child is indented under its parent.
        assert!(
            text.contains("██████████  db - span a (project 1)\n"),
            "{text}"
        );
        assert!(text.contains("·····█████    db - span b"), "{text}");
    }

    #[test]
    fn durations_read_plainly() {
        assert_eq!(milliseconds(0.4234), "0.42 ms");
        assert_eq!(milliseconds(12.54), "12.5 ms");
        assert_eq!(milliseconds(1250.0), "1.25 s");
        assert_eq!(milliseconds(999.96), "1.00 s");
        assert_eq!(milliseconds(9.996), "10.0 ms");
        assert_eq!(milliseconds(-3.0), "-3.00 ms");
        assert_eq!(milliseconds(-0.001), "0.00 ms");
    }

    #[test]
    fn roots_say_their_project_when_the_trace_crosses_services() {
        let root = span("a", "2024-05-01T12:00:00Z", 1000.0, vec![]);
        let mut other = span("b", "2024-05-01T12:00:00Z", 1000.0, vec![]);
        other.project_id = "2".into();
        let mut trace = Trace {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            projects: vec!["1".into(), "2".into()],
            transactions: 2,
            spans: 2,
            roots: vec![root, other],
            orphan_errors: Vec::new(),
            truncated: false,
        };
        let text = render_trace(&trace, 10);
        assert!(text.contains("db - span a (project 1)\n"), "{text}");
        assert!(text.contains("db - span b (project 2)\n"), "{text}");
        // Project 2 only sent an error: the spans are all project 1's.
        trace.roots.truncate(1);
        let text = render_trace(&trace, 10);
        assert!(text.contains("db - span a\n"), "{text}");
    }

    /// Ids are shown to 8 digits, or to as many as tell the trace's spans
    /// apart.
    #[test]
    fn span_ids_are_shown_long_enough_to_tell_them_apart() {
        let t = "2024-05-01T12:00:00Z";
        let spans = |ids: &[&str]| -> Vec<SpanNode> {
            ids.iter().map(|id| span(id, t, 1.0, vec![])).collect()
        };
        assert_eq!(
            distinct_prefix_len(&spans(&["aaaa0000bbbb0001", "cccc0000bbbb0001"])),
            8
        );
        let close = spans(&["aaaa0000bbbb0001", "aaaa0000bbcc0002"]);
        assert_eq!(distinct_prefix_len(&close), 11);
        let trace = Trace {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            projects: vec!["1".into()],
            transactions: 1,
            spans: 2,
            roots: close,
            orphan_errors: Vec::new(),
            truncated: false,
        };
        let text = render_trace(&trace, 10);
        assert!(
            text.lines().any(|l| l.starts_with("aaaa0000bbb ")),
            "{text}"
        );
        assert!(
            text.lines().any(|l| l.starts_with("aaaa0000bbc ")),
            "{text}"
        );
        // A span sent twice (one id) needs no more digits.
        assert_eq!(
            distinct_prefix_len(&spans(&["aaaa0000bbbb0001", "aaaa0000bbbb0001"])),
            8
        );
    }
}
