//! The embedded default backend: one SQLite file in the data directory.
//!
//! One connection behind a mutex is the single writer; WAL lets the admin
//! command line read and write the same file while the server runs. Feed
//! sequence numbers come from `AUTOINCREMENT` inside the same IMMEDIATE
//! transaction as the record's snapshot, and SQLite commits one writer at a
//! time, so entries become visible strictly in sequence order (the pitfall
//! of a database sequence committing 101 before 100 cannot happen here; the
//! PostgreSQL backend takes a transaction-level lock on the feed to get the
//! same guarantee).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use pocketbook_core::model::{RecordKind, RecordStatus};
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params,
};

use crate::identity::Role;

use super::{
    AuditOf, DeviceRow, FeedRow, NewAuditEvent, OfficerRow, Principal, RecordCommit, RecordIndex,
    RevokeReason, Storage, StorageError, StoredRecord,
};

mod audit;
mod copy;
mod retention;

/// File name of the server store in the data directory.
pub const STORE_FILE: &str = "server.db";
const APPLICATION_ID: i32 = 0x5042_5331; // "PBS1"
const CURRENT_VERSION: u32 = 4;

const V1: &str = "
CREATE TABLE officers (
    shoulder_number TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    station         TEXT NOT NULL,
    role            TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1
) STRICT;

CREATE TABLE devices (
    id          TEXT PRIMARY KEY NOT NULL,
    officer     TEXT NOT NULL REFERENCES officers (shoulder_number),
    token_hash  BLOB NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    enrolled_at TEXT NOT NULL,
    revoked_at  TEXT,
    last_seen   TEXT
) STRICT;

CREATE TABLE enrolment_codes (
    code_hash  BLOB PRIMARY KEY NOT NULL,
    officer    TEXT NOT NULL REFERENCES officers (shoulder_number),
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

CREATE TABLE records (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    reference   TEXT NOT NULL,
    author      TEXT NOT NULL,
    station     TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    snapshot    BLOB NOT NULL,
    version     INTEGER NOT NULL
) STRICT;
CREATE INDEX records_by_reference ON records (reference);
CREATE INDEX records_by_station ON records (station, occurred_at);
CREATE INDEX records_by_author ON records (author, occurred_at);
CREATE INDEX records_by_kind ON records (kind, occurred_at);

CREATE TABLE feed (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    author        TEXT NOT NULL,
    station       TEXT NOT NULL,
    origin_device TEXT NOT NULL,
    changes       BLOB NOT NULL
) STRICT;
CREATE INDEX feed_by_record ON feed (record_id);
";

/// Identity and access: why a device stopped, retiring devices, who else
/// may see a record (co-attending officers), and the audit trail.
const V2: &str = "
ALTER TABLE devices ADD COLUMN revoke_reason TEXT;
ALTER TABLE devices ADD COLUMN retire_requested_at TEXT;

CREATE TABLE record_access (
    record_id  TEXT NOT NULL,
    officer    TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (record_id, officer)
) STRICT, WITHOUT ROWID;
CREATE INDEX record_access_by_officer ON record_access (officer);

CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY NOT NULL,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    record_id TEXT,
    detail    TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
) STRICT;
CREATE INDEX audit_by_record ON audit (record_id);
CREATE INDEX audit_by_actor ON audit (actor);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
) STRICT;
";

/// Retention and public copies: tombstones of erased records, erasure
/// entries in the feed, legal holds, and copy attempts for rate limits.
const V3: &str = "
ALTER TABLE feed ADD COLUMN erased INTEGER NOT NULL DEFAULT 0;

CREATE TABLE tombstones (
    record_id TEXT PRIMARY KEY NOT NULL,
    kind      TEXT NOT NULL,
    erased_at TEXT NOT NULL,
    reason    TEXT NOT NULL
) STRICT;

CREATE TABLE legal_holds (
    record_id TEXT PRIMARY KEY NOT NULL,
    reason    TEXT NOT NULL,
    set_at    TEXT NOT NULL
) STRICT;

