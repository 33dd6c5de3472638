//! Stop and search and stop and account through the public API: the
//! police.uk field names, every rule naming its field, the officer's view
//! of ethnicity beside the stated one, vehicle registrations, and the
//! receipt that closes an encounter (`docs/domain/`).

use pocketbook_core::ApiError;
use pocketbook_core::model::*;
use pocketbook_core::store::ListFilter;

use crate::records::invalid_message;
use crate::support::*;

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
