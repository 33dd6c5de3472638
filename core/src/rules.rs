//! The one rule of which edits to a record are allowed, run by both ends:
//! the server on every merged push (in place of a check of new entries
//! only), and the device before it stores an edit. It is the "Record fields"
//! table of `ARCHITECTURE.md` as code: pure functions over typed records,
//! comparing the record before an edit with the record after it.
//!
//! - the header never changes, and a new record is in the editor's name;
//! - every scene action, note entry, tick entry and promise entry new in
//!   `after` is in the editor's name, and no existing one is removed or altered, by anyone
//!   (a correction is a new note entry, a later tick a new tick entry);
//! - co-attending officers are only ever added;
//! - the fields a scene record is opened with never change;
//! - an encounter (stop search, stop account) is changed only by its
//!   author; once its receipt is recorded (given or not given) every field
//!   but the notebook and the receipt is frozen, so the retention clock
//!   never moves; a receipt "not given" may become "given", and a given
//!   receipt never changes.
//!
//! Refusals name the field and the entry id, never what was written.
//!
//! Whether an officer may change a record at all (scope, role) is
//! [`scope`]'s question, asked before this one; both run on both ends.
//! [`writes::check_write`] asks both at once, and also lets people who may
//! not otherwise change a record add promise entries to it (a
//! supervisor's review, a victim update by station staff).

pub mod scope;
pub mod writes;

pub use scope::{Actor, RecordScope, Role, UnknownRole, may_author, may_change, may_see};
pub use writes::{AppendIndex, Edited, NewEntry, Write, check_write, may_add_entry, may_write};

use std::collections::{HashMap, HashSet};

use crate::model::{NoteEntry, PromiseEntryKind, Receipt, Record, RecordBody, SceneAttendance};

/// Why an edit is refused: which field (and entry), and what rule it
/// breaks. Holds no record content, so it may be logged and audited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EditRefusal {
    /// The field, as `Record fields` names it (e.g. `notes`, `actions`).
    pub field: String,
    /// The id of the entry concerned, for an entry of a list.
    pub entry_id: Option<String>,
    pub message: String,
}

fn refuse(field: &str, entry_id: Option<&str>, message: String) -> EditRefusal {
    EditRefusal {
        field: field.to_string(),
        entry_id: entry_id.map(str::to_string),
        message,
    }
}

/// Checks that `after` is an edit of `before` (`None`: a new record) that
/// the officer `editor` (a shoulder number) may make. Whether the editor may
/// change this record at all (scope, role) is [`scope`]'s question, asked
/// before this one.
///
/// A "review done" promise entry is never allowed here: only a supervisor
/// adds one, and only [`check_write`] knows the writer's role.
pub fn check_edit(
    before: Option<&Record>,
    after: &Record,
    editor: &str,
) -> Result<(), EditRefusal> {
    check_edit_adding(before, after, editor, &|kind| {
        kind != PromiseEntryKind::ReviewDone
    })
}

/// [`check_edit`], with the promise entry kinds the writer may add.
pub(crate) fn check_edit_adding(
    before: Option<&Record>,
    after: &Record,
    editor: &str,
    may_add: &dyn Fn(PromiseEntryKind) -> bool,
) -> Result<(), EditRefusal> {
    match before {
        None if after.header.author.shoulder_number != editor => {
            return Err(refuse(
                "header.author",
                None,
                "a new record must be in the name of the officer who makes it".into(),
            ));
        }
        Some(before) if before.header != after.header => {
            return Err(refuse(
                "header",
                None,
                "a record's header never changes".into(),
            ));
        }
        _ => {}
    }
    check_entries(
        "notes",
        "note entry",
        before.map(|b| b.body.notes()).unwrap_or_default(),
        after.body.notes(),
        editor,
        |e: &NoteEntry| e.id.as_str(),
        |e| e.written_by.as_str(),
        NoteEntry::same_entry,
    )?;
    match (&after.body, before.map(|b| &b.body)) {
        (RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene }, previous) => {
            check_scene(previous.and_then(RecordBody::scene), scene, editor, may_add)
        }
        (_, None) => Ok(()),
        (after_body, Some(before_body)) => check_encounter(
            before_body,
            after_body,
            editor,
            &after.header.author.shoulder_number,
        ),
    }
}

/// One append-only list: entries of `before` all still in `after`,
/// unchanged; entries new in `after` in the editor's name.
#[allow(clippy::too_many_arguments)] // one call per list kind, each spelled out
fn check_entries<T>(
    field: &str,
    what: &str,
    before: &[T],
    after: &[T],
    editor: &str,
    id: impl Fn(&T) -> &str,
    author: impl Fn(&T) -> &str,
    same: impl Fn(&T, &T) -> bool,
) -> Result<(), EditRefusal> {
    let known: HashMap<&str, &T> = before.iter().map(|e| (id(e), e)).collect();
    let mut kept: HashSet<&str> = HashSet::new();
    // Messages name entries by position, never by the id a device chose:
    // the message reaches the server's audit trail (`entry_id` carries it
    // for the device's own screens).
    for (position, entry) in after.iter().enumerate() {
        let position = position + 1;
        match known.get(id(entry)) {
            Some(old) if same(old, entry) => {
                kept.insert(id(entry));
            }
            Some(_) => {
                return Err(refuse(
                    field,
                    Some(id(entry)),
                    format!("{what} {position} was altered; entries are never changed"),
                ));
            }
            None if author(entry) != editor => {
                return Err(refuse(
                    field,
                    Some(id(entry)),
                    format!("{what} {position} is written in another officer's name"),
                ));
            }
            None => {}
        }
    }
    if let Some((position, gone)) = before
        .iter()
        .enumerate()
        .find(|(_, e)| !kept.contains(id(e)))
    {
        return Err(refuse(
            field,
            Some(id(gone)),
            format!(
                "{what} {} of the server's copy was removed; entries are never removed",
                position + 1
            ),
        ));
    }
    Ok(())
}

