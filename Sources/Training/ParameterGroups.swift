import Runtime

/// How an optimizer treats each tensor of a layout: one segment per tensor with its learning-rate multiplier
/// (0 freezes it) and whether decoupled weight decay applies. Segments are contiguous runs of the flat buffers, so
/// an update walks them without any per-float table.
public struct ParameterGroups: Sendable {
    /// One tensor's run of floats.
    public struct Segment: Sendable, Equatable {
        public let name: String
        public let offset: Int
        public let count: Int
        public let learningRateScale: Float
        public let decays: Bool
    }

    public let segments: [Segment]

    /// Segments from per-tensor rules.
    /// - Parameters:
    ///   - learningRateScale: multiplier of a tensor (by checkpoint name and group); 0 freezes it.
    ///   - decays: whether a tensor gets weight decay; nil applies `decaysByDefault`.
    public init(
        layout: ParameterLayout, learningRateScale: (String, TrainableParameters) -> Float,
        decays: ((ParameterSlice) -> Bool)? = nil
    ) {
        let decays = decays ?? { ParameterGroups.decaysByDefault($0, layout: layout) }
        segments = layout.parameterGroups.map { name, slice, group in
            Segment(
                name: name, offset: slice.offset, count: slice.count, learningRateScale: learningRateScale(name, group),
                decays: decays(slice))
        }
    }

    /// The groups of a training run: tensors outside `trainable` frozen, routers at `routerLearningRateScale` × lr,
    /// decay on every weight matrix (`decayAll`: on norms, biases and embeddings too).
    public init(layout: ParameterLayout, trainable: TrainableParameters = .all, routerLearningRateScale: Float = 1, decayAll: Bool = false) {
        self.init(
            layout: layout,
            learningRateScale: { _, group in trainable.contains(group) ? (group == .router ? routerLearningRateScale : 1) : 0 },
            decays: decayAll ? { _ in true } : nil)
    }

    /// Decay on weight matrices only: not on vectors (norm weights, biases) and not on the embedding, which a tied
    /// LM head shares (LLaMA-MoE / OLMo; the rank rule is nanoGPT's `configure_optimizers`). Decided by shape and
    /// layout, never by tensor name.
    public static func decaysByDefault(_ slice: ParameterSlice, layout: ParameterLayout) -> Bool {
        slice.shape.count >= 2 && slice != layout.embedding
    }
}
