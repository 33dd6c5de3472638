//! The `pocketbook-server` command line: `serve`, and the `admin` commands
//! that work directly on the data directory (safe while the server runs:
//! SQLite's WAL lets both write the same store).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth;
use crate::config::{self, DEFAULT_DATA_DIR, LogFormat};
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{OfficerRow, Storage, StorageError};

#[derive(Parser)]
#[command(version, about = "The Pocketbook sync server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DataDir {
    /// Where the server keeps its store.
    #[arg(long, env = "POCKETBOOK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A TOML file with `data_dir`, `listen` and `log_format`.
    #[arg(long, env = "POCKETBOOK_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the sync server.
    Serve {
        #[command(flatten)]
        data: DataDir,
        /// Address to listen on (default 127.0.0.1:8650).
        #[arg(long, env = "POCKETBOOK_LISTEN")]
        listen: Option<String>,
        /// Log lines as readable text or as one JSON object per line.
        #[arg(long, env = "POCKETBOOK_LOG_FORMAT", value_enum)]
        log_format: Option<LogFormat>,
    },
    /// Manage officers, devices and records.
    Admin {
        #[command(flatten)]
        data: DataDir,
        /// Print JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Officers who may have devices.
    #[command(subcommand)]
    Officer(OfficerCommand),
    /// Devices enrolled for officers.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Records held by the server (index columns only, no content).
    #[command(subcommand)]
    Records(RecordsCommand),
}

#[derive(Subcommand)]
enum OfficerCommand {
    /// Add an officer.
    Add {
        #[arg(long)]
        shoulder_number: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        station: String,
        #[arg(long, value_enum, default_value = "officer")]
        role: Role,
    },
    /// List officers.
    List,
}

#[derive(Clone, Copy, ValueEnum)]
enum Role {
    Officer,
    Supervisor,
    Staff,
    Admin,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Supervisor => "supervisor",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }
}

#[derive(Subcommand)]
enum DeviceCommand {
    /// Print a one-time enrolment code for a device of this officer.
    Enrol {
        #[arg(long)]
        officer: String,
        /// Minutes the code stays valid.
        #[arg(long, default_value_t = 15)]
        ttl_minutes: u32,
    },
    /// List enrolled devices.
    List,
}

#[derive(Subcommand)]
enum RecordsCommand {
    /// List records.
    List,
}

/// Runs the command line; the exit code says whether it worked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            data,
            listen,
            log_format,
        } => serve(data, listen, log_format),
        Command::Admin {
            data,
            json,
            command,
        } => admin(data, json, command),
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
    log_format: Option<LogFormat>,
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
    let config = config::resolve(data.data_dir, listen, data.config.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let data_dir = config.data_dir.clone();
        let server = crate::start(config).await.map_err(|e| e.to_string())?;
        println!(
            "pocketbook-server listening on {} (data in {})",
            server.url(),
            data_dir.display()
        );
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

fn open(data: &DataDir) -> Result<Arc<dyn Storage>, String> {
    let config = config::resolve(data.data_dir.clone(), None, data.config.as_deref())?;
    if !config.data_dir.exists() {
        return Err(format!(
            "no data directory at {} (start the server once, or pass --data-dir; default {DEFAULT_DATA_DIR})",
            config.data_dir.display()
        ));
    }
    SqliteStorage::open(&config.data_dir)
        .map(|s| Arc::new(s) as Arc<dyn Storage>)
        .map_err(|e| e.to_string())
}

fn print<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    } else {
        println!("{}", text());
    }
}

/// A tab-separated listing with a header line.
fn table(header: &str, rows: Vec<String>) -> String {
    std::iter::once(header.to_string())
        .chain(rows)
        .collect::<Vec<_>>()
        .join("\n")
}

