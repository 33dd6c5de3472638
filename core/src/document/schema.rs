//! The whole-document schema check: every key, value type, string length
//! and list length of a record's Automerge tree, against the shapes of
//! "Record fields" in `ARCHITECTURE.md`.
//!
//! The typed record reads only what it knows, so content outside the schema
//! (an extra key, a huge string in a conflicting value) would be kept,
//! stored and sent to every device unseen. This walks the tree itself,
//! every conflicting value included (`get_all`), and never rebuilds the
//! document: a history written by the server would fork the record from the
//! devices' copies. Messages give the path, never content (an unknown key is
//! not named: it is content too).
//!
//! The shapes it holds a document against are data, in `shapes`; the
//! marker and the layout version every document carries are here, beside
//! the walk that accepts schema-v1 keys by that version.

use automerge::{AutoCommit, ObjId, ObjType, Prop, ROOT, ReadDoc, ScalarValue, Value};

mod shapes;

use super::error::DocumentError;
use super::tree::{Node, Slot, Tree, slot};
use crate::model::{MAX_SHORT_LEN, RecordKind};
use shapes::{ACCOUNT_ROOT, BURGLARY_ROOT, Field, SCENE_ROOT, SEARCH_ROOT, Shape};
use std::fmt::Write as _;

/// Marks a document as a Pocketbook record.
pub const SCHEMA_ID: &str = "pocketbook.record";
/// The document layout this code writes and the newest it reads. Version 2
/// made notes and ticks append-only lists and multi-field values whole
/// registers; version 1 documents stay readable and are never rewritten.
pub const SCHEMA_VERSION: u64 = 2;

/// Checks the whole tree of `doc`, a record of `kind` whose schema version
/// is `version` (schema-v1 keys are accepted in version 1 only).
pub fn check(doc: &AutoCommit, kind: RecordKind, version: u64) -> Result<(), DocumentError> {
    walk(doc, kind, version).map(drop)
}

/// [`check`], keeping what the walk read: every object's values, for the
/// record to be read from without reading the document again.
pub fn walk(doc: &AutoCommit, kind: RecordKind, version: u64) -> Result<Tree<'_>, DocumentError> {
    let root = match kind {
        RecordKind::SceneAttendance => SCENE_ROOT,
        RecordKind::HomeBurglary => BURGLARY_ROOT,
        RecordKind::StopSearch => SEARCH_ROOT,
        RecordKind::StopAccount => ACCOUNT_ROOT,
    };
    let mut walker = Walker {
        doc,
        v1: version < 2,
        tree: Tree::new(doc),
    };
    walker.map_fields(&ROOT, root, &mut String::new())?;
    Ok(walker.tree)
}

struct Walker<'a> {
    doc: &'a AutoCommit,
    v1: bool,
    tree: Tree<'a>,
}

