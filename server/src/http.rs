//! The HTTP surface (axum): routes, shared state, bounded body decoding and
//! the JSON error every refusal uses. Handlers decode and authenticate;
//! merging and paging live in [`crate::sync`].
//!
//! Bounds per request (connections are bounded in [`edge`]):
//! - **Concurrency**: at most `limits.max_concurrent_requests` requests are
//!   handled at once; a request waits up to `limits.queue_wait` for a turn,
//!   then gets 503 with `Retry-After` (`/healthz` and `/metrics` never wait).
//! - **Body time**: a body must arrive whole within `limits.body_read` of
//!   the request's arrival, or 408 ([`read_body`]).
//! - **Body size**, per route: sync and retire [`MAX_REQUEST_BYTES`] (and
//!   again after gzip), enrolment [`MAX_ENROL_BYTES`], the copy form
//!   2 KB (`copy::MAX_BODY`); refused from `Content-Length` before reading, and
//!   otherwise as soon as the limit is crossed (413).

mod copy;
pub mod edge;
mod enrol;
mod ops;
mod sync;

use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pocketbook_core::sync::lifecycle::WipeReason;
use pocketbook_core::sync::wire::{
    ENROL_PATH, ErrorBody, MAX_REQUEST_BYTES, RETIRE_PATH, SUPPORTED_PROTOCOLS, SYNC_PATH,
};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::config::ServerConfig;
use crate::limit::Throttled;
use crate::metrics::{EndpointLabels, Metrics, RequestLabels};
use crate::storage::{Storage, StorageError};

/// Largest enrolment request: a protocol number, a code of a dozen
/// characters and a device label of at most 80 (JSON-escaped, that is
/// under 1 KB); 4 KB leaves room and nothing more.
pub const MAX_ENROL_BYTES: usize = 4 * 1024;

/// What every handler shares.
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub config: ServerConfig,
    pub metrics: Metrics,
    /// Refusals by a rate limit, summarised into the audit trail.
    pub throttled: Throttled,
    /// Turns for requests: the concurrency limit.
    turns: Arc<Semaphore>,
}

impl AppState {
    pub fn new(storage: Arc<dyn Storage>, config: ServerConfig) -> Arc<Self> {
        let metrics = Metrics::default();
        Arc::new(AppState {
            storage,
            throttled: Throttled::new(metrics.throttled.clone()),
            turns: Arc::new(Semaphore::new(config.limits.max_concurrent_requests)),
            config,
            metrics,
        })
    }

    /// Writes the rate-limit refusals counted so far as summary audit
    /// events (see [`crate::limit`]); the server calls it once per
    /// `limits.audit_summary_every` and when it stops.
    pub async fn flush_throttled(self: &Arc<Self>) {
        let state = self.clone();
        let flushed = blocking(move || {
            state
                .throttled
                .flush(state.storage.as_ref(), state.now())
                .map_err(HttpError::from)
        })
        .await;
        if let Err(e) = flushed {
            tracing::error!(error = %e.body.message, "rate-limit summary not written; kept for the next one");
        }
    }

    /// Now, as the injected clock says, in RFC 3339.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.config.clock.now()
    }
}

/// Builds the public router with its layers. `/metrics` is on it unless
/// the config gives metrics their own address ([`metrics_router`]).
pub fn router(state: Arc<AppState>) -> Router {
    let admit = axum::middleware::from_fn_with_state(state.clone(), admit);
    let devices = Router::new()
        .route(SYNC_PATH, post(sync::handle))
        .route(ENROL_PATH, post(enrol::handle))
        .route(RETIRE_PATH, post(sync::retire))
        .route("/readyz", get(ops::readyz))
        .layer(admit.clone());
    // The equal-time floor of the copy answers waits outside the
    // concurrency limit, so a waiting answer holds no turn.
    let public = Router::new()
        .route("/copy", get(copy::form).post(copy::submit))
        .route("/v1/copy", post(copy::api))
        .layer(admit)
        .layer(axum::middleware::from_fn(copy::equal_time));
    let mut operators = Router::new().route("/healthz", get(ops::healthz));
    if state.config.metrics_listen.is_none() {
        operators = operators.route("/metrics", get(ops::metrics));
    }
    devices
        .merge(public)
        .merge(operators)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// The router of the separate metrics address (`metrics_listen`).
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint")
}

