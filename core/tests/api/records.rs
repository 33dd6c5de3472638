//! Every record kind and every rule of `docs/domain/` through the public API.

use pocketbook_core::ApiError;
use pocketbook_core::model::*;
use pocketbook_core::store::ListFilter;

use crate::support::*;

fn invalid_message(result: Result<impl std::fmt::Debug, ApiError>) -> String {
    match result {
        Err(e @ ApiError::Invalid { .. }) => e.to_string(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn stop_search_round_trips_with_police_uk_field_names() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC101");
    let record = nb.create_stop_search(stop_search()).unwrap();
    assert_eq!(record.header.kind, RecordKind::StopSearch);
    assert_eq!(record.header.author, officer("PC101"));
    assert_eq!(record.derived.status, RecordStatus::Open);
    let reference = nb
        .issue_receipt(record.header.id.clone(), ReceiptMedium::Printed)
        .unwrap();
    assert_eq!(reference, record.header.reference);

    let back = nb.get(record.header.id.clone()).unwrap();
    let RecordBody::StopSearch { search } = &back.body else {
        panic!("wrong body {:?}", back.body)
    };
    assert!(matches!(
        search.receipt,
        Some(Receipt::Given {
            medium: ReceiptMedium::Printed,
            ..
        })
    ));
    assert_eq!(back.derived.status, RecordStatus::Complete);

    let json = serde_json::to_value(search).unwrap();
    assert_eq!(json["type"], "Person search");
    assert_eq!(json["legislation"], "Misuse of Drugs Act 1971 (section 23)");
    assert_eq!(json["object_of_search"], "Controlled drugs");
    assert_eq!(json["outcome"], "A no further action disposal");
    assert_eq!(json["age_range"], "18-24");
    assert_eq!(
        json["self_defined_ethnicity"],
        "Other ethnic group - Not stated"
    );
    assert_eq!(json["officer_defined_ethnicity"], "White");
}

#[test]
fn stop_search_rules_name_every_offending_field() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC101");
    let mut search = stop_search();
    search.search_type = SearchType::Vehicle;
    search.grounds = "  ".into();
    // A time that is not one never reaches a record: the type refuses it.
    assert!(Timestamp::parse("yesterday").is_err());
    search.location.street = String::new();
    search.legislation = Legislation::CjpoSection60;
    search.self_defined_ethnicity = Some(SelfDefinedEthnicity::NotStated);
    search.officer_defined_ethnicity = None;
    let message = invalid_message(nb.create_stop_search(search));
    for field in [
        "vehicle_registration: required for a vehicle search",
        "grounds: required",
        "location.street: required",
        "operation_name: required",
        "officer_defined_ethnicity: required when the person did not state",
    ] {
        assert!(message.contains(field), "{field} missing from {message}");
    }
    assert!(
        nb.list(ListFilter::default()).unwrap().is_empty(),
        "nothing stored"
    );
}

#[test]
fn officer_defined_ethnicity_is_recorded_beside_a_stated_one() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC101");
    let mut search = stop_search();
    search.self_defined_ethnicity = Some(SelfDefinedEthnicity::A1);
    search.officer_defined_ethnicity = Some(OfficerDefinedEthnicity::Asian);
    let record = nb.create_stop_search(search).unwrap();
    let RecordBody::StopSearch { search } = record.body else {
        panic!("not a search")
    };
    assert_eq!(
        search.self_defined_ethnicity,
        Some(SelfDefinedEthnicity::A1)
    );
    assert_eq!(
        search.officer_defined_ethnicity,
        Some(OfficerDefinedEthnicity::Asian)
    );
    let mut unstated = stop_search();
    unstated.officer_defined_ethnicity = None;
    let message = invalid_message(nb.create_stop_search(unstated));
    assert!(
        message.contains("officer_defined_ethnicity: required"),
        "{message}"
    );
}

#[test]
fn vehicle_registration_is_normalised_and_required_only_for_vehicles() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC101");
    let mut search = stop_search();
    search.search_type = SearchType::PersonAndVehicle;
    search.vehicle_registration = Some("ab12 cde".into());
    let record = nb.create_stop_search(search).unwrap();
    let RecordBody::StopSearch { search } = record.body else {
        panic!()
    };
    assert_eq!(search.vehicle_registration.as_deref(), Some("AB12CDE"));

    let mut person = stop_search();
    person.vehicle_registration = Some("AB12CDE".into());
    assert!(invalid_message(nb.create_stop_search(person)).contains("vehicle_registration"));
}

