import Dispatch
import Foundation

/// Fork-join parallelism over index ranges.
///
/// The width defaults to the number of active processors and can be set with the environment variable
/// `MOEKIT_THREADS` (benchmark 1 against 2 on these machines: they often deliver about one core of compute).
public enum Parallel {
    /// Number of workers used by `forEachChunk`: 1 inside `serially`, else `MOEKIT_THREADS` or the core count.
    public static var width: Int {
        pthread_getspecific(serialKey) != nil ? 1 : configuredWidth
    }

    /// The environment's width (`MOEKIT_THREADS`, else the active core count), ignoring `serially`: how many
    /// independent workers a caller that parallelises at a coarser grain may start.
    public static var configuredWidth: Int {
        if let text = ProcessInfo.processInfo.environment["MOEKIT_THREADS"], let value = Int(text), value > 0 {
            return value
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Runs `body` with `width` = 1 on the calling thread, so that loops started inside it run inline. Callers that
    /// already run one worker per core (e.g. evaluation contexts scored in parallel) use it to avoid nesting
    /// threads inside threads.
    public static func serially<R>(_ body: () throws -> R) rethrows -> R {
        let previous = pthread_getspecific(serialKey)
        pthread_setspecific(serialKey, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(serialKey, previous) }
        return try body()
    }

    /// Thread-specific flag of `serially` (non-nil while inside it).
    private static let serialKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Splits `0..<count` into at most `width` contiguous chunks of at least `minChunk` items and runs `body`
    /// on each, concurrently. Returns when every chunk is done. `body` must only write disjoint memory.
    public static func forEachChunk(_ count: Int, minChunk: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = max(1, min(width, count / max(1, minChunk)))
        if chunks == 1 {
            body(0..<count)
            return
        }
        let per = (count + chunks - 1) / chunks
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = chunk * per
            let end = min(count, start + per)
            if start < end { body(start..<end) }
        }
    }
}
