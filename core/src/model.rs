//! The records of DOMAIN.md as plain data with their rules: no I/O, no
//! Automerge handles. Every type here is both a document shape (autosurgeon)
//! and a value the apps see (uniffi), so the two cannot drift apart.

#[macro_use]
mod vocab;
mod common;
mod encounter;
mod scene;
mod validate;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

pub use common::{
    Location, MAX_SHORT_LEN, MAX_TEXT_LEN, Officer, Receipt, Tick, validate_shoulder_number,
};
pub use encounter::{Conduct, StopAccount, StopSearch, normalise_registration};
pub use scene::{
    ActionDetail, ChecklistItem, ChecklistPhase, MAX_UPDATE_INTERVAL_DAYS, SceneAction,
    SceneAttendance, SceneInput, UpdateAgreement,
};
pub use validate::{FieldViolation, Violations, parse_time};
pub use vocab::{
    AgeRange, AttendanceReason, Gender, Legislation, ObjectOfSearch, OfficerDefinedEthnicity,
    Outcome, ReceiptMedium, RecordKind, ResponseGrade, SearchType, SelfDefinedEthnicity,
    TargetStatus, TickOutcome,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate, uniffi::Enum)]
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
    pub fn occurred_at(&self) -> &str {
        match self {
            RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
                &scene.call_received
            }
            RecordBody::StopSearch { search } => &search.datetime,
            RecordBody::StopAccount { account } => &account.datetime,
        }
    }

    /// What is derived from the record and never typed.
    pub fn derived(&self) -> Derived {
        let (target_status, open_on_leaving) = match self {
            RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => (
                Some(scene.target_status()),
                scene.open_on_leaving(self.kind()),
            ),
            _ => (None, Vec::new()),
        };
        Derived {
            status: self.status(),
            target_status,
            open_on_leaving,
        }
    }
}

/// Who made a record, when, and how it is referred to; fixed at creation.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate, uniffi::Record,
)]
pub struct RecordHeader {
    /// Internal id (UUID v7), stable across devices and the server.
    pub id: String,
    pub kind: RecordKind,
    /// The short reference read aloud and printed on receipts.
    pub reference: String,
    pub created_at: String,
    pub author: Officer,
}

/// Values computed from a record, never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, uniffi::Record)]
pub struct Derived {
    pub status: RecordStatus,
    /// Whether the attendance target was met (attendance kinds only).
    pub target_status: Option<TargetStatus>,
    /// Burglary before-leaving items still open after leaving: flagged, not refused.
    pub open_on_leaving: Vec<ChecklistItem>,
}

/// A whole record as the apps see it.
#[derive(Debug, Clone, PartialEq, Serialize, uniffi::Record)]
pub struct Record {
    pub header: RecordHeader,
    pub body: RecordBody,
    pub derived: Derived,
}

/// One line of a list: what the index columns hold, no document read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, uniffi::Record)]
pub struct RecordSummary {
    pub id: String,
    pub kind: RecordKind,
    pub reference: String,
    pub status: RecordStatus,
    pub created_at: String,
    pub updated_at: String,
    pub occurred_at: String,
}

/// Free text stored as Automerge text, so concurrent edits merge character by character.
///
/// Reconciling writes the whole value into a new text object: it is used only
/// when a document is first built. Later edits go through
/// `document::set_notes`, which diffs against the text already there.
pub(crate) mod text_field {
    use automerge::{ObjType, Value};
    use autosurgeon::reconcile::TextReconciler;
    use autosurgeon::{HydrateError, Prop, Reconciler};

    #[allow(clippy::ptr_arg)] // autosurgeon's `with` passes the field as declared
    pub fn reconcile<R: Reconciler>(value: &String, mut reconciler: R) -> Result<(), R::Error> {
        let mut text = reconciler.text()?;
        text.splice(0, 0, value)
    }

    pub fn hydrate<D: autosurgeon::ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: Prop<'_>,
    ) -> Result<String, HydrateError> {
        let found = match prop {
            Prop::Key(key) => doc.get(obj, key.as_ref())?,
            Prop::Index(index) => doc.get(obj, index as usize)?,
        };
        match found {
            None => Ok(String::new()),
            Some((Value::Object(ObjType::Text), id)) => Ok(doc.text(&id)?),
            Some((Value::Scalar(s), _)) if s.is_str() => Ok(s.as_str().unwrap_or("").to_string()),
            Some(_) => Err(HydrateError::unexpected("text", "another value".into())),
        }
    }
}

/// Co-attending officers held as a map keyed by shoulder number: a CRDT set.
/// Two officers adding different colleagues offline both survive the merge;
/// adding the same colleague twice converges to one key. Only the keys
/// count (each value is `true`), so a later, richer value still reads as
/// present. A document without the map (a record made before sharing
/// existed) reads as nobody.
pub(crate) mod attending_set {
    use std::collections::BTreeMap;

    use automerge::{ObjType, Value};
    use autosurgeon::{HydrateError, Prop, Reconcile, Reconciler};

    #[allow(clippy::ptr_arg)] // autosurgeon's `with` passes the field as declared
    pub fn reconcile<R: Reconciler>(officers: &Vec<String>, reconciler: R) -> Result<(), R::Error> {
        let set: BTreeMap<String, bool> = officers.iter().map(|o| (o.clone(), true)).collect();
        set.reconcile(reconciler)
    }

    pub fn hydrate<D: autosurgeon::ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: Prop<'_>,
    ) -> Result<Vec<String>, HydrateError> {
        let found = match prop {
            Prop::Key(key) => doc.get(obj, key.as_ref())?,
            Prop::Index(index) => doc.get(obj, index as usize)?,
        };
        match found {
            None => Ok(Vec::new()),
            Some((Value::Object(ObjType::Map), id)) => {
                let mut officers: Vec<String> = doc
                    .map_range(&id, ..)
                    .map(|item| item.key.into_owned())
                    .collect();
                officers.sort();
                Ok(officers)
            }
            Some(_) => Err(HydrateError::unexpected("a map", "another value".into())),
        }
    }
}

/// A checklist held as a map keyed by item, so officers ticking different
/// items never conflict and the same item converges to one tick.
pub(crate) mod checklist_map {
    use std::collections::BTreeMap;

    use autosurgeon::{Hydrate, HydrateError, Prop, Reconcile, Reconciler};

    use super::{ChecklistItem, Tick};

    #[allow(clippy::ptr_arg)] // autosurgeon's `with` passes the field as declared
    pub fn reconcile<R: Reconciler>(ticks: &Vec<Tick>, reconciler: R) -> Result<(), R::Error> {
        let map: BTreeMap<String, Tick> = ticks
            .iter()
            .map(|t| (t.item.as_str().to_string(), t.clone()))
            .collect();
        map.reconcile(reconciler)
    }

    pub fn hydrate<D: autosurgeon::ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: Prop<'_>,
    ) -> Result<Vec<Tick>, HydrateError> {
        let map: Option<BTreeMap<String, Tick>> = Hydrate::hydrate(doc, obj, prop)?;
        let mut ticks: Vec<Tick> = map.unwrap_or_default().into_values().collect();
        ticks.sort_by_key(|t| ChecklistItem::ALL.iter().position(|i| *i == t.item));
        Ok(ticks)
    }
}
