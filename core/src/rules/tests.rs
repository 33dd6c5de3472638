//! The edit rule, case by case.

use super::*;
use crate::model::*;

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

const AUTHOR: &str = "PC1";
const COLLEAGUE: &str = "PC2";

fn officer(n: &str) -> Officer {
    Officer {
        shoulder_number: n.into(),
        name: "Name".into(),
        station: "Lewisham".into(),
    }
}

fn record(body: RecordBody) -> Record {
    Record {
        header: RecordHeader {
            id: "r1".into(),
            kind: body.kind(),
            reference: "REF".into(),
            created_at: ts("2026-11-28T10:00:00Z"),
            author: officer(AUTHOR),
        },
        derived: body.derived(),
        body,
    }
}

fn location() -> Location {
    Location {
        latitude: None,
        longitude: None,
        street: "High Street".into(),
    }
}

fn scene_record() -> Record {
    let mut scene = SceneAttendance::from_input(SceneInput {
        reasons: vec![AttendanceReason::CrimeInProgress],
        grade: ResponseGrade::Emergency,
        call_received: ts("2026-11-28T10:00:00Z"),
        appointment: None,
        arrived: None,
        left: None,
        location: location(),
        notes: String::new(),
    });
    scene.actions.push(action("a1", AUTHOR));
    scene.checklist.push(tick("t1", AUTHOR));
    scene.notes.push(note("n1", AUTHOR, None));
    scene.attending.push(COLLEAGUE.into());
    record(RecordBody::HomeBurglary { scene })
}

fn search_record(receipt: Option<Receipt>) -> Record {
    record(RecordBody::StopSearch {
        search: StopSearch {
            search_type: SearchType::Person,
            vehicle_registration: None,
            datetime: ts("2026-11-28T14:05:00Z"),
            location: location(),
            gender: None,
            age_range: None,
            self_defined_ethnicity: None,
            officer_defined_ethnicity: None,
            grounds: "Grounds".into(),
            object_of_search: ObjectOfSearch::ControlledDrugs,
            legislation: Legislation::MisuseOfDrugsSection23,
            operation_name: None,
            outcome: Outcome::NoFurtherAction,
            outcome_linked_to_object_of_search: None,
            removal_of_more_than_outer_clothing: false,
            conduct: Conduct::default(),
            receipt,
            notes: vec![note("n1", AUTHOR, None)],
        },
    })
}

fn action(id: &str, by: &str) -> SceneAction {
    SceneAction {
        id: id.into(),
        recorded_by: by.into(),
        recorded_at: ts("2026-11-28T10:10:00Z"),
        detail: ActionDetail::Note {
            text: "Text".into(),
        },
    }
}

fn tick(id: &str, by: &str) -> Tick {
    Tick {
        id: id.into(),
        item: ChecklistItem::WitnessesSought,
        outcome: TickOutcome::Done,
        reason: None,
        ticked_by: by.into(),
        ticked_at: ts("2026-11-28T10:20:00Z"),
    }
}

fn note(id: &str, by: &str, corrects: Option<&str>) -> NoteEntry {
    NoteEntry {
        id: id.into(),
        written_by: by.into(),
        written_at: Some(ts("2026-11-28T10:30:00Z")),
        text: "Text".into(),
        corrects: corrects.map(str::to_string),
        corrected_by: Vec::new(),
    }
}

fn scene_mut(r: &mut Record) -> &mut SceneAttendance {
    match &mut r.body {
        RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => scene,
        _ => unreachable!(),
    }
}

fn search_mut(r: &mut Record) -> &mut StopSearch {
    match &mut r.body {
        RecordBody::StopSearch { search } => search,
        _ => unreachable!(),
    }
}

fn refused(before: &Record, after: &Record, editor: &str) -> EditRefusal {
    check_edit(Some(before), after, editor).expect_err("should be refused")
}

#[test]
fn a_new_record_is_in_its_makers_name() {
    let r = scene_record();
    assert_eq!(check_edit(None, &r, AUTHOR), Ok(()));
    let e = check_edit(None, &r, COLLEAGUE).unwrap_err();
    assert_eq!(e.field, "header.author");
}

#[test]
fn the_header_never_changes() {
    let before = scene_record();
    let mut after = before.clone();
    after.header.created_at = ts("2026-11-27T10:00:00Z");
    assert_eq!(refused(&before, &after, AUTHOR).field, "header");
    let mut after = before.clone();
    after.header.author = officer(COLLEAGUE);
    assert_eq!(refused(&before, &after, COLLEAGUE).field, "header");
}

