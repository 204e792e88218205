import Conversion
import Foundation
import TensorCore

// The MoE router: logits z = W·x (or LLaMA-MoE's MLP gate W2·tanh(W1·x)), then each token's K experts and their
// weights under the layer's `ExpertRouting`. transformers `MixtralSparseMoeBlock` / `Qwen2MoeSparseMoeBlock` /
// `OlmoeSparseMoeBlock`; LLaMA-MoE `TopKBalancedNoisyGate` (pjlab-sys4nlp/llama-moe, `smoe/modules/moe/moe_gates.py`).

extension ExpertRouting {
    /// Selects the top `K` of one token's `E` logits `z` (ties: lower expert index first) and writes their ids to
    /// `selected` [K] and weights to `weights` [K] (times `scale` where the routing multiplies scores);
    /// `probabilities` [E] receives the full softmax for `softmaxThenTopK` (kept for backward and load-balancing
    /// losses) and the selected experts' pre-scale weights, zero elsewhere, for `topKThenSoftmax`.
    public func route(
        logits z: UnsafePointer<Float>, experts E: Int, topK K: Int, scale: Float, selected: UnsafeMutablePointer<Int32>,
        weights: UnsafeMutablePointer<Float>, probabilities: UnsafeMutablePointer<Float>
    ) {
        for k in 0..<K {
            var best = -1
            var bestValue = -Float.infinity
            for e in 0..<E {
                var taken = false
                for j in 0..<k where Int(selected[j]) == e { taken = true }
                if !taken && (best < 0 || z[e] > bestValue) {
                    best = e
                    bestValue = z[e]
                }
            }
            selected[k] = Int32(best)
        }
        switch self {
        case .softmaxThenTopK(let renormalize):
            probabilities.update(from: z, count: E)
            softmaxInPlace(probabilities, count: E)
            var sum: Float = 0
            for k in 0..<K {
                weights[k] = probabilities[Int(selected[k])]
                sum += weights[k]
            }
            if renormalize { for k in 0..<K { weights[k] /= sum } }
        case .topKThenSoftmax(let softmax, let multiplyScores):
            probabilities.update(repeating: 0, count: E)
            for k in 0..<K { weights[k] = z[Int(selected[k])] }
            if softmax { softmaxInPlace(weights, count: K) }
            for k in 0..<K {
                probabilities[Int(selected[k])] = weights[k]
                weights[k] = multiplyScores ? weights[k] * scale : 1
            }
        }
    }
}

/// Router forward over N rows into layer storage `a` (logits, MLP-gate hidden, probabilities, selected, weights).
/// - Parameters: x [N, D] (normalised FFN input); `scale`: the layer's LLaMA-MoE score scale factor.
package func routerForward(
    _ a: MoEActivations, x: UnsafePointer<Float>, rows N: Int, width D: Int, experts E: Int, perToken K: Int,
    p: MoEParameters, parameters w: UnsafePointer<Float>, routing: ExpertRouting, scale: Float
) {
    if let second = p.router2 {
        linearForward(out: a.routerHidden, x: x, weight: w + p.router.offset, bias: nil, rows: N, inFeatures: D, outFeatures: E)
        for i in 0..<(N * E) { a.routerHidden[i] = Float(tanh(Double(a.routerHidden[i]))) }
        linearForward(out: a.routerLogits, x: a.routerHidden, weight: w + second.offset, bias: nil, rows: N, inFeatures: E, outFeatures: E)
    } else {
        linearForward(out: a.routerLogits, x: x, weight: w + p.router.offset, bias: nil, rows: N, inFeatures: D, outFeatures: E)
    }
    for n in 0..<N {
        routing.route(
            logits: a.routerLogits + n * E, experts: E, topK: K, scale: scale, selected: a.selected + n * K,
            weights: a.weights + n * K, probabilities: a.probabilities + n * E)
    }
}

