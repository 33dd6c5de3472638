//! The evaluation, promise by promise, with the bad inputs of issue 17:
//! clocks across British Summer Time, a bank holiday on a Monday, a
//! working-day clock past the table, and a device clock far off.

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::model::{
    ChecklistItem, OffenceCategory, PromiseEntry, RecordBody, SceneAttendance, SceneInput, Tick,
    TickOutcome, Timestamp, UpdateAgreement, UpdateMethod,
};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn scene(grade: &str, call: &str) -> SceneAttendance {
    let mut input = serde_json::json!({
        "reasons": ["crime in progress"],
        "grade": grade,
        "call_received": call,
        "location": { "street": "12 Acacia Avenue" }
    });
    if grade == "scheduled" {
        let appointment = utc(call) + TimeDelta::hours(30);
        input["appointment"] = serde_json::json!(appointment.to_rfc3339());
    }
    let input: SceneInput = serde_json::from_value(input).unwrap();
    SceneAttendance::from_input(input)
}

fn entry(id: &str, kind: PromiseEntryKind, at: &str) -> PromiseEntry {
    PromiseEntry {
        id: id.into(),
        kind,
        made_by: "PS1".into(),
        made_at: ts(at),
        corrects: None,
        withdrawn: false,
    }
}

fn of(scene: &SceneAttendance, now: &str) -> Vec<PromiseState> {
    evaluate(
        &RecordBody::SceneAttendance {
            scene: scene.clone(),
        },
        utc(now),
    )
}

fn only(states: &[PromiseState], id: PromiseId) -> &PromiseState {
    let found: Vec<&PromiseState> = states.iter().filter(|s| s.promise == id).collect();
    assert_eq!(found.len(), 1, "{id:?} in {states:?}");
    found[0]
}

const CALL: &str = "2026-11-02T10:00:00Z";

#[test]
fn emergency_is_due_then_due_soon_then_overdue_and_kept_by_an_arrival_in_time() {
    let s = scene("emergency", CALL);
    let status = |now: &str| only(&of(&s, now), PromiseId::EmergencyAttendance).status;
    assert_eq!(status("2026-11-02T10:00:00Z"), PromiseStatus::Due);
    assert_eq!(status("2026-11-02T10:08:59Z"), PromiseStatus::Due);
    assert_eq!(status("2026-11-02T10:09:00Z"), PromiseStatus::DueSoon);
    assert_eq!(status("2026-11-02T10:12:00Z"), PromiseStatus::DueSoon);
    assert_eq!(status("2026-11-02T10:12:01Z"), PromiseStatus::Overdue);
    let state = only(&of(&s, CALL), PromiseId::EmergencyAttendance).clone();
    assert_eq!(state.due_at, Some(utc("2026-11-02T10:12:00Z")));
    assert_eq!(state.due_soon_at, Some(utc("2026-11-02T10:09:00Z")));
    assert_eq!(state.clause, "P1");

    let mut on_time = s.clone();
    on_time.arrived = Some(ts("2026-11-02T10:12:00Z"));
    let mut late = s;
    late.arrived = Some(ts("2026-11-02T10:12:01Z"));
    // Kept and broken never depend on now, however far off the clock is.
    for now in ["1990-01-01T00:00:00Z", CALL, "2090-01-01T00:00:00Z"] {
        let kept = only(&of(&on_time, now), PromiseId::EmergencyAttendance).clone();
        assert_eq!(kept.status, PromiseStatus::Kept, "{now}");
        assert_eq!(kept.kept_at, Some(utc("2026-11-02T10:12:00Z")));
        let broken = only(&of(&late, now), PromiseId::EmergencyAttendance).status;
        assert_eq!(broken, PromiseStatus::Broken, "{now}");
    }
}

#[test]
fn a_device_clock_far_off_only_moves_open_promises_between_due_and_overdue() {
    let s = scene("priority", CALL);
    let at = |now| only(&of(&s, now), PromiseId::PriorityAttendance).clone();
    // Behind the record's own start: still due, with the same due time.
    assert_eq!(at("1990-01-01T00:00:00Z").status, PromiseStatus::Due);
    assert_eq!(at("2090-01-01T00:00:00Z").status, PromiseStatus::Overdue);
    assert_eq!(
        at("1990-01-01T00:00:00Z").due_at,
        at("2090-01-01T00:00:00Z").due_at
    );
}

