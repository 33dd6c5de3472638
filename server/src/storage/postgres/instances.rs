//! Several server instances on one PostgreSQL database, as storage sees
//! them: two stores with their own pools on one schema are two servers.
//! The change feed never skips or repeats an entry while writers on both
//! commit out of order.

use std::sync::atomic::{AtomicBool, Ordering};

use pocketbook_core::model::{RecordKind, RecordStatus};

use super::testdb;
use crate::storage::{Audience, RecordCommit, RecordIndex, Storage, StorageError};

const WRITERS: usize = 8;
const EACH: usize = 60;
const READERS: usize = 3;

fn commit(id: &str, reference: &str, version: Option<i64>) -> RecordCommit {
    let t = "2026-11-28T10:00:00Z".to_string();
    RecordCommit {
        index: RecordIndex {
            id: id.into(),
            kind: RecordKind::StopSearch,
            reference: reference.into(),
            author: "PC1".into(),
            station: "Lewisham".into(),
            occurred_at: t.clone(),
            status: RecordStatus::Open,
            created_at: t.clone(),
            updated_at: t,
        },
        snapshot: id.as_bytes().to_vec(),
        new_changes: id.as_bytes().to_vec(),
        expected_version: version,
        origin_device: "dev".into(),
        grant: Vec::new(),
        audit: Vec::new(),
    }
}

/// What a reader saw: every position, in the order read.
fn read_until_done(store: &dyn Storage, done: &AtomicBool, page: u32) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut cursor = 0u64;
    loop {
        // Read `done` before the page: once writers are done and a page
        // comes back empty, nothing more can commit.
        let finished = done.load(Ordering::SeqCst);
        let rows = store.feed_window(cursor, page, usize::MAX).unwrap();
        if rows.is_empty() && finished {
            return seen;
        }
        for row in rows {
            // Positions come from one counter row, rolled back with a
            // failed transaction: the feed is dense, so anything but the
            // next position is a skip (a later commit seen before an
            // earlier one) or a repeat.
            assert_eq!(
                row.seq,
                cursor + 1,
                "after {cursor} the reader saw {}: a skipped or repeated entry",
                row.seq
            );
            cursor = row.seq;
            seen.push(row.seq);
        }
    }
}

/// What a reader through the audience index saw of PC1's entries, every
/// position in the order read: its cursor jumps to the head it read when
/// nothing more is there, so a position it passed while an earlier one
/// was still open would never be read.
fn read_scoped_until_done(
    store: &dyn Storage,
    done: &AtomicBool,
    page: u32,
    max_bytes: usize,
) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut cursor = 0u64;
    let pc1 = [Audience::Officer("PC1".into())];
    loop {
        let finished = done.load(Ordering::SeqCst);
        let slice = store.feed_for(&pc1, cursor, page, max_bytes).unwrap();
        if slice.rows.is_empty() && !slice.more && finished {
            return seen;
        }
        for row in &slice.rows {
            assert!(
                row.seq > cursor,
                "after {cursor} the reader saw {}",
                row.seq
            );
            assert_eq!(row.author, "PC1", "an entry out of the audience");
            cursor = row.seq;
            seen.push(row.seq);
        }
        assert!(slice.end >= cursor);
        cursor = slice.end;
    }
}

