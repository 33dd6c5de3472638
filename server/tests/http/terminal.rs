//! What a device typed, shown on the admin's terminal. A record's place
//! is free text an officer typed on a handset (or a hostile device sent):
//! it reaches `admin copy find`'s table, and an audit event's detail
//! reaches `admin audit show`. Line breaks, tabs and bidi controls in it
//! (and escape sequences in a record stored before free text refused
//! them) must arrive as visible text, never as the bytes a
//! terminal acts on: no screen cleared, no title set, no forged row, no
//! line read backwards.

use std::process::Command;

use pocketbook_server::scope::Role;

use crate::support::*;

/// Runs the server binary's `admin ARGS...` on the test server's store.
fn admin(server: &TestServer, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pocketbook-server"))
        .arg("admin")
        .args(args)
        .env("POCKETBOOK_DATA_DIR", server.dir.path())
        .env_remove("POCKETBOOK_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// No byte a terminal acts on, and no character that reorders a line.
fn assert_inert(shown: &str) {
    for c in shown.chars() {
        assert!(
            c == '\n' || c == '\t' || !c.is_control(),
            "control character {c:?} reaches the terminal: {shown:?}"
        );
        assert!(
            !matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2066}'..='\u{2069}'),
            "format character {c:?} reaches the terminal: {shown:?}"
        );
    }
}

/// What free text may still hold (control characters other than line
/// breaks and tabs are refused on both ends,
/// `hostile::a_control_character_in_free_text_is_refused`): a tab and a
/// line break that would forge a row, a bidi override that reads a line
/// backwards.
const HOSTILE_PLACE: &str = "High St\tX\nfake-row\tA\u{202E}txt.exe\u{2066}";

#[tokio::test(flavor = "multi_thread")]
async fn a_place_a_device_typed_reaches_admin_tables_as_visible_text() {
    let server = TestServer::start().await;
    server.add_officer_as("ST1", "Lewisham", Role::Staff);
    let token = server.device("PC1", "Lewisham").await;
    let (_dir, nb) = notebook("PC1");
    let record = nb
        .create_stop_search(pocketbook_core::model::StopSearch {
            location: pocketbook_fixtures::street(HOSTILE_PLACE),
            ..stop_search()
        })
        .unwrap();
    let id = record.header.id.clone();
    let push = pocketbook_core::sync::wire::PushedRecord {
        record_id: id.clone(),
        kind: pocketbook_core::model::RecordKind::StopSearch,
        changes: changes_of(&nb, &id),
    };
    let answer = server.sync(&token, &request(None, vec![push])).await;
    assert_eq!(answer.acknowledged.len(), 1, "{answer:?}");

    let date = pocketbook_fixtures::instant(14, 5)
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let found = off_runtime(|| {
        admin(
            &server,
            &["copy", "find", "--staff", "ST1", "--date", &date],
        )
    });
    assert_inert(&found);
    // One header and one row: the line break did not forge a second row,
    // and the place is still there to read, its controls spelt out.
    assert_eq!(found.lines().count(), 2, "{found}");
    assert!(found.contains(r"High St\u{9}X\u{a}fake-row"), "{found}");
    assert!(found.contains(r"A\u{202e}txt.exe"), "{found}");
    assert_eq!(
        found.lines().nth(1).unwrap().split('\t').count(),
        6,
        "{found}"
    );

    // The same in JSON (serde_json escapes the controls; the bidi
    // override is escaped too), still the same value for a script.
    let json = off_runtime(|| {
        admin(
            &server,
            &["--json", "copy", "find", "--staff", "ST1", "--date", &date],
        )
    });
    assert_inert(&json);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value[0]["place"], HOSTILE_PLACE);

    // The lookup's audit event, with its detail, shown as a table.
    let events = off_runtime(|| admin(&server, &["audit", "show"]));
    assert_inert(&events);
    let records = off_runtime(|| admin(&server, &["records", "list"]));
    assert_inert(&records);
    assert_eq!(records.lines().count(), 2, "{records}");

    // An admin's own text (a hold's reason pasted from elsewhere, with a
    // bidi override in it) in the hold list and the audit export on
    // stdout: still the same JSON lines, nothing reordered.
    let reason = "complaint \u{202E}21 ref";
    off_runtime(|| admin(&server, &["hold", "set", &id, "--reason", reason]));
    assert_inert(&off_runtime(|| admin(&server, &["hold", "list"])));
    let export = off_runtime(|| admin(&server, &["audit", "export"]));
    assert_inert(&export);
    let held = export
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["action"] == "legal-hold-set")
        .expect("the hold's event");
    assert_eq!(held["detail"]["reason"], reason);

    // The person's copy, written over a file others may read: it is
    // made the owner's alone (0600) before the copy is written into it,
    // and the place is in it escaped as HTML text.
    use std::os::unix::fs::PermissionsExt;
    let out = server.dir.path().join("copy.html");
    std::fs::write(&out, "").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = out.to_str().unwrap().to_string();
    off_runtime(|| {
        admin(
            &server,
            &["copy", "issue", &id, "--staff", "ST1", "--out", &path],
        )
    });
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the copy over a readable file");
    assert!(std::fs::read_to_string(&out).unwrap().contains("High St"));
}
