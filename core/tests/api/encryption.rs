//! The encrypted notebook: a wrong key refused and nothing touched, a
//! damaged file still moved aside, a plaintext store encrypted without
//! losing a record (also when the process dies at each step of it), an
//! atomic key change, and raw files that hold none of a record's text.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use pocketbook_core::store::{KEY_CHECK_FILE, KeyProblem, ListFilter, STORE_FILE};
use pocketbook_core::{ApiError, Notebook};

use crate::support::*;

const KEY: [u8; 32] = [0x11; 32];
const OTHER: [u8; 32] = [0x22; 32];
/// Text stored literally in the store's files unless they are encrypted.
const NOTE: &str = "Zephyr-quartz-4471";

fn open(dir: &Path, key: &[u8]) -> Result<Arc<Notebook>, ApiError> {
    Notebook::open_encrypted(dir.display().to_string(), officer("PC700"), key.to_vec())
}

fn plain(dir: &Path) -> Arc<Notebook> {
    Notebook::open(dir.display().to_string(), officer("PC700")).unwrap()
}

/// Creates `n` records with a note each; returns their references.
fn fill(nb: &Notebook, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let record = nb.create_stop_account(stop_account()).unwrap();
            nb.add_note(record.header.id.clone(), NOTE.into()).unwrap();
            record.header.reference
        })
        .collect()
}

fn references(nb: &Notebook) -> Vec<String> {
    let mut refs: Vec<String> = nb
        .list(ListFilter::default())
        .unwrap()
        .into_iter()
        .map(|s| s.reference)
        .collect();
    refs.sort();
    refs
}

/// Every file of the directory with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn key_problem(result: Result<Arc<Notebook>, ApiError>) -> KeyProblem {
    match result {
        Err(ApiError::Key { problem, .. }) => problem,
        Err(other) => panic!("expected a key refusal, got {other:?}"),
        Ok(_) => panic!("expected a key refusal, the notebook opened"),
    }
}

#[test]
fn an_encrypted_notebook_keeps_its_records_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let refs = fill(&open(dir.path(), &KEY).unwrap(), 3);
    let nb = open(dir.path(), &KEY).unwrap();
    assert!(nb.is_encrypted().unwrap());
    assert_eq!(references(&nb), sorted(refs));
    let head = std::fs::read(dir.path().join(STORE_FILE)).unwrap();
    assert!(!head.starts_with(b"SQLite format 3"));
}

#[test]
fn a_wrong_key_is_refused_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let refs = fill(&open(dir.path(), &KEY).unwrap(), 2);
    let before = files(dir.path());
    assert_eq!(key_problem(open(dir.path(), &OTHER)), KeyProblem::Wrong);
    let err = open(dir.path(), &OTHER).err().unwrap();
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    assert_eq!(
        files(dir.path()),
        before,
        "no file changed, none moved aside"
    );
    // Opened without a key (the CLI's plain mode): refused the same way.
    let err = Notebook::open_existing(dir.path().display().to_string()).err();
    assert!(matches!(
        err,
        Some(ApiError::Key {
            problem: KeyProblem::Missing,
            ..
        })
    ));
    assert_eq!(files(dir.path()), before);
    // A key of the wrong size never reaches the store.
    assert_eq!(
        key_problem(open(dir.path(), &[1; 16])),
        KeyProblem::Malformed
    );
    let nb = open(dir.path(), &KEY).unwrap();
    assert!(nb.store_moved_aside().is_none());
    assert_eq!(references(&nb), sorted(refs));
}

