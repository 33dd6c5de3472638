//! Builders for valid inputs, so each test changes only what it is about.

use std::sync::Arc;

use pocketbook_core::Notebook;
use pocketbook_core::model::*;

pub fn officer(number: &str) -> Officer {
    Officer {
        shoulder_number: number.into(),
        name: format!("Officer {number}"),
        station: "Lewisham".into(),
    }
}

pub fn notebook(dir: &tempfile::TempDir, number: &str) -> Arc<Notebook> {
    Notebook::open(dir.path().display().to_string(), officer(number)).expect("open notebook")
}

pub fn location() -> Location {
    Location {
        latitude: Some(51.4613),
        longitude: Some(-0.0106),
        street: "Lewisham High Street".into(),
    }
}

pub fn stop_search() -> StopSearch {
    StopSearch {
        search_type: SearchType::Person,
        vehicle_registration: None,
        datetime: "2026-11-28T14:05:00Z".into(),
        location: location(),
        gender: Some(Gender::Male),
        age_range: Some(AgeRange::From18To24),
        self_defined_ethnicity: Some(SelfDefinedEthnicity::NotStated),
        officer_defined_ethnicity: Some(OfficerDefinedEthnicity::White),
        grounds: "Matched description of suspect seen passing a package".into(),
        object_of_search: ObjectOfSearch::ControlledDrugs,
        legislation: Legislation::MisuseOfDrugsSection23,
        operation_name: None,
        outcome: Outcome::NoFurtherAction,
        outcome_linked_to_object_of_search: Some(false),
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
        notes: Vec::new(),
    }
}

pub fn stop_account() -> StopAccount {
    StopAccount {
        datetime: "2026-11-28T15:00:00+00:00".into(),
        location: location(),
        self_defined_ethnicity: Some(SelfDefinedEthnicity::B2),
        asked_about: "Presence near a reported break-in".into(),
        receipt: None,
        notes: Vec::new(),
    }
}

pub fn scene(grade: ResponseGrade) -> SceneInput {
    SceneInput {
        reasons: vec![AttendanceReason::CrimeInProgress],
        grade,
        call_received: "2026-11-28T10:00:00Z".into(),
        appointment: None,
        arrived: None,
        left: None,
        location: location(),
        notes: String::new(),
    }
}

pub fn note(text: &str) -> ActionDetail {
    ActionDetail::Note { text: text.into() }
}

/// A change listener that keeps every event it hears.
#[derive(Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<pocketbook_core::api::ChangeEvent>>);

impl pocketbook_core::api::ChangeListener for Recorder {
    fn on_change(
        &self,
        event: pocketbook_core::api::ChangeEvent,
    ) -> Result<(), pocketbook_core::api::CallbackError> {
        self.0.lock().unwrap().push(event);
        Ok(())
    }
}

impl Recorder {
    pub fn events(&self) -> Vec<pocketbook_core::api::ChangeEvent> {
        self.0.lock().unwrap().clone()
    }
}

/// The scene (or burglary) part of a record.
pub fn scene_of(record: &Record) -> &SceneAttendance {
    match &record.body {
        RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => scene,
        other => panic!("not a scene: {other:?}"),
    }
}

/// Fails unless the stored document of `id` passes the whole-tree schema
/// check the server runs on every push.
pub fn assert_schema_true(nb: &Notebook, id: &str) {
    let bytes = nb.export(id.into()).expect("export");
    let doc = pocketbook_core::document::RecordDoc::load(&bytes, automerge::ActorId::random())
        .expect("load");
    if let Err(e) = doc.check_schema() {
        panic!("record {id} is not schema-true: {e}");
    }
}
