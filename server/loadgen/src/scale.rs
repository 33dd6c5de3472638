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
        section(stored(&backends, &records, options).await?);
    }
    if wanted("cold") {
        section(cold(&backends, &records[..options.cold]).await?);
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

/// `records`' commits copied under new ids and references until there
/// are `n`, written straight into the store in requests of 500.
fn fill(store: &Store, records: &[PushedRecord], n: usize) -> Result<(), String> {
    if n == 0 {
        return Ok(());
    }
    let base = parts::commits(&records[..records.len().min(1_000)]);
    let admin = store.open()?;
    blocking(|| {
        let mut batch = Vec::with_capacity(MAX_PUSH_RECORDS);
        for i in 0..n {
            let mut commit = base[i % base.len()].clone();
            commit.index.id = format!("{}-{i}", commit.index.id);
            commit.index.reference = format!("{}-{i}", commit.index.reference);
            batch.push(commit);
            if batch.len() == MAX_PUSH_RECORDS || i + 1 == n {
                admin.commit_records(&batch).map_err(|e| e.to_string())?;
                batch.clear();
            }
        }
        Ok(())
    })
}

/// Idle syncs of a device with nothing new, with `n` records stored (none
/// of them in its scope): first sync, then latency over 50 idle syncs, and
/// the server's memory after them.
async fn idle_with(
    backend: &Backend,
    records: &[PushedRecord],
    n: usize,
) -> Result<(Duration, Duration, Duration, u64), String> {
    let store = Store::new(backend)?;
    fill(&store, records, n)?;
    let token = parts::enrol(store.open()?.as_ref(), "PC900", "Elsewhere", "idle")?;
    let server = store.serve(&[]);
    let wire = Wire::new();
    let started = Instant::now();
    let mut cursor = None;
    loop {
        let answer = wire
            .sync(&server.url(), &token, Wire::body(cursor, &[]))
            .await
            .map_err(|e| format!("{e:?}"))?;
        cursor = Some(answer.cursor);
        if !answer.more {
            break;
        }
    }
    let first = started.elapsed();
    let mut samples = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let answer = wire
            .sync(&server.url(), &token, Wire::body(cursor, &[]))
            .await
            .map_err(|e| format!("{e:?}"))?;
        samples.push(started.elapsed());
        if !answer.changes.is_empty() {
            return Err("an idle sync received changes".into());
        }
    }
    samples.sort();
    let rss = parts::rss_kib(server.pid()).unwrap_or(0);
    blocking(|| server.stop());
    Ok((
        first,
        quantile(&samples, 0.5),
        quantile(&samples, 0.99),
        rss,
    ))
}

/// Idle syncs and server memory with `options.stored` records stored, against an empty store.
async fn stored(
    backends: &[Backend],
    records: &[PushedRecord],
    options: &ScaleOptions,
) -> Result<String, String> {
    let mut out = format!(
        "### Idle sync and server memory with {} records stored\n\n| backend | stored | first sync (reads past every entry) | idle sync p50 | p99 | server RSS | p50 / empty store | load |\n|---|---|---|---|---|---|---|---|\n",
        options.stored
    );
    for backend in backends {
        let mut empty = Duration::ZERO;
        for n in [0, options.stored] {
            let load_before = load();
            let (first, p50, p99, rss) = idle_with(backend, records, n).await?;
            if n == 0 {
                empty = p50;
            }
            out.push_str(&format!(
                "| {} | {n} | {} | {} | {} | {:.1} MiB | {:.2} | {load_before} → {} |\n",
                backend.name(),
                ms(first),
                ms(p50),
                ms(p99),
                rss as f64 / 1024.0,
                p50.as_secs_f64() / empty.as_secs_f64(),
                load()
            ));
        }
    }
    Ok(out)
}

/// A new device of the records' officer downloading all of `records`,
/// against the time their upload took.
async fn cold(backends: &[Backend], records: &[PushedRecord]) -> Result<String, String> {
    let n = records.len();
    let mut out = format!(
        "### Cold download of {n} records to a new device (a device core)\n\n| backend | upload (baseline) | cold download | requests | records/s | download / upload | load |\n|---|---|---|---|---|---|---|\n"
    );
    for backend in backends {
        let store = Store::new(backend)?;
        let admin = store.open()?;
        let token = parts::enrol(admin.as_ref(), "PC1", &parts::author().station, "writer")?;
        let server = store.serve(&[]);
        let wire = Wire::new();
        wire.sync(&server.url(), &token, Wire::body(None, &[]))
            .await
            .map_err(|e| format!("warm up: {e:?}"))?;
        let load_before = load();
        let started = Instant::now();
        wire.push_all(&server.url(), &token, records).await?;
        let upload = started.elapsed();
        let code = pocketbook_server::auth::new_enrolment_code();
        let canonical = pocketbook_server::auth::normalise_code(&code).ok_or("code")?;
        blocking(|| {
            admin.add_enrolment_code(
                &pocketbook_server::auth::hash(&canonical),
                "PC1",
                i64::MAX / 2,
                parts::AT,
                &[],
            )
        })
        .map_err(|e| e.to_string())?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let notebook = pocketbook_core::api::enrol_device(
            dir.path().display().to_string(),
            server.url(),
            code,
            "cold".into(),
        )
        .await
        .map_err(|e| format!("enrol: {e}"))?;
        let started = Instant::now();
        let summary = notebook
            .sync(None)
            .await
            .map_err(|e| format!("cold sync: {e}"))?;
        let download = started.elapsed();
        if summary.received as usize != n {
            return Err(format!(
                "the new device received {} of {n} records",
                summary.received
            ));
        }
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {:.2} | {load_before} → {} |\n",
            backend.name(),
            ms(upload),
            ms(download),
            summary.requests,
            n as f64 / download.as_secs_f64(),
            download.as_secs_f64() / upload.as_secs_f64(),
            load()
        ));
        blocking(|| server.stop());
    }
    Ok(out)
}
