import Formats
import Foundation
import IOCore
import TensorCore

/// Converts a GGUF checkpoint into a Hugging Face model directory: `config.json`, safetensors (sharded when
/// large), `generation_config.json`, and for byte-level BPE vocabularies `tokenizer.json`,
/// `tokenizer_config.json` and `special_tokens_map.json`.
///
/// Names, config keys and shapes come from the architecture recipe; Q/K rows are un-permuted back to the
/// rotate-half layout. Tensors stream one at a time from the memory-mapped GGUF.
public struct GGUFToHuggingFace {
    /// The input file.
    public let gguf: GGUFFile
    /// The matching recipe.
    public let recipe: ArchitectureRecipe
    /// Pre-tokenizer names for tokenizer.json.
    public let preTokenizers: PreTokenizerTable

    public init(gguf: GGUFFile, recipes: RecipeLibrary, preTokenizers: PreTokenizerTable) throws {
        guard let architecture = gguf.architecture else {
            throw ConversionError.missingConfigValue(path: gguf.path, field: "general.architecture")
        }
        self.gguf = gguf
        self.recipe = try recipes.recipe(ggufArchitecture: architecture, metadata: gguf.metadata)
        self.preTokenizers = preTokenizers
    }

    /// The config values of the recipe, read from GGUF metadata (missing ones from defaults).
    public func configValues() throws -> (json: JSONObject, dimensions: DimensionResolver) {
        var json = JSONObject()
        var resolver = DimensionResolver(values: [:], recipeName: recipe.name, source: gguf.path)
        for key in recipe.config {
            guard let ggufName = key.gguf else { continue }
            let ggufKey = recipe.ggufKey(ggufName)
            var value: JSONValue?
            if let stored = gguf.metadata[ggufKey] {
                guard let converted = ConfigValueMapping.jsonValue(stored) else {
                    throw ConversionError.invalidConfigValue(path: gguf.path, field: ggufKey, expected: key.type, found: "an array")
                }
                value = converted
            } else if let expression = key.defaultFrom {
                value = .integer(Int64(try evaluateDefault(expression, resolver: resolver)))
            } else if let fallback = key.defaultValue {
                value = fallback
            } else if key.required {
                throw ConversionError.missingConfigValue(path: gguf.path, field: ggufKey)
            }
            guard let value else { continue }
            json[key.hf] = value
            if let int = value.intValue, case .integer = value { resolver.values[key.hf] = Int(int) }
        }
        try resolver.addDerived(recipe.derived)
        return (json, resolver)
    }

    /// Resolves a `default_from` expression, including `tensor:NAME:i` (dimension i of a GGUF tensor, ne order).
    private func evaluateDefault(_ expression: String, resolver: DimensionResolver) throws -> Int {
        if expression.hasPrefix("tensor:") {
            let parts = expression.split(separator: ":")
            guard parts.count == 3, let axis = Int(parts[2]) else {
                throw RecipeError.invalidExpression(recipe: recipe.name, expression: expression)
            }
            guard let tensor = gguf.tensor(named: String(parts[1])), axis < tensor.shape.count else {
                throw ConversionError.missingTensor(path: gguf.path, tensor: String(parts[1]))
            }
            return tensor.shape[tensor.shape.count - 1 - axis]
        }
        return try resolver.evaluate(expression)
    }

    /// The default output dtype: the file's float type, F16 when its matrices are quantized (`SourceFloatType`).
    public func defaultOutputType() -> DType { SourceFloatType.of(gguf.tensors) }

    /// A GGUF tensor under its HF name, with the row permutation that restores HF's layout.
    public struct HFNamedSource {
        public let hfName: String
        public let tensor: TensorView
        public let permutation: (RopeRowPermutation, RopeRowPermutation.Direction)?

        /// A transcoder that produces the HF-layout tensor in `encoding`.
        public func transcoder(to encoding: TensorEncoding) -> TensorTranscoder {
            TensorTranscoder(source: tensor, target: encoding, permutation: permutation)
        }
    }

