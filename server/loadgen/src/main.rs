//! `pocketbook-loadgen`: measures the sync server with real device cores on
//! this machine and prints a Markdown report for `BENCHMARKS.md`. Every
//! number is reported beside a baseline measured in the same run.
//!
//! It starts the server in-process on a loopback port with a throwaway data
//! directory, enrols devices through `/v1/enrol`, and puts a counting TCP
//! proxy between devices and server to measure bytes on the wire.
//!
//! Usage: `cargo run --release -p pocketbook-loadgen [-- --quick]`; the
//! soak (many handsets for minutes through a faulty link, against the
//! server binary as a child process) is `pocketbook-loadgen soak` ([`soak`]);
//! the scale-out figures are `pocketbook-loadgen scale` ([`scale`]).

#![forbid(unsafe_code)]

mod scale;
mod soak;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use pocketbook_core::Notebook;
use pocketbook_core::model::*;
use pocketbook_server::storage::sqlite::SqliteStorage;
use pocketbook_server::storage::{OfficerRow, Storage};
use pocketbook_server::{ServerConfig, auth};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Counts the bytes that cross it in both directions.
struct CountingProxy {
    addr: SocketAddr,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
}

impl CountingProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (up, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (u, d) = (up.clone(), down.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, u.clone(), d.clone()));
            }
        });
        CountingProxy { addr, up, down }
    }

    fn take(&self) -> (u64, u64) {
        (
            self.up.swap(0, Ordering::SeqCst),
            self.down.swap(0, Ordering::SeqCst),
        )
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counter: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                counter.fetch_add(n as u64, Ordering::Relaxed);
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, up: Arc<AtomicU64>, down: Arc<AtomicU64>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    // Without these, delayed ACKs would add tens of milliseconds per request.
    if client.set_nodelay(true).is_err() || server.set_nodelay(true).is_err() {
        return;
    }
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    tokio::join!(pump(cr, sw, up), pump(sr, cw, down));
}

struct Bench {
    _data: tempfile::TempDir,
    admin: Arc<dyn Storage>,
    proxy: CountingProxy,
    devices: Vec<(tempfile::TempDir, Arc<Notebook>)>,
}

impl Bench {
    async fn start() -> Self {
        pocketbook_core::sync::client::install_crypto_provider();
        let data = tempfile::tempdir().expect("data dir");
        let server = pocketbook_server::start(ServerConfig::for_tests(data.path()))
            .await
            .expect("server");
        let admin: Arc<dyn Storage> = Arc::new(SqliteStorage::open(data.path()).expect("store"));
        let proxy = CountingProxy::start(server.addr).await;
        // The server runs until the process ends.
        std::mem::forget(server);
        Bench {
            _data: data,
            admin,
            proxy,
            devices: Vec::new(),
        }
    }

    async fn device(&mut self, officer: &str) -> Arc<Notebook> {
        if self.admin.officer(officer).expect("officer").is_none() {
            self.admin
                .add_officer(
                    &OfficerRow {
                        shoulder_number: officer.into(),
                        name: format!("Officer {officer}"),
                        station: "Lewisham".into(),
                        role: pocketbook_server::identity::Role::Officer,
                        active: true,
                    },
                    "2026-01-01T00:00:00Z",
                    &[],
                )
                .expect("add officer");
        }
        let code = auth::new_enrolment_code();
        let canonical = auth::normalise_code(&code).expect("code");
        self.admin
            .add_enrolment_code(
                &auth::hash(&canonical),
                officer,
                i64::MAX / 2,
                "2026-01-01T00:00:00Z",
                &[],
            )
            .expect("code");
        let dir = tempfile::tempdir().expect("device dir");
        let notebook = pocketbook_core::api::enrol_device(
            dir.path().display().to_string(),
            format!("http://{}", self.proxy.addr),
            code,
            "loadgen".into(),
        )
        .await
        .expect("enrol");
        self.devices.push((dir, notebook.clone()));
        notebook
    }
}

