//! Group commit over HTTP: the accepted records of one push are committed
//! together (one transaction with a savepoint per record on SQLite), and a
//! record the store refuses at commit time refuses only itself: the
//! records before and after it in the same push are kept, each once.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc};
use pocketbook_core::sync::wire::*;

use pocketbook_server::StorageError;

use crate::support::*;

/// The same reference twice in one push: both pass every check before the
/// commit (neither is stored yet), and the store's unique index refuses
/// the second while the group is being committed.
#[tokio::test]
async fn a_record_refused_inside_a_group_refuses_only_itself() {
    let server = TestServer::start().await;
    let token = server.device("PC1", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let before = new_search(&nb);
    let first = new_search(&nb);
    let reference = nb.get(first.record_id.clone()).unwrap().header.reference;
    let twin = new_search(&nb);
    let twin = PushedRecord {
        changes: {
            let mut doc = AutoCommit::load(&twin.changes).unwrap();
            let (_, header) = doc.get(ROOT, "header").unwrap().expect("a header");
            doc.put(&header, "reference", reference.as_str()).unwrap();
            doc.save_after(&[])
        },
        ..twin
    };
    let after = new_search(&nb);
    let push = vec![before.clone(), first.clone(), twin.clone(), after.clone()];

    let answer = server.sync(&token, &request(None, push)).await;
    let acknowledged: Vec<&str> = answer
        .acknowledged
        .iter()
        .map(|a| a.record_id.as_str())
        .collect();
    assert_eq!(
        acknowledged,
        [
            before.record_id.as_str(),
            first.record_id.as_str(),
            after.record_id.as_str()
        ]
    );
    assert_eq!(answer.rejected.len(), 1, "{:?}", answer.rejected);
    assert_eq!(answer.rejected[0].record_id, twin.record_id);
    assert_eq!(answer.rejected[0].code, RejectionCode::Forbidden);
    assert!(answer.rejected[0].message.starts_with("reference:"));

    let mut stored: Vec<String> = server
        .storage
        .records()
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    stored.sort();
    let mut expected = vec![before.record_id, first.record_id, after.record_id];
    expected.sort();
    assert_eq!(stored, expected, "the refused record left nothing");
    let feed = server.storage.feed_after(0, 100).unwrap();
    let mut fed: Vec<String> = feed.iter().map(|f| f.record_id.clone()).collect();
    fed.sort();
    assert_eq!(fed, expected, "one feed entry for each kept record");
    assert!(feed.iter().all(|f| f.received_at.is_some()));
    assert_eq!(server.audit("push-refused").len(), 1);
}

/// A record another writer changed between its merge and the group's
/// commit loses the compare-and-swap inside its savepoint (`Conflict`, so
/// the sync merges it again on its own) while the rest of the group is
/// kept; the other writer's version stays as it was.
#[tokio::test]
async fn a_record_that_lost_a_race_inside_a_group_leaves_the_others_committed() {
    let server = TestServer::start().await;
    let token = server.device("PC1", "Lewisham").await;
    let principal = server
        .storage
        .principal(&pocketbook_server::auth::hash(&token))
        .unwrap()
        .expect("the device's principal");
    let at = chrono::Utc::now();
    let arrival = pocketbook_server::sync::Arrival {
        at,
        stamp: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        retention: pocketbook_server::RetentionPolicy::default(),
        retention_now: at,
        commit: pocketbook_server::sync::CommitMode::Grouped,
    };
    let (_d, nb) = notebook("PC1");
    let shared = new_search(&nb);
    let id = shared.record_id.clone();
    let answer = server.sync(&token, &request(None, vec![shared])).await;
    assert_eq!(answer.acknowledged.len(), 1);

    // Merged against version 1...
    nb.add_note(id.clone(), "first look".into()).unwrap();
    let edit = PushedRecord {
        record_id: id.clone(),
        kind: pocketbook_core::model::RecordKind::StopSearch,
        changes: changes_of(&nb, &id),
    };
    let prepare = |push: &PushedRecord| match pocketbook_server::sync::prepare_commit(
        server.storage.as_ref(),
        &principal,
        push,
        &arrival,
    )
    .unwrap()
    {
        Ok(commit) => commit,
        Err(_) => panic!("refused before the commit"),
    };
    let stale = prepare(&edit);
    let fresh = new_search(&nb);
    let new = prepare(&fresh);
    // ...while another writer stores version 2.
    nb.add_note(id.clone(), "second look".into()).unwrap();
    let answer = server
        .sync(
            &token,
            &request(
                None,
                vec![PushedRecord {
                    changes: changes_of(&nb, &id),
                    ..edit.clone()
                }],
            ),
        )
        .await;
    assert_eq!(answer.acknowledged.len(), 1);
    let version = server.storage.record(&id).unwrap().unwrap().version;

    let results = server.storage.commit_records(&[stale, new]).unwrap();
    assert!(
        matches!(results[0], Err(StorageError::Conflict)),
        "{results:?}"
    );
    assert!(results[1].is_ok(), "{results:?}");
    assert!(server.storage.record(&fresh.record_id).unwrap().is_some());
    assert_eq!(
        server.storage.record(&id).unwrap().unwrap().version,
        version,
        "the other writer's version stands"
    );
}
