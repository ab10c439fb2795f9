//! The HTTP server: hyper 1 (HTTP/1.1) on tokio.
//!
//! Routes (after the configured path prefix, with runs of `/` collapsed and
//! the trailing `/` optional):
//!
//! | route | |
//! |---|---|
//! | `POST api/{project_id}/envelope/` | envelopes |
//! | `POST api/{project_id}/store/` | a JSON event, or an envelope with `Content-Type: application/x-sentry-envelope` |
//! | `GET` (or `HEAD`) or `POST api/{project_id}/cron/{monitor_slug}/[{public_key}/]` | a check-in from a job without an SDK ([`crate::ingest::cron_endpoint`]); `202` |
//! | `OPTIONS` on these | CORS preflight |
//! | `GET /health` | liveness, and running totals of where stored requests spent their time (not readable cross-origin) |
//! | `/api/0/…` | the JSON API ([`crate::api`]), outside the path prefix |
//! | `GET /ui/…` | the web page ([`crate::web`]), outside the path prefix; `GET /` and `/ui` redirect to `/ui/` |
//!
//! Protection against hostile clients: at most `max_connections` open
//! connections (more wait in the accept queue); a request head (and a
//! kept-alive connection's idle time) is limited by `header_read`; a body
//! must keep arriving (`body_idle`), at `body_min_rate` on average once
//! `body_idle` has passed, and finish in `body_total`; at the connection
//! limit, the connection idle the longest makes room for a new client
//! ([`crate::connection_slots`]); an
//! answer the client does not read closes the connection after
//! `write_stalled`; a
//! `Content-Length` over the raw limit is refused before the body is read,
//! and chunked bodies are counted as they stream. Every response but
//! `/health`'s carries CORS headers; errors are `{"detail", "causes"}`
//! with `X-Sentry-Error`.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;

use crate::api::{self, Api};
use crate::config::{Clock, Config};
use crate::connection_slots::{self, Slots};
use crate::ingest::cron_endpoint::{self, CronRoute};
use crate::ingest::decode::{BodyDecoder, Encoding};
use crate::ingest::decoded_budget::{BudgetShare, DecodedBudget};
use crate::ingest::{auth, Endpoint, IngestError, IngestRequest, Ingestor};
use crate::store::{KeyInfo, Opened, Store, StoreError, WriteOp};
use crate::web;
use sentry_core::protocol::Timestamp;

/// The response type of every handler.
pub type HttpResponse = Response<Full<Bytes>>;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The address could not be bound.
    #[error(
        "cannot listen on {addr}: {source} (is another receiver running? pick another \
             address with --addr or RECEIVER_ADDR)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Opening the store panicked or was cancelled.
    #[error("startup failed: {0}")]
    Startup(String),
}

struct AppState {
    config: Config,
    /// Decoded bodies of all requests in flight (`Limits::max_decoded_in_flight`).
    decoded_budget: Arc<DecodedBudget>,
    /// Costly decoding running on the blocking pool: one per core, so that
    /// a burst of bodies that expand a thousandfold neither takes more
    /// than the machine nor holds more than that many decoded limits at
    /// once before the budget sees them.
    costly_decodes: Semaphore,
    ingestor: Ingestor,
    api: Api,
    store: Store,
}

