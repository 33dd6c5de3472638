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
    let day = day();
    let odd = [
        format!("{day}t14:05:00Z"),
        format!("{day}T14:05:00z"),
        format!(" {day}T14:05:00Z"),
        format!("{day}T14:05:60Z"),
        format!("{day}T14:05:00-00:00"),
    ];
    // The clock reads noon the day after: 6 hours ahead is the limit,
    // and a search older than its 12 months would only be erased again.
    let edge = pocketbook_fixtures::text(retention_edge());
    let implausible = [
        from_today(6 * 3600 + 1),
        "2099-01-01T00:00:00Z".to_string(),
        pocketbook_fixtures::text(retention_edge() - TimeDelta::seconds(1)),
    ];
    let fine = [
        from_today(6 * 3600),
        format!("{day}T15:05:00+01:00"),
        format!("{day}T14:05:00.250Z"),
        edge.clone(),
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
        answer.server_time,
        Some(
            today()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .to_string()
        )
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
    let search_at = pocketbook_fixtures::at_text(14, 5);
    assert_eq!(
        stored,
        vec![edge, search_at.clone(), search_at, from_today(6 * 3600)]
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
        doc.put(&s, "arrived", format!("{}t10:09:00Z", day))
            .unwrap();
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
        doc.put(
            &s,
            "datetime",
            pocketbook_fixtures::day_time(-30, 9, 0, 0).as_str(),
        )
        .unwrap();
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
    assert_eq!(now.index.occurred_at, pocketbook_fixtures::at_text(14, 5));
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

/// A response target is computed from the call and arrival times, both a
/// handset's: the server refuses an arrival or departure it received hours
/// before it says it happened (docs/clocks.md), for that record alone.
#[tokio::test]
async fn an_arrival_later_than_the_server_received_it_is_refused() {
    let (server, _) = station().await;
    let token = server.device("PC1", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let scene_id = nb.create_scene(scene()).unwrap().header.id;
    let whole = nb.export(scene_id.clone()).unwrap();
    let created = server
        .sync(
            &token,
            &request(
                None,
                vec![push(&scene_id, RecordKind::SceneAttendance, whole.clone())],
            ),
        )
        .await;
    assert_eq!(created.acknowledged.len(), 1, "{}", refusals(&created));
    let at = |field: &'static str, time: String| {
        changed(&whole, move |doc| {
            let s = object(doc, SCENE);
            if field == "left" {
                // Leaving needs an arrival first (on time).
                doc.put(&s, "arrived", from_today(0)).unwrap();
            }
            doc.put(&s, field, time).unwrap();
        })
    };
    for field in ["arrived", "left"] {
        let late = at(field, from_today(6 * 3600 + 1));
        let answer = server
            .sync(
                &token,
                &request(
                    None,
                    vec![push(&scene_id, RecordKind::SceneAttendance, late)],
                ),
            )
            .await;
        assert_eq!(answer.rejected.len(), 1, "{field}");
        assert_eq!(answer.rejected[0].code, RejectionCode::Invalid);
        assert!(
            answer.rejected[0].message.starts_with(&format!(
                "{field}: more than 6 hours after the server's time"
            )),
            "{}",
            answer.rejected[0].message
        );
    }
    let stored = server.storage.record(&scene_id).unwrap().unwrap();
    assert_eq!(stored.version, 1, "nothing written");
    // A handset a few hours fast is within the tolerance.
    let fast = at("arrived", from_today(6 * 3600));
    let answer = server
        .sync(
            &token,
            &request(
                None,
                vec![push(&scene_id, RecordKind::SceneAttendance, fast)],
            ),
        )
        .await;
    assert_eq!(answer.acknowledged.len(), 1, "{}", refusals(&answer));
}

/// Before its receipt is recorded an encounter's time may be corrected,
/// but never moved past the record's making: months later, a `datetime` of
/// "now" (plausible by the server's clock) would put off the record's
/// erasure by as long. The making is the server's to bound: a `created_at`
/// ahead of the server's clock is indexed as the time it arrived.
#[tokio::test]
async fn an_encounter_time_cannot_move_past_the_records_making() {
    let (server, ahead) = station().await;
    let token = server.device("PC1", "Lewisham").await;
    let (_d, nb) = notebook("PC1");
    let dated = |whole: &[u8], datetime: String| {
        changed(whole, |doc| {
            let s = object(doc, SEARCH);
            doc.put(&s, "datetime", datetime).unwrap();
        })
    };
    let sync_one = |id: String, changes: Vec<u8>| {
        let server = &server;
        let token = &token;
        async move {
            server
                .sync(
                    token,
                    &request(None, vec![push(&id, RecordKind::StopSearch, changes)]),
                )
                .await
        }
    };

    // A search pushed today, its receipt not yet recorded.
    let id = nb.create_stop_search(stop_search()).unwrap().header.id;
    let whole = nb.export(id.clone()).unwrap();
    assert_eq!(
        sync_one(id.clone(), whole.clone()).await.acknowledged.len(),
        1
    );

    // 330 days on, its author moves the encounter to "now": refused, kept.
    ahead.store(TimeDelta::days(330).num_seconds(), Ordering::SeqCst);
    let later = dated(&whole, from_today(TimeDelta::days(330).num_seconds()));
    let answer = sync_one(id.clone(), later).await;
    assert_eq!(answer.rejected.len(), 1, "{answer:?}");
    assert_eq!(answer.rejected[0].code, RejectionCode::Invalid);
    assert!(
        answer.rejected[0]
            .message
            .starts_with("datetime: more than 6 hours after the record was made"),
        "{}",
        answer.rejected[0].message
    );
    let stored = server.storage.record(&id).unwrap().unwrap();
    assert_eq!(
        stored.index.occurred_at,
        pocketbook_fixtures::at_text(14, 5)
    );
    // A correction (an hour later than entered, still before the record
    // was made) is accepted.
    let corrected = dated(&whole, pocketbook_fixtures::at_text(15, 5));
    assert_eq!(sync_one(id.clone(), corrected).await.acknowledged.len(), 1);
    let stored = server.storage.record(&id).unwrap().unwrap();
    assert_eq!(
        stored.index.occurred_at,
        pocketbook_fixtures::at_text(15, 5)
    );

    // A record claiming to be made 300 days ahead of the server's clock is
    // indexed as made when it arrived, so it cannot be moved later either.
    ahead.store(0, Ordering::SeqCst);
    let forged = nb.create_stop_search(stop_search()).unwrap().header.id;
    let whole = rewritten(&nb.export(forged.clone()).unwrap(), |doc| {
        let header = object(doc, &["header"]);
        doc.put(
            &header,
            "created_at",
            from_today(TimeDelta::days(300).num_seconds()),
        )
        .unwrap();
    });
    assert_eq!(
        sync_one(forged.clone(), whole.clone())
            .await
            .acknowledged
            .len(),
        1
    );
    let made = server
        .storage
        .record(&forged)
        .unwrap()
        .unwrap()
        .index
        .created_at;
    assert_eq!(
        DateTime::parse_from_rfc3339(&made).unwrap(),
        today(),
        "indexed as made when it arrived"
    );
    ahead.store(TimeDelta::days(100).num_seconds(), Ordering::SeqCst);
    let later = dated(&whole, from_today(TimeDelta::days(100).num_seconds()));
    let answer = sync_one(forged.clone(), later).await;
    assert_eq!(answer.rejected.len(), 1, "{answer:?}");
    assert!(
        answer.rejected[0]
            .message
            .starts_with("datetime: more than 6 hours")
    );
}
