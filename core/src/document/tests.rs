//! The promise fields of a record document ("Record fields" in
//! `ARCHITECTURE.md`): a document saved before they existed still reads,
//! checks and takes them; and no concurrent history of the offence
//! category, the update agreement and the promise entries produces a value
//! nobody entered (a property test over random histories of three devices).

use std::collections::BTreeSet;

use automerge::ActorId;
use proptest::prelude::*;

use super::*;
use crate::model::{
    OffenceCategory, Officer, PromiseEntry, PromiseEntryKind, SceneAttendance, SceneInput,
    UpdateMethod,
};

/// A home-burglary record (priority, called at 10:00Z on 2 November 2026,
/// arrived 10:20Z, updates every 14 days by phone, one tick) as the
/// `pocketbook-device` of the commit before promise entries existed
/// exported it.
const BEFORE_PROMISES: &[u8] = include_bytes!("testdata/burglary-v2-before-promises.automerge");

pub(super) fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 16])
}

fn entry(kind: PromiseEntryKind, by: &str, at: &str) -> PromiseEntry {
    PromiseEntry {
        id: String::new(),
        kind,
        made_by: by.into(),
        made_at: Timestamp::parse(at).unwrap(),
        corrects: None,
        withdrawn: false,
    }
}

#[test]
fn a_document_saved_before_promise_fields_reads_checks_and_takes_them() {
    let mut doc = RecordDoc::load(BEFORE_PROMISES, actor(1)).unwrap();
    doc.check_schema().unwrap();
    let body = doc.body().unwrap();
    let scene = body.scene().unwrap();
    assert_eq!(scene.offence, None);
    assert!(scene.promise_entries.is_empty());
    assert_eq!(scene.updates.as_ref().map(|u| u.every_days), Some(14));
    assert_eq!(scene.updates_agreed_at, None);
    assert_eq!(scene.checklist.len(), 1);

    // Two devices append the record's first promise entries offline: each
    // creates the list, and both lists are read.
    let mut other = doc.fork(actor(2));
    doc.set_offence(OffenceCategory::DomesticViolence).unwrap();
    let first = doc
        .add_promise_entry(&entry(
            PromiseEntryKind::ContactMade,
            "PC1",
            "2026-11-02T12:00:00Z",
        ))
        .unwrap();
    let second = other
        .add_promise_entry(&entry(
            PromiseEntryKind::VictimUpdated,
            "PC1",
            "2026-11-09T12:00:00Z",
        ))
        .unwrap();
    doc.merge(&mut other).unwrap();
    doc.check_schema().unwrap();
    doc.validate().unwrap();
    let record = doc.record().unwrap();
    // Two conflicting lists: the one walk reads both as the document does.
    assert_eq!(doc.checked_record_in_one_walk().unwrap(), record);
    let scene = record.body.scene().unwrap();
    let ids: BTreeSet<&str> = scene
        .promise_entries
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(ids, BTreeSet::from([first.as_str(), second.as_str()]));
    assert!(
        record.derived.conflicts.is_empty(),
        "{:?}",
        record.derived.conflicts
    );
    let promises = crate::pledge::evaluate(&record.body, scene.call_received.instant());
    let contact = promises
        .iter()
        .find(|p| p.promise == crate::pledge::PromiseId::DomesticViolenceContact)
        .unwrap();
    assert_eq!(contact.status, crate::pledge::PromiseStatus::Kept);
    // The agreement has no time: its clock starts at the call.
    let update = promises
        .iter()
        .find(|p| p.promise == crate::pledge::PromiseId::VictimUpdate)
        .unwrap();
    assert_eq!(update.started_at, scene.call_received.instant());
}

pub(super) fn new_record() -> RecordDoc {
    scene_record("0190a0a0-0000-7000-8000-000000000001", None)
}

