//! The checks a storm must pass after any fault, on the fleet and the
//! server's store: every acknowledged edit is on the server once, every
//! device holds what the server holds, and the feed carries each change once.

use std::collections::{BTreeMap, BTreeSet};

use automerge::ActorId;
use pocketbook_core::Notebook;
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::{ActionDetail, Record, RecordBody};
use pocketbook_core::store::ListFilter;
use pocketbook_server::storage::Storage;

use super::{Edit, Fleet};

impl Fleet {
    /// Every acknowledged edit is in the server's store, once. `all`: every
    /// one; else those acknowledged since the last check (a crash can only
    /// lose what was not durable when it was acknowledged; the full check
    /// shows nothing older went missing).
    pub fn assert_acknowledged_on_server(&mut self, server: &dyn Storage, after: &str, all: bool) {
        let mut documents: BTreeMap<String, Record> = BTreeMap::new();
        for (d, device) in self.devices.iter_mut().enumerate() {
            for made in device
                .made
                .iter_mut()
                .filter(|m| m.acknowledged && (all || !m.verified))
            {
                if !documents.contains_key(&made.record) {
                    let stored = server
                        .record(&made.record)
                        .expect("server store read")
                        .unwrap_or_else(|| {
                            panic!(
                                "after {after}: record {} acknowledged to device {d} is not on the server",
                                made.record
                            )
                        });
                    documents.insert(made.record.clone(), typed(&stored.snapshot));
                }
                let record = &documents[&made.record];
                let found = count_edit(record, &made.edit);
                assert!(
                    found == 1,
                    "after {after}: {:?} acknowledged to device {d} is on the server {found} times",
                    made.edit
                );
                made.verified = true;
            }
        }
    }

    /// Every device holds the same records with the same heads and the same
    /// typed content as every other and as the server; every edit ever made
    /// is there exactly once, and nothing else is.
    pub fn assert_identical_and_complete(&self, server: &dyn Storage) {
        let first = &self.devices[0].notebook;
        let ids: BTreeSet<String> = record_ids(first);
        let server_ids: BTreeSet<String> = server
            .records()
            .expect("server records")
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(
            ids, server_ids,
            "device 0 and the server hold other records"
        );
        for (d, device) in self.devices.iter().enumerate() {
            assert_eq!(
                record_ids(&device.notebook),
                ids,
                "device {d} holds other records"
            );
        }
        let mut stored: BTreeMap<String, Record> = BTreeMap::new();
        for id in &ids {
            let snapshot = server.record(id).unwrap().unwrap().snapshot;
            let server_heads = heads(&snapshot);
            let server_record = typed(&snapshot);
            for (d, device) in self.devices.iter().enumerate() {
                let exported = device.notebook.export(id.clone()).unwrap();
                assert_eq!(
                    heads(&exported),
                    server_heads,
                    "device {d}, record {id}: heads"
                );
                // Derived fields may depend on the reader's clock; the
                // stored content must match.
                let record = device.notebook.get(id.clone()).unwrap();
                assert_eq!(
                    record.header, server_record.header,
                    "device {d}, record {id}"
                );
                assert_eq!(
                    record.body, server_record.body,
                    "device {d}, record {id}: content"
                );
            }
            stored.insert(id.clone(), server_record);
        }
        // Every edit exactly once, and nothing that was not made.
        let mut expected: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for device in &self.devices {
            for made in &device.made {
                let entry = expected.entry(&made.record).or_default();
                match &made.edit {
                    Edit::Created => {}
                    Edit::Note(_) => entry.0 += 1,
                    Edit::Action(_) => entry.1 += 1,
                }
                let record = stored.get(&made.record).unwrap_or_else(|| {
                    panic!("record {} lost", made.record);
                });
                assert_eq!(
                    count_edit(record, &made.edit),
                    1,
                    "{:?} on record {}",
                    made.edit,
                    made.record
                );
            }
        }
        for (id, record) in &stored {
            let made = expected.get(id.as_str()).copied().unwrap_or((0, 0));
            assert_eq!(
                counts(record),
                made,
                "record {id}: note entries and actions on the server vs made"
            );
        }
        assert_feed_holds_each_change_once(server);
    }
}

fn record_ids(notebook: &Notebook) -> BTreeSet<String> {
    notebook
        .list(ListFilter::default())
        .expect("records listed")
        .into_iter()
        .map(|s| s.id)
        .collect()
}

/// The typed record of a saved document.
pub fn typed(saved: &[u8]) -> Record {
    RecordDoc::load(saved, ActorId::random())
        .expect("document loads")
        .record()
        .expect("typed record")
}

/// The heads of a saved document, sorted.
pub fn heads(saved: &[u8]) -> Vec<String> {
    let mut heads = RecordDoc::load(saved, ActorId::random())
        .expect("document loads")
        .heads_hex();
    heads.sort();
    heads
}

/// Note entries and scene actions of a record.
pub fn counts(record: &Record) -> (usize, usize) {
    match &record.body {
        RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
            (scene.notes.len(), scene.actions.len())
        }
        RecordBody::StopAccount { account } => (account.notes.len(), 0),
        RecordBody::StopSearch { search } => (search.notes.len(), 0),
    }
}

/// How many times an edit is in a record (1 for a creation that is there).
pub fn count_edit(record: &Record, edit: &Edit) -> usize {
    let notes = match &record.body {
        RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => &scene.notes,
        RecordBody::StopAccount { account } => &account.notes,
        RecordBody::StopSearch { search } => &search.notes,
    };
    match edit {
        Edit::Created => 1,
        Edit::Note(text) => notes.iter().filter(|n| &n.text == text).count(),
        Edit::Action(text) => match &record.body {
            RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => scene
                .actions
                .iter()
                .filter(|a| matches!(&a.detail, ActionDetail::Note { text: t } if t == text))
                .count(),
            _ => 0,
        },
    }
}

/// Nothing applied twice at the server: per record, the changes of all its
/// feed entries together are each change once (an entry carries only what
/// the server did not have before the push).
pub fn assert_feed_holds_each_change_once(server: &dyn Storage) {
    let feed = server.feed_after(0, 1_000_000).expect("feed read");
    let mut per_record: BTreeMap<String, (u64, automerge::AutoCommit)> = BTreeMap::new();
    for row in feed.iter().filter(|r| !r.erased) {
        let census =
            pocketbook_core::chunks::check_changes(&row.changes, &pocketbook_core::chunks::CHANGES)
                .expect("feed entry is plain changes");
        let entry = per_record
            .entry(row.record_id.clone())
            .or_insert_with(|| (0, automerge::AutoCommit::new()));
        entry.0 += census.changes;
        entry
            .1
            .load_incremental(&row.changes)
            .expect("feed entry loads");
    }
    for (id, (in_feed, doc)) in &mut per_record {
        let distinct = doc.get_changes(&[]).len() as u64;
        assert_eq!(
            *in_feed, distinct,
            "record {id}: the feed carries {in_feed} changes, {distinct} distinct: a change was applied twice"
        );
    }
}
