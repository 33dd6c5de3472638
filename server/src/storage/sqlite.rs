//! The embedded default backend: one SQLite file in the data directory.
//!
//! One connection behind a mutex is the single writer; WAL lets the admin
//! command line read and write the same file while the server runs. Feed
//! sequence numbers come from `AUTOINCREMENT` inside the same IMMEDIATE
//! transaction as the record's snapshot, and SQLite commits one writer at a
//! time, so entries become visible strictly in sequence order (the pitfall
//! of a database sequence committing 101 before 100 cannot happen here; the
//! PostgreSQL backend gets the same guarantee from a row lock on its feed
//! counter, `storage/postgres.rs`).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{
    Audience, AuditOf, DeviceRow, FeedRow, FeedSlice, Held, NewAuditEvent, OfficerRow, Principal,
    RecordCommit, RecordIndex, RecordVersion, RevokeReason, Storage, StorageError, StoredRecord,
};

mod audit;
mod copy;
mod figures;
mod identity;
mod records;
mod retention;
mod schema;
#[cfg(test)]
mod tests;

use records::{
    INDEX_COLUMNS, bound, index_row, kind_of, kinds_json, readers, readers_of, stored_columns,
    stored_row,
};
pub use schema::STORE_FILE;
use schema::{migrate, private_files};

/// The SQLite backend.
pub struct SqliteStorage {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage").finish_non_exhaustive()
    }
}

/// A driver error as a storage error: no room left (`SQLITE_FULL`: the
/// disk, or the page cap) is [`StorageError::Full`], everything else a
/// backend failure.
fn backend(e: rusqlite::Error) -> StorageError {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        StorageError::Full
    } else {
        StorageError::backend_from(None, e)
    }
}

/// The environment variable that caps the store's size in pages
/// (`PRAGMA max_page_count`; a page is 4 KiB): an operator's guard that
/// keeps the store from filling the disk it shares with the logs, and the
/// fault tests' way to make the store run out of room without privileges.
/// Past the cap, writes fail as [`StorageError::Full`] (503); unset, the
/// store may grow until the disk is full.
pub const MAX_PAGES_ENV: &str = "POCKETBOOK_STORE_MAX_PAGES";

/// Every row a query returns, mapped by `row`: the one way the store reads
/// a list.
fn all_rows<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StorageError> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let rows = stmt.query_map(params, row).map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

impl SqliteStorage {
    /// Opens (creating and migrating) the store in `data_dir`. A directory
    /// it creates is private to the server's user (0700), and the store's
    /// files (database, write-ahead log, shared memory) are 0600.
    pub fn open(data_dir: &Path) -> Result<Self, StorageError> {
        private_files(data_dir)?;
        let mut conn = Connection::open(data_dir.join(STORE_FILE)).map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(backend)?;
        // Deleted content is overwritten with zeros, so an erased record
        // cannot be read back from free pages of the file.
        conn.pragma_update(None, "secure_delete", true)
            .map_err(backend)?;
        if let Ok(cap) = std::env::var(MAX_PAGES_ENV) {
            let pages: u32 = cap.trim().parse().map_err(|_| {
                StorageError::backend(format!(
                    "{MAX_PAGES_ENV} must be a number of pages, not {cap:?}"
                ))
            })?;
            conn.pragma_update(None, "max_page_count", pages)
                .map_err(backend)?;
        }
        migrate(&mut conn)?;
        Ok(SqliteStorage {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // SQLite rolls back an unfinished transaction, so a poisoned lock
        // still guards a consistent database.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `work` in one IMMEDIATE transaction (the single writer) and
    /// commits it; an error rolls everything back.
    fn write<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let value = work(&tx)?;
        tx.commit().map_err(backend)?;
        Ok(value)
    }
}

/// A text column read back into one of the server's vocabularies; a
/// spelling this server does not know is a conversion failure, not a guess.
fn vocabulary<T>(
    column: usize,
    what: &str,
    text: String,
    parse: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            format!("unknown {what} {text:?}").into(),
        )
    })
}

