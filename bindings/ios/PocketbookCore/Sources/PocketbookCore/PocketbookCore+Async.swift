// Why this file exists: the generated bindings (PocketbookCore.swift, made by
// bindings/ios/build-ios) speak in callbacks (ChangeListener, SyncProgress)
// and one async call (sync). A Swift app speaks in async sequences iterated
// from a Task or SwiftUI's `.task { }`. These two extensions are the whole
// bridge, the Swift twin of the Kotlin Flow layer
// (bindings/kotlin/src/main/kotlin/uk/police/pocketbook/core/ktx/Flows.kt);
// they add no rule and no state of their own. Checked in beside the generated
// file, so the Swift package ships both; no Swift toolchain runs on the
// project's Linux machines, so bindings/swift/check-syntax parses it instead.

import Foundation

/// Where one `Notebook.syncStates()` has got to.
public enum SyncState: Equatable, Sendable {
    /// The sync was asked for; nothing has been exchanged yet.
    case started
    /// Records sent to the server and received from it so far, counted over
    /// the whole sync (they only grow). The server does not say how many
    /// records remain, so there is no total.
    case progress(sent: Int, received: Int)
    /// Both sides are level; the summary is what `Notebook.sync` returned.
    case done(SyncSummary)
    /// The sync stopped with a typed error, e.g. `.Offline` (try again later)
    /// or `.Wiped` (show the enrolment screen). What was applied stays applied.
    case failed(ApiError)
}

extension Notebook {
    /// Every change to this notebook's records, from the moment the stream is
    /// made until its iteration ends: local edits, imports, records a sync
    /// brought in, and records that left the device (`.erased`).
    ///
    /// Each stream registers its own `ChangeListener`; when the iterating task
    /// is cancelled or breaks out of its loop, the subscription is cancelled.
    /// The core calls listeners on the thread that made the change, so the
    /// listener never waits: events are buffered without a bound, none dropped.
    ///
    ///     for await event in notebook.changes() { refresh(event.recordId) }
    public func changes() -> AsyncStream<ChangeEvent> {
        AsyncStream(bufferingPolicy: .unbounded) { continuation in
            let subscription = subscribe(listener: ChangeForwarder(continuation))
            continuation.onTermination = { _ in subscription.cancel() }
        }
    }

    /// Runs one `sync` and reports it as states: `.started`, then zero or more
    /// `.progress`, then exactly one `.done` or `.failed`, and the stream
    /// finishes. An error that is not an `ApiError` (a bug) is thrown.
    ///
    /// Ending the iteration early stops the reporting only: the generated
    /// Swift bindings cannot cancel a Rust future, so the sync in flight runs
    /// to its end, which the core makes safe (a sync may stop at any point
    /// and the next one resumes).
    ///
    ///     for try await state in notebook.syncStates() { show(state) }
    public func syncStates() -> AsyncThrowingStream<SyncState, Error> {
        AsyncThrowingStream(bufferingPolicy: .unbounded) { continuation in
            continuation.yield(.started)
            let task = Task {
                do {
                    let summary = try await self.sync(progress: ProgressForwarder(continuation))
                    continuation.yield(.done(summary))
                    continuation.finish()
                } catch let error as ApiError {
                    continuation.yield(.failed(error))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// Hands each change to a stream; `yield` never blocks the calling thread.
private final class ChangeForwarder: ChangeListener {
    private let continuation: AsyncStream<ChangeEvent>.Continuation

    init(_ continuation: AsyncStream<ChangeEvent>.Continuation) {
        self.continuation = continuation
    }

    func onChange(event: ChangeEvent) {
        continuation.yield(event)
    }
}

/// Hands each progress report to a stream, from the core's threads.
private final class ProgressForwarder: SyncProgress {
    private let continuation: AsyncThrowingStream<SyncState, Error>.Continuation

    init(_ continuation: AsyncThrowingStream<SyncState, Error>.Continuation) {
        self.continuation = continuation
    }

    func onProgress(sent: Int32, received: Int32) {
        continuation.yield(.progress(sent: Int(sent), received: Int(received)))
    }
}
