//! The rows the storage traits exchange (`storage.rs` holds the traits
//! and their errors): a record's index columns, its stored copy and the
//! commit of a push, the feed's rows and audience, audit events and their
//! query, tombstones and legal holds. Plain data: every backend reads and
//! writes them the same way.

use std::collections::BTreeMap;

use pocketbook_core::model::{RecordKind, RecordStatus};

/// The index columns kept beside each record's document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordIndex {
    pub id: String,
    pub kind: RecordKind,
    pub reference: String,
    pub author: String,
    pub station: String,
    /// Time of the search / encounter / call, for retention and lookup, in
    /// the one indexed form ([`crate::clock::index_time`]).
    pub occurred_at: String,
    pub status: RecordStatus,
    pub created_at: String,
    pub updated_at: String,
}

/// A stored record: its compacted document and a version for compare-and-swap.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub index: RecordIndex,
    /// Officers other than the author who may see and change it (co-attending).
    pub readers: Vec<String>,
    pub snapshot: Vec<u8>,
    pub version: i64,
}

/// A record's id and the version it is at, without its content
/// ([`crate::storage::Storage::record_versions`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordVersion {
    pub id: String,
    pub version: i64,
}

/// What the store holds under a pushed record's id, read in one query
/// ([`crate::storage::Storage::record_or_tombstone`]): the record, or the tombstone of its
/// erasure.
#[derive(Debug, Clone)]
pub enum Held {
    Record(StoredRecord),
    Tombstone(Tombstone),
}

/// One accepted push, committed atomically: new snapshot, index, feed entry.
/// `index.updated_at` is the server's receive time of the push; the feed
/// entry keeps it as [`FeedRow::received_at`].
#[derive(Debug, Clone)]
pub struct RecordCommit {
    pub index: RecordIndex,
    pub snapshot: Vec<u8>,
    /// The changes the server did not have before this push.
    pub new_changes: Vec<u8>,
    /// `None` for a new record; else the version it was loaded at.
    pub expected_version: Option<i64>,
    pub origin_device: String,
    /// Officers to add to the record's readers, in the same transaction.
    pub grant: Vec<String>,
    /// Audit events of this change (sharing), appended in the same
    /// transaction at `index.updated_at`.
    pub audit: Vec<NewAuditEvent>,
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRow {
    pub seq: u64,
    pub record_id: String,
    pub kind: RecordKind,
    pub author: String,
    pub station: String,
    pub origin_device: String,
    pub changes: Vec<u8>,
    /// The record's readers now (not when the entry was written), so an
    /// officer added later receives the entry that shared it with them.
    pub readers: Vec<String>,
    /// The record was erased; `changes` is empty.
    pub erased: bool,
    /// The server's receive time of the push this entry came from (RFC
    /// 3339, UTC; the commit's `index.updated_at`), beside the device
    /// times inside the document. `None` for an erasure entry and for
    /// entries stored before the server kept it.
    pub received_at: Option<String>,
}

/// Whom feed entries are for, as the audience index keys them: every
/// entry is indexed under its author, each officer it is shared with, and
/// its station (which only the station's supervisors read). A device reads
/// the feed under the audiences of its officer ([`crate::scope::audience`])
/// and so touches only entries it may see; the scope rule is still asked
/// of every entry returned: the index narrows the read, it decides nothing.
///
/// Both backends key the index as [`Audience::key`] spells it (`o:` and an
/// officer's shoulder number, `s:` and a station), in their SQL too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// The officer with this shoulder number: the entries they authored
    /// and those of records shared with them.
    Officer(String),
    /// Every entry made at this station.
    Station(String),
}

impl Audience {
    /// The key the audience index stores.
    pub fn key(&self) -> String {
        match self {
            Audience::Officer(number) => format!("o:{number}"),
            Audience::Station(station) => format!("s:{station}"),
        }
    }

    /// Whether the entry is indexed under this audience: the rule each
    /// backend's index follows (its author, each reader, its station).
    pub fn holds(&self, entry: &FeedRow) -> bool {
        match self {
            Audience::Officer(number) => {
                entry.author == *number || entry.readers.iter().any(|r| r == number)
            }
            Audience::Station(station) => entry.station == *station,
        }
    }
}

