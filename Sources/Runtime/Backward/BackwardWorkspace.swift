/// Everything a forward + backward pass over up to `rows` tokens (sequences of up to `context` tokens) needs,
/// allocated once: a forward `Workspace` that keeps every layer's activations, and the activation-gradient buffers
/// (llm.c's `grads_acts`), which are reused by every layer.
///
/// Memory is dominated by the kept activations: about (4·D + 2 + (H + 2·Hkv)·hd + H·hd + 3·F) floats per token and
/// layer (≈ 1 MB per token for SmolLM2-135M), plus the [rows, V] logits buffer that the fused LM head +
/// cross-entropy uses once. Mutable scratch owned by one caller at a time: deliberately not `Sendable`.
public final class BackwardWorkspace {
    /// Row capacity (Σ T over the sequences of one call).
    public let rows: Int
    /// Longest sequence.
    public let context: Int
    /// Forward activations, one slot per layer.
    package let forward: Workspace
    private var buffers: [UnsafeMutablePointer<Float>] = []

    let dResidual: UnsafeMutablePointer<Float>      // [N, D], gradient of the residual stream being walked back
    let dNorm: UnsafeMutablePointer<Float>          // [N, D], gradient of a norm output (final, norm1, norm2)
    let dQKV: UnsafeMutablePointer<Float>           // [N, (H + 2·Hkv)·hd]
    let dAttention: UnsafeMutablePointer<Float>     // [N, H·hd]
    let dGateUp: UnsafeMutablePointer<Float>        // [N, 2F]
    let dAct: UnsafeMutablePointer<Float>           // [N, F]
    let attentionScratch: UnsafeMutablePointer<Float> // [Hkv, 2, blockRows, context]
    let rowWeights: UnsafeMutablePointer<Float>     // [N], loss weight of each position (0: no next token)
    /// [V] scratch of the distillation gradient.
    let distillationScratch: UnsafeMutablePointer<Float>
    /// MoE layers' backward scratch (empty for dense models).
    let moe: MoEGradientScratch
    let targets: UnsafeMutablePointer<Int32>        // [N], next token of each position

    /// Allocates a workspace for `config`, for calls of up to `rows` tokens in sequences of up to `context` tokens.
    public init(config c: ModelConfig, rows: Int, context: Int) {
        self.rows = max(1, rows)
        self.context = max(1, context)
        forward = Workspace(config: c, rows: self.rows, context: self.context, keepActivations: true)
        let N = self.rows, D = c.hiddenSize, qW = c.headCount * c.headDim, kvW = c.kvHeadCount * c.headDim
        let F = c.intermediateSize
        var list: [UnsafeMutablePointer<Float>] = []
        func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
            p.initialize(repeating: 0, count: max(1, count))
            list.append(p)
            return p
        }
        dResidual = floats(N * D)
        dNorm = floats(N * D)
        dQKV = floats(N * (qW + 2 * kvW))
        dAttention = floats(N * qW)
        dGateUp = floats(N * 2 * F)
        dAct = floats(N * F)
        attentionScratch = floats(c.kvHeadCount * 2 * Workspace.blockRows * self.context)
        rowWeights = floats(N)
        distillationScratch = floats(c.vocabularySize)
        let table = forward.table
        let moeConfig = c.moe
        let sparse = moeConfig.map { m in (0..<c.layerCount).contains { m.sparseLayers[$0] } } ?? false
        let E = sparse ? moeConfig!.expertCount : 0, K = sparse ? moeConfig!.expertsPerToken : 0
        let Fe = table.expertWidth, Fs = sparse ? moeConfig!.sharedExpertSize ?? 0 : 0
        moe = MoEGradientScratch(
            slotGradient: floats(N * K * D), dAct: floats(N * K * Fe), dGateUp: floats(N * K * 2 * Fe), dWeights: floats(N * K),
            dLogits: floats(N * E), dHidden: floats(N * E), sharedGradient: floats(Fs > 0 ? N * D : 0),
            sharedDAct: floats(N * Fs), sharedDGateUp: floats(N * 2 * Fs), auxProbabilities: floats(N * E), logSumExp: floats(E > 0 ? N : 0))
        targets = UnsafeMutablePointer<Int32>.allocate(capacity: N)
        targets.initialize(repeating: 0, count: N)
        buffers = list
    }

    deinit {
        for buffer in buffers { buffer.deallocate() }
        targets.deallocate()
    }

    /// Whether a call of `rows` tokens with sequences up to `context` tokens fits.
    func fits(rows needed: Int, context neededContext: Int) -> Bool { needed <= rows && neededContext <= context }

}
