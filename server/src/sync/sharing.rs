//! Writes that reach beyond a record's author, and their audit events:
//! sharing a scene or burglary record with the co-attending officers a push
//! names who cannot see it yet, and promise entries added by people who may
//! not otherwise change the record (a supervisor's review, a victim update
//! by station staff).

use pocketbook_core::model::{Record, RecordBody, SceneAttendance};
use pocketbook_core::rules::Write;
use serde_json::json;

use crate::audit::{self, Action, actor};
use crate::storage::{NewAuditEvent, Principal, Storage, StorageError};

fn scene(record: &Record) -> Option<&SceneAttendance> {
    match &record.body {
        RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => Some(scene),
        RecordBody::StopSearch { .. } | RecordBody::StopAccount { .. } => None,
    }
}

/// Co-attending officers named on the record who cannot see it yet.
pub(super) fn new_readers(record: &Record, readers: &[String]) -> Vec<String> {
    let Some(scene) = scene(record) else {
        return Vec::new();
    };
    let author = &record.header.author.shoulder_number;
    let mut grant: Vec<String> = scene
        .attending
        .iter()
        .filter(|o| *o != author && !readers.contains(o))
        .cloned()
        .collect();
    grant.sort();
    grant.dedup();
    grant
}

/// The `record-shared` event of a grant. Officers the server knows are
/// named; anything else a device typed as a colleague is only counted, so
/// no free text reaches the audit trail (it is still granted: an officer
/// added later with that shoulder number sees the record).
pub(super) fn sharing_events(
    storage: &dyn Storage,
    principal: &Principal,
    record_id: &str,
    grant: &[String],
) -> Result<Vec<NewAuditEvent>, StorageError> {
    if grant.is_empty() {
        return Ok(Vec::new());
    }
    let mut known = Vec::new();
    for officer in grant {
        if storage.officer(officer)?.is_some() {
            known.push(officer.as_str());
        }
    }
    Ok(vec![audit::event(
        actor::officer(&principal.officer.shoulder_number),
        Action::RecordShared,
        Some(record_id),
        json!({"device": principal.device.id, "with": known, "not_known": grant.len() - known.len()}),
    )])
}

/// One `promise-entry-added` event for each promise entry added by someone
/// who may not otherwise change the record. An editor's own entries are
/// part of their record and not audited apart. The event names the kind
/// and the entry's id (device-made, random), never its content.
pub(super) fn entry_events(
    principal: &Principal,
    record_id: &str,
    write: &Write,
) -> Vec<NewAuditEvent> {
    if !write.entries_only {
        return Vec::new();
    }
    write
        .new_entries
        .iter()
        .map(|entry| {
            audit::event(
                actor::officer(&principal.officer.shoulder_number),
                Action::PromiseEntryAdded,
                Some(record_id),
                json!({
                    "device": principal.device.id,
                    "kind": entry.kind.as_str(),
                    "correction": entry.correction,
                }),
            )
        })
        .collect()
}
