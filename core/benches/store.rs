//! Device store benchmarks (criterion). Read the results as ratios between
//! benchmarks of one run: `BENCHMARKS.md` records them with the machine.
//!
//! - `scene_action/after_10` vs `scene_action/after_5000`: the cost of one
//!   durable scene action must not grow with the record's history.
//! - `note_entry/after_10` vs `scene_action/after_10`: a notebook entry
//!   costs about what a scene action costs; `note_entry/after_2500` shows it
//!   does not grow with the notebook.
//! - `floor/raw_sqlite_insert_commit`: the same change bytes inserted and
//!   committed with plain rusqlite under the same pragmas, the floor.
//! - `encrypted/scene_action_after_10` against both floors (plain, and
//!   `floor/raw_sqlcipher_insert_commit` keyed as the store is): what an
//!   edit costs on the encrypted store, and what encryption itself costs.
//! - `cpu/*`: the encrypted and plain edits and both floors again, timed in
//!   this thread's CPU time rather than wall time: the work of an edit
//!   against the work of a bare insert, apart from the disk's `fsync`.
//! - `open/10000_records`, `list/10000_records`: startup and the list screen.
//! - `promises/10000_records` against `list/10000_records`: the officer's
//!   promises screen (and a `PromiseWatch` check of everything), which
//!   reads every record rather than the index.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pocketbook_core::Notebook;
use pocketbook_core::api::promises::PromiseFilter;
use pocketbook_core::model::*;
use pocketbook_core::store::ListFilter;
use pocketbook_fixtures::thread_cpu;

mod common;
use common::*;

/// A clock for a benchmark: wall time, or the CPU time of this thread.
type Clock = fn() -> Duration;

/// Wall time since the first call.
fn wall() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// Times one kind of durable edit on a record that already holds `prior`
/// entries of that kind, by `clock`. A record holds a bounded number of
/// entries (`MAX_ACTIONS`, `MAX_NOTE_ENTRIES`), so when the current record
/// is full a new one is filled to `prior` again; only the timed edits are
/// counted.
fn bench_appends(
    b: &mut criterion::Bencher<'_>,
    nb: &Notebook,
    prior: usize,
    bound: usize,
    clock: Clock,
    append: impl Fn(&Notebook, &str, usize),
) {
    let fresh = || {
        let id = nb.create_scene(scene_input()).unwrap().header.id;
        for n in 0..prior {
            append(nb, &id, n);
        }
        id
    };
    let mut id = fresh();
    let mut held = prior;
    b.iter_custom(|iters| {
        let mut total = Duration::ZERO;
        let mut started = clock();
        for _ in 0..iters {
            if held == bound {
                total += clock() - started;
                id = fresh();
                held = prior;
                started = clock();
            }
            append(nb, &id, held);
            held += 1;
        }
        total + (clock() - started)
    });
}

fn scene_action(c: &mut Criterion) {
    let mut group = c.benchmark_group("scene_action");
    for prior in [10, 5000] {
        let dir = tempfile::tempdir().unwrap();
        let nb = Notebook::open(dir.path().display().to_string(), officer()).unwrap();
        group.bench_function(format!("after_{prior}"), |b| {
            let bound = if prior == 10 {
                AFTER_10_BOUND
            } else {
                MAX_ACTIONS
            };
            bench_appends(b, &nb, prior, bound, wall, |nb, id, n| {
                nb.add_scene_action(id.into(), note(n)).unwrap();
            })
        });
    }
    group.finish();
}

/// A scene action on the encrypted store (the app's store).
fn encrypted_scene_action(c: &mut Criterion) {
    let mut group = c.benchmark_group("encrypted");
    let dir = tempfile::tempdir().unwrap();
    let nb = Notebook::open_encrypted(dir.path().display().to_string(), officer(), KEY.to_vec())
        .unwrap();
    group.bench_function("scene_action_after_10", |b| {
        bench_appends(b, &nb, 10, AFTER_10_BOUND, wall, |nb, id, n| {
            nb.add_scene_action(id.into(), note(n)).unwrap();
        })
    });
    group.finish();
}

