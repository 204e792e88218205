import IOCore
/// A declarative mapping of one architecture between Hugging Face and GGUF conventions, loaded from
/// `Converters/<name>.json` and validated against `Schemas/recipe.schema.json`.
///
/// The Swift code interprets recipes; it does not hard-code tensor or key tables. `{L}` in names is the layer
/// index and `{arch}` in GGUF keys is the GGUF architecture name.
public struct ArchitectureRecipe: Sendable {
    /// One HF config field ↔ GGUF metadata key.
    public struct ConfigKey: Sendable {
        /// HF `config.json` field.
        public let hf: String
        /// GGUF key, with `{arch}` still unresolved; nil for a field with no llama.cpp key (the recipe's
        /// architecture has no GGUF form).
        public let gguf: String?
        /// GGUF value type llama.cpp expects (`u32`, `f32`, …).
        public let type: String
        /// Whether conversion fails when the value is missing and has no default.
        public let required: Bool
        /// Literal default.
        public let defaultValue: JSONValue?
        /// Expression used when the value is missing (e.g. `hidden_size/num_attention_heads`).
        public let defaultFrom: String?
        /// The typed model-configuration field this key feeds (`field`), nil for keys only conversion copies.
        public let field: ConfigField?
    }

    /// The typed hyper-parameters of a LLaMA-family decoder that a recipe's config keys can feed (`field` in a
    /// `config` entry). Raw values are the recipe spellings.
    public enum ConfigField: String, Sendable, CaseIterable {
        case vocabularySize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case layerCount = "num_hidden_layers", headCount = "num_attention_heads", kvHeadCount = "num_key_value_heads"
        case headDim = "head_dim", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
        case maxPositionEmbeddings = "max_position_embeddings", slidingWindow = "sliding_window"
        case expertCount = "num_experts", expertsPerToken = "experts_per_token", expertWidth = "expert_width"
        case sharedExpertWidth = "shared_expert_width"
    }

    /// One tensor name pair with its GGUF shape.
    public struct TensorMapping: Sendable {
        /// HF name pattern.
        public let hf: String
        /// GGUF name pattern.
        public let gguf: String
        /// Shape in ggml `ne` order (innermost first), as dimension expressions.
        public let ne: [String]
        /// Config field holding the head count when rows must be RoPE-permuted, else nil.
        public let ropePermuteHeads: String?
        /// Stored as F32 in GGUF whatever the requested output type.
        public let keepF32: Bool
        /// May be absent.
        public let optional: Bool
        /// GGUF stacks the per-expert HF tensors (`{E}` in the HF name) along a new outermost axis; `ne`'s last
        /// entry is the expert count.
        public let stackExperts: Bool
        /// What the tensor is (`role`): the runtime lays out parameters by role and the MoE writer builds the
        /// MoE roles; nil for tensors that only conversion copies (LLaMA-MoE's unused `weight_noise`).
        public let role: TensorRole?
        /// Other HF names a checkpoint may use for this tensor (`hf_alternatives`; read only).
        public let hfAlternatives: [String]
        /// The role when it is one the MoE writer produces, nil for tensors copied from the source.
        public var moeRole: MoERole? { role.flatMap { MoERole(rawValue: $0.rawValue) } }
        /// Fill value when the source lacks the tensor (`synthesize`: 0 or 1), else nil.
        public let synthesize: Float?
        /// GGUF shape (ne order) when llama.cpp wants a different one than `ne` with the same elements (`gguf_ne`).
        public let ggufNE: [String]?
        /// Written in every entry instead when the HF tensor is all zeros (`gguf_zero_fill`), else nil: qwen2moe's
        /// shared-expert gate, whose sigmoid llama.cpp computes as silu(z)/z (NaN at z = 0).
        public var ggufZeroFill: Float? = nil
        /// Whether the names contain `{L}`.
        public var perLayer: Bool { hf.contains("{L}") }
        /// Whether the HF name contains the `{E}` expert marker.
        public var perExpert: Bool { hf.contains("{E}") }
        /// The GGUF name for `layer` and `expert` (stacked entries have no `{E}`).
        public func ggufName(layer: Int?, expert: Int?) -> String {
            NamePattern(gguf.replacingOccurrences(of: "{E}", with: expert.map(String.init) ?? "")).name(layer: layer)
        }
        /// The GGUF tensor's shape, outermost first (`gguf_ne` when given, else `ne`, reversed).
        public func ggufShape(_ dimensions: DimensionResolver) throws(RecipeError) -> [Int] {
            var shape: [Int] = []
            for expression in (ggufNE ?? ne).reversed() { shape.append(try dimensions.evaluate(expression)) }
            return shape
        }
        /// The HF name for `layer` and `expert`.
        public func hfName(layer: Int?, expert: Int?) -> String {
            let pattern = expert.map { hf.replacingOccurrences(of: "{E}", with: String($0)) } ?? hf
            return NamePattern(pattern).name(layer: layer)
        }
    }

