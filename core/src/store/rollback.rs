//! Rolling a record back when the server refuses it for good.
//!
//! The server refuses per record, and a record's later local changes
//! depend on its earlier ones, so when it refuses a push as forbidden or
//! invalid (the officer's access changed, or a rule the device could not
//! check, such as a receipt another device already gave), every change of
//! that record the server never acknowledged goes aside, and the record is
//! rebuilt from what the server has: its acknowledged history and the
//! changes that came through the feed (another device's). The set-aside
//! changes are kept, with the whole record as this device had it, readable
//! ([`Store::set_aside`], [`Store::set_aside_version`]); they are never
//! merged or pushed again.
//!
//! A refused record the server never acknowledged (new on this device),
//! or one with no change of this device's to set aside (imported here),
//! has nothing to roll back to: it stays as it is, marked refused in the
//! list (`RecordSummary::refused`), and is not pushed again.
//!
//! The refusal is noted with the page that brought it; the rollback is a
//! step of its own, run after each page until none is due, so a crash in
//! between only delays it.

use crate::model::Timestamp;
use std::collections::{HashMap, HashSet};

use automerge::ChangeHash;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::sync_state::{decode_heads, encode_heads};
use super::writes::local_edits;
use super::{Store, StoreError};
use crate::document::RecordDoc;
use crate::model::RecordKind;
use crate::sync::wire::RejectionCode;

/// Changes of one record that the server refused, set aside on this device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, uniffi::Record)]
pub struct SetAside {
    /// Names this set-aside for [`Store::set_aside_version`].
    pub id: i64,
    pub record_id: String,
    pub kind: RecordKind,
    pub code: RejectionCode,
    /// The server's reason (names fields, never content).
    pub message: String,
    /// Local edits that went aside.
    pub edits: i32,
    /// Automerge changes that went aside.
    pub changes: i32,
    /// When (RFC 3339, UTC).
    pub set_aside_at: Timestamp,
}

/// A record rolled back, for listeners and the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    pub record_id: String,
    pub kind: RecordKind,
}

/// A record due to be rolled back: id, refusal code and message, local
/// edits, acknowledged heads.
type Due = (String, String, String, i64, Option<Vec<u8>>);

/// What a rollback keeps and what goes aside.
struct Plan {
    kept: Vec<u8>,
    aside: Vec<u8>,
    aside_count: u32,
}

