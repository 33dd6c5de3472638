// Why this file exists: the core exports one label function per vocabulary
// (core/src/model/labels.rs); a Swift view reads better with a property,
// `ethnicity.label`, than with `selfDefinedEthnicityLabel(value:)`. Each
// property only calls the core's function, so the labels stay in one table
// (core/src/model/vocab.rs). Checked by bindings/swift/check-syntax.

import Foundation

public extension SearchType {
    /// The label to show for this value.
    var label: String { searchTypeLabel(value: self) }
}

public extension Legislation {
    /// The label to show for this value.
    var label: String { legislationLabel(value: self) }
}

public extension ObjectOfSearch {
    /// The label to show for this value.
    var label: String { objectOfSearchLabel(value: self) }
}

public extension Outcome {
    /// The label to show for this value.
    var label: String { outcomeLabel(value: self) }
}

public extension Gender {
    /// The label to show for this value.
    var label: String { genderLabel(value: self) }
}

public extension AgeRange {
    /// The label to show for this value.
    var label: String { ageRangeLabel(value: self) }
}

public extension SelfDefinedEthnicity {
    /// The label to show for this value.
    var label: String { selfDefinedEthnicityLabel(value: self) }
}

public extension OfficerDefinedEthnicity {
    /// The label to show for this value.
    var label: String { officerDefinedEthnicityLabel(value: self) }
}

public extension ReceiptMedium {
    /// The label to show for this value.
    var label: String { receiptMediumLabel(value: self) }
}

public extension AttendanceReason {
    /// The label to show for this value.
    var label: String { attendanceReasonLabel(value: self) }
}

public extension ResponseGrade {
    /// The label to show for this value.
    var label: String { responseGradeLabel(value: self) }
}

public extension UpdateMethod {
    /// The label to show for this value.
    var label: String { updateMethodLabel(value: self) }
}

public extension TickOutcome {
    /// The label to show for this value.
    var label: String { tickOutcomeLabel(value: self) }
}

public extension TargetStatus {
    /// The label to show for this value.
    var label: String { targetStatusLabel(value: self) }
}

public extension RecordKind {
    /// The label to show for this value.
    var label: String { recordKindLabel(value: self) }
}

public extension RecordStatus {
    /// The label to show for this value.
    var label: String { recordStatusLabel(value: self) }
}

public extension ChecklistItem {
    /// The label to show for this value.
    var label: String { checklistItemLabel(value: self) }
}

public extension ChecklistPhase {
    /// The label to show for this value.
    var label: String { checklistPhaseLabel(value: self) }
}
