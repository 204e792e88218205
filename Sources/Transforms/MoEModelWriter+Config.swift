import Conversion
import Formats
import Foundation
import IOCore
import TensorCore

/// config.json and GGUF metadata of the output.
extension MoEModelWriter {
    /// The output's config.json: the dense config with the target's architecture, its `config_defaults` where the
    /// source has no value, its `config_overrides` always, the MoE fields named by the recipe's `moe` section, and
    /// the `auto_map` of the target's remote code (a source `auto_map` is dropped).
    public func outputConfig() -> JSONValue {
        var config = source.config.objectValue ?? JSONObject()
        let moe = target.moe
        config["architectures"] = .array(recipe.hfArchitectures.map { .string($0) })
        config["model_type"] = .string(recipe.hfModelType)
        for (key, value) in recipe.hfConfigDefaults.pairs where config[key] == nil { config[key] = value }
        for (key, value) in moe.configOverrides.pairs { config[key] = value }
        if let field = moe.denseWidthField { config[field] = .integer(Int64(intermediate)) }
        if let field = moe.expertWidthField { config[field] = .integer(Int64(expertWidth)) }
        config[target.expertCountField] = .integer(Int64(experts))
        config[moe.topKField] = .integer(Int64(topK))
        let sparse = (0..<layers).map { layerPlans[$0].construction != nil }
        if let field = moe.perExpertWidthsField {
            config[field] = .array(sparse.map { .array($0 ? [JSONValue](repeating: .integer(Int64(expertWidth)), count: experts) : []) })
        }
        if let field = moe.sharedExpertWidthField { config[field] = .integer(Int64(sharedWidth)) }
        if let field = moe.denseLayersField {
            config[field] = .array(sparse.indices.filter { !sparse[$0] }.map { .integer(Int64($0)) })
        }
        if let field = moe.scoreScaleField {
            let scales = (0..<layers).map { scoreScale($0) }
            config[field] = Set(scales).count == 1 ? .number(scales[0]) : .array(scales.map { .number($0) })
        }
        if let field = moe.unweightedFlagField {
            let unit = layerPlans.contains { plan in
                if case .split(let o)? = plan.construction { return routing(for: o) == .unitWeights }
                return false
            }
            config[field] = .bool(!unit)
        }
        if let tied = recipe.tiedEmbeddings, config[tied.hfConfigKey] == nil {
            let head = source.recipe.tensors(role: .output).first.map { $0.hfName(layer: nil, expert: nil) }
            config[tied.hfConfigKey] = .bool(!(head.map(source.contains) ?? false))
        }
        HuggingFaceConfigFacts.setStoredFloatType([.f16, .bf16].contains(dtype) ? dtype : .f32, in: &config)
        // The dense source's own remote code (if any) is not copied and does not describe the MoE model.
        config["auto_map"] = nil
        return .object(recipe.applyingAutoMap(to: config))
    }

    /// GGUF metadata: the recipe's config keys from `outputConfig()` (exact types), `general.*`, the source's
    /// tokenizer keys and `extra`.
    func ggufMetadata(extra: [(String, GGUFValue)]) throws -> GGUFMetadata {
        let config = outputConfig()
        let shapes = Dictionary(try plannedTensors().map { ($0.name, $0.shape) }, uniquingKeysWith: { first, _ in first })
        let (pairs, _) = try GGUFModelMetadata.configPairs(
            recipe: recipe, config: config, configPath: "\(recipe.name) config",
            hfShape: { gguf in self.recipe.tensors.first { $0.gguf == gguf }.flatMap { shapes[$0.hf] } })
        let name = source.configFacts.modelName
            ?? URL(fileURLWithPath: source.path).deletingPathExtension().lastPathComponent
        return GGUFModelMetadata.metadata(
            recipe: recipe, name: name, type: GGMLType(dense: dtype) ?? .f32, configPairs: pairs, tokenizer: source.tokenizer,
            extra: extra)
    }
}
