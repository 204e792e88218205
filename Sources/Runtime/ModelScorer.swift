import Foundation

/// Scores continuations with a `LanguageModel` (Evaluation makes it the harness's `TokenScorer`).
///
/// The context is computed once into a KV cache; the continuations then run together as one batch of sequences, each
/// from its own copy of that cache, so K choices cost one context pass plus one batched pass over their tokens (the
/// linear layers see all continuation tokens in one GEMM). The first continuation token is scored from the
/// context's last logits.
public final class ModelScorer {
    public let model: LanguageModel
    private let cache: KVCache
    /// Per-continuation copies of the context cache (grown on demand, reused across calls).
    private var branches: [KVCache] = []
    /// Scratch of the forward passes, grown to the largest call seen.
    private var workspace: Workspace?
    /// Most continuation rows run in one batched forward pass.
    static let batchRows = 512

    /// - Parameter contextLength: longest context + continuation accepted (default: the model's
    ///   `max_position_embeddings`).
    public init(model: LanguageModel, contextLength: Int? = nil) {
        self.model = model
        cache = model.makeCache(capacity: contextLength ?? model.config.maxPositionEmbeddings)
    }

    public var vocabularySize: Int { model.config.vocabularySize }
    public var contextLength: Int { cache.capacity }

    public func score(context: [Int32], continuations: [[Int32]]) throws -> [ContinuationScore] {
        guard !context.isEmpty else {
            throw RuntimeError.emptyInput("the context is empty (pass the BOS/EOS token as context)")
        }
        for continuation in continuations where context.count + continuation.count > contextLength {
            throw RuntimeError.contextOverflow(needed: context.count + continuation.count, capacity: contextLength)
        }
        for token in context + continuations.joined() where token < 0 || Int(token) >= vocabularySize {
            throw RuntimeError.tokenOutOfRange(token: token, vocabularySize: vocabularySize)
        }
        cache.reset()
        // First tokens are scored from the context's last row; the rest of every continuation runs in batches of
        // branches (copies of the context cache), so short continuations share their GEMMs.
        var results = try model.forward([(context, cache)], logits: .last, workspace: workspace(rows: context.count)) { row in
            let first = LogSoftmaxRow(row)
            return continuations.map { continuation in
                ContinuationScore(
                    logLikelihood: 0, isGreedy: continuation.first.map { first.argmax == Int($0) } ?? true,
                    tokenLogProbabilities: continuation.first.map { [first.logProbability($0, in: row)] } ?? [])
            }
        }
        let pending = continuations.indices.filter { continuations[$0].count > 1 }
        var cursor = 0
        while cursor < pending.count {
            var batch: [Int] = []
            var rows = 0
            while cursor < pending.count, batch.isEmpty || rows + continuations[pending[cursor]].count - 1 <= Self.batchRows {
                batch.append(pending[cursor])
                rows += continuations[pending[cursor]].count - 1
                cursor += 1
            }
            while branches.count < batch.count { branches.append(model.makeCache(capacity: contextLength)) }
            var inputs: [(tokens: [Int32], cache: KVCache)] = []
            for (j, index) in batch.enumerated() {
                branches[j].assign(from: cache)
                inputs.append((Array(continuations[index].dropLast()), branches[j]))
            }
            try model.forward(inputs, logits: .all, workspace: workspace(rows: rows)) { logits in
                let V = vocabularySize
                var row = 0
                for index in batch {
                    let continuation = continuations[index]
                    for i in 1..<continuation.count {
                        let values = UnsafeBufferPointer(rebasing: logits[(row * V)..<((row + 1) * V)])
                        let scored = LogSoftmaxRow(values)
                        results[index].tokenLogProbabilities.append(scored.logProbability(continuation[i], in: values))
                        results[index].isGreedy = results[index].isGreedy && scored.argmax == Int(continuation[i])
                        row += 1
                    }
                }
            }
        }
        for i in results.indices {
            results[i].logLikelihood = results[i].tokenLogProbabilities.reduce(0.0) { $0 + Double($1) }
        }
        return results
    }
}

extension ModelScorer {
    /// A workspace of at least `rows` rows over the whole context, reused across calls.
    fileprivate func workspace(rows: Int) -> Workspace {
        if let workspace, workspace.rows >= rows { return workspace }
        let grown = model.makeWorkspace(rows: max(rows, workspace?.rows ?? 0), context: contextLength)
        workspace = grown
        return grown
    }
}

/// One row of logits reduced to what scoring needs: its log-sum-exp and argmax (the row is not copied).
struct LogSoftmaxRow {
    let logSumExp: Double
    let argmax: Int

    init(_ row: UnsafeBufferPointer<Float>) {
        argmax = Sampler.argmax(row)
        let top = row[argmax]
        let x = row.baseAddress!
        let count = row.count
        // Eight partial sums so the exp loop vectorises.
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0, s4: Float = 0, s5: Float = 0, s6: Float = 0, s7: Float = 0
        var i = 0
        while i &+ 8 <= count {
            s0 += fastExp(x[i] - top); s1 += fastExp(x[i &+ 1] - top)
            s2 += fastExp(x[i &+ 2] - top); s3 += fastExp(x[i &+ 3] - top)
            s4 += fastExp(x[i &+ 4] - top); s5 += fastExp(x[i &+ 5] - top)
            s6 += fastExp(x[i &+ 6] - top); s7 += fastExp(x[i &+ 7] - top)
            i &+= 8
        }
        while i < count {
            s0 += fastExp(x[i] - top)
            i &+= 1
        }
        let total = Double(s0) + Double(s1) + Double(s2) + Double(s3) + Double(s4) + Double(s5) + Double(s6) + Double(s7)
        logSumExp = Double(top) + Foundation.log(total)
    }

    /// log P(token) under this row.
    func logProbability(_ token: Int32, in row: UnsafeBufferPointer<Float>) -> Float {
        Float(Double(row[Int(token)]) - logSumExp)
    }
}
