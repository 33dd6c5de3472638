//! One feed entry this app cannot apply never blocks a page: it is held
//! with its record id and a reason, the rest of the page applies and the
//! cursor moves, and a later retry applies what it now can. And a record
//! read after a page merged changes into it (from the record last read
//! and what the changes wrote) is the record read whole.
//!
//! The server refuses a record of a newer schema (it reads it as corrupt),
//! so no real server can put one in a device's feed yet; these tests hand
//! the device store (`Store::apply_sync`, what `Notebook::sync` calls) a
//! page built from real records of another device, then read the outcome
//! through the `Notebook` facade.

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use pocketbook_core::Notebook;
use pocketbook_core::model::*;
use pocketbook_core::store::{HeldReason, ListFilter, Store};
use pocketbook_core::sync::wire::{FeedEntry, SyncResponse};

use crate::support::*;

fn entry(seq: u64, record: &Record, changes: Vec<u8>) -> FeedEntry {
    FeedEntry {
        seq,
        record_id: record.header.id.clone(),
        kind: record.header.kind,
        changes: as_change_chunks(changes),
        erased: false,
    }
}

fn page(entries: Vec<FeedEntry>, cursor: u64) -> SyncResponse {
    SyncResponse {
        protocol: pocketbook_core::sync::wire::PROTOCOL_VERSION,
        acknowledged: vec![],
        rejected: vec![],
        changes: entries,
        cursor,
        more: false,
        retire: false,
        server_time: None,
        access: None,
        next_pins: vec![],
        retention: None,
        legal_holds: None,
    }
}

/// The record's whole document as a newer app would write it: the same
/// record, with a schema version this app does not read.
fn newer_schema(bytes: &[u8]) -> Vec<u8> {
    let mut doc = automerge::AutoCommit::load(bytes).unwrap();
    let version = doc
        .get(automerge::ROOT, "schema_version")
        .unwrap()
        .expect("a schema version");
    assert!(matches!(version.0, automerge::Value::Scalar(_)));
    doc.put(automerge::ROOT, "schema_version", 99_u64).unwrap();
    doc.save()
}

