//! One record = one Automerge document. This module builds a document from a
//! typed record, reads it back, and applies each typed edit as a small,
//! targeted change, so merges keep the semantics chosen per field:
//!
//! | field | Automerge shape | concurrent edits |
//! |---|---|---|
//! | scene actions | list, appended at the end | all survive, same order everywhere |
//! | note entries | list of maps of plain strings | all survive verbatim; a correction is a new entry |
//! | checklist ticks | flat list of maps of scalars | all survive; the latest per item is shown |
//! | co-attending officers | map keyed by shoulder number (a set) | different officers both stick; the same one converges |
//! | times | scalar string | one value wins on every replica; the conflict is named |
//! | updates, receipt | one fresh map per write | one whole value wins, never a mix; the conflict is named |
//!
//! The full table (who may append or alter, time rules, freezing) is
//! "Record fields" in `ARCHITECTURE.md`; `rules` enforces it and
//! [`RecordDoc::check_schema`] refuses any other shape. Schema-v1 documents
//! (notes as Automerge text, the checklist as a map) are read in place and
//! never rewritten: appends go to the new lists (see `entries`).
//!
//! The whole-record reconcile runs once, when a device creates the record;
//! every later edit touches only what it changes, and its cost does not grow
//! with the record's history.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value};
use autosurgeon::{hydrate_prop, reconcile_prop};

mod entries;
mod schema;

use crate::model::{
    ActionDetail, FieldViolation, MAX_ACTIONS, MAX_ATTENDING, MAX_NOTE_ENTRIES, MAX_TICKS, Receipt,
    Record, RecordBody, RecordHeader, RecordKind, RecordStatus, ResponseGrade, SceneAction,
    StoredNote, Tick, Timestamp, UpdateAgreement, Violations, normalise_stored_time,
    validate_note_text, validate_shoulder_number,
};

pub use entries::legacy_tick_id;
use entries::{ATTENDING, NOTE_ENTRIES, TICK_ENTRIES};

/// Marks a document as a Pocketbook record.
pub const SCHEMA_ID: &str = "pocketbook.record";
/// The document layout this code writes and the newest it reads. Version 2
/// made notes and ticks append-only lists and multi-field values whole
/// registers; version 1 documents stay readable and are never rewritten.
pub const SCHEMA_VERSION: u64 = 2;

/// What can go wrong reading or editing a record document.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("not an Automerge document: {0}")]
    Corrupt(String),
    #[error("an Automerge document, but not a Pocketbook record")]
    NotPocketbook,
    #[error(
        "record schema version {found} is newer than this app reads ({supported}); update the app"
    )]
    TooNew { found: u64, supported: u64 },
    #[error("the record's content does not have the Pocketbook shape: {0}")]
    Shape(String),
    #[error("invalid record: {}", list(.0))]
    Invalid(Vec<FieldViolation>),
    #[error("{operation} does not apply to a {kind} record")]
    WrongKind {
        operation: &'static str,
        kind: RecordKind,
    },
    #[error("the changes depend on changes that are missing; resend the whole record")]
    MissingDependencies,
    #[error("the receipt of this record was already issued")]
    ReceiptAlreadyIssued,
}

fn list(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<crate::chunks::ChunkError> for DocumentError {
    fn from(e: crate::chunks::ChunkError) -> Self {
        DocumentError::Corrupt(e.to_string())
    }
}

impl From<automerge::AutomergeError> for DocumentError {
    fn from(e: automerge::AutomergeError) -> Self {
        DocumentError::Corrupt(e.to_string())
    }
}

impl From<autosurgeon::ReconcileError> for DocumentError {
    fn from(e: autosurgeon::ReconcileError) -> Self {
        DocumentError::Shape(e.to_string())
    }
}

impl From<autosurgeon::HydrateError> for DocumentError {
    fn from(e: autosurgeon::HydrateError) -> Self {
        DocumentError::Shape(e.to_string())
    }
}

/// Index values a store keeps beside the document, read without hydrating it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexColumns {
    pub status: RecordStatus,
    /// When the encounter happened, in the one UTC form of
    /// [`crate::model::normalise_time`] (`YYYY-MM-DDTHH:MM:SSZ`), so
    /// retention and lookups compare instants whatever offset a device wrote.
    pub occurred_at: String,
}

