//! A scene action on a record already queued writes its change row alone
//! (schema 7, `core/src/store/writes.rs`): the record's time, its count
//! since the snapshot and its unacknowledged edits are no longer written
//! into its row by such an edit. These tests drive stores through the
//! facade and the store's sync calls and check that every answer those
//! stood for is the same: the time a listing shows, the edits a wipe
//! would lose (and a partial acknowledgement leaves), pruning of records
//! the server holds, a compaction in the middle, the edits a rollback sets
//! aside; and that a store of schema 6 opens with every record and answer
//! kept.

use std::path::Path;

use chrono::TimeDelta;
use pocketbook_core::model::*;
use pocketbook_core::store::{CURRENT_VERSION, ListFilter, STORE_FILE, Store};
use pocketbook_core::sync::wire::{Ack, PROTOCOL_VERSION, Rejection, RejectionCode, SyncResponse};

use crate::edit_pages::TO_VERSION_6;
use crate::store::compact_often;
use crate::support::*;

fn answer(acknowledged: Vec<Ack>) -> SyncResponse {
    SyncResponse {
        protocol: PROTOCOL_VERSION,
        acknowledged,
        rejected: vec![],
        changes: vec![],
        cursor: 1,
        more: false,
        retire: false,
        server_time: None,
        access: None,
        next_pins: vec![],
        retention: None,
        legal_holds: None,
    }
}

fn ack(id: &str) -> Ack {
    Ack {
        record_id: id.to_string(),
        heads: vec![],
    }
}

/// One sync in which the server acknowledges every pending change.
fn sync_all(dir: &Path) {
    let mut store = Store::open(dir).unwrap();
    let pushes = store.pending_pushes(500, usize::MAX).unwrap();
    let acks = pushes.iter().map(|p| ack(&p.record_id)).collect();
    store
        .apply_sync(&pushes, &answer(acks), &mut |_| {})
        .unwrap();
}

/// The time a listing shows for a record.
fn listed_time(store: &Store, id: &str) -> Timestamp {
    store
        .list(&ListFilter::default())
        .unwrap()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap()
        .updated_at
}

/// A time as the store writes it (RFC 3339, UTC, milliseconds).
fn stored(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn open(dir: &Path) -> std::sync::Arc<pocketbook_core::Notebook> {
    pocketbook_core::Notebook::open(dir.display().to_string(), officer("PC201")).unwrap()
}

fn edit(dir: &Path, id: &str, from: usize, to: usize) {
    let nb = open(dir);
    for n in from..to {
        nb.add_scene_action(id.to_string(), note(&format!("action {n}")))
            .unwrap();
    }
}

#[test]
fn edits_appended_alone_keep_the_time_the_unacknowledged_count_and_pruning() {
    let dir = tempfile::tempdir().unwrap();
    compact_often(dir.path());
    let id = {
        let nb = notebook(&dir, "PC201");
        nb.create_scene(scene(ResponseGrade::Emergency))
            .unwrap()
            .header
            .id
    };
    sync_all(dir.path());
    // Past a compaction (every 16 changes here), each edit's time listed.
    {
        let nb = notebook(&dir, "PC201");
        let mut last = nb.list(ListFilter::default()).unwrap()[0]
            .updated_at
            .instant();
        for n in 0..20 {
            let before = chrono::Utc::now() - TimeDelta::milliseconds(1);
            nb.add_scene_action(id.clone(), note(&format!("action {n}")))
                .unwrap();
            let listed = nb.list(ListFilter::default()).unwrap()[0]
                .updated_at
                .instant();
            assert!(
                listed >= before && listed >= last,
                "edit {n}: listed {listed}, edit made after {before}"
            );
            last = listed;
        }
    }
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.unacknowledged_edits().unwrap(), 20);
    let pushes = store.pending_pushes(500, usize::MAX).unwrap();
    assert_eq!(pushes[0].edits, 20);
    drop(store);
    // Three more before the server's answer: they stay unacknowledged.
    edit(dir.path(), &id, 20, 23);
    let mut store = Store::open(dir.path()).unwrap();
    let edited = listed_time(&store, &id);
    store
        .apply_sync(&pushes, &answer(vec![ack(&id)]), &mut |_| {})
        .unwrap();
    assert_eq!(store.unacknowledged_edits().unwrap(), 3);
    assert_eq!(listed_time(&store, &id), edited, "an ack is not an edit");
    // Queued, so never pruned, whatever the cutoff.
    assert!(
        store
            .prune_synced(&stored(edited.instant() + TimeDelta::days(1)))
            .unwrap()
            .is_empty()
    );
    drop(store);

    sync_all(dir.path());
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.unacknowledged_edits().unwrap(), 0);
    assert_eq!(listed_time(&store, &id), edited);
    // Held by the server now, and last changed at its last edit: kept by
    // a cutoff at that time, pruned by one a millisecond later.
    assert!(store.prune_synced(edited.as_str()).unwrap().is_empty());
    let later = stored(edited.instant() + TimeDelta::milliseconds(1));
    assert_eq!(store.prune_synced(&later).unwrap(), vec![id]);
}

