//! Group commit over HTTP: the accepted records of one push are committed
//! together (one transaction with a savepoint per record on SQLite), and a
//! record the store refuses at commit time refuses only itself: the
//! records before and after it in the same push are kept, each once.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc};
use pocketbook_core::sync::wire::*;

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
