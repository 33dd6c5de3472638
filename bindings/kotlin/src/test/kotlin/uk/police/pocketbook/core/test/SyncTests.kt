// Sync against a real pocketbook-server (TestServer.kt). Checks the async glue end to end: suspend calls served by the core's tokio
// runtime, a Kotlin SyncProgress called from the core's threads, change
// events with origin SYNC, and cancelling a sync coroutine.
package uk.police.pocketbook.core.test

import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import uk.police.pocketbook.core.ApiException
import uk.police.pocketbook.core.ChangeOrigin
import uk.police.pocketbook.core.Notebook
import uk.police.pocketbook.core.enrolWithLink
import uk.police.pocketbook.core.ListFilter
import uk.police.pocketbook.core.ReceiptMedium
import uk.police.pocketbook.core.SyncProgress

private class ProgressRecorder : SyncProgress {
    val calls = CopyOnWriteArrayList<Pair<Int, Int>>()

    override fun onProgress(sent: Int, received: Int) {
        calls += sent to received
    }
}

fun syncTests(suite: TestSuite) = with(suite) {
    test("a device enrolled with the enrolment link syncs over HTTPS, trusting the pinned key") {
        val link = System.getProperty("pocketbook.test.link")
        check(!link.isNullOrBlank() && link.startsWith("pocketbook://enrol?")) { "link: $link" }
        check(TestServer.url.startsWith("https://")) { "the test server serves HTTPS: ${TestServer.url}" }
        withTempDir { dir ->
            runBlocking { enrolWithLink(dir.toString(), testKey, link, "kotlin link device") }.use { notebook ->
                notebook.createStopAccount(stopAccount())
                val summary = runBlocking { notebook.sync(null) }
                assertEquals(1, summary.acknowledged, "records acknowledged over HTTPS")
            }
            // The link's code is spent, and the notebook is encrypted: a wrong key opens nothing.
            assertThrows<ApiException.Key>("a wrong key") { Notebook.openExisting(dir.toString(), ByteArray(32)) }
        }
    }

    test("two devices enrolled with a real server exchange a record through sync") {
        withEnrolledDevice("kotlin device A") { a ->
            assertEquals(officer, a.officer(), "officer of the enrolment code")
            val record = a.createStopSearch(stopSearch())
            a.issueReceipt(record.header.id, ReceiptMedium.PRINTED)

            val progress = ProgressRecorder()
            val sent = runBlocking { a.sync(progress) }
            assertEquals(1, sent.sent, "records sent")
            assertEquals(1, sent.acknowledged, "records acknowledged")
            assertEquals(emptyList(), sent.rejected, "rejections")
            assertEquals(0, sent.pending, "records pending")
            check(progress.calls.isNotEmpty() && progress.calls.last().first == 1) {
                "progress calls: ${progress.calls}"
            }

            withEnrolledDevice("kotlin device B") { b ->
                val recorder = Recorder()
                val subscription = b.subscribe(recorder)
                val received = runBlocking { b.sync(null) }
                assertEquals(1, received.received, "records received")
                assertEquals(a.get(record.header.id), b.get(record.header.id), "record on the second device")
                val events = recorder.events.filter { it.recordId == record.header.id }
                check(events.isNotEmpty() && events.all { it.origin == ChangeOrigin.SYNC }) { "events: $events" }
                subscription.cancel()
            }

            // Cancelling a sync coroutine while the core's future runs (or
            // before it starts: the race is fine) leaves the notebook usable,
            // and the next sync sends what is pending.
            a.createScene(sceneInput())
            runBlocking {
                val job = launch(Dispatchers.Default) { a.sync(null) }
                job.cancel()
                job.join()
            }
            val again = runBlocking { a.sync(null) }
            assertEquals(0, again.pending, "records pending after the cancelled sync")
            assertEquals(2, a.list(ListFilter()).size, "records on device A")
        }
    }
}