/// A bound, not yet running server.
pub struct Server {
    state: Arc<AppState>,
    listener: TcpListener,
    local_addr: SocketAddr,
    store: Store,
    opened: Opened,
    ui_token: String,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the database (creating the default project on first start)
    /// and binds the listen address.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let db_path = config.db_path.clone();
        let store_config = config.store.clone();
        let (store, opened) =
            tokio::task::spawn_blocking(move || Store::open(&db_path, &store_config))
                .await
                .map_err(|e| ServerError::Startup(e.to_string()))??;
        let listener = listen(config.addr).map_err(|source| ServerError::Bind {
            addr: config.addr,
            source,
        })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.addr,
            source,
        })?;
        let ingestor = Ingestor::new(
            store.clone(),
            config.limits.clone(),
            config.clock,
            config.timeouts.queue_wait,
        );
        let api = Api::new(
            store.clone(),
            config.db_path.clone(),
            public_host_port(local_addr),
            config.path_prefix.clone(),
            config.clock,
        );
        let ui_token = api.create_ephemeral_token(api::tokens::Scope::Admin);
        Ok(Server {
            state: Arc::new(AppState {
                decoded_budget: DecodedBudget::new(
                    ingestor
                        .limits()
                        .max_decoded_in_flight
                        .max(ingestor.limits().max_decoded_body),
                ),
                costly_decodes: Semaphore::new(
                    std::thread::available_parallelism().map_or(2, |n| n.get()),
                ),
                config,
                ingestor,
                api,
                store: store.clone(),
            }),
            listener,
            local_addr,
            store,
            opened,
            ui_token,
        })
    }

    /// The bound address (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The quota counters and the outcomes of rate-limited requests still
    /// to be written (tests wait on them).
    pub fn rate_limiter(&self) -> Arc<crate::ingest::rate_limits::RateLimiter> {
        self.state.ingestor.rate_limiter().clone()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The default key (created on first start).
    pub fn default_key(&self) -> &KeyInfo {
        &self.opened.default_key
    }

    /// Whether this start created the default project or key.
    pub fn created_default(&self) -> bool {
        self.opened.created_default
    }

    /// `host:port` for DSNs: an unspecified bind address (`0.0.0.0`, `::`)
    /// is shown as loopback.
    pub fn public_host_port(&self) -> String {
        public_host_port(self.local_addr)
    }

    /// The DSN of the default key.
    pub fn dsn(&self) -> String {
        self.opened
            .default_key
            .dsn(&self.public_host_port(), &self.state.config.path_prefix)
    }

    /// The web page's URL with this process's ephemeral admin token in the
    /// fragment (`http://127.0.0.1:PORT/ui/#token=…`). The token is held in
    /// memory only and is valid until the process exits; the fragment is
    /// never sent to the server, so it stays out of request logs.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), receiver::server::ServerError> {
    /// let server = receiver::server::Server::bind(Default::default()).await?;
    /// eprintln!("Web UI: {}", server.web_ui_url());
    /// # Ok(()) }
    /// ```
    pub fn web_ui_url(&self) -> String {
        format!(
            "http://{}{}#token={}",
            self.public_host_port(),
            web::UI_PATH,
            self.ui_token
        )
    }

    /// Serves until `shutdown` completes, then stops accepting, writes the
    /// outcomes of rate-limited requests still waiting, lets the writer
    /// commit what is queued and returns.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        let Server {
            state,
            listener,
            store,
            ..
        } = self;
        let ingestor = state.ingestor.clone();
        let (stop_clock, clock_stopped) = tokio::sync::oneshot::channel();
        let clock = tokio::spawn(monitor_clock(
            store.clone(),
            state.config.clock,
            (
                state.config.monitor_clock_interval,
                state.config.monitor_clock_lag,
            ),
            state.config.timeouts.queue_wait,
            clock_stopped,
        ));
        let retention = state.config.retention.map(|keep| {
            tokio::spawn(retention(
                store.clone(),
                state.config.clock,
                keep,
                state.config.retention_interval,
                state.config.timeouts.queue_wait,
            ))
        });
        accept_loop(listener, state, shutdown).await;
        if let Some(task) = retention {
            // A step already with the writer still commits; no other starts.
            task.abort();
        }
        // Its last window, up to now: what became missed since the last
        // tick is counted before the writer stops.
        let _ = stop_clock.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), clock).await;
        // Outcomes of requests refused with a 429 that are still waiting.
        ingestor.flush_deferred_outcomes().await;
        let _ = tokio::task::spawn_blocking(move || store.shutdown()).await;
    }
}

/// Asks the store every `interval` for the cron monitor failures that
/// became known since it last asked (`WriteOp::MonitorClock`), counting up
/// to `lag` behind now (`Config::monitor_clock_lag`), from the moment the
/// server starts (what was due while no receiver ran is not
/// counted: `store::monitor_incidents`) until `stop`, when it asks once
/// more for the window up to then. A window whose write fails is asked for
/// again, whole, at the next tick.
async fn monitor_clock(
    store: Store,
    clock: Clock,
    (interval, lag): (Duration, Duration),
    queue_wait: Duration,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let lagged = || clock.now().as_secs_f64() - lag.as_secs_f64();
    let mut since = lagged();
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick completes at once.
    ticks.tick().await;
    loop {
        let last = tokio::select! {
            _ = ticks.tick() => false,
            _ = &mut stop => true,
        };
        let now = lagged();
        if now > since {
            match store
                .write(WriteOp::MonitorClock { since, now }, queue_wait)
                .await
            {
                Ok(_) => since = now,
                Err(e) => eprintln!("monitor clock: counting failures since {since}: {e}"),
            }
        }
        if last {
            return;
        }
    }
}

