//! Request bodies: how large, how fast, how encoded, one mechanism for
//! every route.
//!
//! - **Size**: each route declares its [`BodyLimit`] ([`BodyLimit::on`]):
//!   axum's `DefaultBodyLimit`, which axum's body extractors (`Bytes`,
//!   `Form`) honour, and the hint its 413 gives. The extractors here
//!   ([`Bounded`], [`DeviceJson`]; the copy form in `super::copy`) read
//!   through axum's and map its refusals to the precise answers: 413 from
//!   `Content-Length` before reading, or as soon as the limit is crossed
//!   ([`refusal`]); a gzip body is bounded again as it inflates.
//! - **Time**: a body must arrive whole within `limits.body_read` of the
//!   request's arrival, or 408 ([`deadline`]). tower-http's `TimeoutBody`
//!   is not used: it restarts its timer on every frame, so a body trickled
//!   a byte at a time would never time out.
//! - **Encoding**: `Content-Encoding` gzip or none, named in any case
//!   (415 otherwise); the protocol version is read before the whole body
//!   ([`decode`]), so an old or new app gets 426, not a parse error.

use std::convert::Infallible;
use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::MethodRouter;
use pocketbook_core::sync::wire::{MAX_REQUEST_BYTES, SUPPORTED_PROTOCOLS};
use serde::de::DeserializeOwned;

use super::{AppState, HttpError, blocking};

/// Largest enrolment request: a protocol number, a code of a dozen
/// characters and a device label of at most 80 (JSON-escaped, that is
/// under 1 KB); 4 KB leaves room and nothing more.
pub const MAX_ENROL_BYTES: usize = 4 * 1024;

/// The body bound of a route: at most `bytes` as sent; `hint` ends the
/// 413 message and says what to send instead.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    pub bytes: usize,
    pub hint: &'static str,
}

impl BodyLimit {
    /// `/v1/sync` and `/v1/retire`: [`MAX_REQUEST_BYTES`], before and after gzip.
    pub const SYNC: BodyLimit = BodyLimit {
        bytes: MAX_REQUEST_BYTES,
        hint: "send fewer records per request",
    };
    /// `/v1/enrol`: [`MAX_ENROL_BYTES`].
    pub const ENROL: BodyLimit = BodyLimit {
        bytes: MAX_ENROL_BYTES,
        hint: "send only the enrolment code and a short device label",
    };
    /// The public copy, form and JSON: a reference and a date need a few
    /// dozen bytes.
    pub const COPY: BodyLimit = BodyLimit {
        bytes: 2 * 1024,
        hint: "send only the reference and the date",
    };

    /// Bounds a route: axum's body limit for its extractors, and this
    /// value for the answers they give.
    pub fn on<S: Clone + Send + Sync + 'static>(self, route: MethodRouter<S>) -> MethodRouter<S> {
        route
            .layer::<_, Infallible>(DefaultBodyLimit::max(self.bytes))
            .layer::<_, Infallible>(Extension(self))
    }

    /// The bound [`BodyLimit::on`] gave the request's route (the sync
    /// bound for a route given none).
    fn of(request: &Request) -> Self {
        request
            .extensions()
            .get::<BodyLimit>()
            .copied()
            .unwrap_or(BodyLimit::SYNC)
    }

    /// 413: the body is over the limit.
    pub fn too_large(self) -> HttpError {
        HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!(
                "the body is larger than {} bytes; {}",
                self.bytes, self.hint
            ),
        )
    }

    /// 413 from `Content-Length`, before a byte of the body is read.
    fn check_declared(self, headers: &HeaderMap) -> Result<(), HttpError> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.bytes as u64) {
            return Err(self.too_large());
        }
        Ok(())
    }
}

/// The answer to a body axum could not read: 413 past the limit, 408
/// past the deadline, 400 otherwise.
pub fn refusal(rejection: &BytesRejection, limit: BodyLimit) -> HttpError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return limit.too_large();
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
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return limit.too_large();
    }
    HttpError::malformed("the body could not be read")
}

/// A body within its route's [`BodyLimit`], as sent.
pub struct Bounded(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Bounded {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, HttpError> {
        let limit = BodyLimit::of(&request);
        limit.check_declared(request.headers())?;
        Bytes::from_request(request, state)
            .await
            .map(Bounded)
            .map_err(|rejection| refusal(&rejection, limit))
    }
}

/// A device's JSON request (enrol, sync, retire): gzip or plain, within
/// the route's [`BodyLimit`] before and after inflating, its protocol
/// checked first ([`decode`]); the CPU-heavy part runs off the async
/// runtime. Holds the value and the bytes received.
pub struct DeviceJson<T> {
    pub value: T,
    pub received: usize,
}

impl<T: DeserializeOwned + Send + 'static> FromRequest<Arc<AppState>> for DeviceJson<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Self, HttpError> {
        let gzip = gzipped(request.headers())?;
        let limit = BodyLimit::of(&request);
        let Bounded(raw) = Bounded::from_request(request, state).await?;
        let received = raw.len();
        let value = blocking(move || {
            if gzip {
                decode(&gunzip(&raw, limit.bytes, limit.hint)?)
            } else {
                decode(&raw)
            }
        })
        .await?;
        Ok(DeviceJson { value, received })
    }
}

/// How the body is encoded, from `Content-Encoding`: `Ok(true)` for gzip.
/// A content-coding's name is case-insensitive (RFC 9110, section 8.4.1):
/// `GZIP` is gzip and `Identity` none. Only the one name is accepted: a
/// list (`gzip, gzip`), a parameter or `x-gzip` is 415.
pub fn gzipped(headers: &HeaderMap) -> Result<bool, HttpError> {
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?"))
    {
        None => Ok(false),
        Some(name) if name.eq_ignore_ascii_case("identity") => Ok(false),
        Some(name) if name.eq_ignore_ascii_case("gzip") => Ok(true),
        Some(other) => Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-encoding",
            format!("content encoding {other:?} is not accepted; use gzip or none"),
        )),
    }
}

/// Inflates a gzip body, stopping as soon as it grows past `limit`
/// (a few kilobytes can inflate to gigabytes); `hint` ends the 413. The
/// body is one gzip stream: bytes after it (another member, garbage) are
/// refused, not silently dropped. CPU work: call it on a blocking thread.
pub fn gunzip(raw: &[u8], limit: usize, hint: &'static str) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::new();
    // The `bufread` decoder leaves what follows its stream in `raw`.
    let mut decoder = flate2::bufread::GzDecoder::new(raw);
    (&mut decoder)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| HttpError::malformed(format!("invalid gzip body: {e}")))?;
    if out.len() > limit {
        return Err(BodyLimit { bytes: limit, hint }.too_large());
    }
    if !decoder.into_inner().is_empty() {
        return Err(HttpError::malformed(
            "bytes after the gzip stream; send the body as one gzip stream",
        ));
    }
    Ok(out)
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
            // A whole number this server does not speak is an app of
            // another version (426); anything else is no protocol at all.
            return Err(match n.as_u64().and_then(|v| u32::try_from(v).ok()) {
                Some(version) => HttpError::unsupported_protocol(version),
                None => HttpError::malformed(format!(
                    "`protocol` must be a whole number (this server speaks {SUPPORTED_PROTOCOLS:?})"
                )),
            });
        }
        Some(_) => return Err(HttpError::malformed("`protocol` must be a number")),
    }
    serde_json::from_slice(bytes).map_err(|e| HttpError::malformed(format!("invalid request: {e}")))
}

/// Gives the request's body its deadline: `limits.body_read` from now.
pub async fn deadline(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
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
    type Data = Bytes;
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
