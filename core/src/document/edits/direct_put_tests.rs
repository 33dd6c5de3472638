//! The scene action written as one Automerge batch against the document
//! autosurgeon's reconcile made: the same document, the same record read,
//! and devices on either converge.

use automerge::{ActorId, ROOT};
use proptest::prelude::*;

use super::*;

fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 16])
}

pub(super) fn scene_doc() -> RecordDoc {
    crate::document::tests::scene_record("0190a0a0-0000-7000-8000-000000000007", Some("First note"))
}

fn detail() -> impl Strategy<Value = ActionDetail> {
    let text = "[a-zA-Z0-9 ,.;é'\"-]{0,40}";
    prop_oneof![
        (text, text, text).prop_map(|(what, where_found, exhibit_number)| {
            ActionDetail::EvidenceCollected {
                what,
                where_found,
                exhibit_number,
            }
        }),
        (text, any::<bool>()).prop_map(|(description, circulated)| {
            ActionDetail::SuspectDescription {
                description,
                circulated,
            }
        }),
        (text, any::<bool>()).prop_map(|(area, victim_pointed_out_suspect)| {
            ActionDetail::Search {
                area,
                victim_pointed_out_suspect,
            }
        }),
        (any::<bool>(), text).prop_map(|(found, contact_details)| ActionDetail::Witness {
            found,
            contact_details,
        }),
        text.prop_map(|text| ActionDetail::Note { text }),
    ]
}

fn action(detail: ActionDetail, n: u32) -> SceneAction {
    SceneAction {
        id: format!("0190a0a0-0000-7000-8000-{n:012}"),
        recorded_by: format!("PC{}", n % 7),
        recorded_at: Timestamp::parse(&format!("2026-11-02T10:{:02}:00Z", n % 60)).unwrap(),
        detail,
    }
}

/// The code before `insert_action`: autosurgeon's reconcile.
fn reconciled(doc: &mut RecordDoc, action: &SceneAction) {
    let inner = doc.inner_obj().unwrap();
    let actions = doc.child(&inner, "actions", ObjType::List).unwrap();
    let at = doc.doc.length(&actions);
    autosurgeon::reconcile::reconcile_insert(&mut doc.doc, actions, at, action).unwrap();
    doc.commit("add-action");
}

/// What `add_action` does now.
fn batched(doc: &mut RecordDoc, action: &SceneAction) {
    let inner = doc.inner_obj().unwrap();
    let actions = doc.child(&inner, "actions", ObjType::List).unwrap();
    let at = doc.doc.length(&actions);
    insert_action(&mut doc.doc, &actions, at, action).unwrap();
    doc.commit("add-action");
}

/// The whole document as Automerge hydrates it: every key, value and
/// type, no operation ids.
fn tree(doc: &RecordDoc) -> automerge::hydrate::Value {
    doc.doc.hydrate(ROOT, None).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_batched_action_is_the_document_reconcile_makes(
        details in proptest::collection::vec(detail(), 1..6),
    ) {
        let mut base = scene_doc();
        let mut old = base.fork(actor(1));
        let mut new = base.fork(actor(1));
        // A copy that only gets the change bytes, as the store appends
        // and reloads them.
        let mut stored = RecordDoc::load(&base.save(), actor(1)).unwrap();
        for (n, detail) in details.into_iter().enumerate() {
            let action = action(detail, n as u32);
            reconciled(&mut old, &action);
            batched(&mut new, &action);
            stored.apply_changes(&new.last_local_change().unwrap()).unwrap();
            prop_assert_eq!(tree(&old), tree(&new));
            let record = new.record().unwrap();
            prop_assert_eq!(&old.record().unwrap(), &record);
            prop_assert_eq!(&new.record_in_one_walk().unwrap(), &record);
            prop_assert_eq!(&stored.record().unwrap(), &record);
            prop_assert_eq!(record.body.scene().unwrap().actions.last(), Some(&action));
            new.check_schema().unwrap();
        }
        let reloaded = RecordDoc::load(&new.save(), actor(1)).unwrap();
        prop_assert_eq!(tree(&reloaded), tree(&old));
    }

    #[test]
    fn devices_on_the_old_and_the_new_code_converge(
        mine in proptest::collection::vec(detail(), 1..5),
        theirs in proptest::collection::vec(detail(), 1..5),
    ) {
        // Device 1 runs the old code, device 2 the new (`add_action`
        // itself for its last action); a pair both on the old code
        // making the same actions is the reference.
        let mut base = scene_doc();
        let (mut old, mut new) = (base.fork(actor(1)), base.fork(actor(2)));
        let (mut ref1, mut ref2) = (base.fork(actor(1)), base.fork(actor(2)));
        for (n, detail) in mine.into_iter().enumerate() {
            let action = action(detail, n as u32);
            reconciled(&mut old, &action);
            reconciled(&mut ref1, &action);
        }
        for (n, detail) in theirs.into_iter().enumerate() {
            let action = action(detail, 100 + n as u32);
            batched(&mut new, &action);
            reconciled(&mut ref2, &action);
        }
        new.add_action(
            ActionDetail::Note { text: "Last".into() },
            "PC2",
            "2026-11-02T11:00:00Z",
        )
        .unwrap();
        let written = new.record().unwrap();
        let last = written.body.scene().unwrap().actions.last().unwrap().clone();
        reconciled(&mut ref2, &last);
        // Each merges the other's changes, as sync brings them.
        let (mut old_copy, mut new_copy) = (old.fork(actor(3)), new.fork(actor(4)));
        old.merge(&mut new_copy).unwrap();
        new.merge(&mut old_copy).unwrap();
        let (mut r1, mut r2) = (ref1.fork(actor(5)), ref2.fork(actor(6)));
        ref1.merge(&mut r2).unwrap();
        ref2.merge(&mut r1).unwrap();
        let merged = old.record().unwrap();
        prop_assert_eq!(&merged, &new.record().unwrap());
        prop_assert_eq!(&merged, &ref1.record().unwrap());
        prop_assert_eq!(&merged, &ref2.record().unwrap());
        prop_assert_eq!(tree(&old), tree(&ref1));
        prop_assert_eq!(tree(&new), tree(&ref2));
    }
}