CREATE TABLE copy_attempts (
    key    TEXT NOT NULL,
    at     INTEGER NOT NULL,
    failed INTEGER NOT NULL
) STRICT;
CREATE INDEX copy_attempts_by_key ON copy_attempts (key, at);
";

/// Trust boundary: references are unique (a record that repeated another's
/// reference before this version keeps it, marked, so the server still
/// starts; no new one can); tombstones keep who could see the record, for
/// the scope check. Stored encounter times are rewritten in the one indexed
/// form by [`reindex_times`] in the same transaction.
const V4: &str = "
ALTER TABLE records ADD COLUMN duplicate_reference INTEGER NOT NULL DEFAULT 0;
UPDATE records SET duplicate_reference = 1 WHERE EXISTS (
    SELECT 1 FROM records o WHERE o.reference = records.reference
      AND (o.created_at < records.created_at
           OR (o.created_at = records.created_at AND o.id < records.id)));
CREATE UNIQUE INDEX records_reference_unique ON records (reference)
    WHERE duplicate_reference = 0;

ALTER TABLE tombstones ADD COLUMN author TEXT NOT NULL DEFAULT '';
ALTER TABLE tombstones ADD COLUMN station TEXT NOT NULL DEFAULT '';
UPDATE tombstones SET
    author = coalesce((SELECT author FROM feed
                       WHERE feed.record_id = tombstones.record_id AND erased = 1), ''),
    station = coalesce((SELECT station FROM feed
                        WHERE feed.record_id = tombstones.record_id AND erased = 1), '');
";

const MIGRATIONS: &[&str] = &[V1, V2, V3, V4];

/// The SQLite backend.
pub struct SqliteStorage {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage").finish_non_exhaustive()
    }
}

fn backend(e: rusqlite::Error) -> StorageError {
    StorageError::backend_from(None, e)
}

impl SqliteStorage {
    /// Opens (creating and migrating) the store in `data_dir`. A directory
    /// it creates is private to the server's user (0700), and the store's
    /// files (database, write-ahead log, shared memory) are 0600.
    pub fn open(data_dir: &Path) -> Result<Self, StorageError> {
        private_files(data_dir)?;
        let mut conn = Connection::open(data_dir.join(STORE_FILE)).map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(backend)?;
        // Deleted content is overwritten with zeros, so an erased record
        // cannot be read back from free pages of the file.
        conn.pragma_update(None, "secure_delete", true)
            .map_err(backend)?;
        migrate(&mut conn)?;
        Ok(SqliteStorage {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // SQLite rolls back an unfinished transaction, so a poisoned lock
        // still guards a consistent database.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `work` in one IMMEDIATE transaction (the single writer) and
    /// commits it; an error rolls everything back.
    fn write<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let value = work(&tx)?;
        tx.commit().map_err(backend)?;
        Ok(value)
    }
}

/// Creates the data directory 0700 if it is missing, and the database file
/// 0600 before SQLite opens it: SQLite gives its `-wal` and `-shm` files the
/// database file's permissions. Files left by an older server are
/// tightened to 0600.
fn private_files(data_dir: &Path) -> Result<(), StorageError> {
    let failed = |what: &Path, e: std::io::Error| {
        StorageError::backend_from(Some(&what.display().to_string()), e)
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        if !data_dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(data_dir)
                .map_err(|e| failed(data_dir, e))?;
        }
        let store = data_dir.join(STORE_FILE);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&store)
            .map_err(|e| failed(&store, e))?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let file = data_dir.join(format!("{STORE_FILE}{suffix}"));
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(failed(&file, e));
                }
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(data_dir).map_err(|e| failed(data_dir, e))?;
    Ok(())
}

