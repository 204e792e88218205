/// Run-wide settings of `EvaluationHarness` (the `moekit eval` flags).
public struct EvaluationOptions: Sendable, Equatable {
    /// Evaluate only the first N items in file order (`--limit`); nil = all.
    public var limit: Int?
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
        limit: Int? = nil, numFewShot: Int? = nil, seed: UInt64? = nil, dataDirectory: String? = nil, addBOS: Bool = true,
        bootstrapIterations: Int = 100_000
    ) {
        self.limit = limit
        self.numFewShot = numFewShot
        self.seed = seed
        self.dataDirectory = dataDirectory
        self.addBOS = addBOS
        self.bootstrapIterations = bootstrapIterations
    }
}
