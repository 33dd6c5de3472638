//! Files the command line writes hold a record as it is (`export`,
//! `set-aside --out`): unencrypted Automerge bytes with a person's details.
//! They are the owner's only (0600), whatever the umask, also when the file
//! was there before.

use std::os::unix::fs::PermissionsExt;

use super::{init, ok, stop_search_json, write};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_exported_record_is_the_owners_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    init(&store, "PC520");
    let file = write(dir.path(), "search.json", &stop_search_json());
    let record = ok(&store, &["new", "stop-search", "--json", &file]);
    let id = record["header"]["id"].as_str().unwrap().to_string();

    let fresh = dir.path().join("fresh.automerge");
    ok(&store, &["export", &id, "--out", fresh.to_str().unwrap()]);
    assert_eq!(mode(&fresh), 0o600, "a new export file");

    // A file made beforehand (`touch`, an earlier copy) is narrowed too,
    // before the record is written into it.
    let existing = dir.path().join("existing.automerge");
    std::fs::write(&existing, b"old").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
    ok(
        &store,
        &["export", &id, "--out", existing.to_str().unwrap()],
    );
    assert_eq!(mode(&existing), 0o600, "an export over an existing file");
    assert_eq!(
        std::fs::read(&existing).unwrap(),
        std::fs::read(&fresh).unwrap()
    );
}
