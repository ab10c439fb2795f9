//! `receiver profiles` lists the sampled profiles a running receiver holds
//! (`GET /api/0/local/profiles/`), `--continuous` continuous profilers'
//! sessions (`GET /api/0/local/profilers/`); `receiver profile ID` shows
//! where one thread's time went, per function, slowest first, in a
//! transaction (`GET /api/0/local/profiles/{id}/`, whether its samples came
//! in a `profile` item or in its profiler's chunks) or, with `--profiler`,
//! over a profiler session (`GET /api/0/local/profilers/{id}/`).

use clap::Args;

use super::client::Client;
use super::commands::{enc, print_json, print_list, query_string};
use super::output::{emit, short_id, short_time, table, truncate};
use super::traces::milliseconds;
use super::CliError;
use crate::api::types::{
    ProfileDetail, ProfileFunction, ProfileRow, ProfileThread, ProfilerDetail, ProfilerRow,
    ProfilersPage, ProfilesPage,
};

/// `receiver profiles`
#[derive(Debug, Clone, Args)]
pub struct ProfilesArgs {
    /// Project id or slug (default: every project).
    #[arg(long)]
    pub project: Option<String>,
    /// Most profiles to show.
    #[arg(long, default_value_t = 25, value_parser = super::filters::parse_limit)]
    pub limit: usize,
    /// List continuous profilers' sessions instead (what an SDK sends with
    /// `profile_session_sample_rate`): `receiver profile --profiler ID`
    /// shows one.
    #[arg(long)]
    pub continuous: bool,
}

/// `receiver profiles`: a table (or `--json`) of profiles, latest first.
pub fn profiles(client: &Client, args: &ProfilesArgs, json_out: bool) -> Result<(), CliError> {
    let mut pairs = Vec::new();
    if let Some(p) = &args.project {
        pairs.push(("project", p.as_str()));
    }
    if args.continuous {
        return profilers(client, &pairs, args.limit, json_out);
    }
    let out: Vec<ProfileRow> = client.follow_cursor(
        &format!("/api/0/local/profiles/?{}", query_string(&pairs)),
        args.limit,
        |page: ProfilesPage| (page.profiles, page.cursor),
    )?;
    print_list(
        &out,
        json_out,
        "no profiles (an SDK sends them with profiles_sample_rate set)",
        &[
            "ID",
            "RECEIVED",
            "DURATION",
            "SAMPLES",
            "PLATFORM",
            "TRACE",
            "TRANSACTION",
        ],
        |p| {
            vec![
                short_id(Some(&p.transaction_id)),
                short_time(&p.received),
                p.duration_ms.map(milliseconds).unwrap_or_default(),
                p.samples.to_string(),
                p.platform.clone().unwrap_or_default(),
                short_id(p.trace_id.as_deref()),
                truncate(p.transaction.as_deref().unwrap_or(""), 60),
            ]
        },
    )
}

/// `receiver profiles --continuous`: continuous profilers' sessions, the
/// one that sampled last first.
fn profilers(
    client: &Client,
    pairs: &[(&str, &str)],
    limit: usize,
    json_out: bool,
) -> Result<(), CliError> {
    let out: Vec<ProfilerRow> = client.follow_cursor(
        &format!("/api/0/local/profilers/?{}", query_string(pairs)),
        limit,
        |page: ProfilersPage| (page.profilers, page.cursor),
    )?;
    print_list(
        &out,
        json_out,
        "no continuous profiles (an SDK sends them with profile_session_sample_rate set)",
        &[
            "PROFILER", "START", "SPAN", "CHUNKS", "SAMPLES", "PLATFORM", "RELEASE",
        ],
        |p| {
            vec![
                short_id(Some(&p.profiler_id)),
                short_time(&p.start),
                span_of(&p.start, &p.end),
                p.chunks.to_string(),
                p.samples.to_string(),
                p.platform.clone().unwrap_or_default(),
                truncate(p.release.as_deref().unwrap_or(""), 40),
            ]
        },
    )
}

/// How long from ISO time `start` to `end`, as the tables show durations.
fn span_of(start: &str, end: &str) -> String {
    let secs = |t: &str| {
        sentry_core::protocol::Timestamp::parse_rfc3339(t)
            .map(sentry_core::protocol::Timestamp::as_secs_f64)
    };
    match (secs(start), secs(end)) {
        (Some(a), Some(b)) if b >= a => milliseconds((b - a) * 1e3),
        _ => String::new(),
    }
}

/// `receiver profile ID`
#[derive(Debug, Clone, Args)]
pub struct ProfileArgs {
    /// The profiled transaction's event id (or with `--profiler`, the
    /// profiler session's id): 32 hex digits, or the first 8 or more as
    /// `receiver profiles` shows it.
    pub id: String,
    /// Show a continuous profiler's session (an id `receiver profiles
    /// --continuous` lists) over all its chunks, not a transaction.
    #[arg(long)]
    pub profiler: bool,
    /// With `--profiler`: only the samples from this time on (ISO 8601 or
    /// Unix seconds; a streamed segment's start, say).
    #[arg(long, requires = "profiler")]
    pub start: Option<String>,
    /// With `--profiler`: only the samples up to this time.
    #[arg(long, requires = "profiler")]
    pub end: Option<String>,
    /// The thread to show (an id `receiver profile` lists; default: the
    /// transaction's thread).
    #[arg(long)]
    pub thread: Option<String>,
    /// Most functions to show.
    #[arg(long, default_value_t = 20, value_parser = super::filters::parse_limit)]
    pub limit: usize,
}

