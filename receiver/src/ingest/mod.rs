//! Ingestion: everything between "the body has been read" and "the data is
//! committed".
//!
//! The HTTP layer ([`crate::server`]) authenticates the request
//! ([`auth`], [`Ingestor::authorize`]), enforces the body limits while it
//! streams and decodes the body ([`decode`], [`limits`]) and then calls
//! [`Ingestor::ingest`], which frames the envelope, checks per-item limits,
//! normalises and groups ([`normalize`], [`envelope`]) and hands one batch
//! to the store's writer. A 200 is sent only after the writer has
//! committed; a 429 for a request refused entirely by a quota
//! ([`rate_limits`]) goes out at once, its outcome rows written after it.

pub mod as_received;
pub mod auth;
pub mod check_in;
pub mod chunk_head;
pub mod cron_endpoint;
pub mod decode;
pub mod decoded_budget;
pub mod envelope;
mod group;
pub mod keys;
pub mod limits;
pub(crate) mod monitor_config;
pub mod monitor_slug;
pub mod normalize;
pub mod profile_head;
pub mod project_rules;
pub mod rate_limits;
mod seen_keys;
pub mod stage_times;
pub mod streamed_spans;
pub mod trim;
pub mod user_agent;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hyper::StatusCode;
use sentry_core::envelope::{Envelope, EnvelopeError, EnvelopeItem, ItemType};
use uuid::Uuid;

use crate::config::Clock;
use crate::store::writer::{Pending, PreparingGuard};
use crate::store::{Store, StoreError, WriteOp, WriteResult};
use auth::Auth;
use limits::Limits;
use normalize::RequestContext;

pub(crate) use group::{group, is_lean, regroup_payload};
pub use group::{KnownHashes, FALLBACK_HASH};

/// Why a request was refused. Each variant maps to one HTTP status
/// (PROTOCOL.md §4.1); the message becomes the JSON `detail`.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// 400 with a message.
    #[error("{detail}")]
    BadRequest {
        /// What is wrong.
        detail: String,
    },
    /// 400 with underlying causes.
    #[error("{detail}")]
    Invalid {
        /// What is wrong.
        detail: String,
        /// The errors that led to it, outermost first.
        causes: Vec<String>,
    },
    /// 401: missing or malformed authentication.
    #[error("{detail}")]
    Unauthorized {
        /// What is wrong.
        detail: String,
    },
    /// 403: unknown or disabled key or project, or a key of another project.
    #[error("{detail}")]
    Forbidden {
        /// What is wrong.
        detail: String,
    },
    /// 404: no such endpoint.
    #[error("{detail}")]
    NotFound {
        /// What is wrong.
        detail: String,
    },
    /// 405: wrong method.
    #[error("{detail}")]
    MethodNotAllowed {
        /// What is wrong.
        detail: String,
    },
    /// 408: the client was too slow sending the body.
    #[error("{detail}")]
    Timeout {
        /// What is wrong.
        detail: String,
    },
    /// 413: a size or count limit was passed.
    #[error("{detail}")]
    TooLarge {
        /// What is wrong.
        detail: String,
    },
    /// 415: unsupported `Content-Encoding`.
    #[error("{detail}")]
    UnsupportedEncoding {
        /// What is wrong.
        detail: String,
    },
    /// 429: every item of the request was rate limited (PROTOCOL.md §4.1).
    #[error("{detail}")]
    RateLimited {
        /// What is wrong.
        detail: String,
        /// `X-Sentry-Rate-Limits`.
        rate_limits: String,
        /// `Retry-After`, in seconds.
        retry_after: u64,
    },
    /// 503: the store could not take the data now (retry later).
    #[error("{detail}")]
    Unavailable {
        /// What is wrong.
        detail: String,
    },
    /// 500: handling the request panicked, a bug in the receiver. The
    /// client gets an answer instead of a dropped connection, and the
    /// panic message is on stderr.
    #[error("{detail}")]
    Internal {
        /// What went wrong.
        detail: String,
    },
}

