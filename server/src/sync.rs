//! The server side of a sync round trip: merge each pushed record into the
//! stored document and commit it with a feed entry, then page the feed for
//! the device. Pure logic over [`Storage`]; the HTTP layer only decodes,
//! authenticates and encodes.
//!
//! This is the trust boundary for records: a pushed record is accepted only
//! if the device may change it, every time in it is in the one accepted
//! spelling and plausible against the server's clock, its header matches
//! the server's officer row, entries of other officers are neither forged,
//! altered nor removed, and a search whose receipt was given keeps its
//! encounter fields. A refusal is per record; one that a person caused on
//! purpose is audited.

mod checks;
pub(crate) mod feed;
mod group;
mod round_trip;
mod sharing;
mod times;

pub use feed::{FeedPage, feed_page};
pub use group::{CommitMode, push_records};
pub use round_trip::{RoundTrip, round_trip};
pub use times::FUTURE_TOLERANCE;

use checks::{Before, NewRecord, check_merged, judge_new};
use sharing::{entry_events, new_readers, sharing_events};

use std::panic::AssertUnwindSafe;

use automerge::ActorId;
use chrono::{DateTime, Utc};
use pocketbook_core::document::{DocumentError, RecordDoc};
use pocketbook_core::sync::wire::{Ack, PushedRecord, Rejection, RejectionCode};
use serde_json::json;

use crate::audit::{self, Action, actor};
use crate::retention::RetentionPolicy;
use crate::scope::{self, RecordScope};
use crate::storage::{
    Held, NewAuditEvent, Principal, RecordCommit, RecordIndex, Storage, StorageError, StoredRecord,
};

/// How often a push is retried when another device changed the same record
/// between load and commit.
const COMMIT_ATTEMPTS: usize = 8;

/// The one answer to a push of a record outside the device's scope, the
/// same whether the record exists, was erased, or never existed (a new
/// record claiming another author): the answer tells nothing about which.
pub const OUT_OF_SCOPE: &str = "this device may not change this record";
const ERASED: &str =
    "this record was erased at the end of its retention period; erase the device's copy";

/// When and under which policy a push arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The server's receive time.
    pub at: DateTime<Utc>,
    /// The same instant as the store writes it.
    pub stamp: String,
    pub retention: RetentionPolicy,
    /// The time retention is judged by: `at`, unless `at` is further
    /// ahead of the retention job's trusted reference than the step allows
    /// (`crate::retention::guard::reported_time`), then the reference. A
    /// pushed time is "older than its retention period" by this time, as
    /// the answer's `server_time` and the feed count; "in the future" is
    /// judged by `at` (`sync/times.rs` says why). [`round_trip`] sets it
    /// from the one read of the reference it makes; a caller outside a
    /// round trip sets `at`.
    pub retention_now: DateTime<Utc>,
    /// How the accepted records of the push are committed.
    pub commit: CommitMode,
}

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
/// forged or altered authorship, a frozen field moved, a forged header)
/// adds an event to `audit`, for the caller to append.
pub fn push_record(
    storage: &dyn Storage,
    principal: &Principal,
    push: &PushedRecord,
    arrival: &Arrival,
    audit: &mut Vec<NewAuditEvent>,
) -> Result<PushResult, StorageError> {
    let result = merge_and_commit(storage, principal, push, arrival)?;
    audit_refusal(principal, push, &result, audit);
    Ok(result)
}

/// Merges and checks one pushed record exactly as a push does, writing
/// nothing: the commit it would make, or the answer it gets without one.
/// For measuring the server's own work apart from its store
/// (`server/benches/push.rs`).
pub fn prepare_commit(
    storage: &dyn Storage,
    principal: &Principal,
    push: &PushedRecord,
    arrival: &Arrival,
) -> Result<Result<RecordCommit, PushResult>, StorageError> {
    Ok(match prepare(storage, principal, push, arrival)? {
        Prepared::Commit(ready) => Ok(ready.commit),
        Prepared::Answer(answer) => Err(answer),
    })
}

/// The audit event of a refusal that a person caused on purpose.
fn audit_refusal(
    principal: &Principal,
    push: &PushedRecord,
    result: &PushResult,
    audit: &mut Vec<NewAuditEvent>,
) {
    if let PushResult::Rejected(rejection) = result
        && rejection.code == RejectionCode::Forbidden
    {
        audit.push(audit::event(
            actor::officer(&principal.officer.shoulder_number),
            Action::PushRefused,
            Some(&push.record_id),
            json!({"device": principal.device.id, "reason": rejection.message}),
        ));
    }
}

/// A pushed record merged and checked, ready to commit, with the answer a
/// commit earns.
struct Ready {
    commit: RecordCommit,
    ack: Ack,
}

