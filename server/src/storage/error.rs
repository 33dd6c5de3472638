//! What a backend's failures look like to the server: [`StorageError`],
//! whose variants the callers act on (retry a conflict, refuse a
//! duplicate, say the store is full), and [`BackendError`], the operator's
//! message with the driver's own error kept as its source.

/// Storage failures. `Conflict` is expected under concurrency: the caller
/// reloads and retries.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage failure: {0}")]
    Backend(#[source] BackendError),
    /// The store has no room left (the disk, or the store's size cap):
    /// nothing of the failed write was kept; writes work again once there
    /// is room, without a restart.
    #[error(
        "the store is full: free disk space (or raise the store's size cap) so writes can go on"
    )]
    Full,
    #[error("the record changed concurrently; retry")]
    Conflict,
    #[error("{0} already exists")]
    Duplicate(&'static str),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("the enrolment code is unknown, used or expired")]
    CodeRefused,
    /// The code is good but was issued for another officer than the one
    /// the enrolling notebook belongs to: nothing was written, and the
    /// code still works.
    #[error("the enrolment code was issued for another officer than the notebook's")]
    CodeForAnotherOfficer,
    #[error(
        "the store was written by a newer server (schema {found}, this server reads up to {supported})"
    )]
    TooNew { found: u32, supported: u32 },
}

impl StorageError {
    /// A backend failure described in words, with no underlying error.
    pub fn backend(message: impl Into<String>) -> Self {
        StorageError::Backend(BackendError {
            message: message.into(),
            source: None,
        })
    }

    /// A backend failure caused by `source`, kept for `Error::source`;
    /// `context` (ids and counts only) says what was being done.
    pub fn backend_from(
        context: Option<&str>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let message = match context {
            Some(context) => format!("{context}: {source}"),
            None => source.to_string(),
        };
        StorageError::Backend(BackendError {
            message,
            source: Some(Box::new(source)),
        })
    }
}

/// What went wrong inside a backend: a message for the operator and, when
/// there is one, the driver's own error as the source.
#[derive(Debug)]
pub struct BackendError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
