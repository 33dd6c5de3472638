//! Documents recently used, kept in memory: an officer adding action
//! after action to one scene never reloads its history.
//!
//! Beside each document the cache may keep the typed record read from it
//! (a [`Memo`]), stamped with the document's heads. Reading a whole record
//! out of its document costs time in proportion to the record (Automerge
//! reads every field), and an edit needs the record as it was before (for
//! the write rule) and as it is after: the record read after one edit is
//! the "before" of the next. A memo is the record at the heads it was read
//! at, so it is never stale: while the document's heads are still those,
//! it is the record; once changes came (a sync's, a merge's), it is the
//! "before" the record now is read from, reading only what those changes
//! wrote ([`RecordDoc::record_since`], which reads the whole record when
//! it cannot). It leaves the cache with its document (an erased record's
//! text does not stay in memory).
//!
//! A memo may also keep what the write rule read of its record
//! ([`AppendIndex`]: each list checked against itself, the ids of the
//! scene actions), so the next append of actions is checked on what it
//! appends, not on every entry of the record again. It is the record's
//! only while the heads are the memo's.

use std::collections::{HashMap, VecDeque};

use automerge::ChangeHash;

use crate::document::{DocumentError, RecordDoc};
use crate::model::Record;
use crate::rules::AppendIndex;

/// Documents kept in memory.
const CACHE_CAPACITY: usize = 32;

/// A record as read from its document at `heads`.
pub(super) struct Memo {
    heads: Vec<ChangeHash>,
    record: Record,
    index: Option<AppendIndex>,
}

impl Memo {
    /// The record of `doc` now: the memo's, when the document has not
    /// changed since it was read; else read from the memo and what changed
    /// since; else (no memo) read whole. With it, the write rule's index
    /// of the record when the memo kept one and the document has not
    /// changed since.
    pub(super) fn into_parts(
        memo: Option<Memo>,
        doc: &mut RecordDoc,
    ) -> Result<(Record, Option<AppendIndex>), DocumentError> {
        match memo {
            Some(m) if m.heads == doc.heads() => Ok((m.record, m.index)),
            Some(m) => Ok((doc.record_since(&m.record, &m.heads)?, None)),
            None => Ok((doc.record_in_one_walk()?, None)),
        }
    }

    /// A memo of `record`, read from `doc` as it is now.
    pub(super) fn of(doc: &mut RecordDoc, record: Record) -> Memo {
        Memo {
            heads: doc.heads(),
            record,
            index: None,
        }
    }

    /// This memo with the write rule's `index` of its record.
    pub(super) fn with_index(self, index: Option<AppendIndex>) -> Memo {
        Memo { index, ..self }
    }
}

/// A small least-recently-used cache of loaded documents.
#[derive(Default)]
pub(super) struct DocCache {
    docs: HashMap<String, (RecordDoc, Option<Memo>)>,
    order: VecDeque<String>,
}

impl DocCache {
    /// Takes a document out, forgetting its memo.
    pub(super) fn take(&mut self, id: &str) -> Option<RecordDoc> {
        self.take_with_memo(id).map(|(doc, _)| doc)
    }

    /// Takes a document out with its memo, if one is kept.
    pub(super) fn take_with_memo(&mut self, id: &str) -> Option<(RecordDoc, Option<Memo>)> {
        let entry = self.docs.remove(id)?;
        self.order.retain(|o| o != id);
        Some(entry)
    }

    pub(super) fn put(&mut self, doc: RecordDoc) {
        self.put_with_memo(doc, None);
    }

    /// Puts a newer copy of a document in (a sync's merge of it), keeping
    /// the memo of the copy it replaces: the record at the memo's heads is
    /// the same in every copy that holds them, and the next read starts
    /// from it ([`Memo::into_parts`]).
    pub(super) fn replace(&mut self, doc: RecordDoc) {
        let memo = self.docs.remove(&doc.header().id).and_then(|(_, m)| m);
        self.put_with_memo(doc, memo);
    }

    pub(super) fn put_with_memo(&mut self, doc: RecordDoc, memo: Option<Memo>) {
        let id = doc.header().id.clone();
        self.order.retain(|o| o != &id);
        self.order.push_back(id.clone());
        self.docs.insert(id, (doc, memo));
        while self.order.len() > CACHE_CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.docs.remove(&old);
            }
        }
    }
}
