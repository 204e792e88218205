import Foundation
import TensorCore

// Routed and shared experts of an MoE layer (transformers `MixtralSparseMoeBlock`, `Qwen2MoeSparseMoeBlock`):
// tokens are grouped by expert, each expert runs once on its gathered rows with BLAS, and the weighted outputs are
// scattered back. Everything a backward pass needs stays in the layer's slot of the workspace.

/// One MoE layer's storage in a `Workspace` (its slot of the activation table).
package struct MoEActivations {
    /// Router: logits z, LLaMA-MoE's tanh hidden layer, probabilities [N, E]; selected experts and weights [N, K].
    package let routerLogits: UnsafeMutablePointer<Float>
    package let routerHidden: UnsafeMutablePointer<Float>
    package let probabilities: UnsafeMutablePointer<Float>
    /// SparseMixer-v2's second-step masked softmax π' [N, E] (empty unless the table reserves it).
    package let secondProbabilities: UnsafeMutablePointer<Float>
    package let selected: UnsafeMutablePointer<Int32>
    package let weights: UnsafeMutablePointer<Float>
    /// Dispatch: token row of each grouped slot [N·K], its routing weight [N·K], group boundaries [E + 1]
    /// (expert e owns grouped slots offsets[e] ..< offsets[e + 1]), fill cursor [E].
    package let rows: UnsafeMutablePointer<Int32>
    package let rowWeights: UnsafeMutablePointer<Float>
    package let offsets: UnsafeMutablePointer<Int32>
    package let cursor: UnsafeMutablePointer<Int32>
    /// Widest expert Fe: expert e's rows start at offsets[e]·2·Fe in `gateUp` and offsets[e]·Fe in `act`.
    package let expertWidth: Int
    /// Per grouped slot: expert input [N·K, D], gate | up, activation, unweighted output [N·K, D].
    package let inputs: UnsafeMutablePointer<Float>
    package let gateUp: UnsafeMutablePointer<Float>
    package let act: UnsafeMutablePointer<Float>
    package let outputs: UnsafeMutablePointer<Float>
    /// Shared expert: gate | up [N, 2·Fs], activation [N, Fs], output [N, D], gate logit [N].
    package let sharedGateUp: UnsafeMutablePointer<Float>
    package let sharedAct: UnsafeMutablePointer<Float>
    package let sharedOutput: UnsafeMutablePointer<Float>
    package let sharedGateLogit: UnsafeMutablePointer<Float>
}

/// Groups the N·K (token, expert) pairs of `a.selected` by expert (a stable counting sort: within an expert,
/// tokens keep their order) into `a.rows`, `a.rowWeights` and `a.offsets`.
package func expertDispatch(_ a: MoEActivations, rows N: Int, experts E: Int, perToken K: Int) {
    for e in 0...E { a.offsets[e] = 0 }
    for i in 0..<(N * K) { a.offsets[Int(a.selected[i]) + 1] += 1 }
    for e in 0..<E { a.offsets[e + 1] += a.offsets[e] }
    for e in 0..<E { a.cursor[e] = 0 }
    for n in 0..<N {
        for k in 0..<K {
            let e = Int(a.selected[n * K + k])
            let slot = Int(a.offsets[e] + a.cursor[e])
            a.cursor[e] += 1
            a.rows[slot] = Int32(n)
            a.rowWeights[slot] = a.weights[n * K + k]
        }
    }
}

/// MoE FFN forward after `routerForward`: out += Σ_k weight_k · expert_k(x) (+ the shared expert, gated by
/// sigmoid(g·x) when it has a gate).
/// - Parameters: out [N, D] (accumulated into); x [N, D] (normalised FFN input).
package func expertsForward(
    _ a: MoEActivations, out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows N: Int, width D: Int,
    perToken K: Int, p: MoEParameters, parameters w: UnsafePointer<Float>
) {
    let E = p.experts.count, Fe = a.expertWidth
    expertDispatch(a, rows: N, experts: E, perToken: K)
    for e in 0..<E {
        let first = Int(a.offsets[e]), count = Int(a.offsets[e + 1]) - first
        guard count > 0 else { continue }
        let inputs = a.inputs + first * D, outputs = a.outputs + first * D
        for i in 0..<count {
            (inputs + i * D).update(from: x + Int(a.rows[first + i]) * D, count: D)
        }
        feedForward(
            out: outputs, x: inputs, rows: count, width: D, p: p.experts[e], weights: w, gateUp: a.gateUp + first * 2 * Fe,
            act: a.act + first * Fe, accumulate: false)
        for i in 0..<count {
            let dst = out + Int(a.rows[first + i]) &* D
            let src = outputs + i &* D
            let weight = a.rowWeights[first + i]
            for j in 0..<D { dst[j] += weight * src[j] }
        }
    }
    if let shared = p.shared {
        feedForward(
            out: a.sharedOutput, x: x, rows: N, width: D, p: shared, weights: w, gateUp: a.sharedGateUp, act: a.sharedAct,
            accumulate: false)
        for n in 0..<N {
            var g: Float = 1
            if let sharedGate = p.sharedGate {
                var dot: Float = 0
                let row = x + n &* D
                let gw = w + sharedGate.offset
                for j in 0..<D { dot += row[j] * gw[j] }
                a.sharedGateLogit[n] = dot
                g = sigmoid(dot)
            }
            let dst = out + n &* D
            let src = a.sharedOutput + n &* D
            for j in 0..<D { dst[j] += g * src[j] }
        }
    }
}

