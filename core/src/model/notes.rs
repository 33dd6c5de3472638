//! The notebook of a record: an append-only list of entries, as in a paper
//! pocket notebook. Nothing is ever erased or overwritten; a correction is a
//! new entry naming the entry it corrects, and the corrected entry stays
//! readable, marked as corrected. See "Record fields" in `ARCHITECTURE.md`.

use std::collections::{HashMap, HashSet};

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Deserializer, Serialize};

use super::time::Timestamp;
use super::validate::{InvalidTime, Violations};

/// Most note entries one record may hold (the server refuses more).
pub const MAX_NOTE_ENTRIES: usize = 5_000;

/// The fixed id under which a schema-v1 record's notes text is shown.
pub const LEGACY_NOTES_ID: &str = "legacy-notes";

/// One entry of a record's notebook, exactly as its officer wrote it.
///
/// A note given with a new record (`SceneInput.notes`, or `notes` of a stop
/// search or stop account being created) needs only `text`: the record's
/// author, creation time and a fresh id are stamped on it when the document
/// is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct NoteEntry {
    /// UUID v7, or `legacy-notes` for the notes of a schema-v1 record.
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub id: String,
    /// Shoulder number of the officer who wrote it.
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub written_by: String,
    /// Device time of writing; `None` only for a note given with a new
    /// record, until the record is made.
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub written_at: Option<Timestamp>,
    pub text: String,
    /// The id of the entry this one corrects.
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub corrects: Option<String>,
    /// Ids of later entries that correct this one, in notebook order.
    /// Derived when the record is read; never stored.
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub corrected_by: Vec<String>,
}

impl NoteEntry {
    /// A note given with a new record, stamped when the document is made.
    pub fn initial(text: impl Into<String>) -> Self {
        NoteEntry {
            id: String::new(),
            written_by: String::new(),
            written_at: None,
            text: text.into(),
            corrects: None,
            corrected_by: Vec::new(),
        }
    }

    /// Whether this entry still waits for its author, time and id (a note
    /// given with a record not yet made).
    pub fn is_unstamped(&self) -> bool {
        self.id.is_empty() && self.written_by.is_empty() && self.written_at.is_none()
    }

    /// The stored part of the entry (everything but what is derived).
    pub fn same_entry(&self, other: &NoteEntry) -> bool {
        self.id == other.id
            && self.written_by == other.written_by
            && self.written_at == other.written_at
            && self.text == other.text
            && self.corrects == other.corrects
    }
}

/// The shape of one entry in the document: plain scalar strings, never
/// Automerge text, so no concurrent edit can merge inside it.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub(crate) struct StoredNote {
    pub id: String,
    pub written_by: String,
    pub written_at: String,
    pub text: String,
    pub corrects: Option<String>,
}

impl From<&NoteEntry> for StoredNote {
    fn from(e: &NoteEntry) -> Self {
        StoredNote {
            id: e.id.clone(),
            written_by: e.written_by.clone(),
            // An entry is stamped before it is written; an unstamped one
            // would be refused by the schema check, never given a time.
            written_at: e
                .written_at
                .as_ref()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            text: e.text.clone(),
            corrects: e.corrects.clone(),
        }
    }
}

impl TryFrom<StoredNote> for NoteEntry {
    type Error = InvalidTime;

    /// A stored entry whose time names no instant is an error.
    fn try_from(s: StoredNote) -> Result<Self, InvalidTime> {
        Ok(NoteEntry {
            id: s.id,
            written_by: s.written_by,
            written_at: Some(Timestamp::from_stored(&s.written_at)?),
            text: s.text,
            corrects: s.corrects,
            corrected_by: Vec::new(),
        })
    }
}

/// Fills `corrected_by` of every entry from the entries that correct it.
pub fn mark_corrections(entries: &mut [NoteEntry]) {
    let mut corrections: HashMap<String, Vec<String>> = HashMap::new();
    for entry in entries.iter() {
        if let Some(target) = &entry.corrects {
            corrections
                .entry(target.clone())
                .or_default()
                .push(entry.id.clone());
        }
    }
    for entry in entries.iter_mut() {
        entry.corrected_by = corrections.remove(&entry.id).unwrap_or_default();
    }
}

/// Checks the text of one new entry (also used before an edit is written).
pub fn validate_note_text(v: &mut Violations, text: &str) {
    v.required_text("notes.text", text);
}

/// Checks a whole notebook: every entry's text, author and time, and that
/// every correction names an entry of the same notebook.
pub fn validate_notes(v: &mut Violations, entries: &[NoteEntry]) {
    let ids: HashSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    if entries.len() > MAX_NOTE_ENTRIES {
        v.push("notes", format!("more than {MAX_NOTE_ENTRIES} entries"));
    }
    for entry in entries {
        validate_note_text(v, &entry.text);
        if entry.is_unstamped() {
            if entry.corrects.is_some() {
                v.push(
                    "notes.corrects",
                    "a note given with a new record corrects nothing",
                );
            }
            continue;
        }
        v.required_short("notes.id", &entry.id);
        super::common::validate_shoulder_number(v, "notes.written_by", &entry.written_by);
        match &entry.written_at {
            Some(at) => {
                v.timestamp("notes.written_at", at);
            }
            None => v.push("notes.written_at", "required"),
        }
        if let Some(target) = &entry.corrects
            && (target == &entry.id || !ids.contains(target.as_str()))
        {
            v.push("notes.corrects", "no entry with this id in the record");
        }
    }
}

/// Reads `notes` as a list of entries, or (as input files written before
/// the notebook existed do) as one string: a non-empty string is one note
/// given with the new record.
pub fn deserialize_notes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<NoteEntry>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Notes {
        Text(String),
        Entries(Vec<NoteEntry>),
    }
    Ok(match Notes::deserialize(d)? {
        Notes::Text(text) if text.trim().is_empty() => Vec::new(),
        Notes::Text(text) => vec![NoteEntry::initial(text)],
        Notes::Entries(entries) => entries,
    })
}
