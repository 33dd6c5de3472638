//! A store with no room left. On the server, `PRAGMA max_page_count` caps
//! the store (the `POCKETBOOK_STORE_MAX_PAGES` knob, set on the child
//! process): pushes get 503 with a log line that says the store is full,
//! the store stays consistent, and once the cap is lifted every device
//! carries on. On the device, the `pocketbook-device` process runs under a
//! file-size limit (`prlimit --fsize`, SIGXFSZ ignored) so its store cannot
//! grow: the edit fails with `ApiError::Storage` (`"error": "storage"`),
//! nothing earlier is lost, and the next edit with room succeeds.

use std::path::Path;
use std::process::Command;

use pocketbook_server::storage::Storage;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_tests::inputs::stop_account;
use pocketbook_tests::process::{self, ServerOptions, ServerProcess};
use pocketbook_tests::storm;

fn pages(data: &Path) -> i64 {
    let conn = rusqlite::Connection::open(data.join("server.db")).unwrap();
    conn.query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap()
}

async fn metric(url: &str, series: &str) -> u64 {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_store_answers_503_stays_consistent_and_carries_on_when_space_returns() {
    pocketbook_core::sync::client::install_crypto_provider();
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &ServerOptions::default());
    process::add_officer(data.path(), "PC1", "Lewisham", "officer");
    process::add_officer(data.path(), "PS2", "Lewisham", "supervisor");
    let phone_dir = tempfile::tempdir().unwrap();
    let phone = pocketbook_core::api::enrol_device(
        phone_dir.path().display().to_string(),
        server.url(),
        process::enrolment_code(data.path(), "PC1"),
        "phone".into(),
    )
    .await
    .unwrap();
    let mut before = Vec::new();
    for _ in 0..5 {
        before.push(phone.create_stop_account(stop_account()).unwrap().header.id);
    }
    assert_eq!(phone.sync(None).await.unwrap().pending, 0);
    let addr = server.addr;
    server.stop();

    // The store gets a little room and no more.
    let cap = pages(data.path()) + 4;
    let full = ServerProcess::start(
        data.path(),
        &ServerOptions {
            listen: Some(addr),
            env: vec![("POCKETBOOK_STORE_MAX_PAGES".into(), cap.to_string())],
            ..ServerOptions::default()
        },
    );
    let mut after = Vec::new();
    for n in 0..60 {
        let id = phone.create_stop_account(stop_account()).unwrap().header.id;
        phone
            .add_note(id.clone(), format!("filler {n} {}", "x".repeat(2000)))
            .unwrap();
        after.push(id);
    }
    let refused = phone.sync(None).await;
    assert!(
        matches!(refused, Err(pocketbook_core::ApiError::Offline { .. })),
        "{refused:?}"
    );
    let url = full.url();
    assert!(
        metric(
            &url,
            "pocketbook_http_requests_total{endpoint=\"sync\",status=\"503\"}"
        )
        .await
            > 0,
        "the full store is answered with 503"
    );
    assert_eq!(
        metric(
            &url,
            "pocketbook_http_requests_total{endpoint=\"sync\",status=\"500\"}"
        )
        .await,
        0
    );
    let log = full.log().join("\n");
    assert!(
        log.contains("store is full"),
        "a clear log line says the store is full: {log}"
    );
    // Reads still work while writes are refused.
    assert_eq!(
        reqwest::get(format!("{url}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    full.stop();

    // Consistent: SQLite's own check, the audit chain, every stored record
    // readable, every record acknowledged before still whole.
    {
        let conn = rusqlite::Connection::open(data.path().join("server.db")).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
    process::admin(data.path(), &["audit", "verify"]);
    let admin = SqliteStorage::open(data.path()).unwrap();
    for index in admin.records().unwrap() {
        storm::typed(&admin.record(&index.id).unwrap().unwrap().snapshot);
    }
    for id in &before {
        assert!(admin.record(id).unwrap().is_some(), "{id} lost");
    }
    drop(admin);

    // Space returns: the device finishes, and a colleague receives it all.
    let server = ServerProcess::start(
        data.path(),
        &ServerOptions {
            listen: Some(addr),
            ..ServerOptions::default()
        },
    );
    let done = phone.sync(None).await.unwrap();
    assert_eq!(done.pending, 0, "{done:?}");
    let admin = SqliteStorage::open(data.path()).unwrap();
    assert_eq!(admin.records().unwrap().len(), 65);
    storm::assert_feed_holds_each_change_once(&admin);
    let reader_dir = tempfile::tempdir().unwrap();
    let reader = pocketbook_core::api::enrol_device(
        reader_dir.path().display().to_string(),
        server.url(),
        process::enrolment_code(data.path(), "PS2"),
        "reader".into(),
    )
    .await
    .unwrap();
    assert_eq!(reader.sync(None).await.unwrap().received, 65);
    for id in before.iter().chain(&after) {
        let heads = storm::heads(&phone.export(id.clone()).unwrap());
        assert_eq!(heads, storm::heads(&reader.export(id.clone()).unwrap()));
        assert_eq!(
            heads,
            storm::heads(&admin.record(id).unwrap().unwrap().snapshot)
        );
    }
}

/// `pocketbook-device --store DIR args`, optionally with its files unable to
/// grow past `max_file_bytes` (an ignored SIGXFSZ makes the write fail
/// instead of killing the process).
fn device(store: &Path, max_file_bytes: Option<u64>, args: &[&str]) -> std::process::Output {
    let bin = process::binary("pocketbook-device");
    let mut command = match max_file_bytes {
        Some(limit) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--fsize={limit}"))
                .arg("--")
                .arg("sh")
                .arg("-c")
                .arg("trap '' XFSZ; exec \"$0\" \"$@\"")
                .arg(bin);
            c
        }
        None => Command::new(bin),
    };
    command
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("POCKETBOOK_STORE")
        .output()
        .unwrap()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_device_edit_with_no_room_fails_as_storage_and_loses_nothing_earlier() {
    let phone = tempfile::tempdir().unwrap();
    let store = phone.path();
    json(&device(
        store,
        None,
        &[
            "init",
            "--shoulder-number",
            "PC1",
            "--name",
            "Jo Smith",
            "--station",
            "Lewisham",
        ],
    ));
    let record = phone.path().join("account.json");
    std::fs::write(&record, serde_json::to_vec(&stop_account()).unwrap()).unwrap();
    // Another reader keeps the write-ahead log from being folded away when
    // a device process closes, so the log only grows and its size is
    // where the next write must go: a limit there leaves the store no
    // room to grow.
    let keep = rusqlite::Connection::open(store.join("pocketbook.db")).unwrap();
    keep.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap();
    let mut ids = Vec::new();
    for _ in 0..20 {
        let created = json(&device(
            store,
            None,
            &["new", "stop-account", "--json", record.to_str().unwrap()],
        ));
        ids.push(created["header"]["id"].as_str().unwrap().to_string());
    }
    let wal = std::fs::metadata(store.join("pocketbook.db-wal"))
        .unwrap()
        .len();
    assert!(
        wal >= 32 * 1024,
        "the log is larger than the shared-memory index"
    );

    let refused = device(
        store,
        Some(wal),
        &["notes", &ids[3], "written with no room"],
    );
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let error: serde_json::Value = serde_json::from_slice(&refused.stderr).unwrap();
    assert_eq!(error["error"], "storage", "{error}");

    // Nothing earlier is lost, even read with no room.
    let listed = json(&device(store, Some(wal), &["list"]));
    assert_eq!(listed.as_array().unwrap().len(), 20);
    let shown = json(&device(store, Some(wal), &["show", &ids[3]]));
    assert_eq!(shown["header"]["id"], ids[3].as_str());

    // Room again: the next edit is kept, the refused one never appeared.
    json(&device(
        store,
        None,
        &["notes", &ids[3], "written with room"],
    ));
    drop(keep);
    let shown = json(&device(store, None, &["show", &ids[3]]));
    let notes: Vec<&str> = shown["body"]["account"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["written with room"], "{shown}");
    assert_eq!(
        json(&device(store, None, &["list"]))
            .as_array()
            .unwrap()
            .len(),
        20
    );
}
