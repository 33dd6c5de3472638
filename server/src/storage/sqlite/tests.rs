//! Backend-specific checks of the SQLite store: the shared suite, the
//! migrations of older stores, and the refusal of a newer one.

use pocketbook_core::model::RecordKind;

crate::storage::suite::storage_suite!(|dir| Box::new(super::SqliteStorage::open(dir).unwrap()));

#[test]
fn a_version_1_store_migrates_and_keeps_its_data() {
    use crate::storage::{AuditLog, RetentionStore, Storage};
    let dir = tempfile::tempdir().unwrap();
    {
        // A store exactly as the first server version left it.
        let conn = rusqlite::Connection::open(dir.path().join(super::STORE_FILE)).unwrap();
        conn.execute_batch(super::schema::V1).unwrap();
        conn.pragma_update(None, "application_id", super::schema::APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO officers VALUES ('PC1', 'Jo', 'Lewisham', 'officer', 1);
             INSERT INTO devices (id, officer, token_hash, label, enrolled_at)
                 VALUES ('d1', 'PC1', x'01', 'phone', '2026-01-01T00:00:00Z');
             INSERT INTO feed (record_id, kind, author, station, origin_device, changes)
                 VALUES ('r1', 'stop-search', 'PC1', 'Lewisham', 'd1', x'00');",
        )
        .unwrap();
    }
    let store = super::SqliteStorage::open(dir.path()).unwrap();
    let principal = store.principal(&[1]).unwrap().unwrap();
    assert_eq!(principal.device.revoke_reason, None);
    assert_eq!(principal.device.retire_requested_at, None);
    let feed = store.feed_after(0, 10).unwrap();
    assert_eq!(feed.len(), 1);
    assert!(!feed[0].erased && feed[0].readers.is_empty());
    assert!(store.audit_head().unwrap().is_none());
    assert!(store.legal_holds().unwrap().is_empty());
    drop(store);
    // Opening again migrates nothing twice.
    super::SqliteStorage::open(dir.path()).unwrap();
}

