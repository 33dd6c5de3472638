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

use chrono::TimeDelta;
use pocketbook_core::Notebook;
use pocketbook_core::api::{ApiError, ChangeOrigin, DeviceClock};
use pocketbook_core::model::*;
use pocketbook_core::store::{ListFilter, STORE_FILE, Store};
use pocketbook_core::sync::wire::{
    Ack, PROTOCOL_VERSION, Rejection, RejectionCode, RetentionTerms, SyncResponse,
};

use crate::support::*;

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
    for table in ["records WHERE id", "changes WHERE record_id"] {
        let left: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {table} IN (?1, ?2)"),
                [&search, &account],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0, "{table}");
    }
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

/// One sync with a server that refuses `refused` (as invalid, for good)
/// and acknowledges every other pending change.
fn sync_refusing(dir: &Path, refused: &str) {
    let mut store = Store::open(dir).unwrap();
    let pushes = store.pending_pushes(500, usize::MAX).unwrap();
    let mut answer = answer(vec![]);
    answer.acknowledged = pushes
        .iter()
        .filter(|p| p.record_id != refused)
        .map(|p| Ack {
            record_id: p.record_id.clone(),
            heads: vec![],
        })
        .collect();
    answer.rejected = vec![Rejection {
        record_id: refused.into(),
        code: RejectionCode::Invalid,
        message: "datetime: too long ago for a new record".into(),
    }];
    store.apply_sync(&pushes, &answer, &mut |_| {}).unwrap();
}

#[test]
fn a_new_record_the_server_refused_stays_overdue_and_refused_until_the_officer_amends_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, scene, _) = three_synced_records(dir.path());
    let nb = Notebook::open(dir.path().display().to_string(), officer("PC1")).unwrap();
    let refused = nb.create_stop_search(stop_search()).unwrap().header;
    drop(nb);
    sync_refusing(dir.path(), &refused.id);

    // A year on, the acknowledged encounters go; the refused one never
    // reached the server, so it is evidence only this handset holds: it is
    // kept, listed as overdue and as refused, at every check, however late.
    let clock = DeviceClock::system();
    clock.advance(A_YEAR_AND_A_WEEK);
    let nb = open(dir.path(), &clock);
    assert_eq!(
        record_ids(&nb),
        sorted(vec![refused.id.clone(), scene.clone()])
    );
    for _ in 0..2 {
        let overdue = nb.overdue_records().unwrap();
        assert_eq!(overdue.len(), 1, "{overdue:?}");
        assert_eq!(
            (overdue[0].record_id.as_str(), overdue[0].refused),
            (refused.id.as_str(), true)
        );
        assert_eq!(
            overdue[0].refusal.as_deref(),
            Some("datetime: too long ago for a new record"),
            "with the server's reason"
        );
        assert_eq!(overdue[0].reference, refused.reference);
        assert_eq!(nb.check_retention().unwrap().overdue, overdue);
        clock.advance(TimeDelta::days(400));
    }
    assert!(
        nb.list(ListFilter::default())
            .unwrap()
            .iter()
            .any(|s| s.id == refused.id && s.refused),
        "the list marks it refused too"
    );
    nb.get(refused.id.clone()).expect("kept whole");

    // The officer resolves it: an amendment (a note saying what was
    // wrong) clears the refusal and sends it again; once acknowledged it
    // goes like any other.
    nb.add_note(refused.id.clone(), "Time entered wrongly; see note".into())
        .unwrap();
    let overdue = nb.overdue_records().unwrap();
    assert_eq!(overdue.len(), 1);
    assert!(!overdue[0].refused, "waiting to be sent, no longer refused");
    assert_eq!(overdue[0].refusal, None);
    drop(nb);
    sync_with(dir.path(), answer(vec![]));
    let nb = open(dir.path(), &clock);
    assert_eq!(record_ids(&nb), vec![scene]);
    assert!(nb.overdue_records().unwrap().is_empty());
}