/// The concurrency limit: a turn within `limits.queue_wait`, or 503.
async fn admit(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let turn = tokio::time::timeout(
        state.config.limits.queue_wait,
        state.turns.clone().acquire_owned(),
    )
    .await;
    match turn {
        Ok(Ok(turn)) => {
            let response = next.run(request).await;
            drop(turn);
            response
        }
        Ok(Err(_)) | Err(_) => {
            state.throttled.shed("busy");
            let mut busy = HttpError::unavailable("the server is busy with other requests");
            busy.retry_after = Some(1);
            busy.into_response()
        }
    }
}

/// Gives the request's body its deadline: `limits.body_read` from now.
async fn deadline(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let limit = state.config.limits.body_read;
    next.run(request.map(|body| axum::body::Body::new(Deadline::new(body, limit))))
        .await
}

/// A request body that fails with [`BodyTimeout`] once its deadline passes.
struct Deadline {
    inner: axum::body::Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl Deadline {
    fn new(inner: axum::body::Body, limit: Duration) -> Self {
        Deadline {
            inner,
            sleep: Box::pin(tokio::time::sleep(limit)),
            limit,
        }
    }
}

/// The body did not arrive within its time.
#[derive(Debug, thiserror::Error)]
#[error("the body did not arrive within {0:?}")]
pub struct BodyTimeout(Duration);

impl http_body::Body for Deadline {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            let limit = self.limit;
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimeout(limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Counts every answer by endpoint and status, and times it.
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let endpoint = match request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str())
    {
        Some(SYNC_PATH) => "sync",
        Some(ENROL_PATH) => "enrol",
        Some(RETIRE_PATH) => "retire",
        Some("/copy") => "copy-page",
        Some("/v1/copy") => "copy",
        Some("/healthz") => "healthz",
        Some("/readyz") => "readyz",
        Some("/metrics") => "metrics",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            endpoint,
            status: response.status().as_u16(),
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&EndpointLabels { endpoint })
        .observe(started.elapsed().as_secs_f64());
    if let Some(bytes) = axum::body::HttpBody::size_hint(response.body()).exact() {
        state
            .metrics
            .response_bytes
            .get_or_create(&EndpointLabels { endpoint })
            .inc_by(bytes);
    }
    response
}

/// A refusal: status, stable code, readable message (never record content).
#[derive(Debug)]
pub struct HttpError {
    status: StatusCode,
    body: ErrorBody,
    /// Seconds for `Retry-After`.
    retry_after: Option<u64>,
}

impl HttpError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        HttpError {
            status,
            body: ErrorBody {
                error: code.to_string(),
                message: message.into(),
                supported_protocols: Vec::new(),
                wipe: false,
            },
            retry_after: None,
        }
    }

    /// 429: a rate limit refused the request; it lifts in `retry_after` seconds.
    pub fn throttled(message: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "too-many-attempts", message);
        e.retry_after = Some(retry_after);
        e
    }

    /// The stable machine-readable code, e.g. `malformed`.
    pub fn code(&self) -> &str {
        &self.body.error
    }

    fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    /// 413: the body is over `limit`; `hint` says what to send instead.
    fn too_large(limit: usize, hint: &str) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("the body is larger than {limit} bytes; {hint}"),
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The readable message.
    pub fn message(&self) -> &str {
        &self.body.message
    }

    pub(crate) fn unsupported_protocol(found: u32) -> Self {
        let mut e = Self::new(
            StatusCode::UPGRADE_REQUIRED,
            "unsupported-protocol",
            format!(
                "protocol {found} is not spoken here; this server speaks {:?}",
                SUPPORTED_PROTOCOLS
            ),
        );
        e.body.supported_protocols = SUPPORTED_PROTOCOLS.to_vec();
        e
    }

    pub fn unauthorised() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorised",
            "missing or unknown device token: enrol the device again",
        )
    }

    /// A closed credential: 401 and the instruction to erase the device.
    pub fn wipe(reason: WipeReason) -> Self {
        let message = match reason {
            WipeReason::Retired => "this device was handed back and retired: erase its notebook",
            WipeReason::Revoked => {
                "this device's access was revoked: erase its notebook and ask an admin to enrol it again"
            }
        };
        let mut e = Self::new(StatusCode::UNAUTHORIZED, reason.code(), message);
        e.body.wipe = true;
        e
    }

    pub fn unavailable(what: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("{what}; try again shortly"),
        )
    }
}

