//! A lost handheld is cut off and wiped; a handed-back one uploads first;
//! a colleague added to a scene receives it on their next sync.

use pocketbook_core::ApiError;
use pocketbook_core::store::ListFilter;
use pocketbook_tests::Station;

use pocketbook_tests::inputs::*;

/// The store's bytes on disk (database and write-ahead log).
fn store_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["pocketbook.db", "pocketbook.db-wal"] {
        bytes.extend(std::fs::read(dir.join(name)).unwrap_or_default());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The device token as the device stored it at enrolment.
fn stored_token(dir: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(dir.join("pocketbook.db")).unwrap();
    let credentials: Vec<u8> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'credentials'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let credentials: serde_json::Value = serde_json::from_slice(&credentials).unwrap();
    credentials["token"].as_str().unwrap().to_string()
}

/// After a wipe: no record, no credential, nothing of either left on disk.
fn assert_erased(dir: &std::path::Path, token: &str) {
    let conn = rusqlite::Connection::open(dir.join("pocketbook.db")).unwrap();
    let records: i64 = conn
        .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(records, 0);
    drop(conn);
    assert!(
        !contains(&store_bytes(dir), token),
        "the token is still on disk"
    );
}

#[tokio::test]
async fn a_revoked_device_is_wiped_on_its_next_sync() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    let lost = station.device("PC1").await;
    lost.create_stop_account(stop_account()).unwrap();
    lost.sync(None).await.unwrap();
    // Recorded after the last sync: lost with the device, by design.
    lost.create_stop_account(stop_account()).unwrap();

    let token = stored_token(lost.dir.path());
    station
        .admin_service()
        .revoke_device(&lost.device_id)
        .unwrap();
    let wiped = lost.sync(None).await;
    assert!(matches!(wiped, Err(ApiError::Wiped { .. })), "{wiped:?}");
    let message = wiped.unwrap_err().to_string();
    assert!(message.contains("revoked"), "{message}");

    // Nothing is readable any more, and the store cannot be reopened as enrolled.
    assert!(matches!(
        lost.list(ListFilter::default()),
        Err(ApiError::NotEnrolled { .. })
    ));
    let reopened = pocketbook_core::Notebook::open_existing(lost.dir.path().display().to_string());
    assert!(
        matches!(reopened, Err(ApiError::NotEnrolled { .. })),
        "{reopened:?}"
    );
    assert_eq!(
        station.admin.records().unwrap().len(),
        1,
        "the server keeps what was synced"
    );
    assert_erased(lost.dir.path(), &token);
    assert_eq!(station.audit("wipe-instructed").len(), 1);
}

#[tokio::test]
async fn a_retired_device_uploads_everything_then_wipes() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    let handed_back = station.device("PC1").await;
    let ids: Vec<String> = (0..3)
        .map(|_| {
            handed_back
                .create_stop_account(stop_account())
                .unwrap()
                .header
                .id
        })
        .collect();

    station
        .admin_service()
        .retire_device(&handed_back.device_id)
        .unwrap();
    let retired = handed_back.sync(None).await;
    assert!(
        matches!(retired, Err(ApiError::Wiped { .. })),
        "{retired:?}"
    );
    let mut on_server: Vec<String> = station
        .admin
        .records()
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    on_server.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(
        on_server, expected,
        "everything was uploaded before the wipe"
    );
    let device = station
        .admin
        .device(&handed_back.device_id)
        .unwrap()
        .unwrap();
    assert_eq!(
        device.revoke_reason,
        Some(pocketbook_server::identity::RevokeReason::Retired)
    );
    assert!(matches!(
        handed_back.list(ListFilter::default()),
        Err(ApiError::NotEnrolled { .. })
    ));

    // The officer's new handset gets the records back.
    let replacement = station.device("PC1").await;
    assert_eq!(replacement.sync(None).await.unwrap().received, 3);
}

#[tokio::test]
async fn a_retiring_device_with_a_refused_record_keeps_it_and_does_not_retire() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    station.add_officer("PC2", "Lewisham");
    let colleague = station.device("PC2").await;
    let foreign = colleague
        .create_stop_account(stop_account())
        .unwrap()
        .header
        .id;
    let device = station.device("PC1").await;
    // A record of another officer's, imported here: the server refuses it.
    device
        .import(colleague.export(foreign.clone()).unwrap())
        .unwrap();
    station
        .admin_service()
        .retire_device(&device.device_id)
        .unwrap();
    let summary = device.sync(None).await.unwrap();
    assert_eq!(summary.rejected.len(), 1);
    assert_eq!(summary.rejected[0].code.as_str(), "forbidden");
    assert!(
        device.get(foreign.clone()).is_ok(),
        "not erased: never uploaded"
    );
    assert!(
        station
            .admin
            .device(&device.device_id)
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none(),
        "not retired while something is not uploaded"
    );
}

#[tokio::test]
async fn an_unknown_token_never_wipes_a_device() {
    let mut station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    let device = station.device("PC1").await;
    let id = device
        .create_stop_account(stop_account())
        .unwrap()
        .header
        .id;
    // The server's store is replaced by an empty one (restored from an old
    // backup, say): the device is unknown there, not revoked.
    station.kill().await;
    for entry in std::fs::read_dir(station.data.path()).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    station.restart().await;
    let refused = device.sync(None).await;
    assert!(
        matches!(refused, Err(ApiError::Unauthorised { .. })),
        "{refused:?}"
    );
    assert!(device.get(id).is_ok(), "the record is still on the device");
}

#[tokio::test]
async fn a_colleague_added_to_a_scene_receives_it() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    station.add_officer("PC2", "Lewisham");
    let first = station.device("PC1").await;
    let second = station.device("PC2").await;
    let id = first.create_scene(scene()).unwrap().header.id;
    first.sync(None).await.unwrap();
    assert_eq!(
        second.sync(None).await.unwrap().received,
        0,
        "not shared yet"
    );

    first
        .add_attending_officer(id.clone(), "PC2".into())
        .unwrap();
    first.sync(None).await.unwrap();
    assert_eq!(second.sync(None).await.unwrap().received, 1);
    second
        .add_scene_action(id.clone(), note("second officer's note".into()))
        .unwrap();
    second.sync(None).await.unwrap();
    first.sync(None).await.unwrap();
    assert_eq!(first.get(id.clone()).unwrap(), second.get(id).unwrap());
}
