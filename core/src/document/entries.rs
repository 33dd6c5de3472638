//! Reads the append-only parts of a record (note entries, checklist ticks,
//! promise entries, co-attending officers) from EVERY value Automerge holds for their key.
//!
//! A record made before these containers existed (schema v1) gets its list
//! from the first device that appends to it; two devices doing that offline
//! each create one, and Automerge keeps both as a conflict on the key. Reading
//! only the winner would hide the loser's entries, so every conflicting
//! container is read and combined, deduplicated by entry id, in an order that
//! is the same on every replica (`get_all` orders conflicts by operation id).
//! The legacy shapes (notes as Automerge text, the checklist as a map keyed by
//! item) are read in place, never rewritten.

use std::collections::HashSet;

use automerge::{ObjId, ObjType, Value};
use autosurgeon::hydrate_prop;

use super::error::DocumentError;
use super::tree::Reader;
use crate::model::{
    ChecklistItem, FieldViolation, LEGACY_NOTES_ID, NoteEntry, PromiseEntry, RecordHeader,
    StoredNote, Tick, mark_corrections,
};

/// Document key of the note entries (a list of maps of scalars).
pub const NOTE_ENTRIES: &str = "note_entries";
/// Document key of the tick entries (a flat list of maps of scalars).
pub const TICK_ENTRIES: &str = "tick_entries";
/// Document key of the promise entries (a flat list of maps of scalars).
pub const PROMISE_ENTRIES: &str = "promise_entries";
/// Document key of the co-attending officers (a map used as a set).
pub const ATTENDING: &str = "attending";
/// Schema-v1 notes: one Automerge text object.
pub const LEGACY_NOTES: &str = "notes";
/// Schema-v1 checklist: a map keyed by item.
pub const LEGACY_CHECKLIST: &str = "checklist";

/// Every object of type `ty` held at `key`, conflicts included.
fn all_objects<D: Reader>(
    doc: &D,
    parent: &ObjId,
    key: &str,
    ty: ObjType,
) -> Result<Vec<ObjId>, DocumentError> {
    Ok(doc
        .all_values(parent, key.into())?
        .into_iter()
        .filter_map(|(value, id)| match value {
            Value::Object(found) if found == ty => Some(id),
            _ => None,
        })
        .collect())
}

/// The id of the tick a schema-v1 record holds for `item`.
pub fn legacy_tick_id(item: ChecklistItem) -> String {
    format!("legacy-{}", item.as_str())
}

/// The notebook: the legacy text (if any) as one entry, then every entry of
/// every `note_entries` list, with `corrected_by` filled.
pub fn read_notes<D: Reader>(
    doc: &D,
    inner: &ObjId,
    header: &RecordHeader,
) -> Result<Vec<NoteEntry>, DocumentError> {
    let mut entries: Vec<NoteEntry> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    if let Some(legacy) = read_notes_legacy_only(doc, inner, header)? {
        seen.insert(legacy.id.clone());
        entries.push(legacy);
    }
    for list in all_objects(doc, inner, NOTE_ENTRIES, ObjType::List)? {
        for index in 0..doc.length(&list) {
            let stored: StoredNote = hydrate_prop(doc, &list, index)?;
            if seen.insert(stored.id.clone()) {
                let entry = NoteEntry::try_from(stored).map_err(|e| {
                    DocumentError::Invalid(vec![FieldViolation {
                        field: "notes.written_at".into(),
                        problem: e.to_string(),
                    }])
                })?;
                entries.push(entry);
            }
        }
    }
    mark_corrections(&mut entries);
    Ok(entries)
}

/// The whole tick history: the legacy checklist's ticks (one per item, in
/// checklist order), then every entry of every `tick_entries` list.
pub fn read_ticks<D: Reader>(doc: &D, inner: &ObjId) -> Result<Vec<Tick>, DocumentError> {
    let mut ticks: Vec<Tick> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for map in all_objects(doc, inner, LEGACY_CHECKLIST, ObjType::Map)? {
        let mut legacy: Vec<Tick> = Vec::new();
        for key in doc.map_keys(&map) {
            let mut tick: Tick = hydrate_prop(doc, &map, key.as_str())?;
            tick.id = legacy_tick_id(tick.item);
            legacy.push(tick);
        }
        legacy.sort_by_key(|t| ChecklistItem::ALL.iter().position(|i| *i == t.item));
        for tick in legacy {
            if seen.insert(tick.id.clone()) {
                ticks.push(tick);
            }
        }
    }
    for list in all_objects(doc, inner, TICK_ENTRIES, ObjType::List)? {
        for index in 0..doc.length(&list) {
            let tick: Tick = hydrate_prop(doc, &list, index)?;
            if seen.insert(tick.id.clone()) {
                ticks.push(tick);
            }
        }
    }
    Ok(ticks)
}

/// Every promise entry of every `promise_entries` list (a record made
/// before the list existed gets one from its first entry; two devices doing
/// that offline make two, both read), deduplicated by id.
pub fn read_promise_entries<D: Reader>(
    doc: &D,
    inner: &ObjId,
) -> Result<Vec<PromiseEntry>, DocumentError> {
    let mut entries: Vec<PromiseEntry> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for list in all_objects(doc, inner, PROMISE_ENTRIES, ObjType::List)? {
        for index in 0..doc.length(&list) {
            let entry: PromiseEntry = hydrate_prop(doc, &list, index)?;
            if seen.insert(entry.id.clone()) {
                entries.push(entry);
            }
        }
    }
    Ok(entries)
}