/// The feed after a cursor as some audiences see it ([`crate::storage::Storage::feed_for`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSlice {
    /// The entries, oldest first.
    pub rows: Vec<FeedRow>,
    /// Where the reader may move its cursor: every entry of the audiences
    /// between the cursor and `end` is in `rows`. When nothing was left
    /// out it is the feed's head, even when the cursor is further (a store
    /// restored from a backup older than the device's last sync): the
    /// reader moves back to it, or it would miss what is written next.
    pub end: u64,
    /// A bound (rows or bytes) cut the slice: there may be more after `end`.
    pub more: bool,
    /// Rows the read touched: audience index entries and feed entries. It
    /// depends on what the audiences may see, never on how many entries
    /// others wrote.
    pub examined: u64,
    /// The records of `rows` as they are now, by id, read with the
    /// entries: a record erased meanwhile (its entry is the erasure) is
    /// absent. The feed leaves out a record past its retention period and
    /// not on hold (`crate::sync::feed`), which the job has not erased yet.
    pub records: BTreeMap<String, RecordNow>,
}

/// What a feed entry's record is now, as the feed read finds it beside the
/// entry: when it occurred and whether it is on legal hold, the two facts
/// retention decides by ([`crate::retention::RetentionPolicy::is_due`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordNow {
    /// The encounter time as stored (`records.occurred_at`, in
    /// [`crate::clock::index_time`]'s form, as `retention_due` compares it).
    pub occurred_at: String,
    /// The record is on legal hold.
    pub held: bool,
}

impl FeedSlice {
    /// A slice as both backends end it: where a bound cut it, at the last
    /// position read (`last_read`, or the cursor if none was); else at the
    /// feed's head, even when the cursor is further.
    pub fn ending(
        rows: Vec<FeedRow>,
        records: BTreeMap<String, RecordNow>,
        more: bool,
        examined: u64,
        cursor: u64,
        last_read: Option<u64>,
        head: u64,
    ) -> Self {
        let end = if more {
            last_read.unwrap_or(cursor)
        } else {
            head
        };
        FeedSlice {
            rows,
            end,
            more,
            examined,
            records,
        }
    }
}

/// An audit event to append; the backend gives it its sequence number,
/// time and place in the hash chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// Who acted: `admin`, `officer:PC1234`, `device:<id>`, `public`, `system`.
    pub actor: String,
    /// What happened, from [`crate::audit::Action`].
    pub action: String,
    pub record_id: Option<String>,
    /// Ids, codes and counts only: never names or record content.
    pub detail: serde_json::Value,
}

/// A stored audit event, as chained.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEvent {
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub record_id: Option<String>,
    pub detail: serde_json::Value,
    /// Hex SHA-256 of the previous event (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 over `prev_hash` and this event's fields.
    pub hash: String,
}

/// Which audit events to read, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Events with a greater sequence number only.
    pub after_seq: u64,
    pub limit: u32,
    pub record_id: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
}

/// What is left of an erased record: no content, enough to refuse it, and
/// who could see it (ids only), so a device outside that scope gets the
/// same answer as for a record it may not change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tombstone {
    pub record_id: String,
    pub kind: RecordKind,
    pub erased_at: String,
    pub reason: String,
    /// Shoulder number of the author (empty for records erased before it was kept).
    pub author: String,
    pub station: String,
    /// Officers the record was shared with.
    pub readers: Vec<String>,
}

/// A legal hold: a complaint or court case names the record, so retention
/// must not erase it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LegalHold {
    pub record_id: String,
    pub reason: String,
    pub set_at: String,
}

/// A record on legal hold with who may see it (ids and names only, no
/// content): what a sync's last page needs to list the holds a device's
/// officer may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldInScope {
    pub record_id: String,
    pub author: String,
    pub station: String,
    /// Officers the record is shared with, sorted.
    pub readers: Vec<String>,
}

/// The retention job's trusted reference of time (`crate::retention::guard`),
/// one for the whole store, so every instance judges its clock against the
/// same one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RetentionClock {
    /// The newest time a retention run trusted (as the server stamps
    /// times): runs never move it back; a confirmation sets it.
    pub trusted: String,
    /// When set, a run found the clock too far ahead of `trusted` at this
    /// time (its own clock's) and erased nothing; cleared when a run
    /// trusts the clock again or an admin confirms it.
    pub held: Option<String>,
}
