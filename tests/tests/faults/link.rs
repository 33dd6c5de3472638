//! A broken link between devices and the server: the fault proxy drops,
//! stalls, truncates, duplicates, delays and replays requests and
//! responses at random while four devices edit and sync. Nothing may be
//! lost, nothing applied twice, and no device may stay stuck once the link
//! is healthy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pocketbook_core::sync::client::NetworkSettings;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_tests::process::{self, ServerOptions, ServerProcess};
use pocketbook_tests::proxy::FaultProxy;
use pocketbook_tests::storm::{self, Fleet};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Short timeouts, so a stall costs about a second (honest answers on a
/// loaded machine still come well within them).
fn impatient() -> NetworkSettings {
    NetworkSettings {
        connect_timeout: Duration::from_millis(1000),
        read_timeout: Duration::from_millis(1000),
        overall_timeout: Duration::from_secs(5),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_faulty_link_loses_nothing_applies_nothing_twice_and_strands_no_device() {
    let seed = storm::seed("faulty link");
    let target: u64 = if storm::long() { 20_000 } else { 1_000 };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &ServerOptions::default());
    // Stalls outlast the devices' read timeout.
    let proxy = FaultProxy::start(server.addr, seed, Duration::from_millis(1500)).await;
    let mut fleet = Fleet::enrol(data.path(), &proxy.url(), impatient()).await;

    proxy.set_fault_rate(0.6);
    let enough = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (i, mut device) in std::mem::take(&mut fleet.devices).into_iter().enumerate() {
        let scene = fleet.scenes[device.officer].clone();
        let enough = enough.clone();
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(i as u64 + 1));
        tasks.push(tokio::spawn(async move {
            let mut syncs = 0u64;
            while !enough.load(Ordering::SeqCst) {
                for _ in 0..rng.random_range(0..2) {
                    device.random_edit(&scene, &mut rng);
                }
                device.sync().await.ok();
                syncs += 1;
            }
            (device, syncs)
        }));
    }
    let mut ticks = 0u64;
    while proxy.faulted() < target {
        tokio::time::sleep(Duration::from_millis(100)).await;
        ticks += 1;
        if ticks.is_multiple_of(100) {
            eprintln!(
                "faulty link: {} requests, {} faulted so far",
                proxy.requests(),
                proxy.faulted()
            );
        }
    }
    enough.store(true, Ordering::SeqCst);
    let mut syncs = 0;
    for task in tasks {
        let (device, n) = task.await.unwrap();
        fleet.devices.push(device);
        syncs += n;
    }
    // Before the link heals: every acknowledged edit is on the server (its
    // store read as the admin CLI reads it, while it runs).
    let admin = SqliteStorage::open(data.path()).unwrap();
    fleet.assert_acknowledged_on_server(&admin, "the faulty storm", true);

    // The link heals (stale replays land first): every device finishes.
    proxy.set_fault_rate(0.0);
    proxy.settle().await;
    for device in &fleet.devices {
        device
            .notebook
            .set_network_settings(NetworkSettings::default())
            .unwrap();
    }
    fleet.converge("the link healed").await;
    fleet.assert_identical_and_complete(&admin);
    process::admin(data.path(), &["audit", "verify"]);

    let (made, _) = fleet.edit_counts();
    eprintln!(
        "faulty link: {} requests, {} faulted {:?}, {syncs} syncs, {made} edits, {} unparsed",
        proxy.requests(),
        proxy.faulted(),
        proxy.faults(),
        proxy.unparsed()
    );
    assert!(proxy.faulted() >= target);
}
