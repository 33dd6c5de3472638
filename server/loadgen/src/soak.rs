//! The soak (`pocketbook-loadgen soak`): many handsets editing and syncing
//! for minutes through a link that fails at random, against a real
//! `pocketbook-server` child process. It reports sync latency (p50, p99),
//! the server process's resident memory over time beside its store's size
//! (an optional idle tail, syncs without edits, shows whether memory grows
//! per request or only with the data), and whether everything converged
//! after a final clean sync.
//!
//! The parts are the fault suite's, from the `pocketbook-tests` library:
//! the server binary as a child process (`process::ServerProcess`, whose
//! pid gives `/proc/<pid>/status`), the seeded fault-injecting proxy
//! (`proxy::FaultProxy`) and the storm's per-record checks. The handsets
//! are real device cores (`pocketbook_core::api::Notebook`), as in the app.
//!
//! The full soak (50 handsets, 10 minutes) is run by hand with a release
//! build (README.md, "Benchmarks and the soak"); the test suite runs a
//! ten-second smoke of it (`server/loadgen/tests/soak.rs`).

mod fleet;
mod report;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pocketbook_core::sync::client::NetworkSettings;
use pocketbook_server::storage::Storage;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_tests::process::{self, ServerOptions, ServerProcess};
use pocketbook_tests::proxy::FaultProxy;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use fleet::{Fleet, SoakDevice};
use report::{Attempt, Report, Sample};

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    pub devices: usize,
    /// How long the handsets edit and sync.
    pub duration: Duration,
    /// Then how long they keep syncing without editing: the store stops
    /// growing, so the server's memory should stop growing too.
    pub idle_tail: Duration,
    /// The chance that the proxy faults a request, 0.0 to 1.0.
    pub fault_rate: f64,
    pub seed: u64,
    /// How often the server's resident memory is sampled.
    pub sample_every: Duration,
}

/// Timeouts short enough that a stalled request costs a few seconds, long
/// enough that honest answers on a loaded machine arrive within them.
fn network() -> NetworkSettings {
    NetworkSettings {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(4),
        overall_timeout: Duration::from_secs(20),
    }
}

/// A stall outlasts the handsets' read timeout.
const STALL: Duration = Duration::from_secs(5);
/// A handset waits this long (uniformly at random) between rounds.
const THINK_MS: std::ops::Range<u64> = 500..2_500;
/// Edits per round, at most.
const MAX_EDITS: usize = 3;

/// Runs the soak and returns its Markdown report, or why it failed
/// (a handset stuck, or devices and server disagreeing).
pub async fn run(options: &SoakOptions) -> Result<String, String> {
    let load_before = load_average();
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let server = ServerProcess::start(data.path(), &ServerOptions::default());
    let proxy = FaultProxy::start(server.addr, options.seed, STALL).await;
    let mut fleet = Fleet::enrol(data.path(), &proxy.url(), options.devices, network()).await?;
    eprintln!(
        "soak: {} handsets of {} officers enrolled; editing for {:?}, then {:?} idle, at fault rate {}",
        fleet.devices.len(),
        fleet.officers.len(),
        options.duration,
        options.idle_tail,
        options.fault_rate
    );

    let samples = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let editing_until = started + options.duration;
    let until = editing_until + options.idle_tail;
    let sampler = tokio::spawn(sample_server(
        server.pid(),
        data.path().to_path_buf(),
        started,
        until,
        options.sample_every,
        samples.clone(),
    ));
    let requests_before = proxy.requests();
    proxy.set_fault_rate(options.fault_rate);
    let mut tasks = Vec::new();
    for device in std::mem::take(&mut fleet.devices) {
        let scene = fleet.officers[device.officer].shared_scene.clone();
        let rng = StdRng::seed_from_u64(options.seed.wrapping_add(device.index as u64 + 1));
        tasks.push(tokio::spawn(handset(
            device,
            scene,
            rng,
            editing_until,
            until,
        )));
    }
    let mut attempts = Vec::new();
    let mut failure = None;
    for task in tasks {
        let (device, outcome) = task.await.map_err(|e| format!("handset task: {e}"))?;
        match outcome {
            Ok(mut mine) => attempts.append(&mut mine),
            Err(e) => failure = failure.or(Some(e)),
        }
        fleet.devices.push(device);
    }
    sampler.await.map_err(|e| format!("sampler: {e}"))?;
    let requests = proxy.requests() - requests_before;
    if let Some(failure) = failure {
        return Err(failure);
    }

    // The link heals (stale replays land first); every handset syncs
    // until there is nothing left to exchange.
    proxy.set_fault_rate(0.0);
    proxy.settle().await;
    for device in &fleet.devices {
        device
            .notebook
            .set_network_settings(NetworkSettings::default())
            .map_err(|e| e.to_string())?;
    }
    let passes = fleet.converge("the soak").await?;
    let store = SqliteStorage::open(data.path()).map_err(|e| format!("server store: {e}"))?;
    let compared = fleet.check(&store)?;
    process::admin(data.path(), &["audit", "verify"]);
    let records = store.records().map_err(|e| e.to_string())?.len();
    let log = server.log();
    server.stop();

    let report = Report {
        devices: options.devices,
        officers: fleet.officers.len(),
        fault_rate: options.fault_rate,
        seed: options.seed,
        editing: options.duration,
        idle_tail: options.idle_tail,
        load_before,
        load_after: load_average(),
        attempts,
        requests,
        faults: format!(
            "{} faulted: {:?}; {} unparsed",
            proxy.faulted(),
            proxy.faults(),
            proxy.unparsed()
        ),
        edits: fleet.devices.iter().map(|d| d.made.len()).sum(),
        records,
        log_lines: log.len(),
        log_errors: log.iter().filter(|l| l.contains("ERROR")).count(),
        samples: samples.lock().unwrap().clone(),
        passes,
        compared,
    };
    Ok(report.render())
}

