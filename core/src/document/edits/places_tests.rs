//! The places a scene action goes ([`Places`]), kept beside the document
//! between this copy's own scene actions: after a merge (or changes
//! applied) that replaced the actions list, or put a second list beside
//! it, the next action goes where a copy that never kept them sends it,
//! and the record read after each edit is the whole read.

use automerge::ActorId;

use super::direct_put_tests::scene_doc;
use super::*;

fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 16])
}

fn note(text: &str) -> ActionDetail {
    ActionDetail::Note { text: text.into() }
}

/// The texts of the record's actions, in order.
fn texts(doc: &RecordDoc) -> Vec<String> {
    let record = doc.record().unwrap();
    let RecordBody::SceneAttendance { scene } = record.body else {
        panic!("a scene")
    };
    scene
        .actions
        .into_iter()
        .map(|a| match a.detail {
            ActionDetail::Note { text } => text,
            other => panic!("a note: {other:?}"),
        })
        .collect()
}

/// One scene action made and read back as the store makes them; the
/// record after it is the whole read.
fn edit(doc: &mut RecordDoc, text: &str) {
    let before = doc.record_in_one_walk().unwrap();
    let heads = doc.heads();
    doc.add_action(note(text), "PC1", "2026-11-02T10:05:00Z")
        .unwrap();
    let (edited, change) = doc.record_after_local_edit(before, &heads).unwrap();
    assert!(change.is_some());
    assert_eq!(edited.after(), &doc.record_in_one_walk().unwrap());
}

/// Puts a new actions list over the one `doc` holds (as a device writing
/// the list whole would), with one action in it.
fn replace_list(doc: &mut RecordDoc, text: &str) {
    let inner = doc.inner_obj().unwrap();
    let list = doc
        .doc
        .put_object(&inner, "actions", ObjType::List)
        .unwrap();
    let action = SceneAction {
        id: uuid::Uuid::now_v7().to_string(),
        recorded_by: "PC2".into(),
        recorded_at: Timestamp::parse("2026-11-02T10:04:00Z").unwrap(),
        detail: note(text),
    };
    insert_action(&mut doc.doc, &list, 0, &action).unwrap();
    doc.commit("replace");
}

/// The next action `doc` makes, made instead on a copy loaded from its
/// bytes (which starts with no places): the texts it ends with.
fn as_a_fresh_copy_would(doc: &mut RecordDoc, text: &str) -> Vec<String> {
    let mut fresh = RecordDoc::load(&doc.save(), actor(1)).unwrap();
    edit(&mut fresh, text);
    texts(&fresh)
}

#[test]
fn an_action_after_a_merge_that_replaced_the_list_goes_to_the_new_list() {
    for by_merge in [true, false] {
        let mut ours = scene_doc();
        ours.doc.set_actor(actor(1));
        edit(&mut ours, "ours 1");
        let mut theirs = ours.fork(actor(2));
        let heads = ours.heads();
        replace_list(&mut theirs, "theirs");
        if by_merge {
            ours.merge(&mut theirs).unwrap();
        } else {
            ours.apply_changes(&theirs.changes_since(&heads)).unwrap();
        }
        assert_eq!(texts(&ours), ["theirs"], "their list replaced ours");
        let expected = as_a_fresh_copy_would(&mut ours, "ours 2");
        edit(&mut ours, "ours 2");
        assert_eq!(texts(&ours), expected);
        assert_eq!(texts(&ours), ["theirs", "ours 2"]);
        edit(&mut ours, "ours 3");
        assert_eq!(texts(&ours), ["theirs", "ours 2", "ours 3"]);
    }
}

#[test]
fn an_action_after_a_merge_that_put_a_second_list_goes_to_the_winning_one() {
    for (ours_actor, theirs_actor) in [(1, 2), (2, 1)] {
        let mut ours = scene_doc();
        ours.doc.set_actor(actor(ours_actor));
        edit(&mut ours, "base");
        let mut theirs = ours.fork(actor(theirs_actor));
        // Both replace the list at once: two lists under `actions`.
        replace_list(&mut ours, "our list");
        edit(&mut ours, "ours 1");
        replace_list(&mut theirs, "their list");
        ours.merge(&mut theirs).unwrap();
        let inner = ours.inner_obj().unwrap();
        assert_eq!(ours.doc.get_all(&inner, "actions").unwrap().len(), 2);
        let expected = as_a_fresh_copy_would(&mut ours, "ours 2");
        edit(&mut ours, "ours 2");
        assert_eq!(texts(&ours), expected);
        assert_eq!(texts(&ours).last().map(String::as_str), Some("ours 2"));
    }
}

#[test]
fn places_hold_only_at_the_heads_this_copys_action_left() {
    let mut doc = scene_doc();
    edit(&mut doc, "one");
    let heads = doc.heads();
    let list = doc.places.as_ref().map(|p| p.actions.clone()).unwrap();
    assert!(doc.appended_action(&heads, &list).is_some());
    // Any other change moves the heads on: the places no longer answer.
    doc.set_offence(OffenceCategory::Burglary).unwrap();
    let heads = doc.heads();
    assert!(doc.appended_action(&heads, &list).is_none());
}
