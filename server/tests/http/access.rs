//! The authorisation matrix at the HTTP level: every role, every sync
//! operation, in and out of scope; and the audit events they leave.

use pocketbook_core::Notebook;
use pocketbook_core::model::{ActionDetail, RecordKind};
use pocketbook_core::sync::wire::*;
use pocketbook_server::scope::Role;

use crate::support::*;

/// Everyone's whole feed, from the start.
async fn seen(server: &TestServer, token: &str) -> Vec<String> {
    let mut ids: Vec<String> = server
        .sync(token, &request(None, vec![]))
        .await
        .changes
        .into_iter()
        .map(|e| e.record_id)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn push_of(nb: &Notebook, id: &str, kind: RecordKind) -> PushedRecord {
    PushedRecord {
        record_id: id.to_string(),
        kind,
        changes: changes_of(nb, id),
    }
}

/// A change to `record` written by a device of `writer`: one scene action
/// in the writer's own name, on top of everything the record holds. The
/// device writes through the store, skipping the core's own scope check
/// (as an outdated or hostile app would): the server must refuse alone.
fn action_by(writer: &str, record: &[u8]) -> (tempfile::TempDir, PushedRecord) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = pocketbook_core::store::Store::open(dir.path()).unwrap();
    let id = store.import(record).unwrap().header.id;
    let detail = ActionDetail::Note {
        text: format!("note by {writer}"),
    };
    store
        .edit(&id, |doc| {
            doc.add_action(detail, writer, "2026-11-28T10:10:00Z")
        })
        .unwrap();
    let saved = store.export(&id).unwrap();
    let push = PushedRecord {
        record_id: id,
        kind: RecordKind::SceneAttendance,
        changes: pocketbook_core::document::RecordDoc::load(&saved, automerge::ActorId::random())
            .unwrap()
            .changes_since(&[]),
    };
    (dir, push)
}

/// Pushes the whole scene record from `nb` with `token`.
async fn push_scene(server: &TestServer, token: &str, nb: &Notebook, scene: &str) -> SyncResponse {
    let push = push_of(nb, scene, RecordKind::SceneAttendance);
    server.sync(token, &request(None, vec![push])).await
}

fn rejection(response: &SyncResponse) -> Option<RejectionCode> {
    response.rejected.first().map(|r| r.code)
}

#[tokio::test]
async fn every_role_sees_and_changes_exactly_its_scope() {
    let server = TestServer::start().await;
    // The author has two devices: the second must get what the first wrote.
    let author = server.enrol("PC1", "Lewisham", Role::Officer).await;
    let author_other = server.enrol("PC1", "Lewisham", Role::Officer).await;
    let cases = [
        // who, station, role, sees the scene, sees the search, may change the scene, may create
        ("PC2", "Lewisham", Role::Officer, true, false, true, true),
        ("PC3", "Lewisham", Role::Officer, false, false, false, true),
        ("PS1", "Lewisham", Role::Supervisor, true, true, false, true),
        ("PS2", "North", Role::Supervisor, false, false, false, true),
        ("ST1", "Lewisham", Role::Staff, false, false, false, false),
        ("AD1", "Lewisham", Role::Admin, false, false, false, false),
    ];
    let mut tokens = Vec::new();
    for (who, station, role, ..) in &cases {
        tokens.push(server.enrol(who, station, *role).await.token);
    }

    // PC1 opens a scene with PC2 co-attending, and records a stop and search.
    let (_dir, nb) = notebook("PC1");
    let scene = nb.create_scene(scene()).unwrap().header.id;
    nb.add_attending_officer(scene.clone(), "PC2".into())
        .unwrap();
    let search = nb.create_stop_search(stop_search()).unwrap().header.id;
    let pushed = server
        .sync(
            &author.token,
            &request(
                None,
                vec![
                    push_of(&nb, &scene, RecordKind::SceneAttendance),
                    push_of(&nb, &search, RecordKind::StopSearch),
                ],
            ),
        )
        .await;
    assert_eq!(pushed.acknowledged.len(), 2, "{:?}", pushed.rejected);
    let shared = server.audit("record-shared");
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].record_id.as_deref(), Some(scene.as_str()));
    assert_eq!(shared[0].detail["with"], serde_json::json!(["PC2"]));

    let mut both = vec![scene.clone(), search.clone()];
    both.sort();
    assert_eq!(
        seen(&server, &author_other.token).await,
        both,
        "the author's other device"
    );
    let scene_bytes = nb.export(scene.clone()).unwrap();

    for ((who, station, role, sees_scene, sees_search, changes, creates), token) in
        cases.iter().zip(&tokens)
    {
        // Pull.
        let ids = seen(&server, token).await;
        assert_eq!(
            ids.contains(&scene),
            *sees_scene,
            "{who} ({role:?}) sees the scene"
        );
        assert_eq!(
            ids.contains(&search),
            *sees_search,
            "{who} ({role:?}) sees the search"
        );

        // Push a change to the scene in their own name.
        let (_d, change) = action_by(who, &scene_bytes);
        let answer = server.sync(token, &request(None, vec![change])).await;
        let expected = (!changes).then_some(RejectionCode::Forbidden);
        assert_eq!(
            rejection(&answer),
            expected,
            "{who} ({role:?}) changes the scene"
        );

        // Create a record of their own.
        let (_d, own) = notebook_of(pocketbook_core::model::Officer {
            station: station.to_string(),
            ..officer(who)
        });
        let answer = server
            .sync(token, &request(None, vec![new_search(&own)]))
            .await;
        let expected = (!creates).then_some(RejectionCode::Forbidden);
        assert_eq!(
            rejection(&answer),
            expected,
            "{who} ({role:?}) creates a record"
        );

        // Create a record in someone else's name: never.
        let (_d, forger) = notebook("PC1");
        let answer = server
            .sync(token, &request(None, vec![new_search(&forger)]))
            .await;
        assert_eq!(
            rejection(&answer),
            Some(RejectionCode::Forbidden),
            "{who} ({role:?}) forges an author"
        );
    }

    // Every look by someone other than the author was audited, and nothing else.
    let reads = server.audit("record-read");
    let mut readers: Vec<(String, String)> = reads
        .iter()
        .map(|e| (e.actor.clone(), e.record_id.clone().unwrap()))
        .filter(|(_, id)| *id == scene || *id == search)
        .collect();
    readers.sort();
    readers.dedup();
    let mut expected = vec![
        ("officer:PC2".to_string(), scene.clone()),
        ("officer:PS1".to_string(), scene.clone()),
        ("officer:PS1".to_string(), search.clone()),
    ];
    expected.sort();
    // (The supervisor also read the records PC2 and PC3 created, audited
    // the same way; filtered out here.)
    assert_eq!(readers, expected);
    assert!(
        reads
            .iter()
            .all(|e| !e.detail.to_string().contains("Officer "))
    );
    let refused = server.audit("push-refused");
    // 5 out-of-scope changes, 2 creations by roles that do not write
    // records, 6 forged authors.
    assert_eq!(refused.len(), 5 + 2 + 6, "refused pushes are audited");
}

