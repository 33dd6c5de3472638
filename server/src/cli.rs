//! The `pocketbook-server` command line: `serve`, and the `admin` commands
//! that work directly on the store (safe while the server runs: SQLite's
//! WAL lets both write the same file; PostgreSQL serves both), the data
//! directory's SQLite file or the `--database-url` PostgreSQL database.

use std::process::ExitCode;

use clap::Parser;

use crate::config::{self, LogFormat};

mod admin;
mod args;
mod render;

use args::{Cli, Command, DataDir};

/// Runs the command line; the exit code says whether it worked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            data,
            listen,
            metrics_listen,
            log_format,
            tls,
        } => serve(data, listen, metrics_listen, log_format, tls),
        Command::Admin {
            data,
            json,
            command,
        } => admin::run(data, json, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(
    data: DataDir,
    listen: Option<String>,
    metrics_listen: Option<String>,
    log_format: Option<LogFormat>,
    tls: args::TlsArgs,
) -> Result<(), String> {
    let log_format = config::resolve_log_format(log_format, data.config.as_deref())?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false);
    match log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let mut config = config::resolve(data.data_dir, listen, data.config.as_deref())?;
    config.database_url = data.database_url.or(config.database_url);
    if let Some(text) = metrics_listen {
        config.metrics_listen = Some(config::parse_listen(&text, "metrics listen address")?);
    }
    if let Some(files) = config::tls_files(tls.tls_cert, tls.tls_key)? {
        config.tls = Some(files);
    }
    if !tls.tls_next_pin.is_empty() {
        config.next_pins = config::next_pins(tls.tls_next_pin)?;
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let data_dir = crate::storage::describe(&config.data_dir, config.database_url.as_deref());
        let server = crate::start(config).await.map_err(|e| e.to_string())?;
        println!(
            "pocketbook-server listening on {} (data in {})",
            server.url(),
            data_dir
        );
        if let Some(at) = server.metrics_addr {
            tracing::info!(%at, "metrics served on their own address");
        }
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        server.shutdown().await.map_err(|e| e.to_string())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
