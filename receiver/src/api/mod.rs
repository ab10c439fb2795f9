//! The JSON API under `/api/0/`: Sentry's paths and shapes where they exist
//! (projects, issues, events, attachments, releases, deploys), and local
//! extensions under `/api/0/local/` (release health, transactions, traces,
//! client reports, counts, a live event stream). `docs/receiver-api.md`
//! lists every endpoint.
//!
//! Every request except `GET /api/0/` needs `Authorization: Bearer TOKEN`
//! ([`tokens`]); `read` tokens may only `GET`. Missing or unknown token: 401;
//! a `read` token writing: 403; unknown id: 404; bad parameter: 400 — always
//! with `{"detail": message}`.
//!
//! Reads run on the store's read pool ([`crate::store::Store::read`]);
//! writes (issue workflow, releases, deploys) run on a connection of the
//! API's own in tokio's blocking pool, so neither blocks the runtime. They
//! share the file with the ingestion writer through SQLite's locking (busy
//! timeout 10 s).

mod container_scan;
mod events;
mod feedback;
mod id_prefix;
mod issues;
pub(crate) use issues::search_names_status;
mod local;
pub use local::category_unit;
mod logs;
mod metrics;
mod missed_runs;
mod monitor_delete;
mod monitor_mute;
mod monitors;
/// Most stored `log` items one `GET /api/0/local/logs/` reads.
pub const LOGS_MAX_ROWS_READ: usize = logs::MAX_ROWS_READ;
/// Most stored `log` items one `GET /api/0/local/logs/` looks at, read or
/// passed over unread by what ingestion stored of their lines.
pub const LOGS_MAX_ROWS_EXAMINED: usize = container_scan::MAX_ROWS_EXAMINED;
/// Most spans one `GET /api/0/local/spans/` reads in start-time order.
pub const SPANS_MAX_READ: usize = spans::MAX_SPANS_READ;
/// Most transactions one `GET /api/0/local/transactions/` reads in
/// start-time order.
pub const TRANSACTIONS_MAX_READ: usize = transactions::MAX_TRANSACTIONS_READ;
mod params;
pub mod profile_summary;
mod profilers;
mod profiles;
pub(crate) mod projects;
pub(crate) mod quotas;
mod releases;
pub(crate) mod schedule;
mod span_detail;
mod spans;
mod tag_cache;
pub mod tokens;
mod transactions;
pub mod types;
mod walk;

/// What SQLite does for `query` (EXPLAIN QUERY PLAN, its details joined
/// by `; `): for tests that a read uses the index it was written for.
#[cfg(test)]
pub(crate) fn query_plan(c: &rusqlite::Connection, query: &str) -> String {
    let plan: Vec<String> = c
        .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
        .expect("plan")
        .query_map([], |r| r.get::<_, String>(3))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("plan rows");
    plan.join("; ")
}

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use parking_lot::Mutex;
use rusqlite::{Connection, TransactionBehavior};
use serde::Serialize;
use serde_json::{json, Value};

use crate::config::Clock;
use crate::server::HttpResponse;
use crate::store::{Store, StoreError};
use params::Query;
use tokens::Scope;

/// Largest accepted request body (JSON).
const MAX_BODY: usize = 1 << 20;
/// How long a validated token is trusted before it is looked up again (a
/// token revoked by another process stops working within this time).
const TOKEN_CACHE_TTL: Duration = Duration::from_secs(5);

/// Why an API request failed. Each variant maps to one status; the message
/// is the `detail` of the JSON body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a bad parameter or body.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no token or an unknown one.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the token's scope does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such route or object.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists with other methods.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 413: the body is too large.
    #[error("{0}")]
    TooLarge(String),
    /// The database failed (500, or 503 when busy).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::Store(StoreError::from(e))
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Store(e) => match e {
                StoreError::NotFound(_) => StatusCode::NOT_FOUND,
                StoreError::Invalid(_) => StatusCode::BAD_REQUEST,
                StoreError::QueueFull | StoreError::WriterGone | StoreError::DiskFull(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _))
                    if matches!(
                        f.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) =>
                {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    fn not_found(what: impl std::fmt::Display) -> ApiError {
        ApiError::NotFound(format!("{what} does not exist"))
    }
}

