//! Real process crashes: the `pocketbook-server` binary SIGKILLed at random
//! points of a sync storm and restarted on the same data directory, and a
//! `pocketbook-device sync` process SIGKILLed mid-sync and run again.
//! Nothing a device had acknowledged may be missing afterwards, nothing may
//! be there twice, and every replica ends identical.

use std::path::Path;
use std::time::Duration;

use pocketbook_core::Notebook;
use pocketbook_core::sync::client::NetworkSettings;
use pocketbook_server::storage::Storage;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_tests::inputs::stop_account;
use pocketbook_tests::process::{self, ServerOptions, ServerProcess};
use pocketbook_tests::storm::{self, Edit, Fleet, Made};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Short waits: a dead server is refused at once, and nothing here is slow.
fn network() -> NetworkSettings {
    NetworkSettings {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        overall_timeout: Duration::from_secs(20),
    }
}

/// The server's store, opened as the admin CLI opens it.
fn store(data: &Path) -> SqliteStorage {
    SqliteStorage::open(data).expect("the server's store opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_at_random_points_loses_no_acknowledged_change() {
    let seed = storm::seed("server crashes");
    let mut rng = StdRng::seed_from_u64(seed);
    let kills: u32 = if storm::long() { 1000 } else { 100 };
    let data = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(data.path(), &ServerOptions::default());
    let restart = ServerOptions {
        listen: Some(server.addr),
        ..ServerOptions::default()
    };
    let mut fleet = Fleet::enrol(data.path(), &server.url(), network()).await;

    let mut cut = 0;
    // How long the last uncut storm took: kills land at random within
    // about that span, so some come before, some during, some after.
    let mut whole = Duration::from_millis(200);
    let mut round: u32 = 0;
    let mut killed: u32 = 0;
    while killed < kills {
        round += 1;
        fleet.random_edits(3, &mut rng);
        if round.is_multiple_of(4) {
            let started = std::time::Instant::now();
            fleet.sync_all().await;
            whole = started.elapsed();
            continue;
        }
        let after = whole.mul_f64(rng.random_range(0.0..1.2));
        let killer = tokio::spawn(async move {
            tokio::time::sleep(after).await;
            server.kill();
        });
        let succeeded = fleet.sync_all().await;
        killer.await.unwrap();
        killed += 1;
        if succeeded < fleet.devices.len() {
            cut += 1;
        }
        // Edits acknowledged since the last check; all of them every tenth kill.
        fleet.assert_acknowledged_on_server(
            &store(data.path()),
            &format!("kill {killed}"),
            killed.is_multiple_of(10),
        );
        server = ServerProcess::start(data.path(), &restart);
    }

    let (made, acknowledged) = fleet.edit_counts();
    fleet.converge("the last restart").await;
    fleet.assert_identical_and_complete(&store(data.path()));
    process::admin(data.path(), &["audit", "verify"]);
    eprintln!(
        "server crashes: {kills} SIGKILLs ({cut} cut a sync), {round} rounds, {made} edits, \
         {acknowledged} acknowledged before the end; nothing lost or doubled"
    );
}

/// The device CLI's sync, killed after a random time: the edits queued in
/// the store (written by the same core, opened in this process between
/// kills) must reach the server exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_killed_mid_sync_loses_and_duplicates_nothing() {
    let seed = storm::seed("device crashes");
    let mut rng = StdRng::seed_from_u64(seed);
    let kills: u32 = if storm::long() { 300 } else { 40 };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &ServerOptions::default());
    process::add_officer(data.path(), "PC7", "Lewisham", "officer");
    process::add_officer(data.path(), "PS8", "Lewisham", "supervisor");

    let phone = tempfile::tempdir().unwrap();
    let enrolled = process::device_command(phone.path())
        .args(["enrol", "--server", &server.url(), "--code"])
        .arg(process::enrolment_code(data.path(), "PC7"))
        .output()
        .unwrap();
    assert!(enrolled.status.success(), "{enrolled:?}");

    let mut made: Vec<Made> = Vec::new();
    let mut own: Vec<String> = Vec::new();
    let mut cut = 0;
    // How long a whole sync took last time it was left to finish: kills
    // land at random within that span, so some come early, some late.
    let mut whole = Duration::from_millis(100);
    for round in 0..kills + kills / 4 {
        let kill = round % 5 != 4;
        // Edits between syncs, by the same core the CLI runs.
        {
            let notebook = Notebook::open_existing(phone.path().display().to_string()).unwrap();
            let creations = if round.is_multiple_of(8) {
                30
            } else {
                rng.random_range(0..6)
            };
            for _ in 0..creations {
                let id = notebook
                    .create_stop_account(stop_account())
                    .unwrap()
                    .header
                    .id;
                own.push(id.clone());
                made.push(Made {
                    record: id,
                    edit: Edit::Created,
                    acknowledged: false,
                    verified: false,
                });
            }
            for n in 0..rng.random_range(0..6) {
                if own.is_empty() {
                    break;
                }
                let record = own[rng.random_range(0..own.len())].clone();
                let text = format!("round {round} note {n}");
                notebook.add_note(record.clone(), text.clone()).unwrap();
                made.push(Made {
                    record,
                    edit: Edit::Note(text),
                    acknowledged: false,
                    verified: false,
                });
            }
            notebook.close();
        }
        let before = made.len();
        let mut sync = process::device_command(phone.path())
            .arg("sync")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        if kill {
            tokio::time::sleep(whole.mul_f64(rng.random_range(0.0..1.2))).await;
            if sync.try_wait().unwrap().is_none() {
                cut += 1;
            }
            sync.kill().ok();
        }
        let out = sync.wait_with_output().unwrap();
        if !kill {
            assert!(out.status.success(), "{out:?}");
            whole = started.elapsed();
        }
        if out.status.success() {
            let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            if summary["pending"] == 0 {
                for m in &mut made[..before] {
                    m.acknowledged = true;
                }
            }
        }
        // Acknowledged edits are on the server, each once.
        let server_store = store(data.path());
        let mut documents = std::collections::BTreeMap::new();
        // Newly acknowledged edits; all of them every tenth round.
        let all = round.is_multiple_of(10);
        for m in made
            .iter_mut()
            .filter(|m| m.acknowledged && (all || !m.verified))
        {
            let record = documents.entry(m.record.clone()).or_insert_with(|| {
                let stored = server_store.record(&m.record).unwrap().unwrap_or_else(|| {
                    panic!("round {round}: acknowledged record {} missing", m.record)
                });
                storm::typed(&stored.snapshot)
            });
            assert_eq!(
                storm::count_edit(record, &m.edit),
                1,
                "round {round}: {:?}",
                m.edit
            );
            m.verified = true;
        }
    }

    // The last sync runs to its end.
    let last = process::device_command(phone.path())
        .arg("sync")
        .output()
        .unwrap();
    assert!(last.status.success(), "{last:?}");
    let summary: serde_json::Value = serde_json::from_slice(&last.stdout).unwrap();
    assert_eq!(summary["pending"], 0, "{summary}");

    // Every edit on the server exactly once, and nothing more.
    let server_store = store(data.path());
    assert_eq!(server_store.records().unwrap().len(), own.len());
    for m in &made {
        let stored = server_store
            .record(&m.record)
            .unwrap()
            .expect("record on the server");
        assert_eq!(
            storm::count_edit(&storm::typed(&stored.snapshot), &m.edit),
            1,
            "{:?}",
            m.edit
        );
    }
    for id in &own {
        let record = storm::typed(&server_store.record(id).unwrap().unwrap().snapshot);
        let notes = made
            .iter()
            .filter(|m| &m.record == id && matches!(m.edit, Edit::Note(_)))
            .count();
        assert_eq!(storm::counts(&record).0, notes, "record {id}: note entries");
    }
    storm::assert_feed_holds_each_change_once(&server_store);

    // The station supervisor's device receives the same records, with the
    // same heads as the phone's export and the server's document.
    pocketbook_core::sync::client::install_crypto_provider();
    let reader_dir = tempfile::tempdir().unwrap();
    let reader = pocketbook_core::api::enrol_device(
        reader_dir.path().display().to_string(),
        server.url(),
        process::enrolment_code(data.path(), "PS8"),
        "reader".into(),
    )
    .await
    .unwrap();
    // (`received` counts per page, so a record spread over two pages
    // counts twice: the list is what must match.)
    let pulled = reader.sync(None).await.unwrap();
    let listed: std::collections::BTreeSet<String> = reader
        .list(pocketbook_core::store::ListFilter::default())
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let held = reader.held_records().unwrap();
    assert!(
        listed == own.iter().cloned().collect() && held.is_empty(),
        "a fresh device lists {} of the {} records on the server after {pulled:?}; held {held:?}",
        listed.len(),
        own.len()
    );
    let exports = tempfile::tempdir().unwrap();
    for id in &own {
        let file = exports.path().join(id);
        let exported = process::device_command(phone.path())
            .args(["export", id, "--out"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(exported.status.success(), "{exported:?}");
        let phone_heads = storm::heads(&std::fs::read(&file).unwrap());
        assert_eq!(
            phone_heads,
            storm::heads(&reader.export(id.clone()).unwrap())
        );
        assert_eq!(
            phone_heads,
            storm::heads(&server_store.record(id).unwrap().unwrap().snapshot)
        );
    }
    process::admin(data.path(), &["audit", "verify"]);
    eprintln!(
        "device crashes: {kills} SIGKILLs of `pocketbook-device sync` ({cut} while it ran), \
         {} edits, all on the server once",
        made.len()
    );
}
