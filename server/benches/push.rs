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
//! - `update_1000/merge_and_checks`: the same for an update of each of
//!   the 1,000 stored records (one note added on the device: the changes
//!   since the server's copy), against a store holding them; nothing
//!   written, so one store serves every iteration.
//! - `steps/*`: the document steps of those two paths alone, each over the
//!   1,000 records, to say where the time goes, and the store's read.
//!
//! Before the benchmarks it prints the stored snapshot's size, deflated
//! against uncompressed, for each record kind.
//!
//! The pushes are two requests of 500 records (`MAX_PUSH_RECORDS`), a mix
//! of stop-and-account and scene records made by a real device core. Each
//! iteration starts from an empty store in a fresh directory (not timed).
//!
//! Three engineers share two cores, so wall time swings with the load: the
//! `merge_and_checks` benchmarks also print the thread's CPU time per
//! record (`CLOCK_THREAD_CPUTIME_ID`), the figure of issue 15's target.
//!
//! With `POCKETBOOK_PUSH_COUNT=<records>` it runs no benchmark: the
//! merge and checks of that many new records and of their updates, once
//! each, for callgrind to count instructions per record (`count`; the
//! recipe is in BENCHMARKS.md, "Group commit", fourth pass). It runs on
//! the server binary's allocator (`src/allocator.rs`).

// The server binary's allocator, so the bench measures what runs.
#[path = "../src/allocator.rs"]
mod allocator;

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use automerge::{ActorId, AutoCommit};
use pocketbook_core::document::RecordDoc;

use criterion::{Criterion, criterion_group};
use pocketbook_core::model::RecordKind;
use pocketbook_core::sync::wire::{MAX_PUSH_RECORDS, PushedRecord};
use pocketbook_fixtures::thread_cpu;
use pocketbook_server::identity::{DeviceRow, OfficerRow, Role};
use pocketbook_server::retention::RetentionPolicy;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_server::storage::{Principal, RecordCommit, RetentionStore, Storage};
use pocketbook_server::sync::{self, Arrival, CommitMode, PushResult};

const RECORDS: usize = 1_000;

/// The device that made the bench's records, kept for their updates.
struct Device {
    _dir: tempfile::TempDir,
    nb: std::sync::Arc<pocketbook_core::Notebook>,
}

