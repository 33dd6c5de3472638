//! The one refusal every endpoint answers with: a status, a stable
//! machine-readable code and a readable message (never record content),
//! as the JSON `ErrorBody` of `docs/sync-protocol.md`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pocketbook_core::sync::lifecycle::WipeReason;
use pocketbook_core::sync::wire::{ErrorBody, SUPPORTED_PROTOCOLS};

use crate::storage::StorageError;

/// A refusal: status, stable code, readable message (never record content).
#[derive(Debug)]
pub struct HttpError {
    status: StatusCode,
    body: ErrorBody,
    /// Seconds for `Retry-After`.
    pub(super) retry_after: Option<u64>,
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

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", message)
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
            StorageError::Full => {
                tracing::error!(
                    "the store is full: writes are refused with 503 until there is room (free disk space, or raise POCKETBOOK_STORE_MAX_PAGES)"
                );
                let mut full = HttpError::unavailable("the server's store is full");
                full.retry_after = Some(60);
                full
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
