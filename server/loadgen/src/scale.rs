//! The scale-out scenarios (`pocketbook-loadgen scale`): the figures of
//! `BENCHMARKS.md` "Scale-out", measured in one run against real
//! `pocketbook-server` processes on SQLite and on PostgreSQL, each beside
//! a baseline of the same run, with the load average beside each:
//!
//! - **push**: 1,000 new records pushed (two requests of 500), grouped
//!   (the default) against one transaction per record
//!   (`POCKETBOOK_PUSH_COMMIT=per-record`) and against the storage floor
//!   (the very commits written with `Storage::commit_records` from here);
//! - **instances**: 50 devices writing and syncing through one instance,
//!   then through two on one PostgreSQL;
//! - **stored**: idle-sync latency and server memory with 100,000 records
//!   stored, against an empty store;
//! - **cold**: a new device downloading 10,000 records, against their upload;
//! - **force** ([`force`]): 30,000 enrolled devices, 500 idle syncs/s and
//!   50 record writes/s for 5 minutes against two instances on PostgreSQL.
//!
//! Records are made by a real device core (the fixtures' officer); the
//! 100,000 stored are copies of 1,000 of them under new ids, written
//! straight into the store. The smoke test (`server/loadgen/tests/scale.rs`)
//! runs every scenario at tiny sizes so none can rot.

pub mod force;
pub mod parts;
mod stored;

use std::time::{Duration, Instant};

use pocketbook_core::sync::wire::{MAX_PUSH_RECORDS, PushedRecord};
use pocketbook_server::storage::RecordCommit;

use parts::{Backend, Failure, Store, Wire, blocking, load, ms, quantile};

/// What to measure, and how much.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    /// A PostgreSQL server (`postgres://...`) for the PostgreSQL runs;
    /// without it only SQLite is measured.
    pub postgres: Option<String>,
    /// The PostgreSQL server's postmaster pid, to read its CPU time.
    pub postgres_pid: Option<u32>,
    pub push_records: usize,
    pub repeat: usize,
    pub devices: usize,
    pub rounds: usize,
    pub stored: usize,
    pub cold: usize,
    pub force: force::ForceOptions,
    /// Only this scenario (push, instances, stored, cold, force); all when `None`.
    pub only: Option<String>,
}

/// The command line of `pocketbook-loadgen scale`.
#[derive(Debug, clap::Args)]
pub struct ScaleArgs {
    /// A PostgreSQL server for the PostgreSQL runs (each run makes a
    /// schema of its own in it); default: $POCKETBOOK_TEST_DATABASE_URL.
    #[arg(long)]
    pub postgres: Option<String>,
    /// Its postmaster's pid, to report PostgreSQL's CPU per request.
    #[arg(long)]
    pub postgres_pid: Option<u32>,
    #[arg(long, default_value_t = 1_000)]
    pub push_records: usize,
    /// Each push measurement is the median of this many.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Devices writing through one and then two instances.
    #[arg(long, default_value_t = 50)]
    pub devices: usize,
    /// Syncs (one new record each) per device in that scenario.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    /// Records stored for the idle-sync and memory figures.
    #[arg(long, default_value_t = 100_000)]
    pub stored: usize,
    /// Records a new device downloads.
    #[arg(long, default_value_t = 10_000)]
    pub cold: usize,
    /// Enrolled devices in the force-scale simulation.
    #[arg(long, default_value_t = 30_000)]
    pub force_devices: usize,
    #[arg(long, default_value = "5m", value_parser = crate::soak::parse_duration)]
    pub force_duration: Duration,
    #[arg(long, default_value_t = 500)]
    pub idle_rate: u32,
    #[arg(long, default_value_t = 50)]
    pub write_rate: u32,
    #[arg(long, default_value_t = 2)]
    pub instances: usize,
    /// Writers in the simulation, each a device of its own officer.
    #[arg(long, default_value_t = 50)]
    pub writers: usize,
    /// Idle devices in the simulation carry their own cursors instead
    /// of asking from the newest feed position.
    #[arg(long)]
    pub own_cursors: bool,
    /// Only one scenario.
    #[arg(long, value_parser = ["push", "instances", "stored", "cold", "force"])]
    pub only: Option<String>,
}

