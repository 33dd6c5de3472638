//! The pushes the bench sends and the stores it sends them to: records
//! made by a real device core (a mix of stop-and-account and scene
//! records) and an update of each, the officer they come from, the
//! arrival they are merged at, empty stores in fresh directories, pushing
//! every record a request at a time, and the commits the server would
//! make. Apart from `push.rs` so the benchmarks there read as what they
//! time, not how their inputs are made.

use std::time::{Duration, Instant};

use automerge::AutoCommit;
use pocketbook_core::model::RecordKind;
use pocketbook_core::sync::wire::{MAX_PUSH_RECORDS, PushedRecord};
use pocketbook_server::identity::{DeviceRow, OfficerRow, Role};
use pocketbook_server::retention::RetentionPolicy;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_server::storage::{Principal, RecordCommit, Storage};
use pocketbook_server::sync::{self, Arrival, CommitMode, PushResult};

/// The device that made the bench's records, kept for their updates.
pub(crate) struct Device {
    _dir: tempfile::TempDir,
    nb: std::sync::Arc<pocketbook_core::Notebook>,
}

/// `records` new records of one officer (1,000 in the benchmarks), as
/// their device pushes them.
pub(crate) fn pushes(records: usize) -> (Device, Vec<PushedRecord>) {
    let (dir, nb) = pocketbook_fixtures::notebook_of(pocketbook_fixtures::officer("PC1"));
    let pushes = (0..records)
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
        .collect();
    (Device { _dir: dir, nb }, pushes)
}

/// An update of every record: a note added on the device, pushed as the
/// changes the server's copy lacks.
pub(crate) fn updates(device: &Device, pushes: &[PushedRecord]) -> Vec<PushedRecord> {
    pushes
        .iter()
        .map(|p| {
            let before = AutoCommit::load(&device.nb.export(p.record_id.clone()).unwrap())
                .unwrap()
                .get_heads();
            device
                .nb
                .add_note(p.record_id.clone(), "Spoke to the neighbour again.".into())
                .unwrap();
            let mut after =
                AutoCommit::load(&device.nb.export(p.record_id.clone()).unwrap()).unwrap();
            PushedRecord {
                record_id: p.record_id.clone(),
                kind: p.kind,
                changes: after.save_after(&before),
            }
        })
        .collect()
}

pub(crate) fn principal() -> Principal {
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

pub(crate) fn arrival(commit: CommitMode) -> Arrival {
    let at = pocketbook_fixtures::station_now();
    Arrival {
        at,
        stamp: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        retention: RetentionPolicy::default(),
        retention_now: at,
        commit,
    }
}

/// An empty store in a fresh directory.
pub(crate) fn fresh() -> (tempfile::TempDir, SqliteStorage) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStorage::open(dir.path()).unwrap();
    (dir, store)
}

/// Pushes every record, a request's worth at a time; all must be accepted.
pub(crate) fn push_all(
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
pub(crate) fn commits(principal: &Principal, pushes: &[PushedRecord]) -> Vec<RecordCommit> {
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
pub(crate) fn on_fresh_stores(b: &mut criterion::Bencher<'_>, work: impl Fn(&SqliteStorage)) {
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
