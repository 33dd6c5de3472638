//! What a device or a server wrote, shown on a terminal. A record's place
//! is free text an officer typed (or a hostile device or server sent):
//! `show` and `list` print it as JSON, which escapes C0 controls but not
//! DEL, the C1 controls (U+009B is a terminal's CSI) or the bidi and
//! zero-width format characters. Every one must reach the terminal
//! escaped, as the admin's terminal gets it (the server's
//! `tests/http/terminal.rs`), and the JSON must still read as the same
//! value.

use std::process::Output;

use serde_json::Value;

use super::{device, init, ok, stop_search_json, write};

/// No byte a terminal acts on, and no character that reorders a line.
fn assert_inert(shown: &[u8]) {
    let shown = std::str::from_utf8(shown).unwrap();
    for c in shown.chars() {
        assert!(
            c == '\n' || !c.is_control(),
            "control character {c:?} reaches the terminal: {shown:?}"
        );
        assert!(
            !matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}' | '\u{FEFF}'),
            "format character {c:?} reaches the terminal: {shown:?}"
        );
    }
}

/// What free text may still hold: control characters (DEL and the C1
/// controls among them) are refused in it on both ends; the bidi and
/// zero-width format characters are text in some languages. C1 controls
/// on the terminal are tried in the error test below.
const HOSTILE_PLACE: &str = "High St\u{202E}txt.exe\u{2066}\u{200B}\u{61C}end";

#[test]
fn a_place_with_terminal_controls_is_printed_inert_and_still_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    init(&store, "PC520");
    let mut search = stop_search_json();
    search["location"]["street"] = HOSTILE_PLACE.into();
    let file = write(dir.path(), "search.json", &search);

    let out = device(&store, &["new", "stop-search", "--json", &file]);
    assert!(out.status.success(), "{out:?}");
    let created = printed(&out);
    assert_eq!(
        created["body"]["search"]["location"]["street"],
        HOSTILE_PLACE
    );
    let id = created["header"]["id"].as_str().unwrap().to_string();

    let shown = printed(&device(&store, &["show", &id]));
    assert_eq!(shown["body"]["search"]["location"]["street"], HOSTILE_PLACE);
    let listed = printed(&device(&store, &["list"]));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // Access and the other answers go the same way; `ok` is the plain path.
    ok(&store, &["access"]);
}

/// Text named in an error (here a file the CLI cannot read, its path
/// shown as it is) reaches the error object on stderr, which is inert the
/// same way and still the same JSON.
#[test]
fn an_error_naming_hostile_text_is_inert_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    init(&store, "PC521");
    let missing = dir.path().join("x\u{9b}2J\u{202E}.bin");
    let out = device(&store, &["import", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_inert(&out.stderr);
    let error: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"], "bad-input", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("x\u{9b}2J\u{202E}.bin"),
        "{error}"
    );
}

/// Stdout of a success: inert, and JSON.
fn printed(out: &Output) -> Value {
    assert!(out.status.success(), "{out:?}");
    assert_inert(&out.stdout);
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}
