//! Three officers edit one scene record offline; synced in every order,
//! every device ends with the same document and the same typed record.

use pocketbook_core::model::*;
use pocketbook_tests::{Device, Station};

use pocketbook_tests::inputs::*;

fn heads(device: &Device, id: &str) -> Vec<automerge::ChangeHash> {
    let mut doc = automerge::AutoCommit::load(&device.export(id.into()).unwrap()).unwrap();
    let mut heads = doc.get_heads();
    heads.sort();
    heads
}

fn actions(record: &Record) -> &[SceneAction] {
    match &record.body {
        RecordBody::SceneAttendance { scene } => &scene.actions,
        other => panic!("not a scene: {other:?}"),
    }
}

#[tokio::test]
async fn offline_edits_by_three_devices_converge_in_every_sync_order() {
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let station = Station::start().await;
        for n in ["PC1", "PC2", "PC3"] {
            station.add_officer(n, "Lewisham");
        }
        let devices = [
            station.device("PC1").await,
            station.device("PC2").await,
            station.device("PC3").await,
        ];
        let id = devices[0].create_scene(scene()).unwrap().header.id;
        for colleague in ["PC2", "PC3"] {
            devices[0]
                .add_attending_officer(id.clone(), colleague.into())
                .unwrap();
        }
        devices[0].sync(None).await.unwrap();
        for device in &devices[1..] {
            let summary = device.sync(None).await.unwrap();
            assert_eq!(summary.received, 1);
        }

        // Offline: each officer adds actions, ticks an item, sets the arrival time.
        for (i, device) in devices.iter().enumerate() {
            for n in 0..3 {
                device
                    .add_scene_action(id.clone(), note(format!("officer {i} action {n}")))
                    .unwrap();
            }
            device
                .tick(id.clone(), ChecklistItem::ALL[i], TickOutcome::Done, None)
                .unwrap();
            device
                .record_arrival(id.clone(), at(10, i as u32 + 5))
                .unwrap();
        }

        // Back online, in this order, twice round so everyone hears everyone.
        for _ in 0..2 {
            for &i in &order {
                let summary = devices[i].sync(None).await.unwrap();
                assert!(summary.rejected.is_empty(), "{summary:?}");
                assert_eq!(summary.pending, 0);
            }
        }

        let records: Vec<Record> = devices.iter().map(|d| d.get(id.clone()).unwrap()).collect();
        assert_eq!(actions(&records[0]).len(), 9, "order {order:?}");
        assert_eq!(records[0], records[1], "order {order:?}");
        assert_eq!(records[1], records[2], "order {order:?}");
        assert_eq!(heads(&devices[0], &id), heads(&devices[1], &id));
        assert_eq!(heads(&devices[1], &id), heads(&devices[2], &id));
        let RecordBody::SceneAttendance { scene } = &records[0].body else {
            unreachable!()
        };
        assert_eq!(scene.checklist.len(), 3);
        // The server's copy converged too: one record, every change in its feed.
        assert_eq!(station.admin.records().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_device_offline_with_2000_records_catches_up_in_pages() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    // The station's supervisor, whose new handset sees every record of it.
    station.add_officer_as("PC2", "Lewisham", pocketbook_tests::Role::Supervisor);
    let busy = station.device("PC1").await;
    for _ in 0..2000 {
        busy.create_stop_account(stop_account()).unwrap();
    }
    let pushed = busy.sync(None).await.unwrap();
    assert_eq!(pushed.acknowledged, 2000);
    assert!(pushed.requests >= 4, "pushes are paged: {pushed:?}");
    assert_eq!(pushed.pending, 0);

    let newcomer = station.device("PC2").await;
    let pulled = newcomer.sync(None).await.unwrap();
    assert_eq!(pulled.received, 2000);
    assert!(pulled.requests >= 4, "the feed is paged: {pulled:?}");
    let listed = newcomer
        .list(pocketbook_core::store::ListFilter::default())
        .unwrap();
    assert_eq!(listed.len(), 2000);

    let idle = newcomer.sync(None).await.unwrap();
    assert_eq!((idle.requests, idle.received, idle.sent), (1, 0, 0));
}
