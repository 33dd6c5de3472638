//! Published figures in SQLite: one row per frozen month, written once
//! (the first freeze wins) with its audit event in the same transaction.

use rusqlite::{OptionalExtension, params};

use super::{SqliteStorage, audit, backend};
use crate::storage::{FiguresStore, NewAuditEvent, StorageError};

impl FiguresStore for SqliteStorage {
    fn frozen_figures(&self, month: &str) -> Result<Option<String>, StorageError> {
        self.conn()
            .query_row(
                "SELECT body FROM published_figures WHERE month = ?1",
                [month],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)
    }

    fn freeze_figures(
        &self,
        month: &str,
        at: &str,
        body: &str,
        events: &[NewAuditEvent],
    ) -> Result<String, StorageError> {
        self.write(|tx| {
            let stored = tx
                .execute(
                    "INSERT INTO published_figures (month, computed_at, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (month) DO NOTHING",
                    params![month, at, body],
                )
                .map_err(backend)?;
            if stored == 1 {
                audit::append_in(tx, at, events)?;
                return Ok(body.to_string());
            }
            tx.query_row(
                "SELECT body FROM published_figures WHERE month = ?1",
                [month],
                |r| r.get(0),
            )
            .map_err(backend)
        })
    }
}
