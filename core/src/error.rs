//! The one place internal errors become the small [`ApiError`] the apps see.
//!
//! Messages name fields and say what to do; they never carry record
//! content, so they are safe to log and to show. Where an app can act on
//! more than a message, the variant carries it as data: the field
//! violations of a refused record, why the server could not be reached,
//! how many unsynced edits a wipe destroyed.

use crate::document::DocumentError;
use crate::model::FieldViolation;
use crate::store::{KeyProblem, StoreError};
use crate::sync::client::{ClientError, OfflineCause};
use crate::sync::lifecycle::WipeReason;

/// What an app (or the device CLI) can act on. Each variant's message is
/// readable as it is; Kotlin and Swift see them as typed exceptions whose
/// fields carry the details (`Invalid.violations`, `Offline.reason`,
/// `Wiped.lostEdits`). Every variant but `Invalid` and `Wiped` carries its
/// readable message as `detail` (the generated Kotlin builds an exception's
/// message from its fields, so a variant without one would have none).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum ApiError {
    /// The record breaks rules: every broken rule, as `validate_record`
    /// returns them (a form marks each named field).
    #[error("invalid record: {}", FieldViolation::list(violations))]
    Invalid { violations: Vec<FieldViolation> },
    /// Bytes or text that are not what they claim (corrupt Automerge, not a
    /// Pocketbook record, malformed reference).
    #[error("{detail}")]
    BadInput { detail: String },
    /// No record with this id on this device.
    #[error("{detail}")]
    NotFound { detail: String },
    /// The operation does not fit the record or its state.
    #[error("{detail}")]
    Conflict { detail: String },
    /// The store or a record was written by a newer app version.
    #[error("{detail}")]
    UpdateRequired { detail: String },
    /// The device's storage failed; the edit was not recorded.
    #[error("{detail}")]
    Storage { detail: String },
    /// The server could not be reached; everything stays queued on the
    /// device. `reason` says why (refused, DNS, TLS, timeout, other), so an
    /// app can tell "no signal" from "wrong address" from "bad certificate".
    #[error("{detail}")]
    Offline {
        reason: OfflineCause,
        detail: String,
    },
    /// The notebook or device has not been set up for this (open or enrol
    /// first), or its notebook was erased by a wipe.
    #[error("{detail}")]
    NotEnrolled { detail: String },
    /// The server refused this device's credentials.
    #[error("{detail}")]
    Unauthorised { detail: String },
    /// The server answered in a way this app does not understand.
    #[error("{detail}")]
    Protocol { detail: String },
    /// The operation was cancelled by the caller.
    #[error("{detail}")]
    Cancelled { detail: String },
    /// The server closed this device's credential (an administrator revoked
    /// it, or it was handed back and retired) and the notebook on this
    /// device has been erased: every record, the credential and the owner.
    /// `lost_edits` counts the edits made on this device that the server
    /// never acknowledged and that went with it (0 for a retirement, which
    /// waits until everything is uploaded). The notebook object is unusable
    /// afterwards (calls fail with `NotEnrolled`); enrol the device again to
    /// continue.
    #[error("{} ({lost_edits} unsynced edits lost)", reason.message())]
    Wiped { reason: WipeReason, lost_edits: i64 },
    /// The edit is not this officer's to make: the record is outside what
    /// they may change (a supervisor's view of the station is read-only),
    /// or the edit breaks an authorship or frozen-field rule. The server
    /// would refuse it, so it was not stored.
    #[error("{detail}")]
    Forbidden { detail: String },
    /// The notebook was closed (`close_notebook`): open it again to go on.
    #[error("{detail}")]
    Closed { detail: String },
    /// The notebook's key was refused (`problem` says how: wrong, missing,
    /// not 32 bytes, a key change interrupted); nothing was changed. A wrong
    /// key is never taken for a damaged store.
    #[error("{detail}")]
    Key { problem: KeyProblem, detail: String },
}

impl ApiError {
    /// `NotFound`, with its message.
    pub fn not_found() -> Self {
        ApiError::NotFound {
            detail: "no record with this id on this device".into(),
        }
    }

    /// `Cancelled`, with its message.
    pub fn cancelled() -> Self {
        ApiError::Cancelled {
            detail: "cancelled".into(),
        }
    }

