//! Enrolling a notebook that already belongs to an officer with a code
//! issued for another: refused before the server spends the code, so no
//! device is registered that nobody holds the token of, and the code still
//! enrols the right officer's notebook.

use super::server::station;
use super::{failure, init, ok};

#[test]
fn a_code_for_another_officer_is_refused_unspent_and_still_works_for_theirs() {
    let station = station();
    let code = station
        .admin
        .issue_enrolment_code("PC505", 15)
        .unwrap()
        .code;
    let theirs = tempfile::tempdir().unwrap();
    init(theirs.path(), "PC506");

    let err = failure(
        theirs.path(),
        &["enrol", "--server", &station.url, "--code", &code],
        1,
    );
    assert_eq!(err["error"], "conflict", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("belongs to another officer"),
        "{err}"
    );
    assert!(
        station.admin.devices().unwrap().is_empty(),
        "no device was registered"
    );
    // The refused notebook is still PC506's, and not enrolled.
    let status = failure(theirs.path(), &["sync"], 1);
    assert_eq!(status["error"], "not-enrolled", "{status}");

    // The code was not spent: PC505's own notebook enrols with it.
    let right = tempfile::tempdir().unwrap();
    init(right.path(), "PC505");
    ok(
        right.path(),
        &["enrol", "--server", &station.url, "--code", &code],
    );
    let devices = station.admin.devices().unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].officer, "PC505");
}