/// Backward of `routerForward`: from the routing-weight gradients dWeights [N, K] to the logits (the top-K
/// selection is piecewise constant and passes no gradient), then through the router into dX [N, D] (added) and the
/// router weights (added to `gradients`).
///
/// Logit gradients per routing:
/// - softmax → top-K, not renormalised: w_k = p_{s_k}, so dz = p ⊙ (dp − ⟨p, dp⟩) with dp scattered from dw;
/// - softmax → top-K, renormalised: w = softmax(z_S) over the selected logits, dz_S = w ⊙ (dw − ⟨w, dw⟩), 0 elsewhere;
/// - top-K → softmax × scale: q = softmax(z_S), w = scale·q: dz_S = q ⊙ (scale·dw − ⟨q, scale·dw⟩);
///   without softmax w = scale·z_S: dz_S = scale·dw; with `multiplyScores` false the weights are constant 1.
/// - Parameters: dLogits [N, E] and, for the MLP gate, dHidden [N, E] are scratch; `addLogitGradients` adds the
///   auxiliary losses' ∂/∂z to dLogits before it flows into the router.
package func routerBackward(
    _ a: MoEActivations, dWeights: UnsafePointer<Float>, dLogits: UnsafeMutablePointer<Float>, dHidden: UnsafeMutablePointer<Float>,
    dX: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows N: Int, width D: Int, experts E: Int, perToken K: Int,
    p: MoEParameters, parameters w: UnsafePointer<Float>, gradients g: UnsafeMutablePointer<Float>?, routing: ExpertRouting,
    scale: Float, addLogitGradients: ((UnsafeMutablePointer<Float>) -> Void)? = nil
) {
    for n in 0..<N {
        let dz = dLogits + n * E, dw = dWeights + n * K, sel = a.selected + n * K
        dz.update(repeating: 0, count: E)
        switch routing {
        case .softmaxThenTopK(let renormalize):
            if renormalize {
                let wt = a.weights + n * K
                var inner: Float = 0
                for k in 0..<K { inner += wt[k] * dw[k] }
                for k in 0..<K { dz[Int(sel[k])] = wt[k] * (dw[k] - inner) }
            } else {
                let prob = a.probabilities + n * E
                var inner: Float = 0
                for k in 0..<K { inner += prob[Int(sel[k])] * dw[k] }
                for e in 0..<E { dz[e] = -prob[e] * inner }
                for k in 0..<K { dz[Int(sel[k])] += prob[Int(sel[k])] * dw[k] }
            }
        case .topKThenSoftmax(let softmax, let multiplyScores):
            guard multiplyScores else { continue }
            if softmax {
                // probabilities holds q at the selected experts.
                let prob = a.probabilities + n * E
                var inner: Float = 0
                for k in 0..<K { inner += prob[Int(sel[k])] * scale * dw[k] }
                for k in 0..<K { dz[Int(sel[k])] = prob[Int(sel[k])] * (scale * dw[k] - inner) }
            } else {
                for k in 0..<K { dz[Int(sel[k])] = scale * dw[k] }
            }
        }
    }
    // Auxiliary losses (load balancing, z-loss) act on the logits directly.
    addLogitGradients?(dLogits)
    if let second = p.router2 {
        // z = W2 · h, h = tanh(W1 · x).
        linearBackward(
            dX: dHidden, dWeight: g.map { $0 + second.offset }, dOut: dLogits, x: a.routerHidden, weight: w + second.offset,
            rows: N, inFeatures: E, outFeatures: E)
        for i in 0..<(N * E) { dHidden[i] *= 1 - a.routerHidden[i] * a.routerHidden[i] }
        linearBackward(
            dX: dX, dWeight: g.map { $0 + p.router.offset }, dOut: dHidden, x: x, weight: w + p.router.offset, rows: N,
            inFeatures: D, outFeatures: E, accumulateInput: true)
    } else {
        linearBackward(
            dX: dX, dWeight: g.map { $0 + p.router.offset }, dOut: dLogits, x: x, weight: w + p.router.offset, rows: N,
            inFeatures: D, outFeatures: E, accumulateInput: true)
    }
}
