//! Applying a server response: acknowledgements, refusals, the page of
//! feed entries and the new cursor, in one transaction, with an entry this
//! app cannot apply held aside so it never blocks the page.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use automerge::ChangeHash;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::credentials::access_bytes;
use super::{ACCESS_META, CREDENTIALS_META, CURSOR_META, Credentials, PendingPush, encode_heads};
use crate::document::{DocumentError, RecordDoc};
use crate::model::RecordKind;
use crate::store::feed::Touched;
use crate::store::held::Merge;
use crate::store::held::{HeldReason, HeldRow};
use crate::store::server_erasure::ServerErasures;
use crate::store::writes::{fold, local_edits, logged, updated_at};
use crate::store::{Store, StoreError, insert_record, write_changes};
use crate::sync::wire::{RejectionCode, SyncResponse};

/// Progress is reported after at most this many records of a page...
pub const PROGRESS_EVERY_RECORDS: usize = 50;
/// ...or after this long, whichever comes first.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// What applying one response did, for the sync summary.
#[derive(Debug, Default)]
pub struct AppliedPage {
    pub acknowledged: u32,
    /// Records changed by the page, for change listeners.
    pub received: Vec<(String, RecordKind)>,
    /// Records the server erased (retention), removed from this device.
    pub erased: Vec<(String, RecordKind)>,
    /// Feed entries held back (this app cannot apply them).
    pub held: u32,
}

