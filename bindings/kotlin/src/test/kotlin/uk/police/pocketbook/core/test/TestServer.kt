// The real pocketbook-server that run-tests starts on a free local port, with
// the officer of Fixtures.kt and a pool of one-time enrolment codes:
//   -Dpocketbook.test.server=http://127.0.0.1:PORT
//   -Dpocketbook.test.codes=CODE1,CODE2,...
//   -Dpocketbook.test.admin=/path/to/pocketbook-server  (for admin commands)
//   -Dpocketbook.test.data=/path/to/its/data-dir
package uk.police.pocketbook.core.test

import java.util.concurrent.TimeUnit
import kotlinx.coroutines.runBlocking
import uk.police.pocketbook.core.Notebook
import uk.police.pocketbook.core.enrolEncryptedDevice

object TestServer {
    val url: String by lazy { property("pocketbook.test.server") }
    private val codes: ArrayDeque<String> by lazy { ArrayDeque(property("pocketbook.test.codes").split(",")) }

    private fun property(name: String): String {
        val value = System.getProperty(name)
        check(!value.isNullOrBlank()) {
            "no test server ($name): run these tests through bindings/kotlin/run-tests, which starts one"
        }
        return value
    }

    /** The next unused one-time code (each enrols one device, once). */
    @Synchronized
    fun nextCode(): String {
        check(codes.isNotEmpty()) { "out of enrolment codes: run-tests issues more" }
        return codes.removeFirst()
    }

    /** Runs an admin command of the server on its data; returns stdout. */
    fun admin(vararg args: String): String {
        val command = listOf(property("pocketbook.test.admin"), "admin", "--data-dir", property("pocketbook.test.data")) + args
        val process = ProcessBuilder(command).redirectErrorStream(false).start()
        val out = process.inputStream.bufferedReader().readText()
        val err = process.errorStream.bufferedReader().readText()
        check(process.waitFor(60, TimeUnit.SECONDS) && process.exitValue() == 0) { "admin ${args.toList()} failed: $err" }
        return out
    }

    /** The server's id of the device enrolled with [label]. */
    fun deviceId(label: String): String =
        admin("device", "list").lines().map { it.split("\t") }.single { it.size > 2 && it[2] == label }[0]
}

/** Enrols a device with the next code into a fresh folder, closed and deleted afterwards. */
fun <T> withEnrolledDevice(label: String, block: (Notebook) -> T): T =
    withTempDir { dir ->
        runBlocking { enrolEncryptedDevice(dir.toString(), testKey, TestServer.url, TestServer.nextCode(), label) }.use(block)
    }
