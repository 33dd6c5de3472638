//! Enrolment codes work once, before they expire; tokens authenticate.

use pocketbook_core::sync::wire::*;
use serde_json::json;

use crate::support::*;

async fn enrol(server: &TestServer, code: &str) -> reqwest::Response {
    server
        .http
        .post(server.url(ENROL_PATH))
        .json(&json!({"protocol": 1, "code": code, "device_label": "phone"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_code_works_once_and_gives_a_token_that_is_stored_hashed() {
    let server = TestServer::start().await;
    server.add_officer("PC1", "Lewisham");
    let code = server.code("PC1", 600);
    let response = enrol(&server, &code.to_lowercase()).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["officer"]["shoulder_number"], "PC1");
    let token = body["token"].as_str().unwrap();
    assert!(token.len() >= 43);

    let again = enrol(&server, &code).await;
    assert_eq!(again.status(), 400);
    let error: ErrorBody = again.json().await.unwrap();
    assert_eq!(error.error, "enrolment-code-refused");

    // The store holds no token in clear.
    let db = std::fs::read(server.dir.path().join("server.db")).unwrap();
    let wal = std::fs::read(server.dir.path().join("server.db-wal")).unwrap_or_default();
    let haystack = [db, wal].concat();
    assert!(!haystack.windows(token.len()).any(|w| w == token.as_bytes()));

    let ok = server.sync(token, &request(None, vec![])).await;
    assert!(ok.changes.is_empty());
}

#[tokio::test]
async fn expired_unknown_and_malformed_codes_are_refused_alike() {
    let server = TestServer::start().await;
    server.add_officer("PC1", "Lewisham");
    let expired = server.code("PC1", -1);
    for code in [expired.as_str(), "ZZZZZ-ZZZZZ", "not a code", ""] {
        let response = enrol(&server, code).await;
        assert_eq!(response.status(), 400, "{code}");
        let error: ErrorBody = response.json().await.unwrap();
        assert_eq!(error.error, "enrolment-code-refused", "{code}");
    }
    let unknown_field = server
        .http
        .post(server.url(ENROL_PATH))
        .json(&json!({"protocol": 1, "code": "ZZZZZ-ZZZZZ", "officer": "PC1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_field.status(), 400);
}

#[tokio::test]
async fn sync_needs_a_known_bearer_token() {
    let server = TestServer::start().await;
    let body = serde_json::to_vec(&request(None, vec![])).unwrap();
    for token in [None, Some("made-up-token"), Some("")] {
        let response = server.post_raw(token, body.clone()).await;
        assert_eq!(response.status(), 401, "{token:?}");
        let error: ErrorBody = response.json().await.unwrap();
        assert_eq!(error.error, "unauthorised");
    }
    let basic = server
        .http
        .post(server.url(SYNC_PATH))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
}
