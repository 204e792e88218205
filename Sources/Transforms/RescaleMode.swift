import TensorCore

/// Output rescaling of a split (`score_scale_factor` of `UniversalCalculator` in LLaMA-MoE
/// `smoe/modules/moe/moe_calculators.py`; arXiv 2406.16554).
public enum RescaleMode: Sendable, Equatable {
    /// `scoreScale = 1`.
    case none
    /// `scoreScale = N / K` (LLaMA-MoE `score_scale_factor`: a heuristic, not exact).
    case nOverK
    /// One factor per layer from calibration MLP inputs `[T, H]`:
    /// `s = mean_t ‖dense(x_t) − shared(x_t)‖₁ / mean_t ‖routed_{s=1}(x_t)‖₁`, LLaMA-MoE's L1-norm ratio (with the
    /// residual stream common to both models it reduces to this; without shared experts it is
    /// `mean‖dense‖₁ / mean‖moe‖₁`).
    case calibrated(inputs: FloatTensor)
    /// The configuration that reproduces the dense FFN: requires K = N, a non-overlapping partition and a zero
    /// router; the factor `1 / w` (w = the uniform routing weight, 1/N for softmax routings, 1 for unit weights)
    /// makes every expert weigh exactly 1.
    case exact

    /// The command-line name.
    public var name: String {
        switch self {
        case .none: return "none"
        case .nOverK: return "n-over-k"
        case .calibrated: return "calibrated"
        case .exact: return "exact"
        }
    }

    /// Every rescale name.
    public static let knownNames = ["none", "n-over-k", "calibrated", "exact"]

    /// Checks a user-supplied rescale name.
    /// - Throws: `TransformError.unknownMethod` listing the valid names.
    @discardableResult
    public static func validateName(_ name: String) throws(TransformError) -> String {
        guard knownNames.contains(name) else { throw .unknownMethod(kind: "rescale mode", name: name, known: knownNames) }
        return name
    }
}
