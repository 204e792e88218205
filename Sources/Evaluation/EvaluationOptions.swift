/// Run-wide settings of `EvaluationHarness` (the `moekit eval` flags).
public struct EvaluationOptions: Sendable, Equatable {
    /// Evaluate only the first N items in file order (`--limit N`); nil = all.
    public var limit: Int?
    /// Evaluate only the first ⌈fraction · rows⌉ items of each task (`--limit 0.1`, lm-eval's fractional limit);
    /// must lie strictly between 0 and 1. Applied when `limit` is nil.
    public var limitFraction: Double?
    /// Overrides every task's `fewshot.num_fewshot` (`--num-fewshot`); ignored by rolling tasks.
    public var numFewShot: Int?
    /// Overrides every task's few-shot seed (`--seed`).
    public var seed: UInt64?
    /// Directory with the full data files (`--data-dir`), named as in llm-foundry's `scripts/eval/local_data/` (flat).
    public var dataDirectory: String?
    /// Whether encodes follow the tokenizer's BOS configuration (true, lm-eval HEAD) or never add BOS.
    public var addBOS: Bool
    /// Bootstrap resamples for perplexity standard errors (lm-eval default 100 000).
    public var bootstrapIterations: Int

    public init(
        limit: Int? = nil, limitFraction: Double? = nil, numFewShot: Int? = nil, seed: UInt64? = nil, dataDirectory: String? = nil, addBOS: Bool = true,
        bootstrapIterations: Int = 100_000
    ) {
        self.limit = limit
        self.limitFraction = limitFraction
        self.numFewShot = numFewShot
        self.seed = seed
        self.dataDirectory = dataDirectory
        self.addBOS = addBOS
        self.bootstrapIterations = bootstrapIterations
    }

    /// Items evaluated out of `rows`: `limit`, else lm-eval's `int(math.ceil(rows * fraction))`, else all; never more
    /// than `rows`.
    public func effectiveCount(_ rows: Int) -> Int {
        if let limit { return min(limit, rows) }
        if let limitFraction { return min(rows, Int((Double(rows) * limitFraction).rounded(.up))) }
        return rows
    }
}
