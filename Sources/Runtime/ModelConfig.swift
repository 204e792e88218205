import Conversion
import IOCore

/// The hyper-parameters of a LLaMA-family decoder (dense or MoE), read from a Hugging Face `config.json` through
/// the family's recipe (`Converters/<family>.json`): which keys feed which field, their defaults and derivations,
/// the MoE fields and routing, and the tensor names by role. Nothing here switches on a family name.
///
/// Dimension letters used across the runtime: V vocabulary, D `hiddenSize`, L layers, H query heads, Hkv key/value
/// heads, hd `headDim`, F FFN width (dense) or Fe (one expert), E experts, K experts per token, T tokens of a
/// sequence, N rows of a batch (Σ T over its sequences).
///
/// transformers v5's `rope_parameters` is read as well as v4's `rope_theta` + `rope_scaling`.
public struct ModelConfig: Sendable, Equatable {
    /// The recipe (family) name (`llama`, `mixtral`, `qwen3`, …).
    public var family: String
    /// `model_type` as written in config.json.
    public var modelType: String
    public var vocabularySize: Int           // V
    public var hiddenSize: Int               // D
    public var intermediateSize: Int         // F, dense FFN layers (0 when every layer is MoE)
    public var layerCount: Int               // L
    public var headCount: Int                // H
    public var kvHeadCount: Int              // Hkv
    public var headDim: Int                  // hd
    public var rmsNormEps: Float
    public var rope: RopeConfig
    public var tieWordEmbeddings: Bool
    /// Longest sequence the model attends over as a whole (the scorer's `contextLength`): the trained context, or
    /// the sliding attention window when the family has one and it is shorter (full attention is exact up to it).
    public var maxPositionEmbeddings: Int
    /// How the optional q / k RMSNorm (`attn_q_norm`, `attn_k_norm`) groups its inputs.
    public var queryKeyNorm: QueryKeyNorm
    /// MoE settings; nil for a dense model.
    public var moe: MoEConfig?
    /// Tensor names by role (from the recipe).
    public var tensorNames: TensorNaming

    /// RoPE settings (rotate-half convention).
    public struct RopeConfig: Sendable, Equatable {
        public var theta: Double
        public var scaling: RopeScaling
        public init(theta: Double, scaling: RopeScaling = .none) {
            self.theta = theta
            self.scaling = scaling
        }
    }

