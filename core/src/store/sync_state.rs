//! What the sync client keeps in the device store: the device credential,
//! the feed cursor, and per record the heads the server has acknowledged.
//!
//! A page from the server is applied in one transaction together with the
//! new cursor, so a request cut at any point and retried neither loses nor
//! duplicates a change: either the page and its cursor are durable, or
//! neither is and the same page comes again.

use automerge::ChangeHash;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Store, StoreError, insert_record, write_changes};
use crate::document::{DocumentError, RecordDoc};
use crate::model::RecordKind;
use crate::sync::wire::{RejectionCode, SyncResponse};

const CREDENTIALS_META: &str = "credentials";
const CURSOR_META: &str = "cursor";

/// The device's credential for one server.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Credentials {
    pub server_url: String,
    pub device_id: String,
    pub token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("server_url", &self.server_url)
            .field("device_id", &self.device_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// One record's changes queued for the server, and the heads they reach.
#[derive(Debug, Clone)]
pub struct PendingPush {
    pub record_id: String,
    pub kind: RecordKind,
    pub changes: Vec<u8>,
    pub heads: Vec<ChangeHash>,
}

/// What applying one response did, for the sync summary.
#[derive(Debug, Default)]
pub struct AppliedPage {
    pub acknowledged: u32,
    /// Records changed by the page, for change listeners.
    pub received: Vec<(String, RecordKind)>,
    /// Records the server erased (retention), removed from this device.
    pub erased: Vec<(String, RecordKind)>,
}

impl Store {
    pub fn credentials(&self) -> Result<Option<Credentials>, StoreError> {
        match self.meta(CREDENTIALS_META)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| DocumentError::Shape(format!("unreadable credentials: {e}")).into()),
        }
    }

    pub fn set_credentials(&self, credentials: &Credentials) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(credentials)
            .map_err(|e| DocumentError::Shape(format!("credentials: {e}")))?;
        self.set_meta(CREDENTIALS_META, &bytes)
    }

    /// The feed position of the last page durably applied.
    pub fn cursor(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.meta(CURSOR_META)?.and_then(|b| {
            <[u8; 8]>::try_from(b.as_slice())
                .ok()
                .map(u64::from_be_bytes)
        }))
    }

    /// Records with changes the server has not acknowledged, at most
    /// `max_records` and about `max_bytes` of changes (always at least one).
    pub fn pending_pushes(
        &mut self,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<PendingPush>, StoreError> {
        let queued: Vec<(String, Option<Vec<u8>>)> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, synced_heads FROM records
                 WHERE unsynced = 1 AND rejection IS NULL ORDER BY created_at LIMIT ?1",
            )?;
            stmt.query_map([max_records as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        let mut pushes = Vec::new();
        let mut bytes = 0;
        for (id, synced) in queued {
            let mut doc = self.take_doc(&id)?;
            let acknowledged = decode_heads(synced.as_deref());
            let changes = doc.changes_since(&acknowledged);
            let push = PendingPush {
                record_id: id,
                kind: doc.kind(),
                heads: doc.heads(),
                changes,
            };
            self.cache.put(doc);
            if push.changes.is_empty() {
                // Everything here is already on the server.
                self.conn.execute(
                    "UPDATE records SET unsynced = 0 WHERE id = ?1",
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

    /// Applies a server response in one transaction: acknowledgements,
    /// refusals, the page of feed entries, and the new cursor.
    pub fn apply_sync(
        &mut self,
        pushed: &[PendingPush],
        response: &SyncResponse,
    ) -> Result<AppliedPage, StoreError> {
        // Merge feed entries into working copies first; nothing is written
        // and no cached copy is touched until the whole page has merged.
        let mut touched: Vec<Touched> = Vec::new();
        let mut erased: Vec<(String, RecordKind)> = Vec::new();
        for entry in &response.changes {
            if entry.erased {
                // Retention ran out on the server: this copy goes too.
                touched.retain(|t| t.doc.header().id != entry.record_id);
                erased.push((entry.record_id.clone(), entry.kind));
                continue;
            }
            if let Some(t) = touched
                .iter_mut()
                .find(|t| t.doc.header().id == entry.record_id)
            {
                t.doc.apply_changes(&entry.changes)?;
                t.changes.extend_from_slice(&entry.changes);
                continue;
            }
            match self.take_doc(&entry.record_id) {
                Ok(mut doc) => {
                    let local_heads = doc.heads();
                    let mut copy = doc.fork(self.actor.clone());
                    self.cache.put(doc);
                    copy.apply_changes(&entry.changes)?;
                    touched.push(Touched {
                        doc: copy,
                        changes: entry.changes.clone(),
                        is_new: false,
                        local_heads,
                    });
                }
                Err(StoreError::NotFound) => {
                    let doc = match RecordDoc::from_changes(&entry.changes, self.actor.clone()) {
                        Ok(doc) => doc,
                        // Later changes to a record this device no longer
                        // holds (data minimisation removed it): not needed.
                        Err(DocumentError::MissingDependencies) => continue,
                        Err(e) => return Err(e.into()),
                    };
                    if doc.kind() != entry.kind {
                        return Err(DocumentError::Shape("feed entry kind differs".into()).into());
                    }
                    touched.push(Touched {
                        doc,
                        changes: entry.changes.clone(),
                        is_new: true,
                        local_heads: Vec::new(),
                    });
                }
                Err(e) => return Err(e),
            }
        }

        let mut untouched_heads = std::collections::HashMap::new();
        for push in pushed {
            if !touched.iter().any(|t| t.doc.header().id == push.record_id) {
                let mut doc = self.take_doc(&push.record_id)?;
                untouched_heads.insert(push.record_id.clone(), doc.heads());
                self.cache.put(doc);
            }
        }

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut page = AppliedPage::default();
        for ack in &response.acknowledged {
            let Some(push) = pushed.iter().find(|p| p.record_id == ack.record_id) else {
                continue;
            };
            tx.execute(
                "UPDATE records SET synced_heads = ?2 WHERE id = ?1",
                params![push.record_id, encode_heads(&push.heads)],
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
                tx.execute(
                    "UPDATE records SET rejection = ?2 WHERE id = ?1",
                    params![rejection.record_id, rejection.message],
                )?;
            }
        }
        for t in &mut touched {
            if t.is_new {
                insert_record(&tx, &mut t.doc, false)?;
            } else {
                write_changes(&tx, &mut t.doc, &t.changes, false)?;
            }
            page.received
                .push((t.doc.header().id.clone(), t.doc.kind()));
        }
        let mut seen = std::collections::HashSet::new();
        erased.retain(|(id, _)| seen.insert(id.clone()));
        for (id, _) in &erased {
            super::retention::delete_record(&tx, id)?;
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![CURSOR_META, response.cursor.to_be_bytes().to_vec()],
        )?;
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
            let local_heads = touched
                .iter()
                .find(|t| t.doc.header().id == push.record_id)
                .map(|t| &t.local_heads)
                .or_else(|| untouched_heads.get(&push.record_id));
            let edited_since = local_heads.is_none_or(|h| !same_heads(h, &push.heads));
            tx.execute(
                "UPDATE records SET unsynced = ?2 WHERE id = ?1",
                params![push.record_id, edited_since],
            )?;
        }
        tx.commit()?;
        for t in touched {
            self.cache.put(t.doc);
        }
        for (id, _) in &erased {
            self.cache.take(id);
        }
        page.erased = erased;
        Ok(page)
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

/// A record changed by a page of the feed, merged but not yet written.
struct Touched {
    doc: RecordDoc,
    changes: Vec<u8>,
    is_new: bool,
    /// The record's heads before the page merged into it.
    local_heads: Vec<ChangeHash>,
}

fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

fn decode_heads(bytes: Option<&[u8]>) -> Vec<ChangeHash> {
    bytes
        .unwrap_or_default()
        .chunks_exact(32)
        .filter_map(|c| ChangeHash::try_from(c).ok())
        .collect()
}
