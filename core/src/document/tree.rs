//! The one walk of a record's document: what the schema check reads,
//! kept, so the typed record is built from it instead of reading the
//! document a second time.
//!
//! Automerge answers a walk over a map or a list (`map_range`,
//! `list_range`) cheaply, but each lookup of one key or index (`get`,
//! `get_all`) seeks through the document's columns again; hydrating a
//! record that way cost as much as the schema walk itself. The schema
//! walk (`schema`) visits every object and every value, conflicting ones
//! included, so it records them here: each object's winning values (what
//! `get` gives) and, where Automerge holds a conflict, all of them (what
//! `get_all` gives). [`Tree`] then answers the same reads from memory for
//! the record's hydration (`autosurgeon`'s derived readers and `entries`),
//! and anything it did not record (text objects, a range walk) from the
//! document itself, so an answer never differs from the document's.
//!
//! A tree lives for one read of one document and is dropped with it:
//! nothing is cached across documents or requests.

use std::collections::HashMap;

use automerge::{AutoCommit, AutomergeError, ObjId, ObjType, Prop, ReadDoc, Value};

/// The reads the record's hydration makes, answered by the document itself
/// or by a [`Tree`] of it.
pub trait Reader: autosurgeon::ReadDoc {
    /// Every value at `prop`, conflicts included, in Automerge's order.
    fn all_values(
        &self,
        obj: &ObjId,
        prop: Prop,
    ) -> Result<Vec<(Value<'_>, ObjId)>, AutomergeError>;
    /// The keys of a map, in order.
    fn map_keys(&self, obj: &ObjId) -> Vec<String>;
    /// The keys of a map that hold a conflict, in order.
    fn conflicting_keys(&self, obj: &ObjId) -> Vec<String>;
}

impl Reader for AutoCommit {
    fn all_values(
        &self,
        obj: &ObjId,
        prop: Prop,
    ) -> Result<Vec<(Value<'_>, ObjId)>, AutomergeError> {
        ReadDoc::get_all(self, obj, prop)
    }

    fn map_keys(&self, obj: &ObjId) -> Vec<String> {
        ReadDoc::keys(self, obj).collect()
    }

