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

/**
 * The day the fixtures' encounters happened: three days ago, so the server
 * (which refuses encounters past their retention or in the future) always
 * accepts them, whenever the tests run.
 */
val FIXTURE_DAY: java.time.LocalDate = java.time.LocalDate.now(java.time.ZoneOffset.UTC).minusDays(3)

/** A time (`HH:MM:SS`, UTC) on the fixture day, or [days] after it. */
fun fixtureTime(time: String, days: Long = 0): java.time.Instant =
    java.time.Instant.parse("${FIXTURE_DAY.plusDays(days)}T${time}Z")

val CALL_RECEIVED = fixtureTime("10:00:00")

fun sceneInput(grade: ResponseGrade = ResponseGrade.PRIORITY) = SceneInput(
    reasons = listOf(AttendanceReason.CRIME_IN_PROGRESS, AttendanceReason.LIKELY_EVIDENCE),
    grade = grade,
    callReceived = CALL_RECEIVED,
    // appointment, arrived and left default to null.
    location = Location(latitude = 51.5072, longitude = -0.1276, street = "Outside 12 High Street"),
    notes = "Caller reports a break-in in progress",
)

fun stopSearch(grounds: String = "Seen handing small packages to passers-by") = StopSearch(
    searchType = SearchType.PERSON_AND_VEHICLE,
    vehicleRegistration = "ab12 cde",
    datetime = fixtureTime("22:15:00"),
    location = Location(street = "Market Square car park"),
    gender = Gender.FEMALE,
    ageRange = AgeRange.FROM18_TO24,
    selfDefinedEthnicity = SelfDefinedEthnicity.NOT_STATED,
    officerDefinedEthnicity = OfficerDefinedEthnicity.WHITE,
    grounds = grounds,
    objectOfSearch = ObjectOfSearch.CONTROLLED_DRUGS,
    legislation = Legislation.MISUSE_OF_DRUGS_SECTION23,
    outcome = Outcome.NO_FURTHER_ACTION,
    // operationName, outcomeLinkedToObjectOfSearch, receipt and notes default
    // to none; removalOfMoreThanOuterClothing to false.
    conduct = Conduct(
        groundsExplained = true,
        objectTold = true,
        identityGiven = true,
        stationGiven = true,
        entitlementToCopyTold = true,
        legalPowerExplained = true,
        toldDetainedForSearch = true,
        treatedWithRespect = true,
    ),
)

fun stopAccount() = StopAccount(
    datetime = fixtureTime("01:30:00", days = 1),
    location = Location(latitude = 51.5, longitude = -0.12, street = "Station Road"),
    selfDefinedEthnicity = SelfDefinedEthnicity.W1,
    askedAbout = "Why they were in the closed car park",
)

/**
 * The notebook key every test opens with: 32 bytes, as an app keeps in the
 * Android Keystore (bindings/README.md shows how).
 */
val testKey: ByteArray = ByteArray(32) { (it * 7 + 3).toByte() }

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
    Notebook.open(dir.toString(), officer, testKey).use(block)
}
