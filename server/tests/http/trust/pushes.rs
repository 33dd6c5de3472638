//! Pushes a device may not make: records outside its scope (answered
//! alike whether they exist or were erased), a push over its bounds, a new
//! record repeating a reference or forging its header.

use super::*;

#[tokio::test]
async fn refusals_outside_scope_do_not_tell_whether_a_record_exists_or_was_erased() {
    let (server, _) = station().await;
    let owner = server.device("PC1", "Lewisham").await;
    let intruder = server.device("PC2", "Lewisham").await;
    let bystander = server.device("PC3", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let record = new_search(&nb);
    let id = record.record_id.clone();
    let garbage = PushedRecord {
        changes: b"\x85\x6f\x4a\x83 not automerge".to_vec(),
        ..record.clone()
    };
    let (never, never_garbage) = probe(&server, &intruder, &record, &garbage).await;
    assert!(server.storage.record(&id).unwrap().is_none());
    let stored = server
        .sync(&owner, &request(None, vec![record.clone()]))
        .await;
    assert_eq!(stored.acknowledged.len(), 1);
    let (exists, exists_garbage) = probe(&server, &intruder, &record, &garbage).await;
    server
        .storage
        .erase_record(&id, &from_today(0), "retention", &[])
        .unwrap();
    let (erased, erased_garbage) = probe(&server, &intruder, &record, &garbage).await;

    assert_eq!(never.rejected[0].code, RejectionCode::Forbidden);
    assert_eq!(never.rejected[0].message, OUT_OF_SCOPE);
    assert_eq!(refusals(&never), refusals(&exists));
    assert_eq!(refusals(&never), refusals(&erased));
    assert_eq!(never_garbage.rejected[0].code, RejectionCode::Corrupt);
    assert_eq!(refusals(&never_garbage), refusals(&exists_garbage));
    assert_eq!(refusals(&never_garbage), refusals(&erased_garbage));
    // Each refusal in scope terms is audited the same way, three times.
    let refused = server.audit("push-refused");
    assert_eq!(refused.len(), 3);
    assert!(refused.iter().all(|e| e.actor == "officer:PC2"
        && e.detail["reason"] == OUT_OF_SCOPE
        && e.record_id.as_deref() == Some(id.as_str())));

    // The owner's stale device is told the truth, and erases its copy.
    let told = server.sync(&owner, &request(None, vec![record])).await;
    assert_eq!(told.rejected[0].code, RejectionCode::Erased);
    still_serving(&server, &bystander).await;
}

#[tokio::test]
async fn a_push_repeating_a_record_id_or_over_the_byte_limit_is_refused_whole() {
    let (server, _) = station().await;
    let token = server.device("PC1", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let record = new_search(&nb);

    let twice = request(None, vec![record.clone(), record.clone()]);
    let response = server
        .post_raw(Some(&token), serde_json::to_vec(&twice).unwrap())
        .await;
    assert_eq!(response.status(), 400);
    let error: ErrorBody = response.json().await.unwrap();
    assert_eq!(error.error, "malformed");
    assert!(
        error.message.contains("more than once"),
        "{}",
        error.message
    );
    assert!(server.storage.records().unwrap().is_empty());
    assert_eq!(server.audit("push-refused").len(), 1);

    // Records before the last already over the limit (a device stops
    // adding records once it is reached): 413, nothing merged.
    let filler = |i: usize| {
        push(
            &format!("f{i}"),
            RecordKind::StopSearch,
            vec![0; 700 * 1024],
        )
    };
    let over = request(None, vec![filler(0), filler(1), filler(2), record.clone()]);
    let response = server
        .post_raw(Some(&token), serde_json::to_vec(&over).unwrap())
        .await;
    assert_eq!(response.status(), 413);
    assert!(server.storage.records().unwrap().is_empty());
    let refused = server.audit("push-refused");
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[1].detail["reason"], "too-large");
    // The last record may cross it, as an honest device's does.
    let crossing = request(None, vec![filler(0), filler(1), record.clone()]);
    let answer = server.sync(&token, &crossing).await;
    assert_eq!(answer.acknowledged.len(), 1);
    assert_eq!(answer.rejected.len(), 2, "the filler is not Automerge");
}

#[tokio::test]
async fn a_new_record_repeating_a_reference_or_forging_its_header_is_refused_and_audited() {
    let (server, _) = station().await;
    let token = server.device("PC1", "Lewisham").await;
    let other = server.device("PC2", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let first = new_search(&nb);
    let first_reference = nb.get(first.record_id.clone()).unwrap().header.reference;
    server.sync(&token, &request(None, vec![first])).await;

    let header = ["header"];
    let author = ["header", "author"];
    let twin = new_search(&nb);
    let twin = PushedRecord {
        changes: rewritten(&twin.changes, |doc| {
            let h = object(doc, &header);
            doc.put(&h, "reference", first_reference.as_str()).unwrap();
        }),
        ..twin
    };
    let renamed = new_search(&nb);
    let renamed = PushedRecord {
        changes: rewritten(&renamed.changes, |doc| {
            let a = object(doc, &author);
            doc.put(&a, "name", "Chief Superintendent").unwrap();
        }),
        ..renamed
    };
    let moved = new_search(&nb);
    let moved = PushedRecord {
        changes: rewritten(&moved.changes, |doc| {
            let a = object(doc, &author);
            doc.put(&a, "station", "Scotland Yard").unwrap();
        }),
        ..moved
    };
    let honest = new_search(&nb);
    let answer = server
        .sync(
            &token,
            &request(None, vec![twin, renamed, moved, honest.clone()]),
        )
        .await;
    assert_eq!(answer.acknowledged.len(), 1);
    assert_eq!(answer.acknowledged[0].record_id, honest.record_id);
    let refused: Vec<(RejectionCode, &str)> = answer
        .rejected
        .iter()
        .map(|r| (r.code, r.message.as_str()))
        .collect();
    assert_eq!(refused[0].0, RejectionCode::Forbidden);
    assert!(refused[0].1.starts_with("reference:"), "{}", refused[0].1);
    assert!(refused[1..].iter().all(|(code, message)| {
        *code == RejectionCode::Forbidden && message.starts_with("author:")
    }));
    assert_eq!(server.storage.records().unwrap().len(), 2);
    assert_eq!(server.audit("push-refused").len(), 3);
    // Nothing the device typed reaches the trail.
    let trail = serde_json::to_string(&server.audit("push-refused")[2].detail).unwrap();
    assert!(!trail.contains("Scotland Yard"));
    still_serving(&server, &other).await;
}
