//! The audit trail in SQLite: one table, append-only by trigger, chained by
//! [`crate::storage::chain::chain_hash`] inside the appending transaction, with the
//! head kept in `audit_head`.

use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStorage, backend};
use crate::storage::chain::{GENESIS, chain_hash, detail_text};
use crate::storage::{AuditEvent, AuditLog, AuditQuery, NewAuditEvent, StorageError};

impl AuditLog for SqliteStorage {
    fn append_audit(&self, at: &str, events: &[NewAuditEvent]) -> Result<(), StorageError> {
        if events.is_empty() {
            return Ok(());
        }
        self.write(|tx| append_in(tx, at, events))
    }

    fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StorageError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, at, actor, action, record_id, detail, prev_hash, hash FROM audit
                 WHERE seq > ?1
                   AND (?2 IS NULL OR record_id = ?2)
                   AND (?3 IS NULL OR actor = ?3)
                   AND (?4 IS NULL OR action = ?4)
                 ORDER BY seq LIMIT ?5",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(
                params![
                    i64::try_from(query.after_seq).unwrap_or(i64::MAX),
                    query.record_id,
                    query.actor,
                    query.action,
                    query.limit
                ],
                |r| {
                    let detail: String = r.get(5)?;
                    Ok(AuditEvent {
                        seq: r.get::<_, i64>(0)? as u64,
                        at: r.get(1)?,
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        record_id: r.get(4)?,
                        // A detail that is not JSON (tampered) still reads,
                        // as a string, so `verify` can report it.
                        detail: serde_json::from_str(&detail)
                            .unwrap_or(serde_json::Value::String(detail)),
                        prev_hash: hex::encode(r.get::<_, Vec<u8>>(6)?),
                        hash: hex::encode(r.get::<_, Vec<u8>>(7)?),
                    })
                },
            )
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn audit_head(&self) -> Result<Option<(u64, String)>, StorageError> {
        self.conn()
            .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    hex::encode(r.get::<_, Vec<u8>>(1)?),
                ))
            })
            .optional()
            .map_err(backend)
    }
}

/// Appends `events` inside the caller's transaction (a record commit and
/// its audit events land together or not at all).
pub(super) fn append_in(
    tx: &Connection,
    at: &str,
    events: &[NewAuditEvent],
) -> Result<(), StorageError> {
    if events.is_empty() {
        return Ok(());
    }
    let head: Option<(i64, Vec<u8>)> = tx
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(backend)?;
    let (mut seq, mut prev) = match head {
        Some((seq, hash)) => (seq as u64, hex::encode(hash)),
        None => (0, GENESIS.to_string()),
    };
    for event in events {
        seq += 1;
        let detail = detail_text(&event.detail);
        let hash = chain_hash(
            &prev,
            seq,
            at,
            &event.actor,
            &event.action,
            event.record_id.as_deref(),
            &detail,
        );
        tx.execute(
            "INSERT INTO audit (seq, at, actor, action, record_id, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                seq as i64,
                at,
                event.actor,
                event.action,
                event.record_id,
                detail,
                hex::decode(&prev).map_err(|e| StorageError::backend_from(None, e))?,
                hex::decode(&hash).map_err(|e| StorageError::backend_from(None, e))?,
            ],
        )
        .map_err(backend)?;
        prev = hash;
    }
    tx.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        params![
            seq as i64,
            hex::decode(&prev).map_err(|e| StorageError::backend_from(None, e))?
        ],
    )
    .map_err(backend)?;
    Ok(())
}