/// Rewrites every stored record's `occurred_at` in the one indexed form
/// ([`crate::clock::index_time`]), inside the migration's transaction.
/// A time no spelling rule can read falls back to the record's creation
/// time, then to the earliest time there is, so no record escapes
/// retention by its spelling.
fn reindex_times(tx: &Transaction<'_>) -> Result<usize, StorageError> {
    use crate::clock::lenient_time;
    let rows: Vec<(String, String, String)> = {
        let mut stmt = tx
            .prepare("SELECT id, occurred_at, created_at FROM records")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)?
    };
    let mut changed = 0;
    for (id, occurred_at, created_at) in rows {
        let normal = lenient_time(&occurred_at)
            .or_else(|| lenient_time(&created_at))
            .unwrap_or_else(|| "0000-01-01T00:00:00Z".to_string());
        if normal != occurred_at {
            tx.execute(
                "UPDATE records SET occurred_at = ?2 WHERE id = ?1",
                params![id, normal],
            )
            .map_err(backend)?;
            changed += 1;
        }
    }
    Ok(changed)
}

fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let app_id: i32 = tx
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(backend)?;
    let found: u32 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(StorageError::backend(
            "the data directory holds a database that is not a Pocketbook server store",
        ));
    }
    if found > CURRENT_VERSION {
        return Err(StorageError::TooNew {
            found,
            supported: CURRENT_VERSION,
        });
    }
    for step in &MIGRATIONS[found as usize..] {
        tx.execute_batch(step).map_err(backend)?;
    }
    if found < 4 {
        let changed = reindex_times(&tx)?;
        if changed > 0 {
            tracing::info!(records = changed, "encounter times re-indexed in UTC");
        }
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(backend)?;
    tx.pragma_update(None, "user_version", CURRENT_VERSION)
        .map_err(backend)?;
    tx.commit().map_err(backend)
}

/// A text column read back into one of the server's vocabularies; a
/// spelling this server does not know is a conversion failure, not a guess.
fn vocabulary<T>(
    column: usize,
    what: &str,
    text: String,
    parse: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            format!("unknown {what} {text:?}").into(),
        )
    })
}

fn role_of(text: String) -> rusqlite::Result<Role> {
    vocabulary(3, "role", text, Role::parse)
}

fn officer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OfficerRow> {
    Ok(OfficerRow {
        shoulder_number: r.get(0)?,
        name: r.get(1)?,
        station: r.get(2)?,
        role: role_of(r.get(3)?)?,
        active: r.get(4)?,
    })
}

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok(DeviceRow {
        id: r.get(0)?,
        officer: r.get(1)?,
        label: r.get(2)?,
        enrolled_at: r.get(3)?,
        revoked_at: r.get(4)?,
        last_seen: r.get(5)?,
        revoke_reason: r
            .get::<_, Option<String>>(6)?
            .map(|text| vocabulary(6, "revoke reason", text, RevokeReason::parse))
            .transpose()?,
        retire_requested_at: r.get(7)?,
    })
}

fn kind_of(text: String) -> rusqlite::Result<RecordKind> {
    vocabulary(0, "record kind", text, RecordKind::parse)
}

