//! The device store's SQLite schema and its migrations.
//!
//! The version lives in `PRAGMA user_version`; upgrades run inside one
//! IMMEDIATE transaction, and a store written by a newer app is refused
//! rather than guessed at. `application_id` marks the file as ours, so a
//! foreign SQLite file is never mistaken for an empty notebook.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// `PRAGMA application_id` of a Pocketbook device store ("PBK1").
pub const APPLICATION_ID: i32 = 0x5042_4B31;
/// The schema version this code writes.
pub const CURRENT_VERSION: u32 = 7;

const V1: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT;

-- One row per record: index columns for listing, the latest compacted
-- snapshot, and sync bookkeeping. The document itself is snapshot + changes.
CREATE TABLE records (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    reference       TEXT NOT NULL UNIQUE,
    author          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    occurred_at     TEXT NOT NULL,
    snapshot        BLOB NOT NULL,
    changes_since_snapshot INTEGER NOT NULL DEFAULT 0,
    -- Heads the server has acknowledged (encoded), NULL if never synced.
    synced_heads    BLOB,
    -- 1 while the record has changes the server has not acknowledged.
    unsynced        INTEGER NOT NULL DEFAULT 1,
    -- The server's reason for refusing the last push; cleared by a local edit.
    rejection       TEXT
) STRICT;
CREATE INDEX records_by_kind ON records (kind, created_at);
CREATE INDEX records_by_status ON records (status, created_at);
CREATE INDEX records_by_updated ON records (updated_at);
CREATE INDEX records_unsynced ON records (unsynced) WHERE unsynced = 1;
CREATE INDEX records_synced_by_updated ON records (updated_at) WHERE unsynced = 0;

-- Incremental Automerge changes appended since the record's snapshot.
CREATE TABLE changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    bytes     BLOB NOT NULL
) STRICT;
CREATE INDEX changes_by_record ON changes (record_id, seq);
";

/// Version 2: feed entries held back, and a count of unacknowledged edits.
const V2: &str = "
-- Feed entries this app could not apply (a record of a newer schema,
-- corrupt bytes, missing history), kept whole with a reason code so the
-- app can say so and a later app version can apply them. Later entries of
-- a record with a held entry are held behind it, in feed order.
CREATE TABLE held_entries (
    seq       INTEGER PRIMARY KEY NOT NULL,
    record_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    changes   BLOB NOT NULL,
    held_at   TEXT NOT NULL
) STRICT;
CREATE INDEX held_entries_by_record ON held_entries (record_id, seq);

-- Edits made on this device that the server has not acknowledged: what a
-- wipe reports as lost.
ALTER TABLE records ADD COLUMN local_edits INTEGER NOT NULL DEFAULT 0;
UPDATE records SET local_edits = 1 WHERE unsynced = 1;
";

/// Version 3: rollback of records the server refuses for good.
const V3: &str = "
-- Heads the server has acknowledged, never reset (synced_heads is, to
-- resend a whole record): what a rollback rebuilds a record from.
ALTER TABLE records ADD COLUMN acked_heads BLOB;
UPDATE records SET acked_heads = synced_heads;
-- The refusal code of a record due to be rolled back (forbidden, invalid).
ALTER TABLE records ADD COLUMN rollback_code TEXT;

-- Changes the server refused, set aside by a rollback: never merged or
-- pushed again, kept readable with the whole record as it was here.
CREATE TABLE set_aside (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    code         TEXT NOT NULL,
    message      TEXT NOT NULL,
    edits        INTEGER NOT NULL,
    changes      BLOB NOT NULL,
    change_count INTEGER NOT NULL,
    version      BLOB NOT NULL,
    set_aside_at TEXT NOT NULL
) STRICT;
CREATE INDEX set_aside_by_record ON set_aside (record_id);
";

/// Version 4: retention on the device itself (`store/expiry.rs`).
const V4: &str = "
-- Records on legal hold, as the server last listed them: never erased by
-- the device's own retention. Replaced whole by each list the server sends.
CREATE TABLE legal_holds (
    record_id TEXT PRIMARY KEY NOT NULL
) STRICT;
";

