//! The command line of `pocketbook-device`: its options, its commands and
//! the vocabulary arguments they take (clap), apart from what each command
//! does (`main.rs`).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use pocketbook_core::model::RecordKind;

#[derive(Parser)]
#[command(
    version,
    about = "Drive a Pocketbook device notebook from the command line"
)]
pub(crate) struct Cli {
    /// Directory of the device store (created on first use).
    #[arg(long, env = "POCKETBOOK_STORE", default_value = "./pocketbook-device")]
    pub(crate) store: PathBuf,
    /// File holding the notebook's key (64 hex digits, or 32 raw bytes);
    /// or set POCKETBOOK_KEY to the hex digits. Never the key itself on the
    /// command line. Without a key the notebook is stored unencrypted.
    #[arg(long, env = "POCKETBOOK_KEY_FILE")]
    pub(crate) key_file: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Set up the notebook for an officer without a server (offline use).
    Init {
        #[arg(long)]
        shoulder_number: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        station: String,
    },
    /// Enrol this device with a sync server: the enrolment link `admin
    /// device enrol` prints (server, code and pinned keys), or --server and
    /// --code (plain http:// to this machine only).
    Enrol {
        /// The enrolment link, pocketbook://enrol?server=...&code=...&pin=...
        #[arg(long, conflicts_with_all = ["server", "code"], required_unless_present = "server")]
        link: Option<String>,
        /// e.g. http://127.0.0.1:8650
        #[arg(long, requires = "code")]
        server: Option<String>,
        #[arg(long, requires = "server")]
        code: Option<String>,
        /// A label for the server's device list.
        #[arg(long, default_value = "pocketbook-device")]
        label: String,
    },
    /// Sync with the server: send what it lacks, receive what this device lacks.
    /// If the server revoked or retired this device, its notebook is erased
    /// and the command fails with error "wiped" (exit 1).
    Sync,
    /// Create a record from a JSON file ("-" reads standard input).
    New {
        #[arg(value_enum)]
        kind: KindArg,
        #[arg(long)]
        json: PathBuf,
    },
    /// Print a whole record.
    Show { id: String },
    /// List records, newest first.
    List {
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// A receipt reference, as typed.
        #[arg(long)]
        reference: Option<String>,
        #[arg(long, value_parser = clap::value_parser!(i32).range(0..))]
        limit: Option<i32>,
    },
    /// Append a scene action from JSON, e.g. {"type":"note","text":"..."}.
    Action {
        id: String,
        #[arg(long)]
        json: PathBuf,
    },
    /// Append a free-text note as a scene action.
    Note { id: String, text: String },
    /// Tick a checklist item, e.g. `tick ID "witnesses sought" done`.
    Tick {
        id: String,
        /// The item's text, e.g. "crime prevention advice given".
        item: String,
        /// done | "not applicable" | "not done"
        outcome: String,
        /// Required for "not done".
        #[arg(long)]
        reason: Option<String>,
    },
    /// Record the arrival time (RFC 3339 with offset, e.g. 2026-11-28T10:09:00Z).
    Arrive { id: String, at: String },
    /// Record the departure time (RFC 3339 with offset).
    Leave { id: String, at: String },
    /// Record how and how often the victim wants updates.
    Updates {
        id: String,
        /// phone | email | "text message" | letter | visit
        #[arg(long)]
        method: String,
        #[arg(long)]
        every_days: i32,
    },
    /// Write an entry in a record's notebook; with `--corrects ENTRY_ID`
    /// the entry corrects an earlier one (which stays as written).
    Notes {
        id: String,
        text: String,
        /// The id of the entry this one corrects.
        #[arg(long)]
        corrects: Option<String>,
    },
    /// Name a co-attending officer on a scene or burglary record, e.g.
    /// `attend ID --officer PC5678`: the server shares the record with them.
    Attend {
        id: String,
        /// The colleague's shoulder number.
        #[arg(long)]
        officer: String,
    },
    /// Issue the receipt (printed, email, text) or record why it was not given.
    Receipt {
        id: String,
        #[arg(long, value_enum, conflicts_with = "not_given")]
        medium: Option<MediumArg>,
        /// The exceptional circumstances that prevented a receipt.
        #[arg(long)]
        not_given: Option<String>,
    },
    /// Write a record's Automerge document to a file.
    Export {
        id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Import (merge) a record's Automerge document from a file.
    Import { file: PathBuf },
    /// Change the notebook's key to the one in FILE, atomically (keep both
    /// keys until it returns).
    Rekey {
        #[arg(long)]
        new_key_file: PathBuf,
    },
    /// The officer's role and station as the server last said (null before).
    Access,
    /// Apply the server's retention periods now (the notebook also does so
    /// whenever it opens): erase records past their period that the server
    /// holds; list those kept until the server has them (`overdue`), the
    /// periods, and the records on legal hold.
    Retention,
    /// Changes the server refused and this device set aside; with
    /// `--version ID --out FILE`, write that record as it was here.
    SetAside {
        #[arg(long, requires = "out", value_parser = clap::value_parser!(i64).range(0..))]
        version: Option<i64>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The Pledge's promises of the records on this device, most urgent
    /// first, with due times; `promises offence|entry|correct` keep them.
    Promises(crate::promises::PromisesArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum KindArg {
    Scene,
    Burglary,
    StopSearch,
    StopAccount,
}

impl KindArg {
    pub(crate) fn kind(self) -> RecordKind {
        match self {
            KindArg::Scene => RecordKind::SceneAttendance,
            KindArg::Burglary => RecordKind::HomeBurglary,
            KindArg::StopSearch => RecordKind::StopSearch,
            KindArg::StopAccount => RecordKind::StopAccount,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum StatusArg {
    Open,
    Complete,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum MediumArg {
    Printed,
    Email,
    Text,
}
