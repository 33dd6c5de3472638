// Kotlin objects implementing the core's callback interfaces.
package uk.police.pocketbook.core.test

import java.util.concurrent.CopyOnWriteArrayList
import uk.police.pocketbook.core.ActionDetail
import uk.police.pocketbook.core.ChangeEvent
import uk.police.pocketbook.core.ChangeListener
import uk.police.pocketbook.core.ChangeOrigin
import uk.police.pocketbook.core.ListFilter
import uk.police.pocketbook.core.RecordKind

/** Collects every event, from whatever thread the core calls it on. */
class Recorder : ChangeListener {
    val events = CopyOnWriteArrayList<ChangeEvent>()
    val threads = CopyOnWriteArrayList<String>()

    override fun onChange(event: ChangeEvent) {
        events += event
        threads += Thread.currentThread().name
    }
}

fun listenerTests(suite: TestSuite) = with(suite) {
    test("a Kotlin ChangeListener hears changes until it is cancelled") {
        withNotebook { notebook ->
            val recorder = Recorder()
            val subscription = notebook.subscribe(recorder)
            val record = notebook.createScene(sceneInput())
            notebook.addSceneAction(record.header.id, ActionDetail.Note(text = "Neighbour heard glass breaking"))
            assertEquals(
                listOf(
                    ChangeEvent(record.header.id, RecordKind.SCENE_ATTENDANCE, ChangeOrigin.LOCAL),
                    ChangeEvent(record.header.id, RecordKind.SCENE_ATTENDANCE, ChangeOrigin.LOCAL),
                ),
                recorder.events.toList(),
                "events",
            )
            // Called on the thread that made the change (documented in the core).
            assertEquals(listOf(Thread.currentThread().name), recorder.threads.distinct(), "listener threads")

            subscription.cancel()
            notebook.createStopSearch(stopSearch())
            notebook.addSceneAction(record.header.id, ActionDetail.Note(text = "After cancel"))
            assertEquals(2, recorder.events.size, "events after cancel")
            subscription.close()
        }
    }

    test("closing a subscription unregisters its listener; others keep listening") {
        withNotebook { notebook ->
            val closed = Recorder()
            val kept = Recorder()
            notebook.subscribe(closed).close()
            val subscription = notebook.subscribe(kept)
            val record = notebook.createStopAccount(stopAccount())
            assertEquals(0, closed.events.size, "events of the closed subscription")
            assertEquals(listOf(record.header.id), kept.events.map { it.recordId }, "events of the kept one")
            assertEquals(RecordKind.STOP_ACCOUNT, kept.events.single().kind, "kind")
            subscription.cancel()
        }
    }

    test("a listener may call back into the notebook") {
        withNotebook { notebook ->
            val seen = CopyOnWriteArrayList<String>()
            val subscription = notebook.subscribe(object : ChangeListener {
                override fun onChange(event: ChangeEvent) {
                    // The store lock is released before listeners run.
                    seen += notebook.get(event.recordId).header.reference
                }
            })
            val record = notebook.createScene(sceneInput())
            assertEquals(listOf(record.header.reference), seen.toList(), "references read in the listener")
            subscription.cancel()
        }
    }

    test("a ChangeListener that throws neither breaks the call nor silences the other listeners") {
        withNotebook { notebook ->
            val before = Recorder()
            val after = Recorder()
            val subscriptions = listOf(
                notebook.subscribe(before),
                notebook.subscribe(object : ChangeListener {
                    override fun onChange(event: ChangeEvent) {
                        throw IllegalStateException("listener bug")
                    }
                }),
                notebook.subscribe(after),
            )
            // The call succeeds (no InternalException): an app that retried
            // on an exception would otherwise record the edit twice.
            val record = notebook.createScene(sceneInput())
            notebook.addSceneAction(record.header.id, ActionDetail.Note(text = "Door forced"))
            assertEquals(1, notebook.list(ListFilter()).size, "records stored")
            for (recorder in listOf(before, after)) {
                assertEquals(2, recorder.events.size, "events heard beside the throwing listener")
            }
            subscriptions.forEach { it.cancel() }
        }
    }
}