#[test]
fn a_bad_entry_between_good_ones_is_held_and_the_page_applies() {
    let writer_dir = tempfile::tempdir().unwrap();
    let writer = notebook(&writer_dir, "PC301");
    let good: Vec<Record> = (0..3)
        .map(|_| writer.create_stop_account(stop_account()).unwrap())
        .collect();
    let too_new = writer.create_stop_search(stop_search()).unwrap();
    let garbled = writer.create_scene(scene(ResponseGrade::Priority)).unwrap();
    let export = |r: &Record| writer.export(r.header.id.clone()).unwrap();

    let reader_dir = tempfile::tempdir().unwrap();
    let mut progress = Vec::new();
    {
        let mut store = Store::open(reader_dir.path()).unwrap();
        let applied = store
            .apply_sync(
                &[],
                &page(
                    vec![
                        entry(1, &good[0], export(&good[0])),
                        entry(2, &too_new, newer_schema(&export(&too_new))),
                        entry(3, &good[1], export(&good[1])),
                        entry(4, &garbled, b"\x85\x6f\x4a\x83 not automerge".to_vec()),
                        entry(5, &good[2], export(&good[2])),
                    ],
                    5,
                ),
                &mut |merged| progress.push(merged),
            )
            .unwrap();
        assert_eq!(applied.received.len(), 3);
        assert_eq!(applied.held, 2);
        assert_eq!(
            store.cursor().unwrap(),
            Some(5),
            "the cursor moved past the page"
        );

        // A later page: more of the held records waits behind them (in
        // feed order); another good record still applies.
        let fourth = writer.create_stop_account(stop_account()).unwrap();
        let applied = store
            .apply_sync(
                &[],
                &page(
                    vec![
                        entry(6, &too_new, export(&too_new)),
                        entry(7, &fourth, export(&fourth)),
                    ],
                    7,
                ),
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(applied.received.len(), 1);
        assert_eq!(applied.held, 1, "the later entry of a held record waits");
    }

    let reader = notebook(&reader_dir, "PC301");
    let listed = reader.list(ListFilter::default()).unwrap();
    assert_eq!(listed.len(), 4, "{listed:?}");
    for record in &good {
        assert_eq!(reader.get(record.header.id.clone()).unwrap(), *record);
    }
    let held = reader.held_records().unwrap();
    assert_eq!(
        held.iter()
            .map(|h| (h.record_id.clone(), h.reason, h.entries))
            .collect::<Vec<_>>(),
        vec![
            (too_new.header.id.clone(), HeldReason::NewerSchema, 2),
            (garbled.header.id.clone(), HeldReason::Unreadable, 1),
        ]
    );
    assert!(matches!(
        reader.get(too_new.header.id.clone()),
        Err(pocketbook_core::ApiError::NotFound { .. })
    ));
}

#[test]
fn held_entries_apply_once_their_history_arrives() {
    let writer_dir = tempfile::tempdir().unwrap();
    let writer = notebook(&writer_dir, "PC302");
    let record = writer.create_scene(scene(ResponseGrade::Priority)).unwrap();
    let id = record.header.id.clone();
    let base = writer.export(id.clone()).unwrap();

    let reader_dir = tempfile::tempdir().unwrap();
    {
        let reader = notebook(&reader_dir, "PC302");
        reader.import(base.clone()).unwrap();
    }
    // Two edits on the writer; the feed delivers the second first, alone:
    // its history is missing on the reader.
    let before = automerge::AutoCommit::load(&base).unwrap().get_heads();
    writer.add_scene_action(id.clone(), note("first")).unwrap();
    let mut after_first = automerge::AutoCommit::load(&writer.export(id.clone()).unwrap()).unwrap();
    let first_change = after_first.save_after(&before);
    let first_heads = after_first.get_heads();
    writer.add_scene_action(id.clone(), note("second")).unwrap();
    let second_change = automerge::AutoCommit::load(&writer.export(id.clone()).unwrap())
        .unwrap()
        .save_after(&first_heads);

    {
        let mut store = Store::open(reader_dir.path()).unwrap();
        let applied = store
            .apply_sync(
                &[],
                &page(vec![entry(10, &record, second_change)], 10),
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(applied.held, 1);
        assert_eq!(store.held().unwrap()[0].reason, HeldReason::MissingHistory);
        // The missing change comes next: held behind the first.
        let applied = store
            .apply_sync(
                &[],
                &page(vec![entry(11, &record, first_change)], 11),
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(applied.held, 1);
        // The retry (the first step of every sync) applies both together.
        let retried = store.retry_held().unwrap();
        assert_eq!(retried, vec![(id.clone(), RecordKind::SceneAttendance)]);
        assert!(store.held().unwrap().is_empty());
    }
    let reader = Notebook::open_existing(reader_dir.path().display().to_string()).unwrap();
    assert_eq!(
        scene_of(&reader.get(id.clone()).unwrap()).actions.len(),
        2,
        "both edits applied"
    );
}

#[test]
fn an_erased_record_takes_its_held_entries_with_it() {
    let writer_dir = tempfile::tempdir().unwrap();
    let writer = notebook(&writer_dir, "PC303");
    let too_new = writer.create_stop_search(stop_search()).unwrap();
    let bytes = newer_schema(&writer.export(too_new.header.id.clone()).unwrap());
    let reader_dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(reader_dir.path()).unwrap();
    let mut erased = entry(2, &too_new, Vec::new());
    erased.erased = true;
    store
        .apply_sync(&[], &page(vec![entry(1, &too_new, bytes)], 1), &mut |_| {})
        .unwrap();
    assert_eq!(store.held().unwrap().len(), 1);
    store
        .apply_sync(&[], &page(vec![erased], 2), &mut |_| {})
        .unwrap();
    assert!(store.held().unwrap().is_empty());
}

#[test]
fn progress_is_heard_at_least_every_fifty_records_of_a_page() {
    let writer_dir = tempfile::tempdir().unwrap();
    let writer = notebook(&writer_dir, "PC304");
    let entries: Vec<FeedEntry> = (0..120)
        .map(|n| {
            let record = writer.create_stop_account(stop_account()).unwrap();
            entry(
                n + 1,
                &record,
                writer.export(record.header.id.clone()).unwrap(),
            )
        })
        .collect();
    let reader_dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(reader_dir.path()).unwrap();
    let mut heard = Vec::new();
    store
        .apply_sync(&[], &page(entries, 120), &mut |merged| heard.push(merged))
        .unwrap();
    assert!(heard.len() >= 2, "{heard:?}");
    let mut last = 0;
    for n in heard.iter().copied().chain([120]) {
        assert!(n - last <= 50, "a gap of more than 50 records: {heard:?}");
        last = n;
    }
}

#[test]
fn unacknowledged_edits_are_counted_until_the_server_acknowledges_them() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let nb = notebook(&dir, "PC305");
        let id = nb
            .create_scene(scene(ResponseGrade::Priority))
            .unwrap()
            .header
            .id;
        nb.add_scene_action(id.clone(), note("first")).unwrap();
        nb.create_stop_account(stop_account()).unwrap();
        id
    };
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.unacknowledged_edits().unwrap(), 3);
    let pushes = store.pending_pushes(500, usize::MAX).unwrap();
    assert_eq!(pushes.len(), 2);
    // The server acknowledges the scene only.
    let mut answer = page(vec![], 0);
    answer.acknowledged = vec![pocketbook_core::sync::wire::Ack {
        record_id: id.clone(),
        heads: vec![],
    }];
    store.apply_sync(&pushes, &answer, &mut |_| {}).unwrap();
    assert_eq!(
        store.unacknowledged_edits().unwrap(),
        1,
        "the stop and account is still unacknowledged"
    );
}

