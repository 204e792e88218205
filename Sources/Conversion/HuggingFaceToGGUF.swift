import Formats
import Foundation
import IOCore
import TensorCore

/// Converts a Hugging Face model directory (config.json + safetensors, optionally tokenizer.json) into a GGUF
/// file llama.cpp loads: metadata keys with llama.cpp's exact types, tokenizer keys, Q/K rows permuted to the
/// adjacent-pair RoPE layout, norms and biases kept F32 (as `convert_hf_to_gguf.py` does).
public struct HuggingFaceToGGUF {
    /// The model directory.
    public let directory: String
    /// The checkpoint's tensors.
    public let checkpoint: SafetensorsCheckpoint
    /// config.json.
    public let config: JSONValue
    public let recipe: ArchitectureRecipe
    public let preTokenizers: PreTokenizerTable
    private let configPath: String

    public init(directory: String, recipes: RecipeLibrary, preTokenizers: PreTokenizerTable) throws {
        guard PathUtilities.isDirectory(directory) else { throw ConversionError.notADirectory(path: directory) }
        self.directory = directory
        configPath = PathUtilities.join(directory, "config.json")
        guard PathUtilities.exists(configPath) else { throw ConversionError.missingConfigValue(path: configPath, field: "(file)") }
        let bytes = try PathUtilities.readBytes(configPath)
        do { config = try JSONParser.parse(bytes) } catch {
            throw ConversionError.invalidConfigValue(path: configPath, field: "(document)", expected: "a JSON object", found: error.description)
        }
        guard config.objectValue != nil else {
            throw ConversionError.invalidConfigValue(path: configPath, field: "(document)", expected: "a JSON object", found: config.typeName)
        }
        recipe = try recipes.recipe(hfConfig: config)
        checkpoint = try SafetensorsCheckpoint(path: directory)
        self.preTokenizers = preTokenizers
    }

    private func hfTensorForGGUFName(_ ggufName: String) -> TensorView? {
        for mapping in recipe.tensors {
            if let layer = NamePattern(mapping.gguf).match(ggufName) {
                return checkpoint.tensor(named: NamePattern(mapping.hf).name(layer: layer ?? nil))
            }
        }
        return nil
    }

    /// GGUF metadata for the model config (without tokenizer keys) and the dimensions for shape checks.
    public func configMetadata() throws -> (pairs: [(String, GGUFValue)], dimensions: DimensionResolver) {
        try GGUFModelMetadata.configPairs(
            recipe: recipe, config: config, configPath: configPath, hfShape: { hfTensorForGGUFName($0)?.shape },
            llama3Factors: true)
    }

    /// llama.cpp's `rope_freqs.weight` (per-frequency divisors) when the config has llama3 RoPE scaling
    /// (`LlamaModel.generate_extra_tensors` in `convert_hf_to_gguf.py`); nil otherwise.
    func llama3FrequencyFactors(dimensions: DimensionResolver) throws -> OutputTensor? {
        func value(_ key: String) -> JSONValue? {
            if let v = config[key], v != .null { return v }
            if let v = config["rope_parameters"]?[key], v != .null { return v }
            return nil
        }
        let scaling = value("rope_scaling")?.objectValue ?? config["rope_parameters"]?.objectValue
        guard let scaling, (scaling["rope_type"]?.stringValue ?? scaling["type"]?.stringValue) == "llama3" else { return nil }
        let parameters = try Llama3RopeScaling(json: scaling, configPath: configPath)
        let theta = value("rope_theta")?.doubleValue ?? 10000
        let headDim = try dimensions.evaluate("head_dim")
        let factors = parameters.frequencyFactors(theta: theta, headDim: headDim)
        return OutputTensor(name: Llama3RopeScaling.tensorName, shape: [factors.count], values: factors)
    }

    /// Whether the checkpoint's output layer is tied to the embeddings.
    public var tiedEmbeddings: Bool {
        guard let tied = recipe.tiedEmbeddings else { return false }
        if let flag = config[tied.hfConfigKey]?.boolValue { return flag || checkpoint.tensor(named: tied.hfOutput) == nil }
        return checkpoint.tensor(named: tied.hfOutput) == nil
    }

    /// The source's dominant float type (used when no output type is requested).
    public func defaultOutputType() -> GGMLType {
        for tensor in checkpoint.tensors where tensor.shape.count > 1 {
            if case .dense(let d) = tensor.encoding.normalized, let type = GGMLType(dense: d), d.isFloatingPoint, d != .f64 {
                return type
            }
        }
        return .f32
    }