/// A store exactly as version 3 left it, with times in every spelling
/// chrono accepts, two records sharing a reference, and a tombstone.
#[test]
fn a_version_3_store_is_reindexed_and_its_references_made_unique() {
    use crate::storage::{CopyStore, RetentionStore, Storage};
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join(super::STORE_FILE)).unwrap();
        for step in [super::schema::V1, super::schema::V2, super::schema::V3] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "application_id", super::schema::APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
        let rows = [
            ("r1", "REF1", "2026-11-28t14:05:00z", "2026-11-28T14:06:00Z"),
            (
                "r2",
                "REF1",
                " 2026-11-28T14:05:00Z",
                "2026-11-28T14:07:00Z",
            ),
            (
                "r3",
                "REF3",
                "2026-11-28T15:05:00+01:00",
                "2026-11-28T14:06:00Z",
            ),
            ("r4", "REF4", "2026-11-28T14:05:60Z", "2026-11-28T14:06:00Z"),
            (
                "r5",
                "REF5",
                "the day before yesterday",
                "2026-11-01T00:00:00Z",
            ),
        ];
        for (id, reference, occurred, created) in rows {
            conn.execute(
                "INSERT INTO records VALUES (?1, 'stop-search', ?2, 'PC1', 'Lewisham', ?3,
                     'open', ?4, ?4, x'00', 1)",
                rusqlite::params![id, reference, occurred, created],
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO tombstones VALUES ('t1', 'stop-search', '2026-11-28T00:00:00Z', 'retention');
             INSERT INTO feed (record_id, kind, author, station, origin_device, changes, erased)
                 VALUES ('t1', 'stop-search', 'PC1', 'Lewisham', 'server', x'', 1);
             INSERT INTO record_access VALUES ('t1', 'PC2', '2026-11-01T00:00:00Z');",
        )
        .unwrap();
    }
    let store = super::SqliteStorage::open(dir.path()).unwrap();
    let mut times: Vec<(String, String)> = store
        .records()
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.occurred_at))
        .collect();
    times.sort();
    let expected = [
        ("r1", "2026-11-28T14:05:00Z"),
        ("r2", "2026-11-28T14:05:00Z"),
        ("r3", "2026-11-28T14:05:00Z"),
        ("r4", "2026-11-28T14:05:59Z"),
        ("r5", "2026-11-01T00:00:00Z"),
    ];
    assert_eq!(
        times,
        expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
    // None escapes retention or the desk's lookup by its spelling any more.
    let due = store
        .retention_due(&[RecordKind::StopSearch], "2026-11-29T00:00:00Z", 100)
        .unwrap();
    assert_eq!(due.len(), 5);
    let day = store
        .records_at_station(
            "Lewisham",
            &[RecordKind::StopSearch],
            "2026-11-28T00:00:00Z",
            "2026-11-29T00:00:00Z",
        )
        .unwrap();
    assert_eq!(day.len(), 4);
    // The two that shared a reference keep it; no new record may.
    assert_eq!(store.records_by_reference("REF1").unwrap().len(), 2);
    let mut twin = crate::storage::RecordCommit {
        index: store.records().unwrap()[0].clone(),
        snapshot: vec![0],
        new_changes: vec![0],
        expected_version: None,
        origin_device: "d".into(),
        grant: Vec::new(),
        audit: Vec::new(),
    };
    twin.index.id = "r6".into();
    twin.index.reference = "REF1".into();
    assert!(matches!(
        store.commit_record(&twin),
        Err(super::StorageError::Duplicate(_))
    ));
    twin.index.reference = "REF6".into();
    store.commit_record(&twin).unwrap();
    // The tombstone knows who could see the record.
    let tombstone = store.tombstone("t1").unwrap().unwrap();
    assert_eq!(
        (tombstone.author.as_str(), tombstone.station.as_str()),
        ("PC1", "Lewisham")
    );
    assert_eq!(tombstone.readers, vec!["PC2".to_string()]);
}

