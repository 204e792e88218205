/// How each sparse layer is built.
public enum MoEConstruction: Sendable {
    /// Sparse upcycling; per-layer seeds are derived from `options.seed` and the layer index.
    case upcycle(UpcycleOptions)
    /// Expert construction; the partition of every layer is computed once up front (recorded in the manifest) and
    /// the experts are sliced from it while writing.
    case split(SplitOptions)

    /// Routed experts N.
    public var experts: Int {
        switch self {
        case .upcycle(let o): return o.experts
        case .split(let o): return o.experts
        }
    }

    /// Experts per token K.
    public var topK: Int {
        switch self {
        case .upcycle(let o): return o.topK
        case .split(let o): return o.topK
        }
    }

    /// Width of each routed expert for a dense width `intermediate` (known without computing a partition).
    public func expertWidth(intermediate: Int) -> Int {
        switch self {
        case .upcycle(let o): return intermediate / max(o.granularity, 1)
        case .split(let o):
            switch o.method {
            case let .sharingInner(_, size), let .sharingInter(_, _, size, _): return size
            default: return intermediate / max(o.experts, 1)
            }
        }
    }

    /// Total width of the always-on shared experts (they become one shared expert of this width).
    public func sharedWidth(intermediate: Int) -> Int {
        switch self {
        case .upcycle(let o): return o.sharedExperts * (intermediate / max(o.granularity, 1))
        case .split(let o):
            if case let .sharingInter(_, shared, size, _) = o.method { return shared * size }
            return 0
        }
    }
}

/// One layer of a model-level conversion: keep the dense MLP, or build an MoE block.
public enum MoELayerPlan: Sendable {
    /// Keep the dense MLP (only targets that can express dense layers: qwen2-moe HF via `mlp_only_layers`).
    case dense
    /// Build an MoE block this way.
    case sparse(MoEConstruction)

    /// The construction, nil for a dense layer.
    public var construction: MoEConstruction? {
        if case .sparse(let c) = self { return c }
        return nil
    }

    /// `layers` plans: `construction` everywhere except the layers in `denseLayers`.
    public static func uniform(_ construction: MoEConstruction, layers: Int, denseLayers: Set<Int> = []) -> [MoELayerPlan] {
        (0..<layers).map { denseLayers.contains($0) ? .dense : .sparse(construction) }
    }
}