#[tokio::test]
async fn a_device_cannot_write_in_another_officers_name() {
    let server = TestServer::start().await;
    let author = server.enrol("PC1", "Lewisham", Role::Officer).await;
    let colleague = server.enrol("PC2", "Lewisham", Role::Officer).await;
    let (_dir, nb) = notebook("PC1");
    let scene = nb.create_scene(scene()).unwrap().header.id;
    nb.add_attending_officer(scene.clone(), "PC2".into())
        .unwrap();
    let first = push_scene(&server, &author.token, &nb, &scene).await;
    assert_eq!(first.acknowledged.len(), 1);

    // PC2's device writes an action claiming to be PC1's.
    let (_d, forged) = action_by("PC1", &nb.export(scene.clone()).unwrap());
    let answer = server
        .sync(&colleague.token, &request(None, vec![forged]))
        .await;
    assert_eq!(rejection(&answer), Some(RejectionCode::Forbidden));
    assert!(
        answer.rejected[0]
            .message
            .contains("another officer's name")
    );

    // In its own name it is accepted, and reaches the author.
    let (_d, honest) = action_by("PC2", &nb.export(scene.clone()).unwrap());
    let answer = server
        .sync(&colleague.token, &request(None, vec![honest]))
        .await;
    assert_eq!(answer.acknowledged.len(), 1, "{:?}", answer.rejected);
    let back = server
        .sync(&author.token, &request(Some(first.cursor), vec![]))
        .await;
    assert_eq!(back.changes.len(), 1);
}

#[tokio::test]
async fn an_officer_added_later_receives_the_whole_record() {
    let server = TestServer::start().await;
    let author = server.enrol("PC1", "Lewisham", Role::Officer).await;
    let late = server.enrol("PC2", "Lewisham", Role::Officer).await;
    let (_dir, nb) = notebook("PC1");
    let scene = nb.create_scene(scene()).unwrap().header.id;
    push_scene(&server, &author.token, &nb, &scene).await;
    // PC2 syncs and moves their cursor past the scene they cannot see yet.
    let before = server.sync(&late.token, &request(None, vec![])).await;
    assert!(before.changes.is_empty());

    nb.add_attending_officer(scene.clone(), "PC2".into())
        .unwrap();
    push_scene(&server, &author.token, &nb, &scene).await;
    let after = server
        .sync(&late.token, &request(Some(before.cursor), vec![]))
        .await;
    assert_eq!(after.changes.len(), 1);
    // The entry alone rebuilds the record on a device that never had it.
    let (_d, fresh) = notebook("PC2");
    let rebuilt = fresh.import(after.changes[0].changes.clone()).unwrap();
    assert_eq!(rebuilt, nb.get(scene).unwrap());
}
