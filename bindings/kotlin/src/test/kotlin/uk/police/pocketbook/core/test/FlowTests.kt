// The hand-written Flow layer (bindings/kotlin/src/main/kotlin/.../ktx/Flows.kt)
// against the real core and, for syncStates, the real pocketbook-server that
// run-tests starts. It checks what an app relies on: every event arrives in
// order, none is lost when the collector is slow, cancelling a collector
// releases its listener in the core, and a sync reads as Started, Progress...,
// then Done or Failed.
package uk.police.pocketbook.core.test

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.last
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import uk.police.pocketbook.core.ApiException
import uk.police.pocketbook.core.ChangeEvent
import uk.police.pocketbook.core.ChangeOrigin
import uk.police.pocketbook.core.FfiConverterTypeChangeListener
import uk.police.pocketbook.core.Notebook
import uk.police.pocketbook.core.RecordKind
import uk.police.pocketbook.core.enrolEncryptedDevice
import uk.police.pocketbook.core.ktx.SyncState
import uk.police.pocketbook.core.ktx.changes
import uk.police.pocketbook.core.ktx.syncStates

/** How many Kotlin listeners the core holds right now (released when Rust drops them). */
private fun listenersHeld(): Int = FfiConverterTypeChangeListener.handleMap.size

/** Bounds a wait for an event, so a lost event fails the test instead of hanging it. */
private const val WAIT_MS = 30_000L

/**
 * The test server and two one-time codes for these tests. run-tests passes its
 * codes in one list; SyncTests.kt takes the first two, these tests the last two.
 */
private fun flowServer(): Pair<String, List<String>> {
    val url = System.getProperty("pocketbook.test.server")
    val codes = System.getProperty("pocketbook.test.codes")?.split(",").orEmpty()
    check(!url.isNullOrBlank() && codes.size >= 4) {
        "no test server with four enrolment codes: run these tests through bindings/kotlin/run-tests"
    }
    return url to codes.takeLast(2)
}

private fun <T> withDevice(url: String, code: String, block: (Notebook) -> T): T = withTempDir { dir ->
    runBlocking { enrolEncryptedDevice(dir.toString(), testKey, url, code, "kotlin flow device") }.use(block)
}

fun flowTests(suite: TestSuite) = with(suite) {
    test("changes() emits each change in order; cancelling the collector releases its listener") {
        withNotebook { notebook ->
            val before = listenersHeld()
            runBlocking {
                val events = Channel<ChangeEvent>(Channel.UNLIMITED)
                // Unconfined: the flow has subscribed by the time launch returns,
                // so no change below is made before it listens.
                val first = launch(Dispatchers.Unconfined) { notebook.changes().collect { events.send(it) } }
                val second = launch(Dispatchers.Unconfined) { notebook.changes().collect { } }
                assertEquals(before + 2, listenersHeld(), "listeners while two collectors run")

                val scene = notebook.createScene(sceneInput())
                val account = notebook.createStopAccount(stopAccount())
                val received = withTimeout(WAIT_MS) { listOf(events.receive(), events.receive()) }
                assertEquals(
                    listOf(
                        ChangeEvent(scene.header.id, RecordKind.SCENE_ATTENDANCE, ChangeOrigin.LOCAL),
                        ChangeEvent(account.header.id, RecordKind.STOP_ACCOUNT, ChangeOrigin.LOCAL),
                    ),
                    received,
                    "events",
                )

                first.cancelAndJoin()
                assertEquals(before + 1, listenersHeld(), "listeners after one collector was cancelled")
                notebook.createStopSearch(stopSearch())
                check(events.tryReceive().isFailure) { "an event reached a cancelled collector" }
                second.cancelAndJoin()
                assertEquals(before, listenersHeld(), "listeners after both collectors were cancelled")
            }
        }
    }

    test("changes() loses no event while its collector is busy, and never blocks the editing thread") {
        withNotebook { notebook ->
            runBlocking {
                val busy = CompletableDeferred<Unit>()
                val seen = mutableListOf<String>()
                val collector = launch(Dispatchers.Unconfined) {
                    notebook.changes().take(COUNT).collect {
                        seen += it.recordId
                        busy.await() // the UI is busy after the first event
                    }
                }
                // All on this one thread while the collector is suspended: a
                // listener that waited for the collector would never return here.
                val ids = List(COUNT) { notebook.createStopAccount(stopAccount()).header.id }
                assertEquals(ids.take(1), seen.toList(), "events handled while the collector is busy")
                busy.complete(Unit)
                withTimeout(WAIT_MS) { collector.join() }
                assertEquals(ids, seen.toList(), "events, in order, after the collector caught up")
            }
        }
    }

    test("syncStates() on a notebook that was never enrolled is Started then Failed(NotEnrolled)") {
        withNotebook { notebook ->
            val states = runBlocking { notebook.syncStates().toList() }
            assertEquals(2, states.size, "states $states")
            assertEquals(SyncState.Started, states[0], "first state")
            val failed = assertIs<SyncState.Failed>(states[1], "last state")
            assertIs<ApiException.NotEnrolled>(failed.error, "error")
        }
    }

    test("syncStates() against a real server: Started, Progress, Done; the other device's changes() hears it") {
        val (url, codes) = flowServer()
        withDevice(url, codes[0]) { a ->
            val record = a.createStopSearch(stopSearch())
            val states = runBlocking { a.syncStates().toList() }
            assertEquals(SyncState.Started, states.first(), "first state of $states")
            val done = assertIs<SyncState.Done>(states.last(), "last state of $states")
            assertEquals(1, done.summary.sent.toInt(), "records sent")
            assertEquals(0L, done.summary.pending.toLong(), "records pending")
            val progress = states.subList(1, states.size - 1).map { assertIs<SyncState.Progress>(it, "middle state") }
            // The officer's earlier records (SyncTests.kt) may come down too.
            val expected = SyncState.Progress(sent = 1, received = done.summary.received.toInt())
            check(progress.isNotEmpty() && progress.last() == expected) { "progress states: $progress" }

            withDevice(url, codes[1]) { b ->
                runBlocking {
                    val events = Channel<ChangeEvent>(Channel.UNLIMITED)
                    val listening = launch(Dispatchers.Unconfined) { b.changes().collect { events.send(it) } }
                    val received = assertIs<SyncState.Done>(b.syncStates().last(), "sync of device B")
                    check(received.summary.received.toInt() >= 1) { "device B received ${received.summary}" }
                    val heard = mutableListOf<ChangeEvent>()
                    withTimeout(WAIT_MS) {
                        while (heard.none { it.recordId == record.header.id }) heard += events.receive()
                    }
                    assertEquals(
                        ChangeEvent(record.header.id, RecordKind.STOP_SEARCH, ChangeOrigin.SYNC),
                        heard.last(),
                        "event on device B",
                    )
                    check(heard.all { it.origin == ChangeOrigin.SYNC }) { "events on device B: $heard" }
                    listening.cancelAndJoin()
                }
                assertEquals(a.get(record.header.id), b.get(record.header.id), "record on device B")
            }

            // Cancelling the collector after Started cancels that sync (before
            // or while it runs: either is safe); the next one sends the record.
            a.createScene(sceneInput())
            runBlocking {
                assertEquals(SyncState.Started, a.syncStates().first(), "first state of the cancelled sync")
                val next = assertIs<SyncState.Done>(a.syncStates().last(), "sync after the cancelled one")
                assertEquals(0L, next.summary.pending.toLong(), "records pending after the cancelled sync")
            }
        }
    }
}

/** More events than a default Flow buffer (64) holds. */
private const val COUNT = 100