#[test]
fn a_record_read_after_a_page_brought_changes_is_the_whole_record() {
    // The store keeps the record last read beside its document and, after
    // a page merges changes into it, reads only what they wrote onto it:
    // what it then reads is what a store reading the document whole reads.
    let writer_dir = tempfile::tempdir().unwrap();
    let writer = notebook(&writer_dir, "PC301");
    let record = writer
        .create_burglary(scene(ResponseGrade::Priority))
        .unwrap();
    let id = record.header.id.clone();
    let export = |nb: &Notebook| nb.export(id.clone()).unwrap();

    let reader_dir = tempfile::tempdir().unwrap();
    let (read, edited) = {
        let mut store = Store::open(reader_dir.path()).unwrap();
        store
            .apply_sync(
                &[],
                &page(vec![entry(1, &record, export(&writer))], 1),
                &mut |_| {},
            )
            .unwrap();
        store
            .edit_as(&id, "PC301", |doc| {
                doc.add_note("Ours", "PC301", at(10, 30).as_str())
            })
            .unwrap();
        store.get(&id).unwrap();
        // The colleague's copy moves on: actions, a note, a tick, the times.
        writer.add_scene_action(id.clone(), note("Theirs")).unwrap();
        writer.add_note(id.clone(), "Their entry".into()).unwrap();
        writer
            .tick(id.clone(), ChecklistItem::ALL[0], TickOutcome::Done, None)
            .unwrap();
        writer.record_arrival(id.clone(), at(10, 20)).unwrap();
        store
            .apply_sync(
                &[],
                &page(vec![entry(2, &record, export(&writer))], 2),
                &mut |_| {},
            )
            .unwrap();
        let read = store.get(&id).unwrap();
        store
            .edit_as(&id, "PC301", |doc| {
                doc.add_action(note("Ours again"), "PC301", at(10, 40).as_str())
            })
            .unwrap();
        (read, store.get(&id).unwrap())
    };
    let scene = scene_of(&read);
    assert_eq!(scene.actions.len(), 1);
    assert_eq!(scene.notes.len(), 2);
    assert_eq!(scene.checklist.len(), 1);
    assert!(scene.arrived.is_some());
    // A store opened afresh reads every record whole.
    let mut fresh = Store::open(reader_dir.path()).unwrap();
    assert_eq!(fresh.get(&id).unwrap(), edited);
    assert_eq!(scene_of(&edited).actions.len(), 2);
}