#[test]
fn an_appointment_is_due_at_the_appointment() {
    let s = scene("scheduled", CALL);
    let state = only(&of(&s, CALL), PromiseId::AppointmentAttendance).clone();
    assert_eq!(state.due_at, Some(utc("2026-11-03T16:00:00Z")));
    assert_eq!(state.status, PromiseStatus::Due);
}

#[test]
fn a_serious_assault_is_kept_by_a_review_that_counts_after_corrections() {
    let mut s = scene("priority", CALL);
    assert!(
        of(&s, CALL)
            .iter()
            .all(|p| p.promise != PromiseId::SeriousAssaultReview)
    );
    s.offence = Some(OffenceCategory::SeriousAssault);
    let review = |s: &SceneAttendance| {
        only(
            &of(s, "2026-11-03T10:00:00Z"),
            PromiseId::SeriousAssaultReview,
        )
        .clone()
    };
    assert_eq!(review(&s).status, PromiseStatus::Overdue);
    assert_eq!(review(&s).due_at, Some(utc("2026-11-03T04:00:00Z")));

    s.promise_entries.push(entry(
        "e1",
        PromiseEntryKind::ReviewDone,
        "2026-11-02T20:00:00Z",
    ));
    assert_eq!(review(&s).status, PromiseStatus::Kept);
    // A contact is not a review.
    let mut contact_only = scene("priority", CALL);
    contact_only.offence = Some(OffenceCategory::SeriousAssault);
    contact_only.promise_entries.push(entry(
        "c1",
        PromiseEntryKind::ContactMade,
        "2026-11-02T20:00:00Z",
    ));
    assert_eq!(review(&contact_only).status, PromiseStatus::Overdue);

    // A correction moves the time: the corrected entry no longer counts.
    let mut corrected = s.clone();
    let mut fix = entry("e2", PromiseEntryKind::ReviewDone, "2026-11-03T05:00:00Z");
    fix.corrects = Some("e1".into());
    corrected.promise_entries.push(fix);
    assert_eq!(review(&corrected).status, PromiseStatus::Broken);
    assert_eq!(
        review(&corrected).kept_at,
        Some(utc("2026-11-03T05:00:00Z"))
    );

    // A withdrawal leaves nothing that counts.
    let mut withdrawn = s.clone();
    let mut undo = entry("e3", PromiseEntryKind::ReviewDone, "2026-11-02T21:00:00Z");
    undo.corrects = Some("e1".into());
    undo.withdrawn = true;
    withdrawn.promise_entries.push(undo);
    assert_eq!(review(&withdrawn).status, PromiseStatus::Overdue);
    assert_eq!(review(&withdrawn).kept_at, None);
}

#[test]
fn twenty_four_hours_across_the_start_of_summer_time_is_24_hours() {
    // Summer time began at 01:00 UTC on Sunday 29 March 2026.
    let mut s = scene("priority", "2026-03-28T12:00:00Z");
    s.offence = Some(OffenceCategory::DomesticViolence);
    let contact = only(
        &of(&s, "2026-03-28T12:00:00Z"),
        PromiseId::DomesticViolenceContact,
    )
    .clone();
    assert_eq!(contact.due_at, Some(utc("2026-03-29T12:00:00Z")));
    assert_eq!(contact.due_soon_at, Some(utc("2026-03-29T06:00:00Z")));
}

