//! Value types shared by several record kinds: officers, places, times,
//! checklist ticks and receipts, with their validation.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::time::Timestamp;
use super::validate::Violations;
use super::vocab::{ReceiptMedium, TickOutcome};

/// Longest free text accepted in any field (grounds, notes, descriptions).
pub const MAX_TEXT_LEN: usize = 8 * 1024;
/// Longest short identifier-like field (shoulder number, registration, exhibit number).
pub const MAX_SHORT_LEN: usize = 120;

/// The officer who holds a notebook, as stamped on every record they create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Officer {
    pub shoulder_number: String,
    pub name: String,
    pub station: String,
}

impl Officer {
    /// Checks every field, naming each one that is wrong.
    pub fn validate(&self, v: &mut Violations, prefix: &str) {
        validate_shoulder_number(
            v,
            &format!("{prefix}shoulder_number"),
            &self.shoulder_number,
        );
        v.required_short(&format!("{prefix}name"), &self.name);
        v.required_short(&format!("{prefix}station"), &self.station);
    }
}

/// The one rule for a shoulder number, wherever one is typed (an officer's
/// own, or a co-attending colleague's): present, short, and printable. A
/// co-attending officer's number becomes a row of the server's store (who
/// may read the record) and a line of its admin listings: a NUL cannot be
/// stored there, and terminal escapes would reach the admin's screen.
pub fn validate_shoulder_number(v: &mut Violations, field: &str, value: &str) {
    v.required_short(field, value);
    if value.chars().any(char::is_control) {
        v.push(field, "control characters are not allowed");
    }
}

/// Where something happened: the device position when it had one, and
/// always a street or place description an officer typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Location {
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub latitude: Option<f64>,
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub longitude: Option<f64>,
    /// Street or place description, e.g. "Outside 12 High Street".
    #[serde(default)]
    pub street: String,
}

impl Location {
    pub fn validate(&self, v: &mut Violations, field: &str) {
        v.required_text(&format!("{field}.street"), &self.street);
        if let Some(lat) = self.latitude
            && !(lat.is_finite() && (-90.0..=90.0).contains(&lat))
        {
            v.push(format!("{field}.latitude"), "must be between -90 and 90");
        }
        if let Some(lon) = self.longitude
            && !(lon.is_finite() && (-180.0..=180.0).contains(&lon))
        {
            v.push(format!("{field}.longitude"), "must be between -180 and 180");
        }
        match (self.latitude, self.longitude) {
            (Some(_), None) => v.push(format!("{field}.longitude"), "required with latitude"),
            (None, Some(_)) => v.push(format!("{field}.latitude"), "required with longitude"),
            _ => {}
        }
    }
}

/// One checklist item as ticked by an officer: who, when, with what result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Tick {
    /// UUID v7 of this tick entry, or `legacy-<item>` for a tick of a
    /// schema-v1 record. Assigned when the tick is written.
    #[serde(default)]
    #[autosurgeon(missing = "String::new")]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub id: String,
    pub item: super::ChecklistItem,
    pub outcome: TickOutcome,
    /// Why an item was not done ("we will explain why"); required for "not done".
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub reason: Option<String>,
    /// Shoulder number of the officer who ticked it.
    pub ticked_by: String,
    /// Device time of the tick.
    pub ticked_at: Timestamp,
}

impl Tick {
    pub fn validate(&self, v: &mut Violations) {
        let field = format!("checklist.{}", self.item.as_str());
        match (&self.outcome, self.reason.as_deref().map(str::trim)) {
            (TickOutcome::NotDone, None | Some("")) => v.push(
                format!("{field}.reason"),
                "required when an item is not done",
            ),
            (_, Some(reason)) => v.optional_text(&format!("{field}.reason"), reason),
            _ => {}
        }
        validate_shoulder_number(v, &format!("{field}.ticked_by"), &self.ticked_by);
        v.timestamp(&format!("{field}.ticked_at"), &self.ticked_at);
    }
}

/// What happened to the receipt (or, for a stop and account, the record)
/// the person is entitled to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Receipt {
    /// Handed over on the spot; its reference is the record's reference.
    Given {
        medium: ReceiptMedium,
        given_at: Timestamp,
    },
    /// Not given because of exceptional circumstances, with the reason.
    NotGiven {
        reason: String,
        recorded_at: Timestamp,
    },
}

impl Receipt {
    pub fn validate(&self, v: &mut Violations, field: &str) {
        match self {
            Receipt::Given { given_at, .. } => {
                v.timestamp(&format!("{field}.given_at"), given_at);
            }
            Receipt::NotGiven {
                reason,
                recorded_at,
            } => {
                if reason.trim().is_empty() {
                    v.push(
                        format!("{field}.reason"),
                        "required when the receipt is not given",
                    );
                }
                v.optional_text(&format!("{field}.reason"), reason);
                v.timestamp(&format!("{field}.recorded_at"), recorded_at);
            }
        }
    }
}
