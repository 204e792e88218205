import TensorCore

/// How per-position next-token losses are averaged into one loss.
public enum LossReduction: Sendable, Equatable {
    /// Mean over every predicted position of the batch (Σ_s (T_s − 1) positions): the training loss.
    case tokenMean
    /// Mean over sequences of each sequence's mean loss: every sequence weighs the same whatever its length, and the
    /// gradient at a token of sequence s is ∂L_s/∂· / S (what per-sample importance scores need).
    case sequenceMean
}

/// One layer's FFN activation a = silu(gate·x) ⊙ (up·x) (the down_proj input) and ∂L/∂a, for every row of a
/// backward pass. The buffers are valid only inside the callback that receives them.
public struct FFNActivationGradient {
    /// Decoder layer.
    public let layer: Int
    /// Rows (tokens of every sequence, back to back) and FFN width F: both buffers are [rows, width].
    public let rows: Int
    public let width: Int
    /// a, row-major [rows, F].
    public let activation: UnsafeBufferPointer<Float>
    /// ∂L/∂a, row-major [rows, F].
    public let gradient: UnsafeBufferPointer<Float>
}

extension LanguageModel {
    /// Next-token cross-entropy of `sequences` and its gradient with respect to every parameter, in the layout of
    /// `parameters.values` (an optimizer can walk both buffers with one loop).
    ///
    /// Each sequence (at least 2 tokens, starting at position 0) predicts tokens 1 … T−1; the loss is averaged as
    /// `reduction` says. Every layer the runtime runs: RMSNorm, fused q|k|v with or without biases, q/k RMSNorm (per
    /// head or whole projection), RoPE, causal GQA, o_proj, dense SwiGLU FFN or MoE (every routing, linear or MLP
    /// router, experts of different widths, shared expert with its sigmoid gate: gradients of the routing weights
    /// flow to the router, the top-k selection itself is piecewise constant); tied or untied LM head. Call
    /// `Matmul.useSingleThreadedBLAS()` first: work is split with `Parallel` and must not nest around a multithreaded
    /// BLAS.
    ///
    /// - Parameters:
    ///   - sequences: token ids, all sequences processed as one batch.
    ///   - gradients: `parameters.layout.count` floats the gradients are *added* to (zero it per optimizer step, keep
    ///     it for gradient accumulation); an empty array is replaced by zeros first.
    ///   - reduction: how position losses are averaged.
    ///   - workspace: scratch for at least Σ T rows and max T context; nil allocates one for this call.
    ///   - estimator: how the MoE layers route and differentiate their routing (`RouterEstimator`; default `.topK`).
    ///   - activationGradients: called once per dense layer (last layer first) with a and ∂L/∂a of its FFN.
    /// - Returns: the loss.
    /// - Throws: `.emptyInput` for no sequence or one shorter
    ///   than 2 tokens, `.tokenOutOfRange`, `.contextOverflow` when `workspace` is too small, `.shapeMismatch` for a
    ///   gradient buffer of the wrong size, `.unsupportedRouterEstimator` for an estimator this model does not support.
    public func lossAndGradients(
        _ sequences: [[Int32]], gradients: inout [Float], reduction: LossReduction = .tokenMean,
        workspace: BackwardWorkspace? = nil, estimator: RouterEstimator = .topK,
        activationGradients: ((FFNActivationGradient) -> Void)? = nil
    ) throws -> Float {
        try estimator.check(config)
        let count = parameters.layout.count
        if gradients.isEmpty { gradients = [Float](repeating: 0, count: count) }
        guard gradients.count == count else {
            throw RuntimeError.shapeMismatch(tensor: "gradients", expected: [count], found: [gradients.count])
        }
        return try gradients.withUnsafeMutableBufferPointer { g in
            try parameters.values.withUnsafeBufferPointer { w in
                try decoder.backwardPass(
                    sequences, reduction: reduction, parameters: w.baseAddress!, gradients: g.baseAddress!,
                    workspace: workspace, activationGradients: activationGradients, estimator: estimator
                ).crossEntropy
            }
        }
    }

    /// The loss and, per layer, a and ∂L/∂a of the FFN, without parameter gradients (the pass stops at layer 0's FFN).
    /// Same inputs, conditions and errors as `lossAndGradients`.
    public func lossAndActivationGradients(
        _ sequences: [[Int32]], reduction: LossReduction = .tokenMean, workspace: BackwardWorkspace? = nil,
        _ activationGradients: (FFNActivationGradient) -> Void
    ) throws -> Float {
        try withoutActuallyEscaping(activationGradients) { observe in
            try parameters.values.withUnsafeBufferPointer { w in
                try decoder.backwardPass(
                    sequences, reduction: reduction, parameters: w.baseAddress!, gradients: nil, workspace: workspace,
                    activationGradients: observe
                ).crossEntropy
            }
        }
    }
}