impl ScaleArgs {
    /// The options these arguments ask for, or why they cannot be run.
    pub fn options(self) -> Result<ScaleOptions, String> {
        if [
            self.push_records,
            self.repeat,
            self.devices,
            self.rounds,
            self.cold,
            self.force_devices,
        ]
        .contains(&0)
        {
            return Err("sizes, devices, rounds and repeats must be at least 1".into());
        }
        let postgres = self.postgres.or_else(|| {
            std::env::var("POCKETBOOK_TEST_DATABASE_URL")
                .ok()
                .filter(|u| !u.trim().is_empty())
        });
        Ok(ScaleOptions {
            postgres,
            postgres_pid: self.postgres_pid,
            push_records: self.push_records,
            repeat: self.repeat,
            devices: self.devices,
            rounds: self.rounds,
            stored: self.stored,
            cold: self.cold,
            force: force::ForceOptions {
                devices: self.force_devices,
                duration: self.force_duration,
                idle_rate: self.idle_rate,
                write_rate: self.write_rate,
                instances: self.instances,
                writers: self.writers,
                own_cursors: self.own_cursors,
            },
            only: self.only,
        })
    }
}

/// Runs every scenario, printing each table as it is measured; the whole
/// report, or why a scenario failed.
pub async fn run(options: &ScaleOptions) -> Result<String, String> {
    let mut backends = vec![Backend::Sqlite];
    if let Some(url) = &options.postgres {
        backends.push(Backend::Postgres(url.clone()));
    }
    let mut report = String::new();
    let mut section = |text: String| {
        println!("{text}");
        report.push_str(&text);
        report.push('\n');
    };
    let wanted = |name: &str| options.only.as_deref().is_none_or(|only| only == name);
    let needed = options
        .cold
        .max(options.push_records)
        .max(options.devices * options.rounds)
        .max(1_000.min(options.stored.max(1)));
    let records = if ["push", "instances", "stored", "cold"]
        .iter()
        .any(|s| wanted(s))
    {
        eprintln!("scale: making {needed} records with a device core");
        parts::records(needed)
    } else {
        Vec::new()
    };
    if wanted("push") {
        section(push(&backends, &records[..options.push_records], options).await?);
    }
    if let Some(url) = options.postgres.as_ref().filter(|_| wanted("instances")) {
        let records = &records[..options.devices * options.rounds];
        section(instances(&Backend::Postgres(url.clone()), records, options).await?);
    }
    if wanted("stored") {
        section(stored::stored(&backends, &records, options.stored).await?);
    }
    if wanted("cold") {
        section(stored::cold(&backends, &records[..options.cold]).await?);
    }
    if let Some(url) = options.postgres.as_ref().filter(|_| wanted("force")) {
        section(force::run(url, options.postgres_pid, &options.force).await?);
    }
    Ok(report)
}

/// Pushes `records` to a fresh store's server started with `env`: the
/// time, and the server's CPU time during the push.
async fn push_once(
    backend: &Backend,
    records: &[PushedRecord],
    env: &[(&str, &str)],
) -> Result<(Duration, Duration), String> {
    let store = Store::new(backend)?;
    let token = parts::enrol(
        store.open()?.as_ref(),
        "PC1",
        &parts::author().station,
        "pusher",
    )?;
    let server = store.serve(env);
    let wire = Wire::new();
    // The server's first answer (its pool's first connections) is not timed.
    wire.sync(&server.url(), &token, Wire::body(None, &[]))
        .await
        .map_err(|e| format!("warm up: {e:?}"))?;
    let cpu = parts::cpu_time(server.pid()).unwrap_or_default();
    let started = Instant::now();
    wire.push_all(&server.url(), &token, records).await?;
    let elapsed = started.elapsed();
    let cpu = parts::cpu_time(server.pid())
        .unwrap_or_default()
        .saturating_sub(cpu);
    blocking(|| server.stop());
    Ok((elapsed, cpu))
}

