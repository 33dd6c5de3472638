// The core's runtime promises, seen from Kotlin against the real server
// (TestServer.kt): bounded waits with a typed cause, callbacks that throw
// without breaking anything, a wipe that says what it cost, and a sync that
// leaves a single-threaded dispatcher free while it receives 1,000 records.
package uk.police.pocketbook.core.test

import java.net.ServerSocket
import java.net.Socket
import java.time.Duration
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.Executors
import kotlin.concurrent.thread
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.delay
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import uk.police.pocketbook.core.ActionDetail
import uk.police.pocketbook.core.ApiException
import uk.police.pocketbook.core.ChangeEvent
import uk.police.pocketbook.core.ChangeListener
import uk.police.pocketbook.core.ChangeOrigin
import uk.police.pocketbook.core.NetworkSettings
import uk.police.pocketbook.core.OfflineCause
import uk.police.pocketbook.core.SyncProgress
import uk.police.pocketbook.core.WipeReason
import uk.police.pocketbook.core.defaultNetworkSettings
import uk.police.pocketbook.core.enrolEncryptedDeviceWithNetwork

const val RECEIVED_RECORDS = 1_000
private const val DISPATCHER_THREAD = "single-threaded-dispatcher"

/** Records every call, then throws, as a buggy app callback would. */
private class ThrowingProgress : SyncProgress {
    val calls = CopyOnWriteArrayList<Pair<Int, Int>>()
    val threads = CopyOnWriteArrayList<String>()

    override fun onProgress(sent: Int, received: Int) {
        calls += sent to received
        threads += Thread.currentThread().name
        throw IllegalStateException("progress bug")
    }
}

private object ThrowingListener : ChangeListener {
    override fun onChange(event: ChangeEvent) {
        throw IllegalStateException("listener bug")
    }
}

