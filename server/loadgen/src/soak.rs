//! The soak (`pocketbook-loadgen soak`): many handsets editing and syncing
//! for minutes through a link that fails at random, against a real
//! `pocketbook-server` child process. It reports sync latency (p50, p99),
//! the server process's resident memory over time (it should stay flat),
//! and whether everything converged after a final clean sync.
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

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pocketbook_core::sync::client::NetworkSettings;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_tests::process::{self, ServerOptions, ServerProcess};
use pocketbook_tests::proxy::FaultProxy;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use fleet::{Fleet, SoakDevice};

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    pub devices: usize,
    pub duration: Duration,
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

/// One sync attempt.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    latency: Duration,
    ok: bool,
}

/// One sample of the server's resident memory.
#[derive(Debug, Clone, Copy)]
struct RssSample {
    at: Duration,
    kib: u64,
}

/// Runs the soak and returns its Markdown report, or why it failed
/// (a handset stuck, or devices and server disagreeing).
pub async fn run(options: &SoakOptions) -> Result<String, String> {
    let load_before = load_average();
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let server = ServerProcess::start(data.path(), &ServerOptions::default());
    let proxy = FaultProxy::start(server.addr, options.seed, STALL).await;
    let mut fleet = Fleet::enrol(data.path(), &proxy.url(), options.devices, network()).await?;
    eprintln!(
        "soak: {} handsets of {} officers enrolled; running for {:?} at fault rate {}",
        fleet.devices.len(),
        fleet.officers.len(),
        options.duration,
        options.fault_rate
    );

    let rss = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let deadline = started + options.duration;
    let sampler = tokio::spawn(sample_rss(
        server.pid(),
        started,
        deadline,
        options.sample_every,
        rss.clone(),
    ));
    let requests_before = proxy.requests();
    proxy.set_fault_rate(options.fault_rate);
    let mut tasks = Vec::new();
    for device in std::mem::take(&mut fleet.devices) {
        let scene = fleet.officers[device.officer].shared_scene.clone();
        let rng = StdRng::seed_from_u64(options.seed.wrapping_add(device.index as u64 + 1));
        tasks.push(tokio::spawn(handset(device, scene, rng, deadline)));
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
    let soaked = started.elapsed();
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
    let records = pocketbook_server::storage::Storage::records(&store)
        .map_err(|e| e.to_string())?
        .len();
    let log = server.log();
    server.stop();

    let rss = rss.lock().unwrap().clone();
    let edits: usize = fleet.devices.iter().map(|d| d.made.len()).sum();
    let mut lines = Vec::new();
    let ok: Vec<Duration> = attempts
        .iter()
        .filter(|a| a.ok)
        .map(|a| a.latency)
        .collect();
    let all: Vec<Duration> = attempts.iter().map(|a| a.latency).collect();
    lines.push(format!(
        "soak: {} handsets ({} officers), {:.0} s, fault rate {}, seed {}",
        options.devices,
        fleet.officers.len(),
        soaked.as_secs_f64(),
        options.fault_rate,
        options.seed
    ));
    lines.push(format!(
        "load average: {load_before} before, {} after; {} CPUs",
        load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    lines.push("\n| measure | value |\n|---|---|".into());
    lines.push(format!(
        "| sync attempts | {} ({} succeeded, {} failed) |",
        all.len(),
        ok.len(),
        all.len() - ok.len()
    ));
    lines.push(format!(
        "| sync latency, succeeded | p50 {} ms, p99 {} ms, max {} ms |",
        millis(percentile(&ok, 0.50)),
        millis(percentile(&ok, 0.99)),
        millis(percentile(&ok, 1.0))
    ));
    lines.push(format!(
        "| sync latency, every attempt | p50 {} ms, p99 {} ms |",
        millis(percentile(&all, 0.50)),
        millis(percentile(&all, 0.99))
    ));
    lines.push(format!("| requests through the proxy during the soak | {requests} ({} faulted: {:?}; {} unparsed) |",
        proxy.faulted(),
        proxy.faults(),
        proxy.unparsed()
    ));
    lines.push(format!("| edits made | {edits}, on {records} records |"));
    lines.push(format!(
        "| server log | {} lines, {} at error level |",
        log.len(),
        log.iter().filter(|l| l.contains("ERROR")).count()
    ));
    lines.push(format!("| server RSS | {} |", rss_summary(&rss)));
    lines.push(format!("| converged | yes: after {passes} clean pass(es), every handset holds exactly its scope's records with the server's heads ({compared} record copies compared), every edit is on the server once, the feed carries each change once, the audit chain verifies |"
    ));
    lines.push("\nServer RSS over time:\n\n| time | RSS |\n|---|---|".into());
    for sample in thin(&rss, 21) {
        lines.push(format!(
            "| {:.0} s | {:.1} MiB |",
            sample.at.as_secs_f64(),
            sample.kib as f64 / 1024.0
        ));
    }
    Ok(lines.join("\n"))
}

/// One handset until the deadline: think, make up to [`MAX_EDITS`] edits,
/// sync, and time the sync.
async fn handset(
    mut device: SoakDevice,
    shared_scene: String,
    mut rng: StdRng,
    deadline: Instant,
) -> (SoakDevice, Result<Vec<Attempt>, String>) {
    let mut attempts = Vec::new();
    loop {
        let think = Duration::from_millis(rng.random_range(THINK_MS));
        tokio::time::sleep(think.min(deadline.saturating_duration_since(Instant::now()))).await;
        if Instant::now() >= deadline {
            return (device, Ok(attempts));
        }
        let edits = rng.random_range(0..=MAX_EDITS);
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
        });
    }
}

/// Samples `VmRSS` of process `pid` until the deadline.
async fn sample_rss(
    pid: u32,
    started: Instant,
    deadline: Instant,
    every: Duration,
    into: Arc<Mutex<Vec<RssSample>>>,
) {
    loop {
        if let Some(kib) = rss_kib(pid) {
            into.lock().unwrap().push(RssSample {
                at: started.elapsed(),
                kib,
            });
        }
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(every.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
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

/// The RSS at the first sample, after a quarter of the run, and at the
/// end, with the growth over the last three quarters (after warm-up).
fn rss_summary(samples: &[RssSample]) -> String {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return "no samples".into();
    };
    let quarter = samples
        .iter()
        .find(|s| s.at >= last.at / 4)
        .unwrap_or(first);
    let max = samples.iter().map(|s| s.kib).max().unwrap_or(0);
    let mib = |kib: u64| kib as f64 / 1024.0;
    format!(
        "{:.1} MiB at start, {:.1} MiB after a quarter ({:.0} s), {:.1} MiB at the end, max {:.1} MiB; growth after the first quarter {:+.1}% ({} samples)",
        mib(first.kib),
        mib(quarter.kib),
        quarter.at.as_secs_f64(),
        mib(last.kib),
        mib(max),
        (last.kib as f64 / quarter.kib as f64 - 1.0) * 100.0,
        samples.len()
    )
}

/// At most `n` samples, evenly spread, the last included.
fn thin(samples: &[RssSample], n: usize) -> Vec<RssSample> {
    if samples.len() <= n {
        return samples.to_vec();
    }
    (0..n)
        .map(|i| samples[i * (samples.len() - 1) / (n - 1)])
        .collect()
}

/// The `p` quantile (nearest rank) of the samples.
fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

fn millis(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1}", d.as_secs_f64() * 1000.0))
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
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text:?}: the unit is s, m or h")),
    };
    Ok(Duration::from_secs(seconds))
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
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 0.50), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&samples, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&samples, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn the_memory_of_this_process_is_read() {
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
