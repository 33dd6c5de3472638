//! The server's storage: the traits every backend implements, the rows they
//! exchange, their errors, and the audit hash chain ([`chain`]) they all
//! write. SQLite, embedded, is the default backend ([`sqlite`]); PostgreSQL
//! ([`postgres`]) serves several server instances on one database. One
//! behaviour suite (`storage/suite.rs`) is written against the traits and
//! runs on both, so they are held to the same behaviour; [`open`] picks
//! one at start.
//!
//! Methods are synchronous; the HTTP layer calls them on blocking threads
//! (`spawn_blocking`), never on the async runtime (so the PostgreSQL
//! backend uses the synchronous `postgres` client).
//! Writes that must not interleave (a record's snapshot and its feed entry)
//! happen inside one method, so each backend makes them one transaction.

pub mod chain;
mod error;
pub mod postgres;
mod rows;
pub mod sqlite;
#[cfg(test)]
mod suite;

use std::path::Path;
use std::sync::Arc;

use pocketbook_core::model::RecordKind;

pub use crate::identity::{DeviceRow, OfficerRow, Principal, RevokeReason};
pub use error::{BackendError, StorageError};
pub use rows::*;

/// Opens the backend a server or admin command was configured with, once,
/// at start: the PostgreSQL database at `database_url` when one is given
/// (several server instances may share it), else the SQLite store in
/// `data_dir`. Either is created or migrated as it opens.
pub fn open(data_dir: &Path, database_url: Option<&str>) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(match database_url {
        Some(url) => Arc::new(postgres::PostgresStorage::open(url)?),
        None => Arc::new(sqlite::SqliteStorage::open(data_dir)?),
    })
}

/// Where the store is, for a log line: the data directory, or that it is
/// PostgreSQL (never the URL, which may hold a password).
pub fn describe(data_dir: &Path, database_url: Option<&str>) -> String {
    match database_url {
        Some(_) => "PostgreSQL".to_string(),
        None => data_dir.display().to_string(),
    }
}

/// The most ids one [`Storage::records_by_id`] reads.
pub const RECORDS_PER_READ: usize = 256;

/// Refuses a batch of more than [`RECORDS_PER_READ`] ids.
pub(crate) fn check_batch(ids: &[String]) -> Result<(), StorageError> {
    if ids.len() > RECORDS_PER_READ {
        return Err(StorageError::backend(format!(
            "{} records asked in one read, at most {RECORDS_PER_READ}",
            ids.len()
        )));
    }
    Ok(())
}

/// The append-only, hash-chained audit trail ([`chain`] has the chain
/// rule; `crate::audit` verifies it).
pub trait AuditLog {
    /// Appends the events in one transaction, each chained to the one
    /// before, at time `at` (RFC 3339).
    fn append_audit(&self, at: &str, events: &[NewAuditEvent]) -> Result<(), StorageError>;
    /// Events matching the query, oldest first.
    fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StorageError>;
    /// The sequence number and hash of the newest event as recorded at
    /// append time (`None` for an empty trail), so truncating the trail is
    /// detected too.
    fn audit_head(&self) -> Result<Option<(u64, String)>, StorageError>;
}

/// Builds the audit events of a state change from what the change did,
/// inside the change's own transaction.
pub type AuditOf<'a, T> = &'a dyn Fn(&T) -> Vec<NewAuditEvent>;

