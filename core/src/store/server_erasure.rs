//! What a device does when the server says it erased a record (a feed
//! entry marked erased, or a push refused as erased): it lets go of a
//! copy, never of what may be the only one.
//!
//! The server erases only by retention. A broken or hostile server, or one
//! that lost a record whose acknowledgement never reached the device,
//! could otherwise make a device erase the only copy of a search
//! (`docs/device-retention.md`, "An erasure the server orders").

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError};
use crate::document::RecordDoc;
use crate::model::{RecordKind, Timestamp};
use crate::sync::wire::{RejectionCode, RetentionTerms, SyncResponse};

/// The refusal a record keeps when the server says it erased it but it
/// may be this device's only copy. Names no content.
pub const KEPT_FROM_ERASURE: &str = "the server says it erased this record, but it never \
     acknowledged this device's copy, or the record is not past its retention period: kept \
     on this device, not sent again until it is edited";

/// What decides, for one sync answer, which erasures the device honours:
/// read before the answer's transaction (it may load documents).
pub(super) struct ServerErasures {
    /// Records the answer says were erased that hold changes the server
    /// has not acknowledged, and that the server held before.
    held_before: HashSet<String>,
    /// The terms the answer brings, else the last ones heard.
    terms: Option<RetentionTerms>,
    /// The device's retention clock, with the answer's server time.
    now: DateTime<Utc>,
}

impl ServerErasures {
    pub(super) fn of(store: &mut Store, response: &SyncResponse) -> Result<Self, StoreError> {
        let terms = match response.retention {
            Some(terms) => Some(terms),
            None => store.retention_terms()?,
        };
        let heard = store.retention_now(Utc::now())?;
        let now = super::expiry::answer_time(response).map_or(heard, |t| t.max(heard));
        Ok(Self {
            held_before: held_by_server_before(store, response)?,
            terms,
            now,
        })
    }

    /// Erases, inside the answer's transaction, each of `erased` the device
    /// honours, and marks the others refused ([`KEPT_FROM_ERASURE`]: not
    /// pushed again until the officer edits them); returns those erased.
    pub(super) fn apply(
        &self,
        tx: &Connection,
        erased: Vec<(String, RecordKind)>,
    ) -> Result<Vec<(String, RecordKind)>, StoreError> {
        let mut kept = 0usize;
        let mut honoured = Vec::with_capacity(erased.len());
        for (id, kind) in erased {
            let held_before = self.held_before.contains(&id);
            if honours(tx, &id, held_before, self.terms.as_ref(), self.now)? {
                super::retention::delete_record(tx, &id)?;
                honoured.push((id, kind));
            } else {
                tx.execute(
                    "UPDATE records SET rejection = ?2, rollback_code = NULL WHERE id = ?1",
                    params![id, KEPT_FROM_ERASURE],
                )?;
                kept += 1;
            }
        }
        if kept > 0 {
            tracing::warn!(
                records = kept,
                "records the server says it erased kept on the device: it never \
                 acknowledged them, or they are not past their period"
            );
        }
        Ok(honoured)
    }
}

/// Of the records an answer says the server erased, those holding changes
/// the server has not acknowledged that the server held before: it
/// acknowledged a push of them, or they hold another device's changes,
/// which came from the server (as a rollback counts them,
/// `store/rollback.rs`).
fn held_by_server_before(
    store: &mut Store,
    response: &SyncResponse,
) -> Result<HashSet<String>, StoreError> {
    let ids: HashSet<&str> = response
        .changes
        .iter()
        .filter(|e| e.erased)
        .map(|e| e.record_id.as_str())
        .chain(
            response
                .rejected
                .iter()
                .filter(|r| r.code == RejectionCode::Erased)
                .map(|r| r.record_id.as_str()),
        )
        .collect();
    let mut held = HashSet::new();
    for id in ids {
        let row: Option<(bool, bool)> = store
            .conn
            .query_row(
                "SELECT unsynced, acked_heads IS NOT NULL FROM records WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((true, acknowledged)) = row else {
            continue;
        };
        let actor = store.actor.clone();
        let foreign = !acknowledged
            && store.with_doc(id, |doc: &mut RecordDoc| {
                let mut all = automerge::Automerge::new();
                all.load_incremental(&doc.changes_since(&[])).is_ok()
                    && all.get_changes(&[]).iter().any(|c| c.actor_id() != &actor)
            })?;
        if acknowledged || foreign {
            held.insert(id.to_string());
        }
    }
    Ok(held)
}

/// Whether this device lets go of a record the server says it erased (a
/// feed entry marked erased, or a push refused as erased).
///
/// The server erases only by retention, so an honest erasure is of a
/// record the server held, past its period. The device honours it:
/// - when the server holds everything this device has of the record (no
///   change it has not acknowledged, `unsynced = 0`): only a copy goes;
/// - when the server held the record before (`held_before`: it
///   acknowledged it, or the record came from it) and it is past its
///   period by the retention clock (`now`: the later of the device's clock
///   and the server times heard): the edits made here since then go with
///   it, as they would had they reached the server in time.
///
/// A record the server never held is kept, whatever the clocks say: it
/// may be the only copy of what its officer wrote (an acknowledgement lost on the way and a server that no longer has the
/// record, or a broken or hostile server). A record not on the device is
/// always "erased" (its held entries and set-aside changes go).
fn honours(
    tx: &Connection,
    id: &str,
    held_before: bool,
    terms: Option<&RetentionTerms>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let row = tx
        .query_row(
            "SELECT kind, occurred_at, unsynced FROM records WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                ))
            },
        )
        .optional()?;
    let Some((kind, occurred_at, unsynced)) = row else {
        return Ok(true);
    };
    if !unsynced {
        return Ok(true);
    }
    let (true, Some(kind), Ok(occurred_at), Some(terms)) = (
        held_before,
        RecordKind::parse(&kind),
        Timestamp::from_stored(&occurred_at),
        terms,
    ) else {
        return Ok(false);
    };
    Ok(terms
        .due_before(kind, now)
        .is_some_and(|cutoff| occurred_at.instant() < cutoff))
}
