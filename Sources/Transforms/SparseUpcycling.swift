import TensorCore

/// Sparse upcycling (Komatsuzaki et al.) with Drop-Upcycling, weight noise, NVIDIA virtual-group granularity and
/// shared experts.
public enum SparseUpcycling {
    /// Turns `dense` into an MoE block of `options.experts` experts.
    ///
    /// Construction, for G = granularity, R = N / G copies, shard width w = I / G:
    /// 1. expert j = contiguous shard `j mod G` (neurons `[g·w, (g+1)·w)`) of copy `j / G`;
    /// 2. Drop-Upcycling: per expert, ⌊r·w⌋ positions (`DropUpcycling.dropSet`) re-initialised in gate, up and down
    ///    from N(μ, σ²) of the replaced values of that matrix;
    /// 3. noise: N(0, σ²) added to every weight of every routed expert;
    /// 4. shared experts: shared expert s = shard `s mod G`; with c = 1 + S/G, routed `down_proj` are multiplied by
    ///    `VirtualGroupScaling.factor / c` and shared ones by `1 / c` (× 2 with a zero shared gate), so the block sums
    ///    to the dense FFN when G | S;
    /// 5. router: R base rows from `options.router`, each repeated G times (virtual groups).
    ///
    /// With r = 0, σ = 0, renormalised routing and G | K (and G | S) the result computes the dense FFN for any
    /// router: Σ_{e∈topk} p_e · FFN(x) = FFN(x) when the top-k weights sum to 1, and the G shards of one copy
    /// (Megatron-LM `megatron/core/transformer/moe/upcycling_utils.py`; arXiv 2410.07524) sum to the dense FFN.
    ///
    /// - Throws: `TransformError` for K > N, G ∤ N or G ∤ I, r ∉ [0, 1], σ < 0, S < 0, and router-init errors.
    public static func upcycle(_ dense: DenseFFN, options: UpcycleOptions) throws(TransformError) -> MoEFFN {
        let n = options.experts
        let g = options.granularity
        try Validate.topK(options.topK, experts: n)
        guard g >= 1 else { throw .nonPositive(name: "granularity", value: g) }
        guard n % g == 0 else {
            throw .invalidParameter(
                name: "granularity", value: "\(g)", reason: "must divide the number of experts \(n)")
        }
        try Validate.divisible(dense.intermediateSize, by: g, method: "upcycle --granularity \(g)")
        guard (0.0...1.0).contains(options.dropRatio) else {
            throw .invalidParameter(name: "drop ratio", value: "\(options.dropRatio)", reason: "must be in [0, 1]")
        }
        guard options.noise >= 0, options.noise.isFinite else {
            throw .invalidParameter(name: "noise", value: "\(options.noise)", reason: "must be finite and ≥ 0")
        }
        guard options.sharedExperts >= 0 else {
            throw .invalidParameter(name: "shared experts", value: "\(options.sharedExperts)", reason: "must be ≥ 0")
        }
        let copies = n / g
        let w = dense.intermediateSize / g
        let h = dense.hiddenSize
        let shardNeurons = (0..<g).map { Array(($0 * w)..<(($0 + 1) * w)) }
        let shards = shardNeurons.map { dense.expert(neurons: $0) }

        var experts = [Expert]()
        experts.reserveCapacity(n)
        for j in 0..<n {
            var expert = shards[j % g]
            if options.dropRatio > 0 {
                let drop = DropUpcycling.dropSet(expert: j, width: w, ratio: options.dropRatio, seed: options.seed)
                DropUpcycling.reinitialize(&expert, positions: drop, expertIndex: j, seed: options.seed)
            }
            if options.noise > 0 {
                var rng = TransformRandom(seed: options.seed, stream: 0x4E4F_0000 &+ UInt64(j))
                for k in expert.gate.values.indices { expert.gate.values[k] += Float(Double(options.noise) * rng.nextGaussian()) }
                for k in expert.up.values.indices { expert.up.values[k] += Float(Double(options.noise) * rng.nextGaussian()) }
                for k in expert.down.values.indices { expert.down.values[k] += Float(Double(options.noise) * rng.nextGaussian()) }
            }
            experts.append(expert)
        }

        // Router: R base rows (computed on whole copies for centroids), replicated G times.
        let copyExperts: [Expert] = (0..<copies).map { r in
            let group = Array(experts[(r * g)..<((r + 1) * g)])
            return group.count == 1 ? group[0] : concatenate(group, hiddenSize: h)
        }
        let base = try options.router.weight(experts: copyExperts, hiddenSize: h)  // [R, H]
        var routerValues = [Float]()
        routerValues.reserveCapacity(n * h)
        for r in 0..<copies {
            for _ in 0..<g { routerValues += base.values[(r * h)..<((r + 1) * h)] }
        }

        let total = 1 + Float(options.sharedExperts) / Float(g)
        let routedScale =
            VirtualGroupScaling.factor(copies: copies, granularity: g, topK: options.topK, routing: options.routing)
            / total
        experts = experts.map { $0.scalingDown(by: routedScale) }
        var shared = (0..<options.sharedExperts).map { shards[$0 % g].scalingDown(by: 1 / total) }
        var sharedGate: FloatTensor? = nil
        if options.sharedGate == .neutral && !shared.isEmpty {
            sharedGate = SharedGateInit.neutralGate(hiddenSize: h)
            shared = shared.map { $0.scalingDown(by: 2) }
        }
        return try MoEFFN(
            router: FloatTensor(shape: [n, h], values: routerValues), experts: experts, sharedExperts: shared,
            sharedGate: sharedGate, topK: options.topK, routing: options.routing,
            assignment: (0..<n).map { shardNeurons[$0 % g] },
            sharedAssignment: shared.isEmpty ? nil : (0..<options.sharedExperts).map { shardNeurons[$0 % g] })
    }

    /// Stacks experts' neurons into one wider expert (rows of gate/up, columns of down).
    static func concatenate(_ group: [Expert], hiddenSize h: Int) -> Expert {
        let width = group.reduce(0) { $0 + $1.width }
        var gate = [Float]()
        var up = [Float]()
        gate.reserveCapacity(width * h)
        up.reserveCapacity(width * h)
        for e in group {
            gate += e.gate.values
            up += e.up.values
        }
        var down = [Float](repeating: 0, count: h * width)
        var offset = 0
        for e in group {
            for row in 0..<h {
                for c in 0..<e.width { down[row * width + offset + c] = e.down.values[row * e.width + c] }
            }
            offset += e.width
        }
        return Expert(
            unchecked: FloatTensor(shape: [width, h], values: gate), up: FloatTensor(shape: [width, h], values: up),
            down: FloatTensor(shape: [h, width], values: down))
    }
}
