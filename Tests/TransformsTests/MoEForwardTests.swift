import Conversion
import Foundation
import TensorCore
import Testing
import Transforms

/// `MoEFFN.forward` (the runtime's MoE kernels) against a per-token computation written independently here.
@Suite("MoE forward against an independent per-token computation")
struct MoEForwardTests {
    /// Independent routing: sort experts by (−logit, index), take k, weights per mode, in Double.
    static func weights(_ logits: [Double], k: Int, mode: ExpertRouting) -> [(Int, Double)] {
        let order = logits.indices.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
        let top = Array(order.prefix(k))
        switch mode {
        case .topKThenSoftmax(_, multiplyScores: false):
            return top.map { ($0, 1) }
        case .topKThenSoftmax(softmax: false, multiplyScores: true):
            return top.map { ($0, logits[$0]) }
        case .topKThenSoftmax(softmax: true, multiplyScores: true):
            let m = top.map { logits[$0] }.max()!
            let z = top.map { exp(logits[$0] - m) }.reduce(0, +)
            return top.map { ($0, exp(logits[$0] - m) / z) }
        case let .softmaxThenTopK(renormalize):
            let m = logits.max()!
            let z = logits.map { exp($0 - m) }.reduce(0, +)
            var w = top.map { exp(logits[$0] - m) / z }
            if renormalize {
                let s = w.reduce(0, +)
                w = w.map { $0 / s }
            }
            return zip(top, w).map { ($0, $1) }
        }
    }

    @Test(
        "forward = Σ routed weight · scale · expert + sigmoid-gated shared + bias",
        arguments: [ExpertRouting.softmaxThenTopK(renormalize: true), .softmaxThenTopK(renormalize: false), .topKSoftmax, .unitWeights])
    func matchesIndependentComputation(mode: ExpertRouting) throws {
        let h = 8
        let t = 9
        let widths = [3, 5, 4, 6]
        let experts = try widths.enumerated().map { e, w in
            try Expert(
                gate: Fixtures.tensor([w, h], seed: 10 + UInt64(e) * 3, scale: 0.5),
                up: Fixtures.tensor([w, h], seed: 11 + UInt64(e) * 3, scale: 0.5),
                down: Fixtures.tensor([h, w], seed: 12 + UInt64(e) * 3, scale: 0.5))
        }
        let shared = try Expert(
            gate: Fixtures.tensor([4, h], seed: 90, scale: 0.5), up: Fixtures.tensor([4, h], seed: 91, scale: 0.5),
            down: Fixtures.tensor([h, 4], seed: 92, scale: 0.5))
        let router = Fixtures.tensor([4, h], seed: 7, scale: 1)
        let sharedGate = Fixtures.tensor([1, h], seed: 8, scale: 1)
        let bias = Fixtures.tensor([h], seed: 9, scale: 0.1).values
        let scales: [Float] = [1, 0.5, 2, 1.5]
        let moe = try MoEFFN(
            router: router, experts: experts, sharedExperts: [shared], sharedGate: sharedGate, expertScales: scales,
            scoreScale: 1.25, outputBias: bias, topK: 2, routing: mode)
        let x = Fixtures.tensor([t, h], seed: 5, scale: 1)
        let got = moe.forward(x).values

        var expected = [Double](repeating: 0, count: t * h)
        let expertOut = experts.map { Fixtures.naive($0, x) }
        let sharedOut = Fixtures.naive(shared, x)
        for token in 0..<t {
            let xs = (0..<h).map { Double(x.values[token * h + $0]) }
            let logits = (0..<4).map { e in (0..<h).reduce(0.0) { $0 + Double(router.values[e * h + $1]) * xs[$1] } }
            let z = (0..<h).reduce(0.0) { $0 + Double(sharedGate.values[$1]) * xs[$1] }
            let g = 1 / (1 + exp(-z))
            for o in 0..<h {
                var y = Double(bias[o]) + g * sharedOut[token * h + o]
                for (e, w) in Self.weights(logits, k: 2, mode: mode) {
                    y += w * 1.25 * Double(scales[e]) * expertOut[e][token * h + o]
                }
                expected[token * h + o] = y
            }
        }
        #expect(Fixtures.maxAbsDiff(got, expected) <= 1e-5)
    }

    @Test("DenseFFN.forward matches the naive SwiGLU")
    func denseForward() {
        let d = Fixtures.dense(hidden: 16, intermediate: 40, seed: 3)
        let x = Fixtures.tensor([7, 16], seed: 4)
        #expect(Fixtures.maxAbsDiff(d.forward(x).values, Fixtures.naive(d, x)) <= 1e-5)
    }
}
