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

mod appended;

pub use appended::AppendIndex;

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
        return Err(refuse("record", None, READ_ONLY.into()));
    }
    Ok(Write {
        new_entries,
        entries_only: true,
    })
}

/// [`check_write`] for a write that appended the last `added` scene
/// actions of `after` (a scene or burglary record) and changed nothing
/// else: the same answer as `check_write(actor, scope, before, after)`,
/// `before` being `after` without those actions, without `before` having
/// to be built. The device store checks its own appends this way
/// (`core/src/store/checked.rs`); `rules::tests` holds the check of both
/// answers against each other.
///
/// Each list the write did not touch is checked against itself, as
/// [`check_write`] finds it in both records (an entry id held twice with
/// different content is refused there too); the actions against the
/// actions before the new ones. No promise entry is new, so a writer who
/// may not otherwise change the record is refused, as the comparison of
/// the rest of the record does in [`check_write`].
///
/// What it reads of the record before the append is kept in `index` (see
/// [`AppendIndex`]): used when it holds the actions before the append,
/// built otherwise; on an accepted append it is brought up to `after` (or
/// emptied, to be built again next time).
pub(crate) fn check_appended_with(
    actor: Actor<'_>,
    scope: RecordScope<'_>,
    after: &Record,
    added: usize,
    index: &mut Option<AppendIndex>,
) -> Result<Write, EditRefusal> {
    if !may_write(actor, scope) {
        return Err(refuse(
            "record",
            None,
            "you may not change this record".into(),
        ));
    }
    let actions = after
        .body
        .scene()
        .map(|s| s.actions.as_slice())
        .unwrap_or_default();
    let held = actions.len().saturating_sub(added);
    let known = match index.take() {
        Some(known) if known.held() == held => known,
        _ => AppendIndex::of(after, held),
    };
    known.check(actions, actor.shoulder_number)?;
    let write = if may_change(actor, scope) {
        Write {
            new_entries: Vec::new(),
            entries_only: false,
        }
    } else if added > 0 {
        return Err(refuse("record", None, READ_ONLY.into()));
    } else {
        Write {
            new_entries: Vec::new(),
            entries_only: true,
        }
    };
    let mut known = known;
    if known.extend(actions) {
        *index = Some(known);
    }
    Ok(write)
}

/// A record before and after a write, as the device store hands it to
/// the rule: whole records both, or (a write that only appended scene
/// actions) the record after and how many actions it appended, the record
/// before being the same without them.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // made and moved once per edit
pub enum Edited {
    ActionsAppended { record: Record, added: usize },
    Whole { before: Record, after: Record },
}

impl Edited {
    /// [`check_write`] on this write (for appended actions, through
    /// [`check_appended_with`], the same answer).
    pub fn check(&self, actor: Actor<'_>, scope: RecordScope<'_>) -> Result<Write, EditRefusal> {
        self.check_with(actor, scope, &mut None)
    }

    /// [`Edited::check`] with what the rule read of the record before
    /// kept in `index` (an [`AppendIndex`] of the record before this
    /// write, or none), left as the index of the record after an accepted
    /// append of actions, and emptied by any other write.
    pub fn check_with(
        &self,
        actor: Actor<'_>,
        scope: RecordScope<'_>,
        index: &mut Option<AppendIndex>,
    ) -> Result<Write, EditRefusal> {
        match self {
            Edited::ActionsAppended { record, added } => {
                check_appended_with(actor, scope, record, *added, index)
            }
            Edited::Whole { before, after } => {
                *index = None;
                check_write(actor, scope, before, after)
            }
        }
    }

    /// The record after the write.
    pub fn after(&self) -> &Record {
        match self {
            Edited::ActionsAppended { record, .. } => record,
            Edited::Whole { after, .. } => after,
        }
    }

    /// The record after the write, owned.
    pub fn into_after(self) -> Record {
        match self {
            Edited::ActionsAppended { record, .. } => record,
            Edited::Whole { after, .. } => after,
        }
    }
}

/// The refusal of a change by someone who may only add promise entries.
const READ_ONLY: &str = "this record is read-only for you: only its author and the officers attending may change it (you may add the promise entries your role allows)";

fn entries(body: &RecordBody) -> &[PromiseEntry] {
    body.scene()
        .map(|s| s.promise_entries.as_slice())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
