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

use automerge::{AutoCommit, ObjId, ObjType, Prop, ROOT, ReadDoc, ScalarValue, Value};

use super::DocumentError;
use super::entries::{
    ATTENDING, LEGACY_CHECKLIST, LEGACY_NOTES, NOTE_ENTRIES, PROMISE_ENTRIES, TICK_ENTRIES,
};
use super::tree::{Node, Slot, Tree, slot};
use crate::model::{
    MAX_ACTIONS, MAX_ATTENDING, MAX_NOTE_ENTRIES, MAX_PROMISE_ENTRIES, MAX_SHORT_LEN, MAX_TEXT_LEN,
    MAX_TICKS, RecordKind,
};
use std::fmt::Write as _;

/// Longest time string (RFC 3339 with a nine-digit fraction and an offset is 35).
const TIME: Shape = Shape::Str(64);
const SHORT: Shape = Shape::Str(MAX_SHORT_LEN);
const TEXT: Shape = Shape::Str(MAX_TEXT_LEN);
/// Reasons for attending: one per vocabulary entry at most, with room.
const MAX_REASONS: usize = 32;

/// What one value of the tree may be.
#[derive(Clone, Copy)]
enum Shape {
    /// A scalar string of at most this many bytes.
    Str(usize),
    Bool,
    /// A non-negative integer.
    Uint,
    /// A number (a coordinate).
    Num,
    /// Null or the shape.
    Opt(&'static Shape),
    /// A map with these keys only (each optional).
    Map(&'static [Field]),
    /// An enum value with fields: a map keyed by variant name.
    Variants(&'static [Field]),
    /// A list of at most this many values of the shape.
    List(usize, &'static Shape),
    /// A map with at most this many short keys, values of the shape.
    Dict(usize, &'static Shape),
    /// Automerge text of at most this many bytes (schema-v1 notes only).
    Text(usize),
}

/// One key of a map; `legacy` keys are accepted in schema-v1 documents only.
#[derive(Clone, Copy)]
struct Field {
    key: &'static str,
    shape: Shape,
    legacy: bool,
}

const fn f(key: &'static str, shape: Shape) -> Field {
    Field {
        key,
        shape,
        legacy: false,
    }
}

const fn legacy(key: &'static str, shape: Shape) -> Field {
    Field {
        key,
        shape,
        legacy: true,
    }
}

const OFFICER: Shape = Shape::Map(&[
    f("shoulder_number", SHORT),
    f("name", SHORT),
    f("station", SHORT),
]);

const HEADER: Shape = Shape::Map(&[
    f("id", SHORT),
    f("kind", SHORT),
    f("reference", SHORT),
    f("created_at", TIME),
    f("author", OFFICER),
]);

const LOCATION: Shape = Shape::Map(&[
    f("latitude", Shape::Opt(&Shape::Num)),
    f("longitude", Shape::Opt(&Shape::Num)),
    f("street", TEXT),
]);

const ACTION_DETAIL: Shape = Shape::Variants(&[
    f(
        "EvidenceCollected",
        Shape::Map(&[
            f("what", TEXT),
            f("where_found", TEXT),
            f("exhibit_number", SHORT),
        ]),
    ),
    f(
        "SuspectDescription",
        Shape::Map(&[f("description", TEXT), f("circulated", Shape::Bool)]),
    ),
    f(
        "Search",
        Shape::Map(&[
            f("area", TEXT),
            f("victim_pointed_out_suspect", Shape::Bool),
        ]),
    ),
    f(
        "Witness",
        Shape::Map(&[f("found", Shape::Bool), f("contact_details", TEXT)]),
    ),
    f("Note", Shape::Map(&[f("text", TEXT)])),
]);

const ACTION: Shape = Shape::Map(&[
    f("id", SHORT),
    f("recorded_by", SHORT),
    f("recorded_at", TIME),
    f("detail", ACTION_DETAIL),
]);

const TICK: Shape = Shape::Map(&[
    f("id", SHORT),
    f("item", SHORT),
    f("outcome", SHORT),
    f("reason", Shape::Opt(&TEXT)),
    f("ticked_by", SHORT),
    f("ticked_at", TIME),
]);

const NOTE: Shape = Shape::Map(&[
    f("id", SHORT),
    f("written_by", SHORT),
    f("written_at", TIME),
    f("text", TEXT),
    f("corrects", Shape::Opt(&SHORT)),
]);

const UPDATES: Shape = Shape::Map(&[
    f("method", SHORT),
    f("every_days", Shape::Uint),
    f("agreed_at", Shape::Opt(&TIME)),
]);

const PROMISE_ENTRY: Shape = Shape::Map(&[
    f("id", SHORT),
    f("kind", SHORT),
    f("made_by", SHORT),
    f("made_at", TIME),
    f("corrects", Shape::Opt(&SHORT)),
    f("withdrawn", Shape::Bool),
]);

const RECEIPT: Shape = Shape::Variants(&[
    f(
        "Given",
        Shape::Map(&[f("medium", SHORT), f("given_at", TIME)]),
    ),
    f(
        "NotGiven",
        Shape::Map(&[f("reason", TEXT), f("recorded_at", TIME)]),
    ),
]);

const NOTES: Field = f(NOTE_ENTRIES, Shape::List(MAX_NOTE_ENTRIES, &NOTE));
const LEGACY_NOTES_TEXT: Field = legacy(LEGACY_NOTES, Shape::Text(MAX_TEXT_LEN));

const SCENE: Shape = Shape::Map(&[
    f("reasons", Shape::List(MAX_REASONS, &SHORT)),
    f("grade", SHORT),
    f("call_received", TIME),
    f("appointment", Shape::Opt(&TIME)),
    f("arrived", Shape::Opt(&TIME)),
    f("left", Shape::Opt(&TIME)),
    f("location", LOCATION),
    f("actions", Shape::List(MAX_ACTIONS, &ACTION)),
    f(TICK_ENTRIES, Shape::List(MAX_TICKS, &TICK)),
    f("updates", Shape::Opt(&UPDATES)),
    NOTES,
    f(ATTENDING, Shape::Dict(MAX_ATTENDING, &Shape::Bool)),
    f("offence", Shape::Opt(&SHORT)),
    f(
        PROMISE_ENTRIES,
        Shape::List(MAX_PROMISE_ENTRIES, &PROMISE_ENTRY),
    ),
    LEGACY_NOTES_TEXT,
    legacy(LEGACY_CHECKLIST, Shape::Dict(MAX_TICKS, &TICK)),
]);

const CONDUCT: Shape = Shape::Map(&[
    f("grounds_explained", Shape::Bool),
    f("object_told", Shape::Bool),
    f("warrant_card_shown", Shape::Opt(&Shape::Bool)),
    f("identity_given", Shape::Bool),
    f("station_given", Shape::Bool),
    f("entitlement_to_copy_told", Shape::Bool),
    f("legal_power_explained", Shape::Bool),
    f("told_detained_for_search", Shape::Bool),
    f("treated_with_respect", Shape::Bool),
]);

const SEARCH: Shape = Shape::Map(&[
    f("search_type", SHORT),
    f("vehicle_registration", Shape::Opt(&SHORT)),
    f("datetime", TIME),
    f("location", LOCATION),
    f("gender", Shape::Opt(&SHORT)),
    f("age_range", Shape::Opt(&SHORT)),
    f("self_defined_ethnicity", Shape::Opt(&SHORT)),
    f("officer_defined_ethnicity", Shape::Opt(&SHORT)),
    f("grounds", TEXT),
    f("object_of_search", SHORT),
    f("legislation", SHORT),
    f("operation_name", Shape::Opt(&SHORT)),
    f("outcome", SHORT),
    f(
        "outcome_linked_to_object_of_search",
        Shape::Opt(&Shape::Bool),
    ),
    f("removal_of_more_than_outer_clothing", Shape::Bool),
    f("conduct", CONDUCT),
    f("receipt", Shape::Opt(&RECEIPT)),
    NOTES,
    LEGACY_NOTES_TEXT,
]);

const ACCOUNT: Shape = Shape::Map(&[
    f("datetime", TIME),
    f("location", LOCATION),
    f("self_defined_ethnicity", Shape::Opt(&SHORT)),
    f("asked_about", TEXT),
    f("receipt", Shape::Opt(&RECEIPT)),
    NOTES,
    LEGACY_NOTES_TEXT,
]);

const SCENE_FIELD: Field = f("scene", SCENE);
const SEARCH_FIELD: Field = f("search", SEARCH);
const ACCOUNT_FIELD: Field = f("account", ACCOUNT);

/// The root of a record of each kind: the body holds that kind only.
macro_rules! root {
    ($variant:literal, $inner:expr) => {
        &[
            f("schema", SHORT),
            f("schema_version", Shape::Uint),
            f("header", HEADER),
            f("body", Shape::Map(&[f($variant, Shape::Map(&[$inner]))])),
        ]
    };
}

const SCENE_ROOT: &[Field] = root!("SceneAttendance", SCENE_FIELD);
const BURGLARY_ROOT: &[Field] = root!("HomeBurglary", SCENE_FIELD);
const SEARCH_ROOT: &[Field] = root!("StopSearch", SEARCH_FIELD);
const ACCOUNT_ROOT: &[Field] = root!("StopAccount", ACCOUNT_FIELD);

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
