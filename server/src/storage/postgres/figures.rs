//! Published figures in PostgreSQL: one row per frozen month, written once
//! (the first freeze wins, on every instance) with its audit event in the
//! same transaction.

use super::{PostgresStorage, audit, backend};
use crate::storage::{FiguresStore, NewAuditEvent, StorageError};

impl FiguresStore for PostgresStorage {
    fn frozen_figures(&self, month: &str) -> Result<Option<String>, StorageError> {
        self.read(|c| {
            c.query_opt(
                "SELECT body FROM published_figures WHERE month = $1",
                &[&month],
            )
            .map(|row| row.map(|r| r.get(0)))
            .map_err(backend)
        })
    }

    fn freeze_figures(
        &self,
        month: &str,
        at: &str,
        body: &str,
        events: &[NewAuditEvent],
    ) -> Result<String, StorageError> {
        self.write_audited(|tx, prepared| {
            // A second freezer waits on the first one's row, then finds it.
            let stored = tx
                .execute(
                    "INSERT INTO published_figures (month, computed_at, body) VALUES ($1, $2, $3)
                     ON CONFLICT (month) DO NOTHING",
                    &[&month, &at, &body],
                )
                .map_err(backend)?;
            if stored == 1 {
                audit::stage_in(tx, prepared, at, events)?;
                return Ok(body.to_string());
            }
            tx.query_one(
                "SELECT body FROM published_figures WHERE month = $1",
                &[&month],
            )
            .map(|r| r.get(0))
            .map_err(backend)
        })
    }
}