/// Whether `path` (with runs of `/` collapsed) belongs to the API.
pub fn is_api_path(path: &str) -> bool {
    path == "/api/0" || path.starts_with("/api/0/")
}

/// The API handler (cheap to clone).
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("db_path", &self.inner.db_path)
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: Store,
    db_path: PathBuf,
    writer: Mutex<Option<Connection>>,
    dsn_host: String,
    path_prefix: String,
    clock: Clock,
    tokens: Mutex<HashMap<String, (Scope, Instant)>>,
    /// Ephemeral tokens of this process (never stored).
    memory_tokens: tokens::MemoryTokens,
    /// Issues' tag breakdowns, while their issues are unchanged.
    tag_cache: Arc<tag_cache::TagCache>,
}

/// What a handler answers.
pub(crate) enum Reply {
    /// JSON with extra headers.
    Json {
        status: StatusCode,
        body: Vec<u8>,
        headers: Vec<(HeaderName, String)>,
    },
    /// A file download.
    File {
        content_type: String,
        filename: String,
        data: Vec<u8>,
    },
    /// No body.
    Empty(StatusCode),
}

impl Reply {
    /// 200 with `value` as JSON.
    pub(crate) fn json(value: &impl Serialize) -> Result<Reply, ApiError> {
        Reply::json_status(StatusCode::OK, value)
    }

    /// `status` with `value` as JSON.
    pub(crate) fn json_status(
        status: StatusCode,
        value: &impl Serialize,
    ) -> Result<Reply, ApiError> {
        let body = serde_json::to_vec(value)
            .map_err(|e| ApiError::Store(StoreError::Invalid(format!("cannot encode: {e}"))))?;
        Ok(Reply::Json {
            status,
            body,
            headers: Vec::new(),
        })
    }

    /// Adds a header to a JSON reply.
    pub(crate) fn with_header(mut self, name: HeaderName, value: String) -> Reply {
        if let Reply::Json { headers, .. } = &mut self {
            headers.push((name, value));
        }
        self
    }
}

/// One request as the handlers see it.
pub(crate) struct Ctx {
    inner: Arc<Inner>,
    /// The method.
    pub method: Method,
    /// The query string.
    pub query: Query,
    /// `http://host/path` of the request, for `Link` headers.
    pub url: String,
    /// The JSON body of `POST`/`PUT` (`{}` when empty).
    pub body: Value,
}

impl Ctx {
    /// This server's cache of issues' tag breakdowns.
    pub(crate) fn tag_cache(&self) -> Arc<tag_cache::TagCache> {
        self.inner.tag_cache.clone()
    }

    /// Runs a read on the store's read pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        self.inner.store.read(move |c| Ok(f(c))).await?
    }

    /// Runs `f` in one `IMMEDIATE` transaction on the API's write
    /// connection, in the blocking pool.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = inner.writer.lock();
            let conn = match &mut *guard {
                Some(c) => c,
                slot => slot.insert(tokens::open_write(&inner.db_path)?),
            };
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .await
        .map_err(|e| ApiError::Store(StoreError::Task(e.to_string())))?
    }

    /// The store (for writes that go through its writer).
    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// "Now" by the server's clock (Unix seconds).
    pub(crate) fn now(&self) -> f64 {
        self.inner.clock.now().as_secs_f64()
    }

    /// The request URL with its query minus `cursor`, for `Link` headers.
    pub(crate) fn link_base(&self) -> String {
        let q = self.query.without_cursor();
        if q.is_empty() {
            self.url.clone()
        } else {
            format!("{}?{q}", self.url)
        }
    }

    /// `host:port` and path prefix for DSNs.
    pub(crate) fn dsn_parts(&self) -> (&str, &str) {
        (&self.inner.dsn_host, &self.inner.path_prefix)
    }

    /// An absolute API URL for `path` (starting with `/api/0/`).
    pub(crate) fn absolute(&self, path: &str) -> String {
        let origin = self
            .url
            .find("/api/0")
            .map_or(self.url.as_str(), |i| &self.url[..i]);
        format!("{origin}{path}")
    }
}