extension Decoder {
    /// The training loss of `sequences` (next-token cross-entropy plus the auxiliary router losses of `routerLosses`)
    /// and its gradient, added to `gradients`: the training step's pass. `parameters` and `gradients` are
    /// caller-owned buffers of this decoder's layout; the optimizer updates them in place between calls. Same
    /// conditions and errors as `LanguageModel.lossAndGradients`. `estimator` picks how the MoE layers route and
    /// differentiate their routing (`RouterEstimator`): `.sparseMixer` throws `RuntimeError.unsupportedRouterEstimator`
    /// before any work for a model it is not defined for.
    /// - Parameter trainable: the groups whose weight gradients are computed; the others' entries of `gradients`
    ///   are left as they are (no weight-gradient work is done for them).
    public func lossAndGradients(
        _ sequences: [[Int32]], parameters: ParameterBuffer, gradients: ParameterBuffer,
        reduction: LossReduction = .tokenMean, routerLosses: RouterLossOptions = RouterLossOptions(),
        distillation: DistillationOptions? = nil, estimator: RouterEstimator = .topK, trainable: TrainableParameters = .all,
        workspace: BackwardWorkspace
    ) throws -> LossBreakdown {
        try estimator.check(config)
        guard parameters.count == layout.count, gradients.count == layout.count else {
            throw RuntimeError.shapeMismatch(tensor: "parameter buffer", expected: [layout.count], found: [parameters.count, gradients.count])
        }
        precondition(parameters !== gradients, "parameters and gradients must be distinct buffers")
        return try backwardPass(
            sequences, reduction: reduction, parameters: parameters.pointer, gradients: gradients.pointer,
            workspace: workspace, activationGradients: nil, routerLosses: routerLosses, distillation: distillation,
            estimator: estimator, trainable: trainable)
    }


