//! Retention that holds offline: a notebook erases acknowledged encounter
//! records past the period the server sent, on its own (on opening, daily
//! while in use, on demand), with no sync; keeps and flags a record the
//! server does not hold in full until it does; keeps a record on legal hold
//! until the hold is released; and erases whole, or not at all.
//!
//! The server's answers are handed to the device store as a sync would
//! apply them (`Store::apply_sync`; the real server is driven end to end in
//! `tests/tests/e2e/offline_retention.rs`), and time passes on a
//! [`DeviceClock`] moved forward, never by sleeping.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use pocketbook_core::Notebook;
use pocketbook_core::api::{ApiError, ChangeOrigin, DeviceClock};
use pocketbook_core::model::*;
use pocketbook_core::store::{ListFilter, STORE_FILE, Store};
use pocketbook_core::sync::wire::{
    Ack, PROTOCOL_VERSION, Rejection, RejectionCode, RetentionTerms, SyncResponse,
};

use crate::support::*;

mod clocks;
mod crash;
mod refused;

/// The server's default: encounters 12 months, scenes kept.
const TERMS: RetentionTerms = RetentionTerms {
    encounter_months: 12,
    attendance_days: None,
};
/// Inside the 12 months of a record made yesterday.
const ELEVEN_AND_A_HALF_MONTHS: TimeDelta = TimeDelta::days(350);
/// Past them.
const A_YEAR_AND_A_WEEK: TimeDelta = TimeDelta::days(372);

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
        retention: Some(TERMS),
        legal_holds: Some(vec![]),
    }
}

/// One sync with a server that acknowledges every pending change and
/// says `answer` otherwise, applied to the closed notebook's store as
/// `Notebook::sync` applies it.
fn sync_with(dir: &Path, mut answer: SyncResponse) {
    let mut store = Store::open(dir).unwrap();
    let pushes = store.pending_pushes(500, usize::MAX).unwrap();
    answer.acknowledged = pushes
        .iter()
        .map(|p| Ack {
            record_id: p.record_id.clone(),
            heads: vec![],
        })
        .collect();
    store.apply_sync(&pushes, &answer, &mut |_| {}).unwrap();
}

fn open(dir: &Path, clock: &DeviceClock) -> Arc<Notebook> {
    Notebook::open_existing_with_clock(dir.display().to_string(), None, clock.clone()).unwrap()
}

/// Whether any of the store's files holds `text` as written.
fn in_files(dir: &Path, text: &str) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        bytes.windows(text.len()).any(|w| w == text.as_bytes())
    })
}

/// A search, a stop and account and a scene, made yesterday and
/// acknowledged by the server; returns their ids and the search's reference.
fn three_synced_records(dir: &Path) -> (String, String, String, String) {
    let nb = Notebook::open(dir.display().to_string(), officer("PC1")).unwrap();
    let search = nb.create_stop_search(stop_search()).unwrap().header;
    let account = nb.create_stop_account(stop_account()).unwrap().header.id;
    let scene = nb
        .create_scene(scene(ResponseGrade::Priority))
        .unwrap()
        .header
        .id;
    drop(nb);
    sync_with(dir, answer(vec![]));
    (search.id, account, scene, search.reference)
}