    /// Maps every GGUF tensor to its HF name in state-dict order, checking shapes against the config and rejecting
    /// tensors the recipe does not know.
    public func hfNamedSources(dimensions: DimensionResolver) throws -> [HFNamedSource] {
        let blocks = dimensions.values[recipe.blockCountHF] ?? 0
        let experts = try recipe.expertCount(dimensions)
        try checkCounts(blocks: blocks, experts: experts)
        var used = Set<String>()
        var sources: [HFNamedSource] = []
        for (mapping, layer, expert) in RecipeTensorOrder.expandHF(recipe.tensors, blocks: blocks, experts: experts) {
            let ggufName = NamePattern(mapping.gguf.replacingOccurrences(of: "{E}", with: expert.map(String.init) ?? ""))
                .name(layer: layer)
            let hfName = mapping.hfName(layer: layer, expert: expert)
            guard let stored = gguf.tensor(named: ggufName) else {
                if mapping.optional || recipe.tiedEmbeddings?.ggufOutput == ggufName { continue }
                throw ConversionError.missingTensor(path: gguf.path, tensor: ggufName)
            }
            used.insert(ggufName)
            let expectedNE = try mapping.ggufShape(dimensions).reversed()
            let foundNE = Array(stored.shape.reversed())
            guard Array(expectedNE) == foundNE else {
                throw ConversionError.shapeMismatch(path: gguf.path, tensor: ggufName, expected: Array(expectedNE), found: foundNE)
            }
            var tensor = stored
            if mapping.ggufNE != nil {
                // Same elements, the HF shape of `ne` (e.g. a {H} shared-expert gate back to [1, H]).
                tensor = TensorView(
                    name: stored.name, shape: Array(try mapping.ne.map { try dimensions.evaluate($0) }.reversed()),
                    encoding: stored.encoding, bytes: stored.bytes, owner: stored.owner, fileOffset: stored.fileOffset)
            }
            if mapping.stackExperts, let expert {
                // Expert e is the e-th slab along the outermost axis.
                let slab = stored.bytes.count / max(experts, 1)
                tensor = TensorView(
                    name: hfName, shape: Array(stored.shape.dropFirst()), encoding: stored.encoding,
                    bytes: UnsafeRawBufferPointer(rebasing: stored.bytes[(expert * slab)..<((expert + 1) * slab)]),
                    owner: stored.owner, fileOffset: stored.fileOffset + expert * slab)
            }
            var permutation: (RopeRowPermutation, RopeRowPermutation.Direction)?
            if let headsField = mapping.ropePermuteHeads {
                let heads = try dimensions.evaluate(headsField)
                let rows = tensor.shape.first ?? 0
                let perm = RopeRowPermutation(heads: heads, rows: rows)
                guard perm.isValid else {
                    throw ConversionError.shapeMismatch(path: gguf.path, tensor: ggufName, expected: [heads, rows / max(heads, 1)], found: tensor.shape)
                }
                permutation = (perm, .ggufToHF)
            }
            sources.append(HFNamedSource(hfName: hfName, tensor: tensor, permutation: permutation))
        }
        for tensor in gguf.tensors where !used.contains(tensor.name) {
            if recipe.ignoreGGUF.contains(where: { NamePattern($0).match(tensor.name) != nil }) { continue }
            // llama3 RoPE divisors become config.json's rope_scaling (`llama3RopeScaling`), not a tensor.
            if tensor.name == Llama3RopeScaling.tensorName { continue }
            throw ConversionError.unexpectedTensor(path: gguf.path, tensor: tensor.name, hint: "recipe \(recipe.sourcePath)")
        }
        return sources
    }

    /// Checks the metadata's block and expert counts against the tensors the file holds
    /// (`ArchitectureRecipe.checkCounts`) before per-block and per-expert entries are expanded from them.
    func checkCounts(blocks: Int, experts: Int) throws(ConversionError) {
        var capacity = 0
        for mapping in recipe.tensors where mapping.stackExperts {
            let pattern = NamePattern(mapping.gguf)
            for tensor in gguf.tensors where pattern.match(tensor.name) != nil {
                // Each expert is a slab of at least one byte.
                if let outer = tensor.shape.first, outer <= tensor.bytes.count { capacity = max(capacity, outer) }
            }
        }
        try recipe.checkCounts(
            blocks: blocks, experts: experts, tensorCount: gguf.tensors.count, stackedExpertCapacity: capacity, path: gguf.path,
            blockKey: recipe.ggufKey(recipe.blockCountGGUF), expertKey: recipe.expertCountKey(gguf: true))
    }

