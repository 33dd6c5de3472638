//! The record after a change, read from what the change touched: the
//! record before it (which the store keeps, `core/src/store/cache.rs`),
//! updated with only the parts the changes since its heads wrote.
//!
//! Reading a whole record out of its document costs time in proportion to
//! the record (Automerge reads every field), and the device store reads
//! the record after every edit for the write rule. An edit writes little:
//! a scene action, a note entry, a tick or a promise entry is one new map
//! appended to one list; a time, the offence, the update agreement or a
//! receipt is one key of the record's fields; a co-attending officer is
//! one key of a set. [`RecordDoc::record_since`] reads the operations of
//! the changes made since the heads the record before was read at (their
//! own bytes, not the document's), and when every operation is of those
//! shapes it reads only the new list elements and the keys written, onto
//! the record before. Anything else (a deletion, an overwrite of an
//! existing entry, an element inserted anywhere but the end of its list, a
//! list held twice under one key, the header, an object the record does
//! not have, a read that fails) is read the whole way
//! ([`RecordDoc::record_in_one_walk`]), so the answer is always the whole
//! read's, only sometimes as slow. `tests` holds the property test of that
//! equality over random histories of real edits and merges.

use std::borrow::Cow;
use std::collections::HashSet;

use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, Prop, ReadDoc, Value, legacy};
use autosurgeon::{Hydrate, hydrate_prop};

use crate::rules::Edited;

use super::entries::{ATTENDING, NOTE_ENTRIES, PROMISE_ENTRIES, TICK_ENTRIES};
use super::tree::{Node, Slot, Tree, slot};
use super::{DocumentError, RecordDoc, inner_in, read_conflicts};
use crate::model::{
    NoteEntry, PromiseEntry, Receipt, Record, RecordBody, SceneAction, StoredNote, Tick,
};

#[cfg(test)]
mod tests;

/// The lists whose new elements are read one by one (the record's
/// append-only entries), by their key in the record's fields.
const LISTS: &[&str] = &["actions", NOTE_ENTRIES, TICK_ENTRIES, PROMISE_ENTRIES];

/// The keys of a record's fields that an edit writes whole, read again
/// when written: what `edits` puts as a register.
const REGISTERS: &[&str] = &["arrived", "left", "offence", "updates", "receipt"];

impl RecordDoc {
    /// The record now, given `before`, the record as it was at
    /// `heads_before` (read from this document at those heads): `before`
    /// updated with what the changes since wrote, when they only appended
    /// entries and wrote whole fields; else the whole record read afresh.
    /// Always equal to [`RecordDoc::record_in_one_walk`].
    pub fn record_since(
        &mut self,
        before: &Record,
        heads_before: &[ChangeHash],
    ) -> Result<Record, DocumentError> {
        match self.read_since(before, heads_before) {
            Some(record) => Ok(record),
            None => self.record_in_one_walk(),
        }
    }

    /// [`RecordDoc::record_since`]'s short way, `None` where it does not
    /// apply.
    fn read_since(&mut self, before: &Record, heads_before: &[ChangeHash]) -> Option<Record> {
        if before.header != self.header {
            return None;
        }
        if self.doc.get_heads() == heads_before {
            return Some(before.clone());
        }
        // Heads this document lacks (a memo of another copy): the changes
        // "since" them would be the whole history.
        if heads_before.is_empty() || !self.doc.get_missing_deps(heads_before).is_empty() {
            return None;
        }
        let changes = self.doc.get_changes(heads_before);
        let written = Written::of(changes.iter().map(|c| c.decode()))?;
        self.apply(before.clone(), &written).ok().flatten()
    }

