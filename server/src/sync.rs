//! The server side of a sync round trip: merge each pushed record into the
//! stored document and commit it with a feed entry, then page the feed for
//! the device. Pure logic over [`Storage`]; the HTTP layer only decodes,
//! authenticates and encodes.

use std::panic::AssertUnwindSafe;

use automerge::ActorId;
use pocketbook_core::document::{DocumentError, RecordDoc};
use pocketbook_core::sync::wire::{
    Ack, FeedEntry, MAX_PAGE_ENTRIES, PushedRecord, Rejection, RejectionCode,
};

use crate::scope;
use crate::storage::{Principal, RecordCommit, RecordIndex, Storage, StorageError};

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
/// written for a rejected record.
pub fn push_record(
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
    if let Err(e) = doc.validate() {
        return Ok(Some(document_rejection(id, e)));
    }
    let columns = match doc.index_columns() {
        Ok(c) => c,
        Err(e) => return Ok(Some(document_rejection(id, e))),
    };
    let commit = RecordCommit {
        index: RecordIndex {
            id: id.clone(),
            kind: header.kind,
            reference: header.reference.clone(),
            author: header.author.shoulder_number.clone(),
            station: scope::station_of(&principal.officer).to_string(),
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
    match storage.commit_record(&commit) {
        Ok(_) => Ok(Some(PushResult::Accepted(Ack {
            record_id: id.clone(),
            heads: doc.heads_hex(),
        }))),
        Err(StorageError::Conflict) => Ok(None),
        Err(e) => Err(e),
    }
}

fn push_existing(
    storage: &dyn Storage,
    principal: &Principal,
    push: &PushedRecord,
    stored: crate::storage::StoredRecord,
    now: &str,
) -> Result<Option<PushResult>, StorageError> {
    let id = &push.record_id;
    if !scope::may_change(principal, &stored.index) {
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
    if let Err(e) = merged.validate() {
        return Ok(Some(document_rejection(id, e)));
    }
    let columns = match merged.index_columns() {
        Ok(c) => c,
        Err(e) => return Ok(Some(document_rejection(id, e))),
    };
    let commit = RecordCommit {
        index: RecordIndex {
            occurred_at: columns.occurred_at,
            status: columns.status.as_str().to_string(),
            updated_at: now.to_string(),
            ..stored.index.clone()
        },
        new_changes: doc.changes_since(&before),
        snapshot: doc.save(),
        expected_version: Some(stored.version),
        origin_device: principal.device.id.clone(),
    };
    match storage.commit_record(&commit) {
        Ok(_) => Ok(Some(PushResult::Accepted(Ack {
            record_id: id.clone(),
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
    };
    for row in rows {
        if page.entries.len() >= limit {
            page.more = true;
            return Ok(page);
        }
        page.cursor = row.seq;
        if row.origin_device == principal.device.id || !scope::may_see(principal, &row) {
            continue;
        }
        page.entries.push(FeedEntry {
            seq: row.seq,
            record_id: row.record_id,
            kind: row.kind,
            changes: row.changes,
        });
    }
    page.more = window_full;
    Ok(page)
}
