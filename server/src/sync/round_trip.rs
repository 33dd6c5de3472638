//! One sync round trip over the store, free of HTTP: note that the device
//! was seen, merge each pushed record and commit the accepted ones (grouped
//! unless [`super::CommitMode`] says otherwise), read the next feed page, and append
//! every audit event of the trip before the page leaves. The HTTP layer
//! decodes the request, calls [`round_trip`], encodes the answer and counts
//! what the returned [`RoundTrip`] says happened. Every answer carries the
//! retention periods, and the last page of a sync the legal holds the
//! device's officer may see, so a device erases on its own what is due and
//! keeps what is held, offline too (`core/src/store/expiry.rs`).
//!
//! The time an answer reports (`server_time`), and the one the feed holds
//! back records past their period by, is the server's clock unless that
//! clock is further ahead of the retention job's trusted reference than
//! the allowed step (`crate::retention::guard`): then it is the reference,
//! so a clock that jumped makes no device erase early, and no entry is
//! held back (and passed by the device's cursor) for a period not over.
//! The push judges "older than its retention period" by the same time
//! (one read of the reference per round trip), so while the clock is held
//! a record made today is not refused as a year old.

use chrono::{DateTime, Utc};
use pocketbook_core::sync::wire::{
    Access, MAX_LEGAL_HOLDS, RejectionCode, SyncRequest, SyncResponse,
};

use super::{Arrival, PushResult, feed, push_records};
use crate::clock::stamp;
use crate::identity::Principal;
use crate::retention::guard;
use crate::scope::{self, RecordScope};
use crate::storage::{Storage, StorageError};

/// A device's `last_seen` is rewritten only when the stored one is at
/// least this old, so an idle sync is a read, not a durable write: a
/// handset syncing every minute writes once in ten syncs instead of every
/// time (at a force's 500 idle syncs a second, 50 writes a second instead
/// of 500, each a WAL flush). What reads `last_seen` (the admin device
/// list's "last seen", which tells a lost or unused handset, counted in
/// days) is true to within these ten minutes, as its docs say.
pub const LAST_SEEN_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// What one round trip did: the answer, and the counts for the metrics.
#[derive(Debug)]
pub struct RoundTrip {
    pub response: SyncResponse,
    /// Records accepted from the push.
    pub pushed: u64,
    /// The code of each rejected record, in push order.
    pub rejections: Vec<RejectionCode>,
    /// Feed entries sent, and their change bytes.
    pub pulled: u64,
    pub bytes_out: u64,
}

/// Whether the device's `last_seen` is stale enough to rewrite.
fn needs_touch(last_seen: Option<&str>, now: DateTime<Utc>) -> bool {
    last_seen
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .is_none_or(|t| now.signed_duration_since(t) >= LAST_SEEN_RESOLUTION)
}