#[test]
fn a_store_of_schema_version_6_opens_with_every_record_and_count() {
    let dir = tempfile::tempdir().unwrap();
    compact_often(dir.path());
    // One record acknowledged and edited since, one never synced, both
    // with changes since their snapshots; one acknowledged and untouched.
    let (acked, fresh, untouched) = {
        let nb = notebook(&dir, "PC201");
        let mut ids = (0..3).map(|_| {
            nb.create_scene(scene(ResponseGrade::Emergency))
                .unwrap()
                .header
                .id
        });
        let ids = (
            ids.next().unwrap(),
            ids.next().unwrap(),
            ids.next().unwrap(),
        );
        nb.add_scene_action(ids.0.clone(), note("before the sync"))
            .unwrap();
        drop(nb);
        // The fresh one is created after the sync.
        sync_all(dir.path());
        let nb = notebook(&dir, "PC201");
        let fresh = nb
            .create_scene(scene(ResponseGrade::Priority))
            .unwrap()
            .header
            .id;
        drop(nb);
        edit(dir.path(), &ids.0, 1, 8);
        edit(dir.path(), &fresh, 0, 5);
        (ids.0, fresh, ids.2)
    };
    let answers = |store: &mut Store| {
        let ids = [&acked, &fresh, &untouched];
        let records: Vec<Record> = ids.iter().map(|id| store.get(id).unwrap()).collect();
        (
            store.list(&ListFilter::default()).unwrap(),
            store.unacknowledged_edits().unwrap(),
            store.unsynced_count().unwrap(),
            records,
        )
    };
    let before = answers(&mut Store::open(dir.path()).unwrap());
    assert_eq!(
        before.1,
        7 + 6,
        "seven edits of one, the other's creation and five"
    );

    let path = dir.path().join(STORE_FILE);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(TO_VERSION_6).unwrap();
        let counted: i64 = conn
            .query_row(
                "SELECT changes_since_snapshot FROM records WHERE id = ?1",
                [&acked],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(counted, 8, "schema 6's count since the snapshot");
    }

    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(answers(&mut store), before, "every answer as it was");
    drop(store);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, CURRENT_VERSION);
    }
    // Edits go on, past another compaction, counted from where they were.
    edit(dir.path(), &acked, 8, 30);
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.unacknowledged_edits().unwrap(), before.1 + 22);
    let record = store.get(&acked).unwrap();
    let details: Vec<ActionDetail> = scene_of(&record)
        .actions
        .iter()
        .map(|a| a.detail.clone())
        .collect();
    let mut expected = vec![note("before the sync")];
    expected.extend((1..30).map(|n| note(&format!("action {n}"))));
    assert_eq!(details, expected);
}

#[test]
fn a_rollback_sets_aside_every_edit_appended_alone() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let nb = open(dir.path());
        nb.create_scene(scene(ResponseGrade::Emergency))
            .unwrap()
            .header
            .id
    };
    sync_all(dir.path());
    // The first after the sync writes the record's row (it queues the
    // record again); the other five are appended alone.
    edit(dir.path(), &id, 0, 6);
    let mut store = Store::open(dir.path()).unwrap();
    let pushes = store.pending_pushes(500, usize::MAX).unwrap();
    assert_eq!(pushes[0].edits, 6);
    let mut refusal = answer(vec![]);
    refusal.rejected = vec![Rejection {
        record_id: id.clone(),
        code: RejectionCode::Forbidden,
        message: "refused".into(),
    }];
    store.apply_sync(&pushes, &refusal, &mut |_| {}).unwrap();
    assert_eq!(store.roll_back_refused().unwrap().len(), 1);
    let aside = store.set_aside().unwrap();
    assert_eq!((aside.len(), aside[0].edits, aside[0].changes), (1, 6, 6));
    assert_eq!(store.unacknowledged_edits().unwrap(), 0);
    assert!(scene_of(&store.get(&id).unwrap()).actions.is_empty());
    drop(store);
    // Edited again after the rollback: counted from nothing.
    edit(dir.path(), &id, 6, 9);
    assert_eq!(
        Store::open(dir.path())
            .unwrap()
            .unacknowledged_edits()
            .unwrap(),
        3
    );
}

#[test]
fn a_record_made_after_the_newest_was_erased_reads_only_its_own_changes() {
    // A change row is its record's by the record's number (`log`), and a
    // new record takes the next after the largest held: the number of an
    // erased newest record comes round again, with none of its rows.
    let dir = tempfile::tempdir().unwrap();
    let (kept, erased) = {
        let nb = open(dir.path());
        let make = || {
            nb.create_scene(scene(ResponseGrade::Emergency))
                .unwrap()
                .header
                .id
        };
        (make(), make())
    };
    edit(dir.path(), &kept, 0, 3);
    edit(dir.path(), &erased, 0, 4);
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.erase(std::slice::from_ref(&erased)).unwrap(), 1);
    drop(store);
    let fresh = open(dir.path())
        .create_scene(scene(ResponseGrade::Priority))
        .unwrap()
        .header
        .id;
    edit(dir.path(), &fresh, 10, 12);
    let mut store = Store::open(dir.path()).unwrap();
    let actions = |store: &mut Store, id: &str| -> Vec<ActionDetail> {
        scene_of(&store.get(id).unwrap())
            .actions
            .iter()
            .map(|a| a.detail.clone())
            .collect()
    };
    assert_eq!(
        actions(&mut store, &fresh),
        vec![note("action 10"), note("action 11")]
    );
    assert_eq!(
        actions(&mut store, &kept),
        (0..3)
            .map(|n| note(&format!("action {n}")))
            .collect::<Vec<_>>()
    );
    assert_eq!(store.unacknowledged_edits().unwrap(), 1 + 3 + 1 + 2);
}
