//! The server side of a sync round trip: merge each pushed record into the
//! stored document and commit it with a feed entry, then page the feed for
//! the device. Pure logic over [`Storage`]; the HTTP layer only decodes,
//! authenticates and encodes.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;

use automerge::ActorId;
use pocketbook_core::document::{DocumentError, IndexColumns, RecordDoc};
use pocketbook_core::model::{Record, RecordBody, RecordKind, SceneAction, SceneAttendance, Tick};
use pocketbook_core::sync::wire::{
    Ack, FeedEntry, MAX_PAGE_ENTRIES, PushedRecord, Rejection, RejectionCode,
};
use serde_json::json;

use crate::audit::{self, Action, actor};
use crate::scope::{self, RecordScope};
use crate::storage::{
    NewAuditEvent, Principal, RecordCommit, RecordIndex, Storage, StorageError, StoredRecord,
};

/// How often a push is retried when another device changed the same record
/// between load and commit.
const COMMIT_ATTEMPTS: usize = 8;
/// Feed rows examined per request at most, whatever the device may see,
/// so one request's cost stays bounded.
const MAX_EXAMINED: u32 = 4 * MAX_PAGE_ENTRIES;
/// Change bytes per page, roughly.
const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// The result of one pushed record.
pub enum PushResult {
    Accepted(Ack),
    Rejected(Rejection),
}

fn reject(record_id: &str, code: RejectionCode, message: impl Into<String>) -> PushResult {
    PushResult::Rejected(Rejection {
        record_id: record_id.to_string(),
        code,
        message: message.into(),
    })
}

fn document_rejection(record_id: &str, e: DocumentError) -> PushResult {
    let code = match &e {
        DocumentError::Invalid(_) => RejectionCode::Invalid,
        DocumentError::MissingDependencies => RejectionCode::MissingDependencies,
        DocumentError::WrongKind { .. } => RejectionCode::WrongKind,
        _ => RejectionCode::Corrupt,
    };
    reject(record_id, code, e.to_string())
}

/// Merges one pushed record and commits it, or says why not. Nothing is
/// written for a rejected record. A refusal that matters (outside scope,
/// forged authorship) adds an event to `audit`, for the caller to append.
pub fn push_record(
    storage: &dyn Storage,
    principal: &Principal,
    push: &PushedRecord,
    now: &str,
    audit: &mut Vec<NewAuditEvent>,
) -> Result<PushResult, StorageError> {
    let result = merge_and_commit(storage, principal, push, now)?;
    if let PushResult::Rejected(rejection) = &result
        && rejection.code == RejectionCode::Forbidden
    {
        audit.push(audit::event(
            actor::officer(&principal.officer.shoulder_number),
            Action::PushRefused,
            Some(&push.record_id),
            json!({"device": principal.device.id, "reason": rejection.message}),
        ));
    }
    Ok(result)
}

fn merge_and_commit(
    storage: &dyn Storage,
    principal: &Principal,
    push: &PushedRecord,
    now: &str,
) -> Result<PushResult, StorageError> {
    for _ in 0..COMMIT_ATTEMPTS {
        // Decoding hostile bytes must never take the batch (or the server)
        // down: a panic while merging one record refuses that record alone.
        // Nothing is half-written: storage commits in one transaction.
        let attempt = std::panic::catch_unwind(AssertUnwindSafe(|| {
            match storage.record(&push.record_id)? {
                // An erased record stays erased: a stale device's copy is refused.
                None if storage.tombstone(&push.record_id)?.is_some() => Ok(Some(reject(
                    &push.record_id,
                    RejectionCode::Erased,
                    "this record was erased at the end of its retention period; erase the device's copy",
                ))),
                None => push_new(storage, principal, push, now),
                Some(stored) => push_existing(storage, principal, push, stored, now),
            }
        }));
        match attempt {
            Ok(Ok(Some(result))) => return Ok(result),
            // Lost a race with another writer: reload and merge again.
            Ok(Ok(None)) => continue,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                tracing::warn!("merging a pushed record panicked; refused as corrupt");
                return Ok(reject(
                    &push.record_id,
                    RejectionCode::Corrupt,
                    "the changes could not be decoded",
                ));
            }
        }
    }
    Err(StorageError::Conflict)
}

