// The Pledge's promises through the Kotlin bindings: the list with due
// times, the calls that keep promises, and a Kotlin PromiseListener and
// PromiseClock driven by the core's watch (the clock is the test's: no
// sleeping, no wall-clock assertion).
package uk.police.pocketbook.core.test

import java.time.Instant
import java.util.concurrent.CopyOnWriteArrayList
import uk.police.pocketbook.core.ApiException
import uk.police.pocketbook.core.OffenceCategory
import uk.police.pocketbook.core.PromiseClock
import uk.police.pocketbook.core.PromiseEntryKind
import uk.police.pocketbook.core.PromiseFilter
import uk.police.pocketbook.core.PromiseId
import uk.police.pocketbook.core.PromiseListener
import uk.police.pocketbook.core.PromiseStatus
import uk.police.pocketbook.core.RecordPromise
import uk.police.pocketbook.core.ResponseGrade
import uk.police.pocketbook.core.promiseLabel
import uk.police.pocketbook.core.promiseStatusLabel

/** A clock the test moves. */
class MovableClock(@Volatile var at: Instant) : PromiseClock {
    override fun now(): Instant = at
}

/** Keeps every promise the watch tells of. */
class HeardPromises : PromiseListener {
    val heard = CopyOnWriteArrayList<RecordPromise>()

    override fun onPromise(promise: RecordPromise) {
        heard += promise
    }
}

fun promiseTests(suite: TestSuite) = with(suite) {
    test("promises lists each promise of the device's records with its due time, offline") {
        withNotebook { notebook ->
            val record = notebook.createScene(sceneInput(ResponseGrade.EMERGENCY))
            val listed = notebook.promises(PromiseFilter(now = CALL_RECEIVED))
            assertEquals(listOf(PromiseId.EMERGENCY_ATTENDANCE), listed.map { it.promise }, "promises")
            val emergency = listed.single()
            assertEquals(PromiseStatus.DUE, emergency.status, "status")
            assertEquals(CALL_RECEIVED.plusSeconds(12 * 60), emergency.dueAt, "due at")
            assertEquals(record.header.reference, emergency.reference, "reference")
            assertEquals(0u, emergency.occurrence, "occurrence")

            notebook.recordOffence(record.header.id, OffenceCategory.DOMESTIC_VIOLENCE)
            val entry = notebook.recordPromiseEntry(
                record.header.id, PromiseEntryKind.CONTACT_MADE, CALL_RECEIVED.plusSeconds(3600),
            )
            val later = CALL_RECEIVED.plusSeconds(2 * 86_400)
            val kept = notebook.promises(PromiseFilter(statuses = listOf(PromiseStatus.KEPT), now = later))
            assertEquals(listOf(PromiseId.DOMESTIC_VIOLENCE_CONTACT), kept.map { it.promise }, "kept")
            notebook.correctPromiseEntry(record.header.id, entry, CALL_RECEIVED.plusSeconds(3700), true)
            val overdue = notebook.promises(PromiseFilter(statuses = listOf(PromiseStatus.OVERDUE), now = later))
            assertEquals(2, overdue.size, "overdue after the contact was withdrawn")
            assertEquals("Domestic violence contact", promiseLabel(PromiseId.DOMESTIC_VIOLENCE_CONTACT), "label")
            assertEquals("Due soon", promiseStatusLabel(PromiseStatus.DUE_SOON), "status label")
        }
    }

    test("a Kotlin PromiseListener hears a promise become due soon, then overdue, by a Kotlin clock") {
        withNotebook { notebook ->
            notebook.createScene(sceneInput(ResponseGrade.EMERGENCY))
            val clock = MovableClock(CALL_RECEIVED)
            val heard = HeardPromises()
            val watch = notebook.watchPromises(heard, clock)
            assertEquals(0, watch.check().size, "nothing due soon at the call")
            clock.at = CALL_RECEIVED.plusSeconds(10 * 60)
            watch.check()
            watch.check()
            clock.at = CALL_RECEIVED.plusSeconds(13 * 60)
            watch.check()
            assertEquals(
                listOf(PromiseStatus.DUE_SOON, PromiseStatus.OVERDUE),
                heard.heard.map { it.status },
                "told once each",
            )
            watch.cancel()
            watch.close()
        }
    }

    test("a promise entry before the call is ApiException.Invalid naming the field") {
        withNotebook { notebook ->
            val record = notebook.createScene(sceneInput())
            val e = assertThrows<ApiException.Invalid>("entry") {
                notebook.recordPromiseEntry(
                    record.header.id, PromiseEntryKind.VICTIM_UPDATED, CALL_RECEIVED.minusSeconds(60),
                )
            }
            assertEquals(listOf("promise_entries.made_at"), e.violations.map { it.field }, "fields")
        }
    }
}
