import Formats
import Foundation
import IOCore
import TensorCore

/// A model opened for computation: its Hugging Face–style `config.json`, its tokenizer, and its tensors under
/// Hugging Face names and layouts, whatever file format it came from.
///
/// GGUF files are mapped through their architecture recipe (names, config keys, Q/K rows back to the rotate-half
/// layout); Hugging Face directories are read as they are. Tensors are decoded to `Float` on request, one at a
/// time, from the memory map.
public final class ModelSource: @unchecked Sendable {
    /// The path that was opened.
    public let path: String
    /// `gguf` or `huggingface`.
    public let format: String
    /// config.json (synthesised from GGUF metadata for GGUF input).
    public let config: JSONValue
    /// The tokenizer, when the checkpoint carries one.
    public let tokenizer: TokenizerData?
    /// HF tensor names in state-dict order.
    public let tensorNames: [String]
    /// The recipe of the model's family (tensor names by role, config keys).
    public let recipe: ArchitectureRecipe
    /// The number of decoder blocks: the recipe's block count (`num_hidden_layers`, `{arch}.block_count`), checked
    /// against the tensors — the last block has tensors and none lies beyond it.
    public let blockCount: Int
    private let decoders: [String: TensorTranscoder]
    private let owner: AnyObject

    /// Opens a `.gguf` file or a Hugging Face model directory.
    public init(path: String, recipes: RecipeLibrary, preTokenizers: PreTokenizerTable) throws {
        self.path = path
        if !PathUtilities.isDirectory(path), try CheckpointInspection.isGGUF(path) {
            let gguf = try GGUFFile(path: path)
            let converter = try GGUFToHuggingFace(gguf: gguf, recipes: recipes, preTokenizers: preTokenizers)
            let (values, dimensions) = try converter.configValues()
            let tokenizer = try TokenizerData(gguf: gguf.metadata, path: path)
            let sources = try converter.hfNamedSources(dimensions: dimensions)
            format = "gguf"
            config = try converter.configJSON(values: values, dtype: .f32, tokenizer: tokenizer)
            self.tokenizer = tokenizer
            tensorNames = sources.map(\.hfName)
            decoders = Dictionary(uniqueKeysWithValues: sources.map { ($0.hfName, $0.transcoder(to: .dense(.f32))) })
            owner = gguf
            recipe = converter.recipe
            blockCount = try Self.checkedBlockCount(
                config: config, recipe: converter.recipe, tensorNames: tensorNames, path: path,
                key: converter.recipe.ggufKey(converter.recipe.blockCountGGUF))
        } else {
            let converter = try HuggingFaceToGGUF(directory: path, recipes: recipes, preTokenizers: preTokenizers)
            format = "huggingface"
            config = converter.config
            tokenizer = try converter.tokenizer(vocabularySize: try converter.vocabularySize())
            tensorNames = converter.checkpoint.tensors.map(\.name)
            decoders = Dictionary(
                converter.checkpoint.tensors.map { ($0.name, TensorTranscoder(source: $0, target: .dense(.f32))) },
                uniquingKeysWith: { first, _ in first })
            owner = converter.checkpoint
            recipe = converter.recipe
            blockCount = try Self.checkedBlockCount(
                config: config, recipe: converter.recipe, tensorNames: tensorNames,
                path: PathUtilities.join(path, "config.json"), key: converter.recipe.blockCountHF)
        }
    }

    /// The block count of `config` checked against the tensor names the recipe gives each block.
    /// - Throws: `ConversionError.invalidConfigValue` naming `path` and `key` when the count is missing or negative,
    ///   when the checkpoint holds tensors of a block at or beyond it, or none of its last block.
    static func checkedBlockCount(
        config: JSONValue, recipe: ArchitectureRecipe, tensorNames: [String], path: String, key: String
    ) throws(ConversionError) -> Int {
        let field = recipe.blockCountHF
        guard let value = config[field]?.intValue else {
            throw .invalidConfigValue(
                path: path, field: key, expected: "an integer block count", found: config[field].map { JSONWriter.serialize($0) } ?? "nothing")
        }
        let blocks = Int(value)
        try recipe.checkCounts(blocks: blocks, experts: 0, tensorCount: tensorNames.count, path: path, blockKey: key, expertKey: nil)
        try recipe.checkBlockTensors(blocks: blocks, hfNames: Set(tensorNames), path: path, blockKey: key)
        return blocks
    }

    /// Opens `path` with the recipes found by `RecipeLibrary.locateDirectory`.
    public static func open(_ path: String, recipesDirectory: String? = nil) throws -> ModelSource {
        let directory = try RecipeLibrary.locateDirectory(explicit: recipesDirectory)
        return try ModelSource(
            path: path, recipes: try RecipeLibrary(directory: directory),
            preTokenizers: try PreTokenizerTable(convertersDirectory: directory))
    }

    /// The float type the weights are stored in (F16 for quantized matrices; `SourceFloatType`), the default
    /// output type of writers that read this model.
    public var floatType: DType { SourceFloatType.of(tensorNames.compactMap { view($0) }) }

    /// The storage of the matrices in words, with the relative rounding error of the type: "F32 (unit roundoff
    /// 6.0e-08)", "BF16 (unit roundoff 3.9e-03)", "quantized (Q4_1, …)".
    public var storageDescription: String {
        var quantized = Set<String>()
        for name in tensorNames {
            guard let view = view(name), view.shape.count >= 2, case .ggml(let type) = view.encoding.normalized, type.denseType == nil else { continue }
            quantized.insert(type.name)
        }
        if !quantized.isEmpty { return "quantized (\(quantized.sorted().joined(separator: ", ")); block-wise rounding, far coarser than F16)" }
        let type = floatType
        let roundoff: Double = type == .bf16 ? 0x1p-8 : type == .f16 ? 0x1p-11 : 0x1p-24
        return "\(type.rawValue) (relative rounding error up to \(String(format: "%.1e", roundoff)))"
    }

    /// Whether a tensor exists.
    public func contains(_ name: String) -> Bool { decoders[name] != nil }

    /// The stored tensor (before decoding) for `name`.
    public func view(_ name: String) -> TensorView? { decoders[name]?.source }

    /// A transcoder that streams tensor `name` in HF layout into `encoding` (nil when absent).
    public func transcoder(_ name: String, to encoding: TensorEncoding) -> TensorTranscoder? {
        decoders[name].map { TensorTranscoder(source: $0.source, target: encoding, permutation: $0.permutation) }
    }

    /// The files the model was read from (the GGUF file, or the directory's config, weights and tokenizer files).
    public var files: [String] {
        guard format == "huggingface" else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { $0.hasSuffix(".json") || $0.hasSuffix(".safetensors") || $0 == "tokenizer.model" }
            .filter { !$0.hasPrefix(".") }.sorted().map { PathUtilities.join(path, $0) }
    }

    /// Decodes a tensor to `Float` in HF layout.
    /// - Throws: `ConversionError.missingTensor` when absent; `TensorDataError` for undecodable types.
    public func floats(_ name: String) throws -> FloatTensor { try floats(name, releasingPages: false) }

    /// Decodes a tensor to `Float` in HF layout and, with `releasingPages`, drops its mapped pages afterwards.
    public func floats(_ name: String, releasingPages: Bool) throws -> FloatTensor {
        guard let decoder = decoders[name] else { throw ConversionError.missingTensor(path: path, tensor: name) }
        let values = try decoder.floats()
        if releasingPages { decoder.source.dropPages() }
        return FloatTensor(shape: decoder.source.shape, values: values)
    }
}