/// A priority scene record made by PC1 on a fixed day, with the given id
/// and, when given, a first note; the document layer's tests start from it.
pub(super) fn scene_record(id: &str, notes: Option<&str>) -> RecordDoc {
    let mut input = serde_json::json!({
        "reasons": ["crime in progress"],
        "grade": "priority",
        "call_received": "2026-11-02T10:00:00Z",
        "location": { "street": "12 Acacia Avenue" }
    });
    if let Some(notes) = notes {
        input["notes"] = notes.into();
    }
    let input: SceneInput = serde_json::from_value(input).unwrap();
    let header = RecordHeader {
        id: id.into(),
        kind: RecordKind::SceneAttendance,
        reference: "REF".into(),
        created_at: Timestamp::parse("2026-11-02T10:01:00Z").unwrap(),
        author: Officer {
            shoulder_number: "PC1".into(),
            name: "Name".into(),
            station: "Lewisham".into(),
        },
    };
    let scene = SceneAttendance::from_input(input);
    RecordDoc::create(header, &RecordBody::SceneAttendance { scene }, actor(9)).unwrap()
}

#[test]
fn the_offence_is_a_register_the_later_write_wins_and_a_concurrent_one_is_named() {
    let mut a = new_record();
    let mut b = a.fork(actor(2));
    a.set_offence(OffenceCategory::SeriousAssault).unwrap();
    b.merge(&mut a).unwrap();
    b.set_offence(OffenceCategory::HateCrime).unwrap();
    a.merge(&mut b).unwrap();
    let record = a.record().unwrap();
    assert_eq!(
        record.body.scene().unwrap().offence,
        Some(OffenceCategory::HateCrime)
    );
    assert!(record.derived.conflicts.is_empty());

    let mut c = a.fork(actor(3));
    a.set_offence(OffenceCategory::Burglary).unwrap();
    c.set_offence(OffenceCategory::Other).unwrap();
    a.merge(&mut c).unwrap();
    c.merge(&mut a).unwrap();
    let (ra, rc) = (a.record().unwrap(), c.record().unwrap());
    assert_eq!(ra.body, rc.body);
    assert!(matches!(
        ra.body.scene().unwrap().offence,
        Some(OffenceCategory::Burglary | OffenceCategory::Other)
    ));
    assert_eq!(ra.derived.conflicts, ["offence"]);
}

#[test]
fn a_promise_entry_is_refused_on_an_encounter_and_a_correction_needs_its_entry() {
    let mut doc = new_record();
    let mut wrong = entry(PromiseEntryKind::ReviewDone, "PS1", "2026-11-02T11:00:00Z");
    wrong.corrects = Some("nothing-here".into());
    assert!(matches!(
        doc.add_promise_entry(&wrong),
        Err(DocumentError::Invalid(v)) if v[0].field == "promise_entries.corrects"
    ));
    let review = doc
        .add_promise_entry(&entry(
            PromiseEntryKind::ReviewDone,
            "PS1",
            "2026-11-02T11:00:00Z",
        ))
        .unwrap();
    let mut other_kind = entry(PromiseEntryKind::ContactMade, "PS1", "2026-11-02T11:00:00Z");
    other_kind.corrects = Some(review);
    assert!(doc.add_promise_entry(&other_kind).is_err());
    let early = entry(PromiseEntryKind::ContactMade, "PC1", "2026-11-02T09:00:00Z");
    assert!(doc.add_promise_entry(&early).is_err());
    assert_eq!(
        doc.body().unwrap().scene().unwrap().promise_entries.len(),
        1
    );
}

/// One step of a device's history.
#[derive(Debug, Clone)]
enum Step {
    Offence(usize, usize),
    Agree(usize, usize, i32, u32),
    Entry(usize, usize, u32, Option<usize>, bool),
    Sync(usize, usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize, 0..OffenceCategory::ALL.len()).prop_map(|(d, o)| Step::Offence(d, o)),
        (
            0..3usize,
            0..UpdateMethod::ALL.len(),
            1..=28i32,
            0..10_000u32
        )
            .prop_map(|(d, m, e, t)| Step::Agree(d, m, e, t)),
        (
            0..3usize,
            0..PromiseEntryKind::ALL.len(),
            0..10_000u32,
            proptest::option::of(0..8usize),
            any::<bool>()
        )
            .prop_map(|(d, k, t, c, w)| Step::Entry(d, k, t, c, w)),
        (0..3usize, 0..3usize).prop_map(|(a, b)| Step::Sync(a, b)),
    ]
}

