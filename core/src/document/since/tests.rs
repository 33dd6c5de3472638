//! [`RecordDoc::record_since`] is the whole read: a property test over
//! random histories of the edits a device makes on every record kind, with
//! concurrent devices merged in, checks it against
//! [`RecordDoc::record_in_one_walk`] after every step (each step's record
//! the "before" of the next, as the store keeps it); and unit tests show
//! which changes take the short way and which fall back.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT};
use proptest::prelude::*;

use super::*;
use crate::model::{
    ActionDetail, ChecklistItem, Location, OffenceCategory, Officer, PromiseEntryKind,
    ReceiptMedium, RecordHeader, RecordKind, SceneAttendance, SceneInput, StopAccount, TickOutcome,
    Timestamp, UpdateAgreement, UpdateMethod,
};

fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 16])
}

fn at(minutes: u32) -> String {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-02T10:00:00Z").unwrap()
        + chrono::TimeDelta::minutes(i64::from(minutes));
    at.to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn header(kind: RecordKind) -> RecordHeader {
    RecordHeader {
        id: "0190a0a0-0000-7000-8000-000000000002".into(),
        kind,
        reference: "REF".into(),
        created_at: Timestamp::parse("2026-11-02T10:01:00Z").unwrap(),
        author: Officer {
            shoulder_number: "PC1".into(),
            name: "Name".into(),
            station: "Lewisham".into(),
        },
    }
}

/// A new record of each kind (0-3), or (4) a burglary saved before
/// promise entries existed (`core/src/document/testdata/`), or (5) a
/// schema-v1 burglary (notes text, checklist map, no entry lists).
fn record_of(kind: usize) -> RecordDoc {
    let scene = || {
        let input: SceneInput = serde_json::from_value(serde_json::json!({
            "reasons": ["crime in progress"],
            "grade": "priority",
            "call_received": "2026-11-02T10:00:00Z",
            "location": { "street": "12 Acacia Avenue" },
            "notes": "First note"
        }))
        .unwrap();
        SceneAttendance::from_input(input)
    };
    let (kind, body) = match kind {
        0 => (
            RecordKind::SceneAttendance,
            RecordBody::SceneAttendance { scene: scene() },
        ),
        1 => (
            RecordKind::HomeBurglary,
            RecordBody::HomeBurglary { scene: scene() },
        ),
        2 => {
            use crate::model::*;
            let search = StopSearch {
                search_type: SearchType::Person,
                vehicle_registration: None,
                datetime: Timestamp::parse("2026-11-02T10:00:00Z").unwrap(),
                location: Location {
                    latitude: None,
                    longitude: None,
                    street: "High Street".into(),
                },
                gender: None,
                age_range: None,
                self_defined_ethnicity: None,
                officer_defined_ethnicity: None,
                grounds: "Seen passing small packages".into(),
                object_of_search: ObjectOfSearch::ControlledDrugs,
                legislation: Legislation::MisuseOfDrugsSection23,
                operation_name: None,
                outcome: Outcome::NoFurtherAction,
                outcome_linked_to_object_of_search: None,
                removal_of_more_than_outer_clothing: false,
                conduct: Conduct {
                    grounds_explained: true,
                    object_told: true,
                    warrant_card_shown: None,
                    identity_given: true,
                    station_given: true,
                    entitlement_to_copy_told: true,
                    legal_power_explained: true,
                    told_detained_for_search: true,
                    treated_with_respect: true,
                },
                receipt: None,
                notes: vec![crate::model::NoteEntry::initial("First note")],
            };
            (RecordKind::StopSearch, RecordBody::StopSearch { search })
        }
        3 => (
            RecordKind::StopAccount,
            RecordBody::StopAccount {
                account: StopAccount {
                    datetime: Timestamp::parse("2026-11-02T10:00:00Z").unwrap(),
                    location: Location {
                        latitude: None,
                        longitude: None,
                        street: "High Street".into(),
                    },
                    self_defined_ethnicity: None,
                    asked_about: "Presence near a reported break-in".into(),
                    receipt: None,
                    notes: Vec::new(),
                },
            },
        ),
        4 => {
            let bytes = include_bytes!("../testdata/burglary-v2-before-promises.automerge");
            return RecordDoc::load(bytes, actor(9)).unwrap();
        }
        _ => return v1_burglary(),
    };
    RecordDoc::create(header(kind), &body, actor(9)).unwrap()
}

/// A home burglary as schema-1 code wrote it: notes as Automerge text, the
/// checklist a map keyed by item, no entry lists and no attending map.
fn v1_burglary() -> RecordDoc {
    let mut doc = AutoCommit::new().with_actor(actor(9));
    doc.put(ROOT, "schema", "pocketbook.record").unwrap();
    doc.put(ROOT, "schema_version", 1u64).unwrap();
    let header = doc.put_object(ROOT, "header", ObjType::Map).unwrap();
    doc.put(&header, "id", "0190a0a0-0000-7000-8000-000000000003")
        .unwrap();
    doc.put(&header, "kind", "home-burglary").unwrap();
    doc.put(&header, "reference", "REF").unwrap();
    doc.put(&header, "created_at", "2026-11-02T10:00:00.000Z")
        .unwrap();
    let officer = doc.put_object(&header, "author", ObjType::Map).unwrap();
    doc.put(&officer, "shoulder_number", "PC1").unwrap();
    doc.put(&officer, "name", "Name").unwrap();
    doc.put(&officer, "station", "Lewisham").unwrap();
    let body = doc.put_object(ROOT, "body", ObjType::Map).unwrap();
    let variant = doc.put_object(&body, "HomeBurglary", ObjType::Map).unwrap();
    let scene = doc.put_object(&variant, "scene", ObjType::Map).unwrap();
    let reasons = doc.put_object(&scene, "reasons", ObjType::List).unwrap();
    doc.insert(&reasons, 0, "crime in progress").unwrap();
    doc.put(&scene, "grade", "emergency").unwrap();
    doc.put(&scene, "call_received", "2026-11-02T10:00:00Z")
        .unwrap();
    doc.put(&scene, "appointment", ()).unwrap();
    doc.put(&scene, "arrived", "2026-11-02T10:08:00Z").unwrap();
    doc.put(&scene, "left", ()).unwrap();
    let location = doc.put_object(&scene, "location", ObjType::Map).unwrap();
    doc.put(&location, "latitude", 51.46).unwrap();
    doc.put(&location, "longitude", -0.01).unwrap();
    doc.put(&location, "street", "Lewisham High Street")
        .unwrap();
    doc.put_object(&scene, "actions", ObjType::List).unwrap();
    let checklist = doc.put_object(&scene, "checklist", ObjType::Map).unwrap();
    let tick = doc
        .put_object(&checklist, "witnesses sought", ObjType::Map)
        .unwrap();
    doc.put(&tick, "item", "witnesses sought").unwrap();
    doc.put(&tick, "outcome", "done").unwrap();
    doc.put(&tick, "reason", ()).unwrap();
    doc.put(&tick, "ticked_by", "PC1").unwrap();
    doc.put(&tick, "ticked_at", "2026-11-02T10:20:00.000Z")
        .unwrap();
    doc.put(&scene, "updates", ()).unwrap();
    let notes = doc.put_object(&scene, "notes", ObjType::Text).unwrap();
    doc.splice_text(&notes, 0, 0, "Rear door forced").unwrap();
    doc.commit();
    RecordDoc::load(&doc.save(), actor(9)).unwrap()
}

/// One edit a device makes (its fields pick values; an edit that does not
/// apply to the record's kind is refused and changes nothing).
#[derive(Debug, Clone)]
enum Edit {
    Action(u8, u32),
    Note(u32),
    CorrectNote(usize, u32),
    Tick(usize, usize, u32, Option<usize>),
    Attending(u8),
    Times(Option<u32>, Option<u32>),
    Offence(usize),
    Agree(usize, i32, u32),
    Promise(usize, u32, Option<usize>),
    Receipt(bool, u32),
}

/// One step of a history: device `d` edits, or device `a` merges `b`.
#[derive(Debug, Clone)]
enum Step {
    Edit(usize, Edit),
    Merge(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (0..5u8, 0..600u32).prop_map(|(v, t)| Edit::Action(v, t)),
        2 => (0..600u32).prop_map(Edit::Note),
        1 => (0..8usize, 0..600u32).prop_map(|(i, t)| Edit::CorrectNote(i, t)),
        2 => (
            0..ChecklistItem::ALL.len(),
            0..TickOutcome::ALL.len(),
            0..600u32,
            proptest::option::weighted(0.1, 0..4usize)
        )
            .prop_map(|(i, o, t, same)| Edit::Tick(i, o, t, same)),
        1 => (1..5u8).prop_map(Edit::Attending),
        1 => (
            proptest::option::of(0..600u32),
            proptest::option::of(0..600u32)
        )
            .prop_map(|(a, l)| Edit::Times(a, l)),
        1 => (0..OffenceCategory::ALL.len()).prop_map(Edit::Offence),
        1 => (0..UpdateMethod::ALL.len(), 1..=28i32, 0..600u32)
            .prop_map(|(m, e, t)| Edit::Agree(m, e, t)),
        1 => (
            0..PromiseEntryKind::ALL.len(),
            0..600u32,
            proptest::option::of(0..4usize)
        )
            .prop_map(|(k, t, c)| Edit::Promise(k, t, c)),
        1 => (any::<bool>(), 0..600u32).prop_map(|(g, t)| Edit::Receipt(g, t)),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..3usize, edit()).prop_map(|(d, e)| Step::Edit(d, e)),
        1 => (0..3usize, 0..3usize).prop_map(|(a, b)| Step::Merge(a, b)),
    ]
}