impl IngestError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            IngestError::BadRequest { .. } | IngestError::Invalid { .. } => StatusCode::BAD_REQUEST,
            IngestError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            IngestError::Forbidden { .. } => StatusCode::FORBIDDEN,
            IngestError::NotFound { .. } => StatusCode::NOT_FOUND,
            IngestError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            IngestError::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            IngestError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::UnsupportedEncoding { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            IngestError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            IngestError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The underlying causes, for the JSON `causes` list.
    pub fn causes(&self) -> &[String] {
        match self {
            IngestError::Invalid { causes, .. } => causes,
            _ => &[],
        }
    }

    /// The JSON body: `{"detail": …, "causes": […]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"detail": self.to_string(), "causes": self.causes()})
    }
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        IngestError::Unavailable {
            detail: format!("could not store the data: {e}"),
        }
    }
}

/// Bodies up to this size are normalised, grouped and compressed on the
/// async worker itself; larger ones on tokio's blocking pool, so a big
/// envelope never stalls the other connections of a worker.
const INLINE_PREPARE_MAX: usize = 64 * 1024;

/// Which endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/{project}/envelope/`
    Envelope,
    /// `POST /api/{project}/store/`
    Store,
}

/// A request whose body has been read and decoded.
#[derive(Debug)]
pub struct IngestRequest {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The project id from the URL.
    pub project_id: u64,
    /// The request's own authentication, already checked with
    /// [`Ingestor::authorize`]; `None` to authenticate from the envelope
    /// header `dsn`.
    pub auth: Option<Auth>,
    /// Whether `Content-Type` is `application/x-sentry-envelope`.
    pub envelope_content_type: bool,
    /// The decoded body.
    pub body: Vec<u8>,
    /// The peer's IP address (for `{{auto}}`).
    pub client_ip: Option<String>,
    /// The `Origin` header, else the origin of `Referer`.
    pub origin: Option<String>,
}

/// The successful answer: the event id, if the request carried one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestResponse {
    /// `{"id": …}`; `None` answers `{}`.
    pub event_id: Option<Uuid>,
    /// What the writer did.
    pub summary: crate::store::IngestSummary,
    /// `X-Sentry-Rate-Limits` when a quota is exhausted (some items may
    /// have been dropped).
    pub rate_limits: Option<String>,
}

/// Ingestion state shared by all requests.
#[derive(Debug, Clone)]
pub struct Ingestor {
    store: Store,
    keys: Arc<keys::KeyCache>,
    rules: Arc<project_rules::RulesCache>,
    limits: Limits,
    clock: Clock,
    queue_wait: Duration,
    known_hashes: Arc<KnownHashes>,
    rate_limiter: Arc<rate_limits::RateLimiter>,
    stage_times: Arc<stage_times::StageTimes>,
}

