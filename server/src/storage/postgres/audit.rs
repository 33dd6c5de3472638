//! The audit trail in PostgreSQL: one table, append-only by trigger,
//! chained by [`crate::storage::chain::chain_hash`] under the row lock of
//! `audit_head` inside the appending transaction, so events appended
//! through several instances form one chain. `at` and `detail` are kept
//! as the exact text that was hashed (never `timestamptz` or `jsonb`,
//! which would re-render it and break the chain).

use postgres::Transaction;

use super::{PostgresStorage, backend, col};
use crate::storage::chain::{GENESIS, chain_hash, detail_text};
use crate::storage::{AuditEvent, AuditLog, AuditQuery, NewAuditEvent, StorageError};

impl AuditLog for PostgresStorage {
    fn append_audit(&self, at: &str, events: &[NewAuditEvent]) -> Result<(), StorageError> {
        if events.is_empty() {
            return Ok(());
        }
        self.write(|tx| append_in(tx, at, events))
    }

    fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StorageError> {
        let after = i64::try_from(query.after_seq).unwrap_or(i64::MAX);
        self.read(|c| {
            c.query(
                "SELECT seq, at, actor, action, record_id, detail, prev_hash, hash FROM audit
                 WHERE seq > $1
                   AND ($2::text IS NULL OR record_id = $2)
                   AND ($3::text IS NULL OR actor = $3)
                   AND ($4::text IS NULL OR action = $4)
                 ORDER BY seq LIMIT $5",
                &[
                    &after,
                    &query.record_id,
                    &query.actor,
                    &query.action,
                    &i64::from(query.limit),
                ],
            )
            .map_err(backend)?
            .iter()
            .map(|r| {
                let detail: String = col(r, 5)?;
                Ok(AuditEvent {
                    seq: col::<i64>(r, 0)? as u64,
                    at: col(r, 1)?,
                    actor: col(r, 2)?,
                    action: col(r, 3)?,
                    record_id: col(r, 4)?,
                    // A detail that is not JSON (tampered) still reads, as
                    // a string, so `verify` can report it.
                    detail: serde_json::from_str(&detail)
                        .unwrap_or(serde_json::Value::String(detail)),
                    prev_hash: hex::encode(col::<Vec<u8>>(r, 6)?),
                    hash: hex::encode(col::<Vec<u8>>(r, 7)?),
                })
            })
            .collect()
        })
    }

    fn audit_head(&self) -> Result<Option<(u64, String)>, StorageError> {
        self.read(|c| {
            let r = c
                .query_one("SELECT seq, hash FROM audit_head WHERE id = 1", &[])
                .map_err(backend)?;
            let seq: i64 = col(&r, 0)?;
            // The head row exists from the start; sequence 0 is an empty trail.
            Ok((seq > 0).then(|| (seq as u64, hex::encode(r.get::<_, Vec<u8>>(1)))))
        })
    }
}

/// Appends `events` inside the caller's transaction (a state change and its
/// audit events land together or not at all), holding the head's row lock
/// until that transaction ends.
pub(super) fn append_in(
    tx: &mut Transaction<'_>,
    at: &str,
    events: &[NewAuditEvent],
) -> Result<(), StorageError> {
    if events.is_empty() {
        return Ok(());
    }
    let head = tx
        .query_one(
            "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
            &[],
        )
        .map_err(backend)?;
    let mut seq: i64 = col(&head, 0)?;
    let mut prev = if seq == 0 {
        GENESIS.to_string()
    } else {
        hex::encode(col::<Vec<u8>>(&head, 1)?)
    };
    let decode = |h: &str| hex::decode(h).map_err(|e| StorageError::backend_from(None, e));
    for event in events {
        seq += 1;
        let detail = detail_text(&event.detail);
        let hash = chain_hash(
            &prev,
            seq as u64,
            at,
            &event.actor,
            &event.action,
            event.record_id.as_deref(),
            &detail,
        );
        tx.execute(
            "INSERT INTO audit (seq, at, actor, action, record_id, detail, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &seq,
                &at,
                &event.actor,
                &event.action,
                &event.record_id,
                &detail,
                &decode(&prev)?,
                &decode(&hash)?,
            ],
        )
        .map_err(backend)?;
        prev = hash;
    }
    tx.execute(
        "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
        &[&seq, &decode(&prev)?],
    )
    .map_err(backend)?;
    Ok(())
}
