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
//! The rule itself is the core's (`pocketbook_core::rules::scope`), which
//! the device runs too before it stores an edit; here it is asked of a
//! [`Principal`].

use pocketbook_core::model::Record;
use pocketbook_core::rules::{self, Actor, Write};

use crate::identity::Principal;
pub use crate::identity::Role;
use crate::storage::{Audience, FeedRow};

/// A record as far as scope is concerned.
pub use pocketbook_core::rules::RecordScope;

/// The device's officer as the one scope rule sees them.
fn actor(principal: &Principal) -> Actor<'_> {
    Actor {
        shoulder_number: &principal.officer.shoulder_number,
        role: principal.officer.role,
        station: &principal.officer.station,
    }
}

/// The scope of a feed row.
pub fn of_row(row: &FeedRow) -> RecordScope<'_> {
    RecordScope {
        author: &row.author,
        station: &row.station,
        readers: &row.readers,
    }
}

/// The audiences of the feed's index ([`Audience`]) that hold every entry
/// the device may receive, so its sync reads only those: an officer's own
/// (authored or shared with them); a supervisor's, and their station's.
/// Staff and admins receive nothing by sync. This only narrows the read:
/// [`may_see`] is still asked of every entry, and a test below holds the
/// two together (whatever [`may_see`] lets through is in these audiences).
pub fn audience(principal: &Principal) -> Vec<Audience> {
    let officer = &principal.officer;
    match officer.role {
        Role::Officer => vec![Audience::Officer(officer.shoulder_number.clone())],
        Role::Supervisor => vec![
            Audience::Officer(officer.shoulder_number.clone()),
            Audience::Station(officer.station.clone()),
        ],
        Role::Staff | Role::Admin => Vec::new(),
    }
}

/// Whether the device may receive the record.
pub fn may_see(principal: &Principal, record: RecordScope<'_>) -> bool {
    rules::may_see(actor(principal), record)
}

/// Whether the device may change an existing record.
pub fn may_change(principal: &Principal, record: RecordScope<'_>) -> bool {
    rules::may_change(actor(principal), record)
}

/// Whether the device may write to an existing record at all: change it,
/// or add a promise entry its officer's role allows (a supervisor's
/// review, a victim update by station staff).
pub fn may_write(principal: &Principal, record: RecordScope<'_>) -> bool {
    rules::may_write(actor(principal), record)
}

/// Checks a write by the device's officer to an existing record: scope,
/// the role's rights to promise entries and the edit rule, as one rule
/// (`pocketbook_core::rules::check_write`). The refusal names fields and
/// entries, never content.
pub fn check_write(
    principal: &Principal,
    record: RecordScope<'_>,
    before: &Record,
    after: &Record,
) -> Result<Write, String> {
    rules::check_write(actor(principal), record, before, after).map_err(|refusal| refusal.message)
}

/// Whether the device may create a record claiming this author.
pub fn may_author(principal: &Principal, author_shoulder_number: &str) -> bool {
    rules::may_author(actor(principal), author_shoulder_number)
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

    /// The audience index narrows the feed read without hiding anything
    /// the rule allows: for every role and every way a record can relate
    /// to the officer, what `may_see` lets through is indexed under one of
    /// the officer's audiences (an entry's are its author, its readers and
    /// its station, as both backends index it).
    #[test]
    fn what_the_rule_lets_through_is_in_the_officers_audiences() {
        let roles = [Role::Officer, Role::Supervisor, Role::Staff, Role::Admin];
        let readers_cases: [&[String]; 3] = [&[], &["PC9".to_string()], &["PC1".to_string()]];
        for role in roles {
            let me = principal("PC1", "Central", role);
            let mine = audience(&me);
            for author in ["PC1", "PC2"] {
                for station in ["Central", "North"] {
                    for readers in readers_cases {
                        let entry = FeedRow {
                            seq: 1,
                            record_id: "r".into(),
                            kind: pocketbook_core::model::RecordKind::SceneAttendance,
                            author: author.into(),
                            station: station.into(),
                            origin_device: "elsewhere".into(),
                            changes: Vec::new(),
                            readers: readers.to_vec(),
                            erased: false,
                            received_at: None,
                        };
                        if may_see(&me, of_row(&entry)) {
                            assert!(
                                mine.iter().any(|a| a.holds(&entry)),
                                "{role:?} may see {author}/{station}/{readers:?} but does not read it"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The matrix itself is tested with the rule (`rules::scope` in the
    /// core); this shows a device's principal reaches it whole: its
    /// officer's number, role and station.
    #[test]
    fn a_principal_is_asked_as_its_officer() {
        let shared = ["PC2".to_string()];
        let record = RecordScope {
            author: "PC1",
            station: "Central",
            readers: &shared,
        };
        let supervisor = principal("PS1", "Central", Role::Supervisor);
        assert!(may_see(&supervisor, record) && !may_change(&supervisor, record));
        let elsewhere = principal("PS2", "North", Role::Supervisor);
        assert!(!may_see(&elsewhere, record));
        let colleague = principal("PC2", "Central", Role::Officer);
        assert!(may_change(&colleague, record));
        assert!(may_author(
            &principal("PC1", "Central", Role::Officer),
            "PC1"
        ));
        assert!(!may_author(
            &principal("ST1", "Central", Role::Staff),
            "ST1"
        ));
    }
}