    /// The record after a local edit made on `heads_before` (`before`
    /// being the record then), with the bytes of the edit's change to
    /// store: [`RecordDoc::record_since`] and
    /// [`RecordDoc::last_local_change`] at once, the change taken from the
    /// document once rather than encoded for each (no bytes when no local
    /// change was made). An edit that only appended scene actions is
    /// [`Edited::ActionsAppended`]: `before` itself with the new
    /// actions pushed, not a copy beside it.
    pub fn record_after_local_edit(
        &mut self,
        before: Record,
        heads_before: &[ChangeHash],
    ) -> Result<(Edited, Option<Vec<u8>>), DocumentError> {
        let heads = self.doc.get_heads();
        let Some(change) = self.doc.get_last_local_change() else {
            let after = self.record_since(&before, heads_before)?;
            return Ok((Edited::Whole { before, after }, None));
        };
        let bytes = change.raw_bytes().to_vec();
        // The one change since `heads_before` when it stands on exactly
        // those heads and is the only head now: then it is what
        // `get_changes(heads_before)` would give.
        let mut deps = change.deps().to_vec();
        let mut expected = heads_before.to_vec();
        deps.sort();
        expected.sort();
        let only = heads == [change.hash()] && deps == expected && !heads_before.is_empty();
        if !only || before.header != self.header {
            let after = self.record_since(&before, heads_before)?;
            return Ok((Edited::Whole { before, after }, Some(bytes)));
        }
        let Some(written) = Written::of(std::iter::once(change.decode())) else {
            let after = self.record_in_one_walk()?;
            return Ok((Edited::Whole { before, after }, Some(bytes)));
        };
        let mut record = before;
        if let Ok(Some(added)) = self.append_actions(&mut record, &written, &heads) {
            return Ok((Edited::ActionsAppended { record, added }, Some(bytes)));
        }
        let after = match self.apply(record.clone(), &written) {
            Ok(Some(after)) => after,
            _ => self.record_in_one_walk()?,
        };
        Ok((
            Edited::Whole {
                before: record,
                after,
            },
            Some(bytes),
        ))
    }

