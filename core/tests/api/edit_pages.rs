//! What one edit writes to the store file, and the schema that keeps it
//! small (versions 5 and 7, `core/src/store/schema.rs`): a scene action
//! on a record already queued dirties its change's page only, not its
//! record's row, a sequence table and index entries besides; every page
//! of an encrypted store is encrypted and authenticated as it is written.
//! And a store written by schema 4 opens with every record and change
//! kept, in order.

use pocketbook_core::model::*;
use pocketbook_core::store::{CURRENT_VERSION, STORE_FILE};

use crate::store::compact_often;
use crate::support::*;

/// Frames in the store's write-ahead log: every page a commit writes is
/// one frame (a 32-byte log header, then a 24-byte header and the page).
fn wal_frames(dir: &std::path::Path) -> u64 {
    let db = std::fs::read(dir.join(STORE_FILE)).unwrap();
    let page_size = match u16::from_be_bytes([db[16], db[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    let wal = std::fs::metadata(dir.join(format!("{STORE_FILE}-wal")))
        .unwrap()
        .len();
    wal.saturating_sub(32) / (page_size + 24)
}

#[test]
fn a_scene_action_writes_its_change_row_only() {
    const EDITS: u64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC201");
    let id = nb
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    for n in 0..10 {
        nb.add_scene_action(id.clone(), note(&format!("action {n}")))
            .unwrap();
    }
    // Far below the 1,000 frames at which SQLite checkpoints and starts
    // the log again, so the log only grows here.
    let before = wal_frames(dir.path());
    let mut each = Vec::new();
    for n in 10..10 + EDITS {
        let at = wal_frames(dir.path());
        nb.add_scene_action(id.clone(), note(&format!("action {n}")))
            .unwrap();
        each.push(wal_frames(dir.path()) - at);
    }
    let written = wal_frames(dir.path()) - before;
    let per_edit = written as f64 / EDITS as f64;
    println!("pages written per scene action: {per_edit:.2} {each:?}");
    // The change's page alone on most edits (37 of these 40), and now and
    // then a new page of the change log (3 or 4 pages: the new page, the
    // table's interior page, the file's header; 1.18 in all): schema 7
    // writes no row of the record, and starts a page at the log's end
    // rather than rebalancing the full one with its neighbours (schema 5
    // and 6 wrote 2.62 pages an edit; schema 4 wrote 7.2, the sequence
    // table, the change's index entry and the record's index entries
    // besides).
    let single = each.iter().filter(|&&n| n == 1).count();
    assert!(
        per_edit < 1.5 && single * 5 >= each.len() * 4,
        "an edit writes {per_edit:.2} pages ({written} for {EDITS} edits: {each:?})"
    );
    let record = nb.get(id).unwrap();
    assert_eq!(scene_of(&record).actions.len(), 10 + EDITS as usize);
}

/// Schema 7 undone on a store this build wrote: the count since the
/// snapshot, the time and the unacknowledged edits back in the record's
/// row as schema 6 kept them, no `folded` or `log`, and schema 6's change
/// log (keyed by record and `seq` in one `WITHOUT ROWID` B-tree, no time).
macro_rules! to_version_6 {
    () => {
        "
CREATE TABLE changes_v6 (
    record_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    bytes     BLOB NOT NULL,
    at        TEXT,
    PRIMARY KEY (record_id, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO changes_v6 (record_id, seq, bytes, at)
    SELECT records.id, changes.key - records.log * 16777216, changes.bytes, changes.at
    FROM changes JOIN records ON changes.key > records.log * 16777216
                             AND changes.key < (records.log + 1) * 16777216;
DROP TABLE changes;
ALTER TABLE changes_v6 RENAME TO changes;
ALTER TABLE records ADD COLUMN changes_since_snapshot INTEGER NOT NULL DEFAULT 0;
UPDATE records SET
    changes_since_snapshot =
        (SELECT coalesce(max(seq), 0) FROM changes WHERE record_id = records.id),
    updated_at = coalesce((SELECT at FROM changes WHERE record_id = records.id
                           AND seq > records.folded ORDER BY seq DESC LIMIT 1), updated_at),
    local_edits = local_edits - folded +
        (SELECT coalesce(max(seq), 0) FROM changes WHERE record_id = records.id);
DROP INDEX records_by_log;
ALTER TABLE records DROP COLUMN folded;
ALTER TABLE records DROP COLUMN log;
ALTER TABLE changes DROP COLUMN at;
PRAGMA user_version = 6;
"
    };
}
pub(crate) use to_version_6;

/// [`to_version_6`] as a constant.
pub const TO_VERSION_6: &str = to_version_6!();

/// The schema of version 4's change log (`AUTOINCREMENT` numbering every
/// change of every record in one sequence, a second index by record) and
/// its index by `updated_at`, put back on a store this build wrote, less
/// version 7's change rows and version 6's promise terms and index (the
/// other tests of an older store take it further back from there).
pub const TO_VERSION_4: &str = concat!(
    to_version_6!(),
    "
-- Version 6's promise terms and index by encounter time (version 5 had
-- neither).
DROP TABLE promise_terms;
DROP INDEX records_by_occurred;
CREATE TABLE changes_v4 (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    bytes     BLOB NOT NULL
) STRICT;
INSERT INTO changes_v4 (record_id, bytes)
    SELECT record_id, bytes FROM changes ORDER BY seq, record_id;
-- Numbers far apart and not from 1, as a long-used store has them.
UPDATE changes_v4 SET seq = seq * 7 + 1000;
DROP TABLE changes;
ALTER TABLE changes_v4 RENAME TO changes;
CREATE INDEX changes_by_record ON changes (record_id, seq);
CREATE INDEX records_by_updated ON records (updated_at);
PRAGMA user_version = 4;
"
);

#[test]
fn a_store_of_schema_version_4_opens_with_every_change_in_order() {
    let dir = tempfile::tempdir().unwrap();
    compact_often(dir.path());
    let actions = |nb: &pocketbook_core::Notebook, ids: &[String], from: usize, to: usize| {
        // Edits of the records interleaved, so their changes are
        // interleaved in version 4's one sequence.
        for n in from..to {
            for id in ids {
                nb.add_scene_action(id.clone(), note(&format!("action {n}")))
                    .unwrap();
            }
        }
    };
    let (ids, records) = {
        let nb = notebook(&dir, "PC201");
        let ids: Vec<String> = (0..3)
            .map(|_| {
                nb.create_scene(scene(ResponseGrade::Emergency))
                    .unwrap()
                    .header
                    .id
            })
            .collect();
        // Past one compaction (every 16 changes here), with changes after it.
        actions(&nb, &ids, 0, 21);
        let records: Vec<Record> = ids.iter().map(|id| nb.get(id.clone()).unwrap()).collect();
        (ids, records)
    };
    let path = dir.path().join(STORE_FILE);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(TO_VERSION_4).unwrap();
        let logged: i64 = conn
            .query_row("SELECT count(*) FROM changes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            logged,
            3 * 5,
            "five changes of each record since its snapshot"
        );
    }

    let nb = notebook(&dir, "PC201");
    for (id, record) in ids.iter().zip(&records) {
        assert_eq!(
            &nb.get(id.clone()).unwrap(),
            record,
            "every record as it was"
        );
    }
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, CURRENT_VERSION);
        let objects: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE name LIKE 'changes%' OR name LIKE 'records_by%' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !objects
                .iter()
                .any(|o| o == "records_by_updated" || o == "changes_by_record"),
            "{objects:?}"
        );
        // Each record's changes numbered 1, 2, ... in their old order
        // (the largest is the count since the snapshot), all of them
        // folded into the record's row.
        for id in &ids {
            let (numbers, folded): (String, i64) = conn
                .query_row(
                    "SELECT (SELECT group_concat(seq) FROM
                                (SELECT key - log * 16777216 AS seq FROM changes
                                 WHERE key > log * 16777216 AND key < (log + 1) * 16777216
                                 ORDER BY key)),
                            folded FROM records WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!((numbers.as_str(), folded), ("1,2,3,4,5", 5));
        }
    }
    // Edits go on after the migration, past another compaction, and a
    // fresh open (from the file, not memory) reads every action in order.
    actions(&nb, &ids, 21, 40);
    drop(nb);
    let nb = notebook(&dir, "PC201");
    for id in &ids {
        let record = nb.get(id.clone()).unwrap();
        let details: Vec<ActionDetail> = scene_of(&record)
            .actions
            .iter()
            .map(|a| a.detail.clone())
            .collect();
        let expected: Vec<ActionDetail> = (0..40).map(|n| note(&format!("action {n}"))).collect();
        assert_eq!(details, expected);
    }
}
