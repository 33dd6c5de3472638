//! The HTTP surface (axum): routes, shared state, bounded body decoding and
//! the JSON error every refusal uses. Handlers decode and authenticate;
//! merging and paging live in [`crate::sync`].

mod copy;
mod enrol;
mod ops;
mod sync;

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pocketbook_core::sync::lifecycle::WipeReason;
use pocketbook_core::sync::wire::{
    ENROL_PATH, ErrorBody, MAX_REQUEST_BYTES, PROTOCOL_VERSION, RETIRE_PATH, SYNC_PATH,
};
use serde::de::DeserializeOwned;

use crate::config::ServerConfig;
use crate::metrics::{EndpointLabels, Metrics, RequestLabels};
use crate::storage::{Storage, StorageError};

/// What every handler shares.
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub config: ServerConfig,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(storage: Arc<dyn Storage>, config: ServerConfig) -> Arc<Self> {
        Arc::new(AppState {
            storage,
            config,
            metrics: Metrics::default(),
        })
    }

    /// Now, as the injected clock says, in RFC 3339.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.config.clock.now()
    }
}

/// Builds the router with its layers.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(SYNC_PATH, post(sync::handle))
        .route(ENROL_PATH, post(enrol::handle))
        .route(RETIRE_PATH, post(sync::retire))
        .route("/copy", get(copy::form).post(copy::submit))
        .route("/v1/copy", post(copy::api))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(|| async {
            HttpError::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint")
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
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
        }
    }

    /// The stable machine-readable code, e.g. `malformed`.
    pub fn code(&self) -> &str {
        &self.body.error
    }

    fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!(
                "the body is larger than {MAX_REQUEST_BYTES} bytes; send fewer records per request"
            ),
        )
    }

    pub(crate) fn unsupported_protocol(found: u32) -> Self {
        let mut e = Self::new(
            StatusCode::UPGRADE_REQUIRED,
            "unsupported-protocol",
            format!("protocol {found} is not spoken here; this server speaks {PROTOCOL_VERSION}"),
        );
        e.body.supported_protocols = vec![PROTOCOL_VERSION];
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
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// Reads a request body of at most [`MAX_REQUEST_BYTES`] as sent, refusing
/// an oversized one from its `Content-Length` before reading it, and
/// otherwise as soon as the limit is crossed.
pub async fn read_raw(headers: &HeaderMap, body: axum::body::Body) -> Result<Vec<u8>, HttpError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BYTES as u64) {
        return Err(HttpError::too_large());
    }
    let raw = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|e| {
            if std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit")
            {
                HttpError::too_large()
            } else {
                HttpError::malformed(format!("the body could not be read: {e}"))
            }
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

/// Inflates a gzip body, stopping as soon as it grows past
/// [`MAX_REQUEST_BYTES`] (a few kilobytes can inflate to gigabytes).
/// CPU work: call it on a blocking thread.
pub fn gunzip(raw: &[u8]) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw)
        .take(MAX_REQUEST_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| HttpError::malformed(format!("invalid gzip body: {e}")))?;
    if out.len() > MAX_REQUEST_BYTES {
        return Err(HttpError::too_large());
    }
    Ok(out)
}

/// Reads, inflates and decodes a JSON request body, bounded before and
/// after decompression; the CPU-heavy part runs off the async runtime.
pub async fn read_json<T: DeserializeOwned + Send + 'static>(
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<(T, usize), HttpError> {
    let gzip = gzipped(headers)?;
    let raw = read_raw(headers, body).await?;
    let received = raw.len();
    let value = blocking(move || {
        if gzip {
            decode(&gunzip(&raw)?)
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
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(PROTOCOL_VERSION)) => {}
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
