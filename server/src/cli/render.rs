//! How the `admin` commands show what they did: JSON with `--json`, else
//! a sentence or a tab-separated table. Rendering only: every value shown
//! here was fetched or changed through [`crate::admin::Admin`].

use std::io::Write;

use crate::admin::ChangeReceived;
use crate::audit::Verification;
use crate::copy::staff::RecordMatch;
use crate::retention::RetentionReport;
use crate::storage::{AuditEvent, DeviceRow, LegalHold, OfficerRow, RecordIndex};

/// Prints `value` as pretty JSON, or the text made by `text`.
pub fn print<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> Result<(), String> {
    let shown = if json {
        serde_json::to_string_pretty(value).unwrap_or_default()
    } else {
        text()
    };
    out(&format!("{shown}\n"))
}

/// Writes `text` to stdout. A reader that stopped reading (`| head`) is
/// not a failure: the command's work is already done and stored.
pub fn out(text: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("writing the answer: {e}"))
        }
        _ => Ok(()),
    }
}

/// A tab-separated listing with a header line.
fn table<T>(header: &str, rows: &[T], row: impl Fn(&T) -> String) -> String {
    std::iter::once(header.to_string())
        .chain(rows.iter().map(row))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn officers(officers: &[OfficerRow]) -> String {
    table(
        "SHOULDER NUMBER\tNAME\tSTATION\tROLE\tSTATUS",
        officers,
        |o| {
            format!(
                "{}\t{}\t{}\t{}\t{}",
                o.shoulder_number,
                o.name,
                o.station,
                o.role.as_str(),
                if o.active { "active" } else { "inactive" }
            )
        },
    )
}

pub fn devices(devices: &[DeviceRow]) -> String {
    table(
        "DEVICE\tOFFICER\tLABEL\tENROLLED\tLAST SEEN\tSTATUS",
        devices,
        |d| {
            let status = match (&d.revoke_reason, &d.retire_requested_at) {
                (Some(reason), _) => reason.as_str(),
                (None, Some(_)) => "retiring",
                (None, None) => "active",
            };
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                d.id,
                d.officer,
                d.label,
                d.enrolled_at,
                d.last_seen.as_deref().unwrap_or("never synced"),
                status
            )
        },
    )
}

pub fn records(records: &[RecordIndex]) -> String {
    table(
        "ID\tKIND\tREFERENCE\tAUTHOR\tSTATION\tCREATED\tUPDATED",
        records,
        |r| {
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                r.id, r.kind, r.reference, r.author, r.station, r.created_at, r.updated_at
            )
        },
    )
}

pub fn history(history: &[ChangeReceived]) -> String {
    table("SEQ\tRECEIVED\tDEVICE\tBYTES", history, |c| {
        let received = c.received_at.as_deref().unwrap_or("-");
        let bytes = if c.erased {
            "erased".to_string()
        } else {
            c.bytes.to_string()
        };
        format!("{}\t{received}\t{}\t{bytes}", c.seq, c.origin_device)
    })
}

pub fn retention(report: &RetentionReport, dry_run: bool) -> String {
    let verb = if dry_run { "would erase" } else { "erased" };
    let mut lines = vec![format!(
        "{verb} {} record(s); {} on legal hold kept",
        report.records.len(),
        report.legal_holds
    )];
    lines.extend(
        report
            .records
            .iter()
            .map(|r| format!("{}\t{}\t{}", r.record_id, r.kind, r.occurred_at)),
    );
    lines.join("\n")
}

pub fn holds(holds: &[LegalHold]) -> String {
    table("RECORD\tSET\tREASON", holds, |h| {
        format!("{}\t{}\t{}", h.record_id, h.set_at, h.reason)
    })
}

pub fn matches(found: &[RecordMatch]) -> String {
    table(
        "RECORD\tREFERENCE\tKIND\tWHEN\tPLACE\tOFFICER",
        found,
        |m| {
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                m.record_id, m.reference, m.kind, m.occurred_at, m.place, m.officer
            )
        },
    )
}

pub fn events(events: &[AuditEvent]) -> String {
    table("SEQ\tAT\tACTOR\tACTION\tRECORD\tDETAIL", events, |e| {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            e.seq,
            e.at,
            e.actor,
            e.action,
            e.record_id.as_deref().unwrap_or("-"),
            e.detail
        )
    })
}

pub fn verification(verification: &Verification) -> String {
    match &verification.problem {
        None => format!(
            "the audit trail is intact: {} events, every hash chained",
            verification.events
        ),
        Some(problem) => format!(
            "the audit trail was tampered with: {problem} ({} events checked before it)",
            verification.events
        ),
    }
}

pub fn overdue(station: &str, overdue: &[crate::pledge::OverduePromise]) -> String {
    if overdue.is_empty() {
        return format!("no promise of {station} is overdue");
    }
    table(
        "DUE AT\tPROMISE\tCLAUSE\tREFERENCE\tOFFICER\tRECORD",
        overdue,
        |p| {
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                p.due_at, p.promise, p.clause, p.reference, p.officer, p.record_id
            )
        },
    )
}
