//! The audit trail in PostgreSQL: one table, append-only by trigger,
//! chained by [`crate::storage::chain::chain_hash`] under the row lock of
//! `audit_head`, so events appended through several instances form one
//! chain. An appending transaction stages its events (`audit_pending`)
//! and a sequencing run chains them after it commits
//! ([`super::sequencer`]): no appender holds the head through its flush. `at` and `detail` are kept
//! as the exact text that was hashed (never `timestamptz` or `jsonb`,
//! which would re-render it and break the chain).

use postgres::Transaction;

use super::pool::Statements;
use super::{PostgresStorage, backend, col};
use crate::storage::chain::{GENESIS, chain_hash, detail_text};
use crate::storage::{AuditEvent, AuditLog, AuditQuery, NewAuditEvent, StorageError};

impl AuditLog for PostgresStorage {
    fn append_audit(&self, at: &str, events: &[NewAuditEvent]) -> Result<(), StorageError> {
        if events.is_empty() {
            return Ok(());
        }
        self.write_audited(|tx, prepared| stage_in(tx, prepared, at, events))
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

/// Stages `events` inside the caller's transaction (a state change and its
/// audit events land together or not at all), without the head: they are
/// chained by the next sequencing run once that transaction has committed
/// ([`super::sequencer`]), so an appender never holds `audit_head` through
/// its commit. One statement for all of them.
pub(super) fn stage_in(
    tx: &mut Transaction<'_>,
    prepared: &mut Statements,
    at: &str,
    events: &[NewAuditEvent],
) -> Result<(), StorageError> {
    if events.is_empty() {
        return Ok(());
    }
    let actors: Vec<&str> = events.iter().map(|e| e.actor.as_str()).collect();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    let records: Vec<Option<&str>> = events.iter().map(|e| e.record_id.as_deref()).collect();
    let details: Vec<String> = events.iter().map(|e| detail_text(&e.detail)).collect();
    let stage = prepared
        .get(
            tx,
            "INSERT INTO audit_pending (at, actor, action, record_id, detail)
             SELECT $1, u.actor, u.action, u.record_id, u.detail
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
                  WITH ORDINALITY AS u(actor, action, record_id, detail, n)
             ORDER BY u.n",
        )
        .map_err(backend)?;
    tx.execute(&stage, &[&at, &actors, &actions, &records, &details])
        .map_err(backend)?;
    Ok(())
}

/// An event to chain: its time and detail as the exact text hashed.
pub(super) struct Chained {
    pub(super) at: String,
    pub(super) actor: String,
    pub(super) action: String,
    pub(super) record_id: Option<String>,
    pub(super) detail: String,
}

impl Chained {
    pub(super) fn of(at: &str, event: &NewAuditEvent) -> Self {
        Chained {
            at: at.to_string(),
            actor: event.actor.clone(),
            action: event.action.clone(),
            record_id: event.record_id.clone(),
            detail: detail_text(&event.detail),
        }
    }
}

/// Chains `events`, in order, after the head, inside the caller's
/// transaction and under the row lock of `audit_head`, which the caller
/// holds (a sequencing run, or an erasure that ran one) or takes here:
/// one statement for the rows, one for the head.
pub(super) fn chain_in(tx: &mut Transaction<'_>, events: &[Chained]) -> Result<(), StorageError> {
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
    let (mut seqs, mut prevs, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    for event in events {
        seq += 1;
        let hash = chain_hash(
            &prev,
            seq as u64,
            &event.at,
            &event.actor,
            &event.action,
            event.record_id.as_deref(),
            &event.detail,
        );
        seqs.push(seq);
        prevs.push(decode(&prev)?);
        hashes.push(decode(&hash)?);
        prev = hash;
    }
    let ats: Vec<&str> = events.iter().map(|e| e.at.as_str()).collect();
    let actors: Vec<&str> = events.iter().map(|e| e.actor.as_str()).collect();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    let records: Vec<Option<&str>> = events.iter().map(|e| e.record_id.as_deref()).collect();
    let details: Vec<&str> = events.iter().map(|e| e.detail.as_str()).collect();
    tx.execute(
        "WITH h AS (UPDATE audit_head SET seq = $9, hash = $10 WHERE id = 1)
         INSERT INTO audit (seq, at, actor, action, record_id, detail, prev_hash, hash)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                              $6::text[], $7::bytea[], $8::bytea[])",
        &[
            &seqs,
            &ats,
            &actors,
            &actions,
            &records,
            &details,
            &prevs,
            &hashes,
            &seq,
            &decode(&prev)?,
        ],
    )
    .map_err(backend)?;
    Ok(())
}