    /// Plans the output tensors (HF names, shapes checked against the config, lazy conversion).
    public func plannedTensors(dtype: DType, dimensions: DimensionResolver) throws -> [OutputTensor] {
        try hfNamedSources(dimensions: dimensions).map { source in
            try source.transcoder(to: .dense(dtype)).outputTensor(name: source.hfName)
        }
    }

    /// The llama3 RoPE scaling of a GGUF with llama.cpp's `rope_freqs.weight`: from moekit's
    /// `moekit.rope_scaling.*` keys, else recovered from the divisors; nil without the tensor.
    /// - Throws: `ConversionError.invalidConfigValue` when the divisors do not determine the parameters.
    func llama3RopeScaling(values: JSONObject) throws -> Llama3RopeScaling? {
        guard let tensor = gguf.tensor(named: Llama3RopeScaling.tensorName) else { return nil }
        if let recorded = Llama3RopeScaling(gguf: gguf.metadata) { return recorded }
        let theta = values["rope_theta"]?.doubleValue ?? 10000
        let headDim = values["head_dim"]?.intValue.map(Int.init)
            ?? Int(values["hidden_size"]?.intValue ?? 0) / max(1, Int(values["num_attention_heads"]?.intValue ?? 1))
        let factors = try tensor.floats()
        guard let fitted = Llama3RopeScaling.fit(factors: factors, theta: theta, headDim: headDim) else {
            throw ConversionError.invalidConfigValue(
                path: gguf.path, field: Llama3RopeScaling.tensorName,
                expected: "llama3 RoPE divisors with at least two frequencies in the smoothing band (or moekit.rope_scaling.* keys)",
                found: "\(factors.count) divisors that do not determine factor, low/high_freq_factor and original context")
        }
        return fitted
    }

    /// Builds config.json.
    public func configJSON(values: JSONObject, dtype: DType, tokenizer: TokenizerData?) throws -> JSONValue {
        var config = JSONObject()
        config["architectures"] = .array(recipe.hfArchitectures.map { .string($0) })
        config["model_type"] = .string(recipe.hfModelType)
        for (key, value) in recipe.hfConfigDefaults.pairs { config[key] = value }
        for (key, value) in values.pairs { config[key] = value }
        if let tied = recipe.tiedEmbeddings {
            config[tied.hfConfigKey] = .bool(gguf.tensor(named: tied.ggufOutput) == nil)
        }
        if let llama3 = try llama3RopeScaling(values: values) {
            config["rope_scaling"] = .object(llama3.json)
        } else if let scaling = gguf.metadata[recipe.ggufKey("{arch}.rope.scaling.type")]?.stringValue, scaling != "none",
            let factor = gguf.metadata[recipe.ggufKey("{arch}.rope.scaling.factor")]?.doubleValue
        {
            config["rope_scaling"] = .object(JSONObject([
                ("type", .string(scaling)), ("rope_type", .string(scaling)), ("factor", .number(Double(String(Float(factor))) ?? factor)),
            ]))
        } else {
            config["rope_scaling"] = .null
        }
        if let theta = values["rope_theta"] {
            var parameters = JSONObject([("rope_type", .string("default")), ("rope_theta", theta)])
            if case .object(let scaling)? = config["rope_scaling"] {
                for (k, v) in scaling.pairs where k != "type" { parameters[k] = v }
            }
            config["rope_parameters"] = .object(parameters)
        }
        if let bos = tokenizer?.bosID { config["bos_token_id"] = .integer(Int64(bos)) }
        if let eos = tokenizer?.eosID { config["eos_token_id"] = .integer(Int64(eos)) }
        if let pad = tokenizer?.paddingID { config["pad_token_id"] = .integer(Int64(pad)) }
        let torchName: String
        switch dtype {
        case .f16: torchName = "float16"
        case .bf16: torchName = "bfloat16"
        default: torchName = "float32"
        }
        config["torch_dtype"] = .string(torchName)
        return .object(recipe.applyingAutoMap(to: config))
    }

