import Foundation
import Formats

/// Preallocated activations and scratch for forward passes of up to `rows` tokens with up to `context`
/// positions per sequence (llm.c's `ActivationTensors`). Nothing is allocated in the hot loop; a model grows its
/// workspace only when a call needs more rows or context than any call before.
///
/// With `keepActivations` every per-layer activation that a backward pass needs gets its own slot per layer
/// (residual stream before and after attention, normalised inputs and reciprocal RMS, q/k/v after RoPE, attention
/// output, FFN gate/up/act, router logits/probabilities/selection); for inference one slot is reused by all layers.
public final class Workspace: @unchecked Sendable {
    /// Row capacity (N, tokens per call).
    public let rows: Int
    /// Positions per sequence the attention scratch and RoPE tables cover.
    public let context: Int
    /// Whether per-layer activations are kept (training).
    public let keepActivations: Bool
    /// Query rows per attention block.
    static let blockRows = 128

    private var buffers: [UnsafeMutableRawPointer] = []
    private let layers: Int

    // Activations (per layer when `keepActivations`; slot accessors below).
    let residual: UnsafeMutablePointer<Float>    // [slots(2L+1), N, D]
    let norm1: UnsafeMutablePointer<Float>       // [slots(L), N, D]
    let rrms1: UnsafeMutablePointer<Float>       // [slots(L), N]
    /// Fused projection: q | k | v columns (after RoPE for q and k).
    let qkv: UnsafeMutablePointer<Float>         // [slots(L), N, (H + 2·Hkv)·hd]
    let attention: UnsafeMutablePointer<Float>   // [slots(L), N, H·hd]
    let norm2: UnsafeMutablePointer<Float>       // [slots(L), N, D]
    let rrms2: UnsafeMutablePointer<Float>       // [slots(L), N]
    /// Fused FFN projection: gate | up columns.
    let gateUp: UnsafeMutablePointer<Float>      // [slots(L), N, 2F]
    let act: UnsafeMutablePointer<Float>         // [slots(L), N, F]
    let routerLogits: UnsafeMutablePointer<Float>    // [slots(L), N, E]
    let routerHidden: UnsafeMutablePointer<Float>    // [slots(L), N, E]
    let routerProbabilities: UnsafeMutablePointer<Float> // [slots(L), N, E]
    let selected: UnsafeMutablePointer<Int32>    // [slots(L), N, K]
    let routeWeights: UnsafeMutablePointer<Float> // [slots(L), N, K]
    /// q and k before their RMSNorm (families with q/k norms): q [N, H·hd] then k [N, Hkv·hd] per slot.
    let queryKeyPreNorm: UnsafeMutablePointer<Float> // [slots(L), N, (H + Hkv)·hd]
    /// 1/rms of every q/k norm group: q [N, H] then k [N, Hkv] per slot (one group per row uses column 0).
    let queryKeyRRMS: UnsafeMutablePointer<Float>    // [slots(L), N, H + Hkv]
    // Scratch.
    let moe: MoEScratch
    let finalNorm: UnsafeMutablePointer<Float>   // [N, D]
    let finalRRMS: UnsafeMutablePointer<Float>   // [N]
    let logits: UnsafeMutablePointer<Float>      // [N, V]
    let scores: UnsafeMutablePointer<Float>      // [H, blockRows, context]
    let positions: UnsafeMutablePointer<Int32>   // [N]
    let tokens: UnsafeMutablePointer<Int32>      // [N]
    let ropeCos: UnsafeMutablePointer<Float>     // [context, hd/2]
    let ropeSin: UnsafeMutablePointer<Float>     // [context, hd/2]

    private let sizes: (D: Int, qW: Int, kvW: Int, F: Int, E: Int, K: Int, heads: Int, qkNorm: Bool)

