//! How a record reaches the device's SQLite file: its row with the first
//! snapshot, each change appended with the row's index columns (status,
//! encounter time) refreshed in the same transaction where they changed, and the change log
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
                              occurred_at, snapshot, unsynced, local_edits, log)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10,
                 (SELECT coalesce(max(log), 0) + 1 FROM records))",
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

/// A record's change rows are keyed `log * LOG_SPAN + seq` (schema 7).
pub(super) const LOG_SPAN: i64 = 1 << 24;
const _: () = assert!(COMPACT_AFTER < LOG_SPAN);

/// SQL over a `records` row: the largest `seq` of its change rows, the
/// count of changes since its snapshot (schema 7; `16777216` is
/// [`LOG_SPAN`]).
macro_rules! logged {
    () => {
        "coalesce((SELECT key FROM changes
                   WHERE key > records.log * 16777216 AND key < (records.log + 1) * 16777216
                   ORDER BY key DESC LIMIT 1) - records.log * 16777216, 0)"
    };
}

/// SQL over a `records` row: edits made on this device that the server
/// has not acknowledged, those folded into the row and every change row
/// past `folded` (each an edit made here, see [`write_changes_with`]).
macro_rules! local_edits {
    () => {
        concat!(
            "(local_edits + ",
            $crate::store::writes::logged!(),
            " - folded)"
        )
    };
}

/// SQL over a `records` row: when the record was last written, the time of
/// its last change row past `folded` if it has one.
macro_rules! updated_at {
    () => {
        "coalesce((SELECT at FROM changes
                   WHERE key > records.log * 16777216 + records.folded
                     AND key < (records.log + 1) * 16777216
                   ORDER BY key DESC LIMIT 1), records.updated_at)"
    };
}

/// SQL assignments folding a record's change rows past `folded` into its
/// row (its time, its unacknowledged edits): for any statement that writes
/// the row for another reason and does not set those itself.
macro_rules! fold {
    () => {
        concat!(
            "updated_at = ",
            $crate::store::writes::updated_at!(),
            ", local_edits = ",
            $crate::store::writes::local_edits!(),
            ", folded = ",
            $crate::store::writes::logged!()
        )
    };
}

pub(super) use {fold, local_edits, logged, updated_at};

/// [`write_changes`] with the record's index columns already known.
///
/// An edit made here on a record already queued for the next sync, with
/// its status and encounter time unchanged (every scene action but the
/// first after a sync), writes its change row and nothing else (schema 7):
/// the row's place (`seq`) is the count since the snapshot, its `at` the
/// record's time, and it counts as an unacknowledged edit by being past
/// the record's `folded`. Any other change writes the record's row and
/// folds the rows before it in, so rows past `folded` are only ever such
/// edits, and a record the server holds in full (`unsynced = 0`: never
/// queued, so never appended to alone) has its true time in its row.
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
    let (logged, status, queued, occurred, log): (i64, String, bool, String, i64) = conn
        .prepare_cached(concat!(
            "SELECT ",
            logged!(),
            ", status, unsynced = 1 AND rejection IS NULL, occurred_at, log
             FROM records WHERE id = ?1"
        ))?
        .query_row([id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
    let seq = logged + 1;
    let compacting = seq >= compact_after;
    // A local change marks the record for the next sync and clears an
    // earlier refusal: already so when it is queued with no refusal.
    let moved =
        status != columns.status.as_str() || occurred != columns.occurred_at || (local && !queued);
    let at = now();
    if compacting || moved || !local {
        // The rows since `folded` and this change folded into the row;
        // after a compaction the log starts again from `seq` 1.
        conn.prepare_cached(
            "UPDATE records SET updated_at = ?2, local_edits = local_edits + ?3 - folded + ?4,
                folded = ?5
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            at,
            logged,
            local,
            if compacting { 0 } else { seq }
        ])?;
    }
    if moved {
        // Only when they change: SQLite rewrites the index entries of
        // every indexed column an UPDATE names, changed or not (schema 5;
        // the encounter time is indexed since schema 6).
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
    if compacting {
        // The snapshot holds this change too: the log is folded into it
        // rather than appended to and then emptied.
        let snapshot = doc.save();
        conn.execute(
            "UPDATE records SET snapshot = ?2 WHERE id = ?1",
            params![id, snapshot],
        )?;
        delete_log(conn, id)?;
    } else {
        conn.prepare_cached("INSERT INTO changes (key, bytes, at) VALUES (?1, ?2, ?3)")?
            .execute(params![log * LOG_SPAN + seq, bytes, at])?;
    }
    Ok(())
}

/// Deletes a record's change rows (its log since the snapshot).
pub(super) fn delete_log(conn: &Connection, id: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "DELETE FROM changes
         WHERE key > (SELECT log FROM records WHERE id = ?1) * ?2
           AND key < ((SELECT log FROM records WHERE id = ?1) + 1) * ?2",
    )?
    .execute(params![id, LOG_SPAN])?;
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