impl Slot {
    fn each(&self) -> &[(Value<'static>, ObjId)] {
        match &self.all {
            Some(all) => all,
            None => std::slice::from_ref(&self.winner),
        }
    }
}

fn wrong(path: &str, problem: impl std::fmt::Display) -> DocumentError {
    let at = if path.is_empty() { "(root)" } else { path };
    DocumentError::Shape(format!("{at}: {problem}"))
}

/// [`slot`], making the key or index to look up only when Automerge
/// flags a conflict (most values have none).
fn slot_of(
    doc: &AutoCommit,
    obj: &ObjId,
    prop: impl FnOnce() -> Prop,
    winner: (Value<'static>, ObjId),
    conflict: bool,
) -> Result<Slot, automerge::AutomergeError> {
    if conflict {
        slot(doc, obj, prop(), winner, true)
    } else {
        Ok(Slot { winner, all: None })
    }
}

impl Walker<'_> {
    /// The keys of the map `obj`: each one of `fields`, every conflicting
    /// value checked.
    fn map_fields(
        &mut self,
        obj: &ObjId,
        fields: &[Field],
        path: &mut String,
    ) -> Result<(), DocumentError> {
        let doc = self.doc;
        let mut keys = Vec::with_capacity(fields.len());
        for item in doc.map_range(obj, ..) {
            let key = item.key.as_ref();
            let Some(field) = fields.iter().find(|f| f.key == key) else {
                return Err(wrong(path, "a key outside the schema"));
            };
            if field.legacy && !self.v1 {
                return Err(wrong(path, "a schema-v1 key in a newer record"));
            }
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(field.key);
            let key = key.to_string();
            let winner = (item.value.clone().into_value(), item.id());
            let slot = slot_of(doc, obj, || Prop::Map(key.clone()), winner, item.conflict)?;
            for (value, id) in slot.each() {
                self.value(value, id, &field.shape, path)?;
            }
            path.truncate(len);
            keys.push((key, slot));
        }
        self.tree.insert(obj.clone(), Node::Map(keys));
        Ok(())
    }

    fn value(
        &mut self,
        value: &Value<'_>,
        id: &ObjId,
        shape: &Shape,
        path: &mut String,
    ) -> Result<(), DocumentError> {
        match (shape, value) {
            (Shape::Opt(_), Value::Scalar(s)) if s.is_null() => Ok(()),
            (Shape::Opt(inner), _) => self.value(value, id, inner, path),
            (Shape::Str(max), Value::Scalar(s)) => match s.as_ref() {
                ScalarValue::Str(text) if text.len() <= *max => Ok(()),
                ScalarValue::Str(_) => Err(wrong(path, format!("longer than {max} bytes"))),
                _ => Err(wrong(path, "not a string")),
            },
            (Shape::Bool, Value::Scalar(s)) if matches!(s.as_ref(), ScalarValue::Boolean(_)) => {
                Ok(())
            }
            (Shape::Uint, Value::Scalar(s))
                if matches!(s.as_ref(), ScalarValue::Uint(_))
                    || matches!(s.as_ref(), ScalarValue::Int(i) if *i >= 0) =>
            {
                Ok(())
            }
            (Shape::Num, Value::Scalar(s))
                if matches!(
                    s.as_ref(),
                    ScalarValue::F64(_) | ScalarValue::Int(_) | ScalarValue::Uint(_)
                ) =>
            {
                Ok(())
            }
            (Shape::Map(fields), Value::Object(ObjType::Map)) => self.map_fields(id, fields, path),
            (Shape::Variants(variants), Value::Object(ObjType::Map)) => {
                if self.doc.length(id) > 1 {
                    return Err(wrong(path, "more than one variant"));
                }
                self.map_fields(id, variants, path)
            }
            (Shape::List(max, inner), Value::Object(ObjType::List)) => {
                let doc = self.doc;
                let len = doc.length(id);
                if len > *max {
                    return Err(wrong(path, format!("more than {max} entries")));
                }
                let base = path.len();
                let mut items = Vec::with_capacity(len);
                // An empty list is not walked: it has no element to check
                // or keep, and setting up Automerge's `list_range` seeks
                // through the document's columns (about 8,500 instructions,
                // more than walking a small map), for nothing: most lists
                // of a new record (actions, ticks, notes, promise entries)
                // are empty.
                let range = (len > 0).then(|| doc.list_range(id, ..));
                for item in range.into_iter().flatten() {
                    path.truncate(base);
                    // Written in place: no string made per element.
                    write!(path, "[{}]", item.index).expect("a String takes any write");
                    let winner = (item.value.clone().into_value(), item.id());
                    let slot = slot_of(doc, id, || Prop::Seq(item.index), winner, item.conflict)?;
                    for (value, element) in slot.each() {
                        self.value(value, element, inner, path)?;
                    }
                    items.push(slot);
                }
                path.truncate(base);
                self.tree.insert(id.clone(), Node::List(items));
                Ok(())
            }
            (Shape::Dict(max, inner), Value::Object(ObjType::Map)) => {
                let doc = self.doc;
                let len = doc.length(id);
                if len > *max {
                    return Err(wrong(path, format!("more than {max} entries")));
                }
                let base = path.len();
                let mut keys = Vec::with_capacity(len);
                // As for a list: an empty map is not walked (no
                // `map_range` set up for nothing).
                let range = (len > 0).then(|| doc.map_range(id, ..));
                for item in range.into_iter().flatten() {
                    if item.key.len() > MAX_SHORT_LEN || item.key.is_empty() {
                        return Err(wrong(path, "a key of the wrong length"));
                    }
                    path.truncate(base);
                    path.push_str("[]");
                    let key = item.key.to_string();
                    let winner = (item.value.clone().into_value(), item.id());
                    let slot = slot_of(doc, id, || Prop::Map(key.clone()), winner, item.conflict)?;
                    for (value, element) in slot.each() {
                        self.value(value, element, inner, path)?;
                    }
                    keys.push((key, slot));
                }
                path.truncate(base);
                self.tree.insert(id.clone(), Node::Map(keys));
                Ok(())
            }
            (Shape::Text(max), Value::Object(ObjType::Text)) => {
                if self.doc.length(id) > *max || self.doc.text(id)?.len() > *max {
                    return Err(wrong(path, format!("longer than {max} bytes")));
                }
                Ok(())
            }
            _ => Err(wrong(path, "a value of the wrong type")),
        }
    }
}

#[cfg(test)]
mod tests;