#[test]
fn a_clock_set_back_before_the_first_sync_erases_on_time_while_open_never_early() {
    let dir = tempfile::tempdir().unwrap();
    // A handset whose clock reads two years behind from the start: no
    // server time heard, no terms, nothing erased.
    let behind = DeviceClock::system();
    behind.advance(TimeDelta::days(-730));
    let nb = Notebook::open_with_clock(
        dir.path().display().to_string(),
        officer("PC1"),
        behind.clone(),
    )
    .unwrap();
    let search = nb.create_stop_search(stop_search()).unwrap().header.id;
    assert_eq!(nb.check_retention().unwrap().erased, 0);
    drop(nb);

    // The first sync brings the terms and the server's (true) time: "now"
    // for retention is never before it, so the record, made yesterday by
    // the true clock, is not due: never early.
    let mut first = answer(vec![]);
    first.server_time = Some(chrono::Utc::now().to_rfc3339());
    sync_with(dir.path(), first);
    let nb = open(dir.path(), &behind);
    assert_eq!(record_ids(&nb), vec![search.clone()], "never early");
    // Setting the clock forward by a month is not time passing.
    behind.advance(TimeDelta::days(30));
    assert_eq!(nb.check_retention().unwrap().erased, 0);

    // A year and a week pass with the app running, offline: the handset's
    // clock still reads behind (by 11 months), but the time passed since
    // the server's time was heard counts, and the record goes on time.
    behind.pass(A_YEAR_AND_A_WEEK);
    assert!(behind.now() < chrono::Utc::now() - TimeDelta::days(300));
    assert!(
        record_ids(&nb).is_empty(),
        "erased on time by the first call"
    );
}

#[test]
fn a_clock_behind_after_a_restart_erases_late_never_early() {
    let dir = tempfile::tempdir().unwrap();
    let behind = DeviceClock::system();
    behind.advance(TimeDelta::days(-730));
    let nb = Notebook::open_with_clock(
        dir.path().display().to_string(),
        officer("PC1"),
        behind.clone(),
    )
    .unwrap();
    let search = nb.create_stop_search(stop_search()).unwrap().header.id;
    drop(nb);
    let mut first = answer(vec![]);
    first.server_time = Some(chrono::Utc::now().to_rfc3339());
    sync_with(dir.path(), first);

    // A year passes while the app is not running (the monotonic clock does
    // not outlive its process): on the next opening the handset's clock is
    // still behind the last server time heard, which is all it can trust,
    // so the record is kept: late, never early ...
    behind.pass(A_YEAR_AND_A_WEEK);
    let restarted = DeviceClock::system();
    restarted.advance(behind.now() - chrono::Utc::now());
    let nb = open(dir.path(), &restarted);
    assert_eq!(record_ids(&nb), vec![search.clone()]);
    assert_eq!(nb.check_retention().unwrap().erased, 0);
    drop(nb);
    // ... until a server time is heard again: then it goes at once.
    let mut later = answer(vec![]);
    later.server_time = Some((chrono::Utc::now() + A_YEAR_AND_A_WEEK).to_rfc3339());
    sync_with(dir.path(), later);
    let nb = open(dir.path(), &restarted);
    assert!(record_ids(&nb).is_empty());
}

// --- A process that dies inside the erasure ---------------------------------

const CHILD_DIR: &str = "POCKETBOOK_RETENTION_CHILD_DIR";

/// The child side: runs only when the parent test re-executes this binary,
/// and is aborted before the erasure commits by `POCKETBOOK_CRASH_AT`.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let clock = DeviceClock::system();
    clock.advance(A_YEAR_AND_A_WEEK);
    drop(open(Path::new(&dir), &clock));
}

#[test]
fn a_crash_in_the_middle_of_an_erasure_leaves_every_record_whole() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (search, account, scene, _) = three_synced_records(dir.path());
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "retention::crash_child", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .env("POCKETBOOK_CRASH_AT", "expire-before-commit")
        .output()
        .unwrap();
    assert_aborted(&output, "expire-before-commit, inside the erasure");
    let nb = open(dir.path(), &DeviceClock::system());
    assert_eq!(
        record_ids(&nb),
        sorted(vec![search.clone(), account.clone(), scene])
    );
    for id in [search, account] {
        nb.get(id).expect("whole after the crash");
    }
}
