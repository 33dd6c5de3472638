//! How a record reaches the device's SQLite file: its row with the first
//! snapshot, each change appended with the row's index columns (status,
//! encounter time) refreshed in the same transaction, and the change log
//! folded into a new snapshot once it is long enough, and its promise
//! terms (`store/promise_terms.rs`) where they may have changed. Every write of the
//! store goes through here, so the index a listing reads never disagrees
//! with the document.

use rusqlite::{Connection, ErrorCode, params};

use super::{COMPACT_AFTER, StoreError, now};
use crate::document::{DocumentError, IndexColumns, RecordDoc};
use crate::model::{Record, RecordBody, normalise_stored_time};

/// Inserts a new record row with its first snapshot and its promise terms
/// (of `body`, or read from the document), inside the caller's transaction.
pub(super) fn insert_record(
    conn: &Connection,
    doc: &mut RecordDoc,
    unsynced: bool,
    body: Option<&RecordBody>,
) -> Result<(), StoreError> {
    let columns = doc.index_columns()?;
    let header = doc.header().clone();
    let snapshot = doc.save();
    let result = conn.execute(
        "INSERT INTO records (id, kind, status, reference, author, created_at, updated_at,
                              occurred_at, snapshot, unsynced, local_edits)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        params![
            header.id,
            header.kind.as_str(),
            columns.status.as_str(),
            header.reference,
            header.author.shoulder_number,
            header.created_at.as_str(),
            now(),
            columns.occurred_at,
            snapshot,
            unsynced,
        ],
    );
    match result {
        Ok(_) => super::promise_terms::write_terms_of(conn, doc, body),
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
            Err(StoreError::Duplicate)
        }
        Err(e) => Err(e.into()),
    }
}

/// Appends change bytes for a record, refreshes its index row, and folds the
/// record into a new snapshot once enough changes have piled up. A local
/// change marks the record for the next sync, counts as one unacknowledged
/// edit, and clears an earlier refusal.
pub(super) fn write_changes(
    conn: &Connection,
    doc: &mut RecordDoc,
    bytes: &[u8],
    local: bool,
    compact_after: i64,
) -> Result<(), StoreError> {
    let columns = doc.index_columns()?;
    write_changes_with(conn, doc, bytes, local, compact_after, columns)?;
    // Changes from elsewhere may change anything the terms stand on.
    super::promise_terms::write_terms_of(conn, doc, None)
}

/// The index columns of a record already read: what
/// [`RecordDoc::index_columns`] reads from its document.
pub(super) fn columns_of(record: &Record) -> Result<IndexColumns, StoreError> {
    let occurred_at = normalise_stored_time(record.body.occurred_at().as_str())
        .map_err(|e| DocumentError::Shape(format!("occurred_at: {e}")))?;
    Ok(IndexColumns {
        status: record.body.status(),
        occurred_at,
    })
}

/// [`write_changes`] with the record's index columns already known.
pub(super) fn write_changes_with(
    conn: &Connection,
    doc: &mut RecordDoc,
    bytes: &[u8],
    local: bool,
    compact_after: i64,
    columns: IndexColumns,
) -> Result<(), StoreError> {
    let id = doc.header().id.clone();
    let id = id.as_str();
    // Only what moves on every edit is written here, so an edit's
    // transaction dirties the record's row and the change's page and no
    // index (schema version 5): the status and the sync flags are written
    // below only when they change, since SQLite rewrites the index entries
    // of every indexed column an UPDATE names, changed or not.
    // The encounter time too (schema 6 indexes it for retention).
    let (pending, status, queued, occurred): (i64, String, bool, String) = conn
        .prepare_cached(
            "UPDATE records SET updated_at = ?2,
                changes_since_snapshot = changes_since_snapshot + 1,
                local_edits = local_edits + ?3
             WHERE id = ?1
             RETURNING changes_since_snapshot, status, unsynced = 1 AND rejection IS NULL,
                       occurred_at",
        )?
        .query_row(params![id, now(), local], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    // A local change marks the record for the next sync and clears an
    // earlier refusal: already so when it is queued with no refusal.
    if status != columns.status.as_str() || occurred != columns.occurred_at || (local && !queued) {
        conn.prepare_cached(
            "UPDATE records SET status = ?2, occurred_at = ?4,
                unsynced = unsynced OR ?3,
                rejection = CASE WHEN ?3 THEN NULL ELSE rejection END
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            columns.status.as_str(),
            local,
            columns.occurred_at
        ])?;
    }
    if pending >= compact_after {
        // The snapshot holds this change too: the log is folded into it
        // rather than appended to and then emptied.
        let snapshot = doc.save();
        conn.execute(
            "UPDATE records SET snapshot = ?2, changes_since_snapshot = 0 WHERE id = ?1",
            params![id, snapshot],
        )?;
        conn.execute("DELETE FROM changes WHERE record_id = ?1", [id])?;
    } else {
        // Its place in the record's log: the count since the snapshot.
        conn.prepare_cached("INSERT INTO changes (record_id, seq, bytes) VALUES (?1, ?2, ?3)")?
            .execute(params![id, pending, bytes])?;
    }
    Ok(())
}

/// Where the core's tests keep a lower compaction threshold.
#[cfg(feature = "crash-seams")]
const COMPACT_AFTER_META: &str = "test_compact_after";

/// Changes appended before a record is compacted: [`COMPACT_AFTER`]; in
/// builds with the test seams, lower if a test set it
/// ([`Store::set_compact_after`]), never higher.
pub(super) fn compaction_threshold(conn: &Connection) -> Result<i64, StoreError> {
    #[cfg(feature = "crash-seams")]
    {
        use rusqlite::OptionalExtension;
        let set: Option<i64> = conn
            .query_row(
                "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1",
                [COMPACT_AFTER_META],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(n) = set {
            return Ok(n.clamp(1, COMPACT_AFTER));
        }
    }
    let _ = conn;
    Ok(COMPACT_AFTER)
}

#[cfg(feature = "crash-seams")]
impl super::Store {
    /// Test-only (builds with the test seams): compacts each record after
    /// `changes` changes (1 to [`COMPACT_AFTER`]) from now on and in every
    /// later opening of this store, so a test reaches several compactions
    /// with a few dozen edits rather than hundreds. It only ever tightens
    /// the bound on the change log.
    pub fn set_compact_after(&mut self, changes: i64) -> Result<(), StoreError> {
        let changes = changes.clamp(1, COMPACT_AFTER);
        self.set_meta(COMPACT_AFTER_META, changes.to_string().as_bytes())?;
        self.compact_after = changes;
        Ok(())
    }
}