    /// Plans the GGUF tensors.
    public func plannedTensors(type: GGMLType, dimensions: DimensionResolver) throws -> [OutputTensor] {
        let (blocks, experts) = try checkedCounts(dimensions)
        var used = Set<String>()
        var outputs: [OutputTensor] = []
        let tied = tiedEmbeddings
        var entries: [(ArchitectureRecipe.TensorMapping, Int?, Int?)] = []
        for (mapping, layer) in RecipeTensorOrder.expand(recipe.tensors, blocks: blocks) {
            if mapping.perExpert && !mapping.stackExperts {
                for e in 0..<experts { entries.append((mapping, layer, e)) }
            } else {
                entries.append((mapping, layer, nil))
            }
        }
        for (mapping, layer, expert) in entries {
            let ggufName = NamePattern(mapping.gguf.replacingOccurrences(of: "{E}", with: expert.map(String.init) ?? ""))
                .name(layer: layer)
            let expectedShape = Array(try mapping.ne.map { try dimensions.evaluate($0) }.reversed())
            if mapping.stackExperts {
                // One GGUF tensor from E HF tensors, stacked along a new outermost axis in expert order.
                let hfNames = (0..<experts).map { mapping.hfName(layer: layer, expert: $0) }
                let views = hfNames.map { checkpoint.tensor(named: $0) }
                if views.allSatisfy({ $0 == nil }) && mapping.optional { continue }
                var parts: [TensorTranscoder] = []
                var encoding: TensorEncoding?
                for (hfName, view) in zip(hfNames, views) {
                    guard let tensor = view else { throw ConversionError.missingTensor(path: directory, tensor: hfName) }
                    used.insert(hfName)
                    guard [experts] + tensor.shape == expectedShape else {
                        throw ConversionError.shapeMismatch(
                            path: directory, tensor: hfName, expected: Array(expectedShape.dropFirst()), found: tensor.shape)
                    }
                    var target: GGMLType = (mapping.keepF32 || tensor.shape.count < 2) ? .f32 : type
                    if (tensor.shape.last ?? 1) % target.blockSize != 0 { target = .f16 }
                    let targetEncoding: TensorEncoding = target.denseType.map { .dense($0) } ?? .ggml(target)
                    encoding = encoding ?? targetEncoding
                    parts.append(TensorTranscoder(source: tensor, target: encoding!))
                }
                var byteCount = 0
                for part in parts {
                    guard part.isSupported, let bytes = part.outputByteCount else {
                        _ = try part.outputTensor(name: ggufName)  // throws the unsupported-type error
                        continue
                    }
                    byteCount += bytes
                }
                let stacked = parts
                outputs.append(OutputTensor(name: ggufName, shape: expectedShape, encoding: encoding ?? .dense(.f32), byteCount: byteCount) { writer in
                    for part in stacked {
                        try part.write(into: writer)
                        part.source.dropPages()
                    }
                })
                continue
            }
            var hfName = mapping.hfName(layer: layer, expert: expert)
            if tied, let tiedNames = recipe.tiedEmbeddings, tiedNames.hfOutput == hfName {
                if checkpoint.tensor(named: hfName) != nil { used.insert(hfName) }
                guard tiedNames.ggufOutputRequired else { continue }
                // The architecture needs output.weight: write a copy of the embeddings.
                guard let embedding = recipe.tensors(role: .embedding).first else {
                    throw ConversionError.missingTensor(path: directory, tensor: "(the recipe's embedding entry)")
                }
                hfName = embedding.hf
            }
            guard let tensor = checkpoint.tensor(named: hfName) else {
                if let value = mapping.synthesize {
                    outputs.append(OutputTensor.filled(name: ggufName, shape: try mapping.ggufShape(dimensions), value: value, dtype: .f32))
                    continue
                }
                if mapping.optional { continue }
                throw ConversionError.missingTensor(path: directory, tensor: hfName)
            }
            used.insert(hfName)
            guard expectedShape == tensor.shape else {
                throw ConversionError.shapeMismatch(path: directory, tensor: hfName, expected: expectedShape, found: tensor.shape)
            }
            let ggufShape = try mapping.ggufShape(dimensions)
            var ggufElements = 1
            var overflow = false
            for dimension in ggufShape {
                let (product, o) = ggufElements.multipliedReportingOverflow(by: dimension)
                ggufElements = product
                overflow = overflow || o
            }
            guard !overflow, ggufElements == tensor.elementCount else {
                throw ConversionError.shapeMismatch(path: directory, tensor: hfName, expected: ggufShape, found: tensor.shape)
            }
            if let fill = mapping.ggufZeroFill, try Self.isAllZero(tensor) {
                outputs.append(OutputTensor.filled(name: ggufName, shape: ggufShape, value: fill, dtype: .f32))
                continue
            }
            var target: GGMLType = (mapping.keepF32 || tensor.shape.count < 2) ? .f32 : type
            let columns = tensor.shape.last ?? 1
            if columns % target.blockSize != 0 { target = .f16 }  // llama.cpp's converter falls back to F16 too
            var permutation: (RopeRowPermutation, RopeRowPermutation.Direction)?
            if let headsField = mapping.ropePermuteHeads {
                let heads = try dimensions.evaluate(headsField)
                let perm = RopeRowPermutation(heads: heads, rows: tensor.shape.first ?? 0)
                guard perm.isValid else {
                    throw ConversionError.shapeMismatch(path: directory, tensor: hfName, expected: expectedShape, found: tensor.shape)
                }
                permutation = (perm, .hfToGGUF)
            }
            let encoding: TensorEncoding = target.denseType.map { .dense($0) } ?? .ggml(target)
            outputs.append(try TensorTranscoder(source: tensor, target: encoding, permutation: permutation).outputTensor(name: ggufName, shape: ggufShape))
        }
        for tensor in checkpoint.tensors where !used.contains(tensor.name) {
            if recipe.ignoreHF.contains(where: { NamePattern($0).match(tensor.name) != nil }) { continue }
            throw ConversionError.unexpectedTensor(path: directory, tensor: tensor.name, hint: "recipe \(recipe.sourcePath)")
        }
        return outputs
    }

