//! Edits the rules allow, checked before they are stored: the device
//! refuses with `Forbidden` what the server would refuse (a record out of
//! the officer's scope, a supervisor's read-only view of the station, a
//! role that writes nothing), and stores nothing of it. Also: the store of
//! the previous version (2) opens, migrated, with its records and sync
//! state intact.

use pocketbook_core::ApiError;
use pocketbook_core::model::*;
use pocketbook_core::rules::Role;
use pocketbook_core::store::{ListFilter, Store};
use pocketbook_core::sync::wire::Access;

use crate::support::*;

/// A notebook whose server said this officer has this role (as enrolment
/// and sync answers do).
fn notebook_as(
    dir: &tempfile::TempDir,
    number: &str,
    role: Role,
) -> std::sync::Arc<pocketbook_core::Notebook> {
    Store::open(dir.path())
        .unwrap()
        .set_access(&Access {
            role,
            station: "Lewisham".into(),
        })
        .unwrap();
    notebook(dir, number)
}

fn forbidden<T: std::fmt::Debug>(result: Result<T, ApiError>) -> String {
    match result {
        Err(ApiError::Forbidden { detail }) => detail,
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

#[test]
fn a_supervisors_oversight_edit_is_refused_and_nothing_is_stored() {
    let (author_dir, supervisor_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let author = notebook(&author_dir, "PC1");
    let id = author
        .create_burglary(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    let supervisor = notebook_as(&supervisor_dir, "PS1", Role::Supervisor);
    assert_eq!(
        supervisor.access().unwrap().map(|a| a.role),
        Some(Role::Supervisor)
    );
    // The station's record reaches the supervisor (here by import).
    supervisor
        .import(author.export(id.clone()).unwrap())
        .unwrap();
    let before = supervisor.export(id.clone()).unwrap();
    let detail = forbidden(supervisor.add_note(id.clone(), "Oversight remark".into()));
    assert!(detail.contains("read-only"), "{detail}");
    assert!(
        !detail.contains("Oversight"),
        "no content in errors: {detail}"
    );
    forbidden(supervisor.tick(
        id.clone(),
        ChecklistItem::WitnessesSought,
        TickOutcome::Done,
        None,
    ));
    forbidden(supervisor.add_attending_officer(id.clone(), "PS1".into()));
    assert_eq!(
        supervisor.export(id.clone()).unwrap(),
        before,
        "nothing stored"
    );
    // Their own records they write as any officer does.
    let own = supervisor
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    supervisor.add_note(own, "Own note".into()).unwrap();
}

#[test]
fn a_colleague_changes_a_record_only_once_named_attending() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let author = notebook(&a, "PC1");
    let colleague = notebook(&b, "PC2");
    let id = author
        .create_scene(scene(ResponseGrade::Emergency))
        .unwrap()
        .header
        .id;
    colleague
        .import(author.export(id.clone()).unwrap())
        .unwrap();
    let detail = forbidden(colleague.add_scene_action(id.clone(), note("Arrived")));
    assert!(detail.contains("may not change"), "{detail}");
    author
        .add_attending_officer(id.clone(), "PC2".into())
        .unwrap();
    colleague
        .import(author.export(id.clone()).unwrap())
        .unwrap();
    colleague
        .add_scene_action(id.clone(), note("Arrived"))
        .unwrap();

    // An encounter is never shared: only its author changes it.
    let search = author.create_stop_search(stop_search()).unwrap().header.id;
    colleague
        .import(author.export(search.clone()).unwrap())
        .unwrap();
    forbidden(colleague.add_note(search.clone(), "Not mine".into()));
    forbidden(colleague.issue_receipt(search, ReceiptMedium::Printed));
}

#[test]
fn a_role_that_writes_nothing_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let staff = notebook_as(&dir, "ST1", Role::Staff);
    forbidden(staff.create_scene(scene(ResponseGrade::Emergency)));
    forbidden(staff.create_stop_search(stop_search()));
    assert!(staff.list(ListFilter::default()).unwrap().is_empty());
}

#[test]
fn a_store_of_the_previous_version_migrates_with_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let nb = notebook(&dir, "PC1");
        nb.create_scene(scene(ResponseGrade::Emergency))
            .unwrap()
            .header
            .id
    };
    // Take the store back to version 2, as the previous app left it: no
    // rollback columns, no set-aside table; one record acknowledged.
    {
        let conn = rusqlite::Connection::open(dir.path().join("pocketbook.db")).unwrap();
        conn.execute_batch(crate::edit_pages::TO_VERSION_4).unwrap();
        conn.execute_batch(
            "UPDATE records SET synced_heads = x'00', unsynced = 0, rejection = 'old refusal';
             DROP TABLE set_aside;
             DROP TABLE legal_holds;
             ALTER TABLE records DROP COLUMN acked_heads;
             ALTER TABLE records DROP COLUMN rollback_code;
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let nb = pocketbook_core::Notebook::open_existing(dir.path().display().to_string()).unwrap();
    let listed = nb.list(ListFilter::default()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert!(listed[0].refused, "an old refusal still shows");
    assert!(nb.set_aside().unwrap().is_empty());
    nb.add_note(id.clone(), "After the upgrade".into()).unwrap();
    drop(nb);
    let conn = rusqlite::Connection::open(dir.path().join("pocketbook.db")).unwrap();
    let (version, acked): (u32, Option<Vec<u8>>) = (
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap(),
        conn.query_row("SELECT acked_heads FROM records", [], |r| r.get(0))
            .unwrap(),
    );
    assert_eq!(version, pocketbook_core::store::CURRENT_VERSION);
    assert_eq!(acked, Some(vec![0]), "acknowledged heads carried over");
}
