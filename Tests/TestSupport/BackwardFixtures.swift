import IOCore
import Runtime

/// Tiny random dense LLaMA models for the backward tests.
public enum BackwardFixtures {
    public static let vocabulary = 40

    /// hidden 16, 4 heads / 2 kv heads (hd 4), FFN 24, vocab 40, 2 layers; `family` picks the recipe (`qwen3`:
    /// per-head q/k norms, `olmoe`-style whole-projection norms are not a dense family, see `model(queryKeyNorm:)`).
    public static func config(tied: Bool, modelType: String = "llama") throws -> ModelConfig {
        try ModelConfig(json: try JSONParser.parse("""
            {"model_type": "\(modelType)", "vocab_size": \(vocabulary), "hidden_size": 16, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
             "max_position_embeddings": 64, "tie_word_embeddings": \(tied), "intermediate_size": 24}
            """))
    }

    /// A model with random weights (norm weights near 1); `biases` adds q/k/v/o biases; `modelType` "qwen3" adds
    /// Qwen3's per-head q/k norms, and `wholeProjectionNorms` turns them into OLMoE's norms over the whole q / k.
    public static func model(
        tied: Bool, biases: Bool = false, seed: UInt64 = 5, modelType: String = "llama", wholeProjectionNorms: Bool = false
    ) throws -> LanguageModel {
        var config = try config(tied: tied, modelType: modelType)
        if wholeProjectionNorms { config.queryKeyNorm = .projection }
        let layout = ParameterLayout(config: config) { name in
            (biases && name.hasSuffix("_proj.bias")) || name.hasSuffix("q_norm.weight") || name.hasSuffix("k_norm.weight")
        }
        var parameters = ModelParameters(layout: layout)
        var rng = SeededGenerator(seed: seed)
        for (name, slice) in layout.names {
            for i in 0..<slice.count {
                parameters.values[slice.offset + i] =
                    name.hasSuffix("norm.weight") ? 1 + rng.nextFloat(scale: 0.2) : rng.nextFloat(scale: 0.4)
            }
        }
        return LanguageModel(config: config, parameters: parameters)
    }

    /// Two sequences (7 and 6 tokens) over tokens 0..<30; token 39 appears only as the last token of the second,
    /// so it is embedded but influences no predicted position.
    public static let sequences: [[Int32]] = {
        var rng = SeededGenerator(seed: 99)
        let first = (0..<7).map { _ in Int32(rng.next() % 30) }
        let second = (0..<5).map { _ in Int32(rng.next() % 30) } + [39]
        return [first, second]
    }()
}
