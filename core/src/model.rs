//! The records of the Policing Pledge as plain data with their rules: no I/O, no
//! Automerge handles. Every type here is both a document shape (autosurgeon)
//! and a value the apps see (uniffi), so the two cannot drift apart.

#[macro_use]
mod vocab;
mod common;
mod encounter;
#[cfg(feature = "ffi")]
mod labels;
mod notes;
mod promise_entries;
mod scene;
mod time;
mod validate;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

pub use common::{
    Location, MAX_SHORT_LEN, MAX_TEXT_LEN, Officer, Receipt, Tick, validate_shoulder_number,
};
pub use encounter::{Conduct, StopAccount, StopSearch, normalise_registration};
#[cfg(feature = "ffi")]
pub use labels::*;
pub(crate) use notes::StoredNote;
pub use notes::{
    LEGACY_NOTES_ID, MAX_NOTE_ENTRIES, NoteEntry, mark_corrections, validate_note_text,
};
pub use promise_entries::{
    MAX_PROMISE_ENTRIES, OffenceCategory, PromiseEntry, PromiseEntryKind, counting_entries,
    validate_promise_entries,
};
pub use scene::{
    ActionDetail, ChecklistItem, ChecklistPhase, MAX_ACTIONS, MAX_ATTENDING, MAX_TICKS,
    MAX_UPDATE_INTERVAL_DAYS, SceneAction, SceneAttendance, SceneInput, UpdateAgreement,
};
pub use time::Timestamp;
pub use validate::{
    FieldViolation, InvalidTime, Violations, normalise_stored_time, normalise_time, parse_time,
};
pub use vocab::{
    AgeRange, AttendanceReason, Gender, Legislation, ObjectOfSearch, OfficerDefinedEthnicity,
    Outcome, ReceiptMedium, RecordKind, ResponseGrade, SearchType, SelfDefinedEthnicity,
    TargetStatus, TickOutcome, UpdateMethod,
};

vocabulary! {
    /// Where a record stands, for lists and filters.
    RecordStatus {
        /// Officers still at the scene, or the receipt not yet dealt with.
        Open => "open",
        Complete => "complete",
    }
}

/// The kind-specific content of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RecordBody {
    SceneAttendance { scene: SceneAttendance },
    HomeBurglary { scene: SceneAttendance },
    StopSearch { search: StopSearch },
    StopAccount { account: StopAccount },
}

impl RecordBody {
    pub fn kind(&self) -> RecordKind {
        match self {
            RecordBody::SceneAttendance { .. } => RecordKind::SceneAttendance,
            RecordBody::HomeBurglary { .. } => RecordKind::HomeBurglary,
            RecordBody::StopSearch { .. } => RecordKind::StopSearch,
            RecordBody::StopAccount { .. } => RecordKind::StopAccount,
        }
    }

    /// Checks every rule; the error names every offending field.
    pub fn validate(&self) -> Result<(), Vec<FieldViolation>> {
        let mut v = Violations::new();
        match self {
            RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
                scene.validate(self.kind(), &mut v)
            }
            RecordBody::StopSearch { search } => search.validate(&mut v),
            RecordBody::StopAccount { account } => account.validate(&mut v),
        }
        v.finish()
    }

    pub fn status(&self) -> RecordStatus {
        let done = match self {
            RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
                scene.left.is_some() || scene.grade == ResponseGrade::NotAttended
            }
            RecordBody::StopSearch { search } => search.receipt.is_some(),
            RecordBody::StopAccount { account } => account.receipt.is_some(),
        };
        if done {
            RecordStatus::Complete
        } else {
            RecordStatus::Open
        }
    }

    /// When the encounter happened (search or account time), for retention and lookup.
    pub fn occurred_at(&self) -> &Timestamp {
        match self {
            RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
                &scene.call_received
            }
            RecordBody::StopSearch { search } => &search.datetime,
            RecordBody::StopAccount { account } => &account.datetime,
        }
    }

    /// What is derived from the record and never typed. `conflicts` is left
    /// empty: only the document knows them (`RecordDoc::record` fills it).
    pub fn derived(&self) -> Derived {
        let (target_status, open_on_leaving, latest_ticks) = match self {
            RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => (
                Some(scene.target_status()),
                scene.open_on_leaving(self.kind()),
                scene.latest_ticks(),
            ),
            _ => (None, Vec::new(), Vec::new()),
        };
        Derived {
            status: self.status(),
            target_status,
            open_on_leaving,
            latest_ticks,
            conflicts: Vec::new(),
        }
    }

    /// The notebook of any record kind.
    pub fn notes(&self) -> &[NoteEntry] {
        match self {
            RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
                &scene.notes
            }
            RecordBody::StopSearch { search } => &search.notes,
            RecordBody::StopAccount { account } => &account.notes,
        }
    }

    /// The notebook, to fill or stamp.
    pub fn notes_mut(&mut self) -> &mut Vec<NoteEntry> {
        match self {
            RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
                &mut scene.notes
            }
            RecordBody::StopSearch { search } => &mut search.notes,
            RecordBody::StopAccount { account } => &mut account.notes,
        }
    }

    /// The scene part of an attendance or burglary record.
    pub fn scene(&self) -> Option<&SceneAttendance> {
        match self {
            RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
                Some(scene)
            }
            _ => None,
        }
    }

    /// The receipt of an encounter record.
    pub fn receipt(&self) -> Option<&Receipt> {
        match self {
            RecordBody::StopSearch { search } => search.receipt.as_ref(),
            RecordBody::StopAccount { account } => account.receipt.as_ref(),
            _ => None,
        }
    }

    /// Gives the entries written with a new record their author, time and
    /// id: a note or tick given at creation is the author's, made then.
    pub fn stamp_new_entries(&mut self, author: &str, at: &Timestamp) {
        for entry in self.notes_mut().iter_mut().filter(|e| e.is_unstamped()) {
            entry.id = uuid::Uuid::now_v7().to_string();
            entry.written_by = author.to_string();
            entry.written_at = Some(at.clone());
        }
        if let RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } = self {
            for tick in scene.checklist.iter_mut().filter(|t| t.id.is_empty()) {
                tick.id = uuid::Uuid::now_v7().to_string();
            }
            for action in scene.actions.iter_mut().filter(|a| a.id.is_empty()) {
                action.id = uuid::Uuid::now_v7().to_string();
            }
            for entry in scene.promise_entries.iter_mut().filter(|e| e.id.is_empty()) {
                entry.id = uuid::Uuid::now_v7().to_string();
            }
        }
    }
}

