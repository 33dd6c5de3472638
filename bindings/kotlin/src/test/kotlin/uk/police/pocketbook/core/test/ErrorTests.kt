// Errors arrive as the sealed ApiException with a readable message.
package uk.police.pocketbook.core.test

import uk.police.pocketbook.core.ApiException
import uk.police.pocketbook.core.ChecklistItem
import uk.police.pocketbook.core.KeyProblem
import uk.police.pocketbook.core.Notebook
import uk.police.pocketbook.core.Officer
import uk.police.pocketbook.core.RecordBody
import uk.police.pocketbook.core.TickOutcome
import uk.police.pocketbook.core.parseReference
import uk.police.pocketbook.core.validateRecord

/** What an app would show: every variant handled, checked by the compiler. */
fun describe(e: ApiException): String = when (e) {
    is ApiException.Invalid -> "invalid"
    is ApiException.BadInput -> "bad input"
    is ApiException.NotFound -> "not found"
    is ApiException.Conflict -> "conflict"
    is ApiException.UpdateRequired -> "update required"
    is ApiException.Storage -> "storage"
    is ApiException.Offline -> "offline"
    is ApiException.NotEnrolled -> "not enrolled"
    is ApiException.Unauthorised -> "unauthorised"
    is ApiException.Protocol -> "protocol"
    is ApiException.Cancelled -> "cancelled"
    is ApiException.Wiped -> "wiped"
    is ApiException.Closed -> "closed"
    is ApiException.Forbidden -> "forbidden"
    is ApiException.Key -> "key"
}

/** A flat error's message is the Rust Display text, not a dump of fields. */
fun assertReadable(e: ApiException) {
    val message = e.message.orEmpty()
    check(message.isNotBlank()) { "${e::class.simpleName} has no message" }
    check(!message.contains("ApiException") && !message.contains("v1=")) {
        "message looks like a field dump: $message"
    }
}

