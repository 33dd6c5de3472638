//! The PostgreSQL schema and its migrations, run when a server starts:
//! several instances starting at once migrate exactly once, by a row lock
//! on `schema_version` held by the migrating transaction (DDL is
//! transactional in PostgreSQL), not an advisory lock, which a distributed
//! PostgreSQL-compatible database may lack.
//!
//! The tables and columns are the SQLite schema's (`storage/sqlite/schema.rs`),
//! kept in step by a test (`postgres/tests.rs`), with these additions:
//! `schema_version` (SQLite has `PRAGMA user_version`), `feed_head` (the
//! counter feed positions come from, see `storage/postgres.rs`), and
//! `records.occurred_at_ts`, the `timestamptz` copy of the encounter time
//! that retention and the desk's lookup query and index, and the staging
//! tables of writes not yet sequenced (`feed_pending`, `audit_pending`,
//! `feed.pending_id`: [`V4`]). Audit rows keep the exact text their hash
//! covers.

use postgres::Client;

use super::backend;
use crate::storage::StorageError;
use crate::storage::chain::GENESIS;

/// The newest schema this server writes.
pub(crate) const CURRENT_VERSION: i32 = 6;

/// The first version: the SQLite store's schema 5, in PostgreSQL types.
const V1: &str = "
CREATE TABLE officers (
    shoulder_number TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    station         TEXT NOT NULL,
    role            TEXT NOT NULL,
    active          BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE devices (
    id                  TEXT PRIMARY KEY,
    officer             TEXT NOT NULL REFERENCES officers (shoulder_number),
    token_hash          BYTEA NOT NULL UNIQUE,
    label               TEXT NOT NULL,
    enrolled_at         TEXT NOT NULL,
    revoked_at          TEXT,
    last_seen           TEXT,
    revoke_reason       TEXT,
    retire_requested_at TEXT
);
CREATE INDEX devices_by_officer ON devices (officer);

CREATE TABLE enrolment_codes (
    code_hash  BYTEA PRIMARY KEY,
    officer    TEXT NOT NULL REFERENCES officers (shoulder_number),
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE TABLE records (
    id                  TEXT PRIMARY KEY,
    kind                TEXT NOT NULL,
    reference           TEXT NOT NULL,
    author              TEXT NOT NULL,
    station             TEXT NOT NULL,
    occurred_at         TEXT NOT NULL,
    occurred_at_ts      TIMESTAMPTZ NOT NULL,
    status              TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    snapshot            BYTEA NOT NULL,
    version             BIGINT NOT NULL,
    duplicate_reference BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX records_by_reference ON records (reference);
CREATE UNIQUE INDEX records_reference_unique ON records (reference)
    WHERE NOT duplicate_reference;
CREATE INDEX records_by_station ON records (station, occurred_at_ts);
CREATE INDEX records_by_author ON records (author, occurred_at_ts);
CREATE INDEX records_by_kind ON records (kind, occurred_at_ts);

CREATE TABLE feed (
    seq           BIGINT PRIMARY KEY,
    record_id     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    author        TEXT NOT NULL,
    station       TEXT NOT NULL,
    origin_device TEXT NOT NULL,
    changes       BYTEA NOT NULL,
    erased        BOOLEAN NOT NULL DEFAULT FALSE,
    received_at   TEXT
);
CREATE INDEX feed_by_record ON feed (record_id);

CREATE TABLE feed_head (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO feed_head (id, seq) VALUES (1, 0);

CREATE TABLE record_access (
    record_id  TEXT NOT NULL,
    officer    TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (record_id, officer)
);
CREATE INDEX record_access_by_officer ON record_access (officer);

CREATE TABLE audit (
    seq       BIGINT PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    record_id TEXT,
    detail    TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);
CREATE INDEX audit_by_record ON audit (record_id, seq);
CREATE INDEX audit_by_actor ON audit (actor, seq);
CREATE INDEX audit_by_action ON audit (action, seq);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only';
END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);

CREATE TABLE tombstones (
    record_id TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    erased_at TEXT NOT NULL,
    reason    TEXT NOT NULL,
    author    TEXT NOT NULL DEFAULT '',
    station   TEXT NOT NULL DEFAULT ''
);

CREATE TABLE legal_holds (
    record_id TEXT PRIMARY KEY,
    reason    TEXT NOT NULL,
    set_at    TEXT NOT NULL
);

CREATE TABLE copy_attempts (
    key    TEXT NOT NULL,
    at     BIGINT NOT NULL,
    failed BOOLEAN NOT NULL
);
CREATE INDEX copy_attempts_by_key ON copy_attempts (key, at);

CREATE TABLE job_runs (
    job        TEXT NOT NULL,
    period     BIGINT NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (job, period)
);

CREATE TABLE limit_salts (
    period BIGINT PRIMARY KEY,
    salt   BYTEA NOT NULL
);
";

/// Published figures, frozen once per month: the SQLite store's schema 7.
const V2: &str = "
CREATE TABLE published_figures (
    month       TEXT PRIMARY KEY,
    computed_at TEXT NOT NULL,
    body        TEXT NOT NULL
);
";

/// The feed read per scope: the SQLite store's schema 8, each feed entry
/// indexed under its audience (`crate::storage::Audience`), the entries
/// already stored indexed in the migration's transaction.
const V3: &str = "
CREATE TABLE feed_audience (
    audience TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    PRIMARY KEY (audience, seq)
);
INSERT INTO feed_audience (audience, seq)
    SELECT 'o:' || author, seq FROM feed
    UNION SELECT 's:' || station, seq FROM feed
    UNION SELECT 'o:' || a.officer, f.seq FROM feed f
          JOIN record_access a ON a.record_id = f.record_id;
";

/// Writes that commit without the heads (`storage/postgres/sequencer.rs`):
/// a committed record's feed entry and a committed audit event wait here,
/// unnumbered, until a sequencing run numbers them into `feed` and chains
/// them into `audit` under the two head rows. `id` is arrival order only
/// (a sequence may leave gaps and, on a distributed database, commit out
/// of order: neither matters, the positions readers see come from
/// `feed_head`); `feed.pending_id` is the staged row an entry came from,
/// so a writer whose entry another writer's run numbered finds its
/// position.
const V4: &str = "
CREATE TABLE feed_pending (
    id            BIGSERIAL PRIMARY KEY,
    record_id     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    author        TEXT NOT NULL,
    station       TEXT NOT NULL,
    origin_device TEXT NOT NULL,
    changes       BYTEA NOT NULL,
    received_at   TEXT
);
CREATE TABLE audit_pending (
    id        BIGSERIAL PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    record_id TEXT,
    detail    TEXT NOT NULL
);
ALTER TABLE feed ADD COLUMN pending_id BIGINT;
";

/// The promise gauges' reads (`crate::pledge`), the SQLite store's schema
/// 9: a station's records of some kinds by id and version, from this
/// index alone (an index-only scan, never the rows and their snapshots),
/// and the stations listed one index seek each.
const V5: &str = "
CREATE INDEX records_by_station_kind ON records (station, kind) INCLUDE (id, version);
";

/// The retention job's trusted reference of time, the SQLite store's
/// schema 10 (`crate::retention::guard`): one row, shared by every
/// instance, started from the newest retention period claimed.
const V6: &str = "
CREATE TABLE retention_clock (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    trusted TEXT NOT NULL,
    held    TEXT
);
INSERT INTO retention_clock (id, trusted)
    SELECT 1, max(claimed_at) FROM job_runs WHERE job = 'retention'
    HAVING max(claimed_at) IS NOT NULL;
";

/// Every migration, oldest first: `MIGRATIONS[n]` takes version n to n+1.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

/// Creates the version row if this is an empty database, safely when
/// several instances do so at once.
///
/// Two instances racing on `CREATE TABLE IF NOT EXISTS` may both pass its
/// name check; the one that commits second then fails in the catalogue,
/// and which error it gets depends on where it meets the first one's rows
/// (`23505` on a catalogue index, `42P07` duplicate table, `42710` "type
/// already exists": the last is what a bounded retry on the first two
/// once missed, in one of sixty runs of six instances under load). So the
/// error's code is not looked at: a failed create is fine exactly when
/// the table exists afterwards (the other instance made it, and committed
/// before this one could fail), and any other failure is returned as it
/// is. The row is then inserted on its own, `ON CONFLICT DO NOTHING`,
/// which concurrent instances cannot make fail.
fn bootstrap(client: &mut Client) -> Result<(), StorageError> {
    let created = client.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             id      INTEGER PRIMARY KEY CHECK (id = 1),
             version INTEGER NOT NULL
         )",
    );
    // Checked in a statement of its own (the failed one's transaction is
    // over); when the check cannot answer either, the create's error is
    // the one that says why.
    if let Err(e) = created
        && !version_table_exists(client).unwrap_or(false)
    {
        return Err(backend(e));
    }
    client
        .batch_execute(
            "INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
        )
        .map_err(backend)
}

/// Whether `schema_version` exists in the schema new tables go to (the
/// first of the connection's `search_path`).
fn version_table_exists(client: &mut Client) -> Result<bool, StorageError> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables
                            WHERE table_schema = current_schema()
                              AND table_name = 'schema_version')",
            &[],
        )
        .map_err(backend)?;
    row.try_get(0).map_err(backend)
}

