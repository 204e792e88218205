import Foundation

/// Preallocated activations and scratch for forward (and backward) passes of up to `rows` tokens with up to
/// `context` positions per sequence, laid out by one `ActivationTable`. Nothing is allocated in the hot loop.
///
/// With `keepActivations` every per-layer buffer has one slot per layer, so after a forward pass each layer's slot
/// holds what its backward needs (including the MoE dispatch: grouped rows, expert inputs and activations); for
/// inference one slot is reused by all layers.
///
/// A workspace is mutable scratch owned by one caller at a time: it is deliberately not `Sendable`. Give each
/// thread its own.
public final class Workspace {
    /// Row capacity (N, tokens per call).
    public let rows: Int
    /// Positions per sequence the attention scratch and RoPE tables cover.
    public let context: Int
    /// Whether per-layer activations are kept (training).
    public let keepActivations: Bool
    /// Query rows per attention block.
    static let blockRows = 128
    /// The layout of the buffers.
    package let table: ActivationTable
    private let floats: UnsafeMutablePointer<Float>
    private let integers: UnsafeMutablePointer<Int32>

    /// Allocates a workspace for `config` (zero-filled; pages are only touched when used).
    public init(config c: ModelConfig, rows: Int, context: Int, keepActivations: Bool = false) {
        table = ActivationTable(
            config: c, rows: rows, context: context, keepActivations: keepActivations, attentionBlockRows: Self.blockRows)
        self.rows = table.rows
        self.context = table.context
        self.keepActivations = keepActivations
        // calloc: large blocks come from fresh zero pages, so buffers a call never uses cost no memory.
        floats = calloc(max(1, table.floatCount), 4)!.bindMemory(to: Float.self, capacity: max(1, table.floatCount))
        integers = calloc(max(1, table.integerCount), 4)!.bindMemory(to: Int32.self, capacity: max(1, table.integerCount))
        Rope.fill(cos: self[.ropeCos], sin: self[.ropeSin], positions: self.context, config: c)
    }

    deinit {
        free(floats)
        free(integers)
    }

    /// Bytes held by the buffers.
    public var byteCount: Int { table.byteCount }

    /// Whether this workspace serves a call of `rows` tokens with sequences up to `context` positions.
    func fits(rows needed: Int, context neededContext: Int) -> Bool { needed <= rows && neededContext <= context }

    /// Float buffer `buffer`, slot `slot` (per-layer buffers: the layer; ignored for single-slot buffers).
    @inline(__always) package subscript(_ buffer: ActivationTable.Buffer, slot slot: Int = 0) -> UnsafeMutablePointer<Float> {
        assert(!buffer.isInteger)
        return floats + table.offset(buffer, slot: slot)
    }

    /// Int32 buffer `buffer`, slot `slot`.
    @inline(__always) package subscript(integers buffer: ActivationTable.Buffer, slot slot: Int = 0) -> UnsafeMutablePointer<Int32> {
        assert(buffer.isInteger)
        return integers + table.offset(buffer, slot: slot)
    }

    // Named accessors used by the passes (layer `l`).
    var tokens: UnsafeMutablePointer<Int32> { self[integers: .tokens] }
    var positions: UnsafeMutablePointer<Int32> { self[integers: .positions] }
    var ropeCos: UnsafeMutablePointer<Float> { self[.ropeCos] }
    var ropeSin: UnsafeMutablePointer<Float> { self[.ropeSin] }
    var scores: UnsafeMutablePointer<Float> { self[.scores] }
    var finalNorm: UnsafeMutablePointer<Float> { self[.finalNorm] }
    var finalRRMS: UnsafeMutablePointer<Float> { self[.finalRRMS] }
    var logits: UnsafeMutablePointer<Float> { self[.logits] }
    func residual(_ index: Int) -> UnsafeMutablePointer<Float> { self[.residual, slot: index] }
    func norm1(_ l: Int) -> UnsafeMutablePointer<Float> { self[.norm1, slot: l] }
    func rrms1(_ l: Int) -> UnsafeMutablePointer<Float> { self[.rrms1, slot: l] }
    func qkv(_ l: Int) -> UnsafeMutablePointer<Float> { self[.qkv, slot: l] }
    func attention(_ l: Int) -> UnsafeMutablePointer<Float> { self[.attention, slot: l] }
    func norm2(_ l: Int) -> UnsafeMutablePointer<Float> { self[.norm2, slot: l] }
    func rrms2(_ l: Int) -> UnsafeMutablePointer<Float> { self[.rrms2, slot: l] }
    func gateUp(_ l: Int) -> UnsafeMutablePointer<Float> { self[.gateUp, slot: l] }
    func act(_ l: Int) -> UnsafeMutablePointer<Float> { self[.act, slot: l] }
    func queryKeyPreNorm(_ l: Int) -> UnsafeMutablePointer<Float> { self[.queryKeyPreNorm, slot: l] }
    func queryKeyRRMS(_ l: Int) -> UnsafeMutablePointer<Float> { self[.queryKeyRRMS, slot: l] }

    /// Layer `l`'s router outputs and expert dispatch.
    package func moe(_ l: Int) -> MoEActivations {
        MoEActivations(
            routerLogits: self[.routerLogits, slot: l], routerHidden: self[.routerHidden, slot: l],
            probabilities: self[.routerProbabilities, slot: l],
            secondProbabilities: self[.routerSecondProbabilities, slot: l], selected: self[integers: .selected, slot: l],
            weights: self[.routeWeights, slot: l], rows: self[integers: .expertRows, slot: l],
            rowWeights: self[.expertWeights, slot: l], offsets: self[integers: .expertOffsets, slot: l],
            cursor: self[integers: .expertCursor], expertWidth: table.expertWidth, inputs: self[.expertInputs, slot: l],
            gateUp: self[.expertGateUp, slot: l], act: self[.expertAct, slot: l], outputs: self[.expertOutputs, slot: l],
            sharedGateUp: self[.sharedGateUp, slot: l], sharedAct: self[.sharedAct, slot: l],
            sharedOutput: self[.sharedOutput, slot: l], sharedGateLogit: self[.sharedGateLogit, slot: l])
    }
}
