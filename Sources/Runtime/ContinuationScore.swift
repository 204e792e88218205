/// The log-probability of one continuation given a context (what `ModelScorer` computes; the evaluation harness
/// consumes it through its `TokenScorer` protocol).
public struct ContinuationScore: Sendable, Equatable {
    /// Σ log P(token | everything before it) over the continuation's tokens (natural log).
    public var logLikelihood: Double
    /// Whether every continuation token is the model's argmax at its position (greedy decoding would produce it).
    public var isGreedy: Bool
    /// Per-token log-probabilities, in order.
    public var tokenLogProbabilities: [Float]

    public init(logLikelihood: Double, isGreedy: Bool, tokenLogProbabilities: [Float]) {
        self.logLikelihood = logLikelihood
        self.isGreedy = isGreedy
        self.tokenLogProbabilities = tokenLogProbabilities
    }
}
