//! Who may see and change which records: the one place the rule lives,
//! enforced by the server on every pull and every push.
//!
//! - An **officer**'s devices get the records the officer authored and
//!   those shared with them (co-attending officers named on a scene or
//!   burglary record), and may change exactly those.
//! - A **supervisor** sees, in addition, every record of their station
//!   (oversight), but changes only their own and shared records.
//! - **Station staff** get nothing by sync: they look records up through
//!   audited commands only.
//! - An **admin** manages people and devices, never record contents.
//!
//! Authorship is the device's officer, from its token, never the document.

use crate::identity::Principal;
pub use crate::identity::Role;
use crate::storage::FeedRow;

/// A record as far as scope is concerned.
#[derive(Debug, Clone, Copy)]
pub struct RecordScope<'a> {
    pub author: &'a str,
    pub station: &'a str,
    pub readers: &'a [String],
}

impl<'a> From<&'a FeedRow> for RecordScope<'a> {
    fn from(row: &'a FeedRow) -> Self {
        RecordScope {
            author: &row.author,
            station: &row.station,
            readers: &row.readers,
        }
    }
}

fn own_or_shared(principal: &Principal, record: RecordScope<'_>) -> bool {
    let me = principal.officer.shoulder_number.as_str();
    record.author == me || record.readers.iter().any(|r| r == me)
}

/// Whether the device may receive the record.
pub fn may_see(principal: &Principal, record: RecordScope<'_>) -> bool {
    match principal.officer.role {
        Role::Officer => own_or_shared(principal, record),
        Role::Supervisor => {
            own_or_shared(principal, record) || record.station == principal.officer.station
        }
        Role::Staff | Role::Admin => false,
    }
}

/// Whether the device may change an existing record.
pub fn may_change(principal: &Principal, record: RecordScope<'_>) -> bool {
    principal.officer.role.records_in_the_field() && own_or_shared(principal, record)
}

/// Whether the device may create a record claiming this author.
pub fn may_author(principal: &Principal, author_shoulder_number: &str) -> bool {
    principal.officer.role.records_in_the_field()
        && principal.officer.shoulder_number == author_shoulder_number
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{DeviceRow, OfficerRow};

    fn principal(number: &str, station: &str, role: Role) -> Principal {
        Principal {
            device: DeviceRow {
                id: "d".into(),
                officer: number.into(),
                label: "l".into(),
                enrolled_at: "t".into(),
                revoked_at: None,
                last_seen: None,
                revoke_reason: None,
                retire_requested_at: None,
            },
            officer: OfficerRow {
                shoulder_number: number.into(),
                name: "n".into(),
                station: station.into(),
                role,
                active: true,
            },
        }
    }

    #[test]
    fn the_matrix() {
        let shared = ["PC2".to_string()];
        let record = RecordScope {
            author: "PC1",
            station: "Central",
            readers: &shared,
        };
        let cases = [
            // who, station, role, sees, changes
            ("PC1", "Central", Role::Officer, true, true),
            ("PC2", "Central", Role::Officer, true, true),
            ("PC3", "Central", Role::Officer, false, false),
            ("PS1", "Central", Role::Supervisor, true, false),
            ("PS2", "North", Role::Supervisor, false, false),
            ("ST1", "Central", Role::Staff, false, false),
            ("AD1", "Central", Role::Admin, false, false),
        ];
        for (who, station, role, sees, changes) in cases {
            let p = principal(who, station, role);
            assert_eq!(may_see(&p, record), sees, "{who} sees");
            assert_eq!(may_change(&p, record), changes, "{who} changes");
        }
        assert!(may_author(
            &principal("PC1", "Central", Role::Officer),
            "PC1"
        ));
        assert!(!may_author(
            &principal("PC1", "Central", Role::Officer),
            "PC2"
        ));
        assert!(!may_author(
            &principal("ST1", "Central", Role::Staff),
            "ST1"
        ));
        assert!(Role::parse("chief").is_none());
    }
}
