//! Feed entries this app cannot apply (a record of a newer schema,
//! unreadable bytes, missing history, a record that cannot be stored):
//! held in the store with a reason so they never block the page they came
//! in, listed for the app, and applied by a later sync once the app can.

use crate::model::Timestamp;
use std::collections::HashMap;

use rusqlite::{TransactionBehavior, params};

use super::{Store, StoreError, insert_record, write_changes};
use crate::document::DocumentError;
use crate::model::RecordKind;
use crate::sync::wire::FeedEntry;

/// Why a feed entry is held on this device instead of applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum HeldReason {
    /// The record was written by a newer app (a newer schema version):
    /// "this record needs a newer app". Updating the app applies it.
    NewerSchema,
    /// The bytes are not a readable Pocketbook record.
    Unreadable,
    /// The entry depends on history this device does not have.
    MissingHistory,
    /// The record could not be stored (its reference collides with
    /// another record on this device).
    Unstorable,
}

impl HeldReason {
    /// Stable code, as stored.
    pub fn code(self) -> &'static str {
        match self {
            HeldReason::NewerSchema => "newer-schema",
            HeldReason::Unreadable => "unreadable",
            HeldReason::MissingHistory => "missing-history",
            HeldReason::Unstorable => "unstorable",
        }
    }

    /// The reason stored under `code` (unknown codes read as unreadable).
    pub fn parse(code: &str) -> Self {
        [
            HeldReason::NewerSchema,
            HeldReason::MissingHistory,
            HeldReason::Unstorable,
        ]
        .into_iter()
        .find(|r| r.code() == code)
        .unwrap_or(HeldReason::Unreadable)
    }

    pub(super) fn of(e: &DocumentError) -> Self {
        match e {
            DocumentError::TooNew { .. } => HeldReason::NewerSchema,
            DocumentError::MissingDependencies => HeldReason::MissingHistory,
            _ => HeldReason::Unreadable,
        }
    }
}

/// A record whose feed entries wait on this device (no content: the app
/// shows "this record needs a newer app" or "could not be read").
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HeldRecord {
    pub record_id: String,
    pub kind: RecordKind,
    /// The reason of its first held entry.
    pub reason: HeldReason,
    /// When it was first held (RFC 3339, UTC).
    pub held_at: Timestamp,
    /// Feed entries held for it.
    pub entries: i32,
}

impl Store {
    /// Why each record with held entries is held (its first entry's reason).
    pub(super) fn held_reasons(&self) -> Result<HashMap<String, HeldReason>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT record_id, reason FROM held_entries ORDER BY seq DESC")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = HashMap::new();
        for row in rows {
            let (id, reason) = row?;
            out.insert(id, HeldReason::parse(&reason));
        }
        Ok(out)
    }

    /// The records with feed entries this app could not apply, oldest
    /// first, one row per record with the reason of its first held entry.
    pub fn held(&self) -> Result<Vec<HeldRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            // SQLite takes the bare columns from the row of min(seq): the
            // record's first held entry.
            "SELECT record_id, kind, reason, held_at, count(*), min(seq) FROM held_entries
             GROUP BY record_id ORDER BY min(seq)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (record_id, kind, reason, held_at, entries) = row?;
            let kind = RecordKind::parse(&kind).ok_or_else(|| {
                DocumentError::Shape(format!("unknown kind of held record {record_id}"))
            })?;
            let held_at = Timestamp::from_stored(&held_at).map_err(|_| {
                DocumentError::Shape(format!("unreadable time of held record {record_id}"))
            })?;
            out.push(HeldRecord {
                record_id,
                kind,
                reason: HeldReason::parse(&reason),
                held_at,
                entries: i32::try_from(entries).unwrap_or(i32::MAX),
            });
        }
        Ok(out)
    }

    /// Applies held feed entries this app can now read (after an update),
    /// record by record in feed order, each record in one transaction;
    /// returns the records that were applied. A record that still fails
    /// stays held.
    pub fn retry_held(&mut self) -> Result<Vec<(String, RecordKind)>, StoreError> {
        let held = self.held()?;
        let mut applied = Vec::new();
        for record in held {
            let entries: Vec<(i64, Vec<u8>)> = {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT seq, changes FROM held_entries WHERE record_id = ?1 ORDER BY seq",
                )?;
                stmt.query_map([&record.record_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?
            };
            // All of the record's held entries at once, so changes held
            // before the changes they depend on still apply.
            let Some(last) = entries.last().map(|(seq, _)| *seq as u64) else {
                continue;
            };
            let entry = FeedEntry {
                seq: last,
                record_id: record.record_id.clone(),
                kind: record.kind,
                changes: entries
                    .iter()
                    .flat_map(|(_, c)| c.iter().copied())
                    .collect(),
                erased: false,
            };
            let mut touched = Vec::new();
            let failed = match self.merge_entry(&entry, &mut touched) {
                Ok(()) | Err(Merge::Skip) => None,
                Err(Merge::Hold(reason)) => Some(reason),
                Err(Merge::Fail(e)) => return Err(e),
            };
            if let Some(reason) = failed {
                self.conn.execute(
                    "UPDATE held_entries SET reason = ?2 WHERE record_id = ?1",
                    params![record.record_id, reason.code()],
                )?;
                continue;
            }
            let Some(mut t) = touched.pop() else {
                continue;
            };
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let stored = if t.is_new {
                insert_record(&tx, &mut t.doc, false, None)
            } else {
                write_changes(&tx, &mut t.doc, &t.changes, false, self.compact_after)
            };
            match stored {
                Ok(()) => {
                    tx.execute(
                        "DELETE FROM held_entries WHERE record_id = ?1",
                        [&record.record_id],
                    )?;
                    tx.commit()?;
                    applied.push((record.record_id.clone(), record.kind));
                    self.cache.replace(t.doc);
                }
                Err(StoreError::Duplicate | StoreError::Document(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(applied)
    }
}

/// A feed entry about to be held.
pub(super) struct HeldRow {
    pub(super) seq: u64,
    pub(super) record_id: String,
    pub(super) kind: RecordKind,
    pub(super) reason: HeldReason,
    pub(super) changes: Vec<u8>,
}

impl HeldRow {
    pub(super) fn of(entry: &FeedEntry, reason: HeldReason) -> Self {
        HeldRow {
            seq: entry.seq,
            record_id: entry.record_id.clone(),
            kind: entry.kind,
            reason,
            changes: entry.changes.clone(),
        }
    }
}

/// What merging one feed entry came to, short of success.
pub(super) enum Merge {
    /// Not needed on this device: a record data minimisation removed, or
    /// changes it already holds.
    Skip,
    /// This app cannot apply it: keep it aside.
    Hold(HeldReason),
    /// The store itself failed: the page fails and comes again.
    Fail(StoreError),
}