#[test]
fn receipt_not_given_needs_a_reason_and_a_given_receipt_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC101");
    let id = nb.create_stop_search(stop_search()).unwrap().header.id;
    let message = invalid_message(nb.receipt_not_given(id.clone(), " ".into()));
    assert!(message.contains("receipt.reason: required"), "{message}");
    nb.receipt_not_given(id.clone(), "Called to an emergency".into())
        .unwrap();
    nb.issue_receipt(id.clone(), ReceiptMedium::Email).unwrap();
    assert!(matches!(
        nb.issue_receipt(id.clone(), ReceiptMedium::Text),
        Err(ApiError::Conflict { .. })
    ));
    assert!(matches!(
        nb.receipt_not_given(id, "late".into()),
        Err(ApiError::Conflict { .. })
    ));
}

#[test]
fn stop_account_records_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC102");
    let record = nb.create_stop_account(stop_account()).unwrap();
    assert_eq!(record.header.kind, RecordKind::StopAccount);
    nb.issue_receipt(record.header.id.clone(), ReceiptMedium::Text)
        .unwrap();
    assert_eq!(
        nb.get(record.header.id).unwrap().derived.status,
        RecordStatus::Complete
    );
    let mut bad = stop_account();
    bad.asked_about = String::new();
    bad.location.latitude = Some(123.0);
    bad.location.longitude = None;
    let message = invalid_message(nb.create_stop_account(bad));
    assert!(message.contains("asked_about: required"), "{message}");
    assert!(
        message.contains("location.latitude: must be between -90 and 90"),
        "{message}"
    );
    assert!(message.contains("location.longitude: required with latitude"));
}

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

#[test]
fn operations_refuse_the_wrong_kind() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC106");
    let search = nb.create_stop_search(stop_search()).unwrap().header.id;
    assert!(matches!(
        nb.add_scene_action(search, note("x")),
        Err(ApiError::Conflict { detail: m }) if m.contains("stop-search")
    ));
    let scene_id = nb
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    assert!(matches!(
        nb.issue_receipt(scene_id, ReceiptMedium::Printed),
        Err(ApiError::Conflict { .. })
    ));
    assert!(matches!(
        nb.get("no-such-id".into()),
        Err(ApiError::NotFound { .. })
    ));
}

