//! Closing a device's credential over HTTP: revoked (lost or stolen),
//! retired (handed back), and an officer deactivated. Closed devices are
//! told to wipe; unknown tokens only refused; every step audited.

use pocketbook_core::sync::wire::*;
use pocketbook_server::identity::{RevokeReason, Role};

use crate::support::*;

async fn refusal(server: &TestServer, path: &str, token: &str, body: Vec<u8>) -> (u16, ErrorBody) {
    let response = server.post_to(path, Some(token), body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn empty_sync() -> Vec<u8> {
    serde_json::to_vec(&request(None, vec![])).unwrap()
}

fn retire_body() -> Vec<u8> {
    serde_json::to_vec(&RetireRequest {
        protocol: PROTOCOL_VERSION,
    })
    .unwrap()
}

#[tokio::test]
async fn a_revoked_device_is_refused_and_told_to_wipe() {
    let server = TestServer::start().await;
    let lost = server.enrol("PC1", "Lewisham", Role::Officer).await;
    let kept = server.enrol("PC1", "Lewisham", Role::Officer).await;
    server.sync(&lost.token, &request(None, vec![])).await;

    server.admin().revoke_device(&lost.device_id).unwrap();
    let (status, body) = refusal(&server, SYNC_PATH, &lost.token, empty_sync()).await;
    assert_eq!(status, 401);
    assert_eq!(body.error, "device-revoked");
    assert!(body.wipe);
    // Pushing changes does not get them in either.
    let (_d, nb) = notebook("PC1");
    let push = serde_json::to_vec(&request(None, vec![new_search(&nb)])).unwrap();
    let (status, _) = refusal(&server, SYNC_PATH, &lost.token, push).await;
    assert_eq!(status, 401);
    assert!(
        server.storage.records().unwrap().is_empty(),
        "nothing written"
    );

    // The officer's other device carries on.
    server.sync(&kept.token, &request(None, vec![])).await;
    // An unknown token is refused but never told to wipe.
    let (status, body) = refusal(&server, SYNC_PATH, "not-a-token", empty_sync()).await;
    assert_eq!(
        (status, body.error.as_str(), body.wipe),
        (401, "unauthorised", false)
    );

    // Revoking twice says so; an unknown id says where to look.
    let again = server.admin().revoke_device(&lost.device_id).unwrap_err();
    assert!(again.to_string().contains("already revoked"), "{again}");
    let unknown = server.admin().revoke_device("nope").unwrap_err();
    assert!(
        unknown.to_string().contains("admin device list"),
        "{unknown}"
    );

    let revoked = server.audit("device-revoked");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].actor, "admin");
    assert_eq!(revoked[0].detail["device"], lost.device_id.as_str());
    // Two contacts, one event: a closed device is audited once an hour
    // (its later contacts go into the window's summary, `closed.rs`).
    assert_eq!(server.audit("wipe-instructed").len(), 1);
}

#[tokio::test]
async fn a_retiring_device_uploads_then_confirms_and_is_closed() {
    let server = TestServer::start().await;
    let device = server.enrol("PC1", "Lewisham", Role::Officer).await;
    // Not marked yet: confirming is refused.
    let (status, body) = refusal(&server, RETIRE_PATH, &device.token, retire_body()).await;
    assert_eq!((status, body.error.as_str()), (409, "not-retiring"));

    server.admin().retire_device(&device.device_id).unwrap();
    // It still syncs, and is told to retire: what it pushes is kept.
    let (_d, nb) = notebook("PC1");
    let answer = server
        .sync(&device.token, &request(None, vec![new_search(&nb)]))
        .await;
    assert!(answer.retire);
    assert_eq!(answer.acknowledged.len(), 1);

    let confirmed = server
        .post_to(RETIRE_PATH, Some(&device.token), retire_body())
        .await;
    assert_eq!(confirmed.status(), 204);
    let (status, body) = refusal(&server, SYNC_PATH, &device.token, empty_sync()).await;
    assert_eq!(
        (status, body.error.as_str(), body.wipe),
        (401, "device-retired", true)
    );
    assert_eq!(
        server.storage.records().unwrap().len(),
        1,
        "the upload stays"
    );
    let devices = server.storage.devices().unwrap();
    assert_eq!(devices[0].revoke_reason, Some(RevokeReason::Retired));
    assert_eq!(server.audit("device-retire-requested").len(), 1);
    assert_eq!(server.audit("device-retired").len(), 1);
}

#[tokio::test]
async fn deactivating_an_officer_revokes_every_device_of_theirs() {
    let server = TestServer::start().await;
    let a = server.enrol("PC1", "Lewisham", Role::Officer).await;
    let b = server.enrol("PC1", "Lewisham", Role::Officer).await;
    let other = server.enrol("PC2", "Lewisham", Role::Officer).await;
    let revoked = server.admin().deactivate_officer("PC1").unwrap();
    assert_eq!(revoked.len(), 2);
    for token in [&a.token, &b.token] {
        let (status, body) = refusal(&server, SYNC_PATH, token, empty_sync()).await;
        assert_eq!((status, body.wipe), (401, true));
    }
    server.sync(&other.token, &request(None, vec![])).await;
    // No new device for an inactive officer.
    assert!(server.admin().issue_enrolment_code("PC1", 15).is_err());
    assert!(server.admin().deactivate_officer("PC1").is_err());
}

#[tokio::test]
async fn enrolment_is_audited_including_refused_codes() {
    let server = TestServer::start().await;
    let device = server.enrol("PC1", "Lewisham", Role::Officer).await;
    let enrolled = server.audit("device-enrolled");
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0].actor, format!("device:{}", device.device_id));
    let response = server
        .http
        .post(server.url(ENROL_PATH))
        .json(&EnrolRequest {
            protocol: PROTOCOL_VERSION,
            code: "ABCDE-FGHJK".into(),
            device_label: "guess".into(),
            notebook_officer: None,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let refused = server.audit("enrolment-refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].actor, "public");
}
