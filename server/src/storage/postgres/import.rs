//! Moving a station from SQLite to PostgreSQL (`admin migrate --to
//! postgres://...`): every table of the SQLite store copied as it is, in
//! one PostgreSQL transaction, into an empty database.
//!
//! Nothing is re-derived: feed positions keep their numbers (so every
//! device's cursor stays valid and no device downloads again), audit rows
//! keep their exact text and hashes (so the chain still verifies), tokens
//! and code hashes keep their bytes (so enrolled devices and unused codes
//! still work). The feed counter continues after the highest position the
//! SQLite store ever gave. The only new value is each record's typed
//! encounter time, read from the text beside it.

use std::path::Path;

use postgres::Transaction;
use postgres::types::{ToSql, Type};
use rusqlite::types::Value;

use super::{PostgresStorage, backend, instant};
use crate::storage::StorageError;
use crate::storage::sqlite::{STORE_FILE, SqliteStorage};

/// What was copied: rows per table, in copy order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub tables: Vec<(String, u64)>,
    /// The highest feed position (devices' cursors stay valid up to it).
    pub feed_head: u64,
    /// The audit trail's head sequence number.
    pub audit_head: u64,
}

/// The tables copied, in an order that satisfies the foreign keys, with
/// their columns (the same names in both schemas; SQLite's integers become
/// booleans where PostgreSQL's column is one).
const TABLES: &[(&str, &[&str])] = &[
    (
        "officers",
        &["shoulder_number", "name", "station", "role", "active"],
    ),
    (
        "devices",
        &[
            "id",
            "officer",
            "token_hash",
            "label",
            "enrolled_at",
            "revoked_at",
            "last_seen",
            "revoke_reason",
            "retire_requested_at",
        ],
    ),
    (
        "enrolment_codes",
        &["code_hash", "officer", "expires_at", "used_at"],
    ),
    (
        "records",
        &[
            "id",
            "kind",
            "reference",
            "author",
            "station",
            "occurred_at",
            "status",
            "created_at",
            "updated_at",
            "snapshot",
            "version",
            "duplicate_reference",
        ],
    ),
    (
        "feed",
        &[
            "seq",
            "record_id",
            "kind",
            "author",
            "station",
            "origin_device",
            "changes",
            "erased",
        ],
    ),
    ("record_access", &["record_id", "officer", "granted_at"]),
    (
        "audit",
        &[
            "seq",
            "at",
            "actor",
            "action",
            "record_id",
            "detail",
            "prev_hash",
            "hash",
        ],
    ),
    (
        "tombstones",
        &[
            "record_id",
            "kind",
            "erased_at",
            "reason",
            "author",
            "station",
        ],
    ),
    ("legal_holds", &["record_id", "reason", "set_at"]),
    ("copy_attempts", &["key", "at", "failed"]),
    ("job_runs", &["job", "period", "claimed_at"]),
    ("limit_salts", &["period", "salt"]),
];

/// One SQLite value as a PostgreSQL parameter of type `to` (a NULL is
/// typed too).
fn param(value: Value, to: &Type) -> Box<dyn ToSql + Sync> {
    let boolean = *to == Type::BOOL;
    match value {
        Value::Null if *to == Type::INT8 => Box::new(Option::<i64>::None),
        Value::Null if *to == Type::BYTEA => Box::new(Option::<Vec<u8>>::None),
        Value::Null if boolean => Box::new(Option::<bool>::None),
        Value::Null => Box::new(Option::<String>::None),
        Value::Integer(i) if boolean => Box::new(i != 0),
        Value::Integer(i) => Box::new(i),
        Value::Real(f) => Box::new(f),
        Value::Text(t) => Box::new(t),
        Value::Blob(b) => Box::new(b),
    }
}

fn sqlite_err(e: rusqlite::Error) -> StorageError {
    StorageError::backend_from(Some("reading the SQLite store"), e)
}

/// Copies the SQLite store in `data_dir` (migrated to the current schema
/// first) into `target`, which must be empty, in one transaction.
pub fn import_sqlite(
    data_dir: &Path,
    target: &PostgresStorage,
) -> Result<ImportReport, StorageError> {
    drop(SqliteStorage::open(data_dir)?);
    let source = rusqlite::Connection::open_with_flags(
        data_dir.join(STORE_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .map_err(sqlite_err)?;
    // One read transaction: a consistent snapshot even if a server writes.
    source.execute_batch("BEGIN").map_err(sqlite_err)?;
    target.write(|tx| copy_all(&source, tx))
}

fn copy_all(
    source: &rusqlite::Connection,
    tx: &mut Transaction<'_>,
) -> Result<ImportReport, StorageError> {
    for table in ["officers", "records", "feed", "audit"] {
        let rows: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .map_err(backend)?
            .get(0);
        if rows > 0 {
            return Err(StorageError::backend(format!(
                "the PostgreSQL database is not empty ({table} has rows): migrate into a new database"
            )));
        }
    }
    let mut tables = Vec::new();
    for (table, columns) in TABLES {
        let list = columns.join(", ");
        let mut insert_columns = list.clone();
        let mut placeholders: Vec<String> = (1..=columns.len()).map(|n| format!("${n}")).collect();
        let occurred = columns.iter().position(|c| *c == "occurred_at");
        if occurred.is_some() {
            insert_columns.push_str(", occurred_at_ts");
            placeholders.push(format!("${}", columns.len() + 1));
        }
        let insert = tx
            .prepare(&format!(
                "INSERT INTO {table} ({insert_columns}) VALUES ({})",
                placeholders.join(", ")
            ))
            .map_err(backend)?;
        let mut select = source
            .prepare(&format!("SELECT {list} FROM {table}"))
            .map_err(sqlite_err)?;
        let mut rows = select.query([]).map_err(sqlite_err)?;
        let mut copied = 0u64;
        while let Some(row) = rows.next().map_err(sqlite_err)? {
            let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(columns.len() + 1);
            for (i, to) in insert.params().iter().take(columns.len()).enumerate() {
                let value: Value = row.get(i).map_err(sqlite_err)?;
                params.push(param(value, to));
            }
            if let Some(at) = occurred {
                let text: String = row.get(at).map_err(sqlite_err)?;
                params.push(Box::new(instant(&text)?));
            }
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
            tx.execute(&insert, &refs).map_err(backend)?;
            copied += 1;
        }
        tables.push((table.to_string(), copied));
    }
    // The counter continues after the highest position ever given
    // (AUTOINCREMENT remembers it even when those entries were erased).
    let feed_head: i64 = source
        .query_row(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'feed'), 0),
                        coalesce((SELECT max(seq) FROM feed), 0))",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite_err)?;
    tx.execute("UPDATE feed_head SET seq = $1 WHERE id = 1", &[&feed_head])
        .map_err(backend)?;
    let head: Option<(i64, Vec<u8>)> = source
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })
        .map_err(sqlite_err)?;
    let audit_head = match head {
        Some((seq, hash)) => {
            tx.execute(
                "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
                &[&seq, &hash],
            )
            .map_err(backend)?;
            seq as u64
        }
        None => 0,
    };
    Ok(ImportReport {
        tables,
        feed_head: feed_head as u64,
        audit_head,
    })
}

#[cfg(test)]
mod tests {
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

        // Every table is copied but the three rows of counters set above.
        let mut client = testdb::config(&testdb::schema_for(pg_dir.path()))
            .connect(postgres::NoTls)
            .unwrap();
        let mut tables: Vec<String> = client
            .query(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = current_schema()
                   AND table_name NOT IN ('schema_version', 'feed_head', 'audit_head')",
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
}