impl Store {
    /// Applies a server response in one transaction: acknowledgements,
    /// refusals, the page of feed entries, and the new cursor.
    ///
    /// One entry this app cannot apply (a record of a newer schema, corrupt
    /// bytes, missing history, a record that cannot be stored) never blocks
    /// the page: it is held in the store with its record id and a
    /// [`HeldReason`], later entries of that record are held behind it, and
    /// the rest of the page applies and the cursor moves, in the same
    /// transaction. [`Store::retry_held`] applies held entries once this app
    /// can.
    ///
    /// `progress` hears how many records of the page have merged so far,
    /// at least every [`PROGRESS_EVERY_RECORDS`] records or
    /// [`PROGRESS_EVERY`], whichever comes first.
    pub fn apply_sync(
        &mut self,
        pushed: &[PendingPush],
        response: &SyncResponse,
        progress: &mut dyn FnMut(u32),
    ) -> Result<AppliedPage, StoreError> {
        // Merge feed entries into working copies first; nothing is written
        // and no cached copy is touched until the whole page has merged.
        let mut touched: Vec<Touched> = Vec::new();
        let mut erased: Vec<(String, RecordKind)> = Vec::new();
        let mut held: Vec<HeldRow> = Vec::new();
        // Records with entries held from earlier pages: what follows waits.
        let mut blocked: HashMap<String, HeldReason> = self.held_reasons()?;
        let mut reported = (0usize, Instant::now());
        for entry in &response.changes {
            if entry.erased {
                // Retention ran out on the server: this copy goes too, and
                // so does anything held of it.
                touched.retain(|t| t.doc.header().id != entry.record_id);
                held.retain(|h| h.record_id != entry.record_id);
                blocked.remove(&entry.record_id);
                erased.push((entry.record_id.clone(), entry.kind));
                continue;
            }
            if let Some(reason) = blocked.get(&entry.record_id) {
                held.push(HeldRow::of(entry, *reason));
                continue;
            }
            match self.merge_entry(entry, &mut touched) {
                Ok(()) => {}
                Err(Merge::Skip) => {}
                Err(Merge::Hold(reason)) => {
                    tracing::warn!(
                        seq = entry.seq,
                        reason = reason.code(),
                        "feed entry held back: this app cannot apply it"
                    );
                    blocked.insert(entry.record_id.clone(), reason);
                    held.push(HeldRow::of(entry, reason));
                }
                Err(Merge::Fail(e)) => return Err(e),
            }
            if touched.len() >= reported.0 + PROGRESS_EVERY_RECORDS
                || reported.1.elapsed() >= PROGRESS_EVERY
            {
                reported = (touched.len(), Instant::now());
                progress(touched.len() as u32);
            }
        }

        let mut untouched_heads = HashMap::new();
        for push in pushed {
            if !touched.iter().any(|t| t.doc.header().id == push.record_id) {
                let heads = self.with_doc(&push.record_id, RecordDoc::heads)?;
                untouched_heads.insert(push.record_id.clone(), heads);
            }
        }

        // What decides whether this device lets go of a record the server
        // says it erased, read before the transaction.
        let erasures = ServerErasures::of(self, response)?;

        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut page = AppliedPage::default();
        for ack in &response.acknowledged {
            let Some(push) = pushed.iter().find(|p| p.record_id == ack.record_id) else {
                continue;
            };
            tx.execute(
                concat!(
                    "UPDATE records SET synced_heads = ?2, acked_heads = ?2,
                        updated_at = ",
                    updated_at!(),
                    ", local_edits = max(",
                    local_edits!(),
                    " - ?3, 0), folded = ",
                    logged!(),
                    " WHERE id = ?1"
                ),
                params![push.record_id, encode_heads(&push.heads), push.edits],
            )?;
            page.acknowledged += 1;
        }
        for rejection in &response.rejected {
            if rejection.code == RejectionCode::Erased {
                // Pushed again after the server erased it: erase it here.
                if let Some(push) = pushed.iter().find(|p| p.record_id == rejection.record_id) {
                    erased.push((push.record_id.clone(), push.kind));
                }
            } else if rejection.code == RejectionCode::MissingDependencies {
                // Resend the whole record next time.
                tx.execute(
                    "UPDATE records SET synced_heads = NULL WHERE id = ?1",
                    [&rejection.record_id],
                )?;
            } else {
                // Never pushed again as it stands; forbidden and invalid
                // are rolled back next (`Store::roll_back_refused`).
                let rollback = rejection.code.rolls_back().then(|| rejection.code.as_str());
                tx.execute(
                    "UPDATE records SET rejection = ?2, rollback_code = ?3 WHERE id = ?1",
                    params![rejection.record_id, rejection.message, rollback],
                )?;
            }
        }
        let mut written = Vec::with_capacity(touched.len());
        for mut t in touched {
            // A record that cannot be stored (its reference collides with
            // another record's) is held, not allowed to undo the page.
            let savepoint = tx.savepoint()?;
            let stored = if t.is_new {
                insert_record(&savepoint, &mut t.doc, false, None)
            } else {
                write_changes(
                    &savepoint,
                    &mut t.doc,
                    &t.changes,
                    false,
                    self.compact_after,
                )
            };
            match stored {
                Ok(()) => {
                    savepoint.commit()?;
                    page.received
                        .push((t.doc.header().id.clone(), t.doc.kind()));
                    written.push(t);
                }
                Err(StoreError::Duplicate | StoreError::Document(_)) => {
                    drop(savepoint);
                    tracing::warn!("feed record held back: it cannot be stored");
                    held.extend(t.entries.iter().map(|(seq, changes)| HeldRow {
                        seq: *seq,
                        record_id: t.doc.header().id.clone(),
                        kind: t.doc.kind(),
                        reason: HeldReason::Unstorable,
                        changes: changes.clone(),
                    }));
                }
                Err(e) => return Err(e),
            }
        }
        let mut seen = std::collections::HashSet::new();
        erased.retain(|(id, _)| seen.insert(id.clone()));
        let erased = erasures.apply(&tx, erased)?;
        let now = crate::store::now();
        for h in &held {
            tx.execute(
                "INSERT OR REPLACE INTO held_entries (seq, record_id, kind, reason, changes, held_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    h.seq as i64,
                    h.record_id,
                    h.kind.as_str(),
                    h.reason.code(),
                    h.changes,
                    now
                ],
            )?;
        }
        page.held = held.len() as u32;
        let mut meta = vec![(CURSOR_META, response.cursor.to_be_bytes().to_vec())];
        if let Some(access) = &response.access {
            meta.push((ACCESS_META, access_bytes(access)?));
        }
        if !response.next_pins.is_empty() {
            // The keys the server will move to, trusted from the next
            // connection on; kept with the credential they belong to.
            let stored: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT value FROM meta WHERE key = ?1",
                    [CREDENTIALS_META],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(bytes) = stored {
                let mut credentials: Credentials = serde_json::from_slice(&bytes)
                    .map_err(|e| DocumentError::Shape(format!("unreadable credentials: {e}")))?;
                if credentials.remember_pins(&response.next_pins) {
                    let bytes = serde_json::to_vec(&credentials)
                        .map_err(|e| DocumentError::Shape(format!("credentials: {e}")))?;
                    meta.push((CREDENTIALS_META, bytes));
                }
            }
        }
        crate::store::expiry::remember(&tx, response)?;
        for (key, value) in meta {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
        }
        // An acknowledged record stays queued only if it was edited here
        // after the push was built (feed changes came from the server).
        for push in pushed {
            if !response
                .acknowledged
                .iter()
                .any(|a| a.record_id == push.record_id)
            {
                continue;
            }
            let local_heads = written
                .iter()
                .find(|t| t.doc.header().id == push.record_id)
                .map(|t| &t.local_heads)
                .or_else(|| untouched_heads.get(&push.record_id));
            let edited_since = local_heads.is_none_or(|h| !same_heads(h, &push.heads));
            // Folded, so a record the server now holds in full has its
            // true time in its row (pruning reads it there).
            tx.execute(
                concat!(
                    "UPDATE records SET unsynced = ?2, ",
                    fold!(),
                    " WHERE id = ?1"
                ),
                params![push.record_id, edited_since],
            )?;
        }
        tx.commit()?;
        for t in written {
            self.cache.replace(t.doc);
        }
        for (id, _) in &erased {
            self.cache.take(id);
        }
        page.erased = erased;
        Ok(page)
    }
}

fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}
