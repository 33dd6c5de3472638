//! The durable on-device store: every record's Automerge document kept in
//! SQLite as a compacted snapshot plus the incremental changes appended
//! since, with index columns for listing.
//!
//! An edit appends only its own change and updates one index row in one
//! transaction, committed with `synchronous = FULL` before the call returns:
//! its cost is the size of the change, not of the record's history. Every
//! [`COMPACT_AFTER`] changes the record is folded into a new snapshot in the
//! same transaction that removes the changes it covers, so a crash leaves
//! either the old rows or the new snapshot, never neither.
//!
//! Documents recently used stay in memory, so an officer adding action after
//! action to one scene never reloads its history.

mod cache;
mod checked;
mod encryption;
mod expiry;
mod feed;
mod held;
mod listing;
mod opening;
mod promise_terms;
mod retention;
mod rollback;
mod schema;
mod server_erasure;
mod sync_state;
mod writes;

use std::path::{Path, PathBuf};

use automerge::ActorId;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::document::{DocumentError, IndexColumns, RecordDoc};
use crate::model::{Record, RecordBody, RecordHeader, RecordKind, RecordStatus, Timestamp};

use cache::{DocCache, Memo};
use encryption::{FileState, file_state, read_key_check, write_key_check};
pub use encryption::{KEY_CHECK_FILE, KeyProblem, StoreKey};
pub use expiry::{Expiry, OverdueRecord};
pub use held::{HeldReason, HeldRecord};
use opening::{OpenFailure, load_or_create_actor, move_aside};
pub use promise_terms::RecordTerms;
pub use rollback::{RolledBack, SetAside};
pub use schema::{APPLICATION_ID, CURRENT_VERSION};
pub use server_erasure::KEPT_FROM_ERASURE;
pub use sync_state::{
    AppliedPage, Credentials, PROGRESS_EVERY, PROGRESS_EVERY_RECORDS, PendingPush,
};
use writes::{compaction_threshold, insert_record, write_changes, write_changes_with};

/// File name of the store inside the notebook directory.
pub const STORE_FILE: &str = "pocketbook.db";
/// Changes appended before a record is compacted into a new snapshot.
pub const COMPACT_AFTER: i64 = 256;

/// Errors of the device store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage failure: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("file system failure: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "this store was written by a newer app (schema {found}, this app reads up to {supported}); update the app"
    )]
    TooNew { found: u32, supported: u32 },
    #[error("no record with this id")]
    NotFound,
    #[error("a record with this id or reference already exists")]
    Duplicate,
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// The edit breaks the rules the server enforces (scope, authorship,
    /// frozen fields): it was not stored.
    #[error("{0}")]
    Forbidden(String),
    /// The store's key was refused; nothing was changed.
    #[error("{}", .0.message())]
    Key(KeyProblem),
}

/// A filter for [`Store::list`]; every field narrows the result.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct ListFilter {
    #[uniffi(default = None)]
    pub kind: Option<RecordKind>,
    #[uniffi(default = None)]
    pub status: Option<RecordStatus>,
    /// Exact reference, as typed (normalised before the lookup).
    #[uniffi(default = None)]
    pub reference: Option<String>,
    /// Only records created at or after this RFC 3339 time.
    #[uniffi(default = None)]
    pub created_since: Option<Timestamp>,
    #[uniffi(default = None)]
    pub limit: Option<i32>,
}

