//! Copies in SQLite: records by reference, and the attempts behind the
//! public copy page's rate limits.

use rusqlite::{OptionalExtension, params};

use pocketbook_core::model::RecordKind;

use super::{SqliteStorage, all_rows, backend, bound, kinds_json, stored_columns, stored_row};
use crate::storage::{CopyStore, NewAuditEvent, StorageError, StoredRecord};

impl CopyStore for SqliteStorage {
    fn records_by_reference(&self, reference: &str) -> Result<Vec<StoredRecord>, StorageError> {
        all_rows(
            &self.conn(),
            &format!(
                "SELECT {} FROM records WHERE reference = ?1",
                stored_columns()
            ),
            [reference],
            stored_row,
        )
    }

    fn records_at_station(
        &self,
        station: &str,
        kinds: &[RecordKind],
        from: &str,
        to: &str,
    ) -> Result<Vec<StoredRecord>, StorageError> {
        let (from, to) = (bound(from)?, bound(to)?);
        // Times are stored in the one indexed form: `records_by_station
        // (station, occurred_at)` serves the whole range.
        all_rows(
            &self.conn(),
            &format!(
                "SELECT {} FROM records
                 WHERE station = ?1 AND kind IN (SELECT value FROM json_each(?2))
                   AND occurred_at >= ?3 AND occurred_at < ?4
                 ORDER BY occurred_at",
                stored_columns()
            ),
            params![station, kinds_json(kinds)?, from, to],
            stored_row,
        )
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

    fn add_attempts_audited(
        &self,
        attempts: &[(&str, bool)],
        at: i64,
        stamp: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.write(|tx| {
            for (key, failed) in attempts {
                tx.execute(
                    "INSERT INTO copy_attempts (key, at, failed) VALUES (?1, ?2, ?3)",
                    params![key, at, failed],
                )
                .map_err(backend)?;
            }
            super::audit::append_in(tx, stamp, events)
        })
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

    fn nth_newest_attempt(
        &self,
        key: &str,
        since: i64,
        n: u32,
        failed_only: bool,
    ) -> Result<Option<i64>, StorageError> {
        self.conn()
            .query_row(
                "SELECT at FROM copy_attempts
                 WHERE key = ?1 AND at >= ?2 AND (failed = 1 OR NOT ?3)
                 ORDER BY at DESC LIMIT 1 OFFSET ?4",
                params![key, since, failed_only, n.saturating_sub(1)],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)
    }

    fn limit_salt(&self, period: i64, fresh: &[u8]) -> Result<Vec<u8>, StorageError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO limit_salts (period, salt) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![period, fresh],
            )
            .map_err(backend)?;
            tx.execute("DELETE FROM limit_salts WHERE period < ?1", [period])
                .map_err(backend)?;
            tx.query_row(
                "SELECT salt FROM limit_salts WHERE period = ?1",
                [period],
                |r| r.get(0),
            )
            .map_err(backend)
        })
    }

    fn prune_attempts(&self, before: i64) -> Result<u64, StorageError> {
        let n = self
            .conn()
            .execute("DELETE FROM copy_attempts WHERE at < ?1", [before])
            .map_err(backend)?;
        Ok(n as u64)
    }
}
