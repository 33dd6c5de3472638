//! Two protocol versions at once: a device of protocol 2 hears its
//! officer's role and station at enrolment and in every sync answer; a
//! device of protocol 1 (an app not yet updated) is still served, in its
//! own version and without the fields it does not know, and its records of
//! the previous schema are accepted as they are.

use pocketbook_core::rules::Role;
use pocketbook_core::sync::wire::*;
use serde_json::json;

use crate::support::*;

async fn enrol_raw(server: &TestServer, protocol: u32, code: &str) -> serde_json::Value {
    let response = server
        .http
        .post(server.url(ENROL_PATH))
        .json(&json!({"protocol": protocol, "code": code, "device_label": "phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn sync_raw(server: &TestServer, token: &str, protocol: u32) -> serde_json::Value {
    let body = json!({"protocol": protocol, "cursor": 0, "push": []});
    let response = server
        .post_raw(Some(token), serde_json::to_vec(&body).unwrap())
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_current_protocol_carries_role_and_station() {
    let server = TestServer::start().await;
    server.add_officer_as("PS1", "Lewisham", Role::Supervisor);
    let code = server.code("PS1", 600);
    let enrolled = enrol_raw(&server, PROTOCOL_VERSION, &code).await;
    assert_eq!(enrolled["protocol"], PROTOCOL_VERSION);
    assert_eq!(
        enrolled["access"],
        json!({"role": "supervisor", "station": "Lewisham"})
    );
    let token = enrolled["token"].as_str().unwrap();
    let answer: SyncResponse =
        serde_json::from_value(sync_raw(&server, token, PROTOCOL_VERSION).await).unwrap();
    assert_eq!(answer.protocol, PROTOCOL_VERSION);
    assert_eq!(
        answer.access,
        Some(Access {
            role: Role::Supervisor,
            station: "Lewisham".into()
        })
    );
}

#[tokio::test]
async fn a_device_of_the_previous_protocol_is_still_served() {
    let server = TestServer::start().await;
    server.add_officer("PC1", "Lewisham");
    let code = server.code("PC1", 600);
    let enrolled = enrol_raw(&server, 1, &code).await;
    assert_eq!(enrolled["protocol"], 1);
    assert!(enrolled.get("access").is_none(), "{enrolled}");
    let token = enrolled["token"].as_str().unwrap();

    // It pushes a record and syncs in its own version.
    let (_dir, nb) = notebook("PC1");
    let push = new_search(&nb);
    let mut old = request(None, vec![push]);
    old.protocol = 1;
    let answer = server.sync(token, &old).await;
    assert_eq!(answer.protocol, 1);
    assert_eq!(answer.acknowledged.len(), 1, "{answer:?}");
    assert_eq!(answer.access, None);
    let raw = sync_raw(&server, token, 1).await;
    assert!(raw.get("access").is_none(), "{raw}");

    // Retiring speaks it too.
    let retire = server
        .post_to(
            RETIRE_PATH,
            Some(token),
            serde_json::to_vec(&json!({"protocol": 1})).unwrap(),
        )
        .await;
    assert_eq!(retire.status(), 409, "not marked for handing back");
}

/// The schema version a stored document carries.
fn schema_version(bytes: &[u8]) -> u64 {
    use automerge::ReadDoc;
    let doc = automerge::AutoCommit::load(bytes).unwrap();
    match doc
        .get(automerge::ROOT, "schema_version")
        .unwrap()
        .unwrap()
        .0
    {
        automerge::Value::Scalar(s) => s.as_u64().unwrap(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_handset_on_the_previous_app_syncs_with_this_server() {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT, ReadDoc};
    use pocketbook_core::model::RecordKind;
    use pocketbook_fixtures::{as_change_chunks, legacy::v1_burglary, officer};

    let server = TestServer::start().await;
    server.add_officer("PC1", "Lewisham");

    // The handset not yet updated: protocol 1, records of schema 1 (notes
    // as Automerge text, the checklist a map).
    let old = enrol_raw(&server, 1, &server.code("PC1", 600)).await;
    let old_token = old["token"].as_str().unwrap().to_string();
    let (v1, id) = v1_burglary(&officer("PC1"));
    let mut push = request(
        None,
        vec![PushedRecord {
            record_id: id.clone(),
            kind: RecordKind::HomeBurglary,
            changes: as_change_chunks(v1.clone()),
        }],
    );
    push.protocol = 1;
    let answer = server.sync(&old_token, &push).await;
    assert_eq!(answer.protocol, 1);
    assert_eq!(answer.acknowledged.len(), 1, "{answer:?}");
    let old_cursor = answer.cursor;
    // Kept as it was written: never rewritten to the new schema.
    let stored = server.storage.record(&id).unwrap().unwrap();
    assert_eq!(schema_version(&stored.snapshot), 1);

    // The officer's updated handset reads it (its notes as one legacy
    // entry) and appends a note entry, which the server accepts.
    let new_token = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    nb.import(v1.clone()).unwrap();
    let read = nb.get(id.clone()).unwrap();
    assert_eq!(read.body.notes()[0].text, "Rear door forced");
    nb.add_note(id.clone(), "Neighbour saw a van".into())
        .unwrap();
    let known = AutoCommit::load(&stored.snapshot).unwrap().get_heads();
    let appended = AutoCommit::load(&nb.export(id.clone()).unwrap())
        .unwrap()
        .save_after(&known);
    let answer = server
        .sync(
            &new_token,
            &request(
                None,
                vec![PushedRecord {
                    record_id: id.clone(),
                    kind: RecordKind::HomeBurglary,
                    changes: appended,
                }],
            ),
        )
        .await;
    assert_eq!(answer.acknowledged.len(), 1, "{answer:?}");

    // The old handset hears of it in its own protocol.
    let mut pull = request(Some(old_cursor), vec![]);
    pull.protocol = 1;
    let answer = server.sync(&old_token, &pull).await;
    assert_eq!(answer.protocol, 1);
    assert!(
        answer.changes.iter().any(|entry| entry.record_id == id),
        "{answer:?}"
    );

    // What the old app still does, rewriting its notes text in place, is
    // an alteration of evidence: refused for that record, with a reason.
    let now = server.storage.record(&id).unwrap().unwrap().snapshot;
    let mut old_app = AutoCommit::load(&now).unwrap();
    let (_, body) = old_app.get(ROOT, "body").unwrap().unwrap();
    let (_, variant) = old_app.get(&body, "HomeBurglary").unwrap().unwrap();
    let (_, scene) = old_app.get(&variant, "scene").unwrap().unwrap();
    let (_, notes) = old_app.get(&scene, "notes").unwrap().unwrap();
    let before = old_app.get_heads();
    old_app.splice_text(&notes, 0, 4, "Front").unwrap();
    let mut rewrite = request(
        None,
        vec![PushedRecord {
            record_id: id.clone(),
            kind: RecordKind::HomeBurglary,
            changes: old_app.save_after(&before),
        }],
    );
    rewrite.protocol = 1;
    let answer = server.sync(&old_token, &rewrite).await;
    assert_eq!(answer.rejected.len(), 1, "{answer:?}");
    assert_eq!(answer.rejected[0].code, RejectionCode::Forbidden);
    assert!(answer.rejected[0].message.contains("altered"), "{answer:?}");
}
