import TensorCore

/// Which projection's rows describe a neuron for clustering and centroid router init.
public enum ProjectionSource: String, Sendable, Equatable, CaseIterable {
    /// `up_proj` rows (LLaMA-MoE script default).
    case up
    /// `gate_proj` rows (LLaMA-MoE python default).
    case gate
}

/// Kernel applied to activations before co-activation counting (LLaMA-MoE `kernel_function`).
public enum CoactivationKernel: String, Sendable, Equatable, CaseIterable {
    /// h (negative products clamp to 0 in the graph).
    case plain
    /// |h|.
    case absolute
    /// h².
    case square
}

/// A LLaMA-MoE expert-construction method with its inputs (pjlab-sys4nlp/llama-moe
/// `smoe/utils/expert_construction/expert_split.py`; arXiv 2406.16554).
public enum SplitMethod: Sendable, Equatable {
    /// Seeded shuffle of `[0…0, 1…1, …]` labels: every expert gets `I/N` random neurons.
    case random(seed: UInt64)
    /// Size-balanced k-means on L2-normalised rows of `source`; every expert exactly `I/N` neurons.
    case clustering(source: ProjectionSource, seed: UInt64, maxIterations: Int)
    /// Greedy balanced assignment by importance: `importance[e][i]` = score of neuron i for calibration cluster e
    /// (e.g. mean |∂L/∂a_i · a_i|); one row per expert.
    case gradient(importance: [[Float]])
    /// Balanced partition of the co-activation graph of `activations` `[T, I]` (calibration activations of the
    /// down_proj input, or of gate/up outputs).
    case coactivation(activations: FloatTensor, kernel: CoactivationKernel)
    /// Each expert takes its top-`expertSize` neurons by `importance[e]`; experts may overlap and
    /// `expertSize` may exceed `I/N`.
    case sharingInner(importance: [[Float]], expertSize: Int)
    /// The neurons most often in the routed experts' top-`expertSize` sets form `sharedExperts` always-on experts
    /// of `expertSize` neurons each; the rest go to the routed experts, either by their top-`expertSize` remaining
    /// neurons (`shareRouted`, overlapping) or by the greedy balanced assignment (requires
    /// `(N + sharedExperts) · expertSize = I`).
    case sharingInter(importance: [[Float]], sharedExperts: Int, expertSize: Int, shareRouted: Bool)

    /// The command-line name of the method.
    public var name: String {
        switch self {
        case .random: return "random"
        case .clustering: return "clustering"
        case .gradient: return "gradient"
        case .coactivation: return "coactivation"
        case .sharingInner: return "sharing-inner"
        case .sharingInter: return "sharing-inter"
        }
    }

    /// Every method name, in documentation order.
    public static let knownNames = ["random", "clustering", "gradient", "coactivation", "sharing-inner", "sharing-inter"]

    /// Checks a user-supplied method name.
    /// - Returns: the name, when known.
    /// - Throws: `TransformError.unknownMethod` listing the valid names.
    @discardableResult
    public static func validateName(_ name: String) throws(TransformError) -> String {
        guard knownNames.contains(name) else {
            throw .unknownMethod(kind: "split method", name: name, known: knownNames)
        }
        return name
    }
}
