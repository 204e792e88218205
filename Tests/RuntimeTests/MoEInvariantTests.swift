import IOCore
import Runtime
import TensorCore
import TestSupport
import Testing

/// The two exact identities between an MoE layer and the dense FFN it came from: a neuron partition with every
/// expert selected at weight 1 sums to the dense FFN, and N identical experts under renormalised top-k
/// (Mixtral, transformers `models/mixtral/modeling_mixtral.py`) give Σ_{e∈topk} p_e · FFN(x) = FFN(x).
@Suite("MoE invariants")
struct MoEInvariantTests {
    static let common = """
        "vocab_size": 23, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 64,
        "tie_word_embeddings": false, "intermediate_size": 32
        """

    static func config(_ extra: String) throws -> ModelConfig {
        try ModelConfig(json: try JSONParser.parse("{" + common + extra + "}"))
    }

    /// A dense model with random parameters (norm weights near 1).
    static func denseModel(seed: UInt64) throws -> (ModelConfig, [String: [Float]]) {
        let config = try config(#", "model_type": "llama""#)
        let layout = ParameterLayout(config: config) { _ in false }
        var rng = SeededGenerator(seed: seed)
        var tensors: [String: [Float]] = [:]
        for (name, slice) in layout.names {
            tensors[name] = (0..<slice.count).map { _ in
                name.hasSuffix("norm.weight") ? 1 + rng.nextFloat(scale: 0.1) : rng.nextFloat(scale: 0.3)
            }
        }
        return (config, tensors)
    }

    /// Builds a model of `config` from named tensors.
    static func model(_ config: ModelConfig, _ tensors: [String: [Float]]) throws -> LanguageModel {
        let layout = ParameterLayout(config: config) { tensors[$0] != nil }
        var parameters = ModelParameters(layout: layout)
        for (name, slice) in layout.names {
            let values = try #require(tensors[name], "missing \(name)")
            try #require(values.count == slice.count, "\(name): \(values.count) values for \(slice.shape)")
            parameters.values.replaceSubrange(slice.offset..<(slice.offset + slice.count), with: values)
        }
        return LanguageModel(config: config, parameters: parameters)
    }

    static func randomTokens(_ count: Int, seed: UInt64) -> [Int32] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Int32(rng.next() % 23) }
    }

    @Test("N identical experts with renormalised top-k equal the dense FFN (any router)")
    func identicalExperts() throws {
        Matmul.useSingleThreadedBLAS()
        let (denseConfig, dense) = try Self.denseModel(seed: 11)
        let moeConfig = try Self.config(#", "model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 2"#)
        var rng = SeededGenerator(seed: 12)
        var moe = dense.filter { !$0.key.contains(".mlp.") }
        for l in 0..<2 {
            let p = "model.layers.\(l)."
            moe[p + "block_sparse_moe.gate.weight"] = (0..<(4 * 16)).map { _ in rng.nextFloat(scale: 1) }
            for e in 0..<4 {
                let x = p + "block_sparse_moe.experts.\(e)."
                moe[x + "w1.weight"] = dense[p + "mlp.gate_proj.weight"]
                moe[x + "w3.weight"] = dense[p + "mlp.up_proj.weight"]
                moe[x + "w2.weight"] = dense[p + "mlp.down_proj.weight"]
            }
        }
        let tokens = Self.randomTokens(17, seed: 13)
        let a = try Self.model(denseConfig, dense).logits(tokens)
        let b = try Self.model(moeConfig, moe).logits(tokens)
        let worst = RuntimeFixtures.maxAbsDifference(a.values, b.values)
        print("identical experts: max |Δ| = \(worst)")
        #expect(worst <= 1e-5)
    }

    @Test("A partition of the FFN neurons, all experts selected with weight 1 and scale 1, equals the dense FFN")
    func neuronPartition() throws {
        Matmul.useSingleThreadedBLAS()
        let (denseConfig, dense) = try Self.denseModel(seed: 21)
        let sizes = [[5, 11, 7, 9], [8, 8, 3, 13]]
        let moeConfig = try Self.config("""
            , "model_type": "llama_moe", "num_experts": 4, "num_selects": 4, "size_experts": [[5, 11, 7, 9], [8, 8, 3, 13]],
            "score_scale_factor": 1.0, "multiply_gate_scores": false, "gate_network": "mlp"
            """)
        var rng = SeededGenerator(seed: 22)
        var moe = dense.filter { !$0.key.contains(".mlp.") }
        let D = 16, F = 32
        for l in 0..<2 {
            let p = "model.layers.\(l)."
            moe[p + "mlp.gate.gate_network.0.weight"] = (0..<(4 * D)).map { _ in rng.nextFloat(scale: 1) }
            moe[p + "mlp.gate.gate_network.2.weight"] = (0..<(4 * 4)).map { _ in rng.nextFloat(scale: 1) }
            // A random permutation of the neurons, cut into the expert sizes.
            var order = Array(0..<F)
            for i in stride(from: F - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            let gate = dense[p + "mlp.gate_proj.weight"]!, up = dense[p + "mlp.up_proj.weight"]!
            let down = dense[p + "mlp.down_proj.weight"]!
            var cursor = 0
            for (e, size) in sizes[l].enumerated() {
                let neurons = order[cursor..<(cursor + size)]
                cursor += size
                let x = p + "mlp.calculator.experts."
                moe[x + "weight_gate.\(e)"] = neurons.flatMap { gate[($0 * D)..<($0 * D + D)] }
                moe[x + "weight_up.\(e)"] = neurons.flatMap { up[($0 * D)..<($0 * D + D)] }
                moe[x + "weight_down.\(e)"] = (0..<D).flatMap { row in neurons.map { down[row * F + $0] } }
            }
        }
        let tokens = Self.randomTokens(19, seed: 23)
        let a = try Self.model(denseConfig, dense).logits(tokens)
        let b = try Self.model(moeConfig, moe).logits(tokens)
        let worst = RuntimeFixtures.maxAbsDifference(a.values, b.values)
        print("neuron partition: max |Δ| = \(worst)")
        #expect(worst <= 1e-5)
    }

    @Test("LLaMA-MoE top-k-then-softmax: identical experts with scale s equal the dense FFN scaled by s")
    func scaledIdenticalExperts() throws {
        let (denseConfig, dense) = try Self.denseModel(seed: 31)
        let moeConfig = try Self.config("""
            , "model_type": "llama_moe", "num_experts": 4, "num_selects": 2, "size_experts": [[32, 32, 32, 32], [32, 32, 32, 32]],
            "score_scale_factor": [2.5, 0.5], "gate_network": "linear"
            """)
        var rng = SeededGenerator(seed: 32)
        var moe = dense.filter { !$0.key.contains(".mlp.") }
        var scaledDense = dense
        for (l, scale) in [Float(2.5), 0.5].enumerated() {
            let p = "model.layers.\(l)."
            moe[p + "mlp.gate.gate_network.weight"] = (0..<(4 * 16)).map { _ in rng.nextFloat(scale: 1) }
            for e in 0..<4 {
                let x = p + "mlp.calculator.experts."
                moe[x + "weight_gate.\(e)"] = dense[p + "mlp.gate_proj.weight"]
                moe[x + "weight_up.\(e)"] = dense[p + "mlp.up_proj.weight"]
                moe[x + "weight_down.\(e)"] = dense[p + "mlp.down_proj.weight"]
            }
            scaledDense[p + "mlp.down_proj.weight"] = dense[p + "mlp.down_proj.weight"]!.map { $0 * scale }
        }
        let tokens = Self.randomTokens(13, seed: 33)
        let a = try Self.model(denseConfig, scaledDense).logits(tokens)
        let b = try Self.model(moeConfig, moe).logits(tokens)
        let worst = RuntimeFixtures.maxAbsDifference(a.values, b.values)
        #expect(worst <= 1e-5, "max |Δ| = \(worst)")
    }

    @Test("LLaMA-MoE routing: top-k then softmax over the k, times the scale factor")
    func topKThenSoftmaxRouting() throws {
        let config = try Self.config("""
            , "model_type": "llama_moe", "num_experts": 4, "num_selects": 2, "size_experts": [[8, 8, 8, 8], [8, 8, 8, 8]],
            "score_scale_factor": [2.0, 4.0], "gate_network": "linear", "gate_use_softmax": false
            """)
        #expect(config.moe?.routing == .topKThenSoftmax(softmax: false, multiplyScores: true))
        #expect(config.moe?.scoreScaleFactors == [2, 4])
        #expect(config.moe?.gateNetwork == .linear)
        #expect(config.moe?.expertSizes == [[8, 8, 8, 8], [8, 8, 8, 8]])
    }
}