    /// Allocates a workspace for `config`.
    public init(config c: ModelConfig, rows: Int, context: Int, keepActivations: Bool = false) {
        self.rows = max(1, rows)
        self.context = max(1, context)
        self.keepActivations = keepActivations
        layers = c.layerCount
        let N = self.rows, L = c.layerCount
        let D = c.hiddenSize, qW = c.headCount * c.headDim, kvW = c.kvHeadCount * c.headDim
        var F = c.intermediateSize
        var expertMax = 0
        if let moe = c.moe {
            for l in 0..<L where moe.sparseLayers[l] { expertMax = max(expertMax, moe.expertSizes[l].max() ?? 0) }
            expertMax = max(expertMax, moe.sharedExpertSize ?? 0)
        }
        F = max(F, expertMax)
        let E = c.moe?.expertCount ?? 0, K = c.moe?.expertsPerToken ?? 0
        let qkNorm = c.tensorNames.has(.queryNorm) || c.tensorNames.has(.keyNorm)
        sizes = (D, qW, kvW, F, E, K, c.headCount + c.kvHeadCount, qkNorm)
        let slots = keepActivations ? L : 1
        var list: [UnsafeMutableRawPointer] = []
        func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
            p.initialize(repeating: 0, count: max(1, count))
            list.append(UnsafeMutableRawPointer(p))
            return p
        }
        func ints(_ count: Int) -> UnsafeMutablePointer<Int32> {
            let p = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, count))
            p.initialize(repeating: 0, count: max(1, count))
            list.append(UnsafeMutableRawPointer(p))
            return p
        }
        residual = floats((keepActivations ? 2 * L + 1 : 1) * N * D)
        norm1 = floats(slots * N * D)
        rrms1 = floats(slots * N)
        qkv = floats(slots * N * (qW + 2 * kvW))
        attention = floats(slots * N * qW)
        norm2 = floats(slots * N * D)
        rrms2 = floats(slots * N)
        gateUp = floats(slots * N * 2 * c.intermediateSize)
        act = floats(slots * N * c.intermediateSize)
        routerLogits = floats(slots * N * E)
        routerHidden = floats(slots * N * E)
        routerProbabilities = floats(slots * N * E)
        selected = ints(slots * N * K)
        routeWeights = floats(slots * N * K)
        queryKeyPreNorm = floats(qkNorm ? slots * N * (qW + kvW) : 0)
        queryKeyRRMS = floats(qkNorm ? slots * N * (c.headCount + c.kvHeadCount) : 0)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 2 * E + 1)
        counts.initialize(repeating: 0, count: 2 * E + 1)
        list.append(UnsafeMutableRawPointer(counts))
        moe = MoEScratch(
            rowsOfExpert: ints(N * K), weightsOfExpert: floats(N * K), counts: counts, cursor: counts + E + 1, gathered: floats(E > 0 ? N * D : 0),
            gateUp: floats(E > 0 ? 2 * N * F : 0), act: floats(E > 0 ? N * F : 0),
            expertOut: floats(E > 0 ? N * D : 0))
        finalNorm = floats(N * D)
        finalRRMS = floats(N)
        logits = floats(N * c.vocabularySize)
        scores = floats(c.headCount * Self.blockRows * self.context)
        positions = ints(N)
        tokens = ints(N)
        let half = c.headDim / 2
        ropeCos = floats(self.context * half)
        ropeSin = floats(self.context * half)
        buffers = list
        Rope.fill(cos: ropeCos, sin: ropeSin, positions: self.context, config: c)
    }

    deinit {
        for buffer in buffers { buffer.deallocate() }
    }

    /// Whether this workspace serves a call of `rows` tokens with sequences up to `context` positions.
    func fits(rows needed: Int, context neededContext: Int) -> Bool { needed <= rows && neededContext <= context }

    // Slot accessors: layer `l`'s part of a per-layer buffer (slot 0 for every layer in inference mode).
    @inline(__always) private func slot(_ l: Int) -> Int { keepActivations ? l : 0 }
    func residual(_ index: Int) -> UnsafeMutablePointer<Float> { residual + (keepActivations ? index : 0) * rows * sizes.D }
    func norm1(_ l: Int) -> UnsafeMutablePointer<Float> { norm1 + slot(l) * rows * sizes.D }
    func rrms1(_ l: Int) -> UnsafeMutablePointer<Float> { rrms1 + slot(l) * rows }
    func qkv(_ l: Int) -> UnsafeMutablePointer<Float> { qkv + slot(l) * rows * (sizes.qW + 2 * sizes.kvW) }
    func attention(_ l: Int) -> UnsafeMutablePointer<Float> { attention + slot(l) * rows * sizes.qW }
    func norm2(_ l: Int) -> UnsafeMutablePointer<Float> { norm2 + slot(l) * rows * sizes.D }
    func rrms2(_ l: Int) -> UnsafeMutablePointer<Float> { rrms2 + slot(l) * rows }
    func gateUp(_ l: Int, width: Int) -> UnsafeMutablePointer<Float> { gateUp + slot(l) * rows * 2 * width }
    func act(_ l: Int, width: Int) -> UnsafeMutablePointer<Float> { act + slot(l) * rows * width }
    func routerLogits(_ l: Int) -> UnsafeMutablePointer<Float> { routerLogits + slot(l) * rows * sizes.E }
    func routerHidden(_ l: Int) -> UnsafeMutablePointer<Float> { routerHidden + slot(l) * rows * sizes.E }
    func routerProbabilities(_ l: Int) -> UnsafeMutablePointer<Float> { routerProbabilities + slot(l) * rows * sizes.E }
    func selected(_ l: Int) -> UnsafeMutablePointer<Int32> { selected + slot(l) * rows * sizes.K }
    func routeWeights(_ l: Int) -> UnsafeMutablePointer<Float> { routeWeights + slot(l) * rows * sizes.K }
    func queryKeyPreNorm(_ l: Int) -> UnsafeMutablePointer<Float> { queryKeyPreNorm + slot(l) * rows * (sizes.qW + sizes.kvW) }
    func queryKeyRRMS(_ l: Int) -> UnsafeMutablePointer<Float> { queryKeyRRMS + slot(l) * rows * sizes.heads }
}
