//! The records a history of the property starts from: a new record of
//! each kind, a burglary saved before promise entries existed, and a
//! schema-v1 burglary written key by key as schema-1 code wrote it, so
//! the short read is held against every layout a device may hold.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT};

use super::actor;
use crate::document::RecordDoc;
use crate::model::{
    Location, Officer, RecordBody, RecordHeader, RecordKind, SceneAttendance, SceneInput,
    StopAccount, Timestamp,
};

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
pub(super) fn record_of(kind: usize) -> RecordDoc {
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
            let bytes = include_bytes!("../../testdata/burglary-v2-before-promises.automerge");
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
