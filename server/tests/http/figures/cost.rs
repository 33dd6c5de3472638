//! What counting a month costs: `N` searches and attendances (default
//! 100,000; `POCKETBOOK_FIGURES_RECORDS`) committed straight into a SQLite
//! store, then one month counted and frozen. Run by hand and printed, never
//! asserted (it is a measurement):
//! `cargo test --release -p pocketbook-server --test http figures::cost -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::*;
use pocketbook_server::Storage;
use pocketbook_server::figures::{Month, published};
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_server::storage::{RecordCommit, RecordIndex};

#[test]
#[ignore = "a measurement, run by hand"]
fn cost_of_counting_a_month() {
    let n: usize = std::env::var("POCKETBOOK_FIGURES_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(dir.path()).unwrap());
    let start: DateTime<Utc> = "2027-03-01T00:00:00Z".parse().unwrap();
    let seeded = Instant::now();
    let mut batch = Vec::new();
    for i in 0..n {
        let at = start + TimeDelta::seconds((i as i64 * 2_592_000) / n as i64);
        let when = Timestamp::from_instant(at).unwrap();
        let station = ["Lewisham", "Catford", "Brockley", "Deptford"][i % 4];
        let author = Officer {
            shoulder_number: format!("PC{}", i % 400),
            name: "Officer".into(),
            station: station.into(),
        };
        let body = if i % 2 == 0 {
            RecordBody::StopSearch {
                search: super::seed::search((i % 36) as u32, when.as_str()),
            }
        } else {
            let mut scene = pocketbook_fixtures::emergency_scene();
            scene.call_received = when.clone();
            scene.arrived =
                Some(Timestamp::from_instant(at + TimeDelta::minutes((i % 20) as i64)).unwrap());
            RecordBody::SceneAttendance {
                scene: SceneAttendance::from_input(scene),
            }
        };
        let mut header = pocketbook_fixtures::header(body.kind(), author);
        header.created_at = when.clone();
        let mut doc =
            RecordDoc::create(header.clone(), &body, automerge::ActorId::random()).unwrap();
        let snapshot = doc.save();
        batch.push(RecordCommit {
            index: RecordIndex {
                id: header.id.clone(),
                kind: body.kind(),
                reference: header.reference.clone(),
                author: header.author.shoulder_number.clone(),
                station: station.into(),
                occurred_at: at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                status: body.status(),
                created_at: when.to_string(),
                updated_at: when.to_string(),
            },
            snapshot: snapshot.clone(),
            new_changes: snapshot,
            expected_version: None,
            origin_device: "bench".into(),
            grant: Vec::new(),
            audit: Vec::new(),
        });
        if batch.len() == 1_000 {
            storage.commit_records(&batch).unwrap();
            batch.clear();
        }
    }
    storage.commit_records(&batch).unwrap();
    let seeded = seeded.elapsed();
    let counted = Instant::now();
    let month = Month::parse("2027-03").unwrap();
    let frozen = published(
        storage.as_ref(),
        storage.as_ref(),
        month,
        "2027-04-10T00:00:00Z".parse().unwrap(),
        "admin",
    )
    .unwrap();
    let counted = counted.elapsed();
    let again = Instant::now();
    published(
        storage.as_ref(),
        storage.as_ref(),
        month,
        "2027-04-10T00:00:00Z".parse().unwrap(),
        "admin",
    )
    .unwrap();
    println!(
        "{n} records seeded in {seeded:?}; month counted and frozen in {counted:?} \
         ({} stations, {} search rows); read back frozen in {:?}",
        frozen.stations.len(),
        frozen.searches.len(),
        again.elapsed()
    );
}
