import Conversion

extension MoEModelWriter {
    /// Whether the written model computes exactly what the dense model computes, by construction (the table in
    /// docs/transforms.md): every sparse layer is exact and the target adds nothing that changes attention.
    ///
    /// - Upcycling: no drop, no noise, whole virtual groups selected (G ∣ K) and whole shards shared (G ∣ S), and
    ///   routing weights that sum to 1 over the copies — a renormalising target with any router, or a
    ///   non-renormalising one with a zero router (the N/K factor is folded into down).
    /// - Split: `--rescale exact` with K = N (zero router, or unit weights where the target has them).
    /// - A target that has to synthesize a non-identity tensor the source lacks (OLMoE's unit q/k RMSNorm from a
    ///   LLaMA source) is never exact; a source that has it (Qwen3 → Qwen3-MoE) keeps its own.
    public var isExactByConstruction: Bool {
        if synthesizedMappings.contains(where: { $0.synthesize == 1 }) { return false }
        return layerPlans.allSatisfy { plan in
            switch plan.construction {
            case nil:
                return true
            case .upcycle(let o)?:
                let renormalised: Bool
                switch target.routing {
                case .softmaxThenTopK(let renormalize): renormalised = renormalize
                case .topKThenSoftmax: renormalised = true
                }
                return o.dropRatio == 0 && o.noise == 0 && o.topK % o.granularity == 0
                    && o.sharedExperts % o.granularity == 0 && (renormalised || o.router == .zero)
            case .split(let o)?:
                return o.rescale == .exact && o.topK == o.experts
            }
        }
    }
}

extension MoEModelWriter {
    /// The target's tensors that the source lacks and the writer fills (`synthesize` in the recipe).
    var synthesizedMappings: [ArchitectureRecipe.TensorMapping] {
        recipe.tensors.filter { $0.synthesize != nil && !source.contains($0.hfName(layer: 0, expert: nil)) }
    }
}
