//! Hostile and broken input: a precise 4xx or a per-record refusal, nothing
//! partly written, and the server keeps serving.

use std::io::Write;

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use pocketbook_core::model::RecordKind;
use pocketbook_core::sync::wire::*;

use crate::support::*;

async fn error_of(response: reqwest::Response) -> (u16, ErrorBody) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn malformed_truncated_and_mistyped_bodies_get_400() {
    let server = TestServer::start().await;
    let token = server.device("PC1", "Lewisham").await;
    let valid = serde_json::to_vec(&request(Some(3), vec![])).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not json".to_vec(), "invalid JSON"),
        (valid[..valid.len() - 3].to_vec(), "invalid JSON"),
        (br#"{"cursor": 1}"#.to_vec(), "missing field `protocol`"),
        (br#"{"protocol": "one"}"#.to_vec(), "`protocol` must be a number"),
        (
            br#"{"protocol": 1, "push": [{"record_id": "x", "kind": "parking-ticket", "changes": ""}]}"#
                .to_vec(),
            "unknown RecordKind \"parking-ticket\"",
        ),
        (
            br#"{"protocol": 1, "push": [{"record_id": "x", "kind": "stop-search", "changes": "%%%"}]}"#
                .to_vec(),
            "invalid base64",
        ),
        (br#"{"protocol": 1, "cursor": -5}"#.to_vec(), "invalid request"),
    ];
    for (body, expected) in cases {
        let (status, error) = error_of(server.post_raw(Some(&token), body).await).await;
        assert_eq!(status, 400, "{expected}");
        assert_eq!(error.error, "malformed");
        assert!(
            error.message.contains(expected),
            "{} vs {expected}",
            error.message
        );
    }
    // Still serving.
    server.sync(&token, &request(None, vec![])).await;
}

#[tokio::test]
async fn another_protocol_version_gets_426_with_what_is_supported() {
    let server = TestServer::start().await;
    let token = server.device("PC1", "Lewisham").await;
    let next = PROTOCOL_VERSION + 1;
    let body = format!(r#"{{"protocol": {next}, "cursor": 0, "push": [], "new_field": true}}"#);
    let (status, error) = error_of(server.post_raw(Some(&token), body.into_bytes()).await).await;
    assert_eq!(status, 426);
    assert_eq!(error.error, "unsupported-protocol");
    assert_eq!(error.supported_protocols, SUPPORTED_PROTOCOLS.to_vec());
}

#[tokio::test]
async fn oversized_bodies_and_gzip_bombs_get_413() {
    let server = TestServer::start().await;
    let token = server.device("PC1", "Lewisham").await;
    // Refused from its Content-Length, before the body is read (the server
    // may close the connection while the client is still sending).
    let huge = vec![b' '; MAX_REQUEST_BYTES + 10];
    assert_eq!(server.post_raw(Some(&token), huge).await.status(), 413);

    let bomb = gzip(&vec![b' '; MAX_REQUEST_BYTES + 1024]);
    assert!(bomb.len() < 100_000);
    let response = server
        .http
        .post(server.url(SYNC_PATH))
        .bearer_auth(&token)
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    let not_gzip = server
        .http
        .post(server.url(SYNC_PATH))
        .bearer_auth(&token)
        .header("content-encoding", "gzip")
        .body(b"plain".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(not_gzip.status(), 400);

    let too_many = request(
        None,
        (0..=MAX_PUSH_RECORDS)
            .map(|i| PushedRecord {
                record_id: format!("r{i}"),
                kind: RecordKind::StopSearch,
                changes: vec![],
            })
            .collect(),
    );
    let (status, _) = error_of(
        server
            .post_raw(Some(&token), serde_json::to_vec(&too_many).unwrap())
            .await,
    )
    .await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn a_corrupt_record_is_refused_alone_and_the_rest_of_the_batch_stands() {
    let server = TestServer::start().await;
    let token = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let good = new_search(&nb);
    let corrupt = PushedRecord {
        record_id: "c0ffee".into(),
        kind: RecordKind::StopSearch,
        changes: b"\x85\x6f\x4a\x83 definitely not automerge".to_vec(),
    };
    let mut foreign = automerge::AutoCommit::new();
    foreign.put(automerge::ROOT, "title", "shopping").unwrap();
    let not_ours = PushedRecord {
        record_id: "f00d".into(),
        kind: RecordKind::StopSearch,
        changes: foreign.save_after(&[]),
    };
    let response = server
        .sync(
            &token,
            &request(None, vec![corrupt, good.clone(), not_ours]),
        )
        .await;
    assert_eq!(response.acknowledged.len(), 1);
    assert_eq!(response.acknowledged[0].record_id, good.record_id);
    let codes: Vec<_> = response
        .rejected
        .iter()
        .map(|r| (r.record_id.as_str(), r.code))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("c0ffee", RejectionCode::Corrupt),
            ("f00d", RejectionCode::Corrupt)
        ]
    );
    assert_eq!(server.storage.records().unwrap().len(), 1);
}

/// Edits a stop and search document behind the API's back.
fn tampered(
    bytes: &[u8],
    edit: impl FnOnce(&mut automerge::AutoCommit, &automerge::ObjId),
) -> Vec<u8> {
    let mut doc = automerge::AutoCommit::load(bytes).unwrap();
    let (_, body) = doc.get(automerge::ROOT, "body").unwrap().unwrap();
    let (_, variant) = doc.get(&body, "StopSearch").unwrap().unwrap();
    let (_, search) = doc.get(&variant, "search").unwrap().unwrap();
    edit(&mut doc, &search);
    doc.save_after(&[])
}

#[tokio::test]
async fn an_invalid_record_is_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let token = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let mut push = new_search(&nb);
    push.changes = tampered(&push.changes, |doc, search| {
        doc.put(search, "grounds", "").unwrap();
        doc.put(search, "search_type", "Vehicle search").unwrap();
    });
    let response = server
        .sync(&token, &request(None, vec![push.clone()]))
        .await;
    assert_eq!(response.rejected.len(), 1);
    assert_eq!(response.rejected[0].code, RejectionCode::Invalid);
    let message = &response.rejected[0].message;
    assert!(message.contains("grounds: required"), "{message}");
    assert!(message.contains("vehicle_registration"), "{message}");
    assert!(server.storage.records().unwrap().is_empty());
    assert!(server.storage.feed_after(0, 10).unwrap().is_empty());

    // A valid record that a later change would break is refused the same way, and kept as it was.
    let good = new_search(&nb);
    server
        .sync(&token, &request(None, vec![good.clone()]))
        .await;
    let broken = tampered(&good.changes, |doc, search| {
        doc.put(search, "grounds", " ").unwrap();
    });
    let response = server
        .sync(
            &token,
            &request(
                None,
                vec![PushedRecord {
                    changes: broken,
                    ..good.clone()
                }],
            ),
        )
        .await;
    assert_eq!(response.rejected[0].code, RejectionCode::Invalid);
    assert_eq!(server.storage.feed_after(0, 10).unwrap().len(), 1);
}

/// A terminal's escape sequence written into a record behind the device's
/// back is refused by the server's run of the same rule the device runs.
#[tokio::test]
async fn a_control_character_in_free_text_is_refused() {
    let server = TestServer::start().await;
    let token = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let mut push = new_search(&nb);
    push.changes = tampered(&push.changes, |doc, search| {
        doc.put(
            search,
            "grounds",
            "Seen passing \u{1b}]0;pwned\u{7}a package",
        )
        .unwrap();
    });
    let response = server.sync(&token, &request(None, vec![push])).await;
    assert_eq!(response.rejected.len(), 1);
    assert_eq!(response.rejected[0].code, RejectionCode::Invalid);
    let message = &response.rejected[0].message;
    assert!(
        message.contains("grounds: holds a control character"),
        "{message}"
    );
    assert!(server.storage.records().unwrap().is_empty());
}

#[tokio::test]
async fn forged_authors_wrong_kinds_and_header_rewrites_are_refused() {
    let server = TestServer::start().await;
    server.add_officer("PC1", "Lewisham");
    let intruder = server.device("PC2", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let forged = new_search(&nb);
    let response = server
        .sync(&intruder, &request(None, vec![forged.clone()]))
        .await;
    assert_eq!(response.rejected[0].code, RejectionCode::Forbidden);

    let owner = server.device("PC1", "Lewisham").await;
    let mut wrong_kind = forged.clone();
    wrong_kind.kind = RecordKind::SceneAttendance;
    let response = server.sync(&owner, &request(None, vec![wrong_kind])).await;
    assert_eq!(response.rejected[0].code, RejectionCode::WrongKind);

    server
        .sync(&owner, &request(None, vec![forged.clone()]))
        .await;
    let mut doc = automerge::AutoCommit::load(&forged.changes).unwrap();
    let (_, header) = doc.get(automerge::ROOT, "header").unwrap().unwrap();
    let (_, author) = doc.get(&header, "author").unwrap().unwrap();
    doc.put(&author, "shoulder_number", "PC2").unwrap();
    let rewrite = PushedRecord {
        changes: doc.save_after(&[]),
        ..forged.clone()
    };
    // Out of scope, the intruder is refused before anything is merged; the
    // author's own device may not rewrite the header either.
    let response = server
        .sync(&intruder, &request(None, vec![rewrite.clone()]))
        .await;
    assert_eq!(response.rejected[0].code, RejectionCode::Forbidden);
    let response = server.sync(&owner, &request(None, vec![rewrite])).await;
    assert_eq!(response.rejected[0].code, RejectionCode::Forbidden);
    assert!(response.rejected[0].message.contains("header"));
    assert_eq!(server.storage.records().unwrap()[0].author, "PC1");
}

#[tokio::test]
async fn changes_without_their_dependencies_are_refused() {
    let server = TestServer::start().await;
    let token = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let push = new_search(&nb);
    let mut doc = automerge::AutoCommit::load(&push.changes).unwrap();
    let before = doc.get_heads();
    let (_, body) = doc.get(automerge::ROOT, "body").unwrap().unwrap();
    doc.put(&body, "extra", 1).unwrap();
    let only_last = doc.save_after(&before);
    let response = server
        .sync(
            &token,
            &request(
                None,
                vec![PushedRecord {
                    changes: only_last,
                    ..push
                }],
            ),
        )
        .await;
    assert_eq!(
        response.rejected[0].code,
        RejectionCode::MissingDependencies
    );
    assert!(server.storage.records().unwrap().is_empty());
}
