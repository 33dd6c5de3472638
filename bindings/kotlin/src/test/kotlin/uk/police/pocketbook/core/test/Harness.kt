// A minimal test harness: no JUnit is available offline here, and the
// bindings need nothing more than named tests, assertions with readable
// failures, and a count the CI can read ("kotlin: N passed, M failed").
package uk.police.pocketbook.core.test

class TestSuite {
    private val tests = mutableListOf<Pair<String, () -> Unit>>()

    fun test(name: String, body: () -> Unit) {
        tests += name to body
    }

    /** Runs every test whose name contains one of [filters] (all when empty). */
    fun run(filters: List<String>): Pair<Int, Int> {
        var passed = 0
        var failed = 0
        for ((name, body) in tests) {
            if (filters.isNotEmpty() && filters.none { name.contains(it) }) continue
            val started = System.nanoTime()
            try {
                body()
                passed++
                println("ok   $name (${(System.nanoTime() - started) / 1_000_000} ms)")
            } catch (e: Throwable) {
                failed++
                println("FAIL $name")
                println("     ${e::class.qualifiedName}: ${e.message}")
                e.stackTrace.take(6).forEach { println("       at $it") }
            }
        }
        return passed to failed
    }
}

fun check(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}

fun <T> assertEquals(expected: T, actual: T, what: String) {
    if (expected != actual) throw AssertionError("$what: expected <$expected>, got <$actual>")
}

/** Runs [block], which must throw a [T]; returns it for further checks. */
inline fun <reified T : Throwable> assertThrows(what: String, block: () -> Unit): T {
    try {
        block()
    } catch (e: Throwable) {
        if (e is T) return e
        throw AssertionError("$what: expected ${T::class.simpleName}, got ${e::class.qualifiedName}: ${e.message}", e)
    }
    throw AssertionError("$what: expected ${T::class.simpleName}, nothing was thrown")
}

/** Narrows [value] to [T] or fails naming what was found instead. */
inline fun <reified T : Any> assertIs(value: Any?, what: String): T =
    value as? T ?: throw AssertionError("$what: expected ${T::class.simpleName}, got $value")