fn admin(data: DataDir, json: bool, command: AdminCommand) -> Result<(), String> {
    if let AdminCommand::Officer(OfficerCommand::Add { .. }) = &command {
        // Adding the first officer may create the data directory.
        let dir = config::resolve(data.data_dir.clone(), None, data.config.as_deref())?.data_dir;
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let storage = open(&data)?;
    match command {
        AdminCommand::Officer(OfficerCommand::Add {
            shoulder_number,
            name,
            station,
            role,
        }) => {
            for (field, value) in [
                ("shoulder number", &shoulder_number),
                ("name", &name),
                ("station", &station),
            ] {
                if value.trim().is_empty() || value.len() > 120 {
                    return Err(format!("the {field} must be 1 to 120 characters"));
                }
            }
            let officer = OfficerRow {
                shoulder_number: shoulder_number.trim().to_string(),
                name: name.trim().to_string(),
                station: station.trim().to_string(),
                role: role.as_str().to_string(),
                active: true,
            };
            storage.add_officer(&officer).map_err(|e| match e {
                StorageError::Duplicate(_) => {
                    format!("officer {shoulder_number} already exists (see `admin officer list`)")
                }
                other => other.to_string(),
            })?;
            print(json, &officer, || {
                format!("added officer {}", officer.shoulder_number)
            });
        }
        AdminCommand::Officer(OfficerCommand::List) => {
            let officers = storage.officers().map_err(|e| e.to_string())?;
            print(json, &officers, || {
                table(
                    "SHOULDER NUMBER\tNAME\tSTATION\tROLE\tSTATUS",
                    officers
                        .iter()
                        .map(|o| {
                            format!(
                                "{}\t{}\t{}\t{}\t{}",
                                o.shoulder_number,
                                o.name,
                                o.station,
                                o.role,
                                if o.active { "active" } else { "inactive" }
                            )
                        })
                        .collect(),
                )
            });
        }
        AdminCommand::Device(DeviceCommand::Enrol {
            officer,
            ttl_minutes,
        }) => {
            let code = auth::new_enrolment_code();
            let canonical = auth::normalise_code(&code).ok_or("generated an invalid code")?;
            let expires = chrono::Utc::now() + chrono::Duration::minutes(i64::from(ttl_minutes));
            storage
                .add_enrolment_code(&auth::hash(&canonical), &officer, expires.timestamp())
                .map_err(|e| match e {
                    StorageError::NotFound(_) => format!(
                        "no active officer {officer}: add them first with `admin officer add`"
                    ),
                    other => other.to_string(),
                })?;
            let value = serde_json::json!({"officer": officer, "code": code, "expires_at": expires.to_rfc3339()});
            if !json {
                // The code alone on stdout, for scripts; the expiry for the admin on stderr.
                eprintln!(
                    "one-time code for officer {officer}, valid for {ttl_minutes} minutes (until {})",
                    expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
            }
            print(json, &value, || code.clone());
        }
        AdminCommand::Device(DeviceCommand::List) => {
            let devices = storage.devices().map_err(|e| e.to_string())?;
            print(json, &devices, || {
                table(
                    "DEVICE\tOFFICER\tLABEL\tENROLLED\tLAST SEEN",
                    devices
                        .iter()
                        .map(|d| {
                            format!(
                                "{}\t{}\t{}\t{}\t{}",
                                d.id,
                                d.officer,
                                d.label,
                                d.enrolled_at,
                                d.last_seen.as_deref().unwrap_or("never synced")
                            )
                        })
                        .collect(),
                )
            });
        }
        AdminCommand::Records(RecordsCommand::List) => {
            let records = storage.records().map_err(|e| e.to_string())?;
            print(json, &records, || {
                table(
                    "ID\tKIND\tREFERENCE\tAUTHOR\tSTATION\tCREATED\tUPDATED",
                    records
                        .iter()
                        .map(|r| {
                            format!(
                                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                                r.id,
                                r.kind,
                                r.reference,
                                r.author,
                                r.station,
                                r.created_at,
                                r.updated_at
                            )
                        })
                        .collect(),
                )
            });
        }
    }
    Ok(())
}
