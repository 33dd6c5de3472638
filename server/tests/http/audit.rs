//! The audit trail from the admin command line: show, export as JSON lines,
//! and verify, which fails when a stored event is altered or removed.

use crate::admin::{add_officer, admin_json, run, server};

/// A store with a few events: officers added, a code issued, a device
/// revoked (through the admin CLI itself).
fn store_with_events(data: &std::path::Path) {
    for (number, role) in [("PC1", "officer"), ("PS1", "supervisor")] {
        add_officer(data, number, "Jo Bloggs", "Central", role);
    }
    run(data, &["admin", "device", "enrol", "--officer", "PC1"]);
    run(data, &["admin", "officer", "deactivate", "PS1"]);
}

fn sql(data: &std::path::Path, statements: &str) {
    let conn = rusqlite::Connection::open(data.join("server.db")).unwrap();
    conn.execute_batch(statements).unwrap();
}

#[test]
fn show_export_and_verify_an_intact_trail() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    store_with_events(&data);

    let events = admin_json(&data, &["audit", "show", "--action", "officer-added"]);
    assert_eq!(events.as_array().unwrap().len(), 2);
    assert_eq!(events[0]["actor"], "admin");
    // No names in the trail: shoulder numbers and ids only.
    assert!(!events.to_string().contains("Bloggs"));

    let out = dir.path().join("audit.jsonl");
    run(
        &data,
        &["admin", "audit", "export", "--out", out.to_str().unwrap()],
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3]["action"], "officer-deactivated");
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    // The trail is personal data, and so is the directory that holds it:
    // the export and the data directory the first officer created are
    // the server's account's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), 0o600, "the export");
    assert_eq!(mode(&data), 0o700, "the data directory");
    // Exported again over a file others may read (one an admin made
    // with `touch`, or an earlier export copied about): it becomes the
    // owner's alone before a line is written.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    run(
        &data,
        &["admin", "audit", "export", "--out", out.to_str().unwrap()],
    );
    assert_eq!(mode(&out), 0o600, "the export over a readable file");
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 4);

    let verified = run(&data, &["admin", "audit", "verify"]);
    assert!(String::from_utf8_lossy(&verified.stdout).contains("intact: 4 events"));

    // A limit outside 1 to 10,000 is the command line's mistake.
    let zero = server(&data, &["admin", "audit", "show", "--limit", "0"]);
    assert_eq!(zero.status.code(), Some(2), "{zero:?}");
    let unknown = server(&data, &["admin", "audit", "show", "--action", "lunch"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("record-read"));
}

#[test]
fn the_trail_refuses_edits_and_verify_catches_them_when_forced() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    store_with_events(&data);

    // The database itself refuses edits and deletions.
    let conn = rusqlite::Connection::open(data.join("server.db")).unwrap();
    assert!(
        conn.execute("UPDATE audit SET actor = 'x' WHERE seq = 2", [])
            .is_err()
    );
    assert!(conn.execute("DELETE FROM audit WHERE seq = 4", []).is_err());
    drop(conn);

    // Someone with the file drops the guard and rewrites an event.
    sql(
        &data,
        "DROP TRIGGER audit_no_update;
         UPDATE audit SET detail = '{\"officer\":\"PC9\"}' WHERE seq = 2;",
    );
    let tampered = server(&data, &["admin", "--json", "audit", "verify"]);
    assert!(!tampered.status.success());
    let report: serde_json::Value = serde_json::from_slice(&tampered.stdout).unwrap();
    assert_eq!(
        report["problem"],
        "event 2 was altered after it was written"
    );
}

#[test]
fn verify_catches_a_removed_event_and_a_cut_trail() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    store_with_events(&data);
    sql(
        &data,
        "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 4;",
    );
    let cut = server(&data, &["admin", "audit", "verify"]);
    assert!(!cut.status.success());
    assert!(String::from_utf8_lossy(&cut.stdout).contains("events were removed"));

    sql(&data, "DELETE FROM audit WHERE seq = 2;");
    let gap = server(&data, &["admin", "audit", "verify"]);
    assert!(!gap.status.success());
    assert!(String::from_utf8_lossy(&gap.stdout).contains("event 2 is missing"));
}