impl From<StorageError> for HttpError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict => {
                HttpError::unavailable("the record is busy with other devices' changes")
            }
            other => {
                tracing::error!(error = %other, "storage failure");
                HttpError::unavailable("the server's store is not answering")
            }
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// What to send instead of a sync or retire body that is too large.
const SYNC_HINT: &str = "send fewer records per request";

/// The one bounded body reader of every route: at most `limit` bytes as
/// sent, refused from `Content-Length` before reading (413), otherwise as
/// soon as the limit is crossed (413); a body that does not arrive within
/// its deadline (`limits.body_read` from arrival) gets 408. `hint` ends the 413 message.
pub async fn read_body(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
    hint: &str,
) -> Result<Vec<u8>, HttpError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(HttpError::too_large(limit, hint));
    }
    let raw = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(error) = cause {
            if error.is::<http_body_util::LengthLimitError>() {
                return HttpError::too_large(limit, hint);
            }
            if let Some(timeout) = error.downcast_ref::<BodyTimeout>() {
                return HttpError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request-timeout",
                    format!(
                        "the body did not arrive within {} seconds; try again on a better connection",
                        timeout.0.as_secs_f64()
                    ),
                );
            }
            cause = error.source();
        }
        HttpError::malformed("the body could not be read")
    })?;
    Ok(raw.to_vec())
}

/// How the body is encoded, from `Content-Encoding`: `Ok(true)` for gzip.
pub fn gzipped(headers: &HeaderMap) -> Result<bool, HttpError> {
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?"))
    {
        None | Some("identity") => Ok(false),
        Some("gzip") => Ok(true),
        Some(other) => Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-encoding",
            format!("content encoding {other:?} is not accepted; use gzip or none"),
        )),
    }
}

/// Inflates a gzip body, stopping as soon as it grows past `limit`
/// (a few kilobytes can inflate to gigabytes).
/// CPU work: call it on a blocking thread.
pub fn gunzip(raw: &[u8], limit: usize, hint: &str) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| HttpError::malformed(format!("invalid gzip body: {e}")))?;
    if out.len() > limit {
        return Err(HttpError::too_large(limit, hint));
    }
    Ok(out)
}

/// Reads, inflates and decodes a sync or retire request body (at most
/// [`MAX_REQUEST_BYTES`]): see [`read_json_within`].
pub async fn read_json<T: DeserializeOwned + Send + 'static>(
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<(T, usize), HttpError> {
    read_json_within(headers, body, MAX_REQUEST_BYTES, SYNC_HINT).await
}

/// Reads, inflates and decodes a JSON request body, bounded to `limit`
/// before and after decompression; the CPU-heavy part runs off the async
/// runtime. Returns the value and the bytes received.
pub async fn read_json_within<T: DeserializeOwned + Send + 'static>(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
    hint: &'static str,
) -> Result<(T, usize), HttpError> {
    let gzip = gzipped(headers)?;
    let raw = read_body(headers, body, limit, hint).await?;
    let received = raw.len();
    let value = blocking(move || {
        if gzip {
            decode(&gunzip(&raw, limit, hint)?)
        } else {
            decode(&raw)
        }
    })
    .await?;
    Ok((value, received))
}

/// Decodes a JSON body: the protocol version first (so an old or new app
/// gets 426, not a parse error), then the whole body.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
    #[derive(serde::Deserialize)]
    struct Probe {
        protocol: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(bytes)
        .map_err(|e| HttpError::malformed(format!("invalid JSON: {e}")))?;
    match probe.protocol {
        None => return Err(HttpError::malformed("missing field `protocol`")),
        Some(serde_json::Value::Number(n))
            if n.as_u64()
                .is_some_and(|v| SUPPORTED_PROTOCOLS.iter().any(|p| u64::from(*p) == v)) => {}
        Some(serde_json::Value::Number(n)) => {
            return Err(HttpError::unsupported_protocol(
                n.as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(u32::MAX),
            ));
        }
        Some(_) => return Err(HttpError::malformed("`protocol` must be a number")),
    }
    serde_json::from_slice(bytes).map_err(|e| HttpError::malformed(format!("invalid request: {e}")))
}

/// Runs blocking storage work off the async runtime.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, HttpError> + Send + 'static,
) -> Result<T, HttpError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| HttpError::unavailable("the request could not finish"))?
}
