//! The times of a pushed record: every time in the one accepted spelling
//! (RFC 3339's exact form), an encounter or call time the server can
//! believe (not far ahead of its clock, not so old that retention would
//! erase it at once: judged by the time retention trusts, see
//! [`plausible`]), and an attendance time (arrived, left) not after the
//! server received it, give or take a wrong handset clock: a response
//! target is computed from the call and arrival times (docs/clocks.md).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use pocketbook_core::model::{Receipt, Record, RecordBody, RecordKind};

use super::Arrival;
use crate::clock::normalise_time;

/// How far ahead of the server's clock an encounter may be dated: handset
/// clocks drift, and a time zone set wrong is an hour or two off.
pub const FUTURE_TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::hours(6);

pub(super) fn time_problem(field: &str) -> String {
    format!(
        "{field}: not a time in RFC 3339's exact form (e.g. 2026-11-28T14:05:00Z, or with an offset such as +01:00)"
    )
}

fn receipt_time(receipt: &Option<Receipt>) -> Option<(&'static str, &str)> {
    match receipt {
        Some(Receipt::Given { given_at, .. }) => Some(("receipt.given_at", given_at.as_str())),
        Some(Receipt::NotGiven { recorded_at, .. }) => {
            Some(("receipt.recorded_at", recorded_at.as_str()))
        }
        None => None,
    }
}

/// Every time a record holds, with its field.
fn times(record: &Record) -> Vec<(String, &str)> {
    let mut out = vec![("created_at".to_string(), record.header.created_at.as_str())];
    match &record.body {
        RecordBody::StopSearch { search } => {
            out.push(("datetime".into(), &search.datetime));
            out.extend(receipt_time(&search.receipt).map(|(f, t)| (f.to_string(), t)));
        }
        RecordBody::StopAccount { account } => {
            out.push(("datetime".into(), &account.datetime));
            out.extend(receipt_time(&account.receipt).map(|(f, t)| (f.to_string(), t)));
        }
        RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => {
            out.push(("call_received".into(), &scene.call_received));
            for (field, time) in [
                ("appointment", &scene.appointment),
                ("arrived", &scene.arrived),
                ("left", &scene.left),
            ] {
                out.extend(time.as_deref().map(|t| (field.to_string(), t)));
            }
            for (i, action) in scene.actions.iter().enumerate() {
                out.push((format!("actions[{i}].recorded_at"), &action.recorded_at));
            }
            for tick in &scene.checklist {
                out.push((
                    format!("checklist.{}.ticked_at", tick.item.as_str()),
                    &tick.ticked_at,
                ));
            }
        }
    }
    out
}

/// Times new in this push (not already in `before`) whose spelling does
/// not round-trip, one problem per field.
pub(super) fn unreadable_times(before: Option<&Record>, after: &Record) -> Vec<String> {
    let known: HashSet<&str> = before
        .map(|b| times(b).into_iter().map(|(_, t)| t).collect())
        .unwrap_or_default();
    times(after)
        .into_iter()
        .filter(|(_, t)| !known.contains(t) && normalise_time(t).is_none())
        .map(|(field, _)| time_problem(&field))
        .collect()
}

/// Attendance times new or changed in this push (`arrived`, `left`) that
/// are more than [`FUTURE_TOLERANCE`] after the server's receive time: an
/// officer cannot have arrived after the server was told so. One problem
/// per field. Times already stored are not judged again.
pub(super) fn attendance_problems(
    before: Option<&Record>,
    after: &Record,
    arrival: &Arrival,
) -> Vec<String> {
    let attendance = |record: &Record| match &record.body {
        RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => [
            ("arrived", scene.arrived.clone()),
            ("left", scene.left.clone()),
        ],
        _ => [("arrived", None), ("left", None)],
    };
    let known = before.map(attendance);
    attendance(after)
        .into_iter()
        .enumerate()
        .filter_map(|(i, (field, time))| {
            let time = time?;
            let unchanged = known
                .as_ref()
                .is_some_and(|k| k[i].1.as_ref() == Some(&time));
            (!unchanged && time.instant() > arrival.at + FUTURE_TOLERANCE)
                .then(|| too_late(field, arrival))
        })
        .collect()
}

