//! How the `admin` commands show what they did: JSON with `--json`, else
//! a sentence or a tab-separated table. Rendering only: every value shown
//! here was fetched or changed through [`crate::admin::Admin`].
//!
//! Much of what is shown was typed on a device (a place, a reference, an
//! officer's number, an audit event's detail) and reaches the admin's
//! terminal: every table cell goes through [`cell`] and every JSON answer
//! through [`json_for_terminal`], so no escape sequence, line break, tab
//! or bidi control chosen by a device can rewrite the screen, forge a row
//! or reorder what the admin reads.

use std::borrow::Cow;
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

/// Characters that change how the rest of a line reads without being
/// seen: bidi marks, embeddings, overrides and isolates, zero-width
/// characters, the word joiner and the byte-order mark, and the Unicode
/// line and paragraph separators. [`char::is_control`] covers the rest
/// (C0, DEL, C1: escape sequences, tabs, line ends).
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `text` as one cell of a table on a terminal: each control character
/// and invisible format character written as `\u{...}`, so it is seen and
/// does nothing.
pub fn cell(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() || is_invisible_format(c) {
                    format!("\\u{{{:x}}}", u32::from(c))
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// A JSON text as serde_json writes it (which escapes C0 controls only)
/// with DEL, the C1 controls (U+009B is a terminal's CSI) and each
/// invisible format character escaped as `\uXXXX` too: the same JSON
/// value, and nothing in it acts on the terminal. These characters occur
/// only inside strings, where the escape is valid; the layout's line
/// breaks and indents (C0, ASCII) are left alone.
pub fn json_for_terminal(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if (c.is_control() && c > '\u{7e}') || is_invisible_format(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// A tab-separated listing with a header line; each row's cells go
/// through [`cell`].
fn table<T>(header: &str, rows: &[T], row: impl Fn(&T) -> Vec<String>) -> String {
    std::iter::once(header.to_string())
        .chain(rows.iter().map(|r| {
            row(r)
                .iter()
                .map(|text| cell(text))
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

pub fn retention(report: &RetentionReport, dry_run: bool) -> String {
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
        return format!("no promise of {} is overdue", cell(station));
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
