//! The display label of every vocabulary value, for the apps: one exported
//! function per vocabulary (Kotlin `genderLabel(Gender.MALE)`, Swift
//! `genderLabel(value: .male)`), each reading the table in `vocab.rs`, so a
//! screen never shows a bare code (`W1`) or a constant name (`FROM18_TO24`).

use super::RecordStatus;
use super::promise_entries::{OffenceCategory, PromiseEntryKind};
use super::scene::{ChecklistItem, ChecklistPhase};
use super::vocab::*;

macro_rules! labels {
    ($($function:ident($vocabulary:ident)),+ $(,)?) => {
        $(
            /// The label an app shows for one value of this vocabulary.
            #[cfg_attr(feature = "ffi", uniffi::export)]
            pub fn $function(value: $vocabulary) -> String {
                value.label().to_string()
            }
        )+
    };
}

labels! {
    search_type_label(SearchType),
    legislation_label(Legislation),
    object_of_search_label(ObjectOfSearch),
    outcome_label(Outcome),
    gender_label(Gender),
    age_range_label(AgeRange),
    self_defined_ethnicity_label(SelfDefinedEthnicity),
    officer_defined_ethnicity_label(OfficerDefinedEthnicity),
    receipt_medium_label(ReceiptMedium),
    attendance_reason_label(AttendanceReason),
    response_grade_label(ResponseGrade),
    update_method_label(UpdateMethod),
    tick_outcome_label(TickOutcome),
    target_status_label(TargetStatus),
    record_kind_label(RecordKind),
    record_status_label(RecordStatus),
    checklist_item_label(ChecklistItem),
    checklist_phase_label(ChecklistPhase),
    offence_category_label(OffenceCategory),
    promise_entry_kind_label(PromiseEntryKind),
}

/// The census code of a self-defined ethnicity (`W1` ... `O9`, `NS`), for
/// forms that print it beside the label.
#[cfg_attr(feature = "ffi", uniffi::export)]
pub fn self_defined_ethnicity_code(value: SelfDefinedEthnicity) -> String {
    value.code().to_string()
}