#[test]
fn a_notebook_in_use_erases_acknowledged_encounters_past_their_period_without_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (search, account, scene, reference) = three_synced_records(dir.path());
    let clock = DeviceClock::system();
    let nb = open(dir.path(), &clock);
    assert_eq!(nb.retention_terms().unwrap(), Some(TERMS));
    let heard = Arc::new(Recorder::default());
    let _subscription = nb.subscribe(heard.clone());

    clock.advance(ELEVEN_AND_A_HALF_MONTHS);
    assert_eq!(record_ids(&nb).len(), 3, "nothing is due inside the period");

    // A year on, the first call after a day has passed erases both
    // encounters before it reads; the scene (kept by the terms) stays.
    clock.advance(A_YEAR_AND_A_WEEK - ELEVEN_AND_A_HALF_MONTHS);
    assert_eq!(record_ids(&nb), vec![scene.clone()]);
    let erased: Vec<(String, ChangeOrigin)> = heard
        .events()
        .into_iter()
        .map(|e| (e.record_id, e.origin))
        .collect();
    assert_eq!(
        sorted(erased.iter().map(|(id, _)| id.clone()).collect()),
        sorted(vec![search.clone(), account.clone()])
    );
    assert!(erased.iter().all(|(_, o)| *o == ChangeOrigin::Erased));
    assert!(matches!(
        nb.get(search.clone()),
        Err(ApiError::NotFound { .. })
    ));
    assert!(nb.overdue_records().unwrap().is_empty());

    // Whole: no byte of the files (the write-ahead log included, the
    // notebook still open) holds the search's reference (the control: the
    // scene's still shows), and no row of either record is left.
    assert!(!in_files(dir.path(), &reference));
    drop(nb);
    let conn = rusqlite::Connection::open(dir.path().join(STORE_FILE)).unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM records WHERE id IN (?1, ?2)",
            [&search, &account],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "records");
    // A change row is its record's by its key (store schema 7): none is
    // left without one.
    let orphans: i64 = conn
        .query_row(
            "SELECT count(*) FROM changes WHERE NOT EXISTS (SELECT 1 FROM records
                 WHERE key > log * 16777216 AND key < (log + 1) * 16777216)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0, "changes");
    drop(conn);
    let scene_reference = open(dir.path(), &clock)
        .get(scene)
        .unwrap()
        .header
        .reference;
    assert!(in_files(dir.path(), &scene_reference));
}

#[test]
fn a_notebook_opened_after_its_records_ran_out_erases_them_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (search, account, scene, _) = three_synced_records(dir.path());
    let clock = DeviceClock::system();
    clock.advance(A_YEAR_AND_A_WEEK);
    // Opening alone erases them from the file, before any call.
    drop(open(dir.path(), &clock));
    let conn = rusqlite::Connection::open(dir.path().join(STORE_FILE)).unwrap();
    let left: Vec<String> = conn
        .prepare("SELECT id FROM records")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(left, vec![scene.clone()]);
    drop(conn);
    let nb = open(dir.path(), &clock);
    assert_eq!(record_ids(&nb), vec![scene]);
    for id in [search, account] {
        assert!(matches!(nb.get(id), Err(ApiError::NotFound { .. })));
    }
}

#[test]
fn the_servers_clock_counts_when_the_handsets_is_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, scene, _) = three_synced_records(dir.path());
    // The last answer came from a server a year ahead of this handset.
    let mut later = answer(vec![]);
    later.server_time = Some((chrono::Utc::now() + A_YEAR_AND_A_WEEK).to_rfc3339());
    sync_with(dir.path(), later);
    let nb = open(dir.path(), &DeviceClock::system());
    assert_eq!(record_ids(&nb), vec![scene]);
}

#[test]
fn a_record_the_server_lacks_is_kept_and_flagged_until_it_is_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (search, account, scene, reference) = three_synced_records(dir.path());
    let clock = DeviceClock::system();
    let nb = open(dir.path(), &clock);
    nb.add_note(search.clone(), "Written offline".into())
        .unwrap();
    let unsent = nb.create_stop_search(stop_search()).unwrap().header.id;
    clock.advance(A_YEAR_AND_A_WEEK);

    let check = nb.check_retention().unwrap();
    assert_eq!(check.erased, 1, "the acknowledged stop and account goes");
    let flagged: Vec<(String, String)> = check
        .overdue
        .iter()
        .map(|o| (o.record_id.clone(), o.reference.clone()))
        .collect();
    assert!(
        flagged.contains(&(search.clone(), reference)),
        "{flagged:?}"
    );
    assert_eq!(
        sorted(flagged.into_iter().map(|(id, _)| id).collect()),
        sorted(vec![search.clone(), unsent.clone()])
    );
    assert_eq!(nb.overdue_records().unwrap(), check.overdue);
    assert!(
        check
            .overdue
            .iter()
            .all(|o| !o.refused && o.refusal.is_none())
    );
    assert_eq!(
        record_ids(&nb),
        sorted(vec![search.clone(), unsent.clone(), scene.clone()])
    );
    assert!(matches!(nb.get(account), Err(ApiError::NotFound { .. })));

    // Sent and acknowledged: now it goes too, at the next opening.
    drop(nb);
    sync_with(dir.path(), answer(vec![]));
    let nb = open(dir.path(), &clock);
    assert_eq!(record_ids(&nb), vec![scene]);
    assert!(nb.overdue_records().unwrap().is_empty());
}

