import Conversion
import TensorCore

/// One layer's Mixture-of-Experts feed-forward block.
///
/// Output for a token x:
/// `y = Σ_{e ∈ topk} w_e · scoreScale · expertScales[e] · E_e(x) + g(x) · Σ_s S_s(x) + outputBias`,
/// where `w` comes from `routing` applied to the logits `router · x`, `S_s` are the always-on shared experts and
/// `g(x) = sigmoid(sharedGate · x)` when a shared gate exists (Qwen2-MoE), otherwise 1.
public struct MoEFFN: Sendable, Equatable {
    /// Router (gate) weight, `[E, H]`.
    public var router: FloatTensor
    /// The routed experts, `E` of them; widths may differ.
    public var experts: [Expert]
    /// Always-on shared (residual) experts, summed without routing weight.
    public var sharedExperts: [Expert]
    /// Optional shared-expert gate `[1, H]` (Qwen2-MoE `shared_expert_gate`).
    public var sharedGate: FloatTensor?
    /// Optional per-expert output scale, `E` values (1 when absent).
    public var expertScales: [Float]?
    /// Global factor on routed expert outputs (LLaMA-MoE `score_scale_factor`).
    public var scoreScale: Float
    /// Optional per-channel output bias `[H]` (LLaMA-MoE-v2 mean/variance alignment). Added once per token; it
    /// equals a bias on every expert whenever the routing weights sum to 1.
    public var outputBias: [Float]?
    /// Experts selected per token, K.
    public var topK: Int
    /// How logits become weights.
    public var routing: ExpertRouting
    /// When the routed experts came from a split: `assignment[e]` = the dense neuron indices of expert e, in the
    /// order of the expert's rows.
    public var assignment: [[Int]]?
    /// Dense neuron indices of each shared expert, when they came from a split.
    public var sharedAssignment: [[Int]]?

    /// Assembles a block after validating shapes and `1 ≤ topK ≤ E`.
    /// - Throws: `TransformError` on inconsistent shapes or an invalid top-k.
    public init(
        router: FloatTensor, experts: [Expert], sharedExperts: [Expert] = [], sharedGate: FloatTensor? = nil,
        expertScales: [Float]? = nil, scoreScale: Float = 1, outputBias: [Float]? = nil, topK: Int,
        routing: ExpertRouting, assignment: [[Int]]? = nil, sharedAssignment: [[Int]]? = nil
    ) throws(TransformError) {
        guard !experts.isEmpty else { throw .nonPositive(name: "number of experts", value: 0) }
        let h = experts[0].hiddenSize
        let e = experts.count
        try Validate.topK(topK, experts: e)
        guard router.shape == [e, h] else { throw .shapeMismatch(name: "router", expected: [e, h], actual: router.shape) }
        for expert in experts + sharedExperts where expert.hiddenSize != h {
            throw .shapeMismatch(name: "expert gate_proj", expected: [expert.width, h], actual: expert.gate.shape)
        }
        if let g = sharedGate, g.shape != [1, h] {
            throw .shapeMismatch(name: "shared_expert_gate", expected: [1, h], actual: g.shape)
        }
        if let s = expertScales, s.count != e {
            throw .shapeMismatch(name: "expert scales", expected: [e], actual: [s.count])
        }
        if let b = outputBias, b.count != h {
            throw .shapeMismatch(name: "output bias", expected: [h], actual: [b.count])
        }
        if let a = assignment, a.count != e {
            throw .shapeMismatch(name: "assignment", expected: [e], actual: [a.count])
        }
        self.router = router
        self.experts = experts
        self.sharedExperts = sharedExperts
        self.sharedGate = sharedGate
        self.expertScales = expertScales
        self.scoreScale = scoreScale
        self.outputBias = outputBias
        self.topK = topK
        self.routing = routing
        self.assignment = assignment
        self.sharedAssignment = sharedAssignment
    }

    /// Number of routed experts E.
    public var expertCount: Int { experts.count }
    /// Hidden size H.
    public var hiddenSize: Int { router.shape[1] }

    /// Total output factor of routed expert `e`: `scoreScale · expertScales[e]`.
    public func outputScale(of e: Int) -> Float { scoreScale * (expertScales?[e] ?? 1) }
}