/// Deletes what was received longer than `keep` ago
/// (`store::retention`), at once and then every `interval`, and says on
/// stderr what went. A pass that fails is tried again at the next tick.
async fn retention(
    store: Store,
    clock: Clock,
    keep: Duration,
    interval: Duration,
    queue_wait: Duration,
) {
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // The first tick completes at once.
        ticks.tick().await;
        let cutoff = clock.now().as_secs_f64() - keep.as_secs_f64();
        match store.prune(cutoff, queue_wait).await {
            Ok(pruned) if pruned.total() > 0 => {
                let what: Vec<String> = pruned
                    .kinds()
                    .iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(kind, n)| format!("{n} {kind}"))
                    .collect();
                eprintln!(
                    "retention: deleted {} (received before {}; --retention {}d)",
                    what.join(", "),
                    Timestamp::from_secs_f64(cutoff).to_rfc3339(),
                    keep.as_secs_f64() / 86_400.0
                );
            }
            Ok(_) => {}
            Err(e) => eprintln!(
                "retention: deleting what was received before {}: {e}",
                Timestamp::from_secs_f64(cutoff).to_rfc3339()
            ),
        }
    }
}

/// `host:port` to put in a DSN for a listener at `addr`: an unspecified
/// address (`0.0.0.0`, `::`) is reached on loopback.
///
/// ```
/// use receiver::server::public_host_port;
/// assert_eq!(public_host_port("0.0.0.0:9000".parse().unwrap()), "127.0.0.1:9000");
/// assert_eq!(public_host_port("10.0.0.2:80".parse().unwrap()), "10.0.0.2:80");
/// ```
pub fn public_host_port(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        other => other.to_string(),
    }
}

/// How many connections the kernel completes and holds for the accept
/// loop (capped by `net.core.somaxconn`).
///
/// std's `TcpListener::bind` asks for 128. When more clients than that
/// connect at once (a fleet of SDK processes starting together, a load test
/// opening 256 connections), or while `max_connections` are open and the
/// accept loop waits, the kernel drops the SYNs that do not fit, and each
/// dropped client waits for its SYN to be resent: a second at first.
const LISTEN_BACKLOG: u32 = 1024;

/// A listening socket on `addr` with [`LISTEN_BACKLOG`].
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As std does on Unix: a restarted receiver can bind its port while
    // connections of the previous one linger in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// How often the accept loop, at the connection limit with a client
/// waiting, looks again for an idle connection to close when none was
/// idle long enough (or the one chosen turned out busy).
const CLOSE_IDLE_RETRY: Duration = Duration::from_millis(50);

