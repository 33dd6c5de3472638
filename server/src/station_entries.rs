//! Promise entries made at the station rather than on a handset: a victim
//! update by station staff (who do not sync), or a review by a supervisor
//! at a desk (`admin records entry`). The entry is written into the
//! record's document as a handset would write it and goes through the one
//! push path (`sync::push_record`): the same write rule
//! (`rules::check_write`: staff may add only victim updates to their
//! station's records), the same time checks, one feed entry so every
//! handset holding the record receives it, and the same
//! `promise-entry-added` audit event, in the commit's transaction.

use automerge::ActorId;
use chrono::{DateTime, Utc};
use pocketbook_core::document::RecordDoc;
use pocketbook_core::model::{PromiseEntry, PromiseEntryKind, Timestamp};
use pocketbook_core::sync::wire::PushedRecord;

use crate::clock::stamp;
use crate::identity::{DeviceRow, Principal};
use crate::retention::RetentionPolicy;
use crate::storage::{Storage, StorageError};
use crate::sync::{self, Arrival, CommitMode, PushResult};

/// The device the feed names for entries made at the station
/// (`admin records history`); never a real device's id.
pub const STATION_DESK: &str = "station-desk";

/// Why an entry was not made. Messages name the rule, never content.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// An entry of `kind` by `by` (a shoulder number) on the record, made at
/// `made_at`; returns the entry's id.
pub fn add_entry(
    storage: &dyn Storage,
    now: DateTime<Utc>,
    retention: RetentionPolicy,
    by: &str,
    record_id: &str,
    kind: PromiseEntryKind,
    made_at: Timestamp,
) -> Result<String, EntryError> {
    let officer = storage.officer(by)?.filter(|o| o.active).ok_or_else(|| {
        EntryError::Refused(format!("{by} is not an active officer or staff member"))
    })?;
    let stored = storage.record(record_id)?.ok_or_else(|| {
        EntryError::NotFound(format!("no record {record_id} (see `admin records list`)"))
    })?;
    let unreadable = |e: pocketbook_core::document::DocumentError| {
        StorageError::backend_from(Some("stored record unreadable"), e)
    };
    let mut doc = RecordDoc::load(&stored.snapshot, ActorId::random()).map_err(unreadable)?;
    let before = doc.heads();
    let entry = PromiseEntry {
        id: String::new(),
        kind,
        made_by: officer.shoulder_number.clone(),
        made_at,
        corrects: None,
        withdrawn: false,
    };
    let id = doc
        .add_promise_entry(&entry)
        .map_err(|e| EntryError::Refused(e.to_string()))?;
    let push = PushedRecord {
        record_id: record_id.to_string(),
        kind: stored.index.kind,
        changes: doc.changes_since(&before),
    };
    let at = stamp(now);
    let principal = Principal {
        device: DeviceRow {
            id: STATION_DESK.into(),
            officer: officer.shoulder_number.clone(),
            label: "station desk".into(),
            enrolled_at: at.clone(),
            revoked_at: None,
            last_seen: None,
            revoke_reason: None,
            retire_requested_at: None,
        },
        officer,
    };
    let arrival = Arrival {
        at: now,
        stamp: at.clone(),
        retention,
        // An entry moves no encounter time, and only an encounter time is
        // judged against the retention period: the clock serves.
        retention_now: now,
        commit: CommitMode::Grouped,
    };
    let mut refusals = Vec::new();
    let result = sync::push_record(storage, &principal, &push, &arrival, &mut refusals)?;
    if !refusals.is_empty() {
        storage.append_audit(&at, &refusals)?;
    }
    match result {
        PushResult::Accepted(_) => Ok(id),
        PushResult::Rejected(rejection) => Err(EntryError::Refused(rejection.message)),
    }
}
