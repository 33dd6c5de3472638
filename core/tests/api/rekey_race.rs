//! Two key changes of one encrypted notebook at once (two handles, as two
//! app processes or two CLI runs hold): one wins, the other is refused as
//! a key problem (its key is no longer the notebook's) and its handle is
//! closed, and the notebook opens with the winner's key, every record kept.

use std::path::Path;
use std::sync::{Arc, Barrier};

use pocketbook_core::store::{KeyProblem, ListFilter};
use pocketbook_core::{ApiError, Notebook};

use crate::support::*;

const KEY: [u8; 32] = [0x31; 32];
const FIRST: [u8; 32] = [0x32; 32];
const SECOND: [u8; 32] = [0x33; 32];

fn open(dir: &Path, key: &[u8]) -> Result<Arc<Notebook>, ApiError> {
    Notebook::open_encrypted(dir.display().to_string(), officer("PC701"), key.to_vec())
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

/// A notebook under `KEY` with three records; their references.
fn filled(dir: &Path) -> Vec<String> {
    let nb = open(dir, &KEY).unwrap();
    for _ in 0..3 {
        nb.create_stop_account(stop_account()).unwrap();
    }
    references(&nb)
}

fn refused_as_wrong_key(result: Result<(), ApiError>) {
    match result {
        Err(ApiError::Key {
            problem: KeyProblem::Wrong,
            ..
        }) => {}
        other => panic!("expected the key refused as no longer the notebook's, got {other:?}"),
    }
}

fn refused_on_open(dir: &Path, key: &[u8]) {
    match open(dir, key) {
        Err(ApiError::Key {
            problem: KeyProblem::Wrong,
            ..
        }) => {}
        Err(other) => panic!("expected a wrong key, got {other:?}"),
        Ok(_) => panic!("expected a wrong key, the notebook opened"),
    }
}

#[test]
fn a_key_change_by_a_handle_whose_key_was_changed_meanwhile_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let before = filled(dir.path());
    let a = open(dir.path(), &KEY).unwrap();
    let b = open(dir.path(), &KEY).unwrap();
    a.rekey(FIRST.to_vec()).unwrap();
    refused_as_wrong_key(b.rekey(SECOND.to_vec()));
    // The refused handle is closed rather than left on a replaced file.
    assert!(matches!(
        b.list(ListFilter::default()),
        Err(ApiError::Closed { .. })
    ));
    // The winner's handle goes on under its new key.
    a.create_stop_account(stop_account()).unwrap();
    let refs = references(&a);
    assert!(before.iter().all(|r| refs.contains(r)) && refs.len() == before.len() + 1);
    drop((a, b));
    refused_on_open(dir.path(), &KEY);
    refused_on_open(dir.path(), &SECOND);
    let nb = open(dir.path(), &FIRST).unwrap();
    assert_eq!(references(&nb), refs);
}

#[test]
fn of_two_key_changes_at_once_one_wins_and_the_other_is_refused_as_a_key_problem() {
    for _ in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let refs = filled(dir.path());
        let handles = [
            open(dir.path(), &KEY).unwrap(),
            open(dir.path(), &KEY).unwrap(),
        ];
        let start = Arc::new(Barrier::new(2));
        let results: Vec<Result<(), ApiError>> = std::thread::scope(|s| {
            let runs: Vec<_> = handles
                .iter()
                .zip([FIRST, SECOND])
                .map(|(nb, key)| {
                    let start = start.clone();
                    s.spawn(move || {
                        start.wait();
                        nb.rekey(key.to_vec())
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        for (nb, result) in handles.iter().zip(&results) {
            if result.is_err() {
                assert!(matches!(
                    nb.list(ListFilter::default()),
                    Err(ApiError::Closed { .. })
                ));
            }
        }
        drop(handles);
        let (winner, loser) = match (&results[0], &results[1]) {
            (Ok(()), Err(_)) => (FIRST, SECOND),
            (Err(_), Ok(())) => (SECOND, FIRST),
            other => panic!("expected exactly one key change to win, got {other:?}"),
        };
        for result in results.into_iter().filter(Result::is_err) {
            refused_as_wrong_key(result);
        }
        refused_on_open(dir.path(), &KEY);
        refused_on_open(dir.path(), &loser);
        let nb = open(dir.path(), &winner).unwrap();
        assert_eq!(references(&nb), refs);
    }
}