/// `Ok(None)` means a concurrent commit won; the caller retries.
fn push_new(
    storage: &dyn Storage,
    principal: &Principal,
    push: &PushedRecord,
    now: &str,
) -> Result<Option<PushResult>, StorageError> {
    let id = &push.record_id;
    let mut doc = match RecordDoc::from_changes(&push.changes, ActorId::random()) {
        Ok(doc) => doc,
        Err(e) => return Ok(Some(document_rejection(id, e))),
    };
    let header = doc.header().clone();
    if header.id != *id {
        return Ok(Some(reject(
            id,
            RejectionCode::Corrupt,
            "the changes belong to another record id",
        )));
    }
    if header.kind != push.kind {
        return Ok(Some(reject(
            id,
            RejectionCode::WrongKind,
            format!("the record is a {}, not a {}", header.kind, push.kind),
        )));
    }
    if !scope::may_author(principal, &header.author.shoulder_number) {
        return Ok(Some(reject(
            id,
            RejectionCode::Forbidden,
            "a device may only create records authored by its own officer",
        )));
    }
    let (columns, record) = match check_merged(id, &doc, None, principal) {
        Ok(checked) => checked,
        Err(rejection) => return Ok(Some(rejection)),
    };
    let grant = new_readers(&record, &[]);
    let commit = RecordCommit {
        audit: sharing_events(principal, id, &grant),
        grant,
        index: RecordIndex {
            id: id.clone(),
            kind: header.kind,
            reference: header.reference.clone(),
            author: header.author.shoulder_number.clone(),
            // The author's station, from the server's officer list.
            station: principal.officer.station.clone(),
            occurred_at: columns.occurred_at,
            status: columns.status.as_str().to_string(),
            created_at: header.created_at.clone(),
            updated_at: now.to_string(),
        },
        new_changes: doc.changes_since(&[]),
        snapshot: doc.save(),
        expected_version: None,
        origin_device: principal.device.id.clone(),
    };
    commit_push(storage, &commit, &mut doc)
}

fn push_existing(
    storage: &dyn Storage,
    principal: &Principal,
    push: &PushedRecord,
    stored: StoredRecord,
    now: &str,
) -> Result<Option<PushResult>, StorageError> {
    let id = &push.record_id;
    let record_scope = RecordScope {
        author: &stored.index.author,
        station: &stored.index.station,
        readers: &stored.readers,
    };
    if !scope::may_change(principal, record_scope) {
        return Ok(Some(reject(
            id,
            RejectionCode::Forbidden,
            "this device may not change this record",
        )));
    }
    if stored.index.kind != push.kind {
        return Ok(Some(reject(
            id,
            RejectionCode::WrongKind,
            format!("the record is a {}, not a {}", stored.index.kind, push.kind),
        )));
    }
    let mut doc = RecordDoc::load(&stored.snapshot, ActorId::random())
        .map_err(|e| StorageError::Backend(format!("stored record unreadable: {e}")))?;
    let header_before = doc.header().clone();
    // Only scene records hold entries in an officer's name to check later.
    let record_before = match stored.index.kind {
        RecordKind::SceneAttendance | RecordKind::HomeBurglary => Some(
            doc.record()
                .map_err(|e| StorageError::Backend(format!("stored record unreadable: {e}")))?,
        ),
        RecordKind::StopSearch | RecordKind::StopAccount => None,
    };
    let before = doc.heads();
    if let Err(e) = doc.apply_changes(&push.changes) {
        return Ok(Some(document_rejection(id, e)));
    }
    let after = doc.heads();
    if after == before {
        // A replay: everything pushed is already here.
        return Ok(Some(PushResult::Accepted(Ack {
            record_id: id.clone(),
            heads: doc.heads_hex(),
        })));
    }
    let merged = match RecordDoc::load(&doc.save(), ActorId::random()) {
        Ok(merged) => merged,
        Err(e) => return Ok(Some(document_rejection(id, e))),
    };
    if *merged.header() != header_before {
        return Ok(Some(reject(
            id,
            RejectionCode::Forbidden,
            "a record's header (id, kind, reference, author, created) cannot change",
        )));
    }
    let (columns, record) = match check_merged(id, &merged, record_before.as_ref(), principal) {
        Ok(checked) => checked,
        Err(rejection) => return Ok(Some(rejection)),
    };
    let grant = new_readers(&record, &stored.readers);
    // Officers added now have seen nothing of the record: their entry
    // carries its whole history, not just this push.
    let new_changes = if grant.is_empty() {
        doc.changes_since(&before)
    } else {
        doc.changes_since(&[])
    };
    let commit = RecordCommit {
        audit: sharing_events(principal, id, &grant),
        grant,
        index: RecordIndex {
            occurred_at: columns.occurred_at,
            status: columns.status.as_str().to_string(),
            updated_at: now.to_string(),
            ..stored.index.clone()
        },
        new_changes,
        snapshot: doc.save(),
        expected_version: Some(stored.version),
        origin_device: principal.device.id.clone(),
    };
    commit_push(storage, &commit, &mut doc)
}

/// The merged record, checked: every rule of its kind, its index columns,
/// and every entry new since `before` in the pushing officer's name.
fn check_merged(
    id: &str,
    doc: &RecordDoc,
    before: Option<&Record>,
    principal: &Principal,
) -> Result<(IndexColumns, Record), PushResult> {
    let checked = doc
        .checked_record()
        .and_then(|record| Ok((doc.index_columns()?, record)));
    let (columns, record) = checked.map_err(|e| document_rejection(id, e))?;
    if let Some(problem) = forged_entries(before, &record, &principal.officer.shoulder_number) {
        return Err(reject(id, RejectionCode::Forbidden, problem));
    }
    Ok((columns, record))
}

