import IOCore
import Runtime
import TensorCore
import TestSupport
import Testing
import Transforms

/// `FFNImportance.ffnImportance` against its definition: (1/S) Σ_s Σ_t |∂L_s/∂a · a|, with L_s one sequence's loss.
@Suite("Backward FFN importance")
struct BackwardImportanceTests {
    static let sequences: [[Int32]] = {
        var rng = SeededGenerator(seed: 17)
        return [9, 4, 7].map { length in (0..<length).map { _ in Int32(rng.next() % 40) } }
    }()

    /// The definition, one sequence at a time, from the activation gradients of single-sequence passes.
    static func byHand(_ model: LanguageModel) throws -> [[Double]] {
        let F = model.config.intermediateSize
        var scores = [[Double]](repeating: [Double](repeating: 0, count: F), count: model.config.layerCount)
        for s in sequences {
            _ = try model.lossAndActivationGradients([s]) { item in
                for t in 0..<item.rows {
                    for i in 0..<F {
                        let product = Double(item.gradient[t * F + i]) * Double(item.activation[t * F + i])
                        scores[item.layer][i] += abs(product) / Double(sequences.count)
                    }
                }
            }
        }
        return scores
    }

    @Test("importance equals the per-sequence Taylor score, whatever the batching")
    func matchesDefinition() throws {
        Matmul.useSingleThreadedBLAS()
        let model = try BackwardFixtures.model(tied: false)
        let expected = try Self.byHand(model)
        for batchTokens in [1, 13, 2048] {  // one sequence per pass, two passes, one pass
            var done: [Int] = []
            let scores = try FFNImportance.ffnImportance(
                model: model, sequences: Self.sequences, batchTokens: batchTokens, sequencesDone: { done.append($0) })
            // One report per pass, counting sequences cumulatively.
            #expect(done.last == Self.sequences.count)
            #expect(done == done.sorted() && Set(done).count == done.count)
            if batchTokens == 1 { #expect(done == Array(1...Self.sequences.count)) }
            if batchTokens == 2048 { #expect(done == [Self.sequences.count]) }
            #expect(scores.count == 2 && scores.allSatisfy { $0.count == model.config.intermediateSize })
            var worst = 0.0
            for l in 0..<2 {
                let scale = expected[l].max()!
                for i in 0..<scores[l].count { worst = max(worst, abs(Double(scores[l][i]) - expected[l][i]) / scale) }
            }
            #expect(worst < 1e-5, "batchTokens \(batchTokens): relative error \(worst)")
            #expect(scores.allSatisfy { $0.allSatisfy { $0 > 0 } })
        }
    }

    @Test("importance of a hand-sized case: one neuron's score is |∂L/∂a · a| summed over its tokens")
    func handSized() throws {
        Matmul.useSingleThreadedBLAS()
        let model = try BackwardFixtures.model(tied: true, seed: 21)
        let sequence: [Int32] = [3, 14, 15]
        var terms: [Float] = []
        _ = try model.lossAndActivationGradients([sequence]) { item in
            if item.layer == 1 { terms = (0..<item.rows).map { item.gradient[$0 * item.width + 5] * item.activation[$0 * item.width + 5] } }
        }
        // Three positions; the last predicts nothing, so its term is exactly zero.
        #expect(terms.count == 3 && terms[2] == 0 && terms[0] != 0)
        let scores = try FFNImportance.ffnImportance(model: model, sequences: [sequence])
        let expected = abs(terms[0]) + abs(terms[1])
        #expect(abs(scores[1][5] - expected) <= 1e-6 * expected)
    }

    @Test("importance refuses MoE models with the runtime's typed error")
    func moeRefused() throws {
        let config = try ModelConfig(json: try JSONParser.parse("""
            {"model_type": "mixtral", "vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 1,
             "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 24,
             "num_local_experts": 4, "num_experts_per_tok": 2, "max_position_embeddings": 64, "rms_norm_eps": 1e-5}
            """))
        let layout = ParameterLayout(config: config) { $0.contains("block_sparse_moe") }
        let model = LanguageModel(config: config, parameters: ModelParameters(layout: layout))
        #expect(throws: RuntimeError.unsupported("FFN importance: layer 0 is an MoE layer (importance scores a dense model's FFN neurons)")) {
            try FFNImportance.ffnImportance(model: model, sequences: [[1, 2, 3]])
        }
    }
}
