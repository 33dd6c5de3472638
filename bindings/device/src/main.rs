//! `pocketbook-device`: drives the Pocketbook core only through its exported
//! API, exactly as the Android and iOS apps do, and prints JSON. Used by the
//! README quickstart, by end-to-end tests, and by support staff.
//!
//! Output: the result as JSON on stdout, exit 0. On failure: one JSON object
//! `{"error": "<kind>", "message": "..."}` on stderr and exit 1 (the core
//! refused) or 2 (the command line or its input was wrong), with the
//! error's details where it has them: `violations` (invalid), `cause`
//! (offline: refused, dns, tls, timeout, other), `reason` and `lost_edits`
//! (wiped). A `sync` that finds this device revoked or retired erases its
//! notebook and fails with kind `wiped`; the message says which happened.
//!
//! Much of what is printed came from elsewhere (a record's text typed on a
//! handset or sent by a server, a server's message): stdout and stderr are
//! JSON made inert for a terminal ([`pocketbook_core::text::json_for_terminal`],
//! the one the server's admin commands use), the same value with no C1
//! control or bidi override left to act.

#![forbid(unsafe_code)]

mod args;
mod key;
mod output;
mod promises;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use args::{Cli, Command, KindArg, MediumArg, StatusArg};
use clap::Parser;
use pocketbook_core::model::{
    ActionDetail, ChecklistItem, Officer, ReceiptMedium, RecordKind, RecordStatus, SceneInput,
    StopAccount, StopSearch, TickOutcome, Timestamp, UpdateAgreement, UpdateMethod,
};
use pocketbook_core::store::ListFilter;
use pocketbook_core::sync::client::EnrolmentLink;
use pocketbook_core::text::json_for_terminal;
use pocketbook_core::{ApiError, Notebook};
use serde::Serialize;

/// A failure to report: which kind and what happened.
struct Failure {
    kind: &'static str,
    message: String,
    /// The error's details, merged into the printed object.
    details: serde_json::Map<String, serde_json::Value>,
    exit: u8,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        let mut details = serde_json::Map::new();
        let kind = match &e {
            ApiError::Invalid { violations } => {
                details.insert("violations".into(), serde_json::json!(violations));
                "invalid"
            }
            ApiError::BadInput { .. } => "bad-input",
            ApiError::NotFound { .. } => "not-found",
            ApiError::Conflict { .. } => "conflict",
            ApiError::UpdateRequired { .. } => "update-required",
            ApiError::Storage { .. } => "storage",
            ApiError::NotEnrolled { .. } => "not-enrolled",
            ApiError::Offline { reason, .. } => {
                details.insert("cause".into(), reason.code().into());
                "offline"
            }
            ApiError::Unauthorised { .. } => "unauthorised",
            ApiError::Protocol { .. } => "protocol",
            ApiError::Cancelled { .. } => "cancelled",
            ApiError::Wiped { reason, lost_edits } => {
                details.insert("reason".into(), reason.code().into());
                details.insert("lost_edits".into(), (*lost_edits).into());
                "wiped"
            }
            ApiError::Closed { .. } => "closed",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::Key { problem, .. } => {
                details.insert("problem".into(), problem.code().into());
                "key"
            }
        };
        Failure {
            kind,
            message: e.to_string(),
            details,
            exit: 1,
        }
    }
}

/// A time typed on the command line, in the one spelling records carry.
fn time(text: &str) -> Result<Timestamp, Failure> {
    Timestamp::parse(text).map_err(|e| input_error(format!("{text:?}: {e}")))
}

fn input_error(message: String) -> Failure {
    Failure {
        kind: "bad-input",
        message,
        details: serde_json::Map::new(),
        exit: 2,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Warnings (no key, an exposed key file) go to stderr: each a line of
    // its own after a success, joined in a field of the one error object
    // after a failure.
    let mut warnings = Vec::new();
    let key = key::find(cli.key_file.as_deref(), &mut warnings);
    // A key error (an encrypted notebook opened without its key) means
    // nothing was stored unencrypted: no warning saying so.
    let plain = matches!(key, Ok(None));
    let result = key.and_then(|key| run(cli, key, &mut warnings));
    if plain && !matches!(&result, Err(failure) if failure.kind == "key") {
        warnings.insert(0, key::PLAIN_WARNING.to_string());
    }
    match result {
        Ok(value) => {
            // A reader that stopped reading (`| head`) is not a failure: the
            // command's work is done and stored.
            let text = json_for_terminal(&serde_json::to_string_pretty(&value).unwrap_or_default());
            if let Err(e) = writeln!(std::io::stdout(), "{text}")
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                tell(&serde_json::json!({ "error": "output", "message": e.to_string() }));
                return ExitCode::FAILURE;
            }
            for warning in warnings {
                tell(&serde_json::json!({ "warning": warning }));
            }
            ExitCode::SUCCESS
        }
        Err(failure) => {
            let mut body = failure.details;
            if !warnings.is_empty() {
                body.insert("warning".into(), warnings.join("; ").into());
            }
            body.insert("error".into(), failure.kind.into());
            body.insert("message".into(), failure.message.into());
            tell(&serde_json::Value::Object(body));
            ExitCode::from(failure.exit)
        }
    }
}

