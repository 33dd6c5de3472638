//! The Pledge's promises through the facade, offline: the list with due
//! times and statuses, the calls that keep promises, and the watch that
//! tells the app when one becomes due soon or overdue, judged by a clock
//! the test moves (never the wall clock, never a sleep). Bad input: an
//! erased record, a closed notebook, a device clock far off.

use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use pocketbook_core::api::promises::{PromiseClock, PromiseFilter, PromiseListener, RecordPromise};
use pocketbook_core::api::{ApiError, CallbackError};
use pocketbook_core::model::*;
use pocketbook_core::pledge::{PromiseId, PromiseStatus};
use pocketbook_core::store::{ListFilter, Store};
use pocketbook_core::sync::wire::{Ack, FeedEntry, SyncResponse};

use crate::support::*;

fn plus(at: &Timestamp, minutes: i64) -> Timestamp {
    Timestamp::from_instant(at.instant() + TimeDelta::minutes(minutes)).unwrap()
}

fn judged_at(at: Timestamp) -> PromiseFilter {
    PromiseFilter {
        now: Some(at),
        ..PromiseFilter::default()
    }
}

fn summary(promises: &[RecordPromise]) -> Vec<(PromiseId, PromiseStatus)> {
    promises.iter().map(|p| (p.promise, p.status)).collect()
}

#[test]
fn the_list_gives_each_promise_its_due_time_and_status_offline() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC401");
    let record = nb.create_scene(scene(ResponseGrade::Emergency)).unwrap();
    nb.create_stop_account(stop_account()).unwrap();
    let id = record.header.id.clone();
    let call = scene_of(&record).call_received.clone();

    let listed = nb.promises(judged_at(call.clone())).unwrap();
    assert_eq!(
        summary(&listed),
        [(PromiseId::EmergencyAttendance, PromiseStatus::Due)]
    );
    assert_eq!(listed[0].due_at, Some(plus(&call, 12)));
    assert_eq!(listed[0].due_soon_at, Some(plus(&call, 9)));
    assert_eq!(listed[0].reference, record.header.reference);
    assert_eq!(listed[0].clause, "P1");

    nb.record_offence(id.clone(), OffenceCategory::DomesticViolence)
        .unwrap();
    nb.record_arrival(id.clone(), plus(&call, 10)).unwrap();
    let listed = nb.promises(judged_at(plus(&call, 60))).unwrap();
    assert_eq!(
        summary(&listed),
        [
            (PromiseId::DomesticViolenceContact, PromiseStatus::Due),
            (PromiseId::EmergencyAttendance, PromiseStatus::Kept),
        ]
    );
    assert_eq!(listed[0].due_at, Some(plus(&call, 24 * 60)));

    // Filters: by status, by due time, by record.
    let open = PromiseFilter {
        statuses: Some(vec![PromiseStatus::DueSoon, PromiseStatus::Overdue]),
        ..judged_at(plus(&call, 25 * 60))
    };
    assert_eq!(
        summary(&nb.promises(open).unwrap()),
        [(PromiseId::DomesticViolenceContact, PromiseStatus::Overdue)]
    );
    let soon = PromiseFilter {
        due_by: Some(plus(&call, 60)),
        ..judged_at(call.clone())
    };
    assert_eq!(
        summary(&nb.promises(soon).unwrap()),
        [(PromiseId::EmergencyAttendance, PromiseStatus::Kept)]
    );
    let missing = PromiseFilter {
        record_id: Some("01900000-0000-7000-8000-000000000000".into()),
        ..PromiseFilter::default()
    };
    assert!(matches!(
        nb.promises(missing),
        Err(ApiError::NotFound { .. })
    ));

    // A contact kept it; withdrawn (recorded by mistake), it is open again.
    let contact = nb
        .record_promise_entry(id.clone(), PromiseEntryKind::ContactMade, plus(&call, 120))
        .unwrap();
    let status = |nb: &pocketbook_core::Notebook| {
        nb.promises(judged_at(plus(&call, 25 * 60)))
            .unwrap()
            .into_iter()
            .find(|p| p.promise == PromiseId::DomesticViolenceContact)
            .unwrap()
            .status
    };
    assert_eq!(status(&nb), PromiseStatus::Kept);
    nb.correct_promise_entry(id.clone(), contact, plus(&call, 130), true)
        .unwrap();
    assert_eq!(status(&nb), PromiseStatus::Overdue);
    assert_schema_true(&nb, &id);
    let stored = scene_of(&nb.get(id).unwrap()).promise_entries.clone();
    assert_eq!(stored.len(), 2, "the withdrawn entry stays as written");
}

