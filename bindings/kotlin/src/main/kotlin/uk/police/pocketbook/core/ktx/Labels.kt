// Why this file exists: the core exports one label function per vocabulary
// (core/src/model/labels.rs); an Android screen reads better with a property,
// `ethnicity.label`, than with `selfDefinedEthnicityLabel(ethnicity)`. Each
// property only calls the core's function, so the labels stay in one table
// (core/src/model/vocab.rs). Shipped with Flows.kt in the Android module.
package uk.police.pocketbook.core.ktx

import uk.police.pocketbook.core.AgeRange
import uk.police.pocketbook.core.AttendanceReason
import uk.police.pocketbook.core.ChecklistItem
import uk.police.pocketbook.core.ChecklistPhase
import uk.police.pocketbook.core.Gender
import uk.police.pocketbook.core.Legislation
import uk.police.pocketbook.core.ObjectOfSearch
import uk.police.pocketbook.core.OfficerDefinedEthnicity
import uk.police.pocketbook.core.Outcome
import uk.police.pocketbook.core.ReceiptMedium
import uk.police.pocketbook.core.RecordKind
import uk.police.pocketbook.core.RecordStatus
import uk.police.pocketbook.core.ResponseGrade
import uk.police.pocketbook.core.SearchType
import uk.police.pocketbook.core.SelfDefinedEthnicity
import uk.police.pocketbook.core.TargetStatus
import uk.police.pocketbook.core.TickOutcome
import uk.police.pocketbook.core.UpdateMethod
import uk.police.pocketbook.core.ageRangeLabel
import uk.police.pocketbook.core.attendanceReasonLabel
import uk.police.pocketbook.core.checklistItemLabel
import uk.police.pocketbook.core.checklistPhaseLabel
import uk.police.pocketbook.core.genderLabel
import uk.police.pocketbook.core.legislationLabel
import uk.police.pocketbook.core.objectOfSearchLabel
import uk.police.pocketbook.core.officerDefinedEthnicityLabel
import uk.police.pocketbook.core.outcomeLabel
import uk.police.pocketbook.core.receiptMediumLabel
import uk.police.pocketbook.core.recordKindLabel
import uk.police.pocketbook.core.recordStatusLabel
import uk.police.pocketbook.core.responseGradeLabel
import uk.police.pocketbook.core.searchTypeLabel
import uk.police.pocketbook.core.selfDefinedEthnicityLabel
import uk.police.pocketbook.core.targetStatusLabel
import uk.police.pocketbook.core.tickOutcomeLabel
import uk.police.pocketbook.core.updateMethodLabel

/** The label to show for this value. */
val SearchType.label: String get() = searchTypeLabel(this)

/** The label to show for this value. */
val Legislation.label: String get() = legislationLabel(this)

/** The label to show for this value. */
val ObjectOfSearch.label: String get() = objectOfSearchLabel(this)

/** The label to show for this value. */
val Outcome.label: String get() = outcomeLabel(this)

/** The label to show for this value. */
val Gender.label: String get() = genderLabel(this)

/** The label to show for this value. */
val AgeRange.label: String get() = ageRangeLabel(this)

/** The label to show for this value. */
val SelfDefinedEthnicity.label: String get() = selfDefinedEthnicityLabel(this)

/** The label to show for this value. */
val OfficerDefinedEthnicity.label: String get() = officerDefinedEthnicityLabel(this)

/** The label to show for this value. */
val ReceiptMedium.label: String get() = receiptMediumLabel(this)

/** The label to show for this value. */
val AttendanceReason.label: String get() = attendanceReasonLabel(this)

/** The label to show for this value. */
val ResponseGrade.label: String get() = responseGradeLabel(this)

/** The label to show for this value. */
val UpdateMethod.label: String get() = updateMethodLabel(this)

/** The label to show for this value. */
val TickOutcome.label: String get() = tickOutcomeLabel(this)

/** The label to show for this value. */
val TargetStatus.label: String get() = targetStatusLabel(this)

/** The label to show for this value. */
val RecordKind.label: String get() = recordKindLabel(this)

/** The label to show for this value. */
val RecordStatus.label: String get() = recordStatusLabel(this)

/** The label to show for this value. */
val ChecklistItem.label: String get() = checklistItemLabel(this)

/** The label to show for this value. */
val ChecklistPhase.label: String get() = checklistPhaseLabel(this)
