//! The force-scale simulation: tens of thousands of enrolled devices
//! (officers and devices inserted straight into PostgreSQL, each device's
//! token `force-token-<n>`), an open-loop load of idle syncs and record
//! writes at fixed rates for minutes against several instances on one
//! PostgreSQL, requests spread over the instances in turn as a load
//! balancer would. Reports latency (p50, p99, max) per kind, shed
//! requests (503) and errors, each instance's peak memory, and the CPU
//! time per request of the servers and of PostgreSQL, from which the cost
//! at ten times the load is calculated.
//!
//! An idle sync is a device with nothing to push asking from the newest
//! feed position any answer has shown (it has nothing to receive); a write
//! pushes one new record made by a real device core, from one of the
//! writers (50 by default, each its own officer). Rates are kept by the clock, not by the
//! answers: a slow server faces the same arrivals (open loop). The load
//! generator is the instances' trusted proxy, as a load balancer would be.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pocketbook_core::sync::wire::PushedRecord;

use super::parts::{self, Backend, Failure, Store, Wire, blocking, load, ms, quantile};

/// The simulation's sizes and rates.
#[derive(Debug, Clone)]
pub struct ForceOptions {
    pub devices: usize,
    pub duration: Duration,
    pub idle_rate: u32,
    pub write_rate: u32,
    pub instances: usize,
    /// Writers (one device of its own officer each).
    pub writers: usize,
    /// Idle devices carry their own cursors (from the feed's start, then
    /// each answer's), instead of asking from the newest position: a
    /// device that last synced a while ago reads past the entries written
    /// since, out of its scope or not.
    pub own_cursors: bool,
}

/// Officers the simulated devices belong to (three devices each).
const DEVICES_PER_OFFICER: usize = 3;
/// Requests in flight at most; an arrival beyond it is counted as an
/// error (the load generator, not the server, fell behind).
const MAX_IN_FLIGHT: usize = 4_096;

#[derive(Default)]
struct Tally {
    latencies: Mutex<Vec<Duration>>,
    shed: AtomicUsize,
    errors: AtomicUsize,
    first_error: Mutex<Option<String>>,
}

impl Tally {
    fn record(&self, started: Instant, outcome: &Result<u64, Failure>) {
        match outcome {
            Ok(_) => self.latencies.lock().unwrap().push(started.elapsed()),
            Err(Failure::Shed) => {
                self.shed.fetch_add(1, Ordering::Relaxed);
            }
            Err(Failure::Error(e)) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.first_error
                    .lock()
                    .unwrap()
                    .get_or_insert_with(|| e.clone());
            }
        }
    }

    fn row(&self, what: &str, elapsed: Duration) -> String {
        let mut l = self.latencies.lock().unwrap().clone();
        l.sort();
        let errors = self.errors.load(Ordering::Relaxed);
        format!(
            "| {what} | {} | {:.0}/s | {} | {} | {} | {} | {errors}{} |\n",
            l.len(),
            l.len() as f64 / elapsed.as_secs_f64(),
            ms(quantile(&l, 0.5)),
            ms(quantile(&l, 0.99)),
            ms(l.last().copied().unwrap_or_default()),
            self.shed.load(Ordering::Relaxed),
            self.first_error
                .lock()
                .unwrap()
                .as_ref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        )
    }
}

/// Inserts the officers and devices straight into the store's schema.
fn enrol_fleet(store: &Store, devices: usize) -> Result<(), String> {
    let devices = i32::try_from(devices).map_err(|e| e.to_string())?;
    let officers = (devices as usize).div_ceil(DEVICES_PER_OFFICER).max(1) as i32;
    store.sql(|c| {
        c.execute(
            "INSERT INTO officers (shoulder_number, name, station, role, active)
             SELECT 'F' || o, 'Officer F' || o, 'Station ' || (o % 200), 'officer', TRUE
             FROM generate_series(0, $1::int - 1) o",
            &[&officers],
        )?;
        c.execute(
            "INSERT INTO devices (id, officer, token_hash, label, enrolled_at)
             SELECT 'force-' || i, 'F' || (i % $2::int),
                    sha256(convert_to('force-token-' || i, 'UTF8')), 'loadgen', $3
             FROM generate_series(0, $1::int - 1) i",
            &[&devices, &officers, &parts::AT],
        )?;
        Ok(())
    })
}