/// A notebook entry, the edit that replaced rewriting a notes text.
fn note_entry(c: &mut Criterion) {
    let mut group = c.benchmark_group("note_entry");
    for prior in [10, 2500] {
        let dir = tempfile::tempdir().unwrap();
        let nb = Notebook::open(dir.path().display().to_string(), officer()).unwrap();
        group.bench_function(format!("after_{prior}"), |b| {
            let bound = if prior == 10 {
                AFTER_10_BOUND
            } else {
                MAX_NOTE_ENTRIES
            };
            bench_appends(b, &nb, prior, bound, wall, |nb, id, n| {
                nb.add_note(
                    id.into(),
                    format!("Spoke to neighbour at number {n}; saw a man in a grey hoodie"),
                )
                .unwrap();
            })
        });
    }
    group.finish();
}

/// The floors: one change inserted and committed, nothing else.
const FLOORS: [(&str, bool); 2] = [
    ("raw_sqlite_insert_commit", false),
    ("raw_sqlcipher_insert_commit", true),
];

fn bench_floor(
    b: &mut criterion::Bencher<'_>,
    conn: &rusqlite::Connection,
    change: &[u8],
    clock: Clock,
) {
    b.iter_custom(|iters| {
        let started = clock();
        for _ in 0..iters {
            floor_insert(conn, change);
        }
        clock() - started
    })
}

fn floor(c: &mut Criterion) {
    let change = one_change();
    let mut group = c.benchmark_group("floor");
    for (name, keyed) in FLOORS {
        let dir = tempfile::tempdir().unwrap();
        let conn = floor_db(dir.path(), "floor.db", keyed);
        group.bench_function(name, |b| bench_floor(b, &conn, &change, wall));
    }
    group.finish();
}

/// The same edits and floors in CPU time (see [`thread_cpu`]): the ratios
/// of work, apart from the disk's `fsync`.
fn cpu(c: &mut Criterion) {
    let mut group = c.benchmark_group("cpu");
    for (name, key) in [
        ("scene_action_after_10", None),
        ("encrypted_scene_action_after_10", Some(KEY.to_vec())),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().display().to_string();
        let nb = match key {
            Some(key) => Notebook::open_encrypted(path, officer(), key).unwrap(),
            None => Notebook::open(path, officer()).unwrap(),
        };
        group.bench_function(name, |b| {
            bench_appends(b, &nb, 10, AFTER_10_BOUND, thread_cpu, |nb, id, n| {
                nb.add_scene_action(id.into(), note(n)).unwrap();
            })
        });
    }
    let change = one_change();
    for (name, keyed) in FLOORS {
        let dir = tempfile::tempdir().unwrap();
        let conn = floor_db(dir.path(), "floor.db", keyed);
        group.bench_function(name, |b| bench_floor(b, &conn, &change, thread_cpu));
    }
    group.finish();
}

fn open_and_list(c: &mut Criterion) {
    const RECORDS: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().display().to_string();
    {
        let nb = Notebook::open(path.clone(), officer()).unwrap();
        for _ in 0..RECORDS {
            nb.create_scene(scene_input()).unwrap();
        }
    }
    let mut group = c.benchmark_group("store");
    group.sample_size(20);
    group.bench_function("open/10000_records", |b| {
        b.iter(|| black_box(Notebook::open(path.clone(), officer()).unwrap()))
    });
    let nb = Notebook::open(path, officer()).unwrap();
    group.bench_function("list/10000_records", |b| {
        b.iter(|| {
            let all = nb.list(ListFilter::default()).unwrap();
            assert_eq!(all.len(), RECORDS);
            all
        })
    });
    group.bench_function("promises/10000_records", |b| {
        b.iter(|| {
            let all = nb.promises(PromiseFilter::default()).unwrap();
            assert_eq!(all.len(), RECORDS, "one emergency attendance each");
            all
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = scene_action, encrypted_scene_action, note_entry, floor, cpu, open_and_list
}
criterion_main!(benches);