#[test]
fn new_entries_are_in_the_editors_name() {
    let before = scene_record();
    let mut after = before.clone();
    scene_mut(&mut after).actions.push(action("a2", COLLEAGUE));
    assert_eq!(check_edit(Some(&before), &after, COLLEAGUE), Ok(()));
    let e = refused(&before, &after, AUTHOR);
    assert_eq!(
        (e.field.as_str(), e.entry_id.as_deref()),
        ("actions", Some("a2"))
    );

    let mut after = before.clone();
    scene_mut(&mut after).notes.push(note("n2", AUTHOR, None));
    assert_eq!(refused(&before, &after, COLLEAGUE).field, "notes");
    assert_eq!(check_edit(Some(&before), &after, AUTHOR), Ok(()));

    let mut after = before.clone();
    scene_mut(&mut after).checklist.push(tick("t2", AUTHOR));
    assert_eq!(refused(&before, &after, COLLEAGUE).field, "checklist");
}

#[test]
fn no_entry_is_removed_by_anyone() {
    let before = scene_record();
    for (field, edit) in [
        (
            "actions",
            (|s: &mut SceneAttendance| s.actions.clear()) as fn(&mut _),
        ),
        ("notes", |s| s.notes.clear()),
        ("checklist", |s| s.checklist.clear()),
        ("attending", |s| s.attending.clear()),
    ] {
        let mut after = before.clone();
        edit(scene_mut(&mut after));
        for editor in [AUTHOR, COLLEAGUE] {
            assert_eq!(refused(&before, &after, editor).field, field);
        }
    }
}

#[test]
fn no_entry_is_altered_by_anyone_even_its_writer() {
    let before = scene_record();
    let mut after = before.clone();
    scene_mut(&mut after).notes[0].text = "Rewritten".into();
    let e = refused(&before, &after, AUTHOR);
    assert_eq!(
        (e.field.as_str(), e.entry_id.as_deref()),
        ("notes", Some("n1"))
    );
    assert!(
        !e.message.contains("Rewritten"),
        "no content: {}",
        e.message
    );

    let mut after = before.clone();
    scene_mut(&mut after).actions[0].recorded_at = ts("2026-11-28T09:00:00Z");
    assert_eq!(refused(&before, &after, AUTHOR).field, "actions");

    let mut after = before.clone();
    scene_mut(&mut after).checklist[0].outcome = TickOutcome::NotApplicable;
    assert_eq!(refused(&before, &after, AUTHOR).field, "checklist");
}

#[test]
fn corrections_and_later_ticks_are_new_entries() {
    let before = scene_record();
    let mut after = before.clone();
    let scene = scene_mut(&mut after);
    scene.notes.push(note("n2", COLLEAGUE, Some("n1")));
    scene.notes[0].corrected_by = vec!["n2".into()];
    scene.checklist.push(tick("t2", COLLEAGUE));
    assert_eq!(check_edit(Some(&before), &after, COLLEAGUE), Ok(()));
}

#[test]
fn the_fields_a_scene_opens_with_never_change() {
    let before = scene_record();
    let mut after = before.clone();
    scene_mut(&mut after).call_received = ts("2026-11-28T10:30:00Z");
    assert_eq!(refused(&before, &after, AUTHOR).field, "call_received");
    let mut after = before.clone();
    scene_mut(&mut after).arrived = Some(ts("2026-11-28T10:05:00Z"));
    assert_eq!(check_edit(Some(&before), &after, COLLEAGUE), Ok(()));
}

#[test]
fn an_encounter_is_frozen_once_its_receipt_is_recorded() {
    let given = Receipt::Given {
        medium: ReceiptMedium::Printed,
        given_at: ts("2026-11-28T14:10:00Z"),
    };
    let not_given = Receipt::NotGiven {
        reason: "Reason".into(),
        recorded_at: ts("2026-11-28T14:10:00Z"),
    };
    // Before a receipt, the author may still change the encounter.
    let before = search_record(None);
    let mut after = before.clone();
    search_mut(&mut after).datetime = ts("2026-11-28T13:05:00Z");
    assert_eq!(check_edit(Some(&before), &after, AUTHOR), Ok(()));
    assert_eq!(refused(&before, &after, COLLEAGUE).field, "encounter");

    for receipt in [given.clone(), not_given.clone()] {
        let before = search_record(Some(receipt));
        let mut after = before.clone();
        search_mut(&mut after).datetime = ts("2025-11-28T14:05:00Z");
        assert_eq!(refused(&before, &after, AUTHOR).field, "encounter");
        // The notebook stays open.
        let mut after = before.clone();
        search_mut(&mut after).notes.push(note("n2", AUTHOR, None));
        assert_eq!(check_edit(Some(&before), &after, AUTHOR), Ok(()));
    }

    let before = search_record(Some(given.clone()));
    let mut after = before.clone();
    search_mut(&mut after).receipt = Some(not_given.clone());
    assert_eq!(refused(&before, &after, AUTHOR).field, "receipt");
    search_mut(&mut after).receipt = None;
    assert_eq!(refused(&before, &after, AUTHOR).field, "receipt");

    let before = search_record(Some(not_given.clone()));
    let mut after = before.clone();
    search_mut(&mut after).receipt = Some(given);
    assert_eq!(check_edit(Some(&before), &after, AUTHOR), Ok(()));
    search_mut(&mut after).receipt = None;
    assert_eq!(refused(&before, &after, AUTHOR).field, "receipt");
}

