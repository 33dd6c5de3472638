//! The command line against a real sync server on a loopback port:
//! enrolment, sync, revocation, retention.

use serde_json::json;

use super::{failure, ok, stop_search_json, write};

/// A real sync server on a loopback port, with an officer PC505, and the
/// admin operations over its store.
pub(super) struct Station {
    /// Serving until dropped (its shutdown handle lives here).
    _server: pocketbook_server::RunningServer,
    _runtime: tokio::runtime::Runtime,
    _data: tempfile::TempDir,
    pub(super) url: String,
    pub(super) admin: pocketbook_server::admin::Admin,
}

impl Station {
    /// Enrols the notebook at `store` as PC505's device.
    fn enrol(&self, store: &std::path::Path) {
        let code = self.admin.issue_enrolment_code("PC505", 15).unwrap().code;
        ok(store, &["enrol", "--server", &self.url, "--code", &code]);
    }
}

pub(super) fn station() -> Station {
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
    station.enrol(&store);
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
    station.enrol(&store);
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
