//! The one place internal errors become the small [`ApiError`] the apps see.
//!
//! Messages name fields and say what to do; they never carry record
//! content, so they are safe to log and to show.

use crate::document::DocumentError;
use crate::store::StoreError;
use crate::sync::client::ClientError;

/// What an app (or the device CLI) can act on. Each variant's message is
/// readable as it is; Kotlin and Swift see them as typed exceptions.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum ApiError {
    /// The record breaks a rule; the message names every offending field.
    #[error("{0}")]
    Invalid(String),
    /// Bytes or text that are not what they claim (corrupt Automerge, not a
    /// Pocketbook record, malformed reference).
    #[error("{0}")]
    BadInput(String),
    #[error("no record with this id on this device")]
    NotFound,
    /// The operation does not fit the record or its state.
    #[error("{0}")]
    Conflict(String),
    /// The store or a record was written by a newer app version.
    #[error("{0}")]
    UpdateRequired(String),
    /// The device's storage failed; the edit was not recorded.
    #[error("{0}")]
    Storage(String),
    /// The server could not be reached; everything stays queued on the device.
    #[error("{0}")]
    Offline(String),
    /// The notebook or device has not been set up for this (open or enrol first).
    #[error("{0}")]
    NotEnrolled(String),
    /// The server refused this device's credentials.
    #[error("{0}")]
    Unauthorised(String),
    /// The server answered in a way this app does not understand.
    #[error("{0}")]
    Protocol(String),
    /// The operation was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
    /// The server closed this device's credential (an administrator revoked
    /// it, or it was handed back and retired) and the notebook on this
    /// device has been erased: every record, the credential and the owner.
    /// The notebook object is unusable afterwards (calls fail with
    /// `NotEnrolled`); enrol the device again to continue. The message says
    /// which of the two happened, without personal data.
    #[error("{0}")]
    Wiped(String),
}

impl From<DocumentError> for ApiError {
    fn from(e: DocumentError) -> Self {
        match e {
            DocumentError::Invalid(_) => ApiError::Invalid(e.to_string()),
            DocumentError::Corrupt(_)
            | DocumentError::NotPocketbook
            | DocumentError::Shape(_)
            | DocumentError::MissingDependencies => ApiError::BadInput(e.to_string()),
            DocumentError::TooNew { .. } => ApiError::UpdateRequired(e.to_string()),
            DocumentError::WrongKind { .. } | DocumentError::ReceiptAlreadyIssued => {
                ApiError::Conflict(e.to_string())
            }
        }
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Offline(_) => ApiError::Offline(e.to_string()),
            // Only `Notebook::sync` acts on a wipe order (it erases the store
            // and reports `Wiped`); anywhere else it is a refusal, and
            // claiming an erasure that did not happen would mislead.
            ClientError::Unauthorised(_) | ClientError::Wipe(_) => {
                ApiError::Unauthorised(e.to_string())
            }
            ClientError::UpdateRequired(_) => ApiError::UpdateRequired(e.to_string()),
            ClientError::Refused { .. } | ClientError::Protocol(_) => {
                ApiError::Protocol(e.to_string())
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Document(d) => d.into(),
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Duplicate => ApiError::Conflict(e.to_string()),
            StoreError::TooNew { .. } => ApiError::UpdateRequired(e.to_string()),
            StoreError::Sqlite(_) | StoreError::Io(_) => ApiError::Storage(e.to_string()),
        }
    }
}