    /// What [`RecordDoc::apply`] makes of `written` when it only appended
    /// scene actions to the end of the record's one `actions` list: those
    /// actions pushed onto `record`, and how many. `None` (and `record`
    /// untouched) for anything else.
    fn append_actions(
        &self,
        record: &mut Record,
        written: &Written,
        heads: &[ChangeHash],
    ) -> Result<Option<usize>, DocumentError> {
        let (RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene }) =
            &mut record.body
        else {
            return Ok(None);
        };
        let doc = &self.doc;
        let Some((_, Op::Insert(_))) = written.ops.first() else {
            return Ok(None);
        };
        let list = &written.ops[0].0;
        let mut elements: Vec<&ObjId> = Vec::with_capacity(written.ops.len());
        for (obj, op) in &written.ops {
            match op {
                Op::Insert(element) if obj == list => elements.push(element),
                _ => return Ok(None),
            }
        }
        let at_end = match self.appended_action(heads, list) {
            // This copy's own scene action, the document as it left it:
            // the one element it appended at the end of the record's one
            // `actions` list, found without looking it up again.
            Some(appended) if elements.as_slice() == [appended] => vec![appended.clone()],
            _ => {
                // The list must be the record's `actions`, held once.
                let inner = inner_in(doc, self.kind())?;
                match doc.get_all(&inner, "actions")?.as_slice() {
                    [(Value::Object(ObjType::List), id)] if id == list => {}
                    _ => return Ok(None),
                }
                // The new elements are the list's last (as `apply` requires).
                let len = doc.length(list);
                let Some(start) = len.checked_sub(elements.len()) else {
                    return Ok(None);
                };
                let mut at_end = Vec::with_capacity(elements.len());
                for item in doc.list_range(list, start..) {
                    if item.conflict || !elements.contains(&&item.id()) {
                        return Ok(None);
                    }
                    at_end.push(item.id());
                }
                if at_end.len() != elements.len() {
                    return Ok(None);
                }
                at_end
            }
        };
        let mut tree = Tree::new(doc);
        if !written.made_maps(&mut tree, &at_end) {
            tree = Tree::new(doc);
            for element in &at_end {
                walk(&mut tree, doc, element, ObjType::Map)?;
            }
        }
        let mut actions = Vec::with_capacity(at_end.len());
        for element in &at_end {
            actions.push(SceneAction::hydrate_map(&tree, element)?);
        }
        let added = actions.len();
        scene.actions.extend(actions);
        let conflicts = std::mem::take(&mut record.derived.conflicts);
        record.derived = record.body.derived();
        record.derived.conflicts = conflicts;
        Ok(Some(added))
    }

    /// `record` with what `written` names read from the document.
    fn apply(
        &self,
        mut record: Record,
        written: &Written,
    ) -> Result<Option<Record>, DocumentError> {
        let doc = &self.doc;
        let inner = inner_in(doc, self.kind())?;
        // The record's fields, in one range walk: each container's id, and
        // whether the key holds more than one value.
        let mut fields: Vec<(String, ObjId, bool)> = Vec::new();
        for item in doc.map_range(&inner, ..) {
            fields.push((item.key.to_string(), item.id(), item.conflict));
        }
        let field_of = |obj: &ObjId| fields.iter().find(|(_, id, _)| id == obj);
        let mut tree = Tree::new(doc);
        let mut registers: Vec<&str> = Vec::new();
        let mut attending = false;
        let mut appended: Vec<(&str, ObjId, Vec<ObjId>)> = Vec::new();
        for (obj, what) in &written.ops {
            if *obj == inner {
                match what {
                    Op::Put(key) => match REGISTERS.iter().find(|k| *k == key) {
                        Some(key) => registers.push(key),
                        None => return Ok(None),
                    },
                    Op::Insert(_) => return Ok(None),
                }
                continue;
            }
            let Some((key, list, conflict)) = field_of(obj) else {
                return Ok(None);
            };
            if *conflict {
                return Ok(None);
            }
            match what {
                Op::Put(_) if key == ATTENDING => attending = true,
                Op::Insert(element) => match LISTS.iter().find(|k| *k == key) {
                    Some(key) => match appended.iter_mut().find(|(k, _, _)| k == key) {
                        Some((_, _, elements)) => elements.push(element.clone()),
                        None => appended.push((key, list.clone(), vec![element.clone()])),
                    },
                    None => return Ok(None),
                },
                Op::Put(_) => return Ok(None),
            }
        }
        for (key, list, elements) in &appended {
            // The new elements must be the list's last, in any order
            // among themselves (a merge may interleave two devices').
            let len = doc.length(list);
            let Some(start) = len.checked_sub(elements.len()) else {
                return Ok(None);
            };
            let mut at_end = Vec::with_capacity(elements.len());
            for item in doc.list_range(list, start..) {
                if item.conflict || !elements.contains(&item.id()) {
                    return Ok(None);
                }
                at_end.push(item.id());
            }
            if at_end.len() != elements.len() {
                return Ok(None);
            }
            for element in &at_end {
                walk(&mut tree, doc, element, ObjType::Map)?;
            }
            match (*key, &mut record.body) {
                ("actions", RecordBody::SceneAttendance { scene })
                | ("actions", RecordBody::HomeBurglary { scene }) => {
                    for element in &at_end {
                        let action = SceneAction::hydrate_map(&tree, element)?;
                        scene.actions.push(action);
                    }
                }
                (TICK_ENTRIES, RecordBody::SceneAttendance { scene })
                | (TICK_ENTRIES, RecordBody::HomeBurglary { scene }) => {
                    for element in &at_end {
                        let tick = Tick::hydrate_map(&tree, element)?;
                        if !scene.checklist.iter().any(|t| t.id == tick.id) {
                            scene.checklist.push(tick);
                        }
                    }
                }
                (PROMISE_ENTRIES, RecordBody::SceneAttendance { scene })
                | (PROMISE_ENTRIES, RecordBody::HomeBurglary { scene }) => {
                    for element in &at_end {
                        let entry = PromiseEntry::hydrate_map(&tree, element)?;
                        if !scene.promise_entries.iter().any(|e| e.id == entry.id) {
                            scene.promise_entries.push(entry);
                        }
                    }
                }
                (NOTE_ENTRIES, body) => {
                    let notes = body.notes_mut();
                    for element in &at_end {
                        let stored = StoredNote::hydrate_map(&tree, element)?;
                        if notes.iter().any(|n| n.id == stored.id) {
                            continue;
                        }
                        let Ok(entry) = NoteEntry::try_from(stored) else {
                            return Ok(None);
                        };
                        // A correction marks the entry it corrects, after
                        // the corrections already there (notebook order).
                        if let Some(target) = &entry.corrects
                            && let Some(corrected) = notes.iter_mut().find(|n| &n.id == target)
                        {
                            corrected.corrected_by.push(entry.id.clone());
                        }
                        notes.push(entry);
                    }
                }
                _ => return Ok(None),
            }
        }
        if attending {
            match &mut record.body {
                RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
                    scene.attending = super::entries::read_attending(doc, &inner)?;
                }
                _ => return Ok(None),
            }
        }
        for key in &registers {
            match (*key, &mut record.body) {
                ("arrived", RecordBody::SceneAttendance { scene })
                | ("arrived", RecordBody::HomeBurglary { scene }) => {
                    scene.arrived = hydrate_prop(doc, &inner, "arrived")?;
                }
                ("left", RecordBody::SceneAttendance { scene })
                | ("left", RecordBody::HomeBurglary { scene }) => {
                    scene.left = hydrate_prop(doc, &inner, "left")?;
                }
                ("offence", RecordBody::SceneAttendance { scene })
                | ("offence", RecordBody::HomeBurglary { scene }) => {
                    scene.offence = hydrate_prop(doc, &inner, "offence")?;
                }
                ("updates", RecordBody::SceneAttendance { scene })
                | ("updates", RecordBody::HomeBurglary { scene }) => {
                    scene.updates = hydrate_prop(doc, &inner, "updates")?;
                    scene.updates_agreed_at = super::entries::read_agreed_at(doc, &inner)?;
                }
                ("receipt", RecordBody::StopSearch { search }) => {
                    let receipt: Option<Receipt> = hydrate_prop(doc, &inner, "receipt")?;
                    search.receipt = receipt;
                }
                ("receipt", RecordBody::StopAccount { account }) => {
                    let receipt: Option<Receipt> = hydrate_prop(doc, &inner, "receipt")?;
                    account.receipt = receipt;
                }
                _ => return Ok(None),
            }
        }
        let conflicts = if registers.is_empty() {
            std::mem::take(&mut record.derived.conflicts)
        } else {
            read_conflicts(doc, self.kind())?
        };
        record.derived = record.body.derived();
        record.derived.conflicts = conflicts;
        Ok(Some(record))
    }
}

