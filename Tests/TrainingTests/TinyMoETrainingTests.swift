import Foundation
import IOCore
import Runtime
import TensorCore
import TestSupport
import Testing
import Training

/// A tiny Mixtral-style model trained a few hundred AdamW steps through caller-owned buffers: the validation loss
/// falls, the load-balancing loss pulls the expert load toward uniform, and the z-loss lowers the router logsumexp.
@Suite("Tiny MoE training", .serialized)
struct TinyMoETrainingTests {
    static let vocabulary = 40

    static func model(seed: UInt64) throws -> LanguageModel {
        let config = try ModelConfig(json: try JSONParser.parse("""
            {"model_type": "mixtral", "vocab_size": \(vocabulary), "hidden_size": 16, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
             "max_position_embeddings": 64, "tie_word_embeddings": false, "intermediate_size": 8,
             "num_local_experts": 4, "num_experts_per_tok": 2}
            """))
        let layout = ParameterLayout(config: config) { !$0.hasSuffix("bias") && !$0.contains("_norm") }
        var parameters = ModelParameters(layout: layout)
        var rng = SeededGenerator(seed: seed)
        for (name, slice) in layout.names {
            for i in 0..<slice.count {
                // A router that starts skewed toward some experts, so balancing has something to do.
                let skew: Float = name.hasSuffix("gate.weight") && !name.contains("proj") ? 1.5 : 0.3
                parameters.values[slice.offset + i] = name.hasSuffix("norm.weight") ? 1 : rng.nextFloat(scale: skew)
            }
        }
        return LanguageModel(config: config, parameters: parameters)
    }

    /// Sequences of a few arithmetic "programs" (next = a·token + b mod V), learnable by a tiny model.
    static func sequences(count: Int, seed: UInt64) -> [[Int32]] {
        var rng = SeededGenerator(seed: seed)
        let programs: [(Int, Int)] = [(1, 1), (1, 3), (3, 2), (7, 5)]
        return (0..<count).map { _ in
            let (a, b) = programs[Int(rng.next() % UInt64(programs.count))]
            var token = Int(rng.next() % UInt64(vocabulary))
            return (0..<16).map { _ in
                defer { token = (a * token + b) % vocabulary }
                return Int32(token)
            }
        }
    }

    /// Trains `steps` AdamW steps on batches of 8 sequences; returns the validation breakdown before and after.
    static func train(
        steps: Int, routerLosses: RouterLossOptions, seed: UInt64 = 1
    ) throws -> (before: LossBreakdown, after: LossBreakdown) {
        Matmul.useSingleThreadedBLAS()
        let model = try model(seed: seed)
        let decoder = model.decoder
        let parameters = ParameterBuffer(copying: model.parameters)
        let gradients = ParameterBuffer(layout: decoder.layout)
        let optimizer = AdamW(layout: decoder.layout, settings: AdamW.Settings(weightDecay: 0))
        let workspace = BackwardWorkspace(config: model.config, rows: 8 * 16, context: 16)
        let validation = sequences(count: 8, seed: 999)
        // Validation is measured with both auxiliary losses reported (their weights do not change the parts).
        let report = RouterLossOptions(loadBalancing: 1e-9, zLoss: 1e-9)
        func evaluate() throws -> LossBreakdown {
            try decoder.lossAndGradients(validation, parameters: parameters, gradients: gradients, routerLosses: report, workspace: workspace)
        }
        let before = try evaluate()
        for step in 0..<steps {
            gradients.zero()
            _ = try decoder.lossAndGradients(
                sequences(count: 8, seed: UInt64(step)), parameters: parameters, gradients: gradients,
                routerLosses: routerLosses, workspace: workspace)
            clipGradientNorm(gradients, maxNorm: 1)
            optimizer.update(parameters: parameters, gradients: gradients, learningRate: 1e-2)
        }
        gradients.zero()
        return (before, try evaluate())
    }

    @Test("cross-entropy alone: validation loss falls well below its start")
    func lossFalls() throws {
        let run = try Self.train(steps: 300, routerLosses: RouterLossOptions())
        print("CE only: validation CE \(run.before.crossEntropy) → \(run.after.crossEntropy)")
        #expect(run.after.crossEntropy < 0.6 * run.before.crossEntropy)
    }

    @Test("load balancing moves the load-balancing loss toward its balanced value; z-loss lowers logsumexp²")
    func auxiliaryLossesAct() throws {
        let plain = try Self.train(steps: 300, routerLosses: RouterLossOptions())
        let balanced = try Self.train(steps: 300, routerLosses: RouterLossOptions(loadBalancing: 0.1))
        let zRegularised = try Self.train(steps: 300, routerLosses: RouterLossOptions(zLoss: 0.05))
        print("LB (balanced K = \(plain.after.loadBalancingBalanced)): start \(plain.before.loadBalancing), without \(plain.after.loadBalancing), with \(balanced.after.loadBalancing)")
        print("z-loss: start \(plain.before.zLoss), without \(plain.after.zLoss), with \(zRegularised.after.zLoss)")
        #expect(abs(balanced.after.loadBalancing - balanced.after.loadBalancingBalanced)
            < abs(plain.after.loadBalancing - plain.after.loadBalancingBalanced))
        #expect(zRegularised.after.zLoss < 0.5 * plain.after.zLoss)
        // Both still learn the task.
        #expect(balanced.after.crossEntropy < 0.6 * balanced.before.crossEntropy)
        #expect(zRegularised.after.crossEntropy < 0.6 * zRegularised.before.crossEntropy)
    }
}
