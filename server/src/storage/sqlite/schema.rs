//! The SQLite schema and its migrations: the tables of each version, the
//! store's files and their permissions, and the upgrade of an older store
//! (refusing one written by a newer server).

use std::path::Path;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use super::backend;
use crate::storage::StorageError;

/// File name of the server store in the data directory.
pub const STORE_FILE: &str = "server.db";
pub(super) const APPLICATION_ID: i32 = 0x5042_5331; // "PBS1"
pub(super) const CURRENT_VERSION: u32 = 10;

pub(super) const V1: &str = "
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
pub(super) const V2: &str = "
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
pub(super) const V3: &str = "
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
pub(super) const V4: &str = "
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

/// Several instances (or a server and the admin command) on one store:
/// scheduled jobs claim their period once, and the rate limits' salt of
/// client addresses is shared and rotated.
pub(super) const V5: &str = "
CREATE TABLE job_runs (
    job        TEXT NOT NULL,
    period     INTEGER NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (job, period)
) STRICT, WITHOUT ROWID;

CREATE TABLE limit_salts (
    period INTEGER PRIMARY KEY NOT NULL,
    salt   BLOB NOT NULL
) STRICT;
";

/// Clocks: each feed entry keeps the server's own receive time of the
/// push it came from (RFC 3339, UTC, as the server stamps it), beside the
/// device times inside the document, so an admin or an audit can tell
/// when the server had a change whatever the handset's clock said.
/// Entries written before this version, and erasure entries, have none.
pub(super) const V6: &str = "
ALTER TABLE feed ADD COLUMN received_at TEXT;
";

/// Published figures: each month's figures, counted once and frozen
/// (`crate::figures`), so published numbers never change, even after
/// retention erases the records they count.
pub(super) const V7: &str = "
CREATE TABLE published_figures (
    month       TEXT PRIMARY KEY NOT NULL,
    computed_at TEXT NOT NULL,
    body        TEXT NOT NULL
) STRICT;
";

/// The feed read per scope: each feed entry indexed under its audience
/// (`crate::storage::Audience`: `o:` its author, `o:` each officer the
/// record is shared with, `s:` its station), so a device's sync reads only
/// the entries it may see instead of everyone's since its cursor. The
/// entries already stored are indexed here, in the migration's transaction.
pub(super) const V8: &str = "
CREATE TABLE feed_audience (
    audience TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (audience, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO feed_audience (audience, seq)
    SELECT 'o:' || author, seq FROM feed
    UNION SELECT 's:' || station, seq FROM feed
    UNION SELECT 'o:' || a.officer, f.seq FROM feed f
          JOIN record_access a ON a.record_id = f.record_id;
";

/// The promise gauges' reads (`crate::pledge`): a station's records of some
/// kinds by id and version, answered from this index alone (never the
/// rows, whose snapshots lie before `version`), and the stations listed
/// one index seek each.
pub(super) const V9: &str = "
CREATE INDEX records_by_station_kind ON records (station, kind, id, version);
";

/// The retention job's trusted reference of time (`crate::retention::guard`):
/// one row for the store, so every instance judges its clock against the
/// same reference. A store that ran the schedule before starts from the
/// newest period it claimed, so an upgrade is guarded from its first run.
pub(super) const V10: &str = "
CREATE TABLE retention_clock (
    id      INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    trusted TEXT NOT NULL,
    held    TEXT
) STRICT;
INSERT INTO retention_clock (id, trusted)
    SELECT 1, max(claimed_at) FROM job_runs WHERE job = 'retention'
    HAVING max(claimed_at) IS NOT NULL;
";

pub(super) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9, V10];

/// Creates the data directory 0700 if it is missing, and the database file
/// 0600 before SQLite opens it: SQLite gives its `-wal` and `-shm` files the
/// database file's permissions. Files left by an older server are
/// tightened to 0600.
pub(super) fn private_files(data_dir: &Path) -> Result<(), StorageError> {
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
pub(super) fn reindex_times(tx: &Transaction<'_>) -> Result<usize, StorageError> {
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

pub(super) fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
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
