import Foundation

extension Decoder {
    /// Runs `sequences` from position 0 (no KV cache, as the training forward) and passes the logits of every row,
    /// [Σ T, V] with the sequences back to back, to `body` (valid only inside it): a teacher's logits for
    /// distillation, or a validation loss.
    /// - Throws: `RuntimeError` for an empty batch or sequence, a token outside the vocabulary, or a workspace too small.
    public func logits<R>(
        _ sequences: [[Int32]], parameters: ParameterBuffer, workspace: BackwardWorkspace,
        _ body: (UnsafeBufferPointer<Float>) throws -> R
    ) throws -> R {
        guard parameters.count == layout.count else {
            throw RuntimeError.shapeMismatch(tensor: "parameter buffer", expected: [layout.count], found: [parameters.count])
        }
        guard !sequences.isEmpty else { throw RuntimeError.emptyInput("no sequences") }
        let N = try checkTokens(sequences)
        let ws = workspace.forward
        try checkFits(ws, rows: N, context: sequences.map(\.count).max() ?? 0)
        let rows = run(sequences.map { ($0, 0) }, keyValues: .projection, logits: .all, w: parameters.pointer, ws: ws)
        return try body(UnsafeBufferPointer(start: ws.logits, count: rows * config.vocabularySize))
    }

    /// Next-token cross-entropy of each sequence without gradients: the sum of −log p(next token) over its
    /// T − 1 predicted positions (accumulated in Double), and the number of those positions.
    /// - Throws: as `logits`, and `.emptyInput` for a sequence shorter than 2 tokens.
    public func crossEntropySums(
        _ sequences: [[Int32]], parameters: ParameterBuffer, workspace: BackwardWorkspace
    ) throws -> [(sum: Double, count: Int)] {
        for s in sequences where s.count < 2 {
            throw RuntimeError.emptyInput("a sequence of \(s.count) token(s) predicts nothing (2 needed)")
        }
        let V = config.vocabularySize
        return try logits(sequences, parameters: parameters, workspace: workspace) { logits in
            var row = 0
            return sequences.map { s in
                var sum = 0.0
                for t in 0..<(s.count - 1) {
                    let z = logits.baseAddress! + (row + t) * V
                    var top = z[0]
                    for v in 1..<V { top = max(top, z[v]) }
                    var total = 0.0
                    for v in 0..<V { total += Foundation.exp(Double(z[v] - top)) }
                    sum += Double(top) + Foundation.log(total) - Double(z[Int(s[t + 1])])
                }
                row += s.count
                return (sum, s.count - 1)
            }
        }
    }

    /// The expert load of a training forward of `sequences` (`estimator` as the training pass will route): per MoE
    /// layer the assignments of each expert over the rows that predict a token. Summed over the micro-batches of an
    /// optimizer step it is `RouterLossOptions.stepLoad`.
    public func expertLoad(
        _ sequences: [[Int32]], parameters: ParameterBuffer, estimator: RouterEstimator = .topK, workspace: BackwardWorkspace
    ) throws -> ExpertLoad {
        guard let moe = config.moe else { return ExpertLoad(counts: [], rows: 0) }
        try trainingForward(sequences, parameters: parameters.pointer, workspace: workspace.forward, estimator: estimator)
        let E = moe.expertCount, K = moe.expertsPerToken
        var counts: [[Double]] = []
        for l in 0..<config.layerCount where moe.sparseLayers[l] {
            let a = workspace.forward.moe(l)
            var layer = [Double](repeating: 0, count: E)
            var row = 0
            for s in sequences {
                for n in row..<(row + s.count - 1) {
                    for k in 0..<K { layer[Int(a.selected[n * K + k])] += 1 }
                }
                row += s.count
            }
            counts.append(layer)
        }
        return ExpertLoad(counts: counts, rows: sequences.reduce(0) { $0 + $1.count - 1 })
    }
}