/// A state change whose audit event cannot be written is not made:
/// the trail's head is set back behind the chain, so every append fails.
#[test]
fn a_state_change_is_undone_when_its_audit_event_cannot_be_written() {
    use crate::audit::{Action, event};
    use crate::storage::{DeviceRow, LegalHold, OfficerRow, RetentionStore, RevokeReason, Storage};
    let dir = tempfile::tempdir().unwrap();
    let store = super::SqliteStorage::open(dir.path()).unwrap();
    let e = |action: Action| vec![event("admin", action, None, serde_json::json!({}))];
    let officer = |n: &str| OfficerRow {
        shoulder_number: n.into(),
        name: "Jo".into(),
        station: "Lewisham".into(),
        role: crate::identity::Role::Officer,
        active: true,
    };
    let device = |id: &str| DeviceRow {
        id: id.into(),
        officer: String::new(),
        label: "l".into(),
        enrolled_at: "t".into(),
        revoked_at: None,
        last_seen: None,
        revoke_reason: None,
        retire_requested_at: None,
    };
    let t = "2026-11-29T12:00:00Z";
    store
        .add_officer(&officer("PC1"), t, &e(Action::OfficerAdded))
        .unwrap();
    store
        .add_enrolment_code(b"c1", "PC1", 100, t, &e(Action::EnrolmentCodeIssued))
        .unwrap();
    store
        .redeem_enrolment_code(b"c1", 1, &device("d1"), b"tok1", t, &|_| {
            e(Action::DeviceEnrolled)
        })
        .unwrap();
    store.add_enrolment_code(b"c2", "PC1", 100, t, &[]).unwrap();
    let mut record = crate::storage::RecordCommit {
        index: crate::storage::RecordIndex {
            id: "r1".into(),
            kind: RecordKind::StopSearch,
            reference: "REF1".into(),
            author: "PC1".into(),
            station: "Lewisham".into(),
            occurred_at: t.into(),
            status: pocketbook_core::model::RecordStatus::Open,
            created_at: t.into(),
            updated_at: t.into(),
        },
        snapshot: vec![1],
        new_changes: vec![1],
        expected_version: None,
        origin_device: "d1".into(),
        grant: Vec::new(),
        audit: Vec::new(),
    };
    store.commit_record(&record).unwrap();
    let mut held = record.clone();
    held.index.id = "r0".into();
    held.index.reference = "REF0".into();
    store.commit_record(&held).unwrap();
    let hold = |id: &str| LegalHold {
        record_id: id.into(),
        reason: "complaint".into(),
        set_at: t.into(),
    };
    store.set_legal_hold(&hold("r0"), &[]).unwrap();

    let raw = rusqlite::Connection::open(dir.path().join(super::STORE_FILE)).unwrap();
    raw.execute("UPDATE audit_head SET seq = 0", []).unwrap();
    assert!(
        store
            .add_officer(&officer("PC2"), t, &e(Action::OfficerAdded))
            .is_err()
    );
    assert!(store.officer("PC2").unwrap().is_none());
    assert!(
        store
            .add_enrolment_code(b"c3", "PC1", 100, t, &e(Action::EnrolmentCodeIssued))
            .is_err()
    );
    assert!(
        store
            .redeem_enrolment_code(b"c2", 1, &device("d2"), b"tok2", t, &|_| {
                e(Action::DeviceEnrolled)
            })
            .is_err()
    );
    assert!(store.device("d2").unwrap().is_none());
    assert!(
        store
            .revoke_device("d1", RevokeReason::Revoked, t, &e(Action::DeviceRevoked))
            .is_err()
    );
    assert!(
        store
            .request_retire("d1", t, &e(Action::DeviceRetireRequested))
            .is_err()
    );
    assert!(
        store
            .deactivate_officer("PC1", t, &|_| e(Action::OfficerDeactivated))
            .is_err()
    );
    let d1 = store.device("d1").unwrap().unwrap();
    assert!(d1.revoked_at.is_none() && d1.retire_requested_at.is_none());
    assert!(store.officer("PC1").unwrap().unwrap().active);
    record.index.id = "r2".into();
    record.index.reference = "REF2".into();
    record.audit = e(Action::RecordShared);
    assert!(store.commit_record(&record).is_err());
    assert!(store.record("r2").unwrap().is_none());
    assert!(
        store
            .set_legal_hold(&hold("r1"), &e(Action::LegalHoldSet))
            .is_err()
    );
    assert!(
        store
            .release_legal_hold("r0", t, &e(Action::LegalHoldReleased))
            .is_err()
    );
    assert!(
        store
            .erase_record("r1", t, "retention", &e(Action::RecordErased))
            .is_err()
    );
    assert_eq!(store.legal_holds().unwrap(), vec![hold("r0")]);
    assert!(store.record("r1").unwrap().is_some());
    // A copy attempt is counted only with its audit event.
    use crate::storage::CopyStore;
    assert!(
        store
            .add_attempts_audited(&[("client", true)], 1, t, &e(Action::CopyRefused))
            .is_err()
    );
    assert_eq!(store.attempts_since("client", 0).unwrap(), (0, 0));

    // With the trail whole again, the unused code still works once.
    raw.execute(
        "UPDATE audit_head SET seq = (SELECT max(seq) FROM audit)",
        [],
    )
    .unwrap();
    store
        .redeem_enrolment_code(b"c2", 1, &device("d2"), b"tok2", t, &|_| {
            e(Action::DeviceEnrolled)
        })
        .unwrap();
    store
        .add_attempts_audited(&[("client", true)], 1, t, &e(Action::CopyRefused))
        .unwrap();
    assert_eq!(store.attempts_since("client", 0).unwrap(), (1, 1));
}

#[test]
fn a_newer_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(super::SqliteStorage::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join(super::STORE_FILE)).unwrap();
    conn.pragma_update(None, "user_version", 42).unwrap();
    drop(conn);
    assert!(matches!(
        super::SqliteStorage::open(dir.path()),
        Err(super::StorageError::TooNew { found: 42, .. })
    ));
}

