//! Scene attendance and home burglary through the public API: the
//! response target derived from grade and times, times in order, scene
//! actions, ticks and the update agreement, and the burglary checklist's
//! items left open on leaving (`docs/domain/`).

use pocketbook_core::model::*;

use crate::records::invalid_message;
use crate::support::*;

#[test]
fn scene_target_is_derived_from_grade_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC103");
    let cases = [
        (
            ResponseGrade::Emergency,
            day_time(0, 10, 11, 59),
            TargetStatus::Met,
        ),
        (
            ResponseGrade::Emergency,
            day_time(0, 10, 12, 1),
            TargetStatus::Missed,
        ),
        (ResponseGrade::Priority, at(11, 0), TargetStatus::Met),
        (
            ResponseGrade::Priority,
            day_time(0, 11, 0, 1),
            TargetStatus::Missed,
        ),
    ];
    for (grade, arrived, expected) in cases {
        let id = nb.create_scene(scene(grade)).unwrap().header.id;
        assert_eq!(
            nb.get(id.clone()).unwrap().derived.target_status,
            Some(TargetStatus::Pending)
        );
        nb.record_arrival(id.clone(), arrived.clone()).unwrap();
        assert_eq!(
            nb.get(id).unwrap().derived.target_status,
            Some(expected),
            "{grade:?} {arrived}"
        );
    }
    let mut scheduled = scene(ResponseGrade::Scheduled);
    assert!(invalid_message(nb.create_scene(scheduled.clone())).contains("appointment: required"));
    scheduled.appointment = Some(day_time(7, 10, 0, 0));
    assert!(invalid_message(nb.create_scene(scheduled.clone())).contains("within 48 hours"));
    scheduled.appointment = Some(day_time(1, 9, 0, 0));
    scheduled.arrived = Some(day_time(1, 8, 55, 0));
    let record = nb.create_scene(scheduled).unwrap();
    assert_eq!(record.derived.target_status, Some(TargetStatus::Met));
    let not_attended = nb.create_scene(scene(ResponseGrade::NotAttended)).unwrap();
    assert_eq!(
        not_attended.derived.target_status,
        Some(TargetStatus::NotApplicable)
    );
}

#[test]
fn scene_times_must_be_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC103");
    let id = nb
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    assert!(
        invalid_message(nb.record_departure(id.clone(), at(10, 30)))
            .contains("left: cannot leave before arriving")
    );
    assert!(
        invalid_message(nb.record_arrival(id.clone(), at(9, 0)))
            .contains("arrived: earlier than the call")
    );
    nb.record_arrival(id.clone(), at(10, 5)).unwrap();
    assert!(
        invalid_message(nb.record_departure(id.clone(), at(10, 4)))
            .contains("left: earlier than arrival")
    );
    let mut no_reason = scene(ResponseGrade::Emergency);
    no_reason.reasons.clear();
    assert!(invalid_message(nb.create_scene(no_reason)).contains("reasons"));
}

#[test]
fn scene_actions_and_promises() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC104");
    let id = nb
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    let evidence = ActionDetail::EvidenceCollected {
        what: "Crowbar".into(),
        where_found: "Rear garden".into(),
        exhibit_number: "JS/1".into(),
    };
    let action_id = nb.add_scene_action(id.clone(), evidence.clone()).unwrap();
    nb.add_scene_action(
        id.clone(),
        ActionDetail::Witness {
            found: true,
            contact_details: "Flat 2, via front desk".into(),
        },
    )
    .unwrap();
    let message = invalid_message(nb.add_scene_action(
        id.clone(),
        ActionDetail::EvidenceCollected {
            what: String::new(),
            where_found: "Kitchen".into(),
            exhibit_number: String::new(),
        },
    ));
    assert!(message.contains("action.what") && message.contains("action.exhibit_number"));
    nb.tick(
        id.clone(),
        ChecklistItem::IntroducedThemselves,
        TickOutcome::Done,
        None,
    )
    .unwrap();
    assert!(
        invalid_message(nb.tick(
            id.clone(),
            ChecklistItem::VictimSupportReferral,
            TickOutcome::NotDone,
            None
        ))
        .contains("reason: required when an item is not done")
    );
    assert!(
        invalid_message(nb.tick(
            id.clone(),
            ChecklistItem::ForensicExaminationArranged,
            TickOutcome::Done,
            None
        ))
        .contains("not an item of a scene-attendance record")
    );
    nb.agree_updates(
        id.clone(),
        UpdateAgreement {
            method: UpdateMethod::Phone,
            every_days: 14,
        },
    )
    .unwrap();
    assert!(
        invalid_message(nb.agree_updates(
            id.clone(),
            UpdateAgreement {
                method: UpdateMethod::Email,
                every_days: 29
            }
        ))
        .contains("updates.every_days")
    );
    let action_record = id.clone();
    let record = nb.get(id).unwrap();
    let RecordBody::SceneAttendance { scene } = record.body else {
        panic!()
    };
    assert_eq!(scene.actions.len(), 2);
    assert_eq!(scene.actions[0].id, action_id);
    assert_eq!(scene.actions[0].detail, evidence);
    assert_eq!(scene.actions[0].recorded_by, "PC104");
    assert_eq!(scene.checklist.len(), 1);
    assert_eq!(scene.checklist[0].ticked_by, "PC104");
    assert_eq!(scene.updates.unwrap().every_days, 14);
    assert_schema_true(&nb, &action_record);
}

#[test]
fn burglary_flags_before_leaving_items_left_open() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC105");
    let mut input = scene(ResponseGrade::Priority);
    input.arrived = Some(at(10, 30));
    let id = nb.create_burglary(input).unwrap().header.id;
    nb.tick(
        id.clone(),
        ChecklistItem::ReferenceNumberGiven,
        TickOutcome::Done,
        None,
    )
    .unwrap();
    nb.tick(
        id.clone(),
        ChecklistItem::InvestigationPhoneGiven,
        TickOutcome::NotDone,
        Some("Phone line down".into()),
    )
    .unwrap();
    assert!(
        nb.get(id.clone())
            .unwrap()
            .derived
            .open_on_leaving
            .is_empty()
    );
    nb.record_departure(id.clone(), at(11, 30)).unwrap();
    assert_schema_true(&nb, &id);
    let record = nb.get(id).unwrap();
    assert_eq!(
        record.derived.open_on_leaving,
        vec![
            ChecklistItem::InvestigationPhoneGiven,
            ChecklistItem::CrimePreventionAdviceGiven
        ]
    );
    assert_eq!(record.derived.status, RecordStatus::Complete);
}
