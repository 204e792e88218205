import Foundation
import IOCore
import TensorCore

/// The family-independent facts of a Hugging Face `config.json` that conversion and writers need besides the
/// architecture (which `ModelConfig` reads through the recipe): the stored float type, the trained context, the
/// model's name and its RoPE scaling block. The one place that spells these transformers-wide keys
/// (`transformers/configuration_utils.py` `PretrainedConfig`: `torch_dtype`, renamed `dtype` in v5, and
/// `_name_or_path`; `rope_scaling`, `rope_parameters` in v5).
public struct HuggingFaceConfigFacts: Sendable {
    /// The config as read.
    public let json: JSONValue
    /// The family's recipe, which names the context-length key; nil reads the transformers default key.
    public let recipe: ArchitectureRecipe?

    public init(json: JSONValue, recipe: ArchitectureRecipe?) {
        self.json = json
        self.recipe = recipe
    }

    /// The keys transformers uses for the stored float type, newest first.
    static let dtypeKeys = ["dtype", "torch_dtype"]

    /// The float type the checkpoint says its weights are stored in (`float16`, `bfloat16`, `float32`), nil when the
    /// config names none or another type.
    public var storedFloatType: DType? {
        for key in Self.dtypeKeys {
            switch json[key]?.stringValue {
            case "float16": return .f16
            case "bfloat16": return .bf16
            case "float32": return .f32
            case nil: continue
            default: return nil
            }
        }
        return nil
    }

    /// The trained context length (the recipe's `max_position_embeddings` key), nil when absent or not a positive
    /// integer.
    public var trainedContext: Int? {
        let key = recipe?.configKey(.maxPositionEmbeddings)?.hf ?? ArchitectureRecipe.ConfigField.maxPositionEmbeddings.rawValue
        guard let value = json[key]?.intValue, value > 0 else { return nil }
        return Int(value)
    }

    /// `_name_or_path` when it is a non-empty string.
    public var modelName: String? {
        guard let name = json["_name_or_path"]?.stringValue, !name.isEmpty else { return nil }
        return name
    }

    /// The RoPE scaling block when the model scales its frequencies: `rope_scaling` (transformers v4), or v5's
    /// `rope_parameters` when its `rope_type` is not `default`; nil for plain RoPE.
    public var ropeScaling: JSONValue? {
        if let scaling = json["rope_scaling"], scaling != .null { return scaling }
        if let parameters = json["rope_parameters"], parameters != .null,
            (parameters["rope_type"]?.stringValue ?? parameters["type"]?.stringValue ?? "default") != "default"
        {
            return parameters
        }
        return nil
    }

    /// The config with the stored float type set to `dtype`: `torch_dtype` always (read by transformers 4 and 5),
    /// and v5's `dtype` too when the config has it, so that transformers loads the weights in the written type.
    public func settingStoredFloatType(_ dtype: DType) -> JSONValue {
        guard var object = json.objectValue else { return json }
        Self.setStoredFloatType(dtype, in: &object)
        return .object(object)
    }

    /// Sets `torch_dtype` (and `dtype` where present) of a config object to `dtype`'s transformers name.
    public static func setStoredFloatType(_ dtype: DType, in object: inout JSONObject) {
        let name = JSONValue.string(SourceFloatType.torchName(dtype))
        object["torch_dtype"] = name
        if object["dtype"] != nil { object["dtype"] = name }
    }
}

extension ModelSource {
    /// The family-independent facts of this source's config.
    public var configFacts: HuggingFaceConfigFacts { HuggingFaceConfigFacts(json: config, recipe: recipe) }
}