/// After an erasure and a scrub, no file of the store (database,
/// write-ahead log, shared memory) still holds the erased record's
/// content, while the store is open; before the erasure it did.
#[test]
fn an_erased_record_cannot_be_read_back_from_the_files_after_a_scrub() {
    use crate::storage::{RecordCommit, RecordIndex, RetentionStore, Storage};
    let dir = tempfile::tempdir().unwrap();
    let store = super::SqliteStorage::open(dir.path()).unwrap();
    let t = "2026-11-29T12:00:00Z";
    let marker = b"ERASE-ME-7f3a9c-witness-statement";
    let commit = |id: &str, reference: &str, content: &[u8]| RecordCommit {
        index: RecordIndex {
            id: id.into(),
            kind: RecordKind::StopSearch,
            reference: reference.into(),
            author: "PC1".into(),
            station: "Lewisham".into(),
            occurred_at: t.into(),
            status: pocketbook_core::model::RecordStatus::Open,
            created_at: t.into(),
            updated_at: t.into(),
        },
        snapshot: content.to_vec(),
        new_changes: content.to_vec(),
        expected_version: None,
        origin_device: "d1".into(),
        grant: vec!["PC7".into()],
        audit: Vec::new(),
    };
    store.commit_record(&commit("r1", "REF1", marker)).unwrap();
    store.commit_record(&commit("r2", "REF2", b"kept")).unwrap();
    let holds_marker = || {
        std::fs::read_dir(dir.path()).unwrap().any(|entry| {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            bytes.windows(marker.len()).any(|w| w == marker)
        })
    };
    assert!(holds_marker(), "the search finds content that is stored");

    store.erase_record("r1", t, "retention", &[]).unwrap();
    store.scrub().unwrap();
    assert!(
        !holds_marker(),
        "erased content is still in the store's files"
    );
    assert_eq!(store.record("r2").unwrap().unwrap().snapshot, b"kept");
}

/// A version 7 store's feed is indexed by audience when it migrates.
#[test]
fn a_version_7_feed_is_indexed_by_audience_when_it_migrates() {
    let dir = tempfile::tempdir().unwrap();
    drop(super::SqliteStorage::open(dir.path()).unwrap());
    {
        let conn = rusqlite::Connection::open(dir.path().join(super::STORE_FILE)).unwrap();
        conn.execute_batch(
            &crate::storage::suite::scoped::BEFORE_THE_INDEX.replace("CHANGES", "x'00'"),
        )
        .unwrap();
        conn.execute_batch(
            "DROP TABLE feed_audience; DROP INDEX records_by_station_kind; DROP TABLE retention_clock",
        )
            .unwrap();
        conn.pragma_update(None, "user_version", 7).unwrap();
    }
    let store = super::SqliteStorage::open(dir.path()).unwrap();
    crate::storage::suite::scoped::backfilled(&store);
}

