import Formats
import Foundation
import IOCore

/// GGUF metadata of a model from its Hugging Face `config.json` and tokenizer: the recipe's config keys with
/// llama.cpp's exact types, RoPE scaling, `general.*` and `tokenizer.ggml.*`. Used by `HuggingFaceToGGUF` and by
/// writers that produce GGUF without an HF directory on disk (the MoE writer).
public enum GGUFModelMetadata {
    /// The recipe's config keys as GGUF pairs, and the dimensions (config integers plus derived values) for shape
    /// checks.
    ///
    /// - Parameters:
    ///   - config: the HF config.
    ///   - configPath: named in errors.
    ///   - hfShape: HF shape of the tensor that has a given GGUF name (for `tensor:NAME:i` defaults), nil when absent.
    /// - Throws: `ConversionError.missingConfigValue` / `.invalidConfigValue` naming the field and the expected type.
    ///   - llama3Factors: whether the caller writes llama.cpp's `rope_freqs.weight` for llama3 RoPE scaling (then
    ///     its parameters are recorded under `moekit.rope_scaling.*`); without it llama3 scaling is refused.
    public static func configPairs(
        recipe: ArchitectureRecipe, config: JSONValue, configPath: String, hfShape: (String) -> [Int]?,
        llama3Factors: Bool = false
    ) throws -> (pairs: [(String, GGUFValue)], dimensions: DimensionResolver) {
        func hfValue(_ field: String) -> JSONValue? {
            if let value = config[field], value != .null { return value }
            // transformers v5 keeps rope_theta (and scaling) under rope_parameters.
            if field.hasPrefix("rope_"), let nested = config["rope_parameters"]?[field], nested != .null { return nested }
            return nil
        }
        var pairs: [(String, GGUFValue)] = []
        var resolver = DimensionResolver(values: [:], recipeName: recipe.name, source: configPath)
        for key in recipe.config {
            guard let ggufKey = key.gguf else { continue }
            var json = hfValue(key.hf)
            if json == nil, let expression = key.defaultFrom {
                if expression.hasPrefix("tensor:") {
                    let parts = expression.split(separator: ":")
                    if parts.count == 3, let axis = Int(parts[2]), let shape = hfShape(String(parts[1])), axis < shape.count {
                        json = .integer(Int64(shape[shape.count - 1 - axis]))
                    }
                } else {
                    json = .integer(Int64(try resolver.evaluate(expression)))
                }
            }
            if json == nil { json = key.defaultValue }
            guard let json else {
                if key.required { throw ConversionError.missingConfigValue(path: configPath, field: key.hf) }
                continue
            }
            guard let value = ConfigValueMapping.ggufValue(json, type: key.type) else {
                throw ConversionError.invalidConfigValue(path: configPath, field: key.hf, expected: key.type, found: JSONWriter.serialize(json))
            }
            pairs.append((recipe.ggufKey(ggufKey), value))
            if let int = json.intValue, key.type != "f32", key.type != "f64" { resolver.values[key.hf] = Int(int) }
        }
        // transformers v4: rope_scaling; v5: rope_parameters holds the scaling keys next to rope_theta.
        if let scaling = hfValue("rope_scaling")?.objectValue ?? config["rope_parameters"]?.objectValue {
            let type = scaling["rope_type"]?.stringValue ?? scaling["type"]?.stringValue ?? "none"
            switch type {
            case "linear":
                guard let factor = scaling["factor"]?.doubleValue else {
                    throw ConversionError.missingConfigValue(path: configPath, field: "rope_scaling.factor")
                }
                pairs.append((recipe.ggufKey("{arch}.rope.scaling.type"), .string("linear")))
                pairs.append((recipe.ggufKey("{arch}.rope.scaling.factor"), .float32(Float(factor))))
            case "default", "none":
                break
            case "llama3" where llama3Factors:
                pairs += try Llama3RopeScaling(json: scaling, configPath: configPath).ggufPairs
            case "llama3":
                throw ConversionError.invalidConfigValue(
                    path: configPath, field: "rope_scaling.rope_type",
                    expected: "none or linear for this GGUF writer (llama3 scaling: write a Hugging Face directory, then `moekit convert` it to GGUF)",
                    found: type)
            default:
                throw ConversionError.invalidConfigValue(
                    path: configPath, field: "rope_scaling.rope_type", expected: "none, linear or llama3", found: type)
            }
        }
        try resolver.addDerived(recipe.derived)
        return (pairs, resolver)
    }

    /// The whole metadata: `general.*` (architecture, name, file type, quantization version), the config pairs,
    /// the tokenizer keys (`no_vocab` without a tokenizer) and `extra` last (overriding).
    public static func metadata(
        recipe: ArchitectureRecipe, name: String, type: GGMLType, configPairs: [(String, GGUFValue)],
        tokenizer: TokenizerData?, extra: [(String, GGUFValue)]
    ) -> GGUFMetadata {
        var metadata = GGUFMetadata()
        metadata["general.architecture"] = .string(recipe.ggufArchitecture)
        metadata["general.name"] = .string(name)
        metadata["general.file_type"] = .uint32(fileType(type))
        if type.denseType == nil { metadata["general.quantization_version"] = .uint32(2) }
        for (key, value) in configPairs { metadata[key] = value }
        if let tokenizer {
            for (key, value) in tokenizer.ggufPairs() { metadata[key] = value }
        } else {
            metadata["tokenizer.ggml.model"] = .string("no_vocab")
        }
        for (key, value) in extra { metadata[key] = value }
        return metadata
    }

    /// llama.cpp's `llama_ftype` for the dominant output type.
    public static func fileType(_ type: GGMLType) -> UInt32 {
        switch type {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q4_1: return 3
        case .q8_0: return 7
        case .bf16: return 32
        default: return 0
        }
    }
}