/// One handset: until `editing_until`, think, make up to [`MAX_EDITS`]
/// edits and sync; then, until `until`, think and sync. Every sync timed.
async fn handset(
    mut device: SoakDevice,
    shared_scene: String,
    mut rng: StdRng,
    editing_until: Instant,
    until: Instant,
) -> (SoakDevice, Result<Vec<Attempt>, String>) {
    let mut attempts = Vec::new();
    loop {
        let think = Duration::from_millis(rng.random_range(THINK_MS));
        tokio::time::sleep(think.min(until.saturating_duration_since(Instant::now()))).await;
        let now = Instant::now();
        if now >= until {
            return (device, Ok(attempts));
        }
        let editing = now < editing_until;
        let edits = if editing {
            rng.random_range(0..=MAX_EDITS)
        } else {
            0
        };
        // Edits wait for their fsync: off the async workers.
        let made = tokio::task::block_in_place(|| {
            (0..edits).try_for_each(|_| device.random_edit(&shared_scene, &mut rng))
        });
        if let Err(e) = made {
            return (device, Err(e));
        }
        let started = Instant::now();
        let outcome = device.notebook.sync(None).await;
        attempts.push(Attempt {
            latency: started.elapsed(),
            ok: outcome.is_ok(),
            editing,
        });
    }
}

/// Samples the server process's `VmRSS` and its store's size until `until`.
async fn sample_server(
    pid: u32,
    data: PathBuf,
    started: Instant,
    until: Instant,
    every: Duration,
    into: Arc<Mutex<Vec<Sample>>>,
) {
    loop {
        if let Some(rss_kib) = rss_kib(pid) {
            into.lock().unwrap().push(Sample {
                at: started.elapsed(),
                rss_kib,
                store_bytes: dir_bytes(&data),
            });
        }
        if Instant::now() >= until {
            return;
        }
        tokio::time::sleep(every.min(until.saturating_duration_since(Instant::now()))).await;
    }
}

/// The bytes of the files directly in a directory.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The resident set of a process in KiB, from `/proc/<pid>/status`.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` has them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Parses `600`, `600s`, `10m` or `1h` as a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: a whole number with s, m or h, e.g. 10m"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("{text:?}: the unit is s, m or h")),
    };
    n.checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?}: too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_others() {
        assert_eq!(parse_duration("600"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("10 m").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("1.5m").is_err());
        assert!(parse_duration("18446744073709551615h").is_err());
    }

    #[test]
    fn the_memory_of_this_process_is_read() {
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