/// A record's Automerge document with the typed operations officers perform.
pub struct RecordDoc {
    doc: AutoCommit,
    header: RecordHeader,
}

impl std::fmt::Debug for RecordDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordDoc")
            .field("id", &self.header.id)
            .field("kind", &self.header.kind)
            .finish_non_exhaustive()
    }
}

impl RecordDoc {
    /// Builds a new record document. The body must already be valid.
    pub fn create(
        header: RecordHeader,
        body: &RecordBody,
        actor: ActorId,
    ) -> Result<Self, DocumentError> {
        if header.kind != body.kind() {
            return Err(DocumentError::Shape("header kind differs from body".into()));
        }
        body.validate().map_err(DocumentError::Invalid)?;
        let mut body = body.clone();
        body.stamp_new_entries(&header.author.shoulder_number, &header.created_at);
        let mut doc = AutoCommit::new().with_actor(actor);
        doc.put(ROOT, "schema", SCHEMA_ID)?;
        doc.put(ROOT, "schema_version", SCHEMA_VERSION)?;
        reconcile_prop(&mut doc, ROOT, "header", &header)?;
        reconcile_prop(&mut doc, ROOT, "body", &body)?;
        doc.commit_with(CommitOptions::default().with_message("create"));
        Ok(RecordDoc { doc, header })
    }

    /// Loads a document (a full save, or a save followed by incremental
    /// changes) and checks that it is a Pocketbook record of a known schema.
    ///
    /// The bytes are pre-parsed first ([`crate::chunks::check_document`]):
    /// deflated columns are inflated under a cap before Automerge inflates
    /// them, and the document's operations and objects are counted against
    /// [`crate::chunks::DOCUMENT`] without expanding them.
    pub fn load(bytes: &[u8], actor: ActorId) -> Result<Self, DocumentError> {
        crate::chunks::check_document(bytes, &crate::chunks::DOCUMENT)?;
        let doc = crate::chunks::no_panic(|| AutoCommit::load(bytes))?
            .map_err(|e| DocumentError::Corrupt(e.to_string()))?
            .with_actor(actor);
        crate::chunks::check_loaded(&doc, &crate::chunks::DOCUMENT)?;
        Self::from_automerge(doc)
    }

    /// Builds a record from raw change chunks (what a device pushes for a
    /// record the server has not seen). Changes whose dependencies are
    /// missing are refused rather than silently queued.
    ///
    /// Only plain change chunks within [`crate::chunks::CHANGES`] reach
    /// Automerge ([`crate::chunks::check_changes`]).
    pub fn from_changes(bytes: &[u8], actor: ActorId) -> Result<Self, DocumentError> {
        crate::chunks::check_changes(bytes, &crate::chunks::CHANGES)?;
        let mut doc = AutoCommit::new().with_actor(actor);
        crate::chunks::no_panic(|| doc.load_incremental(bytes))?
            .map_err(|e| DocumentError::Corrupt(e.to_string()))?;
        if !doc.get_missing_deps(&[]).is_empty() {
            return Err(DocumentError::MissingDependencies);
        }
        crate::chunks::check_loaded(&doc, &crate::chunks::DOCUMENT)?;
        Self::from_automerge(doc)
    }

