//! A stolen handset hammering the server with its revoked token: told to
//! wipe on every contact, but audited once an hour per device, its other
//! contacts counted into the window's summary (each contact used to
//! append a permanent, chained event: a few thousand requests, a few
//! thousand events). Another closed device's first contact is still an
//! event of its own.

use pocketbook_core::sync::wire::*;
use pocketbook_server::identity::Role;

use crate::support::*;

async fn contact(server: &TestServer, token: &str) {
    let response = server
        .post_raw(Some(token), br#"{"protocol": 2}"#.to_vec())
        .await;
    assert_eq!(response.status(), 401);
    let body: ErrorBody = response.json().await.unwrap();
    assert!(body.wipe, "{body:?}");
}

#[tokio::test]
async fn a_closed_device_is_told_to_wipe_every_time_and_audited_once_an_hour() {
    let mut server = TestServer::start().await;
    let stolen = server.enrol("PC1", "Lewisham", Role::Officer).await;
    let handed_back = server.enrol("PC2", "Lewisham", Role::Officer).await;
    server.admin().revoke_device(&stolen.device_id).unwrap();
    server
        .admin()
        .revoke_device(&handed_back.device_id)
        .unwrap();
    for _ in 0..50 {
        contact(&server, &stolen.token).await;
    }
    contact(&server, &handed_back.token).await;

    let single = server.audit("wipe-instructed");
    let actors: Vec<&str> = single.iter().map(|e| e.actor.as_str()).collect();
    assert_eq!(
        actors,
        vec![
            format!("device:{}", stolen.device_id),
            format!("device:{}", handed_back.device_id)
        ]
    );
    // Stopping writes the window's summary: the other 49, by device.
    server.server.take().unwrap().shutdown().await.unwrap();
    let summary: Vec<_> = server
        .audit("wipe-instructed")
        .into_iter()
        .filter(|e| e.detail.get("summary").is_some())
        .collect();
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert_eq!(summary[0].detail["count"], 49);
    assert_eq!(summary[0].detail["keys"][&stolen.device_id], 49);
}
