//! Data minimisation: synced records leave the handheld, unsynced ones never do.

use pocketbook_core::store::ListFilter;
use pocketbook_tests::Station;

use pocketbook_tests::inputs::*;

#[tokio::test]
async fn synced_records_leave_the_device_and_unsynced_ones_stay() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    station.add_officer("PC2", "Lewisham");
    let device = station.device("PC1").await;
    let colleague = station.device("PC2").await;
    let scene_id = device.create_scene(scene()).unwrap().header.id;
    device
        .add_attending_officer(scene_id.clone(), "PC2".into())
        .unwrap();
    for _ in 0..3 {
        device.create_stop_account(stop_account()).unwrap();
    }
    device.sync(None).await.unwrap();
    let unsynced = device
        .create_stop_account(stop_account())
        .unwrap()
        .header
        .id;

    device.set_keep_synced_days(Some(0)).unwrap();
    assert_eq!(device.prune_synced_records().unwrap(), 4);
    let left = device.list(ListFilter::default()).unwrap();
    assert_eq!(left.len(), 1, "only the unsynced record stays");
    assert_eq!(left[0].id, unsynced);

    // A colleague's later change to a pruned record does not break the next sync.
    colleague.sync(None).await.unwrap();
    colleague
        .add_scene_action(scene_id.clone(), note("later".into()))
        .unwrap();
    colleague.sync(None).await.unwrap();

    let summary = device.sync(None).await.unwrap();
    assert_eq!(summary.acknowledged, 1);
    assert_eq!(summary.pruned, 1, "pruned once the server has it");
    assert!(device.list(ListFilter::default()).unwrap().is_empty());
    assert_eq!(
        station.admin.records().unwrap().len(),
        5,
        "all kept on the server"
    );

    device.set_keep_synced_days(None).unwrap();
    device.create_stop_account(stop_account()).unwrap();
    assert_eq!(device.sync(None).await.unwrap().pruned, 0);
}
