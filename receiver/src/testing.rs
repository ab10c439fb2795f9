//! An embeddable receiver for tests.
//!
//! [`TestServer::start`] runs a real receiver on an ephemeral loopback port
//! with a fresh SQLite file in a temporary directory (removed on drop), on
//! its own thread and tokio runtime, so it works from sync and async tests
//! alike. Its accessors read the database directly; [`TestServer::api_get`]
//! and friends go through the JSON API with an admin token made at start.
//!
//! ```
//! use std::time::Duration;
//! use receiver::testing::{post, TestServer};
//!
//! let server = TestServer::start();
//! let body = b"{}\n{\"type\":\"event\"}\n{\"message\":\"hello\"}\n";
//! let auth = server.sentry_auth();
//! let response = post(&server.envelope_url(), &[("X-Sentry-Auth", auth.as_str())], body).unwrap();
//! assert_eq!(response.status, 200);
//! let events = server.wait_for_events(1, Duration::from_secs(5));
//! assert_eq!(events[0].title, "hello");
//! assert_eq!(server.issues().len(), 1);
//!
//! // The same through the JSON API, typed.
//! let issues: Vec<receiver::api::types::Issue> =
//!     server.api_json("/api/0/projects/local/1/issues/").unwrap();
//! assert_eq!(issues[0].title, "hello");
//! let events = server.issue_events(issues[0].id.parse().unwrap());
//! assert_eq!(events.len(), 1);
//! ```

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::api::tokens::{self, Scope};
use crate::config::{Clock, Config};
use crate::ingest::rate_limits::RateLimiter;
use crate::server::Server;
use crate::store::queries::{self, EventRow, IssueRow};
use crate::store::{KeyInfo, Store, StoreError, WriteOp, WriteResult};

/// A running receiver for tests. Stops (and deletes its database, unless
/// [`TestServerBuilder::db_path`] was given) when dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    key: KeyInfo,
    prefix: String,
    db_path: PathBuf,
    store: Option<Store>,
    rate_limiter: Option<Arc<RateLimiter>>,
    token: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    temp_dir: Option<PathBuf>,
}

/// Options for a [`TestServer`].
#[derive(Debug)]
pub struct TestServerBuilder {
    config: Config,
    projects: Vec<(i64, String)>,
    db_path: Option<PathBuf>,
}

impl TestServerBuilder {
    /// Adds a project with this id (if missing) and this public key.
    pub fn project(mut self, id: i64, public_key: &str) -> Self {
        self.projects.push((id, public_key.to_owned()));
        self
    }

    /// Changes the server configuration (address and database path are
    /// chosen by the builder).
    pub fn configure(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    /// Pins the clock used for `received` and time-window rules.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.config.clock = clock;
        self
    }

    /// Uses (and keeps) this database file instead of a temporary one.
    pub fn db_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.db_path = Some(path.into());
        self
    }

    /// Starts the server; panics with the reason if it cannot.
    pub fn start(self) -> TestServer {
        match self.try_start() {
            Ok(server) => server,
            Err(e) => panic!("cannot start the test receiver: {e}"),
        }
    }

    /// Starts the server.
    pub fn try_start(self) -> Result<TestServer, Box<dyn std::error::Error + Send + Sync>> {
        let (temp_dir, db_path) = match self.db_path {
            Some(path) => (None, path),
            None => {
                let dir = std::env::temp_dir()
                    .join(format!("receiver-test-{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir)?;
                let path = dir.join("receiver.sqlite");
                (Some(dir), path)
            }
        };
        let mut config = self.config;
        config.db_path = db_path.clone();
        if config.addr.port() == 8000 {
            config.addr = SocketAddr::from(([127, 0, 0, 1], 0));
        }
        let prefix = config.path_prefix.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("receiver-test-server".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Server::bind(config).await {
                        Ok(server) => {
                            let info = (
                                server.local_addr(),
                                server.default_key().clone(),
                                server.store().clone(),
                                server.rate_limiter(),
                            );
                            let _ = ready_tx.send(Ok(info));
                            server
                                .run_until(async {
                                    let _ = shutdown_rx.await;
                                })
                                .await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                        }
                    }
                });
            })?;
        let (addr, key, store, rate_limiter) = ready_rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|e| format!("test server did not start: {e}"))??;
        let token = {
            let conn = tokens::open_write(&db_path)?;
            tokens::create(&conn, Scope::Admin, Some("test server"))?.1
        };
        let server = TestServer {
            addr,
            key,
            prefix,
            db_path,
            store: Some(store),
            rate_limiter: Some(rate_limiter),
            token,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
            temp_dir,
        };
        for (id, public_key) in &self.projects {
            server.add_project(*id, public_key)?;
        }
        Ok(server)
    }
}

