//! Records from JSON, entries and corrections, and bad input: everything
//! the command line does without a server.

use std::process::{Command, Stdio};

use pocketbook_fixtures::at_text;
use serde_json::{Value, json};

use super::{failure, init, ok, stop_search_json, write};

#[test]
fn stop_search_from_json_to_receipt_export_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    init(&store, "PC500");
    let file = write(dir.path(), "search.json", &stop_search_json());
    let record = ok(&store, &["new", "stop-search", "--json", &file]);
    let id = record["header"]["id"].as_str().unwrap().to_string();
    let search = &record["body"]["search"];
    assert_eq!(record["body"]["kind"], "stop-search");
    assert_eq!(search["type"], "Person and Vehicle search");
    assert_eq!(search["vehicle_registration"], "AB12CDE");
    assert_eq!(record["header"]["author"]["shoulder_number"], "PC500");

    let receipt = ok(&store, &["receipt", &id, "--medium", "printed"]);
    assert_eq!(receipt["reference"], record["header"]["reference"]);
    let listed = ok(
        &store,
        &["list", "--kind", "stop-search", "--status", "complete"],
    );
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let typed = record["header"]["reference"]
        .as_str()
        .unwrap()
        .to_lowercase();
    let by_ref = ok(&store, &["list", "--reference", &typed]);
    assert_eq!(by_ref[0]["id"], id.as_str());

    let export = dir.path().join("record.automerge");
    ok(
        &store,
        &["export", &id, "--out", &export.display().to_string()],
    );
    let other = dir.path().join("other");
    init(&other, "PC501");
    let imported = ok(&other, &["import", &export.display().to_string()]);
    assert_eq!(imported["header"]["id"], id.as_str());
    let shown = ok(&other, &["show", &id]);
    assert_eq!(shown["body"]["search"]["receipt"]["status"], "given");
}

#[test]
fn scene_actions_ticks_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    init(&store, "PC502");
    let scene = json!({
        "reasons": ["crime in progress", "suspect at or near the scene"],
        "grade": "emergency",
        "call_received": at_text(10, 0),
        "location": {"street": "12 Acacia Avenue"}
    });
    let file = write(dir.path(), "scene.json", &scene);
    let record = ok(&store, &["new", "burglary", "--json", &file]);
    let id = record["header"]["id"].as_str().unwrap().to_string();
    let action = write(
        dir.path(),
        "action.json",
        &json!({"type": "evidence_collected", "what": "Crowbar", "where_found": "Garden", "exhibit_number": "JS/1"}),
    );
    ok(&store, &["action", &id, "--json", &action]);
    ok(
        &store,
        &["note", &id, "Neighbour heard glass break at 09:55"],
    );
    ok(&store, &["tick", &id, "witnesses sought", "done"]);
    ok(&store, &["arrive", &id, &at_text(10, 9)]);
    let left = ok(&store, &["leave", &id, &at_text(11, 0)]);
    assert_eq!(
        left["body"]["scene"]["actions"].as_array().unwrap().len(),
        2
    );
    assert_eq!(left["derived"]["target_status"], "met");
    assert_eq!(
        left["derived"]["open_on_leaving"].as_array().unwrap().len(),
        3
    );

    let err = failure(
        &store,
        &["tick", &id, "crime prevention advice given", "not done"],
        1,
    );
    assert_eq!(err["error"], "invalid");
    assert!(err["message"].as_str().unwrap().contains("reason"));
    let err = failure(&store, &["tick", &id, "made tea", "done"], 2);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("unknown checklist item")
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    let err = failure(&store, &["list"], 1);
    assert_eq!(err["error"], "not-enrolled");
    init(&store, "PC503");

    let malformed = dir.path().join("bad.json");
    std::fs::write(&malformed, "{\"type\": \"Person search\",").unwrap();
    let err = failure(
        &store,
        &[
            "new",
            "stop-search",
            "--json",
            &malformed.display().to_string(),
        ],
        2,
    );
    assert!(
        err["message"].as_str().unwrap().starts_with("invalid JSON"),
        "{err}"
    );

    let mut unknown = stop_search_json();
    unknown["legislation"] = json!("Section 1 PACE");
    let file = write(dir.path(), "unknown.json", &unknown);
    let err = failure(&store, &["new", "stop-search", "--json", &file], 2);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("unknown Legislation"),
        "{err}"
    );

    let mut invalid = stop_search_json();
    invalid["grounds"] = json!("");
    invalid["vehicle_registration"] = Value::Null;
    let file = write(dir.path(), "invalid.json", &invalid);
    let err = failure(&store, &["new", "stop-search", "--json", &file], 1);
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("grounds: required"), "{message}");
    assert!(
        message.contains("vehicle_registration: required"),
        "{message}"
    );
    // The violations as data too, as an app gets them.
    let fields: Vec<&str> = err["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"grounds") && fields.contains(&"vehicle_registration"),
        "{err}"
    );

    let junk = dir.path().join("junk.automerge");
    std::fs::write(&junk, b"junk").unwrap();
    let err = failure(&store, &["import", &junk.display().to_string()], 1);
    assert_eq!(err["error"], "bad-input");

    assert_eq!(ok(&store, &["list"]), json!([]));
}