impl Ingestor {
    /// A new ingestor writing to `store`.
    pub fn new(store: Store, limits: Limits, clock: Clock, queue_wait: Duration) -> Self {
        Ingestor {
            keys: Arc::new(keys::KeyCache::new(store.clone())),
            rules: Arc::new(project_rules::RulesCache::new(store.clone())),
            rate_limiter: Arc::new(rate_limits::RateLimiter::new(store.clone())),
            store,
            limits,
            clock,
            queue_wait,
            known_hashes: Arc::new(KnownHashes::default()),
            stage_times: Arc::default(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Checks that the key exists, is enabled, belongs to the URL's project
    /// and that the project allows `origin` (else 403). Returns the project
    /// id.
    pub async fn authorize(
        &self,
        auth: &Auth,
        project_id: u64,
        origin: Option<&str>,
    ) -> Result<i64, IngestError> {
        self.keys
            .authorize(&auth.public_key, project_id, origin)
            .await
    }

    /// Frames, validates, normalises, groups and stores a request body, and
    /// returns once it is committed.
    pub async fn ingest(&self, mut req: IngestRequest) -> Result<IngestResponse, IngestError> {
        if req.body.iter().all(u8::is_ascii_whitespace) {
            return Err(IngestError::BadRequest {
                detail: "empty request body".to_owned(),
            });
        }
        let envelope = if req.endpoint == Endpoint::Store && !req.envelope_content_type {
            let json = store_body(&req.body, self.limits.max_event_size)?;
            let mut envelope = Envelope::new();
            envelope.add_item(EnvelopeItem::raw(ItemType::Event, json));
            envelope
        } else {
            Envelope::parse_with_item_limit(&req.body, self.limits.max_item_count).map_err(|e| {
                match e {
                    EnvelopeError::TooManyItems { limit, .. } => IngestError::TooLarge {
                        detail: format!("envelope has more than {limit} items"),
                    },
                    e => IngestError::Invalid {
                        detail: "invalid envelope".to_owned(),
                        causes: vec![e.to_string()],
                    },
                }
            })?
        };

        // The envelope holds its own copy of every payload: the body would
        // only add its size to what the request keeps until its commit.
        let body_len = req.body.len();
        drop(std::mem::take(&mut req.body));
        check_origin(&envelope, req.origin.as_deref())?;
        let (project_id, public_key) = match (&req.auth, envelope.headers.dsn.as_deref()) {
            (Some(auth), dsn) => {
                if let Some(dsn) = dsn {
                    auth::cross_check_dsn(auth, req.project_id, dsn)?;
                }
                let project = self
                    .authorize(auth, req.project_id, req.origin.as_deref())
                    .await?;
                (project, auth.public_key.clone())
            }
            (None, Some(dsn)) => {
                let auth = auth::from_envelope_dsn(dsn)?;
                if auth.project_id.as_deref() != Some(req.project_id.to_string().as_str()) {
                    return Err(IngestError::BadRequest {
                        detail: "public key/project id header mismatch between envelope and \
                                 request"
                            .to_owned(),
                    });
                }
                let project = self
                    .authorize(&auth, req.project_id, req.origin.as_deref())
                    .await?;
                (project, auth.public_key)
            }
            (None, None) => {
                return Err(IngestError::Unauthorized {
                    detail: "missing authorization information: send X-Sentry-Auth, \
                             sentry_key in the query string, or a dsn envelope header"
                        .to_owned(),
                })
            }
        };

        self.limits.check_envelope(&envelope)?;
        let mut envelope = envelope;
        envelope::add_crash_report_event(&mut envelope);
        let legacy_store = req.endpoint == Endpoint::Store && !req.envelope_content_type;
        let (mut verdict, rate_limits) = self
            .enforce_quotas(project_id, &public_key, &mut envelope, legacy_store)
            .await?;
        // Should this request end before its write is queued (a 400 or
        // 503, a panic, a client that went away), its counts go back; once
        // queued, only a failed write gives them back (`QueuedClaim`).
        let claim = Claim {
            limiter: &self.rate_limiter,
            counted: std::mem::take(&mut verdict.counted),
        };
        // From here until its write is queued, the writer may wait for this
        // request to share a commit with others.
        let rules = self.rules.for_project(project_id).await?;
        let preparing = self.store.preparing();
        let (event_id, summary) = self
            .prepare_and_store(
                preparing,
                claim,
                envelope,
                (project_id, rules),
                body_len,
                req.client_ip,
                &verdict.outcomes,
            )
            .await?;
        Ok(IngestResponse {
            event_id,
            summary,
            rate_limits,
        })
    }

    /// Normalises, groups and compresses `envelope` (on this worker when
    /// the body was small, else on the blocking pool) and writes it with
    /// the client-report rows of `outcomes`; returns once it is committed.
    /// The request's quota counts (`claim`) stay once the write is queued,
    /// unless the write then fails.
    #[allow(clippy::too_many_arguments)]
    async fn prepare_and_store(
        &self,
        preparing: PreparingGuard,
        claim: Claim<'_>,
        envelope: Envelope,
        (project_id, rules): (i64, project_rules::Rules),
        body_len: usize,
        client_ip: Option<String>,
        outcomes: &[(String, String, u64)],
    ) -> Result<(Option<Uuid>, crate::store::IngestSummary), IngestError> {
        let started = Instant::now();
        let ctx = RequestContext::for_envelope(&envelope, self.clock.now(), client_ip);
        let received = ctx.received.as_secs_f64();
        let codec = self.store.codec();
        let prepared = if body_len <= INLINE_PREPARE_MAX {
            // A typical event takes a few hundred microseconds: handing it to
            // the blocking pool and back would cost more in thread switches.
            let prepared = envelope::prepare_with(
                &envelope,
                project_id,
                &ctx,
                &codec,
                Some(&self.known_hashes),
                rules.as_deref(),
            )?;
            offer_samples(&self.store, &envelope);
            prepared
        } else {
            let known = self.known_hashes.clone();
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || {
                let prepared = envelope::prepare_with(
                    &envelope,
                    project_id,
                    &ctx,
                    &codec,
                    Some(&known),
                    rules.as_deref(),
                )?;
                offer_samples(&store, &envelope);
                Ok::<_, IngestError>(prepared)
            })
            .await
            .map_err(|e| {
                if e.is_panic() {
                    IngestError::Internal {
                        detail: "processing the envelope panicked (a receiver bug)".to_owned(),
                    }
                } else {
                    IngestError::Unavailable {
                        detail: format!("processing failed: {e}"),
                    }
                }
            })??
        };
        let prepared_at = Instant::now();
        let mut batch = prepared.batch;
        batch.records.extend(outcome_records(outcomes, received));
        let pending = self
            .store
            .enqueue_ingest(batch, self.queue_wait, preparing)
            .await?;
        // Queued, the batch is written even if this request's client hangs
        // up now (its future is then dropped): the counts stay unless the
        // write fails.
        let mut queued = claim.queued(pending);
        let summary = match queued.committed().await {
            Ok(WriteResult::Ingested(summary)) => summary,
            Ok(other) => {
                return Err(IngestError::Unavailable {
                    detail: format!("unexpected writer result {other:?}"),
                })
            }
            Err(e) => return Err(e.into()),
        };
        self.stage_times
            .add(prepared_at - started, prepared_at.elapsed());
        // The event was stored with these hashes: later ones that share all
        // of them can skip the full grouping.
        if !summary.issue_ids.is_empty() {
            self.known_hashes
                .insert_all(project_id, prepared.new_hashes.iter().map(String::as_str));
        }
        Ok((prepared.event_id, summary))
    }

    /// Drops the items of `envelope` that a quota refuses (see
    /// [`rate_limits`]). Returns the verdict (its outcomes are recorded with
    /// the rest; its counts are refunded if the rest is not stored) and the
    /// `X-Sentry-Rate-Limits` to answer with; when nothing is left, leaves
    /// the outcomes to a background write and fails with a 429. A
    /// `legacy_store` request (a JSON event on `/store/`) is refused while
    /// any limit was already active before it.
    async fn enforce_quotas(
        &self,
        project_id: i64,
        public_key: &str,
        envelope: &mut Envelope,
        legacy_store: bool,
    ) -> Result<(rate_limits::Verdict, Option<String>), IngestError> {
        let quotas = self.rate_limiter.quotas(project_id).await?;
        if quotas.is_empty() {
            return Ok((rate_limits::Verdict::default(), None));
        }
        let now = self.clock.now().as_secs_f64();
        let mut verdict = self
            .rate_limiter
            .check(&quotas, Some(public_key), envelope, now);
        if legacy_store && verdict.was_limited {
            let counted = verdict.refuse_the_rest(envelope);
            self.rate_limiter.refund(&counted);
            // Named: what is used up without this request's own counts.
            verdict.limits = self.rate_limiter.used_up(&quotas, Some(public_key), now);
        }
        let header =
            (!verdict.limits.is_empty()).then(|| rate_limits::header_value(&verdict.limits));
        if verdict.dropped_all() {
            if self.rate_limiter.defer(project_id, now, &verdict.outcomes) {
                tokio::spawn(self.clone().write_deferred_outcomes());
            }
            let mut reasons: Vec<&str> = Vec::new();
            for limit in &verdict.limits {
                if !reasons.contains(&limit.reason.as_str()) {
                    reasons.push(&limit.reason);
                }
            }
            return Err(IngestError::RateLimited {
                detail: format!(
                    "event submission rejected with_reason: rate limited ({}); retry in {} s",
                    reasons.join(", "),
                    verdict.retry_after()
                ),
                rate_limits: header.unwrap_or_default(),
                retry_after: verdict.retry_after(),
            });
        }
        if verdict.dropped_any() {
            let mut index = 0;
            envelope.retain_items(|_| {
                let keep = !verdict.dropped.get(index).copied().unwrap_or(false);
                index += 1;
                keep
            });
        }
        Ok((verdict, header))
    }
}

impl Ingestor {
    /// Writes the outcomes of refused envelopes ([`rate_limits::RateLimiter::defer`])
    /// until none are left. A failed write (the store is busy or failing)
    /// keeps them for the next attempt, a second later; once the writer is
    /// gone (the server is stopping) they are dropped.
    async fn write_deferred_outcomes(self) {
        // Should a write panic, a later refusal must still start one.
        struct OnPanic<'a>(&'a rate_limits::RateLimiter);
        impl Drop for OnPanic<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.abandon_flush();
                }
            }
        }
        let _on_panic = OnPanic(&self.rate_limiter);
        loop {
            let pending = self.rate_limiter.take_deferred();
            if pending.is_empty() {
                return;
            }
            let mut failed = false;
            for deferred in pending {
                match self.write_outcomes(&deferred).await {
                    Ok(()) => {}
                    Err(StoreError::WriterGone) => {}
                    Err(_) => {
                        self.rate_limiter.put_back(&deferred);
                        failed = true;
                    }
                }
            }
            if failed {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    async fn write_outcomes(
        &self,
        (project_id, at, outcomes): &rate_limits::DeferredOutcomes,
    ) -> Result<(), StoreError> {
        let batch = crate::store::IngestBatch {
            project_id: *project_id,
            received: *at,
            records: outcome_records(outcomes, *at).collect(),
            item_counts: Vec::new(),
        };
        self.store
            .write(WriteOp::Ingest(batch), self.queue_wait)
            .await
            .map(drop)
    }

    /// Writes the outcomes of refused envelopes that are still waiting,
    /// once: for a server that is stopping, before its writer stops.
    pub async fn flush_deferred_outcomes(&self) {
        for deferred in self.rate_limiter.take_deferred() {
            let _ = self.write_outcomes(&deferred).await;
        }
    }

    /// The quota counters, and the outcomes of refused envelopes still to
    /// be written.
    pub fn rate_limiter(&self) -> &Arc<rate_limits::RateLimiter> {
        &self.rate_limiter
    }

    /// Where committed requests spent their time so far.
    pub fn stage_times(&self) -> stage_times::StageSnapshot {
        self.stage_times.snapshot()
    }
}

/// Quota counts a request holds until its write is queued: dropped before
/// [`Claim::queued`], they go back to their windows.
struct Claim<'a> {
    limiter: &'a Arc<rate_limits::RateLimiter>,
    counted: Vec<rate_limits::Counted>,
}

