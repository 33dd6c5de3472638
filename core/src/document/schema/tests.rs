//! The schema check's tests: every record kind as the app writes it
//! passes, and each way a hostile device could bend a document's shape
//! is refused with the path it broke.

/// The record inputs every crate's tests share (`core/fixtures`); they
/// name the model `super::model`.
#[path = "../../../fixtures/src/records.rs"]
#[allow(dead_code)] // the unit tests use a few of the shared inputs
mod fixtures;
use crate::{model, reference};

use automerge::transaction::Transactable;
use automerge::{ActorId, ObjType, ROOT, ReadDoc, Value};

use super::super::RecordDoc;
use crate::model::*;

fn header(kind: RecordKind) -> RecordHeader {
    fixtures::header(kind, fixtures::officer("PC1"))
}

fn burglary() -> RecordDoc {
    let scene = SceneAttendance::from_input(SceneInput {
        notes: "First note".into(),
        ..fixtures::emergency_scene()
    });
    RecordDoc::create(
        header(RecordKind::HomeBurglary),
        &RecordBody::HomeBurglary { scene },
        ActorId::random(),
    )
    .unwrap()
}

fn search() -> RecordDoc {
    let search = StopSearch {
        gender: Some(Gender::Female),
        self_defined_ethnicity: Some(SelfDefinedEthnicity::A1),
        officer_defined_ethnicity: Some(OfficerDefinedEthnicity::Asian),
        ..fixtures::stop_search()
    };
    RecordDoc::create(
        header(RecordKind::StopSearch),
        &RecordBody::StopSearch { search },
        ActorId::random(),
    )
    .unwrap()
}

fn inner(doc: &RecordDoc) -> automerge::ObjId {
    doc.inner_obj().unwrap()
}

fn shape_error(doc: &RecordDoc) -> String {
    let message = match doc.check_schema() {
        Err(super::DocumentError::Shape(message)) => message,
        other => panic!("expected a shape error, got {other:?}"),
    };
    // The one walk refuses the same shape with the same message.
    match doc.checked_record_in_one_walk() {
        Err(super::DocumentError::Shape(again)) => assert_eq!(again, message),
        other => panic!("the one walk: expected a shape error, got {other:?}"),
    }
    message
}

/// The schema passes, and the one walk reads the record the document's
/// own reads give.
fn passes(doc: &RecordDoc) {
    doc.check_schema().unwrap();
    assert_eq!(
        doc.checked_record_in_one_walk().unwrap(),
        doc.checked_record().unwrap()
    );
}

#[test]
fn every_document_our_writers_produce_passes() {
    let mut doc = burglary();
    passes(&doc);
    let at = &fixtures::at(10, 10);
    doc.add_action(
        ActionDetail::EvidenceCollected {
            what: "Glove".into(),
            where_found: "Garden".into(),
            exhibit_number: "EX1".into(),
        },
        "PC1",
        at,
    )
    .unwrap();
    doc.add_action(
        ActionDetail::Witness {
            found: false,
            contact_details: String::new(),
        },
        "PC1",
        at,
    )
    .unwrap();
    let tick = Tick {
        id: String::new(),
        item: ChecklistItem::ForensicExaminationArranged,
        outcome: TickOutcome::NotDone,
        reason: Some("No examiner".into()),
        ticked_by: "PC1".into(),
        ticked_at: at.clone(),
    };
    doc.tick(&tick).unwrap();
    let first = doc.add_note("Second", "PC1", at).unwrap();
    doc.correct_note(&first, "Corrected", "PC1", at).unwrap();
    doc.add_attending("PC2").unwrap();
    let arrived = fixtures::at(10, 5);
    let left_early = format!("{}T11:00:00+01:00", fixtures::fixture_day());
    doc.set_times(Some(&arrived), Some(&left_early))
        .unwrap_err(); // left before arrival: refused, nothing written
    doc.set_times(Some(&arrived), Some(&fixtures::at(11, 0)))
        .unwrap();
    doc.agree_updates(&UpdateAgreement {
        method: UpdateMethod::Phone,
        every_days: 7,
    })
    .unwrap();
    passes(&doc);

    let mut doc = search();
    doc.add_note("Later", "PC1", at).unwrap();
    doc.set_receipt(&Receipt::NotGiven {
        reason: "Left".into(),
        recorded_at: at.clone(),
    })
    .unwrap();
    doc.set_receipt(&Receipt::Given {
        medium: ReceiptMedium::Email,
        given_at: at.clone(),
    })
    .unwrap();
    passes(&doc);
}

