//! The records whose changes the server has not acknowledged: the pushes
//! built from them, and the counts and refusals the app shows.

use automerge::ChangeHash;
use rusqlite::OptionalExtension;

use super::decode_heads;
use crate::model::RecordKind;
use crate::store::writes::{local_edits, logged, updated_at};
use crate::store::{Store, StoreError};

/// One record's changes queued for the server, and the heads they reach.
#[derive(Debug, Clone)]
pub struct PendingPush {
    pub record_id: String,
    pub kind: RecordKind,
    pub changes: Vec<u8>,
    pub heads: Vec<ChangeHash>,
    /// Unacknowledged local edits of the record when the push was built:
    /// what its acknowledgement settles.
    pub edits: i64,
}

impl Store {
    /// Records with changes the server has not acknowledged, at most
    /// `max_records` and about `max_bytes` of changes (always at least one).
    pub fn pending_pushes(
        &mut self,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<PendingPush>, StoreError> {
        let queued: Vec<(String, Option<Vec<u8>>, i64)> = {
            let mut stmt = self.conn.prepare_cached(concat!(
                "SELECT id, synced_heads, ",
                local_edits!(),
                " FROM records
                 WHERE unsynced = 1 AND rejection IS NULL ORDER BY created_at LIMIT ?1"
            ))?;
            stmt.query_map([max_records as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?
        };
        let mut pushes = Vec::new();
        let mut bytes = 0;
        for (id, synced, edits) in queued {
            let acknowledged = decode_heads(synced.as_deref());
            let (kind, heads, changes) = self.with_doc(&id, |doc| {
                (doc.kind(), doc.heads(), doc.changes_since(&acknowledged))
            })?;
            let push = PendingPush {
                record_id: id,
                kind,
                heads,
                changes,
                edits,
            };
            if push.changes.is_empty() {
                // Everything here is already on the server.
                self.conn.execute(
                    concat!(
                        "UPDATE records SET unsynced = 0, updated_at = ",
                        updated_at!(),
                        ", local_edits = 0, folded = ",
                        logged!(),
                        " WHERE id = ?1"
                    ),
                    [&push.record_id],
                )?;
                continue;
            }
            bytes += push.changes.len();
            pushes.push(push);
            if bytes >= max_bytes {
                break;
            }
        }
        Ok(pushes)
    }

    /// How many records wait for the server.
    pub fn unsynced_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM records WHERE unsynced = 1 AND rejection IS NULL",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// How many records hold changes the server has not acknowledged,
    /// counting those it refused: what a retiring device must not leave
    /// behind.
    pub fn unacknowledged_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM records WHERE unsynced = 1", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    /// Edits made on this device that the server never acknowledged.
    pub fn unacknowledged_edits(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            concat!("SELECT coalesce(sum(", local_edits!(), "), 0) FROM records"),
            [],
            |r| r.get(0),
        )?)
    }

    /// The reason the server last refused a record, if it did.
    pub fn rejection(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT rejection FROM records WHERE id = ?1", [id], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()?
            .flatten())
    }
}