/// Promise entries new in this push (a victim update, a review, a contact)
/// made more than [`FUTURE_TOLERANCE`] after the server's receive time:
/// nothing can have been done after the server was told it was. An entry
/// dated ahead would keep a promise before anyone kept it. One problem per
/// entry, by position; entries already stored are not judged again.
pub(super) fn entry_problems(
    before: Option<&Record>,
    after: &Record,
    arrival: &Arrival,
) -> Vec<String> {
    let entries = |record: &Record| {
        record
            .body
            .scene()
            .map(|s| s.promise_entries.clone())
            .unwrap_or_default()
    };
    let known: HashSet<String> = before
        .map(|b| entries(b).into_iter().map(|e| e.id).collect())
        .unwrap_or_default();
    entries(after)
        .iter()
        .enumerate()
        .filter(|(_, e)| !known.contains(&e.id))
        .filter(|(_, e)| e.made_at.instant() > arrival.at + FUTURE_TOLERANCE)
        .map(|(i, _)| too_late(&format!("promise_entries[{i}].made_at"), arrival))
        .collect()
}

/// When a new record was made, as the server indexes it: its `created_at`,
/// but never after the server received it (`arrival`). A record cannot be
/// made after the server has it, so this changes nothing for a handset
/// with a true clock; a `created_at` ahead of the server's clock (a clock
/// set wrong, or forged) would otherwise loosen [`moved_past_making`].
pub(super) fn made_at(created_at: &str, arrival: &Arrival) -> String {
    match DateTime::parse_from_rfc3339(created_at) {
        Ok(made) if made.with_timezone(&Utc) > arrival.at => arrival.stamp.clone(),
        _ => created_at.to_string(),
    }
}

/// An encounter or call time changed after the record reached the server
/// may not move past the record's making (`made`, as indexed by
/// [`made_at`]: never after the server first received the record) by more
/// than [`FUTURE_TOLERANCE`]: an encounter is recorded after it happens.
/// Without this bound the author could, months later and before the
/// receipt froze the record, push a `datetime` of "now" (plausible by the
/// server's clock) and put off the record's erasure by as long. A making
/// time the server cannot read (stored by an older server) bounds nothing.
pub(super) fn moved_past_making(
    kind: RecordKind,
    made: &str,
    occurred_at: &str,
) -> Result<(), String> {
    let field = occurred_field(kind);
    let made = DateTime::parse_from_rfc3339(made);
    let at = DateTime::parse_from_rfc3339(occurred_at);
    match (made, at) {
        (Ok(made), Ok(at)) if at > made + FUTURE_TOLERANCE => Err(format!(
            "{field}: more than {} hours after the record was made (created_at); an encounter is recorded after it happens",
            FUTURE_TOLERANCE.num_hours()
        )),
        _ => Ok(()),
    }
}

/// The field that holds a kind's encounter or call time.
fn occurred_field(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::StopSearch | RecordKind::StopAccount => "datetime",
        RecordKind::SceneAttendance | RecordKind::HomeBurglary => "call_received",
    }
}

fn too_late(field: &str, arrival: &Arrival) -> String {
    format!(
        "{field}: more than {} hours after the server's time ({}); check the handset's clock",
        FUTURE_TOLERANCE.num_hours(),
        arrival.stamp
    )
}

/// An encounter or call time the server can believe: not more than
/// [`FUTURE_TOLERANCE`] after its own clock, and not so old that retention
/// would erase the record at once.
///
/// The two bounds are judged by different times when the clock jumped
/// (`docs/retention-clock.md`), each the one that cannot refuse a true
/// time. "Too old" is judged by [`Arrival::retention_now`], the time
/// retention erases by: while the clock is held a year ahead, the trusted
/// reference, so a record made today is not refused as a year old (and the
/// retention job, which erases nothing while held, erases it by the same
/// time once the clock is confirmed). "In the future" stays judged by the
/// clock (`arrival.at`): a held clock is ahead of the true time, so it
/// bounds a true time from above, while the reference does not move while
/// held, and judging by it would refuse every record made more than
/// [`FUTURE_TOLERANCE`] after the last trusted run, within hours of a hold.
pub(super) fn plausible(
    kind: RecordKind,
    occurred_at: &str,
    arrival: &Arrival,
) -> Result<(), String> {
    let field = occurred_field(kind);
    let at = DateTime::parse_from_rfc3339(occurred_at)
        .map_err(|_| time_problem(field))?
        .with_timezone(&Utc);
    if at > arrival.at + FUTURE_TOLERANCE {
        return Err(too_late(field, arrival));
    }
    if arrival
        .retention
        .due_before(kind, arrival.retention_now)
        .is_some_and(|cutoff| at < cutoff)
    {
        return Err(format!(
            "{field}: older than the retention period of this kind of record; it would be erased at once"
        ));
    }
    Ok(())
}
