//! The steps of a push timed alone, each over the 1,000 records: the
//! store's read (two queries against the one a push now makes) and the
//! document steps (decode, schema, record, save, load and apply), to say
//! where `merge_and_checks`' time goes.

use std::hint::black_box;
use std::time::Duration;

use automerge::ActorId;
use criterion::Criterion;
use pocketbook_core::document::RecordDoc;
use pocketbook_core::sync::wire::PushedRecord;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_server::storage::{RetentionStore, Storage};

use crate::Spent;
use crate::inputs::fresh;

/// The store's read of a push alone, for every record: on an empty store
/// (a new record) and on one holding them (an update); as two reads (the
/// record, then its tombstone: `store_reads_*`) and as the one query a
/// push now makes (`record_or_tombstone`: `store_read_one_*`). Part of
/// `merge_and_checks`, but the store's work.
pub(crate) fn store_reads(c: &mut Criterion, stored: &SqliteStorage, pushes: &[PushedRecord]) {
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
pub(crate) fn steps(c: &mut Criterion, pushes: &[PushedRecord], updates: &[PushedRecord]) {
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
