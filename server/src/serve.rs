//! The running server: opens the store, binds the listeners, serves the
//! router through the connection edge (over TLS when it has a certificate),
//! and runs the schedules (retention, rate-limit summaries, certificate
//! reloads on SIGHUP, the overdue-promise gauges) for as long as it serves.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::ServerConfig;
use crate::storage::{self, Storage};
use crate::{http, retention};

/// A server started on a listener; dropping it does not stop it, call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when `metrics_listen` is configured.
    pub metrics_addr: Option<SocketAddr>,
    /// Whether the server terminates TLS itself (`https://` URLs).
    tls: bool,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// The base URL devices use, e.g. `http://127.0.0.1:8650`, or
    /// `https://...` when the server terminates TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting connections, finishes in-flight requests, and waits.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            // The server may already have stopped; then there is nothing to signal.
            if tx.send(true).is_err() {
                tracing::debug!("server already stopped");
            }
        }
        self.task.await.map_err(std::io::Error::other)?
    }

    /// Stops at once, dropping in-flight requests, as a crash would, and
    /// waits until the listener is closed.
    pub async fn kill(self) {
        self.task.abort();
        // The task's result is the abort itself; nothing more to learn from it.
        if let Err(e) = self.task.await {
            tracing::debug!(cancelled = e.is_cancelled(), "server task ended");
        }
    }
}

/// Opens the configured storage and serves on `config.listen` (port 0 picks a free port).
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    // Opening blocks (a file, or PostgreSQL's synchronous client): off the runtime.
    let (dir, url) = (config.data_dir.clone(), config.database_url.clone());
    let storage = tokio::task::spawn_blocking(move || storage::open(&dir, url.as_deref()))
        .await
        .map_err(|_| storage::StorageError::backend("opening the store did not finish"))??;
    start_with(config, storage).await
}

/// Serves an already opened storage backend.
pub async fn start_with(
    config: ServerConfig,
    storage: Arc<dyn Storage>,
) -> Result<RunningServer, StartError> {
    let config_tls = config.tls.is_some();
    let tls = match config.tls.clone() {
        Some(files) => {
            // Checked when read: each one is a pin.
            let next = config
                .next_pins
                .iter()
                .map(|pin| pocketbook_core::tls_pin::Pin::parse(pin))
                .collect::<Result<Vec<_>, _>>()
                .map_err(StartError::Tls)?;
            Some(
                crate::tls::Tls::load(files, &config.device_pins, &next)
                    .map_err(StartError::Tls)?,
            )
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let metrics_listener = match config.metrics_listen {
        Some(at) => Some(tokio::net::TcpListener::bind(at).await?),
        None => None,
    };
    let metrics_addr = metrics_listener
        .as_ref()
        .map(tokio::net::TcpListener::local_addr)
        .transpose()?;
    let reloads = tls
        .clone()
        .map(|tls| tokio::spawn(crate::tls::reload_on_hangup(tls)));
    let state = http::AppState::new(storage.clone(), config.clone());
    let retention = tokio::spawn(retention_schedule(storage, config, state.clone()));
    refresh_salt(&state).await?;
    let summaries = tokio::spawn(throttle_summaries(state.clone()));
    let salts = tokio::spawn(salt_schedule(state.clone()));
    let promises = tokio::spawn(crate::pledge::gauge_schedule(
        state.storage.clone(),
        state.metrics.promises_overdue.clone(),
        state.config.clock.clone(),
    ));
    let app = http::router(state.clone());
    // Either an explicit shutdown or the sender being dropped ends serving.
    let (tx, rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = rx.clone();
        async move {
            if rx.wait_for(|stop| *stop).await.is_err() {
                tracing::debug!("shutdown handle dropped");
            }
        }
    };
    let metrics = metrics_listener.map(|listener| {
        let state = state.clone();
        tokio::spawn(http::edge::serve(
            listener,
            http::metrics_router(state.clone()),
            state,
            None,
            stopped(),
        ))
    });
    let task = tokio::spawn(async move {
        // The schedules stop with the server, whichever way it stops.
        let _schedules = (
            AbortOnDrop(retention),
            AbortOnDrop(summaries),
            AbortOnDrop(salts),
            AbortOnDrop(promises),
        );
        let _metrics = metrics.map(AbortOnDrop);
        let _reloads = reloads.map(AbortOnDrop);
        let served = http::edge::serve(listener, app, state.clone(), tls, stopped()).await;
        state.flush_throttled().await;
        served
    });
    Ok(RunningServer {
        addr,
        metrics_addr,
        tls: config_tls,
        shutdown: Some(tx),
        task,
    })
}

/// Writes the rate-limit refusals counted in each window as summary
/// audit events (see [`crate::limit`]).
async fn throttle_summaries(state: Arc<http::AppState>) {
    let every = state.config.limits.audit_summary_every;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        state.flush_throttled().await;
    }
}

/// Takes the day's client-key salt from the store (see [`crate::limit::Salt`]).
async fn refresh_salt(state: &Arc<http::AppState>) -> Result<(), storage::StorageError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        state
            .salt
            .refresh(state.storage.as_ref(), state.now().timestamp())
    })
    .await
    .map_err(|_| storage::StorageError::backend("the salt refresh did not finish"))?
}

/// Refreshes the salt every minute, so instances change it together at
/// the day's turn; a failed refresh keeps the salt it had.
async fn salt_schedule(state: Arc<http::AppState>) {
    let every = std::time::Duration::from_secs(60);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(e) = refresh_salt(&state).await {
            tracing::warn!(error = %e, "the rate-limit salt was not refreshed");
        }
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs the retention job now and then every `retention_every`, once per
/// period whichever instances on the store run it (the period is claimed
/// in the store). A failed run is logged and retried at the next tick;
/// erasures already made stay. Each tick shows in the metrics how this
/// instance's clock stands against the job's trusted reference (whether
/// or not it ran the period), so a clock that jumped is seen at once.
async fn retention_schedule(
    storage: Arc<dyn Storage>,
    config: ServerConfig,
    state: Arc<http::AppState>,
) {
    let mut ticks = tokio::time::interval(config.retention_every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let storage = storage.clone();
        let policy = config.retention;
        let ticket = state.metrics.retention_clock_ticket();
        let now = config.clock.now();
        let every = config.retention_every;
        let run = tokio::task::spawn_blocking(move || {
            let report = retention::run_scheduled(storage.as_ref(), &policy, now, every)?;
            let status = retention::clock_status(storage.as_ref(), &policy, now)?;
            Ok::<_, storage::StorageError>((report, status))
        })
        .await;
        match run {
            Ok(Ok((_, status))) => state.metrics.show_retention_clock(ticket, &status, now),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "retention run failed; retrying at the next tick")
            }
            Err(e) => tracing::error!(error = %e, "retention run stopped"),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error("{0}")]
    Tls(String),
}
