import Foundation
@testable import Runtime
import TensorCore
import Testing

/// The runtime as an optimizer drives it: caller-owned parameter buffers, the training forward without KV caches,
/// and a workspace whose per-layer slots keep what a backward pass needs (MoE dispatch included).
@Suite("Decoder driven by an optimizer")
struct DecoderTests {
    /// Two training sequences from the fixture's tokens.
    static func sequences(_ tokens: [Int32]) -> [[Int32]] { [tokens, Array(tokens.prefix(5).reversed())] }

    @Test("The training forward (keys and values read from the projection) equals the cached inference forward",
          arguments: ["tiny_llama", "tiny_qwen3", "tiny_mixtral", "tiny_qwen2_moe"])
    func trainingForwardMatchesInference(name: String) throws {
        Matmul.useSingleThreadedBLAS()
        let (model, tokens, _) = try RuntimeFixtures.load(name)
        let sequences = Self.sequences(tokens)
        let N = sequences.reduce(0) { $0 + $1.count }, D = model.config.hiddenSize, L = model.config.layerCount
        let training = model.makeWorkspace(rows: N, context: tokens.count, keepActivations: true)
        try model.parameters.values.withUnsafeBufferPointer { w in
            try model.decoder.trainingForward(sequences, parameters: w.baseAddress!, workspace: training)
        }
        let inference = model.makeWorkspace(rows: N, context: tokens.count, keepActivations: true)
        let caches = sequences.map { model.makeCache(capacity: $0.count) }
        try model.forward(Array(zip(sequences, caches)).map { (tokens: $0.0, cache: $0.1) }, logits: .none, workspace: inference) { _ in }
        let a = Array(UnsafeBufferPointer(start: training.residual(2 * L), count: N * D))
        let b = Array(UnsafeBufferPointer(start: inference.residual(2 * L), count: N * D))
        let worst = RuntimeFixtures.maxAbsDifference(a, b)
        print("\(name): training vs cached forward, max |Δ hidden| = \(worst)")
        #expect(worst <= 1e-5)
        // An inference workspace cannot hold a training pass.
        let plain = model.makeWorkspace(rows: N, context: tokens.count)
        #expect(throws: RuntimeError.self) {
            try model.parameters.values.withUnsafeBufferPointer { w in
                try model.decoder.trainingForward(sequences, parameters: w.baseAddress!, workspace: plain)
            }
        }
    }

    @Test("Each MoE layer's slot still holds its own routing and expert dispatch after the whole forward",
          arguments: ["tiny_mixtral", "tiny_qwen2_moe", "tiny_olmoe"])
    func moeSlotsKeepTheirLayer(name: String) throws {
        Matmul.useSingleThreadedBLAS()
        let (model, tokens, _) = try RuntimeFixtures.load(name)
        let c = model.config, moe = try #require(c.moe)
        let N = tokens.count, D = c.hiddenSize, E = moe.expertCount, K = moe.expertsPerToken
        let ws = model.makeWorkspace(rows: N, context: N, keepActivations: true)
        try model.forward([(tokens, model.makeCache(capacity: N))], logits: .none, workspace: ws) { _ in }
        let w = model.parameters.values
        var checkedLayers = 0
        for l in 0..<c.layerCount {
            guard case .moe(let p) = model.parameters.layout.layers[l].ffn else { continue }
            checkedLayers += 1
            let a = ws.moe(l), x = ws.norm2(l)
            for n in 0..<N {
                // Router logits recomputed from the layer's FFN input with plain loops (linear router).
                for e in 0..<E {
                    var z: Double = 0
                    for j in 0..<D { z += Double(w[p.router.offset + e * D + j]) * Double(x[n * D + j]) }
                    #expect(abs(Float(z) - a.routerLogits[n * E + e]) <= 1e-4)
                }
                // The selection is the top K of those logits.
                let order = (0..<E).sorted { a.routerLogits[n * E + $0] > a.routerLogits[n * E + $1] }
                #expect(Set((0..<K).map { Int(a.selected[n * K + $0]) }) == Set(order.prefix(K)))
            }
            // Grouped rows: expert e owns exactly the tokens that selected it, with their inputs and weights.
            var mixed = [Float](repeating: 0, count: N * D)
            for e in 0..<E {
                let rows = (Int(a.offsets[e])..<Int(a.offsets[e + 1])).map { Int(a.rows[$0]) }
                let expected = (0..<N).filter { n in (0..<K).contains { Int(a.selected[n * K + $0]) == e } }
                #expect(rows == expected)
                for (i, n) in rows.enumerated() {
                    let slot = Int(a.offsets[e]) + i
                    let k = (0..<K).first { Int(a.selected[n * K + $0]) == e }!
                    #expect(a.rowWeights[slot] == a.weights[n * K + k])
                    for j in 0..<D {
                        #expect(a.inputs[slot * D + j] == x[n * D + j])
                        mixed[n * D + j] += a.rowWeights[slot] * a.outputs[slot * D + j]
                    }
                }
            }
            if let sharedGate = p.sharedGate {
                _ = sharedGate
                for n in 0..<N {
                    let g = 1 / (1 + exp(-a.sharedGateLogit[n]))
                    for j in 0..<D { mixed[n * D + j] += g * a.sharedOutput[n * D + j] }
                }
            } else if p.shared != nil {
                for i in 0..<(N * D) { mixed[i] += a.sharedOutput[i] }
            }
            // Σ weight · expert output (+ shared) is the layer's FFN contribution to the residual stream.
            let before = ws.residual(2 * l + 1), after = ws.residual(2 * l + 2)
            let contribution = (0..<(N * D)).map { after[$0] - before[$0] }
            #expect(RuntimeFixtures.maxAbsDifference(mixed, contribution) <= 1e-5)
        }
        #expect(checkedLayers > 0)
    }

    @Test("An optimizer step mutates caller-owned buffers in place and lowers the loss; the model is untouched")
    func sgdStepThroughBuffers() throws {
        Matmul.useSingleThreadedBLAS()
        let (model, tokens, _) = try RuntimeFixtures.load("tiny_llama")
        let sequences = Self.sequences(tokens)
        let N = sequences.reduce(0) { $0 + $1.count }
        let decoder = model.decoder
        let parameters = ParameterBuffer(copying: model.parameters)
        let gradients = ParameterBuffer(layout: decoder.layout)
        let workspace = BackwardWorkspace(config: model.config, rows: N, context: tokens.count)
        let loss0 = try decoder.lossAndGradients(sequences, parameters: parameters, gradients: gradients, workspace: workspace)
        // Same loss and gradients as the model's own entry point (an independent buffer).
        var reference: [Float] = []
        let referenceLoss = try model.lossAndGradients(sequences, gradients: &reference)
        #expect(loss0 == referenceLoss)
        gradients.withUnsafeBufferPointer { #expect(Array($0) == reference) }
        // In-place SGD step, then the loss at the new point.
        let lr: Float = 0.005
        parameters.withUnsafeMutableBufferPointer { p in
            gradients.withUnsafeBufferPointer { g in for i in 0..<p.count { p[i] -= lr * g[i] } }
        }
        gradients.zero()
        let loss1 = try decoder.lossAndGradients(sequences, parameters: parameters, gradients: gradients, workspace: workspace)
        print("tiny_llama SGD step: loss \(loss0) → \(loss1)")
        #expect(loss1 < loss0)
        // First-order check: for a small step the decrease is lr·‖g‖² up to O(lr²).
        let squaredNorm = reference.reduce(0) { $0 + Double($1) * Double($1) }
        #expect(abs(Double(loss0 - loss1) - Double(lr) * squaredNorm) <= 0.2 * Double(lr) * squaredNorm)
        // The model's parameters did not move; a snapshot of the buffer gives a model with the new loss.
        var again: [Float] = []
        #expect(try model.lossAndGradients(sequences, gradients: &again) == loss0)
        let stepped = LanguageModel(config: model.config, parameters: parameters.snapshot())
        var unused: [Float] = []
        #expect(try stepped.lossAndGradients(sequences, gradients: &unused) == loss1)
        // A gradient buffer of another layout is refused.
        let wrong = ParameterBuffer(layout: try RuntimeFixtures.load("tiny_qwen3").model.parameters.layout)
        #expect(throws: RuntimeError.self) {
            try decoder.lossAndGradients(sequences, parameters: parameters, gradients: wrong, workspace: workspace)
        }
    }

    @Test("The activation table gives per-layer buffers one slot per layer only when activations are kept")
    func activationTableSlots() throws {
        let (model, _, _) = try RuntimeFixtures.load("tiny_qwen2_moe")
        let c = model.config, L = c.layerCount
        let kept = ActivationTable(config: c, rows: 10, context: 12, keepActivations: true, attentionBlockRows: 128)
        let shared = ActivationTable(config: c, rows: 10, context: 12, keepActivations: false, attentionBlockRows: 128)
        #expect(kept.entries[ActivationTable.Buffer.residual.rawValue].slots == 2 * L + 1)
        #expect(shared.entries[ActivationTable.Buffer.residual.rawValue].slots == 1)
        for buffer in [ActivationTable.Buffer.norm1, .qkv, .expertInputs, .expertAct, .selected, .sharedOutput] {
            #expect(kept.entries[buffer.rawValue].slots == L)
            #expect(shared.entries[buffer.rawValue].slots == 1)
        }
        // Hand-sized entries: qkv holds (H + 2·Hkv)·hd per row; the grouped expert rows hold N·K rows of D.
        let qkvWidth = (c.headCount + 2 * c.kvHeadCount) * c.headDim
        #expect(kept.entries[ActivationTable.Buffer.qkv.rawValue].elementsPerSlot == (10 * qkvWidth + 15) / 16 * 16)
        let K = try #require(c.moe).expertsPerToken
        #expect(kept.entries[ActivationTable.Buffer.expertInputs.rawValue].elementsPerSlot == (10 * K * c.hiddenSize + 15) / 16 * 16)
        // Slots are 64-byte aligned and the buffers of one element type tile their arena without overlap.
        var floatEnd = 0, integerEnd = 0
        for buffer in ActivationTable.Buffer.allCases {
            let entry = kept.entries[buffer.rawValue]
            #expect(entry.offset % 16 == 0 && entry.elementsPerSlot % 16 == 0)
            if buffer.isInteger {
                #expect(entry.offset == integerEnd)
                integerEnd += entry.slots * entry.elementsPerSlot
            } else {
                #expect(entry.offset == floatEnd)
                floatEnd += entry.slots * entry.elementsPerSlot
            }
        }
        #expect(floatEnd == kept.floatCount && integerEnd == kept.integerCount)
        #expect(kept.byteCount > shared.byteCount)
    }
}
