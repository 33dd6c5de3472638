//! The device command line, run as a newcomer would: JSON in, JSON out,
//! clear errors for bad input.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use pocketbook_fixtures::at_text;
use serde_json::{Value, json};

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

/// A real sync server on a loopback port, with an officer PC505, and the
/// admin operations over its store.
struct Station {
    /// Serving until dropped (its shutdown handle lives here).
    _server: pocketbook_server::RunningServer,
    _runtime: tokio::runtime::Runtime,
    _data: tempfile::TempDir,
    url: String,
    admin: pocketbook_server::admin::Admin,
}

fn station() -> Station {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    // Serves on the runtime's worker threads while the CLI runs.
    let server = runtime
        .block_on(pocketbook_server::start(
            pocketbook_server::ServerConfig::for_tests(data.path()),
        ))
        .unwrap();
    let storage = pocketbook_server::storage::sqlite::SqliteStorage::open(data.path()).unwrap();
    let admin = pocketbook_server::admin::Admin::new(
        std::sync::Arc::new(storage),
        pocketbook_server::Clock::system(),
    );
    admin
        .add_officer(
            "PC505",
            "Jo Smith",
            "Lewisham",
            pocketbook_server::scope::Role::Officer,
        )
        .unwrap();
    Station {
        url: server.url(),
        _server: server,
        _runtime: runtime,
        _data: data,
        admin,
    }
}

#[test]
fn sync_on_a_revoked_device_erases_it_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    let station = station();
    let code = station
        .admin
        .issue_enrolment_code("PC505", 15)
        .unwrap()
        .code;
    ok(
        &store,
        &["enrol", "--server", &station.url, "--code", &code],
    );
    let file = write(dir.path(), "search.json", &stop_search_json());
    ok(&store, &["new", "stop-search", "--json", &file]);
    let synced = ok(&store, &["sync"]);
    assert_eq!(synced["acknowledged"], 1);

    // An edit made after the last sync is lost with the wipe, and counted.
    ok(&store, &["new", "stop-search", "--json", &file]);

    // Lost: the admin revokes it; its next sync erases it.
    let device_id = station.admin.storage().devices().unwrap()[0].id.clone();
    station.admin.revoke_device(&device_id).unwrap();

    let err = failure(&store, &["sync"], 1);
    assert_eq!(err["error"], "wiped");
    assert_eq!(err["reason"], "device-revoked");
    assert_eq!(err["lost_edits"], 1, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("revoked") && message.contains("erased"),
        "{message}"
    );
    // Nothing is left: the directory holds no notebook any more.
    let err = failure(&store, &["list"], 1);
    assert_eq!(err["error"], "not-enrolled");
}

#[test]
fn enrolling_with_nothing_listening_says_offline_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = failure(
        &dir.path().join("device"),
        &[
            "enrol",
            "--server",
            &format!("http://127.0.0.1:{port}"),
            "--code",
            "ABCDE-FGHJK",
        ],
        1,
    );
    assert_eq!(err["error"], "offline");
    assert_eq!(err["cause"], "refused", "{err}");
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

#[test]
fn enrol_takes_a_link_and_refuses_one_that_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    let err = failure(
        &store,
        &["enrol", "--link", "https://example.org/?code=X"],
        2,
    );
    assert!(
        err["message"].as_str().unwrap().contains("enrolment link"),
        "{err}"
    );
    // Plain http:// to anything but this machine is refused before a byte is sent.
    let link = "pocketbook://enrol?server=http%3A%2F%2F192.0.2.10%3A8650&code=7KD3Q-9QW2H";
    let err = failure(&store, &["enrol", "--link", link], 1);
    assert!(
        err["message"].as_str().unwrap().contains("loopback"),
        "{err}"
    );
}

#[test]
fn retention_shows_the_servers_terms_holds_and_what_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device");
    let station = station();
    let code = station
        .admin
        .issue_enrolment_code("PC505", 15)
        .unwrap()
        .code;
    ok(
        &store,
        &["enrol", "--server", &station.url, "--code", &code],
    );
    // Never synced: no terms yet, nothing to erase.
    let none = ok(&store, &["retention"]);
    assert_eq!(
        none,
        json!({"erased": 0, "overdue": [], "terms": null, "legal_holds": []})
    );

    let file = write(dir.path(), "search.json", &stop_search_json());
    let held = ok(&store, &["new", "stop-search", "--json", &file])["header"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&store, &["sync"]);
    station.admin.hold(&held, "complaint").unwrap();
    let synced = ok(&store, &["sync"]);
    assert_eq!(synced["expired"], 0);
    let heard = ok(&store, &["retention"]);
    assert_eq!(
        heard["terms"],
        json!({"encounter_months": 12, "attendance_days": null})
    );
    assert_eq!(heard["legal_holds"], json!([held]));
    assert_eq!(heard["erased"], 0);
    assert_eq!(heard["overdue"], json!([]));
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
