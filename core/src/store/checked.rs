//! Edits checked before they are stored, by the rules the server runs
//! (`rules::check_write`): scope (the officer may change the record: its
//! author, or named as co-attending; a supervisor's view of the station is
//! read-only but for the promise entries the role may add, such as a
//! review) and the edit rule (authorship, append-only entries, frozen
//! fields). An edit either rule refuses is never stored, so it can never
//! reach the server to be refused there.
//!
//! The officer's role and station are the latest the server sent
//! ([`Store::access`]); before it has sent any (a notebook never enrolled,
//! or a server of protocol 1) the officer is taken to write in the field,
//! which changes nothing for scope: even a supervisor changes only their
//! own and shared records.

use super::cache::Memo;
use super::writes::columns_of;
use super::{Store, StoreError};
use crate::document::{DocumentError, RecordDoc};
use crate::model::{Record, RecordHeader};
use crate::rules::{self, Actor, RecordScope, Role};

/// Why the store refused an edit: no record content, only the rule.
pub(super) fn forbidden(message: impl Into<String>) -> StoreError {
    StoreError::Forbidden(message.into())
}

impl Store {
    /// [`Store::edit`] made by the officer `editor` (a shoulder number),
    /// refused with [`StoreError::Forbidden`] when scope or the edit rule
    /// would refuse it; nothing is stored then.
    pub fn edit_as<T>(
        &mut self,
        id: &str,
        editor: &str,
        edit: impl FnOnce(&mut RecordDoc) -> Result<T, DocumentError>,
    ) -> Result<T, StoreError> {
        let access = self.access()?;
        let role = access.as_ref().map_or(Role::Officer, |a| a.role);
        let (mut doc, memo) = self.take_loaded(id)?;
        // The record as it is: from memory when the last read or edit of
        // it left it there and the document has not changed since.
        let (before, mut index) = match Memo::into_parts(memo, &mut doc) {
            Ok(parts) => parts,
            Err(e) => {
                self.cache.put(doc);
                return Err(e.into());
            }
        };
        let record = scope_of(&before);
        let station = access
            .as_ref()
            .map_or(&before.header.author.station, |a| &a.station)
            .clone();
        let actor = Actor {
            shoulder_number: editor,
            role,
            station: &station,
        };
        if !rules::may_write(actor, record) {
            let refusal = forbidden(if rules::may_see(actor, record) {
                "this record is read-only for you: only its author and the officers attending may change it"
            } else {
                "you may not change this record"
            });
            let memo = Memo::of(&mut doc, before).with_index(index);
            self.cache.put_with_memo(doc, Some(memo));
            return Err(refusal);
        }
        // From here on a failure drops this copy of the document (the
        // next use reloads it from disk), so memory never holds what the
        // disk does not.
        let heads = doc.heads();
        let value = edit(&mut doc)?;
        if doc.heads() == heads {
            let memo = Memo::of(&mut doc, before).with_index(index);
            self.cache.put_with_memo(doc, Some(memo));
            return Ok(value);
        }
        // The record after the edit against the record before it: the
        // rule the server runs. The record after is the record before
        // with what the edit wrote read from the document (the new entry,
        // the field written), or read whole where that does not apply
        // (`RecordDoc::record_since`); an edit that only appended scene
        // actions is checked on what it appended
        // (`rules::Edited::ActionsAppended`), the record before not copied,
        // and with what the rule read of it at the last append kept
        // (`rules::AppendIndex`), on the new actions alone.
        let (edited, change) = doc.record_after_local_edit(before, &heads)?;
        let scope = match &edited {
            rules::Edited::ActionsAppended { record, .. } => scope_of(record),
            rules::Edited::Whole { before, .. } => scope_of(before),
        };
        if let Err(refusal) = edited.check_with(actor, scope, &mut index) {
            return Err(forbidden(refusal.message));
        }
        let change =
            change.ok_or_else(|| DocumentError::Shape("edit produced no change".into()))?;
        // Scene actions are not what any promise stands on; for any other
        // edit the terms are written when they changed (an arrival, an
        // entry, a tick: not a note).
        let terms = match &edited {
            rules::Edited::ActionsAppended { .. } => None,
            rules::Edited::Whole { before, after } => {
                let terms = crate::pledge::terms(&after.body);
                (crate::pledge::terms(&before.body) != terms).then_some(terms)
            }
        };
        self.append_changes(
            &mut doc,
            &change,
            true,
            columns_of(edited.after())?,
            terms.as_deref(),
        )?;
        let memo = Memo::of(&mut doc, edited.into_after()).with_index(index);
        self.cache.put_with_memo(doc, Some(memo));
        Ok(value)
    }

    /// Whether the officer named in `header` may open a record: a role
    /// that writes records in the field. (The header is in their name by
    /// construction, and every entry of the new document is stamped with
    /// it, so the edit rule's creation check holds.)
    pub fn check_create(&self, header: &RecordHeader) -> Result<(), StoreError> {
        let access = self.access()?;
        let actor = Actor {
            shoulder_number: &header.author.shoulder_number,
            role: access.as_ref().map_or(Role::Officer, |a| a.role),
            station: &header.author.station,
        };
        if rules::may_author(actor, &header.author.shoulder_number) {
            Ok(())
        } else {
            Err(forbidden("your role does not write records in the field"))
        }
    }
}

/// A record as the scope rule sees it: author, the author's station, and
/// the officers named as attending.
fn scope_of(record: &Record) -> RecordScope<'_> {
    RecordScope {
        author: &record.header.author.shoulder_number,
        station: &record.header.author.station,
        readers: record
            .body
            .scene()
            .map(|s| s.attending.as_slice())
            .unwrap_or_default(),
    }
}
