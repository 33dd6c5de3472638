// The async exports as Kotlin suspend functions: errors and cancellation
// travel through the future glue. (A sync against a real server is in
// SyncTests.kt.)
package uk.police.pocketbook.core.test

import java.net.ServerSocket
import kotlinx.coroutines.runBlocking
import uk.police.pocketbook.core.ApiException
import uk.police.pocketbook.core.OfflineCause
import uk.police.pocketbook.core.enrolEncryptedDevice

/** A local port with nothing listening on it. */
fun closedPort(): Int = ServerSocket(0).use { it.localPort }

fun asyncTests(suite: TestSuite) = with(suite) {
    test("sync on a notebook that was never enrolled throws NotEnrolled from a suspend call") {
        withNotebook { notebook ->
            val e = assertThrows<ApiException.NotEnrolled>("sync") {
                runBlocking { notebook.sync(null) }
            }
            assertReadable(e)
        }
    }

    test("enrolDevice with no server listening throws Offline with cause REFUSED") {
        withTempDir { dir ->
            val e = assertThrows<ApiException.Offline>("enrol") {
                runBlocking {
                    enrolEncryptedDevice(dir.toString(), testKey, "http://127.0.0.1:${closedPort()}", "ABCDE-FGHJK", "kotlin test")
                }
            }
            assertReadable(e)
            assertEquals(OfflineCause.REFUSED, e.reason, "cause")
        }
    }
}
