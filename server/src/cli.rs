//! The `pocketbook-server` command line: `serve`, and the `admin` commands
//! that work directly on the data directory (safe while the server runs:
//! SQLite's WAL lets both write the same store).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::admin::{Admin, AdminError};
use crate::clock::Clock;
use crate::config::{self, DEFAULT_DATA_DIR, LogFormat};
use crate::copy;
use crate::identity::Role;
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{AuditQuery, Storage};

mod render;
use render::print;

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
    /// A TOML file with `data_dir`, `listen`, `log_format`, `metrics_listen`,
    /// `trusted_proxies` and the `[retention]` and `[limits]` tables.
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
        /// Serve `/metrics` on this address only, not on `--listen`.
        #[arg(long, env = "POCKETBOOK_METRICS_LISTEN")]
        metrics_listen: Option<String>,
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
    /// The hash-chained audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Erase records whose retention period is over.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Legal holds: records a complaint or court case names, kept past retention.
    #[command(subcommand)]
    Hold(HoldCommand),
    /// Copies of a search record for a person at the station desk (audited).
    #[command(subcommand)]
    Copy(CopyCommand),
}

#[derive(Subcommand)]
enum CopyCommand {
    /// Find a person's record without its reference, by date, place and officer.
    Find {
        /// Shoulder number of the staff member or supervisor looking it up.
        #[arg(long)]
        staff: String,
        /// Date of the stop (London), YYYY-MM-DD.
        #[arg(long)]
        date: chrono::NaiveDate,
        /// Part of the street or place description.
        #[arg(long)]
        place: Option<String>,
        /// Shoulder number of the officer who made the stop.
        #[arg(long)]
        officer: Option<String>,
    },
    /// Issue the copy of one record: as a printable page (--out) or JSON.
    Issue {
        /// Record id (from `admin copy find`).
        record: String,
        #[arg(long)]
        staff: String,
        /// Write the printable HTML copy here instead of printing JSON.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Run the retention job now (the server also runs it on its schedule).
    Run {
        /// List what would be erased, erase nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum HoldCommand {
    /// Place a record on legal hold.
    Set {
        /// Record id (see `admin records list`).
        record: String,
        /// Why, e.g. the complaint or case reference.
        #[arg(long)]
        reason: String,
    },
    /// Lift a legal hold.
    Release {
        record: String,
        #[arg(long)]
        reason: String,
    },
    /// List records on legal hold.
    List,
}

/// The roles as the command line spells them; the domain's [`Role`] knows
/// nothing of the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    Officer,
    Supervisor,
    Staff,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(arg: RoleArg) -> Role {
        match arg {
            RoleArg::Officer => Role::Officer,
            RoleArg::Supervisor => Role::Supervisor,
            RoleArg::Staff => Role::Staff,
            RoleArg::Admin => Role::Admin,
        }
    }
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
        role: RoleArg,
    },
    /// List officers.
    List,
    /// Deactivate an officer (leaving the force): revokes all their devices.
    Deactivate {
        /// Shoulder number.
        shoulder_number: String,
    },
}

#[derive(Subcommand)]
enum DeviceCommand {
    /// Print a one-time enrolment code for a device of this officer.
    Enrol {
        #[arg(long)]
        officer: String,
        /// Minutes the code stays valid (1 to 1440).
        #[arg(long, default_value_t = 15)]
        ttl_minutes: u32,
    },
    /// List enrolled devices.
    List,
    /// Lost or stolen: cut the device off now; it wipes itself at its next contact.
    Revoke {
        /// Device id (see `admin device list`).
        id: String,
    },
    /// Handed back: at its next sync the device uploads what is pending, then wipes.
    Retire {
        /// Device id (see `admin device list`).
        id: String,
    },
}