    /// The block and expert counts of the config, checked against the tensors the checkpoint holds
    /// (`ArchitectureRecipe.checkCounts`) before per-block and per-expert entries are expanded from them.
    /// - Throws: `ConversionError.invalidConfigValue` naming config.json and the field; `RecipeError` for an expert
    ///   count expression the config cannot satisfy.
    public func checkedCounts(_ dimensions: DimensionResolver) throws -> (blocks: Int, experts: Int) {
        let blocks = dimensions.values[recipe.blockCountHF] ?? 0
        let experts = try recipe.expertCount(dimensions)
        try recipe.checkCounts(
            blocks: blocks, experts: experts, tensorCount: checkpoint.tensors.count, path: configPath,
            blockKey: recipe.blockCountHF, expertKey: recipe.expertCountKey(gguf: false))
        try recipe.checkBlockTensors(blocks: blocks, hfNames: Set(checkpoint.tensors.map(\.name)), path: configPath, blockKey: recipe.blockCountHF)
        return (blocks, experts)
    }

    /// The vocabulary size for the tokenizer: config.json's `vocab_size`, checked against the rows of the embedding
    /// tensor the checkpoint holds (the rows when the config has no `vocab_size`); nil when neither is known.
    /// - Throws: `ConversionError.invalidConfigValue` naming config.json, `vocab_size`, the embedding tensor's rows
    ///   and the value found, when they differ or the value is not a non-negative integer.
    public func vocabularySize() throws(ConversionError) -> Int? {
        var embedding: TensorView?
        var embeddingName = ""
        for mapping in recipe.tensors(role: .embedding) {
            for name in [mapping.hf] + mapping.hfAlternatives {
                if embedding == nil, let tensor = checkpoint.tensor(named: name) { (embedding, embeddingName) = (tensor, name) }
            }
        }
        let rows = embedding.flatMap { $0.shape.count == 2 ? $0.shape[0] : nil }
        guard let value = config["vocab_size"], value != .null else { return rows }
        guard let count = value.intValue, count >= 0, count <= Int64(Int.max) else {
            throw .invalidConfigValue(
                path: configPath, field: "vocab_size", expected: "a non-negative integer", found: JSONWriter.serialize(value))
        }
        if let rows, Int(count) != rows {
            throw .invalidConfigValue(
                path: configPath, field: "vocab_size",
                expected: "\(rows), the rows of embedding tensor '\(embeddingName)' in \(directory)", found: "\(count)")
        }
        if rows == nil, Int(count) > checkpoint.tensors.reduce(0, { $0 + $1.elementCount }) {
            // No embedding to compare with: at least one element per vocabulary entry must be in the checkpoint.
            throw .invalidConfigValue(
                path: configPath, field: "vocab_size",
                expected: "at most the checkpoint's element count \(checkpoint.tensors.reduce(0) { $0 + $1.elementCount })",
                found: "\(count)")
        }
        return Int(count)
    }