    fn from_automerge(doc: AutoCommit) -> Result<Self, DocumentError> {
        match doc.get(ROOT, "schema")? {
            Some((Value::Scalar(s), _)) if s.as_str() == Some(SCHEMA_ID) => {}
            _ => return Err(DocumentError::NotPocketbook),
        }
        let version: u64 =
            hydrate_prop(&doc, ROOT, "schema_version").map_err(|_| DocumentError::NotPocketbook)?;
        if version > SCHEMA_VERSION {
            return Err(DocumentError::TooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let header: RecordHeader = hydrate_prop(&doc, ROOT, "header")?;
        Ok(RecordDoc { doc, header })
    }

    pub fn header(&self) -> &RecordHeader {
        &self.header
    }

    pub fn kind(&self) -> RecordKind {
        self.header.kind
    }

    /// Reads the kind-specific content. The append-only parts are read from
    /// every conflicting container (see `entries`).
    pub fn body(&self) -> Result<RecordBody, DocumentError> {
        let mut body: RecordBody = hydrate_prop(&self.doc, ROOT, "body")?;
        if body.kind() != self.header.kind {
            return Err(DocumentError::Shape("body kind differs from header".into()));
        }
        let inner = self.inner_obj()?;
        *body.notes_mut() = entries::read_notes(&self.doc, &inner, &self.header)?;
        if let RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } =
            &mut body
        {
            scene.checklist = entries::read_ticks(&self.doc, &inner)?;
            scene.attending = entries::read_attending(&self.doc, &inner)?;
        }
        Ok(body)
    }

    /// The whole typed record with what is derived from it.
    pub fn record(&self) -> Result<Record, DocumentError> {
        let body = self.body()?;
        let mut derived = body.derived();
        derived.conflicts = self.conflicts()?;
        Ok(Record {
            header: self.header.clone(),
            derived,
            body,
        })
    }

    /// Fields of the record that hold a concurrent conflict: the record
    /// shows one whole value (Automerge's deterministic winner), and these
    /// names say someone should look. The append-only parts are combined,
    /// never in conflict, so they are not named.
    pub fn conflicts(&self) -> Result<Vec<String>, DocumentError> {
        let inner = self.inner_obj()?;
        Ok(self
            .doc
            .map_range(&inner, ..)
            .filter(|item| item.conflict)
            .map(|item| item.key.into_owned())
            .filter(|key| !entries::COMBINED.contains(&key.as_str()))
            .collect())
    }

    /// The whole typed record, checked against every rule of its kind, from
    /// one read of the document (the server's check of a merged push).
    pub fn checked_record(&self) -> Result<Record, DocumentError> {
        let record = self.record()?;
        record.body.validate().map_err(DocumentError::Invalid)?;
        Ok(record)
    }

    /// Checks the WHOLE document tree, not the typed record: every key is
    /// one the record kind's schema defines, every value of its type, every
    /// string and list within its bound, every conflicting value included.
    /// Accepts schema-v1 shapes in v1 documents. The message gives a path,
    /// never content. The server runs it on every merged push.
    pub fn check_schema(&self) -> Result<(), DocumentError> {
        let version: u64 = hydrate_prop(&self.doc, ROOT, "schema_version")
            .map_err(|_| DocumentError::NotPocketbook)?;
        schema::check(&self.doc, self.kind(), version)
    }

    /// Full check of the merged state (used after imports and merges).
    pub fn validate(&self) -> Result<(), DocumentError> {
        self.body()?.validate().map_err(DocumentError::Invalid)
    }

    /// Index columns from targeted reads, so they cost the same at any history length.
    pub fn index_columns(&self) -> Result<IndexColumns, DocumentError> {
        let inner = self.inner_obj()?;
        let (complete, occurred_field) = match self.kind() {
            RecordKind::SceneAttendance | RecordKind::HomeBurglary => {
                let grade: ResponseGrade = hydrate_prop(&self.doc, &inner, "grade")?;
                let left: Option<String> = hydrate_prop(&self.doc, &inner, "left")?;
                (
                    left.is_some() || grade == ResponseGrade::NotAttended,
                    "call_received",
                )
            }
            RecordKind::StopSearch | RecordKind::StopAccount => {
                let receipt: Option<Receipt> = hydrate_prop(&self.doc, &inner, "receipt")?;
                (receipt.is_some(), "datetime")
            }
        };
        let occurred_at: String = hydrate_prop(&self.doc, &inner, occurred_field)?;
        let occurred_at = normalise_stored_time(&occurred_at).map_err(|e| {
            DocumentError::Invalid(vec![FieldViolation {
                field: occurred_field.into(),
                problem: e.to_string(),
            }])
        })?;
        Ok(IndexColumns {
            status: if complete {
                RecordStatus::Complete
            } else {
                RecordStatus::Open
            },
            occurred_at,
        })
    }

    /// Appends a scene action; returns its id.
    pub fn add_action(
        &mut self,
        detail: ActionDetail,
        recorded_by: &str,
        recorded_at: &str,
    ) -> Result<String, DocumentError> {
        self.require_scene("adding a scene action")?;
        let mut v = Violations::new();
        detail.validate(&mut v);
        v.finish().map_err(DocumentError::Invalid)?;
        let action = SceneAction {
            id: uuid::Uuid::now_v7().to_string(),
            recorded_by: recorded_by.to_string(),
            recorded_at: time("action.recorded_at", recorded_at)?,
            detail,
        };
        let actions = self.child(&self.inner_obj()?, "actions", ObjType::List)?;
        let at = self.doc.length(&actions);
        if at >= MAX_ACTIONS {
            return Err(full("actions", MAX_ACTIONS));
        }
        autosurgeon::reconcile::reconcile_insert(&mut self.doc, actions, at, &action)?;
        self.commit("add-action");
        Ok(action.id)
    }

    /// Ticks one checklist item (done, not applicable, or not done with a
    /// reason): a new entry of the tick history, never a rewrite of an
    /// earlier tick. Returns the entry's id (assigned if `tick.id` is empty).
    pub fn tick(&mut self, tick: &Tick) -> Result<String, DocumentError> {
        let kind = self.require_scene("ticking a checklist item")?;
        let mut v = Violations::new();
        if !tick.item.applies_to(kind) {
            v.push(
                format!("checklist.{}", tick.item.as_str()),
                format!("not an item of a {} record", kind.as_str()),
            );
        }
        tick.validate(&mut v);
        v.finish().map_err(DocumentError::Invalid)?;
        let mut tick = tick.clone();
        if tick.id.is_empty() {
            tick.id = uuid::Uuid::now_v7().to_string();
        }
        let inner = self.inner_obj()?;
        let legacy = entries::legacy_tick_count(&self.doc, &inner)?;
        if entries::count(&self.doc, &inner, TICK_ENTRIES, legacy)? >= MAX_TICKS {
            return Err(full("checklist", MAX_TICKS));
        }
        let ticks = self.child(&inner, TICK_ENTRIES, ObjType::List)?;
        let at = self.doc.length(&ticks);
        autosurgeon::reconcile::reconcile_insert(&mut self.doc, ticks, at, &tick)?;
        self.commit("tick");
        Ok(tick.id)
    }

    /// Appends an entry to the record's notebook (any record kind); returns
    /// its id. Nothing ever edits or removes an entry: see `correct_note`.
    pub fn add_note(
        &mut self,
        text: &str,
        written_by: &str,
        written_at: &str,
    ) -> Result<String, DocumentError> {
        self.append_note(text, written_by, written_at, None)
    }

    /// Appends an entry that corrects `entry_id`; the corrected entry stays
    /// as written and reads as corrected. Returns the new entry's id.
    pub fn correct_note(
        &mut self,
        entry_id: &str,
        text: &str,
        written_by: &str,
        written_at: &str,
    ) -> Result<String, DocumentError> {
        self.append_note(text, written_by, written_at, Some(entry_id))
    }

    fn append_note(
        &mut self,
        text: &str,
        written_by: &str,
        written_at: &str,
        corrects: Option<&str>,
    ) -> Result<String, DocumentError> {
        let mut v = Violations::new();
        validate_note_text(&mut v, text);
        validate_shoulder_number(&mut v, "notes.written_by", written_by);
        v.timestamp("notes.written_at", written_at);
        v.finish().map_err(DocumentError::Invalid)?;
        let inner = self.inner_obj()?;
        if let Some(target) = corrects
            && !entries::note_exists(&self.doc, &inner, &self.header, target)?
        {
            return Err(DocumentError::Invalid(vec![FieldViolation {
                field: "notes.corrects".into(),
                problem: "no entry with this id in the record".into(),
            }]));
        }
        let legacy = entries::legacy_note_count(&self.doc, &inner, &self.header)?;
        if entries::count(&self.doc, &inner, NOTE_ENTRIES, legacy)? >= MAX_NOTE_ENTRIES {
            return Err(full("notes", MAX_NOTE_ENTRIES));
        }
        let entry = StoredNote {
            id: uuid::Uuid::now_v7().to_string(),
            written_by: written_by.to_string(),
            written_at: written_at.to_string(),
            text: text.to_string(),
            corrects: corrects.map(str::to_string),
        };
        let list = self.child(&inner, NOTE_ENTRIES, ObjType::List)?;
        let at = self.doc.length(&list);
        autosurgeon::reconcile::reconcile_insert(&mut self.doc, list, at, &entry)?;
        self.commit("note");
        Ok(entry.id)
    }

    /// Names a co-attending officer (by shoulder number) on a scene or
    /// burglary record. Returns whether the record changed: naming the
    /// author, or an officer already named, changes nothing.
    ///
    /// Each officer is one key of the `attending` map, so officers adding
    /// different colleagues offline all survive the merge. A record made
    /// before sharing existed has no map yet; the first addition creates
    /// it, and if two devices do that concurrently both maps are kept as a
    /// conflict and read together (records made since carry the map from
    /// creation).
    pub fn add_attending(&mut self, shoulder_number: &str) -> Result<bool, DocumentError> {
        self.require_scene("naming a co-attending officer")?;
        let mut v = Violations::new();
        validate_shoulder_number(&mut v, "attending", shoulder_number);
        v.finish().map_err(DocumentError::Invalid)?;
        let shoulder_number = shoulder_number.trim();
        if shoulder_number == self.header.author.shoulder_number {
            return Ok(false);
        }
        let inner = self.inner_obj()?;
        let named = entries::read_attending(&self.doc, &inner)?;
        if named.iter().any(|o| o == shoulder_number) {
            return Ok(false);
        }
        if named.len() >= MAX_ATTENDING {
            return Err(full("attending", MAX_ATTENDING));
        }
        let attending = self.child(&inner, ATTENDING, ObjType::Map)?;
        self.doc.put(&attending, shoulder_number, true)?;
        self.commit("attending");
        Ok(true)
    }

    /// Records arrival and/or departure times.
    pub fn set_times(
        &mut self,
        arrived: Option<&str>,
        left: Option<&str>,
    ) -> Result<(), DocumentError> {
        self.require_scene("recording arrival or departure")?;
        let inner = self.inner_obj()?;
        if let Some(arrived) = arrived {
            reconcile_prop(&mut self.doc, &inner, "arrived", Some(arrived))?;
        }
        if let Some(left) = left {
            reconcile_prop(&mut self.doc, &inner, "left", Some(left))?;
        }
        self.validated_commit("times")
    }

    /// Records how and how often the victim wants updates.
    pub fn agree_updates(&mut self, updates: &UpdateAgreement) -> Result<(), DocumentError> {
        self.require_scene("agreeing updates")?;
        let inner = self.inner_obj()?;
        self.put_whole(&inner, "updates", Some(updates))?;
        self.validated_commit("updates")
    }

    /// Issues the receipt (or records why it could not be given).
    pub fn set_receipt(&mut self, receipt: &Receipt) -> Result<(), DocumentError> {
        if !self.kind().is_encounter() {
            return Err(DocumentError::WrongKind {
                operation: "issuing a receipt",
                kind: self.kind(),
            });
        }
        let inner = self.inner_obj()?;
        let existing: Option<Receipt> = hydrate_prop(&self.doc, &inner, "receipt")?;
        match (&existing, receipt) {
            (Some(Receipt::Given { .. }), _) => return Err(DocumentError::ReceiptAlreadyIssued),
            // "Not given" may become "given" (handed over later), never
            // another "not given": the reason recorded is evidence too.
            (Some(Receipt::NotGiven { .. }), Receipt::NotGiven { .. }) => {
                return Err(DocumentError::Invalid(vec![FieldViolation {
                    field: "receipt".into(),
                    problem: "already recorded as not given; it may only become given".into(),
                }]));
            }
            _ => {}
        }
        self.put_whole(&inner, "receipt", Some(receipt))?;
        self.validated_commit("receipt")
    }

    /// Merges changes from elsewhere (another device, the server, an import).
    ///
    /// Changes whose dependencies this copy lacks are reported as an error;
    /// the caller must then drop this copy (Automerge would hold them queued)
    /// and must not store anything from it.
    ///
    /// The changes are pre-parsed like [`RecordDoc::from_changes`]'s, and the
    /// merged document must stay within [`crate::chunks::DOCUMENT`]; past it,
    /// or when Automerge panics on hostile bytes, this copy is refused like
    /// one with missing dependencies (drop it).
    pub fn apply_changes(&mut self, bytes: &[u8]) -> Result<(), DocumentError> {
        crate::chunks::check_changes(bytes, &crate::chunks::CHANGES)?;
        crate::chunks::no_panic(|| self.doc.load_incremental(bytes))?
            .map_err(|e| DocumentError::Corrupt(e.to_string()))?;
        if !self.doc.get_missing_deps(&[]).is_empty() {
            return Err(DocumentError::MissingDependencies);
        }
        crate::chunks::check_loaded(&self.doc, &crate::chunks::DOCUMENT)?;
        Ok(())
    }

    /// Heads as lowercase hex strings, as the wire format carries them.
    pub fn heads_hex(&mut self) -> Vec<String> {
        self.doc.get_heads().iter().map(|h| h.to_string()).collect()
    }

    /// Merges another copy of this record.
    pub fn merge(&mut self, other: &mut RecordDoc) -> Result<(), DocumentError> {
        if other.header.id != self.header.id {
            return Err(DocumentError::Shape("a different record".into()));
        }
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    /// The change the last local edit produced, to append to durable storage.
    pub fn last_local_change(&mut self) -> Option<Vec<u8>> {
        self.doc
            .get_last_local_change()
            .map(|c| c.raw_bytes().to_vec())
    }

    /// A compact snapshot of the whole document.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// Every change not already covered by `heads`.
    pub fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// A copy that shares history but writes as another actor (tests, repair).
    pub fn fork(&mut self, actor: ActorId) -> RecordDoc {
        RecordDoc {
            doc: self.doc.fork().with_actor(actor),
            header: self.header.clone(),
        }
    }

    fn require_scene(&self, operation: &'static str) -> Result<RecordKind, DocumentError> {
        match self.kind() {
            k @ (RecordKind::SceneAttendance | RecordKind::HomeBurglary) => Ok(k),
            kind => Err(DocumentError::WrongKind { operation, kind }),
        }
    }

    /// The map inside `body` that holds this kind's fields.
    fn inner_obj(&self) -> Result<ObjId, DocumentError> {
        let (variant, field) = match self.kind() {
            RecordKind::SceneAttendance => ("SceneAttendance", "scene"),
            RecordKind::HomeBurglary => ("HomeBurglary", "scene"),
            RecordKind::StopSearch => ("StopSearch", "search"),
            RecordKind::StopAccount => ("StopAccount", "account"),
        };
        let body = self.existing(&ROOT, "body", ObjType::Map)?;
        let variant = self.existing(&body, variant, ObjType::Map)?;
        self.existing(&variant, field, ObjType::Map)
    }

    fn existing(&self, parent: &ObjId, key: &str, ty: ObjType) -> Result<ObjId, DocumentError> {
        match self.doc.get(parent, key)? {
            Some((Value::Object(found), id)) if found == ty => Ok(id),
            _ => Err(DocumentError::Shape(format!("missing {key}"))),
        }
    }

    /// A child object, created if a concurrent edit or an old record lacks it.
    fn child(&mut self, parent: &ObjId, key: &str, ty: ObjType) -> Result<ObjId, DocumentError> {
        match self.existing(parent, key, ty) {
            Ok(id) => Ok(id),
            Err(_) => Ok(self.doc.put_object(parent, key, ty)?),
        }
    }

    /// Writes a multi-field value as one fresh map: a register of the whole
    /// value. Two devices writing concurrently create two maps, and
    /// Automerge picks one whole map on every replica (named in
    /// `conflicts`), never fields of both, as reconciling into the existing
    /// map field by field would.
    fn put_whole<T: autosurgeon::Reconcile>(
        &mut self,
        parent: &ObjId,
        key: &str,
        value: T,
    ) -> Result<(), DocumentError> {
        self.doc.put_object(parent, key, ObjType::Map)?;
        reconcile_prop(&mut self.doc, parent, key, value)?;
        Ok(())
    }

    fn commit(&mut self, message: &str) {
        self.doc.commit_with(
            CommitOptions::default()
                .with_message(message)
                .with_time(chrono::Utc::now().timestamp()),
        );
    }

    /// Commits an edit if the record is still valid after it, else undoes it.
    fn validated_commit(&mut self, message: &str) -> Result<(), DocumentError> {
        match self.validate() {
            Ok(()) => {
                self.commit(message);
                Ok(())
            }
            Err(e) => {
                self.doc.rollback();
                Err(e)
            }
        }
    }
}

/// A list reached its bound: refused here as the server would.
/// A time given to an edit, as a record's time field; `field` names it
/// when it is refused.
fn time(field: &str, text: &str) -> Result<Timestamp, DocumentError> {
    Timestamp::parse(text).map_err(|e| {
        DocumentError::Invalid(vec![FieldViolation {
            field: field.into(),
            problem: e.to_string(),
        }])
    })
}

fn full(field: &str, bound: usize) -> DocumentError {
    DocumentError::Invalid(vec![FieldViolation {
        field: field.into(),
        problem: format!("the record already holds {bound}, the most it may"),
    }])
}
