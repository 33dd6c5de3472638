//! The promises screen reads the terms the store keeps beside each record
//! (`core/src/store/promise_terms.rs`), not the records: these tests drive
//! stores through the facade (edits, offence categories, promise entries
//! and corrections, ticks, merges from a second device, a rollback, an
//! erasure and a wipe), plain and encrypted, and compare every answer of
//! `Notebook::promises` with the promises judged from the documents
//! themselves (`pledge::evaluate` of each record read whole: the oracle),
//! for every filter and order. And a store of schema version 5, which
//! kept no terms, opens with the same promises.

use std::sync::Arc;

use chrono::TimeDelta;
use pocketbook_core::Notebook;
use pocketbook_core::api::ApiError;
use pocketbook_core::api::promises::{PromiseFilter, RecordPromise};
use pocketbook_core::model::*;
use pocketbook_core::pledge::{PromiseStatus, evaluate};
use pocketbook_core::store::{ListFilter, STORE_FILE, Store, StoreKey};
use pocketbook_core::sync::wire::{Ack, Rejection, RejectionCode, SyncResponse};

use crate::support::*;

const KEY: [u8; 32] = [0x5a; 32];

/// A store this build wrote put back to schema version 5: no terms kept,
/// no index by encounter time, and (as a store of an older build may
/// hold) one encounter time stored with an offset.
pub const TO_VERSION_5: &str = concat!(
    crate::edit_pages::to_version_6!(),
    "
DROP TABLE promise_terms;
DROP INDEX records_by_occurred;
UPDATE records SET occurred_at = '2026-12-01T11:00:00+01:00'
    WHERE id = (SELECT min(id) FROM records);
PRAGMA user_version = 5;
"
);

fn plus(at: &Timestamp, minutes: i64) -> Timestamp {
    Timestamp::from_instant(at.instant() + TimeDelta::minutes(minutes)).unwrap()
}

/// Most urgent first, then by due time, then by record, promise and
/// occurrence: the order the facade promises.
fn rank(status: PromiseStatus) -> u8 {
    match status {
        PromiseStatus::Overdue => 0,
        PromiseStatus::DueSoon => 1,
        PromiseStatus::Due => 2,
        PromiseStatus::Unknown => 3,
        PromiseStatus::Broken => 4,
        PromiseStatus::Kept => 5,
    }
}

/// The answer judged from the records themselves: every record read whole
/// and its promises evaluated at the filter's moment.
fn oracle(nb: &Notebook, filter: &PromiseFilter) -> Result<Vec<RecordPromise>, ApiError> {
    let now = filter.now.as_ref().unwrap().instant();
    let ids: Vec<String> = match &filter.record_id {
        Some(id) => vec![nb.get(id.clone())?.header.id],
        None => nb
            .list(ListFilter::default())?
            .into_iter()
            .map(|s| s.id)
            .collect(),
    };
    let mut out = Vec::new();
    for id in ids {
        let record = nb.get(id)?;
        for state in evaluate(&record.body, now) {
            let stamp = |at: Option<chrono::DateTime<chrono::Utc>>| {
                at.map(|at| Timestamp::from_instant(at).unwrap())
            };
            out.push(RecordPromise {
                record_id: record.header.id.clone(),
                reference: record.header.reference.clone(),
                kind: record.header.kind,
                promise: state.promise,
                clause: state.clause.to_string(),
                occurrence: state.occurrence,
                status: state.status,
                started_at: stamp(Some(state.started_at)).unwrap(),
                due_at: stamp(state.due_at),
                due_soon_at: stamp(state.due_soon_at),
                kept_at: stamp(state.kept_at),
            });
        }
    }
    out.retain(|p| {
        filter
            .statuses
            .as_ref()
            .is_none_or(|s| s.contains(&p.status))
            && filter.due_by.as_ref().is_none_or(|by| {
                p.due_at
                    .as_ref()
                    .is_some_and(|due| due.instant() <= by.instant())
            })
    });
    out.sort_by_key(|p| {
        (
            rank(p.status),
            p.due_at.as_ref().map(Timestamp::instant),
            p.record_id.clone(),
            p.promise.as_str(),
            p.occurrence,
        )
    });
    Ok(out)
}

