//! Several officers at one scene push the same record at the same moment:
//! every change survives, on the server and in the feed.

use automerge::ActorId;
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::*;
use pocketbook_core::sync::wire::*;

use crate::support::*;

const OFFICERS: usize = 6;

fn actions(doc: &RecordDoc) -> Vec<String> {
    let RecordBody::SceneAttendance { scene } = doc.body().unwrap() else {
        panic!("not a scene");
    };
    let mut texts: Vec<String> = scene
        .actions
        .into_iter()
        .map(|a| match a.detail {
            ActionDetail::Note { text } => text,
            other => panic!("unexpected action {other:?}"),
        })
        .collect();
    texts.sort();
    texts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_to_one_record_all_survive() {
    let server = TestServer::start().await;
    let (_dir, first) = notebook("PC1");
    let record = first.create_scene(scene()).unwrap();
    let id = record.header.id.clone();
    // Every officer attends, so every one may add to the record.
    for n in 1..=OFFICERS {
        first
            .add_attending_officer(id.clone(), format!("PC{}", n + 10))
            .unwrap();
    }
    let creator = server.device("PC1", "Lewisham").await;
    let created = PushedRecord {
        record_id: id.clone(),
        kind: RecordKind::SceneAttendance,
        changes: changes_of(&first, &id),
    };
    server
        .sync(&creator, &request(None, vec![created.clone()]))
        .await;

    // Each officer's phone has the record and adds one note, offline.
    let mut tasks = Vec::new();
    let mut dirs = Vec::new();
    for n in 1..=OFFICERS {
        let number = format!("PC{}", n + 10);
        let token = server.device(&number, "Lewisham").await;
        let (dir, nb) = notebook(&number);
        nb.import(created.changes.clone()).unwrap();
        nb.add_scene_action(
            id.clone(),
            ActionDetail::Note {
                text: format!("note {n}"),
            },
        )
        .unwrap();
        let push = PushedRecord {
            changes: changes_of(&nb, &id),
            ..created.clone()
        };
        dirs.push(dir);
        tasks.push(tokio::spawn(sync_with(
            server.http.clone(),
            server.url(SYNC_PATH),
            token,
            request(None, vec![push]),
        )));
    }
    for task in tasks {
        let response = task.await.unwrap();
        assert_eq!(response.acknowledged.len(), 1, "{response:?}");
        assert!(response.rejected.is_empty());
    }

    let expected: Vec<String> = (1..=OFFICERS).map(|n| format!("note {n}")).collect();
    let stored = server.storage.record(&id).unwrap().unwrap();
    let doc = RecordDoc::load(&stored.snapshot, ActorId::random()).unwrap();
    assert_eq!(actions(&doc), expected);

    // The feed alone rebuilds the same record: creation plus one entry per push.
    let feed = server.storage.feed_after(0, 100).unwrap();
    assert_eq!(feed.len(), OFFICERS + 1);
    let mut rebuilt = RecordDoc::from_changes(&feed[0].changes, ActorId::random()).unwrap();
    for entry in &feed[1..] {
        rebuilt.apply_changes(&entry.changes).unwrap();
    }
    assert_eq!(actions(&rebuilt), expected);
}