/// What merging a pushed record came to before anything is written.
enum Prepared {
    /// Answered without a write: refused, or a replay already stored.
    Answer(PushResult),
    Commit(Box<Ready>),
}

/// Merges and checks one pushed record against the stored copy, writing
/// nothing. Decoding hostile bytes must never take the batch (or the
/// server) down: a panic while merging refuses that record alone.
fn prepare(
    storage: &dyn Storage,
    principal: &Principal,
    push: &PushedRecord,
    arrival: &Arrival,
) -> Result<Prepared, StorageError> {
    let attempt = std::panic::catch_unwind(AssertUnwindSafe(|| {
        route(storage, principal, push, arrival)
    }));
    attempt.unwrap_or_else(|_| {
        tracing::warn!("merging a pushed record panicked; refused as corrupt");
        Ok(Prepared::Answer(reject(
            &push.record_id,
            RejectionCode::Corrupt,
            "the changes could not be decoded",
        )))
    })
}

/// The answer a commit's result earns; `None` if a concurrent commit won
/// (the caller merges again). Nothing of a refused commit was kept.
fn committed(
    ready: Ready,
    result: Result<u64, StorageError>,
) -> Result<Option<PushResult>, StorageError> {
    match result {
        Ok(_) => Ok(Some(PushResult::Accepted(ready.ack))),
        Err(StorageError::Conflict) => Ok(None),
        Err(StorageError::Duplicate(_)) => Ok(Some(reject(
            &ready.commit.index.id,
            RejectionCode::Forbidden,
            "reference: already the reference of another record",
        ))),
        Err(e) => Err(e),
    }
}

/// One record, merged and committed in its own transaction, merged again
/// if another writer changed it between load and commit.
fn merge_and_commit(
    storage: &dyn Storage,
    principal: &Principal,
    push: &PushedRecord,
    arrival: &Arrival,
) -> Result<PushResult, StorageError> {
    for _ in 0..COMMIT_ATTEMPTS {
        match prepare(storage, principal, push, arrival)? {
            Prepared::Answer(result) => return Ok(result),
            Prepared::Commit(ready) => {
                let result = storage.commit_record(&ready.commit);
                if let Some(answer) = committed(*ready, result)? {
                    return Ok(answer);
                }
            }
        }
    }
    Err(StorageError::Conflict)
}

/// Sends a push where it belongs. A device that may not even see the
/// record (stored or erased) is answered exactly as if the id were new:
/// the answer a new record with these bytes would get, and the one
/// out-of-scope refusal where it would have been accepted. So nobody learns
/// from the answer whether an id they may not see exists or was erased.
fn route(
    storage: &dyn Storage,
    principal: &Principal,
    push: &PushedRecord,
    arrival: &Arrival,
) -> Result<Prepared, StorageError> {
    let id = &push.record_id;
    match storage.record_or_tombstone(id)? {
        Some(Held::Record(stored)) => {
            let record_scope = RecordScope {
                author: &stored.index.author,
                station: &stored.index.station,
                readers: &stored.readers,
            };
            if scope::may_write(principal, record_scope) {
                push_existing(storage, principal, push, stored, arrival)
            } else if scope::may_see(principal, record_scope) {
                // A supervisor's view of their station: seen, never changed.
                Ok(Prepared::Answer(reject(
                    id,
                    RejectionCode::Forbidden,
                    OUT_OF_SCOPE,
                )))
            } else {
                Ok(Prepared::Answer(as_if_new(principal, push, arrival)))
            }
        }
        Some(Held::Tombstone(tombstone)) => {
            let record_scope = RecordScope {
                author: &tombstone.author,
                station: &tombstone.station,
                readers: &tombstone.readers,
            };
            // An erased record stays erased: a stale device that saw it is
            // told so, and erases its copy.
            Ok(Prepared::Answer(
                if scope::may_see(principal, record_scope) {
                    reject(id, RejectionCode::Erased, ERASED)
                } else {
                    as_if_new(principal, push, arrival)
                },
            ))
        }
        None => push_new(storage, principal, push, arrival),
    }
}

/// The answer to a push of an id the device may not see, as if it were new.
fn as_if_new(principal: &Principal, push: &PushedRecord, arrival: &Arrival) -> PushResult {
    match judge_new(principal, push, arrival) {
        Ok(_) => reject(&push.record_id, RejectionCode::Forbidden, OUT_OF_SCOPE),
        Err(rejection) => rejection,
    }
}