/// Who made a record, when, and how it is referred to; fixed at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct RecordHeader {
    /// Internal id (UUID v7), stable across devices and the server.
    pub id: String,
    pub kind: RecordKind,
    /// The short reference read aloud and printed on receipts.
    pub reference: String,
    pub created_at: Timestamp,
    pub author: Officer,
}

/// Values computed from a record, never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Derived {
    pub status: RecordStatus,
    /// Whether the attendance target was met (attendance kinds only).
    pub target_status: Option<TargetStatus>,
    /// Burglary before-leaving items still open after leaving: flagged, not refused.
    pub open_on_leaving: Vec<ChecklistItem>,
    /// The tick that counts per item (the last in notebook order, never by
    /// device time), in checklist order; `checklist` of the body is the
    /// history.
    pub latest_ticks: Vec<Tick>,
    /// Fields written concurrently on two devices (e.g. `receipt`,
    /// `updates`, `arrived`): the record shows one whole value, chosen the
    /// same way on every replica, and names the field here so someone can
    /// check it.
    pub conflicts: Vec<String>,
}

/// A whole record as the apps see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Record {
    pub header: RecordHeader,
    pub body: RecordBody,
    pub derived: Derived,
}

/// One line of a list: what the index columns hold, no document read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct RecordSummary {
    pub id: String,
    pub kind: RecordKind,
    pub reference: String,
    pub status: RecordStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub occurred_at: Timestamp,
    /// The server refused this record and it stays as it is here, not
    /// pushed again: a record new on this device (never acknowledged), or
    /// one refused as corrupt or of the wrong kind. A record refused as
    /// forbidden or invalid is rolled back instead (`Notebook::set_aside`).
    pub refused: bool,
}

/// How the entry lists and the attending set are written when a document is
/// made. They are never read through autosurgeon: a record written before
/// the lists existed may hold several conflicting lists (two devices each
/// creating one offline), and only `document` reads every conflicting value
/// (`get_all`) and combines them. Hydrating leaves them empty for `document`
/// to fill.
pub(crate) mod entry_lists {
    use std::collections::BTreeMap;

    use autosurgeon::{HydrateError, Prop, Reconcile, Reconciler};

    use super::notes::StoredNote;
    use super::{NoteEntry, PromiseEntry, Tick};

    #[allow(clippy::ptr_arg)] // autosurgeon passes the field as declared
    pub fn reconcile_notes<R: Reconciler>(
        notes: &Vec<NoteEntry>,
        reconciler: R,
    ) -> Result<(), R::Error> {
        let stored: Vec<StoredNote> = notes.iter().map(StoredNote::from).collect();
        stored.reconcile(reconciler)
    }

    #[allow(clippy::ptr_arg)] // autosurgeon passes the field as declared
    pub fn reconcile_ticks<R: Reconciler>(
        ticks: &Vec<Tick>,
        reconciler: R,
    ) -> Result<(), R::Error> {
        ticks.reconcile(reconciler)
    }

    #[allow(clippy::ptr_arg)] // autosurgeon passes the field as declared
    pub fn reconcile_promise_entries<R: Reconciler>(
        entries: &Vec<PromiseEntry>,
        reconciler: R,
    ) -> Result<(), R::Error> {
        entries.reconcile(reconciler)
    }

    /// Writes nothing: the part is stored inside another (see its field).
    pub fn reconcile_nothing<R: Reconciler, T>(_value: &T, _reconciler: R) -> Result<(), R::Error> {
        Ok(())
    }

    /// Co-attending officers as a map keyed by shoulder number: a CRDT set.
    /// Officers adding different colleagues offline all survive the merge;
    /// adding the same colleague twice converges to one key.
    #[allow(clippy::ptr_arg)] // autosurgeon passes the field as declared
    pub fn reconcile_attending<R: Reconciler>(
        officers: &Vec<String>,
        reconciler: R,
    ) -> Result<(), R::Error> {
        let set: BTreeMap<String, bool> = officers.iter().map(|o| (o.clone(), true)).collect();
        set.reconcile(reconciler)
    }

    /// Left empty here; `document` reads these parts with every conflict.
    pub fn read_by_document<D: autosurgeon::ReadDoc, T: Default>(
        _doc: &D,
        _obj: &automerge::ObjId,
        _prop: Prop<'_>,
    ) -> Result<T, HydrateError> {
        Ok(T::default())
    }
}