fun errorTests(suite: TestSuite) = with(suite) {
    test("a stop and search without grounds throws Invalid naming grounds") {
        withNotebook { notebook ->
            val e = assertThrows<ApiException.Invalid>("create without grounds") {
                notebook.createStopSearch(stopSearch(grounds = "  "))
            }
            assertReadable(e)
            check(e.message.orEmpty().contains("grounds")) { "message does not name grounds: ${e.message}" }
            // The same violations validateRecord returns, as data.
            assertEquals(listOf("grounds"), e.violations.map { it.field }, "violated fields")
            check(e.violations.single().problem.isNotBlank()) { "violations: ${e.violations}" }
            assertEquals("invalid", describe(e), "variant")
            assertEquals(0, notebook.list(uk.police.pocketbook.core.ListFilter()).size, "records stored")
        }
    }

    test("validateRecord returns every field violation without throwing") {
        val violations = validateRecord(RecordBody.StopSearch(stopSearch(grounds = "")))
        check(violations.any { it.field == "grounds" && it.problem.isNotBlank() }) { "violations: $violations" }
        assertEquals(emptyList(), validateRecord(RecordBody.StopSearch(stopSearch())), "violations of a valid record")
    }

    test("an edit the rules forbid throws Forbidden and stores nothing") {
        // Another officer's record, copied onto this notebook by import: the
        // core runs the server's scope rule before the edit is stored.
        val colleague = Officer(shoulderNumber = "PC9876", name = "Sam Lee", station = "Central")
        val bytes = withTempDir { dir ->
            Notebook.open(dir.toString(), colleague, testKey).use { theirs ->
                theirs.export(theirs.createScene(sceneInput()).header.id)
            }
        }
        withNotebook { notebook ->
            val id = notebook.import(bytes).header.id
            val notes = { (notebook.get(id).body as RecordBody.SceneAttendance).scene.notes.size }
            val before = notes()
            val e = assertThrows<ApiException.Forbidden>("note on a colleague's record") {
                notebook.addNote(id, "Not mine to write")
            }
            assertReadable(e)
            assertEquals("forbidden", describe(e), "variant")
            assertEquals(before, notes(), "note entries after the refused one")
        }
    }

    test("a missing record id throws NotFound") {
        withNotebook { notebook ->
            val missing = "01950000-0000-7000-8000-000000000000"
            val e = assertThrows<ApiException.NotFound>("get") { notebook.get(missing) }
            assertReadable(e)
            assertThrows<ApiException.NotFound>("export") { notebook.export(missing) }
            assertThrows<ApiException.NotFound>("tick") {
                notebook.tick(missing, ChecklistItem.INTRODUCED_THEMSELVES, TickOutcome.DONE, null)
            }
        }
    }

    test("parseReference returns the canonical form and throws BadInput when malformed") {
        withNotebook { notebook ->
            val reference = notebook.createStopAccount(stopAccount()).header.reference
            assertEquals(reference, parseReference(reference), "canonical reference")
        }
        val e = assertThrows<ApiException.BadInput>("malformed reference") { parseReference("ABC") }
        assertReadable(e)
        check(e.message.orEmpty().contains("14 characters")) { "message: ${e.message}" }
    }

    test("an item not done without a reason throws Invalid naming the reason") {
        withNotebook { notebook ->
            val id = notebook.createScene(sceneInput()).header.id
            val e = assertThrows<ApiException.Invalid>("tick") {
                notebook.tick(id, ChecklistItem.NEEDS_ASKED_AND_MET, TickOutcome.NOT_DONE, null)
            }
            check(e.message.orEmpty().contains("reason")) { "message: ${e.message}" }
        }
    }

    test("another officer's notebook is refused with Conflict") {
        withTempDir { dir ->
            Notebook.open(dir.toString(), officer, testKey).close()
            val other = Officer(shoulderNumber = "PC9999", name = "Sam Lee", station = "Central")
            val e = assertThrows<ApiException.Conflict>("open as another officer") {
                Notebook.open(dir.toString(), other, testKey)
            }
            assertReadable(e)
        }
    }

    test("a closed notebook throws ApiException.Closed, and opens again") {
        withTempDir { dir ->
            Notebook.open(dir.toString(), officer, testKey).use { notebook ->
                val id = notebook.createStopAccount(stopAccount()).header.id
                notebook.closeNotebook()
                val e = assertThrows<ApiException.Closed>("get after closeNotebook") { notebook.get(id) }
                assertReadable(e)
                assertThrows<ApiException.Closed>("officer after closeNotebook") { notebook.officer() }
                Notebook.openExisting(dir.toString(), testKey).use { again ->
                    assertEquals(id, again.get(id).header.id, "the record after reopening")
                }
            }
        }
    }

    test("a wrong key throws ApiException.Key (WRONG) and the notebook still opens with its own") {
        withTempDir { dir ->
            val id = Notebook.open(dir.toString(), officer, testKey).use { it.createStopAccount(stopAccount()).header.id }
            val wrongKey = ByteArray(32) { 9 }
            val e = assertThrows<ApiException.Key>("open with a wrong key") {
                Notebook.openExisting(dir.toString(), wrongKey)
            }
            assertReadable(e)
            assertEquals(KeyProblem.WRONG, e.problem, "problem")
            val short = assertThrows<ApiException.Key>("a 16-byte key") { Notebook.open(dir.toString(), officer, ByteArray(16)) }
            assertEquals(KeyProblem.MALFORMED, short.problem, "problem")
            Notebook.openExisting(dir.toString(), testKey).use { notebook ->
                assertEquals(null, notebook.storeMovedAside(), "nothing moved aside")
                assertEquals(id, notebook.get(id).header.id, "the record")
                notebook.rekey(wrongKey)
            }
            assertThrows<ApiException.Key>("the old key after rekey") { Notebook.openExisting(dir.toString(), testKey) }
            Notebook.openExisting(dir.toString(), wrongKey).use { assertEquals(id, it.get(id).header.id, "after rekey") }
        }
    }

    test("opening an empty folder as an existing notebook throws NotEnrolled") {
        withTempDir { dir ->
            assertThrows<ApiException.NotEnrolled>("openExisting") { Notebook.openExisting(dir.toString(), testKey) }
        }
    }
}