#[derive(Subcommand)]
enum RecordsCommand {
    /// List records.
    List,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Show events, oldest first, optionally filtered.
    Show {
        /// Only events about this record id.
        #[arg(long)]
        record: Option<String>,
        /// Only events by this actor, e.g. `officer:PC1234`, `admin`, `public`.
        #[arg(long)]
        actor: Option<String>,
        /// Only this action, e.g. `record-read`, `device-revoked`.
        #[arg(long)]
        action: Option<String>,
        /// Only events after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// At most this many events.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Write every event as JSON lines (to a file, or to stdout).
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check the hash chain: exits non-zero if any event was altered or removed.
    Verify,
}

/// Runs the command line; the exit code says whether it worked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            data,
            listen,
            metrics_listen,
            log_format,
        } => serve(data, listen, metrics_listen, log_format),
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
    metrics_listen: Option<String>,
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
    let mut config = config::resolve(data.data_dir, listen, data.config.as_deref())?;
    if let Some(text) = metrics_listen {
        config.metrics_listen = Some(config::parse_listen(&text, "metrics listen address")?);
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let data_dir = config.data_dir.clone();
        let server = crate::start(config).await.map_err(|e| e.to_string())?;
        println!(
            "pocketbook-server listening on {} (data in {})",
            server.url(),
            data_dir.display()
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

fn admin(data: DataDir, json: bool, command: AdminCommand) -> Result<(), String> {
    if let AdminCommand::Officer(OfficerCommand::Add { .. }) = &command {
        // Adding the first officer may create the data directory.
        let dir = config::resolve(data.data_dir.clone(), None, data.config.as_deref())?.data_dir;
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let admin = Admin::new(open(&data)?, Clock::system());
    let failed = |e: AdminError| e.to_string();
    match command {
        AdminCommand::Officer(OfficerCommand::Add {
            shoulder_number,
            name,
            station,
            role,
        }) => {
            let officer = admin
                .add_officer(&shoulder_number, &name, &station, role.into())
                .map_err(failed)?;
            print(json, &officer, || {
                format!(
                    "added officer {} ({})",
                    officer.shoulder_number,
                    officer.role.as_str()
                )
            });
        }
        AdminCommand::Officer(OfficerCommand::List) => {
            let officers = admin.officers().map_err(failed)?;
            print(json, &officers, || render::officers(&officers));
        }
        AdminCommand::Officer(OfficerCommand::Deactivate { shoulder_number }) => {
            let devices = admin.deactivate_officer(&shoulder_number).map_err(failed)?;
            let value = serde_json::json!({"officer": shoulder_number, "devices_revoked": devices});
            print(json, &value, || {
                format!(
                    "deactivated officer {shoulder_number}; revoked {} device(s), each wipes at its next contact",
                    devices.len()
                )
            });
        }
        AdminCommand::Device(DeviceCommand::Enrol {
            officer,
            ttl_minutes,
        }) => {
            let issued = admin
                .issue_enrolment_code(&officer, ttl_minutes)
                .map_err(failed)?;
            if !json {
                // The code alone on stdout, for scripts; the expiry for the admin on stderr.
                eprintln!(
                    "one-time code for officer {officer}, valid for {ttl_minutes} minutes (until {})",
                    issued.expires_at
                );
            }
            print(json, &issued, || issued.code.clone());
        }
        AdminCommand::Device(DeviceCommand::List) => {
            let devices = admin.devices().map_err(failed)?;
            print(json, &devices, || render::devices(&devices));
        }
        AdminCommand::Device(DeviceCommand::Revoke { id }) => {
            let device = admin.revoke_device(&id).map_err(failed)?;
            print(
                json,
                &serde_json::json!({"device": id, "status": "revoked"}),
                || {
                    format!(
                        "revoked device {id} of officer {}: it can no longer sync and wipes itself at its next contact",
                        device.officer
                    )
                },
            );
        }
        AdminCommand::Device(DeviceCommand::Retire { id }) => {
            let device = admin.retire_device(&id).map_err(failed)?;
            print(
                json,
                &serde_json::json!({"device": id, "status": "retiring"}),
                || {
                    format!(
                        "device {id} of officer {} will upload what it holds at its next sync, then wipe itself",
                        device.officer
                    )
                },
            );
        }
        AdminCommand::Records(RecordsCommand::List) => {
            let records = admin.records().map_err(failed)?;
            print(json, &records, || render::records(&records));
        }
        AdminCommand::Audit(command) => audit_command(&admin, json, command)?,
        AdminCommand::Retention(RetentionCommand::Run { dry_run }) => {
            let policy =
                config::resolve(data.data_dir.clone(), None, data.config.as_deref())?.retention;
            let report = admin.run_retention(&policy, dry_run).map_err(failed)?;
            print(json, &report, || render::retention(&report, dry_run));
        }
        AdminCommand::Hold(HoldCommand::Set { record, reason }) => {
            let hold = admin.hold(&record, &reason).map_err(failed)?;
            print(json, &hold, || {
                format!("record {record} is on legal hold: retention will not erase it")
            });
        }
        AdminCommand::Hold(HoldCommand::Release { record, reason }) => {
            admin.release(&record, &reason).map_err(failed)?;
            print(
                json,
                &serde_json::json!({"record": record, "held": false}),
                || format!("legal hold on record {record} lifted"),
            );
        }
        AdminCommand::Hold(HoldCommand::List) => {
            let holds = admin.legal_holds().map_err(failed)?;
            print(json, &holds, || render::holds(&holds));
        }
        AdminCommand::Copy(CopyCommand::Find {
            staff,
            date,
            place,
            officer,
        }) => {
            let found = admin
                .find_copies(&staff, date, place.as_deref(), officer.as_deref())
                .map_err(failed)?;
            print(json, &found, || render::matches(&found));
        }
        AdminCommand::Copy(CopyCommand::Issue { record, staff, out }) => {
            let issued = admin.issue_copy(&staff, &record).map_err(failed)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, copy::page::copy_page(&issued))
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    eprintln!(
                        "copy of {} written to {} (audited)",
                        issued.reference,
                        path.display()
                    );
                }
                None => print(true, &issued, String::new),
            }
        }
    }
    Ok(())
}

