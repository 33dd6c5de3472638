// Valid inputs for every record kind, and a notebook in a fresh temp folder.
package uk.police.pocketbook.core.test

import java.nio.file.Files
import java.nio.file.Path
import uk.police.pocketbook.core.AgeRange
import uk.police.pocketbook.core.AttendanceReason
import uk.police.pocketbook.core.Conduct
import uk.police.pocketbook.core.Gender
import uk.police.pocketbook.core.Legislation
import uk.police.pocketbook.core.Location
import uk.police.pocketbook.core.Notebook
import uk.police.pocketbook.core.ObjectOfSearch
import uk.police.pocketbook.core.Officer
import uk.police.pocketbook.core.OfficerDefinedEthnicity
import uk.police.pocketbook.core.Outcome
import uk.police.pocketbook.core.ResponseGrade
import uk.police.pocketbook.core.SceneInput
import uk.police.pocketbook.core.SearchType
import uk.police.pocketbook.core.SelfDefinedEthnicity
import uk.police.pocketbook.core.StopAccount
import uk.police.pocketbook.core.StopSearch

val officer = Officer(shoulderNumber = "PC1234", name = "Alex Morgan", station = "Central")

const val CALL_RECEIVED = "2025-03-01T10:00:00+00:00"

fun sceneInput(grade: ResponseGrade = ResponseGrade.PRIORITY) = SceneInput(
    reasons = listOf(AttendanceReason.CRIME_IN_PROGRESS, AttendanceReason.LIKELY_EVIDENCE),
    grade = grade,
    callReceived = CALL_RECEIVED,
    appointment = null,
    arrived = null,
    left = null,
    location = Location(latitude = 51.5072, longitude = -0.1276, street = "Outside 12 High Street"),
    notes = "Caller reports a break-in in progress",
)

fun stopSearch(grounds: String = "Seen handing small packages to passers-by") = StopSearch(
    searchType = SearchType.PERSON_AND_VEHICLE,
    vehicleRegistration = "ab12 cde",
    datetime = "2025-03-01T22:15:00+00:00",
    location = Location(latitude = null, longitude = null, street = "Market Square car park"),
    gender = Gender.FEMALE,
    ageRange = AgeRange.FROM18_TO24,
    selfDefinedEthnicity = SelfDefinedEthnicity.NOT_STATED,
    officerDefinedEthnicity = OfficerDefinedEthnicity.WHITE,
    grounds = grounds,
    objectOfSearch = ObjectOfSearch.CONTROLLED_DRUGS,
    legislation = Legislation.MISUSE_OF_DRUGS_SECTION23,
    operationName = null,
    outcome = Outcome.NO_FURTHER_ACTION,
    outcomeLinkedToObjectOfSearch = null,
    removalOfMoreThanOuterClothing = false,
    conduct = Conduct(
        groundsExplained = true,
        objectTold = true,
        warrantCardShown = null,
        identityGiven = true,
        stationGiven = true,
        entitlementToCopyTold = true,
        legalPowerExplained = true,
        toldDetainedForSearch = true,
        treatedWithRespect = true,
    ),
    receipt = null,
    notes = listOf(),
)

fun stopAccount() = StopAccount(
    datetime = "2025-03-02T01:30:00+00:00",
    location = Location(latitude = 51.5, longitude = -0.12, street = "Station Road"),
    selfDefinedEthnicity = SelfDefinedEthnicity.W1,
    askedAbout = "Why they were in the closed car park",
    receipt = null,
    notes = listOf(),
)

/** A fresh temp folder, deleted afterwards. */
fun <T> withTempDir(block: (Path) -> T): T {
    val dir = Files.createTempDirectory("pocketbook-kotlin-")
    try {
        return block(dir)
    } finally {
        dir.toFile().deleteRecursively()
    }
}

/** A notebook opened for [officer] in a fresh temp folder, closed and deleted afterwards. */
fun <T> withNotebook(block: (Notebook) -> T): T = withTempDir { dir ->
    Notebook.open(dir.toString(), officer).use(block)
}
