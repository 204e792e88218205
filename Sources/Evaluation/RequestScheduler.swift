import Foundation
import Runtime
import TensorCore

/// Runs token requests through a `TokenScorer` the way lm-evaluation-harness's batching does, minus padding:
///
/// - requests are truncated to the scorer's `contextLength` (`ScoringRequest.truncated(toFit:)`);
/// - requests whose (truncated) contexts are identical are merged into one `score(context:continuations:)` call, so
///   a multiple-choice item computes its context once for all choices (and Winogrande pairs that share context
///   options compute each context once); identical continuations of a context are scored once;
/// - groups run longest first (by context + longest continuation), as lm-eval's `Collator` orders requests, so
///   out-of-memory or slow items show up at the start and the ETA shrinks monotonically.
///
/// With one scorer, groups run one at a time and the runtime parallelises inside each call. With several scorers
/// (one per worker, each with its own caches and scratch over the same immutable model), groups are handed out in
/// that same order to one thread per scorer, and each call runs inside `Parallel.serially` so that no threads are
/// nested inside the workers. A group's scores depend only on its own tokens, so the results equal the serial run's.
public struct RequestScheduler {
    /// One scorer per worker; the first is the one a serial run uses.
    public let scorers: [any TokenScorer]

    /// The model.
    public var scorer: any TokenScorer { scorers[0] }

    public init(scorer: any TokenScorer) { scorers = [scorer] }

    /// A scheduler with one worker per scorer.
    /// - Precondition: `scorers` is not empty and every scorer has the same `contextLength`.
    public init(scorers: [any TokenScorer]) {
        precondition(!scorers.isEmpty, "RequestScheduler needs at least one scorer")
        self.scorers = scorers
    }

    /// Scores every request; returns one score per request, in request order.
    /// - Parameters:
    ///   - requests: token requests (any lengths; oversize ones are truncated by the documented rule).
    ///   - progress: called after each scorer call with the fraction of tokens done (0…1).
    /// - Throws: whatever the scorer throws; `EvaluationError.scorerContractViolation` if it returns the wrong
    ///   number of scores.
    public func run(_ requests: [ScoringRequest], progress: ((Double) -> Void)? = nil) throws -> [ContinuationScore] {
        let limit = max(2, scorer.contextLength)
        struct Group {
            var context: [Int32]
            var continuations: [[Int32]] = []
            var continuationIndex: [[Int32]: Int] = [:]
            var members: [(request: Int, continuation: Int)] = []
            var longest: Int { context.count + (continuations.map(\.count).max() ?? 0) }
        }
        var groups: [Group] = []
        var groupIndex: [[Int32]: Int] = [:]
        var results = [ContinuationScore?](repeating: nil, count: requests.count)
        for (i, original) in requests.enumerated() {
            let request = original.truncated(toFit: limit)
            if request.continuation.isEmpty {
                results[i] = ContinuationScore(logLikelihood: 0, isGreedy: true, tokenLogProbabilities: [])
                continue
            }
            let g: Int
            if let existing = groupIndex[request.context] {
                g = existing
            } else {
                g = groups.count
                groupIndex[request.context] = g
                groups.append(Group(context: request.context))
            }
            let c: Int
            if let existing = groups[g].continuationIndex[request.continuation] {
                c = existing
            } else {
                c = groups[g].continuations.count
                groups[g].continuationIndex[request.continuation] = c
                groups[g].continuations.append(request.continuation)
            }
            groups[g].members.append((i, c))
        }
        let order = groups.indices.sorted { (groups[$0].longest, $1) > (groups[$1].longest, $0) }
        let totalTokens = max(1, groups.reduce(0) { $0 + $1.context.count + $1.continuations.reduce(0) { $0 + $1.count } })
        let state = SchedulerState(results: results)
        let workers = min(scorers.count, order.count)
        // Each worker only touches its own scorer; progress calls are serialised by `state`'s lock.
        let shared = UncheckedSendable((scorers: self.scorers, groups: groups, progress: progress))
        let body: @Sendable (Int) -> Void = { worker in
            let (scorers, groups, progress) = shared.value
            let scorer = scorers[worker]
            while let g = state.next(count: order.count) {
                let group = groups[order[g]]
                do {
                    let scores = try (workers > 1
                        ? Parallel.serially { try scorer.score(context: group.context, continuations: group.continuations) }
                        : scorer.score(context: group.context, continuations: group.continuations))
                    guard scores.count == group.continuations.count else {
                        throw EvaluationError.scorerContractViolation(
                            "returned \(scores.count) scores for \(group.continuations.count) continuations")
                    }
                    let tokens = group.context.count + group.continuations.reduce(0) { $0 + $1.count }
                    state.finish(group.members.map { ($0.request, scores[$0.continuation]) }, tokens: tokens) { done in
                        progress?(Double(done) / Double(totalTokens))
                    }
                } catch {
                    state.fail(error)
                }
            }
        }
        if workers > 1 {
            DispatchQueue.concurrentPerform(iterations: workers, execute: body)
        } else {
            body(0)
        }
        if let error = state.error { throw error }
        return state.results.map { $0! }
    }
}

/// Hands values that are used by one thread at a time (or under a lock) to the workers.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Shared state of one `RequestScheduler.run`: the next group to hand out, the scores so far and the first error,
/// all behind one lock.
private final class SchedulerState: @unchecked Sendable {
    private let lock = NSLock()
    private var cursor = 0
    private var doneTokens = 0
    private(set) var results: [ContinuationScore?]
    private(set) var error: (any Error)?

    init(results: [ContinuationScore?]) { self.results = results }

    /// The next position in the run order, or nil when all are handed out or a worker failed.
    func next(count: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard error == nil, cursor < count else { return nil }
        cursor += 1
        return cursor - 1
    }

    /// Stores a group's scores and reports progress (under the lock, so progress calls never overlap).
    func finish(_ scores: [(Int, ContinuationScore)], tokens: Int, progress: (Int) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        for (request, score) in scores { results[request] = score }
        doneTokens += tokens
        progress(doneTokens)
    }

    /// Records the first error; the workers stop taking groups.
    func fail(_ error: any Error) {
        lock.lock()
        defer { lock.unlock() }
        if self.error == nil { self.error = error }
    }
}
