import Foundation

/// How router logits become per-token expert weights (transformers `models/mixtral/modeling_mixtral.py` and
/// `models/qwen2_moe/modeling_qwen2_moe.py` with `norm_topk_prob`; LLaMA-MoE `smoe/modules/moe/moe_gates.py`).
public enum RoutingMode: Sendable, Equatable, Hashable {
    /// Softmax over all E logits, keep the top-k probabilities; with `renormalize` they are divided by their sum
    /// (Mixtral, LLaMA-MoE v2, `norm_topk_prob = true`); without, they keep their full-softmax values
    /// (Qwen2-MoE `norm_topk_prob = false`, Megatron pre-softmax).
    case softmaxThenTopK(renormalize: Bool)
    /// Keep the top-k logits, softmax over those k only (LLaMA-MoE v1 `TopKBalancedNoisyGate`).
    case topKThenSoftmax
    /// Every selected expert weighs exactly 1 (no softmax). A verification aid: with top-k = N it is the
    /// partition identity Σ_e W_d[:,S_e](silu(W_g[S_e]x) ⊙ W_u[S_e]x) = W_d(silu(W_g x) ⊙ W_u x) for a neuron
    /// partition {S_e}. Stock runtimes cannot express it; `RescaleMode.exact` gives a
    /// checkpoint-representable equivalent.
    case unitWeights

    /// Selects the top `k` of `logits` (ties: lower expert index first) and returns `(expert, weight)` pairs in
    /// selection order.
    public func route(logits: UnsafeBufferPointer<Float>, k: Int) -> [(expert: Int, weight: Float)] {
        let e = logits.count
        // Partial selection sort: k is small.
        var chosen = [Int]()
        chosen.reserveCapacity(k)
        var taken = [Bool](repeating: false, count: e)
        for _ in 0..<min(k, e) {
            var best = -1
            var bestValue = -Float.infinity
            for j in 0..<e where !taken[j] {
                if best < 0 || logits[j] > bestValue {
                    best = j
                    bestValue = logits[j]
                }
            }
            taken[best] = true
            chosen.append(best)
        }
        switch self {
        case .unitWeights:
            return chosen.map { ($0, 1) }
        case .topKThenSoftmax:
            let top = chosen.map { logits[$0] }
            let p = RoutingMode.softmax(top)
            return zip(chosen, p).map { ($0, $1) }
        case let .softmaxThenTopK(renormalize):
            let p = RoutingMode.softmax(Array(logits))
            var w = chosen.map { p[$0] }
            if renormalize {
                let total = w.reduce(0, +)
                if total > 0 { w = w.map { $0 / total } }
            }
            return zip(chosen, w).map { ($0, $1) }
        }
    }

    /// Numerically stable softmax (max subtraction, Double accumulation).
    static func softmax(_ z: [Float]) -> [Float] {
        guard let m = z.max() else { return [] }
        let ex = z.map { exp(Double($0 - m)) }
        let total = ex.reduce(0, +)
        return ex.map { Float($0 / total) }
    }
}
