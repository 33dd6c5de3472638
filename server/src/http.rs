//! The HTTP surface (axum): routes, shared state and the layers every
//! request passes. Handlers decode, call, encode and count: the rules live
//! in [`crate::auth`], [`crate::sync`] and [`crate::copy`].
//!
//! Bounds per request (connections are bounded in [`edge`]):
//! - **Concurrency**: at most `limits.max_concurrent_requests` requests are
//!   handled at once; a request waits up to `limits.queue_wait` for a turn,
//!   then gets 503 with `Retry-After` (`/healthz` and `/metrics` never wait).
//! - **Body time and size**, per route ([`body`]): whole within
//!   `limits.body_read` of arrival (408); at most [`BodyLimit::SYNC`] for
//!   sync and retire (and again after gzip), [`BodyLimit::ENROL`] for
//!   enrolment, [`BodyLimit::COPY`] for the copy form and its JSON (413).
//! - **Refusals** are one type, [`HttpError`] (`error`).

mod body;
mod copy;
pub(crate) mod edge;
mod enrol;
mod error;
mod figures;
mod ops;
mod sync;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pocketbook_core::sync::wire::{ENROL_PATH, RETIRE_PATH, SYNC_PATH};
use tokio::sync::Semaphore;

pub use body::{BodyLimit, MAX_ENROL_BYTES, decode, gunzip};
pub use error::HttpError;

use crate::config::ServerConfig;
use crate::limit::Throttled;
use crate::metrics::{EndpointLabels, Metrics, RequestLabels};
use crate::storage::Storage;

/// What every handler shares.
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub config: ServerConfig,
    pub metrics: Metrics,
    /// Refusals by a rate limit, summarised into the audit trail.
    pub throttled: Throttled,
    /// The salt of client keys, shared through the store (`limit::Salt`).
    pub salt: crate::limit::Salt,
    /// Closed devices told to wipe this hour (audited once an hour each).
    pub wipes_told: crate::auth::WipesTold,
    /// Turns for requests: the concurrency limit.
    turns: Arc<Semaphore>,
}

impl AppState {
    pub fn new(storage: Arc<dyn Storage>, config: ServerConfig) -> Arc<Self> {
        let metrics = Metrics::default();
        Arc::new(AppState {
            storage,
            throttled: Throttled::new(
                metrics.throttled.clone(),
                config.limits.audited_refusals_per_hour,
            ),
            salt: crate::limit::Salt::default(),
            wipes_told: crate::auth::WipesTold::default(),
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
            tracing::error!(error = %e.message(), "rate-limit summary not written; kept for the next one");
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
        .route(SYNC_PATH, BodyLimit::SYNC.on(post(sync::handle)))
        .route(ENROL_PATH, BodyLimit::ENROL.on(post(enrol::handle)))
        .route(RETIRE_PATH, BodyLimit::SYNC.on(post(sync::retire)))
        .route("/readyz", get(ops::readyz))
        .layer(admit.clone());
    // The equal-time floor of the copy answers waits outside the
    // concurrency limit, so a waiting answer holds no turn.
    let public = Router::new()
        .route(
            "/copy",
            BodyLimit::COPY.on(get(copy::form).post(copy::submit)),
        )
        .route("/v1/copy", BodyLimit::COPY.on(post(copy::api)))
        .route("/figures", get(figures::figures))
        .route("/figures/searches", get(figures::searches))
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
            body::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
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

/// The name of the endpoint at `path` (for metrics and logs), `other`
/// for anything else: a path that is no route is not repeated anywhere.
fn endpoint(path: Option<&str>) -> &'static str {
    match path {
        Some(SYNC_PATH) => "sync",
        Some(ENROL_PATH) => "enrol",
        Some(RETIRE_PATH) => "retire",
        Some("/copy") => "copy-page",
        Some("/v1/copy") => "copy",
        Some("/figures") => "figures",
        Some("/figures/searches") => "figures-searches",
        Some("/healthz") => "healthz",
        Some("/readyz") => "readyz",
        Some("/metrics") => "metrics",
        _ => "other",
    }
}

/// The span each request is logged in: its method and [`endpoint`], never
/// its address, query string or headers (a reference and date typed into
/// the address bar would otherwise be logged at debug level).
fn request_span(request: &Request) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        endpoint = endpoint(Some(request.uri().path())),
    )
}

/// Counts every answer by endpoint and status, and times it.
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let endpoint = endpoint(
        request
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str()),
    );
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

/// Runs blocking storage work off the async runtime.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, HttpError> + Send + 'static,
) -> Result<T, HttpError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| HttpError::unavailable("the request could not finish"))?
}