#[test]
fn a_damaged_encrypted_store_is_moved_aside_with_the_right_key() {
    let dir = tempfile::tempdir().unwrap();
    fill(&open(dir.path(), &KEY).unwrap(), 1);
    let path = dir.path().join(STORE_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[..64] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    // The wrong key still cannot tell: refused, the damaged file left alone.
    assert_eq!(key_problem(open(dir.path(), &OTHER)), KeyProblem::Wrong);
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let nb = open(dir.path(), &KEY).unwrap();
    let aside = nb
        .store_moved_aside()
        .expect("the damaged file is reported");
    assert_eq!(std::fs::read(&aside).unwrap(), bytes, "kept as it was");
    assert!(references(&nb).is_empty());
    fill(&nb, 1);
}

#[test]
fn without_its_key_check_a_store_the_key_cannot_open_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let refs = fill(&open(dir.path(), &KEY).unwrap(), 1);
    std::fs::remove_file(dir.path().join(KEY_CHECK_FILE)).unwrap();
    let before = files(dir.path());
    assert_eq!(
        key_problem(open(dir.path(), &OTHER)),
        KeyProblem::Unverifiable
    );
    assert_eq!(files(dir.path()), before);
    // The right key opens it and writes the check again.
    assert_eq!(references(&open(dir.path(), &KEY).unwrap()), refs);
    assert_eq!(key_problem(open(dir.path(), &OTHER)), KeyProblem::Wrong);
}

#[test]
fn a_plaintext_store_is_encrypted_on_its_first_open_with_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let refs = fill(&plain(dir.path()), 40);
    let nb = open(dir.path(), &KEY).unwrap();
    assert!(nb.is_encrypted().unwrap());
    assert_eq!(references(&nb), sorted(refs.clone()));
    drop(nb);
    let names: Vec<String> = files(dir.path()).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [STORE_FILE, KEY_CHECK_FILE],
        "no plaintext copy left"
    );
    assert_eq!(key_problem(open(dir.path(), &OTHER)), KeyProblem::Wrong);
    assert_eq!(references(&open(dir.path(), &KEY).unwrap()), sorted(refs));
}

#[test]
fn a_key_change_is_complete_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let nb = open(dir.path(), &KEY).unwrap();
    let refs = fill(&nb, 5);
    nb.rekey(OTHER.to_vec()).unwrap();
    // The open notebook goes on under the new key.
    let more = fill(&nb, 1);
    drop(nb);
    assert_eq!(key_problem(open(dir.path(), &KEY)), KeyProblem::Wrong);
    let nb = open(dir.path(), &OTHER).unwrap();
    assert_eq!(references(&nb), sorted([refs, more].concat()));
    assert!(matches!(
        nb.rekey(vec![0; 8]),
        Err(ApiError::Key {
            problem: KeyProblem::Malformed,
            ..
        })
    ));
}

#[test]
fn the_raw_files_hold_no_record_text() {
    for encrypted in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let nb = if encrypted {
            open(dir.path(), &KEY).unwrap()
        } else {
            plain(dir.path())
        };
        let mut texts = fill(&nb, 3);
        texts.push(NOTE.to_string());
        // Open, the WAL holds the latest pages; closed, the database file
        // does. Every file of the directory is read both times (a rollback
        // journal, where one exists, included).
        let open_files = files(dir.path());
        assert!(open_files.iter().any(|(n, _)| n.ends_with("-wal")));
        drop(nb);
        let in_clear: Vec<String> = open_files
            .into_iter()
            .chain(files(dir.path()))
            .filter(|(_, bytes)| texts.iter().any(|t| contains(bytes, t)))
            .map(|(name, _)| name)
            .collect();
        if encrypted {
            assert!(in_clear.is_empty(), "record text in clear in {in_clear:?}");
        } else {
            // The positive control: the same search finds the text in a
            // plaintext store's WAL and database file.
            let wal = format!("{STORE_FILE}-wal");
            assert!(in_clear.contains(&wal), "{in_clear:?}");
            assert!(in_clear.contains(&STORE_FILE.to_string()), "{in_clear:?}");
        }
    }
}

// --- A process that dies at each step of a file swap ---------------------

const CHILD_DIR: &str = "POCKETBOOK_ENCRYPTION_CHILD_DIR";
const CHILD_STEP: &str = "POCKETBOOK_ENCRYPTION_CHILD_STEP";

/// The child side: runs only when the parent test re-executes this binary,
/// and is aborted inside the step by `POCKETBOOK_CRASH_AT`.
#[test]
fn crash_child() {
    let (Ok(dir), Ok(step)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_STEP)) else {
        return;
    };
    let dir = Path::new(&dir);
    match step.as_str() {
        "encrypt" => drop(open(dir, &KEY).unwrap()),
        "rekey" => open(dir, &KEY).unwrap().rekey(OTHER.to_vec()).unwrap(),
        _ => unreachable!(),
    }
}

