//! What can go wrong reading or editing a record document, in one type
//! every part of `document` answers with (and `error` maps to the app's
//! `ApiError`). It stands apart from `RecordDoc` so the parts below it
//! (the tree walk, the entry lists, the schema check, the reads) name it
//! without importing the module that is built on them.

use crate::model::{FieldViolation, RecordKind};

/// What can go wrong reading or editing a record document.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("not an Automerge document: {0}")]
    Corrupt(String),
    #[error("an Automerge document, but not a Pocketbook record")]
    NotPocketbook,
    #[error(
        "record schema version {found} is newer than this app reads ({supported}); update the app"
    )]
    TooNew { found: u64, supported: u64 },
    #[error("the record's content does not have the Pocketbook shape: {0}")]
    Shape(String),
    #[error("invalid record: {}", FieldViolation::list(.0))]
    Invalid(Vec<FieldViolation>),
    #[error("{operation} does not apply to a {kind} record")]
    WrongKind {
        operation: &'static str,
        kind: RecordKind,
    },
    #[error("the changes depend on changes that are missing; resend the whole record")]
    MissingDependencies,
    #[error("the receipt of this record was already issued")]
    ReceiptAlreadyIssued,
}

impl From<crate::chunks::ChunkError> for DocumentError {
    fn from(e: crate::chunks::ChunkError) -> Self {
        DocumentError::Corrupt(e.to_string())
    }
}

impl From<automerge::AutomergeError> for DocumentError {
    fn from(e: automerge::AutomergeError) -> Self {
        DocumentError::Corrupt(e.to_string())
    }
}

impl From<autosurgeon::ReconcileError> for DocumentError {
    fn from(e: autosurgeon::ReconcileError) -> Self {
        DocumentError::Shape(e.to_string())
    }
}

impl From<autosurgeon::HydrateError> for DocumentError {
    fn from(e: autosurgeon::HydrateError) -> Self {
        DocumentError::Shape(e.to_string())
    }
}