/// A slot for a client that has connected while every slot is taken:
/// asks the connection that can best spare its slot to close
/// ([`Slots::close_longest_idle`]), one at a time (another only once that
/// one has declined, having turned out busy), until a slot is free; `None`
/// once the semaphore is closed.
async fn make_room(
    connections: &Arc<Semaphore>,
    slots: &Slots,
    min_body_rate: u64,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    let mut asked: Option<Arc<connection_slots::Slot>> = None;
    loop {
        match connections.clone().try_acquire_owned() {
            Ok(p) => return Some(p),
            Err(tokio::sync::TryAcquireError::Closed) => return None,
            Err(tokio::sync::TryAcquireError::NoPermits) => {}
        }
        if !asked.as_ref().is_some_and(|slot| slot.is_closing()) {
            asked = slots.close_longest_idle(min_body_rate);
        }
        tokio::select! {
            permit = connections.clone().acquire_owned() => return permit.ok(),
            () = tokio::time::sleep(CLOSE_IDLE_RETRY) => {}
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Arc::new(Semaphore::new(state.config.max_connections.max(1)));
    let slots = Arc::new(Slots::new());
    tokio::pin!(shutdown);
    loop {
        // While every slot is taken, a client waits in the accept queue
        // until one frees up; once one has connected, the connection idle
        // the longest makes room for it (`connection_slots`).
        let (permit, accepted) = match connections.clone().try_acquire_owned() {
            Ok(p) => (p, None),
            Err(tokio::sync::TryAcquireError::Closed) => break,
            Err(tokio::sync::TryAcquireError::NoPermits) => tokio::select! {
                () = &mut shutdown => break,
                permit = connections.clone().acquire_owned() => match permit {
                    Ok(p) => (p, None),
                    Err(_) => break,
                },
                accepted = listener.accept() => {
                    let Ok(accepted) = accepted else {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    };
                    let rate = state.config.timeouts.body_min_rate;
                    tokio::select! {
                        () = &mut shutdown => break,
                        permit = make_room(&connections, &slots, rate) => match permit {
                            Some(p) => (p, Some(accepted)),
                            None => break,
                        },
                    }
                }
            },
        };
        let (stream, peer) = match accepted {
            Some(a) => a,
            None => tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(_) => {
                        // Out of file descriptors or a reset before accept: back off.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                },
            },
        };
        let _ = stream.set_nodelay(true);
        // A client that sends requests but never reads the answers would
        // otherwise keep its connection (and its slot) once the socket's
        // send buffer is full: a write that cannot finish in time fails and
        // hyper closes the connection.
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(state.config.timeouts.write_stalled));
        let state = state.clone();
        let registered = slots.open();
        let min_body_rate = state.config.timeouts.body_min_rate;
        tokio::spawn(async move {
            let header_timeout = state.config.timeouts.header_read;
            let slot = registered.slot().clone();
            let svc = service_fn(move |req| {
                let request = slot.request();
                let state = state.clone();
                async move {
                    let response = handle(state, peer, req).await;
                    drop(request);
                    response
                }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(64 * 1024)
                .keep_alive(true);
            let io = connection_slots::TrackedIo::new(Box::pin(stream), registered.slot().clone());
            let connection = connection_slots::CURRENT.scope(
                registered.slot().clone(),
                builder
                    .serve_connection(TokioIo::new(io), svc)
                    .without_shutdown(),
            );
            tokio::pin!(connection);
            let slot = registered.slot();
            let served = loop {
                tokio::select! {
                    served = &mut connection => break Some(served),
                    () = slot.close_requested() => {
                        // The connection is not being polled here, so
                        // nothing changes while this looks: one that
                        // stayed idle (no request, its answers all sent)
                        // since it was chosen, or whose request body is
                        // still too slow, is dropped (closing its socket;
                        // an unfinished body stores nothing); another
                        // carries on.
                        if slot.should_close(min_body_rate) {
                            break None;
                        }
                        slot.keep_open();
                    }
                }
            };
            if let Some(Ok(parts)) = served {
                // Lingering holds a slot too: it stops when room is needed.
                tokio::select! {
                    () = linger(parts.io.into_inner()) => {}
                    () = slot.close_requested() => {}
                }
            }
            drop(registered);
            drop(permit);
        });
    }
}

async fn handle(
    state: Arc<AppState>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<HttpResponse, Infallible> {
    let preflight = req.method() == Method::OPTIONS;
    // `/health` tells when and how much traffic arrives: no other origin's
    // page may read it.
    let cross_origin = !is_health_path(req.uri().path());
    // A panic while handling one request (a bug) answers that request with
    // a 500 instead of dropping the connection; the server goes on.
    let routed = AssertUnwindSafe(route(&state, peer, req))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            Err(IngestError::Internal {
                detail: "handling the request panicked (a receiver bug)".to_owned(),
            })
        });
    let mut response = match routed {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    if cross_origin {
        add_cors(response.headers_mut(), preflight);
    }
    Ok(response)
}

/// Whether `path` is `/health` once runs of `/` are collapsed and the
/// trailing one is dropped, as [`route`] reads it.
fn is_health_path(path: &str) -> bool {
    path.trim_start_matches('/').trim_end_matches('/') == "health" && path.starts_with('/')
}

/// Whether the request's `Host` names this machine's loopback (`localhost`,
/// a `*.localhost` name, a 127.x address or `[::1]`, any port), or is
/// absent (HTTP/1.0).
fn names_this_machine(headers: &hyper::HeaderMap) -> bool {
    let Some(host) = headers.get(hyper::header::HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The `/health` answer: the server is up, and where its stored requests
/// spent their time (totals since it started; see
/// [`crate::ingest::stage_times`]).
fn health(state: &AppState) -> serde_json::Value {
    let stages = state.ingestor.stage_times();
    let writer = state.store.writer_counts();
    let micros = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    serde_json::json!({
        "status": "ok",
        "ingest": {
            "requests": stages.requests,
            "preparing_micros": micros(stages.preparing),
            "waiting_for_commit_micros": micros(stages.waiting_for_commit),
            "left_while_queued": state.ingestor.rate_limiter().left_while_queued(),
            "body_bytes_in_flight": state.decoded_budget.in_use(),
        },
        "writer": {
            "commits": writer.commits,
            "jobs": writer.jobs,
            "busy_micros": micros(writer.busy),
        },
    })
}

/// Collapses runs of `/`.
fn normalize_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    out
}

/// Splits `api/{id}/{endpoint}[/]` into its parts.
fn parse_route(rest: &str) -> Option<(&str, &str)> {
    let rest = rest.strip_prefix("api/")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (id, endpoint) = rest.split_once('/')?;
    Some((id, endpoint))
}

async fn route(
    state: &AppState,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<HttpResponse, IngestError> {
    let path = normalize_path(req.uri().path());
    if is_health_path(&path) {
        // A page whose name was rebound to 127.0.0.1 (DNS rebinding) is
        // same-origin for its browser: CORS does not keep it out, the
        // Host it names does.
        if state.config.addr.ip().is_loopback() && !names_this_machine(req.headers()) {
            return Err(IngestError::Forbidden {
                detail: "a loopback receiver answers /health only to a loopback host name"
                    .to_owned(),
            });
        }
        return Ok(json_response(StatusCode::OK, &health(state)));
    }
    if api::is_api_path(&path) {
        return Ok(state.api.handle(req, &path).await);
    }
    if let Some(response) = web::respond(req.method(), &path, &state.config.path_prefix) {
        return Ok(response);
    }
    let not_found = || IngestError::NotFound {
        detail: format!("no route for {path}"),
    };
    let rest = path
        .strip_prefix(state.config.path_prefix.as_str())
        .ok_or_else(not_found)?;
    let (id, endpoint) = parse_route(rest).ok_or_else(not_found)?;
    if let Some(cron) = cron_endpoint::parse_route(endpoint) {
        return cron_check_in(state, peer, req, id, cron).await;
    }
    let endpoint = match endpoint {
        "envelope" => Endpoint::Envelope,
        "store" => Endpoint::Store,
        _ => return Err(not_found()),
    };
    // A preflight gets its answer whatever the request it announces would
    // get: the browser then sends that request and sees its real status.
    if *req.method() == Method::OPTIONS {
        return Ok(json_response(StatusCode::OK, &serde_json::json!({})));
    }
    let project_id = project_id_of(id)?;
    // The legacy pixel: `GET …/store/?sentry_data=…` (PROTOCOL.md §1).
    let pixel = *req.method() == Method::GET && endpoint == Endpoint::Store;
    match *req.method() {
        Method::POST => {}
        _ if pixel => {}
        _ => {
            return Err(IngestError::MethodNotAllowed {
                detail: format!("{} is not allowed here: use POST", req.method()),
            })
        }
    }

    let headers = req.headers();
    let headers_ip = forwarded_for(headers);
    let auth = auth::from_request(headers, req.uri().query())?;
    let origin = request_origin(headers);
    if let Some(auth) = &auth {
        state
            .ingestor
            .authorize(auth, project_id, origin.as_deref())
            .await?;
    }
    let limits = state.ingestor.limits();
    check_content_length(headers, limits.max_raw_body)?;
    let encoding = Encoding::from_header(headers.get(header::CONTENT_ENCODING))?;
    let envelope_content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-sentry-envelope")
        });
    let decoded_limit = if endpoint == Endpoint::Store && !envelope_content_type {
        limits.max_event_size
    } else {
        limits.max_decoded_body
    };
    // Held until the request is answered: its body's copies live that long.
    let mut share = state.decoded_budget.share();
    let body = if pixel {
        pixel_data(req.uri().query(), limits.max_event_size)?
    } else {
        read_body(
            req.into_body(),
            encoding,
            BodyLimits {
                raw: limits.max_raw_body,
                decoded: decoded_limit,
            },
            &mut share,
            &state.costly_decodes,
            &state.config,
        )
        .await?
    };
    let response = state
        .ingestor
        .ingest(IngestRequest {
            endpoint,
            project_id,
            auth,
            envelope_content_type,
            body,
            client_ip: Some(client_ip(&state.config, peer, headers_ip).to_string()),
            origin,
        })
        .await?;
    let body = match response.event_id {
        Some(id) => serde_json::json!({"id": id.simple().to_string()}),
        None => serde_json::json!({}),
    };
    let mut reply = if pixel {
        gif_response()
    } else {
        json_response(StatusCode::OK, &body)
    };
    if let Some(limits) = response
        .rate_limits
        .and_then(|l| HeaderValue::from_str(&l).ok())
    {
        reply.headers_mut().insert(X_SENTRY_RATE_LIMITS, limits);
    }
    Ok(reply)
}

/// The project id of a route: a number.
fn project_id_of(id: &str) -> Result<u64, IngestError> {
    id.parse().map_err(|_| IngestError::BadRequest {
        detail: format!("invalid project id {id:?} in the path: expected a number"),
    })
}

/// Refuses a `Content-Length` over `max_raw_body` before the body is read.
fn check_content_length(headers: &HeaderMap, max_raw_body: u64) -> Result<(), IngestError> {
    let Some(len) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(());
    };
    let len: u64 = len
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| IngestError::BadRequest {
            detail: "invalid Content-Length".to_owned(),
        })?;
    if len > max_raw_body {
        return Err(IngestError::TooLarge {
            detail: format!(
                "request body of {len} bytes is over the limit of {max_raw_body} bytes"
            ),
        });
    }
    Ok(())
}

/// `GET` or `POST api/{project_id}/cron/{monitor_slug}/[{public_key}/]`:
/// a check-in from a job that reports without an SDK
/// ([`crate::ingest::cron_endpoint`]), answered `202` once it is stored.
async fn cron_check_in(
    state: &AppState,
    peer: SocketAddr,
    req: Request<Incoming>,
    id: &str,
    route: CronRoute,
) -> Result<HttpResponse, IngestError> {
    if *req.method() == Method::OPTIONS {
        return Ok(json_response(StatusCode::OK, &serde_json::json!({})));
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::POST) {
        return Err(IngestError::MethodNotAllowed {
            detail: format!("{} is not allowed here: use GET or POST", req.method()),
        });
    }
    let project_id = project_id_of(id)?;
    let headers = req.headers();
    let headers_ip = forwarded_for(headers);
    let found = auth::from_request(headers, req.uri().query())?;
    let auth = auth::with_path_key(found, route.public_key.as_deref())?;
    let origin = request_origin(headers);
    state
        .ingestor
        .authorize(&auth, project_id, origin.as_deref())
        .await?;
    let json = cron_endpoint::is_json(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    let query = req.uri().query().map(str::to_owned);
    let limits = state.ingestor.limits();
    // Held until the request is answered, as for any body.
    let mut share = state.decoded_budget.share();
    let body = if json {
        check_content_length(headers, limits.max_raw_body)?;
        let encoding = Encoding::from_header(headers.get(header::CONTENT_ENCODING))?;
        let limits = BodyLimits {
            raw: limits.max_raw_body,
            decoded: limits.max_event_size,
        };
        let body = read_body(
            req.into_body(),
            encoding,
            limits,
            &mut share,
            &state.costly_decodes,
            &state.config,
        )
        .await?;
        Some(body)
    } else {
        None
    };
    let payload =
        cron_endpoint::check_in_payload(&route.monitor_slug, query.as_deref(), body.as_deref())?;
    let ingested = state
        .ingestor
        .ingest(IngestRequest {
            endpoint: Endpoint::Envelope,
            project_id,
            auth: Some(auth),
            envelope_content_type: true,
            body: cron_endpoint::envelope(&payload),
            client_ip: Some(client_ip(&state.config, peer, headers_ip).to_string()),
            origin,
        })
        .await;
    match ingested {
        // Relay never answers this route with a 429.
        Ok(_) | Err(IngestError::RateLimited { .. }) => {}
        Err(e) => return Err(e),
    }
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::ACCEPTED;
    Ok(response)
}

const X_SENTRY_RATE_LIMITS: HeaderName = HeaderName::from_static("x-sentry-rate-limits");

/// The event of a pixel request: its `sentry_data` query parameter (JSON,
/// or base64 of JSON or of zlib'd JSON, as a store body), at most `limit`
/// bytes.
fn pixel_data(query: Option<&str>, limit: u64) -> Result<Vec<u8>, IngestError> {
    let data = auth::form_pairs(query.unwrap_or(""))
        .find_map(|(k, v)| (k == "sentry_data").then_some(v))
        .ok_or_else(|| IngestError::BadRequest {
            detail: "a GET on the store endpoint needs the event in sentry_data".to_owned(),
        })?;
    if data.len() as u64 > limit {
        return Err(IngestError::TooLarge {
            detail: format!(
                "sentry_data of {} bytes is over the limit of {limit} bytes",
                data.len()
            ),
        });
    }
    Ok(data.into_bytes())
}

/// A transparent 1×1 GIF: the answer to a pixel request.
const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

fn gif_response() -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from_static(PIXEL_GIF)));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/gif"));
    response
}

