//! Two `rekey` runs on one encrypted notebook at once: one wins, the other
//! is refused as `"error": "key"`, `"problem": "wrong"` (its key is no
//! longer the notebook's), never as a storage failure, and the notebook
//! lists its records under the winner's key.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::{device_with_key, stop_search_json, write};

#[test]
fn of_two_rekey_runs_at_once_one_wins_and_the_other_is_told_its_key_is_wrong() {
    let key = "31".repeat(32);
    for round in 0..6 {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("device");
        let init = [
            "init",
            "--shoulder-number",
            "PC511",
            "--name",
            "Jo Smith",
            "--station",
            "Lewisham",
        ];
        assert!(device_with_key(&store, Some(&key), &init).status.success());
        let file = write(dir.path(), "search.json", &stop_search_json());
        let out = device_with_key(&store, Some(&key), &["new", "stop-search", "--json", &file]);
        assert!(out.status.success(), "{out:?}");
        let new_keys: Vec<String> = ["32", "33"]
            .iter()
            .map(|byte| {
                let path = dir.path().join(format!("{byte}.key"));
                std::fs::write(&path, byte.repeat(32)).unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
                path.display().to_string()
            })
            .collect();
        let runs: Vec<_> = new_keys
            .iter()
            .map(|new_key| {
                Command::new(env!("CARGO_BIN_EXE_pocketbook-device"))
                    .arg("--store")
                    .arg(&store)
                    .args(["rekey", "--new-key-file", new_key])
                    .env("POCKETBOOK_KEY", &key)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs: Vec<_> = runs
            .into_iter()
            .map(|run| run.wait_with_output().unwrap())
            .collect();
        let winners: Vec<usize> = (0..2).filter(|&i| outs[i].status.success()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outs:?}");
        let loser = &outs[1 - winners[0]];
        assert_eq!(loser.status.code(), Some(1), "round {round}: {loser:?}");
        let err: Value = serde_json::from_slice(&loser.stderr).unwrap();
        assert_eq!(
            (err["error"].as_str(), err["problem"].as_str()),
            (Some("key"), Some("wrong")),
            "round {round}: {err}"
        );
        let listed = Command::new(env!("CARGO_BIN_EXE_pocketbook-device"))
            .arg("--store")
            .arg(&store)
            .args(["--key-file", &new_keys[winners[0]], "list"])
            .output()
            .unwrap();
        assert!(listed.status.success(), "round {round}: {listed:?}");
        let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 1, "round {round}");
    }
}
