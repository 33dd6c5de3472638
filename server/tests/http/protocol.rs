//! Two protocol versions at once: a device of protocol 2 hears its
//! officer's role and station at enrolment and in every sync answer; a
//! device of protocol 1 (an app not yet updated) is still served, in its
//! own version and without the fields it does not know.

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
