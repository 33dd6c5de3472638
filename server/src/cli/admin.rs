//! The `admin` commands, one function per group: each opens the store of
//! the data directory (or `--database-url`), acts through
//! [`crate::admin::Admin`], and shows the result with [`render::print`].

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::sync::Arc;

use pocketbook_core::model::Timestamp;

use super::args::{
    AdminCommand, AuditCommand, CopyCommand, DataDir, DeviceCommand, HoldCommand, OfficerCommand,
    PromisesCommand, RecordsCommand,
};
use super::render::{self, print};

mod retention;
use crate::admin::{Admin, AdminError};
use crate::clock::Clock;
use crate::config::{self, DEFAULT_DATA_DIR};
use crate::copy;
use crate::storage::{AuditQuery, Storage};

/// An admin error as the command line shows it.
fn failed(e: AdminError) -> String {
    e.to_string()
}

/// Runs one `admin` command against the store `data` names.
pub(super) fn run(data: DataDir, json: bool, command: AdminCommand) -> Result<(), String> {
    let settings = config::resolve(data.data_dir.clone(), None, data.config.as_deref())?;
    if let (AdminCommand::Officer(OfficerCommand::Add { .. }), None) =
        (&command, &data.database_url)
    {
        // Adding the first officer may create the data directory: the
        // server's alone (0700), as the store makes it.
        let dir = &settings.data_dir;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // Copies are given within the configured retention periods only.
    let admin = Admin::new(open(&data)?, Clock::system()).with_retention(settings.retention);
    match command {
        AdminCommand::Migrate { to } => migrate(&data, json, &to)?,
        AdminCommand::Promises(PromisesCommand::Overdue { station }) => {
            let overdue = admin.overdue_promises(&station).map_err(failed)?;
            print(json, &overdue, || render::overdue(&station, &overdue))?;
        }
        AdminCommand::Figures {
            month,
            station,
            format,
            searches,
            out,
        } => {
            let rendered = if searches {
                admin.figure_searches(&month, station.as_deref(), format.into())
            } else {
                admin.figures(&month, station.as_deref(), format.into())
            }
            .map_err(failed)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &rendered.body)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    eprintln!("figures for {month} written to {}", path.display());
                }
                None => render::out(&rendered.body)?,
            }
        }
        AdminCommand::Officer(command) => officer(&admin, json, command)?,
        AdminCommand::Device(command) => device(&admin, &data, json, command)?,
        AdminCommand::Records(command) => records(&admin, &data, json, command)?,
        AdminCommand::Audit(command) => audit(&admin, json, command)?,
        AdminCommand::Retention(command) => {
            retention::run(&admin, &settings.retention, json, command)?
        }
        AdminCommand::Hold(command) => hold(&admin, json, command)?,
        AdminCommand::Copy(command) => copies(&admin, json, command)?,
    }
    Ok(())
}

/// A file only its owner may read (0600), created or emptied: a person's
/// copy of their record and the audit trail are personal data. `mode`
/// applies only to a file the call creates, so a file that was already
/// there (made with `touch`, or an earlier one copied about) is made
/// 0600 too, through the open handle, before anything is written to it.
fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::PermissionsExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// The store `data` names: PostgreSQL by URL, else the data directory's
/// SQLite file, which must exist.
fn open(data: &DataDir) -> Result<Arc<dyn Storage>, String> {
    let config = config::resolve(data.data_dir.clone(), None, data.config.as_deref())?;
    if let Some(url) = data
        .database_url
        .as_deref()
        .or(config.database_url.as_deref())
    {
        return crate::storage::open(&config.data_dir, Some(url)).map_err(|e| e.to_string());
    }
    if !config.data_dir.exists() {
        return Err(format!(
            "no data directory at {} (start the server once, or pass --data-dir; default {DEFAULT_DATA_DIR})",
            config.data_dir.display()
        ));
    }
    crate::storage::open(&config.data_dir, None).map_err(|e| e.to_string())
}