impl Claim<'_> {
    /// The request's write is queued as `pending`: see [`QueuedClaim`].
    fn queued(mut self, pending: Pending) -> QueuedClaim {
        QueuedClaim {
            limiter: self.limiter.clone(),
            counted: std::mem::take(&mut self.counted),
            pending: Some(pending),
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.limiter.refund(&self.counted);
    }
}

/// The quota counts of a request whose write is in the writer's queue,
/// with that write. The write happens whether or not anyone waits for it,
/// so the counts stay unless it fails ([`QueuedClaim::committed`]). Should
/// the request end first (its client hung up), a task waits for the write
/// in its place and gives the counts back if it failed.
struct QueuedClaim {
    limiter: Arc<rate_limits::RateLimiter>,
    counted: Vec<rate_limits::Counted>,
    /// `None` once the write's result is known.
    pending: Option<Pending>,
}

impl QueuedClaim {
    /// Waits for the write; gives the counts back unless it stored the
    /// batch.
    async fn committed(&mut self) -> Result<WriteResult, StoreError> {
        let result = match self.pending.as_mut() {
            Some(pending) => pending.committed().await,
            None => Err(StoreError::WriterGone),
        };
        self.pending = None;
        refund_unless_stored(&self.limiter, &std::mem::take(&mut self.counted), &result);
        result
    }
}

