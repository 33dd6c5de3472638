//! Group commit (criterion): 1,000 new records pushed to the server's
//! SQLite store, committed one transaction per record against one per
//! request, beside the storage floor and the server's own work. Read the
//! results as ratios between benchmarks of one run: `BENCHMARKS.md`
//! records them with the machine.
//!
//! - `push_1000/per_record`: `sync::push_records` with
//!   `CommitMode::PerRecord` (each record merged, checked and committed in
//!   its own durable transaction; `POCKETBOOK_PUSH_COMMIT=per-record`).
//! - `push_1000/grouped`: the same pushes with `CommitMode::Grouped` (every
//!   record merged and checked, then one transaction with a savepoint per
//!   record), the default.
//! - `push_1000/storage_floor`: the very commits the server would make,
//!   prepared beforehand, written with `Storage::commit_records` in one
//!   transaction per request: the store's part alone.
//! - `push_1000/merge_and_checks`: `sync::prepare_commit` for every record
//!   (decode, merge, schema, rules, times, the store's reads), no write: the
//!   server's CPU per record apart from storage.
//!
//! The pushes are two requests of 500 records (`MAX_PUSH_RECORDS`), a mix
//! of stop-and-account and scene records made by a real device core. Each
//! iteration starts from an empty store in a fresh directory (not timed).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pocketbook_core::model::RecordKind;
use pocketbook_core::sync::wire::{MAX_PUSH_RECORDS, PushedRecord};
use pocketbook_server::identity::{DeviceRow, OfficerRow, Role};
use pocketbook_server::retention::RetentionPolicy;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_server::storage::{Principal, RecordCommit, Storage};
use pocketbook_server::sync::{self, Arrival, CommitMode, PushResult};

const RECORDS: usize = 1_000;

/// 1,000 new records of one officer, as their device pushes them.
fn pushes() -> Vec<PushedRecord> {
    let (_dir, nb) = pocketbook_fixtures::notebook_of(pocketbook_fixtures::officer("PC1"));
    (0..RECORDS)
        .map(|n| {
            let (id, kind) = if n % 2 == 0 {
                let r = nb
                    .create_stop_account(pocketbook_fixtures::stop_account())
                    .unwrap();
                (r.header.id, RecordKind::StopAccount)
            } else {
                let r = nb
                    .create_scene(pocketbook_fixtures::emergency_scene())
                    .unwrap();
                (r.header.id, RecordKind::SceneAttendance)
            };
            PushedRecord {
                changes: pocketbook_fixtures::changes_of(&nb, &id),
                record_id: id,
                kind,
            }
        })
        .collect()
}

fn principal() -> Principal {
    let officer = pocketbook_fixtures::officer("PC1");
    Principal {
        device: DeviceRow {
            id: "bench-device".into(),
            officer: officer.shoulder_number.clone(),
            label: "bench".into(),
            enrolled_at: "2026-01-01T00:00:00.000Z".into(),
            revoked_at: None,
            last_seen: None,
            revoke_reason: None,
            retire_requested_at: None,
        },
        officer: OfficerRow {
            shoulder_number: officer.shoulder_number,
            name: officer.name,
            station: officer.station,
            role: Role::Officer,
            active: true,
        },
    }
}

fn arrival(commit: CommitMode) -> Arrival {
    let at = pocketbook_fixtures::station_now();
    Arrival {
        at,
        stamp: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        retention: RetentionPolicy::default(),
        commit,
    }
}

/// An empty store in a fresh directory.
fn fresh() -> (tempfile::TempDir, SqliteStorage) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStorage::open(dir.path()).unwrap();
    (dir, store)
}

/// Pushes every record, a request's worth at a time; all must be accepted.
fn push_all(
    store: &dyn Storage,
    principal: &Principal,
    pushes: &[PushedRecord],
    arrival: &Arrival,
) {
    for request in pushes.chunks(MAX_PUSH_RECORDS) {
        let mut audit = Vec::new();
        let answers = sync::push_records(store, principal, request, arrival, &mut audit).unwrap();
        assert!(
            answers.iter().all(|a| matches!(a, PushResult::Accepted(_))),
            "every record accepted"
        );
    }
}

/// The commits the server would make for every record, against an empty store.
fn commits(principal: &Principal, pushes: &[PushedRecord]) -> Vec<RecordCommit> {
    let (_dir, store) = fresh();
    let arrival = arrival(CommitMode::Grouped);
    pushes
        .iter()
        .map(
            |p| match sync::prepare_commit(&store, principal, p, &arrival).unwrap() {
                Ok(commit) => commit,
                Err(_) => panic!("a record of the bench was refused"),
            },
        )
        .collect()
}

/// Times `work` on a fresh empty store each iteration.
fn on_fresh_stores(b: &mut criterion::Bencher<'_>, work: impl Fn(&SqliteStorage)) {
    b.iter_custom(|iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let (_dir, store) = fresh();
            let start = Instant::now();
            work(&store);
            total += start.elapsed();
        }
        total
    });
}

fn bench(c: &mut Criterion) {
    let pushes = pushes();
    let principal = principal();
    let prepared = commits(&principal, &pushes);
    let mut group = c.benchmark_group("push_1000");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    for (name, mode) in [
        ("per_record", CommitMode::PerRecord),
        ("grouped", CommitMode::Grouped),
    ] {
        let arrival = arrival(mode);
        group.bench_function(name, |b| {
            on_fresh_stores(b, |store| push_all(store, &principal, &pushes, &arrival))
        });
    }
    group.bench_function("storage_floor", |b| {
        on_fresh_stores(b, |store| {
            for request in prepared.chunks(MAX_PUSH_RECORDS) {
                let results = store.commit_records(request).unwrap();
                assert!(results.iter().all(Result::is_ok));
            }
        })
    });
    let arrival = arrival(CommitMode::Grouped);
    group.bench_function("merge_and_checks", |b| {
        on_fresh_stores(b, |store| {
            for push in &pushes {
                let prepared = sync::prepare_commit(store, &principal, push, &arrival).unwrap();
                assert!(black_box(prepared).is_ok(), "accepted");
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