    fn conflicting_keys(&self, obj: &ObjId) -> Vec<String> {
        ReadDoc::map_range(self, obj, ..)
            .filter(|item| item.conflict)
            .map(|item| item.key.into_owned())
            .collect()
    }
}

/// One key's or index's values: the winner, and every value when
/// Automerge holds a conflict there.
pub(super) struct Slot {
    pub(super) winner: (Value<'static>, ObjId),
    pub(super) all: Option<Vec<(Value<'static>, ObjId)>>,
}

impl Slot {
    fn values(&self) -> Vec<(Value<'static>, ObjId)> {
        match &self.all {
            Some(all) => all.clone(),
            None => vec![self.winner.clone()],
        }
    }
}

/// The values of one key or index: the winner Automerge's range walk gave,
/// and every value (`get_all`) only where it flagged a conflict, since a
/// lookup costs a seek through the document.
pub(super) fn slot(
    doc: &AutoCommit,
    obj: &ObjId,
    prop: Prop,
    winner: (Value<'static>, ObjId),
    conflict: bool,
) -> Result<Slot, AutomergeError> {
    let all = if conflict {
        let all = doc.get_all(obj, prop)?;
        Some(
            all.into_iter()
                .map(|(value, id)| (value.into_owned(), id))
                .collect(),
        )
    } else {
        None
    };
    Ok(Slot { winner, all })
}

/// One object the walk visited.
pub(super) enum Node {
    /// A map's keys in Automerge's order.
    Map(Vec<(String, Slot)>),
    /// A list's elements in order.
    List(Vec<Slot>),
}

/// What one walk of a document read, answering the same reads again.
pub struct Tree<'a> {
    doc: &'a AutoCommit,
    objects: HashMap<ObjId, Node>,
}

impl<'a> Tree<'a> {
    pub(super) fn new(doc: &'a AutoCommit) -> Self {
        Tree {
            doc,
            objects: HashMap::new(),
        }
    }

    /// The root map and the maps along `path` from it (`["header",
    /// "author"]`), each read in one range walk: what a document's header
    /// is read from, before its kind (and so its schema) is known.
    pub(super) fn along(doc: &'a AutoCommit, path: &[&str]) -> Result<Self, AutomergeError> {
        let mut tree = Tree::new(doc);
        let mut obj = automerge::ROOT;
        for key in std::iter::once(None).chain(path.iter().map(Some)) {
            if let Some(key) = key {
                match autosurgeon::ReadDoc::get(&tree, &obj, *key)? {
                    Some((Value::Object(ObjType::Map), id)) => obj = id,
                    _ => break,
                }
            }
            let mut keys = Vec::new();
            for item in ReadDoc::map_range(doc, &obj, ..) {
                let key = item.key.to_string();
                let winner = (item.value.clone().into_value(), item.id());
                let slot = slot(doc, &obj, Prop::Map(key.clone()), winner, item.conflict)?;
                keys.push((key, slot));
            }
            tree.insert(obj.clone(), Node::Map(keys));
        }
        Ok(tree)
    }

    pub(super) fn insert(&mut self, obj: ObjId, mut node: Node) {
        // Sorted by key, so a lookup is a binary search: a map may hold
        // thousands of keys (the ticks of a scene), each read once.
        if let Node::Map(keys) = &mut node {
            keys.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        }
        self.objects.insert(obj, node);
    }

    fn slot(&self, obj: &ObjId, prop: &Prop) -> Option<Option<&Slot>> {
        match (self.objects.get(obj)?, prop) {
            (Node::Map(keys), Prop::Map(key)) => Some(
                keys.binary_search_by(|(k, _)| k.as_str().cmp(key))
                    .ok()
                    .map(|at| &keys[at].1),
            ),
            (Node::List(items), Prop::Seq(index)) => Some(items.get(*index)),
            // A key of a list or an index of a map: the document answers.
            _ => None,
        }
    }
}

impl autosurgeon::ReadDoc for Tree<'_> {
    type Parents<'b>
        = automerge::Parents<'b>
    where
        Self: 'b;

    fn get_heads(&self) -> Vec<automerge::ChangeHash> {
        autosurgeon::ReadDoc::get_heads(self.doc)
    }

    fn get<P: Into<Prop>>(
        &self,
        obj: &ObjId,
        prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        let prop = prop.into();
        match self.slot(obj, &prop) {
            Some(slot) => Ok(slot.map(|s| s.winner.clone())),
            None => ReadDoc::get(self.doc, obj, prop),
        }
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Option<ObjType> {
        match self.objects.get(obj.as_ref()) {
            Some(Node::Map(_)) => Some(ObjType::Map),
            Some(Node::List(_)) => Some(ObjType::List),
            None => autosurgeon::ReadDoc::object_type(self.doc, obj),
        }
    }

    fn map_range<'b, O, R>(&'b self, obj: O, range: R) -> automerge::iter::MapRange<'b>
    where
        R: std::ops::RangeBounds<String> + 'b,
        O: AsRef<ObjId>,
    {
        ReadDoc::map_range(self.doc, obj, range)
    }

    fn list_range<O: AsRef<ObjId>, R: std::ops::RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> automerge::iter::ListRange<'_> {
        ReadDoc::list_range(self.doc, obj, range)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        match self.objects.get(obj.as_ref()) {
            Some(Node::Map(keys)) => keys.len(),
            Some(Node::List(items)) => items.len(),
            None => ReadDoc::length(self.doc, obj),
        }
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        ReadDoc::text(self.doc, obj)
    }

    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Self::Parents<'_>, AutomergeError> {
        ReadDoc::parents(self.doc, obj)
    }

    fn is_empty(&self) -> bool {
        autosurgeon::ReadDoc::is_empty(self.doc)
    }
}

impl Reader for Tree<'_> {
    fn all_values(
        &self,
        obj: &ObjId,
        prop: Prop,
    ) -> Result<Vec<(Value<'_>, ObjId)>, AutomergeError> {
        match self.slot(obj, &prop) {
            Some(slot) => Ok(slot.map(Slot::values).unwrap_or_default()),
            None => ReadDoc::get_all(self.doc, obj, prop),
        }
    }

    fn map_keys(&self, obj: &ObjId) -> Vec<String> {
        match self.objects.get(obj) {
            Some(Node::Map(keys)) => keys.iter().map(|(k, _)| k.clone()).collect(),
            _ => self.doc.map_keys(obj),
        }
    }

    fn conflicting_keys(&self, obj: &ObjId) -> Vec<String> {
        match self.objects.get(obj) {
            Some(Node::Map(keys)) => keys
                .iter()
                .filter(|(_, slot)| slot.all.is_some())
                .map(|(k, _)| k.clone())
                .collect(),
            _ => self.doc.conflicting_keys(obj),
        }
    }
}
