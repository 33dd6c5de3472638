//! The admin command line, run as an admin would, on a data directory.

use std::process::{Command, Output, Stdio};

pub fn server(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
        .args(args)
        .env("POCKETBOOK_DATA_DIR", dir)
        .env_remove("POCKETBOOK_CONFIG")
        .output()
        .unwrap()
}

/// Runs an admin command that must work; its output.
pub fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    let out = server(dir, args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    out
}

/// Runs `admin --json ARGS...`, which must work; its JSON answer.
pub fn admin_json(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let full: Vec<&str> = ["admin", "--json"].iter().chain(args).copied().collect();
    serde_json::from_slice(&run(dir, &full).stdout).unwrap()
}

/// Adds an officer of `station` from the command line.
pub fn add_officer(dir: &std::path::Path, number: &str, name: &str, station: &str, role: &str) {
    run(
        dir,
        &[
            "admin",
            "officer",
            "add",
            "--shoulder-number",
            number,
            "--name",
            name,
            "--station",
            station,
            "--role",
            role,
        ],
    );
}

#[test]
fn officers_devices_and_records_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let add = server(
        &data,
        &[
            "admin",
            "officer",
            "add",
            "--shoulder-number",
            "PC7",
            "--name",
            "Sam Lee",
            "--station",
            "Lewisham",
        ],
    );
    assert!(add.status.success(), "{add:?}");
    let again = server(
        &data,
        &[
            "admin",
            "officer",
            "add",
            "--shoulder-number",
            "PC7",
            "--name",
            "Sam Lee",
            "--station",
            "Lewisham",
        ],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let list = server(&data, &["admin", "--json", "officer", "list"]);
    let officers: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(officers[0]["shoulder_number"], "PC7");
    assert_eq!(officers[0]["role"], "officer");

    let code = server(&data, &["admin", "device", "enrol", "--officer", "PC7"]);
    assert!(code.status.success());
    let code = String::from_utf8(code.stdout).unwrap();
    assert!(
        pocketbook_server::auth::normalise_code(code.trim()).is_some(),
        "{code}"
    );

    let unknown = server(&data, &["admin", "device", "enrol", "--officer", "PC404"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("admin officer add"));

    let records = server(&data, &["admin", "--json", "records", "list"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&records.stdout).unwrap(),
        serde_json::json!([])
    );
    // A record's history with the server's receive times (e2e clocks.rs
    // reads one); an unknown id says where ids come from.
    let history = server(&data, &["admin", "records", "history", "no-such-record"]);
    assert!(!history.status.success());
    assert!(String::from_utf8_lossy(&history.stderr).contains("admin records list"));
}

/// Runs an admin command whose reader leaves before the answer, as
/// `| head -0` would.
fn into_a_closed_pipe(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
        .args(args)
        .env("POCKETBOOK_DATA_DIR", dir)
        .env_remove("POCKETBOOK_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn an_answer_into_a_closed_pipe_is_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_officer(&data, "PC1", "Jo Smith", "Lewisham", "officer");
    for args in [
        &["admin", "officer", "list"][..],
        &["admin", "--json", "officer", "list"],
        &["admin", "audit", "export"],
        &["admin", "figures", "--month", "2025-01"],
    ] {
        let out = into_a_closed_pipe(&data, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A failure to write that is not a reader leaving still fails.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    if let Ok(full) = full {
        let out = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
            .args(["admin", "officer", "list"])
            .env("POCKETBOOK_DATA_DIR", &data)
            .env_remove("POCKETBOOK_CONFIG")
            .stdout(full)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("writing the answer"));
    }
}

#[test]
fn admin_commands_say_what_to_do_without_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = server(&dir.path().join("missing"), &["admin", "device", "list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no data directory"));
}

#[test]
fn config_file_environment_and_flags_resolve_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(
        &file,
        "data_dir = \"/from/file\"\nlisten = \"127.0.0.1:9001\"\n",
    )
    .unwrap();
    let from_file = pocketbook_server::config::resolve(None, None, Some(&file)).unwrap();
    assert_eq!(from_file.data_dir, std::path::PathBuf::from("/from/file"));
    assert_eq!(from_file.listen.port(), 9001);
    let flags = pocketbook_server::config::resolve(
        Some("/from/flag".into()),
        Some("127.0.0.1:9002".into()),
        Some(&file),
    )
    .unwrap();
    assert_eq!(flags.data_dir, std::path::PathBuf::from("/from/flag"));
    assert_eq!(flags.listen.port(), 9002);
    use pocketbook_server::config::{LogFormat, resolve_log_format};
    std::fs::write(&file, "log_format = \"json\"\n").unwrap();
    assert_eq!(
        resolve_log_format(None, Some(&file)).unwrap(),
        LogFormat::Json
    );
    assert_eq!(
        resolve_log_format(Some(LogFormat::Text), Some(&file)).unwrap(),
        LogFormat::Text
    );
    assert_eq!(resolve_log_format(None, None).unwrap(), LogFormat::Text);
    let defaults = pocketbook_server::config::resolve(None, None, None).unwrap();
    assert_eq!(defaults.listen.to_string(), "127.0.0.1:8650");
    std::fs::write(&file, "colour = \"blue\"\n").unwrap();
    assert!(pocketbook_server::config::resolve(None, None, Some(&file)).is_err());
    assert!(pocketbook_server::config::resolve(None, Some("nowhere".into()), None).is_err());
}

#[test]
fn retention_holds_and_staff_copies_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (number, role) in [("PC1", "officer"), ("ST1", "staff")] {
        add_officer(&data, number, "Sam Lee", "Lewisham", role);
    }

    let report = admin_json(&data, &["retention", "run", "--dry-run"]);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["records"], serde_json::json!([]));

    let hold = server(
        &data,
        &[
            "admin",
            "hold",
            "set",
            "no-such-record",
            "--reason",
            "complaint 12",
        ],
    );
    assert!(!hold.status.success());
    assert!(String::from_utf8_lossy(&hold.stderr).contains("admin records list"));
    assert_eq!(admin_json(&data, &["hold", "list"]), serde_json::json!([]));

    // Staff may look up; an officer may not, and is told why.
    let found = admin_json(
        &data,
        &["copy", "find", "--staff", "ST1", "--date", "2026-11-28"],
    );
    assert_eq!(found, serde_json::json!([]));
    let refused = server(
        &data,
        &[
            "admin",
            "copy",
            "find",
            "--staff",
            "PC1",
            "--date",
            "2026-11-28",
        ],
    );
    assert!(!refused.status.success());
    assert!(!String::from_utf8_lossy(&refused.stderr).is_empty());

    // Each lookup is in the audit trail.
    let events = admin_json(&data, &["audit", "show", "--action", "staff-lookup"]);
    assert_eq!(events.as_array().unwrap().len(), 1);
    assert_eq!(events[0]["actor"], "officer:ST1");
}
