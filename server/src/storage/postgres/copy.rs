//! Copies in PostgreSQL: records by reference and by station and day (the
//! desk's lookup, on `records_by_station (station, occurred_at_ts)`), and
//! the attempts behind the public copy page's rate limits, shared by every
//! instance and kept across restarts.

use pocketbook_core::model::RecordKind;

use super::records::{kind_names, stored_columns, stored_row};
use super::{PostgresStorage, audit, backend, col, instant};
use crate::storage::{CopyStore, NewAuditEvent, StorageError, StoredRecord};

/// The desk's lookup: `$1` station, `$2` kinds, `[$3, $4)` the day.
pub(super) fn at_station_sql() -> String {
    format!(
        "SELECT {} FROM records
         WHERE station = $1 AND kind = ANY($2)
           AND occurred_at_ts >= $3 AND occurred_at_ts < $4
         ORDER BY occurred_at_ts, id",
        stored_columns()
    )
}

impl CopyStore for PostgresStorage {
    fn records_by_reference(&self, reference: &str) -> Result<Vec<StoredRecord>, StorageError> {
        self.read(|c| {
            c.query(
                &format!(
                    "SELECT {} FROM records WHERE reference = $1 ORDER BY created_at, id",
                    stored_columns()
                ),
                &[&reference],
            )
            .map_err(backend)?
            .iter()
            .map(stored_row)
            .collect()
        })
    }

    fn records_at_station(
        &self,
        station: &str,
        kinds: &[RecordKind],
        from: &str,
        to: &str,
    ) -> Result<Vec<StoredRecord>, StorageError> {
        let (from, to) = (instant(from)?, instant(to)?);
        self.read(|c| {
            c.query(
                &at_station_sql(),
                &[&station, &kind_names(kinds), &from, &to],
            )
            .map_err(backend)?
            .iter()
            .map(stored_row)
            .collect()
        })
    }

    fn add_attempt(&self, key: &str, at: i64, failed: bool) -> Result<(), StorageError> {
        self.read(|c| {
            c.execute(
                "INSERT INTO copy_attempts (key, at, failed) VALUES ($1, $2, $3)",
                &[&key, &at, &failed],
            )
            .map(|_| ())
            .map_err(backend)
        })
    }

    fn add_attempts_audited(
        &self,
        attempts: &[(&str, bool)],
        at: i64,
        stamp: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.write_audited(|tx, prepared| {
            for (key, failed) in attempts {
                tx.execute(
                    "INSERT INTO copy_attempts (key, at, failed) VALUES ($1, $2, $3)",
                    &[key, &at, failed],
                )
                .map_err(backend)?;
            }
            audit::stage_in(tx, prepared, stamp, events)
        })
    }

    fn attempts_since(&self, key: &str, since: i64) -> Result<(u32, u32), StorageError> {
        self.read(|c| {
            let r = c
                .query_one(
                    "SELECT count(*), count(*) FILTER (WHERE failed) FROM copy_attempts
                     WHERE key = $1 AND at >= $2",
                    &[&key, &since],
                )
                .map_err(backend)?;
            Ok((col::<i64>(&r, 0)? as u32, col::<i64>(&r, 1)? as u32))
        })
    }

    fn nth_newest_attempt(
        &self,
        key: &str,
        since: i64,
        n: u32,
        failed_only: bool,
    ) -> Result<Option<i64>, StorageError> {
        self.read(|c| {
            c.query_opt(
                "SELECT at FROM copy_attempts
                 WHERE key = $1 AND at >= $2 AND (failed OR NOT $3)
                 ORDER BY at DESC LIMIT 1 OFFSET $4",
                &[&key, &since, &failed_only, &i64::from(n.saturating_sub(1))],
            )
            .map_err(backend)?
            .map(|r| col(&r, 0))
            .transpose()
        })
    }

    fn limit_salt(&self, period: i64, fresh: &[u8]) -> Result<Vec<u8>, StorageError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO limit_salts (period, salt) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&period, &fresh],
            )
            .map_err(backend)?;
            tx.execute("DELETE FROM limit_salts WHERE period < $1", &[&period])
                .map_err(backend)?;
            col(
                &tx.query_one("SELECT salt FROM limit_salts WHERE period = $1", &[&period])
                    .map_err(backend)?,
                0,
            )
        })
    }

    fn prune_attempts(&self, before: i64) -> Result<u64, StorageError> {
        self.read(|c| {
            c.execute("DELETE FROM copy_attempts WHERE at < $1", &[&before])
                .map_err(backend)
        })
    }
}