#[test]
fn list_filters_by_kind_status_and_reference() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC107");
    let search = nb.create_stop_search(stop_search()).unwrap();
    nb.create_stop_account(stop_account()).unwrap();
    nb.create_scene(scene(ResponseGrade::Emergency)).unwrap();
    assert_eq!(nb.list(ListFilter::default()).unwrap().len(), 3);
    let searches = nb
        .list(ListFilter {
            kind: Some(RecordKind::StopSearch),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(searches.len(), 1);
    assert_eq!(searches[0].id, search.header.id);
    assert_eq!(searches[0].occurred_at, at(14, 5));
    let typed = search.header.reference.to_lowercase().replace('-', " ");
    let by_ref = nb
        .list(ListFilter {
            reference: Some(typed),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_ref.len(), 1);
    assert!(matches!(
        nb.list(ListFilter {
            reference: Some("NOT-A-REF".into()),
            ..Default::default()
        }),
        Err(ApiError::BadInput { .. })
    ));
    nb.issue_receipt(search.header.id, ReceiptMedium::Printed)
        .unwrap();
    let open = nb
        .list(ListFilter {
            status: Some(RecordStatus::Open),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(open.len(), 2);
}

#[test]
fn references_are_unique_and_check_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC108");
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let reference = nb
            .create_stop_account(stop_account())
            .unwrap()
            .header
            .reference;
        assert_eq!(
            pocketbook_core::api::parse_reference(reference.to_lowercase()).unwrap(),
            reference
        );
        assert!(seen.insert(reference));
    }
    assert!(pocketbook_core::api::parse_reference("0000-0000-0000-01".into()).is_err());
}

#[test]
fn vocabulary_strings_are_exact_and_unknown_ones_are_refused() {
    let search: Result<StopSearch, _> = serde_json::from_value(serde_json::json!({
        "type": "Person search", "datetime": at(14, 5),
        "location": {"street": "High St"}, "grounds": "g",
        "object_of_search": "Drugs", "legislation": "Misuse of Drugs Act 1971 (section 23)",
        "outcome": "Arrest"
    }));
    let message = search.unwrap_err().to_string();
    assert!(
        message.contains("unknown ObjectOfSearch \"Drugs\""),
        "{message}"
    );
    assert!(message.contains("\"Controlled drugs\""), "{message}");
    assert_eq!(SelfDefinedEthnicity::ALL.len(), 19);
    assert_eq!(Legislation::ALL.len(), 15);
    assert_eq!(ObjectOfSearch::ALL.len(), 13);
    assert_eq!(Outcome::Arrest.police_uk_id(), Some("bu-arrest"));
    assert_eq!(SelfDefinedEthnicity::NotStated.code(), "NS");
}

#[test]
fn listeners_hear_durable_changes_until_cancelled() {
    use pocketbook_core::api::{CallbackError, ChangeEvent, ChangeListener, ChangeOrigin};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Recorder(Mutex<Vec<ChangeEvent>>);
    impl ChangeListener for Recorder {
        fn on_change(&self, event: ChangeEvent) -> Result<(), CallbackError> {
            self.0.lock().unwrap().push(event);
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC109");
    let recorder = Arc::new(Recorder::default());
    let subscription = nb.subscribe(recorder.clone());
    let id = nb
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    nb.add_scene_action(id.clone(), note("first")).unwrap();
    assert!(nb.add_scene_action(id.clone(), note("")).is_err());
    subscription.cancel();
    nb.add_scene_action(id.clone(), note("unheard")).unwrap();
    let events = recorder.0.lock().unwrap().clone();
    assert_eq!(events.len(), 2, "create and one action: {events:?}");
    assert!(events.iter().all(|e| e.record_id == id
        && e.origin == ChangeOrigin::Local
        && e.kind == RecordKind::SceneAttendance));
}

#[test]
fn a_notebook_belongs_to_one_officer() {
    let dir = tempfile::tempdir().unwrap();
    drop(notebook(&dir, "PC110"));
    let other = pocketbook_core::Notebook::open(dir.path().display().to_string(), officer("PC999"));
    assert!(matches!(other, Err(ApiError::Conflict { .. })));
    let mut nameless = officer("PC110");
    nameless.name = String::new();
    let refused = pocketbook_core::Notebook::open(dir.path().display().to_string(), nameless);
    assert!(
        matches!(refused, Err(ref e @ ApiError::Invalid { .. }) if e.to_string().contains("officer.name"))
    );
}

#[test]
fn every_vocabulary_value_has_a_label_for_people() {
    assert_eq!(
        self_defined_ethnicity_label(SelfDefinedEthnicity::W1),
        "White - English/Welsh/Scottish/Northern Irish/British"
    );
    assert_eq!(self_defined_ethnicity_code(SelfDefinedEthnicity::W1), "W1");
    assert_eq!(age_range_label(AgeRange::From18To24), "18-24");
    assert_eq!(age_range_label(AgeRange::Under10), "Under 10");
    assert_eq!(record_kind_label(RecordKind::StopSearch), "Stop and search");
    assert_eq!(
        update_method_label(UpdateMethod::TextMessage),
        "Text message"
    );
    assert_eq!(
        response_grade_label(ResponseGrade::NotAttended),
        "Not attended"
    );
    for item in ChecklistItem::ALL {
        assert!(!checklist_item_label(*item).is_empty());
    }
}

#[test]
fn a_negative_list_limit_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC101");
    nb.create_stop_account(stop_account()).unwrap();
    let refused = nb.list(ListFilter {
        limit: Some(-1),
        ..ListFilter::default()
    });
    assert!(invalid_message(refused).contains("limit"));
    let one = nb.list(ListFilter {
        limit: Some(1),
        ..ListFilter::default()
    });
    assert_eq!(one.unwrap().len(), 1);
}

/// No keyboard types a control character, and a terminal's escape
/// sequences are made of them: free text holding one is refused (both
/// ends run this rule), naming the field; line breaks and tabs are text.
#[test]
fn free_text_with_a_control_character_is_refused_and_line_breaks_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC101");
    for hostile in ["\u{1b}[2J", "a bell \u{7}", "C1 \u{9b}31m", "nul \u{0}"] {
        let mut search = stop_search();
        search.grounds = format!("Seen passing a package {hostile}");
        let message = invalid_message(nb.create_stop_search(search));
        assert!(
            message.contains("grounds: holds a control character"),
            "{message}"
        );
    }
    let mut search = stop_search();
    search.grounds = "Seen passing a package.\r\nSmelt of cannabis.\tAdmitted it.".into();
    let record = nb.create_stop_search(search).unwrap();
    let message =
        invalid_message(nb.add_note(record.header.id.clone(), "note \u{1b}]0;x\u{7}".into()));
    assert!(message.contains("holds a control character"), "{message}");
}