/// `receiver profile ID`: the profile's threads, then the thread's
/// functions by self time, with their total time.
pub fn profile(client: &Client, args: &ProfileArgs, json_out: bool) -> Result<(), CliError> {
    let route = if args.profiler {
        "profilers"
    } else {
        "profiles"
    };
    let mut pairs = Vec::new();
    for (key, value) in [
        ("thread", &args.thread),
        ("start", &args.start),
        ("end", &args.end),
    ] {
        if let Some(v) = value {
            pairs.push((key, v.as_str()));
        }
    }
    let path = format!(
        "/api/0/local/{route}/{}/?{}",
        enc(args.id.trim()),
        query_string(&pairs)
    );
    if args.profiler {
        let (detail, _): (ProfilerDetail, _) = client.get(&path)?;
        if json_out {
            return print_json(&detail);
        }
        emit(&render_profiler(&detail, args.limit));
    } else {
        let (detail, _): (ProfileDetail, _) = client.get(&path)?;
        if json_out {
            return print_json(&detail);
        }
        emit(&render(&detail, args.limit));
    }
    Ok(())
}

/// The text `receiver profile` prints.
fn render(d: &ProfileDetail, limit: usize) -> String {
    let p = &d.profile;
    let out = format!(
        "profile of transaction {} ({}), project {}\n",
        p.transaction_id,
        p.transaction.as_deref().unwrap_or("unnamed"),
        p.project_id
    );
    let mut facts = vec![format!("received {}", short_time(&p.received))];
    if let Some(ms) = p.duration_ms {
        facts.push(format!("duration {}", milliseconds(ms)));
    }
    if let Some(platform) = &p.platform {
        facts.push(format!("platform {platform}"));
    }
    if let Some(trace) = &p.trace_id {
        facts.push(format!("trace {}", short_id(Some(trace))));
    }
    if let Some(profiler) = &p.profiler_id {
        facts.push(format!("continuous profiler {}", short_id(Some(profiler))));
    }
    if let (Some(all), Some(read)) = (d.chunks, d.chunks_read) {
        if read < all {
            facts.push(format!("the first {read} of its {all} chunks summarised"));
        }
    }
    finish(
        out,
        &facts,
        &d.threads,
        d.thread_id.as_deref(),
        (d.sampled_ms, &d.functions),
        limit,
    )
}

/// The text `receiver profile --profiler` prints.
fn render_profiler(d: &ProfilerDetail, limit: usize) -> String {
    let p = &d.profiler;
    let out = format!(
        "continuous profiler {}, project {}\n",
        p.profiler_id, p.project_id
    );
    let mut facts = vec![
        format!("{} to {}", short_time(&p.start), short_time(&p.end)),
        format!("{} chunks", p.chunks),
    ];
    if let (Some(from), Some(to)) = (&d.window_start, &d.window_end) {
        facts.push(format!(
            "only the samples from {} to {}",
            short_time(from),
            short_time(to)
        ));
    } else if d.chunks_read < p.chunks {
        facts.push(format!("the latest {} summarised", d.chunks_read));
    }
    for (name, value) in [
        ("platform", &p.platform),
        ("release", &p.release),
        ("environment", &p.environment),
    ] {
        if let Some(v) = value {
            facts.push(format!("{name} {v}"));
        }
    }
    finish(
        out,
        &facts,
        &d.threads,
        d.thread_id.as_deref(),
        (d.sampled_ms, &d.functions),
        limit,
    )
}

/// What both views print below their title: the facts on one line, the
/// threads, then the shown thread's functions by self time (with the time
/// its samples stand for).
fn finish(
    mut out: String,
    facts: &[String],
    threads: &[ProfileThread],
    shown: Option<&str>,
    (sampled_ms, functions): (f64, &[ProfileFunction]),
    limit: usize,
) -> String {
    out.push_str(&format!("  {}\n", facts.join(" · ")));
    out.push_str("threads:\n");
    for t in threads {
        let chosen = if shown == Some(&t.id) {
            "  (shown)"
        } else {
            ""
        };
        out.push_str(&format!(
            "  {} {}: {} samples{chosen}\n",
            t.id,
            t.name.as_deref().unwrap_or("(unnamed)"),
            t.samples
        ));
    }
    if functions.is_empty() {
        out.push_str("no samples of that thread\n");
        return out;
    }
    let share = |ms: f64| {
        if sampled_ms > 0.0 {
            format!("{:.1}%", ms / sampled_ms * 100.0)
        } else {
            String::new()
        }
    };
    let rows: Vec<Vec<String>> = functions
        .iter()
        .take(limit)
        .map(|f| {
            let place = f.module.as_deref().or(f.file.as_deref()).unwrap_or("");
            let app = if f.in_app == Some(true) {
                "  (app)"
            } else {
                ""
            };
            vec![
                milliseconds(f.self_ms),
                share(f.self_ms),
                milliseconds(f.total_ms),
                share(f.total_ms),
                format!("{} {}{app}", truncate(&f.function, 60), truncate(place, 50)),
            ]
        })
        .collect();
    out.push_str(&format!(
        "functions of the thread, by time as the innermost frame ({} sampled):\n",
        milliseconds(sampled_ms)
    ));
    out.push_str(&table(&["SELF", "%", "TOTAL", "%", "FUNCTION"], &rows));
    out
}
