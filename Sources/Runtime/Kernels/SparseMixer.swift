import Foundation
import TensorCore

// SparseMixer-v2, the router estimator GRIN MoE and Phi-3.5-MoE were trained with (Liu et al., "GRIN: GRadient-
// INformed MoE", arXiv 2409.12136, Appendix A; microsoft/SparseMixer `sparsemixer/sparsemixer_v2.py` (`v2core`,
// `sparsemixerv2_routing`); microsoft/GRIN-MoE; transformers `models/phimoe/modeling_phimoe.py` (`sparsemixer`,
// `MultiplierProcessor`)). Training forward and backward of the top-2 routing, side by side; evaluation keeps the
// model's own top-K (`routerForward`).
//
// Forward, per token with logits z [E], step s = 1, 2 (step 2 first removes step 1's expert D1 from the candidates):
//   z* = max of the candidates, j* its index (lowest on ties);
//   candidate j is masked iff (z* − z_j) / max(|z_j|, z*) > 2ε (the upstream clamp form, original z_j);
//   π = softmax over the unmasked candidates (0 elsewhere);
//   D = argmax_j (z_j − log e_j) over the unmasked, e_j ~ Exp(1) (Gumbel-max: an exact sample of π);
//   c = 1 if D == j* or u > 0.75 with u ~ U(0, 1), else 1/3 — upstream's 0.3333 + 0.6667·[·] in Float;
//   weight_s = c · π_D (the two weights are not renormalised).
// Backward (`MultiplierProcessor.backward` / `v2core.backward`), G = ∂L/∂weight_s:
//   ∂L/∂z_j += G · π_D · (δ_{jD} − π_j), the softmax Jacobian of π_D without c; nothing flows through c, the
//   sampling or the mask. The experts get the ordinary gradient of c·π_D·FFN_D(x) (the shipped code; the paper's
//   Algorithm 1 would leave them unscaled).

/// SparseMixer-v2's Heun multipliers, exactly as upstream builds them (`torch.add(0.3333, mask, alpha=0.6667)` in
/// float32): the weight of an expert that is not the step's argmax and lost the u > 0.75 draw, and of the others.
package let sparseMixerHeunThird: Float = 0.3333
package let sparseMixerHeunOne: Float = Float(0.3333) + Float(0.6667)

