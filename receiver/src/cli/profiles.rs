//! `receiver profiles` lists the sampled profiles a running receiver holds
//! (`GET /api/0/local/profiles/`); `receiver profile ID` shows where one
//! thread's time went, per function, slowest first
//! (`GET /api/0/local/profiles/{id}/`).

use clap::Args;

use super::client::Client;
use super::commands::{enc, print_json, print_list, query_string};
use super::output::{emit, short_id, short_time, table, truncate};
use super::traces::milliseconds;
use super::CliError;
use crate::api::types::{ProfileDetail, ProfileRow, ProfilesPage};

/// `receiver profiles`
#[derive(Debug, Clone, Args)]
pub struct ProfilesArgs {
    /// Project id or slug (default: every project).
    #[arg(long)]
    pub project: Option<String>,
    /// Most profiles to show.
    #[arg(long, default_value_t = 25, value_parser = super::filters::parse_limit)]
    pub limit: usize,
}

/// `receiver profiles`: a table (or `--json`) of profiles, latest first.
pub fn profiles(client: &Client, args: &ProfilesArgs, json_out: bool) -> Result<(), CliError> {
    let mut pairs = Vec::new();
    if let Some(p) = &args.project {
        pairs.push(("project", p.as_str()));
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

/// `receiver profile ID`
#[derive(Debug, Clone, Args)]
pub struct ProfileArgs {
    /// The profiled transaction's event id: 32 hex digits, or the first 8
    /// or more as `receiver profiles` shows it.
    pub id: String,
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
    let mut path = format!("/api/0/local/profiles/{}/", enc(args.id.trim()));
    if let Some(t) = &args.thread {
        path.push_str(&format!("?thread={}", enc(t)));
    }
    let (detail, _): (ProfileDetail, _) = client.get(&path)?;
    if json_out {
        return print_json(&detail);
    }
    emit(&render(&detail, args.limit));
    Ok(())
}

/// The text `receiver profile` prints.
fn render(d: &ProfileDetail, limit: usize) -> String {
    let p = &d.profile;
    let mut out = format!(
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
    out.push_str(&format!("  {}\n", facts.join(" · ")));
    out.push_str("threads:\n");
    for t in &d.threads {
        let chosen = if d.thread_id.as_deref() == Some(&t.id) {
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
    if d.functions.is_empty() {
        out.push_str("no samples of that thread\n");
        return out;
    }
    let share = |ms: f64| {
        if d.sampled_ms > 0.0 {
            format!("{:.1}%", ms / d.sampled_ms * 100.0)
        } else {
            String::new()
        }
    };
    let rows: Vec<Vec<String>> = d
        .functions
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
        milliseconds(d.sampled_ms)
    ));
    out.push_str(&table(&["SELF", "%", "TOTAL", "%", "FUNCTION"], &rows));
    out
}