    /// `Closed`, with its message.
    pub fn closed() -> Self {
        ApiError::Closed {
            detail: "this notebook was closed; open it again".into(),
        }
    }

    /// A `Conflict` with this message.
    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError::Conflict {
            detail: detail.into(),
        }
    }

    /// A `BadInput` with this message.
    pub fn bad_input(detail: impl Into<String>) -> Self {
        ApiError::BadInput {
            detail: detail.into(),
        }
    }

    /// A `Storage` failure with this message.
    pub fn storage(detail: impl Into<String>) -> Self {
        ApiError::Storage {
            detail: detail.into(),
        }
    }

    /// `NotEnrolled` with this message.
    pub fn not_enrolled(detail: impl Into<String>) -> Self {
        ApiError::NotEnrolled {
            detail: detail.into(),
        }
    }

    /// An `Invalid` naming one field.
    pub fn invalid_field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ApiError::Invalid {
            violations: vec![FieldViolation {
                field: field.into(),
                problem: problem.into(),
            }],
        }
    }
}

impl From<DocumentError> for ApiError {
    fn from(e: DocumentError) -> Self {
        match e {
            DocumentError::Invalid(violations) => ApiError::Invalid { violations },
            DocumentError::Corrupt(_)
            | DocumentError::NotPocketbook
            | DocumentError::Shape(_)
            | DocumentError::MissingDependencies => ApiError::bad_input(e.to_string()),
            DocumentError::TooNew { .. } => ApiError::UpdateRequired {
                detail: e.to_string(),
            },
            DocumentError::WrongKind { .. } | DocumentError::ReceiptAlreadyIssued => {
                ApiError::conflict(e.to_string())
            }
        }
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        let detail = e.to_string();
        match e {
            ClientError::Offline { cause, .. } => ApiError::Offline {
                reason: cause,
                detail,
            },
            // Only `Notebook::sync` acts on a wipe order (it erases the store
            // and reports `Wiped`); anywhere else it is a refusal, and
            // claiming an erasure that did not happen would mislead.
            ClientError::Unauthorised(_) | ClientError::Wipe(_) => {
                ApiError::Unauthorised { detail }
            }
            ClientError::UpdateRequired(_) => ApiError::UpdateRequired { detail },
            ClientError::Refused { .. } | ClientError::Protocol(_) => ApiError::Protocol { detail },
            ClientError::Settings(_) => ApiError::BadInput { detail },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Document(d) => d.into(),
            StoreError::NotFound => ApiError::not_found(),
            StoreError::Duplicate => ApiError::conflict(e.to_string()),
            StoreError::TooNew { .. } => ApiError::UpdateRequired {
                detail: e.to_string(),
            },
            StoreError::Forbidden(detail) => ApiError::Forbidden { detail },
            StoreError::Key(problem) => ApiError::Key {
                problem,
                detail: problem.message().to_string(),
            },
            StoreError::Sqlite(_) | StoreError::Io(_) => ApiError::storage(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_keeps_every_violation_and_names_them_in_the_message() {
        let violations = vec![
            FieldViolation {
                field: "grounds".into(),
                problem: "required".into(),
            },
            FieldViolation {
                field: "location.street".into(),
                problem: "required".into(),
            },
        ];
        let e: ApiError = DocumentError::Invalid(violations.clone()).into();
        assert!(e.to_string().contains("grounds") && e.to_string().contains("location.street"));
        assert!(matches!(e, ApiError::Invalid { violations: v } if v == violations));
    }

    #[test]
    fn offline_keeps_its_cause() {
        let e: ApiError = ClientError::Offline {
            cause: OfflineCause::Timeout,
            detail: "operation timed out".into(),
        }
        .into();
        assert!(matches!(
            e,
            ApiError::Offline {
                reason: OfflineCause::Timeout,
                ..
            }
        ));
    }

    #[test]
    fn wiped_says_how_many_edits_were_lost() {
        let e = ApiError::Wiped {
            reason: WipeReason::Revoked,
            lost_edits: 3,
        };
        assert!(e.to_string().contains("3 unsynced edits lost"), "{e}");
    }
}