impl TestServer {
    /// Starts a receiver with the default configuration and a default
    /// project; panics if it cannot.
    pub fn start() -> TestServer {
        Self::builder().start()
    }

    /// A builder for non-default setups. Unlike the `receiver` binary, a
    /// test server keeps everything (`Config::retention` is `None`): tests
    /// seed data at any time, with a pinned clock or straight into the
    /// database, and a retention pass must not race them. `configure` can
    /// set it.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder {
            config: Config {
                retention: None,
                ..Config::default()
            },
            projects: Vec::new(),
            db_path: None,
        }
    }

    /// The server's store (for assertions on its state).
    pub fn store(&self) -> &Store {
        // Always `Some` until drop.
        self.store
            .as_ref()
            .unwrap_or_else(|| unreachable!("store taken before drop"))
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The DSN of the default project's key.
    pub fn dsn(&self) -> String {
        self.key.dsn(&self.addr.to_string(), &self.prefix)
    }

    /// The DSN for a project and key.
    pub fn dsn_for(&self, project_id: i64, public_key: &str) -> String {
        format!(
            "http://{public_key}@{}{}{project_id}",
            self.addr, self.prefix
        )
    }

    /// The default project's id.
    pub fn project_id(&self) -> i64 {
        self.key.project_id
    }

    /// The default key.
    pub fn public_key(&self) -> &str {
        &self.key.public_key
    }

    /// An `X-Sentry-Auth` header value for the default key.
    pub fn sentry_auth(&self) -> String {
        format!(
            "Sentry sentry_key={}, sentry_version=7",
            self.key.public_key
        )
    }

    /// The envelope endpoint of the default project.
    pub fn envelope_url(&self) -> String {
        format!(
            "{}{}api/{}/envelope/",
            self.url(),
            self.prefix,
            self.key.project_id
        )
    }

    /// The store endpoint of the default project.
    pub fn store_url(&self) -> String {
        format!(
            "{}{}api/{}/store/",
            self.url(),
            self.prefix,
            self.key.project_id
        )
    }

    /// `http://127.0.0.1:PORT/ui/`: the web page (it asks for a token; pass
    /// [`TestServer::token`] as `#token=…` to skip that).
    pub fn web_url(&self) -> String {
        format!("{}{}", self.url(), crate::web::UI_PATH)
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// Creates project `id` if missing and adds `public_key` to it.
    pub fn add_project(&self, id: i64, public_key: &str) -> Result<(), StoreError> {
        let exists = self
            .store()
            .read_blocking(|c| Ok(queries::list_projects(c)?.iter().any(|p| p.id == id)))?;
        if !exists {
            self.store().write_blocking(WriteOp::CreateProject {
                id: Some(id),
                name: format!("project-{id}"),
            })?;
        }
        match self.store().write_blocking(WriteOp::CreateKey {
            project_id: id,
            public_key: Some(public_key.to_owned()),
            label: None,
        })? {
            WriteResult::Key(_) => Ok(()),
            other => Err(StoreError::Invalid(format!("unexpected {other:?}"))),
        }
    }

    /// Waits until at least `n` events are stored (all projects) and returns
    /// the default project's events, newest first. Panics after `timeout`.
    pub fn wait_for_events(&self, n: usize, timeout: Duration) -> Vec<EventRow> {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self
                .store()
                .read_blocking(queries::count_events)
                .unwrap_or(0);
            if count as usize >= n {
                return self.events();
            }
            if Instant::now() >= deadline {
                panic!("expected {n} events within {timeout:?}, have {count}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until at least `n` issues exist (all projects) and returns the
    /// default project's issues, most recently seen first. Panics after
    /// `timeout`.
    pub fn wait_for_issues(&self, n: usize, timeout: Duration) -> Vec<IssueRow> {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self
                .store()
                .read_blocking(|c| {
                    Ok(c.query_row("SELECT COUNT(*) FROM issues", [], |r| r.get::<_, i64>(0))?)
                })
                .unwrap_or(0);
            if count as usize >= n {
                return self.issues();
            }
            if Instant::now() >= deadline {
                panic!("expected {n} issues within {timeout:?}, have {count}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The events of one issue, newest first (at most 10 000).
    pub fn issue_events(&self, issue_id: i64) -> Vec<EventRow> {
        self.store()
            .read_blocking(|c| {
                let project: i64 = c.query_row(
                    "SELECT project_id FROM issues WHERE id = ?1",
                    [issue_id],
                    |r| r.get(0),
                )?;
                queries::list_events(c, project, Some(issue_id), 10_000)
            })
            .unwrap_or_default()
    }

    /// The admin API token created at start.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Creates another API token (e.g. a read-only one to test scopes).
    pub fn create_token(&self, scope: Scope) -> Result<String, StoreError> {
        let conn = tokens::open_write(&self.db_path)?;
        Ok(tokens::create(&conn, scope, Some("test"))?.1)
    }

    /// `http://127.0.0.1:PORT{path}` (path starting with `/api/0/`).
    pub fn api_url(&self, path: &str) -> String {
        format!("{}{path}", self.url())
    }

    /// Sends an API request with the admin token and an optional JSON body.
    pub fn api_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> io::Result<TestResponse> {
        let auth = format!("Bearer {}", self.token);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        request(
            method,
            &self.api_url(path),
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
    }

    /// `GET`s an API path with the admin token.
    pub fn api_get(&self, path: &str) -> io::Result<TestResponse> {
        self.api_request("GET", path, None)
    }

    /// `GET`s an API path and decodes the JSON answer into `T` (an error
    /// for a non-2xx status or a body of another shape).
    pub fn api_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let response = self.api_get(path).map_err(|e| e.to_string())?;
        if !(200..300).contains(&response.status) {
            return Err(format!(
                "GET {path}: {} {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ));
        }
        serde_json::from_slice(&response.body).map_err(|e| format!("GET {path}: {e}"))
    }

    /// The default project's events, newest first (at most 10 000).
    pub fn events(&self) -> Vec<EventRow> {
        self.events_of(self.key.project_id)
    }

    /// A project's events, newest first (at most 10 000).
    pub fn events_of(&self, project_id: i64) -> Vec<EventRow> {
        self.store()
            .read_blocking(|c| queries::list_events(c, project_id, None, 10_000))
            .unwrap_or_default()
    }

    /// The stored JSON of an event of the default project.
    pub fn event_json(&self, event_id: &str) -> Option<serde_json::Value> {
        let (p, id) = (self.key.project_id, event_id.replace('-', ""));
        self.store()
            .read_blocking(|c| queries::event_payload(c, p, &id))
            .ok()
            .flatten()
    }

    /// A default-project event's payload as the SDK sent it, before
    /// normalisation cut or rewrote anything.
    pub fn event_as_sent(&self, event_id: &str) -> Option<serde_json::Value> {
        let (p, id) = (self.key.project_id, event_id.replace('-', ""));
        let blob: Vec<u8> = self
            .store()
            .read_blocking(|c| {
                Ok(c.query_row(
                    "SELECT payload FROM events WHERE project_id = ?1 AND event_id = ?2",
                    rusqlite::params![p, id],
                    |r| r.get(0),
                )?)
            })
            .ok()?;
        serde_json::from_slice(&crate::store::decompress_as_sent(&blob).ok()?).ok()
    }

    /// Adds a rate-limit quota through the server's writer (in force for
    /// the next request).
    pub fn add_quota(
        &self,
        quota: crate::store::quotas::NewQuota,
    ) -> Result<crate::store::quotas::Quota, StoreError> {
        match self.store().write_blocking(WriteOp::AddQuota(quota))? {
            WriteResult::Quota(q) => Ok(q),
            other => Err(StoreError::Invalid(format!("unexpected {other:?}"))),
        }
    }

    /// How many requests ended while their write was queued (their client
    /// hung up): [`RateLimiter::left_while_queued`].
    pub fn requests_left_while_queued(&self) -> u64 {
        self.rate_limiter
            .as_ref()
            .map_or(0, |r| r.left_while_queued())
    }

    /// The client-report rows of all projects, summed:
    /// `(outcome, reason, category, quantity)`, in that order. What SDKs
    /// report dropping and what quotas refused (`rate_limited`). The
    /// outcomes of requests answered 429 are written after the answer:
    /// this waits (up to 10 s) until none are left to write.
    pub fn outcomes(&self) -> Vec<(String, String, String, i64)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self
            .rate_limiter
            .as_ref()
            .is_some_and(|r| r.outcomes_pending())
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.store()
            .read_blocking(|c| {
                let mut stmt = c.prepare(
                    "SELECT outcome, reason, category, SUM(quantity) FROM client_reports
                     GROUP BY outcome, reason, category ORDER BY outcome, reason, category",
                )?;
                let rows =
                    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .unwrap_or_default()
    }

    /// The default project's issues, most recently seen first.
    pub fn issues(&self) -> Vec<IssueRow> {
        self.issues_of(self.key.project_id)
    }

    /// A project's issues, most recently seen first.
    pub fn issues_of(&self, project_id: i64) -> Vec<IssueRow> {
        self.store()
            .read_blocking(|c| queries::list_issues(c, project_id))
            .unwrap_or_default()
    }

    /// Row counts per table.
    pub fn counts(&self) -> BTreeMap<String, i64> {
        self.store()
            .read_blocking(queries::table_counts)
            .unwrap_or_default()
    }

    /// What the writer has committed so far.
    pub fn writer_counts(&self) -> crate::store::writer::WriterCounts {
        self.store().writer_counts()
    }

    /// Runs any read query.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.store().read_blocking(f)
    }

    /// Performs a write through the server's writer.
    pub fn write(&self, op: WriteOp) -> Result<WriteResult, StoreError> {
        self.store().write_blocking(op)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.store = None;
        self.rate_limiter = None;
        if let Some(dir) = self.temp_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A response read by [`post`] / [`send_raw`].
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// POSTs `body` to `url` (`http://host:port/path?query`) with the given
/// headers and `Content-Length`, over a fresh connection.
pub fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> io::Result<TestResponse> {
    request("POST", url, headers, body)
}

/// Sends one request over a fresh connection. A `Content-Length` header is
/// added unless `headers` has `Transfer-Encoding` (then `body` must already
/// be chunk-encoded).
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<TestResponse> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "only http:// URLs"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let addr: SocketAddr = host
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "host must be ip:port"))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    let chunked = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"));
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !chunked
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    send_raw(addr, &bytes)
}

/// Writes raw bytes to `addr` and reads one response (the connection is
/// expected to close after it, or to announce a `Content-Length`).
pub fn send_raw(addr: SocketAddr, bytes: &[u8]) -> io::Result<TestResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    stream.set_write_timeout(Some(Duration::from_secs(15)))?;
    // The server may answer (and close) before reading all of a refused
    // body; the response is still readable then.
    let write_result = stream.write_all(bytes);
    let response = read_response(&mut stream);
    match (response, write_result) {
        (Ok(r), _) => Ok(r),
        (Err(e), Ok(())) => Err(e),
        (Err(_), Err(e)) => Err(e),
    }
}

/// Reads one HTTP/1.1 response from `stream`.
pub fn read_response(stream: &mut impl Read) -> io::Result<TestResponse> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no response"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 1 << 20 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "huge head"));
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[header_end + 4..].to_vec();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    loop {
        if length.is_some_and(|len| body.len() >= len) {
            break;
        }
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if length.is_none() && e.kind() == io::ErrorKind::ConnectionReset => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    if let Some(len) = length {
        body.truncate(len);
    }
    Ok(TestResponse {
        status,
        headers,
        body,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