/// The right-most address of `X-Forwarded-For`: the one the proxy in
/// front appended (the peer it saw). Entries further left came from the
/// client or from proxies before it and can say anything. A port after the
/// address is ignored.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|v| !v.is_empty())?;
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// The client's address for `{{auto}}`: the TCP peer, or the forwarded
/// address when the configuration trusts the proxy in front.
fn client_ip(config: &Config, peer: SocketAddr, forwarded: Option<IpAddr>) -> IpAddr {
    match forwarded {
        Some(ip) if config.trust_forwarded_for => ip,
        _ => peer.ip(),
    }
}

/// The `Origin` header, else the `scheme://host[:port]` of `Referer`.
fn request_origin(headers: &HeaderMap) -> Option<String> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(origin) = text(header::ORIGIN) {
        return Some(origin.to_owned());
    }
    let referer = text(header::REFERER)?;
    let (scheme, rest) = referer.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(format!("{scheme}://{authority}"))
}

/// A request's two body size limits, as sent and decoded.
struct BodyLimits {
    raw: u64,
    decoded: u64,
}

/// Reads and decodes the body, enforcing both size limits, both timeouts
/// and, as it grows, the budget all requests share (`share`).
async fn read_body(
    mut body: Incoming,
    encoding: Encoding,
    limits: BodyLimits,
    share: &mut BudgetShare,
    costly: &Semaphore,
    config: &Config,
) -> Result<Vec<u8>, IngestError> {
    let over_budget = |share: &BudgetShare| IngestError::Unavailable {
        detail: format!(
            "the receiver already holds {} MiB of request bodies, its limit; retry later",
            share.budget_limit() / (1024 * 1024)
        ),
    };
    let (raw_limit, decoded_limit) = (limits.raw, limits.decoded);
    let mut decoder = BodyDecoder::new(encoding, decoded_limit)?;
    // The connection's slot learns the body's pace: at the connection
    // limit, a body far too slow may be cut to make room.
    let mut progress = connection_slots::CURRENT.try_with(|slot| slot.body()).ok();
    // Bodies are read inside a connection's task, where its slot is.
    debug_assert!(progress.is_some(), "read_body outside a connection task");
    let started = tokio::time::Instant::now();
    let deadline = started + config.timeouts.body_total;
    let mut raw = 0u64;
    let mut last_data = started;
    let timeout = || IngestError::Timeout {
        detail: "timed out reading the request body".to_owned(),
    };
    let too_slow = || IngestError::Timeout {
        detail: format!(
            "the request body arrived slower than {} bytes a second",
            config.timeouts.body_min_rate
        ),
    };
    loop {
        let now = tokio::time::Instant::now();
        // The body's own pace: `body_idle` plus a second per
        // `body_min_rate` bytes received (0: no pace).
        let paced = match config.timeouts.body_min_rate {
            0 => deadline,
            rate => (started + config.timeouts.body_idle)
                .checked_add(Duration::from_secs_f64(raw as f64 / rate as f64))
                .unwrap_or(deadline),
        };
        let limit = deadline.min(paced);
        // Which timeout ends the read if nothing comes until `at`: a body
        // that stopped coming has stalled, one that still comes is slow.
        let expired = |at: tokio::time::Instant| {
            let stalled = at.duration_since(last_data) >= config.timeouts.body_idle;
            if at >= limit && paced < deadline && !stalled {
                too_slow()
            } else {
                timeout()
            }
        };
        if now >= limit {
            return Err(expired(now));
        }
        let wait = (limit - now).min(config.timeouts.body_idle);
        if let Some(progress) = &progress {
            progress.waiting(true);
        }
        let frame = tokio::time::timeout(wait, body.frame()).await;
        if let Some(progress) = &progress {
            progress.waiting(false);
        }
        let frame = match frame {
            Err(_) => return Err(expired(tokio::time::Instant::now())),
            Ok(None) => {
                // All of it came: its pace is no longer in question.
                drop(progress.take());
                break;
            }
            Ok(Some(Err(e))) => {
                return Err(IngestError::BadRequest {
                    detail: format!("failed to read the request body: {e}"),
                })
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            raw += data.len() as u64;
            last_data = tokio::time::Instant::now();
            if let Some(progress) = &progress {
                progress.received(data.len());
            }
            if raw > raw_limit {
                return Err(IngestError::TooLarge {
                    detail: format!("request body is over the limit of {raw_limit} bytes"),
                });
            }
            // Cheap work (a copy, keeping a small gzip body) stays here.
            if decoder.cheap_to_write(data.len()) {
                decoder.write(&data)?;
            } else {
                decoder =
                    off_runtime(costly, move || decoder.write(&data).map(|()| decoder)).await??;
            }
            if !share.grow_to(decoder.held_len()) {
                return Err(over_budget(share));
            }
        }
    }
    let decoded = match decoder.finish_cheaply() {
        Ok(decoded) => decoded?,
        Err(decoder) => off_runtime(costly, move || (*decoder).finish()).await??,
    };
    if !share.grow_to(decoded.len() as u64) {
        return Err(over_budget(share));
    }
    Ok(decoded)
}

/// How long a closing connection keeps reading what the client still
/// sends, at most, and with nothing arriving.
const LINGER_TOTAL: Duration = Duration::from_secs(5);
const LINGER_IDLE: Duration = Duration::from_secs(1);

/// Ends a connection that hyper is done with: sends FIN, then reads and
/// discards what the client still sends until it closes too (bounded by
/// [`LINGER_TOTAL`] and [`LINGER_IDLE`]). Closing with unread data would
/// make the kernel answer with a reset, and a client still sending a body
/// refused early (a `Content-Length` over the limit: 413) would see a
/// broken pipe instead of the answer.
async fn linger(mut io: impl AsyncRead + AsyncWrite + Unpin) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if io.shutdown().await.is_err() {
        return;
    }
    let deadline = tokio::time::Instant::now() + LINGER_TOTAL;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let until = deadline.min(tokio::time::Instant::now() + LINGER_IDLE);
        match tokio::time::timeout_at(until, io.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        }
    }
}

