// Bytes across the boundary: export a record's document, import it elsewhere.
package uk.police.pocketbook.core.test

import uk.police.pocketbook.core.ActionDetail
import uk.police.pocketbook.core.ApiException
import uk.police.pocketbook.core.ChangeEvent
import uk.police.pocketbook.core.ChangeOrigin
import uk.police.pocketbook.core.Notebook
import uk.police.pocketbook.core.RecordBody

fun exchangeTests(suite: TestSuite) = with(suite) {
    test("export then import the bytes into another notebook") {
        withNotebook { source ->
            val record = source.createBurglary(sceneInput())
            source.addSceneAction(
                record.header.id,
                ActionDetail.SuspectDescription(description = "Tall, green hooded top", circulated = true),
            )
            val bytes: ByteArray = source.export(record.header.id)
            check(bytes.size > 100) { "exported ${bytes.size} bytes" }

            withTempDir { dir ->
                Notebook.open(dir.toString(), officer, testKey).use { target ->
                    val recorder = Recorder()
                    val subscription = target.subscribe(recorder)
                    val imported = target.import(bytes)
                    assertEquals(source.get(record.header.id), imported, "imported record")
                    assertEquals(imported, target.get(record.header.id), "stored record")
                    val scene = assertIs<RecordBody.HomeBurglary>(imported.body, "body").scene
                    assertEquals(
                        ActionDetail.SuspectDescription("Tall, green hooded top", true),
                        scene.actions.single().detail,
                        "action",
                    )
                    assertEquals(
                        listOf(ChangeEvent(record.header.id, record.header.kind, ChangeOrigin.IMPORT)),
                        recorder.events.toList(),
                        "events",
                    )
                    // Importing the same bytes again merges to the same record.
                    assertEquals(imported, target.import(bytes), "second import")
                    subscription.cancel()
                }
            }
        }
    }

    test("importing bytes that are not a record throws BadInput") {
        withNotebook { notebook ->
            val e = assertThrows<ApiException.BadInput>("import garbage") {
                notebook.import(byteArrayOf(0, 1, 2, 3, 4, 5, 6, 7))
            }
            assertReadable(e)
            assertThrows<ApiException.BadInput>("import nothing") { notebook.import(ByteArray(0)) }
        }
    }
}