    /// Writes the HF directory as a whole (`HuggingFaceDirectoryWriter`) and returns the files written. Config,
    /// tokenizer files, generation config and the recipe's remote-code files are built before any byte is written,
    /// so a vocabulary that cannot be converted fails with nothing on disk.
    /// - Parameter replaceExisting: replace an existing directory (`--force`); otherwise it is refused.
    @discardableResult
    public func write(
        to directory: String, dtype requested: DType? = nil, maxShardSize: Int = 5_000_000_000,
        progress: ConversionProgressHandler? = nil, replaceExisting: Bool = false
    ) throws -> [String] {
        let dtype = requested ?? defaultOutputType()
        guard dtype.isFloatingPoint, dtype != .f64 else {
            throw ConversionError.unsupportedOutputType(tensor: "*", type: dtype.rawValue, reason: "HF output supports F32, F16 and BF16")
        }
        let output = HuggingFaceDirectoryWriter(destination: directory, replaceExisting: replaceExisting)
        try output.checkDestination()
        let (values, dimensions) = try configValues()
        let tokenizer = try TokenizerData(gguf: gguf.metadata, path: gguf.path)
        let tensors = try plannedTensors(dtype: dtype, dimensions: dimensions)
        let maxLength = values["max_position_embeddings"]?.intValue.map(Int.init)
        let files = [HuggingFaceDirectoryWriter.SideFile(name: "config.json", json: try configJSON(values: values, dtype: dtype, tokenizer: tokenizer))]
            + (try HuggingFaceSideFiles.fromTokenizer(tokenizer, preTokenizers: preTokenizers, path: gguf.path, maxLength: maxLength))
            + (try recipe.remoteCodeFiles())
        return try output.write(tensors: withProgress(tensors, progress), maxShardSize: maxShardSize, files: files)
    }
}

/// Expands recipe tensor entries into concrete (entry, layer) pairs in Hugging Face state-dict order: entries
/// before the first per-layer entry, then all per-layer entries for layer 0, layer 1, …, then the rest.
public enum RecipeTensorOrder {
    /// HF state-dict order with experts expanded: within one layer, a run of consecutive `{E}` entries is emitted
    /// expert by expert (`experts.0.w1, experts.0.w2, experts.0.w3, experts.1.w1, …`), as transformers saves them.
    public static func expandHF(
        _ mappings: [ArchitectureRecipe.TensorMapping], blocks: Int, experts: Int
    ) -> [(ArchitectureRecipe.TensorMapping, Int?, Int?)] {
        let flat = expand(mappings, blocks: blocks)
        var result: [(ArchitectureRecipe.TensorMapping, Int?, Int?)] = []
        var index = 0
        while index < flat.count {
            guard flat[index].0.perExpert else {
                result.append((flat[index].0, flat[index].1, nil))
                index += 1
                continue
            }
            var end = index
            while end < flat.count && flat[end].0.perExpert && flat[end].1 == flat[index].1 { end += 1 }
            for e in 0..<experts {
                for (mapping, layer) in flat[index..<end] { result.append((mapping, layer, e)) }
            }
            index = end
        }
        return result
    }

    public static func expand(_ mappings: [ArchitectureRecipe.TensorMapping], blocks: Int) -> [(ArchitectureRecipe.TensorMapping, Int?)] {
        var result: [(ArchitectureRecipe.TensorMapping, Int?)] = []
        var index = 0
        while index < mappings.count {
            if !mappings[index].perLayer {
                result.append((mappings[index], nil))
                index += 1
                continue
            }
            var end = index
            while end < mappings.count && mappings[end].perLayer { end += 1 }
            for layer in 0..<blocks {
                for mapping in mappings[index..<end] { result.append((mapping, layer)) }
            }
            index = end
        }
        return result
    }
}