    /// RoPE frequency scaling (`rope_scaling.rope_type` / `type`).
    public enum RopeScaling: Sendable, Equatable {
        case none
        /// Positions divided by `factor` (equivalently every inverse frequency).
        case linear(factor: Double)
        /// Llama 3.1's piecewise rescaling of the inverse frequencies.
        case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContext: Int)
    }

    /// What a q / k RMSNorm normalises (read from the recipe's `attn_q_norm` shape).
    public enum QueryKeyNorm: Sendable, Equatable {
        /// The whole q (H·hd) and k (Hkv·hd) projection of a token (OLMoE).
        case projection
        /// Each head's hd values separately, one weight of hd shared by all heads (Qwen3).
        case head
    }

    /// The router network.
    public enum GateNetwork: Sendable, Equatable {
        /// z = W·x with W [E, D] (`…gate.weight`).
        case linear
        /// LLaMA-MoE `mlp`: z = W2·tanh(W1·x), W1 [E, D], W2 [E, E].
        case mlp
    }

    /// Mixture-of-Experts settings.
    public struct MoEConfig: Sendable, Equatable {
        public var expertCount: Int          // E
        public var expertsPerToken: Int      // K
        /// Fe per layer and expert (`[L][E]`; 0 rows for dense layers are unused). Uniform except in LLaMA-MoE's
        /// `size_experts`.
        public var expertSizes: [[Int]]
        /// Which layers are MoE (`decoder_sparse_step`, `mlp_only_layers`); others use the dense FFN of width F.
        public var sparseLayers: [Bool]
        /// Shared expert width (Qwen2-MoE `shared_expert_intermediate_size`); nil or 0 when absent.
        public var sharedExpertSize: Int?
        public var routing: ExpertRouting
        public var gateNetwork: GateNetwork
        /// Per-layer factor on the expert weights (LLaMA-MoE `score_scale_factor`; 1 for the other families).
        public var scoreScaleFactors: [Float]
    }

    /// Whether layer `l` has an MoE FFN.
    public func isSparse(layer l: Int) -> Bool { moe?.sparseLayers[l] ?? false }

    /// Parses a Hugging Face config.json with the recipe of its `model_type` (or `architectures`) from the
    /// standard recipe directory (`RecipeLibrary.locateDirectory`).
    /// - Throws: `RuntimeError.missingConfigField` / `.invalidConfigField` naming the field; `RecipeError` when no
    ///   recipe is found.
    public init(json: JSONValue) throws {
        guard json.objectValue != nil else {
            throw RuntimeError.invalidConfigField(field: "(document)", expected: "a JSON object", found: json.typeName)
        }
        try self.init(json: json, recipe: try StandardRecipes.library().recipe(hfConfig: json))
    }

    /// Parses a Hugging Face config.json with `recipe`: every typed field is read through the recipe's `config`
    /// entries (`field`, type, `default`, `default_from`), the MoE fields through its `moe` section.
    /// - Throws: `RuntimeError.missingConfigField` / `.invalidConfigField` naming the field.
    public init(json: JSONValue, recipe: ArchitectureRecipe) throws {
        guard json.objectValue != nil else {
            throw RuntimeError.invalidConfigField(field: "(document)", expected: "a JSON object", found: json.typeName)
        }
        let reader = ConfigReader(json: json)
        let fields = RecipeConfigFields(recipe: recipe, reader: reader)
        family = recipe.name
        modelType = try reader.string("model_type") ?? recipe.hfModelType
        tensorNames = TensorNaming(recipe: recipe)
        hiddenSize = try fields.requiredInt(.hiddenSize)
        layerCount = try fields.requiredInt(.layerCount)
        headCount = try fields.requiredInt(.headCount)
        vocabularySize = try fields.requiredInt(.vocabularySize)
        kvHeadCount = try fields.int(.kvHeadCount) ?? headCount
        headDim = try fields.int(.headDim) ?? (hiddenSize / max(1, headCount))
        rmsNormEps = Float(try fields.double(.rmsNormEps) ?? 1e-6)
        let tie = recipe.tiedEmbeddings
        tieWordEmbeddings = try tie.map { try reader.bool($0.hfConfigKey) ?? $0.hfDefault } ?? false
        let trainedContext = try fields.requiredInt(.maxPositionEmbeddings)
        let window = try fields.int(.slidingWindow)
        maxPositionEmbeddings = min(trainedContext, window ?? trainedContext)
        for (field, value) in [(ArchitectureRecipe.ConfigField.hiddenSize, hiddenSize), (.layerCount, layerCount),
                               (.headCount, headCount), (.kvHeadCount, kvHeadCount), (.headDim, headDim),
                               (.vocabularySize, vocabularySize), (.maxPositionEmbeddings, maxPositionEmbeddings)]
        where value <= 0 {
            throw RuntimeError.invalidConfigField(field: fields.key(field), expected: "a positive integer", found: "\(value)")
        }
        guard headCount % kvHeadCount == 0 else {
            throw RuntimeError.invalidConfigField(
                field: fields.key(.kvHeadCount), expected: "a divisor of \(fields.key(.headCount)) (\(headCount))",
                found: "\(kvHeadCount)")
        }
        guard headDim % 2 == 0 else {
            throw RuntimeError.invalidConfigField(field: fields.key(.headDim), expected: "an even number", found: "\(headDim)")
        }
        rope = try Self.parseRope(reader, theta: try fields.double(.ropeTheta))
        queryKeyNorm = tensorNames.shapes[.queryNorm] == [ArchitectureRecipe.ConfigField.headDim.rawValue] ? .head : .projection

        let dense = try fields.int(.intermediateSize)
        if let description = recipe.moe {
            moe = try Self.parseMoE(description, recipe: recipe, fields: fields, reader: reader, layers: layerCount, dense: dense)
            intermediateSize = dense ?? 0
            if moe!.sparseLayers.contains(false), dense == nil { throw RuntimeError.missingConfigField(fields.key(.intermediateSize)) }
        } else {
            guard let dense else { throw RuntimeError.missingConfigField(fields.key(.intermediateSize)) }
            intermediateSize = dense
            moe = nil
        }
    }

    /// The MoE section: N, K, widths, sparse layers, routing, gate network and score scales.
    private static func parseMoE(
        _ m: ArchitectureRecipe.MoEDescription, recipe: ArchitectureRecipe, fields: RecipeConfigFields,
        reader: ConfigReader, layers layerCount: Int, dense: Int?
    ) throws -> MoEConfig {
        let experts = try fields.requiredInt(.expertCount)
        let k = try fields.requiredInt(.expertsPerToken)
        guard experts >= 1 else {
            throw RuntimeError.invalidConfigField(field: fields.key(.expertCount), expected: "a positive integer", found: "\(experts)")
        }
        guard k >= 1, k <= experts else {
            throw RuntimeError.invalidConfigField(field: fields.key(.expertsPerToken), expected: "1...\(experts)", found: "\(k)")
        }
        let perExpert = try fields.int(.expertWidth) ?? (m.perExpertWidthsField == nil ? dense : nil)
        var sizes = [[Int]](repeating: [Int](repeating: perExpert ?? 0, count: experts), count: layerCount)
        if let field = m.perExpertWidthsField, let table = reader.json[field], table != .null {
            guard let rows = table.arrayValue, rows.count == layerCount else {
                throw RuntimeError.invalidConfigField(
                    field: field, expected: "\(layerCount) lists of \(experts) sizes", found: table.typeName)
            }
            for (l, row) in rows.enumerated() {
                guard let values = row.arrayValue?.compactMap({ $0.intValue }), values.count == experts,
                    values.allSatisfy({ $0 > 0 })
                else {
                    throw RuntimeError.invalidConfigField(field: "\(field)[\(l)]", expected: "\(experts) positive integers", found: row.typeName)
                }
                sizes[l] = values.map(Int.init)
            }
        } else if perExpert == nil {
            throw RuntimeError.missingConfigField(m.perExpertWidthsField ?? fields.key(.expertWidth))
        }
        var sparse = [Bool](repeating: true, count: layerCount)
        let step = try m.sparseStepField.flatMap { try reader.int($0) } ?? 1
        guard step >= 1 else {
            throw RuntimeError.invalidConfigField(field: m.sparseStepField ?? "", expected: "≥ 1", found: "\(step)")
        }
        let denseLayers = Set(try m.denseLayersField.flatMap { try reader.intArray($0) } ?? [])
        for l in 0..<layerCount { sparse[l] = !denseLayers.contains(l) && (l + 1) % step == 0 }
        let routing: ExpertRouting
        switch m.routing {
        case .softmaxTopKRenormalized:
            routing = .softmaxThenTopK(renormalize: true)
        case .softmaxTopK:
            routing = .softmaxThenTopK(renormalize: try m.renormalizeField.flatMap { try reader.bool($0) } ?? false)
        case .topKSoftmax:
            routing = .topKThenSoftmax(
                softmax: try m.softmaxField.flatMap { try reader.bool($0) } ?? true,
                multiplyScores: try m.unweightedFlagField.flatMap { try reader.bool($0) } ?? true)
        }
        var scales = [Float](repeating: 1, count: layerCount)
        if let field = m.scoreScaleField {
            if let list = reader.json[field]?.arrayValue {
                let values = list.compactMap { $0.doubleValue }
                guard values.count == layerCount, values.count == list.count else {
                    throw RuntimeError.invalidConfigField(
                        field: field, expected: "a number or \(layerCount) numbers", found: "\(list.count) entries")
                }
                scales = values.map(Float.init)
            } else if let value = try reader.double(field) {
                scales = [Float](repeating: Float(value), count: layerCount)
            }
        }
        var gate = GateNetwork.linear
        if let field = m.gateNetworkField {
            switch try reader.string(field) ?? "mlp" {
            case "mlp": gate = .mlp
            case "linear": gate = .linear
            case let other:
                throw RuntimeError.invalidConfigField(field: field, expected: "\"mlp\" or \"linear\"", found: other)
            }
        }
        let shared = try fields.int(.sharedExpertWidth)
        return MoEConfig(
            expertCount: experts, expertsPerToken: k, expertSizes: sizes, sparseLayers: sparse,
            sharedExpertSize: (shared ?? 0) > 0 ? shared : nil, routing: routing, gateNetwork: gate,
            scoreScaleFactors: scales)
    }

    private static func parseRope(_ reader: ConfigReader, theta recipeTheta: Double?) throws -> RopeConfig {
        let parameters = reader.json["rope_parameters"].flatMap { $0 == .null ? nil : $0 }
        let theta = try reader.double("rope_theta") ?? parameters?["rope_theta"]?.doubleValue ?? recipeTheta ?? 10000
        guard theta > 0 else { throw RuntimeError.invalidConfigField(field: "rope_theta", expected: "> 0", found: "\(theta)") }
        let scalingField = reader.json["rope_scaling"].flatMap { $0 == .null ? nil : $0 } != nil ? "rope_scaling" : "rope_parameters"
        guard let scaling = reader.json[scalingField], scaling != .null else { return RopeConfig(theta: theta) }
        guard scaling.objectValue != nil else {
            throw RuntimeError.invalidConfigField(field: scalingField, expected: "an object", found: scaling.typeName)
        }
        let type = scaling["rope_type"]?.stringValue ?? scaling["type"]?.stringValue ?? "default"
        func number(_ key: String, _ fallback: Double? = nil) throws -> Double {
            if let value = scaling[key]?.doubleValue { return value }
            if let fallback { return fallback }
            throw RuntimeError.missingConfigField("\(scalingField).\(key)")
        }
        switch type {
        case "default": return RopeConfig(theta: theta)
        case "linear": return RopeConfig(theta: theta, scaling: .linear(factor: try number("factor")))
        case "llama3":
            return RopeConfig(
                theta: theta,
                scaling: .llama3(
                    factor: try number("factor"), lowFrequencyFactor: try number("low_freq_factor", 1),
                    highFrequencyFactor: try number("high_freq_factor", 4),
                    originalContext: Int(try number("original_max_position_embeddings", 8192))))
        default:
            throw RuntimeError.invalidConfigField(
                field: "\(scalingField).rope_type", expected: "\"default\", \"linear\" or \"llama3\"", found: "\"\(type)\"")
        }
    }
}

