// One notebook shared by many threads, as an app's UI and workers do.
package uk.police.pocketbook.core.test

import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import uk.police.pocketbook.core.ActionDetail
import uk.police.pocketbook.core.ChecklistItem
import uk.police.pocketbook.core.ListFilter
import uk.police.pocketbook.core.RecordBody
import uk.police.pocketbook.core.TickOutcome

const val THREADS = 8
const val ACTIONS_PER_THREAD = 25

fun concurrencyTests(suite: TestSuite) = with(suite) {
    test("$THREADS threads x $ACTIONS_PER_THREAD scene actions on one record all land") {
        withNotebook { notebook ->
            val id = notebook.createScene(sceneInput()).header.id
            val recorder = Recorder()
            val subscription = notebook.subscribe(recorder)
            val pool = Executors.newFixedThreadPool(THREADS)
            val start = CountDownLatch(1)
            val ids = ConcurrentLinkedQueue<String>()
            val failures = ConcurrentLinkedQueue<Throwable>()
            repeat(THREADS) { thread ->
                pool.execute {
                    try {
                        start.await()
                        repeat(ACTIONS_PER_THREAD) { n ->
                            ids += notebook.addSceneAction(id, ActionDetail.Note(text = "thread $thread note $n"))
                            // Readers and other writers interleave with the appends.
                            if (n % 5 == 0) notebook.list(ListFilter())
                            if (n == 0) {
                                notebook.tick(id, ChecklistItem.INTRODUCED_THEMSELVES, TickOutcome.DONE, null)
                            }
                        }
                    } catch (e: Throwable) {
                        failures += e
                    }
                }
            }
            start.countDown()
            pool.shutdown()
            check(pool.awaitTermination(120, TimeUnit.SECONDS)) { "threads did not finish" }
            check(failures.isEmpty()) { "calls failed: ${failures.map { "${it::class.simpleName}: ${it.message}" }}" }

            val total = THREADS * ACTIONS_PER_THREAD
            assertEquals(total, ids.toSet().size, "distinct action ids")
            val scene = assertIs<RecordBody.SceneAttendance>(notebook.get(id).body, "body").scene
            assertEquals(ids.toSet(), scene.actions.map { it.id }.toSet(), "stored actions")
            val texts = scene.actions.map { (it.detail as ActionDetail.Note).text }.toSet()
            assertEquals(total, texts.size, "distinct notes")
            // Every thread's tick is kept in the history; one latest tick per item shows.
            assertEquals(THREADS, scene.checklist.size, "tick history")
            assertEquals(1, notebook.get(id).derived.latestTicks.size, "latest ticks")
            assertEquals(total + THREADS, recorder.events.size, "events heard")
            subscription.cancel()
        }
    }

    test("several notebooks used from several threads at once") {
        val pool = Executors.newFixedThreadPool(4)
        val results = (1..4).map {
            pool.submit<Int> {
                withNotebook { notebook ->
                    repeat(10) { notebook.createStopAccount(stopAccount()) }
                    notebook.list(ListFilter()).size
                }
            }
        }
        pool.shutdown()
        assertEquals(listOf(10, 10, 10, 10), results.map { it.get(120, TimeUnit.SECONDS) }, "records per notebook")
    }
}
