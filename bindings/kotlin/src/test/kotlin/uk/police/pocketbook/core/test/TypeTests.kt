// The types an Android developer expects at the boundary: java.time.Instant
// for every time (kept to the second), enums for codes and methods, Int
// counts, defaults for optional fields, and a display label for every
// vocabulary value.
package uk.police.pocketbook.core.test

import java.time.Instant
import java.time.temporal.ChronoUnit
import uk.police.pocketbook.core.AgeRange
import uk.police.pocketbook.core.ApiException
import uk.police.pocketbook.core.ListFilter
import uk.police.pocketbook.core.Location
import uk.police.pocketbook.core.RecordBody
import uk.police.pocketbook.core.RecordKind
import uk.police.pocketbook.core.SelfDefinedEthnicity
import uk.police.pocketbook.core.UpdateAgreement
import uk.police.pocketbook.core.UpdateMethod
import uk.police.pocketbook.core.ageRangeLabel
import uk.police.pocketbook.core.recordKindLabel
import uk.police.pocketbook.core.selfDefinedEthnicityCode
import uk.police.pocketbook.core.selfDefinedEthnicityLabel
import uk.police.pocketbook.core.updateMethodLabel
import uk.police.pocketbook.core.ktx.label

fun typeTests(suite: TestSuite) = with(suite) {
    test("an Instant goes in and the same Instant comes out, in the record and its summary") {
        withNotebook { notebook ->
            val searchedAt = fixtureTime("22:15:07")
            val record = notebook.createStopSearch(stopSearch().copy(datetime = searchedAt))
            val search = assertIs<RecordBody.StopSearch>(record.body, "body").search
            assertEquals(searchedAt, search.datetime, "datetime as created")
            val read = assertIs<RecordBody.StopSearch>(notebook.get(record.header.id).body, "body").search
            assertEquals(searchedAt, read.datetime, "datetime read back")
            val summary = notebook.list(ListFilter()).single()
            assertEquals(searchedAt, summary.occurredAt, "occurredAt of the summary")
            check(summary.createdAt is Instant) { "createdAt is ${summary.createdAt::class}" }
        }
    }

    test("a time is kept to the second, and one no record can hold is a typed error") {
        withNotebook { notebook ->
            val id = notebook.createScene(sceneInput()).header.id
            val arrived = fixtureTime("10:40:00").plusMillis(750)
            notebook.recordArrival(id, arrived)
            val scene = assertIs<RecordBody.SceneAttendance>(notebook.get(id).body, "body").scene
            assertEquals(arrived.truncatedTo(ChronoUnit.SECONDS), scene.arrived, "arrived, to the second")
            val far = Instant.parse("+10000-01-01T00:00:00Z")
            assertThrows<ApiException.BadInput>("a time after year 9999") {
                notebook.recordDeparture(id, far)
            }
            val after = assertIs<RecordBody.SceneAttendance>(notebook.get(id).body, "body").scene
            assertEquals(null, after.left, "nothing written by the refused call")
        }
    }

    test("codes and methods are enums, counts are Int, optional fields default") {
        withNotebook { notebook ->
            val id = notebook.createBurglary(sceneInput()).header.id
            notebook.agreeUpdates(id, UpdateAgreement(method = UpdateMethod.TEXT_MESSAGE, everyDays = 28))
            val scene = assertIs<RecordBody.HomeBurglary>(notebook.get(id).body, "body").scene
            assertEquals(UpdateMethod.TEXT_MESSAGE, scene.updates?.method, "update method")
            val days: Int = scene.updates!!.everyDays
            assertEquals(28, days, "every days, an Int")
            assertThrows<ApiException.Invalid>("updates less often than every 4 weeks") {
                notebook.agreeUpdates(id, UpdateAgreement(UpdateMethod.PHONE, 29))
            }
            val place = Location(street = "Outside 12 High Street")
            assertEquals(null, place.latitude, "latitude defaults to null")
            assertEquals(null, stopAccount().receipt, "receipt defaults to null")
            assertEquals(emptyList(), stopAccount().notes, "notes default to none")
        }
    }

    test("every vocabulary has a label for people, not a code") {
        assertEquals(
            "White - English/Welsh/Scottish/Northern Irish/British",
            selfDefinedEthnicityLabel(SelfDefinedEthnicity.W1),
            "ethnicity label",
        )
        assertEquals("W1", selfDefinedEthnicityCode(SelfDefinedEthnicity.W1), "census code")
        assertEquals("18-24", ageRangeLabel(AgeRange.FROM18_TO24), "age range label")
        assertEquals("Stop and search", recordKindLabel(RecordKind.STOP_SEARCH), "record kind label")
        assertEquals("Text message", updateMethodLabel(UpdateMethod.TEXT_MESSAGE), "update method label")
        assertEquals("18-24", AgeRange.FROM18_TO24.label, "the ktx property")
        for (value in SelfDefinedEthnicity.entries) {
            check(selfDefinedEthnicityLabel(value).length > 2) { "label of $value" }
        }
    }
}