/// When the winning update agreement was made (`updates.agreed_at`, in
/// the agreement's own map): `None` when there is no agreement or it was
/// recorded before the time was kept.
pub fn read_agreed_at<D: Reader>(
    doc: &D,
    inner: &ObjId,
) -> Result<Option<crate::model::Timestamp>, DocumentError> {
    let Some((Value::Object(ObjType::Map), map)) = doc.get(inner, "updates")? else {
        return Ok(None);
    };
    let text: Option<String> = match doc.get(&map, "agreed_at")? {
        Some(_) => hydrate_prop(doc, &map, "agreed_at")?,
        None => None,
    };
    text.map(|t| {
        crate::model::Timestamp::from_stored(&t).map_err(|e| {
            DocumentError::Invalid(vec![FieldViolation {
                field: "updates.agreed_at".into(),
                problem: e.to_string(),
            }])
        })
    })
    .transpose()
}

/// Whether a promise entry with this id exists, and its kind.
pub fn promise_entry_kind<D: Reader>(
    doc: &D,
    inner: &ObjId,
    id: &str,
) -> Result<Option<crate::model::PromiseEntryKind>, DocumentError> {
    Ok(read_promise_entries(doc, inner)?
        .into_iter()
        .find(|e| e.id == id)
        .map(|e| e.kind))
}

/// The co-attending officers: the union of every `attending` map, sorted.
pub fn read_attending<D: Reader>(doc: &D, inner: &ObjId) -> Result<Vec<String>, DocumentError> {
    let mut officers: Vec<String> = Vec::new();
    for map in all_objects(doc, inner, ATTENDING, ObjType::Map)? {
        officers.extend(doc.map_keys(&map));
    }
    officers.sort();
    officers.dedup();
    Ok(officers)
}

/// Keys whose conflicting values are combined when read, so a conflict on
/// them is not a conflict anyone needs to resolve.
pub const COMBINED: &[&str] = &[
    NOTE_ENTRIES,
    TICK_ENTRIES,
    PROMISE_ENTRIES,
    ATTENDING,
    LEGACY_NOTES,
    LEGACY_CHECKLIST,
];

/// How many entries the lists of `key` hold (plus `legacy` legacy
/// entries), counted without reading them: what a bound is checked against.
pub fn count<D: Reader>(
    doc: &D,
    inner: &ObjId,
    key: &str,
    legacy: usize,
) -> Result<usize, DocumentError> {
    Ok(all_objects(doc, inner, key, ObjType::List)?
        .iter()
        .map(|list| doc.length(list))
        .sum::<usize>()
        + legacy)
}

/// How many legacy ticks a schema-v1 checklist holds.
pub fn legacy_tick_count<D: Reader>(doc: &D, inner: &ObjId) -> Result<usize, DocumentError> {
    Ok(all_objects(doc, inner, LEGACY_CHECKLIST, ObjType::Map)?
        .iter()
        .map(|map| doc.length(map))
        .sum())
}

/// Whether the notebook holds an entry with this id, reading only ids.
pub fn note_exists<D: Reader>(
    doc: &D,
    inner: &ObjId,
    header: &RecordHeader,
    id: &str,
) -> Result<bool, DocumentError> {
    if id == LEGACY_NOTES_ID {
        return Ok(read_notes_legacy_only(doc, inner, header)?.is_some());
    }
    for list in all_objects(doc, inner, NOTE_ENTRIES, ObjType::List)? {
        for index in 0..doc.length(&list) {
            if let Some((Value::Object(ObjType::Map), entry)) = doc.get(&list, index)?
                && let Some((Value::Scalar(found), _)) = doc.get(&entry, "id")?
                && found.as_str() == Some(id)
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// 1 if a schema-v1 record shows its notes text as an entry, else 0.
pub fn legacy_note_count<D: Reader>(
    doc: &D,
    inner: &ObjId,
    header: &RecordHeader,
) -> Result<usize, DocumentError> {
    Ok(usize::from(
        read_notes_legacy_only(doc, inner, header)?.is_some(),
    ))
}

/// The legacy notes entry alone, if the record has one.
fn read_notes_legacy_only<D: Reader>(
    doc: &D,
    inner: &ObjId,
    header: &RecordHeader,
) -> Result<Option<NoteEntry>, DocumentError> {
    for (value, id) in doc.all_values(inner, LEGACY_NOTES.into())? {
        let text = match value {
            Value::Object(ObjType::Text) => doc.text(&id)?,
            Value::Scalar(s) => s.as_str().unwrap_or_default().to_string(),
            _ => continue,
        };
        if !text.trim().is_empty() {
            return Ok(Some(NoteEntry {
                id: LEGACY_NOTES_ID.into(),
                written_by: header.author.shoulder_number.clone(),
                written_at: Some(header.created_at.clone()),
                text,
                corrects: None,
                corrected_by: Vec::new(),
            }));
        }
    }
    Ok(None)
}
