//! Merging the server's feed entries into working copies of the records,
//! before a page is written: a copy per record touched, rebuilt when an
//! entry fails half-way, and the reason to hold an entry this app cannot
//! apply.

use automerge::ChangeHash;

use super::held::{HeldReason, Merge};
use super::{Store, StoreError};
use crate::document::{DocumentError, RecordDoc};
use crate::sync::wire::FeedEntry;

impl Store {
    /// Merges one feed entry into the page's working copies.
    pub(super) fn merge_entry(
        &mut self,
        entry: &FeedEntry,
        touched: &mut Vec<Touched>,
    ) -> Result<(), Merge> {
        if let Some(at) = touched
            .iter()
            .position(|t| t.doc.header().id == entry.record_id)
        {
            let t = &mut touched[at];
            let applied = t
                .doc
                .apply_changes(&entry.changes)
                .and_then(|()| t.doc.index_columns().map(|_| ()));
            if let Err(e) = applied {
                // The copy may hold part of the failed entry: rebuild it
                // from what is stored and this page's earlier entries.
                let t = touched.remove(at);
                let rebuilt = self.rebuild(t).map_err(Merge::Fail)?;
                touched.push(rebuilt);
                return Err(Merge::Hold(HeldReason::of(&e)));
            }
            t.changes.extend_from_slice(&entry.changes);
            t.entries.push((entry.seq, entry.changes.clone()));
            return Ok(());
        }
        let actor = self.actor.clone();
        match self.with_doc(&entry.record_id, |doc| (doc.heads(), doc.fork(actor))) {
            Ok((local_heads, mut copy)) => {
                copy.apply_changes(&entry.changes)
                    .and_then(|()| copy.index_columns().map(|_| ()))
                    .map_err(|e| Merge::Hold(HeldReason::of(&e)))?;
                if copy.heads() == local_heads {
                    // Nothing new (an answer delivered twice, a history
                    // this device already holds): nothing to store or tell.
                    return Err(Merge::Skip);
                }
                touched.push(Touched {
                    doc: copy,
                    changes: entry.changes.clone(),
                    entries: vec![(entry.seq, entry.changes.clone())],
                    is_new: false,
                    local_heads,
                });
                Ok(())
            }
            Err(StoreError::NotFound) => {
                let doc = match RecordDoc::from_changes(&entry.changes, self.actor.clone()) {
                    Ok(doc) => doc,
                    // Later changes to a record this device no longer
                    // holds (data minimisation removed it): not needed.
                    Err(DocumentError::MissingDependencies) => return Err(Merge::Skip),
                    Err(e) => return Err(Merge::Hold(HeldReason::of(&e))),
                };
                if doc.kind() != entry.kind || doc.header().id != entry.record_id {
                    return Err(Merge::Hold(HeldReason::Unreadable));
                }
                doc.index_columns()
                    .map_err(|e| Merge::Hold(HeldReason::of(&e)))?;
                touched.push(Touched {
                    doc,
                    changes: entry.changes.clone(),
                    entries: vec![(entry.seq, entry.changes.clone())],
                    is_new: true,
                    local_heads: Vec::new(),
                });
                Ok(())
            }
            // A stored copy this app cannot read: hold what comes for it.
            Err(StoreError::Document(e)) => Err(Merge::Hold(HeldReason::of(&e))),
            Err(e) => Err(Merge::Fail(e)),
        }
    }

    /// A working copy rebuilt from the stored record and the entries of
    /// the page merged into it so far.
    fn rebuild(&mut self, t: Touched) -> Result<Touched, StoreError> {
        let doc = if t.is_new {
            RecordDoc::from_changes(&t.changes, self.actor.clone())?
        } else {
            let actor = self.actor.clone();
            let mut copy = self.with_doc(&t.doc.header().id, |stored| stored.fork(actor))?;
            copy.apply_changes(&t.changes)?;
            copy
        };
        Ok(Touched { doc, ..t })
    }
}

/// A record changed by a page of the feed, merged but not yet written.
pub(super) struct Touched {
    pub(super) doc: RecordDoc,
    pub(super) changes: Vec<u8>,
    /// The feed entries merged in (sequence number, bytes), to hold them
    /// if the record cannot be stored.
    pub(super) entries: Vec<(u64, Vec<u8>)>,
    pub(super) is_new: bool,
    /// The record's heads before the page merged into it.
    pub(super) local_heads: Vec<ChangeHash>,
}