/// `records` new records of one officer (1,000 in the benchmarks), as
/// their device pushes them.
fn pushes(records: usize) -> (Device, Vec<PushedRecord>) {
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
fn updates(device: &Device, pushes: &[PushedRecord]) -> Vec<PushedRecord> {
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

/// Wall and CPU time of every timed iteration of one benchmark.
#[derive(Default)]
struct Spent {
    wall: Cell<Duration>,
    cpu: Cell<Duration>,
    iterations: Cell<u64>,
}

impl Spent {
    fn time<T>(&self, work: impl FnOnce() -> T) -> (T, Duration) {
        let (cpu, start) = (thread_cpu(), Instant::now());
        let out = work();
        let wall = start.elapsed();
        self.wall.set(self.wall.get() + wall);
        self.cpu.set(self.cpu.get() + (thread_cpu() - cpu));
        self.iterations.set(self.iterations.get() + 1);
        (out, wall)
    }

    /// Prints the mean CPU and wall time per record, and the load average.
    fn report(&self, name: &str) {
        let per_record = |d: Duration| {
            d.as_secs_f64() * 1e3 / (self.iterations.get().max(1) as f64 * RECORDS as f64)
        };
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        eprintln!(
            "{name}: CPU {:.3} ms per record, wall {:.3} ms per record ({} iterations; load {})",
            per_record(self.cpu.get()),
            per_record(self.wall.get()),
            self.iterations.get(),
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
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

/// A note of about 100 characters, words drawn from an officer's usual
/// vocabulary by a fixed pseudo-random sequence: text that deflates about
/// as real notes do, not one sentence repeated (which deflates far better).
fn note_text(seed: &mut u64) -> String {
    const WORDS: &[&str] = &[
        "spoke",
        "to",
        "the",
        "neighbour",
        "at",
        "number",
        "who",
        "saw",
        "two",
        "males",
        "leave",
        "by",
        "back",
        "gate",
        "about",
        "rear",
        "window",
        "forced",
        "victim",
        "says",
        "nothing",
        "taken",
        "from",
        "kitchen",
        "car",
        "parked",
        "outside",
        "blue",
        "van",
        "witness",
        "will",
        "call",
        "station",
        "tomorrow",
        "morning",
        "CCTV",
        "requested",
        "shop",
        "opposite",
        "door",
        "frame",
        "damaged",
        "footprint",
        "in",
        "garden",
        "bag",
        "recovered",
        "scene",
        "photographed",
        "advised",
        "on",
        "crime",
        "prevention",
        "locks",
        "a",
        "and",
        "was",
        "of",
        "with",
        "after",
        "left",
        "home",
        "returned",
        "found",
    ];
    let mut text = String::new();
    while text.len() < 100 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(WORDS[(*seed >> 33) as usize % WORDS.len()]);
    }
    text.push('.');
    text
}

/// The stored snapshot's size, deflated (`save`) against as the server
/// stores it (`save_uncompressed`), for each record kind as created and
/// after 10 and 50 notes of a typical length (about 100 characters, of
/// varied words: [`note_text`]), in
/// bytes. Sizes, not times: printed once, before the benchmarks.
fn snapshot_sizes() {
    let (_dir, nb) = pocketbook_fixtures::notebook_of(pocketbook_fixtures::officer("PC2"));
    let created = [
        (
            "scene attendance",
            nb.create_scene(pocketbook_fixtures::emergency_scene())
                .unwrap(),
        ),
        (
            "home burglary",
            nb.create_burglary(pocketbook_fixtures::emergency_scene())
                .unwrap(),
        ),
        (
            "stop and search",
            nb.create_stop_search(pocketbook_fixtures::stop_search())
                .unwrap(),
        ),
        (
            "stop and account",
            nb.create_stop_account(pocketbook_fixtures::stop_account())
                .unwrap(),
        ),
    ];
    eprintln!(
        "snapshot sizes (bytes): kind | notes | deflated (save) | uncompressed (stored) | ratio"
    );
    for (name, record) in created {
        let id = record.header.id;
        let mut notes = 0;
        let mut seed = 7u64;
        for target in [0, 10, 50] {
            while notes < target {
                nb.add_note(id.clone(), note_text(&mut seed)).unwrap();
                notes += 1;
            }
            let mut doc =
                RecordDoc::load(&nb.export(id.clone()).unwrap(), ActorId::random()).unwrap();
            let (deflated, plain) = (doc.save().len(), doc.save_uncompressed().len());
            eprintln!(
                "snapshot sizes: {name} | {notes} | {deflated} | {plain} | {:.2}",
                plain as f64 / deflated as f64
            );
        }
    }
}

fn bench(c: &mut Criterion) {
    snapshot_sizes();
    let (device, pushes) = pushes(RECORDS);
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
        on_fresh_stores(b, |store| new_records(store, &principal, &pushes, &arrival))
    });
    let spent = Spent::default();
    group.bench_function("merge_and_checks_cpu", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (_dir, store) = fresh();
                total += spent
                    .time(|| new_records(&store, &principal, &pushes, &arrival))
                    .1;
            }
            total
        })
    });
    spent.report("push_1000/merge_and_checks");
    group.finish();

    // Updates: one note added to each stored record.
    let updates = updates(&device, &pushes);
    let (_dir, store) = fresh();
    push_all(&store, &principal, &pushes, &arrival);
    let mut group = c.benchmark_group("update_1000");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    let spent = Spent::default();
    group.bench_function("merge_and_checks", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += spent
                    .time(|| updated_records(&store, &principal, &updates, &arrival))
                    .1;
            }
            total
        })
    });
    spent.report("update_1000/merge_and_checks");
    group.finish();
    store_reads(c, &store, &pushes);
    steps(c, &pushes, &updates);
}

/// The store's read of a push alone, for every record: on an empty store
/// (a new record) and on one holding them (an update); as two reads (the
/// record, then its tombstone: `store_reads_*`) and as the one query a
/// push now makes (`record_or_tombstone`: `store_read_one_*`). Part of
/// `merge_and_checks`, but the store's work.
fn store_reads(c: &mut Criterion, stored: &SqliteStorage, pushes: &[PushedRecord]) {
    let (_dir, empty) = fresh();
    let mut group = c.benchmark_group("steps");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    let two = |store: &SqliteStorage, p: &PushedRecord| {
        black_box(store.record(&p.record_id).unwrap());
        black_box(store.tombstone(&p.record_id).unwrap());
    };
    let one = |store: &SqliteStorage, p: &PushedRecord| {
        black_box(store.record_or_tombstone(&p.record_id).unwrap());
    };
    type Read<'a> = &'a dyn Fn(&SqliteStorage, &PushedRecord);
    let cases: [(&str, &SqliteStorage, Read<'_>); 4] = [
        ("store_reads_new", &empty, &two),
        ("store_reads_stored", stored, &two),
        ("store_read_one_new", &empty, &one),
        ("store_read_one_stored", stored, &one),
    ];
    for (name, store, read) in cases {
        let spent = Spent::default();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += spent
                        .time(|| {
                            for p in pushes {
                                read(store, p);
                            }
                        })
                        .1;
                }
                total
            })
        });
        spent.report(&format!("steps/{name}"));
    }
    group.finish();
}

