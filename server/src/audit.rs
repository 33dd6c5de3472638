//! The audit trail: who did what to which record, for the Data Protection
//! Act 2018 Part 3 logging duty (`docs/domain/data-protection.md`). Every read of a record by
//! someone other than its author, every sharing, enrolment, revocation,
//! copy and erasure appends an event.
//!
//! Events are hash-chained: each event's hash covers the previous event's
//! hash and its own fields, so editing or deleting a past event breaks every
//! hash after it, and the recorded head (sequence number and hash of the
//! newest event, written in the same transaction) catches a trail cut
//! short. [`verify`] walks the chain. The hash itself ([`chain_hash`]) sits
//! with the storage rows (`storage::chain`), so every backend chains the
//! same way without reaching up to this module.
//!
//! Events carry ids, shoulder numbers, codes and counts, never names or
//! record content.

pub use crate::storage::chain::{GENESIS, chain_hash, detail_text, expected_hash};
use crate::storage::{AuditLog, AuditQuery, NewAuditEvent, StorageError};

/// What happened. The strings are stable: they are queried and exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    OfficerAdded,
    OfficerDeactivated,
    EnrolmentCodeIssued,
    DeviceEnrolled,
    EnrolmentRefused,
    DeviceRevoked,
    DeviceRetireRequested,
    DeviceRetired,
    /// A revoked or retired device made contact and was told to wipe.
    WipeInstructed,
    /// A record was shared with co-attending officers.
    RecordShared,
    /// A record was sent to someone other than its author.
    RecordRead,
    /// A push was refused as outside the device's scope or forging authorship.
    PushRefused,
    CopyIssued,
    /// A request for a copy that did not match (or was throttled).
    CopyRefused,
    /// Station staff looked records up for a person at the desk.
    StaffLookup,
    RecordErased,
    LegalHoldSet,
    LegalHoldReleased,
    /// Someone who may not otherwise change a record added a promise entry
    /// to it (a supervisor's review, a victim update by station staff).
    PromiseEntryAdded,
    /// A month's published figures were counted and frozen.
    FiguresFrozen,
    /// A supervisor (or an admin) listed a station's overdue promises.
    PromisesListed,
    /// A retention run found the clock too far ahead of the last trusted
    /// run and erased nothing (`crate::retention::guard`).
    RetentionClockHeld,
    /// The retention clock was trusted again: an admin confirmed it, or
    /// a held clock came back within the step.
    RetentionClockConfirmed,
}

impl Action {
    pub const ALL: &[Action] = &[
        Action::OfficerAdded,
        Action::OfficerDeactivated,
        Action::EnrolmentCodeIssued,
        Action::DeviceEnrolled,
        Action::EnrolmentRefused,
        Action::DeviceRevoked,
        Action::DeviceRetireRequested,
        Action::DeviceRetired,
        Action::WipeInstructed,
        Action::RecordShared,
        Action::RecordRead,
        Action::PushRefused,
        Action::CopyIssued,
        Action::CopyRefused,
        Action::StaffLookup,
        Action::RecordErased,
        Action::LegalHoldSet,
        Action::LegalHoldReleased,
        Action::PromiseEntryAdded,
        Action::FiguresFrozen,
        Action::PromisesListed,
        Action::RetentionClockHeld,
        Action::RetentionClockConfirmed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::OfficerAdded => "officer-added",
            Action::OfficerDeactivated => "officer-deactivated",
            Action::EnrolmentCodeIssued => "enrolment-code-issued",
            Action::DeviceEnrolled => "device-enrolled",
            Action::EnrolmentRefused => "enrolment-refused",
            Action::DeviceRevoked => "device-revoked",
            Action::DeviceRetireRequested => "device-retire-requested",
            Action::DeviceRetired => "device-retired",
            Action::WipeInstructed => "wipe-instructed",
            Action::RecordShared => "record-shared",
            Action::RecordRead => "record-read",
            Action::PushRefused => "push-refused",
            Action::CopyIssued => "copy-issued",
            Action::CopyRefused => "copy-refused",
            Action::StaffLookup => "staff-lookup",
            Action::RecordErased => "record-erased",
            Action::LegalHoldSet => "legal-hold-set",
            Action::LegalHoldReleased => "legal-hold-released",
            Action::PromiseEntryAdded => "promise-entry-added",
            Action::FiguresFrozen => "figures-frozen",
            Action::PromisesListed => "promises-listed",
            Action::RetentionClockHeld => "retention-clock-held",
            Action::RetentionClockConfirmed => "retention-clock-confirmed",
        }
    }
}

