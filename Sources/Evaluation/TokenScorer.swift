import Runtime

/// A language model seen as a scorer of continuations: what the evaluation harness needs.
///
/// Implementations compute the shared context once (KV cache) and then score every continuation of it, so a
/// multiple-choice item with four choices costs one context pass plus four short continuation passes.
public protocol TokenScorer: AnyObject {
    /// Vocabulary size (logit width).
    var vocabularySize: Int { get }
    /// Longest token sequence (context + continuation) the model accepts.
    var contextLength: Int { get }
    /// Scores each continuation after `context`. `context` may be empty only when the continuation's first token
    /// is to be predicted from nothing; callers then pass the BOS/EOS token as context, as lm-evaluation-harness does.
    /// - Precondition: `context.count + continuation.count <= contextLength` for every continuation.
    func score(context: [Int32], continuations: [[Int32]]) throws -> [ContinuationScore]
}