fn minutes_after_call(minutes: u32) -> String {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-02T10:00:00Z").unwrap()
        + chrono::TimeDelta::minutes(i64::from(minutes));
    at.to_rfc3339()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_concurrent_history_produces_a_value_nobody_entered(
        steps in proptest::collection::vec(step(), 1..40)
    ) {
        let mut base = new_record();
        let mut devices: Vec<RecordDoc> = (1..=3).map(|n| base.fork(actor(n))).collect();
        let mut offences: BTreeSet<&str> = BTreeSet::new();
        let mut agreements: BTreeSet<(String, i32, String)> = BTreeSet::new();
        let mut entries: Vec<PromiseEntry> = Vec::new();
        for step in steps {
            match step {
                Step::Offence(d, o) => {
                    let offence = OffenceCategory::ALL[o];
                    devices[d].set_offence(offence).unwrap();
                    offences.insert(offence.as_str());
                }
                Step::Agree(d, m, every_days, t) => {
                    let updates = UpdateAgreement { method: UpdateMethod::ALL[m], every_days };
                    let at = minutes_after_call(t);
                    devices[d].agree_updates_at(&updates, &at).unwrap();
                    agreements.insert((updates.method.as_str().into(), every_days, at));
                }
                Step::Entry(d, k, t, corrects, withdrawn) => {
                    let known = devices[d].body().unwrap().scene().unwrap().promise_entries.clone();
                    let target = corrects.and_then(|i| known.get(i));
                    let mut e = entry(
                        target.map_or(PromiseEntryKind::ALL[k], |t| t.kind),
                        "PC1",
                        &minutes_after_call(t),
                    );
                    e.corrects = target.map(|t| t.id.clone());
                    e.withdrawn = withdrawn && target.is_some();
                    e.id = devices[d].add_promise_entry(&e).unwrap();
                    entries.push(e);
                }
                Step::Sync(a, b) if a != b => {
                    let mut other = devices[b].fork(actor(40));
                    devices[a].merge(&mut other).unwrap();
                }
                Step::Sync(..) => {}
            }
        }
        let mut all = base.fork(actor(50));
        for device in devices.iter_mut() {
            all.merge(device).unwrap();
        }
        for device in devices.iter_mut() {
            let mut copy = all.fork(actor(60));
            device.merge(&mut copy).unwrap();
        }
        all.check_schema().unwrap();
        all.validate().unwrap();
        let merged = all.record().unwrap();
        // The one walk reads what the two reads read, conflicts included.
        prop_assert_eq!(&all.checked_record_in_one_walk().unwrap(), &merged);
        for device in &devices {
            prop_assert_eq!(&device.record().unwrap(), &merged, "every replica converges");
        }
        let scene = merged.body.scene().unwrap();
        // The offence: one that was entered, or none if nobody entered one.
        match scene.offence {
            None => prop_assert!(offences.is_empty()),
            Some(o) => prop_assert!(offences.contains(o.as_str())),
        }
        // The agreement and its time: one whole agreement as entered.
        match (&scene.updates, &scene.updates_agreed_at) {
            (None, None) => prop_assert!(agreements.is_empty()),
            (Some(u), Some(at)) => prop_assert!(agreements.contains(&(
                u.method.as_str().to_string(),
                u.every_days,
                at.as_str().to_string()
            ))),
            other => prop_assert!(false, "an agreement without its time: {other:?}"),
        }
        // The entries: exactly every entry entered, each verbatim.
        let mut read = scene.promise_entries.clone();
        read.sort_by(|a, b| a.id.cmp(&b.id));
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        prop_assert_eq!(read, entries);
    }
}