fun runtimeTests(suite: TestSuite) = with(suite) {
    test("enrolment against a server that accepts and never answers fails Offline with cause TIMEOUT") {
        ServerSocket(0).use { silent ->
            // Accepts every connection and holds it open, answering nothing.
            val held = CopyOnWriteArrayList<Socket>()
            val acceptor = thread(isDaemon = true) {
                runCatching { while (true) held += silent.accept() }
            }
            val network = NetworkSettings(
                connectTimeout = Duration.ofSeconds(5),
                readTimeout = Duration.ofMillis(500),
                overallTimeout = Duration.ofSeconds(3),
            )
            withTempDir { dir ->
                val e = assertThrows<ApiException.Offline>("enrol") {
                    runBlocking {
                        enrolEncryptedDeviceWithNetwork(
                            dir.toString(), testKey, "http://127.0.0.1:${silent.localPort}", "ABCDE-FGHJK", "kotlin test", network,
                        )
                    }
                }
                assertReadable(e)
                assertEquals(OfflineCause.TIMEOUT, e.reason, "cause")
            }
            held.forEach { it.close() }
            acceptor.interrupt()
        }
        val defaults = defaultNetworkSettings()
        assertEquals(Duration.ofSeconds(5), defaults.connectTimeout, "default connect timeout")
        assertEquals(Duration.ofSeconds(15), defaults.readTimeout, "default read timeout")
        assertEquals(Duration.ofSeconds(60), defaults.overallTimeout, "default overall timeout")
    }

    test("timeouts out of range throw Invalid naming each") {
        withNotebook { notebook ->
            val e = assertThrows<ApiException.Invalid>("setNetworkSettings") {
                notebook.setNetworkSettings(defaultNetworkSettings().copy(readTimeout = Duration.ZERO))
            }
            assertEquals(listOf("network.read_timeout"), e.violations.map { it.field }, "fields")
            assertEquals(defaultNetworkSettings(), notebook.networkSettings(), "settings unchanged")
        }
    }

    test("a SyncProgress that throws does not break the sync") {
        withEnrolledDevice("kotlin throwing progress") { device ->
            device.createStopAccount(stopAccount())
            val progress = ThrowingProgress()
            val summary = runBlocking { device.sync(progress) }
            assertEquals(1, summary.acknowledged, "records acknowledged")
            assertEquals(0, summary.pending, "records pending")
            check(progress.calls.isNotEmpty()) { "progress was never called" }
        }
    }

    test("a revoked device's wipe says how many unsynced edits were lost; officer() then throws") {
        val label = "kotlin revoked ${System.nanoTime()}"
        withEnrolledDevice(label) { device ->
            val scene = device.createScene(sceneInput())
            device.addSceneAction(scene.header.id, ActionDetail.Note(text = "Rear door forced"))
            device.createStopAccount(stopAccount())
            TestServer.admin("device", "revoke", TestServer.deviceId(label))
            val e = assertThrows<ApiException.Wiped>("sync of a revoked device") { runBlocking { device.sync(null) } }
            assertReadable(e)
            assertEquals(WipeReason.REVOKED, e.reason, "reason")
            assertEquals(3L, e.lostEdits, "edits lost (two records made, one action added)")
            assertThrows<ApiException.NotEnrolled>("officer after the wipe") { device.officer() }
        }
    }

    test("a sync receiving $RECEIVED_RECORDS records leaves a single-threaded dispatcher free; no event is lost") {
        withEnrolledDevice("kotlin writer") { writer ->
            val ids = (1..RECEIVED_RECORDS).map { writer.createStopAccount(stopAccount()).header.id }
            assertEquals(0, runBlocking { writer.sync(null) }.pending, "records pending on the writer")

            withEnrolledDevice("kotlin reader") { reader ->
                val recorder = Recorder()
                // A listener that throws, registered first: the rest still hear every event.
                val subscriptions = listOf(reader.subscribe(ThrowingListener), reader.subscribe(recorder))
                val progress = ThrowingProgress()
                val executor = Executors.newSingleThreadExecutor { Thread(it, DISPATCHER_THREAD) }
                val ticks = mutableListOf<Long>()
                val idleTicks = mutableListOf<Long>()
                val summary = try {
                    runBlocking(executor.asCoroutineDispatcher()) {
                        // The same ticker with nothing else running: the
                        // machine's own scheduling noise, for comparison.
                        val idle = launch {
                            while (isActive) {
                                idleTicks += System.nanoTime()
                                delay(1)
                            }
                        }
                        delay(2_000)
                        idle.cancel()
                        val ticker = launch {
                            while (isActive) {
                                ticks += System.nanoTime()
                                delay(1)
                            }
                        }
                        val summary = reader.sync(progress)
                        ticks += System.nanoTime()
                        ticker.cancel()
                        summary
                    }
                } finally {
                    executor.shutdown()
                }
                subscriptions.forEach { it.cancel() }

                // The officer's records of the other tests come too.
                check(summary.received >= RECEIVED_RECORDS) { "records received: ${summary.received}" }
                val heard = recorder.events.filter { it.origin == ChangeOrigin.SYNC }.map { it.recordId }.toSet()
                check(heard.containsAll(ids)) {
                    "records not heard beside a throwing listener: ${ids.size - ids.count { it in heard }}"
                }
                // The core's work ran on its own threads, never the caller's.
                // (Prefix: with assertions on, kotlinx.coroutines appends
                // " @coroutine#N" to the name of a thread running a coroutine.)
                val onDispatcher = { name: String -> name.startsWith(DISPATCHER_THREAD) }
                check(recorder.threads.none(onDispatcher)) { "listener threads: ${recorder.threads.distinct()}" }
                check(progress.threads.none(onDispatcher)) { "progress threads: ${progress.threads.distinct()}" }
                // At least every 50 records.
                val received = listOf(0) + progress.calls.map { it.second }
                check(received.zipWithNext().all { (a, b) -> b - a <= 50 }) { "progress: ${progress.calls}" }
                // The ticker on the same dispatcher kept running throughout.
                check(ticks.size > 10) { "the ticker ran ${ticks.size} times during the sync" }
                val longestGap = ticks.zipWithNext { a, b -> b - a }.maxOrNull() ?: 0L
                val idleGap = idleTicks.zipWithNext { a, b -> b - a }.maxOrNull() ?: 0L
                val sorted = ticks.zipWithNext { a, b -> b - a }.sorted()
                val p99 = sorted.getOrElse(sorted.size * 99 / 100) { 0L }
                println(
                    "     ticker during sync: ${ticks.size} ticks, longest gap ${longestGap / 1_000} us, " +
                        "99th percentile ${p99 / 1_000} us; idle: longest gap ${idleGap / 1_000} us (reported, not asserted)",
                )
            }
        }
    }
}