/// Commits an accepted push; `Ok(None)` if a concurrent commit won.
fn commit_push(
    storage: &dyn Storage,
    commit: &RecordCommit,
    doc: &mut RecordDoc,
) -> Result<Option<PushResult>, StorageError> {
    match storage.commit_record(commit) {
        Ok(_) => Ok(Some(PushResult::Accepted(Ack {
            record_id: commit.index.id.clone(),
            heads: doc.heads_hex(),
        }))),
        Err(StorageError::Conflict) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A page of the feed for one device.
pub struct FeedPage {
    pub entries: Vec<FeedEntry>,
    pub cursor: u64,
    pub more: bool,
    /// A `record-read` event for each entry of a record the device's
    /// officer did not author: appended before the page is sent.
    pub reads: Vec<NewAuditEvent>,
}

/// The feed after `cursor` that this device may see, skipping what it caused.
///
/// One request examines at most [`MAX_EXAMINED`] rows and about
/// [`PAGE_BYTES`] of changes, whatever the device may see, so its cost is
/// bounded; `cursor` moves past every row examined (seen or skipped), and
/// `more` says the device should ask again at once.
pub fn feed_page(
    storage: &dyn Storage,
    principal: &Principal,
    cursor: u64,
    page_size: Option<u32>,
) -> Result<FeedPage, StorageError> {
    let limit = page_size
        .unwrap_or(MAX_PAGE_ENTRIES)
        .clamp(1, MAX_PAGE_ENTRIES) as usize;
    let rows = storage.feed_window(cursor, MAX_EXAMINED, PAGE_BYTES)?;
    let read: usize = rows.iter().map(|r| r.changes.len()).sum();
    let window_full = rows.len() >= MAX_EXAMINED as usize || read >= PAGE_BYTES;
    let mut page = FeedPage {
        entries: Vec::new(),
        cursor,
        more: false,
        reads: Vec::new(),
    };
    for row in rows {
        if page.entries.len() >= limit {
            page.more = true;
            return Ok(page);
        }
        page.cursor = row.seq;
        if row.origin_device == principal.device.id || !scope::may_see(principal, (&row).into()) {
            continue;
        }
        if row.author != principal.officer.shoulder_number && !row.erased {
            page.reads.push(audit::event(
                actor::officer(&principal.officer.shoulder_number),
                Action::RecordRead,
                Some(&row.record_id),
                json!({"device": principal.device.id, "seq": row.seq}),
            ));
        }
        page.entries.push(FeedEntry {
            seq: row.seq,
            record_id: row.record_id,
            kind: row.kind,
            changes: row.changes,
            erased: row.erased,
        });
    }
    page.more = window_full;
    Ok(page)
}

fn scene(record: &Record) -> Option<&SceneAttendance> {
    match &record.body {
        RecordBody::SceneAttendance { scene } | RecordBody::HomeBurglary { scene } => Some(scene),
        RecordBody::StopSearch { .. } | RecordBody::StopAccount { .. } => None,
    }
}

/// Entries of the record that claim another officer but are new in this
/// push (`before` is the server's copy; `None` for a new record): a device
/// writes in its own officer's name only.
fn forged_entries(before: Option<&Record>, after: &Record, me: &str) -> Option<String> {
    let after = scene(after)?;
    let before = before.and_then(scene);
    // Looked up by id and by item: one pass, whatever the record's size.
    let known_actions: HashMap<&str, &SceneAction> = before
        .map(|b| b.actions.iter().map(|a| (a.id.as_str(), a)).collect())
        .unwrap_or_default();
    let known_ticks: HashMap<&str, &Tick> = before
        .map(|b| b.checklist.iter().map(|t| (t.item.as_str(), t)).collect())
        .unwrap_or_default();
    for action in &after.actions {
        let known = known_actions.get(action.id.as_str()) == Some(&action);
        if !known && action.recorded_by != me {
            return Some(format!(
                "scene action {} is recorded in another officer's name",
                action.id
            ));
        }
    }
    for tick in &after.checklist {
        let known = known_ticks.get(tick.item.as_str()) == Some(&tick);
        if !known && tick.ticked_by != me {
            return Some(format!(
                "checklist item '{}' is ticked in another officer's name",
                tick.item.as_str()
            ));
        }
    }
    None
}

/// Co-attending officers named on the record who cannot see it yet.
fn new_readers(record: &Record, readers: &[String]) -> Vec<String> {
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

fn sharing_events(principal: &Principal, record_id: &str, grant: &[String]) -> Vec<NewAuditEvent> {
    if grant.is_empty() {
        return Vec::new();
    }
    vec![audit::event(
        actor::officer(&principal.officer.shoulder_number),
        Action::RecordShared,
        Some(record_id),
        json!({"device": principal.device.id, "with": grant}),
    )]
}
