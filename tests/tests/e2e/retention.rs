//! Twelve months after a search the record is erased everywhere: on the
//! server, on the officer's devices at their next sync, and a stale device
//! cannot bring it back. A record on legal hold survives, and so does a
//! search its author backdated after giving the receipt: the person's 12
//! months run from the encounter on their receipt.

use pocketbook_core::model::ReceiptMedium;
use pocketbook_core::store::ListFilter;
use pocketbook_server::retention::RetentionPolicy;
use pocketbook_tests::Station;

use pocketbook_tests::inputs::*;

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What the public copy endpoint answers for this reference and date.
async fn ask_for_copy(station: &Station, reference: &str, date: &str) -> (u16, serde_json::Value) {
    let response = station
        .http_client()
        .post(format!("{}/v1/copy", station.url()))
        .json(&serde_json::json!({"reference": reference, "date": date}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_search_is_erased_everywhere_after_twelve_months_unless_held() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    let device = station.device("PC1").await;
    let stale = station.device("PC1").await;

    // Recorded offline, receipt given, synced; a second search goes on legal hold.
    let searched_at = chrono::Utc::now();
    // The person gives the date as they knew it: London's.
    let date = pocketbook_server::copy::london_date(searched_at).to_string();
    let searched_at = searched_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let erased = device
        .create_stop_search(stop_search(&searched_at))
        .unwrap()
        .header
        .id;
    let reference = device
        .issue_receipt(erased.clone(), ReceiptMedium::Printed)
        .unwrap();
    let held = device
        .create_stop_search(stop_search(&now()))
        .unwrap()
        .header
        .id;
    device.sync(None).await.unwrap();
    assert_eq!(stale.sync(None).await.unwrap().received, 2);
    station
        .admin_service()
        .hold(&held, "complaint CMP-2026-114")
        .unwrap();

    // The person gets their copy with the reference on the receipt.
    let (status, copy) = ask_for_copy(&station, &reference, &date).await;
    assert_eq!(status, 200, "{copy}");
    assert_eq!(copy["reference"], reference.as_str());

    // Eleven months on, nothing is due.
    station.advance(chrono::TimeDelta::days(335));
    let early = station
        .admin_service()
        .run_retention_confirmed(&RetentionPolicy::default(), true)
        .unwrap();
    assert!(early.records.is_empty());

    // A year and a day on: the dry run lists it, the run erases it.
    station.advance(chrono::TimeDelta::days(31));
    let dry = station
        .admin_service()
        .run_retention_confirmed(&RetentionPolicy::default(), true)
        .unwrap();
    assert_eq!(dry.records.len(), 1);
    assert_eq!(
        station.admin.records().unwrap().len(),
        2,
        "a dry run erases nothing"
    );
    let report = station
        .admin_service()
        .run_retention_confirmed(&RetentionPolicy::default(), false)
        .unwrap();
    assert_eq!(report.records.len(), 1);
    assert_eq!(report.records[0].record_id, erased);
    assert_eq!(report.legal_holds, 1);
    let left: Vec<String> = station
        .admin
        .records()
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, vec![held.clone()], "the held record survives");
    assert!(station.admin.tombstone(&erased).unwrap().is_some());
    // The copy is gone: the date is now outside the 12 months a record is kept.
    let (status, answer) = ask_for_copy(&station, &reference, &date).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("12 months"),
        "{answer}"
    );

    // The officer's device erases its copy at its next sync.
    device.sync(None).await.unwrap();
    assert!(device.get(erased.clone()).is_err());
    assert!(device.get(held.clone()).is_ok());

    // A stale device that edited its copy offline pushes it again: refused,
    // and its copy erased too.
    stale
        .add_note(erased.clone(), "added while offline".into())
        .unwrap();
    let summary = stale.sync(None).await.unwrap();
    assert_eq!(summary.rejected.len(), 1);
    assert_eq!(summary.rejected[0].code.as_str(), "erased");
    assert!(stale.get(erased.clone()).is_err());
    assert!(station.admin.record(&erased).unwrap().is_none());
    let ids: Vec<String> = stale
        .list(ListFilter::default())
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![held]);

    // Each erasure is audited, without content.
    let erasures = station.audit("record-erased");
    assert_eq!(erasures.len(), 1);
    assert_eq!(erasures[0].record_id.as_deref(), Some(erased.as_str()));
}

