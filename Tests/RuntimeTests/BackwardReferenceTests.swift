import Foundation
import Runtime
import TensorCore
import TestSupport
import Testing

/// A plain, loop-by-loop Double-precision LLaMA-family forward pass (dense and MoE FFNs) plus next-token cross-entropy, written
/// independently of the runtime's kernels: the function the finite-difference checks differentiate.
struct ReferenceLlama {
    let config: ModelConfig
    let layout: ParameterLayout

    /// Where to add `delta` to the FFN activation a (layer, row of the batch, neuron) before down_proj.
    struct ActivationNudge {
        let layer: Int, row: Int, neuron: Int, delta: Double
    }

    /// Replaces an MoE layer's routing: from (layer, row of the batch, router logits z) to the selected experts and
    /// their weights (SparseMixer's tests route with fixed samples through it).
    typealias Router = (_ layer: Int, _ row: Int, _ z: [Double]) -> (selected: [Int], weights: [Double])

    /// The loss of `sequences` under `parameters` (a flat buffer in `layout`); `router`, when given, routes every MoE
    /// layer instead of the model's top-K.
    func loss(
        _ p: [Double], _ sequences: [[Int32]], reduction: LossReduction = .tokenMean, nudge: ActivationNudge? = nil,
        routerLosses: RouterLossOptions = RouterLossOptions(),
        teacher: (logits: [Double], coefficient: Double, temperature: Double)? = nil, router: Router? = nil
    ) -> Double {
        let c = config
        let D = c.hiddenSize, H = c.headCount, Hkv = c.kvHeadCount, hd = c.headDim
        let V = c.vocabularySize, group = H / Hkv
        let predicted = sequences.reduce(0) { $0 + $1.count - 1 }
        func linear(_ x: [Double], _ s: ParameterSlice, _ bias: ParameterSlice?) -> [Double] {
            let out = s.shape[0], inF = s.shape[1]
            return (0..<out).map { o in
                var acc = bias.map { p[$0.offset + o] } ?? 0
                for i in 0..<inF { acc += p[s.offset + o * inF + i] * x[i] }
                return acc
            }
        }
        func rmsnorm(_ x: [Double], _ s: ParameterSlice) -> [Double] {
            let r = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + Double(c.rmsNormEps)).squareRoot()
            return x.indices.map { x[$0] * r * p[s.offset + $0] }
        }
        /// q / k RMSNorm: over the whole vector when the weight covers it, else per head of hd with a shared weight.
        func groupNorm(_ x: [Double], _ s: ParameterSlice?) -> [Double] {
            guard let s else { return x }
            let width = s.count
            var out = x
            for start in stride(from: 0, to: x.count, by: width) {
                let part = Array(x[start..<(start + width)])
                let r = 1 / (part.reduce(0) { $0 + $1 * $1 } / Double(width) + Double(c.rmsNormEps)).squareRoot()
                for i in 0..<width { out[start + i] = part[i] * r * p[s.offset + i] }
            }
            return out
        }
        func rope(_ x: inout [Double], heads: Int, position: Int) {
            let half = hd / 2
            for h in 0..<heads {
                for i in 0..<half {
                    let angle = Double(position) / pow(c.rope.theta, Double(2 * i) / Double(hd))
                    let a = x[h * hd + i], b = x[h * hd + half + i]
                    x[h * hd + i] = a * cos(angle) - b * sin(angle)
                    x[h * hd + half + i] = b * cos(angle) + a * sin(angle)
                }
            }
        }
        func swiglu(_ h: [Double], _ f: FeedForwardParameters) -> [Double] {
            let gate = linear(h, f.gate, nil), up = linear(h, f.up, nil)
            return linear((0..<f.width).map { gate[$0] / (1 + exp(-gate[$0])) * up[$0] }, f.down, nil)
        }
        /// An MoE FFN as the model cards define it: router (linear, or LLaMA-MoE's W2·tanh(W1·x)), top-K by logit
        /// (ties: lower index), weights per the routing, Σ w·expert(x) plus the shared expert times σ(u·x).
        // Router statistics per layer for the auxiliary losses: assignments per expert, Σ softmax, Σ logsumexp², over
        // the rows that predict a token (a sequence's last position predicts nothing and is not counted).
        let E = c.moe?.expertCount ?? 0
        var counts = [Int: [Double]](), probabilitySums = [Int: [Double]](), squaredLSE = [Int: Double]()
        var importance = [Int: [Double]]()
        func moeFFN(_ h: [Double], _ m: MoEParameters, layer l: Int, row: Int, counted: Bool) -> [Double] {
            let moe = c.moe!, K = moe.expertsPerToken
            let z = m.router2.map { linear(linear(h, m.router, nil).map { tanh($0) }, $0, nil) } ?? linear(h, m.router, nil)
            let routed = router?(l, row, z)
            var selected: [Int] = routed?.selected ?? []
            for _ in 0..<(routed == nil ? K : 0) {
                var best = -1
                for e in z.indices where !selected.contains(e) && (best < 0 || z[e] > z[best]) { best = e }
                selected.append(best)
            }
            let top = z.max()!
            let lse = top + log(z.reduce(0) { $0 + exp($1 - top) })
            if counted {
                for e in selected { counts[l, default: [Double](repeating: 0, count: E)][e] += 1 }
                for e in 0..<E { probabilitySums[l, default: [Double](repeating: 0, count: E)][e] += exp(z[e] - lse) }
                squaredLSE[l, default: 0] += lse * lse
            }
            func softmax(_ v: [Double]) -> [Double] {
                let top = v.max()!, ex = v.map { exp($0 - top) }, sum = ex.reduce(0, +)
                return ex.map { $0 / sum }
            }
            var weights: [Double] = routed?.weights ?? []
            switch routed == nil ? moe.routing : nil {
            case nil: break
            case .softmaxThenTopK(let renormalize):
                let p = softmax(z)
                weights = selected.map { p[$0] }
                if renormalize { let sum = weights.reduce(0, +); weights = weights.map { $0 / sum } }
            case .topKThenSoftmax(let useSoftmax, let multiplyScores):
                let q = useSoftmax ? softmax(selected.map { z[$0] }) : selected.map { z[$0] }
                for (k, e) in selected.enumerated() where counted { importance[l, default: [Double](repeating: 0, count: E)][e] += q[k] }
                weights = multiplyScores ? q.map { $0 * Double(moe.scoreScaleFactors[l]) } : q.map { _ in 1 }
            }
            if case .softmaxThenTopK = moe.routing, counted, routed == nil {
                for (k, e) in selected.enumerated() { importance[l, default: [Double](repeating: 0, count: E)][e] += weights[k] }
            }
            var y = [Double](repeating: 0, count: D)
            for (k, e) in selected.enumerated() {
                let ye = swiglu(h, m.experts[e])
                for i in 0..<D { y[i] += weights[k] * ye[i] }
            }
            if let shared = m.shared {
                let ys = swiglu(h, shared)
                let g = m.sharedGate.map { 1 / (1 + exp(-linear(h, $0, nil)[0])) } ?? 1
                for i in 0..<D { y[i] += g * ys[i] }
            }
            return y
        }
        var total = 0.0
        var rowBase = 0
        for tokens in sequences {
            let T = tokens.count
            var xs = tokens.map { t in (0..<D).map { p[layout.embedding.offset + Int(t) * D + $0] } }
            for (l, lp) in layout.layers.enumerated() {
                var qs: [[Double]] = [], ks: [[Double]] = [], vs: [[Double]] = []
                for t in 0..<T {
                    let h = rmsnorm(xs[t], lp.inputNorm)
                    var q = groupNorm(linear(h, lp.q, lp.qBias), lp.qNorm), k = groupNorm(linear(h, lp.k, lp.kBias), lp.kNorm)
                    rope(&q, heads: H, position: t)
                    rope(&k, heads: Hkv, position: t)
                    qs.append(q); ks.append(k); vs.append(linear(h, lp.v, lp.vBias))
                }
                for t in 0..<T {
                    var att = [Double](repeating: 0, count: H * hd)
                    for h in 0..<H {
                        let g = h / group
                        let scores = (0...t).map { j in
                            (0..<hd).reduce(0.0) { $0 + qs[t][h * hd + $1] * ks[j][g * hd + $1] } / Double(hd).squareRoot()
                        }
                        let top = scores.max()!
                        let e = scores.map { exp($0 - top) }
                        let z = e.reduce(0, +)
                        for j in 0...t {
                            for i in 0..<hd { att[h * hd + i] += e[j] / z * vs[j][g * hd + i] }
                        }
                    }
                    let o = linear(att, lp.o, lp.oBias)
                    for i in 0..<D { xs[t][i] += o[i] }
                }
                for t in 0..<T {
                    let h = rmsnorm(xs[t], lp.postAttentionNorm)
                    let y: [Double]
                    switch lp.ffn {
                    case .dense(let f):
                        let gate = linear(h, f.gate, nil), up = linear(h, f.up, nil)
                        var a = (0..<f.width).map { gate[$0] / (1 + exp(-gate[$0])) * up[$0] }
                        if let nudge, nudge.layer == l, nudge.row == rowBase + t { a[nudge.neuron] += nudge.delta }
                        y = linear(a, f.down, nil)
                    case .moe(let m):
                        y = moeFFN(h, m, layer: l, row: rowBase + t, counted: t + 1 < T)
                    }
                    for i in 0..<D { xs[t][i] += y[i] }
                }
            }
            var sequenceLoss = 0.0
            for t in 0..<(T - 1) {
                let logits = linear(rmsnorm(xs[t], layout.finalNorm), layout.lmHead, nil)
                let top = logits.max()!
                let lse = top + log(logits.reduce(0) { $0 + exp($1 - top) })
                sequenceLoss += lse - logits[Int(tokens[t + 1])]
                if let teacher {
                    // a·τ²·KL(softmax(t/τ) ‖ softmax(z/τ)) at this position.
                    let tau = teacher.temperature
                    let row = Array(teacher.logits[((rowBase + t) * V)..<((rowBase + t + 1) * V)]).map { $0 / tau }
                    let student = logits.map { $0 / tau }
                    func logSoftmax(_ v: [Double]) -> [Double] {
                        let top = v.max()!, lse = top + log(v.reduce(0) { $0 + exp($1 - top) })
                        return v.map { $0 - lse }
                    }
                    let logP = logSoftmax(row), logQ = logSoftmax(student)
                    let kl = zip(logP, logQ).reduce(0) { $0 + exp($1.0) * ($1.0 - $1.1) }
                    sequenceLoss += teacher.coefficient * tau * tau * kl
                }
            }
            switch reduction {
            case .tokenMean: total += sequenceLoss / Double(predicted)
            case .sequenceMean: total += sequenceLoss / Double(T - 1) / Double(sequences.count)
            }
            rowBase += T
        }
        _ = V
        // Auxiliary losses, straight from their definitions (N = rows that predict a token, S = MoE layers).
        let S = Double(counts.count), N = Double(predicted), K = Double(c.moe?.expertsPerToken ?? 0)
        if S > 0 && (routerLosses.loadBalancing != 0 || routerLosses.zLoss != 0) {
            var lb = 0.0
            switch routerLosses.loadBalancingStyle {
            case .hf:
                for e in 0..<E {
                    let f = counts.values.reduce(0) { $0 + $1[e] } / (S * N)
                    let prob = probabilitySums.values.reduce(0) { $0 + $1[e] } / (S * N)
                    lb += Double(E) * f * prob
                }
            case .megablocks:
                for (l, layerCounts) in counts {
                    for e in 0..<E { lb += Double(E) / K * (layerCounts[e] / N) * (probabilitySums[l]![e] / N) / S }
                }
            case .llamaMoE:
                // CV²(v) = var(v) / (mean² + 1e-10), var unbiased; summed over layers.
                func cv2(_ v: [Double]) -> Double {
                    let mean = v.reduce(0, +) / Double(v.count)
                    return v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1) / (mean * mean + 1e-10)
                }
                for (l, layerCounts) in counts { lb += cv2(importance[l]!) + cv2(layerCounts) }
            }
            let zLoss = squaredLSE.values.reduce(0, +) / (S * N)
            total += Double(routerLosses.loadBalancing) * lb + Double(routerLosses.zLoss) * zLoss
        }
        return total
    }
}