#[test]
fn victim_updates_restart_the_clock_at_each_update_across_the_end_of_summer_time() {
    // Agreed weekly at 10:00 BST on 20 October 2026; summer time ends on 25 October.
    let mut s = scene("priority", "2026-10-20T08:00:00Z");
    s.updates = Some(UpdateAgreement {
        method: UpdateMethod::Phone,
        every_days: 7,
    });
    s.updates_agreed_at = Some(ts("2026-10-20T09:00:00Z"));
    s.promise_entries.push(entry(
        "u1",
        PromiseEntryKind::VictimUpdated,
        "2026-10-25T12:00:00Z",
    ));
    s.promise_entries.push(entry(
        "u2",
        PromiseEntryKind::VictimUpdated,
        "2026-11-02T12:30:00Z",
    ));
    let states: Vec<PromiseState> = of(&s, "2026-11-05T00:00:00Z")
        .into_iter()
        .filter(|p| p.promise == PromiseId::VictimUpdate)
        .collect();
    let summary: Vec<(u32, PromiseStatus, Option<DateTime<Utc>>)> = states
        .iter()
        .map(|p| (p.occurrence, p.status, p.due_at))
        .collect();
    assert_eq!(
        summary,
        [
            // 10:00 BST on the 20th -> 10:00 GMT on the 27th: 7 days and an hour.
            (0, PromiseStatus::Kept, Some(utc("2026-10-27T10:00:00Z"))),
            // From the update at 12:00 GMT on the 25th: due 12:00 on 1 November.
            (1, PromiseStatus::Broken, Some(utc("2026-11-01T12:00:00Z"))),
            (2, PromiseStatus::Due, Some(utc("2026-11-09T12:30:00Z"))),
        ]
    );
    // An agreement recorded before its time was kept starts at the call.
    s.updates_agreed_at = None;
    s.promise_entries.clear();
    let first = of(&s, "2026-10-20T08:00:00Z")
        .into_iter()
        .find(|p| p.promise == PromiseId::VictimUpdate)
        .unwrap();
    assert_eq!(first.started_at, utc("2026-10-20T08:00:00Z"));
    assert_eq!(first.due_at, Some(utc("2026-10-27T09:00:00Z")));
    assert_eq!(first.due_soon_at, Some(utc("2026-10-26T09:00:00Z")));
}

#[test]
fn ten_working_days_skip_a_bank_holiday_monday() {
    // Thursday 21 May 2026, 10:00 BST; Monday 25 May is the spring bank holiday.
    let mut s = scene("priority", "2026-05-21T09:00:00Z");
    s.offence = Some(OffenceCategory::RoadTrafficCollision);
    let contact = only(
        &of(&s, "2026-05-21T09:00:00Z"),
        PromiseId::RoadTrafficCollisionContact,
    )
    .clone();
    assert_eq!(contact.due_at, Some(utc("2026-06-05T09:00:00Z")));
    // A quarter of fifteen days is capped at a day.
    assert_eq!(contact.due_soon_at, Some(utc("2026-06-04T09:00:00Z")));
    s.promise_entries.push(entry(
        "c1",
        PromiseEntryKind::ContactMade,
        "2026-06-05T09:00:00Z",
    ));
    let states = of(&s, "2026-07-01T00:00:00Z");
    let kept = only(&states, PromiseId::RoadTrafficCollisionContact);
    assert_eq!(kept.status, PromiseStatus::Kept);
}

#[test]
fn a_working_day_clock_past_the_table_is_unknown_not_a_guess() {
    let mut s = scene("priority", "2028-12-20T10:00:00Z");
    s.offence = Some(OffenceCategory::RoadTrafficCollision);
    s.promise_entries.push(entry(
        "c1",
        PromiseEntryKind::ContactMade,
        "2028-12-21T10:00:00Z",
    ));
    let states = of(&s, "2028-12-20T10:00:00Z");
    let contact = only(&states, PromiseId::RoadTrafficCollisionContact);
    assert_eq!(contact.status, PromiseStatus::Unknown);
    assert_eq!(contact.due_at, None);
    assert_eq!(contact.kept_at, Some(utc("2028-12-21T10:00:00Z")));
    // The other promises of the record still answer.
    assert_eq!(
        only(&states, PromiseId::PriorityAttendance).status,
        PromiseStatus::Due
    );
}

fn tick(item: ChecklistItem, outcome: TickOutcome, at: &str) -> Tick {
    Tick {
        id: format!("{}-{at}", item.as_str()),
        item,
        outcome,
        reason: (outcome == TickOutcome::NotDone).then(|| "Reason".into()),
        ticked_by: "PC1".into(),
        ticked_at: ts(at),
    }
}