#[tokio::test]
async fn the_server_runs_retention_on_its_own_schedule() {
    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    let device = station.device("PC1").await;
    device.create_stop_account(stop_account_now()).unwrap();
    device.sync(None).await.unwrap();
    station.advance(chrono::TimeDelta::days(367));
    // A year at once: an admin confirms the clock (the retention clock
    // guard), then the schedule erases by it.
    station
        .admin_service()
        .confirm_clock(&RetentionPolicy::default())
        .unwrap();
    // The schedule's first tick runs at start; a restart runs it again now.
    let mut station = station;
    station.kill().await;
    station.restart().await;
    for _ in 0..200 {
        if station.admin.records().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        station.admin.records().unwrap().is_empty(),
        "erased by the schedule"
    );
}

fn stop_account_now() -> pocketbook_core::model::StopAccount {
    pocketbook_core::model::StopAccount {
        datetime: pocketbook_core::model::Timestamp::now(),
        ..stop_account()
    }
}

#[tokio::test]
async fn a_search_backdated_after_its_receipt_stays_for_its_persons_twelve_months() {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT, ReadDoc};

    let station = Station::start().await;
    station.add_officer("PC1", "Lewisham");
    let device = station.device("PC1").await;
    let searched_at = chrono::Utc::now();
    let date = pocketbook_server::copy::london_date(searched_at).to_string();
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let id = device
        .create_stop_search(stop_search(&stamp(searched_at)))
        .unwrap()
        .header
        .id;
    let reference = device
        .issue_receipt(id.clone(), ReceiptMedium::Printed)
        .unwrap();
    device.sync(None).await.unwrap();

    // The author moves the encounter 300 days back, behind the API's back.
    let mut doc = AutoCommit::load(&device.export(id.clone()).unwrap()).unwrap();
    let mut search = ROOT;
    for key in ["body", "StopSearch", "search"] {
        search = doc.get(&search, key).unwrap().unwrap().1;
    }
    doc.put(
        &search,
        "datetime",
        stamp(searched_at - chrono::TimeDelta::days(300)),
    )
    .unwrap();
    device.import(doc.save()).unwrap();
    let summary = device.sync(None).await.unwrap();
    assert_eq!(summary.rejected.len(), 1);
    assert_eq!(summary.rejected[0].code.as_str(), "forbidden");
    assert!(
        summary.rejected[0]
            .message
            .starts_with("datetime: cannot change once the receipt is recorded"),
        "{}",
        summary.rejected[0].message
    );
    let refused = station.audit("push-refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].record_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        station
            .admin
            .record(&id)
            .unwrap()
            .unwrap()
            .index
            .occurred_at,
        stamp(searched_at),
        "the retention clock did not move"
    );

    // 100 days on, the backdated date would be past its 12 months: the
    // record stays, and the person still gets their copy.
    station.advance(chrono::TimeDelta::days(100));
    let report = station
        .admin_service()
        .run_retention_confirmed(&RetentionPolicy::default(), false)
        .unwrap();
    assert!(report.records.is_empty());
    let (status, copy) = ask_for_copy(&station, &reference, &date).await;
    assert_eq!(status, 200, "{copy}");
    assert_eq!(copy["reference"], reference.as_str());

    // A year and a day after the real encounter, it goes.
    station.advance(chrono::TimeDelta::days(266));
    let report = station
        .admin_service()
        .run_retention_confirmed(&RetentionPolicy::default(), false)
        .unwrap();
    assert_eq!(report.records.len(), 1);
    assert_eq!(report.records[0].record_id, id);
}