    /// What a tensor entry holds (`role` in the recipe). Entries of one role may appear more than once as
    /// alternatives (LLaMA-MoE's router is `gate_network.0` for an MLP gate, `gate_network` for a linear one): a
    /// checkpoint uses the first whose name it has.
    public enum TensorRole: String, Sendable, CaseIterable {
        case embedding, output, outputNorm = "output_norm"
        case attentionNorm = "attn_norm", ffnNorm = "ffn_norm"
        case query = "attn_q", key = "attn_k", value = "attn_v", attentionOutput = "attn_output"
        case queryBias = "attn_q_bias", keyBias = "attn_k_bias", valueBias = "attn_v_bias"
        case attentionOutputBias = "attn_output_bias"
        /// RMSNorm weight over q / k: `ne` [q_dim] normalises the whole projection (OLMoE), [head_dim] each head
        /// (Qwen3).
        case queryNorm = "attn_q_norm", keyNorm = "attn_k_norm"
        case router, router2
        case expertGate = "expert_gate", expertUp = "expert_up", expertDown = "expert_down"
        case sharedGate = "shared_gate", sharedUp = "shared_up", sharedDown = "shared_down"
        case sharedExpertGate = "shared_expert_gate"
        case denseGate = "dense_gate", denseUp = "dense_up", denseDown = "dense_down"
    }

    /// The roles an MoE writer produces (a subset of `TensorRole` with the same spellings).
    public enum MoERole: String, Sendable, CaseIterable {
        case router, router2
        case expertGate = "expert_gate", expertUp = "expert_up", expertDown = "expert_down"
        case sharedGate = "shared_gate", sharedUp = "shared_up", sharedDown = "shared_down"
        case sharedExpertGate = "shared_expert_gate"
        case denseGate = "dense_gate", denseUp = "dense_up", denseDown = "dense_down"
    }

    /// Routing of the target runtimes (`moe.routing`).
    public enum MoERouting: String, Sendable {
        /// Softmax over all experts, top-k, divided by their sum (Mixtral; llama.cpp arch llama).
        case softmaxTopKRenormalized = "softmax_topk_renormalized"
        /// Softmax over all experts, top-k, renormalised iff `moe.renormalize_field` is true (Qwen2-MoE / OLMoE
        /// `norm_topk_prob`, false when written by moekit).
        case softmaxTopK = "softmax_topk"
        /// Top-k logits, softmax over those (LLaMA-MoE v1).
        case topKSoftmax = "topk_softmax"
    }

    /// How a dense LLaMA becomes this layout (`moe` in the recipe): HF config field names and routing.
    public struct MoEDescription: Sendable {
        /// Field with K.
        public let topKField: String
        /// Field with the uniform expert width, when the layout has one.
        public let expertWidthField: String?
        /// Field with per-layer lists of per-expert widths (experts may differ), when the layout has one.
        public let perExpertWidthsField: String?
        /// Field that keeps the dense MLP width.
        public let denseWidthField: String?
        /// Field with the shared expert's width; nil when the layout has no shared expert.
        public let sharedExpertWidthField: String?
        /// The layout always has a shared expert.
        public let sharedExpertRequired: Bool
        /// Field listing dense layers (HF only); nil when every layer must be MoE.
        public let denseLayersField: String?
        /// Field for the routed-output factor; nil means the factor is folded into down_proj.
        public let scoreScaleField: String?
        /// Boolean field that, false, gives unit routing weights.
        public let unweightedFlagField: String?
        public let routing: MoERouting
        /// Boolean field that, true, renormalises the top-k weights of `softmax_topk` routing (`norm_topk_prob`).
        public let renormalizeField: String?
        /// Boolean field that, false, keeps the raw top-k logits of `topk_softmax` routing (`gate_use_softmax`).
        public let softmaxField: String?
        /// String field naming the router network, `mlp` (W2·tanh(W1·x), a `router2` tensor) or `linear`
        /// (`gate_network`); without it the router is linear.
        public let gateNetworkField: String?
        /// Integer field: every n-th layer is sparse (`decoder_sparse_step`); without it every layer is.
        public let sparseStepField: String?
        /// Fields always written with these values.
        public let configOverrides: JSONObject
    }

