//! One record = one Automerge document. This module builds a document from a
//! typed record, reads it back, and applies each typed edit as a small,
//! targeted change, so merges keep the semantics chosen per field:
//!
//! | field | Automerge shape | concurrent edits |
//! |---|---|---|
//! | scene actions | list, appended at the end | all survive, same order everywhere |
//! | checklist | map keyed by item | different items both stick; same item converges |
//! | co-attending officers | map keyed by shoulder number (a set) | different officers both stick; the same one converges |
//! | scalar fields (times, receipt) | map entry | converge to one value on every replica |
//! | notes | text | merged character by character |
//!
//! The whole-record reconcile runs once, when a device creates the record;
//! every later edit touches only what it changes, and its cost does not grow
//! with the record's history.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value};
use autosurgeon::{hydrate_prop, reconcile_prop};

use crate::model::{
    ActionDetail, FieldViolation, MAX_TEXT_LEN, Receipt, Record, RecordBody, RecordHeader,
    RecordKind, RecordStatus, ResponseGrade, SceneAction, Tick, UpdateAgreement, Violations,
    validate_shoulder_number,
};

/// Marks a document as a Pocketbook record.
pub const SCHEMA_ID: &str = "pocketbook.record";
/// The document layout this code writes and the newest it reads.
pub const SCHEMA_VERSION: u64 = 1;

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
        let mut doc = AutoCommit::new().with_actor(actor);
        doc.put(ROOT, "schema", SCHEMA_ID)?;
        doc.put(ROOT, "schema_version", SCHEMA_VERSION)?;
        reconcile_prop(&mut doc, ROOT, "header", &header)?;
        reconcile_prop(&mut doc, ROOT, "body", body)?;
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

    /// Reads the kind-specific content.
    pub fn body(&self) -> Result<RecordBody, DocumentError> {
        let body: RecordBody = hydrate_prop(&self.doc, ROOT, "body")?;
        if body.kind() != self.header.kind {
            return Err(DocumentError::Shape("body kind differs from header".into()));
        }
        Ok(body)
    }

    /// The whole typed record with what is derived from it.
    pub fn record(&self) -> Result<Record, DocumentError> {
        let body = self.body()?;
        Ok(Record {
            header: self.header.clone(),
            derived: body.derived(),
            body,
        })
    }

    /// The whole typed record, checked against every rule of its kind, from
    /// one read of the document (the server's check of a merged push).
    pub fn checked_record(&self) -> Result<Record, DocumentError> {
        let record = self.record()?;
        record.body.validate().map_err(DocumentError::Invalid)?;
        Ok(record)
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
            recorded_at: recorded_at.to_string(),
            detail,
        };
        let actions = self.child(&self.inner_obj()?, "actions", ObjType::List)?;
        let at = self.doc.length(&actions);
        autosurgeon::reconcile::reconcile_insert(&mut self.doc, actions, at, &action)?;
        self.commit("add-action");
        Ok(action.id)
    }

    /// Ticks one checklist item (done, not applicable, or not done with a reason).
    pub fn tick(&mut self, tick: &Tick) -> Result<(), DocumentError> {
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
        let checklist = self.child(&self.inner_obj()?, "checklist", ObjType::Map)?;
        reconcile_prop(&mut self.doc, &checklist, tick.item.as_str(), tick)?;
        self.commit("tick");
        Ok(())
    }

    /// Names a co-attending officer (by shoulder number) on a scene or
    /// burglary record. Returns whether the record changed: naming the
    /// author, or an officer already named, changes nothing.
    ///
    /// Each officer is one key of the `attending` map, so officers adding
    /// different colleagues offline all survive the merge. A record made
    /// before sharing existed has no map yet; the first addition creates
    /// it, and two devices doing that concurrently for such a record would
    /// keep only one device's map (records made since carry it from
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
        let attending = self.child(&inner, "attending", ObjType::Map)?;
        if self.doc.get(&attending, shoulder_number)?.is_some() {
            return Ok(false);
        }
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
        reconcile_prop(&mut self.doc, &inner, "updates", Some(updates))?;
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
        if matches!(existing, Some(Receipt::Given { .. })) {
            return Err(DocumentError::ReceiptAlreadyIssued);
        }
        reconcile_prop(&mut self.doc, &inner, "receipt", Some(receipt))?;
        self.validated_commit("receipt")
    }

    /// Replaces the notes; the edit is a text diff, so concurrent edits merge.
    pub fn set_notes(&mut self, notes: &str) -> Result<(), DocumentError> {
        if notes.len() > MAX_TEXT_LEN {
            return Err(DocumentError::Invalid(vec![FieldViolation {
                field: "notes".into(),
                problem: format!("longer than {MAX_TEXT_LEN} bytes"),
            }]));
        }
        let inner = self.inner_obj()?;
        let text = self.child(&inner, "notes", ObjType::Text)?;
        self.doc.update_text(&text, notes)?;
        self.commit("notes");
        Ok(())
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
