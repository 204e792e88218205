import Foundation

// What a training pass adds to the cross-entropy and reports back: the distillation target and the loss breakdown.

/// The training loss and its parts (each auxiliary loss unweighted, with its balanced value where it has one).
public struct LossBreakdown: Sendable, Equatable {
    /// Cross-entropy + α · load balancing + β · z-loss.
    public var total: Float
    public var crossEntropy: Float
    /// The load-balancing loss (before α) and its value under perfectly uniform routing.
    public var loadBalancing: Float
    public var loadBalancingBalanced: Float
    /// The z-loss (before β).
    public var zLoss: Float
    /// a · τ² · KL(teacher ‖ student), averaged like the cross-entropy (0 without a teacher).
    public var distillation: Float = 0
    /// Routing of each MoE layer in this pass (empty for a dense model).
    public var routing: [LayerRouting] = []
}

/// How one MoE layer routed the rows of a pass that predict a token.
public struct LayerRouting: Sendable, Equatable {
    /// Decoder layer.
    public var layer: Int
    /// Share of the (token, k) assignments that went to each expert (sums to 1; uniform is 1/E each).
    public var load: [Double]
    /// Mean over rows of logsumexp(router logits)² (the z-loss of this layer).
    public var meanSquaredLogSumExp: Double

    /// Entropy of `load` in nats (ln E when perfectly balanced).
    public var loadEntropy: Double { -load.reduce(0) { $0 + ($1 > 0 ? $1 * Foundation.log($1) : 0) } }
}

/// Distillation from a teacher (the dense parent): its logits for every row of the batch ([N, V], sequences back to
/// back as passed), the coefficient a and the temperature τ.
public struct DistillationOptions {
    public let teacherLogits: [Float]
    public var coefficient: Float
    public var temperature: Float

    public init(teacherLogits: [Float], coefficient: Float = 1, temperature: Float = 1) {
        self.teacherLogits = teacherLogits
        self.coefficient = coefficient
        self.temperature = temperature
    }
}