#[test]
fn a_device_clock_far_off_moves_open_promises_only() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC402");
    let record = nb.create_burglary(scene(ResponseGrade::Priority)).unwrap();
    let call = scene_of(&record).call_received.clone();
    nb.record_arrival(record.header.id.clone(), plus(&call, 30))
        .unwrap();
    for (now, attendance) in [
        ("1990-01-01T00:00:00Z", PromiseStatus::Kept),
        ("2090-01-01T00:00:00Z", PromiseStatus::Kept),
    ] {
        let listed = nb
            .promises(judged_at(Timestamp::parse(now).unwrap()))
            .unwrap();
        let of = |id| listed.iter().find(|p| p.promise == id).unwrap().status;
        assert_eq!(of(PromiseId::PriorityAttendance), attendance, "{now}");
        // Before leaving a burgled home: due until the departure, whatever the clock.
        assert_eq!(of(PromiseId::BurglaryBeforeLeaving), PromiseStatus::Due);
    }
}

/// A clock the test moves.
struct TestClock(Mutex<Timestamp>);

impl PromiseClock for TestClock {
    fn now(&self) -> Timestamp {
        self.0.lock().unwrap().clone()
    }
}

impl TestClock {
    fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap() = at;
    }
}

/// A listener that keeps what it hears; `fail` makes it throw too.
#[derive(Default)]
struct Heard {
    promises: Mutex<Vec<(PromiseId, PromiseStatus)>>,
    fail: bool,
}

impl PromiseListener for Heard {
    fn on_promise(&self, promise: RecordPromise) -> Result<(), CallbackError> {
        self.promises
            .lock()
            .unwrap()
            .push((promise.promise, promise.status));
        if self.fail {
            Err(CallbackError::Failed)
        } else {
            Ok(())
        }
    }
}

impl Heard {
    fn take(&self) -> Vec<(PromiseId, PromiseStatus)> {
        std::mem::take(&mut *self.promises.lock().unwrap())
    }
}

#[test]
fn the_watch_tells_once_when_a_promise_becomes_due_soon_and_once_when_overdue() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC403");
    let record = nb.create_scene(scene(ResponseGrade::Emergency)).unwrap();
    let id = record.header.id.clone();
    let call = scene_of(&record).call_received.clone();
    let clock = Arc::new(TestClock(Mutex::new(call.clone())));
    let heard = Arc::new(Heard {
        fail: true,
        ..Heard::default()
    });
    let watch = nb.watch_promises(heard.clone(), Some(clock.clone()));

    assert!(watch.check().unwrap().is_empty());
    clock.set(plus(&call, 9));
    let told = watch.check().unwrap();
    assert_eq!(summary(&told), heard.take());
    assert_eq!(
        heard.take(),
        [],
        "a listener that throws is heard once, and the check still answers"
    );
    assert_eq!(
        summary(&told),
        [(PromiseId::EmergencyAttendance, PromiseStatus::DueSoon)]
    );
    assert!(watch.check().unwrap().is_empty(), "told once");
    clock.set(plus(&call, 13));
    assert_eq!(
        summary(&watch.check().unwrap()),
        [(PromiseId::EmergencyAttendance, PromiseStatus::Overdue)]
    );
    assert_eq!(heard.take().len(), 1);

    // A change checks its record at once, without the app's timer: an
    // offence recorded late makes a contact promise due soon now.
    clock.set(plus(&call, 20 * 60));
    nb.record_offence(id.clone(), OffenceCategory::DomesticViolence)
        .unwrap();
    assert_eq!(
        heard.take(),
        [(PromiseId::DomesticViolenceContact, PromiseStatus::DueSoon)]
    );
    // Kept: nothing more to tell, ever.
    nb.record_promise_entry(
        id.clone(),
        PromiseEntryKind::ContactMade,
        plus(&call, 20 * 60),
    )
    .unwrap();
    clock.set(plus(&call, 48 * 60));
    assert!(watch.check().unwrap().is_empty());
    assert_eq!(heard.take(), []);

    watch.cancel();
    nb.create_scene(scene(ResponseGrade::Emergency)).unwrap();
    assert!(
        watch.check().unwrap().is_empty(),
        "a cancelled watch is quiet"
    );
    assert_eq!(heard.take(), []);
}