fn index_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordIndex> {
    Ok(RecordIndex {
        id: r.get(0)?,
        kind: kind_of(r.get(1)?)?,
        reference: r.get(2)?,
        author: r.get(3)?,
        station: r.get(4)?,
        occurred_at: r.get(5)?,
        status: vocabulary(6, "record status", r.get(6)?, RecordStatus::parse)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

const OFFICER_COLUMNS: &str = "shoulder_number, name, station, role, active";
const DEVICE_COLUMNS: &str =
    "id, officer, label, enrolled_at, revoked_at, last_seen, revoke_reason, retire_requested_at";

/// The officers other than the author who may see the record whose id is
/// in `id_column`, as a JSON array (any shoulder number survives the trip).
fn readers_of(id_column: &str) -> String {
    format!(
        "(SELECT json_group_array(officer) FROM record_access a WHERE a.record_id = {id_column})"
    )
}

/// A caller's time bound (any RFC 3339 spelling) in the stored form, so it
/// compares with stored times as text.
fn bound(time: &str) -> Result<String, StorageError> {
    crate::clock::lenient_time(time)
        .ok_or_else(|| StorageError::backend("a time bound is not an RFC 3339 time"))
}

/// Record kinds as a JSON array, for `kind IN (SELECT value FROM json_each(?))`.
fn kinds_json(kinds: &[RecordKind]) -> Result<String, StorageError> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    serde_json::to_string(&kinds).map_err(|e| StorageError::backend_from(None, e))
}

/// The columns [`stored_row`] reads, from `records`.
fn stored_columns() -> String {
    format!(
        "{INDEX_COLUMNS}, snapshot, version, {}",
        readers_of("records.id")
    )
}

fn stored_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRecord> {
    Ok(StoredRecord {
        index: index_row(r)?,
        snapshot: r.get(9)?,
        version: r.get(10)?,
        readers: readers(r.get(11)?)?,
    })
}

fn readers(json: String) -> rusqlite::Result<Vec<String>> {
    let mut readers: Vec<String> = serde_json::from_str(&json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })?;
    readers.sort();
    Ok(readers)
}
const INDEX_COLUMNS: &str =
    "id, kind, reference, author, station, occurred_at, status, created_at, updated_at";

impl Storage for SqliteStorage {
    fn ping(&self) -> Result<(), StorageError> {
        self.conn()
            .query_row("SELECT 1", [], |_| Ok(()))
            .map_err(backend)
    }

    fn add_officer(
        &self,
        officer: &OfficerRow,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.write(|tx| {
            let result = tx.execute(
                "INSERT INTO officers (shoulder_number, name, station, role, active)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    officer.shoulder_number,
                    officer.name,
                    officer.station,
                    officer.role.as_str(),
                    officer.active
                ],
            );
            match result {
                Ok(_) => audit::append_in(tx, at, events),
                Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => Err(
                    StorageError::Duplicate("an officer with this shoulder number"),
                ),
                Err(e) => Err(backend(e)),
            }
        })
    }

    fn officer(&self, shoulder_number: &str) -> Result<Option<OfficerRow>, StorageError> {
        self.conn()
            .query_row(
                &format!("SELECT {OFFICER_COLUMNS} FROM officers WHERE shoulder_number = ?1"),
                [shoulder_number],
                officer_row,
            )
            .optional()
            .map_err(backend)
    }

    fn deactivate_officer(
        &self,
        shoulder_number: &str,
        at: &str,
        events: AuditOf<'_, [String]>,
    ) -> Result<Vec<String>, StorageError> {
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE officers SET active = 0 WHERE shoulder_number = ?1",
                    [shoulder_number],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StorageError::NotFound("officer with this shoulder number"));
            }
            let revoked = {
                let mut stmt = tx
                    .prepare(
                        "UPDATE devices SET revoked_at = ?2, revoke_reason = ?3
                     WHERE officer = ?1 AND revoked_at IS NULL RETURNING id",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(
                        params![
                            shoulder_number,
                            at,
                            RevokeReason::OfficerDeactivated.as_str()
                        ],
                        |r| r.get::<_, String>(0),
                    )
                    .map_err(backend)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(backend)?
            };
            audit::append_in(tx, at, &events(&revoked))?;
            Ok(revoked)
        })
    }

    fn officers(&self) -> Result<Vec<OfficerRow>, StorageError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {OFFICER_COLUMNS} FROM officers ORDER BY shoulder_number"
            ))
            .map_err(backend)?;
        let rows = stmt.query_map([], officer_row).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn add_enrolment_code(
        &self,
        code_hash: &[u8],
        officer: &str,
        expires_at: i64,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.write(|tx| {
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM officers WHERE shoulder_number = ?1 AND active = 1",
                    [officer],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            if exists.is_none() {
                return Err(StorageError::NotFound(
                    "active officer with this shoulder number",
                ));
            }
            tx.execute(
                "INSERT INTO enrolment_codes (code_hash, officer, expires_at) VALUES (?1, ?2, ?3)",
                params![code_hash, officer, expires_at],
            )
            .map_err(backend)?;
            audit::append_in(tx, at, events)
        })
    }

    fn redeem_enrolment_code(
        &self,
        code_hash: &[u8],
        now: i64,
        device: &DeviceRow,
        token_hash: &[u8],
        at: &str,
        events: AuditOf<'_, OfficerRow>,
    ) -> Result<OfficerRow, StorageError> {
        self.write(|tx| {
            let officer: Option<String> = tx
                .query_row(
                    "UPDATE enrolment_codes SET used_at = ?2
                     WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2
                     RETURNING officer",
                    params![code_hash, now],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(officer) = officer else {
                return Err(StorageError::CodeRefused);
            };
            let row = tx
                .query_row(
                    &format!(
                        "SELECT {OFFICER_COLUMNS} FROM officers
                         WHERE shoulder_number = ?1 AND active = 1"
                    ),
                    [&officer],
                    officer_row,
                )
                .optional()
                .map_err(backend)?
                .ok_or(StorageError::CodeRefused)?;
            tx.execute(
                "INSERT INTO devices (id, officer, token_hash, label, enrolled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    device.id,
                    officer,
                    token_hash,
                    device.label,
                    device.enrolled_at
                ],
            )
            .map_err(backend)?;
            audit::append_in(tx, at, &events(&row))?;
            Ok(row)
        })
    }

    fn principal(&self, token_hash: &[u8]) -> Result<Option<Principal>, StorageError> {
        let conn = self.conn();
        let device = conn
            .query_row(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = ?1"),
                [token_hash],
                device_row,
            )
            .optional()
            .map_err(backend)?;
        let Some(device) = device else {
            return Ok(None);
        };
        let officer = conn
            .query_row(
                &format!("SELECT {OFFICER_COLUMNS} FROM officers WHERE shoulder_number = ?1"),
                [&device.officer],
                officer_row,
            )
            .optional()
            .map_err(backend)?;
        Ok(officer.map(|officer| Principal { device, officer }))
    }

    fn device(&self, id: &str) -> Result<Option<DeviceRow>, StorageError> {
        self.conn()
            .query_row(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"),
                [id],
                device_row,
            )
            .optional()
            .map_err(backend)
    }

    fn revoke_device(
        &self,
        id: &str,
        reason: RevokeReason,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE devices SET revoked_at = ?2, revoke_reason = ?3
                     WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, at, reason.as_str()],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StorageError::NotFound("active device with this id"));
            }
            audit::append_in(tx, at, events)
        })
    }

    fn request_retire(
        &self,
        id: &str,
        at: &str,
        events: &[NewAuditEvent],
    ) -> Result<(), StorageError> {
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE devices SET retire_requested_at = coalesce(retire_requested_at, ?2)
                     WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, at],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StorageError::NotFound("active device with this id"));
            }
            audit::append_in(tx, at, events)
        })
    }

    fn devices(&self) -> Result<Vec<DeviceRow>, StorageError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY enrolled_at"
            ))
            .map_err(backend)?;
        let rows = stmt.query_map([], device_row).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn touch_device(&self, device_id: &str, at: &str) -> Result<(), StorageError> {
        self.conn()
            .execute(
                "UPDATE devices SET last_seen = ?2 WHERE id = ?1",
                params![device_id, at],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn record(&self, id: &str) -> Result<Option<StoredRecord>, StorageError> {
        self.conn()
            .query_row(
                &format!("SELECT {} FROM records WHERE id = ?1", stored_columns()),
                [id],
                stored_row,
            )
            .optional()
            .map_err(backend)
    }

    fn commit_record(&self, commit: &RecordCommit) -> Result<u64, StorageError> {
        self.write(|tx| {
            let i = &commit.index;
            let written = match commit.expected_version {
            None => tx.execute(
                "INSERT INTO records (id, kind, reference, author, station, occurred_at, status,
                                      created_at, updated_at, snapshot, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1)
                 ON CONFLICT (id) DO NOTHING",
                params![
                    i.id,
                    i.kind.as_str(),
                    i.reference,
                    i.author,
                    i.station,
                    i.occurred_at,
                    i.status.as_str(),
                    i.created_at,
                    i.updated_at,
                    commit.snapshot
                ],
            ),
            Some(version) => tx.execute(
                "UPDATE records SET occurred_at = ?2, status = ?3, updated_at = ?4,
                        snapshot = ?5, version = version + 1
                 WHERE id = ?1 AND version = ?6",
                params![
                    i.id,
                    i.occurred_at,
                    i.status.as_str(),
                    i.updated_at,
                    commit.snapshot,
                    version
                ],
            ),
        }
        .map_err(|e| {
            // The only other unique key of a record is its reference.
            if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) {
                StorageError::Duplicate("a record with this reference")
            } else {
                backend(e)
            }
        })?;
            if written == 0 {
                return Err(StorageError::Conflict);
            }
            audit::append_in(tx, &i.updated_at, &commit.audit)?;
            for officer in &commit.grant {
                tx.execute(
                    "INSERT INTO record_access (record_id, officer, granted_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                    params![i.id, officer, i.updated_at],
                )
                .map_err(backend)?;
            }
            let seq: i64 = tx
                .query_row(
                    "INSERT INTO feed (record_id, kind, author, station, origin_device, changes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING seq",
                    params![
                        i.id,
                        i.kind.as_str(),
                        i.author,
                        i.station,
                        commit.origin_device,
                        commit.new_changes
                    ],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            Ok(seq as u64)
        })
    }

    fn records(&self) -> Result<Vec<RecordIndex>, StorageError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {INDEX_COLUMNS} FROM records ORDER BY created_at, id"
            ))
            .map_err(backend)?;
        let rows = stmt.query_map([], index_row).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn feed_window(
        &self,
        cursor: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<FeedRow>, StorageError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT seq, record_id, kind, author, station, origin_device, changes, {}, erased
                 FROM feed WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                readers_of("feed.record_id")
            ))
            .map_err(backend)?;
        let cursor = i64::try_from(cursor).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![cursor, limit]).map_err(backend)?;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        // Rows stream from SQLite; stop reading once the byte budget is spent.
        while bytes < max_bytes {
            let Some(r) = rows.next().map_err(backend)? else {
                break;
            };
            let row = FeedRow {
                seq: r.get::<_, i64>(0).map_err(backend)? as u64,
                record_id: r.get(1).map_err(backend)?,
                kind: kind_of(r.get(2).map_err(backend)?).map_err(backend)?,
                author: r.get(3).map_err(backend)?,
                station: r.get(4).map_err(backend)?,
                origin_device: r.get(5).map_err(backend)?,
                changes: r.get(6).map_err(backend)?,
                readers: readers(r.get(7).map_err(backend)?).map_err(backend)?,
                erased: r.get(8).map_err(backend)?,
            };
            bytes = bytes.saturating_add(row.changes.len());
            out.push(row);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use pocketbook_core::model::RecordKind;

    #[test]
    fn sqlite_passes_the_storage_suite() {
        super::super::suite::run(|dir| Box::new(super::SqliteStorage::open(dir).unwrap()));
    }

    #[test]
    fn a_version_1_store_migrates_and_keeps_its_data() {
        use crate::storage::{AuditLog, RetentionStore, Storage};
        let dir = tempfile::tempdir().unwrap();
        {
            // A store exactly as the first server version left it.
            let conn = rusqlite::Connection::open(dir.path().join(super::STORE_FILE)).unwrap();
            conn.execute_batch(super::V1).unwrap();
            conn.pragma_update(None, "application_id", super::APPLICATION_ID)
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
            for step in [super::V1, super::V2, super::V3] {
                conn.execute_batch(step).unwrap();
            }
            conn.pragma_update(None, "application_id", super::APPLICATION_ID)
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
        use crate::storage::{
            DeviceRow, LegalHold, OfficerRow, RetentionStore, RevokeReason, Storage,
        };
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
        let hold = LegalHold {
            record_id: "r1".into(),
            reason: "complaint".into(),
            set_at: t.into(),
        };
        assert!(
            store
                .set_legal_hold(&hold, &e(Action::LegalHoldSet))
                .is_err()
        );
        assert!(
            store
                .erase_record("r1", t, "retention", &e(Action::RecordErased))
                .is_err()
        );
        assert!(store.legal_holds().unwrap().is_empty());
        assert!(store.record("r1").unwrap().is_some());

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
}