/// Makes `edit` on `doc` (whose record now is `record`); a refusal changes
/// nothing and is not the property's concern.
fn make(doc: &mut RecordDoc, record: &Record, edit: &Edit) {
    let by = "PC1";
    let refused: Result<(), DocumentError> = match edit {
        Edit::Action(variant, t) => {
            let detail = match variant {
                0 => ActionDetail::Note {
                    text: format!("Spoke to neighbour {t}"),
                },
                1 => ActionDetail::Search {
                    area: "Garden".into(),
                    victim_pointed_out_suspect: t % 2 == 0,
                },
                2 => ActionDetail::Witness {
                    found: false,
                    contact_details: String::new(),
                },
                3 => ActionDetail::SuspectDescription {
                    description: "Grey hoodie".into(),
                    circulated: true,
                },
                _ => ActionDetail::EvidenceCollected {
                    what: "Glove".into(),
                    where_found: "Path".into(),
                    exhibit_number: format!("EX{t}"),
                },
            };
            doc.add_action(detail, by, &at(*t)).map(drop)
        }
        Edit::Note(t) => doc.add_note(&format!("Entry {t}"), by, &at(*t)).map(drop),
        Edit::CorrectNote(i, t) => match record.body.notes().get(*i) {
            Some(n) => doc
                .correct_note(&n.id.clone(), &format!("Fixed {t}"), by, &at(*t))
                .map(drop),
            None => Ok(()),
        },
        Edit::Tick(i, o, t, same) => {
            let outcome = TickOutcome::ALL[*o];
            // Now and then the id of a tick already there (a device
            // writing a tick twice): the read keeps the first.
            let id = same
                .and_then(|s| record.body.scene().and_then(|sc| sc.checklist.get(s)))
                .map(|tick| tick.id.clone())
                .unwrap_or_default();
            doc.tick(&Tick {
                id,
                item: ChecklistItem::ALL[*i],
                outcome,
                reason: (outcome == TickOutcome::NotDone).then(|| "No light".into()),
                ticked_by: by.into(),
                ticked_at: Timestamp::parse(&at(*t)).unwrap(),
            })
            .map(drop)
        }
        Edit::Attending(n) => doc.add_attending(&format!("PC{n}")).map(drop),
        Edit::Times(a, l) => {
            let (a, l) = (a.map(at), l.map(at));
            doc.set_times(a.as_deref(), l.as_deref())
        }
        Edit::Offence(o) => doc.set_offence(OffenceCategory::ALL[*o]),
        Edit::Agree(m, every_days, t) => doc.agree_updates_at(
            &UpdateAgreement {
                method: UpdateMethod::ALL[*m],
                every_days: *every_days,
            },
            &at(*t),
        ),
        Edit::Promise(k, t, corrects) => {
            let kind = PromiseEntryKind::ALL[*k];
            let corrects = corrects.and_then(|c| {
                record
                    .body
                    .scene()
                    .and_then(|s| s.promise_entries.get(c))
                    .map(|e| e.id.clone())
            });
            doc.add_promise_entry(&PromiseEntry {
                id: String::new(),
                kind,
                made_by: by.into(),
                made_at: Timestamp::parse(&at(*t)).unwrap(),
                corrects,
                withdrawn: false,
            })
            .map(drop)
        }
        Edit::Receipt(given, t) => doc.set_receipt(&if *given {
            Receipt::Given {
                medium: ReceiptMedium::ALL[0],
                given_at: Timestamp::parse(&at(*t)).unwrap(),
            }
        } else {
            Receipt::NotGiven {
                reason: "Called away".into(),
                recorded_at: Timestamp::parse(&at(*t)).unwrap(),
            }
        }),
    };
    drop(refused);
}

