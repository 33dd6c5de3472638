//! Pin rotation end to end, over HTTPS on loopback: a device enrolled by
//! link trusts the server's key; the server announces the pin of its next
//! key in sync answers; it moves to that key (new certificate files and
//! SIGHUP, as an operator does) and the device still syncs. A device that
//! never heard the announcement is refused during the handshake with a
//! typed TLS error, and keeps its records.

use pocketbook_core::ApiError;
use pocketbook_core::sync::client::OfflineCause;
use pocketbook_tests::inputs::*;
use pocketbook_tests::{Serving, Station};

#[tokio::test]
async fn a_device_follows_an_announced_certificate_rotation() {
    let mut station = Station::start_serving(Serving::HttpsAnnouncingNextKey).await;
    station.add_officer("PC1", "Lewisham");
    let device = station.device("PC1").await;
    let before = station.pin().unwrap();
    device
        .sync(None)
        .await
        .expect("first sync over HTTPS hears the next pin");

    station.rotate_certificate().await;
    // A connection opened before the reload keeps its session: restart the
    // server so the device's next request needs a new handshake.
    station.kill().await;
    station.restart().await;
    assert_ne!(
        station.pin().unwrap(),
        before,
        "the server moved to a new key"
    );

    let id = device.create_scene(scene()).unwrap().header.id;
    let summary = device
        .sync(None)
        .await
        .expect("the announced key is trusted");
    assert_eq!(summary.acknowledged, 1);
    assert_eq!(summary.pending, 0);
    // A device enrolled after the rotation trusts the new key from its link.
    let fresh = station.device("PC1").await;
    fresh.sync(None).await.unwrap();
    assert_eq!(fresh.get(id.clone()).unwrap(), device.get(id).unwrap());
}

#[tokio::test]
async fn a_device_that_never_heard_the_next_pin_is_refused_with_a_tls_error() {
    let mut station = Station::start_serving(Serving::Https).await;
    station.add_officer("PC1", "Lewisham");
    let device = station.device("PC1").await;
    device.sync(None).await.expect("first sync over HTTPS");

    // A reload refuses a key never announced: only a restart gets there.
    station.restart_on_next_key().await;

    let id = device.create_scene(scene()).unwrap().header.id;
    match device.sync(None).await {
        Err(ApiError::Offline { reason, .. }) => assert_eq!(reason, OfflineCause::Tls),
        other => panic!("expected a TLS refusal, got {other:?}"),
    }
    assert!(device.get(id).is_ok(), "the record stays on the device");
    assert!(
        station.admin.records().unwrap().is_empty(),
        "no byte reached the server"
    );
}
