//! What a scene or burglary record carries for the Pledge's promises with
//! clocks (`docs/domain/promises.md`): the offence category that triggers
//! some of them, and the append-only promise entries ("victim updated",
//! "review done", "contact made") that keep them.
//!
//! The offence category is a register (one scalar, last writer wins, a
//! concurrent conflict named in `Derived.conflicts`), as arrival is. The
//! entries are one flat list of maps of scalars, created with the record:
//! concurrent appends all survive, nothing is rewritten, and a mistake is
//! put right by a new entry that `corrects` the old one (and may withdraw
//! it). Which entries count is a pure function of the set of entries, so
//! every replica counts the same ones whatever order they arrived in.

use std::collections::HashSet;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::common::validate_shoulder_number;
use super::time::Timestamp;
use super::validate::Violations;

vocabulary! {
    /// What the offence reported on a scene or burglary record is, as far
    /// as the Pledge's promises depend on it.
    OffenceCategory {
        SeriousAssault => "serious assault",
        SexualAssault => "sexual assault",
        DomesticViolence => "domestic violence",
        HateCrime => "hate crime",
        RoadTrafficCollision => "road-traffic collision",
        Burglary => "burglary",
        Other => "other",
    }
}

vocabulary! {
    /// What a promise entry records.
    PromiseEntryKind {
        /// The victim was told how the investigation is going (P4).
        VictimUpdated => "victim updated",
        /// A supervising detective reviewed the report (P5).
        ReviewDone => "review done",
        /// The victim or reporter was contacted (P6, P7).
        ContactMade => "contact made",
    }
}

/// Most promise entries (corrections included) one record may hold.
pub const MAX_PROMISE_ENTRIES: usize = 1_000;

/// One promise entry, as appended by whoever made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct PromiseEntry {
    /// UUID v7, assigned when the entry is written.
    #[serde(default)]
    #[autosurgeon(missing = "String::new")]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub id: String,
    pub kind: PromiseEntryKind,
    /// Shoulder number of the person who made the update, review or contact.
    pub made_by: String,
    /// When it was made (stated by whoever records it, like an arrival).
    pub made_at: Timestamp,
    /// The id of the entry this one corrects; the corrected entry stays
    /// readable and no longer counts.
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub corrects: Option<String>,
    /// A correction that withdraws the entry it corrects (recorded by
    /// mistake): neither counts.
    #[serde(default)]
    #[autosurgeon(missing = "bool::default")]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub withdrawn: bool,
}

impl PromiseEntry {
    pub fn validate(&self, v: &mut Violations) {
        validate_shoulder_number(v, "promise_entries.made_by", &self.made_by);
        v.timestamp("promise_entries.made_at", &self.made_at);
        if self.withdrawn && self.corrects.is_none() {
            v.push(
                "promise_entries.withdrawn",
                "only a correction withdraws an entry",
            );
        }
        if let Some(target) = &self.corrects {
            v.required_short("promise_entries.corrects", target);
        }
    }
}

/// Checks the list as a whole: each correction names another entry of the
/// same kind, none is made before the call was received, and
/// the list is within its bound.
pub fn validate_promise_entries(v: &mut Violations, entries: &[PromiseEntry], call: &Timestamp) {
    if entries.len() > MAX_PROMISE_ENTRIES {
        v.push(
            "promise_entries",
            format!("more than {MAX_PROMISE_ENTRIES} entries"),
        );
    }
    for entry in entries {
        entry.validate(v);
        if entry.made_at.instant() < call.instant() {
            v.push(
                "promise_entries.made_at",
                "earlier than the call was received",
            );
        }
        if let Some(target) = &entry.corrects {
            match entries.iter().find(|e| &e.id == target) {
                _ if *target == entry.id => {
                    v.push("promise_entries.corrects", "an entry cannot correct itself")
                }
                None => v.push(
                    "promise_entries.corrects",
                    "no entry with this id in the record",
                ),
                Some(old) if old.kind != entry.kind => v.push(
                    "promise_entries.corrects",
                    "a correction is of the same kind as the entry it corrects",
                ),
                Some(_) => {}
            }
        }
    }
}

/// The entries that count, in list order: neither withdrawn nor corrected
/// by any entry. A set rule, so concurrent corrections of one entry each
/// count (both were entered) and the result is the same on every replica.
pub fn counting_entries(entries: &[PromiseEntry]) -> Vec<&PromiseEntry> {
    let corrected: HashSet<&str> = entries
        .iter()
        .filter_map(|e| e.corrects.as_deref())
        .collect();
    entries
        .iter()
        .filter(|e| !e.withdrawn && !corrected.contains(e.id.as_str()))
        .collect()
}
