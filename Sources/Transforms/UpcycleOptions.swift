import Conversion

/// Everything `SparseUpcycling.upcycle` needs besides the dense weights.
public struct UpcycleOptions: Sendable, Equatable {
    /// Routed experts N (= R copies × G shards).
    public var experts: Int
    /// Experts per token K. The function is preserved exactly when G divides K (whole virtual groups).
    public var topK: Int
    /// Router initialisation of the R base rows (each replicated G times).
    public var router: RouterInit
    /// Routing convention; it decides the virtual-group weight scale.
    public var routing: ExpertRouting
    /// Drop-Upcycling ratio r ∈ [0, 1]: per expert, ⌊r · I_e⌋ neurons re-initialised.
    public var dropRatio: Double
    /// Standard deviation σ of Gaussian noise added to every routed expert weight (0 = none).
    public var noise: Float
    /// Granularity G: each copy split into G contiguous shards of width I / G.
    public var granularity: Int
    /// Always-on shared experts S, each a shard (s mod G) of the dense FFN.
    public var sharedExperts: Int
    /// Shared-expert gate (Qwen2-MoE).
    public var sharedGate: SharedGateInit
    /// Seed for drop sets, re-initialisation and noise.
    public var seed: UInt64

    /// Creates upcycling options; defaults: N(0, 0.02) router (seed 0), Mixtral routing, no drop, no noise, G = 1,
    /// no shared experts, seed 0.
    public init(
        experts: Int, topK: Int, router: RouterInit = .random(seed: 0),
        routing: ExpertRouting = .softmaxThenTopK(renormalize: true), dropRatio: Double = 0, noise: Float = 0,
        granularity: Int = 1, sharedExperts: Int = 0, sharedGate: SharedGateInit = .none, seed: UInt64 = 0
    ) {
        self.experts = experts
        self.topK = topK
        self.router = router
        self.routing = routing
        self.dropRatio = dropRatio
        self.noise = noise
        self.granularity = granularity
        self.sharedExperts = sharedExperts
        self.sharedGate = sharedGate
        self.seed = seed
    }
}
