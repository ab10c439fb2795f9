//! The command line: `receiver [serve]`, `receiver projects …`,
//! `receiver keys …`, `receiver quotas …`, `receiver tokens …` (these work on
//! the database file), and `receiver issues`, `issue`, `event`, `tail`,
//! `logs`, `metrics`, `transactions`, `trace`, `health`, `monitors`, `wait`,
//! `check` (these talk to a running receiver's JSON API at `--url`
//! with `--token`).
//!
//! `receiver` with no arguments serves on 127.0.0.1:8000 with
//! `./receiver.sqlite`, creating a default project and key on first start,
//! and prints the DSN as the first line on stdout (everything else goes to
//! stderr, so a script reads the DSN as the first line of stdout, from a
//! file it redirected it to). The first start also
//! creates an admin API token and prints it to stderr. Every start prints
//! `Web UI: http://127.0.0.1:PORT/ui/#token=…` to stderr: the web page's
//! URL with an ephemeral admin token that lives only in this process's
//! memory (see [`crate::web`]).
//!
//! Exit codes: 0 success; 1 `wait` timed out or `check` found a condition
//! false; 2 any other error (bad usage, receiver unreachable, API error).

pub mod client;
pub mod commands;
pub mod filters;
pub mod health;
pub mod logs;
pub mod metrics;
pub mod monitors;
pub mod output;
pub mod profiles;
pub mod prune;
pub mod rules;
pub mod spans;
pub mod traces;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::api::tokens::{self, Scope};
use crate::config::{normalize_prefix, Config, DEFAULT_DB};
use crate::server::{Server, ServerError};
use crate::store::{queries, Store, StoreError, WriteOp, WriteResult};
use client::Client;
use commands::{CheckArgs, EventArgs, IssueArgs, IssuesArgs, TailArgs, WaitArgs};

/// A local receiver for the Sentry protocol.
#[derive(Debug, Parser)]
#[command(name = "receiver", version, about)]
pub struct Cli {
    /// SQLite database file (created if missing).
    #[arg(long, global = true, env = "RECEIVER_DB", default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Server options (for `serve`, which is the default).
    #[command(flatten)]
    pub serve: ServeArgs,
    /// API client options (for the commands that talk to a receiver).
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Options of the commands that use the JSON API.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Base URL of the running receiver.
    #[arg(
        long,
        global = true,
        env = "RECEIVER_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    pub url: String,
    /// API token. `serve` registers it as an admin token (instead of
    /// creating a random one on first start).
    #[arg(long, global = true, env = "RECEIVER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// List or create projects.
    Projects {
        /// `list` (default) or `create`.
        #[command(subcommand)]
        action: Option<ProjectAction>,
    },
    /// List or create keys.
    Keys {
        /// `list` (default) or `create`.
        #[command(subcommand)]
        action: Option<KeyAction>,
    },
    /// List, add or remove rate-limit quotas (the receiver answers 429
    /// past them).
    Quotas {
        /// `list` (default), `add` or `remove`.
        #[command(subcommand)]
        action: Option<QuotaAction>,
    },
    /// List, create or revoke API tokens.
    Tokens {
        /// `list` (default), `create` or `revoke`.
        #[command(subcommand)]
        action: Option<TokenAction>,
    },
    /// List issues of a running receiver.
    Issues(IssuesArgs),
    /// Show one issue: tags, grouping, latest event.
    Issue(IssueArgs),
    /// Show one event as stored.
    Event(EventArgs),
    /// Print new events as they arrive.
    Tail(TailArgs),
    /// List structured log lines (`log` items), latest received first.
    Logs(logs::LogsArgs),
    /// List metric samples (`trace_metric` items), or totals per metric.
    Metrics(metrics::MetricsArgs),
    /// List transactions, newest (or slowest) first.
    Transactions(traces::TransactionsArgs),
    /// List spans, whether they came in a transaction or on their own
    /// (`--segments`: what an SDK that streams its spans sends instead of
    /// transactions).
    Spans(spans::SpansArgs),
    /// List sampled profiles (`profile` items), latest received first;
    /// `--continuous`: continuous profilers' sessions (`profile_chunk`s).
    Profiles(profiles::ProfilesArgs),
    /// Show where a profile's time went: per function, slowest first (a
    /// transaction's, or with `--profiler` a continuous profiler session's).
    Profile(profiles::ProfileArgs),
    /// Show one trace as a tree of spans with time bars, across services.
    Trace(traces::TraceArgs),
    /// Release health: crash-free sessions and users per release and
    /// environment.
    Health(health::HealthArgs),
    /// List cron monitors, one monitor's runs (with its slug), or delete
    /// a monitor (`--delete`).
    Monitors(monitors::MonitorsArgs),
    /// Wait until conditions hold (exit 1 on timeout), for CI.
    Wait(WaitArgs),
    /// Check conditions once (exit 1 if any fails), for CI.
    Check(CheckArgs),
    /// Delete what was received before a time (`--older-than 30d`), now;
    /// works on the database file, beside a running receiver too.
    Prune(prune::PruneArgs),
    /// Show, set (`--set FILE`) or remove (`--clear`) a project's
    /// fingerprint rules, which group its next events.
    FingerprintRules(rules::RulesArgs),
}