fn die_at(dir: &Path, step: &str, seam: &str) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "encryption::crash_child", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_STEP, step)
        .env("POCKETBOOK_CRASH_AT", seam)
        .output()
        .unwrap();
    assert_aborted(&output, seam);
}

#[test]
fn a_crash_while_encrypting_loses_no_record() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    for seam in ["encrypt-exported", "encrypt-moved-aside", "encrypt-renamed"] {
        let dir = tempfile::tempdir().unwrap();
        let refs = fill(&plain(dir.path()), 20);
        die_at(dir.path(), "encrypt", seam);
        let nb = open(dir.path(), &KEY).unwrap();
        assert_eq!(references(&nb), sorted(refs), "after a crash at {seam}");
        assert!(nb.store_moved_aside().is_none());
        drop(nb);
        let names: Vec<String> = files(dir.path()).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, [STORE_FILE, KEY_CHECK_FILE], "after {seam}");
    }
}

#[test]
fn a_crash_while_changing_the_key_leaves_exactly_one_key() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    for (seam, now) in [
        ("rekey-exported", KEY),
        ("rekey-both-keys", KEY),
        ("rekey-renamed", OTHER),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let refs = fill(&open(dir.path(), &KEY).unwrap(), 10);
        die_at(dir.path(), "rekey", seam);
        let then = if now == KEY { OTHER } else { KEY };
        let refused = key_problem(open(dir.path(), &then));
        assert!(
            matches!(refused, KeyProblem::Wrong | KeyProblem::RekeyInterrupted),
            "{seam}: {refused:?}"
        );
        let nb = open(dir.path(), &now).unwrap();
        assert_eq!(references(&nb), sorted(refs), "after a crash at {seam}");
        assert!(nb.store_moved_aside().is_none());
        drop(nb);
        // The open finished the change: the other key is now plainly wrong.
        assert_eq!(key_problem(open(dir.path(), &then)), KeyProblem::Wrong);
    }
}

// --- Stores this app must not take for its own ---------------------------

#[test]
fn a_store_a_newer_app_encrypted_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let refs = fill(&open(dir.path(), &KEY).unwrap(), 1);
    {
        // As a newer app leaves it: the same key, a later schema.
        let conn = rusqlite::Connection::open(dir.path().join(STORE_FILE)).unwrap();
        let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
        conn.execute_batch(&format!(
            "PRAGMA key = \"x'{hex}'\"; PRAGMA user_version = 99;"
        ))
        .unwrap();
    }
    let before = files(dir.path());
    let err = open(dir.path(), &KEY).expect_err("refused");
    assert!(matches!(err, ApiError::UpdateRequired { .. }), "{err:?}");
    assert!(err.to_string().contains("newer app"), "{err}");
    assert_eq!(files(dir.path()), before, "nothing changed or moved aside");
    drop(refs);
}

#[test]
fn a_truncated_store_is_moved_aside_whole_and_a_fresh_one_opens() {
    for encrypted in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let nb = if encrypted {
            open(dir.path(), &KEY).unwrap()
        } else {
            plain(dir.path())
        };
        fill(&nb, 30);
        drop(nb);
        let path = dir.path().join(STORE_FILE);
        let whole = std::fs::read(&path).unwrap();
        let cut = &whole[..whole.len() / 2];
        std::fs::write(&path, cut).unwrap();

        let nb = if encrypted {
            open(dir.path(), &KEY).unwrap()
        } else {
            plain(dir.path())
        };
        let aside = nb
            .store_moved_aside()
            .unwrap_or_else(|| panic!("moved aside (encrypted: {encrypted})"));
        assert_eq!(std::fs::read(&aside).unwrap(), cut, "kept as it was");
        assert!(nb.list(ListFilter::default()).unwrap().is_empty());
        nb.create_stop_account(stop_account()).unwrap();
    }
}
