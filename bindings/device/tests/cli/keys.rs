//! The notebook's key: from a file or the environment, never a flag; a
//! wrong one touches nothing; without one the store is plain and says so.

use serde_json::Value;

use super::{device_with_key, failure, init, ok, stop_search_json, write};

#[test]
fn the_key_comes_from_a_file_or_the_environment_and_a_wrong_one_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    let key = "11".repeat(32);
    let init = [
        "init",
        "--shoulder-number",
        "PC510",
        "--name",
        "Jo Smith",
        "--station",
        "Lewisham",
    ];
    let out = device_with_key(&store, Some(&key), &init);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "no warning with a key: {out:?}");
    let file = write(dir.path(), "search.json", &stop_search_json());
    let out = device_with_key(&store, Some(&key), &["new", "stop-search", "--json", &file]);
    assert!(out.status.success(), "{out:?}");
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reference = record["header"]["reference"].as_str().unwrap().to_string();
    let raw = std::fs::read(store.join("pocketbook.db")).unwrap();
    assert!(
        !raw.windows(reference.len())
            .any(|w| w == reference.as_bytes())
    );

    // Without a key: refused as "key"/"missing", and without the plain-mode
    // warning, which would contradict it (nothing was stored unencrypted).
    let err = failure(&store, &["list"], 1);
    assert_eq!(
        (err["error"].as_str(), err["problem"].as_str()),
        (Some("key"), Some("missing"))
    );
    assert!(err.get("warning").is_none(), "{err}");
    // A wrong key, from a file this time.
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, "22".repeat(32)).unwrap();
    let wrong = wrong.display().to_string();
    let err = failure(&store, &["--key-file", &wrong, "list"], 1);
    assert_eq!(err["problem"], "wrong");
    // Rekey to the file's key; the old key is then the wrong one.
    let out = device_with_key(&store, Some(&key), &["rekey", "--new-key-file", &wrong]);
    assert!(out.status.success(), "{out:?}");
    let listed = ok(&store, &["--key-file", &wrong, "list"]);
    assert_eq!(listed[0]["reference"].as_str(), Some(reference.as_str()));
    let out = device_with_key(&store, Some(&key), &["list"]);
    assert_eq!(out.status.code(), Some(1));
    // A malformed key is the command line's fault.
    let out = device_with_key(&store, Some("abc"), &["list"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn without_a_key_the_notebook_is_plain_and_stderr_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    init(&store, "PC511");
    let out = device_with_key(&store, None, &["list"]);
    assert!(out.status.success());
    let warning: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(warning["warning"].as_str().unwrap().contains("unencrypted"));
    let raw = std::fs::read(store.join("pocketbook.db")).unwrap();
    assert!(raw.starts_with(b"SQLite format 3"));
}

/// A key file other accounts can read is used (refusing would lock an
/// officer out of the notebook over a file's mode) but never in silence:
/// stderr says so, a line of its own after a success and a field of the
/// error object after a failure, until the file is the owner's only.
#[cfg(unix)]
#[test]
fn a_key_file_other_accounts_can_read_is_named_on_stderr() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    let file = dir.path().join("notebook.key");
    std::fs::write(&file, "33".repeat(32)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let file = file.display().to_string();
    let init = [
        "--key-file",
        &file,
        "init",
        "--shoulder-number",
        "PC512",
        "--name",
        "Jo Smith",
        "--station",
        "Lewisham",
    ];
    let out = device_with_key(&store, None, &init);
    assert!(out.status.success(), "{out:?}");
    let warning: Value = serde_json::from_slice(&out.stderr).expect("one JSON warning");
    let text = warning["warning"].as_str().unwrap();
    assert!(
        text.contains("other accounts") && text.contains("0644"),
        "{text}"
    );

    // A failure (an unknown record) carries it as a field of its one object.
    let err = failure(&store, &["--key-file", &file, "show", "no-such-record"], 1);
    assert_eq!(err["error"], "not-found", "{err}");
    assert!(
        err["warning"].as_str().unwrap().contains("other accounts"),
        "{err}"
    );

    // The new key of a rekey is a key file too.
    let new = dir.path().join("new.key");
    std::fs::write(&new, "44".repeat(32)).unwrap();
    std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o640)).unwrap();
    let new_key = new.display().to_string();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = device_with_key(
        &store,
        None,
        &["--key-file", &file, "rekey", "--new-key-file", &new_key],
    );
    assert!(out.status.success(), "{out:?}");
    let warning: Value = serde_json::from_slice(&out.stderr).expect("one JSON warning");
    assert!(
        warning["warning"].as_str().unwrap().contains("0640"),
        "{warning}"
    );

    // The owner's only: nothing said.
    std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = device_with_key(&store, None, &["--key-file", &new_key, "list"]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
}