/// Reads the typed fields a recipe's `config` entries declare: the entry's HF key, else its `default_from`
/// expression over fields already present, else its `default`; a `required` entry without value is an error.
struct RecipeConfigFields {
    let recipe: ArchitectureRecipe
    let reader: ConfigReader

    /// The config.json key of `field` (the recipe's spelling, or the field name when the recipe has none).
    func key(_ field: ArchitectureRecipe.ConfigField) -> String { recipe.configKey(field)?.hf ?? field.rawValue }

    private func number(_ field: ArchitectureRecipe.ConfigField) throws -> Double? {
        guard let entry = recipe.configKey(field) else { return nil }
        if let value = try reader.double(entry.hf) { return value }
        if let expression = entry.defaultFrom, !expression.hasPrefix("tensor:") {
            var values: [String: Int] = [:]
            for other in recipe.config where other.hf != entry.hf {
                if let value = try? reader.int(other.hf) { values[other.hf] = value }
            }
            if let value = try? DimensionResolver(values: values, recipeName: recipe.name).evaluate(expression) {
                return Double(value)
            }
        }
        if let value = entry.defaultValue?.doubleValue { return value }
        if entry.required || entry.defaultFrom?.hasPrefix("tensor:") == true { throw RuntimeError.missingConfigField(entry.hf) }
        return nil
    }

