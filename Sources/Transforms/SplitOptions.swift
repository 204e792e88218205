import Conversion
import TensorCore

/// Everything `ExpertSplit.split` needs besides the dense weights.
public struct SplitOptions: Sendable, Equatable {
    /// Routed experts N.
    public var experts: Int
    /// Experts per token K.
    public var topK: Int
    /// Expert-construction method.
    public var method: SplitMethod
    /// Output rescaling.
    public var rescale: RescaleMode
    /// Router initialisation.
    public var router: RouterInit
    /// Routing convention of the target runtime.
    public var routing: ExpertRouting
    /// Optional LLaMA-MoE-v2 mean/variance alignment on these MLP inputs `[T, H]`, applied after rescaling.
    public var alignment: FloatTensor?
    /// Shared-expert gate for sharing-inter (Qwen2-MoE needs one).
    public var sharedGate: SharedGateInit
    /// Multiply the scale into `down_proj` (targets without a scale field).
    public var foldScaleIntoDown: Bool

    /// Creates split options; defaults: no rescale, N(0, 0.02) router with seed 0, Mixtral routing (softmax, top-k,
    /// renormalise), no alignment, no shared gate, scale kept as a field.
    public init(
        experts: Int, topK: Int, method: SplitMethod, rescale: RescaleMode = .none,
        router: RouterInit = .random(seed: 0), routing: ExpertRouting = .softmaxThenTopK(renormalize: true),
        alignment: FloatTensor? = nil, sharedGate: SharedGateInit = .none, foldScaleIntoDown: Bool = false
    ) {
        self.experts = experts
        self.topK = topK
        self.method = method
        self.rescale = rescale
        self.router = router
        self.routing = routing
        self.alignment = alignment
        self.sharedGate = sharedGate
        self.foldScaleIntoDown = foldScaleIntoDown
    }
}