fn audit_command(admin: &Admin, json: bool, command: AuditCommand) -> Result<(), String> {
    let failed = |e: AdminError| e.to_string();
    match command {
        AuditCommand::Show {
            record,
            actor,
            action,
            after,
            limit,
        } => {
            let events = admin
                .audit_events(&AuditQuery {
                    after_seq: after,
                    limit: limit.clamp(1, 10_000),
                    record_id: record,
                    actor,
                    action,
                })
                .map_err(failed)?;
            print(json, &events, || render::events(&events));
        }
        AuditCommand::Export { out } => {
            let mut sink: Box<dyn Write> = match &out {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
                )),
                None => Box::new(std::io::stdout().lock()),
            };
            let mut after_seq = 0;
            let mut written = 0u64;
            loop {
                let page = admin
                    .audit_events(&AuditQuery {
                        after_seq,
                        limit: 1000,
                        ..AuditQuery::default()
                    })
                    .map_err(failed)?;
                let Some(last) = page.last() else { break };
                after_seq = last.seq;
                for event in &page {
                    let line = serde_json::to_string(event).map_err(|e| e.to_string())?;
                    writeln!(sink, "{line}").map_err(|e| e.to_string())?;
                    written += 1;
                }
            }
            sink.flush().map_err(|e| e.to_string())?;
            if let Some(path) = out {
                eprintln!("exported {written} audit events to {}", path.display());
            }
        }
        AuditCommand::Verify => {
            let verification = admin.verify_audit().map_err(failed)?;
            print(json, &verification, || render::verification(&verification));
            if !verification.intact() {
                return Err("audit verification failed".into());
            }
        }
    }
    Ok(())
}