/// `receiver quotas …`
#[derive(Debug, Subcommand)]
pub enum QuotaAction {
    /// List quotas.
    List {
        /// Only this project's quotas (its id or slug).
        #[arg(long)]
        project: Option<String>,
    },
    /// Add a quota: at most `--limit` items per `--window` seconds; prints
    /// its id.
    Add {
        /// The project (its id or slug).
        #[arg(long, default_value = "1")]
        project: String,
        /// Limit only requests with this public key (default: every key).
        #[arg(long)]
        key: Option<String>,
        /// Data categories, comma-separated (`error`, `transaction`,
        /// `attachment`, `session`, `span`, `log_item`, …); default: all
        /// but client reports.
        #[arg(long, value_delimiter = ',')]
        categories: Vec<String>,
        /// Items accepted per window; 0 refuses every one.
        #[arg(long)]
        limit: u64,
        /// The window in seconds (1 to 86400).
        #[arg(long, default_value_t = 60)]
        window: u64,
        /// The reason code sent to SDKs and recorded with dropped items.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove a quota by id.
    Remove {
        /// The id shown by `receiver quotas list`.
        id: i64,
    },
}

/// `receiver tokens …`
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// List tokens (the tokens themselves are not stored).
    List,
    /// Create a token; prints it (once) on stdout.
    Create {
        /// `read` (GET only) or `admin`.
        #[arg(long, default_value = "read", value_parser = ["read", "admin"])]
        scope: String,
        /// A label to recognise it by.
        #[arg(long)]
        label: Option<String>,
    },
    /// Delete a token by id.
    Revoke {
        /// The id shown by `receiver tokens list`.
        id: i64,
    },
}

/// `receiver projects …`
#[derive(Debug, Subcommand)]
pub enum ProjectAction {
    /// List projects.
    List,
    /// Create a project and a key for it; prints the DSN.
    Create {
        /// Project name.
        #[arg(long, default_value = "project")]
        name: String,
        /// Explicit numeric id (default: the next free one).
        #[arg(long)]
        id: Option<i64>,
    },
}

