//! The promise gauges' count at scale, measured by hand (ignored in the
//! suites): what one steady count (nothing changed since the last) reads
//! from a store of `POCKETBOOK_GAUGE_RECORDS` (default 100,000) scene
//! attendance records at 20 stations, before and after the count read ids
//! and versions only. "Before" is the reads the count made until then
//! (every promise-holding record's index and then each station's records
//! with their snapshots), which with nothing changed were all its storage
//! work; "after" is `overdue_counts` itself. Figures in `BENCHMARKS.md`.
//!
//! `cargo test -p pocketbook-server --test http gauge_scale -- --ignored
//! --nocapture`; with `POCKETBOOK_GAUGE_DATABASE_URL` set it runs on that
//! PostgreSQL database instead of SQLite (it creates its tables there).

use std::time::Instant;

use pocketbook_core::model::*;
use pocketbook_server::pledge::{GaugeMemo, overdue_counts};
use pocketbook_server::storage::*;

const STATIONS: usize = 20;
const KINDS: [RecordKind; 2] = [RecordKind::SceneAttendance, RecordKind::HomeBurglary];

/// Fills `store` with `n` copies of one real scene attendance record (one
/// emergency call, overdue), under their own ids, spread over the stations.
fn fill(store: &dyn Storage, n: usize) {
    let (_dir, nb) = pocketbook_fixtures::notebook_of(Officer {
        shoulder_number: "PC1".into(),
        name: "Officer PC1".into(),
        station: "station-0".into(),
    });
    let mut call = pocketbook_fixtures::emergency_scene();
    call.call_received = Timestamp::parse("2026-11-28T10:00:00Z").unwrap();
    call.arrived = None;
    call.left = None;
    let id = nb.create_scene(call).unwrap().header.id;
    let snapshot = nb.export(id).unwrap();
    let at = "2026-11-28T10:00:00Z";
    for first in (0..n).step_by(500) {
        let commits: Vec<RecordCommit> = (first..n.min(first + 500))
            .map(|i| RecordCommit {
                index: RecordIndex {
                    id: format!("r{i:07}"),
                    kind: RecordKind::SceneAttendance,
                    reference: format!("REF{i}"),
                    author: "PC1".into(),
                    station: format!("station-{}", i % STATIONS),
                    occurred_at: at.into(),
                    status: RecordStatus::Open,
                    created_at: at.into(),
                    updated_at: at.into(),
                },
                snapshot: snapshot.clone(),
                new_changes: Vec::new(),
                expected_version: None,
                origin_device: "d1".into(),
                grant: Vec::new(),
                audit: Vec::new(),
            })
            .collect();
        for result in store.commit_records(&commits).unwrap() {
            result.unwrap();
        }
    }
}

#[test]
#[ignore = "a measurement, run by hand"]
fn gauge_count_at_scale() {
    let n: usize = std::env::var("POCKETBOOK_GAUGE_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("POCKETBOOK_GAUGE_DATABASE_URL").ok();
    let store = open(dir.path(), url.as_deref()).unwrap();
    let started = Instant::now();
    fill(store.as_ref(), n);
    eprintln!("filled {n} records in {:?}", started.elapsed());
    let now = "2026-12-01T10:00:00Z"
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    let mut memo = GaugeMemo::default();
    let started = Instant::now();
    let counts = overdue_counts(store.as_ref(), now, &mut memo).unwrap();
    eprintln!(
        "first count (decodes all {}): {:?}",
        memo.decoded_last_count(),
        started.elapsed()
    );
    let overdue: u64 = counts.values().sum();
    assert_eq!(
        overdue, n as u64,
        "every copy's emergency attendance is overdue"
    );
    for round in 0..3 {
        // Before: the steady count's reads until now.
        let started = Instant::now();
        let stations: std::collections::BTreeSet<String> = store
            .records()
            .unwrap()
            .into_iter()
            .filter(|r| KINDS.contains(&r.kind))
            .map(|r| r.station)
            .collect();
        let mut bytes = 0;
        for station in &stations {
            for stored in store
                .records_at_station(
                    station,
                    &KINDS,
                    "1970-01-01T00:00:00Z",
                    "9999-12-31T23:59:59Z",
                )
                .unwrap()
            {
                bytes += stored.snapshot.len();
            }
        }
        let before = started.elapsed();
        // After: the count's reads alone (ids and versions), then the
        // count itself (the reads, and the memo's work in this process).
        let started = Instant::now();
        let mut listed = 0;
        for station in store.stations_holding(&KINDS).unwrap() {
            listed += store.record_versions(&station, &KINDS).unwrap().len();
        }
        let reads = started.elapsed();
        assert_eq!(listed, n);
        let started = Instant::now();
        let again = overdue_counts(store.as_ref(), now, &mut memo).unwrap();
        let after = started.elapsed();
        assert_eq!(again, counts);
        assert_eq!(memo.fetched_last_count(), 0);
        eprintln!(
            "round {round}: before {before:?} ({bytes} snapshot bytes read), \
             after: reads {reads:?}, count {after:?} (0 snapshots)"
        );
    }
}
