//! Valid records to build scenarios from, shared by the end-to-end and
//! browser suites.

use pocketbook_core::model::*;

pub fn scene() -> SceneInput {
    SceneInput {
        reasons: vec![AttendanceReason::CrimeInProgress],
        grade: ResponseGrade::Emergency,
        call_received: "2026-11-28T10:00:00Z".into(),
        appointment: None,
        arrived: None,
        left: None,
        location: Location {
            latitude: None,
            longitude: None,
            street: "12 Acacia Avenue".into(),
        },
        notes: String::new(),
    }
}

pub fn stop_account() -> StopAccount {
    StopAccount {
        datetime: "2026-11-28T15:00:00Z".into(),
        location: Location {
            latitude: None,
            longitude: None,
            street: "High Street".into(),
        },
        self_defined_ethnicity: None,
        asked_about: "Presence near a reported break-in".into(),
        receipt: None,
        notes: Vec::new(),
    }
}

pub fn note(text: String) -> ActionDetail {
    ActionDetail::Note { text }
}

/// A stop and search at `datetime` (RFC 3339).
pub fn stop_search(datetime: &str) -> StopSearch {
    StopSearch {
        search_type: SearchType::Person,
        vehicle_registration: None,
        datetime: datetime.into(),
        location: Location {
            latitude: Some(51.4613),
            longitude: Some(-0.0106),
            street: "Lewisham High Street".into(),
        },
        gender: Some(Gender::Male),
        age_range: Some(AgeRange::From18To24),
        self_defined_ethnicity: Some(SelfDefinedEthnicity::NotStated),
        officer_defined_ethnicity: Some(OfficerDefinedEthnicity::White),
        grounds: "Seen passing small packages to passers-by".into(),
        object_of_search: ObjectOfSearch::ControlledDrugs,
        legislation: Legislation::MisuseOfDrugsSection23,
        operation_name: None,
        outcome: Outcome::NoFurtherAction,
        outcome_linked_to_object_of_search: Some(false),
        removal_of_more_than_outer_clothing: false,
        conduct: Conduct::default(),
        receipt: None,
        notes: Vec::new(),
    }
}