/// Every filter the screen and the watch use, at moments from before the
/// calls to weeks after them.
fn filters(nb: &Notebook) -> Vec<PromiseFilter> {
    let call = at(10, 0);
    let mut ids: Vec<Option<String>> = vec![None];
    ids.extend(
        nb.list(ListFilter::default())
            .unwrap()
            .into_iter()
            .take(3)
            .map(|s| Some(s.id)),
    );
    let mut out = Vec::new();
    for minutes in [-30, 0, 11, 45, 60 * 20, 60 * 30, 60 * 24 * 40] {
        let now = plus(&call, minutes);
        for record_id in &ids {
            out.push(PromiseFilter {
                record_id: record_id.clone(),
                now: Some(now.clone()),
                ..PromiseFilter::default()
            });
        }
        out.push(PromiseFilter {
            statuses: Some(vec![PromiseStatus::DueSoon, PromiseStatus::Overdue]),
            now: Some(now.clone()),
            ..PromiseFilter::default()
        });
        out.push(PromiseFilter {
            statuses: Some(vec![PromiseStatus::Kept, PromiseStatus::Broken]),
            due_by: Some(plus(&now, 60 * 24)),
            now: Some(now.clone()),
            ..PromiseFilter::default()
        });
    }
    out
}

/// Fails unless the facade's answer is the oracle's for every filter.
fn assert_same(nb: &Notebook, step: &str) -> usize {
    let mut listed = 0;
    for filter in filters(nb) {
        let answer = nb.promises(filter.clone()).unwrap();
        assert_eq!(answer, oracle(nb, &filter).unwrap(), "{step}: {filter:?}");
        listed += answer.len();
    }
    listed
}

/// A small random-number source, so every run makes the same edits.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.roll(from.len())]
    }
}

fn open(dir: &std::path::Path, number: &str, encrypted: bool) -> Arc<Notebook> {
    let dir = dir.display().to_string();
    if encrypted {
        Notebook::open_encrypted(dir, officer(number), KEY.to_vec()).unwrap()
    } else {
        Notebook::open(dir, officer(number)).unwrap()
    }
}

fn open_store(dir: &std::path::Path, encrypted: bool) -> Store {
    if encrypted {
        Store::open_encrypted(dir, &StoreKey::from_bytes(&KEY).unwrap()).unwrap()
    } else {
        Store::open(dir).unwrap()
    }
}

/// One edit of the kinds that change promises (and some that do not),
/// chosen by `dice`; refused edits (a departure before the arrival, a
/// correction of nothing) store nothing and are part of the test.
fn random_edit(nb: &Notebook, id: &str, dice: &mut Dice, entries: &mut Vec<String>) -> bool {
    let call = at(10, 0);
    let id = id.to_string();
    let when = plus(
        &call,
        dice.pick(&[5, 11, 13, 40, 90, 60 * 20, 60 * 26, 60 * 24 * 9]),
    );
    let done = match dice.roll(9) {
        0 => nb.record_arrival(id, when),
        1 => nb.record_departure(id, plus(&when, 60)),
        2 => nb.record_offence(id, dice.pick(OffenceCategory::ALL)),
        3 => nb
            .record_promise_entry(id, dice.pick(PromiseEntryKind::ALL), when)
            .map(|e| entries.push(e)),
        4 if !entries.is_empty() => {
            let entry = entries[dice.roll(entries.len())].clone();
            nb.correct_promise_entry(id, entry, when, dice.roll(2) == 0)
                .map(|e| entries.push(e))
        }
        5 => nb
            .tick(id, dice.pick(ChecklistItem::ALL), TickOutcome::Done, None)
            .map(drop),
        6 => nb.agree_updates(
            id,
            UpdateAgreement {
                method: UpdateMethod::Phone,
                every_days: dice.pick(&[1, 7, 28]),
            },
        ),
        7 => nb.add_note(id, "a note".into()).map(drop),
        _ => nb.add_scene_action(id, note("an action")).map(drop),
    };
    done.is_ok()
}