    /// Names of the tensor that tied embeddings leave out, and the config flag that records the tie.
    public struct TiedEmbeddings: Sendable {
        public let hfConfigKey: String
        /// The flag's value when config.json lacks it (transformers' class default).
        public let hfDefault: Bool
        public let hfOutput: String
        public let ggufOutput: String
        /// GGUF needs `ggufOutput` even when tied (a copy of the embeddings is written).
        public let ggufOutputRequired: Bool
    }

    public let name: String
    public let description: String
    public let hfModelType: String
    public let hfArchitectures: [String]
    /// Fixed config.json fields written when converting from GGUF.
    public let hfConfigDefaults: JSONObject
    public let ggufArchitecture: String
    /// GGUF keys (with `{arch}`) that must be present for this recipe to claim a GGUF file; among recipes of one
    /// architecture the one with the most satisfied keys wins (Mixtral-style `llama` files carry
    /// `{arch}.expert_count`).
    public let ggufRequiresKeys: [String]
    /// Why there is no GGUF form of this layout (`gguf.unavailable`), when there is none.
    public let ggufUnavailable: String?
    /// Whether GGUF files of `ggufArchitecture` may be read as this recipe (`gguf.claims_files`, default true).
    public let ggufClaimsFiles: Bool
    /// The MoE construction description, for MoE targets.
    public let moe: MoEDescription?
    /// Modelling code for transformers that the family's HF directories carry (`remote_code`), when it has any.
    public let remoteCode: RemoteCode?
    /// The config field holding the number of experts that `{E}` ranges over, for MoE recipes.
    public let expertCountField: String?
    /// HF field and GGUF key holding the number of blocks.
    public let blockCountHF: String
    public let blockCountGGUF: String
    public let config: [ConfigKey]
    /// Derived dimensions in declaration order.
    public let derived: [(name: String, expression: String)]
    public let tiedEmbeddings: TiedEmbeddings?
    public let tensors: [TensorMapping]
    public let ignoreHF: [String]
    public let ignoreGGUF: [String]
    /// Where the recipe was loaded from.
    public let sourcePath: String

    /// The number of experts `{E}` ranges over (0 for dense recipes).
    public func expertCount(_ dimensions: DimensionResolver) throws(RecipeError) -> Int {
        guard let field = expertCountField else { return 0 }
        return try dimensions.evaluate(field)
    }

    /// The tensor entry with MoE role `role`, if any.
    public func tensor(role: MoERole) -> TensorMapping? { tensors.first { $0.moeRole == role } }

    /// The tensor entries of `role`, alternatives in recipe order.
    public func tensors(role: TensorRole) -> [TensorMapping] { tensors.filter { $0.role == role } }

    /// The config entry that feeds `field`, if the recipe has one.
    public func configKey(_ field: ConfigField) -> ConfigKey? { config.first { $0.field == field } }

    /// Resolves `{arch}` in a GGUF key.
    public func ggufKey(_ pattern: String) -> String {
        pattern.replacingOccurrences(of: "{arch}", with: ggufArchitecture)
    }
}