/// The device store. One instance owns the only writer connection.
pub struct Store {
    conn: Connection,
    actor: ActorId,
    cache: DocCache,
    moved_aside: Option<PathBuf>,
    /// The notebook directory.
    dir: PathBuf,
    /// The key of an encrypted store; `None` for a plaintext one.
    key: Option<StoreKey>,
    /// Changes appended before a record is compacted: [`COMPACT_AFTER`],
    /// or lower in the core's own tests.
    compact_after: i64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) an unencrypted store in `dir`: for tests and the
    /// device CLI's local use (apps always pass a key, [`Store::open_encrypted`]).
    /// An encrypted store (one with a key check beside it) is refused with
    /// [`KeyProblem::Missing`], untouched.
    ///
    /// A file that is not a Pocketbook store (corrupt, or some other SQLite
    /// database) is moved aside, never deleted, and a fresh store is opened;
    /// [`Store::moved_aside`] reports where it went so the app can tell the
    /// officer and support can recover unsynced records from it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        if read_key_check(dir)?.is_some() {
            return Err(StoreError::Key(KeyProblem::Missing));
        }
        encryption::recover(dir)?;
        let path = dir.join(STORE_FILE);
        let (conn, moved_aside) = match opening::open_checked(&path, None) {
            Ok(conn) => (conn, None),
            Err(OpenFailure::Unreadable) => reopen_fresh(&path, None)?,
            Err(other) => return Err(other.into_error()),
        };
        Self::with_connection(conn, moved_aside, dir, None)
    }

    /// Opens (or creates) the store in `dir` encrypted with `key`
    /// (SQLCipher: every page of the database and its WAL).
    ///
    /// - A key other than the store's is refused ([`KeyProblem::Wrong`])
    ///   before the file is read; nothing is changed.
    /// - A plaintext store is encrypted first, every record kept; a crash
    ///   at any point leaves the plaintext store or the encrypted one.
    /// - A file the right key cannot open is damaged: it is moved aside as
    ///   in [`Store::open`], and a fresh store is opened.
    pub fn open_encrypted(dir: &Path, key: &StoreKey) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        encryption::recover(dir)?;
        let path = dir.join(STORE_FILE);
        let check = read_key_check(dir)?;
        if check.as_ref().is_some_and(|c| !c.accepts(key)) {
            return Err(StoreError::Key(KeyProblem::Wrong));
        }
        let state = file_state(&path)?;
        let mut moved_aside = None;
        if state == FileState::Plaintext {
            match opening::open_checked(&path, None) {
                Ok(plain) => {
                    write_key_check(dir, &[key])?;
                    encryption::encrypt_plaintext(plain, dir, key)?;
                    tracing::info!("device store encrypted");
                }
                // A damaged plaintext file: not a matter of keys.
                Err(OpenFailure::Unreadable) => {
                    moved_aside = Some(move_aside(&path)?);
                    tracing::warn!("device store unreadable; moved aside and started a fresh one");
                }
                Err(other) => return Err(other.into_error()),
            }
        }
        if check.is_none() && state != FileState::Opaque {
            write_key_check(dir, &[key])?;
        }
        let conn = match opening::open_checked(&path, Some(key)) {
            Ok(conn) => conn,
            Err(OpenFailure::Unreadable) => match &check {
                None if state == FileState::Opaque => {
                    return Err(StoreError::Key(KeyProblem::Unverifiable));
                }
                Some(c) if c.rekey_pending() => {
                    return Err(StoreError::Key(KeyProblem::RekeyInterrupted));
                }
                // The key is the store's: the file is damaged.
                _ => {
                    let (conn, aside) = reopen_fresh(&path, Some(key))?;
                    moved_aside = aside;
                    conn
                }
            },
            Err(other) => return Err(other.into_error()),
        };
        if check.as_ref().is_none_or(|c| c.rekey_pending()) {
            // A key check lost, or a key change finished by this open.
            write_key_check(dir, &[key])?;
        }
        Self::with_connection(conn, moved_aside, dir, Some(key.clone()))
    }

    fn with_connection(
        conn: Connection,
        moved_aside: Option<PathBuf>,
        dir: &Path,
        key: Option<StoreKey>,
    ) -> Result<Self, StoreError> {
        let actor = load_or_create_actor(&conn)?;
        let compact_after = compaction_threshold(&conn)?;
        Ok(Store {
            conn,
            actor,
            compact_after,
            cache: DocCache::default(),
            moved_aside,
            dir: dir.to_path_buf(),
            key,
        })
    }

    /// Whether the store is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.key.is_some()
    }

    /// Re-encrypts the store under `new`, atomically: a crash leaves it
    /// whole under the old key or the new one (the key check names both
    /// until the change is done, and an open with the other key is told
    /// [`KeyProblem::RekeyInterrupted`]). Keep both keys until this returns.
    pub fn rekey(&mut self, new: &StoreKey) -> Result<(), StoreError> {
        let old = self
            .key
            .clone()
            .ok_or(StoreError::Key(KeyProblem::Missing))?;
        let conn = std::mem::replace(&mut self.conn, Connection::open_in_memory()?);
        let result = encryption::rekey(conn, &self.dir, &old, new);
        // Whatever happened, the file opens with exactly one of the keys.
        let path = self.dir.join(STORE_FILE);
        for key in [new, &old] {
            if let Ok(conn) = opening::open_checked(&path, Some(key)) {
                self.conn = conn;
                self.key = Some(key.clone());
                break;
            }
        }
        result
    }

    /// Where an unreadable store file was moved when this store was opened.
    pub fn moved_aside(&self) -> Option<&Path> {
        self.moved_aside.as_deref()
    }

    /// This device's Automerge actor id (one per store, never shared).
    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    /// Reads a value of the store's key-value metadata.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Writes a metadata value durably.
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Removes a metadata value.
    pub fn delete_meta(&self, key: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM meta WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Stores a new record built by this device.
    pub fn create(
        &mut self,
        header: RecordHeader,
        body: &RecordBody,
    ) -> Result<Record, StoreError> {
        let mut doc = RecordDoc::create(header, body, self.actor.clone())?;
        let record = doc.record_in_one_walk()?;
        // The row and its promise terms, or neither.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        insert_record(&tx, &mut doc, true, Some(&record.body))?;
        tx.commit()?;
        let memo = Memo::of(&mut doc, record.clone());
        self.cache.put_with_memo(doc, Some(memo));
        Ok(record)
    }

    /// Applies one typed edit to a record and makes it durable before returning.
    ///
    /// If the edit or the write fails, nothing is stored and the in-memory
    /// copy is dropped, so memory never holds what the disk does not.
    pub fn edit<T>(
        &mut self,
        id: &str,
        edit: impl FnOnce(&mut RecordDoc) -> Result<T, DocumentError>,
    ) -> Result<T, StoreError> {
        let mut doc = self.take_doc(id)?;
        let before = doc.heads();
        let result = edit(&mut doc).map_err(StoreError::from).and_then(|value| {
            if doc.heads() != before {
                self.append_local_change(&mut doc)?;
            }
            Ok(value)
        });
        if result.is_ok() {
            self.cache.put(doc);
        }
        result
    }

    /// Appends the change the last local edit made.
    fn append_local_change(&mut self, doc: &mut RecordDoc) -> Result<(), StoreError> {
        let change = doc
            .last_local_change()
            .ok_or_else(|| DocumentError::Shape("edit produced no change".into()))?;
        let columns = doc.index_columns()?;
        let terms = crate::pledge::terms(&doc.body()?);
        self.append_changes(doc, &change, true, columns, Some(&terms))
    }

    /// Appends change bytes for a record and refreshes its index row, in
    /// one transaction, with its promise `terms` when they may have changed
    /// (`None`: the caller knows they did not).
    fn append_changes(
        &mut self,
        doc: &mut RecordDoc,
        bytes: &[u8],
        local: bool,
        columns: IndexColumns,
        terms: Option<&[crate::pledge::PromiseTerms]>,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        write_changes_with(&tx, doc, bytes, local, self.compact_after, columns)?;
        if let Some(terms) = terms {
            promise_terms::write_terms(&tx, doc, terms)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Reads a typed record (from memory when the record was read or
    /// edited lately and has not changed since).
    pub fn get(&mut self, id: &str) -> Result<Record, StoreError> {
        let (mut doc, memo) = self.take_loaded(id)?;
        match Memo::into_parts(memo, &mut doc) {
            Ok((record, index)) => {
                let memo = Memo::of(&mut doc, record.clone()).with_index(index);
                self.cache.put_with_memo(doc, Some(memo));
                Ok(record)
            }
            Err(e) => {
                self.cache.put(doc);
                Err(e.into())
            }
        }
    }

    /// The record's whole Automerge document (for repair and interop).
    pub fn export(&mut self, id: &str) -> Result<Vec<u8>, StoreError> {
        self.with_doc(id, RecordDoc::save)
    }

    /// Imports a record's Automerge bytes: a new record is stored, a known
    /// one is merged. The merged result must still be a valid record, or
    /// nothing is stored.
    pub fn import(&mut self, bytes: &[u8]) -> Result<Record, StoreError> {
        let mut incoming = RecordDoc::load(bytes, self.actor.clone())?;
        incoming.validate()?;
        let id = incoming.header().id.clone();
        match self.take_doc(&id) {
            Err(StoreError::NotFound) => {
                let record = incoming.record()?;
                let tx = self
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                insert_record(&tx, &mut incoming, true, Some(&record.body))?;
                tx.commit()?;
                let memo = Memo::of(&mut incoming, record.clone());
                self.cache.put_with_memo(incoming, Some(memo));
                Ok(record)
            }
            Err(e) => Err(e),
            Ok(mut existing) => {
                if existing.header() != incoming.header() {
                    return Err(DocumentError::Shape(
                        "header differs from the stored record".into(),
                    )
                    .into());
                }
                let before = existing.heads();
                let mut merged = existing.fork(self.actor.clone());
                merged.merge(&mut incoming)?;
                merged.validate()?;
                let record = merged.record()?;
                let new_changes = merged.changes_since(&before);
                if !new_changes.is_empty() {
                    let columns = merged.index_columns()?;
                    self.append_changes(
                        &mut merged,
                        &new_changes,
                        true,
                        columns,
                        Some(&crate::pledge::terms(&record.body)),
                    )?;
                }
                let memo = Memo::of(&mut merged, record.clone());
                self.cache.put_with_memo(merged, Some(memo));
                Ok(record)
            }
        }
    }

    /// Change rows stored for a record (tests: nothing is stored twice).
    #[cfg(test)]
    pub(crate) fn changes_stored(&self, id: &str) -> i64 {
        self.conn
            .query_row(
                "SELECT count(*) FROM changes
                 WHERE key > (SELECT log FROM records WHERE id = ?1) * ?2
                   AND key < ((SELECT log FROM records WHERE id = ?1) + 1) * ?2",
                rusqlite::params![id, writes::LOG_SPAN],
                |r| r.get(0),
            )
            .unwrap_or(-1)
    }

    /// Takes a record's document out of the cache or loads it from disk.
    pub(crate) fn take_doc(&mut self, id: &str) -> Result<RecordDoc, StoreError> {
        Ok(self.take_loaded(id)?.0)
    }

    /// Reads a record's document without changing it (its heads, its
    /// changes, a copy of it), and keeps it in the cache with its memo.
    pub(crate) fn with_doc<T>(
        &mut self,
        id: &str,
        read: impl FnOnce(&mut RecordDoc) -> T,
    ) -> Result<T, StoreError> {
        let (mut doc, memo) = self.take_loaded(id)?;
        let value = read(&mut doc);
        self.cache.put_with_memo(doc, memo);
        Ok(value)
    }

    /// [`Store::take_doc`], with the record last read from the document
    /// when the cache kept it (see [`Memo`]).
    fn take_loaded(&mut self, id: &str) -> Result<(RecordDoc, Option<Memo>), StoreError> {
        if let Some(entry) = self.cache.take_with_memo(id) {
            return Ok(entry);
        }
        let doc = load_doc(&self.conn, id, &self.actor)?.ok_or(StoreError::NotFound)?;
        Ok((doc, None))
    }
}

/// A record's document from its snapshot and the changes since, in their
/// order; `None` when the store has no such record.
fn load_doc(conn: &Connection, id: &str, actor: &ActorId) -> Result<Option<RecordDoc>, StoreError> {
    let Some((snapshot, log)): Option<(Vec<u8>, i64)> = conn
        .prepare_cached("SELECT snapshot, log FROM records WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
    else {
        return Ok(None);
    };
    let mut doc = RecordDoc::load(&snapshot, actor.clone())?;
    // The record's log: its rows in their order (`store/writes.rs`).
    let mut stmt =
        conn.prepare_cached("SELECT bytes FROM changes WHERE key > ?1 AND key < ?2 ORDER BY key")?;
    let from = log * writes::LOG_SPAN;
    let mut rows = stmt.query([from, from + writes::LOG_SPAN])?;
    while let Some(row) = rows.next()? {
        let bytes: Vec<u8> = row.get(0)?;
        doc.apply_changes(&bytes)?;
    }
    Ok(Some(doc))
}

/// Moves an unreadable store aside and opens a fresh one in its place.
fn reopen_fresh(
    path: &Path,
    key: Option<&StoreKey>,
) -> Result<(Connection, Option<PathBuf>), StoreError> {
    let aside = move_aside(path)?;
    tracing::warn!("device store unreadable; moved aside and started a fresh one");
    let conn = opening::open_checked(path, key).map_err(OpenFailure::into_error)?;
    Ok((conn, Some(aside)))
}

/// Test-only: ends the process at a named point of a file swap or an
/// erasure when `POCKETBOOK_CRASH_AT` names it, as a power cut would.
#[cfg(feature = "crash-seams")]
fn crash_seam(name: &str) {
    if std::env::var("POCKETBOOK_CRASH_AT").is_ok_and(|at| at == name) {
        std::process::abort();
    }
}

#[cfg(not(feature = "crash-seams"))]
fn crash_seam(_name: &str) {}

/// Now, as stored in index columns (RFC 3339, UTC, milliseconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