/// Gives `counted` back to its windows unless `result` says the batch was
/// stored.
fn refund_unless_stored(
    limiter: &rate_limits::RateLimiter,
    counted: &[rate_limits::Counted],
    result: &Result<WriteResult, StoreError>,
) {
    if !matches!(result, Ok(WriteResult::Ingested(_))) {
        limiter.refund(counted);
    }
}

impl Drop for QueuedClaim {
    fn drop(&mut self) {
        let Some(mut pending) = self.pending.take() else {
            return;
        };
        self.limiter.note_left_while_queued();
        if self.counted.is_empty() {
            return;
        }
        // Outside a runtime (nothing of ours drops it there) the counts
        // stay, as they would for a write that succeeds.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let limiter = self.limiter.clone();
        let counted = std::mem::take(&mut self.counted);
        runtime.spawn(async move {
            refund_unless_stored(&limiter, &counted, &pending.committed().await);
        });
    }
}

/// An envelope header `origin` must name the request's own origin (its
/// `Origin`, else its `Referer`'s) when both are there (PROTOCOL.md §1.2).
fn check_origin(envelope: &Envelope, request: Option<&str>) -> Result<(), IngestError> {
    let header = envelope
        .headers
        .other
        .get("origin")
        .and_then(serde_json::Value::as_str);
    let (Some(header), Some(request)) = (header, request) else {
        return Ok(());
    };
    let norm = |o: &str| o.trim().trim_end_matches('/').to_ascii_lowercase();
    if norm(header) == norm(request) {
        return Ok(());
    }
    Err(IngestError::BadRequest {
        detail: format!("origin mismatch between envelope ({header:?}) and request ({request:?})"),
    })
}