/// The feed read per audience is one query whose plan stays on the
/// indexes: each audience's range of the audience index's primary key
/// (never a scan of it or of the feed), merged in order, and each entry,
/// its record and its hold by primary key. With 10,000 entries of another
/// officer, a read of one officer's (and one station's) touches their few.
#[test]
fn the_feed_read_per_audience_is_one_query_on_the_audience_index() {
    use crate::storage::{Audience, Storage};
    let dir = tempfile::tempdir().unwrap();
    let store = super::SqliteStorage::open(dir.path()).unwrap();
    for keys in [1, 2, 3] {
        let conn = store.conn();
        let plan: Vec<String> = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN {}",
                super::records::feed_for_sql(keys)
            ))
            .unwrap()
            .query_map(
                rusqlite::params_from_iter(
                    (0..keys)
                        .map(|k| rusqlite::types::Value::Text(format!("o:PC{k}")))
                        .chain([0, 10, 100].map(rusqlite::types::Value::Integer)),
                ),
                |r| r.get::<_, String>(3),
            )
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        let ranges = plan
            .matches("SEARCH feed_audience USING PRIMARY KEY (audience=? AND seq>? AND seq<?)")
            .count();
        assert_eq!(ranges, keys, "one index range per audience:\n{plan}");
        for indexed in [
            "SEARCH feed USING INTEGER PRIMARY KEY (rowid=?)",
            "SEARCH records USING INDEX sqlite_autoindex_records_1 (id=?)",
            "SEARCH legal_holds USING",
        ] {
            assert!(plan.contains(indexed), "{indexed} not in\n{plan}");
        }
        assert!(!plan.contains("SCAN feed"), "a scan in\n{plan}");
        // No sort: rows stream in order, and reading stops at the budget.
        assert!(!plan.contains("TEMP B-TREE"), "a sort in\n{plan}");
        if keys > 1 {
            assert!(
                plan.contains("MERGE (UNION)"),
                "no ordered merge in\n{plan}"
            );
        }
    }

    let commit = |n: usize, author: &str| {
        let mut c = crate::storage::RecordCommit {
            index: crate::storage::RecordIndex {
                id: format!("r{n}"),
                kind: RecordKind::StopSearch,
                reference: format!("REF-{n}"),
                author: author.into(),
                station: if author == "PC1" {
                    "Lewisham"
                } else {
                    "Brixton"
                }
                .into(),
                occurred_at: "2026-11-28T10:00:00Z".into(),
                status: pocketbook_core::model::RecordStatus::Open,
                created_at: "2026-11-28T10:00:00Z".into(),
                updated_at: "2026-11-28T10:00:00Z".into(),
            },
            snapshot: vec![0],
            new_changes: vec![0],
            expected_version: None,
            origin_device: "d".into(),
            grant: Vec::new(),
            audit: Vec::new(),
        };
        c.index.id = format!("r{n}");
        c
    };
    let others: Vec<_> = (0..10_000).map(|n| commit(n, "PC3")).collect();
    store.commit_records(&others).unwrap();
    store.commit_record(&commit(10_000, "PC1")).unwrap();
    store.commit_record(&commit(10_001, "PC1")).unwrap();
    let audience = [
        Audience::Officer("PC1".into()),
        Audience::Station("Lewisham".into()),
    ];
    let slice = store.feed_for(&audience, 0, 100, usize::MAX).unwrap();
    assert_eq!(slice.rows.len(), 2);
    assert_eq!((slice.examined, slice.more, slice.end), (4, false, 10_002));
    // The limit cuts the read: the cursor stops at the last entry read.
    let slice = store.feed_for(&audience, 0, 1, usize::MAX).unwrap();
    assert_eq!((slice.rows.len(), slice.more, slice.end), (1, true, 10_001));
}

/// The promise gauges' reads, every minute, stay on
/// `records_by_station_kind`: a station's ids and versions from the index
/// alone (never the rows, whose snapshots lie before `version`), and the
/// stations listed one seek at a time (never a scan of the records).
#[test]
fn the_gauge_reads_stay_on_the_station_and_kind_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = super::SqliteStorage::open(dir.path()).unwrap();
    let conn = store.conn();
    let plan = |sql: &str, params: &[&dyn rusqlite::ToSql]| {
        conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(params, |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .join("\n")
    };
    let kinds = r#"["scene-attendance","home-burglary"]"#;
    let versions = plan(super::records::VERSIONS_AT_STATION, &[&"Lewisham", &kinds]);
    assert!(
        versions.contains(
            "SEARCH records USING COVERING INDEX records_by_station_kind (station=? AND kind=?)"
        ),
        "{versions}"
    );
    let stations = plan(super::records::STATIONS_HOLDING, &[&kinds]);
    assert!(!stations.contains("SCAN records"), "{stations}");
    assert!(
        stations.contains("SEARCH r EXISTS USING COVERING INDEX records_by_station_kind"),
        "{stations}"
    );
    eprintln!("{versions}\n--\n{stations}");
}