#[test]
fn a_burgled_home_is_kept_by_three_ticks_before_leaving() {
    let burglary = |s: &SceneAttendance, now: &str| {
        evaluate(&RecordBody::HomeBurglary { scene: s.clone() }, utc(now))
            .into_iter()
            .find(|p| p.promise == PromiseId::BurglaryBeforeLeaving)
    };
    let mut s = scene("priority", CALL);
    s.arrived = Some(ts("2026-11-02T10:30:00Z"));
    let state = burglary(&s, CALL).unwrap();
    assert_eq!(
        (state.status, state.started_at, state.due_at),
        (PromiseStatus::Due, utc("2026-11-02T10:30:00Z"), None)
    );
    s.checklist.push(tick(
        ChecklistItem::ReferenceNumberGiven,
        TickOutcome::Done,
        "2026-11-02T10:40:00Z",
    ));
    s.checklist.push(tick(
        ChecklistItem::InvestigationPhoneGiven,
        TickOutcome::Done,
        "2026-11-02T10:41:00Z",
    ));
    let mut left_without = s.clone();
    left_without.left = Some(ts("2026-11-02T11:00:00Z"));
    let broken = burglary(&left_without, CALL).unwrap();
    assert_eq!(broken.status, PromiseStatus::Broken);
    assert_eq!(broken.due_at, Some(utc("2026-11-02T11:00:00Z")));

    s.checklist.push(tick(
        ChecklistItem::CrimePreventionAdviceGiven,
        TickOutcome::Done,
        "2026-11-02T10:42:00Z",
    ));
    assert_eq!(burglary(&s, CALL).unwrap().status, PromiseStatus::Kept);
    s.left = Some(ts("2026-11-02T11:00:00Z"));
    let kept = burglary(&s, CALL).unwrap();
    assert_eq!(kept.status, PromiseStatus::Kept);
    assert_eq!(kept.kept_at, Some(utc("2026-11-02T10:42:00Z")));
    // A later "not done" of one item is the tick that counts.
    s.checklist.push(tick(
        ChecklistItem::CrimePreventionAdviceGiven,
        TickOutcome::NotDone,
        "2026-11-02T10:50:00Z",
    ));
    assert_eq!(burglary(&s, CALL).unwrap().status, PromiseStatus::Broken);

    let not_attended = scene("not attended", CALL);
    assert!(burglary(&not_attended, CALL).is_none());
}

#[test]
fn encounters_trigger_nothing() {
    let search: crate::model::StopSearch = serde_json::from_value(serde_json::json!({
        "type": "Person search",
        "datetime": CALL,
        "location": { "street": "High Street" },
        "grounds": "Grounds",
        "object_of_search": "Controlled drugs",
        "legislation": "Misuse of Drugs Act 1971 (section 23)",
        "outcome": "A no further action disposal",
        "removal_of_more_than_outer_clothing": false,
        "conduct": {}
    }))
    .unwrap();
    assert!(evaluate(&RecordBody::StopSearch { search }, utc(CALL)).is_empty());
}

#[test]
fn the_attendance_promises_agree_with_the_records_own_target_status() {
    use crate::model::TargetStatus;
    for grade in ["emergency", "priority", "scheduled"] {
        for minutes in [5, 12, 13, 59, 61, 30 * 60, 31 * 60] {
            let mut s = scene(grade, CALL);
            s.arrived =
                Some(Timestamp::from_instant(utc(CALL) + TimeDelta::minutes(minutes)).unwrap());
            let promise = of(&s, CALL)
                .into_iter()
                .find(|p| {
                    matches!(
                        p.promise,
                        PromiseId::EmergencyAttendance
                            | PromiseId::PriorityAttendance
                            | PromiseId::AppointmentAttendance
                    )
                })
                .unwrap();
            let expected = match s.target_status() {
                TargetStatus::Met => PromiseStatus::Kept,
                TargetStatus::Missed => PromiseStatus::Broken,
                other => panic!("{other:?}"),
            };
            assert_eq!(promise.status, expected, "{grade} {minutes}");
        }
    }
}