/// The fixtures' stop and account, at a street of its own per record.
fn stop_account(n: usize) -> StopAccount {
    StopAccount {
        location: Location {
            latitude: Some(51.46),
            longitude: Some(-0.01),
            street: format!("{n} High Street"),
        },
        self_defined_ethnicity: Some(SelfDefinedEthnicity::NotStated),
        ..pocketbook_fixtures::stop_account()
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn feed_bytes(admin: &dyn Storage) -> u64 {
    admin
        .feed_after(0, u32::MAX)
        .expect("feed")
        .iter()
        .map(|f| f.changes.len() as u64)
        .sum()
}

/// Time, requests and bytes to push `n` new records, against the change bytes.
async fn push_new_records(bench: &mut Bench, n: usize) -> String {
    let device = bench.device("PC1").await;
    for i in 0..n {
        device.create_stop_account(stop_account(i)).expect("create");
    }
    bench.proxy.take();
    let started = Instant::now();
    let summary = device.sync(None).await.expect("sync");
    let elapsed = started.elapsed();
    let (up, down) = bench.proxy.take();
    let floor = feed_bytes(bench.admin.as_ref());
    format!(
        "| push {n} new records, one device | {:.0} ms | {} requests | {} B up + {} B down | floor: {} B of Automerge changes; wire/floor = {:.2} |\n",
        elapsed.as_secs_f64() * 1000.0,
        summary.requests,
        up,
        down,
        floor,
        (up + down) as f64 / floor as f64
    )
}

/// Median latency and bytes of an idle sync with `n` records on both sides.
async fn idle_sync(bench: &mut Bench, n: usize, officer: &str) -> (Duration, u64) {
    let writer = bench.device(officer).await;
    let have = bench.admin.records().expect("records").len();
    for i in have..n {
        writer.create_stop_account(stop_account(i)).expect("create");
    }
    writer.sync(None).await.expect("push");
    // The officer's second handset: it holds every record the first wrote.
    let reader = bench.device(officer).await;
    reader.sync(None).await.expect("catch up");
    writer.sync(None).await.expect("level");
    let mut samples = Vec::new();
    bench.proxy.take();
    let rounds = 50;
    for _ in 0..rounds {
        let started = Instant::now();
        let summary = reader.sync(None).await.expect("idle sync");
        samples.push(started.elapsed());
        assert_eq!(summary.received + summary.sent, 0, "idle");
    }
    let (up, down) = bench.proxy.take();
    (median(samples), (up + down) / rounds)
}

/// Syncs per second answered from `devices` devices syncing at once, and
/// how many were shed (503, the server's bound of requests) or failed
/// otherwise: counted, not fatal, as shedding load past the bound is meant.
async fn concurrent_idle_syncs(
    bench: &mut Bench,
    devices: usize,
    rounds: usize,
) -> (f64, u64, u64) {
    let mut notebooks = Vec::new();
    for d in 0..devices {
        notebooks.push(bench.device(&format!("PC5{d:02}")).await);
    }
    for nb in &notebooks {
        nb.sync(None).await.expect("warm up");
    }
    let started = Instant::now();
    let tasks: Vec<_> = notebooks
        .into_iter()
        .map(|nb| {
            tokio::spawn(async move {
                let (mut shed, mut failed) = (0, 0);
                for _ in 0..rounds {
                    match nb.sync(None).await {
                        Ok(_) => {}
                        // The server shedding load (503).
                        Err(e) if e.to_string().contains("503") => shed += 1,
                        Err(_) => failed += 1,
                    }
                }
                (shed, failed)
            })
        })
        .collect();
    let (mut shed, mut failed) = (0, 0);
    for task in tasks {
        let (s, f) = task.await.expect("device task");
        shed += s;
        failed += f;
    }
    let answered = (devices * rounds) as u64 - shed - failed;
    (
        answered as f64 / started.elapsed().as_secs_f64(),
        shed,
        failed,
    )
}

/// The same load against an axum handler that does nothing: the ceiling.
async fn concurrent_empty_handler(devices: usize, rounds: usize) -> f64 {
    let app = axum::Router::new().route(
        "/v1/sync",
        axum::routing::post(|_body: axum::body::Bytes| async { "{}" }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let started = Instant::now();
    let tasks: Vec<_> = (0..devices)
        .map(|_| {
            tokio::spawn(async move {
                // One client per device, as each device core keeps one.
                let client = reqwest::Client::new();
                for _ in 0..rounds {
                    client
                        .post(format!("http://{addr}/v1/sync"))
                        .header("authorization", "Bearer x")
                        .body(r#"{"protocol":1,"cursor":1,"push":[]}"#)
                        .send()
                        .await
                        .expect("post")
                        .bytes()
                        .await
                        .expect("body");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("client task");
    }
    (devices * rounds) as f64 / started.elapsed().as_secs_f64()
}

/// Measures the sync server with real device cores.
#[derive(Debug, Parser)]
#[command(name = "pocketbook-loadgen")]
struct Cli {
    /// Smaller benchmarks (2,000 records instead of 10,000; fewer rounds).
    #[arg(long)]
    quick: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Handsets edit and sync through a faulty link against the server
    /// binary for a while; reports sync latency, the server's memory over
    /// time and the final convergence (exit 1 if it did not converge).
    Soak {
        /// Handsets (two per officer, five officers per station).
        #[arg(long, default_value_t = 50)]
        devices: usize,
        /// How long the handsets edit and sync: 600, 600s, 10m, 1h.
        #[arg(long, default_value = "10m", value_parser = soak::parse_duration)]
        duration: Duration,
        /// Then how long the handsets keep syncing without editing (the
        /// store stops growing, so the server's memory should too).
        #[arg(long, default_value = "0s", value_parser = soak::parse_duration)]
        idle_tail: Duration,
        /// The chance that the proxy faults a request, 0.0 to 1.0.
        #[arg(long, default_value_t = 0.1)]
        fault_rate: f64,
        /// Seeds the faults and the edits (default: from the clock, printed).
        #[arg(long)]
        seed: Option<u64>,
        /// How often the server's resident memory is sampled.
        #[arg(long, default_value = "10s", value_parser = soak::parse_duration)]
        sample_every: Duration,
    },
    /// The scale-out figures of BENCHMARKS.md against server processes
    /// on SQLite and PostgreSQL (see the `scale` module).
    Scale(scale::ScaleArgs),
}

fn main() {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match cli.command {
        None => runtime.block_on(benchmarks(cli.quick)),
        Some(Command::Scale(args)) => {
            let options = args.options().unwrap_or_else(|why| {
                eprintln!("scale: {why}");
                std::process::exit(2);
            });
            if let Err(why) = runtime.block_on(scale::run(&options)) {
                eprintln!("scale failed: {why}");
                std::process::exit(1);
            }
        }
        Some(Command::Soak {
            devices,
            duration,
            idle_tail,
            fault_rate,
            seed,
            sample_every,
        }) => {
            if devices == 0 || !(0.0..=1.0).contains(&fault_rate) || sample_every.is_zero() {
                eprintln!(
                    "soak: --devices must be at least 1, --fault-rate between 0.0 and 1.0, --sample-every above 0"
                );
                std::process::exit(2);
            }
            let seed = seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64)
            });
            eprintln!("soak: seed {seed} (replay with --seed {seed})");
            let options = soak::SoakOptions {
                devices,
                duration,
                idle_tail,
                fault_rate,
                seed,
                sample_every,
            };
            match runtime.block_on(soak::run(&options)) {
                Ok(report) => println!("{report}"),
                Err(why) => {
                    eprintln!("soak failed (seed {seed}): {why}");
                    std::process::exit(1);
                }
            }
        }
    }
}

async fn benchmarks(quick: bool) {
    let (big, rounds) = if quick { (2_000, 5) } else { (10_000, 20) };
    // Each row is printed as soon as it is measured.
    println!("| scenario | time | requests | wire bytes | baseline |\n|---|---|---|---|---|");
    let mut bench = Bench::start().await;
    print!("{}", push_new_records(&mut bench, 1_000).await);

    let mut bench = Bench::start().await;
    let (small_latency, small_bytes) = idle_sync(&mut bench, 1_000, "PC2").await;
    let (big_latency, big_bytes) = idle_sync(&mut bench, big, "PC3").await;
    println!(
        "| idle sync, 1,000 records both sides | {:.2} ms median | 1 | {small_bytes} B | baseline |",
        small_latency.as_secs_f64() * 1000.0
    );
    println!(
        "| idle sync, {big} records both sides | {:.2} ms median | 1 | {big_bytes} B | latency ratio {:.2}, bytes ratio {:.2} |",
        big_latency.as_secs_f64() * 1000.0,
        big_latency.as_secs_f64() / small_latency.as_secs_f64(),
        big_bytes as f64 / small_bytes as f64
    );

    let mut bench = Bench::start().await;
    let empty = concurrent_empty_handler(50, rounds).await;
    let (syncs, shed, failed) = concurrent_idle_syncs(&mut bench, 50, rounds).await;
    println!(
        "| 50 devices syncing at once (idle syncs) | {syncs:.0} syncs/s answered | {} ({shed} shed with 503, {failed} failed otherwise) | — | empty axum handler, same load: {empty:.0} req/s; ratio {:.2} |",
        50 * rounds,
        syncs / empty
    );
}