mod appended_actions {
    //! [`writes::check_appended_with`] gives [`check_write`]'s answer
    //! on every write that appends scene actions: by the author, a
    //! colleague attending, another officer, a supervisor or staff of
    //! the station; new actions in the writer's or another's name, with
    //! ids new or already held (same content or not); and records whose
    //! lists already hold an id twice.

    use proptest::prelude::*;

    use super::*;
    use crate::rules::scope::{Actor, RecordScope, Role};

    /// An entry id from a small pool, so ids repeat now and then.
    fn id() -> impl Strategy<Value = String> {
        (0..6u8).prop_map(|n| format!("e{n}"))
    }

    fn by() -> impl Strategy<Value = String> {
        prop_oneof![3 => Just(AUTHOR.to_string()), 1 => Just(COLLEAGUE.to_string()), 1 => Just("PC9".to_string())]
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![Just("Text".to_string()), Just("Other".to_string())]
    }

    fn an_action() -> impl Strategy<Value = SceneAction> {
        (id(), by(), text()).prop_map(|(id, by, text)| SceneAction {
            detail: ActionDetail::Note { text },
            ..action(&id, &by)
        })
    }

    fn role() -> impl Strategy<Value = Role> {
        prop_oneof![
            Just(Role::Officer),
            Just(Role::Supervisor),
            Just(Role::Staff),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_answer_is_check_writes(
            held in proptest::collection::vec(an_action(), 0..5),
            added in proptest::collection::vec(an_action(), 0..4),
            ticks in proptest::collection::vec((id(), by()), 0..3),
            notes in proptest::collection::vec((id(), by(), text()), 0..3),
            writer in by(),
            role in role(),
            station in prop_oneof![Just("Lewisham"), Just("Brixton")],
        ) {
            let mut before = scene_record();
            let scene = scene_mut(&mut before);
            scene.actions = held;
            scene.checklist = ticks.iter().map(|(id, by)| tick(id, by)).collect();
            scene.notes = notes
                .iter()
                .map(|(id, by, text)| NoteEntry { text: text.clone(), ..note(id, by, None) })
                .collect();
            let mut after = before.clone();
            scene_mut(&mut after).actions.extend(added.iter().cloned());
            let actor = Actor { shoulder_number: &writer, role, station };
            let readers = [COLLEAGUE.to_string()];
            let scope = RecordScope { author: AUTHOR, station: "Lewisham", readers: &readers };
            prop_assert_eq!(
                writes::check_appended_with(actor, scope, &after, added.len(), &mut None),
                check_write(actor, scope, &before, &after)
            );
        }

        /// As the device store checks a run of appends: the index of
        /// what the rule read kept from one accepted append to the next
        /// (`writes::AppendIndex`), dropped after a refusal.
        #[test]
        fn the_answer_is_check_writes_along_a_run_of_appends(
            held in proptest::collection::vec(an_action(), 0..4),
            appends in proptest::collection::vec(
                proptest::collection::vec(an_action(), 0..3), 1..6),
            writer in by(),
            role in role(),
        ) {
            let mut before = scene_record();
            scene_mut(&mut before).actions = held;
            let actor = Actor { shoulder_number: &writer, role, station: "Lewisham" };
            let readers = [COLLEAGUE.to_string()];
            let scope = RecordScope { author: AUTHOR, station: "Lewisham", readers: &readers };
            let mut index = None;
            for added in appends {
                let mut after = before.clone();
                scene_mut(&mut after).actions.extend(added.iter().cloned());
                let answer =
                    writes::check_appended_with(actor, scope, &after, added.len(), &mut index);
                prop_assert_eq!(&answer, &check_write(actor, scope, &before, &after));
                if answer.is_ok() {
                    if let Some(index) = &index {
                        prop_assert_eq!(index, &writes::AppendIndex::of(&after, after_len(&after)));
                    }
                    before = after;
                }
            }
        }
    }

    fn after_len(record: &Record) -> usize {
        record.body.scene().map_or(0, |s| s.actions.len())
    }
}