/// A device's copy with the record last read from it, and the heads it was
/// read at: what the store's memo keeps.
struct Device {
    doc: RecordDoc,
    record: Record,
    heads: Vec<ChangeHash>,
}

impl Device {
    /// After a local edit: the record and change the store takes from
    /// [`RecordDoc::record_after_local_edit`] are the whole read and the
    /// last local change; then [`Device::read`].
    fn read_local(&mut self) -> Result<(), TestCaseError> {
        let whole = self.doc.record_in_one_walk();
        let local = self
            .doc
            .record_after_local_edit(self.record.clone(), &self.heads);
        match (whole, local) {
            (Ok(whole), Ok((edited, change))) => {
                prop_assert_eq!(edited.after(), &whole);
                match edited {
                    Edited::Whole { before, .. } => prop_assert_eq!(&before, &self.record),
                    Edited::ActionsAppended { record, added } => {
                        let actions = &record.body.scene().unwrap().actions;
                        let mut before = record.clone();
                        if let RecordBody::SceneAttendance { scene }
                        | RecordBody::HomeBurglary { scene } = &mut before.body
                        {
                            scene.actions.truncate(actions.len() - added);
                        }
                        before.derived = before.body.derived();
                        before.derived.conflicts = record.derived.conflicts.clone();
                        prop_assert!(added > 0);
                        prop_assert_eq!(&before, &self.record);
                    }
                }
                let last = self.doc.last_local_change();
                if self.doc.heads() == self.heads {
                    // A refused edit: no change of its own was made now.
                } else {
                    prop_assert_eq!(change, last);
                }
            }
            (whole, local) => prop_assert_eq!(whole.is_err(), local.is_err()),
        }
        self.read()
    }

