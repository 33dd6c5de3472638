//! The device command line, run as a newcomer would: JSON in, JSON out,
//! clear errors for bad input. The helpers here run the real binary;
//! each module drives one part of the command line.

use std::path::Path;
use std::process::{Command, Output};

use pocketbook_fixtures::at_text;
use serde_json::{Value, json};

mod enrol_owner;
mod files;
mod hostile_server;
mod keys;
mod promises;
mod records;
mod rekey_race;
mod server;
mod terminal;

fn device(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pocketbook-device"))
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("run pocketbook-device")
}

fn ok(store: &Path, args: &[&str]) -> Value {
    let out = device(store, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn failure(store: &Path, args: &[&str], exit: i32) -> Value {
    let out = device(store, args);
    assert_eq!(out.status.code(), Some(exit), "{args:?}: {out:?}");
    serde_json::from_slice(&out.stderr).expect("JSON error on stderr")
}

fn init(store: &Path, number: &str) {
    ok(
        store,
        &[
            "init",
            "--shoulder-number",
            number,
            "--name",
            "Jo Smith",
            "--station",
            "Lewisham",
        ],
    );
}

fn stop_search_json() -> Value {
    json!({
        "type": "Person and Vehicle search",
        "vehicle_registration": "ab12 cde",
        "datetime": at_text(14, 5),
        "location": {"latitude": 51.46, "longitude": -0.01, "street": "Lewisham High Street"},
        "gender": "Female",
        "age_range": "25-34",
        "self_defined_ethnicity": "White - Irish",
        "grounds": "Seen passing packages from the car window",
        "object_of_search": "Controlled drugs",
        "legislation": "Misuse of Drugs Act 1971 (section 23)",
        "outcome": "Arrest",
        "outcome_linked_to_object_of_search": true,
        "conduct": {"grounds_explained": true, "object_told": true, "treated_with_respect": true}
    })
}

fn write(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.display().to_string()
}

fn device_with_key(store: &Path, key: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pocketbook-device"));
    command.arg("--store").arg(store).args(args);
    command.env_remove("POCKETBOOK_KEY");
    if let Some(key) = key {
        command.env("POCKETBOOK_KEY", key);
    }
    command.output().expect("run pocketbook-device")
}
