import TensorCore

/// LLaMA-MoE expert construction: one dense FFN → N experts made of disjoint (or, with sharing, overlapping)
/// subsets of its neurons, plus router, scale and optional shared experts.
public enum ExpertSplit {
    /// Splits `dense` per `options`.
    ///
    /// Steps: validate N, K; partition the neurons (`NeuronPartition.make`); slice experts (rows of gate/up, columns
    /// of down); initialise the router; set the scale per `options.rescale`; optionally align mean/variance; optionally
    /// fold the scale into `down_proj`.
    ///
    /// - Returns: the MoE block, with `assignment` / `sharedAssignment` recording the neuron lists.
    /// - Throws: `TransformError` for K > N, N ∤ I (methods with equal experts), empty calibration, shape
    ///   mismatches, and `exact` rescale preconditions.
    public static func split(_ dense: DenseFFN, options: SplitOptions) throws(TransformError) -> MoEFFN {
        try Validate.topK(options.topK, experts: options.experts)
        let partition = try NeuronPartition.make(for: dense, experts: options.experts, method: options.method)
        return try build(dense, partition: partition, options: options)
    }

    /// Builds the MoE block from an explicit partition (e.g. one read from a LLaMA-MoE index file). The method
    /// in `options` is ignored.
    /// - Throws: as `split`.
    public static func build(
        _ dense: DenseFFN, partition: NeuronPartition, options: SplitOptions
    ) throws(TransformError) -> MoEFFN {
        let n = partition.routed.count
        try Validate.topK(options.topK, experts: n)
        let h = dense.hiddenSize
        let experts = partition.routed.map { dense.expert(neurons: $0) }
        var shared = partition.shared.map { dense.expert(neurons: $0) }
        var sharedGate: FloatTensor? = nil
        if options.sharedGate == .neutral && !shared.isEmpty {
            sharedGate = SharedGateInit.neutralGate(hiddenSize: h)
            shared = shared.map { $0.scalingDown(by: 2) }
        }
        if case .exact = options.rescale {
            guard options.topK == n else { throw .exactRescaleRequiresAllExperts(topK: options.topK, experts: n) }
            guard options.router == .zero else { throw .exactRescaleRequiresZeroRouter(router: options.router.name) }
            guard !partition.isOverlapping else {
                throw .invalidParameter(
                    name: "rescale", value: "exact", reason: "needs a non-overlapping partition (no neuron sharing)")
            }
        }
        let router = try options.router.weight(experts: experts, hiddenSize: h)
        var moe = try MoEFFN(
            router: router, experts: experts, sharedExperts: shared, sharedGate: sharedGate, topK: options.topK,
            routing: options.routing, assignment: partition.routed,
            sharedAssignment: partition.shared.isEmpty ? nil : partition.shared)
        switch options.rescale {
        case .none:
            moe.scoreScale = 1
        case .nOverK:
            moe.scoreScale = Float(n) / Float(options.topK)
        case .exact:
            moe.scoreScale = options.routing == .unitWeights ? 1 : Float(n)
        case let .calibrated(inputs):
            moe.scoreScale = try moe.calibratedScale(matching: dense, inputs: inputs)
        }
        if let inputs = options.alignment {
            moe = try moe.aligningMeanVariance(to: dense, inputs: inputs)
        }
        return options.foldScaleIntoDown ? moe.foldingScaleIntoDown() : moe
    }
}
