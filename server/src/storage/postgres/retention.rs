//! Retention in PostgreSQL: the due query on `records_by_kind (kind,
//! occurred_at_ts)`, whole-record erasure in one transaction, tombstones
//! and legal holds. A hold and an erasure of the same record are ordered by
//! the record's row lock, so an erasure never slips past a hold set on
//! another instance.

use pocketbook_core::model::RecordKind;

use super::audit::Chained;
use super::records::{INDEX_COLUMNS, index_row, kind_names, kind_of, next_seq, readers_of};
use super::{PostgresStorage, audit, backend, col, instant, records, sequencer};
use crate::storage::{
    Audience, HeldInScope, LegalHold, NewAuditEvent, RecordIndex, RetentionClock, RetentionStore,
    StorageError, Tombstone,
};

/// The retention query: `$1` kinds, `$2` occurred before, `$3` limit.
pub(super) fn retention_due_sql() -> String {
    format!(
        "SELECT {INDEX_COLUMNS} FROM records
         WHERE kind = ANY($1) AND occurred_at_ts < $2
           AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.record_id = records.id)
         ORDER BY occurred_at_ts, id LIMIT $3"
    )
}

impl RetentionStore for PostgresStorage {
    fn retention_due(
        &self,
        kinds: &[RecordKind],
        occurred_before: &str,
        limit: u32,
    ) -> Result<Vec<RecordIndex>, StorageError> {
        let before = instant(occurred_before)?;
        self.read(|c| {
            c.query(
                &retention_due_sql(),
                &[&kind_names(kinds), &before, &i64::from(limit)],
            )
            .map_err(backend)?
            .iter()
            .map(index_row)
            .collect()
        })
    }

