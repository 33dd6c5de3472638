//! The checks of a pushed record, without touching the store: a new
//! record's header and every rule of its kind (`judge_new`), and a merged
//! record's schema, times and write rules against the server's copy
//! (`check_merged`, with `rules::check_write`: scope, the role's right to
//! each promise entry, the edit rule). What they refuse is per record.

use automerge::ActorId;
use pocketbook_core::document::{DocumentError, RecordDoc};
use pocketbook_core::model::Record;
use pocketbook_core::reference::Reference;
use pocketbook_core::rules::Write;
use pocketbook_core::sync::wire::{PushedRecord, RejectionCode};

use super::times::{
    attendance_problems, entry_problems, moved_past_making, plausible, time_problem,
    unreadable_times,
};
use super::{Arrival, OUT_OF_SCOPE, PushResult, document_rejection, reject};
use crate::clock::normalise_time;
use crate::scope::{self, RecordScope};
use crate::storage::Principal;

/// A new record that passed every check, ready to commit.
pub(super) struct NewRecord {
    pub(super) doc: RecordDoc,
    pub(super) record: Record,
    pub(super) occurred_at: String,
    /// The pushed bytes are exactly the document's changes (each chunk one
    /// change, none repeated): the feed entry can carry them as they came.
    pub(super) exact: bool,
}

/// Every check of a new record, without touching the store.
pub(super) fn judge_new(
    principal: &Principal,
    push: &PushedRecord,
    arrival: &Arrival,
) -> Result<NewRecord, PushResult> {
    let id = &push.record_id;
    // The record is read in the walk that reads the header (`walked`);
    // it is judged below, after the header, as before.
    let (doc, exact, walked) =
        RecordDoc::from_changes_walked(&push.changes, ActorId::random(), push.kind)
            .map_err(|e| document_rejection(id, e))?;
    let header = doc.header().clone();
    if header.id != *id {
        return Err(reject(
            id,
            RejectionCode::Corrupt,
            "the changes belong to another record id",
        ));
    }
    if header.kind != push.kind {
        return Err(reject(
            id,
            RejectionCode::WrongKind,
            format!("the record is a {}, not a {}", header.kind, push.kind),
        ));
    }
    if !scope::may_author(principal, &header.author.shoulder_number) {
        return Err(reject(id, RejectionCode::Forbidden, OUT_OF_SCOPE));
    }
    // The rest of the header is the officer as the server knows them.
    let officer = &principal.officer;
    if header.author.name != officer.name || header.author.station != officer.station {
        return Err(reject(
            id,
            RejectionCode::Forbidden,
            "author: the name and station must be the officer's as enrolled on the server",
        ));
    }
    if Reference::parse(&header.reference).map(|r| r.as_str() == header.reference) != Ok(true) {
        return Err(reject(
            id,
            RejectionCode::Invalid,
            "reference: not a reference in its canonical form",
        ));
    }
    if normalise_time(&header.created_at).is_none() {
        return Err(reject(
            id,
            RejectionCode::Invalid,
            time_problem("created_at"),
        ));
    }
    let (occurred_at, record, _) = check_merged(id, &doc, walked, None, principal, arrival)?;
    Ok(NewRecord {
        doc,
        record,
        occurred_at,
        exact,
    })
}

/// The server's copy of an existing record, and its scope.
pub(super) struct Before<'a> {
    pub(super) record: &'a Record,
    pub(super) scope: RecordScope<'a>,
    /// When the record was made, as the server indexed it
    /// ([`super::times::made_at`]): what a changed encounter time is bounded by.
    pub(super) made_at: &'a str,
}

/// The merged record, checked: every rule of its kind, its times, and the
/// write rules against `before` (the server's copy; `None` for a new
/// record). `walked` is the record already read and checked in the walk
/// that read the header ([`RecordDoc::from_changes_walked`]); `None`: it
/// is read here. Returns the encounter time in the indexed form, and what the
/// write was (the promise entries it adds, and whether it is only those).
pub(super) fn check_merged(
    id: &str,
    doc: &RecordDoc,
    walked: Option<Result<Record, DocumentError>>,
    before: Option<Before<'_>>,
    principal: &Principal,
    arrival: &Arrival,
) -> Result<(String, Record, Write), PushResult> {
    let (before, scope, made) = match before {
        Some(b) => (Some(b.record), Some(b.scope), Some(b.made_at)),
        None => (None, None, None),
    };
    // The whole document tree against the kind's schema first: the server
    // keeps only what the schema defines.
    // One walk checks the tree and reads the record from what it read.
    let record = walked
        .unwrap_or_else(|| doc.checked_record_in_one_walk())
        .map_err(|e| document_rejection(id, e))?;
    let problems = unreadable_times(before, &record);
    if !problems.is_empty() {
        return Err(reject(id, RejectionCode::Invalid, problems.join("; ")));
    }
    let occurred = record.body.occurred_at();
    // A stored time of an older server may not be in the accepted
    // spelling; it was re-indexed leniently and may stay as it is.
    let occurred_at = normalise_time(occurred)
        .or_else(|| crate::clock::lenient_time(occurred))
        .ok_or_else(|| reject(id, RejectionCode::Invalid, time_problem("occurred_at")))?;
    // What a person may not do is refused (and audited) before what a
    // wrong clock may cause.
    let write = match (before, scope) {
        (Some(before), Some(scope)) => scope::check_write(principal, scope, before, &record),
        _ => check_edit(None, &record, &principal.officer.shoulder_number).map(|()| Write {
            new_entries: Vec::new(),
            entries_only: false,
        }),
    }
    .map_err(|problem| reject(id, RejectionCode::Forbidden, problem))?;
    if before.map(|b| b.body.occurred_at()) != Some(occurred) {
        plausible(record.body.kind(), &occurred_at, arrival)
            .map_err(|problem| reject(id, RejectionCode::Invalid, problem))?;
        if let Some(made) = made {
            moved_past_making(record.body.kind(), made, &occurred_at)
                .map_err(|problem| reject(id, RejectionCode::Invalid, problem))?;
        }
    }
    let mut late = attendance_problems(before, &record, arrival);
    late.extend(entry_problems(before, &record, arrival));
    if !late.is_empty() {
        return Err(reject(id, RejectionCode::Invalid, late.join("; ")));
    }
    Ok((occurred_at, record, write))
}

/// The rules of an edit by `editor` (`before` is the server's copy, `None`
/// for a new record), from the core's one rule (`pocketbook_core::rules`,
/// the "Record fields" table of ARCHITECTURE.md): entries in another
/// officer's name are never new, altered or removed, and an encounter whose
/// receipt was recorded keeps its fields. The message names fields and
/// positions, never content or a device-chosen id.
fn check_edit(before: Option<&Record>, after: &Record, editor: &str) -> Result<(), String> {
    pocketbook_core::rules::check_edit(before, after, editor).map_err(|refusal| refusal.message)
}
