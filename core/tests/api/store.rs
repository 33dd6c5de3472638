//! The device store: durability across reopen, compaction, refusal of a
//! newer store, recovery from corrupt or foreign files, and hostile imports.

use pocketbook_core::ApiError;
use pocketbook_core::model::*;
use pocketbook_core::store::{COMPACT_AFTER, ListFilter, STORE_FILE, Store};

use crate::support::*;

/// The store compacts a record every [`TEST_COMPACT_AFTER`] changes in these
/// tests (every [`COMPACT_AFTER`] in the app): the same code path, reached
/// with dozens of edits rather than hundreds.
pub const TEST_COMPACT_AFTER: i64 = 16;

/// Sets the store in `dir` to compact every [`TEST_COMPACT_AFTER`] changes.
pub fn compact_often(dir: &std::path::Path) {
    Store::open(dir)
        .unwrap()
        .set_compact_after(TEST_COMPACT_AFTER)
        .unwrap();
}

#[test]
fn edits_survive_reopening_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    compact_often(dir.path());
    // Three compactions, and edits after the last.
    let total = 3 * TEST_COMPACT_AFTER as usize + 5;
    let id = {
        let nb = notebook(&dir, "PC201");
        let id = nb
            .create_scene(scene(ResponseGrade::Emergency))
            .unwrap()
            .header
            .id;
        for n in 0..total {
            nb.add_scene_action(id.clone(), note(&format!("action {n}")))
                .unwrap();
        }
        id
    };
    // Compaction bounds the change log: the snapshot holds all but the
    // edits since the last compaction, numbered 1 to 5 (the largest is
    // the count since the snapshot).
    let conn = rusqlite::Connection::open(dir.path().join(STORE_FILE)).unwrap();
    let (changes, since): (i64, i64) = conn
        .query_row(
            "SELECT count(*), max(key) - log * 16777216 FROM changes, records
             WHERE id = ?1 AND key > log * 16777216 AND key < (log + 1) * 16777216",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((changes, since), (5, 5));
    drop(conn);
    let nb = notebook(&dir, "PC201");
    let record = nb.get(id).unwrap();
    let RecordBody::SceneAttendance { scene } = record.body else {
        panic!()
    };
    assert_eq!(scene.actions.len(), total);
    for (n, action) in scene.actions.iter().enumerate() {
        assert_eq!(action.detail, note(&format!("action {n}")));
    }
}

#[test]
fn the_apps_threshold_is_the_bound_and_a_test_may_only_lower_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store.set_compact_after(COMPACT_AFTER * 10).unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join(STORE_FILE)).unwrap();
    let kept: Vec<u8> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'test_compact_after'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, COMPACT_AFTER.to_string().into_bytes());
}

#[test]
fn a_store_from_a_newer_app_is_refused_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    drop(notebook(&dir, "PC202"));
    let path = dir.path().join(STORE_FILE);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let result =
        pocketbook_core::Notebook::open(dir.path().display().to_string(), officer("PC202"));
    assert!(matches!(result, Err(ApiError::UpdateRequired { detail: m }) if m.contains("99")));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99, "the newer store is left as it was");
}

#[test]
fn a_corrupt_store_is_moved_aside_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(STORE_FILE), b"this is not a database at all, just junk bytes that are long enough to look like a header").unwrap();
    let nb = notebook(&dir, "PC203");
    let aside = nb.store_moved_aside().expect("reported");
    assert!(std::path::Path::new(&aside).exists(), "kept, not deleted");
    assert!(
        std::fs::read(&aside)
            .unwrap()
            .starts_with(b"this is not a database")
    );
    nb.create_stop_account(stop_account()).unwrap();
    assert_eq!(nb.list(ListFilter::default()).unwrap().len(), 1);
}

#[test]
fn a_foreign_sqlite_file_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join(STORE_FILE)).unwrap();
        conn.execute_batch("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('x');")
            .unwrap();
    }
    let nb = notebook(&dir, "PC204");
    let aside = nb.store_moved_aside().expect("reported");
    let conn = rusqlite::Connection::open(aside).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM contacts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    assert!(notebook(&dir, "PC204").store_moved_aside().is_none());
}

#[test]
fn hostile_imports_are_refused_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC205");
    let garbage = nb.import(b"\x85\x6f\x4a\x83garbage".to_vec());
    assert!(
        matches!(garbage, Err(ApiError::BadInput { detail: m }) if m.contains("not an Automerge document"))
    );
    let mut foreign = automerge::AutoCommit::new();
    use automerge::transaction::Transactable;
    foreign
        .put(automerge::ROOT, "title", "shopping list")
        .unwrap();
    let not_ours = nb.import(foreign.save());
    assert!(
        matches!(not_ours, Err(ApiError::BadInput { detail: m }) if m.contains("not a Pocketbook record"))
    );
    foreign
        .put(automerge::ROOT, "schema", "pocketbook.record")
        .unwrap();
    foreign
        .put(automerge::ROOT, "schema_version", 7_u64)
        .unwrap();
    assert!(matches!(
        nb.import(foreign.save()),
        Err(ApiError::UpdateRequired { .. })
    ));
    foreign
        .put(automerge::ROOT, "schema_version", 1_u64)
        .unwrap();
    assert!(matches!(
        nb.import(foreign.save()),
        Err(ApiError::BadInput { .. })
    ));
    assert!(nb.list(ListFilter::default()).unwrap().is_empty());
}

#[test]
fn an_imported_record_breaking_a_rule_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC206");
    let id = nb.create_stop_search(stop_search()).unwrap().header.id;
    let mut doc = automerge::AutoCommit::load(&nb.export(id.clone()).unwrap()).unwrap();
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    let (_, body) = doc.get(automerge::ROOT, "body").unwrap().unwrap();
    let (_, variant) = doc.get(&body, "StopSearch").unwrap().unwrap();
    let (_, search) = doc.get(&variant, "search").unwrap().unwrap();
    doc.put(&search, "grounds", "").unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other = notebook(&other_dir, "PC207");
    let refused = other.import(doc.save());
    assert!(
        matches!(refused, Err(ref e @ ApiError::Invalid { .. }) if e.to_string().contains("grounds"))
    );
    assert!(other.list(ListFilter::default()).unwrap().is_empty());
    // Merging the same bad change into the original is refused too, and the original stays valid.
    assert!(nb.import(doc.save()).is_err());
    let RecordBody::StopSearch { search } = nb.get(id).unwrap().body else {
        panic!()
    };
    assert!(!search.grounds.is_empty());
}

#[test]
fn a_closed_notebook_answers_closed_and_opens_again() {
    let dir = tempfile::tempdir().unwrap();
    let nb = notebook(&dir, "PC210");
    let id = nb.create_stop_account(stop_account()).unwrap().header.id;
    nb.close();
    assert!(matches!(nb.get(id.clone()), Err(ApiError::Closed { .. })));
    assert!(matches!(nb.officer(), Err(ApiError::Closed { .. })));
    assert!(matches!(
        nb.create_stop_account(stop_account()),
        Err(ApiError::Closed { .. })
    ));
    // The store's file was released: the notebook opens again whole.
    let again = notebook(&dir, "PC210");
    assert_eq!(again.get(id).unwrap().header.author, officer("PC210"));
}