/// Client-report rows (outcome `rate_limited`) for items a quota dropped,
/// so they show beside what SDKs report dropping themselves.
fn outcome_records(
    outcomes: &[(String, String, u64)],
    at: f64,
) -> impl Iterator<Item = crate::store::Record> + '_ {
    outcomes.iter().map(move |(category, reason, quantity)| {
        crate::store::Record::ClientReport(crate::store::records::ClientReportRecord {
            timestamp: at,
            outcome: "rate_limited".to_owned(),
            reason: reason.clone(),
            category: category.clone(),
            quantity: i64::try_from(*quantity).unwrap_or(i64::MAX),
        })
    })
}

/// The legacy store body: JSON, or base64 of JSON, or base64 of zlib'd JSON.
fn store_body(body: &[u8], max: u64) -> Result<Vec<u8>, IngestError> {
    let trimmed = body.trim_ascii();
    if trimmed.first() == Some(&b'{') {
        return Ok(trimmed.to_vec());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .map_err(|e| IngestError::Invalid {
            detail: "invalid store body: neither JSON nor base64".to_owned(),
            causes: vec![e.to_string()],
        })?;
    if decoded.first() == Some(&b'{') {
        return Ok(decoded);
    }
    Ok(decode::decode_all(
        decode::Encoding::Deflate,
        &decoded,
        max,
    )?)
}

/// Offers the event and transaction items of a valid envelope as samples
/// for the database's compression dictionary, while it has none.
fn offer_samples(store: &Store, envelope: &sentry_core::envelope::Envelope) {
    if !store.wants_samples() {
        return;
    }
    for item in envelope.items() {
        if matches!(
            item.headers.ty,
            sentry_core::envelope::ItemType::Event | sentry_core::envelope::ItemType::Transaction
        ) {
            if let Some(payload) = item.payload.as_raw() {
                store.offer_sample(payload);
            }
        }
    }
}
