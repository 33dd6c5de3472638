//! Retention that holds offline, against the real server: a device syncs
//! (hearing the server's retention terms and legal holds), goes offline,
//! and a year later erases its acknowledged searches by itself as the
//! notebook opens, with the server down; a search with an edit the server
//! never had is kept and flagged, then uploaded at the next sync and erased
//! once acknowledged; a held search is kept until the hold is released.
//! A colleague's device never hears of a hold on a record it may not see.

use std::sync::Arc;

use chrono::TimeDelta;
use pocketbook_core::Notebook;
use pocketbook_core::api::{ChangeEvent, ChangeListener, ChangeOrigin, DeviceClock};
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::RecordBody;
use pocketbook_fixtures::{record_ids, sorted};
use pocketbook_tests::Station;
use pocketbook_tests::inputs::*;

/// Past the 12 months of a search made today.
const A_YEAR_AND_A_WEEK: TimeDelta = TimeDelta::days(372);

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[derive(Default)]
struct Erasures(std::sync::Mutex<Vec<String>>);

impl ChangeListener for Erasures {
    fn on_change(&self, event: ChangeEvent) -> Result<(), pocketbook_core::api::CallbackError> {
        if event.origin == ChangeOrigin::Erased {
            self.0.lock().unwrap().push(event.record_id);
        }
        Ok(())
    }
}

/// The note entries of a search as the server stores it.
fn notes_on_server(station: &Station, id: &str) -> usize {
    let stored = station.admin.record(id).unwrap().expect("on the server");
    let doc = RecordDoc::load(&stored.snapshot, automerge::ActorId::random()).unwrap();
    match doc.record().unwrap().body {
        RecordBody::StopSearch { search } => search.notes.len(),
        other => panic!("not a search: {other:?}"),
    }
}

#[tokio::test]
async fn a_device_offline_for_a_year_erases_what_the_server_holds_and_keeps_the_rest() {
    let mut station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    station.add_officer("PC2", "Lewisham");
    let device = station.device("PC1").await;
    let colleague = station.device("PC2").await;

    let search = |nb: &Notebook| {
        nb.create_stop_search(stop_search(&now()))
            .unwrap()
            .header
            .id
    };
    let gone = search(&device);
    let account = device
        .create_stop_account(stop_account())
        .unwrap()
        .header
        .id;
    let waiting = search(&device);
    let held = search(&device);
    device.sync(None).await.unwrap();
    station
        .admin_service()
        .hold(&held, "complaint CMP-2026-201")
        .unwrap();
    // The next answers carry the terms and the holds each officer may see.
    device.sync(None).await.unwrap();
    colleague.sync(None).await.unwrap();
    let terms = device.retention_terms().unwrap().expect("terms heard");
    assert_eq!(terms.encounter_months, 12);
    assert_eq!(device.legal_holds().unwrap(), vec![held.clone()]);
    assert!(colleague.legal_holds().unwrap().is_empty());

    // Offline: an edit the server never gets, then the server is gone.
    device
        .add_note(waiting.clone(), "Written with no signal".into())
        .unwrap();
    station.kill().await;
    device.close();

    // A year on, the notebook erases what the server holds as it opens.
    let clock = DeviceClock::system();
    clock.advance(A_YEAR_AND_A_WEEK);
    let dir = device.dir.path().display().to_string();
    let reopened = Notebook::open_existing_with_clock(dir, None, clock.clone()).unwrap();
    assert_eq!(
        record_ids(&reopened),
        sorted(vec![waiting.clone(), held.clone()])
    );
    let overdue = reopened.overdue_records().unwrap();
    assert_eq!(
        overdue.iter().map(|o| &o.record_id).collect::<Vec<_>>(),
        [&waiting],
        "the search with an unsent edit is flagged"
    );
    for id in [&gone, &account] {
        assert!(reopened.get(id.clone()).is_err());
    }

    // Back in signal: the edit goes to the server first, then the search
    // leaves the device; the held one stays.
    let heard = Arc::new(Erasures::default());
    let _subscription = reopened.subscribe(heard.clone());
    station.restart().await;
    let summary = reopened.sync(None).await.unwrap();
    assert_eq!(summary.acknowledged, 1);
    assert_eq!(summary.expired, 1);
    assert_eq!(notes_on_server(&station, &waiting), 1);
    assert_eq!(*heard.0.lock().unwrap(), vec![waiting.clone()]);
    assert_eq!(record_ids(&reopened), vec![held.clone()]);
    assert!(reopened.overdue_records().unwrap().is_empty());

    // The hold is released: the next sync's list no longer names it.
    station
        .admin_service()
        .release(&held, "complaint closed")
        .unwrap();
    let summary = reopened.sync(None).await.unwrap();
    assert_eq!(summary.expired, 1);
    assert!(record_ids(&reopened).is_empty());
    assert!(reopened.legal_holds().unwrap().is_empty());
    // The server still holds every record: only the device's copies went.
    assert_eq!(station.admin.records().unwrap().len(), 4);
}
