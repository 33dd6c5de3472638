//! Several server instances on one PostgreSQL database, as storage sees
//! them: two stores with their own pools on one schema are two servers.
//! The change feed never skips or repeats an entry while writers on both
//! commit out of order, nor when a writer stops between committing its
//! record and the sequencing run that numbers its entry.

use std::sync::atomic::{AtomicBool, Ordering};

use pocketbook_core::model::{RecordKind, RecordStatus};

use super::{PostgresStorage, records, testdb};
use crate::audit::Action;
use crate::storage::{Audience, AuditLog, RecordCommit, RecordIndex, Storage, StorageError};

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
        audit: vec![crate::audit::event(
            "device:dev",
            Action::RecordShared,
            Some(id),
            serde_json::json!({ "n": 1 }),
        )],
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
///
/// Every seventh new record's writer stops after its commit, before its
/// sequencing run (as a crashed instance would): its entry is committed
/// and unnumbered, numbered later by another writer's run or, for the
/// last ones, by the sweep of an instance starting afterwards; readers
/// never pass it, and read it once. The audit chain, staged by every
/// write and chained by the runs, verifies and holds one event per entry.
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
    let (committed, stopped, seen, seen_scoped) = std::thread::scope(|threads| {
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
                let pg: &PostgresStorage = &instances[w % 2];
                let store: &dyn Storage = pg;
                let author = if w % 2 == 0 { "PC1" } else { "PC2" };
                let commit = move |id: &str, reference: &str, version: Option<i64>| {
                    let mut c = commit(id, reference, version);
                    c.index.author = author.into();
                    c
                };
                threads.spawn(move || {
                    let (mut committed, mut stopped) = (Vec::new(), Vec::new());
                    for n in 0..EACH {
                        let id = format!("w{w}-{n}");
                        if n % 7 == 3 {
                            // Committed, then the writer stops: no run of
                            // its own numbers the entry.
                            records::stage_record(pg, &commit(&id, &id, None)).unwrap();
                            stopped.push(id);
                            continue;
                        }
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
                    (committed, stopped)
                })
            })
            .collect();
        let (by_writer, stopped): (Vec<Vec<u64>>, Vec<Vec<String>>) =
            writers.into_iter().map(|w| w.join().unwrap()).unzip();
        // The last stopped writers' entries may still wait: an instance
        // starting now numbers them (its sweep), as after a crash.
        drop(testdb::open_sized(dir.path(), 2));
        done.store(true, Ordering::SeqCst);
        let seen: Vec<Vec<u64>> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        let seen_scoped: Vec<Vec<u64>> = scoped.into_iter().map(|r| r.join().unwrap()).collect();
        (by_writer.concat(), stopped.concat(), seen, seen_scoped)
    });
    let feed = instances[0].feed_after(0, 100_000).unwrap();
    let total = committed.len() + stopped.len();
    let expected: Vec<u64> = (1..=total as u64).collect();
    assert_eq!(
        feed.iter().map(|f| f.seq).collect::<Vec<_>>(),
        expected,
        "positions are dense and unique, the stopped writers' entries among them"
    );
    let mut committed = committed;
    committed.sort_unstable();
    committed.dedup();
    assert_eq!(committed.len() + stopped.len(), total, "no position twice");
    for id in &stopped {
        assert_eq!(
            feed.iter().filter(|f| &f.record_id == id).count(),
            1,
            "a stopped writer's entry is numbered once"
        );
    }
    for reader in seen {
        assert_eq!(reader, expected);
    }
    let of_pc1: Vec<u64> = feed
        .iter()
        .filter(|f| f.author == "PC1")
        .map(|f| f.seq)
        .collect();
    for reader in seen_scoped {
        assert_eq!(reader, of_pc1, "PC1's entries, each once, none skipped");
    }
    let verification = crate::audit::verify(&instances[1]).unwrap();
    assert!(verification.intact(), "{:?}", verification.problem);
    assert_eq!(verification.events, total as u64, "one event per entry");
    assert_eq!(instances[0].audit_head().unwrap().unwrap().0, total as u64);
}

/// A writer stops between its commit and its sequencing run, and no other
/// write comes: the sweeper of a running instance numbers the entry (and
/// chains its event) once it has waited a sweep period, and a reader on
/// the other instance reads it; the next write takes the next position.
#[test]
fn a_stopped_writers_entry_is_numbered_by_the_sweeper() {
    if !testdb::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let instances = [testdb::open(dir.path()), testdb::open(dir.path())];
    let first = instances[0]
        .commit_record(&commit("s1", "s1", None))
        .unwrap();
    records::stage_record(&instances[0], &commit("s2", "s2", None)).unwrap();
    let pc1 = [Audience::Officer("PC1".into())];
    // Up to a minute (the sweeper runs within two periods of 5 s); the
    // reader's cursor never passes the waiting entry meanwhile.
    let mut cursor = first;
    let mut read = Vec::new();
    for _ in 0..600 {
        let slice = instances[1].feed_for(&pc1, cursor, 10, usize::MAX).unwrap();
        read.extend(slice.rows.iter().map(|r| (r.seq, r.record_id.clone())));
        cursor = slice.end;
        if !read.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(read, vec![(first + 1, "s2".to_string())]);
    let next = instances[1]
        .commit_record(&commit("s3", "s3", None))
        .unwrap();
    assert_eq!(next, first + 2);
    let verification = crate::audit::verify(&instances[1]).unwrap();
    assert!(verification.intact(), "{:?}", verification.problem);
    assert_eq!(verification.events, 3);
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
