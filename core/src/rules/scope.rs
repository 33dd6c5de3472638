//! Who may see and change which records: one rule, run by the server on
//! every pull and push, and by the device before it stores an edit.
//!
//! - An **officer** sees and changes the records they authored and those
//!   shared with them (co-attending officers named on a scene or burglary
//!   record).
//! - A **supervisor** sees, in addition, every record of their station
//!   (oversight), but changes only their own and shared records.
//! - **Station staff** get nothing by sync: they look records up through
//!   audited commands only.
//! - An **admin** manages people and devices, never record contents.

use std::fmt;
use std::str::FromStr;

/// An officer's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Officer,
    Supervisor,
    Staff,
    Admin,
}

impl Role {
    pub const ALL: &[Role] = &[Role::Officer, Role::Supervisor, Role::Staff, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Supervisor => "supervisor",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.iter().copied().find(|r| r.as_str() == text)
    }

    /// Whether the role writes records in the field.
    pub fn records_in_the_field(self) -> bool {
        matches!(self, Role::Officer | Role::Supervisor)
    }
}

/// A role name that is none of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role (expected officer, supervisor, staff or admin)")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        Role::parse(text).ok_or(UnknownRole)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is asking: an officer's shoulder number, role and station.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub shoulder_number: &'a str,
    pub role: Role,
    pub station: &'a str,
}

/// A record as far as scope is concerned: its author, the author's
/// station, and the officers it is shared with.
#[derive(Debug, Clone, Copy)]
pub struct RecordScope<'a> {
    pub author: &'a str,
    pub station: &'a str,
    pub readers: &'a [String],
}

fn own_or_shared(actor: Actor<'_>, record: RecordScope<'_>) -> bool {
    record.author == actor.shoulder_number
        || record.readers.iter().any(|r| r == actor.shoulder_number)
}

/// Whether the officer may receive the record.
pub fn may_see(actor: Actor<'_>, record: RecordScope<'_>) -> bool {
    match actor.role {
        Role::Officer => own_or_shared(actor, record),
        Role::Supervisor => own_or_shared(actor, record) || record.station == actor.station,
        Role::Staff | Role::Admin => false,
    }
}

/// Whether the officer may change an existing record.
pub fn may_change(actor: Actor<'_>, record: RecordScope<'_>) -> bool {
    actor.role.records_in_the_field() && own_or_shared(actor, record)
}

/// Whether the officer may create a record claiming this author.
pub fn may_author(actor: Actor<'_>, author_shoulder_number: &str) -> bool {
    actor.role.records_in_the_field() && actor.shoulder_number == author_shoulder_number
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let actor = Actor {
                shoulder_number: who,
                role,
                station,
            };
            assert_eq!(may_see(actor, record), sees, "{who} sees");
            assert_eq!(may_change(actor, record), changes, "{who} changes");
        }
        let actor = |n, role| Actor {
            shoulder_number: n,
            role,
            station: "Central",
        };
        assert!(may_author(actor("PC1", Role::Officer), "PC1"));
        assert!(!may_author(actor("PC1", Role::Officer), "PC2"));
        assert!(!may_author(actor("ST1", Role::Staff), "ST1"));
    }

    #[test]
    fn role_names_round_trip_and_match_their_json() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(*role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::json!(role.as_str())
            );
        }
        assert_eq!("chief".parse::<Role>(), Err(UnknownRole));
    }
}