/// Brings the schema to [`CURRENT_VERSION`] in one transaction holding the
/// `schema_version` row lock: a second instance waits, then finds the work
/// done. A database written by a newer server is refused untouched.
pub(crate) fn migrate(client: &mut Client) -> Result<(), StorageError> {
    bootstrap(client)?;
    let mut tx = client.transaction().map_err(backend)?;
    let found: i32 = tx
        .query_one(
            "SELECT version FROM schema_version WHERE id = 1 FOR UPDATE",
            &[],
        )
        .map_err(backend)?
        .get(0);
    if found > CURRENT_VERSION {
        return Err(StorageError::TooNew {
            found: found as u32,
            supported: CURRENT_VERSION as u32,
        });
    }
    for step in &MIGRATIONS[found.max(0) as usize..] {
        tx.batch_execute(step).map_err(backend)?;
    }
    if found == 0 {
        let genesis = hex::decode(GENESIS).map_err(|e| StorageError::backend_from(None, e))?;
        tx.execute(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, $1)",
            &[&genesis],
        )
        .map_err(backend)?;
    }
    tx.execute(
        "UPDATE schema_version SET version = $1 WHERE id = 1",
        &[&CURRENT_VERSION],
    )
    .map_err(backend)?;
    tx.commit().map_err(backend)
}