fn check_scene(
    before: Option<&SceneAttendance>,
    after: &SceneAttendance,
    editor: &str,
    may_add: &dyn Fn(PromiseEntryKind) -> bool,
) -> Result<(), EditRefusal> {
    let known: HashSet<&str> = before
        .map(|b| b.promise_entries.iter().map(|e| e.id.as_str()).collect())
        .unwrap_or_default();
    if let Some(entry) = after
        .promise_entries
        .iter()
        .find(|e| !known.contains(e.id.as_str()) && !may_add(e.kind))
    {
        return Err(refuse(
            "promise_entries",
            Some(&entry.id),
            format!(
                "a \"{}\" entry may not be added by this officer",
                entry.kind.as_str()
            ),
        ));
    }
    check_entries(
        "actions",
        "scene action",
        before.map(|b| b.actions.as_slice()).unwrap_or_default(),
        &after.actions,
        editor,
        |a| a.id.as_str(),
        |a| a.recorded_by.as_str(),
        |a, b| a == b,
    )?;
    check_entries(
        "promise_entries",
        "promise entry",
        before
            .map(|b| b.promise_entries.as_slice())
            .unwrap_or_default(),
        &after.promise_entries,
        editor,
        |e| e.id.as_str(),
        |e| e.made_by.as_str(),
        |a, b| a == b,
    )?;
    check_entries(
        "checklist",
        "tick",
        before.map(|b| b.checklist.as_slice()).unwrap_or_default(),
        &after.checklist,
        editor,
        |t| t.id.as_str(),
        |t| t.ticked_by.as_str(),
        |a, b| a == b,
    )?;
    let Some(before) = before else {
        return Ok(());
    };
    if let Some(gone) = before
        .attending
        .iter()
        .find(|o| !after.attending.contains(o))
    {
        return Err(refuse(
            "attending",
            Some(gone),
            "a co-attending officer is never removed".into(),
        ));
    }
    for (field, same) in [
        ("reasons", before.reasons == after.reasons),
        ("grade", before.grade == after.grade),
        ("call_received", before.call_received == after.call_received),
        ("appointment", before.appointment == after.appointment),
        ("location", before.location == after.location),
    ] {
        if !same {
            return Err(refuse(
                field,
                None,
                format!("{field} is fixed when the record is opened"),
            ));
        }
    }
    Ok(())
}

fn check_encounter(
    before: &RecordBody,
    after: &RecordBody,
    editor: &str,
    author: &str,
) -> Result<(), EditRefusal> {
    let fields_changed = without_notes_and_receipt(before) != without_notes_and_receipt(after);
    let (old, new) = (before.receipt(), after.receipt());
    let receipt_changed = old != new;
    if (fields_changed || receipt_changed) && editor != author {
        return Err(refuse(
            if fields_changed {
                "encounter"
            } else {
                "receipt"
            },
            None,
            "only the record's author changes an encounter record".into(),
        ));
    }
    if old.is_some() && fields_changed {
        let fields = changed_fields(before, after);
        return Err(refuse(
            "encounter",
            None,
            format!(
                "{}: cannot change once the receipt is recorded; write a correction in the notes",
                fields.join(", ")
            ),
        ));
    }
    match (old, new) {
        (Some(Receipt::Given { .. }), _) if receipt_changed => Err(refuse(
            "receipt",
            None,
            "a receipt once given never changes".into(),
        )),
        (Some(Receipt::NotGiven { .. }), Some(Receipt::Given { .. })) => Ok(()),
        (Some(Receipt::NotGiven { .. }), _) if receipt_changed => Err(refuse(
            "receipt",
            None,
            "a receipt recorded as not given may only become given".into(),
        )),
        _ => Ok(()),
    }
}

/// The encounter's own fields, for comparison: the notebook (append-only,
/// checked by itself) and the receipt (its own rule) left out.
/// The names of the encounter fields that differ (never their values).
fn changed_fields(before: &RecordBody, after: &RecordBody) -> Vec<String> {
    let inner = |body: &RecordBody| match serde_json::to_value(without_notes_and_receipt(body)) {
        Ok(serde_json::Value::Object(mut map)) => map
            .remove("search")
            .or_else(|| map.remove("account"))
            .unwrap_or_default(),
        _ => serde_json::Value::Null,
    };
    let (b, a) = (inner(before), inner(after));
    let (Some(b), Some(a)) = (b.as_object(), a.as_object()) else {
        return vec!["encounter".into()];
    };
    let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    let changed: Vec<String> = keys
        .into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .cloned()
        .collect();
    if changed.is_empty() {
        vec!["encounter".into()]
    } else {
        changed
    }
}

fn without_notes_and_receipt(body: &RecordBody) -> RecordBody {
    let mut body = body.clone();
    match &mut body {
        RecordBody::StopSearch { search } => {
            search.notes.clear();
            search.receipt = None;
        }
        RecordBody::StopAccount { account } => {
            account.notes.clear();
            account.receipt = None;
        }
        RecordBody::SceneAttendance { .. } | RecordBody::HomeBurglary { .. } => {}
    }
    body
}

#[cfg(test)]
mod tests;
