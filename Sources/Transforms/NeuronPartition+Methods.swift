import TensorCore

extension NeuronPartition {
    /// Partitions the neurons of `dense` into `experts` routed experts (plus shared experts for sharing-inter)
    /// with `method`.
    ///
    /// - Parameters:
    ///   - dense: the layer's FFN (read only for clustering).
    ///   - experts: number of routed experts N.
    ///   - method: the construction method and its inputs.
    /// - Returns: the partition; non-sharing methods return every neuron exactly once with `I/N` per expert.
    /// - Throws: `TransformError.indivisible` when N ∤ I for a method that needs equal experts,
    ///   `.emptyCalibration` for empty activations/importance, `.shapeMismatch`, `.invalidParameter`.
    public static func make(
        for dense: DenseFFN, experts: Int, method: SplitMethod
    ) throws(TransformError) -> NeuronPartition {
        guard case let .clustering(source, seed, maxIterations) = method else {
            return try make(neurons: dense.intermediateSize, experts: experts, method: method)
        }
        let n = dense.intermediateSize
        guard experts >= 1 else { throw .nonPositive(name: "number of experts", value: experts) }
        try Validate.divisible(n, by: experts, method: method.name)
        guard maxIterations >= 1 else { throw .nonPositive(name: "clustering iterations", value: maxIterations) }
        let matrix = source == .up ? dense.up : dense.gate
        let labels = BalancedKMeans.cluster(
            rows: RowMath.normalizedRows(matrix), count: n, dimension: dense.hiddenSize, clusters: experts,
            seed: seed, maxIterations: maxIterations)
        return fromLabels(labels, experts: experts)
    }

    /// Partitions `neurons` neurons with a method that does not read the weights (every method but clustering), so
    /// a streaming writer need not decode the layer to plan it.
    /// - Throws: as `make(for:experts:method:)`; `.invalidParameter` for clustering, which needs the weights.
    public static func make(neurons n: Int, experts: Int, method: SplitMethod) throws(TransformError) -> NeuronPartition {
        guard experts >= 1 else { throw .nonPositive(name: "number of experts", value: experts) }
        switch method {
        case let .random(seed):
            try Validate.divisible(n, by: experts, method: method.name)
            return RandomPartition.make(neurons: n, experts: experts, seed: seed)
        case .clustering:
            throw .invalidParameter(name: "method", value: "clustering", reason: "clustering reads the FFN weights")
        case let .gradient(importance):
            try Validate.divisible(n, by: experts, method: method.name)
            try checkImportance(importance, experts: experts, neurons: n)
            let lists = GreedyBalancedAssignment.assign(
                scores: importance, candidates: Array(0..<n), capacity: n / experts)
            return NeuronPartition(routed: lists.map { $0.sorted() })
        case let .coactivation(activations, kernel):
            try Validate.divisible(n, by: experts, method: method.name)
            guard activations.shape.count == 2, activations.shape[1] == n else {
                throw .shapeMismatch(name: "activations", expected: [-1, n], actual: activations.shape)
            }
            guard activations.shape[0] > 0 else { throw .emptyCalibration(what: "co-activation activations") }
            let labels = CoactivationPartition.partition(activations: activations, kernel: kernel, parts: experts)
            return fromLabels(labels, experts: experts)
        case let .sharingInner(importance, expertSize):
            try checkImportance(importance, experts: experts, neurons: n)
            guard (1...n).contains(expertSize) else {
                throw .invalidParameter(name: "expert size", value: "\(expertSize)", reason: "must be in 1…\(n)")
            }
            return NeuronSharing.inner(importance: importance, expertSize: expertSize)
        case let .sharingInter(importance, sharedExperts, expertSize, shareRouted):
            try checkImportance(importance, experts: experts, neurons: n)
            guard sharedExperts >= 0, expertSize >= 1, sharedExperts * expertSize < n else {
                throw .invalidParameter(
                    name: "shared experts × expert size", value: "\(sharedExperts) × \(expertSize)",
                    reason: "must leave neurons for the routed experts (intermediate size \(n))")
            }
            if !shareRouted && (experts + sharedExperts) * expertSize != n {
                throw .invalidParameter(
                    name: "expert size", value: "\(expertSize)",
                    reason: "without routed sharing (N + shared) · size must equal \(n), got "
                        + "(\(experts) + \(sharedExperts)) · \(expertSize) = \((experts + sharedExperts) * expertSize)")
            }
            return NeuronSharing.inter(
                importance: importance, sharedExperts: sharedExperts, expertSize: expertSize, shareRouted: shareRouted)
        }
    }

    private static func checkImportance(_ importance: [[Float]], experts: Int, neurons: Int) throws(TransformError) {
        guard !importance.isEmpty, importance.allSatisfy({ !$0.isEmpty }) else {
            throw .emptyCalibration(what: "importance scores")
        }
        guard importance.count == experts else {
            throw .shapeMismatch(name: "importance", expected: [experts, neurons], actual: [importance.count, neurons])
        }
        for row in importance where row.count != neurons {
            throw .shapeMismatch(name: "importance", expected: [experts, neurons], actual: [experts, row.count])
        }
    }
}