impl Store {
    /// Rolls back every record whose refusal calls for it (see the module
    /// doc), each in one transaction; returns the records rolled back.
    pub fn roll_back_refused(&mut self) -> Result<Vec<RolledBack>, StoreError> {
        let due: Vec<Due> = {
            let mut stmt = self.conn.prepare_cached(concat!(
                "SELECT id, rollback_code, rejection, ",
                local_edits!(),
                ", acked_heads FROM records
                 WHERE rollback_code IS NOT NULL"
            ))?;
            stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?
        };
        let mut rolled = Vec::new();
        for (id, code, message, edits, acked) in due {
            let mut doc = self.take_doc(&id)?;
            let version = doc.save();
            let kind = doc.kind();
            let plan = self.plan(&mut doc, &decode_heads(acked.as_deref()));
            self.cache.put(doc);
            let plan = match plan {
                Ok(Some(plan)) => plan,
                // Never acknowledged (new here): stays, marked refused.
                Ok(None) => {
                    self.conn.execute(
                        "UPDATE records SET rollback_code = NULL WHERE id = ?1",
                        [&id],
                    )?;
                    continue;
                }
                Err(e) => {
                    tracing::warn!("a refused record could not be rolled back: {e}");
                    self.conn.execute(
                        "UPDATE records SET rollback_code = NULL WHERE id = ?1",
                        [&id],
                    )?;
                    continue;
                }
            };
            let mut rebuilt = RecordDoc::from_changes(&plan.kept, self.actor.clone())?;
            let columns = rebuilt.index_columns()?;
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO set_aside (record_id, kind, code, message, edits, changes,
                                        change_count, version, set_aside_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id,
                    kind.as_str(),
                    code,
                    message,
                    edits,
                    plan.aside,
                    plan.aside_count,
                    version,
                    super::now()
                ],
            )?;
            super::writes::delete_log(&tx, &id)?;
            tx.execute(
                "UPDATE records SET snapshot = ?2, folded = 0, status = ?3,
                        occurred_at = ?4, updated_at = ?5, synced_heads = ?6, unsynced = 0,
                        local_edits = 0, rejection = NULL, rollback_code = NULL
                 WHERE id = ?1",
                params![
                    id,
                    rebuilt.save(),
                    columns.status.as_str(),
                    columns.occurred_at,
                    super::now(),
                    encode_heads(&rebuilt.heads()),
                ],
            )?;
            // The record as the server last acknowledged it: its terms too.
            super::promise_terms::write_terms_of(&tx, &rebuilt, None)?;
            tx.commit()?;
            self.cache.take(&id);
            self.cache.put(rebuilt);
            tracing::info!(
                code = code.as_str(),
                changes = plan.aside_count,
                "refused changes set aside; record rolled back"
            );
            rolled.push(RolledBack {
                record_id: id,
                kind,
            });
        }
        Ok(rolled)
    }

    /// Splits a record's history: what the server has (the acknowledged
    /// history, and other devices' changes that build only on what it
    /// has) and what goes aside. `None` when there is nothing to roll
    /// back: the server has none of it, or all of it is other devices'.
    fn plan(&self, doc: &mut RecordDoc, acked: &[ChangeHash]) -> Result<Option<Plan>, StoreError> {
        let mut all = automerge::Automerge::new();
        all.load_incremental(&doc.changes_since(&[]))
            .map_err(|e| crate::document::DocumentError::Corrupt(e.to_string()))?;
        let changes = all.get_changes(&[]);
        let deps: HashMap<ChangeHash, Vec<ChangeHash>> = changes
            .iter()
            .map(|c| (c.hash(), c.deps().to_vec()))
            .collect();
        // Everything the acknowledged heads stand on.
        let mut kept: HashSet<ChangeHash> = HashSet::new();
        let mut stack: Vec<ChangeHash> = acked.to_vec();
        while let Some(hash) = stack.pop() {
            if deps.contains_key(&hash) && kept.insert(hash) {
                stack.extend(deps[&hash].iter().copied());
            }
        }
        // Other devices' changes came from the server: kept while all they
        // build on is kept. Repeated until nothing moves (order-proof).
        loop {
            let before = kept.len();
            for change in &changes {
                if change.actor_id() != &self.actor
                    && change.deps().iter().all(|d| kept.contains(d))
                {
                    kept.insert(change.hash());
                }
            }
            if kept.len() == before {
                break;
            }
        }
        // Nothing the server has, or nothing of this device's to set
        // aside (a record imported here): nothing to roll back to.
        if kept.is_empty() || kept.len() == changes.len() {
            return Ok(None);
        }
        let mut plan = Plan {
            kept: Vec::new(),
            aside: Vec::new(),
            aside_count: 0,
        };
        for change in &changes {
            if kept.contains(&change.hash()) {
                plan.kept.extend_from_slice(change.raw_bytes());
            } else {
                plan.aside.extend_from_slice(change.raw_bytes());
                plan.aside_count += 1;
            }
        }
        Ok(Some(plan))
    }

    /// Changes set aside on this device, oldest first.
    pub fn set_aside(&self) -> Result<Vec<SetAside>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, record_id, kind, code, message, edits, change_count, set_aside_at
             FROM set_aside ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, String>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, record_id, kind, code, message, edits, changes, set_aside_at) = row?;
            let (Some(kind), Some(code)) = (RecordKind::parse(&kind), RejectionCode::parse(&code))
            else {
                return Err(crate::document::DocumentError::Shape(format!(
                    "unknown kind or code of set-aside {id}"
                ))
                .into());
            };
            out.push(SetAside {
                id,
                record_id,
                kind,
                code,
                message,
                edits: i32::try_from(edits).unwrap_or(i32::MAX),
                changes: i32::try_from(changes).unwrap_or(i32::MAX),
                set_aside_at: Timestamp::from_stored(&set_aside_at).map_err(|_| {
                    crate::document::DocumentError::Shape(format!(
                        "unreadable time of set-aside {id}"
                    ))
                })?,
            });
        }
        Ok(out)
    }

    /// The record as this device had it before the rollback (an Automerge
    /// document, as `export` gives): the refused changes readable in place.
    pub fn set_aside_version(&self, id: i64) -> Result<Vec<u8>, StoreError> {
        self.conn
            .query_row("SELECT version FROM set_aside WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or(StoreError::NotFound)
    }
}
