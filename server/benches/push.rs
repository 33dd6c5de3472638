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
// The bench's parts, beside it in `push/`.
#[path = "push/inputs.rs"]
mod inputs;
#[path = "push/sizes.rs"]
mod sizes;
#[path = "push/steps.rs"]
mod steps;

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use pocketbook_core::sync::wire::{MAX_PUSH_RECORDS, PushedRecord};
use pocketbook_fixtures::thread_cpu;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_server::storage::{Principal, Storage};
use pocketbook_server::sync::{self, Arrival, CommitMode};

use inputs::{arrival, commits, fresh, on_fresh_stores, principal, push_all, pushes, updates};
use sizes::snapshot_sizes;
use steps::{steps, store_reads};

const RECORDS: usize = 1_000;

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
