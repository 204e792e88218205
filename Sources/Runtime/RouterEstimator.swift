
/// How a training pass routes tokens to experts and differentiates that routing.
///
/// Only the training pass (`Decoder.trainingForward`, `Decoder.lossAndGradients`, `LanguageModel.lossAndGradients`)
/// looks at the estimator. Evaluation and inference (`LanguageModel.logits`, the cached forward, generation) always
/// route with the model's own top-K, so a model trained with `.sparseMixer` evaluates as a plain top-2 model.
public enum RouterEstimator: Sendable, Equatable, Codable {
    /// The model's own routing (`ExpertRouting`): the top-K selection is piecewise constant and passes no gradient;
    /// the routing weights carry the router's gradient. The default.
    case topK
    /// SparseMixer-v2 (GRIN, arXiv 2409.12136; microsoft/GRIN-MoE, microsoft/SparseMixer
    /// `sparsemixer/sparsemixer_v2.py`, transformers `models/phimoe/modeling_phimoe.py` `sparsemixer`): the two
    /// experts are *sampled* from masked softmaxes and the router gets the Heun's-third-order gradient estimate.
    /// Defined for softmax → top-K routing with K = 2 and a linear router only; anything else throws
    /// `RuntimeError.unsupportedRouterEstimator` before any work.
    case sparseMixer(SparseMixerOptions)

    /// Throws `RuntimeError.unsupportedRouterEstimator` unless this estimator is defined for `config`.
    public func check(_ config: ModelConfig) throws {
        guard case .sparseMixer(let options) = self else { return }
        guard options.jitterEpsilon.isFinite, options.jitterEpsilon >= 0 else {
            throw RuntimeError.unsupportedRouterEstimator(
                "SparseMixer-v2 needs a finite, non-negative jitter epsilon (got \(options.jitterEpsilon))")
        }
        guard let moe = config.moe, moe.sparseLayers.contains(true) else {
            throw RuntimeError.unsupportedRouterEstimator(
                "SparseMixer-v2 routes MoE layers; this \(config.modelType) model has none")
        }
        var problems: [String] = []
        if case .topKThenSoftmax(let softmax, let multiplyScores) = moe.routing {
            problems.append(
                "its routing is top-K → \(softmax ? "softmax" : "raw logits")\(multiplyScores ? " × score scale" : ", unit weights")"
                    + " (softmax → top-K is required)")
        }
        if moe.expertsPerToken != 2 { problems.append("it routes \(moe.expertsPerToken) experts per token (K = 2 is required)") }
        if moe.gateNetwork != .linear { problems.append("its router is an MLP gate (a linear router is required)") }
        guard problems.isEmpty else {
            throw RuntimeError.unsupportedRouterEstimator(
                "SparseMixer-v2 is undefined for this \(config.modelType) model: " + problems.joined(separator: "; "))
        }
    }
}

/// Settings of the SparseMixer-v2 router estimator (`RouterEstimator.sparseMixer`).
///
/// The random draws of a pass are a pure function of (`seed`, `pass`, layer, row of the batch, draw index): a
/// counter-based hash, no generator state. The same options and batch give bit-identical routing whatever the
/// thread count, and a run resumed with its saved `pass` draws exactly the samples it would have drawn.
public struct SparseMixerOptions: Sendable, Equatable, Codable {
    /// ε of the sparsity mask: expert j stays a candidate iff (z* − z_j) / max(|z_j|, z*) ≤ 2ε. GRIN's
    /// `router_jitter_noise` (transformers `PhimoeConfig` default 0.01, which this copies; the SparseMixer repo's
    /// class default is 0.1).
    public var jitterEpsilon: Float
    /// Seed of the run's draws.
    public var seed: UInt64
    /// Which forward pass of the run this is: the trainer increments it once per micro-batch and checkpoints it.
    public var pass: UInt64

    public init(jitterEpsilon: Float = 0.01, seed: UInt64 = 0, pass: UInt64 = 0) {
        self.jitterEpsilon = jitterEpsilon
        self.seed = seed
        self.pass = pass
    }
}
