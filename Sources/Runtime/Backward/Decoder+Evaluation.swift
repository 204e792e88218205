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
}
