//! The protocol's promises: acknowledgement, idempotent replays, paging,
//! skipping a device's own changes, and scope (the station's supervisor
//! sees its records, another station's officer does not).

use pocketbook_core::sync::wire::*;

use pocketbook_server::scope::Role;

use crate::support::*;

#[tokio::test]
async fn pushed_records_reach_the_station_supervisor_once() {
    let server = TestServer::start().await;
    let a = server.device("PC1", "Lewisham").await;
    let b = server
        .enrol("PS2", "Lewisham", Role::Supervisor)
        .await
        .token;
    let elsewhere = server.device("PC3", "Brixton").await;
    let (_dir, nb) = notebook("PC1");
    let push = new_search(&nb);

    let first = server.sync(&a, &request(None, vec![push.clone()])).await;
    assert_eq!(first.acknowledged.len(), 1);
    assert!(!first.acknowledged[0].heads.is_empty());
    assert!(
        first.changes.is_empty(),
        "a device's own changes are not sent back"
    );
    assert!(first.cursor > 0, "the cursor moves past them");

    // A replay (e.g. the answer was lost) changes nothing and is acknowledged again.
    let replay = server.sync(&a, &request(None, vec![push.clone()])).await;
    assert_eq!(replay.acknowledged, first.acknowledged);
    assert_eq!(server.storage.feed_after(0, 10).unwrap().len(), 1);

    let pulled = server.sync(&b, &request(None, vec![])).await;
    assert_eq!(pulled.changes.len(), 1);
    assert_eq!(pulled.changes[0].record_id, push.record_id);
    let again = server.sync(&b, &request(Some(pulled.cursor), vec![])).await;
    assert!(again.changes.is_empty());
    assert_eq!(again.cursor, pulled.cursor);

    let other_station = server.sync(&elsewhere, &request(None, vec![])).await;
    assert!(other_station.changes.is_empty());
}

#[tokio::test]
async fn a_large_backlog_comes_in_pages() {
    let server = TestServer::start().await;
    let a = server.device("PC1", "Lewisham").await;
    let b = server
        .enrol("PS2", "Lewisham", Role::Supervisor)
        .await
        .token;
    let (_dir, nb) = notebook("PC1");
    let pushes: Vec<PushedRecord> = (0..250).map(|_| new_search(&nb)).collect();
    for chunk in pushes.chunks(100) {
        let response = server.sync(&a, &request(None, chunk.to_vec())).await;
        assert_eq!(response.acknowledged.len(), chunk.len());
    }
    let mut cursor = None;
    let mut seen = std::collections::HashSet::new();
    let mut pages = 0;
    loop {
        let mut req = request(cursor, vec![]);
        req.page_size = Some(60);
        let page = server.sync(&b, &req).await;
        pages += 1;
        assert!(page.changes.len() <= 60);
        for entry in &page.changes {
            assert!(seen.insert(entry.record_id.clone()), "duplicate entry");
        }
        cursor = Some(page.cursor);
        if !page.more {
            break;
        }
    }
    assert_eq!(seen.len(), 250);
    assert_eq!(pages, 5);
}
