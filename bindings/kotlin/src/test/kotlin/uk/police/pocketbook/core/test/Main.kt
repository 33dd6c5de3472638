// Runs every test; a filter argument runs only the tests whose name contains it.
package uk.police.pocketbook.core.test

import kotlin.system.exitProcess

fun main(args: Array<String>) {
    val suite = TestSuite()
    recordTests(suite)
    typeTests(suite)
    errorTests(suite)
    listenerTests(suite)
    concurrencyTests(suite)
    exchangeTests(suite)
    asyncTests(suite)
    syncTests(suite)
    flowTests(suite)
    runtimeTests(suite)
    promiseTests(suite)
    val (passed, failed) = suite.run(args.toList())
    println("kotlin: $passed passed, $failed failed")
    exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}
