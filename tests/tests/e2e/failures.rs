//! Links that drop and servers that die: nothing lost, nothing duplicated.

use pocketbook_core::ApiError;
use pocketbook_core::store::ListFilter;
use pocketbook_tests::{FlakyLink, Role, Serving, Station};

use pocketbook_tests::inputs::*;

#[tokio::test]
async fn a_response_cut_mid_way_loses_and_duplicates_nothing() {
    // Plain http: the link cuts responses by byte count, which over TLS
    // would cut the handshake instead of the answer.
    let station = Station::start_serving(Serving::PlainHttp).await;
    station.add_officer("PC1", "Lewisham");
    // PC2 supervises the station, so receives everything PC1 records.
    station.add_officer_as("PC2", "Lewisham", Role::Supervisor);
    let link = FlakyLink::start(station.addr()).await;
    let device = station.device_via("PC1", &link.url()).await;
    let other = station.device("PC2").await;
    let id = device.create_scene(scene()).unwrap().header.id;
    for n in 0..20 {
        device
            .add_scene_action(id.clone(), note(format!("action {n}")))
            .unwrap();
    }
    for _ in 0..30 {
        device.create_stop_account(stop_account()).unwrap();
    }

    // The server commits the push, but the answer is cut half way.
    link.cut_responses_after(120);
    let cut = device.sync(None).await;
    assert!(matches!(cut, Err(ApiError::Offline { .. })), "{cut:?}");
    assert_eq!(
        station.admin.records().unwrap().len(),
        31,
        "the push was committed"
    );
    let feed_after_cut = station.admin.feed_after(0, 1000).unwrap().len();

    // The link recovers: the retry is acknowledged without new feed entries.
    link.cut_responses_after(0);
    let retry = device.sync(None).await.unwrap();
    assert_eq!(retry.acknowledged, 31);
    assert_eq!(retry.pending, 0);
    assert_eq!(
        station.admin.feed_after(0, 1000).unwrap().len(),
        feed_after_cut
    );

    let pulled = other.sync(None).await.unwrap();
    assert_eq!(pulled.received, 31);
    assert_eq!(other.get(id.clone()).unwrap(), device.get(id).unwrap());
}

#[tokio::test]
async fn a_server_killed_mid_sync_and_restarted_loses_and_duplicates_nothing() {
    let mut station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    // PC2 supervises the station, so receives everything PC1 records.
    station.add_officer_as("PC2", "Lewisham", Role::Supervisor);
    let device = station.device("PC1").await;
    for _ in 0..1200 {
        device.create_stop_account(stop_account()).unwrap();
    }

    // Kill the server while the device is pushing its pages.
    let pushing = {
        let notebook = device.notebook.clone();
        tokio::spawn(async move { notebook.sync(None).await })
    };
    loop {
        if !station.admin.records().unwrap().is_empty() || pushing.is_finished() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    station.kill().await;
    let outcome = pushing.await.unwrap();
    let stored_at_kill = station.admin.records().unwrap().len();
    assert!(
        outcome.is_err() || stored_at_kill == 1200,
        "either the sync was cut or it had finished: {outcome:?}"
    );
    assert!(stored_at_kill <= 1200);

    // Offline while the server is down: the device keeps everything queued.
    let offline = device.sync(None).await;
    assert!(
        matches!(offline, Err(ApiError::Offline { .. })),
        "{offline:?}"
    );

    station.restart().await;
    let resumed = device.sync(None).await.unwrap();
    assert_eq!(resumed.pending, 0);
    assert_eq!(station.admin.records().unwrap().len(), 1200);
    assert_eq!(
        station.admin.feed_after(0, 5000).unwrap().len(),
        1200,
        "one entry per record"
    );

    let other = station.device("PC2").await;
    let pulled = other.sync(None).await.unwrap();
    assert_eq!(pulled.received, 1200);
    assert_eq!(other.list(ListFilter::default()).unwrap().len(), 1200);
}

#[tokio::test]
async fn a_cancelled_sync_resumes_and_progress_is_reported() {
    use std::sync::Mutex;

    use pocketbook_core::api::SyncProgress;

    #[derive(Default)]
    struct Progress(Mutex<Vec<(i32, i32)>>);
    impl SyncProgress for Progress {
        fn on_progress(
            &self,
            sent: i32,
            received: i32,
        ) -> Result<(), pocketbook_core::api::CallbackError> {
            self.0.lock().unwrap().push((sent, received));
            Ok(())
        }
    }

    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    let device = station.device("PC1").await;
    for _ in 0..1100 {
        device.create_stop_account(stop_account()).unwrap();
    }
    // Cancel (drop the future, as a cancelled coroutine or Task does) almost at once.
    let cancelled =
        tokio::time::timeout(std::time::Duration::from_millis(1), device.sync(None)).await;
    assert!(
        cancelled.is_err(),
        "the sync was still running when cancelled"
    );

    let progress = std::sync::Arc::new(Progress::default());
    let summary = device.sync(Some(progress.clone())).await.unwrap();
    assert_eq!(summary.pending, 0);
    assert_eq!(station.admin.records().unwrap().len(), 1100);
    assert_eq!(station.admin.feed_after(0, 5000).unwrap().len(), 1100);
    let reports = progress.0.lock().unwrap().clone();
    assert!(reports.len() >= 3, "one report per round trip: {reports:?}");
    assert!(reports.windows(2).all(|w| w[0].0 <= w[1].0), "{reports:?}");
    assert_eq!(reports.last().unwrap().0, summary.sent);
}
