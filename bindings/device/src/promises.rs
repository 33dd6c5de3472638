//! `pocketbook-device promises`: the Pledge's promises of the records on
//! this device, offline, as `Notebook::promises` lists them (most urgent
//! first, with due times and statuses), and the calls that keep them: the
//! offence category, a victim update, review or contact, and corrections.
//!
//! `promises [--status S]... [--record ID] [--due-by TIME] [--now TIME]`
//! prints the list as JSON; `--now` judges at another moment than the
//! device clock (support staff checking what a handset showed).

use clap::{Args, Subcommand};
use pocketbook_core::Notebook;
use pocketbook_core::api::promises::PromiseFilter;
use pocketbook_core::model::{OffenceCategory, PromiseEntryKind};
use pocketbook_core::pledge::PromiseStatus;

use super::{Failure, json, time};

#[derive(Args)]
pub(crate) struct PromisesArgs {
    #[command(subcommand)]
    action: Option<Action>,
    /// Only promises with this status (repeat for several): due, "due
    /// soon", overdue, kept, broken, unknown.
    #[arg(long = "status", value_parser = status)]
    statuses: Vec<PromiseStatus>,
    /// Only the promises of this record.
    #[arg(long)]
    record: Option<String>,
    /// Only promises due at or before this time (RFC 3339 with offset).
    #[arg(long)]
    due_by: Option<String>,
    /// Judge at this time instead of the device clock (RFC 3339 with offset).
    #[arg(long)]
    now: Option<String>,
}

#[derive(Subcommand)]
enum Action {
    /// Record the offence category of a scene or burglary record, e.g.
    /// `promises offence ID "domestic violence"`.
    Offence {
        id: String,
        #[arg(value_parser = offence)]
        category: OffenceCategory,
    },
    /// Record a "victim updated", "review done" or "contact made" entry in
    /// this officer's name, made at `--at`.
    Entry {
        id: String,
        #[arg(value_parser = entry_kind)]
        kind: PromiseEntryKind,
        #[arg(long)]
        at: String,
    },
    /// Correct an entry: a new one at `--at` counts in its place, or with
    /// `--withdraw` neither counts. The corrected entry stays as written.
    Correct {
        id: String,
        entry: String,
        #[arg(long)]
        at: String,
        #[arg(long)]
        withdraw: bool,
    },
}

fn vocabulary<T>(text: &str, parse: fn(&str) -> Option<T>, expected: String) -> Result<T, String> {
    parse(text).ok_or_else(|| format!("expected one of {expected}"))
}

fn status(text: &str) -> Result<PromiseStatus, String> {
    vocabulary(text, PromiseStatus::parse, PromiseStatus::expected())
}

fn offence(text: &str) -> Result<OffenceCategory, String> {
    vocabulary(text, OffenceCategory::parse, OffenceCategory::expected())
}

fn entry_kind(text: &str) -> Result<PromiseEntryKind, String> {
    vocabulary(text, PromiseEntryKind::parse, PromiseEntryKind::expected())
}

/// Runs `promises` on an open notebook.
pub(crate) fn run(nb: &Notebook, args: PromisesArgs) -> Result<serde_json::Value, Failure> {
    match args.action {
        Some(Action::Offence { id, category }) => {
            nb.record_offence(id.clone(), category)?;
            json(&nb.get(id)?)
        }
        Some(Action::Entry { id, kind, at }) => {
            let entry = nb.record_promise_entry(id, kind, time(&at)?)?;
            json(&serde_json::json!({ "entry_id": entry }))
        }
        Some(Action::Correct {
            id,
            entry,
            at,
            withdraw,
        }) => {
            let entry = nb.correct_promise_entry(id, entry, time(&at)?, withdraw)?;
            json(&serde_json::json!({ "entry_id": entry }))
        }
        None => {
            let filter = PromiseFilter {
                statuses: (!args.statuses.is_empty()).then_some(args.statuses),
                record_id: args.record,
                due_by: args.due_by.as_deref().map(time).transpose()?,
                now: args.now.as_deref().map(time).transpose()?,
            };
            json(&nb.promises(filter)?)
        }
    }
}