extension BackwardFixtures {
    static func reference(_ model: LanguageModel) -> ReferenceLlama {
        ReferenceLlama(config: model.config, layout: model.parameters.layout)
    }
}

@Suite("Backward reference model")
struct BackwardReferenceTests {
    /// The loss from the runtime's own logits (log-softmax in Double), the independent Double reference, and the
    /// backward pass must agree: the fused LM head + cross-entropy computes the same loss as the forward pass.
    @Test("loss agrees with log-softmax of model.logits and with the Double reference", arguments: [false, true])
    func lossAgrees(tied: Bool) throws {
        Matmul.useSingleThreadedBLAS()
        let model = try BackwardFixtures.model(tied: tied)
        let sequences = BackwardFixtures.sequences
        var fromLogits = 0.0, predicted = 0
        for s in sequences {
            let logits = try model.logits(s)
            let V = model.config.vocabularySize
            for t in 0..<(s.count - 1) {
                let row = (0..<V).map { Double(logits.values[t * V + $0]) }
                let top = row.max()!
                fromLogits += top + log(row.reduce(0) { $0 + exp($1 - top) }) - row[Int(s[t + 1])]
                predicted += 1
            }
        }
        fromLogits /= Double(predicted)
        let reference = BackwardFixtures.reference(model).loss(model.parameters.values.map(Double.init), sequences)
        var gradients: [Float] = []
        let loss = try model.lossAndGradients(sequences, gradients: &gradients)
        #expect(abs(reference - fromLogits) / fromLogits < 1e-5, "reference \(reference) vs logits \(fromLogits)")
        #expect(abs(Double(loss) - fromLogits) / fromLogits < 1e-5, "backward \(loss) vs logits \(fromLogits)")
    }
}
