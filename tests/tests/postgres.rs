//! Two real `pocketbook-server` processes on one PostgreSQL database, as
//! two instances behind a load balancer: devices enrolled and syncing
//! through different instances converge; an enrolment code works once,
//! whichever instance it is tried on; the public copy's per-client limit
//! counts attempts made on both instances together.
//!
//! Needs the test database (`POCKETBOOK_TEST_DATABASE_URL`, started by
//! `scripts/test-all`); without it the test says it is skipped, and with
//! `POCKETBOOK_TEST_POSTGRES_REQUIRED=1` it fails instead.

use std::path::Path;
use std::sync::Arc;

use pocketbook_core::api::{Notebook, enrol_device};
use pocketbook_server::storage::postgres::testdb;
use pocketbook_tests::inputs::stop_search;
use pocketbook_tests::process::{ServerOptions, ServerProcess, admin_output_with};

fn admin(data: &Path, env: &[(String, String)], args: &[&str]) -> String {
    let out = admin_output_with(data, env, args);
    assert!(
        out.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

async fn enrol(
    dir: &Path,
    server: &ServerProcess,
    data: &Path,
    env: &[(String, String)],
) -> Arc<Notebook> {
    let code = admin(data, env, &["device", "enrol", "--officer", "PC1"]);
    enrol_device(
        dir.display().to_string(),
        server.url(),
        code,
        "phone".into(),
    )
    .await
    .unwrap()
}

/// POST /v1/copy with a reference that is no reference: refused before
/// any lookup, but counted against the client.
async fn copy_attempt(client: &reqwest::Client, server: &ServerProcess) -> u16 {
    client
        .post(format!("{}/v1/copy", server.url()))
        .json(&serde_json::json!({"reference": "nothing", "date": "2026-11-28"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_on_one_database_serve_devices_that_converge() {
    if !testdb::available() {
        return;
    }
    pocketbook_core::sync::client::install_crypto_provider();
    let data = tempfile::tempdir().unwrap();
    let env = vec![(
        "POCKETBOOK_DATABASE_URL".to_string(),
        // The synchronous client makes the schema, off the async runtime.
        tokio::task::block_in_place(|| testdb::url_for(&testdb::schema_for(data.path()))),
    )];
    let options = ServerOptions {
        env: env.clone(),
        ..ServerOptions::default()
    };
    // Both start at once on the empty database: one migrates, both serve.
    let (a, b) = std::thread::scope(|threads| {
        let a = threads.spawn(|| ServerProcess::start(data.path(), &options));
        let b = threads.spawn(|| ServerProcess::start(data.path(), &options));
        (a.join().unwrap(), b.join().unwrap())
    });
    admin(
        data.path(),
        &env,
        &[
            "officer",
            "add",
            "--shoulder-number",
            "PC1",
            "--name",
            "Jo Smith",
            "--station",
            "Lewisham",
        ],
    );

    // One device enrolled through each instance.
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let phone_a = enrol(dir_a.path(), &a, data.path(), &env).await;
    let phone_b = enrol(dir_b.path(), &b, data.path(), &env).await;

    // A code redeemed on one instance is refused on the other.
    let code = admin(data.path(), &env, &["device", "enrol", "--officer", "PC1"]);
    let dir_c = tempfile::tempdir().unwrap();
    enrol_device(
        dir_c.path().display().to_string(),
        a.url(),
        code.clone(),
        "c".into(),
    )
    .await
    .unwrap();
    let dir_d = tempfile::tempdir().unwrap();
    assert!(
        enrol_device(
            dir_d.path().display().to_string(),
            b.url(),
            code,
            "d".into()
        )
        .await
        .is_err(),
        "a used code enrolled a second device through the other instance"
    );

    // Records written on each phone, synced through its own instance,
    // then edited on the other phone: both phones end the same.
    let first = phone_a
        .create_stop_search(stop_search("2026-11-28T14:05:00Z"))
        .unwrap()
        .header
        .id;
    let second = phone_b
        .create_stop_search(stop_search("2026-11-28T15:05:00Z"))
        .unwrap()
        .header
        .id;
    for _ in 0..2 {
        phone_a.sync(None).await.unwrap();
        phone_b.sync(None).await.unwrap();
    }
    phone_b.add_note(first.clone(), "seen on b".into()).unwrap();
    phone_a
        .add_note(second.clone(), "seen on a".into())
        .unwrap();
    for _ in 0..2 {
        assert_eq!(phone_a.sync(None).await.unwrap().pending, 0);
        assert_eq!(phone_b.sync(None).await.unwrap().pending, 0);
    }
    for id in [&first, &second] {
        let (on_a, on_b) = (
            phone_a.get(id.clone()).unwrap(),
            phone_b.get(id.clone()).unwrap(),
        );
        assert_eq!(on_a, on_b, "record {id} differs between the phones");
        assert_eq!(on_a.body.notes().len(), 1, "{on_a:?}");
    }
    let listed = admin(data.path(), &env, &["records", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);

    // The public copy's per-client limit (20 an hour) counts attempts on
    // both instances together: ten on each, then the next one is refused.
    let client = reqwest::Client::new();
    for n in 0..20 {
        let server = if n % 2 == 0 { &a } else { &b };
        assert_ne!(copy_attempt(&client, server).await, 429, "attempt {n}");
    }
    assert_eq!(copy_attempt(&client, &a).await, 429);
    assert_eq!(copy_attempt(&client, &b).await, 429);

    let verified = admin(data.path(), &env, &["audit", "verify"]);
    assert!(verified.contains("intact"), "{verified}");
    a.stop();
    b.stop();
}

/// A station moved from SQLite to PostgreSQL with `admin migrate --to`:
/// the device that synced with the SQLite server syncs with the PostgreSQL
/// one on the same address and receives nothing again (its cursor is
/// still valid), its token still works, and its new edits go through;
/// a second device enrolled afterwards receives the whole record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_moved_to_postgres_keeps_its_devices_cursors() {
    if !testdb::available() {
        return;
    }
    pocketbook_core::sync::client::install_crypto_provider();
    let data = tempfile::tempdir().unwrap();
    let sqlite = ServerProcess::start(data.path(), &ServerOptions::default());
    let none: Vec<(String, String)> = Vec::new();
    admin(
        data.path(),
        &none,
        &[
            "officer",
            "add",
            "--shoulder-number",
            "PC1",
            "--name",
            "Jo Smith",
            "--station",
            "Lewisham",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let phone = enrol(dir.path(), &sqlite, data.path(), &none).await;
    let id = phone
        .create_stop_search(stop_search("2026-11-28T14:05:00Z"))
        .unwrap()
        .header
        .id;
    phone
        .add_note(id.clone(), "before the move".into())
        .unwrap();
    assert_eq!(phone.sync(None).await.unwrap().pending, 0);
    let addr = sqlite.addr;
    sqlite.stop();

    let url = tokio::task::block_in_place(|| testdb::url_for(&testdb::schema_for(data.path())));
    let moved = admin(data.path(), &none, &["migrate", "--to", &url]);
    assert!(moved.contains("audit trail intact"), "{moved}");
    let env = vec![("POCKETBOOK_DATABASE_URL".to_string(), url)];
    let postgres = ServerProcess::start(
        data.path(),
        &ServerOptions {
            listen: Some(addr),
            env: env.clone(),
            ..ServerOptions::default()
        },
    );
    let after = phone.sync(None).await.unwrap();
    assert_eq!(after.received, 0, "the device downloaded again: {after:?}");
    phone.add_note(id.clone(), "after the move".into()).unwrap();
    assert_eq!(phone.sync(None).await.unwrap().pending, 0);

    let other_dir = tempfile::tempdir().unwrap();
    let other = enrol(other_dir.path(), &postgres, data.path(), &env).await;
    other.sync(None).await.unwrap();
    assert_eq!(other.get(id.clone()).unwrap(), phone.get(id).unwrap());
    let verified = admin(data.path(), &env, &["audit", "verify"]);
    assert!(verified.contains("intact"), "{verified}");
    postgres.stop();
}
