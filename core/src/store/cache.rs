//! Documents recently used, kept in memory: an officer adding action
//! after action to one scene never reloads its history.

use std::collections::{HashMap, VecDeque};

use crate::document::RecordDoc;

/// Documents kept in memory.
const CACHE_CAPACITY: usize = 32;

/// A small least-recently-used cache of loaded documents.
#[derive(Default)]
pub(super) struct DocCache {
    docs: HashMap<String, RecordDoc>,
    order: VecDeque<String>,
}

impl DocCache {
    pub(super) fn take(&mut self, id: &str) -> Option<RecordDoc> {
        let doc = self.docs.remove(id)?;
        self.order.retain(|o| o != id);
        Some(doc)
    }

    pub(super) fn put(&mut self, doc: RecordDoc) {
        let id = doc.header().id.clone();
        self.order.retain(|o| o != &id);
        self.order.push_back(id.clone());
        self.docs.insert(id, doc);
        while self.order.len() > CACHE_CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.docs.remove(&old);
            }
        }
    }
}