    /// Forward with every activation kept, fused LM head + cross-entropy, then the layers walked back.
    func backwardPass(
        _ sequences: [[Int32]], reduction: LossReduction, parameters w: UnsafePointer<Float>,
        gradients g: UnsafeMutablePointer<Float>?,
        workspace: BackwardWorkspace?, activationGradients observe: ((FFNActivationGradient) -> Void)?,
        routerLosses: RouterLossOptions = RouterLossOptions(), distillation: DistillationOptions? = nil,
        estimator: RouterEstimator = .topK, trainable: TrainableParameters = .all
    ) throws -> LossBreakdown {
        try estimator.check(config)
        guard !sequences.isEmpty else { throw RuntimeError.emptyInput("backward: no sequences") }
        for s in sequences where s.count < 2 {
            throw RuntimeError.emptyInput("backward: a sequence of \(s.count) token(s) predicts nothing (2 needed)")
        }
        let N = sequences.reduce(0) { $0 + $1.count }
        let longest = sequences.map(\.count).max()!
        let bw: BackwardWorkspace
        if let workspace {
            guard workspace.fits(rows: N, context: longest) else {
                throw RuntimeError.contextOverflow(needed: max(N, longest), capacity: min(workspace.rows, workspace.context))
            }
            bw = workspace
        } else {
            bw = BackwardWorkspace(config: config, rows: N, context: longest)
        }
        try trainingForward(sequences, parameters: w, workspace: bw.forward, estimator: estimator)

        // Targets and loss weights: position t of a sequence predicts token t + 1; its last position predicts nothing.
        let predicted = N - sequences.count
        var row = 0
        for s in sequences {
            let T = s.count
            let weight: Float = reduction == .tokenMean ? 1 / Float(predicted) : 1 / (Float(sequences.count) * Float(T - 1))
            for t in 0..<T {
                bw.targets[row + t] = t + 1 < T ? s[t + 1] : 0
                bw.rowWeights[row + t] = t + 1 < T ? weight : 0
            }
            row += T
        }
        // Router statistics of this forward (auxiliary losses, expert load), over the rows that predict a token.
        var statistics = RouterStatistics()
        statistics.rows = predicted
        if let moe = config.moe {
            let E = moe.expertCount, K = moe.expertsPerToken
            for l in 0..<config.layerCount where moe.sparseLayers[l] {
                let a = bw.forward.moe(l)
                routerSoftmax(logits: a.routerLogits, probabilities: bw.moe.auxProbabilities, logSumExp: bw.moe.logSumExp, rows: N, experts: E)
                var sums = [Double](repeating: 0, count: E), counts = [Double](repeating: 0, count: E)
                // Routing weights before the score scale: w itself, or top-k→softmax's q (kept in probabilities).
                var importance = [Double](repeating: 0, count: E)
                var squared = 0.0
                for n in 0..<N where bw.rowWeights[n] > 0 {
                    for e in 0..<E { sums[e] += Double(bw.moe.auxProbabilities[n * E + e]) }
                    squared += Double(bw.moe.logSumExp[n]) * Double(bw.moe.logSumExp[n])
                    for k in 0..<K {
                        let e = Int(a.selected[n * K + k])
                        counts[e] += 1
                        switch moe.routing {
                        case .softmaxThenTopK: importance[e] += Double(a.weights[n * K + k])
                        case .topKThenSoftmax: importance[e] += Double(a.probabilities[n * E + e])
                        }
                    }
                }
                statistics.layers.append(l)
                statistics.counts.append(counts)
                statistics.probabilitySums.append(sums)
                statistics.squaredLogSumExp.append(squared)
                statistics.importance.append(importance)
            }
        }
        if let distillation {
            guard distillation.teacherLogits.count == N * config.vocabularySize else {
                throw RuntimeError.shapeMismatch(
                    tensor: "teacher logits", expected: [N, config.vocabularySize], found: [distillation.teacherLogits.count])
            }
            guard distillation.temperature > 0 else {
                throw RuntimeError.unsupported("distillation temperature must be positive (got \(distillation.temperature))")
            }
        }
        var distillationLoss = 0.0
        let crossEntropy = (distillation?.teacherLogits ?? []).withUnsafeBufferPointer { teacher in
            let target = distillation.map {
                DistillationTarget(
                    teacherLogits: teacher.baseAddress!, coefficient: $0.coefficient, temperature: $0.temperature,
                    scratch: bw.distillationScratch)
            }
            return Float(walkBack(
                sequences.map(\.count), rows: N, w: w, g: g, trainable: trainable, bw: bw, observe: observe,
                routerLosses: routerLosses, statistics: statistics, distillation: target, distillationLoss: &distillationLoss,
                estimator: estimator))
        }
        let moe = config.moe
        let aux = routerLosses.values(statistics, experts: moe?.expertCount ?? 0, perToken: moe?.expertsPerToken ?? 0)
        let total = crossEntropy + routerLosses.loadBalancing * Float(aux.loadBalancing) + routerLosses.zLoss * Float(aux.zLoss)
            + Float(distillationLoss)
        return LossBreakdown(
            total: total, crossEntropy: crossEntropy, loadBalancing: Float(aux.loadBalancing),
            loadBalancingBalanced: Float(aux.balanced), zLoss: Float(aux.zLoss), distillation: Float(distillationLoss),
            routing: statistics.layers.indices.map { i in
                let assignments = statistics.counts[i].reduce(0, +)
                return LayerRouting(
                    layer: statistics.layers[i], load: statistics.counts[i].map { assignments > 0 ? $0 / assignments : 0 },
                    meanSquaredLogSumExp: predicted > 0 ? statistics.squaredLogSumExp[i] / Double(predicted) : 0)
            })
    }