extension ArchitectureRecipe {
    /// Builds a recipe from a JSON document that already passed schema validation.
    init(json: JSONValue, sourcePath: String) {
        let hf = json["hf"]!
        name = json["name"]!.stringValue!
        description = json["description"]?.stringValue ?? ""
        hfModelType = hf["model_type"]!.stringValue!
        hfArchitectures = hf["architectures"]!.arrayValue!.compactMap(\.stringValue)
        hfConfigDefaults = hf["config_defaults"]?.objectValue ?? JSONObject()
        ggufArchitecture = json["gguf"]!["architecture"]!.stringValue!
        ggufRequiresKeys = json["gguf"]!["requires_keys"]?.arrayValue?.compactMap(\.stringValue) ?? []
        ggufUnavailable = json["gguf"]!["unavailable"]?.stringValue
        ggufClaimsFiles = json["gguf"]!["claims_files"]?.boolValue ?? true
        expertCountField = json["expert_count"]?.stringValue
        moe = json["moe"].map { m in
            MoEDescription(
                topKField: m["top_k"]!.stringValue!, expertWidthField: m["expert_width"]?.stringValue,
                perExpertWidthsField: m["per_expert_widths"]?.stringValue, denseWidthField: m["dense_width"]?.stringValue,
                sharedExpertWidthField: m["shared_expert_width"]?.stringValue,
                sharedExpertRequired: m["shared_expert_required"]?.boolValue ?? false,
                denseLayersField: m["dense_layers"]?.stringValue, scoreScaleField: m["score_scale"]?.stringValue,
                unweightedFlagField: m["unweighted_flag"]?.stringValue,
                routing: MoERouting(rawValue: m["routing"]!.stringValue!)!,
                renormalizeField: m["renormalize_field"]?.stringValue, softmaxField: m["softmax_field"]?.stringValue,
                gateNetworkField: m["gate_network_field"]?.stringValue, sparseStepField: m["sparse_step"]?.stringValue,
                configOverrides: m["config_overrides"]?.objectValue ?? JSONObject())
        }
        remoteCode = Self.remoteCode(json: json["remote_code"], sourcePath: sourcePath)
        blockCountHF = json["block_count"]!["hf"]!.stringValue!
        blockCountGGUF = json["block_count"]!["gguf"]!.stringValue!
        config = json["config"]!.arrayValue!.map { entry in
            ConfigKey(
                hf: entry["hf"]!.stringValue!, gguf: entry["gguf"]?.stringValue, type: entry["type"]!.stringValue!,
                required: entry["required"]?.boolValue ?? false, defaultValue: entry["default"],
                defaultFrom: entry["default_from"]?.stringValue,
                field: entry["field"]?.stringValue.flatMap(ConfigField.init(rawValue:)))
        }
        derived = json["derived"]?.objectValue?.pairs.map { ($0.key, $0.value.stringValue!) } ?? []
        tiedEmbeddings = json["tied_embeddings"].map {
            TiedEmbeddings(
                hfConfigKey: $0["hf_config_key"]!.stringValue!, hfDefault: $0["hf_default"]?.boolValue ?? false,
                hfOutput: $0["hf_output"]!.stringValue!,
                ggufOutput: $0["gguf_output"]!.stringValue!,
                ggufOutputRequired: $0["gguf_output_required"]?.boolValue ?? false)
        }
        tensors = json["tensors"]!.arrayValue!.map { entry in
            TensorMapping(
                hf: entry["hf"]!.stringValue!, gguf: entry["gguf"]!.stringValue!,
                ne: entry["ne"]!.arrayValue!.compactMap(\.stringValue),
                ropePermuteHeads: entry["rope_permute_heads"]?.stringValue,
                keepF32: entry["keep_f32"]?.boolValue ?? false, optional: entry["optional"]?.boolValue ?? false,
                stackExperts: entry["stack_experts"]?.boolValue ?? false,
                role: entry["role"]?.stringValue.flatMap(TensorRole.init(rawValue:)),
                hfAlternatives: entry["hf_alternatives"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                synthesize: entry["synthesize"]?.stringValue.map { $0 == "ones" ? 1 : 0 },
                ggufNE: entry["gguf_ne"]?.arrayValue?.compactMap(\.stringValue),
                ggufZeroFill: entry["gguf_zero_fill"]?.doubleValue.map(Float.init))
        }
        ignoreHF = json["ignore_hf"]?.arrayValue?.compactMap(\.stringValue) ?? []
        ignoreGGUF = json["ignore_gguf"]?.arrayValue?.compactMap(\.stringValue) ?? []
        self.sourcePath = sourcePath
    }
}
