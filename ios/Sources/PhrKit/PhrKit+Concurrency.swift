// Hand-written conveniences beside the generated PhrKit.swift: run blocking SDK calls off
// the main thread with async/await, and a closure-based, cancellable progress listener.
import Foundation

/// Runs a blocking PhrKit call (import, export, share, open) on a background thread and
/// returns its result to the awaiting task: `let report = try await offMain { try store.importFile(path: p) }`.
public func offMain<T>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try work() })
        }
    }
}

/// A `ProgressListener` that forwards a fraction (0…1, nil while the total is unknown) to a
/// closure and cancels the running operation at its next checkpoint once `cancel()` was
/// called. The SDK calls it on the operation's thread: hop to the main actor for UI.
public final class CancellableProgress: ProgressListener, @unchecked Sendable {
    private let lock = NSLock()
    private var isCancelled = false
    private let onFraction: @Sendable (ProgressPhase, Double?) -> Void

    public init(onFraction: @escaping @Sendable (ProgressPhase, Double?) -> Void = { _, _ in }) {
        self.onFraction = onFraction
    }

    /// Asks the operation to stop; it rolls back and throws `PhrError.Cancelled`.
    public func cancel() {
        lock.lock(); isCancelled = true; lock.unlock()
    }

    public func onProgress(phase: ProgressPhase, done: UInt64, total: UInt64?) throws -> Bool {
        let fraction = total.flatMap { $0 > 0 ? min(1, Double(done) / Double($0)) : nil }
        onFraction(phase, fraction)
        lock.lock(); defer { lock.unlock() }
        return !isCancelled
    }
}

/// The SMART Health Link in an incoming URL (`shlink:/…`, or a viewer URL carrying one
/// after `#`), ready for `openLink`, or nil. Mirrors the Android sample's `shlinkFrom`.
public func shlinkFrom(_ url: URL) -> String? {
    let text = url.absoluteString.trimmingCharacters(in: .whitespacesAndNewlines)
    if text.hasPrefix("shlink:/") { return text }
    if (url.scheme == "https" || url.scheme == "http"), text.contains("#shlink:/") { return text }
    return nil
}