/// Runs one round trip for an authenticated device whose push is within
/// its bounds.
pub fn round_trip(
    storage: &dyn Storage,
    principal: &Principal,
    request: &SyncRequest,
    arrival: &Arrival,
) -> Result<RoundTrip, StorageError> {
    // Devices erase by the latest server time they hear: never one the
    // retention job does not trust. Read once, before the push, so the
    // push's "older than its retention period" is judged by the same time
    // (`Arrival::retention_now`).
    let retention_now = guard::reported_time(
        storage.retention_clock()?.as_ref(),
        arrival.at,
        arrival.retention.clock_step(),
    );
    let arrival = &Arrival {
        retention_now,
        ..arrival.clone()
    };
    if needs_touch(principal.device.last_seen.as_deref(), arrival.at) {
        storage.touch_device(&principal.device.id, &arrival.stamp)?;
    }
    let mut acknowledged = Vec::new();
    let mut rejected = Vec::new();
    let mut audit_events = Vec::new();
    for result in push_records(
        storage,
        principal,
        &request.push,
        arrival,
        &mut audit_events,
    )? {
        match result {
            PushResult::Accepted(ack) => acknowledged.push(ack),
            PushResult::Rejected(rejection) => rejected.push(rejection),
        }
    }
    let mut page = feed::feed_page(
        storage,
        principal,
        request.cursor.unwrap_or(0),
        request.page_size,
        &arrival.retention,
        retention_now,
    )?;
    // The whole list once the device is level with the feed: a device
    // paging through a backlog hears it with the page that ends it.
    let legal_holds = if page.more {
        None
    } else {
        held_in_scope(storage, principal)?
    };
    // Nothing leaves unaudited: the reads are durable before the page is sent.
    audit_events.append(&mut page.reads);
    if !audit_events.is_empty() {
        storage.append_audit(&arrival.stamp, &audit_events)?;
    }
    Ok(RoundTrip {
        pushed: acknowledged.len() as u64,
        rejections: rejected.iter().map(|r| r.code).collect(),
        pulled: page.entries.len() as u64,
        bytes_out: page.entries.iter().map(|e| e.changes.len() as u64).sum(),
        response: SyncResponse {
            // Answered in the request's protocol (the HTTP layer admits
            // only those the server speaks): a previous-version device
            // gets no access, which it would not read.
            protocol: request.protocol,
            acknowledged,
            rejected,
            changes: page.entries,
            cursor: page.cursor,
            more: page.more,
            retire: principal.device.retire_requested_at.is_some(),
            server_time: Some(if retention_now == arrival.at {
                arrival.stamp.clone()
            } else {
                stamp(retention_now)
            }),
            access: (request.protocol >= 2).then(|| Access {
                role: principal.officer.role,
                station: principal.officer.station.clone(),
            }),
            // Filled by the HTTP layer from the configuration.
            next_pins: Vec::new(),
            retention: Some(arrival.retention.terms()),
            legal_holds,
        },
    })
}

/// The records on legal hold that this device's officer may see (by the
/// one scope rule, as the feed is filtered), in one read of the holds
/// indexed under the officer's audiences with who may see each
/// ([`crate::storage::RetentionStore::legal_holds_in`]): no read per hold,
/// no snapshot, and nothing of holds outside the audiences beyond the
/// join. At most [`MAX_LEGAL_HOLDS`] (a device refuses a longer list, and
/// the whole answer with it): past that the answer carries no list, so
/// the device keeps the one it has (a list the protocol cannot carry is
/// logged, without ids, for an admin: `docs/sync-protocol.md`).
fn held_in_scope(
    storage: &dyn Storage,
    principal: &Principal,
) -> Result<Option<Vec<String>>, StorageError> {
    let audience = scope::audience(principal);
    if audience.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let limit = u32::try_from(MAX_LEGAL_HOLDS + 1).unwrap_or(u32::MAX);
    let indexed = storage.legal_holds_in(&audience, limit)?;
    // More than a device may take (the audiences are the scope's, the
    // rule only confirms them): no list rather than a partial one.
    if indexed.len() > MAX_LEGAL_HOLDS {
        tracing::error!(
            limit = MAX_LEGAL_HOLDS,
            "more legal holds in a device's scope than one sync answer may list: the device keeps the list it has"
        );
        return Ok(None);
    }
    let held = indexed
        .into_iter()
        .filter(|hold| {
            scope::may_see(
                principal,
                RecordScope {
                    author: &hold.author,
                    station: &hold.station,
                    readers: &hold.readers,
                },
            )
        })
        .map(|hold| hold.record_id)
        .collect();
    Ok(Some(held))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_seen_is_rewritten_only_when_stale() {
        let now: DateTime<Utc> = "2026-11-28T14:05:00Z".parse().unwrap();
        assert!(needs_touch(None, now));
        assert!(needs_touch(Some("garbage"), now));
        let recent = (now - chrono::TimeDelta::seconds(599)).to_rfc3339();
        assert!(!needs_touch(Some(&recent), now));
        let old = (now - LAST_SEEN_RESOLUTION).to_rfc3339();
        assert!(needs_touch(Some(&old), now));
    }
}