/// SplitMix64's finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mix.
@inline(__always) package func splitMix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The random draws of one MoE layer in one SparseMixer pass: counter-based, a pure function of (seed, pass, layer,
/// row, slot) — no generator state, so routing is the same whatever the order or thread rows are routed in.
///
/// Row n of the batch uses slots s·(E + 1) + j for step s ∈ {0, 1}: j < E is expert j's Exp(1) variate
/// (−log u), j = E the Heun coin u.
package struct SparseMixerDraws: Sendable {
    /// Hash of (seed, pass, layer).
    package let key: UInt64

    package init(seed: UInt64, pass: UInt64, layer: Int) {
        key = splitMix64(splitMix64(splitMix64(seed) ^ pass) ^ UInt64(layer))
    }

    /// Key of row `row`: every draw of the row hashes it with its slot.
    @inline(__always) package func rowKey(_ row: Int) -> UInt64 { splitMix64(key ^ UInt64(row)) }

    /// Slot of step `step`'s draw `j` (an expert, or `experts` for the Heun coin).
    @inline(__always) package static func slot(step: Int, _ j: Int, experts E: Int) -> Int { step * (E + 1) + j }

    /// The uniform of `slot` in the row keyed `rowKey`: 53 random bits, strictly inside (0, 1).
    @inline(__always) package static func uniform(rowKey: UInt64, slot: Int) -> Double {
        (Double(splitMix64(rowKey ^ UInt64(slot)) >> 11) + 0.5) * 0x1p-53
    }

    /// The uniform of `slot` in row `row`.
    package func uniform(row: Int, slot: Int) -> Double { Self.uniform(rowKey: rowKey(row), slot: slot) }
}

/// SparseMixer-v2's training routing of one token: samples D1 then D2 (see the file header) and writes them to
/// `selected` [2], their weights c·π_D to `weights` [2], the masked softmaxes π to `first` [E] and π' to `second` [E].
/// - Parameters: z [E] router logits; `epsilon` the jitter ε; `draws` and `row` pick the random variates.
package func sparseMixerRoute(
    logits z: UnsafePointer<Float>, experts E: Int, epsilon: Float, draws: SparseMixerDraws, row: Int,
    selected: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Float>, first: UnsafeMutablePointer<Float>,
    second: UnsafeMutablePointer<Float>
) {
    let rowKey = draws.rowKey(row)
    let threshold = 2 * epsilon
    var excluded = -1
    for step in 0..<2 {
        let pi = step == 0 ? first : second
        // z* and j* over the candidates.
        var best = -1
        var top = -Float.infinity
        for j in 0..<E where j != excluded && (best < 0 || z[j] > top) {
            best = j
            top = z[j]
        }
        // Sparsity mask, then the masked softmax's numerators (the kept maximum is z* itself) and a Gumbel-max draw.
        var sum: Float = 0
        var chosen = -1
        var chosenScore = -Double.infinity
        for j in 0..<E {
            let masked = j == excluded || (top - z[j]) / max(abs(z[j]), top) > threshold
            if masked {
                pi[j] = 0
                continue
            }
            pi[j] = exp(z[j] - top)
            sum += pi[j]
            let u = SparseMixerDraws.uniform(rowKey: rowKey, slot: SparseMixerDraws.slot(step: step, j, experts: E))
            let score = Double(z[j]) - log(-log(u))
            if chosen < 0 || score > chosenScore {
                chosen = j
                chosenScore = score
            }
        }
        let inverse = 1 / sum
        for j in 0..<E { pi[j] *= inverse }
        let coin = SparseMixerDraws.uniform(rowKey: rowKey, slot: SparseMixerDraws.slot(step: step, E, experts: E))
        let c = chosen == best || coin > 0.75 ? sparseMixerHeunOne : sparseMixerHeunThird
        selected[step] = Int32(chosen)
        weights[step] = c * pi[chosen]
        excluded = chosen
    }
}

/// SparseMixer-v2 training forward of a linear router over N rows into layer storage `a`: logits z = W·x, then
/// `sparseMixerRoute` per row (selected experts, weights c·π_D, π in `probabilities`, π' in `secondProbabilities`).
/// - Parameters: x [N, D] (normalised FFN input); `layer` keys the draws with `options.seed` and `options.pass`.
package func sparseMixerForward(
    _ a: MoEActivations, x: UnsafePointer<Float>, rows N: Int, width D: Int, experts E: Int, p: MoEParameters,
    parameters w: UnsafePointer<Float>, options: SparseMixerOptions, layer: Int
) {
    precondition(p.router2 == nil, "SparseMixer-v2 needs a linear router")
    linearForward(out: a.routerLogits, x: x, weight: w + p.router.offset, bias: nil, rows: N, inFeatures: D, outFeatures: E)
    let draws = SparseMixerDraws(seed: options.seed, pass: options.pass, layer: layer)
    for n in 0..<N {
        sparseMixerRoute(
            logits: a.routerLogits + n * E, experts: E, epsilon: options.jitterEpsilon, draws: draws, row: n,
            selected: a.selected + n * 2, weights: a.weights + n * 2, first: a.probabilities + n * E,
            second: a.secondProbabilities + n * E)
    }
}

/// SparseMixer-v2's logit gradients from the routing-weight gradients dWeights [N, 2] into dLogits [N, E]
/// (overwritten): dz = Σ_s G_s · π^s_{D_s} · (e_{D_s} − π^s), the c of the forward excluded.
/// - Parameters: `first`, `second` [N, E] the two steps' masked softmaxes π, π'; `selected` [N, 2] D1, D2.
package func sparseMixerLogitGradients(
    first: UnsafePointer<Float>, second: UnsafePointer<Float>, selected: UnsafePointer<Int32>, dWeights: UnsafePointer<Float>,
    dLogits: UnsafeMutablePointer<Float>, rows N: Int, experts E: Int
) {
    for n in 0..<N {
        let dz = dLogits + n * E
        dz.update(repeating: 0, count: E)
        for step in 0..<2 {
            let pi = (step == 0 ? first : second) + n * E
            let chosen = Int(selected[n * 2 + step])
            let g = dWeights[n * 2 + step] * pi[chosen]
            for e in 0..<E { dz[e] -= g * pi[e] }
            dz[chosen] += g
        }
    }
}

/// Backward of `sparseMixerForward`: `sparseMixerLogitGradients`, the auxiliary losses' ∂/∂z added by
/// `addLogitGradients`, then through the linear router into dX [N, D] (added) and its weight (added to `gradients`).
package func sparseMixerBackward(
    _ a: MoEActivations, dWeights: UnsafePointer<Float>, dLogits: UnsafeMutablePointer<Float>, dX: UnsafeMutablePointer<Float>,
    x: UnsafePointer<Float>, rows N: Int, width D: Int, experts E: Int, p: MoEParameters, parameters w: UnsafePointer<Float>,
    gradients g: UnsafeMutablePointer<Float>?, addLogitGradients: ((UnsafeMutablePointer<Float>) -> Void)? = nil
) {
    sparseMixerLogitGradients(
        first: a.probabilities, second: a.secondProbabilities, selected: a.selected, dWeights: dWeights, dLogits: dLogits,
        rows: N, experts: E)
    addLogitGradients?(dLogits)
    linearBackward(
        dX: dX, dWeight: g.map { $0 + p.router.offset }, dOut: dLogits, x: x, weight: w + p.router.offset, rows: N,
        inFeatures: D, outFeatures: E, accumulateInput: true)
}
