import Formats
import Foundation
import IOCore
import Runtime
import TensorCore
import TestSupport

/// Loads the golden fixtures written by scripts/make_runtime_fixtures.py.
enum RuntimeFixtures {
    static var directory: String { TestModels.repositoryRoot + "/Tests/RuntimeTests/Fixtures" }

    /// The model, its input tokens and the oracle's logits [T, V].
    static func load(_ name: String) throws -> (model: LanguageModel, tokens: [Int32], expected: FloatTensor) {
        let json = try JSONParser.parse(try PathUtilities.readBytes(directory + "/\(name).json"))
        let config = try ModelConfig(json: json)
        let checkpoint = try SafetensorsCheckpoint(path: directory + "/\(name).safetensors")
        let model = try LanguageModel(config: config, source: SafetensorsWeights(checkpoint))
        let tokens = (json["test_tokens"]?.arrayValue ?? []).compactMap { $0.intValue.map { Int32($0) } }
        let expected = try checkpoint.tensor(named: "expected.logits")!.floatTensor()
        return (model, tokens, expected)
    }

    static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "\(a.count) vs \(b.count)")
        var worst: Float = 0
        for i in 0..<a.count { worst = max(worst, abs(a[i] - b[i])) }
        return worst
    }
}
