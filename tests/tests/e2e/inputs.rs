//! Valid records to build scenarios from.

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
        notes: String::new(),
    }
}

pub fn note(text: String) -> ActionDetail {
    ActionDetail::Note { text }
}
