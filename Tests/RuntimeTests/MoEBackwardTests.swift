import Foundation
import IOCore
import Runtime
import TensorCore
import TestSupport
import Testing

/// Finite-difference checks of the MoE backward: every routing the runtime runs, linear and MLP routers, experts of
/// different widths, the shared expert with its sigmoid gate, dense and sparse layers mixed, q/k norms; against
/// central differences of the Double reference (`ReferenceLlama`, which routes with its own code).
@Suite("MoE backward")
struct MoEBackwardTests {
    /// A 2-layer random MoE model of `family` (extra config keys in `fields`); `has` says which optional tensors
    /// exist (biases, q/k norms, shared-expert gate).
    static func model(_ fields: String, has: @escaping (String) -> Bool, seed: UInt64) throws -> LanguageModel {
        let config = try ModelConfig(json: try JSONParser.parse("""
            {"vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 64,
             "tie_word_embeddings": false, \(fields)}
            """))
        let layout = ParameterLayout(config: config, has: has)
        var parameters = ModelParameters(layout: layout)
        var rng = SeededGenerator(seed: seed)
        for (name, slice) in layout.names {
            for i in 0..<slice.count {
                // Routers get larger weights so the top-k margins exceed the finite-difference step by far.
                let scale: Float = name.contains("gate.weight") && !name.contains("proj") || name.contains("gate_network") ? 1.5 : 0.4
                parameters.values[slice.offset + i] = name.hasSuffix("norm.weight") ? 1 + rng.nextFloat(scale: 0.2) : rng.nextFloat(scale: scale)
            }
        }
        return LanguageModel(config: config, parameters: parameters)
    }

    static let families: [(name: String, fields: String, has: @Sendable (String) -> Bool)] = [
        ("mixtral (softmax → top-2, renormalised)",
         #""model_type": "mixtral", "intermediate_size": 6, "num_local_experts": 4, "num_experts_per_tok": 2"#,
         { !$0.hasSuffix("bias") && !$0.contains("_norm") }),
        ("qwen2-moe (not renormalised, shared expert + sigmoid gate, q/k/v biases, a dense layer)",
         #""model_type": "qwen2_moe", "intermediate_size": 12, "moe_intermediate_size": 6, "shared_expert_intermediate_size": 10, "num_experts": 4, "num_experts_per_tok": 2, "norm_topk_prob": false, "decoder_sparse_step": 1, "mlp_only_layers": [1]"#,
         { !$0.contains("_norm") }),
        ("olmoe (not renormalised, q/k norm over the projection)",
         #""model_type": "olmoe", "intermediate_size": 6, "num_experts": 4, "num_experts_per_tok": 2, "norm_topk_prob": false"#,
         { !$0.hasSuffix("bias") }),
        ("llama-moe (MLP gate, top-2 → softmax × per-layer scale, experts of different widths)",
         #""model_type": "llama_moe", "intermediate_size": 24, "num_experts": 4, "num_selects": 2, "size_experts": [[5, 7, 6, 4], [6, 6, 6, 6]], "score_scale_factor": [2.0, 1.5], "gate_network": "mlp", "gate_use_softmax": true"#,
         { !$0.hasSuffix("bias") && !$0.contains("_norm") }),
        ("llama-moe (linear gate, raw top-2 logits × scale)",
         #""model_type": "llama_moe", "intermediate_size": 24, "num_experts": 4, "num_selects": 2, "size_experts": [[6, 6, 6, 6], [6, 6, 6, 6]], "score_scale_factor": 2.0, "gate_network": "linear", "gate_use_softmax": false"#,
         { !$0.hasSuffix("bias") && !$0.contains("_norm") }),
    ]

    @Test("every parameter of every MoE family matches finite differences", arguments: 0..<5)
    func finiteDifferences(family index: Int) throws {
        let family = Self.families[index]
        let model = try Self.model(family.fields, has: family.has, seed: UInt64(40 + index))
        #expect(model.config.moe != nil)
        let worst = try BackwardGradientTests().check(model)
        print("\(family.name) max relative FD error:", worst.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1e", $0.value))" })
        for (kind, error) in worst { #expect(error < 1e-3, "\(family.name) \(kind): relative error \(error)") }
        // The router's gradient is not trivially zero (the routing weights reach it).
        var gradients: [Float] = []
        _ = try model.lossAndGradients(BackwardFixtures.sequences, gradients: &gradients)
        for layer in model.parameters.layout.layers {
            guard case .moe(let m) = layer.ffn else { continue }
            let routerNorm = gradients[m.router.offset..<(m.router.offset + m.router.count)].reduce(0) { $0 + abs($1) }
            #expect(routerNorm > 0)
        }
    }

    @Test("the same inputs give bit-identical gradients (deterministic dispatch and reductions)")
    func deterministic() throws {
        let family = Self.families[1]
        let model = try Self.model(family.fields, has: family.has, seed: 41)
        Matmul.useSingleThreadedBLAS()
        var a: [Float] = [], b: [Float] = []
        let la = try model.lossAndGradients(BackwardFixtures.sequences, gradients: &a)
        let lb = try model.lossAndGradients(BackwardFixtures.sequences, gradients: &b)
        #expect(la == lb && a == b)
    }

    @Test("load-balancing (HF, megablocks and LLaMA-MoE CV² conventions) and z-loss gradients match finite differences",
          arguments: [RouterLossOptions.LoadBalancingStyle.hf, .megablocks, .llamaMoE])
    func auxiliaryLosses(style: RouterLossOptions.LoadBalancingStyle) throws {
        Matmul.useSingleThreadedBLAS()
        let options = RouterLossOptions(loadBalancing: 0.5, loadBalancingStyle: style, zLoss: 0.1)
        for index in [0, 1, 3] {
            let family = Self.families[index]
            let model = try Self.model(family.fields, has: family.has, seed: UInt64(60 + index))
            let decoder = model.decoder
            let parameters = ParameterBuffer(copying: model.parameters)
            let gradients = ParameterBuffer(layout: decoder.layout)
            let sequences = BackwardFixtures.sequences
            let workspace = BackwardWorkspace(config: model.config, rows: 13, context: 7)
            let loss = try decoder.lossAndGradients(
                sequences, parameters: parameters, gradients: gradients, routerLosses: options, workspace: workspace)
            let reference = BackwardFixtures.reference(model)
            let base = model.parameters.values.map(Double.init)
            // The total equals the reference's CE + α·LB + β·Z; the balanced value is K (HF) or 1 (megablocks).
            let expectedTotal = reference.loss(base, sequences, routerLosses: options)
            #expect(abs(Double(loss.total) - expectedTotal) <= 1e-4 * abs(expectedTotal))
            let balancedValue: Float = style == .hf ? Float(model.config.moe!.expertsPerToken) : style == .megablocks ? 1 : 0
            #expect(loss.loadBalancingBalanced == balancedValue)
            #expect(loss.loadBalancing > 0 && loss.zLoss > 0)
            // Router entries (where the auxiliary terms act) against central differences of the reference.
            var rng = SeededGenerator(seed: 7)
            var indices: [Int] = []
            for layer in model.parameters.layout.layers {
                guard case .moe(let m) = layer.ffn else { continue }
                indices += (0..<6).map { _ in m.router.offset + Int(rng.next() % UInt64(m.router.count)) }
            }
            let worst = BackwardGradientTests.worstRelativeError(indices: indices, base: base, gradients: gradients) {
                reference.loss($0, sequences, routerLosses: options)
            }
            print("\(family.name), \(style): loss \(loss), router max relative FD error \(String(format: "%.1e", worst))")
            #expect(worst < 1e-3)
        }
    }
}
