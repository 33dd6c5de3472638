//! A process that dies inside the erasure leaves every record whole.

use super::*;

const CHILD_DIR: &str = "POCKETBOOK_RETENTION_CHILD_DIR";

/// The child side: runs only when the parent test re-executes this binary,
/// and is aborted before the erasure commits by `POCKETBOOK_CRASH_AT`.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let clock = DeviceClock::system();
    clock.advance(A_YEAR_AND_A_WEEK);
    drop(open(Path::new(&dir), &clock));
}

#[test]
fn a_crash_in_the_middle_of_an_erasure_leaves_every_record_whole() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (search, account, scene, _) = three_synced_records(dir.path());
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "retention::crash::crash_child",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .env("POCKETBOOK_CRASH_AT", "expire-before-commit")
        .output()
        .unwrap();
    assert_aborted(&output, "expire-before-commit, inside the erasure");
    let nb = open(dir.path(), &DeviceClock::system());
    assert_eq!(
        record_ids(&nb),
        sorted(vec![search.clone(), account.clone(), scene])
    );
    for id in [search, account] {
        nb.get(id).expect("whole after the crash");
    }
}