    fn erase_record(
        &self,
        id: &str,
        at: &str,
        reason: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.write_prepared(|tx, prepared| {
            let index = tx
                .query_opt(
                    &format!("SELECT {INDEX_COLUMNS} FROM records WHERE id = $1 FOR UPDATE"),
                    &[&id],
                )
                .map_err(backend)?
                .as_ref()
                .map(index_row)
                .transpose()?;
            let held: i64 = tx
                .query_one(
                    "SELECT count(*) FROM legal_holds WHERE record_id = $1",
                    &[&id],
                )
                .map_err(backend)?
                .get(0);
            if held > 0 {
                return Err(StorageError::Conflict);
            }
            let index = index.ok_or(StorageError::NotFound("record"))?;
            // Every staged entry numbered (and event chained) first, under
            // the heads held from here to commit: none of the record's
            // staged entries can be numbered after its erasure, and the
            // erasure's events follow the events staged before it.
            sequencer::run_in(tx, prepared)?;
            tx.execute("DELETE FROM records WHERE id = $1", &[&id])
                .map_err(backend)?;
            records::unindex_record(tx, id)?;
            tx.execute("DELETE FROM feed WHERE record_id = $1", &[&id])
                .map_err(backend)?;
            tx.execute(
                "INSERT INTO tombstones (record_id, kind, erased_at, reason, author, station)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &id,
                    &index.kind.as_str(),
                    &at,
                    &reason,
                    &index.author,
                    &index.station,
                ],
            )
            .map_err(backend)?;
            let chained: Vec<Chained> = events.iter().map(|e| Chained::of(at, e)).collect();
            audit::chain_in(tx, &chained)?;
            // Who may see the record still receives this entry (readers
            // stay, ids only), so every device holding a copy erases it.
            let seq = next_seq(tx)?;
            tx.execute(
                format!(
                    "WITH f AS (
                         INSERT INTO feed (seq, record_id, kind, author, station, origin_device,
                                           changes, erased)
                         VALUES ($1, $2, $3, $4, $5, 'server', '\\x'::bytea, TRUE)
                         RETURNING seq, record_id, author, station)
                     {}",
                    records::INDEX_ENTRY
                )
                .as_str(),
                &[
                    &seq,
                    &id,
                    &index.kind.as_str(),
                    &index.author,
                    &index.station,
                ],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    fn tombstone(&self, id: &str) -> Result<Option<Tombstone>, StorageError> {
        self.read(|c| {
            let Some(r) = c
                .query_opt(
                    &format!(
                        "SELECT record_id, kind, erased_at, reason, author, station, {}
                         FROM tombstones WHERE record_id = $1",
                        readers_of("tombstones.record_id")
                    ),
                    &[&id],
                )
                .map_err(backend)?
            else {
                return Ok(None);
            };
            Ok(Some(Tombstone {
                record_id: col(&r, 0)?,
                kind: kind_of(col(&r, 1)?)?,
                erased_at: col(&r, 2)?,
                reason: col(&r, 3)?,
                author: col(&r, 4)?,
                station: col(&r, 5)?,
                readers: col(&r, 6)?,
            }))
        })
    }

    /// PostgreSQL has no `secure_delete`: a deleted row's bytes stay in
    /// its page until the space is reused, and in the write-ahead log and
    /// base backups until they are recycled. `VACUUM` of the tables an
    /// erasure deletes from makes that space reusable at once, so new rows
    /// overwrite it; the log and backups age out by the operator's
    /// retention of them (README, "PostgreSQL"). A distributed database
    /// has no `VACUUM` (it collects garbage by its own TTL): this is the
    /// one statement to replace there.
    fn scrub(&self) -> Result<(), StorageError> {
        self.read(|c| c.batch_execute("VACUUM records, feed").map_err(backend))
    }

    fn set_legal_hold(
        &self,
        hold: &LegalHold,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.write_audited(|tx, prepared| {
            // The record's row lock orders this hold with any erasure of it.
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM records WHERE id = $1 FOR UPDATE",
                    &[&hold.record_id],
                )
                .map_err(backend)?;
            if exists.is_none() {
                return Err(StorageError::NotFound("record"));
            }
            tx.execute(
                "INSERT INTO legal_holds (record_id, reason, set_at) VALUES ($1, $2, $3)
                 ON CONFLICT (record_id) DO UPDATE
                     SET reason = excluded.reason, set_at = excluded.set_at",
                &[&hold.record_id, &hold.reason, &hold.set_at],
            )
            .map_err(backend)?;
            audit::stage_in(tx, prepared, &hold.set_at, events)
        })
    }

    fn release_legal_hold(
        &self,
        id: &str,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.write_audited(|tx, prepared| {
            let released = tx
                .execute("DELETE FROM legal_holds WHERE record_id = $1", &[&id])
                .map_err(backend)?;
            if released == 0 {
                return Err(StorageError::NotFound("legal hold on this record"));
            }
            audit::stage_in(tx, prepared, at, events)
        })
    }

    fn claim_run(&self, job: &str, period: i64, at: &str) -> Result<bool, StorageError> {
        self.read(|c| {
            c.execute(
                "INSERT INTO job_runs (job, period, claimed_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&job, &period, &at],
            )
            .map(|claimed| claimed == 1)
            .map_err(backend)
        })
    }

    fn retention_clock(&self) -> Result<Option<RetentionClock>, StorageError> {
        self.read(|c| {
            c.query_opt(
                "SELECT trusted, held FROM retention_clock WHERE id = 1",
                &[],
            )
            .map_err(backend)?
            .map(|r| {
                Ok(RetentionClock {
                    trusted: col(&r, 0)?,
                    held: col(&r, 1)?,
                })
            })
            .transpose()
        })
    }

    fn trust_clock(
        &self,
        at: &str,
        exact: bool,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        // Stamps are one fixed-width form, so text order is time order;
        // the row lock orders instances trusting at once.
        let trusted = if exact {
            "excluded.trusted"
        } else {
            "GREATEST(retention_clock.trusted COLLATE \"C\", excluded.trusted COLLATE \"C\")"
        };
        self.write_audited(|tx, prepared| {
            tx.execute(
                &format!(
                    "INSERT INTO retention_clock (id, trusted, held) VALUES (1, $1, NULL)
                     ON CONFLICT (id) DO UPDATE SET trusted = {trusted}, held = NULL"
                ),
                &[&at],
            )
            .map_err(backend)?;
            audit::stage_in(tx, prepared, at, events)
        })
    }

    fn hold_clock(&self, at: &str, events: &[NewAuditEvent]) -> Result<bool, StorageError> {
        self.write_audited(|tx, prepared| {
            let marked = tx
                .execute(
                    "UPDATE retention_clock SET held = $1 WHERE id = 1 AND held IS NULL",
                    &[&at],
                )
                .map_err(backend)?;
            if marked == 1 {
                audit::stage_in(tx, prepared, at, events)?;
            }
            Ok(marked == 1)
        })
    }

    fn legal_holds_in(
        &self,
        audience: &[Audience],
        limit: u32,
    ) -> Result<Vec<HeldInScope>, StorageError> {
        let (mut officers, mut stations) = (Vec::new(), Vec::new());
        for a in audience {
            match a {
                Audience::Officer(number) => officers.push(number.clone()),
                Audience::Station(station) => stations.push(station.clone()),
            }
        }
        self.read(|c| {
            c.query(
                &format!(
                    "SELECT h.record_id, r.author, r.station, {}
                     FROM legal_holds h JOIN records r ON r.id = h.record_id
                     WHERE r.author = ANY($1) OR r.station = ANY($2)
                        OR EXISTS (SELECT 1 FROM record_access a
                                   WHERE a.record_id = h.record_id AND a.officer = ANY($1))
                     ORDER BY h.record_id LIMIT $3",
                    readers_of("h.record_id")
                ),
                &[&officers, &stations, &i64::from(limit)],
            )
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok(HeldInScope {
                    record_id: col(r, 0)?,
                    author: col(r, 1)?,
                    station: col(r, 2)?,
                    readers: col(r, 3)?,
                })
            })
            .collect()
        })
    }

    fn legal_holds(&self) -> Result<Vec<LegalHold>, StorageError> {
        self.read(|c| {
            c.query(
                "SELECT record_id, reason, set_at FROM legal_holds ORDER BY set_at, record_id",
                &[],
            )
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok(LegalHold {
                    record_id: col(r, 0)?,
                    reason: col(r, 1)?,
                    set_at: col(r, 2)?,
                })
            })
            .collect()
        })
    }
}
