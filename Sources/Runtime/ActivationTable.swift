/// The activation buffers of a forward (and backward) pass, declared once: for each buffer its element type, how
/// many slots it has and how many elements one slot holds (llm.c's `ActivationTensors` + `fill_in_activation_sizes`).
///
/// A per-layer buffer has one slot per decoder layer when activations are kept for a backward pass, and a single
/// slot that every layer reuses otherwise. The forward pass, the backward pass and the MoE layers all address the
/// same table, so what a backward needs (norm inputs and reciprocal RMS, q/k/v after RoPE, router logits and
/// probabilities, selected experts and weights, each expert's gathered inputs and activations) is exactly what the
/// forward left in its layer's slot.
package struct ActivationTable: Sendable {
    /// Every buffer of the table.
    package enum Buffer: Int, CaseIterable, Sendable {
        /// Residual stream: slot 2l is layer l's input, 2l + 1 the stream after its attention block, 2L the output.
        case residual
        /// Normalised attention input [N, D] and its reciprocal RMS [N].
        case norm1, rrms1
        /// Fused projection q | k | v [N, (H + 2·Hkv)·hd], q and k after their norm and RoPE.
        case qkv
        /// q then k before their RMSNorm [N, (H + Hkv)·hd] (families with q/k norms) and their reciprocal RMS
        /// [N, H + Hkv] (one group per row uses its first column).
        case queryKeyPreNorm, queryKeyRRMS
        /// Attention output before o_proj [N, H·hd].
        case attention
        /// Normalised FFN input [N, D] and its reciprocal RMS [N].
        case norm2, rrms2
        /// Dense FFN: fused gate | up projection [N, 2F] and activation silu(gate) ⊙ up [N, F].
        case gateUp, act
        /// Router logits z [N, E], LLaMA-MoE's tanh hidden layer [N, E], probabilities [N, E].
        case routerLogits, routerHidden, routerProbabilities
        /// SparseMixer-v2's second masked softmax π' [N, E] (training with `RouterEstimator.sparseMixer`; the first,
        /// π, is kept in `routerProbabilities`). Reserved only for kept activations of models the estimator is
        /// defined for (softmax → top-2, linear router).
        case routerSecondProbabilities
        /// Selected experts [N, K] (Int32) and their weights [N, K].
        case selected, routeWeights
        /// Token rows grouped by expert [N·K] (Int32), their routing weights [N·K], and the group boundaries
        /// [E + 1] (Int32, prefix offsets into the grouped rows).
        case expertRows, expertWeights, expertOffsets
        /// Per grouped row: the expert's input [N·K, D], fused gate | up [N·K, 2·Fe], activation [N·K, Fe] and
        /// output before weighting [N·K, D].
        case expertInputs, expertGateUp, expertAct, expertOutputs
        /// Shared expert: gate | up [N, 2·Fs], activation [N, Fs], output [N, D], gate logit g·x [N].
        case sharedGateUp, sharedAct, sharedOutput, sharedGateLogit
        /// Final norm output [N, D] and reciprocal RMS [N]; logits [N, V].
        case finalNorm, finalRRMS, logits
        /// Attention scores of one block of query rows per head [H, blockRows, context].
        case scores
        /// Token ids and positions [N] (Int32).
        case tokens, positions
        /// RoPE tables [context, hd/2].
        case ropeCos, ropeSin
        /// Fill cursor of the expert dispatch [E] (Int32).
        case expertCursor

        /// Whether the elements are Int32 (else Float).
        package var isInteger: Bool {
            switch self {
            case .selected, .expertRows, .expertOffsets, .tokens, .positions, .expertCursor: return true
            default: return false
            }
        }
    }

    /// One row of the table.
    package struct Entry: Sendable {
        package let slots: Int
        package let elementsPerSlot: Int
        /// Element offset of slot 0 in the arena of its element type.
        package let offset: Int
    }

    /// Rows of one call (Σ T over the sequences).
    package let rows: Int
    /// Positions per sequence.
    package let context: Int
    /// Whether per-layer buffers have one slot per layer.
    package let keepsActivations: Bool
    package let entries: [Entry]
    /// Widest routed expert Fe (expert e's rows start at `offsets[e]·2·Fe` in `expertGateUp`, `offsets[e]·Fe` in
    /// `expertAct`).
    package let expertWidth: Int
    /// Floats and Int32s in all.
    package let floatCount: Int
    package let integerCount: Int

    /// The table for `config`, calls of up to `rows` tokens and `context` positions per sequence.
    package init(config c: ModelConfig, rows: Int, context: Int, keepActivations: Bool, attentionBlockRows: Int) {
        let N = max(1, rows), T = max(1, context), L = c.layerCount
        self.rows = N
        self.context = T
        keepsActivations = keepActivations
        let D = c.hiddenSize, hd = c.headDim, H = c.headCount, Hkv = c.kvHeadCount
        let qW = H * hd, kvW = Hkv * hd
        let moe = c.moe
        let sparse = (0..<L).filter { moe?.sparseLayers[$0] ?? false }
        let hasDense = sparse.count < L
        let F = hasDense ? c.intermediateSize : 0
        let E = moe?.expertCount ?? 0, K = moe?.expertsPerToken ?? 0
        let Fe = sparse.map { moe!.expertSizes[$0].max() ?? 0 }.max() ?? 0
        expertWidth = Fe
        let Fs = sparse.isEmpty ? 0 : moe?.sharedExpertSize ?? 0
        let qkNorm = c.tensorNames.has(.queryNorm) || c.tensorNames.has(.keyNorm)
        let layerSlots = keepActivations ? L : 1
        let routedRows = sparse.isEmpty ? 0 : N * K
        var sparseMixerDefined = false
        if let moe, !sparse.isEmpty, keepActivations, K == 2, moe.gateNetwork == .linear,
            case .softmaxThenTopK = moe.routing
        {
            sparseMixerDefined = true
        }

        func size(_ buffer: Buffer) -> (slots: Int, perSlot: Int) {
            switch buffer {
            case .residual: return (keepActivations ? 2 * L + 1 : 1, N * D)
            case .norm1, .norm2: return (layerSlots, N * D)
            case .rrms1, .rrms2: return (layerSlots, N)
            case .qkv: return (layerSlots, N * (qW + 2 * kvW))
            case .queryKeyPreNorm: return (layerSlots, qkNorm ? N * (qW + kvW) : 0)
            case .queryKeyRRMS: return (layerSlots, qkNorm ? N * (H + Hkv) : 0)
            case .attention: return (layerSlots, N * qW)
            case .gateUp: return (layerSlots, N * 2 * F)
            case .act: return (layerSlots, N * F)
            case .routerLogits, .routerHidden, .routerProbabilities: return (layerSlots, sparse.isEmpty ? 0 : N * E)
            case .routerSecondProbabilities: return (layerSlots, sparseMixerDefined ? N * E : 0)
            case .selected, .routeWeights, .expertRows, .expertWeights: return (layerSlots, routedRows)
            case .expertOffsets: return (layerSlots, sparse.isEmpty ? 0 : E + 1)
            case .expertInputs, .expertOutputs: return (layerSlots, routedRows * D)
            case .expertGateUp: return (layerSlots, routedRows * 2 * Fe)
            case .expertAct: return (layerSlots, routedRows * Fe)
            case .sharedGateUp: return (layerSlots, N * 2 * Fs)
            case .sharedAct: return (layerSlots, N * Fs)
            case .sharedOutput: return (layerSlots, Fs > 0 ? N * D : 0)
            case .sharedGateLogit: return (layerSlots, Fs > 0 ? N : 0)
            case .finalNorm: return (1, N * D)
            case .finalRRMS: return (1, N)
            case .logits: return (1, N * c.vocabularySize)
            case .scores: return (1, H * attentionBlockRows * T)
            case .tokens, .positions: return (1, N)
            case .ropeCos, .ropeSin: return (1, T * (hd / 2))
            case .expertCursor: return (1, E)
            }
        }
        var floats = 0, integers = 0
        var entries: [Entry] = []
        for buffer in Buffer.allCases {
            let (slots, perSlot) = size(buffer)
            // Slots start on 16-element (64-byte) boundaries: SIMD loads stay aligned and rows never share a line.
            let stride = (perSlot + 15) & ~15
            if buffer.isInteger {
                entries.append(Entry(slots: slots, elementsPerSlot: stride, offset: integers))
                integers += slots * stride
            } else {
                entries.append(Entry(slots: slots, elementsPerSlot: stride, offset: floats))
                floats += slots * stride
            }
        }
        self.entries = entries
        floatCount = floats
        integerCount = integers
    }

    /// Bytes of all buffers.
    package var byteCount: Int { 4 * (floatCount + integerCount) }

    /// Element offset of `buffer`'s slot `slot` in its arena (slot 0 when the buffer has a single slot).
    @inline(__always) package func offset(_ buffer: Buffer, slot: Int) -> Int {
        let entry = entries[buffer.rawValue]
        return entry.offset + (entry.slots == 1 ? 0 : slot) * entry.elementsPerSlot
    }
}