impl Api {
    /// An API on `store` (whose file is `db_path`); `dsn_host` and
    /// `path_prefix` build DSNs, `clock` is "now" for relative time ranges.
    pub fn new(
        store: Store,
        db_path: PathBuf,
        dsn_host: String,
        path_prefix: String,
        clock: Clock,
    ) -> Api {
        Api {
            inner: Arc::new(Inner {
                store,
                db_path,
                writer: Mutex::new(None),
                dsn_host,
                path_prefix,
                clock,
                tokens: Mutex::new(HashMap::new()),
                memory_tokens: tokens::MemoryTokens::default(),
                tag_cache: Arc::default(),
            }),
        }
    }

    /// Makes a random token with `scope` that this API accepts until the
    /// process exits. It is held in memory only (as its hash), never written
    /// to the database, so other processes on the same file do not know it.
    /// `receiver serve` uses one for the web page's URL.
    ///
    /// ```
    /// use receiver::api::{tokens::{self, Scope}, Api};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("db.sqlite");
    /// let (store, _) = receiver::store::Store::open(&path, &Default::default())?;
    /// let api = Api::new(store.clone(), path.clone(), "127.0.0.1:8000".into(), "/".into(),
    ///     receiver::config::Clock::System);
    /// let token = api.create_ephemeral_token(Scope::Admin);
    /// assert_eq!(token.len(), 64);
    /// // Not in the database: no other process accepts it.
    /// assert_eq!(tokens::lookup(&tokens::open_write(&path)?, &token)?, None);
    /// store.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_ephemeral_token(&self, scope: Scope) -> String {
        self.inner.memory_tokens.create(scope)
    }

    /// Answers one request whose (normalised) path is an API path.
    pub async fn handle(&self, req: Request<Incoming>, path: &str) -> HttpResponse {
        match self.respond(req, path).await {
            Ok(reply) => into_response(reply),
            Err(e) => error_response(&e),
        }
    }

    async fn respond(&self, req: Request<Incoming>, path: &str) -> Result<Reply, ApiError> {
        let rest = path.strip_prefix("/api/0").unwrap_or("");
        let segments: Vec<String> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        // HEAD is answered as GET; hyper sends the head without the body.
        let method = match req.method() {
            &Method::HEAD => Method::GET,
            m => m.clone(),
        };
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .map_or_else(|| self.inner.dsn_host.clone(), str::to_owned);
        let query = Query::parse(req.uri().query());
        let token = bearer_token(req.headers());

        if method == Method::OPTIONS {
            return Ok(Reply::Empty(StatusCode::OK));
        }
        let scope = match token {
            Some(t) => Some(self.authenticate(&t).await?),
            None => None,
        };
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        if segs.is_empty() {
            return if method == Method::GET {
                root(scope)
            } else {
                Err(ApiError::MethodNotAllowed(format!(
                    "Method \"{method}\" not allowed (allowed: GET)"
                )))
            };
        }
        let Some(scope) = scope else {
            return Err(ApiError::Unauthorized(
                "Authentication credentials were not provided: send Authorization: Bearer TOKEN"
                    .to_owned(),
            ));
        };
        let writes = !matches!(method, Method::GET | Method::HEAD);
        if writes && scope != Scope::Admin {
            return Err(ApiError::Forbidden(
                "You do not have permission to perform this action: this token is read-only"
                    .to_owned(),
            ));
        }
        let body = if matches!(method, Method::POST | Method::PUT) {
            read_json_body(req.into_body()).await?
        } else {
            Value::Object(Default::default())
        };
        let ctx = Ctx {
            inner: self.inner.clone(),
            method,
            query,
            url: format!("http://{host}{path}"),
            body,
        };
        dispatch(&ctx, &segs).await
    }

    async fn authenticate(&self, token: &str) -> Result<Scope, ApiError> {
        if let Some(scope) = self.inner.memory_tokens.lookup(token) {
            return Ok(scope);
        }
        let key = tokens::hash(token);
        if let Some((scope, at)) = self.inner.tokens.lock().get(&key) {
            if at.elapsed() < TOKEN_CACHE_TTL {
                return Ok(*scope);
            }
        }
        let t = token.to_owned();
        let scope = self
            .inner
            .store
            .read(move |c| tokens::lookup(c, &t))
            .await?;
        let mut cache = self.inner.tokens.lock();
        match scope {
            Some(scope) => {
                if cache.len() > 1024 {
                    cache.clear();
                }
                cache.insert(key, (scope, Instant::now()));
                Ok(scope)
            }
            None => {
                cache.remove(&key);
                Err(ApiError::Unauthorized("Invalid token".to_owned()))
            }
        }
    }
}