/// `admin migrate --to postgres://...`: the SQLite store of the data
/// directory copied into an empty PostgreSQL database, whose audit chain is
/// then verified.
fn migrate(data: &DataDir, json: bool, to: &str) -> Result<(), String> {
    use crate::storage::postgres::{PostgresStorage, import_sqlite};
    if data.database_url.is_some() {
        return Err(
            "migrate reads the SQLite store of --data-dir: leave out --database-url (and unset POCKETBOOK_DATABASE_URL); the target is --to".into(),
        );
    }
    let config = config::resolve(data.data_dir.clone(), None, data.config.as_deref())?;
    if !config.data_dir.exists() {
        return Err(format!(
            "no data directory at {} (pass --data-dir; default {DEFAULT_DATA_DIR})",
            config.data_dir.display()
        ));
    }
    let target = PostgresStorage::open(to).map_err(|e| e.to_string())?;
    let report = import_sqlite(&config.data_dir, &target).map_err(|e| e.to_string())?;
    let verified = crate::audit::verify(&target).map_err(|e| e.to_string())?;
    if let Some(problem) = &verified.problem {
        return Err(format!(
            "copied, but the audit trail does not verify in PostgreSQL: {problem}"
        ));
    }
    print(
        json,
        &serde_json::json!({"report": report, "audit_events_verified": verified.events}),
        || {
            let rows: Vec<String> = report
                .tables
                .iter()
                .map(|(table, n)| format!("{table} {n}"))
                .collect();
            format!(
                "copied to PostgreSQL: {}\nfeed positions kept up to {} (device cursors stay valid); audit trail intact ({} events). Start the servers with --database-url.",
                rows.join(", "),
                report.feed_head,
                verified.events
            )
        },
    )?;
    Ok(())
}

fn officer(admin: &Admin, json: bool, command: OfficerCommand) -> Result<(), String> {
    match command {
        OfficerCommand::Add {
            shoulder_number,
            name,
            station,
            role,
        } => {
            let officer = admin
                .add_officer(&shoulder_number, &name, &station, role.into())
                .map_err(failed)?;
            print(json, &officer, || {
                format!(
                    "added officer {} ({})",
                    officer.shoulder_number,
                    officer.role.as_str()
                )
            })?;
        }
        OfficerCommand::List => {
            let officers = admin.officers().map_err(failed)?;
            print(json, &officers, || render::officers(&officers))?;
        }
        OfficerCommand::Deactivate { shoulder_number } => {
            let devices = admin.deactivate_officer(&shoulder_number).map_err(failed)?;
            let value = serde_json::json!({"officer": shoulder_number, "devices_revoked": devices});
            print(json, &value, || {
                format!(
                    "deactivated officer {shoulder_number}; revoked {} device(s), each wipes at its next contact",
                    devices.len()
                )
            })?;
        }
    }
    Ok(())
}

fn device(admin: &Admin, data: &DataDir, json: bool, command: DeviceCommand) -> Result<(), String> {
    match command {
        DeviceCommand::Enrol {
            officer,
            ttl_minutes,
            link,
            qr,
        } => {
            let settings = config::resolve_link(
                crate::link::LinkSettings {
                    public_url: link.public_url,
                    pin: link.tls_pin,
                    backup_pin: link.tls_backup_pin,
                    tls_cert: link.tls_cert,
                },
                data.config.as_deref(),
            )?;
            // Checked before the code is issued: a bad pin spends nothing.
            crate::link::enrolment_link(&settings, "check", &mut |_| {})?;
            let issued = admin
                .issue_enrolment_code(&officer, ttl_minutes)
                .map_err(failed)?;
            let link = crate::link::enrolment_link(&settings, &issued.code, &mut |warning| {
                eprintln!("warning: {warning}")
            })?;
            if !json {
                // The code alone on the first line of stdout, for scripts;
                // the expiry for the admin on stderr.
                eprintln!(
                    "one-time code for officer {officer}, valid for {ttl_minutes} minutes (until {})",
                    issued.expires_at
                );
            }
            let value = serde_json::json!({
                "officer": issued.officer,
                "code": issued.code,
                "expires_at": issued.expires_at,
                "link": link,
            });
            print(json, &value, || match &link {
                Some(link) => format!("{}\n{link}", issued.code),
                None => issued.code.clone(),
            })?;
            if let (true, Some(link)) = (qr, &link) {
                eprintln!("{}", crate::link::qr(link)?);
            } else if qr {
                return Err("--qr needs the enrolment link: set --public-url".into());
            }
        }
        DeviceCommand::List => {
            let devices = admin.devices().map_err(failed)?;
            print(json, &devices, || render::devices(&devices))?;
        }
        DeviceCommand::Revoke { id } => {
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
            )?;
        }
        DeviceCommand::Retire { id } => {
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
            )?;
        }
    }
    Ok(())
}

