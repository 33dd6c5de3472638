//! How the `admin` commands show what they did: JSON with `--json`, else
//! a sentence or a tab-separated table. Rendering only: every value shown
//! here was fetched or changed through [`crate::admin::Admin`].
//!
//! Much of what is shown was typed on a device (a place, a reference, an
//! officer's number, an audit event's detail) and reaches the admin's
//! terminal: every table cell goes through [`inert`] and every JSON answer
//! through [`json_for_terminal`] (both `pocketbook_core::text`, which the
//! device CLI shares), so no escape sequence, line break, tab or bidi
//! control chosen by a device can rewrite the screen, forge a row or
//! reorder what the admin reads.

use std::io::Write;

use pocketbook_core::text::{inert, json_for_terminal};

use crate::admin::ChangeReceived;
use crate::audit::Verification;
use crate::copy::staff::RecordMatch;
use crate::retention::{ClockStatus, RetentionReport};
use crate::storage::{AuditEvent, DeviceRow, LegalHold, OfficerRow, RecordIndex};

/// Prints `value` as pretty JSON, or the text made by `text`.
pub fn print<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> Result<(), String> {
    let shown = if json {
        json_for_terminal(&serde_json::to_string_pretty(value).unwrap_or_default())
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

/// A tab-separated listing with a header line; each row's cells go
/// through [`inert`].
fn table<T>(header: &str, rows: &[T], row: impl Fn(&T) -> Vec<String>) -> String {
    std::iter::once(header.to_string())
        .chain(rows.iter().map(|r| {
            row(r)
                .iter()
                .map(|text| inert(text))
                .collect::<Vec<_>>()
                .join("\t")
        }))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn officers(officers: &[OfficerRow]) -> String {
    table(
        "SHOULDER NUMBER\tNAME\tSTATION\tROLE\tSTATUS",
        officers,
        |o| {
            vec![
                o.shoulder_number.clone(),
                o.name.clone(),
                o.station.clone(),
                o.role.as_str().into(),
                if o.active { "active" } else { "inactive" }.into(),
            ]
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
            vec![
                d.id.clone(),
                d.officer.clone(),
                d.label.clone(),
                d.enrolled_at.clone(),
                d.last_seen.clone().unwrap_or_else(|| "never synced".into()),
                status.into(),
            ]
        },
    )
}

pub fn records(records: &[RecordIndex]) -> String {
    table(
        "ID\tKIND\tREFERENCE\tAUTHOR\tSTATION\tCREATED\tUPDATED",
        records,
        |r| {
            vec![
                r.id.clone(),
                r.kind.to_string(),
                r.reference.clone(),
                r.author.clone(),
                r.station.clone(),
                r.created_at.clone(),
                r.updated_at.clone(),
            ]
        },
    )
}

pub fn history(history: &[ChangeReceived]) -> String {
    table("SEQ\tRECEIVED\tDEVICE\tBYTES", history, |c| {
        let bytes = if c.erased {
            "erased".to_string()
        } else {
            c.bytes.to_string()
        };
        vec![
            c.seq.to_string(),
            c.received_at.clone().unwrap_or_else(|| "-".into()),
            c.origin_device.clone(),
            bytes,
        ]
    })
}

/// Why `admin retention run` failed when the clock is held.
pub const CLOCK_HELD: &str = "nothing was erased: the server's clock is further ahead of the last trusted retention run than retention.clock_step_hours allows. Check the clock (date -u, NTP); if it is right, run `admin retention confirm-clock` (or `admin retention run --confirm-clock`)";

pub fn retention_clock(status: &ClockStatus) -> String {
    format!(
        "now {}\nlast trusted run {}\nheld since {}\nclock {}",
        status.now,
        status.reference.as_deref().unwrap_or("none yet"),
        status.held_at.as_deref().unwrap_or("-"),
        status.state.in_words()
    )
}

pub fn retention(report: &RetentionReport, dry_run: bool) -> String {
    if report.clock.is_ahead() {
        return format!("erased nothing: the clock is {}", report.clock.in_words());
    }
    let verb = if dry_run { "would erase" } else { "erased" };
    let header = format!(
        "{verb} {} record(s); {} on legal hold kept",
        report.records.len(),
        report.legal_holds
    );
    table(&header, &report.records, |r| {
        vec![
            r.record_id.clone(),
            r.kind.to_string(),
            r.occurred_at.clone(),
        ]
    })
}

pub fn holds(holds: &[LegalHold]) -> String {
    table("RECORD\tSET\tREASON", holds, |h| {
        vec![h.record_id.clone(), h.set_at.clone(), h.reason.clone()]
    })
}

pub fn matches(found: &[RecordMatch]) -> String {
    table(
        "RECORD\tREFERENCE\tKIND\tWHEN\tPLACE\tOFFICER",
        found,
        |m| {
            vec![
                m.record_id.clone(),
                m.reference.clone(),
                m.kind.to_string(),
                m.occurred_at.clone(),
                m.place.clone(),
                m.officer.clone(),
            ]
        },
    )
}

pub fn events(events: &[AuditEvent]) -> String {
    table("SEQ\tAT\tACTOR\tACTION\tRECORD\tDETAIL", events, |e| {
        vec![
            e.seq.to_string(),
            e.at.clone(),
            e.actor.clone(),
            e.action.clone(),
            e.record_id.clone().unwrap_or_else(|| "-".into()),
            e.detail.to_string(),
        ]
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
        return format!("no promise of {} is overdue", inert(station));
    }
    table(
        "DUE AT\tPROMISE\tCLAUSE\tREFERENCE\tOFFICER\tRECORD",
        overdue,
        |p| {
            vec![
                p.due_at.clone(),
                p.promise.to_string(),
                p.clause.to_string(),
                p.reference.clone(),
                p.officer.clone(),
                p.record_id.clone(),
            ]
        },
    )
}
