//! How a record's document comes in: loaded from a snapshot, built from
//! the changes a device pushes, and merged with changes or another copy
//! from elsewhere. Every way in pre-parses the bytes (`crate::chunks`)
//! before Automerge reads them and bounds the document after, refuses
//! changes whose dependencies are missing rather than queueing them, and
//! reads the header with the checks of a load; the walked variants read
//! a pushed record's header and record in one schema walk (the server's
//! check of a push). Kept apart from `document.rs`, which makes and reads
//! a record, because this is where hostile bytes arrive.

use automerge::{ActorId, AutoCommit, LoadOptions, OnPartialLoad, ReadDoc, VerificationMode};

use super::read::{change_count, header_in, walked};
use super::{DocumentError, RecordDoc, tree};
use crate::model::{Record, RecordKind};

#[cfg(test)]
mod tests;

impl RecordDoc {
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
        Self::from_changes_exact(bytes, actor).map(|(doc, _)| doc)
    }

    /// [`RecordDoc::from_changes`], also saying whether `bytes` are exactly
    /// the document's changes: every chunk one change, none repeated,
    /// none left out. Then `bytes` can stand for
    /// [`RecordDoc::changes_since`]`(&[])` without encoding them again
    /// (they passed the same pre-parse).
    pub fn from_changes_exact(bytes: &[u8], actor: ActorId) -> Result<(Self, bool), DocumentError> {
        let (doc, exact) = Self::load_changes(bytes, actor)?;
        Ok((Self::from_automerge(doc)?, exact))
    }

    /// The document of pushed changes, pre-parsed, loaded and bounded, and
    /// whether the bytes are exactly its changes (see
    /// [`RecordDoc::from_changes_exact`]); not yet read as a record.
    fn load_changes(bytes: &[u8], actor: ActorId) -> Result<(AutoCommit, bool), DocumentError> {
        let census = crate::chunks::check_changes(bytes, &crate::chunks::CHANGES)?;
        // What `load_incremental` into an empty document does, without
        // making the empty document first: changes with missing
        // dependencies are kept queued (not an error here) and refused below.
        let options = LoadOptions::new()
            .on_partial_load(OnPartialLoad::Ignore)
            .verification_mode(VerificationMode::Check);
        let doc = crate::chunks::no_panic(|| AutoCommit::load_with_options(bytes, options))?
            .map_err(|e| DocumentError::Corrupt(e.to_string()))?
            .with_actor(actor);
        if !doc.get_missing_deps(&[]).is_empty() {
            return Err(DocumentError::MissingDependencies);
        }
        crate::chunks::check_loaded(&doc, &crate::chunks::DOCUMENT)?;
        let exact = census.chunks == census.changes && census.changes == change_count(&doc);
        Ok((doc, exact))
    }

    /// [`RecordDoc::from_changes_exact`] for changes pushed as a record of
    /// `kind`, with what [`RecordDoc::checked_record_in_one_walk`] would
    /// answer read in the same walk as the header (the server's check of a
    /// new record): the header is not read in walks of its own first.
    ///
    /// The walk is the schema walk of `kind` without schema-v1 keys. When
    /// it refuses the document, or the header names another kind, the
    /// record is read as before (`None`: the caller runs the checks in
    /// their usual order), so every answer and every refusal is the same
    /// as those of the two steps; only the work differs.
    #[allow(clippy::type_complexity)]
    pub fn from_changes_walked(
        bytes: &[u8],
        actor: ActorId,
        kind: RecordKind,
    ) -> Result<(Self, bool, Option<Result<Record, DocumentError>>), DocumentError> {
        let (doc, exact) = Self::load_changes(bytes, actor)?;
        if let Some((header, version, record)) = walked(&doc, kind) {
            let doc = RecordDoc {
                doc,
                header,
                version: Some(version),
                places: None,
            };
            return Ok((doc, exact, Some(record)));
        }
        Ok((Self::from_automerge(doc)?, exact, None))
    }

    /// Reads the header again after changes were applied, with the checks
    /// of a load (a Pocketbook record, a schema version this code reads),
    /// so a merged copy need not be saved and loaded to be read.
    pub fn reread_header(&mut self) -> Result<(), DocumentError> {
        let doc = std::mem::take(&mut self.doc);
        *self = Self::from_automerge(doc)?;
        Ok(())
    }

    /// [`RecordDoc::reread_header`], with what
    /// [`RecordDoc::checked_record_in_one_walk`] would then answer read in
    /// the same walk (the server's check of an update): the schema walk of
    /// the record's kind as it was, the header taken from it, so the
    /// header is not read in walks of its own first. As in
    /// [`RecordDoc::from_changes_walked`], when the walk refuses the
    /// document or the header names another kind, the header is read as
    /// before and the record is not (`None`: the caller reads it after its
    /// own checks), so every answer and refusal, and their order, is the
    /// same as those of the two steps.
    pub fn reread_header_walked(
        &mut self,
    ) -> Result<Option<Result<Record, DocumentError>>, DocumentError> {
        if let Some((header, version, record)) = walked(&self.doc, self.header.kind) {
            self.header = header;
            self.version = Some(version);
            return Ok(Some(record));
        }
        self.reread_header()?;
        Ok(None)
    }

    fn from_automerge(doc: AutoCommit) -> Result<Self, DocumentError> {
        // The root, the header and its author, each in one range walk: a
        // lookup per field costs a seek through the document each.
        let tree = tree::Tree::along(&doc, &["header", "author"])?;
        let (header, version) = header_in(&tree)?;
        drop(tree);
        Ok(RecordDoc {
            doc,
            header,
            version: Some(version),
            places: None,
        })
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
        self.apply_changes_exact(bytes).map(drop)
    }

    /// [`RecordDoc::apply_changes`], also saying whether `bytes` are
    /// exactly the changes it added: every chunk one change this copy
    /// lacked, none repeated. Then `bytes` can stand for
    /// [`RecordDoc::changes_since`] the heads before, without encoding
    /// them again.
    pub fn apply_changes_exact(&mut self, bytes: &[u8]) -> Result<bool, DocumentError> {
        let census = crate::chunks::check_changes(bytes, &crate::chunks::CHANGES)?;
        let before = change_count(&self.doc);
        self.version = None;
        self.places = None;
        crate::chunks::no_panic(|| self.doc.load_incremental(bytes))?
            .map_err(|e| DocumentError::Corrupt(e.to_string()))?;
        if !self.doc.get_missing_deps(&[]).is_empty() {
            return Err(DocumentError::MissingDependencies);
        }
        crate::chunks::check_loaded(&self.doc, &crate::chunks::DOCUMENT)?;
        let added = change_count(&self.doc).saturating_sub(before);
        Ok(census.chunks == census.changes && census.changes == added)
    }

    /// Merges another copy of this record.
    pub fn merge(&mut self, other: &mut RecordDoc) -> Result<(), DocumentError> {
        if other.header.id != self.header.id {
            return Err(DocumentError::Shape("a different record".into()));
        }
        self.version = None;
        self.places = None;
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }
}