impl Storage for SqliteStorage {
    fn ping(&self) -> Result<(), StorageError> {
        self.conn()
            .query_row("SELECT 1", [], |_| Ok(()))
            .map_err(backend)
    }

    fn add_officer(
        &self,
        officer: &OfficerRow,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        identity::add_officer(self, officer, at, events)
    }

    fn officer(&self, shoulder_number: &str) -> Result<Option<OfficerRow>, StorageError> {
        identity::officer(self, shoulder_number)
    }

    fn deactivate_officer(
        &self,
        shoulder_number: &str,
        at: &str,
        events: AuditOf<'_, [String]>,
    ) -> Result<Vec<String>, StorageError> {
        identity::deactivate_officer(self, shoulder_number, at, events)
    }

    fn officers(&self) -> Result<Vec<OfficerRow>, StorageError> {
        identity::officers(self)
    }

    fn add_enrolment_code(
        &self,
        code_hash: &[u8],
        officer: &str,
        expires_at: i64,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        identity::add_enrolment_code(self, code_hash, officer, expires_at, at, events)
    }

    fn redeem_enrolment_code(
        &self,
        code_hash: &[u8],
        now: i64,
        device: &DeviceRow,
        token_hash: &[u8],
        at: &str,
        events: AuditOf<'_, OfficerRow>,
    ) -> Result<OfficerRow, StorageError> {
        identity::redeem_enrolment_code(self, code_hash, now, device, token_hash, at, events)
    }

    fn principal(&self, token_hash: &[u8]) -> Result<Option<Principal>, StorageError> {
        identity::principal(self, token_hash)
    }

    fn device(&self, id: &str) -> Result<Option<DeviceRow>, StorageError> {
        identity::device(self, id)
    }

    fn revoke_device(
        &self,
        id: &str,
        reason: RevokeReason,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        identity::revoke_device(self, id, reason, at, events)
    }

    fn request_retire(
        &self,
        id: &str,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        identity::request_retire(self, id, at, events)
    }

    fn devices(&self) -> Result<Vec<DeviceRow>, StorageError> {
        identity::devices(self)
    }

    fn touch_device(&self, device_id: &str, at: &str) -> Result<(), StorageError> {
        identity::touch_device(self, device_id, at)
    }

    fn record(&self, id: &str) -> Result<Option<StoredRecord>, StorageError> {
        records::record(self, id)
    }

    fn record_or_tombstone(&self, id: &str) -> Result<Option<Held>, StorageError> {
        records::record_or_tombstone(self, id)
    }

    fn commit_record(&self, commit: &RecordCommit) -> Result<u64, StorageError> {
        records::commit_record(self, commit)
    }

    fn commit_records(
        &self,
        commits: &[RecordCommit],
    ) -> Result<Vec<Result<u64, StorageError>>, StorageError> {
        records::commit_records(self, commits)
    }

    fn records(&self) -> Result<Vec<RecordIndex>, StorageError> {
        records::records(self)
    }

    fn stations_holding(
        &self,
        kinds: &[pocketbook_core::model::RecordKind],
    ) -> Result<Vec<String>, StorageError> {
        records::stations_holding(self, kinds)
    }

    fn record_versions(
        &self,
        station: &str,
        kinds: &[pocketbook_core::model::RecordKind],
    ) -> Result<Vec<RecordVersion>, StorageError> {
        records::record_versions(self, station, kinds)
    }

    fn records_by_id(&self, ids: &[String]) -> Result<Vec<StoredRecord>, StorageError> {
        records::records_by_id(self, ids)
    }

    fn feed_window(
        &self,
        cursor: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<FeedRow>, StorageError> {
        records::feed_window(self, cursor, limit, max_bytes)
    }

    fn feed_for(
        &self,
        audience: &[Audience],
        cursor: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<FeedSlice, StorageError> {
        records::feed_for(self, audience, cursor, limit, max_bytes)
    }
}
