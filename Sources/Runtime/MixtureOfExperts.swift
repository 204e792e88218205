import Foundation
import Formats
import TensorCore

/// Router forward: logits z = W·x (or LLaMA-MoE's W2·tanh(W1·x)), then per token the selected experts and their
/// weights under `routing` (`scale`: the layer's LLaMA-MoE score scale factor).
/// - Parameters: logits [N, E]; hidden [N, E] (MLP gate only, tanh output, kept for backward); selected [N, K];
///   weights [N, K]; probabilities [N, E] (softmax over all experts for `softmaxThenTopK`, kept for backward and
///   load-balancing losses; zero elsewhere for top-k-then-softmax).
func moeRouterForward(
    logits: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>, probabilities: UnsafeMutablePointer<Float>,
    selected: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Float>,
    x: UnsafePointer<Float>, rows N: Int, width D: Int, experts E: Int, perToken K: Int,
    p: MoEParameters, parameters w: UnsafePointer<Float>, routing: ExpertRouting, scale: Float
) {
    if let second = p.router2 {
        linearForward(out: hidden, x: x, weight: w + p.router.offset, bias: nil, rows: N, inFeatures: D, outFeatures: E)
        for i in 0..<(N * E) { hidden[i] = Float(tanh(Double(hidden[i]))) }
        linearForward(out: logits, x: hidden, weight: w + second.offset, bias: nil, rows: N, inFeatures: E, outFeatures: E)
    } else {
        linearForward(out: logits, x: x, weight: w + p.router.offset, bias: nil, rows: N, inFeatures: D, outFeatures: E)
    }
    for n in 0..<N {
        let z = logits + n * E
        let prob = probabilities + n * E
        let sel = selected + n * K
        let wt = weights + n * K
        // Top K by logit (= by probability); ties go to the lower index.
        for k in 0..<K {
            var best = -1
            var bestValue = -Float.infinity
            for e in 0..<E {
                var taken = false
                for j in 0..<k where Int(sel[j]) == e { taken = true }
                if !taken && (best < 0 || z[e] > bestValue) {
                    best = e
                    bestValue = z[e]
                }
            }
            sel[k] = Int32(best)
        }
        switch routing {
        case .softmaxThenTopK(let normalize):
            prob.update(from: z, count: E)
            softmaxInPlace(prob, count: E)
            var sum: Float = 0
            for k in 0..<K {
                wt[k] = prob[Int(sel[k])]
                sum += wt[k]
            }
            if normalize { for k in 0..<K { wt[k] /= sum } }
        case .topKThenSoftmax(let softmax, let multiplyScores):
            prob.update(repeating: 0, count: E)
            for k in 0..<K { wt[k] = z[Int(sel[k])] }
            if softmax { softmaxInPlace(wt, count: K) }
            for k in 0..<K {
                prob[Int(sel[k])] = wt[k]
                wt[k] = multiplyScores ? wt[k] * scale : 1
            }
        }
    }
}

/// Scratch for one MoE layer's expert dispatch, carved out of the workspace.
struct MoEScratch {
    var rowsOfExpert: UnsafeMutablePointer<Int32>      // [N·K] token rows grouped by expert
    var weightsOfExpert: UnsafeMutablePointer<Float>   // [N·K]
    var counts: UnsafeMutablePointer<Int>              // [E + 1] prefix offsets
    var cursor: UnsafeMutablePointer<Int>              // [E] fill position per expert
    var gathered: UnsafeMutablePointer<Float>          // [N, D]
    var gateUp: UnsafeMutablePointer<Float>            // [N, 2·Fmax]
    var act: UnsafeMutablePointer<Float>               // [N, Fmax]
    var expertOut: UnsafeMutablePointer<Float>         // [N, D]
}

/// MoE FFN forward: out += Σ_k weight_k · expert_k(x) (+ shared expert, gated by sigmoid(g·x) when present).
///
/// Tokens are grouped by expert (counting sort), each expert runs once on its gathered rows with BLAS, and the
/// weighted outputs are scattered back: no per-token matrix-vector products.
/// - Parameters: out [N, D] (accumulated into); x [N, D] (normalised input); selected, weights [N, K] (router).
func moeExpertsForward(
    out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows N: Int, width D: Int, perToken K: Int,
    selected: UnsafePointer<Int32>, weights: UnsafePointer<Float>, p: MoEParameters, parameters w: UnsafePointer<Float>,
    scratch s: MoEScratch
) {
    let E = p.experts.count
    for e in 0...E { s.counts[e] = 0 }
    for i in 0..<(N * K) { s.counts[Int(selected[i]) + 1] += 1 }
    for e in 0..<E { s.counts[e + 1] += s.counts[e] }
    let cursor = s.cursor
    for e in 0..<E { cursor[e] = 0 }
    for n in 0..<N {
        for k in 0..<K {
            let e = Int(selected[n * K + k])
            let slot = s.counts[e] + cursor[e]
            cursor[e] += 1
            s.rowsOfExpert[slot] = Int32(n)
            s.weightsOfExpert[slot] = weights[n * K + k]
        }
    }
    for e in 0..<E {
        let first = s.counts[e], count = s.counts[e + 1] - first
        guard count > 0 else { continue }
        for i in 0..<count {
            (s.gathered + i * D).update(from: x + Int(s.rowsOfExpert[first + i]) * D, count: D)
        }
        feedForward(
            out: s.expertOut, x: s.gathered, rows: count, width: D, p: p.experts[e], weights: w, gateUp: s.gateUp, act: s.act, accumulate: false)
        for i in 0..<count {
            let dst = out + Int(s.rowsOfExpert[first + i]) &* D
            let src = s.expertOut + i &* D
            let weight = s.weightsOfExpert[first + i]
            for j in 0..<D { dst[j] += weight * src[j] }
        }
    }
    if let shared = p.shared {
        feedForward(
            out: s.expertOut, x: x, rows: N, width: D, p: shared, weights: w, gateUp: s.gateUp, act: s.act,
            accumulate: false)
        for n in 0..<N {
            var g: Float = 1
            if let sharedGate = p.sharedGate {
                var dot: Float = 0
                let row = x + n &* D
                let gw = w + sharedGate.offset
                for j in 0..<D { dot += row[j] * gw[j] }
                g = sigmoid(dot)
            }
            let dst = out + n &* D
            let src = s.expertOut + n &* D
            for j in 0..<D { dst[j] += g * src[j] }
        }
    }
}