/// A new record, ready to commit, or its refusal.
fn push_new(
    storage: &dyn Storage,
    principal: &Principal,
    push: &PushedRecord,
    arrival: &Arrival,
) -> Result<Prepared, StorageError> {
    let id = &push.record_id;
    let NewRecord {
        mut doc,
        record,
        occurred_at,
        exact,
    } = match judge_new(principal, push, arrival) {
        Ok(new) => new,
        Err(rejection) => return Ok(Prepared::Answer(rejection)),
    };
    let header = &record.header;
    let grant = new_readers(&record, &[]);
    let commit = RecordCommit {
        audit: sharing_events(storage, principal, id, &grant)?,
        grant,
        index: RecordIndex {
            id: id.clone(),
            kind: header.kind,
            reference: header.reference.clone(),
            author: header.author.shoulder_number.clone(),
            // The author's station, from the server's officer list.
            station: principal.officer.station.clone(),
            occurred_at,
            status: record.body.status(),
            // Never after the server received it (bounds later moves of
            // its encounter time).
            created_at: times::made_at(&header.created_at, arrival),
            updated_at: arrival.stamp.clone(),
        },
        // The pushed chunks, when they are exactly the record's changes
        // (they passed the pre-parse), else the changes encoded again.
        new_changes: if exact {
            push.changes.clone()
        } else {
            doc.changes_since(&[])
        },
        snapshot: doc.save_uncompressed(),
        expected_version: None,
        origin_device: principal.device.id.clone(),
    };
    Ok(ready(commit, &mut doc))
}

fn push_existing(
    storage: &dyn Storage,
    principal: &Principal,
    push: &PushedRecord,
    stored: StoredRecord,
    arrival: &Arrival,
) -> Result<Prepared, StorageError> {
    let id = &push.record_id;
    if stored.index.kind != push.kind {
        return Ok(Prepared::Answer(reject(
            id,
            RejectionCode::WrongKind,
            format!("the record is a {}, not a {}", stored.index.kind, push.kind),
        )));
    }
    let unreadable =
        |e: DocumentError| StorageError::backend_from(Some("stored record unreadable"), e);
    let mut doc = RecordDoc::load(&stored.snapshot, ActorId::random()).map_err(unreadable)?;
    let header_before = doc.header().clone();
    let record_before = doc.record_in_one_walk().map_err(unreadable)?;
    let before = doc.heads();
    // The pushed changes are applied to the loaded copy and it is read
    // again in place: no save and reload.
    let exact = match doc.apply_changes_exact(&push.changes) {
        Ok(exact) => exact,
        Err(e) => return Ok(Prepared::Answer(document_rejection(id, e))),
    };
    let after = doc.heads();
    if after == before {
        // A replay: everything pushed is already here.
        return Ok(Prepared::Answer(PushResult::Accepted(Ack {
            record_id: id.clone(),
            heads: doc.heads_hex(),
        })));
    }
    // The merged record is read in the walk that reads the header again;
    // it is judged below, after the header, as before.
    let walked = match doc.reread_header_walked() {
        Ok(walked) => walked,
        Err(e) => return Ok(Prepared::Answer(document_rejection(id, e))),
    };
    let merged = &doc;
    if *merged.header() != header_before {
        return Ok(Prepared::Answer(reject(
            id,
            RejectionCode::Forbidden,
            "a record's header (id, kind, reference, author, created) cannot change",
        )));
    }
    let server_copy = Before {
        record: &record_before,
        scope: RecordScope {
            author: &stored.index.author,
            station: &stored.index.station,
            readers: &stored.readers,
        },
        made_at: &stored.index.created_at,
    };
    let (occurred_at, record, write) =
        match check_merged(id, merged, walked, Some(server_copy), principal, arrival) {
            Ok(checked) => checked,
            Err(rejection) => return Ok(Prepared::Answer(rejection)),
        };
    let grant = new_readers(&record, &stored.readers);
    let mut audit = sharing_events(storage, principal, id, &grant)?;
    audit.extend(entry_events(principal, id, &write));
    // Officers added now have seen nothing of the record: their entry
    // carries its whole history, not just this push.
    // Otherwise the pushed chunks, when they are exactly the changes this
    // push added (they passed the pre-parse), else those encoded again.
    let new_changes = if !grant.is_empty() {
        doc.changes_since(&[])
    } else if exact {
        push.changes.clone()
    } else {
        doc.changes_since(&before)
    };
    let commit = RecordCommit {
        audit,
        grant,
        index: RecordIndex {
            occurred_at,
            status: record.body.status(),
            updated_at: arrival.stamp.clone(),
            ..stored.index.clone()
        },
        new_changes,
        snapshot: doc.save_uncompressed(),
        expected_version: Some(stored.version),
        origin_device: principal.device.id.clone(),
    };
    Ok(ready(commit, &mut doc))
}

/// A commit with the acknowledgement it earns: the merged heads.
fn ready(commit: RecordCommit, doc: &mut RecordDoc) -> Prepared {
    let ack = Ack {
        record_id: commit.index.id.clone(),
        heads: doc.heads_hex(),
    };
    Prepared::Commit(Box::new(Ready { commit, ack }))
}