#[test]
fn an_input_file_is_read_no_further_than_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    init(&store, "PC504");
    // A file one byte past the largest document an import takes (sparse:
    // it costs no disk): refused by the CLI before the core sees a byte,
    // as the command line's fault (exit 2), not read whole and refused by
    // the core (exit 1).
    let limit = pocketbook_core::chunks::DOCUMENT.bytes;
    let big = dir.path().join("big.automerge");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(limit as u64 + 1)
        .unwrap();
    let err = failure(&store, &["import", &big.display().to_string()], 2);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .ends_with(&format!("is larger than {limit} bytes")),
        "{err}"
    );
    // A key file named by mistake (here 64 KiB): refused for its size, not
    // read whole and then found not to be a key.
    let big_key = dir.path().join("big.key");
    std::fs::write(&big_key, "1".repeat(64 * 1024)).unwrap();
    let err = failure(
        &store,
        &["--key-file", &big_key.display().to_string(), "list"],
        2,
    );
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .ends_with("is larger than 4096 bytes"),
        "{err}"
    );
    assert_eq!(ok(&store, &["list"]), json!([]));
}

#[test]
fn attend_names_colleagues_on_scenes_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    init(&store, "PC504");
    let scene = json!({
        "reasons": ["someone in danger"],
        "grade": "emergency",
        "call_received": at_text(10, 0),
        "location": {"street": "12 Acacia Avenue"}
    });
    let file = write(dir.path(), "scene.json", &scene);
    let record = ok(&store, &["new", "scene", "--json", &file]);
    assert_eq!(record["body"]["scene"]["attending"], json!([]));
    let id = record["header"]["id"].as_str().unwrap().to_string();
    ok(&store, &["attend", &id, "--officer", "PC9012"]);
    let shown = ok(&store, &["attend", &id, "--officer", "PC5678"]);
    assert_eq!(
        shown["body"]["scene"]["attending"],
        json!(["PC5678", "PC9012"])
    );
    // The author, or someone already named: no change, no error.
    let same = ok(&store, &["attend", &id, "--officer", "PC504"]);
    assert_eq!(
        same["body"]["scene"]["attending"],
        json!(["PC5678", "PC9012"])
    );

    let err = failure(&store, &["attend", &id, "--officer", "  "], 1);
    assert_eq!(err["error"], "invalid");
    assert!(err["message"].as_str().unwrap().contains("attending"));
    let file = write(dir.path(), "search.json", &stop_search_json());
    let search = ok(&store, &["new", "stop-search", "--json", &file]);
    let search_id = search["header"]["id"].as_str().unwrap();
    let err = failure(&store, &["attend", search_id, "--officer", "PC5678"], 1);
    assert_eq!(err["error"], "conflict");
}

#[test]
fn an_answer_into_a_closed_pipe_is_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    init(&store, "PC510");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pocketbook-device"))
        .arg("--store")
        .arg(&store)
        .arg("list")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader leaves before the answer, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
