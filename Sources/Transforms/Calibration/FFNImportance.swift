import Runtime

/// First-order Taylor importance of every FFN neuron, the score LLaMA-MoE's gradient-based expert construction
/// ranks neurons by (Zhu et al. 2024, "LLaMA-MoE"; pjlab-sys4nlp/llama-moe
/// `smoe/utils/expert_construction/expert_split.py` `GradientSplitGetGrads`, with `importance_type=feature_change`,
/// `kernel=l1_norm`, `accumulate_level=sample`).
public enum FFNImportance {
    /// importance[l][i] = (1/S) Σ_s Σ_t |∂L_s/∂a_{t,i} · a_{t,i}|, where a = silu(gate·x) ⊙ (up·x) is layer l's
    /// down_proj input and L_s the mean next-token cross-entropy of sequence s alone.
    ///
    /// Sequences are grouped into batches of at most `batchTokens` tokens (a longer sequence runs alone); each batch is
    /// one forward + backward pass with `LossReduction.sequenceMean`, which makes the gradient at a token of sequence s
    /// exactly ∂L_s/∂a divided by the batch's sequence count. Parameter gradients are not computed.
    /// - Parameters:
    ///   - model: a dense LLaMA model.
    ///   - sequences: token sequences of at least 2 tokens each.
    ///   - batchTokens: tokens per forward + backward pass (memory ≈ 1 MB per token for SmolLM2-135M).
    ///   - sequencesDone: called after each batch with the number of sequences scored so far.
    /// - Returns: [L][F] scores.
    /// - Throws: as `LanguageModel.lossAndGradients`.
    public static func ffnImportance(
        model: LanguageModel, sequences: [[Int32]], batchTokens: Int = 2048, sequencesDone: (Int) -> Void = { _ in }
    ) throws -> [[Float]] {
        for (l, layer) in model.parameters.layout.layers.enumerated() {
            guard case .dense = layer.ffn else {
                throw RuntimeError.unsupported("FFN importance: layer \(l) is an MoE layer (importance scores a dense model's FFN neurons)")
            }
        }
        guard !sequences.isEmpty else { throw RuntimeError.emptyInput("importance: no sequences") }
        let L = model.config.layerCount, F = model.config.intermediateSize
        var batches: [[[Int32]]] = [[]]
        var batchSize = 0
        for s in sequences {
            if !batches[batches.count - 1].isEmpty && batchSize + s.count > batchTokens {
                batches.append([])
                batchSize = 0
            }
            batches[batches.count - 1].append(s)
            batchSize += s.count
        }
        let rows = batches.map { $0.reduce(0) { $0 + $1.count } }.max()!
        let workspace = BackwardWorkspace(config: model.config, rows: rows, context: sequences.map(\.count).max()!)
        var totals = [Double](repeating: 0, count: L * F)
        var layerSums = [Float](repeating: 0, count: F)
        var done = 0
        for batch in batches {
            // This batch's pass yields (1/S_b) Σ_{s∈b} …; rescale to the overall (1/S).
            let share = Double(batch.count) / Double(sequences.count)
            _ = try model.lossAndActivationGradients(batch, reduction: .sequenceMean, workspace: workspace) { item in
                layerSums.withUnsafeMutableBufferPointer { sums in
                    let s = sums.baseAddress!
                    s.update(repeating: 0, count: item.width)
                    let a = item.activation.baseAddress!, da = item.gradient.baseAddress!
                    for n in 0..<item.rows {
                        let ar = a + n &* item.width, dr = da + n &* item.width
                        for i in 0..<item.width { s[i] += abs(ar[i] * dr[i]) }
                    }
                }
                let base = item.layer * F
                for i in 0..<F { totals[base + i] += share * Double(layerSums[i]) }
            }
            done += batch.count
            sequencesDone(done)
        }
        return (0..<L).map { l in (0..<F).map { Float(totals[l * F + $0]) } }
    }
}