/// Runs the simulation against `instances` servers on a fresh schema of
/// the PostgreSQL at `url`; its Markdown report.
pub async fn run(url: &str, postgres_pid: Option<u32>, o: &ForceOptions) -> Result<String, String> {
    let writer_total = o.writers.max(1);
    let writes = (o.write_rate as f64 * o.duration.as_secs_f64()).ceil() as usize + writer_total;
    eprintln!("force: making {writes} records with {writer_total} device cores");
    let per_writer = writes.div_ceil(writer_total);
    let mut records: Vec<Vec<PushedRecord>> = Vec::new();
    for w in 0..writer_total {
        records.push(parts::records_of(&format!("W{w}"), per_writer));
    }
    let store = Store::new(&Backend::Postgres(url.to_string()))?;
    let admin = store.open()?;
    let started = Instant::now();
    enrol_fleet(&store, o.devices)?;
    let mut writers = Vec::new();
    for w in 0..writer_total {
        let officer = pocketbook_fixtures::officer(&format!("W{w}"));
        writers.push(parts::enrol(
            admin.as_ref(),
            &officer.shoulder_number,
            &officer.station,
            &format!("writer-{w}"),
        )?);
    }
    eprintln!(
        "force: {} devices and {writer_total} writers enrolled in {:?}",
        o.devices,
        started.elapsed()
    );
    // The load generator stands where the load balancer would: a trusted
    // proxy, as README "Behind a reverse proxy" configures it, so the
    // per-client connection cap (meant for members of the public) does
    // not apply to it.
    let config = store.data.path().join("server.toml");
    std::fs::write(&config, "trusted_proxies = [\"127.0.0.1\"]\n").map_err(|e| e.to_string())?;
    let config = config.display().to_string();
    let servers: Vec<_> = (0..o.instances.max(1))
        .map(|_| store.serve(&[("POCKETBOOK_CONFIG", &config)]))
        .collect();
    let urls: Arc<Vec<String>> = Arc::new(servers.iter().map(|s| s.url()).collect());
    let pids: Vec<u32> = servers.iter().map(|s| s.pid()).collect();
    let wire = Wire::new();
    // Every instance answers once before the clock starts.
    for url in urls.iter() {
        wire.sync(url, "force-token-0", Wire::body(None, &[]))
            .await
            .map_err(|e| format!("warm up: {e:?}"))?;
    }

    let head = Arc::new(AtomicU64::new(0));
    let idle = Arc::new(Tally::default());
    let write = Arc::new(Tally::default());
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peaks = Arc::new(Mutex::new(vec![0u64; pids.len()]));
    let cpu_before: Duration = pids.iter().filter_map(|p| parts::cpu_time(*p)).sum();
    let pg_before = postgres_pid.map(parts::tree_cpu_time);
    let load_before = load();
    let begin = Instant::now();
    let until = begin + o.duration;

    let sampler = {
        let (pids, peaks) = (pids.clone(), peaks.clone());
        tokio::spawn(async move {
            while Instant::now() < until {
                for (i, pid) in pids.iter().enumerate() {
                    let rss = parts::rss_kib(*pid).unwrap_or(0);
                    let mut p = peaks.lock().unwrap();
                    p[i] = p[i].max(rss);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let next = Arc::new(AtomicUsize::new(0));
    let idle_stream = {
        let (wire, urls, head, tally, in_flight, next) = (
            wire.clone(),
            urls.clone(),
            head.clone(),
            idle.clone(),
            in_flight.clone(),
            next.clone(),
        );
        let devices = o.devices;
        let own: Arc<Vec<AtomicU64>> = Arc::new(if o.own_cursors {
            (0..devices).map(|_| AtomicU64::new(0)).collect()
        } else {
            Vec::new()
        });
        stream(o.idle_rate, until, move |n| {
            let own = own.clone();
            let (wire, urls, head, tally, in_flight) = (
                wire.clone(),
                urls.clone(),
                head.clone(),
                tally.clone(),
                in_flight.clone(),
            );
            let server = urls[next.fetch_add(1, Ordering::Relaxed) % urls.len()].clone();
            async move {
                if in_flight.fetch_add(1, Ordering::Relaxed) >= MAX_IN_FLIGHT {
                    tally.record(
                        Instant::now(),
                        &Err(Failure::Error("load generator behind".into())),
                    );
                } else {
                    let device = n % devices;
                    let token = format!("force-token-{device}");
                    let from = match own.get(device) {
                        Some(cursor) => cursor.load(Ordering::Relaxed),
                        None => head.load(Ordering::Relaxed),
                    };
                    let body = Wire::body(Some(from), &[]);
                    let started = Instant::now();
                    let outcome = wire.sync(&server, &token, body).await.map(|a| a.cursor);
                    if let Ok(cursor) = &outcome {
                        head.fetch_max(*cursor, Ordering::Relaxed);
                        if let Some(mine) = own.get(device) {
                            mine.fetch_max(*cursor, Ordering::Relaxed);
                        }
                    }
                    tally.record(started, &outcome);
                }
                in_flight.fetch_sub(1, Ordering::Relaxed);
            }
        })
    };
    let cursors: Arc<Vec<AtomicU64>> =
        Arc::new((0..writer_total).map(|_| AtomicU64::new(0)).collect());
    let records = Arc::new(records);
    let writers = Arc::new(writers);
    let write_stream = {
        let (wire, urls, head, tally, in_flight, next) = (
            wire.clone(),
            urls.clone(),
            head.clone(),
            write.clone(),
            in_flight.clone(),
            next.clone(),
        );
        stream(o.write_rate, until, move |n| {
            let writer_count = cursors.len();
            let (wire, urls, head, tally, in_flight, cursors, records, writers) = (
                wire.clone(),
                urls.clone(),
                head.clone(),
                tally.clone(),
                in_flight.clone(),
                cursors.clone(),
                records.clone(),
                writers.clone(),
            );
            let server = urls[next.fetch_add(1, Ordering::Relaxed) % urls.len()].clone();
            async move {
                let (w, i) = (n % writer_count, n / writer_count);
                if i >= records[w].len() {
                    return;
                }
                in_flight.fetch_add(1, Ordering::Relaxed);
                let body = Wire::body(Some(cursors[w].load(Ordering::Relaxed)), &records[w][i..=i]);
                let started = Instant::now();
                let outcome = wire.sync(&server, &writers[w], body).await.and_then(|a| {
                    if a.acknowledged.len() == 1 {
                        Ok(a.cursor)
                    } else {
                        Err(Failure::Error(format!(
                            "a write was not acknowledged: {:?}",
                            a.rejected.first().map(|r| &r.message)
                        )))
                    }
                });
                if let Ok(cursor) = &outcome {
                    cursors[w].fetch_max(*cursor, Ordering::Relaxed);
                    head.fetch_max(*cursor, Ordering::Relaxed);
                }
                tally.record(started, &outcome);
                in_flight.fetch_sub(1, Ordering::Relaxed);
            }
        })
    };
    let (sent_idle, sent_writes) = (
        idle_stream.await.map_err(|e| e.to_string())?,
        write_stream.await.map_err(|e| e.to_string())?,
    );
    // The last answers arrive.
    while in_flight.load(Ordering::Relaxed) > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = begin.elapsed();
    sampler.await.map_err(|e| e.to_string())?;
    let server_cpu = pids
        .iter()
        .filter_map(|p| parts::cpu_time(*p))
        .sum::<Duration>()
        .saturating_sub(cpu_before);
    let pg_cpu = postgres_pid
        .zip(pg_before)
        .map(|(pid, before)| parts::tree_cpu_time(pid).saturating_sub(before));
    let load_after = load();
    let peaks = peaks.lock().unwrap().clone();
    for server in servers {
        blocking(|| server.stop());
    }
    drop(admin);

    let answered = idle.latencies.lock().unwrap().len() + write.latencies.lock().unwrap().len();
    let requests = (sent_idle + sent_writes).max(1) as f64;
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / requests;
    let mut out = format!(
        "### Force-scale simulation: {} devices, {} idle syncs/s and {} writes/s for {:?}, {} instances on one PostgreSQL{}\n\n\
         | kind | answered | rate | p50 | p99 | max | shed (503) | errors |\n|---|---|---|---|---|---|---|---|\n",
        o.devices,
        o.idle_rate,
        o.write_rate,
        o.duration,
        pids.len(),
        if o.own_cursors {
            ", idle devices on their own cursors"
        } else {
            ""
        }
    );
    out.push_str(&idle.row("idle sync", elapsed));
    out.push_str(&write.row("write (one new record)", elapsed));
    out.push_str(&format!(
        "\n- sent: {sent_idle} idle syncs, {sent_writes} writes; answered {answered}; load average {load_before} before, {load_after} after\n\
         - server RSS, peak per instance: {}\n\
         - CPU time per request: servers {:.3} ms{}\n",
        peaks.iter().map(|k| format!("{:.1} MiB", *k as f64 / 1024.0)).collect::<Vec<_>>().join(", "),
        per(server_cpu),
        pg_cpu.map(|c| format!(", PostgreSQL {:.3} ms; together {:.3} ms, so {:.2} cores busy at this load", per(c), per(c) + per(server_cpu), (c + server_cpu).as_secs_f64() / elapsed.as_secs_f64())).unwrap_or_default(),
    ));
    Ok(out)
}

/// Calls `request(n)` for n = 0, 1, 2... at `rate` per second until
/// `until`, each on a task of its own (open loop); how many it started.
fn stream<F, Fut>(rate: u32, until: Instant, request: F) -> tokio::task::JoinHandle<usize>
where
    F: Fn(usize) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        if rate == 0 {
            return 0;
        }
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut n = 0;
        while Instant::now() < until {
            tick.tick().await;
            tokio::spawn(request(n));
            n += 1;
        }
        n
    })
}
