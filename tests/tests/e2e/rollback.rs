//! Edits the rules allow, checked before they are made, and rolled back
//! when the server still refuses them: two devices of one officer and a
//! supervisor's device against the real server.
//!
//! The refusal the device cannot foresee: its officer's other handset gave
//! the person a receipt, and this one, offline, recorded the receipt as
//! not given. Merged on the server, the receipt would change once given,
//! which no one may do, so the server refuses the push; the device rolls
//! the record back to what the server acknowledged, keeps its refused
//! changes aside, and every device agrees with the server again.

use std::sync::{Arc, Mutex};

use automerge::ActorId;
use pocketbook_core::ApiError;
use pocketbook_core::api::{CallbackError, ChangeEvent, ChangeListener, ChangeOrigin};
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::{Receipt, ReceiptMedium, Record};
use pocketbook_core::rules::Role;
use pocketbook_core::sync::wire::RejectionCode;
use pocketbook_tests::inputs::stop_search;
use pocketbook_tests::{Device, Station};

/// Hears where each change came from.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, ChangeOrigin)>>);

impl ChangeListener for Recorder {
    fn on_change(&self, event: ChangeEvent) -> Result<(), CallbackError> {
        self.0.lock().unwrap().push((event.record_id, event.origin));
        Ok(())
    }
}

impl Recorder {
    fn origins(&self, id: &str) -> Vec<ChangeOrigin> {
        let heard = self.0.lock().unwrap();
        heard
            .iter()
            .filter(|(r, _)| r == id)
            .map(|(_, o)| *o)
            .collect()
    }
}

/// An encounter an hour ago, as the server believes it.
fn search() -> pocketbook_core::model::StopSearch {
    let at = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    stop_search(&at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The record's heads on a device, sorted.
fn heads_on(device: &Device, id: &str) -> Vec<String> {
    heads_of(&device.export(id.to_string()).unwrap())
}

fn heads_of(bytes: &[u8]) -> Vec<String> {
    let mut heads = RecordDoc::load(bytes, ActorId::random())
        .unwrap()
        .heads_hex();
    heads.sort();
    heads
}

fn server_heads(station: &Station, id: &str) -> Vec<String> {
    heads_of(
        &station
            .admin
            .record(id)
            .unwrap()
            .expect("on the server")
            .snapshot,
    )
}

fn note_texts(record: &Record) -> Vec<String> {
    record.body.notes().iter().map(|n| n.text.clone()).collect()
}

#[tokio::test]
async fn a_refused_change_is_rolled_back_kept_aside_and_every_device_agrees() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    station.add_officer_as("PS1", "Lewisham", Role::Supervisor);
    let (handset, spare) = (station.device("PC1").await, station.device("PC1").await);
    let supervisor = station.device("PS1").await;
    assert_eq!(
        supervisor.access().unwrap().map(|a| (a.role, a.station)),
        Some((Role::Supervisor, "Lewisham".to_string())),
        "enrolment says the role"
    );

    let id = handset.create_stop_search(search()).unwrap().header.id;
    handset
        .add_note(id.clone(), "Acknowledged note".into())
        .unwrap();
    handset.sync(None).await.unwrap();
    spare.sync(None).await.unwrap();
    supervisor.sync(None).await.unwrap();

    // Oversight is read-only: refused on the device, nothing stored.
    let before = supervisor.export(id.clone()).unwrap();
    assert!(matches!(
        supervisor.add_note(id.clone(), "A supervisor's remark".into()),
        Err(ApiError::Forbidden { .. })
    ));
    assert_eq!(supervisor.export(id.clone()).unwrap(), before);

    // The spare handset gives the receipt; the server takes it.
    spare
        .issue_receipt(id.clone(), ReceiptMedium::Printed)
        .unwrap();
    let given = spare.sync(None).await.unwrap();
    assert_eq!((given.acknowledged, given.rejected.len()), (1, 0));

    // Offline, the first handset writes on, then records no receipt given
    // (its edits outnumber the spare's, so its receipt wins the merge).
    for n in 0..5 {
        handset
            .add_note(id.clone(), format!("Offline note {n}"))
            .unwrap();
    }
    handset
        .receipt_not_given(id.clone(), "Person walked away".into())
        .unwrap();
    let heard = Arc::new(Recorder::default());
    let _subscription = handset.subscribe(heard.clone());
    let summary = handset.sync(None).await.unwrap();
    assert_eq!(summary.rejected.len(), 1, "{summary:?}");
    assert_eq!(summary.rejected[0].code, RejectionCode::Forbidden);
    assert_eq!(summary.rolled_back, vec![id.clone()]);
    assert_eq!(summary.pending, 0);
    assert!(heard.origins(&id).contains(&ChangeOrigin::RolledBack));

    // Gone from the record: it reads as the server has it.
    let record = handset.get(id.clone()).unwrap();
    assert_eq!(note_texts(&record), vec!["Acknowledged note".to_string()]);
    assert!(matches!(record.body.receipt(), Some(Receipt::Given { .. })));
    // Kept aside, readable, counted.
    let aside = handset.set_aside().unwrap();
    assert_eq!(aside.len(), 1);
    assert_eq!(aside[0].record_id, id);
    assert_eq!(aside[0].code, RejectionCode::Forbidden);
    assert_eq!(aside[0].edits, 6);
    let version = handset.set_aside_version(aside[0].id).unwrap();
    let kept = RecordDoc::load(&version, ActorId::random())
        .unwrap()
        .record()
        .unwrap();
    assert!(note_texts(&kept).contains(&"Offline note 4".to_string()));

    // Never pushed again; every device and the server agree.
    let again = handset.sync(None).await.unwrap();
    assert_eq!((again.sent, again.rejected.len()), (0, 0), "{again:?}");
    spare.sync(None).await.unwrap();
    supervisor.sync(None).await.unwrap();
    let server = server_heads(&station, &id);
    for device in [&handset, &spare, &supervisor] {
        assert_eq!(heads_on(device, &id), server);
    }

    // The handset goes on writing, and the server takes it.
    handset
        .add_note(id.clone(), "Correct account after the receipt".into())
        .unwrap();
    let next = handset.sync(None).await.unwrap();
    assert_eq!((next.acknowledged, next.rejected.len()), (1, 0), "{next:?}");
}

#[tokio::test]
async fn a_refused_new_record_stays_visible_marked_refused() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    station.add_officer("PC2", "Lewisham");
    let colleague = station.device("PC2").await;
    let device = station.device("PC1").await;
    // A colleague's record that never reached the server, imported here.
    let foreign = colleague.create_stop_search(search()).unwrap().header.id;
    device
        .import(colleague.export(foreign.clone()).unwrap())
        .unwrap();
    let summary = device.sync(None).await.unwrap();
    assert_eq!(summary.rejected.len(), 1);
    assert!(summary.rolled_back.is_empty());
    let listed = device
        .list(pocketbook_core::store::ListFilter::default())
        .unwrap();
    let row = listed
        .iter()
        .find(|r| r.id == foreign)
        .expect("still listed");
    assert!(row.refused);
    assert!(device.get(foreign).is_ok());
    assert!(device.set_aside().unwrap().is_empty());
}