    /// Reads the record since the last read and checks it against the
    /// whole read; the result is the next step's "before".
    fn read(&mut self) -> Result<(), TestCaseError> {
        let whole = self.doc.record_in_one_walk();
        let short = self.doc.read_since(&self.record, &self.heads);
        let since = self.doc.record_since(&self.record, &self.heads);
        match (whole, since) {
            (Ok(whole), Ok(since)) => {
                prop_assert_eq!(&since, &whole);
                if let Some(short) = short {
                    prop_assert_eq!(&short, &whole);
                }
                self.record = since;
                self.heads = self.doc.heads();
            }
            (whole, since) => prop_assert_eq!(whole.is_err(), since.is_err()),
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn the_record_since_its_heads_is_the_whole_read(
        kind in 0..6usize,
        steps in proptest::collection::vec(step(), 1..40),
    ) {
        let mut base = record_of(kind);
        let mut devices: Vec<Device> = (1..=3)
            .map(|n| {
                let mut doc = base.fork(actor(n));
                let record = doc.record_in_one_walk().unwrap();
                let heads = doc.heads();
                Device { doc, record, heads }
            })
            .collect();
        for step in steps {
            match step {
                Step::Edit(d, edit) => {
                    let device = &mut devices[d];
                    make(&mut device.doc, &device.record, &edit);
                    device.read_local()?;
                }
                Step::Merge(a, b) if a != b => {
                    let mut other = devices[b].doc.fork(actor(99));
                    devices[a].doc.merge(&mut other).unwrap();
                    devices[a].read()?;
                }
                Step::Merge(..) => {}
            }
        }
    }
}

#[test]
fn most_reads_of_the_property_take_the_short_way() {
    // Runs the property's edits without merges on a new scene record: every
    // edit the store makes there is read in part.
    let mut device = {
        let mut doc = record_of(1);
        let record = doc.record_in_one_walk().unwrap();
        let heads = doc.heads();
        Device { doc, record, heads }
    };
    let edits = [
        Edit::Action(0, 5),
        Edit::Action(4, 6),
        Edit::Note(7),
        Edit::CorrectNote(0, 8),
        Edit::Tick(0, 0, 9, None),
        Edit::Attending(2),
        Edit::Times(Some(10), None),
        Edit::Offence(1),
        Edit::Agree(0, 14, 11),
        Edit::Promise(0, 12, None),
        Edit::Promise(0, 13, Some(0)),
        Edit::Times(None, Some(20)),
    ];
    for edit in &edits {
        let record = device.record.clone();
        let heads = device.heads.clone();
        make(&mut device.doc, &record, edit);
        assert_ne!(device.doc.heads(), heads, "{edit:?} changed the record");
        let short = device.doc.read_since(&record, &heads);
        assert!(short.is_some(), "{edit:?} took the long way");
        device.read().unwrap();
    }
}

#[test]
fn what_the_short_way_does_not_read_is_read_whole() {
    let mut doc = record_of(0);
    let before = doc.record_in_one_walk().unwrap();
    let heads = doc.heads();

    // A header change: read whole (and equal).
    let mut raw = doc.doc.fork().with_actor(actor(5));
    let header = match raw.get(ROOT, "header").unwrap() {
        Some((_, id)) => id,
        None => unreachable!(),
    };
    raw.put(&header, "reference", "OTHER").unwrap();
    raw.commit();
    let mut changed = RecordDoc::load(&raw.save(), actor(5)).unwrap();
    assert!(changed.read_since(&before, &heads).is_none());
    assert_eq!(
        changed.record_since(&before, &heads).unwrap(),
        changed.record_in_one_walk().unwrap()
    );

    // An entry deleted from a list (no device does this; a hostile one
    // might): read whole.
    doc.add_action(ActionDetail::Note { text: "One".into() }, "PC1", &at(3))
        .unwrap();
    let before = doc.record_in_one_walk().unwrap();
    let heads = doc.heads();
    let inner = doc.inner_obj().unwrap();
    let actions = match doc.doc.get(&inner, "actions").unwrap() {
        Some((_, id)) => id,
        None => unreachable!(),
    };
    doc.doc.delete(&actions, 0).unwrap();
    doc.doc.commit();
    assert!(doc.read_since(&before, &heads).is_none());
    let after = doc.record_since(&before, &heads).unwrap();
    assert!(after.body.scene().unwrap().actions.is_empty());

    // An existing entry overwritten in place: read whole.
    doc.add_action(ActionDetail::Note { text: "Two".into() }, "PC1", &at(4))
        .unwrap();
    let before = doc.record_in_one_walk().unwrap();
    let heads = doc.heads();
    let first = match doc.doc.get(&actions, 0).unwrap() {
        Some((_, id)) => id,
        None => unreachable!(),
    };
    doc.doc.put(&first, "recorded_by", "PC7").unwrap();
    doc.doc.commit();
    assert!(doc.read_since(&before, &heads).is_none());
    let after = doc.record_since(&before, &heads).unwrap();
    assert_eq!(after.body.scene().unwrap().actions[0].recorded_by, "PC7");
    assert_eq!(after, doc.record_in_one_walk().unwrap());

    // Heads this copy does not hold, or a record of another copy: whole.
    let before = doc.record_in_one_walk().unwrap();
    let mut other = record_of(1);
    let other_heads = other.heads();
    assert!(doc.read_since(&before, &other_heads).is_none());
    assert!(doc.read_since(&before, &[]).is_none());
    let theirs = other.record_in_one_walk().unwrap();
    let heads = doc.heads();
    assert!(doc.read_since(&theirs, &heads).is_none());
    assert_eq!(doc.record_since(&theirs, &heads).unwrap(), before);
}

#[test]
fn an_element_inserted_before_the_end_of_its_list_is_read_whole() {
    // Two devices append concurrently: merged, one device's action lands
    // before the other's, not at the end of what this copy held.
    let mut a = record_of(0);
    let mut b = a.fork(actor(2));
    let note = |t: &str| ActionDetail::Note { text: t.into() };
    a.add_action(note("a"), "PC1", &at(1)).unwrap();
    b.add_action(note("b"), "PC1", &at(1)).unwrap();
    let before = a.record_in_one_walk().unwrap();
    let heads = a.heads();
    a.merge(&mut b).unwrap();
    let actions = a.record_in_one_walk().unwrap();
    let ours_last = actions.body.scene().unwrap().actions.last().unwrap().detail == note("a");
    // Whichever way Automerge orders them, the answer is the whole read.
    assert_eq!(a.record_since(&before, &heads).unwrap(), actions);
    assert_eq!(a.read_since(&before, &heads).is_none(), ours_last);
}