/// `receiver keys …`
#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// List keys with their DSNs.
    List {
        /// Only this project's keys (its id or slug).
        #[arg(long)]
        project: Option<String>,
    },
    /// Create a key; prints the DSN.
    Create {
        /// The project (its id or slug).
        #[arg(long, default_value = "1")]
        project: String,
        /// The public key (32 letters or digits; random if omitted).
        #[arg(long)]
        key: Option<String>,
    },
}

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port) [default:
    /// 127.0.0.1:8000]. The DSNs `keys` and `projects` print use the address
    /// the receiver last served the database at, unless this is given.
    #[arg(long, global = true, env = "RECEIVER_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Path prefix before `api/` (for DSNs like http://key@host/sentry/1)
    /// [default: /].
    #[arg(long, global = true, env = "RECEIVER_PATH_PREFIX")]
    pub prefix: Option<String>,
    /// Maximum open connections.
    #[arg(
        long,
        global = true,
        env = "RECEIVER_MAX_CONNECTIONS",
        default_value_t = 512
    )]
    pub max_connections: usize,
    /// Take the client address for `{{auto}}` from X-Forwarded-For (only
    /// behind a reverse proxy that sets it). The variable takes true/false,
    /// 1/0, yes/no or on/off.
    #[arg(
        long,
        global = true,
        env = "RECEIVER_TRUST_FORWARDED_FOR",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub trust_forwarded_for: bool,
    /// How long stored data is kept: what was received longer ago is
    /// deleted at start and then every hour (`30d`, `12h`, `2w`; `off`
    /// keeps everything) [default: 90d, as Sentry keeps events].
    #[arg(long, global = true, env = "RECEIVER_RETENTION", value_parser = parse_retention)]
    pub retention: Option<Retention>,
    /// The largest envelope, as sent and decompressed (`100MiB`, `500MB`,
    /// `1GiB`, bytes; at least 1MiB); attachments may be as large. Larger
    /// requests get a 413 [default: 100MiB, as Relay].
    #[arg(long, global = true, env = "RECEIVER_MAX_ENVELOPE_SIZE", value_parser = parse_size)]
    pub max_envelope_size: Option<u64>,
}

/// Parses a size: bytes, or a number with `KiB`/`MiB`/`GiB` (or `K`, `M`,
/// `G`: powers of 1024) or `KB`/`MB`/`GB` (powers of 1000), any case; at
/// least 1 MiB, the largest event (a smaller envelope limit would refuse
/// events the event limit lets through).
///
/// ```
/// # use receiver::cli::parse_size;
/// assert_eq!(parse_size("100MiB"), Ok(100 << 20));
/// assert_eq!(parse_size("2gb"), Ok(2_000_000_000));
/// assert_eq!(parse_size("1048576"), Ok(1 << 20));
/// assert!(parse_size("1KiB").is_err());
/// assert!(parse_size("lots").is_err());
/// ```
pub fn parse_size(s: &str) -> Result<u64, String> {
    let text = s.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size: expected e.g. 100MiB, 500MB or bytes"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "{s:?}: unknown unit {other:?} (KiB, MiB, GiB, KB, MB or GB)"
            ))
        }
    };
    let bytes = number * scale as f64;
    if !bytes.is_finite() || bytes > (64u64 << 30) as f64 {
        return Err(format!("{s:?} is over 64GiB"));
    }
    let bytes = bytes.round() as u64;
    if bytes < 1 << 20 {
        return Err(format!("{s:?} is under 1MiB, the largest event"));
    }
    Ok(bytes)
}

/// `--retention`: how long data is kept, `None` for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(pub Option<std::time::Duration>);

/// Parses `--retention`: a duration (`90d`), or `off` (also `never`). A
/// zero duration is refused: keeping nothing would delete what was just
/// stored, and `prune --older-than 0` means "everything", not "off".
///
/// ```
/// # use receiver::cli::{parse_retention, Retention};
/// use std::time::Duration;
/// assert_eq!(parse_retention("30d"), Ok(Retention(Some(Duration::from_secs(30 * 86_400)))));
/// assert_eq!(parse_retention("off"), Ok(Retention(None)));
/// assert!(parse_retention("forever").is_err());
/// assert!(parse_retention("0").is_err());
/// ```
pub fn parse_retention(s: &str) -> Result<Retention, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "off" | "never" => Ok(Retention(None)),
        _ => match commands::parse_duration(s) {
            Ok(d) if d.is_zero() => Err(format!(
                "--retention {s:?} would keep nothing; use `off` to keep everything"
            )),
            Ok(d) => Ok(Retention(Some(d))),
            Err(e) => Err(format!("{e}; or `off` to keep everything")),
        },
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server failed.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The command line is not usable as given.
    #[error("{0}")]
    Usage(String),
    /// The receiver could not be reached.
    #[error("{0}")]
    Unreachable(String),
    /// The API answered with an error.
    #[error("{detail}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The API's message.
        detail: String,
    },
    /// `wait` timed out or `check` found a condition false.
    #[error("{0}")]
    ConditionsNotMet(String),
}

