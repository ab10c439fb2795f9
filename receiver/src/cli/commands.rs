//! The commands that talk to a running receiver's JSON API: `issues`,
//! `issue`, `event`, `tail`, `wait`, `check`.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Value};

use super::client::Client;
use super::output::{
    emit, emit_json, emitln, indented, one_line, short_time, table, truncate, Progress,
};
use super::CliError;
use crate::api::types::{Issue, IssueDetail, Project, Stats, StreamPage};

/// Percent-encodes a query value.
pub(crate) fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `key=value` pairs into a query string, a key repeated as often as it
/// comes.
pub(crate) fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `key=value` pairs into a query string (empty values skipped).
fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let present: Vec<(&str, &str)> = pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| (*k, v)))
        .collect();
    query_string(&present)
}

pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Usage(format!("cannot encode JSON: {e}")))?;
    emit_json(&format!("{text}\n"));
    Ok(())
}

/// A list as the list commands print it: JSON with `--json`; else `none`
/// on stderr when it is empty, or a table of `headers` with `row` of each
/// entry.
pub(crate) fn print_list<T: serde::Serialize>(
    entries: &[T],
    json_out: bool,
    none: &str,
    headers: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) -> Result<(), CliError> {
    if json_out {
        return print_json(&entries);
    }
    if entries.is_empty() {
        eprintln!("{none}");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries.iter().map(row).collect();
    emit(&table(headers, &rows));
    Ok(())
}

/// Parses `30s`, `500ms`, `2m`, `1h`, `7d`, `2w` or plain seconds (at most
/// a year).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len()),
    );
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: use e.g. 30s, 500ms, 2m"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        "w" => n * 604_800.0,
        _ => {
            return Err(format!(
                "invalid duration unit in {s:?}: use ms, s, m, h, d or w"
            ))
        }
    };
    if !secs.is_finite() || !(0.0..=31_536_000.0).contains(&secs) {
        return Err(format!("invalid duration {s:?}: at most a year (365d)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a rate: `0.995`, `99.5%`.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let (num, pct) = match s.strip_suffix('%') {
        Some(n) => (n, true),
        None => (s, false),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid rate {s:?}: use e.g. 0.99 or 99%"))?;
    let rate = if pct || n > 1.0 { n / 100.0 } else { n };
    if !(0.0..=1.0).contains(&rate) {
        return Err(format!("rate {s:?} is not between 0 and 100%"));
    }
    Ok(rate)
}

/// `receiver issues`
#[derive(Debug, Clone, Args)]
pub struct IssuesArgs {
    /// Project id or slug (default: every project).
    #[arg(long)]
    pub project: Option<String>,
    /// `unresolved`, `resolved`, `ignored` or `all` (default: `unresolved`,
    /// unless `--query` has an `is:` term, which then decides).
    #[arg(long)]
    pub status: Option<String>,
    /// Only this level (fatal, error, warning, info, debug).
    #[arg(long)]
    pub level: Option<String>,
    /// Only issues seen in this environment.
    #[arg(long)]
    pub environment: Option<String>,
    /// Only issues seen in this release.
    #[arg(long)]
    pub release: Option<String>,
    /// Search text or Sentry search syntax (`level:error "some text"`).
    #[arg(long, short)]
    pub query: Option<String>,
    /// `date` (last seen), `new` (first seen), `freq` (events) or `user`.
    #[arg(long, default_value = "date")]
    pub sort: String,
    /// Most issues to show.
    #[arg(long, default_value_t = 25, value_parser = super::filters::parse_limit)]
    pub limit: usize,
}

/// `receiver issues`: a table (or `--json`) of issues.
pub fn issues(client: &Client, args: &IssuesArgs, json_out: bool) -> Result<(), CliError> {
    let status = match args.status.as_deref() {
        Some("all") => None,
        Some(status) => Some(status),
        None if args
            .query
            .as_deref()
            .is_some_and(crate::api::search_names_status) =>
        {
            None
        }
        None => Some("unresolved"),
    };
    let base = query(&[
        ("query", Some(args.query.as_deref().unwrap_or(""))),
        ("status", status),
        ("project", args.project.as_deref()),
        ("level", args.level.as_deref()),
        ("environment", args.environment.as_deref()),
        ("release", args.release.as_deref()),
        ("sort", Some(&args.sort)),
    ]);
    let out: Vec<Issue> = client.follow_links(
        &format!("/api/0/organizations/local/issues/?{base}"),
        args.limit,
        100,
    )?;
    print_list(
        &out,
        json_out,
        "no issues",
        &[
            "ID",
            "SHORT ID",
            "STATUS",
            "LEVEL",
            "EVENTS",
            "USERS",
            "LAST SEEN",
            "TITLE",
        ],
        |i| {
            vec![
                i.id.clone(),
                i.short_id.clone(),
                i.status.clone(),
                i.level.clone(),
                i.count.clone(),
                i.user_count.to_string(),
                short_time(&i.last_seen),
                truncate(&i.title, 80),
            ]
        },
    )
}

/// `receiver issue ID`
#[derive(Debug, Clone, Args)]
pub struct IssueArgs {
    /// Issue id or short id (`DEFAULT-1A`).
    pub id: String,
    /// Mark it resolved first.
    #[arg(long, conflicts_with_all = ["unresolve", "ignore"])]
    pub resolve: bool,
    /// Mark it unresolved first.
    #[arg(long, conflicts_with = "ignore")]
    pub unresolve: bool,
    /// Mark it ignored first.
    #[arg(long)]
    pub ignore: bool,
    /// Merge these issues (ids or short ids, comma-separated) with it
    /// first: the one seen most often takes the others in, and is shown.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["resolve", "unresolve", "ignore"])]
    pub merge: Vec<String>,
}

/// Merges `others` with `id` (`PUT …/issues/?id=…` with `{"merge": true}`)
/// and returns the id of the issue that stayed; says what it did on
/// stderr.
fn merge_issues(client: &Client, id: &str, others: &[String]) -> Result<String, CliError> {
    // The bulk endpoint takes numeric ids: short ids are looked up.
    let mut ids = Vec::with_capacity(others.len() + 1);
    for key in std::iter::once(id).chain(others.iter().map(String::as_str)) {
        let (issue, _): (Value, _) = client.get(&format!("/api/0/issues/{}/", enc(key.trim())))?;
        let numeric = issue["id"].as_str().unwrap_or_default().to_owned();
        ids.push(format!("id={}", enc(&numeric)));
    }
    let answer: Value = client.send(
        "PUT",
        &format!("/api/0/organizations/local/issues/?{}", ids.join("&")),
        &json!({"merge": true}),
    )?;
    let parent = answer["merge"]["parent"]
        .as_str()
        .ok_or_else(|| CliError::Usage(format!("unexpected merge answer {answer}")))?
        .to_owned();
    let children: Vec<&str> = answer["merge"]["children"]
        .as_array()
        .map(|c| c.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    eprintln!("merged issue {} into issue {parent}", children.join(", "));
    Ok(parent)
}

/// `receiver issue ID`: the issue with its tags, grouping and latest event.
pub fn issue(client: &Client, args: &IssueArgs, json_out: bool) -> Result<(), CliError> {
    let mut id = enc(args.id.trim());
    if !args.merge.is_empty() {
        id = enc(&merge_issues(client, &args.id, &args.merge)?);
    }
    let status = if args.resolve {
        Some("resolved")
    } else if args.unresolve {
        Some("unresolved")
    } else if args.ignore {
        Some("ignored")
    } else {
        None
    };
    if let Some(status) = status {
        let _: Value = client.send(
            "PUT",
            &format!("/api/0/issues/{id}/"),
            &json!({"status": status}),
        )?;
    }
    let (detail, _): (IssueDetail, _) = client.get(&format!("/api/0/issues/{id}/"))?;
    let latest: Option<Value> =
        match client.get::<Value>(&format!("/api/0/issues/{id}/events/latest/")) {
            Ok((v, _)) => Some(v),
            Err(CliError::Api { status: 404, .. }) => None,
            Err(e) => return Err(e),
        };
    if json_out {
        let mut v = serde_json::to_value(&detail)
            .map_err(|e| CliError::Usage(format!("cannot encode JSON: {e}")))?;
        if let Value::Object(o) = &mut v {
            o.insert("latestEvent".into(), latest.unwrap_or(Value::Null));
        }
        return print_json(&v);
    }
    let i = &detail.issue;
    let mut out = String::new();
    out.push_str(&format!("{}  {}\n", i.short_id, one_line(&i.title)));
    out.push_str(&format!(
        "  id {} · project {} · status {}{} · level {}\n",
        i.id,
        i.project.slug,
        i.status,
        i.substatus
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default(),
        i.level
    ));
    out.push_str(&format!(
        "  events {} · users {} · first seen {} · last seen {}\n",
        i.count,
        i.user_count,
        short_time(&i.first_seen),
        short_time(&i.last_seen)
    ));
    if let Some(c) = &i.culprit {
        out.push_str(&format!("  culprit {}\n", one_line(c)));
    }
    if let Some(r) = &detail.first_release {
        out.push_str(&format!("  first release {}", r.version));
        if let Some(l) = &detail.last_release {
            out.push_str(&format!(" · last release {}", l.version));
        }
        out.push('\n');
    }
    if let Some(a) = &i.assigned_to {
        out.push_str(&format!("  assigned to {}\n", a.name));
    }
    if !i.status_details.is_empty() {
        out.push_str(&format!(
            "  status details {}\n",
            Value::Object(i.status_details.clone())
        ));
    }
    if !detail.tags.is_empty() {
        out.push_str("\nTags:\n");
        let rows: Vec<Vec<String>> = detail
            .tags
            .iter()
            .map(|t| {
                let values: Vec<String> = t
                    .top_values
                    .iter()
                    .take(5)
                    .map(|v| format!("{} ({})", truncate(&v.value, 40), v.count))
                    .collect();
                vec![format!("  {}", t.key), values.join(", ")]
            })
            .collect();
        out.push_str(&table(&["  KEY", "TOP VALUES"], &rows));
    }
    if !detail.grouping.hashes.is_empty() {
        out.push_str("\nGrouping:\n");
        for h in &detail.grouping.hashes {
            out.push_str(&format!(
                "  {} {} / {}: {}\n",
                h.hash,
                h.variant,
                h.component,
                truncate(&h.inputs.join(" | "), 100)
            ));
        }
    }
    if let Some(e) = latest {
        out.push_str(&format!(
            "\nLatest event {} at {}\n",
            e["eventID"].as_str().unwrap_or("?"),
            short_time(e["dateCreated"].as_str().unwrap_or(""))
        ));
    }
    emit(&out);
    Ok(())
}

/// `receiver event ID`
#[derive(Debug, Clone, Args)]
pub struct EventArgs {
    /// Event id: 32 hex digits (dashes allowed), or its first 8 or more as
    /// tables show it.
    pub id: String,
    /// Project id or slug (default: look in every project).
    #[arg(long)]
    pub project: Option<String>,
}

/// `receiver event ID`: the stored event, summarised (or `--json`).
pub fn event(client: &Client, args: &EventArgs, json_out: bool) -> Result<(), CliError> {
    let projects: Vec<String> = match &args.project {
        Some(p) => vec![p.clone()],
        None => {
            let (list, _): (Vec<Project>, _) = client.get("/api/0/projects/")?;
            list.into_iter().map(|p| p.id).collect()
        }
    };
    let given = args.id.trim();
    // A full id is one project's at most; a prefix may start ids of
    // several, and then it names none.
    let whole = crate::ids::hex_id(given, 32).is_some();
    let mut found: Vec<(String, Value)> = Vec::new();
    for p in &projects {
        let path = format!("/api/0/projects/local/{}/events/{}/", enc(p), enc(given));
        match client.get::<Value>(&path) {
            Ok((v, _)) => {
                found.push((p.clone(), v));
                if whole {
                    break;
                }
            }
            // One project named: its own 404 says what is missing (the
            // project or the event).
            Err(e @ CliError::Api { status: 404, .. }) if args.project.is_some() => return Err(e),
            Err(CliError::Api { status: 404, .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    if found.len() > 1 {
        return Err(CliError::Api {
            status: 400,
            detail: format!(
                "event id {given} is ambiguous: events of projects {} start with it; give more digits or --project",
                found.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let Some((project, e)) = found.pop() else {
        return Err(CliError::Api {
            status: 404,
            detail: format!("event {} not found", args.id),
        });
    };
    let id = e.get("eventID").and_then(Value::as_str).unwrap_or(given);
    let attachments: Vec<Value> = client
        .get::<Vec<Value>>(&format!(
            "/api/0/projects/local/{}/events/{}/attachments/",
            enc(&project),
            enc(id)
        ))
        .map(|(v, _)| v)
        .unwrap_or_default();
    if json_out {
        let mut e = e;
        if let Value::Object(o) = &mut e {
            o.insert("attachments".into(), Value::Array(attachments));
        }
        return print_json(&e);
    }
    let mut text = render_event(&e, &attachments);
    if s(&e["type"]) == "transaction" {
        // Its profile, when it has one: the root span's route says so
        // without reading the profile.
        let trace = e
            .pointer("/contexts/trace/trace_id")
            .and_then(Value::as_str);
        let root = e.pointer("/contexts/trace/span_id").and_then(Value::as_str);
        let profiled = match (trace, root) {
            (Some(trace), Some(root)) => client
                .get::<Value>(&format!(
                    "/api/0/local/traces/{}/spans/{}/",
                    enc(trace),
                    enc(root)
                ))
                .is_ok_and(|(span, _)| span.get("profile").is_some_and(Value::is_string)),
            _ => false,
        };
        if profiled {
            text.push_str(&format!(
                "\nProfiled: `receiver profile {}` says where its time went\n",
                super::output::short_id(Some(id))
            ));
        }
    }
    emit(&text);
    Ok(())
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The human view of an event.
fn render_event(e: &Value, attachments: &[Value]) -> String {
    let mut out = String::new();
    out.push_str(&format!("Event {}\n", s(&e["eventID"])));
    out.push_str(&format!("  {}\n", one_line(s(&e["title"]))));
    let mut facts = vec![
        format!("type {}", s(&e["type"])),
        format!("level {}", s(&e["level"])),
        short_time(s(&e["dateCreated"])),
        format!("project {}", s(&e["projectID"])),
    ];
    if let Some(g) = e["groupID"].as_str() {
        facts.push(format!("issue {g}"));
    }
    if let Some(r) = e["release"]["version"].as_str() {
        facts.push(format!("release {r}"));
    }
    if let Some(env) = e["environment"].as_str() {
        facts.push(format!("environment {env}"));
    }
    if let Some(p) = e["platform"].as_str() {
        facts.push(format!("platform {p}"));
    }
    out.push_str(&format!("  {}\n", facts.join(" · ")));
    match s(&e["type"]) {
        "transaction" => out.push_str(&transaction_part(e)),
        "feedback" => out.push_str(&feedback_part(e)),
        _ => {}
    }
    for entry in e["entries"].as_array().into_iter().flatten() {
        match s(&entry["type"]) {
            "message" => {
                out.push_str(&format!(
                    "\nMessage:\n  {}\n",
                    indented(s(&entry["data"]["formatted"]), "  ")
                ));
            }
            "exception" => {
                out.push_str("\nException:\n");
                for exc in entry["data"]["values"].as_array().into_iter().flatten() {
                    out.push_str(&format!(
                        "  {}: {}\n",
                        one_line(s(&exc["type"])),
                        indented(s(&exc["value"]), "    ")
                    ));
                    let frames = exc["stacktrace"]["frames"].as_array();
                    for f in frames.into_iter().flatten().rev().take(15) {
                        let func = f["function"].as_str().unwrap_or("?");
                        let file = f["filename"]
                            .as_str()
                            .or_else(|| f["module"].as_str())
                            .or_else(|| f["abs_path"].as_str())
                            .unwrap_or("?");
                        let line = f["lineno"]
                            .as_i64()
                            .map(|l| format!(":{l}"))
                            .unwrap_or_default();
                        let app = if f["in_app"].as_bool() == Some(true) {
                            ""
                        } else {
                            "  (not in app)"
                        };
                        out.push_str(&format!("    at {func} ({file}{line}){app}\n"));
                    }
                }
            }
            "breadcrumbs" => {
                let crumbs = entry["data"]["values"].as_array().map_or(0, Vec::len);
                out.push_str(&format!("\nBreadcrumbs: {crumbs}\n"));
            }
            _ => {}
        }
    }
    let tags = e["tags"].as_array();
    if tags.is_some_and(|t| !t.is_empty()) {
        out.push_str("\nTags:\n");
        let rows: Vec<Vec<String>> = tags
            .into_iter()
            .flatten()
            .map(|t| vec![format!("  {}", s(&t["key"])), truncate(s(&t["value"]), 80)])
            .collect();
        out.push_str(&table(&["  KEY", "VALUE"], &rows));
    }
    if !attachments.is_empty() {
        out.push_str("\nAttachments:\n");
        let rows: Vec<Vec<String>> = attachments
            .iter()
            .map(|a| {
                vec![
                    format!("  {}", s(&a["id"])),
                    s(&a["name"]).to_owned(),
                    a["size"].as_i64().unwrap_or(0).to_string(),
                    s(&a["mimetype"]).to_owned(),
                ]
            })
            .collect();
        out.push_str(&table(&["  ID", "NAME", "BYTES", "TYPE"], &rows));
    }
    out
}

/// What a transaction did: its op, status, duration and span count, and
/// the command that draws its trace.
fn transaction_part(e: &Value) -> String {
    let trace = &e["contexts"]["trace"];
    let seconds = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(t) => sentry_core::protocol::Timestamp::parse_rfc3339(t)
            .map(sentry_core::protocol::Timestamp::as_secs_f64),
        _ => None,
    };
    let mut facts = Vec::new();
    for key in ["op", "status"] {
        if let Some(v) = trace[key].as_str().filter(|v| !v.is_empty()) {
            facts.push(format!("{key} {}", one_line(v)));
        }
    }
    if let (Some(start), Some(end)) = (seconds(&e["start_timestamp"]), seconds(&e["timestamp"])) {
        facts.push(format!(
            "duration {}",
            super::traces::milliseconds((end - start) * 1000.0)
        ));
    }
    let spans = e["spans"].as_array().map_or(0, Vec::len);
    facts.push(format!("{spans} span{}", if spans == 1 { "" } else { "s" }));
    let mut out = format!("\nTransaction:\n  {}\n", facts.join(" · "));
    if let Some(id) = trace["trace_id"].as_str() {
        out.push_str(&format!(
            "  trace {id}: `receiver trace {}` draws it\n",
            super::output::short_id(Some(id))
        ));
    }
    out
}

/// A user's feedback: the message, who sent it and about what.
fn feedback_part(e: &Value) -> String {
    let f = &e["contexts"]["feedback"];
    let mut out = format!("\nFeedback:\n  {}\n", indented(s(&f["message"]), "  "));
    for (label, key) in [
        ("from", "name"),
        ("email", "contact_email"),
        ("page", "url"),
        ("about event", "associated_event_id"),
    ] {
        if let Some(v) = f[key].as_str().filter(|v| !v.is_empty()) {
            out.push_str(&format!("  {label} {}\n", one_line(v)));
        }
    }
    out
}

/// `receiver tail`
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Only this project (id or slug).
    #[arg(long)]
    pub project: Option<String>,
    /// Only this level.
    #[arg(long)]
    pub level: Option<String>,
    /// Show this many recent events first.
    #[arg(short = 'n', long, default_value_t = 10)]
    pub lines: u32,
    /// Exit after this many new events.
    #[arg(long)]
    pub count: Option<usize>,
    /// Exit after this long (e.g. 30s).
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Poll interval.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub interval: Duration,
}

/// The shortest poll interval `wait` and `tail` use (`--interval 0` would
/// poll the receiver as fast as it answers).
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long `wait` pauses after a poll that took `took`: the interval, but
/// at least four times what the poll took (at most [`MAX_POLL_PAUSE`]): a
/// filtered count reads every event, ~50 ms at 300 000, and a poll every
/// 200 ms would keep a quarter of a core busy for as long as CI waits.
fn poll_pause(interval: Duration, took: Duration) -> Duration {
    interval
        .max(MIN_POLL_INTERVAL)
        .max(took.saturating_mul(4).min(MAX_POLL_PAUSE))
}

/// The longest pause the time a poll took can impose.
const MAX_POLL_PAUSE: Duration = Duration::from_secs(2);

/// Whether an API error says "try again": 503 (the database stayed busy)
/// or 429.
fn is_transient(e: &CliError) -> bool {
    matches!(
        e,
        CliError::Api {
            status: 429 | 503,
            ..
        }
    )
}

/// `receiver tail`: prints events as they are stored (NDJSON with `--json`).
pub fn tail(client: &Client, args: &TailArgs, json_out: bool) -> Result<(), CliError> {
    let filters = query(&[
        ("project", args.project.as_deref()),
        ("level", args.level.as_deref()),
    ]);
    let started = Instant::now();
    let (first, _): (StreamPage, _) = client.get(&format!(
        "/api/0/local/stream/?tail={}&{filters}",
        args.lines.min(1000)
    ))?;
    // The backlog above is always fetched; the polls end by the timeout.
    client.set_deadline(args.timeout.map(|t| started + t));
    let print = |e: &crate::api::types::StreamEvent| {
        if json_out {
            emit_json(&format!(
                "{}\n",
                serde_json::to_string(e).unwrap_or_default()
            ));
            return;
        }
        let line = {
            format!(
                "{}  {:<7}  issue {:<5}  {}{}",
                short_time(&e.date_created),
                e.level,
                e.group_id.as_deref().unwrap_or("-"),
                truncate(&e.title, 100),
                e.environment
                    .as_deref()
                    .map(|env| format!("  [{env}]"))
                    .unwrap_or_default()
            )
        };
        emitln(&line);
    };
    for e in &first.events {
        print(e);
    }
    let mut cursor = first.cursor;
    let mut seen = 0usize;
    let mut warned = false;
    let timed_out = |seen: usize| match args.count {
        Some(n) => Err(CliError::ConditionsNotMet(format!(
            "saw {seen} of {n} events before the timeout"
        ))),
        None => Ok(()),
    };
    loop {
        if args.count.is_some_and(|n| seen >= n) {
            return Ok(());
        }
        let left = args.timeout.map(|t| t.saturating_sub(started.elapsed()));
        if left.is_some_and(|l| l.is_zero()) {
            return timed_out(seen);
        }
        let pause = args.interval.max(MIN_POLL_INTERVAL);
        std::thread::sleep(left.map_or(pause, |l| l.min(pause)));
        // A poll that would start at the deadline would only fail.
        if args.timeout.is_some_and(|t| started.elapsed() >= t) {
            return timed_out(seen);
        }
        let page: StreamPage = match client.get(&format!(
            "/api/0/local/stream/?after={cursor}&limit=1000&{filters}"
        )) {
            Ok((p, _)) => {
                warned = false;
                p
            }
            // Cut off by the deadline: the loop ends, nothing to warn of.
            Err(CliError::Unreachable(_))
                if args.timeout.is_some_and(|t| started.elapsed() >= t) =>
            {
                continue
            }
            Err(CliError::Unreachable(msg)) => {
                if !warned {
                    eprintln!("receiver: {msg}; retrying");
                    warned = true;
                }
                continue;
            }
            Err(e) if is_transient(&e) => continue,
            Err(e) => return Err(e),
        };
        for e in &page.events {
            if args.count.is_some_and(|n| seen >= n) {
                break;
            }
            print(e);
            seen += 1;
        }
        cursor = page.cursor;
    }
}

/// Filters and thresholds shared by `wait` and `check`.
#[derive(Debug, Clone, Default, Args)]
pub struct Conditions {
    /// Only this project (id or slug).
    #[arg(long)]
    pub project: Option<String>,
    /// Only events/issues of this level.
    #[arg(long)]
    pub level: Option<String>,
    /// Only this environment.
    #[arg(long)]
    pub environment: Option<String>,
    /// Only this release.
    #[arg(long)]
    pub release: Option<String>,
    /// Only issues (and their events) whose title contains this text.
    #[arg(long)]
    pub issue_title: Option<String>,
    /// Only issues with this status (unresolved, resolved, ignored).
    #[arg(long)]
    pub status: Option<String>,
    /// Only issues (and their events) of this category: `error` (what
    /// SDKs sent) or `cron` (failing cron monitors).
    #[arg(long)]
    pub issue_category: Option<String>,
    /// Only transactions (and segments) whose name contains this text.
    #[arg(long)]
    pub transaction: Option<String>,
    /// Only check-ins of this cron monitor (its slug, or the
    /// `monitor_slug` as sent).
    #[arg(long)]
    pub monitor: Option<String>,
    /// Only check-ins with this status (ok, error, in_progress, timeout:
    /// a run past its deadline).
    #[arg(long)]
    pub check_in_status: Option<String>,
    /// At least N error events.
    #[arg(long, value_name = "N")]
    pub events: Option<i64>,
    /// At most N error events.
    #[arg(long, value_name = "N")]
    pub max_events: Option<i64>,
    /// At least N issues.
    #[arg(long, alias = "issues", value_name = "N")]
    pub min_issues: Option<i64>,
    /// At most N issues (`--max-issues 0`: no issue at all).
    #[arg(long, value_name = "N")]
    pub max_issues: Option<i64>,
    /// At least N transactions.
    #[arg(long, value_name = "N")]
    pub transactions: Option<i64>,
    /// At most N transactions.
    #[arg(long, value_name = "N")]
    pub max_transactions: Option<i64>,
    /// At least N segments: transactions' root spans and spans streamed as
    /// segments (an SDK that streams spans, such as `@sentry/node` 11 by
    /// default, sends no transactions); `--transaction` matches their name.
    #[arg(long, value_name = "N")]
    pub segments: Option<i64>,
    /// At most N segments.
    #[arg(long, value_name = "N")]
    pub max_segments: Option<i64>,
    /// At least N cron check-ins (runs: a job's `in_progress` and its final
    /// update are one).
    #[arg(long, value_name = "N")]
    pub check_ins: Option<i64>,
    /// At most N cron check-ins (`--check-in-status error --max-check-ins
    /// 0`: no job failed).
    #[arg(long, value_name = "N")]
    pub max_check_ins: Option<i64>,
    /// At most N runs that scheduled monitors missed (inferred from their
    /// schedules, per environment; `--max-missed 0`: every run came on
    /// time).
    #[arg(long, value_name = "N")]
    pub max_missed: Option<i64>,
    /// At least N sessions.
    #[arg(long, value_name = "N")]
    pub sessions: Option<i64>,
    /// Crash-free session rate at least this (0.99 or 99%).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub crash_free_sessions: Option<f64>,
    /// Crash-free user rate at least this (0.99 or 99%).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub crash_free_users: Option<f64>,
}

/// One evaluated condition.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// E.g. `events >= 3`.
    pub condition: String,
    /// The measured value.
    pub actual: Value,
    /// Whether it holds.
    pub ok: bool,
}

impl Conditions {
    fn stats_path(&self) -> String {
        format!(
            "/api/0/local/stats/?{}",
            query(&[
                ("project", self.project.as_deref()),
                ("level", self.level.as_deref()),
                ("environment", self.environment.as_deref()),
                ("release", self.release.as_deref()),
                ("title", self.issue_title.as_deref()),
                ("status", self.status.as_deref()),
                ("issueCategory", self.issue_category.as_deref()),
                ("transaction", self.transaction.as_deref()),
                ("monitor", self.monitor.as_deref()),
                ("checkInStatus", self.check_in_status.as_deref()),
                ("fields", Some(&self.fields())),
            ])
        )
    }

    /// The counts the conditions need (`fields` of the stats request): a
    /// poll for events does not make the receiver read every session.
    fn fields(&self) -> String {
        let mut fields = Vec::new();
        if self.events.is_some() || self.max_events.is_some() {
            fields.push("events");
        }
        if self.min_issues.is_some() || self.max_issues.is_some() {
            fields.push("issues");
        }
        if self.transactions.is_some() || self.max_transactions.is_some() {
            fields.push("transactions");
        }
        // Waiting for transactions from an app whose SDK streams its spans
        // never ends: the segments say why (`streaming_hint`).
        if self.segments.is_some() || self.max_segments.is_some() || self.transactions.is_some() {
            fields.push("segments");
        }
        if self.check_ins.is_some() || self.max_check_ins.is_some() {
            fields.push("checkIns");
        }
        if self.max_missed.is_some() {
            fields.push("missedCheckIns");
        }
        if self.sessions.is_some()
            || self.crash_free_sessions.is_some()
            || self.crash_free_users.is_some()
        {
            fields.push("sessions");
        }
        fields.join(",")
    }

    fn any(&self) -> bool {
        self.events.is_some()
            || self.max_events.is_some()
            || self.min_issues.is_some()
            || self.max_issues.is_some()
            || self.transactions.is_some()
            || self.max_transactions.is_some()
            || self.segments.is_some()
            || self.max_segments.is_some()
            || self.check_ins.is_some()
            || self.max_check_ins.is_some()
            || self.max_missed.is_some()
            || self.sessions.is_some()
            || self.crash_free_sessions.is_some()
            || self.crash_free_users.is_some()
    }

    /// Evaluates every given threshold against `stats`.
    pub fn evaluate(&self, stats: &Stats) -> Vec<Outcome> {
        let mut out = Vec::new();
        // A count the answer left out (not asked for) holds no condition.
        let mut count = |name: &str, min: Option<i64>, max: Option<i64>, actual: Option<i64>| {
            if let Some(n) = min {
                out.push(Outcome {
                    condition: format!("{name} >= {n}"),
                    actual: json!(actual),
                    ok: actual.is_some_and(|a| a >= n),
                });
            }
            if let Some(n) = max {
                out.push(Outcome {
                    condition: format!("{name} <= {n}"),
                    actual: json!(actual),
                    ok: actual.is_some_and(|a| a <= n),
                });
            }
        };
        count("events", self.events, self.max_events, stats.events);
        count("issues", self.min_issues, self.max_issues, stats.issues);
        count(
            "transactions",
            self.transactions,
            self.max_transactions,
            stats.transactions,
        );
        count("segments", self.segments, self.max_segments, stats.segments);
        count(
            "check-ins",
            self.check_ins,
            self.max_check_ins,
            stats.check_ins,
        );
        count(
            "missed check-ins",
            None,
            self.max_missed,
            stats.missed_check_ins,
        );
        count("sessions", self.sessions, None, stats.sessions);
        for (name, min, actual) in [
            (
                "crash-free sessions",
                self.crash_free_sessions,
                stats.crash_free_sessions,
            ),
            (
                "crash-free users",
                self.crash_free_users,
                stats.crash_free_users,
            ),
        ] {
            if let Some(min) = min {
                out.push(Outcome {
                    condition: format!("{name} >= {:.2}%", min * 100.0),
                    actual: json!(actual),
                    ok: actual.is_some_and(|a| a >= min),
                });
            }
        }
        out
    }
}

fn describe(o: &Outcome) -> String {
    let actual = match &o.actual {
        Value::Null => "no data".to_owned(),
        Value::Number(n) if n.is_f64() => format!("{:.2}%", n.as_f64().unwrap_or(0.0) * 100.0),
        v => v.to_string(),
    };
    format!(
        "{} {} (actual: {actual})",
        if o.ok { "ok  " } else { "FAIL" },
        o.condition
    )
}

/// `receiver wait`
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Give up after this long (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Poll interval (longer after a slow poll: at least four times what
    /// it took, up to 2 s).
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub interval: Duration,
    /// What to wait for.
    #[command(flatten)]
    pub conditions: Conditions,
}

/// `receiver wait`: polls until every condition holds (exit 0) or the
/// timeout passes (exit 1). A receiver that is not up yet counts as "not
/// yet".
pub fn wait(client: &Client, args: &WaitArgs, json_out: bool) -> Result<(), CliError> {
    if !args.conditions.any() {
        return Err(CliError::Usage(
            "nothing to wait for: give a condition such as --events 1".to_owned(),
        ));
    }
    let path = args.conditions.stats_path();
    let deadline = Instant::now() + args.timeout;
    let mut progress = Progress::new();
    let mut last: Option<(Stats, Vec<Outcome>)> = None;
    let mut last_error: Option<String> = None;
    let mut attempted = false;
    loop {
        // One request at least; none once the deadline has passed (it
        // would fail at once and hide why the earlier ones did).
        if attempted && Instant::now() >= deadline {
            progress.finish();
            return Err(timed_out(args, &last, &last_error, json_out)?);
        }
        // Requests end by the deadline, the first one given at least two
        // seconds (so that even `--timeout 0s` asks once).
        client.set_deadline(Some(if attempted {
            deadline
        } else {
            deadline.max(Instant::now() + Duration::from_secs(2))
        }));
        attempted = true;
        let started = Instant::now();
        let answer = client.get::<Stats>(&path);
        let took = started.elapsed();
        match answer {
            Ok((stats, _)) => {
                let outcomes = args.conditions.evaluate(&stats);
                if outcomes.iter().all(|o| o.ok) {
                    progress.finish();
                    return finish(&stats, &outcomes, json_out);
                }
                let summary: Vec<String> = outcomes
                    .iter()
                    .filter(|o| !o.ok)
                    .map(|o| format!("{} (now {})", o.condition, o.actual))
                    .collect();
                progress.update(&format!("waiting for {}", summary.join(", ")), args.timeout);
                last = Some((stats, outcomes));
                last_error = None;
            }
            Err(e) if is_transient(&e) => {
                progress.update("waiting for the receiver (busy)", args.timeout);
                last_error = Some(e.to_string());
            }
            Err(e @ (CliError::Api { .. } | CliError::Usage(_))) => {
                progress.finish();
                return Err(e);
            }
            Err(e) => {
                progress.update("waiting for the receiver", args.timeout);
                last_error = Some(e.to_string());
            }
        }
        if Instant::now() >= deadline {
            progress.finish();
            return Err(timed_out(args, &last, &last_error, json_out)?);
        }
        std::thread::sleep(
            poll_pause(args.interval, took).min(deadline.saturating_duration_since(Instant::now())),
        );
    }
}

/// Why a `transactions >= N` condition may not hold where streamed
/// segments arrived: an SDK that streams its spans sends segments, not
/// transactions. A transaction's root counts as a segment too, so only
/// segments beyond the transactions were streamed (a transaction sent
/// without a trace context has no root row, so one of those beside a
/// streamed segment hides the hint: a stats field counting streamed
/// segments alone would be exact).
fn streaming_hint(stats: &Stats, outcomes: &[Outcome]) -> Option<String> {
    let waits_for_transactions = outcomes
        .iter()
        .any(|o| !o.ok && o.condition.starts_with("transactions >="));
    let streamed = stats
        .segments?
        .saturating_sub(stats.transactions.unwrap_or(0));
    (waits_for_transactions && streamed > 0).then(|| {
        format!(
            "the receiver holds {streamed} streamed segment(s): an SDK that streams its \
             spans (@sentry/node 11 by default) sends segments instead of transactions; \
             wait for them with --segments"
        )
    })
}

/// The error `wait` ends with at its deadline (with the last stats as JSON
/// first, under `--json`).
fn timed_out(
    args: &WaitArgs,
    last: &Option<(Stats, Vec<Outcome>)>,
    last_error: &Option<String>,
    json_out: bool,
) -> Result<CliError, CliError> {
    let detail = match (last, last_error) {
        (_, Some(err)) => err.clone(),
        (Some((stats, outcomes)), None) => outcomes
            .iter()
            .filter(|o| !o.ok)
            .map(describe)
            .chain(streaming_hint(stats, outcomes))
            .collect::<Vec<_>>()
            .join("; "),
        (None, None) => "no answer".to_owned(),
    };
    if json_out {
        if let Some((stats, outcomes)) = last {
            print_json(&json!({"ok": false, "stats": stats, "conditions": outcomes}))?;
        }
    }
    Ok(CliError::ConditionsNotMet(format!(
        "timed out after {:?}: {detail}",
        args.timeout
    )))
}

fn finish(stats: &Stats, outcomes: &[Outcome], json_out: bool) -> Result<(), CliError> {
    if json_out {
        print_json(&json!({"ok": true, "stats": stats, "conditions": outcomes}))
    } else {
        for o in outcomes {
            emitln(&describe(o));
        }
        Ok(())
    }
}

/// `receiver check`
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// What must hold.
    #[command(flatten)]
    pub conditions: Conditions,
}

/// `receiver check`: evaluates the conditions once; exit 1 if any fails.
pub fn check(client: &Client, args: &CheckArgs, json_out: bool) -> Result<(), CliError> {
    if !args.conditions.any() {
        return Err(CliError::Usage(
            "nothing to check: give a condition such as --max-issues 0".to_owned(),
        ));
    }
    let (stats, _): (Stats, _) = client.get(&args.conditions.stats_path())?;
    let outcomes = args.conditions.evaluate(&stats);
    let ok = outcomes.iter().all(|o| o.ok);
    if json_out {
        print_json(&json!({"ok": ok, "stats": stats, "conditions": outcomes}))?;
    } else {
        for o in &outcomes {
            emitln(&describe(o));
        }
    }
    if ok {
        Ok(())
    } else {
        let failed: Vec<String> = outcomes
            .iter()
            .filter(|o| !o.ok)
            .map(|o| format!("{} (actual {})", o.condition, o.actual))
            .chain(streaming_hint(&stats, &outcomes))
            .collect();
        Err(CliError::ConditionsNotMet(format!(
            "check failed: {}",
            failed.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_is_term_outside_quotes_decides_the_statuses() {
        let names = crate::api::search_names_status;
        assert!(names("is:resolved"));
        assert!(names("level:error  !is:ignored"));
        assert!(!names("\"it is:fine\" level:error"));
        assert!(!names("message:is:x"));
        assert!(!names("this is fine"));
    }

    #[test]
    fn a_slow_poll_waits_longer_before_the_next() {
        let ms = Duration::from_millis;
        assert_eq!(poll_pause(ms(200), ms(5)), ms(200));
        assert_eq!(poll_pause(ms(0), ms(1)), MIN_POLL_INTERVAL);
        assert_eq!(poll_pause(ms(200), ms(60)), ms(240));
        assert_eq!(poll_pause(ms(200), Duration::from_secs(30)), MAX_POLL_PAUSE);
        assert_eq!(poll_pause(ms(5000), ms(60)), ms(5000));
    }

    #[test]
    fn durations_and_rates() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert!(parse_duration("53w").is_err(), "more than a year");
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_rate("99%"), Ok(0.99));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert!(parse_rate("150%").is_err());
    }

    #[test]
    fn waiting_for_transactions_where_segments_came_says_why() {
        let c = Conditions {
            transactions: Some(1),
            ..Conditions::default()
        };
        assert!(c.fields().contains("segments"));
        let stats = |segments| Stats {
            transactions: Some(0),
            segments,
            ..Stats::default()
        };
        let with = stats(Some(2));
        let hint = streaming_hint(&with, &c.evaluate(&with)).unwrap_or_default();
        assert!(
            hint.contains("2 streamed segment(s)") && hint.contains("--segments"),
            "{hint}"
        );
        let without = stats(Some(0));
        assert_eq!(streaming_hint(&without, &c.evaluate(&without)), None);
        let met = Stats {
            transactions: Some(1),
            segments: Some(2),
            ..Stats::default()
        };
        assert_eq!(streaming_hint(&met, &c.evaluate(&met)), None);
        // A transaction's root is a segment too: no streamed segment here.
        let five = Conditions {
            transactions: Some(5),
            ..Conditions::default()
        };
        let roots = Stats {
            transactions: Some(1),
            segments: Some(1),
            ..Stats::default()
        };
        assert_eq!(streaming_hint(&roots, &five.evaluate(&roots)), None);
    }

    #[test]
    fn conditions_evaluate() {
        let c = Conditions {
            events: Some(3),
            max_issues: Some(1),
            crash_free_sessions: Some(0.9),
            ..Conditions::default()
        };
        let stats = Stats {
            events: Some(3),
            issues: Some(2),
            ..Stats::default()
        };
        let ok: Vec<bool> = c.evaluate(&stats).iter().map(|o| o.ok).collect();
        assert_eq!(ok, [true, false, false]);
    }
}
