//! Strings a device chooses that reach the store as they are: a device's
//! label at enrolment and the record ids of a push. A hostile one (a NUL,
//! which PostgreSQL cannot store in text and refused with a 503; terminal
//! escapes, which `admin device list` and `admin records list` would print
//! to the admin's terminal; an id longer than a device will accept in a
//! list of legal holds) gets a precise 400, on both backends, and nothing
//! is written: the enrolment code still works, no record is stored.
//!
//! Each test runs on SQLite and, when a test database is configured
//! (`POCKETBOOK_TEST_DATABASE_URL`), on PostgreSQL.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc};
use pocketbook_core::model::RecordKind;
use pocketbook_core::sync::wire::*;
use serde_json::json;

use crate::support::*;

/// The servers a test runs on: SQLite, and PostgreSQL when there is one.
async fn servers() -> Vec<TestServer> {
    let mut servers = vec![TestServer::start().await];
    servers.extend(TestServer::start_on_postgres().await);
    servers
}

async fn enrol(server: &TestServer, code: &str, label: &str) -> (u16, serde_json::Value) {
    let response = server
        .http
        .post(server.url(ENROL_PATH))
        .json(&json!({"protocol": PROTOCOL_VERSION, "code": code, "device_label": label}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_label_with_control_characters_is_refused_and_the_code_still_works() {
    for server in servers().await {
        server.add_officer("PC1", "Lewisham");
        let code = server.code("PC1", 600);
        for label in [
            "Jo\u{0}phone",
            "\u{1b}[2J\u{1b}[Hfake admin output",
            "two\nlines",
        ] {
            let (status, body) = enrol(&server, &code, label).await;
            assert_eq!(status, 400, "{label:?}: {body}");
            assert_eq!(body["error"], "malformed", "{body}");
            assert!(
                body["message"].as_str().unwrap().contains("device_label"),
                "{body}"
            );
        }
        // Nothing was redeemed: the code enrols an honest label, once.
        let (status, body) = enrol(&server, &code, "Pixel 8 (spare) — café").await;
        assert_eq!(status, 200, "{body}");
        let devices = off_runtime(|| server.storage.devices().unwrap());
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].label, "Pixel 8 (spare) — café");
        assert_eq!(server.audit("device-enrolled").len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_naming_a_record_id_no_device_makes_is_refused_whole() {
    for server in servers().await {
        let token = server.device("PC1", "Lewisham").await;
        let (_dir, nb) = notebook("PC1");
        let honest = new_search(&nb);
        let hostile_ids = [
            String::new(),
            "a\u{0}b".to_string(),
            "\u{1b}]0;pwned\u{7}".to_string(),
            "with space".to_string(),
            "x".repeat(MAX_RECORD_ID_LEN + 1),
        ];
        for id in &hostile_ids {
            let push = PushedRecord {
                record_id: id.clone(),
                ..honest.clone()
            };
            let body = serde_json::to_vec(&request(None, vec![honest.clone(), push])).unwrap();
            let response = server.post_raw(Some(&token), body).await;
            let status = response.status().as_u16();
            let error: ErrorBody = response.json().await.unwrap();
            assert_eq!(status, 400, "{id:?}: {error:?}");
            assert_eq!(error.error, "malformed");
            assert!(error.message.contains("record id"), "{}", error.message);
        }
        // Nothing of those pushes was stored, each refusal audited without
        // the id; the honest record alone is accepted.
        assert!(off_runtime(|| server.storage.records().unwrap()).is_empty());
        let refused = server.audit("push-refused");
        assert_eq!(refused.len(), hostile_ids.len());
        assert!(refused.iter().all(|e| e.record_id.is_none()));
        let answer = server.sync(&token, &request(None, vec![honest])).await;
        assert_eq!(answer.acknowledged.len(), 1, "{:?}", answer.rejected);
        // The longest id a device accepts is accepted here.
        let longest = PushedRecord {
            record_id: "x".repeat(MAX_RECORD_ID_LEN),
            ..new_search(&nb)
        };
        let answer = server.sync(&token, &request(None, vec![longest])).await;
        assert_eq!(answer.rejected[0].code, RejectionCode::Corrupt);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_colleague_named_with_control_characters_is_refused_for_that_record() {
    for server in servers().await {
        let token = server.device("PC1", "Lewisham").await;
        let (_dir, nb) = notebook("PC1");
        let id = nb.create_scene(scene()).unwrap().header.id;
        nb.add_attending_officer(id.clone(), "PC9".into()).unwrap();
        let honest = nb.export(id.clone()).unwrap();
        // A device that names its colleague with a NUL (which PostgreSQL
        // cannot store as a reader: a 503 before) or a terminal escape.
        for name in ["PC\u{0}9", "\u{1b}[2J"] {
            let mut doc = AutoCommit::load(&honest).unwrap();
            let mut obj = ROOT;
            for key in ["body", "SceneAttendance", "scene", "attending"] {
                obj = doc.get(&obj, key).unwrap().unwrap().1;
            }
            doc.put(&obj, name, true).unwrap();
            let push = PushedRecord {
                record_id: id.clone(),
                kind: RecordKind::SceneAttendance,
                changes: doc.save_after(&[]),
            };
            let answer = server.sync(&token, &request(None, vec![push])).await;
            assert_eq!(answer.rejected.len(), 1, "{name:?}: {answer:?}");
            assert_eq!(answer.rejected[0].code, RejectionCode::Invalid);
            assert!(
                answer.rejected[0]
                    .message
                    .contains("attending: control characters are not allowed"),
                "{}",
                answer.rejected[0].message
            );
        }
        assert!(off_runtime(|| server.storage.records().unwrap()).is_empty());
        // The record as the officer's app made it is accepted and shared.
        let push = PushedRecord {
            record_id: id.clone(),
            kind: RecordKind::SceneAttendance,
            changes: AutoCommit::load(&honest).unwrap().save_after(&[]),
        };
        let answer = server.sync(&token, &request(None, vec![push])).await;
        assert_eq!(answer.acknowledged.len(), 1, "{:?}", answer.rejected);
        let stored = off_runtime(|| server.storage.record(&id).unwrap().unwrap());
        assert_eq!(stored.readers, vec!["PC9".to_string()]);
    }
}
