//! What both device-store benches build on: the officer, the scene, the
//! store key, one real scene-action change and the floors' databases, so
//! `store.rs` (criterion) and `interleaved.rs` (the edit and its floors
//! round-robin) time the same edit against the same floors.

#![allow(dead_code)] // each bench uses its own part

use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::*;

pub fn officer() -> Officer {
    pocketbook_fixtures::officer("PC1")
}

pub fn scene_input() -> SceneInput {
    pocketbook_fixtures::emergency_scene()
}

pub fn note(n: usize) -> ActionDetail {
    ActionDetail::Note {
        text: format!("Spoke to neighbour at number {n}; saw a man in a grey hoodie"),
    }
}

/// How many entries a record of the `after_10` benchmarks takes before a
/// fresh one is filled to 10 again: those edits are timed on records of 10
/// to 60 entries, as the name says, not on one record that grows through
/// the whole run (which made the mean depend on how many iterations the
/// run happened to make).
pub const AFTER_10_BOUND: usize = 60;

/// The benches' store key (raw, as the app passes it).
pub const KEY: [u8; 32] = [0x5a; 32];

/// The bytes of one real scene-action change, as the store appends them.
pub fn one_change() -> Vec<u8> {
    let header = pocketbook_fixtures::header(RecordKind::SceneAttendance, officer());
    let body = RecordBody::SceneAttendance {
        scene: SceneAttendance::from_input(scene_input()),
    };
    let mut doc = RecordDoc::create(header, &body, automerge::ActorId::random()).unwrap();
    doc.add_action(note(1), "PC1", &pocketbook_fixtures::at(10, 1))
        .unwrap();
    doc.last_local_change().unwrap()
}

/// A database for the floors, file `name` in `dir`, plain or keyed as the
/// store keys itself (a raw 256-bit key), with the store's pragmas.
pub fn floor_db(dir: &std::path::Path, name: &str, keyed: bool) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join(name)).unwrap();
    if keyed {
        let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
        conn.execute_batch(&format!("PRAGMA key = \"x'{hex}'\";"))
            .unwrap();
    }
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch("CREATE TABLE changes (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL)")
        .unwrap();
    conn
}

/// One floor insert: the change's bytes inserted and committed (autocommit).
pub fn floor_insert(conn: &rusqlite::Connection, change: &[u8]) {
    conn.prepare_cached("INSERT INTO changes (bytes) VALUES (?1)")
        .unwrap()
        .execute([change])
        .unwrap();
}