/// Runs decoding work on the blocking pool, once one of the `costly`
/// permits is free: a few bytes of brotli, zstd or deflate can expand up
/// to the decoded limit, tens of milliseconds that would otherwise hold an
/// async worker (and every request queued on it).
async fn off_runtime<T: Send + 'static>(
    costly: &Semaphore,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, IngestError> {
    let _permit = costly
        .acquire()
        .await
        .map_err(|_| IngestError::Unavailable {
            detail: "the server is shutting down".to_owned(),
        })?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| IngestError::Internal {
            detail: format!("decoding the request body failed: {e}"),
        })
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The JSON error response with `X-Sentry-Error`.
pub fn error_response(error: &IngestError) -> HttpResponse {
    let mut response = json_response(error.status(), &error.to_json());
    let detail: String = error
        .to_string()
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(512)
        .collect();
    if let Ok(value) = HeaderValue::from_str(&detail) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-sentry-error"), value);
    }
    if let IngestError::RateLimited {
        rate_limits,
        retry_after,
        ..
    } = error
    {
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        if let Ok(limits) = HeaderValue::from_str(rate_limits) {
            headers.insert(X_SENTRY_RATE_LIMITS, limits);
        }
    }
    response
}

const ALLOWED_HEADERS: &str = "x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, \
     accept, content-type, authentication, authorization, content-encoding, transfer-encoding";

