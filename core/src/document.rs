//! One record = one Automerge document. This module builds a document from a
//! typed record, reads it back, and applies each typed edit as a small,
//! targeted change, so merges keep the semantics chosen per field:
//!
//! | field | Automerge shape | concurrent edits |
//! |---|---|---|
//! | scene actions | list, appended at the end | all survive, same order everywhere |
//! | note entries | list of maps of plain strings | all survive verbatim; a correction is a new entry |
//! | checklist ticks | flat list of maps of scalars | all survive; the latest per item is shown |
//! | promise entries | flat list of maps of scalars | all survive; a correction is a new entry |
//! | offence category | scalar string | one value wins on every replica; the conflict is named |
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

mod edits;
mod entries;
mod error;
mod incoming;
mod read;
mod schema;
mod since;
#[cfg(test)]
mod tests;
mod tree;

use crate::model::{
    ActionDetail, FieldViolation, MAX_ACTIONS, MAX_ATTENDING, MAX_NOTE_ENTRIES,
    MAX_PROMISE_ENTRIES, MAX_TICKS, OffenceCategory, PromiseEntry, Receipt, Record, RecordBody,
    RecordHeader, RecordKind, RecordStatus, ResponseGrade, SceneAction, StoredNote, Tick,
    Timestamp, UpdateAgreement, Violations, normalise_stored_time, validate_note_text,
    validate_shoulder_number,
};

pub use entries::legacy_tick_id;
use entries::{ATTENDING, NOTE_ENTRIES, PROMISE_ENTRIES, TICK_ENTRIES};
pub use error::DocumentError;
use read::{inner_in, read_body, read_conflicts, read_record};
pub use schema::{SCHEMA_ID, SCHEMA_VERSION};

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
    /// The schema version read with the header, while no change from
    /// elsewhere was applied since (a local edit never writes it): saves
    /// the checks a lookup (a seek through the document). `None`: read it
    /// from the document.
    version: Option<u64>,
    /// Where scene actions go, as this copy's last scene action found
    /// them (see [`Places`]).
    places: Option<Places>,
}

/// Where a scene's actions go in one copy of its document: the record's
/// fields and its actions list, which [`RecordDoc::add_action`] looks up
/// (a seek through the document each) and the read after the edit looks
/// up again; and the action that edit appended. Kept beside the document
/// and true at `heads` only: this copy's own scene action moves them on
/// (it writes nothing but one new element of the list), and anything else
/// that changes the document (a merge, changes applied, another edit, a
/// load, which starts without) leaves them behind, so the next use looks
/// them up afresh. A merge that replaced the list, or put a second list
/// beside it, is never written past.
#[derive(Debug, Clone)]
struct Places {
    heads: Vec<ChangeHash>,
    /// The record's fields (`body.<variant>.<field>`).
    inner: ObjId,
    /// The list under `actions` (the value that wins, if there are two).
    actions: ObjId,
    /// Whether that list is the only value under `actions`.
    alone: bool,
    /// The element the last scene action appended at the end of the list.
    appended: ObjId,
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
        Ok(RecordDoc {
            doc,
            header,
            version: Some(SCHEMA_VERSION),
            places: None,
        })
    }

    /// The document's schema version: as read with the header, or from
    /// the document when changes from elsewhere were applied since.
    fn schema_version(&self) -> Result<u64, DocumentError> {
        match self.version {
            Some(version) => Ok(version),
            None => hydrate_prop(&self.doc, ROOT, "schema_version")
                .map_err(|_| DocumentError::NotPocketbook),
        }
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
        read_body(&self.doc, &self.header)
    }

    /// The whole typed record with what is derived from it.
    pub fn record(&self) -> Result<Record, DocumentError> {
        read_record(&self.doc, &self.header)
    }

    /// Fields of the record that hold a concurrent conflict: the record
    /// shows one whole value (Automerge's deterministic winner), and these
    /// names say someone should look. The append-only parts are combined,
    /// never in conflict, so they are not named.
    pub fn conflicts(&self) -> Result<Vec<String>, DocumentError> {
        read_conflicts(&self.doc, self.kind())
    }

    /// [`RecordDoc::check_schema`] and [`RecordDoc::checked_record`] in one
    /// walk of the document: the schema walk keeps what it read
    /// (`tree`), and the record is built from that, not from a second
    /// read of the document. The same checks, the same record, the same
    /// errors (a shape the schema refuses is refused before the record is
    /// read). The server runs it on every merged push.
    pub fn checked_record_in_one_walk(&self) -> Result<Record, DocumentError> {
        let version = self.schema_version()?;
        let tree = schema::walk(&self.doc, self.kind(), version)?;
        let record = read_record(&tree, &self.header)?;
        record.body.validate().map_err(DocumentError::Invalid)?;
        Ok(record)
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
        let version = self.schema_version()?;
        schema::check(&self.doc, self.kind(), version)
    }

    /// [`RecordDoc::record`] read in one walk (see
    /// [`RecordDoc::checked_record_in_one_walk`]), not checked against the
    /// kind's rules: the server's stored copy before a push. A stored copy
    /// the schema walk refuses (written before a bound existed) is read
    /// the slower way, as before.
    pub fn record_in_one_walk(&self) -> Result<Record, DocumentError> {
        let version = self.schema_version()?;
        match schema::walk(&self.doc, self.kind(), version) {
            Ok(tree) => read_record(&tree, &self.header),
            Err(_) => self.record(),
        }
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

    /// Heads as lowercase hex strings, as the wire format carries them.
    pub fn heads_hex(&mut self) -> Vec<String> {
        self.doc.get_heads().iter().map(|h| h.to_string()).collect()
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

    /// A snapshot of the whole document with its columns not deflated:
    /// what the server stores. The same document chunk as [`Self::save`]
    /// gives, loaded the same way ([`Self::load`]); deflating it (setting
    /// up a compressor for each column over 256 bytes) was most of a
    /// save's cost, and loading it skips the inflating. Devices never
    /// receive it: they are sent changes.
    pub fn save_uncompressed(&mut self) -> Vec<u8> {
        self.doc.save_nocompress()
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
            version: self.version,
            places: None,
        }
    }
}
