//! Who may write to an existing record, as one check of scope and the edit
//! rule together: an editor (author, co-attending officer) makes any edit
//! `check_edit` allows; and promise entries ("victim updated", "review
//! done", "contact made") may also be added by people who may not
//! otherwise change the record: a supervisor's review, a victim update by
//! station staff. Such a write holds those entries and nothing else, each
//! in the writer's own name; the caller audits each one.
//!
//! Who may add which kind (the "Record fields" table of `ARCHITECTURE.md`):
//!
//! | entry | editors | supervisors of the record's station | staff of the record's station |
//! |---|---|---|---|
//! | victim updated | yes | yes | yes |
//! | contact made | yes | yes | no |
//! | review done | only a supervisor (P5: a supervising detective) | yes | no |
//!
//! A correction is an entry of the same kind, so the same rights apply.

use std::collections::HashSet;

use super::scope::{Actor, RecordScope, Role, may_change};
use super::{EditRefusal, check_edit_adding, refuse};
use crate::model::{PromiseEntry, PromiseEntryKind, Record, RecordBody};

/// Whether `actor` may add a promise entry of `kind` to the record.
pub fn may_add_entry(actor: Actor<'_>, record: RecordScope<'_>, kind: PromiseEntryKind) -> bool {
    let editor = may_change(actor, record);
    let supervisor = actor.role == Role::Supervisor && record.station == actor.station;
    let staff = actor.role == Role::Staff && record.station == actor.station;
    match kind {
        PromiseEntryKind::VictimUpdated => editor || supervisor || staff,
        PromiseEntryKind::ContactMade => editor || supervisor,
        PromiseEntryKind::ReviewDone => supervisor || (editor && actor.role == Role::Supervisor),
    }
}

/// Whether `actor` may write to the record at all: change it, or add some
/// kind of promise entry to it.
pub fn may_write(actor: Actor<'_>, record: RecordScope<'_>) -> bool {
    may_change(actor, record)
        || PromiseEntryKind::ALL
            .iter()
            .any(|kind| may_add_entry(actor, record, *kind))
}

/// A promise entry new in a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub id: String,
    pub kind: PromiseEntryKind,
    /// Whether it corrects an earlier entry.
    pub correction: bool,
}

/// What an allowed write was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The promise entries it adds, in record order.
    pub new_entries: Vec<NewEntry>,
    /// The writer may not otherwise change the record: the write is these
    /// entries and nothing else (the server audits each one).
    pub entries_only: bool,
}

/// Checks that `after` is a write `actor` may make to `before`, a record
/// with this `scope`: scope, the role's rights to promise entries, and the
/// edit rule ([`super::check_edit`]). Refusals name the field and entry, never
/// content.
pub fn check_write(
    actor: Actor<'_>,
    scope: RecordScope<'_>,
    before: &Record,
    after: &Record,
) -> Result<Write, EditRefusal> {
    if !may_write(actor, scope) {
        return Err(refuse(
            "record",
            None,
            "you may not change this record".into(),
        ));
    }
    let known: HashSet<&str> = entries(&before.body)
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    let new_entries: Vec<NewEntry> = entries(&after.body)
        .iter()
        .filter(|e| !known.contains(e.id.as_str()))
        .map(|e| NewEntry {
            id: e.id.clone(),
            kind: e.kind,
            correction: e.corrects.is_some(),
        })
        .collect();
    for entry in &new_entries {
        if !may_add_entry(actor, scope, entry.kind) {
            return Err(refuse(
                "promise_entries",
                Some(&entry.id),
                format!(
                    "a \"{}\" entry may not be added to this record in the role of {}",
                    entry.kind.as_str(),
                    actor.role.as_str()
                ),
            ));
        }
    }
    // The kinds were checked above, with the writer's role.
    check_edit_adding(Some(before), after, actor.shoulder_number, &|_| true)?;
    if may_change(actor, scope) {
        return Ok(Write {
            new_entries,
            entries_only: false,
        });
    }
    // Not an editor: nothing but the new entries may differ.
    let mut stripped = after.body.clone();
    if let RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } =
        &mut stripped
    {
        scene
            .promise_entries
            .retain(|e| known.contains(e.id.as_str()));
    }
    if stripped != before.body {
        return Err(refuse(
            "record",
            None,
            "this record is read-only for you: only its author and the officers attending may change it (you may add the promise entries your role allows)".into(),
        ));
    }
    Ok(Write {
        new_entries,
        entries_only: true,
    })
}

fn entries(body: &RecordBody) -> &[PromiseEntry] {
    body.scene()
        .map(|s| s.promise_entries.as_slice())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