fn records_of(nb: &Notebook) -> Vec<String> {
    let mut ids = Vec::new();
    for grade in ResponseGrade::ALL {
        let mut input = scene(*grade);
        if *grade == ResponseGrade::Scheduled {
            input.appointment = Some(at(15, 0));
        }
        if let Ok(r) = nb.create_scene(input.clone()) {
            ids.push(r.header.id);
        }
        if let Ok(r) = nb.create_burglary(input) {
            ids.push(r.header.id);
        }
    }
    nb.create_stop_account(stop_account()).unwrap();
    ids
}

fn edits_merges_and_a_wipe(encrypted: bool) {
    let dir = tempfile::tempdir().unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let nb = open(dir.path(), "PC501", encrypted);
    let other = open(other_dir.path(), "PC502", encrypted);
    let ids = records_of(&nb);
    assert!(ids.len() >= 6, "{ids:?}");
    // The second officer attends every record and edits it on their device.
    for id in &ids {
        nb.add_attending_officer(id.clone(), "PC502".into())
            .unwrap();
        other.import(nb.export(id.clone()).unwrap()).unwrap();
    }
    let mut dice = Dice(if encrypted { 7 } else { 1 });
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    let mut listed = assert_same(&nb, "created");
    let mut stored = 0;
    for round in 0..12 {
        for _ in 0..6 {
            let id = ids[dice.roll(ids.len())].clone();
            stored += usize::from(random_edit(&nb, &id, &mut dice, &mut mine));
            let id = ids[dice.roll(ids.len())].clone();
            stored += usize::from(random_edit(&other, &id, &mut dice, &mut theirs));
        }
        // Merges both ways, some records at a time.
        for id in &ids {
            if dice.roll(2) == 0 {
                nb.import(other.export(id.clone()).unwrap()).unwrap();
                other.import(nb.export(id.clone()).unwrap()).unwrap();
            }
        }
        listed += assert_same(&nb, &format!("round {round}"));
        assert_same(&other, &format!("round {round}, the other device"));
    }
    assert!(listed > 200, "the test judged promises ({listed})");
    assert!(stored > 60, "most edits were stored ({stored} of 144)");

    // Reopened, the terms are read from the file.
    nb.close();
    drop(nb);
    let nb = open(dir.path(), "PC501", encrypted);
    assert_same(&nb, "reopened");

    // A wipe leaves no terms behind.
    nb.close();
    drop(nb);
    let mut store = open_store(dir.path(), encrypted);
    store.wipe().unwrap();
    assert!(store.promise_terms(None).unwrap().is_empty());
}

#[test]
fn the_screen_answers_as_the_records_do_through_edits_and_merges_plain() {
    edits_merges_and_a_wipe(false);
}

#[test]
fn the_screen_answers_as_the_records_do_through_edits_and_merges_encrypted() {
    edits_merges_and_a_wipe(true);
}

fn response() -> SyncResponse {
    SyncResponse {
        protocol: pocketbook_core::sync::wire::PROTOCOL_VERSION,
        acknowledged: vec![],
        rejected: vec![],
        changes: vec![],
        cursor: 0,
        more: false,
        retire: false,
        server_time: None,
        access: None,
        next_pins: vec![],
        retention: None,
        legal_holds: None,
    }
}

