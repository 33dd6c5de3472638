//! The promise table against its documentation (every clause cited is
//! there, with the clock the table gives it), its triggers and its clocks.

use chrono::{DateTime, Utc};

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

const DOC: &str = include_str!("../../../../docs/domain/promises.md");

/// The words a clause's heading must use for the table's clock.
fn clock_words(clock: Clock) -> String {
    match clock {
        Clock::Minutes(n) => format!("{n} minutes"),
        Clock::Hours(n) => format!("{n} hours"),
        Clock::CalendarDays(n) => format!("{n} days"),
        Clock::WorkingDays(n) => format!("{n} working days"),
        Clock::Appointment { within_hours } => format!("{within_hours} hours"),
        Clock::AgreedInterval { max_days } => format!("{} weeks", max_days / 7),
        Clock::BeforeLeaving => "before leaving".into(),
    }
}

#[test]
fn every_promise_has_one_row_and_its_own_clause() {
    use PromiseId::*;
    let ids = [
        EmergencyAttendance,
        PriorityAttendance,
        AppointmentAttendance,
        VictimUpdate,
        SeriousAssaultReview,
        DomesticViolenceContact,
        RoadTrafficCollisionContact,
        CommentAcknowledged,
        BurglaryBeforeLeaving,
    ];
    assert_eq!(PROMISES.len(), ids.len());
    for id in ids {
        assert_eq!(PROMISES.iter().filter(|p| p.id == id).count(), 1, "{id:?}");
        assert_eq!(promise(id).id, id);
    }
    let mut clauses: Vec<&str> = PROMISES.iter().map(|p| p.clause).collect();
    clauses.sort();
    clauses.dedup();
    assert_eq!(clauses.len(), PROMISES.len(), "one clause per promise");
}

#[test]
fn every_clause_is_in_the_docs_with_the_tables_clock_and_no_other() {
    let headings: Vec<&str> = DOC.lines().filter(|l| l.starts_with("### P")).collect();
    for promise in PROMISES {
        let heading = headings
            .iter()
            .find(|h| h.starts_with(&format!("### {}. ", promise.clause)))
            .unwrap_or_else(|| panic!("docs/domain/promises.md has no clause {}", promise.clause));
        let words = clock_words(promise.clock);
        assert!(
            heading.contains(&words),
            "{heading:?} should say {words:?} ({:?})",
            promise.id
        );
    }
    assert_eq!(
        headings.len(),
        PROMISES.len(),
        "every clause in the docs is a row of the table: {headings:?}"
    );
}

fn facts(kind: RecordKind, grade: ResponseGrade, offence: Option<OffenceCategory>) -> RecordFacts {
    RecordFacts {
        kind,
        grade: Some(grade),
        offence,
        has_agreement: false,
    }
}

fn ids(facts: &RecordFacts) -> Vec<PromiseId> {
    triggered_by(facts).into_iter().map(|p| p.id).collect()
}

#[test]
fn triggers_follow_kind_grade_offence_and_agreement() {
    use PromiseId::*;
    let burglary = facts(
        RecordKind::HomeBurglary,
        ResponseGrade::Emergency,
        Some(OffenceCategory::Burglary),
    );
    assert_eq!(ids(&burglary), [EmergencyAttendance, BurglaryBeforeLeaving]);

    let mut domestic = facts(
        RecordKind::SceneAttendance,
        ResponseGrade::Priority,
        Some(OffenceCategory::DomesticViolence),
    );
    assert_eq!(
        ids(&domestic),
        [PriorityAttendance, DomesticViolenceContact]
    );
    domestic.has_agreement = true;
    assert_eq!(
        ids(&domestic),
        [PriorityAttendance, VictimUpdate, DomesticViolenceContact]
    );

    let collision = facts(
        RecordKind::SceneAttendance,
        ResponseGrade::NotAttended,
        Some(OffenceCategory::RoadTrafficCollision),
    );
    assert_eq!(ids(&collision), [RoadTrafficCollisionContact]);

    let assault = facts(
        RecordKind::SceneAttendance,
        ResponseGrade::Scheduled,
        Some(OffenceCategory::SeriousAssault),
    );
    assert_eq!(ids(&assault), [AppointmentAttendance, SeriousAssaultReview]);

    // Encounters carry no promise with a clock; nothing triggers a comment's.
    let search = RecordFacts {
        kind: RecordKind::StopSearch,
        grade: None,
        offence: None,
        has_agreement: true,
    };
    assert!(ids(&search).is_empty());
    assert!(!promise(CommentAcknowledged).trigger.matches(&burglary));
}