fn add_cors(headers: &mut HeaderMap, preflight: bool) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-sentry-error, x-sentry-rate-limits, retry-after"),
    );
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("3600"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Linux only: it reads the kernel's cap from /proc (other systems cap
    // the backlog too: 128 by default on macOS).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_burst_of_connections_fits_in_the_accept_queue() {
        // Nothing accepts: every connection has to wait in the queue, as
        // they do while the accept loop is busy or at `max_connections`.
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0))).expect("listen");
        let addr = listener.local_addr().expect("address");
        const BURST: usize = 300;
        let connects = (0..BURST).map(|_| {
            tokio::time::timeout(
                Duration::from_millis(1500),
                tokio::net::TcpStream::connect(addr),
            )
        });
        let streams = futures_util::future::join_all(connects).await;
        let connected = streams.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        // The kernel caps the backlog at `net.core.somaxconn`.
        let cap = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(BURST);
        assert!(
            connected >= BURST.min(cap),
            "{connected} of {BURST} connections got into the accept queue (somaxconn {cap})"
        );
    }

    #[test]
    fn paths() {
        assert_eq!(normalize_path("//api///1//envelope/"), "/api/1/envelope/");
        assert_eq!(parse_route("api/1/envelope/"), Some(("1", "envelope")));
        assert_eq!(parse_route("api/1/store"), Some(("1", "store")));
        assert_eq!(parse_route("api/1"), None);
        assert_eq!(parse_route("other/1/store/"), None);
    }

    #[test]
    fn forwarded_for_takes_the_address_the_proxy_appended() {
        let headers = |values: &[&'static str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("x-forwarded-for", HeaderValue::from_static(v));
            }
            h
        };
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        assert_eq!(
            forwarded_for(&headers(&["6.6.6.6, 203.0.113.9"])),
            ip("203.0.113.9")
        );
        assert_eq!(
            forwarded_for(&headers(&["6.6.6.6", "2001:db8::1"])),
            ip("2001:db8::1")
        );
        assert_eq!(
            forwarded_for(&headers(&["203.0.113.9:4711"])),
            ip("203.0.113.9")
        );
        assert_eq!(
            forwarded_for(&headers(&["[2001:db8::1]:443"])),
            ip("2001:db8::1")
        );
        assert_eq!(forwarded_for(&headers(&["10.0.0.1 , "])), ip("10.0.0.1"));
        assert_eq!(forwarded_for(&headers(&["unknown"])), None);
        assert_eq!(forwarded_for(&HeaderMap::new()), None);
    }
}
