//! The behaviour every storage backend must show. Each backend's tests call
//! [`run`] with a constructor; the PostgreSQL backend runs the same suite.

use std::path::Path;

use pocketbook_core::model::RecordKind;

use super::*;

fn officer(number: &str, station: &str) -> OfficerRow {
    OfficerRow {
        shoulder_number: number.into(),
        name: format!("Officer {number}"),
        station: station.into(),
        role: "officer".into(),
        active: true,
    }
}

fn device(id: &str) -> DeviceRow {
    DeviceRow {
        id: id.into(),
        officer: String::new(),
        label: "test".into(),
        enrolled_at: "2026-11-28T10:00:00Z".into(),
        revoked_at: None,
        last_seen: None,
    }
}

fn commit(id: &str, version: Option<i64>, changes: &[u8]) -> RecordCommit {
    RecordCommit {
        index: RecordIndex {
            id: id.into(),
            kind: RecordKind::StopSearch,
            reference: "ABCD".into(),
            author: "PC1".into(),
            station: "Lewisham".into(),
            occurred_at: "2026-11-28T10:00:00Z".into(),
            status: "open".into(),
            created_at: "2026-11-28T10:00:00Z".into(),
            updated_at: "2026-11-28T10:00:00Z".into(),
        },
        snapshot: changes.to_vec(),
        new_changes: changes.to_vec(),
        expected_version: version,
        origin_device: "dev-1".into(),
    }
}

/// Runs every behaviour against a fresh backend made by `make`.
pub fn run(make: impl Fn(&Path) -> Box<dyn Storage>) {
    let dir = tempfile::tempdir().unwrap();
    let store = make(dir.path());
    store.ping().unwrap();

    // Officers: add, read back, refuse duplicates.
    store.add_officer(&officer("PC1", "Lewisham")).unwrap();
    assert!(matches!(
        store.add_officer(&officer("PC1", "Lewisham")),
        Err(StorageError::Duplicate(_))
    ));
    assert_eq!(store.officer("PC1").unwrap().unwrap().station, "Lewisham");
    assert!(store.officer("PC9").unwrap().is_none());
    assert_eq!(store.officers().unwrap().len(), 1);

    // Enrolment codes work once, before they expire, for known officers.
    assert!(matches!(
        store.add_enrolment_code(b"code-x", "PC9", 100),
        Err(StorageError::NotFound(_))
    ));
    store.add_enrolment_code(b"code-1", "PC1", 100).unwrap();
    store.add_enrolment_code(b"code-2", "PC1", 100).unwrap();
    assert!(matches!(
        store.redeem_enrolment_code(b"code-2", 100, &device("d0"), b"tok-0"),
        Err(StorageError::CodeRefused)
    ));
    let who = store
        .redeem_enrolment_code(b"code-1", 50, &device("d1"), b"tok-1")
        .unwrap();
    assert_eq!(who.shoulder_number, "PC1");
    assert!(matches!(
        store.redeem_enrolment_code(b"code-1", 51, &device("d2"), b"tok-2"),
        Err(StorageError::CodeRefused)
    ));
    assert!(matches!(
        store.redeem_enrolment_code(b"nope", 51, &device("d3"), b"tok-3"),
        Err(StorageError::CodeRefused)
    ));
    let principal = store.principal(b"tok-1").unwrap().unwrap();
    assert_eq!(principal.device.id, "d1");
    assert_eq!(principal.device.officer, "PC1");
    assert!(store.principal(b"tok-2").unwrap().is_none());
    store.touch_device("d1", "2026-11-28T11:00:00Z").unwrap();
    assert_eq!(
        store.devices().unwrap()[0].last_seen.as_deref(),
        Some("2026-11-28T11:00:00Z")
    );

    // Records: insert, compare-and-swap, conflicts, feed order.
    assert_eq!(store.feed_after(0, 10).unwrap(), vec![]);
    let first = store.commit_record(&commit("r1", None, b"one")).unwrap();
    assert!(matches!(
        store.commit_record(&commit("r1", None, b"dup")),
        Err(StorageError::Conflict)
    ));
    let stored = store.record("r1").unwrap().unwrap();
    assert_eq!(stored.snapshot, b"one");
    let second = store
        .commit_record(&commit("r1", Some(stored.version), b"two"))
        .unwrap();
    assert!(second > first);
    assert!(matches!(
        store.commit_record(&commit("r1", Some(stored.version), b"stale")),
        Err(StorageError::Conflict)
    ));
    let third = store.commit_record(&commit("r2", None, b"three")).unwrap();
    let feed = store.feed_after(0, 10).unwrap();
    let seqs: Vec<u64> = feed.iter().map(|f| f.seq).collect();
    assert_eq!(seqs, vec![first, second, third]);
    assert_eq!(feed[1].changes, b"two");
    assert_eq!(store.feed_after(first, 1).unwrap()[0].seq, second);
    assert_eq!(store.feed_after(third, 10).unwrap(), vec![]);
    assert_eq!(store.records().unwrap().len(), 2);
    assert!(store.record("missing").unwrap().is_none());

    // Byte-bounded windows stop once the budget is spent, but never return
    // nothing while entries remain; a cursor past the end reads nothing.
    assert_eq!(store.feed_window(0, 10, 1).unwrap().len(), 1);
    assert_eq!(store.feed_window(0, 10, 4).unwrap().len(), 2);
    assert_eq!(store.feed_window(0, 2, usize::MAX).unwrap().len(), 2);
    assert!(store.feed_window(u64::MAX, 10, 100).unwrap().is_empty());

    // Writers racing on one record: compare-and-swap loses nothing, and
    // every commit gets its own feed entry in order.
    const WRITERS: usize = 4;
    const EACH: usize = 10;
    std::thread::scope(|threads| {
        for _ in 0..WRITERS {
            threads.spawn(|| {
                for _ in 0..EACH {
                    loop {
                        let current = store.record("r2").unwrap().unwrap();
                        match store.commit_record(&commit("r2", Some(current.version), b"more")) {
                            Ok(_) => break,
                            Err(StorageError::Conflict) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
    });
    let feed = store.feed_after(third, 1000).unwrap();
    assert_eq!(feed.len(), WRITERS * EACH);
    assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(store.record("r2").unwrap().unwrap().snapshot, b"more");
}