/// The token of `Authorization: Bearer X` (or `Token X`).
fn bearer_token(headers: &hyper::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

async fn read_json_body(body: Incoming) -> Result<Value, ApiError> {
    let collected = tokio::time::timeout(
        Duration::from_secs(30),
        Limited::new(body, MAX_BODY).collect(),
    )
    .await
    .map_err(|_| ApiError::BadRequest("timed out reading the request body".to_owned()))?
    .map_err(|e| {
        if e.is::<http_body_util::LengthLimitError>() {
            ApiError::TooLarge(format!("request body is over {MAX_BODY} bytes"))
        } else {
            ApiError::BadRequest(format!("failed to read the request body: {e}"))
        }
    })?;
    let bytes = collected.to_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("the request body is not valid JSON: {e}")))
}

fn root(scope: Option<Scope>) -> Result<Reply, ApiError> {
    let auth = scope.map(|s| json!({"scopes": s.sentry_scopes(), "scope": s.as_str()}));
    Reply::json(&json!({"version": "0", "auth": auth, "user": null}))
}

fn method_not_allowed(ctx: &Ctx, allowed: &str) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "Method \"{}\" not allowed (allowed: {allowed})",
        ctx.method
    ))
}

async fn dispatch(ctx: &Ctx, segs: &[&str]) -> Result<Reply, ApiError> {
    use Method as M;
    let m = ctx.method.clone();
    match segs {
        ["organizations"] if m == M::GET => projects::organizations(ctx),
        ["organizations", _] if m == M::GET => projects::organization(ctx),
        ["projects"] | ["organizations", _, "projects"] if m == M::GET => projects::list(ctx).await,
        ["projects", _, p] => match m {
            M::GET => projects::detail(ctx, p).await,
            M::PUT => projects::update(ctx, p).await,
            _ => Err(method_not_allowed(ctx, "GET, PUT")),
        },
        ["projects", _, p, "keys"] if m == M::GET => projects::keys(ctx, p).await,
        ["projects", _, p, "quotas"] => match m {
            M::GET => quotas::list(ctx, p).await,
            M::POST => quotas::create(ctx, p).await,
            _ => Err(method_not_allowed(ctx, "GET, POST")),
        },
        ["projects", _, p, "quotas", id] if m == M::DELETE => quotas::delete(ctx, p, id).await,
        ["projects", _, p, "monitors", slug] => match m {
            M::DELETE => monitor_delete::delete(ctx, Some(p), slug).await,
            M::PUT => monitor_mute::update(ctx, Some(p), slug).await,
            _ => Err(method_not_allowed(ctx, "PUT, DELETE")),
        },
        ["organizations", _, "monitors", slug] => match m {
            M::DELETE => monitor_delete::delete(ctx, None, slug).await,
            M::PUT => monitor_mute::update(ctx, None, slug).await,
            _ => Err(method_not_allowed(ctx, "PUT, DELETE")),
        },
        ["projects", _, p, "issues"] => match m {
            M::GET => issues::list(ctx, Some(p)).await,
            M::PUT => issues::bulk_update(ctx, Some(p)).await,
            M::DELETE => issues::bulk_delete(ctx, Some(p)).await,
            _ => Err(method_not_allowed(ctx, "GET, PUT, DELETE")),
        },
        ["organizations", _, "issues"] => match m {
            M::GET => issues::list(ctx, None).await,
            M::PUT => issues::bulk_update(ctx, None).await,
            M::DELETE => issues::bulk_delete(ctx, None).await,
            _ => Err(method_not_allowed(ctx, "GET, PUT, DELETE")),
        },
        ["projects", _, p, "events"] if m == M::GET => events::project_events(ctx, p).await,
        ["projects", _, p, "user-feedback"] if m == M::GET => feedback::project(ctx, p).await,
        ["projects", _, p, "events", id] if m == M::GET => events::detail(ctx, p, id).await,
        ["projects", _, p, "events", id, "attachments"] if m == M::GET => {
            events::attachments(ctx, p, id).await
        }
        ["projects", _, p, "events", id, "attachments", att] if m == M::GET => {
            events::attachment(ctx, p, id, att).await
        }
        ["projects", _, p, "releases"] if m == M::GET => releases::list(ctx, Some(p)).await,
        ["projects", _, p, "releases", v] if m == M::GET => releases::detail(ctx, v, Some(p)).await,
        ["issues", id] | ["groups", id] | ["organizations", _, "issues", id] => match m {
            M::GET => issues::detail(ctx, id).await,
            M::PUT => issues::update(ctx, id).await,
            M::DELETE => issues::delete(ctx, id).await,
            _ => Err(method_not_allowed(ctx, "GET, PUT, DELETE")),
        },
        ["issues", id, "events"] | ["organizations", _, "issues", id, "events"] if m == M::GET => {
            issues::events(ctx, id).await
        }
        ["issues", id, "events", which] | ["organizations", _, "issues", id, "events", which]
            if m == M::GET =>
        {
            issues::event(ctx, id, which).await
        }
        ["issues", id, "tags"] if m == M::GET => issues::tags(ctx, id, None).await,
        ["issues", id, "tags", key] if m == M::GET => issues::tags(ctx, id, Some(key)).await,
        ["issues", id, "hashes"] if m == M::GET => issues::hashes(ctx, id).await,
        ["issues", id, "user-reports"] | ["organizations", _, "issues", id, "user-reports"]
            if m == M::GET =>
        {
            feedback::issue(ctx, id).await
        }
        ["organizations", _, "shortids", sid] if m == M::GET => issues::by_short_id(ctx, sid).await,
        ["organizations", _, "releases"] => match m {
            M::GET => releases::list(ctx, None).await,
            M::POST => releases::create(ctx).await,
            _ => Err(method_not_allowed(ctx, "GET, POST")),
        },
        ["organizations", _, "releases", v] => match m {
            M::GET => releases::detail(ctx, v, None).await,
            M::PUT => releases::update(ctx, v).await,
            M::DELETE => releases::delete(ctx, v).await,
            _ => Err(method_not_allowed(ctx, "GET, PUT, DELETE")),
        },
        ["organizations", _, "releases", v, "deploys"] => match m {
            M::GET => releases::deploys(ctx, v).await,
            M::POST => releases::create_deploy(ctx, v).await,
            _ => Err(method_not_allowed(ctx, "GET, POST")),
        },
        ["local", "health"] if m == M::GET => local::health(ctx).await,
        ["local", "transactions"] if m == M::GET => transactions::list(ctx).await,
        ["local", "traces", id] if m == M::GET => local::trace(ctx, id).await,
        ["local", "traces", trace, "spans", span] if m == M::GET => {
            span_detail::detail(ctx, trace, span).await
        }
        ["local", "client-reports"] if m == M::GET => local::client_reports(ctx).await,
        ["local", "stats"] if m == M::GET => local::stats(ctx).await,
        ["local", "stream"] if m == M::GET => local::stream(ctx).await,
        ["local", "logs"] if m == M::GET => logs::list(ctx).await,
        ["local", "metrics"] if m == M::GET => metrics::list(ctx).await,
        ["local", "metrics", "summary"] if m == M::GET => metrics::summary(ctx).await,
        ["local", "spans"] if m == M::GET => spans::list(ctx).await,
        ["local", "profiles"] if m == M::GET => profiles::list(ctx).await,
        ["local", "profiles", id] if m == M::GET => profiles::detail(ctx, id).await,
        ["local", "profilers"] if m == M::GET => profilers::list(ctx).await,
        ["local", "feedback"] if m == M::GET => feedback::local(ctx).await,
        ["local", "profilers", id] if m == M::GET => profilers::detail(ctx, id).await,
        ["local", "monitors"] if m == M::GET => monitors::monitors(ctx).await,
        ["local", "check-ins"] if m == M::GET => monitors::check_ins(ctx).await,
        _ => {
            if known_route(segs) {
                Err(method_not_allowed(ctx, "GET"))
            } else {
                Err(ApiError::NotFound(format!(
                    "no API route for /api/0/{}/",
                    segs.join("/")
                )))
            }
        }
    }
}

