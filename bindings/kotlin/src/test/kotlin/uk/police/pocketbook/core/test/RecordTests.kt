// Records cross the boundary as typed Kotlin: data classes, enums, sealed
// classes for RecordBody / ActionDetail / Receipt, and nullable fields.
package uk.police.pocketbook.core.test

import uk.police.pocketbook.core.ActionDetail
import uk.police.pocketbook.core.ChecklistItem
import uk.police.pocketbook.core.ListFilter
import uk.police.pocketbook.core.Notebook
import uk.police.pocketbook.core.Receipt
import uk.police.pocketbook.core.ReceiptMedium
import uk.police.pocketbook.core.RecordBody
import uk.police.pocketbook.core.RecordKind
import uk.police.pocketbook.core.RecordStatus
import uk.police.pocketbook.core.ResponseGrade
import uk.police.pocketbook.core.SearchType
import uk.police.pocketbook.core.TargetStatus
import uk.police.pocketbook.core.TickOutcome
import uk.police.pocketbook.core.UpdateAgreement
import uk.police.pocketbook.core.UpdateMethod

fun recordTests(suite: TestSuite) = with(suite) {
    test("opens a notebook in a temp folder and reopens it for its officer") {
        withTempDir { dir ->
            Notebook.open(dir.toString(), officer, testKey).use { notebook ->
                assertEquals(officer, notebook.officer(), "officer")
                assertEquals(null, notebook.storeMovedAside(), "store moved aside")
                assertEquals(emptyList(), notebook.list(ListFilter()), "records of a new notebook")
                notebook.createScene(sceneInput())
            }
            Notebook.openExisting(dir.toString(), testKey).use { reopened ->
                assertEquals(officer, reopened.officer(), "officer after reopening")
                assertEquals(1, reopened.list(ListFilter()).size, "records after reopening")
            }
        }
    }

    test("a scene attendance reads back as typed Kotlin") {
        withNotebook { notebook ->
            val record = notebook.createScene(sceneInput())
            assertEquals(RecordKind.SCENE_ATTENDANCE, record.header.kind, "kind")
            assertEquals(officer, record.header.author, "author")
            check(Regex("[0-9A-Z]{4}(-[0-9A-Z]{4}){2}-[0-9A-Z]{2}").matches(record.header.reference)) {
                "reference ${record.header.reference}"
            }
            val scene = assertIs<RecordBody.SceneAttendance>(record.body, "body").scene
            assertEquals(ResponseGrade.PRIORITY, scene.grade, "grade")
            assertEquals(sceneInput().reasons, scene.reasons, "reasons")
            assertEquals(51.5072, scene.location.latitude, "latitude")
            assertEquals(null, scene.appointment, "appointment")
            assertEquals(null, scene.updates, "updates")
            assertEquals("Caller reports a break-in in progress", scene.notes.single().text, "notes")
            assertEquals(RecordStatus.OPEN, record.derived.status, "status")
            assertEquals(TargetStatus.PENDING, record.derived.targetStatus, "target status")
            // Reading it back gives an equal value: every field survives the trip.
            assertEquals(record, notebook.get(record.header.id), "record read back")
        }
    }

    test("a home burglary records times and updates, and flags open items on leaving") {
        withNotebook { notebook ->
            val id = notebook.createBurglary(sceneInput()).header.id
            notebook.recordArrival(id, fixtureTime("10:40:00"))
            notebook.recordDeparture(id, fixtureTime("11:30:00"))
            notebook.agreeUpdates(id, UpdateAgreement(method = UpdateMethod.PHONE, everyDays = 14))
            notebook.addNote(id, "Rear window forced")
            val record = notebook.get(id)
            assertEquals(RecordKind.HOME_BURGLARY, record.header.kind, "kind")
            val scene = assertIs<RecordBody.HomeBurglary>(record.body, "body").scene
            assertEquals(fixtureTime("10:40:00"), scene.arrived, "arrived")
            assertEquals(UpdateAgreement(UpdateMethod.PHONE, 14), scene.updates, "updates")
            assertEquals("Rear window forced", scene.notes.last().text, "notes")
            assertEquals(RecordStatus.COMPLETE, record.derived.status, "status")
            assertEquals(TargetStatus.MET, record.derived.targetStatus, "target status")
            check(ChecklistItem.REFERENCE_NUMBER_GIVEN in record.derived.openOnLeaving) {
                "open on leaving: ${record.derived.openOnLeaving}"
            }
        }
    }

    test("a stop and search reads back with its enums, optionals and receipt") {
        withNotebook { notebook ->
            val record = notebook.createStopSearch(stopSearch())
            val search = assertIs<RecordBody.StopSearch>(record.body, "body").search
            assertEquals(SearchType.PERSON_AND_VEHICLE, search.searchType, "search type")
            assertEquals("AB12CDE", search.vehicleRegistration, "registration, normalised")
            assertEquals(null, search.conduct.warrantCardShown, "warrant card shown")
            assertEquals(null, search.outcomeLinkedToObjectOfSearch, "outcome linked")
            assertEquals(null, search.receipt, "receipt before issuing")
            assertEquals(RecordStatus.OPEN, record.derived.status, "status before the receipt")
            assertEquals(null, record.derived.targetStatus, "target status")

            val printed = notebook.issueReceipt(record.header.id, ReceiptMedium.EMAIL)
            assertEquals(record.header.reference, printed, "reference on the receipt")
            val after = notebook.get(record.header.id)
            val receipt = assertIs<RecordBody.StopSearch>(after.body, "body").search.receipt
            assertEquals(ReceiptMedium.EMAIL, assertIs<Receipt.Given>(receipt, "receipt").medium, "medium")
            assertEquals(RecordStatus.COMPLETE, after.derived.status, "status after the receipt")
        }
    }

    test("a stop and account records why no receipt was given") {
        withNotebook { notebook ->
            val record = notebook.createStopAccount(stopAccount())
            val account = assertIs<RecordBody.StopAccount>(record.body, "body").account
            assertEquals("Why they were in the closed car park", account.askedAbout, "asked about")
            notebook.receiptNotGiven(record.header.id, "Called away to an emergency")
            val receipt = when (val body = notebook.get(record.header.id).body) {
                is RecordBody.StopAccount -> body.account.receipt
                else -> throw AssertionError("body changed kind: $body")
            }
            val notGiven = assertIs<Receipt.NotGiven>(receipt, "receipt")
            assertEquals("Called away to an emergency", notGiven.reason, "reason")
        }
    }

    test("scene actions and checklist ticks read back as sealed classes and enums") {
        withNotebook { notebook ->
            val id = notebook.createScene(sceneInput()).header.id
            val evidence = ActionDetail.EvidenceCollected(
                what = "Screwdriver",
                whereFound = "Under the rear window",
                exhibitNumber = "AM/1",
            )
            val actionId = notebook.addSceneAction(id, evidence)
            notebook.addSceneAction(id, ActionDetail.Witness(found = false, contactDetails = ""))
            notebook.tick(id, ChecklistItem.INTRODUCED_THEMSELVES, TickOutcome.DONE, null)
            notebook.tick(id, ChecklistItem.VICTIM_SUPPORT_REFERRAL, TickOutcome.NOT_DONE, "Victim declined")

            val scene = assertIs<RecordBody.SceneAttendance>(notebook.get(id).body, "body").scene
            assertEquals(2, scene.actions.size, "actions")
            val first = scene.actions.single { it.id == actionId }
            assertEquals(evidence, first.detail, "evidence action")
            assertEquals(officer.shoulderNumber, first.recordedBy, "recorded by")
            val details = scene.actions.map { it.detail }
            check(details.any { it is ActionDetail.Witness && !it.found }) { "witness action: $details" }

            val ticks = notebook.get(id).derived.latestTicks.associateBy { it.item }
            assertEquals(TickOutcome.DONE, ticks[ChecklistItem.INTRODUCED_THEMSELVES]?.outcome, "tick")
            assertEquals(null, ticks[ChecklistItem.INTRODUCED_THEMSELVES]?.reason, "reason of a done tick")
            assertEquals("Victim declined", ticks[ChecklistItem.VICTIM_SUPPORT_REFERRAL]?.reason, "reason")
        }
    }

    test("list filters by kind and returns summaries") {
        withNotebook { notebook ->
            notebook.createScene(sceneInput())
            notebook.createBurglary(sceneInput())
            val search = notebook.createStopSearch(stopSearch())
            notebook.createStopAccount(stopAccount())
            assertEquals(4, notebook.list(ListFilter()).size, "all records")
            val searches = notebook.list(ListFilter(kind = RecordKind.STOP_SEARCH))
            assertEquals(listOf(search.header.id), searches.map { it.id }, "stop searches")
            assertEquals(search.header.reference, searches.single().reference, "reference")
            assertEquals(1, notebook.list(ListFilter(limit = 1)).size, "limit")
            val byReference = notebook.list(ListFilter(reference = search.header.reference))
            assertEquals(listOf(search.header.id), byReference.map { it.id }, "by reference")
        }
    }

    test("a closed notebook refuses calls instead of crashing") {
        val notebook = withTempDir { dir -> Notebook.open(dir.toString(), officer, testKey).also { it.close() } }
        assertThrows<IllegalStateException>("call after close") { notebook.officer() }
    }
}
