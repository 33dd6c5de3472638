//! Station staff at the front desk, for a person who has no reference (no
//! receipt was given, or it was lost): find the record by the day, the
//! place and the officer, then issue the copy.
//!
//! Only an active officer with the role `staff` or `supervisor` may do
//! this, and only for the records of their own station (see "The copy a
//! person may ask for" in `docs/domain/stop-and-search.md`). Every search is audited as
//! `staff-lookup` and every copy as `copy-issued`, with the staff member as
//! the actor; the place typed is not written to the trail. Given the
//! retention policy, a record past its period is gone from that second,
//! as for the public, whenever the retention job erases it.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::London;
use serde_json::json;

use super::lookup::is_due;
use super::{COPY_KINDS, RecordCopy, london_date_of, make_copy};
use crate::audit::{self, Action, actor};
use crate::clock::stamp;
use crate::identity::Role;
use crate::retention::RetentionPolicy;
use crate::storage::{OfficerRow, Storage, StorageError};

/// Why staff were refused.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Copy(#[from] super::CopyError),
}

/// One candidate record, enough for staff to tell the person's stop from
/// another the same day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordMatch {
    pub record_id: String,
    pub reference: String,
    pub kind: String,
    /// RFC 3339, as recorded.
    pub occurred_at: String,
    /// The street or place description.
    pub place: String,
    pub officer: String,
    pub station: String,
}

/// The staff member, if they may look records up for the public.
fn authorised(storage: &dyn Storage, staff: &str) -> Result<OfficerRow, StaffError> {
    let refused = || {
        StaffError::NotAllowed(format!(
            "{staff} may not look up records for the public: only an active member of station \
             staff or a supervisor may"
        ))
    };
    let officer = storage.officer(staff)?.ok_or_else(refused)?;
    if !officer.active || !matches!(officer.role, Role::Staff | Role::Supervisor) {
        return Err(refused());
    }
    Ok(officer)
}

/// The instants a London day starts and ends (RFC 3339, UTC).
fn london_day_bounds(date: NaiveDate) -> (String, String) {
    let start = |day: NaiveDate| {
        let midnight = day.and_time(chrono::NaiveTime::MIN);
        // A London day starts at a midnight that always exists (clocks
        // change at 1 am and 2 am); `earliest` covers any ambiguity.
        London
            .from_local_datetime(&midnight)
            .earliest()
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
    };
    let next = date.succ_opt().unwrap_or(date);
    (stamp(start(date)), stamp(start(next)))
}

/// Stop and search and stop and account records of the staff member's
/// station on `date` (London day), optionally at a place containing
/// `place` (case-insensitive) and by `officer`. Audited as `staff-lookup`.
pub fn find_for_person(
    storage: &dyn Storage,
    policy: Option<&RetentionPolicy>,
    now: DateTime<Utc>,
    staff: &str,
    date: NaiveDate,
    place: Option<&str>,
    officer: Option<&str>,
) -> Result<Vec<RecordMatch>, StaffError> {
    let me = authorised(storage, staff)?;
    let place = place
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty());
    let (from, to) = london_day_bounds(date);
    let mut found = Vec::new();
    for stored in storage.records_at_station(&me.station, &COPY_KINDS, &from, &to)? {
        let index = &stored.index;
        if london_date_of(&index.occurred_at) != Some(date)
            || officer.is_some_and(|o| o != index.author)
            || policy.is_some_and(|p| is_due(index, p, now))
        {
            continue;
        }
        let copy = make_copy(&stored, now)?;
        if place
            .as_deref()
            .is_some_and(|p| !copy.place.to_lowercase().contains(p))
        {
            continue;
        }
        found.push(RecordMatch {
            record_id: index.id.clone(),
            reference: index.reference.clone(),
            kind: index.kind.as_str().into(),
            occurred_at: index.occurred_at.clone(),
            place: copy.place,
            officer: index.author.clone(),
            station: index.station.clone(),
        });
    }
    found.sort_by(|a, b| a.occurred_at.cmp(&b.occurred_at));
    storage.append_audit(
        &stamp(now),
        &[audit::event(
            actor::officer(staff),
            Action::StaffLookup,
            None,
            json!({
                "date": date.to_string(),
                "place_given": place.is_some(),
                "officer": officer,
                "results": found.len(),
                "records": found.iter().map(|m| m.record_id.as_str()).collect::<Vec<_>>(),
            }),
        )],
    )?;
    Ok(found)
}

/// The copy of one record of the staff member's station, for the person at
/// the desk. Audited as `copy-issued` with the staff member as actor.
pub fn issue_copy(
    storage: &dyn Storage,
    policy: Option<&RetentionPolicy>,
    now: DateTime<Utc>,
    staff: &str,
    record_id: &str,
) -> Result<RecordCopy, StaffError> {
    let me = authorised(storage, staff)?;
    let stored = storage
        .record(record_id)?
        .filter(|r| {
            COPY_KINDS.contains(&r.index.kind)
                && r.index.station == me.station
                && !policy.is_some_and(|p| is_due(&r.index, p, now))
        })
        .ok_or_else(|| {
            StaffError::NotFound(format!(
                "no stop and search or stop and account record {record_id} at {}",
                me.station
            ))
        })?;
    let copy = make_copy(&stored, now)?;
    storage.append_audit(
        &stamp(now),
        &[audit::event(
            actor::officer(staff),
            Action::CopyIssued,
            Some(record_id),
            json!({"kind": stored.index.kind.as_str(), "via": "station"}),
        )],
    )?;
    Ok(copy)
}
