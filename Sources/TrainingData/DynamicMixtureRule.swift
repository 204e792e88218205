import Foundation

/// How a dynamic mixture re-weights domains from their validation losses ℓ and reference losses ℓ_ref.
public enum DynamicMixtureRule: Equatable, Sendable {
    /// `update_weight_sheared_llama` (llama-moe `smoe/data/dynamic_selection.py`, identical to LLM-Shearing
    /// `llmshearing/callbacks/dynamic_loading_callback.py` with `update_type="doremi"`):
    /// Δ = ℓ − ℓ_ref (not clipped); a = log w + η·Δ; α = softmax(a); w' = (1 − c)·α + c/K; renormalised.
    case sheared(eta: Double = 1, smoothing: Double = 1e-4)
    /// `update_weight_sheared_llama_paper` (arXiv 2310.06694, dynamic batch loading): Δ = max(0, ℓ − ℓ_ref);
    /// w' ∝ w·exp(η·Δ), no smoothing.
    case paper(eta: Double = 1)

    /// The updated weights (a distribution over the same domains).
    /// - Precondition: the three arrays have the same length and `weights` is a distribution.
    public func update(weights: [Double], losses: [Double], referenceLosses: [Double]) -> [Double] {
        precondition(weights.count == losses.count && losses.count == referenceLosses.count, "one weight and loss per domain")
        let k = Double(weights.count)
        switch self {
        case .sheared(let eta, let c):
            let logits = zip(weights, zip(losses, referenceLosses)).map { w, l in Foundation.log(w) + eta * (l.0 - l.1) }
            let alpha = Self.softmax(logits)
            let smoothed = alpha.map { (1 - c) * $0 + c / k }
            let total = smoothed.reduce(0, +)
            return smoothed.map { $0 / total }
        case .paper(let eta):
            let scaled = zip(weights, zip(losses, referenceLosses)).map { w, l in w * Foundation.exp(eta * max(0, l.0 - l.1)) }
            let total = scaled.reduce(0, +)
            return scaled.map { $0 / total }
        }
    }

    /// Softmax in float64, shifted by the maximum (entries of −∞ give 0).
    static func softmax(_ values: [Double]) -> [Double] {
        let top = values.max() ?? 0
        let exps = values.map { Foundation.exp($0 - top) }
        let total = exps.reduce(0, +)
        return exps.map { $0 / total }
    }
}
