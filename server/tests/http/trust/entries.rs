//! Entries in a colleague's name: none may be removed, altered or
//! forged, and what was typed stays out of the audit trail.

use super::*;

#[tokio::test]
async fn a_colleague_cannot_remove_or_alter_another_officers_entries() {
    let (server, _) = station().await;
    let author = server.device("PC1", "Lewisham").await;
    let colleague = server.device("PC2", "Lewisham").await;
    let bystander = server.device("PC3", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let id = nb.create_burglary(scene()).unwrap().header.id;
    nb.add_attending_officer(id.clone(), "PC2".into()).unwrap();
    nb.add_scene_action(
        id.clone(),
        ActionDetail::Note {
            text: "door forced".into(),
        },
    )
    .unwrap();
    nb.tick(
        id.clone(),
        ChecklistItem::IntroducedThemselves,
        TickOutcome::Done,
        None,
    )
    .unwrap();
    let whole = nb.export(id.clone()).unwrap();
    let first = server
        .sync(
            &author,
            &request(
                None,
                vec![push(&id, RecordKind::HomeBurglary, whole.clone())],
            ),
        )
        .await;
    assert_eq!(first.acknowledged.len(), 1, "{:?}", first.rejected);
    let burglary = ["body", "HomeBurglary", "scene"];
    let edits: Vec<(&str, Vec<u8>)> = vec![
        (
            "scene action 1 of the server's copy was removed; entries are never removed",
            changed(&whole, |doc| {
                let actions = object(doc, &[burglary.as_slice(), &["actions"]].concat());
                doc.delete(&actions, 0).unwrap();
            }),
        ),
        (
            "scene action 1 was altered; entries are never changed",
            changed(&whole, |doc| {
                let actions = object(doc, &[burglary.as_slice(), &["actions"]].concat());
                let action = doc.get(&actions, 0).unwrap().unwrap().1;
                doc.put(&action, "recorded_by", "PC2").unwrap();
            }),
        ),
        (
            "tick 1 of the server's copy was removed; entries are never removed",
            changed(&whole, |doc| {
                let ticks = object(doc, &[burglary.as_slice(), &["tick_entries"]].concat());
                doc.delete(&ticks, 0).unwrap();
            }),
        ),
    ];
    for (expected, changes) in edits {
        let answer = server
            .sync(
                &colleague,
                &request(None, vec![push(&id, RecordKind::HomeBurglary, changes)]),
            )
            .await;
        assert_eq!(answer.rejected[0].code, RejectionCode::Forbidden);
        assert_eq!(answer.rejected[0].message, expected);
    }
    assert_eq!(server.storage.feed_after(0, 100).unwrap().len(), 1);
    let refused = server.audit("push-refused");
    assert_eq!(refused.len(), 3);
    assert!(refused.iter().all(|e| e.actor == "officer:PC2"));

    // Adding in their own name is what a colleague may do.
    let (_d2, mine) = notebook("PC2");
    mine.import(whole.clone()).unwrap();
    mine.add_scene_action(
        id.clone(),
        ActionDetail::Note {
            text: "neighbour spoken to".into(),
        },
    )
    .unwrap();
    let answer = server
        .sync(
            &colleague,
            &request(
                None,
                vec![push(
                    &id,
                    RecordKind::HomeBurglary,
                    since(&mine.export(id.clone()).unwrap(), &whole),
                )],
            ),
        )
        .await;
    assert_eq!(answer.acknowledged.len(), 1, "{:?}", answer.rejected);
    still_serving(&server, &bystander).await;
}

#[tokio::test]
async fn text_typed_as_a_colleague_stays_out_of_the_audit_trail() {
    let (server, _) = station().await;
    let author = server.device("PC1", "Lewisham").await;
    let colleague = server.device("PC2", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let id = nb.create_scene(scene()).unwrap().header.id;
    nb.add_attending_officer(id.clone(), "PC2".into()).unwrap();
    nb.add_attending_officer(id.clone(), "Jane Doe 07700900123".into())
        .unwrap();
    let answer = server
        .sync(
            &author,
            &request(
                None,
                vec![push(
                    &id,
                    RecordKind::SceneAttendance,
                    nb.export(id.clone()).unwrap(),
                )],
            ),
        )
        .await;
    assert_eq!(answer.acknowledged.len(), 1, "{:?}", answer.rejected);
    let shared = server.audit("record-shared");
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].detail["with"], serde_json::json!(["PC2"]));
    assert_eq!(shared[0].detail["not_known"], 1);
    assert!(!serde_json::to_string(&shared).unwrap().contains("Jane"));
    still_serving(&server, &colleague).await;
}