/// Retention, erasure and legal holds.
pub trait RetentionStore {
    /// Records of these kinds that occurred before `occurred_before`
    /// (RFC 3339 UTC) and are not on legal hold, oldest first.
    fn retention_due(
        &self,
        kinds: &[RecordKind],
        occurred_before: &str,
        limit: u32,
    ) -> Result<Vec<RecordIndex>, StorageError>;
    /// Erases a record whole, in one transaction: its document and its
    /// feed entries go; a content-free tombstone and one `erased` feed
    /// entry (so devices erase their copies) are written, with the audit
    /// events. Who could read it (author, co-attending officers) is kept,
    /// content-free, so the erasure reaches every device that held a copy
    /// and the scope check still answers for the erased id. `NotFound` if there is no such record, `Conflict`
    /// if it is on legal hold.
    fn erase_record(
        &self,
        id: &str,
        at: &str,
        reason: &str,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError>;
    fn tombstone(&self, id: &str) -> Result<Option<Tombstone>, StorageError>;
    /// After an erasure run: makes what was erased unrecoverable from the
    /// store's files (SQLite: deleted content is zeroed as it is deleted,
    /// and the write-ahead log, which still holds the old pages, is
    /// checkpointed and truncated).
    fn scrub(&self) -> Result<(), StorageError>;
    /// Places a hold (replacing the reason of an existing one).
    fn set_legal_hold(&self, hold: &LegalHold, audit: &[NewAuditEvent])
    -> Result<(), StorageError>;
    /// `NotFound` if the record has no hold.
    fn release_legal_hold(
        &self,
        id: &str,
        at: &str,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError>;
    fn legal_holds(&self) -> Result<Vec<LegalHold>, StorageError>;
    /// The held records indexed under any of `audience` (their author, a
    /// reader, or their station: [`Audience::holds`]'s rule), by record
    /// id, at most `limit`, in one read with who may see each (no
    /// snapshot): a sync's last page lists them, the scope rule deciding.
    fn legal_holds_in(
        &self,
        audience: &[Audience],
        limit: u32,
    ) -> Result<Vec<HeldInScope>, StorageError>;
    /// Claims the run of a scheduled `job` (e.g. `retention`) for `period`
    /// (the schedule's interval number since the epoch), at `at`: `true`
    /// for the first claimant only, whichever instance or handle it is,
    /// so a job runs once per period however many instances run it.
    fn claim_run(&self, job: &str, period: i64, at: &str) -> Result<bool, StorageError>;
    /// The retention job's trusted reference of time, shared by every
    /// instance on the store (`None` before the first run).
    fn retention_clock(&self) -> Result<Option<RetentionClock>, StorageError>;
    /// A run trusted the clock at `at`: the reference becomes `at` if it is
    /// later (`exact`: becomes `at` whatever it was, an admin's
    /// confirmation), and a held clock is cleared, with the audit events,
    /// in one transaction.
    fn trust_clock(
        &self,
        at: &str,
        exact: bool,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError>;
    /// A run at `at` found the clock too far ahead: marks it held (if it
    /// was not already) with the audit events, in one transaction; `true`
    /// only for the call that marked it, so a clock held for days is
    /// audited once, not at every run. A store with no reference yet has
    /// nothing to hold against: `false`, nothing written.
    fn hold_clock(&self, at: &str, audit: &[NewAuditEvent]) -> Result<bool, StorageError>;
}

/// Lookups for copies of a record, and the attempts that rate-limit them.
pub trait CopyStore {
    /// Records whose reference is exactly this (canonical form).
    fn records_by_reference(&self, reference: &str) -> Result<Vec<StoredRecord>, StorageError>;
    /// Records of these kinds at `station` that occurred in `[from, to)`
    /// (RFC 3339 instants), oldest first: the desk's search by day.
    fn records_at_station(
        &self,
        station: &str,
        kinds: &[RecordKind],
        from: &str,
        to: &str,
    ) -> Result<Vec<StoredRecord>, StorageError>;
    /// Counts one attempt under `key` (a client, a reference) at `at`
    /// (unix seconds).
    fn add_attempt(&self, key: &str, at: i64, failed: bool) -> Result<(), StorageError>;
    /// Counts attempts (`(key, failed)`) at `at` and appends the events
    /// that audit them, at `stamp`, in one transaction: an attempt is never
    /// counted without its event, nor audited without being counted.
    fn add_attempts_audited(
        &self,
        attempts: &[(&str, bool)],
        at: i64,
        stamp: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError>;
    /// Attempts under `key` since `since`: (all, failed).
    fn attempts_since(&self, key: &str, since: i64) -> Result<(u32, u32), StorageError>;
    /// When the `n`-th newest attempt under `key` since `since` was made (1
    /// is the newest), counting failed attempts only if `failed_only`:
    /// when it leaves the window, fewer than `n` remain.
    fn nth_newest_attempt(
        &self,
        key: &str,
        since: i64,
        n: u32,
        failed_only: bool,
    ) -> Result<Option<i64>, StorageError>;
    /// Forgets attempts older than `before` (unix seconds).
    fn prune_attempts(&self, before: i64) -> Result<u64, StorageError>;
    /// The salt client addresses are hashed with during `period` (a day
    /// number), one for every instance: `fresh` (random) is stored if the
    /// period has none yet. Salts of earlier periods are forgotten, so
    /// keys of different days cannot be linked, nor turned back into
    /// addresses by trying every one.
    fn limit_salt(&self, period: i64, fresh: &[u8]) -> Result<Vec<u8>, StorageError>;
}

/// Published figures, frozen once per month (`crate::figures`): the body
/// is the month's JSON, opaque here.
pub trait FiguresStore {
    /// The frozen month `YYYY-MM`, as stored.
    fn frozen_figures(&self, month: &str) -> Result<Option<String>, StorageError>;
    /// Stores `body` for `month` at `at` unless the month is frozen
    /// already, with the audit events in the same transaction (appended
    /// only when this call stored it); returns the body now stored: this
    /// one, or the one that was there (the first freeze wins, whichever
    /// instance or handle made it).
    fn freeze_figures(
        &self,
        month: &str,
        at: &str,
        body: &str,
        audit: &[NewAuditEvent],
    ) -> Result<String, StorageError>;
}

/// Every behaviour the server needs from a backend.
pub trait Storage:
    AuditLog + RetentionStore + CopyStore + FiguresStore + Send + Sync + 'static
{
    /// Answers when the backend is usable (readiness).
    fn ping(&self) -> Result<(), StorageError>;

    // Every state change below takes its audit events and appends them at
    // `at` in the change's own transaction: both happen, or neither.

    fn add_officer(
        &self,
        officer: &OfficerRow,
        at: &str,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError>;
    fn officer(&self, shoulder_number: &str) -> Result<Option<OfficerRow>, StorageError>;
    fn officers(&self) -> Result<Vec<OfficerRow>, StorageError>;
    /// Marks an officer inactive and revokes (reason `officer-deactivated`)
    /// every device of theirs still active, in one transaction. Returns
    /// the ids of the devices revoked.
    fn deactivate_officer(
        &self,
        shoulder_number: &str,
        at: &str,
        audit: AuditOf<'_, [String]>,
    ) -> Result<Vec<String>, StorageError>;

    /// Stores the hash of a one-time code for an officer, valid until `expires_at` (unix seconds).
    fn add_enrolment_code(
        &self,
        code_hash: &[u8],
        officer: &str,
        expires_at: i64,
        at: &str,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError>;
    /// Uses a code once and registers the device with its token hash, in
    /// one transaction with the audit events made from the officer. A
    /// non-empty `device.officer` (the notebook already belongs to that
    /// officer) requires the code to have been issued for them, else
    /// [`StorageError::CodeForAnotherOfficer`] and nothing is written: the
    /// code stays unspent.
    fn redeem_enrolment_code(
        &self,
        code_hash: &[u8],
        now: i64,
        device: &DeviceRow,
        token_hash: &[u8],
        at: &str,
        audit: AuditOf<'_, OfficerRow>,
    ) -> Result<OfficerRow, StorageError>;
    /// The device holding this token, with its officer, revoked or not.
    fn principal(&self, token_hash: &[u8]) -> Result<Option<Principal>, StorageError>;
    fn device(&self, id: &str) -> Result<Option<DeviceRow>, StorageError>;
    fn devices(&self) -> Result<Vec<DeviceRow>, StorageError>;
    /// Closes an active device's credential. `NotFound` for an unknown or
    /// already closed device.
    fn revoke_device(
        &self,
        id: &str,
        reason: RevokeReason,
        at: &str,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError>;
    /// Marks an active device to be handed back: it uploads, then retires.
    fn request_retire(
        &self,
        id: &str,
        at: &str,
        audit: &[NewAuditEvent],
    ) -> Result<(), StorageError>;
    fn touch_device(&self, device_id: &str, at: &str) -> Result<(), StorageError>;

    fn record(&self, id: &str) -> Result<Option<StoredRecord>, StorageError>;
    /// The record with this id, else the tombstone of its erasure, else
    /// `None`: what [`Storage::record`] and then
    /// [`RetentionStore::tombstone`] answer, in one query (every push asks
    /// it before merging, and a new record is in neither). Both backends
    /// answer it in one query; this default, the two reads, serves a
    /// wrapper that delegates only the two.
    fn record_or_tombstone(&self, id: &str) -> Result<Option<Held>, StorageError> {
        if let Some(record) = self.record(id)? {
            return Ok(Some(Held::Record(record)));
        }
        Ok(self.tombstone(id)?.map(Held::Tombstone))
    }
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
    /// merge happens before). PostgreSQL takes it in a short sequencing
    /// transaction after the write's own commit, numbering every entry
    /// committed unnumbered by then (`storage/postgres/sequencer.rs`), so
    /// no write holds it through its own flush. SQLite has one writer at a
    /// time, so `AUTOINCREMENT` in the same IMMEDIATE transaction already
    /// does this.
    ///
    /// A new record whose reference another record already has is refused
    /// with `Duplicate` (references are unique).
    ///
    /// Returns the feed sequence number given to the new entry.
    fn commit_record(&self, commit: &RecordCommit) -> Result<u64, StorageError>;

    /// Commits the accepted records of one push together, each as
    /// [`Storage::commit_record`] would, with one result per commit in
    /// order. A commit refused on its own (`Conflict`, `Duplicate`) leaves
    /// nothing of itself and none of the others undone. A backend that can
    /// should make this one durable transaction with a savepoint per
    /// record (SQLite does). The outer `Err` means nothing was committed.
    ///
    /// This default commits one record at a time, so a backend without
    /// its own version is correct, only slower.
    fn commit_records(
        &self,
        commits: &[RecordCommit],
    ) -> Result<Vec<Result<u64, StorageError>>, StorageError> {
        Ok(commits.iter().map(|c| self.commit_record(c)).collect())
    }
    fn records(&self) -> Result<Vec<RecordIndex>, StorageError>;

    /// The stations holding at least one record of one of `kinds`, in
    /// order, without reading every record: the promise gauges list them
    /// every minute. Both backends walk `records_by_station_kind` one
    /// station at a time (a loose index scan).
    fn stations_holding(&self, kinds: &[RecordKind]) -> Result<Vec<String>, StorageError>;

    /// The id and version of every record of these kinds at `station`, in
    /// no particular order, and nothing else (no snapshot): what a reader
    /// that keeps what it decoded by version needs to tell which records
    /// changed. Both backends answer from `records_by_station_kind` alone.
    fn record_versions(
        &self,
        station: &str,
        kinds: &[RecordKind],
    ) -> Result<Vec<RecordVersion>, StorageError>;

    /// The records with these ids that exist (an unknown or erased id is
    /// left out), in no particular order, in one read. At most
    /// [`RECORDS_PER_READ`] ids: more are refused, so one read stays
    /// bounded; a caller reads a longer list in chunks of that size.
    fn records_by_id(&self, ids: &[String]) -> Result<Vec<StoredRecord>, StorageError>;

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

    /// Feed entries after `cursor` indexed under any of `audience`, oldest
    /// first, read through the audience index: at most `limit` entries,
    /// and no further one once their change bytes reach `max_bytes` (the
    /// first always comes). Only positions up to the feed's head as read
    /// at the start are returned, and positions are visible only in order
    /// (see [`Storage::commit_record`]), so `end` never passes an entry
    /// that could still commit.
    ///
    /// The index is kept in the transaction that writes each entry, and
    /// when a record is shared every earlier entry of it is indexed under
    /// the new reader, as the feed's scope uses a record's readers now.
    ///
    /// Beside the entries comes each one's record as it is now
    /// ([`FeedSlice::records`]: its encounter time and legal hold, read
    /// with the entries), so the feed can hold back a record past its
    /// retention period that the job has not erased yet.
    ///
    /// No default: a backend without the index would read past everyone's
    /// entries on every sync, the cost this method exists to avoid.
    fn feed_for(
        &self,
        audience: &[Audience],
        cursor: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<FeedSlice, StorageError>;

    /// Feed entries after `cursor`, oldest first, at most `limit` of them.
    fn feed_after(&self, cursor: u64, limit: u32) -> Result<Vec<FeedRow>, StorageError> {
        self.feed_window(cursor, limit, usize::MAX)
    }

    /// Every feed entry of one record, oldest first: its history as the
    /// server received it (`admin records history`). This default reads
    /// the whole feed page by page; a backend may answer from an index.
    fn record_feed(&self, record_id: &str) -> Result<Vec<FeedRow>, StorageError> {
        const PAGE: u32 = 500;
        let (mut cursor, mut out) = (0, Vec::new());
        loop {
            let page = self.feed_after(cursor, PAGE)?;
            let Some(last) = page.last() else {
                return Ok(out);
            };
            cursor = last.seq;
            out.extend(page.into_iter().filter(|row| row.record_id == record_id));
        }
    }
}

#[cfg(test)]
mod error_tests {
    use std::error::Error;

    #[test]
    fn a_backend_failure_keeps_the_drivers_error_as_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_directory = dir.path().join("file");
        std::fs::write(&not_a_directory, b"").unwrap();
        let Err(e) = super::sqlite::SqliteStorage::open(&not_a_directory) else {
            panic!("a file opened as a data directory");
        };
        let cause = e.source().and_then(|backend| backend.source());
        assert!(
            cause.is_some_and(|c| c.downcast_ref::<std::io::Error>().is_some()),
            "{e:?}"
        );
    }
}