/// Who acted, as written in `actor`.
pub mod actor {
    pub const ADMIN: &str = "admin";
    pub const PUBLIC: &str = "public";
    pub const SYSTEM: &str = "system";

    pub fn officer(shoulder_number: &str) -> String {
        format!("officer:{shoulder_number}")
    }

    pub fn device(id: &str) -> String {
        format!("device:{id}")
    }
}

/// A new event.
pub fn event(
    actor: impl Into<String>,
    action: Action,
    record_id: Option<&str>,
    detail: serde_json::Value,
) -> NewAuditEvent {
    NewAuditEvent {
        actor: actor.into(),
        action: action.as_str().to_string(),
        record_id: record_id.map(str::to_string),
        detail,
    }
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    /// Events checked.
    pub events: u64,
    /// The first problem found, or `None` when the chain is intact.
    pub problem: Option<String>,
}

impl Verification {
    pub fn intact(&self) -> bool {
        self.problem.is_none()
    }
}

/// Walks the whole trail, oldest first, in bounded pages.
pub fn verify(log: &dyn AuditLog) -> Result<Verification, StorageError> {
    const PAGE: u32 = 1000;
    let mut checked = 0u64;
    let mut prev_seq = 0u64;
    let mut prev_hash = GENESIS.to_string();
    let fail = |checked, problem: String| {
        Ok(Verification {
            events: checked,
            problem: Some(problem),
        })
    };
    loop {
        let page = log.audit_events(&AuditQuery {
            after_seq: prev_seq,
            limit: PAGE,
            ..AuditQuery::default()
        })?;
        let done = page.len() < PAGE as usize;
        for event in page {
            if event.seq != prev_seq + 1 {
                return fail(
                    checked,
                    format!(
                        "event {} is missing (the trail jumps from {prev_seq} to {})",
                        prev_seq + 1,
                        event.seq
                    ),
                );
            }
            if event.prev_hash != prev_hash {
                return fail(
                    checked,
                    format!(
                        "event {} does not follow event {prev_seq}: the chain is broken",
                        event.seq
                    ),
                );
            }
            if expected_hash(&event) != event.hash {
                return fail(
                    checked,
                    format!("event {} was altered after it was written", event.seq),
                );
            }
            checked += 1;
            prev_seq = event.seq;
            prev_hash = event.hash;
        }
        if done {
            break;
        }
    }
    match log.audit_head()? {
        None if checked == 0 => {}
        None => return fail(checked, "the trail's recorded head is missing".into()),
        Some((seq, hash)) if seq == prev_seq && hash == prev_hash => {}
        Some((seq, _)) => {
            return fail(
                checked,
                format!(
                    "the trail ends at event {prev_seq} but event {seq} was recorded: events were removed"
                ),
            );
        }
    }
    Ok(Verification {
        events: checked,
        problem: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = chain_hash(GENESIS, 1, "t", "admin", "officer-added", None, "{}");
        assert_eq!(
            base,
            chain_hash(GENESIS, 1, "t", "admin", "officer-added", None, "{}")
        );
        let variants = [
            chain_hash(
                &"1".repeat(64),
                1,
                "t",
                "admin",
                "officer-added",
                None,
                "{}",
            ),
            chain_hash(GENESIS, 2, "t", "admin", "officer-added", None, "{}"),
            chain_hash(GENESIS, 1, "u", "admin", "officer-added", None, "{}"),
            chain_hash(GENESIS, 1, "t", "public", "officer-added", None, "{}"),
            chain_hash(GENESIS, 1, "t", "admin", "copy-issued", None, "{}"),
            chain_hash(GENESIS, 1, "t", "admin", "officer-added", Some(""), "{}"),
            chain_hash(GENESIS, 1, "t", "admin", "officer-added", None, "{\"a\":1}"),
            // Moving bytes between fields changes the hash too.
            chain_hash(GENESIS, 1, "ta", "dmin", "officer-added", None, "{}"),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
    }

    #[test]
    fn detail_text_round_trips() {
        let detail = serde_json::json!({"z": 1, "a": ["x", "y"], "m": {"k": null}});
        let text = detail_text(&detail);
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(detail_text(&back), text);
    }

    #[test]
    fn action_names_are_distinct() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }
}
