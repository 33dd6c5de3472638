//! Reading a record's document: its header and schema version (with the
//! checks of a load), its body and typed record, its named conflicts,
//! from the document or from the tree a walk kept (any `tree::Reader`),
//! and the one schema walk that reads a new or merged record's header and
//! record together. `RecordDoc` (in `document.rs` and `incoming.rs`)
//! calls these.

use automerge::{AutoCommit, ObjId, ObjType, ROOT, Value};
use autosurgeon::hydrate_prop;

use super::error::DocumentError;
use super::schema::{SCHEMA_ID, SCHEMA_VERSION};
use super::{entries, schema, tree};
use crate::model::{Record, RecordBody, RecordHeader, RecordKind};

/// The map inside `body` that holds the fields of a record of `kind`.
pub(super) fn inner_in<D: tree::Reader>(doc: &D, kind: RecordKind) -> Result<ObjId, DocumentError> {
    let (variant, field) = match kind {
        RecordKind::SceneAttendance => ("SceneAttendance", "scene"),
        RecordKind::HomeBurglary => ("HomeBurglary", "scene"),
        RecordKind::StopSearch => ("StopSearch", "search"),
        RecordKind::StopAccount => ("StopAccount", "account"),
    };
    let existing = |parent: &ObjId, key: &str| match autosurgeon::ReadDoc::get(doc, parent, key)? {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Err(DocumentError::Shape(format!("missing {key}"))),
    };
    let body = existing(&ROOT, "body")?;
    let variant = existing(&body, variant)?;
    existing(&variant, field)
}

/// [`RecordDoc::body`] from any reader of the document.
pub(super) fn read_body<D: tree::Reader>(
    doc: &D,
    header: &RecordHeader,
) -> Result<RecordBody, DocumentError> {
    let mut body: RecordBody = hydrate_prop(doc, ROOT, "body")?;
    if body.kind() != header.kind {
        return Err(DocumentError::Shape("body kind differs from header".into()));
    }
    let inner = inner_in(doc, header.kind)?;
    *body.notes_mut() = entries::read_notes(doc, &inner, header)?;
    if let RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } = &mut body {
        scene.checklist = entries::read_ticks(doc, &inner)?;
        scene.attending = entries::read_attending(doc, &inner)?;
        scene.promise_entries = entries::read_promise_entries(doc, &inner)?;
        scene.updates_agreed_at = entries::read_agreed_at(doc, &inner)?;
    }
    Ok(body)
}

/// [`RecordDoc::record`] from any reader of the document.
pub(super) fn read_record<D: tree::Reader>(
    doc: &D,
    header: &RecordHeader,
) -> Result<Record, DocumentError> {
    let body = read_body(doc, header)?;
    let mut derived = body.derived();
    derived.conflicts = read_conflicts(doc, header.kind)?;
    Ok(Record {
        header: header.clone(),
        derived,
        body,
    })
}

/// [`RecordDoc::conflicts`] from any reader of the document.
pub(super) fn read_conflicts<D: tree::Reader>(
    doc: &D,
    kind: RecordKind,
) -> Result<Vec<String>, DocumentError> {
    let inner = inner_in(doc, kind)?;
    Ok(doc
        .conflicting_keys(&inner)
        .into_iter()
        .filter(|key| !entries::COMBINED.contains(&key.as_str()))
        .collect())
}

/// The header of a record's document and its schema version, with the
/// checks of a load: a Pocketbook record, of a schema version this code
/// reads.
pub(super) fn header_in<D: tree::Reader>(tree: &D) -> Result<(RecordHeader, u64), DocumentError> {
    match autosurgeon::ReadDoc::get(tree, &ROOT, "schema")? {
        Some((Value::Scalar(s), _)) if s.as_str() == Some(SCHEMA_ID) => {}
        _ => return Err(DocumentError::NotPocketbook),
    }
    let version: u64 =
        hydrate_prop(tree, ROOT, "schema_version").map_err(|_| DocumentError::NotPocketbook)?;
    if version > SCHEMA_VERSION {
        return Err(DocumentError::TooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let header: RecordHeader = hydrate_prop(tree, ROOT, "header")?;
    Ok((header, version))
}

/// The header, schema version and checked record of a document of `kind`
/// from one schema walk, if the walk accepts it and the header it read is
/// of that kind. The walk is that of the newest schema version: a document
/// without schema-v1 keys walks the same at version 1, and one with them
/// is refused here and read the usual way by the caller.
pub(super) fn walked(
    doc: &AutoCommit,
    kind: RecordKind,
) -> Option<(RecordHeader, u64, Result<Record, DocumentError>)> {
    let tree = schema::walk(doc, kind, SCHEMA_VERSION).ok()?;
    let (header, version) = header_in(&tree).ok()?;
    if header.kind != kind {
        return None;
    }
    let record = read_record(&tree, &header).and_then(|record| {
        record.body.validate().map_err(DocumentError::Invalid)?;
        Ok(record)
    });
    Some((header, version, record))
}

/// How many changes a document holds.
pub(super) fn change_count(doc: &AutoCommit) -> u64 {
    automerge::ReadDoc::stats(doc).num_changes
}