#[test]
fn a_rollback_and_an_erasure_take_their_terms_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let nb = open(dir.path(), "PC503", true);
    let ids = records_of(&nb);
    let (rolled, erased) = (ids[0].clone(), ids[1].clone());
    let call = at(10, 0);
    // The server acknowledges every record as it is now.
    nb.close();
    drop(nb);
    {
        let mut store = open_store(dir.path(), true);
        let pushed = store.pending_pushes(100, 1 << 24).unwrap();
        let mut ack = response();
        ack.acknowledged = pushed
            .iter()
            .map(|p| Ack {
                record_id: p.record_id.clone(),
                heads: p.heads.iter().map(|h| h.to_string()).collect(),
            })
            .collect();
        store.apply_sync(&pushed, &ack, &mut |_| {}).unwrap();
    }
    let nb = open(dir.path(), "PC503", true);
    let before = nb
        .promises(PromiseFilter {
            record_id: Some(rolled.clone()),
            now: Some(plus(&call, 30)),
            ..PromiseFilter::default()
        })
        .unwrap();
    nb.record_arrival(rolled.clone(), plus(&call, 5)).unwrap();
    nb.record_offence(rolled.clone(), OffenceCategory::HateCrime)
        .unwrap();
    assert_same(&nb, "edited");
    nb.close();
    drop(nb);

    // The server refuses the edits for good: the record goes back to what
    // it acknowledged, and so do its promises.
    {
        let mut store = open_store(dir.path(), true);
        let pushed = store.pending_pushes(100, 1 << 24).unwrap();
        assert!(pushed.iter().any(|p| p.record_id == rolled));
        let mut refusal = response();
        refusal.rejected = vec![Rejection {
            record_id: rolled.clone(),
            code: RejectionCode::Forbidden,
            message: "refused".into(),
        }];
        store.apply_sync(&pushed, &refusal, &mut |_| {}).unwrap();
        assert_eq!(store.roll_back_refused().unwrap().len(), 1);
        // The server erased another record.
        let mut erase = response();
        erase.changes = vec![pocketbook_core::sync::wire::FeedEntry {
            seq: 1,
            record_id: erased.clone(),
            kind: RecordKind::SceneAttendance,
            changes: Vec::new(),
            erased: true,
        }];
        erase.cursor = 1;
        store.apply_sync(&[], &erase, &mut |_| {}).unwrap();
        assert!(
            store
                .promise_terms(None)
                .unwrap()
                .iter()
                .all(|r| r.record_id != erased),
            "an erased record leaves no terms"
        );
    }
    let nb = open(dir.path(), "PC503", true);
    let after = nb
        .promises(PromiseFilter {
            record_id: Some(rolled.clone()),
            now: Some(plus(&call, 30)),
            ..PromiseFilter::default()
        })
        .unwrap();
    assert_eq!(after, before, "the promises of the record rolled back");
    assert_same(&nb, "rolled back and erased");
    let gone = PromiseFilter {
        record_id: Some(erased),
        now: Some(call),
        ..PromiseFilter::default()
    };
    assert!(matches!(nb.promises(gone), Err(ApiError::NotFound { .. })));
}

#[test]
fn a_store_of_schema_version_5_opens_with_the_same_promises() {
    for encrypted in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let nb = open(dir.path(), "PC504", encrypted);
        let ids = records_of(&nb);
        let mut dice = Dice(3);
        let mut entries = Vec::new();
        let mut stored = 0;
        for _ in 0..40 {
            let id = ids[dice.roll(ids.len())].clone();
            stored += usize::from(random_edit(&nb, &id, &mut dice, &mut entries));
        }
        assert!(stored > 15, "{stored} of 40 edits stored");
        let answers: Vec<_> = filters(&nb)
            .into_iter()
            .map(|f| nb.promises(f).unwrap())
            .collect();
        assert!(answers.iter().map(Vec::len).sum::<usize>() > 50);
        nb.close();
        drop(nb);
        {
            // Version 5 kept no terms.
            let conn = rusqlite::Connection::open(dir.path().join(STORE_FILE)).unwrap();
            if encrypted {
                let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
                conn.execute_batch(&format!("PRAGMA key = \"x'{hex}'\";"))
                    .unwrap();
            }
            conn.execute_batch(TO_VERSION_5).unwrap();
        }
        let nb = open(dir.path(), "PC504", encrypted);
        let again: Vec<_> = filters(&nb)
            .into_iter()
            .map(|f| nb.promises(f).unwrap())
            .collect();
        assert_eq!(again, answers, "encrypted: {encrypted}");
        assert_same(&nb, "migrated");
        nb.close();
        drop(nb);
        // Every encounter time in the one UTC form the retention check's
        // index orders by (`store/expiry.rs`).
        let conn = rusqlite::Connection::open(dir.path().join(STORE_FILE)).unwrap();
        if encrypted {
            let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
            conn.execute_batch(&format!("PRAGMA key = \"x'{hex}'\";"))
                .unwrap();
        }
        let times: Vec<String> = conn
            .prepare("SELECT occurred_at FROM records ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(times[0], "2026-12-01T10:00:00Z");
        assert!(
            times.iter().all(|t| t.len() == 20 && t.ends_with('Z')),
            "{times:?}"
        );
    }
}