/// Version 5: an edit writes fewer pages (each page of an encrypted store
/// is encrypted and authenticated as it is written; see
/// `store/writes.rs`).
///
/// - A change row is keyed by its record and its place in the record's
///   log since the snapshot (`seq`, 1, 2, ... as `changes_since_snapshot`
///   counts), in one B-tree (`WITHOUT ROWID`): the row and its index were
///   two B-trees, and `AUTOINCREMENT` wrote `sqlite_sequence` on every
///   insert. A `seq` is used again after a compaction or a rollback folds
///   the log into the snapshot (they delete every change row of the
///   record in the same transaction that resets the count), which matters
///   to nothing: the order of a record's rows is all `seq` is read for
///   (loading), pushes are built from the document's heads against the
///   heads the server acknowledged (`synced_heads`), and no cursor, sync
///   state or other table names a change row.
/// - `records_by_updated` goes: no query reads records by `updated_at`
///   alone (the list orders by `created_at`; pruning synced records uses
///   `records_synced_by_updated`), and its entry moved on every edit.
///
/// Existing rows keep their order (numbered per record in the order of
/// their old `seq`), and the count since the snapshot is made the number
/// of rows, which it already was.
const V5: &str = "
CREATE TABLE changes_v5 (
    record_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    bytes     BLOB NOT NULL,
    PRIMARY KEY (record_id, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO changes_v5 (record_id, seq, bytes)
    SELECT record_id, row_number() OVER (PARTITION BY record_id ORDER BY seq), bytes
    FROM changes;
UPDATE records SET changes_since_snapshot =
    (SELECT count(*) FROM changes_v5 WHERE record_id = records.id);
DROP TABLE changes;
ALTER TABLE changes_v5 RENAME TO changes;
DROP INDEX records_by_updated;
";

/// Version 6: each record's promise terms beside its row, so the promises
/// screen reads one small table rather than every document (why a table
/// and not columns of the row: `store/promise_terms.rs`). Filled for the
/// records already stored by [`fill_v6`], in the same transaction (once
/// every later step ran too: it reads the documents as this code does).
///
/// And an index by kind and encounter time (`occurred_at`), so the
/// device's own retention check (`store/expiry.rs`) reads the records
/// past their period rather than every record. An edit never names
/// `occurred_at` unless it changed (`store/writes.rs`), so the index costs
/// an edit no page; [`fill_v6`] puts every stored time in the one UTC
/// form whose text order is time order.
const V6: &str = "
CREATE INDEX records_by_occurred ON records (kind, occurred_at);
CREATE TABLE promise_terms (
    record_id TEXT PRIMARY KEY NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    reference TEXT NOT NULL,
    terms     BLOB NOT NULL
) STRICT, WITHOUT ROWID;
";

/// Version 7: a scene action on a record already queued for the next
/// sync writes its change row and nothing else (see `store/writes.rs`).
/// What the edit used to write into the record's row moves beside the
/// change or is counted from the change rows:
///
/// - the count since the snapshot is the record's largest `seq` (rows are
///   numbered 1, 2, ... since the snapshot, schema 5), so
///   `changes_since_snapshot` goes;
/// - each change row keeps the time it was written (`at`); the record's
///   `updated_at` is the last row's past `folded`, else the row's own;
/// - `local_edits` counts the edits folded into the row; every change row
///   past `folded` is an edit made here (only those are appended without
///   writing the row), so the edits the server has not acknowledged are
///   `local_edits + max(seq) - folded` (`store/writes.rs`,
///   `local_edits!`).
///
/// Every write of the record's row for another reason (a change from
/// elsewhere, a status or encounter-time change, a refusal cleared, an
/// acknowledgement, a compaction, a rollback) folds the rows since into
/// it, so a record the server holds in full (`unsynced = 0`) always has
/// its true `updated_at` in its row, which pruning reads through
/// `records_synced_by_updated`.
///
/// And the change log becomes a rowid table keyed by the record's number
/// (`log`, given when the row is inserted and never changed; the number
/// of an erased record, whose rows went with it, may be given again) times
/// 2^24 plus `seq` (at most [`super::COMPACT_AFTER`]): each record's rows
/// still lie together in their order, and an append to the newest record
/// lands at the table's end, where SQLite splits a full page by starting a
/// new one (its "quick balance", the full page left as it is) rather
/// than rebalancing it with its neighbours as it does in a `WITHOUT
/// ROWID` B-tree (more pages each time, and more often, as that leaves
/// pages part full): 1.18 pages a scene action against 1.70. A row
/// is also kept whole in its page up to about 4 KB, where a `WITHOUT
/// ROWID` row spilled past about 1 KB. The rows are deleted with their
/// record by the store itself (`store/retention.rs`, as they already
/// were), not by a foreign key, which SQLite also checked on every insert.
///
/// The rows already stored are folded (their time and count are in the
/// record's row); `at` is NULL in them and never read.
const V7: &str = "
ALTER TABLE records ADD COLUMN folded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE records ADD COLUMN log INTEGER;
UPDATE records SET log = rowid, folded =
    (SELECT coalesce(max(seq), 0) FROM changes WHERE record_id = records.id);
CREATE UNIQUE INDEX records_by_log ON records (log);
ALTER TABLE records DROP COLUMN changes_since_snapshot;
CREATE TABLE changes_v7 (
    key   INTEGER PRIMARY KEY,
    bytes BLOB NOT NULL,
    at    TEXT
) STRICT;
INSERT INTO changes_v7 (key, bytes)
    SELECT records.log * 16777216 + changes.seq, changes.bytes
    FROM changes JOIN records ON records.id = changes.record_id;
DROP TABLE changes;
ALTER TABLE changes_v7 RENAME TO changes;
";

/// Each migration moves the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7];

/// What version 6 adds that SQL cannot compute: the terms of the records
/// already stored, read from their documents.
fn fill_v6(tx: &Connection) -> Result<(), StoreError> {
    super::expiry::normalise_occurred(tx)?;
    super::promise_terms::fill(tx)
}

/// Brings the schema to [`CURRENT_VERSION`] in one transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > CURRENT_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: CURRENT_VERSION,
        });
    }
    for step in MIGRATIONS.iter().skip(found as usize) {
        tx.execute_batch(step)?;
    }
    // Once the schema is the one the store reads documents with.
    if found < 6 {
        fill_v6(&tx)?;
    }
    if found < CURRENT_VERSION {
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", CURRENT_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}