/// One JSON line on stderr (a warning, the error object), inert for a
/// terminal.
fn tell(value: &serde_json::Value) {
    eprintln!("{}", json_for_terminal(&value.to_string()));
}

fn run(
    cli: Cli,
    key: Option<Vec<u8>>,
    warnings: &mut Vec<String>,
) -> Result<serde_json::Value, Failure> {
    let store = cli.store.display().to_string();
    if let Command::Init {
        shoulder_number,
        name,
        station,
    } = cli.command
    {
        let officer = Officer {
            shoulder_number,
            name,
            station,
        };
        let nb = match key {
            Some(key) => Notebook::open_encrypted(store, officer, key)?,
            None => Notebook::open(store, officer)?,
        };
        return json(&nb.officer()?);
    }
    if let Command::Enrol {
        link,
        server,
        code,
        label,
    } = cli.command
    {
        let (server, code) = match (link, server, code) {
            (Some(link), _, _) => {
                let link = EnrolmentLink::parse(&link).map_err(|e| input_error(e.to_string()))?;
                (link.server_url, link.code)
            }
            (None, Some(server), Some(code)) => (server, code),
            _ => {
                return Err(input_error(
                    "enrol needs --link, or --server and --code".into(),
                ));
            }
        };
        let nb = match key {
            Some(key) => runtime()?.block_on(pocketbook_core::api::enrol_encrypted_device(
                store, key, server, code, label,
            ))?,
            None => runtime()?.block_on(pocketbook_core::api::enrol_device(
                store, server, code, label,
            ))?,
        };
        return json(&nb.officer()?);
    }
    let nb = match key {
        Some(key) => Notebook::open_existing_encrypted(store, key)?,
        None => Notebook::open_existing(store)?,
    };
    if let Some(aside) = nb.store_moved_aside() {
        tell(&serde_json::json!({"warning": "store unreadable; moved aside", "path": aside}));
    }
    match cli.command {
        Command::Init { .. } | Command::Enrol { .. } => unreachable!("handled above"),
        Command::Sync => {
            let summary = runtime()?.block_on(nb.sync(None))?;
            json(&serde_json::json!({
                "requests": summary.requests,
                "sent": summary.sent,
                "acknowledged": summary.acknowledged,
                "received": summary.received,
                "pending": summary.pending,
                "rejected": summary.rejected.iter().map(|r| serde_json::json!({
                    "record_id": r.record_id, "code": r.code, "message": r.message,
                })).collect::<Vec<_>>(),
                "rolled_back": summary.rolled_back,
                "pruned": summary.pruned,
                "held": summary.held,
                "expired": summary.expired,
            }))
        }
        Command::New { kind, json: file } => {
            let text = read_input(&file)?;
            let record = match kind.kind() {
                RecordKind::SceneAttendance => nb.create_scene(parse::<SceneInput>(&text)?)?,
                RecordKind::HomeBurglary => nb.create_burglary(parse::<SceneInput>(&text)?)?,
                RecordKind::StopSearch => nb.create_stop_search(parse::<StopSearch>(&text)?)?,
                RecordKind::StopAccount => nb.create_stop_account(parse::<StopAccount>(&text)?)?,
            };
            json(&record)
        }
        Command::Show { id } => json(&nb.get(id)?),
        Command::List {
            kind,
            status,
            reference,
            limit,
        } => json(&nb.list(ListFilter {
            kind: kind.map(KindArg::kind),
            status: status.map(|s| match s {
                StatusArg::Open => RecordStatus::Open,
                StatusArg::Complete => RecordStatus::Complete,
            }),
            reference,
            created_since: None,
            limit,
        })?),
        Command::Action { id, json: file } => {
            let detail: ActionDetail = parse(&read_input(&file)?)?;
            let action_id = nb.add_scene_action(id, detail)?;
            json(&serde_json::json!({ "action_id": action_id }))
        }
        Command::Note { id, text } => {
            let action_id = nb.add_scene_action(id, ActionDetail::Note { text })?;
            json(&serde_json::json!({ "action_id": action_id }))
        }
        Command::Tick {
            id,
            item,
            outcome,
            reason,
        } => {
            let item = ChecklistItem::parse(&item).ok_or_else(|| {
                input_error(format!(
                    "unknown checklist item {item:?}; expected one of {}",
                    ChecklistItem::expected()
                ))
            })?;
            let outcome = TickOutcome::parse(&outcome).ok_or_else(|| {
                input_error(format!(
                    "unknown outcome {outcome:?}; expected one of {}",
                    TickOutcome::expected()
                ))
            })?;
            nb.tick(id.clone(), item, outcome, reason)?;
            json(&nb.get(id)?)
        }
        Command::Arrive { id, at } => {
            nb.record_arrival(id.clone(), time(&at)?)?;
            json(&nb.get(id)?)
        }
        Command::Leave { id, at } => {
            nb.record_departure(id.clone(), time(&at)?)?;
            json(&nb.get(id)?)
        }
        Command::Updates {
            id,
            method,
            every_days,
        } => {
            let method = UpdateMethod::parse(&method).ok_or_else(|| {
                input_error(format!(
                    "unknown update method {method:?}; expected one of {}",
                    UpdateMethod::expected()
                ))
            })?;
            nb.agree_updates(id.clone(), UpdateAgreement { method, every_days })?;
            json(&nb.get(id)?)
        }
        Command::Notes { id, text, corrects } => {
            match corrects {
                Some(entry) => nb.correct_note(id.clone(), entry, text)?,
                None => nb.add_note(id.clone(), text)?,
            };
            json(&nb.get(id)?)
        }
        Command::Attend { id, officer } => {
            nb.add_attending_officer(id.clone(), officer)?;
            json(&nb.get(id)?)
        }
        Command::Receipt {
            id,
            medium,
            not_given,
        } => match (medium, not_given) {
            (Some(medium), None) => {
                let medium = match medium {
                    MediumArg::Printed => ReceiptMedium::Printed,
                    MediumArg::Email => ReceiptMedium::Email,
                    MediumArg::Text => ReceiptMedium::Text,
                };
                let reference = nb.issue_receipt(id, medium)?;
                json(&serde_json::json!({ "reference": reference }))
            }
            (None, Some(reason)) => {
                nb.receipt_not_given(id.clone(), reason)?;
                json(&nb.get(id)?)
            }
            _ => Err(input_error("give --medium or --not-given".into())),
        },
        Command::Access => json(&nb.access()?),
        Command::Retention => {
            let check = nb.check_retention()?;
            json(&serde_json::json!({
                "erased": check.erased,
                "overdue": check.overdue,
                "terms": nb.retention_terms()?,
                "legal_holds": nb.legal_holds()?,
            }))
        }
        Command::SetAside {
            version: Some(id),
            out: Some(out),
        } => {
            let bytes = nb.set_aside_version(id)?;
            output::write_private(&out, &bytes)?;
            json(&serde_json::json!({ "bytes": bytes.len(), "out": out }))
        }
        Command::SetAside { .. } => json(&nb.set_aside()?),
        Command::Export { id, out } => {
            let bytes = nb.export(id)?;
            output::write_private(&out, &bytes)?;
            json(&serde_json::json!({ "bytes": bytes.len(), "out": out }))
        }
        Command::Rekey { new_key_file } => {
            nb.rekey(key::read(&new_key_file, warnings)?)?;
            json(&serde_json::json!({ "rekeyed": true }))
        }
        Command::Promises(args) => promises::run(&nb, args),
        Command::Import { file } => {
            let bytes = read_bounded(&file, pocketbook_core::chunks::DOCUMENT.bytes)?;
            json(&nb.import(bytes)?)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            kind: "storage",
            message: format!("cannot start the async runtime: {e}"),
            details: serde_json::Map::new(),
            exit: 1,
        })
}

