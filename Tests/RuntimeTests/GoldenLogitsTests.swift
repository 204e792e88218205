import Foundation
import Runtime
import TensorCore
import Testing

@Suite("Golden logits of tiny models")
struct GoldenLogitsTests {
    @Test(
        "Tiny models match their oracles to 1e-5",
        arguments: [
        "tiny_llama", "tiny_llama_rope3", "tiny_llama_linear", "tiny_mixtral", "tiny_qwen2_moe", "tiny_olmoe",
        "tiny_mistral", "tiny_qwen2", "tiny_qwen3", "tiny_llama3",
    ])
    func matchesOracle(name: String) throws {
        Matmul.useSingleThreadedBLAS()
        let (model, tokens, expected) = try RuntimeFixtures.load(name)
        #expect(tokens.count == 9)
        let logits = try model.logits(tokens)
        #expect(logits.shape == expected.shape)
        let worst = RuntimeFixtures.maxAbsDifference(logits.values, expected.values)
        print("\(name): max |Δ logits| = \(worst)")
        #expect(worst <= 1e-5)
    }
}

@Suite("Training-mode workspace")
struct ActivationLayoutTests {
    @Test("Keeping per-layer activations (backward layout) gives the same logits", arguments: ["tiny_llama", "tiny_qwen2_moe"])
    func keepActivations(name: String) throws {
        let (model, tokens, expected) = try RuntimeFixtures.load(name)
        let workspace = model.makeWorkspace(rows: 32, context: 32, keepActivations: true)
        let logits: [Float] = try model.forward([(tokens, model.makeCache(capacity: 16))], logits: .all, workspace: workspace) { Array($0) }
        #expect(RuntimeFixtures.maxAbsDifference(logits, expected.values) <= 1e-5)
        #expect(throws: RuntimeError.self) {
            try model.forward([(Array(repeating: 1, count: 40), model.makeCache(capacity: 64))], workspace: workspace) { _ in () }
        }
    }
}