/// What one operation of the changes did to an object the record held
/// before them.
enum Op {
    /// Wrote this key of a map (a put, or a new object under the key).
    Put(String),
    /// Inserted this new map into a list.
    Insert(ObjId),
}

/// The operations of a set of changes, reduced to what they did to objects
/// that existed before them (operations inside objects the changes made
/// are read with those objects).
struct Written {
    ops: Vec<(ObjId, Op)>,
    /// The operations inside objects the changes made, which hold what
    /// those objects hold.
    inside: Vec<Inside>,
}

/// One operation inside an object the changes made.
struct Inside {
    obj: ObjId,
    /// The key written (`None`: an element of a list).
    key: Option<String>,
    value: Value<'static>,
    id: ObjId,
    /// Whether it overwrote nothing.
    fresh: bool,
}

impl Written {
    /// `None` when an operation is of a kind [`RecordDoc::record_since`]
    /// does not read in part: a deletion, an increment, text or marks, a
    /// list element overwritten, a list insert of anything but a map.
    fn of(changes: impl Iterator<Item = legacy::Change>) -> Option<Written> {
        let mut made: HashSet<ObjId> = HashSet::new();
        let mut ops = Vec::new();
        let mut inside = Vec::new();
        for change in changes {
            let start = change.start_op.get();
            for (at, op) in change.operations.into_iter().enumerate() {
                let id = ObjId::Id(start + at as u64, change.actor_id.clone(), 0);
                let obj = match op.obj {
                    legacy::ObjectId::Root => return None,
                    legacy::ObjectId::Id(legacy::OpId(counter, actor)) => {
                        ObjId::Id(counter, actor, 0)
                    }
                };
                match &op.action {
                    legacy::OpType::Make(ObjType::Map | ObjType::List) | legacy::OpType::Put(_) => {
                    }
                    _ => return None,
                }
                if let legacy::OpType::Make(_) = op.action {
                    made.insert(id.clone());
                }
                if made.contains(&obj) {
                    inside.push(Inside {
                        key: match &op.key {
                            legacy::Key::Map(key) => Some(key.to_string()),
                            legacy::Key::Seq(_) => None,
                        },
                        value: match op.action {
                            legacy::OpType::Make(ty) => Value::Object(ty),
                            legacy::OpType::Put(value) => Value::Scalar(Cow::Owned(value)),
                            _ => return None,
                        },
                        fresh: op.pred.is_empty() && !op.insert,
                        obj,
                        id,
                    });
                    continue;
                }
                match (op.key, op.insert, &op.action) {
                    (legacy::Key::Map(key), false, _) => ops.push((obj, Op::Put(key.to_string()))),
                    (legacy::Key::Seq(_), true, legacy::OpType::Make(ObjType::Map))
                        if op.pred.is_empty() =>
                    {
                        ops.push((obj, Op::Insert(id)))
                    }
                    _ => return None,
                }
            }
        }
        Some(Written { ops, inside })
    }
}

