//! Times: odd spellings and times beyond belief are refused for their
//! record alone, and an encounter whose receipt is given cannot move.

use super::*;

#[tokio::test]
async fn times_in_odd_spellings_or_beyond_belief_are_refused_for_their_record_alone() {
    let (server, _) = station().await;
    let token = server.device("PC1", "Lewisham").await;
    let other = server.device("PC2", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let dated = |datetime: &str| {
        let record = new_search(&nb);
        let datetime = datetime.to_string();
        PushedRecord {
            changes: rewritten(&record.changes, |doc| {
                let s = object(doc, SEARCH);
                doc.put(&s, "datetime", datetime).unwrap();
            }),
            ..record
        }
    };
    // Spellings chrono reads but that do not round-trip, one per record.
    let odd = [
        "2026-11-28t14:05:00Z",
        "2026-11-28T14:05:00z",
        " 2026-11-28T14:05:00Z",
        "2026-11-28T14:05:60Z",
        "2026-11-28T14:05:00-00:00",
    ];
    // The clock reads 2026-11-29T12:00:00Z: 6 hours ahead is the limit,
    // and a search older than its 12 months would only be erased again.
    let implausible = [
        "2026-11-29T18:00:01Z",
        "2099-01-01T00:00:00Z",
        "2025-11-29T11:59:59Z",
    ];
    let fine = [
        "2026-11-29T18:00:00Z",
        "2026-11-28T15:05:00+01:00",
        "2026-11-28T14:05:00.250Z",
        "2025-11-29T12:00:00Z",
    ];
    let mut pushes: Vec<PushedRecord> = Vec::new();
    for t in odd.iter().chain(&implausible).chain(&fine) {
        pushes.push(dated(t));
    }
    let answer = server.sync(&token, &request(None, pushes.clone())).await;
    assert_eq!(answer.rejected.len(), odd.len() + implausible.len());
    assert!(
        answer
            .rejected
            .iter()
            .all(|r| r.code == RejectionCode::Invalid && r.message.contains("datetime:")),
        "{:?}",
        answer.rejected
    );
    assert!(
        answer.rejected[odd.len()]
            .message
            .contains("hours after the server's time")
    );
    assert!(
        answer.rejected[odd.len() + 2]
            .message
            .contains("retention period")
    );
    assert_eq!(answer.acknowledged.len(), fine.len());
    // Clock errors are not misconduct: nothing audited.
    assert!(server.audit("push-refused").is_empty());
    // The server's time travels with every answer.
    assert_eq!(
        answer.server_time.as_deref(),
        Some("2026-11-29T12:00:00.000Z")
    );

    // Stored and indexed in one UTC form, whatever offset the device wrote.
    let mut stored: Vec<String> = server
        .storage
        .records()
        .unwrap()
        .into_iter()
        .map(|r| r.occurred_at)
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        vec![
            "2025-11-29T12:00:00Z",
            "2026-11-28T14:05:00Z",
            "2026-11-28T14:05:00Z",
            "2026-11-29T18:00:00Z"
        ]
    );

    // A time new in a later push is checked the same way: an arrival in
    // lowercase is refused, the record stays as it was.
    let scene_id = nb.create_scene(scene()).unwrap().header.id;
    let scene_push = push(
        &scene_id,
        RecordKind::SceneAttendance,
        nb.export(scene_id.clone()).unwrap(),
    );
    server
        .sync(&token, &request(None, vec![scene_push.clone()]))
        .await;
    let arrival = changed(&scene_push.changes, |doc| {
        let s = object(doc, SCENE);
        doc.put(&s, "arrived", "2026-11-28t10:09:00Z").unwrap();
    });
    let answer = server
        .sync(
            &token,
            &request(
                None,
                vec![push(&scene_id, RecordKind::SceneAttendance, arrival)],
            ),
        )
        .await;
    assert_eq!(answer.rejected[0].code, RejectionCode::Invalid);
    assert!(answer.rejected[0].message.contains("arrived:"));
    still_serving(&server, &other).await;
}

#[tokio::test]
async fn once_the_receipt_is_given_the_encounter_cannot_move() {
    let (server, _) = station().await;
    let token = server.device("PC1", "Lewisham").await;
    let other = server.device("PC2", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let id = nb.create_stop_search(stop_search()).unwrap().header.id;
    nb.issue_receipt(id.clone(), ReceiptMedium::Printed)
        .unwrap();
    let whole = nb.export(id.clone()).unwrap();
    server
        .sync(
            &token,
            &request(None, vec![push(&id, RecordKind::StopSearch, whole.clone())]),
        )
        .await;
    let receipt_given = server.storage.record(&id).unwrap().unwrap();

    // Backdated by its own author: refused, audited, the retention clock stays.
    let backdated = changed(&whole, |doc| {
        let s = object(doc, SEARCH);
        doc.put(&s, "datetime", "2026-01-02T09:00:00Z").unwrap();
    });
    let outcome = changed(&whole, |doc| {
        let s = object(doc, SEARCH);
        doc.put(&s, "outcome", "A no further action disposal")
            .unwrap();
    });
    let answer = server
        .sync(
            &token,
            &request(None, vec![push(&id, RecordKind::StopSearch, backdated)]),
        )
        .await;
    assert_eq!(answer.rejected[0].code, RejectionCode::Forbidden);
    assert!(
        answer.rejected[0]
            .message
            .starts_with("datetime: cannot change once the receipt is recorded"),
        "{}",
        answer.rejected[0].message
    );
    let answer = server
        .sync(
            &token,
            &request(None, vec![push(&id, RecordKind::StopSearch, outcome)]),
        )
        .await;
    assert!(answer.rejected[0].message.starts_with("outcome:"));
    let now = server.storage.record(&id).unwrap().unwrap();
    assert_eq!(now.index.occurred_at, "2026-11-28T14:05:00Z");
    assert_eq!(now.version, receipt_given.version, "nothing written");
    assert_eq!(server.audit("push-refused").len(), 2);

    // A correction in the notes is still welcome.
    nb.add_note(
        id.clone(),
        "Time on the receipt is right; place was Lee High Road".into(),
    )
    .unwrap();
    let notes = since(&nb.export(id.clone()).unwrap(), &whole);
    let answer = server
        .sync(
            &token,
            &request(None, vec![push(&id, RecordKind::StopSearch, notes)]),
        )
        .await;
    assert_eq!(answer.acknowledged.len(), 1, "{:?}", answer.rejected);
    still_serving(&server, &other).await;
}