fn erase_entry(record: &Record) -> SyncResponse {
    SyncResponse {
        protocol: pocketbook_core::sync::wire::PROTOCOL_VERSION,
        acknowledged: vec![],
        rejected: vec![],
        changes: vec![FeedEntry {
            seq: 1,
            record_id: record.header.id.clone(),
            kind: record.header.kind,
            changes: Vec::new(),
            erased: true,
        }],
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

#[test]
fn an_erased_record_takes_its_promises_with_it_and_a_closed_notebook_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC404");
    let erased = nb.create_scene(scene(ResponseGrade::Emergency)).unwrap();
    let kept = nb.create_scene(scene(ResponseGrade::Priority)).unwrap();
    let call = scene_of(&erased).call_received.clone();
    let clock = Arc::new(TestClock(Mutex::new(plus(&call, 600))));
    let heard = Arc::new(Heard::default());
    let watch = nb.watch_promises(heard.clone(), Some(clock.clone()));
    assert_eq!(watch.check().unwrap().len(), 2, "both overdue");
    nb.close();
    assert!(matches!(watch.check(), Err(ApiError::Closed { .. })));
    drop(nb);

    // The server acknowledged both records, then erased one (retention):
    // the syncs apply its answers, as `Notebook::sync` does (a record the
    // server never acknowledged would be kept: it may be the only copy).
    {
        let mut store = Store::open(dir.path()).unwrap();
        let pushed = store.pending_pushes(10, usize::MAX).unwrap();
        let mut acknowledged = erase_entry(&erased);
        acknowledged.changes.clear();
        acknowledged.acknowledged = pushed
            .iter()
            .map(|p| Ack {
                record_id: p.record_id.clone(),
                heads: Vec::new(),
            })
            .collect();
        store
            .apply_sync(&pushed, &acknowledged, &mut |_| {})
            .unwrap();
        store
            .apply_sync(&[], &erase_entry(&erased), &mut |_| {})
            .unwrap();
    }
    let nb = notebook(&dir, "PC404");
    assert_eq!(nb.list(ListFilter::default()).unwrap().len(), 1);
    let listed = nb.promises(judged_at(plus(&call, 600))).unwrap();
    assert!(listed.iter().all(|p| p.record_id == kept.header.id));
    assert_eq!(listed.len(), 1);
    let gone = PromiseFilter {
        record_id: Some(erased.header.id.clone()),
        ..PromiseFilter::default()
    };
    assert!(matches!(nb.promises(gone), Err(ApiError::NotFound { .. })));
    let watch = nb.watch_promises(heard.clone(), Some(clock));
    let told = watch.check().unwrap();
    assert!(told.iter().all(|p| p.record_id == kept.header.id));
}

#[test]
fn hostile_and_wrong_entries_are_refused_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC405");
    let record = nb.create_scene(scene(ResponseGrade::Priority)).unwrap();
    let id = record.header.id.clone();
    let call = scene_of(&record).call_received.clone();
    let field_of = |e: ApiError| match e {
        ApiError::Invalid { violations } => violations[0].field.clone(),
        other => panic!("{other:?}"),
    };
    let early = nb
        .record_promise_entry(id.clone(), PromiseEntryKind::ContactMade, plus(&call, -1))
        .unwrap_err();
    assert_eq!(field_of(early), "promise_entries.made_at");
    let unknown = nb
        .correct_promise_entry(id.clone(), "no-such-entry".into(), call.clone(), false)
        .unwrap_err();
    assert_eq!(field_of(unknown), "promise_entries.corrects");
    let search = nb.create_stop_search(stop_search()).unwrap();
    assert!(matches!(
        nb.record_offence(search.header.id, OffenceCategory::Other),
        Err(ApiError::Conflict { .. })
    ));
    assert!(scene_of(&nb.get(id).unwrap()).promise_entries.is_empty());
}