impl CliError {
    /// The process exit code: 1 for unmet conditions, 2 for errors.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::ConditionsNotMet(_) => 1,
            _ => 2,
        }
    }
}

impl Cli {
    /// The server configuration these arguments describe.
    pub fn config(&self) -> Config {
        let defaults = Config::default();
        Config {
            addr: self.serve.addr.unwrap_or(defaults.addr),
            db_path: self.db.clone(),
            path_prefix: self
                .serve
                .prefix
                .as_deref()
                .map_or(defaults.path_prefix.clone(), normalize_prefix),
            max_connections: self.serve.max_connections,
            trust_forwarded_for: self.serve.trust_forwarded_for,
            retention: self.serve.retention.map_or(defaults.retention, |r| r.0),
            limits: match self.serve.max_envelope_size {
                Some(size) => defaults.limits.with_envelope_size(size),
                None => defaults.limits.clone(),
            },
            ..defaults
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let json = cli.client.json;
    match &cli.command {
        None | Some(Command::Serve) => serve(cli.config(), cli.client.token.clone()),
        Some(Command::Projects { action }) => {
            projects(&cli, action.as_ref().unwrap_or(&ProjectAction::List))
        }
        Some(Command::Keys { action }) => keys(
            &cli,
            action
                .as_ref()
                .unwrap_or(&KeyAction::List { project: None }),
        ),
        Some(Command::Quotas { action }) => quotas(
            &cli,
            action
                .as_ref()
                .unwrap_or(&QuotaAction::List { project: None }),
        ),
        Some(Command::Tokens { action }) => {
            token_command(&cli, action.as_ref().unwrap_or(&TokenAction::List))
        }
        Some(Command::Issues(args)) => commands::issues(&api_client(&cli)?, args, json),
        Some(Command::Issue(args)) => commands::issue(&api_client(&cli)?, args, json),
        Some(Command::Event(args)) => commands::event(&api_client(&cli)?, args, json),
        Some(Command::Tail(args)) => commands::tail(&api_client(&cli)?, args, json),
        Some(Command::Logs(args)) => logs::logs(&api_client(&cli)?, args, json),
        Some(Command::Metrics(args)) => metrics::metrics(&api_client(&cli)?, args, json),
        Some(Command::Transactions(args)) => traces::transactions(&api_client(&cli)?, args, json),
        Some(Command::Spans(args)) => spans::spans(&api_client(&cli)?, args, json),
        Some(Command::Profiles(args)) => profiles::profiles(&api_client(&cli)?, args, json),
        Some(Command::Profile(args)) => profiles::profile(&api_client(&cli)?, args, json),
        Some(Command::Trace(args)) => traces::trace(&api_client(&cli)?, args, json),
        Some(Command::Health(args)) => health::health(&api_client(&cli)?, args, json),
        Some(Command::Monitors(args)) => monitors::monitors(&api_client(&cli)?, args, json),
        Some(Command::Wait(args)) => commands::wait(&api_client(&cli)?, args, json),
        Some(Command::Check(args)) => commands::check(&api_client(&cli)?, args, json),
        Some(Command::Prune(args)) => prune::prune(&cli, args),
        Some(Command::FingerprintRules(args)) => rules::rules(&api_client(&cli)?, args, json),
    }
}

fn api_client(cli: &Cli) -> Result<Client, CliError> {
    let token = cli.client.token.clone().filter(|t| !t.trim().is_empty());
    if token.is_none() {
        return Err(CliError::Usage(
            "no API token: pass --token or set RECEIVER_TOKEN (the first `receiver serve` \
             printed an admin token; `receiver tokens create` makes more)"
                .to_owned(),
        ));
    }
    Client::new(&cli.client.url, token)
}

fn serve(config: Config, preset_token: Option<String>) -> Result<(), CliError> {
    // Before anything is bound or printed: a script that waits for the DSN
    // line must not take a server that is about to exit for a running one.
    if let Some(token) = preset_token.as_deref().filter(|t| !t.trim().is_empty()) {
        crate::api::tokens::check_format(token)?;
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async move {
        let db = config.db_path.clone();
        let prefix = config.path_prefix.clone();
        let server = Server::bind(config).await?;
        // The DSN is the first line on stdout; the rest is for humans.
        println!("{}", server.dsn());
        // The page's URL carries an in-memory admin token in its fragment;
        // stderr, so scripts that keep stdout (the DSN) do not store it.
        eprintln!("Web UI: {}", server.web_ui_url());
        if !server.local_addr().ip().is_loopback() {
            eprintln!(
                "warning: listening on {} exposes ingestion, the web page and the API to the \
                 network over plain HTTP (the API needs a token; see docs/receiver.md, \
                 \"Web page\")",
                server.local_addr()
            );
        }
        let token_db = db.clone();
        let host = server.public_host_port();
        let initial = tokio::task::spawn_blocking(move || {
            let initial = tokens::ensure_initial(&token_db, preset_token.as_deref())?;
            // After the DSN line, so it costs the start nothing.
            let conn = tokens::open_write(&token_db)?;
            crate::store::serving::note(&conn, &host, &prefix)?;
            Ok::<_, StoreError>(initial)
        })
        .await
        .map_err(|e| CliError::Store(StoreError::Task(e.to_string())))??;
        if let Some(token) = initial {
            eprintln!(
                "created an admin API token (shown only now; `receiver tokens create` makes \
                 more):\n  RECEIVER_TOKEN={token}"
            );
        }
        eprintln!(
            "receiver listening on http://{} (API under /api/0/, database {}{})",
            server.local_addr(),
            db.display(),
            if server.created_default() {
                ", created the default project"
            } else {
                ""
            }
        );
        server.run_until(shutdown_signal()).await;
        eprintln!("receiver stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The host and path prefix of the DSNs the management commands print:
/// `--addr`/`--prefix` when given, else where a receiver last served this
/// database (`store::serving`), else the defaults `serve` would use.
fn dsn_host(cli: &Cli, store: &Store) -> Result<(String, String), CliError> {
    // Port 0 (`RECEIVER_ADDR=127.0.0.1:0`, as CI scripts export it for the
    // server) names no port a DSN could use: the recorded one is meant.
    let addr = cli.serve.addr.filter(|a| a.port() != 0);
    let last = match (addr, &cli.serve.prefix) {
        (Some(_), Some(_)) => None,
        _ => store.read_blocking(crate::store::serving::last)?,
    };
    let config = cli.config();
    let host = match (addr, &last) {
        (None, Some((host, _))) => host.clone(),
        (Some(addr), _) => crate::server::public_host_port(addr),
        // Never served, and no usable address given: the default's.
        (None, None) => crate::server::public_host_port(Config::default().addr),
    };
    let prefix = match (&cli.serve.prefix, last) {
        (None, Some((_, prefix))) => prefix,
        _ => config.path_prefix,
    };
    Ok((host, prefix))
}

/// The database the management commands work on. Setting up projects,
/// keys and tokens before the first start is allowed (CI provisions fixed
/// DSNs that way), so a missing file is created, but said so on stderr: a
/// mistyped `--db`, or the default `./receiver.sqlite` from another
/// directory, would otherwise quietly get a new database whose tokens and
/// keys the running receiver never sees.
fn management_db(cli: &Cli) -> Result<&std::path::Path, CliError> {
    if !cli.db.exists() {
        eprintln!(
            "receiver: no database at {}: creating a new one (a running receiver uses the \
             file given by its own --db or RECEIVER_DB)",
            cli.db.display()
        );
    }
    Ok(&cli.db)
}

fn projects(cli: &Cli, action: &ProjectAction) -> Result<(), CliError> {
    let (store, _) = Store::open(management_db(cli)?, &Default::default())?;
    match action {
        ProjectAction::List => {
            let list = store.read_blocking(queries::list_projects)?;
            if cli.client.json {
                let v: Vec<serde_json::Value> = list
                    .iter()
                    .map(|p| serde_json::json!({"id": p.id, "name": p.name, "enabled": p.enabled}))
                    .collect();
                output::emit_json(&format!("{}\n", serde_json::Value::Array(v)));
            } else {
                for p in list {
                    output::emitln(&format!(
                        "{}\t{}\t{}",
                        p.id,
                        p.name,
                        if p.enabled { "enabled" } else { "disabled" }
                    ));
                }
            }
        }
        ProjectAction::Create { name, id } => {
            let project = match store.write_blocking(WriteOp::CreateProject {
                id: *id,
                name: name.clone(),
            })? {
                WriteResult::Project(p) => p,
                other => return Err(unexpected(other)),
            };
            let key = create_key(&store, project.id, None)?;
            let (host, prefix) = dsn_host(cli, &store)?;
            let dsn = key.dsn(&host, &prefix);
            if cli.client.json {
                let v = serde_json::json!({"id": project.id, "name": project.name, "dsn": dsn});
                output::emit_json(&format!("{v}\n"));
            } else {
                println!("{dsn}");
            }
        }
    }
    store.shutdown();
    Ok(())
}

/// The id of the project `key` names, by its id or its slug as the API
/// reads them (`my-app`); `None` for none. A name of no project is a usage
/// error that lists the projects.
fn project_id(store: &Store, key: Option<&str>) -> Result<Option<i64>, CliError> {
    let Some(key) = key else {
        return Ok(None);
    };
    let projects: Vec<(i64, String)> = store.read_blocking(|c| {
        let mut stmt = c.prepare("SELECT id, name FROM projects ORDER BY id")?;
        let rows: Vec<(i64, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let slugs =
            crate::api::projects::unique_slugs(rows.iter().map(|(id, n)| (*id, n.as_str())));
        Ok(rows.iter().map(|(id, _)| *id).zip(slugs).collect())
    })?;
    let key = key.trim();
    let by_id = key
        .parse::<i64>()
        .ok()
        .filter(|id| projects.iter().any(|(p, _)| p == id));
    by_id
        .or_else(|| {
            projects
                .iter()
                .find(|(_, slug)| slug.eq_ignore_ascii_case(key))
                .map(|(id, _)| *id)
        })
        .map(Some)
        .ok_or_else(|| {
            let known: Vec<String> = projects
                .iter()
                .map(|(id, slug)| format!("{id} ({slug})"))
                .collect();
            CliError::Usage(format!(
                "no project {key:?}; projects: {}",
                known.join(", ")
            ))
        })
}

fn keys(cli: &Cli, action: &KeyAction) -> Result<(), CliError> {
    let (store, _) = Store::open(management_db(cli)?, &Default::default())?;
    let (host, prefix) = dsn_host(cli, &store)?;
    match action {
        KeyAction::List { project } => {
            let project = project_id(&store, project.as_deref())?;
            let list = store.read_blocking(move |c| queries::list_keys(c, project))?;
            if cli.client.json {
                let v: Vec<serde_json::Value> = list
                    .iter()
                    .map(|k| {
                        serde_json::json!({"project": k.project_id, "publicKey": k.public_key,
                            "enabled": k.enabled, "dsn": k.dsn(&host, &prefix)})
                    })
                    .collect();
                output::emit_json(&format!("{}\n", serde_json::Value::Array(v)));
            } else {
                for k in list {
                    output::emitln(&format!(
                        "{}\t{}\t{}\t{}",
                        k.project_id,
                        k.public_key,
                        if k.enabled { "enabled" } else { "disabled" },
                        k.dsn(&host, &prefix)
                    ));
                }
            }
        }
        KeyAction::Create { project, key } => {
            let project = project_id(&store, Some(project))?.unwrap_or(1);
            let key = create_key(&store, project, key.clone())?;
            let dsn = key.dsn(&host, &prefix);
            if cli.client.json {
                let v = serde_json::json!({"project": key.project_id, "publicKey": key.public_key, "dsn": dsn});
                output::emit_json(&format!("{v}\n"));
            } else {
                println!("{dsn}");
            }
        }
    }
    store.shutdown();
    Ok(())
}

fn quotas(cli: &Cli, action: &QuotaAction) -> Result<(), CliError> {
    let (store, _) = Store::open(management_db(cli)?, &Default::default())?;
    let result = quota_command(cli, &store, action);
    store.shutdown();
    result
}

fn quota_command(cli: &Cli, store: &Store, action: &QuotaAction) -> Result<(), CliError> {
    match action {
        QuotaAction::List { project } => {
            let project = project_id(store, project.as_deref())?;
            let list = store.read_blocking(move |c| crate::store::quotas::list(c, project))?;
            if cli.client.json {
                let v: Vec<serde_json::Value> = list.iter().map(quota_json).collect();
                output::emit_json(&format!("{}\n", serde_json::Value::Array(v)));
            } else {
                for q in list {
                    let categories = if q.categories.is_empty() {
                        "all".to_owned()
                    } else {
                        q.categories.join(",")
                    };
                    output::emitln(&format!(
                        "{}\t{}\t{}\t{}\t{} per {} s\t{}",
                        q.id,
                        q.project_id,
                        q.public_key.as_deref().unwrap_or("every key"),
                        categories,
                        q.max_items,
                        q.window_secs,
                        q.reason
                    ));
                }
            }
        }
        QuotaAction::Add {
            project,
            key,
            categories,
            limit,
            window,
            reason,
        } => {
            let new = crate::store::quotas::NewQuota {
                project_id: project_id(store, Some(project))?.unwrap_or(1),
                public_key: key.clone(),
                categories: categories
                    .iter()
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty())
                    .collect(),
                max_items: *limit,
                window_secs: *window,
                reason: reason.clone(),
            };
            match store.write_blocking(WriteOp::AddQuota(new))? {
                WriteResult::Quota(q) if cli.client.json => {
                    output::emit_json(&format!("{}\n", quota_json(&q)));
                }
                WriteResult::Quota(q) => println!("{}", q.id),
                other => return Err(unexpected(other)),
            }
        }
        QuotaAction::Remove { id } => {
            let id = *id;
            // A mistyped id must not pass for a removal (the API answers
            // 404 the same way).
            let exists = store
                .read_blocking(move |c| crate::store::quotas::list(c, None))?
                .iter()
                .any(|q| q.id == id);
            if !exists {
                return Err(CliError::Usage(format!(
                    "no quota {id}: `receiver quotas list` shows their ids"
                )));
            }
            store.write_blocking(WriteOp::RemoveQuota { id })?;
            if cli.client.json {
                output::emit_json(&format!(
                    "{}\n",
                    serde_json::json!({"removed": id.to_string()})
                ));
            }
        }
    }
    Ok(())
}

/// The API's object for a quota, and the project it belongs to (the API
/// lists one project's quotas; `quotas list` lists every project's).
fn quota_json(q: &crate::store::quotas::Quota) -> serde_json::Value {
    let mut v = crate::api::quotas::quota_json(q);
    v["project"] = q.project_id.to_string().into();
    v
}

fn token_command(cli: &Cli, action: &TokenAction) -> Result<(), CliError> {
    let conn = tokens::open_write(management_db(cli)?)?;
    match action {
        TokenAction::List => {
            let list = tokens::list(&conn)?;
            if cli.client.json {
                let v: Vec<serde_json::Value> = list
                    .iter()
                    .map(|t| {
                        serde_json::json!({"id": t.id, "scope": t.scope.as_str(),
                            "label": t.label, "created": crate::store::queries::iso_time(t.created)})
                    })
                    .collect();
                output::emit_json(&format!("{}\n", serde_json::Value::Array(v)));
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.scope.as_str().to_owned(),
                            output::short_time(&crate::store::queries::iso_time(t.created)),
                            t.label.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                output::emit(&output::table(&["ID", "SCOPE", "CREATED", "LABEL"], &rows));
            }
        }
        TokenAction::Create { scope, label } => {
            let scope = Scope::parse(scope).unwrap_or(Scope::Read);
            let (info, token) = tokens::create(&conn, scope, label.as_deref())?;
            eprintln!("created {} token {}", scope.as_str(), info.id);
            if cli.client.json {
                let v = serde_json::json!({"id": info.id, "scope": scope.as_str(), "token": token});
                output::emit_json(&format!("{v}\n"));
            } else {
                println!("{token}");
            }
        }
        TokenAction::Revoke { id } => {
            tokens::revoke(&conn, *id)?;
            eprintln!("revoked token {id} (a running receiver forgets it within 5 s)");
        }
    }
    Ok(())
}

fn create_key(
    store: &Store,
    project_id: i64,
    public_key: Option<String>,
) -> Result<crate::store::KeyInfo, CliError> {
    match store.write_blocking(WriteOp::CreateKey {
        project_id,
        public_key,
        label: None,
    })? {
        WriteResult::Key(k) => Ok(k),
        other => Err(unexpected(other)),
    }
}

fn unexpected(result: WriteResult) -> CliError {
    CliError::Store(StoreError::Invalid(format!(
        "unexpected writer result {result:?}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_flags_reach_the_config() {
        let config = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("receiver").chain(args.iter().copied()))
                .expect("parses")
                .config()
        };
        let defaults = config(&[]);
        assert!(!defaults.trust_forwarded_for);
        assert_eq!(defaults.path_prefix, "/");
        assert_eq!(defaults.retention, Some(crate::config::DEFAULT_RETENTION));
        let set = config(&[
            "--trust-forwarded-for",
            "--prefix",
            "sentry",
            "--max-connections",
            "7",
            "--retention",
            "2w",
        ]);
        assert!(set.trust_forwarded_for);
        assert_eq!(set.path_prefix, "/sentry/");
        assert_eq!(set.max_connections, 7);
        assert_eq!(
            set.retention,
            Some(std::time::Duration::from_secs(14 * 86_400))
        );
        assert_eq!(config(&["--retention", "off"]).retention, None);
        let big = config(&["--max-envelope-size", "300MiB"]).limits;
        assert_eq!(
            (
                big.max_raw_body,
                big.max_decoded_body,
                big.max_attachment_size
            ),
            (300 << 20, 300 << 20, 300 << 20)
        );
        assert!(big.max_decoded_in_flight >= 300 << 20);
        assert_eq!(defaults.limits.max_raw_body, 100 << 20);
        assert!(Cli::try_parse_from(["receiver", "--max-envelope-size", "10KiB"]).is_err());
        assert!(Cli::try_parse_from(["receiver", "--retention", "soon"]).is_err());
        // The variable takes the usual boolean words. Only this test sets
        // it (tests run in parallel threads), and it is removed again.
        for (value, expected) in [
            ("1", true),
            ("yes", true),
            ("on", true),
            ("true", true),
            ("0", false),
            ("no", false),
            ("off", false),
            ("false", false),
        ] {
            std::env::set_var("RECEIVER_TRUST_FORWARDED_FOR", value);
            let cli = Cli::try_parse_from(["receiver"]);
            std::env::remove_var("RECEIVER_TRUST_FORWARDED_FOR");
            let cli = cli.unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(cli.config().trust_forwarded_for, expected, "{value}");
        }
    }
}