/// The prepared commits written with `commit_records` in requests of 500
/// to a fresh store: the storage floor.
fn floor_once(backend: &Backend, commits: &[RecordCommit]) -> Result<Duration, String> {
    let store = Store::new(backend)?;
    let admin = store.open()?;
    blocking(|| {
        let started = Instant::now();
        for request in commits.chunks(MAX_PUSH_RECORDS) {
            let results = admin.commit_records(request).map_err(|e| e.to_string())?;
            if !results.iter().all(Result::is_ok) {
                return Err("the floor's commits were refused".to_string());
            }
        }
        Ok(started.elapsed())
    })
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Push of `records` grouped, per record and at the storage floor, on each backend.
async fn push(
    backends: &[Backend],
    records: &[PushedRecord],
    options: &ScaleOptions,
) -> Result<String, String> {
    let commits = parts::commits(records);
    let n = records.len();
    let mut out = format!(
        "### Push of {n} new records (median of {})\n\n| backend | per record | grouped | storage floor | grouped / per record | grouped / floor | server CPU per record, grouped | load |\n|---|---|---|---|---|---|---|---|\n",
        options.repeat
    );
    for backend in backends {
        let (mut per, mut grouped, mut floor, mut cpu) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let load_before = load();
        for _ in 0..options.repeat {
            per.push(
                push_once(
                    backend,
                    records,
                    &[("POCKETBOOK_PUSH_COMMIT", "per-record")],
                )
                .await?
                .0,
            );
            let (time, used) = push_once(backend, records, &[]).await?;
            grouped.push(time);
            cpu.push(used);
            floor.push(floor_once(backend, &commits)?);
        }
        let (per, grouped, floor, cpu) = (median(per), median(grouped), median(floor), median(cpu));
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:.3} ms | {load_before} → {} |\n",
            backend.name(),
            ms(per),
            ms(grouped),
            ms(floor),
            grouped.as_secs_f64() / per.as_secs_f64(),
            grouped.as_secs_f64() / floor.as_secs_f64(),
            cpu.as_secs_f64() * 1000.0 / n as f64,
            load()
        ));
    }
    Ok(out)
}

/// One device's closed loop: each round pushes its next record and takes
/// the feed from its cursor on. Latencies, shed requests, errors.
async fn device_loop(
    wire: Wire,
    server: String,
    token: String,
    records: Vec<PushedRecord>,
) -> (Vec<Duration>, usize, Vec<String>) {
    let (mut latencies, mut shed, mut errors) = (Vec::new(), 0, Vec::new());
    let mut cursor = None;
    for record in records {
        let started = Instant::now();
        match wire
            .sync(&server, &token, Wire::body(cursor, &[record]))
            .await
        {
            Ok(answer) => {
                latencies.push(started.elapsed());
                cursor = Some(answer.cursor);
            }
            Err(Failure::Shed) => shed += 1,
            Err(Failure::Error(e)) => errors.push(e),
        }
    }
    (latencies, shed, errors)
}

/// `devices` devices writing and syncing through one instance, then two,
/// on one PostgreSQL.
async fn instances(
    backend: &Backend,
    records: &[PushedRecord],
    options: &ScaleOptions,
) -> Result<String, String> {
    let mut out = format!(
        "### {} devices writing through one and two instances ({}, {} syncs of one new record each)\n\n| instances | syncs/s | p50 | p99 | shed (503) | errors | load |\n|---|---|---|---|---|---|---|\n",
        options.devices,
        backend.name(),
        options.rounds
    );
    let mut single = 0.0;
    for count in [1, 2] {
        let store = Store::new(backend)?;
        let admin = store.open()?;
        let mut tokens = Vec::new();
        for d in 0..options.devices {
            tokens.push(parts::enrol(
                admin.as_ref(),
                "PC1",
                &parts::author().station,
                &format!("dev-{d}"),
            )?);
        }
        let servers: Vec<_> = (0..count).map(|_| store.serve(&[])).collect();
        let wire = Wire::new();
        for (server, token) in servers.iter().zip(&tokens) {
            wire.sync(&server.url(), token, Wire::body(None, &[]))
                .await
                .map_err(|e| format!("warm up: {e:?}"))?;
        }
        let load_before = load();
        let started = Instant::now();
        let tasks: Vec<_> = tokens
            .into_iter()
            .enumerate()
            .map(|(d, token)| {
                let mine = records[d * options.rounds..(d + 1) * options.rounds].to_vec();
                tokio::spawn(device_loop(
                    wire.clone(),
                    servers[d % count].url(),
                    token,
                    mine,
                ))
            })
            .collect();
        let (mut latencies, mut shed, mut errors) = (Vec::new(), 0, Vec::new());
        for task in tasks {
            let (l, s, e) = task.await.map_err(|e| e.to_string())?;
            latencies.extend(l);
            shed += s;
            errors.extend(e);
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let rate = latencies.len() as f64 / elapsed.as_secs_f64();
        if count == 1 {
            single = rate;
        }
        out.push_str(&format!(
            "| {count} | {rate:.0}{} | {} | {} | {shed} | {}{} | {load_before} → {} |\n",
            if count == 2 {
                format!(" ({:.2} × one)", rate / single)
            } else {
                String::new()
            },
            ms(quantile(&latencies, 0.5)),
            ms(quantile(&latencies, 0.99)),
            errors.len(),
            errors
                .first()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default(),
            load()
        ));
        for server in servers {
            blocking(|| server.stop());
        }
    }
    Ok(out)
}