fn records(
    admin: &Admin,
    data: &DataDir,
    json: bool,
    command: RecordsCommand,
) -> Result<(), String> {
    match command {
        RecordsCommand::List => {
            let records = admin.records().map_err(failed)?;
            print(json, &records, || render::records(&records))?;
        }
        RecordsCommand::Entry {
            record,
            by,
            kind,
            at,
        } => {
            let policy =
                config::resolve(data.data_dir.clone(), None, data.config.as_deref())?.retention;
            let made_at = at
                .map(|t| Timestamp::parse(&t).map_err(|e| format!("--at: {e}")))
                .transpose()?;
            let entry = admin
                .add_promise_entry(policy, &by, &record, kind, made_at)
                .map_err(failed)?;
            let done = serde_json::json!({"record_id": record, "entry_id": entry});
            print(json, &done, || {
                format!("\"{kind}\" entry {entry} added to record {record} (audited)")
            })?;
        }
        RecordsCommand::History { record } => {
            let history = admin.record_history(&record).map_err(failed)?;
            print(json, &history, || render::history(&history))?;
        }
    }
    Ok(())
}

fn hold(admin: &Admin, json: bool, command: HoldCommand) -> Result<(), String> {
    match command {
        HoldCommand::Set { record, reason } => {
            let hold = admin.hold(&record, &reason).map_err(failed)?;
            print(json, &hold, || {
                format!("record {record} is on legal hold: retention will not erase it")
            })?;
        }
        HoldCommand::Release { record, reason } => {
            admin.release(&record, &reason).map_err(failed)?;
            print(
                json,
                &serde_json::json!({"record": record, "held": false}),
                || format!("legal hold on record {record} lifted"),
            )?;
        }
        HoldCommand::List => {
            let holds = admin.legal_holds().map_err(failed)?;
            print(json, &holds, || render::holds(&holds))?;
        }
    }
    Ok(())
}

fn copies(admin: &Admin, json: bool, command: CopyCommand) -> Result<(), String> {
    match command {
        CopyCommand::Find {
            staff,
            date,
            place,
            officer,
        } => {
            let found = admin
                .find_copies(&staff, date, place.as_deref(), officer.as_deref())
                .map_err(failed)?;
            print(json, &found, || render::matches(&found))?;
        }
        CopyCommand::Issue { record, staff, out } => {
            let issued = admin.issue_copy(&staff, &record).map_err(failed)?;
            match out {
                Some(path) => {
                    private_file(&path)
                        .and_then(|mut f| f.write_all(copy::page::copy_page(&issued).as_bytes()))
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    eprintln!(
                        "copy of {} written to {} (audited)",
                        issued.reference,
                        path.display()
                    );
                }
                None => print(true, &issued, String::new)?,
            }
        }
    }
    Ok(())
}

fn audit(admin: &Admin, json: bool, command: AuditCommand) -> Result<(), String> {
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
            print(json, &events, || render::events(&events))?;
        }
        AuditCommand::Export { out } => {
            let mut sink: Box<dyn Write> = match &out {
                Some(path) => Box::new(std::io::BufWriter::new(
                    private_file(path).map_err(|e| format!("{}: {e}", path.display()))?,
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
                    // The same JSON value, nothing in it acting on a terminal.
                    let line = pocketbook_core::text::json_for_terminal(
                        &serde_json::to_string(event).map_err(|e| e.to_string())?,
                    );
                    match writeln!(sink, "{line}") {
                        // A reader of stdout that stopped reading (`| head`).
                        Err(e) if out.is_none() && e.kind() == std::io::ErrorKind::BrokenPipe => {
                            return Ok(());
                        }
                        result => result.map_err(|e| e.to_string())?,
                    }
                    written += 1;
                }
            }
            match sink.flush() {
                Err(e) if out.is_none() && e.kind() == std::io::ErrorKind::BrokenPipe => {}
                result => result.map_err(|e| e.to_string())?,
            }
            if let Some(path) = out {
                eprintln!("exported {written} audit events to {}", path.display());
            }
        }
        AuditCommand::Verify => {
            let verification = admin.verify_audit().map_err(failed)?;
            print(json, &verification, || render::verification(&verification))?;
            if !verification.intact() {
                return Err("audit verification failed".into());
            }
        }
    }
    Ok(())
}