#[test]
fn a_record_on_legal_hold_is_kept_until_the_hold_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let (search, account, scene, _) = three_synced_records(dir.path());
    let mut held = answer(vec![]);
    held.legal_holds = Some(vec![search.clone()]);
    sync_with(dir.path(), held);

    let clock = DeviceClock::system();
    clock.advance(A_YEAR_AND_A_WEEK);
    let nb = open(dir.path(), &clock);
    assert_eq!(record_ids(&nb), sorted(vec![search.clone(), scene.clone()]));
    assert_eq!(nb.legal_holds().unwrap(), vec![search.clone()]);
    assert!(matches!(nb.get(account), Err(ApiError::NotFound { .. })));
    assert!(
        nb.overdue_records().unwrap().is_empty(),
        "held, not overdue"
    );

    // A page without the list changes nothing; a list without it releases it.
    drop(nb);
    let mut silent = answer(vec![]);
    silent.legal_holds = None;
    sync_with(dir.path(), silent);
    assert_eq!(
        record_ids(&open(dir.path(), &clock)),
        sorted(vec![search.clone(), scene.clone()])
    );
    sync_with(dir.path(), answer(vec![]));
    let nb = open(dir.path(), &clock);
    assert_eq!(record_ids(&nb), vec![scene]);
    assert!(nb.legal_holds().unwrap().is_empty());
}

#[test]
fn without_terms_from_a_server_nothing_is_erased() {
    let dir = tempfile::tempdir().unwrap();
    let nb = Notebook::open(dir.path().display().to_string(), officer("PC1")).unwrap();
    nb.create_stop_search(stop_search()).unwrap();
    drop(nb);
    let mut old_server = answer(vec![]);
    old_server.retention = None;
    old_server.legal_holds = None;
    sync_with(dir.path(), old_server);
    let clock = DeviceClock::system();
    clock.advance(A_YEAR_AND_A_WEEK);
    let nb = open(dir.path(), &clock);
    assert_eq!(nb.retention_terms().unwrap(), None);
    assert_eq!(record_ids(&nb).len(), 1);
}

#[test]
fn a_store_of_the_previous_version_takes_the_terms_and_applies_them() {
    let dir = tempfile::tempdir().unwrap();
    let nb = Notebook::open(dir.path().display().to_string(), officer("PC1")).unwrap();
    let search = nb.create_stop_search(stop_search()).unwrap().header.id;
    drop(nb);
    {
        // As the previous app left it: schema 3, no list of holds.
        let conn = rusqlite::Connection::open(dir.path().join(STORE_FILE)).unwrap();
        conn.execute_batch(crate::edit_pages::TO_VERSION_4).unwrap();
        conn.execute_batch("DROP TABLE legal_holds; PRAGMA user_version = 3;")
            .unwrap();
    }
    sync_with(dir.path(), answer(vec![]));
    let clock = DeviceClock::system();
    let nb = open(dir.path(), &clock);
    assert_eq!(record_ids(&nb), vec![search]);
    clock.advance(A_YEAR_AND_A_WEEK);
    assert_eq!(nb.check_retention().unwrap().erased, 1);
    assert!(record_ids(&nb).is_empty());
}
