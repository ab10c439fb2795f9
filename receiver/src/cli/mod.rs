//! The command line: `receiver [serve]`, `receiver projects …`,
//! `receiver keys …`.
//!
//! `receiver` with no arguments serves on 127.0.0.1:8000 with
//! `./receiver.sqlite`, creating a default project and key on first start,
//! and prints the DSN as the first line on stdout (everything else goes to
//! stderr, so `DSN=$(receiver | head -1)` works).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{normalize_prefix, Config, DEFAULT_DB};
use crate::server::{Server, ServerError};
use crate::store::{queries, Store, StoreError, WriteOp, WriteResult};

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
        /// Only this project's keys.
        #[arg(long)]
        project: Option<i64>,
    },
    /// Create a key; prints the DSN.
    Create {
        /// The project.
        #[arg(long, default_value_t = 1)]
        project: i64,
        /// The public key (32 letters or digits; random if omitted).
        #[arg(long)]
        key: Option<String>,
    },
}

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        global = true,
        env = "RECEIVER_ADDR",
        default_value = "127.0.0.1:8000"
    )]
    pub addr: SocketAddr,
    /// Path prefix before `api/` (for DSNs like http://key@host/sentry/1).
    #[arg(long, global = true, env = "RECEIVER_PATH_PREFIX", default_value = "/")]
    pub prefix: String,
    /// Maximum open connections.
    #[arg(
        long,
        global = true,
        env = "RECEIVER_MAX_CONNECTIONS",
        default_value_t = 512
    )]
    pub max_connections: usize,
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
}

impl Cli {
    /// The server configuration these arguments describe.
    pub fn config(&self) -> Config {
        Config {
            addr: self.serve.addr,
            db_path: self.db.clone(),
            path_prefix: normalize_prefix(&self.serve.prefix),
            max_connections: self.serve.max_connections,
            ..Config::default()
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match &cli.command {
        None | Some(Command::Serve) => serve(cli.config()),
        Some(Command::Projects { action }) => {
            projects(&cli, action.as_ref().unwrap_or(&ProjectAction::List))
        }
        Some(Command::Keys { action }) => keys(
            &cli,
            action
                .as_ref()
                .unwrap_or(&KeyAction::List { project: None }),
        ),
    }
}

fn serve(config: Config) -> Result<(), CliError> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async move {
        let db = config.db_path.clone();
        let server = Server::bind(config).await?;
        // The DSN is the first line on stdout; the rest is for humans.
        println!("{}", server.dsn());
        eprintln!(
            "receiver listening on http://{} (database {}{})",
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

fn dsn_host(cli: &Cli) -> (String, String) {
    let addr = cli.serve.addr;
    let host = if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    (host, normalize_prefix(&cli.serve.prefix))
}

fn projects(cli: &Cli, action: &ProjectAction) -> Result<(), CliError> {
    let (store, _) = Store::open(&cli.db, &Default::default())?;
    match action {
        ProjectAction::List => {
            for p in store.read_blocking(queries::list_projects)? {
                println!(
                    "{}\t{}\t{}",
                    p.id,
                    p.name,
                    if p.enabled { "enabled" } else { "disabled" }
                );
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
            let (host, prefix) = dsn_host(cli);
            println!("{}", key.dsn(&host, &prefix));
        }
    }
    store.shutdown();
    Ok(())
}

fn keys(cli: &Cli, action: &KeyAction) -> Result<(), CliError> {
    let (store, _) = Store::open(&cli.db, &Default::default())?;
    let (host, prefix) = dsn_host(cli);
    match action {
        KeyAction::List { project } => {
            let project = *project;
            for k in store.read_blocking(move |c| queries::list_keys(c, project))? {
                println!(
                    "{}\t{}\t{}\t{}",
                    k.project_id,
                    k.public_key,
                    if k.enabled { "enabled" } else { "disabled" },
                    k.dsn(&host, &prefix)
                );
            }
        }
        KeyAction::Create { project, key } => {
            let key = create_key(&store, *project, key.clone())?;
            println!("{}", key.dsn(&host, &prefix));
        }
    }
    store.shutdown();
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
