//! The command line's words: every subcommand, flag and value the
//! `pocketbook-server` binary accepts, as clap reads them. What each one
//! does is in `cli.rs`; how its answer is shown, in `cli/render.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use pocketbook_core::model::PromiseEntryKind;

use crate::config::LogFormat;
use crate::identity::Role;

#[derive(Parser)]
#[command(version, about = "The Pocketbook sync server")]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Args, Clone)]
pub(super) struct DataDir {
    /// Where the server keeps its store.
    #[arg(long, env = "POCKETBOOK_DATA_DIR")]
    pub(super) data_dir: Option<PathBuf>,
    /// A PostgreSQL database (`postgres://user:password@host:port/db`) to
    /// use instead of the data directory's SQLite store.
    #[arg(long, env = "POCKETBOOK_DATABASE_URL", hide_env_values = true)]
    pub(super) database_url: Option<String>,
    /// A TOML file with `data_dir`, `database_url`, `listen`, `log_format`, `metrics_listen`,
    /// `trusted_proxies` and the `[retention]` and `[limits]` tables.
    #[arg(long, env = "POCKETBOOK_CONFIG")]
    pub(super) config: Option<PathBuf>,
}

#[derive(Subcommand)]
pub(super) enum Command {
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
        #[command(flatten)]
        tls: TlsArgs,
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
pub(super) enum AdminCommand {
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
    /// The Pledge's promises, computed from the synced records.
    #[command(subcommand)]
    Promises(PromisesCommand),
    /// Published figures of a month (frozen on first publication), as
    /// `GET /figures` shows them; with --searches, the month's searches in
    /// police.uk's format.
    Figures {
        /// The month, YYYY-MM (London).
        #[arg(long)]
        month: String,
        /// One station (default: every station with figures).
        #[arg(long)]
        station: Option<String>,
        #[arg(long, value_enum, default_value = "html")]
        format: FormatArg,
        /// The month's searches, anonymised, in police.uk's CSV or JSON.
        #[arg(long)]
        searches: bool,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Move the data directory's SQLite store into an empty PostgreSQL
    /// database: everything is copied, feed positions (device cursors),
    /// the audit chain and tokens kept. Stop the server first.
    Migrate {
        /// The PostgreSQL database, `postgres://user:password@host:port/db`.
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
pub(super) enum CopyCommand {
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
pub(super) enum RetentionCommand {
    /// Run the retention job now (the server also runs it on its schedule).
    Run {
        /// List what would be erased, erase nothing.
        #[arg(long)]
        dry_run: bool,
        /// The server's clock is right although it moved further than the
        /// allowed step since the last run: trust it (audited) and erase by it.
        #[arg(long)]
        confirm_clock: bool,
    },
    /// Show the clock against the last trusted run: whether runs erase.
    Clock,
    /// The server's clock is right: trust it (audited); the next run erases by it.
    ConfirmClock,
}

#[derive(Subcommand)]
pub(super) enum HoldCommand {
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

#[derive(Subcommand)]
pub(super) enum PromisesCommand {
    /// A station's overdue promises, soonest due first (audited).
    Overdue {
        #[arg(long)]
        station: String,
    },
}

/// The formats of `admin figures`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(super) enum FormatArg {
    Html,
    Csv,
    Json,
}

impl From<FormatArg> for crate::figures::view::Format {
    fn from(arg: FormatArg) -> Self {
        use crate::figures::view::Format;
        match arg {
            FormatArg::Html => Format::Html,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
        }
    }
}

/// The roles as the command line spells them; the domain's [`Role`] knows
/// nothing of the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(super) enum RoleArg {
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
pub(super) enum OfficerCommand {
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
pub(super) enum DeviceCommand {
    /// Print a one-time enrolment code for a device of this officer.
    Enrol {
        #[arg(long)]
        officer: String,
        /// Minutes the code stays valid (1 to 1440).
        #[arg(long, default_value_t = 15)]
        ttl_minutes: u32,
        #[command(flatten)]
        link: LinkArgs,
        /// Also print the enrolment link as a QR code, for the app to scan.
        #[arg(long)]
        qr: bool,
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
pub(super) enum RecordsCommand {
    /// List records.
    List,
    /// A record's change sets as the server received them: the server's
    /// receive time and the pushing device of each (no content).
    History {
        /// Record id (from `admin records list`).
        record: String,
    },
    /// Add a promise entry made at the station, not on a handset: a victim
    /// update by station staff, a review by a supervisor (checked by the
    /// same rule as a handset's, and audited).
    Entry {
        /// Record id (from `admin records list`).
        record: String,
        /// Shoulder number of the staff member or supervisor who made it.
        #[arg(long)]
        by: String,
        /// "victim updated", "review done" or "contact made".
        #[arg(long, value_parser = entry_kind)]
        kind: PromiseEntryKind,
        /// When it was made (RFC 3339, e.g. 2026-11-28T14:05:00Z); now if not given.
        #[arg(long)]
        at: Option<String>,
    },
}

fn entry_kind(text: &str) -> Result<PromiseEntryKind, String> {
    PromiseEntryKind::parse(text)
        .ok_or_else(|| format!("expected one of {}", PromiseEntryKind::expected()))
}

#[derive(Subcommand)]
pub(super) enum AuditCommand {
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
        /// At most this many events (1 to 10,000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
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

/// Terminating TLS in the server (instead of a reverse proxy).
#[derive(clap::Args, Debug, Default)]
pub(crate) struct TlsArgs {
    /// The certificate chain (PEM) to serve HTTPS with; reloaded on SIGHUP.
    #[arg(long, env = "POCKETBOOK_TLS_CERT", requires = "tls_key")]
    pub(crate) tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "POCKETBOOK_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<std::path::PathBuf>,
    /// The pin (sha256/...) of a key the server (or its proxy) will move
    /// to, announced to devices in sync answers before the certificate
    /// changes; repeat, or separate with commas, for several (at most 4).
    #[arg(long, env = "POCKETBOOK_TLS_NEXT_PIN", value_delimiter = ',')]
    pub(crate) tls_next_pin: Vec<String>,
}

/// What the enrolment link carries; each also a config file key
/// (`public_url`, `tls_pin`, `tls_backup_pin`, `tls_cert`).
#[derive(clap::Args, Debug, Default)]
pub(crate) struct LinkArgs {
    /// The URL devices reach the server at (e.g. https://pocketbook.example.org);
    /// with it, a link with the code and the pins is printed after the code.
    #[arg(long, env = "POCKETBOOK_PUBLIC_URL")]
    pub(crate) public_url: Option<String>,
    /// The SHA-256 pin (sha256/...) of the key devices see; behind a proxy,
    /// the proxy's. Without it, derived from --tls-cert.
    #[arg(long, env = "POCKETBOOK_TLS_PIN")]
    pub(crate) tls_pin: Option<String>,
    /// The pin of the key the server will move to next.
    #[arg(long, env = "POCKETBOOK_TLS_BACKUP_PIN")]
    pub(crate) tls_backup_pin: Option<String>,
    /// The certificate `serve --tls-cert` serves, to derive the pin from.
    #[arg(long, env = "POCKETBOOK_TLS_CERT")]
    pub(crate) tls_cert: Option<std::path::PathBuf>,
}