/// The document steps of a push, each over the 1,000 records.
fn steps(c: &mut Criterion, pushes: &[PushedRecord], updates: &[PushedRecord]) {
    let docs = || -> Vec<RecordDoc> {
        pushes
            .iter()
            .map(|p| RecordDoc::from_changes(&p.changes, ActorId::random()).unwrap())
            .collect()
    };
    let mut new_docs = docs();
    let snapshots: Vec<Vec<u8>> = new_docs
        .iter_mut()
        .map(RecordDoc::save_uncompressed)
        .collect();
    let mut group = c.benchmark_group("steps");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("from_changes", |b| {
        b.iter(|| {
            for p in pushes {
                black_box(RecordDoc::from_changes(&p.changes, ActorId::random()).unwrap());
            }
        })
    });
    group.bench_function("check_schema", |b| {
        b.iter(|| {
            for d in &new_docs {
                d.check_schema().unwrap();
            }
        })
    });
    group.bench_function("checked_record", |b| {
        b.iter(|| {
            for d in &new_docs {
                black_box(d.checked_record().unwrap());
            }
        })
    });
    group.bench_function("checked_record_in_one_walk", |b| {
        b.iter(|| {
            for d in &new_docs {
                black_box(d.checked_record_in_one_walk().unwrap());
            }
        })
    });
    group.bench_function("save", |b| {
        b.iter(|| {
            for d in new_docs.iter_mut() {
                black_box(d.save());
            }
        })
    });
    group.bench_function("save_uncompressed", |b| {
        b.iter(|| {
            for d in new_docs.iter_mut() {
                black_box(d.save_uncompressed());
            }
        })
    });
    group.bench_function("changes_since_start", |b| {
        b.iter(|| {
            for d in new_docs.iter_mut() {
                black_box(d.changes_since(&[]));
            }
        })
    });
    group.bench_function("load_snapshot", |b| {
        b.iter(|| {
            for s in &snapshots {
                black_box(RecordDoc::load(s, ActorId::random()).unwrap());
            }
        })
    });
    group.bench_function("load_and_apply_update", |b| {
        b.iter(|| {
            for (s, u) in snapshots.iter().zip(updates) {
                let mut d = RecordDoc::load(s, ActorId::random()).unwrap();
                d.apply_changes(&u.changes).unwrap();
                black_box(d);
            }
        })
    });
    group.finish();
}

/// The server's merge and checks of every pushed new record, nothing
/// written: what `push_1000/merge_and_checks_cpu` times, and what the
/// instruction count ([`count`]) collects. Not inlined, so callgrind can
/// collect this function alone (`--toggle-collect=push::new_records`).
#[inline(never)]
fn new_records(
    store: &SqliteStorage,
    principal: &Principal,
    pushes: &[PushedRecord],
    arrival: &Arrival,
) {
    for push in pushes {
        let prepared = sync::prepare_commit(store, principal, push, arrival).unwrap();
        assert!(black_box(prepared).is_ok(), "accepted");
    }
}

/// [`new_records`] for updates of stored records: what
/// `update_1000/merge_and_checks` times
/// (`--toggle-collect=push::updated_records`).
#[inline(never)]
fn updated_records(
    store: &SqliteStorage,
    principal: &Principal,
    updates: &[PushedRecord],
    arrival: &Arrival,
) {
    for push in updates {
        let prepared = sync::prepare_commit(store, principal, push, arrival).unwrap();
        assert!(black_box(prepared).is_ok(), "accepted");
    }
}

/// The instruction-count mode (`POCKETBOOK_PUSH_COUNT=<records>`, no
/// criterion): `records` new records and then their updates, each through
/// the server's merge and checks once, for callgrind to count
/// instructions per record in [`new_records`] and [`updated_records`]
/// alone (the device's set-up is not collected). Instruction counts do not
/// move with the machine's load, as times do. The recipe is in
/// BENCHMARKS.md ("Group commit", fourth pass).
fn count(records: usize) {
    let (device, pushes) = pushes(records);
    let principal = principal();
    let arrival = arrival(CommitMode::Grouped);
    let (_dir, store) = fresh();
    new_records(&store, &principal, &pushes, &arrival);
    push_all(&store, &principal, &pushes, &arrival);
    let updates = updates(&device, &pushes);
    updated_records(&store, &principal, &updates, &arrival);
    eprintln!("counted: {records} new records and {records} updates");
}

criterion_group!(benches, bench);

fn main() {
    if let Some(records) = std::env::var_os("POCKETBOOK_PUSH_COUNT") {
        let records = records.to_str().and_then(|n| n.parse().ok());
        count(records.expect("POCKETBOOK_PUSH_COUNT is a number of records"));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