    /// The backward walk over the activations of the forward pass just run in `bw`. Returns the loss.
    private func walkBack(
        _ lengths: [Int], rows N: Int, w: UnsafePointer<Float>, g: UnsafeMutablePointer<Float>?,
        trainable: TrainableParameters, bw: BackwardWorkspace,
        observe: ((FFNActivationGradient) -> Void)?, routerLosses: RouterLossOptions, statistics: RouterStatistics,
        distillation: DistillationTarget?, distillationLoss: UnsafeMutablePointer<Double>, estimator: RouterEstimator
    ) -> Double {
        let c = config, ws = bw.forward
        let D = c.hiddenSize, H = c.headCount, Hkv = c.kvHeadCount, hd = c.headDim
        let qW = H * hd, kvW = Hkv * hd, qkvW = qW + 2 * kvW
        // Weight-gradient destinations per group: nil skips the work of a frozen group.
        let gExperts = trainable.contains(.experts) ? g : nil, gRouter = trainable.contains(.router) ? g : nil
        /// A non-expert tensor's gradient destination.
        func grad(_ slice: ParameterSlice?) -> UnsafeMutablePointer<Float>? {
            guard let g, let slice, trainable.contains(.nonExpert) else { return nil }
            return g + slice.offset
        }

        // Final norm, then LM head + cross-entropy: dNorm = ∂L/∂(final norm output).
        let last = ws.residual(2 * c.layerCount)
        rmsnormForward(
            out: ws.finalNorm, reciprocalRMS: ws.finalRRMS, x: last, weight: w + layout.finalNorm.offset, rows: N, width: D,
            eps: c.rmsNormEps)
        let loss = lmHeadCrossEntropyBackward(
            dHidden: bw.dNorm, dWeight: grad(layout.lmHead), logits: ws.logits, hidden: ws.finalNorm,
            weight: w + layout.lmHead.offset, targets: bw.targets, rowWeights: bw.rowWeights, rows: N, width: D,
            vocabulary: c.vocabularySize, distillation: distillation, distillationLoss: distillationLoss)
        let dRes = bw.dResidual
        dRes.update(repeating: 0, count: N * D)
        rmsnormBackward(
            dX: dRes, dWeight: grad(layout.finalNorm), dOut: bw.dNorm, x: last, reciprocalRMS: ws.finalRRMS,
            weight: w + layout.finalNorm.offset, rows: N, width: D)

        layers: for l in stride(from: c.layerCount - 1, through: 0, by: -1) {
            let p = layout.layers[l]
            // FFN block: next = mid + ffn(rmsnorm(mid)); dRes holds ∂L/∂next = ∂L/∂(FFN output). bw.dNorm gets
            // ∂L/∂(FFN input).
            switch p.ffn {
            case .dense(let f):
                let F = f.width
                let act = ws.act(l), gateUp = ws.gateUp(l)
                linearBackward(
                    dX: bw.dAct, dWeight: grad(f.down), dOut: dRes, x: act, weight: w + f.down.offset, rows: N, inFeatures: F,
                    outFeatures: D)
                if let observe {
                    observe(FFNActivationGradient(
                        layer: l, rows: N, width: F, activation: UnsafeBufferPointer(start: act, count: N * F),
                        gradient: UnsafeBufferPointer(start: bw.dAct, count: N * F)))
                }
                if g == nil && l == 0 { break layers }  // activation gradients only: nothing below layer 0's FFN is needed
                swigluBackward(dGateUp: bw.dGateUp, dAct: bw.dAct, gateUp: gateUp, rows: N, width: F)
                linearBackward(
                    dX: bw.dNorm, dWeight: grad(f.gate), dOut: bw.dGateUp, x: ws.norm2(l), weight: w + f.gate.offset, rows: N,
                    inFeatures: D, outFeatures: 2 * F)
            case .moe(let m):
                let moe = c.moe!, a = ws.moe(l), x = ws.norm2(l)
                bw.dNorm.update(repeating: 0, count: N * D)
                expertsBackward(
                    a, bw.moe, dX: bw.dNorm, dOut: dRes, x: x, rows: N, width: D, perToken: moe.expertsPerToken, p: m,
                    parameters: w, gradients: gExperts)
                let auxIndex = routerLosses.isActive ? statistics.layers.firstIndex(of: l) : nil
                if let index = auxIndex {
                    // The weights the runtime applies are scale · q for top-k→softmax with multiplied scores.
                    let weightScale: Float
                    switch moe.routing {
                    case .softmaxThenTopK: weightScale = 1
                    case .topKThenSoftmax(_, let multiplyScores): weightScale = multiplyScores ? moe.scoreScaleFactors[l] : 0
                    }
                    routerLosses.addWeightGradients(
                        statistics, layer: index, selected: a.selected, dWeights: bw.moe.dWeights, rows: N,
                        rowWeights: bw.rowWeights, perToken: moe.expertsPerToken, weightScale: weightScale)
                }
                let addLogitGradients = auxIndex.map { index in
                    { (dz: UnsafeMutablePointer<Float>) in
                        routerSoftmax(
                            logits: a.routerLogits, probabilities: bw.moe.auxProbabilities, logSumExp: bw.moe.logSumExp,
                            rows: N, experts: moe.expertCount)
                        routerLosses.addLogitGradients(
                            statistics, layer: index, probabilities: bw.moe.auxProbabilities, logSumExp: bw.moe.logSumExp,
                            dLogits: dz, rows: N, rowWeights: bw.rowWeights, experts: moe.expertCount, perToken: moe.expertsPerToken)
                    }
                }
                switch estimator {
                case .topK:
                    routerBackward(
                        a, dWeights: bw.moe.dWeights, dLogits: bw.moe.dLogits, dHidden: bw.moe.dHidden, dX: bw.dNorm, x: x,
                        rows: N, width: D, experts: moe.expertCount, perToken: moe.expertsPerToken, p: m, parameters: w,
                        gradients: gRouter, routing: moe.routing, scale: moe.scoreScaleFactors[l], addLogitGradients: addLogitGradients)
                case .sparseMixer:
                    sparseMixerBackward(
                        a, dWeights: bw.moe.dWeights, dLogits: bw.moe.dLogits, dX: bw.dNorm, x: x, rows: N, width: D,
                        experts: moe.expertCount, p: m, parameters: w, gradients: gRouter, addLogitGradients: addLogitGradients)
                }
            }
            rmsnormBackward(
                dX: dRes, dWeight: grad(p.postAttentionNorm), dOut: bw.dNorm, x: ws.residual(2 * l + 1),
                reciprocalRMS: ws.rrms2(l), weight: w + p.postAttentionNorm.offset, rows: N, width: D)

            // Attention block: mid = x + o(attention(rope(qkv(rmsnorm(x))))); dRes holds ∂L/∂mid.
            if let dBias = grad(p.oBias) { biasBackward(dBias: dBias, dOut: dRes, rows: N, width: D, stride: D) }
            linearBackward(
                dX: bw.dAttention, dWeight: grad(p.o), dOut: dRes, x: ws.attention(l), weight: w + p.o.offset, rows: N,
                inFeatures: qW, outFeatures: D)
            bw.dQKV.update(repeating: 0, count: N * qkvW)
            let qkv = ws.qkv(l)
            var start = 0
            for T in lengths {
                attentionBackward(
                    dQKV: bw.dQKV + start * qkvW, dOut: bw.dAttention + start * qW, qkv: qkv + start * qkvW, qkvStride: qkvW,
                    rows: T, heads: H, kvHeads: Hkv, headDim: hd, blockRows: Workspace.blockRows, scratch: bw.attentionScratch)
                start += T
            }
            ropeBackward(
                dX: bw.dQKV, rows: N, heads: H, headDim: hd, positions: ws.positions, cos: ws.ropeCos, sin: ws.ropeSin,
                stride: qkvW)
            ropeBackward(
                dX: bw.dQKV + qW, rows: N, heads: Hkv, headDim: hd, positions: ws.positions, cos: ws.ropeCos,
                sin: ws.ropeSin, stride: qkvW)
            // q / k norms (before RoPE in the forward): dQKV's q and k columns become gradients of the raw projection.
            let perHead = c.queryKeyNorm == .head
            if let qNorm = p.qNorm {
                groupedRMSNormBackward(
                    dX: bw.dQKV, dWeight: grad(qNorm), saved: ws.queryKeyPreNorm(l), reciprocalRMS: ws.queryKeyRRMS(l),
                    weight: w + qNorm.offset, scratch: bw.dAttention, rows: N, groups: perHead ? H : 1,
                    groupWidth: perHead ? hd : qW, stride: qkvW)
            }
            if let kNorm = p.kNorm {
                groupedRMSNormBackward(
                    dX: bw.dQKV + qW, dWeight: grad(kNorm), saved: ws.queryKeyPreNorm(l) + N * qW,
                    reciprocalRMS: ws.queryKeyRRMS(l) + N * H, weight: w + kNorm.offset, scratch: bw.dAttention, rows: N,
                    groups: perHead ? Hkv : 1, groupWidth: perHead ? hd : kvW, stride: qkvW)
            }
            if let dBias = grad(p.qBias) { biasBackward(dBias: dBias, dOut: bw.dQKV, rows: N, width: qW, stride: qkvW) }
            if let dBias = grad(p.kBias) { biasBackward(dBias: dBias, dOut: bw.dQKV + qW, rows: N, width: kvW, stride: qkvW) }
            if let dBias = grad(p.vBias) {
                biasBackward(dBias: dBias, dOut: bw.dQKV + qW + kvW, rows: N, width: kvW, stride: qkvW)
            }
            // q | k | v weights are adjacent: one [qkvW, D] matrix.
            linearBackward(
                dX: bw.dNorm, dWeight: grad(p.q), dOut: bw.dQKV, x: ws.norm1(l), weight: w + p.q.offset, rows: N,
                inFeatures: D, outFeatures: qkvW)
            rmsnormBackward(
                dX: dRes, dWeight: grad(p.inputNorm), dOut: bw.dNorm, x: ws.residual(2 * l), reciprocalRMS: ws.rrms1(l),
                weight: w + p.inputNorm.offset, rows: N, width: D)
        }
        if let dTable = grad(layout.embedding) {
            embeddingBackward(dTable: dTable, dOut: dRes, tokens: ws.tokens, count: N, width: D)
        }
        return loss
    }
}
