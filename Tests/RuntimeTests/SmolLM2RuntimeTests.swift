import Foundation
import IOCore
import Runtime
import TensorCore
import TestSupport
import Testing

/// The real SmolLM2-135M-Instruct GGUF against transformers' reading of the same file
/// (Fixtures/smollm2_reference.json, written by scripts/make_smollm2_fixtures.py). Reported skipped when the model is absent.
@Suite("SmolLM2 runtime", .serialized, .requiresSmolLM2)
struct SmolLM2RuntimeTests {
    nonisolated(unsafe) static var cached: LanguageModel?

    static func model() throws -> LanguageModel {
        let path = try TestModels.requireSmolLM2()
        if let cached { return cached }
        Matmul.useSingleThreadedBLAS()
        let model = try LanguageModel.load(path: path, recipesDirectory: TestModels.repositoryRoot + "/Converters").model
        cached = model
        return model
    }

    static func reference() throws -> JSONValue {
        try JSONParser.parse(try PathUtilities.readBytes(RuntimeFixtures.directory + "/smollm2_reference.json"))
    }

    static func ids(_ value: JSONValue?) -> [Int32] { (value?.arrayValue ?? []).compactMap { $0.intValue.map { Int32($0) } } }

    @Test("Greedy generation of 'The capital of France is' starts with ' Paris' and matches transformers")
    func greedyParis() throws {
        let model = try Self.model()
        let reference = try Self.reference()
        let prompt = Self.ids(reference["prompt_ids"])
        let expected = Self.ids(reference["greedy_ids"])
        #expect(prompt.count == 5)
        let generated = try model.generate(prompt: prompt, maxTokens: expected.count)
        print("greedy ids: \(generated) (transformers: \(expected), \(reference["greedy_text"]?.stringValue ?? ""))")
        #expect(generated.first == 7042)  // " Paris"
        #expect(generated == expected)
        let top = try model.forward([(prompt, model.makeCache(capacity: 8))], logits: .last) { logits in
            Array(logits.indices.sorted { logits[$0] > logits[$1] }.prefix(5))
        }
        #expect(top.first == 7042)
    }

    @Test("Logits of a short sentence match transformers to 1e-3")
    func logitsMatchTransformers() throws {
        let model = try Self.model()
        let reference = try Self.reference()
        let ids = Self.ids(reference["short_ids"])
        let subset = (reference["logits_vocab_subset"]?.arrayValue ?? []).compactMap { $0.intValue.map(Int.init) }
        let rows = reference["logits_subset"]?.arrayValue ?? []
        let argmax = (reference["argmax"]?.arrayValue ?? []).compactMap { $0.intValue.map(Int.init) }
        let logits = try model.logits(ids)
        let V = model.config.vocabularySize
        #expect(rows.count == ids.count && subset.count > 1000)
        var worst: Float = 0
        for (t, row) in rows.enumerated() {
            let values = (row.arrayValue ?? []).compactMap { $0.doubleValue.map(Float.init) }
            for (j, v) in zip(subset, values) { worst = max(worst, abs(logits.values[t * V + j] - v)) }
            let ours = logits.values[(t * V)..<((t + 1) * V)]
            #expect(ours.firstIndex(of: ours.max()!)! - t * V == argmax[t])
        }
        print("SmolLM2 vs transformers: max |Δ logits| = \(worst) over \(rows.count)×\(subset.count) entries")
        #expect(worst <= 1e-3)
    }

    @Test("Perplexity of a paragraph of plain English prose is below 40")
    func prosePerplexity() throws {
        let model = try Self.model()
        let reference = try Self.reference()
        let ids = Self.ids(reference["prose_ids"])
        let scorer = ModelScorer(model: model)
        let score = try scorer.score(context: [ids[0]], continuations: [Array(ids.dropFirst())])[0]
        let perplexity = exp(-score.logLikelihood / Double(ids.count - 1))
        let expected = reference["prose_perplexity"]?.doubleValue ?? 0
        print("prose perplexity: \(perplexity) over \(ids.count - 1) tokens (transformers: \(expected))")
        #expect(perplexity < 40)
        #expect(abs(perplexity - expected) / expected < 1e-3)
    }
}
