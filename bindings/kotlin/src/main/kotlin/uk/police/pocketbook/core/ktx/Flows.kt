// Why this file exists: the generated bindings speak in callbacks
// (ChangeListener, SyncProgress) and one suspend call (sync). An Android app
// speaks in Flows collected in a lifecycle scope. These two extensions are the
// whole bridge; they add no rule and no state of their own, so everything they
// report comes from the core. Shipped in the Android library module
// (bindings/android/pocketbook/build.gradle.kts adds this source folder) and
// tested on the JVM by bindings/kotlin/src/test/kotlin/.../FlowTests.kt.
package uk.police.pocketbook.core.ktx

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.channelFlow
import uk.police.pocketbook.core.ApiException
import uk.police.pocketbook.core.ChangeEvent
import uk.police.pocketbook.core.ChangeListener
import uk.police.pocketbook.core.Notebook
import uk.police.pocketbook.core.SyncProgress
import uk.police.pocketbook.core.SyncSummary

/**
 * Every change to this notebook's records, from the moment collection starts
 * until the collector is cancelled: local edits, imports, records a sync
 * brought in, and records that left the device (`ChangeOrigin.ERASED`).
 *
 * Each collection registers its own [ChangeListener] with [Notebook.subscribe];
 * cancelling the collector (leaving `viewModelScope`, `take(n)`, an exception)
 * cancels and releases that subscription. Changes made before collection
 * started are not replayed: read the current state with `list`/`get` first.
 *
 * The core calls listeners on the thread that made the change, which may be
 * the main thread. So the listener never blocks: events are queued without a
 * bound and none is dropped. A collector that only needs "something changed"
 * can add `.conflate()`; one that needs every event keeps the default.
 */
fun Notebook.changes(): Flow<ChangeEvent> = callbackFlow {
    val subscription = subscribe(object : ChangeListener {
        override fun onChange(event: ChangeEvent) {
            // Fails only once the flow is closed, when the event is not wanted.
            trySend(event)
        }
    })
    awaitClose {
        subscription.cancel()
        subscription.close()
    }
}.buffer(Channel.UNLIMITED)

/** Where one [Notebook.syncStates] has got to. */
sealed interface SyncState {
    /** The sync was asked for; nothing has been exchanged yet. */
    data object Started : SyncState

    /**
     * Records [sent] to the server and [received] from it so far, counted
     * over the whole sync (they only grow). The server does not say how many
     * records remain, so there is no total to show a percentage of.
     */
    data class Progress(val sent: Int, val received: Int) : SyncState

    /** Both sides are level; [summary] is what `Notebook.sync` returned. */
    data class Done(val summary: SyncSummary) : SyncState

    /**
     * The sync stopped with a typed error, e.g. [ApiException.Offline] (try
     * again later) or [ApiException.Wiped] (show the enrolment screen). What
     * was applied before the failure stays applied.
     */
    data class Failed(val error: ApiException) : SyncState
}

/**
 * Runs one `Notebook.sync` when collected and reports it as states:
 * [SyncState.Started], then zero or more [SyncState.Progress], then exactly
 * one [SyncState.Done] or [SyncState.Failed], after which the flow completes.
 *
 * Each collection is a new sync; collect it once per "sync now" (or use
 * `stateIn`/`shareIn` to show one sync to several observers). Cancelling the
 * collector cancels the sync, which the core makes safe at any point: the next
 * sync resumes where it stopped. Errors of type [ApiException] become
 * [SyncState.Failed]; anything else (a bug) is thrown to the collector.
 */
fun Notebook.syncStates(): Flow<SyncState> = channelFlow {
    send(SyncState.Started)
    val outcome = try {
        val summary = sync(object : SyncProgress {
            override fun onProgress(sent: Int, received: Int) {
                // Called from the core's threads; never blocks them.
                trySend(SyncState.Progress(sent, received))
            }
        })
        SyncState.Done(summary)
    } catch (e: ApiException) {
        SyncState.Failed(e)
    }
    send(outcome)
}.buffer(Channel.UNLIMITED)