impl Written {
    /// Records in `tree` the maps `elements` and every map under them, as
    /// the changes' own operations wrote them, when those are all they
    /// hold: every key written once, overwriting nothing, and nothing but
    /// maps and scalars (a fresh map's content is then exactly its
    /// operations, as a walk of the document would read it; nothing else
    /// can have written into objects the changes made, the changes being
    /// all there is since). `false` where that does not hold: `walk` the
    /// document then.
    fn made_maps(&self, tree: &mut Tree<'_>, elements: &[ObjId]) -> bool {
        let mut maps: Vec<(ObjId, Vec<(String, Slot)>)> =
            elements.iter().map(|e| (e.clone(), Vec::new())).collect();
        for op in &self.inside {
            let (Some(key), true) = (&op.key, op.fresh) else {
                return false;
            };
            match op.value {
                Value::Object(ObjType::Map) => maps.push((op.id.clone(), Vec::new())),
                Value::Object(_) => return false,
                Value::Scalar(_) => {}
            }
            let Some((_, keys)) = maps.iter_mut().find(|(id, _)| *id == op.obj) else {
                return false;
            };
            if keys.iter().any(|(k, _)| k == key) {
                return false;
            }
            keys.push((
                key.clone(),
                Slot {
                    winner: (op.value.clone(), op.id.clone()),
                    all: None,
                },
            ));
        }
        for (id, keys) in maps {
            tree.insert(id, Node::Map(keys));
        }
        true
    }
}

/// Records `obj` and every map and list under it in `tree`, each in one
/// range walk, so the object is hydrated from memory.
fn walk<'a>(
    tree: &mut Tree<'a>,
    doc: &'a AutoCommit,
    obj: &ObjId,
    ty: ObjType,
) -> Result<(), DocumentError> {
    let mut children: Vec<(ObjId, ObjType)> = Vec::new();
    let mut note = |value: &Value<'_>, id: &ObjId| {
        if let Value::Object(ty @ (ObjType::Map | ObjType::List)) = value
            && !children.iter().any(|(c, _)| c == id)
        {
            children.push((id.clone(), *ty));
        }
    };
    let node = match ty {
        ObjType::Map => {
            let mut keys = Vec::new();
            for item in doc.map_range(obj, ..) {
                let key = item.key.to_string();
                let winner = (item.value.clone().into_value(), item.id());
                let slot = slot(doc, obj, Prop::Map(key.clone()), winner, item.conflict)?;
                for (value, id) in slot.all.iter().flatten().chain([&slot.winner]) {
                    note(value, id);
                }
                keys.push((key, slot));
            }
            Node::Map(keys)
        }
        ObjType::List => {
            let mut items = Vec::new();
            for item in doc.list_range(obj, ..) {
                let winner = (item.value.clone().into_value(), item.id());
                let slot = slot(doc, obj, Prop::Seq(item.index), winner, item.conflict)?;
                for (value, id) in slot.all.iter().flatten().chain([&slot.winner]) {
                    note(value, id);
                }
                items.push(slot);
            }
            Node::List(items)
        }
        _ => return Ok(()),
    };
    tree.insert(obj.clone(), node);
    for (child, ty) in children {
        walk(tree, doc, &child, ty)?;
    }
    Ok(())
}
