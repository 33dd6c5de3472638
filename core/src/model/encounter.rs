//! Stop and search, and stop and account: the two encounter records that the
//! person stopped can ask a copy of for 12 months, using the reference on
//! their receipt.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::common::{Location, MAX_SHORT_LEN, Receipt};
use super::notes::{NoteEntry, validate_notes};
use super::time::Timestamp;
use super::validate::Violations;
use super::vocab::{
    AgeRange, Gender, Legislation, ObjectOfSearch, OfficerDefinedEthnicity, Outcome, SearchType,
    SelfDefinedEthnicity,
};

/// How the search was conducted: the leaflet's "GOWISELY" and its own list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
#[serde(default)]
pub struct Conduct {
    pub grounds_explained: bool,
    pub object_told: bool,
    /// `None` when the officer was in uniform and no warrant card was needed.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub warrant_card_shown: Option<bool>,
    pub identity_given: bool,
    pub station_given: bool,
    pub entitlement_to_copy_told: bool,
    pub legal_power_explained: bool,
    pub told_detained_for_search: bool,
    pub treated_with_respect: bool,
}

/// A stop and search record; field names follow police.uk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct StopSearch {
    #[serde(rename = "type")]
    pub search_type: SearchType,
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub vehicle_registration: Option<String>,
    /// When the search happened.
    pub datetime: Timestamp,
    pub location: Location,
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub gender: Option<Gender>,
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub age_range: Option<AgeRange>,
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub self_defined_ethnicity: Option<SelfDefinedEthnicity>,
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub officer_defined_ethnicity: Option<OfficerDefinedEthnicity>,
    pub grounds: String,
    pub object_of_search: ObjectOfSearch,
    pub legislation: Legislation,
    /// Named operation when the power needs an authorisation (e.g. section 60).
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub operation_name: Option<String>,
    pub outcome: Outcome,
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub outcome_linked_to_object_of_search: Option<bool>,
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub removal_of_more_than_outer_clothing: bool,
    #[serde(default)]
    pub conduct: Conduct,
    /// Set by issuing the receipt, or by recording why it could not be given.
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub receipt: Option<Receipt>,
    /// The notebook. When the record is created it may hold one note
    /// (only `text` given); later entries are appended with `add_note`.
    #[serde(default, deserialize_with = "super::notes::deserialize_notes")]
    #[autosurgeon(
        rename = "note_entries",
        reconcile = "super::entry_lists::reconcile_notes",
        hydrate = "super::entry_lists::read_by_document"
    )]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub notes: Vec<NoteEntry>,
}

impl StopSearch {
    pub fn validate(&self, v: &mut Violations) {
        match (
            &self.vehicle_registration,
            self.search_type.includes_vehicle(),
        ) {
            (None, true) => v.push("vehicle_registration", "required for a vehicle search"),
            (Some(reg), true) => v.required_short("vehicle_registration", reg),
            (Some(_), false) => v.push(
                "vehicle_registration",
                "only recorded when a vehicle is searched",
            ),
            (None, false) => {}
        }
        v.timestamp("datetime", &self.datetime);
        self.location.validate(v, "location");
        v.required_text("grounds", &self.grounds);
        ethnicity_rule(
            v,
            self.self_defined_ethnicity,
            self.officer_defined_ethnicity,
        );
        match (&self.operation_name, self.legislation.needs_authorisation()) {
            (None, true) => v.push(
                "operation_name",
                "required for a search under an authorisation",
            ),
            (Some(name), _) => v.required_short("operation_name", name),
            (None, false) => {}
        }
        if let Some(receipt) = &self.receipt {
            receipt.validate(v, "receipt");
        }
        validate_notes(v, &self.notes);
    }

    /// police.uk `operation`: whether the search was part of a policing operation.
    pub fn operation(&self) -> bool {
        self.operation_name.is_some()
    }
}

/// police.uk publishes the officer-defined ethnicity beside the
/// self-defined one, so both may be recorded; the officer's perception is
/// required when the person declined to state theirs ("Not stated"). A
/// record that does not say what the person stated (`None`) leaves it optional.
fn ethnicity_rule(
    v: &mut Violations,
    self_defined: Option<SelfDefinedEthnicity>,
    officer_defined: Option<OfficerDefinedEthnicity>,
) {
    if self_defined == Some(SelfDefinedEthnicity::NotStated) && officer_defined.is_none() {
        v.push(
            "officer_defined_ethnicity",
            "required when the person did not state their ethnicity",
        );
    }
}

/// A stop and account record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct StopAccount {
    pub datetime: Timestamp,
    pub location: Location,
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub self_defined_ethnicity: Option<SelfDefinedEthnicity>,
    /// What the person was asked to account for.
    pub asked_about: String,
    /// The record given to the person, or why it could not be.
    #[serde(default)]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub receipt: Option<Receipt>,
    /// The notebook. When the record is created it may hold one note
    /// (only `text` given); later entries are appended with `add_note`.
    #[serde(default, deserialize_with = "super::notes::deserialize_notes")]
    #[autosurgeon(
        rename = "note_entries",
        reconcile = "super::entry_lists::reconcile_notes",
        hydrate = "super::entry_lists::read_by_document"
    )]
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub notes: Vec<NoteEntry>,
}

impl StopAccount {
    pub fn validate(&self, v: &mut Violations) {
        v.timestamp("datetime", &self.datetime);
        self.location.validate(v, "location");
        v.required_text("asked_about", &self.asked_about);
        if let Some(receipt) = &self.receipt {
            receipt.validate(v, "receipt");
        }
        validate_notes(v, &self.notes);
    }
}

/// Normalises a vehicle registration for storage: upper case, no spaces.
pub fn normalise_registration(reg: &str) -> String {
    reg.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .take(MAX_SHORT_LEN + 1)
        .collect()
}