    func int(_ field: ArchitectureRecipe.ConfigField) throws -> Int? {
        guard let entry = recipe.configKey(field) else { return nil }
        if let value = try reader.int(entry.hf) { return value }
        return try number(field).map { Int($0) }
    }

    func requiredInt(_ field: ArchitectureRecipe.ConfigField) throws -> Int {
        guard let value = try int(field) else { throw RuntimeError.missingConfigField(key(field)) }
        return value
    }

    func double(_ field: ArchitectureRecipe.ConfigField) throws -> Double? { try number(field) }
}

/// Typed access to config.json fields with errors naming the field.
struct ConfigReader {
    let json: JSONValue

    private func value(_ field: String) -> JSONValue? {
        guard let value = json[field], value != .null else { return nil }
        return value
    }

    func int(_ field: String) throws -> Int? {
        guard let value = value(field) else { return nil }
        if let int = value.intValue { return Int(int) }
        if let double = value.doubleValue, double == double.rounded() { return Int(double) }
        throw RuntimeError.invalidConfigField(field: field, expected: "an integer", found: JSONWriter.serialize(value))
    }

    func requiredInt(_ field: String) throws -> Int {
        guard let value = try int(field) else { throw RuntimeError.missingConfigField(field) }
        return value
    }

    func double(_ field: String) throws -> Double? {
        guard let value = value(field) else { return nil }
        guard let double = value.doubleValue else {
            throw RuntimeError.invalidConfigField(field: field, expected: "a number", found: JSONWriter.serialize(value))
        }
        return double
    }

    func bool(_ field: String) throws -> Bool? {
        guard let value = value(field) else { return nil }
        guard let bool = value.boolValue else {
            throw RuntimeError.invalidConfigField(field: field, expected: "true or false", found: JSONWriter.serialize(value))
        }
        return bool
    }

    func string(_ field: String) throws -> String? {
        guard let value = value(field) else { return nil }
        guard let string = value.stringValue else {
            throw RuntimeError.invalidConfigField(field: field, expected: "a string", found: JSONWriter.serialize(value))
        }
        return string
    }

    func intArray(_ field: String) throws -> [Int]? {
        guard let value = value(field) else { return nil }
        guard let array = value.arrayValue else {
            throw RuntimeError.invalidConfigField(field: field, expected: "an array of integers", found: value.typeName)
        }
        return try array.map {
            guard let int = $0.intValue else {
                throw RuntimeError.invalidConfigField(field: field, expected: "an array of integers", found: JSONWriter.serialize($0))
            }
            return Int(int)
        }
    }
}
