//! The server's storage, behind one trait so the embedded SQLite backend and
//! the PostgreSQL backend (several stateless server instances on one
//! database) are two implementations of the same behaviour, checked by one
//! suite (`storage/suite.rs`).
//!
//! Methods are synchronous; the HTTP layer calls them on blocking threads
//! (`spawn_blocking`), never on the async runtime. A PostgreSQL backend can
//! use the synchronous `postgres` client, or an async driver through
//! `tokio::runtime::Handle::block_on` on those blocking threads.
//! Writes that must not interleave (a record's snapshot and its feed entry)
//! happen inside one method, so each backend makes them one transaction.

pub mod sqlite;
#[cfg(test)]
mod suite;

use pocketbook_core::model::RecordKind;

/// Storage failures. `Conflict` is expected under concurrency: the caller
/// reloads and retries.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage failure: {0}")]
    Backend(String),
    #[error("the record changed concurrently; retry")]
    Conflict,
    #[error("{0} already exists")]
    Duplicate(&'static str),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("the enrolment code is unknown, used or expired")]
    CodeRefused,
    #[error(
        "the store was written by a newer server (schema {found}, this server reads up to {supported})"
    )]
    TooNew { found: u32, supported: u32 },
}

/// An officer as the server knows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OfficerRow {
    pub shoulder_number: String,
    pub name: String,
    pub station: String,
    pub role: String,
    pub active: bool,
}

/// An enrolled device (never its token).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceRow {
    pub id: String,
    pub officer: String,
    pub label: String,
    pub enrolled_at: String,
    pub revoked_at: Option<String>,
    pub last_seen: Option<String>,
}

/// A device together with its officer, as a sync request sees it.
#[derive(Debug, Clone)]
pub struct Principal {
    pub device: DeviceRow,
    pub officer: OfficerRow,
}

/// The index columns kept beside each record's document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordIndex {
    pub id: String,
    pub kind: RecordKind,
    pub reference: String,
    pub author: String,
    pub station: String,
    /// Time of the search / encounter / call (RFC 3339), for retention and lookup.
    pub occurred_at: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A stored record: its compacted document and a version for compare-and-swap.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub index: RecordIndex,
    pub snapshot: Vec<u8>,
    pub version: i64,
}

/// One accepted push, committed atomically: new snapshot, index, feed entry.
#[derive(Debug, Clone)]
pub struct RecordCommit {
    pub index: RecordIndex,
    pub snapshot: Vec<u8>,
    /// The changes the server did not have before this push.
    pub new_changes: Vec<u8>,
    /// `None` for a new record; else the version it was loaded at.
    pub expected_version: Option<i64>,
    pub origin_device: String,
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRow {
    pub seq: u64,
    pub record_id: String,
    pub kind: RecordKind,
    pub author: String,
    pub station: String,
    pub origin_device: String,
    pub changes: Vec<u8>,
}

/// Every behaviour the server needs from a backend.
pub trait Storage: Send + Sync + 'static {
    /// Answers when the backend is usable (readiness).
    fn ping(&self) -> Result<(), StorageError>;

    fn add_officer(&self, officer: &OfficerRow) -> Result<(), StorageError>;
    fn officer(&self, shoulder_number: &str) -> Result<Option<OfficerRow>, StorageError>;
    fn officers(&self) -> Result<Vec<OfficerRow>, StorageError>;

    /// Stores the hash of a one-time code for an officer, valid until `expires_at` (unix seconds).
    fn add_enrolment_code(
        &self,
        code_hash: &[u8],
        officer: &str,
        expires_at: i64,
    ) -> Result<(), StorageError>;
    /// Uses a code once and registers the device with its token hash, in one transaction.
    fn redeem_enrolment_code(
        &self,
        code_hash: &[u8],
        now: i64,
        device: &DeviceRow,
        token_hash: &[u8],
    ) -> Result<OfficerRow, StorageError>;
    /// The active device holding this token, with its officer.
    fn principal(&self, token_hash: &[u8]) -> Result<Option<Principal>, StorageError>;
    fn devices(&self) -> Result<Vec<DeviceRow>, StorageError>;
    fn touch_device(&self, device_id: &str, at: &str) -> Result<(), StorageError>;

    fn record(&self, id: &str) -> Result<Option<StoredRecord>, StorageError>;
    /// Commits a push in one transaction: the record row (inserted, or
    /// updated only if its `version` is still `expected_version`, a
    /// compare-and-swap) and one feed entry. `Conflict` if the record was
    /// created or changed since it was loaded: the caller reloads, merges
    /// again and retries, so two devices pushing the same record at once
    /// both keep their changes.
    ///
    /// The feed sequence number must become visible in order. A backend
    /// whose sequence numbers can commit out of order (PostgreSQL
    /// sequences with several writers: 101 commits, a reader moves its
    /// cursor past it, then 100 commits and is never read) must assign the
    /// number under a lock held until commit, e.g. an `UPDATE feed_head SET
    /// seq = seq + 1 RETURNING seq` on a one-row table inside the same
    /// transaction, which serialises feed appends (not whole pushes: the
    /// merge happens before). SQLite has one writer at a time, so
    /// `AUTOINCREMENT` in the same IMMEDIATE transaction already does this.
    ///
    /// Returns the feed sequence number given to the new entry.
    fn commit_record(&self, commit: &RecordCommit) -> Result<u64, StorageError>;
    fn records(&self) -> Result<Vec<RecordIndex>, StorageError>;

    /// Feed entries after `cursor`, oldest first: at most `limit` rows, and
    /// no further row once the rows' change bytes reach `max_bytes` (the
    /// first row always comes, so one large entry never stalls the feed).
    /// Reading stops at the bound, so memory stays bounded too.
    ///
    /// Sequence numbers are visible only in order: a reader never sees
    /// entry n+1 while entry n can still commit (see [`Storage::commit_record`]).
    fn feed_window(
        &self,
        cursor: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<FeedRow>, StorageError>;

    /// Feed entries after `cursor`, oldest first, at most `limit` of them.
    fn feed_after(&self, cursor: u64, limit: u32) -> Result<Vec<FeedRow>, StorageError> {
        self.feed_window(cursor, limit, usize::MAX)
    }
}
