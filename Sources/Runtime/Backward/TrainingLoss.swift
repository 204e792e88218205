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
