//! The legal holds of a sync's last page (`server/src/sync/round_trip.rs`)
//! with many holds in the store: one read whatever their number, rows only
//! for the holds the device's officer may see, and a hold released is gone
//! from the next list. Counted storage calls and rows, never a time.

use pocketbook_server::storage::*;

use crate::cost::counting_server;
use crate::support::*;

/// A record of `author` at `station`, committed straight into the store,
/// shared with `grant` (the feed carries it; its bytes are never read).
fn held_record(id: &str, author: &str, station: &str, grant: &[&str]) -> RecordCommit {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    RecordCommit {
        index: RecordIndex {
            id: id.into(),
            kind: pocketbook_core::model::RecordKind::StopSearch,
            reference: format!("REF-{id}"),
            author: author.into(),
            station: station.into(),
            occurred_at: now.clone(),
            status: pocketbook_core::model::RecordStatus::Open,
            created_at: now.clone(),
            updated_at: now,
        },
        snapshot: b"x".to_vec(),
        new_changes: b"x".to_vec(),
        expected_version: None,
        origin_device: "elsewhere".into(),
        grant: grant.iter().map(|g| g.to_string()).collect(),
        audit: Vec::new(),
    }
}

/// A thousand records on legal hold, 305 of them in an officer's scope
/// (their own, and five shared with them): the last page of an idle sync
/// lists exactly those, in one read of the holds (no read per hold), and
/// a hold released is gone from the next list.
#[tokio::test]
async fn the_last_page_lists_many_holds_in_one_read() {
    let plain = TestServer::start().await;
    let (counting, server, url) = counting_server(&plain).await;
    let phone = plain.device("PC1", "Lewisham").await;
    let mut in_scope = Vec::new();
    off_runtime(|| {
        for n in 0..1000 {
            let id = format!("held-{n:04}");
            let (author, station, grant): (&str, &str, &[&str]) = match n {
                0..300 => ("PC1", "Lewisham", &[]),
                300..305 => ("PC9", "Brixton", &["PC1"]),
                _ => ("PC9", "Brixton", &[]),
            };
            plain
                .storage
                .commit_record(&held_record(&id, author, station, grant))
                .unwrap();
            plain
                .storage
                .set_legal_hold(
                    &LegalHold {
                        record_id: id.clone(),
                        reason: "inquiry".into(),
                        set_at: "2026-11-28T10:00:00.000Z".into(),
                    },
                    &[],
                )
                .unwrap();
            if n < 305 {
                in_scope.push(id);
            }
        }
    });
    let mut cursor = None;
    loop {
        let page = sync_with(
            plain.http.clone(),
            url.clone(),
            phone.clone(),
            request(cursor, vec![]),
        )
        .await;
        cursor = Some(page.cursor);
        if !page.more {
            assert_eq!(page.legal_holds.as_ref(), Some(&in_scope));
            break;
        }
    }
    counting.take();
    let idle = sync_with(
        plain.http.clone(),
        url.clone(),
        phone.clone(),
        request(cursor, vec![]),
    )
    .await;
    assert_eq!(idle.legal_holds.as_ref(), Some(&in_scope));
    // The token, the retention clock, the feed, and the holds: one read
    // each, whatever the number of holds; rows: the holds in scope.
    assert_eq!(counting.take(), (4, 305));

    off_runtime(|| {
        plain
            .storage
            .release_legal_hold("held-0301", "2026-11-29T10:00:00.000Z", &[])
            .unwrap()
    });
    let after = sync_with(plain.http.clone(), url, phone, request(cursor, vec![])).await;
    let left = after.legal_holds.unwrap();
    assert_eq!(left.len(), 304);
    assert!(!left.iter().any(|id| id == "held-0301"));
    server.shutdown().await.unwrap();
}
