import Foundation
import Formats
import Runtime
import TensorCore
import TestSupport
import Testing

/// A plain, loop-by-loop Double-precision dense LLaMA forward pass plus next-token cross-entropy, written
/// independently of the runtime's kernels: the function the finite-difference checks differentiate.
struct ReferenceLlama {
    let config: ModelConfig
    let layout: ParameterLayout

    /// Where to add `delta` to the FFN activation a (layer, row of the batch, neuron) before down_proj.
    struct ActivationNudge {
        let layer: Int, row: Int, neuron: Int, delta: Double
    }

    /// The loss of `sequences` under `parameters` (a flat buffer in `layout`).
    func loss(
        _ p: [Double], _ sequences: [[Int32]], reduction: LossReduction = .tokenMean, nudge: ActivationNudge? = nil
    ) -> Double {
        let c = config
        let D = c.hiddenSize, H = c.headCount, Hkv = c.kvHeadCount, hd = c.headDim, F = c.intermediateSize
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
        var total = 0.0
        var rowBase = 0
        for tokens in sequences {
            let T = tokens.count
            var xs = tokens.map { t in (0..<D).map { p[layout.embedding.offset + Int(t) * D + $0] } }
            for (l, lp) in layout.layers.enumerated() {
                guard case .dense(let f) = lp.ffn else { fatalError("dense only") }
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
                    let gate = linear(h, f.gate, nil), up = linear(h, f.up, nil)
                    var a = (0..<F).map { gate[$0] / (1 + exp(-gate[$0])) * up[$0] }
                    if let nudge, nudge.layer == l, nudge.row == rowBase + t { a[nudge.neuron] += nudge.delta }
                    let y = linear(a, f.down, nil)
                    for i in 0..<D { xs[t][i] += y[i] }
                }
            }
            var sequenceLoss = 0.0
            for t in 0..<(T - 1) {
                let logits = linear(rmsnorm(xs[t], layout.finalNorm), layout.lmHead, nil)
                let top = logits.max()!
                let lse = top + log(logits.reduce(0) { $0 + exp($1 - top) })
                sequenceLoss += lse - logits[Int(tokens[t + 1])]
            }
            switch reduction {
            case .tokenMean: total += sequenceLoss / Double(predicted)
            case .sequenceMean: total += sequenceLoss / Double(T - 1) / Double(sequences.count)
            }
            rowBase += T
        }
        _ = V
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
