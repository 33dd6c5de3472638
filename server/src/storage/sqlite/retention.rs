//! Retention in SQLite: whole-record erasure in one transaction,
//! tombstones, and legal holds.

use std::sync::LazyLock;

use pocketbook_core::model::RecordKind;
use rusqlite::{OptionalExtension, params};

use super::{
    INDEX_COLUMNS, SqliteStorage, audit, backend, bound, index_row, kind_of, kinds_json, readers,
    readers_of, records,
};
use crate::storage::{
    Audience, HeldInScope, LegalHold, NewAuditEvent, RecordIndex, RetentionClock, RetentionStore,
    StorageError, Tombstone,
};

/// An audience as JSON arrays of officers and of stations, for `json_each`.
fn audience_lists(audience: &[Audience]) -> Result<(String, String), StorageError> {
    let (mut officers, mut stations) = (Vec::new(), Vec::new());
    for a in audience {
        match a {
            Audience::Officer(number) => officers.push(number.as_str()),
            Audience::Station(station) => stations.push(station.as_str()),
        }
    }
    let json = |list: &[&str]| {
        serde_json::to_string(list).map_err(|e| StorageError::backend_from(None, e))
    };
    Ok((json(&officers)?, json(&stations)?))
}

impl RetentionStore for SqliteStorage {
    fn retention_due(
        &self,
        kinds: &[RecordKind],
        occurred_before: &str,
        limit: u32,
    ) -> Result<Vec<RecordIndex>, StorageError> {
        let kinds = kinds_json(kinds)?;
        let before = bound(occurred_before)?;
        let conn = self.conn();
        // Times are stored in the one indexed form, so text order is time
        // order and `records_by_kind (kind, occurred_at)` serves the range.
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {INDEX_COLUMNS} FROM records
                 WHERE kind IN (SELECT value FROM json_each(?1))
                   AND occurred_at < ?2
                   AND id NOT IN (SELECT record_id FROM legal_holds)
                 ORDER BY occurred_at LIMIT ?3"
            ))
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![kinds, before, limit], index_row)
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
        self.write(|tx| {
            let held: i64 = tx
                .query_row(
                    "SELECT count(*) FROM legal_holds WHERE record_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if held > 0 {
                return Err(StorageError::Conflict);
            }
            let index = tx
                .query_row(
                    &format!("SELECT {INDEX_COLUMNS} FROM records WHERE id = ?1"),
                    [id],
                    index_row,
                )
                .optional()
                .map_err(backend)?
                .ok_or(StorageError::NotFound("record"))?;
            tx.execute("DELETE FROM records WHERE id = ?1", [id])
                .map_err(backend)?;
            records::unindex_record(tx, id)?;
            tx.execute("DELETE FROM feed WHERE record_id = ?1", [id])
                .map_err(backend)?;
            tx.execute(
                "INSERT INTO tombstones (record_id, kind, erased_at, reason, author, station)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    index.kind.as_str(),
                    at,
                    reason,
                    index.author,
                    index.station
                ],
            )
            .map_err(backend)?;
            // Who may see the record still receives this entry (readers stay,
            // ids only), so every device holding a copy erases it.
            let seq: i64 = tx
                .query_row(
                    "INSERT INTO feed (record_id, kind, author, station, origin_device, changes,
                                       erased)
                     VALUES (?1, ?2, ?3, ?4, 'server', x'', 1) RETURNING seq",
                    params![id, index.kind.as_str(), index.author, index.station],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            records::index_entry(tx, seq, id, &index.author, &index.station)?;
            audit::append_in(tx, at, events)
        })
    }

    fn tombstone(&self, id: &str) -> Result<Option<Tombstone>, StorageError> {
        // Asked before every merge: compiled once per connection.
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT record_id, kind, erased_at, reason, author, station, {}
                 FROM tombstones WHERE record_id = ?1",
                readers_of("tombstones.record_id")
            )
        });
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&SQL).map_err(backend)?;
        statement
            .query_row([id], |r| {
                Ok(Tombstone {
                    record_id: r.get(0)?,
                    kind: kind_of(r.get(1)?)?,
                    erased_at: r.get(2)?,
                    reason: r.get(3)?,
                    author: r.get(4)?,
                    station: r.get(5)?,
                    readers: readers(r.get(6)?)?,
                })
            })
            .optional()
            .map_err(backend)
    }

    fn scrub(&self) -> Result<(), StorageError> {
        // TRUNCATE waits (busy timeout) for readers of older snapshots,
        // copies every page into the database file and empties the log.
        let (busy, _, _): (i64, i64, i64) = self
            .conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(backend)?;
        if busy != 0 {
            tracing::warn!("the write-ahead log could not be truncated yet: a reader held it");
        }
        Ok(())
    }

    fn set_legal_hold(
        &self,
        hold: &LegalHold,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.write(|tx| {
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
            audit::append_in(tx, &hold.set_at, events)
        })
    }

    fn release_legal_hold(
        &self,
        id: &str,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.write(|tx| {
            let released = tx
                .execute("DELETE FROM legal_holds WHERE record_id = ?1", [id])
                .map_err(backend)?;
            if released == 0 {
                return Err(StorageError::NotFound("legal hold on this record"));
            }
            audit::append_in(tx, at, events)
        })
    }

    fn claim_run(&self, job: &str, period: i64, at: &str) -> Result<bool, StorageError> {
        let claimed = self
            .conn()
            .execute(
                "INSERT INTO job_runs (job, period, claimed_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                params![job, period, at],
            )
            .map_err(backend)?;
        Ok(claimed == 1)
    }

    fn retention_clock(&self) -> Result<Option<RetentionClock>, StorageError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT trusted, held FROM retention_clock WHERE id = 1")
            .map_err(backend)?;
        stmt.query_row([], |r| {
            Ok(RetentionClock {
                trusted: r.get(0)?,
                held: r.get(1)?,
            })
        })
        .optional()
        .map_err(backend)
    }

    fn trust_clock(
        &self,
        at: &str,
        exact: bool,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        // Stamps are one fixed-width form, so text order is time order.
        let trusted = if exact {
            "excluded.trusted"
        } else {
            "max(trusted, excluded.trusted)"
        };
        self.write(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO retention_clock (id, trusted, held) VALUES (1, ?1, NULL)
                     ON CONFLICT (id) DO UPDATE SET trusted = {trusted}, held = NULL"
                ),
                [at],
            )
            .map_err(backend)?;
            audit::append_in(tx, at, events)
        })
    }

    fn hold_clock(&self, at: &str, events: &[NewAuditEvent]) -> Result<bool, StorageError> {
        self.write(|tx| {
            let marked = tx
                .execute(
                    "UPDATE retention_clock SET held = ?1 WHERE id = 1 AND held IS NULL",
                    [at],
                )
                .map_err(backend)?;
            if marked == 1 {
                audit::append_in(tx, at, events)?;
            }
            Ok(marked == 1)
        })
    }

    fn legal_holds_in(
        &self,
        audience: &[Audience],
        limit: u32,
    ) -> Result<Vec<HeldInScope>, StorageError> {
        let (officers, stations) = audience_lists(audience)?;
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT h.record_id, r.author, r.station, {}
                 FROM legal_holds h JOIN records r ON r.id = h.record_id
                 WHERE r.author IN (SELECT value FROM json_each(?1))
                    OR r.station IN (SELECT value FROM json_each(?2))
                    OR EXISTS (SELECT 1 FROM record_access a
                               WHERE a.record_id = h.record_id
                                 AND a.officer IN (SELECT value FROM json_each(?1)))
                 ORDER BY h.record_id LIMIT ?3",
                readers_of("h.record_id")
            ))
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![officers, stations, limit], |r| {
                Ok(HeldInScope {
                    record_id: r.get(0)?,
                    author: r.get(1)?,
                    station: r.get(2)?,
                    readers: readers(r.get(3)?)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
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