/// Eight writers through two instances (four each), committing new
/// records, updates and refused duplicates, while readers on both
/// instances page the feed: no reader ever skips or repeats an entry, and
/// each ends having read every committed entry once. Half the writers are
/// PC1 and half PC2; readers of PC1's audience through the index (its
/// cursor moving to the head between its entries) read exactly PC1's.
#[test]
fn the_feed_never_skips_or_repeats_across_instances() {
    if !testdb::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let instances = [
        testdb::open_sized(dir.path(), 8),
        testdb::open_sized(dir.path(), 8),
    ];
    let done = AtomicBool::new(false);
    let (committed, seen) = std::thread::scope(|threads| {
        let readers: Vec<_> = (0..READERS)
            .map(|r| {
                let store: &dyn Storage = &instances[r % 2];
                let done = &done;
                threads.spawn(move || read_until_done(store, done, 1 + r as u32 * 3))
            })
            .collect();
        let scoped: Vec<_> = (0..READERS)
            .map(|r| {
                let store: &dyn Storage = &instances[(r + 1) % 2];
                let done = &done;
                let max_bytes = if r == 0 { 1 } else { usize::MAX };
                threads
                    .spawn(move || read_scoped_until_done(store, done, 1 + r as u32 * 3, max_bytes))
            })
            .collect();
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let store: &dyn Storage = &instances[w % 2];
                let author = if w % 2 == 0 { "PC1" } else { "PC2" };
                let commit = move |id: &str, reference: &str, version: Option<i64>| {
                    let mut c = commit(id, reference, version);
                    c.index.author = author.into();
                    c
                };
                threads.spawn(move || {
                    let mut committed = Vec::new();
                    for n in 0..EACH {
                        let id = format!("w{w}-{n}");
                        committed.push(store.commit_record(&commit(&id, &id, None)).unwrap());
                        if n % 5 == 0 {
                            // A refused write (a reference already taken)
                            // takes no position.
                            assert!(matches!(
                                store.commit_record(&commit(&format!("{id}-twin"), &id, None)),
                                Err(StorageError::Duplicate(_))
                            ));
                        }
                        if n % 3 == 0 {
                            let version = store.record(&id).unwrap().unwrap().version;
                            committed.push(
                                store
                                    .commit_record(&commit(&id, &id, Some(version)))
                                    .unwrap(),
                            );
                        }
                    }
                    committed
                })
            })
            .collect();
        let by_writer: Vec<Vec<u64>> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        done.store(true, Ordering::SeqCst);
        let seen: Vec<Vec<u64>> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        let seen_scoped: Vec<Vec<u64>> = scoped.into_iter().map(|r| r.join().unwrap()).collect();
        let mut of_pc1: Vec<u64> = by_writer.iter().step_by(2).flatten().copied().collect();
        of_pc1.sort_unstable();
        for reader in seen_scoped {
            assert_eq!(reader, of_pc1, "PC1's entries, each once, none skipped");
        }
        (by_writer.concat(), seen)
    });
    let mut committed = committed;
    committed.sort_unstable();
    let expected: Vec<u64> = (1..=committed.len() as u64).collect();
    assert_eq!(committed, expected, "positions are dense and unique");
    for reader in seen {
        assert_eq!(reader, expected);
    }
}

/// Two instances running the scheduled retention job at the same moment
/// on one database: one of them runs it and erases every due record once;
/// the other finds the period claimed and does nothing.
#[test]
fn retention_runs_once_when_two_instances_run_it_at_once() {
    use crate::retention::{RetentionPolicy, run_scheduled};
    use crate::storage::{AuditLog, AuditQuery};
    if !testdb::available() {
        return;
    }
    const DUE: usize = 30;
    let dir = tempfile::tempdir().unwrap();
    let instances = [testdb::open(dir.path()), testdb::open(dir.path())];
    for n in 0..DUE {
        let id = format!("old-{n}");
        instances[n % 2]
            .commit_record(&commit(&id, &id, None))
            .unwrap();
    }
    let now = "2028-01-01T00:00:00Z".parse().unwrap();
    let every = std::time::Duration::from_secs(3600);
    let policy = RetentionPolicy::default();
    let reports: Vec<_> = std::thread::scope(|threads| {
        let runs: Vec<_> = instances
            .iter()
            .map(|store| threads.spawn(move || run_scheduled(store, &policy, now, every).unwrap()))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let ran: Vec<_> = reports.iter().flatten().collect();
    assert_eq!(ran.len(), 1, "exactly one instance ran the period");
    assert_eq!(ran[0].records.len(), DUE);
    let erased = instances[0]
        .audit_events(&AuditQuery {
            action: Some("record-erased".into()),
            limit: 1000,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(erased.len(), DUE, "each record erased (and audited) once");
    // The next period runs again, on whichever instance asks first.
    let later = now + chrono::TimeDelta::hours(1);
    assert!(
        run_scheduled(&instances[1], &policy, later, every)
            .unwrap()
            .is_some()
    );
    assert!(
        run_scheduled(&instances[0], &policy, later, every)
            .unwrap()
            .is_none()
    );
}
