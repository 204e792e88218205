import Conversion
import Foundation
import IOCore
import Runtime
import TensorCore
import Testing

@Suite("KV cache, batching and scoring")
struct DecodingTests {
    @Test("Incremental decode with the KV cache equals the full-sequence logits", arguments: ["tiny_llama", "tiny_mixtral", "tiny_qwen2_moe"])
    func decodeMatchesFullForward(name: String) throws {
        Matmul.useSingleThreadedBLAS()
        let (model, tokens, _) = try RuntimeFixtures.load(name)
        let full = try model.logits(tokens)
        let V = model.config.vocabularySize
        let cache = model.makeCache(capacity: tokens.count)
        var incremental: [Float] = try model.forward([(Array(tokens[0..<4]), cache)], logits: .all) { Array($0) }
        for t in tokens[4...] {
            incremental += try model.forward([([t], cache)], logits: .last) { Array($0) }
        }
        #expect(cache.count == tokens.count)
        #expect(incremental.count == tokens.count * V)
        let worst = RuntimeFixtures.maxAbsDifference(full.values, incremental)
        #expect(worst <= 1e-5, "max |Δ| = \(worst)")
    }

    @Test("A batch of sequences gives each sequence's own logits")
    func batching() throws {
        let (model, tokens, _) = try RuntimeFixtures.load("tiny_mixtral")
        let a = Array(tokens[0..<5]), b = Array(tokens.reversed())
        let caches = [model.makeCache(capacity: 16), model.makeCache(capacity: 16)]
        let batched: [Float] = try model.forward([(a, caches[0]), (b, caches[1])], logits: .all) { Array($0) }
        let separate = try model.logits(a).values + model.logits(b).values
        #expect(RuntimeFixtures.maxAbsDifference(batched, separate) <= 1e-5)
        let last: [Float] = try model.forward([([3], caches[0]), ([4], caches[1])], logits: .last) { Array($0) }
        let expectA = try model.logits(a + [3]).values.suffix(11), expectB = try model.logits(b + [4]).values.suffix(11)
        #expect(RuntimeFixtures.maxAbsDifference(last, Array(expectA) + Array(expectB)) <= 1e-5)
    }

    @Test("The scorer's log-probabilities equal the log-softmax of the full logits")
    func scorerMatchesFullForward() throws {
        let (model, tokens, _) = try RuntimeFixtures.load("tiny_llama")
        let scorer = ModelScorer(model: model)
        let context = Array(tokens[0..<4])
        let continuations = [Array(tokens[4...]), [2], [7, 7, 1]]
        let scores = try scorer.score(context: context, continuations: continuations)
        #expect(scores.count == 3)
        for (continuation, score) in zip(continuations, scores) {
            let full = try model.logits(context + continuation)
            let V = model.config.vocabularySize
            var expected = 0.0
            var greedy = true
            for (i, token) in continuation.enumerated() {
                let row = Array(full.values[((context.count + i - 1) * V)..<((context.count + i) * V)]).map(Double.init)
                let top = row.max()!
                let lse = top + log(row.reduce(0) { $0 + exp($1 - top) })
                expected += row[Int(token)] - lse
                greedy = greedy && row.firstIndex(of: top) == Int(token)
            }
            #expect(abs(score.logLikelihood - expected) <= 1e-4, "\(score.logLikelihood) vs \(expected)")
            #expect(score.isGreedy == greedy)
            #expect(score.tokenLogProbabilities.count == continuation.count)
        }
        #expect(throws: RuntimeError.self) { try scorer.score(context: [], continuations: [[1]]) }
        #expect(throws: RuntimeError.self) { try scorer.score(context: [1], continuations: [[99]]) }
    }

    @Test("Greedy and seeded sampling are reproducible")
    func sampling() throws {
        let (model, tokens, _) = try RuntimeFixtures.load("tiny_llama")
        let greedy = try model.generate(prompt: Array(tokens[0..<3]), maxTokens: 6)
        #expect(greedy.count == 6)
        // Greedy tokens are the argmax of the full forward at each step.
        let full = try model.logits(Array(tokens[0..<3]) + greedy.dropLast())
        let V = model.config.vocabularySize
        for (i, token) in greedy.enumerated() {
            let row = Array(full.values[((2 + i) * V)..<((3 + i) * V)])
            #expect(row.firstIndex(of: row.max()!) == Int(token))
        }
        let a = try model.generate(prompt: [1], maxTokens: 8, sampler: Sampler(temperature: 1, seed: 5))
        let b = try model.generate(prompt: [1], maxTokens: 8, sampler: Sampler(temperature: 1, seed: 5))
        #expect(a == b)
        #expect(throws: RuntimeError.self) { try model.generate(prompt: [], maxTokens: 2) }
    }

    @Test("Config errors name the field")
    func configErrors() throws {
        func parse(_ text: String) throws -> ModelConfig { try ModelConfig(json: try IOCore.JSONParser.parse(text)) }
        #expect(throws: RuntimeError.missingConfigField("hidden_size")) {
            try parse(#"{"model_type": "llama", "vocab_size": 5, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 4, "max_position_embeddings": 8}"#)
        }
        #expect(throws: RuntimeError.invalidConfigField(field: "num_hidden_layers", expected: "an integer", found: "\"two\"")) {
            try parse(#"{"model_type": "llama", "vocab_size": 5, "hidden_size": 4, "num_hidden_layers": "two", "num_attention_heads": 1}"#)
        }
        #expect(throws: RuntimeError.missingConfigField("num_experts_per_tok")) {
            try parse(#"{"model_type": "mixtral", "vocab_size": 5, "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 4, "num_local_experts": 2, "max_position_embeddings": 8, "rms_norm_eps": 1e-5}"#)
        }
        #expect(throws: RecipeError.self) {
            try parse(#"{"vocab_size": 5, "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 4}"#)
        }
        let linear = try parse(#"{"model_type": "llama", "max_position_embeddings": 8, "rms_norm_eps": 1e-5, "vocab_size": 5, "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 4, "rope_scaling": {"type": "linear", "factor": 2.0}}"#)
        #expect(linear.rope.scaling == .linear(factor: 2))
        let qwen = try parse(#"{"model_type": "qwen2_moe", "vocab_size": 5, "hidden_size": 4, "num_hidden_layers": 4, "num_attention_heads": 1, "intermediate_size": 8, "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 2, "shared_expert_intermediate_size": 6, "decoder_sparse_step": 2, "mlp_only_layers": [3], "norm_topk_prob": true, "max_position_embeddings": 8, "rms_norm_eps": 1e-6}"#)
        #expect(qwen.moe?.sparseLayers == [false, true, false, false])
        #expect(qwen.moe?.routing == .softmaxThenTopK(renormalize: true))
        #expect(qwen.moe?.sharedExpertSize == 6)
    }
}