#[test]
fn a_key_outside_the_schema_is_refused_without_naming_it() {
    let mut doc = search();
    let inner = inner(&doc);
    doc.doc.put(&inner, "secret_payload_key", "x").unwrap();
    let message = shape_error(&doc);
    assert!(message.starts_with("body.StopSearch.search:"), "{message}");
    assert!(!message.contains("secret_payload_key"), "{message}");

    let mut doc = search();
    doc.doc.put(ROOT, "extra", 1).unwrap();
    assert!(shape_error(&doc).starts_with("(root):"));
}

#[test]
fn an_oversized_string_hidden_in_a_conflict_is_refused() {
    // Either side of the conflict: the huge string as the value Automerge
    // shows, and hidden behind the short one (the walk must look past the
    // winner).
    for (short_actor, huge_actor) in [(1u8, 2u8), (2, 1)] {
        let mut base = search();
        let mut a = base.fork(ActorId::from([short_actor; 16]));
        let mut b = base.fork(ActorId::from([huge_actor; 16]));
        let inner = inner(&a);
        a.doc.put(&inner, "grounds", "Short").unwrap();
        let huge = "x".repeat(MAX_TEXT_LEN + 1);
        b.doc.put(&inner, "grounds", huge.as_str()).unwrap();
        a.merge(&mut b).unwrap();
        assert_eq!(a.doc.get_all(&inner, "grounds").unwrap().len(), 2);
        let message = shape_error(&a);
        assert_eq!(
            message,
            format!("body.StopSearch.search.grounds: longer than {MAX_TEXT_LEN} bytes")
        );
    }
}

#[test]
fn a_value_of_the_wrong_type_is_refused() {
    let mut doc = search();
    let inner = inner(&doc);
    doc.doc.put(&inner, "datetime", 20261128).unwrap();
    assert_eq!(
        shape_error(&doc),
        "body.StopSearch.search.datetime: not a string"
    );
    let mut doc = burglary();
    let inner = self::inner(&doc);
    let (_, notes) = doc.doc.get(&inner, "note_entries").unwrap().unwrap();
    let entry = doc.doc.insert_object(&notes, 1, ObjType::Map).unwrap();
    doc.doc.put_object(&entry, "text", ObjType::Text).unwrap();
    assert_eq!(
        shape_error(&doc),
        "body.HomeBurglary.scene.note_entries[1].text: a value of the wrong type"
    );
}

#[test]
fn a_list_over_its_bound_is_refused() {
    let mut doc = burglary();
    let inner = inner(&doc);
    let Some((Value::Object(ObjType::List), ticks)) = doc.doc.get(&inner, "tick_entries").unwrap()
    else {
        panic!("a new record has its tick list")
    };
    for i in 0..=MAX_TICKS {
        doc.doc.insert(&ticks, i, ()).unwrap();
    }
    assert_eq!(
        shape_error(&doc),
        format!("body.HomeBurglary.scene.tick_entries: more than {MAX_TICKS} entries")
    );
}

#[test]
fn a_schema_v1_key_in_a_newer_record_is_refused() {
    let mut doc = burglary();
    let inner = inner(&doc);
    doc.doc.put_object(&inner, "notes", ObjType::Text).unwrap();
    assert_eq!(
        shape_error(&doc),
        "body.HomeBurglary.scene: a schema-v1 key in a newer record"
    );
}