/// Largest JSON input accepted (a record is a few kilobytes).
const MAX_INPUT_BYTES: usize = 1024 * 1024;

/// A JSON input file ("-" reads standard input), read no further than
/// `MAX_INPUT_BYTES`.
fn read_input(path: &Path) -> Result<String, Failure> {
    let bytes = read_bounded(path, MAX_INPUT_BYTES)?;
    String::from_utf8(bytes)
        .map_err(|_| input_error(format!("{} is not UTF-8 text", path.display())))
}

/// At most `limit` bytes of a file ("-": standard input). A larger input
/// is refused after reading `limit + 1` bytes, so a careless path (a disk
/// image, `/dev/zero`) costs no more memory than the largest input allowed.
pub(crate) fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let mut bytes = Vec::new();
    let result = if path.as_os_str() == "-" {
        std::io::stdin()
            .take(limit as u64 + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit as u64 + 1).read_to_end(&mut bytes))
    };
    result.map_err(|e| input_error(format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() > limit {
        return Err(input_error(format!(
            "{} is larger than {limit} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Failure> {
    serde_json::from_str(text).map_err(|e| input_error(format!("invalid JSON: {e}")))
}

fn json<T: Serialize>(value: &T) -> Result<serde_json::Value, Failure> {
    serde_json::to_value(value).map_err(|e| input_error(format!("cannot encode output: {e}")))
}