/// Whether a route exists under another method than the one asked (to
/// answer 405 rather than 404).
fn known_route(segs: &[&str]) -> bool {
    matches!(
        segs,
        ["organizations"]
            | ["organizations", _]
            | ["projects"]
            | ["organizations", _, "projects"]
            | ["projects", _, _]
            | [
                "projects",
                _,
                _,
                "keys" | "events" | "releases" | "user-feedback"
            ]
            | ["projects", _, _, "events", _]
            | ["projects", _, _, "events", _, "attachments"]
            | ["projects", _, _, "events", _, "attachments", _]
            | ["projects", _, _, "releases", _]
            | ["projects", _, _, "quotas", _]
            | ["issues", _, "events" | "tags" | "hashes" | "user-reports"]
            | ["organizations", _, "issues", _, "user-reports"]
            | ["issues", _, "events" | "tags", _]
            | ["organizations", _, "shortids", _]
            | [
                "local",
                "health"
                    | "transactions"
                    | "client-reports"
                    | "stats"
                    | "stream"
                    | "logs"
                    | "metrics"
                    | "spans"
                    | "profiles"
                    | "profilers"
                    | "feedback"
                    | "monitors"
                    | "check-ins"
            ]
            | ["local", "traces", _]
            | ["local", "traces", _, "spans", _]
            | ["local", "profiles", _]
            | ["local", "profilers", _]
            | ["local", "metrics", "summary"]
    )
}

fn into_response(reply: Reply) -> HttpResponse {
    match reply {
        Reply::Json {
            status,
            body,
            headers,
        } => {
            let mut response = Response::new(Full::new(Bytes::from(body)));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            for (name, value) in headers {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, v);
                }
            }
            response
        }
        Reply::File {
            content_type,
            filename,
            data,
        } => {
            let mut response = Response::new(Full::new(Bytes::from(data)));
            let ct = HeaderValue::from_str(&content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            response.headers_mut().insert(header::CONTENT_TYPE, ct);
            let safe: String = filename
                .chars()
                .map(|c| {
                    if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_DISPOSITION, v);
            }
            response
        }
        Reply::Empty(status) => {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = status;
            response
        }
    }
}

/// The JSON error response (`{"detail": …}`).
fn error_response(error: &ApiError) -> HttpResponse {
    let body = json!({"detail": error.to_string()});
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = error.status();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if error.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"api\""),
        );
    }
    response
}
