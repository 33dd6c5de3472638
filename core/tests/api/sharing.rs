//! Co-attending officers: a scene or burglary record names the colleagues
//! at the scene, whom the server then lets see and add to it.

use std::sync::Arc;

use automerge::{ROOT, ReadDoc, transaction::Transactable};
use pocketbook_core::ApiError;
use pocketbook_core::api::ChangeOrigin;
use pocketbook_core::model::*;

use crate::support::*;

#[test]
fn colleagues_are_named_once_sorted_and_never_the_author() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC1234");
    let recorder = Arc::new(Recorder::default());
    let _subscription = nb.subscribe(recorder.clone());
    let created = nb.create_burglary(scene(ResponseGrade::Priority)).unwrap();
    assert!(scene_of(&created).attending.is_empty());
    let id = created.header.id;

    nb.add_attending_officer(id.clone(), "PC9012".into())
        .unwrap();
    nb.add_attending_officer(id.clone(), " PC5678 ".into())
        .unwrap();
    // Already named, or the author: success, and nothing changes.
    nb.add_attending_officer(id.clone(), "PC5678".into())
        .unwrap();
    nb.add_attending_officer(id.clone(), "PC1234".into())
        .unwrap();

    let record = nb.get(id.clone()).unwrap();
    assert_eq!(scene_of(&record).attending, ["PC5678", "PC9012"]);
    let events = recorder.events();
    assert_eq!(events.len(), 3, "create and two additions: {events:?}");
    assert!(
        events
            .iter()
            .all(|e| e.record_id == id && e.origin == ChangeOrigin::Local)
    );
    // The typed record's JSON carries the field the server reads.
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(
        json["body"]["scene"]["attending"],
        serde_json::json!(["PC5678", "PC9012"])
    );

    // Durable: a reopened notebook reads the same.
    drop(nb);
    let nb = notebook(&dir, "PC1234");
    assert_eq!(
        scene_of(&nb.get(id).unwrap()).attending,
        ["PC5678", "PC9012"]
    );
}

#[test]
fn bad_shoulder_numbers_and_wrong_kinds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC1235");
    let id = nb
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    for bad in [String::new(), "   ".into(), "X".repeat(MAX_SHORT_LEN + 1)] {
        match nb.add_attending_officer(id.clone(), bad.clone()) {
            Err(e @ ApiError::Invalid { .. }) => {
                assert!(e.to_string().contains("attending"), "{e}")
            }
            other => panic!("{bad:?}: expected Invalid, got {other:?}"),
        }
    }
    assert!(scene_of(&nb.get(id.clone()).unwrap()).attending.is_empty());

    let search = nb.create_stop_search(stop_search()).unwrap().header.id;
    let account = nb.create_stop_account(stop_account()).unwrap().header.id;
    for other in [search, account] {
        assert!(matches!(
            nb.add_attending_officer(other, "PC5678".into()),
            Err(ApiError::Conflict { .. })
        ));
    }
    assert!(matches!(
        nb.add_attending_officer("no-such-id".into(), "PC5678".into()),
        Err(ApiError::NotFound { .. })
    ));
}

#[test]
fn a_record_made_before_sharing_reads_as_nobody_and_can_be_shared() {
    let dir = tempfile::tempdir().unwrap();
    let author = notebook(&dir, "PC1236");
    let id = author
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    let mut body = author.get(id.clone()).unwrap().body;
    // The document as an older app left it: no `attending` map.
    let mut doc = automerge::AutoCommit::load(&author.export(id.clone()).unwrap()).unwrap();
    let (_, body_obj) = doc.get(ROOT, "body").unwrap().unwrap();
    let (_, variant) = doc.get(&body_obj, "SceneAttendance").unwrap().unwrap();
    let (_, inner) = doc.get(&variant, "scene").unwrap().unwrap();
    assert!(doc.get(&inner, "attending").unwrap().is_some());
    doc.delete(&inner, "attending").unwrap();
    assert!(doc.get(&inner, "attending").unwrap().is_none());

    let other_dir = tempfile::tempdir().unwrap();
    // The author's second device (only the author or an attending officer
    // may name colleagues, and this old record names none).
    let colleague = notebook(&other_dir, "PC1236");
    let imported = colleague.import(doc.save()).unwrap();
    assert!(scene_of(&imported).attending.is_empty());
    colleague
        .add_attending_officer(id.clone(), "PC5678".into())
        .unwrap();
    let RecordBody::SceneAttendance { scene } = &mut body else {
        panic!("a scene")
    };
    scene.attending = vec!["PC5678".into()];
    assert_eq!(colleague.get(id.clone()).unwrap().body, body);
    assert_schema_true(&colleague, &id);
}