#[test]
fn clocks_give_due_times() {
    let call = utc("2026-05-15T08:30:00Z");
    let none = Terms::default();
    let due = |id: PromiseId, terms: &Terms| promise(id).clock.due(call, terms).unwrap();
    assert_eq!(
        due(PromiseId::EmergencyAttendance, &none),
        Due::At(utc("2026-05-15T08:42:00Z"))
    );
    assert_eq!(
        due(PromiseId::PriorityAttendance, &none),
        Due::At(utc("2026-05-15T09:30:00Z"))
    );
    assert_eq!(
        due(PromiseId::SeriousAssaultReview, &none),
        Due::At(utc("2026-05-16T02:30:00Z"))
    );
    // Ten working days, the spring bank holiday skipped.
    assert_eq!(
        due(PromiseId::RoadTrafficCollisionContact, &none),
        Due::At(utc("2026-06-01T08:30:00Z"))
    );
    assert_eq!(due(PromiseId::BurglaryBeforeLeaving, &none), Due::OnLeaving);
}

#[test]
fn an_appointment_and_an_agreement_never_stretch_the_promise() {
    let call = utc("2026-03-27T09:00:00Z");
    let appointment = promise(PromiseId::AppointmentAttendance).clock;
    let at = |a: &str| Terms {
        appointment: Some(utc(a)),
        every_days: None,
    };
    assert_eq!(
        appointment.due(call, &at("2026-03-28T14:00:00Z")),
        Ok(Due::At(utc("2026-03-28T14:00:00Z")))
    );
    // Later than 48 hours, or none: due at 48 hours (exact hours, across
    // the change to summer time).
    assert_eq!(
        appointment.due(call, &at("2026-04-02T14:00:00Z")),
        Ok(Due::At(utc("2026-03-29T09:00:00Z")))
    );
    assert_eq!(
        appointment.due(call, &Terms::default()),
        Ok(Due::At(utc("2026-03-29T09:00:00Z")))
    );

    let update = promise(PromiseId::VictimUpdate).clock;
    let every = |d: u32| Terms {
        appointment: None,
        every_days: Some(d),
    };
    // Fourteen days at the same local time: 09:00 GMT to 09:00 BST.
    assert_eq!(
        update.due(call, &every(14)),
        Ok(Due::At(utc("2026-04-10T08:00:00Z")))
    );
    assert_eq!(
        update.due(call, &every(40)),
        update.due(call, &Terms::default())
    );
    assert_eq!(
        update.due(call, &every(28)),
        Ok(Due::At(utc("2026-04-24T08:00:00Z")))
    );
}

#[test]
fn a_working_day_clock_beyond_the_calendar_is_an_error() {
    let late = utc("2028-12-20T10:00:00Z");
    let clock = promise(PromiseId::RoadTrafficCollisionContact).clock;
    assert!(matches!(
        clock.due(late, &Terms::default()),
        Err(CalendarError::OutsideTable { year: 2029, .. })
    ));
}

#[test]
fn offence_categories_are_a_vocabulary() {
    let texts: Vec<&str> = OffenceCategory::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        texts,
        [
            "serious assault",
            "sexual assault",
            "domestic violence",
            "hate crime",
            "road-traffic collision",
            "burglary",
            "other"
        ]
    );
    for category in OffenceCategory::ALL {
        assert_eq!(OffenceCategory::parse(category.as_str()), Some(*category));
        let json = serde_json::to_string(category).unwrap();
        assert_eq!(
            serde_json::from_str::<OffenceCategory>(&json).unwrap(),
            *category
        );
    }
    assert_eq!(OffenceCategory::parse("Burglary"), None);
}

#[test]
fn a_records_facts_come_from_its_body() {
    use crate::model::{SceneAttendance, SceneInput, UpdateAgreement, UpdateMethod};
    let input: SceneInput = serde_json::from_value(serde_json::json!({
        "reasons": ["crime in progress"],
        "grade": "priority",
        "call_received": "2026-05-15T08:30:00Z",
        "location": { "latitude": 51.46, "longitude": -0.01, "street": "12 Acacia Avenue" }
    }))
    .unwrap();
    let mut scene = SceneAttendance::from_input(input);
    let facts = RecordFacts::of(&RecordBody::HomeBurglary {
        scene: scene.clone(),
    });
    assert_eq!(
        facts,
        RecordFacts {
            kind: RecordKind::HomeBurglary,
            grade: Some(ResponseGrade::Priority),
            offence: None,
            has_agreement: false,
        }
    );
    scene.updates = Some(UpdateAgreement {
        method: UpdateMethod::Phone,
        every_days: 14,
    });
    scene.offence = Some(OffenceCategory::DomesticViolence);
    let body = RecordBody::SceneAttendance { scene };
    let facts = RecordFacts::of(&body);
    assert_eq!(
        ids(&facts),
        [
            PromiseId::PriorityAttendance,
            PromiseId::VictimUpdate,
            PromiseId::DomesticViolenceContact
        ]
    );
}
