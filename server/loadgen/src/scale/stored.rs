//! The scale scenarios of one server on a big store: idle syncs and the
//! server's memory with many records stored (copies of real ones written
//! straight into the store), against an empty store; and a cold download
//! of many records to a new device core, against their upload.

use std::time::{Duration, Instant};

use pocketbook_core::sync::wire::{MAX_PUSH_RECORDS, PushedRecord};

use super::parts::{self, Backend, Store, Wire, blocking, load, ms, quantile};

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
    if let Some(pause) = std::env::var("POCKETBOOK_LOADGEN_SETTLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        // Lets the server's start-up schedules (retention, the promise
        // gauges, which read every stored record) finish first, to tell
        // their cost from the sync's.
        tokio::time::sleep(Duration::from_secs(pause)).await;
    }
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

/// Idle syncs and server memory with `stored` records stored, against an empty store.
pub(super) async fn stored(
    backends: &[Backend],
    records: &[PushedRecord],
    stored: usize,
) -> Result<String, String> {
    let mut out = format!(
        "### Idle sync and server memory with {} records stored\n\n| backend | stored | first sync (from position 0) | idle sync p50 | p99 | server RSS | p50 / empty store | load |\n|---|---|---|---|---|---|---|---|\n",
        stored
    );
    for backend in backends {
        let mut empty = Duration::ZERO;
        for n in [0, stored] {
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
pub(super) async fn cold(backends: &[Backend], records: &[PushedRecord]) -> Result<String, String> {
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
