//! Retention and copies in SQLite: whole-record erasure in one
//! transaction, tombstones, legal holds, and the attempts behind the
//! public copy page's rate limits.

use pocketbook_core::model::RecordKind;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{
    INDEX_COLUMNS, READERS_OF, SqliteStorage, audit, backend, index_row, kind_of, readers,
};
use crate::storage::{
    CopyStore, LegalHold, NewAuditEvent, RecordIndex, RetentionStore, StorageError, StoredRecord,
    Tombstone,
};

impl RetentionStore for SqliteStorage {
    fn retention_due(
        &self,
        kinds: &[RecordKind],
        occurred_before: &str,
        limit: u32,
    ) -> Result<Vec<RecordIndex>, StorageError> {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let kinds =
            serde_json::to_string(&kinds).map_err(|e| StorageError::Backend(e.to_string()))?;
        let conn = self.conn();
        // `julianday` compares instants whatever offset a time was written with.
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {INDEX_COLUMNS} FROM records
                 WHERE kind IN (SELECT value FROM json_each(?1))
                   AND julianday(occurred_at) < julianday(?2)
                   AND id NOT IN (SELECT record_id FROM legal_holds)
                 ORDER BY occurred_at LIMIT ?3"
            ))
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![kinds, occurred_before, limit], index_row)
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn erase_record(
        &self,
        id: &str,
        at: &str,
        reason: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let held: bool = tx
            .query_row(
                "SELECT count(*) FROM legal_holds WHERE record_id = ?1",
                [id],
                |r| r.get::<_, i64>(0),
            )
            .map_err(backend)?
            > 0;
        if held {
            return Err(StorageError::Conflict);
        }
        let index: Option<RecordIndex> = tx
            .query_row(
                &format!("SELECT {INDEX_COLUMNS} FROM records WHERE id = ?1"),
                [id],
                index_row,
            )
            .optional()
            .map_err(backend)?;
        let Some(index) = index else {
            return Err(StorageError::NotFound("record"));
        };
        tx.execute("DELETE FROM records WHERE id = ?1", [id])
            .map_err(backend)?;
        tx.execute("DELETE FROM feed WHERE record_id = ?1", [id])
            .map_err(backend)?;
        tx.execute(
            "INSERT INTO tombstones (record_id, kind, erased_at, reason) VALUES (?1, ?2, ?3, ?4)",
            params![id, index.kind.as_str(), at, reason],
        )
        .map_err(backend)?;
        // Who may see the record still receives this entry (readers stay,
        // ids only), so every device holding a copy erases it.
        tx.execute(
            "INSERT INTO feed (record_id, kind, author, station, origin_device, changes, erased)
             VALUES (?1, ?2, ?3, ?4, 'server', x'', 1)",
            params![id, index.kind.as_str(), index.author, index.station],
        )
        .map_err(backend)?;
        audit::append_in(&tx, at, events)?;
        tx.commit().map_err(backend)
    }

    fn tombstone(&self, id: &str) -> Result<Option<Tombstone>, StorageError> {
        self.conn()
            .query_row(
                "SELECT record_id, kind, erased_at, reason FROM tombstones WHERE record_id = ?1",
                [id],
                |r| {
                    Ok(Tombstone {
                        record_id: r.get(0)?,
                        kind: kind_of(r.get(1)?)?,
                        erased_at: r.get(2)?,
                        reason: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(backend)
    }

    fn set_legal_hold(
        &self,
        hold: &LegalHold,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let exists: i64 = tx
            .query_row(
                "SELECT count(*) FROM records WHERE id = ?1",
                [&hold.record_id],
                |r| r.get(0),
            )
            .map_err(backend)?;
        if exists == 0 {
            return Err(StorageError::NotFound("record"));
        }
        tx.execute(
            "INSERT INTO legal_holds (record_id, reason, set_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (record_id) DO UPDATE SET reason = excluded.reason, set_at = excluded.set_at",
            params![hold.record_id, hold.reason, hold.set_at],
        )
        .map_err(backend)?;
        audit::append_in(&tx, &hold.set_at, events)?;
        tx.commit().map_err(backend)
    }

    fn release_legal_hold(
        &self,
        id: &str,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        if tx
            .execute("DELETE FROM legal_holds WHERE record_id = ?1", [id])
            .map_err(backend)?
            == 0
        {
            return Err(StorageError::NotFound("legal hold on this record"));
        }
        audit::append_in(&tx, at, events)?;
        tx.commit().map_err(backend)
    }

    fn legal_holds(&self) -> Result<Vec<LegalHold>, StorageError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT record_id, reason, set_at FROM legal_holds ORDER BY set_at")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LegalHold {
                    record_id: r.get(0)?,
                    reason: r.get(1)?,
                    set_at: r.get(2)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }
}

impl CopyStore for SqliteStorage {
    fn records_by_reference(&self, reference: &str) -> Result<Vec<StoredRecord>, StorageError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {INDEX_COLUMNS}, snapshot, version, {} FROM records WHERE reference = ?1",
                READERS_OF.replace('?', "records.id")
            ))
            .map_err(backend)?;
        let rows = stmt
            .query_map([reference], |r| {
                Ok(StoredRecord {
                    index: index_row(r)?,
                    snapshot: r.get(9)?,
                    version: r.get(10)?,
                    readers: readers(r.get(11)?),
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn add_attempt(&self, key: &str, at: i64, failed: bool) -> Result<(), StorageError> {
        self.conn()
            .execute(
                "INSERT INTO copy_attempts (key, at, failed) VALUES (?1, ?2, ?3)",
                params![key, at, failed],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn attempts_since(&self, key: &str, since: i64) -> Result<(u32, u32), StorageError> {
        self.conn()
            .query_row(
                "SELECT count(*), coalesce(sum(failed), 0) FROM copy_attempts
                 WHERE key = ?1 AND at >= ?2",
                params![key, since],
                |r| Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u32)),
            )
            .map_err(backend)
    }

    fn prune_attempts(&self, before: i64) -> Result<u64, StorageError> {
        let n = self
            .conn()
            .execute("DELETE FROM copy_attempts WHERE at < ?1", [before])
            .map_err(backend)?;
        Ok(n as u64)
    }
}
