//! Moving a station: a SQLite store with every kind of state, moved into
//! PostgreSQL, reads back the same through every trait method.

use pocketbook_core::model::{RecordKind, RecordStatus};

use super::super::testdb;
use crate::audit::{Action, event};
use crate::identity::Role;
use crate::storage::sqlite::SqliteStorage;
use crate::storage::*;

const T: &str = "2026-11-28T10:00:00Z";

fn commit(id: &str, version: Option<i64>, grant: &[&str]) -> RecordCommit {
    RecordCommit {
        index: RecordIndex {
            id: id.into(),
            kind: RecordKind::StopSearch,
            reference: format!("REF-{id}"),
            author: "PC1".into(),
            station: "Lewisham".into(),
            occurred_at: "2026-11-28T14:05:00Z".into(),
            status: RecordStatus::Open,
            created_at: T.into(),
            updated_at: T.into(),
        },
        snapshot: format!("{id}-{version:?}").into_bytes(),
        new_changes: format!("{id}-{version:?}").into_bytes(),
        expected_version: version,
        origin_device: "d1".into(),
        grant: grant.iter().map(|g| g.to_string()).collect(),
        audit: vec![event(
            "device:d1",
            Action::RecordShared,
            Some(id),
            serde_json::json!({"n": 1}),
        )],
    }
}

fn officer(number: &str, role: Role) -> OfficerRow {
    OfficerRow {
        shoulder_number: number.into(),
        name: format!("Officer {number}"),
        station: "Lewisham".into(),
        role,
        active: true,
    }
}

fn device(id: &str) -> DeviceRow {
    DeviceRow {
        id: id.into(),
        officer: String::new(),
        label: "phone".into(),
        enrolled_at: T.into(),
        revoked_at: None,
        last_seen: None,
        revoke_reason: None,
        retire_requested_at: None,
    }
}

/// A station's SQLite store with every kind of state, as a server
/// leaves it after some months.
fn station(sqlite: &SqliteStorage) {
    let audit = |what| {
        vec![event(
            "admin",
            Action::OfficerAdded,
            None,
            serde_json::json!({"s": what}),
        )]
    };
    sqlite
        .add_officer(&officer("PC1", Role::Officer), T, &audit("PC1"))
        .unwrap();
    sqlite
        .add_officer(&officer("PS2", Role::Supervisor), T, &audit("PS2"))
        .unwrap();
    sqlite
        .add_enrolment_code(b"code-a", "PC1", 100, T, &[])
        .unwrap();
    sqlite
        .add_enrolment_code(b"code-b", "PC1", 100, T, &[])
        .unwrap();
    sqlite
        .redeem_enrolment_code(b"code-a", 50, &device("d1"), b"tok-1", T, &|_| Vec::new())
        .unwrap();
    sqlite.commit_record(&commit("r1", None, &["PC3"])).unwrap();
    sqlite.commit_record(&commit("r2", None, &[])).unwrap();
    sqlite.commit_record(&commit("r3", None, &[])).unwrap();
    let version = sqlite.record("r3").unwrap().unwrap().version;
    sqlite
        .commit_record(&commit("r3", Some(version), &[]))
        .unwrap();
    sqlite
        .erase_record("r3", T, "retention", &audit("r3"))
        .unwrap();
    sqlite
        .set_legal_hold(
            &LegalHold {
                record_id: "r1".into(),
                reason: "complaint".into(),
                set_at: T.into(),
            },
            &audit("hold"),
        )
        .unwrap();
    sqlite.add_attempt("client:x", 10, true).unwrap();
    sqlite.claim_run("retention", 5, T).unwrap();
    sqlite.limit_salt(20, &[9; 32]).unwrap();
}

/// A station moved from SQLite keeps everything: devices' cursors
/// (feed positions) stay valid and the counter goes on after them, the
/// audit chain verifies with the same head, tokens and unused codes
/// still work; a database that is not empty is refused.
#[test]
fn a_sqlite_station_moves_to_postgres_whole() {
    if !testdb::available() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let sqlite = SqliteStorage::open(data.path()).unwrap();
    station(&sqlite);
    let pg_dir = tempfile::tempdir().unwrap();
    let pg = testdb::open(pg_dir.path());

    let report = super::import_sqlite(data.path(), &pg).unwrap();
    let feed = sqlite.feed_after(0, 1000).unwrap();
    assert_eq!(report.feed_head, feed.last().unwrap().seq);
    assert_eq!(pg.feed_after(0, 1000).unwrap(), feed);
    // A device whose cursor was in the middle reads on from it.
    assert_eq!(
        pg.feed_after(feed[1].seq, 1000).unwrap(),
        feed[2..].to_vec()
    );
    let all = AuditQuery {
        limit: 10_000,
        ..AuditQuery::default()
    };
    assert_eq!(
        pg.audit_events(&all).unwrap(),
        sqlite.audit_events(&all).unwrap()
    );
    assert_eq!(pg.audit_head().unwrap(), sqlite.audit_head().unwrap());
    assert!(crate::audit::verify(&pg).unwrap().intact());
    assert_eq!(pg.records().unwrap(), sqlite.records().unwrap());
    let (a, b) = (
        pg.record("r1").unwrap().unwrap(),
        sqlite.record("r1").unwrap().unwrap(),
    );
    assert_eq!(
        (a.snapshot, a.version, a.readers),
        (b.snapshot, b.version, b.readers)
    );
    assert_eq!(pg.tombstone("r3").unwrap(), sqlite.tombstone("r3").unwrap());
    assert_eq!(pg.legal_holds().unwrap(), sqlite.legal_holds().unwrap());
    assert_eq!(pg.officers().unwrap(), sqlite.officers().unwrap());
    assert_eq!(pg.devices().unwrap(), sqlite.devices().unwrap());
    assert_eq!(pg.attempts_since("client:x", 0).unwrap(), (1, 1));
    assert!(!pg.claim_run("retention", 5, T).unwrap());
    assert_eq!(pg.limit_salt(20, &[1; 32]).unwrap(), vec![9; 32]);
    assert_eq!(pg.principal(b"tok-1").unwrap().unwrap().device.id, "d1");
    pg.redeem_enrolment_code(b"code-b", 50, &device("d2"), b"tok-2", T, &|_| Vec::new())
        .unwrap();
    // Stop-search times are typed for retention as they move.
    assert_eq!(
        pg.retention_due(&[RecordKind::StopSearch], "2027-12-01T00:00:00Z", 10)
            .unwrap()
            .len(),
        1,
        "r2 is due (r1 is held, r3 erased)"
    );
    // The feed goes on after the highest position SQLite gave.
    let next = pg.commit_record(&commit("r4", None, &[])).unwrap();
    assert_eq!(next, report.feed_head + 1);
    assert!(crate::audit::verify(&pg).unwrap().intact());

    assert!(
        super::import_sqlite(data.path(), &pg).is_err(),
        "a second import into a used database"
    );

    // Every table is copied but the three rows of counters set above and
    // the staging tables of the sequencer, which SQLite has no rows for
    // (its one writer numbers in its own transaction).
    let mut client = testdb::config(&testdb::schema_for(pg_dir.path()))
        .connect(postgres::NoTls)
        .unwrap();
    let mut tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema()
               AND table_name NOT IN ('schema_version', 'feed_head', 'audit_head',
                                      'feed_pending', 'audit_pending')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tables.sort();
    let mut copied: Vec<String> = report.tables.iter().map(|(t, _)| t.clone()).collect();
    copied.sort();
    assert_eq!(copied, tables, "a table the move does not copy");
}
