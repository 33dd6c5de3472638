//! Which records a device may see and change. The one place the rule
//! lives, so the identity work (roles, co-attending officers, supervisors)
//! replaces this module and nothing else.
//!
//! For now: an officer's device sees the records of every officer of the
//! same station (officers at one scene share a station), and may create
//! records only as its own officer.

use crate::storage::{FeedRow, OfficerRow, Principal, RecordIndex};

/// Whether the device may receive this feed entry.
pub fn may_see(principal: &Principal, entry: &FeedRow) -> bool {
    entry.station == principal.officer.station
}

/// Whether the device may change an existing record.
pub fn may_change(principal: &Principal, record: &RecordIndex) -> bool {
    record.station == principal.officer.station
}

/// Whether the device may create a record claiming this author.
pub fn may_author(principal: &Principal, author_shoulder_number: &str) -> bool {
    principal.officer.shoulder_number == author_shoulder_number
}

/// The station stamped on a new record: the author's, from the server's
/// officer list, never from the document.
pub fn station_of(officer: &OfficerRow) -> &str {
    &officer.station
}