/// Scratch of one MoE layer's backward (reused by every layer): per grouped slot the weighted output gradient and
/// then the input gradient [N·K, D], the activation and gate | up gradients; per (token, k) the routing-weight
/// gradient [N·K]; the shared expert's output gradient [N, D] and its activation / gate | up gradients.
package struct MoEGradientScratch {
    package let slotGradient: UnsafeMutablePointer<Float>
    package let dAct: UnsafeMutablePointer<Float>
    package let dGateUp: UnsafeMutablePointer<Float>
    package let dWeights: UnsafeMutablePointer<Float>
    package let dLogits: UnsafeMutablePointer<Float>
    package let dHidden: UnsafeMutablePointer<Float>
    package let sharedGradient: UnsafeMutablePointer<Float>
    package let sharedDAct: UnsafeMutablePointer<Float>
    package let sharedDGateUp: UnsafeMutablePointer<Float>
    /// Full router softmax [N, E] and logsumexp [N] for the auxiliary losses.
    package let auxProbabilities: UnsafeMutablePointer<Float>
    package let logSumExp: UnsafeMutablePointer<Float>
}

/// Backward of `expertsForward` from dOut [N, D] (gradient of the layer's FFN output): adds ∂L/∂x through every
/// expert and the shared expert to dX [N, D], the expert weight gradients to `gradients`, and writes the gradient of
/// each routing weight to `s.dWeights` [N, K] (same (token, k) order as `a.selected`) for `routerBackward`.
///
/// Per expert, the gradient rows are gathered (weight · dOut of its tokens), the expert's FFN backward runs as
/// GEMMs over its tokens, and the input gradients are scattered back; dw = dOut · y with y the unweighted expert
/// output kept by the forward.
package func expertsBackward(
    _ a: MoEActivations, _ s: MoEGradientScratch, dX: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
    x: UnsafePointer<Float>, rows N: Int, width D: Int, perToken K: Int, p: MoEParameters, parameters w: UnsafePointer<Float>,
    gradients g: UnsafeMutablePointer<Float>?
) {
    let E = p.experts.count, Fe = a.expertWidth
    // Routing-weight gradient dw_{n,k} = dOut_n · y_slot, with the slot of (n, k) found as the dispatch assigned it
    // (in (token, k) order within each expert).
    for e in 0..<E { a.cursor[e] = 0 }
    for n in 0..<N {
        let dy = dOut + n * D
        for k in 0..<K {
            let e = Int(a.selected[n * K + k])
            let slot = Int(a.offsets[e] + a.cursor[e])
            a.cursor[e] += 1
            let y = a.outputs + slot * D
            var dot: Float = 0
            for j in 0..<D { dot += dy[j] * y[j] }
            s.dWeights[n * K + k] = dot
        }
    }
    for e in 0..<E {
        let first = Int(a.offsets[e]), count = Int(a.offsets[e + 1]) - first
        guard count > 0 else { continue }
        let slots = s.slotGradient + first * D
        for i in 0..<count {
            let n = Int(a.rows[first + i])
            let dy = dOut + n * D, weight = a.rowWeights[first + i]
            let dst = slots + i * D
            for j in 0..<D { dst[j] = weight * dy[j] }
        }
        // Expert FFN backward over its tokens; its input gradient overwrites the gathered rows.
        feedForwardBackward(
            dX: slots, accumulateInput: false, dOut: slots, x: a.inputs + first * D, rows: count, width: D,
            p: p.experts[e], weights: w, gradients: g, gateUp: a.gateUp + first * 2 * Fe, act: a.act + first * Fe,
            dGateUp: s.dGateUp + first * 2 * Fe, dAct: s.dAct + first * Fe)
        for i in 0..<count {
            let dst = dX + Int(a.rows[first + i]) * D, src = slots + i * D
            for j in 0..<D { dst[j] += src[j] }
        }
    }
    if let shared = p.shared {
        // out += σ(u·x) · y_shared: dy = σ · dOut; du·x gradient dσ = dOut · y_shared, dz = dσ · σ(1 − σ).
        for n in 0..<N {
            let dy = dOut + n * D, y = a.sharedOutput + n * D, dst = s.sharedGradient + n * D
            guard let gate = p.sharedGate else {
                dst.update(from: dy, count: D)
                continue
            }
            let sigma = sigmoid(a.sharedGateLogit[n])  // as the forward computed it
            var dot: Float = 0
            for j in 0..<D {
                dot += dy[j] * y[j]
                dst[j] = sigma * dy[j]
            }
            let dz = dot * sigma * (1 - sigma)
            let u = w + gate.offset, xn = x + n * D, dxn = dX + n * D
            for j in 0..<D { dxn[j] += dz * u[j] }
            if let g {
                let du = g + gate.offset
                for j in 0..<D { du[j] += dz * xn[j] }
            }
        }
        feedForwardBackward(
            dX: dX, accumulateInput: true, dOut: s.sharedGradient, x: x, rows: N, width: D, p: shared, weights: w,
            gradients: g, gateUp: a.sharedGateUp, act: a.sharedAct, dGateUp: s.sharedDGateUp, dAct: s.sharedDAct)
    }
}