    /// Whether every element of `tensor` is ±0.
    static func isAllZero(_ tensor: TensorView) throws -> Bool { try tensor.floats().allSatisfy { $0 == 0 } }

    /// The GGUF names of the tensors that `plannedTensors` writes as the recipe's `gguf_zero_fill` because the HF
    /// tensor is all zeros (a zero Qwen2-MoE `shared_expert_gate`, which llama.cpp turns into NaN logits).
    public func zeroFilledTensors() throws -> [String] {
        var names: [String] = []
        let (blocks, _) = try checkedCounts(try configMetadata().dimensions)
        for (mapping, layer) in RecipeTensorOrder.expand(recipe.tensors, blocks: blocks)
        where mapping.ggufZeroFill != nil && !mapping.perExpert {
            guard let tensor = checkpoint.tensor(named: mapping.hfName(layer: layer, expert: nil)) else { continue }
            if try Self.isAllZero(tensor) { names.append(mapping.ggufName(layer: layer, expert: nil)) }
        }
        return names
    }

    /// The tokenizer, when the directory has a byte-level BPE `tokenizer.json`.
    public func tokenizer(vocabularySize: Int?) throws -> TokenizerData? {
        let path = PathUtilities.join(directory, "tokenizer.json")
        guard PathUtilities.exists(path) else { return nil }
        let json: JSONValue
        do { json = try JSONParser.parse(try PathUtilities.readBytes(path)) } catch let error as JSONParseError {
            throw ConversionError.tokenizer(path: path, field: "(document)", problem: error.description)
        }
        let configPath = PathUtilities.join(directory, "tokenizer_config.json")
        var tokenizerConfig: JSONValue?
        if PathUtilities.exists(configPath) {
            do { tokenizerConfig = try JSONParser.parse(try PathUtilities.readBytes(configPath)) } catch let error as JSONParseError {
                throw ConversionError.tokenizer(path: configPath, field: "(document)", problem: error.description)
            }
        }
        return try TokenizerData(
            tokenizerJSON: json, tokenizerConfig: tokenizerConfig, vocabularySize: vocabularySize,
            preTokenizers: preTokenizers, path: path)
    }

    /// Writes the GGUF file atomically (temporary file + rename); metadata and tokenizer are built first.
    /// - Parameter replaceExisting: replace an existing file (`--force`); otherwise it is refused.
    public func write(
        to path: String, type requested: GGMLType? = nil, extraMetadata: [(String, GGUFValue)] = [],
        progress: ConversionProgressHandler? = nil, replaceExisting: Bool = false
    ) throws {
        try OutputSafety.checkReplaceable(output: path, force: replaceExisting, directoryOutput: false)
        if let reason = recipe.ggufUnavailable { throw ConversionError.noGGUFArchitecture(recipe: recipe.name, reason: reason) }
        let type = requested ?? defaultOutputType()
        guard type.canQuantize else {
            throw ConversionError.unsupportedOutputType(tensor: "*", type: type.name, reason: "GGUF output supports F32, F16, BF16, Q8_0, Q4_0 and Q4_1")
        }
        let (configPairs, dimensions) = try configMetadata()
        let name = config["_name_or_path"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            ?? URL(fileURLWithPath: directory).lastPathComponent
        // Tensors first: planning checks every config dimension against the checkpoint's shapes before the
        // tokenizer and the RoPE factors allocate from config values.
        let planned = try plannedTensors(type: type, dimensions: dimensions)
        let metadata = GGUFModelMetadata.metadata(
            recipe: recipe, name: name, type: type, configPairs: configPairs,
            tokenizer: try tokenizer(vocabularySize: try vocabularySize()), extra: extraMetadata)
        let tensors = try (llama3FrequencyFactors(dimensions: dimensions).map { [$0] } ?? []) + planned
        try GGUFWriter.write(path: path, metadata: metadata, tensors: withProgress(tensors, progress), replaceExisting: replaceExisting)
    }
}
